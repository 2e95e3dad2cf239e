//! Server tasks: `GET /api/tasks[/{id}]` (and under a space), `/details`, `/raw`
//! and `POST .../cancel`, as Octopus's clients poll and cancel them.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use octopus_client::model::{ResourceCollection, ServerTask, TaskDetails, TaskProgress, TaskState};

use super::AppState;
use super::crud::page;
use super::extract::{ItemId, ListQuery, Scope};
use crate::error::{ApiError, ApiResult};
use crate::store::documents::{self, NO_SPACE};
use crate::tasks::{self, KIND, log, present};

/// Task routes, unscoped and space-scoped (and the CLI's `/api/spaces/{id}/tasks/{id}/cancel`).
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    let mut r = r;
    for base in ["/api/tasks", "/api/{space_id}/tasks"] {
        r = r
            .route(base, get(list))
            .route(&format!("{base}/{{id}}"), get(get_task))
            .route(&format!("{base}/{{id}}/details"), get(details))
            .route(&format!("{base}/{{id}}/raw"), get(raw))
            .route(&format!("{base}/{{id}}/cancel"), post(cancel));
    }
    r.route("/api/spaces/{space_id}/tasks/{id}/cancel", post(cancel))
}

/// Whether the request named a space (`/api/{spaceId}/tasks...`).
fn named_space(uri: &axum::http::Uri) -> bool {
    !uri.path().starts_with("/api/tasks")
}

async fn load(st: &AppState, id: &str, space: Option<String>) -> ApiResult<ServerTask> {
    let i = id.to_owned();
    let task = st.store.read(move |c| tasks::get(c, &i)).await?;
    match task {
        Some(t) if space.is_none() || t.space_id == space => Ok(t),
        _ => Err(ApiError::not_found("ServerTask", id)),
    }
}

async fn list(
    State(st): State<AppState>,
    scope: Scope,
    uri: axum::http::Uri,
    mut q: ListQuery,
) -> ApiResult<Json<ResourceCollection<ServerTask>>> {
    let space = named_space(&uri).then(|| scope.0.clone());
    if let Some(sp) = &space {
        q.filter.json_equals.push(("$.SpaceId".into(), sp.clone()));
    }
    let param = |name: &str| {
        q.raw
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    for (name, path) in [
        ("project", "$.ProjectId"),
        ("name", "$.Name"),
        ("environment", "$.EnvironmentId"),
    ] {
        if let Some(v) = param(name) {
            q.filter.json_equals.push((path.into(), v));
        }
    }
    // `name` is the task type here, not a document name.
    q.filter.name = None;
    let states: Option<Vec<String>> =
        param("states").map(|s| s.split(',').map(|x| x.trim().to_owned()).collect());
    let active = param("active").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let running = param("running").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    q.filter.newest_first = true;
    let filter = q.filter.clone();
    let by_state = states.is_some() || active || running;
    let (skip, take) = (q.skip, q.take);
    // Without state filters the store pages; with them the page is cut after filtering.
    let (found, total): (Vec<ServerTask>, i64) = st
        .store
        .read(move |c| {
            if by_state {
                documents::list::<ServerTask>(c, KIND, NO_SPACE, &filter, 0, i64::MAX)
            } else {
                documents::list::<ServerTask>(c, KIND, NO_SPACE, &filter, skip, take)
            }
        })
        .await?;
    let (items, total) = if by_state {
        let kept: Vec<ServerTask> = found
            .into_iter()
            .filter(|t| {
                states
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case(t.state.as_str())))
            })
            .filter(|t| !active || !t.state.is_completed())
            .filter(|t| !running || t.state == TaskState::Executing)
            .collect();
        let total = kept.len() as i64;
        let page = kept
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(take).unwrap_or(usize::MAX))
            .collect::<Vec<_>>();
        (page, total)
    } else {
        (found, total)
    };
    let items: Vec<ServerTask> = items.into_iter().map(present).collect();
    let base = match &space {
        Some(sp) => format!("/api/{sp}/tasks"),
        None => "/api/tasks".into(),
    };
    Ok(Json(page(
        items,
        total,
        &q,
        &base,
        "Task",
        "{/id}{?skip,active,environment,project,name,states,take,ids,partialName}",
    )))
}

async fn get_task(
    State(st): State<AppState>,
    scope: Scope,
    uri: axum::http::Uri,
    ItemId(id): ItemId,
) -> ApiResult<Json<ServerTask>> {
    let space = named_space(&uri).then_some(scope.0);
    Ok(Json(present(load(&st, &id, space).await?)))
}

/// `verbose` and `tail` of `/details`.
#[derive(Debug, serde::Deserialize)]
struct DetailsQuery {
    verbose: Option<String>,
    tail: Option<String>,
}

async fn details(
    State(st): State<AppState>,
    scope: Scope,
    uri: axum::http::Uri,
    ItemId(id): ItemId,
    Query(q): Query<DetailsQuery>,
) -> ApiResult<Json<TaskDetails>> {
    let space = named_space(&uri).then_some(scope.0);
    let task = present(load(&st, &id, space).await?);
    let verbose = q
        .verbose
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let tail = match q.tail.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(
            t.parse::<usize>()
                .map_err(|_| ApiError::bad_request("tail: not a valid number."))?,
        ),
        None => None,
    };
    let file = log::path(&st.data_dir, &id);
    let (tree, size) = tokio::task::spawn_blocking(move || {
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        log::read_tree(&file, verbose, tail).map(|t| (t, size))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::internal(format!("reading the log of {id}: {e}")))?;
    let done = task.is_completed;
    let mut links = octopus_client::model::Links::new();
    links.insert("Self".into(), format!("/api/tasks/{id}/details"));
    Ok(Json(TaskDetails {
        progress: TaskProgress {
            progress_percentage: if done { 100 } else { 0 },
            estimated_time_remaining: String::new(),
        },
        physical_log_size: size,
        activity_logs: tree,
        task,
        links,
    }))
}

async fn raw(
    State(st): State<AppState>,
    scope: Scope,
    uri: axum::http::Uri,
    ItemId(id): ItemId,
) -> ApiResult<Response> {
    let space = named_space(&uri).then_some(scope.0);
    let task = present(load(&st, &id, space).await?);
    let file = log::path(&st.data_dir, &id);
    let tree = tokio::task::spawn_blocking(move || log::read_tree(&file, true, None))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(format!("reading the log of {id}: {e}")))?;
    let header = format!(
        "Task ID:        {}\nTask status:    {}\nCreated:        {}\nStart time:     {}\nCompleted time: {}\nDuration:       {}\n\n",
        task.id,
        task.state.as_str(),
        task.queue_time.as_deref().unwrap_or_default(),
        task.start_time.as_deref().unwrap_or_default(),
        task.completed_time.as_deref().unwrap_or_default(),
        task.duration,
    );
    let text = log::render_raw(&header, &tree);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

async fn cancel(
    State(st): State<AppState>,
    scope: Scope,
    uri: axum::http::Uri,
    ItemId(id): ItemId,
) -> ApiResult<Json<ServerTask>> {
    let space = (named_space(&uri)).then_some(scope.0);
    load(&st, &id, space).await?;
    let i = id.clone();
    // Queued tasks end here; running ones are signalled and end as their runner stops.
    let task = st
        .store
        .write(move |tx| {
            let Some(mut t) = tasks::get(tx, &i)? else {
                return Err(ApiError::not_found("ServerTask", &i));
            };
            match t.state {
                TaskState::Queued => {
                    t = tasks::finish(
                        tx,
                        &i,
                        TaskState::Canceled,
                        "The task was canceled before it started.",
                        true,
                    )?
                    .unwrap_or(t);
                    tasks::deploy::task_ended(tx, &i, TaskState::Canceled)?;
                }
                TaskState::Executing => {
                    t.state = TaskState::Cancelling;
                    t.last_updated_time = Some(crate::util::now_iso8601());
                    tasks::put(tx, &t)?;
                }
                _ => {}
            }
            Ok(t)
        })
        .await?;
    if task.state == TaskState::Cancelling {
        st.tasks.cancel(&id);
    }
    Ok(Json(present(task)))
}
