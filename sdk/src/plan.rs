//! The plan pipeline, on values: defaults, "known after apply" for computed
//! attributes, `use_state_for_unknown`, `requires_replace`, and the consistency
//! guarantees Terraform checks (the plan keeps every configured value; the applied
//! state keeps every known planned value).
//!
//! Nested objects are matched with their configuration and prior state by list
//! index, map key, or, in sets, by value (see `pair_set`). `requires_replace` on an
//! attribute inside a set element is not looked for: mark the set itself instead.

use crate::diag::{AttributePath, PathStep};
use crate::schema::{Attribute, AttributeType, Block, Nesting};
use crate::value::Value;
use std::collections::BTreeMap;

fn obj(v: &Value) -> Option<&BTreeMap<String, Value>> {
    match v.peel() {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn obj_mut(v: &mut Value) -> Option<&mut BTreeMap<String, Value>> {
    match v.peel_mut() {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn attr<'a>(v: &'a Value, name: &str) -> &'a Value {
    obj(v).and_then(|m| m.get(name)).unwrap_or(&Value::Null)
}

/// Nested objects of a value at `nesting`, each paired with the configuration's and
/// the prior state's object at the same position (list index or map key). Set
/// elements have no position: they are paired by value ([`pair_set`]).
fn pair_children<'a>(
    nesting: Nesting,
    block: &Block,
    plan: &'a mut Value,
    config: &'a Value,
    prior: &'a Value,
) -> Vec<(&'a mut Value, &'a Value, &'a Value)> {
    let at_index = |v: &'a Value, i: usize| match v.peel() {
        Value::List(items) => items.get(i).unwrap_or(&Value::Null),
        _ => &Value::Null,
    };
    let at_key = |v: &'a Value, k: &str| match v.peel() {
        Value::Map(items) | Value::Object(items) => items.get(k).unwrap_or(&Value::Null),
        _ => &Value::Null,
    };
    // Lists and maps of objects holding `dynamic` values arrive as tuples and objects.
    match (nesting, plan.peel_mut()) {
        (Nesting::Single | Nesting::Group, p @ Value::Object(_)) => vec![(p, config, prior)],
        (Nesting::Map, Value::Map(ps) | Value::Object(ps)) => ps
            .iter_mut()
            .map(|(k, p)| (p, at_key(config, k), at_key(prior, k)))
            .collect(),
        (Nesting::List, Value::List(ps)) => ps
            .iter_mut()
            .enumerate()
            .map(|(i, p)| (p, at_index(config, i), at_index(prior, i)))
            .collect(),
        (Nesting::Set, Value::Set(ps)) => {
            let pairs = pair_set(block, ps, config, prior);
            ps.iter_mut()
                .zip(pairs)
                .map(|(p, (c, q))| (p, c, q))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Pairs each planned set element with the configured element it came from and the
/// prior element it continues, as Terraform's proposed state does:
/// - the configuration's element is one whose every configured (non-null) attribute
///   has the planned value;
/// - the prior element is one that agrees with the plan on every attribute the
///   provider does not compute (configured ones, and ones that are not computed).
///
/// Each configured and prior element is used at most once; an element with no
/// counterpart is paired with null (a new element has no prior).
fn pair_set<'a>(
    block: &Block,
    planned: &[Value],
    config: &'a Value,
    prior: &'a Value,
) -> Vec<(&'a Value, &'a Value)> {
    let items = |v: &'a Value| -> &'a [Value] {
        match v.peel() {
            Value::Set(items) => items,
            _ => &[],
        }
    };
    let (configs, priors) = (items(config), items(prior));
    let mut config_used = vec![false; configs.len()];
    let mut prior_used = vec![false; priors.len()];
    let take = |pool: &'a [Value], used: &mut [bool], fits: &dyn Fn(&Value) -> bool| {
        let i = (0..pool.len()).find(|&i| !used[i] && fits(&pool[i]))?;
        used[i] = true;
        Some(&pool[i])
    };
    planned
        .iter()
        .map(|p| {
            let c = take(configs, &mut config_used, &|c| {
                block.attributes.iter().all(|a| {
                    let cv = attr(c, &a.name);
                    cv.is_null() || attr(p, &a.name).semantic_eq(cv)
                })
            })
            .unwrap_or(&Value::Null);
            let q = take(priors, &mut prior_used, &|q| {
                block.attributes.iter().all(|a| {
                    (a.computed && attr(c, &a.name).is_null())
                        || attr(q, &a.name).semantic_eq(attr(p, &a.name))
                })
            })
            .unwrap_or(&Value::Null);
            (c, q)
        })
        .collect()
}

/// Read-only pairing of nested objects, with the path step to each.
fn children<'a>(
    nesting: Nesting,
    plan: &'a Value,
    config: &'a Value,
    prior: &'a Value,
) -> Vec<(Option<PathStep>, &'a Value, &'a Value, &'a Value)> {
    let get = |v: &'a Value, i: usize, k: &str| match v.peel() {
        Value::List(items) => items.get(i).unwrap_or(&Value::Null),
        Value::Map(items) | Value::Object(items) => items.get(k).unwrap_or(&Value::Null),
        _ => &Value::Null,
    };
    match (nesting, plan.peel()) {
        (Nesting::Single | Nesting::Group, p @ Value::Object(_)) => {
            vec![(None, p, config, prior)]
        }
        (Nesting::List, Value::List(ps)) => ps
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    Some(PathStep::Index(i as i64)),
                    p,
                    get(config, i, ""),
                    get(prior, i, ""),
                )
            })
            .collect(),
        (Nesting::Map, Value::Map(ps) | Value::Object(ps)) => ps
            .iter()
            .map(|(k, p)| {
                (
                    Some(PathStep::Key(k.clone())),
                    p,
                    get(config, 0, k),
                    get(prior, 0, k),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether an attribute is declared computed to Terraform only to avoid Terraform
/// 1.0's crash on null single nested attributes: optional, not computed, single.
pub fn shielded_from_tf10(a: &Attribute) -> bool {
    !a.required && !a.computed && matches!(a.ty, AttributeType::Nested(Nesting::Single, _))
}

/// Plans null for every attribute that the provider does not compute and whose
/// configuration is null (Terraform proposes the prior value for attributes it
/// believes computed; see [`shielded_from_tf10`]).
pub fn null_unconfigured(block: &Block, plan: &mut Value, config: &Value) {
    let Some(m) = obj_mut(plan) else { return };
    for a in &block.attributes {
        let cfg = attr(config, &a.name);
        if shielded_from_tf10(a) && cfg.is_null() {
            m.insert(a.name.clone(), Value::Null);
        } else if let (Some((n, b)), Some(p)) = (a.nested_block(), m.get_mut(&a.name)) {
            for (child, c, _) in pair_children(n, &b, p, cfg, &Value::Null) {
                null_unconfigured(&b, child, c);
            }
        }
    }
    for nb in &block.blocks {
        if let Some(p) = m.get_mut(&nb.name) {
            let cfg = attr(config, &nb.name);
            for (child, c, _) in pair_children(nb.nesting, &nb.block, p, cfg, &Value::Null) {
                null_unconfigured(&nb.block, child, c);
            }
        }
    }
}

/// Sets attributes that have a default and are null in configuration.
pub fn apply_defaults(block: &Block, plan: &mut Value, config: &Value) {
    let Some(m) = obj_mut(plan) else { return };
    for a in &block.attributes {
        let cfg = attr(config, &a.name);
        if let (Some(default), Value::Null) = (&a.default, cfg) {
            m.insert(a.name.clone(), default.clone());
        } else if let (Some((n, b)), Some(p)) = (a.nested_block(), m.get_mut(&a.name)) {
            for (child, c, _) in pair_children(n, &b, p, cfg, &Value::Null) {
                apply_defaults(&b, child, c);
            }
        }
    }
    for nb in &block.blocks {
        if let Some(p) = m.get_mut(&nb.name) {
            for (child, c, _) in pair_children(
                nb.nesting,
                &nb.block,
                p,
                attr(config, &nb.name),
                &Value::Null,
            ) {
                apply_defaults(&nb.block, child, c);
            }
        }
    }
}

/// Gives set elements the computed values of the prior element they continue.
///
/// Terraform proposes prior computed values only for set elements it can correlate,
/// and it cannot when an element configures an optional+computed attribute (up to
/// at least 1.0). Such an element arrives with its computed attributes null, which
/// would look like a change on every plan. For each planned set element paired with
/// a prior one ([`pair_set`]), computed attributes that are null in both the
/// configuration and the plan take the prior value, as Terraform does for the
/// elements it correlates. Call it before deciding whether anything changed.
pub fn adopt_prior_in_sets(block: &Block, plan: &mut Value, config: &Value, prior: &Value) {
    adopt_into(block, plan, config, prior, false);
}

fn adopt_into(block: &Block, plan: &mut Value, config: &Value, prior: &Value, in_set: bool) {
    if prior.is_null() {
        return;
    }
    let Some(m) = obj_mut(plan) else { return };
    for a in &block.attributes {
        let cfg = attr(config, &a.name);
        if in_set && a.computed && cfg.is_null() && m.get(&a.name).is_none_or(Value::is_null) {
            m.insert(a.name.clone(), attr(prior, &a.name).clone());
        } else if let (Some((n, b)), Some(p)) = (a.nested_block(), m.get_mut(&a.name)) {
            for (child, c, pc) in pair_children(n, &b, p, cfg, attr(prior, &a.name)) {
                adopt_into(&b, child, c, pc, n == Nesting::Set);
            }
        }
    }
    for nb in &block.blocks {
        if let Some(p) = m.get_mut(&nb.name) {
            for (child, c, pc) in pair_children(
                nb.nesting,
                &nb.block,
                p,
                attr(config, &nb.name),
                attr(prior, &nb.name),
            ) {
                adopt_into(&nb.block, child, c, pc, nb.nesting == Nesting::Set);
            }
        }
    }
}

/// Marks computed attributes that are not configured as unknown ("known after
/// apply"), except those that keep their prior value (`use_state_for_unknown`) or have
/// a default.
pub fn mark_computed_unknown(block: &Block, plan: &mut Value, config: &Value, prior: &Value) {
    let Some(m) = obj_mut(plan) else { return };
    for a in &block.attributes {
        let cfg = attr(config, &a.name);
        if a.computed && cfg.is_null() && a.default.is_none() {
            let keep = a.use_state_for_unknown && !prior.is_null();
            if keep {
                m.insert(a.name.clone(), attr(prior, &a.name).clone());
            } else {
                m.insert(a.name.clone(), Value::unknown());
            }
        } else if let (Some((n, b)), Some(p)) = (a.nested_block(), m.get_mut(&a.name)) {
            for (child, c, pc) in pair_children(n, &b, p, cfg, attr(prior, &a.name)) {
                mark_computed_unknown(&b, child, c, pc);
            }
        }
    }
    for nb in &block.blocks {
        if let Some(p) = m.get_mut(&nb.name) {
            for (child, c, pc) in pair_children(
                nb.nesting,
                &nb.block,
                p,
                attr(config, &nb.name),
                attr(prior, &nb.name),
            ) {
                mark_computed_unknown(&nb.block, child, c, pc);
            }
        }
    }
}

/// Puts every non-null configured value back into the plan, so that no plan
/// modification can produce "Provider produced inconsistent final plan".
/// Returns the paths that had to be restored.
pub fn restore_config(block: &Block, plan: &mut Value, config: &Value) -> Vec<AttributePath> {
    let mut restored = Vec::new();
    restore_into(
        block,
        plan,
        config,
        &AttributePath::default(),
        &mut restored,
    );
    restored
}

fn restore_into(
    block: &Block,
    plan: &mut Value,
    config: &Value,
    at: &AttributePath,
    restored: &mut Vec<AttributePath>,
) {
    let Some(m) = obj_mut(plan) else { return };
    for a in &block.attributes {
        let cfg = attr(config, &a.name);
        if cfg.is_null() {
            continue;
        }
        let path = at.clone().attr(a.name.clone());
        match (a.nested_block(), m.get_mut(&a.name)) {
            (Some((n @ (Nesting::Single | Nesting::List | Nesting::Map), b)), Some(p))
                if !cfg.is_unknown() && same_shape(p, cfg) =>
            {
                for (child, c, _) in pair_children(n, &b, p, cfg, &Value::Null) {
                    restore_into(&b, child, c, &path, restored);
                }
            }
            (_, p) => {
                let p = p.map(|p| &*p);
                if !p.is_some_and(|p| p.typed_eq(cfg) && p.is_unknown() == cfg.is_unknown()) {
                    // A partly known value that the model could only hold as unknown
                    // is no change by the resource: put it back without a word.
                    if !p.is_some_and(|p| p.is_unknown() && cfg.contains_unknown()) {
                        restored.push(path);
                    }
                    m.insert(a.name.clone(), cfg.clone());
                }
            }
        }
    }
    for nb in &block.blocks {
        let cfg = attr(config, &nb.name);
        if let Some(p) = m.get_mut(&nb.name) {
            let path = at.clone().attr(nb.name.clone());
            for (child, c, _) in pair_children(nb.nesting, &nb.block, p, cfg, &Value::Null) {
                restore_into(&nb.block, child, c, &path, restored);
            }
        }
    }
}

/// Whether a planned nested value has the configured one's elements (list length,
/// map keys), so that it can be restored element by element.
fn same_shape(a: &Value, b: &Value) -> bool {
    match (a.peel(), b.peel()) {
        (Value::Map(x), Value::Map(y)) => x.keys().eq(y.keys()),
        (Value::Object(_), Value::Object(_)) => true,
        (Value::List(x), Value::List(y)) => x.len() == y.len(),
        _ => false,
    }
}

/// The attribute paths whose planned change forces replacement.
///
/// A change counts when the planned value is known and differs from the prior one,
/// or when the configuration itself is unknown; a computed attribute that is merely
/// "known after apply" does not force replacement.
pub fn requires_replace(
    block: &Block,
    prior: &Value,
    plan: &Value,
    config: &Value,
) -> Vec<AttributePath> {
    let mut out = Vec::new();
    if !prior.is_null() && !plan.is_null() {
        replace_into(
            block,
            prior,
            plan,
            config,
            &AttributePath::default(),
            &mut out,
        );
    }
    out
}

fn replace_into(
    block: &Block,
    prior: &Value,
    plan: &Value,
    config: &Value,
    at: &AttributePath,
    out: &mut Vec<AttributePath>,
) {
    let child_path = |at: &AttributePath, name: &str, step: Option<PathStep>| {
        let mut p = at.clone().attr(name.to_string());
        p.0.extend(step);
        p
    };
    for a in &block.attributes {
        let (p, s, c) = (
            attr(plan, &a.name),
            attr(prior, &a.name),
            attr(config, &a.name),
        );
        if a.requires_replace {
            let changed = if p.is_unknown() {
                c.is_unknown()
            } else {
                !p.semantic_eq(s)
            };
            if changed {
                out.push(at.clone().attr(a.name.clone()));
            }
        } else if let Some((n, b)) = a.nested_block() {
            for (step, pc, cc, sc) in children(n, p, c, s) {
                if !sc.is_null() {
                    replace_into(&b, sc, pc, cc, &child_path(at, &a.name, step), out);
                }
            }
        }
    }
    for nb in &block.blocks {
        let (p, s, c) = (
            attr(plan, &nb.name),
            attr(prior, &nb.name),
            attr(config, &nb.name),
        );
        if nb.requires_replace {
            if !p.semantic_eq(s) {
                out.push(at.clone().attr(nb.name.clone()));
            }
        } else {
            for (step, pc, cc, sc) in children(nb.nesting, p, c, s) {
                if !sc.is_null() {
                    replace_into(&nb.block, sc, pc, cc, &child_path(at, &nb.name, step), out);
                }
            }
        }
    }
}

/// A known planned value that the provider's answer after apply did not keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Where.
    pub path: AttributePath,
    /// What the plan said.
    pub planned: Value,
    /// What the provider returned.
    pub got: Value,
}

/// The state to return after apply: the provider's new state, with every value that
/// was known in the plan kept as planned, and nothing left unknown.
///
/// Returns the reconciled state and the places where the provider's answer differed
/// from a known planned value: the remote system stored something else than what
/// was planned, which the caller reports.
pub fn reconcile_applied(planned: &Value, new: &Value) -> (Value, Vec<Mismatch>) {
    let mut diffs = Vec::new();
    let v = reconcile(planned, new, &AttributePath::default(), &mut diffs);
    (v, diffs)
}

fn reconcile(planned: &Value, new: &Value, at: &AttributePath, diffs: &mut Vec<Mismatch>) -> Value {
    let mismatch = |diffs: &mut Vec<Mismatch>| {
        diffs.push(Mismatch {
            path: at.clone(),
            planned: planned.clone(),
            got: new.clone(),
        })
    };
    match planned {
        Value::Unknown(_) => strip_unknown(new),
        Value::Dynamic(ty, inner) if planned.contains_unknown() => match new {
            Value::Dynamic(nt, ni) => {
                Value::Dynamic(nt.clone(), Box::new(reconcile(inner, ni, at, diffs)))
            }
            n => Value::Dynamic(ty.clone(), Box::new(reconcile(inner, n, at, diffs))),
        },
        Value::Object(pm) => match new.peel() {
            Value::Object(nm) => Value::Object(
                pm.iter()
                    .map(|(k, pv)| {
                        let nv = nm.get(k).unwrap_or(&Value::Null);
                        (
                            k.clone(),
                            reconcile(pv, nv, &at.clone().attr(k.clone()), diffs),
                        )
                    })
                    .collect(),
            ),
            _ => {
                mismatch(diffs);
                strip_unknown(planned)
            }
        },
        Value::List(ps) if planned.contains_unknown() => match new.peel() {
            Value::List(ns) if ns.len() == ps.len() => Value::List(
                ps.iter()
                    .zip(ns)
                    .enumerate()
                    .map(|(i, (p, n))| reconcile(p, n, &at.clone().index(i as i64), diffs))
                    .collect(),
            ),
            _ => strip_unknown(new),
        },
        Value::Map(pm) if planned.contains_unknown() => match new.peel() {
            Value::Map(nm) if nm.keys().eq(pm.keys()) => Value::Map(
                pm.iter()
                    .map(|(k, p)| {
                        (
                            k.clone(),
                            reconcile(p, &nm[k], &at.clone().key(k.clone()), diffs),
                        )
                    })
                    .collect(),
            ),
            _ => strip_unknown(new),
        },
        Value::Set(_) if planned.contains_unknown() => strip_unknown(new),
        known => {
            if !known.semantic_eq(new) {
                mismatch(diffs);
            }
            known.clone()
        }
    }
}

/// Where a value read back from the remote system equals the prior one as data but
/// not in form (a `dynamic` value whose keys came back in another order, `5432.0`
/// for `5432`, a list for a tuple), keeps the prior value, so no change is shown.
pub fn keep_prior_forms(block: &Block, new: &mut Value, prior: &Value) {
    let Some(m) = obj_mut(new) else { return };
    for a in &block.attributes {
        let Some(v) = m.get_mut(&a.name) else {
            continue;
        };
        let p = attr(prior, &a.name);
        if a.value_type().has_dynamic() && !v.typed_eq(p) && v.semantic_eq(p) {
            *v = p.clone();
        } else if let Some((n, b)) = a.nested_block() {
            for (child, _, pc) in pair_children(n, &b, v, &Value::Null, p) {
                keep_prior_forms(&b, child, pc);
            }
        }
    }
    for nb in &block.blocks {
        if let Some(v) = m.get_mut(&nb.name) {
            for (child, _, pc) in pair_children(
                nb.nesting,
                &nb.block,
                v,
                &Value::Null,
                attr(prior, &nb.name),
            ) {
                keep_prior_forms(&nb.block, child, pc);
            }
        }
    }
}

/// Whether the value at `path` belongs to a sensitive attribute.
pub fn is_sensitive(block: &Block, path: &AttributePath) -> bool {
    matches!(walk(block, path), Walked::Sensitive)
}

/// Whether the value at `path` is sensitive or holds a sensitive attribute (a block
/// whose secret is one of its attributes): its text must not be shown whole.
pub fn holds_sensitive(block: &Block, path: &AttributePath) -> bool {
    match walk(block, path) {
        Walked::Sensitive => true,
        Walked::Block(b) => any_sensitive(&b),
        Walked::Plain => false,
    }
}

/// Where a path through the schema ends.
enum Walked<'a> {
    /// At or inside a sensitive attribute.
    Sensitive,
    /// At a block or an attribute of nested type.
    Block(std::borrow::Cow<'a, Block>),
    /// At a plain attribute, or outside the schema.
    Plain,
}

fn walk<'a>(block: &'a Block, path: &AttributePath) -> Walked<'a> {
    let mut block = std::borrow::Cow::Borrowed(block);
    for step in &path.0 {
        let PathStep::Attr(name) = step else { continue };
        if let Some(a) = block.attribute(name) {
            if a.sensitive {
                return Walked::Sensitive;
            }
            match a.nested_block() {
                Some((_, b)) => block = std::borrow::Cow::Owned(b),
                None => return Walked::Plain,
            }
        } else if let Some(nb) = block.blocks.iter().find(|b| &b.name == name) {
            block = std::borrow::Cow::Owned(nb.block.clone());
        } else {
            return Walked::Plain;
        }
    }
    Walked::Block(block)
}

fn any_sensitive(block: &Block) -> bool {
    block
        .attributes
        .iter()
        .any(|a| a.sensitive || a.nested_block().is_some_and(|(_, b)| any_sensitive(&b)))
        || block.blocks.iter().any(|nb| any_sensitive(&nb.block))
}

/// The value with every unknown inside replaced by null.
pub fn strip_unknown(v: &Value) -> Value {
    match v {
        Value::Unknown(_) => Value::Null,
        Value::List(items) => Value::List(items.iter().map(strip_unknown).collect()),
        Value::Set(items) => Value::Set(items.iter().map(strip_unknown).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), strip_unknown(v)))
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), strip_unknown(v)))
                .collect(),
        ),
        Value::Dynamic(t, inner) => Value::Dynamic(t.clone(), Box::new(strip_unknown(inner))),
        other => other.clone(),
    }
}
