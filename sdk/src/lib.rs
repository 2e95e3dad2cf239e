//! A resource SDK for writing Terraform and OpenTofu providers in Rust.
//!
//! - [`value`]: three-state values (known, null, unknown with refinements) and the
//!   msgpack/JSON wire codecs, with numbers of any size.
//! - [`schema`] and [`model`]: schemas declared once, as Rust structs with
//!   `#[derive(Model)]`, that give both the Terraform schema and typed decoding.
//! - [`diag`]: diagnostics with attribute paths.
//! - [`provider`]: the `Provider`, `Resource` and `DataSource` traits, async and typed.
//! - [`Json`]: free-form structured data in an attribute, written as native HCL.
//! - [`serve`]: the go-plugin handshake with AutoMTLS, health and shutdown.

extern crate self as tf_sdk;

pub mod diag;
mod dynamic;
mod erased;
mod grpc;
pub mod model;
mod plan;
pub mod provider;
pub mod schema;
pub mod serve;
pub mod value;
mod wire;

pub use diag::{AttributePath, Diagnostic, Diagnostics, Severity};
pub use dynamic::Json;
pub use model::{Model, Set, TfType, Val, validators};
pub use provider::{
    Context, DataSource, ErasedDataSource, ErasedResource, PlanRequest, Provider, Resource,
    data_source, resource,
};
pub use serve::{InProcess, ServeOptions, serve};
pub use tf_sdk_derive::Model;

/// The SDK's internals, for its own tests only: not part of the public API and not
/// covered by semantic versioning.
#[doc(hidden)]
pub mod __internal {
    pub use crate::grpc::ProviderService;
    /// The plan pipeline's steps.
    pub mod plan {
        pub use crate::plan::*;
    }
}
