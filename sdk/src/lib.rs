//! A resource SDK for writing Terraform and OpenTofu providers in Rust.
//!
//! - [`value`]: three-state values (known, null, unknown with refinements) and the
//!   msgpack/JSON wire codecs, with numbers of any size.
//! - [`schema`] and [`model`]: schemas declared once, as Rust structs with
//!   `#[derive(Model)]`, that give both the Terraform schema and typed decoding.
//! - [`diag`]: diagnostics with attribute paths.

extern crate self as tf_sdk;

pub mod diag;
pub mod model;
pub mod schema;
pub mod value;

pub use diag::{AttributePath, Diagnostic, Diagnostics, Severity};
pub use model::{Model, Set, TfType, Val, validators};
pub use tf_sdk_derive::Model;
