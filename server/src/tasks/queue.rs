//! The task queue: runs queued tasks in creation order, at most
//! `max_concurrent` at once, and deployments of one project to one environment
//! one at a time. Creating a task wakes it; a cancel signals the running task.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use octopus_client::model::{Resource, ServerTask, Space, TaskState};
use tokio::sync::{Notify, watch};

use super::{KIND, deploy};
use crate::api::AppState;
use crate::error::ApiResult;
use crate::store::documents::{self, Filter, NO_SPACE};
use crate::util::now_iso8601;

/// Default number of tasks running at once.
pub const DEFAULT_MAX_CONCURRENT: usize = 4;

/// The queue's shared state (held by [`crate::api::State`]).
pub struct Queue {
    wake: Notify,
    max_concurrent: usize,
    inner: Mutex<Running>,
}

#[derive(Default)]
struct Running {
    /// Running task ID to its cancel signal.
    cancels: HashMap<String, watch::Sender<bool>>,
    /// `(project, environment)` of running deployments.
    busy: HashSet<(String, String)>,
}

impl Queue {
    /// A queue running at most `max_concurrent` tasks at once.
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            wake: Notify::new(),
            max_concurrent: max_concurrent.max(1),
            inner: Mutex::new(Running::default()),
        }
    }

    /// Makes the queue look for work now (after a task was created).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Signals a running task to stop; false if it is not running here.
    pub fn cancel(&self, task_id: &str) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.cancels.get(task_id) {
            Some(tx) => {
                let _ = tx.send(true);
                true
            }
            None => false,
        }
    }

    /// Signals every running task to stop (shutdown).
    pub fn cancel_all(&self) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for tx in inner.cancels.values() {
            let _ = tx.send(true);
        }
    }

    /// How many tasks are running.
    pub fn running(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cancels
            .len()
    }
}

fn key_of(task: &ServerTask) -> Option<(String, String)> {
    Some((
        task.project_id.clone()?,
        super::environment_of(task)?.to_owned(),
    ))
}

/// Runs the queue until `stop` resolves; then cancels running tasks and waits
/// for them (at most `grace`).
pub async fn run(state: AppState, mut stop: tokio::sync::oneshot::Receiver<()>, grace: Duration) {
    let queue = &state.tasks;
    let mut handles = tokio::task::JoinSet::new();
    loop {
        let mut scheduled_later = false;
        match queued(&state).await {
            Ok(tasks) => {
                for task in tasks {
                    if queue.running() >= queue.max_concurrent {
                        break;
                    }
                    let now = now_iso8601();
                    if task.queue_time.as_deref().is_some_and(|t| t > now.as_str()) {
                        scheduled_later = true;
                        continue;
                    }
                    if task
                        .queue_time_expiry
                        .as_deref()
                        .is_some_and(|t| t < now.as_str())
                    {
                        let id = task.id.clone();
                        let _ = state
                            .store
                            .write(move |tx| {
                                super::finish(
                                    tx,
                                    &id,
                                    TaskState::TimedOut,
                                    "The task could not start before its queue time expiry.",
                                    true,
                                )?;
                                super::deploy::task_ended(tx, &id, TaskState::TimedOut)
                            })
                            .await;
                        continue;
                    }
                    let key = key_of(&task);
                    let (tx, rx) = watch::channel(false);
                    {
                        let mut inner = queue.inner.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(k) = &key {
                            if inner.busy.contains(k) {
                                continue;
                            }
                            inner.busy.insert(k.clone());
                        }
                        inner.cancels.insert(task.id.clone(), tx);
                    }
                    let st = state.clone();
                    handles.spawn(async move {
                        execute(&st, task.clone(), rx).await;
                        let mut inner = st.tasks.inner.lock().unwrap_or_else(|e| e.into_inner());
                        inner.cancels.remove(&task.id);
                        if let Some(k) = key {
                            inner.busy.remove(&k);
                        }
                        drop(inner);
                        st.tasks.wake();
                    });
                }
            }
            Err(e) => eprintln!("octopus-lite: reading the task queue: {}", e.message),
        }
        while handles.try_join_next().is_some() {}
        let tick = if scheduled_later {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(5)
        };
        tokio::select! {
            _ = queue.wake.notified() => {}
            _ = tokio::time::sleep(tick) => {}
            _ = &mut stop => break,
        }
    }
    queue.cancel_all();
    let _ = tokio::time::timeout(grace, async {
        while handles.join_next().await.is_some() {}
    })
    .await;
}

/// Queued tasks, oldest first, except those of spaces whose task queue is stopped
/// (`TaskQueueStopped`: they wait until it is started again).
async fn queued(state: &AppState) -> ApiResult<Vec<ServerTask>> {
    state
        .store
        .read(|c| {
            let filter = Filter {
                json_equals: vec![("$.State".into(), "Queued".into())],
                ..Default::default()
            };
            let tasks = documents::list::<ServerTask>(c, KIND, NO_SPACE, &filter, 0, 200)?.0;
            if tasks.is_empty() {
                return Ok(tasks);
            }
            let all = Filter::default();
            let stopped: Vec<String> =
                documents::list::<Space>(c, Space::COLLECTION, NO_SPACE, &all, 0, i64::MAX)?
                    .0
                    .into_iter()
                    .filter(|s| s.task_queue_stopped)
                    .filter_map(|s| s.id)
                    .collect();
            Ok(tasks
                .into_iter()
                .filter(|t| t.space_id.as_ref().is_none_or(|s| !stopped.contains(s)))
                .collect())
        })
        .await
}

/// Runs one task: marks it started, runs it, records how it ended.
async fn execute(state: &AppState, task: ServerTask, cancel: watch::Receiver<bool>) {
    let id = task.id.clone();
    let started = state.store.write(move |tx| super::start(tx, &id)).await;
    let task = match started {
        Ok(Some(t)) if t.state == TaskState::Executing => t,
        Ok(_) => return,
        Err(e) => {
            eprintln!("octopus-lite: starting {}: {}", task.id, e.message);
            return;
        }
    };
    let end = match task.name.as_str() {
        "Deploy" => deploy::run(state.clone(), task.clone(), cancel).await,
        other => deploy::RunEnd {
            state: TaskState::Failed,
            error: format!("Tasks of type '{other}' are not supported by octopus-lite."),
            warnings: true,
        },
    };
    let id = task.id.clone();
    let result = state
        .store
        .write(move |tx| {
            super::finish(tx, &id, end.state, &end.error, end.warnings)?;
            super::deploy::task_ended(tx, &id, end.state)
        })
        .await;
    if let Err(e) = result {
        eprintln!(
            "octopus-lite: recording the end of {}: {}",
            task.id, e.message
        );
    }
}
