//! Environments (`/api/{spaceId}/environments`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// A deployment environment such as `Development` or `Production`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    /// `Environments-<n>`; absent before creation.
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
    /// Position in lists.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub sort_order: i32,
    /// Whether deployments pause for guided failure by default.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub use_guided_failure: bool,
    /// Whether targets may be created dynamically during deployments.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub allow_dynamic_infrastructure: bool,
    /// Extension settings (`{ExtensionId, Values}`), kept verbatim; `[]` by default.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub extension_settings: Vec<serde_json::Value>,
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

impl Environment {
    /// A new environment with the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

impl Resource for Environment {
    const COLLECTION: &'static str = "environments";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}
