//! SDK benchmarks, written to `bench-reports/sdk.md`:
//!
//! (a) provider process start to handshake line, with AutoMTLS (the client sends a
//!     P-521 certificate; the provider generates its own server certificate);
//! (b) idle resident memory after the handshake;
//! (c) msgpack decode + encode of one object with 10,000 attributes.
//!
//! Run with `cargo bench -p tf-sdk --bench sdk`. It first builds the example provider
//! (`terraform-provider-localfs`) in release mode, so the binary measured is current.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tf_sdk::value::{Number, Type, Value, msgpack};

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const HANDSHAKE_RUNS: usize = 50;
const CODEC_ITERS: usize = 200;
const ATTRS: usize = 10_000;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("sdk is inside the workspace")
        .to_path_buf()
}

/// The release provider binary next to this bench's own profile directory.
fn provider_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    // target/release/deps/sdk-xxxx -> target/release
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("profile dir")
        .to_path_buf();
    let bin = profile_dir.join("terraform-provider-localfs");
    // Always build: a stale binary would measure old code (a no-op when up to date).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "terraform-provider-localfs"])
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "building terraform-provider-localfs failed"
    );
    assert!(bin.exists(), "{} not found", bin.display());
    bin
}

/// A client certificate like go-plugin's: P-521, self-signed, `localhost`.
fn client_cert_pem() -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.self_signed(&key).unwrap().pem()
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .and_then(|r| r.trim_start_matches(':').trim().strip_suffix("kB"))
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} missing from /proc/{pid}/status"))
}

fn threads(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

struct Stats {
    median: f64,
    p90: f64,
    min: f64,
    max: f64,
}

fn stats(mut xs: Vec<f64>) -> Stats {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        p90: at(0.9),
        min: xs[0],
        max: xs[xs.len() - 1],
    }
}

struct StartResult {
    handshake_ms: Stats,
    rss_kb: Stats,
    hwm_kb: Stats,
    threads: u64,
    binary_size: u64,
    /// The first and the second P-256 key generation in this process, in ms.
    keygen_ms: (f64, f64),
}

/// The first key generation in a process seeds AWS-LC's random generator; the second
/// does not. Measured here, in the bench process, before anything else uses AWS-LC.
fn keygen_cost() -> (f64, f64) {
    let once = || {
        let t = Instant::now();
        std::hint::black_box(rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap());
        t.elapsed().as_secs_f64() * 1e3
    };
    (once(), once())
}

fn bench_start(bin: &Path) -> StartResult {
    let keygen_ms = keygen_cost();
    let pem = client_cert_pem();
    let mut times = Vec::new();
    let mut rss = Vec::new();
    let mut hwm = Vec::new();
    let mut nthreads = 0;
    for run in 0..HANDSHAKE_RUNS + 1 {
        let start = Instant::now();
        let mut child = Command::new(bin)
            .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "6")
            .env("PLUGIN_CLIENT_CERT", &pem)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start provider");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read handshake");
        let elapsed = start.elapsed();
        assert!(line.starts_with("1|6|unix|"), "handshake line: {line:?}");
        std::thread::sleep(Duration::from_millis(200));
        let pid = child.id();
        // The first run warms the page cache; it is not counted.
        if run > 0 {
            times.push(elapsed.as_secs_f64() * 1e3);
            rss.push(status_kb(pid, "VmRSS") as f64);
            hwm.push(status_kb(pid, "VmHWM") as f64);
            nthreads = threads(pid);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    StartResult {
        handshake_ms: stats(times),
        rss_kb: stats(rss),
        hwm_kb: stats(hwm),
        threads: nthreads,
        binary_size: std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0),
        keygen_ms,
    }
}

/// One object with `n` attributes: strings, numbers (ints, floats, a big decimal),
/// bools and lists of strings, in equal parts.
fn big_object(n: usize) -> (Value, Type) {
    let mut types = BTreeMap::new();
    let mut values = BTreeMap::new();
    for i in 0..n {
        let name = format!("attribute_{i:05}");
        let (t, v) = match i % 4 {
            0 => (
                Type::String,
                Value::from(format!("value number {i} with some text")),
            ),
            1 => (
                Type::Number,
                match i % 3 {
                    0 => Value::from(i as i64 * 7919),
                    1 => Value::from(i as f64 + 0.25),
                    _ => Value::Number(Number::parse("18446744073709551617").unwrap()),
                },
            ),
            2 => (Type::Bool, Value::from(i % 8 == 2)),
            _ => (
                Type::list(Type::String),
                Value::List(vec![
                    Value::from("a"),
                    Value::from(format!("item-{i}")),
                    Value::from("c"),
                ]),
            ),
        };
        types.insert(name.clone(), t);
        values.insert(name, v);
    }
    (
        Value::Object(values),
        Type::Object(types, Default::default()),
    )
}

struct CodecResult {
    bytes: usize,
    both_us: Stats,
    decode_us: Stats,
    encode_us: Stats,
}

fn bench_codec() -> CodecResult {
    let (value, ty) = big_object(ATTRS);
    let bytes = msgpack::encode(&value, &ty).unwrap();
    assert_eq!(msgpack::decode(&bytes, &ty).unwrap(), value);
    // Warm up.
    for _ in 0..10 {
        let v = msgpack::decode(&bytes, &ty).unwrap();
        std::hint::black_box(msgpack::encode(&v, &ty).unwrap());
    }
    let (mut both, mut dec, mut enc) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..CODEC_ITERS {
        let t0 = Instant::now();
        let v = msgpack::decode(std::hint::black_box(&bytes), &ty).unwrap();
        let t1 = Instant::now();
        let out = msgpack::encode(std::hint::black_box(&v), &ty).unwrap();
        let t2 = Instant::now();
        std::hint::black_box(out);
        drop(v);
        both.push((t2 - t0).as_secs_f64() * 1e6);
        dec.push((t1 - t0).as_secs_f64() * 1e6);
        enc.push((t2 - t1).as_secs_f64() * 1e6);
    }
    CodecResult {
        bytes: bytes.len(),
        both_us: stats(both),
        decode_us: stats(dec),
        encode_us: stats(enc),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and then there is
    // nothing to measure.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if std::env::var("SDK_BENCH_ONLY").as_deref() == Ok("codec") {
        let c = bench_codec();
        let (b, d, e) = (&c.both_us, &c.decode_us, &c.encode_us);
        println!(
            "decode+encode median {:.0} us p90 {:.0} min {:.0}; decode {:.0}; encode {:.0}; {} bytes",
            b.median, b.p90, b.min, d.median, e.median, c.bytes
        );
        return;
    }
    let bin = provider_binary();
    eprintln!(
        "measuring {} start-up ({HANDSHAKE_RUNS} runs)...",
        bin.display()
    );
    let start = bench_start(&bin);
    eprintln!("measuring msgpack codec ({CODEC_ITERS} iterations)...");
    let codec = bench_codec();

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let h = &start.handshake_ms;
    let rss_mb = start.rss_kb.median / 1024.0;
    let hwm_mb = start.hwm_kb.median / 1024.0;
    let c = &codec.both_us;
    let mbps = codec.bytes as f64 / (c.median / 1e6) / 1e6;
    let mut r = String::new();
    let _ = writeln!(r, "# tf-sdk benchmarks\n");
    let _ = writeln!(
        r,
        "Produced by `cargo bench -p tf-sdk --bench sdk` (`sdk/benches/sdk.rs`), release profile, \
         on a {cpus}-CPU Linux machine shared with other builds (load average {} when the \
         report was written). Numbers are wall-clock; with more runnable threads than cores \
         the medians include waiting for a CPU, and the minimums are the closest to an idle machine.\n",
        load.join(" / ")
    );
    let _ = writeln!(r, "| Measure | Median | p90 | Min | Target | |");
    let _ = writeln!(r, "|---|---|---|---|---|---|");
    let _ = writeln!(
        r,
        "| Process start → handshake line ({HANDSHAKE_RUNS} runs) | {:.2} ms | {:.2} ms | {:.2} ms | < 10 ms | {} |",
        h.median,
        h.p90,
        h.min,
        verdict(h.median < 10.0)
    );
    let _ = writeln!(
        r,
        "| Idle VmRSS 200 ms after handshake | {rss_mb:.1} MB | {:.1} MB | {:.1} MB | < 15 MB | {} |",
        start.rss_kb.p90 / 1024.0,
        start.rss_kb.min / 1024.0,
        verdict(rss_mb < 15.0)
    );
    let _ = writeln!(
        r,
        "| Peak VmHWM at that point | {hwm_mb:.1} MB | {:.1} MB | {:.1} MB | | |",
        start.hwm_kb.p90 / 1024.0,
        start.hwm_kb.min / 1024.0
    );
    let _ = writeln!(
        r,
        "| msgpack decode + encode, {ATTRS}-attribute object ({CODEC_ITERS} iterations) | {:.2} ms | {:.2} ms | {:.2} ms | < 5 ms | {} |",
        c.median / 1e3,
        c.p90 / 1e3,
        c.min / 1e3,
        verdict(c.median < 5000.0)
    );
    let _ = writeln!(
        r,
        "| … decode only | {:.2} ms | {:.2} ms | {:.2} ms | | |",
        codec.decode_us.median / 1e3,
        codec.decode_us.p90 / 1e3,
        codec.decode_us.min / 1e3
    );
    let _ = writeln!(
        r,
        "| … encode only | {:.2} ms | {:.2} ms | {:.2} ms | | |",
        codec.encode_us.median / 1e3,
        codec.encode_us.p90 / 1e3,
        codec.encode_us.min / 1e3
    );
    let _ = writeln!(r);
    let _ = writeln!(
        r,
        "- Handshake: slowest run {:.2} ms. The provider had {} threads when idle; release binary {:.1} MB.",
        h.max,
        start.threads,
        start.binary_size as f64 / 1e6
    );
    let _ = writeln!(
        r,
        "- Codec payload: {} bytes of msgpack ({ATTRS} attributes: strings, ints, floats, \
         decimal strings beyond u64, bools, 3-element string lists); decode + encode throughput \
         {mbps:.0} MB/s at the median.",
        codec.bytes
    );
    let _ = writeln!(
        r,
        "- P-256 key generation (what the provider does for its server certificate), in the \
         bench process: first in the process {:.2} ms, second {:.2} ms. The difference is \
         AWS-LC seeding its random generator (see below).",
        start.keygen_ms.0, start.keygen_ms.1
    );
    r.push_str(CONTEXT);
    print!("{r}");
    let path = workspace_root().join("bench-reports/sdk.md");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &r).unwrap();
    eprintln!("wrote {}", path.display());
}

const CONTEXT: &str = "
## What the start-up measure includes

Wall time from `spawn()` to the first line on the provider's stdout, measured from the
parent: process exec and dynamic loading, the magic-cookie and protocol-version checks,
parsing the client's P-521 certificate from `PLUGIN_CLIENT_CERT`, generating the
provider's own server key and self-signed certificate (AutoMTLS), building the rustls
server config, starting the tokio runtime, binding the Unix socket and printing
`1|6|unix|<socket>|grpc|<cert>`. The client certificate is generated once by the bench,
as Terraform generates one per run. The first run is a warm-up and is not counted.

## Where the start-up time goes

A first version of this bench measured a median of 77 ms. `perf record` of one provider
start put 93 % of the samples in AWS-LC's CPU Jitter entropy collector (`jent_*`): the
first use of AWS-LC's random generator (the server key generation for AutoMTLS) seeded it
from CPU-jitter entropy, tens of ms of pure CPU. The workspace now builds `aws-lc-sys`
with `AWS_LC_SYS_NO_JITTER_ENTROPY=1` (`.cargo/config.toml` `[env]`), so AWS-LC seeds
from the OS CSPRNG (`getrandom`) alone, as ring and Go's crypto do. What remains is exec
and dynamic loading, the cookie and certificate checks, P-256 key generation and
signing, the rustls configuration, the tokio runtime's threads and the socket: a few ms.

## Codec: what changed

The first run of this bench measured 20.7 ms median (9.9 ms minimum) for the
10,000-attribute decode + encode, with encode alone 6.1 ms: the object encoder looked up
every attribute in the value's map and first checked every value key against the type,
and the decoder cloned every attribute name a second time to fill in missing attributes
and built the map by 10,000 single inserts. The encoder now walks the two sorted maps
together; the decoder tries the next attribute of the type before looking a name up,
bulk-builds the map from the (already sorted) entries, and fills in missing attributes
only when some are missing. The remaining decode cost is mostly allocation (one `String`
per key and per string value, a `Vec` per list) and UTF-8 validation.

## Compared with Go

From the protocol reference §18 (no published cross-SDK benchmark exists):

- `BenchmarkSDKProviderInitialization` in terraform-provider-aws (SDKv2, in-process,
  schema construction only, no process start or TLS): 29.3 ms / 70 MB/op, then
  **8.0 ms / 15.9 MB/op** after schema sharing. Our figure above is a whole process start
  including TLS key generation, for a small provider.
- Framework schema initialisation for all AWS resources: 199 ms → 16 ms.
- Go provider idle RSS is commonly tens of MB (Go runtime plus gRPC plus schemas;
  reference marks exact figures unverified); AWS several hundred MB per instance.
- No public per-RPC latency or large-object codec figure exists for Go; the 10k-attribute
  figure here is for comparison with future runs of this bench.
";
