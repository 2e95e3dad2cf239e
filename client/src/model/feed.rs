//! Feeds (`/api/{spaceId}/feeds`) and sensitive values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// The ID of the built-in package repository, present in every space.
pub const BUILT_IN_FEED_ID: &str = "feeds-builtin";

/// A secret. Writes set `NewValue`; reads only say whether a value is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SensitiveValue {
    /// Whether a value is stored. On writes, `true` without `NewValue` keeps the stored value.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub has_value: bool,
    /// The new secret (write only; never returned by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_value: Option<String>,
    /// Optional non-secret hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl SensitiveValue {
    /// A value that sets the secret to `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            has_value: true,
            new_value: Some(value.into()),
            hint: None,
        }
    }
}

/// Octopus feed types (`FeedType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[allow(missing_docs)]
pub enum FeedType {
    BuiltIn,
    NuGet,
    Docker,
    AwsElasticContainerRegistry,
    AzureContainerRegistry,
    GoogleContainerRegistry,
    GitHub,
    Helm,
    Maven,
    Npm,
    OctopusProject,
    ArtifactoryGeneric,
    S3,
    OciRegistry,
    GcsStorage,
    PyPi,
    /// A feed type this crate does not know (read tolerance only; servers refuse it).
    #[serde(other)]
    Unknown,
}

/// A package feed: the built-in repository or an external one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Feed {
    /// `Feeds-<n>` or `feeds-builtin`; absent before creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Owning space; filled in by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// Name, unique within the space.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// Kind of feed.
    pub feed_type: FeedType,
    /// URL of the feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_uri: Option<String>,
    /// User name for the feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password (sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SensitiveValue>,
    /// Access key (AWS, S3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// Secret key (sensitive; AWS, S3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<SensitiveValue>,
    /// Service account JSON key (sensitive; Google).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_json_key: Option<SensitiveValue>,
    /// Whether the service account key is used (Google).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_service_account_key: Option<bool>,
    /// Google project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Region (AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Registry API version (Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Registry path (Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_path: Option<String>,
    /// Repository (Artifactory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Layout regex (Artifactory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout_regex: Option<String>,
    /// Download attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_attempts: Option<i32>,
    /// Backoff between download attempts in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_retry_backoff_seconds: Option<i32>,
    /// NuGet enhanced mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enhanced_mode: Option<bool>,
    /// Use the machine's credentials (S3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_machine_credentials: Option<bool>,
    /// Where packages may be acquired.
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub package_acquisition_location_options: Vec<String>,
    /// OIDC settings, kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_authentication: Option<serde_json::Value>,
    /// Built-in feed: delete packages that releases used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_packages_associated_with_releases: Option<bool>,
    /// Built-in feed: days after which unreleased packages are deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_unreleased_packages_after_days: Option<i32>,
    /// Built-in feed: repository sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_built_in_repo_sync_enabled: Option<bool>,
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

impl Feed {
    /// A new feed of the given type, name and URI.
    pub fn new(name: impl Into<String>, feed_type: FeedType, feed_uri: Option<String>) -> Self {
        Self {
            id: None,
            space_id: None,
            name: name.into(),
            feed_type,
            feed_uri,
            username: None,
            password: None,
            access_key: None,
            secret_key: None,
            service_account_json_key: None,
            use_service_account_key: None,
            project: None,
            region: None,
            api_version: None,
            registry_path: None,
            repository: None,
            layout_regex: None,
            download_attempts: None,
            download_retry_backoff_seconds: None,
            enhanced_mode: None,
            use_machine_credentials: None,
            package_acquisition_location_options: Vec::new(),
            oidc_authentication: None,
            delete_packages_associated_with_releases: None,
            delete_unreleased_packages_after_days: None,
            is_built_in_repo_sync_enabled: None,
            links: Links::new(),
            extra: super::Extra::new(),
        }
    }

    /// The feed's sensitive fields, for redaction and merging.
    pub fn sensitive_fields_mut(&mut self) -> [&mut Option<SensitiveValue>; 3] {
        [
            &mut self.password,
            &mut self.secret_key,
            &mut self.service_account_json_key,
        ]
    }
}

impl Default for Feed {
    /// A feed with no name and an unknown type, to be filled in (its `FeedType` set)
    /// before it is sent.
    fn default() -> Self {
        Self::new(String::new(), FeedType::Unknown, None)
    }
}

impl Resource for Feed {
    const COLLECTION: &'static str = "feeds";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}
