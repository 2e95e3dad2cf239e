//! Compiles the `.proto` files under `proto/` with the pure-Rust `protox`
//! compiler (no system `protoc` needed) and generates prost messages plus
//! tonic client and server stubs from the resulting descriptor set.

use std::{env, fs, path::PathBuf};

use prost::Message as _;

const PROTOS: &[&str] = &[
    "proto/tfplugin6.proto",
    "proto/plugin/grpc_broker.proto",
    "proto/plugin/grpc_controller.proto",
    "proto/plugin/grpc_stdio.proto",
    "proto/grpc/health/v1/health.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=proto");

    // protox resolves imports of the google/protobuf well-known types itself.
    let fds = protox::compile(PROTOS, ["proto"])?;

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("tf_proto_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(true)
        // Every RPC gets a default body answering UNIMPLEMENTED, so a
        // provider only implements what it supports and new protocol RPCs
        // do not break existing implementations.
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    Ok(())
}
