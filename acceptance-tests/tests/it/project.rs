//! `octopus_project` through its whole lifecycle with real Terraform.

use acceptance_tests::{Step, TestCase, TestContext};

const CREATE: &str = r#"
resource "octopus_project" "p" {
  name = "web-{code}"
}
"#;

const UPDATED: &str = r#"
resource "octopus_project" "p" {
  name        = "web-renamed-{code}"
  description = "Public web site"
  is_disabled = true
}
"#;

const MOVED: &str = r#"
resource "octopus_space" "other" {
  name = "other-{code}"
}
resource "octopus_project" "p" {
  name        = "web-renamed-{code}"
  description = "Public web site"
  is_disabled = true
  space_id    = octopus_space.other.id
}
"#;

fn project_id(ctx: &TestContext) -> String {
    ctx.attrs("octopus_project.p")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn project_lifecycle() {
    let ctx = TestContext::new();
    let first_id = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let (id1, id2, id3) = (first_id.clone(), first_id.clone(), first_id.clone());
    TestCase::new(vec![
        // Create with only a name: group and lifecycle default to the space's.
        Step::config(CREATE).check(move |ctx| {
            let a = ctx.attrs("octopus_project.p");
            let id = project_id(ctx);
            assert!(id.starts_with("Projects-"), "{id}");
            assert_eq!(a["space_id"], ctx.space_id);
            assert_eq!(
                a["deployment_process_id"],
                format!("deploymentprocess-{id}")
            );
            let server = ctx
                .block_on(ctx.client.projects(&ctx.space_id).get(&id))
                .unwrap();
            assert_eq!(server.name, format!("web-{}", ctx.code));
            let lifecycle = ctx
                .block_on(
                    ctx.client
                        .lifecycles(&ctx.space_id)
                        .get(&server.lifecycle_id),
                )
                .unwrap();
            assert_eq!(lifecycle.name, "Default Lifecycle");
            let group = ctx
                .block_on(
                    ctx.client
                        .project_groups(&ctx.space_id)
                        .get(&server.project_group_id),
                )
                .unwrap();
            assert_eq!(group.name, "Default Project Group");
            *id1.borrow_mut() = id;
        }),
        // In-place update keeps the ID.
        Step::plan_shows(UPDATED, r"1 to change, 0 to destroy"),
        Step::config(UPDATED).check(move |ctx| {
            assert_eq!(project_id(ctx), *id2.borrow(), "updated in place");
            let server = ctx
                .block_on(ctx.client.projects(&ctx.space_id).get(&id2.borrow()))
                .unwrap();
            assert_eq!(server.description.as_deref(), Some("Public web site"));
            assert!(server.is_disabled);
        }),
        // Import by ID and compare with the applied state.
        Step::import("octopus_project.p"),
        // Drift made through the API is detected, then repaired by apply.
        Step::plan_shows(
            UPDATED,
            r#"description\s+=\s+"changed behind terraform's back" -> "Public web site""#,
        )
        .before(|ctx| {
            let projects = ctx.client.projects(&ctx.space_id);
            let mut p = ctx.block_on(projects.get(&project_id(ctx))).unwrap();
            p.description = Some("changed behind terraform's back".into());
            ctx.block_on(projects.update(&p)).unwrap();
        }),
        Step::config(UPDATED).check(|ctx| {
            let p = ctx
                .block_on(ctx.client.projects(&ctx.space_id).get(&project_id(ctx)))
                .unwrap();
            assert_eq!(p.description.as_deref(), Some("Public web site"));
        }),
        // Deleted through the API: the plan re-creates it, apply does.
        Step::plan_shows(UPDATED, r"1 to add, 0 to change, 0 to destroy").before(|ctx| {
            ctx.block_on(ctx.client.projects(&ctx.space_id).delete(&project_id(ctx)))
                .unwrap();
        }),
        Step::config(UPDATED).check(|ctx| {
            ctx.block_on(ctx.client.projects(&ctx.space_id).get(&project_id(ctx)))
                .expect("re-created");
        }),
        // Moving to another space replaces the project.
        Step::plan_shows(MOVED, r"must be replaced"),
        Step::config(MOVED).check(move |ctx| {
            let a = ctx.attrs("octopus_project.p");
            let other = ctx.attrs("octopus_space.other");
            assert_eq!(a["space_id"], other["id"]);
            assert_ne!(a["id"].as_str().unwrap(), id3.borrow().as_str());
            let left = ctx
                .block_on(
                    ctx.client
                        .projects(&ctx.space_id)
                        .list_all(&Default::default()),
                )
                .unwrap();
            assert!(left.is_empty(), "old project deleted: {left:?}");
        }),
        // Import by the bare ID, although the project is not in the provider's space:
        // Octopus IDs are unique on a server, so every space is searched.
        Step::import("octopus_project.p"),
        // Import across spaces with `<space>/<id>`.
        Step::import_in_space("octopus_project.p"),
    ])
    .check_destroy(|ctx| {
        let left = ctx
            .block_on(
                ctx.client
                    .projects(&ctx.space_id)
                    .list_all(&Default::default()),
            )
            .unwrap();
        assert!(left.is_empty(), "nothing left: {left:?}");
    })
    .run(&ctx);
}
