//! A compact JSON Schema validator for step inputs, reporting errors by input path.
//!
//! Supported keywords (a subset of draft 2020-12 / draft-07 that step authors need):
//!
//! | Applies to | Keywords |
//! |---|---|
//! | any | `type` (string or array; `integer` = a number with no fraction), `enum`, `const`, `allOf`, `anyOf`, `oneOf`, `not`, `$ref` (`#` or `#/...` within the same document) |
//! | object | `properties`, `required`, `additionalProperties` (boolean or schema), `minProperties`, `maxProperties` |
//! | array | `items` (one schema), `minItems`, `maxItems`, `uniqueItems` |
//! | string | `minLength`, `maxLength` (in Unicode code points), `pattern` (unanchored, `regex-lite` syntax) |
//! | number | `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (numbers, draft 6+) |
//! | annotations (ignored) | `$schema`, `$id`, `$comment`, `title`, `description`, `default`, `examples`, `deprecated`, `readOnly`, `writeOnly`, `format`, `definitions`, `$defs` |
//!
//! Any other keyword is refused when the schema is compiled, so a schema never silently
//! validates less than its author meant.
//!
//! [`Dialect::Octopus`] (the `inputs.json` of Octopus's step-package CLI) adds the root
//! selection of that format (the root `$ref`, or the definition with `"isRoot": true`), the
//! annotations `isRoot` and `accountType`, and the server-owned markers of [`Marker`] (values
//! as Octopus stores them); a primitive input may hold a bound value (`"#{Variable}"`).
//!
//! ```
//! use octopus_packaging::schema::InputSchema;
//! use serde_json::json;
//!
//! let schema = InputSchema::compile(&json!({
//!     "type": "object",
//!     "properties": {"database": {"type": "object", "properties": {"port": {"type": "integer"}}}},
//! })).unwrap();
//! let errors = schema.validate(&json!({"database": {"port": "5432"}})).unwrap_err();
//! assert_eq!(errors[0].to_string(), "/database/port: expected integer, got string");
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde_json::Value;

/// Most errors reported by one validation.
pub const MAX_ERRORS: usize = 100;
const MAX_REF_DEPTH: usize = 64;

/// A schema that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid inputs schema at `#{schema_path}`: {message}")]
pub struct SchemaError {
    /// JSON Pointer into the schema document.
    pub schema_path: String,
    /// What is wrong.
    pub message: String,
}

/// One validation failure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationError {
    /// JSON Pointer to the offending input (`""` for the whole inputs object).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ValidationError {
    /// `/database/port: expected integer, got string` (the root is shown as `/`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Which schema conventions apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    /// Our format (`inputs.schema.json`): plain JSON Schema; the root is the document.
    #[default]
    Ours,
    /// Octopus's `inputs.json`: root selection, markers and bound values (see the module docs).
    Octopus,
}

/// A server-owned input type of Octopus's format, marked in the schema by `is<Name>: true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Marker {
    /// `isSensitiveValue`: `{HasValue, NewValue?, Hint?}` or a bound string.
    SensitiveValue,
    /// `isPackageReference`: `{referenceId, feedId, packageId, ...}`.
    PackageReference,
    /// `isContainerImageReference`: `{referenceId, feedId, imageName}`.
    ContainerImageReference,
    /// `isAccount`: an account ID (or a bound string).
    Account,
    /// `isDiscriminator`: a literal (`const`), never bound.
    Discriminator,
}

impl Marker {
    const ALL: [(&'static str, Marker); 5] = [
        ("isSensitiveValue", Marker::SensitiveValue),
        ("isPackageReference", Marker::PackageReference),
        ("isContainerImageReference", Marker::ContainerImageReference),
        ("isAccount", Marker::Account),
        ("isDiscriminator", Marker::Discriminator),
    ];
}

/// A value of the instance validated by a marked schema (see [`InputSchema::marked_inputs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MarkedInput {
    /// JSON Pointer of the value.
    pub path: String,
    /// The schema's marker.
    pub marker: Marker,
    /// The value as given.
    pub value: Value,
}

/// True for a bound value: a string that is one `#{...}` expression (`"#{Port}"`).
pub fn is_bound_value(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        let t = s.trim();
        t.starts_with("#{") && t.ends_with('}') && t.len() > 3
    })
}

/// True for a sensitive value as stored: `{HasValue: bool, NewValue?: string, Hint?: string}`.
pub fn is_sensitive_value(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.get("HasValue").is_some_and(Value::is_boolean)
            && o.iter().all(|(k, v)| match k.as_str() {
                "HasValue" => true,
                "NewValue" | "Hint" => v.is_string() || v.is_null(),
                _ => false,
            })
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    fn parse(s: &str) -> Option<JsonType> {
        Some(match s {
            "null" => JsonType::Null,
            "boolean" => JsonType::Boolean,
            "integer" => JsonType::Integer,
            "number" => JsonType::Number,
            "string" => JsonType::String,
            "array" => JsonType::Array,
            "object" => JsonType::Object,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            JsonType::Null => "null",
            JsonType::Boolean => "boolean",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::String => "string",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }

    fn of(v: &Value) -> JsonType {
        match v {
            Value::Null => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Number(n) if is_integer(n) => JsonType::Integer,
            Value::Number(_) => JsonType::Number,
            Value::String(_) => JsonType::String,
            Value::Array(_) => JsonType::Array,
            Value::Object(_) => JsonType::Object,
        }
    }

    fn accepts(self, v: &Value) -> bool {
        let actual = JsonType::of(v);
        actual == self || (self == JsonType::Number && actual == JsonType::Integer)
    }
}

fn is_integer(n: &serde_json::Number) -> bool {
    n.is_i64()
        || n.is_u64()
        || n.as_f64()
            .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

#[derive(Debug, Clone)]
enum Node {
    Bool(bool),
    Schema(Box<Keywords>),
}

#[derive(Debug, Clone, Default)]
struct Keywords {
    types: Option<Vec<JsonType>>,
    enum_values: Option<Vec<Value>>,
    const_value: Option<Value>,
    all_of: Vec<Node>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    not: Option<Node>,
    reference: Option<String>,
    properties: BTreeMap<String, Node>,
    required: Vec<String>,
    additional: Option<Node>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    items: Option<Node>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique_items: bool,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<(String, regex_lite::Regex)>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    marker: Option<Marker>,
}

impl Keywords {
    /// Octopus accepts a bound value where the schema wants a primitive.
    fn bindable(&self) -> bool {
        self.marker.is_none()
            && self.types.as_ref().is_some_and(|t| {
                t.iter().all(|t| {
                    matches!(
                        t,
                        JsonType::Boolean | JsonType::Integer | JsonType::Number | JsonType::String
                    )
                })
            })
    }
}

/// A compiled inputs schema.
#[derive(Debug, Clone)]
pub struct InputSchema {
    root: Node,
    refs: HashMap<String, Node>,
    dialect: Dialect,
}

const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "format",
    "definitions",
    "$defs",
];

fn escape_token(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

struct Compiler<'a> {
    doc: &'a Value,
    pending: Vec<String>,
    dialect: Dialect,
}

impl Compiler<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> SchemaError {
        SchemaError {
            schema_path: path.to_owned(),
            message: message.into(),
        }
    }

    fn count(&self, v: &Value, path: &str, key: &str) -> Result<u64, SchemaError> {
        v.as_u64().ok_or_else(|| {
            self.err(
                &format!("{path}/{key}"),
                format!("`{key}` must be a non-negative integer"),
            )
        })
    }

    fn number(&self, v: &Value, path: &str, key: &str) -> Result<f64, SchemaError> {
        v.as_f64().ok_or_else(|| {
            self.err(
                &format!("{path}/{key}"),
                format!("`{key}` must be a number"),
            )
        })
    }

    fn sub_list(&mut self, v: &Value, path: &str, key: &str) -> Result<Vec<Node>, SchemaError> {
        let list = v.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
            self.err(
                &format!("{path}/{key}"),
                format!("`{key}` must be a non-empty array of schemas"),
            )
        })?;
        list.iter()
            .enumerate()
            .map(|(i, s)| self.node(s, &format!("{path}/{key}/{i}")))
            .collect()
    }

    fn node(&mut self, v: &Value, path: &str) -> Result<Node, SchemaError> {
        let obj = match v {
            Value::Bool(b) => return Ok(Node::Bool(*b)),
            Value::Object(o) => o,
            _ => return Err(self.err(path, "a schema must be an object or a boolean")),
        };
        let mut k = Keywords::default();
        for (key, val) in obj {
            let here = format!("{path}/{}", escape_token(key));
            match key.as_str() {
                "type" => {
                    let names: Vec<&Value> = match val {
                        Value::String(_) => vec![val],
                        Value::Array(a) if !a.is_empty() => a.iter().collect(),
                        _ => {
                            return Err(
                                self.err(&here, "`type` must be a string or a non-empty array")
                            );
                        }
                    };
                    let mut types = Vec::new();
                    for n in names {
                        let t = n.as_str().and_then(JsonType::parse).ok_or_else(|| {
                            self.err(&here, format!("unknown type {n}; expected null, boolean, integer, number, string, array or object"))
                        })?;
                        types.push(t);
                    }
                    k.types = Some(types);
                }
                "enum" => {
                    let a = val
                        .as_array()
                        .ok_or_else(|| self.err(&here, "`enum` must be an array"))?;
                    k.enum_values = Some(a.clone());
                }
                "const" => k.const_value = Some(val.clone()),
                "allOf" => k.all_of = self.sub_list(val, path, key)?,
                "anyOf" => k.any_of = self.sub_list(val, path, key)?,
                "oneOf" => k.one_of = self.sub_list(val, path, key)?,
                "not" => k.not = Some(self.node(val, &here)?),
                "$ref" => {
                    let r = val
                        .as_str()
                        .ok_or_else(|| self.err(&here, "`$ref` must be a string"))?;
                    let Some(pointer) = r.strip_prefix('#') else {
                        return Err(self.err(
                            &here,
                            format!("`$ref` `{r}` is not supported: only references within the same document (`#/...`) are"),
                        ));
                    };
                    if self.doc.pointer(pointer).is_none() {
                        return Err(self.err(&here, format!("`$ref` `{r}` points at nothing")));
                    }
                    self.pending.push(pointer.to_owned());
                    k.reference = Some(pointer.to_owned());
                }
                "properties" => {
                    let o = val
                        .as_object()
                        .ok_or_else(|| self.err(&here, "`properties` must be an object"))?;
                    for (name, s) in o {
                        let p = format!("{here}/{}", escape_token(name));
                        let node = self.node(s, &p)?;
                        k.properties.insert(name.clone(), node);
                    }
                }
                "required" => {
                    let a = val.as_array().ok_or_else(|| {
                        self.err(&here, "`required` must be an array of property names")
                    })?;
                    for n in a {
                        let n = n.as_str().ok_or_else(|| {
                            self.err(&here, "`required` must be an array of property names")
                        })?;
                        k.required.push(n.to_owned());
                    }
                }
                "additionalProperties" => k.additional = Some(self.node(val, &here)?),
                "minProperties" => k.min_properties = Some(self.count(val, path, key)?),
                "maxProperties" => k.max_properties = Some(self.count(val, path, key)?),
                "items" => {
                    if val.is_array() {
                        return Err(self.err(
                            &here,
                            "tuple `items` (an array of schemas) is not supported; give one schema",
                        ));
                    }
                    k.items = Some(self.node(val, &here)?);
                }
                "minItems" => k.min_items = Some(self.count(val, path, key)?),
                "maxItems" => k.max_items = Some(self.count(val, path, key)?),
                "uniqueItems" => {
                    k.unique_items = val
                        .as_bool()
                        .ok_or_else(|| self.err(&here, "`uniqueItems` must be a boolean"))?;
                }
                "minLength" => k.min_length = Some(self.count(val, path, key)?),
                "maxLength" => k.max_length = Some(self.count(val, path, key)?),
                "pattern" => {
                    let p = val
                        .as_str()
                        .ok_or_else(|| self.err(&here, "`pattern` must be a string"))?;
                    let re = regex_lite::Regex::new(p).map_err(|e| {
                        self.err(
                            &here,
                            format!("`pattern` is not a valid regular expression: {e}"),
                        )
                    })?;
                    k.pattern = Some((p.to_owned(), re));
                }
                "minimum" => k.minimum = Some(self.number(val, path, key)?),
                "maximum" => k.maximum = Some(self.number(val, path, key)?),
                "exclusiveMinimum" => k.exclusive_minimum = Some(self.number(val, path, key)?),
                "exclusiveMaximum" => k.exclusive_maximum = Some(self.number(val, path, key)?),
                a if ANNOTATIONS.contains(&a) => {}
                "isRoot" | "accountType" if self.dialect == Dialect::Octopus => {}
                m if self.dialect == Dialect::Octopus
                    && Marker::ALL.iter().any(|(n, _)| *n == m) =>
                {
                    match val {
                        Value::Bool(true) => {
                            if k.marker.is_some() {
                                return Err(
                                    self.err(&here, "a schema has at most one `is…` marker")
                                );
                            }
                            k.marker = Marker::ALL.iter().find(|(n, _)| *n == m).map(|(_, x)| *x);
                        }
                        Value::Bool(false) => {}
                        _ => return Err(self.err(&here, format!("`{m}` must be a boolean"))),
                    }
                }
                other => {
                    return Err(self.err(
                        &here,
                        format!("keyword `{other}` is not supported (see the supported subset in docs/step-packages.md)"),
                    ));
                }
            }
        }
        Ok(Node::Schema(Box::new(k)))
    }
}

impl InputSchema {
    /// Compiles a schema document of our format ([`Dialect::Ours`]), refusing unsupported
    /// keywords and dangling `$ref`s.
    pub fn compile(doc: &Value) -> Result<InputSchema, SchemaError> {
        Self::compile_with(doc, Dialect::Ours)
    }

    /// Compiles a schema document in `dialect`. For [`Dialect::Octopus`] the root is the
    /// document when it has a `$ref` or a `type`, else the one definition marked
    /// `"isRoot": true`.
    pub fn compile_with(doc: &Value, dialect: Dialect) -> Result<InputSchema, SchemaError> {
        let mut c = Compiler {
            doc,
            pending: Vec::new(),
            dialect,
        };
        let root = match octopus_root(doc, dialect)? {
            Some(pointer) => {
                // The document's own keywords are still checked.
                c.node(doc, "")?;
                c.pending.push(pointer.clone());
                Node::Schema(Box::new(Keywords {
                    reference: Some(pointer),
                    ..Keywords::default()
                }))
            }
            None => c.node(doc, "")?,
        };
        if dialect == Dialect::Octopus {
            // Every definition must compile, referenced or not.
            for key in ["definitions", "$defs"] {
                if let Some(defs) = doc.get(key).and_then(Value::as_object) {
                    c.pending
                        .extend(defs.keys().map(|n| format!("/{key}/{}", escape_token(n))));
                }
            }
        }
        let mut refs = HashMap::new();
        while let Some(pointer) = c.pending.pop() {
            if refs.contains_key(&pointer) {
                continue;
            }
            // Checked when the `$ref` was compiled.
            let target = doc.pointer(&pointer).unwrap_or(&Value::Bool(false));
            let node = c.node(target, &pointer)?;
            refs.insert(pointer, node);
        }
        Ok(InputSchema {
            root,
            refs,
            dialect,
        })
    }

    /// True when the root schema (through `$ref`s) says `"type": "object"` (step inputs are
    /// an object).
    pub fn root_is_object(&self) -> bool {
        let mut node = &self.root;
        for _ in 0..MAX_REF_DEPTH {
            match node {
                Node::Schema(k) if k.types.is_some() => {
                    return k.types.as_deref() == Some(&[JsonType::Object]);
                }
                Node::Schema(k) => match k.reference.as_ref().and_then(|r| self.refs.get(r)) {
                    Some(next) => node = next,
                    None => return false,
                },
                Node::Bool(_) => return false,
            }
        }
        false
    }

    /// The dialect the schema was compiled in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The values of `instance` that marked schemas ([`Marker`]) validate, with their paths,
    /// as far as `instance` is valid (e.g. the package references to match with the action's
    /// packages).
    pub fn marked_inputs(&self, instance: &Value) -> Vec<MarkedInput> {
        let mut found = Vec::new();
        let mut path = String::new();
        self.check(
            &self.root,
            instance,
            &mut path,
            &mut Vec::new(),
            &mut found,
            0,
        );
        found
    }

    /// Validates `instance`, returning every error (up to [`MAX_ERRORS`]) with its path.
    pub fn validate(&self, instance: &Value) -> Result<(), Vec<ValidationError>> {
        let mut errors = Vec::new();
        let mut path = String::new();
        self.check(
            &self.root,
            instance,
            &mut path,
            &mut errors,
            &mut Vec::new(),
            0,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            errors.truncate(MAX_ERRORS);
            Err(errors)
        }
    }

    fn is_valid(&self, node: &Node, v: &Value, path: &str, depth: usize) -> bool {
        let mut errors = Vec::new();
        let mut p = path.to_owned();
        self.check(node, v, &mut p, &mut errors, &mut Vec::new(), depth);
        errors.is_empty()
    }

    /// The marked inputs of `v` under `node` when `v` is valid there, else `None`.
    fn marks_if_valid(
        &self,
        node: &Node,
        v: &Value,
        path: &str,
        depth: usize,
    ) -> Option<Vec<MarkedInput>> {
        let (mut errors, mut found) = (Vec::new(), Vec::new());
        let mut p = path.to_owned();
        self.check(node, v, &mut p, &mut errors, &mut found, depth);
        errors.is_empty().then_some(found)
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        node: &Node,
        v: &Value,
        path: &mut String,
        errors: &mut Vec<ValidationError>,
        found: &mut Vec<MarkedInput>,
        depth: usize,
    ) {
        if errors.len() >= MAX_ERRORS {
            return;
        }
        let k = match node {
            Node::Bool(true) => return,
            Node::Bool(false) => return push(errors, path, "no value is allowed here".into()),
            Node::Schema(k) => k,
        };
        if let Some(r) = &k.reference {
            if depth >= MAX_REF_DEPTH {
                return push(
                    errors,
                    path,
                    format!("schema `$ref` nesting deeper than {MAX_REF_DEPTH}"),
                );
            }
            if let Some(target) = self.refs.get(r) {
                self.check(target, v, path, errors, found, depth + 1);
            }
        }
        if self.dialect == Dialect::Octopus {
            if let Some(m) = k.marker
                && m != Marker::Discriminator
            {
                return check_marker(m, v, path, errors, found);
            }
            if k.bindable() && is_bound_value(v) {
                // Bound values are evaluated at run time; Octopus skips their checks.
                return;
            }
        }
        if let Some(types) = &k.types
            && !types.iter().any(|t| t.accepts(v))
        {
            let want: Vec<&str> = types.iter().map(|t| t.name()).collect();
            // A wrong type makes the other keywords meaningless.
            return push(
                errors,
                path,
                format!(
                    "expected {}, got {}",
                    want.join(" or "),
                    JsonType::of(v).name()
                ),
            );
        }
        if let Some(values) = &k.enum_values
            && !values.iter().any(|e| json_eq(e, v))
        {
            let list: Vec<String> = values.iter().map(Value::to_string).collect();
            push(
                errors,
                path,
                format!("must be one of {}, got {v}", list.join(", ")),
            );
        }
        if let Some(c) = &k.const_value
            && !json_eq(c, v)
        {
            push(errors, path, format!("must be {c}, got {v}"));
        }
        match v {
            Value::Object(o) => {
                for name in &k.required {
                    if !o.contains_key(name) {
                        push(
                            errors,
                            &format!("{path}/{}", escape_token(name)),
                            "is required but missing".into(),
                        );
                    }
                }
                let n = o.len() as u64;
                if let Some(min) = k.min_properties
                    && n < min
                {
                    push(
                        errors,
                        path,
                        format!("must have at least {min} properties, got {n}"),
                    );
                }
                if let Some(max) = k.max_properties
                    && n > max
                {
                    push(
                        errors,
                        path,
                        format!("must have at most {max} properties, got {n}"),
                    );
                }
                for (name, value) in o {
                    let sub = match k.properties.get(name) {
                        Some(s) => s,
                        None => match &k.additional {
                            Some(Node::Bool(false)) => {
                                push(
                                    errors,
                                    &format!("{path}/{}", escape_token(name)),
                                    "is not an allowed input".into(),
                                );
                                continue;
                            }
                            Some(s) => s,
                            None => continue,
                        },
                    };
                    let len = path.len();
                    path.push('/');
                    path.push_str(&escape_token(name));
                    self.check(sub, value, path, errors, found, depth);
                    path.truncate(len);
                }
            }
            Value::Array(a) => {
                let n = a.len() as u64;
                if let Some(min) = k.min_items
                    && n < min
                {
                    push(
                        errors,
                        path,
                        format!("must have at least {min} items, got {n}"),
                    );
                }
                if let Some(max) = k.max_items
                    && n > max
                {
                    push(
                        errors,
                        path,
                        format!("must have at most {max} items, got {n}"),
                    );
                }
                if k.unique_items {
                    'outer: for i in 0..a.len() {
                        for j in 0..i {
                            if json_eq(&a[i], &a[j]) {
                                push(
                                    errors,
                                    path,
                                    format!("items {j} and {i} are equal; items must be unique"),
                                );
                                break 'outer;
                            }
                        }
                    }
                }
                if let Some(items) = &k.items {
                    for (i, item) in a.iter().enumerate() {
                        let len = path.len();
                        path.push('/');
                        path.push_str(&i.to_string());
                        self.check(items, item, path, errors, found, depth);
                        path.truncate(len);
                    }
                }
            }
            Value::String(s) => {
                let n = s.chars().count() as u64;
                if let Some(min) = k.min_length
                    && n < min
                {
                    push(
                        errors,
                        path,
                        format!("must be at least {min} characters long, got {n}"),
                    );
                }
                if let Some(max) = k.max_length
                    && n > max
                {
                    push(
                        errors,
                        path,
                        format!("must be at most {max} characters long, got {n}"),
                    );
                }
                if let Some((p, re)) = &k.pattern
                    && !re.is_match(s)
                {
                    push(errors, path, format!("must match the pattern `{p}`"));
                }
            }
            Value::Number(num) => {
                let x = num.as_f64().unwrap_or(f64::NAN);
                if let Some(m) = k.minimum
                    && x < m
                {
                    push(errors, path, format!("must be >= {m}, got {num}"));
                }
                if let Some(m) = k.maximum
                    && x > m
                {
                    push(errors, path, format!("must be <= {m}, got {num}"));
                }
                if let Some(m) = k.exclusive_minimum
                    && x <= m
                {
                    push(errors, path, format!("must be > {m}, got {num}"));
                }
                if let Some(m) = k.exclusive_maximum
                    && x >= m
                {
                    push(errors, path, format!("must be < {m}, got {num}"));
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
        for s in &k.all_of {
            self.check(s, v, path, errors, found, depth);
        }
        // Each alternative is checked once; a match's marked inputs are kept.
        let matching = k
            .any_of
            .iter()
            .find_map(|s| self.marks_if_valid(s, v, path, depth));
        if !k.any_of.is_empty() && matching.is_none() {
            errors.push(ValidationError {
                path: path.clone(),
                message: format!(
                    "matches none of the {} `anyOf` alternatives",
                    k.any_of.len()
                ),
            });
        }
        found.extend(matching.unwrap_or_default());
        if !k.one_of.is_empty() {
            let mut matches: Vec<Vec<MarkedInput>> = k
                .one_of
                .iter()
                .filter_map(|s| self.marks_if_valid(s, v, path, depth))
                .collect();
            let n = matches.len();
            if n == 1 {
                found.extend(matches.pop().unwrap_or_default());
            }
            if n != 1 {
                errors.push(ValidationError {
                    path: path.clone(),
                    message: format!(
                        "must match exactly one of the {} `oneOf` alternatives, matches {n}",
                        k.one_of.len()
                    ),
                });
            }
        }
        if let Some(not) = &k.not
            && self.is_valid(not, v, path, depth)
        {
            errors.push(ValidationError {
                path: path.clone(),
                message: "must not match the `not` schema".into(),
            });
        }
    }
}

/// For [`Dialect::Octopus`]: the definition to start from, when the document's root is not
/// itself a schema (no `$ref`, no `type`) and one definition says `"isRoot": true`.
fn octopus_root(doc: &Value, dialect: Dialect) -> Result<Option<String>, SchemaError> {
    if dialect != Dialect::Octopus || doc.get("$ref").is_some() || doc.get("type").is_some() {
        return Ok(None);
    }
    let mut roots = Vec::new();
    for key in ["definitions", "$defs"] {
        if let Some(defs) = doc.get(key).and_then(Value::as_object) {
            for (name, d) in defs {
                if d.get("isRoot") == Some(&Value::Bool(true)) {
                    roots.push(format!("/{key}/{}", escape_token(name)));
                }
            }
        }
    }
    match roots.len() {
        0 => Err(SchemaError {
            schema_path: String::new(),
            message: "no root schema: give a root `$ref` or mark one definition `\"isRoot\": true`"
                .into(),
        }),
        1 => Ok(roots.pop()),
        _ => Err(SchemaError {
            schema_path: String::new(),
            message: format!(
                "{} definitions say `\"isRoot\": true` ({}); exactly one may",
                roots.len(),
                roots.join(", ")
            ),
        }),
    }
}

/// Checks a value against a server-owned type of Octopus's format (stored form, §16.4 of
/// the reference). Messages never quote the value: it may be a secret.
fn check_marker(
    m: Marker,
    v: &Value,
    path: &str,
    errors: &mut Vec<ValidationError>,
    found: &mut Vec<MarkedInput>,
) {
    let before = errors.len();
    let fields = |names: &[&str], errors: &mut Vec<ValidationError>| match v.as_object() {
        Some(o) => {
            for n in names {
                match o.get(*n) {
                    Some(Value::String(s)) if !(*n == "referenceId" && s.is_empty()) => {}
                    Some(Value::String(_)) => {
                        push(errors, &format!("{path}/{n}"), "must not be empty".into())
                    }
                    Some(other) => push(
                        errors,
                        &format!("{path}/{n}"),
                        format!("expected string, got {}", JsonType::of(other).name()),
                    ),
                    None => push(
                        errors,
                        &format!("{path}/{n}"),
                        "is required but missing".into(),
                    ),
                }
            }
        }
        None => push(
            errors,
            path,
            format!(
                "expected {} object ({}), got {}",
                if m == Marker::PackageReference {
                    "a package reference"
                } else {
                    "a container image reference"
                },
                names.join(", "),
                JsonType::of(v).name()
            ),
        ),
    };
    match m {
        Marker::SensitiveValue => {
            if !(is_sensitive_value(v) || is_bound_value(v)) {
                push(
                    errors,
                    path,
                    format!(
                        "expected a sensitive value ({{\"HasValue\": true, \"NewValue\": \"…\"}}) or a bound variable (\"#{{…}}\"), got {}",
                        if v.is_string() {
                            "plain text"
                        } else {
                            JsonType::of(v).name()
                        }
                    ),
                );
            }
        }
        Marker::PackageReference => fields(&["referenceId", "feedId", "packageId"], errors),
        Marker::ContainerImageReference => fields(&["referenceId", "feedId", "imageName"], errors),
        Marker::Account => {
            if !v.is_string() {
                push(
                    errors,
                    path,
                    format!(
                        "expected an account ID (string), got {}",
                        JsonType::of(v).name()
                    ),
                );
            }
        }
        Marker::Discriminator => {}
    }
    if errors.len() == before {
        found.push(MarkedInput {
            path: path.to_owned(),
            marker: m,
            value: v.clone(),
        });
    }
}

fn push(errors: &mut Vec<ValidationError>, path: &str, message: String) {
    errors.push(ValidationError {
        path: path.to_owned(),
        message,
    });
}

/// JSON equality where `1` and `1.0` are equal, as JSON Schema requires.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(schema: Value, instance: Value) -> Vec<String> {
        let s = InputSchema::compile(&schema).unwrap();
        match s.validate(&instance) {
            Ok(()) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    fn db_schema() -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "title": "Inputs",
            "required": ["name", "database"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 10, "pattern": "^[a-z]+$"},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
                "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "mode": {"enum": ["fast", "safe"]},
                "kind": {"const": "v1"},
                "database": {
                    "type": "object",
                    "required": ["port"],
                    "properties": {
                        "port": {"type": "integer"},
                        "host": {"type": ["string", "null"], "description": "host name"}
                    }
                },
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3, "uniqueItems": true},
                "target": {"$ref": "#/$defs/target"}
            },
            "$defs": {
                "target": {
                    "oneOf": [
                        {"type": "object", "required": ["region"], "properties": {"region": {"type": "string"}}, "additionalProperties": false},
                        {"type": "object", "required": ["cluster"], "properties": {"cluster": {"type": "string"}}, "additionalProperties": false}
                    ]
                }
            }
        })
    }

    #[test]
    fn valid_inputs_pass() {
        let ok = json!({
            "name": "web", "replicas": 3, "ratio": 0.5, "mode": "safe", "kind": "v1",
            "database": {"port": 5432.0, "host": null},
            "tags": ["a", "b"], "target": {"region": "eu"}
        });
        assert_eq!(errors(db_schema(), ok), Vec::<String>::new());
    }

    #[test]
    fn errors_name_the_input_path() {
        let bad = json!({
            "name": "Web!", "replicas": 9, "ratio": 1, "mode": "slow", "kind": "v2",
            "database": {"port": "5432", "host": 3},
            "tags": ["a", 1, "a", "b"], "target": {"region": "eu", "cluster": "c"},
            "extra": true
        });
        let got = errors(db_schema(), bad);
        let want = [
            "/database/host: expected string or null, got integer",
            "/database/port: expected integer, got string",
            "/extra: is not an allowed input",
            "/kind: must be \"v1\", got \"v2\"",
            "/mode: must be one of \"fast\", \"safe\", got \"slow\"",
            "/name: must match the pattern `^[a-z]+$`",
            "/ratio: must be < 1, got 1",
            "/replicas: must be <= 5, got 9",
            "/tags: must have at most 3 items, got 4",
            "/tags: items 0 and 2 are equal; items must be unique",
            "/tags/1: expected string, got integer",
            "/target: must match exactly one of the 2 `oneOf` alternatives, matches 0",
        ];
        for w in want {
            assert!(got.contains(&w.to_string()), "missing `{w}` in {got:#?}");
        }
        assert_eq!(got.len(), want.len(), "{got:#?}");
        let missing = errors(db_schema(), json!({"database": {}}));
        assert_eq!(
            missing,
            [
                "/name: is required but missing",
                "/database/port: is required but missing"
            ]
        );
        assert_eq!(
            errors(db_schema(), json!([])),
            ["/: expected object, got array"]
        );
    }

    #[test]
    fn combinators_and_recursion() {
        let tree = json!({
            "$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}, "v": {"type": "integer"}}}},
            "$ref": "#/$defs/node"
        });
        assert!(
            errors(
                tree.clone(),
                json!({"children": [{"children": [{"v": 1}]}]})
            )
            .is_empty()
        );
        assert_eq!(
            errors(tree, json!({"children": [{"children": [{"v": "x"}]}]})),
            ["/children/0/children/0/v: expected integer, got string"]
        );
        let s = json!({"anyOf": [{"type": "string"}, {"type": "integer"}], "not": {"const": 0}});
        assert!(errors(s.clone(), json!("x")).is_empty());
        assert_eq!(
            errors(s.clone(), json!(true)),
            ["/: matches none of the 2 `anyOf` alternatives"]
        );
        assert_eq!(errors(s, json!(0)), ["/: must not match the `not` schema"]);
        let all = json!({"allOf": [{"minLength": 2}, {"maxLength": 3}]});
        assert_eq!(
            errors(all, json!("abcd")),
            ["/: must be at most 3 characters long, got 4"]
        );
        // A reference cycle that consumes no input stops instead of recursing forever.
        let cyc = json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"});
        let e = errors(cyc, json!(1));
        assert!(e[0].contains("nesting deeper than"), "{e:?}");
        assert_eq!(
            errors(json!(false), json!(1)),
            ["/: no value is allowed here"]
        );
        assert!(errors(json!(true), json!(1)).is_empty());
        assert_eq!(
            errors(json!({"minLength": 2}), json!("é")),
            ["/: must be at least 2 characters long, got 1"]
        );
        assert_eq!(
            errors(
                json!({"properties": {"a/b": {"type": "string"}}}),
                json!({"a/b": 1})
            ),
            ["/a~1b: expected string, got integer"]
        );
    }

    #[test]
    fn bad_schemas_are_refused_with_their_location() {
        let cases = [
            (json!({"type": "str"}), "`#/type`", "unknown type \"str\""),
            (
                json!({"properties": {"a": {"patternProperties": {}}}}),
                "`#/properties/a/patternProperties`",
                "keyword `patternProperties` is not supported",
            ),
            (
                json!({"$ref": "other.json#/a"}),
                "`#/$ref`",
                "only references within the same document",
            ),
            (
                json!({"$ref": "#/$defs/missing"}),
                "`#/$ref`",
                "points at nothing",
            ),
            (
                json!({"pattern": "("}),
                "`#/pattern`",
                "not a valid regular expression",
            ),
            (
                json!({"minLength": -1}),
                "`#/minLength`",
                "non-negative integer",
            ),
            (json!({"items": [{}]}), "`#/items`", "tuple `items`"),
            (json!({"anyOf": []}), "`#/anyOf`", "non-empty array"),
            (json!(3), "`#`", "object or a boolean"),
            (
                json!({"$defs": {"x": {"type": 1}}, "$ref": "#/$defs/x"}),
                "`#/$defs/x/type`",
                "must be a string or a non-empty array",
            ),
        ];
        for (schema, at, want) in cases {
            let e = InputSchema::compile(&schema).unwrap_err().to_string();
            assert!(
                e.contains(at) && e.contains(want),
                "{schema}: `{e}` lacks {at} / {want}"
            );
        }
    }

    #[test]
    fn root_object_detection() {
        assert!(
            InputSchema::compile(&json!({"type": "object"}))
                .unwrap()
                .root_is_object()
        );
        assert!(
            !InputSchema::compile(&json!({"type": "string"}))
                .unwrap()
                .root_is_object()
        );
    }

    fn octopus(schema: &Value, instance: Value) -> Vec<String> {
        let s = InputSchema::compile_with(schema, Dialect::Octopus).unwrap();
        match s.validate(&instance) {
            Ok(()) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    fn demo_echo() -> Value {
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$ref": "#/definitions/Inputs",
            "definitions": {
                "Inputs": {"type": "object", "isRoot": true, "properties": {
                    "message": {"type": "string"}, "repeat": {"type": "number"},
                    "uppercase": {"type": "boolean"},
                    "token": {"type": "object", "isSensitiveValue": true},
                    "bundle": {"type": "object", "isPackageReference": true},
                    "image": {"type": "object", "isContainerImageReference": true},
                    "account": {"type": "string", "isAccount": true, "accountType": "AmazonWebServicesAccount"},
                    "mode": {"$ref": "#/definitions/Mode"},
                    "tags": {"type": "array", "items": {"type": "string"}}
                }, "required": ["message", "repeat", "token"]},
                "Mode": {"anyOf": [
                    {"type": "object", "properties": {"kind": {"type": "string", "const": "a", "isDiscriminator": true}}, "required": ["kind"]},
                    {"type": "object", "properties": {"kind": {"type": "string", "const": "b", "isDiscriminator": true}, "n": {"type": "number"}}, "required": ["kind"]}
                ]}
            }
        })
    }

    #[test]
    fn octopus_markers_and_bound_values() {
        let ok = json!({
            "message": "#{Message}", "repeat": "#{Repeat}", "uppercase": "#{Upper}",
            "token": {"HasValue": true, "NewValue": "s3cret"},
            "bundle": {"referenceId": "r1", "feedId": "Feeds-1", "packageId": "tools", "substituteInFiles": false},
            "image": {"referenceId": "r2", "feedId": "Feeds-2", "imageName": "nginx"},
            "account": "Accounts-1", "mode": {"kind": "b", "n": "#{N}"}, "tags": ["x"]
        });
        assert_eq!(octopus(&demo_echo(), ok.clone()), Vec::<String>::new());
        let s = InputSchema::compile_with(&demo_echo(), Dialect::Octopus).unwrap();
        assert!(s.root_is_object());
        let marked: Vec<(String, Marker)> = s
            .marked_inputs(&ok)
            .into_iter()
            .map(|m| (m.path, m.marker))
            .collect();
        assert_eq!(
            marked,
            [
                ("/account".to_string(), Marker::Account),
                ("/bundle".to_string(), Marker::PackageReference),
                ("/image".to_string(), Marker::ContainerImageReference),
                ("/token".to_string(), Marker::SensitiveValue),
            ]
        );
        // A kept secret and a bound secret are fine too.
        for token in [json!({"HasValue": true}), json!("#{Token}")] {
            let v = json!({"message": "m", "repeat": 1, "token": token});
            assert!(octopus(&demo_echo(), v).is_empty());
        }
        let bad = json!({
            "message": 1, "repeat": "two", "uppercase": "yes", "token": "plain",
            "bundle": {"referenceId": "", "feedId": 3}, "image": "#{Image}",
            "account": 4, "mode": {"kind": "#{Kind}"}, "tags": "#{Tags}"
        });
        let got = octopus(&demo_echo(), bad);
        for w in [
            "/message: expected string, got integer",
            "/repeat: expected number, got string",
            "/uppercase: expected boolean, got string",
            "/token: expected a sensitive value ({\"HasValue\": true, \"NewValue\": \"…\"}) or a bound variable (\"#{…}\"), got plain text",
            "/bundle/referenceId: must not be empty",
            "/bundle/feedId: expected string, got integer",
            "/bundle/packageId: is required but missing",
            "/image: expected a container image reference object (referenceId, feedId, imageName), got string",
            "/account: expected an account ID (string), got integer",
            "/mode: matches none of the 2 `anyOf` alternatives",
            "/tags: expected array, got string",
        ] {
            assert!(got.contains(&w.to_string()), "missing `{w}` in {got:#?}");
        }
        assert!(!got.iter().any(|e| e.contains("plain\"")), "{got:?}");
        // Our dialect keeps refusing the markers.
        assert!(InputSchema::compile(&demo_echo()).is_err());
    }

    #[test]
    fn octopus_root_selection() {
        let by_marker = json!({"definitions": {
            "Other": {"type": "string"},
            "Root": {"type": "object", "isRoot": true, "properties": {"a": {"$ref": "#/definitions/Other"}}}
        }});
        assert_eq!(
            octopus(&by_marker, json!({"a": 1})),
            ["/a: expected string, got integer"]
        );
        let none = json!({"definitions": {"A": {"type": "object"}}});
        let e = InputSchema::compile_with(&none, Dialect::Octopus).unwrap_err();
        assert!(e.to_string().contains("no root schema"), "{e}");
        let two = json!({"definitions": {"A": {"isRoot": true}, "B": {"isRoot": true}}});
        let e = InputSchema::compile_with(&two, Dialect::Octopus).unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        let dangling = json!({"$ref": "#/definitions/A", "definitions": {
            "A": {"type": "object"}, "B": {"$ref": "#/definitions/Missing"}}});
        let e = InputSchema::compile_with(&dangling, Dialect::Octopus).unwrap_err();
        assert!(e.to_string().contains("points at nothing"), "{e}");
    }
}
