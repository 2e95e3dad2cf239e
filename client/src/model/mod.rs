//! Octopus Deploy API model types, shared by the client and the embedded server.
//!
//! Every type serializes with Octopus' PascalCase field names, tolerates fields it
//! does not model (they are kept in `extra` where a document is read, modified and
//! written back) and accepts `null` wherever Octopus may send it.
//!
//! Planned next: packages and step packages, releases and deployment tasks, each
//! in its own module beside these.

pub mod deployment_process;
pub mod environment;
pub mod error;
pub mod feed;
pub mod lifecycle;
pub mod package;
pub mod paging;
pub mod project;
pub mod project_group;
pub mod root;
pub mod space;
pub mod step_package;

pub use deployment_process::{
    Action, Container, DeploymentProcess, GitDependency, PackageReference, PropertyValue, Step,
};
pub use environment::Environment;
pub use error::ErrorBody;
pub use feed::{Feed, FeedType, SensitiveValue};
pub use lifecycle::{Lifecycle, Phase};
pub use paging::ResourceCollection;
pub use project::Project;
pub use project_group::ProjectGroup;
pub use root::RootDocument;
pub use space::Space;

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
