//! Octopus' newer environment routes, beside the generic CRUD ones:
//!
//! | Route | |
//! |---|---|
//! | `GET …/environments/v2{?ids,partialName,type,skip,take}` | `DeploymentEnvironmentV2` items: the environment plus `"Type": "Static"` |
//! | `PUT …/environments/sortorder` | body: environment IDs in their new order |
//!
//! Both are registered before `…/environments/{id}` matches them (static segments
//! win), so `v2` and `sortorder` are never taken for IDs.

use std::collections::HashSet;

use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use octopus_client::model::{Environment, Resource, ResourceCollection};
use serde_json::Value;

use super::AppState;
use super::crud::{ApiResource, page, present};
use super::extract::{Body, ListQuery, Scope};
use crate::error::{ApiError, ApiResult};
use crate::store::documents;
use crate::util::check_id;

/// `Type` of every octopus-lite environment (no parent or ephemeral environments).
pub const STATIC_TYPE: &str = "Static";

/// Octopus' environment types, for the `type` filter.
const TYPES: &[&str] = &["Static", "Parent", "Ephemeral"];

/// Registers the routes, space-scoped and for the default space.
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    let mut r = r;
    for prefix in ["/api/{space_id}/environments", "/api/environments"] {
        r = r
            .route(&format!("{prefix}/v2"), get(list_v2))
            .route(&format!("{prefix}/sortorder"), put(sort_order));
    }
    r
}

/// `GET …/environments/v2`: the environments as `DeploymentEnvironmentV2`, in sort
/// order; `type=Static` lists them all, `Parent` and `Ephemeral` none.
async fn list_v2(
    State(st): State<AppState>,
    scope: Scope,
    mut q: ListQuery,
) -> ApiResult<Json<ResourceCollection<Value>>> {
    let wanted = q
        .raw
        .iter()
        .find(|(k, v)| k == "type" && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_owned());
    let none = match wanted.as_deref() {
        None => false,
        Some(t) => match TYPES.iter().find(|k| k.eq_ignore_ascii_case(t)) {
            Some(k) => *k != STATIC_TYPE,
            None => {
                return Err(ApiError::bad_request(format!(
                    "type: '{}' is not an environment type; use {}.",
                    t.chars().take(40).collect::<String>().escape_debug(),
                    TYPES.join(", ")
                )));
            }
        },
    };
    let space = scope.0;
    q.filter.order_by = <Environment as ApiResource>::ORDER_BY;
    let (filter, skip, take) = (q.filter.clone(), q.skip, q.take);
    let sp = space.clone();
    let (items, total) = if none {
        (Vec::new(), 0)
    } else {
        st.store
            .read(move |c| {
                documents::list::<Environment>(c, Environment::COLLECTION, &sp, &filter, skip, take)
            })
            .await?
    };
    let mut out = Vec::with_capacity(items.len());
    for env in items {
        let mut v = serde_json::to_value(present(env, &space)).map_err(ApiError::internal)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("Type".into(), Value::from(STATIC_TYPE));
        }
        out.push(v);
    }
    let base = format!("/api/{space}/environments/v2");
    Ok(Json(page(
        out,
        total,
        &q,
        &base,
        "Environment",
        "{?ids,partialName,type,skip,take}",
    )))
}

/// `PUT …/environments/sortorder` with `["Environments-2", "Environments-1", ...]`:
/// each listed environment gets its position as `SortOrder`; environments not listed
/// follow in their current order. Answers the complete new order.
async fn sort_order(
    State(st): State<AppState>,
    scope: Scope,
    Body(ids): Body<Vec<String>>,
) -> ApiResult<Json<Vec<String>>> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        if check_id("Id", id).is_err() {
            errors.push(format!("[{i}]: not a valid environment ID."));
        } else if !seen.insert(id.as_str()) {
            errors.push(format!("[{i}]: '{id}' is listed more than once."));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let space = scope.0;
    let order = st
        .store
        .write(move |tx| {
            let filter = documents::Filter {
                order_by: <Environment as ApiResource>::ORDER_BY,
                ..Default::default()
            };
            let all: Vec<Environment> =
                documents::list(tx, Environment::COLLECTION, &space, &filter, 0, i64::MAX)?.0;
            let mut errors = Vec::new();
            for id in &ids {
                if !all.iter().any(|e| e.id.as_deref() == Some(id.as_str())) {
                    errors.push(format!(
                        "The Environment '{id}' was not found in this space."
                    ));
                }
            }
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            let position = |e: &Environment| {
                let id = e.id.as_deref().unwrap_or_default();
                ids.iter().position(|x| x == id).unwrap_or(usize::MAX)
            };
            let mut sorted = all;
            // Stable: unlisted environments keep their relative order, after the listed.
            sorted.sort_by_key(|e| position(e));
            let mut order = Vec::with_capacity(sorted.len());
            for (i, mut env) in sorted.into_iter().enumerate() {
                let n = i32::try_from(i).unwrap_or(i32::MAX);
                let id = env.id.clone().unwrap_or_default();
                if env.sort_order != n {
                    env.sort_order = n;
                    documents::update(
                        tx,
                        Environment::COLLECTION,
                        &space,
                        &id,
                        Some(&env.name),
                        &env,
                    )?;
                }
                order.push(id);
            }
            Ok(order)
        })
        .await?;
    Ok(Json(order))
}
