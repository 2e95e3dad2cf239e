//! Uninstalling step-package versions (`DELETE /api/steppackages/{id}/{version}`, an
//! octopus-lite extension) and reading the trusted allow-list
//! (`GET /api/steppackages/trusted`), through the client.

use crate::common::step_archive::{StepDef, zip};
use crate::common::{TestServer, start_with};
use octopus_client::Error;
use octopus_client::model::{Action, Project, Release, Step};
use octopus_packaging::step_package::{TrustedAllowList, TrustedPackage};
use serde_json::json;

const SPACE: &str = "Spaces-1";

fn archive(version: &str) -> Vec<u8> {
    let schema = json!({"type": "object", "properties": {"to": {"type": "string"}}});
    zip("rm-steps", version, &[StepDef::new("rm-notify", schema)])
}

async fn server() -> TestServer {
    start_with(|c| {
        c.trusted_step_packages = TrustedAllowList {
            packages: vec![
                TrustedPackage {
                    id: "rm-steps".into(),
                    versions: None,
                },
                TrustedPackage {
                    id: "ranged-steps".into(),
                    versions: Some("^2.0".parse().unwrap()),
                },
            ],
        }
    })
    .await
}

/// A project whose process uses `rm-notify` at `version`.
async fn project_using(t: &TestServer, name: &str, version: &str) -> String {
    let project = t
        .client
        .projects(SPACE)
        .create(&Project::new(name))
        .await
        .unwrap();
    let processes = t.client.deployment_processes(SPACE);
    let mut p = processes
        .get_for_project(project.id.as_deref().unwrap())
        .await
        .unwrap();
    p.steps = vec![Step {
        name: "Notify".into(),
        actions: vec![Action {
            name: "Notify".into(),
            action_type: "rm-notify".into(),
            step_package_version: Some(version.into()),
            inputs: Some(json!({"to": "ops"})),
            ..Action::default()
        }],
        ..Step::default()
    }];
    processes.update(&p).await.unwrap().id.unwrap()
}

#[tokio::test]
async fn versions_in_use_stay_installed_the_others_go() {
    let t = server().await;
    let sp = t.client.step_packages();
    sp.upload("rm-steps.1.0.0.zip", archive("1.0.0"))
        .await
        .unwrap();
    let process = project_using(&t, "Uses rm", "1.0.0").await;
    // 1.1.0 moves the usage from 1.0.0, which nothing uses any more.
    sp.upload("rm-steps.1.1.0.zip", archive("1.1.0"))
        .await
        .unwrap();
    sp.uninstall("rm-steps", "1.0.0").await.unwrap();
    assert_eq!(sp.get("rm-steps").await.unwrap().versions, ["1.1.0"]);
    let archives = t.dir.path().join("step-packages");
    assert!(!archives.join("rm-steps.1.0.0.zip").exists());
    assert!(archives.join("rm-steps.1.1.0.zip").exists());

    // 1.1.0 is used: 409, naming the process, and nothing changes.
    let err = sp.uninstall("rm-steps", "1.1").await.unwrap_err();
    let Error::Api {
        status,
        message,
        errors,
    } = err
    else {
        panic!("expected an API error");
    };
    assert_eq!(status, 409);
    assert!(message.contains("1 process action(s) use it"), "{message}");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains(&process), "{errors:?}");
    assert!(errors[0].contains("step 'Notify'"), "{errors:?}");
    assert!(sp.version("rm-steps", "1.1.0").await.is_ok());

    // A release's snapshot of the process uses it too, and the refusal names the release.
    let processes = t.client.deployment_processes(SPACE);
    let mut p = processes.get(&process).await.unwrap();
    let releases = t.client.releases(SPACE);
    let release = releases
        .create(&Release {
            project_id: p.project_id.clone(),
            version: "4.5.6".into(),
            ..Release::default()
        })
        .await
        .unwrap();
    p.steps.clear();
    processes.update(&p).await.unwrap();
    let err = sp.uninstall("rm-steps", "1.1.0").await.unwrap_err();
    let Error::Api { status, errors, .. } = err else {
        panic!("expected an API error");
    };
    assert_eq!(status, 409);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("the process snapshot of release 4.5.6"),
        "{errors:?}"
    );

    // Once nothing uses it, it goes, and so does the package.
    releases
        .delete(release.id.as_deref().unwrap())
        .await
        .unwrap();
    sp.uninstall("rm-steps", "1.1.0").await.unwrap();
    assert!(sp.get("rm-steps").await.unwrap_err().is_not_found());
    assert!(!archives.join("rm-steps.1.1.0.zip").exists());
    assert!(
        sp.uninstall("rm-steps", "1.1.0")
            .await
            .unwrap_err()
            .is_not_found()
    );
    // The same archive can be installed again.
    sp.upload("rm-steps.1.1.0.zip", archive("1.1.0"))
        .await
        .unwrap();
    assert_eq!(sp.get("rm-steps").await.unwrap().versions, ["1.1.0"]);
    // Bad IDs and versions are 400s.
    assert_eq!(
        sp.uninstall("rm steps", "1.0.0")
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );
    assert_eq!(
        sp.uninstall("rm-steps", "one").await.unwrap_err().status(),
        Some(400)
    );
    t.server.shutdown().await;
}

#[tokio::test]
async fn the_allow_list_can_be_read() {
    let t = server().await;
    let list = t.client.step_packages().trusted().await.unwrap();
    let entries: Vec<(&str, Option<&str>)> = list
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p.versions.as_deref()))
        .collect();
    assert_eq!(
        entries,
        [("rm-steps", None), ("ranged-steps", Some("^2.0"))]
    );
    // `trusted` cannot be a package ID: the route would shadow it.
    let err = t
        .client
        .step_packages()
        .upload("trusted.1.0.0.zip", archive("1.0.0"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    t.server.shutdown().await;
}
