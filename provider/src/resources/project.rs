//! `octopus_project`.

use super::api::ApiModel;
use super::{InSpace, Naming};
use crate::Octopus;
use octopus_client::model::Project;
use tf_sdk::{Diagnostics, Model, Val};

/// A project: what gets deployed, with its deployment process.
#[derive(Model, Clone, Debug)]
pub struct ProjectModel {
    /// ID, space and names.
    #[tf(flatten)]
    pub identity: InSpace,
    /// The lifecycle releases follow; defaults to the space's default lifecycle.
    #[tf(optional, computed, use_state_for_unknown, validate = super::id_or_default)]
    pub lifecycle_id: Val<String>,
    /// The project group; defaults to the space's default project group.
    #[tf(optional, computed, use_state_for_unknown, validate = super::id_or_default)]
    pub project_group_id: Val<String>,
    /// Whether the project is disabled (no releases or deployments).
    #[tf(optional, computed, default = false)]
    pub is_disabled: Val<bool>,
    /// The ID of the project's deployment process.
    #[tf(computed, use_state_for_unknown)]
    pub deployment_process_id: Val<String>,
    /// Whether a release is deployed to one channel only at a time.
    #[tf(optional, computed, default = false)]
    pub discrete_channel_release: Val<bool>,
}

impl ApiModel for ProjectModel {
    type Api = Project;

    fn to_api(&self, p: &mut Project) {
        if let Some(l) = self.lifecycle_id.known() {
            p.lifecycle_id = l.clone();
        }
        if let Some(g) = self.project_group_id.known() {
            p.project_group_id = g.clone();
        }
        p.is_disabled = self.is_disabled.known() == Some(&true);
        p.discrete_channel_release = self.discrete_channel_release.known() == Some(&true);
        self.identity
            .naming
            .write(&mut p.name, &mut p.slug, &mut p.description);
    }

    fn from_api(p: Project, space: &str) -> ProjectModel {
        ProjectModel {
            identity: InSpace::read(
                p.id,
                p.space_id,
                space,
                Naming::read(p.name, p.slug, p.description),
            ),
            lifecycle_id: Val::Known(p.lifecycle_id),
            project_group_id: Val::Known(p.project_group_id),
            is_disabled: Val::Known(p.is_disabled),
            discrete_channel_release: Val::Known(p.discrete_channel_release),
            deployment_process_id: p.deployment_process_id.into(),
        }
    }

    /// A project needs a lifecycle and a group: the space's defaults unless given.
    async fn before_create(o: &Octopus, space: &str, p: &mut Project) -> Result<(), Diagnostics> {
        if p.lifecycle_id.is_empty() || p.project_group_id.is_empty() {
            let defaults = o.space_defaults(space).await?;
            if p.lifecycle_id.is_empty() {
                p.lifecycle_id = defaults.lifecycle_id.clone();
            }
            if p.project_group_id.is_empty() {
                p.project_group_id = defaults.project_group_id.clone();
            }
        }
        Ok(())
    }
}
