//! What a `Deploy` task does: runs the release's process snapshot in the
//! deployment's environment on the built-in worker.
//!
//! Steps run in order; a step whose `StartTrigger` is `StartWithPrevious` runs in
//! parallel with the one before it. A step runs when its `Condition` says so
//! (`Success`: no failure yet; `Failure`: after one; `Always`; `Variable`: its
//! expression is true). Its actions run one after another, each in its own
//! working directory, through [`octopus_executor::run_action`]. Output variables
//! of an action are seen by later steps as `Octopus.Action[<name>].Output.<Var>`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use octopus_client::model::{
    Action, Channel, Deployment, DeploymentProcess, Environment, Project, PropertyValue, Release,
    Resource, ServerTask, Space, Step, TaskState, VariableSet,
};
use octopus_executor::{ActionKind, ActionRun, Category, LogSink, Outcome, StagedPackage};
use octostache::Variables;
use rusqlite::Connection;
use tokio::sync::watch;

use super::log::TaskLog;
use super::variables::{ScopeContext, resolve};
use crate::api::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store::documents::{self, NO_SPACE};

/// Start of the verbose log line recording an output variable:
/// `Output variable Octopus.Action[<action>].Output.<name> = <value>`.
pub const OUTPUT_LINE: &str = "Output variable ";

/// The built-in feed's ID.
pub const BUILTIN_FEED: &str = "feeds-builtin";

/// Everything a deployment run reads, loaded once at its start.
struct Plan {
    space: Space,
    project: Project,
    environment: Environment,
    channel: Option<Channel>,
    release: Release,
    deployment: Deployment,
    process: DeploymentProcess,
    variables: Vec<VariableSet>,
}

fn must<T>(what: &str, id: &str, v: Option<T>) -> ApiResult<T> {
    v.ok_or_else(|| ApiError::not_found(what, id))
}

fn load(conn: &Connection, task: &ServerTask) -> ApiResult<Plan> {
    let space_id = task.space_id.clone().unwrap_or_default();
    let deployment_id = task
        .arguments
        .get("DeploymentId")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let sp = space_id.as_str();
    let deployment: Deployment = must(
        "deployment",
        &deployment_id,
        documents::get(conn, Deployment::COLLECTION, sp, &deployment_id)?,
    )?;
    let release: Release = must(
        "release",
        &deployment.release_id,
        documents::get(conn, Release::COLLECTION, sp, &deployment.release_id)?,
    )?;
    let process_id = release
        .project_deployment_process_snapshot_id
        .clone()
        .unwrap_or_default();
    let process: DeploymentProcess = must(
        "deployment process snapshot",
        &process_id,
        documents::get(conn, DeploymentProcess::COLLECTION, sp, &process_id)?,
    )?;
    let mut variables = Vec::new();
    let set_ids = release
        .library_variable_set_snapshot_ids
        .iter()
        .chain(release.project_variable_set_snapshot_id.iter());
    for id in set_ids {
        match crate::api::load_variables_for_run(conn, sp, id) {
            Ok(set) => variables.push(set),
            Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Plan {
        space: must(
            "space",
            sp,
            documents::get(conn, Space::COLLECTION, NO_SPACE, sp)?,
        )?,
        project: must(
            "project",
            &release.project_id,
            documents::get(conn, Project::COLLECTION, sp, &release.project_id)?,
        )?,
        environment: must(
            "environment",
            &deployment.environment_id,
            documents::get(
                conn,
                Environment::COLLECTION,
                sp,
                &deployment.environment_id,
            )?,
        )?,
        channel: documents::get(conn, Channel::COLLECTION, sp, &release.channel_id)?,
        release,
        deployment,
        process,
        variables,
    })
}

/// How a run ended.
pub struct RunEnd {
    /// The task's final state.
    pub state: TaskState,
    /// `ErrorMessage` (empty on success).
    pub error: String,
    /// Whether the log holds warnings or errors.
    pub warnings: bool,
}

/// Shared by the steps of one run.
struct Shared {
    log: Mutex<TaskLog>,
    /// Output variables so far (`Octopus.Action[X].Output.Y`), and failure variables.
    outputs: Mutex<Variables>,
    /// Values to mask: sensitive variables, properties and outputs.
    masks: Mutex<Vec<String>>,
    failed: Mutex<Option<String>>,
    canceled: Mutex<bool>,
}

impl Shared {
    fn line(&self, node: &str, category: &str, text: &str) {
        let masked = mask(text, &self.masks.lock().unwrap_or_else(|e| e.into_inner()));
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .line(node, category, &masked);
    }
    fn open(&self, node: &str, parent: &str, name: &str) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .open_node(node, Some(parent), name);
    }
    fn close(&self, node: &str, status: &str) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .close_node(node, status);
    }
}

/// Replaces every non-empty secret in `text` by `********`, longest first.
pub fn mask(text: &str, secrets: &[String]) -> String {
    if secrets.is_empty() {
        return text.to_owned();
    }
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for s in sorted {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "********");
        }
    }
    out
}

/// Writes executor lines into a node of the task log.
struct NodeSink {
    shared: Arc<Shared>,
    node: String,
}

impl LogSink for NodeSink {
    fn line(&mut self, category: Category, text: &str) {
        self.shared.line(&self.node, category.as_str(), text);
    }
}

/// Runs a `Deploy` task to its end.
pub async fn run(state: AppState, task: ServerTask, cancel: watch::Receiver<bool>) -> RunEnd {
    let data_dir = state.data_dir.clone();
    let log = match TaskLog::open(&data_dir, &task.id) {
        Ok(l) => l,
        Err(e) => {
            return RunEnd {
                state: TaskState::Failed,
                error: format!("The task log could not be opened: {e}"),
                warnings: true,
            };
        }
    };
    let shared = Arc::new(Shared {
        log: Mutex::new(log),
        outputs: Mutex::new(Variables::new()),
        masks: Mutex::new(Vec::new()),
        failed: Mutex::new(None),
        canceled: Mutex::new(false),
    });
    // Output that stops (a script waiting) still reaches the file within FLUSH_EVERY.
    let flusher = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(super::log::FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                shared
                    .log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .flush_pending();
            }
        })
    };
    let end = run_logged(&state, &task, &shared, cancel).await;
    flusher.abort();
    end
}

/// [`run`] once the log is open.
async fn run_logged(
    state: &AppState,
    task: &ServerTask,
    shared: &Arc<Shared>,
    cancel: watch::Receiver<bool>,
) -> RunEnd {
    let data_dir = state.data_dir.clone();
    let root = task.id.clone();
    shared
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .open_node(&root, None, &task.description);
    let t = task.clone();
    let plan = match state.store.read(move |c| load(c, &t)).await {
        Ok(p) => p,
        Err(e) => {
            let msg = format!("The deployment could not be started: {}", e.message);
            shared.line(&root, "Fatal", &msg);
            shared.close(&root, "Failed");
            return RunEnd {
                state: TaskState::Failed,
                error: msg,
                warnings: true,
            };
        }
    };
    let work_root = data_dir.join("work").join(&task.id);
    let end = run_plan(state, &plan, task, shared, &work_root, cancel).await;
    let _ = std::fs::remove_dir_all(&work_root);
    let status = match end.state {
        TaskState::Success => "Success",
        TaskState::Canceled => "Canceled",
        _ => "Failed",
    };
    if !end.error.is_empty() {
        shared.line(&root, "Fatal", &end.error);
    }
    shared.close(&root, status);
    let warnings = shared
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .has_warnings_or_errors;
    RunEnd { warnings, ..end }
}

/// The system variables of a deployment (`Octopus.Release.Number`, ...).
fn system_variables(plan: &Plan, task: &ServerTask) -> Variables {
    let mut v = Variables::new();
    let d = &plan.deployment;
    let r = &plan.release;
    let mut set = |k: &str, val: &str| v.set(k, val);
    set(
        "Octopus.Space.Id",
        plan.space.id.as_deref().unwrap_or_default(),
    );
    set("Octopus.Space.Name", &plan.space.name);
    set(
        "Octopus.Project.Id",
        plan.project.id.as_deref().unwrap_or_default(),
    );
    set("Octopus.Project.Name", &plan.project.name);
    set("Octopus.Project.Slug", &plan.project.slug);
    set("Octopus.Environment.Id", &d.environment_id);
    set("Octopus.Environment.Name", &plan.environment.name);
    set("Octopus.Environment.Slug", &plan.environment.slug);
    set(
        "Octopus.Environment.SortOrder",
        &plan.environment.sort_order.to_string(),
    );
    set("Octopus.Release.Id", r.id.as_deref().unwrap_or_default());
    set("Octopus.Release.Number", &r.version);
    set(
        "Octopus.Release.Notes",
        r.release_notes.as_deref().unwrap_or_default(),
    );
    set(
        "Octopus.Release.Created",
        r.assembled.as_deref().unwrap_or_default(),
    );
    if let Some(ch) = &plan.channel {
        set("Octopus.Release.Channel.Name", &ch.name);
    }
    set("Octopus.Deployment.Id", d.id.as_deref().unwrap_or_default());
    set("Octopus.Deployment.Name", &d.name);
    set(
        "Octopus.Deployment.Created",
        d.created.as_deref().unwrap_or_default(),
    );
    set(
        "Octopus.Deployment.Comments",
        d.comments.as_deref().unwrap_or_default(),
    );
    set(
        "Octopus.Deployment.ForcePackageDownload",
        if d.force_package_download {
            "True"
        } else {
            "False"
        },
    );
    set("Octopus.Task.Id", &task.id);
    set("Octopus.Task.Name", &task.description);
    set("Octopus.Machine.Name", "octopus-lite");
    for (k, val) in &d.form_values {
        set(k, val);
    }
    v
}

/// Steps grouped into batches that start together (`StartWithPrevious`).
fn batches(steps: &[Step]) -> Vec<Vec<(usize, &Step)>> {
    let mut out: Vec<Vec<(usize, &Step)>> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let with_previous = s.start_trigger.as_deref() == Some("StartWithPrevious");
        match out.last_mut() {
            Some(batch) if with_previous => batch.push((i, s)),
            _ => out.push(vec![(i, s)]),
        }
    }
    out
}

async fn run_plan(
    state: &AppState,
    plan: &Plan,
    task: &ServerTask,
    shared: &Arc<Shared>,
    work_root: &std::path::Path,
    cancel: watch::Receiver<bool>,
) -> RunEnd {
    let system = system_variables(plan, task);
    for batch in batches(&plan.process.steps) {
        if *cancel.borrow() {
            break;
        }
        let failed_before = shared
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        let runs: Vec<_> = batch
            .into_iter()
            .map(|(i, step)| {
                let at = StepAt {
                    root: &task.id,
                    index: i,
                    step,
                    failed_before,
                };
                run_step(state, plan, &system, shared, work_root, at, cancel.clone())
            })
            .collect();
        join_all(runs).await;
        if *shared.canceled.lock().unwrap_or_else(|e| e.into_inner()) {
            break;
        }
    }
    let canceled = *cancel.borrow() || *shared.canceled.lock().unwrap_or_else(|e| e.into_inner());
    let failed = shared
        .failed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match (canceled, failed) {
        (true, _) => RunEnd {
            state: TaskState::Canceled,
            error: "The task was canceled.".into(),
            warnings: true,
        },
        (false, Some(msg)) => RunEnd {
            state: TaskState::Failed,
            error: msg,
            warnings: true,
        },
        (false, None) => RunEnd {
            state: TaskState::Success,
            error: String::new(),
            warnings: false,
        },
    }
}

/// Runs futures concurrently on this task and waits for all of them (the one
/// place that needs it; no extra crate).
async fn join_all<F: std::future::Future<Output = ()>>(futs: Vec<F>) {
    let mut futs: Vec<Option<std::pin::Pin<Box<F>>>> =
        futs.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in futs.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
}

/// Whether an action applies to this deployment (disabled, environment, channel, skipped).
fn skip_reason(plan: &Plan, a: &Action) -> Option<&'static str> {
    let env = &plan.deployment.environment_id;
    if a.is_disabled {
        return Some("it is disabled");
    }
    if !a.environments.is_empty() && !a.environments.contains(env) {
        return Some("it does not run in this environment");
    }
    if a.excluded_environments.contains(env) {
        return Some("it is excluded from this environment");
    }
    if !a.channels.is_empty() && !a.channels.contains(&plan.release.channel_id) {
        return Some("it does not run in this channel");
    }
    let id = a.id.as_deref().unwrap_or_default();
    if plan.deployment.skip_actions.iter().any(|s| s == id) {
        return Some("it was skipped for this deployment");
    }
    None
}

fn text_of(p: &PropertyValue) -> (String, bool) {
    match p {
        PropertyValue::Text(t) => (t.clone(), false),
        PropertyValue::Sensitive(s) => (s.new_value.clone().unwrap_or_default(), true),
    }
}

/// A step of the process and where it stands in the run.
struct StepAt<'a> {
    /// The root node (the task ID).
    root: &'a str,
    index: usize,
    step: &'a Step,
    /// Whether an earlier step failed.
    failed_before: bool,
}

async fn run_step(
    state: &AppState,
    plan: &Plan,
    system: &Variables,
    shared: &Arc<Shared>,
    work_root: &std::path::Path,
    at: StepAt<'_>,
    cancel: watch::Receiver<bool>,
) {
    let StepAt {
        root,
        index,
        step,
        failed_before,
    } = at;
    let node = format!("{root}_step{}", index + 1);
    shared.open(&node, root, &format!("Step {}: {}", index + 1, step.name));
    let condition = step.condition.as_deref().unwrap_or("Success");
    let step_props: BTreeMap<String, String> = step
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), text_of(v).0))
        .collect();
    let roles: Vec<String> = step_props
        .get("Octopus.Action.TargetRoles")
        .map(|r| {
            r.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let base_ctx = ScopeContext {
        environment_id: plan.deployment.environment_id.clone(),
        channel_id: plan.release.channel_id.clone(),
        project_id: plan.project.id.clone().unwrap_or_default(),
        action_id: None,
        roles: roles.clone(),
    };
    let run_it = match condition {
        "Failure" => failed_before,
        "Always" => true,
        "Variable" => {
            let mut vars = system.clone();
            let sets: Vec<&VariableSet> = plan.variables.iter().collect();
            resolve(&sets, &base_ctx, &mut vars);
            for (k, v) in shared
                .outputs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
            {
                vars.set(k, v);
            }
            let expr = step_props
                .get("Octopus.Step.ConditionVariableExpression")
                .cloned()
                .unwrap_or_default();
            is_truthy(&octostache::evaluate(&expr, &vars))
        }
        _ => !failed_before,
    };
    if !run_it {
        shared.line(
            &node,
            "Info",
            &format!("The step was skipped: its condition is {condition}."),
        );
        shared.close(&node, "Skipped");
        return;
    }
    let mut any_ran = false;
    let mut step_failed = false;
    for (ai, action) in step.actions.iter().enumerate() {
        if let Some(reason) = skip_reason(plan, action) {
            shared.line(
                &node,
                "Info",
                &format!("Skipping {}: {reason}.", action.name),
            );
            continue;
        }
        if step_failed || *cancel.borrow() {
            break;
        }
        any_ran = true;
        let anode = format!("{node}_a{}", ai + 1);
        shared.open(
            &anode,
            &node,
            &format!("{} on the built-in worker", action.name),
        );
        let ctx = ScopeContext {
            action_id: action.id.clone(),
            ..base_ctx.clone()
        };
        let work_dir = work_root.join(format!("{}-{}", index + 1, ai + 1));
        let at = ActionAt {
            step,
            action,
            step_index: index,
            action_index: ai,
            scope: &ctx,
            roles: &roles,
            work_dir,
            node: &anode,
        };
        let outcome = run_one(state, plan, system, shared, at, cancel.clone()).await;
        match outcome {
            Outcome::Success => shared.close(&anode, "Success"),
            Outcome::Canceled => {
                shared.line(&anode, "Error", "The action was canceled.");
                shared.close(&anode, "Canceled");
                *shared.canceled.lock().unwrap_or_else(|e| e.into_inner()) = true;
                shared.close(&node, "Canceled");
                return;
            }
            Outcome::Failed(msg) => {
                step_failed = true;
                let msg = mask(
                    &msg,
                    &shared.masks.lock().unwrap_or_else(|e| e.into_inner()),
                );
                shared.line(&anode, "Error", &msg);
                shared.close(&anode, "Failed");
                record_failure(shared, &step.name, &msg);
            }
            Outcome::TimedOut => {
                step_failed = true;
                let msg = format!(
                    "The action {} ran longer than its time limit of {} s and was stopped.",
                    action.name,
                    state.step_timeout.as_secs()
                );
                shared.line(&anode, "Error", &msg);
                shared.close(&anode, "Failed");
                record_failure(shared, &step.name, &msg);
            }
        }
    }
    let status = if step_failed {
        "Failed"
    } else if any_ran {
        "Success"
    } else {
        "Skipped"
    };
    shared.close(&node, status);
}

fn record_failure(shared: &Shared, step: &str, msg: &str) {
    let mut failed = shared.failed.lock().unwrap_or_else(|e| e.into_inner());
    if failed.is_none() {
        *failed = Some(format!("The step '{step}' failed: {msg}"));
    }
    let mut outputs = shared.outputs.lock().unwrap_or_else(|e| e.into_inner());
    outputs.set(
        "Octopus.Deployment.Error",
        format!("The step '{step}' failed"),
    );
    outputs.set("Octopus.Deployment.ErrorDetail", msg);
}

/// Whether a step's condition expression holds: Octostache's truthiness, and an
/// expression left unevaluated (a missing variable) is false.
pub fn is_truthy(s: &str) -> bool {
    !s.contains("#{") && octostache::truthy(s)
}

/// An action of a step and where it runs.
struct ActionAt<'a> {
    step: &'a Step,
    action: &'a Action,
    step_index: usize,
    action_index: usize,
    /// Scoping of the action's variables.
    scope: &'a ScopeContext,
    /// The step's target roles.
    roles: &'a [String],
    /// The action's own working directory.
    work_dir: PathBuf,
    /// Its node in the task log.
    node: &'a str,
}

/// Runs one action: its variables, packages and runner, then records its outputs.
async fn run_one(
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
        masks.extend(secrets.iter().cloned());
    }
    if let Err(e) = std::fs::create_dir_all(&work_dir) {
        return Outcome::Failed(format!("The working directory could not be created: {e}"));
    }
    // The work root (`work/<TaskId>`) records process groups for crash recovery.
    let on_spawn = work_dir.parent().map(super::orphans::hook);
    let run = ActionRun {
        action_type: action.action_type.clone(),
        kind,
        properties,
        variables: vars,
        sensitive_values: shared
            .masks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        packages,
        work_dir,
        applications_dir: state.data_dir.join("Applications"),
        environment_name: plan.environment.name.clone(),
        timeout: state.step_timeout,
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
        if o.sensitive && !o.value.is_empty() {
            masks.push(o.value.clone());
        }
        let name = format!("Octopus.Action[{}].Output.{}", action.name, o.name);
        // One verbose line per output variable (masked like every line), so logs show
        // what later steps see; the acceptance harness reads outputs from these lines.
        let shown = mask(&o.value, &masks);
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

/// Records on a deployment that its task ended (`FailureEncountered`).
pub fn task_ended(tx: &Connection, task_id: &str, state: TaskState) -> ApiResult<()> {
    let Some(task) = super::get(tx, task_id)? else {
        return Ok(());
    };
    let Some(id) = task.arguments.get("DeploymentId").and_then(|v| v.as_str()) else {
        return Ok(());
    };
    let space = task.space_id.as_deref().unwrap_or_default();
    if let Some(mut d) = documents::get::<Deployment>(tx, Deployment::COLLECTION, space, id)? {
        d.failure_encountered = state != TaskState::Success;
        documents::update(tx, Deployment::COLLECTION, space, id, None, &d)?;
    }
    Ok(())
}
