//! Streaming an upload to disk and publishing it.
//!
//! [`Incoming`] owns a temporary file written by a blocking thread: chunks
//! travel through a small bounded channel (so memory stays flat whatever the
//! package size), are checked against the size limit and hashed on two threads
//! ([`ParallelHasher`]) while a third writes them and, for tar archives, a fourth
//! inspects them. If the request is abandoned (client gone, error), the temporary
//! file is removed. [`publish`] checks the archive (inspecting a zip file now that
//! its directory is there) and makes it visible atomically.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::http::StatusCode;
use octopus_packaging::archive::{self, ArchiveError, ArchiveLimits, ArchiveSummary};
use octopus_packaging::filename::ArchiveKind;
use octopus_packaging::filename::PackageFileName;
use octopus_packaging::hashing::{Digests, ParallelHasher};
use tokio::sync::mpsc;

use super::db::{self, ID_PREFIX, PackageRow};
use super::{OverwriteMode, TEMP_PREFIX, io_error, space_dir, sync_dir};
use crate::error::{ApiError, ApiResult};
use crate::store::Store;
use crate::store::documents::{self, NO_SPACE};
use crate::util::{now_iso8601, random_bytes};

/// Chunks buffered between the network and the disk writer.
const CHANNEL_CHUNKS: usize = 8;

/// Write buffer of the disk writer.
const WRITE_BUFFER: usize = 256 * 1024;

enum Msg {
    Data(Bytes),
    Finish,
}

/// A temporary file that is removed when dropped, unless kept.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn keep(mut self) -> PathBuf {
        self.keep = true;
        std::mem::take(&mut self.path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A complete, fsynced upload in a temporary file.
#[derive(Debug)]
pub struct Written {
    /// The file (removed when dropped).
    pub file: TempFile,
    /// Its digests and size.
    pub digests: Digests,
    /// The archive check, when it ran while the upload streamed (tar, tar.gz).
    pub inspected: Option<Result<ArchiveSummary, ArchiveError>>,
}

/// Why streaming an upload to disk failed.
#[derive(Debug)]
pub enum WriteError {
    /// More than the limit arrived.
    TooLarge(u64),
    /// Disk trouble.
    Io(io::Error),
}

impl WriteError {
    /// The API error to answer.
    pub fn into_api(self) -> ApiError {
        match self {
            Self::TooLarge(limit) => too_large(limit),
            Self::Io(e) => io_error("writing an upload", e),
        }
    }
}

/// 413 for a package over the limit.
pub fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("The package is larger than the limit of {limit} bytes."),
    )
}

/// An upload being streamed to a temporary file in the space's package directory.
pub struct Incoming {
    tx: Option<mpsc::Sender<Msg>>,
    join: tokio::task::JoinHandle<Result<Written, WriteError>>,
}

impl Incoming {
    /// Creates the temporary file and starts the writer; an archive of `kind` that
    /// can be read front to back is inspected as it arrives.
    pub fn start(data_dir: &Path, space: &str, kind: ArchiveKind, limit: u64) -> ApiResult<Self> {
        let dir = space_dir(data_dir, space);
        std::fs::create_dir_all(&dir).map_err(|e| io_error("creating the package directory", e))?;
        let hex: String = random_bytes::<12>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = dir.join(format!("{TEMP_PREFIX}{hex}"));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error("creating an upload file", e))?;
        let temp = TempFile { path, keep: false };
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let join = tokio::task::spawn_blocking(move || write_all(file, temp, kind, rx, limit));
        Ok(Self { tx: Some(tx), join })
    }

    /// Queues one chunk; fails once the writer has failed (e.g. over the limit).
    pub async fn push(&mut self, chunk: Bytes) -> Result<(), WriteError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let Some(tx) = &self.tx else {
            return Err(WriteError::Io(io::Error::other("upload already finished")));
        };
        if tx.send(Msg::Data(chunk)).await.is_err() {
            // The writer stopped early: report its error.
            self.tx = None;
            return Err(self.join_writer().await.err().unwrap_or_else(|| {
                WriteError::Io(io::Error::other("the upload writer stopped early"))
            }));
        }
        Ok(())
    }

    /// Ends the stream: flushes, fsyncs and returns the file with its digests.
    pub async fn finish(mut self) -> Result<Written, WriteError> {
        if let Some(tx) = self.tx.take() {
            // An error here means the writer already stopped; join reports why.
            let _ = tx.send(Msg::Finish).await;
        }
        self.join_writer().await
    }

    async fn join_writer(&mut self) -> Result<Written, WriteError> {
        (&mut self.join)
            .await
            .map_err(|e| WriteError::Io(io::Error::other(e.to_string())))?
    }
}

/// Chunks queued between the hashing thread and the disk writer.
const DISK_CHUNKS: usize = 8;

/// Receives the upload's chunks and hands each to three threads at once: one writes
/// it, the others compute SHA-1 and SHA-256, so the upload goes at the pace of the
/// slowest of them rather than of their sum. Chunks are shared, not copied.
fn write_all(
    file: File,
    temp: TempFile,
    kind: ArchiveKind,
    mut rx: mpsc::Receiver<Msg>,
    limit: u64,
) -> Result<Written, WriteError> {
    let (to_disk, from_net) = std::sync::mpsc::sync_channel::<Bytes>(DISK_CHUNKS);
    let mut hasher = ParallelHasher::new().map_err(WriteError::Io)?;
    // Without a thread for it, the finished file is inspected instead.
    let mut inspector = (kind != ArchiveKind::Zip)
        .then(|| Inspector::spawn(kind).ok())
        .flatten();
    let outcome = std::thread::scope(|scope| {
        let disk = scope.spawn(move || -> io::Result<File> {
            let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
            let mut writeback = Writeback::default();
            for chunk in from_net {
                out.write_all(&chunk)?;
                writeback.wrote(out.get_ref(), chunk.len());
            }
            out.into_inner().map_err(io::IntoInnerError::into_error)
        });
        let fed = feed(&mut rx, &mut hasher, inspector.as_mut(), &to_disk, limit);
        drop(to_disk);
        let written = disk
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the disk writer panicked")));
        match (fed, written) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(e)) => Err(WriteError::Io(e)),
            (Ok(()), Ok(file)) => Ok(file),
        }
    });
    let file = outcome?;
    file.sync_all().map_err(WriteError::Io)?;
    let digests = hasher.finish();
    Ok(Written {
        file: temp,
        digests,
        inspected: inspector.map(Inspector::finish),
    })
}

/// Chunks queued for the archive inspector.
const INSPECT_CHUNKS: usize = 8;

/// Inspects a tar or tar.gz archive on its own thread while the upload streams, so
/// the file need not be read again once it is complete.
struct Inspector {
    tx: Option<std::sync::mpsc::SyncSender<Bytes>>,
    thread: std::thread::JoinHandle<Result<ArchiveSummary, ArchiveError>>,
}

impl Inspector {
    fn spawn(kind: ArchiveKind) -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(INSPECT_CHUNKS);
        let thread = std::thread::Builder::new()
            .name("inspect".into())
            .spawn(move || {
                let reader = ChunkReader {
                    rx,
                    current: Bytes::new(),
                };
                archive::inspect_stream(reader, kind, &ArchiveLimits::default())
            })?;
        Ok(Inspector {
            tx: Some(tx),
            thread,
        })
    }

    /// Hands a chunk over; once the inspector has reached its verdict (a refusal
    /// can come early) the rest is not needed.
    fn push(&mut self, chunk: Bytes) {
        if let Some(tx) = &self.tx
            && tx.send(chunk).is_err()
        {
            self.tx = None;
        }
    }

    /// Ends the stream and returns the verdict.
    fn finish(mut self) -> Result<ArchiveSummary, ArchiveError> {
        self.tx = None;
        self.thread
            .join()
            .unwrap_or_else(|_| Err(ArchiveError::Io(io::Error::other("the inspector panicked"))))
    }
}

/// Reads the chunks an [`Inspector`] is handed, in order; the end of the upload is
/// the end of the stream.
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(chunk) => self.current = chunk,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Starts the disk writing back what an upload wrote while it is still arriving, a
/// window at a time, so the fsync at the end has only the last windows left to
/// flush instead of the whole package (on Linux; elsewhere the final fsync does it all).
#[derive(Default)]
struct Writeback {
    written: u64,
    started: u64,
}

/// Bytes handed to the disk per writeback request.
const WRITEBACK_WINDOW: u64 = 8 * 1024 * 1024;

impl Writeback {
    fn wrote(&mut self, file: &File, len: usize) {
        self.written += len as u64;
        // Stay a window behind, so the range has surely left the write buffer.
        while self.written - self.started >= 2 * WRITEBACK_WINDOW {
            start_writeback(file, self.started, WRITEBACK_WINDOW);
            self.started += WRITEBACK_WINDOW;
        }
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor is open for the duration of the call, and
    // sync_file_range only reads the arguments. It is advisory: a failure only
    // means the final fsync has more to do, so the result is ignored.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

/// Hashes and forwards chunks until the stream ends; `Ok` once it finished.
fn feed(
    rx: &mut mpsc::Receiver<Msg>,
    hasher: &mut ParallelHasher<Bytes>,
    mut inspector: Option<&mut Inspector>,
    to_disk: &std::sync::mpsc::SyncSender<Bytes>,
    limit: u64,
) -> Result<(), WriteError> {
    loop {
        match rx.blocking_recv() {
            Some(Msg::Data(chunk)) => {
                if hasher.size() + chunk.len() as u64 > limit {
                    return Err(WriteError::TooLarge(limit));
                }
                if to_disk.send(chunk.clone()).is_err() {
                    // The disk writer failed; joining it reports why.
                    return Ok(());
                }
                if let Some(inspector) = inspector.as_deref_mut() {
                    inspector.push(chunk.clone());
                }
                hasher.update(chunk);
            }
            Some(Msg::Finish) => return Ok(()),
            // Abandoned (client gone or handler failed): the temporary file is removed.
            None => return Err(WriteError::Io(io::Error::other("the upload was abandoned"))),
        }
    }
}

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// Stored as a new package version (201).
    Created(PackageRow),
    /// Replaced an existing package version (201).
    Replaced(PackageRow),
    /// The version existed and was kept (`IgnoreIfExists`, 200).
    Ignored(PackageRow),
}

/// The file name a stored upload gets: the canonical name with a random tag
/// before the extension, so a replacement never overwrites a file that a row
/// (or a running download) still uses.
fn stored_file_name(name: &PackageFileName) -> String {
    let ext = name.format.extension();
    let tag: String = random_bytes::<6>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut stem = format!("{}.{}", name.id, name.version);
    // Stay within 255 bytes: `<stem>@<12 hex>.<ext>`; all characters are ASCII.
    let room = 255 - 1 - tag.len() - 1 - ext.len();
    stem.truncate(room);
    format!("{stem}@{tag}.{ext}")
}

/// The message Octopus answers a duplicate with.
pub const DUPLICATE_MESSAGE: &str = "A package with the same ID and version already exists. \
     To proceed anyway, specify an overwriteMode of OverwriteExisting or IgnoreIfExists.";

/// Inspects a finished upload and publishes it (blocking: call on the blocking pool).
///
/// Order: inspect → rename to the final name → fsync the directory → commit the
/// row → remove a replaced file. A crash at any point leaves either the old state
/// or the new one, plus at most a stray file for [`super::sweep`].
pub fn publish(
    store: &Store,
    data_dir: &Path,
    space: &str,
    name: &PackageFileName,
    mut written: Written,
    mode: OverwriteMode,
) -> ApiResult<Published> {
    let canonical = name.file_name();
    let inspected = match written.inspected.take() {
        Some(verdict) => verdict,
        None => archive::inspect(written.file.path(), name.format, &ArchiveLimits::default()),
    };
    inspected.map_err(|e| match e {
        ArchiveError::Io(e) => io_error("reading an upload", e),
        e => ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!(
                "The package {canonical} was refused: it is not a safe .{} archive.",
                name.format
            ),
            errors: vec![e.to_string()],
        },
    })?;
    let dir = space_dir(data_dir, space);
    let file_name = stored_file_name(name);
    let final_path = dir.join(&file_name);
    std::fs::rename(written.file.path(), &final_path).map_err(|e| {
        // The space was deleted (and its directory with it) while the upload streamed.
        if e.kind() == io::ErrorKind::NotFound
            && matches!(
                store.read_blocking(|c| documents::exists(c, "spaces", NO_SPACE, space)),
                Ok(false)
            )
        {
            return ApiError::not_found("space", space);
        }
        io_error("publishing an upload", e)
    })?;
    written.file.keep();
    // From here on the file is ours to remove if the commit does not happen.
    let published = TempFile {
        path: final_path,
        keep: false,
    };
    sync_dir(&dir).map_err(|e| io_error("syncing the package directory", e))?;
    let version = name.version.to_string();
    let row = PackageRow {
        id: format!("{ID_PREFIX}{}.{version}", name.id),
        package_id: name.id.clone(),
        version,
        extension: name.format.extension().to_owned(),
        file_name,
        size: written.digests.size,
        sha1: written.digests.sha1_hex.clone(),
        sha256: written.digests.sha256_hex.clone(),
        published: now_iso8601(),
    };
    let sp = space.to_owned();
    let outcome = store.write_blocking(|tx| {
        if !documents::exists(tx, "spaces", NO_SPACE, &sp)? {
            return Err(ApiError::not_found("space", &sp));
        }
        let existing = db::get_version(tx, &sp, &row.package_id, &row.version)?;
        if let Some(other) = db::get_by_id(tx, &sp, &row.id)?
            && existing.as_ref().is_none_or(|e| e.id != other.id)
        {
            return Err(ApiError::conflict(format!(
                "The package {canonical} would have the same Id ({}) as the stored package {}.",
                row.id,
                other.canonical_file_name()
            )));
        }
        match (existing, mode) {
            (None, _) => {
                db::upsert(tx, &sp, &row)?;
                Ok(Published::Created(row.clone()))
            }
            (Some(_), OverwriteMode::FailIfExists) => Err(ApiError {
                status: StatusCode::CONFLICT,
                message: DUPLICATE_MESSAGE.into(),
                errors: vec![format!(
                    "The package {canonical} already exists in the built-in feed of {sp}."
                )],
            }),
            (Some(old), OverwriteMode::IgnoreIfExists) => Ok(Published::Ignored(old)),
            (Some(old), OverwriteMode::OverwriteExisting) => {
                db::upsert(tx, &sp, &row)?;
                Ok(Published::Replaced(old))
            }
        }
    });
    match outcome {
        Ok(Published::Created(row)) => {
            published.keep();
            Ok(Published::Created(row))
        }
        Ok(Published::Replaced(old)) => {
            published.keep();
            if old.file_name != row.file_name {
                remove_file(&dir, &old.file_name);
            }
            Ok(Published::Replaced(row))
        }
        // `published` is dropped: the new file goes.
        other => other,
    }
}

/// Removes a package file that no row refers to any more (best effort: the
/// start-up sweep removes what is left behind).
pub fn remove_file(dir: &Path, file_name: &str) {
    match std::fs::remove_file(dir.join(file_name)) {
        Ok(()) => {
            let _ = sync_dir(dir);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("octopus-lite: could not remove package file {file_name}: {e}"),
    }
}
