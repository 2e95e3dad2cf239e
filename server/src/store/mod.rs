//! Durable storage: SQLite (WAL, `synchronous=FULL`) in the data directory.
//!
//! One writer connection serializes all writes; each write is one IMMEDIATE
//! transaction, acknowledged only after it committed (and so reached the disk).
//! Reads use a small pool of read-only connections. Blocking work runs on
//! Tokio's blocking pool.

pub mod documents;
pub mod migrations;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{ApiError, ApiResult};
use crate::secrets::{self, MasterKey, startup_error};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "octopus-lite.db";

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

/// The store: a writer and a pool of readers. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Seals and opens the sensitive values of documents (see [`crate::secrets`]).
    key: Arc<MasterKey>,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Bounds concurrent reads to the pool size, so connections are reused.
    read_permits: tokio::sync::Semaphore,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir` and migrates it. The
    /// database, its WAL and shared-memory files are made 0600; the master key is
    /// loaded, or created on first start (see [`crate::secrets`]); a key that does
    /// not match the database, or a missing one once secrets were encrypted, is refused.
    pub fn open(data_dir: &Path) -> rusqlite::Result<Self> {
        let path = data_dir.join(DB_FILE);
        secure_database_files(&path)
            .map_err(|e| startup_error(format!("securing {}: {e}", path.display())))?;
        let mut writer = Connection::open(&path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "FULL")?;
        writer.pragma_update(None, "busy_timeout", 5000)?;
        let key = Arc::new(master_key(data_dir, &writer)?);
        secrets::with_key(&key, || migrations::migrate(&mut writer, &key))?;
        // The WAL and shared-memory files exist now: make sure of their mode too.
        secure_database_files(&path)
            .map_err(|e| startup_error(format!("securing {}: {e}", path.display())))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                key,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                read_permits: tokio::sync::Semaphore::new(MAX_IDLE_READERS),
            }),
        })
    }

    fn reader(&self) -> rusqlite::Result<Connection> {
        if let Some(c) = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
        {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.pragma_update(None, "busy_timeout", 5000)?;
        c.pragma_update(None, "cache_size", -1024)?;
        Ok(c)
    }

    /// Runs `f` on a read connection (blocking; call from a blocking context).
    pub fn read_blocking<R>(&self, f: impl FnOnce(&Connection) -> ApiResult<R>) -> ApiResult<R> {
        let conn = self.reader()?;
        let out = secrets::with_key(&self.inner.key, || f(&conn));
        let mut pool = self.inner.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` in one write transaction, committed only if `f` succeeds
    /// (blocking; call from a blocking context).
    pub fn write_blocking<R>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> ApiResult<R>,
    ) -> ApiResult<R> {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = secrets::with_key(&self.inner.key, || f(&tx))?;
        tx.commit()?;
        Ok(out)
    }

    /// Limits the database to `pages` pages (`PRAGMA max_page_count`), so tests can
    /// make writes fail as on a full disk (`SQLITE_FULL`). Returns the limit in force.
    #[doc(hidden)]
    pub fn limit_pages_for_tests(&self, pages: i64) -> rusqlite::Result<i64> {
        let conn = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
            r.get(0)
        })
    }

    /// The database's current size in pages.
    #[doc(hidden)]
    pub fn page_count(&self) -> rusqlite::Result<i64> {
        let conn = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        conn.query_row("PRAGMA page_count", [], |r| r.get(0))
    }

    /// [`Store::read_blocking`] on the blocking pool.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> ApiResult<R> + Send + 'static,
    ) -> ApiResult<R> {
        let _permit = self
            .inner
            .read_permits
            .acquire()
            .await
            .map_err(ApiError::internal)?;
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(ApiError::internal)?
    }

    /// [`Store::write_blocking`] on the blocking pool.
    pub async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> ApiResult<R> + Send + 'static,
    ) -> ApiResult<R> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_blocking(f))
            .await
            .map_err(ApiError::internal)?
    }
}

/// The master key of `data_dir`: loaded, or created when the database holds no
/// encrypted values yet; checked against the database's check value.
fn master_key(data_dir: &Path, conn: &Connection) -> rusqlite::Result<MasterKey> {
    let check = secrets::stored_check(conn)?;
    let file = data_dir.join(secrets::MASTER_KEY_FILE);
    let key = match secrets::load(data_dir).map_err(startup_error)? {
        Some(key) => key,
        None if check.is_some() => {
            return Err(startup_error(format!(
                "the master key {} is missing, but the database's sensitive values are encrypted with it; \
                 restore the key file that was backed up with this database",
                file.display()
            )));
        }
        None => secrets::create(data_dir).map_err(startup_error)?,
    };
    if let Some(check) = check
        && !key.matches(&check)
    {
        return Err(startup_error(format!(
            "the master key {} is not the key this database's sensitive values were encrypted with; \
             restore the key file that was backed up with this database",
            file.display()
        )));
    }
    Ok(key)
}

/// Creates the database file with mode 0600 if it is missing (SQLite gives its WAL
/// and shared-memory files the database file's mode), and makes existing database,
/// WAL and shared-memory files 0600, whatever the umask.
fn secure_database_files(db: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(db) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let name = db.file_name().unwrap_or_default().to_string_lossy();
    for suffix in ["", "-wal", "-shm"] {
        match secrets::restrict_to_owner(&db.with_file_name(format!("{name}{suffix}"))) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::documents;

    #[test]
    fn migrations_are_idempotent_and_newer_stores_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let store = Store::open(dir.path()).unwrap();
        let versions: i64 = store
            .read_blocking(|c| {
                Ok(c.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))?)
            })
            .unwrap();
        assert_eq!(versions, migrations::MIGRATIONS.len() as i64);
        drop(store);
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations VALUES (9999, 'future', 'x')",
            [],
        )
        .unwrap();
        drop(conn);
        let err = Store::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn a_failed_write_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r: ApiResult<()> = store.write_blocking(|tx| {
            let id = documents::next_id(tx, "Things")?;
            documents::insert(
                tx,
                "things",
                "",
                &id,
                Some("a"),
                &serde_json::json!({"Id": id}),
            )?;
            Err(ApiError::bad_request("changed my mind"))
        });
        assert!(r.is_err());
        let (items, total) = store
            .read_blocking(|c| {
                documents::list::<serde_json::Value>(c, "things", "", &Default::default(), 0, 10)
            })
            .unwrap();
        assert_eq!((items.len(), total), (0, 0));
        // The sequence was rolled back too.
        let id = store
            .write_blocking(|tx| documents::next_id(tx, "Things"))
            .unwrap();
        assert_eq!(id, "Things-1");
    }

    #[test]
    fn a_full_database_is_507_and_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let pages = store.page_count().unwrap();
        assert_eq!(store.limit_pages_for_tests(pages).unwrap(), pages);
        let big = serde_json::json!({"Blob": "x".repeat(64 * 1024)});
        let e = store
            .write_blocking(|tx| documents::insert(tx, "things", "", "T-1", Some("t"), &big))
            .unwrap_err();
        assert_eq!(
            e.status,
            axum::http::StatusCode::INSUFFICIENT_STORAGE,
            "{e:?}"
        );
        assert!(e.message.contains("not have enough disk space"), "{e:?}");
        // Rolled back, and the store keeps working once there is room again.
        store.limit_pages_for_tests(i64::from(i32::MAX)).unwrap();
        let found = store
            .read_blocking(|c| documents::exists(c, "things", "", "T-1"))
            .unwrap();
        assert!(!found);
        store
            .write_blocking(|tx| documents::insert(tx, "things", "", "T-1", Some("t"), &big))
            .unwrap();
    }

    #[test]
    fn names_are_unique_per_kind_and_space() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let doc = serde_json::json!({});
        store
            .write_blocking(|tx| {
                documents::insert(tx, "things", "S-1", "T-1", Some("Name"), &doc)?;
                documents::insert(tx, "things", "S-2", "T-2", Some("name"), &doc)?;
                documents::insert(tx, "others", "S-1", "O-1", Some("NAME"), &doc)
            })
            .unwrap();
        let dup = store.write_blocking(|tx| {
            documents::insert(tx, "things", "S-1", "T-3", Some(" NAME "), &doc)
        });
        assert!(dup.is_err());
    }
}
