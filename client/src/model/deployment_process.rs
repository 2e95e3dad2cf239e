//! Deployment processes (`/api/{spaceId}/deploymentprocesses`): steps and actions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::feed::SensitiveValue;
use super::{Extra, Links, Resource, is_default, nullable};

/// Well-known built-in `ActionType`s. Step packages (next) add their own step IDs.
pub mod action_types {
    /// Run a script.
    pub const SCRIPT: &str = "Octopus.Script";
    /// Deploy a package to a Tentacle.
    pub const TENTACLE_PACKAGE: &str = "Octopus.TentaclePackage";
    /// Manual intervention.
    pub const MANUAL: &str = "Octopus.Manual";
    /// Send an email.
    pub const EMAIL: &str = "Octopus.Email";

    /// Every built-in action type the embedded server accepts.
    pub const BUILT_IN: &[&str] = &[
        SCRIPT,
        TENTACLE_PACKAGE,
        MANUAL,
        EMAIL,
        "Octopus.TransferPackage",
        "Octopus.WindowsService",
        "Octopus.IIS",
        "Octopus.Nginx",
        "Octopus.HealthCheck",
        "Octopus.DeployRelease",
        "Octopus.TerraformApply",
        "Octopus.TerraformDestroy",
        "Octopus.TerraformPlan",
        "Octopus.AzurePowerShell",
        "Octopus.AzureResourceGroup",
        "Octopus.AzureAppService",
        "Octopus.AwsRunScript",
        "Octopus.AwsRunCloudFormation",
        "Octopus.AwsUploadS3",
        "Octopus.KubernetesRunScript",
        "Octopus.KubernetesDeployContainers",
        "Octopus.KubernetesDeployRawYaml",
        "Octopus.KubernetesDeployService",
        "Octopus.KubernetesDeployIngress",
        "Octopus.KubernetesDeploySecret",
        "Octopus.KubernetesDeployConfigMap",
        "Octopus.HelmChartUpgrade",
        "Octopus.Kustomize",
    ];
}

/// A project's deployment process: one document, read whole and written whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentProcess {
    /// `deploymentprocess-<ProjectId>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Owning space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// Owning project.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub project_id: String,
    /// Optimistic-concurrency version: send back the value you read.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub version: i32,
    /// Snapshot taken by the last release, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_snapshot_id: Option<String>,
    /// Steps in execution order.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub steps: Vec<Step>,
    /// Last modification time (ISO 8601), server-set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_on: Option<String>,
    /// Last modifier, server-set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<String>,
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

impl DeploymentProcess {
    /// The process ID belonging to a project.
    pub fn id_for_project(project_id: &str) -> String {
        format!("deploymentprocess-{project_id}")
    }

    /// Whether `id` is a release's snapshot of a process
    /// (`deploymentprocess-<ProjectId>-s-<n>-<XXXXX>`), which never changes.
    pub fn is_snapshot_id(id: &str) -> bool {
        id.contains("-s-")
    }
}

impl Resource for DeploymentProcess {
    const COLLECTION: &'static str = "deploymentprocesses";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// A step of a process; it runs one or more actions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Step {
    /// Step GUID; assigned by the server when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name, unique within the process.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// `Success` (default), `Failure`, `Always` or `Variable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// `StartAfterPrevious` (default) or `StartWithPrevious`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_trigger: Option<String>,
    /// `LetOctopusDecide` (default), `BeforePackageAcquisition` or `AfterPackageAcquisition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_requirement: Option<String>,
    /// Step properties such as `Octopus.Action.TargetRoles`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub properties: BTreeMap<String, PropertyValue>,
    /// Actions; a step has at least one.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub actions: Vec<Action>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An action: what a step actually does, identified by its `ActionType`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Action {
    /// Action GUID; assigned by the server when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name, unique within the process.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// URL-friendly name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Built-in type such as `Octopus.Script`, or a step package's step ID.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub action_type: String,
    /// Whether the action is skipped.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub is_disabled: bool,
    /// Whether the action cannot be skipped at deployment time.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub is_required: bool,
    /// Run condition of the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Free text; `null` when unset (always present, as Octopus sends it).
    #[serde(default)]
    pub notes: Option<String>,
    /// Worker pool to run on; `null` when unset (always present).
    #[serde(default)]
    pub worker_pool_id: Option<String>,
    /// Variable naming the worker pool; `null` when unset (always present).
    #[serde(default)]
    pub worker_pool_variable: Option<String>,
    /// Execution container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// Whether package versions of this action may version releases.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub can_be_used_for_project_versioning: bool,
    /// Channel scope.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub channels: Vec<String>,
    /// Environment scope.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub environments: Vec<String>,
    /// Excluded environments.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub excluded_environments: Vec<String>,
    /// Tenant tag scope.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub tenant_tags: Vec<String>,
    /// Packages used by the action; `Name` `""` is the primary package.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub packages: Vec<PackageReference>,
    /// Git repositories used by the action.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub git_dependencies: Vec<GitDependency>,
    /// Action properties (the property bag).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub properties: BTreeMap<String, PropertyValue>,
    /// Step packages: version of the step package this action runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_package_version: Option<String>,
    /// Step packages: inputs conforming to the step package's input schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<serde_json::Value>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The container an action runs in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    /// Feed the image comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_id: Option<String>,
    /// Image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// A package used by an action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct PackageReference {
    /// Reference GUID; assigned by the server when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Reference name; `""` is the primary package.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// Package ID in the feed.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub package_id: String,
    /// Feed holding the package.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub feed_id: String,
    /// `Server`, `ExecutionTarget`, `NotAcquired` or an expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquisition_location: Option<String>,
    /// Pinned version, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Reference properties (always serialized).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub properties: BTreeMap<String, String>,
    /// Step packages: the `referenceId` of the input naming this package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_package_inputs_reference_id: Option<String>,
}

/// A Git repository used by an action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct GitDependency {
    /// Dependency name; `""` is the primary one.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// Repository URL.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub repository_uri: String,
    /// Default branch.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub default_branch: String,
    /// `Anonymous`, `Library`, ...
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub git_credential_type: String,
    /// Path filters.
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "is_default"
    )]
    pub file_path_filters: Vec<String>,
    /// Git credential, for `Library`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_credential_id: Option<String>,
    /// GitHub connection, for GitHub apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_hub_connection_id: Option<String>,
    /// Step packages: the input this dependency is referenced from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_package_inputs_reference_id: Option<String>,
}

/// A property value: plain text, or a sensitive value (`{HasValue, NewValue}`).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(untagged)]
pub enum PropertyValue {
    /// Plain text.
    Text(String),
    /// A secret; reads only carry `HasValue`.
    Sensitive(SensitiveValue),
}

impl Default for PropertyValue {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl From<&str> for PropertyValue {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for PropertyValue {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl PropertyValue {
    /// The plain text, if this is not a sensitive value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            Self::Sensitive(_) => None,
        }
    }
}

impl Serialize for PropertyValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(t) => s.serialize_str(t),
            Self::Sensitive(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for PropertyValue {
    /// `null` is empty text, a string is text, an object is a sensitive value. Errors
    /// say what kind of value was found, never the value (it may be a secret).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PropertyValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a sensitive value {\"HasValue\", \"NewValue\"}")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<PropertyValue, E> {
                Ok(PropertyValue::Text(String::new()))
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<PropertyValue, E> {
                Ok(PropertyValue::Text(String::new()))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<PropertyValue, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PropertyValue, E> {
                Ok(PropertyValue::Text(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<PropertyValue, E> {
                Ok(PropertyValue::Text(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<PropertyValue, A::Error> {
                SensitiveValue::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(PropertyValue::Sensitive)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_values_parse_and_errors_do_not_quote_them() {
        let p: BTreeMap<String, PropertyValue> = serde_json::from_str(
            r#"{"a": "x", "b": null, "c": {"HasValue": true, "NewValue": "s"}}"#,
        )
        .unwrap();
        assert_eq!(p["a"], PropertyValue::from("x"));
        assert_eq!(p["b"], PropertyValue::from(""));
        assert_eq!(p["c"], PropertyValue::Sensitive(SensitiveValue::new("s")));
        let e = serde_json::from_str::<PropertyValue>(r#"["SECRET-VALUE"]"#).unwrap_err();
        assert!(!e.to_string().contains("SECRET-VALUE"), "{e}");
        assert!(e.to_string().contains("sensitive value"), "{e}");
        // A sensitive value of the wrong shape is refused.
        assert!(serde_json::from_str::<PropertyValue>(r#"{"HasValue": 1}"#).is_err());
    }
}
