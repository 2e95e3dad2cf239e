//! Project groups (`/api/{spaceId}/projectgroups`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// A group of projects. Every space has a `Default Project Group`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectGroup {
    /// `ProjectGroups-<n>`; absent before creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Owning space; filled in by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// Name, unique within the space.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Environments the group is restricted to (legacy).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub environment_ids: Vec<String>,
    /// Retention policy, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_policy_id: Option<String>,
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

impl ProjectGroup {
    /// A new project group with the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

impl Resource for ProjectGroup {
    const COLLECTION: &'static str = "projectgroups";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}
