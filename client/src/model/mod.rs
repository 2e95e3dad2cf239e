//! Octopus Deploy API model types, shared by the client and the embedded server.
//!
//! Every type serializes with Octopus' PascalCase field names, tolerates fields it
//! does not model (they are kept in `extra` where a document is read, modified and
//! written back) and accepts `null` wherever Octopus may send it.
//!

pub mod deployment;
pub mod deployment_process;
pub mod environment;
pub mod error;
pub mod feed;
pub mod lifecycle;
pub mod package;
pub mod paging;
pub mod project;
pub mod project_group;
pub mod release;
pub mod root;
pub mod space;
pub mod step_package;
pub mod task;
pub mod text;
pub mod variable;

pub use deployment::{
    CreateDeploymentResponseV1, CreateDeploymentUntenantedCommandV1, Deployment,
    DeploymentServerTask,
};
pub use deployment_process::{
    Action, Container, DeploymentProcess, GitDependency, PackageReference, PropertyValue, Step,
};
pub use environment::Environment;
pub use error::ErrorBody;
pub use feed::{Feed, FeedType, SensitiveValue};
pub use lifecycle::{Lifecycle, Phase};
pub use paging::ResourceCollection;
pub use project::{PersistenceSettings, Project, ReleaseCreationStrategy};
pub use project_group::ProjectGroup;
pub use release::{
    Channel, CreateReleaseCommandV1, CreateReleaseResponseV1, Release, ReleaseTemplate,
    ReleaseTemplatePackage, SelectedPackage,
};
pub use root::RootDocument;
pub use space::Space;
pub use task::{
    ActivityElement, ActivityLogElement, ServerTask, TaskDetails, TaskProgress, TaskState,
};
pub use variable::{Variable, VariableScope, VariableSet};

use std::collections::BTreeMap;

/// Hypermedia links of a resource (`Links`): name to URI template.
pub type Links = BTreeMap<String, String>;

/// Fields of a document that this crate does not model, kept verbatim.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// A resource addressed by ID within a collection of the Octopus API.
pub trait Resource:
    serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static
{
    /// Collection segment in the URL, e.g. `projects`.
    const COLLECTION: &'static str;
    /// Whether the collection lives under `/api/{spaceId}/` (true) or `/api/` (false).
    const SPACE_SCOPED: bool = true;
    /// The resource's ID, if it has been assigned one.
    fn id(&self) -> Option<&str>;
}

/// What every named Octopus document has: a name, its space and its links.
pub trait Named: Resource {
    /// The name.
    fn name(&self) -> &str;
    /// The space the document lives in; `None` for documents that are not space-scoped (spaces).
    fn space_id(&self) -> Option<&str>;
    /// Sets the space (for space-scoped documents; spaces ignore it).
    fn set_space(&mut self, space: &str);
    /// Sets the server-assigned ID and (for space-scoped documents) the space.
    fn set_identity(&mut self, id: String, space: &str);
    /// The hypermedia links.
    fn links_mut(&mut self) -> &mut Links;
}

/// Implements [`Named`] from a document's `name`, `id` and `links` fields and, for
/// space-scoped documents, its `space_id` field (spaces have none).
macro_rules! named {
    (space_scoped: $($t:ty),+) => {$(
        named!(@impl $t, |doc| doc.space_id.as_deref(), |doc, space| {
            doc.space_id = Some(space.to_owned());
        });
    )+};
    (unscoped: $($t:ty),+) => {$(
        named!(@impl $t, |_doc| None, |_doc, _space| {});
    )+};
    // The space parts come as closure-like pieces: `self` cannot be passed into a macro.
    (@impl $t:ty, |$get:ident| $space_id:expr, |$set:ident, $space:ident| $set_space:block) => {
        impl Named for $t {
            fn name(&self) -> &str {
                &self.name
            }
            fn space_id(&self) -> Option<&str> {
                let $get = self;
                $space_id
            }
            fn set_space(&mut self, space: &str) {
                let ($set, $space) = (self, space);
                $set_space
            }
            fn set_identity(&mut self, id: String, space: &str) {
                self.id = Some(id);
                self.set_space(space);
            }
            fn links_mut(&mut self) -> &mut Links {
                &mut self.links
            }
        }
    };
}
named!(space_scoped: Environment, ProjectGroup, Lifecycle, Project, Feed, Channel);
named!(unscoped: Space);

/// Serde helpers for Octopus' loose JSON (`null` for empty values).
pub(crate) mod nullable {
    use serde::{Deserialize, Deserializer};

    /// Deserializes `null` as the type's default value.
    pub fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Default + Deserialize<'de>,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }
}

/// True if the value equals its type's default; used to omit empty fields.
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_documents_take_their_identity() {
        let mut env = Environment {
            name: "Dev".into(),
            ..Environment::default()
        };
        env.set_identity("Environments-1".into(), "Spaces-2");
        env.links_mut().insert("Self".into(), "/x".into());
        assert_eq!(env.name(), "Dev");
        assert_eq!(env.id(), Some("Environments-1"));
        assert_eq!(env.space_id(), Some("Spaces-2"));
        assert_eq!(env.links["Self"], "/x");

        // Spaces are not in a space: the space argument is ignored.
        let mut space = Space::new("Ops");
        space.set_identity("Spaces-3".into(), "Spaces-1");
        assert_eq!(space.id(), Some("Spaces-3"));
        assert_eq!(space.space_id(), None);
    }
}
