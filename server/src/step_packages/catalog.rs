//! The installed step packages in SQLite (tables of migration 3).

use std::collections::BTreeMap;

use octopus_client::model::step_package::{
    StepPackageFormat, StepPackageStep, StepPackageSummary, StepPackageType, StepPackageVersion,
    StepPackageVersionSummary, StepSummary,
};
use octopus_packaging::schema::{Dialect, InputSchema};
use octopus_packaging::step_package::Migrations;
use octopus_packaging::version::Version;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{ApiError, ApiResult};

/// One installed version as stored.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// Package ID as written in the manifest.
    pub package_id: String,
    /// The version.
    pub version: Version,
    /// SHA-256 hex of the archive.
    pub sha256: String,
    /// Archive size.
    pub size: u64,
    /// File name under the step-package directory.
    pub archive_file: String,
    /// ISO 8601 install time.
    pub installed_on: String,
    /// `Feed` or `Upload`.
    pub source: String,
    /// Steps or a deployment target.
    pub kind: StepPackageType,
    /// Ours or Octopus's.
    pub format: StepPackageFormat,
}

/// One step of one installed version, as stored.
#[derive(Debug, Clone)]
pub struct StepRow {
    /// Step ID.
    pub step_id: String,
    /// Package ID (manifest spelling).
    pub package_id: String,
    /// The version.
    pub version: Version,
    /// The step as answered by the API.
    pub step: StepPackageStep,
}

impl StepRow {
    /// Compiles the stored inputs schema (in the dialect of the step's format).
    pub fn schema(&self) -> ApiResult<InputSchema> {
        let dialect = match self.step.format {
            StepPackageFormat::Ours => Dialect::Ours,
            StepPackageFormat::Octopus => Dialect::Octopus,
        };
        InputSchema::compile_with(&self.step.inputs_schema, dialect).map_err(|e| {
            ApiError::internal(format!(
                "stored schema of {} {}: {e}",
                self.step_id, self.version
            ))
        })
    }

    /// The stored migrations.
    pub fn migrations(&self) -> ApiResult<Migrations> {
        serde_json::from_value(self.step.migrations.clone()).map_err(|e| {
            ApiError::internal(format!(
                "stored migrations of {} {}: {e}",
                self.step_id, self.version
            ))
        })
    }
}

/// Key used to compare package IDs (case-insensitive).
pub fn package_key(id: &str) -> String {
    id.to_ascii_lowercase()
}

fn parse_version(text: &str) -> rusqlite::Result<Version> {
    Version::parse(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        package_id: r.get(0)?,
        version: parse_version(&r.get::<_, String>(1)?)?,
        sha256: r.get(2)?,
        size: r.get::<_, i64>(3)?.max(0) as u64,
        archive_file: r.get(4)?,
        installed_on: r.get(5)?,
        source: r.get(6)?,
        kind: match r.get::<_, String>(7)?.as_str() {
            "deployment-target" => StepPackageType::DeploymentTarget,
            _ => StepPackageType::Step,
        },
        format: match r.get::<_, String>(8)?.as_str() {
            "Octopus" => StepPackageFormat::Octopus,
            _ => StepPackageFormat::Ours,
        },
    })
}

const VERSION_COLUMNS: &str =
    "package_id, version, sha256, size, archive_file, installed_on, source, kind, format";

fn kind_text(k: StepPackageType) -> &'static str {
    match k {
        StepPackageType::Step => "step",
        StepPackageType::DeploymentTarget => "deployment-target",
    }
}

fn format_text(f: StepPackageFormat) -> &'static str {
    match f {
        StepPackageFormat::Ours => "Ours",
        StepPackageFormat::Octopus => "Octopus",
    }
}

/// The stored row of `id` at `version`, if installed.
pub fn get_version(
    conn: &Connection,
    id: &str,
    version: &Version,
) -> ApiResult<Option<VersionRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM step_package_versions WHERE package_key = ?1 AND version = ?2"
        ))?
        .query_row(params![package_key(id), version.to_string()], version_row)
        .optional()?)
}

/// Every installed version of a package, oldest first (by precedence).
pub fn versions_of(conn: &Connection, id: &str) -> ApiResult<Vec<VersionRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM step_package_versions WHERE package_key = ?1"
    ))?;
    let mut rows = stmt
        .query_map([package_key(id)], version_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(rows)
}

/// Every installed version of every package, grouped by package key (in install order of
/// the packages' first versions), each group oldest first.
pub fn all_versions(conn: &Connection) -> ApiResult<Vec<Vec<VersionRow>>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS}, package_key FROM step_package_versions ORDER BY rowid"
    ))?;
    let key_column = VERSION_COLUMNS.split(',').count();
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<VersionRow>> = BTreeMap::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let key: String = r.get(key_column)?;
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(version_row(r)?);
    }
    Ok(order
        .into_iter()
        .filter_map(|k| groups.remove(&k))
        .map(|mut g| {
            g.sort_by(|a, b| a.version.cmp(&b.version));
            g
        })
        .collect())
}

fn step_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn decode_step(raw: (String, String, String, String)) -> ApiResult<StepRow> {
    let (step_id, package_id, version, body) = raw;
    let step: StepPackageStep = serde_json::from_str(&body)
        .map_err(|e| ApiError::internal(format!("corrupt step {step_id} {version}: {e}")))?;
    let version = Version::parse(&version)
        .map_err(|e| ApiError::internal(format!("corrupt step {step_id} version: {e}")))?;
    Ok(StepRow {
        step_id,
        package_id,
        version,
        step,
    })
}

/// The steps of one installed version, in manifest order.
pub fn steps_of(conn: &Connection, id: &str, version: &Version) -> ApiResult<Vec<StepRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.step_id, v.package_id, s.version, s.body FROM step_package_steps s
         JOIN step_package_versions v ON v.package_key = s.package_key AND v.version = s.version
         WHERE s.package_key = ?1 AND s.version = ?2 ORDER BY s.position",
    )?;
    let raw = stmt
        .query_map(params![package_key(id), version.to_string()], step_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raw.into_iter().map(decode_step).collect()
}

/// Every installed version of a step, oldest first. Empty when the ID is not a step ID.
pub fn step_versions(conn: &Connection, step_id: &str) -> ApiResult<Vec<StepRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.step_id, v.package_id, s.version, s.body FROM step_package_steps s
         JOIN step_package_versions v ON v.package_key = s.package_key AND v.version = s.version
         WHERE s.step_id = ?1",
    )?;
    let raw = stmt
        .query_map([step_id], step_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut rows = raw
        .into_iter()
        .map(decode_step)
        .collect::<ApiResult<Vec<_>>>()?;
    rows.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(rows)
}

/// The package that owns a step ID, if any step of that ID is installed.
pub fn step_owner(conn: &Connection, step_id: &str) -> ApiResult<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT v.package_id FROM step_package_steps s
             JOIN step_package_versions v ON v.package_key = s.package_key AND v.version = s.version
             WHERE s.step_id = ?1 LIMIT 1",
        )?
        .query_row([step_id], |r| r.get(0))
        .optional()?)
}

/// Every step ID of every installed version, with its package ID.
pub fn all_step_ids(conn: &Connection) -> ApiResult<BTreeMap<String, String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT s.step_id, v.package_id FROM step_package_steps s
         JOIN step_package_versions v ON v.package_key = s.package_key AND v.version = s.version",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<BTreeMap<String, String>>>()?;
    Ok(rows)
}

/// Inserts a version and its steps (the caller checked it is new).
pub fn insert_version(
    conn: &Connection,
    row: &VersionRow,
    steps: &[StepPackageStep],
) -> ApiResult<()> {
    let key = package_key(&row.package_id);
    let version = row.version.to_string();
    conn.prepare_cached(
        "INSERT INTO step_package_versions
         (package_key, package_id, version, sha256, size, archive_file, installed_on, source,
          kind, format)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        key,
        row.package_id,
        version,
        row.sha256,
        i64::try_from(row.size).unwrap_or(i64::MAX),
        row.archive_file,
        row.installed_on,
        row.source,
        kind_text(row.kind),
        format_text(row.format)
    ])?;
    for (i, s) in steps.iter().enumerate() {
        let body = serde_json::to_string(s).map_err(ApiError::internal)?;
        conn.prepare_cached(
            "INSERT INTO step_package_steps (step_id, package_key, version, position, body)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![s.id, key, version, i as i64, body])?;
    }
    Ok(())
}

/// API form of a version row without step details.
pub fn summary_of_version(row: &VersionRow, steps: &[StepRow]) -> StepPackageVersionSummary {
    let mut links = octopus_client::model::Links::new();
    links.insert("Self".into(), version_link(&row.package_id, &row.version));
    StepPackageVersionSummary {
        package_id: row.package_id.clone(),
        kind: row.kind,
        format: row.format,
        version: row.version.to_string(),
        is_prerelease: row.version.is_prerelease(),
        sha256: row.sha256.clone(),
        size: row.size,
        installed_on: row.installed_on.clone(),
        source: row.source.clone(),
        steps: steps
            .iter()
            .map(|s| StepSummary {
                id: s.step_id.clone(),
                name: s.step.name.clone(),
            })
            .collect(),
        links,
    }
}

/// API form of a version with every step.
pub fn full_version(row: &VersionRow, steps: Vec<StepRow>) -> StepPackageVersion {
    let mut links = octopus_client::model::Links::new();
    links.insert("Self".into(), version_link(&row.package_id, &row.version));
    links.insert("Package".into(), package_link(&row.package_id));
    StepPackageVersion {
        package_id: row.package_id.clone(),
        kind: row.kind,
        format: row.format,
        version: row.version.to_string(),
        is_prerelease: row.version.is_prerelease(),
        sha256: row.sha256.clone(),
        size: row.size,
        installed_on: row.installed_on.clone(),
        source: row.source.clone(),
        steps: steps.into_iter().map(|s| s.step).collect(),
        upgraded_usages: Vec::new(),
        skipped_usages: Vec::new(),
        links,
    }
}

/// API form of a package: its versions (oldest first, non-empty) and latest steps.
pub fn package_summary(versions: &[VersionRow], latest_steps: &[StepRow]) -> StepPackageSummary {
    let latest = versions
        .last()
        .map(|v| v.version.to_string())
        .unwrap_or_default();
    let id = versions
        .last()
        .map(|v| v.package_id.clone())
        .unwrap_or_default();
    let mut links = octopus_client::model::Links::new();
    links.insert("Self".into(), package_link(&id));
    links.insert("Versions".into(), format!("{}/versions", package_link(&id)));
    links.insert("Latest".into(), format!("{}/{latest}", package_link(&id)));
    StepPackageSummary {
        id,
        kind: versions.last().map(|v| v.kind).unwrap_or_default(),
        format: versions.last().map(|v| v.format).unwrap_or_default(),
        latest_version: latest,
        versions: versions.iter().map(|v| v.version.to_string()).collect(),
        steps: latest_steps
            .iter()
            .map(|s| StepSummary {
                id: s.step_id.clone(),
                name: s.step.name.clone(),
            })
            .collect(),
        links,
    }
}

fn package_link(id: &str) -> String {
    format!("/api/steppackages/{id}")
}

fn version_link(id: &str, v: &Version) -> String {
    format!("/api/steppackages/{id}/{v}")
}
