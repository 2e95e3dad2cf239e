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
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir` and migrates it.
    pub fn open(data_dir: &Path) -> rusqlite::Result<Self> {
        let path = data_dir.join(DB_FILE);
        let mut writer = Connection::open(&path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "FULL")?;
        writer.pragma_update(None, "busy_timeout", 5000)?;
        migrations::migrate(&mut writer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
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
        let out = f(&conn);
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
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// [`Store::read_blocking`] on the blocking pool.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> ApiResult<R> + Send + 'static,
    ) -> ApiResult<R> {
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
