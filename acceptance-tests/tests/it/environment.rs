//! `octopus_environment` through its whole lifecycle with real Terraform.

use acceptance_tests::{Step, TestCase, TestContext};

const CREATE: &str = r#"
resource "octopus_environment" "e" {
  name = "dev-{code}"
}
"#;

const UPDATED: &str = r#"
resource "octopus_environment" "e" {
  name                         = "development-{code}"
  description                  = "Where developers deploy"
  use_guided_failure           = true
  allow_dynamic_infrastructure = true
  sort_order                   = 7
}
"#;

const MOVED: &str = r#"
resource "octopus_space" "other" {
  name = "env-other-{code}"
}
resource "octopus_environment" "e" {
  name                         = "development-{code}"
  description                  = "Where developers deploy"
  use_guided_failure           = true
  allow_dynamic_infrastructure = true
  sort_order                   = 7
  space_id                     = octopus_space.other.id
}
"#;

fn env_id(ctx: &TestContext) -> String {
    ctx.attrs("octopus_environment.e")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn environment_lifecycle() {
    let ctx = TestContext::new();
    TestCase::new(vec![
        Step::config(CREATE).check(|ctx| {
            let a = ctx.attrs("octopus_environment.e");
            assert!(a["id"].as_str().unwrap().starts_with("Environments-"));
            assert_eq!(a["description"], "");
            assert_eq!(a["use_guided_failure"], false);
            assert!(
                a["sort_order"].as_i64().is_some(),
                "server assigns a sort order"
            );
            assert_eq!(a["slug"], format!("dev-{}", ctx.code));
        }),
        Step::plan_shows(UPDATED, r"1 to change, 0 to destroy"),
        Step::config(UPDATED).check(|ctx| {
            let e = ctx
                .block_on(ctx.client.environments(&ctx.space_id).get(&env_id(ctx)))
                .unwrap();
            assert_eq!(e.name, format!("development-{}", ctx.code));
            assert!(e.use_guided_failure && e.allow_dynamic_infrastructure);
            assert_eq!(e.sort_order, 7);
            assert_eq!(e.slug, format!("dev-{}", ctx.code), "slug kept on rename");
        }),
        Step::import("octopus_environment.e"),
        Step::plan_shows(UPDATED, r"use_guided_failure\s+= false -> true").before(|ctx| {
            let envs = ctx.client.environments(&ctx.space_id);
            let mut e = ctx.block_on(envs.get(&env_id(ctx))).unwrap();
            e.use_guided_failure = false;
            ctx.block_on(envs.update(&e)).unwrap();
        }),
        Step::config(UPDATED),
        Step::plan_shows(UPDATED, r"1 to add, 0 to change, 0 to destroy").before(|ctx| {
            ctx.block_on(ctx.client.environments(&ctx.space_id).delete(&env_id(ctx)))
                .unwrap();
        }),
        Step::config(UPDATED).check(|ctx| {
            ctx.block_on(ctx.client.environments(&ctx.space_id).get(&env_id(ctx)))
                .expect("re-created");
        }),
        Step::plan_shows(MOVED, r"must be replaced"),
        Step::config(MOVED).check(|ctx| {
            let left = ctx
                .block_on(
                    ctx.client
                        .environments(&ctx.space_id)
                        .list_all(&Default::default()),
                )
                .unwrap();
            assert!(left.is_empty(), "old environment deleted: {left:?}");
        }),
        Step::import_in_space("octopus_environment.e"),
    ])
    .check_destroy(|ctx| {
        let left = ctx
            .block_on(
                ctx.client
                    .environments(&ctx.space_id)
                    .list_all(&Default::default()),
            )
            .unwrap();
        assert!(left.is_empty(), "nothing left: {left:?}");
    })
    .run(&ctx);
}
