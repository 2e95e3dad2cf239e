//! Which value of each project variable an action sees: scoping and Octopus's
//! specificity rule.
//!
//! A variable applies when every scope kind it names matches (values of one kind
//! are OR-ed, kinds AND-ed). Of several applicable values of one name, the most
//! specific wins: a value scoped to an action beats one scoped to a machine, a
//! role, a tenant tag, an environment, a channel, a process, in that order; an
//! unscoped value loses to all; with equal rank, the one scoped more times wins.

use octopus_client::model::{Variable, VariableSet};
use octostache::Variables;

/// Where an action runs, for scoping.
#[derive(Debug, Clone, Default)]
pub struct ScopeContext {
    /// The deployment's environment.
    pub environment_id: String,
    /// The release's channel.
    pub channel_id: String,
    /// The project (process owner).
    pub project_id: String,
    /// The action (`None`: deployment-level values, e.g. step conditions).
    pub action_id: Option<String>,
    /// Target roles of the step (`Octopus.Action.TargetRoles`).
    pub roles: Vec<String>,
}

/// Specificity order of scope kinds, most specific first.
const RANK: &[&str] = &[
    "Action",
    "Machine",
    "Role",
    "TenantTag",
    "Environment",
    "Channel",
    "ProcessOwner",
];

/// Whether a variable applies in `ctx`; `Some((rank, kinds))` for ordering.
fn applies(v: &Variable, ctx: &ScopeContext) -> Option<(usize, usize)> {
    let mut best = RANK.len();
    let mut kinds = 0;
    for (kind, values) in &v.scope {
        if values.is_empty() {
            continue;
        }
        let has = |x: &str| values.iter().any(|v| v.eq_ignore_ascii_case(x));
        let matches = match kind.as_str() {
            "Environment" => has(&ctx.environment_id),
            "Channel" => has(&ctx.channel_id),
            "ProcessOwner" => has(&ctx.project_id),
            "Action" => ctx.action_id.as_deref().is_some_and(has),
            "Role" => ctx.roles.iter().any(|r| has(r)),
            // No machines or tenants on the built-in worker.
            _ => false,
        };
        if !matches {
            return None;
        }
        kinds += 1;
        if let Some(r) = RANK.iter().position(|k| k == kind) {
            best = best.min(r);
        }
    }
    Some((best, kinds))
}

/// The variables of `sets` (later sets win ties) that apply in `ctx`, added to
/// `into`; returns the sensitive values among them, for masking.
pub fn resolve(sets: &[&VariableSet], ctx: &ScopeContext, into: &mut Variables) -> Vec<String> {
    let mut chosen: std::collections::BTreeMap<String, (usize, usize, &Variable)> =
        std::collections::BTreeMap::new();
    for set in sets {
        for v in &set.variables {
            let Some((rank, kinds)) = applies(v, ctx) else {
                continue;
            };
            let key = v.name.to_lowercase();
            let better = match chosen.get(&key) {
                None => true,
                Some((r, k, _)) => rank < *r || (rank == *r && kinds >= *k),
            };
            if better {
                chosen.insert(key, (rank, kinds, v));
            }
        }
    }
    let mut sensitive = Vec::new();
    for (_, (_, _, v)) in chosen {
        let value = v.value.clone().unwrap_or_default();
        if v.is_sensitive && !value.is_empty() {
            sensitive.push(value.clone());
        }
        into.set(v.name.clone(), value);
    }
    sensitive
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &str, scope: &[(&str, &str)]) -> Variable {
        let mut v = Variable {
            name: name.into(),
            value: Some(value.into()),
            ..Default::default()
        };
        for (k, x) in scope {
            v.scope.entry((*k).into()).or_default().push((*x).into());
        }
        v
    }

    #[test]
    fn the_most_specific_applicable_value_wins() {
        let set = VariableSet {
            variables: vec![
                var("Url", "default", &[]),
                var("Url", "prod", &[("Environment", "Environments-2")]),
                var(
                    "Url",
                    "prod-web",
                    &[("Environment", "Environments-2"), ("Role", "web")],
                ),
                var("Url", "action", &[("Action", "a1")]),
                var("Only", "dev", &[("Environment", "Environments-1")]),
            ],
            ..Default::default()
        };
        let mut ctx = ScopeContext {
            environment_id: "Environments-2".into(),
            ..Default::default()
        };
        let get = |ctx: &ScopeContext, name: &str| {
            let mut vars = Variables::new();
            resolve(&[&set], ctx, &mut vars);
            vars.get(name).map(str::to_owned)
        };
        assert_eq!(get(&ctx, "url").as_deref(), Some("prod"));
        assert_eq!(get(&ctx, "Only"), None);
        ctx.roles = vec!["web".into()];
        assert_eq!(get(&ctx, "Url").as_deref(), Some("prod-web"));
        ctx.action_id = Some("a1".into());
        assert_eq!(get(&ctx, "Url").as_deref(), Some("action"));
        ctx.environment_id = "Environments-1".into();
        ctx.action_id = None;
        ctx.roles.clear();
        assert_eq!(get(&ctx, "Url").as_deref(), Some("default"));
    }
}
