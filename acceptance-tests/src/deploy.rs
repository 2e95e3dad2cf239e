//! Deployments from a test: create a release of a project Terraform applied, deploy
//! it, wait for its task, and hand the result (state, log, output variables) to checks.

use std::collections::BTreeMap;
use std::time::Duration;

use octopus_client::model::{CreateReleaseCommandV1, Deployment, ServerTask, TaskState};

// The prefix of the verbose log line the server writes for each output variable.
use octopus_server::tasks::deploy::OUTPUT_LINE;

use crate::TestContext;

/// What a deployment did.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The task, completed.
    pub task: ServerTask,
    /// The whole log as text (`/raw`).
    pub log: String,
    /// Output variables by full name (`Octopus.Action[<action>].Output.<name>`); sensitive
    /// ones read `********`.
    pub outputs: BTreeMap<String, String>,
}

impl Deployed {
    /// The output variable `name` of action `action`.
    pub fn output(&self, action: &str, name: &str) -> Option<&str> {
        self.outputs
            .get(&format!("Octopus.Action[{action}].Output.{name}"))
            .map(String::as_str)
    }

    /// Whether the log has a line containing `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.log.lines().any(|l| l.contains(text))
    }
}

/// A check on what a deployment did.
pub(crate) type DeploymentCheck = Box<dyn Fn(&Deployed)>;

/// What a deploy step does: which project and environment (state addresses), and
/// what to expect.
pub(crate) struct DeploySpec {
    pub(crate) project: String,
    pub(crate) environment: String,
    pub(crate) expect: TaskState,
    pub(crate) checks: Vec<DeploymentCheck>,
}

impl TestContext {
    /// Creates a release of project `project_id` (the next version, the latest
    /// packages) and returns its ID.
    pub fn create_release(&self, project_id: &str) -> String {
        let client = self.client.clone();
        let (space, project) = (self.space_id.clone(), project_id.to_owned());
        self.block_on(async move {
            client
                .releases(&space)
                .create_v1(&CreateReleaseCommandV1 {
                    project_name: project,
                    ..Default::default()
                })
                .await
                .expect("create a release")
                .release_id
        })
    }

    /// Releases project `project_id` and deploys the release to `environment_id`
    /// (see [`TestContext::deploy_release`]).
    pub fn deploy(&self, project_id: &str, environment_id: &str) -> Deployed {
        let release = self.create_release(project_id);
        self.deploy_release(&release, environment_id)
    }

    /// Deploys release `release_id` to `environment_id` and waits (at most 5 minutes)
    /// for the task to complete.
    pub fn deploy_release(&self, release_id: &str, environment_id: &str) -> Deployed {
        let client = self.client.clone();
        let space = self.space_id.clone();
        let (release, env) = (release_id.to_owned(), environment_id.to_owned());
        self.block_on(async move {
            let d = client
                .deployments(&space)
                .create(&Deployment {
                    release_id: release,
                    environment_id: env,
                    ..Default::default()
                })
                .await
                .expect("create a deployment");
            let task_id = d.task_id.expect("the deployment has a task");
            let task = client
                .tasks()
                .wait(
                    &task_id,
                    Duration::from_millis(100),
                    Duration::from_secs(300),
                    |_| {},
                )
                .await
                .expect("the task completes");
            let log = client.tasks().raw(&task_id).await.expect("the task log");
            let details = client
                .tasks()
                .details(&task_id, true)
                .await
                .expect("the task details");
            let mut outputs = BTreeMap::new();
            let mut stack = details.activity_logs;
            while let Some(node) = stack.pop() {
                for l in &node.log_elements {
                    if let Some((name, value)) = l
                        .message_text
                        .strip_prefix(OUTPUT_LINE)
                        .and_then(|t| t.split_once(" = "))
                    {
                        outputs.insert(name.to_owned(), value.to_owned());
                    }
                }
                stack.extend(node.children);
            }
            Deployed { task, log, outputs }
        })
    }

    pub(crate) fn run_deploy(&self, spec: &DeploySpec, n: usize) {
        let id_of = |address: &str| {
            self.attrs(address)["id"]
                .as_str()
                .unwrap_or_else(|| panic!("step {n}: {address} has no id"))
                .to_owned()
        };
        let d = self.deploy(&id_of(&spec.project), &id_of(&spec.environment));
        assert_eq!(
            d.task.state,
            spec.expect,
            "step {n}: the deployment ended {} ({}), not {}:\n{}",
            d.task.state.as_str(),
            d.task.error_message,
            spec.expect.as_str(),
            d.log
        );
        for check in &spec.checks {
            check(&d);
        }
    }
}
