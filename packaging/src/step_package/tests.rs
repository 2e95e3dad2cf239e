//! Step packages built as real zip and tar.gz archives.

use super::*;
use crate::filename::PackageFormat;
use serde_json::json;
use std::io::Write;

type Files = Vec<(String, Vec<u8>)>;

fn json_bytes(v: Value) -> Vec<u8> {
    serde_json::to_vec_pretty(&v).unwrap()
}

fn metadata(id: &str) -> Value {
    json!({
        "id": id,
        "name": "Run a database migration",
        "description": "Runs migrations",
        "categories": ["Database"],
        "canRunOnDeploymentTarget": false,
        "launcher": {"kind": "shell", "entrypoint": "run.sh"},
        "logo": "logo.svg",
        "inputsSchema": "inputs.schema.json"
    })
}

fn schema_v2() -> Value {
    json!({
        "type": "object",
        "required": ["database"],
        "additionalProperties": false,
        "properties": {
            "database": {
                "type": "object",
                "required": ["host", "port"],
                "properties": {"host": {"type": "string", "minLength": 1}, "port": {"type": "integer", "minimum": 1}}
            },
            "dryRun": {"type": "boolean"}
        }
    })
}

fn migrations_v2() -> Value {
    json!({"migrations": [{"from": 1, "ops": [
        {"rename": {"from": "/host", "to": "/database/host"}},
        {"rename": {"from": "/port", "to": "/database/port"}},
        {"default": {"path": "/database/port", "value": 5432}},
        {"remove": {"path": "/verbose"}}
    ]}]})
}

/// A two-step package at major 2: `db-migrate` (with migrations) and `notify`.
fn good_files(version: &str) -> Files {
    let mut notify = metadata("notify");
    notify["launcher"] = json!({"kind": "node", "entrypoint": "dist/index.js"});
    notify["logo"] = json!("icon.png");
    // Required even when it changes nothing.
    notify["migrations"] = json!("migrations.json");
    let mut db = metadata("db-migrate");
    db["migrations"] = json!("migrations.json");
    vec![
        (
            MANIFEST_FILE.into(),
            json_bytes(
                json!({"formatVersion": 1, "id": "acme-steps", "version": version, "steps": ["steps/db", "./steps/notify/"]}),
            ),
        ),
        ("steps/db/metadata.json".into(), json_bytes(db)),
        (
            "steps/db/inputs.schema.json".into(),
            json_bytes(schema_v2()),
        ),
        (
            "steps/db/migrations.json".into(),
            json_bytes(migrations_v2()),
        ),
        (
            "steps/db/run.sh".into(),
            b"#!/bin/sh\ncat \"$1\"\n".to_vec(),
        ),
        ("steps/db/logo.svg".into(), b"<svg/>".to_vec()),
        ("steps/notify/metadata.json".into(), json_bytes(notify)),
        (
            "steps/notify/inputs.schema.json".into(),
            json_bytes(json!({"type": "object"})),
        ),
        (
            "steps/notify/dist/index.js".into(),
            b"console.log(1)".to_vec(),
        ),
        ("steps/notify/icon.png".into(), b"\x89PNG".to_vec()),
        (
            "steps/notify/migrations.json".into(),
            json_bytes(json!({"migrations": [{"from": 1, "ops": []}]})),
        ),
    ]
}

fn write_zip(dir: &tempfile::TempDir, files: &Files) -> std::path::PathBuf {
    let path = dir.path().join("acme-steps.2.1.0.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, data) in files {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
    path
}

fn write_tgz(dir: &tempfile::TempDir, files: &Files) -> std::path::PathBuf {
    let path = dir.path().join("acme-steps.2.1.0.tgz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    let mut b = tar::Builder::new(gz);
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, name.trim_start_matches("./"), data.as_slice())
            .unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
    path
}

fn load(files: &Files) -> Result<StepPackage, StepPackageError> {
    let dir = tempfile::tempdir().unwrap();
    let p = write_zip(&dir, files);
    load_step_package(&p, PackageFormat::Zip, &ArchiveLimits::default())
}

fn load_err(files: &Files, want: &str) {
    let e = load(files).expect_err(want).to_string();
    assert!(e.contains(want), "`{e}` lacks `{want}`");
}

fn edit(files: &mut Files, name: &str, f: impl FnOnce(&mut Value)) {
    let entry = files.iter_mut().find(|(n, _)| n == name).unwrap();
    let mut v: Value = serde_json::from_slice(&entry.1).unwrap();
    f(&mut v);
    entry.1 = json_bytes(v);
}

#[test]
fn loads_a_valid_package_from_zip_and_tgz() {
    let files = good_files("2.1.0");
    let pkg = load(&files).unwrap();
    assert_eq!(pkg.manifest.id, "acme-steps");
    assert_eq!(pkg.manifest.version.to_string(), "2.1.0");
    let ids: Vec<&str> = pkg.steps.iter().map(|s| s.metadata.id.as_str()).collect();
    assert_eq!(ids, ["db-migrate", "notify"]);
    let db = pkg.step("db-migrate").unwrap();
    assert_eq!(db.dir, "steps/db");
    assert_eq!(db.metadata.launcher.kind, LauncherKind::Shell);
    assert_eq!(db.migrations.migrations.len(), 1);
    assert_eq!(pkg.step("notify").unwrap().dir, "steps/notify");
    pkg.check_file_name(&PackageFileName::parse("ACME-steps.2.1.zip").unwrap())
        .unwrap();
    let e = pkg
        .check_file_name(&PackageFileName::parse("acme-steps.2.2.0.zip").unwrap())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the package is `acme-steps 2.1.0` but its file name says `acme-steps 2.2.0`"
    );

    let dir = tempfile::tempdir().unwrap();
    let tgz = write_tgz(&dir, &files);
    let pkg2 = load_step_package(&tgz, PackageFormat::Tgz, &ArchiveLimits::default()).unwrap();
    assert_eq!(pkg2.steps.len(), 2);
    assert_eq!(pkg2.steps[0].metadata, pkg.steps[0].metadata);
}

#[test]
fn inputs_are_validated_with_paths_and_upgraded_explicitly() {
    let pkg = load(&good_files("2.1.0")).unwrap();
    let db = pkg.step("db-migrate").unwrap();
    db.validate_inputs(&json!({"database": {"host": "db", "port": 5432}}))
        .unwrap();
    let errs: Vec<String> = db
        .validate_inputs(&json!({"database": {"host": "", "port": "x"}, "verbose": true}))
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "/database/host: must be at least 1 characters long, got 0",
            "/database/port: expected integer, got string",
            "/verbose: is not an allowed input"
        ]
    );
    // v1 inputs: flat host/port plus an option v2 dropped.
    let upgraded = db
        .upgrade_inputs(&json!({"host": "db.local", "verbose": true}), 1)
        .unwrap();
    assert_eq!(
        upgraded,
        json!({"database": {"host": "db.local", "port": 5432}})
    );
    let e = db.upgrade_inputs(&json!({"port": 0}), 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the migrated inputs are invalid for version 2.1.0: /database/host: is required but missing; /database/port: must be >= 1, got 0"
    );
    assert!(matches!(
        db.upgrade_inputs(&json!({}), 3),
        Err(UpgradeError::Migration(MigrationError::Downgrade {
            from: 3,
            to: 2
        }))
    ));
}

#[test]
fn invalid_packages_say_why() {
    let good = good_files("2.1.0");
    let mut f = good.clone();
    f.retain(|(n, _)| n != MANIFEST_FILE);
    load_err(&f, "`step-package.json` is missing from the package");

    let mut f = good.clone();
    edit(&mut f, MANIFEST_FILE, |v| v["formatVersion"] = json!(2));
    load_err(&f, "formatVersion 2 is not supported");

    let mut f = good.clone();
    edit(&mut f, MANIFEST_FILE, |v| v["version"] = json!("2"));
    load_err(
        &f,
        "`step-package.json` is invalid: version `2` has 1 numeric component",
    );

    let mut f = good.clone();
    edit(&mut f, MANIFEST_FILE, |v| {
        v["steps"] = json!(["steps/db", "steps/missing"])
    });
    load_err(
        &f,
        "`steps/missing/metadata.json` is missing from the package (step `steps/missing` is listed",
    );

    let mut f = good.clone();
    edit(&mut f, MANIFEST_FILE, |v| {
        v["steps"] = json!(["../steps/db"])
    });
    load_err(
        &f,
        "step directory `../steps/db`: the path contains a `..` component",
    );

    let mut f = good.clone();
    edit(&mut f, "steps/db/metadata.json", |v| {
        v["canRunOnDeploymentTraget"] = json!(true);
    });
    load_err(&f, "unknown field `canRunOnDeploymentTraget`");

    let mut f = good.clone();
    edit(&mut f, "steps/db/metadata.json", |v| {
        v["launcher"]["kind"] = json!("ruby")
    });
    load_err(
        &f,
        "unknown variant `ruby`, expected one of `node`, `python`, `executable`, `shell`",
    );

    let mut f = good.clone();
    f.retain(|(n, _)| n != "steps/db/run.sh");
    load_err(
        &f,
        "`steps/db/run.sh` is missing from the package (`launcher.entrypoint` in steps/db/metadata.json names it)",
    );

    let mut f = good.clone();
    edit(&mut f, "steps/db/metadata.json", |v| {
        v["launcher"]["entrypoint"] = json!("../notify/dist/index.js")
    });
    load_err(&f, "must be a relative path inside the step directory");

    let mut f = good.clone();
    edit(&mut f, "steps/db/metadata.json", |v| {
        v["logo"] = json!("run.sh")
    });
    load_err(&f, "must be an .svg or .png file");

    let mut f = good.clone();
    edit(&mut f, "steps/notify/metadata.json", |v| {
        v["id"] = json!("db-migrate")
    });
    load_err(&f, "step ID `db-migrate` is used twice");

    let mut f = good.clone();
    edit(&mut f, "steps/notify/metadata.json", |v| {
        v["id"] = json!("bad id")
    });
    load_err(&f, "`id`: step ID `bad id` contains ` ` at position 3");

    let mut f = good.clone();
    edit(&mut f, "steps/db/inputs.schema.json", |v| {
        v["properties"]["dryRun"]["format"] = json!("x")
    });
    load(&f).unwrap();
    edit(&mut f, "steps/db/inputs.schema.json", |v| {
        v["properties"]["dryRun"]["if"] = json!({})
    });
    load_err(
        &f,
        "`steps/db/inputs.schema.json`: invalid inputs schema at `#/properties/dryRun/if`: keyword `if` is not supported",
    );

    let mut f = good.clone();
    edit(&mut f, "steps/notify/inputs.schema.json", |v| {
        *v = json!({"type": "array"})
    });
    load_err(&f, "the root schema must say `\"type\": \"object\"`");

    let mut f = good.clone();
    edit(&mut f, "steps/db/metadata.json", |v| {
        v.as_object_mut().unwrap().remove("migrations");
    });
    load_err(
        &f,
        "version 2.1.0 needs `migrations` covering majors 1 to 1",
    );

    let mut f = good_files("3.0.0");
    load_err(&f, "no migration from major 2 to 3");
    edit(&mut f, "steps/db/migrations.json", |v| {
        v["migrations"]
            .as_array_mut()
            .unwrap()
            .push(json!({"from": 2, "ops": [{"remove": {"path": "dryRun"}}]}));
    });
    load_err(
        &f,
        "invalid path `dryRun`: a path must be a JSON Pointer starting with `/`",
    );

    let mut f = good.clone();
    edit(&mut f, "steps/db/migrations.json", |v| {
        v["migrations"]
            .as_array_mut()
            .unwrap()
            .push(json!({"from": 2, "ops": []}));
    });
    load_err(
        &f,
        "a migration from major 2 makes no sense for version major 2",
    );

    let mut f = good.clone();
    edit(&mut f, "steps/db/migrations.json", |v| {
        v["migrations"][0]["ops"][0] = json!({"move": {"from": "/a", "to": "/b"}})
    });
    load_err(&f, "unknown variant `move`");

    // A package whose archive is unsafe is refused before any JSON is trusted.
    let mut f = good.clone();
    f.push(("../escape.json".into(), b"{}".to_vec()));
    load_err(&f, "entry `../escape.json` is refused");
}

#[test]
fn migration_semantics() {
    let m: Migrations = serde_json::from_value(json!({"migrations": [
        {"from": 1, "ops": [{"rename": {"from": "/a", "to": "/b/c"}}]},
        {"from": 2, "ops": [{"default": {"path": "/b/d", "value": [1]}}, {"remove": {"path": "/gone/deep"}}]},
        {"from": 3, "ops": [{"rename": {"from": "/list/0/x", "to": "/list/0/y"}}, {"rename": {"from": "/k~1v", "to": "/k~0v"}}]}
    ]}))
    .unwrap();
    let out = migrate_inputs(
        &json!({"a": 1, "b": {}, "list": [{"x": 5}], "k/v": 2}),
        &m,
        1,
        4,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"b": {"c": 1, "d": [1]}, "list": [{"y": 5}], "k~v": 2})
    );
    // Same major: unchanged; partial chains.
    let same = migrate_inputs(&json!({"a": 1}), &m, 2, 2).unwrap();
    assert_eq!(same, json!({"a": 1}));
    assert_eq!(
        migrate_inputs(&json!({"a": 1}), &m, 1, 2).unwrap(),
        json!({"b": {"c": 1}})
    );
    // Defaults do not overwrite.
    assert_eq!(
        migrate_inputs(&json!({"b": {"d": "mine"}}), &m, 2, 3).unwrap(),
        json!({"b": {"d": "mine"}})
    );
    assert_eq!(
        migrate_inputs(&json!({}), &m, 4, 5)
            .unwrap_err()
            .to_string(),
        "no migration from major 4 to 5 is defined"
    );
    assert_eq!(
        migrate_inputs(&json!({}), &m, 3, 1).unwrap_err(),
        MigrationError::Downgrade { from: 3, to: 1 }
    );
    assert_eq!(
        migrate_inputs(&json!([1]), &m, 1, 2).unwrap_err(),
        MigrationError::NotAnObject
    );
    let e = migrate_inputs(&json!({"a": 1, "b": {"c": 0}}), &m, 1, 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "migration from major 1, operation 0 (`rename`): `/b/c` already exists"
    );
    let e = migrate_inputs(&json!({"a": 1, "b": "text"}), &m, 1, 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "migration from major 1, operation 0 (`rename`): `/b` is a string, not an object"
    );
    // Removing below a non-object or absent parent is a no-op.
    migrate_inputs(&json!({"gone": 3}), &m, 2, 3).unwrap();
    let bad: Migrations = serde_json::from_value(
        json!({"migrations": [{"from": 1, "ops": [{"remove": {"path": "/a~2"}}]}]}),
    )
    .unwrap();
    assert!(
        migrate_inputs(&json!({}), &bad, 1, 2)
            .unwrap_err()
            .to_string()
            .contains("`~` must be escaped")
    );
}

#[test]
fn upgrade_rules() {
    let v = |s: &str| Version::parse(s).unwrap();
    assert_eq!(
        upgrade_kind(&v("1.2.0"), &v("1.2.1")),
        UpgradeKind::Automatic
    );
    assert_eq!(
        upgrade_kind(&v("1.2.0"), &v("1.9.0")),
        UpgradeKind::Automatic
    );
    assert_eq!(upgrade_kind(&v("1.2.0"), &v("1.2.0")), UpgradeKind::None);
    assert_eq!(upgrade_kind(&v("1.2.0"), &v("1.1.0")), UpgradeKind::None);
    assert_eq!(
        upgrade_kind(&v("1.2.0"), &v("2.0.0")),
        UpgradeKind::Explicit
    );
    assert_eq!(
        upgrade_kind(&v("1.2.0"), &v("2.0.0-beta")),
        UpgradeKind::Explicit
    );
    assert_eq!(
        upgrade_kind(&v("1.2.0"), &v("1.3.0-rc.1")),
        UpgradeKind::None
    );
    assert_eq!(
        upgrade_kind(&v("1.3.0-rc.1"), &v("1.3.0")),
        UpgradeKind::Automatic
    );
    assert_eq!(upgrade_kind(&v("2.0.0"), &v("1.9.0")), UpgradeKind::None);
    assert!(is_auto_upgrade(&v("0.1.0"), &v("0.2.0")));
    let available: Vec<Version> = ["1.0.0", "1.4.0", "1.10.0", "1.11.0-beta", "2.0.0", "0.9.0"]
        .iter()
        .map(|s| v(s))
        .collect();
    assert_eq!(
        latest_auto_upgrade(&v("1.0.0"), &available),
        Some(&v("1.10.0"))
    );
    assert_eq!(latest_auto_upgrade(&v("2.0.0"), &available), None);
}

/// The Octopus-built archives kept byte-for-byte in the repository.
fn demo_echo(version: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../acceptance-tests/fixtures/step-packages")
        .join(format!("demo-echo.{version}.zip"))
}

fn load_demo(version: &str) -> StepPackage {
    let name = PackageFileName::parse(&format!("demo-echo.{version}.zip")).unwrap();
    load_named(&demo_echo(version), &name, &ArchiveLimits::default()).unwrap()
}

#[test]
fn octopus_archives_built_by_the_cli_load() {
    let v1 = load_demo("1.0.0");
    assert_eq!(v1.format, StepFormat::Octopus);
    assert_eq!(v1.kind, PackageKind::Step);
    assert_eq!(
        (v1.manifest.id.as_str(), v1.manifest.version.to_string()),
        ("demo-echo", "1.0.0".into())
    );
    let step = &v1.steps[0];
    assert_eq!(step.dir, "");
    assert_eq!(step.metadata.id, "demo-echo");
    assert_eq!(step.metadata.name, "Echo a message");
    assert_eq!(step.metadata.launcher.kind, LauncherKind::Node);
    assert_eq!(step.metadata.launcher.entrypoint, "executor.js");
    assert_eq!(step.metadata.logo, "logo.svg");
    assert_eq!(step.migration_script, None);
    let meta = v1.octopus.as_ref().unwrap();
    assert_eq!(meta.api_versions["InputSchema"], json!("2.0.0"));
    let ok = json!({"message": "hi", "repeat": 2, "uppercase": "#{Upper}",
                    "token": {"HasValue": true, "NewValue": "abcd"}});
    step.validate_inputs(&ok).unwrap();
    let errs = step
        .validate_inputs(
            &json!({"message": "hi", "repeat": "two", "uppercase": true, "token": "#{T}"}),
        )
        .unwrap_err();
    assert_eq!(errs[0].to_string(), "/repeat: expected number, got string");
    // Explicit upgrades of Octopus steps run migration.js: not declarative.
    let v2 = load_demo("2.0.0");
    assert_eq!(
        v2.steps[0].migration_script.as_deref(),
        Some("migration.js")
    );
    let e = v2.steps[0].upgrade_inputs(&ok, 1).unwrap_err().to_string();
    assert!(e.contains("migration.js"), "{e}");
    // The metadata gives the version, so the plain loader works too.
    let plain = load_step_package(
        &demo_echo("2.0.0"),
        PackageFormat::Zip,
        &ArchiveLimits::default(),
    )
    .unwrap();
    assert_eq!(plain.manifest.version.to_string(), "2.0.0");
    // Another file name is refused.
    let other = PackageFileName::parse("demo-echo.1.0.1.zip").unwrap();
    let e = load_named(&demo_echo("1.0.0"), &other, &ArchiveLimits::default()).unwrap_err();
    assert!(e.to_string().contains("file name says"), "{e}");
    let other = PackageFileName::parse("other-echo.1.0.0.zip").unwrap();
    let e = load_named(&demo_echo("1.0.0"), &other, &ArchiveLimits::default()).unwrap_err();
    assert!(e.to_string().contains("file name says"), "{e}");
}

fn octopus_files(meta: Value) -> Files {
    vec![
        ("metadata.json".into(), json_bytes(meta)),
        (
            "inputs.json".into(),
            json_bytes(json!({"$schema": "http://json-schema.org/draft-07/schema#",
                "definitions": {"Inputs": {"type": "object", "isRoot": true,
                    "properties": {"n": {"type": "number"}}}}})),
        ),
        (
            "executor.js".into(),
            b"module.exports = function () {};".to_vec(),
        ),
        ("logo.png".into(), vec![0x89, b'P', b'N', b'G']),
    ]
}

fn octopus_meta(kind: &str, version: Option<&str>) -> Value {
    let mut m = json!({"schemaVersion": "1.0.0", "type": kind, "id": "acme-steps",
        "name": "Acme", "description": "d", "categories": ["Other"], "launcher": "node",
        "deploymentTargetId": "acme-target", "dependencies": {"acme-target": "1.0.0"},
        "canRunOnDeploymentTarget": false, "somethingNew": 1});
    if let Some(v) = version {
        m["version"] = json!(v);
    }
    m
}

fn load_octopus_named(files: &Files) -> Result<StepPackage, StepPackageError> {
    let dir = tempfile::tempdir().unwrap();
    let p = write_zip(&dir, files);
    let name = PackageFileName::parse("acme-steps.2.1.0.zip").unwrap();
    load_named(&p, &name, &ArchiveLimits::default())
}

#[test]
fn octopus_format_rules() {
    // Major 2 without migration.js is refused; with it, it loads (version from the name,
    // target and dependencies not required).
    let mut files = octopus_files(octopus_meta("step", None));
    let e = load_octopus_named(&files).unwrap_err().to_string();
    assert!(
        e.contains("`migration.js` is missing") && e.contains("major 1"),
        "{e}"
    );
    files.push((
        "migration.js".into(),
        b"module.exports = (i) => i;".to_vec(),
    ));
    let pkg = load_octopus_named(&files).unwrap();
    assert_eq!(pkg.manifest.version.to_string(), "2.1.0");
    assert_eq!(pkg.steps[0].metadata.logo, "logo.png");
    assert_eq!(
        pkg.octopus.as_ref().unwrap().other["somethingNew"],
        json!(1)
    );
    // The plain loader needs the version in the metadata.
    let dir = tempfile::tempdir().unwrap();
    let p = write_zip(&dir, &files);
    let e = load_step_package(&p, PackageFormat::Zip, &ArchiveLimits::default()).unwrap_err();
    assert!(e.to_string().contains("has no `version`"), "{e}");
    // A metadata version other than the file name's.
    let mut f = files.clone();
    edit(&mut f, "metadata.json", |m| m["version"] = json!("2.2.0"));
    let e = load_octopus_named(&f).unwrap_err().to_string();
    assert!(e.contains("2.2.0") && e.contains("file name says"), "{e}");
    // Launcher, schema version, executor, inputs.
    let mut f = files.clone();
    edit(&mut f, "metadata.json", |m| m["launcher"] = json!("dotnet"));
    assert!(
        load_octopus_named(&f)
            .unwrap_err()
            .to_string()
            .contains("run with `node`")
    );
    let mut f = files.clone();
    edit(&mut f, "metadata.json", |m| {
        m["schemaVersion"] = json!("2.0.0")
    });
    assert!(
        load_octopus_named(&f)
            .unwrap_err()
            .to_string()
            .contains("schemaVersion")
    );
    let f: Files = files
        .iter()
        .filter(|(n, _)| n != "executor.js")
        .cloned()
        .collect();
    assert!(
        load_octopus_named(&f)
            .unwrap_err()
            .to_string()
            .contains("`executor.js` is missing")
    );
    let mut f = files.clone();
    edit(&mut f, "inputs.json", |s| {
        s["definitions"]["Inputs"]["properties"]["n"]["if"] = json!({})
    });
    let e = load_octopus_named(&f).unwrap_err().to_string();
    assert!(
        e.contains("inputs.json") && e.contains("keyword `if`"),
        "{e}"
    );
    let mut f = files.clone();
    edit(&mut f, "metadata.json", |m| m["type"] = json!("script"));
    assert!(
        load_octopus_named(&f)
            .unwrap_err()
            .to_string()
            .contains("metadata.json")
    );
    // A deployment target installs as a package with no step.
    let target = octopus_files(octopus_meta("deployment-target", Some("2.1.0")))
        .into_iter()
        .filter(|(n, _)| n != "executor.js")
        .collect::<Files>();
    let pkg = load_octopus_named(&target).unwrap();
    assert_eq!(pkg.kind, PackageKind::DeploymentTarget);
    assert!(pkg.steps.is_empty() && pkg.manifest.steps.is_empty());
}
