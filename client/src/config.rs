//! Client configuration: server URL, credentials, space, timeouts, retries.

use std::fmt;
use std::time::Duration;

use crate::Error;

/// How the client authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// An API key, sent as `X-Octopus-ApiKey`.
    ApiKey(String),
    /// An access token (OIDC), sent as `Authorization: Bearer`.
    AccessToken(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey(_) => f.write_str("ApiKey(***)"),
            Self::AccessToken(_) => f.write_str("AccessToken(***)"),
        }
    }
}

/// Retries with exponential backoff and jitter, for idempotent requests only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// Backoff before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    /// Upper bound of one backoff, and of an honoured `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Everything [`crate::Client::new`] needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server base URL, e.g. `https://octopus.example.com` (no `/api`).
    pub url: String,
    /// API key or access token.
    pub credentials: Credentials,
    /// Space to use; `None` means the server's default space.
    pub space_id: Option<String>,
    /// Timeout of a whole request.
    pub timeout: Duration,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl Config {
    /// A configuration with default timeouts and retries.
    pub fn new(url: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            url: url.into(),
            credentials,
            space_id: None,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            user_agent: concat!("octopus-client-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// Reads `OCTOPUS_URL`, `OCTOPUS_APIKEY` (or `OCTOPUS_API_KEY`) or
    /// `OCTOPUS_ACCESS_TOKEN`, and optionally `OCTOPUS_SPACE_ID`.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like [`Config::from_env`], with a custom variable lookup.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let url =
            get("OCTOPUS_URL").ok_or_else(|| Error::Config("OCTOPUS_URL is not set".into()))?;
        let credentials =
            if let Some(key) = get("OCTOPUS_APIKEY").or_else(|| get("OCTOPUS_API_KEY")) {
                Credentials::ApiKey(key)
            } else if let Some(token) = get("OCTOPUS_ACCESS_TOKEN") {
                Credentials::AccessToken(token)
            } else {
                return Err(Error::Config(
                    "set OCTOPUS_APIKEY (or OCTOPUS_API_KEY) or OCTOPUS_ACCESS_TOKEN".into(),
                ));
            };
        let mut config = Self::new(url, credentials);
        config.space_id = get("OCTOPUS_SPACE_ID");
        Ok(config)
    }

    /// Sets the space.
    pub fn with_space(mut self, space_id: impl Into<String>) -> Self {
        self.space_id = Some(space_id.into());
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
