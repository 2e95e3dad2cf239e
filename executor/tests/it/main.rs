//! Integration tests of `run_action`: real processes, real archives.

mod common;
mod octopus_step;
mod package;
mod process;
mod script;
mod step_package;
