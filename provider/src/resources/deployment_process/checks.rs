//! Plan-time checks of a process: names, step kinds, and step-package usages against
//! the installed package's schema (with what a major upgrade's migration would make
//! of the old inputs when they no longer fit).

use super::mapping::{
    CONDITION_EXPRESSION, EXTRACT, plain_inputs, same_name, version_still_holds, wire_inputs,
};
use super::model::{ActionFields, ProcessModel, StepModel};
use crate::Octopus;
use octopus_client::model::deployment_process::action_types;
use octopus_client::model::step_package::StepPackageFormat;
use octopus_packaging::schema::{Dialect, InputSchema, Marker, ValidationError};
use octopus_packaging::step_package::{Migrations, migrate_inputs};
use serde_json::Value as J;
use std::collections::HashSet;
use tf_sdk::{AttributePath, Diagnostic, Diagnostics, Val};

const SCRIPT_SOURCE: &str = "Octopus.Action.Script.ScriptSource";
const SCRIPT_FILE: &str = "Octopus.Action.Script.ScriptFileName";

/// Every action of a plan with its name and path: the steps' first actions and their
/// child steps.
fn actions(steps: &[StepModel]) -> Vec<(AttributePath, &Val<String>, &ActionFields)> {
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let at = AttributePath::root("step").index(i as i64);
        out.push((at.clone(), &s.name, &s.action));
        for (j, c) in s.child_step.known().into_iter().flatten().enumerate() {
            out.push((
                at.clone().attr("child_step").index(j as i64),
                &c.name,
                &c.action,
            ));
        }
    }
    out
}

/// Configuration checks that need no server.
pub fn validate(config: &ProcessModel, diags: &mut Diagnostics) {
    let steps = config.step.known().map(Vec::as_slice).unwrap_or_default();
    let mut step_names = HashSet::new();
    for (i, s) in steps.iter().enumerate() {
        let at = AttributePath::root("step").index(i as i64);
        if let Some(n) = s.name.known()
            && !step_names.insert(n.trim().to_lowercase())
        {
            diags.error_at(
                at.clone().attr("name"),
                "Duplicate step name",
                format!(
                    "Another step is called {n:?}; steps are matched to the server's by name, so \
                 names must be unique in the process (case does not count)."
                ),
            );
        }
        match (s.condition.as_deref(), &s.condition_expression) {
            (Some("Variable"), Val::Null) => diags.error_at(
                at.clone().attr("condition_expression"),
                "Missing condition_expression",
                "A step with condition = \"Variable\" runs when this expression is true; set it, \
                 e.g. \"#{RunThisStep}\".",
            ),
            (Some(c), Val::Known(_)) if c != "Variable" => diags.error_at(
                at.clone().attr("condition_expression"),
                "condition_expression is only used with condition = \"Variable\"",
                format!("This step's condition is {c:?}; remove condition_expression or set condition = \"Variable\"."),
            ),
            _ => {}
        }
        if s.properties
            .known()
            .is_some_and(|p| p.contains_key(CONDITION_EXPRESSION))
        {
            diags.error_at(
                at.clone().attr("properties"),
                "Use condition_expression",
                format!("{CONDITION_EXPRESSION} is set through condition_expression."),
            );
        }
    }
    let mut action_names = HashSet::new();
    for (at, name, a) in actions(steps) {
        if let Some(n) = name.known()
            && at.0.len() > 2
            && !action_names.insert(n.trim().to_lowercase())
        {
            diags.error_at(
                at.clone().attr("name"),
                "Duplicate action name",
                format!(
                    "{n:?} names another step or child step; action names are unique in a process."
                ),
            );
        }
        if let Some(n) = name.known() {
            action_names.insert(n.trim().to_lowercase());
        }
        check_action(&at, a, diags);
    }
}

fn check_action(at: &AttributePath, a: &ActionFields, diags: &mut Diagnostics) {
    let sp = a.step_package.known();
    match (&a.action_type, sp.map(|s| &s.id)) {
        (Val::Null, None) => diags.error_at(
            at.clone().attr("type"),
            "Missing action type",
            "Set `type` (e.g. \"Octopus.Script\") or `step_package` (whose step ID is the type).",
        ),
        (Val::Known(t), Some(Val::Known(id))) if t != id => diags.error_at(
            at.clone().attr("type"),
            "type does not match step_package",
            format!("A step-package step's type is its step ID, {id:?}; remove `type` or set it to that."),
        ),
        _ => {}
    }
    if let Some(t) = a.action_type.known() {
        let problem = if t.trim().is_empty() {
            Some(
                "`type` is empty: set it (e.g. \"Octopus.Script\"), or leave it out with `step_package`."
                    .to_string(),
            )
        } else if t.trim() != t {
            Some(format!(
                "{t:?} has leading or trailing whitespace, which the server does not accept in an \
                 action type; write {:?}",
                t.trim()
            ))
        } else {
            action_types::BUILT_IN
                .iter()
                .find(|b| b.eq_ignore_ascii_case(t) && **b != t.as_str())
                .map(|b| format!("Action types are case-sensitive on the server; write {b:?}."))
        };
        if let Some(why) = problem {
            diags.error_at(at.clone().attr("type"), "Invalid value for type", why);
        }
    }
    if let (Some(plain), Some(secret)) = (
        a.execution_properties.known(),
        a.sensitive_execution_properties.known(),
    ) && let Some(k) = plain.keys().find(|k| secret.contains_key(*k))
    {
        diags.error_at(
            at.clone().attr("sensitive_execution_properties"),
            "Property set twice",
            format!(
                "{k:?} is in both execution_properties and sensitive_execution_properties; an \
                 action has one value per property: keep it in sensitive_execution_properties \
                 if it is a secret, else in execution_properties."
            ),
        );
    }
    if let Val::Known(packages) = &a.packages {
        check_packages(&at.clone().attr("packages"), packages, diags);
    }
    let props = a.execution_properties.known();
    if props.and_then(|p| p.get(SCRIPT_SOURCE)).map(String::as_str) == Some("Package") {
        if a.primary_package.is_null() {
            diags.error_at(
                at.clone().attr("primary_package"),
                "A script from a package needs the package",
                format!("{SCRIPT_SOURCE} = \"Package\" runs a script from primary_package; set primary_package."),
            );
        }
        if props.is_some_and(|p| p.get(SCRIPT_FILE).is_none_or(|f| f.trim().is_empty())) {
            diags.error_at(
                at.clone().attr("execution_properties"),
                "A script from a package needs its file name",
                format!(
                    "Set {SCRIPT_FILE} to the script's path inside the package, e.g. \"deploy.sh\"."
                ),
            );
        }
    }
    if let Some(sp) = sp {
        if let Val::Known(inputs) = &sp.inputs
            && !inputs.0.is_object()
        {
            diags.error_at(
                at.clone().attr("step_package").attr("inputs"),
                "Inputs are an object",
                "Write the inputs as an object, e.g. { channel = \"#ops\" }.",
            );
        }
        if let Val::Known(secrets) = &sp.sensitive_inputs
            && !leaves_are_text(&secrets.0)
        {
            diags.error_at(
                at.clone().attr("step_package").attr("sensitive_inputs"),
                "Sensitive inputs are text",
                "Each sensitive input is a string (nested in objects if the schema says so); \
                 sensitive values are stored as text.",
            );
        }
    }
}

/// `packages` holds `{ name = { package_id, feed_id, acquisition_location,
/// extract_during_deployment, properties, step_package_inputs_reference_id } }`.
fn check_packages(at: &AttributePath, packages: &tf_sdk::Json, diags: &mut Diagnostics) {
    let mut problem = |pointer: &str, why: String| {
        diags.error_at(
            packages.path(at.clone(), pointer),
            "Invalid package reference",
            why,
        )
    };
    let Some(refs) = packages.0.as_object() else {
        return problem("", "`packages` maps reference names to packages, e.g. { tools = { package_id = \"tools\" } }.".into());
    };
    for (name, r) in refs {
        let here = format!("/{}", name.replace('~', "~0").replace('/', "~1"));
        let Some(fields) = r.as_object() else {
            problem(
                &here,
                format!("Package {name:?} is an object with at least `package_id`."),
            );
            continue;
        };
        if name.is_empty() {
            problem(
                &here,
                "The empty reference name is the primary package: use `primary_package`.".into(),
            );
        }
        match fields.get("package_id").and_then(J::as_str) {
            None | Some("") => problem(
                &here,
                format!("Package {name:?} needs `package_id`, a non-empty string."),
            ),
            Some(id) => {
                if let Err(why) = super::model::package_id(&id.to_string()) {
                    problem(
                        &format!("{here}/package_id"),
                        format!("`package_id` {why}."),
                    );
                }
            }
        }
        if fields
            .get("properties")
            .and_then(J::as_object)
            .is_some_and(|p| p.contains_key(EXTRACT))
        {
            problem(
                &format!("{here}/properties/{EXTRACT}"),
                format!(
                    "`{EXTRACT}` is what `extract_during_deployment` sets: write \
                     extract_during_deployment = false (or true) instead of the property."
                ),
            );
        }
        for (k, v) in fields {
            let ok = match k.as_str() {
                "package_id"
                | "feed_id"
                | "acquisition_location"
                | "step_package_inputs_reference_id" => v.is_string(),
                "extract_during_deployment" => v.is_boolean(),
                "properties" => v.as_object().is_some_and(|m| m.values().all(J::is_string)),
                _ => {
                    problem(
                        &format!("{here}/{k}"),
                        format!(
                            "`{k}` is not a package field; use package_id, feed_id, acquisition_location, \
                         extract_during_deployment, properties or step_package_inputs_reference_id."
                        ),
                    );
                    continue;
                }
            };
            if !ok {
                let want = match k.as_str() {
                    "extract_during_deployment" => "a bool",
                    "properties" => "a map of strings",
                    _ => "a string",
                };
                problem(&format!("{here}/{k}"), format!("`{k}` is {want}."));
            }
        }
    }
}

fn leaves_are_text(v: &J) -> bool {
    match v {
        J::Object(m) => m.values().all(leaves_are_text),
        J::String(_) => true,
        _ => false,
    }
}

fn same(a: &Val<String>, b: &Val<String>) -> bool {
    match (a.known(), b.known()) {
        (Some(x), Some(y)) => same_name(x, y),
        _ => false,
    }
}

/// Gives planned steps and actions the server IDs (and a usage its resolved version)
/// of the prior step or action of the same name, so that inserting, removing or
/// reordering steps plans no change to the others.
pub fn carry_identities(plan: &mut ProcessModel, prior: Option<&ProcessModel>) {
    let prior_steps = prior
        .and_then(|p| p.step.known())
        .cloned()
        .unwrap_or_default();
    let Val::Known(steps) = &mut plan.step else {
        return;
    };
    for s in steps.iter_mut() {
        let before = prior_steps.iter().find(|p| same(&p.name, &s.name));
        s.id = before.map_or(Val::Unknown, |b| b.id.clone());
        carry_action(&mut s.action, before.map(|b| &b.action));
        let children_before = before
            .and_then(|b| b.child_step.known())
            .cloned()
            .unwrap_or_default();
        if let Val::Known(children) = &mut s.child_step {
            for c in children.iter_mut() {
                let cb = children_before.iter().find(|p| same(&p.name, &c.name));
                carry_action(&mut c.action, cb.map(|b| &b.action));
            }
        }
    }
}

fn carry_action(a: &mut ActionFields, before: Option<&ActionFields>) {
    a.action_id = before.map_or(Val::Unknown, |b| b.action_id.clone());
    if let (Val::Unknown | Val::Null, Val::Known(sp)) = (&a.action_type, &a.step_package) {
        a.action_type = sp.id.clone();
    }
    if let Val::Known(sp) = &mut a.step_package {
        let prior = before.and_then(|b| b.step_package.known());
        sp.resolved_version = match prior {
            Some(p) if p.id == sp.id && p.version == sp.version => p.resolved_version.clone(),
            _ => Val::Unknown,
        };
    }
}

/// Checks every step-package usage whose step and version are known against the
/// installed step's schema; nothing is sent when this fails.
pub async fn check_step_packages(
    o: &Octopus,
    plan: &ProcessModel,
    prior: Option<&ProcessModel>,
    diags: &mut Diagnostics,
) {
    let steps = plan.step.known().map(Vec::as_slice).unwrap_or_default();
    let prior_steps = prior
        .and_then(|p| p.step.known())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let prior_actions = actions(prior_steps);
    for (at, name, a) in actions(steps) {
        let Some(sp) = a.step_package.known() else {
            continue;
        };
        let (Some(step_id), Some(version)) = (sp.id.known(), sp.version.known()) else {
            continue;
        };
        let at = at.attr("step_package");
        // What the server will run: an unchanged usage that the server has moved up its
        // major keeps the server's version (as the mapping writes it back).
        let version = sp
            .resolved_version
            .known()
            .filter(|r| version_still_holds(version, r))
            .unwrap_or(version);
        let resolved = match o.step_catalog.resolve(&o.client, step_id, version).await {
            Ok(Ok(r)) => r,
            // Nothing is sent: the server would refuse the usage. A version that an
            // `octopus_step_package` of this run installs is pending in the catalogue
            // once that resource is planned, which Terraform does first when this one
            // depends on it.
            Ok(Err(why)) => {
                diags.push(
                    Diagnostic::error("Step package not installed", not_installed(&why))
                        .at(at.clone().attr("version")),
                );
                continue;
            }
            Err(d) => {
                diags.extend(d);
                return;
            }
        };
        // Unknown inputs (from resources not created yet) are checked once known.
        if sp.inputs.is_unknown() || sp.sensitive_inputs.is_unknown() {
            continue;
        }
        let octopus = resolved.step.format == StepPackageFormat::Octopus;
        let dialect = if octopus {
            Dialect::Octopus
        } else {
            Dialect::Ours
        };
        let schema = match InputSchema::compile_with(&resolved.step.inputs_schema, dialect) {
            Ok(s) => s,
            Err(e) => {
                diags.error_at(
                    at.clone(),
                    "The step package's inputs schema is invalid",
                    e.to_string(),
                );
                continue;
            }
        };
        // Ours: the schema sees secrets as text. Octopus's: the inputs as stored, where a
        // secret is a sensitive value, which its schema must mark `isSensitiveValue`.
        let checked = if octopus {
            wire_inputs(sp)
        } else {
            plain_inputs(sp)
        };
        let mut errors = schema.validate(&checked).err().unwrap_or_default();
        if octopus {
            // An unmarked secret's own type error says less than why it is wrong.
            let unmarked = unmarked_secrets(&schema, &checked, sp);
            errors.retain(|e| !unmarked.iter().any(|u| u.path == e.path));
            errors.extend(unmarked);
        }
        if errors.is_empty() {
            continue;
        }
        let label = format!("{} {}", resolved.package_id, resolved.version);
        let prior_action = prior_actions
            .iter()
            .find(|(_, n, _)| same(n, name))
            .map(|(_, _, pa)| *pa);
        let prior_usage = prior_action.and_then(|pa| pa.step_package.known());
        let mut suggestion = prior_usage.and_then(|p| migration_hint(p, &resolved, &label));
        if octopus
            && suggestion.is_some()
            && let (Some(process), Some(action)) = (prior, prior_action)
        {
            suggestion = Some(octopus_migration_hint(o, process, action, &resolved, &label).await);
        }
        let secrets = sp
            .sensitive_inputs
            .known()
            .map(|j| j.0.clone())
            .unwrap_or(J::Null);
        for e in errors {
            let pointer: Vec<String> = e
                .path
                .split('/')
                .skip(1)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect();
            let secret = pointer_in(&secrets, &pointer);
            let (attr, json) = if secret {
                ("sensitive_inputs", sp.sensitive_inputs.known())
            } else {
                ("inputs", sp.inputs.known())
            };
            let base = at.clone().attr(attr);
            let path = match json {
                Some(j) => j.path(base, &e.path),
                None => base,
            };
            // Messages of enum and range checks quote the value: not for secrets.
            let message = if secret {
                e.message
                    .split(", got")
                    .next()
                    .unwrap_or_default()
                    .to_string()
            } else {
                e.message.clone()
            };
            let shown = if e.path.is_empty() {
                "/"
            } else {
                e.path.as_str()
            };
            let mut detail = format!("{shown} ({path}): {message} (the inputs schema of {label}).");
            if !secret && message.starts_with("expected a sensitive value") {
                detail.push_str(" Set it in `sensitive_inputs`, or bind it to a sensitive variable (\"#{Name}\").");
            }
            if let Some(s) = &suggestion {
                detail.push_str(&format!("\n\n{s}"));
            }
            diags.push(
                Diagnostic::error(
                    format!(
                        "Invalid input for step {:?}",
                        name.as_deref().unwrap_or_default()
                    ),
                    detail,
                )
                .at(path),
            );
        }
    }
}

/// Why a usage's step package is not installed, and the ways to install it.
fn not_installed(why: &str) -> String {
    format!(
        "{why} If an octopus_step_package of this configuration installs it, make this \
         resource depend on it (`depends_on = [octopus_step_package.<name>]`, or use one of \
         its attributes) so it is planned and installed first. A package in the server's \
         step feed that is not on its trusted allow-list is not installed either: \
         octopus-lite's administrator trusts it with `--trust-step-package <package-id>`."
    )
}

/// Octopus's format: each secret of `sensitive_inputs` must be where the schema has a
/// sensitive value; elsewhere it would be sent as one and refused, or stored as plain text.
fn unmarked_secrets(
    schema: &InputSchema,
    wire: &J,
    sp: &super::model::StepPackageModel,
) -> Vec<ValidationError> {
    let Some(secrets) = sp.sensitive_inputs.known() else {
        return Vec::new();
    };
    let marked: Vec<String> = schema
        .marked_inputs(wire)
        .into_iter()
        .filter(|m| m.marker == Marker::SensitiveValue)
        .map(|m| m.path)
        .collect();
    let mut leaves = Vec::new();
    secret_leaves(&secrets.0, &mut String::new(), &mut leaves);
    leaves
        .into_iter()
        .filter(|p| !marked.contains(p))
        .map(|path| ValidationError {
            path,
            message:
                "is not a sensitive value (`isSensitiveValue`) in the schema: set it in `inputs`"
                    .into(),
        })
        .collect()
}

fn secret_leaves(v: &J, path: &mut String, out: &mut Vec<String>) {
    match v {
        J::Object(m) => {
            for (k, e) in m {
                let len = path.len();
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                secret_leaves(e, path, out);
                path.truncate(len);
            }
        }
        _ => out.push(path.clone()),
    }
}

fn pointer_in(v: &J, pointer: &[String]) -> bool {
    let mut at = v;
    for (i, k) in pointer.iter().enumerate() {
        match at.get(k) {
            Some(next) => at = next,
            None => return i > 0 && !at.is_object(),
        }
    }
    !pointer.is_empty() && !at.is_object()
}

/// For a usage moving to another major: what the new major's migrations make of the
/// old (non-secret) inputs, ready to paste.
fn migration_hint(
    prior: &super::model::StepPackageModel,
    resolved: &super::catalog::Resolved,
    label: &str,
) -> Option<String> {
    let from = prior
        .resolved_version
        .known()
        .and_then(|v| octopus_packaging::version::Version::parse(v).ok())?;
    let to = resolved.version.major;
    if from.major >= to || version_still_holds(&to.to_string(), &from.to_string()) {
        return None;
    }
    let old = prior
        .inputs
        .known()
        .map(|j| j.0.clone())
        .unwrap_or(J::Object(Default::default()));
    if resolved.step.format == StepPackageFormat::Octopus {
        // Its migration.js runs on the server: see `octopus_migration_hint`.
        return Some(format!(
            "{label} is a new major version: its migration.js converts inputs from {from}."
        ));
    }
    let migrations: Migrations = serde_json::from_value(resolved.step.migrations.clone()).ok()?;
    Some(match migrate_inputs(&old, &migrations, from.major, to) {
        Ok(migrated) => format!(
            "{label} is a new major version. Its migration from {from} turns the current inputs \
             into:\n\ninputs = {}",
            hcl(&migrated, 0)
        ),
        Err(e) => format!("{label}'s migration from {from} cannot migrate the current inputs: {e}"),
    })
}

/// For an Octopus-format step moving to another major: what its `migration.js` makes of
/// the stored inputs, asked of the server through the same route an explicit upgrade
/// takes (`…/steppackages/upgrade` as a dry run, which saves nothing).
async fn octopus_migration_hint(
    o: &Octopus,
    process: &ProcessModel,
    action: &ActionFields,
    resolved: &super::catalog::Resolved,
    label: &str,
) -> String {
    let (Some(space), Some(process_id), Some(action_id)) = (
        process.space_id.known(),
        process.id.known(),
        action.action_id.known(),
    ) else {
        return format!("{label} is a new major version: its migration.js converts the inputs.");
    };
    let req = octopus_client::model::step_package::StepPackageUpgrade {
        action_id: Some(action_id.clone()),
        version: resolved.version.to_string(),
        dry_run: true,
        ..Default::default()
    };
    match o
        .client
        .step_packages()
        .upgrade(space, process_id, &req)
        .await
    {
        Ok(p) => {
            let migrated = p
                .steps
                .iter()
                .flat_map(|s| &s.actions)
                .find(|a| a.id.as_deref() == Some(action_id.as_str()))
                .and_then(|a| a.inputs.clone())
                .map(|mut inputs| {
                    strip_secrets(&mut inputs);
                    inputs
                })
                .unwrap_or(J::Object(Default::default()));
            format!(
                "{label} is a new major version. Its migration.js turns the current inputs \
                 into (secrets stay in sensitive_inputs):\n\ninputs = {}",
                hcl(&migrated, 0)
            )
        }
        Err(e) => format!("{label}'s migration.js cannot migrate the current inputs: {e}"),
    }
}

/// Drops sensitive values (`{HasValue, …}`) from migrated inputs: they belong in
/// `sensitive_inputs`, and the server only answers `HasValue` for them anyway.
fn strip_secrets(v: &mut J) {
    if let J::Object(m) = v {
        m.retain(|_, x| !(x.is_object() && x.get("HasValue").is_some()));
        m.values_mut().for_each(strip_secrets);
    } else if let J::Array(items) = v {
        items.iter_mut().for_each(strip_secrets);
    }
}

/// JSON as HCL an author can paste.
fn hcl(v: &J, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    match v {
        J::Object(m) if m.is_empty() => "{}".into(),
        J::Object(m) => {
            let mut out = String::from("{\n");
            for (k, e) in m {
                let key = if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    && !k.starts_with(|c: char| c.is_ascii_digit())
                {
                    k.clone()
                } else {
                    serde_json::to_string(k).unwrap_or_default()
                };
                out.push_str(&format!("{pad}{key} = {}\n", hcl(e, indent + 1)));
            }
            out.push_str(&"  ".repeat(indent));
            out.push('}');
            out
        }
        J::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|e| hcl(e, indent))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// The attribute an Octopus validation error names (`Steps[2].Actions[1].Inputs/port`).
pub fn field_path(field: &str) -> Option<AttributePath> {
    let mut rest = field.strip_prefix("Steps[")?;
    let (i, r) = rest.split_once(']')?;
    let mut path = AttributePath::root("step").index(i.parse().ok()?);
    rest = r.strip_prefix('.').unwrap_or(r);
    if let Some(r) = rest.strip_prefix("Actions[") {
        let (j, r) = r.split_once(']')?;
        let j: i64 = j.parse().ok()?;
        if j > 0 {
            path = path.attr("child_step").index(j - 1);
        }
        rest = r.strip_prefix('.').unwrap_or(r);
    }
    let head: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let attr = match head.as_str() {
        "Name" => "name",
        "ActionType" => "type",
        "Condition" => "condition",
        "StartTrigger" => "start_trigger",
        "PackageRequirement" => "package_requirement",
        "Properties" => "execution_properties",
        "Environments" => "environments",
        "ExcludedEnvironments" => "excluded_environments",
        "Channels" => "channels",
        "WorkerPoolId" => "worker_pool_id",
        "Notes" => "notes",
        "Container" => "container",
        "Packages" => "packages",
        "Inputs" => return Some(path.attr("step_package").attr("inputs")),
        "StepPackageVersion" => return Some(path.attr("step_package").attr("version")),
        _ => return Some(path),
    };
    Some(path.attr(attr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf_sdk::Json;

    #[test]
    fn server_fields_map_to_attributes() {
        let p = |f: &str| field_path(f).map(|p| p.to_string());
        assert_eq!(p("Steps[2].Name").as_deref(), Some("step[2].name"));
        assert_eq!(
            p("Steps[0].Actions[0].ActionType").as_deref(),
            Some("step[0].type")
        );
        assert_eq!(
            p("Steps[1].Actions[2].Inputs/port").as_deref(),
            Some("step[1].child_step[1].step_package.inputs")
        );
        assert_eq!(p("Name"), None);
    }

    #[test]
    fn migrated_inputs_read_as_hcl() {
        let v = serde_json::json!({"database": {"host": "db", "port": 5432}, "tags": ["a"], "a b": true});
        assert_eq!(
            hcl(&v, 0),
            "{\n  \"a b\" = true\n  database = {\n    host = \"db\"\n    port = 5432\n  }\n  tags = [\"a\"]\n}"
        );
    }

    #[test]
    fn secrets_are_found_by_pointer() {
        let s = serde_json::json!({"token": "x", "db": {"password": "y"}});
        let at = |p: &[&str]| pointer_in(&s, &p.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert!(at(&["token"]));
        assert!(at(&["db", "password"]));
        assert!(!at(&["db"]));
        assert!(!at(&["other"]));
    }

    #[test]
    fn json_paths_point_inside_inputs() {
        let j = Json(serde_json::json!({"database": {"port": "x"}}));
        let at = AttributePath::root("step")
            .index(2)
            .attr("step_package")
            .attr("inputs");
        assert_eq!(
            j.path(at, "/database/port").to_string(),
            "step[2].step_package.inputs.database.port"
        );
    }
}
