//! `octopus_space`.

use crate::Octopus;
use crate::errors::{api, field_of, not_found_as_none};
use crate::resources::{name_length, text};
use octopus_client::model::Space;
use tf_sdk::{Context, Diagnostics, Model, Resource, Val};

/// A space: an isolated set of projects, environments and feeds.
#[derive(Model, Clone, Debug)]
pub struct SpaceModel {
    /// The space ID, e.g. `Spaces-2`.
    #[tf(computed, use_state_for_unknown)]
    pub id: Val<String>,
    /// The space name, unique on the server.
    #[tf(required, validate = name_length)]
    pub name: Val<String>,
    /// URL-friendly name; derived from the name when not set.
    #[tf(optional, computed, use_state_for_unknown)]
    pub slug: Val<String>,
    /// Free-text description.
    #[tf(optional, computed, default = "")]
    pub description: Val<String>,
    /// Whether this is the server's default space. The provider never changes it.
    #[tf(computed, use_state_for_unknown)]
    pub is_default: Val<bool>,
    /// Whether the space's task queue is stopped.
    #[tf(optional, computed, default = false)]
    pub task_queue_stopped: Val<bool>,
}

impl SpaceModel {
    fn to_api(&self, existing: Option<Space>) -> Space {
        let mut s = existing.unwrap_or_default();
        s.name = self.name.known().cloned().unwrap_or_default();
        s.slug = self.slug.known().cloned().unwrap_or_default();
        s.description = self.description.known().cloned();
        s.task_queue_stopped = self.task_queue_stopped.known().copied().unwrap_or(false);
        s
    }

    fn from_api(s: Space) -> SpaceModel {
        SpaceModel {
            id: s.id.into(),
            name: Val::Known(s.name),
            slug: Val::Known(s.slug),
            description: text(s.description),
            is_default: Val::Known(s.is_default),
            task_queue_stopped: Val::Known(s.task_queue_stopped),
        }
    }
}

pub struct SpaceResource;

impl Resource<Octopus> for SpaceResource {
    type Model = SpaceModel;

    fn name(&self) -> &str {
        "space"
    }

    async fn create(
        &self,
        ctx: &Context<Octopus>,
        plan: SpaceModel,
    ) -> Result<SpaceModel, Diagnostics> {
        let o = ctx.data()?;
        let created = o
            .client
            .spaces()
            .create(&plan.to_api(None))
            .await
            .map_err(|e| api("create the space", e, Some(&field_of::<SpaceModel>)))?;
        Ok(SpaceModel::from_api(created))
    }

    async fn read(
        &self,
        ctx: &Context<Octopus>,
        state: SpaceModel,
    ) -> Result<Option<SpaceModel>, Diagnostics> {
        let o = ctx.data()?;
        let id = state.id.known().cloned().unwrap_or_default();
        let found = not_found_as_none(o.client.spaces().get(&id).await)
            .map_err(|e| api("read the space", e, None))?;
        Ok(found.map(SpaceModel::from_api))
    }

    async fn update(
        &self,
        ctx: &Context<Octopus>,
        prior: SpaceModel,
        plan: SpaceModel,
    ) -> Result<SpaceModel, Diagnostics> {
        let o = ctx.data()?;
        let id = prior.id.known().cloned().unwrap_or_default();
        let current = o
            .client
            .spaces()
            .get(&id)
            .await
            .map_err(|e| api("read the space", e, None))?;
        let updated = o
            .client
            .spaces()
            .update(&plan.to_api(Some(current)))
            .await
            .map_err(|e| api("update the space", e, Some(&field_of::<SpaceModel>)))?;
        Ok(SpaceModel::from_api(updated))
    }

    async fn delete(&self, ctx: &Context<Octopus>, state: SpaceModel) -> Result<(), Diagnostics> {
        let o = ctx.data()?;
        let id = state.id.known().cloned().unwrap_or_default();
        // Octopus deletes a space only once its task queue is stopped.
        let Some(mut current) = not_found_as_none(o.client.spaces().get(&id).await)
            .map_err(|e| api("read the space", e, None))?
        else {
            return Ok(());
        };
        if !current.task_queue_stopped {
            current.task_queue_stopped = true;
            o.client
                .spaces()
                .update(&current)
                .await
                .map_err(|e| api("stop the space's task queue", e, None))?;
        }
        not_found_as_none(o.client.spaces().delete(&id).await)
            .map_err(|e| api("delete the space", e, None))?;
        Ok(())
    }

    async fn import(&self, ctx: &Context<Octopus>, id: &str) -> Result<SpaceModel, Diagnostics> {
        let o = ctx.data()?;
        let s = o
            .client
            .spaces()
            .get(id)
            .await
            .map_err(|e| api(&format!("import space {id}"), e, None))?;
        Ok(SpaceModel::from_api(s))
    }
}
