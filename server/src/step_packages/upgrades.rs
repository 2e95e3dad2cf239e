//! Moving usages between versions: automatic (same major, on install) and explicit
//! (any newer version, running the declarative migrations between majors).

use axum::http::StatusCode;
use octopus_client::model::step_package::{SkippedUsage, StepPackageUpgrade, StepPackageUsage};
use octopus_client::model::{DeploymentProcess, Resource};
use octopus_packaging::step_package::{is_auto_upgrade, migrate_inputs};
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
    let steps: Vec<StepRow> = catalog::steps_of(tx, package_id, version)?;
    let mut schemas = Vec::new();
    for s in &steps {
        schemas.push((s.step_id.clone(), s.schema()?));
    }
    for sp in usages::processes_with_step_packages(tx)? {
        let mut p = sp.process;
        let mut changed = false;
        let snapshot = p.clone();
        for step in &mut p.steps {
            for a in &mut step.actions {
                let Some((_, schema)) = schemas.iter().find(|(id, _)| *id == a.action_type) else {
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
                match schema.validate(&super::usages::as_schema_sees(inputs)) {
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
    space: &str,
    process_id: &str,
    req: &StepPackageUpgrade,
) -> ApiResult<DeploymentProcess> {
    let mut p: DeploymentProcess =
        documents::get(tx, DeploymentProcess::COLLECTION, space, process_id)?
            .ok_or_else(|| ApiError::not_found("DeploymentProcess", process_id))?;
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
    let migrated = migrate_inputs(
        inputs,
        &target.migrations()?,
        current.major,
        target.version.major,
    )
    .map_err(|e| {
        ApiError::validation(vec![format!(
            "{field}.Inputs: cannot migrate the inputs: {e}"
        )])
    })?;
    if let Err(errs) = target
        .schema()?
        .validate(&super::usages::as_schema_sees(&migrated))
    {
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
