//! Running child processes for an action: clean environment, own process group, stdin from
//! `/dev/null`, stdout and stderr streamed line by line through the service-message parser
//! and the masker, cancellation and a deadline that kill the whole group.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::mask::Masker;
use crate::service_messages::{self, Piece, ServiceMessage};
use crate::{Artifact, Category, LogSink, OutputVariable};

/// Longest line handed to the log; longer runs without a newline are split.
const MAX_LINE: usize = 1 << 20;
/// Read buffer per stream.
const CHUNK: usize = 64 * 1024;
/// How long output is still read after the main process ended, for background processes
/// that keep the pipes open; after it the process group is killed.
const DRAIN_GRACE: Duration = Duration::from_secs(3);

/// How a child process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProcessEnd {
    /// It exited (a signal `n` counts as exit code `128 + n`).
    Exited {
        /// Exit code.
        code: i32,
        /// Whether a line went to the log as an error from stderr.
        wrote_errors: bool,
    },
    /// Killed because the caller cancelled.
    Canceled,
    /// Killed at the deadline.
    TimedOut,
    /// It could not be started.
    NotStarted(String),
}

/// State shared by every process of one action.
pub(crate) struct Session<'s> {
    sink: &'s mut dyn LogSink,
    pub(crate) masker: Masker,
    cancel: watch::Receiver<bool>,
    deadline: Option<Instant>,
    /// The clean base environment (PATH, HOME, TMPDIR, LANG, then `run.env`).
    pub(crate) env: Vec<(String, String)>,
    pub(crate) run_as: Option<(u32, u32)>,
    /// Directories artifacts may come from (the work dir, an extraction dir).
    pub(crate) artifact_roots: Vec<PathBuf>,
    pub(crate) outputs: Vec<OutputVariable>,
    pub(crate) artifacts: Vec<Artifact>,
    /// The last `resultMessage`.
    pub(crate) result_message: Option<String>,
    /// Told the ID of every process started.
    pub(crate) on_spawn: Option<crate::SpawnHook>,
}

/// Per-process stream state.
struct Streams {
    /// `None` = ignored.
    stdout: Option<Category>,
    stderr: Option<Category>,
    wrote_errors: bool,
    cwd: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

impl<'s> Session<'s> {
    pub(crate) fn new(
        sink: &'s mut dyn LogSink,
        cancel: watch::Receiver<bool>,
        timeout: Duration,
        env: Vec<(String, String)>,
        work_dir: PathBuf,
        run_as: Option<(u32, u32)>,
    ) -> Self {
        Session {
            sink,
            masker: Masker::new(),
            cancel,
            // A zero timeout (the `Default`) means no limit.
            deadline: (!timeout.is_zero()).then(|| Instant::now() + timeout),
            env,
            run_as,
            artifact_roots: vec![work_dir],
            outputs: Vec::new(),
            artifacts: Vec::new(),
            result_message: None,
            on_spawn: None,
        }
    }

    /// Logs a line, masked.
    pub(crate) fn log(&mut self, category: Category, text: &str) {
        let masked = self.masker.mask(text);
        self.sink.line(category, &masked);
    }

    /// Whether the caller has cancelled already.
    pub(crate) fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Whether the deadline has passed.
    pub(crate) fn is_timed_out(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The value of `PATH` the child gets.
    pub(crate) fn child_path(&self) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
    }

    /// Finds `program` on the child's `PATH`.
    pub(crate) fn find_program(&self, program: &str) -> Option<PathBuf> {
        find_in_path(program, self.child_path()?)
    }

    /// Records an output variable (a later value of the same name replaces the earlier).
    pub(crate) fn set_output(&mut self, name: &str, value: &str, sensitive: bool) {
        if sensitive {
            self.masker.add(value);
        }
        let var = OutputVariable {
            name: name.to_owned(),
            value: value.to_owned(),
            sensitive,
        };
        match self.outputs.iter_mut().find(|v| v.name == name) {
            Some(existing) => *existing = var,
            None => self.outputs.push(var),
        }
    }

    /// Runs `program args` in `cwd` to its end, cancellation or deadline.
    pub(crate) async fn run(
        &mut self,
        program: &Path,
        args: &[OsString],
        cwd: &Path,
    ) -> ProcessEnd {
        if self.is_cancelled() {
            return self.end_canceled();
        }
        if self.is_timed_out() {
            return self.end_timed_out();
        }
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .current_dir(cwd)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        {
            cmd.process_group(0);
            if let Some((uid, gid)) = self.run_as {
                // std also drops the supplementary groups when root sets a uid.
                cmd.gid(gid).uid(uid);
            }
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return ProcessEnd::NotStarted(format!(
                    "could not start `{}`: {e}",
                    program.display()
                ));
            }
        };
        let pid = child.id().unwrap_or(0);
        if let Some(hook) = self.on_spawn.as_ref().filter(|_| pid != 0) {
            (hook.0)(pid);
        }
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let mut out_buf = vec![0u8; CHUNK];
        let mut err_buf = vec![0u8; CHUNK];
        let mut out_lines = LineSplitter::default();
        let mut err_lines = LineSplitter::default();
        let (mut out_open, mut err_open) = (true, true);
        let mut status: Option<std::process::ExitStatus> = None;
        let mut drain_until: Option<Instant> = None;
        let mut streams = Streams {
            stdout: Some(Category::Info),
            stderr: Some(Category::Error),
            wrote_errors: false,
            cwd: cwd.to_path_buf(),
        };
        let deadline = self.deadline;

        enum Event {
            Out(std::io::Result<usize>),
            Err(std::io::Result<usize>),
            Exited(std::io::Result<std::process::ExitStatus>),
            Cancel,
            Deadline,
            DrainOver,
        }

        loop {
            if !out_open && !err_open && status.is_some() {
                break;
            }
            let event = {
                let cancel = &mut self.cancel;
                tokio::select! {
                    r = stdout.read(&mut out_buf), if out_open => Event::Out(r),
                    r = stderr.read(&mut err_buf), if err_open => Event::Err(r),
                    s = child.wait(), if status.is_none() => Event::Exited(s),
                    _ = wait_cancel(cancel) => Event::Cancel,
                    _ = sleep_until(deadline) => Event::Deadline,
                    _ = sleep_until(drain_until), if drain_until.is_some() => Event::DrainOver,
                }
            };
            match event {
                Event::Out(Ok(n)) if n > 0 => {
                    let mut lines = std::mem::take(&mut out_lines);
                    lines.feed(&out_buf[..n], |line| {
                        self.line(Stream::Out, line, &mut streams)
                    });
                    out_lines = lines;
                }
                Event::Err(Ok(n)) if n > 0 => {
                    let mut lines = std::mem::take(&mut err_lines);
                    lines.feed(&err_buf[..n], |line| {
                        self.line(Stream::Err, line, &mut streams)
                    });
                    err_lines = lines;
                }
                Event::Out(_) => {
                    out_open = false;
                    if let Some(rest) = out_lines.finish() {
                        self.line(Stream::Out, &rest, &mut streams);
                    }
                }
                Event::Err(_) => {
                    err_open = false;
                    if let Some(rest) = err_lines.finish() {
                        self.line(Stream::Err, &rest, &mut streams);
                    }
                }
                Event::Exited(Ok(s)) => {
                    status = Some(s);
                    drain_until = Some(Instant::now() + DRAIN_GRACE);
                }
                Event::Exited(Err(e)) => {
                    kill_group(pid);
                    return ProcessEnd::NotStarted(format!("could not wait for the process: {e}"));
                }
                Event::Cancel => {
                    kill_group(pid);
                    let _ = child.wait().await;
                    self.flush_partial(&mut out_lines, &mut err_lines, &mut streams);
                    return self.end_canceled();
                }
                Event::Deadline => {
                    kill_group(pid);
                    let _ = child.wait().await;
                    self.flush_partial(&mut out_lines, &mut err_lines, &mut streams);
                    return self.end_timed_out();
                }
                Event::DrainOver => {
                    self.log(
                        Category::Verbose,
                        "Background processes kept the script's output open after it ended; they were killed.",
                    );
                    kill_group(pid);
                    self.flush_partial(&mut out_lines, &mut err_lines, &mut streams);
                    break;
                }
            }
        }
        let status = status.expect("loop ends after the exit");
        ProcessEnd::Exited {
            code: exit_code(status),
            wrote_errors: streams.wrote_errors,
        }
    }

    fn flush_partial(&mut self, out: &mut LineSplitter, err: &mut LineSplitter, s: &mut Streams) {
        if let Some(rest) = out.finish() {
            self.line(Stream::Out, &rest, s);
        }
        if let Some(rest) = err.finish() {
            self.line(Stream::Err, &rest, s);
        }
    }

    fn end_canceled(&mut self) -> ProcessEnd {
        self.log(
            Category::Error,
            "The action was cancelled; its processes were killed.",
        );
        ProcessEnd::Canceled
    }

    fn end_timed_out(&mut self) -> ProcessEnd {
        self.log(
            Category::Error,
            "The action ran longer than its time limit; its processes were killed.",
        );
        ProcessEnd::TimedOut
    }

    /// One line of output (without its newline).
    fn line(&mut self, stream: Stream, bytes: &[u8], streams: &mut Streams) {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let text = String::from_utf8_lossy(bytes);
        if memchr::memmem::find(bytes, service_messages::MARKER).is_none() {
            self.emit(stream, &text, streams);
            return;
        }
        let mut rest = String::new();
        for piece in service_messages::parse_line(&text) {
            match piece {
                Piece::Text(t) => rest.push_str(t),
                Piece::Message(m) => self.apply(m, streams),
                Piece::Invalid(raw) => {
                    self.log(Category::Warning, &format!("Could not parse '{raw}'"));
                }
            }
        }
        if !rest.trim().is_empty() {
            self.emit(stream, &rest, streams);
        }
    }

    fn emit(&mut self, stream: Stream, text: &str, streams: &mut Streams) {
        let category = match stream {
            Stream::Out => streams.stdout,
            Stream::Err => streams.stderr,
        };
        if let Some(category) = category {
            if stream == Stream::Err && category == Category::Error {
                streams.wrote_errors = true;
            }
            self.log(category, text);
        }
    }

    fn apply(&mut self, m: ServiceMessage, streams: &mut Streams) {
        match m.name.as_str() {
            "setVariable" => {
                let (Some(name), Some(value)) = (m.attribute("name"), m.attribute("value")) else {
                    self.log(
                        Category::Warning,
                        "A setVariable service message needs both a name and a value.",
                    );
                    return;
                };
                let sensitive = m
                    .attribute("sensitive")
                    .is_some_and(|s| s.eq_ignore_ascii_case("true"));
                let (name, value) = (name.to_owned(), value.to_owned());
                self.set_output(&name, &value, sensitive);
            }
            "stdout-default" => streams.stdout = Some(Category::Info),
            "stdout-verbose" => streams.stdout = Some(Category::Verbose),
            "stdout-warning" => streams.stdout = Some(Category::Warning),
            "stdout-error" => streams.stdout = Some(Category::Error),
            "stdout-highlight" => streams.stdout = Some(Category::Highlight),
            "stdout-wait" => streams.stdout = Some(Category::Wait),
            "stdout-ignore" => streams.stdout = None,
            "stderr-default" | "stderr-error" => streams.stderr = Some(Category::Error),
            "stderr-progress" => streams.stderr = Some(Category::Verbose),
            "stderr-ignore" => streams.stderr = None,
            "mask" => {
                if let Some(v) = m.attribute("value") {
                    self.masker.add(v);
                }
            }
            "resultMessage" => {
                if let Some(v) = m.attribute("message") {
                    self.result_message = Some(v.to_owned());
                }
            }
            "progress" => {
                let pct = m.attribute("percentage").unwrap_or("");
                let msg = m.attribute("message").unwrap_or("");
                let text = match (pct.is_empty(), msg.is_empty()) {
                    (false, false) => format!("{pct}% {msg}"),
                    (false, true) => format!("{pct}%"),
                    _ => msg.to_owned(),
                };
                self.log(Category::Verbose, &text);
            }
            "createArtifact" => self.artifact(&m, &streams.cwd),
            other => {
                let text = format!("Service message '{other}' is not supported here; ignored.");
                self.log(Category::Verbose, &text);
            }
        }
    }

    fn artifact(&mut self, m: &ServiceMessage, cwd: &Path) {
        let Some(raw) = m.attribute("path").filter(|p| !p.is_empty()) else {
            self.log(
                Category::Warning,
                "A createArtifact service message needs a path.",
            );
            return;
        };
        let joined = cwd.join(raw);
        let inside = joined.canonicalize().ok().filter(|p| {
            self.artifact_roots
                .iter()
                .filter_map(|r| r.canonicalize().ok())
                .any(|root| p.starts_with(root))
        });
        let Some(path) = inside else {
            let text = format!(
                "Artifact '{raw}' was not collected: it does not exist or lies outside the action's working directory."
            );
            self.log(Category::Warning, &text);
            return;
        };
        let Ok(meta) = std::fs::metadata(&path)
            .map_err(|_| ())
            .and_then(|m| if m.is_file() { Ok(m) } else { Err(()) })
        else {
            let text = format!("Artifact '{raw}' was not collected: it is not a file.");
            self.log(Category::Warning, &text);
            return;
        };
        let name = m
            .attribute("name")
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        let text = format!("Collected artifact '{name}' ({} bytes)", meta.len());
        self.log(Category::Verbose, &text);
        self.artifacts.push(Artifact {
            name,
            path,
            length: meta.len(),
        });
    }
}

/// Splits a byte stream into lines without allocating for lines that arrive whole.
#[derive(Default)]
struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    fn feed(&mut self, mut chunk: &[u8], mut on_line: impl FnMut(&[u8])) {
        while let Some(nl) = memchr::memchr(b'\n', chunk) {
            if self.pending.is_empty() {
                on_line(&chunk[..nl]);
            } else {
                self.pending.extend_from_slice(&chunk[..nl]);
                on_line(&self.pending);
                self.pending.clear();
            }
            chunk = &chunk[nl + 1..];
        }
        self.pending.extend_from_slice(chunk);
        while self.pending.len() >= MAX_LINE {
            // Split at a UTF-8 boundary so no character is cut in two.
            let mut cut = MAX_LINE;
            while cut > 0 && (self.pending[cut] & 0xC0) == 0x80 {
                cut -= 1;
            }
            let cut = if cut == 0 { MAX_LINE } else { cut };
            on_line(&self.pending[..cut]);
            self.pending.drain(..cut);
        }
    }

    /// The unterminated last line, if any.
    fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

async fn wait_cancel(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        // The sender is gone: nobody can cancel any more.
        std::future::pending::<()>().await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// SIGKILL to the whole process group led by `pid`.
fn kill_group(pid: u32) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // SAFETY: kill(2) has no memory effects; a negative pid names the group.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    -1
}

/// The first executable `program` in the `:`-separated `path`.
pub(crate) fn find_in_path(program: &str, path: &str) -> Option<PathBuf> {
    path.split(':').filter(|d| !d.is_empty()).find_map(|dir| {
        let candidate = Path::new(dir).join(program);
        is_executable(&candidate).then_some(candidate)
    })
}

fn is_executable(path: &Path) -> bool {
    match std::fs::metadata(path) {
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        }
        #[cfg(not(unix))]
        Ok(m) => m.is_file(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitter_joins_partial_lines_and_caps_long_ones() {
        let mut s = LineSplitter::default();
        let mut got: Vec<Vec<u8>> = Vec::new();
        s.feed(b"one\ntw", |l| got.push(l.to_vec()));
        s.feed(b"o\n\nthree", |l| got.push(l.to_vec()));
        assert_eq!(got, [b"one".to_vec(), b"two".to_vec(), b"".to_vec()]);
        assert_eq!(s.finish(), Some(b"three".to_vec()));
        assert_eq!(s.finish(), None);
        let long = vec![b'x'; MAX_LINE + 10];
        let mut lens = Vec::new();
        s.feed(&long, |l| lens.push(l.len()));
        assert_eq!(lens, [MAX_LINE]);
        assert_eq!(s.finish().map(|r| r.len()), Some(10));
    }

    #[test]
    fn finds_programs_on_path() {
        assert!(find_in_path("sh", "/nonexistent:/bin:/usr/bin").is_some());
        assert!(find_in_path("no-such-program-here", "/bin:/usr/bin").is_none());
    }
}
