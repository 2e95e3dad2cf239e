//! `GET /api` (root document) and `GET /api/{spaceId}` (space home).

use axum::Json;
use axum::extract::State;
use octopus_client::model::{Links, RootDocument};
use serde_json::json;

use super::AppState;
use super::extract::Scope;
use crate::error::ApiResult;

/// The Octopus Server version the root document reports (`Version`). Octopus' own
/// clients gate features on it: `@octopusdeploy/api-client` refuses its executions
/// API below `2022.3.5512`, so the crate's `0.1.0` would not do. octopus-lite
/// answers as the Octopus release whose API it follows.
pub const VERSION: &str = "2024.1.0";

/// octopus-lite's own version (the crate's), reported as `OctopusLiteVersion`.
pub const LITE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Names in `GET /api/capabilities`: the Octopus request names octopus-lite serves.
pub const CAPABILITIES: &[&str] = &["GetAllSpacesRequest"];

const SCOPED: &[(&str, &str)] = &[
    (
        "Environments",
        "environments{/id}{?skip,take,ids,partialName,name}",
    ),
    (
        "ProjectGroups",
        "projectgroups{/id}{?skip,take,ids,partialName,name}",
    ),
    (
        "Lifecycles",
        "lifecycles{/id}{?skip,take,ids,partialName,name}",
    ),
    (
        "Projects",
        "projects{/id}{?name,skip,ids,take,partialName,clonedFromProjectId}",
    ),
    (
        "DeploymentProcesses",
        "deploymentprocesses{/id}{?skip,take,ids}",
    ),
    ("Variables", "variables{/id}{?ids}"),
    (
        "Feeds",
        "feeds{/id}{?skip,take,ids,partialName,feedType,name}",
    ),
    (
        "Packages",
        "packages{/id}{?nuGetPackageId,packageId,filter,latest,skip,take}",
    ),
    // Clients tell `overwriteMode` support from this template (Octopus 2019.7+).
    ("PackageUpload", "packages/raw{?replace,overwriteMode}"),
    // PUT only: the environment IDs in their new order.
    ("EnvironmentSortOrder", "environments/sortorder"),
    (
        "Releases",
        "releases{/id}{?skip,ignoreChannelRules,take,ids}",
    ),
    ("CreateReleaseCommandV1", "releases/create/v1"),
    (
        "Deployments",
        "deployments{/id}{?skip,take,ids,projects,environments,channels}",
    ),
    (
        "CreateDeploymentUntenantedCommandV1",
        "deployments/create/untenanted/v1",
    ),
    (
        "Tasks",
        "tasks{/id}{?skip,active,environment,project,name,states,take,ids,partialName}",
    ),
    ("Channels", "channels{/id}{?skip,take,ids,partialName}"),
];

/// `GET /api`.
pub async fn root(State(st): State<AppState>) -> Json<RootDocument> {
    let mut links = Links::new();
    links.insert("Self".into(), "/api".into());
    links.insert(
        "Spaces".into(),
        "/api/spaces{/id}{?skip,ids,take,partialName}".into(),
    );
    links.insert("SpaceHome".into(), "/api/{spaceId}".into());

    // Our extension: step packages are server-wide.
    links.insert("StepPackages".into(), "/api/steppackages{/id}".into());
    links.insert(
        "StepPackageUsages".into(),
        "/api/steppackages/usages".into(),
    );
    for (name, tail) in SCOPED {
        links.insert((*name).into(), format!("/api/{{spaceId}}/{tail}"));
    }
    // Tasks are addressed without a space too (deployments link `/api/tasks/{id}`).
    links.insert(
        "Tasks".into(),
        "/api/tasks{/id}{?skip,active,environment,project,name,states,take,ids,partialName,spaces}"
            .into(),
    );
    let mut doc = RootDocument {
        application: "Octopus Deploy".into(),
        version: VERSION.into(),
        api_version: "3.0.0".into(),
        installation_id: None,
        links,
        extra: Default::default(),
    };
    doc.extra.insert("ServerName".into(), json!("octopus-lite"));
    doc.extra
        .insert("OctopusLiteVersion".into(), json!(LITE_VERSION));
    doc.extra
        .insert("DefaultSpaceId".into(), json!(st.default_space()));
    Json(doc)
}

/// `GET /api/{spaceId}`: links of one space.
pub async fn space_home(scope: Scope) -> ApiResult<Json<serde_json::Value>> {
    let space = scope.0;
    let mut links = Links::new();
    links.insert("Self".into(), format!("/api/{space}"));
    for (name, tail) in SCOPED {
        links.insert((*name).into(), format!("/api/{space}/{tail}"));
    }
    Ok(Json(json!({ "Id": space, "Links": links })))
}

/// `GET /api/capabilities`: `{"Capabilities": [...]}`, the request names served, as
/// Octopus (2022.3+) answers it; clients check a name before using a feature.
pub async fn capabilities() -> Json<serde_json::Value> {
    Json(json!({ "Capabilities": CAPABILITIES }))
}
