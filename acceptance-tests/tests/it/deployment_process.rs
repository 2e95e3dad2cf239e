//! `octopus_deployment_process` with real Terraform: script, package and rolling
//! steps; steps matched by name (insert, remove, reorder keep the others' IDs);
//! secrets; drift; import; destroy; step-package steps checked at plan time, their
//! automatic minor upgrades and explicit major upgrades.

use acceptance_tests::{Json, Step, StepDef, TestCase, TestContext, step_package_zip};
use octopus_client::model::DeploymentProcess;
use serde_json::json;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

const BASE: &str = r#"
resource "octopus_environment" "prod" {
  name = "prod-{code}"
}
resource "octopus_project" "app" {
  name = "app-{code}"
}
"#;

fn script(name: &str, body: &str, extra: &str) -> String {
    format!(
        r#"
  step {{
    name = "{name}"
    type = "Octopus.Script"
    execution_properties = {{
      "Octopus.Action.RunOnServer"         = "true"
      "Octopus.Action.Script.ScriptSource" = "Inline"
      "Octopus.Action.Script.Syntax"       = "Bash"
      "Octopus.Action.Script.ScriptBody"   = "{body}"
    }}
{extra}  }}
"#
    )
}

const DEPLOY_WEB: &str = r#"
  step {
    name       = "Deploy web"
    type       = "Octopus.TentaclePackage"
    properties = { "Octopus.Action.TargetRoles" = "web" }
    primary_package = { package_id = "web" }
    packages = {
      tools = { package_id = "tools", extract_during_deployment = false }
    }
  }
"#;

const ROLLING: &str = r#"
  step {
    name = "Rolling"
    type = "Octopus.Script"
    execution_properties = { "Octopus.Action.Script.ScriptBody" = "echo one" }
    child_step {
      name = "Rolling two"
      type = "Octopus.Script"
      execution_properties = { "Octopus.Action.Script.ScriptBody" = "echo two" }
    }
  }
"#;

fn process(steps: &[String]) -> String {
    format!(
        "{BASE}\nresource \"octopus_deployment_process\" \"app\" {{\n  project_id = octopus_project.app.id\n{}}}\n",
        steps.concat()
    )
}

fn server_process(ctx: &TestContext) -> DeploymentProcess {
    let id = ctx.attrs("octopus_deployment_process.app")["id"]
        .as_str()
        .unwrap()
        .to_string();
    ctx.block_on(ctx.client.deployment_processes(&ctx.space_id).get(&id))
        .unwrap()
}

/// The raw JSON the server answers for the process (to look for secrets).
fn raw_process(ctx: &TestContext) -> String {
    let id = ctx.attrs("octopus_deployment_process.app")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v: Json = ctx
        .block_on(ctx.client.get_json(
            &format!("/api/{}/deploymentprocesses/{id}", ctx.space_id),
            &[],
        ))
        .unwrap();
    v.to_string()
}

fn step_ids(ctx: &TestContext) -> BTreeMap<String, String> {
    server_process(ctx)
        .steps
        .into_iter()
        .map(|s| (s.name, s.id.unwrap()))
        .collect()
}

fn step_names(ctx: &TestContext) -> Vec<String> {
    server_process(ctx)
        .steps
        .into_iter()
        .map(|s| s.name)
        .collect()
}

#[test]
fn script_package_and_rolling_steps() {
    let ctx = TestContext::new();
    let secret = format!("hunter2-{}", ctx.code);
    let hello = |body: &str| {
        script(
            "Say hello",
            body,
            &format!(
                "    environments = [octopus_environment.prod.id]\n    sensitive_execution_properties = {{ \"Smtp.Password\" = \"{secret}\" }}\n"
            ),
        )
    };
    let v1 = process(&[hello("echo hello"), DEPLOY_WEB.into()]);
    let v2 = process(&[hello("echo hello again"), DEPLOY_WEB.into()]);
    let inserted = process(&[
        script("First", "echo first", ""),
        hello("echo hello again"),
        DEPLOY_WEB.into(),
        ROLLING.into(),
    ]);
    let reordered = process(&[
        ROLLING.into(),
        DEPLOY_WEB.into(),
        script("First", "echo first", ""),
    ]);
    let ids = Rc::new(RefCell::new(BTreeMap::new()));
    let (ids1, ids2, ids3, ids4) = (ids.clone(), ids.clone(), ids.clone(), ids.clone());
    let secret1 = secret.clone();
    TestCase::new(vec![
        // Create: a script step scoped to an environment created in the same apply (a
        // partly known list at plan time), and a package step.
        Step::config(&v1).check(move |ctx| {
            let p = server_process(ctx);
            assert_eq!(step_names(ctx), ["Say hello", "Deploy web"]);
            let hello = &p.steps[0].actions[0];
            let env = ctx.attrs("octopus_environment.prod")["id"].clone();
            assert_eq!(hello.environments, [env.as_str().unwrap()]);
            assert_eq!(hello.name, "Say hello");
            let web = &p.steps[1].actions[0];
            assert_eq!(web.packages.len(), 2);
            let tools = web.packages.iter().find(|r| r.name == "tools").unwrap();
            assert_eq!(tools.properties["Extract"], "False");
            // The secret went in as a sensitive value and never comes back.
            assert!(!raw_process(ctx).contains(&secret1), "{}", raw_process(ctx));
            let state = ctx.attrs("octopus_deployment_process.app");
            assert_eq!(state["step"][0]["id"], p.steps[0].id.clone().unwrap());
            assert_eq!(state["step"][0]["action_id"], hello.id.clone().unwrap());
            *ids1.borrow_mut() = step_ids(ctx);
        }),
        // In place: only the changed step's body.
        Step::plan_shows(&v2, r"1 to change, 0 to destroy"),
        Step::config(&v2).check(move |ctx| {
            assert_eq!(step_ids(ctx), *ids2.borrow(), "IDs kept");
            let p = server_process(ctx);
            let body = p.steps[0].actions[0].properties["Octopus.Action.Script.ScriptBody"].clone();
            assert_eq!(body.as_text(), Some("echo hello again"));
        }),
        // A secret cleared outside Terraform shows as a change.
        Step::plan_shows(&v2, r"sensitive_execution_properties").before(|ctx| {
            let processes = ctx.client.deployment_processes(&ctx.space_id);
            let mut p = server_process(ctx);
            let props = &mut p.steps[0].actions[0].properties;
            props.insert(
                "Smtp.Password".into(),
                octopus_client::model::PropertyValue::Sensitive(Default::default()),
            );
            ctx.block_on(processes.update(&p)).unwrap();
        }),
        Step::config(&v2),
        // Insert a step before the others and a rolling step after them: the others
        // keep their IDs and contents.
        Step::config(&inserted).check(move |ctx| {
            let now = step_ids(ctx);
            for (name, id) in ids3.borrow().iter() {
                assert_eq!(now.get(name), Some(id), "{name} kept its ID");
            }
            assert_eq!(
                step_names(ctx),
                ["First", "Say hello", "Deploy web", "Rolling"]
            );
            let rolling = &server_process(ctx).steps[3];
            assert_eq!(rolling.actions.len(), 2);
            assert_eq!(rolling.actions[1].name, "Rolling two");
            *ids3.borrow_mut() = now;
        }),
        // Remove one step and reorder the rest.
        Step::config(&reordered).check(move |ctx| {
            let now = step_ids(ctx);
            assert_eq!(step_names(ctx), ["Rolling", "Deploy web", "First"]);
            for name in ["Rolling", "Deploy web", "First"] {
                assert_eq!(now.get(name), ids4.borrow().get(name), "{name} kept its ID");
            }
        }),
        // Drift made through the API is shown, then repaired.
        Step::plan_shows(&reordered, r#""echo changed" -> "echo first""#).before(|ctx| {
            let processes = ctx.client.deployment_processes(&ctx.space_id);
            let mut p = server_process(ctx);
            p.steps[2].actions[0].properties.insert(
                "Octopus.Action.Script.ScriptBody".into(),
                "echo changed".into(),
            );
            ctx.block_on(processes.update(&p)).unwrap();
        }),
        Step::config(&reordered).check(|ctx| {
            let p = server_process(ctx);
            let body = p.steps[2].actions[0].properties["Octopus.Action.Script.ScriptBody"].clone();
            assert_eq!(body.as_text(), Some("echo first"));
        }),
        // Import by process ID and by project ID compare equal.
        Step::import("octopus_deployment_process.app"),
        Step::import_with("octopus_deployment_process.app", |a| {
            a["project_id"].as_str().unwrap().to_string()
        }),
    ])
    .check_destroy(|ctx| {
        // The process stays (it belongs to the project, which is destroyed too).
        let left = ctx
            .block_on(
                ctx.client
                    .projects(&ctx.space_id)
                    .list_all(&Default::default()),
            )
            .unwrap();
        assert!(left.is_empty(), "{left:?}");
    })
    .run(&ctx);
}

fn notify_v1() -> Json {
    json!({
        "type": "object",
        "properties": {
            "channel": {"type": "string"},
            "retries": {"type": "integer"},
            "token": {"type": "string"}
        },
        "required": ["channel"],
        "additionalProperties": false
    })
}

fn notify_v1_1() -> Json {
    let mut s = notify_v1();
    s["properties"]["emoji"] = json!({"type": "string"});
    s
}

fn notify_v2() -> Json {
    json!({
        "type": "object",
        "properties": {
            "target": {
                "type": "object",
                "properties": {"channel": {"type": "string"}},
                "required": ["channel"],
                "additionalProperties": false
            },
            "retries": {"type": "integer"},
            "token": {"type": "string"}
        },
        "required": ["target"],
        "additionalProperties": false
    })
}

fn db_v1() -> Json {
    json!({
        "type": "object",
        "properties": {
            "database": {
                "type": "object",
                "properties": {"host": {"type": "string"}, "port": {"type": "integer"}},
                "required": ["host"]
            },
            "tags": {"type": "array", "items": {"type": "string"}}
        },
        "required": ["database"]
    })
}

fn install(ctx: &TestContext, package: &str, version: &str, steps: &[StepDef]) {
    let zip = step_package_zip(package, version, steps);
    let name = format!("{package}.{version}.zip");
    ctx.block_on(ctx.client.step_packages().upload(&name, zip))
        .unwrap_or_else(|e| panic!("install {name}: {e}"));
}

const SP_BASE: &str = r#"
variable "project_id" {
  type = string
}
"#;

fn sp_process(notify: &str, extra: &str) -> String {
    format!(
        r#"{SP_BASE}
resource "octopus_deployment_process" "app" {{
  project_id = var.project_id
  step {{
    name = "Notify"
    step_package = {{
{notify}
    }}
  }}
  step {{
    name = "Migrate"
    step_package = {{
      id      = "acc-db-migrate"
      version = "1"
      inputs  = {{ database = {{ host = "db", port = 5432 }}, tags = ["a", "b"] }}
    }}
  }}
{extra}}}
"#
    )
}

#[test]
fn step_package_steps() {
    let ctx = TestContext::new();
    install(
        &ctx,
        "acc-notify",
        "1.0.0",
        &[StepDef::new("acc-notify", notify_v1())],
    );
    install(
        &ctx,
        "acc-db",
        "1.0.0",
        &[StepDef::new("acc-db-migrate", db_v1())],
    );
    // The project is made outside Terraform, so destroy can be seen to empty its process.
    let project = ctx
        .block_on(async {
            let defaults = ctx
                .client
                .lifecycles(&ctx.space_id)
                .list_all(&Default::default())
                .await?;
            let groups = ctx
                .client
                .project_groups(&ctx.space_id)
                .list_all(&Default::default())
                .await?;
            let p = octopus_client::model::Project {
                name: format!("sp-{}", ctx.code),
                lifecycle_id: defaults[0].id.clone().unwrap(),
                project_group_id: groups[0].id.clone().unwrap(),
                ..Default::default()
            };
            ctx.client.projects(&ctx.space_id).create(&p).await
        })
        .unwrap();
    let project_id = project.id.clone().unwrap();
    let mut ctx = ctx;
    ctx.workdir.env("TF_VAR_project_id", &project_id);
    let secret = format!("tok-{}", ctx.code);
    let v1 = sp_process(
        &format!(
            "      id = \"acc-notify\"\n      version = \"1\"\n      inputs = {{ channel = \"#ops\", retries = 3 }}\n      sensitive_inputs = {{ token = \"{secret}\" }}\n"
        ),
        &script("Plain", "echo plain", ""),
    );
    let bad = |inputs: &str, version: &str| {
        sp_process(
            &format!(
                "      id = \"acc-notify\"\n      version = \"{version}\"\n      inputs = {inputs}\n"
            ),
            "",
        )
    };
    let v2_old_inputs = sp_process(
        "      id = \"acc-notify\"\n      version = \"2\"\n      inputs = { channel = \"#ops\", retries = 3 }\n",
        "",
    );
    let v2 = sp_process(
        "      id = \"acc-notify\"\n      version = \"2\"\n      inputs = { target = { channel = \"#ops\" }, retries = 3 }\n",
        "",
    );
    let secret1 = secret.clone();
    let pid = project_id.clone();
    TestCase::new(vec![
        Step::config(&v1).check(move |ctx| {
            let state = ctx.attrs("octopus_deployment_process.app");
            assert_eq!(state["step"][0]["type"], "acc-notify");
            assert_eq!(state["step"][0]["step_package"]["version"], "1");
            assert_eq!(state["step"][0]["step_package"]["resolved_version"], "1.0.0");
            assert_eq!(state["step"][1]["step_package"]["inputs"]["tags"], json!(["a", "b"]));
            let p = server_process(ctx);
            let notify = &p.steps[0].actions[0];
            assert_eq!(notify.action_type, "acc-notify");
            assert_eq!(notify.step_package_version.as_deref(), Some("1.0.0"));
            let inputs = notify.inputs.clone().unwrap();
            assert_eq!(inputs["channel"], "#ops");
            assert_eq!(inputs["token"]["HasValue"], true);
            let raw = raw_process(ctx);
            assert!(!raw.contains(&secret1), "the server never returns the secret: {raw}");
            // Terraform's own output masks it too.
            for args in [&["show", "-no-color"][..], &["plan", "-no-color"][..]] {
                let out = ctx.workdir.run(args);
                assert!(!out.output().contains(&secret1), "{args:?}: {}", out.output());
                assert!(args[0] != "show" || out.stdout.contains("(sensitive value)"), "{}", out.stdout);
            }
        }),
        // Bad inputs fail the plan with the path into the inputs; nothing is sent.
        Step::config(&bad("{ channel = \"#ops\", retries = \"three\" }", "1"))
            .expect_error(r#"(?s)Invalid input for step "Notify".*/retries \(step\[0\]\.step_package\.inputs\.retries\): expected integer, got string"#),
        Step::config(&bad("{ channel = \"#ops\", colour = \"red\" }", "1"))
            .expect_error(r#"(?s)Invalid input for step "Notify".*/colour"#),
        Step::config(&bad("{ retries = 1 }", "1"))
            .expect_error(r#"(?s)Invalid input for step "Notify".*/channel \(step\[0\]\.step_package\.inputs\.channel\): is required"#),
        // A version not installed only warns at plan (an octopus_step_package of the
        // same apply may install it); the server refuses it when applied, on the attribute.
        Step::config(&bad("{ channel = \"#ops\" }", "7"))
            .expect_error(r#"(?s)no release on major 7 is installed \(installed: 1.0.0\).*step\[0\]\.step_package\.version"#),
        // A minor release installed on the server moves the usage; the plan stays empty
        // and the new version shows as resolved_version.
        Step::config(&v1)
            .before(|ctx| {
                let p = server_process(ctx);
                let inputs = p.steps[0].actions[0].inputs.clone().unwrap();
                assert_eq!(inputs["retries"], 3, "the failed plans applied nothing");
                install(ctx, "acc-notify", "1.1.0", &[StepDef::new("acc-notify", notify_v1_1())]);
            })
            .check(|ctx| {
                let state = ctx.attrs("octopus_deployment_process.app");
                assert_eq!(state["step"][0]["step_package"]["version"], "1");
                assert_eq!(state["step"][0]["step_package"]["resolved_version"], "1.1.0");
            }),
        // A major upgrade whose old inputs no longer fit: the diagnostic shows what the
        // package's migration makes of them, ready to paste.
        Step::config(&v2_old_inputs)
            .before(|ctx| {
                let migrations = json!({"migrations": [{"from": 1, "ops": [
                    {"rename": {"from": "/channel", "to": "/target/channel"}}
                ]}]});
                install(ctx, "acc-notify", "2.0.0", &[StepDef::new("acc-notify", notify_v2()).with_migrations(migrations)]);
            })
            .expect_error(r##"(?s)/target \(step\[0\]\.step_package\.inputs\.target\): is required.*migration\s+from\s+1\.1\.0\s+turns\s+the\s+current\s+inputs.*inputs = \{\s+retries = 3\s+target = \{\s+channel = "#ops"\s+\}\s+\}"##),
        Step::config(&v2).check(|ctx| {
            let state = ctx.attrs("octopus_deployment_process.app");
            assert_eq!(state["step"][0]["step_package"]["resolved_version"], "2.0.0");
            let p = server_process(ctx);
            assert_eq!(p.steps[0].actions[0].inputs.clone().unwrap()["target"]["channel"], "#ops");
        }),
        Step::import("octopus_deployment_process.app"),
    ])
    .check_destroy(move |ctx| {
        let p = ctx
            .block_on(ctx.client.deployment_processes(&ctx.space_id).get_for_project(&pid))
            .unwrap();
        assert!(p.steps.is_empty(), "destroy leaves the process without steps: {p:?}");
    })
    .run(&ctx);
}

/// A proxy that, before forwarding each of the first `sabotage` process writes, saves
/// the process itself: the provider's write then carries a stale `Version` and gets
/// Octopus's 409.
fn interloper(sabotage: usize) -> acceptance_tests::Proxy {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let backend = acceptance_tests::Backend::get();
    let (upstream, key) = (backend.url().to_string(), backend.api_key().to_string());
    let writes = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    acceptance_tests::Proxy::start(Arc::new(move |method, path| {
        let (http, upstream, key, writes) =
            (http.clone(), upstream.clone(), key.clone(), writes.clone());
        Box::pin(async move {
            let is_write = method == reqwest::Method::PUT && path.contains("deploymentprocesses");
            if !is_write || writes.fetch_add(1, Ordering::SeqCst) >= sabotage {
                return;
            }
            let url = format!("{upstream}{path}");
            let doc: serde_json::Value = http
                .get(&url)
                .header("X-Octopus-ApiKey", &key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            http.put(&url)
                .header("X-Octopus-ApiKey", &key)
                .json(&doc)
                .send()
                .await
                .unwrap();
        })
    }))
}

fn via(ctx: &TestContext, proxy: &acceptance_tests::Proxy, body: &str) -> String {
    let b = acceptance_tests::Backend::get();
    format!(
        "{}\nprovider \"octopus\" {{\n  address  = \"{}\"\n  api_key  = \"{}\"\n  space_id = \"{}\"\n}}\n{}",
        acceptance_tests::TERRAFORM_BLOCK,
        proxy.url,
        b.api_key(),
        ctx.space_id,
        body.replace("{code}", &ctx.code)
    )
}

#[test]
fn a_write_that_meets_another_writer_is_retried() {
    let ctx = TestContext::new();
    let config = process(&[script("One", "echo one", ""), script("Two", "echo two", "")]);
    // Another writer gets in between twice: the third attempt succeeds.
    let proxy = interloper(2);
    ctx.workdir.config(&via(&ctx, &proxy, &config));
    ctx.workdir.apply();
    assert_eq!(proxy.count("PUT"), 3, "two 409s, then success");
    assert_eq!(step_names(&ctx), ["One", "Two"], "no step lost");
    ctx.workdir.assert_empty_plan();

    // A writer that never stops: a bounded number of attempts, then a clear error.
    let busy = interloper(usize::MAX);
    let more = process(&[
        script("One", "echo one", ""),
        script("Three", "echo three", ""),
    ]);
    ctx.workdir.config(&via(&ctx, &busy, &more));
    let r = ctx.workdir.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(r.code, 1, "{}", r.output());
    assert!(r.stderr.contains("keeps changing"), "{}", r.stderr);
    assert_eq!(busy.count("PUT"), 6, "bounded attempts");
    ctx.workdir.config(&ctx.hcl(&config));
    ctx.workdir.destroy();
}

#[test]
fn plan_time_checks_of_steps() {
    let ctx = TestContext::new();
    let from_package = |extra: &str| {
        format!(
            "{BASE}\nresource \"octopus_deployment_process\" \"app\" {{\n  project_id = octopus_project.app.id\n  step {{\n    name = \"Deploy\"\n    type = \"Octopus.Script\"\n    execution_properties = {{\n      \"Octopus.Action.Script.ScriptSource\" = \"Package\"\n{extra}    }}\n  }}\n}}\n"
        )
    };
    TestCase::new(vec![
        // Scripts as code: a script from a package needs the package and its file.
        Step::config(&from_package(""))
            .expect_error(r"(?s)A script from a package needs the package.*A script from a package needs its file name"),
        Step::config(&process(&[script("Same", "echo 1", ""), script("same", "echo 2", "")]))
            .expect_error(r"(?s)Duplicate step name"),
        Step::config(&process(&["  step {\n    name = \"No type\"\n  }\n".to_string()]))
            .expect_error(r"(?s)Missing action type"),
        Step::config(&process(&[script("Gated", "echo 1", "    condition = \"Variable\"\n")]))
            .expect_error(r"(?s)Missing condition_expression"),
        Step::config(&process(&[DEPLOY_WEB.replace("extract_during_deployment = false", "extract = false")]))
            .expect_error(r"(?s)Invalid package reference.*`extract` is not a package field"),
    ])
    .check_destroy(|ctx| {
        let left = ctx
            .block_on(ctx.client.projects(&ctx.space_id).list_all(&Default::default()))
            .unwrap();
        assert!(left.is_empty(), "nothing was applied: {left:?}");
    })
    .run(&ctx);
}
