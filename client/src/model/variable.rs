//! Variable sets (`/api/{spaceId}/variables/{id}`): a project's variables, and the
//! frozen snapshots releases take of them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, Links, Resource, nullable};

/// A variable set: the whole set is read and written at once (`PUT` with `Version`).
/// A project's set is `variableset-<ProjectId>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct VariableSet {
    /// `variableset-<OwnerId>`, or a snapshot ID `variableset-<OwnerId>-s-<n>-<suffix>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Owning space; filled in by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// The project (or library variable set) owning the set.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub owner_id: String,
    /// Incremented on every write; a `PUT` with an older version answers 409.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub version: i64,
    /// The variables.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub variables: Vec<Variable>,
    /// Reference data for the scopes (server-computed; ignored on writes).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub scope_values: ScopeValues,
    /// Server-provided links; ignored on writes.
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Links::is_empty"
    )]
    pub links: Links,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One variable of a set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Variable {
    /// A GUID, assigned by the server when absent. A sensitive variable written with
    /// the same `Id` and no value keeps its stored value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name; several variables may share one name with different scopes.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub name: String,
    /// The value; `null` for sensitive variables when read.
    #[serde(default)]
    pub value: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// `String` or `Sensitive` (other Octopus types are kept as written).
    #[serde(default = "string_type", deserialize_with = "type_or_string")]
    pub r#type: String,
    /// Whether the value is secret (`Type = Sensitive`).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub is_sensitive: bool,
    /// Whether the variable may be edited.
    #[serde(default = "yes", deserialize_with = "bool_or_true")]
    pub is_editable: bool,
    /// Where the value applies; empty = everywhere.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub scope: VariableScope,
    /// Prompt settings, kept verbatim (`null` when not prompted).
    #[serde(default)]
    pub prompt: Option<serde_json::Value>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl VariableSet {
    /// The ID of the set a project (or library variable set) owns: `variableset-<OwnerId>`.
    pub fn id_for_owner(owner_id: &str) -> String {
        format!("variableset-{owner_id}")
    }

    /// Whether `id` names a frozen snapshot (`variableset-Projects-1-s-1-ABCDE`), which
    /// cannot be modified.
    pub fn is_snapshot_id(id: &str) -> bool {
        id.contains("-s-")
    }

    /// The variable with this `Id`.
    pub fn variable(&self, id: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.id.as_deref() == Some(id))
    }
}

impl Variable {
    /// A variable of type `String` (not sensitive) with this name and value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
            r#type: string_type(),
            is_editable: true,
            ..Self::default()
        }
    }

    /// A sensitive variable (`Type = Sensitive`) with this name and secret.
    pub fn sensitive(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            r#type: "Sensitive".into(),
            is_sensitive: true,
            ..Self::new(name, value)
        }
    }

    /// Whether the value is a secret (never returned by the server): `IsSensitive`, or
    /// `Type = Sensitive`.
    pub fn is_secret(&self) -> bool {
        self.is_sensitive || self.r#type == "Sensitive"
    }
}

fn string_type() -> String {
    "String".into()
}

fn yes() -> bool {
    true
}

fn type_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(string_type))
}

fn bool_or_true<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

/// A variable's scope: scope kind (`Environment`, `Role`, `Channel`, `Action`,
/// `Machine`, `TenantTag`, `ProcessOwner`) to values. Values of one kind are OR-ed,
/// kinds are AND-ed.
pub type VariableScope = BTreeMap<String, Vec<String>>;

/// Reference data for scopes (`ScopeValues`): `Environments`, `Machines`, `Actions`,
/// `Roles`, `Channels`, `TenantTags`, `Processes`, each `[{Id, Name}]`.
pub type ScopeValues = BTreeMap<String, Vec<serde_json::Value>>;

impl Resource for VariableSet {
    const COLLECTION: &'static str = "variables";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_octopus_json_with_nulls() {
        let set: VariableSet = serde_json::from_value(serde_json::json!({
            "Id": "variableset-Projects-1", "OwnerId": "Projects-1", "Version": 3,
            "Variables": [{"Id": "a", "Name": "Password", "Value": null, "Type": "Sensitive",
                           "IsSensitive": true, "Scope": {"Environment": ["Environments-1"]},
                           "Prompt": null}],
            "ScopeValues": null, "Links": null
        }))
        .unwrap();
        assert_eq!(set.version, 3);
        let v = &set.variables[0];
        assert!(v.is_sensitive && v.is_editable && v.value.is_none());
        assert_eq!(v.scope["Environment"], ["Environments-1"]);
    }
}
