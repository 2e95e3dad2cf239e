//! Every example under `examples/` is `terraform fmt` clean and applied here, so what
//! users copy works.

use acceptance_tests::{Step, TERRAFORM_BLOCK, TestCase, TestContext};
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dirs(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(examples().join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

#[test]
fn examples_are_fmt_clean() {
    let r = std::process::Command::new(tf_testing::terraform())
        .args(["fmt", "-check", "-recursive", "-diff"])
        .arg(examples())
        .output()
        .unwrap();
    assert!(
        r.status.success(),
        "terraform fmt -check:\n{}",
        String::from_utf8_lossy(&r.stdout)
    );
}

#[test]
fn every_resource_has_examples_in_the_registry_layout() {
    let provider = terraform_provider_octopus::OctopusProvider;
    let types: Vec<String> = tf_sdk::Provider::resources(&provider)
        .iter()
        .map(|r| format!("octopus_{}", r.name()))
        .collect();
    for t in &types {
        let dir = examples().join("resources").join(t);
        assert!(dir.join("resource.tf").is_file(), "{t}: resource.tf");
        assert!(dir.join("import.sh").is_file(), "{t}: import.sh");
    }
    let data: Vec<String> = tf_sdk::Provider::data_sources(&provider)
        .iter()
        .map(|d| format!("octopus_{}", d.name()))
        .collect();
    for t in &data {
        assert!(
            examples()
                .join("data-sources")
                .join(t)
                .join("data-source.tf")
                .is_file(),
            "{t}: data-source.tf"
        );
    }
    assert_eq!(
        dirs("resources").len(),
        types.len(),
        "no examples for resources that do not exist"
    );
    assert_eq!(dirs("data-sources").len(), data.len());
}

/// Applies each resource example, re-plans empty, imports with the command its
/// `import.sh` documents, and destroys.
#[test]
fn resource_examples_apply_and_import() {
    for dir in dirs("resources") {
        let ctx = TestContext::new();
        let example = read(&dir.join("resource.tf"));
        let import = read(&dir.join("import.sh"));
        let line = import
            .lines()
            .find(|l| l.starts_with("terraform import "))
            .expect("an import command");
        let address = line.split_whitespace().nth(2).expect("address").to_string();
        let documented_id = line.split_whitespace().nth(3).expect("ID").to_string();
        assert!(documented_id.contains('-'), "{line}");
        TestCase::new(vec![Step::config(&example), Step::import(&address)]).run(&ctx);
    }
}

#[test]
fn data_source_examples_apply() {
    let ctx = TestContext::new();
    // What the examples look up by name.
    let env = octopus_client::model::Environment::new("Production");
    ctx.block_on(ctx.client.environments(&ctx.space_id).create(&env))
        .unwrap();
    let lifecycles = ctx
        .block_on(
            ctx.client
                .lifecycles(&ctx.space_id)
                .list_all(&Default::default()),
        )
        .unwrap();
    let groups = ctx
        .block_on(
            ctx.client
                .project_groups(&ctx.space_id)
                .list_all(&Default::default()),
        )
        .unwrap();
    let mut web = octopus_client::model::Project::new("Web");
    web.lifecycle_id = lifecycles[0].id.clone().unwrap();
    web.project_group_id = groups[0].id.clone().unwrap();
    ctx.block_on(ctx.client.projects(&ctx.space_id).create(&web))
        .unwrap();

    let mut all = String::new();
    for dir in dirs("data-sources") {
        all.push_str(&read(&dir.join("data-source.tf")));
        all.push('\n');
    }
    TestCase::new(vec![Step::config(&all).check(|ctx| {
        let outputs = &ctx.workdir.state()["values"]["outputs"];
        for name in [
            "default_space_id",
            "production_environment_id",
            "web_deployment_process_id",
            "default_project_group_id",
            "default_lifecycle_id",
        ] {
            assert!(
                outputs[name]["value"]
                    .as_str()
                    .is_some_and(|v| !v.is_empty()),
                "{name}: {outputs}"
            );
        }
    })])
    .run(&ctx);
}

#[test]
fn quickstart_applies() {
    let ctx = TestContext::new();
    let quickstart = read(&examples().join("quickstart/main.tf"));
    assert!(
        quickstart.contains("provider \"octopus\" {}"),
        "quickstart configures through the environment"
    );
    // Same file, pointed at this test's space instead of the environment variables.
    let config = quickstart.replace("provider \"octopus\" {}", &ctx.provider_config());
    ctx.workdir.config(&config);
    ctx.workdir.apply();
    ctx.workdir.assert_empty_plan();
    let projects = ctx
        .block_on(
            ctx.client
                .projects(&ctx.space_id)
                .list_all(&Default::default()),
        )
        .unwrap();
    let mut names: Vec<_> = projects.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Orders API", "Storefront"]);
    let envs = ctx
        .block_on(
            ctx.client
                .environments(&ctx.space_id)
                .list_all(&Default::default()),
        )
        .unwrap();
    assert_eq!(envs.len(), 3);
    ctx.workdir.destroy();
    let left = ctx
        .block_on(
            ctx.client
                .projects(&ctx.space_id)
                .list_all(&Default::default()),
        )
        .unwrap();
    assert!(left.is_empty());
}

#[test]
fn provider_example_validates() {
    let ctx = TestContext::new();
    let example = read(&examples().join("provider/provider.tf"));
    ctx.workdir.config(&format!("{TERRAFORM_BLOCK}\n{example}"));
    let r = ctx.workdir.run(&["validate", "-no-color"]);
    assert_eq!(r.code, 0, "{}", r.output());
}
