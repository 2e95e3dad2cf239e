//! Backoff computation for retries.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use crate::RetryPolicy;

/// A random number from the standard library's per-process random hasher keys.
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish()
}

/// Backoff before retry number `attempt` (0-based): exponential, capped, with
/// "equal jitter" (half fixed, half random) so clients do not retry in lockstep.
pub(crate) fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .initial_backoff
        .saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(policy.max_backoff);
    let half = capped / 2;
    let nanos = half.as_nanos().min(u128::from(u64::MAX)) as u64;
    let jitter = if nanos == 0 {
        0
    } else {
        random_u64() % (nanos + 1)
    };
    half + Duration::from_nanos(jitter)
}

/// Parses `Retry-After` given in seconds (HTTP dates fall back to the backoff).
pub(crate) fn retry_after(value: Option<&str>, policy: &RetryPolicy) -> Option<Duration> {
    let secs: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(policy.max_backoff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
        };
        for attempt in 0..8 {
            let d = backoff(&p, attempt);
            let full = (Duration::from_millis(100) * 2u32.pow(attempt)).min(p.max_backoff);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
    }

    #[test]
    fn retry_after_seconds_are_capped() {
        let p = RetryPolicy::default();
        assert_eq!(retry_after(Some("2"), &p), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("9999"), &p), Some(p.max_backoff));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT"), &p), None);
        assert_eq!(retry_after(None, &p), None);
    }
}
