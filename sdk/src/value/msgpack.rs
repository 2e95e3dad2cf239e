//! The msgpack form of values that Terraform sends and expects (`DynamicValue.msgpack`).
//!
//! Decoding is guided by the type, as in go-cty: any extension value is an unknown
//! (type 12 keeps its refinements), numbers arrive as integers, floats or decimal
//! strings, and `dynamic` positions carry `[type JSON, value]`.

use super::{CodecError, Number, Refinements, Type, Value};
use std::collections::BTreeMap;

/// Extension type of an unrefined unknown.
const EXT_UNKNOWN: i8 = 0;
/// Extension type of a refined unknown.
const EXT_REFINED: i8 = 12;

/// Encodes `value` as msgpack under `ty`.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(64);
    write_value(&mut out, value, ty)?;
    Ok(out)
}

/// Decodes msgpack bytes as a value of type `ty`. Malformed or mistyped input is an
/// error, never a panic.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let v = r.value(ty, 0)?;
    if r.pos != bytes.len() {
        return Err(CodecError::new(format!(
            "{} trailing bytes after the value",
            bytes.len() - r.pos
        )));
    }
    Ok(v)
}

fn write_value(out: &mut Vec<u8>, value: &Value, ty: &Type) -> Result<(), CodecError> {
    match (value, ty) {
        (Value::Unknown(refinements), _) => {
            match refinements.raw() {
                Some(raw) if !raw.is_empty() => write_ext(out, EXT_REFINED, raw),
                _ => out.extend_from_slice(&[0xd4, EXT_UNKNOWN as u8, 0x00]),
            }
            Ok(())
        }
        (Value::Null, _) => {
            out.push(0xc0);
            Ok(())
        }
        (Value::Dynamic(inner_ty, inner), Type::Dynamic) => {
            out.push(0x92);
            write_bin(out, inner_ty.to_json().as_bytes());
            write_value(out, inner, inner_ty)
        }
        (v, Type::Dynamic) => {
            let inferred = infer_type(v);
            out.push(0x92);
            write_bin(out, inferred.to_json().as_bytes());
            write_value(out, v, &inferred)
        }
        (Value::Dynamic(inner_ty, inner), _) if **inner_ty == *ty => write_value(out, inner, ty),
        (Value::String(s), Type::String) => {
            write_str(out, s);
            Ok(())
        }
        (Value::Bool(b), Type::Bool) => {
            out.push(if *b { 0xc3 } else { 0xc2 });
            Ok(())
        }
        (Value::Number(n), Type::Number) => {
            match n {
                Number::Int(i) => write_int(out, *i),
                Number::Float(f) => {
                    out.push(0xcb);
                    out.extend_from_slice(&f.to_be_bytes());
                }
                Number::Decimal(s) => write_str(out, s),
            }
            Ok(())
        }
        (Value::List(items) | Value::Set(items), Type::List(e) | Type::Set(e)) => {
            write_array_len(out, items.len());
            for (i, item) in items.iter().enumerate() {
                write_value(out, item, e).map_err(|err| err.at_index(i))?;
            }
            Ok(())
        }
        (Value::List(items), Type::Tuple(types)) => {
            if items.len() != types.len() {
                return Err(CodecError::new(format!(
                    "tuple needs {} elements, got {}",
                    types.len(),
                    items.len()
                )));
            }
            write_array_len(out, items.len());
            for (i, (item, t)) in items.iter().zip(types).enumerate() {
                write_value(out, item, t).map_err(|err| err.at_index(i))?;
            }
            Ok(())
        }
        (Value::Map(entries), Type::Map(e)) => {
            write_map_len(out, entries.len());
            for (k, v) in entries {
                write_str(out, k);
                write_value(out, v, e).map_err(|err| err.at_key(k))?;
            }
            Ok(())
        }
        (Value::Object(attrs), Type::Object(types, _)) => {
            write_map_len(out, types.len());
            // Both maps are sorted by name: walk them together instead of looking each
            // attribute up. An attribute the type lacks stops the walk and is reported.
            let mut values = attrs.iter().peekable();
            for (name, t) in types {
                let v = match values.next_if(|(k, _)| *k == name) {
                    Some((_, v)) => v,
                    None => &Value::Null,
                };
                write_str(out, name);
                write_value(out, v, t).map_err(|err| err.at_attr(name))?;
            }
            if let Some((extra, _)) = values.next() {
                return Err(CodecError::new(format!("unsupported attribute {extra:?}")));
            }
            Ok(())
        }
        (v, t) => Err(CodecError::new(format!(
            "{} value does not fit type {t}",
            kind(v)
        ))),
    }
}

/// The type a value would have on its own, for values at `dynamic` positions that
/// were built without one.
pub fn infer_type(v: &Value) -> Type {
    match v {
        Value::Null | Value::Unknown(_) => Type::Dynamic,
        Value::String(_) => Type::String,
        Value::Number(_) => Type::Number,
        Value::Bool(_) => Type::Bool,
        Value::List(items) => Type::Tuple(items.iter().map(infer_type).collect()),
        Value::Set(items) => Type::set(items.first().map(infer_type).unwrap_or(Type::Dynamic)),
        Value::Map(m) | Value::Object(m) => {
            Type::object(m.iter().map(|(k, v)| (k.clone(), infer_type(v))))
        }
        Value::Dynamic(t, _) => (**t).clone(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown(_) => "unknown",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
        Value::Dynamic(..) => "dynamic",
    }
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    if (0..=127).contains(&i) {
        out.push(i as u8);
    } else if (-32..0).contains(&i) {
        out.push(i as i8 as u8);
    } else if i >= 0 {
        if i <= u8::MAX as i64 {
            out.extend_from_slice(&[0xcc, i as u8]);
        } else if i <= u16::MAX as i64 {
            out.push(0xcd);
            out.extend_from_slice(&(i as u16).to_be_bytes());
        } else if i <= u32::MAX as i64 {
            out.push(0xce);
            out.extend_from_slice(&(i as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(i as u64).to_be_bytes());
        }
    } else if i >= i8::MIN as i64 {
        out.extend_from_slice(&[0xd0, i as i8 as u8]);
    } else if i >= i16::MIN as i64 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= u8::MAX as usize {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= u16::MAX as usize {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n <= u8::MAX as usize {
        out.extend_from_slice(&[0xc4, n as u8]);
    } else if n <= u16::MAX as usize {
        out.push(0xc5);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

fn write_ext(out: &mut Vec<u8>, ty: i8, data: &[u8]) {
    let n = data.len();
    match n {
        1 => out.push(0xd4),
        2 => out.push(0xd5),
        4 => out.push(0xd6),
        8 => out.push(0xd7),
        16 => out.push(0xd8),
        _ if n <= u8::MAX as usize => out.extend_from_slice(&[0xc7, n as u8]),
        _ if n <= u16::MAX as usize => {
            out.push(0xc8);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(0xc9);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    out.push(ty as u8);
    out.extend_from_slice(data);
}

fn write_array_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn write_map_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// One msgpack item header.
enum Head {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(usize),
    Bin(usize),
    Array(usize),
    Map(usize),
    Ext(i8, usize),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.buf.len() - self.pos < n {
            return Err(CodecError::new("unexpected end of msgpack data"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn head(&mut self) -> Result<Head, CodecError> {
        let b = self.byte()?;
        Ok(match b {
            0x00..=0x7f => Head::Int(b as i64),
            0x80..=0x8f => Head::Map((b & 0x0f) as usize),
            0x90..=0x9f => Head::Array((b & 0x0f) as usize),
            0xa0..=0xbf => Head::Str((b & 0x1f) as usize),
            0xc0 => Head::Nil,
            0xc2 => Head::Bool(false),
            0xc3 => Head::Bool(true),
            0xc4 => Head::Bin(self.byte()? as usize),
            0xc5 => Head::Bin(u16::from_be_bytes(self.be()?) as usize),
            0xc6 => Head::Bin(u32::from_be_bytes(self.be()?) as usize),
            0xc7 => {
                let n = self.byte()? as usize;
                Head::Ext(self.byte()? as i8, n)
            }
            0xc8 => {
                let n = u16::from_be_bytes(self.be()?) as usize;
                Head::Ext(self.byte()? as i8, n)
            }
            0xc9 => {
                let n = u32::from_be_bytes(self.be()?) as usize;
                Head::Ext(self.byte()? as i8, n)
            }
            0xca => Head::Float(f32::from_be_bytes(self.be()?) as f64),
            0xcb => Head::Float(f64::from_be_bytes(self.be()?)),
            0xcc => Head::UInt(self.byte()? as u64),
            0xcd => Head::UInt(u16::from_be_bytes(self.be()?) as u64),
            0xce => Head::UInt(u32::from_be_bytes(self.be()?) as u64),
            0xcf => Head::UInt(u64::from_be_bytes(self.be()?)),
            0xd0 => Head::Int(self.byte()? as i8 as i64),
            0xd1 => Head::Int(i16::from_be_bytes(self.be()?) as i64),
            0xd2 => Head::Int(i32::from_be_bytes(self.be()?) as i64),
            0xd3 => Head::Int(i64::from_be_bytes(self.be()?)),
            0xd4 => Head::Ext(self.byte()? as i8, 1),
            0xd5 => Head::Ext(self.byte()? as i8, 2),
            0xd6 => Head::Ext(self.byte()? as i8, 4),
            0xd7 => Head::Ext(self.byte()? as i8, 8),
            0xd8 => Head::Ext(self.byte()? as i8, 16),
            0xd9 => Head::Str(self.byte()? as usize),
            0xda => Head::Str(u16::from_be_bytes(self.be()?) as usize),
            0xdb => Head::Str(u32::from_be_bytes(self.be()?) as usize),
            0xdc => Head::Array(u16::from_be_bytes(self.be()?) as usize),
            0xdd => Head::Array(u32::from_be_bytes(self.be()?) as usize),
            0xde => Head::Map(u16::from_be_bytes(self.be()?) as usize),
            0xdf => Head::Map(u32::from_be_bytes(self.be()?) as usize),
            0xe0..=0xff => Head::Int(b as i8 as i64),
            0xc1 => return Err(CodecError::new("invalid msgpack byte 0xc1")),
        })
    }

    /// A container length, checked against what is left so hostile lengths cannot
    /// make us allocate.
    fn checked_len(&self, n: usize, min_item: usize) -> Result<usize, CodecError> {
        if n.saturating_mul(min_item) > self.buf.len() - self.pos {
            return Err(CodecError::new("container length exceeds the data"));
        }
        Ok(n)
    }

    fn string(&mut self, n: usize) -> Result<String, CodecError> {
        let b = self.take(n)?;
        std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| CodecError::new("string is not valid UTF-8"))
    }

    fn map_key(&mut self) -> Result<String, CodecError> {
        match self.head()? {
            Head::Str(n) => self.string(n),
            _ => Err(CodecError::new("map keys must be strings")),
        }
    }

    fn value(&mut self, ty: &Type, depth: usize) -> Result<Value, CodecError> {
        if depth > super::MAX_TYPE_DEPTH * 2 {
            return Err(CodecError::new("value nesting is too deep"));
        }
        let head = self.head()?;
        if let Head::Ext(ext, n) = head {
            let data = self.take(n)?;
            return Ok(if ext == EXT_REFINED {
                Value::Unknown(Refinements::from_raw(data.to_vec()))
            } else {
                // Any other extension code is a plain unknown.
                Value::unknown()
            });
        }
        if let Head::Nil = head {
            return Ok(Value::Null);
        }
        match ty {
            Type::String => match head {
                Head::Str(n) => Ok(Value::String(self.string(n)?)),
                _ => Err(CodecError::new("expected a string")),
            },
            Type::Bool => match head {
                Head::Bool(b) => Ok(Value::Bool(b)),
                _ => Err(CodecError::new("expected a bool")),
            },
            Type::Number => match head {
                Head::Int(i) => Ok(Value::Number(Number::Int(i))),
                Head::UInt(u) => Ok(Value::Number(Number::from(u))),
                Head::Float(f) if f.is_finite() => Ok(Value::Number(Number::from(f))),
                Head::Float(_) => Err(CodecError::new("numbers must be finite")),
                Head::Str(n) => {
                    let s = self.string(n)?;
                    Number::parse(&s)
                        .map(Value::Number)
                        .ok_or_else(|| CodecError::new(format!("{s:?} is not a number")))
                }
                _ => Err(CodecError::new("expected a number")),
            },
            Type::List(e) | Type::Set(e) => match head {
                Head::Array(n) => {
                    let n = self.checked_len(n, 1)?;
                    let mut items = Vec::with_capacity(n);
                    for i in 0..n {
                        items.push(self.value(e, depth + 1).map_err(|err| err.at_index(i))?);
                    }
                    Ok(if matches!(ty, Type::Set(_)) {
                        Value::Set(items)
                    } else {
                        Value::List(items)
                    })
                }
                _ => Err(CodecError::new(format!("expected an array for {ty}"))),
            },
            Type::Tuple(types) => match head {
                Head::Array(n) if n == types.len() => {
                    let mut items = Vec::with_capacity(n);
                    for (i, t) in types.iter().enumerate() {
                        items.push(self.value(t, depth + 1).map_err(|err| err.at_index(i))?);
                    }
                    Ok(Value::List(items))
                }
                _ => Err(CodecError::new(format!(
                    "expected an array of {} for a tuple",
                    types.len()
                ))),
            },
            Type::Map(e) => match head {
                Head::Map(n) => {
                    let n = self.checked_len(n, 2)?;
                    let mut m = BTreeMap::new();
                    for _ in 0..n {
                        let k = self.map_key()?;
                        let v = self.value(e, depth + 1).map_err(|err| err.at_key(&k))?;
                        m.insert(k, v);
                    }
                    Ok(Value::Map(m))
                }
                _ => Err(CodecError::new("expected a map")),
            },
            Type::Object(types, _) => match head {
                Head::Map(n) => {
                    let n = self.checked_len(n, 2)?;
                    let mut entries = Vec::with_capacity(n);
                    // Attributes usually arrive in the type's (sorted) order: try the next
                    // one first and look the name up only when that misses.
                    let mut expected = types.range::<str, _>(..);
                    for _ in 0..n {
                        let k = self.map_key()?;
                        let t = match expected.next() {
                            Some((name, t)) if *name == k => t,
                            _ => {
                                let t = types.get(&k).ok_or_else(|| {
                                    CodecError::new(format!("unsupported attribute {k:?}"))
                                })?;
                                expected = types.range::<str, _>((
                                    std::ops::Bound::Excluded(k.as_str()),
                                    std::ops::Bound::Unbounded,
                                ));
                                t
                            }
                        };
                        let v = self.value(t, depth + 1).map_err(|err| err.at_attr(&k))?;
                        entries.push((k, v));
                    }
                    // go-cty writes attributes sorted, so this is a linear bulk build; a
                    // repeated key keeps its last value, as inserting one by one would.
                    let mut m: BTreeMap<String, Value> = entries.into_iter().collect();
                    if m.len() != types.len() {
                        for name in types.keys() {
                            if !m.contains_key(name) {
                                m.insert(name.clone(), Value::Null);
                            }
                        }
                    }
                    Ok(Value::Object(m))
                }
                _ => Err(CodecError::new("expected an object")),
            },
            Type::Dynamic => match head {
                Head::Array(2) => {
                    let ty_bytes = match self.head()? {
                        Head::Bin(n) | Head::Str(n) => self.take(n)?,
                        _ => return Err(CodecError::new("dynamic value needs its type as bytes")),
                    };
                    let inner_ty = Type::from_json(ty_bytes).map_err(|e| CodecError::new(e.0))?;
                    let inner = self.value(&inner_ty, depth + 1)?;
                    Ok(Value::Dynamic(Box::new(inner_ty), Box::new(inner)))
                }
                _ => Err(CodecError::new("dynamic value must be [type, value]")),
            },
        }
    }

    /// Decodes any item without a type (for refinement payloads).
    fn any(&mut self, depth: usize) -> Result<Value, CodecError> {
        if depth > 8 {
            return Err(CodecError::new("refinement nesting is too deep"));
        }
        Ok(match self.head()? {
            Head::Nil => Value::Null,
            Head::Bool(b) => Value::Bool(b),
            Head::Int(i) => Value::Number(Number::Int(i)),
            Head::UInt(u) => Value::Number(Number::from(u)),
            Head::Float(f) => Value::Number(Number::from(f)),
            Head::Str(n) => Value::String(self.string(n)?),
            Head::Bin(n) => {
                self.take(n)?;
                Value::Null
            }
            Head::Array(n) => {
                let n = self.checked_len(n, 1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.any(depth + 1)?);
                }
                Value::List(items)
            }
            Head::Map(n) => {
                let n = self.checked_len(n, 2)?;
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = match self.any(depth + 1)? {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        _ => String::new(),
                    };
                    m.insert(k, self.any(depth + 1)?);
                }
                Value::Map(m)
            }
            Head::Ext(_, n) => {
                self.take(n)?;
                Value::unknown()
            }
        })
    }
}

/// The integer-keyed entries of a refinement payload, or `None` if it is malformed.
pub(crate) fn refinement_entries(raw: &[u8]) -> Option<Vec<(i64, Value)>> {
    let mut r = Reader { buf: raw, pos: 0 };
    let Ok(Head::Map(n)) = r.head() else {
        return None;
    };
    let mut out = Vec::new();
    for _ in 0..n {
        let key = match r.head().ok()? {
            Head::Int(i) => i,
            Head::UInt(u) => i64::try_from(u).ok()?,
            _ => return None,
        };
        out.push((key, r.any(0).ok()?));
    }
    Some(out)
}
