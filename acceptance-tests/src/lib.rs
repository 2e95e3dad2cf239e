//! The acceptance harness: the real `terraform` binary drives the provider, served
//! in-process per test, against one embedded `octopus-lite` per test binary.
//!
//! - Each test gets a [`TestContext`]: its own **space** on the server, a random
//!   **resource code** for names, a Terraform working directory, and an API client to
//!   check the server directly. Tests run in parallel without seeing each other.
//! - [`TestCase`] runs [`Step`]s like terraform-plugin-testing: apply a config, run
//!   checks, re-plan and require an empty plan, expect errors by pattern, import and
//!   compare with the applied state; at the end it destroys and checks nothing is left.
//! - [`Fixture`] spins a Terraform template from `fixtures/<name>/` with the test's
//!   code, hands its outputs to the test, and destroys it when dropped, even when the
//!   test fails or panics.

mod deploy;
mod fixture;
mod proxy;
mod step_author;
mod step_package;

pub use deploy::Deployed;
pub use fixture::{Cloud, Fixture};
pub use proxy::{Hook, Proxy};
pub use step_author::{StepTest, hcl_value, install_step_packages};
pub use step_package::{StepDef, TRUSTED, demo_echo_archive, demo_echo_lock, step_package_zip};

use octopus_client::{Client, Config, Credentials};
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use tf_testing::WorkDir;

pub use octopus_client;
pub use serde_json::Value as Json;

/// The embedded server shared by the tests of one test binary.
pub struct Backend {
    runtime: tokio::runtime::Runtime,
    url: String,
    api_key: String,
    _data: tempfile::TempDir,
}

impl Backend {
    /// The server for this test binary, started on first use.
    pub fn get() -> &'static Backend {
        static BACKEND: OnceLock<Backend> = OnceLock::new();
        BACKEND.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let data = tempfile::Builder::new()
                .prefix("octopus-lite-")
                .tempdir()
                .expect("temp dir");
            let mut config = octopus_server::ServerConfig::new(data.path());
            // Step authors add their own package IDs (comma-separated) to the built-in list.
            let extra = std::env::var("TF_ACC_TRUST_STEP_PACKAGES").unwrap_or_default();
            config.trusted_step_packages.packages = TRUSTED
                .iter()
                .copied()
                .chain(extra.split(',').map(str::trim).filter(|s| !s.is_empty()))
                .map(|id| octopus_packaging::step_package::TrustedPackage {
                    id: id.to_string(),
                    versions: None,
                })
                .collect();
            // A step author's build output as the server's step feed: what the build
            // writes there is installed as it appears (hot reload between runs and tests).
            if let Some(dir) = std::env::var_os("TF_ACC_STEP_FEED") {
                config.step_feed_dir = Some(dir.into());
            }
            let server = runtime
                .block_on(octopus_server::Server::start(config))
                .expect("start the embedded server");
            let (url, api_key) = (server.url(), server.api_key().to_string());
            // The server lives as long as the runtime, which lives as long as the process.
            std::mem::forget(server);
            Backend {
                runtime,
                url,
                api_key,
                _data: data,
            }
        })
    }

    /// Base URL of the server.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its API key.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// A client for the server, in `space_id` when given.
    pub fn client(&self, space_id: Option<&str>) -> Client {
        let mut config = Config::new(self.url.clone(), Credentials::ApiKey(self.api_key.clone()));
        config.space_id = space_id.map(str::to_string);
        Client::new(config).expect("client")
    }

    /// Runs a future on the harness's runtime (tests are synchronous).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}

/// A short, lowercase, random code unique within this process, for resource names:
/// eight characters of `[a-z0-9]`, starting with a letter.
pub fn random_code() -> String {
    use std::hash::{BuildHasher, Hasher};
    static USED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let used = USED.get_or_init(Default::default);
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        );
        h.write_u32(std::process::id());
        let mut n = h.finish();
        let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut code = String::with_capacity(8);
        code.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        for _ in 0..7 {
            code.push(alphabet[(n % 36) as usize] as char);
            n /= 36;
        }
        if used.lock().unwrap().insert(code.clone()) {
            return code;
        }
    }
}

/// One test's world: a space of its own, a random code, a Terraform working
/// directory wired to an in-process provider, and a client.
pub struct TestContext {
    /// The random resource code of this test.
    pub code: String,
    /// The test's space ID.
    pub space_id: String,
    /// A client scoped to the test's space.
    pub client: Client,
    /// The working directory.
    pub workdir: WorkDir,
    /// The `terraform` binary of this test, when it is not the harness's.
    terraform: Option<std::path::PathBuf>,
    /// Everything the Terraform commands run through [`TestContext::terraform`] printed.
    transcript: std::cell::RefCell<String>,
    _provider: tf_sdk::InProcess,
}

impl TestContext {
    /// Creates the test's space and working directory.
    pub fn new() -> TestContext {
        let backend = Backend::get();
        let code = random_code();
        let admin = backend.client(None);
        let space = backend
            .block_on(
                admin
                    .spaces()
                    .create(&octopus_client::model::Space::new(format!("acc-{code}"))),
            )
            .expect("create the test's space");
        let space_id = space.id.expect("space has an ID");
        let provider = tf_sdk::InProcess::spawn(
            terraform_provider_octopus::OctopusProvider,
            terraform_provider_octopus::ADDRESS,
        )
        .expect("serve the provider in-process");
        let mut workdir = WorkDir::new(&[]);
        workdir.env("TF_REATTACH_PROVIDERS", provider.reattach_providers());
        TestContext {
            client: backend.client(Some(&space_id)),
            code,
            space_id,
            workdir,
            terraform: None,
            transcript: Default::default(),
            _provider: provider,
        }
    }

    /// A context whose Terraform commands (the [`TestCase`] steps, [`TestContext::attrs`],
    /// the clean-up) run `bin` instead of the harness's binary, for tests of features
    /// a newer Terraform has (see [`terraform_at_least`]).
    pub fn with_terraform(bin: std::path::PathBuf) -> TestContext {
        let mut ctx = TestContext::new();
        ctx.terraform = Some(bin);
        ctx
    }

    /// Runs `terraform <args>` in the working directory, with this test's binary.
    pub fn terraform(&self, args: &[&str]) -> tf_testing::Run {
        let run = match &self.terraform {
            None => self.workdir.run(args),
            Some(bin) => {
                let wd = &self.workdir;
                let out = std::process::Command::new(bin)
                    .args(args)
                    .current_dir(wd.path())
                    .envs(wd.env_vars())
                    .env("TF_CLI_CONFIG_FILE", wd.path().join(".terraformrc"))
                    .output()
                    .expect("run terraform");
                tf_testing::Run {
                    code: out.status.code().unwrap_or(-1),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                }
            }
        };
        // `show -json` prints the state, which holds the secrets (as every state does):
        // it is for checks, not for people, so it stays out.
        let stdout = if args.first() == Some(&"show") && args.contains(&"-json") {
            "(the state as JSON)"
        } else {
            &run.stdout
        };
        self.transcript.borrow_mut().push_str(&format!(
            "$ terraform {}\n{stdout}\n{}\n",
            args.join(" "),
            run.stderr
        ));
        run
    }

    /// What every Terraform command run through [`TestContext::terraform`] (the
    /// [`TestCase`] steps, [`TestContext::attrs`]) printed so far, both streams: to
    /// check that a secret appears in none of the plan, apply, show and error texts.
    /// `show -json`'s state is left out: the state holds secrets by design.
    pub fn transcript(&self) -> String {
        self.transcript.borrow().clone()
    }

    /// `terraform <args>`, which must succeed.
    fn terraform_ok(&self, args: &[&str]) -> tf_testing::Run {
        let r = self.terraform(args);
        assert_eq!(r.code, 0, "terraform {}:\n{}", args.join(" "), r.output());
        r
    }

    /// `terraform plan`: `Ok(true)` with changes, `Ok(false)` when empty.
    fn plan_has_changes(&self) -> Result<bool, tf_testing::Run> {
        let r = self.terraform(&["plan", "-detailed-exitcode", "-no-color"]);
        match r.code {
            0 => Ok(false),
            2 => Ok(true),
            _ => Err(r),
        }
    }

    fn plan_text(&self) -> String {
        self.terraform_ok(&["plan", "-no-color"]).stdout
    }

    /// Runs a future on the harness runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        Backend::get().block_on(f)
    }

    /// HCL that declares and configures the provider for this test's space, then
    /// `body` with `{code}` replaced by the test's code.
    ///
    /// `${path.module}` becomes `${abspath(path.module)}`: the provider runs in this
    /// process, whose working directory is not Terraform's, so relative file paths
    /// (a package's `source`) would not name the test's files.
    pub fn hcl(&self, body: &str) -> String {
        format!(
            "{}\n{}",
            self.provider_block(),
            body.replace("{code}", &self.code)
                .replace("${path.module}", "${abspath(path.module)}")
        )
    }

    /// The `terraform` and `provider` blocks for this test's space.
    pub fn provider_block(&self) -> String {
        format!("{TERRAFORM_BLOCK}\n{}", self.provider_config())
    }

    /// The `provider "octopus"` block for this test's space.
    pub fn provider_config(&self) -> String {
        let b = Backend::get();
        format!(
            "provider \"octopus\" {{\n  address  = \"{}\"\n  api_key  = \"{}\"\n  space_id = \"{}\"\n}}\n",
            b.url(),
            b.api_key(),
            self.space_id
        )
    }

    /// Attribute values of `address` in the state.
    pub fn attrs(&self, address: &str) -> Json {
        let show = self.terraform_ok(&["show", "-json", "-no-color"]);
        let state: Json = serde_json::from_str(&show.stdout).expect("show -json is JSON");
        state["values"]["root_module"]["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["address"] == address))
            .map(|r| r["values"].clone())
            .unwrap_or_else(|| panic!("{address} is not in the state"))
    }
}

impl Default for TestContext {
    fn default() -> Self {
        TestContext::new()
    }
}

impl Drop for TestContext {
    fn drop(&mut self) {
        // Best effort: whatever a failed test left behind goes with its space.
        let _ = self.terraform(&["destroy", "-auto-approve", "-no-color"]);
        let admin = Backend::get().client(None);
        let id = self.space_id.clone();
        let _ = Backend::get().block_on(async move {
            let mut space = admin.spaces().get(&id).await?;
            space.task_queue_stopped = true;
            admin.spaces().update(&space).await?;
            admin.spaces().delete(&id).await
        });
    }
}

/// Declares the provider's source address.
pub const TERRAFORM_BLOCK: &str = "terraform {\n  required_providers {\n    octopus = { source = \"octopus-rs/octopus\" }\n  }\n}\n";

type Check = Box<dyn Fn(&TestContext)>;
type IdFn = Box<dyn Fn(&Json) -> String>;

/// One step of a [`TestCase`].
pub struct Step {
    config: Option<String>,
    checks: Vec<Check>,
    expect_error: Option<regex_lite::Regex>,
    import: Option<(String, Option<IdFn>)>,
    import_ignores: Vec<String>,
    expect_non_empty_plan: bool,
    before: Option<Check>,
    plan_only: Option<regex_lite::Regex>,
    plan_empty: bool,
    deploy: Option<deploy::DeploySpec>,
}

impl Step {
    /// Only plans `hcl`, which must show changes matching `pattern` (e.g. drift made
    /// outside Terraform, or `must be replaced`).
    pub fn plan_shows(hcl: &str, pattern: &str) -> Step {
        Step {
            plan_only: Some(regex_lite::Regex::new(pattern).expect("valid pattern")),
            ..Step::config(hcl)
        }
    }

    /// Only plans `hcl`, whose plan must be empty (e.g. after the server changed
    /// something that is no change to the configuration); nothing is applied.
    pub fn plan_empty(hcl: &str) -> Step {
        Step {
            plan_empty: true,
            ..Step::config(hcl)
        }
    }

    /// Applies `hcl` (the provider block is added; `{code}` becomes the test's code).
    pub fn config(hcl: &str) -> Step {
        Step {
            config: Some(hcl.to_string()),
            checks: Vec::new(),
            expect_error: None,
            import: None,
            import_ignores: Vec::new(),
            expect_non_empty_plan: false,
            before: None,
            plan_only: None,
            plan_empty: false,
            deploy: None,
        }
    }

    /// Releases and deploys the applied project `project` (a state address such as
    /// `octopus_project.app`) to the applied environment `environment`, waits, and
    /// expects the task to succeed (see [`Step::expect_task`], [`Step::check_deployment`]).
    pub fn deploy(project: &str, environment: &str) -> Step {
        Step {
            config: None,
            deploy: Some(deploy::DeploySpec {
                project: project.into(),
                environment: environment.into(),
                expect: octopus_client::model::TaskState::Success,
                checks: Vec::new(),
            }),
            ..Step::config("")
        }
    }

    /// For a deploy step: the state the task must end in.
    ///
    /// # Panics
    ///
    /// On a step not made by [`Step::deploy`], where the expectation would be ignored.
    pub fn expect_task(mut self, state: octopus_client::model::TaskState) -> Step {
        let Some(d) = &mut self.deploy else {
            panic!("Step::expect_task({state:?}) on a step that deploys nothing: use Step::deploy");
        };
        d.expect = state;
        self
    }

    /// For a deploy step: a check on what the deployment did (log, output variables).
    ///
    /// # Panics
    ///
    /// On a step not made by [`Step::deploy`], where the check would never run.
    pub fn check_deployment(mut self, f: impl Fn(&Deployed) + 'static) -> Step {
        let Some(d) = &mut self.deploy else {
            panic!("Step::check_deployment on a step that deploys nothing: use Step::deploy");
        };
        d.checks.push(Box::new(f));
        self
    }

    /// Imports `address` by the `id` in its applied state into a fresh state and
    /// compares the two.
    pub fn import(address: &str) -> Step {
        Step {
            config: None,
            import: Some((address.to_string(), None)),
            ..Step::config("")
        }
    }

    /// Like [`Step::import`], with the import ID built from the applied attributes.
    pub fn import_with(address: &str, id: impl Fn(&Json) -> String + 'static) -> Step {
        Step {
            config: None,
            import: Some((address.to_string(), Some(Box::new(id)))),
            ..Step::config("")
        }
    }

    /// Imports `address` by `<space_id>/<id>`, the form that names another space.
    pub fn import_in_space(address: &str) -> Step {
        Step::import_with(address, |a| {
            format!(
                "{}/{}",
                a["space_id"].as_str().expect("space_id in state"),
                a["id"].as_str().expect("id in state")
            )
        })
    }

    /// For an import step: leaves these attributes out of the comparison, for what
    /// an import cannot know (secrets the server never returns, local file paths).
    pub fn ignoring(mut self, attributes: &[&str]) -> Step {
        self.import_ignores = attributes.iter().map(|a| a.to_string()).collect();
        self
    }

    /// A check after the step.
    pub fn check(mut self, f: impl Fn(&TestContext) + 'static) -> Step {
        self.checks.push(Box::new(f));
        self
    }

    /// Something to do before the step, such as changing the server behind
    /// Terraform's back.
    pub fn before(mut self, f: impl Fn(&TestContext) + 'static) -> Step {
        self.before = Some(Box::new(f));
        self
    }

    /// The step must fail with an error matching `pattern`; its checks then see what the
    /// failed apply left (nothing, for a refused plan).
    pub fn expect_error(mut self, pattern: &str) -> Step {
        self.expect_error = Some(regex_lite::Regex::new(pattern).expect("valid pattern"));
        self
    }

    /// The plan after this step may be non-empty.
    pub fn expect_non_empty_plan(mut self) -> Step {
        self.expect_non_empty_plan = true;
        self
    }
}

/// A sequence of steps with a destroy check at the end.
pub struct TestCase {
    steps: Vec<Step>,
    check_destroy: Option<Check>,
}

impl TestCase {
    /// The steps to run, in order.
    pub fn new(steps: Vec<Step>) -> TestCase {
        TestCase {
            steps,
            check_destroy: None,
        }
    }

    /// Runs after the final destroy, e.g. to ask the server that nothing is left.
    pub fn check_destroy(mut self, f: impl Fn(&TestContext) + 'static) -> TestCase {
        self.check_destroy = Some(Box::new(f));
        self
    }

    /// Runs the case in `ctx`.
    pub fn run(self, ctx: &TestContext) {
        let wd = &ctx.workdir;
        // Destroy runs with the last configuration that applied.
        let mut last_applied: Option<String> = None;
        for (i, step) in self.steps.iter().enumerate() {
            let n = i + 1;
            if let Some(before) = &step.before {
                before(ctx);
            }
            if let (Some(re), Some(config)) = (&step.plan_only, &step.config) {
                wd.config(&ctx.hcl(config));
                match ctx.plan_has_changes() {
                    Ok(true) => {
                        let text = ctx.plan_text();
                        assert!(
                            re.is_match(&text),
                            "step {n}: plan does not match {re}:\n{text}"
                        );
                    }
                    Ok(false) => panic!("step {n}: expected changes, the plan is empty"),
                    Err(r) => panic!("step {n}: plan failed:\n{}", r.output()),
                }
            } else if let (true, Some(config)) = (step.plan_empty, &step.config) {
                wd.config(&ctx.hcl(config));
                match ctx.plan_has_changes() {
                    Ok(false) => {}
                    Ok(true) => panic!("step {n}: the plan is not empty:\n{}", ctx.plan_text()),
                    Err(r) => panic!("step {n}: plan failed:\n{}", r.output()),
                }
            } else if let Some(spec) = &step.deploy {
                ctx.run_deploy(spec, n);
            } else if let Some((address, id)) = &step.import {
                import_and_compare(ctx, address, id.as_deref(), &step.import_ignores, n);
            } else if let Some(config) = &step.config {
                wd.config(&ctx.hcl(config));
                let r = ctx.terraform(&["apply", "-auto-approve", "-no-color"]);
                match &step.expect_error {
                    Some(re) => {
                        assert_ne!(
                            r.code,
                            0,
                            "step {n}: expected an error, apply succeeded:\n{}",
                            r.output()
                        );
                        assert!(
                            re.is_match(&r.stderr),
                            "step {n}: error does not match {re}:\n{}",
                            r.stderr
                        );
                    }
                    None => assert_eq!(r.code, 0, "step {n}: apply failed:\n{}", r.output()),
                }
                if step.expect_error.is_none() {
                    last_applied = Some(ctx.hcl(config));
                }
                if step.expect_error.is_none() && !step.expect_non_empty_plan {
                    match ctx.plan_has_changes() {
                        Ok(false) => {}
                        Ok(true) => panic!(
                            "step {n}: plan after apply is not empty:\n{}",
                            ctx.plan_text()
                        ),
                        Err(r) => panic!("step {n}: plan after apply failed:\n{}", r.output()),
                    }
                }
            }
            for check in &step.checks {
                check(ctx);
            }
        }
        wd.config(last_applied.as_deref().unwrap_or(&ctx.provider_block()));
        ctx.terraform_ok(&["destroy", "-auto-approve", "-no-color"]);
        if let Some(check) = &self.check_destroy {
            check(ctx);
        }
    }
}

fn import_and_compare(
    ctx: &TestContext,
    address: &str,
    id: Option<&dyn Fn(&Json) -> String>,
    ignores: &[String],
    n: usize,
) {
    let wd = &ctx.workdir;
    let applied = ctx.attrs(address);
    let id = match id {
        Some(f) => f(&applied),
        None => applied["id"].as_str().expect("id").to_string(),
    };
    // Import into a separate state so the applied one stays intact.
    let state = wd.path().join(format!("import-{n}.tfstate"));
    let state_arg = format!("-state={}", state.display());
    let r = ctx.terraform(&[
        "import",
        "-no-color",
        "-lock=false",
        &state_arg,
        address,
        &id,
    ]);
    assert_eq!(r.code, 0, "step {n}: import failed:\n{}", r.output());
    let show = ctx.terraform(&["show", "-json", "-no-color", &state.display().to_string()]);
    assert_eq!(show.code, 0, "{}", show.output());
    let json: Json = serde_json::from_str(&show.stdout).expect("show -json");
    let imported = json["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["address"] == address))
        .map(|r| r["values"].clone())
        .unwrap_or_else(|| panic!("step {n}: {address} missing from the imported state"));
    let without = |mut v: Json| {
        if let Some(m) = v.as_object_mut() {
            for a in ignores {
                m.remove(a);
            }
        }
        v
    };
    assert_eq!(
        without(imported),
        without(applied),
        "step {n}: imported state differs from the applied one"
    );
}

/// A `terraform` of at least `major.minor`, for tests of newer features: the harness's
/// own binary (`TF_ACC_TERRAFORM_PATH`, else the pinned one) when it is new enough,
/// else `/usr/local/bin/terraform` when that is. `Err` says why there is none, for the
/// test to print as its reason to skip.
pub fn terraform_at_least(major: u64, minor: u64) -> Result<std::path::PathBuf, String> {
    let candidates = [
        tf_testing::terraform().to_path_buf(),
        std::path::PathBuf::from("/usr/local/bin/terraform"),
    ];
    let mut seen = Vec::new();
    for bin in candidates {
        if !bin.is_file() {
            continue;
        }
        let version = terraform_version(&bin).unwrap_or_else(|| "unknown".into());
        let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
        if let (Some(Some(a)), Some(Some(b))) = (parts.next(), parts.next())
            && (a, b) >= (major, minor)
        {
            return Ok(bin);
        }
        seen.push(format!("{} is {version}", bin.display()));
    }
    Err(format!(
        "needs Terraform {major}.{minor} or later; {}",
        seen.join(", ")
    ))
}

/// `terraform version -json`'s version of `bin`.
fn terraform_version(bin: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new(bin)
        .args(["version", "-json"])
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .ok()?;
    let v: Json = serde_json::from_slice(&out.stdout).ok()?;
    v["terraform_version"].as_str().map(str::to_string)
}
