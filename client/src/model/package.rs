//! Packages of the built-in feed (`/api/{spaceId}/packages`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// A package version stored in a space's built-in feed, shaped like Octopus'
/// `PackageResource` (also the body of an upload response).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Package {
    /// `packages-<PackageId>.<Version>`, e.g. `packages-MyApp.1.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Owning space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// The package ID from the file name, e.g. `MyApp`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub package_id: String,
    /// The version (octopus-lite reports it normalized, e.g. `1.0.0` for `1.0`).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub version: String,
    /// The feed holding it (`feeds-builtin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_id: Option<String>,
    /// NuGet-style alias of `PackageId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nu_get_package_id: Option<String>,
    /// NuGet-style alias of `FeedId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nu_get_feed_id: Option<String>,
    /// Free text (from package metadata; empty for plain archives). `null` when there is none (always present, as Octopus sends it).
    #[serde(default)]
    pub description: Option<String>,
    /// When this version was (last) stored, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Display title (the package ID for plain archives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Short summary (from package metadata). `null` when there is none (always present, as Octopus sends it).
    #[serde(default)]
    pub summary: Option<String>,
    /// Release notes (from package metadata). `null` when there is none (always present, as Octopus sends it).
    #[serde(default)]
    pub release_notes: Option<String>,
    /// Extension with its leading dot, e.g. `.zip` or `.tar.gz`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub file_extension: String,
    /// Size of the stored file in bytes.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub package_size_bytes: u64,
    /// SHA-1 of the file, lower-case hex (Octopus' `Hash`).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub hash: String,
    /// SHA-256 of the file, lower-case hex (octopus-lite only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Server-provided links: `Self`, `Raw` (download).
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

impl Package {
    /// The canonical file name, `<PackageId>.<Version><FileExtension>`.
    pub fn file_name(&self) -> String {
        format!(
            "{}.{}{}",
            self.package_id, self.version, self.file_extension
        )
    }
}

impl Resource for Package {
    const COLLECTION: &'static str = "packages";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}
