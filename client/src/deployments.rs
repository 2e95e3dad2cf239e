//! Releases, deployments and server tasks: create a release, deploy it, wait for
//! its task and read the log.
//!
//! ```no_run
//! # async fn demo(client: &octopus_client::Client) -> Result<(), octopus_client::Error> {
//! use octopus_client::model::{CreateReleaseCommandV1, Deployment};
//! let release = client.releases("Spaces-1").create_v1(&CreateReleaseCommandV1 {
//!     project_name: "Web".into(),
//!     ..Default::default()
//! }).await?;
//! let deployment = client.deployments("Spaces-1").create(&Deployment {
//!     release_id: release.release_id,
//!     environment_id: "Environments-1".into(),
//!     ..Default::default()
//! }).await?;
//! let task = client
//!     .tasks()
//!     .wait(deployment.task_id.as_deref().unwrap_or_default(), std::time::Duration::from_millis(200),
//!           std::time::Duration::from_secs(600), |t| eprintln!("{}: {}", t.id, t.state.as_str()))
//!     .await?;
//! assert!(task.finished_successfully);
//! # Ok(()) }
//! ```

use std::time::Duration;

use reqwest::Method;

use crate::client::segment;
use crate::model::{
    CreateDeploymentResponseV1, CreateDeploymentUntenantedCommandV1, CreateReleaseCommandV1,
    CreateReleaseResponseV1, Deployment, Release, ResourceCollection, ServerTask, TaskDetails,
};
use crate::{Client, Collection, Error};

/// Releases of a space.
#[derive(Debug, Clone)]
pub struct Releases<'a> {
    pub(crate) client: &'a Client,
    pub(crate) space: String,
}

impl Releases<'_> {
    fn items(&self) -> Collection<'_, Release> {
        self.client.collection(&self.space)
    }

    /// Creates a release (`POST /releases`); versions and channel default as on Octopus.
    pub async fn create(&self, release: &Release) -> Result<Release, Error> {
        self.items().create(release).await
    }

    /// Creates a release with the executions API (`POST /releases/create/v1`).
    pub async fn create_v1(
        &self,
        cmd: &CreateReleaseCommandV1,
    ) -> Result<CreateReleaseResponseV1, Error> {
        let path = format!("/api/{}/releases/create/v1", segment(&self.space));
        self.client
            .request(Method::POST, &path, &[], Some(cmd))
            .await
    }

    /// One release.
    pub async fn get(&self, id: &str) -> Result<Release, Error> {
        self.items().get(id).await
    }

    /// The releases of a project, newest first (first page of 30).
    pub async fn of_project(&self, project_id: &str) -> Result<ResourceCollection<Release>, Error> {
        let path = format!(
            "/api/{}/projects/{}/releases",
            segment(&self.space),
            segment(project_id)
        );
        self.client.get_json(&path, &[]).await
    }

    /// Deletes a release and its deployments.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        self.items().delete(id).await
    }
}

/// Deployments of a space.
#[derive(Debug, Clone)]
pub struct Deployments<'a> {
    pub(crate) client: &'a Client,
    pub(crate) space: String,
}

impl Deployments<'_> {
    fn items(&self) -> Collection<'_, Deployment> {
        self.client.collection(&self.space)
    }

    /// Deploys a release to one environment (`POST /deployments`).
    pub async fn create(&self, deployment: &Deployment) -> Result<Deployment, Error> {
        self.items().create(deployment).await
    }

    /// Deploys a release to several environments (`POST /deployments/create/untenanted/v1`).
    pub async fn create_untenanted_v1(
        &self,
        cmd: &CreateDeploymentUntenantedCommandV1,
    ) -> Result<CreateDeploymentResponseV1, Error> {
        let path = format!(
            "/api/{}/deployments/create/untenanted/v1",
            segment(&self.space)
        );
        self.client
            .request(Method::POST, &path, &[], Some(cmd))
            .await
    }

    /// One deployment.
    pub async fn get(&self, id: &str) -> Result<Deployment, Error> {
        self.items().get(id).await
    }
}

/// Server tasks.
#[derive(Debug, Clone)]
pub struct Tasks<'a> {
    pub(crate) client: &'a Client,
}

impl Tasks<'_> {
    /// One task.
    pub async fn get(&self, id: &str) -> Result<ServerTask, Error> {
        self.client
            .get_json(&format!("/api/tasks/{}", segment(id)), &[])
            .await
    }

    /// A task and its activity tree (`verbose` includes verbose lines).
    pub async fn details(&self, id: &str, verbose: bool) -> Result<TaskDetails, Error> {
        let q = [("verbose", verbose.to_string())];
        self.client
            .get_json(&format!("/api/tasks/{}/details", segment(id)), &q)
            .await
    }

    /// The whole log as plain text.
    pub async fn raw(&self, id: &str) -> Result<String, Error> {
        self.client
            .get_text(&format!("/api/tasks/{}/raw", segment(id)))
            .await
    }

    /// Asks the server to cancel a task.
    pub async fn cancel(&self, id: &str) -> Result<ServerTask, Error> {
        let path = format!("/api/tasks/{}/cancel", segment(id));
        self.client
            .request::<(), ServerTask>(Method::POST, &path, &[], None)
            .await
    }

    /// Polls a task every `poll` until it completes, calling `progress` with each
    /// state read; gives up with [`Error::Timeout`] after `timeout`.
    pub async fn wait(
        &self,
        id: &str,
        poll: Duration,
        timeout: Duration,
        mut progress: impl FnMut(&ServerTask),
    ) -> Result<ServerTask, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let task = self.get(id).await?;
            progress(&task);
            if task.is_completed {
                return Ok(task);
            }
            if tokio::time::Instant::now() + poll > deadline {
                return Err(Error::Timeout(format!(
                    "task {id} did not complete within {} s (state {})",
                    timeout.as_secs(),
                    task.state.as_str()
                )));
            }
            tokio::time::sleep(poll).await;
        }
    }
}
