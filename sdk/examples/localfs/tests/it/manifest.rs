//! `localfs_manifest` through the real `terraform` binary: collections holding IDs
//! not known until apply, free-form JSON data (including list blocks whose elements
//! hold differently shaped data), semantic equality on refresh, and a value the file
//! normalizes reported at apply instead of becoming a perpetual diff.

use std::path::Path;
use tf_testing::WorkDir;

fn workdir() -> WorkDir {
    let bin = Path::new(env!("CARGO_BIN_EXE_terraform-provider-localfs"));
    WorkDir::new(&[("example/localfs", bin.parent().unwrap())])
}

fn config(root: &Path, title: &str, port: &str) -> String {
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
resource "localfs_file" "a" {{
  path    = "a.txt"
  content = "a"
}}
resource "localfs_file" "b" {{
  path    = "b.txt"
  content = "b"
}}
resource "localfs_manifest" "m" {{
  path    = "manifest.json"
  title   = "{title}"
  entries = [localfs_file.a.sha256, "literal"]
  members = [localfs_file.b.sha256, localfs_file.a.id]
  labels  = {{ a = localfs_file.a.sha256, fixed = "x" }}
  data    = {{ port = {port}, tags = ["a", "b"], nested = {{ ok = true }} }}
  section {{
    name = "db"
    data = {{ port = 5432 }}
  }}
  section {{
    name = "web"
    data = {{ tags = ["x"], digest = localfs_file.b.sha256 }}
  }}
}}
"#,
        root = root.display()
    )
}

const SHA_A: &str = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
const SHA_B: &str = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";

fn manifest(root: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn partial_unknowns_json_data_and_honest_state() {
    let root = tempfile::tempdir().unwrap();
    let wd = workdir();

    // IDs of resources created in the same apply, in a list, a set, a map and inside
    // JSON data: the plan keeps the known parts and shows the rest as unknown.
    wd.config(&config(root.path(), "Release notes", "5432"));
    let plan = wd.plan_text();
    assert!(plan.contains("3 to add"), "{plan}");
    assert!(
        plan.contains("\"literal\""),
        "known elements stay known: {plan}"
    );
    assert!(plan.contains("(known after apply)"), "{plan}");
    wd.apply();
    let doc = manifest(root.path());
    assert_eq!(doc["entries"], serde_json::json!([SHA_A, "literal"]));
    let mut members = vec!["a.txt", SHA_B];
    members.sort();
    assert_eq!(doc["members"], serde_json::json!(members));
    assert_eq!(doc["labels"]["a"], SHA_A);
    assert_eq!(
        doc["data"],
        serde_json::json!({"port": 5432, "tags": ["a", "b"], "nested": {"ok": true}})
    );
    // Differently shaped data in the elements of one list block (a tuple on the wire).
    assert_eq!(
        doc["sections"][0]["data"],
        serde_json::json!({"port": 5432})
    );
    assert_eq!(
        doc["sections"][1]["data"],
        serde_json::json!({"tags": ["x"], "digest": SHA_B})
    );
    wd.assert_empty_plan();

    // The same data in another form (5432.0, other key order) is no change.
    let text = std::fs::read_to_string(root.path().join("manifest.json")).unwrap();
    let reformatted = text.replace("\"port\": 5432", "\"port\": 5432.0");
    assert_ne!(text, reformatted);
    std::fs::write(root.path().join("manifest.json"), &reformatted).unwrap();
    wd.assert_empty_plan();
    // serde_json's maps sort their keys, so the other order is written as text.
    let mut value: serde_json::Value = serde_json::from_str(&reformatted).unwrap();
    value["data"] = serde_json::json!("DATA");
    let reordered = serde_json::to_string_pretty(&value).unwrap().replace(
        "\"DATA\"",
        r#"{"tags": ["a", "b"], "port": 5432.0, "nested": {"ok": true}}"#,
    );
    assert!(reordered.contains(r#""data": {"tags""#), "{reordered}");
    std::fs::write(root.path().join("manifest.json"), reordered).unwrap();
    wd.assert_empty_plan();

    // Other data made outside Terraform is drift, repaired by apply.
    let changed = std::fs::read_to_string(root.path().join("manifest.json"))
        .unwrap()
        .replace("\"ok\": true", "\"ok\": false");
    std::fs::write(root.path().join("manifest.json"), changed).unwrap();
    assert!(wd.plan_has_changes().unwrap(), "drift shows");
    wd.apply();
    assert_eq!(manifest(root.path())["data"]["nested"]["ok"], true);
    wd.assert_empty_plan();

    // An in-place update of JSON data.
    wd.config(&config(root.path(), "Release notes", "6543"));
    let plan = wd.plan_text();
    assert!(plan.contains("1 to change"), "{plan}");
    wd.apply();
    assert_eq!(manifest(root.path())["data"]["port"], 6543);
    wd.assert_empty_plan();

    // Import compares equal with what was applied.
    let applied = wd.resource("localfs_manifest.m").unwrap();
    wd.state_rm("localfs_manifest.m");
    wd.import("localfs_manifest.m", "manifest.json");
    assert_eq!(wd.resource("localfs_manifest.m").unwrap(), applied);
    wd.assert_empty_plan();

    // Honest state: the file keeps the title on one line. Apply says so, naming the
    // attribute and both values, instead of succeeding into a perpetual diff.
    wd.config(&config(root.path(), "two\\nlines", "6543"));
    let r = wd.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(r.code, 1, "{}", r.output());
    assert!(
        r.stderr.contains("stored a different value for title"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(r#""two\nlines""#), "{}", r.stderr);
    assert!(r.stderr.contains(r#""two lines""#), "{}", r.stderr);

    // A number JSON data cannot hold exactly is refused at plan time, on the value.
    wd.config(&config(
        root.path(),
        "Release notes",
        "18446744073709551617",
    ));
    let r = wd.run(&["plan", "-no-color"]);
    assert_eq!(r.code, 1, "{}", r.output());
    assert!(r.stderr.contains("cannot be held exactly"), "{}", r.stderr);
    assert!(
        r.stderr.contains("data    = {"),
        "points at the attribute: {}",
        r.stderr
    );

    wd.config(&config(root.path(), "Release notes", "6543"));
    wd.apply();
    wd.destroy();
    assert!(!root.path().join("manifest.json").exists());
}
