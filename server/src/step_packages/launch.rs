//! Launching a step-package step: the installed version the action uses is
//! unpacked into the action's working directory and its step's launcher and
//! entrypoint read from the archive's own manifest and metadata (ours), or taken from
//! Octopus's flat layout (the root holds `metadata.json` and `executor.js`, run by node).

use std::path::Path;

use octopus_client::model::Action;
use octopus_client::model::step_package::StepPackageFormat;
use octopus_executor::{StepContract, StepPackageLaunch};
use octopus_packaging::filename::PackageFileName;
use octopus_packaging::step_package::{OCTOPUS_EXECUTOR_FILE, OCTOPUS_METADATA_FILE};
use octopus_packaging::version::Version;

use super::catalog;
use crate::api::AppState;

/// Directory below the work dir that holds the unpacked step package.
const UNPACKED: &str = ".step-package";

/// Prepares the launch of a step-package action: finds the installed version the
/// action uses and unpacks its archive below `work_dir`.
pub async fn prepare(
    state: &AppState,
    step_id: &str,
    action: &Action,
    work_dir: &Path,
) -> Result<StepPackageLaunch, String> {
    let wanted = action.step_package_version.clone().unwrap_or_default();
    let version = Version::parse(&wanted)
        .map_err(|e| format!("The action's StepPackageVersion '{wanted}' is not a version: {e}"))?;
    let sid = step_id.to_owned();
    let v = version.clone();
    let found = state
        .store
        .read(move |c| {
            let owner = catalog::step_owner(c, &sid)?;
            let Some(owner) = owner else { return Ok(None) };
            catalog::get_version(c, &owner, &v)
        })
        .await
        .map_err(|e| e.message)?;
    let row = found.ok_or_else(|| {
        format!("The step package providing '{step_id}' version {wanted} is not installed on this server.")
    })?;
    let archive = state.step_packages.dir.join(&row.archive_file);
    let format = PackageFileName::parse(&row.archive_file)
        .map(|f| f.format)
        .map_err(|e| {
            format!(
                "The installed archive {} has an unexpected name: {e}",
                row.archive_file
            )
        })?;
    let dest = work_dir.join(UNPACKED);
    let limits = state.step_packages.limits.clone();
    let step = step_id.to_owned();
    let octopus = row.format == StepPackageFormat::Octopus;
    tokio::task::spawn_blocking(move || -> Result<StepPackageLaunch, String> {
        std::fs::create_dir_all(&dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
        octopus_packaging::archive::extract(&archive, format, &dest, &limits)
            .map_err(|e| format!("The step package could not be unpacked: {e}"))?;
        if octopus {
            // One step per archive: the root is the step directory.
            let meta: serde_json::Value = read_json(&dest.join(OCTOPUS_METADATA_FILE))?;
            if meta["id"].as_str() != Some(step.as_str()) {
                return Err(format!("The installed step package has no step '{step}'."));
            }
            return Ok(StepPackageLaunch {
                contract: StepContract::Octopus,
                step_dir: dest,
                launcher: "node".into(),
                entrypoint: OCTOPUS_EXECUTOR_FILE.into(),
                inputs: serde_json::Value::Null,
            });
        }
        let manifest: serde_json::Value =
            read_json(&dest.join(octopus_packaging::step_package::MANIFEST_FILE))?;
        let dirs = manifest["steps"].as_array().cloned().unwrap_or_default();
        for dir in dirs.iter().filter_map(|d| d.as_str()) {
            let step_dir = dest.join(dir);
            let meta: serde_json::Value =
                read_json(&step_dir.join(octopus_packaging::step_package::METADATA_FILE))?;
            if meta["id"].as_str() == Some(step.as_str()) {
                return Ok(StepPackageLaunch {
                    contract: StepContract::Ours,
                    step_dir,
                    launcher: meta["launcher"]["kind"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    entrypoint: meta["launcher"]["entrypoint"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    inputs: serde_json::Value::Null,
                });
            }
        }
        Err(format!("The installed step package has no step '{step}'."))
    })
    .await
    .map_err(|e| e.to_string())?
    .map(|mut launch| {
        launch.inputs = action
            .inputs
            .clone()
            .unwrap_or(serde_json::Value::Object(Default::default()));
        launch
    })
}

/// A JSON file of the unpacked archive, at most as large as the installer allows.
fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("reading {}: {e}", path.display()))?
        .len();
    if size > octopus_packaging::step_package::MAX_JSON_FILE {
        return Err(format!(
            "{} is larger than the step-package limit",
            path.display()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// Replaces each sensitive input (`{HasValue, NewValue}`) by its plain value, as
/// step executors receive them, and collects those values for masking.
pub fn resolve_sensitive_inputs(v: &mut serde_json::Value, secrets: &mut Vec<String>) {
    if super::usages::is_sensitive_input(v) {
        let plain = v
            .get("NewValue")
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_owned();
        if !plain.is_empty() {
            secrets.push(plain.clone());
        }
        *v = serde_json::Value::String(plain);
        return;
    }
    match v {
        serde_json::Value::Object(m) => m
            .values_mut()
            .for_each(|x| resolve_sensitive_inputs(x, secrets)),
        serde_json::Value::Array(a) => a
            .iter_mut()
            .for_each(|x| resolve_sensitive_inputs(x, secrets)),
        _ => {}
    }
}
