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
    /// Free text; `null` when unset (always present, as Octopus sends it).
    #[serde(default)]
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
    /// Project this one was cloned from; `null` when it was not (always present).
    #[serde(default)]
    pub cloned_from_project_id: Option<String>,
    /// Where the project's configuration lives: `{"Type": "Database"}` unless it is
    /// version-controlled.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub persistence_settings: PersistenceSettings,
    /// Project templates (parameters for tenants), kept verbatim.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub templates: Vec<serde_json::Value>,
    /// How releases are created automatically (all `null` when they are not).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub release_creation_strategy: ReleaseCreationStrategy,
    /// Whether releases are created when a package is pushed.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub auto_create_release: bool,
    /// Release overrides of automatic deployments, kept verbatim.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub auto_deploy_release_overrides: Vec<serde_json::Value>,
    /// Extension settings (`{ExtensionId, Values}`), kept verbatim.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub extension_settings: Vec<serde_json::Value>,
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

/// `PersistenceSettings`: where a project's configuration is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct PersistenceSettings {
    /// `Database` (the default) or `VersionControlled`.
    #[serde(rename = "Type", default = "database")]
    pub kind: String,
    /// The Git settings of a version-controlled project (`Url`, `DefaultBranch`,
    /// `BasePath`, `Credentials`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `Type` of projects kept in the database.
pub const PERSISTENCE_DATABASE: &str = "Database";

fn database() -> String {
    PERSISTENCE_DATABASE.to_owned()
}

impl Default for PersistenceSettings {
    /// `{"Type": "Database"}`.
    fn default() -> Self {
        Self {
            kind: database(),
            extra: Extra::new(),
        }
    }
}

/// `ReleaseCreationStrategy`: which package push creates releases, if any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ReleaseCreationStrategy {
    /// Channel of the created releases.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The action and package reference whose push creates a release, kept verbatim.
    #[serde(default)]
    pub release_creation_package: Option<serde_json::Value>,
    /// The step of that action.
    #[serde(default)]
    pub release_creation_package_step_id: Option<String>,
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
