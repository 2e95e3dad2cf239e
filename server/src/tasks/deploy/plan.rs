//! What a run reads once at its start, and the system variables it derives.

use octopus_client::model::{
    Channel, Deployment, DeploymentProcess, Environment, Project, Release, Resource, ServerTask,
    Space, VariableSet,
};
use octostache::Variables;
use rusqlite::Connection;

use crate::error::{ApiError, ApiResult};
use crate::store::documents::{self, NO_SPACE};

/// Everything a deployment run reads, loaded once at its start.
pub(super) struct Plan {
    pub(super) space: Space,
    pub(super) project: Project,
    pub(super) environment: Environment,
    pub(super) channel: Option<Channel>,
    pub(super) release: Release,
    pub(super) deployment: Deployment,
    pub(super) process: DeploymentProcess,
    pub(super) variables: Vec<VariableSet>,
}

fn must<T>(what: &str, id: &str, v: Option<T>) -> ApiResult<T> {
    v.ok_or_else(|| ApiError::not_found(what, id))
}

pub(super) fn load(conn: &Connection, task: &ServerTask) -> ApiResult<Plan> {
    let space_id = task.space_id.clone().unwrap_or_default();
    let deployment_id = task
        .arguments
        .get("DeploymentId")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let sp = space_id.as_str();
    let deployment: Deployment = must(
        "deployment",
        &deployment_id,
        documents::get(conn, Deployment::COLLECTION, sp, &deployment_id)?,
    )?;
    let release: Release = must(
        "release",
        &deployment.release_id,
        documents::get(conn, Release::COLLECTION, sp, &deployment.release_id)?,
    )?;
    let process_id = release
        .project_deployment_process_snapshot_id
        .clone()
        .unwrap_or_default();
    let process: DeploymentProcess = must(
        "deployment process snapshot",
        &process_id,
        documents::get(conn, DeploymentProcess::COLLECTION, sp, &process_id)?,
    )?;
    let mut variables = Vec::new();
    let set_ids = release
        .library_variable_set_snapshot_ids
        .iter()
        .chain(release.project_variable_set_snapshot_id.iter());
    for id in set_ids {
        match crate::api::load_variables_for_run(conn, sp, id) {
            Ok(set) => variables.push(set),
            Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Plan {
        space: must(
            "space",
            sp,
            documents::get(conn, Space::COLLECTION, NO_SPACE, sp)?,
        )?,
        project: must(
            "project",
            &release.project_id,
            documents::get(conn, Project::COLLECTION, sp, &release.project_id)?,
        )?,
        environment: must(
            "environment",
            &deployment.environment_id,
            documents::get(
                conn,
                Environment::COLLECTION,
                sp,
                &deployment.environment_id,
            )?,
        )?,
        channel: documents::get(conn, Channel::COLLECTION, sp, &release.channel_id)?,
        release,
        deployment,
        process,
        variables,
    })
}

/// The system variables of a deployment (`Octopus.Release.Number`, ...).
pub(super) fn system_variables(plan: &Plan, task: &ServerTask) -> Variables {
    let mut v = Variables::new();
    let d = &plan.deployment;
    let r = &plan.release;
    let mut set = |k: &str, val: &str| v.set(k, val);
    set(
        "Octopus.Space.Id",
        plan.space.id.as_deref().unwrap_or_default(),
    );
    set("Octopus.Space.Name", &plan.space.name);
    set(
        "Octopus.Project.Id",
        plan.project.id.as_deref().unwrap_or_default(),
    );
    set("Octopus.Project.Name", &plan.project.name);
    set("Octopus.Project.Slug", &plan.project.slug);
    set("Octopus.Environment.Id", &d.environment_id);
    set("Octopus.Environment.Name", &plan.environment.name);
    set("Octopus.Environment.Slug", &plan.environment.slug);
    set(
        "Octopus.Environment.SortOrder",
        &plan.environment.sort_order.to_string(),
    );
    set("Octopus.Release.Id", r.id.as_deref().unwrap_or_default());
    set("Octopus.Release.Number", &r.version);
    set(
        "Octopus.Release.Notes",
        r.release_notes.as_deref().unwrap_or_default(),
    );
    set(
        "Octopus.Release.Created",
        r.assembled.as_deref().unwrap_or_default(),
    );
    if let Some(ch) = &plan.channel {
        set("Octopus.Release.Channel.Name", &ch.name);
    }
    set("Octopus.Deployment.Id", d.id.as_deref().unwrap_or_default());
    set("Octopus.Deployment.Name", &d.name);
    set(
        "Octopus.Deployment.Created",
        d.created.as_deref().unwrap_or_default(),
    );
    set(
        "Octopus.Deployment.Comments",
        d.comments.as_deref().unwrap_or_default(),
    );
    set(
        "Octopus.Deployment.ForcePackageDownload",
        if d.force_package_download {
            "True"
        } else {
            "False"
        },
    );
    set("Octopus.Task.Id", &task.id);
    set("Octopus.Task.Name", &task.description);
    set("Octopus.Machine.Name", "octopus-lite");
    for (k, val) in &d.form_values {
        set(k, val);
    }
    v
}
