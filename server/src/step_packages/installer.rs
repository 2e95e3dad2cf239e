//! Installing one step-package archive (from the feed directory or an upload).
//!
//! Order: file name → allow-list → SHA-256 → already installed? → load and validate the
//! package (octopus-packaging) → copy the archive under `<data_dir>/step-packages/` →
//! one transaction: insert the version and its steps, then move usages on the same major
//! ([`super::upgrades::auto_upgrade`]).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use axum::http::StatusCode;
use octopus_client::model::deployment_process::action_types;
use octopus_client::model::step_package::{
    StepPackageFormat, StepPackageStep, StepPackageType, StepPackageVersion,
};
use octopus_packaging::filename::{PackageFileName, PackageFormat};
use octopus_packaging::hashing;
use octopus_packaging::step_package::{OctopusMetadata, PackageKind, Step, StepFormat, load_named};

use super::StepPackages;
use super::catalog::{self, VersionRow};
use super::upgrades;
use crate::error::{ApiError, ApiResult};
use crate::store::Store;
use crate::util::{new_guid, now_iso8601};

/// Package IDs that would be shadowed by routes under `/api/steppackages/`.
pub const RESERVED_IDS: &[&str] = &["usages", "trusted"];

/// Where an archive came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The watched feed directory.
    Feed,
    /// `POST /api/steppackages`.
    Upload,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Feed => "Feed",
            Source::Upload => "Upload",
        }
    }
}

/// The result of an install.
#[derive(Debug)]
pub enum Outcome {
    /// Newly installed (with the usages moved and skipped by the automatic upgrade).
    Installed(StepPackageVersion),
    /// The same archive (same SHA-256) was already installed: nothing changed.
    AlreadyInstalled(StepPackageVersion),
}

fn invalid(message: impl Into<String>, detail: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
        errors: vec![detail.into()],
    }
}

fn api_format(f: StepFormat) -> StepPackageFormat {
    match f {
        StepFormat::Ours => StepPackageFormat::Ours,
        StepFormat::Octopus => StepPackageFormat::Octopus,
    }
}

fn api_step(s: &Step, octopus: Option<&OctopusMetadata>) -> StepPackageStep {
    let m = &s.metadata;
    let launcher = serde_json::to_value(m.launcher.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    StepPackageStep {
        id: m.id.clone(),
        name: m.name.clone(),
        description: m.description.clone(),
        categories: m.categories.clone(),
        can_run_on_deployment_target: m.can_run_on_deployment_target,
        launcher,
        entrypoint: m.launcher.entrypoint.clone(),
        logo: m.logo.clone(),
        inputs_schema: s.inputs_schema.clone(),
        migrations: serde_json::to_value(&s.migrations).unwrap_or_default(),
        release_notes_url: m.release_notes_url.clone(),
        format: api_format(s.format),
        migration_script: s.migration_script.clone(),
        deployment_target_id: octopus.and_then(|o| o.deployment_target_id.clone()),
    }
}

/// Copies `from` to `to` through a temporary file in the same directory, synced, then
/// renamed into place.
fn publish(from: &Path, to: &Path) -> std::io::Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".incoming-{}", new_guid()));
    let result = (|| {
        let mut src = File::open(from)?;
        let mut dst = File::create(&tmp)?;
        std::io::copy(&mut src, &mut dst)?;
        dst.flush()?;
        dst.sync_all()?;
        std::fs::rename(&tmp, to)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Installs the archive at `path`, named `file_name` (`<id>.<version>.zip|tar.gz|tgz`).
/// Blocking: call from a blocking context. The file at `path` is left in place.
///
/// Errors: 400 (bad name or package, step ID owned by another package), 403 (not on the
/// allow-list), 409 (this version is installed with different content).
pub fn install(
    cfg: &StepPackages,
    store: &Store,
    path: &Path,
    file_name: &str,
    source: Source,
) -> ApiResult<Outcome> {
    let name = PackageFileName::parse(file_name).map_err(|e| {
        invalid(
            "The step package file name is not valid.",
            format!("fileName: {e}"),
        )
    })?;
    if !matches!(
        name.format,
        PackageFormat::Zip | PackageFormat::TarGz | PackageFormat::Tgz
    ) {
        return Err(invalid(
            "The step package file name is not valid.",
            format!(
                "fileName: step packages are .zip, .tar.gz or .tgz archives, not .{}",
                name.format
            ),
        ));
    }
    if RESERVED_IDS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(&name.id))
    {
        return Err(invalid(
            "The step package file name is not valid.",
            format!(
                "fileName: the package ID '{}' is reserved (it names an API route: /api/steppackages/{})",
                name.id,
                name.id.to_ascii_lowercase()
            ),
        ));
    }
    if !cfg.trusted.is_trusted(&name.id, &name.version) {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "The step package '{}' {} is not trusted: only packages on the server's trusted allow-list can be installed.",
                name.id, name.version
            ),
            errors: vec![format!(
                "fileName: package ID '{}' (version {}) is not on the trusted allow-list (start the server with --trust-step-package {}).",
                name.id, name.version, name.id
            )],
        });
    }
    let _guard = cfg.lock();
    let digests = File::open(path)
        .and_then(hashing::hash_reader)
        .map_err(|e| ApiError::internal(format!("reading {}: {e}", path.display())))?;
    if digests.size > super::MAX_ARCHIVE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The step package is larger than the limit of {} bytes.",
                super::MAX_ARCHIVE_BYTES
            ),
        ));
    }
    let existing = {
        let (id, v) = (name.id.clone(), name.version.clone());
        store.read_blocking(move |c| {
            Ok(match catalog::get_version(c, &id, &v)? {
                Some(row) => {
                    let steps = catalog::steps_of(c, &id, &v)?;
                    Some(catalog::full_version(&row, steps))
                }
                None => None,
            })
        })?
    };
    if let Some(found) = existing {
        return already(found, &digests.sha256_hex);
    }
    // Loads either format and checks it against the file name.
    let pkg = load_named(path, &name, &cfg.limits).map_err(|e| {
        invalid(
            format!("The step package '{file_name}' is not valid."),
            e.to_string(),
        )
    })?;
    for s in &pkg.steps {
        if action_types::BUILT_IN
            .iter()
            .any(|b| b.eq_ignore_ascii_case(&s.metadata.id))
        {
            return Err(invalid(
                format!("The step package '{file_name}' is not valid."),
                format!(
                    "step ID '{}' is the name of a built-in action type",
                    s.metadata.id
                ),
            ));
        }
    }
    let version = pkg.manifest.version.clone();
    let package_id = pkg.manifest.id.clone();
    let archive_file = format!("{package_id}.{version}.{}", name.format.extension());
    let dest = cfg.dir.join(&archive_file);
    publish(path, &dest)
        .map_err(|e| ApiError::internal(format!("copying to {}: {e}", dest.display())))?;
    let row = VersionRow {
        package_id: package_id.clone(),
        version: version.clone(),
        sha256: digests.sha256_hex.clone(),
        size: digests.size,
        archive_file,
        installed_on: now_iso8601(),
        source: source.as_str().into(),
        kind: match pkg.kind {
            PackageKind::Step => StepPackageType::Step,
            PackageKind::DeploymentTarget => StepPackageType::DeploymentTarget,
        },
        format: api_format(pkg.format),
    };
    let steps: Vec<StepPackageStep> = pkg
        .steps
        .iter()
        .map(|s| api_step(s, pkg.octopus.as_ref()))
        .collect();
    let result = store.write_blocking(move |tx| {
        if let Some(found) = catalog::get_version(tx, &package_id, &version)? {
            let steps = catalog::steps_of(tx, &package_id, &version)?;
            return Ok(Err(catalog::full_version(&found, steps)));
        }
        let mut errors = Vec::new();
        for s in &steps {
            if let Some(owner) = catalog::step_owner(tx, &s.id)?
                && !owner.eq_ignore_ascii_case(&package_id)
            {
                errors.push(format!(
                    "step ID '{}' already belongs to the installed package '{owner}'; step IDs are unique across packages",
                    s.id
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError {
                status: StatusCode::BAD_REQUEST,
                message: format!("The step package '{package_id}' {version} cannot be installed."),
                errors,
            });
        }
        catalog::insert_version(tx, &row, &steps)?;
        let report = upgrades::auto_upgrade(tx, &package_id, &version)?;
        let rows = catalog::steps_of(tx, &package_id, &version)?;
        let mut out = catalog::full_version(&row, rows);
        out.upgraded_usages = report.upgraded;
        out.skipped_usages = report.skipped;
        Ok(Ok(out))
    });
    match result {
        Ok(Ok(v)) => Ok(Outcome::Installed(v)),
        Ok(Err(found)) => already(found, &digests.sha256_hex),
        Err(e) => {
            // Nothing refers to the copy: this version is not installed.
            let _ = std::fs::remove_file(&dest);
            Err(e)
        }
    }
}

fn already(found: StepPackageVersion, sha256: &str) -> ApiResult<Outcome> {
    if found.sha256 == sha256 {
        Ok(Outcome::AlreadyInstalled(found))
    } else {
        Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!(
                "The step package '{}' {} is already installed with different content.",
                found.package_id, found.version
            ),
            errors: vec![format!(
                "fileName: installed SHA-256 {}, this archive {sha256}; publish a new version instead of changing an existing one.",
                found.sha256
            )],
        })
    }
}
