//! `octopus_deployment_process`: a project's steps as code. Steps and actions are
//! matched to the server's by name; a write is one GET and one PUT with the
//! document's `Version` (re-read and retried on 409); step-package usages are
//! checked at plan time against the installed package's schema.

mod catalog;
mod checks;
mod mapping;
mod model;

pub use catalog::StepCatalog;
pub(crate) use catalog::pick_version;
pub(crate) use mapping::from_process;
pub use model::ProcessModel;

use crate::Octopus;
use crate::errors::{api, not_found_as_none};
use mapping::to_steps;
use model::StepModel;
use octopus_client::model::DeploymentProcess;
use tf_sdk::{AttributePath, Context, Diagnostic, Diagnostics, PlanRequest, Resource};

/// How often a write is tried when another writer changed the process meanwhile.
const MAX_ATTEMPTS: usize = 6;

/// The resource.
pub struct ProcessResource;

fn process_id(project_or_process: &str) -> String {
    if project_or_process.starts_with("deploymentprocess-") {
        project_or_process.to_string()
    } else {
        DeploymentProcess::id_for_project(project_or_process)
    }
}

/// Writes `steps` over the process `id` in `space`, keeping what the model does not
/// manage; `forms` (the plan) gives the secrets and version texts the answer lacks.
async fn write(
    o: &Octopus,
    space: &str,
    id: &str,
    steps: &[StepModel],
    forms: Option<&ProcessModel>,
) -> Result<ProcessModel, Diagnostics> {
    let processes = o.client.deployment_processes(space);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut doc = processes
            .get(id)
            .await
            .map_err(|e| api("read the deployment process", e, None))?;
        doc.steps = to_steps(steps, &doc.steps);
        match processes.update(&doc).await {
            Ok(saved) => return Ok(from_process(saved, space, forms)),
            Err(e) if e.is_conflict() && attempt < MAX_ATTEMPTS => {
                // Someone else saved the process since it was read: read it again.
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt as u64)).await;
            }
            Err(e) if e.is_conflict() => {
                return Err(Diagnostic::error(
                    "The deployment process keeps changing",
                    format!(
                        "Another writer saved process {id} each time it was read ({MAX_ATTEMPTS} \
                         attempts). Run apply again when the other writer is done."
                    ),
                )
                .into());
            }
            Err(e) => {
                return Err(api(
                    "update the deployment process",
                    e,
                    Some(&checks::field_path),
                ));
            }
        }
    }
}

impl Resource<Octopus> for ProcessResource {
    type Model = ProcessModel;

    fn name(&self) -> &str {
        "deployment_process"
    }

    fn validate(&self, config: &ProcessModel, diags: &mut Diagnostics) {
        checks::validate(config, diags);
    }

    async fn modify_plan(
        &self,
        ctx: &Context<Octopus>,
        req: &mut PlanRequest<ProcessModel>,
        diags: &mut Diagnostics,
    ) {
        checks::carry_identities(&mut req.plan, req.prior.as_ref());
        if let Ok(o) = ctx.data() {
            checks::check_step_packages(o, &req.plan, req.prior.as_ref(), diags).await;
        }
    }

    async fn create(
        &self,
        ctx: &Context<Octopus>,
        plan: ProcessModel,
    ) -> Result<ProcessModel, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&plan.space_id).await?;
        let id = process_id(plan.project_id.as_deref().unwrap_or_default());
        let steps = plan.step.known().cloned().unwrap_or_default();
        write(o, &space, &id, &steps, Some(&plan)).await
    }

    async fn read(
        &self,
        ctx: &Context<Octopus>,
        state: ProcessModel,
    ) -> Result<Option<ProcessModel>, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&state.space_id).await?;
        let id = state
            .id
            .known()
            .cloned()
            .unwrap_or_else(|| process_id(state.project_id.as_deref().unwrap_or_default()));
        let found = not_found_as_none(o.client.deployment_processes(&space).get(&id).await)
            .map_err(|e| api("read the deployment process", e, None))?;
        Ok(found.map(|doc| from_process(doc, &space, Some(&state))))
    }

    async fn update(
        &self,
        ctx: &Context<Octopus>,
        prior: ProcessModel,
        plan: ProcessModel,
    ) -> Result<ProcessModel, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&prior.space_id).await?;
        let id = prior.id.known().cloned().unwrap_or_default();
        let steps = plan.step.known().cloned().unwrap_or_default();
        write(o, &space, &id, &steps, Some(&plan)).await
    }

    /// A process cannot be deleted: it is left without steps.
    async fn delete(&self, ctx: &Context<Octopus>, state: ProcessModel) -> Result<(), Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&state.space_id).await?;
        let id = state.id.known().cloned().unwrap_or_default();
        match write(o, &space, &id, &[], None).await {
            Ok(_) => Ok(()),
            // The project (and with it the process) is already gone.
            Err(_)
                if not_found_as_none(o.client.deployment_processes(&space).get(&id).await)
                    .is_ok_and(|p| p.is_none()) =>
            {
                Ok(())
            }
            Err(d) => Err(d),
        }
    }

    /// Imports by project ID (`Projects-1`) or process ID (`deploymentprocess-Projects-1`),
    /// found in any space the key can see, or as `Spaces-2/Projects-1`.
    async fn import(
        &self,
        ctx: &Context<Octopus>,
        import_id: &str,
    ) -> Result<ProcessModel, Diagnostics> {
        let o = ctx.data()?;
        let failed = |e| api(&format!("import deployment process {import_id}"), e, None);
        let (spaces, bare) = o.import_spaces(import_id).await?;
        let id = process_id(bare);
        for space in &spaces {
            let found = o.client.deployment_processes(space).get(&id).await;
            if let Some(doc) = not_found_as_none(found).map_err(failed)? {
                return Ok(from_process(doc, space, None));
            }
        }
        Err(Diagnostic::error(
            format!("Cannot import deployment process {import_id}"),
            format!(
                "No space the API key can see has {id} ({} searched). Check the project ID, or \
                 write it as <space-id>/<project-id>.",
                spaces.len()
            ),
        )
        .at(AttributePath::root("id"))
        .into())
    }
}
