//! Uninstalling one step-package version (an octopus-lite extension: Octopus has no
//! such route). Refused while a deployment process uses the version; otherwise its
//! rows go in one transaction and its archive after the commit.

use axum::http::StatusCode;
use octopus_client::model::step_package::StepPackageUsage;
use octopus_packaging::version::Version;

use super::StepPackages;
use super::catalog;
use super::usages::{self, UsageFilter};
use crate::api::releases::SNAPSHOT_MARK;
use crate::error::{ApiError, ApiResult};
use crate::store::Store;
use octopus_client::model::Release;
use octopus_client::model::Resource as _;

/// One usage as a line of the refusal: where the action is, so its owner can find it.
/// A release's snapshot of a process is named by the release it belongs to.
fn describe(tx: &rusqlite::Connection, u: &StepPackageUsage) -> ApiResult<String> {
    let process = if u.deployment_process_id.contains(SNAPSHOT_MARK) {
        match release_of_snapshot(tx, &u.space_id, &u.deployment_process_id)? {
            Some(version) => format!(
                "the process snapshot of release {version}, {}",
                u.deployment_process_id
            ),
            None => format!("process snapshot {}", u.deployment_process_id),
        }
    } else {
        u.deployment_process_id.clone()
    };
    Ok(format!(
        "{}/{} ({process}): step '{}', action '{}' uses {} {}",
        u.space_id, u.project_id, u.step_name, u.action_name, u.step_id, u.version
    ))
}

/// The version of the release in `space` whose process snapshot is `snapshot_id`.
fn release_of_snapshot(
    tx: &rusqlite::Connection,
    space: &str,
    snapshot_id: &str,
) -> ApiResult<Option<String>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, body FROM documents WHERE kind = ?1 AND space_id = ?2 AND instr(body, ?3) > 0",
    )?;
    let mut rows = stmt.query(rusqlite::params![Release::COLLECTION, space, snapshot_id])?;
    while let Some(r) = rows.next()? {
        let (id, body): (String, String) = (r.get(0)?, r.get(1)?);
        let release: Release = crate::store::documents::decode(Release::COLLECTION, &id, &body)?;
        if release.project_deployment_process_snapshot_id.as_deref() == Some(snapshot_id) {
            return Ok(Some(release.version));
        }
    }
    Ok(None)
}

/// Uninstalls `package_id` at `version`. Blocking: call from a blocking context.
///
/// Errors: 404 when that version is not installed, 409 when a process uses it (one
/// error line per using action).
pub fn uninstall(
    cfg: &StepPackages,
    store: &Store,
    package_id: &str,
    version: &Version,
) -> ApiResult<()> {
    // Installs and uninstalls one at a time, so an install never sees half of this.
    let _guard = cfg.lock();
    let (id, v) = (package_id.to_owned(), version.clone());
    // The check and the delete are one write transaction: no process write (they are
    // transactions on the same writer) can start using the version in between.
    let archive = store.write_blocking(move |tx| {
        let Some(row) = catalog::get_version(tx, &id, &v)? else {
            return Err(ApiError::not_found("step package version", &format!("{id} {v}")));
        };
        let filter = UsageFilter {
            package_id: Some(row.package_id.clone()),
            version: Some(v.clone()),
            ..UsageFilter::default()
        };
        let used = usages::list(tx, &filter)?;
        if !used.is_empty() {
            return Err(ApiError {
                status: StatusCode::CONFLICT,
                message: format!(
                    "The step package '{}' {v} cannot be uninstalled: {} process action(s) use it. Move them to another version or remove them first.",
                    row.package_id,
                    used.len()
                ),
                errors: used
                    .iter()
                    .map(|u| describe(tx, u))
                    .collect::<ApiResult<_>>()?,
            });
        }
        let key = catalog::package_key(&row.package_id);
        let version = v.to_string();
        tx.prepare_cached(
            "DELETE FROM step_package_steps WHERE package_key = ?1 AND version = ?2",
        )?
        .execute(rusqlite::params![key, version])?;
        tx.prepare_cached(
            "DELETE FROM step_package_versions WHERE package_key = ?1 AND version = ?2",
        )?
        .execute(rusqlite::params![key, version])?;
        Ok(row.archive_file)
    })?;
    // Committed: no version refers to the archive any more. A crash before this line
    // leaves a file the start-up sweep removes.
    match std::fs::remove_file(cfg.dir.join(&archive)) {
        Ok(()) => {
            let _ = crate::packages::sync_dir(&cfg.dir);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("octopus-lite: removing the uninstalled archive {archive}: {e}"),
    }
    Ok(())
}
