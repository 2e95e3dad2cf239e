//! `Octopus.Script`: inline Bash and Python, helpers, service messages, packages.

use octopus_executor::{Category, Outcome};

use crate::common::*;

#[tokio::test]
async fn inline_bash_success_logs_stdout_as_info_and_stderr_as_error() {
    let d = Dirs::new();
    let (r, lines) = run(d.script("Bash", "echo hello\necho oops >&2\n")).await;
    assert_ok(&r, &lines);
    assert_eq!(r.exit_code, Some(0));
    assert!(
        lines.of(Category::Info).contains(&"hello"),
        "{}",
        lines.dump()
    );
    assert!(
        lines.of(Category::Error).contains(&"oops"),
        "{}",
        lines.dump()
    );
    // The helper directory (variables file included) is gone afterwards.
    assert!(!d.work.join(".octopus").exists());
}

#[tokio::test]
async fn exit_code_fails_with_octopus_message() {
    let d = Dirs::new();
    let (r, lines) = run(d.script("Bash", "echo before\nexit 7\necho never")).await;
    assert_eq!(
        failure(&r, &lines),
        "The remote script failed with exit code 7"
    );
    assert_eq!(r.exit_code, Some(7));
    assert!(!lines.has("never"));
    // The failure is also in the log.
    assert!(
        lines
            .of(Category::Error)
            .contains(&"The remote script failed with exit code 7")
    );
}

#[tokio::test]
async fn fail_step_message_becomes_the_failure() {
    let d = Dirs::new();
    let (r, lines) = run(d.script("Bash", "fail_step \"Database is down\"\necho never")).await;
    assert_eq!(failure(&r, &lines), "Database is down");
    assert_eq!(r.exit_code, Some(1));
    assert!(!lines.has("never"));
}

#[tokio::test]
async fn set_octopusvariable_and_sensitive_masking() {
    let d = Dirs::new();
    let body = r###"
set_octopusvariable "Plain" "visible value"
set_octopusvariable "Token" "tok-12345" -sensitive
echo "the token is tok-12345"
echo "db password is hunter2-pw" >&2
"###;
    let mut run_ = d.script("Bash", body);
    run_.sensitive_values = vec!["hunter2-pw".into(), String::new()];
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    assert_eq!(r.output_variables.len(), 2);
    assert_eq!(r.output_variables[0].name, "Plain");
    assert_eq!(r.output_variables[0].value, "visible value");
    assert!(!r.output_variables[0].sensitive);
    assert_eq!(r.output_variables[1].value, "tok-12345");
    assert!(r.output_variables[1].sensitive);
    assert!(lines.has("the token is ********"), "{}", lines.dump());
    assert!(lines.has("db password is ********"), "{}", lines.dump());
    assert!(!lines.dump().contains("tok-12345"));
    assert!(!lines.dump().contains("hunter2-pw"));
}

#[tokio::test]
async fn failure_message_is_masked() {
    let d = Dirs::new();
    let mut run_ = d.script("Bash", "fail_step \"cannot log in with s3cr3t-value\"");
    run_.sensitive_values = vec!["s3cr3t-value".into()];
    let (r, lines) = run(run_).await;
    assert_eq!(failure(&r, &lines), "cannot log in with ********");
}

#[tokio::test]
async fn helpers_write_categories_and_service_messages_switch_them() {
    let d = Dirs::new();
    let body = r###"
write_verbose "v line"
write_highlight "h line"
write_wait "w line"
write_warning "warn line"
echo "##octopus[stdout-error]"
echo "as error"
echo "##octopus[stdout-ignore]"
echo "dropped"
echo "##octopus[stdout-default]"
echo "back to info"
echo "##octopus[stderr-progress]" >&2
echo "progress on stderr" >&2
echo "##octopus[stderr-ignore]" >&2
echo "dropped too" >&2
echo "text ##octopus[stdout-highlight] around"
echo "##octopus[progress percentage='NTA=' message='aGFsZndheQ==']"
echo "##octopus[setVariable name='bad!!']"
"###;
    let (r, lines) = run(d.script("Bash", body)).await;
    assert_ok(&r, &lines);
    assert!(lines.of(Category::Verbose).contains(&"v line"));
    assert!(lines.of(Category::Highlight).contains(&"h line"));
    assert!(lines.of(Category::Wait).contains(&"w line"));
    assert!(lines.of(Category::Warning).contains(&"warn line"));
    assert!(lines.of(Category::Error).contains(&"as error"));
    assert!(lines.of(Category::Info).contains(&"back to info"));
    assert!(lines.of(Category::Verbose).contains(&"progress on stderr"));
    assert!(lines.of(Category::Verbose).contains(&"50% halfway"));
    assert!(!lines.has("dropped"), "{}", lines.dump());
    // Text around a message is still logged (here after the switch it made).
    assert!(
        lines.of(Category::Highlight).contains(&"text  around"),
        "{}",
        lines.dump()
    );
    assert!(
        lines
            .of(Category::Warning)
            .contains(&"Could not parse '##octopus[setVariable name='bad!!']'"),
        "{}",
        lines.dump()
    );
    // helpers print no raw service messages
    assert!(!lines.has("##octopus[stdout"));
}

#[tokio::test]
async fn get_octopusvariable_reads_variables_case_insensitively() {
    let d = Dirs::new();
    let mut run_ = d.script(
        "Bash",
        r#"echo "name=[$(get_octopusvariable Project.Name)] case=[$(get_octopusvariable project.NAME)] missing=[$(get_octopusvariable Nope)] spaces=[$(get_octopusvariable Spaced)]""#,
    );
    run_.variables = vars(&[("Project.Name", "Web ünïcode"), ("Spaced", "a  b 'c'")]);
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    assert!(
        lines.has("name=[Web ünïcode] case=[Web ünïcode] missing=[] spaces=[a  b 'c']"),
        "{}",
        lines.dump()
    );
}

#[tokio::test]
async fn variables_never_reach_the_environment() {
    let d = Dirs::new();
    let mut run_ = d.script("Bash", "env | sort");
    run_.variables = vars(&[("Secret.Thing", "zzz-in-vars")]);
    run_.env = vec![("EXTRA_FOR_STEP".into(), "yes".into())];
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    let text = lines.dump();
    assert!(!text.contains("zzz-in-vars"), "{text}");
    assert!(text.contains("EXTRA_FOR_STEP=yes"), "{text}");
}

#[tokio::test]
async fn create_artifact_inside_and_outside_the_work_dir() {
    let d = Dirs::new();
    let outside = d.path("outside.txt");
    std::fs::write(&outside, "x").unwrap();
    let body = format!(
        "echo 'report body' > report.txt\nnew_octopusartifact report.txt \"Deploy report\"\nnew_octopusartifact '{}'\n",
        outside.display()
    );
    let (r, lines) = run(d.script("Bash", &body)).await;
    assert_ok(&r, &lines);
    assert_eq!(r.artifacts.len(), 1, "{}", lines.dump());
    assert_eq!(r.artifacts[0].name, "Deploy report");
    assert_eq!(r.artifacts[0].length, 12);
    assert!(r.artifacts[0].path.ends_with("report.txt"));
    assert!(lines.has("lies outside the action's working directory"));
}

#[tokio::test]
async fn python_script_with_helpers() {
    let d = Dirs::new();
    let body = r###"
import sys
print("python says", get_octopusvariable("Greeting"))
set_octopusvariable("FromPython", "42")
set_octopusvariable("PySecret", "py-secret-9", sensitive=True)
print("leak: py-secret-9")
printwarning("careful")
print("to stderr", file=sys.stderr)
open("out.txt", "w").write("data")
createartifact("out.txt")
sys.exit(3)
"###;
    let mut run_ = d.script("Python", body);
    run_.variables = vars(&[("Greeting", "hi")]);
    let (r, lines) = run(run_).await;
    assert_eq!(
        failure(&r, &lines),
        "The remote script failed with exit code 3",
        "{}",
        lines.dump()
    );
    assert!(
        lines.of(Category::Info).contains(&"python says hi"),
        "{}",
        lines.dump()
    );
    assert!(lines.of(Category::Info).contains(&"leak: ********"));
    assert!(lines.of(Category::Warning).contains(&"careful"));
    assert!(lines.of(Category::Error).contains(&"to stderr"));
    assert_eq!(output(&r, "FromPython"), Some("42"));
    assert_eq!(r.artifacts.len(), 1);
    assert_eq!(r.artifacts[0].name, "out.txt");
}

#[tokio::test]
async fn python_failstep() {
    let d = Dirs::new();
    let (r, lines) = run(d.script("Python", "failstep('nope from python')\nprint('never')")).await;
    assert_eq!(failure(&r, &lines), "nope from python");
    assert!(!lines.has("never"));
}

#[tokio::test]
async fn unsupported_syntaxes_fail_clearly() {
    let d = Dirs::new();
    let (r, lines) = run(d.script("PowerShell", "Write-Host hi")).await;
    assert!(failure(&r, &lines).starts_with("PowerShell scripts cannot run on this worker"));
    let (r, lines) = run(d.script("CSharp", "x")).await;
    assert!(failure(&r, &lines).contains("cannot run on this worker"));
}

#[tokio::test]
async fn fail_on_error_output() {
    let d = Dirs::new();
    let mut run_ = d.script("Bash", "echo bad >&2\nexit 0");
    run_.properties.insert(
        "Octopus.Action.FailScriptOnErrorOutput".into(),
        "True".into(),
    );
    let (r, lines) = run(run_).await;
    assert!(failure(&r, &lines).contains("error stream"));
    assert_eq!(r.exit_code, Some(-1));
    // Without the setting, stderr alone does not fail the step.
    let (r, lines) = run(d.script("Bash", "echo bad >&2")).await;
    assert_ok(&r, &lines);
}

#[tokio::test]
async fn script_body_is_substituted() {
    let d = Dirs::new();
    let mut run_ = d.script("Bash", "echo \"deploying #{Project.Name}\"");
    run_.variables = vars(&[("Project.Name", "Web")]);
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    assert!(lines.has("deploying Web"), "{}", lines.dump());
}

#[tokio::test]
async fn script_from_package_with_parameters() {
    let d = Dirs::new();
    let pkg = zip_file(
        &d.path("scripts.1.0.0.zip"),
        &[
            (
                "tools/deploy.sh",
                "echo \"args: $# [$1] [$2] [$3]\"\necho \"env is #{Env}\"\n",
                0o644,
            ),
            ("tools/other.txt", "x", 0o644),
        ],
    );
    let mut run_ = d.action(octopus_executor::ActionKind::Script);
    run_.properties.insert(
        "Octopus.Action.Script.ScriptSource".into(),
        "Package".into(),
    );
    run_.properties
        .insert("Octopus.Action.Script.Syntax".into(), "Bash".into());
    run_.properties.insert(
        "Octopus.Action.Script.ScriptFileName".into(),
        "tools/deploy.sh".into(),
    );
    run_.properties.insert(
        "Octopus.Action.Script.ScriptParameters".into(),
        "one \"two words\" '#{Env}'".into(),
    );
    run_.variables = vars(&[("Env", "Staging")]);
    run_.packages = vec![staged("", "scripts", "1.0.0", pkg, true)];
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    assert!(d.work.join("tools/other.txt").exists());
    assert!(
        lines.has("args: 3 [one] [two words] [Staging]"),
        "{}",
        lines.dump()
    );
    assert!(lines.has("env is Staging"), "{}", lines.dump());
}

#[tokio::test]
async fn script_from_package_refuses_escaping_names() {
    let d = Dirs::new();
    let pkg = zip_file(&d.path("s.1.0.0.zip"), &[("a.sh", "echo", 0o644)]);
    let mut run_ = d.action(octopus_executor::ActionKind::Script);
    run_.properties.insert(
        "Octopus.Action.Script.ScriptSource".into(),
        "Package".into(),
    );
    run_.properties.insert(
        "Octopus.Action.Script.ScriptFileName".into(),
        "../../etc/passwd".into(),
    );
    run_.packages = vec![staged("", "s", "1.0.0", pkg, true)];
    let (r, lines) = run(run_).await;
    assert!(failure(&r, &lines).contains("relative path inside the package"));
}

#[tokio::test]
async fn referenced_packages_extracted_and_copied() {
    let d = Dirs::new();
    let tools = zip_file(
        &d.path("tools.2.0.0.zip"),
        &[("bin/tool.sh", "echo tool ran", 0o755)],
    );
    let data = zip_file(&d.path("data.1.1.0.zip"), &[("d.txt", "d", 0o644)]);
    let body = r###"
echo "extracted=$(get_octopusvariable 'Octopus.Action.Package[tools].ExtractedPath')"
sh "$(get_octopusvariable 'Octopus.Action.Package[tools].ExtractedPath')/bin/tool.sh"
echo "file=$(get_octopusvariable 'Octopus.Action.Package[data].PackageFileName')"
"###;
    let mut run_ = d.script("Bash", body);
    run_.packages = vec![
        staged("tools", "tools", "2.0.0", tools, true),
        staged("data", "data", "1.1.0", data, false),
    ];
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    let extracted = d.work.join("tools");
    assert!(
        lines.has(&format!("extracted={}", extracted.display())),
        "{}",
        lines.dump()
    );
    assert!(lines.has("tool ran"));
    assert!(lines.has("file=data.zip"), "{}", lines.dump());
    assert!(d.work.join("data.zip").is_file());
    assert_eq!(
        output(&r, "Octopus.Action.Package[tools].ExtractedPath"),
        Some(extracted.to_string_lossy().as_ref())
    );
    assert_eq!(
        output(&r, "Octopus.Action.Package[data].PackageId"),
        Some("data")
    );
    assert_eq!(
        output(&r, "Octopus.Action.Package[tools].PackageVersion"),
        Some("2.0.0")
    );
}

#[tokio::test]
async fn exit_code_outcome_is_not_success_on_missing_body() {
    let d = Dirs::new();
    let mut run_ = d.action(octopus_executor::ActionKind::Script);
    run_.properties
        .insert("Octopus.Action.Script.Syntax".into(), "Bash".into());
    let (r, lines) = run(run_).await;
    assert!(matches!(r.outcome, Outcome::Failed(_)));
    assert!(failure(&r, &lines).contains("no script body"));
}
