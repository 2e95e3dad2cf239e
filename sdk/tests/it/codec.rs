//! The DynamicValue codec: msgpack in and out, JSON in, checked against the bytes
//! go-cty writes and against malformed and hostile input.

use std::collections::BTreeMap;
use tf_sdk::value::{Number, Refinements, Type, Value, json, msgpack};
use tf_sdk::{Model, Set, Val};

fn round_trip(v: &Value, ty: &Type) -> Vec<u8> {
    let bytes = msgpack::encode(v, ty).unwrap_or_else(|e| panic!("encode {v:?} as {ty}: {e}"));
    let back =
        msgpack::decode(&bytes, ty).unwrap_or_else(|e| panic!("decode {bytes:02x?} as {ty}: {e}"));
    assert!(back.semantic_eq(v), "{v:?} came back as {back:?}");
    assert_eq!(
        msgpack::encode(&back, ty).unwrap(),
        bytes,
        "re-encoding is stable"
    );
    bytes
}

fn num(text: &str) -> Value {
    Value::Number(Number::parse(text).unwrap_or_else(|| panic!("{text} parses")))
}

fn str_header(len: usize) -> Vec<u8> {
    if len < 32 {
        vec![0xa0 | len as u8]
    } else if len < 256 {
        vec![0xd9, len as u8]
    } else if len < 65536 {
        vec![0xda, (len >> 8) as u8, len as u8]
    } else {
        let mut v = vec![0xdb];
        v.extend_from_slice(&(len as u32).to_be_bytes());
        v
    }
}

fn mp_str(s: &str) -> Vec<u8> {
    let mut v = str_header(s.len());
    v.extend_from_slice(s.as_bytes());
    v
}

// ---------------------------------------------------------------------------------
// Null, unknown, refinements

#[test]
fn null_is_nil_for_every_type() {
    for ty in [
        Type::String,
        Type::Number,
        Type::Bool,
        Type::Dynamic,
        Type::list(Type::String),
        Type::object([("a", Type::String)]),
    ] {
        assert_eq!(msgpack::encode(&Value::Null, &ty).unwrap(), [0xc0], "{ty}");
        assert_eq!(msgpack::decode(&[0xc0], &ty).unwrap(), Value::Null, "{ty}");
        assert_eq!(json::decode(b"null", &ty).unwrap(), Value::Null, "{ty}");
    }
}

#[test]
fn unrefined_unknown_is_exactly_fixext1_type0() {
    for ty in [
        Type::String,
        Type::Number,
        Type::Dynamic,
        Type::list(Type::Bool),
    ] {
        // A dynamic unknown is a plain ext 0, not wrapped in [type, value].
        assert_eq!(
            msgpack::encode(&Value::unknown(), &ty).unwrap(),
            [0xd4, 0x00, 0x00],
            "{ty}"
        );
    }
    assert_eq!(
        msgpack::decode(&[0xd4, 0x00, 0x00], &Type::String).unwrap(),
        Value::unknown()
    );
    // The payload byte is ignored, and any other extension code is an unknown too.
    assert_eq!(
        msgpack::decode(&[0xd4, 0x00, 0x7f], &Type::Number).unwrap(),
        Value::unknown()
    );
    assert_eq!(
        msgpack::decode(&[0xd5, 0x05, 1, 2], &Type::Bool).unwrap(),
        Value::unknown()
    );
    // ...and is written back as the canonical ext 0.
    let v = msgpack::decode(&[0xd6, 0x07, 1, 2, 3, 4], &Type::String).unwrap();
    assert_eq!(
        msgpack::encode(&v, &Type::String).unwrap(),
        [0xd4, 0x00, 0x00]
    );
    // An ext 12 with no payload is an unrefined unknown and goes back out as ext 0.
    let v = msgpack::decode(&[0xc7, 0x00, 0x0c], &Type::String).unwrap();
    assert!(v.is_unknown());
    assert_eq!(
        msgpack::encode(&v, &Type::String).unwrap(),
        [0xd4, 0x00, 0x00]
    );
}

#[test]
fn refined_unknowns_survive_byte_for_byte() {
    // go-cty: refinements {1: false (not null), 2: "ab" (string prefix)}.
    let payload = [0x82, 0x01, 0xc2, 0x02, 0xa2, b'a', b'b'];
    let mut wire = vec![0xc7, payload.len() as u8, 0x0c];
    wire.extend_from_slice(&payload);
    let v = msgpack::decode(&wire, &Type::String).unwrap();
    let Value::Unknown(r) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(r.raw(), Some(&payload[..]));
    assert_eq!(r.nullable(), Some(false));
    assert_eq!(r.string_prefix().as_deref(), Some("ab"));
    assert_eq!(msgpack::encode(&v, &Type::String).unwrap(), wire);

    // Unrecognised keys (number bounds, lengths, future keys) are kept and ignored.
    let payload = [0x83, 0x03, 0x92, 0x05, 0xc3, 0x05, 0x02, 0x63, 0xc0];
    let mut wire = vec![0xc7, payload.len() as u8, 0x0c];
    wire.extend_from_slice(&payload);
    let v = msgpack::decode(&wire, &Type::Number).unwrap();
    let Value::Unknown(r) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(r.nullable(), None);
    assert_eq!(r.string_prefix(), None);
    assert_eq!(msgpack::encode(&v, &Type::Number).unwrap(), wire);

    // A 4-byte payload uses fixext4, as msgpack encoders (and go-cty's) do.
    let payload = [0x81, 0x02, 0xa1, b'x'];
    let mut wire = vec![0xd6, 0x0c];
    wire.extend_from_slice(&payload);
    let v = msgpack::decode(&wire, &Type::String).unwrap();
    assert_eq!(msgpack::encode(&v, &Type::String).unwrap(), wire);
    let Value::Unknown(r) = v else { unreachable!() };
    assert_eq!(r.string_prefix().as_deref(), Some("x"));
    assert_eq!(r.nullable(), None);

    // Refined unknowns nested in a collection keep their bytes too.
    let ty = Type::list(Type::String);
    let mut list = vec![0x92, 0xa1, b'k'];
    list.extend_from_slice(&[0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2]);
    let v = msgpack::decode(&list, &ty).unwrap();
    assert_eq!(msgpack::encode(&v, &ty).unwrap(), list);

    // Malformed refinement payloads read as "no refinements", without panicking.
    for raw in [
        vec![],
        vec![0x81],
        vec![0x81, 0xa1, b'x', 0xc2],
        vec![0x91, 0x01],
        vec![0xdf, 0xff, 0xff, 0xff, 0xff],
    ] {
        let r = Refinements::from_raw(raw.clone());
        assert_eq!(r.nullable(), None, "{raw:02x?}");
        assert_eq!(r.string_prefix(), None, "{raw:02x?}");
    }
}

// ---------------------------------------------------------------------------------
// Numbers

#[test]
fn numbers_decode_from_every_msgpack_form() {
    let cases: Vec<(Vec<u8>, Value)> = vec![
        (vec![0x05], Value::from(5)),
        (vec![0xe0], Value::from(-32)),
        (vec![0xcc, 0xc8], Value::from(200)),
        (vec![0xcd, 0x01, 0x00], Value::from(256)),
        (vec![0xce, 0x00, 0x01, 0x00, 0x00], Value::from(65536)),
        (
            vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            num("18446744073709551615"),
        ),
        (vec![0xd0, 0x80], Value::from(-128)),
        (vec![0xd1, 0x80, 0x00], Value::from(-32768)),
        (
            vec![0xd2, 0x80, 0x00, 0x00, 0x00],
            Value::from(i32::MIN as i64),
        ),
        (vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], Value::from(i64::MIN)),
        (vec![0xca, 0x3f, 0xc0, 0x00, 0x00], Value::from(1.5)),
        (vec![0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], Value::from(1.5)),
        // An integral float is the same number as the integer.
        (vec![0xcb, 0x40, 0x45, 0, 0, 0, 0, 0, 0], Value::from(42)),
        (vec![0xca, 0x42, 0x28, 0x00, 0x00], Value::from(42)),
        (mp_str("42"), Value::from(42)),
        (mp_str("18446744073709551617"), num("18446744073709551617")),
        (mp_str("1e400"), num("1e400")),
        (
            mp_str("0.1000000000000000000000001"),
            num("0.1000000000000000000000001"),
        ),
    ];
    for (bytes, want) in cases {
        let got =
            msgpack::decode(&bytes, &Type::Number).unwrap_or_else(|e| panic!("{bytes:02x?}: {e}"));
        assert_eq!(got, want, "{bytes:02x?}");
    }
    for bad in [
        mp_str("forty-two"),
        mp_str(""),
        mp_str("0x10"),
        vec![0xc3],
        vec![0x90],
    ] {
        assert!(msgpack::decode(&bad, &Type::Number).is_err(), "{bad:02x?}");
    }
    // NaN and infinities are not Terraform numbers.
    for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut b = vec![0xcb];
        b.extend_from_slice(&f.to_be_bytes());
        assert!(msgpack::decode(&b, &Type::Number).is_err(), "{f}");
    }
}

#[test]
fn numbers_encode_as_go_cty_does() {
    // go-cty writes a number as the smallest int when it is an int64, as float64 when
    // exact, and as a decimal string otherwise.
    let cases: Vec<(Value, Vec<u8>)> = vec![
        (Value::from(0), vec![0x00]),
        (Value::from(127), vec![0x7f]),
        (Value::from(128), vec![0xcc, 0x80]),
        (Value::from(-1), vec![0xff]),
        (Value::from(-33), vec![0xd0, 0xdf]),
        (Value::from(70000), vec![0xce, 0x00, 0x01, 0x11, 0x70]),
        (
            Value::from(i64::MAX),
            vec![0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            Value::from(-2147483649),
            vec![0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],
        ),
        (Value::from(1.5), vec![0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
        (Value::from(3.0), vec![0x03]),
        (num("18446744073709551617"), mp_str("18446744073709551617")),
        (
            num("0.1000000000000000000000001"),
            mp_str("0.1000000000000000000000001"),
        ),
    ];
    for (v, want) in cases {
        assert_eq!(round_trip(&v, &Type::Number), want, "{v:?}");
    }
}

#[test]
fn big_and_precise_numbers_round_trip_through_json_and_msgpack() {
    for text in [
        "18446744073709551617",
        "-18446744073709551617",
        "1e400",
        "-1.5e-400",
        "0.1000000000000000000000001",
        "123456789012345678901234567890.123456789",
        "9223372036854775807",
        "9223372036854775808",
        "0.1",
        "1e20",
    ] {
        let from_json = json::decode(text.as_bytes(), &Type::Number).unwrap();
        let from_json_str = json::decode(format!("\"{text}\"").as_bytes(), &Type::Number).unwrap();
        let from_msgpack = msgpack::decode(&mp_str(text), &Type::Number).unwrap();
        assert_eq!(from_json, from_json_str, "{text}");
        assert_eq!(from_json, from_msgpack, "{text}");
        round_trip(&from_json, &Type::Number);
        let back = json::encode(&from_json, &Type::Number).unwrap();
        assert_eq!(
            json::decode(back.as_bytes(), &Type::Number).unwrap(),
            from_json,
            "{text}"
        );
    }
    // Digits beyond f64 are kept, not rounded away.
    assert_ne!(num("18446744073709551617"), num("18446744073709551616"));
    assert_ne!(num("0.1000000000000000000000001"), num("0.1"));
}

#[test]
fn equal_numbers_compare_equal() {
    let groups: &[&[&str]] = &[
        &["42", "42.0", "4.2e1", "420e-1", "42.000000000000000000000"],
        &["0.5", "0.50", "5e-1", "5E-1"],
        &[
            "18446744073709551617",
            "18446744073709551617.0",
            "1.8446744073709551617e19",
        ],
        &["1e400", "10e399", "1E400", "1.0e400", "0.1e401"],
        &[
            "0.1000000000000000000000001",
            "1.000000000000000000000001e-1",
        ],
        &[
            "-0.1000000000000000000000001",
            "-1.000000000000000000000001e-1",
        ],
        &["0", "-0", "0.0", "0e10"],
    ];
    for group in groups {
        let first = num(group[0]);
        for text in &group[1..] {
            assert_eq!(num(text), first, "{text} == {}", group[0]);
        }
    }
    assert_eq!(Value::from(2.5), num("2.5"));
    assert_eq!(Value::from(7), Value::from(7.0));
    // Decoded through different wire forms, the same number is equal.
    let a = msgpack::decode(&[0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0], &Type::Number).unwrap();
    let b = json::decode(b"9223372036854775808", &Type::Number).unwrap();
    let c = msgpack::decode(&mp_str("9.223372036854775808e18"), &Type::Number).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_ne!(num("1e400"), num("1e401"));
    assert_ne!(num("1e400"), num("-1e400"));
}

#[test]
fn extreme_exponents_are_numbers_or_errors_never_panics() {
    for text in [
        "1.5e-9223372036854775808",
        "1.5e9223372036854775807",
        "10e9223372036854775807",
        "0.0e-9223372036854775808",
        "1e-99999999999999999999999",
        "1e99999999999999999999999",
    ] {
        let _ = Number::parse(text);
        let _ = msgpack::decode(&mp_str(text), &Type::Number);
        let _ = json::decode(text.as_bytes(), &Type::Number);
    }
}

// ---------------------------------------------------------------------------------
// Strings, bools, collections

#[test]
fn strings_of_every_length_and_script() {
    for s in [
        "",
        "a",
        "héllo wörld",
        "日本語テキスト",
        "emoji 🦀🚀",
        "tab\tnew\nline\0nul",
    ] {
        let bytes = round_trip(&Value::from(s), &Type::String);
        assert_eq!(bytes, mp_str(s), "{s:?}");
    }
    for len in [31, 32, 255, 256, 65535, 65536, 200_000] {
        let s = "é".repeat(len / 2) + &"x".repeat(len % 2);
        assert_eq!(s.len(), len);
        let bytes = round_trip(&Value::from(s.as_str()), &Type::String);
        assert_eq!(
            &bytes[..bytes.len() - len],
            &str_header(len)[..],
            "header for {len}"
        );
    }
    assert!(
        msgpack::decode(&[0xa2, 0xc3, 0x28], &Type::String).is_err(),
        "invalid UTF-8"
    );
    assert!(
        msgpack::decode(&[0xa1, 0xff], &Type::String).is_err(),
        "invalid UTF-8"
    );
    assert!(
        msgpack::decode(&[0xc4, 0x01, b'a'], &Type::String).is_err(),
        "bin is not a string"
    );
    assert!(
        msgpack::decode(&[0x05], &Type::String).is_err(),
        "int is not a string"
    );
}

#[test]
fn bools() {
    assert_eq!(round_trip(&Value::from(true), &Type::Bool), [0xc3]);
    assert_eq!(round_trip(&Value::from(false), &Type::Bool), [0xc2]);
    assert!(msgpack::decode(&[0x01], &Type::Bool).is_err());
    assert_eq!(
        json::decode(b"true", &Type::Bool).unwrap(),
        Value::from(true)
    );
    assert_eq!(
        json::decode(b"\"false\"", &Type::Bool).unwrap(),
        Value::from(false)
    );
}

#[test]
fn collections_match_go_cty_bytes() {
    // list(string) ["a", "b"]
    let ty = Type::list(Type::String);
    let v = Value::List(vec![Value::from("a"), Value::from("b")]);
    assert_eq!(round_trip(&v, &ty), [0x92, 0xa1, b'a', 0xa1, b'b']);
    // set(number) {1, 2}
    let ty = Type::set(Type::Number);
    let v = Value::Set(vec![Value::from(1), Value::from(2)]);
    assert_eq!(round_trip(&v, &ty), [0x92, 0x01, 0x02]);
    // map(bool) {"x": true, "a": false}: keys sorted, as cty writes them
    let ty = Type::map(Type::Bool);
    let v = Value::Map(BTreeMap::from([
        ("x".into(), Value::from(true)),
        ("a".into(), Value::from(false)),
    ]));
    assert_eq!(
        round_trip(&v, &ty),
        [0x82, 0xa1, b'a', 0xc2, 0xa1, b'x', 0xc3]
    );
    // object({name=string, size=number}) with an unknown
    let ty = Type::object([("name", Type::String), ("size", Type::Number)]);
    let v = Value::object([("name", Value::from("web")), ("size", Value::unknown())]);
    let mut want = vec![0x82];
    want.extend(mp_str("name"));
    want.extend(mp_str("web"));
    want.extend(mp_str("size"));
    want.extend([0xd4, 0x00, 0x00]);
    assert_eq!(round_trip(&v, &ty), want);
    // tuple([string, number, bool])
    let ty = Type::Tuple(vec![Type::String, Type::Number, Type::Bool]);
    let v = Value::List(vec![Value::from("s"), Value::from(1), Value::from(true)]);
    assert_eq!(round_trip(&v, &ty), [0x93, 0xa1, b's', 0x01, 0xc3]);
    assert!(
        msgpack::decode(&[0x92, 0xa1, b's', 0x01], &ty).is_err(),
        "tuple arity"
    );
    // Null elements inside collections and missing object attributes.
    let ty = Type::list(Type::String);
    let v = Value::List(vec![Value::Null, Value::unknown(), Value::from("z")]);
    assert_eq!(
        round_trip(&v, &ty),
        [0x93, 0xc0, 0xd4, 0x00, 0x00, 0xa1, b'z']
    );
    let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
    let decoded = msgpack::decode(&[0x81, 0xa1, b'a', 0xa1, b'q'], &ty).unwrap();
    assert_eq!(
        decoded,
        Value::object([("a", Value::from("q")), ("b", Value::Null)])
    );
    // An attribute the type does not have is an error naming it.
    let err = msgpack::decode(&[0x81, 0xa1, b'z', 0xc0], &ty).unwrap_err();
    assert!(err.message.contains("\"z\""), "{err}");
    // Map keys must be strings.
    assert!(msgpack::decode(&[0x81, 0x01, 0xc3], &Type::map(Type::Bool)).is_err());
    // Equality of sets ignores order.
    let a = Value::Set(vec![Value::from(1), Value::from(2)]);
    let b = msgpack::decode(&[0x92, 0x02, 0x01], &Type::set(Type::Number)).unwrap();
    assert!(a.semantic_eq(&b));
}

#[test]
fn large_collections_use_16_and_32_bit_headers() {
    let ty = Type::list(Type::Number);
    for (n, header) in [
        (15usize, vec![0x9f]),
        (16, vec![0xdc, 0x00, 0x10]),
        (65535, vec![0xdc, 0xff, 0xff]),
    ] {
        let v = Value::List((0..n as i64).map(|i| Value::from(i % 100)).collect());
        let bytes = round_trip(&v, &ty);
        assert_eq!(&bytes[..header.len()], &header[..], "{n}");
    }
    let v = Value::List((0..70_000).map(|i| Value::from(i % 100)).collect());
    let bytes = round_trip(&v, &ty);
    assert_eq!(&bytes[..5], &[0xdd, 0x00, 0x01, 0x11, 0x70]);

    let ty = Type::map(Type::String);
    let v = Value::Map(
        (0..20)
            .map(|i| (format!("k{i:02}"), Value::from(format!("v{i}"))))
            .collect(),
    );
    let bytes = round_trip(&v, &ty);
    assert_eq!(&bytes[..3], &[0xde, 0x00, 0x14]);
    let v = Value::Map(
        (0..70_000)
            .map(|i| (format!("k{i}"), Value::from("v")))
            .collect(),
    );
    let bytes = round_trip(&v, &ty);
    assert_eq!(&bytes[..5], &[0xdf, 0x00, 0x01, 0x11, 0x70]);

    let attrs: Vec<(String, Type)> = (0..300).map(|i| (format!("a{i:03}"), Type::Bool)).collect();
    let ty = Type::object(attrs.clone());
    let v = Value::object(attrs.iter().map(|(k, _)| (k.clone(), Value::from(true))));
    let bytes = round_trip(&v, &ty);
    assert_eq!(&bytes[..3], &[0xde, 0x01, 0x2c]);
}

// ---------------------------------------------------------------------------------
// dynamic

#[test]
fn dynamic_values_carry_their_type() {
    let ty = Type::Dynamic;
    let inner_ty = Type::list(Type::String);
    let v = Value::Dynamic(
        Box::new(inner_ty.clone()),
        Box::new(Value::List(vec![Value::from("a")])),
    );
    let tj = br#"["list","string"]"#;
    let mut want = vec![0x92, 0xc4, tj.len() as u8];
    want.extend_from_slice(tj);
    want.extend([0x91, 0xa1, b'a']);
    assert_eq!(round_trip(&v, &ty), want);

    // A value built without a type gets one inferred.
    let bytes = msgpack::encode(&Value::from("x"), &ty).unwrap();
    assert_eq!(
        bytes,
        [
            0x92, 0xc4, 0x08, b'"', b's', b't', b'r', b'i', b'n', b'g', b'"', 0xa1, b'x'
        ]
    );
    let back = msgpack::decode(&bytes, &ty).unwrap();
    assert_eq!(
        back,
        Value::Dynamic(Box::new(Type::String), Box::new(Value::from("x")))
    );
    assert!(back.semantic_eq(&Value::from("x")));

    // Type given as str instead of bin is accepted.
    let mut alt = vec![0x92, 0xa8];
    alt.extend_from_slice(b"\"number\"");
    alt.push(0x07);
    assert_eq!(
        msgpack::decode(&alt, &ty).unwrap(),
        Value::Dynamic(Box::new(Type::Number), Box::new(Value::from(7)))
    );

    // Dynamic inside an object, with a null inner value.
    let oty = Type::object([("d", Type::Dynamic)]);
    let v = Value::object([(
        "d",
        Value::Dynamic(Box::new(Type::Bool), Box::new(Value::Null)),
    )]);
    round_trip(&v, &oty);

    // JSON form {"value":…, "type":…}, in either order.
    let j = json::decode(br#"{"value":["a"],"type":["list","string"]}"#, &ty).unwrap();
    assert_eq!(
        j,
        Value::Dynamic(
            Box::new(inner_ty.clone()),
            Box::new(Value::List(vec![Value::from("a")]))
        )
    );
    let j2 = json::decode(br#"{"type":["list","string"],"value":["a"]}"#, &ty).unwrap();
    assert_eq!(j, j2);
    let out = json::encode(&j, &ty).unwrap();
    assert_eq!(out, r#"{"value":["a"],"type":["list","string"]}"#);
    assert_eq!(json::decode(out.as_bytes(), &ty).unwrap(), j);
    // A number beyond f64 inside a dynamic JSON value.
    let j = json::decode(br#"{"value":18446744073709551617,"type":"number"}"#, &ty).unwrap();
    assert_eq!(
        j,
        Value::Dynamic(
            Box::new(Type::Number),
            Box::new(num("18446744073709551617"))
        )
    );

    for bad in [
        &br#"["a"]"#[..],
        br#"{"value":1}"#,
        br#"{"value":1,"type":"nope"}"#,
        br#"{"value":"x","type":"bool"}"#,
    ] {
        assert!(
            json::decode(bad, &ty).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    for bad in [
        vec![0x91, 0xc0],
        vec![0x92, 0x01, 0x01],
        vec![0x92, 0xc4, 0x03, b'b', b'a', b'd', 0xc0],
        vec![0xa1, b'x'],
    ] {
        assert!(msgpack::decode(&bad, &ty).is_err(), "{bad:02x?}");
    }
}

#[test]
fn deep_dynamic_type_json_is_refused() {
    let deep = "[\"list\",".repeat(5000) + "\"string\"" + &"]".repeat(5000);
    let mut bytes = vec![0x92, 0xc5];
    bytes.extend_from_slice(&(deep.len() as u16).to_be_bytes());
    bytes.extend_from_slice(deep.as_bytes());
    bytes.push(0xc0);
    assert!(msgpack::decode(&bytes, &Type::Dynamic).is_err());
    let j = format!("{{\"value\":null,\"type\":{deep}}}");
    assert!(json::decode(j.as_bytes(), &Type::Dynamic).is_err());

    // A dynamic value wrapping a dynamic value wrapping … 20,000 times.
    let mut bytes = Vec::new();
    for _ in 0..20_000 {
        bytes.extend_from_slice(&[0x92, 0xc4, 0x09]);
        bytes.extend_from_slice(b"\"dynamic\"");
    }
    bytes.push(0xc0);
    assert!(msgpack::decode(&bytes, &Type::Dynamic).is_err());
    // Deep JSON arrays.
    let j = "[".repeat(100_000) + &"]".repeat(100_000);
    assert!(json::decode(j.as_bytes(), &Type::list(Type::String)).is_err());
}

// ---------------------------------------------------------------------------------
// Blocks and nested attributes

/// A rule.
#[derive(Model, Debug, Clone, PartialEq)]
struct Rule {
    #[tf(required)]
    name: Val<String>,
    #[tf(optional)]
    port: Val<i64>,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Everything {
    #[tf(required)]
    id: Val<String>,
    #[tf(optional)]
    tags: Val<BTreeMap<String, String>>,
    #[tf(optional)]
    any: Val<Value>,
    #[tf(optional, nested)]
    one: Val<Rule>,
    #[tf(optional, nested)]
    many: Val<Vec<Rule>>,
    #[tf(optional, nested)]
    bag: Val<Set<Rule>>,
    #[tf(optional, nested)]
    named: Val<BTreeMap<String, Rule>>,
    #[tf(block = "single")]
    single: Val<Rule>,
    #[tf(block = "list", max_items = 3)]
    list: Val<Vec<Rule>>,
    #[tf(block = "set")]
    set: Val<Set<Rule>>,
    #[tf(block = "map")]
    map: Val<BTreeMap<String, Rule>>,
    #[tf(block = "group")]
    group: Val<Rule>,
}

fn rule(name: &str, port: Option<i64>) -> Rule {
    Rule {
        name: Val::Known(name.into()),
        port: port.into(),
    }
}

#[test]
fn blocks_and_nested_attributes_in_every_nesting_mode() {
    let block = Everything::block();
    let ty = block.value_type();
    let rule_ty = Type::object([("name", Type::String), ("port", Type::Number)]);
    let Type::Object(attrs, _) = &ty else {
        panic!("{ty}")
    };
    assert_eq!(attrs["one"], rule_ty);
    assert_eq!(attrs["many"], Type::list(rule_ty.clone()));
    assert_eq!(attrs["bag"], Type::set(rule_ty.clone()));
    assert_eq!(attrs["named"], Type::map(rule_ty.clone()));
    assert_eq!(attrs["single"], rule_ty);
    assert_eq!(attrs["group"], rule_ty);
    assert_eq!(attrs["list"], Type::list(rule_ty.clone()));
    assert_eq!(attrs["set"], Type::set(rule_ty.clone()));
    assert_eq!(attrs["map"], Type::map(rule_ty.clone()));
    assert_eq!(attrs["any"], Type::Dynamic);

    let m = Everything {
        id: Val::Known("x".into()),
        tags: Val::Known(BTreeMap::from([("env".into(), "prod".into())])),
        any: Val::Known(Value::Dynamic(
            Box::new(Type::Number),
            Box::new(num("1e400")),
        )),
        one: Val::Known(rule("one", Some(1))),
        many: Val::Known(vec![rule("m1", None), rule("m2", Some(2))]),
        bag: Val::Known(Set(vec![rule("b", Some(80))])),
        named: Val::Known(BTreeMap::from([("k".into(), rule("n", None))])),
        single: Val::Null,
        list: Val::Known(vec![rule("l", Some(443))]),
        set: Val::Unknown,
        map: Val::Known(BTreeMap::from([("label".into(), rule("mm", Some(8)))])),
        group: Val::Known(Rule {
            name: Val::Null,
            port: Val::Null,
        }),
    };
    let v = m.to_value();
    let bytes = round_trip(&v, &ty);
    let back = Everything::from_value(&msgpack::decode(&bytes, &ty).unwrap()).unwrap();
    assert_eq!(back, m);

    // The JSON form of the same value decodes to the same thing.
    let text = json::encode(
        &Value::object([
            ("id", Value::from("x")),
            ("list", Value::List(vec![rule("l", Some(443)).to_value()])),
        ]),
        &ty,
    )
    .unwrap();
    let from_json = json::decode(text.as_bytes(), &ty).unwrap();
    let back = Everything::from_value(&from_json).unwrap();
    assert_eq!(back.list, Val::Known(vec![rule("l", Some(443))]));
    assert_eq!(back.single, Val::Null);
    round_trip(&from_json, &ty);
}

#[test]
fn hand_built_blocks_encode_as_objects_and_collections() {
    use tf_sdk::schema::{Attribute, AttributeType, Block, NestedBlock, Nesting};
    let inner = Block {
        attributes: vec![Attribute::new("v", Type::String)],
        ..Block::default()
    };
    let nb = |name: &str, nesting| NestedBlock {
        name: name.into(),
        block: inner.clone(),
        nesting,
        min_items: 0,
        max_items: 0,
        requires_replace: false,
    };
    let block = Block {
        attributes: vec![Attribute {
            ty: AttributeType::Nested(Nesting::List, inner.attributes.clone()),
            ..Attribute::new("nested", Type::String)
        }],
        blocks: vec![
            nb("g", Nesting::Group),
            nb("l", Nesting::List),
            nb("m", Nesting::Map),
            nb("s", Nesting::Set),
            nb("x", Nesting::Single),
        ],
        ..Block::default()
    };
    let ty = block.value_type();
    let obj = |s: &str| Value::object([("v", Value::from(s))]);
    let v = Value::object([
        ("nested", Value::List(vec![obj("n")])),
        ("g", obj("g")),
        ("l", Value::List(vec![obj("l1"), obj("l2")])),
        ("m", Value::Map(BTreeMap::from([("k".into(), obj("m"))]))),
        ("s", Value::Set(vec![obj("s")])),
        ("x", Value::Null),
    ]);
    let e = |s: &str| {
        let mut b = vec![0x81, 0xa1, b'v'];
        b.extend(mp_str(s));
        b
    };
    let mut want = vec![0x86];
    want.extend(mp_str("g"));
    want.extend(e("g"));
    want.extend(mp_str("l"));
    want.push(0x92);
    want.extend(e("l1"));
    want.extend(e("l2"));
    want.extend(mp_str("m"));
    want.extend([0x81, 0xa1, b'k']);
    want.extend(e("m"));
    want.extend(mp_str("nested"));
    want.push(0x91);
    want.extend(e("n"));
    want.extend(mp_str("s"));
    want.push(0x91);
    want.extend(e("s"));
    want.extend(mp_str("x"));
    want.push(0xc0);
    assert_eq!(round_trip(&v, &ty), want);
}

// ---------------------------------------------------------------------------------
// Malformed input

fn sample_types() -> Vec<Type> {
    vec![
        Type::String,
        Type::Number,
        Type::Bool,
        Type::Dynamic,
        Type::list(Type::String),
        Type::set(Type::Number),
        Type::map(Type::Dynamic),
        Type::Tuple(vec![Type::String, Type::Bool]),
        Everything::block().value_type(),
    ]
}

fn sample_encoding() -> (Vec<u8>, Type) {
    let ty = Everything::block().value_type();
    let m = Everything {
        id: Val::Known("identifier-é".into()),
        tags: Val::Known(BTreeMap::from([("a".into(), "b".repeat(40))])),
        any: Val::Known(Value::Dynamic(
            Box::new(Type::list(Type::Number)),
            Box::new(Value::List(vec![
                num("18446744073709551617"),
                Value::from(1.5),
            ])),
        )),
        one: Val::Unknown,
        many: Val::Known(vec![rule("m", Some(-70000))]),
        bag: Val::Null,
        named: Val::Known(BTreeMap::new()),
        single: Val::Known(rule("s", None)),
        list: Val::Known(vec![]),
        set: Val::Known(Set(vec![rule("x", Some(1))])),
        map: Val::Null,
        group: Val::Known(rule("g", Some(300))),
    };
    let mut v = m.to_value();
    let Value::Object(o) = &mut v else {
        unreachable!()
    };
    // A refined unknown too.
    o.insert(
        "one".into(),
        Value::Unknown(Refinements::from_raw(vec![0x81, 0x01, 0xc2])),
    );
    (msgpack::encode(&v, &ty).unwrap(), ty)
}

#[test]
fn every_truncation_is_an_error() {
    let (bytes, ty) = sample_encoding();
    assert!(msgpack::decode(&bytes, &ty).is_ok());
    for n in 0..bytes.len() {
        assert!(
            msgpack::decode(&bytes[..n], &ty).is_err(),
            "prefix of {n} bytes decoded"
        );
    }
    for ty in sample_types() {
        assert!(msgpack::decode(&[], &ty).is_err(), "{ty}");
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    let (mut bytes, ty) = sample_encoding();
    bytes.push(0xc0);
    let err = msgpack::decode(&bytes, &ty).unwrap_err();
    assert!(err.message.contains("trailing"), "{err}");
    assert!(msgpack::decode(&[0xa1, b'x', 0x00], &Type::String).is_err());
    assert!(msgpack::decode(&[0xc0, 0xc0], &Type::String).is_err());
    assert!(json::decode(b"\"x\" 1", &Type::String).is_err());
}

#[test]
fn wrong_types_are_errors_with_paths() {
    let ty = Type::object([("list", Type::list(Type::object([("n", Type::Number)])))]);
    // {"list": [{"n": "abc"}]}
    let mut bytes = vec![0x81];
    bytes.extend(mp_str("list"));
    bytes.extend([0x91, 0x81, 0xa1, b'n']);
    bytes.extend(mp_str("abc"));
    let err = msgpack::decode(&bytes, &ty).unwrap_err();
    assert_eq!(err.path.to_string(), "list[0].n");
    let err = json::decode(br#"{"list":[{"n":1},{"n":true}]}"#, &ty).unwrap_err();
    assert_eq!(err.path.to_string(), "list[1].n");
    let mty = Type::map(Type::Bool);
    let err = msgpack::decode(&[0x81, 0xa2, b'k', b'1', 0x01], &mty).unwrap_err();
    assert_eq!(err.path.to_string(), "[\"k1\"]");
    // Encoding a value that does not fit the type is an error, with its path.
    let err = msgpack::encode(&Value::object([("list", Value::from("x"))]), &ty).unwrap_err();
    assert_eq!(err.path.to_string(), "list");
    assert!(msgpack::encode(&Value::object([("zzz", Value::Null)]), &ty).is_err());
    assert!(msgpack::encode(&Value::from(1), &Type::String).is_err());
    assert!(json::encode(&Value::unknown(), &Type::String).is_err());
    for ty in sample_types() {
        // A bool where anything else is expected, and so on.
        for wrong in [
            vec![0xc3],
            vec![0x01],
            vec![0xa1, b'x'],
            vec![0x90],
            vec![0x80],
        ] {
            let _ = msgpack::decode(&wrong, &ty);
        }
    }
    assert!(msgpack::decode(&[0xc3], &Type::String).is_err());
    assert!(msgpack::decode(&[0x80], &Type::list(Type::String)).is_err());
    assert!(msgpack::decode(&[0x90], &Type::object([("a", Type::String)])).is_err());
}

#[test]
fn reserved_byte_and_hostile_lengths_are_errors() {
    for ty in sample_types() {
        assert!(msgpack::decode(&[0xc1], &ty).is_err(), "{ty}");
        for hostile in [
            vec![0xdd, 0xff, 0xff, 0xff, 0xff], // array32 claiming 4 billion
            vec![0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0], // …with one element
            vec![0xdc, 0xff, 0xff, 0xc0],       // array16
            vec![0xdf, 0xff, 0xff, 0xff, 0xff], // map32
            vec![0xde, 0xff, 0xff, 0xa1, b'a'], // map16
            vec![0xdb, 0xff, 0xff, 0xff, 0xff, b'a'], // str32
            vec![0xc6, 0xff, 0xff, 0xff, 0xff], // bin32
            vec![0xc9, 0xff, 0xff, 0xff, 0xff, 0x00], // ext32
            vec![0xc8, 0xff, 0xff, 0x0c, 0x81], // ext16 refined
            vec![0x92, 0xc6, 0xff, 0xff, 0xff, 0xff], // dynamic with a huge type
        ] {
            assert!(
                msgpack::decode(&hostile, &ty).is_err(),
                "{ty}: {hostile:02x?}"
            );
        }
    }
    // Inside a container too.
    let ty = Type::list(Type::list(Type::String));
    assert!(msgpack::decode(&[0x91, 0xdd, 0xff, 0xff, 0xff, 0xff], &ty).is_err());
    let ty = Type::map(Type::String);
    assert!(msgpack::decode(&[0x81, 0xdb, 0x7f, 0xff, 0xff, 0xff], &ty).is_err());
}

#[test]
fn invalid_json_is_an_error() {
    let ty = Everything::block().value_type();
    for bad in [
        &b""[..],
        b"{",
        b"{\"id\":",
        b"{\"id\":\"x\",}",
        b"[1,2",
        b"\"unterminated",
        b"\"bad escape \\q\"",
        b"\"\\",
        b"nul",
        b"01x",
        b"1.",
        b"\xff\xfe",
        b"{\"id\":\"x\",\"nope\":1}",
    ] {
        assert!(
            json::decode(bad, &ty).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // Stored state may hold attributes a newer schema dropped.
    let v = json::decode_lenient(b"{\"id\":\"x\",\"nope\":1}", &ty).unwrap();
    assert_eq!(v.get("id"), Some(&Value::from("x")));
}

/// xorshift64*: a fixed-seed generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn fuzz_msgpack_decode_never_panics() {
    let types = sample_types();
    let (valid, _) = sample_encoding();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Bytes that are interesting to a msgpack reader.
    let alphabet = [
        0x00, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x92, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3,
        0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd4,
        0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff, 0x0c, b'"', b'[', b']',
    ];
    let mut decoded_ok = 0;
    for round in 0..6000 {
        let input: Vec<u8> = if round % 2 == 0 {
            // Purely random bytes, biased towards msgpack markers.
            let len = rng.below(48);
            (0..len)
                .map(|_| {
                    if rng.below(2) == 0 {
                        alphabet[rng.below(alphabet.len())]
                    } else {
                        rng.next() as u8
                    }
                })
                .collect()
        } else {
            // A valid encoding with a few bytes changed, inserted or removed.
            let mut v = valid.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(v.len());
                match rng.below(3) {
                    0 => v[i] = alphabet[rng.below(alphabet.len())],
                    1 => v[i] = rng.next() as u8,
                    _ => {
                        v.remove(i);
                    }
                }
            }
            v
        };
        for ty in &types {
            if let Ok(v) = msgpack::decode(&input, ty) {
                decoded_ok += 1;
                // Whatever decodes must encode again.
                let again = msgpack::encode(&v, ty).expect("a decoded value encodes");
                assert!(msgpack::decode(&again, ty).unwrap().semantic_eq(&v));
            }
        }
        let _ = json::decode(&input, &Type::Dynamic);
        if let Value::Unknown(r) = Value::Unknown(Refinements::from_raw(input.clone())) {
            let _ = (r.nullable(), r.string_prefix());
        }
    }
    assert!(
        decoded_ok > 100,
        "the fuzz loop should reach successful decodes too ({decoded_ok})"
    );
}

#[test]
fn fuzz_json_decode_never_panics() {
    let ty = Everything::block().value_type();
    let valid = br#"{"id":"x","tags":{"a":"b"},"any":{"value":[1e400,"s"],"type":["tuple",["number","string"]]},"list":[{"name":"n","port":18446744073709551617}]}"#;
    assert!(json::decode(valid, &ty).is_ok());
    let alphabet = b"{}[]\",:\\0123456789.eE+-tfnul ";
    let mut rng = Rng(42);
    for _ in 0..4000 {
        let mut v = valid.to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(v.len());
            if rng.below(2) == 0 {
                v[i] = alphabet[rng.below(alphabet.len())];
            } else {
                v.insert(i, alphabet[rng.below(alphabet.len())]);
            }
        }
        for t in [&ty, &Type::Dynamic, &Type::Number] {
            if let Ok(val) = json::decode(&v, t) {
                let _ = msgpack::encode(&val, t).expect("a decoded value encodes");
            }
        }
    }
}

#[test]
fn objects_in_any_key_order_with_missing_repeated_and_extra_attributes() {
    let ty = Type::object([("a", Type::Number), ("b", Type::String), ("c", Type::Bool)]);
    // Keys out of order, "b" missing, "a" repeated (the last one wins).
    let bytes = [0x83, 0xa1, b'c', 0xc3, 0xa1, b'a', 0x01, 0xa1, b'a', 0x02];
    let v = msgpack::decode(&bytes, &ty).unwrap();
    assert_eq!(
        v,
        Value::object([
            ("a", Value::from(2)),
            ("b", Value::Null),
            ("c", Value::from(true))
        ])
    );
    assert_eq!(
        msgpack::encode(&v, &ty).unwrap(),
        [0x83, 0xa1, b'a', 0x02, 0xa1, b'b', 0xc0, 0xa1, b'c', 0xc3]
    );
    // Absent attributes in a value encode as nil.
    let sparse = Value::object([("b", Value::from("x"))]);
    assert_eq!(
        msgpack::encode(&sparse, &ty).unwrap(),
        [
            0x83, 0xa1, b'a', 0xc0, 0xa1, b'b', 0xa1, b'x', 0xa1, b'c', 0xc0
        ]
    );
    // An attribute the type lacks is an error wherever it sorts.
    for extra in ["0", "aa", "bb", "z"] {
        let v = Value::object([
            ("a", Value::from(1)),
            (extra, Value::from(1)),
            ("c", Value::from(true)),
        ]);
        let err = msgpack::encode(&v, &ty).unwrap_err();
        assert!(
            err.message.contains(&format!("{extra:?}")),
            "{extra}: {err}"
        );
    }
}
