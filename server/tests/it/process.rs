//! Deployment process GET/PUT: the Version check, validation and secrets.

use crate::common::{self, KEY, start};
use octopus_client::Error;
use octopus_client::model::{
    Action, DeploymentProcess, Environment, PackageReference, Project, PropertyValue,
    SensitiveValue, Step,
};

fn script_step(name: &str, action: &str) -> Step {
    let mut a = Action {
        name: action.into(),
        action_type: "Octopus.Script".into(),
        ..Action::default()
    };
    a.properties
        .insert("Octopus.Action.Script.ScriptBody".into(), "echo hi".into());
    let mut s = Step {
        name: name.into(),
        actions: vec![a],
        ..Step::default()
    };
    s.properties
        .insert("Octopus.Action.TargetRoles".into(), "web".into());
    s
}

fn errors_of(e: Error) -> (u16, String, Vec<String>) {
    match e {
        Error::Api {
            status,
            message,
            errors,
        } => (status, message, errors),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn project_process(t: &common::TestServer) -> DeploymentProcess {
    let p = t
        .client
        .projects("Spaces-1")
        .create(&Project::new("Proc"))
        .await
        .unwrap();
    t.client
        .deployment_processes("Spaces-1")
        .get_for_project(p.id.as_deref().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn put_assigns_ids_and_bumps_the_version() {
    let t = start().await;
    let procs = t.client.deployment_processes("Spaces-1");
    let mut p = project_process(&t).await;
    p.steps = vec![
        script_step("Hello", "Hello"),
        script_step("World", "World action"),
    ];
    let saved = procs.update(&p).await.unwrap();
    assert_eq!(saved.version, 1);
    assert_eq!(saved.steps.len(), 2);
    let step = &saved.steps[0];
    assert_eq!(step.id.as_deref().unwrap().len(), 36);
    assert_eq!(step.condition.as_deref(), Some("Success"));
    assert_eq!(step.start_trigger.as_deref(), Some("StartAfterPrevious"));
    assert_eq!(
        step.actions[0].properties["Octopus.Action.Script.ScriptBody"],
        PropertyValue::from("echo hi")
    );

    // Read back equals what PUT answered.
    let read = procs.get(saved.id.as_deref().unwrap()).await.unwrap();
    assert_eq!(read, saved);

    // Re-PUT with the new version keeps step IDs and bumps again.
    let mut again = read.clone();
    again.steps.swap(0, 1);
    let saved2 = procs.update(&again).await.unwrap();
    assert_eq!(saved2.version, 2);
    assert_eq!(saved2.steps[0].id, read.steps[1].id);

    // The project-scoped URL works for GET and PUT.
    let by_project: DeploymentProcess = t
        .client
        .get_json(
            &format!(
                "/api/Spaces-1/projects/{}/deploymentprocesses",
                saved2.project_id
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(by_project.version, 2);
}

#[tokio::test]
async fn stale_version_is_refused_and_not_applied() {
    let t = start().await;
    let procs = t.client.deployment_processes("Spaces-1");
    let base = project_process(&t).await;
    let mut first = base.clone();
    first.steps = vec![script_step("First", "First")];
    procs.update(&first).await.unwrap();

    let mut stale = base.clone();
    stale.steps = vec![script_step("Stale", "Stale")];
    let e = procs.update(&stale).await.unwrap_err();
    assert!(e.is_conflict(), "{e}");
    let (_, msg, errors) = errors_of(e);
    assert!(msg.contains("out of date"), "{msg}");
    assert!(errors[0].starts_with("Version:"), "{errors:?}");

    let now = procs.get(base.id.as_deref().unwrap()).await.unwrap();
    assert_eq!(now.version, 1);
    assert_eq!(now.steps[0].name, "First");

    // Concurrent writers with the same version: exactly one wins.
    let mut handles = Vec::new();
    for i in 0..8 {
        let c = t.client.clone();
        let mut p = now.clone();
        p.steps = vec![script_step(&format!("Racer {i}"), &format!("Racer {i}"))];
        handles.push(tokio::spawn(async move {
            c.deployment_processes("Spaces-1").update(&p).await.is_ok()
        }));
    }
    let mut wins = 0;
    for h in handles {
        wins += usize::from(h.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(
        procs
            .get(base.id.as_deref().unwrap())
            .await
            .unwrap()
            .version,
        2
    );
}

#[tokio::test]
async fn validation_names_the_offending_field() {
    let t = start().await;
    let procs = t.client.deployment_processes("Spaces-1");
    let base = project_process(&t).await;

    let cases: Vec<(Vec<Step>, &str)> = vec![
        (
            vec![script_step("Same", "a1"), script_step("same", "a2")],
            "Steps[1].Name",
        ),
        (
            vec![script_step("S1", "Dup"), script_step("S2", "Dup")],
            "Steps[1].Actions[0].Name",
        ),
        (vec![script_step("", "a")], "Steps[0].Name"),
        (
            vec![Step {
                name: "Empty".into(),
                ..Step::default()
            }],
            "Steps[0].Actions",
        ),
        (
            {
                let mut s = script_step("Typed", "Typed");
                s.actions[0].action_type = "Octopus.NoSuchThing".into();
                vec![s]
            },
            "Steps[0].Actions[0].ActionType",
        ),
        (
            {
                let mut s = script_step("Untyped", "Untyped");
                s.actions[0].action_type = String::new();
                vec![s]
            },
            "Steps[0].Actions[0].ActionType",
        ),
        (
            {
                let mut s = script_step("Cond", "Cond");
                s.condition = Some("Sometimes".into());
                vec![s]
            },
            "Steps[0].Condition",
        ),
        (
            {
                let mut s = script_step("Pkg", "Pkg");
                s.actions[0].packages = vec![PackageReference {
                    package_id: "App".into(),
                    feed_id: "Feeds-404".into(),
                    ..Default::default()
                }];
                vec![s]
            },
            "Steps[0].Actions[0].Packages[0].FeedId",
        ),
        (
            {
                let mut s = script_step("Env", "Env");
                s.actions[0].environments = vec!["Environments-404".into()];
                vec![s]
            },
            "Steps[0].Actions[0].Environments",
        ),
    ];
    for (steps, field) in cases {
        let mut p = base.clone();
        p.steps = steps;
        let (status, msg, errors) = errors_of(procs.update(&p).await.unwrap_err());
        assert_eq!(status, 400, "{field}");
        assert_eq!(msg, "There was a problem with your request.");
        assert!(
            errors.iter().any(|e| e.starts_with(&format!("{field}:"))),
            "{field}: {errors:?}"
        );
    }
    // Nothing was applied.
    assert_eq!(
        procs
            .get(base.id.as_deref().unwrap())
            .await
            .unwrap()
            .version,
        0
    );

    // A valid package reference to the built-in feed and a real environment pass.
    let env = t
        .client
        .environments("Spaces-1")
        .create(&Environment::new("Dev"))
        .await
        .unwrap();
    let mut s = script_step("Deploy", "Deploy");
    s.actions[0].action_type = "Octopus.TentaclePackage".into();
    s.actions[0].environments = vec![env.id.unwrap()];
    s.actions[0].packages = vec![PackageReference {
        package_id: "MyApp".into(),
        feed_id: "feeds-builtin".into(),
        acquisition_location: Some("Server".into()),
        ..Default::default()
    }];
    let mut p = base.clone();
    p.steps = vec![s];
    let saved = procs.update(&p).await.unwrap();
    assert!(saved.steps[0].actions[0].packages[0].id.is_some());
}

#[tokio::test]
async fn steps_and_version_are_required() {
    let t = start().await;
    let base = project_process(&t).await;
    let url = format!(
        "{}/api/Spaces-1/deploymentprocesses/{}",
        t.url(),
        base.id.unwrap()
    );
    for (body, field) in [
        (r#"{"Version": 0}"#, "Steps"),
        (r#"{"Steps": []}"#, "Version"),
        (r#"{"Steps": null, "Version": 0}"#, "Steps"),
    ] {
        let r = common::raw()
            .put(&url)
            .header("X-Octopus-ApiKey", KEY)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            v["Errors"][0],
            format!("{field}: The {field} field is required.")
        );
    }
}

#[tokio::test]
async fn sensitive_properties_are_kept_but_never_returned() {
    let t = start().await;
    let procs = t.client.deployment_processes("Spaces-1");
    let mut p = project_process(&t).await;
    let mut s = script_step("Secretive", "Secretive");
    s.actions[0].properties.insert(
        "Password".into(),
        PropertyValue::Sensitive(SensitiveValue::new("p@ss")),
    );
    p.steps = vec![s];
    let saved = procs.update(&p).await.unwrap();
    match &saved.steps[0].actions[0].properties["Password"] {
        PropertyValue::Sensitive(v) => assert!(v.has_value && v.new_value.is_none()),
        other => panic!("{other:?}"),
    }
    let raw = common::raw()
        .get(format!(
            "{}/api/Spaces-1/deploymentprocesses/{}",
            t.url(),
            saved.id.as_deref().unwrap()
        ))
        .header("X-Octopus-ApiKey", KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!raw.contains("p@ss"));
    // Sending back the read form keeps the value set.
    let resaved = procs.update(&saved).await.unwrap();
    assert_eq!(
        resaved.steps[0].actions[0].properties["Password"],
        saved.steps[0].actions[0].properties["Password"]
    );
}
