//! Projects: defaults for group and lifecycle; the deployment process and the
//! variable set are created and deleted in the same transaction as their project.

use octopus_client::model::{DeploymentProcess, Lifecycle, Links, Project, ProjectGroup, Resource};
use rusqlite::Connection;

use super::crud::ApiResource;
use super::resources::{check_common, finish, normalize_slug};
use crate::error::{ApiError, ApiResult};
use crate::store::documents;
use crate::util::{check_id, now_iso8601};

const TENANTED_MODES: &[&str] = &["Untenanted", "TenantedOrUntenanted", "Tenanted"];
const GUIDED_FAILURE_MODES: &[&str] = &["EnvironmentDefault", "Off", "On"];

/// Fills `value` with `default` when empty, else checks it is one of `allowed`.
fn one_of(
    field: &str,
    value: &mut Option<String>,
    default: &str,
    allowed: &[&str],
    errors: &mut Vec<String>,
) {
    match value.as_deref() {
        None | Some("") => *value = Some(default.to_owned()),
        Some(v) if allowed.contains(&v) => {}
        Some(v) => errors.push(format!(
            "{field}: '{}' is not one of {}.",
            v.chars().take(100).collect::<String>().escape_debug(),
            allowed.join(", ")
        )),
    }
}

/// Resolves an empty reference to the space's default, else checks it exists.
fn reference<T: ApiResource>(
    tx: &Connection,
    space: &str,
    field: &str,
    value: &mut String,
    errors: &mut Vec<String>,
) -> ApiResult<()> {
    if value.trim().is_empty() {
        match documents::first_id(tx, T::COLLECTION, space)? {
            Some(id) => *value = id,
            None => errors.push(format!("{field}: The {field} field is required.")),
        }
    } else if check_id(field, value).is_err() {
        errors.push(format!(
            "{field}: '{}' is not a valid ID.",
            value.chars().take(100).collect::<String>().escape_debug()
        ));
    } else if !documents::exists(tx, T::COLLECTION, space, value)? {
        errors.push(format!(
            "{field}: The {} '{value}' was not found in this space.",
            T::ITEM_TYPE
        ));
    }
    Ok(())
}

impl ApiResource for Project {
    const ID_PREFIX: &'static str = "Projects";
    const ITEM_TYPE: &'static str = "Project";
    const JSON_FILTERS: &'static [(&'static str, &'static str)] = &[
        ("clonedfromprojectid", "$.ClonedFromProjectId"),
        ("projectgroupid", "$.ProjectGroupId"),
    ];

    fn prepare(&mut self, tx: &Connection, space: &str, _existing: Option<&Self>) -> ApiResult<()> {
        // The process and variable set IDs follow from the (just assigned) project ID,
        // whatever the body said.
        let id = self.id.clone().unwrap_or_default();
        self.deployment_process_id = Some(DeploymentProcess::id_for_project(&id));
        self.variable_set_id = Some(format!("variableset-{id}"));
        self.name = self.name.trim().to_owned();
        let mut errors = check_common(&self.name, Self::MAX_NAME, self.description.as_deref());
        normalize_slug(&mut self.slug, &self.name, self.id.as_deref(), &mut errors);
        reference::<Lifecycle>(
            tx,
            space,
            "LifecycleId",
            &mut self.lifecycle_id,
            &mut errors,
        )?;
        reference::<ProjectGroup>(
            tx,
            space,
            "ProjectGroupId",
            &mut self.project_group_id,
            &mut errors,
        )?;
        one_of(
            "TenantedDeploymentMode",
            &mut self.tenanted_deployment_mode,
            "Untenanted",
            TENANTED_MODES,
            &mut errors,
        );
        one_of(
            "DefaultGuidedFailureMode",
            &mut self.default_guided_failure_mode,
            "EnvironmentDefault",
            GUIDED_FAILURE_MODES,
            &mut errors,
        );
        for (i, id) in self.included_library_variable_set_ids.iter().enumerate() {
            if check_id("IncludedLibraryVariableSetIds", id).is_err() {
                errors.push(format!(
                    "IncludedLibraryVariableSetIds[{i}]: not a valid ID."
                ));
            }
        }
        if let Some(c) = self
            .cloned_from_project_id
            .as_deref()
            .filter(|c| !c.is_empty())
            && check_id("ClonedFromProjectId", c).is_err()
        {
            errors.push("ClonedFromProjectId: not a valid ID.".into());
        }
        self.last_modified_on = Some(now_iso8601());
        self.last_modified_by = Some("octopus-lite".into());
        finish(errors)
    }
    fn after_create(&self, tx: &Connection, space: &str) -> ApiResult<()> {
        let project_id = self.id.clone().unwrap_or_default();
        let process = DeploymentProcess {
            id: Some(DeploymentProcess::id_for_project(&project_id)),
            space_id: Some(space.to_owned()),
            project_id,
            version: 0,
            last_modified_on: Some(now_iso8601()),
            last_modified_by: Some("octopus-lite".into()),
            ..DeploymentProcess::default()
        };
        let id = process.id.clone().unwrap_or_default();
        documents::insert(
            tx,
            DeploymentProcess::COLLECTION,
            space,
            &id,
            None,
            &process,
        )?;
        super::releases::create_default_channel(tx, space, &process.project_id)?;
        super::variables::create_for_project(tx, space, &process.project_id)
    }
    fn before_delete(&self, tx: &Connection, space: &str) -> ApiResult<()> {
        let id = self
            .deployment_process_id
            .clone()
            .ok_or_else(|| ApiError::internal("project without process"))?;
        documents::delete(tx, DeploymentProcess::COLLECTION, space, &id)?;
        let project = self.id.as_deref().unwrap_or_default();
        super::releases::delete_project_history(tx, space, project)?;
        super::variables::delete_for_project(tx, space, project)
    }
    fn extra_links(&self, space: &str, links: &mut Links) {
        if let Some(id) = &self.id {
            links.insert(
                "DeploymentProcess".into(),
                format!("/api/{space}/projects/{id}/deploymentprocesses"),
            );
            links.insert(
                "Variables".into(),
                format!("/api/{space}/variables/variableset-{id}"),
            );
            links.insert("Web".into(), format!("/app#/{space}/projects/{id}"));
        }
    }
}
