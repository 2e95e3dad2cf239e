//! `octopus_step_package`: an installed step package's step, by ID and version.

use crate::Octopus;
use crate::resources::deployment_process::pick_version;
use tf_sdk::{AttributePath, Context, DataSource, Diagnostic, Diagnostics, Model, Val};

/// Looks up a step of an installed step package: the version a usage would get, the
/// installed versions, and the step's inputs schema.
#[derive(Model, Clone, Debug)]
pub struct StepPackageData {
    /// The step's ID (a step-package usage's `step_package.id`).
    #[tf(required)]
    pub id: Val<String>,
    /// A major (`1`), an exact version (`1.2.0`) or a range (`^1.2`, `[1.0,2.0)`);
    /// the newest release when not set.
    #[tf(optional)]
    pub version: Val<String>,
    /// The version `version` resolves to.
    #[tf(computed)]
    pub resolved_version: Val<String>,
    /// Every installed version of the package, oldest first.
    #[tf(computed)]
    pub versions: Val<Vec<String>>,
    /// The package holding the step.
    #[tf(computed)]
    pub package_id: Val<String>,
    /// The step's name.
    #[tf(computed)]
    pub name: Val<String>,
    /// The step's description.
    #[tf(computed)]
    pub description: Val<String>,
    /// The step's inputs schema (JSON Schema), as a JSON string.
    #[tf(computed)]
    pub inputs_schema: Val<String>,
}

/// The data source.
pub struct StepPackageLookup;

fn not_found(why: String) -> Diagnostics {
    Diagnostic::error("Step package not installed", why)
        .at(AttributePath::root("version"))
        .into()
}

impl DataSource<Octopus> for StepPackageLookup {
    type Model = StepPackageData;

    fn name(&self) -> &str {
        "step_package"
    }

    async fn read(
        &self,
        ctx: &Context<Octopus>,
        config: StepPackageData,
    ) -> Result<StepPackageData, Diagnostics> {
        let o = ctx.data()?;
        let step_id = config.id.known().cloned().unwrap_or_default();
        let packages = o.step_catalog.packages(&o.client).await?;
        let Some(package) = packages
            .iter()
            .find(|p| p.steps.iter().any(|s| s.id == step_id))
        else {
            return Err(Diagnostic::error(
                "Step package not installed",
                format!("No installed step package has a step `{step_id}`."),
            )
            .at(AttributePath::root("id"))
            .into());
        };
        let wanted = config.version.known().map(String::as_str);
        let resolved = pick_version(package, wanted, true).map_err(not_found)?;
        let doc = o
            .step_catalog
            .version(&o.client, &package.id, &resolved.to_string())
            .await?;
        let step = doc
            .steps
            .into_iter()
            .find(|s| s.id == step_id)
            .ok_or_else(|| {
                not_found(format!(
                    "Step package {} {resolved} has no step `{step_id}`.",
                    package.id
                ))
            })?;
        Ok(StepPackageData {
            id: config.id,
            version: config.version,
            resolved_version: Val::Known(resolved.to_string()),
            versions: Val::Known(package.versions.clone()),
            package_id: Val::Known(package.id.clone()),
            name: Val::Known(step.name),
            description: Val::Known(step.description),
            inputs_schema: Val::Known(step.inputs_schema.to_string()),
        })
    }
}
