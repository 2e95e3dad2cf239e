//! Fixtures spun from Terraform templates: outputs handed over, torn down always.

use acceptance_tests::{Cloud, Fixture, TestContext};

fn project_exists(ctx: &TestContext, id: &str) -> bool {
    ctx.block_on(ctx.client.projects(&ctx.space_id).get(id))
        .is_ok()
}

#[test]
fn fixture_outputs_reach_the_test_and_are_destroyed() {
    let ctx = TestContext::new();
    let project_id;
    {
        let fx = Fixture::spin("project-with-environment", &ctx).expect("local fixture runs here");
        project_id = fx.output("project_id").as_str().unwrap().to_string();
        assert_eq!(fx.output("project_name"), &format!("fx-app-{}", ctx.code));
        assert!(project_exists(&ctx, &project_id));
    }
    assert!(!project_exists(&ctx, &project_id), "destroyed when dropped");
}

#[test]
fn a_failing_test_still_destroys_its_fixture() {
    let ctx = TestContext::new();
    let spun = std::sync::Mutex::new(None::<String>);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let fx = Fixture::spin("project-with-environment", &ctx).unwrap();
        *spun.lock().unwrap() = Some(fx.output("project_id").as_str().unwrap().to_string());
        panic!("the test body fails after spinning its fixture");
    }));
    assert!(result.is_err());
    let id = spun.lock().unwrap().clone().expect("fixture was spun");
    assert!(
        !project_exists(&ctx, &id),
        "fixture destroyed during unwinding"
    );
}

#[test]
fn parallel_fixtures_do_not_interfere() {
    // Two tests' worth of fixtures at the same time, each in its own space.
    let handles: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                let ctx = TestContext::new();
                let fx = Fixture::spin("project-with-environment", &ctx).unwrap();
                let id = fx.output("project_id").as_str().unwrap().to_string();
                let all = ctx
                    .block_on(
                        ctx.client
                            .projects(&ctx.space_id)
                            .list_all(&Default::default()),
                    )
                    .unwrap();
                assert_eq!(all.len(), 1, "only this test's project is in its space");
                (ctx.space_id.clone(), id)
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("no panic"))
        .collect();
    assert_ne!(results[0].0, results[1].0, "separate spaces");
    assert_ne!(results[0].1, results[1].1, "separate projects");
}

#[test]
fn cloud_fixtures_are_skipped_with_a_reason_when_unavailable() {
    let ctx = TestContext::new();
    let hcl = std::fs::read_to_string(Fixture::template_dir("aws-artifact-bucket").join("main.tf"))
        .unwrap();
    assert_eq!(Cloud::of_template(&hcl), Cloud::Aws);
    // A local template that only names a cloud provider in a comment stays local.
    let local = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/step-author/fixture/main.tf"),
    )
    .unwrap();
    assert!(local.contains("hashicorp/aws"), "the comment this checks");
    assert_eq!(Cloud::of_template(&local), Cloud::Local);
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none()
    {
        let reason = Fixture::spin("aws-artifact-bucket", &ctx)
            .err()
            .expect("skipped without credentials");
        assert!(
            reason.contains("AWS fixture skipped: no credentials"),
            "{reason}"
        );
        eprintln!("SKIPPED aws-artifact-bucket: {reason}");
    }
}
