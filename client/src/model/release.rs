//! Releases (`/api/{spaceId}/releases`), channels and the executions-API commands
//! that create releases and deployments.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// A release: a snapshot of a project's process, variables and package versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Release {
    /// `Releases-<n>`; absent before creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Owning space; filled in by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// The project released.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub project_id: String,
    /// The channel; the project's default channel when empty.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub channel_id: String,
    /// Release number, e.g. `1.2.3`; unique per project.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub version: String,
    /// Markdown notes.
    #[serde(default)]
    pub release_notes: Option<String>,
    /// When the release was created (ISO 8601), server-set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assembled: Option<String>,
    /// The frozen copy of the process this release deploys (server-set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_deployment_process_snapshot_id: Option<String>,
    /// The frozen copy of the project's variables (server-set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_variable_set_snapshot_id: Option<String>,
    /// Frozen copies of included library variable sets (server-set).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub library_variable_set_snapshot_ids: Vec<String>,
    /// One package version per package reference of the process.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub selected_packages: Vec<SelectedPackage>,
    /// Git resources, kept verbatim.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub selected_git_resources: Vec<serde_json::Value>,
    /// Build information, kept verbatim.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub build_information: Vec<serde_json::Value>,
    /// Custom fields.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub custom_fields: BTreeMap<String, String>,
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

impl Resource for Release {
    const COLLECTION: &'static str = "releases";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// The version chosen for one package reference of one action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SelectedPackage {
    /// The action's name (legacy clients send `StepName`).
    #[serde(
        default,
        alias = "StepName",
        deserialize_with = "nullable::deserialize"
    )]
    pub action_name: String,
    /// The package reference name; `""` for the primary package.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub package_reference_name: String,
    /// The version.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub version: String,
}

/// What a new release of a project would contain
/// (`/projects/{id}/deploymentprocesses/template`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ReleaseTemplate {
    /// The live process.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub deployment_process_id: String,
    /// The newest release's version, if any.
    #[serde(default)]
    pub last_release_version: Option<String>,
    /// The version a new release gets by default.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub next_version_increment: String,
    /// Action whose package versions releases, when versioning follows a package.
    #[serde(default)]
    pub versioning_package_step_name: Option<String>,
    /// Its package reference name.
    #[serde(default)]
    pub versioning_package_reference_name: Option<String>,
    /// The package references a release must choose versions for.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub packages: Vec<ReleaseTemplatePackage>,
    /// Git resources (none in octopus-lite).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub git_resources: Vec<serde_json::Value>,
}

/// One package reference of a release template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ReleaseTemplatePackage {
    /// The action's name.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub action_name: String,
    /// Same as `ActionName` (older clients read this).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub step_name: String,
    /// The package reference name; `""` for the primary package.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub package_reference_name: String,
    /// Package ID.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub package_id: String,
    /// Feed ID.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub feed_id: String,
    /// Feed name.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub feed_name: String,
    /// Project name.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub project_name: String,
    /// The version the newest release chose.
    #[serde(default)]
    pub version_selected_last_release: Option<String>,
    /// Whether the server can look versions up (false when IDs contain variables).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub is_resolvable: bool,
}

/// A channel of a project: which lifecycle its releases follow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Channel {
    /// `Channels-<n>`; absent before creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Owning space; filled in by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// The project (set on create only).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub project_id: String,
    /// Name, unique within the project.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// URL-friendly name.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub slug: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Lifecycle; `null` follows the project's.
    #[serde(default)]
    pub lifecycle_id: Option<String>,
    /// Whether releases use it when no channel is named.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub is_default: bool,
    /// Package version rules, kept verbatim.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub rules: Vec<serde_json::Value>,
    /// Tenant tags.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub tenant_tags: Vec<String>,
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

impl Resource for Channel {
    const COLLECTION: &'static str = "channels";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// `POST /api/{spaceId}/releases/create/v1`. The server also accepts the
/// camelCase names the Go client sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CreateReleaseCommandV1 {
    /// Space ID or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id_or_name: Option<String>,
    /// Project ID or name (required).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub project_name: String,
    /// Default version of every package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_version: Option<String>,
    /// Overrides: `Action:Version`, `Action:Ref:Version`, `*:Version`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub packages: Vec<String>,
    /// Release version; the project's template when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_version: Option<String>,
    /// Channel ID or name; the default channel when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    /// Markdown notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<String>,
    /// Answer the existing release instead of failing when the version exists.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub ignore_if_already_exists: bool,
    /// Ignore channel version rules.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub ignore_channel_rules: bool,
    /// Custom fields.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub custom_fields: BTreeMap<String, String>,
}

/// Answer to [`CreateReleaseCommandV1`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CreateReleaseResponseV1 {
    /// The release (new, or existing with `IgnoreIfAlreadyExists`).
    #[serde(alias = "releaseId")]
    pub release_id: String,
    /// Its version.
    #[serde(alias = "releaseVersion")]
    pub release_version: String,
}
