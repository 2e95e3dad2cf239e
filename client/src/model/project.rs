//! Projects (`/api/{spaceId}/projects`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// A project. Creating one also creates its deployment process
/// (`deploymentprocess-<ProjectId>`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Project {
    /// `Projects-<n>`; absent before creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Owning space; filled in by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// Name, unique within the space.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// URL-friendly name; derived from `Name` when empty.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub slug: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Lifecycle; the space's default lifecycle when empty.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub lifecycle_id: String,
    /// Project group; the space's default group when empty.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub project_group_id: String,
    /// Server-assigned `deploymentprocess-<ProjectId>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_process_id: Option<String>,
    /// Server-assigned variable set ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable_set_id: Option<String>,
    /// Library variable sets included in the project.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub included_library_variable_set_ids: Vec<String>,
    /// Whether the project is disabled.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub is_disabled: bool,
    /// Whether the project's configuration lives in Git.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub is_version_controlled: bool,
    /// Whether releases are bound to one channel's environments.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub discrete_channel_release: bool,
    /// `Untenanted`, `TenantedOrUntenanted` or `Tenanted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenanted_deployment_mode: Option<String>,
    /// `EnvironmentDefault`, `Off` or `On`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_guided_failure_mode: Option<String>,
    /// Project this one was cloned from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloned_from_project_id: Option<String>,
    /// Last modification time (ISO 8601), server-set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_on: Option<String>,
    /// Last modifier, server-set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<String>,
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

impl Project {
    /// A new project with the given name, in the default group and lifecycle.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

impl Resource for Project {
    const COLLECTION: &'static str = "projects";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}
