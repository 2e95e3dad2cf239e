//! Terraform's type system (cty types) and its compact JSON encoding.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A Terraform value type, as cty knows it.
///
/// Schemas carry types as compact JSON (`"string"`, `["list","string"]`,
/// `["object",{"a":"number"}]`); [`Type::to_json`] and [`Type::from_json`] convert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// `string`
    String,
    /// `number` (arbitrary precision)
    Number,
    /// `bool`
    Bool,
    /// `dynamic`: any type, decided by the value.
    Dynamic,
    /// `list(T)`
    List(Box<Type>),
    /// `set(T)`
    Set(Box<Type>),
    /// `map(T)`
    Map(Box<Type>),
    /// `object({...})`, with the names of optional attributes (type constraints only).
    Object(BTreeMap<String, Type>, BTreeSet<String>),
    /// `tuple([...])`
    Tuple(Vec<Type>),
}

/// The deepest type nesting accepted from the wire, to bound recursion on hostile input.
pub const MAX_TYPE_DEPTH: usize = 64;

impl Type {
    /// `list(elem)`.
    pub fn list(elem: Type) -> Type {
        Type::List(Box::new(elem))
    }
    /// `set(elem)`.
    pub fn set(elem: Type) -> Type {
        Type::Set(Box::new(elem))
    }
    /// `map(elem)`.
    pub fn map(elem: Type) -> Type {
        Type::Map(Box::new(elem))
    }
    /// `object(attrs)` with no optional attributes.
    pub fn object<I: IntoIterator<Item = (S, Type)>, S: Into<String>>(attrs: I) -> Type {
        Type::Object(
            attrs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            BTreeSet::new(),
        )
    }

    /// Whether `dynamic` appears anywhere in the type.
    pub fn has_dynamic(&self) -> bool {
        match self {
            Type::Dynamic => true,
            Type::List(e) | Type::Set(e) | Type::Map(e) => e.has_dynamic(),
            Type::Object(attrs, _) => attrs.values().any(Type::has_dynamic),
            Type::Tuple(elems) => elems.iter().any(Type::has_dynamic),
            _ => false,
        }
    }

    /// The compact JSON form used in schemas and in `dynamic` values.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Type::String => out.push_str("\"string\""),
            Type::Number => out.push_str("\"number\""),
            Type::Bool => out.push_str("\"bool\""),
            Type::Dynamic => out.push_str("\"dynamic\""),
            Type::List(e) | Type::Set(e) | Type::Map(e) => {
                let kind = match self {
                    Type::List(_) => "list",
                    Type::Set(_) => "set",
                    _ => "map",
                };
                out.push_str("[\"");
                out.push_str(kind);
                out.push_str("\",");
                e.write_json(out);
                out.push(']');
            }
            Type::Object(attrs, optional) => {
                out.push_str("[\"object\",{");
                for (i, (name, ty)) in attrs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(name).expect("string encodes"));
                    out.push(':');
                    ty.write_json(out);
                }
                out.push('}');
                if !optional.is_empty() {
                    out.push_str(",[");
                    for (i, name) in optional.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&serde_json::to_string(name).expect("string encodes"));
                    }
                    out.push(']');
                }
                out.push(']');
            }
            Type::Tuple(elems) => {
                out.push_str("[\"tuple\",[");
                for (i, ty) in elems.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    ty.write_json(out);
                }
                out.push_str("]]");
            }
        }
    }

    /// Parses the compact JSON form of a type.
    pub fn from_json(bytes: &[u8]) -> Result<Type, TypeError> {
        let json: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| TypeError(format!("invalid type JSON: {e}")))?;
        Type::from_json_value(&json, 0)
    }

    fn from_json_value(v: &serde_json::Value, depth: usize) -> Result<Type, TypeError> {
        use serde_json::Value as J;
        if depth > MAX_TYPE_DEPTH {
            return Err(TypeError("type nesting is too deep".into()));
        }
        match v {
            J::String(s) => match s.as_str() {
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                "dynamic" => Ok(Type::Dynamic),
                other => Err(TypeError(format!("unknown primitive type {other:?}"))),
            },
            J::Array(items) => {
                let kind = items
                    .first()
                    .and_then(|k| k.as_str())
                    .ok_or_else(|| TypeError("type array must start with its kind".into()))?;
                let arg = items
                    .get(1)
                    .ok_or_else(|| TypeError(format!("{kind} type needs an argument")))?;
                match kind {
                    "list" | "set" | "map" if items.len() == 2 => {
                        let e = Box::new(Type::from_json_value(arg, depth + 1)?);
                        Ok(match kind {
                            "list" => Type::List(e),
                            "set" => Type::Set(e),
                            _ => Type::Map(e),
                        })
                    }
                    "object" if items.len() <= 3 => {
                        let attrs = arg
                            .as_object()
                            .ok_or_else(|| {
                                TypeError("object type needs a map of attributes".into())
                            })?
                            .iter()
                            .map(|(k, t)| Ok((k.clone(), Type::from_json_value(t, depth + 1)?)))
                            .collect::<Result<BTreeMap<_, _>, TypeError>>()?;
                        let mut optional = BTreeSet::new();
                        if let Some(opt) = items.get(2) {
                            for name in opt.as_array().into_iter().flatten() {
                                let name = name.as_str().ok_or_else(|| {
                                    TypeError("optional attribute names must be strings".into())
                                })?;
                                optional.insert(name.to_string());
                            }
                        }
                        Ok(Type::Object(attrs, optional))
                    }
                    "tuple" if items.len() == 2 => {
                        let elems = arg
                            .as_array()
                            .ok_or_else(|| TypeError("tuple type needs a list of types".into()))?
                            .iter()
                            .map(|t| Type::from_json_value(t, depth + 1))
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(Type::Tuple(elems))
                    }
                    other => Err(TypeError(format!("malformed {other} type"))),
                }
            }
            _ => Err(TypeError("a type is a string or an array".into())),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::Dynamic => f.write_str("dynamic"),
            Type::List(e) => write!(f, "list({e})"),
            Type::Set(e) => write!(f, "set({e})"),
            Type::Map(e) => write!(f, "map({e})"),
            Type::Object(attrs, _) => {
                f.write_str("object({")?;
                for (i, (k, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={t}")?;
                }
                f.write_str("})")
            }
            Type::Tuple(elems) => {
                f.write_str("tuple([")?;
                for (i, t) in elems.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
        }
    }
}

/// A type that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TypeError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let cases = [
            r#""string""#,
            r#"["list","string"]"#,
            r#"["set",["map","number"]]"#,
            r#"["object",{"a":"bool","b":["tuple",["string","dynamic"]]}]"#,
            r#"["object",{"a":"bool"},["a"]]"#,
        ];
        for case in cases {
            let ty = Type::from_json(case.as_bytes()).unwrap();
            assert_eq!(ty.to_json(), case);
        }
    }

    #[test]
    fn rejects_bad_types() {
        for case in [r#""strin""#, r#"["list"]"#, "42", r#"["object",[]]"#, "{"] {
            assert!(Type::from_json(case.as_bytes()).is_err(), "{case}");
        }
        let deep = "[\"list\",".repeat(100) + "\"string\"" + &"]".repeat(100);
        assert!(Type::from_json(deep.as_bytes()).is_err());
    }
}
