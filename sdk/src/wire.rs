//! Concrete types at `dynamic` positions.
//!
//! Terraform sends a list (or map) of objects that hold `dynamic` values as one
//! `dynamic` value, a tuple (or object) whose type names each element's concrete
//! type; the values inside carry no type of their own. The plan must give back each
//! configured value with exactly its type (a `string` unknown is not a `dynamic` one).
//! So [`annotate`] wraps every value at a `dynamic` attribute in a
//! [`Value::Dynamic`] with the type Terraform gave it, and [`wrap`] builds the tuple
//! and object types back from the values before they are sent.

use crate::schema::{Block, Nesting, wrap as wire_type};
use crate::value::{Type, Value, msgpack::infer_type};

/// The nested collections of a block: (name, nesting, block), attributes and blocks.
fn nested(block: &Block) -> Vec<(String, Nesting, Block)> {
    let attrs = block
        .attributes
        .iter()
        .filter_map(|a| a.nested_block().map(|(n, b)| (a.name.clone(), n, b)));
    let blocks = block
        .blocks
        .iter()
        .map(|nb| (nb.name.clone(), nb.nesting, nb.block.clone()));
    attrs.chain(blocks).collect()
}

/// The attribute types of an object type.
fn attr_type<'a>(ty: Option<&'a Type>, name: &str) -> Option<&'a Type> {
    match ty {
        Some(Type::Object(attrs, _)) => attrs.get(name),
        _ => None,
    }
}

/// Wraps the values at `dynamic` attributes of an object of `block` in their
/// concrete types. `ty` is the object's concrete type when it came inside a tuple or
/// object that was `dynamic` on the wire; elsewhere Terraform's own encoding already
/// wrapped them.
pub(crate) fn annotate(block: &Block, value: &mut Value, ty: Option<&Type>) {
    let Value::Object(m) = value.peel_mut() else {
        return;
    };
    for a in &block.attributes {
        if a.value_type() != Type::Dynamic || a.nested_block().is_some() {
            continue;
        }
        if let (Some(v), Some(t)) = (m.get_mut(&a.name), attr_type(ty, &a.name))
            && !matches!(v, Value::Dynamic(..))
            && *t != Type::Dynamic
        {
            *v = Value::Dynamic(
                Box::new(t.clone()),
                Box::new(std::mem::replace(v, Value::Null)),
            );
        }
    }
    for (name, nesting, inner) in nested(block) {
        let Some(v) = m.get_mut(&name) else { continue };
        // The collection's concrete type: its own wrapper, or the enclosing one's.
        let own = match v {
            Value::Dynamic(t, _) => Some((**t).clone()),
            _ => attr_type(ty, &name).cloned(),
        };
        match (nesting, v.peel_mut()) {
            (Nesting::Single | Nesting::Group, o @ Value::Object(_)) => {
                annotate(&inner, o, own.as_ref())
            }
            (Nesting::List | Nesting::Set, Value::List(items) | Value::Set(items)) => {
                for (i, e) in items.iter_mut().enumerate() {
                    let et = match &own {
                        Some(Type::Tuple(ts)) => ts.get(i),
                        Some(Type::List(e) | Type::Set(e)) => Some(&**e),
                        _ => None,
                    };
                    annotate(&inner, e, et);
                }
            }
            (Nesting::Map, Value::Map(items) | Value::Object(items)) => {
                for (k, e) in items.iter_mut() {
                    let et = match &own {
                        Some(Type::Object(ts, _)) => ts.get(k),
                        Some(Type::Map(e)) => Some(&**e),
                        _ => None,
                    };
                    annotate(&inner, e, et);
                }
            }
            _ => {}
        }
    }
}

/// The concrete type of an object of `block`, from the values it holds.
fn concrete_type(block: &Block, value: &Value) -> Type {
    let get = |name: &str| value.peel().get(name).unwrap_or(&Value::Null);
    let mut attrs: Vec<(String, Type)> = Vec::new();
    for a in &block.attributes {
        let t = match a.nested_block() {
            Some((n, b)) => nested_type(n, &b, get(&a.name)),
            None if a.value_type() == Type::Dynamic => match get(&a.name) {
                Value::Dynamic(t, _) => (**t).clone(),
                Value::Null | Value::Unknown(_) => Type::Dynamic,
                v => infer_type(v),
            },
            None => a.value_type(),
        };
        attrs.push((a.name.clone(), t));
    }
    for nb in &block.blocks {
        attrs.push((
            nb.name.clone(),
            nested_type(nb.nesting, &nb.block, get(&nb.name)),
        ));
    }
    Type::object(attrs)
}

fn nested_type(nesting: Nesting, block: &Block, value: &Value) -> Type {
    let schema_type = wire_type(nesting, block.value_type());
    match nesting {
        // `dynamic` on the wire: the value carries its own tuple or object type.
        _ if schema_type == Type::Dynamic => Type::Dynamic,
        Nesting::Single | Nesting::Group if block.value_type().has_dynamic() => {
            match value.peel() {
                o @ Value::Object(_) => concrete_type(block, o),
                _ => schema_type,
            }
        }
        _ => schema_type,
    }
}

/// Gives the collections of objects that are `dynamic` on the wire their concrete
/// tuple or object type, built from the values, so that they encode as Terraform
/// expects. Values built by models or the plan pipeline carry no such wrapper, or a
/// stale one.
pub(crate) fn wrap(block: &Block, value: &mut Value) {
    let Value::Object(m) = value.peel_mut() else {
        return;
    };
    for (name, nesting, inner) in nested(block) {
        let Some(v) = m.get_mut(&name) else { continue };
        let dynamic = wire_type(nesting, inner.value_type()) == Type::Dynamic;
        let mut bare = match std::mem::replace(v, Value::Null) {
            Value::Dynamic(_, v) => *v,
            v => v,
        };
        match &mut bare {
            Value::List(items) | Value::Set(items) => {
                items.iter_mut().for_each(|e| wrap(&inner, e))
            }
            Value::Map(items) | Value::Object(items) if nesting == Nesting::Map => {
                items.values_mut().for_each(|e| wrap(&inner, e))
            }
            o @ Value::Object(_) => wrap(&inner, o),
            _ => {}
        }
        *v = match (dynamic, bare) {
            (true, Value::List(items)) => Value::Dynamic(
                Box::new(Type::Tuple(
                    items.iter().map(|e| concrete_type(&inner, e)).collect(),
                )),
                Box::new(Value::List(items)),
            ),
            (true, Value::Map(items) | Value::Object(items)) => Value::Dynamic(
                Box::new(Type::object(
                    items
                        .iter()
                        .map(|(k, e)| (k.clone(), concrete_type(&inner, e))),
                )),
                Box::new(Value::Object(items)),
            ),
            (_, v) => v,
        };
    }
}
