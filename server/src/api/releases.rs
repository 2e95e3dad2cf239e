//! Releases and channels: `POST /releases` and `/releases/create/v1`, lists by
//! space and project, the process template clients follow, progression, delete.
//!
//! Creating a release freezes what it will deploy: a snapshot of the process
//! (`deploymentprocess-<Project>-s-<n>-<XXXXX>`), a snapshot of the project's
//! variables (`variableset-<Project>-s-<n>-<XXXXX>`) and a version for every
//! package reference. Later edits of the process or variables do not change it.

use std::collections::HashSet;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use octopus_client::model::{
    Channel, CreateReleaseCommandV1, CreateReleaseResponseV1, Deployment, DeploymentProcess,
    Environment, Lifecycle, Links, Project, Release, ReleaseTemplate, ReleaseTemplatePackage,
    Resource, ResourceCollection, SelectedPackage, ServerTask, TaskState, VariableSet,
};
use octopus_packaging::version::Version;
use rusqlite::Connection;
use serde_json::{Value, json};

use super::AppState;
use super::crud::{self, Served, page, present};
use super::extract::{Body, ItemId, ListQuery, Scope, parse_json};
use crate::error::{ApiError, ApiResult};
use crate::progression;
use crate::store::documents::{self, Filter};
use crate::util::now_iso8601;
use octopus_client::model::feed::BUILT_IN_FEED_ID as BUILTIN_FEED;

/// Release routes (space-scoped and default-space forms).
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    let mut r = r;
    for p in ["/api", "/api/{space_id}"] {
        r = r
            .route(&format!("{p}/releases"), get(list).post(create))
            .route(&format!("{p}/releases/create/v1"), post(create_v1))
            .route(
                &format!("{p}/releases/{{id}}"),
                get(crud::get_one::<Release>).delete(delete_release),
            )
            .route(
                &format!("{p}/releases/{{id}}/progression"),
                get(progression_of),
            )
            .route(
                &format!("{p}/projects/{{id}}/releases"),
                get(list_by_project),
            )
            .route(
                &format!("{p}/projects/{{id}}/releases/{{version}}"),
                get(by_version),
            )
            .route(
                &format!("{p}/projects/{{id}}/deploymentprocesses/template"),
                get(template),
            )
            .route(
                &format!("{p}/deploymentprocesses/{{id}}/template"),
                get(template_by_process),
            )
            .route(&format!("{p}/projects/{{id}}/channels"), get(channels_of))
            .route(&format!("{p}/channels"), get(crud::list::<Channel>))
            .route(
                &format!("{p}/channels/{{id}}"),
                get(crud::get_one::<Channel>),
            );
    }
    r
}

/// Marker of snapshot IDs.
pub const SNAPSHOT_MARK: &str = "-s-";

/// The default template of release versions.
pub const DEFAULT_VERSION_TEMPLATE: &str =
    "#{Octopus.Version.LastMajor}.#{Octopus.Version.LastMinor}.#{Octopus.Version.NextPatch}";

/// Releases are served by the generic read path, with Octopus's links.
impl Served for Release {
    const ITEM_TYPE: &'static str = "Release";

    fn links(&mut self) -> &mut Links {
        &mut self.links
    }
    fn extra_links(&self, space: &str, l: &mut Links) {
        let id = self.id.clone().unwrap_or_default();
        let mut add = |name: &str, link: String| {
            l.insert(name.into(), link);
        };
        add(
            "Project",
            format!("/api/{space}/projects/{}", self.project_id),
        );
        add(
            "Channel",
            format!("/api/{space}/channels/{}", self.channel_id),
        );
        add(
            "Progression",
            format!("/api/{space}/releases/{id}/progression"),
        );
        add(
            "Deployments",
            format!("/api/{space}/releases/{id}/deployments{{?skip,take}}"),
        );
        if let Some(s) = &self.project_variable_set_snapshot_id {
            add(
                "ProjectVariableSnapshot",
                format!("/api/{space}/variables/{s}"),
            );
        }
        if let Some(s) = &self.project_deployment_process_snapshot_id {
            add(
                "ProjectDeploymentProcessSnapshot",
                format!("/api/{space}/deploymentprocesses/{s}"),
            );
        }
        add("Web", format!("/app#/{space}/releases/{id}"));
    }
}

/// Channels too.
impl Served for Channel {
    const ITEM_TYPE: &'static str = "Channel";

    fn links(&mut self) -> &mut Links {
        &mut self.links
    }
    fn extra_links(&self, space: &str, l: &mut Links) {
        let id = self.id.clone().unwrap_or_default();
        l.insert(
            "Project".into(),
            format!("/api/{space}/projects/{}", self.project_id),
        );
        l.insert(
            "Releases".into(),
            format!("/api/{space}/channels/{id}/releases{{?skip,take,searchByVersion}}"),
        );
    }
}

/// Creates a project's `Default` channel (in the project's creating transaction).
pub fn create_default_channel(
    tx: &Connection,
    space: &str,
    project_id: &str,
) -> ApiResult<Channel> {
    let id = documents::next_id(tx, "Channels")?;
    let channel = Channel {
        id: Some(id.clone()),
        space_id: Some(space.to_owned()),
        project_id: project_id.to_owned(),
        name: "Default".into(),
        slug: "default".into(),
        description: Some(String::new()),
        lifecycle_id: None,
        is_default: true,
        ..Default::default()
    };
    documents::insert(tx, Channel::COLLECTION, space, &id, None, &channel)?;
    Ok(channel)
}

/// The channels of a project, the default first.
pub fn channels(conn: &Connection, space: &str, project_id: &str) -> ApiResult<Vec<Channel>> {
    let f = Filter {
        json_equals: vec![("$.ProjectId".into(), project_id.into())],
        ..Default::default()
    };
    let mut all = documents::list::<Channel>(conn, Channel::COLLECTION, space, &f, 0, i64::MAX)?.0;
    all.sort_by_key(|c| !c.is_default);
    Ok(all)
}

/// Deletes what belongs to a project besides its process and variables (the variable
/// snapshots go with the variables, which share their owner): channels, releases with
/// their process snapshots, deployments (tasks and their logs stay).
pub fn delete_project_history(tx: &Connection, space: &str, project_id: &str) -> ApiResult<()> {
    for kind in [
        Channel::COLLECTION,
        Release::COLLECTION,
        Deployment::COLLECTION,
    ] {
        tx.execute(
            "DELETE FROM documents WHERE kind = ?1 AND space_id = ?2 AND json_extract(body, '$.ProjectId') = ?3",
            rusqlite::params![kind, space, project_id],
        )?;
    }
    tx.execute(
        "DELETE FROM documents WHERE kind = ?1 AND space_id = ?2 AND substr(id, 1, length(?3)) = ?3",
        rusqlite::params![
            DeploymentProcess::COLLECTION,
            space,
            format!("deploymentprocess-{project_id}{SNAPSHOT_MARK}")
        ],
    )?;
    Ok(())
}

/// A project by ID or (case-insensitive) name.
pub fn find_project(conn: &Connection, space: &str, id_or_name: &str) -> ApiResult<Project> {
    if let Some(p) = documents::get::<Project>(conn, Project::COLLECTION, space, id_or_name)? {
        return Ok(p);
    }
    if let Some(id) = documents::id_by_name(conn, Project::COLLECTION, space, id_or_name)?
        && let Some(p) = documents::get::<Project>(conn, Project::COLLECTION, space, &id)?
    {
        return Ok(p);
    }
    Err(ApiError::not_found("project", id_or_name))
}

/// Releases of a project, newest first.
pub fn releases_of(conn: &Connection, space: &str, project_id: &str) -> ApiResult<Vec<Release>> {
    let f = Filter {
        json_equals: vec![("$.ProjectId".into(), project_id.into())],
        newest_first: true,
        ..Default::default()
    };
    Ok(documents::list::<Release>(conn, Release::COLLECTION, space, &f, 0, i64::MAX)?.0)
}

/// Octopus's release-number rule: 1 to 4 numeric parts and an optional pre-release.
fn check_release_version(v: &str) -> ApiResult<()> {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v.split('+').next().unwrap_or(v), None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = !parts.is_empty()
        && parts.len() <= 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()));
    let pre_ok = pre.is_none_or(|p| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.+".contains(&b))
    });
    if numeric && pre_ok && v.len() <= 349 {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "The release number '{}' does not appear to be a valid semantic version number. The version must consist of between 1 and 4 number only parts (separated by '.') before the optional pre-release part (after the '-'). e.g. 2, 2.1, 2.4.0.23, 2.4-beta and 1-beta.2",
        v.chars().take(100).collect::<String>()
    )))
}

/// The next version from the project's template and the newest release.
fn next_version(
    conn: &Connection,
    project: &Project,
    channel: &Channel,
    last: Option<&Release>,
) -> ApiResult<String> {
    let template = project
        .extra
        .get("VersioningStrategy")
        .and_then(|v| v.get("Template"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_VERSION_TEMPLATE)
        .to_owned();
    let _ = conn;
    let last_text = last
        .map(|r| r.version.clone())
        .unwrap_or_else(|| "0.0.0".into());
    let (core, suffix) = match last_text.split_once('-') {
        Some((c, s)) => (c.to_owned(), s.to_owned()),
        None => (last_text.clone(), String::new()),
    };
    let nums: Vec<u64> = core.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    let part = |i: usize| nums.get(i).copied().unwrap_or(0);
    let mut vars = octostache::Variables::new();
    for (i, name) in ["Major", "Minor", "Patch", "Build", "Revision"]
        .iter()
        .enumerate()
    {
        vars.set(format!("Octopus.Version.Last{name}"), part(i).to_string());
        vars.set(
            format!("Octopus.Version.Next{name}"),
            (part(i) + 1).to_string(),
        );
        vars.set(
            format!("Octopus.Version.Channel.Last{name}"),
            part(i).to_string(),
        );
        vars.set(
            format!("Octopus.Version.Channel.Next{name}"),
            (part(i) + 1).to_string(),
        );
    }
    vars.set("Octopus.Version.LastSuffix", &suffix);
    vars.set("Octopus.Version.NextSuffix", &suffix);
    vars.set("Octopus.Release.Channel.Name", &channel.name);
    vars.set("Octopus.Project.Name", &project.name);
    Ok(octostache::evaluate(&template, &vars))
}

/// Every package reference of a process: `(action, reference name, package ID, feed)`.
fn package_refs(p: &DeploymentProcess) -> Vec<(String, String, String, String)> {
    p.steps
        .iter()
        .flat_map(|s| &s.actions)
        .flat_map(|a| {
            a.packages.iter().map(|r| {
                (
                    a.name.clone(),
                    r.name.clone(),
                    r.package_id.clone(),
                    r.feed_id.clone(),
                )
            })
        })
        .collect()
}

/// The newest version of a package in the built-in feed (releases before pre-releases).
fn latest_version(conn: &Connection, space: &str, package_id: &str) -> ApiResult<Option<String>> {
    let rows = crate::packages::db::list(conn, space, Some(package_id), None)?;
    let mut versions: Vec<Version> = rows
        .iter()
        .filter(|r| r.package_id.eq_ignore_ascii_case(package_id))
        .filter_map(|r| r.parsed_version())
        .collect();
    versions.sort();
    let stable = versions.iter().rev().find(|v| !v.is_prerelease());
    Ok(stable.or(versions.last()).map(|v| v.to_original_string()))
}

/// Version overrides of the v1 command: `Action:Version`, `Action:Ref:Version`,
/// `PackageId:Version`, `*:Version`, `*:Ref:Version`.
fn override_for(
    overrides: &[String],
    action: &str,
    reference: &str,
    package_id: &str,
) -> Option<String> {
    let mut found = None;
    for o in overrides {
        let parts: Vec<&str> = o.split([':', '/', '=']).collect();
        let hit = match parts.as_slice() {
            [who, v] => (*who == "*"
                || who.eq_ignore_ascii_case(action)
                || who.eq_ignore_ascii_case(package_id))
            .then_some(*v),
            [who, r, v] => ((*who == "*"
                || who.eq_ignore_ascii_case(action)
                || who.eq_ignore_ascii_case(package_id))
                && r.eq_ignore_ascii_case(reference))
            .then_some(*v),
            _ => None,
        };
        if let Some(v) = hit {
            // Specific overrides beat `*`.
            if found.is_none() || !o.starts_with('*') {
                found = Some(v.to_owned());
            }
        }
    }
    found
}

/// What a new release is made from.
pub struct NewRelease {
    /// Project.
    pub project: Project,
    /// Channel ID or name; the default channel when empty.
    pub channel: String,
    /// Version; the template's when empty.
    pub version: String,
    /// Notes.
    pub notes: Option<String>,
    /// Explicit selections.
    pub selected: Vec<SelectedPackage>,
    /// Default version of every package.
    pub package_version: Option<String>,
    /// v1 overrides.
    pub overrides: Vec<String>,
    /// Answer the existing release when the version exists.
    pub ignore_if_exists: bool,
    /// Custom fields.
    pub custom_fields: std::collections::BTreeMap<String, String>,
}

/// Creates a release in the caller's transaction.
pub fn create_release(tx: &Connection, space: &str, new: NewRelease) -> ApiResult<(Release, bool)> {
    let project = new.project;
    let project_id = project.id.clone().unwrap_or_default();
    if project.is_disabled {
        return Err(ApiError::bad_request(
            "The project is disabled, so releases cannot be created",
        ));
    }
    let mut chans = channels(tx, space, &project_id)?;
    if chans.is_empty() {
        chans.push(create_default_channel(tx, space, &project_id)?);
    }
    let channel = if new.channel.is_empty() {
        chans
            .iter()
            .find(|c| c.is_default)
            .or(chans.first())
            .cloned()
    } else {
        chans
            .iter()
            .find(|c| {
                c.id.as_deref() == Some(new.channel.as_str())
                    || c.name.eq_ignore_ascii_case(&new.channel)
            })
            .cloned()
    }
    .ok_or_else(|| {
        ApiError::bad_request(format!(
            "The channel '{}' was not found in project '{}'.",
            new.channel, project.name
        ))
    })?;
    let existing = releases_of(tx, space, &project_id)?;
    let version = if new.version.trim().is_empty() {
        next_version(tx, &project, &channel, existing.first())?
    } else {
        new.version.trim().to_owned()
    };
    check_release_version(&version)?;
    if let Some(r) = existing
        .iter()
        .find(|r| r.version.eq_ignore_ascii_case(&version))
    {
        if new.ignore_if_exists {
            return Ok((r.clone(), false));
        }
        return Err(ApiError::bad_request(format!(
            "Release '{version}' already exists for this project. Please use a different version, or look at using a mask to auto-increment the number."
        )));
    }
    let process_id = DeploymentProcess::id_for_project(&project_id);
    let process: DeploymentProcess =
        documents::get(tx, DeploymentProcess::COLLECTION, space, &process_id)?
            .ok_or_else(|| ApiError::internal(format!("project {project_id} has no process")))?;
    // Package versions.
    let mut selected = Vec::new();
    let mut missing = Vec::new();
    for (action, reference, package_id, feed) in package_refs(&process) {
        let explicit = new
            .selected
            .iter()
            .find(|s| {
                s.action_name.eq_ignore_ascii_case(&action)
                    && s.package_reference_name.eq_ignore_ascii_case(&reference)
            })
            .map(|s| s.version.clone())
            .filter(|v| !v.is_empty());
        let version = match explicit
            .or_else(|| override_for(&new.overrides, &action, &reference, &package_id))
            .or_else(|| new.package_version.clone().filter(|v| !v.is_empty()))
        {
            Some(v) => Some(v),
            None if feed == BUILTIN_FEED => latest_version(tx, space, &package_id)?,
            None => None,
        };
        match version {
            Some(v) => selected.push(SelectedPackage {
                action_name: action,
                package_reference_name: reference,
                version: v,
            }),
            None => missing.push(format!("{action}: no version of package '{package_id}' was given or found in the built-in feed.")),
        }
    }
    if !missing.is_empty() {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: "A version must be specified for every included package.".into(),
            errors: missing,
        });
    }
    let id = documents::next_id(tx, "Releases")?;
    let n = id.rsplit('-').next().unwrap_or("0").to_owned();
    let suffix = snapshot_suffix();
    // The process snapshot.
    let process_snapshot = format!("deploymentprocess-{project_id}{SNAPSHOT_MARK}{n}-{suffix}");
    let mut snap = process.clone();
    snap.id = Some(process_snapshot.clone());
    documents::insert(
        tx,
        DeploymentProcess::COLLECTION,
        space,
        &process_snapshot,
        None,
        &snap,
    )?;
    // The variable snapshot (the set of a project older than variable sets is empty).
    let snapshot_no: u64 = n.parse().unwrap_or(0);
    let variable_snapshot = crate::api::snapshot_variable_set(tx, space, &project_id, snapshot_no)?;
    let release = Release {
        id: Some(id.clone()),
        space_id: Some(space.to_owned()),
        project_id: project_id.clone(),
        channel_id: channel.id.clone().unwrap_or_default(),
        version,
        release_notes: new.notes,
        assembled: Some(now_iso8601()),
        project_deployment_process_snapshot_id: Some(process_snapshot),
        project_variable_set_snapshot_id: Some(variable_snapshot),
        library_variable_set_snapshot_ids: Vec::new(),
        selected_packages: selected,
        custom_fields: new.custom_fields,
        ..Default::default()
    };
    documents::insert(tx, Release::COLLECTION, space, &id, None, &release)?;
    Ok((release, true))
}

/// Five random capital letters, the tail of a snapshot ID (`…-s-3-QXLYZ`).
pub fn snapshot_suffix() -> String {
    crate::util::random_bytes::<5>()
        .iter()
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

async fn create(
    State(st): State<AppState>,
    Scope(space): Scope,
    Body(raw): Body<Value>,
) -> ApiResult<Response> {
    let bytes = serde_json::to_vec(&raw).map_err(ApiError::internal)?;
    let body: Release = parse_json(&bytes)?;
    if body.project_id.trim().is_empty() {
        return Err(ApiError::bad_request("No project ID was specified."));
    }
    let sp = space.clone();
    let (release, _) = st
        .store
        .write(move |tx| {
            let project =
                documents::get::<Project>(tx, Project::COLLECTION, &sp, body.project_id.trim())?
                    .ok_or_else(|| ApiError::not_found("project", &body.project_id))?;
            create_release(
                tx,
                &sp,
                NewRelease {
                    project,
                    channel: body.channel_id.clone(),
                    version: body.version.clone(),
                    notes: body.release_notes.clone(),
                    selected: body.selected_packages.clone(),
                    package_version: None,
                    overrides: Vec::new(),
                    ignore_if_exists: false,
                    custom_fields: body.custom_fields.clone(),
                },
            )
        })
        .await?;
    Ok((StatusCode::CREATED, Json(present(release, &space))).into_response())
}

/// Maps the keys of a command body to the names `names` spells, case-insensitively
/// (Go sends camelCase, the TypeScript client PascalCase); other keys are dropped.
pub fn canonical_keys(raw: Value, names: &[&str]) -> Value {
    let Value::Object(m) = raw else { return raw };
    let mut out = serde_json::Map::new();
    for (k, v) in m {
        if let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(&k)) {
            out.insert((*n).to_owned(), v);
        }
    }
    Value::Object(out)
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
            "PackageVersion",
            "Packages",
            "ReleaseVersion",
            "ChannelName",
            "ReleaseNotes",
            "IgnoreIfAlreadyExists",
            "IgnoreChannelRules",
            "CustomFields",
        ],
    );
    let bytes = serde_json::to_vec(&raw).map_err(ApiError::internal)?;
    let cmd: CreateReleaseCommandV1 = parse_json(&bytes)?;
    if cmd.project_name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "ProjectName: The ProjectName field is required.",
        ));
    }
    let sp = space.clone();
    let (release, _) = st
        .store
        .write(move |tx| {
            let project = find_project(tx, &sp, cmd.project_name.trim())?;
            create_release(
                tx,
                &sp,
                NewRelease {
                    project,
                    channel: cmd.channel_name.clone().unwrap_or_default(),
                    version: cmd.release_version.clone().unwrap_or_default(),
                    notes: cmd.release_notes.clone(),
                    selected: Vec::new(),
                    package_version: cmd.package_version.clone(),
                    overrides: cmd.packages.clone(),
                    ignore_if_exists: cmd.ignore_if_already_exists,
                    custom_fields: cmd.custom_fields.clone(),
                },
            )
        })
        .await?;
    let answer = CreateReleaseResponseV1 {
        release_id: release.id.clone().unwrap_or_default(),
        release_version: release.version.clone(),
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn list(
    State(st): State<AppState>,
    Scope(space): Scope,
    mut q: ListQuery,
) -> ApiResult<Json<ResourceCollection<Release>>> {
    q.filter.newest_first = true;
    q.filter.name = None;
    let (filter, skip, take, sp) = (q.filter.clone(), q.skip, q.take, space.clone());
    let (items, total) = st
        .store
        .read(move |c| documents::list::<Release>(c, Release::COLLECTION, &sp, &filter, skip, take))
        .await?;
    let items = items.into_iter().map(|r| present(r, &space)).collect();
    Ok(Json(page(
        items,
        total,
        &q,
        &format!("/api/{space}/releases"),
        "Release",
        "{/id}{?skip,take,ids}",
    )))
}

async fn list_by_project(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(project): ItemId,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<Release>>> {
    let sp = space.clone();
    let search = q
        .raw
        .iter()
        .find(|(k, _)| k == "searchbyversion")
        .map(|(_, v)| v.to_lowercase());
    let all = st
        .store
        .read(move |c| {
            let p = find_project(c, &sp, &project)?;
            releases_of(c, &sp, p.id.as_deref().unwrap_or_default())
        })
        .await?;
    let all: Vec<Release> = all
        .into_iter()
        .filter(|r| {
            search
                .as_ref()
                .is_none_or(|s| r.version.to_lowercase().contains(s))
        })
        .map(|r| present(r, &space))
        .collect();
    Ok(Json(super::crud::page_of(
        all,
        &q,
        &format!("/api/{space}/releases"),
        "Release",
        "{/version}{?skip,take,searchByVersion}",
    )))
}

async fn by_version(
    State(st): State<AppState>,
    Scope(space): Scope,
    axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>>,
) -> ApiResult<Json<Release>> {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (project, version) = (get("id"), get("version"));
    let sp = space.clone();
    let v = version.clone();
    let found = st
        .store
        .read(move |c| {
            let p = find_project(c, &sp, &project)?;
            Ok(releases_of(c, &sp, p.id.as_deref().unwrap_or_default())?
                .into_iter()
                .find(|r| r.version.eq_ignore_ascii_case(&v)))
        })
        .await?;
    found
        .map(|r| Json(present(r, &space)))
        .ok_or_else(|| ApiError::not_found("release", &version))
}

async fn delete_release(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(id): ItemId,
) -> ApiResult<StatusCode> {
    let sp = space.clone();
    st.store
        .write(move |tx| {
            let r: Release = documents::get(tx, Release::COLLECTION, &sp, &id)?.ok_or_else(|| ApiError::not_found("release", &id))?;
            let running = deployments_of(tx, &sp, &id)?
                .into_iter()
                .filter_map(|(_, t)| t)
                .any(|t| !t.state.is_completed());
            if running {
                return Err(ApiError::bad_request("The release has deployments in progress; cancel them or wait for them to finish before deleting it."));
            }
            tx.execute(
                "DELETE FROM documents WHERE kind = ?1 AND space_id = ?2 AND json_extract(body, '$.ReleaseId') = ?3",
                rusqlite::params![Deployment::COLLECTION, sp, id],
            )?;
            for (kind, snap) in [
                (DeploymentProcess::COLLECTION, r.project_deployment_process_snapshot_id.clone()),
                (VariableSet::COLLECTION, r.project_variable_set_snapshot_id.clone()),
            ] {
                if let Some(s) = snap {
                    documents::delete(tx, kind, &sp, &s)?;
                }
            }
            documents::delete(tx, Release::COLLECTION, &sp, &id)?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::OK)
}

/// Environment names of a space by ID.
pub fn environment_names(
    conn: &Connection,
    space: &str,
) -> ApiResult<std::collections::HashMap<String, String>> {
    let all = Filter::default();
    let envs =
        documents::list::<Environment>(conn, Environment::COLLECTION, space, &all, 0, i64::MAX)?.0;
    Ok(envs
        .into_iter()
        .filter_map(|e| Some((e.id?, e.name)))
        .collect())
}

/// Deployments of a release with their tasks, oldest first.
pub fn deployments_of(
    conn: &Connection,
    space: &str,
    release_id: &str,
) -> ApiResult<Vec<(Deployment, Option<ServerTask>)>> {
    let f = Filter {
        json_equals: vec![("$.ReleaseId".into(), release_id.into())],
        ..Default::default()
    };
    let ds = documents::list::<Deployment>(conn, Deployment::COLLECTION, space, &f, 0, i64::MAX)?.0;
    let mut tasks =
        crate::tasks::get_many(conn, ds.iter().filter_map(|d| d.task_id.clone()).collect())?;
    Ok(ds
        .into_iter()
        .map(|d| {
            let t = d.task_id.as_ref().and_then(|t| tasks.remove(t));
            (d, t)
        })
        .collect())
}

/// The lifecycle of a release (its channel's, else its project's) and the phases
/// it has reached.
pub fn release_phases(
    conn: &Connection,
    space: &str,
    release: &Release,
) -> ApiResult<(Lifecycle, Vec<progression::PhaseProgress>, HashSet<String>)> {
    let project = documents::get::<Project>(conn, Project::COLLECTION, space, &release.project_id)?
        .ok_or_else(|| ApiError::not_found("project", &release.project_id))?;
    let channel = documents::get::<Channel>(conn, Channel::COLLECTION, space, &release.channel_id)?;
    let lifecycle_id = channel
        .and_then(|c| c.lifecycle_id)
        .filter(|l| !l.is_empty())
        .unwrap_or(project.lifecycle_id.clone());
    let lifecycle: Lifecycle = documents::get(conn, Lifecycle::COLLECTION, space, &lifecycle_id)?
        .ok_or_else(|| ApiError::not_found("lifecycle", &lifecycle_id))?;
    let mut envs = documents::list::<Environment>(
        conn,
        Environment::COLLECTION,
        space,
        &Filter::default(),
        0,
        i64::MAX,
    )?
    .0;
    envs.sort_by_key(|e| e.sort_order);
    let succeeded: HashSet<String> =
        deployments_of(conn, space, release.id.as_deref().unwrap_or_default())?
            .into_iter()
            .filter(|(_, t)| t.as_ref().is_some_and(|t| t.state == TaskState::Success))
            .map(|(d, _)| d.environment_id)
            .collect();
    let phases = progression::phases(&lifecycle, &envs, &succeeded);
    Ok((lifecycle, phases, succeeded))
}

async fn progression_of(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(id): ItemId,
) -> ApiResult<Json<Value>> {
    let sp = space.clone();
    let v = st
        .store
        .read(move |c| {
            let r: Release = documents::get(c, Release::COLLECTION, &sp, &id)?.ok_or_else(|| ApiError::not_found("release", &id))?;
            let (_, phases, succeeded) = release_phases(c, &sp, &r)?;
            let next: Vec<String> = progression::deployable(&phases, &succeeded)
                .into_iter()
                .filter(|e| !succeeded.contains(e))
                .collect();
            let phases: Vec<Value> = phases
                .iter()
                .map(|p| {
                    json!({
                        "Id": null, "Name": p.name, "Blocked": false, "Progress": p.progress.as_str(),
                        "AutomaticDeploymentTargets": p.automatic,
                        "OptionalDeploymentTargets": p.environments,
                        "MinimumEnvironmentsBeforePromotion": p.required,
                        "IsOptionalPhase": p.optional, "Deployments": [],
                    })
                })
                .collect();
            Ok(json!({"Phases": phases, "NextDeployments": next, "NextDeploymentsMinimumRequired": 1}))
        })
        .await?;
    Ok(Json(v))
}

fn template_of(conn: &Connection, space: &str, project: &Project) -> ApiResult<ReleaseTemplate> {
    let project_id = project.id.clone().unwrap_or_default();
    let process_id = DeploymentProcess::id_for_project(&project_id);
    let process: DeploymentProcess =
        documents::get(conn, DeploymentProcess::COLLECTION, space, &process_id)?
            .ok_or_else(|| ApiError::not_found("deployment process", &process_id))?;
    let releases = releases_of(conn, space, &project_id)?;
    let last = releases.first();
    let chans = channels(conn, space, &project_id)?;
    let channel = chans.first().cloned().unwrap_or_default();
    let mut packages = Vec::new();
    for (action, reference, package_id, feed) in package_refs(&process) {
        let last_pick = last.and_then(|r| {
            r.selected_packages
                .iter()
                .find(|s| s.action_name == action && s.package_reference_name == reference)
                .map(|s| s.version.clone())
        });
        packages.push(ReleaseTemplatePackage {
            step_name: action.clone(),
            action_name: action,
            package_reference_name: reference,
            is_resolvable: !package_id.contains("#{") && feed == BUILTIN_FEED,
            package_id,
            feed_name: if feed == BUILTIN_FEED {
                "Octopus Server (built-in)".into()
            } else {
                feed.clone()
            },
            feed_id: feed,
            project_name: project.name.clone(),
            version_selected_last_release: last_pick,
        });
    }
    Ok(ReleaseTemplate {
        deployment_process_id: process_id,
        last_release_version: last.map(|r| r.version.clone()),
        next_version_increment: next_version(conn, project, &channel, last)?,
        versioning_package_step_name: None,
        versioning_package_reference_name: None,
        packages,
        git_resources: Vec::new(),
    })
}

async fn template(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(project): ItemId,
) -> ApiResult<Json<ReleaseTemplate>> {
    let t = st
        .store
        .read(move |c| {
            let p = find_project(c, &space, &project)?;
            template_of(c, &space, &p)
        })
        .await?;
    Ok(Json(t))
}

async fn template_by_process(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(process): ItemId,
) -> ApiResult<Json<ReleaseTemplate>> {
    let t = st
        .store
        .read(move |c| {
            let p: DeploymentProcess =
                documents::get(c, DeploymentProcess::COLLECTION, &space, &process)?
                    .ok_or_else(|| ApiError::not_found("deployment process", &process))?;
            let project = find_project(c, &space, &p.project_id)?;
            template_of(c, &space, &project)
        })
        .await?;
    Ok(Json(t))
}

async fn channels_of(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(project): ItemId,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<Channel>>> {
    let sp = space.clone();
    let all = st
        .store
        .read(move |c| {
            let p = find_project(c, &sp, &project)?;
            channels(c, &sp, p.id.as_deref().unwrap_or_default())
        })
        .await?;
    let all = all.into_iter().map(|c| present(c, &space)).collect();
    Ok(Json(super::crud::page_of(
        all,
        &q,
        &format!("/api/{space}/channels"),
        "Channel",
        "{/id}{?skip,take,partialName}",
    )))
}
