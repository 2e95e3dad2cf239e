//! `octopus_feed`: a feed of a space by name (and, optionally, type), with its ID and
//! settings. Secrets are never returned by the server, so they are not here either.

use super::{InSpaceQuery, Lookup};
use crate::resources::feeds::{EcrRegistry, FeedPart, type_name};
use octopus_client::model::Feed;
use tf_sdk::{AttributePath, Diagnostic, Model, Val};

/// Octopus' feed types (`FeedType`).
const FEED_TYPES: &[&str] = &[
    "BuiltIn",
    "NuGet",
    "Docker",
    "AwsElasticContainerRegistry",
    "AzureContainerRegistry",
    "GoogleContainerRegistry",
    "GitHub",
    "Helm",
    "Maven",
    "Npm",
    "OctopusProject",
    "ArtifactoryGeneric",
    "S3",
    "OciRegistry",
    "GcsStorage",
    "PyPi",
];

/// Looks up a feed by name, such as the built-in `Octopus Server (built-in)` or a NuGet
/// feed another team manages, and returns its ID and settings.
#[derive(Model, Clone, Debug)]
pub struct FeedData {
    /// What to find, and where.
    #[tf(flatten)]
    pub query: InSpaceQuery,
    /// The type the feed must have (`NuGet`, `Docker`, `BuiltIn`, ...); any type when
    /// not set, and then the type found.
    #[tf(optional, computed, validate = tf_sdk::validators::one_of(FEED_TYPES))]
    pub feed_type: Val<String>,
    /// The feed's ID, e.g. `Feeds-1` or `feeds-builtin`.
    #[tf(computed)]
    pub id: Val<String>,
    /// The feed's URL (empty for the built-in feed, ECR and S3).
    #[tf(computed)]
    pub feed_uri: Val<String>,
    /// The user name it authenticates with.
    #[tf(computed, sensitive)]
    pub username: Val<String>,
    /// The AWS access key ID (ECR, S3).
    #[tf(computed)]
    pub access_key: Val<String>,
    /// The AWS region (ECR).
    #[tf(computed)]
    pub region: Val<String>,
    /// The registry API version (container registries).
    #[tf(computed)]
    pub api_version: Val<String>,
    /// The registry path (container registries).
    #[tf(computed)]
    pub registry_path: Val<String>,
    /// The Artifactory repository.
    #[tf(computed)]
    pub repository: Val<String>,
    /// The Artifactory layout regular expression.
    #[tf(computed)]
    pub layout_regex: Val<String>,
    /// Download attempts per package (0 when the feed type has none).
    #[tf(computed)]
    pub download_attempts: Val<i64>,
    /// Seconds between download attempts (0 when the feed type has none).
    #[tf(computed)]
    pub download_retry_backoff_seconds: Val<i64>,
    /// NuGet's enhanced mode.
    #[tf(computed)]
    pub is_enhanced_mode: Val<bool>,
    /// Whether S3 uses the worker's credentials.
    #[tf(computed)]
    pub use_machine_credentials: Val<bool>,
    /// Where packages from the feed may be acquired.
    #[tf(computed)]
    pub package_acquisition_location_options: Val<Vec<String>>,
    /// ECR: the OIDC settings it authenticates with instead of keys (null otherwise).
    #[tf(computed, nested)]
    pub oidc_authentication: Val<FoundOidc>,
}

/// An ECR feed's OIDC settings.
#[derive(Model, Clone, Debug)]
pub struct FoundOidc {
    /// How long the assumed role's session lasts, in seconds.
    #[tf(computed)]
    pub session_duration: Val<String>,
    /// The audience of the token Octopus presents to AWS.
    #[tf(computed)]
    pub audience: Val<String>,
    /// The ARN of the role to assume.
    #[tf(computed)]
    pub role_arn: Val<String>,
    /// What the token's subject names: `space`, `feed`.
    #[tf(computed)]
    pub subject_keys: Val<Vec<String>>,
}

fn text(v: Option<String>) -> Val<String> {
    Val::Known(v.unwrap_or_default())
}

impl Lookup<Feed> for FeedData {
    fn accepts(config: &Self, found: &Feed) -> Result<(), Diagnostic> {
        let is = type_name(found.feed_type);
        match config.feed_type.known() {
            Some(wanted) if *wanted != is => Err(Diagnostic::error(
                format!(
                    "The feed {:?} is a {is} feed, not a {wanted} one",
                    found.name
                ),
                "Check `feed_type`, or leave it out to accept any type.",
            )
            .at(AttributePath::root("feed_type"))),
            _ => Ok(()),
        }
    }

    fn found(config: Self, f: Feed, space: &str) -> Self {
        let oidc = EcrRegistry::read(&f).oidc_authentication;
        FeedData {
            query: config.query.answered(space),
            feed_type: Val::Known(type_name(f.feed_type)),
            id: f.id.into(),
            feed_uri: text(f.feed_uri),
            username: text(f.username),
            access_key: text(f.access_key),
            region: text(f.region),
            api_version: text(f.api_version),
            registry_path: text(f.registry_path),
            repository: text(f.repository),
            layout_regex: text(f.layout_regex),
            download_attempts: Val::Known(f.download_attempts.unwrap_or(0).into()),
            download_retry_backoff_seconds: Val::Known(
                f.download_retry_backoff_seconds.unwrap_or(0).into(),
            ),
            is_enhanced_mode: Val::Known(f.enhanced_mode.unwrap_or(false)),
            use_machine_credentials: Val::Known(f.use_machine_credentials.unwrap_or(false)),
            oidc_authentication: match oidc {
                Val::Known(o) => Val::Known(FoundOidc {
                    session_duration: o.session_duration,
                    audience: o.audience,
                    role_arn: o.role_arn,
                    subject_keys: Val::Known(o.subject_keys.into_known().unwrap_or_default()),
                }),
                _ => Val::Null,
            },
            package_acquisition_location_options: Val::Known(
                f.package_acquisition_location_options,
            ),
        }
    }
}
