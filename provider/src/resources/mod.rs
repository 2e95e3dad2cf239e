//! Managed resources: each is a model and its mapping to the API ([`api::ApiModel`]).

pub(crate) mod api;
pub(crate) mod deployment_process;
mod environment;
pub(crate) mod feeds;
mod package;
mod project;
mod space;
mod step_package;
mod variable;

use crate::Octopus;
use api::ApiResource;
use tf_sdk::{ErasedResource, Model, Val, resource};

pub use deployment_process::{ProcessModel, StepCatalog};
pub use environment::EnvironmentModel;
pub use project::ProjectModel;
pub use space::SpaceModel;
pub use variable::{ScopeModel, VariableModel};

/// Every resource type of the provider.
pub fn all() -> Vec<Box<dyn ErasedResource<Octopus>>> {
    let mut all = vec![
        resource(ApiResource::<SpaceModel>::new("space")),
        resource(ApiResource::<EnvironmentModel>::new("environment")),
        resource(ApiResource::<ProjectModel>::new("project")),
        resource(deployment_process::ProcessResource),
        resource(package::PackageResource),
        resource(step_package::StepPackageResource),
        resource(variable::VariableResource),
    ];
    all.extend(feeds::resources());
    all
}

/// What every named Octopus object has; flattened into the resource models.
#[derive(Model, Clone, Debug)]
pub struct Naming {
    /// The name, unique among objects of its kind (within the space, for objects that
    /// live in one).
    #[tf(required, validate = name)]
    pub name: Val<String>,
    /// URL-friendly name; derived from the name when not set.
    #[tf(optional, computed, use_state_for_unknown, validate = slug)]
    pub slug: Val<String>,
    /// Free-text description.
    #[tf(optional, computed, default = "")]
    pub description: Val<String>,
}

impl Naming {
    /// Writes the names into an API document's fields.
    pub(crate) fn write(
        &self,
        name: &mut String,
        slug: &mut String,
        description: &mut Option<String>,
    ) {
        *name = self.name.known().cloned().unwrap_or_default();
        *slug = self.slug.known().cloned().unwrap_or_default();
        *description = self.description.known().cloned();
    }

    /// The names of an API document.
    pub(crate) fn read(name: String, slug: String, description: Option<String>) -> Naming {
        Naming {
            name: Val::Known(name),
            slug: Val::Known(slug),
            description: Val::Known(description.unwrap_or_default()),
        }
    }
}

/// The identity of an object that lives in a space; flattened into its model.
#[derive(Model, Clone, Debug)]
pub struct InSpace {
    /// The ID Octopus gave the object, e.g. `Environments-1` or `Projects-1`.
    #[tf(computed, use_state_for_unknown)]
    pub id: Val<String>,
    /// The space; defaults to the provider's space. Changing it replaces the object.
    #[tf(optional, computed, use_state_for_unknown, requires_replace, validate = crate::resources::space_id)]
    pub space_id: Val<String>,
    /// Its names.
    #[tf(flatten)]
    pub naming: Naming,
}

impl InSpace {
    /// The identity of a document read from `space`.
    pub(crate) fn read(
        id: Option<String>,
        space_id: Option<String>,
        space: &str,
        naming: Naming,
    ) -> InSpace {
        InSpace {
            id: id.into(),
            space_id: Val::Known(space_id.unwrap_or_else(|| space.to_string())),
            naming,
        }
    }
}

/// Names as the server keeps them: 1 to 200 characters, no control characters, and
/// no surrounding whitespace (the server trims it, which would be a change on every
/// plan).
pub(crate) fn name(s: &String) -> Result<(), String> {
    tf_sdk::validators::length(1, 200)(s)?;
    tf_sdk::validators::trimmed()(s)?;
    match s.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!("must not contain control characters (found {c:?})")),
        None => Ok(()),
    }
}

/// Slugs as the server accepts them; an empty one would be replaced by one derived
/// from the name.
pub(crate) fn slug(s: &String) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty; leave `slug` out to derive it from the name".into());
    }
    if s.len() > 210
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "{s:?} may only contain letters, digits, '-' and '_' (at most 210)"
        ));
    }
    Ok(())
}

/// A space ID as written in a configuration: empty would mean neither the provider's
/// space nor any other.
pub(crate) fn space_id(s: &String) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("must not be empty; leave `space_id` out to use the provider's space".into());
    }
    tf_sdk::validators::trimmed()(s)
}

/// An optional reference whose absence means a default (the space's default lifecycle,
/// say): empty would be replaced by that default, a change on every plan.
pub(crate) fn id_or_default(s: &String) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("must not be empty; leave it out for the default".into());
    }
    tf_sdk::validators::trimmed()(s)
}

/// Sort orders are 32-bit on the server.
pub(crate) fn sort_order(n: &i64) -> Result<(), String> {
    tf_sdk::validators::range(i32::MIN.into(), i32::MAX.into())(n)
}
