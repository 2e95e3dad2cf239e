//! The server's integration tests, one test binary for all of them (faster to
//! link than one per file). Tests that need the real `octopus-lite` process
//! spawn `CARGO_BIN_EXE_octopus-lite`; the others start servers in-process.

mod api;
mod bad_input;
mod cli;
mod common;
mod deploy;
mod deploy_flow;
mod durability;
mod feed_packages;
mod limits;
mod packages;
mod process;
mod secrets;
mod step_package_uninstall;
mod step_packages;
mod task_durability;
mod variables;
