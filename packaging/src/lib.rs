//! Understanding packages: file names, versions and ranges, streaming hashes, safe archive
//! inspection, and the step-package format (metadata, inputs schema, migrations).
//!
//! This crate is pure logic with no server or network code; the embedded server calls it.

pub mod archive;
pub mod filename;
pub mod hashing;
pub mod range;
pub mod schema;
pub mod step_package;
pub mod version;
