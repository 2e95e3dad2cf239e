//! `octopus_space` through its whole lifecycle with real Terraform.

use acceptance_tests::{Backend, Step, TestCase, TestContext};

const CREATE: &str = r#"
resource "octopus_space" "s" {
  name = "team-{code}"
}
"#;

const UPDATED: &str = r#"
resource "octopus_space" "s" {
  name        = "team-renamed-{code}"
  description = "The platform team's space"
}
"#;

fn space_id(ctx: &TestContext) -> String {
    ctx.attrs("octopus_space.s")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn space_lifecycle() {
    let ctx = TestContext::new();
    let admin = Backend::get().client(None);
    let (a1, a2, a3, a4) = (admin.clone(), admin.clone(), admin.clone(), admin.clone());
    TestCase::new(vec![
        Step::config(CREATE).check(move |ctx| {
            let a = ctx.attrs("octopus_space.s");
            assert_eq!(a["is_default"], false);
            assert_eq!(a["task_queue_stopped"], false);
            let s = ctx.block_on(a1.spaces().get(&space_id(ctx))).unwrap();
            assert_eq!(s.name, format!("team-{}", ctx.code));
            // A new space comes with its default project group and lifecycle.
            let groups = ctx
                .block_on(
                    a1.project_groups(&space_id(ctx))
                        .list_all(&Default::default()),
                )
                .unwrap();
            assert_eq!(groups.len(), 1);
        }),
        Step::plan_shows(UPDATED, r"1 to change, 0 to destroy"),
        Step::config(UPDATED).check(move |ctx| {
            let s = ctx.block_on(a2.spaces().get(&space_id(ctx))).unwrap();
            assert_eq!(s.description.as_deref(), Some("The platform team's space"));
        }),
        Step::import("octopus_space.s"),
        Step::plan_shows(UPDATED, r#"name\s+= "renamed-outside" -> "team-renamed-"#).before(
            move |ctx| {
                let mut s = ctx.block_on(a3.spaces().get(&space_id(ctx))).unwrap();
                s.name = "renamed-outside".into();
                ctx.block_on(a3.spaces().update(&s)).unwrap();
            },
        ),
        Step::config(UPDATED),
        Step::plan_shows(UPDATED, r"1 to add, 0 to change, 0 to destroy").before(move |ctx| {
            let id = space_id(ctx);
            let mut s = ctx.block_on(a4.spaces().get(&id)).unwrap();
            s.task_queue_stopped = true;
            ctx.block_on(a4.spaces().update(&s)).unwrap();
            ctx.block_on(a4.spaces().delete(&id)).unwrap();
        }),
        Step::config(UPDATED),
    ])
    .check_destroy(move |ctx| {
        let spaces = ctx
            .block_on(admin.spaces().list_all(&Default::default()))
            .unwrap();
        assert!(
            !spaces
                .iter()
                .any(|s| s.name.ends_with(&ctx.code) && s.name.starts_with("team-")),
            "space deleted"
        );
    })
    .run(&ctx);
}
