//! Streaming an upload to disk and publishing it.
//!
//! [`Incoming`] gathers the body's chunks on the request's task, asynchronously,
//! into batches of 512 KiB ([`BATCH_BYTES`]; small chunks are copied together,
//! large ones shared), checking the size limit as they arrive. Each complete batch
//! is queued for three lanes at once: one writes it (with early writeback, and hands
//! it to the archive inspector of a tar or tar.gz), the others add it to SHA-1 and
//! SHA-256. A lane's job runs on the blocking pool only while its queue (at most
//! `LANE_DEPTH` batches, the upload's backpressure) has work, then hands its state
//! back and ends. So no thread is held while an upload waits for the network: a slow
//! or stalled upload costs a socket, a task and at most one partial batch of memory,
//! and pins no thread (a thousand of them do not starve the blocking pool the
//! database reads run on). The temporary file is created with the first batch.
//! If the request is abandoned (client gone, error, deadline), the temporary file is
//! removed. [`publish`] checks the archive (inspecting a zip file, or a tar whose
//! upload stalled, now that it is complete) and makes it visible atomically.

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use octopus_packaging::archive::{self, ArchiveError, ArchiveLimits, ArchiveSummary};
use octopus_packaging::filename::ArchiveKind;
use octopus_packaging::filename::PackageFileName;
use octopus_packaging::hashing::{Digests, to_hex};
use sha1::Digest;

use super::db::{self, ID_PREFIX, PackageRow};
use super::{OverwriteMode, TEMP_PREFIX, io_error, space_dir, sync_dir};
use crate::error::{ApiError, ApiResult};
use crate::store::Store;
use crate::store::documents::{self, NO_SPACE};
use crate::util::{now_iso8601, random_bytes};

/// Bytes gathered from the network before they are written and hashed.
pub const BATCH_BYTES: usize = 512 * 1024;

/// Chunks smaller than this are copied into a shared buffer rather than kept:
/// a trickle of tiny chunks must not keep a network buffer alive per byte.
const SMALL_CHUNK: usize = 16 * 1024;

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

/// A batch of chunks, shared by the writer and the hashers.
type Batch = Arc<[Bytes]>;

/// An upload being streamed to a temporary file in the space's package directory.
pub struct Incoming {
    dir: PathBuf,
    temp: TempFile,
    kind: ArchiveKind,
    limit: u64,
    size: u64,
    batch: Vec<Bytes>,
    batch_len: usize,
    small: bytes_buf::Small,
    lanes: Option<Lanes>,
}

impl Incoming {
    /// Prepares an upload into the space's directory (the file itself is created
    /// with the first batch); an archive of `kind` that can be read front to back is
    /// inspected as it arrives.
    pub fn start(data_dir: &Path, space: &str, kind: ArchiveKind, limit: u64) -> ApiResult<Self> {
        let dir = space_dir(data_dir, space);
        std::fs::create_dir_all(&dir).map_err(|e| io_error("creating the package directory", e))?;
        let hex: String = random_bytes::<12>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = dir.join(format!("{TEMP_PREFIX}{hex}"));
        Ok(Self {
            dir,
            temp: TempFile { path, keep: false },
            kind,
            limit,
            size: 0,
            batch: Vec::new(),
            batch_len: 0,
            small: bytes_buf::Small::default(),
            lanes: None,
        })
    }

    /// Adds one chunk; queues a complete batch for the writer and hashers (waiting
    /// while their queues are full). Fails over the limit or once writing failed.
    pub async fn push(&mut self, chunk: Bytes) -> Result<(), WriteError> {
        if chunk.is_empty() {
            return Ok(());
        }
        if self.size + chunk.len() as u64 > self.limit {
            return Err(WriteError::TooLarge(self.limit));
        }
        self.size += chunk.len() as u64;
        self.batch_len += chunk.len();
        if chunk.len() < SMALL_CHUNK {
            if let Some(full) = self.small.add(&chunk, SMALL_CHUNK) {
                self.batch.push(full);
            }
        } else {
            if let Some(rest) = self.small.take() {
                self.batch.push(rest);
            }
            self.batch.push(chunk);
        }
        if self.batch_len >= BATCH_BYTES {
            self.flush().await.map_err(WriteError::Io)?;
        }
        Ok(())
    }

    /// Ends the stream: writes the last batch, fsyncs and returns the file with its
    /// digests.
    pub async fn finish(mut self) -> Result<Written, WriteError> {
        self.flush().await.map_err(WriteError::Io)?;
        // An empty upload still gets its (empty) file, for the archive check to refuse.
        self.lanes_mut().map_err(WriteError::Io)?;
        let Some(lanes) = self.lanes.take() else {
            return Err(WriteError::Io(io::Error::other("the upload has no file")));
        };
        let disk = lanes.disk.into_state().await.map_err(WriteError::Io)?;
        let sha1 = lanes.sha1.into_state().await.map_err(WriteError::Io)?;
        let sha256 = lanes.sha256.into_state().await.map_err(WriteError::Io)?;
        let inspected = tokio::task::spawn_blocking(move || {
            disk.file.sync_all()?;
            Ok::<_, io::Error>(disk.inspector.and_then(Inspector::finish))
        })
        .await
        .map_err(|e| WriteError::Io(io::Error::other(e.to_string())))?
        .map_err(WriteError::Io)?;
        Ok(Written {
            file: self.temp,
            digests: Digests {
                sha1_hex: to_hex(&sha1.finalize()),
                sha256_hex: to_hex(&sha256.finalize()),
                size: self.size,
            },
            inspected,
        })
    }

    /// Hands the gathered chunks to the writer and the hashers.
    async fn flush(&mut self) -> io::Result<()> {
        if let Some(rest) = self.small.take() {
            self.batch.push(rest);
        }
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch: Batch = std::mem::take(&mut self.batch).into();
        self.batch_len = 0;
        let lanes = self.lanes_mut()?;
        lanes.disk.push(batch.clone()).await?;
        lanes.sha1.push(batch.clone()).await?;
        lanes.sha256.push(batch).await
    }

    /// The writer and hashers, created (with the temporary file) on first use.
    fn lanes_mut(&mut self) -> io::Result<&mut Lanes> {
        if self.lanes.is_none() {
            let create = || {
                File::options()
                    .write(true)
                    .create_new(true)
                    .open(&self.temp.path)
            };
            let file = match create() {
                // The directory went (its space was deleted meanwhile): publishing
                // will find the space gone and answer 404.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    std::fs::create_dir_all(&self.dir)?;
                    create()?
                }
                other => other?,
            };
            // Without a thread for it, the finished file is inspected instead.
            let inspector = (self.kind != ArchiveKind::Zip)
                .then(|| Inspector::spawn(self.kind).ok())
                .flatten();
            self.lanes = Some(Lanes {
                disk: Lane::new(
                    Disk {
                        file,
                        writeback: Writeback::default(),
                        inspector,
                    },
                    Disk::write,
                ),
                sha1: Lane::new(sha1::Sha1::new(), hash::<sha1::Sha1>),
                sha256: Lane::new(sha2::Sha256::new(), hash::<sha2::Sha256>),
            });
        }
        self.lanes
            .as_mut()
            .ok_or_else(|| io::Error::other("the upload has no file"))
    }
}

/// Small chunks copied together.
mod bytes_buf {
    use bytes::{Bytes, BytesMut};

    #[derive(Default)]
    pub struct Small(BytesMut);

    impl Small {
        /// Appends `chunk`; returns the buffer once it holds at least `full` bytes.
        pub fn add(&mut self, chunk: &[u8], full: usize) -> Option<Bytes> {
            if self.0.capacity() == 0 {
                self.0.reserve(4 * full);
            }
            self.0.extend_from_slice(chunk);
            (self.0.len() >= full).then(|| self.0.split().freeze())
        }

        /// What is buffered, if anything.
        pub fn take(&mut self) -> Option<Bytes> {
            (!self.0.is_empty()).then(|| self.0.split().freeze())
        }
    }
}

/// The three jobs a batch goes to.
struct Lanes {
    disk: Lane<Disk>,
    sha1: Lane<sha1::Sha1>,
    sha256: Lane<sha2::Sha256>,
}

/// Batches queued per lane: enough slack that the network need not wait for every
/// hiccup of the blocking pool, little enough memory (a few MiB per upload).
const LANE_DEPTH: usize = 6;

/// One of the three jobs of an upload: a queue of batches and the job's state. A job
/// on the blocking pool drains the queue while there is work and then hands the state
/// back here and ends, so no thread is held while the upload waits for the network.
struct Lane<S> {
    shared: Arc<LaneShared<S>>,
    work: fn(&mut S, &[Bytes]) -> io::Result<()>,
}

struct LaneShared<S> {
    inner: std::sync::Mutex<LaneInner<S>>,
    /// Signalled whenever a batch was taken or the job ended.
    progress: tokio::sync::Notify,
}

struct LaneInner<S> {
    /// `None` while a job holds it.
    state: Option<S>,
    queue: std::collections::VecDeque<Batch>,
    running: bool,
    failed: Option<Failure>,
}

/// A lane's error, kept to report it again (an `io::Error` is not `Clone`); the OS error
/// code survives, so a full disk is still a 507.
#[derive(Clone)]
struct Failure {
    os: Option<i32>,
    kind: io::ErrorKind,
    message: String,
}

impl Failure {
    fn of(e: &io::Error) -> Self {
        Self {
            os: e.raw_os_error(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    fn error(&self) -> io::Error {
        match self.os {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(self.kind, self.message.clone()),
        }
    }
}

impl<S> LaneShared<S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, LaneInner<S>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: Send + 'static> Lane<S> {
    fn new(state: S, work: fn(&mut S, &[Bytes]) -> io::Result<()>) -> Self {
        Self {
            shared: Arc::new(LaneShared {
                inner: std::sync::Mutex::new(LaneInner {
                    state: Some(state),
                    queue: std::collections::VecDeque::new(),
                    running: false,
                    failed: None,
                }),
                progress: tokio::sync::Notify::new(),
            }),
            work,
        }
    }

    /// Queues `batch`, waiting while the queue is full; starts a job if none runs.
    async fn push(&self, batch: Batch) -> io::Result<()> {
        let mut batch = Some(batch);
        loop {
            {
                let mut g = self.shared.lock();
                if let Some(failure) = &g.failed {
                    return Err(failure.error());
                }
                if g.queue.len() < LANE_DEPTH {
                    if let Some(b) = batch.take() {
                        g.queue.push_back(b);
                    }
                    if !g.running
                        && let Some(state) = g.state.take()
                    {
                        g.running = true;
                        let shared = self.shared.clone();
                        let work = self.work;
                        tokio::task::spawn_blocking(move || drain(shared, state, work));
                    }
                    return Ok(());
                }
            }
            self.shared.progress.notified().await;
        }
    }

    /// The state once every queued batch is done, or the first error.
    async fn into_state(self) -> io::Result<S> {
        loop {
            {
                let mut g = self.shared.lock();
                if let Some(failure) = &g.failed {
                    return Err(failure.error());
                }
                if !g.running && g.queue.is_empty() {
                    return g
                        .state
                        .take()
                        .ok_or_else(|| io::Error::other("an upload job failed"));
                }
            }
            self.shared.progress.notified().await;
        }
    }
}

/// The job: works through the queue, then puts the state back and ends.
fn drain<S>(
    shared: Arc<LaneShared<S>>,
    mut state: S,
    work: fn(&mut S, &[Bytes]) -> io::Result<()>,
) {
    /// Marks the lane failed if the work panics, so nobody waits for it forever.
    struct Running<'a, S>(&'a LaneShared<S>, bool);
    impl<S> Drop for Running<'_, S> {
        fn drop(&mut self) {
            if !self.1 {
                let mut g = self.0.lock();
                g.running = false;
                g.failed = Some(Failure::of(&io::Error::other("an upload job panicked")));
                drop(g);
                self.0.progress.notify_one();
            }
        }
    }
    let mut guard = Running(&shared, false);
    loop {
        let batch = {
            let mut g = shared.lock();
            match g.queue.pop_front() {
                Some(b) => b,
                None => {
                    g.state = Some(state);
                    g.running = false;
                    guard.1 = true;
                    drop(g);
                    shared.progress.notify_one();
                    return;
                }
            }
        };
        shared.progress.notify_one();
        if let Err(e) = work(&mut state, &batch) {
            let mut g = shared.lock();
            g.failed = Some(Failure::of(&e));
            g.queue.clear();
            g.state = Some(state);
            g.running = false;
            guard.1 = true;
            drop(g);
            shared.progress.notify_one();
            return;
        }
    }
}

fn hash<D: Digest>(digest: &mut D, batch: &[Bytes]) -> io::Result<()> {
    for chunk in batch {
        digest.update(chunk);
    }
    Ok(())
}

/// The temporary file being written.
struct Disk {
    file: File,
    writeback: Writeback,
    inspector: Option<Inspector>,
}

impl Disk {
    /// Writes a batch (one `writev` per batch, usually) and passes it on to the
    /// inspector.
    fn write(&mut self, batch: &[Bytes]) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match self.file.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let len: usize = batch.iter().map(Bytes::len).sum();
        self.writeback.wrote(&self.file, len);
        if let Some(inspector) = &mut self.inspector {
            for chunk in batch {
                inspector.push(chunk.clone());
            }
        }
        Ok(())
    }
}

/// Chunks queued for the archive inspector.
const INSPECT_CHUNKS: usize = 64;

/// How long the inspector waits for the next chunk before it gives up (the finished
/// file is inspected instead), so a stalled upload does not hold its thread.
const INSPECT_STALL: Duration = Duration::from_secs(1);

/// Inspects a tar or tar.gz archive on its own thread while the upload streams, so
/// the file need not be read again once it is complete.
struct Inspector {
    tx: Option<std::sync::mpsc::SyncSender<Bytes>>,
    thread: std::thread::JoinHandle<Result<ArchiveSummary, ArchiveError>>,
    stalled: Arc<AtomicBool>,
}

impl Inspector {
    fn spawn(kind: ArchiveKind) -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(INSPECT_CHUNKS);
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        let thread = std::thread::Builder::new()
            .name("inspect".into())
            .spawn(move || {
                let reader = ChunkReader {
                    rx,
                    current: Bytes::new(),
                    stalled: flag,
                };
                archive::inspect_stream(reader, kind, &ArchiveLimits::default())
            })?;
        Ok(Inspector {
            tx: Some(tx),
            thread,
            stalled,
        })
    }

    /// Hands a chunk over; once the inspector has reached its verdict (a refusal
    /// can come early) or given up, the rest is not needed.
    fn push(&mut self, chunk: Bytes) {
        if let Some(tx) = &self.tx
            && tx.send(chunk).is_err()
        {
            self.tx = None;
        }
    }

    /// Ends the stream and returns the verdict; `None` if the inspector gave up.
    fn finish(mut self) -> Option<Result<ArchiveSummary, ArchiveError>> {
        self.tx = None;
        let verdict = self
            .thread
            .join()
            .unwrap_or_else(|_| Err(ArchiveError::Io(io::Error::other("the inspector panicked"))));
        (!self.stalled.load(Ordering::Acquire)).then_some(verdict)
    }
}

/// Reads the chunks an [`Inspector`] is handed, in order; the end of the upload is
/// the end of the stream.
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
    stalled: Arc<AtomicBool>,
}

impl io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            match self.rx.recv_timeout(INSPECT_STALL) {
                Ok(chunk) => self.current = chunk,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    self.stalled.store(true, Ordering::Release);
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the upload stalled; the complete file is inspected instead",
                    ));
                }
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
        // Stay a window behind, so the range has surely been written.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: u8) -> Batch {
        vec![Bytes::from(vec![n; 1000]), Bytes::from(vec![n; 10])].into()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lanes_process_every_batch_in_order_and_release_their_thread() {
        fn record(seen: &mut Vec<u8>, b: &[Bytes]) -> io::Result<()> {
            seen.extend(b.iter().map(|c| c[0]));
            Ok(())
        }
        let lane = Lane::new(Vec::new(), record);
        for n in 0..50 {
            lane.push(batch(n)).await.unwrap();
            if n % 10 == 0 {
                // Idle now and then: the job ends and a new one starts later.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        let seen = lane.into_state().await.unwrap();
        let want: Vec<u8> = (0..50).flat_map(|n| [n, n]).collect();
        assert_eq!(seen, want);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_disk_in_a_lane_is_still_a_507() {
        fn fail_second(count: &mut u32, _: &[Bytes]) -> io::Result<()> {
            *count += 1;
            if *count == 2 {
                return Err(io::Error::from_raw_os_error(28));
            }
            Ok(())
        }
        let lane = Lane::new(0u32, fail_second);
        let mut first_error = None;
        for n in 0..20 {
            if let Err(e) = lane.push(batch(n)).await {
                first_error = Some(e);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let e = match first_error {
            Some(e) => e,
            None => lane.into_state().await.expect_err("the lane failed"),
        };
        assert_eq!(e.raw_os_error(), Some(28));
        assert_eq!(
            WriteError::Io(e).into_api().status,
            StatusCode::INSUFFICIENT_STORAGE
        );
    }
}
