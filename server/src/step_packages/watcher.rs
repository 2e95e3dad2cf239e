//! The feed-directory watcher: polls a directory and installs new step-package archives.
//!
//! Every [`POLL_INTERVAL`] the directory is listed (names, sizes, modification times). A
//! file is installed once it is complete: its size and modification time did not change
//! between two polls, or it was last modified more than [`SETTLED_AFTER`] ago (files present
//! at start-up, or moved in with an old time). Names starting with `.` or ending in `.tmp`,
//! `.part` or `.partial` are ignored, so writers can also write under such a name and rename
//! the file into place. A file is tried once per (size, modification time); failures are
//! logged and skipped, never fatal. Removing a file from the directory does not uninstall it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::installer::{self, Outcome, Source};
use crate::api::AppState;

/// How often the directory is listed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// A file unchanged for this long is complete even if seen only once.
pub const SETTLED_AFTER: Duration = Duration::from_secs(2);

type Signature = (u64, SystemTime);

fn ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || lower.ends_with(".tmp")
        || lower.ends_with(".part")
        || lower.ends_with(".partial")
        || !(lower.ends_with(".zip") || lower.ends_with(".tar.gz") || lower.ends_with(".tgz"))
}

fn scan(dir: &Path) -> std::io::Result<Vec<(String, Signature)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if ignored(&name) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        out.push((name, (meta.len(), mtime)));
    }
    Ok(out)
}

/// Starts the watcher on `dir`; it stops when `stop` fires.
pub fn spawn(state: AppState, dir: PathBuf, mut stop: oneshot::Receiver<()>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut previous: HashMap<String, Signature> = HashMap::new();
        let mut done: HashMap<String, Signature> = HashMap::new();
        let mut scan_failed = false;
        let mut stop_open = true;
        loop {
            let d = dir.clone();
            let listing = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&d)?;
                scan(&d)
            })
            .await;
            match listing {
                Ok(Ok(files)) => {
                    scan_failed = false;
                    let now = SystemTime::now();
                    let mut current = HashMap::new();
                    for (name, sig) in files {
                        let stable = previous.get(&name) == Some(&sig)
                            || now
                                .duration_since(sig.1)
                                .is_ok_and(|age| age >= SETTLED_AFTER);
                        if stable && done.get(&name) != Some(&sig) {
                            install_one(&state, &dir, &name).await;
                            done.insert(name.clone(), sig);
                        }
                        current.insert(name, sig);
                    }
                    done.retain(|n, _| current.contains_key(n));
                    previous = current;
                }
                Ok(Err(e)) => {
                    if !scan_failed {
                        eprintln!(
                            "octopus-lite: step feed: cannot read {}: {e}",
                            dir.display()
                        );
                    }
                    scan_failed = true;
                }
                Err(e) => eprintln!("octopus-lite: step feed: scan task failed: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                r = &mut stop, if stop_open => {
                    // A dropped sender (the server handle was dropped) keeps the watcher
                    // running, like the server itself.
                    if r.is_ok() {
                        break;
                    }
                    stop_open = false;
                }
            }
        }
    })
}

async fn install_one(state: &AppState, dir: &Path, name: &str) {
    let st = Arc::clone(state);
    let path = dir.join(name);
    let file_name = name.to_owned();
    let result = tokio::task::spawn_blocking(move || {
        installer::install(
            &st.step_packages,
            &st.store,
            &path,
            &file_name,
            Source::Feed,
        )
    })
    .await;
    match result {
        Ok(Ok(Outcome::Installed(v))) => {
            eprintln!(
                "octopus-lite: step feed: installed {} {} from {name} ({} usage(s) upgraded, {} left on their version)",
                v.package_id,
                v.version,
                v.upgraded_usages.len(),
                v.skipped_usages.len()
            );
        }
        Ok(Ok(Outcome::AlreadyInstalled(_))) => {}
        Ok(Err(e)) => {
            eprintln!(
                "octopus-lite: step feed: skipping {name}: {} {}",
                e.message,
                e.errors.join("; ")
            );
        }
        Err(e) => eprintln!("octopus-lite: step feed: install of {name} failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::ignored;

    #[test]
    fn partial_and_foreign_files_are_ignored() {
        for name in ["a.1.0.0.zip", "a.1.0.0.tar.gz", "a.1.0.0.TGZ"] {
            assert!(!ignored(name), "{name}");
        }
        for name in [
            ".a.1.0.0.zip",
            "a.1.0.0.zip.tmp",
            "a.1.0.0.zip.part",
            "a.1.0.0.zip.partial",
            "a.1.0.0.tar",
            "readme.txt",
        ] {
            assert!(ignored(name), "{name}");
        }
    }
}
