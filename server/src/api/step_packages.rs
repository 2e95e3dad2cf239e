//! `/api/steppackages`: installed step packages (server-wide, not per space), uploads,
//! usages, and the explicit upgrade of a process action
//! (`/api/{spaceId}/deploymentprocesses/{id}/steppackages/upgrade`).

use std::collections::HashMap;
use std::io::Write;
use std::pin::Pin;

use axum::Json;
use axum::Router;
use axum::body::HttpBody;
use axum::extract::multipart::Multipart;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use octopus_client::model::DeploymentProcess;
use octopus_client::model::ResourceCollection;
use octopus_client::model::step_package::{
    StepPackageSummary, StepPackageUpgrade, StepPackageUsage, StepPackageVersion,
    StepPackageVersionSummary, TrustedStepPackage, TrustedStepPackages,
};
use octopus_packaging::filename;
use octopus_packaging::version::Version;

use super::AppState;
use super::crud::{page_of, present};
use super::extract::{Body, ItemId, ListQuery, Scope};
use crate::error::{ApiError, ApiResult};
use crate::step_packages::installer::{self, Outcome, Source};
use crate::step_packages::usages::UsageFilter;
use crate::step_packages::{MAX_ARCHIVE_BYTES, catalog, uninstall, upgrades, usages};
use crate::util::new_guid;

/// Registers the step-package routes.
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    // The archive size is limited by the handler (MAX_ARCHIVE_BYTES), not the JSON limit.
    let upload = post(upload).layer(DefaultBodyLimit::disable());
    r.route("/api/steppackages", get(list).merge(upload))
        .route("/api/steppackages/usages", get(list_usages))
        .route("/api/steppackages/trusted", get(trusted))
        .route("/api/steppackages/{package_id}", get(get_package))
        .route(
            "/api/steppackages/{package_id}/versions",
            get(list_versions),
        )
        .route(
            "/api/steppackages/{package_id}/{version}",
            get(get_version).delete(uninstall_version),
        )
        .route(
            "/api/{space_id}/deploymentprocesses/{id}/steppackages/upgrade",
            post(upgrade),
        )
        .route(
            "/api/deploymentprocesses/{id}/steppackages/upgrade",
            post(upgrade),
        )
}

fn package_param(params: &HashMap<String, String>) -> ApiResult<String> {
    let id = params.get("package_id").cloned().unwrap_or_default();
    filename::validate_id(&id).map_err(|e| {
        ApiError::bad_request(format!(
            "packageId: '{}' is not a valid package ID: {e}",
            id.chars().take(100).collect::<String>().escape_debug()
        ))
    })?;
    Ok(id)
}

fn version_param(field: &str, text: &str) -> ApiResult<Version> {
    Version::parse(text).map_err(|e| {
        ApiError::bad_request(format!(
            "{field}: '{}' is not a valid version: {e}",
            text.chars().take(100).collect::<String>().escape_debug()
        ))
    })
}

type Params = Result<Path<HashMap<String, String>>, axum::extract::rejection::PathRejection>;

fn params(p: Params) -> ApiResult<HashMap<String, String>> {
    p.map(|Path(m)| m)
        .map_err(|e| ApiError::bad_request(format!("The URL is not valid: {e}")))
}

fn query_value<'a>(q: &'a ListQuery, key: &str) -> Option<&'a str> {
    q.raw
        .iter()
        .find(|(k, v)| k == key && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

/// The `{packageId}` and `{version}` of a version's route.
fn package_version(p: Params) -> ApiResult<(String, Version)> {
    let params = params(p)?;
    let id = package_param(&params)?;
    let version = version_param(
        "version",
        params.get("version").map(String::as_str).unwrap_or(""),
    )?;
    Ok((id, version))
}

/// `GET /api/steppackages`: installed packages, paged; `partialName` filters by ID.
async fn list(
    State(st): State<AppState>,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<StepPackageSummary>>> {
    let partial = q.filter.partial_name.clone().map(|p| p.to_lowercase());
    let all = st
        .store
        .read(move |c| {
            let mut out = Vec::new();
            for versions in catalog::all_versions(c)? {
                let Some(latest) = versions.last() else {
                    continue;
                };
                if partial
                    .as_ref()
                    .is_some_and(|p| !latest.package_id.to_lowercase().contains(p))
                {
                    continue;
                }
                let steps = catalog::steps_of(c, &latest.package_id, &latest.version)?;
                out.push(catalog::package_summary(&versions, &steps));
            }
            Ok(out)
        })
        .await?;
    Ok(Json(paged(all, &q, "/api/steppackages", "StepPackage")))
}

fn paged<T>(all: Vec<T>, q: &ListQuery, base: &str, item_type: &str) -> ResourceCollection<T> {
    page_of(all, q, base, item_type, "{?skip,take}")
}

/// `GET /api/steppackages/{packageId}`: one package (404 when no version is installed).
async fn get_package(State(st): State<AppState>, p: Params) -> ApiResult<Json<StepPackageSummary>> {
    let id = package_param(&params(p)?)?;
    let i = id.clone();
    let found = st
        .store
        .read(move |c| {
            let versions = catalog::versions_of(c, &i)?;
            let Some(latest) = versions.last() else {
                return Ok(None);
            };
            let steps = catalog::steps_of(c, &latest.package_id, &latest.version)?;
            Ok(Some(catalog::package_summary(&versions, &steps)))
        })
        .await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("step package", &id))
}

/// `GET /api/steppackages/{packageId}/versions`: installed versions, oldest first.
async fn list_versions(
    State(st): State<AppState>,
    p: Params,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<StepPackageVersionSummary>>> {
    let id = package_param(&params(p)?)?;
    let i = id.clone();
    let all = st
        .store
        .read(move |c| {
            let mut out = Vec::new();
            for v in catalog::versions_of(c, &i)? {
                let steps = catalog::steps_of(c, &v.package_id, &v.version)?;
                out.push(catalog::summary_of_version(&v, &steps));
            }
            Ok(out)
        })
        .await?;
    if all.is_empty() {
        return Err(ApiError::not_found("step package", &id));
    }
    let base = format!("/api/steppackages/{id}/versions");
    Ok(Json(paged(all, &q, &base, "StepPackageVersion")))
}

/// `GET /api/steppackages/{packageId}/{version}`: every step's metadata, inputs schema and
/// migrations.
async fn get_version(State(st): State<AppState>, p: Params) -> ApiResult<Json<StepPackageVersion>> {
    let (id, version) = package_version(p)?;
    let (i, v) = (id.clone(), version.clone());
    let found = st
        .store
        .read(move |c| {
            let Some(row) = catalog::get_version(c, &i, &v)? else {
                return Ok(None);
            };
            let steps = catalog::steps_of(c, &i, &v)?;
            Ok(Some(catalog::full_version(&row, steps)))
        })
        .await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("step package version", &format!("{id} {version}")))
}

/// `DELETE /api/steppackages/{packageId}/{version}`: uninstalls one version (an
/// octopus-lite extension). 204; 404 when not installed; 409 while a process uses it,
/// with one error per using action.
async fn uninstall_version(State(st): State<AppState>, p: Params) -> ApiResult<StatusCode> {
    let (id, version) = package_version(p)?;
    let state = st.clone();
    tokio::task::spawn_blocking(move || {
        uninstall::uninstall(&state.step_packages, &state.store, &id, &version)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/steppackages/trusted`: the server's trusted allow-list (an octopus-lite
/// extension), so a client can say before uploading that a package would be refused.
async fn trusted(State(st): State<AppState>) -> Json<TrustedStepPackages> {
    Json(TrustedStepPackages {
        packages: st
            .step_packages
            .trusted
            .packages
            .iter()
            .map(|p| TrustedStepPackage {
                id: p.id.clone(),
                versions: p.versions.as_ref().map(ToString::to_string),
            })
            .collect(),
    })
}

/// `GET /api/steppackages/usages`: process actions using step-package steps; filters
/// `stepId`, `packageId`, `version` and `spaceId`.
async fn list_usages(
    State(st): State<AppState>,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<StepPackageUsage>>> {
    let filter = UsageFilter {
        step_id: query_value(&q, "stepid").map(str::to_owned),
        package_id: query_value(&q, "packageid").map(str::to_owned),
        version: query_value(&q, "version")
            .map(|v| version_param("version", v))
            .transpose()?,
        space_id: query_value(&q, "spaceid").map(str::to_owned),
    };
    let all = st.store.read(move |c| usages::list(c, &filter)).await?;
    Ok(Json(paged(
        all,
        &q,
        "/api/steppackages/usages",
        "StepPackageUsage",
    )))
}

/// Removes the temporary upload file when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Appends upload bytes to the temporary file, enforcing the size limit.
struct Sink {
    file: std::fs::File,
    size: u64,
}

impl Sink {
    fn write(&mut self, data: &[u8]) -> ApiResult<()> {
        self.size += data.len() as u64;
        if self.size > MAX_ARCHIVE_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The step package is larger than the limit of {MAX_ARCHIVE_BYTES} bytes."),
            ));
        }
        self.file
            .write_all(data)
            .map_err(|e| ApiError::internal(format!("writing the upload: {e}")))
    }
}

fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Streams the archive (raw body, or the first file part of a multipart body) to `to`.
/// Returns the multipart part's file name, if any.
async fn receive(st: &AppState, req: Request, to: &std::path::Path) -> ApiResult<Option<String>> {
    let file = std::fs::File::create(to)
        .map_err(|e| ApiError::internal(format!("creating {}: {e}", to.display())))?;
    let mut sink = Sink { file, size: 0 };
    let mut part_name = None;
    let read = async {
        if is_multipart(&req) {
            let mut mp = Multipart::from_request(req, st).await.map_err(|e| {
                ApiError::bad_request(format!("The multipart request body is not valid: {e}"))
            })?;
            let bad = |e: axum::extract::multipart::MultipartError| {
                ApiError::bad_request(format!("The multipart request body could not be read: {e}"))
            };
            while let Some(mut field) = mp.next_field().await.map_err(bad)? {
                let is_file = field.file_name().is_some() || field.name() == Some("file");
                if !is_file || part_name.is_some() {
                    while field.chunk().await.map_err(bad)?.is_some() {}
                    continue;
                }
                part_name = Some(field.file_name().unwrap_or_default().to_owned());
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    sink.write(&chunk)?;
                }
            }
            if part_name.is_none() {
                return Err(ApiError::validation(vec![
                    "file: The multipart body has no file part (send it as `file`).".into(),
                ]));
            }
        } else {
            let mut body = req.into_body();
            while let Some(frame) =
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            {
                let frame = frame.map_err(|e| {
                    ApiError::bad_request(format!("The request body could not be read: {e}"))
                })?;
                if let Ok(data) = frame.into_data() {
                    sink.write(&data)?;
                }
            }
        }
        Ok(())
    };
    match tokio::time::timeout(st.body_timeout, read).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "The request body did not arrive in time.",
            ));
        }
    }
    if sink.size == 0 {
        return Err(ApiError::bad_request(
            "The request body is empty; send the step-package archive as the body.",
        ));
    }
    sink.file
        .flush()
        .map_err(|e| ApiError::internal(format!("writing the upload: {e}")))?;
    Ok(part_name.filter(|n| !n.is_empty()))
}

/// `POST /api/steppackages?fileName=<id>.<version>.zip`: installs the archive sent as the raw
/// body, or as the `file` part of a `multipart/form-data` body (whose file name is used when
/// `fileName` is absent). 201 when installed, 200 when the same archive was already installed.
async fn upload(State(st): State<AppState>, q: ListQuery, req: Request) -> ApiResult<Response> {
    let query_name = query_value(&q, "filename").map(str::to_owned);
    if query_name.is_none() && !is_multipart(&req) {
        return Err(ApiError::validation(vec![
            "fileName: The fileName query parameter is required (e.g. ?fileName=acme-steps.1.0.0.zip).".into(),
        ]));
    }
    let uploads = st.step_packages.dir.join(crate::step_packages::UPLOADS_DIR);
    std::fs::create_dir_all(&uploads)
        .map_err(|e| ApiError::internal(format!("creating {}: {e}", uploads.display())))?;
    let tmp = TempFile(uploads.join(new_guid()));
    let part_name = receive(&st, req, &tmp.0).await?;
    let Some(file_name) = query_name.or(part_name) else {
        return Err(ApiError::validation(vec![
            "fileName: The fileName query parameter or a file name on the multipart file part is required.".into(),
        ]));
    };
    let state = st.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let r = installer::install(
            &state.step_packages,
            &state.store,
            &tmp.0,
            &file_name,
            Source::Upload,
        );
        drop(tmp);
        r
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(match outcome {
        Outcome::Installed(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Outcome::AlreadyInstalled(v) => (StatusCode::OK, Json(v)).into_response(),
    })
}

/// `POST …/deploymentprocesses/{id}/steppackages/upgrade`: moves one action to a newer
/// version of its step (running the migrations across majors) and answers the process.
async fn upgrade(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(id): ItemId,
    Body(req): Body<StepPackageUpgrade>,
) -> ApiResult<Json<DeploymentProcess>> {
    let sp = space.clone();
    let archives = st.step_packages.dir.clone();
    let p = st
        .store
        .write(move |tx| upgrades::upgrade_action(tx, &archives, &sp, &id, &req))
        .await?;
    Ok(Json(present(p, &space)))
}
