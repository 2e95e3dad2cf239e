//! What a `Deploy` task does: runs the release's process snapshot in the
//! deployment's environment on the built-in worker.
//!
//! Steps run in order; a step whose `StartTrigger` is `StartWithPrevious` runs in
//! parallel with the one before it. A step runs when its `Condition` says so
//! (`Success`: no failure yet; `Failure`: after one; `Always`; `Variable`: its
//! expression is true). Its actions run one after another, each in its own
//! working directory, through [`octopus_executor::run_action`]. Output variables
//! of an action are seen by later steps as `Octopus.Action[<name>].Output.<Var>`.

mod action;
mod flow;
mod plan;

use std::sync::{Arc, Mutex};

use octopus_client::model::{Deployment, Resource, ServerTask, TaskState};
use octopus_executor::mask::Masker;
use octopus_executor::{Category, LogSink};
use octostache::Variables;
use rusqlite::Connection;
use tokio::sync::watch;

use crate::api::AppState;
use crate::error::ApiResult;
use crate::store::documents;
use crate::tasks::log::TaskLog;

use flow::run_plan;
use plan::{Plan, load};

pub use flow::is_truthy;

/// Start of the verbose log line recording an output variable:
/// `Output variable Octopus.Action[<action>].Output.<name> = <value>`.
pub const OUTPUT_LINE: &str = "Output variable ";

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
pub(super) struct Shared {
    pub(super) log: Mutex<TaskLog>,
    /// Output variables so far (`Octopus.Action[X].Output.Y`), and failure variables.
    pub(super) outputs: Mutex<Variables>,
    /// Values to mask: sensitive variables, properties and outputs.
    pub(super) masks: Mutex<Masker>,
    pub(super) failed: Mutex<Option<String>>,
    pub(super) canceled: Mutex<bool>,
}

impl Shared {
    /// `text` with every secret known so far masked.
    pub(super) fn mask(&self, text: &str) -> String {
        let masks = self.masks.lock().unwrap_or_else(|e| e.into_inner());
        masks.mask(text).into_owned()
    }
    /// Writes a log line, masked: the executor masks its own lines, but a parallel
    /// step may have set a sensitive output since it started.
    pub(super) fn line(&self, node: &str, category: &str, text: &str) {
        let masks = self.masks.lock().unwrap_or_else(|e| e.into_inner());
        let masked = masks.mask(text);
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .line(node, category, &masked);
    }
    pub(super) fn open(&self, node: &str, parent: &str, name: &str) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .open_node(node, Some(parent), name);
    }
    pub(super) fn close(&self, node: &str, status: &str) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .close_node(node, status);
    }
}

/// Writes executor lines into a node of the task log.
pub(super) struct NodeSink {
    pub(super) shared: Arc<Shared>,
    pub(super) node: String,
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
        masks: Mutex::new(Masker::new()),
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
