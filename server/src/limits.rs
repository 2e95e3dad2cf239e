//! Limits on uploads (`POST`/`PUT …/packages/raw[/{fileName}]`, `POST /api/steppackages`):
//! at most [`crate::ServerConfig::max_uploads`] at once (beyond that `503` with
//! `Retry-After`), and each must have sent its whole body within
//! [`crate::ServerConfig::upload_deadline`] (else `408`; the idle timeout per chunk,
//! `body_timeout`, still applies too). Only authenticated requests reach this layer,
//! so requests without a key never take an upload slot.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, RETRY_AFTER};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio_stream::StreamExt;

use crate::api::AppState;
use crate::error::ApiError;

/// Default most uploads received at once.
pub const DEFAULT_MAX_UPLOADS: usize = 64;

/// Default longest time an upload may take to arrive: 1 hour (2 GiB at 600 kB/s).
pub const DEFAULT_UPLOAD_DEADLINE: Duration = Duration::from_secs(3600);

/// `Retry-After` of the `503` over the cap, in seconds.
pub const RETRY_AFTER_SECS: u64 = 5;

/// A refused upload declaring at most this many bytes is read (and discarded) before
/// the answer, so the client, still sending, reads it; a larger one is answered at
/// once with `Connection: close` (and the connection closes after a lingering read).
const BUSY_DRAIN_BYTES: u64 = 1 << 20;

/// Longest time spent reading a refused upload's body.
const BUSY_DRAIN_TIME: Duration = Duration::from_secs(5);

/// Whether a request is an upload subject to these limits.
pub fn is_upload(method: &Method, path: &str) -> bool {
    let packages = (method == Method::POST || method == Method::PUT)
        && (path.ends_with("/packages/raw") || path.contains("/packages/raw/"));
    let steps = method == Method::POST && path.trim_end_matches('/') == "/api/steppackages";
    packages || steps
}

/// Middleware: the upload cap and deadline.
pub async fn guard_uploads(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if !is_upload(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let Ok(slot) = st.upload_slots.clone().try_acquire_owned() else {
        return busy(&st, req).await;
    };
    let deadline = st.upload_deadline;
    let expired = Arc::new(AtomicBool::new(false));
    let req = req.map(|inner| {
        Body::new(DeadlineBody {
            inner,
            sleep: Box::pin(tokio::time::sleep(deadline)),
            expired: expired.clone(),
            done: false,
        })
    });
    let response = next.run(req).await;
    drop(slot);
    if expired.load(Ordering::Acquire) {
        let mut r = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "The upload did not arrive within {} s, the server's upload deadline; it was abandoned.",
                deadline.as_secs_f64()
            ),
        )
        .into_response();
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    response
}

/// `503` for an upload over the cap, with `Retry-After`.
async fn busy(st: &AppState, req: Request) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let drained = match declared {
        Some(n) if n <= BUSY_DRAIN_BYTES => {
            let mut body = req.into_body().into_data_stream();
            tokio::time::timeout(BUSY_DRAIN_TIME, async {
                while let Some(chunk) = body.next().await {
                    if chunk.is_err() {
                        return false;
                    }
                }
                true
            })
            .await
            .unwrap_or(false)
        }
        _ => false,
    };
    let mut r = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "The server is already receiving {} uploads, as many as it accepts at once; try again in a few seconds.",
            st.max_uploads
        ),
    )
    .into_response();
    let h = r.headers_mut();
    h.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    if !drained {
        h.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// A request body that fails once the upload deadline has passed.
struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
    done: bool,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let me = self.get_mut();
        if me.done {
            return Poll::Ready(None);
        }
        if me.sleep.as_mut().poll(cx).is_ready() {
            me.done = true;
            me.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "the upload deadline passed",
            )))));
        }
        match Pin::new(&mut me.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                me.done = true;
                Poll::Ready(None)
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_recognised_by_method_and_path() {
        for (m, p) in [
            (Method::POST, "/api/Spaces-1/packages/raw"),
            (Method::POST, "/api/packages/raw"),
            (Method::PUT, "/api/Spaces-1/packages/raw/App.1.0.0.zip"),
            (Method::POST, "/api/packages/raw/App.1.0.0.zip"),
            (Method::POST, "/api/steppackages"),
        ] {
            assert!(is_upload(&m, p), "{m} {p}");
        }
        for (m, p) in [
            (Method::GET, "/api/Spaces-1/packages/raw/App.1.0.0.zip"),
            (Method::GET, "/api/Spaces-1/packages/packages-App.1.0.0/raw"),
            (Method::PUT, "/api/Spaces-1/projects/Projects-1"),
            (Method::GET, "/api/steppackages"),
        ] {
            assert!(!is_upload(&m, p), "{m} {p}");
        }
    }
}
