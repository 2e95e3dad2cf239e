//! Step-feed benchmark: how long a step package dropped into the watched directory takes to
//! be installed and visible in the API. Starts a release `octopus-lite` with `--step-feed`,
//! creates one process using the package's step (so every install also moves a usage), then
//! drops N new versions one at a time (written under a `.tmp` name, then renamed in) and
//! polls `GET /api/steppackages/{id}/{version}` every 5 ms from the rename until it answers
//! 200. Writes `bench-reports/step-feed.md`.
//!
//! Run: `cargo bench -p octopus-server --bench step_feed`

#[path = "../tests/it/common/step_archive.rs"]
mod step_archive;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use octopus_client::model::{Action, Project, Step};
use octopus_client::{Client, Config, Credentials, RetryPolicy};
use serde_json::json;
use step_archive::{StepDef, zip};

const KEY: &str = "API-BENCHKEY000000000000000000000";
const N: usize = 20;
const PACKAGE: &str = "bench-steps";
const TARGET_MS: f64 = 1000.0;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "required": ["host"],
        "additionalProperties": false,
        "properties": {"host": {"type": "string", "minLength": 1}, "port": {"type": "integer"}}
    })
}

fn archive(minor: usize) -> (String, String, Vec<u8>) {
    let version = format!("1.{minor}.0");
    let bytes = zip(PACKAGE, &version, &[StepDef::new("bench-step", schema())]);
    (format!("{PACKAGE}.{version}.zip"), version, bytes)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let data = tempfile::tempdir().unwrap();
    let feed = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_octopus-lite"))
        .args(["--listen", "127.0.0.1:0", "--api-key", KEY, "--data-dir"])
        .arg(data.path())
        .arg("--step-feed")
        .arg(feed.path())
        .args(["--trust-step-package", PACKAGE])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn octopus-lite");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let srv = Running(child);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line
        .trim()
        .strip_prefix("octopus-lite listening on ")
        .expect(&line)
        .to_owned();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(
        Config::new(&url, Credentials::ApiKey(KEY.into())).with_retry(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }),
    )
    .unwrap();
    let archives: Vec<_> = (0..=N).map(archive).collect();

    rt.block_on(async {
        // Version 1.0.0 and one process using it, so every later install moves a usage.
        let (name, version, bytes) = &archives[0];
        client
            .step_packages()
            .upload(name, bytes.clone())
            .await
            .unwrap();
        let p = client
            .projects("Spaces-1")
            .create(&Project::new("Bench"))
            .await
            .unwrap();
        let procs = client.deployment_processes("Spaces-1");
        let mut process = procs
            .get_for_project(p.id.as_deref().unwrap())
            .await
            .unwrap();
        process.steps = vec![Step {
            name: "Migrate".into(),
            actions: vec![Action {
                name: "Migrate".into(),
                action_type: "bench-step".into(),
                step_package_version: Some(version.clone()),
                inputs: Some(json!({"host": "db", "port": 5432})),
                ..Action::default()
            }],
            ..Step::default()
        }];
        procs.update(&process).await.unwrap();
    });

    let mut times = Vec::new();
    for (name, version, bytes) in &archives[1..] {
        let tmp = feed.path().join(format!("{name}.tmp"));
        std::fs::write(&tmp, bytes).unwrap();
        let t0 = Instant::now();
        std::fs::rename(&tmp, feed.path().join(name)).unwrap();
        rt.block_on(async {
            let sp = client.step_packages();
            loop {
                if sp.version(PACKAGE, version).await.is_ok() {
                    break;
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(30),
                    "{name} never installed"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        println!("{name}: {ms:.1} ms");
        times.push(ms);
    }
    let moved = rt.block_on(async {
        client
            .step_packages()
            .usages(&Default::default())
            .await
            .unwrap()
    });
    drop(srv);
    let last = &archives[N].1;
    let usage_ok = moved.len() == 1 && moved[0].version == *last;

    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let (med, p90, max, min) = (
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.9),
        sorted[sorted.len() - 1],
        sorted[0],
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ok = |b: bool| if b { "met" } else { "NOT met" };
    let mut report = String::new();
    writeln!(report, "# Step-package feed benchmark\n").unwrap();
    writeln!(
        report,
        "Release `octopus-lite` with `--step-feed`, {cores} cores shared by the server and the bench. Produced by `cargo bench -p octopus-server --bench step_feed` on {}.\n",
        &octopus_server::util::now_iso8601()[..16]
    )
    .unwrap();
    writeln!(
        report,
        "{N} new versions of `{PACKAGE}` (one step, zip, ~{} bytes) dropped one at a time: written as `<name>.tmp`, then renamed into the feed directory. Measured from the rename until `GET /api/steppackages/{PACKAGE}/<version>` answers 200 (polled every 5 ms). One process uses the step, so every install also moves that usage to the new version in the same transaction.\n",
        archives[1].2.len()
    )
    .unwrap();
    writeln!(report, "| Measure | Result | Target | |\n|---|---|---|---|").unwrap();
    writeln!(
        report,
        "| Rename → visible in the API: median / p90 / max | {med:.0} / {p90:.0} / {max:.0} ms | < 1 s | {} |",
        ok(max < TARGET_MS)
    )
    .unwrap();
    writeln!(report, "| Fastest | {min:.0} ms | | |").unwrap();
    writeln!(
        report,
        "| Usage moved to the last version ({last}) | {} | yes | {} |",
        if usage_ok { "yes" } else { "no" },
        ok(usage_ok)
    )
    .unwrap();
    writeln!(
        report,
        "\nWhere the time goes: the watcher lists the directory every 200 ms and installs a file once its size and modification time are unchanged between two listings (so a file still being written is never read), i.e. 200–400 ms after the rename; loading, checking and installing the archive and moving the usage take a few milliseconds. Files named `*.tmp`, `*.part`, `*.partial` or `.*` are ignored, and files last modified more than 2 s ago are taken at the first listing (start-up).\n"
    )
    .unwrap();
    writeln!(
        report,
        "All samples (ms): {}",
        times
            .iter()
            .map(|t| format!("{t:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();

    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-reports/step-feed.md");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, &report).unwrap();
    println!("\n{report}\nwritten to {}", out.display());
}
