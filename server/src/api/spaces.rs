//! Spaces: creating one seeds its defaults; the default space is unique.

use octopus_client::model::feed::BUILT_IN_FEED_ID;
use octopus_client::model::{Feed, FeedType, Lifecycle, Links, ProjectGroup, Space};
use rusqlite::Connection;

use super::crud::{ApiResource, create_tx};
use super::resources::{check_common, finish, normalize_slug};
use crate::error::{ApiError, ApiResult};
use crate::store::documents::{self, Filter, NO_SPACE};

/// Name of the space created on first start.
pub const DEFAULT_SPACE_NAME: &str = "Default";

impl ApiResource for Space {
    const ID_PREFIX: &'static str = "Spaces";
    const ITEM_TYPE: &'static str = "Space";
    const MAX_NAME: usize = 50;

    fn prepare(&mut self, tx: &Connection, _space: &str, existing: Option<&Self>) -> ApiResult<()> {
        self.name = self.name.trim().to_owned();
        let mut errors = check_common(&self.name, Self::MAX_NAME, self.description.as_deref());
        normalize_slug(&mut self.slug, &self.name, self.id.as_deref(), &mut errors);
        finish(errors)?;
        let own = self.id.clone().unwrap_or_default();
        match (existing.map(|e| e.is_default), self.is_default) {
            (Some(true), false) => {
                return Err(ApiError::validation(vec![
                    "IsDefault: The default space cannot be unset; make another space the default instead.".into(),
                ]));
            }
            (_, true) => {
                // Only one default space: demote the others.
                let all: Vec<Space> = documents::list(
                    tx,
                    Self::COLLECTION,
                    NO_SPACE,
                    &Filter::default(),
                    0,
                    i64::MAX,
                )?
                .0;
                for mut other in all
                    .into_iter()
                    .filter(|s| s.is_default && s.id.as_deref() != Some(&own))
                {
                    other.is_default = false;
                    let id = other.id.clone().unwrap_or_default();
                    documents::update(
                        tx,
                        Self::COLLECTION,
                        NO_SPACE,
                        &id,
                        Some(&other.name),
                        &other,
                    )?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    fn after_create(&self, tx: &Connection, _space: &str) -> ApiResult<()> {
        seed_space(tx, self.id.as_deref().unwrap_or_default())
    }
    fn before_delete(&self, tx: &Connection, _space: &str) -> ApiResult<()> {
        if self.is_default {
            return Err(ApiError::bad_request(
                "The default space cannot be deleted.",
            ));
        }
        if !self.task_queue_stopped {
            return Err(ApiError::bad_request(
                "The space's task queue must be stopped before it can be deleted (set TaskQueueStopped to true).",
            ));
        }
        let id = self.id.as_deref().unwrap_or_default();
        crate::tasks::delete_space_tasks(tx, id)?;
        documents::delete_space_contents(tx, id)
    }
    /// The space's package rows and tasks went with it; their files go now.
    fn after_delete(&self, state: &super::State) {
        let Some(id) = self.id.as_deref() else { return };
        if state.data_dir.as_os_str().is_empty() {
            return;
        }
        if let Err(e) = crate::packages::remove_space_files(&state.data_dir, id) {
            // The delete stands; the start-up sweep removes what is left.
            eprintln!("octopus-lite: could not remove the package files of {id}: {e}");
        }
        if let Err(e) = crate::tasks::sweep_logs(&state.store, &state.data_dir) {
            eprintln!("octopus-lite: could not remove task logs: {}", e.message);
        }
    }
    fn extra_links(&self, _space: &str, links: &mut Links) {
        if let Some(id) = &self.id {
            links.insert("SpaceHome".into(), format!("/api/{id}"));
        }
    }
}

/// Creates what every space has: the default project group and lifecycle and
/// the built-in feed.
pub fn seed_space(tx: &Connection, space: &str) -> ApiResult<()> {
    let mut group = ProjectGroup::new("Default Project Group");
    group.description = Some("The default project group".into());
    create_tx(tx, space, group, None)?;
    let mut lifecycle = Lifecycle::new("Default Lifecycle");
    lifecycle.description = Some(
        "The default lifecycle: one phase per environment, in the environments' order.".into(),
    );
    create_tx(tx, space, lifecycle, None)?;
    let mut feed = Feed::new("Octopus Server (built-in)", FeedType::BuiltIn, None);
    feed.is_built_in_repo_sync_enabled = Some(false);
    create_tx(tx, space, feed, Some(BUILT_IN_FEED_ID))?;
    Ok(())
}

/// Creates the default space if the store has no space at all (first start).
pub fn ensure_default_space(tx: &Connection) -> ApiResult<()> {
    let any = documents::first_id(tx, Space::COLLECTION, NO_SPACE)?;
    if any.is_none() {
        let mut space = Space::new(DEFAULT_SPACE_NAME);
        space.is_default = true;
        space.description = Some("The default space".into());
        create_tx(tx, NO_SPACE, space, None)?;
    }
    Ok(())
}

use octopus_client::model::Resource as _;
