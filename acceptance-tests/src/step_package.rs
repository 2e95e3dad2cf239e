//! Step-package archives for tests (built by octopus-packaging), and the package IDs
//! the test server trusts.

pub use octopus_packaging::step_package::builder::{StepDef, step_package_zip};

/// Package IDs the harness's server trusts (step packages are server-wide, so each
/// test that installs one uses its own ID).
pub const TRUSTED: &[&str] = &[
    "acc-notify",
    "acc-db",
    "acc-bench",
    "acme-notify",
    // octopus_step_package's tests and example.
    "acc-steps",
    "acc-bad-steps",
    "acme-deploy",
];
