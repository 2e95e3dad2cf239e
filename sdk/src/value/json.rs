//! The JSON form of values (`DynamicValue.json` and stored state in `RawState.json`).
//!
//! Our own small reader, so that numbers keep every digit (cty numbers are arbitrary
//! precision) and decoding is guided by the type, as in cty's JSON codec.

use super::{CodecError, Number, Type, Value};
use std::collections::BTreeMap;

/// Decodes JSON text as a value of type `ty`. Attributes missing from an object are
/// null; attributes the type does not have are an error unless `lenient` is set
/// (stored state may hold attributes a newer schema removed).
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    decode_with(bytes, ty, false)
}

/// Like [`decode`], but drops object attributes the type does not know.
pub fn decode_lenient(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    decode_with(bytes, ty, true)
}

fn decode_with(bytes: &[u8], ty: &Type, lenient: bool) -> Result<Value, CodecError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CodecError::new("JSON is not UTF-8"))?;
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    let raw = p.parse(0)?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(CodecError::new("trailing characters after JSON value"));
    }
    convert(raw, ty, lenient)
}

/// Encodes a value as JSON under `ty` (unknown values cannot be written).
pub fn encode(value: &Value, ty: &Type) -> Result<String, CodecError> {
    let mut out = String::new();
    write(&mut out, value, ty)?;
    Ok(out)
}

fn write(out: &mut String, value: &Value, ty: &Type) -> Result<(), CodecError> {
    let q = |s: &str| serde_json::to_string(s).expect("string encodes");
    match (value, ty) {
        (Value::Unknown(_), _) => return Err(CodecError::new("JSON cannot hold unknown values")),
        (Value::Null, _) => out.push_str("null"),
        (v, Type::Dynamic) => {
            let (t, inner) = match v {
                Value::Dynamic(t, inner) => ((**t).clone(), &**inner),
                other => (super::msgpack::infer_type(other), other),
            };
            out.push_str("{\"value\":");
            write(out, inner, &t)?;
            out.push_str(",\"type\":");
            out.push_str(&t.to_json());
            out.push('}');
        }
        (Value::Dynamic(_, inner), t) => write(out, inner, t)?,
        (Value::String(s), Type::String) => out.push_str(&q(s)),
        (Value::Bool(b), Type::Bool) => out.push_str(if *b { "true" } else { "false" }),
        (Value::Number(n), Type::Number) => out.push_str(&n.to_string()),
        (Value::List(items) | Value::Set(items), Type::List(e) | Type::Set(e)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item, e).map_err(|err| err.at_index(i))?;
            }
            out.push(']');
        }
        (Value::List(items), Type::Tuple(types)) if items.len() == types.len() => {
            out.push('[');
            for (i, (item, t)) in items.iter().zip(types).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item, t).map_err(|err| err.at_index(i))?;
            }
            out.push(']');
        }
        (Value::Map(m), Type::Map(e)) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&q(k));
                out.push(':');
                write(out, v, e).map_err(|err| err.at_key(k))?;
            }
            out.push('}');
        }
        (Value::Object(m), Type::Object(types, _)) => {
            out.push('{');
            for (i, (k, t)) in types.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&q(k));
                out.push(':');
                write(out, m.get(k).unwrap_or(&Value::Null), t).map_err(|err| err.at_attr(k))?;
            }
            out.push('}');
        }
        (_, t) => return Err(CodecError::new(format!("value does not fit type {t}"))),
    }
    Ok(())
}

/// Untyped JSON with numbers kept as text.
enum Raw {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Raw>),
    Obj(Vec<(String, Raw)>),
}

fn convert(raw: Raw, ty: &Type, lenient: bool) -> Result<Value, CodecError> {
    match (raw, ty) {
        (Raw::Null, _) => Ok(Value::Null),
        (Raw::Obj(fields), Type::Dynamic) => {
            let mut value = None;
            let mut t = None;
            for (k, v) in fields {
                match k.as_str() {
                    "value" => value = Some(v),
                    "type" => t = Some(raw_to_type(v)?),
                    _ => {
                        return Err(CodecError::new(format!(
                            "unexpected key {k:?} in dynamic value"
                        )));
                    }
                }
            }
            let t = t.ok_or_else(|| CodecError::new("dynamic value needs \"type\""))?;
            let v = convert(value.unwrap_or(Raw::Null), &t, lenient)?;
            Ok(Value::Dynamic(Box::new(t), Box::new(v)))
        }
        (_, Type::Dynamic) => Err(CodecError::new(
            "dynamic value must be {\"value\":…,\"type\":…}",
        )),
        (Raw::Str(s), Type::String) => Ok(Value::String(s)),
        (Raw::Num(n), Type::String) => Ok(Value::String(n)),
        (Raw::Bool(b), Type::String) => Ok(Value::String(b.to_string())),
        (Raw::Bool(b), Type::Bool) => Ok(Value::Bool(b)),
        (Raw::Str(s), Type::Bool) => match s.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(CodecError::new(format!("{s:?} is not a bool"))),
        },
        (Raw::Num(n) | Raw::Str(n), Type::Number) => Number::parse(&n)
            .map(Value::Number)
            .ok_or_else(|| CodecError::new(format!("{n:?} is not a number"))),
        (Raw::Arr(items), Type::List(e) | Type::Set(e)) => {
            let items = items
                .into_iter()
                .enumerate()
                .map(|(i, r)| convert(r, e, lenient).map_err(|err| err.at_index(i)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(items)
            } else {
                Value::List(items)
            })
        }
        (Raw::Arr(items), Type::Tuple(types)) if items.len() == types.len() => Ok(Value::List(
            items
                .into_iter()
                .zip(types)
                .enumerate()
                .map(|(i, (r, t))| convert(r, t, lenient).map_err(|err| err.at_index(i)))
                .collect::<Result<_, _>>()?,
        )),
        (Raw::Obj(fields), Type::Map(e)) => Ok(Value::Map(
            fields
                .into_iter()
                .map(|(k, r)| {
                    let v = convert(r, e, lenient).map_err(|err| err.at_key(&k))?;
                    Ok((k, v))
                })
                .collect::<Result<BTreeMap<_, _>, CodecError>>()?,
        )),
        (Raw::Obj(fields), Type::Object(types, _)) => {
            let mut m = BTreeMap::new();
            for (k, r) in fields {
                match types.get(&k) {
                    Some(t) => {
                        let v = convert(r, t, lenient).map_err(|err| err.at_attr(&k))?;
                        m.insert(k, v);
                    }
                    None if lenient => {}
                    None => return Err(CodecError::new(format!("unsupported attribute {k:?}"))),
                }
            }
            for name in types.keys() {
                m.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(m))
        }
        (_, t) => Err(CodecError::new(format!("JSON value does not fit type {t}"))),
    }
}

fn raw_to_type(raw: Raw) -> Result<Type, CodecError> {
    let mut s = String::new();
    raw_to_text(&raw, &mut s);
    Type::from_json(s.as_bytes()).map_err(|e| CodecError::new(e.0))
}

fn raw_to_text(raw: &Raw, out: &mut String) {
    match raw {
        Raw::Null => out.push_str("null"),
        Raw::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Raw::Num(n) => out.push_str(n),
        Raw::Str(s) => out.push_str(&serde_json::to_string(s).expect("string encodes")),
        Raw::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                raw_to_text(item, out);
            }
            out.push(']');
        }
        Raw::Obj(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).expect("string encodes"));
                out.push(':');
                raw_to_text(v, out);
            }
            out.push('}');
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn err(&self, what: &str) -> CodecError {
        CodecError::new(format!("invalid JSON at byte {}: {what}", self.pos))
    }

    fn parse(&mut self, depth: usize) -> Result<Raw, CodecError> {
        if depth > 256 {
            return Err(self.err("nesting too deep"));
        }
        self.ws();
        match self.s.get(self.pos) {
            None => Err(self.err("unexpected end")),
            Some(b'n') => self.lit("null", Raw::Null),
            Some(b't') => self.lit("true", Raw::Bool(true)),
            Some(b'f') => self.lit("false", Raw::Bool(false)),
            Some(b'"') => Ok(Raw::Str(self.string()?)),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Raw::Arr(items));
                }
                loop {
                    items.push(self.parse(depth + 1)?);
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Raw::Arr(items));
                        }
                        _ => return Err(self.err("expected , or ]")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Raw::Obj(fields));
                }
                loop {
                    self.ws();
                    if self.s.get(self.pos) != Some(&b'"') {
                        return Err(self.err("expected a key"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.pos) != Some(&b':') {
                        return Err(self.err("expected :"));
                    }
                    self.pos += 1;
                    fields.push((k, self.parse(depth + 1)?));
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Raw::Obj(fields));
                        }
                        _ => return Err(self.err("expected , or }")),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                while matches!(
                    self.s.get(self.pos),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.pos]).expect("ascii");
                if Number::parse(text).is_none() {
                    return Err(self.err("malformed number"));
                }
                Ok(Raw::Num(text.to_string()))
            }
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn lit(&mut self, word: &str, v: Raw) -> Result<Raw, CodecError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err("unexpected word"))
        }
    }

    fn string(&mut self) -> Result<String, CodecError> {
        // Find the closing quote, then let serde_json handle escapes exactly.
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.s.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'\\') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => self.pos += 1,
            }
        }
        let slice = self
            .s
            .get(start..self.pos)
            .ok_or_else(|| self.err("bad string"))?;
        serde_json::from_slice(slice).map_err(|_| self.err("bad string escape"))
    }
}
