//! Moving usages between versions: automatic (same major, on install) and explicit
//! (any newer version, running the migrations between majors: declarative for ours,
//! each major's `migration.js` for Octopus's format, see [`migrate_inputs`]).

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use octopus_client::model::step_package::StepPackageFormat;
use octopus_client::model::step_package::{SkippedUsage, StepPackageUpgrade, StepPackageUsage};
use octopus_client::model::{DeploymentProcess, Resource};
use octopus_packaging::schema::InputSchema;
use octopus_packaging::step_package::{OCTOPUS_MIGRATION_FILE, is_auto_upgrade};
use octopus_packaging::version::Version;
use rusqlite::Connection;

use super::catalog::{self, StepRow};
use super::usages::{self, input_errors, resolve};
use crate::error::{ApiError, ApiResult};
use crate::store::documents;
use crate::util::now_iso8601;

/// What an automatic upgrade did.
#[derive(Debug, Default)]
pub struct AutoUpgradeReport {
    /// Usages moved (shown at their new version).
    pub upgraded: Vec<StepPackageUsage>,
    /// Usages left alone because their inputs do not satisfy the new schema.
    pub skipped: Vec<SkippedUsage>,
}

fn save(tx: &Connection, space: &str, mut p: DeploymentProcess) -> ApiResult<DeploymentProcess> {
    let id = p.id.clone().unwrap_or_default();
    p.version = p
        .version
        .checked_add(1)
        .ok_or_else(|| ApiError::internal("version overflow"))?;
    p.last_modified_on = Some(now_iso8601());
    p.last_modified_by = Some("octopus-lite".into());
    p.links.clear();
    documents::update(tx, DeploymentProcess::COLLECTION, space, &id, None, &p)?;
    Ok(p)
}

/// Called in the installing transaction after `package_id` `version` was inserted: when it
/// is the newest release on its major, moves every usage of its steps on that major with an
/// older version to it, if the usage's inputs satisfy the new schema. Each changed process
/// gets a new `Version`. Never crosses majors; pre-releases are never applied.
pub fn auto_upgrade(
    tx: &Connection,
    package_id: &str,
    version: &Version,
) -> ApiResult<AutoUpgradeReport> {
    let mut report = AutoUpgradeReport::default();
    if version.is_prerelease() {
        return Ok(report);
    }
    let newest_on_major = catalog::versions_of(tx, package_id)?
        .into_iter()
        .map(|r| r.version)
        .filter(|v| v.major == version.major && !v.is_prerelease())
        .max();
    if newest_on_major.as_ref() != Some(version) {
        return Ok(report);
    }
    // Each step's schema compiled once, for every action using it.
    let steps = catalog::steps_of(tx, package_id, version)?
        .into_iter()
        .map(|row| Ok((row.schema()?, row)))
        .collect::<ApiResult<Vec<(InputSchema, StepRow)>>>()?;
    for sp in usages::processes_with_step_packages(tx)? {
        // A release's snapshot keeps the version it froze.
        if sp
            .process
            .id
            .as_deref()
            .is_some_and(DeploymentProcess::is_snapshot_id)
        {
            continue;
        }
        let mut p = sp.process;
        let mut changed = false;
        let snapshot = p.clone();
        for step in &mut p.steps {
            for a in &mut step.actions {
                let Some((schema, row)) = steps.iter().find(|(_, s)| s.step_id == a.action_type)
                else {
                    continue;
                };
                let Some(current) = a
                    .step_package_version
                    .as_deref()
                    .and_then(|v| Version::parse(v).ok())
                else {
                    continue;
                };
                if !is_auto_upgrade(&current, version) {
                    continue;
                }
                let empty = serde_json::Value::Object(Default::default());
                let inputs = a.inputs.as_ref().unwrap_or(&empty);
                let usage = usages::usage_of(&sp.space, &snapshot, &step.name, a, package_id);
                match usages::check_inputs(schema, row.step.format, inputs, &a.packages) {
                    Ok(()) => {
                        a.step_package_version = Some(version.to_string());
                        changed = true;
                        report.upgraded.push(StepPackageUsage {
                            version: version.to_string(),
                            ..usage
                        });
                    }
                    Err(errs) => {
                        let reasons: Vec<String> = errs.iter().map(ToString::to_string).collect();
                        eprintln!(
                            "octopus-lite: step packages: not moving action '{}' of {} ({}) from {current} to {version}: {}",
                            a.name,
                            usage.deployment_process_id,
                            sp.space,
                            reasons.join("; ")
                        );
                        report.skipped.push(SkippedUsage { usage, reasons });
                    }
                }
            }
        }
        if changed {
            save(tx, &sp.space, p)?;
        }
    }
    Ok(report)
}

/// Explicit upgrade of one action of a process (in the caller's transaction): resolves the
/// target version, runs the migrations from the current major to the target's, validates
/// the result against the target schema and, unless `dry_run`, saves the process with a new
/// `Version`.
pub fn upgrade_action(
    tx: &Connection,
    archives: &Path,
    space: &str,
    process_id: &str,
    req: &StepPackageUpgrade,
) -> ApiResult<DeploymentProcess> {
    let mut p: DeploymentProcess =
        documents::get(tx, DeploymentProcess::COLLECTION, space, process_id)?
            .ok_or_else(|| ApiError::not_found("DeploymentProcess", process_id))?;
    if DeploymentProcess::is_snapshot_id(process_id) {
        return Err(ApiError::bad_request(crate::api::FROZEN_PROCESS));
    }
    if let Some(v) = req.process_version
        && v != p.version
    {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!(
                "The deployment process '{process_id}' has changed since it was read. Refresh it and try again."
            ),
            errors: vec![format!(
                "ProcessVersion: submitted {v}, current {}.",
                p.version
            )],
        });
    }
    let wanted = |a: &octopus_client::model::Action| match (&req.action_id, &req.action_name) {
        (Some(id), _) => a.id.as_deref() == Some(id.as_str()),
        (None, Some(name)) => a.name.trim().eq_ignore_ascii_case(name.trim()),
        (None, None) => false,
    };
    if req.action_id.is_none() && req.action_name.is_none() {
        return Err(ApiError::validation(vec![
            "ActionId: The ActionId or ActionName field is required.".into(),
        ]));
    }
    let mut found = None;
    for (i, step) in p.steps.iter().enumerate() {
        for (j, a) in step.actions.iter().enumerate() {
            if wanted(a) {
                found = Some((i, j));
            }
        }
    }
    let Some((i, j)) = found else {
        let (field, value) = match (&req.action_id, &req.action_name) {
            (Some(id), _) => ("ActionId", id.as_str()),
            (None, Some(n)) => ("ActionName", n.as_str()),
            (None, None) => ("ActionId", ""),
        };
        return Err(ApiError::validation(vec![format!(
            "{field}: the process '{process_id}' has no action '{}'.",
            value.chars().take(100).collect::<String>().escape_debug()
        )]));
    };
    let field = format!("Steps[{i}].Actions[{j}]");
    let action = &mut p.steps[i].actions[j];
    let rows = catalog::step_versions(tx, &action.action_type)?;
    if rows.is_empty() {
        return Err(ApiError::validation(vec![format!(
            "{field}.ActionType: '{}' is not an installed step-package step.",
            action.action_type.escape_debug()
        )]));
    }
    let current = action
        .step_package_version
        .as_deref()
        .and_then(|v| Version::parse(v).ok())
        .ok_or_else(|| {
            ApiError::validation(vec![format!(
                "{field}.StepPackageVersion: the action has no valid StepPackageVersion."
            )])
        })?;
    let target = resolve(&rows, &req.version)
        .map_err(|why| ApiError::validation(vec![format!("Version: {why}.")]))?;
    match target.version.cmp(&current) {
        std::cmp::Ordering::Less => {
            return Err(ApiError::validation(vec![format!(
                "Version: {} is older than the action's version {current}; downgrades are not possible.",
                target.version
            )]));
        }
        std::cmp::Ordering::Equal => return Ok(p),
        std::cmp::Ordering::Greater => {}
    }
    let empty = serde_json::Value::Object(Default::default());
    let inputs = action.inputs.as_ref().unwrap_or(&empty);
    let migrated =
        migrate_inputs(tx, archives, &rows, inputs, current.major, target)?.map_err(|e| {
            ApiError::validation(vec![format!(
                "{field}.Inputs: cannot migrate the inputs: {e}"
            )])
        })?;
    if let Err(errs) = usages::validate_inputs(target, &migrated, &action.packages)? {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!(
                "The inputs migrated from {current} are not valid for {} {}: fix them in the process, then upgrade again or save the process with the new version and corrected inputs.",
                action.action_type, target.version
            ),
            errors: input_errors(&field, &errs),
        });
    }
    action.inputs = Some(migrated);
    action.step_package_version = Some(target.version.to_string());
    if req.dry_run {
        return Ok(p);
    }
    save(tx, space, p)
}

/// One link of an Octopus migration chain: the release of a major whose `migration.js`
/// converts the previous major's inputs to this one's.
#[derive(Debug, Clone)]
pub struct MigrationScript {
    /// The release providing the script (the newest installed on its major).
    pub version: Version,
    /// Its installed archive (`<data_dir>/step-packages/<file>`).
    pub archive: PathBuf,
    /// The script inside the archive (`migration.js`).
    pub script: String,
}

/// The one place an explicit upgrade migrates inputs: from major `from_major` to the major
/// of `target` (`rows`: every installed version of the step). The outer `Err` is a store
/// failure; the inner one says why the inputs cannot be migrated. Ours chains the
/// declarative migrations of `target`; Octopus's format runs, in order, the `migration.js` of
/// the newest installed release of each major after `from_major` ([`run_migration_scripts`]).
/// The result is not validated.
pub fn migrate_inputs(
    tx: &Connection,
    archives: &Path,
    rows: &[StepRow],
    inputs: &serde_json::Value,
    from_major: u64,
    target: &StepRow,
) -> ApiResult<Result<serde_json::Value, String>> {
    let to_major = target.version.major;
    if target.step.format == StepPackageFormat::Ours {
        return Ok(octopus_packaging::step_package::migrate_inputs(
            inputs,
            &target.migrations()?,
            from_major,
            to_major,
        )
        .map_err(|e| e.to_string()));
    }
    if to_major <= from_major {
        return Ok(Ok(inputs.clone()));
    }
    let mut chain = Vec::new();
    for major in from_major + 1..=to_major {
        // The target itself provides the last link, whatever newer release is installed.
        let release = if major == to_major {
            Some(target)
        } else {
            rows.iter()
                .filter(|r| r.version.major == major && !r.version.is_prerelease())
                .max_by(|a, b| a.version.cmp(&b.version))
        };
        let Some(release) = release else {
            return Ok(Err(format!(
                "no release of '{}' on major {major} is installed: its migration.js converts major {} inputs",
                target.step_id,
                major - 1
            )));
        };
        let Some(script) = release.step.migration_script.clone() else {
            return Ok(Err(format!(
                "'{}' {} has no {OCTOPUS_MIGRATION_FILE}",
                target.step_id, release.version
            )));
        };
        let archive = catalog::get_version(tx, &release.package_id, &release.version)?
            .map(|v| archives.join(v.archive_file))
            .ok_or_else(|| {
                ApiError::internal(format!(
                    "{} {} has no version row",
                    release.package_id, release.version
                ))
            })?;
        chain.push(MigrationScript {
            version: release.version.clone(),
            archive,
            script,
        });
    }
    Ok(run_migration_scripts(&chain, inputs))
}

/// Longest run time of one `migration.js`.
pub const MIGRATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs Octopus migration scripts in order, each on the previous one's output, with
/// the executor's sandboxed node runner (no `require`, `process`, files or network;
/// [`MIGRATION_TIMEOUT`] and 64 MB each). Called on the blocking pool (inside the
/// upgrade's transaction: a migration holds writes for at most its time limit).
pub fn run_migration_scripts(
    chain: &[MigrationScript],
    inputs: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let mut current = inputs.clone();
    for link in chain {
        let source = read_script(link)?;
        let run =
            octopus_executor::migrate::run_migration_source(&source, &current, MIGRATION_TIMEOUT);
        current = tokio::runtime::Handle::current()
            .block_on(run)
            .map_err(|e| format!("{} of {}: {e}", link.script, link.version))?;
    }
    Ok(current)
}

/// The text of a chain link's `migration.js`, read from its installed archive.
fn read_script(link: &MigrationScript) -> Result<String, String> {
    let name = link
        .archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = octopus_packaging::filename::PackageFileName::parse(&name)
        .map(|f| f.format)
        .map_err(|e| format!("the installed archive {name}: {e}"))?;
    let limits = octopus_packaging::archive::ArchiveLimits::default();
    let wanted = |p: &str| p == link.script;
    let (_, mut files) = octopus_packaging::archive::inspect_and_read(
        &link.archive,
        format,
        &limits,
        &wanted,
        octopus_executor::migrate::MAX_SOURCE_BYTES,
    )
    .map_err(|e| format!("reading {name}: {e}"))?;
    let bytes = files
        .remove(&link.script)
        .ok_or_else(|| format!("{name} has no {}", link.script))?;
    String::from_utf8(bytes).map_err(|_| format!("{} of {name} is not UTF-8", link.script))
}
