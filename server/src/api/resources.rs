//! Environments, project groups and lifecycles.

use octopus_client::model::{Environment, Lifecycle, Links, Project, ProjectGroup};
use rusqlite::Connection;

use super::crud::ApiResource;
use crate::error::{ApiError, ApiResult};
use crate::store::documents;
use crate::util::{check_id, check_len, check_name, new_guid, slug_for};

/// Longest accepted description.
pub const MAX_DESCRIPTION: usize = 2000;

/// Common checks of name and description.
pub fn check_common(name: &str, max_name: usize, description: Option<&str>) -> Vec<String> {
    let mut errors = Vec::new();
    check_name("Name", name, max_name, &mut errors);
    check_len("Description", description, MAX_DESCRIPTION, &mut errors);
    errors
}

/// Turns collected problems into a 400.
pub fn finish(errors: Vec<String>) -> ApiResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Fills an empty slug from the name (or, for names without ASCII letters or
/// digits, from the ID: a slug is never empty) and checks a given one.
pub fn normalize_slug(slug: &mut String, name: &str, id: Option<&str>, errors: &mut Vec<String>) {
    if slug.trim().is_empty() {
        *slug = slug_for(name, id.unwrap_or_default());
    } else if slug.len() > 210
        || !slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        errors.push(
            "Slug: The Slug may only contain letters, digits, '-' and '_' (at most 210).".into(),
        );
    }
}

impl ApiResource for Environment {
    const ID_PREFIX: &'static str = "Environments";
    const ITEM_TYPE: &'static str = "Environment";
    /// Octopus lists environments in their sort order (`PUT …/environments/sortorder`).
    const ORDER_BY: Option<&'static str> = Some("$.SortOrder");

    fn prepare(&mut self, tx: &Connection, space: &str, existing: Option<&Self>) -> ApiResult<()> {
        self.name = self.name.trim().to_owned();
        let mut errors = check_common(&self.name, Self::MAX_NAME, self.description.as_deref());
        normalize_slug(&mut self.slug, &self.name, self.id.as_deref(), &mut errors);
        if existing.is_none() && self.sort_order == 0 {
            let n = documents::list::<serde_json::Value>(
                tx,
                Self::COLLECTION,
                space,
                &Default::default(),
                0,
                0,
            )?
            .1;
            self.sort_order = i32::try_from(n).unwrap_or(i32::MAX);
        }
        finish(errors)
    }
}

impl ApiResource for ProjectGroup {
    const ID_PREFIX: &'static str = "ProjectGroups";
    const ITEM_TYPE: &'static str = "ProjectGroup";

    fn prepare(&mut self, tx: &Connection, space: &str, _existing: Option<&Self>) -> ApiResult<()> {
        self.name = self.name.trim().to_owned();
        let mut errors = check_common(&self.name, Self::MAX_NAME, self.description.as_deref());
        check_refs::<Environment>(
            tx,
            space,
            "EnvironmentIds",
            &self.environment_ids,
            &mut errors,
        )?;
        finish(errors)
    }
    fn before_delete(&self, tx: &Connection, space: &str) -> ApiResult<()> {
        refuse_if_used(
            tx,
            space,
            self.id.as_deref().unwrap_or_default(),
            "$.ProjectGroupId",
            "project group",
        )
    }
    fn extra_links(&self, space: &str, links: &mut Links) {
        if let Some(id) = &self.id {
            links.insert(
                "Projects".into(),
                format!("/api/{space}/projectgroups/{id}/projects"),
            );
        }
    }
}

impl ApiResource for Lifecycle {
    const ID_PREFIX: &'static str = "Lifecycles";
    const ITEM_TYPE: &'static str = "Lifecycle";

    fn prepare(&mut self, tx: &Connection, space: &str, _existing: Option<&Self>) -> ApiResult<()> {
        self.name = self.name.trim().to_owned();
        let mut errors = check_common(&self.name, Self::MAX_NAME, self.description.as_deref());
        normalize_slug(&mut self.slug, &self.name, self.id.as_deref(), &mut errors);
        let mut names = std::collections::HashSet::new();
        for (i, phase) in self.phases.iter_mut().enumerate() {
            check_name(
                &format!("Phases[{i}].Name"),
                &phase.name,
                Self::MAX_NAME,
                &mut errors,
            );
            if !names.insert(phase.name.trim().to_lowercase()) {
                errors.push(format!(
                    "Phases[{i}].Name: Phase names must be unique: '{}' is used more than once.",
                    phase.name
                ));
            }
            if phase.id.as_deref().is_none_or(str::is_empty) {
                phase.id = Some(new_guid());
            }
            let field = format!("Phases[{i}].AutomaticDeploymentTargets");
            check_refs::<Environment>(
                tx,
                space,
                &field,
                &phase.automatic_deployment_targets,
                &mut errors,
            )?;
            let field = format!("Phases[{i}].OptionalDeploymentTargets");
            check_refs::<Environment>(
                tx,
                space,
                &field,
                &phase.optional_deployment_targets,
                &mut errors,
            )?;
        }
        finish(errors)
    }
    fn before_delete(&self, tx: &Connection, space: &str) -> ApiResult<()> {
        refuse_if_used(
            tx,
            space,
            self.id.as_deref().unwrap_or_default(),
            "$.LifecycleId",
            "lifecycle",
        )
    }
}

/// Records an error for each ID that is malformed or not in the space.
pub fn check_refs<T: ApiResource>(
    tx: &Connection,
    space: &str,
    field: &str,
    ids: &[String],
    errors: &mut Vec<String>,
) -> ApiResult<()> {
    for id in ids {
        if check_id(field, id).is_err() {
            errors.push(format!(
                "{field}: '{}' is not a valid ID.",
                id.chars().take(100).collect::<String>().escape_debug()
            ));
        } else if !documents::exists(tx, T::COLLECTION, space, id)? {
            errors.push(format!(
                "{field}: The {} '{id}' was not found in this space.",
                T::ITEM_TYPE
            ));
        }
    }
    Ok(())
}

/// Refuses to delete a group or lifecycle that projects still use.
fn refuse_if_used(
    tx: &Connection,
    space: &str,
    id: &str,
    json_path: &str,
    what: &str,
) -> ApiResult<()> {
    let n = documents::count_referencing(tx, Project::COLLECTION, space, json_path, id)?;
    if n > 0 {
        return Err(ApiError::bad_request(format!(
            "This {what} is used by {n} project(s); move or delete them before deleting it."
        )));
    }
    Ok(())
}

use octopus_client::model::Resource as _;
