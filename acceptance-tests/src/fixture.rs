//! Fixtures: Terraform templates applied before a test with its random code, their
//! outputs handed to the test, and destroyed afterwards, whatever happens.

use crate::{Json, TestContext};
use std::path::{Path, PathBuf};
use tf_testing::WorkDir;

/// Where a fixture's template creates things, which decides what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// Only the embedded server: runs everywhere.
    Local,
    /// Amazon Web Services (`hashicorp/aws`).
    Aws,
    /// Microsoft Azure (`hashicorp/azurerm`).
    Azure,
    /// Google Cloud (`hashicorp/google`).
    Gcp,
}

impl Cloud {
    /// The cloud a template declares through its `required_providers` (a quoted
    /// `"hashicorp/aws"` source outside comments; a comment naming one is not a
    /// declaration).
    pub fn of_template(hcl: &str) -> Cloud {
        let code: String = hcl
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                !(l.starts_with('#') || l.starts_with("//"))
            })
            .collect::<Vec<_>>()
            .join("\n");
        let declares = |source: &str| code.contains(&format!("\"{source}\""));
        if declares("hashicorp/aws") {
            Cloud::Aws
        } else if declares("hashicorp/azurerm") {
            Cloud::Azure
        } else if declares("hashicorp/google") {
            Cloud::Gcp
        } else {
            Cloud::Local
        }
    }

    /// Why fixtures of this cloud cannot run here, if they cannot: its provider plugin
    /// must be in a local mirror (`TF_ACC_PLUGIN_MIRROR`) and its credentials set.
    pub fn unavailable_reason(self) -> Option<String> {
        let (name, creds): (&str, &[&str]) = match self {
            Cloud::Local => return None,
            Cloud::Aws => ("AWS", &["AWS_ACCESS_KEY_ID", "AWS_PROFILE"]),
            Cloud::Azure => ("Azure", &["ARM_CLIENT_ID", "ARM_USE_MSI"]),
            Cloud::Gcp => (
                "GCP",
                &["GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS"],
            ),
        };
        if !creds.iter().any(|v| std::env::var_os(v).is_some()) {
            return Some(format!(
                "{name} fixture skipped: no credentials (set one of {})",
                creds.join(", ")
            ));
        }
        if std::env::var_os("TF_ACC_PLUGIN_MIRROR").is_none() {
            return Some(format!(
                "{name} fixture skipped: its provider plugin is not available offline \
                 (set TF_ACC_PLUGIN_MIRROR to a filesystem mirror holding it)"
            ));
        }
        None
    }
}

/// A spun fixture. Dropping it destroys what it created.
pub struct Fixture {
    name: String,
    code: String,
    workdir: WorkDir,
    outputs: Json,
}

impl Fixture {
    /// The template folder of fixture `name`.
    pub fn template_dir(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name)
    }

    /// Applies fixture `name` with the test's code, against the test's space.
    ///
    /// Returns `Err(reason)` when the fixture's cloud is not available here; the test
    /// should then report the reason and skip.
    pub fn spin(name: &str, ctx: &TestContext) -> Result<Fixture, String> {
        Self::spin_dir(&Self::template_dir(name), ctx)
    }

    /// Applies the template in `dir` (its `.tf` files; a `code` variable receives the
    /// test's code), like [`Fixture::spin`]; for templates kept next to a step's code.
    pub fn spin_dir(dir: &Path, ctx: &TestContext) -> Result<Fixture, String> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = name.as_str();
        let dir = dir.to_path_buf();
        let mut hcl = String::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("fixture {name}: {e}")) {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "tf") {
                hcl.push_str(&std::fs::read_to_string(&path).expect("read template"));
            }
        }
        if let Some(reason) = Cloud::of_template(&hcl).unavailable_reason() {
            return Err(reason);
        }
        // The fixture gets its own working directory and state, sharing the provider
        // and environment of the test.
        let mut workdir = WorkDir::new(&[]);
        for (k, v) in ctx.workdir.env_vars() {
            workdir.env(k, v);
        }
        std::fs::write(workdir.path().join("provider.tf"), ctx.provider_block())
            .expect("write provider.tf");
        for entry in std::fs::read_dir(&dir).expect("read fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.is_file() {
                std::fs::copy(
                    &path,
                    workdir.path().join(path.file_name().expect("file name")),
                )
                .expect("copy");
            }
        }
        let code_var = format!("code={}", ctx.code);
        let mut fixture = Fixture {
            name: name.to_string(),
            code: code_var.clone(),
            workdir,
            outputs: Json::Null,
        };
        let r = fixture
            .workdir
            .run(&["apply", "-auto-approve", "-no-color", "-var", &code_var]);
        assert_eq!(r.code, 0, "fixture {name} failed to apply:\n{}", r.output());
        let out = fixture.workdir.ok(&["output", "-json", "-no-color"]);
        let outputs: Json = serde_json::from_str(&out.stdout).expect("output -json");
        fixture.outputs = outputs;
        Ok(fixture)
    }

    /// The value of output `name`.
    pub fn output(&self, name: &str) -> &Json {
        &self.outputs[name]["value"]
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let r = self
            .workdir
            .run(&["destroy", "-auto-approve", "-no-color", "-var", &self.code]);
        if r.code != 0 {
            eprintln!("fixture {} failed to destroy:\n{}", self.name, r.output());
        }
    }
}
