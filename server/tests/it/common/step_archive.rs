//! Builds real step-package zip archives (docs/step-packages.md §5) for tests and benches.
#![allow(dead_code)]

use std::path::Path;

pub use octopus_packaging::step_package::builder::{StepDef, step_package_zip as zip};

/// Writes `bytes` as `dir/name` the safe way: under a `.tmp` name, then renamed into place.
pub fn drop_into(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}
