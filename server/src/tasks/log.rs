//! A task's log: an append-only file of JSON lines in `tasks/<TaskId>.log` under
//! the data directory, read back as Octopus's activity tree (`/details`) or as
//! plain text (`/raw`).
//!
//! Each line is one event: a node opened (`o`), a node closed with its status
//! (`c`), or a log line of a node (`l`). Appending and flushing often keeps the
//! log up to a crash; a torn last line is ignored when reading.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use octopus_client::model::{ActivityElement, ActivityLogElement};
use serde::{Deserialize, Serialize};

use crate::util::now_iso8601;

/// Directory of task logs, under the data directory.
pub const TASKS_DIR: &str = "tasks";

/// Longest time a written line waits in memory before it reaches the file (the
/// runner calls [`TaskLog::flush_pending`] this often, for output that stops).
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// One event of the log file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "e")]
enum Event {
    /// A node opened under `parent`.
    #[serde(rename = "o")]
    Open {
        n: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p: Option<String>,
        name: String,
        t: String,
    },
    /// A node closed with a status.
    #[serde(rename = "c")]
    Close { n: String, s: String, t: String },
    /// A log line of a node.
    #[serde(rename = "l")]
    Line {
        n: String,
        c: String,
        t: String,
        m: String,
    },
}

/// The log file of a task.
pub fn path(data_dir: &Path, task_id: &str) -> PathBuf {
    data_dir.join(TASKS_DIR).join(format!("{task_id}.log"))
}

/// Appends to a task's log. Lines are flushed at least every 50 ms and whenever
/// a node closes.
pub struct TaskLog {
    out: BufWriter<File>,
    last_flush: Instant,
    /// Whether a warning or error was written.
    pub has_warnings_or_errors: bool,
}

impl TaskLog {
    /// Opens (creating) the log of `task_id` for appending.
    pub fn open(data_dir: &Path, task_id: &str) -> std::io::Result<Self> {
        let dir = data_dir.join(TASKS_DIR);
        std::fs::create_dir_all(&dir)?;
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts.open(path(data_dir, task_id))?;
        Ok(Self {
            out: BufWriter::with_capacity(64 * 1024, file),
            last_flush: Instant::now(),
            has_warnings_or_errors: false,
        })
    }

    fn write(&mut self, event: &Event) {
        // A log that cannot be written must not fail the deployment: report it once.
        let ok = serde_json::to_writer(&mut self.out, event).is_ok()
            && self.out.write_all(b"\n").is_ok();
        if !ok {
            eprintln!("octopus-lite: a task log line could not be written");
        }
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Writes buffered lines to the file.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
        self.last_flush = Instant::now();
    }

    /// Writes buffered lines to the file if there are any (a timer calls it, so a
    /// last line is readable while a script waits silently).
    pub fn flush_pending(&mut self) {
        if !self.out.buffer().is_empty() {
            self.flush();
        }
    }

    /// Opens a node under `parent` (`None`: the root).
    pub fn open_node(&mut self, node: &str, parent: Option<&str>, name: &str) {
        self.write(&Event::Open {
            n: node.into(),
            p: parent.map(Into::into),
            name: name.into(),
            t: now_iso8601(),
        });
    }

    /// Closes a node with an activity status (`Success`, `Failed`, `Skipped`, `Canceled`, ...).
    pub fn close_node(&mut self, node: &str, status: &str) {
        self.write(&Event::Close {
            n: node.into(),
            s: status.into(),
            t: now_iso8601(),
        });
        self.flush();
    }

    /// Writes a log line of a node.
    pub fn line(&mut self, node: &str, category: &str, text: &str) {
        if matches!(category, "Warning" | "Error" | "Fatal") {
            self.has_warnings_or_errors = true;
        }
        self.write(&Event::Line {
            n: node.into(),
            c: category.into(),
            t: now_iso8601(),
            m: text.into(),
        });
    }
}

impl Drop for TaskLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Reads a log back as its activity tree (one root per root node). `verbose`
/// keeps `Verbose` lines; `tail` keeps the last lines of each node.
pub fn read_tree(
    file: &Path,
    verbose: bool,
    tail: Option<usize>,
) -> std::io::Result<Vec<ActivityElement>> {
    let mut nodes: Vec<ActivityElement> = Vec::new();
    let mut parents: Vec<Option<usize>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for event in events(file)? {
        match event {
            Event::Open { n, p, name, t } => {
                let parent = p.and_then(|p| index.get(&p).copied());
                index.insert(n.clone(), nodes.len());
                parents.push(parent);
                nodes.push(ActivityElement {
                    id: n,
                    name,
                    started: Some(t),
                    status: "Running".into(),
                    show_at_summary_level: true,
                    ..Default::default()
                });
            }
            Event::Close { n, s, t } => {
                if let Some(&i) = index.get(&n) {
                    nodes[i].status = s;
                    nodes[i].ended = Some(t);
                    nodes[i].progress_percentage = 100;
                }
            }
            Event::Line { n, c, t, m } => {
                if !verbose && c == "Verbose" {
                    continue;
                }
                if let Some(&i) = index.get(&n) {
                    nodes[i].log_elements.push(ActivityLogElement {
                        category: c,
                        occurred_at: t,
                        message_text: m,
                        detail: None,
                    });
                }
            }
        }
    }
    if let Some(tail) = tail {
        for node in &mut nodes {
            let extra = node.log_elements.len().saturating_sub(tail);
            node.log_elements.drain(..extra);
        }
    }
    // Attach children to parents, last first so indices stay valid.
    let mut roots = Vec::new();
    let mut slots: Vec<Option<ActivityElement>> = nodes.into_iter().map(Some).collect();
    for i in (0..slots.len()).rev() {
        let node = slots[i].take().expect("each node is moved once");
        match parents[i] {
            Some(p) => slots[p]
                .as_mut()
                .expect("parents open before children")
                .children
                .insert(0, node),
            None => roots.insert(0, node),
        }
    }
    Ok(roots)
}

/// The nodes still open (no close event), innermost last.
pub fn open_nodes(file: &Path) -> std::io::Result<Vec<String>> {
    let mut open: Vec<String> = Vec::new();
    for event in events(file)? {
        match event {
            Event::Open { n, .. } => open.push(n),
            Event::Close { n, .. } => open.retain(|o| *o != n),
            Event::Line { .. } => {}
        }
    }
    Ok(open)
}

/// The events of a log file; a missing file has none, a torn last line is skipped.
fn events(file: &Path) -> std::io::Result<impl Iterator<Item = Event>> {
    let reader = match File::open(file) {
        Ok(f) => Some(BufReader::with_capacity(64 * 1024, f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    Ok(reader
        .into_iter()
        .flat_map(|r| r.split(b'\n'))
        .filter_map(|line| serde_json::from_slice::<Event>(&line.ok()?).ok()))
}

/// The whole log as plain text, Octopus-style: one `== Status: Name ==` header per
/// node and `time  category | text` lines, indented by depth.
pub fn render_raw(header: &str, tree: &[ActivityElement]) -> String {
    let mut out = String::from(header);
    fn walk(out: &mut String, node: &ActivityElement, depth: usize) {
        let indent = "  ".repeat(depth);
        out.push_str(&format!(
            "                    |{indent} == {}: {} ==\n",
            node.status, node.name
        ));
        for l in &node.log_elements {
            let time = l.occurred_at.get(11..19).unwrap_or("");
            for text in l.message_text.split('\n') {
                out.push_str(&format!("{time}  {:<9} |{indent}   {text}\n", l.category));
            }
        }
        for child in &node.children {
            walk(out, child, depth + 1);
        }
    }
    for node in tree {
        walk(&mut out, node, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_nests_and_survives_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = TaskLog::open(dir.path(), "ServerTasks-1").unwrap();
            log.open_node("r", None, "Deploy");
            log.open_node("s1", Some("r"), "Step 1: A");
            log.line("s1", "Info", "hello");
            log.line("s1", "Verbose", "detail");
            log.close_node("s1", "Success");
            log.open_node("s2", Some("r"), "Step 2: B");
            log.line("s2", "Error", "boom");
        }
        let file = path(dir.path(), "ServerTasks-1");
        let mut f = OpenOptions::new().append(true).open(&file).unwrap();
        f.write_all(b"{\"e\":\"l\",\"n\":\"s2\",\"c\":\"In")
            .unwrap();
        let tree = read_tree(&file, false, None).unwrap();
        assert_eq!(tree.len(), 1);
        let steps = &tree[0].children;
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].status, "Success");
        assert_eq!(steps[0].log_elements.len(), 1, "verbose lines hidden");
        assert_eq!(steps[1].status, "Running");
        assert_eq!(steps[1].log_elements[0].message_text, "boom");
        assert_eq!(open_nodes(&file).unwrap(), ["r", "s2"]);
        let raw = render_raw("", &tree);
        assert!(raw.contains("== Success: Step 1: A =="), "{raw}");
        assert!(raw.contains("boom"), "{raw}");
    }
}
