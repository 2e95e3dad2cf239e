//! Encodes small messages with the generated prost types and compares the
//! result with bytes computed by hand from the protobuf wire format
//! (tag = field_number << 3 | wire_type; 0 = varint, 2 = length-delimited).

use prost::Message as _;
use tf_proto::{health, plugin, tfplugin6};

#[test]
fn dynamic_value_bytes() {
    // msgpack nil (0xc0) in field 1: tag 0x0a, length 1, payload.
    let v = tfplugin6::DynamicValue {
        msgpack: vec![0xc0],
        json: vec![],
    };
    assert_eq!(v.encode_to_vec(), [0x0a, 0x01, 0xc0]);
    // json "null" in field 2: tag 0x12, length 4.
    let v = tfplugin6::DynamicValue {
        msgpack: vec![],
        json: b"null".to_vec(),
    };
    assert_eq!(v.encode_to_vec(), [0x12, 0x04, b'n', b'u', b'l', b'l']);
}

#[test]
fn attribute_bytes() {
    let attr = tfplugin6::schema::Attribute {
        name: "id".into(),
        r#type: b"\"string\"".to_vec(),
        optional: true,
        write_only: true,
        deprecation_message: "x".into(),
        ..Default::default()
    };
    let mut want = vec![0x0a, 0x02, b'i', b'd']; // name = 1
    want.extend([0x12, 0x08]); // type = 2, 8 bytes
    want.extend(b"\"string\"");
    want.extend([0x28, 0x01]); // optional = 5
    want.extend([0x58, 0x01]); // write_only = 11 -> (11 << 3) = 0x58
    want.extend([0x62, 0x01, b'x']); // deprecation_message = 12 -> 0x62
    assert_eq!(attr.encode_to_vec(), want);

    let decoded = tfplugin6::schema::Attribute::decode(want.as_slice()).unwrap();
    assert_eq!(decoded, attr);
}

#[test]
fn diagnostic_and_capabilities_bytes() {
    let d = tfplugin6::Diagnostic {
        severity: tfplugin6::diagnostic::Severity::Error as i32,
        summary: "hi".into(),
        ..Default::default()
    };
    assert_eq!(d.encode_to_vec(), [0x08, 0x01, 0x12, 0x02, b'h', b'i']);

    let caps = tfplugin6::ClientCapabilities {
        deferral_allowed: true,
        write_only_attributes_allowed: true,
    };
    assert_eq!(caps.encode_to_vec(), [0x08, 0x01, 0x10, 0x01]);

    let caps = tfplugin6::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: false,
        move_resource_state: true,
        generate_resource_config: false,
    };
    assert_eq!(caps.encode_to_vec(), [0x08, 0x01, 0x18, 0x01]);

    let deferred = tfplugin6::Deferred {
        reason: tfplugin6::deferred::Reason::AbsentPrereq as i32,
    };
    assert_eq!(deferred.encode_to_vec(), [0x08, 0x03]);
}

#[test]
fn nested_request_bytes() {
    // PlanResourceChange.Request { type_name = "a", client_capabilities = 7 { deferral_allowed } }
    let req = tfplugin6::plan_resource_change::Request {
        type_name: "a".into(),
        client_capabilities: Some(tfplugin6::ClientCapabilities {
            deferral_allowed: true,
            write_only_attributes_allowed: false,
        }),
        ..Default::default()
    };
    assert_eq!(
        req.encode_to_vec(),
        [0x0a, 0x01, b'a', 0x3a, 0x02, 0x08, 0x01]
    );
}

#[test]
fn auxiliary_messages_bytes() {
    let status = health::HealthCheckResponse {
        status: health::health_check_response::ServingStatus::Serving as i32,
    };
    assert_eq!(status.encode_to_vec(), [0x08, 0x01]);

    let out = plugin::StdioData {
        channel: plugin::stdio_data::Channel::Stderr as i32,
        data: b"!".to_vec(),
    };
    assert_eq!(out.encode_to_vec(), [0x08, 0x02, 0x12, 0x01, b'!']);

    // Empty messages encode to nothing.
    assert!(plugin::Empty {}.encode_to_vec().is_empty());
}
