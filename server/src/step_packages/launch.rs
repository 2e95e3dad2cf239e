//! Launching a step-package step: the installed step's files and launcher.

use std::path::Path;

use octopus_client::model::Action;
use octopus_executor::StepPackageLaunch;

use crate::api::AppState;

/// Prepares the launch of a step-package action: finds the installed version the
/// action uses and unpacks its archive below `work_dir`.
pub async fn prepare(
    state: &AppState,
    step_id: &str,
    action: &Action,
    work_dir: &Path,
) -> Result<StepPackageLaunch, String> {
    let _ = (state, work_dir);
    Err(format!(
        "The step-package step '{step_id}' {} cannot run yet.",
        action.step_package_version.as_deref().unwrap_or_default()
    ))
}
