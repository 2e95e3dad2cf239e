//! The `octopus-lite` command line, through the real binary: help, version and
//! the one-line errors with exit code 2.

use std::process::{Command, Output};

/// Runs `octopus-lite` with these arguments; none of them starts a server.
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_octopus-lite"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Asserts a usage error: exit 2, nothing on stdout, and on stderr exactly the
/// message line (starting with `message`) and the hint.
fn assert_usage_error(args: &[&str], message: &str) {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(stdout(&o), "", "{args:?}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{args:?}: {err}");
    assert!(
        lines[0].starts_with(&format!("octopus-lite: {message}")),
        "{args:?}: {err}"
    );
    assert_eq!(lines[1], "run 'octopus-lite --help' for usage", "{args:?}");
}

#[test]
fn version_prints_the_package_version() {
    for flag in ["--version", "-V"] {
        let o = run(&[flag]);
        assert_eq!(o.status.code(), Some(0), "{flag}");
        assert_eq!(
            stdout(&o),
            format!("octopus-lite {}\n", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(stderr(&o), "");
    }
}

#[test]
fn help_lists_every_flag() {
    for flag in ["--help", "-h"] {
        let o = run(&[flag]);
        assert_eq!(o.status.code(), Some(0), "{flag}");
        assert_eq!(stderr(&o), "");
        let usage = stdout(&o);
        assert!(usage.starts_with("usage: octopus-lite"), "{usage}");
        for listed in [
            "--listen ADDR",
            "--data-dir DIR",
            "--api-key KEY",
            "--max-body BYTES",
            "--max-package-bytes BYTES",
            "--step-feed DIR",
            "--trust-step-package ID[@RANGE]",
            "repeatable",
            "--max-uploads N",
            "--upload-deadline DURATION",
            "--header-timeout DURATION",
            "--idle-timeout DURATION",
            "--max-connections N",
            "--shutdown-grace DURATION",
            "--max-tasks N",
            "--step-timeout DURATION",
            "--run-steps-as USER",
            "-h, --help",
            "-V, --version",
        ] {
            assert!(usage.contains(listed), "{listed} missing from:\n{usage}");
        }
        // Every flag the parser accepts is in the usage, whether listed above or not.
        let parser = include_str!("../../src/main.rs");
        let mut parsed = 0;
        for piece in parser.split("Arg::Long(\"").skip(1) {
            let flag = piece.split('"').next().unwrap_or_default();
            assert!(!flag.is_empty(), "an empty flag name in the parser");
            assert!(
                usage.contains(&format!("--{flag}")),
                "--{flag} is parsed but missing from:\n{usage}"
            );
            parsed += 1;
        }
        // The scan found the parser's flags (16 when written): a changed pattern
        // would otherwise check nothing.
        assert!(
            parsed >= 16,
            "found {parsed} `Arg::Long(\"` flags in src/main.rs, expected at least 16"
        );
    }
}

#[test]
fn unknown_flags_exit_2() {
    assert_usage_error(&["--bogus"], "unknown option --bogus");
    assert_usage_error(&["--bogus=1"], "unknown option --bogus");
    assert_usage_error(&["-x"], "unknown option -x");
    assert_usage_error(&["--help=yes"], "option --help takes no value");
}

#[test]
fn positional_arguments_exit_2() {
    assert_usage_error(&["foo"], "unexpected argument \"foo\"");
    assert_usage_error(
        &["--data-dir", "d", "serve"],
        "unexpected argument \"serve\"",
    );
    assert_usage_error(&["--", "foo"], "unexpected argument \"foo\"");
}

#[test]
fn missing_values_exit_2() {
    for flag in [
        "--listen",
        "--data-dir",
        "--api-key",
        "--max-body",
        "--max-package-bytes",
        "--step-feed",
        "--trust-step-package",
    ] {
        assert_usage_error(&[flag], &format!("missing value for {flag}"));
    }
}

#[test]
fn bad_values_exit_2() {
    for args in [
        &["--listen", "not-an-address"][..],
        &["--listen=not-an-address"],
    ] {
        assert_usage_error(args, "invalid value \"not-an-address\" for --listen");
    }
    assert_usage_error(
        &["--max-body", "lots"],
        "invalid value \"lots\" for --max-body",
    );
    assert_usage_error(
        &["--max-package-bytes=-1"],
        "invalid value \"-1\" for --max-package-bytes",
    );
    assert_usage_error(
        &["--trust-step-package", "bad/id"],
        "invalid value \"bad/id\" for --trust-step-package",
    );
    assert_usage_error(
        &["--trust-step-package", "acme@[1.0"],
        "invalid value \"acme@[1.0\" for --trust-step-package",
    );
    assert_usage_error(&["--api-key", "hunter2"], "invalid value for --api-key");
}
