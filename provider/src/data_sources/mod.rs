//! Data sources: look spaces, environments, projects, project groups and lifecycles
//! up by name, so modules can refer to what other teams manage.

use crate::Octopus;
use crate::errors::api;
use octopus_client::{Collection, Named};
use tf_sdk::{
    AttributePath, Context, DataSource, Diagnostic, Diagnostics, ErasedDataSource, Model, Val,
    data_source,
};

/// Every data source of the provider.
pub fn all() -> Vec<Box<dyn ErasedDataSource<Octopus>>> {
    vec![
        data_source(SpaceLookup),
        data_source(EnvironmentLookup),
        data_source(ProjectLookup),
        data_source(ProjectGroupLookup),
        data_source(LifecycleLookup),
    ]
}

/// The object called exactly `name` in `items`, or a diagnostic on `name`.
async fn find<T>(
    items: Collection<'_, T>,
    name: &Val<String>,
    what: &str,
    space: Option<&str>,
) -> Result<T, Diagnostics>
where
    T: octopus_client::model::Resource + Named,
{
    let name = name.known().cloned().unwrap_or_default();
    items
        .find_by_name(&name)
        .await
        .map_err(|e| api(&format!("look up the {what}"), e, None))?
        .ok_or_else(|| not_found(what, &name, space))
}

fn not_found(what: &str, name: &str, space: Option<&str>) -> Diagnostics {
    let place = space.map(|s| format!(" in space {s}")).unwrap_or_default();
    Diagnostic::error(
        format!("No {what} named {name:?}{place}"),
        format!("Check the name (it must match exactly) and that the {what} exists."),
    )
    .at(AttributePath::root("name"))
    .into()
}

/// Looks up a space by name.
#[derive(Model, Clone, Debug)]
pub struct SpaceData {
    /// The exact name to find.
    #[tf(required)]
    pub name: Val<String>,
    /// The space ID.
    #[tf(computed)]
    pub id: Val<String>,
    /// URL-friendly name.
    #[tf(computed)]
    pub slug: Val<String>,
    /// Description.
    #[tf(computed)]
    pub description: Val<String>,
    /// Whether it is the server's default space.
    #[tf(computed)]
    pub is_default: Val<bool>,
}

struct SpaceLookup;

impl DataSource<Octopus> for SpaceLookup {
    type Model = SpaceData;
    fn name(&self) -> &str {
        "space"
    }
    async fn read(
        &self,
        ctx: &Context<Octopus>,
        config: SpaceData,
    ) -> Result<SpaceData, Diagnostics> {
        let o = ctx.data()?;
        let s = find(o.client.spaces(), &config.name, "space", None).await?;
        Ok(SpaceData {
            name: config.name,
            id: s.id.into(),
            slug: Val::Known(s.slug),
            description: Val::Known(s.description.unwrap_or_default()),
            is_default: Val::Known(s.is_default),
        })
    }
}

/// Looks up an environment by name.
#[derive(Model, Clone, Debug)]
pub struct EnvironmentData {
    /// The exact name to find.
    #[tf(required)]
    pub name: Val<String>,
    /// The space to look in; defaults to the provider's space.
    #[tf(optional, computed)]
    pub space_id: Val<String>,
    /// The environment ID.
    #[tf(computed)]
    pub id: Val<String>,
    /// URL-friendly name.
    #[tf(computed)]
    pub slug: Val<String>,
    /// Description.
    #[tf(computed)]
    pub description: Val<String>,
}

struct EnvironmentLookup;

impl DataSource<Octopus> for EnvironmentLookup {
    type Model = EnvironmentData;
    fn name(&self) -> &str {
        "environment"
    }
    async fn read(
        &self,
        ctx: &Context<Octopus>,
        config: EnvironmentData,
    ) -> Result<EnvironmentData, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&config.space_id).await?;
        let e = find(
            o.client.environments(&space),
            &config.name,
            "environment",
            Some(&space),
        )
        .await?;
        Ok(EnvironmentData {
            name: config.name,
            space_id: Val::Known(space),
            id: e.id.into(),
            slug: Val::Known(e.slug),
            description: Val::Known(e.description.unwrap_or_default()),
        })
    }
}

/// Looks up a project by name.
#[derive(Model, Clone, Debug)]
pub struct ProjectData {
    /// The exact name to find.
    #[tf(required)]
    pub name: Val<String>,
    /// The space to look in; defaults to the provider's space.
    #[tf(optional, computed)]
    pub space_id: Val<String>,
    /// The project ID.
    #[tf(computed)]
    pub id: Val<String>,
    /// URL-friendly name.
    #[tf(computed)]
    pub slug: Val<String>,
    /// Description.
    #[tf(computed)]
    pub description: Val<String>,
    /// The project's lifecycle.
    #[tf(computed)]
    pub lifecycle_id: Val<String>,
    /// The project's group.
    #[tf(computed)]
    pub project_group_id: Val<String>,
    /// The project's deployment process.
    #[tf(computed)]
    pub deployment_process_id: Val<String>,
}

struct ProjectLookup;

impl DataSource<Octopus> for ProjectLookup {
    type Model = ProjectData;
    fn name(&self) -> &str {
        "project"
    }
    async fn read(
        &self,
        ctx: &Context<Octopus>,
        config: ProjectData,
    ) -> Result<ProjectData, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&config.space_id).await?;
        let p = find(
            o.client.projects(&space),
            &config.name,
            "project",
            Some(&space),
        )
        .await?;
        Ok(ProjectData {
            name: config.name,
            space_id: Val::Known(space),
            id: p.id.into(),
            slug: Val::Known(p.slug),
            description: Val::Known(p.description.unwrap_or_default()),
            lifecycle_id: Val::Known(p.lifecycle_id),
            project_group_id: Val::Known(p.project_group_id),
            deployment_process_id: p.deployment_process_id.into(),
        })
    }
}

/// Looks up a project group or lifecycle by name.
#[derive(Model, Clone, Debug)]
pub struct NamedData {
    /// The exact name to find.
    #[tf(required)]
    pub name: Val<String>,
    /// The space to look in; defaults to the provider's space.
    #[tf(optional, computed)]
    pub space_id: Val<String>,
    /// The ID.
    #[tf(computed)]
    pub id: Val<String>,
    /// Description.
    #[tf(computed)]
    pub description: Val<String>,
}

struct ProjectGroupLookup;

impl DataSource<Octopus> for ProjectGroupLookup {
    type Model = NamedData;
    fn name(&self) -> &str {
        "project_group"
    }
    async fn read(
        &self,
        ctx: &Context<Octopus>,
        config: NamedData,
    ) -> Result<NamedData, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&config.space_id).await?;
        let g = find(
            o.client.project_groups(&space),
            &config.name,
            "project group",
            Some(&space),
        )
        .await?;
        Ok(NamedData {
            name: config.name,
            space_id: Val::Known(space),
            id: g.id.into(),
            description: Val::Known(g.description.unwrap_or_default()),
        })
    }
}

struct LifecycleLookup;

impl DataSource<Octopus> for LifecycleLookup {
    type Model = NamedData;
    fn name(&self) -> &str {
        "lifecycle"
    }
    async fn read(
        &self,
        ctx: &Context<Octopus>,
        config: NamedData,
    ) -> Result<NamedData, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&config.space_id).await?;
        let l = find(
            o.client.lifecycles(&space),
            &config.name,
            "lifecycle",
            Some(&space),
        )
        .await?;
        Ok(NamedData {
            name: config.name,
            space_id: Val::Known(space),
            id: l.id.into(),
            description: Val::Known(l.description.unwrap_or_default()),
        })
    }
}
