//! `octopus_step_package` with real Terraform and real archives: install, import, a
//! new version in the file (installed in place; the old one uninstalled once unused),
//! a destroy refused while a process uses the version (naming it), deletion on the
//! server, and what is refused at plan (untrusted, invalid, misnamed).

use acceptance_tests::octopus_client::model::{
    Action, DeploymentProcess, Project, Step as ProcessStep,
};
use acceptance_tests::{Step, StepDef, TestCase, TestContext, step_package_zip};
use serde_json::json;

const ID: &str = "acc-steps";

fn archive(version: &str) -> Vec<u8> {
    let schema = json!({"type": "object", "properties": {"to": {"type": "string"}}});
    let mut step = StepDef::new("acc-steps-notify", schema);
    if !version.starts_with("1.") {
        step = step.with_migrations(json!({"migrations": [{"from": 1, "ops": []}]}));
    }
    step_package_zip(ID, version, &[step])
}

fn put(ctx: &TestContext, name: &str, bytes: &[u8]) {
    let dir = ctx.workdir.path().join("steps");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// The configuration installing `acc-steps` at `version` (its file written first).
fn config(ctx: &TestContext, version: &str) -> String {
    put(ctx, &format!("{ID}.{version}.zip"), &archive(version));
    format!(
        "resource \"octopus_step_package\" \"steps\" {{\n  source = \"${{path.module}}/steps/{ID}.{version}.zip\"\n}}\n"
    )
}

fn installed(ctx: &TestContext) -> Vec<String> {
    match ctx.block_on(ctx.client.step_packages().get(ID)) {
        Ok(p) => p.versions,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => panic!("{e}"),
    }
}

/// A project whose process uses the package's step at `version`; returns the process.
fn use_step(ctx: &TestContext, version: &str) -> DeploymentProcess {
    let project = ctx
        .block_on(
            ctx.client
                .projects(&ctx.space_id)
                .create(&Project::new(format!("uses-{}", ctx.code))),
        )
        .unwrap();
    uses_in(ctx, project.id.as_deref().unwrap(), version)
}

/// Makes the process of `project_id` use the package's step at `version`.
fn uses_in(ctx: &TestContext, project_id: &str, version: &str) -> DeploymentProcess {
    let processes = ctx.client.deployment_processes(&ctx.space_id);
    let mut p = ctx.block_on(processes.get_for_project(project_id)).unwrap();
    p.steps = vec![ProcessStep {
        name: "Notify".into(),
        actions: vec![Action {
            name: "Notify".into(),
            action_type: "acc-steps-notify".into(),
            step_package_version: Some(version.into()),
            inputs: Some(json!({"to": "ops"})),
            ..Action::default()
        }],
        ..ProcessStep::default()
    }];
    ctx.block_on(processes.update(&p)).unwrap()
}

fn process(ctx: &TestContext) -> DeploymentProcess {
    let processes = ctx.client.deployment_processes(&ctx.space_id);
    let page = ctx.block_on(processes.list(&Default::default())).unwrap();
    page.items
        .into_iter()
        .find(|p| !p.steps.is_empty())
        .expect("the process using the step")
}

fn set_usage(ctx: &TestContext, version: Option<&str>) {
    let processes = ctx.client.deployment_processes(&ctx.space_id);
    let mut p = process(ctx);
    match version {
        Some(v) => p.steps[0].actions[0].step_package_version = Some(v.into()),
        None => p.steps.clear(),
    }
    ctx.block_on(processes.update(&p)).unwrap();
}

#[test]
fn step_package_lifecycle() {
    let ctx = TestContext::new();
    let (v1, v11, v2) = (
        config(&ctx, "1.0.0"),
        config(&ctx, "1.1.0"),
        config(&ctx, "2.0.0"),
    );
    TestCase::new(vec![
        Step::config(&v1).check(|ctx| {
            let a = ctx.attrs("octopus_step_package.steps");
            assert_eq!(a["id"], "acc-steps/1.0.0");
            assert_eq!(a["package_id"], ID);
            assert_eq!(a["version"], "1.0.0");
            assert_eq!(
                a["steps"],
                json!([{"id": "acc-steps-notify", "name": "Step acc-steps-notify"}])
            );
            assert_eq!(a["sha256"].as_str().unwrap().len(), 64);
            assert_eq!(installed(ctx), ["1.0.0"]);
        }),
        Step::import("octopus_step_package.steps").ignoring(&["source"]),
        Step::import_with("octopus_step_package.steps", |_| format!("{ID}.1.0.0"))
            .ignoring(&["source"]),
        // A new version in the file: installed in place of the old one; the process's
        // usage moves to it (same major), so the old one is uninstalled.
        Step::plan_shows(&v11, r#"~ version\s+= "1.0.0" -> "1.1.0""#).before(|ctx| {
            use_step(ctx, "1.0.0");
        }),
        Step::config(&v11).check(|ctx| {
            assert_eq!(installed(ctx), ["1.1.0"]);
            let p = process(ctx);
            let v = p.steps[0].actions[0].step_package_version.as_deref();
            assert_eq!(v, Some("1.1.0"));
        }),
        // A new major: installed; 1.1.0 stays while the process uses it.
        Step::config(&v2).check(|ctx| {
            assert_eq!(installed(ctx), ["1.1.0", "2.0.0"]);
            assert_eq!(ctx.attrs("octopus_step_package.steps")["version"], "2.0.0");
        }),
        // Destroy is refused while a process uses the version, naming the process.
        Step::config(&v2).check(|ctx| {
            set_usage(ctx, Some("2.0.0"));
            let r = ctx.terraform(&["destroy", "-auto-approve", "-no-color"]);
            assert_ne!(r.code, 0, "{}", r.output());
            let id = process(ctx).id.unwrap();
            assert!(
                r.stderr.contains("processes still use it") && r.stderr.contains(&id),
                "{}",
                r.stderr
            );
            assert_eq!(installed(ctx), ["1.1.0", "2.0.0"]);
            set_usage(ctx, None);
        }),
        // Uninstalled on the server: installed again.
        Step::plan_shows(&v2, r"1 to add, 0 to change, 0 to destroy").before(|ctx| {
            ctx.block_on(ctx.client.step_packages().uninstall(ID, "2.0.0"))
                .unwrap();
        }),
        Step::config(&v2).check(|ctx| assert_eq!(installed(ctx), ["1.1.0", "2.0.0"])),
        // A usage that goes away while destroy runs (a project deleted by the same
        // destroy, say): destroy waits for it instead of failing.
        Step::config(&v2).check(|ctx| {
            let projects = ctx.client.projects(&ctx.space_id);
            let name = format!("uses-{}", ctx.code);
            let project = ctx.block_on(projects.find_by_name(&name)).unwrap().unwrap();
            uses_in(ctx, project.id.as_deref().unwrap(), "2.0.0");
            let (client, space) = (ctx.client.clone(), ctx.space_id.clone());
            let clearer = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(1500));
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let processes = client.deployment_processes(&space);
                    let page = processes.list(&Default::default()).await.unwrap();
                    let mut p = page
                        .items
                        .into_iter()
                        .find(|p| !p.steps.is_empty())
                        .unwrap();
                    p.steps.clear();
                    processes.update(&p).await.unwrap();
                });
            });
            let r = ctx.terraform(&["destroy", "-auto-approve", "-no-color"]);
            clearer.join().unwrap();
            assert_eq!(r.code, 0, "{}", r.output());
            assert_eq!(installed(ctx), ["1.1.0"]);
        }),
    ])
    .check_destroy(|ctx| {
        assert_eq!(
            installed(ctx),
            ["1.1.0"],
            "the managed version is uninstalled"
        );
        ctx.block_on(ctx.client.step_packages().uninstall(ID, "1.1.0"))
            .unwrap();
    })
    .run(&ctx);
}

#[test]
fn bad_step_packages_are_refused_at_plan() {
    let ctx = TestContext::new();
    let schema = json!({"type": "object"});
    put(
        &ctx,
        "untrusted-steps.1.0.0.zip",
        &step_package_zip(
            "untrusted-steps",
            "1.0.0",
            &[StepDef::new("untrusted", schema.clone())],
        ),
    );
    put(&ctx, "acc-bad-steps.1.0.0.zip", b"not a zip at all");
    put(
        &ctx,
        "acc-bad-steps.2.0.0.zip",
        &step_package_zip("acc-bad-steps", "1.0.0", &[StepDef::new("acc-bad", schema)]),
    );
    put(&ctx, "acc-bad-steps.tar", b"");
    let at = |name: &str| {
        format!(
            "resource \"octopus_step_package\" \"s\" {{\n  source = \"${{path.module}}/steps/{name}\"\n}}\n"
        )
    };
    TestCase::new(vec![
        Step::config(&at("untrusted-steps.1.0.0.zip")).expect_error(
            "(?s)The server does not trust step package untrusted-steps 1.0.0.*--trust-step-package\\s+untrusted-steps",
        ),
        Step::config(&at("acc-bad-steps.1.0.0.zip"))
            .expect_error("(?s)Invalid step package.*acc-bad-steps.1.0.0.zip"),
        Step::config(&at("acc-bad-steps.2.0.0.zip"))
            .expect_error("(?s)Invalid step package.*acc-bad-steps.2.0.0.zip"),
        Step::config(&at("acc-bad-steps.tar"))
            .expect_error("(?s)Invalid step package.*(no version|not .tar)"),
        Step::config(&at("missing.1.0.0.zip"))
            .expect_error("(?s)Cannot read the step package.*missing.1.0.0.zip"),
    ])
    .run(&ctx);
    assert!(
        ctx.block_on(ctx.client.step_packages().get("acc-bad-steps"))
            .unwrap_err()
            .is_not_found()
    );
}

/// Octopus's format: the CLI-built `demo-echo` 1.0.0 installed by `octopus_step_package`,
/// used by a process with inputs and a sensitive input; wrong inputs fail the plan naming
/// the input.
#[test]
fn octopus_format_step_package_installs_and_validates_inputs() {
    let _lock = acceptance_tests::demo_echo_lock();
    let ctx = TestContext::new();
    put(
        &ctx,
        "demo-echo.1.0.0.zip",
        &std::fs::read(acceptance_tests::demo_echo_archive("1.0.0")).unwrap(),
    );
    let project = ctx
        .block_on(
            ctx.client
                .projects(&ctx.space_id)
                .create(&Project::new(format!("echo-{}", ctx.code))),
        )
        .unwrap();
    let mut ctx = ctx;
    ctx.workdir
        .env("TF_VAR_project_id", project.id.as_deref().unwrap());
    let package = "variable \"project_id\" {\n  type = string\n}\n\nresource \"octopus_step_package\" \"echo\" {\n  source = \"${path.module}/steps/demo-echo.1.0.0.zip\"\n}\n";
    let secret = format!("tok-{}", ctx.code);
    let with = |inputs: &str, secrets: &str| {
        format!(
            r#"{package}
resource "octopus_deployment_process" "echo" {{
  project_id = var.project_id
  depends_on = [octopus_step_package.echo]
  step {{
    name = "Echo"
    step_package = {{
      id               = "demo-echo"
      version          = "1"
      inputs           = {inputs}
      sensitive_inputs = {secrets}
    }}
  }}
}}
"#
        )
    };
    let good = with(
        r#"{ message = "hello", repeat = 2, uppercase = true }"#,
        &format!("{{ token = \"{secret}\" }}"),
    );
    let secret1 = secret.clone();
    TestCase::new(vec![
        Step::config(package).check(|ctx| {
            let a = ctx.attrs("octopus_step_package.echo");
            assert_eq!(a["id"], "demo-echo/1.0.0");
            assert_eq!(a["package_id"], "demo-echo");
            assert_eq!(
                a["steps"],
                json!([{"id": "demo-echo", "name": "Echo a message"}])
            );
        }),
        Step::config(&good).check(move |ctx| {
            let p = process(ctx);
            let a = &p.steps[0].actions[0];
            assert_eq!(a.action_type, "demo-echo");
            assert_eq!(a.step_package_version.as_deref(), Some("1.0.0"));
            let inputs = a.inputs.clone().unwrap();
            assert_eq!(inputs["repeat"], json!(2));
            assert_eq!(inputs["token"]["HasValue"], json!(true));
            assert!(!inputs.to_string().contains(&secret1), "{inputs}");
        }),
        // Bound values are accepted for primitives.
        Step::config(&with(
            r##"{ message = "#{Message}", repeat = "#{Repeat}", uppercase = true }"##,
            &format!("{{ token = \"{secret}\" }}"),
        )),
        Step::config(&with(
            r#"{ message = "hello", repeat = "two", uppercase = true }"#,
            &format!("{{ token = \"{secret}\" }}"),
        ))
        .expect_error(r#"(?s)Invalid input for step "Echo".*/repeat \(step\[0\]\.step_package\.inputs\.repeat\): expected number, got string"#),
        // The token in plain inputs: the schema wants a sensitive value.
        Step::config(&with(
            r#"{ message = "hello", repeat = 2, uppercase = true, token = "abcd" }"#,
            "{}",
        ))
        .expect_error(r#"(?s)Invalid input for step "Echo".*/token \(step\[0\]\.step_package\.inputs\.token\): expected\s+a\s+sensitive\s+value.*sensitive_inputs"#),
        // A secret the schema does not mark sensitive.
        Step::config(&with(
            r#"{ repeat = 2, uppercase = true }"#,
            &format!("{{ token = \"{secret}\", message = \"hidden\" }}"),
        ))
        .expect_error(r#"(?s)Invalid input for step "Echo".*/message \(step\[0\]\.step_package\.sensitive_inputs\.message\):\s+is\s+not\s+a\s+sensitive\s+value"#),
        Step::config(&good),
    ])
    .run(&ctx);
}

/// Octopus's format across majors: with 2.0.0 installed a usage stays on 1.x; asking
/// for version 2 with the old inputs fails the plan showing what 2.0.0's migration.js
/// makes of them; with the migrated inputs it upgrades, and the deployment runs 2.0.0.
#[test]
fn octopus_format_major_upgrade_shows_what_migration_js_produces() {
    let _lock = acceptance_tests::demo_echo_lock();
    let ctx = TestContext::new();
    for v in ["1.0.0", "2.0.0"] {
        let bytes = std::fs::read(acceptance_tests::demo_echo_archive(v)).unwrap();
        let client = ctx.client.clone();
        ctx.block_on(async move {
            client
                .step_packages()
                .upload(&format!("demo-echo.{v}.zip"), bytes)
                .await
        })
        .unwrap();
    }
    let config = |version: &str, inputs: &str| {
        format!(
            r#"
resource "octopus_environment" "dev" {{
  name = "echo-dev-{{code}}"
}}

resource "octopus_project" "echo" {{
  name = "echo-{{code}}"
}}

resource "octopus_deployment_process" "echo" {{
  project_id = octopus_project.echo.id
  step {{
    name = "Echo"
    step_package = {{
      id               = "demo-echo"
      version          = "{version}"
      inputs           = {inputs}
      sensitive_inputs = {{ token = "tok-{{code}}-secret" }}
    }}
  }}
}}
"#
        )
    };
    let v1 = config(
        "1",
        r#"{ message = "hello", repeat = 1, uppercase = false }"#,
    );
    let v2_old = config(
        "2",
        r#"{ message = "hello", repeat = 1, uppercase = false }"#,
    );
    let v2 = config("2", r#"{ text = "hello", repeat = 1, uppercase = false }"#);
    TestCase::new(vec![
        Step::config(&v1),
        Step::deploy("octopus_project.echo", "octopus_environment.dev").check_deployment(|d| {
            assert!(d.logged("hello"), "{}", d.log);
            assert_eq!(d.output("Echo", "Echoed"), Some("hello"));
        }),
        Step::config(&v2_old)
            .expect_error(r#"(?s)migration\.js turns the current\s+inputs.*text\s*=\s*"hello""#),
        Step::config(&v2).check(|ctx| {
            let p = process(ctx);
            assert_eq!(
                p.steps[0].actions[0].step_package_version.as_deref(),
                Some("2.0.0")
            );
        }),
        Step::deploy("octopus_project.echo", "octopus_environment.dev").check_deployment(|d| {
            assert_eq!(d.output("Echo", "Echoed"), Some("hello"));
            assert!(!d.log.contains("secret"), "{}", d.log);
        }),
    ])
    .run(&ctx);
}

/// Octopus's format with a package input: demo-echo 2.0.0's `bundle` names a package of
/// the action (`step_package_inputs_reference_id`), which the deployment extracts and
/// hands to the step as `extractedToPath`.
#[test]
fn octopus_format_package_inputs_reach_the_step_extracted() {
    let _lock = acceptance_tests::demo_echo_lock();
    let ctx = TestContext::new();
    let bytes = std::fs::read(acceptance_tests::demo_echo_archive("2.0.0")).unwrap();
    let client = ctx.client.clone();
    ctx.block_on(async move {
        client
            .step_packages()
            .upload("demo-echo.2.0.0.zip", bytes)
            .await
    })
    .unwrap();
    let tools = acceptance_tests::step_package_zip(
        "tools",
        "1.0.0",
        &[acceptance_tests::StepDef::new(
            "tools",
            json!({"type": "object"}),
        )],
    );
    put(&ctx, "tools.1.0.0.zip", &tools);
    let config = r#"
resource "octopus_package" "tools" {
  source = "${path.module}/steps/tools.1.0.0.zip"
}

resource "octopus_environment" "dev" {
  name = "bundle-dev-{code}"
}

resource "octopus_project" "echo" {
  name = "bundle-{code}"
}

resource "octopus_deployment_process" "echo" {
  project_id = octopus_project.echo.id
  step {
    name = "Echo"
    packages = {
      bundle = {
        package_id                       = octopus_package.tools.package_id
        step_package_inputs_reference_id = "bundle-ref"
      }
    }
    step_package = {
      id      = "demo-echo"
      version = "2"
      inputs = {
        text      = "with a bundle"
        repeat    = 1
        uppercase = false
        bundle    = { referenceId = "bundle-ref", feedId = "feeds-builtin", packageId = octopus_package.tools.package_id }
      }
      sensitive_inputs = { token = "bundle-token-{code}" }
    }
  }
}
"#;
    TestCase::new(vec![
        Step::config(config),
        Step::deploy("octopus_project.echo", "octopus_environment.dev").check_deployment(|d| {
            assert!(d.logged("with a bundle"), "{}", d.log);
            assert!(d.logged("Bundle extracted to "), "{}", d.log);
        }),
    ])
    .run(&ctx);
}

/// Installing a step package and using it in one apply. A usage of a package that is
/// neither installed nor installed by the configuration is refused at plan, saying how
/// to install it; with `depends_on` the usage is checked at plan against the archive
/// about to be installed; inputs unknown at plan are checked once known, during the
/// apply; then the apply installs the package first, saves the process, and the next
/// plan is empty.
#[test]
fn a_step_package_is_installed_and_used_in_one_apply() {
    let _lock = acceptance_tests::demo_echo_lock();
    let ctx = TestContext::new();
    // Other tests leave demo-echo installed (step packages are server-wide): start
    // without it, as a first install does.
    let client = ctx.client.clone();
    ctx.block_on(async move {
        let sp = client.step_packages();
        if let Ok(summary) = sp.get("demo-echo").await {
            for v in summary.versions {
                sp.uninstall("demo-echo", &v)
                    .await
                    .expect("uninstall demo-echo");
            }
        }
    });
    put(
        &ctx,
        "demo-echo.1.0.0.zip",
        &std::fs::read(acceptance_tests::demo_echo_archive("1.0.0")).unwrap(),
    );
    let installer = r#"
resource "octopus_step_package" "echo" {
  source = "${path.module}/steps/demo-echo.1.0.0.zip"
}
"#;
    let config = |depends: &str, repeat: &str| {
        let installer = if depends.is_empty() { "" } else { installer };
        format!(
            r#"{installer}
resource "octopus_project" "echo" {{
  name = "one-apply-{{code}}"
}}

resource "octopus_deployment_process" "echo" {{
  project_id = octopus_project.echo.id
  {depends}
  step {{
    name = "Echo"
    step_package = {{
      id               = "demo-echo"
      version          = "1"
      inputs           = {{ message = "hi", repeat = {repeat}, uppercase = false }}
      sensitive_inputs = {{ token = "one-apply-token" }}
    }}
  }}
}}
"#
        )
    };
    let depends = "depends_on = [octopus_step_package.echo]";
    let nothing_installed = |ctx: &TestContext| {
        assert!(
            ctx.block_on(ctx.client.step_packages().get("demo-echo"))
                .is_err_and(|e| e.is_not_found()),
            "a refused plan installs nothing"
        );
    };
    TestCase::new(vec![
        Step::config(&config("", "1"))
            .expect_error(
                r"Step package not installed[\s\S]*depends_on\s+=\s+\[octopus_step_package",
            )
            .check(nothing_installed),
        // Checked against the archive's schema before anything is installed.
        Step::config(&config(depends, "\"three\""))
            .expect_error(r#"Invalid input for step "Echo"[\s\S]*/repeat"#)
            .check(nothing_installed),
        // Unknown at plan (the project is created by this apply), a string once known:
        // refused during the apply, before the process is saved.
        Step::config(&config(depends, "octopus_project.echo.id"))
            .expect_error(r#"Invalid input for step "Echo"[\s\S]*/repeat"#)
            .check(|ctx| {
                let processes = ctx.client.deployment_processes(&ctx.space_id);
                let page = ctx.block_on(processes.list(&Default::default())).unwrap();
                assert!(page.items.iter().all(|p| p.steps.is_empty()));
            }),
        Step::config(&config(depends, "1")).check(|ctx| {
            let p = process(ctx);
            assert_eq!(
                p.steps[0].actions[0].step_package_version.as_deref(),
                Some("1.0.0")
            );
        }),
    ])
    .run(&ctx);
}
