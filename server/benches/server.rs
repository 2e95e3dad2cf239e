//! octopus-lite benchmark: start-up time (empty store and 10,000 projects),
//! single-project GET throughput and latency with 32 keep-alive connections
//! on loopback, and resident memory. Writes `bench-reports/server.md`.
//!
//! Run: `cargo bench -p octopus-server --bench server`
//! (`OCTOPUS_BENCH_SECONDS` sets the load duration, default 10.)

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use octopus_client::model::Project;
use octopus_client::{Client, Config, Credentials, RetryPolicy};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpStream;

const KEY: &str = "API-BENCHKEY000000000000000000000";
const PROJECTS: usize = 10_000;
const CONNECTIONS: usize = 32;

struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server and returns once `GET /api` succeeded, with the elapsed time.
fn start(dir: &Path) -> (Running, Duration) {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_octopus-lite"))
        .args(["--listen", "127.0.0.1:0", "--api-key", KEY, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn octopus-lite");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("octopus-lite listening on http://")
        .expect(&line)
        .parse()
        .unwrap();
    // The first successful request marks "accepting requests".
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            use std::io::{Read, Write};
            let req = format!(
                "GET /api HTTP/1.1\r\nHost: x\r\nX-Octopus-ApiKey: {KEY}\r\nConnection: close\r\n\r\n"
            );
            let mut resp = String::new();
            if s.write_all(req.as_bytes()).is_ok()
                && s.read_to_string(&mut resp).is_ok()
                && resp.starts_with("HTTP/1.1 200")
            {
                break;
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let elapsed = t0.elapsed();
    (Running { child, addr }, elapsed)
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

fn startup_runs(dir: &Path, runs: usize) -> Vec<Duration> {
    (0..runs).map(|_| start(dir).1).collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(v: &[Duration]) -> (f64, f64) {
    let mut s: Vec<f64> = v.iter().map(|d| ms(*d)).collect();
    s.sort_by(f64::total_cmp);
    (s[s.len() / 2], s[s.len() - 1])
}

/// One keep-alive connection sending GETs for `deadline`; returns latencies in µs.
async fn load_conn(
    addr: SocketAddr,
    paths: Arc<Vec<String>>,
    start: usize,
    deadline: Instant,
    errors: Arc<AtomicUsize>,
) -> Vec<u32> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut s = TokioBufReader::new(stream);
    let mut lat = Vec::with_capacity(200_000);
    let mut i = start;
    let mut line = String::new();
    let mut body = Vec::new();
    while Instant::now() < deadline {
        let path = &paths[i % paths.len()];
        i = i.wrapping_add(7919);
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Octopus-ApiKey: {KEY}\r\n\r\n");
        let t = Instant::now();
        s.get_mut().write_all(req.as_bytes()).await.unwrap();
        line.clear();
        s.read_line(&mut line).await.unwrap();
        if !line.starts_with("HTTP/1.1 200") {
            errors.fetch_add(1, Ordering::Relaxed);
        }
        let mut len = 0usize;
        loop {
            line.clear();
            s.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        body.resize(len, 0);
        s.read_exact(&mut body).await.unwrap();
        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    lat
}

async fn seed(url: &str) -> Duration {
    let cfg = Config::new(url, Credentials::ApiKey(KEY.into())).with_retry(RetryPolicy::default());
    let client = Client::new(cfg).unwrap();
    let t0 = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (client, next) = (client.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= PROJECTS {
                    return;
                }
                let mut p = Project::new(format!("Project {n:05}"));
                p.description = Some(format!("Benchmark project number {n}"));
                client.projects("Spaces-1").create(&p).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    t0.elapsed()
}

fn main() {
    let seconds: u64 = std::env::var("OCTOPUS_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut report = String::new();

    // 1. Start-up with an empty store (first start creates and seeds it).
    let empty_first = {
        let dir = tempfile::tempdir().unwrap();
        let (_srv, first) = start(dir.path());
        first
    };
    let empty_dir = tempfile::tempdir().unwrap();
    drop(start(empty_dir.path()));
    let empty = startup_runs(empty_dir.path(), 7);
    let (empty_med, empty_max) = summary(&empty);
    println!(
        "start-up, empty store: first {:.1} ms, median {empty_med:.1} ms, max {empty_max:.1} ms",
        ms(empty_first)
    );

    // 2. Seed 10,000 projects through the API.
    let dir = tempfile::tempdir().unwrap();
    let seed_time = {
        let (srv, _) = start(dir.path());
        rt.block_on(seed(&format!("http://{}", srv.addr)))
    };
    println!(
        "seeded {PROJECTS} projects in {:.1} s ({:.0} creates/s)",
        seed_time.as_secs_f64(),
        PROJECTS as f64 / seed_time.as_secs_f64()
    );

    // 3. Start-up with 10,000 projects.
    let full = startup_runs(dir.path(), 7);
    let (full_med, full_max) = summary(&full);
    println!("start-up, {PROJECTS} projects: median {full_med:.1} ms, max {full_max:.1} ms");

    // 4. GET throughput and latency.
    let (srv, _) = start(dir.path());
    let pid = srv.child.id();
    let idle_rss = status_kb(pid, "VmRSS:");
    let paths: Arc<Vec<String>> = Arc::new(
        (1..=PROJECTS)
            .map(|i| format!("/api/Spaces-1/projects/Projects-{i}"))
            .collect(),
    );
    let errors = Arc::new(AtomicUsize::new(0));
    // Warm-up.
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(1);
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                tokio::spawn(load_conn(
                    srv.addr,
                    paths.clone(),
                    c * 311,
                    deadline,
                    errors.clone(),
                ))
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let t0 = Instant::now();
    let mut lat: Vec<u32> = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                tokio::spawn(load_conn(
                    srv.addr,
                    paths.clone(),
                    c * 977,
                    deadline,
                    errors.clone(),
                ))
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let wall = t0.elapsed();
    lat.sort_unstable();
    let pct =
        |p: f64| f64::from(lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)]) / 1000.0;
    let rps = lat.len() as f64 / wall.as_secs_f64();
    let (p50, p99, p999, max) = (
        pct(0.50),
        pct(0.99),
        pct(0.999),
        f64::from(*lat.last().unwrap()) / 1000.0,
    );
    let rss = status_kb(pid, "VmRSS:");
    let hwm = status_kb(pid, "VmHWM:");
    let errs = errors.load(Ordering::Relaxed);
    println!(
        "GET /api/Spaces-1/projects/{{id}}: {rps:.0} req/s, p50 {p50:.2} ms, p99 {p99:.2} ms, p99.9 {p999:.2} ms, max {max:.2} ms, non-200: {errs}"
    );
    println!(
        "RSS with {PROJECTS} projects: idle {} MB, after load {} MB, peak {} MB",
        idle_rss / 1024,
        rss / 1024,
        hwm / 1024
    );
    drop(srv);
    let db_size = std::fs::metadata(dir.path().join("octopus-lite.db")).map_or(0, |m| m.len());

    let ok = |b: bool| if b { "met" } else { "NOT met" };
    writeln!(report, "# octopus-lite benchmark\n").unwrap();
    writeln!(
        report,
        "Release build, loopback, {cores} cores shared by server and load generator. Produced by `cargo bench -p octopus-server --bench server` on {}.\n",
        &octopus_server::util::now_iso8601()[..16]
    )
    .unwrap();
    writeln!(report, "| Measure | Result | Target | |\n|---|---|---|---|").unwrap();
    writeln!(report, "| Start-up to first 200, new empty store (creates DB, seeds default space) | {:.1} ms | < 100 ms | {} |", ms(empty_first), ok(ms(empty_first) < 100.0)).unwrap();
    writeln!(report, "| Start-up to first 200, empty store (median / max of 7) | {empty_med:.1} / {empty_max:.1} ms | < 100 ms | {} |", ok(empty_max < 100.0)).unwrap();
    writeln!(report, "| Start-up to first 200, {PROJECTS} projects (median / max of 7) | {full_med:.1} / {full_max:.1} ms | < 500 ms | {} |", ok(full_max < 500.0)).unwrap();
    writeln!(report, "| Single-project GET, {CONNECTIONS} keep-alive connections, {seconds} s | {rps:.0} req/s | ≥ 10,000 req/s | {} |", ok(rps >= 10_000.0)).unwrap();
    writeln!(report, "| Latency p50 / p99 / p99.9 / max | {p50:.2} / {p99:.2} / {p999:.2} / {max:.2} ms | p99 < 10 ms | {} |", ok(p99 < 10.0)).unwrap();
    writeln!(report, "| Resident memory with {PROJECTS} projects: idle / after load / peak (VmHWM) | {} / {} / {} MB | < 50 MB | {} |", idle_rss / 1024, rss / 1024, hwm / 1024, ok(hwm < 50 * 1024)).unwrap();
    writeln!(
        report,
        "| Non-200 answers during the load | {errs} | 0 | {} |",
        ok(errs == 0)
    )
    .unwrap();
    writeln!(report, "\nSeeding {PROJECTS} projects (each with its deployment process, one durable `synchronous=FULL` transaction per create, {CONNECTIONS} concurrent clients): {:.1} s ({:.0} creates/s). Database size: {:.1} MB.", seed_time.as_secs_f64(), PROJECTS as f64 / seed_time.as_secs_f64(), db_size as f64 / 1e6).unwrap();

    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-reports/server.md");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, &report).unwrap();
    println!("\n{report}\nwritten to {}", out.display());
}
