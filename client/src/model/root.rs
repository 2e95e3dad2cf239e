//! The API root document (`GET /api`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, nullable};

/// `GET /api`: server identity and `Links` (RFC 6570 URI templates).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RootDocument {
    /// Application name.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub application: String,
    /// Server version.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub version: String,
    /// API version, `3.0.0`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub api_version: String,
    /// Installation identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<String>,
    /// Link templates by name.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub links: Links,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
