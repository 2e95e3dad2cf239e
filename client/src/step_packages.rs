//! The step-package API of octopus-lite (`/api/steppackages`): installed packages, their
//! versions and input schemas, uploads, usages and explicit upgrades.

use reqwest::Method;

use crate::model::step_package::{
    StepPackageSummary, StepPackageUpgrade, StepPackageUsage, StepPackageVersion,
    StepPackageVersionSummary, TrustedStepPackages,
};
use crate::model::{DeploymentProcess, ResourceCollection};
use crate::{Client, Error};

/// Which usages [`StepPackages::usages`] lists; empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageQuery {
    /// Only actions of this step ID (`ActionType`).
    pub step_id: Option<String>,
    /// Only steps of this package.
    pub package_id: Option<String>,
    /// Only usages on exactly this version.
    pub version: Option<String>,
    /// Only processes of this space.
    pub space_id: Option<String>,
}

impl UsageQuery {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![("take", "2147483647".to_owned())];
        for (k, v) in [
            ("stepId", &self.step_id),
            ("packageId", &self.package_id),
            ("version", &self.version),
            ("spaceId", &self.space_id),
        ] {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        }
        q
    }
}

/// Step packages (server-wide). Get one with [`Client::step_packages`].
#[derive(Debug, Clone)]
pub struct StepPackages<'a> {
    pub(crate) client: &'a Client,
}

/// Percent-encodes one path segment.
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~') && s != "." && s != ".."
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl StepPackages<'_> {
    /// `GET /api/steppackages`: every installed package (ID, latest version, versions, steps).
    pub async fn list(&self) -> Result<Vec<StepPackageSummary>, Error> {
        let page: ResourceCollection<StepPackageSummary> = self
            .client
            .get_json("/api/steppackages", &[("take", "2147483647".into())])
            .await?;
        Ok(page.items)
    }

    /// `GET /api/steppackages/{id}`: one package; [`Error::is_not_found`] when not installed.
    pub async fn get(&self, package_id: &str) -> Result<StepPackageSummary, Error> {
        self.client
            .get_json(&format!("/api/steppackages/{}", seg(package_id)), &[])
            .await
    }

    /// `GET /api/steppackages/{id}/versions`: installed versions, oldest first.
    pub async fn versions(
        &self,
        package_id: &str,
    ) -> Result<Vec<StepPackageVersionSummary>, Error> {
        let page: ResourceCollection<StepPackageVersionSummary> = self
            .client
            .get_json(
                &format!("/api/steppackages/{}/versions", seg(package_id)),
                &[("take", "2147483647".into())],
            )
            .await?;
        Ok(page.items)
    }

    /// `GET /api/steppackages/{id}/{version}`: metadata, inputs schema and migrations of
    /// every step of one version.
    pub async fn version(
        &self,
        package_id: &str,
        version: &str,
    ) -> Result<StepPackageVersion, Error> {
        self.client
            .get_json(
                &format!("/api/steppackages/{}/{}", seg(package_id), seg(version)),
                &[],
            )
            .await
    }

    /// `POST /api/steppackages?fileName=`: uploads and installs an archive named
    /// `<id>.<version>.zip|tar.gz|tgz`. Installing the same archive again is a no-op; the
    /// answer lists the usages moved to this version.
    pub async fn upload(
        &self,
        file_name: &str,
        archive: Vec<u8>,
    ) -> Result<StepPackageVersion, Error> {
        self.client
            .send_bytes(
                Method::POST,
                "/api/steppackages",
                &[("fileName", file_name.to_owned())],
                archive,
            )
            .await
    }

    /// `DELETE /api/steppackages/{id}/{version}`: uninstalls one version.
    /// [`Error::is_not_found`] when it is not installed, [`Error::is_conflict`] while a
    /// process uses it (the error's `errors` name each using action).
    pub async fn uninstall(&self, package_id: &str, version: &str) -> Result<(), Error> {
        self.client
            .request::<(), serde_json::Value>(
                Method::DELETE,
                &format!("/api/steppackages/{}/{}", seg(package_id), seg(version)),
                &[],
                None,
            )
            .await
            .map(drop)
    }

    /// `GET /api/steppackages/trusted`: the packages the server allows to be installed.
    pub async fn trusted(&self) -> Result<TrustedStepPackages, Error> {
        self.client.get_json("/api/steppackages/trusted", &[]).await
    }

    /// `GET /api/steppackages/usages`: process actions using step-package steps.
    pub async fn usages(&self, query: &UsageQuery) -> Result<Vec<StepPackageUsage>, Error> {
        let page: ResourceCollection<StepPackageUsage> = self
            .client
            .get_json("/api/steppackages/usages", &query.query())
            .await?;
        Ok(page.items)
    }

    /// `POST /api/{spaceId}/deploymentprocesses/{id}/steppackages/upgrade`: moves one action
    /// to a newer version (running the migrations between majors) and returns the process
    /// (saved with a new `Version` unless `DryRun`).
    pub async fn upgrade(
        &self,
        space_id: &str,
        process_id: &str,
        upgrade: &StepPackageUpgrade,
    ) -> Result<DeploymentProcess, Error> {
        self.client
            .request(
                Method::POST,
                &format!(
                    "/api/{}/deploymentprocesses/{}/steppackages/upgrade",
                    seg(space_id),
                    seg(process_id)
                ),
                &[],
                Some(upgrade),
            )
            .await
    }
}
