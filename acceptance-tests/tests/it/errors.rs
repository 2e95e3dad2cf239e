//! Bad configuration gets a Terraform diagnostic that names the attribute or says what
//! to fix; never a panic or a hang.

use acceptance_tests::{Backend, Step, TestCase, TestContext};

#[test]
fn bad_values_point_at_the_attribute() {
    let ctx = TestContext::new();
    let long = "x".repeat(201);
    TestCase::new(vec![
        Step::config(r#"resource "octopus_project" "p" { name = "" }"#)
            .expect_error(r#"(?s)Invalid value for name.*name = "".*must not be empty"#),
        Step::config(&format!(
            r#"resource "octopus_environment" "e" {{ name = "{long}" }}"#
        ))
        .expect_error("(?s)Invalid value for name.*must be at most 200 characters, got 201"),
        // What the server would change is refused at plan time, on the attribute,
        // instead of becoming a perpetual diff.
        Step::config(r#"resource "octopus_project" "p" { name = "  padded-{code}  " }"#)
            .expect_error(r#"(?s)Invalid value for name.*leading or trailing whitespace.*"padded-"#),
        Step::config(r#"resource "octopus_space" "s" { name = "tab-{code}	" }"#)
            .expect_error(r#"(?s)Invalid value for name.*leading or trailing whitespace"#),
        Step::config(
            r#"resource "octopus_environment" "e" {
  name       = "e-{code}"
  sort_order = 99999999999
}"#,
        )
        .expect_error("(?s)Invalid value for sort_order.*must be between -2147483648 and 2147483647, got 99999999999"),
        Step::config(
            r#"resource "octopus_environment" "e" {
  name       = "e-{code}"
  sort_order = -99999999999
}"#,
        )
        .expect_error("(?s)Invalid value for sort_order.*got -99999999999"),
        Step::config(
            r#"resource "octopus_environment" "e" {
  name = "e-{code}"
  slug = "Not a slug!"
}"#,
        )
        .expect_error(r#"(?s)Invalid value for slug.*may only contain letters, digits"#),
        Step::config(
            r#"resource "octopus_project" "p" {
  name = "p-{code}"
  slug = ""
}"#,
        )
        .expect_error(r#"(?s)Invalid value for slug.*leave `slug` out"#),
        Step::config(
            r#"resource "octopus_project" "p" {
  name         = "p-{code}"
  lifecycle_id = "Lifecycles-99999"
}"#,
        )
        .expect_error("(?s)Lifecycles-99999"),
        Step::config(
            r#"resource "octopus_environment" "e" {
  name     = "e-{code}"
  space_id = "Spaces-99999"
}"#,
        )
        .expect_error(r#"(?s)Could not create the environment: no such space.*space_id = "Spaces-99999".*The space 'Spaces-99999' was not found\. Check `space_id`"#),
        Step::config(
            r#"resource "octopus_variable" "v" {
  owner_id = "Projects-99999"
  name     = "v"
  value    = "x"
}"#,
        )
        .expect_error(r#"(?s)its owner has no variable set.*owner_id = "Projects-99999".*must\s+be\s+the\s+ID\s+of\s+a\s+project"#),
        // An empty reference would be replaced by the default it stands for.
        Step::config(
            r#"resource "octopus_project" "p" {
  name             = "p-{code}"
  lifecycle_id     = ""
  project_group_id = " "
}"#,
        )
        .expect_error(r#"(?s)Invalid value for lifecycle_id.*leave it out for the default.*Invalid value for project_group_id"#),
        // An empty space ID is neither the provider's space nor another: refused at
        // plan, nothing created.
        Step::config(
            r#"resource "octopus_environment" "e" {
  name     = "e-{code}"
  space_id = ""
}"#,
        )
        .expect_error(r#"(?s)Invalid value for space_id.*leave `space_id` out"#)
        .check(|ctx| {
            let name = format!("e-{}", ctx.code);
            let found = ctx.block_on(ctx.client.environments(&ctx.space_id).find_by_name(&name));
            assert!(found.unwrap().is_none(), "nothing is created");
        }),
    ])
    .run(&ctx);
}

/// What the server refuses with a simple, known rule is refused at plan, on the
/// attribute, with what to write instead; and what it would store differently (an empty
/// secret, a property given twice) never reaches it. Nothing is created.
#[test]
fn server_rules_are_checked_at_plan() {
    let ctx = TestContext::new();
    let nothing_created = |ctx: &TestContext| {
        for name in [format!("p-{}", ctx.code), format!("e-{}", ctx.code)] {
            let p = ctx.block_on(ctx.client.projects(&ctx.space_id).find_by_name(&name));
            assert!(p.unwrap().is_none(), "no project {name}");
            let e = ctx.block_on(ctx.client.environments(&ctx.space_id).find_by_name(&name));
            assert!(e.unwrap().is_none(), "no environment {name}");
        }
        let f = ctx.block_on(
            ctx.client
                .feeds(&ctx.space_id)
                .find_by_name(&format!("f-{}", ctx.code)),
        );
        assert!(f.unwrap().is_none(), "no feed");
    };
    let process_of = |ty: &str, step: &str| {
        format!(
            r#"resource "octopus_project" "p" {{
  name = "p-{{code}}"
}}
resource "octopus_deployment_process" "d" {{
  project_id = octopus_project.p.id
  step {{
    name = "s"
    type = "{ty}"
    execution_properties = {{ "Octopus.Action.Script.ScriptBody" = "echo hi" }}
{step}
  }}
}}"#
        )
    };
    let process = |step: &str| process_of("Octopus.Script", step);
    let long_space_name = format!("s-{{code}}-{}", "x".repeat(50));
    let long_description = "d".repeat(2001);
    TestCase::new(vec![
        // Names: the server refuses invisible ones and bidirectional formatting.
        Step::config(r#"resource "octopus_environment" "e" { name = "\u200B" }"#)
            .expect_error(r#"(?s)Invalid value for name.*at least one visible character"#),
        Step::config(r#"resource "octopus_environment" "e" { name = "e-{code}\u202E" }"#)
            .expect_error(r#"(?s)Invalid value for name.*bidirectional formatting characters \(found U\+202E\)"#),
        Step::config(&format!(
            r#"resource "octopus_space" "s" {{ name = "{long_space_name}" }}"#
        ))
        .expect_error(r#"(?s)Invalid value for name.*at most 50 characters.*space names"#),
        Step::config(&format!(
            r#"resource "octopus_environment" "e" {{
  name        = "e-{{code}}"
  description = "{long_description}"
}}"#
        ))
        .expect_error(r#"(?s)Invalid value for description.*at most 2000 characters, got 2001"#),
        Step::config(
            r#"resource "octopus_project" "p" {
  name         = "p-{code}"
  lifecycle_id = "Lifecycles/1"
}"#,
        )
        .expect_error(r#"(?s)Invalid value for lifecycle_id.*is not an Octopus ID"#),
        // Feeds: the server's lengths, and a blank repository is none.
        Step::config(&format!(
            r#"resource "octopus_nuget_feed" "f" {{
  name     = "f-{{code}}"
  feed_uri = "https://example.com/{}"
}}"#,
            "u".repeat(2048)
        ))
        .expect_error(r#"(?s)Invalid value for feed_uri.*at most 2048 characters"#),
        Step::config(&format!(
            r#"resource "octopus_nuget_feed" "f" {{
  name     = "f-{{code}}"
  feed_uri = "https://example.com"
  username = "{}"
}}"#,
            "u".repeat(501)
        ))
        .expect_error(r#"(?s)Invalid value for username.*at most 500 characters"#),
        Step::config(
            r#"resource "octopus_artifactory_generic_feed" "f" {
  name       = "f-{code}"
  feed_uri   = "https://artifactory.example.com"
  repository = " "
}"#,
        )
        .expect_error(r#"(?s)Invalid value for repository.*must not be blank"#),
        // Variables: names, scopes and owners as the server checks them.
        Step::config(
            r#"resource "octopus_variable" "v" {
  owner_id = " Projects-1"
  name     = "v\u202E"
  value    = "x"
  scope {
    roles    = ["\u200B"]
    channels = ["Channels 1"]
  }
}"#,
        )
        .expect_error(
            r#"(?s)Invalid value for owner_id.*write "Projects-1".*Invalid value for name.*bidirectional.*Invalid value for roles.*visible character.*Invalid value for channels.*not an Octopus ID"#,
        ),
        // Deployment process: action type casing, property names, IDs, lengths.
        Step::config(&process_of("octopus.script", ""))
        .expect_error(r#"(?s)Invalid value for type.*case-sensitive on the server; write "Octopus.Script""#),
        Step::config(&process(r#"    properties = { "" = "x" }"#))
            .expect_error(r#"(?s)Invalid value for properties.*property name "" is blank"#),
        Step::config(&process(r#"    environments = ["", "Environments-1"]"#))
            .expect_error(r#"(?s)Invalid value for environments.*"" is not an Octopus ID"#),
        Step::config(&process(r#"    worker_pool_id = " ""#))
            .expect_error(r#"(?s)Invalid value for worker_pool_id.*is blank; write "" or leave it out"#),
        Step::config(&process(&format!(r#"    notes = "{}""#, "n".repeat(10_001))))
            .expect_error(r#"(?s)Invalid value for notes.*must be at most 10000 characters, got 10001"#),
        Step::config(&process(r#"    primary_package = { package_id = "" }"#))
            .expect_error(r#"(?s)Invalid value for package_id.*must not be empty"#),
        // What the server would store differently: an empty secret is none, a property
        // given twice has one value, `Extract` is extract_during_deployment's.
        Step::config(&process(r#"    sensitive_execution_properties = { "Token" = "" }"#))
            .expect_error(r#"(?s)Invalid value for sensitive_execution_properties.*"Token" is empty.*remove "Token""#),
        Step::config(&process(r#"    sensitive_execution_properties = { "Octopus.Action.Script.ScriptBody" = "secret" }"#))
            .expect_error(r#"(?s)Property set twice.*"Octopus.Action.Script.ScriptBody" is in both"#),
        Step::config(&process(
            r#"    packages = { tools = { package_id = "tools", properties = { Extract = "False" } } }"#,
        ))
        .expect_error(r#"(?s)Invalid package reference.*write\s+extract_during_deployment = false"#)
        .check(nothing_created),
    ])
    .run(&ctx);
}

fn provider_only(ctx: &TestContext, provider: &str) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    octopus = {{ source = \"octopus-rs/octopus\" }}\n  }}\n}}\n{provider}\n\
         resource \"octopus_environment\" \"e\" {{\n  name = \"e-{}\"\n}}\n",
        ctx.code
    )
}

#[test]
fn missing_or_wrong_credentials_say_what_to_fix() {
    let ctx = TestContext::new();
    let url = Backend::get().url();
    // Nothing set anywhere (the in-process provider sees no OCTOPUS_* variables).
    ctx.workdir.config(&provider_only(
        &ctx,
        &format!("provider \"octopus\" {{\n  address = \"{url}\"\n}}"),
    ));
    let r = ctx.workdir.run(&["plan", "-no-color"]);
    assert_eq!(r.code, 1, "{}", r.output());
    assert!(r.stderr.contains("Missing Octopus API key"), "{}", r.stderr);
    assert!(r.stderr.contains("OCTOPUS_APIKEY"), "{}", r.stderr);

    ctx.workdir.config(&provider_only(
        &ctx,
        &format!("provider \"octopus\" {{\n  address = \"{url}\"\n  api_key = \"API-WRONG\"\n}}"),
    ));
    let r = ctx.workdir.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(r.code, 1, "{}", r.output());
    assert!(
        r.stderr.contains("Octopus refused the API key"),
        "{}",
        r.stderr
    );
}

#[test]
fn server_not_running_is_a_clear_error_not_a_hang() {
    let ctx = TestContext::new();
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    ctx.workdir.config(&provider_only(
        &ctx,
        &format!("provider \"octopus\" {{\n  address = \"http://127.0.0.1:{port}\"\n  api_key = \"API-X\"\n  space_id = \"Spaces-1\"\n}}"),
    ));
    let r = ctx.workdir.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(r.code, 1, "{}", r.output());
    assert!(
        r.stderr.contains("Cannot reach the Octopus server"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Is the server running"), "{}", r.stderr);
}
