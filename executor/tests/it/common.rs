//! Shared helpers: a collecting log sink, action builders, archives.

use std::io::Write;
use std::path::{Path, PathBuf};

use octopus_executor::{
    ActionKind, ActionResult, ActionRun, Category, LogSink, Outcome, StagedPackage, Variables,
    run_action,
};

/// Collects log lines.
#[derive(Default)]
pub struct Lines(pub Vec<(Category, String)>);

impl LogSink for Lines {
    fn line(&mut self, category: Category, text: &str) {
        self.0.push((category, text.to_owned()));
    }
}

impl Lines {
    /// Texts of the lines in `category`.
    pub fn of(&self, category: Category) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(c, _)| *c == category)
            .map(|(_, t)| t.as_str())
            .collect()
    }

    /// Whether any line contains `needle`.
    pub fn has(&self, needle: &str) -> bool {
        self.0.iter().any(|(_, t)| t.contains(needle))
    }

    /// Every line's text joined, for assertion messages.
    pub fn dump(&self) -> String {
        self.0
            .iter()
            .map(|(c, t)| format!("[{}] {t}", c.as_str()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A test's directories: the work dir and a scratch dir for archives.
pub struct Dirs {
    pub root: tempfile::TempDir,
    pub work: PathBuf,
}

impl Dirs {
    pub fn new() -> Dirs {
        let root = tempfile::tempdir().unwrap();
        let work = root.path().join("work");
        std::fs::create_dir(&work).unwrap();
        Dirs { root, work }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// An action in this work dir.
    pub fn action(&self, kind: ActionKind) -> ActionRun {
        ActionRun {
            action_type: "Octopus.Script".into(),
            kind,
            work_dir: self.work.clone(),
            applications_dir: self.path("Applications"),
            environment_name: "Production".into(),
            timeout: std::time::Duration::from_secs(60),
            ..Default::default()
        }
    }

    /// An inline script action.
    pub fn script(&self, syntax: &str, body: &str) -> ActionRun {
        let mut run = self.action(ActionKind::Script);
        run.properties
            .insert("Octopus.Action.Script.Syntax".into(), syntax.into());
        run.properties
            .insert("Octopus.Action.Script.ScriptBody".into(), body.into());
        run
    }
}

/// Runs the action with a cancel channel that never fires.
pub async fn run(run: ActionRun) -> (ActionResult, Lines) {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut lines = Lines::default();
    let result = run_action(run, &mut lines, rx).await;
    (result, lines)
}

/// Asserts success, showing the log otherwise.
pub fn assert_ok(result: &ActionResult, lines: &Lines) {
    assert_eq!(result.outcome, Outcome::Success, "log:\n{}", lines.dump());
}

/// The failure message, panicking otherwise.
pub fn failure(result: &ActionResult, lines: &Lines) -> String {
    match &result.outcome {
        Outcome::Failed(m) => m.clone(),
        other => panic!("expected a failure, got {other:?}; log:\n{}", lines.dump()),
    }
}

/// Variables from pairs.
pub fn vars(pairs: &[(&str, &str)]) -> Variables {
    let mut v = Variables::new();
    for (k, val) in pairs {
        v.set(*k, *val);
    }
    v
}

/// Writes a zip of `(path, contents, unix mode)` entries.
pub fn zip_file(path: &Path, entries: &[(&str, &str, u32)]) -> PathBuf {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body, mode) in entries {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(*mode);
        w.start_file(*name, opts).unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    std::fs::write(path, w.finish().unwrap().into_inner()).unwrap();
    path.to_path_buf()
}

/// A staged package.
pub fn staged(
    reference: &str,
    id: &str,
    version: &str,
    file: PathBuf,
    extract: bool,
) -> StagedPackage {
    StagedPackage {
        reference_name: reference.into(),
        package_id: id.into(),
        version: version.into(),
        feed_id: "Feeds-1".into(),
        file,
        extract,
        step_package_reference_id: None,
    }
}

/// The output variable `name`'s value.
pub fn output<'a>(result: &'a ActionResult, name: &str) -> Option<&'a str> {
    result
        .output_variables
        .iter()
        .find(|v| v.name == name)
        .map(|v| v.value.as_str())
}
