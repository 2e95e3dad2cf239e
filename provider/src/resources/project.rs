//! `octopus_project`.

use crate::Octopus;
use crate::resources::scoped::{self, SpaceScoped};
use crate::resources::{name_length, text};
use octopus_client::model::Project;
use octopus_client::{Client, Collection};
use tf_sdk::{Context, Diagnostics, Model, Resource, Val};

/// A project: what gets deployed, with its deployment process.
#[derive(Model, Clone, Debug)]
pub struct ProjectModel {
    /// The project ID, e.g. `Projects-1`.
    #[tf(computed, use_state_for_unknown)]
    pub id: Val<String>,
    /// The space; defaults to the provider's space. Changing it replaces the project.
    #[tf(optional, computed, use_state_for_unknown, requires_replace)]
    pub space_id: Val<String>,
    /// The project name, unique within the space.
    #[tf(required, validate = name_length)]
    pub name: Val<String>,
    /// URL-friendly name; derived from the name when not set.
    #[tf(optional, computed, use_state_for_unknown)]
    pub slug: Val<String>,
    /// Free-text description.
    #[tf(optional, computed, default = "")]
    pub description: Val<String>,
    /// The lifecycle releases follow; defaults to the space's default lifecycle.
    #[tf(optional, computed, use_state_for_unknown)]
    pub lifecycle_id: Val<String>,
    /// The project group; defaults to the space's default project group.
    #[tf(optional, computed, use_state_for_unknown)]
    pub project_group_id: Val<String>,
    /// Whether the project is disabled (no releases or deployments).
    #[tf(optional, computed, default = false)]
    pub is_disabled: Val<bool>,
    /// Whether a release is deployed to one channel only at a time.
    #[tf(optional, computed, default = false)]
    pub discrete_channel_release: Val<bool>,
    /// The ID of the project's deployment process.
    #[tf(computed, use_state_for_unknown)]
    pub deployment_process_id: Val<String>,
}

impl SpaceScoped for ProjectModel {
    type Api = Project;
    const WHAT: &'static str = "project";

    fn collection<'a>(client: &'a Client, space: &str) -> Collection<'a, Project> {
        client.projects(space)
    }

    fn id(&self) -> &Val<String> {
        &self.id
    }

    fn space_id(&self) -> &Val<String> {
        &self.space_id
    }

    fn to_api(&self, space_id: &str, existing: Option<Project>) -> Project {
        let mut p = existing.unwrap_or_default();
        p.space_id = Some(space_id.to_string());
        p.name = self.name.known().cloned().unwrap_or_default();
        p.slug = self.slug.known().cloned().unwrap_or_default();
        p.description = self.description.known().cloned();
        if let Some(l) = self.lifecycle_id.known() {
            p.lifecycle_id = l.clone();
        }
        if let Some(g) = self.project_group_id.known() {
            p.project_group_id = g.clone();
        }
        p.is_disabled = self.is_disabled.known().copied().unwrap_or(false);
        p.discrete_channel_release = self
            .discrete_channel_release
            .known()
            .copied()
            .unwrap_or(false);
        p
    }

    fn from_api(p: Project, space_id: &str) -> ProjectModel {
        ProjectModel {
            id: p.id.into(),
            space_id: Val::Known(p.space_id.unwrap_or_else(|| space_id.to_string())),
            name: Val::Known(p.name),
            slug: Val::Known(p.slug),
            description: text(p.description),
            lifecycle_id: Val::Known(p.lifecycle_id),
            project_group_id: Val::Known(p.project_group_id),
            is_disabled: Val::Known(p.is_disabled),
            discrete_channel_release: Val::Known(p.discrete_channel_release),
            deployment_process_id: p.deployment_process_id.into(),
        }
    }
}

pub struct ProjectResource;

impl Resource<Octopus> for ProjectResource {
    type Model = ProjectModel;

    fn name(&self) -> &str {
        "project"
    }

    async fn create(
        &self,
        ctx: &Context<Octopus>,
        plan: ProjectModel,
    ) -> Result<ProjectModel, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&plan.space_id).await?;
        let mut project = plan.to_api(&space, None);
        if project.lifecycle_id.is_empty() || project.project_group_id.is_empty() {
            let defaults = o.space_defaults(&space).await?;
            if project.lifecycle_id.is_empty() {
                project.lifecycle_id = defaults.lifecycle_id.clone();
            }
            if project.project_group_id.is_empty() {
                project.project_group_id = defaults.project_group_id.clone();
            }
        }
        let created = scoped::create::<ProjectModel>(o, &space, &project).await?;
        Ok(ProjectModel::from_api(created, &space))
    }

    async fn read(
        &self,
        ctx: &Context<Octopus>,
        state: ProjectModel,
    ) -> Result<Option<ProjectModel>, Diagnostics> {
        scoped::read(ctx.data()?, &state).await
    }

    async fn update(
        &self,
        ctx: &Context<Octopus>,
        prior: ProjectModel,
        plan: ProjectModel,
    ) -> Result<ProjectModel, Diagnostics> {
        scoped::update(ctx.data()?, &prior, &plan).await
    }

    async fn delete(&self, ctx: &Context<Octopus>, state: ProjectModel) -> Result<(), Diagnostics> {
        scoped::delete(ctx.data()?, &state).await
    }

    async fn import(
        &self,
        ctx: &Context<Octopus>,
        import_id: &str,
    ) -> Result<ProjectModel, Diagnostics> {
        scoped::import(ctx.data()?, import_id).await
    }
}
