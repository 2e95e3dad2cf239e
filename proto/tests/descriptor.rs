//! Checks the compiled schema against official protocol facts: field
//! numbers, enum values and RPC names that must match the published
//! Terraform, go-plugin and gRPC health definitions exactly.

use prost::Message as _;
use prost_types::{FileDescriptorSet, field_descriptor_proto::Label, field_descriptor_proto::Type};
use tf_proto::FILE_DESCRIPTOR_SET;

fn fds() -> FileDescriptorSet {
    FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

/// Finds a message by its full name, e.g. `tfplugin6.Schema.Attribute`.
fn message<'a>(fds: &'a FileDescriptorSet, full_name: &str) -> &'a prost_types::DescriptorProto {
    fn walk<'a>(
        prefix: &str,
        msgs: &'a [prost_types::DescriptorProto],
        want: &str,
    ) -> Option<&'a prost_types::DescriptorProto> {
        for m in msgs {
            let name = format!("{prefix}.{}", m.name());
            if name == want {
                return Some(m);
            }
            if let Some(found) = walk(&name, &m.nested_type, want) {
                return Some(found);
            }
        }
        None
    }
    fds.file
        .iter()
        .find_map(|f| walk(f.package(), &f.message_type, full_name))
        .unwrap_or_else(|| panic!("message {full_name} not found"))
}

fn field<'a>(
    fds: &'a FileDescriptorSet,
    msg: &str,
    name: &str,
) -> &'a prost_types::FieldDescriptorProto {
    message(fds, msg)
        .field
        .iter()
        .find(|f| f.name() == name)
        .unwrap_or_else(|| panic!("field {msg}.{name} not found"))
}

fn enum_values(fds: &FileDescriptorSet, full_name: &str) -> Vec<(String, i32)> {
    let (parent, name) = full_name.rsplit_once('.').unwrap();
    let enums = match fds.file.iter().find(|f| f.package() == parent) {
        Some(file) => &file.enum_type,
        None => &message(fds, parent).enum_type,
    };
    let e = enums
        .iter()
        .find(|e| e.name() == name)
        .unwrap_or_else(|| panic!("enum {full_name} not found"));
    e.value
        .iter()
        .map(|v| (v.name().to_owned(), v.number()))
        .collect()
}

fn values(list: &[(&str, i32)]) -> Vec<(String, i32)> {
    list.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect()
}

/// (message, field, number) triples copied from the official definitions.
const FIELDS: &[(&str, &str, i32)] = &[
    ("tfplugin6.DynamicValue", "msgpack", 1),
    ("tfplugin6.DynamicValue", "json", 2),
    ("tfplugin6.Diagnostic", "attribute", 4),
    ("tfplugin6.StopProvider.Response", "Error", 1),
    ("tfplugin6.Schema.Block", "deprecation_message", 7),
    ("tfplugin6.Schema.Attribute", "nested_type", 10),
    ("tfplugin6.Schema.Attribute", "write_only", 11),
    ("tfplugin6.Schema.Attribute", "deprecation_message", 12),
    ("tfplugin6.ServerCapabilities", "plan_destroy", 1),
    (
        "tfplugin6.ServerCapabilities",
        "get_provider_schema_optional",
        2,
    ),
    ("tfplugin6.ServerCapabilities", "move_resource_state", 3),
    (
        "tfplugin6.ServerCapabilities",
        "generate_resource_config",
        4,
    ),
    ("tfplugin6.ClientCapabilities", "deferral_allowed", 1),
    (
        "tfplugin6.ClientCapabilities",
        "write_only_attributes_allowed",
        2,
    ),
    (
        "tfplugin6.ValidateProviderConfig.Response",
        "diagnostics",
        2,
    ),
    ("tfplugin6.GetProviderSchema.Response", "diagnostics", 4),
    ("tfplugin6.GetProviderSchema.Response", "functions", 7),
    (
        "tfplugin6.GetProviderSchema.Response",
        "ephemeral_resource_schemas",
        8,
    ),
    (
        "tfplugin6.GetProviderSchema.Response",
        "list_resource_schemas",
        9,
    ),
    ("tfplugin6.GetProviderSchema.Response", "action_schemas", 11),
    (
        "tfplugin6.PlanResourceChange.Request",
        "client_capabilities",
        7,
    ),
    ("tfplugin6.PlanResourceChange.Request", "prior_identity", 8),
    (
        "tfplugin6.PlanResourceChange.Response",
        "legacy_type_system",
        5,
    ),
    (
        "tfplugin6.PlanResourceChange.Response",
        "planned_identity",
        7,
    ),
    ("tfplugin6.ApplyResourceChange.Response", "new_identity", 5),
    ("tfplugin6.ImportResourceState.Request", "identity", 4),
    (
        "tfplugin6.MoveResourceState.Request",
        "source_identity_schema_version",
        8,
    ),
    ("tfplugin6.OpenEphemeralResource.Response", "renew_at", 2),
    ("tfplugin6.ListResource.Event", "diagnostic", 4),
    ("tfplugin6.WriteStateBytes.RequestChunk", "meta", 1),
    ("plugin.ConnInfo", "knock", 4),
    ("plugin.StdioData", "data", 2),
    ("grpc.health.v1.HealthCheckResponse", "status", 1),
];

#[test]
fn official_field_numbers() {
    let fds = fds();
    for &(msg, name, number) in FIELDS {
        assert_eq!(field(&fds, msg, name).number(), number, "{msg}.{name}");
    }
}

#[test]
fn field_shapes() {
    let fds = fds();
    let f = field(&fds, "tfplugin6.OpenEphemeralResource.Response", "renew_at");
    assert_eq!(f.type_name(), ".google.protobuf.Timestamp");
    assert!(f.proto3_optional(), "renew_at is proto3 optional");
    let f = field(&fds, "tfplugin6.Schema.Attribute", "type");
    assert_eq!(f.r#type(), Type::Bytes);
    let f = field(
        &fds,
        "tfplugin6.PlanResourceChange.Response",
        "requires_replace",
    );
    assert_eq!(f.label(), Label::Repeated);
    assert_eq!(f.type_name(), ".tfplugin6.AttributePath");
    let f = field(&fds, "tfplugin6.FunctionError", "function_argument");
    assert_eq!((f.r#type(), f.proto3_optional()), (Type::Int64, true));
}

#[test]
fn official_enum_values() {
    let fds = fds();
    assert_eq!(
        enum_values(&fds, "tfplugin6.StringKind"),
        values(&[("PLAIN", 0), ("MARKDOWN", 1)])
    );
    assert_eq!(
        enum_values(&fds, "tfplugin6.Diagnostic.Severity"),
        values(&[("INVALID", 0), ("ERROR", 1), ("WARNING", 2)])
    );
    assert_eq!(
        enum_values(&fds, "tfplugin6.Schema.NestedBlock.NestingMode"),
        values(&[
            ("INVALID", 0),
            ("SINGLE", 1),
            ("LIST", 2),
            ("SET", 3),
            ("MAP", 4),
            ("GROUP", 5)
        ])
    );
    assert_eq!(
        enum_values(&fds, "tfplugin6.Deferred.Reason"),
        values(&[
            ("UNKNOWN", 0),
            ("RESOURCE_CONFIG_UNKNOWN", 1),
            ("PROVIDER_CONFIG_UNKNOWN", 2),
            ("ABSENT_PREREQ", 3)
        ])
    );
    assert_eq!(
        enum_values(&fds, "plugin.StdioData.Channel"),
        values(&[("INVALID", 0), ("STDOUT", 1), ("STDERR", 2)])
    );
    assert_eq!(
        enum_values(&fds, "grpc.health.v1.HealthCheckResponse.ServingStatus"),
        values(&[
            ("UNKNOWN", 0),
            ("SERVING", 1),
            ("NOT_SERVING", 2),
            ("SERVICE_UNKNOWN", 3)
        ])
    );
}

/// (name, client streaming, server streaming) of every RPC of a service.
fn rpcs(fds: &FileDescriptorSet, package: &str, service: &str) -> Vec<(String, bool, bool)> {
    let svc = fds
        .file
        .iter()
        .filter(|f| f.package() == package)
        .flat_map(|f| &f.service)
        .find(|s| s.name() == service)
        .unwrap_or_else(|| panic!("service {package}.{service} not found"));
    svc.method
        .iter()
        .map(|m| {
            (
                m.name().to_owned(),
                m.client_streaming(),
                m.server_streaming(),
            )
        })
        .collect()
}

#[test]
fn provider_rpc_set() {
    let fds = fds();
    let mut got = rpcs(&fds, "tfplugin6", "Provider");
    got.sort();
    let unary = |n: &str| (n.to_owned(), false, false);
    let mut want = vec![
        // Protocol 6.9.
        unary("GetMetadata"),
        unary("GetProviderSchema"),
        unary("ValidateProviderConfig"),
        unary("ValidateResourceConfig"),
        unary("ValidateDataResourceConfig"),
        unary("UpgradeResourceState"),
        unary("GetResourceIdentitySchemas"),
        unary("UpgradeResourceIdentity"),
        unary("ConfigureProvider"),
        unary("ReadResource"),
        unary("PlanResourceChange"),
        unary("ApplyResourceChange"),
        unary("ImportResourceState"),
        unary("MoveResourceState"),
        unary("ReadDataSource"),
        unary("ValidateEphemeralResourceConfig"),
        unary("OpenEphemeralResource"),
        unary("RenewEphemeralResource"),
        unary("CloseEphemeralResource"),
        unary("GetFunctions"),
        unary("CallFunction"),
        unary("StopProvider"),
        // Protocol 6.10.
        unary("GenerateResourceConfig"),
        ("ListResource".to_owned(), false, true),
        unary("ValidateListResourceConfig"),
        unary("ValidateStateStoreConfig"),
        unary("ConfigureStateStore"),
        ("ReadStateBytes".to_owned(), false, true),
        ("WriteStateBytes".to_owned(), true, false),
        unary("LockState"),
        unary("UnlockState"),
        unary("GetStates"),
        unary("DeleteState"),
        unary("PlanAction"),
        ("InvokeAction".to_owned(), false, true),
        unary("ValidateActionConfig"),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn auxiliary_services() {
    let fds = fds();
    assert_eq!(
        rpcs(&fds, "plugin", "GRPCBroker"),
        vec![("StartStream".to_owned(), true, true)]
    );
    assert_eq!(
        rpcs(&fds, "plugin", "GRPCController"),
        vec![("Shutdown".to_owned(), false, false)]
    );
    assert_eq!(
        rpcs(&fds, "plugin", "GRPCStdio"),
        vec![("StreamStdio".to_owned(), false, true)]
    );
    assert_eq!(
        rpcs(&fds, "grpc.health.v1", "Health"),
        vec![
            ("Check".to_owned(), false, false),
            ("Watch".to_owned(), false, true)
        ]
    );
    assert_eq!(
        tf_proto::tfplugin6::provider_server::SERVICE_NAME,
        "tfplugin6.Provider"
    );
    assert_eq!(
        tf_proto::plugin::grpc_controller_server::SERVICE_NAME,
        "plugin.GRPCController"
    );
    assert_eq!(
        tf_proto::health::health_server::SERVICE_NAME,
        "grpc.health.v1.Health"
    );
}
