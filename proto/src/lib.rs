//! Protocol buffer messages and tonic gRPC stubs used to serve (and, in
//! tests, to drive) a Terraform provider plugin.
//!
//! The `.proto` sources live in this crate's `proto/` directory and are
//! compiled at build time by the pure-Rust `protox` compiler, so no system
//! `protoc` is needed. Every module has both server stubs (`*_server`) and
//! client stubs (`*_client`). Every generated server trait method has a
//! default body that answers `UNIMPLEMENTED`; implementations override the
//! RPCs they support.
//!
//! Well-known types map to [`prost_types`] (for example
//! `google.protobuf.Timestamp` becomes [`prost_types::Timestamp`] and
//! `google.protobuf.Empty` becomes `()`).

/// Terraform plugin protocol, major version 6 (proto package `tfplugin6`).
///
/// Covers protocol 6.9 in full (Terraform v1.12: resource identity,
/// ephemeral resources, functions, `MoveResourceState`, `GetMetadata`,
/// deferred actions, write-only attributes, client capabilities) and the
/// 6.10 additions published with Terraform v1.13 to v1.15: list resources,
/// `deprecation_message`, `GenerateResourceConfig`, actions and the
/// (experimental) state-store RPCs.
///
/// The server trait is [`tfplugin6::provider_server::Provider`], served by
/// [`tfplugin6::provider_server::ProviderServer`]; the client is
/// [`tfplugin6::provider_client::ProviderClient`]. Request and response
/// messages are nested per RPC, e.g. [`tfplugin6::plan_resource_change::Request`].
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::all,
    unused_qualifications
)]
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

/// go-plugin's internal services (proto package `plugin`): the connection
/// broker `GRPCBroker`, the `GRPCController` whose `Shutdown` RPC stops the
/// plugin, and `GRPCStdio` for forwarding stdout/stderr to the host.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::all,
    unused_qualifications
)]
pub mod plugin {
    tonic::include_proto!("plugin");
}

/// The standard gRPC health checking protocol (proto package
/// `grpc.health.v1`). go-plugin hosts check the service name `"plugin"`.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::all,
    unused_qualifications
)]
pub mod health {
    tonic::include_proto!("grpc.health.v1");
}

/// Encoded `google.protobuf.FileDescriptorSet` of every `.proto` file in
/// this crate (including the imported well-known types), e.g. for gRPC
/// server reflection or for inspecting the schema in tests.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tf_proto_descriptor.bin"));
