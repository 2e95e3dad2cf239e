//! Step-package steps: invocation file, launchers, package references, output channel.

use octopus_executor::{ActionKind, ActionRun, Category, StepPackageLaunch};
use serde_json::json;

use crate::common::*;

fn step(d: &Dirs, launcher: &str, entrypoint: &str, files: &[(&str, &str)]) -> ActionRun {
    let step_dir = d.path("steps/db-migrate");
    for (name, body) in files {
        let p = step_dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
    }
    let mut run_ = d.action(ActionKind::StepPackage(StepPackageLaunch {
        contract: Default::default(),
        step_dir,
        launcher: launcher.into(),
        entrypoint: entrypoint.into(),
        inputs: json!({
            "database": {"host": "db.#{Env}.local", "port": 5432},
            "password": "pw-secret-77",
            "tags": ["a", "#{Env}"],
            "migrations": {"referenceId": "pkg-ref-1"},
        }),
    }));
    run_.action_type = "db-migrate".into();
    run_.variables = vars(&[
        ("Env", "prod"),
        ("Octopus.Action.Name", "Migrate"),
        ("Octopus.Step.Name", "Migrate step"),
        ("Db.Password", "pw-secret-77"),
    ]);
    run_.sensitive_values = vec!["pw-secret-77".into()];
    run_
}

const SHELL_STEP: &str = r###"
inv="$1"
echo "invocation at $inv"
cat "$inv" > "$HOME/seen.json"
n=$(printf '%s' "migrated" | base64 -w0)
v=$(printf '%s' "12" | base64 -w0)
echo "##octopus[setVariable name='$n' value='$v']"
echo "using pw-secret-77"
"###;

#[tokio::test]
async fn shell_launcher_gets_the_invocation_and_sets_outputs() {
    let d = Dirs::new();
    let pkg = zip_file(
        &d.path("migrations.1.4.0.zip"),
        &[("001.sql", "create table x;", 0o644)],
    );
    let mut run_ = step(&d, "shell", "run.sh", &[("run.sh", SHELL_STEP)]);
    let mut staged_pkg = staged("migrations", "migrations", "1.4.0", pkg, true);
    staged_pkg.step_package_reference_id = Some("pkg-ref-1".into());
    run_.packages = vec![staged_pkg];
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    assert!(lines.has(&format!(
        "invocation at {}",
        d.work.join("invocation.json").display()
    )));
    assert!(lines.has("using ********"), "{}", lines.dump());
    assert!(!lines.has("pw-secret-77"), "{}", lines.dump());
    assert_eq!(output(&r, "migrated"), Some("12"));
    assert!(
        !d.work.join("invocation.json").exists(),
        "removed after the run"
    );
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.work.join("seen.json")).unwrap()).unwrap();
    assert_eq!(seen["formatVersion"], 1);
    assert_eq!(seen["stepId"], "db-migrate");
    assert_eq!(seen["inputs"]["database"]["port"], 5432);
    assert_eq!(seen["inputs"]["password"], "pw-secret-77");
    let extracted = d.work.join("migrations");
    assert_eq!(
        seen["inputs"]["migrations"]["extractedToPath"],
        extracted.to_string_lossy().as_ref()
    );
    assert!(extracted.join("001.sql").is_file());
    assert_eq!(seen["context"]["actionName"], "Migrate");
    assert_eq!(seen["context"]["stepName"], "Migrate step");
    assert_eq!(seen["context"]["environmentName"], "Production");
    assert_eq!(
        seen["context"]["workDirectory"],
        d.work.to_string_lossy().as_ref()
    );
    assert_eq!(seen["context"]["variables"]["Env"], "prod");
    assert!(
        seen["context"]["variables"].get("Db.Password").is_none(),
        "secrets stay out of the context"
    );
    assert_eq!(seen["inputs"]["database"]["host"], "db.prod.local");
    assert_eq!(seen["inputs"]["tags"][1], "prod");
}

#[tokio::test]
async fn node_launcher() {
    let d = Dirs::new();
    if which("node").is_none() {
        eprintln!("NOTE: node not installed; node launcher not tested");
        return;
    }
    let js = r#"
const fs = require('fs');
const inv = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const b64 = s => Buffer.from(s, 'utf8').toString('base64');
console.log('node got port ' + inv.inputs.database.port);
console.log(`##octopus[setVariable name='${b64('fromNode')}' value='${b64(inv.context.actionName)}']`);
console.error('node warning text');
"#;
    let run_ = step(&d, "node", "dist/index.js", &[("dist/index.js", js)]);
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    assert!(lines.has("node got port 5432"), "{}", lines.dump());
    assert!(lines.of(Category::Error).contains(&"node warning text"));
    assert_eq!(output(&r, "fromNode"), Some("Migrate"));
}

#[tokio::test]
async fn python_and_executable_launchers_and_failures() {
    let d = Dirs::new();
    let py = "import json, sys\ninv = json.load(open(sys.argv[1]))\nprint('py', inv['stepId'])\nsys.exit(2)\n";
    let (r, lines) = run(step(&d, "python", "main.py", &[("main.py", py)])).await;
    assert_eq!(
        failure(&r, &lines),
        "The step `db-migrate` failed with exit code 2"
    );
    assert!(lines.has("py db-migrate"));

    let d = Dirs::new();
    let mut run_ = step(
        &d,
        "executable",
        "bin/tool",
        &[("bin/tool", "#!/bin/sh\necho \"exe got $#\"\n")],
    );
    let tool = d.path("steps/db-migrate/bin/tool");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    run_.sensitive_values.clear();
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    assert!(lines.has("exe got 1"));
}

#[tokio::test]
async fn missing_interpreter_and_escaping_entrypoint() {
    let d = Dirs::new();
    let mut run_ = step(&d, "node", "index.js", &[("index.js", "")]);
    run_.env = vec![("PATH".into(), "/nonexistent".into())];
    let (r, lines) = run(run_).await;
    let msg = failure(&r, &lines);
    assert!(msg.contains("install `node`"), "{msg}");

    let d = Dirs::new();
    std::fs::write(d.path("evil.sh"), "echo evil").unwrap();
    let run_ = step(&d, "shell", "../../evil.sh", &[("run.sh", "")]);
    let (r, lines) = run(run_).await;
    assert!(failure(&r, &lines).contains("relative path inside the step directory"));
    assert!(!lines.of(Category::Info).contains(&"evil"));
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var("PATH").ok()?.split(':').find_map(|d| {
        let p = std::path::Path::new(d).join(program);
        p.is_file().then_some(p)
    })
}
