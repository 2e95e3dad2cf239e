//! Step packages (`/api/steppackages`): installed packages and versions, their steps'
//! metadata and input schemas, usages by deployment processes, and explicit upgrades.
//!
//! This API is an octopus-lite extension; Octopus Server has no public equivalent.
//! The package format is described in `docs/step-packages.md`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Links, nullable};

/// Which format a step package follows (`docs/step-packages.md` §5 and §7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StepPackageFormat {
    /// Ours: `step-package.json`, any launcher, declarative migrations.
    #[default]
    Ours,
    /// Octopus's CLI output: `metadata.json`, `inputs.json`, `executor.js` run by node.
    Octopus,
}

/// What a step package provides (Octopus's metadata `type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StepPackageType {
    /// Steps.
    #[default]
    Step,
    /// A deployment target type: listed, but provides no step.
    DeploymentTarget,
}

/// An installed step package: an item of `GET /api/steppackages`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StepPackageSummary {
    /// Package ID, as written in its manifest.
    pub id: String,
    /// `step` or `deployment-target`.
    #[serde(default, rename = "Type")]
    pub kind: StepPackageType,
    /// `Ours` or `Octopus`.
    #[serde(default)]
    pub format: StepPackageFormat,
    /// Newest installed version (by SemVer precedence), normalised (`1.2.0`).
    pub latest_version: String,
    /// Every installed version, oldest first.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub versions: Vec<String>,
    /// The steps of the latest version.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub steps: Vec<StepSummary>,
    /// `Self`, `Versions`, `Latest`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub links: Links,
}

/// A step's ID and display name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StepSummary {
    /// Step ID: the `ActionType` of actions using the step.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// One installed version: an item of `GET /api/steppackages/{id}/versions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StepPackageVersionSummary {
    /// Package ID.
    pub package_id: String,
    /// `step` or `deployment-target`.
    #[serde(default, rename = "Type")]
    pub kind: StepPackageType,
    /// `Ours` or `Octopus`.
    #[serde(default)]
    pub format: StepPackageFormat,
    /// Normalised version.
    pub version: String,
    /// Whether this is a pre-release (never applied automatically).
    #[serde(default)]
    pub is_prerelease: bool,
    /// SHA-256 of the archive, lower-case hex.
    pub sha256: String,
    /// Archive size in bytes.
    pub size: u64,
    /// When it was installed (ISO 8601).
    pub installed_on: String,
    /// `Feed` (the watched directory) or `Upload`.
    pub source: String,
    /// The steps of this version.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub steps: Vec<StepSummary>,
    /// `Self`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub links: Links,
}

/// One installed version with every step's metadata, input schema and migrations:
/// `GET /api/steppackages/{id}/{version}` and the answer to an upload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StepPackageVersion {
    /// Package ID.
    pub package_id: String,
    /// `step` or `deployment-target`.
    #[serde(default, rename = "Type")]
    pub kind: StepPackageType,
    /// `Ours` or `Octopus`.
    #[serde(default)]
    pub format: StepPackageFormat,
    /// Normalised version.
    pub version: String,
    /// Whether this is a pre-release.
    #[serde(default)]
    pub is_prerelease: bool,
    /// SHA-256 of the archive, lower-case hex.
    pub sha256: String,
    /// Archive size in bytes.
    pub size: u64,
    /// When it was installed (ISO 8601).
    pub installed_on: String,
    /// `Feed` or `Upload`.
    pub source: String,
    /// The steps, in manifest order.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub steps: Vec<StepPackageStep>,
    /// Usages moved to this version when it was installed (upload answers only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upgraded_usages: Vec<StepPackageUsage>,
    /// Usages left on their version because their inputs do not satisfy this version's
    /// schema (upload answers only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_usages: Vec<SkippedUsage>,
    /// `Self`, `Package`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub links: Links,
}

/// A step of an installed version (from its `metadata.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StepPackageStep {
    /// Step ID: the `ActionType` of actions using it.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// UI categories.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub categories: Vec<String>,
    /// Whether the step may run on a deployment target.
    #[serde(default)]
    pub can_run_on_deployment_target: bool,
    /// `node`, `python`, `executable` or `shell`.
    pub launcher: String,
    /// Executor entrypoint inside the step directory.
    pub entrypoint: String,
    /// Logo path inside the step directory.
    pub logo: String,
    /// The inputs JSON Schema, as shipped.
    pub inputs_schema: serde_json::Value,
    /// The declarative migrations (`{"migrations": [...]}`), as shipped (ours; empty for
    /// Octopus's format, which ships `migration.js`).
    pub migrations: serde_json::Value,
    /// `Ours` or `Octopus`: which executor contract and inputs conventions apply.
    #[serde(default)]
    pub format: StepPackageFormat,
    /// Octopus's format: the migration script from the previous major (`migration.js`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_script: Option<String>,
    /// Octopus's format: the deployment target type the step names (need not be installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_target_id: Option<String>,
    /// Release notes link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_notes_url: Option<String>,
}

/// A process action using a step-package step: an item of `GET /api/steppackages/usages`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StepPackageUsage {
    /// Space of the process.
    pub space_id: String,
    /// Project of the process.
    pub project_id: String,
    /// The process.
    pub deployment_process_id: String,
    /// Name of the process step holding the action.
    pub step_name: String,
    /// Action GUID.
    pub action_id: String,
    /// Action name.
    pub action_name: String,
    /// Package providing the step.
    pub step_package_id: String,
    /// Step ID (the action's `ActionType`).
    pub step_id: String,
    /// The action's `StepPackageVersion`.
    pub version: String,
    /// Newest installed release on the same major, when newer than `Version` (the usage
    /// was not moved because its inputs do not satisfy that version's schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_version: Option<String>,
    /// Newest installed release on a higher major, if any (needs an explicit upgrade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_major_version: Option<String>,
}

/// A usage an automatic upgrade left alone, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SkippedUsage {
    /// The usage (at its unchanged version).
    pub usage: StepPackageUsage,
    /// The validation errors against the new version, each naming an input path.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub reasons: Vec<String>,
}

/// Body of `POST /api/{spaceId}/deploymentprocesses/{id}/steppackages/upgrade`: moves one
/// action to another version of its step, running the declarative migrations between majors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StepPackageUpgrade {
    /// The action, by ID (or give `ActionName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
    /// The action, by name (when `ActionId` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_name: Option<String>,
    /// Target version: an installed version (`2.0.0`), or a major (`2`, `2.x`) meaning the
    /// newest installed release on it.
    pub version: String,
    /// The process `Version` last read; the upgrade is refused with 409 if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_version: Option<i32>,
    /// Answer with the upgraded process without saving it.
    #[serde(default)]
    pub dry_run: bool,
}

/// The server's trusted allow-list: `GET /api/steppackages/trusted`. Only packages on it
/// can be installed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct TrustedStepPackages {
    /// The trusted packages.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub packages: Vec<TrustedStepPackage>,
}

/// One entry of the trusted allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct TrustedStepPackage {
    /// Package ID (compared case-insensitively).
    pub id: String,
    /// The versions trusted (NuGet or npm range); every version when `null`.
    #[serde(default)]
    pub versions: Option<String>,
}
