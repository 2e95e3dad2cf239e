//! Typed models: Rust structs that are both a schema and the decoded form of values.
//!
//! Every field is a [`Val<T>`]: known, null or unknown, exactly as Terraform has it.
//! `#[derive(Model)]` turns a struct into a schema block and a codec:
//!
//! ```
//! use tf_sdk::{Model, Val};
//!
//! /// A greeting.
//! #[derive(Model, Debug, Clone, PartialEq)]
//! struct Greeting {
//!     /// Who to greet.
//!     #[tf(required, requires_replace)]
//!     name: Val<String>,
//!     /// How many times.
//!     #[tf(optional, computed, default = 1)]
//!     times: Val<i64>,
//!     /// Identifier.
//!     #[tf(computed, use_state_for_unknown)]
//!     id: Val<String>,
//! }
//!
//! let block = <Greeting as Model>::block();
//! assert!(block.attribute("name").unwrap().required);
//! assert_eq!(block.description, "A greeting.");
//! let v = Greeting { name: Val::Known("x".into()), times: Val::Unknown, id: Val::Null }.to_value();
//! assert_eq!(Greeting::from_value(&v).unwrap().times, Val::Unknown);
//! ```

use crate::diag::{AttributePath, Diagnostics};
use crate::schema::{Block, Nesting};
use crate::value::{CodecError, Number, Type, Value};
use std::collections::BTreeMap;

/// A value that is known, null, or not known until apply.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Val<T> {
    /// A known value.
    Known(T),
    /// Null: not set.
    #[default]
    Null,
    /// Known only after apply.
    Unknown,
}

impl<T> Val<T> {
    /// Whether the value is known (and so not null).
    pub fn is_known(&self) -> bool {
        matches!(self, Val::Known(_))
    }
    /// Whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }
    /// Whether the value is unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Val::Unknown)
    }
    /// The known value, if any.
    pub fn known(&self) -> Option<&T> {
        match self {
            Val::Known(v) => Some(v),
            _ => None,
        }
    }
    /// The known value, if any, by value.
    pub fn into_known(self) -> Option<T> {
        match self {
            Val::Known(v) => Some(v),
            _ => None,
        }
    }
    /// Maps the known value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Val<U> {
        match self {
            Val::Known(v) => Val::Known(f(v)),
            Val::Null => Val::Null,
            Val::Unknown => Val::Unknown,
        }
    }
}

impl<T> From<Option<T>> for Val<T> {
    fn from(o: Option<T>) -> Val<T> {
        o.map_or(Val::Null, Val::Known)
    }
}

impl Val<String> {
    /// The known string as `&str`.
    pub fn as_deref(&self) -> Option<&str> {
        self.known().map(String::as_str)
    }
}

/// A Rust type that maps to a Terraform type.
pub trait TfType: Sized {
    /// Its Terraform type.
    fn tf_type() -> Type;
    /// Decodes a known, non-null value.
    fn from_tf(v: &Value) -> Result<Self, CodecError>;
    /// Decodes an element of a collection, which may be null or unknown. Plain types
    /// refuse both (an unknown element makes the whole field [`Val::Unknown`]); a
    /// `Val<T>` element keeps them, so `Vec<Val<String>>` holds a partly known list.
    fn from_tf_elem(v: &Value) -> Result<Self, CodecError> {
        match v {
            Value::Null => Err(CodecError::new("elements of a collection cannot be null")),
            Value::Unknown(_) => Err(CodecError::not_known()),
            v => Self::from_tf(v),
        }
    }
    /// Encodes the value.
    fn to_tf(&self) -> Value;
    /// For models and collections of models: how they nest and their block.
    fn nested() -> Option<(Nesting, Block)> {
        None
    }
    /// Runs validators declared inside models; `path` is where this value is.
    fn validate_at(&self, _path: &AttributePath, _diags: &mut Diagnostics) {}
}

/// A struct that is a schema block and its values. Derive it with `#[derive(Model)]`.
pub trait Model: Sized + Send + Sync + 'static {
    /// The block this model describes.
    fn block() -> Block;
    /// Decodes an object value of this block.
    fn from_value(v: &Value) -> Result<Self, CodecError>;
    /// Encodes this model as an object value.
    fn to_value(&self) -> Value;
    /// Runs the validators declared on fields, adding diagnostics at `path`.
    fn validate(&self, _path: &AttributePath, _diags: &mut Diagnostics) {}
}

/// A check on a known attribute value, for `#[tf(validate = ...)]`.
pub trait Validator<T> {
    /// `Err(message)` when the value is not acceptable.
    fn check(&self, value: &T) -> Result<(), String>;
}

impl<T, F: Fn(&T) -> Result<(), String>> Validator<T> for F {
    fn check(&self, value: &T) -> Result<(), String> {
        self(value)
    }
}

/// Decodes one field of a model (used by the derive).
pub fn decode_field<T: TfType>(
    obj: &BTreeMap<String, Value>,
    name: &str,
) -> Result<Val<T>, CodecError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(Val::Null),
        Some(Value::Unknown(_)) => Ok(Val::Unknown),
        Some(v) => match T::from_tf(v) {
            Ok(t) => Ok(Val::Known(t)),
            // Partly known (a list with an unknown element, say) and `T` cannot hold
            // that: the field as a whole is not known yet.
            Err(e) if e.unknown => Ok(Val::Unknown),
            Err(e) => Err(e.at_attr(name)),
        },
    }
}

/// Encodes one field of a model (used by the derive).
pub fn encode_field<T: TfType>(v: &Val<T>) -> Value {
    match v {
        Val::Known(t) => t.to_tf(),
        Val::Null => Value::Null,
        Val::Unknown => Value::unknown(),
    }
}

/// The object map inside a model value (used by the derive).
pub fn object_fields(v: &Value) -> Result<&BTreeMap<String, Value>, CodecError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Dynamic(_, inner) => object_fields(inner),
        _ => Err(CodecError::new("expected an object")),
    }
}

fn mismatch(expected: &str) -> CodecError {
    CodecError::new(format!("expected {expected}"))
}

impl TfType for String {
    fn tf_type() -> Type {
        Type::String
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| mismatch("a string"))
    }
    fn to_tf(&self) -> Value {
        Value::String(self.clone())
    }
}

impl TfType for bool {
    fn tf_type() -> Type {
        Type::Bool
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        match v {
            Value::Bool(b) => Ok(*b),
            _ => Err(mismatch("a bool")),
        }
    }
    fn to_tf(&self) -> Value {
        Value::Bool(*self)
    }
}

impl TfType for i64 {
    fn tf_type() -> Type {
        Type::Number
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        match v {
            Value::Number(n) => n.as_i64().ok_or_else(|| {
                CodecError::new(format!("{n} is not a whole number that fits 64 bits"))
            }),
            _ => Err(mismatch("a number")),
        }
    }
    fn to_tf(&self) -> Value {
        Value::Number(Number::Int(*self))
    }
}

impl TfType for f64 {
    fn tf_type() -> Type {
        Type::Number
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        match v {
            Value::Number(n) => Ok(n.as_f64()),
            _ => Err(mismatch("a number")),
        }
    }
    fn to_tf(&self) -> Value {
        Value::Number(Number::from(*self))
    }
}

impl TfType for Number {
    fn tf_type() -> Type {
        Type::Number
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        match v {
            Value::Number(n) => Ok(n.clone()),
            _ => Err(mismatch("a number")),
        }
    }
    fn to_tf(&self) -> Value {
        Value::Number(self.clone())
    }
}

/// A `dynamic` attribute holds any value with its type.
impl TfType for Value {
    fn tf_type() -> Type {
        Type::Dynamic
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        Ok(v.clone())
    }
    fn to_tf(&self) -> Value {
        self.clone()
    }
}

fn elems(v: &Value) -> Result<&[Value], CodecError> {
    match v.peel() {
        Value::List(items) | Value::Set(items) => Ok(items),
        _ => Err(mismatch("a list or set")),
    }
}

fn elem_from_tf<T: TfType>(v: &Value) -> Result<T, CodecError> {
    T::from_tf_elem(v)
}

/// A value that may itself be null or unknown, for collection elements:
/// `Val<Vec<Val<String>>>` keeps `[known, unknown]` as it is.
impl<T: TfType> TfType for Val<T> {
    fn tf_type() -> Type {
        T::tf_type()
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        Self::from_tf_elem(v)
    }
    fn from_tf_elem(v: &Value) -> Result<Self, CodecError> {
        match v {
            Value::Null => Ok(Val::Null),
            Value::Unknown(_) => Ok(Val::Unknown),
            v => match T::from_tf(v) {
                Ok(t) => Ok(Val::Known(t)),
                Err(e) if e.unknown => Ok(Val::Unknown),
                Err(e) => Err(e),
            },
        }
    }
    fn to_tf(&self) -> Value {
        encode_field(self)
    }
    fn validate_at(&self, path: &AttributePath, diags: &mut Diagnostics) {
        if let Val::Known(t) = self {
            t.validate_at(path, diags);
        }
    }
}

fn nest<T: TfType>(mode: Nesting) -> Option<(Nesting, Block)> {
    match T::nested() {
        Some((Nesting::Single, block)) => Some((mode, block)),
        _ => None,
    }
}

impl<T: TfType> TfType for Vec<T> {
    fn tf_type() -> Type {
        Type::list(T::tf_type())
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        elems(v)?
            .iter()
            .enumerate()
            .map(|(i, e)| elem_from_tf(e).map_err(|err| err.at_index(i)))
            .collect()
    }
    fn to_tf(&self) -> Value {
        Value::List(self.iter().map(T::to_tf).collect())
    }
    fn nested() -> Option<(Nesting, Block)> {
        nest::<T>(Nesting::List)
    }
    fn validate_at(&self, path: &AttributePath, diags: &mut Diagnostics) {
        for (i, e) in self.iter().enumerate() {
            e.validate_at(&path.clone().index(i as i64), diags);
        }
    }
}

/// A set: a collection without order or duplicates, kept as a `Vec` in received order.
#[derive(Debug, Clone, Default)]
pub struct Set<T>(pub Vec<T>);

impl<T: PartialEq> PartialEq for Set<T> {
    fn eq(&self, other: &Set<T>) -> bool {
        self.0.len() == other.0.len() && self.0.iter().all(|x| other.0.contains(x))
    }
}

impl<T: TfType> TfType for Set<T> {
    fn tf_type() -> Type {
        Type::set(T::tf_type())
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        Vec::<T>::from_tf(v).map(Set)
    }
    fn to_tf(&self) -> Value {
        Value::Set(self.0.iter().map(T::to_tf).collect())
    }
    fn nested() -> Option<(Nesting, Block)> {
        nest::<T>(Nesting::Set)
    }
    fn validate_at(&self, path: &AttributePath, diags: &mut Diagnostics) {
        for e in &self.0 {
            e.validate_at(path, diags);
        }
    }
}

impl<T: TfType> TfType for BTreeMap<String, T> {
    fn tf_type() -> Type {
        Type::map(T::tf_type())
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        match v.peel() {
            Value::Map(m) | Value::Object(m) => m
                .iter()
                .map(|(k, e)| Ok((k.clone(), elem_from_tf(e).map_err(|err| err.at_key(k))?)))
                .collect(),
            _ => Err(mismatch("a map")),
        }
    }
    fn to_tf(&self) -> Value {
        Value::Map(self.iter().map(|(k, v)| (k.clone(), v.to_tf())).collect())
    }
    fn nested() -> Option<(Nesting, Block)> {
        nest::<T>(Nesting::Map)
    }
    fn validate_at(&self, path: &AttributePath, diags: &mut Diagnostics) {
        for (k, e) in self {
            e.validate_at(&path.clone().key(k.clone()), diags);
        }
    }
}

/// Built-in validators for `#[tf(validate = ...)]`.
pub mod validators {
    /// A string without leading or trailing whitespace, for values a remote system
    /// trims (it would store another value than the one planned).
    pub fn trimmed() -> impl Fn(&String) -> Result<(), String> {
        |s: &String| {
            if s.trim() == s {
                Ok(())
            } else {
                Err(format!(
                    "{s:?} has leading or trailing whitespace, which the server removes; \
                     write {:?}",
                    s.trim()
                ))
            }
        }
    }

    /// A string whose length in characters is within `min..=max`.
    pub fn length(min: usize, max: usize) -> impl Fn(&String) -> Result<(), String> {
        move |s: &String| {
            let n = s.chars().count();
            if n < min {
                Err(if min == 1 {
                    "must not be empty".to_string()
                } else {
                    format!("must be at least {min} characters, got {n}")
                })
            } else if n > max {
                Err(format!("must be at most {max} characters, got {n}"))
            } else {
                Ok(())
            }
        }
    }

    /// A string that is one of `choices`.
    pub fn one_of(choices: &'static [&'static str]) -> impl Fn(&String) -> Result<(), String> {
        move |s: &String| {
            if choices.contains(&s.as_str()) {
                Ok(())
            } else {
                Err(format!("must be one of {}, got {s:?}", choices.join(", ")))
            }
        }
    }

    /// A number within `min..=max`.
    pub fn range(min: i64, max: i64) -> impl Fn(&i64) -> Result<(), String> {
        move |n: &i64| {
            if (min..=max).contains(n) {
                Ok(())
            } else {
                Err(format!("must be between {min} and {max}, got {n}"))
            }
        }
    }
}
