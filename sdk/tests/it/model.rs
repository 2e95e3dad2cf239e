//! `#[derive(Model)]`: schema flags and descriptions, defaults, validators with paths,
//! the three states of `Val`, nesting, and decode errors that name the path.

use std::collections::BTreeMap;
use tf_sdk::diag::PathStep;
use tf_sdk::schema::{AttributeType, Nesting};
use tf_sdk::value::{Number, Type, Value, msgpack};
use tf_sdk::{AttributePath, Diagnostics, Model, Set, Val, validators};

/// A firewall rule.
///
/// Second paragraph.
#[derive(Model, Debug, Clone, PartialEq)]
struct Rule {
    /// Rule name.
    #[tf(required, validate = validators::length(1, 10))]
    name: Val<String>,
    /// Port number.
    #[tf(optional, validate = validators::range(1, 65535))]
    port: Val<i64>,
}

/// A server.
#[derive(Model, Debug, Clone, PartialEq)]
struct Server {
    /// The ID.
    #[tf(computed, use_state_for_unknown)]
    id: Val<String>,
    /// Server name; changing it replaces the server.
    #[tf(required, requires_replace, validate = validators::one_of(&["web", "db"]))]
    name: Val<String>,
    /// Size in GB.
    #[tf(optional, computed, default = 10)]
    size: Val<i64>,
    /// Region.
    #[tf(optional, computed, default = "eu-west-1")]
    region: Val<String>,
    /// Admin password.
    #[tf(optional, sensitive, write_only)]
    password: Val<String>,
    #[tf(optional, deprecated = "use labels", name = "tags")]
    old_tags: Val<BTreeMap<String, String>>,
    /// A ratio.
    #[tf(optional)]
    ratio: Val<f64>,
    /// A big number.
    #[tf(optional)]
    big: Val<Number>,
    #[tf(optional)]
    flags: Val<Set<String>>,
    #[tf(optional)]
    anything: Val<Value>,
    /// The primary rule, as a nested attribute.
    #[tf(optional, nested)]
    primary: Val<Rule>,
    #[tf(optional, nested)]
    extra: Val<Vec<Rule>>,
    #[tf(optional, nested)]
    by_name: Val<BTreeMap<String, Rule>>,
    /// Rules as blocks.
    #[tf(block = "list", min_items = 1, max_items = 5, requires_replace)]
    rule: Val<Vec<Rule>>,
    #[tf(block = "set")]
    acl: Val<Set<Rule>>,
    #[tf(block = "single")]
    single: Val<Rule>,
    #[tf(block = "group")]
    group: Val<Rule>,
    #[tf(block = "map")]
    labelled: Val<BTreeMap<String, Rule>>,
}

fn rule(name: &str, port: i64) -> Rule {
    Rule {
        name: Val::Known(name.into()),
        port: Val::Known(port),
    }
}

fn server() -> Server {
    Server {
        id: Val::Unknown,
        name: Val::Known("web".into()),
        size: Val::Null,
        region: Val::Known("r".into()),
        password: Val::Null,
        old_tags: Val::Known(BTreeMap::from([("a".into(), "b".into())])),
        ratio: Val::Known(0.25),
        big: Val::Known(Number::parse("18446744073709551617").unwrap()),
        flags: Val::Known(Set(vec!["x".into(), "y".into()])),
        anything: Val::Known(Value::Dynamic(
            Box::new(Type::Bool),
            Box::new(Value::Bool(true)),
        )),
        primary: Val::Known(rule("p", 22)),
        extra: Val::Known(vec![rule("e", 1)]),
        by_name: Val::Known(BTreeMap::from([("k".into(), rule("k", 2))])),
        rule: Val::Known(vec![rule("r1", 80), rule("r2", 443)]),
        acl: Val::Known(Set(vec![rule("acl", 8080)])),
        single: Val::Null,
        group: Val::Known(Rule {
            name: Val::Null,
            port: Val::Null,
        }),
        labelled: Val::Known(BTreeMap::from([("l".into(), rule("l", 3))])),
    }
}

#[test]
fn schema_flags_and_descriptions_come_from_the_struct() {
    let b = Server::block();
    assert_eq!(b.description, "A server.");
    assert_eq!(
        Rule::block().description,
        "A firewall rule.\n\nSecond paragraph."
    );
    let id = b.attribute("id").unwrap();
    assert!(id.computed && !id.optional && !id.required && id.use_state_for_unknown);
    assert_eq!(id.description, "The ID.");
    let name = b.attribute("name").unwrap();
    assert!(name.required && name.requires_replace && !name.computed);
    assert_eq!(
        name.description,
        "Server name; changing it replaces the server."
    );
    assert_eq!(name.ty, AttributeType::Type(Type::String));
    let pw = b.attribute("password").unwrap();
    assert!(pw.sensitive && pw.write_only && pw.optional);
    // `name = "tags"` renames; the field name is not an attribute.
    assert!(b.attribute("old_tags").is_none());
    let tags = b.attribute("tags").unwrap();
    assert_eq!(tags.deprecated, "use labels");
    assert_eq!(tags.description, "");
    assert_eq!(tags.ty, AttributeType::Type(Type::map(Type::String)));
    assert_eq!(
        b.attribute("ratio").unwrap().ty,
        AttributeType::Type(Type::Number)
    );
    assert_eq!(
        b.attribute("big").unwrap().ty,
        AttributeType::Type(Type::Number)
    );
    assert_eq!(
        b.attribute("flags").unwrap().ty,
        AttributeType::Type(Type::set(Type::String))
    );
    assert_eq!(
        b.attribute("anything").unwrap().ty,
        AttributeType::Type(Type::Dynamic)
    );
    // Attributes keep declaration order; blocks are not attributes.
    let names: Vec<_> = b.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "id", "name", "size", "region", "password", "tags", "ratio", "big", "flags",
            "anything", "primary", "extra", "by_name"
        ]
    );
}

#[test]
fn defaults_are_values_of_the_attribute_type() {
    let b = Server::block();
    let size = b.attribute("size").unwrap();
    assert!(size.optional && size.computed);
    assert_eq!(size.default, Some(Value::from(10)));
    assert_eq!(
        b.attribute("region").unwrap().default,
        Some(Value::from("eu-west-1"))
    );
    assert_eq!(b.attribute("name").unwrap().default, None);
    // A default encodes under the attribute's type.
    let bytes = msgpack::encode(size.default.as_ref().unwrap(), &Type::Number).unwrap();
    assert_eq!(bytes, [0x0a]);
}

#[test]
fn nested_attributes_and_blocks_have_the_right_nesting() {
    let b = Server::block();
    let rule_attrs = Rule::block().attributes;
    for (name, nesting) in [
        ("primary", Nesting::Single),
        ("extra", Nesting::List),
        ("by_name", Nesting::Map),
    ] {
        let a = b.attribute(name).unwrap();
        assert_eq!(
            a.ty,
            AttributeType::Nested(nesting, rule_attrs.clone()),
            "{name}"
        );
    }
    let blocks: Vec<_> = b
        .blocks
        .iter()
        .map(|nb| (nb.name.as_str(), nb.nesting))
        .collect();
    assert_eq!(
        blocks,
        [
            ("rule", Nesting::List),
            ("acl", Nesting::Set),
            ("single", Nesting::Single),
            ("group", Nesting::Group),
            ("labelled", Nesting::Map),
        ]
    );
    let rule_block = &b.blocks[0];
    assert_eq!((rule_block.min_items, rule_block.max_items), (1, 5));
    assert!(rule_block.requires_replace);
    assert!(!b.blocks[1].requires_replace);
    // The block description comes from the field's doc comment when the model has none
    // of its own; Rule has one, so it stays.
    assert_eq!(
        rule_block.block.description,
        "A firewall rule.\n\nSecond paragraph."
    );
    assert_eq!(rule_block.block.attributes, rule_attrs);

    let rule_ty = Rule::block().value_type();
    let Type::Object(attrs, _) = b.value_type() else {
        panic!()
    };
    assert_eq!(attrs["rule"], Type::list(rule_ty.clone()));
    assert_eq!(attrs["acl"], Type::set(rule_ty.clone()));
    assert_eq!(attrs["single"], rule_ty);
    assert_eq!(attrs["group"], rule_ty);
    assert_eq!(attrs["labelled"], Type::map(rule_ty.clone()));
    assert_eq!(attrs["extra"], Type::list(rule_ty.clone()));
    assert_eq!(attrs.len(), 13 + 5);
}

#[test]
fn val_three_states_round_trip() {
    let s = server();
    let v = s.to_value();
    assert_eq!(v.get("id"), Some(&Value::unknown()));
    assert_eq!(v.get("size"), Some(&Value::Null));
    assert_eq!(
        v.get("tags").unwrap(),
        &Value::Map(BTreeMap::from([("a".into(), Value::from("b"))]))
    );
    assert_eq!(Server::from_value(&v).unwrap(), s);
    // Through the wire and back.
    let ty = Server::block().value_type();
    let bytes = msgpack::encode(&v, &ty).unwrap();
    let back = Server::from_value(&msgpack::decode(&bytes, &ty).unwrap()).unwrap();
    assert_eq!(back, s);

    for state in [Val::Known("db".to_string()), Val::Null, Val::Unknown] {
        let mut m = server();
        m.name = state.clone();
        m.primary = state.clone().map(|n| rule(&n, 1));
        m.rule = state.clone().map(|n| vec![rule(&n, 2)]);
        let back = Server::from_value(
            &msgpack::decode(&msgpack::encode(&m.to_value(), &ty).unwrap(), &ty).unwrap(),
        )
        .unwrap();
        assert_eq!(back.name, state);
        assert_eq!(back.primary, m.primary);
        assert_eq!(back.rule, m.rule);
    }
    // A refined unknown is still Val::Unknown to the model.
    let mut v = server().to_value();
    let Value::Object(o) = &mut v else {
        unreachable!()
    };
    o.insert(
        "name".into(),
        Value::Unknown(tf_sdk::value::Refinements::from_raw(vec![0x81, 0x01, 0xc2])),
    );
    assert_eq!(Server::from_value(&v).unwrap().name, Val::Unknown);
    // Absent attributes decode as null.
    let sparse = Value::object([("name", Value::from("web"))]);
    let m = Server::from_value(&sparse).unwrap();
    assert_eq!(m.name, Val::Known("web".into()));
    assert_eq!((m.id, m.rule, m.group), (Val::Null, Val::Null, Val::Null));
}

fn validate(m: &Server) -> Diagnostics {
    let mut d = Diagnostics::new();
    m.validate(&AttributePath::default(), &mut d);
    d
}

#[test]
fn validators_report_diagnostics_with_paths() {
    assert!(validate(&server()).is_empty(), "{}", validate(&server()));

    let mut m = server();
    m.name = Val::Known("mail".into());
    m.primary = Val::Known(rule("a-very-long-name", 22));
    m.extra = Val::Known(vec![rule("ok", 1), rule("ok", 0)]);
    m.by_name = Val::Known(BTreeMap::from([("key".into(), rule("", 5))]));
    m.rule = Val::Known(vec![rule("r", 80), rule("r", 70000)]);
    m.labelled = Val::Known(BTreeMap::from([("lab".into(), rule("x", -1))]));
    let d = validate(&m);
    let paths: Vec<String> =
        d.0.iter()
            .map(|d| d.path.as_ref().unwrap().to_string())
            .collect();
    assert_eq!(
        paths,
        [
            "name",
            "primary.name",
            "extra[1].port",
            "by_name[\"key\"].name",
            "rule[1].port",
            "labelled[\"lab\"].port",
        ],
        "{d}"
    );
    assert!(d.has_errors());
    let first = &d.0[0];
    assert_eq!(first.summary, "Invalid value for name");
    assert!(
        first.detail.contains("must be one of web, db"),
        "{}",
        first.detail
    );
    assert_eq!(
        d.0[2].path.as_ref().unwrap().0,
        [
            PathStep::Attr("extra".into()),
            PathStep::Index(1),
            PathStep::Attr("port".into())
        ]
    );
    assert_eq!(
        d.0[3].path.as_ref().unwrap().0,
        [
            PathStep::Attr("by_name".into()),
            PathStep::Key("key".into()),
            PathStep::Attr("name".into())
        ]
    );
    assert!(d.0[3].detail.contains("must not be empty"));

    // Unknown and null values are not validated.
    let mut m = server();
    m.name = Val::Unknown;
    m.primary = Val::Known(Rule {
        name: Val::Unknown,
        port: Val::Null,
    });
    assert!(validate(&m).is_empty());

    // Under a prefix path (a nested model validated at its position).
    let mut d = Diagnostics::new();
    rule("", 1).validate(&AttributePath::root("outer").index(3), &mut d);
    assert_eq!(d.0[0].path.as_ref().unwrap().to_string(), "outer[3].name");
}

#[test]
fn decode_errors_name_the_path() {
    let ty = Server::block().value_type();
    let base = server().to_value();
    let with = |name: &str, v: Value| {
        let mut out = base.clone();
        let Value::Object(o) = &mut out else {
            unreachable!()
        };
        o.insert(name.into(), v);
        out
    };
    let cases = [
        (with("name", Value::from(5)), "name"),
        (with("size", Value::from(1.5)), "size"),
        (
            with("size", Value::Number(Number::parse("1e400").unwrap())),
            "size",
        ),
        (
            with(
                "rule",
                Value::List(vec![Value::object([("name", Value::Bool(true))])]),
            ),
            "rule[0].name",
        ),
        (
            with(
                "by_name",
                Value::Map(BTreeMap::from([("k".into(), Value::from("x"))])),
            ),
            "by_name[\"k\"]",
        ),
        (
            with(
                "extra",
                Value::List(vec![rule("a", 1).to_value(), Value::Null]),
            ),
            "extra[1]",
        ),
    ];
    for (v, path) in cases {
        let err = Server::from_value(&v).unwrap_err();
        assert_eq!(err.path.to_string(), path, "{err}");
    }
    assert!(Server::from_value(&Value::from("not an object")).is_err());
    // And the wire decoder names paths too.
    let mut bad = with("rule", Value::Null);
    let Value::Object(o) = &mut bad else {
        unreachable!()
    };
    o.remove("rule");
    let mut bytes = msgpack::encode(
        &bad,
        &Type::object(match &ty {
            Type::Object(a, _) => a
                .iter()
                .filter(|(k, _)| *k != "rule")
                .map(|(k, t)| (k.clone(), t.clone()))
                .collect::<Vec<_>>(),
            _ => unreachable!(),
        }),
    )
    .unwrap();
    // Replace the map header (one entry fewer) and append `rule: [ {name: 1} ]`.
    assert_eq!(bytes[0], 0xde);
    bytes[2] += 1;
    bytes.extend([
        0xa4, b'r', b'u', b'l', b'e', 0x91, 0x81, 0xa4, b'n', b'a', b'm', b'e', 0x01,
    ]);
    let err = msgpack::decode(&bytes, &ty).unwrap_err();
    assert_eq!(err.path.to_string(), "rule[0].name");
}

/// Collections whose elements may be unknown (IDs of resources created in the same
/// apply) and free-form JSON inside list blocks.
#[derive(Model, Debug, Clone, PartialEq)]
struct Scoped {
    /// Plain elements: a partly known list is unknown as a whole.
    #[tf(optional)]
    plain: Val<Vec<String>>,
    /// `Val` elements keep the unknown where it is.
    #[tf(optional)]
    ids: Val<Vec<Val<String>>>,
    #[tf(optional)]
    set: Val<Set<Val<String>>>,
    #[tf(optional)]
    map: Val<BTreeMap<String, Val<String>>>,
    #[tf(block = "list")]
    step: Val<Vec<Step>>,
}

/// A step with free-form inputs.
#[derive(Model, Debug, Clone, PartialEq)]
struct Step {
    #[tf(required, validate = validators::length(1, 10))]
    name: Val<String>,
    #[tf(optional)]
    inputs: Val<tf_sdk::Json>,
}

#[test]
fn partial_unknowns_decode_with_the_unknown_in_place() {
    let partial = || Value::List(vec![Value::from("Environments-1"), Value::unknown()]);
    let v = Value::object([
        ("plain", partial()),
        ("ids", partial()),
        (
            "set",
            Value::Set(vec![Value::unknown(), Value::from("Channels-1")]),
        ),
        (
            "map",
            Value::Map(BTreeMap::from([
                ("a".into(), Value::unknown()),
                ("b".into(), Value::from("x")),
            ])),
        ),
        ("step", Value::Null),
    ]);
    let m = Scoped::from_value(&v).unwrap();
    assert_eq!(m.plain, Val::Unknown);
    assert_eq!(
        m.ids,
        Val::Known(vec![Val::Known("Environments-1".into()), Val::Unknown])
    );
    assert_eq!(
        m.map.known().unwrap().get("a"),
        Some(&Val::Unknown),
        "{m:?}"
    );
    // Encoding gives back exactly what came in.
    let back = m.to_value();
    assert_eq!(back.get("ids"), v.get("ids"));
    assert!(back.get("set").unwrap().semantic_eq(v.get("set").unwrap()));
    assert_eq!(back.get("map"), v.get("map"));
    // Validators skip what is unknown.
    let mut diags = Diagnostics::new();
    m.validate(&AttributePath::default(), &mut diags);
    assert!(diags.is_empty(), "{diags}");
}

#[test]
fn json_in_list_blocks_travels_as_a_tuple() {
    let block = Scoped::block();
    // Terraform sends a list block holding dynamic values as a dynamic tuple.
    let ty = block.value_type();
    let Type::Object(attrs, _) = &ty else {
        unreachable!()
    };
    assert_eq!(attrs["step"], Type::Dynamic);
    let step_ty = Step::block().value_type();
    let inputs_a = Value::Dynamic(
        Box::new(Type::object([("port", Type::Number)])),
        Box::new(Value::object([("port", Value::from(5432))])),
    );
    let inputs_b = Value::Dynamic(
        Box::new(Type::object([("tags", Type::Tuple(vec![Type::String]))])),
        Box::new(Value::object([(
            "tags",
            Value::List(vec![Value::from("a")]),
        )])),
    );
    let steps = Value::Dynamic(
        Box::new(Type::Tuple(vec![step_ty.clone(), step_ty])),
        Box::new(Value::List(vec![
            Value::object([("name", Value::from("db")), ("inputs", inputs_a)]),
            Value::object([("name", Value::from("web")), ("inputs", inputs_b)]),
        ])),
    );
    let v = Value::object([
        ("plain", Value::Null),
        ("ids", Value::Null),
        ("set", Value::Null),
        ("map", Value::Null),
        ("step", steps),
    ]);
    let bytes = msgpack::encode(&v, &ty).unwrap();
    let decoded = msgpack::decode(&bytes, &ty).unwrap();
    let m = Scoped::from_value(&decoded).unwrap();
    let steps = m.step.known().unwrap();
    assert_eq!(
        steps[0].inputs,
        Val::Known(tf_sdk::Json(serde_json::json!({"port": 5432})))
    );
    assert_eq!(
        steps[1].inputs,
        Val::Known(tf_sdk::Json(serde_json::json!({"tags": ["a"]})))
    );
    assert!(m.to_value().semantic_eq(&decoded));
}
