//! Looking things up by name, as modules shared between teams do.

use acceptance_tests::{Step, TestCase, TestContext};

const CONFIG: &str = r#"
resource "octopus_environment" "prod" {
  name = "prod-{code}"
}
resource "octopus_project" "api" {
  name = "api-{code}"
}
data "octopus_space" "mine" {
  name = "acc-{code}"
}
data "octopus_environment" "prod" {
  name = octopus_environment.prod.name
}
data "octopus_project" "api" {
  name = octopus_project.api.name
}
data "octopus_project_group" "default" {
  name = "Default Project Group"
}
data "octopus_lifecycle" "default" {
  name = "Default Lifecycle"
}
output "lookups" {
  value = {
    space       = data.octopus_space.mine.id
    environment = data.octopus_environment.prod.id
    project     = data.octopus_project.api.id
    group       = data.octopus_project_group.default.id
    lifecycle   = data.octopus_lifecycle.default.id
  }
}
"#;

#[test]
fn lookups_by_name() {
    let ctx = TestContext::new();
    TestCase::new(vec![
        Step::config(CONFIG).check(|ctx| {
            let out = &ctx.workdir.state()["values"]["outputs"]["lookups"]["value"];
            assert_eq!(out["space"], ctx.space_id);
            assert_eq!(
                out["environment"],
                ctx.attrs("octopus_environment.prod")["id"]
            );
            assert_eq!(out["project"], ctx.attrs("octopus_project.api")["id"]);
            assert_eq!(
                out["group"],
                ctx.attrs("octopus_project.api")["project_group_id"]
            );
            assert_eq!(
                out["lifecycle"],
                ctx.attrs("octopus_project.api")["lifecycle_id"]
            );
        }),
        Step::config(r#"data "octopus_environment" "missing" { name = "nope-{code}" }"#)
            .expect_error(r#"No environment named "nope-[a-z0-9]+" in space Spaces-\d+"#),
    ])
    .run(&ctx);
}
