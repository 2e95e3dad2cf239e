//! Octopus Deploy REST API models and client.
//!
//! [`model`] holds the API types (serde + JSON Schema), shared with the embedded
//! server. With the default `http` feature, [`Client`] talks to an Octopus Server
//! (or `octopus-lite`) over HTTP(S) with an API key or bearer token.

pub mod model;

#[cfg(feature = "http")]
mod client;
#[cfg(feature = "http")]
mod config;
#[cfg(feature = "http")]
mod deployments;
#[cfg(feature = "http")]
mod error;
#[cfg(feature = "http")]
mod feed_packages;
#[cfg(feature = "http")]
mod packages;
#[cfg(feature = "http")]
mod retry;
#[cfg(feature = "http")]
pub mod step_packages;
#[cfg(feature = "http")]
mod variables;

pub use model::Named;

#[cfg(feature = "http")]
pub use client::{Client, Collection, DeploymentProcesses, ListOptions};
#[cfg(feature = "http")]
pub use config::{Config, Credentials, RetryPolicy};
#[cfg(feature = "http")]
pub use deployments::{Deployments, Releases, Tasks};
#[cfg(feature = "http")]
pub use error::Error;
#[cfg(feature = "http")]
pub use feed_packages::{FeedPackages, VersionQuery};
#[cfg(feature = "http")]
pub use packages::{OverwriteMode, PackageListOptions, Packages, Uploaded};
#[cfg(feature = "http")]
pub use variables::{MAX_MODIFY_ATTEMPTS, ModifyError, Variables};
