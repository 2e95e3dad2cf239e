//! `Octopus.Script`: an inline Bash or Python script, or a script file from a package.

use std::path::{Component, Path, PathBuf};

use octostache::Variables;

use crate::bootstrap::{self, Bootstrap};
use crate::package;
use crate::process::{ProcessEnd, Session};
use crate::{ActionRun, Category, Outcome};

/// Script languages this worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// Bash (or `sh` when bash is absent).
    Bash,
    /// Python 3.
    Python,
}

impl Syntax {
    /// Parses `Octopus.Action.Script.Syntax`; the error is the failure message.
    pub(crate) fn parse(text: &str) -> Result<Syntax, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "bash" | "" => Ok(Syntax::Bash),
            "python" => Ok(Syntax::Python),
            "powershell" => Err(
                "PowerShell scripts cannot run on this worker: it runs Bash and Python scripts only"
                    .into(),
            ),
            "csharp" | "fsharp" => Err(format!(
                "{} scripts cannot run on this worker: it runs Bash and Python scripts only",
                text.trim()
            )),
            other => Err(format!(
                "Unknown script syntax `{other}`: this worker runs Bash and Python scripts"
            )),
        }
    }

    /// From a script file's extension.
    pub(crate) fn of_file(path: &Path) -> Option<Syntax> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "sh" => Some(Syntax::Bash),
            "py" => Some(Syntax::Python),
            _ => None,
        }
    }
}

/// How one action ended, before it becomes an [`crate::ActionResult`].
pub(crate) struct End {
    pub(crate) outcome: Outcome,
    pub(crate) exit_code: Option<i32>,
}

impl End {
    pub(crate) fn failed(msg: impl Into<String>) -> End {
        End {
            outcome: Outcome::Failed(msg.into()),
            exit_code: None,
        }
    }
}

/// A property, else a variable of the same name.
pub(crate) fn setting<'a>(run: &'a ActionRun, name: &str) -> Option<&'a str> {
    run.properties
        .get(name)
        .map(String::as_str)
        .or_else(|| run.variables.get(name))
}

/// Whether a setting is `True` (case-insensitive).
pub(crate) fn is_true(run: &ActionRun, name: &str) -> bool {
    setting(run, name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Runs the `Octopus.Script` action.
pub(crate) async fn run(run: &ActionRun, session: &mut Session<'_>) -> End {
    let mut vars = run.variables.clone();
    if let Err(e) = package::stage_references(run, session, &mut vars).await {
        return End::failed(e);
    }
    let source = setting(run, "Octopus.Action.Script.ScriptSource").unwrap_or("Inline");
    let syntax_text = run
        .properties
        .get("Octopus.Action.Script.Syntax")
        .map(String::as_str);
    let parameters = octostache::evaluate(
        setting(run, "Octopus.Action.Script.ScriptParameters").unwrap_or(""),
        &vars,
    );
    let (script, syntax, inline_body) = if source.eq_ignore_ascii_case("package") {
        match script_from_package(run, session, &vars, syntax_text).await {
            Ok((path, syntax)) => (path, syntax, None),
            Err(e) => return End::failed(e),
        }
    } else if source.eq_ignore_ascii_case("inline") {
        let syntax = match Syntax::parse(syntax_text.unwrap_or("Bash")) {
            Ok(s) => s,
            Err(e) => return End::failed(e),
        };
        let Some(body) = setting(run, "Octopus.Action.Script.ScriptBody") else {
            return End::failed(
                "The script step has no script body (Octopus.Action.Script.ScriptBody).",
            );
        };
        // Calamari substitutes `#{...}` in the script itself before running it.
        (
            PathBuf::new(),
            syntax,
            Some(octostache::evaluate(body, &vars)),
        )
    } else {
        return End::failed(format!(
            "Script source `{source}` is not supported on this worker (Inline or Package)"
        ));
    };
    let mut boot = match Bootstrap::create(&run.work_dir, &vars, run.run_as) {
        Ok(b) => b,
        Err(e) => return End::failed(format!("Could not prepare the script: {e}")),
    };
    let script = match inline_body {
        Some(body) => {
            let ext = if syntax == Syntax::Python { "py" } else { "sh" };
            let path = boot.private_path("Script", ext);
            if let Err(e) = boot.write_private(&path, body.as_bytes()) {
                boot.remove();
                return End::failed(format!("Could not write the script: {e}"));
            }
            path
        }
        None => script,
    };
    if let Err(e) = bootstrap::chown_tree(&run.work_dir, run.run_as) {
        boot.remove();
        return End::failed(format!(
            "Could not give the work dir to the step's user: {e}"
        ));
    }
    let end = run_script(
        session,
        &mut boot,
        syntax,
        &script,
        &parameters,
        &run.work_dir,
    )
    .await;
    boot.remove();
    script_end(run, session, end)
}

/// Turns a finished script into the action's end (Calamari's rules).
pub(crate) fn script_end(run: &ActionRun, session: &mut Session<'_>, end: ProcessEnd) -> End {
    if let ProcessEnd::Exited {
        code: 0,
        wrote_errors: true,
    } = end
        && is_true(run, "Octopus.Action.FailScriptOnErrorOutput")
    {
        return End {
            outcome: Outcome::Failed(session.result_message.clone().unwrap_or_else(|| {
                "The script wrote to the error stream and Octopus.Action.FailScriptOnErrorOutput is True".into()
            })),
            exit_code: Some(-1),
        };
    }
    process_end(session, end, |code| {
        format!("The remote script failed with exit code {code}")
    })
}

/// The action's end for a finished process: success on exit code 0; otherwise the
/// failure the process reported (`Octopus.Action.ResultMessage`) or `failure(code)`.
pub(crate) fn process_end(
    session: &Session<'_>,
    end: ProcessEnd,
    failure: impl FnOnce(i32) -> String,
) -> End {
    match end {
        ProcessEnd::Exited { code: 0, .. } => End {
            outcome: Outcome::Success,
            exit_code: Some(0),
        },
        ProcessEnd::Exited { code, .. } => End {
            outcome: Outcome::Failed(
                session
                    .result_message
                    .clone()
                    .unwrap_or_else(|| failure(code)),
            ),
            exit_code: Some(code),
        },
        ProcessEnd::Canceled => End {
            outcome: Outcome::Canceled,
            exit_code: None,
        },
        ProcessEnd::TimedOut => End {
            outcome: Outcome::TimedOut,
            exit_code: None,
        },
        ProcessEnd::NotStarted(msg) => End::failed(msg),
    }
}

/// Runs one script file through its bootstrap.
pub(crate) async fn run_script(
    session: &mut Session<'_>,
    boot: &mut Bootstrap,
    syntax: Syntax,
    script: &Path,
    parameters: &str,
    cwd: &Path,
) -> ProcessEnd {
    match syntax {
        Syntax::Bash => {
            let shell = match session.find_program("bash") {
                Some(p) => p,
                None => match session.find_program("sh") {
                    Some(p) => {
                        session.log(
                            Category::Verbose,
                            "bash is not on the worker's PATH; the script runs with sh (POSIX shell features only).",
                        );
                        p
                    }
                    None => {
                        return ProcessEnd::NotStarted(
                            "Bash scripts need `bash` (or at least `sh`) on the worker's PATH: install bash".into(),
                        );
                    }
                },
            };
            let boot_file = match boot.bash(script, parameters) {
                Ok(p) => p,
                Err(e) => {
                    return ProcessEnd::NotStarted(format!("Could not write the bootstrap: {e}"));
                }
            };
            session
                .run(&shell, &[boot_file.into_os_string()], cwd)
                .await
        }
        Syntax::Python => {
            let Some(python) = session.find_program("python3") else {
                return ProcessEnd::NotStarted(
                    "Python scripts need `python3` on the worker's PATH: install Python 3".into(),
                );
            };
            let (boot_file, vars_file) = boot.python();
            let mut args = vec![
                "-u".into(),
                boot_file.into_os_string(),
                vars_file.into_os_string(),
                script.as_os_str().to_owned(),
            ];
            match split_words(parameters) {
                Ok(words) => args.extend(words.into_iter().map(Into::into)),
                Err(e) => return ProcessEnd::NotStarted(format!("Bad script parameters: {e}")),
            }
            session.run(&python, &args, cwd).await
        }
    }
}

/// Extracts the primary package into the work dir and substitutes the script file in it.
async fn script_from_package(
    run: &ActionRun,
    session: &mut Session<'_>,
    vars: &Variables,
    syntax_text: Option<&str>,
) -> Result<(PathBuf, Syntax), String> {
    let Some(primary) = run.packages.iter().find(|p| p.reference_name.is_empty()) else {
        return Err("The script is in a package, but no package was staged for the step.".into());
    };
    let file_name = octostache::evaluate(
        setting(run, "Octopus.Action.Script.ScriptFileName").unwrap_or(""),
        vars,
    );
    if file_name.trim().is_empty() {
        return Err("The script is in a package, but no script file name was given (Octopus.Action.Script.ScriptFileName).".into());
    }
    let rel = safe_relative(&file_name).ok_or_else(|| {
        format!("The script file name `{file_name}` must be a relative path inside the package")
    })?;
    session.log(
        Category::Verbose,
        &format!(
            "Extracting package {} {} into the working directory",
            primary.package_id, primary.version
        ),
    );
    package::extract_package(run, primary, &run.work_dir).await?;
    let path = run.work_dir.join(&rel);
    let body = std::fs::read(&path)
        .map_err(|e| format!("The script file `{file_name}` was not found in the package: {e}"))?;
    match String::from_utf8(body) {
        Ok(text) => {
            let substituted = octostache::evaluate(&text, vars);
            if substituted != text {
                std::fs::write(&path, substituted)
                    .map_err(|e| format!("Could not substitute variables in `{file_name}`: {e}"))?;
            }
        }
        Err(_) => session.log(
            Category::Warning,
            &format!("`{file_name}` is not UTF-8 text; variables were not substituted in it."),
        ),
    }
    let syntax = match Syntax::of_file(&path) {
        Some(s) => s,
        None => Syntax::parse(syntax_text.unwrap_or("Bash"))?,
    };
    Ok((path, syntax))
}

/// `path` as a relative path without `..`, absolute or prefix components.
pub(crate) fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path.trim());
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Splits a parameter string like a POSIX shell would (quotes and backslashes; no
/// expansions).
pub(crate) fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    cur.push(ch);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            split_words(r#"a "b c" 'd e' f\ g "h\"i" ''"#).unwrap(),
            ["a", "b c", "d e", "f g", "h\"i", ""]
        );
        assert!(split_words("'open").is_err());
        assert!(split_words("").unwrap().is_empty());
    }

    #[test]
    fn syntaxes() {
        assert_eq!(Syntax::parse("bash"), Ok(Syntax::Bash));
        assert_eq!(Syntax::parse("Python"), Ok(Syntax::Python));
        assert!(
            Syntax::parse("PowerShell")
                .unwrap_err()
                .starts_with("PowerShell scripts cannot run")
        );
        assert!(Syntax::parse("CSharp").is_err());
    }

    #[test]
    fn relative_paths() {
        assert_eq!(safe_relative("./a/b.sh"), Some(PathBuf::from("a/b.sh")));
        assert_eq!(safe_relative("../x"), None);
        assert_eq!(safe_relative("/etc/passwd"), None);
        assert_eq!(safe_relative(""), None);
    }
}
