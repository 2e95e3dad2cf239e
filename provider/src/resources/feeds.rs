//! The feed resources, one per Octopus feed type (`octopus_nuget_feed`,
//! `octopus_docker_container_registry`, ...), each with the attributes that type has in
//! the official provider. A feed resource is its identity plus a few shared parts
//! ([`FeedPart`]: the URI, a login, download retries, ...); [`feed_resources!`] declares
//! each type once from its parts, and all of them go through the one generic
//! [`ApiResource`](super::api::ApiResource).
//!
//! Secrets (`password`, `secret_key`) are sensitive and never returned by the server,
//! which only says whether one is set (`HasValue`): the state keeps the configured value
//! while the server has one, and a secret cleared on the server reads as null, which
//! plans to set it again. Their write-only variants (`password_wo` with
//! `password_wo_version`, Terraform 1.11 and later) keep the secret out of state; the
//! version is what changes to send a new one.

use super::api::{ApiModel, ApiResource};
use crate::Octopus;
use octopus_client::model::{Feed, FeedType, SensitiveValue};
use serde_json::{Value as Json, json};
use tf_sdk::{AttributePath, Diagnostic, Diagnostics, ErasedResource, Model, Val, resource};

/// A group of a feed's attributes and the API fields they map to.
pub(crate) trait FeedPart: Sized {
    /// Writes the attributes into the feed document.
    fn write(&self, f: &mut Feed);
    /// The attributes of a feed document; what the server has but does not return is
    /// unknown (see [`ApiModel::from_api`]).
    fn read(f: &Feed) -> Self;
    /// Checks the configuration; `terraform` is Terraform's version at plan time and
    /// `None` when validating.
    fn check(&self, _terraform: Option<&str>, _diags: &mut Diagnostics) {}
}

/// Every feed's ID, space and name.
#[derive(Model, Clone, Debug)]
pub struct FeedIdentity {
    /// The feed's ID, e.g. `Feeds-1`.
    #[tf(computed, use_state_for_unknown)]
    pub id: Val<String>,
    /// The space the feed is in; the provider's space when not set. Changing it
    /// replaces the feed.
    #[tf(optional, computed, use_state_for_unknown, requires_replace, validate = crate::resources::space_id)]
    pub space_id: Val<String>,
    /// The feed's name, unique among the feeds of its space.
    #[tf(required, validate = super::name)]
    pub name: Val<String>,
}

impl FeedIdentity {
    fn write(&self, f: &mut Feed) {
        f.name = self.name.known().cloned().unwrap_or_default();
    }

    fn read(f: &Feed, space: &str) -> FeedIdentity {
        FeedIdentity {
            id: f.id.clone().into(),
            space_id: Val::Known(f.space_id.clone().unwrap_or_else(|| space.to_string())),
            name: Val::Known(f.name.clone()),
        }
    }
}

/// An optional text as the server keeps it: empty means not set.
fn text(v: &Option<String>) -> Val<String> {
    v.clone().filter(|s| !s.is_empty()).into()
}

fn non_empty(s: &String) -> Result<(), String> {
    tf_sdk::validators::length(1, usize::MAX)(s)
}

/// A user name, access key or region: at most 500 characters on the server.
fn short_text(s: &String) -> Result<(), String> {
    tf_sdk::validators::length(1, 500)(s)
}

/// A required text the server trims to check it is there (the Artifactory
/// repository): not blank, at most 500 characters.
fn required_text(s: &String) -> Result<(), String> {
    short_text(s)?;
    if s.trim().is_empty() {
        return Err("must not be blank; the server requires a value".into());
    }
    Ok(())
}

/// Longest feed URI the server accepts.
const MAX_URI: usize = 2048;

/// An absolute URI, as the server requires, of at most 2048 characters.
fn absolute_uri(s: &String) -> Result<(), String> {
    tf_sdk::validators::trimmed()(s)?;
    tf_sdk::validators::length(1, MAX_URI)(s)?;
    match s.split_once("://") {
        Some((scheme, rest)) if !scheme.is_empty() && !rest.is_empty() => Ok(()),
        _ => Err(format!(
            "{s:?} is not an absolute URI; write it with its scheme, e.g. https://{s}"
        )),
    }
}

/// The feed URL.
#[derive(Model, Clone, Debug)]
pub struct FeedUri {
    /// The feed's URL, e.g. `https://api.nuget.org/v3/index.json`.
    #[tf(required, validate = absolute_uri)]
    pub feed_uri: Val<String>,
}

impl FeedPart for FeedUri {
    fn write(&self, f: &mut Feed) {
        f.feed_uri = self.feed_uri.known().cloned();
    }
    fn read(f: &Feed) -> Self {
        FeedUri {
            feed_uri: text(&f.feed_uri),
        }
    }
}

/// Terraform releases from which write-only attributes exist.
const WRITE_ONLY_SINCE: (u64, u64) = (1, 11);

/// Whether a Terraform version (`1.11.4`, `1.12.0-beta1`) has write-only attributes;
/// a version that does not parse is given the benefit of the doubt.
fn supports_write_only(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u64>()
    });
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= WRITE_ONLY_SINCE,
        _ => true,
    }
}

/// A secret's attributes: its value (kept in state), or a write-only value (never
/// stored) with the version whose change sends it again.
struct Secret<'a> {
    name: &'static str,
    value: &'a Val<String>,
    write_only: &'a Val<String>,
    version: &'a Val<i64>,
}

impl Secret<'_> {
    /// The secret as Octopus takes it; `None` clears it.
    fn to_api(&self) -> Option<SensitiveValue> {
        self.value
            .known()
            .or(self.write_only.known())
            .map(|v| SensitiveValue::new(v.clone()))
    }

    /// The value and version a read gives: unknown (the resource keeps the planned or
    /// stored ones) while the server has a secret, null once it has none.
    fn from_api(s: &Option<SensitiveValue>) -> (Val<String>, Val<i64>) {
        if s.as_ref().is_some_and(|s| s.has_value) {
            (Val::Unknown, Val::Unknown)
        } else {
            (Val::Null, Val::Null)
        }
    }

    fn check(&self, terraform: Option<&str>, diags: &mut Diagnostics) {
        let (name, wo) = (self.name, format!("{}_wo", self.name));
        if self.value.is_known() && self.write_only.is_known() {
            diags.push(
                Diagnostic::error(
                    format!("Set either {name} or {wo}, not both"),
                    format!("`{wo}` is the write-only form of `{name}`: use one of them."),
                )
                .at(AttributePath::root(wo.clone())),
            );
        }
        if self.version.is_known() && self.write_only.is_null() {
            diags.push(
                Diagnostic::error(
                    format!("{wo}_version without {wo}"),
                    format!("`{wo}_version` says when to send `{wo}` again; set `{wo}` too."),
                )
                .at(AttributePath::root(format!("{wo}_version"))),
            );
        }
        if let Some(tf) = terraform
            && !self.write_only.is_null()
            && !supports_write_only(tf)
        {
            diags.push(
                Diagnostic::error(
                    format!("{wo} needs Terraform 1.11 or later"),
                    format!(
                        "Write-only attributes are new in Terraform 1.11; this is Terraform {tf}. \
                         Use `{name}` instead (kept in state, marked sensitive), or upgrade."
                    ),
                )
                .at(AttributePath::root(wo)),
            );
        }
    }
}

/// A user name and password.
#[derive(Model, Clone, Debug)]
pub struct Login {
    /// The user name to authenticate with.
    #[tf(optional, sensitive, validate = short_text)]
    pub username: Val<String>,
    /// The password to authenticate with. The server never returns it: the state keeps
    /// the configured one while the server has a password.
    #[tf(optional, sensitive, validate = non_empty)]
    pub password: Val<String>,
    /// The password, write-only (Terraform 1.11 and later): sent to the server, never
    /// kept in state. Use instead of `password`, with `password_wo_version`.
    #[tf(optional, sensitive, write_only, validate = non_empty)]
    pub password_wo: Val<String>,
    /// Change it to send `password_wo` again (Terraform cannot tell when a write-only
    /// value changed). A password removed on the server makes it plan again.
    #[tf(optional)]
    pub password_wo_version: Val<i64>,
}

impl Login {
    fn secret(&self) -> Secret<'_> {
        Secret {
            name: "password",
            value: &self.password,
            write_only: &self.password_wo,
            version: &self.password_wo_version,
        }
    }
}

impl FeedPart for Login {
    fn write(&self, f: &mut Feed) {
        f.username = self.username.known().cloned();
        f.password = self.secret().to_api();
    }
    fn read(f: &Feed) -> Self {
        let (password, password_wo_version) = Secret::from_api(&f.password);
        Login {
            username: text(&f.username),
            password,
            password_wo: Val::Null,
            password_wo_version,
        }
    }
    fn check(&self, terraform: Option<&str>, diags: &mut Diagnostics) {
        self.secret().check(terraform, diags);
    }
}

/// How deployments retry downloads from the feed.
#[derive(Model, Clone, Debug)]
pub struct Downloads {
    /// How many times a deployment tries to download a package from the feed.
    #[tf(optional, computed, default = 5, validate = tf_sdk::validators::range(0, 100))]
    pub download_attempts: Val<i64>,
    /// Seconds of linear back-off between download attempts.
    #[tf(optional, computed, default = 10, validate = tf_sdk::validators::range(0, 3600))]
    pub download_retry_backoff_seconds: Val<i64>,
}

impl FeedPart for Downloads {
    fn write(&self, f: &mut Feed) {
        // Validated to fit.
        f.download_attempts = self.download_attempts.known().map(|&n| n as i32);
        f.download_retry_backoff_seconds = self
            .download_retry_backoff_seconds
            .known()
            .map(|&n| n as i32);
    }
    fn read(f: &Feed) -> Self {
        // Servers before Octopus 2025.4 do not report them: their defaults.
        Downloads {
            download_attempts: Val::Known(f.download_attempts.unwrap_or(5).into()),
            download_retry_backoff_seconds: Val::Known(
                f.download_retry_backoff_seconds.unwrap_or(10).into(),
            ),
        }
    }
}

/// Where packages may be acquired: Octopus' three choices.
const ACQUISITION: &[&str] = &["Server", "ExecutionTarget", "NotAcquired"];

// A validator of a `Val<Vec<String>>` attribute takes `&Vec<String>`.
#[allow(clippy::ptr_arg)]
fn acquisition(options: &Vec<String>) -> Result<(), String> {
    options
        .iter()
        .try_for_each(tf_sdk::validators::one_of(ACQUISITION))
}

/// Where steps may acquire the feed's packages.
#[derive(Model, Clone, Debug)]
pub struct Acquisition {
    /// Where packages from the feed may be acquired: `Server`, `ExecutionTarget`,
    /// `NotAcquired`.
    #[tf(optional, computed, use_state_for_unknown, validate = acquisition)]
    pub package_acquisition_location_options: Val<Vec<String>>,
}

impl FeedPart for Acquisition {
    fn write(&self, f: &mut Feed) {
        if let Some(o) = self.package_acquisition_location_options.known() {
            f.package_acquisition_location_options = o.clone();
        }
    }
    fn read(f: &Feed) -> Self {
        Acquisition {
            package_acquisition_location_options: Val::Known(
                f.package_acquisition_location_options.clone(),
            ),
        }
    }
}

/// NuGet's enhanced mode.
#[derive(Model, Clone, Debug)]
pub struct EnhancedMode {
    /// Faster queries, which some older feeds do not support: turn it off when creating
    /// a release does not find a package's latest version.
    #[tf(optional, computed, default = true)]
    pub is_enhanced_mode: Val<bool>,
}

impl FeedPart for EnhancedMode {
    fn write(&self, f: &mut Feed) {
        f.enhanced_mode = self.is_enhanced_mode.known().copied();
    }
    fn read(f: &Feed) -> Self {
        EnhancedMode {
            is_enhanced_mode: Val::Known(f.enhanced_mode.unwrap_or(false)),
        }
    }
}

/// A container registry's API.
#[derive(Model, Clone, Debug)]
pub struct DockerRegistry {
    /// The registry API version, e.g. `v2`.
    #[tf(optional, validate = non_empty)]
    pub api_version: Val<String>,
    /// The path of the registry below `feed_uri`, for registries not at its root.
    #[tf(optional, validate = non_empty)]
    pub registry_path: Val<String>,
}

impl FeedPart for DockerRegistry {
    fn write(&self, f: &mut Feed) {
        f.api_version = self.api_version.known().cloned();
        f.registry_path = self.registry_path.known().cloned();
    }
    fn read(f: &Feed) -> Self {
        DockerRegistry {
            api_version: text(&f.api_version),
            registry_path: text(&f.registry_path),
        }
    }
}

/// An Artifactory repository.
#[derive(Model, Clone, Debug)]
pub struct ArtifactoryRepository {
    /// The Artifactory repository, e.g. `generic-local`.
    #[tf(required, validate = required_text)]
    pub repository: Val<String>,
    /// The regular expression that reads package IDs and versions from the repository's
    /// paths.
    #[tf(optional, validate = non_empty)]
    pub layout_regex: Val<String>,
}

impl FeedPart for ArtifactoryRepository {
    fn write(&self, f: &mut Feed) {
        f.repository = self.repository.known().cloned();
        f.layout_regex = self.layout_regex.known().cloned();
    }
    fn read(f: &Feed) -> Self {
        ArtifactoryRepository {
            repository: text(&f.repository),
            layout_regex: text(&f.layout_regex),
        }
    }
}

/// An AWS access key pair.
#[derive(Model, Clone, Debug)]
pub struct AwsKeys {
    /// The AWS access key ID.
    #[tf(optional, validate = short_text)]
    pub access_key: Val<String>,
    /// The AWS secret access key. The server never returns it: the state keeps the
    /// configured one while the server has a key.
    #[tf(optional, sensitive, validate = non_empty)]
    pub secret_key: Val<String>,
    /// The secret access key, write-only (Terraform 1.11 and later): sent to the
    /// server, never kept in state. Use instead of `secret_key`, with
    /// `secret_key_wo_version`.
    #[tf(optional, sensitive, write_only, validate = non_empty)]
    pub secret_key_wo: Val<String>,
    /// Change it to send `secret_key_wo` again. A key removed on the server makes it
    /// plan again.
    #[tf(optional)]
    pub secret_key_wo_version: Val<i64>,
}

impl AwsKeys {
    fn secret(&self) -> Secret<'_> {
        Secret {
            name: "secret_key",
            value: &self.secret_key,
            write_only: &self.secret_key_wo,
            version: &self.secret_key_wo_version,
        }
    }
}

impl FeedPart for AwsKeys {
    fn write(&self, f: &mut Feed) {
        f.access_key = self.access_key.known().cloned();
        f.secret_key = self.secret().to_api();
    }
    fn read(f: &Feed) -> Self {
        let (secret_key, secret_key_wo_version) = Secret::from_api(&f.secret_key);
        AwsKeys {
            access_key: text(&f.access_key),
            secret_key,
            secret_key_wo: Val::Null,
            secret_key_wo_version,
        }
    }
    fn check(&self, terraform: Option<&str>, diags: &mut Diagnostics) {
        self.secret().check(terraform, diags);
    }
}

/// OIDC authentication to AWS, instead of keys.
#[derive(Model, Clone, Debug)]
pub struct EcrOidc {
    /// How long the assumed role's session lasts, in seconds.
    #[tf(optional, computed, default = "")]
    pub session_duration: Val<String>,
    /// The audience of the token Octopus presents to AWS.
    #[tf(optional, computed, default = "")]
    pub audience: Val<String>,
    /// The ARN of the role to assume.
    #[tf(optional, computed, default = "")]
    pub role_arn: Val<String>,
    /// What the token's subject names: `space`, `feed`.
    #[tf(optional)]
    pub subject_keys: Val<Vec<String>>,
}

/// The AWS region and how to authenticate without keys.
#[derive(Model, Clone, Debug)]
pub struct EcrRegistry {
    /// The AWS region of the registry, e.g. `eu-west-1`.
    #[tf(required, validate = short_text)]
    pub region: Val<String>,
    /// Authenticate with OIDC (an assumed role) instead of keys.
    #[tf(optional, nested)]
    pub oidc_authentication: Val<EcrOidc>,
}

/// The text of an OIDC setting, empty when absent.
fn setting(o: &Json, key: &str) -> Val<String> {
    Val::Known(o[key].as_str().unwrap_or_default().to_string())
}

impl FeedPart for EcrRegistry {
    fn write(&self, f: &mut Feed) {
        f.region = self.region.known().cloned();
        f.oidc_authentication = self.oidc_authentication.known().map(|o| {
            // Empty settings are left out, as Octopus' Go client sends them.
            let mut doc = serde_json::Map::new();
            for (key, v) in [
                ("SessionDuration", &o.session_duration),
                ("Audience", &o.audience),
                ("RoleArn", &o.role_arn),
            ] {
                if let Some(v) = v.known().filter(|v| !v.is_empty()) {
                    doc.insert(key.into(), json!(v));
                }
            }
            if let Some(keys) = o.subject_keys.known() {
                doc.insert("SubjectKeys".into(), json!(keys));
            }
            Json::Object(doc)
        });
    }
    fn read(f: &Feed) -> Self {
        let oidc = f.oidc_authentication.as_ref().filter(|o| o.is_object());
        EcrRegistry {
            region: text(&f.region),
            oidc_authentication: oidc
                .map(|o| EcrOidc {
                    session_duration: setting(o, "SessionDuration"),
                    audience: setting(o, "Audience"),
                    role_arn: setting(o, "RoleArn"),
                    subject_keys: serde_json::from_value(o["SubjectKeys"].clone()).ok().into(),
                })
                .into(),
        }
    }
}

/// S3's choice of the worker's own credentials.
#[derive(Model, Clone, Debug)]
pub struct MachineCredentials {
    /// Whether to use the credentials configured on the worker instead of keys.
    #[tf(required)]
    pub use_machine_credentials: Val<bool>,
}

impl FeedPart for MachineCredentials {
    fn write(&self, f: &mut Feed) {
        f.use_machine_credentials = self.use_machine_credentials.known().copied();
    }
    fn read(f: &Feed) -> Self {
        MachineCredentials {
            use_machine_credentials: Val::Known(f.use_machine_credentials.unwrap_or(false)),
        }
    }
}

/// The name of a feed type as Octopus writes it (`NuGet`).
pub(crate) fn type_name(t: FeedType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Declares each feed resource: its model (identity plus parts), its mapping to the
/// API and its type name; and [`resources`], every one of them.
macro_rules! feed_resources {
    ($(
        $(#[doc = $doc:tt])*
        $model:ident = $name:literal, $feed_type:ident { $($part:ident: $ty:ty),* $(,)? }
    )*) => {
        $(
            $(#[doc = $doc])*
            #[derive(Model, Clone, Debug)]
            pub struct $model {
                /// ID, space and name.
                #[tf(flatten)]
                pub identity: FeedIdentity,
                $(
                    #[tf(flatten)]
                    pub $part: $ty,
                )*
            }

            impl ApiModel for $model {
                type Api = Feed;

                fn to_api(&self, f: &mut Feed) {
                    f.feed_type = FeedType::$feed_type;
                    self.identity.write(f);
                    $(self.$part.write(f);)*
                }

                fn from_api(f: Feed, space: &str) -> Self {
                    $model {
                        identity: FeedIdentity::read(&f, space),
                        $($part: FeedPart::read(&f),)*
                    }
                }

                fn accepts(f: &Feed) -> Result<(), String> {
                    accepts(f, FeedType::$feed_type)
                }

                fn check(&self, diags: &mut Diagnostics) {
                    $(self.$part.check(None, diags);)*
                }

                fn plan_checks(&self, o: &Octopus, diags: &mut Diagnostics) {
                    $(self.$part.check(Some(&o.terraform_version), diags);)*
                }
            }
        )*

        /// Every feed resource.
        pub(crate) fn resources() -> Vec<Box<dyn ErasedResource<Octopus>>> {
            vec![$(resource(ApiResource::<$model>::new($name)),)*]
        }

        /// The resource type (without the provider prefix) managing feeds of type `t`.
        fn resource_for(t: FeedType) -> Option<&'static str> {
            match t {
                $(FeedType::$feed_type => Some($name),)*
                _ => None,
            }
        }
    };
}

/// Whether a feed read is of the resource's type; if not, which resource manages it.
fn accepts(f: &Feed, wanted: FeedType) -> Result<(), String> {
    if f.feed_type == wanted {
        return Ok(());
    }
    let is = type_name(f.feed_type);
    Err(match resource_for(f.feed_type) {
        Some(r) => format!("It is a {is} feed: manage it with octopus_{r}."),
        None => format!(
            "It is a {is} feed, which this provider has no resource for (this one manages {} feeds).",
            type_name(wanted)
        ),
    })
}

feed_resources! {
    /// A NuGet feed (nuget.org, a NuGet server, Azure Artifacts, ...).
    NugetFeedModel = "nuget_feed", NuGet {
        uri: FeedUri, login: Login, downloads: Downloads, acquisition: Acquisition,
        enhanced: EnhancedMode,
    }
    /// A Docker container registry (Docker Hub or any registry speaking its API).
    DockerRegistryModel = "docker_container_registry", Docker {
        uri: FeedUri, login: Login, downloads: Downloads, acquisition: Acquisition,
        registry: DockerRegistry,
    }
    /// A Maven repository.
    MavenFeedModel = "maven_feed", Maven {
        uri: FeedUri, login: Login, downloads: Downloads, acquisition: Acquisition,
    }
    /// A Helm chart repository.
    HelmFeedModel = "helm_feed", Helm {
        uri: FeedUri, login: Login, acquisition: Acquisition,
    }
    /// GitHub releases as a feed: each repository's releases are a package's versions.
    GitHubFeedModel = "github_repository_feed", GitHub {
        uri: FeedUri, login: Login, downloads: Downloads, acquisition: Acquisition,
    }
    /// An npm registry.
    NpmFeedModel = "npm_feed", Npm {
        uri: FeedUri, login: Login, downloads: Downloads, acquisition: Acquisition,
    }
    /// An Artifactory generic repository.
    ArtifactoryFeedModel = "artifactory_generic_feed", ArtifactoryGeneric {
        uri: FeedUri, login: Login, acquisition: Acquisition, repository: ArtifactoryRepository,
    }
    /// An AWS Elastic Container Registry, reached with keys or OIDC.
    EcrFeedModel = "aws_elastic_container_registry", AwsElasticContainerRegistry {
        registry: EcrRegistry, keys: AwsKeys, acquisition: Acquisition,
    }
    /// Amazon S3 buckets as a feed.
    S3FeedModel = "s3_feed", S3 {
        credentials: MachineCredentials, keys: AwsKeys, login: Login,
    }
    /// An OCI registry (Helm charts and other artifacts stored as OCI images).
    OciFeedModel = "oci_registry_feed", OciRegistry {
        uri: FeedUri, login: Login,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_only_arrived_in_terraform_1_11() {
        for (v, ok) in [
            ("1.0.3", false),
            ("1.10.5", false),
            ("1.11.0", true),
            ("1.11.4", true),
            ("1.12.0-beta1", true),
            ("2.0.0", true),
            ("", true),
        ] {
            assert_eq!(supports_write_only(v), ok, "{v}");
        }
    }

    #[test]
    fn every_feed_resource_names_its_type() {
        let names: Vec<String> = resources().iter().map(|r| r.name().to_string()).collect();
        assert_eq!(names.len(), 10);
        // Doc comments through the macro become the schema's descriptions.
        let block = NugetFeedModel::block();
        assert!(
            block.description.starts_with("A NuGet feed"),
            "{}",
            block.description
        );
        assert!(block.attribute("password_wo").unwrap().write_only);
        assert_eq!(resource_for(FeedType::Npm), Some("npm_feed"));
        assert_eq!(resource_for(FeedType::BuiltIn), None);
        let f = Feed::new("x", FeedType::Docker, None);
        assert!(
            accepts(&f, FeedType::NuGet)
                .unwrap_err()
                .contains("octopus_docker_container_registry")
        );
    }
}
