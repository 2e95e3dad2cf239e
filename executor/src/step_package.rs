//! Step-package steps (docs/step-packages.md §5.5): write `<work_dir>/invocation.json`, then
//! run the step's entrypoint through its launcher; Octopus-format steps run `executor.js`
//! through our node bootstrapper (`octopus_bootstrap.js`), which reads the same file.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use octostache::Variables;
use serde_json::{Map, Value, json};

use crate::bootstrap::{self, write_private};
use crate::package::{self, safe_component};
use crate::process::Session;
use crate::script::{End, process_end, safe_relative};
use crate::{ActionRun, StepContract, StepPackageLaunch};

/// Version of the invocation file's layout.
pub const INVOCATION_FORMAT_VERSION: u32 = 1;

/// Where a referenced package went.
struct Staged {
    extracted: Option<String>,
    file: Option<String>,
    package_id: String,
    version: String,
}

/// Runs a step-package action.
pub(crate) async fn run(
    run: &ActionRun,
    launch: &StepPackageLaunch,
    session: &mut Session<'_>,
) -> End {
    let (program, mut args) = match launch.contract {
        StepContract::Ours => match our_launcher(launch, session) {
            Ok(p) => p,
            Err(e) => return End::failed(e),
        },
        StepContract::Octopus => match octopus_launcher(run, launch, session) {
            Ok(p) => p,
            Err(e) => return End::failed(e),
        },
    };

    // Referenced packages, by the referenceId the inputs use.
    let mut staged: HashMap<String, Staged> = HashMap::new();
    for pkg in &run.packages {
        let Some(id) = &pkg.step_package_reference_id else {
            continue;
        };
        let label = if pkg.reference_name.is_empty() {
            id.as_str()
        } else {
            pkg.reference_name.as_str()
        };
        let name = safe_component(label);
        let mut s = Staged {
            extracted: None,
            file: None,
            package_id: pkg.package_id.clone(),
            version: pkg.version.clone(),
        };
        match package::stage(run, session, pkg, &name).await {
            Ok(package::Placed::Extracted(dir)) => {
                s.extracted = Some(dir.to_string_lossy().into_owned())
            }
            Ok(package::Placed::Copied { path, .. }) => {
                s.file = Some(path.to_string_lossy().into_owned())
            }
            Err(e) => return End::failed(e),
        }
        staged.insert(id.clone(), s);
    }

    let inputs = resolve_inputs(&launch.inputs, &run.variables, &staged);
    let invocation = json!({
        "formatVersion": INVOCATION_FORMAT_VERSION,
        "stepId": run.action_type,
        "stepPackageVersion": run.variables.get("Octopus.Action.StepPackageVersion"),
        "inputs": inputs,
        "context": context(run, session),
    });
    let path = run.work_dir.join("invocation.json");
    let bytes = serde_json::to_vec_pretty(&invocation).expect("JSON values serialize");
    if let Err(e) = write_private(&path, &bytes, run.run_as) {
        return End::failed(format!("Could not write the invocation file: {e}"));
    }
    if launch.contract == StepContract::Octopus {
        let boot = run.work_dir.join(BOOTSTRAP_FILE);
        if let Err(e) = write_private(&boot, OCTOPUS_BOOTSTRAP.as_bytes(), run.run_as) {
            let _ = std::fs::remove_file(&path);
            return End::failed(format!("Could not write the node bootstrapper: {e}"));
        }
    }
    if let Err(e) = bootstrap::chown_tree(&run.work_dir, run.run_as) {
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(run.work_dir.join(BOOTSTRAP_FILE));
        return End::failed(format!(
            "Could not give the work dir to the step's user: {e}"
        ));
    }
    args.push(path.clone().into_os_string());
    let end = session.run(&program, &args, &run.work_dir).await;
    let _ = std::fs::remove_file(&path);
    if launch.contract == StepContract::Octopus {
        let _ = std::fs::remove_file(run.work_dir.join(BOOTSTRAP_FILE));
    }
    process_end(session, end, |code| {
        format!(
            "The step `{}` failed with exit code {code}",
            run.action_type
        )
    })
}

/// Program and arguments (without the invocation file) for a step of our own format.
fn our_launcher(
    launch: &StepPackageLaunch,
    session: &Session<'_>,
) -> Result<(PathBuf, Vec<OsString>), String> {
    let entry = resolve_entrypoint(&launch.step_dir, &launch.entrypoint)?;
    Ok(match launch.launcher.as_str() {
        "node" => match session.find_program("node") {
            Some(p) => (p, vec![entry.into_os_string()]),
            None => {
                return Err("This step needs Node.js: install `node` on the worker's PATH".into());
            }
        },
        "python" => match session.find_program("python3") {
            Some(p) => (p, vec!["-u".into(), entry.into_os_string()]),
            None => {
                return Err(
                    "This step needs Python 3: install `python3` on the worker's PATH".into(),
                );
            }
        },
        "shell" => match session.find_program("sh") {
            Some(p) => (p, vec![entry.into_os_string()]),
            None => return Err("This step needs a shell: install `sh` on the worker's PATH".into()),
        },
        "executable" => (entry, Vec::new()),
        other => {
            return Err(format!(
                "Unknown step-package launcher `{other}` (node, python, shell or executable)"
            ));
        }
    })
}

/// Our node bootstrapper for Octopus-format steps (see the file's header).
const OCTOPUS_BOOTSTRAP: &str = include_str!("octopus_bootstrap.js");
/// Where the bootstrapper is written in the work dir (removed after the run).
const BOOTSTRAP_FILE: &str = ".octopus-node-bootstrap.js";
/// The message when `node` is missing for an Octopus-format step.
pub(crate) const NODE_MISSING: &str = "node (Node.js 18 or later) is not on PATH; install it (https://nodejs.org or the distribution's `nodejs` package) to run Octopus-format step packages";

/// `node <bootstrapper> <step dir>` for an Octopus-format step (the bootstrapper lives in
/// the work dir).
fn octopus_launcher(
    run: &ActionRun,
    launch: &StepPackageLaunch,
    session: &Session<'_>,
) -> Result<(PathBuf, Vec<OsString>), String> {
    if launch.launcher != "node" && !launch.launcher.is_empty() {
        return Err(format!(
            "Octopus-format step packages run with node; the launcher `{}` is not supported",
            launch.launcher
        ));
    }
    let entrypoint = match launch.entrypoint.trim().trim_start_matches("./") {
        "" => "executor.js",
        e => e,
    };
    if entrypoint != "executor.js" {
        return Err(format!(
            "Octopus-format step packages run `executor.js`; the entrypoint `{entrypoint}` is not supported"
        ));
    }
    let entry = resolve_entrypoint(&launch.step_dir, entrypoint)?;
    let step_dir = entry
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| launch.step_dir.clone());
    let node = session
        .find_program("node")
        .ok_or_else(|| NODE_MISSING.to_string())?;
    // Written just before the run (see `run`).
    let boot = run.work_dir.join(BOOTSTRAP_FILE);
    Ok((node, vec![boot.into_os_string(), step_dir.into_os_string()]))
}

/// The entrypoint inside `step_dir`; paths that leave it are refused.
fn resolve_entrypoint(step_dir: &Path, entrypoint: &str) -> Result<PathBuf, String> {
    let rel = safe_relative(entrypoint).ok_or_else(|| {
        format!(
            "The step's entrypoint `{entrypoint}` must be a relative path inside the step directory"
        )
    })?;
    let root = step_dir.canonicalize().map_err(|e| {
        format!(
            "The step directory `{}` is missing: {e}",
            step_dir.display()
        )
    })?;
    let full = root
        .join(rel)
        .canonicalize()
        .map_err(|e| format!("The step's entrypoint `{entrypoint}` is missing: {e}"))?;
    if !full.starts_with(&root) {
        return Err(format!(
            "The step's entrypoint `{entrypoint}` leads outside the step directory"
        ));
    }
    if !full.is_file() {
        return Err(format!(
            "The step's entrypoint `{entrypoint}` is not a file"
        ));
    }
    Ok(full)
}

/// Inputs with `#{...}` evaluated in every string, and package references resolved.
fn resolve_inputs(value: &Value, vars: &Variables, staged: &HashMap<String, Staged>) -> Value {
    match value {
        Value::String(s) => Value::String(octostache::evaluate(s, vars)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve_inputs(v, vars, staged))
                .collect(),
        ),
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), resolve_inputs(v, vars, staged)))
                .collect();
            let reference = map
                .get("referenceId")
                .and_then(Value::as_str)
                .and_then(|id| staged.get(id));
            if let Some(s) = reference {
                if let Some(p) = &s.extracted {
                    out.insert("extractedToPath".into(), Value::String(p.clone()));
                }
                if let Some(p) = &s.file {
                    out.insert("packageFilePath".into(), Value::String(p.clone()));
                }
                out.entry("packageId")
                    .or_insert_with(|| Value::String(s.package_id.clone()));
                out.insert("version".into(), Value::String(s.version.clone()));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Where and for what the step runs, plus the non-sensitive variables.
fn context(run: &ActionRun, session: &Session<'_>) -> Value {
    let var = |name: &str| -> Value {
        run.variables
            .get(name)
            .map(|v| Value::String(v.to_owned()))
            .unwrap_or(Value::Null)
    };
    let environment = if run.environment_name.is_empty() {
        var("Octopus.Environment.Name")
    } else {
        Value::String(run.environment_name.clone())
    };
    let mut variables = Map::new();
    for (name, raw) in run.variables.iter() {
        let value = run.variables.eval(name).unwrap_or_default();
        // A value holding a secret (raw or evaluated) stays out: only inputs carry secrets.
        if session.masker.mask(raw) != raw || session.masker.mask(&value) != value {
            continue;
        }
        variables.insert(name.to_owned(), Value::String(value));
    }
    json!({
        "workDirectory": run.work_dir.to_string_lossy(),
        "actionName": var("Octopus.Action.Name"),
        "stepName": var("Octopus.Step.Name"),
        "environmentName": environment,
        "environmentId": var("Octopus.Environment.Id"),
        "projectName": var("Octopus.Project.Name"),
        "releaseNumber": var("Octopus.Release.Number"),
        "deploymentId": var("Octopus.Deployment.Id"),
        "taskId": var("Octopus.Task.Id"),
        "spaceId": var("Octopus.Space.Id"),
        "variables": variables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_resolve_references_recursively() {
        let mut staged = HashMap::new();
        staged.insert(
            "ref-1".to_string(),
            Staged {
                extracted: Some("/w/pkg".into()),
                file: None,
                package_id: "acme".into(),
                version: "1.2.3".into(),
            },
        );
        let inputs = json!({
            "n": 5,
            "list": [{"referenceId": "ref-1"}, {"referenceId": "other"}],
            "flag": true,
        });
        let out = resolve_inputs(&inputs, &Variables::new(), &staged);
        assert_eq!(out["list"][0]["extractedToPath"], "/w/pkg");
        assert_eq!(out["list"][0]["packageId"], "acme");
        assert_eq!(out["list"][1].get("extractedToPath"), None);
        assert_eq!(out["n"], 5);
        assert_eq!(out["flag"], true);
    }

    #[test]
    fn entrypoints_stay_inside() {
        let dir = std::env::temp_dir().join(format!("octopus-executor-ep-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("step")).unwrap();
        std::fs::write(dir.join("step/run.sh"), "").unwrap();
        std::fs::write(dir.join("outside.sh"), "").unwrap();
        assert!(resolve_entrypoint(&dir.join("step"), "run.sh").is_ok());
        assert!(resolve_entrypoint(&dir.join("step"), "../outside.sh").is_err());
        assert!(resolve_entrypoint(&dir.join("step"), "/etc/passwd").is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.join("outside.sh"), dir.join("step/link.sh")).unwrap();
            let e = resolve_entrypoint(&dir.join("step"), "link.sh").unwrap_err();
            assert!(e.contains("outside"), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
