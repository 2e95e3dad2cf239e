//! End-to-end tests of the `demo-echo` step (built by Octopus's step-package CLI; the
//! archives are in `acceptance-tests/fixtures/step-packages/`): fixture, install,
//! process, deployment, checks; everything torn down. Run by `scripts/test` (as part
//! of the acceptance tests); copy this file and `fixture/` to test your own step.

use std::path::{Path, PathBuf};

use acceptance_tests::octopus_client::model::TaskState;
use acceptance_tests::{Fixture, StepTest, TestContext, demo_echo_lock};
use serde_json::json;

/// The step author's build output (here: the CLI-built archives of demo-echo).
fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/step-packages")
}

/// The fixture template next to this test.
fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/step-author/fixture")
}

#[test]
fn demo_echo_prints_sets_outputs_and_hides_its_token() {
    // Other tests of this repository install and uninstall demo-echo too (step
    // packages are server-wide); your own package needs no lock.
    let _demo_echo = demo_echo_lock();
    let ctx = TestContext::new();
    let fixture = match Fixture::spin_dir(&fixture_dir(), &ctx) {
        Ok(f) => f,
        Err(reason) => return eprintln!("skipped: {reason}"),
    };
    let message = fixture.output("message").as_str().unwrap().to_owned();
    let run = StepTest::new(&ctx, "demo-echo", "1")
        .install_from(&dist())
        .inputs(json!({"message": message, "repeat": 2, "uppercase": true}))
        .sensitive_input("token", "abcd-token")
        .then_hcl(
            r#"
  step {
    name = "Read"
    type = "Octopus.Script"
    execution_properties = {
      "Octopus.Action.RunOnServer"         = "true"
      "Octopus.Action.Script.ScriptSource" = "Inline"
      "Octopus.Action.Script.Syntax"       = "Bash"
      "Octopus.Action.Script.ScriptBody"   = "echo \"echoed: #{Octopus.Action[demo-echo].Output.Echoed}\""
    }
  }
"#,
        )
        .deploy();
    let shout = message.to_uppercase();
    // The step's own echo lines: the text after a log line's `|` is exactly the
    // message (the output variable's line and the script's `echoed:` hold more).
    let echoes = run
        .log
        .lines()
        .filter(|l| {
            l.split_once('|')
                .is_some_and(|(_, text)| text.trim() == shout)
        })
        .count();
    assert_eq!(echoes, 2, "repeat = 2 echoes twice:\n{}", run.log);
    assert!(run.logged("A token was given"), "{}", run.log);
    assert_eq!(run.output("demo-echo", "Echoed"), Some(shout.as_str()));
    assert_eq!(run.output("demo-echo", "TokenLength"), Some("********"));
    assert!(run.logged(&format!("echoed: {shout}")), "{}", run.log);
    assert!(!run.log.contains("abcd-token"), "{}", run.log);
}

#[test]
fn a_negative_repeat_fails_the_task_with_the_step_s_message() {
    // Other tests of this repository install and uninstall demo-echo too (step
    // packages are server-wide); your own package needs no lock.
    let _demo_echo = demo_echo_lock();
    let ctx = TestContext::new();
    let run = StepTest::new(&ctx, "demo-echo", "1")
        .install_from(&dist())
        .inputs(json!({"message": "hi", "repeat": -1, "uppercase": false}))
        // Secrets are masked wherever they appear: a one-letter token would mask
        // every "t" of the log.
        .sensitive_input("token", "a-longer-token")
        .expect_task(TaskState::Failed)
        .deploy();
    assert!(
        run.task
            .error_message
            .contains("repeat must not be negative"),
        "{}",
        run.task.error_message
    );
}

#[test]
fn a_wrong_input_type_is_a_plan_time_error_naming_the_input() {
    // Other tests of this repository install and uninstall demo-echo too (step
    // packages are server-wide); your own package needs no lock.
    let _demo_echo = demo_echo_lock();
    let ctx = TestContext::new();
    let error = StepTest::new(&ctx, "demo-echo", "1")
        .install_from(&dist())
        .inputs(json!({"message": "hi", "repeat": "twice", "uppercase": false}))
        .sensitive_input("token", "t")
        .plan_error();
    // Terraform wraps the detail to its width: compare with whitespace collapsed.
    let flat = error.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(r#"Invalid input for step "demo-echo""#),
        "{error}"
    );
    assert!(
        flat.contains(
            "/repeat (step[0].step_package.inputs.repeat): expected number, got string \
             (the inputs schema of demo-echo 1.0.0)"
        ),
        "{error}"
    );
}
