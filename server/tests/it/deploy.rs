//! Releases, deployments and tasks through the API: snapshots, lifecycle rules,
//! steps that really run, output variables, masking, cancel and flow.

use std::time::Duration;

use octopus_client::model::{
    Action, CreateDeploymentUntenantedCommandV1, CreateReleaseCommandV1, Deployment, Environment,
    Project, PropertyValue, Release, SensitiveValue, ServerTask, Step, TaskState,
};

use crate::common::{self, start};

const SPACE: &str = "Spaces-1";

pub fn bash_step(name: &str, script: &str) -> Step {
    let mut a = Action {
        name: name.into(),
        action_type: "Octopus.Script".into(),
        ..Action::default()
    };
    for (k, v) in [
        ("Octopus.Action.RunOnServer", "true"),
        ("Octopus.Action.Script.ScriptSource", "Inline"),
        ("Octopus.Action.Script.Syntax", "Bash"),
        ("Octopus.Action.Script.ScriptBody", script),
    ] {
        a.properties.insert(k.into(), v.into());
    }
    Step {
        name: name.into(),
        actions: vec![a],
        ..Step::default()
    }
}

/// A project with these steps and its environments `Dev`, `Prod`.
pub async fn project_with(
    t: &common::TestServer,
    name: &str,
    steps: Vec<Step>,
) -> (Project, Vec<Environment>) {
    let mut envs = Vec::new();
    for e in ["Dev", "Prod"] {
        let env_name = format!("{name}-{e}");
        envs.push(
            t.client
                .environments(SPACE)
                .create(&Environment::new(env_name))
                .await
                .unwrap(),
        );
    }
    let p = t
        .client
        .projects(SPACE)
        .create(&Project::new(name))
        .await
        .unwrap();
    let procs = t.client.deployment_processes(SPACE);
    let mut process = procs
        .get_for_project(p.id.as_deref().unwrap())
        .await
        .unwrap();
    process.steps = steps;
    procs.update(&process).await.unwrap();
    (p, envs)
}

/// Creates a deployment of `release` to `env` without waiting for it.
pub async fn create(t: &common::TestServer, release: &Release, env: &Environment) -> Deployment {
    t.client
        .deployments(SPACE)
        .create(&Deployment {
            release_id: release.id.clone().unwrap(),
            environment_id: env.id.clone().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap()
}

pub async fn deploy(t: &common::TestServer, release: &Release, env: &Environment) -> ServerTask {
    let d = create(t, release, env).await;
    wait(t, d.task_id.as_deref().unwrap()).await
}

/// Deploys and reads the task's whole log.
pub async fn deploy_logged(
    t: &common::TestServer,
    release: &Release,
    env: &Environment,
) -> (ServerTask, String) {
    let task = deploy(t, release, env).await;
    let raw = t.client.tasks().raw(&task.id).await.unwrap();
    (task, raw)
}

pub async fn wait(t: &common::TestServer, task: &str) -> ServerTask {
    t.client
        .tasks()
        .wait(
            task,
            Duration::from_millis(50),
            Duration::from_secs(60),
            |_| {},
        )
        .await
        .unwrap()
}

pub async fn release_of(t: &common::TestServer, p: &Project) -> Release {
    t.client
        .releases(SPACE)
        .create(&Release {
            project_id: p.id.clone().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_release_deploys_its_snapshot_and_outputs_cross_steps() {
    let t = start().await;
    let (p, envs) = project_with(
        &t,
        "Snap",
        vec![
            bash_step("First", "echo \"first in #{Octopus.Environment.Name} of #{Octopus.Release.Number}\"\nset_octopusvariable Answer 42"),
            bash_step("Second", "echo \"answer is #{Octopus.Action[First].Output.Answer}\""),
        ],
    )
    .await;
    let release = release_of(&t, &p).await;
    assert_eq!(release.version, "0.0.1");
    // The release's snapshot of the process is frozen.
    let procs = t.client.deployment_processes(SPACE);
    let snapshot_id = release
        .project_deployment_process_snapshot_id
        .clone()
        .unwrap();
    let mut snapshot = procs.get(&snapshot_id).await.unwrap();
    snapshot.steps.clear();
    let err = procs.update(&snapshot).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.to_string().contains("frozen"), "{err}");
    assert_eq!(procs.get(&snapshot_id).await.unwrap().steps.len(), 2);
    // Edit the process after the release: the release keeps what it froze.
    let mut live = procs
        .get_for_project(p.id.as_deref().unwrap())
        .await
        .unwrap();
    live.steps = vec![bash_step("Changed", "echo changed; exit 3")];
    procs.update(&live).await.unwrap();
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(task.finished_successfully && task.is_completed);
    assert!(raw.contains("first in Snap-Dev of 0.0.1"), "{raw}");
    assert!(raw.contains("answer is 42"), "{raw}");
    assert!(!raw.contains("changed"), "{raw}");
    let details = t.client.tasks().details(&task.id, false).await.unwrap();
    let steps = &details.activity_logs[0].children;
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].name, "Step 1: First");
    assert!(steps.iter().all(|s| s.status == "Success"));
    // The next release takes the new process, with the next version.
    let second = release_of(&t, &p).await;
    assert_eq!(second.version, "0.0.2");
    let task = deploy(&t, &second, &envs[0]).await;
    assert_eq!(task.state, TaskState::Failed);
    assert!(
        task.error_message.contains("exit code 3"),
        "{}",
        task.error_message
    );
}

#[tokio::test]
async fn the_lifecycle_decides_where_a_release_may_go() {
    let t = start().await;
    let (p, envs) = project_with(&t, "Life", vec![bash_step("Hi", "echo hi")]).await;
    let release = release_of(&t, &p).await;
    let err = t
        .client
        .deployments(SPACE)
        .create(&Deployment {
            release_id: release.id.clone().unwrap(),
            environment_id: envs[1].id.clone().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot be deployed to 'Life-Prod' yet"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("It can be deployed to 'Life-Dev' now."),
        "{err}"
    );
    assert_eq!(
        deploy(&t, &release, &envs[0]).await.state,
        TaskState::Success
    );
    assert_eq!(
        deploy(&t, &release, &envs[1]).await.state,
        TaskState::Success
    );
}

#[tokio::test]
async fn executions_api_commands_in_both_casings() {
    let t = start().await;
    let (_, envs) = project_with(
        &t,
        "Exec",
        vec![bash_step("Hi", "echo hi from #{Octopus.Environment.Name}")],
    )
    .await;
    let created = t
        .client
        .releases(SPACE)
        .create_v1(&CreateReleaseCommandV1 {
            project_name: "Exec".into(),
            release_version: Some("1.2.3".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.release_version, "1.2.3");
    let answer = t
        .client
        .deployments(SPACE)
        .create_untenanted_v1(&CreateDeploymentUntenantedCommandV1 {
            project_name: "Exec".into(),
            release_version: "1.2.3".into(),
            environment_names: vec!["Exec-Dev".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(answer.deployment_server_tasks.len(), 1);
    let task = wait(&t, &answer.deployment_server_tasks[0].server_task_id).await;
    assert_eq!(task.state, TaskState::Success);
    // The Go client's camelCase.
    let raw = common::raw()
        .post(format!("{}/api/{SPACE}/releases/create/v1", t.url()))
        .header("X-Octopus-ApiKey", common::KEY)
        .json(&serde_json::json!({"spaceId": SPACE, "projectName": "Exec", "releaseVersion": "1.2.4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 201);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["ReleaseVersion"], "1.2.4");
    let _ = envs;
}

#[tokio::test]
async fn secrets_are_masked_and_cancel_kills_a_long_script() {
    let t = start().await;
    let mut step = bash_step("Secret", "echo \"token=#{Smtp.Password}\"\nsleep 300");
    step.actions[0].properties.insert(
        "Smtp.Password".into(),
        PropertyValue::Sensitive(SensitiveValue::new("hunter2-secret")),
    );
    let (p, envs) = project_with(&t, "Mask", vec![step]).await;
    let release = release_of(&t, &p).await;
    let d = t
        .client
        .deployments(SPACE)
        .create(&Deployment {
            release_id: release.id.clone().unwrap(),
            environment_id: envs[0].id.clone().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    let task_id = d.task_id.clone().unwrap();
    // Wait for the line, then cancel.
    let mut seen = false;
    // A hang guard of 30 s (600 × 50 ms): no cost when the line comes at once.
    for _ in 0..600 {
        if t.client
            .tasks()
            .raw(&task_id)
            .await
            .unwrap()
            .contains("token=")
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen,
        "the script's first line reached the log while it runs"
    );
    let started = std::time::Instant::now();
    t.client.tasks().cancel(&task_id).await.unwrap();
    let task = wait(&t, &task_id).await;
    assert_eq!(task.state, TaskState::Canceled);
    assert!(started.elapsed() < Duration::from_secs(20));
    let raw = t.client.tasks().raw(&task_id).await.unwrap();
    assert!(raw.contains("token=********"), "{raw}");
    assert!(!raw.contains("hunter2-secret"), "{raw}");
}

#[tokio::test]
async fn a_step_package_step_runs_with_its_inputs_and_sets_outputs() {
    use octopus_packaging::step_package::builder::{StepDef, step_package_zip};
    use octopus_packaging::step_package::{TrustedAllowList, TrustedPackage};
    let t = common::start_with(|c| {
        c.trusted_step_packages = TrustedAllowList {
            packages: vec![TrustedPackage {
                id: "acme-run".into(),
                versions: None,
            }],
        };
    })
    .await;
    let schema = serde_json::json!({"type": "object", "properties": {
        "greeting": {"type": "string"},
        "token": {"type": "string"}
    }});
    // The executor reads its invocation file with sed (no jq on every machine).
    let script = "#!/bin/sh\n\
        g=$(sed -n 's/.*\"greeting\": *\"\\([^\"]*\\)\".*/\\1/p' \"$1\")\n\
        tok=$(sed -n 's/.*\"token\": *\"\\([^\"]*\\)\".*/\\1/p' \"$1\")\n\
        echo \"step says $g with $tok\"\n\
        printf \"##octopus[setVariable name='%s' value='%s']\\n\" $(printf Greeted | base64) $(printf \"$g\" | base64)\n";
    let zip = step_package_zip(
        "acme-run",
        "1.0.0",
        &[StepDef::new("acme-echo", schema).with_script(script)],
    );
    t.client
        .step_packages()
        .upload("acme-run.1.0.0.zip", zip)
        .await
        .unwrap();
    let mut a = Action {
        name: "Echo".into(),
        action_type: "acme-echo".into(),
        step_package_version: Some("1.0.0".into()),
        ..Action::default()
    };
    a.inputs = Some(serde_json::json!({
        "greeting": "hello #{Octopus.Environment.Name}",
        "token": {"HasValue": true, "NewValue": "tok-SECRET-9"}
    }));
    let echo = Step {
        name: "Echo".into(),
        actions: vec![a],
        ..Step::default()
    };
    let (p, envs) = project_with(
        &t,
        "StepPkg",
        vec![
            echo,
            bash_step(
                "After",
                "echo \"after: #{Octopus.Action[Echo].Output.Greeted}\"",
            ),
        ],
    )
    .await;
    let release = release_of(&t, &p).await;
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(
        raw.contains("step says hello StepPkg-Dev with ********"),
        "{raw}"
    );
    assert!(raw.contains("after: hello StepPkg-Dev"), "{raw}");
    assert!(!raw.contains("tok-SECRET-9"), "{raw}");
}

#[tokio::test]
async fn artifacts_are_kept_after_the_task() {
    let t = start().await;
    let (p, envs) = project_with(
        &t,
        "Art",
        vec![bash_step(
            "Report",
            "echo 'all good' > out.txt\nnew_octopusartifact out.txt report.txt",
        )],
    )
    .await;
    let release = release_of(&t, &p).await;
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(
        raw.contains("Artifact report.txt collected (9 bytes)."),
        "{raw}"
    );
    let kept = t
        .dir
        .path()
        .join("artifacts")
        .join(&task.id)
        .join("report.txt");
    assert_eq!(std::fs::read_to_string(kept).unwrap(), "all good\n");
}

#[tokio::test]
async fn a_release_keeps_the_variables_it_was_created_with() {
    use octopus_client::model::Variable;
    let t = start().await;
    let (p, envs) = project_with(
        &t,
        "Vars",
        vec![bash_step(
            "Show",
            "echo \"colour=#{Colour} db=#{Db.Password}\"",
        )],
    )
    .await;
    let vars = t.client.variables(SPACE);
    let pid = p.id.clone().unwrap();
    let mut set = vars.get_for_owner(&pid).await.unwrap();
    set.variables = vec![
        Variable {
            name: "Colour".into(),
            value: Some("blue".into()),
            ..Default::default()
        },
        Variable {
            name: "Db.Password".into(),
            value: Some("pw-Blue-123".into()),
            r#type: "Sensitive".into(),
            is_sensitive: true,
            ..Default::default()
        },
    ];
    let mut set = vars.update(&set).await.unwrap();
    let release = release_of(&t, &p).await;
    set.variables[0].value = Some("red".into());
    vars.update(&set).await.unwrap();
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(raw.contains("colour=blue db=********"), "{raw}");
    assert!(!raw.contains("pw-Blue-123"), "{raw}");
    // The next release takes the new value.
    let next = release_of(&t, &p).await;
    let (_, raw) = deploy_logged(&t, &next, &envs[0]).await;
    assert!(raw.contains("colour=red"), "{raw}");
}

#[tokio::test]
async fn a_stopped_task_queue_holds_deployments_until_started() {
    let t = start().await;
    let (p, envs) = project_with(&t, "Held", vec![bash_step("Hi", "echo hi")]).await;
    let spaces = t.client.spaces();
    let mut space = spaces.get(SPACE).await.unwrap();
    space.task_queue_stopped = true;
    let space = spaces.update(&space).await.unwrap();
    let release = release_of(&t, &p).await;
    let d = t
        .client
        .deployments(SPACE)
        .create(&Deployment {
            release_id: release.id.clone().unwrap(),
            environment_id: envs[0].id.clone().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    let task_id = d.task_id.clone().unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        t.client.tasks().get(&task_id).await.unwrap().state,
        TaskState::Queued
    );
    let mut space = space;
    space.task_queue_stopped = false;
    spaces.update(&space).await.unwrap();
    assert_eq!(wait(&t, &task_id).await.state, TaskState::Success);
}

#[tokio::test]
async fn steps_can_run_as_an_unprivileged_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        return eprintln!("skipped: dropping to another user needs the tests to run as root");
    }
    use octopus_packaging::step_package::builder::{StepDef, step_package_zip};
    use octopus_packaging::step_package::{TrustedAllowList, TrustedPackage};
    let t = common::start_with(|c| {
        c.run_steps_as = Some((65534, 65534));
        c.trusted_step_packages = TrustedAllowList {
            packages: ["acme-whoami", "demo-echo"]
                .iter()
                .map(|id| TrustedPackage {
                    id: (*id).into(),
                    versions: None,
                })
                .collect(),
        };
    })
    .await;
    let zip = step_package_zip(
        "acme-whoami",
        "1.0.0",
        &[StepDef::new("acme-whoami", serde_json::json!({"type": "object"}))
            .with_script("#!/bin/sh\necho \"step package as $(id -u), input file $(wc -c < \"$1\") bytes\"\n")],
    );
    t.client
        .step_packages()
        .upload("acme-whoami.1.0.0.zip", zip)
        .await
        .unwrap();
    // A secret file of the server's (0600, as it writes its key and database).
    let key_file = t.dir.path().join("api-key");
    std::fs::write(&key_file, common::KEY).unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let whoami = Step {
        name: "Who".into(),
        actions: vec![Action {
            name: "Who".into(),
            action_type: "acme-whoami".into(),
            step_package_version: Some("1.0.0".into()),
            inputs: Some(serde_json::json!({})),
            ..Action::default()
        }],
        ..Step::default()
    };
    let script = format!(
        "echo \"script as $(id -u)\"\necho made > mine.txt && cat mine.txt\ncat {} || echo 'key unreadable'\nhead -c 16 {} >/dev/null 2>&1 || echo 'database unreadable'",
        key_file.display(),
        t.dir.path().join("octopus-lite.db").display()
    );
    // An Octopus-format step: node and our bootstrapper as that user too.
    let echo_zip = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../acceptance-tests/fixtures/step-packages/demo-echo.1.0.0.zip");
    t.client
        .step_packages()
        .upload("demo-echo.1.0.0.zip", std::fs::read(echo_zip).unwrap())
        .await
        .unwrap();
    let echo = Step {
        name: "Echo".into(),
        actions: vec![Action {
            name: "Echo".into(),
            action_type: "demo-echo".into(),
            step_package_version: Some("1.0.0".into()),
            inputs: Some(
                serde_json::json!({"message": "as nobody", "repeat": 1, "uppercase": false,
                "token": {"HasValue": true, "NewValue": "nobody-token"}}),
            ),
            ..Action::default()
        }],
        ..Step::default()
    };
    let (p, envs) = project_with(
        &t,
        "Nobody",
        vec![bash_step("Script", &script), whoami, echo],
    )
    .await;
    let release = release_of(&t, &p).await;
    let (task, raw) = deploy_logged(&t, &release, &envs[0]).await;
    assert_eq!(task.state, TaskState::Success, "{raw}");
    assert!(raw.contains("script as 65534"), "{raw}");
    assert!(raw.contains("made"), "{raw}");
    assert!(
        raw.contains("key unreadable") && !raw.contains(common::KEY),
        "{raw}"
    );
    // The database is there (so `head` failed for want of permission, not of a file).
    assert!(t.dir.path().join("octopus-lite.db").is_file());
    assert!(raw.contains("database unreadable"), "{raw}");
    assert!(raw.contains("step package as 65534, input file"), "{raw}");
    assert!(raw.contains("as nobody"), "{raw}");
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[tokio::test]
async fn deleting_a_space_deletes_its_tasks_and_their_logs() {
    use octopus_client::model::Space;
    let t = start().await;
    let space = t.client.spaces().create(&Space::new("Gone")).await.unwrap();
    let sid = space.id.clone().unwrap();
    let env = t
        .client
        .environments(&sid)
        .create(&Environment::new("Dev"))
        .await
        .unwrap();
    let p = t
        .client
        .projects(&sid)
        .create(&Project::new("Gone"))
        .await
        .unwrap();
    let procs = t.client.deployment_processes(&sid);
    let mut process = procs
        .get_for_project(p.id.as_deref().unwrap())
        .await
        .unwrap();
    process.steps = vec![bash_step("Hi", "echo hi")];
    procs.update(&process).await.unwrap();
    let release = t
        .client
        .releases(&sid)
        .create(&Release {
            project_id: p.id.clone().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    let d = t
        .client
        .deployments(&sid)
        .create(&Deployment {
            release_id: release.id.clone().unwrap(),
            environment_id: env.id.clone().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    let task = wait(&t, d.task_id.as_deref().unwrap()).await;
    assert_eq!(task.state, TaskState::Success);
    let log = t.dir.path().join("tasks").join(format!("{}.log", task.id));
    assert!(log.exists());
    let mut space = t.client.spaces().get(&sid).await.unwrap();
    space.task_queue_stopped = true;
    t.client.spaces().update(&space).await.unwrap();
    t.client.spaces().delete(&sid).await.unwrap();
    assert!(
        t.client
            .tasks()
            .get(&task.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(!log.exists(), "the task's log went with its space");
}
