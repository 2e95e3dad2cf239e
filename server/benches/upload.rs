//! Package upload benchmark: a 1 GiB package pushed through `octopus-client`
//! to a real `octopus-lite` process on loopback, against `cat file > other`
//! on the same disk, measured in the same run; the server's resident memory
//! is sampled throughout. Writes `bench-reports/upload.md`.
//!
//! Run: `cargo bench -p octopus-server --bench upload`
//! (`OCTOPUS_BENCH_UPLOAD_MIB` sets the package size, default 1024;
//! `OCTOPUS_BENCH_RUNS` the runs per measurement, default 3.)

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use octopus_client::{Client, Config, Credentials, OverwriteMode, RetryPolicy};

const KEY: &str = "API-BENCHKEY000000000000000000000";

struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Running {
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
    let url = line
        .trim()
        .strip_prefix("octopus-lite listening on ")
        .expect(&line)
        .to_owned();
    Running { child, url }
}

/// `(VmRSS, VmHWM)` of a process in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Writes a tar package of one `size`-byte file of pseudo-random bytes.
fn write_package(path: &Path, size: u64) -> u64 {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut header = [0u8; 512];
    header[..12].copy_from_slice(b"big/data.bin");
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    f.write_all(&header).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for w in chunk.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            w.copy_from_slice(&state.to_le_bytes()[..w.len()]);
        }
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    let pad = ((512 - size % 512) % 512) as usize;
    f.write_all(&vec![0u8; pad + 1024]).unwrap();
    f.flush().unwrap();
    f.get_ref().sync_all().unwrap();
    512 + size + pad as u64 + 1024
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mib: u64 = std::env::var("OCTOPUS_BENCH_UPLOAD_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let runs: usize = std::env::var("OCTOPUS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    // Source file, `cat` copies and the server's data on the same file system.
    let work = tempfile::tempdir().expect("temp dir");
    let src = work.path().join("Bench.1.0.0.tar");
    let len = write_package(&src, mib << 20);
    eprintln!("package: {} bytes", len);

    // Baseline: cat file > other-file (page cache warm from writing; no fsync),
    // and the same followed by `sync` (the server fsyncs every upload).
    let mut cat = Vec::new();
    let mut cat_sync = Vec::new();
    for i in 0..runs {
        for (with_sync, out) in [(false, &mut cat), (true, &mut cat_sync)] {
            let dst = work.path().join(format!("copy-{i}-{with_sync}"));
            let script = if with_sync {
                "cat \"$1\" > \"$2\" && sync \"$2\""
            } else {
                "cat \"$1\" > \"$2\""
            };
            let t = Instant::now();
            let ok = Command::new("sh")
                .args(["-c", script, "sh"])
                .arg(&src)
                .arg(&dst)
                .status()
                .unwrap()
                .success();
            let d = t.elapsed();
            assert!(ok, "cat failed");
            out.push(mbps(len, d));
            std::fs::remove_file(&dst).unwrap();
        }
    }

    // The server's floor: SHA-1 + SHA-256 of the same bytes on one thread
    // (`octopus_packaging::hashing`, as the server hashes), read from the page cache.
    let mut hashing = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let f = std::fs::File::open(&src).unwrap();
        let mut r = std::io::BufReader::with_capacity(1 << 20, f);
        let d = octopus_packaging::hashing::hash_reader(&mut r).unwrap();
        assert_eq!(d.size, len);
        hashing.push(mbps(len, t.elapsed()));
    }
    // As the server hashes an upload: SHA-1 and SHA-256 on two threads at once.
    let mut parallel = Vec::new();
    for _ in 0..runs {
        use std::io::Read;
        let t = Instant::now();
        let mut f = std::fs::File::open(&src).unwrap();
        let mut h = octopus_packaging::hashing::ParallelHasher::new().unwrap();
        loop {
            let mut buf = vec![0u8; 1 << 20];
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            buf.truncate(n);
            h.update(Arc::<[u8]>::from(buf));
        }
        assert_eq!(h.finish().size, len);
        parallel.push(mbps(len, t.elapsed()));
    }

    let data = work.path().join("data");
    let server = start(&data);
    let pid = server.child.id();
    let client = Client::new(
        Config::new(&server.url, Credentials::ApiKey(KEY.into())).with_retry(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (rss_idle, _) = memory_kib(pid);
    let peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = std::thread::spawn({
        let (peak, stop) = (peak.clone(), stop.clone());
        move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(memory_kib(pid).0, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    let mut uploads = Vec::new();
    let mut server_cpu = Vec::new();
    let mut client_cpu = Vec::new();
    let mut wall = Vec::new();
    let mut hash = String::new();
    let server_pid = pid.to_string();
    for _ in 0..runs {
        let (s0, c0) = (cpu_seconds(&server_pid), cpu_seconds("self"));
        let t = Instant::now();
        let up = rt
            .block_on(client.packages("Spaces-1").upload_path(
                &src,
                OverwriteMode::OverwriteExisting,
                |_, _| {},
            ))
            .expect("upload");
        let d = t.elapsed();
        server_cpu.push(cpu_seconds(&server_pid) - s0);
        client_cpu.push(cpu_seconds("self") - c0);
        wall.push(d.as_secs_f64());
        assert_eq!(up.package.package_size_bytes, len);
        hash = up.package.hash;
        uploads.push(mbps(len, d));
        eprintln!("upload: {:.0} MB/s", mbps(len, d));
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let (_, hwm) = memory_kib(pid);
    let peak_rss = peak.load(Ordering::Relaxed);
    let sha1 = Command::new("sha1sum").arg(&src).output().unwrap();
    let sha1 = String::from_utf8_lossy(&sha1.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_owned();
    drop(server);

    let (cat_m, cat_sync_m, up_m) = (
        median(cat.clone()),
        median(cat_sync.clone()),
        median(uploads.clone()),
    );
    let ratio = up_m / cat_m;
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let mut r = String::new();
    let _ = writeln!(r, "# octopus-lite package upload benchmark\n");
    let _ = writeln!(
        r,
        "`cargo bench -p octopus-server --bench upload` (release build; {runs} runs each, median). \
         Machine: {} CPUs ({cpu}), shared with other jobs; load average at the end: {}.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        r,
        "Package: `Bench.1.0.0.tar`, {len} bytes ({mib} MiB of pseudo-random data in one tar entry), \
         uploaded with `Packages::upload_path` (multipart, streamed from disk) to `octopus-lite` on \
         127.0.0.1, `OverwriteMode::OverwriteExisting`. All files on the same file system (temp dir).\n"
    );
    let _ = writeln!(r, "| Measurement | MB/s (median) | runs |");
    let _ = writeln!(r, "|---|---:|---|");
    let _ = writeln!(
        r,
        "| `cat file > other-file` | {cat_m:.0} | {} |",
        fmt(&cat)
    );
    let _ = writeln!(
        r,
        "| `cat file > other-file && sync other-file` | {cat_sync_m:.0} | {} |",
        fmt(&cat_sync)
    );
    let _ = writeln!(
        r,
        "| SHA-1 + SHA-256 of the file on one thread (`hashing::hash_reader`, page cache) | {:.0} | {} |",
        median(hashing.clone()),
        fmt(&hashing)
    );
    let _ = writeln!(
        r,
        "| SHA-1 and SHA-256 on two threads at once (`hashing::ParallelHasher`; the server does the same per 512 KiB batch) | {:.0} | {} |",
        median(parallel.clone()),
        fmt(&parallel)
    );
    let _ = writeln!(
        r,
        "| upload (client → server: multipart parse on the request's task; per 512 KiB batch, SHA-1, SHA-256 and the write with early writeback as three blocking-pool jobs that run while data is queued, plus the tar inspector thread; fsync, rename, commit) | {up_m:.0} | {} |",
        fmt(&uploads)
    );
    let _ = writeln!(
        r,
        "\nUpload / `cat`: **{:.0}%** (target ≥ 50%); upload / `cat && sync`: {:.0}%.\n",
        ratio * 100.0,
        up_m / cat_sync_m * 100.0
    );
    let cpu_floor = median(
        (0..runs)
            .map(|i| (server_cpu[i] + client_cpu[i]) / 2.0)
            .collect(),
    );
    let _ = writeln!(
        r,
        "Hashing alone, on both CPUs, reaches {:.0}% of `cat` on this machine. Every upload byte \
         must be hashed twice (SHA-1 for Octopus' `Hash`, SHA-256), received over TCP, parsed \
         out of the multipart body, written, fsynced and inspected, with the client on the same \
         2 CPUs: the upload is CPU-bound. Its CPU time (server + client) spread over the 2 CPUs \
         is {cpu_floor:.2} s (median), against a median wall time of {:.2} s.\n",
        median(parallel.clone()) / cat_m * 100.0,
        median(wall.clone())
    );
    let _ = writeln!(
        r,
        "Where the time goes, per upload (seconds; CPU is user + system from `/proc/<pid>/stat`, \
         the client being this benchmark process):\n"
    );
    let _ = writeln!(r, "| run | wall | server CPU | client CPU |");
    let _ = writeln!(r, "|---|---:|---:|---:|");
    for i in 0..runs {
        let _ = writeln!(
            r,
            "| {} | {:.2} | {:.2} | {:.2} |",
            i + 1,
            wall[i],
            server_cpu[i],
            client_cpu[i]
        );
    }
    let _ = writeln!(r);
    let _ = writeln!(r, "| Server memory | MiB |");
    let _ = writeln!(r, "|---|---:|");
    let _ = writeln!(
        r,
        "| RSS idle, before the uploads | {:.1} |",
        rss_idle as f64 / 1024.0
    );
    let _ = writeln!(
        r,
        "| peak RSS sampled every 10 ms during the uploads | {:.1} |",
        peak_rss as f64 / 1024.0
    );
    let _ = writeln!(
        r,
        "| VmHWM (peak RSS over the process's life) | {:.1} |",
        hwm as f64 / 1024.0
    );
    let _ = writeln!(
        r,
        "\nTarget: peak server RSS < 64 MB: **{}**. The reported SHA-1 {} `sha1sum` ({}).",
        if hwm * 1024 < 64_000_000 {
            "met"
        } else {
            "NOT met"
        },
        if hash == sha1 {
            "matches"
        } else {
            "DOES NOT match"
        },
        sha1
    );
    let _ = writeln!(
        r,
        "\nNotes: `cat` runs with a warm page cache (the package was just written) and does not \
         fsync; the server fsyncs the file and its directory before it commits (having asked \
         the kernel to write each 8 MiB back as soon as it was written, so that fsync is short). \
         A tar or tar.gz is inspected while it streams; a zip is inspected once complete, its \
         directory being at the end. Client and server share the same 2 CPUs."
    );
    print!("{r}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-reports/upload.md");
    std::fs::write(&out, &r).expect("write the report");
    eprintln!("wrote {}", out.display());
}
