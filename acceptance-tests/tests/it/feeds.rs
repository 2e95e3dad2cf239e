//! The feed resources, one per feed type, through their whole lifecycle with real
//! Terraform (create, empty re-plan, update, secret change, secret cleared on the
//! server, import, destroy); the write-only passwords (Terraform 1.11 and later); the
//! `octopus_feed` data source; and what is refused before anything is applied.

use acceptance_tests::octopus_client::model::{Feed, FeedType};
use acceptance_tests::{Step, TestCase, TestContext, terraform_at_least};

/// One feed type's case: its resource, its type on the server, the attributes of a
/// first and an updated configuration (without the secret), and its secret attribute.
struct Case {
    resource: &'static str,
    feed_type: FeedType,
    create: &'static str,
    update: &'static str,
    secret: &'static str,
}

fn hcl(case: &Case, body: &str, secret: &str) -> String {
    format!(
        "resource \"octopus_{}\" \"f\" {{\n  name = \"{}-{{code}}\"\n{body}\n  {} = \"{secret}\"\n}}\n",
        case.resource,
        case.resource.replace('_', "-"),
        case.secret
    )
}

/// The secret of a feed on the server: whether it is set.
fn has_secret(f: &Feed, secret: &str) -> bool {
    let s = if secret == "password" {
        &f.password
    } else {
        &f.secret_key
    };
    s.as_ref().is_some_and(|s| s.has_value)
}

fn lifecycle(case: Case) {
    let ctx = TestContext::new();
    let address = format!("octopus_{}.f", case.resource);
    let created = hcl(&case, case.create, "first-secret");
    let updated = hcl(&case, case.update, "first-secret");
    let rotated = hcl(&case, case.update, "second-secret");
    let server_feed = {
        let address = address.clone();
        move |ctx: &TestContext| {
            let id = ctx.attrs(&address)["id"].as_str().unwrap().to_string();
            ctx.block_on(ctx.client.feeds(&ctx.space_id).get(&id))
                .unwrap()
        }
    };
    let (a1, a2, a3, a4) = (
        address.clone(),
        address.clone(),
        address.clone(),
        address.clone(),
    );
    let (f1, f2, f3, f4) = (
        server_feed.clone(),
        server_feed.clone(),
        server_feed.clone(),
        server_feed.clone(),
    );
    let secret = case.secret;
    let feed_type = case.feed_type;
    TestCase::new(vec![
        Step::config(&created).check(move |ctx| {
            let f = f1(ctx);
            assert_eq!(f.feed_type, feed_type);
            assert!(has_secret(&f, secret), "{secret} set on the server");
            let a = ctx.attrs(&a1);
            assert!(a["id"].as_str().unwrap().starts_with("Feeds-"));
            assert_eq!(a["space_id"], ctx.space_id);
            assert_eq!(a[secret], "first-secret", "the state keeps the secret");
        }),
        Step::plan_shows(&updated, r"1 to change, 0 to destroy"),
        Step::config(&updated).check(move |ctx| {
            let f = f2(ctx);
            assert!(f.name.starts_with(&case.resource.replace('_', "-")));
            assert!(has_secret(&f, secret), "the secret is kept on update");
        }),
        // A new secret is an update, shown without its value.
        Step::plan_shows(&rotated, &format!(r"~ {secret}\s+= \(sensitive value\)")),
        Step::config(&rotated).check(move |ctx| {
            assert_eq!(ctx.attrs(&a2)[secret], "second-secret");
            assert!(has_secret(&f3(ctx), secret));
        }),
        // Cleared outside Terraform: the plan sets it again.
        Step::plan_shows(&rotated, &format!(r"\+ {secret}\s+= \(sensitive value\)")).before(
            move |ctx| {
                let feeds = ctx.client.feeds(&ctx.space_id);
                let mut f = f4(ctx);
                f.password = None;
                f.secret_key = None;
                ctx.block_on(feeds.update(&f)).unwrap();
            },
        ),
        Step::config(&rotated).check(move |ctx| {
            assert!(has_secret(&server_feed(ctx), secret), "set again");
            assert_eq!(ctx.attrs(&a3)[secret], "second-secret");
        }),
        // The server never returns the secret: an import has none.
        Step::import(&address).ignoring(&[secret]),
        Step::import_in_space(&a4).ignoring(&[secret]),
    ])
    .check_destroy(|ctx| {
        let left = ctx
            .block_on(
                ctx.client
                    .feeds(&ctx.space_id)
                    .list_all(&Default::default()),
            )
            .unwrap();
        let ids: Vec<_> = left.iter().filter_map(|f| f.id.as_deref()).collect();
        assert_eq!(ids, ["feeds-builtin"], "only the built-in feed is left");
    })
    .run(&ctx);
}

#[test]
fn nuget_feed() {
    lifecycle(Case {
        resource: "nuget_feed",
        feed_type: FeedType::NuGet,
        create: r#"  feed_uri = "https://api.nuget.org/v3/index.json""#,
        update: r#"  feed_uri                       = "https://nuget.example.com/v3/index.json"
  username                       = "builder"
  is_enhanced_mode               = false
  download_attempts              = 3
  download_retry_backoff_seconds = 20
  package_acquisition_location_options = ["Server", "ExecutionTarget"]"#,
        secret: "password",
    });
}

#[test]
fn docker_container_registry() {
    lifecycle(Case {
        resource: "docker_container_registry",
        feed_type: FeedType::Docker,
        create: r#"  feed_uri = "https://index.docker.io""#,
        update: r#"  feed_uri      = "https://registry.example.com"
  api_version   = "v2"
  registry_path = "team/images"
  username      = "robot"
  package_acquisition_location_options = ["ExecutionTarget", "NotAcquired"]"#,
        secret: "password",
    });
}

#[test]
fn maven_feed() {
    lifecycle(Case {
        resource: "maven_feed",
        feed_type: FeedType::Maven,
        create: r#"  feed_uri = "https://repo.maven.apache.org/maven2/""#,
        update: r#"  feed_uri          = "https://maven.example.com/releases/"
  username          = "builder"
  download_attempts = 1"#,
        secret: "password",
    });
}

#[test]
fn helm_feed() {
    lifecycle(Case {
        resource: "helm_feed",
        feed_type: FeedType::Helm,
        create: r#"  feed_uri = "https://charts.helm.sh/stable""#,
        update: r#"  feed_uri = "https://charts.example.com"
  username = "charts"
  package_acquisition_location_options = ["ExecutionTarget"]"#,
        secret: "password",
    });
}

#[test]
fn github_repository_feed() {
    lifecycle(Case {
        resource: "github_repository_feed",
        feed_type: FeedType::GitHub,
        create: r#"  feed_uri = "https://api.github.com""#,
        update: r#"  feed_uri                       = "https://github.example.com/api/v3"
  username                       = "octocat"
  download_retry_backoff_seconds = 30"#,
        secret: "password",
    });
}

#[test]
fn npm_feed() {
    lifecycle(Case {
        resource: "npm_feed",
        feed_type: FeedType::Npm,
        create: r#"  feed_uri = "https://registry.npmjs.org""#,
        update: r#"  feed_uri = "https://npm.example.com"
  username = "ci""#,
        secret: "password",
    });
}

#[test]
fn artifactory_generic_feed() {
    lifecycle(Case {
        resource: "artifactory_generic_feed",
        feed_type: FeedType::ArtifactoryGeneric,
        create: r#"  feed_uri   = "https://acme.jfrog.io"
  repository = "generic-local""#,
        update: r#"  feed_uri     = "https://artifactory.example.com"
  repository   = "generic-releases"
  layout_regex = "(?<orgPath>.+?)/(?<module>[^/]+)/(?<module>)-(?<baseRev>[^/]+?)"
  username     = "deployer""#,
        secret: "password",
    });
}

#[test]
fn aws_elastic_container_registry() {
    lifecycle(Case {
        resource: "aws_elastic_container_registry",
        feed_type: FeedType::AwsElasticContainerRegistry,
        create: r#"  region     = "eu-west-1"
  access_key = "AKIAEXAMPLE""#,
        update: r#"  region     = "us-east-1"
  access_key = "AKIAOTHER"
  oidc_authentication = {
    role_arn     = "arn:aws:iam::123456789012:role/octopus"
    audience     = "sts.amazonaws.com"
    subject_keys = ["space", "feed"]
  }"#,
        secret: "secret_key",
    });
}

#[test]
fn s3_feed() {
    lifecycle(Case {
        resource: "s3_feed",
        feed_type: FeedType::S3,
        create: r#"  use_machine_credentials = false
  access_key              = "AKIAEXAMPLE""#,
        update: r#"  use_machine_credentials = true
  access_key              = "AKIAOTHER""#,
        secret: "secret_key",
    });
}

#[test]
fn oci_registry_feed() {
    lifecycle(Case {
        resource: "oci_registry_feed",
        feed_type: FeedType::OciRegistry,
        create: r#"  feed_uri = "oci://registry-1.docker.io""#,
        update: r#"  feed_uri = "oci://ghcr.io/acme"
  username = "acme""#,
        secret: "password",
    });
}

const WRITE_ONLY: &str = r#"
resource "octopus_nuget_feed" "wo" {
  name                = "wo-{code}"
  feed_uri            = "https://api.nuget.org/v3/index.json"
  password_wo         = "PASSWORD"
  password_wo_version = VERSION
}

resource "octopus_s3_feed" "wo" {
  name                    = "wo-s3-{code}"
  use_machine_credentials = false
  access_key              = "AKIAEXAMPLE"
  secret_key_wo           = "PASSWORD-s3"
  secret_key_wo_version   = VERSION
}
"#;

fn write_only(password: &str, version: u32) -> String {
    WRITE_ONLY
        .replace("PASSWORD", password)
        .replace("VERSION", &version.to_string())
}

fn wo_feed(ctx: &TestContext) -> Feed {
    feed_at(ctx, "octopus_nuget_feed.wo")
}

fn feed_at(ctx: &TestContext, address: &str) -> Feed {
    let id = ctx.attrs(address)["id"].as_str().unwrap().to_string();
    ctx.block_on(ctx.client.feeds(&ctx.space_id).get(&id))
        .unwrap()
}

/// Write-only passwords and secret keys reach the server and never the state; their
/// version says when to send them again, and a secret cleared on the server plans it
/// again.
#[test]
fn write_only_passwords_stay_out_of_state() {
    let bin = match terraform_at_least(1, 11) {
        Ok(bin) => bin,
        Err(why) => {
            eprintln!("skipped write_only_passwords_stay_out_of_state: {why}");
            return;
        }
    };
    let ctx = TestContext::with_terraform(bin);
    let state_file = ctx.workdir.path().join("terraform.tfstate");
    let no_secret_in_state = move |_: &TestContext| {
        let state = std::fs::read_to_string(&state_file).unwrap();
        assert!(
            !state.contains("wo-secret"),
            "a write-only value in {state}"
        );
    };
    let no_secret_2 = no_secret_in_state.clone();
    TestCase::new(vec![
        Step::config(&write_only("wo-secret-1", 1))
            .check(|ctx| {
                let a = ctx.attrs("octopus_nuget_feed.wo");
                assert!(a["password_wo"].is_null(), "{a}");
                assert!(a["password"].is_null(), "{a}");
                assert_eq!(a["password_wo_version"], 1);
                assert!(wo_feed(ctx).password.is_some_and(|p| p.has_value));
                let s3 = ctx.attrs("octopus_s3_feed.wo");
                assert!(
                    s3["secret_key_wo"].is_null() && s3["secret_key"].is_null(),
                    "{s3}"
                );
                assert_eq!(s3["secret_key_wo_version"], 1);
                let key = feed_at(ctx, "octopus_s3_feed.wo").secret_key;
                assert!(key.is_some_and(|k| k.has_value));
            })
            .check(no_secret_in_state),
        // A new value alone is not seen (Terraform keeps no copy to compare with) ...
        Step::config(&write_only("wo-secret-2", 1)),
        // ... its version says to send it.
        Step::plan_shows(
            &write_only("wo-secret-2", 2),
            r"~ password_wo_version\s+= 1 -> 2",
        ),
        Step::config(&write_only("wo-secret-2", 2)).check(no_secret_2),
        Step::plan_shows(
            &write_only("wo-secret-2", 2),
            r"(?s)\+ password_wo_version\s+= 2.*\+ secret_key_wo_version\s+= 2",
        )
        .before(|ctx| {
            let feeds = ctx.client.feeds(&ctx.space_id);
            let mut f = wo_feed(ctx);
            f.password = None;
            ctx.block_on(feeds.update(&f)).unwrap();
            let mut s3 = feed_at(ctx, "octopus_s3_feed.wo");
            s3.secret_key = None;
            ctx.block_on(feeds.update(&s3)).unwrap();
        }),
        Step::config(&write_only("wo-secret-2", 2)).check(|ctx| {
            assert!(wo_feed(ctx).password.is_some_and(|p| p.has_value));
            let key = feed_at(ctx, "octopus_s3_feed.wo").secret_key;
            assert!(key.is_some_and(|k| k.has_value));
        }),
        Step::import("octopus_nuget_feed.wo").ignoring(&["password_wo_version"]),
        Step::import("octopus_s3_feed.wo").ignoring(&["secret_key_wo_version"]),
        Step::config(
            r#"
resource "octopus_nuget_feed" "wo" {
  name                = "wo-{code}"
  feed_uri            = "https://api.nuget.org/v3/index.json"
  password            = "in-state"
  password_wo         = "wo-secret-3"
  password_wo_version = 3
}
"#,
        )
        .expect_error("(?s)Set either password or password_wo, not both"),
    ])
    .run(&ctx);
}

/// Terraform before 1.11 has no write-only attributes: the plan says so instead of
/// failing obscurely.
#[test]
fn write_only_needs_terraform_1_11() {
    let ctx = TestContext::new();
    if terraform_at_least(1, 11).is_ok_and(|b| b == tf_testing::terraform()) {
        eprintln!("skipped write_only_needs_terraform_1_11: the harness's Terraform has them");
        return;
    }
    TestCase::new(vec![
        Step::config(&write_only("wo-secret-1", 1))
            .expect_error("(?s)password_wo needs Terraform 1.11 or later.*this is Terraform 1\\."),
    ])
    .run(&ctx);
}

#[test]
fn bad_feed_configurations_are_refused_at_plan() {
    let ctx = TestContext::new();
    TestCase::new(vec![
        Step::config(
            r#"resource "octopus_helm_feed" "f" {
  name     = "h-{code}"
  feed_uri = "charts.example.com"
}"#,
        )
        .expect_error("(?s)Invalid value for feed_uri.*is not an absolute URI"),
        Step::config(
            r#"resource "octopus_nuget_feed" "f" {
  name     = "n-{code}"
  feed_uri = "https://api.nuget.org/v3/index.json"
  password = ""
}"#,
        )
        .expect_error("(?s)Invalid value for password.*must not be empty"),
        Step::config(
            r#"resource "octopus_npm_feed" "f" {
  name     = "n-{code}"
  feed_uri = "https://registry.npmjs.org"
  package_acquisition_location_options = ["Anywhere"]
}"#,
        )
        .expect_error("(?s)package_acquisition_location_options.*must be one of Server, ExecutionTarget, NotAcquired"),
        Step::config(
            r#"resource "octopus_maven_feed" "f" {
  name                = "m-{code}"
  feed_uri            = "https://repo.maven.apache.org/maven2/"
  password_wo_version = 1
}"#,
        )
        .expect_error("(?s)password_wo_version without password_wo"),
        Step::config(
            r#"resource "octopus_nuget_feed" "f" {
  name              = "n-{code}"
  feed_uri          = "https://api.nuget.org/v3/index.json"
  download_attempts = 1000
}"#,
        )
        .expect_error("(?s)Invalid value for download_attempts.*between 0 and 100"),
    ])
    .run(&ctx);
}

#[test]
fn a_feed_of_another_type_is_not_imported() {
    let ctx = TestContext::new();
    let docker = ctx
        .block_on(ctx.client.feeds(&ctx.space_id).create(&Feed::new(
            format!("docker-{}", ctx.code),
            FeedType::Docker,
            Some("https://index.docker.io".into()),
        )))
        .unwrap();
    ctx.workdir.config(&ctx.hcl(
        r#"resource "octopus_nuget_feed" "f" {
  name     = "docker-{code}"
  feed_uri = "https://index.docker.io"
}"#,
    ));
    let r = ctx.workdir.run(&[
        "import",
        "-no-color",
        "octopus_nuget_feed.f",
        docker.id.as_deref().unwrap(),
    ]);
    assert_ne!(r.code, 0, "{}", r.output());
    assert!(
        r.stderr.contains("is not a nuget feed")
            && r.stderr
                .contains("manage it with octopus_docker_container_registry"),
        "{}",
        r.stderr
    );
}

#[test]
fn feed_data_source_finds_feeds_by_name_and_type() {
    let ctx = TestContext::new();
    let config = r#"
resource "octopus_nuget_feed" "team" {
  name              = "team-{code}"
  feed_uri          = "https://nuget.example.com/v3/index.json"
  username          = "reader"
  download_attempts = 2
}
data "octopus_feed" "team" {
  name = octopus_nuget_feed.team.name
}
data "octopus_feed" "built_in" {
  name      = "Octopus Server (built-in)"
  feed_type = "BuiltIn"
}
resource "octopus_aws_elastic_container_registry" "ecr" {
  name   = "ecr-{code}"
  region = "eu-west-1"
  oidc_authentication = {
    role_arn     = "arn:aws:iam::123456789012:role/octopus"
    audience     = "sts.amazonaws.com"
    subject_keys = ["space", "feed"]
  }
}
data "octopus_feed" "ecr" {
  name = octopus_aws_elastic_container_registry.ecr.name
}
"#;
    TestCase::new(vec![
        Step::config(config).check(|ctx| {
            let team = ctx.attrs("data.octopus_feed.team");
            let resource = ctx.attrs("octopus_nuget_feed.team");
            assert_eq!(team["id"], resource["id"]);
            assert_eq!(team["feed_type"], "NuGet");
            assert_eq!(team["feed_uri"], "https://nuget.example.com/v3/index.json");
            assert_eq!(team["username"], "reader");
            assert_eq!(team["download_attempts"], 2);
            assert_eq!(team["is_enhanced_mode"], true);
            assert_eq!(team["space_id"], ctx.space_id);
            let built_in = ctx.attrs("data.octopus_feed.built_in");
            assert_eq!(built_in["id"], "feeds-builtin");
            assert!(built_in["oidc_authentication"].is_null());
            let ecr = ctx.attrs("data.octopus_feed.ecr");
            assert_eq!(ecr["region"], "eu-west-1");
            let oidc = &ecr["oidc_authentication"];
            assert_eq!(oidc["role_arn"], "arn:aws:iam::123456789012:role/octopus");
            assert_eq!(oidc["audience"], "sts.amazonaws.com");
            assert_eq!(oidc["subject_keys"], serde_json::json!(["space", "feed"]));
        }),
        Step::config(
            r#"data "octopus_feed" "wrong" {
  name      = "Octopus Server (built-in)"
  feed_type = "Docker"
}"#,
        )
        .expect_error(r#"(?s)is a BuiltIn feed, not a Docker one"#),
        Step::config(r#"data "octopus_feed" "missing" { name = "nope-{code}" }"#)
            .expect_error(r#"No feed named "nope-[a-z0-9]+""#),
    ])
    .run(&ctx);
}
