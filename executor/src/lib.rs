//! Runs one deployment action on this machine, as Octopus's built-in worker would:
//! in its own working directory, with a clean environment, a time limit, `#{...}`
//! substitution, service messages (output variables, artifacts, log categories) and
//! every sensitive value masked in the log.
//!
//! The server decides *what* runs (release snapshot, variable scoping, step flow);
//! this crate decides *how* one action runs.
//!
//! | Module | Job |
//! |---|---|
//! | `process` | child processes: clean environment, process group, streaming, kill on cancel/timeout |
//! | [`service_messages`] | `##octopus[...]` parsing |
//! | [`mask`] | `********` for sensitive values |
//! | `bootstrap` | Bash/Python helper functions and the private variables file |
//! | `script` | `Octopus.Script` |
//! | `package` | extraction, referenced packages, `Octopus.TentaclePackage` |
//! | `step_package` | step-package steps (invocation file, launchers, the node bootstrapper for Octopus-format steps) |
//! | [`migrate`] | an Octopus step package's `migration.js`, sandboxed in node |
//!
//! Behaviour worth knowing (and what is left out):
//!
//! * Bash scripts run with `bash` when it is on `PATH`, else `sh`; the helpers are POSIX sh
//!   and need coreutils `base64` and `awk`. Under `sh` only POSIX features work in the user's
//!   script. `ScriptParameters` are pasted into `set -- …` as written (the shell parses them,
//!   as in Calamari); for Python they are split like a shell would, without expansions.
//! * Output variables are returned under the names the script gave; the server scopes them
//!   as `Octopus.Action[<name>].Output.<var>`. Inside one package step later scripts see the
//!   earlier ones' outputs under that name too. `Octopus.Action.Script.ExitCode` is returned
//!   in [`ActionResult::exit_code`], not as an output variable.
//! * After the main process exits, output is read for up to 3 s more while background
//!   processes keep the pipes open; then the process group is killed. Background processes
//!   that closed their output are left running.
//! * Package steps: no custom installation directory, no journal (`SkipIfAlreadyInstalled`),
//!   no config transforms or structured variables; configured scripts
//!   (`Octopus.Features.CustomScripts`) and `SubstituteInFiles` (`*`, `**`, `?` globs) are done.
//! * Only Bash and Python scripts; PowerShell and C# fail with a clear message.

use std::path::PathBuf;
use std::time::Duration;

pub use octopus_packaging::archive::ArchiveLimits;
pub use octostache::Variables;

mod bootstrap;
pub mod mask;
pub mod migrate;
mod package;
mod process;
mod script;
pub mod service_messages;
mod step_package;

pub use step_package::INVOCATION_FORMAT_VERSION;

/// One action to run. Build it with `..Default::default()` for the settings you leave out.
#[derive(Debug, Clone, Default)]
pub struct ActionRun {
    /// The action's `ActionType`: `Octopus.Script`, `Octopus.TentaclePackage`, or a
    /// step-package step (`kind` says which).
    pub action_type: String,
    /// What kind of runner the action needs.
    pub kind: ActionKind,
    /// The action's properties as stored (not yet evaluated; sensitive ones resolved).
    pub properties: std::collections::BTreeMap<String, String>,
    /// Every variable the action sees: project variables scoped for this action,
    /// system variables and earlier actions' output variables. Values are raw.
    pub variables: Variables,
    /// Values to mask as `********` in the log (sensitive variables and properties).
    pub sensitive_values: Vec<String>,
    /// Packages the server acquired for the action (primary and referenced).
    pub packages: Vec<StagedPackage>,
    /// Empty directory owned by this action (created by the caller).
    pub work_dir: PathBuf,
    /// Root of `Applications/<Environment>/<PackageId>/<Version>` for package steps.
    pub applications_dir: PathBuf,
    /// Name of the environment (for the applications path).
    pub environment_name: String,
    /// Longest run time; the whole process group is killed after it. Zero (the
    /// `Default`) means no limit.
    pub timeout: Duration,
    /// Extra environment variables for the child (besides the clean base set); they are
    /// added last, so they may override `PATH`, `HOME`, `TMPDIR` and `LANG`.
    pub env: Vec<(String, String)>,
    /// Run the step's processes as this `(uid, gid)` (least privilege; the server must run
    /// as root to use it). The work dir (and a package step's extraction directory) is
    /// given to that user; the work dir's ancestors must be traversable by it.
    pub run_as: Option<(u32, u32)>,
    /// Limits for extracting packages; `None` = [`ArchiveLimits::default`].
    pub extract_limits: Option<ArchiveLimits>,
    /// Called with the process ID of every process the action starts, right after
    /// it started; each is the leader of its own process group (pgid = pid). The
    /// server records them so that it can kill what a crash left running.
    pub on_spawn: Option<SpawnHook>,
}

/// A callback receiving the process (group) ID of each started process.
#[derive(Clone)]
pub struct SpawnHook(pub std::sync::Arc<dyn Fn(u32) + Send + Sync>);

impl SpawnHook {
    /// Wraps a callback.
    pub fn new(f: impl Fn(u32) + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for SpawnHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpawnHook")
    }
}

/// Which runner an action needs.
#[derive(Debug, Clone, Default)]
pub enum ActionKind {
    /// `Octopus.Script`: inline (`Bash`, `Python`) or a script file from a package.
    #[default]
    Script,
    /// `Octopus.TentaclePackage`: extract, then PreDeploy/Deploy/PostDeploy scripts.
    Package,
    /// A step-package step (our format or Octopus's; [`StepPackageLaunch::contract`] says which).
    StepPackage(StepPackageLaunch),
}

/// Which executor contract a step package follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StepContract {
    /// Our format (docs/step-packages.md §5.5): the entrypoint gets the invocation file.
    #[default]
    Ours,
    /// Octopus's format: a node CommonJS `executor.js` whose default export is called with
    /// `{inputs, context}` by our bootstrapper.
    Octopus,
}

/// How to launch a step-package step.
#[derive(Debug, Clone)]
pub struct StepPackageLaunch {
    /// Which contract the step follows.
    pub contract: StepContract,
    /// Directory of the step inside the extracted step package.
    pub step_dir: PathBuf,
    /// Launcher kind: `node`, `python`, `shell` or `executable`.
    pub launcher: String,
    /// Entrypoint, relative to `step_dir`.
    pub entrypoint: String,
    /// The step's inputs as stored (sensitive values resolved to plain strings,
    /// package references as stored); `#{...}` is evaluated by the runner.
    pub inputs: serde_json::Value,
}

/// A package file the server acquired for an action.
#[derive(Debug, Clone)]
pub struct StagedPackage {
    /// The package reference name; `""` for the primary package.
    pub reference_name: String,
    /// Package ID.
    pub package_id: String,
    /// Version.
    pub version: String,
    /// Feed ID.
    pub feed_id: String,
    /// The package file (read only; the runner copies or extracts it).
    pub file: PathBuf,
    /// Whether to extract it (referenced packages: the `Extract` property).
    pub extract: bool,
    /// For step-package inputs: the `referenceId` the inputs use for this package.
    pub step_package_reference_id: Option<String>,
}

/// Categories of task log lines (Octopus's `ActivityLogElement.Category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Verbose detail.
    Verbose,
    /// Normal output.
    Info,
    /// Emphasised output.
    Highlight,
    /// Waiting.
    Wait,
    /// A warning.
    Warning,
    /// An error.
    Error,
}

impl Category {
    /// Octopus's name of the category.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Verbose => "Verbose",
            Category::Info => "Info",
            Category::Highlight => "Highlight",
            Category::Wait => "Wait",
            Category::Warning => "Warning",
            Category::Error => "Error",
        }
    }
}

/// Receives the action's log, already masked, line by line.
pub trait LogSink: Send {
    /// One log line.
    fn line(&mut self, category: Category, text: &str);
}

/// An output variable set by the action (`setVariable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputVariable {
    /// Name as the script gave it.
    pub name: String,
    /// Value.
    pub value: String,
    /// Whether it is sensitive (masked in later logs too).
    pub sensitive: bool,
}

/// A file the action published (`createArtifact`), copied out of the work dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Display name.
    pub name: String,
    /// The file, under the work dir.
    pub path: PathBuf,
    /// Size in bytes.
    pub length: u64,
}

/// How the action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code 0.
    Success,
    /// The action failed; the message is what the task shows (already masked).
    Failed(String),
    /// Cancelled by the caller.
    Canceled,
    /// Ran longer than [`ActionRun::timeout`].
    TimedOut,
}

/// What running an action produced.
#[derive(Debug, Clone)]
pub struct ActionResult {
    /// How it ended.
    pub outcome: Outcome,
    /// Output variables, in the order they were set.
    pub output_variables: Vec<OutputVariable>,
    /// Published artifacts.
    pub artifacts: Vec<Artifact>,
    /// The exit code of the process, when one ran to completion.
    pub exit_code: Option<i32>,
}

/// Runs an action to its end. `cancel` turning `true` kills the whole process group
/// and the result is [`Outcome::Canceled`]. Every log line and the failure message are
/// masked.
pub async fn run_action(
    run: ActionRun,
    sink: &mut dyn LogSink,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> ActionResult {
    let env = child_env(&run);
    let mut session = process::Session::new(
        sink,
        cancel,
        run.timeout,
        env,
        run.work_dir.clone(),
        run.run_as,
    );
    for v in &run.sensitive_values {
        session.masker.add(v);
    }
    session.on_spawn = run.on_spawn.clone();
    let end = match prepare_work_dir(&run) {
        Err(e) => script::End::failed(e),
        Ok(()) => match &run.kind {
            ActionKind::Script => script::run(&run, &mut session).await,
            ActionKind::Package => package::run(&run, &mut session).await,
            ActionKind::StepPackage(launch) => step_package::run(&run, launch, &mut session).await,
        },
    };
    let outcome = match end.outcome {
        Outcome::Failed(msg) => {
            let masked = session.masker.mask(&msg).into_owned();
            session.log(Category::Error, &masked);
            Outcome::Failed(masked)
        }
        other => other,
    };
    ActionResult {
        outcome,
        output_variables: std::mem::take(&mut session.outputs),
        artifacts: std::mem::take(&mut session.artifacts),
        exit_code: end.exit_code,
    }
}

/// The child's whole environment: PATH (the server's), HOME, TMPDIR, LANG, then `run.env`.
fn child_env(run: &ActionRun) -> Vec<(String, String)> {
    let path = std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let home = run.work_dir.to_string_lossy().into_owned();
    let tmp = run.work_dir.join("tmp").to_string_lossy().into_owned();
    let mut env = vec![
        ("PATH".to_owned(), path),
        ("HOME".to_owned(), home),
        ("TMPDIR".to_owned(), tmp),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ];
    env.extend(run.env.iter().cloned());
    env
}

/// Checks the work dir and creates its `tmp`.
fn prepare_work_dir(run: &ActionRun) -> Result<(), String> {
    if !run.work_dir.is_dir() {
        return Err(format!(
            "The action's working directory `{}` does not exist",
            run.work_dir.display()
        ));
    }
    let tmp = run.work_dir.join("tmp");
    match std::fs::create_dir(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("Could not create `{}`: {e}", tmp.display())),
    }
    bootstrap::chown(&run.work_dir, run.run_as)
        .and_then(|()| bootstrap::chown(&tmp, run.run_as))
        .map_err(|e| format!("Could not give the work dir to the step's user: {e}"))
}
