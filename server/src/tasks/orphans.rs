//! Processes a crash leaves behind. A deployment's scripts run in their own
//! process groups; when the server dies (SIGKILL, power loss of the service
//! only), nobody kills them. So every action's process group ID is appended to
//! `<data_dir>/work/<TaskId>/pgids` as it starts, and [`kill_left`] (run by
//! [`super::recover`]) kills those groups before the task is failed.
//!
//! A recorded ID may have been reused by an unrelated process since, so a group
//! is killed only when one of its live members still works in the task's work
//! directory (its cwd, or its `HOME`, which the executor sets to the action's
//! work dir, lies under it).

use std::path::Path;

use octopus_executor::SpawnHook;

/// The file of recorded process group IDs, in a task's work directory.
pub const FILE: &str = "pgids";

/// A hook appending each started process's group ID to `work_root/pgids`.
pub fn hook(work_root: &Path) -> SpawnHook {
    let file = work_root.join(FILE);
    SpawnHook::new(move |pid| {
        use std::io::Write as _;
        // One short append per process: lines of parallel steps stay whole.
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .and_then(|mut f| f.write_all(format!("{pid}\n").as_bytes()));
    })
}

/// Kills (SIGKILL) the recorded process groups of a task that still run in its
/// work directory; returns how many groups were killed.
#[cfg(target_os = "linux")]
pub fn kill_left(work_root: &Path) -> usize {
    use std::collections::HashSet;
    let Ok(text) = std::fs::read_to_string(work_root.join(FILE)) else {
        return 0;
    };
    let groups: HashSet<i32> = text
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|&g| g > 1)
        .collect();
    if groups.is_empty() {
        return 0;
    }
    let root = work_root
        .canonicalize()
        .unwrap_or_else(|_| work_root.to_path_buf());
    let mut killed = HashSet::new();
    // A second pass signals the groups again: a member forked while the first pass
    // ran is caught by it.
    for _ in 0..2 {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            break;
        };
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Some(pgrp) = process_group(pid) else {
                continue;
            };
            if groups.contains(&pgrp) && works_under(pid, &root) {
                // SAFETY: kill(2) with a negative pid signals that process group; no memory is shared.
                if unsafe { libc::kill(-pgrp, libc::SIGKILL) } == 0 {
                    killed.insert(pgrp);
                }
            }
        }
    }
    killed.len()
}

/// Without `/proc` there is nothing to check a recorded ID against: nothing is killed.
#[cfg(not(target_os = "linux"))]
pub fn kill_left(_work_root: &Path) -> usize {
    0
}

/// The process group of a live (not zombie) process, from `/proc/<pid>/stat`.
#[cfg(target_os = "linux")]
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(1)?.parse().ok()
}

/// Whether a process's cwd or `HOME` lies under `root`.
#[cfg(target_os = "linux")]
fn works_under(pid: i32, root: &Path) -> bool {
    if std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(root)) {
        return true;
    }
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    environ.split(|&b| b == 0).any(|var| {
        var.strip_prefix(b"HOME=")
            .is_some_and(|home| Path::new(&*String::from_utf8_lossy(home)).starts_with(root))
    })
}
