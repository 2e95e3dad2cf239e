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
    // deployment_process's lifecycle of every step kind.
    "acc-kinds",
    // octopus_step_package's tests and example.
    "acc-steps",
    "acc-bad-steps",
    "acme-deploy",
    // Octopus's format: the CLI-built archives in fixtures/step-packages/.
    "demo-echo",
];

/// Held by tests that install or uninstall `demo-echo` (a fixed ID: the archives are
/// Octopus-built and byte-for-byte), so one test's uninstall never races another's usage.
pub fn demo_echo_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Octopus-built `demo-echo` archive of `version` (`1.0.0` or `2.0.0`), kept in the
/// repository at `acceptance-tests/fixtures/step-packages/`.
pub fn demo_echo_archive(version: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/step-packages")
        .join(format!("demo-echo.{version}.zip"))
}
