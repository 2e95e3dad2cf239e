//! Builds real step-package zip archives (docs/step-packages.md §5) for tests and benches.
#![allow(dead_code)]

use std::io::{Cursor, Write};
use std::path::Path;

use serde_json::{Value, json};

/// One step of a package.
#[derive(Debug, Clone)]
pub struct StepDef {
    /// Step ID (`ActionType`).
    pub id: String,
    /// Inputs JSON Schema.
    pub schema: Value,
    /// `migrations.json` (required from major 2 on).
    pub migrations: Option<Value>,
}

impl StepDef {
    pub fn new(id: &str, schema: Value) -> Self {
        Self {
            id: id.into(),
            schema,
            migrations: None,
        }
    }

    pub fn with_migrations(mut self, m: Value) -> Self {
        self.migrations = Some(m);
        self
    }
}

/// The zip bytes of `<package_id>.<version>.zip` holding `steps`.
pub fn zip(package_id: &str, version: &str, steps: &[StepDef]) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let dirs: Vec<String> = steps.iter().map(|s| format!("steps/{}", s.id)).collect();
    files.push((
        "step-package.json".into(),
        serde_json::to_vec_pretty(&json!({
            "formatVersion": 1, "id": package_id, "version": version, "steps": dirs
        }))
        .unwrap(),
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
            files.push((
                format!("{dir}/migrations.json"),
                serde_json::to_vec_pretty(m).unwrap(),
            ));
        }
        files.push((
            format!("{dir}/metadata.json"),
            serde_json::to_vec_pretty(&meta).unwrap(),
        ));
        files.push((
            format!("{dir}/inputs.schema.json"),
            serde_json::to_vec_pretty(&s.schema).unwrap(),
        ));
        files.push((
            format!("{dir}/logo.svg"),
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
        ));
        files.push((format!("{dir}/run.sh"), b"#!/bin/sh\ncat \"$1\"\n".to_vec()));
    }
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Writes `bytes` as `dir/name` the safe way: under a `.tmp` name, then renamed into place.
pub fn drop_into(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}
