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

/// A version of a package in a feed: an item of Octopus'
/// `GET /api/{spaceId}/feeds/{feedId}/packages/versions` (`PackageVersionResource`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct PackageVersion {
    /// For the built-in feed, the package resource's ID (`packages-MyApp.1.0.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The package ID, e.g. `MyApp`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub package_id: String,
    /// The version.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub version: String,
    /// The feed holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_id: Option<String>,
    /// When the version was published, ISO 8601; `null` when the feed does not say.
    #[serde(default)]
    pub published: Option<String>,
    /// The package file's size in bytes; `null` when the feed does not say.
    #[serde(default)]
    pub size_bytes: Option<u64>,
    /// Display title.
    #[serde(default)]
    pub title: Option<String>,
    /// Release notes (only with `includeReleaseNotes=true`).
    #[serde(default)]
    pub release_notes: Option<String>,
    /// Server-provided links.
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

/// A package found by Octopus' `GET /api/{spaceId}/feeds/{feedId}/packages/search`
/// (`PackageDescriptionResource`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct PackageDescription {
    /// The package ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The package's name (its ID, for the built-in feed).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// Free text from the package's metadata; `null` when there is none.
    #[serde(default)]
    pub description: Option<String>,
    /// The newest version (the newest pre-release when there is no release).
    #[serde(default)]
    pub latest_version: Option<String>,
    /// Server-provided links, among them `SearchPackageVersionsTemplate`.
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
