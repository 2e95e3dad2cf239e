//! Spaces (`/api/spaces`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// A space: the top-level partition of everything else.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Space {
    /// `Spaces-<n>`; absent before creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name, at most 50 characters.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// URL-friendly name; derived from `Name` when empty.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub slug: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether this is the default space.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub is_default: bool,
    /// A space can only be deleted once its task queue is stopped.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub task_queue_stopped: bool,
    /// Team IDs managing the space.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub space_managers_teams: Vec<String>,
    /// User IDs managing the space.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub space_managers_team_members: Vec<String>,
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

impl Space {
    /// A new space with the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

impl Resource for Space {
    const COLLECTION: &'static str = "spaces";
    const SPACE_SCOPED: bool = false;
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}
