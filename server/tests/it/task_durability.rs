//! Tasks across a crash: SIGKILL the real `octopus-lite` while a deployment's
//! script runs and another deployment waits in the queue, restart it on the
//! same data directory: the running task is failed with a clear message (its
//! log kept), the script's processes are killed, and the queued task runs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use octopus_client::Client;
use octopus_client::model::{Deployment, Environment, Project, Release, Step, TaskState};

use crate::common::{KEY, client_for};
use crate::deploy::bash_step;

const SPACE: &str = "Spaces-1";

/// The server, killed (SIGKILL) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_server(dir: &Path) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_octopus-lite"))
        .args(["--listen", "127.0.0.1:0", "--api-key", KEY, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line
        .trim()
        .strip_prefix("octopus-lite listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    (Proc(child), url)
}

/// A project with one step and a release of it.
async fn released(client: &Client, name: &str, step: Step) -> Release {
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
    process.steps = vec![step];
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

/// Live (not zombie) processes whose working directory lies under `dir`.
fn processes_under(dir: &Path) -> Vec<(u32, String)> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cwd: PathBuf = match std::fs::read_link(format!("/proc/{pid}/cwd")) {
            Ok(c) => c,
            Err(_) => continue,
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if cwd.starts_with(&dir) && !zombie {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            out.push((pid, cmd.trim().to_owned()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_fails_the_running_task_kills_its_script_and_runs_the_queued_one() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = spawn_server(dir.path());
    let client = client_for(&url, KEY);
    // One environment: the default lifecycle's first phase for both projects.
    let env = client
        .environments(SPACE)
        .create(&Environment::new("Dev"))
        .await
        .unwrap();
    let long = released(
        &client,
        "Long",
        bash_step("Long", "echo started; sleep 300"),
    )
    .await;
    let other = released(&client, "Other", bash_step("Other", "echo other-ran")).await;
    let first = client
        .deployments(SPACE)
        .create(&Deployment {
            release_id: long.id.clone().unwrap(),
            environment_id: env.id.clone().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    let first_task = first.task_id.clone().unwrap();
    let mut seen = false;
    // A hang guard of 30 s (1200 × 25 ms): no cost when the script starts at once.
    for _ in 0..1200 {
        if client
            .tasks()
            .raw(&first_task)
            .await
            .unwrap()
            .contains("started")
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(seen, "the script never printed 'started'");
    // Queued until a moment after the crash (the queue would run it at once).
    let at = client.tasks().get(&first_task).await.unwrap();
    assert_eq!(at.state, TaskState::Executing);
    let run_at = later(Duration::from_secs(8));
    let second = client
        .deployments(SPACE)
        .create(&Deployment {
            release_id: other.id.clone().unwrap(),
            environment_id: env.id.clone().unwrap(),
            queue_time: Some(run_at),
            ..Default::default()
        })
        .await
        .unwrap();
    let second_task = second.task_id.clone().unwrap();
    assert_eq!(
        client.tasks().get(&second_task).await.unwrap().state,
        TaskState::Queued
    );
    let work = dir.path().join("work").join(&first_task);
    let before = processes_under(&work);
    assert!(
        before.iter().any(|(_, cmd)| cmd == "sleep 300"),
        "the script's sleep runs: {before:?}"
    );

    // Still queued when the server dies: the restarted server is the one to run it.
    assert_eq!(
        client.tasks().get(&second_task).await.unwrap().state,
        TaskState::Queued,
        "the queued task must still wait when the server is killed"
    );

    // kill -9: nothing in the server runs any more.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    drop(server);
    let orphans = processes_under(&work);
    eprintln!("left running by the dead server: {orphans:?}");
    // The script outlives the dead server: what the recovery is to kill is really there.
    assert!(
        orphans.iter().any(|(_, cmd)| cmd == "sleep 300"),
        "the script's sleep survives the server's death: {orphans:?}"
    );

    let (_server, url) = spawn_server(dir.path());
    let client = client_for(&url, KEY);
    let task = client.tasks().get(&first_task).await.unwrap();
    assert_eq!(task.state, TaskState::Failed);
    assert!(
        task.error_message
            .contains("octopus-lite stopped while it was running"),
        "{}",
        task.error_message
    );
    let raw = client.tasks().raw(&first_task).await.unwrap();
    assert!(raw.contains("started"), "{raw}");
    assert!(
        raw.contains("octopus-lite stopped while it was running"),
        "{raw}"
    );
    assert!(!raw.contains("== Running:"), "every node is closed: {raw}");
    let d = client
        .deployments(SPACE)
        .get(first.id.as_deref().unwrap())
        .await
        .unwrap();
    assert!(d.failure_encountered);
    // The recovery killed what the dead server's script left behind.
    let mut left = processes_under(&work);
    // A hang guard of 30 s (1500 × 20 ms): no cost when the recovery kills them at once.
    for _ in 0..1500 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = processes_under(&work);
    }
    for (pid, _) in &left {
        // Do not leave them behind when the assertion fails.
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    assert!(left.is_empty(), "still running after recovery: {left:?}");
    // The queued deployment runs on the restarted server.
    let done = client
        .tasks()
        .wait(
            &second_task,
            Duration::from_millis(50),
            Duration::from_secs(60),
            |_| {},
        )
        .await
        .unwrap();
    let raw = client.tasks().raw(&second_task).await.unwrap();
    assert_eq!(done.state, TaskState::Success, "{raw}");
    assert!(raw.contains("other-ran"), "{raw}");
}

/// An ISO 8601 UTC time `ahead` from now.
fn later(ahead: Duration) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        + ahead;
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", t.as_secs()),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
