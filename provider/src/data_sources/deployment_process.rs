//! `octopus_deployment_process` (data source): a project's process, read-only.

use crate::Octopus;
use crate::errors::api;
use crate::resources::deployment_process::from_process;
use octopus_client::model::DeploymentProcess;
use tf_sdk::{Context, DataSource, Diagnostics, Json, Model, TfType, Val};

/// Reads a project's deployment process, for modules that refer to steps another
/// team manages.
#[derive(Model, Clone, Debug)]
pub struct ProcessData {
    /// The project.
    #[tf(required)]
    pub project_id: Val<String>,
    /// The space to look in; defaults to the provider's space.
    #[tf(optional, computed, validate = crate::resources::space_id)]
    pub space_id: Val<String>,
    /// The process ID, `deploymentprocess-<project ID>`.
    #[tf(computed)]
    pub id: Val<String>,
    /// The step names, in order.
    #[tf(computed)]
    pub step_names: Val<Vec<String>>,
    /// The steps as `octopus_deployment_process` writes them (secrets left out).
    #[tf(computed)]
    pub steps: Val<Json>,
}

/// The data source.
pub struct ProcessLookup;

impl DataSource<Octopus> for ProcessLookup {
    type Model = ProcessData;

    fn name(&self) -> &str {
        "deployment_process"
    }

    async fn read(
        &self,
        ctx: &Context<Octopus>,
        config: ProcessData,
    ) -> Result<ProcessData, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&config.space_id).await?;
        let project = config.project_id.known().cloned().unwrap_or_default();
        let doc = o
            .client
            .deployment_processes(&space)
            .get(&DeploymentProcess::id_for_project(&project))
            .await
            .map_err(|e| {
                api(
                    &format!("read the deployment process of {project}"),
                    e,
                    None,
                )
            })?;
        let model = from_process(doc, &space, None);
        let step_value = model
            .to_value()
            .get("step")
            .cloned()
            .unwrap_or(tf_sdk::value::Value::Null);
        let mut steps = Json::from_tf(&step_value).unwrap_or_default();
        // Secrets are never read back; drop the empty placeholders.
        if let Some(items) = steps.0.as_array_mut() {
            for s in items {
                if let Some(m) = s.as_object_mut() {
                    m.remove("sensitive_execution_properties");
                    if let Some(sp) = m.get_mut("step_package").and_then(|v| v.as_object_mut()) {
                        sp.remove("sensitive_inputs");
                    }
                }
            }
        }
        let names = model
            .step
            .known()
            .map(|s| s.iter().filter_map(|s| s.name.known().cloned()).collect())
            .unwrap_or_default();
        Ok(ProcessData {
            project_id: config.project_id,
            space_id: Val::Known(space),
            id: model.id,
            step_names: Val::Known(names),
            steps: Val::Known(steps),
        })
    }
}
