//! Server tasks (`/api/tasks`): what runs a deployment, its state and its log.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// A task's state, as Octopus names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum TaskState {
    /// Waiting to start.
    #[default]
    Queued,
    /// Running.
    Executing,
    /// Ended with an error.
    Failed,
    /// Cancelled before or while running.
    Canceled,
    /// Could not start before its `QueueTimeExpiry`.
    TimedOut,
    /// Ended successfully.
    Success,
    /// Cancel requested; still running.
    Cancelling,
}

impl TaskState {
    /// Whether the task has ended (`Cancelling` has not).
    pub fn is_completed(self) -> bool {
        !matches!(
            self,
            TaskState::Queued | TaskState::Executing | TaskState::Cancelling
        )
    }

    /// Octopus's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "Queued",
            TaskState::Executing => "Executing",
            TaskState::Failed => "Failed",
            TaskState::Canceled => "Canceled",
            TaskState::TimedOut => "TimedOut",
            TaskState::Success => "Success",
            TaskState::Cancelling => "Cancelling",
        }
    }
}

/// A server task (`ServerTasks-<n>`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ServerTask {
    /// `ServerTasks-<n>`.
    #[serde(default)]
    pub id: String,
    /// The space.
    #[serde(default)]
    pub space_id: Option<String>,
    /// The project, for deployment tasks.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Task type, e.g. `Deploy`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// What it does, e.g. `Deploy Web release 1.0.1 to Production`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub description: String,
    /// Arguments, e.g. `{"DeploymentId": "Deployments-1"}`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub arguments: serde_json::Map<String, serde_json::Value>,
    /// The state.
    #[serde(default)]
    pub state: TaskState,
    /// Human text: the completion time, `Queued...` or `Executing...`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub completed: String,
    /// When it was queued (ISO 8601).
    #[serde(default)]
    pub queue_time: Option<String>,
    /// Latest start.
    #[serde(default)]
    pub queue_time_expiry: Option<String>,
    /// When it started.
    #[serde(default)]
    pub start_time: Option<String>,
    /// When it last changed.
    #[serde(default)]
    pub last_updated_time: Option<String>,
    /// When it ended.
    #[serde(default)]
    pub completed_time: Option<String>,
    /// The node running it.
    #[serde(default)]
    pub server_node: Option<String>,
    /// Human run time, e.g. `3 seconds`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub duration: String,
    /// Why it failed; `""` otherwise.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub error_message: String,
    /// Whether a processor took it.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub has_been_picked_up_by_processor: bool,
    /// Whether it has ended.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub is_completed: bool,
    /// Whether it ended with `Success`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub finished_successfully: bool,
    /// Whether it waits for a person (never in octopus-lite).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub has_pending_interruptions: bool,
    /// Whether it can be run again.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub can_rerun: bool,
    /// Whether its log has warnings or errors.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub has_warnings_or_errors: bool,
    /// Server-provided links.
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Links::is_empty"
    )]
    pub links: Links,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Resource for ServerTask {
    const COLLECTION: &'static str = "tasks";
    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }
}

/// `GET /api/tasks/{id}/details`: the task and its activity tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct TaskDetails {
    /// The task.
    pub task: ServerTask,
    /// The tree: one root (the task), its children the steps, theirs the actions.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub activity_logs: Vec<ActivityElement>,
    /// Progress.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub progress: TaskProgress,
    /// Size of the log in bytes.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub physical_log_size: u64,
    /// Links.
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Links::is_empty"
    )]
    pub links: Links,
}

/// A task's progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct TaskProgress {
    /// 0 to 100.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub progress_percentage: i32,
    /// Human text.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub estimated_time_remaining: String,
}

/// A node of the activity tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ActivityElement {
    /// Node ID.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub id: String,
    /// e.g. `Step 1: Say hello`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// When it started.
    #[serde(default)]
    pub started: Option<String>,
    /// When it ended.
    #[serde(default)]
    pub ended: Option<String>,
    /// `Pending`, `Running`, `Success`, `Failed`, `Skipped`, `SuccessWithWarning`, `Canceled`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub status: String,
    /// Child nodes.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub children: Vec<ActivityElement>,
    /// Whether the UI shows it collapsed.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub show_at_summary_level: bool,
    /// The node's log lines.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub log_elements: Vec<ActivityLogElement>,
    /// 0 to 100.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub progress_percentage: i32,
    /// Human text.
    #[serde(default)]
    pub progress_message: Option<String>,
}

/// One log line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ActivityLogElement {
    /// `Verbose`, `Info`, `Highlight`, `Wait`, `Warning`, `Error`, `Fatal`, ...
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub category: String,
    /// When (ISO 8601).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub occurred_at: String,
    /// The text.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub message_text: String,
    /// More detail, if any.
    #[serde(default)]
    pub detail: Option<String>,
}
