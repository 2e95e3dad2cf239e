//! Runs an Octopus step package's `migration.js` (the default export maps the previous
//! major's inputs to this major's) with node, as the server does on an explicit major
//! upgrade and for the provider's plan-time suggestion.
//!
//! The migration is evaluated by a small embedded runner (`migrate_runner.js`) in a fresh
//! `vm` context holding only `module` and `exports`: no `require`, no `process`, no timers,
//! fs or network. The node process itself gets an empty environment, `/` as its working
//! directory, a heap cap of [`MEMORY_LIMIT_MB`], stdin/stdout JSON only and a time limit
//! (the vm's timeout inside, killing the process outside).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::process::find_in_path;
use crate::step_package::NODE_MISSING;

/// The runner, passed to `node -e`.
const RUNNER: &str = include_str!("migrate_runner.js");
/// Heap limit of the node process (`--max-old-space-size`), in MB.
pub const MEMORY_LIMIT_MB: u32 = 64;
/// Largest `migration.js` accepted.
pub const MAX_SOURCE_BYTES: u64 = 4 << 20;
/// Largest reply (the migrated inputs as JSON) accepted.
pub const MAX_OUTPUT_BYTES: u64 = 4 << 20;
/// How long the process may outlive the vm's timeout (node start and exit) before it is killed.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How much of stderr is kept for error messages.
const MAX_STDERR_BYTES: u64 = 64 * 1024;

/// Runs the `migration.js` file on `inputs`; the result is the migrated inputs (a JSON
/// object). `timeout` bounds the migration's own run time.
pub async fn run_migration(
    migration_js: &Path,
    inputs: &Value,
    timeout: Duration,
) -> Result<Value, String> {
    let source = read_source(migration_js)?;
    run_migration_source(&source, inputs, timeout).await
}

/// Runs the migrations of each major in order (`chain[0]` migrates from the oldest major),
/// each on the previous one's result; `timeout` applies to each.
pub async fn run_migrations(
    chain: &[PathBuf],
    inputs: &Value,
    timeout: Duration,
) -> Result<Value, String> {
    let mut current = inputs.clone();
    for (i, file) in chain.iter().enumerate() {
        current = run_migration(file, &current, timeout).await.map_err(|e| {
            format!(
                "migration {} of {} (`{}`): {e}",
                i + 1,
                chain.len(),
                file.display()
            )
        })?;
    }
    Ok(current)
}

/// Runs a migration given as source text (for example read from an archive).
pub async fn run_migration_source(
    source: &str,
    inputs: &Value,
    timeout: Duration,
) -> Result<Value, String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let node = find_in_path("node", &path).ok_or_else(|| NODE_MISSING.to_string())?;
    run_with_node(&node, source, inputs, timeout).await
}

fn read_source(file: &Path) -> Result<String, String> {
    let meta =
        std::fs::metadata(file).map_err(|e| format!("Could not read `{}`: {e}", file.display()))?;
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(format!(
            "`{}` is larger than {MAX_SOURCE_BYTES} bytes",
            file.display()
        ));
    }
    std::fs::read_to_string(file).map_err(|e| format!("Could not read `{}`: {e}", file.display()))
}

/// Runs the runner with `node`, feeding the request on stdin.
async fn run_with_node(
    node: &Path,
    source: &str,
    inputs: &Value,
    timeout: Duration,
) -> Result<Value, String> {
    if source.len() as u64 > MAX_SOURCE_BYTES {
        return Err(format!(
            "migration.js is larger than {MAX_SOURCE_BYTES} bytes"
        ));
    }
    let timeout_ms = u64::try_from(timeout.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let request = json!({"source": source, "inputs": inputs, "timeoutMs": timeout_ms});
    let request = serde_json::to_vec(&request).expect("JSON values serialize");

    let mut cmd = tokio::process::Command::new(node);
    cmd.arg(format!("--max-old-space-size={MEMORY_LIMIT_MB}"))
        .arg("--disallow-code-generation-from-strings")
        .arg("-e")
        .arg(RUNNER)
        .env_clear()
        .env("LANG", "C.UTF-8")
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("Could not start `{}`: {e}", node.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");

    let work = async {
        let write = async {
            // A runner that died early stops reading; its exit tells why.
            let _ = stdin.write_all(&request).await;
            drop(stdin);
        };
        let read_out = async {
            let mut out = Vec::new();
            let _ = stdout
                .take(MAX_OUTPUT_BYTES + 1)
                .read_to_end(&mut out)
                .await;
            out
        };
        let read_err = async {
            let mut err = Vec::new();
            let _ = stderr.take(MAX_STDERR_BYTES).read_to_end(&mut err).await;
            err
        };
        let ((), out, err, status) = tokio::join!(write, read_out, read_err, child.wait());
        (status, out, err)
    };
    let (status, out, err) = match tokio::time::timeout(timeout + KILL_GRACE, work).await {
        Ok(done) => done,
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(format!(
                "migration.js ran longer than {} ms and was killed",
                timeout.as_millis()
            ));
        }
    };
    let status = status.map_err(|e| format!("Could not wait for node: {e}"))?;
    if out.len() as u64 > MAX_OUTPUT_BYTES {
        return Err(format!(
            "migration.js produced more than {MAX_OUTPUT_BYTES} bytes of output"
        ));
    }
    let err_text = String::from_utf8_lossy(&err);
    if !status.success() {
        if err_text.contains("heap out of memory") || err_text.contains("Reached heap limit") {
            return Err(format!(
                "migration.js ran out of memory (limit {MEMORY_LIMIT_MB} MB)"
            ));
        }
        let tail: String = err_text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(5)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(format!(
            "node failed running migration.js ({status}): {tail}"
        ));
    }
    let reply: Value = serde_json::from_slice(&out)
        .map_err(|e| format!("the migration runner's reply is not JSON ({e}): {err_text}"))?;
    if let Some(result) = reply.get("result") {
        return Ok(result.clone());
    }
    Err(reply
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("the migration runner gave no result")
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_node_is_a_clear_error() {
        let e = run_with_node(
            Path::new("/nonexistent/node"),
            "module.exports = x => x",
            &json!({}),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(e.contains("Could not start"), "{e}");
        assert!(NODE_MISSING.contains("Node.js 18 or later"));
    }
}
