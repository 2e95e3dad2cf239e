//! `octopus_environment`.

use crate::Octopus;
use crate::errors::{api, field_of};
use crate::resources::scoped::{self, SpaceScoped};
use crate::resources::{name_length, text};
use octopus_client::model::Environment;
use octopus_client::{Client, Collection};
use tf_sdk::{Context, Diagnostics, Model, Resource, Val};

/// An environment deployments go to, such as `Development` or `Production`.
#[derive(Model, Clone, Debug)]
pub struct EnvironmentModel {
    /// The environment ID, e.g. `Environments-1`.
    #[tf(computed, use_state_for_unknown)]
    pub id: Val<String>,
    /// The space; defaults to the provider's space. Changing it replaces the environment.
    #[tf(optional, computed, use_state_for_unknown, requires_replace)]
    pub space_id: Val<String>,
    /// The environment name, unique within the space.
    #[tf(required, validate = name_length)]
    pub name: Val<String>,
    /// URL-friendly name; derived from the name when not set.
    #[tf(optional, computed, use_state_for_unknown)]
    pub slug: Val<String>,
    /// Free-text description.
    #[tf(optional, computed, default = "")]
    pub description: Val<String>,
    /// Position in lists of environments; the server appends new ones at the end.
    #[tf(optional, computed, use_state_for_unknown)]
    pub sort_order: Val<i64>,
    /// Whether failed deployments wait for a person to decide (guided failure).
    #[tf(optional, computed, default = false)]
    pub use_guided_failure: Val<bool>,
    /// Whether deployment targets may be created by deployments.
    #[tf(optional, computed, default = false)]
    pub allow_dynamic_infrastructure: Val<bool>,
}

impl SpaceScoped for EnvironmentModel {
    type Api = Environment;
    const WHAT: &'static str = "environment";

    fn collection<'a>(client: &'a Client, space: &str) -> Collection<'a, Environment> {
        client.environments(space)
    }

    fn id(&self) -> &Val<String> {
        &self.id
    }

    fn space_id(&self) -> &Val<String> {
        &self.space_id
    }

    fn to_api(&self, space_id: &str, existing: Option<Environment>) -> Environment {
        let mut e = existing.unwrap_or_default();
        e.space_id = Some(space_id.to_string());
        e.name = self.name.known().cloned().unwrap_or_default();
        e.slug = self.slug.known().cloned().unwrap_or_default();
        e.description = self.description.known().cloned();
        if let Some(n) = self.sort_order.known() {
            e.sort_order = i32::try_from(*n).unwrap_or(i32::MAX);
        }
        e.use_guided_failure = self.use_guided_failure.known().copied().unwrap_or(false);
        e.allow_dynamic_infrastructure = self
            .allow_dynamic_infrastructure
            .known()
            .copied()
            .unwrap_or(false);
        e
    }

    fn from_api(e: Environment, space_id: &str) -> EnvironmentModel {
        EnvironmentModel {
            id: e.id.into(),
            space_id: Val::Known(e.space_id.unwrap_or_else(|| space_id.to_string())),
            name: Val::Known(e.name),
            slug: Val::Known(e.slug),
            description: text(e.description),
            sort_order: Val::Known(e.sort_order.into()),
            use_guided_failure: Val::Known(e.use_guided_failure),
            allow_dynamic_infrastructure: Val::Known(e.allow_dynamic_infrastructure),
        }
    }
}

pub struct EnvironmentResource;

impl Resource<Octopus> for EnvironmentResource {
    type Model = EnvironmentModel;

    fn name(&self) -> &str {
        "environment"
    }

    async fn create(
        &self,
        ctx: &Context<Octopus>,
        plan: EnvironmentModel,
    ) -> Result<EnvironmentModel, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&plan.space_id).await?;
        let mut created =
            scoped::create::<EnvironmentModel>(o, &space, &plan.to_api(&space, None)).await?;
        // Servers read a sort order of 0 as "append at the end"; set the one asked for.
        if let Some(&wanted) = plan.sort_order.known()
            && i64::from(created.sort_order) != wanted
        {
            created.sort_order = i32::try_from(wanted).unwrap_or(i32::MAX);
            created = o
                .client
                .environments(&space)
                .update(&created)
                .await
                .map_err(|e| {
                    api(
                        "set the environment's sort order",
                        e,
                        Some(&field_of::<EnvironmentModel>),
                    )
                })?;
        }
        Ok(EnvironmentModel::from_api(created, &space))
    }

    async fn read(
        &self,
        ctx: &Context<Octopus>,
        state: EnvironmentModel,
    ) -> Result<Option<EnvironmentModel>, Diagnostics> {
        scoped::read(ctx.data()?, &state).await
    }

    async fn update(
        &self,
        ctx: &Context<Octopus>,
        prior: EnvironmentModel,
        plan: EnvironmentModel,
    ) -> Result<EnvironmentModel, Diagnostics> {
        scoped::update(ctx.data()?, &prior, &plan).await
    }

    async fn delete(
        &self,
        ctx: &Context<Octopus>,
        state: EnvironmentModel,
    ) -> Result<(), Diagnostics> {
        scoped::delete(ctx.data()?, &state).await
    }

    async fn import(
        &self,
        ctx: &Context<Octopus>,
        import_id: &str,
    ) -> Result<EnvironmentModel, Diagnostics> {
        scoped::import(ctx.data()?, import_id).await
    }
}
