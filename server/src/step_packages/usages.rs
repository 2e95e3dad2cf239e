//! Usages of step-package steps by deployment processes, derived from the process
//! documents themselves (so they are always consistent with them), and validation of
//! step-package actions on process writes.

use std::collections::BTreeMap;

use octopus_client::model::deployment_process::PackageReference;
use octopus_client::model::step_package::{StepPackageFormat, StepPackageUsage};
use octopus_client::model::{Action, DeploymentProcess, Resource};
use octopus_packaging::schema::{InputSchema, Marker, ValidationError};
use octopus_packaging::version::Version;
use rusqlite::Connection;

use super::catalog::{self, StepRow};
use crate::error::ApiResult;

/// A stored process with its storage key.
pub struct StoredProcess {
    /// Space of the process.
    pub space: String,
    /// The process.
    pub process: DeploymentProcess,
}

/// Every process (all spaces) that may contain step-package actions.
pub fn processes_with_step_packages(conn: &Connection) -> ApiResult<Vec<StoredProcess>> {
    let mut stmt = conn.prepare_cached(
        "SELECT space_id, id, body FROM documents WHERE kind = ?1
         AND instr(body, '\"StepPackageVersion\"') > 0 ORDER BY rowid",
    )?;
    let mut rows = stmt.query([DeploymentProcess::COLLECTION])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let space: String = r.get(0)?;
        let id: String = r.get(1)?;
        let body: String = r.get(2)?;
        // Through the store's decoding: sensitive values are encrypted at rest.
        let process: DeploymentProcess =
            crate::store::documents::decode(DeploymentProcess::COLLECTION, &id, &body)?;
        out.push(StoredProcess { space, process });
    }
    Ok(out)
}

/// The usage described by one action of a process.
pub fn usage_of(
    space: &str,
    p: &DeploymentProcess,
    step_name: &str,
    a: &Action,
    package_id: &str,
) -> StepPackageUsage {
    StepPackageUsage {
        space_id: space.to_owned(),
        project_id: p.project_id.clone(),
        deployment_process_id: p.id.clone().unwrap_or_default(),
        step_name: step_name.to_owned(),
        action_id: a.id.clone().unwrap_or_default(),
        action_name: a.name.clone(),
        step_package_id: package_id.to_owned(),
        step_id: a.action_type.clone(),
        version: a.step_package_version.clone().unwrap_or_default(),
        pending_version: None,
        newer_major_version: None,
    }
}

/// Which usages to list.
#[derive(Debug, Default, Clone)]
pub struct UsageFilter {
    /// Only this step ID.
    pub step_id: Option<String>,
    /// Only this package (case-insensitive).
    pub package_id: Option<String>,
    /// Only usages on this exact version (normalised).
    pub version: Option<Version>,
    /// Only this space.
    pub space_id: Option<String>,
}

/// Lists usages, with the pending same-major and newer-major versions of each.
pub fn list(conn: &Connection, filter: &UsageFilter) -> ApiResult<Vec<StepPackageUsage>> {
    let owners = catalog::all_step_ids(conn)?;
    let mut versions: BTreeMap<String, Vec<StepRow>> = BTreeMap::new();
    let mut out = Vec::new();
    for sp in processes_with_step_packages(conn)? {
        if filter.space_id.as_ref().is_some_and(|s| *s != sp.space) {
            continue;
        }
        for step in &sp.process.steps {
            for a in &step.actions {
                let Some(pkg) = owners.get(&a.action_type) else {
                    continue;
                };
                if filter.step_id.as_ref().is_some_and(|s| *s != a.action_type)
                    || filter
                        .package_id
                        .as_ref()
                        .is_some_and(|p| !p.eq_ignore_ascii_case(pkg))
                {
                    continue;
                }
                let current = a
                    .step_package_version
                    .as_deref()
                    .and_then(|v| Version::parse(v).ok());
                if let Some(want) = &filter.version
                    && current.as_ref() != Some(want)
                {
                    continue;
                }
                let mut u = usage_of(&sp.space, &sp.process, &step.name, a, pkg);
                if let Some(cur) = &current {
                    if !versions.contains_key(&a.action_type) {
                        let rows = catalog::step_versions(conn, &a.action_type)?;
                        versions.insert(a.action_type.clone(), rows);
                    }
                    let rows = &versions[&a.action_type];
                    let releases = rows
                        .iter()
                        .map(|r| &r.version)
                        .filter(|v| !v.is_prerelease());
                    u.pending_version = releases
                        .clone()
                        .filter(|v| v.major == cur.major && *v > cur)
                        .max()
                        .map(ToString::to_string);
                    u.newer_major_version = releases
                        .filter(|v| v.major > cur.major)
                        .max()
                        .map(ToString::to_string);
                }
                out.push(u);
            }
        }
    }
    Ok(out)
}

/// Resolves a requested version of a step: an installed version (`1.2.0`, `1.2`), or a
/// major (`1`, `1.x`, `1.*`) meaning the newest installed release on that major.
pub fn resolve<'a>(rows: &'a [StepRow], text: &str) -> Result<&'a StepRow, String> {
    let text = text.trim();
    let installed = || {
        rows.iter()
            .map(|r| r.version.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let major = text
        .strip_suffix(".x")
        .or_else(|| text.strip_suffix(".X"))
        .or_else(|| text.strip_suffix(".*"))
        .unwrap_or(text);
    if !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) {
        let m: u64 = major
            .parse()
            .map_err(|_| format!("'{major}' is not a valid major version"))?;
        return rows
            .iter()
            .filter(|r| r.version.major == m && !r.version.is_prerelease())
            .max_by(|a, b| a.version.cmp(&b.version))
            .ok_or_else(|| {
                format!(
                    "no release on major {m} is installed (installed: {})",
                    installed()
                )
            });
    }
    let v = Version::parse(text).map_err(|e| {
        format!(
            "'{}' is not a version: {e}",
            text.chars().take(60).collect::<String>().escape_debug()
        )
    })?;
    rows.iter()
        .find(|r| r.version == v)
        .ok_or_else(|| format!("version {v} is not installed (installed: {})", installed()))
}

/// Prefixes validation errors with the action's field path:
/// `Steps[0].Actions[0].Inputs/database/port: expected integer, got string`.
pub fn input_errors(
    field: &str,
    errors: &[octopus_packaging::schema::ValidationError],
) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{field}.Inputs{e}"))
        .collect()
}

/// Validates a step-package action of a process write (`field` is `Steps[i].Actions[j]`).
/// Returns `false` when the `ActionType` is not an installed step ID (the caller handles
/// built-in types). Resolves `StepPackageVersion` (a major such as `1` or `1.x` becomes the
/// newest installed release on it) and validates `Inputs` (absent means `{}`).
pub fn check_action(
    tx: &Connection,
    field: &str,
    action: &mut Action,
    errors: &mut Vec<String>,
) -> ApiResult<bool> {
    let rows = catalog::step_versions(tx, &action.action_type)?;
    if rows.is_empty() {
        return Ok(false);
    }
    let installed = rows
        .iter()
        .map(|r| r.version.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let Some(requested) = action
        .step_package_version
        .as_deref()
        .filter(|v| !v.trim().is_empty())
    else {
        errors.push(format!(
            "{field}.StepPackageVersion: The StepPackageVersion field is required for step '{}' (installed: {installed}).",
            action.action_type
        ));
        return Ok(true);
    };
    let row = match resolve(&rows, requested) {
        Ok(r) => r,
        Err(why) => {
            errors.push(format!(
                "{field}.StepPackageVersion: step '{}': {why}.",
                action.action_type
            ));
            return Ok(true);
        }
    };
    action.step_package_version = Some(row.version.to_string());
    let inputs = match action.inputs.take() {
        None | Some(serde_json::Value::Null) => serde_json::Value::Object(Default::default()),
        Some(v) => v,
    };
    if let Err(errs) = validate_inputs(row, &inputs, &action.packages)? {
        errors.extend(input_errors(field, &errs));
    }
    action.inputs = Some(inputs);
    Ok(true)
}

/// Validates a usage's stored `Inputs` against one version of its step. Ours: the schema
/// sees each sensitive value as the text it stands for. Octopus's format: the stored form
/// is validated (its schema marks sensitive values and references), and each package
/// reference input needs the action's `Packages[]` entry whose
/// `StepPackageInputsReferenceId` is its `referenceId`, with the same package and feed.
pub fn validate_inputs(
    row: &StepRow,
    inputs: &serde_json::Value,
    packages: &[PackageReference],
) -> ApiResult<Result<(), Vec<ValidationError>>> {
    Ok(check_inputs(
        &row.schema()?,
        row.step.format,
        inputs,
        packages,
    ))
}

/// [`validate_inputs`] with the step's schema already compiled, for checking many
/// actions against one step.
pub fn check_inputs(
    schema: &InputSchema,
    format: StepPackageFormat,
    inputs: &serde_json::Value,
    packages: &[PackageReference],
) -> Result<(), Vec<ValidationError>> {
    if format == StepPackageFormat::Ours {
        return schema.validate(&as_schema_sees(inputs));
    }
    let mut errors = schema.validate(inputs).err().unwrap_or_default();
    if errors.is_empty() {
        errors.extend(package_reference_errors(schema, inputs, packages));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Package reference inputs without their matching `Packages[]` entry.
fn package_reference_errors(
    schema: &InputSchema,
    inputs: &serde_json::Value,
    packages: &[PackageReference],
) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    for m in schema.marked_inputs(inputs) {
        if m.marker != Marker::PackageReference {
            continue;
        }
        let text = |k: &str| m.value.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let (reference, package, feed) = (text("referenceId"), text("packageId"), text("feedId"));
        let entry = packages
            .iter()
            .find(|p| p.step_package_inputs_reference_id.as_deref() == Some(reference));
        let message = match entry {
            None => format!(
                "package reference '{reference}' has no entry in the action's Packages with StepPackageInputsReferenceId '{reference}'"
            ),
            Some(p) if !p.package_id.eq_ignore_ascii_case(package) => format!(
                "package reference '{reference}' names package '{package}' but its Packages entry has '{}'",
                p.package_id
            ),
            Some(p) if p.feed_id != feed => format!(
                "package reference '{reference}' names feed '{feed}' but its Packages entry has '{}'",
                p.feed_id
            ),
            Some(_) => continue,
        };
        errors.push(ValidationError {
            path: m.path,
            message,
        });
    }
    errors
}

/// Whether an input value is a sensitive value (`{"HasValue": …, "NewValue": …}`).
pub fn is_sensitive_input(v: &serde_json::Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.contains_key("HasValue")
            && o.keys()
                .all(|k| matches!(k.as_str(), "HasValue" | "NewValue" | "Hint"))
    })
}

/// Inputs as a step's schema sees them: each sensitive value is the text it stands
/// for (a placeholder when only `HasValue` is sent, which keeps the stored secret).
pub fn as_schema_sees(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        s if is_sensitive_input(s) => match s.get("NewValue") {
            Some(J::String(text)) => J::String(text.clone()),
            _ => J::String("********".into()),
        },
        J::Object(m) => J::Object(
            m.iter()
                .map(|(k, e)| (k.clone(), as_schema_sees(e)))
                .collect(),
        ),
        J::Array(items) => J::Array(items.iter().map(as_schema_sees).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(versions: &[&str]) -> Vec<StepRow> {
        versions
            .iter()
            .map(|v| StepRow {
                step_id: "s".into(),
                package_id: "p".into(),
                version: Version::parse(v).unwrap(),
                step: Default::default(),
            })
            .collect()
    }

    #[test]
    fn versions_resolve_exactly_or_by_major() {
        let r = rows(&["1.0.0", "1.2.0", "1.3.0-beta", "2.0.0"]);
        let got = |t: &str| resolve(&r, t).map(|x| x.version.to_string());
        assert_eq!(got("1.2").unwrap(), "1.2.0");
        assert_eq!(got("1.3.0-beta").unwrap(), "1.3.0-beta");
        for major in ["1", "1.x", "1.X", "1.*", " 1 "] {
            assert_eq!(got(major).unwrap(), "1.2.0", "{major}");
        }
        assert_eq!(got("2").unwrap(), "2.0.0");
        assert!(got("3").unwrap_err().contains("no release on major 3"));
        assert!(got("1.1.0").unwrap_err().contains("not installed"));
        assert!(got("v1").unwrap_err().contains("is not a version"));
        assert!(got("").is_err());
    }
}
