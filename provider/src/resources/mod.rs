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
use octopus_client::model::text::{is_bidi_control, is_invisible, is_plain_id};
use std::collections::BTreeMap;
use tf_sdk::model::Set;
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
    #[tf(optional, computed, default = "", validate = description)]
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
/// plan); visible, without bidirectional formatting characters (which the server
/// refuses).
pub(crate) fn name(s: &String) -> Result<(), String> {
    tf_sdk::validators::length(1, 200)(s)?;
    tf_sdk::validators::trimmed()(s)?;
    visible_text(s)
}

/// Text the server checks as a name (names, variable names, target roles, package
/// IDs): no control characters, no bidirectional formatting characters (they make a
/// name display as something else) and at least one visible character.
pub(crate) fn visible_text(s: &str) -> Result<(), String> {
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(format!("must not contain control characters (found {c:?})"));
    }
    if let Some(c) = s.chars().find(|&c| is_bidi_control(c)) {
        return Err(format!(
            "must not contain bidirectional formatting characters (found U+{:04X}), which the \
             server refuses: they make text display as something else; remove it",
            u32::from(c)
        ));
    }
    if !s.is_empty() && s.chars().all(is_invisible) {
        return Err(
            "must contain at least one visible character (it has only white space or \
             invisible characters such as zero-width spaces, which the server refuses)"
                .into(),
        );
    }
    Ok(())
}

/// Descriptions are at most 2000 characters on the server.
pub(crate) fn description(s: &String) -> Result<(), String> {
    tf_sdk::validators::length(0, 2000)(s)
}

/// An ID the server accepts in a reference (`Environments-1`, `feeds-builtin`): ASCII
/// letters, digits, '-' and '_', at most 100.
pub(crate) fn reference_id(s: &str) -> Result<(), String> {
    if s.trim() != s && !s.trim().is_empty() {
        return Err(format!(
            "{s:?} has leading or trailing whitespace, which an ID never has; write {:?}",
            s.trim()
        ));
    }
    if is_plain_id(s) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not an Octopus ID (such as Environments-2 or feeds-builtin): IDs are \
             ASCII letters, digits, '-' and '_', at most 100"
        ))
    }
}

/// A set of IDs the server checks one by one (environments, channels, ...); an element
/// not known yet is checked at apply.
pub(crate) fn reference_ids(ids: &Set<Val<String>>) -> Result<(), String> {
    ids.0
        .iter()
        .filter_map(Val::known)
        .try_for_each(|id| reference_id(id))
}

/// An optional reference for which empty means the default (a worker pool, say).
pub(crate) fn reference_id_or_empty(s: &String) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    if s.trim().is_empty() {
        return Err(format!(
            "{s:?} is blank; write \"\" or leave it out for the default"
        ));
    }
    reference_id(s)
}

/// Property names as the server accepts them: 1 to 200 bytes, not blank, no control
/// characters.
pub(crate) fn property_names(props: &BTreeMap<String, String>) -> Result<(), String> {
    for k in props.keys() {
        if k.trim().is_empty() {
            return Err(format!(
                "property name {k:?} is blank, which the server refuses; name the property"
            ));
        }
        if k.len() > 200 {
            return Err(format!(
                "property name {:?}... is {} bytes long; the server allows at most 200",
                k.chars().take(40).collect::<String>(),
                k.len()
            ));
        }
        if let Some(c) = k.chars().find(|c| c.is_control()) {
            return Err(format!(
                "property name {k:?} contains a control character ({c:?}), which the server refuses"
            ));
        }
    }
    Ok(())
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
    tf_sdk::validators::trimmed()(s)?;
    reference_id(s)
}

/// An optional reference whose absence means a default (the space's default lifecycle,
/// say): empty would be replaced by that default, a change on every plan.
pub(crate) fn id_or_default(s: &String) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("must not be empty; leave it out for the default".into());
    }
    tf_sdk::validators::trimmed()(s)?;
    reference_id(s)
}

/// Sort orders are 32-bit on the server.
pub(crate) fn sort_order(n: &i64) -> Result<(), String> {
    tf_sdk::validators::range(i32::MIN.into(), i32::MAX.into())(n)
}
