//! The models read Octopus-shaped JSON they did not produce, including fields
//! they do not model, `null`s and sensitive values, and write it back.

use octopus_client::model::{
    DeploymentProcess, Environment, ErrorBody, Feed, FeedType, Lifecycle, Project, ProjectGroup,
    PropertyValue, ResourceCollection, RootDocument, SensitiveValue, Space,
};
use serde_json::Value;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn project_from_a_real_server_shape() {
    let p: Project = serde_json::from_str(&fixture("project.json")).unwrap();
    assert_eq!(p.id.as_deref(), Some("Projects-101"));
    assert_eq!(p.name, "Web Shop");
    assert_eq!(p.lifecycle_id, "Lifecycles-1");
    assert_eq!(
        p.deployment_process_id.as_deref(),
        Some("deploymentprocess-Projects-101")
    );
    assert_eq!(p.description, None);
    assert_eq!(
        p.included_library_variable_set_ids,
        vec!["LibraryVariableSets-1"]
    );
    assert_eq!(
        p.links["DeploymentProcess"],
        "/api/Spaces-2/projects/Projects-101/deploymentprocesses"
    );
    // Unmodelled fields are kept and written back unchanged.
    assert_eq!(p.extra["VersioningStrategy"]["DonorPackage"], Value::Null);
    // Fields Octopus' own clients require are modelled, with Octopus' defaults.
    assert_eq!(p.persistence_settings.kind, "Database");
    assert!(!p.extra.contains_key("PersistenceSettings"));
    let back = serde_json::to_value(&p).unwrap();
    let original: Value = serde_json::from_str(&fixture("project.json")).unwrap();
    for key in [
        "PersistenceSettings",
        "Templates",
        "ReleaseCreationStrategy",
        "AutoCreateRelease",
        "AutoDeployReleaseOverrides",
        "ExtensionSettings",
        "ClonedFromProjectId",
    ] {
        if let Some(v) = original.get(key) {
            assert_eq!(&back[key], v, "{key} round-trips");
        }
    }
    assert_eq!(
        back["ProjectConnectivityPolicy"]["SkipMachineBehavior"],
        "None"
    );
    assert_eq!(back["Name"], "Web Shop");
}

#[test]
fn deployment_process_with_secrets_step_packages_and_nulls() {
    let d: DeploymentProcess = serde_json::from_str(&fixture("deployment_process.json")).unwrap();
    assert_eq!(d.version, 7);
    assert_eq!(d.steps.len(), 2);
    let script = &d.steps[0].actions[0];
    assert_eq!(script.action_type, "Octopus.Script");
    assert_eq!(
        script.properties["Octopus.Action.RunOnServer"],
        PropertyValue::from("true")
    );
    assert_eq!(
        script.properties["DbPassword"],
        PropertyValue::Sensitive(SensitiveValue {
            has_value: true,
            new_value: None,
            hint: None
        })
    );
    assert_eq!(script.properties["Empty"], PropertyValue::from(""));
    assert_eq!(script.packages[0].feed_id, "feeds-builtin");
    assert_eq!(script.packages[0].properties["SelectionMode"], "immediate");
    assert_eq!(script.packages[0].name, "");
    assert_eq!(script.container.as_ref().unwrap().image, None);
    assert_eq!(d.steps[0].extra["Slug"], "run-a-script");

    let ecs = &d.steps[1].actions[0];
    assert_eq!(ecs.action_type, "aws-ecs-update-service");
    assert_eq!(ecs.step_package_version.as_deref(), Some("1.2.3"));
    assert_eq!(ecs.inputs.as_ref().unwrap()["desiredCount"], 3);
    assert!(ecs.environments.is_empty(), "null lists read as empty");
    assert_eq!(
        ecs.git_dependencies[0]
            .step_package_inputs_reference_id
            .as_deref(),
        Some("ref-1")
    );

    // Round trip: sensitive values stay objects, plain values stay strings.
    let back = serde_json::to_value(&d).unwrap();
    assert_eq!(
        back["Steps"][0]["Actions"][0]["Properties"]["DbPassword"]["HasValue"],
        true
    );
    assert_eq!(
        back["Steps"][1]["Actions"][0]["Inputs"]["serviceName"],
        "shop"
    );
    let again: DeploymentProcess = serde_json::from_value(back).unwrap();
    assert_eq!(again, d);
}

#[test]
fn paged_feeds_with_sensitive_password() {
    let page: ResourceCollection<Feed> = serde_json::from_str(&fixture("feeds.json")).unwrap();
    assert_eq!(page.total_results, 3);
    assert_eq!(page.next_link(), Some("/api/Spaces-2/feeds?skip=2&take=2"));
    let builtin = &page.items[0];
    assert_eq!(builtin.feed_type, FeedType::BuiltIn);
    assert_eq!(builtin.delete_unreleased_packages_after_days, Some(30));
    let docker = &page.items[1];
    assert_eq!(docker.feed_type, FeedType::Docker);
    assert_eq!(
        docker.password.as_ref().unwrap(),
        &SensitiveValue {
            has_value: true,
            new_value: None,
            hint: None
        }
    );
    assert_eq!(docker.download_attempts, Some(5));
    assert_eq!(docker.extra.get("SearchPackagesTemplate"), None);
    // A feed type from a newer server does not break reading.
    let future: Feed =
        serde_json::from_str(r#"{"Id":"Feeds-9","Name":"x","FeedType":"QuantumRegistry"}"#)
            .unwrap();
    assert_eq!(future.feed_type, FeedType::Unknown);
}

#[test]
fn spaces_environments_groups_lifecycles_errors_root() {
    let misc: Value = serde_json::from_str(&fixture("misc.json")).unwrap();
    let space: Space = serde_json::from_value(misc["space"].clone()).unwrap();
    assert_eq!(space.space_managers_teams, vec!["teams-managers-Spaces-2"]);
    assert!(space.extra.contains_key("Icon"));
    let env: Environment = serde_json::from_value(misc["environment"].clone()).unwrap();
    assert!(env.allow_dynamic_infrastructure);
    assert_eq!(env.sort_order, 2);
    assert_eq!(env.extension_settings[0]["ExtensionId"], "jira-integration");
    let group: ProjectGroup = serde_json::from_value(misc["project_group"].clone()).unwrap();
    assert!(group.environment_ids.is_empty());
    let lc: Lifecycle = serde_json::from_value(misc["lifecycle"].clone()).unwrap();
    assert_eq!(
        lc.phases[0].automatic_deployment_targets,
        vec!["Environments-1"]
    );
    assert_eq!(lc.extra["ReleaseRetentionPolicy"]["QuantityToKeep"], 30);
    assert_eq!(lc.phases[0].extra["IsPriorityPhase"], false);
    let err: ErrorBody = serde_json::from_value(misc["error"].clone()).unwrap();
    assert_eq!(err.errors, vec!["The Steps field is required."]);
    let root: RootDocument = serde_json::from_value(misc["root"].clone()).unwrap();
    assert_eq!(root.api_version, "3.0.0");
    assert_eq!(
        root.links["StepPackageDeploymentTargetTypes"],
        "/api/steps/deploymenttargets"
    );
    assert_eq!(root.extra["HasLongTermSupport"], true);
}

#[test]
fn unset_fields_octopus_clients_require_are_written_with_octopus_defaults() {
    let v = serde_json::to_value(Project::new("New")).unwrap();
    assert_eq!(
        v["PersistenceSettings"],
        serde_json::json!({"Type": "Database"})
    );
    assert_eq!(v["Templates"], serde_json::json!([]));
    assert_eq!(v["AutoCreateRelease"], false);
    assert_eq!(v["AutoDeployReleaseOverrides"], serde_json::json!([]));
    assert_eq!(v["ExtensionSettings"], serde_json::json!([]));
    assert_eq!(
        v["ReleaseCreationStrategy"],
        serde_json::json!({"ChannelId": null, "ReleaseCreationPackage": null, "ReleaseCreationPackageStepId": null})
    );
    for key in ["Description", "ClonedFromProjectId"] {
        assert!(
            v.as_object().unwrap().contains_key(key) && v[key].is_null(),
            "{key}"
        );
    }
    // `null` reads as the default too.
    let p: Project =
        serde_json::from_str(r#"{"Name":"x","PersistenceSettings":null,"Templates":null}"#)
            .unwrap();
    assert_eq!(p.persistence_settings.kind, "Database");
    let v = serde_json::to_value(Environment::new("E")).unwrap();
    assert_eq!(v["ExtensionSettings"], serde_json::json!([]));
    let v = serde_json::to_value(octopus_client::model::Action::default()).unwrap();
    for key in ["Notes", "WorkerPoolId", "WorkerPoolVariable"] {
        assert!(
            v.as_object().unwrap().contains_key(key) && v[key].is_null(),
            "{key}"
        );
    }
    let v = serde_json::to_value(octopus_client::model::package::Package::default()).unwrap();
    for key in ["Description", "ReleaseNotes", "Summary"] {
        assert!(
            v.as_object().unwrap().contains_key(key) && v[key].is_null(),
            "{key}"
        );
    }
}

#[test]
fn writes_use_pascal_case_and_omit_unset_fields() {
    let mut p = Project::new("New");
    p.lifecycle_id = "Lifecycles-1".into();
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["Name"], "New");
    assert_eq!(v["LifecycleId"], "Lifecycles-1");
    assert!(v.get("Id").is_none());
    assert!(v.get("Links").is_none());
    let f = Feed::new("n", FeedType::NuGet, Some("https://x".into()));
    let mut f = f;
    f.password = Some(SensitiveValue::new("pw"));
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(
        v["Password"],
        serde_json::json!({"HasValue": true, "NewValue": "pw"})
    );
    // Wrong types are errors, not silently dropped.
    assert!(serde_json::from_str::<Project>(r#"{"Name": 1}"#).is_err());
    assert!(
        serde_json::from_str::<DeploymentProcess>(r#"{"Steps":[{"Properties":{"k":true}}]}"#)
            .is_err()
    );
}

#[test]
fn json_schemas_are_generated() {
    let schema = schemars::schema_for!(DeploymentProcess);
    let text = serde_json::to_string(&schema).unwrap();
    assert!(text.contains("\"Steps\""), "{text}");
    assert!(text.contains("\"ActionType\""));
    assert!(text.contains("\"StepPackageVersion\""));
    let feed = serde_json::to_string(&schemars::schema_for!(Feed)).unwrap();
    assert!(feed.contains("AwsElasticContainerRegistry"));
}
