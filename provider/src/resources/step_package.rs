//! `octopus_step_package`: a step-package archive installed from a local file through
//! the server's upload (`POST /api/steppackages`). Step packages are server-wide.
//!
//! Both formats install: ours and Octopus's (`<id>.<version>.zip` built by its CLI; a
//! deployment-target archive installs with no steps).
//!
//! The plan loads the archive with the server's own loader (octopus-packaging), so a
//! bad package, a file name that does not match its manifest, an untrusted package or
//! a version the server holds with other content fail before anything is applied. A
//! new version in `source` installs it in place of the old one, which is uninstalled
//! unless a process still uses it. Destroy uninstalls the version unless a process
//! (or a release's snapshot of one) still uses it after a few seconds (the projects of
//! the same destroy go meanwhile), and then says which.

use crate::Octopus;
use crate::errors::{api, not_found_as_none};
use octopus_client::model::step_package::{StepPackageFormat, StepPackageStep, StepPackageVersion};
use octopus_packaging::archive::ArchiveLimits;
use octopus_packaging::filename::{PackageFileName, PackageFormat};
use octopus_packaging::range::VersionRange;
use octopus_packaging::step_package::{
    Step, StepFormat, TrustedAllowList, TrustedPackage, load_named,
};
use sha2::Digest as _;
use tf_sdk::{AttributePath, Context, Diagnostic, Diagnostics, Model, PlanRequest, Resource, Val};

/// How often destroy asks to uninstall a version in use, and how long it waits between.
const UNINSTALL_ATTEMPTS: u32 = 8;
const UNINSTALL_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// Largest archive the server accepts (`MAX_ARCHIVE_BYTES`).
const MAX_ARCHIVE_BYTES: u64 = 256 << 20;

/// A step-package version installed on the server. A deployment process of the same
/// configuration that uses it must depend on it (`depends_on`), so it is installed
/// first; the process's usages are then checked at plan against this archive.
#[derive(Model, Clone, Debug)]
pub struct StepPackageModel {
    /// `<package-id>/<version>`, e.g. `acme-steps/1.2.0`.
    #[tf(computed, use_state_for_unknown)]
    pub id: Val<String>,
    /// The archive to install, named `<package-id>.<version>.zip` (or `.tar.gz`,
    /// `.tgz`). A new version in it installs that version and uninstalls the old one,
    /// unless a process still uses it: then it stays installed (with a warning) and is
    /// no longer managed here.
    #[tf(required)]
    pub source: Val<String>,
    /// The package ID, from the archive's manifest. Another package replaces this one.
    #[tf(computed, use_state_for_unknown)]
    pub package_id: Val<String>,
    /// The installed version, normalised (`1.2` is `1.2.0`).
    #[tf(computed, use_state_for_unknown)]
    pub version: Val<String>,
    /// The archive's SHA-256, lower-case hex.
    #[tf(computed, use_state_for_unknown)]
    pub sha256: Val<String>,
    /// The package's steps: their IDs (the `ActionType` of actions using them) and names.
    #[tf(computed, use_state_for_unknown, nested)]
    pub steps: Val<Vec<StepEntry>>,
}

/// One step of a step package.
#[derive(Model, Clone, Debug, PartialEq)]
pub struct StepEntry {
    /// The step ID.
    #[tf(computed)]
    pub id: Val<String>,
    /// Its display name.
    #[tf(computed)]
    pub name: Val<String>,
}

/// The resource.
pub struct StepPackageResource;

fn entry(id: &str, name: &str) -> StepEntry {
    StepEntry {
        id: Val::Known(id.to_string()),
        name: Val::Known(name.to_string()),
    }
}

/// The model of an installed version; `source` comes from `known`.
fn from_version(v: StepPackageVersion, known: Option<&StepPackageModel>) -> StepPackageModel {
    StepPackageModel {
        id: Val::Known(format!("{}/{}", v.package_id, v.version)),
        source: known.map_or(Val::Null, |k| k.source.clone()),
        package_id: Val::Known(v.package_id),
        version: Val::Known(v.version),
        sha256: Val::Known(v.sha256),
        steps: Val::Known(v.steps.iter().map(|s| entry(&s.id, &s.name)).collect()),
    }
}

fn at_source(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
    Diagnostic::error(summary, detail).at(AttributePath::root("source"))
}

/// What the plan learns from the archive itself.
struct Archive {
    file_name: String,
    package_id: String,
    version: octopus_packaging::version::Version,
    sha256: String,
    steps: Vec<StepEntry>,
    /// What the server will hold once it is installed: the steps' schemas and
    /// migrations, for checking usages planned after this resource.
    document: StepPackageVersion,
}

/// Reads and validates the archive at `source` as the server would (blocking).
fn inspect(source: &str) -> Result<Archive, Diagnostic> {
    let unreadable = |why: String| {
        at_source(
            format!("Cannot read the step package {source}"),
            format!("{why}. `source` must name a readable archive."),
        )
    };
    let meta = std::fs::metadata(source).map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("it is not a regular file".into()));
    }
    if meta.len() > MAX_ARCHIVE_BYTES {
        return Err(at_source(
            "The step package is too large",
            format!(
                "{source} has {} bytes; the server accepts at most {MAX_ARCHIVE_BYTES}.",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(source).map_err(|e| unreadable(e.to_string()))?;
    let file_name = std::path::Path::new(source)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let invalid = |why: String| at_source("Invalid step package", why);
    let name = PackageFileName::parse(&file_name).map_err(|e| invalid(e.to_string()))?;
    if !matches!(
        name.format,
        PackageFormat::Zip | PackageFormat::TarGz | PackageFormat::Tgz
    ) {
        return Err(invalid(format!(
            "{file_name}: step packages are .zip, .tar.gz or .tgz archives, not .{}",
            name.format
        )));
    }
    let limits = ArchiveLimits {
        max_total_size: 1 << 30,
        max_entry_size: MAX_ARCHIVE_BYTES,
        ..ArchiveLimits::default()
    };
    // Either format (ours or Octopus's flat one, whose version may come from the file
    // name), checked against the file name as the server does.
    let package = load_named(std::path::Path::new(source), &name, &limits)
        .map_err(|e| invalid(format!("{file_name}: {e}")))?;
    let sha256 = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let document = StepPackageVersion {
        package_id: package.manifest.id.clone(),
        version: package.manifest.version.to_string(),
        format: api_format(package.steps.first().map(|s| s.format)),
        steps: package.steps.iter().map(checked_parts).collect(),
        ..StepPackageVersion::default()
    };
    Ok(Archive {
        document,
        file_name,
        package_id: package.manifest.id.clone(),
        version: package.manifest.version.clone(),
        sha256,
        steps: package
            .steps
            .iter()
            .map(|s| entry(&s.metadata.id, &s.metadata.name))
            .collect(),
    })
}

fn api_format(f: Option<StepFormat>) -> StepPackageFormat {
    match f {
        Some(StepFormat::Octopus) => StepPackageFormat::Octopus,
        _ => StepPackageFormat::Ours,
    }
}

/// The parts of a step that plan-time checks of its usages read: its schema and
/// migrations (the server's document also describes how to run it).
fn checked_parts(s: &Step) -> StepPackageStep {
    StepPackageStep {
        id: s.metadata.id.clone(),
        name: s.metadata.name.clone(),
        description: s.metadata.description.clone(),
        inputs_schema: s.inputs_schema.clone(),
        migrations: serde_json::to_value(&s.migrations).unwrap_or_default(),
        format: api_format(Some(s.format)),
        migration_script: s.migration_script.clone(),
        ..StepPackageStep::default()
    }
}

/// How the server's administrator trusts a package, for messages.
fn trust_hint(id: &str) -> String {
    format!(
        "octopus-lite installs only packages on its trusted allow-list. Its administrator \
         adds this one by starting the server with `--trust-step-package {id}` (or \
         `--trust-step-package {id}@<range>` to trust some versions only; in-process: \
         `ServerConfig::trusted_step_packages`)."
    )
}

impl StepPackageResource {
    /// Checks the archive against the server: on its trusted allow-list, and not a
    /// version it holds with other content.
    async fn check_server(o: &Octopus, a: &Archive) -> Result<(), Diagnostic> {
        let sp = o.client.step_packages();
        let version = a.version.to_string();
        // Servers without the allow-list route (Octopus itself) decide at upload.
        if let Some(list) = not_found_as_none(sp.trusted().await).map_err(|e| {
            at_source(
                "Cannot read the server's trusted step packages",
                e.to_string(),
            )
        })? {
            let entries = list
                .packages
                .iter()
                .map(|p| TrustedPackage {
                    id: p.id.clone(),
                    versions: p
                        .versions
                        .as_deref()
                        .and_then(|r| VersionRange::parse(r).ok()),
                })
                .collect();
            if !(TrustedAllowList { packages: entries }).is_trusted(&a.package_id, &a.version) {
                let trusted: Vec<String> = list
                    .packages
                    .iter()
                    .map(|p| match &p.versions {
                        Some(r) => format!("{}@{r}", p.id),
                        None => p.id.clone(),
                    })
                    .collect();
                let trusted = if trusted.is_empty() {
                    "nothing".to_string()
                } else {
                    trusted.join(", ")
                };
                return Err(at_source(
                    format!(
                        "The server does not trust step package {} {version}",
                        a.package_id
                    ),
                    format!("{} It trusts: {trusted}.", trust_hint(&a.package_id)),
                ));
            }
        }
        let installed = not_found_as_none(sp.version(&a.package_id, &version).await)
            .map_err(|e| at_source("Cannot read the installed step package", e.to_string()))?;
        if let Some(v) = installed
            && !v.sha256.eq_ignore_ascii_case(&a.sha256)
        {
            return Err(at_source(
                format!(
                    "Step package {} {version} is installed with other content",
                    a.package_id
                ),
                format!(
                    "The server has {} {version} with SHA-256 {}; {} has {}. A version's \
                     content never changes: publish a new version.",
                    a.package_id, v.sha256, a.file_name, a.sha256
                ),
            ));
        }
        Ok(())
    }

    /// Installs the archive at `source`.
    async fn install(o: &Octopus, source: &str) -> Result<StepPackageVersion, Diagnostics> {
        let bytes = tokio::fs::read(source).await.map_err(|e| {
            Diagnostics::from(at_source(
                format!("Cannot read the step package {source}"),
                e.to_string(),
            ))
        })?;
        let file_name = std::path::Path::new(source)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = PackageFileName::parse(&file_name)
            .map(|n| n.id)
            .unwrap_or_default();
        o.client
            .step_packages()
            .upload(&file_name, bytes)
            .await
            .map_err(|e| match e.status() {
                Some(403) => Diagnostics::from(at_source(
                    format!("The server does not trust step package {id}"),
                    trust_hint(&id),
                )),
                _ => api(&format!("install the step package {file_name}"), e, None),
            })
    }
}

/// `acme-steps/1.2.0` or `acme-steps.1.2.0` as package ID and version.
fn import_target(import_id: &str) -> Result<(String, String), Diagnostics> {
    if let Some((id, version)) = import_id.split_once('/') {
        return Ok((id.to_string(), version.to_string()));
    }
    PackageFileName::parse(&format!("{import_id}.zip"))
        .map(|n| (n.id, n.version.to_string()))
        .map_err(|e| {
            Diagnostic::error(
                format!("Invalid step package import ID {import_id:?}"),
                format!(
                    "Write <package-id>/<version> (acme-steps/1.2.0) or \
                     <package-id>.<version>: {}",
                    e.reason
                ),
            )
            .into()
        })
}

impl Resource<Octopus> for StepPackageResource {
    type Model = StepPackageModel;

    fn name(&self) -> &str {
        "step_package"
    }

    async fn modify_plan(
        &self,
        ctx: &Context<Octopus>,
        req: &mut PlanRequest<StepPackageModel>,
        diags: &mut Diagnostics,
    ) {
        let Some(source) = req.config.source.known().cloned() else {
            return;
        };
        let archive = match tokio::task::spawn_blocking(move || inspect(&source)).await {
            Ok(Ok(a)) => a,
            Ok(Err(d)) => return diags.push(d),
            Err(e) => return diags.error("Cannot inspect the step package", e.to_string()),
        };
        let Ok(o) = ctx.data() else { return };
        if let Err(d) = Self::check_server(o, &archive).await {
            return diags.push(d);
        }
        o.step_catalog.will_install(archive.document);
        let plan = &mut req.plan;
        let version = archive.version.to_string();
        plan.id = Val::Known(format!("{}/{version}", archive.package_id));
        plan.package_id = Val::Known(archive.package_id.clone());
        plan.version = Val::Known(version);
        plan.sha256 = Val::Known(archive.sha256);
        plan.steps = Val::Known(archive.steps);
        if let Some(prior) = &req.prior
            && !prior
                .package_id
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(&archive.package_id))
        {
            req.requires_replace.push(AttributePath::root("package_id"));
        }
    }

    async fn create(
        &self,
        ctx: &Context<Octopus>,
        plan: StepPackageModel,
    ) -> Result<StepPackageModel, Diagnostics> {
        let o = ctx.data()?;
        let source = plan.source.known().cloned().unwrap_or_default();
        let installed = Self::install(o, &source).await?;
        Ok(from_version(installed, Some(&plan)))
    }

    async fn read(
        &self,
        ctx: &Context<Octopus>,
        state: StepPackageModel,
    ) -> Result<Option<StepPackageModel>, Diagnostics> {
        let o = ctx.data()?;
        let (id, version) = (
            state.package_id.known().cloned().unwrap_or_default(),
            state.version.known().cloned().unwrap_or_default(),
        );
        let found = not_found_as_none(o.client.step_packages().version(&id, &version).await)
            .map_err(|e| api("read the step package", e, None))?;
        Ok(found.map(|v| from_version(v, Some(&state))))
    }

    /// A new version (or only another path to the same archive): installs the new
    /// version, then uninstalls the old one unless processes still use it.
    async fn update(
        &self,
        ctx: &Context<Octopus>,
        prior: StepPackageModel,
        plan: StepPackageModel,
    ) -> Result<StepPackageModel, Diagnostics> {
        let o = ctx.data()?;
        if plan.version == prior.version && plan.sha256 == prior.sha256 {
            return Ok(plan);
        }
        let source = plan.source.known().cloned().unwrap_or_default();
        let installed = Self::install(o, &source).await?;
        let (id, old) = (
            prior.package_id.known().cloned().unwrap_or_default(),
            prior.version.known().cloned().unwrap_or_default(),
        );
        match o.client.step_packages().uninstall(&id, &old).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(octopus_client::Error::Api {
                status: 409,
                message,
                errors,
            }) => ctx.warn(Diagnostic::warning(
                format!("Step package {id} {old} stays installed"),
                format!(
                    "{message}\n- {}\nIt is no longer managed by this resource; uninstall \
                     it once nothing uses it.",
                    errors.join("\n- ")
                ),
            )),
            Err(e) => return Err(api(&format!("uninstall {id} {old}"), e, None)),
        }
        Ok(from_version(installed, Some(&plan)))
    }

    async fn delete(
        &self,
        ctx: &Context<Octopus>,
        state: StepPackageModel,
    ) -> Result<(), Diagnostics> {
        let o = ctx.data()?;
        let (id, version) = (
            state.package_id.known().cloned().unwrap_or_default(),
            state.version.known().cloned().unwrap_or_default(),
        );
        // A destroy deletes the projects and processes using the version at the same
        // time (Terraform orders them only by references): while something still uses
        // it, ask again for a few seconds before refusing.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match o.client.step_packages().uninstall(&id, &version).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if e.is_conflict() && attempt < UNINSTALL_ATTEMPTS => {
                    tokio::time::sleep(UNINSTALL_PAUSE).await;
                }
                Err(octopus_client::Error::Api {
                    status: 409,
                    message,
                    errors,
                }) => {
                    return Err(Diagnostic::error(
                        format!(
                            "Cannot uninstall step package {id} {version}: processes still use it"
                        ),
                        format!(
                            "{message}\n- {}\nMove those actions to another version (or remove \
                             them; a release's snapshot goes with the release), then destroy \
                             again.",
                            errors.join("\n- ")
                        ),
                    )
                    .into());
                }
                Err(e) => return Err(api(&format!("uninstall {id} {version}"), e, None)),
            }
        }
    }

    /// Imports by `<package-id>/<version>` or `<package-id>.<version>`.
    async fn import(
        &self,
        ctx: &Context<Octopus>,
        import_id: &str,
    ) -> Result<StepPackageModel, Diagnostics> {
        let o = ctx.data()?;
        let (id, version) = import_target(import_id)?;
        let found = o
            .client
            .step_packages()
            .version(&id, &version)
            .await
            .map_err(|e| api(&format!("import step package {import_id}"), e, None))?;
        Ok(from_version(found, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_ids_name_a_package_version() {
        let t = |s: &str| import_target(s).unwrap();
        assert_eq!(t("acme-steps/1.2.0"), ("acme-steps".into(), "1.2.0".into()));
        assert_eq!(t("acme-steps.1.2"), ("acme-steps".into(), "1.2.0".into()));
        assert!(import_target("acme").is_err());
    }
}
