//! `octopus_variable` with real Terraform: the whole lifecycle (create, empty re-plan,
//! update, import, drift and deletion outside Terraform, replacement on a new owner,
//! destroy), a sensitive variable (never shown, never logged), the plan-time checks of
//! the value attributes, and many variables of one project applied in parallel.

use acceptance_tests::octopus_client::model::{Variable, VariableSet};
use acceptance_tests::{Step, TestCase, TestContext};

const BASE: &str = r#"
resource "octopus_environment" "prod" {
  name = "prod-{code}"
}
resource "octopus_project" "app" {
  name = "app-{code}"
}
resource "octopus_project" "other" {
  name = "other-{code}"
}
"#;

fn with_base(body: &str) -> String {
    format!("{BASE}\n{body}")
}

fn project_id(ctx: &TestContext, name: &str) -> String {
    ctx.attrs(&format!("octopus_project.{name}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The set of project `name` on the server.
fn server_set(ctx: &TestContext, name: &str) -> VariableSet {
    let pid = project_id(ctx, name);
    ctx.block_on(ctx.client.variables(&ctx.space_id).get_for_owner(&pid))
        .unwrap()
}

/// The state's variable `address` as the server has it.
fn server_variable(ctx: &TestContext, address: &str, project: &str) -> Option<Variable> {
    let id = ctx.attrs(address)["id"].as_str().unwrap().to_string();
    server_set(ctx, project).variable(&id).cloned()
}

/// Changes the variable `address` of project `project` on the server.
fn change_on_server(
    ctx: &TestContext,
    address: &str,
    project: &str,
    f: impl Fn(&mut VariableSet, &str),
) {
    let id = ctx.attrs(address)["id"].as_str().unwrap().to_string();
    let set_id = VariableSet::id_for_owner(&project_id(ctx, project));
    ctx.block_on(
        ctx.client
            .variables(&ctx.space_id)
            .modify_set(&set_id, |set| {
                f(set, &id);
                Ok::<_, ()>(())
            }),
    )
    .unwrap();
}

fn import_id(a: &serde_json::Value) -> String {
    format!(
        "{}:{}",
        a["owner_id"].as_str().unwrap(),
        a["id"].as_str().unwrap()
    )
}

const CREATED: &str = r#"
resource "octopus_variable" "url" {
  owner_id = octopus_project.app.id
  name     = "App.Url"
  value    = "https://one.example.com"
  scope {
    environments = [octopus_environment.prod.id]
    roles        = ["web"]
  }
}
"#;

const UPDATED: &str = r#"
resource "octopus_variable" "url" {
  owner_id    = octopus_project.app.id
  name        = "App.BaseUrl"
  value       = "https://two.example.com"
  description = "Where the app answers"
  scope {
    roles    = ["web", "api"]
    channels = []
  }
}
"#;

const MOVED: &str = r#"
resource "octopus_variable" "url" {
  owner_id    = octopus_project.other.id
  name        = "App.BaseUrl"
  value       = "https://two.example.com"
  description = "Where the app answers"
  scope {
    roles    = ["web", "api"]
    channels = []
  }
}
"#;

const A: &str = "octopus_variable.url";

#[test]
fn variable_lifecycle() {
    let ctx = TestContext::new();
    let (created, updated, moved) = (with_base(CREATED), with_base(UPDATED), with_base(MOVED));
    TestCase::new(vec![
        Step::config(&created).check(|ctx| {
            let a = ctx.attrs(A);
            assert_eq!(a["id"].as_str().unwrap().len(), 36, "a GUID: {a}");
            assert_eq!(a["type"], "String");
            assert_eq!(a["space_id"], ctx.space_id);
            let v = server_variable(ctx, A, "app").expect("on the server");
            assert_eq!(v.name, "App.Url");
            assert_eq!(v.value.as_deref(), Some("https://one.example.com"));
            let env = ctx.attrs("octopus_environment.prod")["id"].clone();
            assert_eq!(v.scope["Environment"], [env.as_str().unwrap()]);
            assert_eq!(v.scope["Role"], ["web"]);
        }),
        Step::plan_shows(&updated, r"1 to change, 0 to destroy"),
        Step::config(&updated).check(|ctx| {
            let v = server_variable(ctx, A, "app").unwrap();
            assert_eq!(v.name, "App.BaseUrl");
            assert_eq!(v.description.as_deref(), Some("Where the app answers"));
            assert!(!v.scope.contains_key("Environment"));
            assert_eq!(v.scope["Role"], ["api", "web"]);
        }),
        Step::import_with(A, import_id),
        // Changed outside Terraform: the plan puts the configured value back.
        Step::plan_shows(
            &updated,
            r#"~ value\s+= "https://drift.example.com" -> "https://two.example.com""#,
        )
        .before(|ctx| {
            change_on_server(ctx, A, "app", |set, id| {
                let v = set
                    .variables
                    .iter_mut()
                    .find(|v| v.id.as_deref() == Some(id))
                    .unwrap();
                v.value = Some("https://drift.example.com".into());
            });
        }),
        Step::config(&updated).check(|ctx| {
            let v = server_variable(ctx, A, "app").unwrap();
            assert_eq!(v.value.as_deref(), Some("https://two.example.com"));
        }),
        // Deleted outside Terraform: it is gone from the state and planned again.
        Step::plan_shows(&updated, r"1 to add, 0 to change, 0 to destroy").before(|ctx| {
            change_on_server(ctx, A, "app", |set, id| {
                set.variables.retain(|v| v.id.as_deref() != Some(id));
            });
        }),
        Step::config(&updated).check(|ctx| {
            assert!(server_variable(ctx, A, "app").is_some(), "created again");
        }),
        // A new owner replaces the variable.
        Step::plan_shows(
            &moved,
            r"(?s)owner_id.*forces replacement.*1 to add, 0 to change, 1 to destroy",
        ),
        Step::config(&moved).check(|ctx| {
            assert!(
                server_set(ctx, "app").variables.is_empty(),
                "left the old project"
            );
            let v = server_variable(ctx, A, "other").expect("in the new project");
            assert_eq!(v.name, "App.BaseUrl");
        }),
        Step::import_with(A, import_id),
    ])
    .check_destroy(|ctx| {
        let left = ctx
            .block_on(
                ctx.client
                    .projects(&ctx.space_id)
                    .list_all(&Default::default()),
            )
            .unwrap();
        assert!(left.is_empty(), "everything destroyed: {left:?}");
    })
    .run(&ctx);
}

/// A variable destroyed on its own leaves the project's other variables alone.
#[test]
fn destroying_a_variable_removes_only_it() {
    let ctx = TestContext::new();
    let two = with_base(
        r#"
resource "octopus_variable" "a" {
  owner_id = octopus_project.app.id
  name     = "A"
  value    = "1"
}
resource "octopus_variable" "b" {
  owner_id = octopus_project.app.id
  name     = "B"
  value    = "2"
  scope {}
}
"#,
    );
    let one = with_base(
        r#"
resource "octopus_variable" "a" {
  owner_id = octopus_project.app.id
  name     = "A"
  value    = "1"
}
"#,
    );
    TestCase::new(vec![
        Step::config(&two).check(|ctx| assert_eq!(server_set(ctx, "app").variables.len(), 2)),
        Step::config(&one).check(|ctx| {
            let names: Vec<_> = server_set(ctx, "app")
                .variables
                .into_iter()
                .map(|v| v.name)
                .collect();
            assert_eq!(names, ["A"]);
        }),
    ])
    .run(&ctx);
}

fn sensitive(secret: &str) -> String {
    with_base(&format!(
        r#"
resource "octopus_variable" "secret" {{
  owner_id        = octopus_project.app.id
  name            = "Db.Password"
  type            = "Sensitive"
  sensitive_value = "{secret}"
  description     = "the database"
}}
"#
    ))
}

const S: &str = "octopus_variable.secret";

/// Every output of Terraform commands run so far and the debug log must not hold `secret`.
fn assert_not_shown(ctx: &TestContext, secret: &str) {
    for args in [&["show", "-no-color"][..], &["plan", "-no-color"]] {
        let r = ctx.terraform(args);
        assert_eq!(r.code, 0, "{}", r.output());
        assert!(
            !r.output().contains(secret),
            "terraform {args:?} shows the secret:\n{}",
            r.output()
        );
    }
    let log = std::fs::read_to_string(ctx.workdir.path().join("terraform.log")).unwrap_or_default();
    assert!(!log.is_empty(), "TF_LOG_PATH is written");
    assert!(!log.contains(secret), "the debug log holds the secret");
    let transcript = ctx.transcript();
    assert!(!transcript.is_empty(), "the steps ran Terraform");
    assert!(
        !transcript.contains(secret),
        "a Terraform command printed the secret:\n{transcript}"
    );
}

#[test]
fn sensitive_variable() {
    let mut ctx = TestContext::new();
    let log = ctx.workdir.path().join("terraform.log");
    ctx.workdir
        .env("TF_LOG", "TRACE")
        .env("TF_LOG_PATH", log.to_str().unwrap());
    let first = format!("FIRSTSECRET-{}", ctx.code);
    let second = format!("SECONDSECRET-{}", ctx.code);
    let (s1, s2, s3) = (first.clone(), second.clone(), second.clone());
    // The variable's server ID after the second secret, for the update that follows.
    let id = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let id_after = id.clone();
    let without = with_base(
        r#"
resource "octopus_variable" "secret" {
  owner_id    = octopus_project.app.id
  name        = "Db.Password"
  type        = "Sensitive"
  description = "the database"
}
"#,
    );
    TestCase::new(vec![
        Step::config(&sensitive(&first)).check(move |ctx| {
            let v = server_variable(ctx, S, "app").unwrap();
            assert!(v.is_sensitive);
            assert_eq!(v.r#type, "Sensitive");
            assert_eq!(v.value, None, "never answered");
            assert_eq!(
                ctx.attrs(S)["sensitive_value"],
                s1.as_str(),
                "the state keeps it"
            );
            assert_eq!(ctx.attrs(S)["value"], serde_json::Value::Null);
            assert_not_shown(ctx, &s1);
        }),
        // A new secret is an update, shown without its value.
        Step::plan_shows(
            &sensitive(&second),
            r"~ sensitive_value\s+= \(sensitive value\)",
        ),
        Step::config(&sensitive(&second)).check(move |ctx| {
            assert_eq!(ctx.attrs(S)["sensitive_value"], s2.as_str());
            assert_not_shown(ctx, &s2);
            let v = server_variable(ctx, S, "app").expect("on the server");
            assert!(v.is_sensitive);
            *id.borrow_mut() = v.id.expect("the server gives an Id");
        }),
        // An update of another attribute keeps the secret on the server (the same Id).
        Step::config(&sensitive(&second).replace("the database", "the main database")).check(
            move |ctx| {
                let before = id_after.borrow().clone();
                assert!(!before.is_empty(), "the previous step saw the variable");
                assert_eq!(ctx.attrs(S)["id"], before.as_str(), "updated in place");
                let v = server_variable(ctx, S, "app").expect("still on the server");
                assert_eq!(
                    v.id.as_deref(),
                    Some(before.as_str()),
                    "the same variable on the server"
                );
                assert!(v.is_sensitive, "still sensitive");
                assert_eq!(v.r#type, "Sensitive");
                assert_eq!(v.value, None, "never answered");
                assert_eq!(v.description.as_deref(), Some("the main database"));
                assert_eq!(ctx.attrs(S)["sensitive_value"], s3.as_str());
                assert_not_shown(ctx, &s3);
            },
        ),
        // The server never returns the secret: an import has none.
        Step::import_with(S, import_id).ignoring(&["sensitive_value"]),
        // Octopus keeps a secret written back without a value: removing it replaces.
        Step::plan_shows(&without, r"(?s)sensitive_value.*forces replacement"),
        Step::config(&without).check(|ctx| {
            assert_eq!(ctx.attrs(S)["sensitive_value"], serde_json::Value::Null);
            assert!(server_variable(ctx, S, "app").unwrap().is_sensitive);
        }),
    ])
    .run(&ctx);
    assert_not_shown(&ctx, &first);
}

#[test]
fn value_attributes_must_fit_the_type() {
    let ctx = TestContext::new();
    let case = |body: &str| {
        with_base(&format!(
            "resource \"octopus_variable\" \"v\" {{\n  owner_id = octopus_project.app.id\n  name = \"V\"\n{body}\n}}\n"
        ))
    };
    TestCase::new(vec![
        Step::config(&case("  type = \"Sensitive\"\n  value = \"plain\""))
            .expect_error(r"(?s)`value` on a Sensitive variable.*sensitive_value"),
        Step::config(&case("  sensitive_value = \"hidden\""))
            .expect_error(r"(?s)`sensitive_value` on a String variable.*Sensitive"),
        Step::config(&case("  type = \"Secret\"\n  value = \"x\""))
            .expect_error(r"(?s)must be one of String,\s+Sensitive"),
    ])
    .check_destroy(|ctx| {
        // Nothing was created: plan-time errors stop before any apply.
        let left = ctx
            .block_on(
                ctx.client
                    .projects(&ctx.space_id)
                    .list_all(&Default::default()),
            )
            .unwrap();
        assert!(left.is_empty());
    })
    .run(&ctx);
}

/// Terraform creates the variables of one project in parallel: each write that loses
/// the race for the set's version is retried, and all of them land.
#[test]
fn twelve_variables_of_one_project_in_one_apply() {
    let ctx = TestContext::new();
    let hcl = with_base(
        r#"
resource "octopus_variable" "many" {
  count    = 12
  owner_id = octopus_project.app.id
  name     = "Many.${count.index}"
  value    = "value-${count.index}"
  scope {
    environments = compact([count.index % 2 == 0 ? octopus_environment.prod.id : ""])
  }
}
resource "octopus_variable" "secrets" {
  count           = 4
  owner_id        = octopus_project.app.id
  name            = "Secret.${count.index}"
  type            = "Sensitive"
  sensitive_value = "s-${count.index}"
}
"#,
    );
    let fewer = hcl.replace("count    = 12", "count    = 6");
    TestCase::new(vec![
        Step::config(&hcl).check(|ctx| {
            let set = server_set(ctx, "app");
            assert_eq!(set.variables.len(), 16, "{set:?}");
            for i in 0..12 {
                let v = set
                    .variables
                    .iter()
                    .find(|v| v.name == format!("Many.{i}"))
                    .unwrap_or_else(|| panic!("Many.{i} missing"));
                assert_eq!(v.value.as_deref(), Some(&*format!("value-{i}")));
            }
        }),
        // And as many deleted at once.
        Step::config(&fewer).check(|ctx| assert_eq!(server_set(ctx, "app").variables.len(), 10)),
    ])
    .run(&ctx);
}
