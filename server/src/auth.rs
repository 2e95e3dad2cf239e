//! API key authentication: `X-Octopus-ApiKey` or `Authorization: Bearer`.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::AppState;
use crate::error::ApiError;

/// Compares in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The credential a request carries, if any.
fn presented_key(req: &Request) -> Option<&str> {
    let headers = req.headers();
    if let Some(k) = headers
        .get("x-octopus-apikey")
        .and_then(|v| v.to_str().ok())
    {
        return Some(k.trim());
    }
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Middleware: 401 unless the request carries the server's API key.
pub async fn require_api_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match presented_key(&req) {
        Some(k) if constant_time_eq(k.as_bytes(), state.api_key.as_bytes()) => next.run(req).await,
        _ => ApiError::unauthorized().into_response(),
    }
}
