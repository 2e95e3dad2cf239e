//! Managed resources.

mod environment;
mod project;
mod scoped;
mod space;

use crate::Octopus;
use tf_sdk::{ErasedResource, resource};

pub use environment::EnvironmentModel;
pub use project::ProjectModel;
pub use space::SpaceModel;

/// Every resource type of the provider.
pub fn all() -> Vec<Box<dyn ErasedResource<Octopus>>> {
    vec![
        resource(space::SpaceResource),
        resource(environment::EnvironmentResource),
        resource(project::ProjectResource),
    ]
}

/// Names are 1 to 200 characters, as the server requires.
pub(crate) fn name_length(s: &String) -> Result<(), String> {
    tf_sdk::validators::length(1, 200)(s)
}

/// An empty string for a missing optional text, so state never flips between the two.
pub(crate) fn text(v: Option<String>) -> tf_sdk::Val<String> {
    tf_sdk::Val::Known(v.unwrap_or_default())
}
