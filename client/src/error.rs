//! The client's error type.

use crate::model::ErrorBody;

/// Anything that can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-success status.
    #[error("Octopus API error ({status}): {message}{}", fmt_errors(.errors))]
    Api {
        /// HTTP status code.
        status: u16,
        /// `ErrorMessage`, or the status text when the body had none.
        message: String,
        /// `Errors`, one entry per problem.
        errors: Vec<String>,
    },
    /// The request could not be sent or the response not received.
    #[error("transport error: {0}")]
    Transport(#[from] reqwest::Error),
    /// The response body was not what the API promises.
    #[error("could not decode the response of {url}: {source}")]
    Decode {
        /// Request URL.
        url: String,
        /// Parser error.
        source: serde_json::Error,
    },
    /// The client was configured or called incorrectly.
    #[error("configuration error: {0}")]
    Config(String),
    /// Waiting for something (a task) took longer than allowed.
    #[error("timed out: {0}")]
    Timeout(String),
}

fn fmt_errors(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(" [{}]", errors.join("; "))
    }
}

impl Error {
    /// Builds an [`Error::Api`] from a status and a (possibly non-JSON) body.
    pub(crate) fn from_response(status: u16, reason: &str, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(b) if !b.error_message.is_empty() => Self::Api {
                status,
                message: b.error_message,
                errors: b.errors,
            },
            _ => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                let message = if text.is_empty() || text.len() > 500 {
                    reason.to_owned()
                } else {
                    text.to_owned()
                };
                Self::Api {
                    status,
                    message,
                    errors: Vec::new(),
                }
            }
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::Transport(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// True for 404: the resource is gone.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True for 409: e.g. a stale `Version`.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }
}
