//! Deployment processes: GET and whole-document PUT with the `Version` check
//! and server-side validation.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use octopus_client::model::deployment_process::action_types;
use octopus_client::model::{
    DeploymentProcess, Environment, Feed, Links, PropertyValue, Resource, SensitiveValue, Step,
};
use rusqlite::Connection;

use super::AppState;
use super::crud::{self, Served, present};
use super::extract::{Body, ItemId, Scope, parse_json};
use super::feeds::merge_secret;
use super::resources::{check_refs, finish};
use crate::error::{ApiError, ApiResult};
use crate::step_packages::usages::is_sensitive_input;
use crate::store::documents;
use crate::util::{check_id, check_len, check_name, new_guid, now_iso8601};

const STEP_CONDITIONS: &[&str] = &["Success", "Failure", "Always", "Variable"];
const START_TRIGGERS: &[&str] = &["StartAfterPrevious", "StartWithPrevious"];
const PACKAGE_REQUIREMENTS: &[&str] = &[
    "LetOctopusDecide",
    "BeforePackageAcquisition",
    "AfterPackageAcquisition",
];
/// Most steps a process may have.
const MAX_STEPS: usize = 500;

/// Served by the generic GET handlers only: a process has no name, is created with
/// its project (`Project::after_create`) and replaced by [`put_by_id`].
impl Served for DeploymentProcess {
    const ITEM_TYPE: &'static str = "DeploymentProcess";

    fn links(&mut self) -> &mut Links {
        &mut self.links
    }
    fn redact(&mut self) {
        for step in &mut self.steps {
            redact_properties(&mut step.properties);
            for action in &mut step.actions {
                redact_properties(&mut action.properties);
                if let Some(inputs) = &mut action.inputs {
                    redact_inputs(inputs);
                }
            }
        }
    }
    fn extra_links(&self, space: &str, links: &mut Links) {
        links.insert(
            "Project".into(),
            format!("/api/{space}/projects/{}", self.project_id),
        );
    }
}

fn redact_properties(props: &mut std::collections::BTreeMap<String, PropertyValue>) {
    for v in props.values_mut() {
        if let PropertyValue::Sensitive(s) = v {
            s.has_value = s.has_value || s.new_value.is_some();
            s.new_value = None;
        }
    }
}

/// Step-package inputs that are sensitive values answer only `HasValue`.
fn redact_inputs(v: &mut serde_json::Value) {
    if is_sensitive_input(v) {
        if let Some(o) = v.as_object_mut() {
            let has = o.get("HasValue").and_then(serde_json::Value::as_bool) == Some(true)
                || o.get("NewValue").is_some_and(|n| !n.is_null());
            o.remove("NewValue");
            o.insert("HasValue".into(), has.into());
        }
        return;
    }
    match v {
        serde_json::Value::Object(m) => m.values_mut().for_each(redact_inputs),
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_inputs),
        _ => {}
    }
}

/// A sensitive input sent back as `{"HasValue": true}` keeps the stored secret.
fn merge_sensitive_inputs(incoming: &mut serde_json::Value, stored: Option<&serde_json::Value>) {
    if is_sensitive_input(incoming) {
        let keep = incoming
            .get("NewValue")
            .is_none_or(serde_json::Value::is_null)
            && incoming
                .get("HasValue")
                .and_then(serde_json::Value::as_bool)
                == Some(true);
        if keep && let Some(old) = stored.filter(|o| is_sensitive_input(o)) {
            *incoming = old.clone();
        }
        return;
    }
    if let serde_json::Value::Object(m) = incoming {
        for (k, v) in m.iter_mut() {
            merge_sensitive_inputs(v, stored.and_then(|s| s.get(k)));
        }
    }
}

/// Routes: `/deploymentprocesses[/{id}]` and `/projects/{id}/deploymentprocesses`,
/// space-scoped and in the default-space form.
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    let list = get(crud::list::<DeploymentProcess>);
    let item = get(crud::get_one::<DeploymentProcess>).put(put_by_id);
    let by_project = get(get_by_project).put(put_by_project);
    r.route("/api/{space_id}/deploymentprocesses", list.clone())
        .route("/api/{space_id}/deploymentprocesses/{id}", item.clone())
        .route(
            "/api/{space_id}/projects/{id}/deploymentprocesses",
            by_project.clone(),
        )
        .route("/api/deploymentprocesses", list)
        .route("/api/deploymentprocesses/{id}", item)
        .route("/api/projects/{id}/deploymentprocesses", by_project)
}

async fn get_by_project(
    st: State<AppState>,
    scope: Scope,
    ItemId(project): ItemId,
) -> ApiResult<Json<DeploymentProcess>> {
    let id = ItemId(DeploymentProcess::id_for_project(&project));
    crud::get_one::<DeploymentProcess>(st, scope, id).await
}

async fn put_by_project(
    st: State<AppState>,
    scope: Scope,
    ItemId(project): ItemId,
    body: Body<serde_json::Value>,
) -> ApiResult<Json<DeploymentProcess>> {
    put_by_id(
        st,
        scope,
        ItemId(DeploymentProcess::id_for_project(&project)),
        body,
    )
    .await
}

async fn put_by_id(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(id): ItemId,
    Body(raw): Body<serde_json::Value>,
) -> ApiResult<Json<DeploymentProcess>> {
    let Some(obj) = raw.as_object() else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let mut missing = Vec::new();
    for field in ["Steps", "Version"] {
        if obj.get(field).is_none_or(serde_json::Value::is_null) {
            missing.push(format!("{field}: The {field} field is required."));
        }
    }
    finish(missing)?;
    let bytes = serde_json::to_vec(&raw).map_err(ApiError::internal)?;
    let incoming: DeploymentProcess = parse_json(&bytes)?;
    super::unknown::check(&incoming)?;
    let sp = space.clone();
    let stored = st
        .store
        .write(move |tx| replace(tx, &sp, &id, incoming))
        .await?;
    Ok(Json(present(stored, &space)))
}

/// Validates and stores a whole process in the caller's transaction.
/// The answer to a write to a release's snapshot of a process (Octopus's wording for a
/// variable set's snapshot, which the process's mirrors).
pub const FROZEN_PROCESS: &str = "You cannot modify this deployment process because it is a release's snapshot, which is frozen.";

fn replace(
    tx: &Connection,
    space: &str,
    id: &str,
    mut p: DeploymentProcess,
) -> ApiResult<DeploymentProcess> {
    let existing: DeploymentProcess = documents::get(tx, DeploymentProcess::COLLECTION, space, id)?
        .ok_or_else(|| ApiError::not_found(DeploymentProcess::ITEM_TYPE, id))?;
    if DeploymentProcess::is_snapshot_id(id) {
        return Err(ApiError::bad_request(FROZEN_PROCESS));
    }
    let mut errors = Vec::new();
    if p.id.as_deref().is_some_and(|b| b != id) {
        errors.push(format!(
            "Id: The Id in the body does not match the URL ('{id}')."
        ));
    }
    if !p.project_id.is_empty() && p.project_id != existing.project_id {
        errors.push(format!(
            "ProjectId: This process belongs to '{}'.",
            existing.project_id
        ));
    }
    finish(errors)?;
    if p.version != existing.version {
        return Err(ApiError {
            status: axum::http::StatusCode::CONFLICT,
            message: format!(
                "Modification failed for 'DeploymentProcess' document with '{id}' Id because submitted data was out of date. Refresh the document and try again."
            ),
            errors: vec![format!(
                "Version: submitted {}, current {}.",
                p.version, existing.version
            )],
        });
    }
    validate_steps(tx, space, &mut p.steps)?;
    merge_sensitive(&mut p.steps, &existing.steps);
    p.id = Some(id.to_owned());
    p.space_id = Some(space.to_owned());
    p.project_id = existing.project_id.clone();
    p.last_snapshot_id = existing.last_snapshot_id.clone();
    p.version = existing
        .version
        .checked_add(1)
        .ok_or_else(|| ApiError::internal("version overflow"))?;
    p.last_modified_on = Some(now_iso8601());
    p.last_modified_by = Some("octopus-lite".into());
    p.links.clear();
    documents::update(tx, DeploymentProcess::COLLECTION, space, id, None, &p)?;
    Ok(p)
}

/// Fills `value` with `default` when empty, else checks it against `allowed`.
fn enum_field(
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

/// Checks an optional GUID-like ID, assigning a new one when empty.
fn ensure_id(
    field: &str,
    id: &mut Option<String>,
    seen: &mut HashSet<String>,
    errors: &mut Vec<String>,
) {
    match id.as_deref() {
        None | Some("") => *id = Some(new_guid()),
        Some(v) if check_id(field, v).is_err() => errors.push(format!("{field}: not a valid ID.")),
        Some(_) => {}
    }
    if let Some(v) = id.as_deref()
        && !seen.insert(v.to_owned())
    {
        errors.push(format!("{field}: The ID '{v}' is used more than once."));
    }
}

fn check_properties(
    field: &str,
    props: &std::collections::BTreeMap<String, PropertyValue>,
    errors: &mut Vec<String>,
) {
    for key in props.keys() {
        if key.trim().is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
            errors.push(format!(
                "{field}: property names must be 1 to 200 printable characters."
            ));
        }
    }
}

/// Server-side validation: unique step and action names, required fields,
/// known action types, existing feeds and environments. Assigns missing IDs
/// and defaults.
fn validate_steps(tx: &Connection, space: &str, steps: &mut [Step]) -> ApiResult<()> {
    let mut errors = Vec::new();
    if steps.len() > MAX_STEPS {
        return Err(ApiError::validation(vec![format!(
            "Steps: A process may have at most {MAX_STEPS} steps."
        )]));
    }
    let mut step_names = HashSet::new();
    let mut action_names = HashSet::new();
    let mut ids = HashSet::new();
    for (i, step) in steps.iter_mut().enumerate() {
        let f = format!("Steps[{i}]");
        check_name(&format!("{f}.Name"), &step.name, 200, &mut errors);
        if !step.name.trim().is_empty() && !step_names.insert(step.name.trim().to_lowercase()) {
            errors.push(format!(
                "{f}.Name: Step names must be unique: '{}' is used more than once.",
                step.name.trim()
            ));
        }
        ensure_id(&format!("{f}.Id"), &mut step.id, &mut ids, &mut errors);
        enum_field(
            &format!("{f}.Condition"),
            &mut step.condition,
            "Success",
            STEP_CONDITIONS,
            &mut errors,
        );
        enum_field(
            &format!("{f}.StartTrigger"),
            &mut step.start_trigger,
            "StartAfterPrevious",
            START_TRIGGERS,
            &mut errors,
        );
        enum_field(
            &format!("{f}.PackageRequirement"),
            &mut step.package_requirement,
            "LetOctopusDecide",
            PACKAGE_REQUIREMENTS,
            &mut errors,
        );
        check_properties(&format!("{f}.Properties"), &step.properties, &mut errors);
        if step.actions.is_empty() {
            errors.push(format!(
                "{f}.Actions: A step must have at least one action."
            ));
        }
        for (j, action) in step.actions.iter_mut().enumerate() {
            let f = format!("{f}.Actions[{j}]");
            check_name(&format!("{f}.Name"), &action.name, 200, &mut errors);
            if !action.name.trim().is_empty()
                && !action_names.insert(action.name.trim().to_lowercase())
            {
                errors.push(format!(
                    "{f}.Name: Action names must be unique within the process: '{}' is used more than once.",
                    action.name.trim()
                ));
            }
            ensure_id(&format!("{f}.Id"), &mut action.id, &mut ids, &mut errors);
            if action.action_type.trim().is_empty() {
                errors.push(format!("{f}.ActionType: The ActionType field is required."));
            } else if !action_types::BUILT_IN.contains(&action.action_type.as_str())
                && !crate::step_packages::usages::check_action(tx, &f, action, &mut errors)?
            {
                errors.push(format!(
                    "{f}.ActionType: '{}' is not a known action type.",
                    action
                        .action_type
                        .chars()
                        .take(100)
                        .collect::<String>()
                        .escape_debug()
                ));
            }
            check_len(
                &format!("{f}.Notes"),
                action.notes.as_deref(),
                10_000,
                &mut errors,
            );
            check_properties(&format!("{f}.Properties"), &action.properties, &mut errors);
            check_refs::<Environment>(
                tx,
                space,
                &format!("{f}.Environments"),
                &action.environments,
                &mut errors,
            )?;
            check_refs::<Environment>(
                tx,
                space,
                &format!("{f}.ExcludedEnvironments"),
                &action.excluded_environments,
                &mut errors,
            )?;
            for (k, ch) in action.channels.iter().enumerate() {
                if check_id("Channels", ch).is_err() {
                    errors.push(format!("{f}.Channels[{k}]: not a valid ID."));
                }
            }
            if let Some(pool) = action.worker_pool_id.as_deref().filter(|p| !p.is_empty())
                && check_id("WorkerPoolId", pool).is_err()
            {
                errors.push(format!("{f}.WorkerPoolId: not a valid ID."));
            }
            if let Some(feed) = action
                .container
                .as_ref()
                .and_then(|c| c.feed_id.as_deref())
                .filter(|x| !x.is_empty())
            {
                check_refs::<Feed>(
                    tx,
                    space,
                    &format!("{f}.Container.FeedId"),
                    &[feed.to_owned()],
                    &mut errors,
                )?;
            }
            let mut package_names = HashSet::new();
            for (k, pkg) in action.packages.iter_mut().enumerate() {
                let f = format!("{f}.Packages[{k}]");
                if !package_names.insert(pkg.name.clone()) {
                    errors.push(format!(
                        "{f}.Name: Package reference names must be unique within an action."
                    ));
                }
                ensure_id(&format!("{f}.Id"), &mut pkg.id, &mut ids, &mut errors);
                check_name(&format!("{f}.PackageId"), &pkg.package_id, 200, &mut errors);
                if pkg.feed_id.trim().is_empty() {
                    errors.push(format!("{f}.FeedId: The FeedId field is required."));
                } else {
                    check_refs::<Feed>(
                        tx,
                        space,
                        &format!("{f}.FeedId"),
                        std::slice::from_ref(&pkg.feed_id),
                        &mut errors,
                    )?;
                }
            }
        }
    }
    finish(errors)
}

/// Keeps stored secrets for sensitive values sent back as `{HasValue: true}`.
fn merge_sensitive(steps: &mut [Step], existing: &[Step]) {
    let mut stored: HashMap<(String, String), SensitiveValue> = HashMap::new();
    let mut remember =
        |owner: &Option<String>, props: &std::collections::BTreeMap<String, PropertyValue>| {
            for (k, v) in props {
                if let (Some(o), PropertyValue::Sensitive(s)) = (owner, v) {
                    stored.insert((o.clone(), k.clone()), s.clone());
                }
            }
        };
    for s in existing {
        remember(&s.id, &s.properties);
        for a in &s.actions {
            remember(&a.id, &a.properties);
        }
    }
    let apply = |owner: &Option<String>,
                 props: &mut std::collections::BTreeMap<String, PropertyValue>| {
        for (k, v) in props.iter_mut() {
            if let PropertyValue::Sensitive(s) = v {
                let old = owner
                    .as_ref()
                    .and_then(|o| stored.get(&(o.clone(), k.clone())));
                let mut incoming = Some(s.clone());
                merge_secret(&mut incoming, old);
                *s = incoming.unwrap_or_default();
            }
        }
    };
    let stored_inputs: HashMap<String, serde_json::Value> = existing
        .iter()
        .flat_map(|s| &s.actions)
        .filter_map(|a| Some((a.id.clone()?, a.inputs.clone()?)))
        .collect();
    for s in steps {
        apply(&s.id, &mut s.properties);
        for a in &mut s.actions {
            apply(&a.id, &mut a.properties);
            if let Some(inputs) = &mut a.inputs {
                let old = a.id.as_ref().and_then(|id| stored_inputs.get(id));
                merge_sensitive_inputs(inputs, old);
            }
        }
    }
}
