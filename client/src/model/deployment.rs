//! Deployments (`/api/{spaceId}/deployments`): a release run in an environment.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// A deployment of a release to one environment; its task runs it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Deployment {
    /// `Deployments-<n>`; absent before creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Owning space; filled in by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// The release deployed (required).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub release_id: String,
    /// The environment deployed to (required).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub environment_id: String,
    /// Tenant (octopus-lite deploys untenanted only).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The release's project (server-set).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub project_id: String,
    /// The release's channel (server-set).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub channel_id: String,
    /// `Deploy to <Environment>` (server-set).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// When it was created (server-set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The task running it (server-set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The release's process snapshot (server-set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_process_id: Option<String>,
    /// The release's variable snapshot (server-set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_variable_set_id: Option<String>,
    /// IDs of actions not to run.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub skip_actions: Vec<String>,
    /// Only these machines (none in octopus-lite).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub specific_machine_ids: Vec<String>,
    /// Not these machines.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub excluded_machine_ids: Vec<String>,
    /// Download packages even if cached.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub force_package_download: bool,
    /// Redeploy packages already installed.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub force_package_redeployment: bool,
    /// Guided failure (not supported by octopus-lite: refused when true).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub use_guided_failure: bool,
    /// Free text.
    #[serde(default)]
    pub comments: Option<String>,
    /// Prompted variable values by name.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub form_values: BTreeMap<String, String>,
    /// Earliest start (ISO 8601).
    #[serde(default)]
    pub queue_time: Option<String>,
    /// Latest start; the task times out when it could not start before.
    #[serde(default)]
    pub queue_time_expiry: Option<String>,
    /// Who deployed (server-set).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub deployed_by: String,
    /// Whether a step failed (server-set).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub failure_encountered: bool,
    /// Server-provided links; ignored on writes.
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

impl Resource for Deployment {
    const COLLECTION: &'static str = "deployments";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// `POST /api/{spaceId}/deployments/create/untenanted/v1`: one deployment (and
/// task) per environment. The server also accepts the Go client's camelCase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDeploymentUntenantedCommandV1 {
    /// Space ID or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id_or_name: Option<String>,
    /// Project ID or name (required).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub project_name: String,
    /// The release's version (required).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub release_version: String,
    /// Environment IDs or names (at least one).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub environment_names: Vec<String>,
    /// Names of steps not to run.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub skip_step_names: Vec<String>,
    /// Download packages even if cached.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub force_package_download: bool,
    /// Redeploy packages already installed.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub force_package_redeployment: bool,
    /// Guided failure (`null` = the project's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_guided_failure: Option<bool>,
    /// Earliest start (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at: Option<String>,
    /// Latest start (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_run_after: Option<String>,
    /// Prompted variable values by name.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub variables: BTreeMap<String, String>,
}

/// Answer to [`CreateDeploymentUntenantedCommandV1`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDeploymentResponseV1 {
    /// One entry per environment.
    #[serde(alias = "deploymentServerTasks")]
    pub deployment_server_tasks: Vec<DeploymentServerTask>,
}

/// A created deployment and its task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentServerTask {
    /// The deployment.
    #[serde(alias = "deploymentId")]
    pub deployment_id: String,
    /// Its task.
    #[serde(alias = "serverTaskId")]
    pub server_task_id: String,
}
