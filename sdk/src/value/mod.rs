//! Three-state Terraform values (known, null, unknown) and their wire codecs.
//!
//! A [`Value`] is untyped data; the [`Type`] that gives it meaning travels beside it,
//! as it does on the wire. [`msgpack`] and [`json`] decode with a type and encode back.
//!
//! ```
//! use tf_sdk::value::{msgpack, Type, Value};
//! let ty = Type::object([("name", Type::String), ("size", Type::Number)]);
//! let v = Value::object([("name", Value::from("web")), ("size", Value::unknown())]);
//! let bytes = msgpack::encode(&v, &ty).unwrap();
//! assert_eq!(msgpack::decode(&bytes, &ty).unwrap(), v);
//! ```

pub mod json;
pub mod msgpack;
mod number;
mod types;

pub use number::Number;
pub use types::{MAX_TYPE_DEPTH, Type, TypeError};

use crate::diag::{AttributePath, PathStep};
use std::collections::BTreeMap;

/// A Terraform value. Collections hold values of their element type; objects hold one
/// value per attribute of their type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A null value of whatever type the position has.
    Null,
    /// A value not known until apply, with the refinements Terraform attached, if any.
    Unknown(Refinements),
    /// A string.
    String(String),
    /// A number of any size.
    Number(Number),
    /// A boolean.
    Bool(bool),
    /// The elements of a list or tuple.
    List(Vec<Value>),
    /// The elements of a set (order as received; equality ignores order).
    Set(Vec<Value>),
    /// The entries of a map.
    Map(BTreeMap<String, Value>),
    /// The attributes of an object (and of a block).
    Object(BTreeMap<String, Value>),
    /// A value at a `dynamic` position, with the concrete type it was sent with.
    Dynamic(Box<Type>, Box<Value>),
}

/// Refinements Terraform may attach to an unknown value (msgpack extension 12).
///
/// They are kept as the raw payload so that nothing is lost on the way back; the
/// accessors read the ones we understand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Refinements {
    raw: Option<Vec<u8>>,
}

impl Refinements {
    /// An unknown without refinements.
    pub const NONE: Refinements = Refinements { raw: None };

    /// Refinements from the raw msgpack map payload of an extension-12 value.
    pub fn from_raw(raw: Vec<u8>) -> Refinements {
        Refinements { raw: Some(raw) }
    }

    /// The raw msgpack payload, if there are refinements.
    pub fn raw(&self) -> Option<&[u8]> {
        self.raw.as_deref()
    }

    /// `Some(false)` when Terraform promised the value will not be null.
    pub fn nullable(&self) -> Option<bool> {
        let entries = msgpack::refinement_entries(self.raw.as_deref()?)?;
        entries.into_iter().find_map(|(k, v)| match (k, v) {
            (1, Value::Bool(b)) => Some(b),
            _ => None,
        })
    }

    /// The known prefix of an unknown string.
    pub fn string_prefix(&self) -> Option<String> {
        let entries = msgpack::refinement_entries(self.raw.as_deref()?)?;
        entries.into_iter().find_map(|(k, v)| match (k, v) {
            (2, Value::String(s)) => Some(s),
            _ => None,
        })
    }
}

impl Value {
    /// An unrefined unknown.
    pub fn unknown() -> Value {
        Value::Unknown(Refinements::NONE)
    }

    /// An object from attribute pairs.
    pub fn object<I: IntoIterator<Item = (S, Value)>, S: Into<String>>(attrs: I) -> Value {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether the value itself is unknown (not looking inside).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown(_))
    }

    /// Whether the value, or anything inside it, is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown(_) => true,
            Value::List(v) | Value::Set(v) => v.iter().any(Value::contains_unknown),
            Value::Map(m) | Value::Object(m) => m.values().any(Value::contains_unknown),
            Value::Dynamic(_, v) => v.contains_unknown(),
            _ => false,
        }
    }

    /// The attribute `name` of an object; `None` when not an object or absent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(name),
            _ => None,
        }
    }

    /// The string inside, if this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Semantic equality: sets compare without order, numbers by value, and values at
    /// `dynamic` positions by content (a tuple equals a list with the same elements,
    /// an object a map with the same entries), as the data they carry is the same.
    pub fn semantic_eq(&self, other: &Value) -> bool {
        self.eq_with(other, false)
    }

    /// Like [`Value::semantic_eq`], but values at `dynamic` positions must also have
    /// the same type, as Terraform requires of a plan against its configuration.
    pub fn typed_eq(&self, other: &Value) -> bool {
        self.eq_with(other, true)
    }

    fn eq_with(&self, other: &Value, typed: bool) -> bool {
        let all = |a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>| {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| x.eq_with(y, typed)))
        };
        match (self, other) {
            (Value::Set(a), Value::Set(b)) => {
                a.len() == b.len()
                    && a.iter().all(|x| b.iter().any(|y| x.eq_with(y, typed)))
                    && b.iter().all(|y| a.iter().any(|x| x.eq_with(y, typed)))
            }
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_with(y, typed))
            }
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => all(a, b),
            (Value::Map(a), Value::Object(b)) | (Value::Object(a), Value::Map(b)) if !typed => {
                all(a, b)
            }
            (Value::Dynamic(ta, a), Value::Dynamic(tb, b)) => {
                (!typed || ta == tb) && a.eq_with(b, typed)
            }
            (Value::Dynamic(_, a), b) | (b, Value::Dynamic(_, a)) if !typed => a.eq_with(b, typed),
            (Value::Unknown(_), Value::Unknown(_)) => true,
            (a, b) => a == b,
        }
    }

    /// The value inside a `dynamic` wrapper (the value itself when not wrapped).
    pub fn peel(&self) -> &Value {
        match self {
            Value::Dynamic(_, inner) => inner.peel(),
            v => v,
        }
    }

    /// Mutable [`Value::peel`].
    pub fn peel_mut(&mut self) -> &mut Value {
        match self {
            Value::Dynamic(_, inner) => inner.peel_mut(),
            v => v,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(Number::from(n))
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(Number::from(n))
    }
}
impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

/// A value that does not fit the type it was decoded or encoded with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", if path.0.is_empty() { String::new() } else { format!(" at {path}") })]
pub struct CodecError {
    /// What went wrong.
    pub message: String,
    /// Where, from the value that was being decoded (empty at its root).
    pub path: AttributePath,
    /// The value (or a part of it) is not known yet: a typed decoding could not hold
    /// it, but nothing is wrong with it.
    pub unknown: bool,
}

impl CodecError {
    pub(crate) fn new(message: impl Into<String>) -> CodecError {
        CodecError {
            message: message.into(),
            path: AttributePath::default(),
            unknown: false,
        }
    }

    /// A value not known yet where a known one is needed.
    pub(crate) fn not_known() -> CodecError {
        CodecError {
            unknown: true,
            ..CodecError::new("value is not known yet")
        }
    }

    fn at(mut self, step: PathStep) -> CodecError {
        self.path.0.insert(0, step);
        self
    }

    pub(crate) fn at_attr(self, name: &str) -> CodecError {
        self.at(PathStep::Attr(name.to_string()))
    }

    pub(crate) fn at_index(self, index: usize) -> CodecError {
        self.at(PathStep::Index(index as i64))
    }

    pub(crate) fn at_key(self, key: &str) -> CodecError {
        self.at(PathStep::Key(key.to_string()))
    }
}
