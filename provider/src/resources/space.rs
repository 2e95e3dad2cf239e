//! `octopus_space`.

use super::Naming;
use super::api::ApiModel;
use crate::Octopus;
use crate::errors::api;
use octopus_client::model::Space;
use tf_sdk::{AttributePath, Diagnostics, Model, Val};

/// Space names are at most 50 characters on the server (other names 200).
const MAX_SPACE_NAME: usize = 50;

/// A space: an isolated set of projects, environments and feeds.
#[derive(Model, Clone, Debug)]
pub struct SpaceModel {
    /// The space ID, e.g. `Spaces-2`.
    #[tf(computed, use_state_for_unknown)]
    pub id: Val<String>,
    /// Its names.
    #[tf(flatten)]
    pub naming: Naming,
    /// Whether this is the server's default space. The provider never changes it.
    #[tf(computed, use_state_for_unknown)]
    pub is_default: Val<bool>,
    /// Whether the space's task queue is stopped.
    #[tf(optional, computed, default = false)]
    pub task_queue_stopped: Val<bool>,
}

impl ApiModel for SpaceModel {
    type Api = Space;

    fn to_api(&self, s: &mut Space) {
        s.task_queue_stopped = self.task_queue_stopped.known() == Some(&true);
        self.naming
            .write(&mut s.name, &mut s.slug, &mut s.description);
    }

    fn check(&self, diags: &mut Diagnostics) {
        if let Some(n) = self.naming.name.known()
            && let Err(msg) = tf_sdk::validators::length(1, MAX_SPACE_NAME)(n)
        {
            diags.error_at(
                AttributePath::root("name"),
                "Invalid value for name",
                format!("{msg}: space names are shorter than other names"),
            );
        }
    }

    fn from_api(s: Space, _space: &str) -> SpaceModel {
        SpaceModel {
            id: s.id.into(),
            naming: Naming::read(s.name, s.slug, s.description),
            is_default: Val::Known(s.is_default),
            task_queue_stopped: Val::Known(s.task_queue_stopped),
        }
    }

    /// Octopus deletes a space only once its task queue is stopped.
    async fn before_delete(o: &Octopus, _space: &str, mut s: Space) -> Result<(), Diagnostics> {
        if !s.task_queue_stopped {
            s.task_queue_stopped = true;
            let stop = o.client.spaces().update(&s).await;
            stop.map_err(|e| api("stop the space's task queue", e, None))?;
        }
        Ok(())
    }
}
