//! Packages of any feed, through Octopus' feed routes
//! (`/api/{spaceId}/feeds/{feedId}/packages/versions` and `…/packages/search`),
//! [`Client::feed_packages`].

use crate::client::segment;
use crate::model::ResourceCollection;
use crate::model::package::{PackageDescription, PackageVersion};
use crate::{Client, Error};

/// What [`FeedPackages::versions`] asks for; `None` fields are left to the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionQuery {
    /// The package ID (required by the server).
    pub package_id: String,
    /// A NuGet (`[1.0,2.0)`) or npm (`^1.2`) version range.
    pub version_range: Option<String>,
    /// Whether pre-releases are listed (Octopus' default: no).
    pub include_prerelease: Option<bool>,
    /// Items to skip.
    pub skip: Option<u32>,
    /// Page size.
    pub take: Option<u32>,
}

impl VersionQuery {
    /// The versions of `package_id`.
    pub fn new(package_id: impl Into<String>) -> VersionQuery {
        VersionQuery {
            package_id: package_id.into(),
            ..VersionQuery::default()
        }
    }

    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![("packageId", self.package_id.clone())];
        if let Some(r) = &self.version_range {
            q.push(("versionRange", r.clone()));
        }
        if let Some(p) = self.include_prerelease {
            q.push(("includePreRelease", p.to_string()));
        }
        if let Some(s) = self.skip {
            q.push(("skip", s.to_string()));
        }
        if let Some(t) = self.take {
            q.push(("take", t.to_string()));
        }
        q
    }
}

/// The packages of one feed of a space.
#[derive(Debug, Clone)]
pub struct FeedPackages<'a> {
    client: &'a Client,
    base: String,
}

impl<'a> FeedPackages<'a> {
    pub(crate) fn new(client: &'a Client, space_id: &str, feed_id: &str) -> Self {
        FeedPackages {
            client,
            base: format!(
                "/api/{}/feeds/{}/packages",
                segment(space_id),
                segment(feed_id)
            ),
        }
    }

    /// One page of a package's versions, newest first.
    pub async fn versions(
        &self,
        query: &VersionQuery,
    ) -> Result<ResourceCollection<PackageVersion>, Error> {
        self.client
            .get_json(&format!("{}/versions", self.base), &query.query())
            .await
    }

    /// Up to `limit` versions (all when `None`), newest first, following the pages.
    pub async fn all_versions(
        &self,
        query: &VersionQuery,
        limit: Option<usize>,
    ) -> Result<Vec<PackageVersion>, Error> {
        let mut page = self.versions(query).await?;
        let mut items = std::mem::take(&mut page.items);
        while limit.is_none_or(|n| items.len() < n) {
            let Some(next) = page.next_link().map(str::to_owned) else {
                break;
            };
            page = self.client.get_json(&next, &[]).await?;
            if page.items.is_empty() {
                break;
            }
            items.append(&mut page.items);
        }
        if let Some(n) = limit {
            items.truncate(n);
        }
        Ok(items)
    }

    /// One page of the packages whose ID contains `term` (all when empty).
    pub async fn search(
        &self,
        term: &str,
        skip: Option<u32>,
        take: Option<u32>,
    ) -> Result<ResourceCollection<PackageDescription>, Error> {
        let mut q = vec![("term", term.to_owned())];
        if let Some(s) = skip {
            q.push(("skip", s.to_string()));
        }
        if let Some(t) = take {
            q.push(("take", t.to_string()));
        }
        self.client
            .get_json(&format!("{}/search", self.base), &q)
            .await
    }
}
