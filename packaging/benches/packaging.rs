//! Throughput of streaming hashing and archive inspection.
//!
//! `cargo bench -p octopus-packaging --bench packaging` (release profile) prints the results
//! and writes `bench-reports/packaging.md` at the workspace root.

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use octopus_packaging::archive::{ArchiveLimits, inspect};
use octopus_packaging::filename::{PackageFileName, PackageFormat};
use octopus_packaging::hashing::{HashingReader, HashingWriter};

const MIB: u64 = 1 << 20;
const STREAM: u64 = 256 * MIB;
const ENTRIES: usize = 10_000;

/// Yields `remaining` pseudo-random bytes from a 1 MiB pattern, without allocating them all.
struct Pattern {
    block: Vec<u8>,
    pos: usize,
    remaining: u64,
}

impl Pattern {
    fn new(len: u64) -> Self {
        let block = (0..MIB as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        Pattern {
            block,
            pos: 0,
            remaining: len,
        }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(self.block.len() - self.pos)
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos = (self.pos + n) % self.block.len();
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed());
        out = Some(v);
    }
    (best, out.expect("at least one run"))
}

fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

fn main() {
    let mut report = String::new();
    let mut line = |s: String| {
        println!("{s}");
        report.push_str(&s);
        report.push('\n');
    };
    line("# octopus-packaging benchmarks".into());
    line(String::new());
    line(format!(
        "Release build, best of 3 runs, {} logical CPU(s). Regenerate with \
         `cargo bench -p octopus-packaging --bench packaging`. Numbers are indicative: the \
         machine may be shared with other builds.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    line(String::new());
    line("| Benchmark | Work | Time | Throughput |".into());
    line("|---|---|---|---|".into());

    // Pattern generation alone, to show the overhead that is not hashing.
    let (d, _) = best_of(3, || {
        let mut r = Pattern::new(STREAM);
        let mut buf = vec![0u8; 8 << 10];
        let mut total = 0u64;
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break total;
            }
            total += black_box(&buf[..n]).len() as u64;
        }
    });
    line(format!(
        "| copy only (baseline) | 256 MiB | {:.3} s | {:.0} MiB/s |",
        d.as_secs_f64(),
        mib_per_s(STREAM, d)
    ));
    let (d, digests) = best_of(3, || {
        let mut r = HashingReader::new(Pattern::new(STREAM));
        io::copy(&mut r, &mut io::sink()).unwrap();
        r.digests()
    });
    assert_eq!(digests.size, STREAM);
    line(format!(
        "| `HashingReader` SHA-1 + SHA-256 | 256 MiB | {:.3} s | {:.0} MiB/s |",
        d.as_secs_f64(),
        mib_per_s(STREAM, d)
    ));
    let (d, _) = best_of(3, || {
        let mut w = HashingWriter::with_limit(io::sink(), STREAM);
        io::copy(&mut Pattern::new(STREAM), &mut w).unwrap();
        w.finish().1
    });
    line(format!(
        "| `HashingWriter` SHA-1 + SHA-256, with limit | 256 MiB | {:.3} s | {:.0} MiB/s |",
        d.as_secs_f64(),
        mib_per_s(STREAM, d)
    ));

    // Archives with 10,000 small entries in 100 directories.
    let dir = tempfile::tempdir().expect("temp dir");
    let body = |i: usize| format!("entry {i}\n").repeat(20).into_bytes();
    let zip_path = dir.path().join("bench.1.0.0.zip");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("create"));
        let opts = zip::write::SimpleFileOptions::default();
        for i in 0..ENTRIES {
            w.start_file(format!("dir{}/file{i}.txt", i % 100), opts)
                .expect("start file");
            w.write_all(&body(i)).expect("write");
        }
        w.finish().expect("finish zip");
    }
    let tgz_path = dir.path().join("bench.1.0.0.tar.gz");
    {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&tgz_path).expect("create"),
            flate2::Compression::default(),
        );
        let mut b = tar::Builder::new(gz);
        for i in 0..ENTRIES {
            let data = body(i);
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(
                &mut h,
                format!("dir{}/file{i}.txt", i % 100),
                data.as_slice(),
            )
            .expect("append");
        }
        b.into_inner().expect("tar").finish().expect("gzip");
    }
    let limits = ArchiveLimits::default();
    for (label, path, format) in [
        ("zip (deflate)", &zip_path, PackageFormat::Zip),
        ("tar.gz", &tgz_path, PackageFormat::TarGz),
    ] {
        let size = std::fs::metadata(path).expect("size").len();
        let (d, summary) = best_of(3, || inspect(path, format, &limits).expect("inspect"));
        assert_eq!(summary.entries.len(), ENTRIES);
        line(format!(
            "| `archive::inspect` {label} | {ENTRIES} entries, {:.1} MiB on disk, {:.1} MiB uncompressed | {:.3} s | {:.0} entries/s |",
            size as f64 / MIB as f64,
            summary.total_size as f64 / MIB as f64,
            d.as_secs_f64(),
            ENTRIES as f64 / d.as_secs_f64()
        ));
    }

    // File-name parsing.
    let names: Vec<String> = (0..100_000)
        .map(|i| {
            format!(
                "Acme.Web-App_{i}.{}.{}.{}-beta.{i}+sha.{i}.tar.gz",
                i % 7,
                i % 13,
                i
            )
        })
        .collect();
    let (d, ok) = best_of(3, || {
        names
            .iter()
            .filter(|n| black_box(PackageFileName::parse(n)).is_ok())
            .count()
    });
    assert_eq!(ok, names.len());
    line(format!(
        "| `PackageFileName::parse` | 100,000 names | {:.3} s | {:.0} names/s |",
        d.as_secs_f64(),
        names.len() as f64 / d.as_secs_f64()
    ));

    let mut out = String::new();
    let _ = write!(out, "{report}");
    // The workspace keeps one report per crate in `bench-reports/` at its root.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-reports");
    std::fs::create_dir_all(&dir).expect("create bench-reports");
    std::fs::write(dir.join("packaging.md"), out).expect("write report");
    println!("wrote bench-reports/packaging.md");
}
