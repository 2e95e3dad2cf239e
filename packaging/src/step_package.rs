//! Our step-package format (documented in `docs/step-packages.md`): loading and validating a
//! package, validating a usage's `Inputs`, declarative input migrations between majors, and
//! the automatic-upgrade rule.
//!
//! Layout of `<id>.<version>.zip|tar.gz|tgz`:
//!
//! ```text
//! step-package.json                 {"formatVersion": 1, "id", "version", "steps": ["steps/hello"]}
//! steps/hello/metadata.json         StepMetadata
//! steps/hello/inputs.schema.json    JSON Schema of the Inputs object (see crate::schema)
//! steps/hello/migrations.json       required from major 2 on: one migration per earlier major
//! steps/hello/logo.svg              logo (.svg or .png)
//! steps/hello/run.sh                executor entrypoint, any language
//! ```
//!
//! Octopus's format (what `@octopusdeploy/step-package-cli` builds: one step or deployment
//! target per archive, flat root, see `docs/step-packages.md` §7) loads into the same model:
//! [`StepPackage::format`] says which, the manifest is derived from `metadata.json` and the
//! file name, and the one step's directory is the archive root.
//!
//! ```text
//! metadata.json   {"schemaVersion": "1.0.0", "type": "step", "id", "name", "launcher": "node", ...}
//! inputs.json     draft-07 JSON Schema with Octopus's markers (crate::schema::Dialect::Octopus)
//! executor.js     CommonJS, default export called with {inputs, context}
//! migration.js    required from major 2 on (converts the previous major's inputs)
//! validation.js, ui.js, logo.*, *.map
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::archive::{self, ArchiveError, ArchiveLimits, ArchiveSummary, EntryKind};
use crate::filename::{self, ArchiveKind, PackageFileName};
use crate::range::VersionRange;
use crate::schema::{Dialect, InputSchema, SchemaError, ValidationError};
use crate::version::Version;

/// Name of the manifest at the archive root.
pub const MANIFEST_FILE: &str = "step-package.json";
/// Name of each step's metadata file, inside the step directory.
pub const METADATA_FILE: &str = "metadata.json";
/// The only manifest format version so far.
pub const FORMAT_VERSION: u32 = 1;
/// Largest JSON file (manifest, metadata, schema, migrations) read from a package.
pub const MAX_JSON_FILE: u64 = 1 << 20;

/// Octopus's per-archive metadata file (at the root).
pub const OCTOPUS_METADATA_FILE: &str = "metadata.json";
/// Octopus's inputs schema file.
pub const OCTOPUS_INPUTS_FILE: &str = "inputs.json";
/// Octopus's executor (node, CommonJS).
pub const OCTOPUS_EXECUTOR_FILE: &str = "executor.js";
/// Octopus's migration from the previous major (node, CommonJS).
pub const OCTOPUS_MIGRATION_FILE: &str = "migration.js";

/// Which format (and executor contract) a package follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StepFormat {
    /// Ours: `step-package.json`, steps in directories, any launcher, declarative migrations.
    #[default]
    Ours,
    /// Octopus's CLI output: root `metadata.json`, `inputs.json`, `executor.js` run by node.
    Octopus,
}

impl StepFormat {
    /// The schema conventions of this format's inputs schemas.
    pub fn schema_dialect(self) -> Dialect {
        match self {
            StepFormat::Ours => Dialect::Ours,
            StepFormat::Octopus => Dialect::Octopus,
        }
    }
}

/// What an archive provides (Octopus's `metadata.json` `type`; ours always holds steps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageKind {
    /// Steps.
    #[default]
    Step,
    /// A deployment target type: installed and listed, but provides no step.
    DeploymentTarget,
}

/// Octopus's `metadata.json` (§16.2 of the reference). Unknown fields are kept, not refused:
/// the CLI's schema allows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OctopusMetadata {
    /// Metadata format version; `1.x`.
    pub schema_version: String,
    /// `step` or `deployment-target`.
    #[serde(rename = "type")]
    pub kind: PackageKind,
    /// Step (or target) ID: the package ID, and the `ActionType` of actions using the step.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// UI categories.
    pub categories: Vec<String>,
    /// Always `node`.
    pub launcher: String,
    /// Version (added by the CLI); must equal the file name's when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Versions of the step APIs it was built against (informational).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub api_versions: BTreeMap<String, Value>,
    /// Related steps or targets with versions (informational: installed without them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<String, Value>,
    /// The target type whose inputs the step receives (not required to be installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_target_id: Option<String>,
    /// Whether the step may run on a deployment target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_run_on_deployment_target: Option<bool>,
    /// Release notes link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_notes_url: Option<String>,
    /// Any other field, as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `step-package.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Package ID; equals the ID in the file name.
    pub id: String,
    /// Package version; equals the version in the file name, and is every step's version.
    pub version: Version,
    /// Step directories (relative to the root), each holding a `metadata.json`.
    pub steps: Vec<String>,
}

/// How the executor starts a step's entrypoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LauncherKind {
    /// `node <entrypoint> <invocation.json>`
    Node,
    /// `python3 <entrypoint> <invocation.json>`
    Python,
    /// `<entrypoint> <invocation.json>` (a native executable)
    Executable,
    /// `sh <entrypoint> <invocation.json>`
    Shell,
}

/// `launcher` in `metadata.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Launcher {
    /// The launcher.
    pub kind: LauncherKind,
    /// Entrypoint path relative to the step directory.
    pub entrypoint: String,
}

/// A step's `metadata.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepMetadata {
    /// Step ID: the `ActionType` of actions using it; unique across all packages.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// UI categories.
    #[serde(default)]
    pub categories: Vec<String>,
    /// `true`: may run on a deployment target; `false`: runs on a worker or the server.
    pub can_run_on_deployment_target: bool,
    /// How to run the executor.
    pub launcher: Launcher,
    /// Logo path relative to the step directory (`.svg` or `.png`).
    pub logo: String,
    /// Inputs JSON Schema path relative to the step directory.
    pub inputs_schema: String,
    /// Migrations path relative to the step directory; required from major version 2 on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrations: Option<String>,
    /// Release notes link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_notes_url: Option<String>,
}

/// One declarative change to an Inputs object. Paths are JSON Pointers (`/database/port`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum MigrationOp {
    /// Move the value at `from` to `to` (no-op when `from` is absent; error if `to` exists).
    Rename {
        /// Source pointer.
        from: String,
        /// Destination pointer; missing parent objects are created.
        to: String,
    },
    /// Set `path` to `value` when absent; missing parent objects are created.
    Default {
        /// Pointer.
        path: String,
        /// Value to set.
        value: Value,
    },
    /// Delete `path` (no-op when absent).
    Remove {
        /// Pointer.
        path: String,
    },
}

/// The migration from major `from` to major `from + 1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Migration {
    /// Source major version.
    pub from: u64,
    /// Operations, applied in order.
    pub ops: Vec<MigrationOp>,
}

/// A step's `migrations.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Migrations {
    /// One entry per earlier major, each from `n` to `n + 1`.
    pub migrations: Vec<Migration>,
}

/// A loaded, validated step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Normalised step directory inside the archive.
    pub dir: String,
    /// The step's metadata.
    pub metadata: StepMetadata,
    /// The inputs schema document, as shipped.
    pub inputs_schema: Value,
    /// The migrations (empty for major 1).
    pub migrations: Migrations,
    /// The step version (the package version).
    pub version: Version,
    /// The package's format: how to run the step and migrate its inputs.
    pub format: StepFormat,
    /// Octopus's format: `migration.js` (path in the archive) when shipped.
    pub migration_script: Option<String>,
    schema: InputSchema,
}

/// A loaded, validated step package.
#[derive(Debug, Clone)]
pub struct StepPackage {
    /// The manifest (for Octopus's format: derived from `metadata.json` and the file name,
    /// `steps` being `[""]`, the root, for a step and empty for a deployment target).
    pub manifest: Manifest,
    /// The steps, in manifest order (none for a deployment target).
    pub steps: Vec<Step>,
    /// The archive's entries.
    pub archive: ArchiveSummary,
    /// Ours or Octopus's.
    pub format: StepFormat,
    /// Steps or a deployment target.
    pub kind: PackageKind,
    /// Octopus's format: the metadata as shipped.
    pub octopus: Option<OctopusMetadata>,
}

/// Why a step package was refused.
#[derive(Debug, thiserror::Error)]
pub enum StepPackageError {
    /// The archive itself was refused.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A required file is absent.
    #[error("`{path}` is missing from the package{}", if .why.is_empty() { String::new() } else { format!(" ({})", .why) })]
    MissingFile {
        /// Path inside the archive.
        path: String,
        /// What referenced it.
        why: String,
    },
    /// A JSON file does not parse or does not match its format.
    #[error("`{path}` is invalid: {reason}")]
    InvalidFile {
        /// Path inside the archive.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The inputs schema does not compile.
    #[error("`{path}`: {source}")]
    InvalidSchema {
        /// Path inside the archive.
        path: String,
        /// The compile error.
        source: SchemaError,
    },
    /// The package does not match the name it was uploaded under.
    #[error("the package is `{found}` but its file name says `{expected}`")]
    NameMismatch {
        /// `id version` from the file name.
        expected: String,
        /// `id version` from the manifest.
        found: String,
    },
}

/// Why migrating Inputs failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrationError {
    /// Downgrades are not possible.
    #[error("cannot migrate inputs from major {from} down to major {to}")]
    Downgrade {
        /// Source major.
        from: u64,
        /// Target major.
        to: u64,
    },
    /// A migration in the chain is missing.
    #[error("no migration from major {from} to {} is defined", .from + 1)]
    Missing {
        /// The major without a migration.
        from: u64,
    },
    /// The inputs are not a JSON object.
    #[error("inputs must be a JSON object")]
    NotAnObject,
    /// Octopus's format migrates by running the package's `migration.js` (not declarative).
    #[error(
        "migrating from major {from} to {to} runs the step's migration.js, which needs the migration runner"
    )]
    ScriptRequired {
        /// Source major.
        from: u64,
        /// Target major.
        to: u64,
    },
    /// A path is not a usable JSON Pointer.
    #[error("invalid path `{path}`: {reason}")]
    BadPath {
        /// The path.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// An operation could not be applied.
    #[error("migration from major {from}, operation {index} (`{op}`): {reason}")]
    OpFailed {
        /// Source major of the migration.
        from: u64,
        /// 0-based operation index.
        index: usize,
        /// `rename`, `default` or `remove`.
        op: &'static str,
        /// Why.
        reason: String,
    },
}

/// Why an explicit upgrade of a usage failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    /// The migrations failed.
    #[error(transparent)]
    Migration(#[from] MigrationError),
    /// The migrated inputs do not satisfy the new schema.
    #[error("the migrated inputs are invalid for version {version}: {}", join(.errors))]
    Invalid {
        /// The target version.
        version: Version,
        /// The validation errors, each naming an input path.
        errors: Vec<ValidationError>,
    },
}

fn join(errors: &[ValidationError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One entry of a [`TrustedAllowList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustedPackage {
    /// Package ID (compared case-insensitively).
    pub id: String,
    /// Versions allowed (NuGet or npm syntax); all versions when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<VersionRange>,
}

/// The step packages an administrator trusts: a package not on the list is refused at upload,
/// whatever its contents.
///
/// ```
/// use octopus_packaging::step_package::TrustedAllowList;
/// use octopus_packaging::version::Version;
///
/// let list: TrustedAllowList = serde_json::from_str(
///     r#"{"packages": [{"id": "acme-steps", "versions": "^2.0"}, {"id": "tools"}]}"#,
/// ).unwrap();
/// assert!(list.is_trusted("ACME-steps", &Version::parse("2.4.1").unwrap()));
/// assert!(!list.is_trusted("acme-steps", &Version::parse("3.0.0").unwrap()));
/// assert!(!list.is_trusted("other", &Version::parse("1.0.0").unwrap()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustedAllowList {
    /// The trusted packages.
    pub packages: Vec<TrustedPackage>,
}

impl TrustedAllowList {
    /// True when some entry names `id` and (if it has a range) contains `version`.
    pub fn is_trusted(&self, id: &str, version: &Version) -> bool {
        self.packages.iter().any(|p| {
            p.id.eq_ignore_ascii_case(id) && p.versions.as_ref().is_none_or(|r| r.contains(version))
        })
    }
}

/// How a usage on version `from` relates to an available version `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeKind {
    /// `to` is not newer, or is a pre-release: nothing to do.
    None,
    /// Same major, newer release: applied automatically, inputs unchanged.
    Automatic,
    /// A newer major: only on explicit request, running the migrations.
    Explicit,
}

/// Classifies moving a usage from `from` to `to` (see [`UpgradeKind`]).
///
/// Pre-releases are never applied automatically; 0.x versions follow the same major rule.
///
/// ```
/// use octopus_packaging::step_package::{upgrade_kind, UpgradeKind};
/// let v = |s| octopus_packaging::version::Version::parse(s).unwrap();
/// assert_eq!(upgrade_kind(&v("1.2.0"), &v("1.3.1")), UpgradeKind::Automatic);
/// assert_eq!(upgrade_kind(&v("1.2.0"), &v("2.0.0")), UpgradeKind::Explicit);
/// assert_eq!(upgrade_kind(&v("1.2.0"), &v("1.3.0-beta")), UpgradeKind::None);
/// ```
pub fn upgrade_kind(from: &Version, to: &Version) -> UpgradeKind {
    if to.cmp_precedence(from) != std::cmp::Ordering::Greater {
        UpgradeKind::None
    } else if to.major != from.major {
        UpgradeKind::Explicit
    } else if to.is_prerelease() {
        UpgradeKind::None
    } else {
        UpgradeKind::Automatic
    }
}

/// True when a usage on `from` moves to `to` by itself (same major, newer release).
pub fn is_auto_upgrade(from: &Version, to: &Version) -> bool {
    upgrade_kind(from, to) == UpgradeKind::Automatic
}

/// The newest version a usage on `current` automatically moves to, if any.
pub fn latest_auto_upgrade<'a, I>(current: &Version, available: I) -> Option<&'a Version>
where
    I: IntoIterator<Item = &'a Version>,
{
    available
        .into_iter()
        .filter(|v| is_auto_upgrade(current, v))
        .max()
}

fn parse_pointer(path: &str) -> Result<Vec<String>, MigrationError> {
    let bad = |reason| MigrationError::BadPath {
        path: path.to_owned(),
        reason,
    };
    let Some(rest) = path.strip_prefix('/') else {
        return Err(bad("a path must be a JSON Pointer starting with `/`"));
    };
    rest.split('/')
        .map(|t| {
            if t.replace("~0", "").replace("~1", "").contains('~') {
                return Err(bad("`~` must be escaped as `~0` (and `/` as `~1`)"));
            }
            Ok(t.replace("~1", "/").replace("~0", "~"))
        })
        .collect()
}

/// Walks to the parent of the last token, creating objects when `create` is set.
/// Returns `Ok(None)` when a parent is absent and `create` is false.
fn parent_mut<'v>(
    root: &'v mut Value,
    tokens: &[String],
    create: bool,
) -> Result<Option<&'v mut Map<String, Value>>, String> {
    let mut cur = root;
    let (_, parents) = tokens
        .split_last()
        .ok_or("the path names the inputs root")?;
    for (i, t) in parents.iter().enumerate() {
        let here = || format!("/{}", tokens[..=i].join("/"));
        cur = match cur {
            Value::Object(m) => {
                if !m.contains_key(t) {
                    if !create {
                        return Ok(None);
                    }
                    m.insert(t.clone(), Value::Object(Map::new()));
                }
                m.get_mut(t).ok_or("unreachable")?
            }
            Value::Array(a) => match t.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None if !create => return Ok(None),
                None => return Err(format!("{} is not an element of the array", here())),
            },
            other => {
                return Err(format!(
                    "`{}` is {}, not an object",
                    format_args!("/{}", tokens[..i].join("/")),
                    kind_name(other)
                ));
            }
        };
    }
    match cur {
        Value::Object(m) => Ok(Some(m)),
        other => Err(format!(
            "`/{}` is {}, not an object",
            parents.join("/"),
            kind_name(other)
        )),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn take(root: &mut Value, tokens: &[String]) -> Result<Option<Value>, String> {
    let last = tokens.last().ok_or("the path names the inputs root")?;
    match parent_mut(root, tokens, false) {
        Ok(Some(m)) => Ok(m.remove(last)),
        Ok(None) => Ok(None),
        // A non-object parent means the value cannot be there.
        Err(_) => Ok(None),
    }
}

fn put(root: &mut Value, tokens: &[String], value: Value, overwrite: bool) -> Result<bool, String> {
    let last = tokens.last().ok_or("the path names the inputs root")?;
    let m = parent_mut(root, tokens, true)?.ok_or("unreachable")?;
    if m.contains_key(last) && !overwrite {
        return Ok(false);
    }
    m.insert(last.clone(), value);
    Ok(true)
}

fn apply(inputs: &mut Value, m: &Migration) -> Result<(), MigrationError> {
    for (index, op) in m.ops.iter().enumerate() {
        let (name, result) = match op {
            MigrationOp::Rename { from, to } => {
                let (f, t) = (parse_pointer(from)?, parse_pointer(to)?);
                let r = (|| {
                    if let Some(v) = take(inputs, &f)?
                        && !put(inputs, &t, v, false)?
                    {
                        return Err(format!("`{to}` already exists"));
                    }
                    Ok(())
                })();
                ("rename", r)
            }
            MigrationOp::Default { path, value } => {
                let p = parse_pointer(path)?;
                ("default", put(inputs, &p, value.clone(), false).map(|_| ()))
            }
            MigrationOp::Remove { path } => {
                let p = parse_pointer(path)?;
                ("remove", take(inputs, &p).map(|_| ()))
            }
        };
        result.map_err(|reason| MigrationError::OpFailed {
            from: m.from,
            index,
            op: name,
            reason,
        })?;
    }
    Ok(())
}

/// Migrates `inputs` from major `from_major` to `to_major` by chaining the migrations
/// `from_major → from_major+1 → … → to_major`. The result is not validated; see
/// [`Step::upgrade_inputs`].
///
/// ```
/// use octopus_packaging::step_package::{migrate_inputs, Migrations};
/// use serde_json::json;
///
/// let m: Migrations = serde_json::from_value(json!({"migrations": [
///     {"from": 1, "ops": [{"rename": {"from": "/host", "to": "/database/host"}},
///                          {"default": {"path": "/database/port", "value": 5432}},
///                          {"remove": {"path": "/legacy"}}]}
/// ]})).unwrap();
/// let out = migrate_inputs(&json!({"host": "db", "legacy": true}), &m, 1, 2).unwrap();
/// assert_eq!(out, json!({"database": {"host": "db", "port": 5432}}));
/// ```
pub fn migrate_inputs(
    inputs: &Value,
    migrations: &Migrations,
    from_major: u64,
    to_major: u64,
) -> Result<Value, MigrationError> {
    if to_major < from_major {
        return Err(MigrationError::Downgrade {
            from: from_major,
            to: to_major,
        });
    }
    if !inputs.is_object() {
        return Err(MigrationError::NotAnObject);
    }
    let mut out = inputs.clone();
    for major in from_major..to_major {
        let m = migrations
            .migrations
            .iter()
            .find(|m| m.from == major)
            .ok_or(MigrationError::Missing { from: major })?;
        apply(&mut out, m)?;
    }
    Ok(out)
}

impl Step {
    /// Validates a usage's `Inputs` against this step's schema.
    pub fn validate_inputs(&self, inputs: &Value) -> Result<(), Vec<ValidationError>> {
        self.schema.validate(inputs)
    }

    /// The compiled inputs schema.
    pub fn schema(&self) -> &InputSchema {
        &self.schema
    }

    /// Explicit upgrade: migrates `inputs` written for major `from_major` to this step's
    /// major and validates the result against this step's schema.
    pub fn upgrade_inputs(&self, inputs: &Value, from_major: u64) -> Result<Value, UpgradeError> {
        if self.format == StepFormat::Octopus && from_major < self.version.major {
            return Err(MigrationError::ScriptRequired {
                from: from_major,
                to: self.version.major,
            }
            .into());
        }
        let out = migrate_inputs(inputs, &self.migrations, from_major, self.version.major)?;
        self.schema
            .validate(&out)
            .map_err(|errors| UpgradeError::Invalid {
                version: self.version.clone(),
                errors,
            })?;
        Ok(out)
    }
}

impl StepPackage {
    /// The step with ID `id`.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.metadata.id == id)
    }

    /// Checks that the manifest's ID and version are those of the uploaded file name
    /// (IDs compare case-insensitively, versions by precedence and build metadata).
    pub fn check_file_name(&self, name: &PackageFileName) -> Result<(), StepPackageError> {
        if self.manifest.id.eq_ignore_ascii_case(&name.id) && self.manifest.version == name.version
        {
            Ok(())
        } else {
            Err(StepPackageError::NameMismatch {
                expected: format!("{} {}", name.id, name.version),
                found: format!("{} {}", self.manifest.id, self.manifest.version),
            })
        }
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(
    files: &BTreeMap<String, Vec<u8>>,
    path: &str,
    why: &str,
) -> Result<T, StepPackageError> {
    let bytes = files
        .get(path)
        .ok_or_else(|| StepPackageError::MissingFile {
            path: path.to_owned(),
            why: why.to_owned(),
        })?;
    serde_json::from_slice(bytes).map_err(|e| StepPackageError::InvalidFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn join_path(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_owned()
    } else {
        format!("{dir}/{rel}")
    }
}

/// Loads and validates a step package: the archive is inspected with `limits` (see
/// [`archive::inspect`]), then the manifest, every step's metadata, inputs schema and
/// migrations are parsed and checked, and the entrypoint and logo must be regular files.
///
/// An archive with a root `metadata.json` and no `step-package.json` is in Octopus's format;
/// its `metadata.json` must then give the `version` (use [`load_named`] otherwise).
pub fn load_step_package(
    path: &Path,
    format: impl Into<ArchiveKind>,
    limits: &ArchiveLimits,
) -> Result<StepPackage, StepPackageError> {
    load(path, format.into(), None, limits)
}

/// [`load_step_package`] for an archive uploaded as `name`, checked against it
/// ([`StepPackage::check_file_name`]); an Octopus archive whose metadata has no `version`
/// takes the file name's.
pub fn load_named(
    path: &Path,
    name: &PackageFileName,
    limits: &ArchiveLimits,
) -> Result<StepPackage, StepPackageError> {
    let pkg = load(path, name.format.into(), Some(&name.version), limits)?;
    pkg.check_file_name(name)?;
    Ok(pkg)
}

fn load(
    path: &Path,
    kind: ArchiveKind,
    file_version: Option<&Version>,
    limits: &ArchiveLimits,
) -> Result<StepPackage, StepPackageError> {
    if kind == ArchiveKind::Tar {
        return Err(StepPackageError::InvalidFile {
            path: path.display().to_string(),
            reason: "step packages are .zip, .tar.gz or .tgz".into(),
        });
    }
    let wanted = |p: &str| p.ends_with(".json");
    let (summary, files) = archive::inspect_and_read(path, kind, limits, &wanted, MAX_JSON_FILE)?;
    if !files.contains_key(MANIFEST_FILE) && files.contains_key(OCTOPUS_METADATA_FILE) {
        return load_octopus(summary, &files, file_version);
    }
    let manifest: Manifest = parse_json(
        &files,
        MANIFEST_FILE,
        "every step package has one at its root (or, in Octopus's format, a metadata.json)",
    )?;
    let invalid = |path: &str, reason: String| StepPackageError::InvalidFile {
        path: path.to_owned(),
        reason,
    };
    if manifest.format_version != FORMAT_VERSION {
        return Err(invalid(
            MANIFEST_FILE,
            format!(
                "formatVersion {} is not supported (expected {FORMAT_VERSION})",
                manifest.format_version
            ),
        ));
    }
    filename::validate_id(&manifest.id).map_err(|e| invalid(MANIFEST_FILE, e.to_string()))?;
    if manifest.steps.is_empty() {
        return Err(invalid(MANIFEST_FILE, "`steps` lists no step".into()));
    }
    let is_file = |p: &str| {
        summary
            .entry(p)
            .is_some_and(|e| matches!(e.kind, EntryKind::File | EntryKind::HardLink { .. }))
    };
    let mut steps = Vec::new();
    let mut ids = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    for raw_dir in &manifest.steps {
        let dir = archive::normalize_entry_path(raw_dir)
            .map_err(|r| invalid(MANIFEST_FILE, format!("step directory `{raw_dir}`: {r}")))?;
        if !dirs.insert(dir.clone()) {
            return Err(invalid(
                MANIFEST_FILE,
                format!("step directory `{raw_dir}` is listed twice"),
            ));
        }
        let meta_path = join_path(&dir, METADATA_FILE);
        let metadata: StepMetadata = parse_json(
            &files,
            &meta_path,
            &format!("step `{raw_dir}` is listed in {MANIFEST_FILE}"),
        )?;
        filename::validate_id(&metadata.id).map_err(|e| {
            invalid(
                &meta_path,
                format!("`id`: {}", e.to_string().replace("package ID", "step ID")),
            )
        })?;
        if !ids.insert(metadata.id.clone()) {
            return Err(invalid(
                &meta_path,
                format!("step ID `{}` is used twice in the package", metadata.id),
            ));
        }
        if metadata.name.trim().is_empty() {
            return Err(invalid(&meta_path, "`name` is empty".into()));
        }
        let file_in_step = |field: &str, rel: &str| -> Result<String, StepPackageError> {
            let norm = archive::normalize_entry_path(rel)
                .ok()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid(&meta_path, format!("`{field}` path `{rel}` must be a relative path inside the step directory")))?;
            let full = join_path(&dir, &norm);
            if !is_file(&full) {
                return Err(StepPackageError::MissingFile {
                    path: full,
                    why: format!("`{field}` in {meta_path} names it"),
                });
            }
            Ok(full)
        };
        file_in_step("launcher.entrypoint", &metadata.launcher.entrypoint)?;
        let lower = metadata.logo.to_ascii_lowercase();
        if !(lower.ends_with(".svg") || lower.ends_with(".png")) {
            return Err(invalid(
                &meta_path,
                format!("`logo` `{}` must be an .svg or .png file", metadata.logo),
            ));
        }
        file_in_step("logo", &metadata.logo)?;
        let schema_path = file_in_step("inputsSchema", &metadata.inputs_schema)?;
        let inputs_schema: Value = parse_json(&files, &schema_path, "")?;
        let schema = InputSchema::compile(&inputs_schema).map_err(|source| {
            StepPackageError::InvalidSchema {
                path: schema_path.clone(),
                source,
            }
        })?;
        if !schema.root_is_object() {
            return Err(invalid(
                &schema_path,
                "the root schema must say `\"type\": \"object\"`: Inputs are an object".into(),
            ));
        }
        let major = manifest.version.major;
        let migrations = match &metadata.migrations {
            Some(rel) => {
                let p = file_in_step("migrations", rel)?;
                let m: Migrations = parse_json(&files, &p, "")?;
                check_migrations(&m, major).map_err(|r| invalid(&p, r))?;
                m
            }
            None if major >= 2 => {
                return Err(invalid(
                    &meta_path,
                    format!(
                        "version {} needs `migrations` covering majors 1 to {}",
                        manifest.version,
                        major - 1
                    ),
                ));
            }
            None => Migrations::default(),
        };
        steps.push(Step {
            dir,
            metadata,
            inputs_schema,
            migrations,
            version: manifest.version.clone(),
            format: StepFormat::Ours,
            migration_script: None,
            schema,
        });
    }
    Ok(StepPackage {
        manifest,
        steps,
        archive: summary,
        format: StepFormat::Ours,
        kind: PackageKind::Step,
        octopus: None,
    })
}

/// Octopus's format: one step or deployment target, flat root.
fn load_octopus(
    summary: ArchiveSummary,
    files: &BTreeMap<String, Vec<u8>>,
    file_version: Option<&Version>,
) -> Result<StepPackage, StepPackageError> {
    const META: &str = OCTOPUS_METADATA_FILE;
    let invalid = |path: &str, reason: String| StepPackageError::InvalidFile {
        path: path.to_owned(),
        reason,
    };
    let is_file = |p: &str| {
        summary
            .entry(p)
            .is_some_and(|e| matches!(e.kind, EntryKind::File | EntryKind::HardLink { .. }))
    };
    let meta: OctopusMetadata = parse_json(files, META, "")?;
    if Version::parse(&meta.schema_version).map_or(true, |v| v.major != 1) {
        return Err(invalid(
            META,
            format!(
                "schemaVersion `{}` is not supported (expected 1.0.0)",
                meta.schema_version
            ),
        ));
    }
    filename::validate_id(&meta.id).map_err(|e| invalid(META, format!("`id`: {e}")))?;
    if meta.name.trim().is_empty() {
        return Err(invalid(META, "`name` is empty".into()));
    }
    if meta.launcher != "node" {
        return Err(invalid(
            META,
            format!(
                "launcher `{}` is not supported: Octopus step packages run with `node`",
                meta.launcher
            ),
        ));
    }
    let declared = meta
        .version
        .as_deref()
        .map(|v| Version::parse(v).map_err(|e| invalid(META, format!("`version`: {e}"))))
        .transpose()?;
    let version = match (declared, file_version) {
        (Some(d), Some(f)) if &d != f => {
            return Err(StepPackageError::NameMismatch {
                expected: format!("{} {f}", meta.id),
                found: format!("{} {d}", meta.id),
            });
        }
        (Some(d), _) => d,
        (None, Some(f)) => f.clone(),
        (None, None) => {
            return Err(invalid(
                META,
                "has no `version`: the version comes from the file name (`<id>.<version>.zip`)"
                    .into(),
            ));
        }
    };
    // The inputs schema: required for a step, checked when a target ships one.
    let inputs = match (files.get(OCTOPUS_INPUTS_FILE), meta.kind) {
        (None, PackageKind::DeploymentTarget) => None,
        _ => {
            let doc: Value = parse_json(files, OCTOPUS_INPUTS_FILE, "every Octopus step has one")?;
            let schema = InputSchema::compile_with(&doc, Dialect::Octopus).map_err(|source| {
                StepPackageError::InvalidSchema {
                    path: OCTOPUS_INPUTS_FILE.into(),
                    source,
                }
            })?;
            if !schema.root_is_object() {
                return Err(invalid(
                    OCTOPUS_INPUTS_FILE,
                    "the root schema must say `\"type\": \"object\"`: Inputs are an object".into(),
                ));
            }
            Some((doc, schema))
        }
    };
    let has_executor = is_file(OCTOPUS_EXECUTOR_FILE);
    let migration_script =
        is_file(OCTOPUS_MIGRATION_FILE).then(|| OCTOPUS_MIGRATION_FILE.to_owned());
    let logo = summary
        .entries
        .iter()
        .map(|e| e.path.as_str())
        .find(|p| p.starts_with("logo.") && is_file(p))
        .unwrap_or_default()
        .to_owned();
    if meta.kind == PackageKind::Step {
        if !has_executor {
            return Err(StepPackageError::MissingFile {
                path: OCTOPUS_EXECUTOR_FILE.into(),
                why: "every Octopus step has one".into(),
            });
        }
        if version.major >= 2 && migration_script.is_none() {
            return Err(StepPackageError::MissingFile {
                path: OCTOPUS_MIGRATION_FILE.into(),
                why: format!(
                    "version {version} needs it: it converts the inputs of major {}",
                    version.major - 1
                ),
            });
        }
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        id: meta.id.clone(),
        version: version.clone(),
        steps: Vec::new(),
    };
    let mut pkg = StepPackage {
        manifest,
        steps: Vec::new(),
        archive: summary,
        format: StepFormat::Octopus,
        kind: meta.kind,
        octopus: None,
    };
    if meta.kind == PackageKind::Step {
        let (inputs_schema, schema) = inputs.ok_or_else(|| StepPackageError::MissingFile {
            path: OCTOPUS_INPUTS_FILE.into(),
            why: "every Octopus step has one".into(),
        })?;
        pkg.manifest.steps.push(String::new());
        pkg.steps.push(Step {
            dir: String::new(),
            metadata: StepMetadata {
                id: meta.id.clone(),
                name: meta.name.clone(),
                description: meta.description.clone(),
                categories: meta.categories.clone(),
                can_run_on_deployment_target: meta.can_run_on_deployment_target.unwrap_or(false),
                launcher: Launcher {
                    kind: LauncherKind::Node,
                    entrypoint: OCTOPUS_EXECUTOR_FILE.into(),
                },
                logo,
                inputs_schema: OCTOPUS_INPUTS_FILE.into(),
                migrations: None,
                release_notes_url: meta.release_notes_url.clone(),
            },
            inputs_schema,
            migrations: Migrations::default(),
            version,
            format: StepFormat::Octopus,
            migration_script,
            schema,
        });
    }
    pkg.octopus = Some(meta);
    Ok(pkg)
}

fn check_migrations(m: &Migrations, major: u64) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for mig in &m.migrations {
        if mig.from == 0 || mig.from >= major.max(1) {
            return Err(format!(
                "a migration from major {} makes no sense for version major {major} (expected 1 to {})",
                mig.from,
                major.saturating_sub(1)
            ));
        }
        if !seen.insert(mig.from) {
            return Err(format!("two migrations from major {}", mig.from));
        }
        for op in &mig.ops {
            let paths: Vec<&String> = match op {
                MigrationOp::Rename { from, to } => vec![from, to],
                MigrationOp::Default { path, .. } | MigrationOp::Remove { path } => vec![path],
            };
            for p in paths {
                let tokens = parse_pointer(p).map_err(|e| e.to_string())?;
                if tokens.iter().any(String::is_empty) {
                    return Err(format!("path `{p}` has an empty segment"));
                }
            }
        }
    }
    for from in 1..major {
        if !seen.contains(&from) {
            return Err(format!("no migration from major {from} to {}", from + 1));
        }
    }
    Ok(())
}

pub mod builder;

#[cfg(test)]
mod tests;
