//! `octopus_variable`: one variable of a project's variable set.
//!
//! Octopus stores a project's variables as one document written whole with its
//! `Version`; Terraform creates, updates and deletes many variables of one project in
//! parallel. Every write therefore goes through the client's
//! [`modify_set`](octopus_client::Variables::modify_set), which re-reads the set and
//! re-applies the one change when another writer saved it in between (409).
//!
//! The variable's ID is a GUID the provider chooses before the first write (as the
//! Octopus .NET client does), so a create finds its variable again in a set other
//! writers change at the same time.

use crate::Octopus;
use crate::errors::{api, not_found_as_none};
use octopus_client::ModifyError;
use octopus_client::model::{Variable, VariableScope, VariableSet};
use tf_sdk::model::Set;
use tf_sdk::value::Value;
use tf_sdk::{
    AttributePath, Context, Diagnostic, Diagnostics, Model, PlanRequest, Resource, Val, validators,
};

/// The variable types the resource manages.
pub const TYPES: &[&str] = &["String", "Sensitive"];

/// A variable of a project: a name and a value, optionally scoped to environments,
/// target roles, channels or steps. Several variables may share a name with different
/// scopes.
///
/// A `Sensitive` variable's value (`sensitive_value`) is never returned by the server:
/// the state keeps the configured value, so a value changed outside Terraform cannot be
/// seen (apply again to write the configured one back), and an import has none (set it
/// in the configuration; the next apply writes it). Removing `sensitive_value` replaces
/// the variable, since Octopus keeps a secret written back without a value.
#[derive(Model, Clone, Debug)]
pub struct VariableModel {
    /// The variable's ID in its set (a GUID).
    #[tf(computed, use_state_for_unknown)]
    pub id: Val<String>,
    /// The project owning the variable. Changing it replaces the variable.
    #[tf(required, requires_replace, validate = owner)]
    pub owner_id: Val<String>,
    /// The space; defaults to the provider's space. Changing it replaces the variable.
    #[tf(optional, computed, use_state_for_unknown, requires_replace, validate = crate::resources::space_id)]
    pub space_id: Val<String>,
    /// The variable's name, e.g. `Db.Password`; referenced as `#{Db.Password}`.
    #[tf(required, validate = variable_name)]
    pub name: Val<String>,
    /// `String` (the default) or `Sensitive` (the value is a secret, set with
    /// `sensitive_value`).
    #[tf(optional, computed, default = "String", name = "type", validate = validators::one_of(TYPES))]
    pub variable_type: Val<String>,
    /// The value of a `String` variable.
    #[tf(optional)]
    pub value: Val<String>,
    /// The value of a `Sensitive` variable: sent to the server, never read back (the
    /// state keeps the configured one; a change made outside Terraform cannot be seen).
    #[tf(optional, sensitive)]
    pub sensitive_value: Val<String>,
    /// Free-text description.
    #[tf(optional, computed, default = "", validate = crate::resources::description)]
    pub description: Val<String>,
    /// Where the value applies; everywhere when left out. Values of one kind are
    /// alternatives, kinds all apply (environment A or B, and role `web`).
    #[tf(block = "single")]
    pub scope: Val<ScopeModel>,
}

/// Where the value applies; everywhere when left out. Values of one kind are
/// alternatives, kinds all apply (environment A or B, and role `web`).
#[derive(Model, Clone, Debug, PartialEq)]
pub struct ScopeModel {
    /// Environment IDs.
    #[tf(optional, computed, default = Value::Set(vec![]), validate = crate::resources::reference_ids)]
    pub environments: Val<Set<Val<String>>>,
    /// Target roles (tags of deployment targets).
    #[tf(optional, computed, default = Value::Set(vec![]), validate = scope_names)]
    pub roles: Val<Set<Val<String>>>,
    /// Channel IDs.
    #[tf(optional, computed, default = Value::Set(vec![]), validate = crate::resources::reference_ids)]
    pub channels: Val<Set<Val<String>>>,
    /// Step (action) IDs of the project's deployment process.
    #[tf(optional, computed, default = Value::Set(vec![]), validate = crate::resources::reference_ids)]
    pub actions: Val<Set<Val<String>>>,
    /// Deployment target IDs.
    #[tf(optional, computed, default = Value::Set(vec![]), validate = crate::resources::reference_ids)]
    pub machines: Val<Set<Val<String>>>,
    /// Tenant tags, `Tag Set/Tag`.
    #[tf(optional, computed, default = Value::Set(vec![]), validate = scope_names)]
    pub tenant_tags: Val<Set<Val<String>>>,
}

/// The scope attributes and the Octopus scope kinds they map to.
const SCOPE_KINDS: [(&str, &str); 6] = [
    ("environments", "Environment"),
    ("roles", "Role"),
    ("channels", "Channel"),
    ("actions", "Action"),
    ("machines", "Machine"),
    ("tenant_tags", "TenantTag"),
];

impl ScopeModel {
    fn fields(&self) -> [&Val<Set<Val<String>>>; 6] {
        [
            &self.environments,
            &self.roles,
            &self.channels,
            &self.actions,
            &self.machines,
            &self.tenant_tags,
        ]
    }

    fn to_api(&self) -> VariableScope {
        let mut scope = VariableScope::new();
        for ((_, kind), field) in SCOPE_KINDS.iter().zip(self.fields()) {
            let values: Vec<String> = field
                .known()
                .map(|s| s.0.iter().filter_map(|v| v.known().cloned()).collect())
                .unwrap_or_default();
            if !values.is_empty() {
                scope.insert((*kind).to_string(), values);
            }
        }
        scope
    }

    fn is_empty(&self) -> bool {
        self.to_api().is_empty()
    }

    fn from_api(scope: &VariableScope) -> ScopeModel {
        let set = |kind: &str| {
            let values = scope.get(kind).cloned().unwrap_or_default();
            Val::Known(Set(values.into_iter().map(Val::Known).collect()))
        };
        ScopeModel {
            environments: set("Environment"),
            roles: set("Role"),
            channels: set("Channel"),
            actions: set("Action"),
            machines: set("Machine"),
            tenant_tags: set("TenantTag"),
        }
    }
}

/// Owners are project IDs (`Projects-1`).
fn owner(s: &String) -> Result<(), String> {
    if s.is_empty() || s.contains(['/', ':']) {
        return Err(format!("{s:?} is not a project ID such as Projects-1"));
    }
    crate::resources::reference_id(s)
}

/// Names as the server keeps them: 1 to 1000 characters, visible, no control or
/// bidirectional formatting characters.
fn variable_name(s: &String) -> Result<(), String> {
    validators::length(1, 1000)(s)?;
    if s.trim().is_empty() {
        return Err("must contain a visible character".into());
    }
    crate::resources::visible_text(s)
}

/// Target roles and tenant tags are names on the server: each 1 to 200 characters,
/// visible, no control or bidirectional formatting characters.
fn scope_names(values: &Set<Val<String>>) -> Result<(), String> {
    for v in values.0.iter().filter_map(Val::known) {
        let checked = validators::length(1, 200)(v).and_then(|()| {
            if v.trim().is_empty() {
                Err("must contain a visible character".into())
            } else {
                crate::resources::visible_text(v)
            }
        });
        checked.map_err(|e| format!("{v:?} {e}"))?;
    }
    Ok(())
}

/// A random version-4 GUID for a new variable. Randomness from the standard library's
/// per-process hasher keys and a counter: IDs only need to be unique, not secret.
fn new_guid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let half = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u64(n);
        h.write_u128(now);
        h.finish()
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&half(1).to_le_bytes());
    b[8..].copy_from_slice(&half(2).to_le_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl VariableModel {
    fn is_sensitive(&self) -> bool {
        self.variable_type.as_deref() == Some("Sensitive")
    }

    fn set_id(&self) -> String {
        VariableSet::id_for_owner(self.owner_id.as_deref().unwrap_or_default())
    }

    /// Writes the model into a variable (a new one, or the server's, keeping what the
    /// model does not manage: its prompt, editability, unknown fields).
    fn write(&self, v: &mut Variable) {
        v.name = self.name.known().cloned().unwrap_or_default();
        v.r#type = self
            .variable_type
            .known()
            .cloned()
            .unwrap_or_else(|| "String".into());
        v.is_sensitive = self.is_sensitive();
        v.value = if self.is_sensitive() {
            self.sensitive_value.known().cloned()
        } else {
            self.value.known().cloned()
        };
        v.description = self.description.known().cloned();
        v.scope = self
            .scope
            .known()
            .map(ScopeModel::to_api)
            .unwrap_or_default();
    }

    /// The model of variable `v` of `owner`'s set in `space`; `known` (the plan or the
    /// state) gives what the server never returns (the secret) and the form of an empty
    /// scope.
    fn read(v: &Variable, owner: &str, space: &str, known: Option<&VariableModel>) -> Self {
        let sensitive = v.is_secret();
        let scope = if v.scope.is_empty() {
            // No scope on the server: keep an empty `scope {}` block the configuration has.
            match known.map(|k| &k.scope) {
                Some(Val::Known(s)) if s.is_empty() => Val::Known(ScopeModel::from_api(&v.scope)),
                _ => Val::Null,
            }
        } else {
            Val::Known(ScopeModel::from_api(&v.scope))
        };
        VariableModel {
            id: v.id.clone().into(),
            owner_id: Val::Known(owner.to_string()),
            space_id: Val::Known(space.to_string()),
            name: Val::Known(v.name.clone()),
            variable_type: Val::Known(if sensitive {
                "Sensitive".into()
            } else {
                v.r#type.clone()
            }),
            value: if sensitive {
                Val::Null
            } else {
                v.value.clone().into()
            },
            sensitive_value: match known {
                Some(k) if sensitive => k.sensitive_value.clone(),
                _ => Val::Null,
            },
            description: Val::Known(v.description.clone().unwrap_or_default()),
            scope,
        }
    }
}

/// Maps a server validation error (`Variables[3].Scope.Environment: ...`) to the
/// attribute it is about.
fn field_path(field: &str) -> Option<AttributePath> {
    let rest = field.split_once("].").map(|(_, r)| r).unwrap_or(field);
    let attr = match rest.split('.').next().unwrap_or_default() {
        "Name" => "name",
        "Type" => "type",
        "Value" => "value",
        "Description" => "description",
        "Scope" => "scope",
        _ => return None,
    };
    Some(AttributePath::root(attr))
}

/// A failed write as diagnostics.
fn write_failed<E>(
    action: &str,
    e: ModifyError<E>,
    gone: impl FnOnce(E) -> Diagnostics,
) -> Diagnostics {
    match e {
        ModifyError::Api(e) if e.is_conflict() => Diagnostic::error(
            "The variable set keeps changing",
            format!(
                "Another writer saved the set each time it was read ({} attempts), so the \
                 variable could not be {action}d. Run apply again when the other writer is done.",
                octopus_client::MAX_MODIFY_ATTEMPTS
            ),
        )
        .into(),
        ModifyError::Api(octopus_client::Error::Api {
            status: 404,
            message,
            ..
        }) if message.starts_with("The VariableSet") => Diagnostic::error(
            format!("Could not {action} the variable: its owner has no variable set"),
            format!(
                "{message} `owner_id` must be the ID of a project (Projects-1) or a library \
                 variable set (LibraryVariableSets-1) in the variable's space."
            ),
        )
        .at(AttributePath::root("owner_id"))
        .into(),
        ModifyError::Api(e) => api(&format!("{action} the variable"), e, Some(&field_path)),
        ModifyError::Rejected(why) => gone(why),
    }
}

/// The resource.
pub struct VariableResource;

impl Resource<Octopus> for VariableResource {
    type Model = VariableModel;

    fn name(&self) -> &str {
        "variable"
    }

    /// The value attribute must match the type: `value` for `String`, `sensitive_value`
    /// for `Sensitive` (so a secret is never in plain sight, nor a plain value hidden).
    fn validate(&self, config: &VariableModel, diags: &mut Diagnostics) {
        // An unset type is the default, String.
        let ty = match &config.variable_type {
            Val::Unknown => return,
            Val::Null => "String",
            Val::Known(t) => t.as_str(),
        };
        if ty == "Sensitive" && !config.value.is_null() {
            diags.push(
                Diagnostic::error(
                    "`value` on a Sensitive variable",
                    "A Sensitive variable's value is a secret: set it with `sensitive_value`, \
                     which Terraform hides from plans and output.",
                )
                .at(AttributePath::root("value")),
            );
        }
        if ty == "String" && !config.sensitive_value.is_null() {
            diags.push(
                Diagnostic::error(
                    "`sensitive_value` on a String variable",
                    "Set `type = \"Sensitive\"` for a secret, or use `value` for a plain value.",
                )
                .at(AttributePath::root("sensitive_value")),
            );
        }
    }

    /// A secret cannot be removed in place (Octopus keeps a sensitive value written back
    /// without one): removing `sensitive_value` replaces the variable.
    async fn modify_plan(
        &self,
        _ctx: &Context<Octopus>,
        req: &mut PlanRequest<VariableModel>,
        _diags: &mut Diagnostics,
    ) {
        if let Some(prior) = &req.prior
            && prior.is_sensitive()
            && !prior.sensitive_value.is_null()
            && req.plan.is_sensitive()
            && req.plan.sensitive_value.is_null()
        {
            req.requires_replace
                .push(AttributePath::root("sensitive_value"));
        }
    }

    async fn create(
        &self,
        ctx: &Context<Octopus>,
        plan: VariableModel,
    ) -> Result<VariableModel, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&plan.space_id).await?;
        let owner = plan.owner_id.as_deref().unwrap_or_default().to_string();
        let id = new_guid();
        let mut var = Variable {
            id: Some(id.clone()),
            is_editable: true,
            ..Variable::default()
        };
        plan.write(&mut var);
        let (saved, ()) = o
            .client
            .variables(&space)
            .modify_set(&plan.set_id(), |set| {
                set.variables.push(var.clone());
                Ok::<_, ()>(())
            })
            .await
            .map_err(|e| write_failed("create", e, |()| Diagnostics::new()))?;
        let stored = saved.variable(&id).ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "The new variable is missing",
                format!("The server saved the set without variable {id}."),
            ))
        })?;
        Ok(VariableModel::read(stored, &owner, &space, Some(&plan)))
    }

    async fn read(
        &self,
        ctx: &Context<Octopus>,
        state: VariableModel,
    ) -> Result<Option<VariableModel>, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&state.space_id).await?;
        let owner = state.owner_id.as_deref().unwrap_or_default().to_string();
        let set = not_found_as_none(o.client.variables(&space).get(&state.set_id()).await)
            .map_err(|e| api("read the variable set", e, None))?;
        let id = state.id.as_deref().unwrap_or_default();
        Ok(set
            .as_ref()
            .and_then(|s| s.variable(id))
            .map(|v| VariableModel::read(v, &owner, &space, Some(&state))))
    }

    async fn update(
        &self,
        ctx: &Context<Octopus>,
        prior: VariableModel,
        plan: VariableModel,
    ) -> Result<VariableModel, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&prior.space_id).await?;
        let owner = plan.owner_id.as_deref().unwrap_or_default().to_string();
        let id = prior.id.as_deref().unwrap_or_default().to_string();
        let (saved, ()) = o
            .client
            .variables(&space)
            .modify_set(&plan.set_id(), |set| {
                let v = set
                    .variables
                    .iter_mut()
                    .find(|v| v.id.as_deref() == Some(&id))
                    .ok_or(())?;
                plan.write(v);
                Ok(())
            })
            .await
            .map_err(|e| {
                write_failed("update", e, |()| {
                    Diagnostic::error(
                        "The variable was deleted outside Terraform",
                        format!(
                            "Variable {id} is no longer in {}; run apply again to create it.",
                            plan.set_id()
                        ),
                    )
                    .into()
                })
            })?;
        let stored = saved.variable(&id).ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "The variable is missing",
                format!("The server saved the set without variable {id}."),
            ))
        })?;
        Ok(VariableModel::read(stored, &owner, &space, Some(&plan)))
    }

    async fn delete(
        &self,
        ctx: &Context<Octopus>,
        state: VariableModel,
    ) -> Result<(), Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&state.space_id).await?;
        let id = state.id.as_deref().unwrap_or_default().to_string();
        let result = o
            .client
            .variables(&space)
            .modify_set(&state.set_id(), |set| {
                set.variables.retain(|v| v.id.as_deref() != Some(&id));
                Ok::<_, ()>(())
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            // The project (and its set) is already gone.
            Err(ModifyError::Api(e)) if e.is_not_found() => Ok(()),
            Err(e) => Err(write_failed("delete", e, |()| Diagnostics::new())),
        }
    }

    /// Imports `<owner_id>:<variable_id>` (the official provider's form), found in any
    /// space the API key can see, or `<space_id>/<owner_id>:<variable_id>`. The value of
    /// a sensitive variable cannot be imported.
    async fn import(
        &self,
        ctx: &Context<Octopus>,
        import_id: &str,
    ) -> Result<VariableModel, Diagnostics> {
        let o = ctx.data()?;
        let (spaces, bare) = o.import_spaces(import_id).await?;
        let Some((owner, id)) = bare
            .split_once(':')
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        else {
            return Err(Diagnostic::error(
                format!("Cannot import variable {import_id}"),
                "Write the import ID as <owner_id>:<variable_id>, e.g. \
                 Projects-1:6f1e2c3a-0000-4000-8000-000000000000.",
            )
            .into());
        };
        let set_id = VariableSet::id_for_owner(owner);
        for space in &spaces {
            let found = not_found_as_none(o.client.variables(space).get(&set_id).await)
                .map_err(|e| api(&format!("import variable {import_id}"), e, None))?;
            if let Some(set) = found {
                return match set.variable(id) {
                    Some(v) => Ok(VariableModel::read(v, owner, space, None)),
                    None => Err(Diagnostic::error(
                        format!("Cannot import variable {import_id}"),
                        format!("{set_id} in {space} has no variable {id}."),
                    )
                    .into()),
                };
            }
        }
        Err(Diagnostic::error(
            format!("Cannot import variable {import_id}"),
            format!(
                "No space the API key can see has {set_id} ({} searched). Check the owner ID, \
                 or write it as <space-id>/<owner_id>:<variable_id>.",
                spaces.len()
            ),
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_version_4_and_distinct() {
        let a = new_guid();
        let b = new_guid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn server_fields_point_at_attributes() {
        assert_eq!(
            field_path("Variables[3].Scope.Environment"),
            Some(AttributePath::root("scope"))
        );
        assert_eq!(
            field_path("Variables[0].Name"),
            Some(AttributePath::root("name"))
        );
        assert_eq!(field_path("Version"), None);
    }
}
