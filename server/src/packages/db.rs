//! The `packages` table: one row per package version and space.
//!
//! Package IDs and versions are matched case-insensitively (as NuGet does):
//! `MyApp 1.0.0-Beta` and `myapp 1.0.0-beta` are the same package version.

use octopus_client::model::Links;
use octopus_client::model::feed::BUILT_IN_FEED_ID;
use octopus_client::model::package::Package;
use octopus_packaging::version::Version;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::ApiResult;

/// Prefix of package resource IDs: `packages-<PackageId>.<Version>`.
pub const ID_PREFIX: &str = "packages-";

/// A stored package version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRow {
    /// `packages-<PackageId>.<Version>`.
    pub id: String,
    /// The package ID as uploaded.
    pub package_id: String,
    /// The normalized version.
    pub version: String,
    /// Extension without the dot (`zip`, `tar.gz`, ...).
    pub extension: String,
    /// The file's name in the space's package directory.
    pub file_name: String,
    /// Bytes.
    pub size: u64,
    /// SHA-1 hex.
    pub sha1: String,
    /// SHA-256 hex.
    pub sha256: String,
    /// ISO 8601 time of the upload.
    pub published: String,
}

impl PackageRow {
    /// The canonical file name, `<PackageId>.<Version>.<ext>`.
    pub fn canonical_file_name(&self) -> String {
        format!("{}.{}.{}", self.package_id, self.version, self.extension)
    }

    /// The parsed version (stored normalized, so it parses).
    pub fn parsed_version(&self) -> Option<Version> {
        Version::parse(&self.version).ok()
    }

    /// The API document.
    pub fn to_model(&self, space: &str) -> Package {
        let mut links = Links::new();
        let self_link = format!("/api/{space}/packages/{}", self.id);
        links.insert("Raw".into(), format!("{self_link}/raw"));
        links.insert("Self".into(), self_link);
        Package {
            id: Some(self.id.clone()),
            space_id: Some(space.to_owned()),
            package_id: self.package_id.clone(),
            version: self.version.clone(),
            feed_id: Some(BUILT_IN_FEED_ID.to_owned()),
            nu_get_package_id: Some(self.package_id.clone()),
            nu_get_feed_id: Some(BUILT_IN_FEED_ID.to_owned()),
            description: None,
            published: Some(self.published.clone()),
            title: Some(self.package_id.clone()),
            summary: None,
            release_notes: None,
            file_extension: format!(".{}", self.extension),
            package_size_bytes: self.size,
            hash: self.sha1.clone(),
            sha256: Some(self.sha256.clone()),
            links,
            extra: Default::default(),
        }
    }
}

const COLUMNS: &str =
    "id, package_id, version, extension, file_name, size, sha1, sha256, published";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PackageRow> {
    Ok(PackageRow {
        id: r.get(0)?,
        package_id: r.get(1)?,
        version: r.get(2)?,
        extension: r.get(3)?,
        file_name: r.get(4)?,
        size: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
        sha1: r.get(6)?,
        sha256: r.get(7)?,
        published: r.get(8)?,
    })
}

/// The row of a package version, if stored.
pub fn get_version(
    c: &Connection,
    space: &str,
    package_id: &str,
    version: &str,
) -> ApiResult<Option<PackageRow>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM packages
         WHERE space_id = ?1 AND package_key = lower(?2) AND version_key = lower(?3)"
    ))?
    .query_row(params![space, package_id, version], from_row)
    .optional()?)
}

/// The row with this resource ID (case-insensitive), if any.
pub fn get_by_id(c: &Connection, space: &str, id: &str) -> ApiResult<Option<PackageRow>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM packages WHERE space_id = ?1 AND id_key = lower(?2)"
    ))?
    .query_row(params![space, id], from_row)
    .optional()?)
}

/// Rows of a space, optionally only one package (exact, case-insensitive) or
/// those whose package ID contains `filter` (case-insensitive).
pub fn list(
    c: &Connection,
    space: &str,
    package_id: Option<&str>,
    filter: Option<&str>,
) -> ApiResult<Vec<PackageRow>> {
    // instr() rather than LIKE: no 50,000-byte pattern limit, no escaping.
    let needle = filter.map(str::to_lowercase);
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM packages
         WHERE space_id = ?1
           AND (?2 IS NULL OR package_key = lower(?2))
           AND (?3 IS NULL OR instr(package_key, ?3) > 0)"
    ))?;
    let rows = stmt
        .query_map(params![space, package_id, needle], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Inserts a row, or replaces the row of the same package version.
pub fn upsert(c: &Connection, space: &str, row: &PackageRow) -> ApiResult<()> {
    c.prepare_cached(
        "DELETE FROM packages
         WHERE space_id = ?1 AND package_key = lower(?2) AND version_key = lower(?3)",
    )?
    .execute(params![space, row.package_id, row.version])?;
    c.prepare_cached(
        "INSERT INTO packages (space_id, id, id_key, package_id, package_key, version,
             version_key, extension, file_name, size, sha1, sha256, published)
         VALUES (?1, ?2, lower(?2), ?3, lower(?3), ?4, lower(?4), ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        space,
        row.id,
        row.package_id,
        row.version,
        row.extension,
        row.file_name,
        i64::try_from(row.size).unwrap_or(i64::MAX),
        row.sha1,
        row.sha256,
        row.published
    ])?;
    Ok(())
}

/// Deletes the row with this resource ID; returns it.
pub fn delete(c: &Connection, space: &str, id: &str) -> ApiResult<Option<PackageRow>> {
    let row = get_by_id(c, space, id)?;
    if row.is_some() {
        c.prepare_cached("DELETE FROM packages WHERE space_id = ?1 AND id_key = lower(?2)")?
            .execute(params![space, id])?;
    }
    Ok(row)
}

/// `(space, file name)` of every row.
pub fn all_files(c: &Connection) -> ApiResult<Vec<(String, String)>> {
    let mut stmt = c.prepare("SELECT space_id, file_name FROM packages")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Deletes the rows of these `(space, file name)` pairs; returns how many.
pub fn delete_files(c: &Connection, files: &[(String, String)]) -> ApiResult<usize> {
    let mut n = 0;
    for (space, file) in files {
        n += c
            .prepare_cached("DELETE FROM packages WHERE space_id = ?1 AND file_name = ?2")?
            .execute(params![space, file])?;
    }
    Ok(n)
}

/// Deletes rows whose space no longer exists; returns how many.
pub fn delete_rows_of_missing_spaces(c: &Connection) -> ApiResult<usize> {
    Ok(c.execute(
        "DELETE FROM packages WHERE space_id NOT IN
             (SELECT id FROM documents WHERE kind = 'spaces' AND space_id = '')",
        [],
    )?)
}
