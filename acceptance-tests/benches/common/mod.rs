//! What the provider benches share: CPU accounting from `/proc`, serving a provider
//! in-process with its threads known, timing a Terraform command, and report
//! formatting.
#![allow(dead_code)]

use std::collections::HashSet;
use std::time::{Duration, Instant};
use terraform_provider_octopus::ADDRESS;
use tf_sdk::Provider;

/// Clock ticks per second for `/proc/*/stat` (`getconf CLK_TCK`; 100 on Linux).
pub fn clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// This process's CPU (all threads, dead ones too) and its waited-for children's.
#[derive(Clone, Copy)]
pub struct Cpu {
    pub own: Duration,
    pub children: Duration,
}

pub fn cpu_now() -> Cpu {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name, which is in parentheses and may hold spaces:
    // index 0 is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
    let rest = &stat[stat.rfind(')').expect("stat has a comm") + 2..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|s| s.parse().unwrap_or(0))
        .collect();
    let ticks = |t: u64| Duration::from_secs_f64(t as f64 / clk_tck());
    Cpu {
        own: ticks(f[0] + f[1]),
        children: ticks(f[2] + f[3]),
    }
}

/// One timed command or phase.
#[derive(Clone, Copy, Default)]
pub struct Sample {
    pub wall: Duration,
    /// CPU of this process: our provider and server (or the baseline provider).
    pub ours: Duration,
    /// CPU of Terraform.
    pub terraform: Duration,
    /// Part of `ours` on the provider's threads (its runtime: SDK, gRPC, resource code,
    /// HTTP client); the rest is the server (axum, SQLite) and this bench's idle main
    /// thread.
    pub provider: Duration,
}

impl Sample {
    pub fn share(&self) -> f64 {
        self.ours.as_secs_f64() / self.wall.as_secs_f64()
    }

    pub fn plus(self, o: Sample) -> Sample {
        Sample {
            wall: self.wall + o.wall,
            ours: self.ours + o.ours,
            terraform: self.terraform + o.terraform,
            provider: self.provider + o.provider,
        }
    }
}

/// The IDs of this process's live threads.
pub fn thread_ids() -> HashSet<u32> {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// CPU (utime + stime) of the live threads among `tids`.
pub fn threads_cpu(tids: &[u32]) -> Duration {
    let ticks: u64 = tids
        .iter()
        .filter_map(|tid| std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok())
        .map(|stat| {
            let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .map(|s| s.parse::<u64>().unwrap_or(0))
                .sum::<u64>()
        })
        .sum();
    Duration::from_secs_f64(ticks as f64 / clk_tck())
}

/// Serves `provider` in-process and returns it with the IDs of the threads it
/// started (its runtime's workers and its serving thread), which only it uses.
pub fn spawn_provider<P: Provider>(provider: P) -> (tf_sdk::InProcess, Vec<u32>) {
    let before = thread_ids();
    let served =
        tf_sdk::InProcess::spawn(provider, ADDRESS).expect("serve the provider in-process");
    let mut tids: Vec<u32> = thread_ids().difference(&before).copied().collect();
    tids.sort();
    (served, tids)
}

/// Measures `f`, which runs Terraform and waits for it; `provider` are the
/// provider's thread IDs.
pub fn measure<R>(provider: &[u32], f: impl FnOnce() -> R) -> (R, Sample) {
    let (c0, p0, t0) = (cpu_now(), threads_cpu(provider), Instant::now());
    let r = f();
    let (wall, c1, p1) = (t0.elapsed(), cpu_now(), threads_cpu(provider));
    let sample = Sample {
        wall,
        ours: c1.own.saturating_sub(c0.own),
        terraform: c1.children.saturating_sub(c0.children),
        provider: p1.saturating_sub(p0),
    };
    (r, sample)
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn median_sample(samples: &[Sample]) -> Sample {
    Sample {
        wall: median(samples.iter().map(|s| s.wall).collect()),
        ours: median(samples.iter().map(|s| s.ours).collect()),
        terraform: median(samples.iter().map(|s| s.terraform).collect()),
        provider: median(samples.iter().map(|s| s.provider).collect()),
    }
}

pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

pub fn row(label: &str, phase: &str, s: &Sample) -> String {
    format!(
        "| {label} | {phase} | {} | {} | {} | {} | {} | {} |\n",
        secs(s.wall),
        secs(s.ours),
        secs(s.provider),
        secs(s.ours.saturating_sub(s.provider)),
        secs(s.terraform),
        pct(s.share())
    )
}

pub fn machine() -> (String, String) {
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    (format!("{nproc}"), model)
}

pub fn terraform_version() -> String {
    let out = std::process::Command::new(tf_testing::terraform())
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform version");
    let text = String::from_utf8_lossy(&out.stdout);
    format!(
        "{} ({})",
        text.lines().next().unwrap_or("?").trim(),
        tf_testing::terraform().display()
    )
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
