//! Server tasks: the durable record of work (`ServerTasks-<n>` documents), their
//! logs ([`log`]), the queue that runs them ([`queue`]) and what a deployment
//! task does ([`deploy`]).
//!
//! A task moves `Queued → Executing → Success | Failed | Canceled` (`Cancelling`
//! while a cancel is under way; `TimedOut` when it could not start before its
//! `QueueTimeExpiry`). Every transition is one committed write. After a crash,
//! [`recover`] fails the tasks that were running, closing their open log nodes.

pub mod deploy;
pub mod log;
pub mod orphans;
pub mod queue;
pub mod variables;

use octopus_client::model::{Links, ServerTask, TaskState};
use rusqlite::Connection;

use crate::error::ApiResult;
use crate::store::Store;
use crate::store::documents::{self, NO_SPACE};
use crate::util::now_iso8601;

/// Document kind of tasks. Tasks are not space-scoped in storage (their routes
/// exist without a space too); `SpaceId` inside says where they belong.
pub const KIND: &str = "tasks";

/// ID prefix of tasks.
pub const ID_PREFIX: &str = "ServerTasks";

/// What a new task is.
pub struct NewTask<'a> {
    /// Space.
    pub space: &'a str,
    /// Task type, e.g. `Deploy`.
    pub name: &'a str,
    /// Human description.
    pub description: String,
    /// Arguments, e.g. `DeploymentId`.
    pub arguments: serde_json::Map<String, serde_json::Value>,
    /// The project, for deployment tasks.
    pub project_id: Option<String>,
    /// The environment, for deployment tasks (one at a time per project and environment).
    pub environment_id: Option<String>,
    /// Earliest start.
    pub queue_time: Option<String>,
    /// Latest start.
    pub queue_time_expiry: Option<String>,
}

/// Inserts a queued task (in the caller's transaction) and returns it.
pub fn create(tx: &Connection, new: NewTask<'_>) -> ApiResult<ServerTask> {
    let id = documents::next_id(tx, ID_PREFIX)?;
    let now = now_iso8601();
    let mut task = ServerTask {
        id: id.clone(),
        space_id: Some(new.space.to_owned()),
        project_id: new.project_id,
        name: new.name.to_owned(),
        description: new.description,
        arguments: new.arguments,
        state: TaskState::Queued,
        queue_time: Some(new.queue_time.unwrap_or_else(|| now.clone())),
        queue_time_expiry: new.queue_time_expiry,
        last_updated_time: Some(now),
        server_node: Some("octopus-lite".into()),
        ..Default::default()
    };
    if let Some(env) = new.environment_id {
        task.extra.insert("EnvironmentId".into(), env.into());
    }
    documents::insert(tx, KIND, NO_SPACE, &id, None, &task)?;
    Ok(task)
}

/// Reads a task as stored.
pub fn get(conn: &Connection, id: &str) -> ApiResult<Option<ServerTask>> {
    documents::get(conn, KIND, NO_SPACE, id)
}

/// The stored tasks among `ids`, by ID, in one query.
pub fn get_many(
    conn: &Connection,
    ids: Vec<String>,
) -> ApiResult<std::collections::HashMap<String, ServerTask>> {
    let filter = documents::Filter {
        ids: Some(ids),
        ..Default::default()
    };
    let found = documents::list::<ServerTask>(conn, KIND, NO_SPACE, &filter, 0, i64::MAX)?.0;
    Ok(found.into_iter().map(|t| (t.id.clone(), t)).collect())
}

/// Replaces a stored task.
pub fn put(conn: &Connection, task: &ServerTask) -> ApiResult<()> {
    documents::update(conn, KIND, NO_SPACE, &task.id, None, task)?;
    Ok(())
}

/// Marks a task as started.
pub fn start(conn: &Connection, id: &str) -> ApiResult<Option<ServerTask>> {
    let Some(mut task) = get(conn, id)? else {
        return Ok(None);
    };
    if task.state != TaskState::Queued {
        // Canceled (or taken) meanwhile.
        return Ok(Some(task));
    }
    let now = now_iso8601();
    task.state = TaskState::Executing;
    task.start_time = Some(now.clone());
    task.last_updated_time = Some(now);
    task.has_been_picked_up_by_processor = true;
    put(conn, &task)?;
    Ok(Some(task))
}

/// Marks a task as ended.
pub fn finish(
    conn: &Connection,
    id: &str,
    state: TaskState,
    error_message: &str,
    has_warnings_or_errors: bool,
) -> ApiResult<Option<ServerTask>> {
    let Some(mut task) = get(conn, id)? else {
        return Ok(None);
    };
    let now = now_iso8601();
    task.state = state;
    task.error_message = error_message.to_owned();
    task.completed_time = Some(now.clone());
    task.last_updated_time = Some(now);
    task.has_warnings_or_errors |= has_warnings_or_errors || state != TaskState::Success;
    put(conn, &task)?;
    Ok(Some(task))
}

/// Fills the derived fields and links of a task for an answer.
pub fn present(mut task: ServerTask) -> ServerTask {
    let id = task.id.clone();
    task.is_completed = task.state.is_completed();
    task.finished_successfully = task.state == TaskState::Success;
    task.can_rerun = false;
    task.completed = match task.state {
        TaskState::Queued => "Queued...".into(),
        TaskState::Executing | TaskState::Cancelling => "Executing...".into(),
        TaskState::TimedOut => "Timed out".into(),
        _ => task
            .completed_time
            .as_deref()
            .map(human_time)
            .unwrap_or_default(),
    };
    let end = task.completed_time.clone().unwrap_or_else(now_iso8601);
    task.duration = match (task.start_time.as_deref(), parse_ms(&end)) {
        (Some(start), Some(end)) => parse_ms(start)
            .map(|s| human_duration(end.saturating_sub(s)))
            .unwrap_or_default(),
        _ => String::new(),
    };
    task.extra.remove("EnvironmentId");
    let mut links = Links::new();
    links.insert("Self".into(), format!("/api/tasks/{id}"));
    links.insert("Raw".into(), format!("/api/tasks/{id}/raw"));
    links.insert(
        "Details".into(),
        format!("/api/tasks/{id}/details{{?verbose,tail}}"),
    );
    links.insert("Cancel".into(), format!("/api/tasks/{id}/cancel"));
    links.insert("Web".into(), format!("/app#/tasks/{id}"));
    task.links = links;
    task
}

/// The environment a deployment task deploys to (kept for the one-at-a-time rule).
pub fn environment_of(task: &ServerTask) -> Option<&str> {
    task.extra.get("EnvironmentId").and_then(|v| v.as_str())
}

/// Fails every task a stopped server left `Executing` (or `Cancelling`: those end
/// `Canceled`), closing their open log nodes with a line saying why, after
/// killing the processes its scripts left running ([`orphans`]). Queued tasks
/// stay queued and run next.
pub fn recover(store: &Store, data_dir: &std::path::Path) -> ApiResult<usize> {
    // Only the tasks that were running: start-up must not read the whole history.
    let running: Vec<ServerTask> = store.read_blocking(|c| {
        let mut running = Vec::new();
        for state in [TaskState::Executing, TaskState::Cancelling] {
            let filter = documents::Filter {
                json_equals: vec![("$.State".into(), state.as_str().into())],
                ..Default::default()
            };
            running
                .extend(documents::list::<ServerTask>(c, KIND, NO_SPACE, &filter, 0, i64::MAX)?.0);
        }
        Ok(running)
    })?;
    for task in &running {
        let message = "The task was interrupted because octopus-lite stopped while it was running; \
                       it was marked as failed when the server started again.";
        // The dead server's scripts may still run: kill them first.
        let work_root = data_dir.join("work").join(&task.id);
        let killed = orphans::kill_left(&work_root);
        let _ = std::fs::remove_dir_all(&work_root);
        let file = log::path(data_dir, &task.id);
        let open = log::open_nodes(&file).unwrap_or_default();
        if let Ok(mut out) = log::TaskLog::open(data_dir, &task.id) {
            if let Some(root) = open.first() {
                let node = open.last().unwrap_or(root);
                if killed > 0 {
                    out.line(
                        node,
                        "Warning",
                        &format!(
                            "Killed {killed} process group(s) of this task that were still running."
                        ),
                    );
                }
                out.line(node, "Fatal", message);
            }
            for node in open.iter().rev() {
                out.close_node(node, "Failed");
            }
        }
        let state = if task.state == TaskState::Cancelling {
            TaskState::Canceled
        } else {
            TaskState::Failed
        };
        let id = task.id.clone();
        store.write_blocking(|tx| {
            finish(tx, &id, state, message, true)?;
            deploy::task_ended(tx, &id, state)
        })?;
    }
    Ok(running.len())
}

/// Deletes the tasks of a space that is being deleted (in its transaction); refused
/// while one of them runs.
pub fn delete_space_tasks(tx: &Connection, space: &str) -> ApiResult<()> {
    let filter = documents::Filter {
        json_equals: vec![("$.SpaceId".into(), space.into())],
        ..Default::default()
    };
    let (tasks, _) = documents::list::<ServerTask>(tx, KIND, NO_SPACE, &filter, 0, i64::MAX)?;
    if tasks
        .iter()
        .any(|t| matches!(t.state, TaskState::Executing | TaskState::Cancelling))
    {
        return Err(crate::error::ApiError::bad_request(
            "The space has tasks running; cancel them or wait for them to finish before deleting it.",
        ));
    }
    for t in tasks {
        documents::delete(tx, KIND, NO_SPACE, &t.id)?;
    }
    Ok(())
}

/// Removes task log files whose task no longer exists (its space was deleted, or a
/// crash came between the two). Runs after a space's deletion and at start-up.
pub fn sweep_logs(store: &Store, data_dir: &std::path::Path) -> ApiResult<usize> {
    let dir = data_dir.join(log::TASKS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".log") else {
            continue;
        };
        let id = id.to_owned();
        let known = store.read_blocking(|c| documents::exists(c, KIND, NO_SPACE, &id))?;
        if !known && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Milliseconds since the epoch of an ISO 8601 time as clients send it:
/// `YYYY-MM-DDTHH:MM:SS`, an optional fraction of any length, then `Z`, an
/// offset `±HH:MM` (or `±HHMM`) or nothing (UTC).
pub fn parse_ms(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3 = format!("{:0<3}", &frac[..digits.min(3)]);
        ms = first3.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_minutes = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm = rest[1..].replace(':', "");
            if hm.len() != 4 || !hm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (oh, om) = (hm[..2].parse::<i64>().ok()?, hm[2..].parse::<i64>().ok()?);
            sign * (oh * 60 + om)
        }
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_minutes * 60;
    u64::try_from(secs * 1000 + ms).ok()
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `3 seconds`, `1 minute`, `2 hours` as Octopus shows durations.
pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    let (n, unit) = if s < 60 {
        (s, "second")
    } else if s < 3600 {
        (s / 60, "minute")
    } else {
        (s / 3600, "hour")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `Monday, March 20, 2017 9:00 PM` (UTC) from an ISO time.
fn human_time(t: &str) -> String {
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let Some(ms) = parse_ms(t) else {
        return t.to_owned();
    };
    let secs = ms / 1000;
    let days = secs / 86_400;
    let num =
        |r: std::ops::Range<usize>| t.get(r).and_then(|x| x.parse::<usize>().ok()).unwrap_or(0);
    let (y, mo, d) = (num(0..4), num(5..7), num(8..10));
    let (h, mi) = (secs % 86_400 / 3600, secs % 3600 / 60);
    let (h12, ampm) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    format!(
        "{}, {} {d}, {y} {h12}:{mi:02} {ampm}",
        DAYS[(days % 7) as usize],
        MONTHS.get(mo.wrapping_sub(1)).copied().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_read_as_octopus_shows_them() {
        assert_eq!(parse_ms("1970-01-01T00:00:01.500+00:00"), Some(1500));
        assert_eq!(parse_ms("1970-01-01T01:00:01.5+01:00"), Some(1500));
        assert_eq!(parse_ms("1969-12-31T23:00:01.5000000-01:00"), Some(1500));
        assert_eq!(parse_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_ms("1970-01-01T00:00:01"), Some(1000));
        assert_eq!(parse_ms("1970-01-01T01:30:01+0130"), Some(1000));
        assert_eq!(parse_ms("tomorrow at noon"), None);
        assert_eq!(parse_ms("2024-13-01T00:00:00Z"), None);
        assert_eq!(
            human_time("2017-03-20T21:00:00.000+00:00"),
            "Monday, March 20, 2017 9:00 PM"
        );
        assert_eq!(human_duration(1_000), "1 second");
        assert_eq!(human_duration(32_000), "32 seconds");
        assert_eq!(human_duration(125_000), "2 minutes");
    }
}
