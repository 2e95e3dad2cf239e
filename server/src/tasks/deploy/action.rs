//! One action of a run: its variables, packages, runner and outputs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use octopus_client::model::{Action, PropertyValue, Step, VariableSet};
use octopus_executor::{ActionKind, ActionRun, Outcome, StagedPackage};
use octostache::Variables;
use tokio::sync::watch;

use crate::api::AppState;
use crate::tasks::variables::{ScopeContext, resolve};

use super::{NodeSink, OUTPUT_LINE, Plan, Shared};
use octopus_client::model::feed::BUILT_IN_FEED_ID as BUILTIN_FEED;

pub(super) fn text_of(p: &PropertyValue) -> (String, bool) {
    match p {
        PropertyValue::Text(t) => (t.clone(), false),
        PropertyValue::Sensitive(s) => (s.new_value.clone().unwrap_or_default(), true),
    }
}

/// An action of a step and where it runs.
pub(super) struct ActionAt<'a> {
    pub(super) step: &'a Step,
    pub(super) action: &'a Action,
    pub(super) step_index: usize,
    pub(super) action_index: usize,
    /// Scoping of the action's variables.
    pub(super) scope: &'a ScopeContext,
    /// The step's target roles.
    pub(super) roles: &'a [String],
    /// The action's own working directory.
    pub(super) work_dir: PathBuf,
    /// Its node in the task log.
    pub(super) node: &'a str,
}

/// Runs one action: its variables, packages and runner, then records its outputs.
pub(super) async fn run_one(
    state: &AppState,
    plan: &Plan,
    system: &Variables,
    shared: &Arc<Shared>,
    at: ActionAt<'_>,
    cancel: watch::Receiver<bool>,
) -> Outcome {
    let ActionAt {
        step,
        action,
        step_index,
        action_index,
        scope: ctx,
        roles,
        work_dir,
        node,
    } = at;
    let mut vars = system.clone();
    let sets: Vec<&VariableSet> = plan.variables.iter().collect();
    let mut secrets = resolve(&sets, ctx, &mut vars);
    for (k, v) in shared
        .outputs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        vars.set(k, v);
    }
    vars.set("Octopus.Step.Name", &step.name);
    vars.set("Octopus.Step.Id", step.id.as_deref().unwrap_or_default());
    vars.set("Octopus.Step.Number", (step_index + 1).to_string());
    vars.set("Octopus.Action.Name", &action.name);
    vars.set(
        "Octopus.Action.Id",
        action.id.as_deref().unwrap_or_default(),
    );
    vars.set(
        "Octopus.Action.Number",
        format!("{}.{}", step_index + 1, action_index + 1),
    );
    vars.set("Octopus.Action.TargetRoles", roles.join(","));
    let mut properties = BTreeMap::new();
    for (k, v) in step.properties.iter().chain(action.properties.iter()) {
        let (text, sensitive) = text_of(v);
        if sensitive && !text.is_empty() {
            secrets.push(text.clone());
        }
        vars.set(k, &text);
        properties.insert(k.clone(), text);
    }
    // Packages: the release's versions, files from the built-in feed.
    let mut packages = Vec::new();
    for p in &action.packages {
        let version = plan
            .release
            .selected_packages
            .iter()
            .find(|s| s.action_name == action.name && s.package_reference_name == p.name)
            .map(|s| s.version.clone());
        let Some(version) = version else {
            return Outcome::Failed(format!(
                "The release does not select a version of package '{}' for this action.",
                p.package_id
            ));
        };
        if p.feed_id != BUILTIN_FEED {
            return Outcome::Failed(format!(
                "Package '{}' comes from feed '{}'; octopus-lite acquires packages from its built-in feed only.",
                p.package_id, p.feed_id
            ));
        }
        let space = plan.space.id.clone().unwrap_or_default();
        let (pid, ver) = (p.package_id.clone(), version.clone());
        let row = state
            .store
            .read(move |c| crate::packages::db::get_version(c, &space, &pid, &ver))
            .await;
        let row = match row {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Outcome::Failed(format!(
                    "Package '{}' version {version} is not in the built-in feed.",
                    p.package_id
                ));
            }
            Err(e) => return Outcome::Failed(e.message),
        };
        let file = crate::packages::space_dir(
            &state.data_dir,
            plan.space.id.as_deref().unwrap_or_default(),
        )
        .join(&row.file_name);
        let r = if p.name.is_empty() {
            String::new()
        } else {
            format!("[{}]", p.name)
        };
        vars.set(
            format!("Octopus.Action.Package{r}.PackageId"),
            &p.package_id,
        );
        vars.set(
            format!("Octopus.Action.Package{r}.PackageVersion"),
            &version,
        );
        vars.set(format!("Octopus.Action.Package{r}.FeedId"), &p.feed_id);
        shared.line(
            node,
            "Verbose",
            &format!(
                "Acquired package {} {version} from the built-in feed.",
                p.package_id
            ),
        );
        packages.push(StagedPackage {
            reference_name: p.name.clone(),
            package_id: p.package_id.clone(),
            version,
            feed_id: p.feed_id.clone(),
            file,
            extract: p
                .properties
                .get("Extract")
                .is_none_or(|e| !e.eq_ignore_ascii_case("false")),
            step_package_reference_id: p.step_package_inputs_reference_id.clone(),
        });
    }
    let kind = match action.action_type.as_str() {
        "Octopus.Script" => ActionKind::Script,
        "Octopus.TentaclePackage" => ActionKind::Package,
        other if action.step_package_version.is_some() => {
            match crate::step_packages::launch::prepare(state, other, action, &work_dir).await {
                Ok(mut launch) => {
                    crate::step_packages::launch::resolve_sensitive_inputs(
                        &mut launch.inputs,
                        &mut secrets,
                    );
                    ActionKind::StepPackage(launch)
                }
                Err(msg) => return Outcome::Failed(msg),
            }
        }
        other => {
            return Outcome::Failed(format!(
                "Actions of type '{other}' cannot run on octopus-lite's built-in worker."
            ));
        }
    };
    {
        let mut masks = shared.masks.lock().unwrap_or_else(|e| e.into_inner());
        secrets.iter().for_each(|s| masks.add(s));
    }
    if let Err(e) = create_work_dir(&work_dir, state.run_steps_as.is_some()) {
        return Outcome::Failed(format!("The working directory could not be created: {e}"));
    }
    // The work root (`work/<TaskId>`) records process groups for crash recovery.
    let on_spawn = work_dir.parent().map(crate::tasks::orphans::hook);
    let run = ActionRun {
        action_type: action.action_type.clone(),
        kind,
        properties,
        variables: vars,
        sensitive_values: shared
            .masks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .to_vec(),
        packages,
        work_dir,
        applications_dir: state.data_dir.join("Applications"),
        environment_name: plan.environment.name.clone(),
        timeout: state.step_timeout,
        run_as: state.run_steps_as,
        on_spawn,
        ..Default::default()
    };
    let mut sink = NodeSink {
        shared: shared.clone(),
        node: node.to_owned(),
    };
    let result = octopus_executor::run_action(run, &mut sink, cancel).await;
    collect_artifacts(state, plan, &result.artifacts, shared, node);
    let mut outputs = shared.outputs.lock().unwrap_or_else(|e| e.into_inner());
    let mut masks = shared.masks.lock().unwrap_or_else(|e| e.into_inner());
    for o in &result.output_variables {
        if o.sensitive {
            masks.add(&o.value);
        }
        let name = format!("Octopus.Action[{}].Output.{}", action.name, o.name);
        // One verbose line per output variable (masked like every line), so logs show
        // what later steps see; the acceptance harness reads outputs from these lines.
        let shown = masks.mask(&o.value);
        shared.log.lock().unwrap_or_else(|e| e.into_inner()).line(
            node,
            "Verbose",
            &format!("{OUTPUT_LINE}{name} = {shown}"),
        );
        outputs.set(name, &o.value);
    }
    result.outcome
}

/// Copies an action's artifacts to `artifacts/<TaskId>/` in the data directory (the
/// working directory goes when the task ends) and lists them in the log.
fn collect_artifacts(
    state: &AppState,
    plan: &Plan,
    artifacts: &[octopus_executor::Artifact],
    shared: &Shared,
    node: &str,
) {
    if artifacts.is_empty() {
        return;
    }
    let task = plan.deployment.task_id.clone().unwrap_or_default();
    let dir = state.data_dir.join("artifacts").join(&task);
    for a in artifacts {
        let name: String = a
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let copied =
            std::fs::create_dir_all(&dir).and_then(|_| std::fs::copy(&a.path, dir.join(&name)));
        match copied {
            Ok(n) => shared.line(
                node,
                "Info",
                &format!("Artifact {} collected ({n} bytes).", a.name),
            ),
            Err(e) => shared.line(
                node,
                "Warning",
                &format!("Artifact {} could not be collected: {e}", a.name),
            ),
        }
    }
}

/// Creates an action's working directory; when steps run as another user, the task's
/// directory above it is traversable (0711) whatever the umask (the executor hands
/// the action's own directory to that user).
fn create_work_dir(dir: &std::path::Path, other_user: bool) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    if other_user && let Some(task_dir) = dir.parent() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(task_dir, std::fs::Permissions::from_mode(0o711))?;
    }
    Ok(())
}
