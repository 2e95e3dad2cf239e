//! Builds step-package archives in our format (docs/step-packages.md §5) in memory:
//! for tests, benches and step authors' harnesses.
//!
//! ```
//! use octopus_packaging::step_package::builder::{StepDef, step_package_zip};
//! let schema = serde_json::json!({"type": "object"});
//! let zip = step_package_zip("acme-steps", "1.0.0", &[StepDef::new("notify", schema)]);
//! assert!(zip.starts_with(b"PK"));
//! ```

use serde_json::{Value, json};
use std::io::{Cursor, Write};

/// One step of a package: its ID, inputs schema and (from major 2 on) migrations.
#[derive(Debug, Clone)]
pub struct StepDef {
    /// Step ID (the `ActionType` of actions using it).
    pub id: String,
    /// The inputs JSON Schema.
    pub schema: Value,
    /// `migrations.json`.
    pub migrations: Option<Value>,
    /// The executor `run.sh` (default: prints the invocation file).
    pub script: Option<String>,
}

impl StepDef {
    /// A step without migrations.
    pub fn new(id: &str, schema: Value) -> StepDef {
        StepDef {
            id: id.into(),
            schema,
            migrations: None,
            script: None,
        }
    }

    /// The same step with its own `run.sh` (it gets the invocation file as `$1`).
    pub fn with_script(mut self, script: &str) -> StepDef {
        self.script = Some(script.to_owned());
        self
    }

    /// The same step with migrations.
    pub fn with_migrations(mut self, migrations: Value) -> StepDef {
        self.migrations = Some(migrations);
        self
    }
}

/// The zip archive `<package_id>.<version>.zip` holding `steps` (shell launchers).
pub fn step_package_zip(package_id: &str, version: &str, steps: &[StepDef]) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let dirs: Vec<String> = steps.iter().map(|s| format!("steps/{}", s.id)).collect();
    let manifest = json!({"formatVersion": 1, "id": package_id, "version": version, "steps": dirs});
    files.push((
        "step-package.json".into(),
        manifest.to_string().into_bytes(),
    ));
    for s in steps {
        let dir = format!("steps/{}", s.id);
        let mut meta = json!({
            "id": s.id,
            "name": format!("Step {}", s.id),
            "description": format!("The {} step", s.id),
            "categories": ["Test"],
            "canRunOnDeploymentTarget": false,
            "launcher": {"kind": "shell", "entrypoint": "run.sh"},
            "logo": "logo.svg",
            "inputsSchema": "inputs.schema.json"
        });
        if let Some(m) = &s.migrations {
            meta["migrations"] = json!("migrations.json");
            files.push((format!("{dir}/migrations.json"), m.to_string().into_bytes()));
        }
        files.push((
            format!("{dir}/metadata.json"),
            meta.to_string().into_bytes(),
        ));
        files.push((
            format!("{dir}/inputs.schema.json"),
            s.schema.to_string().into_bytes(),
        ));
        files.push((
            format!("{dir}/logo.svg"),
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
        ));
        let script = s
            .script
            .clone()
            .unwrap_or_else(|| "#!/bin/sh\ncat \"$1\"\n".into());
        files.push((format!("{dir}/run.sh"), script.into_bytes()));
    }
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .expect("zip entry in memory");
        w.write_all(&bytes).expect("zip write in memory");
    }
    w.finish().expect("zip in memory").into_inner()
}
