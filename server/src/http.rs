//! The HTTP/1.1 connection layer (in place of `axum::serve`): a connection limit,
//! header and idle timeouts, a stalled-write timeout, lingering close, accept errors
//! that neither spin nor stall, and a graceful shutdown bounded by a grace period.
//!
//! - **Connection limit** ([`ConnectionLimits::max_connections`]). When every slot is
//!   taken, the connection that has been idle longest (no request in progress, no
//!   byte of a new one received, idle for at least [`MIN_IDLE_TO_EVICT`]) is closed to
//!   make room, as nginx reuses idle keep-alive connections; when none is idle, the
//!   new connection is answered `503` with `Retry-After` and closed. Connections in
//!   progress are never touched.
//! - **Idle timeout**: a connection with no request in progress and no byte of a new
//!   one (a fresh connection, or a keep-alive one between requests) is closed after
//!   [`ConnectionLimits::idle_timeout`].
//! - **Header timeout**: once the first byte of a request has arrived, its head must be
//!   complete within [`ConnectionLimits::header_timeout`] (slowloris); the client gets
//!   `408` and the connection is closed.
//! - **Stalled writes**: a peer that reads nothing of a response for `idle_timeout` is
//!   dropped.
//! - **Request bodies** are the handlers' business (`body_timeout`, the upload
//!   deadline in [`crate::limits`]).
//! - **Accept errors** such as `EMFILE` close the idlest connection (if one has been
//!   idle long enough), wait 50 ms and go on; they are logged at most every 10 s.
//! - **Shutdown**: stop accepting; close idle connections at once; let requests in
//!   progress finish (their connections then close) for at most
//!   [`ConnectionLimits::shutdown_grace`]; then close everything.
//! - **Lingering close**: when hyper ends a connection (e.g. after answering an upload
//!   it refused before reading its body), the write side is shut down first and what
//!   the client still sends is read and discarded for a moment, so the client reads the
//!   answer instead of a reset.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Default [`ConnectionLimits::header_timeout`]: 20 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// Default [`ConnectionLimits::idle_timeout`]: 120 s, longer than HTTP clients keep idle
/// pooled connections (reqwest: 90 s), so that they close first and never reuse a
/// connection the server is closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Default [`ConnectionLimits::max_connections`]: 4096 (lowered to fit the open-file limit).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default [`ConnectionLimits::shutdown_grace`]: 5 s.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// An idle connection younger than this is not closed to make room (it may be a
/// client that connected and is about to send its request).
pub const MIN_IDLE_TO_EVICT: Duration = Duration::from_millis(500);

/// Pause after an accept error that is not about one connection (`EMFILE`, ...).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Connections being answered `503` (over the limit) at once, at most; more are closed
/// unanswered. Fewer with a small connection limit: they hold file descriptors too.
const MAX_REFUSALS: usize = 64;

/// How long a refused connection is kept to read what its client already sent.
const REFUSAL_LINGER: Duration = Duration::from_millis(100);

/// Longest lingering close, and most bytes read and discarded during it.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;

/// How the server treats connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Longest time from the first byte of a request to the end of its head.
    pub header_timeout: Duration,
    /// Longest time a connection may wait for a request (fresh or kept alive), and
    /// longest time a peer may read nothing of a response.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Longest wait for requests in progress at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// The soft open-file limit of this process (`RLIMIT_NOFILE`), if known.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            return Some(lim.rlim_cur);
        }
    }
    None
}

/// Raises the soft open-file limit to the hard one (what a server process should
/// have); returns the soft limit in force.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct they are given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    return Some(raised.rlim_cur);
                }
            }
        }
    }
    open_file_limit()
}

/// The connection limit that fits the open-file limit: connections get at most three
/// quarters of it, less 32, so the database, package files and refusals keep file
/// descriptors and `accept` does not run into `EMFILE`.
pub fn fit_connection_limit(wanted: usize, open_files: Option<u64>) -> usize {
    let Some(limit) = open_files else {
        return wanted.max(1);
    };
    let room = usize::try_from(limit / 4 * 3)
        .unwrap_or(usize::MAX)
        .saturating_sub(32)
        .max(8);
    wanted.clamp(1, room)
}

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    Evicted,
    Idle,
    HeaderTimeout,
    WriteStalled,
}

#[derive(Debug)]
struct Track {
    /// Requests whose response has not been sent completely.
    busy: u32,
    /// When the connection last had no request in progress.
    idle_since: Instant,
    /// First byte of a new request received while not busy.
    head_started: Option<Instant>,
    /// Since when a write has been waiting for the peer to read.
    write_blocked: Option<Instant>,
    /// To be closed to make room for another connection.
    evict: bool,
}

/// What the connection's task and the registry know about one connection.
struct Tracker {
    id: u64,
    state: Mutex<Track>,
    changed: Notify,
}

impl Tracker {
    fn lock(&self) -> MutexGuard<'_, Track> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_read(&self) {
        let mut t = self.lock();
        if t.busy == 0 && t.head_started.is_none() {
            t.head_started = Some(Instant::now());
            drop(t);
            self.changed.notify_one();
        }
    }

    fn on_write(&self, blocked: bool) {
        let mut t = self.lock();
        match (blocked, t.write_blocked.is_some()) {
            (true, false) => {
                t.write_blocked = Some(Instant::now());
                drop(t);
                self.changed.notify_one();
            }
            (false, true) => t.write_blocked = None,
            _ => {}
        }
    }

    fn begin_request(&self) {
        let mut t = self.lock();
        t.busy += 1;
        t.head_started = None;
    }

    fn end_request(&self) {
        let mut t = self.lock();
        t.busy = t.busy.saturating_sub(1);
        if t.busy == 0 {
            t.idle_since = Instant::now();
            t.head_started = None;
        }
        drop(t);
        self.changed.notify_one();
    }

    /// No request in progress (idle, or receiving a request head).
    fn quiet(&self) -> bool {
        self.lock().busy == 0
    }

    /// Whether to close now, or until when to wait (`None`: no deadline).
    fn verdict(&self, limits: &ConnectionLimits, now: Instant) -> Result<Option<Instant>, Close> {
        let t = self.lock();
        if t.evict {
            return Err(Close::Evicted);
        }
        let mut deadline = None;
        if let Some(since) = t.write_blocked {
            let d = since + limits.idle_timeout;
            if now >= d {
                return Err(Close::WriteStalled);
            }
            deadline = Some(d);
        }
        if t.busy == 0 {
            let (d, why) = match t.head_started {
                Some(h) => (h + limits.header_timeout, Close::HeaderTimeout),
                None => (t.idle_since + limits.idle_timeout, Close::Idle),
            };
            if now >= d {
                return Err(why);
            }
            deadline = Some(deadline.map_or(d, |x: Instant| x.min(d)));
        }
        Ok(deadline)
    }
}

#[derive(Default)]
struct Registry {
    conns: Mutex<HashMap<u64, Arc<Tracker>>>,
    next: AtomicU64,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Tracker>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self) -> Arc<Tracker> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let tracker = Arc::new(Tracker {
            id,
            state: Mutex::new(Track {
                busy: 0,
                idle_since: now,
                head_started: None,
                write_blocked: None,
                evict: false,
            }),
            changed: Notify::new(),
        });
        self.lock().insert(id, tracker.clone());
        tracker
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Marks the connection idle longest (at least `min_idle`) to be closed; false if
    /// there is none.
    fn evict_idlest(&self, min_idle: Duration) -> bool {
        let now = Instant::now();
        let conns = self.lock();
        let victim = conns
            .values()
            .filter_map(|c| {
                let t = c.lock();
                let idle = t.busy == 0
                    && t.head_started.is_none()
                    && !t.evict
                    && now.saturating_duration_since(t.idle_since) >= min_idle;
                idle.then(|| (t.idle_since, c.clone()))
            })
            .min_by_key(|(since, _)| *since);
        drop(conns);
        match victim {
            Some((_, c)) => {
                c.lock().evict = true;
                c.changed.notify_one();
                true
            }
            None => false,
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves `app` on `listener` until `stop` completes, then shuts down within the
/// grace period.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: impl std::future::Future<Output = ()>,
) {
    let registry = Arc::new(Registry::default());
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(
        (limits.max_connections / 8 + 1).clamp(4, MAX_REFUSALS),
    ));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    let mut last_logged: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            r = listener.accept() => r,
        };
        while tasks.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors or memory for a moment: make room, pause
                // briefly (the loop must neither spin nor stall), try again.
                if last_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    eprintln!("octopus-lite: accepting a connection failed: {e}; retrying");
                    last_logged = Some(Instant::now());
                }
                registry.evict_idlest(MIN_IDLE_TO_EVICT);
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
                continue;
            }
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) if registry.evict_idlest(MIN_IDLE_TO_EVICT) => {
                tokio::time::timeout(Duration::from_millis(500), slots.clone().acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            Err(_) => None,
        };
        match permit {
            Some(permit) => {
                let tracker = registry.add();
                tasks.spawn(connection(
                    stream,
                    app.clone(),
                    tracker,
                    limits.clone(),
                    closing_rx.clone(),
                    permit,
                    registry.clone(),
                ));
            }
            None => {
                if let Ok(p) = refusals.clone().try_acquire_owned() {
                    tasks.spawn(refuse(stream, p));
                }
            }
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let finished = tokio::time::timeout(limits.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        eprintln!(
            "octopus-lite: closing {} connections still busy after the {:?} shutdown grace period",
            tasks.len(),
            limits.shutdown_grace
        );
        tasks.shutdown().await;
    }
}

/// Serves one connection until it ends or a limit closes it.
async fn connection(
    stream: TcpStream,
    app: Router,
    tracker: Arc<Tracker>,
    limits: ConnectionLimits,
    mut closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
    registry: Arc<Registry>,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Tracked {
        inner: stream,
        tracker: tracker.clone(),
    });
    let service = ConnService {
        app: TowerToHyperService::new(app),
        tracker: tracker.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Header and idle timeouts are ours (hyper's one timer cannot tell them apart).
    builder.header_read_timeout(None::<Duration>);
    let mut conn = builder.serve_connection(io, service);
    let mut closing_now = false;
    let ended = loop {
        // (A dropped sender also means shutting down.)
        if !closing_now && (*closing.borrow() || closing.has_changed().is_err()) {
            closing_now = true;
            Pin::new(&mut conn).graceful_shutdown();
        }
        // At shutdown an idle connection, or one still sending a request head, has
        // nothing to finish.
        if closing_now && tracker.quiet() {
            break Err(Close::Idle);
        }
        let deadline = match tracker.verdict(&limits, Instant::now()) {
            Ok(d) => d,
            Err(why) => break Err(why),
        };
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => break Ok(r),
            () = sleep => {}
            () = tracker.changed.notified() => {}
            _ = closing.changed(), if !closing_now => {}
        }
    };
    match ended {
        Ok(_) => {
            let stream = conn.into_parts().io.into_inner().inner;
            linger(stream).await;
        }
        Err(Close::HeaderTimeout) => {
            let mut stream = conn.into_parts().io.into_inner().inner;
            let answer = error_response(
                "408 Request Timeout",
                &format!(
                    "The request headers did not arrive within {} s; the connection was closed.",
                    limits.header_timeout.as_secs_f64()
                ),
                None,
            );
            if tokio::time::timeout(Duration::from_secs(1), stream.write_all(&answer))
                .await
                .is_ok_and(|r| r.is_ok())
            {
                linger(stream).await;
            }
        }
        Err(_) => drop(conn),
    }
    registry.remove(tracker.id);
}

/// Answers a connection over the limit `503` and closes it.
async fn refuse(mut stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let answer = error_response(
        "503 Service Unavailable",
        "The server has too many open connections; try again in a few seconds.",
        Some(5),
    );
    if tokio::time::timeout(Duration::from_secs(1), stream.write_all(&answer))
        .await
        .is_ok_and(|r| r.is_ok())
    {
        linger_for(stream, REFUSAL_LINGER).await;
    }
}

/// A complete `Connection: close` response with an Octopus-style error body.
fn error_response(status: &str, message: &str, retry_after: Option<u64>) -> Vec<u8> {
    let body = serde_json::to_string(&octopus_client::model::ErrorBody {
        error_message: message.to_owned(),
        errors: vec![message.to_owned()],
        ..Default::default()
    })
    .unwrap_or_default();
    let retry = retry_after
        .map(|s| format!("Retry-After: {s}\r\n"))
        .unwrap_or_default();
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n{retry}Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Shuts the write side down (the peer reads the answer and then the end), then
/// reads and discards what the peer still sends for a moment before closing, so
/// that closing with unread data does not reset the connection under the answer.
async fn linger(stream: TcpStream) {
    linger_for(stream, LINGER_TIME).await;
}

async fn linger_for(mut stream: TcpStream, time: Duration) {
    let _ = tokio::time::timeout(time, async {
        if stream.shutdown().await.is_err() {
            return;
        }
        let mut buf = [0u8; 8192];
        let mut seen = 0;
        while seen < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen += n,
            }
        }
    })
    .await;
}

/// The router, marking the connection busy from the moment a request head is
/// complete until its response has been sent (or dropped).
struct ConnService {
    app: TowerToHyperService<Router>,
    tracker: Arc<Tracker>,
}

type ServiceFuture =
    Pin<Box<dyn std::future::Future<Output = Result<Response<TrackedBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let busy = Busy::start(self.tracker.clone());
        let response = self.app.call(req);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| TrackedBody { body, _busy: busy }))
        })
    }
}

/// A request in progress on a connection.
struct Busy(Arc<Tracker>);

impl Busy {
    fn start(tracker: Arc<Tracker>) -> Self {
        tracker.begin_request();
        Self(tracker)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// A response body that keeps its connection busy until it is sent or dropped.
struct TrackedBody {
    body: axum::body::Body,
    _busy: Busy,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, reporting reads and blocked writes to the connection's tracker.
struct Tracked {
    inner: TcpStream,
    tracker: Arc<Tracker>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            me.tracker.on_read();
        }
        r
    }
}

impl Tracked {
    fn wrote(&self, r: &Poll<io::Result<usize>>) {
        match r {
            Poll::Pending => self.tracker.on_write(true),
            Poll::Ready(Ok(n)) if *n > 0 => self.tracker.on_write(false),
            _ => {}
        }
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_write(cx, buf);
        me.wrote(&r);
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_write_vectored(cx, bufs);
        me.wrote(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_limits_fit_the_open_file_limit() {
        assert_eq!(fit_connection_limit(4096, None), 4096);
        assert_eq!(fit_connection_limit(4096, Some(1024)), 736);
        assert_eq!(fit_connection_limit(100, Some(1024)), 100);
        assert_eq!(fit_connection_limit(4096, Some(20)), 8);
        assert_eq!(fit_connection_limit(0, Some(1024)), 1);
    }

    #[tokio::test]
    async fn deadlines_follow_the_connection_state() {
        let limits = ConnectionLimits {
            header_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(10),
            ..Default::default()
        };
        let r = Registry::default();
        let t = r.add();
        let start = t.lock().idle_since;
        // Fresh: the idle timeout.
        assert_eq!(
            t.verdict(&limits, start),
            Ok(Some(start + limits.idle_timeout))
        );
        // A first byte: the header timeout, from then.
        t.on_read();
        let h = t.lock().head_started.unwrap();
        assert_eq!(t.verdict(&limits, h), Ok(Some(h + limits.header_timeout)));
        assert_eq!(
            t.verdict(&limits, h + limits.header_timeout),
            Err(Close::HeaderTimeout)
        );
        // A request in progress has no deadline, unless its writes stall.
        t.begin_request();
        assert_eq!(t.verdict(&limits, h + Duration::from_secs(3600)), Ok(None));
        t.on_write(true);
        let w = t.lock().write_blocked.unwrap();
        assert_eq!(
            t.verdict(&limits, w + limits.idle_timeout),
            Err(Close::WriteStalled)
        );
        t.on_write(false);
        t.end_request();
        let idle = t.lock().idle_since;
        assert_eq!(
            t.verdict(&limits, idle),
            Ok(Some(idle + limits.idle_timeout))
        );
        // Only idle connections are evicted, the longest idle first.
        let busy = r.add();
        busy.begin_request();
        assert!(r.evict_idlest(Duration::ZERO));
        assert_eq!(t.verdict(&limits, idle), Err(Close::Evicted));
        assert!(!r.evict_idlest(Duration::ZERO));
        assert_eq!(busy.verdict(&limits, idle), Ok(None));
    }
}
