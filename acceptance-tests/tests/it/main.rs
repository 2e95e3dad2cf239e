//! The provider's acceptance tests, one binary (one embedded server per run, each
//! test in its own space): a module per resource, plus data sources, errors,
//! fixtures and the examples users copy.

mod data_sources;
mod deploy;
mod deployment_process;
mod docs;
mod environment;
mod errors;
mod examples;
mod feeds;
mod fixtures;
mod package;
mod package_versions;
mod project;
mod space;
mod step_package;
mod variable;

/// The step author's example (`examples/step-author/`), run as part of these tests.
#[path = "../../../examples/step-author/tests/demo_echo.rs"]
mod step_author_example;
