//! Deployment flow through the API with real processes: step conditions,
//! failure handling, parallel steps, skipped actions, package steps, task
//! links and details, scheduling, one deployment per project and environment,
//! and deleting a release.

use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use octopus_client::OverwriteMode;
use octopus_client::model::{
    Action, ActivityElement, Deployment, PackageReference, ServerTask, Step, TaskState,
};

use crate::common::{self, KEY, TestServer, start};
use crate::deploy::{bash_step, create, deploy_logged, project_with, release_of, wait};

const SPACE: &str = "Spaces-1";

/// A step with a condition (and, for `Variable`, its expression).
fn with_condition(mut step: Step, condition: &str, expression: Option<&str>) -> Step {
    step.condition = Some(condition.into());
    if let Some(e) = expression {
        step.properties
            .insert("Octopus.Step.ConditionVariableExpression".into(), e.into());
    }
    step
}

/// The step nodes of a task's activity tree.
async fn steps_of(t: &TestServer, task: &str) -> Vec<ActivityElement> {
    let details = t.client.tasks().details(task, false).await.unwrap();
    assert_eq!(details.activity_logs.len(), 1, "one root");
    details.activity_logs[0].children.clone()
}

fn statuses(steps: &[ActivityElement]) -> Vec<&str> {
    steps.iter().map(|s| s.status.as_str()).collect()
}

/// A real zip of `(name, contents)` entries.
fn zip_bytes(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Pushes a zip to the built-in feed under `file_name` (`Id.Version.zip`).
async fn push_zip(t: &TestServer, file_name: &str, entries: &[(&str, &str)]) {
    let src = tempfile::tempdir().unwrap();
    let path = src.path().join(file_name);
    std::fs::write(&path, zip_bytes(entries)).unwrap();
    t.client
        .packages(SPACE)
        .upload_path(&path, OverwriteMode::FailIfExists, |_, _| {})
        .await
        .unwrap();
}

fn primary_package(id: &str) -> PackageReference {
    PackageReference {
        name: String::new(),
        package_id: id.into(),
        feed_id: "feeds-builtin".into(),
        acquisition_location: Some("Server".into()),
        ..Default::default()
    }
}

/// An ISO 8601 time `ahead` from now, written with a `+01:00` offset as a
/// client in another time zone would send it.
fn later_with_offset(ahead: Duration) -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + ahead;
    let local = t.as_secs() + 3600;
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{local}"), "+%Y-%m-%dT%H:%M:%S"])
        .output()
        .unwrap();
    let base = String::from_utf8(out.stdout).unwrap();
    format!("{}.{:03}+01:00", base.trim(), t.subsec_millis())
}

#[tokio::test]
async fn step_conditions_success_failure_always_and_variable() {
    let t = start().await;
    let (p, envs) = project_with(
        &t,
        "Cond",
        vec![
            bash_step(
                "Setter",
                "set_octopusvariable RunIt True\nset_octopusvariable NoRun False\necho set",
            ),
            with_condition(
                bash_step("VarYes", "echo varyes-ran"),
                "Variable",
                Some("#{Octopus.Action[Setter].Output.RunIt}"),
            ),
            with_condition(
                bash_step("VarNo", "echo varno-ran"),
                "Variable",
                Some("#{Octopus.Action[Setter].Output.NoRun}"),
            ),
            with_condition(
                bash_step("VarMissing", "echo varmissing-ran"),
                "Variable",
                Some("#{Not.Defined}"),
            ),
            with_condition(
                bash_step("OnFailure", "echo onfailure-ran"),
                "Failure",
                None,
            ),
            with_condition(bash_step("Always", "echo always-ran"), "Always", None),
            bash_step("Plain", "echo plain-ran"),
        ],
    )
    .await;
    let release = release_of(&t, &p).await;
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    for ran in ["varyes-ran", "always-ran", "plain-ran"] {
        assert!(raw.contains(ran), "{ran}: {raw}");
    }
    for skipped in ["varno-ran", "varmissing-ran", "onfailure-ran"] {
        assert!(!raw.contains(skipped), "{skipped}: {raw}");
    }
    let steps = steps_of(&t, &task.id).await;
    assert_eq!(
        statuses(&steps),
        [
            "Success", "Success", "Skipped", "Skipped", "Skipped", "Success", "Success"
        ]
    );
}

#[tokio::test]
async fn after_a_failure_failure_and_always_steps_run_and_the_first_failure_is_reported() {
    let t = start().await;
    let (p, envs) = project_with(
        &t,
        "Fails",
        vec![
            bash_step("Breaks", "echo breaking; exit 7"),
            bash_step("Normal", "echo normal-ran"),
            with_condition(
                bash_step(
                    "Cleanup",
                    "echo \"cleanup sees: #{Octopus.Deployment.Error}\"",
                ),
                "Failure",
                None,
            ),
            with_condition(
                bash_step("Finally", "echo finally-ran; exit 9"),
                "Always",
                None,
            ),
        ],
    )
    .await;
    let release = release_of(&t, &p).await;
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Failed, "{raw}");
    assert!(!raw.contains("normal-ran"), "{raw}");
    assert!(
        raw.contains("cleanup sees: The step 'Breaks' failed"),
        "{raw}"
    );
    assert!(raw.contains("finally-ran"), "{raw}");
    let msg = &task.error_message;
    assert!(
        msg.contains("'Breaks'") && msg.contains("exit code 7"),
        "{msg}"
    );
    assert!(
        !msg.contains("Finally"),
        "the first failure is named: {msg}"
    );
    let steps = steps_of(&t, &task.id).await;
    assert_eq!(statuses(&steps), ["Failed", "Skipped", "Success", "Failed"]);
    let d = t
        .client
        .deployments(SPACE)
        .get(task.arguments["DeploymentId"].as_str().unwrap())
        .await
        .unwrap();
    assert!(d.failure_encountered);
}

#[tokio::test]
async fn start_with_previous_runs_steps_in_parallel() {
    let t = start().await;
    let shared = tempfile::tempdir().unwrap();
    let d = shared.path().display();
    // Each step waits (up to 15 s) for the file the other creates: only parallel
    // steps finish, and they do so quickly.
    let waiter = |mine: &str, theirs: &str| {
        format!(
            "date +%s%N > {d}/{mine}.start\ntouch {d}/{mine}\n\
             for i in $(seq 1 150); do [ -e {d}/{theirs} ] && break; sleep 0.1; done\n\
             [ -e {d}/{theirs} ] || {{ echo 'no {theirs}'; exit 1; }}\n\
             sleep 1\ndate +%s%N > {d}/{mine}.end\necho {mine}-done"
        )
    };
    let mut b = bash_step("B", &waiter("b", "a"));
    b.start_trigger = Some("StartWithPrevious".into());
    let (p, envs) = project_with(
        &t,
        "Parallel",
        vec![
            bash_step("A", &waiter("a", "b")),
            b,
            bash_step("C", "echo c-done"),
        ],
    )
    .await;
    let release = release_of(&t, &p).await;
    let started = Instant::now();
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(started.elapsed() < Duration::from_secs(10), "{raw}");
    let read = |f: &str| -> u128 {
        std::fs::read_to_string(shared.path().join(f))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    // Both ran their second of sleep at the same time.
    assert!(read("a.start") < read("b.end") && read("b.start") < read("a.end"));
    assert!(raw.contains("a-done") && raw.contains("b-done") && raw.contains("c-done"));
}

#[tokio::test]
async fn disabled_and_other_environment_actions_are_skipped() {
    let t = start().await;
    let mut disabled = bash_step("Disabled", "echo disabled-ran");
    disabled.actions[0].is_disabled = true;
    let (p, envs) = project_with(
        &t,
        "Scoped",
        vec![
            disabled,
            bash_step("ProdOnly", "echo prod-only-ran"),
            bash_step(
                "Everywhere",
                "echo everywhere-ran in #{Octopus.Environment.Name}",
            ),
        ],
    )
    .await;
    // Scope the second step's action to Prod.
    let procs = t.client.deployment_processes(SPACE);
    let mut process = procs
        .get_for_project(p.id.as_deref().unwrap())
        .await
        .unwrap();
    process.steps[1].actions[0].environments = vec![envs[1].id.clone().unwrap()];
    procs.update(&process).await.unwrap();
    let release = release_of(&t, &p).await;
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(
        !raw.contains("disabled-ran") && !raw.contains("prod-only-ran"),
        "{raw}"
    );
    assert!(raw.contains("everywhere-ran in Scoped-Dev"), "{raw}");
    assert!(raw.contains("Skipping Disabled: it is disabled."), "{raw}");
    assert!(
        raw.contains("Skipping ProdOnly: it does not run in this environment."),
        "{raw}"
    );
    let steps = steps_of(&t, &task.id).await;
    assert_eq!(statuses(&steps), ["Skipped", "Skipped", "Success"]);
    // In Prod the scoped action runs.
    let (task, raw) = deploy_logged(&t, &release, &envs[1]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(raw.contains("prod-only-ran"), "{raw}");
}

#[tokio::test]
async fn skip_actions_by_id_and_required_steps_cannot_be_skipped() {
    let t = start().await;
    let mut required = bash_step("Required", "echo required-ran");
    required.actions[0].is_required = true;
    let (p, envs) = project_with(
        &t,
        "Skips",
        vec![bash_step("Optional", "echo optional-ran"), required],
    )
    .await;
    let process = t
        .client
        .deployment_processes(SPACE)
        .get_for_project(p.id.as_deref().unwrap())
        .await
        .unwrap();
    let id_of = |i: usize| process.steps[i].actions[0].id.clone().unwrap();
    let release = release_of(&t, &p).await;
    let new = |skip: Vec<String>| Deployment {
        release_id: release.id.clone().unwrap(),
        environment_id: envs[0].id.clone().unwrap(),
        skip_actions: skip,
        ..Default::default()
    };
    // A required step: 400 naming it, and nothing is queued.
    let err = t
        .client
        .deployments(SPACE)
        .create(&new(vec![id_of(1)]))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("400"), "{text}");
    assert!(
        text.contains("The step 'Required' is required and cannot be skipped"),
        "{text}"
    );
    let err = t
        .client
        .deployments(SPACE)
        .create(&new(vec!["not-an-action".into()]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not-an-action"), "{err}");
    // Skipping the optional one by its action ID (the legacy route's SkipActions).
    let d = t
        .client
        .deployments(SPACE)
        .create(&new(vec![id_of(0)]))
        .await
        .unwrap();
    assert_eq!(d.skip_actions, vec![id_of(0)]);
    let task = wait(&t, d.task_id.as_deref().unwrap()).await;
    let raw = t.client.tasks().raw(&task.id).await.unwrap();
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(
        !raw.contains("optional-ran") && raw.contains("required-ran"),
        "{raw}"
    );
    assert!(
        raw.contains("Skipping Optional: it was skipped for this deployment."),
        "{raw}"
    );
}

#[tokio::test]
async fn a_package_step_runs_deploy_sh_with_substituted_files() {
    let t = start().await;
    push_zip(
        &t,
        "WebApp.1.2.0.zip",
        &[
            (
                "Deploy.sh",
                "echo \"deploy.sh in #{Octopus.Environment.Name}\"\ncat app.config\n",
            ),
            ("app.config", "environment=#{Octopus.Environment.Name}\n"),
            ("untouched.txt", "#{Octopus.Environment.Name}\n"),
        ],
    )
    .await;
    let mut a = Action {
        name: "Install".into(),
        action_type: "Octopus.TentaclePackage".into(),
        packages: vec![primary_package("WebApp")],
        ..Action::default()
    };
    for (k, v) in [
        ("Octopus.Action.RunOnServer", "true"),
        ("Octopus.Action.Package.PackageId", "WebApp"),
        ("Octopus.Action.Package.FeedId", "feeds-builtin"),
        (
            "Octopus.Action.EnabledFeatures",
            "Octopus.Features.SubstituteInFiles",
        ),
        (
            "Octopus.Action.SubstituteInFiles.TargetFiles",
            "Deploy.sh\napp.config",
        ),
    ] {
        a.properties.insert(k.into(), v.into());
    }
    let step = Step {
        name: "Install".into(),
        actions: vec![a],
        ..Step::default()
    };
    let (p, envs) = project_with(&t, "Pkg", vec![step]).await;
    let release = release_of(&t, &p).await;
    assert_eq!(release.selected_packages.len(), 1);
    assert_eq!(release.selected_packages[0].version, "1.2.0");
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(raw.contains("deploy.sh in Pkg-Dev"), "{raw}");
    assert!(raw.contains("environment=Pkg-Dev"), "{raw}");
    // The files were installed under Applications/<env>/<id>/<version>.
    let installed = t.dir.path().join("Applications/Pkg-Dev/WebApp/1.2.0");
    let untouched = std::fs::read_to_string(installed.join("untouched.txt")).unwrap();
    assert_eq!(
        untouched, "#{Octopus.Environment.Name}\n",
        "not a target file"
    );
}

#[tokio::test]
async fn a_script_step_runs_its_script_from_a_package() {
    let t = start().await;
    push_zip(
        &t,
        "Tools.3.0.1.zip",
        &[(
            "scripts/run.sh",
            "echo \"packaged script of #{Octopus.Release.Number} with $1\"\n",
        )],
    )
    .await;
    let mut a = Action {
        name: "FromPkg".into(),
        action_type: "Octopus.Script".into(),
        packages: vec![primary_package("Tools")],
        ..Action::default()
    };
    for (k, v) in [
        ("Octopus.Action.RunOnServer", "true"),
        ("Octopus.Action.Script.ScriptSource", "Package"),
        ("Octopus.Action.Script.ScriptFileName", "scripts/run.sh"),
        ("Octopus.Action.Script.ScriptParameters", "param-one"),
        ("Octopus.Action.Package.PackageId", "Tools"),
        ("Octopus.Action.Package.FeedId", "feeds-builtin"),
    ] {
        a.properties.insert(k.into(), v.into());
    }
    let step = Step {
        name: "FromPkg".into(),
        actions: vec![a],
        ..Step::default()
    };
    let (p, envs) = project_with(&t, "ScriptPkg", vec![step]).await;
    let release = release_of(&t, &p).await;
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(
        raw.contains(&format!(
            "packaged script of {} with param-one",
            release.version
        )),
        "{raw}"
    );
}

#[tokio::test]
async fn task_links_list_by_ids_and_the_details_tree() {
    let t = start().await;
    let (p, envs) = project_with(
        &t,
        "Tree",
        vec![
            bash_step("One", "echo line-one"),
            bash_step("Two", "echo line-two >&2; echo line-two-out"),
        ],
    )
    .await;
    let release = release_of(&t, &p).await;
    let first = create(&t, &release, &envs[0]).await;
    let task_id = first.task_id.clone().unwrap();
    assert_eq!(first.links["Task"], format!("/api/tasks/{task_id}"));
    let task = wait(&t, &task_id).await;
    assert_eq!(task.state, TaskState::Success);
    let second = create(&t, &release, &envs[0]).await;
    let second_task = second.task_id.clone().unwrap();
    wait(&t, &second_task).await;
    // The link resolves, and the list route filters by IDs.
    let http = common::raw();
    let get = |path: String| {
        http.get(format!("{}{path}", t.url()))
            .header("X-Octopus-ApiKey", KEY)
            .send()
    };
    let linked: serde_json::Value = get(first.links["Task"].clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(linked["Id"], task_id.as_str());
    assert_eq!(linked["State"], "Success");
    let list: serde_json::Value = get(format!("/api/{SPACE}/tasks?ids={task_id},{second_task}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ids: Vec<&str> = list["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![task_id.as_str(), second_task.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(list["TotalResults"], 2);
    let one: serde_json::Value = get(format!("/api/{SPACE}/tasks?ids={task_id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["Items"].as_array().unwrap().len(), 1);
    // Root → steps → one action node each, holding the script's lines.
    let details = t.client.tasks().details(&task_id, false).await.unwrap();
    assert_eq!(details.task.id, task_id);
    assert_eq!(details.activity_logs.len(), 1);
    let root = &details.activity_logs[0];
    assert_eq!(root.id, task_id);
    assert_eq!(root.status, "Success");
    assert!(root.name.contains("Tree"), "{}", root.name);
    assert_eq!(root.children.len(), 2);
    for (step, (name, line)) in root
        .children
        .iter()
        .zip([("Step 1: One", "line-one"), ("Step 2: Two", "line-two")])
    {
        assert_eq!(step.name, name);
        assert_eq!(step.status, "Success");
        assert!(step.started.is_some() && step.ended.is_some());
        assert_eq!(step.children.len(), 1, "{step:?}");
        let action = &step.children[0];
        assert_eq!(action.status, "Success");
        assert!(action.children.is_empty());
        assert!(
            action.log_elements.iter().any(|l| l.message_text == line),
            "{action:?}"
        );
    }
    // stderr is logged as an error line of its action.
    let two = &root.children[1].children[0];
    assert!(
        two.log_elements
            .iter()
            .any(|l| l.message_text == "line-two" && l.category == "Error"),
        "{two:?}"
    );
    assert!(details.physical_log_size > 0);
}

#[tokio::test]
async fn a_scheduled_deployment_stays_queued_until_its_queue_time() {
    let t = start().await;
    let (p, envs) = project_with(&t, "Later", vec![bash_step("Hi", "echo scheduled-ran")]).await;
    let release = release_of(&t, &p).await;
    // A lead well past the 1.2 s look below, so that a loaded machine still sees it queued.
    let queue_time = later_with_offset(Duration::from_secs(6));
    let d = t
        .client
        .deployments(SPACE)
        .create(&Deployment {
            release_id: release.id.clone().unwrap(),
            environment_id: envs[0].id.clone().unwrap(),
            queue_time: Some(queue_time.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let task_id = d.task_id.clone().unwrap();
    let task = t.client.tasks().get(&task_id).await.unwrap();
    assert_eq!(task.state, TaskState::Queued, "{queue_time}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let task = t.client.tasks().get(&task_id).await.unwrap();
    assert_eq!(task.state, TaskState::Queued, "{queue_time}");
    let task = wait(&t, &task_id).await;
    assert_eq!(task.state, TaskState::Success);
    // By the server's own clock: not started before its queue time, nor long after it.
    let queued_ms = epoch_ms(&queue_time);
    let stored = task.queue_time.as_deref().expect("the task's QueueTime");
    assert_eq!(epoch_ms(stored), queued_ms, "{stored} for {queue_time}");
    let start_time = task.start_time.as_deref().expect("the task's StartTime");
    let started_ms = epoch_ms(start_time);
    assert!(
        started_ms >= queued_ms,
        "started at {start_time}, before its queue time {queue_time}"
    );
    assert!(
        started_ms - queued_ms < 8_000,
        "started late: at {start_time} for {queue_time}"
    );
}

/// Milliseconds since the epoch of an ISO 8601 time with any offset (GNU `date`).
fn epoch_ms(iso: &str) -> i64 {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", iso, "+%s%3N"])
        .output()
        .unwrap();
    assert!(out.status.success(), "date could not read {iso}");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{iso}: {e}"))
}

#[tokio::test]
async fn one_deployment_per_project_and_environment_at_a_time() {
    let t = start().await;
    let (p, envs) = project_with(&t, "Serial", vec![bash_step("Nap", "sleep 1")]).await;
    let release = release_of(&t, &p).await;
    // Two deployments to Dev, created together: they run one after the other.
    let a = create(&t, &release, &envs[0]).await;
    let b = create(&t, &release, &envs[0]).await;
    let ta = wait(&t, a.task_id.as_deref().unwrap()).await;
    let tb = wait(&t, b.task_id.as_deref().unwrap()).await;
    assert_eq!(
        (ta.state, tb.state),
        (TaskState::Success, TaskState::Success)
    );
    let span = |t: &ServerTask| {
        (
            t.start_time.clone().unwrap(),
            t.completed_time.clone().unwrap(),
        )
    };
    let ((a0, a1), (b0, b1)) = (span(&ta), span(&tb));
    assert!(
        a1 <= b0 || b1 <= a0,
        "overlapped: {a0}..{a1} and {b0}..{b1}"
    );
    // Dev and Prod at once: they overlap.
    let c = create(&t, &release, &envs[0]).await;
    let d = create(&t, &release, &envs[1]).await;
    let tc = wait(&t, c.task_id.as_deref().unwrap()).await;
    let td = wait(&t, d.task_id.as_deref().unwrap()).await;
    assert_eq!(
        (tc.state, td.state),
        (TaskState::Success, TaskState::Success)
    );
    let ((c0, c1), (d0, d1)) = (span(&tc), span(&td));
    assert!(
        c0 < d1 && d0 < c1,
        "did not overlap: {c0}..{c1} and {d0}..{d1}"
    );
}

#[tokio::test]
async fn deleting_a_release_waits_for_its_deployments_and_removes_them() {
    let t = start().await;
    let (p, envs) = project_with(&t, "Gone", vec![bash_step("Long", "sleep 30")]).await;
    let release = release_of(&t, &p).await;
    let rid = release.id.clone().unwrap();
    let d = create(&t, &release, &envs[0]).await;
    let task_id = d.task_id.clone().unwrap();
    let err = t.client.releases(SPACE).delete(&rid).await.unwrap_err();
    assert!(err.to_string().contains("in progress"), "{err}");
    t.client.tasks().cancel(&task_id).await.unwrap();
    let task = wait(&t, &task_id).await;
    assert_eq!(task.state, TaskState::Canceled);
    t.client.releases(SPACE).delete(&rid).await.unwrap();
    let err = t.client.releases(SPACE).get(&rid).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    let err = t
        .client
        .deployments(SPACE)
        .get(d.id.as_deref().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    let left = t
        .client
        .releases(SPACE)
        .of_project(p.id.as_deref().unwrap())
        .await
        .unwrap();
    assert!(left.items.is_empty());
    // The task (history) stays readable.
    assert_eq!(
        t.client.tasks().get(&task_id).await.unwrap().state,
        TaskState::Canceled
    );
}
