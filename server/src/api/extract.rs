//! Request extractors that answer bad input with Octopus-style 4xx errors.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store::documents::Filter;
use crate::util::check_id;

/// The space a request addresses: `{space_id}` from the path, or the default space.
#[derive(Debug, Clone)]
pub struct Scope(pub String);

impl FromRequestParts<AppState> for Scope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match path_param(parts, state, "space_id").await? {
            Some(id) => {
                if state.space_exists(&id) {
                    Ok(Scope(id))
                } else {
                    Err(ApiError::not_found("space", &id))
                }
            }
            // Spaces themselves are not space-scoped.
            None if parts.uri.path().starts_with("/api/spaces") => Ok(Scope(String::new())),
            None => state
                .default_space()
                .map(Scope)
                .ok_or_else(|| ApiError::not_found("space", "default")),
        }
    }
}

/// The `{id}` of the addressed item, checked to be a plain ID.
#[derive(Debug, Clone)]
pub struct ItemId(pub String);

impl FromRequestParts<AppState> for ItemId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        path_param(parts, state, "id")
            .await?
            .map(ItemId)
            .ok_or_else(|| ApiError::internal("route without {id}"))
    }
}

async fn path_param(parts: &mut Parts, state: &AppState, name: &str) -> ApiResult<Option<String>> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::bad_request(format!("The URL is not valid: {e}")))?;
    let Some((_, value)) = params.iter().find(|(k, _)| *k == name) else {
        return Ok(None);
    };
    check_id(if name == "id" { "Id" } else { "SpaceId" }, value)?;
    Ok(Some(value.to_owned()))
}

/// A JSON request body. Errors: 400 (syntax, wrong types, with the field
/// path), 413 (over the body limit).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> ApiResult<Self> {
        let limit = state.max_body_bytes;
        let read = tokio::time::timeout(state.body_timeout, Bytes::from_request(req, state));
        let Ok(read) = read.await else {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "The request body did not arrive in time.",
            ));
        };
        let bytes = read.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The request body is larger than the limit of {limit} bytes."),
                )
            } else {
                ApiError::bad_request(format!("The request body could not be read: {e}"))
            }
        })?;
        parse_json(&bytes).map(Body)
    }
}

/// Parses JSON with a message naming the offending field and the expected type;
/// it never quotes a value from the body (see [`super::json`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "The request body is empty; a JSON document is required.",
        ));
    }
    super::json::from_slice::<T>(bytes).map_err(|detail| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: "The request body is not a valid JSON document for this resource.".into(),
        errors: vec![detail],
    })
}

/// Paging and filter parameters: `skip`, `take`, `partialName`, `name`, `ids`
/// (comma-separated or repeated) and resource-specific ones.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Items to skip.
    pub skip: i64,
    /// Page size.
    pub take: i64,
    /// Filters.
    pub filter: Filter,
    /// All parameters, lowercased keys, for resource-specific filters and links.
    pub raw: Vec<(String, String)>,
}

/// Default page size, as Octopus uses.
pub const DEFAULT_TAKE: i64 = 30;

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> ApiResult<Self> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::bad_request(format!("The query string is not valid: {e}")))?;
        let mut q = ListQuery {
            take: DEFAULT_TAKE,
            ..Default::default()
        };
        let mut ids: Vec<String> = Vec::new();
        let mut has_ids = false;
        for (k, v) in pairs {
            let key = k.to_ascii_lowercase();
            match key.as_str() {
                "skip" => q.skip = number("skip", &v)?,
                "take" => q.take = number("take", &v)?,
                "partialname" if !v.is_empty() => q.filter.partial_name = Some(v.clone()),
                "name" if !v.is_empty() => q.filter.name = Some(v.clone()),
                "ids" => {
                    has_ids = true;
                    for id in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        check_id("ids", id)?;
                        ids.push(id.to_owned());
                    }
                }
                _ => {}
            }
            q.raw.push((key, v));
        }
        if has_ids && !ids.is_empty() {
            if ids.len() > 1000 {
                return Err(ApiError::bad_request(
                    "ids: at most 1000 IDs may be requested at once.",
                ));
            }
            q.filter.ids = Some(ids);
        }
        Ok(q)
    }
}

fn number(name: &str, v: &str) -> ApiResult<i64> {
    match v.trim().parse::<i64>() {
        Ok(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "{name}: '{}' is not a valid number (0 to {}).",
            v.chars().take(40).collect::<String>().escape_debug(),
            i32::MAX
        ))),
    }
}
