//! The example provider through the real `terraform` binary, launched by Terraform
//! itself with AutoMTLS: the whole resource lifecycle.

use std::path::Path;
use tf_testing::WorkDir;

fn workdir() -> WorkDir {
    let bin = Path::new(env!("CARGO_BIN_EXE_terraform-provider-localfs"));
    WorkDir::new(&[("example/localfs", bin.parent().unwrap())])
}

fn config(root: &Path, file: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    localfs = {{ source = "example/localfs" }}
  }}
}}
provider "localfs" {{
  root = "{root}"
}}
{file}
resource "localfs_directory" "logs" {{
  path = "logs"
}}
data "localfs_file" "readback" {{
  path = localfs_file.motd.path
}}
output "readback_sha" {{
  value = data.localfs_file.readback.sha256
}}
"#,
        root = root.display()
    )
}

fn file_block(path: &str, content: &str, extra: &str) -> String {
    format!(
        "resource \"localfs_file\" \"motd\" {{\n  path    = \"{path}\"\n  content = \"{content}\"\n{extra}}}\n"
    )
}

#[test]
fn full_lifecycle_through_terraform() {
    let root = tempfile::tempdir().unwrap();
    let wd = workdir();

    // Create.
    wd.config(&config(root.path(), &file_block("etc/motd", "hello", "")));
    wd.apply();
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/motd")).unwrap(),
        "hello"
    );
    assert!(root.path().join("logs").is_dir());
    let created = wd.resource("localfs_file.motd").expect("in state");
    assert_eq!(created["id"], "etc/motd");
    assert_eq!(created["mode"], "0644", "default applied");
    assert_eq!(created["size"], 5);
    assert_eq!(
        created["sha256"],
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    let outputs = &wd.state()["values"]["outputs"];
    assert_eq!(outputs["readback_sha"]["value"], created["sha256"]);
    wd.assert_empty_plan();

    // In-place update: content and mode change, the ID is kept.
    wd.config(&config(
        root.path(),
        &file_block("etc/motd", "bye", "  mode = \"0600\"\n"),
    ));
    let plan = wd.plan_text();
    assert!(plan.contains("1 to change, 0 to destroy"), "{plan}");
    assert!(
        plan.contains("(known after apply)"),
        "sha256 becomes unknown: {plan}"
    );
    wd.apply();
    let updated = wd.resource("localfs_file.motd").unwrap();
    assert_eq!(updated["id"], "etc/motd");
    assert_eq!(updated["mode"], "0600");
    assert_ne!(updated["sha256"], created["sha256"]);
    let mode = std::fs::metadata(root.path().join("etc/motd")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    wd.assert_empty_plan();

    // Replacement: a new path forces a new file.
    wd.config(&config(
        root.path(),
        &file_block("etc/issue", "bye", "  mode = \"0600\"\n"),
    ));
    let plan = wd.plan_text();
    assert!(plan.contains("must be replaced"), "{plan}");
    assert!(
        plan.contains("1 to add, 0 to change, 1 to destroy"),
        "{plan}"
    );
    wd.apply();
    assert!(!root.path().join("etc/motd").exists());
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/issue")).unwrap(),
        "bye"
    );
    wd.assert_empty_plan();

    // Drift made outside Terraform is detected and repaired.
    std::fs::write(root.path().join("etc/issue"), "tampered").unwrap();
    assert!(
        wd.plan_has_changes().unwrap(),
        "drift must show in the plan"
    );
    wd.apply();
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/issue")).unwrap(),
        "bye"
    );

    // Deleted outside Terraform: removed from state on refresh, re-created by apply.
    std::fs::remove_file(root.path().join("etc/issue")).unwrap();
    let plan = wd.plan_text();
    assert!(
        plan.contains("1 to add, 0 to change, 0 to destroy"),
        "{plan}"
    );
    wd.apply();
    assert!(root.path().join("etc/issue").exists());
    wd.assert_empty_plan();

    // Import: forget the file, import it by ID, and compare with what was applied.
    let applied = wd.resource("localfs_file.motd").unwrap();
    wd.state_rm("localfs_file.motd");
    wd.import("localfs_file.motd", "etc/issue");
    let imported = wd.resource("localfs_file.motd").unwrap();
    assert_eq!(imported, applied, "imported state equals the applied one");
    wd.assert_empty_plan();

    // Destroy leaves nothing behind.
    wd.destroy();
    assert!(!root.path().join("etc/issue").exists());
    assert!(!root.path().join("logs").exists());
    assert!(wd.resource("localfs_file.motd").is_none());
}

#[test]
fn bad_values_get_diagnostics_pointing_at_the_attribute() {
    let root = tempfile::tempdir().unwrap();
    let wd = workdir();
    wd.config(&config(
        root.path(),
        &file_block("../escape", "x", "  mode = \"999\"\n"),
    ));
    let r = wd.run(&["plan", "-no-color"]);
    assert_eq!(r.code, 1, "{}", r.output());
    assert!(r.stderr.contains("Invalid value for path"), "{}", r.stderr);
    assert!(r.stderr.contains("must be a relative path"), "{}", r.stderr);
    assert!(r.stderr.contains("Invalid value for mode"), "{}", r.stderr);
    // Terraform shows the offending line when the diagnostic has an attribute path.
    assert!(
        r.stderr.contains("mode    = \"999\"") || r.stderr.contains("mode = \"999\""),
        "{}",
        r.stderr
    );

    // A provider block pointing at a missing folder.
    let wd = workdir();
    wd.config(&config(
        &root.path().join("missing"),
        &file_block("a", "x", ""),
    ));
    let r = wd.run(&["plan", "-no-color"]);
    assert_eq!(r.code, 1, "{}", r.output());
    assert!(
        r.stderr.contains("Root folder does not exist"),
        "{}",
        r.stderr
    );
}

/// Debug mode: the provider runs on its own (as under a debugger), prints
/// `TF_REATTACH_PROVIDERS`, and Terraform attaches to it instead of starting one.
#[test]
fn debug_mode_reattaches() {
    use std::io::BufRead;
    let bin = env!("CARGO_BIN_EXE_terraform-provider-localfs");
    let mut child = std::process::Command::new(bin)
        .arg("--debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut reattach = None;
    for line in (&mut reader).lines() {
        let line = line.unwrap();
        if let Some(v) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
            reattach = Some(v.trim_end_matches('\'').to_string());
            break;
        }
    }
    let reattach = reattach.expect("debug mode prints TF_REATTACH_PROVIDERS");
    let parsed: serde_json::Value = serde_json::from_str(&reattach).unwrap();
    let entry = &parsed["registry.terraform.io/example/localfs"];
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Addr"]["Network"], "unix");

    let root = tempfile::tempdir().unwrap();
    let mut wd = WorkDir::new(&[]);
    wd.env("TF_REATTACH_PROVIDERS", &reattach);
    wd.config(&config(root.path(), &file_block("a.txt", "attached", "")));
    wd.apply();
    assert_eq!(
        std::fs::read_to_string(root.path().join("a.txt")).unwrap(),
        "attached"
    );
    wd.assert_empty_plan();
    wd.destroy();
    // Terraform leaves a reattached provider running; it is ours to stop.
    assert!(
        child.try_wait().unwrap().is_none(),
        "still serving after Terraform finished"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

fn markers_config(root: &Path, markers: &[(&str, &str, Option<&str>)]) -> String {
    let blocks: String = markers
        .iter()
        .map(|(name, content, mode)| {
            let mode = mode
                .map(|m| format!("    mode    = \"{m}\"\n"))
                .unwrap_or_default();
            format!(
                "  marker {{\n    name    = \"{name}\"\n    content = \"{content}\"\n{mode}  }}\n"
            )
        })
        .collect();
    format!(
        r#"
terraform {{
  required_providers {{
    localfs = {{ source = "example/localfs" }}
  }}
}}
provider "localfs" {{
  root = "{root}"
}}
resource "localfs_directory" "site" {{
  path = "site"
{blocks}}}
"#,
        root = root.display()
    )
}

/// A set block whose elements have defaults and computed attributes, through real
/// Terraform: elements are paired by value, so order never matters, defaults and
/// digests stay stable, and an element added or changed plans cleanly.
#[test]
fn set_blocks_with_defaults_and_computed_attributes() {
    let root = tempfile::tempdir().unwrap();
    let wd = workdir();
    let site = root.path().join("site");
    let markers = |wd: &WorkDir| {
        let state = wd.resource("localfs_directory.site").expect("in state");
        let mut m: Vec<(String, String, String)> = state["marker"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap().to_owned(),
                    m["mode"].as_str().unwrap().to_owned(),
                    m["sha256"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        m.sort();
        m
    };

    wd.config(&markers_config(
        root.path(),
        &[("b.txt", "bee", None), ("a.txt", "ay", Some("0600"))],
    ));
    wd.apply();
    assert_eq!(std::fs::read_to_string(site.join("a.txt")).unwrap(), "ay");
    let first = markers(&wd);
    assert_eq!(first[0].0, "a.txt");
    assert_eq!(first[0].1, "0600");
    assert_eq!(first[1].1, "0644", "default applied inside the set element");
    assert_eq!(first[1].2.len(), 64, "digest computed at apply");
    wd.assert_empty_plan();

    // Listing the same elements in another order changes nothing.
    wd.config(&markers_config(
        root.path(),
        &[("a.txt", "ay", Some("0600")), ("b.txt", "bee", None)],
    ));
    wd.assert_empty_plan();

    // One element changed, one added: an in-place update.
    wd.config(&markers_config(
        root.path(),
        &[
            ("a.txt", "ay ay", Some("0600")),
            ("b.txt", "bee", None),
            ("c.txt", "sea", None),
        ],
    ));
    let plan = wd.plan_text();
    assert!(plan.contains("1 to change, 0 to destroy"), "{plan}");
    wd.apply();
    assert_eq!(std::fs::read_to_string(site.join("c.txt")).unwrap(), "sea");
    let second = markers(&wd);
    assert_eq!(second.len(), 3);
    assert_ne!(second[0].2, first[0].2, "a's digest follows its content");
    assert_eq!(second[1], first[1], "b unchanged");
    wd.assert_empty_plan();

    // Drift: a marker file deleted outside Terraform is put back.
    std::fs::remove_file(site.join("b.txt")).unwrap();
    assert!(wd.plan_has_changes().unwrap(), "drift must show");
    wd.apply();
    assert_eq!(std::fs::read_to_string(site.join("b.txt")).unwrap(), "bee");
    wd.assert_empty_plan();

    // An element removed from the configuration goes from disk too.
    wd.config(&markers_config(
        root.path(),
        &[("b.txt", "bee", None), ("c.txt", "sea", None)],
    ));
    wd.apply();
    assert!(!site.join("a.txt").exists());
    wd.assert_empty_plan();

    wd.destroy();
    assert!(!site.exists());
}
