//! HTTP API: routes, shared state, authentication and the generic handlers.

mod crud;
mod deployments;
mod environments;
mod extract;
mod feed_packages;
mod feeds;
mod json;
mod packages;
mod processes;
mod projects;
pub mod releases;
mod resources;
mod root;
mod spaces;
mod step_packages;
mod tasks;
mod unknown;
mod variables;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use octopus_client::model::{Environment, Feed, Lifecycle, Project, ProjectGroup, Space};

pub use crud::{ApiResource, Served, create_tx};
pub use processes::FROZEN_PROCESS;
pub use spaces::ensure_default_space as spaces_seed;
pub use unknown::{MAX_UNKNOWN_BYTES, MAX_UNKNOWN_FIELDS, UnknownFields};
pub use variables::{
    FROZEN_MESSAGE, SCOPE_KINDS, STALE_MESSAGE, VARIABLE_TYPES, load_variables_for_run,
    snapshot_variable_set,
};

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::store::Store;

/// Shared state of all handlers.
pub type AppState = Arc<State>;

/// What handlers share: the store, the API key and a cache of space IDs.
pub struct State {
    /// Durable storage.
    pub store: Store,
    /// The one accepted API key (also accepted as a bearer token).
    pub api_key: String,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Longest wait for a request body to arrive (slow clients get 408).
    pub body_timeout: std::time::Duration,
    /// Data directory; package files live in `packages/` below it.
    pub data_dir: std::path::PathBuf,
    /// Largest accepted package upload in bytes.
    pub max_package_bytes: u64,
    /// Step-package configuration (allow-list, archive directory).
    pub step_packages: crate::step_packages::StepPackages,
    /// Most uploads received at once ([`crate::limits`]).
    pub max_uploads: usize,
    /// One permit per upload being received.
    pub upload_slots: Arc<tokio::sync::Semaphore>,
    /// Longest time an upload's body may take to arrive.
    pub upload_deadline: std::time::Duration,
    /// The task queue (deployments).
    pub tasks: Arc<crate::tasks::queue::Queue>,
    /// Longest run time of one action.
    pub step_timeout: std::time::Duration,
    /// The user (uid, gid) steps run as; `None`: the server's.
    pub run_steps_as: Option<(u32, u32)>,
    spaces: RwLock<SpaceCache>,
    /// Serializes cache refreshes: each one reads the store and replaces the cache
    /// while holding it, so a refresh that read before a commit can never overwrite
    /// the cache after one that read later (which made new spaces 404).
    refresh: Mutex<()>,
}

#[derive(Default)]
struct SpaceCache {
    ids: HashSet<String>,
    default: Option<String>,
}

impl State {
    /// State over an opened store; loads the space cache.
    pub fn new(store: Store, api_key: String, max_body_bytes: usize) -> ApiResult<Self> {
        let state = Self {
            store,
            api_key,
            max_body_bytes,
            body_timeout: crate::DEFAULT_BODY_TIMEOUT,
            data_dir: std::path::PathBuf::new(),
            max_package_bytes: crate::packages::DEFAULT_MAX_PACKAGE_BYTES,
            step_packages: Default::default(),
            max_uploads: crate::limits::DEFAULT_MAX_UPLOADS,
            upload_slots: Arc::new(tokio::sync::Semaphore::new(
                crate::limits::DEFAULT_MAX_UPLOADS,
            )),
            upload_deadline: crate::limits::DEFAULT_UPLOAD_DEADLINE,
            tasks: Arc::new(crate::tasks::queue::Queue::new(
                crate::tasks::queue::DEFAULT_MAX_CONCURRENT,
            )),
            step_timeout: crate::DEFAULT_STEP_TIMEOUT,
            run_steps_as: None,
            spaces: RwLock::default(),
            refresh: Mutex::new(()),
        };
        state.refresh_spaces_blocking()?;
        Ok(state)
    }

    /// Sets the upload cap and deadline.
    pub fn set_upload_limits(&mut self, max_uploads: usize, deadline: std::time::Duration) {
        self.max_uploads = max_uploads.max(1);
        self.upload_slots = Arc::new(tokio::sync::Semaphore::new(self.max_uploads));
        self.upload_deadline = deadline;
    }

    /// Whether a space exists.
    pub fn space_exists(&self, id: &str) -> bool {
        self.spaces
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .ids
            .contains(id)
    }

    /// The default space's ID.
    pub fn default_space(&self) -> Option<String> {
        self.spaces
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .default
            .clone()
    }

    /// Reloads the space cache from the store (blocking).
    pub fn refresh_spaces_blocking(&self) -> ApiResult<()> {
        let _serialized = self.refresh.lock().unwrap_or_else(|e| e.into_inner());
        let spaces: Vec<Space> = self.store.read_blocking(|c| {
            let all = crate::store::documents::Filter::default();
            Ok(crate::store::documents::list(c, "spaces", "", &all, 0, i64::MAX)?.0)
        })?;
        let mut cache = SpaceCache::default();
        for s in spaces {
            let Some(id) = s.id else { continue };
            if s.is_default {
                cache.default = Some(id.clone());
            }
            cache.ids.insert(id);
        }
        *self.spaces.write().unwrap_or_else(|e| e.into_inner()) = cache;
        Ok(())
    }

    /// Reloads the space cache from the store.
    pub async fn refresh_spaces(self: &Arc<Self>) -> ApiResult<()> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.refresh_spaces_blocking())
            .await
            .map_err(ApiError::internal)?
    }
}

/// Registers list/create and get/update/delete routes of a resource,
/// both space-scoped and in the default-space form.
fn crud_routes<T: ApiResource>(router: Router<AppState>) -> Router<AppState> {
    let c = T::COLLECTION;
    let list = get(crud::list::<T>).post(crud::create::<T>);
    let item = get(crud::get_one::<T>)
        .put(crud::update::<T>)
        .delete(crud::delete::<T>);
    router
        .route(&format!("/api/{{space_id}}/{c}"), list.clone())
        .route(&format!("/api/{{space_id}}/{c}/{{id}}"), item.clone())
        .route(&format!("/api/{c}"), list)
        .route(&format!("/api/{c}/{{id}}"), item)
}

/// The complete API router.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new()
        .route("/api", get(root::root))
        .route("/api/", get(root::root))
        .route(
            "/api/spaces",
            get(crud::list::<Space>).post(crud::create::<Space>),
        )
        .route(
            "/api/spaces/{id}",
            get(crud::get_one::<Space>)
                .put(crud::update::<Space>)
                .delete(crud::delete::<Space>),
        )
        .route("/api/capabilities", get(root::capabilities))
        .route("/api/{space_id}", get(root::space_home));
    r = crud_routes::<Environment>(r);
    r = environments::routes(r);
    r = crud_routes::<ProjectGroup>(r);
    r = crud_routes::<Lifecycle>(r);
    r = crud_routes::<Project>(r);
    r = crud_routes::<Feed>(r);
    r = feed_packages::routes(r);
    r = processes::routes(r);
    r = variables::routes(r);
    r = packages::routes(r);
    r = step_packages::routes(r);
    r = releases::routes(r);
    r = deployments::routes(r);
    r = tasks::routes(r);
    let limit = state.max_body_bytes;
    r.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the key check: requests without a key never take an upload slot.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::guard_uploads,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_key,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "The resource you requested was not found.",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "This HTTP method is not supported on this resource.",
    )
}
