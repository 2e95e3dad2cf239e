//! The server's installed step packages, looked up at plan time (once per provider
//! run) to check step-package usages before anything is sent, and the versions an
//! `octopus_step_package` of the same run is about to install.

use crate::errors::api;
use octopus_client::Client;
use octopus_client::model::step_package::{
    StepPackageStep, StepPackageSummary, StepPackageVersion, StepSummary,
};
use octopus_packaging::version::Version;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tf_sdk::Diagnostics;
use tokio::sync::OnceCell;

/// The step a usage resolves to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The package holding the step.
    pub package_id: String,
    /// The exact version used.
    pub version: Version,
    /// The step: its schema and migrations.
    pub step: StepPackageStep,
}

/// A version document read once, by package ID and version.
type VersionCells = HashMap<(String, String), Arc<OnceCell<StepPackageVersion>>>;

/// Installed step packages and the versions read so far.
#[derive(Default)]
pub struct StepCatalog {
    packages: OnceCell<Vec<StepPackageSummary>>,
    versions: Mutex<VersionCells>,
    /// Versions an `octopus_step_package` planned in this run installs, read from their
    /// archives. Terraform plans a process after the step packages it depends on, so
    /// its usages are checked against what will be installed when it is saved.
    pending: Mutex<Vec<StepPackageVersion>>,
}

impl StepCatalog {
    /// Every installed package (read once).
    pub async fn packages(&self, client: &Client) -> Result<&[StepPackageSummary], Diagnostics> {
        self.packages
            .get_or_try_init(|| async {
                client
                    .step_packages()
                    .list()
                    .await
                    .map_err(|e| api("list the installed step packages", e, None))
            })
            .await
            .map(Vec::as_slice)
    }

    /// Records a version that an `octopus_step_package` of this run installs.
    pub fn will_install(&self, v: StepPackageVersion) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|p| !(p.package_id == v.package_id && p.version == v.version));
        pending.push(v);
    }

    /// The installed packages with the pending versions added.
    async fn with_pending(&self, client: &Client) -> Result<Vec<StepPackageSummary>, Diagnostics> {
        let mut packages = self.packages(client).await?.to_vec();
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for v in pending {
            let steps = v.steps.iter().map(|s| StepSummary {
                id: s.id.clone(),
                name: s.name.clone(),
            });
            match packages.iter_mut().find(|p| p.id == v.package_id) {
                Some(p) => {
                    if !p.versions.contains(&v.version) {
                        p.versions.push(v.version.clone());
                    }
                    for s in steps {
                        if !p.steps.iter().any(|have| have.id == s.id) {
                            p.steps.push(s);
                        }
                    }
                }
                None => packages.push(StepPackageSummary {
                    id: v.package_id.clone(),
                    format: v.format,
                    latest_version: v.version.clone(),
                    versions: vec![v.version.clone()],
                    steps: steps.collect(),
                    ..StepPackageSummary::default()
                }),
            }
        }
        Ok(packages)
    }

    /// One version's document (read once; a pending version's from its archive).
    pub async fn version(
        &self,
        client: &Client,
        package: &str,
        version: &str,
    ) -> Result<StepPackageVersion, Diagnostics> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|p| p.package_id == package && p.version == version)
            .cloned();
        if let Some(p) = pending {
            return Ok(p);
        }
        let cell = self
            .versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((package.to_string(), version.to_string()))
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            client
                .step_packages()
                .version(package, version)
                .await
                .map_err(|e| api(&format!("read step package {package} {version}"), e, None))
        })
        .await
        .cloned()
    }

    /// The step `step_id` at `wanted` (a major such as `1`, or an exact version), as the
    /// server resolves it once the pending versions are installed. `Ok(Err(message))`
    /// when it is not installed: the message lists what is.
    pub async fn resolve(
        &self,
        client: &Client,
        step_id: &str,
        wanted: &str,
    ) -> Result<Result<Resolved, String>, Diagnostics> {
        let packages = self.with_pending(client).await?;
        let Some(package) = packages
            .iter()
            .find(|p| p.steps.iter().any(|s| s.id == step_id))
        else {
            let known: Vec<String> = packages
                .iter()
                .flat_map(|p| p.steps.iter().map(|s| s.id.clone()))
                .collect();
            return Ok(Err(format!(
                "No installed step package has a step `{step_id}` (installed steps: {}).",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let pick = pick_version(package, Some(wanted), false);
        let version = match pick {
            Ok(v) => v,
            Err(why) => return Ok(Err(why)),
        };
        let doc = self
            .version(client, &package.id, &version.to_string())
            .await?;
        let step = doc.steps.into_iter().find(|s| s.id == step_id);
        Ok(step
            .map(|step| Resolved {
                package_id: package.id.clone(),
                version: version.clone(),
                step,
            })
            .ok_or_else(|| {
                format!(
                    "Step package {} {version} has no step `{step_id}`.",
                    package.id
                )
            }))
    }
}

/// The installed version of `package` that `wanted` names, as the server resolves a
/// usage's version: the newest release on a major (`1`, `1.x`) or an exact version;
/// with `ranges`, also the newest in a range (`^1.2`, `[1.0,2.0)`); the newest release
/// when nothing is asked for. The error lists what is installed.
pub fn pick_version(
    package: &StepPackageSummary,
    wanted: Option<&str>,
    ranges: bool,
) -> Result<Version, String> {
    let versions: Vec<Version> = package
        .versions
        .iter()
        .filter_map(|v| Version::parse(v).ok())
        .collect();
    let listed = package.versions.join(", ");
    let newest = |ok: &dyn Fn(&Version) -> bool| versions.iter().filter(|v| ok(v)).max().cloned();
    let Some(text) = wanted.map(str::trim) else {
        return newest(&|v| !v.is_prerelease()).ok_or_else(|| {
            format!(
                "Step package {} has no release (installed: {listed}).",
                package.id
            )
        });
    };
    let major = text
        .strip_suffix(".x")
        .or_else(|| text.strip_suffix(".*"))
        .unwrap_or(text);
    if !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) {
        let m: Option<u64> = major.parse().ok();
        return newest(&|v| Some(v.major) == m && !v.is_prerelease()).ok_or_else(|| {
            format!(
                "Step package {} has no release on major {major} (installed: {listed}).",
                package.id
            )
        });
    }
    match Version::parse(text) {
        Ok(v) if versions.contains(&v) => Ok(v),
        Ok(v) => Err(format!(
            "Step package {} {v} is not installed (installed: {listed}).",
            package.id
        )),
        Err(_) if ranges => {
            let range = octopus_packaging::range::VersionRange::parse(text)
                .map_err(|e| format!("`{text}` is not a version or range: {e}"))?;
            newest(&|v| range.contains(v)).ok_or_else(|| {
                format!(
                    "Step package {} has no version in {text:?} (installed: {listed}).",
                    package.id
                )
            })
        }
        Err(e) => Err(format!(
            "`{text}` is neither a major (`1`) nor a version (`1.2.0`): {e}"
        )),
    }
}
