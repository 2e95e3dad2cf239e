//! Data sources: look spaces, environments, projects, project groups, lifecycles and
//! feeds up by name, so modules can refer to what other teams manage. One generic
//! look-up, [`ByName`], serves them all: each is its model and how it reads the API
//! document. Step packages, deployment processes and package versions have their own.

mod deployment_process;
mod feed;
mod package_versions;
mod step_package;

use crate::Octopus;
use crate::errors::api;
use octopus_client::Named;
use octopus_client::model::{Environment, Lifecycle, Project, ProjectGroup, Space};
use std::marker::PhantomData;
use tf_sdk::{
    AttributePath, Context, DataSource, Diagnostic, Diagnostics, ErasedDataSource, Model, Val,
    data_source,
};

/// Every data source of the provider.
pub fn all() -> Vec<Box<dyn ErasedDataSource<Octopus>>> {
    vec![
        data_source(ByName::<SpaceData, Space>::new("space")),
        data_source(ByName::<EnvironmentData, Environment>::new("environment")),
        data_source(ByName::<ProjectData, Project>::new("project")),
        data_source(ByName::<NamedData, ProjectGroup>::new("project_group")),
        data_source(ByName::<NamedData, Lifecycle>::new("lifecycle")),
        data_source(step_package::StepPackageLookup),
        data_source(deployment_process::ProcessLookup),
        data_source(ByName::<feed::FeedData, octopus_client::model::Feed>::new(
            "feed",
        )),
        data_source(package_versions::PackageVersionsLookup),
    ]
}

/// A data source model that finds an `A` by its exact name.
trait Lookup<A: Named>: Model + Clone {
    /// The result: the configuration with what was found in `space`.
    fn found(config: Self, found: A, space: &str) -> Self;
    /// Whether what was found is what the configuration asks for beyond its name (a
    /// feed of the requested type, say); the error says why not, at an attribute.
    fn accepts(_config: &Self, _found: &A) -> Result<(), Diagnostic> {
        Ok(())
    }
}

/// Looks an object up by name: `M` is the data source's model, `A` the document,
/// `name` the type name without the provider prefix (also the noun in messages).
struct ByName<M, A> {
    name: &'static str,
    _types: PhantomData<fn() -> (M, A)>,
}

impl<M, A> ByName<M, A> {
    fn new(name: &'static str) -> Self {
        ByName {
            name,
            _types: PhantomData,
        }
    }
}

impl<M: Lookup<A>, A: Named> DataSource<Octopus> for ByName<M, A> {
    type Model = M;

    fn name(&self) -> &str {
        self.name
    }

    async fn read(&self, ctx: &Context<Octopus>, config: M) -> Result<M, Diagnostics> {
        let o = ctx.data()?;
        let what = self.name.replace('_', " ");
        let space = if A::SPACE_SCOPED {
            o.space(&crate::resources::api::attr(&config, "space_id"))
                .await?
        } else {
            String::new()
        };
        let name = crate::resources::api::attr(&config, "name")
            .into_known()
            .unwrap_or_default();
        let found = o
            .client
            .collection::<A>(&space)
            .find_by_name(&name)
            .await
            .map_err(|e| api(&format!("look up the {what}"), e, None))?;
        let Some(found) = found else {
            let place = if space.is_empty() {
                String::new()
            } else {
                format!(" in space {space}")
            };
            return Err(Diagnostic::error(
                format!("No {what} named {name:?}{place}"),
                format!("Check the name (it must match exactly) and that the {what} exists."),
            )
            .at(AttributePath::root("name"))
            .into());
        };
        M::accepts(&config, &found).map_err(Diagnostics::from)?;
        Ok(M::found(config, found, &space))
    }
}

/// The name to find, and the space to look in.
#[derive(Model, Clone, Debug)]
pub struct InSpaceQuery {
    /// The exact name to find.
    #[tf(required)]
    pub name: Val<String>,
    /// The space to look in; defaults to the provider's space.
    #[tf(optional, computed, validate = crate::resources::space_id)]
    pub space_id: Val<String>,
}

/// What every object found reports.
#[derive(Model, Clone, Debug)]
pub struct Found {
    /// The ID.
    #[tf(computed)]
    pub id: Val<String>,
    /// Description.
    #[tf(computed)]
    pub description: Val<String>,
}

impl Found {
    fn of(id: Option<String>, description: Option<String>) -> Found {
        Found {
            id: id.into(),
            description: Val::Known(description.unwrap_or_default()),
        }
    }
}

impl InSpaceQuery {
    fn answered(self, space: &str) -> InSpaceQuery {
        InSpaceQuery {
            space_id: Val::Known(space.to_string()),
            ..self
        }
    }
}

/// Looks up a space by name.
#[derive(Model, Clone, Debug)]
pub struct SpaceData {
    /// The exact name to find.
    #[tf(required)]
    pub name: Val<String>,
    /// ID and description.
    #[tf(flatten)]
    pub found: Found,
    /// URL-friendly name.
    #[tf(computed)]
    pub slug: Val<String>,
    /// Whether it is the server's default space.
    #[tf(computed)]
    pub is_default: Val<bool>,
}

impl Lookup<Space> for SpaceData {
    fn found(config: Self, s: Space, _space: &str) -> Self {
        SpaceData {
            name: config.name,
            found: Found::of(s.id, s.description),
            slug: Val::Known(s.slug),
            is_default: Val::Known(s.is_default),
        }
    }
}

/// Looks up an environment by name.
#[derive(Model, Clone, Debug)]
pub struct EnvironmentData {
    /// What to find, where, and what was found.
    #[tf(flatten)]
    pub named: NamedData,
    /// URL-friendly name.
    #[tf(computed)]
    pub slug: Val<String>,
}

impl Lookup<Environment> for EnvironmentData {
    fn found(config: Self, e: Environment, space: &str) -> Self {
        EnvironmentData {
            named: NamedData::answered(config.named, space, e.id, e.description),
            slug: Val::Known(e.slug),
        }
    }
}

/// Looks up a project by name.
#[derive(Model, Clone, Debug)]
pub struct ProjectData {
    /// Name, space, ID, description and slug, as an environment's look-up has them.
    #[tf(flatten)]
    pub common: EnvironmentData,
    /// The project's lifecycle.
    #[tf(computed)]
    pub lifecycle_id: Val<String>,
    /// Whether the project is disabled.
    #[tf(computed)]
    pub is_disabled: Val<bool>,
    /// The project's group.
    #[tf(computed)]
    pub project_group_id: Val<String>,
    /// The project's deployment process.
    #[tf(computed)]
    pub deployment_process_id: Val<String>,
}

impl Lookup<Project> for ProjectData {
    fn found(config: Self, p: Project, space: &str) -> Self {
        ProjectData {
            common: EnvironmentData {
                named: NamedData::answered(config.common.named, space, p.id, p.description),
                slug: Val::Known(p.slug),
            },
            lifecycle_id: Val::Known(p.lifecycle_id),
            is_disabled: Val::Known(p.is_disabled),
            project_group_id: Val::Known(p.project_group_id),
            deployment_process_id: p.deployment_process_id.into(),
        }
    }
}

/// Looks up a project group or lifecycle by name.
#[derive(Model, Clone, Debug)]
pub struct NamedData {
    /// What to find, and where.
    #[tf(flatten)]
    pub query: InSpaceQuery,
    /// ID and description.
    #[tf(flatten)]
    pub found: Found,
}

impl NamedData {
    /// The configuration answered: the space looked in and what was found.
    fn answered(
        config: NamedData,
        space: &str,
        id: Option<String>,
        description: Option<String>,
    ) -> NamedData {
        NamedData {
            query: config.query.answered(space),
            found: Found::of(id, description),
        }
    }
}

impl Lookup<ProjectGroup> for NamedData {
    fn found(config: Self, g: ProjectGroup, space: &str) -> Self {
        NamedData::answered(config, space, g.id, g.description)
    }
}

impl Lookup<Lifecycle> for NamedData {
    fn found(config: Self, l: Lifecycle, space: &str) -> Self {
        NamedData::answered(config, space, l.id, l.description)
    }
}
