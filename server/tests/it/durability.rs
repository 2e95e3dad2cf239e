//! Crash safety: SIGKILL the real `octopus-lite` process at random moments
//! during a burst of writes, restart it on the same data directory, and find
//! every acknowledged write and nothing but the writes that were in flight.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{KEY, client_for};
use octopus_client::ListOptions;
use octopus_client::model::{Action, DeploymentProcess, Project, Step};

const WORKERS: usize = 12;

fn spawn_server(dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_octopus-lite"))
        .args(["--listen", "127.0.0.1:0", "--api-key", KEY, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // Keep draining stdout so the server never writes to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line
        .trim()
        .strip_prefix("octopus-lite listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    (child, url)
}

fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(1);
    h.finish()
}

#[derive(Default)]
struct Ledger {
    /// Project name -> acknowledged.
    attempted: HashMap<String, bool>,
    /// Last acknowledged process version per round's process, and whether a PUT was in flight.
    process_acked: i32,
}

fn step(n: i32) -> Step {
    Step {
        name: format!("step-{n}"),
        actions: vec![Action {
            name: format!("action-{n}"),
            action_type: "Octopus.Script".into(),
            ..Action::default()
        }],
        ..Step::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected_acked: BTreeSet<String> = BTreeSet::new();
    let mut total_unacked_seen = 0usize;
    let mut process_versions: Vec<(String, i32)> = Vec::new();

    for round in 0..3 {
        let (mut child, url) = spawn_server(dir.path());
        let client = client_for(&url, KEY);
        // The process this round hammers with whole-document PUTs.
        let owner = client
            .projects("Spaces-1")
            .create(&Project::new(format!("owner-{round}")))
            .await
            .unwrap();
        expected_acked.insert(owner.name.clone());
        let process_id = owner.deployment_process_id.clone().unwrap();

        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            let (client, ledger) = (client.clone(), ledger.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    let name = format!("r{round}-w{w}-{n}");
                    ledger.lock().unwrap().attempted.insert(name.clone(), false);
                    match client
                        .projects("Spaces-1")
                        .create(&Project::new(name.clone()))
                        .await
                    {
                        Ok(p) => {
                            assert_eq!(p.name, name);
                            ledger.lock().unwrap().attempted.insert(name, true);
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        {
            let (client, ledger, process_id) = (client.clone(), ledger.clone(), process_id.clone());
            tasks.push(tokio::spawn(async move {
                let procs = client.deployment_processes("Spaces-1");
                let Ok(mut p) = procs.get(&process_id).await else {
                    return;
                };
                loop {
                    p.steps = (0..=p.version).map(step).collect();
                    match procs.update(&p).await {
                        Ok(saved) => {
                            ledger.lock().unwrap().process_acked = saved.version;
                            p = saved;
                        }
                        Err(_) => return,
                    }
                }
            }));
        }

        // Let the burst get going (however busy the machine), then kill at a random moment.
        let waited = std::time::Instant::now();
        while ledger
            .lock()
            .unwrap()
            .attempted
            .values()
            .filter(|a| **a)
            .count()
            < 2 * WORKERS
        {
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "the burst never started"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let delay = random_u64() % 300;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let ledger = Arc::try_unwrap(ledger).ok().unwrap().into_inner().unwrap();
        let acked: Vec<_> = ledger
            .attempted
            .iter()
            .filter(|(_, a)| **a)
            .map(|(n, _)| n.clone())
            .collect();
        assert!(
            acked.len() > WORKERS,
            "round {round}: too few writes before the kill ({})",
            acked.len()
        );
        expected_acked.extend(acked);
        let in_flight: BTreeSet<String> = ledger
            .attempted
            .iter()
            .filter(|(_, a)| !**a)
            .map(|(n, _)| n.clone())
            .collect();
        assert!(in_flight.len() <= WORKERS);
        process_versions.push((process_id, ledger.process_acked));

        // Restart on the same data directory and check.
        let (mut child, url) = spawn_server(dir.path());
        let client = client_for(&url, KEY);
        let projects = client
            .projects("Spaces-1")
            .list_all(&ListOptions::default().take(500))
            .await
            .unwrap();
        let present: BTreeSet<String> = projects.iter().map(|p| p.name.clone()).collect();
        assert_eq!(
            present.len(),
            projects.len(),
            "duplicate names after restart"
        );
        let missing: Vec<_> = expected_acked.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged but lost: {missing:?}"
        );
        let extra: BTreeSet<String> = present.difference(&expected_acked).cloned().collect();
        assert!(
            extra.is_subset(&in_flight),
            "round {round}: unexpected projects {extra:?}"
        );
        assert!(extra.len() <= WORKERS);
        total_unacked_seen += extra.len();
        // Unacknowledged-but-committed writes are now part of the history.
        expected_acked.extend(extra);

        // No partial data: every project has its process, and no orphan processes.
        let procs = client.deployment_processes("Spaces-1");
        for p in &projects {
            let process = procs
                .get_for_project(p.id.as_deref().unwrap())
                .await
                .unwrap();
            assert_eq!(&process.project_id, p.id.as_ref().unwrap());
        }
        let all_procs = procs.list(&ListOptions::default().take(0)).await.unwrap();
        assert_eq!(all_procs.total_results as usize, projects.len());
        // Each hammered process holds the acknowledged version or the one in flight, intact.
        for (id, acked) in &process_versions {
            let p: DeploymentProcess = procs.get(id).await.unwrap();
            assert!(
                p.version == *acked || p.version == acked + 1,
                "{id}: version {} vs acked {acked}",
                p.version
            );
            assert_eq!(
                p.steps.len() as i32,
                p.version,
                "{id}: steps do not match the version"
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    eprintln!(
        "{} acknowledged writes verified; {total_unacked_seen} committed-but-unacknowledged",
        expected_acked.len()
    );
}
