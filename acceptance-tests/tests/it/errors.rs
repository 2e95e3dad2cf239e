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
        .expect_error("(?s)Could not create the environment \\(HTTP 404\\)"),
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
