//! Lifecycles (`/api/{spaceId}/lifecycles`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// The order in which a release is promoted through environments.
/// Every space has a `Default Lifecycle`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Lifecycle {
    /// `Lifecycles-<n>`; absent before creation.
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
    /// Phases in promotion order; none means one phase per environment, in the
    /// environments' `SortOrder`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub phases: Vec<Phase>,
    /// Server-provided links; ignored on writes.
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Links::is_empty"
    )]
    pub links: Links,
    /// Fields not modelled here (retention policies and such).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One phase of a lifecycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Phase {
    /// Phase ID (a GUID); assigned by the server when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Phase name.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// Environments deployed to automatically on entering the phase.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub automatic_deployment_targets: Vec<String>,
    /// Environments that may be deployed to manually.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub optional_deployment_targets: Vec<String>,
    /// How many environments must be deployed to before the next phase (0 = all).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub minimum_environments_before_promotion: i32,
    /// Whether the phase may be skipped.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub is_optional_phase: bool,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Lifecycle {
    /// A new lifecycle with the given name and no phases.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

impl Resource for Lifecycle {
    const COLLECTION: &'static str = "lifecycles";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}
