//! Variable sets: `GET|PUT /api/{spaceId}/variables/{id}`, `GET /api/{spaceId}/variables?ids=`,
//! the set each project owns (`variableset-<ProjectId>`, created and deleted with it),
//! and the frozen snapshots releases take of it.
//!
//! A set is replaced whole with the `Version` last read (a stale one answers 409 with
//! Octopus' text). Sensitive variables (`Type = Sensitive`, or `IsSensitive`) are
//! sealed at rest ([`crate::secrets::seal_variables`]) and never answered (`Value:
//! null`); on write their `Id` decides (as Octopus does): the same `Id` with a null or
//! empty value keeps the stored secret, the same `Id` with a value replaces it, a
//! variable without `Id` has exactly the value sent (none when empty).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use octopus_client::model::variable::ScopeValues;
use octopus_client::model::{
    DeploymentProcess, Environment, Extra, Links, Project, Resource, Variable, VariableSet,
};
use rusqlite::Connection;
use serde_json::{Value, json};

use super::AppState;
use super::crud::{Served, present};
use super::extract::{Body, ItemId, ListQuery, Scope, parse_json};
use super::resources::{MAX_DESCRIPTION, check_refs, finish};
use super::unknown::UnknownFields;
use crate::error::{ApiError, ApiResult};
use crate::store::documents;
use crate::util::{check_id, check_len, check_name, new_guid};

/// Variable types octopus-lite stores. `String` and `Sensitive` are what it
/// understands; the others are Octopus' reference types (the value is the ID of an
/// account, certificate or worker pool), kept as written and not resolved.
pub const VARIABLE_TYPES: &[&str] = &[
    "String",
    "Sensitive",
    "Certificate",
    "AmazonWebServicesAccount",
    "AzureAccount",
    "WorkerPool",
    "UsernamePasswordAccount",
    "GenericOidcAccount",
    "GoogleCloudAccount",
];

/// Scope kinds a variable may be scoped by (the `Scope` keys).
pub const SCOPE_KINDS: &[&str] = &[
    "Environment",
    "Role",
    "Channel",
    "Action",
    "Machine",
    "TenantTag",
    "ProcessOwner",
];

/// Most variables one set may hold.
pub const MAX_VARIABLES: usize = 10_000;

/// Longest variable name.
const MAX_NAME: usize = 1000;

/// Octopus' answer to a write with a stale `Version`.
pub const STALE_MESSAGE: &str = "Changes to these variables could not be saved, because another user has made changes to the variables between when you started editing and when you saved your changes. Please reload or open a new tab to make your changes.";

/// Octopus' answer to a write to a release's snapshot.
pub const FROZEN_MESSAGE: &str = "You cannot modify this variable set because the set is frozen.";

const KIND: &str = crate::secrets::VARIABLES_KIND;

/// Served by the generic read helpers ([`present`]): links and redaction. Variable
/// sets have their own handlers, which also compute `ScopeValues`.
impl Served for VariableSet {
    const ITEM_TYPE: &'static str = "VariableSet";

    fn links(&mut self) -> &mut Links {
        &mut self.links
    }
    fn redact(&mut self) {
        for v in &mut self.variables {
            if v.is_secret() {
                v.value = None;
                v.is_sensitive = true;
            }
        }
    }
    fn extra_links(&self, space: &str, links: &mut Links) {
        if self.owner_id.starts_with("Projects-") {
            links.insert(
                "Owner".into(),
                format!("/api/{space}/projects/{}", self.owner_id),
            );
        }
    }
}

impl UnknownFields for VariableSet {
    fn each_unknown<'a>(&'a self, f: &mut dyn FnMut(&dyn Fn() -> String, &'a Extra)) {
        f(&String::new, &self.extra);
        for (i, v) in self.variables.iter().enumerate() {
            f(&|| format!("Variables[{i}]"), &v.extra);
        }
    }
}

/// Routes: `/variables` (`?ids=`) and `/variables/{id}`, space-scoped and in the
/// default-space form.
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    let list = get(list_sets);
    let item = get(get_set).put(put_set);
    r.route("/api/{space_id}/variables", list.clone())
        .route("/api/{space_id}/variables/{id}", item.clone())
        .route("/api/variables", list)
        .route("/api/variables/{id}", item)
}

/// The owner of a project's set ID (`variableset-Projects-1` → `Projects-1`); `None`
/// for snapshot IDs and other owners.
fn project_of(set_id: &str) -> Option<&str> {
    set_id
        .strip_prefix("variableset-")
        .filter(|o| o.starts_with("Projects-") && !VariableSet::is_snapshot_id(set_id))
}

/// An empty set for a project.
fn empty_set(space: &str, project_id: &str) -> VariableSet {
    VariableSet {
        id: Some(VariableSet::id_for_owner(project_id)),
        space_id: Some(space.to_owned()),
        owner_id: project_id.to_owned(),
        version: 0,
        ..VariableSet::default()
    }
}

/// Creates a project's empty set, in the project's creating transaction.
pub(crate) fn create_for_project(tx: &Connection, space: &str, project_id: &str) -> ApiResult<()> {
    let set = empty_set(space, project_id);
    let id = set.id.clone().unwrap_or_default();
    documents::insert(tx, KIND, space, &id, None, &set)
}

/// Deletes a project's set and every snapshot of it, in the project's deleting
/// transaction.
pub(crate) fn delete_for_project(tx: &Connection, space: &str, project_id: &str) -> ApiResult<()> {
    tx.prepare_cached(
        "DELETE FROM documents WHERE kind = ?1 AND space_id = ?2 AND json_extract(body, '$.OwnerId') = ?3",
    )?
    .execute(rusqlite::params![KIND, space, project_id])?;
    Ok(())
}

/// The stored set (secrets decrypted). A project created before variable sets existed
/// has none stored: it reads as empty.
fn load(conn: &Connection, space: &str, id: &str) -> ApiResult<Option<VariableSet>> {
    if let Some(set) = documents::get::<VariableSet>(conn, KIND, space, id)? {
        return Ok(Some(set));
    }
    match project_of(id) {
        Some(project) if documents::exists(conn, Project::COLLECTION, space, project)? => {
            Ok(Some(empty_set(space, project)))
        }
        _ => Ok(None),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("VariableSet", id)
}

/// The set `set_id` of `space` **with its sensitive values decrypted**, for the
/// deployment executor. Never serve it: answers go through [`present`], which
/// removes them. Call it inside a store transaction (the store's key decrypts).
pub fn load_variables_for_run(
    conn: &Connection,
    space: &str,
    set_id: &str,
) -> ApiResult<VariableSet> {
    load(conn, space, set_id)?.ok_or_else(|| not_found(set_id))
}

/// Freezes the current variables of project `project_id` as snapshot number
/// `snapshot_no` (a release's): a copy, secrets sealed like the original's, under a
/// new ID `variableset-<ProjectId>-s-<n>-<5 random uppercase letters>` that refuses
/// every `PUT`. Returns the snapshot's ID. Runs in the caller's transaction.
pub fn snapshot_variable_set(
    tx: &Connection,
    space: &str,
    project_id: &str,
    snapshot_no: u64,
) -> ApiResult<String> {
    let source = VariableSet::id_for_owner(project_id);
    let mut set = load(tx, space, &source)?.ok_or_else(|| not_found(&source))?;
    let id = loop {
        let id = format!(
            "{source}-s-{snapshot_no}-{}",
            super::releases::snapshot_suffix()
        );
        if !documents::exists(tx, KIND, space, &id)? {
            break id;
        }
    };
    set.id = Some(id.clone());
    set.space_id = Some(space.to_owned());
    set.owner_id = project_id.to_owned();
    set.scope_values.clear();
    set.links.clear();
    documents::insert(tx, KIND, space, &id, None, &set)?;
    Ok(id)
}

/// `{Id, Name}` reference data.
fn id_name(id: &str, name: &str) -> Value {
    json!({"Id": id, "Name": name})
}

/// Reference data for the scopes of `set`: the space's environments, the owning
/// project's process actions and channels, and the roles and tenant tags in use.
fn scope_values(conn: &Connection, space: &str, set: &VariableSet) -> ApiResult<ScopeValues> {
    let mut out = ScopeValues::new();
    let all = documents::Filter {
        order_by: Some("$.SortOrder"),
        ..Default::default()
    };
    let (envs, _) =
        documents::list::<Environment>(conn, Environment::COLLECTION, space, &all, 0, i64::MAX)?;
    out.insert(
        "Environments".into(),
        envs.iter()
            .filter_map(|e| Some(id_name(e.id.as_deref()?, &e.name)))
            .collect(),
    );
    let mut roles = BTreeSet::new();
    let mut tags = BTreeSet::new();
    for v in &set.variables {
        roles.extend(v.scope.get("Role").into_iter().flatten().cloned());
        tags.extend(v.scope.get("TenantTag").into_iter().flatten().cloned());
    }
    let mut actions = Vec::new();
    let mut channels = Vec::new();
    let mut processes = Vec::new();
    let owner = set.owner_id.as_str();
    if owner.starts_with("Projects-") {
        let process_id = DeploymentProcess::id_for_project(owner);
        if let Some(p) = documents::get::<DeploymentProcess>(
            conn,
            DeploymentProcess::COLLECTION,
            space,
            &process_id,
        )? {
            for step in &p.steps {
                let targets = step.properties.get("Octopus.Action.TargetRoles");
                if let Some(t) = targets.and_then(|t| t.as_text()) {
                    roles.extend(
                        t.split(',')
                            .map(str::trim)
                            .filter(|r| !r.is_empty())
                            .map(str::to_owned),
                    );
                }
                for a in &step.actions {
                    if let Some(id) = &a.id {
                        actions.push(id_name(id, &a.name));
                    }
                }
            }
        }
        for c in super::releases::channels(conn, space, owner)? {
            if let Some(id) = &c.id {
                channels.push(id_name(id, &c.name));
            }
        }
        if let Some(project) = documents::get::<Project>(conn, Project::COLLECTION, space, owner)? {
            processes.push(json!({"Id": owner, "Name": project.name, "ProcessType": "Deployment"}));
        }
    }
    out.insert("Actions".into(), actions);
    out.insert("Channels".into(), channels);
    out.insert("Machines".into(), Vec::new());
    out.insert(
        "Roles".into(),
        roles.iter().map(|r| id_name(r, r)).collect(),
    );
    out.insert(
        "TenantTags".into(),
        tags.iter().map(|t| id_name(t, t)).collect(),
    );
    out.insert("Processes".into(), processes);
    Ok(out)
}

/// A stored set as answered: scope values, links, secrets removed.
fn answer(conn: &Connection, space: &str, mut set: VariableSet) -> ApiResult<VariableSet> {
    set.scope_values = scope_values(conn, space, &set)?;
    Ok(present(set, space))
}

async fn get_set(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(id): ItemId,
) -> ApiResult<Json<VariableSet>> {
    let set = st
        .store
        .read(move |c| {
            let set = load(c, &space, &id)?.ok_or_else(|| not_found(&id))?;
            answer(c, &space, set)
        })
        .await?;
    Ok(Json(set))
}

/// `GET /variables?ids=a,b`: the sets with those IDs, as a plain array (missing ones
/// left out); without `ids`, every set of the space.
async fn list_sets(
    State(st): State<AppState>,
    Scope(space): Scope,
    q: ListQuery,
) -> ApiResult<Json<Vec<VariableSet>>> {
    let ids = q.filter.ids.clone();
    let sets = st
        .store
        .read(move |c| {
            let sets = match ids {
                Some(ids) => {
                    let mut out = Vec::new();
                    for id in ids {
                        if let Some(s) = load(c, &space, &id)? {
                            out.push(s);
                        }
                    }
                    out
                }
                None => {
                    let all = documents::Filter::default();
                    documents::list::<VariableSet>(c, KIND, &space, &all, 0, i64::MAX)?.0
                }
            };
            sets.into_iter().map(|s| answer(c, &space, s)).collect()
        })
        .await?;
    Ok(Json(sets))
}

async fn put_set(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(id): ItemId,
    Body(raw): Body<Value>,
) -> ApiResult<Json<VariableSet>> {
    if !raw.is_object() {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        ));
    }
    let bytes = serde_json::to_vec(&raw).map_err(ApiError::internal)?;
    let incoming: VariableSet = parse_json(&bytes)?;
    super::unknown::check(&incoming)?;
    let set = st
        .store
        .write(move |tx| {
            let stored = replace(tx, &space, &id, incoming)?;
            answer(tx, &space, stored)
        })
        .await?;
    Ok(Json(set))
}

/// Validates and stores a whole set in the caller's transaction.
fn replace(tx: &Connection, space: &str, id: &str, mut set: VariableSet) -> ApiResult<VariableSet> {
    let existing = load(tx, space, id)?.ok_or_else(|| not_found(id))?;
    if VariableSet::is_snapshot_id(id) {
        return Err(ApiError::bad_request(FROZEN_MESSAGE));
    }
    let mut errors = Vec::new();
    if set.id.as_deref().is_some_and(|b| b != id) {
        errors.push(format!(
            "Id: The Id in the body does not match the URL ('{id}')."
        ));
    }
    if !set.owner_id.is_empty() && set.owner_id != existing.owner_id {
        errors.push(format!(
            "OwnerId: This variable set belongs to '{}'.",
            existing.owner_id
        ));
    }
    finish(errors)?;
    if set.version != existing.version {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: STALE_MESSAGE.into(),
            errors: vec![STALE_MESSAGE.into()],
        });
    }
    validate(tx, space, &mut set.variables)?;
    keep_secrets(&mut set.variables, &existing.variables);
    set.id = Some(id.to_owned());
    set.space_id = Some(space.to_owned());
    set.owner_id = existing.owner_id.clone();
    set.version = existing
        .version
        .checked_add(1)
        .ok_or_else(|| ApiError::internal("version overflow"))?;
    set.scope_values.clear();
    set.links.clear();
    if documents::exists(tx, KIND, space, id)? {
        documents::update(tx, KIND, space, id, None, &set)?;
    } else {
        documents::insert(tx, KIND, space, id, None, &set)?;
    }
    Ok(set)
}

/// Checks every variable and normalizes it: IDs assigned, `Type` defaulted and
/// agreeing with `IsSensitive`, empty scope kinds dropped.
fn validate(tx: &Connection, space: &str, vars: &mut [Variable]) -> ApiResult<()> {
    if vars.len() > MAX_VARIABLES {
        return Err(ApiError::validation(vec![format!(
            "Variables: A variable set may hold at most {MAX_VARIABLES} variables."
        )]));
    }
    let mut errors = Vec::new();
    let mut ids = HashSet::new();
    let mut duplicate_ids = false;
    for (i, v) in vars.iter_mut().enumerate() {
        let f = format!("Variables[{i}]");
        match v.id.as_deref() {
            None | Some("") => v.id = Some(new_guid()),
            Some(id) if check_id("Id", id).is_err() => {
                errors.push(format!("{f}.Id: not a valid ID."));
            }
            Some(id) => duplicate_ids |= !ids.insert(id.to_owned()),
        }
        check_name(&format!("{f}.Name"), &v.name, MAX_NAME, &mut errors);
        check_len(
            &format!("{f}.Description"),
            v.description.as_deref(),
            MAX_DESCRIPTION,
            &mut errors,
        );
        if v.r#type.is_empty() {
            v.r#type = "String".into();
        }
        if !VARIABLE_TYPES.contains(&v.r#type.as_str()) {
            errors.push(format!(
                "{f}.Type: '{}' is not a variable type; octopus-lite knows String and Sensitive (and keeps Octopus' {} as written).",
                v.r#type.chars().take(100).collect::<String>().escape_debug(),
                VARIABLE_TYPES[2..].join(", ")
            ));
        }
        // Older clients mark secrets with IsSensitive alone.
        if v.is_sensitive && v.r#type == "String" {
            v.r#type = "Sensitive".into();
        }
        v.is_sensitive = v.r#type == "Sensitive";
        check_scope(tx, space, &f, &mut v.scope, &mut errors)?;
        if v.prompt.as_ref().is_some_and(|p| !p.is_null())
            && v.scope.keys().any(|k| k != "Environment")
        {
            errors.push(format!(
                "{f}.Scope: Prompted variables cannot be scoped to anything except an environment."
            ));
        }
    }
    if duplicate_ids {
        errors.push("Variables: Variable ids must be unique.".into());
    }
    finish(errors)
}

fn check_scope(
    tx: &Connection,
    space: &str,
    f: &str,
    scope: &mut BTreeMap<String, Vec<String>>,
    errors: &mut Vec<String>,
) -> ApiResult<()> {
    scope.retain(|_, values| !values.is_empty());
    for (kind, values) in scope.iter_mut() {
        let field = format!("{f}.Scope.{kind}");
        if !SCOPE_KINDS.contains(&kind.as_str()) {
            errors.push(format!(
                "{f}.Scope: '{}' is not a scope; use {}.",
                kind.chars().take(100).collect::<String>().escape_debug(),
                SCOPE_KINDS.join(", ")
            ));
            continue;
        }
        values.sort();
        values.dedup();
        match kind.as_str() {
            "Environment" => check_refs::<Environment>(tx, space, &field, values, errors)?,
            // Names, not IDs: target roles (tags) and `TagSet/Tag`.
            "Role" | "TenantTag" => {
                for value in values.iter() {
                    check_name(&field, value, 200, errors);
                }
            }
            _ => {
                for value in values.iter() {
                    if check_id(&field, value).is_err() {
                        errors.push(format!(
                            "{field}: '{}' is not a valid ID.",
                            value.chars().take(100).collect::<String>().escape_debug()
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Octopus' write semantics of secrets: a sensitive variable sent with the `Id` of a
/// stored one and no value (null or empty) keeps the stored value.
fn keep_secrets(vars: &mut [Variable], existing: &[Variable]) {
    let stored: HashMap<&str, &Option<String>> = existing
        .iter()
        .filter_map(|v| Some((v.id.as_deref()?, &v.value)))
        .collect();
    for v in vars.iter_mut().filter(|v| v.is_secret()) {
        if v.value.as_deref().is_none_or(str::is_empty) {
            v.value =
                v.id.as_deref()
                    .and_then(|id| stored.get(id))
                    .and_then(|old| (*old).clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(id: Option<&str>, value: Option<&str>) -> Variable {
        Variable {
            id: id.map(str::to_owned),
            value: value.map(str::to_owned),
            ..Variable::sensitive("P", "")
        }
    }

    #[test]
    fn secrets_follow_the_variable_id() {
        let stored = [var(Some("a"), Some("old")), var(Some("b"), Some("old-b"))];
        let mut incoming = vec![
            var(Some("a"), None),        // same Id, null: kept
            var(Some("b"), Some("new")), // same Id, value: replaced
            var(None, Some("")),         // no Id, empty: none
            var(None, Some("set")),      // no Id, value: set
        ];
        keep_secrets(&mut incoming, &stored);
        let values: Vec<_> = incoming.iter().map(|v| v.value.as_deref()).collect();
        assert_eq!(values, [Some("old"), Some("new"), None, Some("set")]);
    }

    #[test]
    fn project_sets_are_told_from_snapshots() {
        assert_eq!(project_of("variableset-Projects-1"), Some("Projects-1"));
        assert_eq!(project_of("variableset-Projects-1-s-1-ABCDE"), None);
        assert_eq!(project_of("variableset-LibraryVariableSets-1"), None);
    }
}
