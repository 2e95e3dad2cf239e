//! octopus-lite: an embedded, Octopus Deploy-compatible API server.
//!
//! Start it in-process (tests) with [`Server::start`], or run the
//! `octopus-lite` binary. Data lives in SQLite in the data directory; every
//! acknowledged write is durable.
//!
//! ```no_run
//! # async fn demo() -> Result<(), octopus_server::ServerError> {
//! let dir = std::path::PathBuf::from("/tmp/octopus-lite-data");
//! let server = octopus_server::Server::start(octopus_server::ServerConfig::new(dir)).await?;
//! println!("{} {}", server.url(), server.api_key());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
mod auth;
pub mod error;
pub mod http;
pub mod limits;
pub mod packages;
pub mod progression;
pub mod secrets;
pub mod step_packages;
pub mod store;
pub mod tasks;
pub mod util;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::store::Store;

/// File in the data directory holding the generated API key.
pub const API_KEY_FILE: &str = "api-key";

/// Default request body limit: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Default longest run time of one deployment action: 1 hour.
pub const DEFAULT_STEP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Default longest wait for a request body: 30 s.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Directory of the database and the generated API key (created if missing).
    pub data_dir: PathBuf,
    /// The accepted API key; `None` loads or generates one in the data directory.
    pub api_key: Option<String>,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Longest wait for a request body to arrive; slower clients get 408.
    pub body_timeout: std::time::Duration,
    /// Largest package upload in bytes (default 2 GiB); larger ones get 413.
    pub max_package_bytes: u64,
    /// Step-package feed directory to watch; new archives dropped in are installed.
    pub step_feed_dir: Option<PathBuf>,
    /// Step-package IDs (and optional version ranges) that may be installed.
    pub trusted_step_packages: octopus_packaging::step_package::TrustedAllowList,
    /// Longest time from the first byte of a request to the end of its head (408 after).
    pub header_timeout: std::time::Duration,
    /// Longest time a connection may wait for a request (fresh or kept alive) before
    /// it is closed, and longest time a peer may read nothing of a response.
    pub idle_timeout: std::time::Duration,
    /// Most connections open at once (lowered to fit the open-file limit); when all
    /// are taken, the longest idle one is closed for a new one, or the new one gets 503.
    pub max_connections: usize,
    /// Longest wait for requests in progress when shutting down.
    pub shutdown_grace: std::time::Duration,
    /// Most package and step-package uploads received at once; more get 503.
    pub max_uploads: usize,
    /// Longest time an upload's body may take to arrive (408 after).
    pub upload_deadline: std::time::Duration,
    /// Most tasks (deployments) running at once.
    pub max_concurrent_tasks: usize,
    /// Longest run time of one deployment action; its processes are killed after it.
    pub step_timeout: std::time::Duration,
    /// The user (uid, gid) steps run as; `None`: the server's own. Needs the server to
    /// run as root; the data directory then becomes 0711 so steps can reach their
    /// working directories (its files stay 0600).
    pub run_steps_as: Option<(u32, u32)>,
}

impl ServerConfig {
    /// Listens on `127.0.0.1:0` with data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            api_key: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_package_bytes: packages::DEFAULT_MAX_PACKAGE_BYTES,
            step_feed_dir: None,
            trusted_step_packages: Default::default(),
            header_timeout: http::DEFAULT_HEADER_TIMEOUT,
            idle_timeout: http::DEFAULT_IDLE_TIMEOUT,
            max_connections: http::DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: http::DEFAULT_SHUTDOWN_GRACE,
            max_uploads: limits::DEFAULT_MAX_UPLOADS,
            upload_deadline: limits::DEFAULT_UPLOAD_DEADLINE,
            max_concurrent_tasks: tasks::queue::DEFAULT_MAX_CONCURRENT,
            step_timeout: DEFAULT_STEP_TIMEOUT,
            run_steps_as: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Data directory, key file or socket problem.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The store could not be opened or migrated.
    #[error("store: {0}")]
    Store(#[from] rusqlite::Error),
    /// Seeding or another start-up operation failed.
    #[error("start-up: {0}")]
    Startup(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let context = context.into();
    move |source| ServerError::Io { context, source }
}

/// The server entry point.
pub struct Server;

/// A started server. Dropping it leaves the server running until the runtime ends;
/// call [`RunningServer::shutdown`] to stop it.
pub struct RunningServer {
    addr: SocketAddr,
    api_key: String,
    data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    step_feed: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    queue: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Server {
    /// Opens the store, seeds the default space on first start, binds and serves.
    /// The data directory is made 0700 (see `docs/security.md`).
    pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
        let data_dir = config.data_dir.clone();
        create_private_dir(&data_dir)?;
        secrets::remove_stale_temp_files(&data_dir);
        let api_key = match config.api_key.clone() {
            Some(k) => k,
            None => load_or_create_key(&data_dir)?,
        };
        let dir = data_dir.clone();
        let key = api_key.clone();
        let limit = config.max_body_bytes;
        let body_timeout = config.body_timeout;
        let max_package_bytes = config.max_package_bytes;
        let (max_uploads, upload_deadline) = (config.max_uploads, config.upload_deadline);
        let packages_dir = data_dir.clone();
        let (max_tasks, step_timeout) = (config.max_concurrent_tasks, config.step_timeout);
        let run_steps_as = config.run_steps_as;
        if let Some((uid, _)) = run_steps_as {
            prepare_for_step_user(&data_dir, uid)?;
        }
        if let Some(feed) = &config.step_feed_dir {
            let store_dir = data_dir.join(step_packages::STORE_DIR);
            let same = |a: &std::path::Path, b: &std::path::Path| {
                a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
            };
            if same(feed, &store_dir) {
                return Err(ServerError::Startup(format!(
                    "the step feed directory {} is where the server keeps installed step packages; choose another directory",
                    feed.display()
                )));
            }
        }
        let step_packages = step_packages::StepPackages::new(
            data_dir.join(step_packages::STORE_DIR),
            config.trusted_step_packages.clone(),
        );
        let state = tokio::task::spawn_blocking(move || -> Result<api::State, ServerError> {
            let store = Store::open(&dir)?;
            store
                .write_blocking(|tx| api::spaces_seed(tx))
                .map_err(|e| ServerError::Startup(e.message))?;
            let mut state =
                api::State::new(store, key, limit).map_err(|e| ServerError::Startup(e.message))?;
            state.body_timeout = body_timeout;
            state.set_upload_limits(max_uploads, upload_deadline);
            // Interrupted uploads leave temporary or unreferenced files: remove them.
            packages::sweep(&state.store, &packages_dir)
                .map_err(|e| ServerError::Startup(e.message))?;
            step_packages::sweep(&state.store, &step_packages.dir)
                .map_err(|e| ServerError::Startup(e.message))?;
            // Tasks a stopped server left running are failed; queued ones run next.
            tasks::recover(&state.store, &packages_dir)
                .map_err(|e| ServerError::Startup(e.message))?;
            tasks::sweep_logs(&state.store, &packages_dir)
                .map_err(|e| ServerError::Startup(e.message))?;
            state.tasks = Arc::new(tasks::queue::Queue::new(max_tasks));
            state.step_timeout = step_timeout;
            state.run_steps_as = run_steps_as;
            state.data_dir = packages_dir;
            state.max_package_bytes = max_package_bytes;
            state.step_packages = step_packages;
            Ok(state)
        })
        .await
        .map_err(|e| ServerError::Startup(e.to_string()))??;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(io(format!("binding {}", config.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(io("reading the bound address"))?;
        let state = Arc::new(state);
        let step_feed = config.step_feed_dir.clone().map(|dir| {
            let (stop, stopped) = oneshot::channel::<()>();
            (
                stop,
                step_packages::watcher::spawn(state.clone(), dir, stopped),
            )
        });
        let queue = {
            let (stop, stopped) = oneshot::channel::<()>();
            let grace = config.shutdown_grace;
            (
                stop,
                tokio::spawn(tasks::queue::run(state.clone(), stopped, grace)),
            )
        };
        let app = api::router(state);
        let open_files = http::open_file_limit();
        let max_connections = http::fit_connection_limit(config.max_connections, open_files);
        if max_connections < config.max_connections {
            eprintln!(
                "octopus-lite: serving at most {max_connections} connections (not {}): the open-file limit is {}",
                config.max_connections,
                open_files.unwrap_or_default()
            );
        }
        let limits = http::ConnectionLimits {
            header_timeout: config.header_timeout,
            idle_timeout: config.idle_timeout,
            max_connections,
            shutdown_grace: config.shutdown_grace,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(http::serve(listener, app, limits, async {
            let _ = stopped.await;
        }));
        Ok(RunningServer {
            addr,
            api_key,
            data_dir,
            stop: Some(stop),
            task,
            step_feed,
            queue: Some(queue),
        })
    }
}

impl RunningServer {
    /// Base URL, e.g. `http://127.0.0.1:8065`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The accepted API key.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops accepting connections, closes idle ones and waits for requests in
    /// progress, at most [`ServerConfig::shutdown_grace`] (then closes them too).
    pub async fn shutdown(mut self) {
        if let Some((stop, task)) = self.step_feed.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some((stop, task)) = self.queue.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server stops (it only stops on [`RunningServer::shutdown`] or an error).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Creates the data directory (and missing parents) with mode 0700 and makes an
/// existing one 0700: it holds the database, the master key and the API key.
fn create_private_dir(dir: &Path) -> Result<(), ServerError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(io(format!("creating {}", dir.display())))?;
    secrets::restrict_to_owner(dir)
        .map_err(io(format!("restricting {} to its owner", dir.display())))?;
    Ok(())
}

/// Lets steps running as `uid` reach their working directories: refuses unless the
/// server can switch to that user (it runs as root, or as `uid` itself), and makes the
/// data directory and its `work/` traversable but not listable (0711). Every file in
/// them stays private to its owner.
fn prepare_for_step_user(data_dir: &Path, uid: u32) -> Result<(), ServerError> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::PermissionsExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        if euid != 0 && euid != uid {
            return Err(ServerError::Startup(format!(
                "running steps as uid {uid} needs octopus-lite to run as root (it runs as uid {euid})"
            )));
        }
        let work = data_dir.join("work");
        std::fs::create_dir_all(&work).map_err(io(format!("creating {}", work.display())))?;
        for dir in [data_dir, work.as_path()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
                .map_err(io(format!("making {} traversable", dir.display())))?;
        }
    }
    let _ = (data_dir, uid);
    Ok(())
}

/// Whether `key` has the form of a key octopus-lite accepts from its key file:
/// `API-` and at least 16 ASCII letters or digits (generated keys have 32).
pub fn is_valid_api_key(key: &str) -> bool {
    key.strip_prefix("API-")
        .is_some_and(|tail| tail.len() >= 16 && tail.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The key in `dir/api-key`, or a new one written there (mode 0600, atomically). A
/// file that does not hold a valid key is refused, never overwritten.
fn load_or_create_key(dir: &Path) -> Result<String, ServerError> {
    let path = dir.join(API_KEY_FILE);
    for _ in 0..2 {
        match std::fs::read(&path) {
            Ok(bytes) => {
                secrets::restrict_to_owner(&path)
                    .map_err(io(format!("restricting {} to its owner", path.display())))?;
                return match std::str::from_utf8(&bytes).map(str::trim) {
                    Ok(key) if is_valid_api_key(key) => Ok(key.to_owned()),
                    _ => Err(ServerError::Startup(format!(
                        "{} does not hold a valid API key (API- followed by at least 16 letters or digits); \
                         correct it, or delete it to have a new key generated",
                        path.display()
                    ))),
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(format!("reading {}", path.display()))(e)),
        }
        let key = util::new_api_key();
        match secrets::create_private_file(dir, API_KEY_FILE, key.as_bytes()) {
            Ok(true) => return Ok(key),
            // Another process wrote one first: read it.
            Ok(false) => {}
            Err(e) => return Err(io(format!("writing {}", path.display()))(e)),
        }
    }
    Err(ServerError::Startup(format!(
        "{} keeps changing; is another octopus-lite starting on this data directory?",
        path.display()
    )))
}
