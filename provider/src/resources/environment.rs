//! `octopus_environment`.

use super::api::ApiModel;
use super::{InSpace, Naming, sort_order};
use crate::Octopus;
use crate::errors::{api, field_of};
use octopus_client::model::Environment;
use tf_sdk::{Diagnostics, Model, Val};

/// An environment deployments go to, such as `Development` or `Production`.
#[derive(Model, Clone, Debug)]
pub struct EnvironmentModel {
    /// ID, space and names.
    #[tf(flatten)]
    pub identity: InSpace,
    /// Whether failed deployments wait for a person to decide (guided failure).
    #[tf(optional, computed, default = false)]
    pub use_guided_failure: Val<bool>,
    /// Position in lists of environments; the server appends new ones at the end.
    #[tf(optional, computed, use_state_for_unknown, validate = sort_order)]
    pub sort_order: Val<i64>,
    /// Whether deployment targets may be created by deployments.
    #[tf(optional, computed, default = false)]
    pub allow_dynamic_infrastructure: Val<bool>,
}

impl ApiModel for EnvironmentModel {
    type Api = Environment;

    fn to_api(&self, e: &mut Environment) {
        if let Some(&n) = self.sort_order.known() {
            e.sort_order = n as i32; // validated to fit
        }
        e.use_guided_failure = self.use_guided_failure.known() == Some(&true);
        e.allow_dynamic_infrastructure = self.allow_dynamic_infrastructure.known() == Some(&true);
        self.identity
            .naming
            .write(&mut e.name, &mut e.slug, &mut e.description);
    }

    fn from_api(e: Environment, space: &str) -> EnvironmentModel {
        EnvironmentModel {
            identity: InSpace::read(
                e.id,
                e.space_id,
                space,
                Naming::read(e.name, e.slug, e.description),
            ),
            sort_order: Val::Known(e.sort_order.into()),
            use_guided_failure: Val::Known(e.use_guided_failure),
            allow_dynamic_infrastructure: Val::Known(e.allow_dynamic_infrastructure),
        }
    }

    /// Servers read a sort order of 0 as "append at the end": set the one asked for.
    async fn after_create(
        o: &Octopus,
        space: &str,
        plan: &Self,
        mut created: Environment,
    ) -> Result<Environment, Diagnostics> {
        match plan.sort_order.known() {
            Some(&wanted) if i64::from(created.sort_order) != wanted => {
                created.sort_order = wanted as i32;
                let set_order = "set the environment's sort order";
                let fields = &field_of::<EnvironmentModel>;
                let items = o.client.environments(space);
                items
                    .update(&created)
                    .await
                    .map_err(|e| api(set_order, e, Some(fields)))
            }
            _ => Ok(created),
        }
    }
}
