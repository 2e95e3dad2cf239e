//! Small helpers: ID checks, GUIDs, slugs, timestamps, API keys.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{ApiError, ApiResult};

use octopus_client::model::text::{MAX_ID_LEN, is_bidi_control, is_invisible};

/// Checks that an ID from a URL or body is a plain token (`Projects-1`,
/// `feeds-builtin`): ASCII letters, digits, `-` and `_` only, so it can never
/// be a path trick (`..`, `/`, `%2F`) or carry markup.
pub fn check_id(field: &str, id: &str) -> ApiResult<()> {
    if octopus_client::model::text::is_plain_id(id) {
        Ok(())
    } else {
        let shown: String = id.chars().take(MAX_ID_LEN).collect();
        Err(ApiError::bad_request(format!(
            "{field}: '{}' is not a valid ID.",
            shown.escape_debug()
        )))
    }
}

/// Checks a `Name`: required, at least one visible character, at most `max`
/// characters, no control characters and no bidirectional formatting characters.
pub fn check_name(field: &str, name: &str, max: usize, errors: &mut Vec<String>) {
    if name.trim().is_empty() {
        errors.push(format!("{field}: The {field} field is required."));
    } else if name.chars().count() > max {
        errors.push(format!(
            "{field}: The {field} must be at most {max} characters long."
        ));
    } else if name.chars().any(char::is_control) {
        errors.push(format!(
            "{field}: The {field} must not contain control characters."
        ));
    } else if let Some(c) = name.chars().find(|c| is_bidi_control(*c)) {
        errors.push(format!(
            "{field}: The {field} must not contain bidirectional formatting characters (it contains U+{:04X}).",
            u32::from(c)
        ));
    } else if name.chars().all(is_invisible) {
        errors.push(format!(
            "{field}: The {field} must contain at least one visible character."
        ));
    }
}

/// Checks an optional free-text field's length.
pub fn check_len(field: &str, value: Option<&str>, max: usize, errors: &mut Vec<String>) {
    if value.is_some_and(|v| v.chars().count() > max) {
        errors.push(format!(
            "{field}: The {field} must be at most {max} characters long."
        ));
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    b
}

/// A random version-4 GUID, lowercase, as Octopus uses for steps and actions.
pub fn new_guid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A new API key: `API-` and 32 characters from `A-Z0-9`.
pub fn new_api_key() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let bytes = random_bytes::<32>();
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("API-{tail}")
}

/// A URL-friendly slug: lowercase ASCII letters and digits joined by `-`. Empty
/// when the name has no ASCII letter or digit; see [`slug_for`].
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The slug of a document: [`slugify`] of its name or, when that is empty (a name
/// with no ASCII letter or digit, such as `日本語`), of its ID, which is unique.
pub fn slug_for(name: &str, id: &str) -> String {
    let slug = slugify(name);
    if slug.is_empty() { slugify(id) } else { slug }
}

/// The current UTC time as Octopus formats it: `2024-05-01T10:20:30.123+00:00`.
pub fn now_iso8601() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    iso8601_from_ms(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A time given as milliseconds since the epoch, written as [`now_iso8601`] does
/// (UTC, millisecond precision), so that stored times compare as text.
pub fn iso8601_from_ms(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Percent-encodes a query value for links.
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_path_tricks() {
        for good in [
            "Projects-1",
            "feeds-builtin",
            "deploymentprocess-Projects-12",
            "a_b",
        ] {
            assert!(check_id("Id", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "..",
            "../etc",
            "a/b",
            "a%2Fb",
            "Projects-1;",
            "x y",
            &"a".repeat(101),
        ] {
            assert!(check_id("Id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_and_guids() {
        assert_eq!(slugify("  My Project (v2)!"), "my-project-v2");
        let g = new_guid();
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
        assert_ne!(g, new_guid());
        assert!(new_api_key().starts_with("API-"));
        assert_eq!(new_api_key().len(), 36);
    }

    #[test]
    fn timestamp_shape() {
        let t = now_iso8601();
        assert_eq!(t.len(), 29, "{t}");
        assert!(t.ends_with("+00:00") && t.starts_with("20"), "{t}");
    }

    #[test]
    fn names() {
        let mut e = Vec::new();
        check_name("Name", "", 10, &mut e);
        check_name("Name", "   ", 10, &mut e);
        check_name("Name", "01234567890", 10, &mut e);
        check_name("Name", "a\nb", 10, &mut e);
        assert_eq!(e.len(), 4);
        e.clear();
        check_name("Name", "ünïcødé", 10, &mut e);
        check_name("Name", "日本語", 10, &mut e);
        // Zero-width characters inside a visible name are fine (emoji sequences use them).
        check_name("Name", "a\u{200d}b", 10, &mut e);
        assert!(e.is_empty(), "{e:?}");
        for invisible in [
            "\u{200b}",
            "\u{200b}\u{feff}",
            "\u{2060}",
            "\u{3164}",
            "\u{00ad}",
        ] {
            check_name("Name", invisible, 10, &mut e);
            assert_eq!(e.len(), 1, "{invisible:?}");
            assert!(e[0].contains("visible character"), "{e:?}");
            e.clear();
        }
        for bidi in [
            "\u{202e}abc",
            "ab\u{202a}c",
            "a\u{2066}b\u{2069}",
            "a\u{200f}",
            "a\u{061c}",
        ] {
            check_name("Name", bidi, 10, &mut e);
            assert_eq!(e.len(), 1, "{bidi:?}");
            assert!(
                e[0].starts_with("Name: ") && e[0].contains("bidirectional"),
                "{e:?}"
            );
            e.clear();
        }
        assert_eq!(slug_for("日本語", "Projects-7"), "projects-7");
        assert_eq!(slug_for("My App", "Projects-7"), "my-app");
    }
}
