//! Packages: extraction (through `octopus_packaging::archive::extract`), referenced
//! packages of script steps, and the `Octopus.TentaclePackage` step (extract to the
//! applications directory, then PreDeploy / Deploy / PostDeploy scripts).

use std::path::{Path, PathBuf};

use octopus_packaging::archive::{self, ExtractSummary};
use octopus_packaging::filename::PackageFormat;
use octostache::Variables;

use crate::bootstrap::{self, Bootstrap};
use crate::process::{ProcessEnd, Session};
use crate::script::{self, End, Syntax, setting};
use crate::{ActionRun, Category, Outcome, StagedPackage};

/// The archive format of a staged package: from its file name, else from its first bytes.
pub(crate) fn format_of(file: &Path) -> PackageFormat {
    if let Some(f) = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(PackageFormat::from_file_name)
    {
        return f;
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    if head[..n].starts_with(b"PK") {
        PackageFormat::Zip
    } else if head[..n].starts_with(&[0x1f, 0x8b]) {
        PackageFormat::TarGz
    } else {
        PackageFormat::Tar
    }
}

/// Extracts `pkg` under the existing directory `dest` (off the async threads).
pub(crate) async fn extract_package(
    run: &ActionRun,
    pkg: &StagedPackage,
    dest: &Path,
) -> Result<ExtractSummary, String> {
    let file = pkg.file.clone();
    let dest = dest.to_path_buf();
    let limits = run.extract_limits.clone().unwrap_or_default();
    let format = format_of(&file);
    let what = format!("{} {}", pkg.package_id, pkg.version);
    tokio::task::spawn_blocking(move || archive::extract(&file, format, &dest, &limits))
        .await
        .map_err(|e| format!("Extracting package {what} failed: {e}"))?
        .map_err(|e| format!("Could not extract package {what}: {e}"))
}

/// A name usable as one path component: path-unsafe characters become `_`.
pub(crate) fn safe_component(name: &str) -> String {
    let cleaned: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.' || c == ' ') {
        "_".into()
    } else {
        cleaned
    }
}

/// Stages the referenced packages (non-empty reference name) of a script step: extracted to
/// `<work_dir>/<ref>` or copied to `<work_dir>/<ref><ext>`, with their
/// `Octopus.Action.Package[<ref>].*` variables set in `vars` and as output variables.
pub(crate) async fn stage_references(
    run: &ActionRun,
    session: &mut Session<'_>,
    vars: &mut Variables,
) -> Result<(), String> {
    for pkg in run.packages.iter().filter(|p| !p.reference_name.is_empty()) {
        let name = safe_component(&pkg.reference_name);
        let prefix = format!("Octopus.Action.Package[{}]", pkg.reference_name);
        let mut set = |session: &mut Session<'_>, key: &str, value: &str| {
            let full = format!("{prefix}.{key}");
            vars.set(full.clone(), value);
            session.set_output(&full, value, false);
        };
        set(session, "PackageId", &pkg.package_id);
        set(session, "PackageVersion", &pkg.version);
        set(session, "FeedId", &pkg.feed_id);
        set(session, "OriginalPath", &pkg.file.to_string_lossy());
        match stage(run, session, pkg, &name).await? {
            Placed::Extracted(dir) => set(session, "ExtractedPath", &dir.to_string_lossy()),
            Placed::Copied { path, file_name } => {
                set(session, "PackageFilePath", &path.to_string_lossy());
                set(session, "PackageFileName", &file_name);
            }
        }
    }
    Ok(())
}

/// Where [`stage`] put a referenced package in the work directory.
pub(crate) enum Placed {
    /// Extracted into this directory.
    Extracted(PathBuf),
    /// Copied to `path`, named `file_name`.
    Copied { path: PathBuf, file_name: String },
}

/// Puts one referenced package in the work directory under `name`: extracted into
/// `<work_dir>/<name>` when the package asks for it, else copied to
/// `<work_dir>/<name>.<ext>` (never over an existing file).
pub(crate) async fn stage(
    run: &ActionRun,
    session: &mut Session<'_>,
    pkg: &StagedPackage,
    name: &str,
) -> Result<Placed, String> {
    if pkg.extract {
        let dest = run.work_dir.join(name);
        std::fs::create_dir(&dest)
            .map_err(|e| format!("Could not create `{}`: {e}", dest.display()))?;
        let text = format!(
            "Extracting referenced package {} {} to {}",
            pkg.package_id,
            pkg.version,
            dest.display()
        );
        session.log(Category::Verbose, &text);
        extract_package(run, pkg, &dest).await?;
        Ok(Placed::Extracted(dest))
    } else {
        let file_name = format!("{name}.{}", format_of(&pkg.file).extension());
        let dest = run.work_dir.join(&file_name);
        copy_new(&pkg.file, &dest)?;
        Ok(Placed::Copied {
            path: dest,
            file_name,
        })
    }
}

fn copy_new(from: &Path, to: &Path) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("Could not copy `{}`: {e}", from.display());
    let mut src = std::fs::File::open(from).map_err(fail)?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(fail)?;
    std::io::copy(&mut src, &mut dst).map_err(fail)?;
    Ok(())
}

/// Creates a fresh `base` or `base_1`, `base_2`, ... (never an existing directory).
fn fresh_dir(base: &Path) -> std::io::Result<PathBuf> {
    if let Some(parent) = base.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut candidate = base.to_path_buf();
    for n in 1u32.. {
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mut name = base.file_name().unwrap_or_default().to_os_string();
                name.push(format!("_{n}"));
                candidate = base.with_file_name(name);
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("u32 ran out of suffixes")
}

/// The deployment stages whose package scripts run, in order.
const STAGES: [&str; 3] = ["PreDeploy", "Deploy", "PostDeploy"];

/// Runs the `Octopus.TentaclePackage` action.
pub(crate) async fn run(run: &ActionRun, session: &mut Session<'_>) -> End {
    let Some(pkg) = run.packages.iter().find(|p| p.reference_name.is_empty()) else {
        return End::failed("The package step has no package staged.");
    };
    if run.applications_dir.as_os_str().is_empty() {
        return End::failed("No applications directory is configured for package steps.");
    }
    let mut base = run.applications_dir.clone();
    if let Some(tenant) = run
        .variables
        .get("Octopus.Deployment.Tenant.Name")
        .filter(|t| !t.is_empty())
    {
        base.push(safe_component(tenant));
    }
    let env = if run.environment_name.is_empty() {
        run.variables
            .get("Octopus.Environment.Name")
            .unwrap_or("")
            .to_owned()
    } else {
        run.environment_name.clone()
    };
    if !env.is_empty() {
        base.push(safe_component(&env));
    }
    base.push(safe_component(&pkg.package_id));
    base.push(safe_component(&pkg.version));
    let dir = match fresh_dir(&base) {
        Ok(d) => d,
        Err(e) => {
            return End::failed(format!(
                "Could not create the extraction directory `{}`: {e}",
                base.display()
            ));
        }
    };
    let text = format!(
        "Extracting package {} {} to {}",
        pkg.package_id,
        pkg.version,
        dir.display()
    );
    session.log(Category::Info, &text);
    let summary = match extract_package(run, pkg, &dir).await {
        Ok(s) => s,
        Err(e) => return End::failed(e),
    };
    if let Err(e) = bootstrap::chown_tree(&dir, run.run_as) {
        return End::failed(format!(
            "Could not give `{}` to the step's user: {e}",
            dir.display()
        ));
    }
    let text = format!("Extracted {} files", summary.files);
    session.log(Category::Verbose, &text);
    session.artifact_roots.push(dir.clone());
    let dir_text = dir.to_string_lossy().into_owned();
    session.set_output(
        "Octopus.Action.Package.InstallationDirectoryPath",
        &dir_text,
        false,
    );
    session.set_output("Package.InstallationDirectoryPath", &dir_text, false);
    session.set_output(
        "Package.ExtractedFileCount",
        &summary.files.to_string(),
        false,
    );

    let mut vars = run.variables.clone();
    vars.set(
        "Octopus.Action.Package.InstallationDirectoryPath",
        dir_text.as_str(),
    );
    vars.set("OctopusOriginalPackageDirectoryPath", dir_text.as_str());
    vars.set(
        "Octopus.Tentacle.CurrentDeployment.PackageFilePath",
        pkg.file.to_string_lossy().as_ref(),
    );
    if vars.get("Octopus.Action.Package.PackageId").is_none() {
        vars.set("Octopus.Action.Package.PackageId", pkg.package_id.as_str());
    }
    if vars.get("Octopus.Action.Package.PackageVersion").is_none() {
        vars.set(
            "Octopus.Action.Package.PackageVersion",
            pkg.version.as_str(),
        );
    }
    let mut boot = match Bootstrap::create(&run.work_dir, &vars, run.run_as) {
        Ok(b) => b,
        Err(e) => return End::failed(format!("Could not prepare the scripts: {e}")),
    };
    if let Err(e) = bootstrap::chown_tree(&run.work_dir, run.run_as) {
        boot.remove();
        return End::failed(format!(
            "Could not give the work dir to the step's user: {e}"
        ));
    }
    let end = stages(run, session, &mut boot, &mut vars, &dir).await;
    boot.remove();
    end
}

fn features(run: &ActionRun) -> Vec<String> {
    setting(run, "Octopus.Action.EnabledFeatures")
        .unwrap_or("")
        .split(',')
        .map(|f| f.trim().to_ascii_lowercase())
        .filter(|f| !f.is_empty())
        .collect()
}

/// A script to run at a stage: from the package or configured on the step.
struct StageScript {
    label: String,
    path: PathBuf,
    syntax: Syntax,
}

async fn stages(
    run: &ActionRun,
    session: &mut Session<'_>,
    boot: &mut Bootstrap,
    vars: &mut Variables,
    dir: &Path,
) -> End {
    let features = features(run);
    let run_scripts = !setting(run, "Octopus.Action.Package.RunScripts")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
    let custom = features
        .iter()
        .any(|f| f == "octopus.features.customscripts");
    let substitute = features
        .iter()
        .any(|f| f == "octopus.features.substituteinfiles");
    let mut last_code = None;
    for stage in STAGES {
        if stage == "Deploy" && substitute {
            substitute_in_files(run, session, vars, dir);
        }
        let mut scripts = Vec::new();
        let packaged = if run_scripts {
            find_package_script(dir, stage)
        } else {
            None
        };
        let configured = if custom {
            match configured_script(run, boot, vars, stage) {
                Ok(s) => s,
                Err(e) => return End::failed(e),
            }
        } else {
            None
        };
        // Calamari: configured before packaged for PreDeploy, after it for the others.
        if stage == "PreDeploy" {
            scripts.extend(configured);
            scripts.extend(packaged);
        } else {
            scripts.extend(packaged);
            scripts.extend(configured);
        }
        for s in scripts {
            let text = format!("Running {}", s.label);
            session.log(Category::Info, &text);
            let end = script::run_script(session, boot, s.syntax, &s.path, "", dir).await;
            match end {
                ProcessEnd::Exited { code: 0, .. } => {
                    last_code = Some(0);
                    refresh_outputs(run, session, boot, vars);
                }
                ProcessEnd::Exited { code, .. } => {
                    if let Some(msg) = session.result_message.take() {
                        session.log(Category::Error, &msg);
                    }
                    deploy_failed(run, session, boot, vars, dir, custom, run_scripts).await;
                    return End {
                        outcome: Outcome::Failed(format!(
                            "Script '{}' returned non-zero exit code: {code}. Deployment terminated.",
                            s.label
                        )),
                        exit_code: Some(code),
                    };
                }
                other => {
                    let end = script::script_end(run, session, other);
                    if matches!(end.outcome, Outcome::Failed(_)) {
                        deploy_failed(run, session, boot, vars, dir, custom, run_scripts).await;
                    }
                    return end;
                }
            }
        }
    }
    End {
        outcome: Outcome::Success,
        exit_code: last_code,
    }
}

/// Runs `DeployFailed.*` (packaged, then configured), ignoring its result.
async fn deploy_failed(
    run: &ActionRun,
    session: &mut Session<'_>,
    boot: &mut Bootstrap,
    vars: &Variables,
    dir: &Path,
    custom: bool,
    run_scripts: bool,
) {
    if session.is_cancelled() || session.is_timed_out() {
        return;
    }
    let mut scripts: Vec<StageScript> = Vec::new();
    if run_scripts {
        scripts.extend(find_package_script(dir, "DeployFailed"));
    }
    if custom && let Ok(Some(s)) = configured_script(run, boot, vars, "DeployFailed") {
        scripts.push(s);
    }
    for s in scripts {
        let text = format!("Running {}", s.label);
        session.log(Category::Info, &text);
        let end = script::run_script(session, boot, s.syntax, &s.path, "", dir).await;
        if let ProcessEnd::Exited { code, .. } = end
            && code != 0
        {
            let text = format!("Script '{}' returned non-zero exit code: {code}", s.label);
            session.log(Category::Warning, &text);
        }
    }
}

/// Output variables set so far, visible to the later scripts of the action as
/// `Octopus.Action[<name>].Output.<var>`.
fn refresh_outputs(run: &ActionRun, session: &Session<'_>, boot: &Bootstrap, vars: &mut Variables) {
    let Some(action) = run.variables.get("Octopus.Action.Name") else {
        return;
    };
    for o in &session.outputs {
        vars.set(
            format!("Octopus.Action[{action}].Output.{}", o.name),
            o.value.as_str(),
        );
    }
    let _ = boot.write_variables(vars);
}

/// `<Stage>.sh` or `<Stage>.py` at the top of `dir` (case-insensitive; `.sh` preferred).
fn find_package_script(dir: &Path, stage: &str) -> Option<StageScript> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    for (ext, syntax) in [("sh", Syntax::Bash), ("py", Syntax::Python)] {
        let wanted = format!("{stage}.{ext}").to_ascii_lowercase();
        if let Some(p) = entries.iter().find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.to_ascii_lowercase() == wanted)
        }) {
            let label = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            return Some(StageScript {
                label,
                path: p.clone(),
                syntax,
            });
        }
    }
    None
}

/// `Octopus.Action.CustomScripts.<Stage>.sh|py`, evaluated and written to a private file.
fn configured_script(
    run: &ActionRun,
    boot: &mut Bootstrap,
    vars: &Variables,
    stage: &str,
) -> Result<Option<StageScript>, String> {
    for (ext, syntax) in [("sh", Syntax::Bash), ("py", Syntax::Python)] {
        let key = format!("Octopus.Action.CustomScripts.{stage}.{ext}");
        if let Some(body) = setting(run, &key).filter(|b| !b.trim().is_empty()) {
            let path = boot.private_path(stage, ext);
            boot.write_private(&path, octostache::evaluate(body, vars).as_bytes())
                .map_err(|e| format!("Could not write the {stage} script: {e}"))?;
            return Ok(Some(StageScript {
                label: format!("{stage}.{ext} (configured on the step)"),
                path,
                syntax,
            }));
        }
    }
    Ok(None)
}

/// Substitutes `#{...}` in the files matching `Octopus.Action.SubstituteInFiles.TargetFiles`.
fn substitute_in_files(run: &ActionRun, session: &mut Session<'_>, vars: &Variables, dir: &Path) {
    let targets = octostache::evaluate(
        setting(run, "Octopus.Action.SubstituteInFiles.TargetFiles").unwrap_or(""),
        vars,
    );
    let patterns: Vec<&str> = targets
        .split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if patterns.is_empty() {
        return;
    }
    let mut files = Vec::new();
    list_files(dir, dir, &mut files);
    files.sort();
    for pattern in patterns {
        let pattern_norm = pattern.trim_start_matches("./").replace('\\', "/");
        let matched: Vec<&String> = files
            .iter()
            .filter(|f| glob_match(&pattern_norm, f))
            .collect();
        if matched.is_empty() {
            let text = format!(
                "No files were found that match the substitution target pattern '{pattern}'"
            );
            session.log(Category::Warning, &text);
            continue;
        }
        for rel in matched {
            let path = dir.join(rel);
            match std::fs::read(&path).map(String::from_utf8) {
                Ok(Ok(text)) => {
                    let out = octostache::evaluate(&text, vars);
                    let msg = format!("Performing variable substitution on '{rel}'");
                    session.log(Category::Info, &msg);
                    if out != text
                        && let Err(e) = std::fs::write(&path, out)
                    {
                        let text = format!("Could not write '{rel}': {e}");
                        session.log(Category::Warning, &text);
                    }
                }
                Ok(Err(_)) => {
                    let text = format!("'{rel}' is not UTF-8 text; no variables substituted in it");
                    session.log(Category::Warning, &text);
                }
                Err(e) => {
                    let text = format!("Could not read '{rel}': {e}");
                    session.log(Category::Warning, &text);
                }
            }
        }
    }
}

/// Regular files under `dir` (links not followed), as `/`-separated paths relative to `root`.
fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        let p = e.path();
        if t.is_dir() {
            list_files(root, &p, out);
        } else if t.is_file()
            && let Ok(rel) = p.strip_prefix(root)
        {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Glob match on `/`-separated paths: `*` within one component, `**` across components,
/// `?` one character; case-sensitive.
pub(crate) fn glob_match(pattern: &str, path: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') if p.get(1) == Some(&'*') => {
                // `**/` also matches no directory at all.
                let rest = if p.get(2) == Some(&'/') {
                    &p[3..]
                } else {
                    &p[2..]
                };
                (0..=s.len()).any(|i| go(rest, &s[i..]))
                    || (p.get(2) == Some(&'/') && go(&p[2..], s))
            }
            Some('*') => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != '/')
                .any(|i| go(&p[1..], &s[i..])),
            Some('?') => s.first().is_some_and(|c| *c != '/') && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    go(&p, &s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.config", "app.config"));
        assert!(!glob_match("*.config", "sub/app.config"));
        assert!(glob_match("**/*.config", "sub/app.config"));
        assert!(glob_match("**/*.config", "app.config"));
        assert!(glob_match("conf/*.json", "conf/a.json"));
        assert!(glob_match("a?c.txt", "abc.txt"));
        assert!(!glob_match("a?c.txt", "a/c.txt"));
        assert!(glob_match("exact.txt", "exact.txt"));
        assert!(!glob_match("exact.txt", "other.txt"));
    }

    #[test]
    fn components() {
        assert_eq!(safe_component("Production"), "Production");
        assert_eq!(safe_component("a/b\\c:d"), "a_b_c_d");
        assert_eq!(safe_component(".."), "_");
        assert_eq!(safe_component(""), "_");
    }
}
