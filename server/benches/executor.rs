//! Executor benchmark, against an in-process server with a fresh data dir per
//! part: (a) the overhead of a one-step `true` deployment (POST to observed
//! `Success`, polled every 5 ms, minus `bash -c true` spawned directly);
//! (b) deployments per second with 1 and 4 concurrent tasks (100 deployments
//! across 10 projects); (c) task-log throughput of a step printing 100 MB.
//! Writes `bench-reports/executor.md`.
//!
//! Run: `cargo bench -p octopus-server --bench executor`

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use octopus_client::model::{
    Action, Deployment, Environment, Project, Release, ServerTask, Step, TaskState,
};
use octopus_client::{Client, Config, Credentials, RetryPolicy};
use octopus_server::{RunningServer, Server, ServerConfig};

const KEY: &str = "API-BENCHKEY000000000000000000000";
const SPACE: &str = "Spaces-1";
const POLL: Duration = Duration::from_millis(5);

fn bash_step(name: &str, script: &str) -> Step {
    let mut a = Action {
        name: name.into(),
        action_type: "Octopus.Script".into(),
        ..Action::default()
    };
    for (k, v) in [
        ("Octopus.Action.RunOnServer", "true"),
        ("Octopus.Action.Script.ScriptSource", "Inline"),
        ("Octopus.Action.Script.Syntax", "Bash"),
        ("Octopus.Action.Script.ScriptBody", script),
    ] {
        a.properties.insert(k.into(), v.into());
    }
    Step {
        name: name.into(),
        actions: vec![a],
        ..Step::default()
    }
}

async fn start(dir: &Path, max_tasks: usize) -> (RunningServer, Client) {
    let mut cfg = ServerConfig::new(dir);
    cfg.api_key = Some(KEY.into());
    cfg.max_concurrent_tasks = max_tasks;
    let server = Server::start(cfg).await.unwrap();
    let client = Client::new(
        Config::new(server.url(), Credentials::ApiKey(KEY.into())).with_retry(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }),
    )
    .unwrap();
    (server, client)
}

/// A project with one step and a release of it.
async fn released(client: &Client, name: &str, script: &str) -> Release {
    let p = client
        .projects(SPACE)
        .create(&Project::new(name))
        .await
        .unwrap();
    let procs = client.deployment_processes(SPACE);
    let mut process = procs
        .get_for_project(p.id.as_deref().unwrap())
        .await
        .unwrap();
    process.steps = vec![bash_step("Run", script)];
    procs.update(&process).await.unwrap();
    client
        .releases(SPACE)
        .create(&Release {
            project_id: p.id.clone().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn environment(client: &Client) -> Environment {
    client
        .environments(SPACE)
        .create(&Environment::new("Bench"))
        .await
        .unwrap()
}

async fn post(client: &Client, release: &Release, env: &Environment) -> String {
    client
        .deployments(SPACE)
        .create(&Deployment {
            release_id: release.id.clone().unwrap(),
            environment_id: env.id.clone().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap()
        .task_id
        .unwrap()
}

/// Polls a task every [`POLL`] until it completes; panics unless it succeeded.
async fn until_done(client: &Client, task: &str) -> ServerTask {
    loop {
        let t = client.tasks().get(task).await.unwrap();
        if t.is_completed {
            assert_eq!(t.state, TaskState::Success, "{task}: {}", t.error_message);
            return t;
        }
        tokio::time::sleep(POLL).await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `q` quantile (0..=1) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

fn shell(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Milliseconds between two task times.
fn between(a: Option<&str>, b: Option<&str>) -> f64 {
    match (a.and_then(parse_ms), b.and_then(parse_ms)) {
        (Some(a), Some(b)) => b as f64 - a as f64,
        _ => f64::NAN,
    }
}

/// `YYYY-MM-DDTHH:MM:SS.fff+00:00` (the server's own form) to epoch milliseconds.
fn parse_ms(t: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, s, f) = (n(11..13)?, n(14..16)?, n(17..19)?, n(20..23)?);
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1000) + f)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut report = String::new();
    writeln!(report, "# Executor benchmark\n").unwrap();
    writeln!(
        report,
        "Machine: {} cores (`nproc`), kernel {} (`uname -r`); shared with other work. \
         Build: `cargo bench` (release profile, optimised, no debug info). \
         In-process server, fresh data dir per part, loopback HTTP through `octopus-client`, \
         tokio with 2 worker threads.\n",
        shell("nproc"),
        shell("uname -r")
    )
    .unwrap();

    // Baseline: `bash -c true` spawned directly.
    let mut direct = Vec::new();
    for _ in 0..100 {
        let t0 = Instant::now();
        let s = Command::new("bash").args(["-c", "true"]).status().unwrap();
        assert!(s.success());
        direct.push(ms(t0.elapsed()));
    }
    let direct = sorted(direct);
    let bash_med = quantile(&direct, 0.5);
    println!("bash -c true: median {bash_med:.2} ms");

    // (a) 100 sequential one-step deployments.
    let (a_rows, a_total, a_over) = rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (_server, client) = start(dir.path(), 4).await;
        let env = environment(&client).await;
        let release = released(&client, "Seq", "true").await;
        // One warm-up deployment (first process spawn, first log file).
        let t = post(&client, &release, &env).await;
        until_done(&client, &t).await;
        let (mut total, mut queued, mut running) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..100 {
            let t0 = Instant::now();
            let id = post(&client, &release, &env).await;
            let task = until_done(&client, &id).await;
            total.push(ms(t0.elapsed()));
            queued.push(between(
                task.queue_time.as_deref(),
                task.start_time.as_deref(),
            ));
            running.push(between(
                task.start_time.as_deref(),
                task.completed_time.as_deref(),
            ));
        }
        let total = sorted(total);
        let over: Vec<f64> = total.iter().map(|t| t - bash_med).collect();
        let (queued, running) = (sorted(queued), sorted(running));
        let rows = format!(
            "| Queue time → start time (task times, ms resolution) | {:.1} ms | {:.1} ms |\n\
             | Start time → completed time (runner: log, plan, bootstrap, bash, end) | {:.1} ms | {:.1} ms |\n",
            quantile(&queued, 0.5),
            quantile(&queued, 0.9),
            quantile(&running, 0.5),
            quantile(&running, 0.9),
        );
        (rows, total, over)
    });
    let (over_med, over_p90) = (quantile(&a_over, 0.5), quantile(&a_over, 0.9));
    println!(
        "(a) total median {:.1} ms p90 {:.1} ms; overhead median {over_med:.1} ms p90 {over_p90:.1} ms",
        quantile(&a_total, 0.5),
        quantile(&a_total, 0.9)
    );

    // (b) throughput with 1 and 4 concurrent tasks.
    let mut b_rows = String::new();
    for max in [1usize, 4] {
        let rate = rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (_server, client) = start(dir.path(), max).await;
            let env = environment(&client).await;
            let mut releases = Vec::new();
            for p in 0..10 {
                releases.push(released(&client, &format!("P{p}"), "true").await);
            }
            let t0 = Instant::now();
            let mut ids = Vec::new();
            for i in 0..100 {
                ids.push(post(&client, &releases[i % 10], &env).await);
            }
            while !ids.is_empty() {
                let mut left = Vec::new();
                for id in ids {
                    let t = client.tasks().get(&id).await.unwrap();
                    if !t.is_completed {
                        left.push(id);
                    } else {
                        assert_eq!(t.state, TaskState::Success, "{}", t.error_message);
                    }
                }
                ids = left;
                if !ids.is_empty() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            100.0 / t0.elapsed().as_secs_f64()
        });
        println!("(b) max_concurrent_tasks {max}: {rate:.1} deployments/s");
        writeln!(
            b_rows,
            "| 100 deployments over 10 projects, max_concurrent_tasks = {max} | {rate:.1} deployments/s |"
        )
        .unwrap();
    }

    // (c) a step printing 100 MB (1,000,000 lines of 100 characters).
    const PRINT: &str = "head -c 100000000 /dev/zero | tr '\\0' 'x' | fold -w 100";
    let t0 = Instant::now();
    shell(&format!("{PRINT} > /dev/null"));
    let alone = t0.elapsed();
    let (c_time, c_size) = rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (_server, client) = start(dir.path(), 4).await;
        let env = environment(&client).await;
        let release = released(&client, "Loud", PRINT).await;
        let t0 = Instant::now();
        let id = post(&client, &release, &env).await;
        until_done(&client, &id).await;
        let took = t0.elapsed();
        let size = std::fs::metadata(dir.path().join("tasks").join(format!("{id}.log")))
            .map(|m| m.len())
            .unwrap_or(0);
        (took, size)
    });
    let mbps = 100.0 / c_time.as_secs_f64();
    println!(
        "(c) 100 MB in {:.2} s = {mbps:.1} MB/s; log file {:.1} MB",
        c_time.as_secs_f64(),
        c_size as f64 / 1e6
    );

    let met = over_med < 50.0 && over_p90 < 50.0;
    writeln!(report, "## (a) Overhead of a one-step deployment\n").unwrap();
    writeln!(
        report,
        "100 sequential deployments of one `true` Bash step (one warm-up first). Time from \
         the deployment POST to the first poll (every 5 ms) that sees `Success`, minus the \
         median of 100 direct `bash -c true` spawns ({bash_med:.2} ms).\n"
    )
    .unwrap();
    writeln!(report, "| Measure | median | p90 |\n|---|---|---|").unwrap();
    writeln!(
        report,
        "| POST → `Success` observed | {:.1} ms | {:.1} ms |",
        quantile(&a_total, 0.5),
        quantile(&a_total, 0.9)
    )
    .unwrap();
    writeln!(
        report,
        "| **Overhead** (minus `bash -c true`) | **{over_med:.1} ms** | **{over_p90:.1} ms** |"
    )
    .unwrap();
    write!(report, "{a_rows}").unwrap();
    writeln!(
        report,
        "\nGoal: under 50 ms overhead — **{}**.\n",
        if met { "met" } else { "not met" }
    )
    .unwrap();
    writeln!(
        report,
        "Where the time goes: the runner's own part (log file, plan read, Bash bootstrap \
         with its helpers, the script, the end write) is the start → completed span; the \
         rest is the POST's durable write, the queue's wake-up and start write, and the \
         5 ms polling (on average half a poll interval is spent waiting to observe the end).\n"
    )
    .unwrap();
    writeln!(report, "## (b) Throughput\n").unwrap();
    writeln!(
        report,
        "| Measure | Result |\n|---|---|\n{b_rows}\n\
         From the first POST to the last task seen complete (each remaining task polled every 10 ms).\n"
    )
    .unwrap();
    writeln!(report, "## (c) Task-log throughput\n").unwrap();
    writeln!(
        report,
        "| Measure | Result |\n|---|---|\n\
         | Step printing 100 MB (`{}`), deployment POST → `Success` | {:.2} s |\n\
         | Throughput | {mbps:.1} MB/s |\n\
         | The same pipeline to `/dev/null` | {:.2} s |\n\
         | Task log file (JSON lines, one event per line with its time) | {:.1} MB |\n",
        PRINT.replace('|', "\\|"),
        c_time.as_secs_f64(),
        alone.as_secs_f64(),
        c_size as f64 / 1e6
    )
    .unwrap();

    // (d) An Octopus-format step (demo-echo 1.0.0, built by Octopus's CLI): node start,
    // our bootstrapper and the step's executor.js, 20 deployments after one warm-up.
    let node_alone = sorted(
        (0..20)
            .map(|_| {
                let t0 = Instant::now();
                // With a clean environment, as steps get (`NODE_EXTRA_CA_CERTS` alone
                // adds ~45 ms of certificate loading here).
                let s = Command::new("node")
                    .args(["-e", "0"])
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .status()
                    .unwrap();
                assert!(s.success());
                ms(t0.elapsed())
            })
            .collect(),
    );
    let d_times = rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ServerConfig::new(dir.path());
        cfg.api_key = Some(KEY.into());
        cfg.trusted_step_packages.packages =
            vec![octopus_packaging::step_package::TrustedPackage {
                id: "demo-echo".into(),
                versions: None,
            }];
        let server = Server::start(cfg).await.unwrap();
        let client =
            Client::new(Config::new(server.url(), Credentials::ApiKey(KEY.into()))).unwrap();
        let archive = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../acceptance-tests/fixtures/step-packages/demo-echo.1.0.0.zip");
        client
            .step_packages()
            .upload("demo-echo.1.0.0.zip", std::fs::read(archive).unwrap())
            .await
            .unwrap();
        let env = environment(&client).await;
        let p = client
            .projects(SPACE)
            .create(&Project::new("Echo"))
            .await
            .unwrap();
        let procs = client.deployment_processes(SPACE);
        let mut process = procs
            .get_for_project(p.id.as_deref().unwrap())
            .await
            .unwrap();
        let mut a = Action {
            name: "Echo".into(),
            action_type: "demo-echo".into(),
            step_package_version: Some("1.0.0".into()),
            ..Action::default()
        };
        a.inputs = Some(
            serde_json::json!({"message": "hello", "repeat": 2, "uppercase": true,
            "token": {"HasValue": true, "NewValue": "bench-token"}}),
        );
        process.steps = vec![Step {
            name: "Echo".into(),
            actions: vec![a],
            ..Step::default()
        }];
        procs.update(&process).await.unwrap();
        let release = client
            .releases(SPACE)
            .create(&Release {
                project_id: p.id.clone().unwrap(),
                ..Default::default()
            })
            .await
            .unwrap();
        until_done(&client, &post(&client, &release, &env).await).await;
        let mut times = Vec::new();
        for _ in 0..20 {
            let t0 = Instant::now();
            let task = post(&client, &release, &env).await;
            until_done(&client, &task).await;
            times.push(ms(t0.elapsed()));
        }
        drop(server);
        sorted(times)
    });
    writeln!(
        report,
        "## (d) An Octopus-format step (node)
"
    )
    .unwrap();
    writeln!(
        report,
        "`demo-echo` 1.0.0 as Octopus's step-package CLI built it: the package unpacked into the \
         action's directory, `node` started with our bootstrapper, `executor.js` printing two \
         lines and setting two output variables. 20 deployments after one warm-up.\n\n\
         | Measure | median | p90 |\n|---|---|---|\n\
         | Deployment POST → `Success` observed | {:.1} ms | {:.1} ms |\n\
         | `node -e 0` alone (clean environment) | {:.1} ms | {:.1} ms |\n",
        quantile(&d_times, 0.5),
        quantile(&d_times, 0.9),
        quantile(&node_alone, 0.5),
        quantile(&node_alone, 0.9),
    )
    .unwrap();

    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-reports/executor.md");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, &report).unwrap();
    println!("\n{report}\nwritten to {}", out.display());
}
