//! Deploying what Terraform applied: the harness's deploy step through real
//! Terraform, with variables, output variables and a failing script.

use acceptance_tests::octopus_client::model::TaskState;
use acceptance_tests::{Step, TestCase, TestContext};

fn config(audience: &str, script_tail: &str) -> String {
    format!(
        r#"
resource "octopus_environment" "dev" {{
  name = "dev-{{code}}"
}}

resource "octopus_project" "app" {{
  name = "app-{{code}}"
}}

resource "octopus_variable" "audience" {{
  owner_id = octopus_project.app.id
  name     = "Audience"
  value    = "{audience}"
}}

resource "octopus_deployment_process" "app" {{
  project_id = octopus_project.app.id
  step {{
    name = "Greet"
    type = "Octopus.Script"
    execution_properties = {{
      "Octopus.Action.RunOnServer"         = "true"
      "Octopus.Action.Script.ScriptSource" = "Inline"
      "Octopus.Action.Script.Syntax"       = "Bash"
      "Octopus.Action.Script.ScriptBody"   = "echo \"hello #{{Audience}}\"\nset_octopusvariable Said \"hello #{{Audience}}\"\n{script_tail}"
    }}
  }}
}}
"#
    )
}

#[test]
fn applied_processes_deploy_with_their_variables() {
    let ctx = TestContext::new();
    TestCase::new(vec![
        Step::config(&config("world", "")),
        Step::deploy("octopus_project.app", "octopus_environment.dev").check_deployment(|d| {
            assert!(d.logged("hello world"), "{}", d.log);
            assert_eq!(d.output("Greet", "Said"), Some("hello world"));
        }),
        // A new value reaches the next release.
        Step::config(&config("everyone", "")),
        Step::deploy("octopus_project.app", "octopus_environment.dev").check_deployment(|d| {
            assert_eq!(d.output("Greet", "Said"), Some("hello everyone"));
        }),
        Step::config(&config("everyone", "exit 4")),
        Step::deploy("octopus_project.app", "octopus_environment.dev")
            .expect_task(TaskState::Failed)
            .check_deployment(|d| {
                assert!(
                    d.task.error_message.contains("exit code 4"),
                    "{}",
                    d.task.error_message
                );
            }),
    ])
    .run(&ctx);
}

/// A deployment expectation on a step that deploys nothing would be ignored: the
/// harness refuses it.
#[test]
#[should_panic(expected = "Step::expect_task(Failed) on a step that deploys nothing")]
fn expect_task_on_a_config_step_panics() {
    let _ = Step::config("").expect_task(TaskState::Failed);
}

/// A deployment check on a step that deploys nothing would never run: the harness
/// refuses it.
#[test]
#[should_panic(expected = "Step::check_deployment on a step that deploys nothing")]
fn check_deployment_on_an_import_step_panics() {
    let _ = Step::import("octopus_project.app").check_deployment(|_| {});
}
