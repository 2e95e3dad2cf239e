//! `octopus_package_versions` with real Terraform: a matrix of NuGet and npm ranges,
//! pre-releases included and excluded, agrees with the packaging crate's semantics.

use acceptance_tests::octopus_client::OverwriteMode;
use acceptance_tests::octopus_client::model::{Feed, FeedType};
use acceptance_tests::{Step, StepDef, TestCase, TestContext, step_package_zip};
use octopus_packaging::range::VersionRange;
use octopus_packaging::version::Version;

const VERSIONS: &[&str] = &[
    "0.9.0",
    "1.0.0",
    "1.2.0-alpha",
    "1.2.0",
    "1.5.0-beta.1",
    "1.10.0",
    "2.0.0-rc.1",
    "2.0.0",
    "10.1.0",
];

const RANGES: &[&str] = &[
    // NuGet
    "1.0",
    "[1.2]",
    "[1.0,2.0)",
    "(1.0,2.0]",
    "(,1.2.0]",
    "[2.0,)",
    "[1.2.0-alpha,1.5.0-beta.1]",
    // npm
    "^1.2",
    "~1.2.0",
    "1.x",
    ">=1.0 <2.0",
    "1.2 - 2.0",
    "^0.9 || ^10",
    ">=2.0.0-rc.1",
    "^1.2.0-alpha",
    "^3",
];

/// The packaging crate's answer: the versions in `range`, highest first.
fn expected(range: Option<&str>, prerelease: bool) -> Vec<String> {
    let range = range.map(|r| VersionRange::parse(r).unwrap());
    let mut vs: Vec<Version> = VERSIONS
        .iter()
        .map(|v| Version::parse(v).unwrap())
        .filter(|v| prerelease || !v.is_prerelease())
        .filter(|v| range.as_ref().is_none_or(|r| r.contains(v)))
        .collect();
    vs.sort_by(|a, b| b.cmp(a));
    vs.iter().map(ToString::to_string).collect()
}

fn push_versions(ctx: &TestContext) {
    let dir = tempfile::tempdir().unwrap();
    for v in VERSIONS {
        let path = dir.path().join(format!("Lib.{v}.zip"));
        let bytes = step_package_zip(
            "lib",
            "1.0.0",
            &[StepDef::new(
                "lib",
                serde_json::json!({"type": "object", "title": v}),
            )],
        );
        std::fs::write(&path, bytes).unwrap();
        ctx.block_on(ctx.client.packages(&ctx.space_id).upload_path(
            &path,
            OverwriteMode::FailIfExists,
            |_, _| {},
        ))
        .unwrap();
    }
}

/// Every range, with and without pre-releases, as one `for_each` of the data source.
fn matrix_hcl() -> String {
    let mut cases = String::new();
    for (i, r) in RANGES.iter().enumerate() {
        for pre in [true, false] {
            cases.push_str(&format!(
                "    \"r{i}-{pre}\" = {{ range = {r:?}, pre = {pre} }}\n"
            ));
        }
    }
    format!(
        r#"
locals {{
  cases = {{
{cases}  }}
}}
data "octopus_package_versions" "m" {{
  for_each           = local.cases
  package_id         = "Lib"
  version_range      = each.value.range
  include_prerelease = each.value.pre
}}
data "octopus_package_versions" "all" {{
  package_id = "lib"
}}
data "octopus_package_versions" "newest_two" {{
  feed_id            = "feeds-builtin"
  package_id         = "Lib"
  include_prerelease = true
  take               = 2
}}
data "octopus_package_versions" "none" {{
  package_id    = "Lib"
  version_range = "^3"
}}
output "matrix" {{
  value = {{ for k, d in data.octopus_package_versions.m : k => d.versions }}
}}
"#
    )
}

#[test]
fn versions_agree_with_the_packaging_crates_ranges() {
    let ctx = TestContext::new();
    push_versions(&ctx);
    TestCase::new(vec![Step::config(&matrix_hcl()).check(|ctx| {
        let matrix = ctx.workdir.state()["values"]["outputs"]["matrix"]["value"].clone();
        for (i, r) in RANGES.iter().enumerate() {
            for pre in [true, false] {
                let got: Vec<String> =
                    serde_json::from_value(matrix[format!("r{i}-{pre}")].clone()).unwrap();
                assert_eq!(
                    got,
                    expected(Some(r), pre),
                    "{r} (pre-releases {})",
                    if pre { "included" } else { "excluded" }
                );
            }
        }
        let all = ctx.attrs("data.octopus_package_versions.all");
        assert_eq!(all["versions"], serde_json::json!(expected(None, false)));
        assert_eq!(all["latest"], "10.1.0");
        assert_eq!(all["feed_id"], "feeds-builtin");
        assert_eq!(all["include_prerelease"], false);
        assert_eq!(all["space_id"], ctx.space_id);
        let two = ctx.attrs("data.octopus_package_versions.newest_two");
        assert_eq!(two["versions"], serde_json::json!(["10.1.0", "2.0.0"]));
        let none = ctx.attrs("data.octopus_package_versions.none");
        assert_eq!(none["versions"], serde_json::json!([]));
        assert!(none["latest"].is_null());
    })])
    .run(&ctx);
}

#[test]
fn bad_ranges_and_external_feeds_are_errors() {
    let ctx = TestContext::new();
    let nuget = ctx
        .block_on(ctx.client.feeds(&ctx.space_id).create(&Feed::new(
            "nuget.org",
            FeedType::NuGet,
            Some("https://api.nuget.org/v3/index.json".into()),
        )))
        .unwrap();
    let external = format!(
        r#"data "octopus_package_versions" "x" {{
  feed_id    = "{}"
  package_id = "Newtonsoft.Json"
}}"#,
        nuget.id.unwrap()
    );
    TestCase::new(vec![
        Step::config(
            r#"data "octopus_package_versions" "x" {
  package_id    = "Lib"
  version_range = "[1.0"
}"#,
        )
        .expect_error("(?s)Invalid value for version_range"),
        Step::config(r#"data "octopus_package_versions" "x" { package_id = "my lib" }"#)
            .expect_error("(?s)Invalid value for package_id.*contains ` `"),
        Step::config(&external).expect_error("(?s)HTTP 501.*does not search external feeds"),
    ])
    .run(&ctx);
}
