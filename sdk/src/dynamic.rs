//! Free-form structured data in an attribute: [`Json`].

use crate::diag::AttributePath;
use crate::model::TfType;
use crate::value::msgpack::infer_type;
use crate::value::{CodecError, Number, Type, Value};
use serde_json::Value as J;

/// Free-form data at a `dynamic` attribute, as JSON. Users write native HCL and the
/// provider sees a [`serde_json::Value`]:
///
/// ```hcl
/// inputs = { port = 5432, tags = ["a", "b"] }
/// ```
///
/// - What Terraform sent goes back exactly, type included: after apply the planned
///   value is kept, and a refresh that reads the same data in another form (keys in
///   another order, `5432.0` for `5432`, a list for a tuple) keeps the prior value,
///   so neither is a change.
/// - Numbers JSON cannot hold exactly (beyond 64-bit integers and doubles) are an
///   error on the attribute.
/// - A value with unknown parts decodes as [`Val::Unknown`](crate::Val::Unknown);
///   validate it once it is known.
/// - [`Json::path`] points a diagnostic inside the value.
///
/// ```
/// use tf_sdk::{AttributePath, Json, Model, Val};
/// use serde_json::json;
///
/// #[derive(Model, Clone, Debug)]
/// struct Step {
///     /// The step's inputs.
///     #[tf(optional)]
///     inputs: Val<Json>,
/// }
///
/// let inputs = Json(json!({"database": {"port": 5432}, "tags": ["a"]}));
/// let step = Step { inputs: Val::Known(inputs.clone()) };
/// assert_eq!(Step::from_value(&step.to_value()).unwrap().inputs, Val::Known(inputs.clone()));
/// let at = inputs.path(AttributePath::root("inputs"), "/database/port");
/// assert_eq!(at.to_string(), "inputs.database.port");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Json(pub serde_json::Value);

impl Json {
    /// The attribute path of the JSON pointer `pointer` (`/database/port`, `/tags/0`)
    /// inside this value at `base`: object members become attribute steps, as
    /// Terraform names them in objects, and array positions index steps.
    pub fn path(&self, base: AttributePath, pointer: &str) -> AttributePath {
        let mut path = base;
        let mut at = Some(&self.0);
        for raw in pointer.split('/').skip(1) {
            let seg = raw.replace("~1", "/").replace("~0", "~");
            match (at, seg.parse::<usize>()) {
                (Some(J::Array(items)), Ok(i)) => {
                    at = items.get(i);
                    path = path.index(i as i64);
                }
                (node, _) => {
                    at = node.and_then(|n| n.get(&seg));
                    path = path.attr(seg);
                }
            }
        }
        path
    }
}

fn to_json(v: &Value) -> Result<J, CodecError> {
    Ok(match v {
        Value::Null => J::Null,
        Value::Unknown(_) => return Err(CodecError::not_known()),
        Value::String(s) => J::String(s.clone()),
        Value::Bool(b) => J::Bool(*b),
        Value::Number(n) => J::Number(json_number(n)?),
        Value::List(items) | Value::Set(items) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, e)| to_json(e).map_err(|err| err.at_index(i)))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) | Value::Object(m) => J::Object(
            m.iter()
                .map(|(k, e)| Ok((k.clone(), to_json(e).map_err(|err| err.at_attr(k))?)))
                .collect::<Result<_, CodecError>>()?,
        ),
        Value::Dynamic(_, inner) => to_json(inner)?,
    })
}

fn json_number(n: &Number) -> Result<serde_json::Number, CodecError> {
    let exact = match n {
        Number::Int(i) => Some(serde_json::Number::from(*i)),
        Number::Float(f) => serde_json::Number::from_f64(*f),
        Number::Decimal(d) => d.parse::<u64>().ok().map(serde_json::Number::from),
    };
    exact.ok_or_else(|| {
        CodecError::new(format!(
            "the number {n} cannot be held exactly in JSON data (64-bit integers and \
             doubles only)"
        ))
    })
}

/// The Terraform value of JSON data. Its type is inferred as for any value at a
/// `dynamic` position (`msgpack::infer_type`): objects become objects and arrays
/// tuples, as HCL's own `{...}` and `[...]` are.
fn from_json(j: &J) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::String(s) => Value::String(s.clone()),
        J::Number(n) => Value::Number(if let Some(i) = n.as_i64() {
            Number::from(i)
        } else if let Some(u) = n.as_u64() {
            Number::from(u)
        } else {
            Number::from(n.as_f64().unwrap_or_default())
        }),
        J::Array(items) => Value::List(items.iter().map(from_json).collect()),
        J::Object(m) => Value::Object(m.iter().map(|(k, e)| (k.clone(), from_json(e))).collect()),
    }
}

impl TfType for Json {
    fn tf_type() -> Type {
        Type::Dynamic
    }
    fn from_tf(v: &Value) -> Result<Self, CodecError> {
        to_json(v).map(Json)
    }
    fn to_tf(&self) -> Value {
        match from_json(&self.0) {
            Value::Null => Value::Null,
            v => Value::Dynamic(Box::new(infer_type(&v)), Box::new(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_and_refuses_numbers_json_cannot_hold() {
        let data = json!({"a": [1, "x", true, null, {"b": 2.5}], "big": 18446744073709551615u64});
        let v = Json(data.clone()).to_tf();
        assert!(matches!(&v, Value::Dynamic(t, _) if matches!(**t, Type::Object(..))));
        assert_eq!(Json::from_tf(&v).unwrap().0, data);
        for text in [
            "18446744073709551617",
            "1e400",
            "0.1000000000000000000000001",
        ] {
            let n = Value::Number(Number::parse(text).unwrap());
            let err = Json::from_tf(&Value::object([("n", n)])).unwrap_err();
            assert!(
                err.message.contains("cannot be held exactly"),
                "{text}: {err}"
            );
            assert_eq!(err.path.to_string(), "n");
        }
        let partial = Value::object([("a", Value::unknown())]);
        assert!(Json::from_tf(&partial).unwrap_err().unknown);
    }

    #[test]
    fn paths_point_inside() {
        let j = Json(json!({"db": {"ports": [1, 2]}, "a/b": 1}));
        let base = AttributePath::root("step").index(2).attr("inputs");
        assert_eq!(
            j.path(base.clone(), "/db/ports/1").to_string(),
            "step[2].inputs.db.ports[1]"
        );
        assert_eq!(j.path(base, "/a~1b").to_string(), "step[2].inputs.a/b");
    }
}
