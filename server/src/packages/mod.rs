//! The package repository behind the built-in feed: package files under
//! `<data_dir>/packages/<space_id>/`, one metadata row per package version in
//! the `packages` table.
//!
//! An upload streams into a temporary file (`.tmp-<random>`) while it is
//! hashed and counted ([`upload::Incoming`]), is fsynced, checked to be a safe
//! archive of the kind its extension names, renamed to a name unique to this
//! upload (fsyncing the directory), and only then recorded in one SQLite
//! transaction ([`upload::publish`]). A replaced file is removed after the
//! commit. So a row always points to a complete, durable file; what a crash
//! can leave behind is a temporary file or a file without a row, and
//! [`sweep`] removes both before the server starts serving.

pub mod db;
pub mod upload;

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{ApiError, ApiResult};
use crate::store::Store;

/// Directory of package files inside the data directory.
pub const PACKAGES_DIR: &str = "packages";

/// Prefix of temporary upload files.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Prefix a deleted space's package directory is renamed to while it is removed.
pub const DELETED_PREFIX: &str = ".deleted-";

/// Default largest package: 2 GiB.
pub const DEFAULT_MAX_PACKAGE_BYTES: u64 = 2 << 30;

/// What to do when the package version already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverwriteMode {
    /// Refuse the upload (409).
    #[default]
    FailIfExists,
    /// Keep the stored package and answer 200 with it.
    IgnoreIfExists,
    /// Replace the stored package.
    OverwriteExisting,
}

impl OverwriteMode {
    /// Parses a mode or one of the Octopus CLI aliases, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "failifexists" | "fail" => Some(Self::FailIfExists),
            "ignoreifexists" | "ignore" => Some(Self::IgnoreIfExists),
            "overwriteexisting" | "overwrite" | "replace" => Some(Self::OverwriteExisting),
            _ => None,
        }
    }

    /// The mode's Octopus name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailIfExists => "FailIfExists",
            Self::IgnoreIfExists => "IgnoreIfExists",
            Self::OverwriteExisting => "OverwriteExisting",
        }
    }
}

/// The directory of one space's package files.
pub fn space_dir(data_dir: &Path, space: &str) -> PathBuf {
    data_dir.join(PACKAGES_DIR).join(space)
}

/// Maps an IO error to an API error: a full disk is 507, anything else 500.
pub fn io_error(context: &str, e: io::Error) -> ApiError {
    // ENOSPC / EDQUOT
    if matches!(e.raw_os_error(), Some(28) | Some(122)) {
        return ApiError::insufficient_storage("the package");
    }
    ApiError::internal(format!("{context}: {e}"))
}

/// Fsyncs a directory so renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Removes the package files of a deleted space. Call it after the transaction that
/// deleted the space (and, by trigger, its package rows) committed, so no row can
/// point to a removed file. The directory is first renamed to
/// `.deleted-<space>-<random>` and the rename made durable: from then on the space's
/// files are gone from their place in one step, and a crash before the removal ends
/// leaves only that directory, which [`sweep`] removes at the next start (as it
/// removes a deleted space's directory a crash before the rename left behind).
/// Returns how many files were removed.
pub fn remove_space_files(data_dir: &Path, space: &str) -> io::Result<usize> {
    let root = data_dir.join(PACKAGES_DIR);
    let hex: String = crate::util::random_bytes::<6>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let tomb = root.join(format!("{DELETED_PREFIX}{space}-{hex}"));
    match std::fs::rename(space_dir(data_dir, space), &tomb) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    }
    sync_dir(&root)?;
    let removed = remove_tree(&tomb)?;
    sync_dir(&root)?;
    Ok(removed)
}

/// Removes a directory of package files (no subdirectories are expected, but any
/// are removed too); returns how many files went.
fn remove_tree(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            removed += remove_tree(&entry.path())?;
        } else {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(removed),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(removed),
        Err(e) => Err(e),
    }
}

/// What [`sweep`] cleaned up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Temporary files of interrupted uploads.
    pub temp_files: usize,
    /// Files no row refers to (interrupted publish, replaced or deleted packages).
    pub orphan_files: usize,
    /// Rows whose file is missing, or whose space no longer exists.
    pub orphan_rows: usize,
    /// Directories of deleted spaces whose removal a crash interrupted.
    pub deleted_dirs: usize,
}

/// Start-up cleanup (call before serving): removes temporary files, files no
/// row refers to, directories of deleted spaces, rows of deleted spaces and rows
/// whose file is missing.
pub fn sweep(store: &Store, data_dir: &Path) -> ApiResult<SweepReport> {
    let mut report = SweepReport::default();
    report.orphan_rows += store.write_blocking(|tx| db::delete_rows_of_missing_spaces(tx))?;
    let rows = store.read_blocking(db::all_files)?;
    let mut known: HashMap<String, HashSet<String>> = HashMap::new();
    for (space, file) in &rows {
        known.entry(space.clone()).or_default().insert(file.clone());
    }
    let root = data_dir.join(PACKAGES_DIR);
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => Some(e),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_error("reading the package directory", e)),
    };
    for space_entry in entries.into_iter().flatten() {
        let space_entry = space_entry.map_err(|e| io_error("reading the package directory", e))?;
        let space = space_entry.file_name().to_string_lossy().into_owned();
        let dir = space_entry.path();
        if !dir.is_dir() {
            continue;
        }
        if space.starts_with(DELETED_PREFIX) {
            report.orphan_files += remove_tree(&dir)
                .map_err(|e| io_error("removing a deleted space's packages", e))?;
            sync_dir(&root).map_err(|e| io_error("syncing the package directory", e))?;
            report.deleted_dirs += 1;
            continue;
        }
        let files = known.get(&space);
        let mut removed = false;
        for f in std::fs::read_dir(&dir).map_err(|e| io_error("reading a package directory", e))? {
            let f = f.map_err(|e| io_error("reading a package directory", e))?;
            let name = f.file_name().to_string_lossy().into_owned();
            let temp = name.starts_with(TEMP_PREFIX);
            if !temp && files.is_some_and(|s| s.contains(&name)) {
                continue;
            }
            match std::fs::remove_file(f.path()) {
                Ok(()) => {
                    removed = true;
                    if temp {
                        report.temp_files += 1;
                    } else {
                        report.orphan_files += 1;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("removing a stale package file", e)),
            }
        }
        if removed {
            sync_dir(&dir).map_err(|e| io_error("syncing a package directory", e))?;
        }
        if files.is_none() {
            // A space without packages (or one that was deleted): drop its empty directory.
            let _ = std::fs::remove_dir(&dir);
        }
    }
    let missing: Vec<(String, String)> = rows
        .into_iter()
        .filter(|(space, file)| !space_dir(data_dir, space).join(file).is_file())
        .collect();
    if !missing.is_empty() {
        for (space, file) in &missing {
            eprintln!(
                "octopus-lite: package file {space}/{file} is missing; removing its package entry"
            );
        }
        report.orphan_rows += store.write_blocking(|tx| db::delete_files(tx, &missing))?;
    }
    Ok(report)
}
