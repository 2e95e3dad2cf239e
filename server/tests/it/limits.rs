//! Slow and idle clients: uploads that do not pin threads, the upload cap and
//! deadline, header and idle timeouts, the connection limit, running out of file
//! descriptors, and a shutdown that finishes whatever clients do. Loopback only.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use octopus_client::model::Project;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{KEY, TestServer, start_with};

/// A response read off a raw connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response (head and a `Content-Length` body) within `limit`.
async fn read_answer(s: &mut TcpStream, limit: Duration) -> Option<Answer> {
    tokio::time::timeout(limit, async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let status = head.split_whitespace().nth(1)?.parse().ok()?;
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < end + 4 + len {
                    let n = s.read(&mut chunk).await.ok()?;
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[end + 4..]).into_owned();
                return Some(Answer { status, head, body });
            }
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .ok()
    .flatten()
}

/// Whether the server closed the connection (EOF or reset) within `limit`,
/// ignoring any answer it sent first.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Starts a raw upload of `len` declared bytes, sending only `first`.
async fn start_upload(addr: std::net::SocketAddr, name: &str, len: u64, first: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT /api/Spaces-1/packages/raw/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Octopus-ApiKey: {KEY}\r\nContent-Length: {len}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(first).await.unwrap();
    s
}

fn small_zip() -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("app/readme.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"hello").unwrap();
    w.finish().unwrap().into_inner()
}

async fn project(t: &TestServer) -> String {
    t.client
        .projects("Spaces-1")
        .create(&Project::new("Target"))
        .await
        .unwrap()
        .id
        .unwrap()
}

/// Issue 13, defect 1: more slow uploads than the blocking pool has threads (512)
/// once froze every other request; now they pin no thread and reads answer at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_uploads_pin_no_threads_and_the_api_keeps_answering() {
    octopus_server::http::raise_open_file_limit();
    let t = start_with(|c| {
        c.max_uploads = 1000;
        c.shutdown_grace = Duration::from_secs(1);
    })
    .await;
    let id = project(&t).await;
    let addr = t.server.addr();
    let mut uploads = Vec::new();
    for i in 0..530 {
        uploads.push(start_upload(addr, &format!("Slow{i}.1.0.0.zip"), 100_000, b"P").await);
    }
    // Let every upload reach its handler, then feed each a byte, as a trickle would.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for s in &mut uploads {
        s.write_all(b"K").await.unwrap();
    }
    let http = crate::common::raw();
    let url = format!("{}/api/Spaces-1/projects/{id}", t.url());
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let r = http
            .get(&url)
            .header("X-Octopus-ApiKey", KEY)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("the API answers while slow uploads are held");
        assert_eq!(r.status(), 200);
        worst = worst.max(started.elapsed());
    }
    assert!(
        worst < Duration::from_secs(1),
        "slowest read took {worst:?}"
    );
    // The uploads are all still being received.
    for s in &mut uploads {
        s.write_all(b"K").await.unwrap();
    }
    drop(uploads);
    t.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_cap_get_503_with_retry_after() {
    let t = start_with(|c| {
        c.max_uploads = 2;
        c.shutdown_grace = Duration::from_secs(1);
    })
    .await;
    let addr = t.server.addr();
    let slow1 = start_upload(addr, "A.1.0.0.zip", 100_000, b"P").await;
    let _slow2 = start_upload(addr, "B.1.0.0.zip", 100_000, b"P").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A small body is read first, so the answer arrives on a connection still usable.
    let mut s = start_upload(addr, "C.1.0.0.zip", 10, b"0123456789").await;
    let a = read_answer(&mut s, Duration::from_secs(10))
        .await
        .expect("answer");
    assert_eq!(a.status, 503, "{a:?}");
    assert_eq!(a.header("retry-after"), Some("5"), "{a:?}");
    assert!(
        a.body.contains("\"ErrorMessage\"") && a.body.contains("uploads"),
        "{a:?}"
    );
    assert_eq!(a.header("connection"), None, "{a:?}");

    // A large one is answered at once, and the connection is closed politely: the
    // client, still sending, gets to read the answer.
    let mut s = start_upload(addr, "D.1.0.0.zip", 50_000_000, &vec![0u8; 256 * 1024]).await;
    let a = read_answer(&mut s, Duration::from_secs(10))
        .await
        .expect("answer");
    assert_eq!(a.status, 503, "{a:?}");
    assert_eq!(a.header("connection"), Some("close"), "{a:?}");
    assert!(closed_within(&mut s, Duration::from_secs(5)).await);

    // A slot that frees up is usable again.
    drop(slow1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let up = t
        .client
        .packages("Spaces-1")
        .upload_stream(
            "E.1.0.0.zip",
            tokio_stream::once(Ok::<_, std::io::Error>(small_zip())),
            None,
            octopus_client::OverwriteMode::FailIfExists,
            |_, _| {},
        )
        .await
        .expect("an upload within the cap");
    assert!(up.created);
    t.server.shutdown().await;
}

/// Issue 13, defect 1: the body timeout restarted with every chunk, so a byte every
/// few seconds kept an upload forever; now the whole upload has a deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_must_arrive_within_the_deadline() {
    let t = start_with(|c| {
        c.upload_deadline = Duration::from_millis(1500);
        c.shutdown_grace = Duration::from_secs(1);
    })
    .await;
    let mut s = start_upload(t.server.addr(), "Trickle.1.0.0.zip", 1000, b"P").await;
    let started = Instant::now();
    let answer = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = s.write_all(b"K").await;
        if let Some(a) = read_answer(&mut s, Duration::from_millis(1)).await {
            break a;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no answer");
    };
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(answer.body.contains("deadline"), "{answer:?}");
    assert!(started.elapsed() >= Duration::from_millis(1300));
    // Nothing of it is left behind.
    let dir = t.dir.path().join("packages").join("Spaces-1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    t.server.shutdown().await;
}

/// Issue 13, defect 2: slowloris. A request head must be complete within the header
/// timeout of its first byte, however steadily it trickles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_headers_time_out() {
    let t = start_with(|c| c.header_timeout = Duration::from_secs(1)).await;
    let mut s = TcpStream::connect(t.server.addr()).await.unwrap();
    s.write_all(b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = loop {
        tokio::time::sleep(Duration::from_millis(150)).await;
        if s.write_all(b"X-Slow: yes\r\n").await.is_err() {
            break None;
        }
        if let Some(a) = read_answer(&mut s, Duration::from_millis(1)).await {
            break Some(a);
        }
        assert!(started.elapsed() < Duration::from_secs(5), "still open");
    };
    if let Some(a) = answer {
        assert_eq!(a.status, 408, "{a:?}");
        assert!(a.body.contains("ErrorMessage"), "{a:?}");
    }
    assert!(closed_within(&mut s, Duration::from_secs(3)).await);
    assert!(started.elapsed() < Duration::from_secs(4));
    t.server.shutdown().await;
}

/// Issue 13, defect 2: idle sockets stayed open forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let t = start_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    // A connection that never sends anything.
    let mut fresh = TcpStream::connect(t.server.addr()).await.unwrap();
    // A keep-alive connection after one request.
    let mut kept = TcpStream::connect(t.server.addr()).await.unwrap();
    kept.write_all(
        format!("GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Octopus-ApiKey: {KEY}\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let a = read_answer(&mut kept, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    let started = Instant::now();
    assert!(closed_within(&mut fresh, Duration::from_secs(4)).await);
    assert!(closed_within(&mut kept, Duration::from_secs(4)).await);
    assert!(started.elapsed() >= Duration::from_millis(500));
    t.server.shutdown().await;
}

/// Issue 13, defect 2: no connection limit. When it is reached, new connections are
/// refused (503) until an idle one can make room; the API keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_and_idle_connections_make_room() {
    let t = start_with(|c| c.max_connections = 10).await;
    let mut idle = Vec::new();
    for _ in 0..30 {
        idle.push(TcpStream::connect(t.server.addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut open, mut refused, mut answered) = (0, 0, 0);
    for s in &mut idle {
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(20), s.peek(&mut byte)).await {
            Err(_) => open += 1,
            Ok(_) => {
                refused += 1;
                // Answered 503 (as many at once as the server affords), or just closed.
                match read_answer(s, Duration::from_secs(1)).await {
                    Some(a) => {
                        assert_eq!(a.status, 503, "{a:?}");
                        assert_eq!(a.header("retry-after"), Some("5"), "{a:?}");
                        answered += 1;
                    }
                    None => assert!(closed_within(s, Duration::from_secs(1)).await),
                }
            }
        }
    }
    assert!(open <= 10, "{open} connections open, {refused} refused");
    assert!(refused >= 20, "{open} connections open, {refused} refused");
    assert!(answered >= 1, "no refused connection was answered 503");
    // Idle connections older than half a second make room for new ones.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let started = Instant::now();
    let r = crate::common::raw()
        .get(format!("{}/api", t.url()))
        .header("X-Octopus-ApiKey", KEY)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the API answers when the connection table is full of idle sockets");
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    t.server.shutdown().await;
}

struct Lite {
    child: Child,
    addr: std::net::SocketAddr,
}

impl Drop for Lite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the real binary, through `sh -c` so that `shell` (e.g. `ulimit -n 64`)
/// applies to it.
fn spawn_lite(dir: &Path, shell: &str, args: &[&str]) -> Lite {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("{shell} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_octopus-lite"))
        .args(["--listen", "127.0.0.1:0", "--api-key", KEY, "--data-dir"])
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let addr = line
        .trim()
        .strip_prefix("octopus-lite listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    Lite { child, addr }
}

/// CPU seconds a process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// One request on a fresh connection, blocking; the status.
fn get_status(addr: std::net::SocketAddr, path: &str, limit: Duration) -> Option<u16> {
    let mut s = std::net::TcpStream::connect_timeout(&addr, limit).ok()?;
    s.set_read_timeout(Some(limit)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Octopus-ApiKey: {KEY}\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    String::from_utf8_lossy(&buf[..n])
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Issue 13, defect 2: under `ulimit -n 1024`, 1,100 idle sockets stopped every
/// request. With a small open-file limit and far more idle sockets than it allows,
/// the server neither spins nor stalls, and new requests are answered.
#[test]
fn running_out_of_file_descriptors_neither_stalls_nor_spins() {
    let dir = tempfile::tempdir().unwrap();
    let lite = spawn_lite(dir.path(), "ulimit -n 96", &[]);
    assert_eq!(
        get_status(lite.addr, "/api", Duration::from_secs(5)),
        Some(200)
    );
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(std::net::TcpStream::connect(lite.addr).unwrap());
    }
    let cpu0 = cpu_seconds(lite.child.id());
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_seconds(lite.child.id()) - cpu0;
    assert!(
        spent < 0.5,
        "the server used {spent:.2} s of CPU while idle sockets were held"
    );
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(
            get_status(lite.addr, "/api", Duration::from_secs(5)),
            Some(200),
            "a request while {} idle sockets are held",
            idle.len()
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    drop(idle);
}

/// Issue 13, defect 2: one half-sent header kept the server alive for more than a
/// minute after SIGTERM. Now it exits within the grace period whatever clients do.
#[test]
fn sigterm_ends_the_server_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut lite = spawn_lite(dir.path(), "true", &["--shutdown-grace", "2s"]);
    let addr = lite.addr;
    // A half-sent request head, an idle connection, and an upload trickling in.
    let mut half = std::net::TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        .unwrap();
    let _idle = std::net::TcpStream::connect(addr).unwrap();
    let mut upload = std::net::TcpStream::connect(addr).unwrap();
    write!(upload, "PUT /api/Spaces-1/packages/raw/Slow.1.0.0.zip HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Octopus-ApiKey: {KEY}\r\nContent-Length: 100000\r\n\r\nPK").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let ok = Command::new("kill")
        .args(["-TERM", &lite.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = loop {
        if let Some(s) = lite.child.try_wait().unwrap() {
            break s;
        }
        let _ = upload.write_all(b"K");
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "still running {:?} after SIGTERM",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    drop(half);
}
