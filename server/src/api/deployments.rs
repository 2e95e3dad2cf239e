//! Deployments: `POST /deployments` (one environment, `SkipActions` by action ID)
//! and `POST /deployments/create/untenanted/v1` (several environments, one
//! deployment and task each, `SkipStepNames` by name), lists and lookups.
//!
//! Creating a deployment checks the lifecycle, then queues its task in the same
//! transaction; the queue runs it.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use octopus_client::model::{
    CreateDeploymentResponseV1, CreateDeploymentUntenantedCommandV1, Deployment, DeploymentProcess,
    DeploymentServerTask, Environment, Links, Project, Release, Resource, ResourceCollection,
};
use rusqlite::Connection;
use serde_json::Value;

use super::AppState;
use super::crud::{Served, present};
use super::extract::{Body, ItemId, ListQuery, Scope, parse_json};
use super::releases::{canonical_keys, find_project, release_phases, releases_of};
use crate::error::{ApiError, ApiResult};
use crate::progression;
use crate::store::documents::{self, Filter};
use crate::tasks::{self, NewTask};
use crate::util::now_iso8601;

/// Deployment routes (space-scoped and default-space forms).
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    let mut r = r;
    for p in ["/api", "/api/{space_id}"] {
        r = r
            .route(&format!("{p}/deployments"), get(list).post(create))
            .route(
                &format!("{p}/deployments/create/untenanted/v1"),
                post(create_v1),
            )
            .route(
                &format!("{p}/deployments/{{id}}"),
                get(super::crud::get_one::<Deployment>),
            )
            .route(
                &format!("{p}/releases/{{id}}/deployments"),
                get(list_by_release),
            );
    }
    r
}

/// Deployments are served by the generic read path, with Octopus's links.
impl Served for Deployment {
    const ITEM_TYPE: &'static str = "Deployment";

    fn links(&mut self) -> &mut Links {
        &mut self.links
    }
    fn extra_links(&self, space: &str, l: &mut Links) {
        let id = self.id.clone().unwrap_or_default();
        l.insert(
            "Release".into(),
            format!("/api/{space}/releases/{}", self.release_id),
        );
        l.insert(
            "Environment".into(),
            format!("/api/{space}/environments/{}", self.environment_id),
        );
        l.insert(
            "Project".into(),
            format!("/api/{space}/projects/{}", self.project_id),
        );
        if let Some(t) = &self.task_id {
            // Octopus links tasks without a space.
            l.insert("Task".into(), format!("/api/tasks/{t}"));
        }
        if let Some(p) = &self.deployment_process_id {
            l.insert(
                "DeploymentProcess".into(),
                format!("/api/{space}/deploymentprocesses/{p}"),
            );
        }
        l.insert("Web".into(), format!("/app#/{space}/deployments/{id}"));
    }
}

/// Checks a new deployment and stores it with its queued task (caller's transaction).
fn create_tx(tx: &Connection, space: &str, mut d: Deployment) -> ApiResult<Deployment> {
    if d.release_id.trim().is_empty() {
        return Err(ApiError::bad_request(
            "ReleaseId: The ReleaseId field is required.",
        ));
    }
    if d.environment_id.trim().is_empty() {
        return Err(ApiError::bad_request(
            "EnvironmentId: The EnvironmentId field is required.",
        ));
    }
    if d.tenant_id.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::bad_request(
            "octopus-lite deploys untenanted only; TenantId must be empty.",
        ));
    }
    if d.use_guided_failure {
        return Err(ApiError::bad_request(
            "Guided failure is not supported by octopus-lite; deploy with UseGuidedFailure = false.",
        ));
    }
    if !d.specific_machine_ids.is_empty() {
        return Err(ApiError::bad_request(
            "octopus-lite has no deployment targets; SpecificMachineIds must be empty.",
        ));
    }
    // Times are compared as text by the queue: store them in its UTC form.
    for (field, time) in [
        ("QueueTime", &mut d.queue_time),
        ("QueueTimeExpiry", &mut d.queue_time_expiry),
    ] {
        match time.as_deref().map(str::trim) {
            None | Some("") => *time = None,
            Some(v) => {
                let ms = tasks::parse_ms(v).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{field}: '{v}' is not an ISO 8601 date and time."
                    ))
                })?;
                *time = Some(crate::util::iso8601_from_ms(ms));
            }
        }
    }
    let release: Release = documents::get(tx, Release::COLLECTION, space, &d.release_id)?
        .ok_or_else(|| ApiError::not_found("release", &d.release_id))?;
    let environment: Environment =
        documents::get(tx, Environment::COLLECTION, space, &d.environment_id)?
            .ok_or_else(|| ApiError::not_found("environment", &d.environment_id))?;
    let project: Project = documents::get(tx, Project::COLLECTION, space, &release.project_id)?
        .ok_or_else(|| ApiError::not_found("project", &release.project_id))?;
    if project.is_disabled {
        return Err(ApiError::bad_request(
            "The project is disabled, so it cannot be deployed.",
        ));
    }
    let (lifecycle, phases, succeeded) = release_phases(tx, space, &release)?;
    let env_id = d.environment_id.clone();
    if !progression::in_lifecycle(&phases, &env_id) {
        return Err(ApiError::bad_request(format!(
            "Release '{}' of project '{}' cannot be deployed to '{}': the environment is not in the lifecycle '{}'.",
            release.version, project.name, environment.name, lifecycle.name
        )));
    }
    let deployable = progression::deployable(&phases, &succeeded);
    if !deployable.contains(&env_id) {
        let current: Vec<String> = phases
            .iter()
            .filter(|p| p.progress == progression::Progress::Current)
            .map(|p| format!("'{}'", p.name))
            .collect();
        // Say where it can go now, in the lifecycle's order.
        let names = super::releases::environment_names(tx, space)?;
        let open: Vec<String> = phases
            .iter()
            .flat_map(|p| &p.environments)
            .filter(|e| deployable.contains(*e))
            .map(|e| format!("'{}'", names.get(e).map(String::as_str).unwrap_or(e)))
            .collect();
        return Err(ApiError::bad_request(format!(
            "Release '{}' of project '{}' cannot be deployed to '{}' yet: the lifecycle '{}' requires the phase {} to be complete first. It can be deployed to {} now.",
            release.version,
            project.name,
            environment.name,
            lifecycle.name,
            current.join(", "),
            open.join(", ")
        )));
    }
    let process_id = release
        .project_deployment_process_snapshot_id
        .clone()
        .unwrap_or_default();
    let process: DeploymentProcess =
        documents::get(tx, DeploymentProcess::COLLECTION, space, &process_id)?
            .ok_or_else(|| ApiError::not_found("deployment process", &process_id))?;
    let actions: Vec<_> = process
        .steps
        .iter()
        .flat_map(|s| s.actions.iter().map(move |a| (s, a)))
        .collect();
    for skip in &d.skip_actions {
        match actions
            .iter()
            .find(|(_, a)| a.id.as_deref() == Some(skip.as_str()))
        {
            None => {
                return Err(ApiError::bad_request(format!(
                    "SkipActions: the action '{skip}' is not in the release's process."
                )));
            }
            Some((s, a)) if a.is_required => {
                return Err(ApiError::bad_request(format!(
                    "The step '{}' is required and cannot be skipped.",
                    s.name
                )));
            }
            Some(_) => {}
        }
    }
    let id = documents::next_id(tx, "Deployments")?;
    d.id = Some(id.clone());
    d.space_id = Some(space.to_owned());
    d.project_id = release.project_id.clone();
    d.channel_id = release.channel_id.clone();
    d.name = format!("Deploy to {}", environment.name);
    d.created = Some(now_iso8601());
    d.deployment_process_id = Some(process_id);
    d.manifest_variable_set_id = release.project_variable_set_snapshot_id.clone();
    d.deployed_by = "octopus-lite".into();
    d.failure_encountered = false;
    let mut args = serde_json::Map::new();
    args.insert("DeploymentId".into(), Value::String(id.clone()));
    let task = tasks::create(
        tx,
        NewTask {
            space,
            name: "Deploy",
            description: format!(
                "Deploy {} release {} to {}",
                project.name, release.version, environment.name
            ),
            arguments: args,
            project_id: Some(release.project_id.clone()),
            environment_id: Some(env_id),
            queue_time: d.queue_time.clone(),
            queue_time_expiry: d.queue_time_expiry.clone(),
        },
    )?;
    d.task_id = Some(task.id);
    documents::insert(tx, Deployment::COLLECTION, space, &id, None, &d)?;
    Ok(d)
}

async fn create(
    State(st): State<AppState>,
    Scope(space): Scope,
    Body(raw): Body<Value>,
) -> ApiResult<Response> {
    let bytes = serde_json::to_vec(&raw).map_err(ApiError::internal)?;
    let d: Deployment = parse_json(&bytes)?;
    let sp = space.clone();
    let created = st.store.write(move |tx| create_tx(tx, &sp, d)).await?;
    st.tasks.wake();
    Ok((StatusCode::CREATED, Json(present(created, &space))).into_response())
}

async fn create_v1(
    State(st): State<AppState>,
    Scope(space): Scope,
    Body(raw): Body<Value>,
) -> ApiResult<Response> {
    let raw = canonical_keys(
        raw,
        &[
            "SpaceIdOrName",
            "ProjectName",
            "ReleaseVersion",
            "EnvironmentNames",
            "SkipStepNames",
            "ForcePackageDownload",
            "ForcePackageRedeployment",
            "UseGuidedFailure",
            "RunAt",
            "NoRunAfter",
            "Variables",
        ],
    );
    let bytes = serde_json::to_vec(&raw).map_err(ApiError::internal)?;
    let cmd: CreateDeploymentUntenantedCommandV1 = parse_json(&bytes)?;
    let mut errors = Vec::new();
    if cmd.project_name.trim().is_empty() {
        errors.push("ProjectName: The ProjectName field is required.".to_owned());
    }
    if cmd.release_version.trim().is_empty() {
        errors.push("ReleaseVersion: The ReleaseVersion field is required.".to_owned());
    }
    if cmd.environment_names.is_empty() {
        errors.push("EnvironmentNames: at least one environment is required.".to_owned());
    }
    super::resources::finish(errors)?;
    let sp = space.clone();
    let created = st
        .store
        .write(move |tx| {
            let project = find_project(tx, &sp, cmd.project_name.trim())?;
            let pid = project.id.clone().unwrap_or_default();
            let release = releases_of(tx, &sp, &pid)?
                .into_iter()
                .find(|r| r.version.eq_ignore_ascii_case(cmd.release_version.trim()))
                .ok_or_else(|| ApiError::not_found("release", &cmd.release_version))?;
            let process_id = release
                .project_deployment_process_snapshot_id
                .clone()
                .unwrap_or_default();
            let process: DeploymentProcess =
                documents::get(tx, DeploymentProcess::COLLECTION, &sp, &process_id)?
                    .ok_or_else(|| ApiError::not_found("deployment process", &process_id))?;
            let mut skip = Vec::new();
            for name in &cmd.skip_step_names {
                let found: Vec<String> = process
                    .steps
                    .iter()
                    .filter(|s| s.name.eq_ignore_ascii_case(name))
                    .flat_map(|s| s.actions.iter())
                    .chain(
                        process
                            .steps
                            .iter()
                            .flat_map(|s| &s.actions)
                            .filter(|a| a.name.eq_ignore_ascii_case(name)),
                    )
                    .filter_map(|a| a.id.clone())
                    .collect();
                if found.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "SkipStepNames: no step named '{name}' in the release's process."
                    )));
                }
                skip.extend(found);
            }
            skip.dedup();
            let envs = documents::list::<Environment>(
                tx,
                Environment::COLLECTION,
                &sp,
                &Filter::default(),
                0,
                i64::MAX,
            )?
            .0;
            let mut out = Vec::new();
            for name in &cmd.environment_names {
                let env = envs
                    .iter()
                    .find(|e| {
                        e.id.as_deref() == Some(name.as_str()) || e.name.eq_ignore_ascii_case(name)
                    })
                    .ok_or_else(|| ApiError::not_found("environment", name))?;
                let d = Deployment {
                    release_id: release.id.clone().unwrap_or_default(),
                    environment_id: env.id.clone().unwrap_or_default(),
                    skip_actions: skip.clone(),
                    force_package_download: cmd.force_package_download,
                    force_package_redeployment: cmd.force_package_redeployment,
                    use_guided_failure: cmd.use_guided_failure.unwrap_or(false),
                    form_values: cmd.variables.clone(),
                    queue_time: cmd.run_at.clone(),
                    queue_time_expiry: cmd.no_run_after.clone(),
                    ..Default::default()
                };
                let d = create_tx(tx, &sp, d)?;
                out.push(DeploymentServerTask {
                    deployment_id: d.id.clone().unwrap_or_default(),
                    server_task_id: d.task_id.clone().unwrap_or_default(),
                });
            }
            Ok(out)
        })
        .await?;
    st.tasks.wake();
    let answer = CreateDeploymentResponseV1 {
        deployment_server_tasks: created,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /deployments{?projects,environments,channels,skip,take}` (comma lists), newest first.
async fn list(
    State(st): State<AppState>,
    Scope(space): Scope,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<Deployment>>> {
    let wanted = |name: &str| -> Option<Vec<String>> {
        q.raw
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| {
                v.split(',')
                    .map(|x| x.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .reduce(|mut a, b| {
                a.extend(b);
                a
            })
    };
    let (projects, envs, channels, releases) = (
        wanted("projects"),
        wanted("environments"),
        wanted("channels"),
        wanted("releases"),
    );
    // `taskState` (the api-client's `DeploymentListArgs.taskState`): the state of each
    // deployment's task, by name.
    let task_states = wanted("taskstate");
    let sp = space.clone();
    let mut filter = q.filter.clone();
    filter.newest_first = true;
    filter.name = None;
    filter.partial_name = None;
    let hit =
        |f: &Option<Vec<String>>, v: &str| f.as_ref().is_none_or(|f| f.iter().any(|x| x == v));
    let items = st
        .store
        .read(move |c| {
            let mut kept = Vec::new();
            let candidates: Vec<Deployment> = documents::list::<Deployment>(
                c,
                Deployment::COLLECTION,
                &sp,
                &filter,
                0,
                i64::MAX,
            )?
            .0
            .into_iter()
            .filter(|d| {
                hit(&projects, &d.project_id)
                    && hit(&envs, &d.environment_id)
                    && hit(&channels, &d.channel_id)
                    && hit(&releases, &d.release_id)
            })
            .collect();
            // Only with `taskState`: the deployments' tasks, in one query.
            let task_of = match &task_states {
                Some(_) => tasks::get_many(
                    c,
                    candidates
                        .iter()
                        .filter_map(|d| d.task_id.clone())
                        .collect(),
                )?,
                None => Default::default(),
            };
            for d in candidates {
                if let Some(states) = &task_states {
                    let state = d
                        .task_id
                        .as_ref()
                        .and_then(|t| task_of.get(t))
                        .map(|t| t.state);
                    if !state
                        .is_some_and(|s| states.iter().any(|x| x.eq_ignore_ascii_case(s.as_str())))
                    {
                        continue;
                    }
                }
                kept.push(d);
            }
            Ok(kept)
        })
        .await?;
    let items: Vec<Deployment> = items.into_iter().map(|d| present(d, &space)).collect();
    Ok(Json(super::crud::page_of(
        items,
        &q,
        &format!("/api/{space}/deployments"),
        "Deployment",
        "{/id}{?skip,take,ids,projects,environments,channels,taskState}",
    )))
}

async fn list_by_release(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(release): ItemId,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<Deployment>>> {
    let sp = space.clone();
    let all = st
        .store
        .read(move |c| {
            Ok(super::releases::deployments_of(c, &sp, &release)?
                .into_iter()
                .map(|(d, _)| d)
                .rev()
                .collect::<Vec<_>>())
        })
        .await?;
    let items = all.into_iter().map(|d| present(d, &space)).collect();
    Ok(Json(super::crud::page_of(
        items,
        &q,
        &format!("/api/{space}/deployments"),
        "Deployment",
        "{?skip,take}",
    )))
}
