//! `octopus_package` with real Terraform and real files: push, empty re-plan, content
//! change (replacement), another path to the same content (no re-upload), deleted and
//! overwritten on the server, imports, destroy; and what is refused at plan.

use acceptance_tests::octopus_client::OverwriteMode;
use acceptance_tests::{Step, StepDef, TestCase, TestContext, step_package_zip};
use octopus_packaging::hashing::{Digests, hash_reader};
use std::path::{Path, PathBuf};

/// A real zip archive whose content depends on `seed`.
fn archive(seed: &str) -> Vec<u8> {
    let schema = serde_json::json!({"type": "object", "description": seed});
    step_package_zip("content", "1.0.0", &[StepDef::new("content", schema)])
}

/// Writes `bytes` to `rel` under the test's working directory (`path.module`).
fn put(ctx: &TestContext, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = ctx.workdir.path().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn digests(path: &Path) -> Digests {
    hash_reader(std::fs::File::open(path).unwrap()).unwrap()
}

const WEB: &str = r#"
resource "octopus_package" "web" {
  source = "${path.module}/dist/web.1.2.3.zip"
}
"#;

const MOVED: &str = r#"
resource "octopus_package" "web" {
  source = "${path.module}/elsewhere/web.1.2.3.zip"
}
"#;

fn server_package(ctx: &TestContext) -> acceptance_tests::octopus_client::model::package::Package {
    ctx.block_on(ctx.client.packages(&ctx.space_id).get("packages-web.1.2.3"))
        .unwrap()
}

/// The state and the server agree on the file at `rel`.
fn pushed(ctx: &TestContext, rel: &str) {
    let d = digests(&ctx.workdir.path().join(rel));
    let a = ctx.attrs("octopus_package.web");
    assert_eq!(a["sha256"], d.sha256_hex, "{a}");
    assert_eq!(a["hash"], d.sha1_hex);
    assert_eq!(a["size_bytes"], d.size);
    let p = server_package(ctx);
    assert_eq!(p.sha256.as_deref(), Some(d.sha256_hex.as_str()));
    assert_eq!(p.hash, d.sha1_hex);
}

#[test]
fn package_lifecycle() {
    let ctx = TestContext::new();
    put(&ctx, "dist/web.1.2.3.zip", &archive("first"));
    TestCase::new(vec![
        Step::config(WEB).check(|ctx| {
            let a = ctx.attrs("octopus_package.web");
            assert_eq!(a["id"], "packages-web.1.2.3");
            assert_eq!(a["package_id"], "web");
            assert_eq!(a["version"], "1.2.3");
            assert_eq!(a["feed_id"], "feeds-builtin");
            assert_eq!(a["file_name"], "web.1.2.3.zip");
            assert_eq!(a["space_id"], ctx.space_id);
            pushed(ctx, "dist/web.1.2.3.zip");
        }),
        // Other content in the file: replaced.
        Step::plan_shows(
            WEB,
            r"(?s)sha256.*# forces replacement.*1 to add, 0 to change, 1 to destroy",
        )
        .before(|ctx| {
            put(ctx, "dist/web.1.2.3.zip", &archive("second"));
        }),
        Step::config(WEB).check(|ctx| pushed(ctx, "dist/web.1.2.3.zip")),
        // The same content at another path: an update in place, nothing pushed.
        Step::plan_shows(MOVED, r"1 to change, 0 to destroy").before(|ctx| {
            let bytes = std::fs::read(ctx.workdir.path().join("dist/web.1.2.3.zip")).unwrap();
            put(ctx, "elsewhere/web.1.2.3.zip", &bytes);
        }),
        Step::config(MOVED).check(|ctx| {
            let source = ctx.attrs("octopus_package.web")["source"].clone();
            assert!(
                source
                    .as_str()
                    .unwrap()
                    .ends_with("/elsewhere/web.1.2.3.zip"),
                "{source}"
            );
            pushed(ctx, "elsewhere/web.1.2.3.zip");
        }),
        // Deleted on the server: pushed again.
        Step::plan_shows(MOVED, r"1 to add, 0 to change, 0 to destroy").before(|ctx| {
            ctx.block_on(
                ctx.client
                    .packages(&ctx.space_id)
                    .delete("packages-web.1.2.3"),
            )
            .unwrap();
        }),
        Step::config(MOVED).check(|ctx| pushed(ctx, "elsewhere/web.1.2.3.zip")),
        // Overwritten on the server with other content: replaced by the file's.
        Step::plan_shows(MOVED, r"(?s)sha256.*# forces replacement").before(|ctx| {
            let other = put(ctx, "ci/web.1.2.3.zip", &archive("from CI"));
            ctx.block_on(ctx.client.packages(&ctx.space_id).upload_path(
                &other,
                OverwriteMode::OverwriteExisting,
                |_, _| {},
            ))
            .unwrap();
        }),
        Step::config(MOVED).check(|ctx| pushed(ctx, "elsewhere/web.1.2.3.zip")),
        // Imports: by <package-id>.<version>, by the package's ID, in another space's
        // form. The local path is not on the server.
        Step::import_with("octopus_package.web", |_| "web.1.2.3".into()).ignoring(&["source"]),
        Step::import("octopus_package.web").ignoring(&["source"]),
        Step::import_with("octopus_package.web", |a| {
            format!("{}/web.1.2.3", a["space_id"].as_str().unwrap())
        })
        .ignoring(&["source"]),
    ])
    .check_destroy(|ctx| {
        let left = ctx
            .block_on(ctx.client.packages(&ctx.space_id).list(&Default::default()))
            .unwrap();
        assert!(left.items.is_empty(), "{:?}", left.items);
    })
    .run(&ctx);
}

/// An imported package needs only its `source` in the configuration: the first apply
/// records it, pushing nothing.
#[test]
fn an_imported_package_takes_its_source_without_a_push() {
    let ctx = TestContext::new();
    let file = put(&ctx, "dist/web.1.2.3.zip", &archive("pushed by CI"));
    let pushed_by_ci = ctx
        .block_on(ctx.client.packages(&ctx.space_id).upload_path(
            &file,
            OverwriteMode::FailIfExists,
            |_, _| {},
        ))
        .unwrap();
    ctx.workdir.config(&ctx.hcl(WEB));
    let r = ctx
        .workdir
        .run(&["import", "-no-color", "octopus_package.web", "web.1.2.3"]);
    assert_eq!(r.code, 0, "{}", r.output());
    TestCase::new(vec![Step::config(WEB).check(move |ctx| {
        let p = server_package(ctx);
        assert_eq!(
            p.published, pushed_by_ci.package.published,
            "not pushed again"
        );
        pushed(ctx, "dist/web.1.2.3.zip");
    })])
    .run(&ctx);
}

#[test]
fn file_name_names_the_package() {
    let ctx = TestContext::new();
    put(&ctx, "build/output.zip", &archive("api"));
    TestCase::new(vec![
        Step::config(
            r#"
resource "octopus_package" "api" {
  source    = "${path.module}/build/output.zip"
  file_name = "Api.Service.2.0.zip"
}
"#,
        )
        .check(|ctx| {
            let a = ctx.attrs("octopus_package.api");
            assert_eq!(a["package_id"], "Api.Service");
            assert_eq!(a["version"], "2.0.0", "normalised");
            assert_eq!(a["id"], "packages-Api.Service.2.0.0");
            assert_eq!(a["file_name"], "Api.Service.2.0.zip");
        }),
    ])
    .run(&ctx);
}

#[test]
fn bad_package_files_are_refused_at_plan() {
    let ctx = TestContext::new();
    put(&ctx, "dist/web.zip", &archive("no version"));
    put(&ctx, "dist/dir.1.0.0.zip/inner", b"a directory");
    let existing = put(&ctx, "dist/taken.1.0.0.zip", &archive("taken"));
    ctx.block_on(ctx.client.packages(&ctx.space_id).upload_path(
        &existing,
        OverwriteMode::FailIfExists,
        |_, _| {},
    ))
    .unwrap();
    TestCase::new(vec![
        Step::config(
            r#"resource "octopus_package" "p" { source = "${path.module}/dist/missing.1.0.0.zip" }"#,
        )
        .expect_error("(?s)Cannot read the package file.*missing.1.0.0.zip.*source"),
        Step::config(
            r#"resource "octopus_package" "p" { source = "${path.module}/dist/dir.1.0.0.zip" }"#,
        )
        .expect_error("(?s)Cannot read the package file.*not a regular file"),
        Step::config(r#"resource "octopus_package" "p" { source = "${path.module}/dist/web.zip" }"#)
            .expect_error("(?s)Invalid package file name.*no version found in `web`"),
        Step::config(
            r#"resource "octopus_package" "p" {
  source    = "${path.module}/dist/web.zip"
  file_name = "my app.1.0.zip"
}"#,
        )
        .expect_error(r#"(?s)Invalid package file name.*file_name = "my app.1.0.zip".*package ID `my app` contains ` `\s+at\s+position 2"#),
        Step::config(
            r#"resource "octopus_package" "p" { source = "${path.module}/dist/taken.1.0.0.zip" }"#,
        )
        .expect_error("(?s)The package taken.1.0.0 already exists in space Spaces-\\d+.*terraform import"),
    ])
    .run(&ctx);
}
