//! The built-in feed's packages: upload (multipart or raw body), list, versions,
//! get, download and delete. Storage is in [`crate::packages`].
//!
//! | Route | |
//! |---|---|
//! | `POST …/packages/raw{?overwriteMode,replace}` | multipart, one file part |
//! | `PUT`/`POST …/packages/raw/{fileName}{?overwriteMode,replace}` | the body is the file |
//! | `GET …/packages{?filter,packageId,nuGetPackageId,latest,skip,take}` | newest version first per package |
//! | `GET …/packages/{packageId}/versions{?versionRange,includePreRelease,skip,take}` | highest first |
//! | `GET`/`DELETE …/packages/{id}`, `GET …/packages/{id}/raw` | |

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Query, RawPathParams, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use octopus_client::model::ResourceCollection;
use octopus_client::model::package::Package;
use octopus_packaging::filename::{PackageFileName, validate_id};
use octopus_packaging::range::VersionRange;
use octopus_packaging::version::Version;
use tokio_stream::StreamExt;

use super::AppState;
use super::crud::page;
use super::extract::{ListQuery, Scope};
use crate::error::{ApiError, ApiResult};
use crate::packages::db::{self, ID_PREFIX, PackageRow};
use crate::packages::upload::{self, Incoming, Published, too_large};
use crate::packages::{OverwriteMode, io_error, space_dir};

/// Multipart framing allowed on top of the package size limit.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// Most bytes of a refused upload read (and discarded) so the client can
/// read the answer; larger ones are answered at once and the connection closes.
const DRAIN_LIMIT: u64 = 64 << 20;

/// Longest text field (e.g. `overwriteMode`) read from a multipart body.
const MAX_TEXT_FIELD: usize = 1024;

/// Registers the package routes, space-scoped and for the default space.
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    let multipart = post(upload_multipart).layer(DefaultBodyLimit::disable());
    let raw = post(upload_raw)
        .put(upload_raw)
        .layer(DefaultBodyLimit::disable());
    let list = get(list);
    let item = get(get_one).delete(delete_one);
    let download = get(download);
    let versions = get(versions);
    let mut r = r;
    for prefix in ["/api/{space_id}/packages", "/api/packages"] {
        r = r
            .route(prefix, list.clone())
            .route(&format!("{prefix}/raw"), multipart.clone())
            .route(&format!("{prefix}/raw/{{file_name}}"), raw.clone())
            .route(&format!("{prefix}/{{id}}"), item.clone())
            .route(&format!("{prefix}/{{id}}/raw"), download.clone())
            .route(&format!("{prefix}/{{id}}/versions"), versions.clone());
    }
    r
}

/// The query string as pairs with lowercased keys.
fn query_pairs(uri: &Uri) -> ApiResult<Vec<(String, String)>> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ApiError::bad_request(format!("The query string is not valid: {e}")))?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect())
}

fn parse_mode(text: &str) -> ApiResult<OverwriteMode> {
    OverwriteMode::parse(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "overwriteMode: '{}' is not a valid overwrite mode; use FailIfExists, IgnoreIfExists or OverwriteExisting.",
            text.chars().take(60).collect::<String>().escape_debug()
        ))
    })
}

fn parse_replace(text: &str) -> ApiResult<OverwriteMode> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(OverwriteMode::OverwriteExisting),
        "false" => Ok(OverwriteMode::FailIfExists),
        _ => Err(ApiError::bad_request(format!(
            "replace: '{}' is not a valid value; use true or false (or overwriteMode).",
            text.chars().take(60).collect::<String>().escape_debug()
        ))),
    }
}

/// `overwriteMode` (or the legacy `replace`) from `(lowercased key, value)` pairs;
/// `overwriteMode` wins when both are given.
fn mode_from(pairs: &[(String, String)]) -> ApiResult<Option<OverwriteMode>> {
    if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "overwritemode") {
        return parse_mode(v).map(Some);
    }
    if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "replace") {
        return parse_replace(v).map(Some);
    }
    Ok(None)
}

fn parse_file_name(name: &str) -> ApiResult<PackageFileName> {
    PackageFileName::parse(name).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: "The package file name is not valid; expected <PackageId>.<Version>.<extension>, e.g. MyApp.1.0.0.zip.".into(),
        errors: vec![e.to_string()],
    })
}

/// The declared `Content-Length`, if any.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Refuses a declared `Content-Length` over `limit` before reading anything.
fn check_declared_length(headers: &HeaderMap, limit: u64, package_limit: u64) -> ApiResult<()> {
    match declared_length(headers) {
        Some(n) if n > limit => Err(too_large(package_limit)),
        _ => Ok(()),
    }
}

fn body_timeout() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "The request body stopped arriving; the upload was abandoned.",
    )
}

/// Awaits the next piece of a body, with the server's idle timeout.
async fn next<T>(timeout: Duration, f: impl Future<Output = T>) -> ApiResult<T> {
    tokio::time::timeout(timeout, f)
        .await
        .map_err(|_| body_timeout())
}

fn multipart_error(e: MultipartError) -> ApiError {
    ApiError::bad_request(format!(
        "The multipart request body could not be read: {}",
        e.body_text()
    ))
}

fn ensure_storage(st: &AppState) -> ApiResult<()> {
    if st.data_dir.as_os_str().is_empty() {
        return Err(ApiError::internal(
            "package storage is not configured (no data directory)",
        ));
    }
    Ok(())
}

/// Publishes on the blocking pool and builds the response: 201 stored, 200 ignored.
async fn finish_upload(
    st: &AppState,
    space: String,
    name: PackageFileName,
    written: upload::Written,
    mode: OverwriteMode,
) -> ApiResult<Response> {
    let store = st.store.clone();
    let data_dir = st.data_dir.clone();
    let sp = space.clone();
    let published = tokio::task::spawn_blocking(move || {
        upload::publish(&store, &data_dir, &sp, &name, written, mode)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(match published {
        Published::Created(row) | Published::Replaced(row) => {
            (StatusCode::CREATED, Json(row.to_model(&space))).into_response()
        }
        Published::Ignored(row) => (StatusCode::OK, Json(row.to_model(&space))).into_response(),
    })
}

/// `POST …/packages/raw`: multipart with one file part (any part name; the
/// part's file name names the package) and optionally an `overwriteMode` or
/// `replace` text part; the query string's mode wins.
async fn upload_multipart(
    State(st): State<AppState>,
    scope: Scope,
    uri: Uri,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    ensure_storage(&st)?;
    let query_mode = query_pairs(&uri).and_then(|q| mode_from(&q));
    let mut mp = multipart.map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: "The upload must be a multipart/form-data request with one file part (e.g. curl -F \"file=@MyApp.1.0.0.zip\"), or a PUT of the file to .../packages/raw/<file name>.".into(),
        errors: vec![e.body_text()],
    })?;
    let received = match query_mode {
        // The query string's mode wins over a form field.
        Ok(q) => receive_multipart(&st, &scope, &headers, &mut mp)
            .await
            .map(|(name, written, field)| (name, written, q.or(field))),
        Err(e) => Err(e),
    };
    match received {
        Ok((name, written, mode)) => {
            finish_upload(&st, scope.0, name, written, mode.unwrap_or_default()).await
        }
        Err(e) => {
            if declared_length(&headers).is_none_or(|n| n <= DRAIN_LIMIT) {
                drain_multipart(&mut mp, st.body_timeout).await;
            }
            Err(e)
        }
    }
}

/// Reads the multipart body: the file part streams to a temporary file.
async fn receive_multipart(
    st: &AppState,
    scope: &Scope,
    headers: &HeaderMap,
    mp: &mut Multipart,
) -> ApiResult<(PackageFileName, upload::Written, Option<OverwriteMode>)> {
    let limit = st.max_package_bytes;
    check_declared_length(headers, limit.saturating_add(MULTIPART_OVERHEAD), limit)?;
    let timeout = st.body_timeout;
    let mut field_mode: Option<OverwriteMode> = None;
    let mut upload: Option<(PackageFileName, upload::Written)> = None;
    while let Some(mut field) = next(timeout, mp.next_field())
        .await?
        .map_err(multipart_error)?
    {
        if let Some(file_name) = field.file_name().map(str::to_owned) {
            if upload.is_some() {
                return Err(ApiError::bad_request(
                    "Only one package file may be uploaded per request.",
                ));
            }
            let name = parse_file_name(&file_name)?;
            let mut incoming =
                Incoming::start(&st.data_dir, &scope.0, name.format.archive_kind(), limit)?;
            while let Some(chunk) = next(timeout, field.chunk())
                .await?
                .map_err(multipart_error)?
            {
                incoming.push(chunk).await.map_err(|e| e.into_api())?;
            }
            let written = incoming.finish().await.map_err(|e| e.into_api())?;
            upload = Some((name, written));
        } else {
            let field_name = field.name().unwrap_or_default().to_ascii_lowercase();
            let mut text = Vec::new();
            while let Some(chunk) = next(timeout, field.chunk())
                .await?
                .map_err(multipart_error)?
            {
                if text.len() + chunk.len() > MAX_TEXT_FIELD {
                    return Err(ApiError::bad_request(format!(
                        "The multipart field '{}' is longer than {MAX_TEXT_FIELD} bytes.",
                        field_name
                            .chars()
                            .take(60)
                            .collect::<String>()
                            .escape_debug()
                    )));
                }
                text.extend_from_slice(&chunk);
            }
            let text = String::from_utf8_lossy(&text);
            match field_name.as_str() {
                "overwritemode" => field_mode = Some(parse_mode(&text)?),
                "replace" if field_mode.is_none() => field_mode = Some(parse_replace(&text)?),
                _ => {}
            }
        }
    }
    let Some((name, written)) = upload else {
        return Err(ApiError::bad_request(
            "The multipart request has no file part; send the package as a part with a file name, e.g. curl -F \"file=@MyApp.1.0.0.zip\".",
        ));
    };
    Ok((name, written, field_mode))
}

/// Reads and discards what is left of a refused upload (at most
/// [`DRAIN_LIMIT`] bytes), so the client, still sending, gets to read the
/// answer instead of a reset connection.
async fn drain_multipart(mp: &mut Multipart, timeout: Duration) {
    let mut seen = 0u64;
    while let Ok(Ok(Some(mut field))) = tokio::time::timeout(timeout, mp.next_field()).await {
        while let Ok(Ok(Some(chunk))) = tokio::time::timeout(timeout, field.chunk()).await {
            seen += chunk.len() as u64;
            if seen > DRAIN_LIMIT {
                return;
            }
        }
    }
}

/// [`drain_multipart`] for a raw body.
async fn drain_body(body: &mut axum::body::BodyDataStream, timeout: Duration) {
    let mut seen = 0u64;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(timeout, body.next()).await {
        seen += chunk.len() as u64;
        if seen > DRAIN_LIMIT {
            return;
        }
    }
}

/// `PUT`/`POST …/packages/raw/{fileName}`: the request body is the package file.
async fn upload_raw(
    State(st): State<AppState>,
    scope: Scope,
    params: RawPathParams,
    req: Request,
) -> ApiResult<Response> {
    ensure_storage(&st)?;
    let (parts, body) = req.into_parts();
    let mut body = body.into_data_stream();
    match receive_raw(&st, &scope, &params, &parts, &mut body).await {
        Ok((name, written, mode)) => finish_upload(&st, scope.0, name, written, mode).await,
        Err(e) => {
            if declared_length(&parts.headers).is_none_or(|n| n <= DRAIN_LIMIT) {
                drain_body(&mut body, st.body_timeout).await;
            }
            Err(e)
        }
    }
}

async fn receive_raw(
    st: &AppState,
    scope: &Scope,
    params: &RawPathParams,
    parts: &axum::http::request::Parts,
    body: &mut axum::body::BodyDataStream,
) -> ApiResult<(PackageFileName, upload::Written, OverwriteMode)> {
    let file_name = path_value(params, "file_name");
    let name = parse_file_name(&file_name)?;
    let mode = mode_from(&query_pairs(&parts.uri)?)?.unwrap_or_default();
    let limit = st.max_package_bytes;
    check_declared_length(&parts.headers, limit, limit)?;
    let timeout = st.body_timeout;
    let mut incoming = Incoming::start(&st.data_dir, &scope.0, name.format.archive_kind(), limit)?;
    while let Some(chunk) = next(timeout, body.next()).await? {
        let chunk: Bytes = chunk.map_err(|e| {
            ApiError::bad_request(format!("The request body could not be read: {e}"))
        })?;
        incoming.push(chunk).await.map_err(|e| e.into_api())?;
    }
    let written = incoming.finish().await.map_err(|e| e.into_api())?;
    Ok((name, written, mode))
}

/// Sort key: package ID (case-insensitive) ascending, then version descending.
fn sort_rows(rows: &mut [PackageRow]) {
    let mut keyed: Vec<(String, Option<Version>, PackageRow)> = rows
        .iter()
        .map(|r| (r.package_id.to_lowercase(), r.parsed_version(), r.clone()))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
    for (slot, (_, _, row)) in rows.iter_mut().zip(keyed) {
        *slot = row;
    }
}

pub(super) fn flag(q: &ListQuery, name: &str) -> ApiResult<Option<bool>> {
    match q.raw.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) if v.is_empty() => Ok(None),
        Some((_, v)) => match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(ApiError::bad_request(format!(
                "{name}: '{}' is not true or false.",
                v.chars().take(40).collect::<String>().escape_debug()
            ))),
        },
    }
}

pub(super) fn param<'a>(q: &'a ListQuery, name: &str) -> Option<&'a str> {
    q.raw
        .iter()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

fn paged(
    rows: Vec<PackageRow>,
    q: &ListQuery,
    space: &str,
    base: &str,
    template: &str,
) -> Json<ResourceCollection<Package>> {
    let total = rows.len() as i64;
    let items = rows
        .into_iter()
        .skip(usize::try_from(q.skip).unwrap_or(usize::MAX))
        .take(usize::try_from(q.take).unwrap_or(usize::MAX))
        .map(|r| r.to_model(space))
        .collect();
    Json(page(items, total, q, base, "Package", template))
}

/// `GET …/packages`: `filter` (package ID substring), `packageId` /
/// `nuGetPackageId` (exact), `latest=true` (only each package's highest
/// version), `skip`, `take`. Sorted by package ID, then version descending.
async fn list(
    State(st): State<AppState>,
    scope: Scope,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<Package>>> {
    let latest = flag(&q, "latest")?.unwrap_or(false);
    let exact = param(&q, "packageid")
        .or_else(|| param(&q, "nugetpackageid"))
        .map(str::to_owned);
    let filter = param(&q, "filter").map(str::to_owned);
    let space = scope.0;
    let sp = space.clone();
    let mut rows = st
        .store
        .read(move |c| db::list(c, &sp, exact.as_deref(), filter.as_deref()))
        .await?;
    sort_rows(&mut rows);
    if latest {
        rows.dedup_by(|b, a| a.package_id.eq_ignore_ascii_case(&b.package_id));
    }
    let base = format!("/api/{space}/packages");
    Ok(paged(
        rows,
        &q,
        &space,
        &base,
        "{/id}{?nuGetPackageId,packageId,filter,latest,skip,take}",
    ))
}

/// `GET …/packages/{packageId}/versions`: the versions of one package, highest
/// first; `versionRange` (NuGet `[1.0,2.0)` or npm `^1.2`), `includePreRelease`
/// (default true), `skip`, `take`.
async fn versions(
    State(st): State<AppState>,
    scope: Scope,
    params: RawPathParams,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<Package>>> {
    let package_id = path_value(&params, "id");
    validate_id(&package_id).map_err(|e| ApiError::bad_request(format!("packageId: {e}")))?;
    let range = version_range(&q)?;
    let prerelease = flag(&q, "includeprerelease")?.unwrap_or(true);
    let space = scope.0;
    let (sp, pid) = (space.clone(), package_id.clone());
    let rows = st
        .store
        .read(move |c| db::list(c, &sp, Some(&pid), None))
        .await?;
    let rows = select_versions(rows, range.as_ref(), prerelease)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let base = format!("/api/{space}/packages/{package_id}/versions");
    Ok(paged(
        rows,
        &q,
        &space,
        &base,
        "{?versionRange,includePreRelease,skip,take}",
    ))
}

/// The `versionRange` parameter (NuGet or npm notation), if given.
pub(super) fn version_range(q: &ListQuery) -> ApiResult<Option<VersionRange>> {
    param(q, "versionrange")
        .map(|text| {
            VersionRange::parse(text)
                .map_err(|e| ApiError::bad_request(format!("versionRange: {e}")))
        })
        .transpose()
}

/// The rows of one package whose versions are in `range` (pre-releases only with
/// `prerelease`), highest version first.
pub(super) fn select_versions(
    rows: Vec<PackageRow>,
    range: Option<&VersionRange>,
    prerelease: bool,
) -> Vec<(Version, PackageRow)> {
    let mut keyed: Vec<(Version, PackageRow)> = rows
        .into_iter()
        .filter_map(|r| r.parsed_version().map(|v| (v, r)))
        .filter(|(v, _)| prerelease || !v.is_prerelease())
        .filter(|(v, _)| range.is_none_or(|r| r.contains(v)))
        .collect();
    keyed.sort_by(|a, b| b.0.cmp(&a.0));
    keyed
}

fn path_value(params: &RawPathParams, name: &str) -> String {
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// Checks a package resource ID: `packages-` then package ID and version characters.
fn package_resource_id(params: &RawPathParams) -> ApiResult<String> {
    let id = path_value(params, "id");
    let ok = id.len() <= 400
        && id.len() > ID_PREFIX.len()
        && id[..ID_PREFIX.len()].eq_ignore_ascii_case(ID_PREFIX)
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'));
    if ok {
        Ok(id)
    } else {
        Err(ApiError::bad_request(format!(
            "Id: '{}' is not a valid package ID; expected packages-<PackageId>.<Version>.",
            id.chars().take(100).collect::<String>().escape_debug()
        )))
    }
}

async fn find(st: &AppState, space: &str, id: &str) -> ApiResult<PackageRow> {
    let (sp, i) = (space.to_owned(), id.to_owned());
    st.store
        .read(move |c| db::get_by_id(c, &sp, &i))
        .await?
        .ok_or_else(|| ApiError::not_found("package", id))
}

/// `GET …/packages/{id}`.
async fn get_one(
    State(st): State<AppState>,
    scope: Scope,
    params: RawPathParams,
) -> ApiResult<Json<Package>> {
    let id = package_resource_id(&params)?;
    let row = find(&st, &scope.0, &id).await?;
    Ok(Json(row.to_model(&scope.0)))
}

/// `DELETE …/packages/{id}`: 204; the file is removed after the commit.
async fn delete_one(
    State(st): State<AppState>,
    scope: Scope,
    params: RawPathParams,
) -> ApiResult<StatusCode> {
    let id = package_resource_id(&params)?;
    let space = scope.0;
    let (sp, i) = (space.clone(), id.clone());
    let data_dir = st.data_dir.clone();
    let store = st.store.clone();
    tokio::task::spawn_blocking(move || {
        let row = store
            .write_blocking(|tx| db::delete(tx, &sp, &i))?
            .ok_or_else(|| ApiError::not_found("package", &i))?;
        upload::remove_file(&space_dir(&data_dir, &sp), &row.file_name);
        Ok::<_, ApiError>(())
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/packages/{id}/raw`: the file, streamed.
async fn download(
    State(st): State<AppState>,
    scope: Scope,
    params: RawPathParams,
) -> ApiResult<Response> {
    let id = package_resource_id(&params)?;
    // A concurrent replace or delete may remove the file between reading the row
    // and opening it; look again once. An open file stays readable.
    for _ in 0..2 {
        let row = find(&st, &scope.0, &id).await?;
        let path = space_dir(&st.data_dir, &scope.0).join(&row.file_name);
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error("opening a package", e)),
        };
        let len = file
            .metadata()
            .await
            .map_err(|e| io_error("opening a package", e))?
            .len();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
        let mut resp = Body::from_stream(stream).into_response();
        let h = resp.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from(len));
        // File names are ASCII letters, digits and `-_.+`: safe in a quoted header value.
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"{}\"",
            row.canonical_file_name()
        )) {
            h.insert(CONTENT_DISPOSITION, v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", row.sha1)) {
            h.insert(ETAG, v);
        }
        return Ok(resp);
    }
    Err(ApiError::not_found("package", &id))
}
