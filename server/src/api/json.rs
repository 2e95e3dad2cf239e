//! JSON request bodies parsed with error messages that never quote the input.
//!
//! serde's messages quote the offending value (`invalid type: string "hunter2",
//! expected struct SensitiveValue`), so a secret sent in the wrong shape would be
//! echoed back in the 400. Bodies are parsed with `serde_json` as usual; only when
//! that fails with a data error is the body parsed again, into a tree that is then
//! deserialized through [`TreeDeserializer`], whose error type reports the *kind*
//! of value it met (a string, a number, ...) and the expected type, never the value,
//! together with the field path (`Steps[0].Actions[1].Properties.x`).

use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Expected, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

/// Longest field name quoted in a message.
const MAX_SHOWN_KEY: usize = 100;

/// Parses `bytes` as `T`. The error text names the field and what was expected, and
/// never contains any value from the input.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match serde_json::from_slice::<T>(bytes) {
        Ok(v) => Ok(v),
        // Syntax and end-of-input messages are fixed texts with a position.
        Err(e) if !e.is_data() => Err(e.to_string()),
        Err(e) => Err(explain::<T>(bytes, e.line(), e.column())),
    }
}

/// The value-free message for a body that failed with a data error at `line:column`.
fn explain<T: DeserializeOwned>(bytes: &[u8], line: usize, column: usize) -> String {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let tree = match TreeSeed.deserialize(&mut de) {
        Ok(tree) => tree,
        // A syntax error after the point where the typed parse stopped, or a
        // duplicate key: fixed texts with a position, the latter naming the key.
        Err(e) => return e.to_string(),
    };
    match serde_path_to_error::deserialize::<_, T>(TreeDeserializer(&tree)) {
        Err(e) => {
            let path = e.path().to_string();
            if path == "." {
                e.inner().to_string()
            } else {
                format!("{}: {}", shorten(&path, 300), e.inner())
            }
        }
        // Should not happen; still say where, without the value.
        Ok(_) => {
            format!("the document does not match this resource (at line {line}, column {column})")
        }
    }
}

/// `s` cut to at most `max` characters, escaped for a message.
fn shorten(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect::<String>();
    if s.chars().count() > max {
        out.push_str("...");
    }
    out.escape_debug().to_string()
}

/// A deserialization error whose text never carries a value from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeError(String);

impl fmt::Display for SafeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SafeError {}

/// What kind of JSON value `u` is, without its content.
fn kind(u: &Unexpected<'_>) -> &'static str {
    match u {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) | Unexpected::Float(_) => "a number",
        Unexpected::Char(_) | Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "null",
        Unexpected::Seq => "an array",
        Unexpected::Map => "an object",
        _ => "a value of another type",
    }
}

impl de::Error for SafeError {
    /// Messages of `Deserialize` impls (ours do not quote values).
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SafeError(msg.to_string())
    }
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        SafeError(format!(
            "invalid type: expected {exp}, got {}",
            kind(&unexp)
        ))
    }
    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        // Which kind of value it was adds nothing here: the type was right.
        let _ = unexp;
        SafeError(format!("invalid value: expected {exp}"))
    }
    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        SafeError(format!("invalid length {len}, expected {exp}"))
    }
    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        SafeError(format!("unknown variant, expected {}", one_of(expected)))
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        SafeError(format!(
            "unknown field `{}`, expected {}",
            shorten(field, MAX_SHOWN_KEY),
            one_of(expected)
        ))
    }
    fn missing_field(field: &'static str) -> Self {
        SafeError(format!("missing field `{field}`"))
    }
    fn duplicate_field(field: &'static str) -> Self {
        SafeError(format!("duplicate field `{field}`"))
    }
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing here".into(),
        [one] => format!("`{one}`"),
        _ => {
            let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", list.join(", "))
        }
    }
}

/// Builds a [`Value`] tree like `serde_json::Value` does, but refuses duplicate keys
/// (a typed parse refuses them too, and the last one would otherwise win silently).
struct TreeSeed;

impl<'de> DeserializeSeed<'de> for TreeSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        TreeSeed.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(TreeSeed)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate field `{}`",
                    shorten(&key, MAX_SHOWN_KEY)
                )));
            }
            let value = map.next_value_seed(TreeSeed)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Deserializes from a parsed [`Value`] with [`SafeError`] as the error type, so that
/// every error serde raises is phrased without the value.
pub struct TreeDeserializer<'de>(pub &'de Value);

impl<'de> de::Deserializer<'de> for TreeDeserializer<'de> {
    type Error = SafeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SafeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Seq(items.iter())),
            Value::Object(map) => visitor.visit_map(Entries {
                iter: map.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SafeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, SafeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SafeError> {
        match self.0 {
            // A unit variant: `"Name"`.
            Value::String(s) => {
                visitor.visit_enum(IntoDeserializer::<SafeError>::into_deserializer(s.as_str()))
            }
            // A variant with data: `{"Name": data}`.
            Value::Object(map) if map.len() == 1 => {
                let (k, v) = map.iter().next().expect("one entry");
                visitor.visit_enum(Variant { name: k, value: v })
            }
            other => Err(de::Error::invalid_type(
                unexpected(other),
                &"an enum variant",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SafeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// The kind of a tree value, for [`de::Error::invalid_type`].
fn unexpected(v: &Value) -> Unexpected<'static> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(_) => Unexpected::Bool(false),
        Value::Number(_) => Unexpected::Unsigned(0),
        Value::String(_) => Unexpected::Str(""),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

struct Seq<'de>(std::slice::Iter<'de, Value>);

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = SafeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, SafeError> {
        self.0
            .next()
            .map(|v| seed.deserialize(TreeDeserializer(v)))
            .transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries<'de> {
    iter: serde_json::map::Iter<'de>,
    value: Option<&'de Value>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = SafeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, SafeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, SafeError> {
        let v = self
            .value
            .take()
            .ok_or_else(|| SafeError("a map value was requested before its key".into()))?;
        seed.deserialize(TreeDeserializer(v))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct Variant<'de> {
    name: &'de str,
    value: &'de Value,
}

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = SafeError;
    type Variant = TreeDeserializer<'de>;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, TreeDeserializer<'de>), SafeError> {
        let name = seed.deserialize(BorrowedStrDeserializer::new(self.name))?;
        Ok((name, TreeDeserializer(self.value)))
    }
}

impl<'de> de::VariantAccess<'de> for TreeDeserializer<'de> {
    type Error = SafeError;
    fn unit_variant(self) -> Result<(), SafeError> {
        de::Deserialize::deserialize(self)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, SafeError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, SafeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SafeError> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use octopus_client::model::{DeploymentProcess, Feed, Project};

    const SECRET: &str = "PWSECRET-1111";

    fn err<T: DeserializeOwned>(body: &str) -> String {
        let e = from_slice::<T>(body.as_bytes()).err().expect("an error");
        assert!(!e.contains(SECRET), "{e}");
        e
    }

    #[test]
    fn values_are_never_quoted() {
        let e = err::<Feed>(&format!(
            r#"{{"Name":"f","FeedType":"NuGet","FeedUri":"https://x","Password":"{SECRET}"}}"#
        ));
        assert_eq!(
            e,
            "Password: invalid type: expected struct SensitiveValue, got a string"
        );
        let e = err::<Feed>(&format!(
            r#"{{"Name":"f","FeedType":"NuGet","SecretKey":{{"HasValue":"{SECRET}"}}}}"#
        ));
        assert_eq!(
            e,
            "SecretKey.HasValue: invalid type: expected a boolean, got a string"
        );
        let e = err::<DeploymentProcess>(&format!(
            r#"{{"Version":0,"Steps":[{{"Name":"s","Actions":[{{"Name":"a","Properties":{{"k":["{SECRET}"]}}}}]}}]}}"#
        ));
        assert!(e.starts_with("Steps[0].Actions[0].Properties.k: "), "{e}");
        let e = err::<DeploymentProcess>(&format!(
            r#"{{"Version":0,"Steps":[{{"Name":"s","Actions":[{{"Name":"a","Properties":{{"k":{{"NewValue":5,"HasValue":"{SECRET}"}}}}}}]}}]}}"#
        ));
        assert!(e.starts_with("Steps[0].Actions[0].Properties.k."), "{e}");
        let e = err::<Project>(&format!(r#"{{"Name":"p","IsDisabled":"{SECRET}"}}"#));
        assert_eq!(
            e,
            "IsDisabled: invalid type: expected a boolean, got a string"
        );
        let e = err::<Project>(r#"{"Name":"p","Name":"q"}"#);
        assert!(e.contains("duplicate field `Name`"), "{e}");
        let e = err::<Feed>(r#"{"Name":"f"}"#);
        assert_eq!(e, "missing field `FeedType`");
        let e = err::<Project>(&format!("[\"{SECRET}\"]"));
        assert!(e.contains("expected"), "{e}");
        // Numbers out of range are not quoted either.
        let e = err::<DeploymentProcess>(r#"{"Version":12345678901234,"Steps":[]}"#);
        assert!(!e.contains("12345678901234"), "{e}");
        assert!(e.starts_with("Version: invalid value: expected i32"), "{e}");
    }

    #[test]
    fn syntax_errors_keep_their_position() {
        let e = from_slice::<Project>(b"{\"Name\": ").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }
}
