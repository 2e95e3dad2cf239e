//! `octopus_deployment_process` with real Terraform: every step kind (inline script,
//! package, rolling with child steps, script from a package, step package) through
//! create, in-place update, insert / remove / reorder (the other steps and actions
//! keep their IDs and whole server-side contents, fields the model does not manage
//! included), drift made through the API, import from another space, and destroy;
//! secrets; step-package steps checked at plan time, their automatic minor upgrades
//! and explicit major upgrades; the data sources.

use acceptance_tests::{Json, Step, StepDef, TestCase, TestContext, step_package_zip};
use octopus_client::model::DeploymentProcess;
use serde_json::json;
use std::cell::RefCell;
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

fn process(steps: &[String]) -> String {
    format!(
        "{BASE}\nresource \"octopus_deployment_process\" \"app\" {{\n  project_id = octopus_project.app.id\n{}}}\n",
        steps.concat()
    )
}

/// The ID of the process of the one project in the test's space (asked of the API:
/// cheaper than reading Terraform's state).
fn process_id(ctx: &TestContext) -> String {
    let projects = ctx.block_on(
        ctx.client
            .projects(&ctx.space_id)
            .list_all(&Default::default()),
    );
    let projects = projects.unwrap();
    assert_eq!(projects.len(), 1, "one project in the test's space");
    DeploymentProcess::id_for_project(projects[0].id.as_deref().unwrap())
}

fn server_process(ctx: &TestContext) -> DeploymentProcess {
    let id = process_id(ctx);
    ctx.block_on(ctx.client.deployment_processes(&ctx.space_id).get(&id))
        .unwrap()
}

/// The raw JSON the server answers for the process (to look for secrets).
fn raw_process(ctx: &TestContext) -> String {
    let id = process_id(ctx);
    let v: Json = ctx
        .block_on(ctx.client.get_json(
            &format!("/api/{}/deploymentprocesses/{id}", ctx.space_id),
            &[],
        ))
        .unwrap();
    v.to_string()
}

/// Reads the state once (`terraform show -json`); the closure gives the attributes of
/// an address in it.
fn state_of(ctx: &TestContext) -> impl Fn(&str) -> Json {
    let show = ctx.terraform(&["show", "-json", "-no-color"]);
    assert_eq!(show.code, 0, "{}", show.output());
    let state: Json = serde_json::from_str(&show.stdout).unwrap();
    move |address| {
        state["values"]["root_module"]["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["address"] == address))
            .map(|r| r["values"].clone())
            .unwrap_or_else(|| panic!("{address} is not in the state"))
    }
}

fn step_names(ctx: &TestContext) -> Vec<String> {
    server_process(ctx)
        .steps
        .into_iter()
        .map(|s| s.name)
        .collect()
}

// ---- Every step kind through its lifecycle, in a space other than the provider's ----

/// The lifecycle test's space, environment and project: another space than the
/// provider's, so every read and write (and the import) has to find it.
const KINDS_BASE: &str = r#"
variable "smtp_password" {
  type      = string
  sensitive = true
}
resource "octopus_space" "other" {
  name = "kinds-{code}"
}
resource "octopus_environment" "prod" {
  space_id = octopus_space.other.id
  name     = "prod-{code}"
}
resource "octopus_project" "app" {
  space_id = octopus_space.other.id
  name     = "app-{code}"
}
"#;

fn kinds(steps: &[String]) -> String {
    format!(
        "{KINDS_BASE}\nresource \"octopus_deployment_process\" \"app\" {{\n  space_id   = octopus_space.other.id\n  project_id = octopus_project.app.id\n{}}}\n",
        steps.concat()
    )
}

/// An inline script scoped to the environment (a list only partly known at the first
/// plan), with a secret (a sensitive variable).
fn hello(body: &str) -> String {
    script(
        "Say hello",
        body,
        "    environments = [octopus_environment.prod.id]\n    sensitive_execution_properties = { \"Smtp.Password\" = var.smtp_password }\n",
    )
}

/// A package step: a primary package and a named one.
fn package_step(primary: &str, tools: &str) -> String {
    format!(
        r#"
  step {{
    name       = "Deploy web"
    type       = "Octopus.TentaclePackage"
    properties = {{ "Octopus.Action.TargetRoles" = "web" }}
    primary_package = {primary}
    packages = {{
      tools = {tools}
    }}
  }}
"#
    )
}

/// A rolling step: its own action, then `children` as `(name, script body)`.
fn rolling(children: &[(&str, &str)]) -> String {
    let kids: String = children
        .iter()
        .map(|(name, body)| {
            format!(
                "    child_step {{\n      name = \"{name}\"\n      type = \"Octopus.Script\"\n      execution_properties = {{ \"Octopus.Action.Script.ScriptBody\" = \"{body}\" }}\n    }}\n"
            )
        })
        .collect();
    format!(
        r#"
  step {{
    name       = "Rolling"
    type       = "Octopus.Script"
    properties = {{ "Octopus.Action.TargetRoles" = "web", "Octopus.Action.MaxParallelism" = "2" }}
    execution_properties = {{ "Octopus.Action.Script.ScriptBody" = "echo one" }}
{kids}  }}
"#
    )
}

/// Scripts as code: a script step running a file from a package.
fn from_package(file: &str, parameters: &str) -> String {
    format!(
        r#"
  step {{
    name            = "Run from package"
    type            = "Octopus.Script"
    primary_package = {{ package_id = "scripts" }}
    execution_properties = {{
      "Octopus.Action.RunOnServer"             = "true"
      "Octopus.Action.Script.ScriptSource"     = "Package"
      "Octopus.Action.Script.ScriptFileName"   = "{file}"
      "Octopus.Action.Script.ScriptParameters" = "{parameters}"
    }}
  }}
"#
    )
}

/// A step-package step (`acc-kinds-echo`, installed by the test).
fn echo(message: &str, count: u32) -> String {
    format!(
        r#"
  step {{
    name = "Echo"
    step_package = {{
      id      = "acc-kinds-echo"
      version = "1"
      inputs  = {{ message = "{message}", options = {{ count = {count}, loud = false }} }}
    }}
  }}
"#
    )
}

fn echo_schema() -> Json {
    json!({
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "options": {
                "type": "object",
                "properties": {"count": {"type": "integer"}, "loud": {"type": "boolean"}}
            }
        },
        "required": ["message"],
        "additionalProperties": false
    })
}

/// The lifecycle test's other space and its process ID, asked of the API.
fn kinds_remote(ctx: &TestContext) -> (String, String) {
    let (space, project) = (format!("kinds-{}", ctx.code), format!("app-{}", ctx.code));
    ctx.block_on(async {
        let s = ctx.client.spaces().find_by_name(&space).await?;
        let sid = s.and_then(|s| s.id).expect("the other space exists");
        let p = ctx.client.projects(&sid).find_by_name(&project).await?;
        let pid = p.and_then(|p| p.id).expect("the project exists");
        Ok::<_, octopus_client::Error>((sid, DeploymentProcess::id_for_project(&pid)))
    })
    .unwrap()
}

fn doc_path(ctx: &TestContext) -> String {
    let (space, id) = kinds_remote(ctx);
    format!("/api/{space}/deploymentprocesses/{id}")
}

/// The process as the server stores it (raw JSON: every field, modelled or not).
fn kinds_doc(ctx: &TestContext) -> Json {
    ctx.block_on(ctx.client.get_json(&doc_path(ctx), &[]))
        .unwrap()
}

/// Writes `doc` as another API client would (raw JSON, any field).
fn put_doc(ctx: &TestContext, doc: &Json) {
    let path = doc_path(ctx);
    let saved: Result<Json, _> =
        ctx.block_on(
            ctx.client
                .request(reqwest::Method::PUT, &path, &[], Some(doc)),
        );
    saved.unwrap();
}

fn names(doc: &Json) -> Vec<&str> {
    doc["Steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Name"].as_str().unwrap())
        .collect()
}

fn step<'a>(doc: &'a Json, name: &str) -> &'a Json {
    doc["Steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Name"] == name)
        .unwrap_or_else(|| panic!("no step {name:?} on the server: {doc:#}"))
}

fn step_mut<'a>(doc: &'a mut Json, name: &str) -> &'a mut Json {
    doc["Steps"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["Name"] == name)
        .unwrap_or_else(|| panic!("no step {name:?}"))
}

/// An action of any step, by name.
fn action<'a>(doc: &'a Json, name: &str) -> &'a Json {
    doc["Steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Actions"].as_array().unwrap())
        .find(|a| a["Name"] == name)
        .unwrap_or_else(|| panic!("no action {name:?} on the server: {doc:#}"))
}

fn action_mut<'a>(doc: &'a mut Json, name: &str) -> &'a mut Json {
    doc["Steps"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .flat_map(|s| s["Actions"].as_array_mut().unwrap())
        .find(|a| a["Name"] == name)
        .unwrap_or_else(|| panic!("no action {name:?}"))
}

fn action_names(step: &Json) -> Vec<&str> {
    step["Actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Name"].as_str().unwrap())
        .collect()
}

fn without_actions(step: &Json) -> Json {
    let mut s = step.clone();
    s.as_object_mut().unwrap().remove("Actions");
    s
}

fn package<'a>(action: &'a Json, name: &str) -> &'a Json {
    action["Packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Name"] == name)
        .unwrap_or_else(|| panic!("no package reference {name:?}: {action:#}"))
}

/// The whole server-side JSON of each of `steps` is what it was in `before`.
fn assert_steps_untouched(before: &Json, after: &Json, steps: &[&str]) {
    for s in steps {
        assert_eq!(step(after, s), step(before, s), "step {s:?} is untouched");
    }
}

/// Each of `actions` is untouched; its step (but for its action list) too.
fn assert_actions_untouched(before: &Json, after: &Json, step_name: &str, actions: &[&str]) {
    assert_eq!(
        without_actions(step(after, step_name)),
        without_actions(step(before, step_name)),
        "step {step_name:?} (but its actions) is untouched"
    );
    for a in actions {
        assert_eq!(
            action(after, a),
            action(before, a),
            "action {a:?} is untouched"
        );
    }
}

fn script_body(action: &Json) -> &str {
    action["Properties"]["Octopus.Action.Script.ScriptBody"]
        .as_str()
        .unwrap()
}

#[test]
fn every_step_kind_through_its_lifecycle() {
    let mut ctx = TestContext::new();
    install(
        &ctx,
        "acc-kinds",
        "1.0.0",
        &[StepDef::new("acc-kinds-echo", echo_schema())],
    );
    let secret = format!("hunter2-{}", ctx.code);
    ctx.workdir.env("TF_VAR_smtp_password", &secret);
    let web = r#"{ package_id = "web" }"#;
    let web_api = r#"{ package_id = "web-api", acquisition_location = "ExecutionTarget" }"#;
    let tools = r#"{ package_id = "tools", extract_during_deployment = false }"#;
    let tools_v2 = r#"{ package_id = "tools", properties = { Purpose = "lint" } }"#;
    let v1 = kinds(&[
        hello("echo hello"),
        package_step(web, tools),
        rolling(&[("Rolling two", "echo two"), ("Rolling three", "echo three")]),
        from_package("deploy.sh", "-v"),
        echo("hello", 1),
    ]) + r#"
data "octopus_deployment_process" "read" {
  space_id   = octopus_space.other.id
  project_id = octopus_deployment_process.app.project_id
}
"#;
    // Updates of the package step and of one child step.
    let v2 = kinds(&[
        hello("echo hello again"),
        package_step(web_api, tools_v2),
        rolling(&[
            ("Rolling two", "echo two v2"),
            ("Rolling three", "echo three"),
        ]),
        from_package("deploy.sh", "-v"),
        echo("hello", 1),
    ]);
    // Updates of the script from a package and of the step-package step.
    let v3 = kinds(&[
        hello("echo hello again"),
        package_step(web_api, tools_v2),
        rolling(&[
            ("Rolling two", "echo two v2"),
            ("Rolling three", "echo three"),
        ]),
        from_package("deploy/run.sh", "-v --dry-run"),
        echo("bye", 2),
    ]);
    // A step inserted first, a child step between the others.
    let inserted = kinds(&[
        script("First", "echo first", ""),
        hello("echo hello again"),
        package_step(web_api, tools_v2),
        rolling(&[
            ("Rolling two", "echo two v2"),
            ("Rolling one and a half", "echo 1.5"),
            ("Rolling three", "echo three"),
        ]),
        from_package("deploy/run.sh", "-v --dry-run"),
        echo("bye", 2),
    ]);
    // A step and a child step removed, the rest (steps and child steps) reordered.
    let reordered = kinds(&[
        echo("bye", 2),
        from_package("deploy/run.sh", "-v --dry-run"),
        rolling(&[
            ("Rolling one and a half", "echo 1.5"),
            ("Rolling two", "echo two v2"),
        ]),
        package_step(web_api, tools_v2),
        script("First", "echo first", ""),
    ]);
    // The server's process as the last step left it (or a hook made it), which the
    // next step's checks compare with; each step's closures hold a handle on it.
    let before = Rc::new(RefCell::new(Json::Null));
    let snap = |b: &Rc<RefCell<Json>>| {
        let b = b.clone();
        move |ctx: &TestContext| *b.borrow_mut() = kinds_doc(ctx)
    };
    let [
        b_hook,
        b_v2,
        b_v3,
        b_clear,
        b_set,
        b_insert,
        b_reorder,
        b_repair,
    ] = std::array::from_fn(|_| before.clone());
    let secret1 = secret.clone();
    TestCase::new(vec![
        Step::config(&v1).check(move |ctx| {
            let doc = kinds_doc(ctx);
            assert_eq!(
                names(&doc),
                ["Say hello", "Deploy web", "Rolling", "Run from package", "Echo"]
            );
            let state_of = state_of(ctx);
            let env = state_of("octopus_environment.prod")["id"].clone();
            assert_eq!(action(&doc, "Say hello")["Environments"], json!([env]));
            // The secret went in as a sensitive value and never comes back.
            let hello = action(&doc, "Say hello");
            assert_eq!(hello["Properties"]["Smtp.Password"]["HasValue"], true);
            assert!(!doc.to_string().contains(&secret1), "{doc}");
            let web = action(&doc, "Deploy web");
            assert_eq!(web["Packages"].as_array().unwrap().len(), 2);
            assert_eq!(package(web, "")["PackageId"], "web");
            assert_eq!(package(web, "tools")["Properties"]["Extract"], "False");
            let rolling = step(&doc, "Rolling");
            assert_eq!(
                action_names(rolling),
                ["Rolling", "Rolling two", "Rolling three"]
            );
            assert_eq!(rolling["Properties"]["Octopus.Action.MaxParallelism"], "2");
            let run = action(&doc, "Run from package");
            assert_eq!(run["Properties"]["Octopus.Action.Script.ScriptSource"], "Package");
            assert_eq!(run["Properties"]["Octopus.Action.Script.ScriptFileName"], "deploy.sh");
            assert_eq!(run["Properties"]["Octopus.Action.Script.ScriptParameters"], "-v");
            assert_eq!(package(run, "")["PackageId"], "scripts");
            let echo = action(&doc, "Echo");
            assert_eq!(echo["ActionType"], "acc-kinds-echo");
            assert_eq!(echo["StepPackageVersion"], "1.0.0");
            assert_eq!(echo["Inputs"], json!({"message": "hello", "options": {"count": 1, "loud": false}}));
            // The state has the server's step and action IDs.
            let state = state_of("octopus_deployment_process.app");
            for (i, s) in doc["Steps"].as_array().unwrap().iter().enumerate() {
                assert_eq!(state["step"][i]["id"], s["Id"]);
                assert_eq!(state["step"][i]["action_id"], s["Actions"][0]["Id"]);
            }
            assert_eq!(state["step"][2]["child_step"][1]["action_id"], action(&doc, "Rolling three")["Id"]);
            assert_eq!(state["step"][4]["step_package"]["resolved_version"], "1.0.0");
            // The data source reads the same process, without secrets.
            let read = state_of("data.octopus_deployment_process.read");
            assert_eq!(read["id"], doc["Id"]);
            assert_eq!(read["step_names"], json!(names(&doc)));
            let steps = &read["steps"];
            assert_eq!(steps[1]["primary_package"]["package_id"], "web");
            assert_eq!(steps[1]["packages"]["tools"]["extract_during_deployment"], false);
            assert_eq!(steps[2]["child_step"][1]["name"], "Rolling three");
            assert_eq!(steps[2]["child_step"][1]["action_id"], action(&doc, "Rolling three")["Id"]);
            assert_eq!(
                steps[3]["execution_properties"]["Octopus.Action.Script.ScriptFileName"],
                "deploy.sh"
            );
            assert_eq!(steps[4]["step_package"]["id"], "acc-kinds-echo");
            assert_eq!(steps[4]["step_package"]["resolved_version"], "1.0.0");
            assert_eq!(steps[4]["step_package"]["inputs"]["options"]["count"], 1);
            assert!(steps[0].get("sensitive_execution_properties").is_none(), "{steps}");
            assert!(!read.to_string().contains(&secret1));
        }),
        // Fields the model does not manage, set by another client: an action's slug,
        // worker-pool variable and an unknown field, a package reference's pinned
        // version, Git dependencies, a step's unknown field. Updates of the package step
        // and of a child step keep them, the step and action IDs, and every other step.
        Step::config(&v2)
            .before(move |ctx| {
                let mut doc = kinds_doc(ctx);
                let web = action_mut(&mut doc, "Deploy web");
                web["Slug"] = json!("deploy-web-by-hand");
                web["WorkerPoolVariable"] = json!("Pool.Name");
                web["Acc.Unmanaged"] = json!({"kept": [1, 2]});
                let tools = web["Packages"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|p| p["Name"] == "tools")
                    .unwrap();
                tools["Version"] = json!("2.0.0");
                action_mut(&mut doc, "Run from package")["GitDependencies"] = json!([{
                    "Name": "", "RepositoryUri": "https://example.com/scripts.git",
                    "DefaultBranch": "main", "GitCredentialType": "Anonymous"
                }]);
                action_mut(&mut doc, "Echo")["CanBeUsedForProjectVersioning"] = json!(true);
                step_mut(&mut doc, "Echo")["Acc.StepExtra"] = json!("kept");
                action_mut(&mut doc, "Rolling three")["Acc.ChildExtra"] = json!(3);
                put_doc(ctx, &doc);
                snap(&b_hook)(ctx);
            })
            .check(move |ctx| {
                let (b, doc) = (b_v2.borrow(), kinds_doc(ctx));
                assert_eq!(names(&doc), names(&b));
                for s in names(&b) {
                    assert_eq!(step(&doc, s)["Id"], step(&b, s)["Id"], "{s} kept its ID");
                }
                for a in ["Say hello", "Deploy web", "Rolling", "Rolling two", "Rolling three"] {
                    assert_eq!(action(&doc, a)["Id"], action(&b, a)["Id"], "{a} kept its ID");
                }
                assert_eq!(script_body(action(&doc, "Say hello")), "echo hello again");
                let web = action(&doc, "Deploy web");
                assert_eq!(package(web, "")["PackageId"], "web-api");
                assert_eq!(package(web, "")["AcquisitionLocation"], "ExecutionTarget");
                assert_eq!(package(web, "tools")["Properties"], json!({"Purpose": "lint", "Extract": "True"}));
                assert_eq!(package(web, "tools")["Id"], package(action(&b, "Deploy web"), "tools")["Id"]);
                // What the model does not manage survives the read-modify-write of
                // the step it is on.
                assert_eq!(web["Slug"], "deploy-web-by-hand");
                assert_eq!(web["WorkerPoolVariable"], "Pool.Name");
                assert_eq!(web["Acc.Unmanaged"], json!({"kept": [1, 2]}));
                assert_eq!(package(web, "tools")["Version"], "2.0.0");
                assert_eq!(script_body(action(&doc, "Rolling two")), "echo two v2");
                assert_actions_untouched(&b, &doc, "Rolling", &["Rolling", "Rolling three"]);
                assert_steps_untouched(&b, &doc, &["Run from package", "Echo"]);
                drop(b);
                snap(&b_v2)(ctx);
            }),
        // Updates of the script from a package and of the step-package step.
        Step::config(&v3).check(move |ctx| {
            let (b, doc) = (b_v3.borrow(), kinds_doc(ctx));
            let run = action(&doc, "Run from package");
            assert_eq!(run["Id"], action(&b, "Run from package")["Id"]);
            assert_eq!(run["Properties"]["Octopus.Action.Script.ScriptFileName"], "deploy/run.sh");
            assert_eq!(run["Properties"]["Octopus.Action.Script.ScriptParameters"], "-v --dry-run");
            assert_eq!(run["GitDependencies"][0]["RepositoryUri"], "https://example.com/scripts.git");
            let echo = action(&doc, "Echo");
            assert_eq!(echo["Id"], action(&b, "Echo")["Id"]);
            assert_eq!(echo["Inputs"], json!({"message": "bye", "options": {"count": 2, "loud": false}}));
            assert_eq!(echo["CanBeUsedForProjectVersioning"], true);
            assert_eq!(step(&doc, "Echo")["Acc.StepExtra"], "kept");
            assert_eq!(step(&doc, "Echo")["Id"], step(&b, "Echo")["Id"]);
            assert_steps_untouched(&b, &doc, &["Say hello", "Deploy web", "Rolling"]);
        }),
        // A secret cleared outside Terraform shows as a change, and apply sets it again.
        Step::plan_shows(&v3, r"~ sensitive_execution_properties\s+= \(sensitive value\)").before(move |ctx| {
            let mut doc = kinds_doc(ctx);
            action_mut(&mut doc, "Say hello")["Properties"]["Smtp.Password"] = json!({"HasValue": false});
            put_doc(ctx, &doc);
            snap(&b_clear)(ctx);
        }),
        Step::config(&v3).check(move |ctx| {
            let (b, doc) = (b_set.borrow(), kinds_doc(ctx));
            assert_eq!(action(&doc, "Say hello")["Properties"]["Smtp.Password"]["HasValue"], true);
            assert_steps_untouched(&b, &doc, &["Deploy web", "Rolling", "Run from package", "Echo"]);
            drop(b);
            snap(&b_set)(ctx);
        }),
        // Insert a step before the others and a child step between two: the others keep
        // their IDs and contents.
        Step::config(&inserted).check(move |ctx| {
            let (b, doc) = (b_insert.borrow(), kinds_doc(ctx));
            assert_eq!(
                names(&doc),
                ["First", "Say hello", "Deploy web", "Rolling", "Run from package", "Echo"]
            );
            assert_steps_untouched(&b, &doc, &["Say hello", "Deploy web", "Run from package", "Echo"]);
            assert_eq!(
                action_names(step(&doc, "Rolling")),
                ["Rolling", "Rolling two", "Rolling one and a half", "Rolling three"]
            );
            assert_actions_untouched(&b, &doc, "Rolling", &["Rolling", "Rolling two", "Rolling three"]);
            let state = ctx.attrs("octopus_deployment_process.app");
            assert_eq!(
                state["step"][3]["child_step"][1]["action_id"],
                action(&doc, "Rolling one and a half")["Id"]
            );
            drop(b);
            snap(&b_insert)(ctx);
        }),
        // Remove a step and a child step, reorder the rest (steps and child steps).
        Step::config(&reordered).check(move |ctx| {
            let (b, doc) = (b_reorder.borrow(), kinds_doc(ctx));
            assert_eq!(
                names(&doc),
                ["Echo", "Run from package", "Rolling", "Deploy web", "First"]
            );
            assert_steps_untouched(&b, &doc, &["Echo", "Run from package", "Deploy web", "First"]);
            assert_eq!(
                action_names(step(&doc, "Rolling")),
                ["Rolling", "Rolling one and a half", "Rolling two"]
            );
            assert_actions_untouched(&b, &doc, "Rolling", &["Rolling", "Rolling one and a half", "Rolling two"]);
            drop(b);
            snap(&b_reorder)(ctx);
        }),
        // Drift made through the API: a step-package input, a child step's script, a
        // package ID; a step removed. The plan shows it, apply repairs it.
        Step::plan_shows(
            &reordered,
            r#"(?s)will perform the following actions:.*~ message = "drifted" -> "bye".*~ "Octopus.Action.Script.ScriptBody" = "echo drifted" -> "echo two v2".*~ package_id\s+= "drifted-web" -> "web-api".*\+ step \{.*\+ name\s+= "First""#,
        )
        .before(|ctx| {
            let mut doc = kinds_doc(ctx);
            action_mut(&mut doc, "Echo")["Inputs"]["message"] = json!("drifted");
            action_mut(&mut doc, "Rolling two")["Properties"]["Octopus.Action.Script.ScriptBody"] = json!("echo drifted");
            let web = action_mut(&mut doc, "Deploy web");
            web["Packages"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|p| p["Name"] == "")
                .unwrap()["PackageId"] = json!("drifted-web");
            doc["Steps"]
                .as_array_mut()
                .unwrap()
                .retain(|s| s["Name"] != "First");
            put_doc(ctx, &doc);
        }),
        Step::config(&reordered).check(move |ctx| {
            let (b, doc) = (b_repair.borrow(), kinds_doc(ctx));
            assert_eq!(
                names(&doc),
                ["Echo", "Run from package", "Rolling", "Deploy web", "First"]
            );
            assert_steps_untouched(&b, &doc, &["Echo", "Run from package", "Rolling", "Deploy web"]);
            let first = action(&doc, "First");
            assert_ne!(first["Id"], action(&b, "First")["Id"], "a new step");
            assert_eq!(script_body(first), "echo first");
        }),
        // Import from a space other than the provider's: by the bare project ID (found
        // in whichever space has it) and as <space>/<process ID>.
        Step::import_with("octopus_deployment_process.app", |a| {
            a["project_id"].as_str().unwrap().to_string()
        }),
        Step::import_in_space("octopus_deployment_process.app"),
        // Destroy leaves the process without steps; the project stays.
        Step::config(KINDS_BASE).check(|ctx| {
            let doc = kinds_doc(ctx);
            assert_eq!(doc["Steps"], json!([]), "{doc:#}");
        }),
    ])
    .check_destroy(move |ctx| {
        let space = format!("kinds-{}", ctx.code);
        let left = ctx.block_on(ctx.client.spaces().find_by_name(&space)).unwrap();
        assert!(left.is_none(), "the other space is destroyed: {left:?}");
        assert!(!ctx.transcript().contains(&secret), "no Terraform output shows the secret");
    })
    .run(&ctx);
}

fn notify_v1() -> Json {
    json!({
        "type": "object",
        "properties": {
            "channel": {"type": "string"},
            "retries": {"type": "integer"},
            "token": {"type": "string"},
            "region": {"type": "string", "enum": ["eu", "us"]}
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
variable "token" {
  type      = string
  sensitive = true
}
variable "smtp" {
  type      = string
  sensitive = true
}
variable "refused" {
  type      = string
  sensitive = true
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

/// The step-package usage on an exact version, next to the one following a major.
const NOTIFY_EXACT: &str = r##"
  step {
    name = "Notify exact"
    step_package = {
      id      = "acc-notify"
      version = "1.0.0"
      inputs  = { channel = "#exact" }
    }
  }
"##;

const STEP_PACKAGE_DATA: &str = r#"
data "octopus_step_package" "range" {
  id      = "acc-notify"
  version = "[1.0,2.0)"
}
data "octopus_step_package" "newest" {
  id = "acc-notify"
}
"#;

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
    // Every command logs at TRACE: no secret may reach the log either.
    let log = ctx.workdir.path().join("terraform.log");
    ctx.workdir
        .env("TF_LOG", "TRACE")
        .env("TF_LOG_PATH", log.to_str().unwrap());
    // The secrets come in as sensitive variables, as they would in real use (a literal
    // would be shown by Terraform itself, quoting the source in a diagnostic).
    let secret = format!("tok-{}", ctx.code);
    let smtp = format!("smtp-{}-secret", ctx.code);
    let refused = format!("bad-{}-secret", ctx.code);
    ctx.workdir
        .env("TF_VAR_token", &secret)
        .env("TF_VAR_smtp", &smtp)
        .env("TF_VAR_refused", &refused);
    let plain = |body: &str| {
        script(
            "Plain",
            body,
            "    sensitive_execution_properties = { \"Smtp.Password\" = var.smtp }\n",
        )
    };
    let notify = |secrets: &str| {
        format!(
            "      id = \"acc-notify\"\n      version = \"1\"\n      inputs = {{ channel = \"#ops\", retries = 3 }}\n      sensitive_inputs = {secrets}\n"
        )
    };
    let v1 = sp_process(
        &notify("{ token = var.token }"),
        &(plain("echo plain") + NOTIFY_EXACT),
    );
    let v1_changed = sp_process(
        &notify("{ token = var.token }"),
        &(plain("echo plain again") + NOTIFY_EXACT),
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
    ) + STEP_PACKAGE_DATA;
    let (secret1, smtp1) = (secret.clone(), smtp.clone());
    let pid = project_id.clone();
    let token = |ctx: &TestContext| {
        server_process(ctx).steps[0].actions[0]
            .inputs
            .clone()
            .unwrap()["token"]
            .clone()
    };
    TestCase::new(vec![
        Step::config(&v1).check(move |ctx| {
            let state = ctx.attrs("octopus_deployment_process.app");
            assert_eq!(state["step"][0]["type"], "acc-notify");
            assert_eq!(state["step"][0]["step_package"]["version"], "1");
            assert_eq!(state["step"][0]["step_package"]["resolved_version"], "1.0.0");
            assert_eq!(state["step"][1]["step_package"]["inputs"]["tags"], json!(["a", "b"]));
            assert_eq!(state["step"][3]["step_package"]["version"], "1.0.0");
            let p = server_process(ctx);
            let notify = &p.steps[0].actions[0];
            assert_eq!(notify.action_type, "acc-notify");
            assert_eq!(notify.step_package_version.as_deref(), Some("1.0.0"));
            let inputs = notify.inputs.clone().unwrap();
            assert_eq!(inputs["channel"], "#ops");
            assert_eq!(inputs["token"]["HasValue"], true);
            let raw = raw_process(ctx);
            for s in [&secret1, &smtp1] {
                assert!(!raw.contains(s.as_str()), "the server never returns the secret: {raw}");
            }
            // Terraform's own output masks them (the transcript of every command is
            // checked at the end).
            let show = ctx.terraform(&["show", "-no-color"]);
            assert!(show.stdout.contains("(sensitive value)"), "{}", show.stdout);
        }),
        // A secret input cleared on the server shows as a change; apply sets it again.
        Step::plan_shows(&v1, r"~ sensitive_inputs\s+= \(sensitive value\)").before(move |ctx| {
            let mut p = server_process(ctx);
            p.steps[0].actions[0].inputs.as_mut().unwrap()["token"] = json!({"HasValue": false});
            ctx.block_on(ctx.client.deployment_processes(&ctx.space_id).update(&p)).unwrap();
            assert_eq!(token(ctx), json!({"HasValue": false}));
        }),
        Step::config(&v1).check(move |ctx| assert_eq!(token(ctx), json!({"HasValue": true}))),
        // Bad inputs fail the plan with the path into the inputs; nothing is sent.
        Step::config(&bad("{ channel = \"#ops\", retries = \"three\" }", "1"))
            .expect_error(r#"(?s)Invalid input for step "Notify".*/retries \(step\[0\]\.step_package\.inputs\.retries\): expected integer, got string"#),
        Step::config(&bad("{ channel = \"#ops\", colour = \"red\" }", "1"))
            .expect_error(r#"(?s)Invalid input for step "Notify".*/colour"#),
        Step::config(&bad("{ retries = 1 }", "1"))
            .expect_error(r#"(?s)Invalid input for step "Notify".*/channel \(step\[0\]\.step_package\.inputs\.channel\): is required"#),
        // A secret the schema refuses is named by its path; the message that would
        // quote the value does not.
        Step::config(&sp_process(&notify("{ token = var.token, region = var.refused }"), ""))
            .expect_error(r#"(?s)Invalid input for step "Notify".*/region\s+\(step\[0\]\.step_package\.sensitive_inputs\.region\):\s+must\s+be\s+one\s+of\s+"eu",\s+"us"\s+\(the"#),
        // A version not installed is refused at plan, listing what is.
        Step::config(&bad("{ channel = \"#ops\" }", "7"))
            .expect_error(r#"(?s)Step package not installed.*no release on major 7 \(installed: 1.0.0\)"#),
        // A minor release installed on the server moves both usages: the one on major 1
        // and the one on the exact, now older, 1.0.0. The plan right after is empty.
        Step::plan_empty(&v1).before(|ctx| {
            let p = server_process(ctx);
            let inputs = p.steps[0].actions[0].inputs.clone().unwrap();
            assert_eq!(inputs["retries"], 3, "the failed plans applied nothing");
            install(ctx, "acc-notify", "1.1.0", &[StepDef::new("acc-notify", notify_v1_1())]);
            let p = server_process(ctx);
            for i in [0, 3] {
                let v = p.steps[i].actions[0].step_package_version.as_deref();
                assert_eq!(v, Some("1.1.0"), "the server moved {}", p.steps[i].name);
            }
        }),
        // An apply changing another step keeps both on 1.1.0 (no downgrade to the
        // exact version written), each with the version as written in the state.
        Step::config(&v1_changed).check(|ctx| {
            let state = ctx.attrs("octopus_deployment_process.app");
            for (i, written) in [(0, "1"), (3, "1.0.0")] {
                assert_eq!(state["step"][i]["step_package"]["version"], written);
                assert_eq!(state["step"][i]["step_package"]["resolved_version"], "1.1.0");
            }
            let p = server_process(ctx);
            for i in [0, 3] {
                let v = p.steps[i].actions[0].step_package_version.as_deref();
                assert_eq!(v, Some("1.1.0"), "{} stays on 1.1.0", p.steps[i].name);
            }
            let body = p.steps[2].actions[0].properties["Octopus.Action.Script.ScriptBody"].clone();
            assert_eq!(body.as_text(), Some("echo plain again"));
        }),
        // With 1.0.0 gone from the server, the exact usage is checked against what the
        // server runs (1.1.0): still no change, no "not installed".
        Step::plan_empty(&v1_changed).before(|ctx| {
            ctx.block_on(ctx.client.step_packages().uninstall("acc-notify", "1.0.0"))
                .unwrap();
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
            let state_of = state_of(ctx);
            let state = state_of("octopus_deployment_process.app");
            assert_eq!(state["step"][0]["step_package"]["resolved_version"], "2.0.0");
            let p = server_process(ctx);
            assert_eq!(p.steps[0].actions[0].inputs.clone().unwrap()["target"]["channel"], "#ops");
            // The step-package data source: a range, and the newest release.
            let range = state_of("data.octopus_step_package.range");
            assert_eq!(range["resolved_version"], "1.1.0");
            assert_eq!(range["versions"], json!(["1.1.0", "2.0.0"]), "1.0.0 was uninstalled");
            assert_eq!(range["package_id"], "acc-notify");
            assert_eq!(range["name"], "Step acc-notify");
            assert_eq!(range["description"], "The acc-notify step");
            let schema: Json = serde_json::from_str(range["inputs_schema"].as_str().unwrap()).unwrap();
            assert_eq!(schema, notify_v1_1(), "the schema of the version resolved");
            let newest = state_of("data.octopus_step_package.newest");
            assert_eq!(newest["resolved_version"], "2.0.0");
            let schema: Json = serde_json::from_str(newest["inputs_schema"].as_str().unwrap()).unwrap();
            assert_eq!(schema, notify_v2());
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
    // No secret in any plan, apply, show or error text.
    let transcript = ctx.transcript();
    assert!(
        transcript.contains("$ terraform apply"),
        "the transcript has the applies"
    );
    for s in [&secret, &smtp, &refused] {
        assert!(
            !transcript.contains(s.as_str()),
            "Terraform's output shows {s}"
        );
    }
    // Nor in the TRACE log, but for one line of Terraform's own: before each refresh,
    // its state upgrade logs at DEBUG the stored value of every `dynamic` attribute
    // ("UpgradeResourceState: ignoring dynamic block"). A list of blocks holding
    // `dynamic` attributes (`inputs`, `sensitive_inputs`, `packages`) is one `dynamic`
    // value to Terraform, so that line carries the whole `step` list, secrets included;
    // no schema with HCL-shaped inputs avoids it. Every other line (gRPC, diagnostics,
    // the provider's warnings) must be clean.
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log.contains("[TRACE]"), "TF_LOG_PATH is written at TRACE");
    for line in log.lines() {
        if line.contains("[DEBUG] UpgradeResourceState: ignoring dynamic block:") {
            continue;
        }
        for s in [&secret, &smtp, &refused] {
            assert!(
                !line.contains(s.as_str()),
                "the TRACE log holds {s}: {line}"
            );
        }
    }
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

const ROLLING_TWINS: &str = r#"
  step {
    name = "Roll"
    type = "Octopus.Script"
    child_step {
      name = "Roll twin"
      type = "Octopus.Script"
    }
    child_step {
      name = "roll TWIN"
      type = "Octopus.Script"
    }
  }
"#;

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
        // Child steps of one rolling step with the same name (case does not count): an
        // error on the second one's name.
        Step::config(&process(&[ROLLING_TWINS.to_string()]))
            .expect_error(r#"(?s)Error: Duplicate action name.*\n\s*\d+:\s+name = "roll TWIN"\n.*"roll TWIN"\s+names\s+another\s+step\s+or\s+child\s+step"#),
    ])
    .check_destroy(|ctx| {
        let left = ctx
            .block_on(ctx.client.projects(&ctx.space_id).list_all(&Default::default()))
            .unwrap();
        assert!(left.is_empty(), "nothing was applied: {left:?}");
    })
    .run(&ctx);
}
