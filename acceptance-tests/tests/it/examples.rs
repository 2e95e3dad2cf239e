//! Every example under `examples/` is `terraform fmt` clean and applied here, so what
//! users copy works.

use acceptance_tests::octopus_client::model::TaskState;
use acceptance_tests::{Step, StepDef, TERRAFORM_BLOCK, TestCase, TestContext, step_package_zip};
use std::path::{Path, PathBuf};

/// The step package the examples use, installed once per test run (step packages are
/// server-wide).
fn install_acme_notify(ctx: &TestContext) {
    static ONCE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut done = ONCE.lock().unwrap();
    if *done {
        return;
    }
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "channel": {"type": "string"},
            "retries": {"type": "integer"},
            "token": {"type": "string"}
        },
        "required": ["channel"],
        "additionalProperties": false
    });
    let zip = step_package_zip(
        "acme-notify",
        "1.0.0",
        &[StepDef::new("acme-notify", schema)],
    );
    ctx.block_on(
        ctx.client
            .step_packages()
            .upload("acme-notify.1.0.0.zip", zip),
    )
    .expect("install acme-notify");
    *done = true;
}

/// Writes the files an example reads (`${path.module}/<path>`) into the test's working
/// directory: archives named `<id>.<version>.zip` are step packages of that ID and
/// version (so they serve as packages and step packages alike), others any zip.
fn write_example_files(ctx: &TestContext, example: &str) {
    for reference in example.split("${path.module}/").skip(1) {
        let rel = reference.split('"').next().unwrap_or_default();
        let base = rel.rsplit('/').next().unwrap_or_default();
        let (id, version) = match octopus_packaging::filename::PackageFileName::parse(base) {
            Ok(name) => (name.id, name.version.to_string()),
            Err(_) => ("example".to_string(), "1.0.0".to_string()),
        };
        let schema = serde_json::json!({"type": "object"});
        let bytes = step_package_zip(&id, &version, &[StepDef::new(&id, schema)]);
        let path = ctx.workdir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// An example directory's `main.tf` pointed at the test's space, with relative
/// module sources made absolute (the test runs it from another directory).
fn example_root(ctx: &TestContext, rel: &str) -> String {
    let dir = examples().join(rel);
    let text = read(&dir.join("main.tf"));
    assert!(
        text.contains("provider \"octopus\" {}"),
        "{rel} configures through the environment"
    );
    let mut out = text.replace("provider \"octopus\" {}", &ctx.provider_config());
    for line in text.lines() {
        if let Some(src) = line.trim().strip_prefix("source").map(str::trim)
            && let Some(path) = src.strip_prefix('=').map(|s| s.trim().trim_matches('"'))
            && path.starts_with("..")
        {
            let abs = dir.join(path).canonicalize().unwrap();
            out = out.replace(&format!("\"{path}\""), &format!("\"{}\"", abs.display()));
        }
    }
    out
}

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
        install_acme_notify(&ctx);
        let example = read(&dir.join("resource.tf"));
        let import = read(&dir.join("import.sh"));
        let line = import
            .lines()
            .find(|l| l.starts_with("terraform import "))
            .expect("an import command");
        let address = line.split_whitespace().nth(2).expect("address").to_string();
        let documented_id = line.split_whitespace().nth(3).expect("ID").to_string();
        assert!(documented_id.contains('-'), "{line}");
        write_example_files(&ctx, &example);
        // What an import cannot know: secrets the server never returns, local paths.
        let ignored = ["password", "secret_key", "source", "sensitive_value"];
        // Variables are imported as <owner_id>:<variable_id>.
        let import = if documented_id.contains(':') {
            Step::import_with(&address, |a| {
                format!(
                    "{}:{}",
                    a["owner_id"].as_str().expect("owner_id in state"),
                    a["id"].as_str().expect("id in state")
                )
            })
        } else {
            Step::import(&address)
        };
        let import = import.ignoring(&ignored);
        TestCase::new(vec![Step::config(&example), import]).run(&ctx);
    }
}

#[test]
fn data_source_examples_apply() {
    let ctx = TestContext::new();
    install_acme_notify(&ctx);
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
    for version in ["1.0.0", "1.2.0", "2.0.0-beta.1"] {
        let file = ctx.workdir.path().join(format!("web.{version}.zip"));
        std::fs::write(&file, step_package_zip("web", version, &[])).unwrap();
        ctx.block_on(ctx.client.packages(&ctx.space_id).upload_path(
            &file,
            octopus_client::OverwriteMode::FailIfExists,
            |_, _| {},
        ))
        .unwrap();
    }

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
            "notify_version",
            "built_in_feed_id",
            "web_latest_1x",
        ] {
            assert!(
                outputs[name]["value"]
                    .as_str()
                    .is_some_and(|v| !v.is_empty()),
                "{name}: {outputs}"
            );
        }
        assert_eq!(outputs["web_step_names"]["value"], serde_json::json!([]));
        assert_eq!(outputs["built_in_feed_id"]["value"], "feeds-builtin");
        assert_eq!(outputs["web_latest_1x"]["value"], "1.2.0");
        assert_eq!(
            outputs["web_versions"]["value"],
            serde_json::json!(["2.0.0-beta.1", "1.2.0", "1.0.0"])
        );
        assert_eq!(
            outputs["notify_inputs_schema"]["value"]["required"],
            serde_json::json!(["channel"])
        );
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

/// `examples/ci-push`: the one-line `curl` push of `push.sh`, then the same build's
/// next package as code; destroy removes only the one Terraform manages.
#[test]
fn ci_push_pushes_both_ways() {
    let ctx = TestContext::new();
    let dir = examples().join("ci-push");
    let wd = ctx.workdir.path();
    std::fs::create_dir_all(wd.join("dist")).unwrap();
    for version in ["1.0.0", "1.0.1"] {
        let bytes = step_package_zip("web", version, &[]);
        std::fs::write(wd.join(format!("dist/web.{version}.zip")), bytes).unwrap();
    }
    let backend = acceptance_tests::Backend::get();
    let push = std::process::Command::new("sh")
        .arg(dir.join("push.sh"))
        .current_dir(wd)
        .env("OCTOPUS_URL", backend.url())
        .env("OCTOPUS_APIKEY", backend.api_key())
        .env("OCTOPUS_SPACE_ID", &ctx.space_id)
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "push.sh: {}{}",
        String::from_utf8_lossy(&push.stdout),
        String::from_utf8_lossy(&push.stderr)
    );
    let packages = ctx.client.packages(&ctx.space_id);
    let by_ci = ctx.block_on(packages.get("packages-web.1.0.0")).unwrap();
    assert_eq!(
        by_ci.package_size_bytes,
        wd.join("dist/web.1.0.0.zip").metadata().unwrap().len()
    );

    let main = read(&dir.join("main.tf"));
    assert!(
        main.contains("provider \"octopus\" {}"),
        "configures through the environment"
    );
    // Relative to Terraform's directory, which the in-process provider does not share.
    let config = main
        .replace("provider \"octopus\" {}", &ctx.provider_config())
        .replace("${path.module}", "${abspath(path.module)}");
    ctx.workdir.config(&config);
    ctx.workdir.apply();
    ctx.workdir.assert_empty_plan();
    let outputs = &ctx.workdir.state()["values"]["outputs"];
    assert!(
        outputs["pushed"]["value"]
            .as_str()
            .unwrap()
            .starts_with("web 1.0.1 (sha256 "),
        "{outputs}"
    );
    ctx.workdir.destroy();
    assert!(
        ctx.block_on(packages.get("packages-web.1.0.1"))
            .unwrap_err()
            .is_not_found()
    );
    ctx.block_on(packages.get("packages-web.1.0.0"))
        .expect("the CI's package is not Terraform's to delete");
}

#[test]
fn provider_example_validates() {
    let ctx = TestContext::new();
    let example = read(&examples().join("provider/provider.tf"));
    ctx.workdir.config(&format!("{TERRAFORM_BLOCK}\n{example}"));
    let r = ctx.workdir.run(&["validate", "-no-color"]);
    assert_eq!(r.code, 0, "{}", r.output());
}

#[test]
fn module_serves_two_projects() {
    let ctx = TestContext::new();
    ctx.workdir
        .config(&example_root(&ctx, "modules/two-projects"));
    ctx.workdir.run(&["init", "-no-color"]);
    ctx.workdir.apply();
    ctx.workdir.assert_empty_plan();
    let projects = ctx
        .block_on(
            ctx.client
                .projects(&ctx.space_id)
                .list_all(&Default::default()),
        )
        .unwrap();
    assert_eq!(projects.len(), 2);
    for p in &projects {
        let process = ctx
            .block_on(
                ctx.client
                    .deployment_processes(&ctx.space_id)
                    .get_for_project(p.id.as_deref().unwrap()),
            )
            .unwrap();
        let names: Vec<_> = process.steps.iter().map(|s| s.name.as_str()).collect();
        let package = p.name.to_lowercase();
        assert_eq!(
            names,
            [format!("Deploy {package}"), format!("Smoke test {package}")]
        );
    }
    ctx.workdir.destroy();
}

#[test]
fn space_per_branch_applies_and_destroys() {
    let mut ctx = TestContext::new();
    ctx.workdir.env("TF_VAR_branch", &ctx.code.clone());
    ctx.workdir.config(&example_root(&ctx, "space-per-branch"));
    ctx.workdir.run(&["init", "-no-color"]);
    ctx.workdir.apply();
    ctx.workdir.assert_empty_plan();
    let space_id = ctx.workdir.state()["values"]["outputs"]["space_id"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = acceptance_tests::Backend::get().client(None);
    let space = ctx.block_on(admin.spaces().get(&space_id)).unwrap();
    assert_eq!(space.name, format!("branch-{}", ctx.code));
    let envs = ctx
        .block_on(admin.environments(&space_id).list_all(&Default::default()))
        .unwrap();
    assert_eq!(envs.len(), 2);
    let projects = ctx
        .block_on(admin.projects(&space_id).list_all(&Default::default()))
        .unwrap();
    let process = ctx
        .block_on(
            admin
                .deployment_processes(&space_id)
                .get_for_project(projects[0].id.as_deref().unwrap()),
        )
        .unwrap();
    assert_eq!(process.steps.len(), 2);
    ctx.workdir.destroy();
    let gone = ctx.block_on(admin.spaces().get(&space_id));
    assert!(
        gone.is_err_and(|e| e.is_not_found()),
        "the branch's space is gone"
    );
}

/// `examples/scripts-as-code`: applied, then deployed to both environments: the
/// steps run, the scoped variable and the output variable arrive, the secret is
/// masked.
#[test]
fn scripts_as_code_deploys() {
    let ctx = TestContext::new();
    let example = read(&examples().join("scripts-as-code/main.tf"));
    ctx.workdir
        .config(&example.replace("provider \"octopus\" {}", &ctx.provider_config()));
    ctx.workdir.apply();
    ctx.workdir.assert_empty_plan();
    let id = |address: &str| ctx.attrs(address)["id"].as_str().unwrap().to_owned();
    let project = id("octopus_project.hello");
    let release = ctx.create_release(&project);
    let dev = ctx.deploy_release(&release, &id("octopus_environment.development"));
    assert_eq!(dev.task.state, TaskState::Success, "{}", dev.log);
    assert!(
        dev.logged("Hello, world, from Development (release 0.0.1)"),
        "{}",
        dev.log
    );
    assert!(dev.logged("Using token ********"), "{}", dev.log);
    assert!(!dev.log.contains("s3cr3t-token"), "{}", dev.log);
    assert_eq!(dev.output("Greet", "Greeting"), Some("Hello, world"));
    assert!(
        dev.logged("The first step said: Hello, world"),
        "{}",
        dev.log
    );
    // The lifecycle lets the release go on to Production once it reached Development.
    let prod = ctx.deploy_release(&release, &id("octopus_environment.production"));
    assert_eq!(prod.task.state, TaskState::Success, "{}", prod.log);
    assert!(
        prod.logged("Hello, everyone, from Production (release 0.0.1)"),
        "{}",
        prod.log
    );
    ctx.workdir.destroy();
}
