//! The step-package feed through the client: hot-loading from the watched directory,
//! the allow-list, uploads, input validation with paths, automatic minor upgrades of
//! usages, majors left alone, and explicit upgrades running the migrations.

use std::path::Path;
use std::time::Duration;

use crate::common::step_archive::{StepDef, drop_into, zip};
use crate::common::{self, TestServer, start_with};
use octopus_client::Error;
use octopus_client::model::step_package::{StepPackageUpgrade, StepPackageUsage};
use octopus_client::model::{Action, DeploymentProcess, Project, Step};
use octopus_client::step_packages::UsageQuery;
use octopus_packaging::step_package::{TrustedAllowList, TrustedPackage};
use serde_json::{Value, json};

const SPACE: &str = "Spaces-1";

fn trust(ids: &[&str]) -> TrustedAllowList {
    TrustedAllowList {
        packages: ids
            .iter()
            .map(|id| TrustedPackage {
                id: (*id).into(),
                versions: None,
            })
            .collect(),
    }
}

/// `db-migrate` 1.0: flat host/port/verbose.
fn schema_v1_0() -> Value {
    json!({
        "type": "object",
        "required": ["host"],
        "additionalProperties": false,
        "properties": {
            "host": {"type": "string", "minLength": 1},
            "port": {"type": "integer"},
            "verbose": {"type": "boolean"}
        }
    })
}

/// 1.1 adds an optional `timeout` and (carelessly) caps the port.
fn schema_v1_1() -> Value {
    let mut s = schema_v1_0();
    s["properties"]["timeout"] = json!({"type": "integer"});
    s["properties"]["port"] = json!({"type": "integer", "maximum": 65535});
    s
}

/// 2.0 nests the connection under `database` and drops `verbose`.
fn schema_v2() -> Value {
    json!({
        "type": "object",
        "required": ["database"],
        "additionalProperties": false,
        "properties": {
            "database": {
                "type": "object",
                "required": ["host", "port"],
                "additionalProperties": false,
                "properties": {
                    "host": {"type": "string", "minLength": 1},
                    "port": {"type": "integer", "minimum": 1, "maximum": 65535}
                }
            },
            "timeout": {"type": "integer"}
        }
    })
}

fn migrations_v2() -> Value {
    json!({"migrations": [{"from": 1, "ops": [
        {"rename": {"from": "/host", "to": "/database/host"}},
        {"rename": {"from": "/port", "to": "/database/port"}},
        {"default": {"path": "/database/port", "value": 5432}},
        {"remove": {"path": "/verbose"}}
    ]}]})
}

fn notify(major: u64) -> StepDef {
    let s = StepDef::new(
        "acme-notify",
        json!({"type": "object", "properties": {"channel": {"type": "string"}}}),
    );
    if major >= 2 {
        s.with_migrations(json!({"migrations": [{"from": 1, "ops": []}]}))
    } else {
        s
    }
}

/// The acme-steps archive of `version` (schemas by version).
fn acme(version: &str) -> Vec<u8> {
    let db = match version {
        "1.0.0" => StepDef::new("db-migrate", schema_v1_0()),
        v if v.starts_with("1.") => StepDef::new("db-migrate", schema_v1_1()),
        _ => StepDef::new("db-migrate", schema_v2()).with_migrations(migrations_v2()),
    };
    let major: u64 = version.split('.').next().unwrap().parse().unwrap();
    zip("acme-steps", version, &[db, notify(major)])
}

fn acme_name(version: &str) -> String {
    format!("acme-steps.{version}.zip")
}

async fn start_feed(trusted: TrustedAllowList) -> (TestServer, std::path::PathBuf) {
    let feed = tempfile::tempdir().unwrap().keep();
    let f = feed.clone();
    let t = start_with(move |c| {
        c.step_feed_dir = Some(f);
        c.trusted_step_packages = trusted;
    })
    .await;
    (t, feed)
}

/// Polls `check` every 20 ms; panics after 15 s (a hang guard, not a speed assertion).
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_installed(t: &TestServer, id: &str, version: &str) {
    wait_for(&format!("{id} {version} to be installed"), || async {
        t.client.step_packages().version(id, version).await.is_ok()
    })
    .await;
}

fn api_errors(e: Error) -> (u16, String, Vec<String>) {
    match e {
        Error::Api {
            status,
            message,
            errors,
        } => (status, message, errors),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn step_action(step: &str, action_type: &str, version: Option<&str>, inputs: Value) -> Step {
    Step {
        name: step.into(),
        actions: vec![Action {
            name: format!("{step} action"),
            action_type: action_type.into(),
            step_package_version: version.map(str::to_owned),
            inputs: Some(inputs),
            ..Action::default()
        }],
        ..Step::default()
    }
}

async fn new_process(t: &TestServer, name: &str) -> DeploymentProcess {
    let p = t
        .client
        .projects(SPACE)
        .create(&Project::new(name))
        .await
        .unwrap();
    t.client
        .deployment_processes(SPACE)
        .get_for_project(p.id.as_deref().unwrap())
        .await
        .unwrap()
}

async fn process_with(t: &TestServer, name: &str, steps: Vec<Step>) -> DeploymentProcess {
    let mut p = new_process(t, name).await;
    p.steps = steps;
    t.client
        .deployment_processes(SPACE)
        .update(&p)
        .await
        .unwrap()
}

async fn usages_of(t: &TestServer, step_id: &str) -> Vec<StepPackageUsage> {
    t.client
        .step_packages()
        .usages(&UsageQuery {
            step_id: Some(step_id.into()),
            ..UsageQuery::default()
        })
        .await
        .unwrap()
}

fn usage_for<'a>(
    usages: &'a [StepPackageUsage],
    process: &DeploymentProcess,
) -> &'a StepPackageUsage {
    usages
        .iter()
        .find(|u| Some(u.deployment_process_id.as_str()) == process.id.as_deref())
        .unwrap_or_else(|| panic!("no usage for {:?} in {usages:?}", process.id))
}

#[tokio::test]
async fn feed_directory_is_hot_loaded() {
    // One archive is there before start-up, the rest arrive while the server runs.
    let feed = tempfile::tempdir().unwrap().keep();
    std::fs::write(feed.join(acme_name("1.0.0")), acme("1.0.0")).unwrap();
    let f = feed.clone();
    let t = start_with(move |c| {
        c.step_feed_dir = Some(f);
        c.trusted_step_packages = trust(&["acme-steps", "broken"]);
    })
    .await;
    let sp = t.client.step_packages();
    wait_installed(&t, "acme-steps", "1.0.0").await;

    // Partial files (still being written under a temporary name) are ignored, and a
    // broken archive is skipped without stopping the watcher.
    std::fs::write(feed.join("acme-steps.1.2.0.zip.tmp"), acme("1.2.0")).unwrap();
    std::fs::write(
        feed.join("broken.1.0.0.zip"),
        b"PK\x03\x04 not really a zip",
    )
    .unwrap();
    drop_into(&feed, &acme_name("1.1.0"), &acme("1.1.0"));
    wait_installed(&t, "acme-steps", "1.1.0").await;

    let list = sp.list().await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].id, "acme-steps");
    assert_eq!(list[0].latest_version, "1.1.0");
    assert_eq!(list[0].versions, ["1.0.0", "1.1.0"]);
    let ids: Vec<&str> = list[0].steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["db-migrate", "acme-notify"]);
    assert!(sp.get("broken").await.unwrap_err().is_not_found());
    assert!(
        sp.version("acme-steps", "1.2.0")
            .await
            .unwrap_err()
            .is_not_found()
    );

    let versions = sp.versions("acme-steps").await.unwrap();
    assert_eq!(versions.len(), 2);
    assert!(
        versions
            .iter()
            .all(|v| v.source == "Feed" && v.sha256.len() == 64)
    );

    let v = sp.version("acme-steps", "1.0.0").await.unwrap();
    assert_eq!(v.steps[0].id, "db-migrate");
    assert_eq!(v.steps[0].inputs_schema, schema_v1_0());
    assert_eq!(v.steps[0].launcher, "shell");
    assert_eq!(v.steps[0].entrypoint, "run.sh");
    // `1.1` is the same version as `1.1.0`.
    assert_eq!(
        sp.version("acme-steps", "1.1").await.unwrap().version,
        "1.1.0"
    );

    // The installed archive is kept in the data directory: removing it from the feed
    // does not uninstall it.
    std::fs::remove_file(feed.join(acme_name("1.0.0"))).unwrap();
    assert!(
        t.dir
            .path()
            .join("step-packages/acme-steps.1.0.0.zip")
            .is_file()
    );

    // The watcher is still alive after the broken file.
    drop_into(&feed, &acme_name("2.0.0"), &acme("2.0.0"));
    wait_installed(&t, "acme-steps", "2.0.0").await;
    t.server.shutdown().await;
    std::fs::remove_dir_all(&feed).unwrap();
}

#[tokio::test]
async fn a_file_still_being_written_is_installed_once_complete() {
    let (t, feed) = start_feed(trust(&["acme-steps"])).await;
    let bytes = acme("1.0.0");
    let path = feed.join(acme_name("1.0.0"));
    // Half the archive under its final name, then a pause long enough for the watcher to
    // see it unchanged twice: it tries, fails (truncated zip) and does not install it.
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let sp = t.client.step_packages();
    assert!(sp.get("acme-steps").await.unwrap_err().is_not_found());
    // The rest arrives: the changed file is tried again and installed.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&bytes[bytes.len() / 2..]).unwrap();
    }
    wait_installed(&t, "acme-steps", "1.0.0").await;
    assert_eq!(
        sp.version("acme-steps", "1.0.0").await.unwrap().size,
        bytes.len() as u64
    );
    t.server.shutdown().await;
    std::fs::remove_dir_all(&feed).unwrap();
}

#[tokio::test]
async fn untrusted_packages_are_refused() {
    let mut trusted = trust(&["acme-steps"]);
    trusted.packages.push(TrustedPackage {
        id: "ranged".into(),
        versions: Some("^1.0".parse().unwrap()),
    });
    let (t, feed) = start_feed(trusted).await;
    let sp = t.client.step_packages();

    // Upload: 403 naming the allow-list, whatever the contents.
    let evil = zip(
        "evil-steps",
        "1.0.0",
        &[StepDef::new("evil", json!({"type": "object"}))],
    );
    let (status, message, errors) = api_errors(
        sp.upload("evil-steps.1.0.0.zip", evil.clone())
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 403);
    assert!(message.contains("not trusted"), "{message}");
    assert!(errors[0].contains("allow-list"), "{errors:?}");
    // A version outside the trusted range is refused too.
    let ranged = zip(
        "ranged",
        "2.0.0",
        &[StepDef::new("ranged-step", json!({"type": "object"}))
            .with_migrations(json!({"migrations": [{"from": 1, "ops": []}]}))],
    );
    let (status, ..) = api_errors(sp.upload("ranged.2.0.0.zip", ranged).await.unwrap_err());
    assert_eq!(status, 403);

    // Feed: the untrusted archive is ignored, the trusted one next to it installed.
    drop_into(&feed, "evil-steps.1.0.0.zip", &evil);
    drop_into(&feed, &acme_name("1.0.0"), &acme("1.0.0"));
    wait_installed(&t, "acme-steps", "1.0.0").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(sp.get("evil-steps").await.unwrap_err().is_not_found());
    let list = sp.list().await.unwrap();
    assert_eq!(list.len(), 1);
    // Nor can an action use its step.
    let mut p = new_process(&t, "Evil").await;
    p.steps = vec![step_action("Evil", "evil", Some("1.0.0"), json!({}))];
    let (status, _, errors) = api_errors(
        t.client
            .deployment_processes(SPACE)
            .update(&p)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);
    assert!(
        errors[0].starts_with("Steps[0].Actions[0].ActionType:"),
        "{errors:?}"
    );
    t.server.shutdown().await;
    std::fs::remove_dir_all(&feed).unwrap();
}

#[tokio::test]
async fn uploads_are_checked_and_idempotent() {
    let (t, feed) = start_feed(trust(&["acme-steps", "other-steps"])).await;
    let sp = t.client.step_packages();
    let first = sp.upload(&acme_name("1.0.0"), acme("1.0.0")).await.unwrap();
    assert_eq!(first.version, "1.0.0");
    assert_eq!(first.source, "Upload");
    assert_eq!(first.steps.len(), 2);
    // The same archive again: accepted, nothing changes.
    let again = sp.upload(&acme_name("1.0.0"), acme("1.0.0")).await.unwrap();
    assert_eq!(again.installed_on, first.installed_on);
    // Same version, different content: 409.
    let (status, message, _) = api_errors(
        sp.upload(&acme_name("1.0.0"), acme("1.1.0"))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 409, "{message}");
    // The name must match the manifest.
    let (status, _, errors) = api_errors(
        sp.upload(&acme_name("1.3.0"), acme("1.2.0"))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);
    assert!(errors[0].contains("file name"), "{errors:?}");
    // A bad file name, a broken archive, a missing fileName: 400 with the reason.
    let (status, _, errors) = api_errors(sp.upload("acme steps.zip", vec![1]).await.unwrap_err());
    assert_eq!(status, 400);
    assert!(errors[0].starts_with("fileName:"), "{errors:?}");
    let (status, _, errors) = api_errors(
        sp.upload(&acme_name("1.4.0"), b"not a zip".to_vec())
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400, "{errors:?}");
    let resp = common::raw()
        .post(format!("{}/api/steppackages", t.url()))
        .header("X-Octopus-ApiKey", common::KEY)
        .body(acme("1.0.0"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["Errors"][0].as_str().unwrap().starts_with("fileName:"),
        "{body}"
    );
    // multipart/form-data with a `file` part: the part's file name names the package.
    let boundary = "sp-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/zip\r\n\r\n",
        acme_name("1.1.0")
    )
    .into_bytes();
    body.extend_from_slice(&acme("1.1.0"));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = common::raw()
        .post(format!("{}/api/steppackages", t.url()))
        .header("X-Octopus-ApiKey", common::KEY)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let installed: Value = resp.json().await.unwrap();
    assert_eq!(installed["Version"], "1.1.0");
    assert_eq!(installed["Source"], "Upload");

    // A step ID belongs to one package only.
    let thief = zip(
        "other-steps",
        "1.0.0",
        &[StepDef::new("db-migrate", schema_v1_0())],
    );
    let (status, _, errors) =
        api_errors(sp.upload("other-steps.1.0.0.zip", thief).await.unwrap_err());
    assert_eq!(status, 400);
    assert!(errors[0].contains("already belongs"), "{errors:?}");
    assert!(sp.get("other-steps").await.unwrap_err().is_not_found());
    t.server.shutdown().await;
    std::fs::remove_dir_all(&feed).unwrap();
}

#[tokio::test]
async fn inputs_are_validated_with_paths() {
    let (t, feed) = start_feed(trust(&["acme-steps"])).await;
    t.client
        .step_packages()
        .upload(&acme_name("1.0.0"), acme("1.0.0"))
        .await
        .unwrap();
    let procs = t.client.deployment_processes(SPACE);
    let mut p = new_process(&t, "Validated").await;

    p.steps = vec![step_action(
        "Migrate",
        "db-migrate",
        Some("1.0.0"),
        json!({"port": "5432", "verbose": 1, "extra": true}),
    )];
    let (status, _, errors) = api_errors(procs.update(&p).await.unwrap_err());
    assert_eq!(status, 400);
    let has = |prefix: &str| errors.iter().any(|e| e.starts_with(prefix));
    assert!(
        has("Steps[0].Actions[0].Inputs/port: expected integer, got string"),
        "{errors:?}"
    );
    assert!(
        has("Steps[0].Actions[0].Inputs/verbose: expected boolean"),
        "{errors:?}"
    );
    assert!(has("Steps[0].Actions[0].Inputs/extra:"), "{errors:?}");
    assert!(has("Steps[0].Actions[0].Inputs/host:"), "{errors:?}");

    // StepPackageVersion is required and must be installed.
    p.steps = vec![step_action(
        "Migrate",
        "db-migrate",
        None,
        json!({"host": "db"}),
    )];
    let (_, _, errors) = api_errors(procs.update(&p).await.unwrap_err());
    assert!(
        errors[0].starts_with("Steps[0].Actions[0].StepPackageVersion:"),
        "{errors:?}"
    );
    p.steps = vec![step_action(
        "Migrate",
        "db-migrate",
        Some("3.0.0"),
        json!({"host": "db"}),
    )];
    let (_, _, errors) = api_errors(procs.update(&p).await.unwrap_err());
    assert!(errors[0].contains("not installed"), "{errors:?}");

    // Valid inputs are saved; a major (`1`) means the newest release on it; built-in
    // action types keep working beside step-package actions.
    let mut script = step_action("Script", "Octopus.Script", None, json!({}));
    script.actions[0].inputs = None;
    script.actions[0]
        .properties
        .insert("Octopus.Action.Script.ScriptBody".into(), "echo hi".into());
    p.steps = vec![
        step_action(
            "Migrate",
            "db-migrate",
            Some("1"),
            json!({"host": "db", "port": 5432}),
        ),
        script,
    ];
    let saved = procs.update(&p).await.unwrap();
    let a = &saved.steps[0].actions[0];
    assert_eq!(a.step_package_version.as_deref(), Some("1.0.0"));
    assert_eq!(a.inputs, Some(json!({"host": "db", "port": 5432})));
    let read = procs.get(saved.id.as_deref().unwrap()).await.unwrap();
    assert_eq!(read, saved);

    let usages = usages_of(&t, "db-migrate").await;
    assert_eq!(usages.len(), 1);
    assert_eq!(usages[0].version, "1.0.0");
    assert_eq!(usages[0].step_package_id, "acme-steps");
    assert_eq!(usages[0].step_name, "Migrate");
    assert_eq!(usages[0].space_id, SPACE);

    // The upload answer of a new minor lists the usages it moved.
    let v11 = t
        .client
        .step_packages()
        .upload(&acme_name("1.1.0"), acme("1.1.0"))
        .await
        .unwrap();
    assert_eq!(v11.upgraded_usages.len(), 1, "{v11:?}");
    assert_eq!(v11.upgraded_usages[0].version, "1.1.0");
    assert_eq!(
        v11.upgraded_usages[0].deployment_process_id,
        read.id.clone().unwrap()
    );
    assert!(v11.skipped_usages.is_empty());
    let moved = procs.get(read.id.as_deref().unwrap()).await.unwrap();
    assert_eq!(moved.version, read.version + 1);
    assert_eq!(
        moved.steps[0].actions[0].step_package_version.as_deref(),
        Some("1.1.0")
    );
    // The client holding the old Version is told to refresh.
    assert!(procs.update(&read).await.unwrap_err().is_conflict());
    t.server.shutdown().await;
    std::fs::remove_dir_all(&feed).unwrap();
}

#[tokio::test]
async fn minor_versions_move_usages_majors_wait_for_an_explicit_upgrade() {
    let (t, feed) = start_feed(trust(&["acme-steps"])).await;
    let sp = t.client.step_packages();
    let procs = t.client.deployment_processes(SPACE);
    drop_into(&feed, &acme_name("1.0.0"), &acme("1.0.0"));
    wait_installed(&t, "acme-steps", "1.0.0").await;

    // P1 is valid for every 1.x; P2's port is above what 1.1 allows.
    let p1 = process_with(
        &t,
        "One",
        vec![step_action(
            "Migrate",
            "db-migrate",
            Some("1.0.0"),
            json!({"host": "db", "verbose": true}),
        )],
    )
    .await;
    let p2 = process_with(
        &t,
        "Two",
        vec![step_action(
            "Migrate",
            "db-migrate",
            Some("1.0.0"),
            json!({"host": "db", "port": 70000}),
        )],
    )
    .await;
    assert_eq!((p1.version, p2.version), (1, 1));
    // P3 uses `acme-notify`, whose inputs are valid on every major: only the rule keeps
    // it off major 2.
    let p3 = process_with(
        &t,
        "Three",
        vec![step_action(
            "Notify",
            "acme-notify",
            Some("1.0.0"),
            json!({"channel": "ops"}),
        )],
    )
    .await;

    // A release of P1 froze its process with 1.0.0.
    let release = t
        .client
        .releases(SPACE)
        .create(&octopus_client::model::Release {
            project_id: p1.project_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let snapshot_id = release.project_deployment_process_snapshot_id.unwrap();

    // A new minor: P1 moves (new process Version), P2 stays and says what is pending.
    drop_into(&feed, &acme_name("1.1.0"), &acme("1.1.0"));
    wait_for("P1 to move to 1.1.0", || async {
        usage_for(&usages_of(&t, "db-migrate").await, &p1).version == "1.1.0"
    })
    .await;
    let usages = usages_of(&t, "db-migrate").await;
    let u2 = usage_for(&usages, &p2);
    assert_eq!(u2.version, "1.0.0");
    assert_eq!(u2.pending_version.as_deref(), Some("1.1.0"));
    let p1 = procs.get(p1.id.as_deref().unwrap()).await.unwrap();
    assert_eq!(p1.version, 2);
    // The release's snapshot keeps what it froze.
    let snapshot = procs.get(&snapshot_id).await.unwrap();
    assert_eq!(
        snapshot.steps[0].actions[0].step_package_version.as_deref(),
        Some("1.0.0")
    );
    assert_eq!(
        p1.steps[0].actions[0].step_package_version.as_deref(),
        Some("1.1.0")
    );
    assert_eq!(
        procs.get(p2.id.as_deref().unwrap()).await.unwrap().version,
        1
    );

    wait_for("P3 to move to 1.1.0", || async {
        usage_for(&usages_of(&t, "acme-notify").await, &p3).version == "1.1.0"
    })
    .await;

    // A new major is installed but applied to nobody.
    drop_into(&feed, &acme_name("2.0.0"), &acme("2.0.0"));
    wait_installed(&t, "acme-steps", "2.0.0").await;
    let usages = usages_of(&t, "db-migrate").await;
    let u1 = usage_for(&usages, &p1);
    assert_eq!(u1.version, "1.1.0");
    assert_eq!(u1.newer_major_version.as_deref(), Some("2.0.0"));
    assert_eq!(usage_for(&usages, &p2).version, "1.0.0");
    assert_eq!(
        procs.get(p1.id.as_deref().unwrap()).await.unwrap().version,
        2
    );

    // Explicit upgrade: a dry run first, then for real; the migration renames, defaults
    // and removes inputs, and the result is valid for 2.0.0.
    let mut req = StepPackageUpgrade {
        action_name: Some("Migrate action".into()),
        version: "2".into(),
        process_version: Some(2),
        dry_run: true,
        ..StepPackageUpgrade::default()
    };
    let pid1 = p1.id.clone().unwrap();
    let preview = sp.upgrade(SPACE, &pid1, &req).await.unwrap();
    let expected = json!({"database": {"host": "db", "port": 5432}});
    assert_eq!(preview.steps[0].actions[0].inputs, Some(expected.clone()));
    assert_eq!(preview.version, 2);
    assert_eq!(
        procs.get(&pid1).await.unwrap().steps[0].actions[0].inputs,
        Some(json!({"host": "db", "verbose": true}))
    );
    req.dry_run = false;
    let upgraded = sp.upgrade(SPACE, &pid1, &req).await.unwrap();
    assert_eq!(upgraded.version, 3);
    let a = &upgraded.steps[0].actions[0];
    assert_eq!(a.step_package_version.as_deref(), Some("2.0.0"));
    assert_eq!(a.inputs, Some(expected.clone()));
    assert_eq!(procs.get(&pid1).await.unwrap(), upgraded);
    // The stale ProcessVersion is now refused.
    let (status, ..) = api_errors(sp.upgrade(SPACE, &pid1, &req).await.unwrap_err());
    assert_eq!(status, 409);
    // Downgrades are refused.
    let down = StepPackageUpgrade {
        action_id: a.id.clone(),
        version: "1.1.0".into(),
        ..StepPackageUpgrade::default()
    };
    let (status, _, errors) = api_errors(sp.upgrade(SPACE, &pid1, &down).await.unwrap_err());
    assert_eq!(status, 400);
    assert!(errors[0].contains("downgrade"), "{errors:?}");

    // P2's migrated inputs break 2.0.0's schema: 400 naming the input path, nothing saved.
    let pid2 = p2.id.clone().unwrap();
    let up2 = StepPackageUpgrade {
        action_name: Some("Migrate action".into()),
        version: "2.0.0".into(),
        ..StepPackageUpgrade::default()
    };
    let (status, _, errors) = api_errors(sp.upgrade(SPACE, &pid2, &up2).await.unwrap_err());
    assert_eq!(status, 400);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("Steps[0].Actions[0].Inputs/database/port:")),
        "{errors:?}"
    );
    let p2_now = procs.get(&pid2).await.unwrap();
    assert_eq!(p2_now.version, 1);
    assert_eq!(
        p2_now.steps[0].actions[0].step_package_version.as_deref(),
        Some("1.0.0")
    );

    // A minor of major 2 moves P1 again, and never P2 (still on major 1).
    drop_into(&feed, &acme_name("2.1.0"), &acme("2.1.0"));
    wait_for("P1 to move to 2.1.0", || async {
        usage_for(&usages_of(&t, "db-migrate").await, &upgraded).version == "2.1.0"
    })
    .await;
    assert_eq!(
        usage_for(&usages_of(&t, "db-migrate").await, &p2).version,
        "1.0.0"
    );
    let u3 = usages_of(&t, "acme-notify").await;
    assert_eq!(usage_for(&u3, &p3).version, "1.1.0");
    assert_eq!(
        usage_for(&u3, &p3).newer_major_version.as_deref(),
        Some("2.1.0")
    );
    assert_eq!(
        procs.get(p3.id.as_deref().unwrap()).await.unwrap().version,
        2
    );
    let filtered = sp
        .usages(&UsageQuery {
            package_id: Some("ACME-steps".into()),
            version: Some("2.1.0".into()),
            ..UsageQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].deployment_process_id, pid1);
    t.server.shutdown().await;
    std::fs::remove_dir_all(&feed).unwrap();
}

#[tokio::test]
async fn installed_packages_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data: &Path = dir.path();
    let cfg = |d: &Path| {
        let mut c = octopus_server::ServerConfig::new(d);
        c.api_key = Some(common::KEY.into());
        c.trusted_step_packages = trust(&["acme-steps"]);
        c
    };
    let server = octopus_server::Server::start(cfg(data)).await.unwrap();
    let client = common::client_for(&server.url(), common::KEY);
    client
        .step_packages()
        .upload(&acme_name("1.0.0"), acme("1.0.0"))
        .await
        .unwrap();
    server.shutdown().await;
    // What a crash in the middle of installing 1.1.0 leaves behind: the upload being
    // received, its temporary copy, and its archive copied into place before the
    // version was committed.
    let store_dir = data.join(octopus_server::step_packages::STORE_DIR);
    let uploads = store_dir.join(octopus_server::step_packages::UPLOADS_DIR);
    std::fs::write(uploads.join("0123"), b"half an upload").unwrap();
    std::fs::write(store_dir.join(".incoming-0123"), b"half a copy").unwrap();
    std::fs::write(store_dir.join(acme_name("1.1.0")), acme("1.1.0")).unwrap();
    let server = octopus_server::Server::start(cfg(data)).await.unwrap();
    let files = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        files(&store_dir),
        vec![acme_name("1.0.0")],
        "leftovers of the crash are gone"
    );
    assert!(files(&uploads).is_empty(), "the interrupted upload is gone");
    // The store directory cannot double as the watched feed (its sweep would eat drops).
    let mut clash = cfg(data);
    clash.step_feed_dir = Some(store_dir.clone());
    let refused = octopus_server::Server::start(clash)
        .await
        .err()
        .expect("refused");
    assert!(
        refused.to_string().contains("choose another directory"),
        "{refused}"
    );
    let client = common::client_for(&server.url(), common::KEY);
    let v = client
        .step_packages()
        .version("acme-steps", "1.0.0")
        .await
        .unwrap();
    assert_eq!(v.steps.len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_answers() {
    let (t, feed) = start_feed(trust(&["acme-steps"])).await;
    t.client
        .step_packages()
        .upload(&acme_name("1.0.0"), acme("1.0.0"))
        .await
        .unwrap();
    let http = common::raw();
    let call = |method: reqwest::Method, path: &str, body: Option<&str>| {
        let mut req = http
            .request(method, format!("{}{path}", t.url()))
            .header("X-Octopus-ApiKey", common::KEY);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_owned());
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        }
    };
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    for (method, path, body, status, needle) in [
        (
            get.clone(),
            "/api/steppackages/a..b",
            None,
            400,
            "packageId:",
        ),
        (
            get.clone(),
            "/api/steppackages/..%2Fx/versions",
            None,
            400,
            "packageId:",
        ),
        (
            get.clone(),
            "/api/steppackages/acme-steps/v1",
            None,
            400,
            "version:",
        ),
        (
            get.clone(),
            "/api/steppackages/acme-steps/9.9.9",
            None,
            404,
            "was not found",
        ),
        (
            get.clone(),
            "/api/steppackages/nope/versions",
            None,
            404,
            "was not found",
        ),
        (
            get.clone(),
            "/api/steppackages/usages?version=x",
            None,
            400,
            "version:",
        ),
        (get.clone(), "/api/steppackages?take=-1", None, 400, "take"),
        // An ID the usages route would shadow is refused (before the allow-list check).
        (
            post.clone(),
            "/api/steppackages?fileName=Usages.1.0.0.zip",
            Some("not read"),
            400,
            "is reserved",
        ),
        (
            post.clone(),
            "/api/Spaces-1/deploymentprocesses/deploymentprocess-Projects-999/steppackages/upgrade",
            Some(r#"{"ActionName": "x", "Version": "2"}"#),
            404,
            "was not found",
        ),
        (
            post.clone(),
            "/api/Spaces-1/deploymentprocesses/deploymentprocess-Projects-1/steppackages/upgrade",
            Some(r#"{"ActionName": 5}"#),
            400,
            "ActionName",
        ),
        (
            post.clone(),
            "/api/Spaces-9/deploymentprocesses/x/steppackages/upgrade",
            Some(r#"{"Version": "2"}"#),
            404,
            "Spaces-9",
        ),
    ] {
        let (got, body) = call(method, path, body).await;
        assert_eq!(got, status, "{path}: {body}");
        let text = body.to_string();
        assert!(text.contains(needle), "{path}: {body}");
        assert!(
            body["ErrorMessage"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
    }
    // A process action that is not a step-package step cannot be upgraded.
    let p = process_with(
        &t,
        "Plain",
        vec![{
            let mut s = step_action("Script", "Octopus.Script", None, json!({}));
            s.actions[0].inputs = None;
            s
        }],
    )
    .await;
    let (status, body) = call(
        post.clone(),
        &format!(
            "/api/Spaces-1/deploymentprocesses/{}/steppackages/upgrade",
            p.id.as_deref().unwrap()
        ),
        Some(r#"{"ActionName": "Script action", "Version": "1"}"#),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["Errors"][0]
            .as_str()
            .unwrap()
            .starts_with("Steps[0].Actions[0].ActionType:"),
        "{body}"
    );
    t.server.shutdown().await;
    std::fs::remove_dir_all(&feed).unwrap();
}

// Octopus's format (docs/step-packages.md §7), with the CLI-built `demo-echo` archives kept
// byte-for-byte in acceptance-tests/fixtures/step-packages/.

fn demo_echo(version: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../acceptance-tests/fixtures/step-packages")
        .join(format!("demo-echo.{version}.zip"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A flat Octopus archive of `files` (`name`, JSON or text).
fn octopus_zip(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn octopus_meta(kind: &str, id: &str, extra: Value) -> Vec<u8> {
    let mut m = json!({"schemaVersion": "1.0.0", "type": kind, "id": id, "name": id,
        "description": "d", "categories": ["Other"], "launcher": "node"});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::to_vec(&m).unwrap()
}

fn echo_inputs(repeat: Value) -> Value {
    json!({"message": "hello", "repeat": repeat, "uppercase": true,
           "token": {"HasValue": true, "NewValue": "abcd"}})
}

#[tokio::test]
async fn octopus_packages_install_from_uploads_and_the_feed() {
    let (t, feed) = start_feed(trust(&["demo-echo", "demo-target", "demo-pkg"])).await;
    let sp = t.client.step_packages();
    use octopus_client::model::step_package::{StepPackageFormat, StepPackageType};
    let v = sp
        .upload("demo-echo.1.0.0.zip", demo_echo("1.0.0"))
        .await
        .unwrap();
    assert_eq!(
        (v.format, v.kind),
        (StepPackageFormat::Octopus, StepPackageType::Step)
    );
    let step = &v.steps[0];
    assert_eq!(
        (step.id.as_str(), step.name.as_str()),
        ("demo-echo", "Echo a message")
    );
    assert_eq!(
        (step.launcher.as_str(), step.entrypoint.as_str()),
        ("node", "executor.js")
    );
    assert_eq!(step.format, StepPackageFormat::Octopus);
    assert_eq!(step.migration_script, None);
    // Another ID or version than the file name's is refused.
    let (status, _, errors) = api_errors(
        sp.upload("demo-echo.1.0.1.zip", demo_echo("1.0.0"))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);
    assert!(errors[0].contains("file name says"), "{errors:?}");
    // The feed directory: 2.0.0 (with migration.js).
    drop_into(&feed, "demo-echo.2.0.0.zip", &demo_echo("2.0.0"));
    wait_installed(&t, "demo-echo", "2.0.0").await;
    let v2 = sp.version("demo-echo", "2.0.0").await.unwrap();
    assert_eq!(v2.source, "Feed");
    assert_eq!(
        v2.steps[0].migration_script.as_deref(),
        Some("migration.js")
    );

    // A deployment target is listed with its type and provides no step; a step naming it
    // (and a dependency on it) installs without it... and the other way round.
    let step_zip = octopus_zip(&[
        (
            "metadata.json",
            octopus_meta(
                "step",
                "demo-pkg",
                json!({"version": "1.0.0", "deploymentTargetId": "demo-target",
                       "dependencies": {"demo-target": "1.0.0"}}),
            ),
        ),
        (
            "inputs.json",
            serde_json::to_vec(
                &json!({"definitions": {"I": {"type": "object", "isRoot": true,
                "properties": {"bundle": {"type": "object", "isPackageReference": true}},
                "required": ["bundle"]}}}),
            )
            .unwrap(),
        ),
        ("executor.js", b"module.exports = () => {};".to_vec()),
    ]);
    let s = sp.upload("demo-pkg.1.0.0.zip", step_zip).await.unwrap();
    assert_eq!(
        s.steps[0].deployment_target_id.as_deref(),
        Some("demo-target")
    );
    let target_zip = octopus_zip(&[(
        "metadata.json",
        octopus_meta(
            "deployment-target",
            "demo-target",
            json!({"version": "1.0.0"}),
        ),
    )]);
    let target = sp
        .upload("demo-target.1.0.0.zip", target_zip)
        .await
        .unwrap();
    assert_eq!(target.kind, StepPackageType::DeploymentTarget);
    assert!(target.steps.is_empty());
    let listed = sp.list().await.unwrap();
    let find = |id: &str| listed.iter().find(|p| p.id == id).unwrap().clone();
    assert_eq!(find("demo-target").kind, StepPackageType::DeploymentTarget);
    assert_eq!(find("demo-echo").kind, StepPackageType::Step);
    assert_eq!(find("demo-echo").format, StepPackageFormat::Octopus);
    let raw: Value = common::raw()
        .get(format!("{}/api/steppackages", t.url()))
        .header("X-Octopus-ApiKey", common::KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = raw.get("Items").unwrap_or(&raw);
    let types: Vec<&str> = items
        .as_array()
        .unwrap_or_else(|| panic!("{raw}"))
        .iter()
        .filter_map(|p| p["Type"].as_str())
        .collect();
    assert!(types.contains(&"deployment-target"), "{raw}");

    // Package reference inputs need their Packages entry.
    let procs = t.client.deployment_processes(SPACE);
    let mut p = new_process(&t, "Bundled").await;
    p.steps = vec![step_action(
        "Bundle",
        "demo-pkg",
        Some("1"),
        json!({"bundle": {"referenceId": "r1", "feedId": "feeds-builtin", "packageId": "tools"}}),
    )];
    let (status, _, errors) = api_errors(procs.update(&p).await.unwrap_err());
    assert_eq!(status, 400);
    assert_eq!(
        errors,
        [
            "Steps[0].Actions[0].Inputs/bundle: package reference 'r1' has no entry in the action's Packages with StepPackageInputsReferenceId 'r1'"
        ]
    );
    p.steps[0].actions[0].packages = vec![
        octopus_client::model::deployment_process::PackageReference {
            name: "bundle".into(),
            package_id: "tools".into(),
            feed_id: "feeds-builtin".into(),
            step_package_inputs_reference_id: Some("r1".into()),
            ..Default::default()
        },
    ];
    procs.update(&p).await.unwrap();
}

#[tokio::test]
async fn octopus_inputs_validate_and_usages_stay_on_their_major() {
    let (t, _feed) = start_feed(trust(&["demo-echo"])).await;
    let sp = t.client.step_packages();
    sp.upload("demo-echo.1.0.0.zip", demo_echo("1.0.0"))
        .await
        .unwrap();
    let procs = t.client.deployment_processes(SPACE);
    let mut p = new_process(&t, "Echo").await;

    // Wrong types, a plain-text secret and a missing input (the required `message`),
    // each named by its path.
    p.steps = vec![step_action(
        "Echo",
        "demo-echo",
        Some("1.0.0"),
        json!({"repeat": "two", "uppercase": 1, "token": "abcd"}),
    )];
    let (status, _, errors) = api_errors(procs.update(&p).await.unwrap_err());
    assert_eq!(status, 400);
    let has = |prefix: &str| errors.iter().any(|e| e.starts_with(prefix));
    assert!(
        has("Steps[0].Actions[0].Inputs/repeat: expected number, got string"),
        "{errors:?}"
    );
    assert!(
        has("Steps[0].Actions[0].Inputs/uppercase: expected boolean"),
        "{errors:?}"
    );
    assert!(
        has("Steps[0].Actions[0].Inputs/token: expected a sensitive value"),
        "{errors:?}"
    );
    assert!(
        has("Steps[0].Actions[0].Inputs/message: is required"),
        "{errors:?}"
    );
    assert!(!errors.iter().any(|e| e.contains("abcd")), "{errors:?}");
    // Bound values are accepted for primitives, a kept secret as stored.
    p.steps[0].actions[0].inputs = Some(json!({"message": "#{Message}", "repeat": "#{Repeat}",
        "uppercase": "#{Upper}", "token": "#{Token}"}));
    let mut p = procs.update(&p).await.unwrap();
    p.steps[0].actions[0].inputs = Some(echo_inputs(json!(2)));
    let saved = procs.update(&p).await.unwrap();
    let inputs = saved.steps[0].actions[0].inputs.clone().unwrap();
    assert_eq!(inputs["repeat"], json!(2));
    // The secret is redacted on read; sending it back keeps it.
    assert_eq!(inputs["token"]["HasValue"], json!(true));
    assert!(
        inputs["token"].get("NewValue").is_none_or(Value::is_null),
        "{inputs}"
    );
    let again = procs.update(&saved).await.unwrap();
    assert_eq!(
        again.steps[0].actions[0].step_package_version.as_deref(),
        Some("1.0.0")
    );

    // 2.0.0 is a new major: the usage stays on 1.x and says a newer major exists.
    sp.upload("demo-echo.2.0.0.zip", demo_echo("2.0.0"))
        .await
        .unwrap();
    let usages = usages_of(&t, "demo-echo").await;
    let u = usage_for(&usages, &again);
    assert_eq!(u.version, "1.0.0");
    assert_eq!(u.newer_major_version.as_deref(), Some("2.0.0"));
    // The explicit upgrade runs 2.0.0's migration.js (node): `message` becomes `text`;
    // the dry run answers the result without saving it.
    let req = StepPackageUpgrade {
        action_name: Some("Echo action".into()),
        version: "2".into(),
        dry_run: true,
        ..StepPackageUpgrade::default()
    };
    let pid = again.id.clone().unwrap();
    let dry = sp.upgrade(SPACE, &pid, &req).await.unwrap();
    let migrated = dry.steps[0].actions[0].inputs.clone().unwrap();
    assert_eq!(migrated["text"], json!("hello"), "{migrated}");
    assert!(migrated.get("message").is_none(), "{migrated}");
    assert_eq!(migrated["token"]["HasValue"], json!(true), "{migrated}");
    assert_eq!(
        procs.get(&pid).await.unwrap().steps[0].actions[0]
            .step_package_version
            .as_deref(),
        Some("1.0.0"),
        "a dry run saves nothing"
    );
    let done = sp
        .upgrade(
            SPACE,
            &pid,
            &StepPackageUpgrade {
                dry_run: false,
                ..req
            },
        )
        .await
        .unwrap();
    assert_eq!(
        done.steps[0].actions[0].step_package_version.as_deref(),
        Some("2.0.0")
    );
    assert_eq!(
        done.steps[0].actions[0].inputs.clone().unwrap()["text"],
        json!("hello")
    );
}
