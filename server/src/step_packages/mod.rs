//! The step-package feed: installing step packages (from the watched feed directory and
//! uploads), the catalogue of installed versions, usages by deployment processes,
//! validation of step-package actions, automatic minor upgrades and explicit major upgrades.
//!
//! The package format and the rules are documented in `docs/step-packages.md`; the HTTP
//! API is in `crate::api` (`/api/steppackages`).

pub mod catalog;
pub mod installer;
pub mod launch;
pub mod uninstall;
pub mod upgrades;
pub mod usages;
pub mod watcher;

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use octopus_packaging::archive::ArchiveLimits;
use octopus_packaging::step_package::TrustedAllowList;

use crate::error::ApiResult;
use crate::packages::{io_error, sync_dir};
use crate::store::Store;

/// Directory under the data directory holding installed archives.
pub const STORE_DIR: &str = "step-packages";

/// Directory under [`STORE_DIR`] where uploads are received before they are installed.
pub const UPLOADS_DIR: &str = ".uploads";

/// Largest step-package archive accepted (upload or feed): 256 MiB.
pub const MAX_ARCHIVE_BYTES: u64 = 256 << 20;

/// Step-package configuration and the install lock, shared by the API and the watcher.
#[derive(Debug)]
pub struct StepPackages {
    /// Which package IDs (and versions) may be installed.
    pub trusted: TrustedAllowList,
    /// Where installed archives are kept (`<data_dir>/step-packages`).
    pub dir: PathBuf,
    /// Limits applied when inspecting archives.
    pub limits: ArchiveLimits,
    /// Serializes installs, so two copies of one version never race.
    install_lock: Mutex<()>,
}

impl StepPackages {
    /// Configuration keeping archives in `dir`, trusting `trusted`.
    pub fn new(dir: PathBuf, trusted: TrustedAllowList) -> Self {
        Self {
            trusted,
            dir,
            limits: ArchiveLimits {
                max_total_size: 1 << 30,
                max_entry_size: MAX_ARCHIVE_BYTES.max(1 << 28),
                ..ArchiveLimits::default()
            },
            install_lock: Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.install_lock.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for StepPackages {
    /// Nothing trusted; archives under `./step-packages` (the server sets the real directory).
    fn default() -> Self {
        Self::new(PathBuf::from(STORE_DIR), TrustedAllowList::default())
    }
}

/// Start-up cleanup of the archive directory (call before serving): a crash can
/// leave an upload being received (in `.uploads/`), an install's temporary copy
/// (`.incoming-*`) or a copied archive whose version was never committed. All are
/// removed; archives of installed versions are kept. Returns how many files went.
pub fn sweep(store: &Store, dir: &Path) -> ApiResult<usize> {
    let installed: HashSet<String> = store
        .read_blocking(catalog::all_versions)?
        .into_iter()
        .flatten()
        // Compared case-insensitively: on a case-insensitive file system the name on
        // disk may differ in case from the recorded one, and an installed archive
        // must never be swept.
        .map(|row| row.archive_file.to_lowercase())
        .collect();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error("reading the step-package directory", e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| io_error("reading the step-package directory", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == UPLOADS_DIR {
            removed += sweep_all(&entry.path())?;
        } else if !installed.contains(&name.to_lowercase()) && entry.path().is_file() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("removing a stale step-package file", e)),
            }
        }
    }
    if removed > 0 {
        sync_dir(dir).map_err(|e| io_error("syncing the step-package directory", e))?;
    }
    Ok(removed)
}

/// Removes every file in `dir` (uploads in flight when the server stopped).
fn sweep_all(dir: &Path) -> ApiResult<usize> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| io_error("reading the step-package uploads", e))?;
    Ok(entries
        .flatten()
        .filter(|e| e.path().is_file() && std::fs::remove_file(e.path()).is_ok())
        .count())
}

#[cfg(test)]
mod tests {
    use crate::store::{DB_FILE, Store, migrations};

    #[test]
    fn a_store_migrated_past_a_lower_numbered_migration_still_gets_it() {
        // A store that recorded migrations 1 and 3 (step packages) before migration 2
        // existed must still receive 2 when it is added.
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        let (_, _, sql2) = migrations::MIGRATIONS
            .iter()
            .find(|m| m.0 == 2)
            .expect("migration 2");
        // Undo migration 2: drop what it created (indexes go with their tables).
        let words: Vec<&str> = sql2.split_whitespace().collect();
        for w in words.windows(3) {
            if w[0].eq_ignore_ascii_case("CREATE")
                && (w[1].eq_ignore_ascii_case("TABLE") || w[1].eq_ignore_ascii_case("TRIGGER"))
            {
                conn.execute_batch(&format!("DROP {} {}", w[1], w[2].trim_end_matches('(')))
                    .unwrap();
            }
        }
        conn.execute("DELETE FROM schema_migrations WHERE version = 2", [])
            .unwrap();
        drop(conn);
        let store = Store::open(dir.path()).unwrap();
        let n: i64 = store
            .read_blocking(|c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM schema_migrations WHERE version IN (2, 3)",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(n, 2);
    }
}
