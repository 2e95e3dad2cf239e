//! A step author's end-to-end test, hermetic and in one test: the step package from
//! the author's build output, a process that uses it (applied by the real
//! `terraform` through the provider), a deployment on octopus-lite's built-in worker,
//! and checks on its log and output variables. Fixtures come from Terraform templates
//! ([`crate::Fixture`]) with the test's random resource code.
//!
//! ```no_run
//! use acceptance_tests::{Fixture, StepTest, TestContext};
//! use serde_json::json;
//!
//! let ctx = TestContext::new();
//! let fixture = match Fixture::spin_dir("fixture".as_ref(), &ctx) {
//!     Ok(f) => f,
//!     Err(reason) => return eprintln!("skipped: {reason}"),
//! };
//! let run = StepTest::new(&ctx, "demo-echo", "1")
//!     .install_from("dist".as_ref())
//!     .inputs(json!({"message": fixture.output("message"), "repeat": 2, "uppercase": true}))
//!     .sensitive_input("token", "abcd")
//!     .deploy();
//! assert!(run.logged("HELLO"));
//! assert_eq!(run.output("demo-echo", "Echoed"), Some("HELLO"));
//! ```

use std::path::Path;

use octopus_client::model::TaskState;
use serde_json::Value;

use crate::{Deployed, Json, TestContext};

/// Installs every step-package archive (`*.zip`, `*.tar.gz`, `*.tgz`) of a build
/// output directory on the test server; an archive already installed unchanged is
/// left as it is, so re-running after a rebuild installs just the new build. Returns
/// the file names installed or found installed.
pub fn install_step_packages(ctx: &TestContext, dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("step package directory {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            n.ends_with(".zip") || n.ends_with(".tar.gz") || n.ends_with(".tgz")
        })
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let client = ctx.client.clone();
        let n = name.clone();
        ctx.block_on(async move { client.step_packages().upload(&n, bytes).await })
            .unwrap_or_else(|e| panic!("installing {name}: {e}"));
        names.push(name);
    }
    assert!(
        !names.is_empty(),
        "no step-package archives in {}",
        dir.display()
    );
    names
}

/// One step under test: which step, from where, with which inputs.
pub struct StepTest<'a> {
    ctx: &'a TestContext,
    step_id: String,
    version: String,
    inputs: Json,
    sensitive: serde_json::Map<String, Value>,
    expect: TaskState,
    extra_hcl: String,
}

impl<'a> StepTest<'a> {
    /// The step `step_id` at `version` (`"1"` follows minor upgrades of major 1).
    pub fn new(ctx: &'a TestContext, step_id: &str, version: &str) -> StepTest<'a> {
        StepTest {
            ctx,
            step_id: step_id.into(),
            version: version.into(),
            inputs: Json::Object(Default::default()),
            sensitive: Default::default(),
            expect: TaskState::Success,
            extra_hcl: String::new(),
        }
    }

    /// Installs the archives of the author's build output directory
    /// ([`install_step_packages`]).
    pub fn install_from(self, dir: &Path) -> StepTest<'a> {
        install_step_packages(self.ctx, dir);
        self
    }

    /// The step's inputs (as in HCL's `step_package.inputs`).
    pub fn inputs(mut self, inputs: Json) -> StepTest<'a> {
        self.inputs = inputs;
        self
    }

    /// A sensitive input (`step_package.sensitive_inputs`): never in state output or logs.
    pub fn sensitive_input(mut self, name: &str, value: &str) -> StepTest<'a> {
        self.sensitive
            .insert(name.into(), Value::String(value.into()));
        self
    }

    /// The state the deployment's task must end in (default `Success`).
    pub fn expect_task(mut self, state: TaskState) -> StepTest<'a> {
        self.expect = state;
        self
    }

    /// More steps after the one under test, as HCL `step { ... }` blocks (for example
    /// a script reading its output variables).
    pub fn then_hcl(mut self, steps: &str) -> StepTest<'a> {
        self.extra_hcl.push_str(steps);
        self
    }

    /// The configuration the test applies: an environment, a project and its process.
    pub fn hcl(&self) -> String {
        let code = &self.ctx.code;
        let sensitive = if self.sensitive.is_empty() {
            String::new()
        } else {
            format!(
                "\n      sensitive_inputs = {}",
                hcl_value(&Value::Object(self.sensitive.clone()))
            )
        };
        format!(
            r#"resource "octopus_environment" "step_test" {{
  name = "step-test-{code}"
  # First in the space: the default lifecycle's phases follow the environments' order,
  # and a fixture may create environments of its own.
  sort_order = -2147483648
}}

resource "octopus_project" "step_test" {{
  name = "step-test-{code}"
}}

resource "octopus_deployment_process" "step_test" {{
  project_id = octopus_project.step_test.id

  step {{
    name = "{step}"
    step_package = {{
      id      = "{step}"
      version = "{version}"
      inputs  = {inputs}{sensitive}
    }}
  }}
{extra}}}
"#,
            step = self.step_id,
            version = self.version,
            inputs = hcl_value(&self.inputs),
            extra = self.extra_hcl,
        )
    }

    /// Applies the configuration (plan-time validation included), checks the plan
    /// is empty afterwards, deploys, waits, and returns what the deployment did.
    /// Terraform destroys it all when the test's context goes.
    pub fn deploy(self) -> Deployed {
        let ctx = self.ctx;
        ctx.workdir.config(&ctx.hcl(&self.hcl()));
        let r = ctx.terraform(&["apply", "-auto-approve", "-no-color"]);
        assert_eq!(
            r.code,
            0,
            "applying the step's process failed:\n{}",
            r.output()
        );
        let plan = ctx.terraform(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(
            plan.code,
            0,
            "the plan after apply is not empty:\n{}",
            plan.output()
        );
        let id = |address: &str| {
            ctx.attrs(address)["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{address} has no id"))
                .to_owned()
        };
        let d = ctx.deploy(
            &id("octopus_project.step_test"),
            &id("octopus_environment.step_test"),
        );
        assert_eq!(
            d.task.state,
            self.expect,
            "the deployment ended {} ({}), not {}:\n{}",
            d.task.state.as_str(),
            d.task.error_message,
            self.expect.as_str(),
            d.log
        );
        d
    }

    /// Plans the configuration and returns Terraform's output: for plan-time
    /// diagnostics (a wrong input type names the input).
    pub fn plan_error(self) -> String {
        let ctx = self.ctx;
        ctx.workdir.config(&ctx.hcl(&self.hcl()));
        let r = ctx.terraform(&["plan", "-no-color"]);
        assert_ne!(r.code, 0, "the plan succeeded:\n{}", r.output());
        r.stderr
    }
}

/// A JSON value as an HCL expression (HCL accepts JSON's `:` in objects); `${` and
/// `%{` are escaped so Terraform does not interpolate them.
pub fn hcl_value(v: &Value) -> String {
    serde_json::to_string(v)
        .expect("JSON")
        .replace("${", "$${")
        .replace("%{", "%%{")
}
