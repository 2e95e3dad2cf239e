//! Between the model and the API document: steps and actions are matched by name, so
//! that each keeps its server ID and the fields the model does not manage.

use super::model::*;
use octopus_client::model::{
    Action, Container, DeploymentProcess, PropertyValue, SensitiveValue, Step,
};
use serde_json::Value as J;
use std::collections::BTreeMap;
use tf_sdk::model::Set;
use tf_sdk::{Json, Val};

/// The step property holding a `Variable` condition's expression.
pub const CONDITION_EXPRESSION: &str = "Octopus.Step.ConditionVariableExpression";
/// The package-reference property saying whether the package is extracted.
pub(super) const EXTRACT: &str = "Extract";
/// The feed a package comes from unless it says.
pub const DEFAULT_FEED: &str = "feeds-builtin";
/// Where a package is acquired unless it says.
pub const DEFAULT_ACQUISITION: &str = "Server";

fn text(v: &Val<String>) -> String {
    v.known().cloned().unwrap_or_default()
}

fn opt_text(v: &Val<String>) -> Option<String> {
    v.known().cloned()
}

fn map(v: &Val<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    v.known().cloned().unwrap_or_default()
}

fn set(v: &Val<Set<Val<String>>>) -> Vec<String> {
    v.known()
        .map(|s| s.0.iter().filter_map(|e| e.known().cloned()).collect())
        .unwrap_or_default()
}

/// Whether two step or action names are the same to the server (trimmed, any case).
pub(super) fn same_name(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// The steps to write: each planned step on top of the server's step of the same
/// name (keeping its ID and unmanaged fields), in the planned order.
pub fn to_steps(plan: &[StepModel], current: &[Step]) -> Vec<Step> {
    plan.iter()
        .map(|s| {
            let name = text(&s.name);
            let existing = current.iter().find(|c| same_name(&c.name, &name));
            let mut step = existing.cloned().unwrap_or_default();
            step.name = name.clone();
            step.start_trigger = opt_text(&s.start_trigger);
            step.condition = opt_text(&s.condition);
            step.package_requirement = opt_text(&s.package_requirement);
            let mut props: BTreeMap<String, PropertyValue> = map(&s.properties)
                .into_iter()
                .map(|(k, v)| (k, PropertyValue::Text(v)))
                .collect();
            if let Some(expr) = s.condition_expression.known() {
                props.insert(
                    CONDITION_EXPRESSION.into(),
                    PropertyValue::Text(expr.clone()),
                );
            }
            step.properties = props;
            let old_actions = existing.map(|e| e.actions.as_slice()).unwrap_or_default();
            let mut actions = vec![to_action(&s.action, &name, old_actions)];
            for child in s.child_step.known().into_iter().flatten() {
                actions.push(to_action(&child.action, &text(&child.name), old_actions));
            }
            step.actions = actions;
            step
        })
        .collect()
}

fn to_action(a: &ActionFields, name: &str, current: &[Action]) -> Action {
    let existing = current.iter().find(|c| same_name(&c.name, name));
    let mut action = existing.cloned().unwrap_or_default();
    action.name = name.to_string();
    action.action_type = match (a.action_type.known(), a.step_package.known()) {
        (Some(t), _) => t.clone(),
        (None, Some(sp)) => text(&sp.id),
        (None, None) => String::new(),
    };
    action.is_disabled = a.is_disabled.known() == Some(&true);
    action.is_required = a.is_required.known() == Some(&true);
    action.notes = opt_text(&a.notes).filter(|n| !n.is_empty());
    action.worker_pool_id = opt_text(&a.worker_pool_id).filter(|n| !n.is_empty());
    action.environments = set(&a.environments);
    action.excluded_environments = set(&a.excluded_environments);
    action.channels = set(&a.channels);
    action.tenant_tags = set(&a.tenant_tags);
    let mut props: BTreeMap<String, PropertyValue> = map(&a.execution_properties)
        .into_iter()
        .map(|(k, v)| (k, PropertyValue::Text(v)))
        .collect();
    for (k, v) in map(&a.sensitive_execution_properties) {
        props.insert(k, PropertyValue::Sensitive(SensitiveValue::new(v)));
    }
    action.properties = props;
    action.container = a.container.known().map(|c| Container {
        feed_id: opt_text(&c.feed_id),
        image: opt_text(&c.image),
    });
    let old_refs = std::mem::take(&mut action.packages);
    let reference = |name: &str| {
        old_refs
            .iter()
            .find(|r| r.name == name)
            .cloned()
            .unwrap_or_default()
    };
    if let Some(p) = a.primary_package.known() {
        let mut r = reference("");
        r.name = String::new();
        r.package_id = text(&p.package_id);
        r.feed_id = text(&p.feed_id);
        r.acquisition_location = opt_text(&p.acquisition_location);
        r.properties = map(&p.properties);
        action.packages.push(r);
    }
    let named = a.packages.known().and_then(|j| j.0.as_object());
    for (name, p) in named.into_iter().flatten() {
        let field =
            |k: &str, default: &str| p.get(k).and_then(J::as_str).unwrap_or(default).to_string();
        let mut r = reference(name);
        r.name = name.clone();
        r.package_id = field("package_id", "");
        r.feed_id = field("feed_id", DEFAULT_FEED);
        r.acquisition_location = Some(field("acquisition_location", DEFAULT_ACQUISITION));
        r.properties = p
            .get("properties")
            .and_then(J::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        r.step_package_inputs_reference_id = p
            .get("step_package_inputs_reference_id")
            .and_then(J::as_str)
            .map(str::to_owned);
        let extract = p.get("extract_during_deployment").and_then(J::as_bool) != Some(false);
        r.properties.insert(
            EXTRACT.into(),
            if extract { "True" } else { "False" }.into(),
        );
        action.packages.push(r);
    }
    match a.step_package.known() {
        Some(sp) => {
            action.step_package_version = usage_version(sp, existing);
            action.inputs = Some(wire_inputs(sp));
        }
        None => {
            action.step_package_version = None;
            action.inputs = None;
        }
    }
    action
}

/// The version to write for a usage: as configured, unless the configured version is
/// unchanged (the plan carried the prior `resolved_version`) and the server has since
/// moved the usage up the same major (an automatic upgrade). Then the server's version
/// is kept: writing an exact, now older version back would silently downgrade the usage
/// whenever another step changes (and the answer would differ from the plan).
fn usage_version(sp: &StepPackageModel, existing: Option<&Action>) -> Option<String> {
    let written = opt_text(&sp.version);
    let current = existing
        .filter(|e| Some(&e.action_type) == sp.id.known())
        .and_then(|e| e.step_package_version.clone());
    match (&written, current) {
        (Some(w), Some(c)) if sp.resolved_version.is_known() && version_still_holds(w, &c) => {
            Some(c)
        }
        _ => written,
    }
}

/// The inputs as sent: `inputs` with `sensitive_inputs` merged in, every secret as a
/// sensitive value (`{"HasValue": true, "NewValue": "..."}`).
pub fn wire_inputs(sp: &StepPackageModel) -> J {
    merged_inputs(
        sp,
        &|leaf| serde_json::json!({"HasValue": true, "NewValue": as_text(leaf)}),
    )
}

/// The inputs as the step's schema sees them: secrets as plain strings.
pub fn plain_inputs(sp: &StepPackageModel) -> J {
    merged_inputs(sp, &|leaf| J::String(as_text(leaf)))
}

/// `inputs` with each secret of `sensitive_inputs` merged in as `secret` makes it.
fn merged_inputs(sp: &StepPackageModel, secret: &dyn Fn(&J) -> J) -> J {
    let mut out = sp
        .inputs
        .known()
        .map(|j| j.0.clone())
        .unwrap_or(J::Object(Default::default()));
    if let Some(secrets) = sp.sensitive_inputs.known() {
        merge(&mut out, &secrets.0, secret);
    }
    out
}

fn as_text(leaf: &J) -> String {
    match leaf {
        J::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Merges `extra` into `base`: objects member by member, other values (mapped by
/// `leaf`) replacing what is there.
fn merge(base: &mut J, extra: &J, leaf: &dyn Fn(&J) -> J) {
    match (base, extra) {
        (J::Object(b), J::Object(e)) => {
            for (k, v) in e {
                match b.get_mut(k) {
                    Some(slot @ J::Object(_)) if v.is_object() => merge(slot, v, leaf),
                    _ => {
                        let mut fresh = J::Object(Default::default());
                        if v.is_object() {
                            merge(&mut fresh, v, leaf);
                        } else {
                            fresh = leaf(v);
                        }
                        b.insert(k.clone(), fresh);
                    }
                }
            }
        }
        (b, e) => *b = leaf(e),
    }
}

fn is_sensitive_value(v: &J) -> bool {
    v.as_object().is_some_and(|o| {
        o.contains_key("HasValue")
            && o.len() <= 3
            && o.keys()
                .all(|k| ["HasValue", "NewValue", "Hint"].contains(&k.as_str()))
    })
}

/// Splits stored inputs into plain inputs and the paths of stored secrets (with
/// whether each still has a value).
fn split_inputs(stored: &J) -> (J, Vec<(Vec<String>, bool)>) {
    fn walk(v: &J, path: &mut Vec<String>, secrets: &mut Vec<(Vec<String>, bool)>) -> Option<J> {
        if is_sensitive_value(v) {
            let has = v.get("HasValue").and_then(J::as_bool).unwrap_or(false);
            secrets.push((path.clone(), has));
            return None;
        }
        match v {
            J::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, e) in m {
                    path.push(k.clone());
                    if let Some(kept) = walk(e, path, secrets) {
                        out.insert(k.clone(), kept);
                    }
                    path.pop();
                }
                Some(J::Object(out))
            }
            other => Some(other.clone()),
        }
    }
    let mut secrets = Vec::new();
    let plain = walk(stored, &mut Vec::new(), &mut secrets).unwrap_or(J::Null);
    (plain, secrets)
}

fn lookup<'a>(v: &'a J, path: &[String]) -> Option<&'a J> {
    path.iter().try_fold(v, |at, k| at.get(k))
}

fn insert(v: &mut J, path: &[String], value: J) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = v;
    for k in parents {
        if !at.is_object() {
            *at = J::Object(Default::default());
        }
        at = at
            .as_object_mut()
            .expect("object")
            .entry(k.clone())
            .or_insert_with(|| J::Object(Default::default()));
    }
    if let Some(m) = at.as_object_mut() {
        m.insert(last.clone(), value);
    }
}

/// Whether `stored` (the server's resolved version) is what `wanted` asks for: a
/// major it is on, or an exact version on the same major it has moved up from by an
/// automatic upgrade.
pub fn version_still_holds(wanted: &str, stored: &str) -> bool {
    use octopus_packaging::version::Version;
    let wanted = wanted.trim();
    let major = wanted
        .strip_suffix(".x")
        .or_else(|| wanted.strip_suffix(".*"))
        .unwrap_or(wanted);
    let Ok(stored) = Version::parse(stored) else {
        return false;
    };
    if !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) {
        return major.parse::<u64>().ok() == Some(stored.major);
    }
    match Version::parse(wanted) {
        Ok(w) => w.major == stored.major && w <= stored,
        Err(_) => false,
    }
}

/// A map attribute read back: empty on the server keeps the form the state had.
fn map_back(
    server: BTreeMap<String, String>,
    prior: Option<&Val<BTreeMap<String, String>>>,
) -> Val<BTreeMap<String, String>> {
    match prior {
        _ if !server.is_empty() => Val::Known(server),
        Some(Val::Known(_)) => Val::Known(server),
        _ => Val::Null,
    }
}

fn set_back(items: Vec<String>) -> Val<Set<Val<String>>> {
    Val::Known(Set(items.into_iter().map(Val::Known).collect()))
}

/// The model of a process read from `space`; `prior` (the state, by step and action
/// name) gives the forms to keep: secrets, which the server never returns, and a
/// usage's version as written.
pub fn from_process(
    doc: DeploymentProcess,
    space: &str,
    prior: Option<&ProcessModel>,
) -> ProcessModel {
    let prior_steps: &[StepModel] = prior
        .and_then(|p| p.step.known())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let steps = doc
        .steps
        .into_iter()
        .map(|s| {
            let before = prior_steps
                .iter()
                .find(|p| same_name(&text(&p.name), &s.name));
            from_step(s, before)
        })
        .collect();
    ProcessModel {
        id: doc.id.into(),
        project_id: Val::Known(doc.project_id),
        space_id: Val::Known(doc.space_id.unwrap_or_else(|| space.to_string())),
        step: Val::Known(steps),
    }
}

fn from_step(s: Step, before: Option<&StepModel>) -> StepModel {
    let mut props = BTreeMap::new();
    let mut condition_expression = Val::Null;
    for (k, v) in s.properties {
        let v = v.as_text().unwrap_or_default().to_string();
        if k == CONDITION_EXPRESSION {
            condition_expression = Val::Known(v);
        } else {
            props.insert(k, v);
        }
    }
    let mut actions = s.actions.into_iter();
    let first = actions.next().unwrap_or_default();
    let children_before: &[ChildStepModel] = before
        .and_then(|b| b.child_step.known())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let child_step = actions
        .map(|a| {
            let prior = children_before
                .iter()
                .find(|c| same_name(&text(&c.name), &a.name));
            ChildStepModel {
                name: Val::Known(a.name.clone()),
                action: from_action(a, prior.map(|c| &c.action)),
            }
        })
        .collect();
    StepModel {
        id: s.id.into(),
        name: Val::Known(s.name),
        start_trigger: Val::Known(
            s.start_trigger
                .unwrap_or_else(|| "StartAfterPrevious".into()),
        ),
        condition: Val::Known(s.condition.unwrap_or_else(|| "Success".into())),
        condition_expression,
        package_requirement: Val::Known(
            s.package_requirement
                .unwrap_or_else(|| "LetOctopusDecide".into()),
        ),
        properties: map_back(props, before.map(|b| &b.properties)),
        action: from_action(first, before.map(|b| &b.action)),
        child_step: Val::Known(child_step),
    }
}

/// A package reference as the configuration wrote it: a member that equals its
/// default is left out unless the prior configuration had it.
fn package_back(r: octopus_client::model::PackageReference, prior: Option<&J>) -> J {
    let had = |k: &str| prior.is_some_and(|p| p.get(k).is_some());
    let mut props = r.properties;
    let extract = props
        .remove(EXTRACT)
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
    let acquisition = r
        .acquisition_location
        .unwrap_or_else(|| DEFAULT_ACQUISITION.into());
    let mut out = serde_json::Map::new();
    out.insert("package_id".into(), J::String(r.package_id));
    if had("feed_id") || r.feed_id != DEFAULT_FEED {
        out.insert("feed_id".into(), J::String(r.feed_id));
    }
    if had("acquisition_location") || acquisition != DEFAULT_ACQUISITION {
        out.insert("acquisition_location".into(), J::String(acquisition));
    }
    if had("extract_during_deployment") || !extract {
        out.insert("extract_during_deployment".into(), J::Bool(extract));
    }
    if had("properties") || !props.is_empty() {
        let m = props.into_iter().map(|(k, v)| (k, J::String(v))).collect();
        out.insert("properties".into(), J::Object(m));
    }
    if let Some(reference) = r.step_package_inputs_reference_id {
        out.insert(
            "step_package_inputs_reference_id".into(),
            J::String(reference),
        );
    }
    J::Object(out)
}

fn from_action(a: Action, before: Option<&ActionFields>) -> ActionFields {
    let mut plain = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    let prior_secrets = before
        .and_then(|b| b.sensitive_execution_properties.known())
        .cloned()
        .unwrap_or_default();
    for (k, v) in a.properties {
        match v {
            PropertyValue::Text(t) => {
                plain.insert(k, t);
            }
            // The server only says whether a secret is set: keep the configured one,
            // and let a cleared one show as a change.
            PropertyValue::Sensitive(s) if s.has_value => {
                secrets.insert(
                    k.clone(),
                    prior_secrets.get(&k).cloned().unwrap_or_default(),
                );
            }
            PropertyValue::Sensitive(_) => {}
        }
    }
    let mut primary = None;
    let mut packages = serde_json::Map::new();
    let prior_primary = before.and_then(|b| b.primary_package.known());
    let prior_packages = before
        .and_then(|b| b.packages.known())
        .and_then(|j| j.0.as_object());
    for r in a.packages {
        if r.name.is_empty() {
            primary = Some(PrimaryPackageModel {
                package_id: Val::Known(r.package_id),
                feed_id: Val::Known(r.feed_id),
                acquisition_location: Val::Known(
                    r.acquisition_location.unwrap_or_else(|| "Server".into()),
                ),
                properties: map_back(r.properties, prior_primary.map(|p| &p.properties)),
            });
        } else {
            let prior = prior_packages.and_then(|p| p.get(&r.name));
            packages.insert(r.name.clone(), package_back(r, prior));
        }
    }
    let step_package = a.step_package_version.clone().map(|resolved| {
        let prior = before.and_then(|b| b.step_package.known());
        let (inputs, stored_secrets) = split_inputs(a.inputs.as_ref().unwrap_or(&J::Null));
        let prior_secrets = prior.and_then(|p| p.sensitive_inputs.known());
        let mut sensitive = J::Object(Default::default());
        for (path, has) in &stored_secrets {
            let value = prior_secrets.and_then(|s| lookup(&s.0, path)).cloned();
            if *has {
                insert(
                    &mut sensitive,
                    path,
                    value.unwrap_or(J::String(String::new())),
                );
            }
        }
        let version = match (prior, prior.and_then(|p| p.version.known())) {
            (_, Some(w)) if version_still_holds(w, &resolved) => w.clone(),
            // Imported: the major, which follows the server's automatic upgrades.
            (None, _) => octopus_packaging::version::Version::parse(&resolved)
                .map(|v| v.major.to_string())
                .unwrap_or_else(|_| resolved.clone()),
            _ => resolved.clone(),
        };
        let inputs_empty = inputs.as_object().is_some_and(|o| o.is_empty());
        StepPackageModel {
            id: Val::Known(a.action_type.clone()),
            version: Val::Known(version),
            inputs: match (inputs_empty, prior.map(|p| &p.inputs)) {
                (true, None | Some(Val::Null)) => Val::Null,
                _ => Val::Known(Json(inputs)),
            },
            sensitive_inputs: if stored_secrets.is_empty()
                && prior.is_none_or(|p| p.sensitive_inputs.is_null())
            {
                Val::Null
            } else {
                Val::Known(Json(sensitive))
            },
            resolved_version: Val::Known(resolved),
        }
    });
    ActionFields {
        action_id: a.id.into(),
        action_type: Val::Known(a.action_type),
        execution_properties: map_back(plain, before.map(|b| &b.execution_properties)),
        sensitive_execution_properties: match (
            secrets.is_empty(),
            before.map(|b| &b.sensitive_execution_properties),
        ) {
            (true, None | Some(Val::Null)) => Val::Null,
            _ => Val::Known(secrets),
        },
        environments: set_back(a.environments),
        excluded_environments: set_back(a.excluded_environments),
        channels: set_back(a.channels),
        tenant_tags: set_back(a.tenant_tags),
        is_disabled: Val::Known(a.is_disabled),
        is_required: Val::Known(a.is_required),
        notes: Val::Known(a.notes.unwrap_or_default()),
        worker_pool_id: Val::Known(a.worker_pool_id.unwrap_or_default()),
        primary_package: primary.into(),
        packages: if packages.is_empty() && before.is_none_or(|b| b.packages.is_null()) {
            Val::Null
        } else {
            Val::Known(Json(J::Object(packages)))
        },
        container: a
            .container
            .map(|c| ContainerModel {
                feed_id: c.feed_id.into(),
                image: c.image.into(),
            })
            .into(),
        step_package: step_package.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_upgrades_on_the_same_major_are_no_change() {
        assert!(version_still_holds("1", "1.4.0"));
        assert!(version_still_holds("1.x", "1.4.0"));
        assert!(
            version_still_holds("1.0.0", "1.4.0"),
            "an older exact version moved up"
        );
        assert!(version_still_holds("1.4.0", "1.4.0"));
        assert!(!version_still_holds("1.5.0", "1.4.0"), "not a downgrade");
        assert!(!version_still_holds("1", "2.0.0"));
        assert!(!version_still_holds("2.0.0", "1.9.0"));
        assert!(!version_still_holds("one", "1.0.0"));
    }

    #[test]
    fn an_unchanged_usage_keeps_the_servers_automatic_upgrade() {
        let usage = |version: &str, resolved: Val<String>| StepPackageModel {
            id: Val::Known("notify".into()),
            version: Val::Known(version.into()),
            inputs: Val::Null,
            sensitive_inputs: Val::Null,
            resolved_version: resolved,
        };
        let on = |version: &str| Action {
            action_type: "notify".into(),
            step_package_version: Some(version.into()),
            ..Action::default()
        };
        let v = |sp: &StepPackageModel, a: Option<&Action>| usage_version(sp, a);
        let same = usage("1.0.0", Val::Known("1.1.0".into()));
        assert_eq!(
            v(&same, Some(&on("1.1.0"))).as_deref(),
            Some("1.1.0"),
            "no downgrade"
        );
        assert_eq!(
            v(&usage("1", Val::Known("1.1.0".into())), Some(&on("1.2.0"))).as_deref(),
            Some("1.2.0")
        );
        // A version changed in the configuration, a new usage, another major or step:
        // as written.
        assert_eq!(
            v(&usage("1.0.0", Val::Unknown), Some(&on("1.1.0"))).as_deref(),
            Some("1.0.0")
        );
        assert_eq!(v(&same, None).as_deref(), Some("1.0.0"));
        assert_eq!(v(&same, Some(&on("2.0.0"))).as_deref(), Some("1.0.0"));
        let other = Action {
            action_type: "other".into(),
            ..on("1.1.0")
        };
        assert_eq!(v(&same, Some(&other)).as_deref(), Some("1.0.0"));
    }

    #[test]
    fn secrets_merge_into_inputs_as_sensitive_values() {
        let sp = StepPackageModel {
            id: Val::Known("s".into()),
            version: Val::Known("1".into()),
            inputs: Val::Known(Json(serde_json::json!({"db": {"host": "h"}, "n": 1}))),
            sensitive_inputs: Val::Known(Json(
                serde_json::json!({"db": {"password": "p"}, "token": "t"}),
            )),
            resolved_version: Val::Unknown,
        };
        assert_eq!(
            wire_inputs(&sp),
            serde_json::json!({
                "db": {"host": "h", "password": {"HasValue": true, "NewValue": "p"}},
                "n": 1,
                "token": {"HasValue": true, "NewValue": "t"}
            })
        );
        assert_eq!(
            plain_inputs(&sp),
            serde_json::json!({"db": {"host": "h", "password": "p"}, "n": 1, "token": "t"})
        );
        let (plain, secrets) = split_inputs(&serde_json::json!({
            "db": {"host": "h", "password": {"HasValue": true}},
            "token": {"HasValue": false}
        }));
        assert_eq!(plain, serde_json::json!({"db": {"host": "h"}}));
        assert_eq!(
            secrets,
            vec![
                (vec!["db".to_string(), "password".to_string()], true),
                (vec!["token".to_string()], false)
            ]
        );
    }
}
