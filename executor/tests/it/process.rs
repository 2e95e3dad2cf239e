//! Process control: cancellation, time limit, clean environment, least privilege.

use std::time::{Duration, Instant};

use octopus_executor::{Category, Outcome, run_action};

use crate::common::*;

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

async fn wait_for_file(path: &std::path::Path) -> String {
    // A hang guard of 30 s (1200 × 25 ms): no cost when the file comes at once.
    for _ in 0..1200 {
        if let Ok(s) = std::fs::read_to_string(path)
            && s.ends_with('\n')
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} never appeared", path.display());
}

#[tokio::test]
async fn cancel_kills_the_script_and_its_children() {
    let d = Dirs::new();
    let pidfile = d.path("pids");
    let body = format!(
        "sleep 1000 &\necho $! > '{0}.tmp'\n(sleep 1000; echo never) &\necho $! >> '{0}.tmp'\nmv '{0}.tmp' '{0}'\necho started\nwait\n",
        pidfile.display()
    );
    let run_ = d.script("Bash", &body);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let mut lines = Lines::default();
        let r = run_action(run_, &mut lines, rx).await;
        (r, lines)
    });
    let pids = wait_for_file(&pidfile).await;
    let pids: Vec<u32> = pids.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| !is_gone(*p)));
    let t0 = Instant::now();
    tx.send(true).unwrap();
    let (r, lines) = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("cancel ends the run")
        .unwrap();
    assert_eq!(r.outcome, Outcome::Canceled, "{}", lines.dump());
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(lines.has("cancelled"), "{}", lines.dump());
    for _ in 0..100 {
        if pids.iter().all(|p| is_gone(*p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for p in pids {
        assert!(is_gone(p), "grandchild {p} survived the cancel");
    }
}

#[tokio::test]
async fn cancelled_before_start_runs_nothing() {
    let d = Dirs::new();
    let marker = d.path("ran");
    let run_ = d.script("Bash", &format!("touch '{}'", marker.display()));
    let (_tx, rx) = tokio::sync::watch::channel(true);
    let mut lines = Lines::default();
    let r = run_action(run_, &mut lines, rx).await;
    assert_eq!(r.outcome, Outcome::Canceled);
    assert!(!marker.exists());
}

#[tokio::test]
async fn timeout_kills_the_group() {
    let d = Dirs::new();
    let pidfile = d.path("pid");
    let mut run_ = d.script(
        "Bash",
        &format!("sleep 1000 &\necho $! > '{}'\nwait", pidfile.display()),
    );
    // Long enough for bash to start and write the pidfile on a loaded machine.
    let limit = Duration::from_millis(2500);
    run_.timeout = limit;
    let t0 = Instant::now();
    let (r, lines) = run(run_).await;
    let took = t0.elapsed();
    assert_eq!(r.outcome, Outcome::TimedOut, "{}", lines.dump());
    assert!(took >= limit, "timed out after {took:?}, before its limit");
    assert!(took < limit + Duration::from_secs(3), "{took:?}");
    assert!(
        lines
            .of(Category::Error)
            .contains(&"The action ran longer than its time limit; its processes were killed."),
        "{}",
        lines.dump()
    );
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for _ in 0..100 {
        if is_gone(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(is_gone(pid));
}

#[tokio::test]
async fn background_process_holding_output_does_not_hang_the_step() {
    let d = Dirs::new();
    let t0 = Instant::now();
    let (r, lines) = run(d.script("Bash", "sleep 1000 &\necho done")).await;
    assert_ok(&r, &lines);
    assert!(lines.has("done"));
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(
        lines.of(Category::Verbose).contains(
            &"Background processes kept the script's output open after it ended; they were killed."
        ),
        "{}",
        lines.dump()
    );
}

#[tokio::test]
async fn clean_environment() {
    // SAFETY: set once, read only by the child check; no other test reads it.
    unsafe { std::env::set_var("OCTOPUS_EXECUTOR_TEST_SERVER_SECRET", "api-key-xyz") };
    let d = Dirs::new();
    let (r, lines) = run(d.script(
        "Bash",
        "echo \"secret=[${OCTOPUS_EXECUTOR_TEST_SERVER_SECRET}]\"\necho \"home=$HOME\"\necho \"tmp=$TMPDIR\"\necho \"lang=$LANG\"\nread x && echo \"stdin had $x\" || echo stdin-empty\necho \"count=$(env | grep -v '^_=' | grep -v '^PWD=' | grep -v '^SHLVL=' | grep -v '^OLDPWD=' | wc -l)\"",
    ))
    .await;
    assert_ok(&r, &lines);
    assert!(lines.has("secret=[]"), "{}", lines.dump());
    assert!(lines.has(&format!("home={}", d.work.display())));
    assert!(lines.has(&format!("tmp={}", d.work.join("tmp").display())));
    assert!(d.work.join("tmp").is_dir());
    assert!(lines.has("lang=C.UTF-8"));
    assert!(lines.has("stdin-empty"));
    assert!(lines.has("count=4"), "{}", lines.dump());
}

#[tokio::test]
async fn large_output_streams_quickly() {
    let d = Dirs::new();
    // 10 MB in 101,011 lines, plus one line without a newline at the end.
    let body = "head -c 10000000 /dev/zero | tr '\\0' 'a' | fold -w 99\necho\nprintf 'tail-line'";
    let t0 = Instant::now();
    let (r, lines) = run(d.script("Bash", body)).await;
    assert_ok(&r, &lines);
    let info = lines.of(Category::Info);
    assert_eq!(info.len(), 101_011 + 1, "lines");
    assert_eq!(info.last(), Some(&"tail-line"));
    eprintln!("10 MB streamed in {:?}", t0.elapsed());
}

#[tokio::test]
async fn run_as_drops_privileges() {
    if unsafe { libc_geteuid() } != 0 {
        eprintln!("NOTE: not root; run_as not tested");
        return;
    }
    let d = Dirs::new();
    // The work dir's ancestors must be traversable by the step's user.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let private = d.path("root-only.txt");
    std::fs::write(&private, "top secret").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut run_ = d.script(
        "Bash",
        &format!(
            "echo \"uid=$(id -u) gid=$(id -g)\"\necho hi > mine.txt && echo wrote\necho \"var=$(get_octopusvariable X)\"\ncat '{}'",
            private.display()
        ),
    );
    run_.variables = vars(&[("X", "readable")]);
    run_.run_as = Some((65534, 65534));
    let (r, lines) = run(run_).await;
    assert!(lines.has("uid=65534 gid=65534"), "{}", lines.dump());
    assert!(lines.has("wrote"), "{}", lines.dump());
    assert!(lines.has("var=readable"), "{}", lines.dump());
    assert!(lines.has("Permission denied"), "{}", lines.dump());
    assert!(!lines.has("top secret"));
    assert!(matches!(r.outcome, Outcome::Failed(_)));
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[tokio::test]
async fn on_spawn_is_told_each_process_group_leader() {
    let d = Dirs::new();
    let pidfile = d.path("self");
    let mut run_ = d.script("Bash", &format!("echo $$ > '{}'\n", pidfile.display()));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    run_.on_spawn = Some(octopus_executor::SpawnHook::new(move |pid| {
        // The hook runs while the process lives: its group is its own.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2).map(str::to_owned));
        s.lock().unwrap().push((pid, pgrp));
    }));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut lines = Lines::default();
    let r = run_action(run_, &mut lines, rx).await;
    assert_eq!(r.outcome, Outcome::Success, "{}", lines.dump());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (pid, pgrp) = &seen[0];
    assert_eq!(pgrp.as_deref(), Some(pid.to_string().as_str()));
    let script_pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(script_pid, *pid);
}
