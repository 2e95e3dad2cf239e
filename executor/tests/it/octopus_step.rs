//! Octopus-format step packages (built by Octopus's step-package CLI): the node bootstrapper
//! and `migration.js`, with the demo-echo archives in acceptance-tests/fixtures/step-packages.

use std::path::{Path, PathBuf};
use std::time::Duration;

use octopus_executor::migrate::{run_migration, run_migration_source, run_migrations};
use octopus_executor::{ActionKind, ActionRun, Category, Outcome, StepContract, StepPackageLaunch};
use serde_json::{Value, json};

use crate::common::*;

/// The in-repo copy of a demo-echo archive.
fn fixture(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../acceptance-tests/fixtures/step-packages")
        .join(format!("demo-echo.{version}.zip"))
}

/// Extracts a zip into `dest`.
fn unzip(archive: &Path, dest: &Path) {
    let file = std::fs::File::open(archive).unwrap();
    zip::ZipArchive::new(file).unwrap().extract(dest).unwrap();
}

fn node_installed() -> bool {
    let found = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join("node").is_file());
    if !found {
        eprintln!("NOTE: node not installed; Octopus-format steps not tested");
    }
    found
}

/// An Octopus-format action for the step in `step_dir`.
fn octopus_action(d: &Dirs, step_dir: PathBuf, inputs: Value) -> ActionRun {
    let mut run_ = d.action(ActionKind::StepPackage(StepPackageLaunch {
        contract: StepContract::Octopus,
        step_dir,
        launcher: "node".into(),
        entrypoint: "executor.js".into(),
        inputs,
    }));
    run_.action_type = "demo-echo".into();
    run_.variables = vars(&[("Octopus.Action.Name", "Echo"), ("Greeting", "hi there")]);
    run_.sensitive_values = vec!["abcd".into()];
    run_
}

/// demo-echo at `version`, extracted into the test's directory.
fn demo_echo(d: &Dirs, version: &str, inputs: Value) -> ActionRun {
    let dir = d.path(&format!("steps/demo-echo-{version}"));
    unzip(&fixture(version), &dir);
    octopus_action(d, dir, inputs)
}

fn v1_inputs(repeat: i64) -> Value {
    json!({"message": "hello", "repeat": repeat, "uppercase": true, "token": "abcd"})
}

#[tokio::test]
async fn demo_echo_1_prints_sets_outputs_and_hides_the_token() {
    if !node_installed() {
        return;
    }
    let d = Dirs::new();
    let (r, lines) = run(demo_echo(&d, "1.0.0", v1_inputs(2))).await;
    assert_ok(&r, &lines);
    assert_eq!(
        lines.of(Category::Info),
        ["HELLO", "HELLO", "A token was given"],
        "{}",
        lines.dump()
    );
    assert_eq!(output(&r, "Echoed"), Some("HELLO"));
    let len = r
        .output_variables
        .iter()
        .find(|v| v.name == "TokenLength")
        .expect("TokenLength set");
    assert_eq!((len.value.as_str(), len.sensitive), ("4", true));
    assert!(
        !r.output_variables
            .iter()
            .find(|v| v.name == "Echoed")
            .unwrap()
            .sensitive
    );
    assert!(!lines.has("abcd"), "{}", lines.dump());
    assert!(!d.work.join(".octopus-node-bootstrap.js").exists());
    assert!(!d.work.join("invocation.json").exists());
}

#[tokio::test]
async fn demo_echo_negative_repeat_fails_with_the_executors_message() {
    if !node_installed() {
        return;
    }
    let d = Dirs::new();
    let (r, lines) = run(demo_echo(&d, "1.0.0", v1_inputs(-1))).await;
    assert_eq!(failure(&r, &lines), "repeat must not be negative");
    assert_ne!(r.exit_code, Some(0));
    assert!(lines.of(Category::Info).is_empty(), "{}", lines.dump());
    assert!(
        lines
            .of(Category::Error)
            .contains(&"repeat must not be negative")
    );
    // The stack trace is verbose detail.
    assert!(
        lines
            .of(Category::Verbose)
            .iter()
            .any(|l| l.contains("executor.js"))
    );
}

#[tokio::test]
async fn demo_echo_2_gets_its_bundle_extracted() {
    if !node_installed() {
        return;
    }
    let d = Dirs::new();
    let pkg = zip_file(
        &d.path("bundle.3.1.0.zip"),
        &[("readme.txt", "bundled", 0o644)],
    );
    let mut run_ = demo_echo(
        &d,
        "2.0.0",
        json!({
            "text": "hi", "repeat": 1, "uppercase": false, "token": "abcd",
            "bundle": {"referenceId": "bundle-ref", "feedId": "feeds-builtin", "packageId": "bundle"},
        }),
    );
    let mut staged_pkg = staged("bundle", "bundle", "3.1.0", pkg, true);
    staged_pkg.step_package_reference_id = Some("bundle-ref".into());
    run_.packages = vec![staged_pkg];
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    let extracted = d.work.join("bundle");
    assert!(
        lines.has(&format!("Bundle extracted to {}", extracted.display())),
        "{}",
        lines.dump()
    );
    assert!(extracted.join("readme.txt").is_file());
    assert_eq!(output(&r, "Echoed"), Some("hi"));
}

#[tokio::test]
async fn missing_node_names_what_to_install() {
    let d = Dirs::new();
    let mut run_ = demo_echo(&d, "1.0.0", v1_inputs(1));
    run_.env = vec![("PATH".into(), "/nonexistent".into())];
    let (r, lines) = run(run_).await;
    let msg = failure(&r, &lines);
    assert!(
        msg.starts_with("node (Node.js 18 or later) is not on PATH; install it"),
        "{msg}"
    );
}

/// A hand-written executor using the rest of the context API.
const CONTEXT_EXECUTOR: &str = r#"
exports.default = async function ({ inputs, target, context }) {
  context.printVerbose("verbose " + typeof target);
  context.printHighlight("highlight");
  context.printWait("waiting");
  context.printWarning("careful\nsecond line");
  context.print("greeting=" + context.getOctopusVariable("Greeting"));
  context.print("secret var=" + context.getOctopusVariable("Api.Key"));
  context.print("missing=" + context.getOctopusVariable("Nope"));
  require("fs").writeFileSync("report.txt", "report body");
  context.createArtifact("report.txt", "Report");
  context.updateProgress(50, "half way");
  await new Promise((r) => setTimeout(r, 10));
  context.setOctopusVariable("Plain", inputs.n * 2);
  if (inputs.fail) {
    try { context.failStep("stopped: " + inputs.fail); } catch (e) { /* swallowed by the step */ }
    context.print("after failStep");
  }
};
"#;

fn context_action(d: &Dirs, inputs: Value) -> ActionRun {
    let dir = d.path("steps/ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("executor.js"), CONTEXT_EXECUTOR).unwrap();
    let mut run_ = octopus_action(d, dir, inputs);
    run_.variables.set("Api.Key", "abcd");
    run_
}

#[tokio::test]
async fn context_api_categories_variables_artifacts_progress() {
    if !node_installed() {
        return;
    }
    let d = Dirs::new();
    let (r, lines) = run(context_action(&d, json!({"n": 21}))).await;
    assert_ok(&r, &lines);
    assert!(lines.of(Category::Verbose).contains(&"verbose undefined"));
    assert_eq!(lines.of(Category::Highlight), ["highlight"]);
    assert_eq!(lines.of(Category::Wait), ["waiting"]);
    assert_eq!(lines.of(Category::Warning), ["careful", "second line"]);
    let info = lines.of(Category::Info);
    assert!(info.contains(&"greeting=hi there"), "{}", lines.dump());
    assert!(
        info.contains(&"secret var=undefined"),
        "sensitive variables stay out: {}",
        lines.dump()
    );
    assert!(info.contains(&"missing=undefined"));
    assert!(lines.of(Category::Verbose).contains(&"50% half way"));
    assert_eq!(output(&r, "Plain"), Some("42"));
    assert_eq!(r.artifacts.len(), 1, "{}", lines.dump());
    assert_eq!(r.artifacts[0].name, "Report");
    assert_eq!(r.artifacts[0].length, 11);
}

#[tokio::test]
async fn fail_step_fails_even_when_the_step_catches_it() {
    if !node_installed() {
        return;
    }
    let d = Dirs::new();
    let (r, lines) = run(context_action(&d, json!({"n": 1, "fail": "no"}))).await;
    assert_eq!(failure(&r, &lines), "stopped: no");
    assert!(lines.has("after failStep"));
}

#[tokio::test]
async fn bad_exports_errors_and_time_limit() {
    if !node_installed() {
        return;
    }
    for (source, expected) in [
        (
            "module.exports = { notAFunction: 1 };",
            "executor.js does not export a function",
        ),
        (
            "module.exports = () => { null.x; };",
            "Cannot read properties of null",
        ),
        (
            "module.exports = () => Promise.reject('plain rejection');",
            "plain rejection",
        ),
        ("module.exports = (", "Unexpected end of input"),
    ] {
        let d = Dirs::new();
        let dir = d.path("steps/bad");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("executor.js"), source).unwrap();
        let (r, lines) = run(octopus_action(&d, dir, json!({}))).await;
        let msg = failure(&r, &lines);
        assert!(msg.contains(expected), "{source}: {msg}");
    }

    let d = Dirs::new();
    let dir = d.path("steps/slow");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("executor.js"),
        "module.exports = () => new Promise(() => setInterval(() => {}, 1000));",
    )
    .unwrap();
    let mut run_ = octopus_action(&d, dir, json!({}));
    run_.timeout = Duration::from_secs(2);
    let (r, lines) = run(run_).await;
    assert_eq!(r.outcome, Outcome::TimedOut, "{}", lines.dump());
}

/// demo-echo 2.0.0's migration.js, extracted from the archive.
fn demo_echo_migration(d: &Dirs) -> PathBuf {
    let dir = d.path("steps/demo-echo-2.0.0");
    unzip(&fixture("2.0.0"), &dir);
    dir.join("migration.js")
}

const LIMIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn demo_echo_migration_renames_message_to_text() {
    if !node_installed() {
        return;
    }
    let d = Dirs::new();
    let migrated = run_migration(&demo_echo_migration(&d), &v1_inputs(3), LIMIT)
        .await
        .unwrap();
    assert_eq!(
        migrated,
        json!({"text": "hello", "repeat": 3, "uppercase": true, "token": "abcd"})
    );

    // A chain: 1 → 2 with demo-echo's, then a made-up 2 → 3.
    let next = d.path("migration-v3.js");
    std::fs::write(
        &next,
        "exports.default = async (i) => ({ ...i, text: i.text + '!', bundle: null });",
    )
    .unwrap();
    let chained = run_migrations(&[demo_echo_migration(&d), next], &v1_inputs(1), LIMIT)
        .await
        .unwrap();
    assert_eq!(chained["text"], "hello!");
    assert_eq!(chained["bundle"], Value::Null);
    assert!(chained.get("message").is_none());
}

#[tokio::test]
async fn migrations_cannot_reach_node_and_are_bounded() {
    if !node_installed() {
        return;
    }
    let inputs = json!({"a": 1});
    for (source, expected) in [
        (
            "const fs = require('fs'); module.exports = (i) => i;",
            "require is not defined",
        ),
        (
            "module.exports = () => { process.exit(0); };",
            "process is not defined",
        ),
        (
            "module.exports = () => module.constructor.constructor('return process')();",
            "Code generation from strings disallowed",
        ),
        (
            "module.exports = () => fetch('http://127.0.0.1/');",
            "fetch is not defined",
        ),
        (
            "module.exports = () => { while (true) {} };",
            "ran longer than",
        ),
        (
            "module.exports = async () => { for (;;) await null; };",
            "ran longer than",
        ),
        ("module.exports = (", "has a syntax error"),
        (
            "module.exports = () => { throw new Error('bad input'); };",
            "migration.js failed: bad input",
        ),
        ("module.exports = () => undefined;", "returned undefined"),
        ("module.exports = () => [1];", "must return an object"),
        (
            "module.exports = () => new Promise(() => {});",
            "never settled",
        ),
        ("module.exports = 42;", "does not export a function"),
    ] {
        let e = run_migration_source(source, &inputs, Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(e.contains(expected), "{source}: {e}");
    }
}

#[tokio::test]
async fn migration_memory_is_capped() {
    if !node_installed() {
        return;
    }
    let source =
        "module.exports = () => { const a = []; for (;;) a.push(new Array(1e6).fill(1)); };";
    let e = run_migration_source(source, &json!({}), Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(e.contains("ran out of memory"), "{e}");
}
