//! `octopus_package_versions`: the versions of a package in a feed, newest first, through
//! Octopus' own route `GET /api/{spaceId}/feeds/{feedId}/packages/versions`.

use crate::Octopus;
use crate::errors::api;
use octopus_client::VersionQuery;
use octopus_client::model::feed::BUILT_IN_FEED_ID;
use octopus_packaging::filename::validate_id;
use octopus_packaging::range::VersionRange;
use tf_sdk::{Context, DataSource, Diagnostics, Model, Val};

/// Most versions one read returns.
const MAX_TAKE: i64 = 10_000;

// Validators of `Val<String>` attributes take `&String`.
#[allow(clippy::ptr_arg)]
fn package_id(s: &String) -> Result<(), String> {
    validate_id(s).map_err(|e| e.to_string())
}

#[allow(clippy::ptr_arg)]
fn version_range(s: &String) -> Result<(), String> {
    VersionRange::parse(s).map(drop).map_err(|e| e.to_string())
}

/// The versions of a package in a feed (the built-in feed unless `feed_id` says
/// otherwise), newest first, optionally limited to a version range: for pinning a
/// deployment to the newest `1.x`, say.
#[derive(Model, Clone, Debug)]
pub struct PackageVersionsData {
    /// The space; the provider's when not set.
    #[tf(optional, computed, validate = crate::resources::space_id)]
    pub space_id: Val<String>,
    /// The feed; the built-in feed (`feeds-builtin`) when not set.
    #[tf(optional, computed, validate = crate::resources::id_or_default)]
    pub feed_id: Val<String>,
    /// The package ID, e.g. `web`.
    #[tf(required, validate = package_id)]
    pub package_id: Val<String>,
    /// Only versions in this range, in NuGet (`[1.0,2.0)`, `1.0`) or npm (`^1.2`,
    /// `~1.2.3`, `>=1.0 <2.0`, `1.x`) notation.
    #[tf(optional, validate = version_range)]
    pub version_range: Val<String>,
    /// Whether pre-releases (`1.0.0-beta.1`) are included; false when not set.
    #[tf(optional, computed)]
    pub include_prerelease: Val<bool>,
    /// At most this many versions (the newest); all when not set.
    #[tf(optional, validate = tf_sdk::validators::range(1, MAX_TAKE))]
    pub take: Val<i64>,
    /// The versions found, newest first.
    #[tf(computed)]
    pub versions: Val<Vec<String>>,
    /// The newest version found; null when there is none.
    #[tf(computed)]
    pub latest: Val<String>,
}

/// The data source.
pub struct PackageVersionsLookup;

impl DataSource<Octopus> for PackageVersionsLookup {
    type Model = PackageVersionsData;

    fn name(&self) -> &str {
        "package_versions"
    }

    async fn read(
        &self,
        ctx: &Context<Octopus>,
        config: PackageVersionsData,
    ) -> Result<PackageVersionsData, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&config.space_id).await?;
        let feed = config
            .feed_id
            .known()
            .filter(|f| !f.is_empty())
            .cloned()
            .unwrap_or_else(|| BUILT_IN_FEED_ID.to_string());
        let prerelease = config.include_prerelease.known() == Some(&true);
        let take = config.take.known().map(|&n| n as usize);
        let query = VersionQuery {
            package_id: config.package_id.known().cloned().unwrap_or_default(),
            version_range: config.version_range.known().cloned(),
            include_prerelease: Some(prerelease),
            skip: None,
            // Pages as large as needed, up to the server's limit.
            take: Some(take.unwrap_or(1000).min(1000) as u32),
        };
        let found = o
            .client
            .feed_packages(&space, &feed)
            .all_versions(&query, take)
            .await
            .map_err(|e| api("list the package's versions", e, None))?;
        let versions: Vec<String> = found.into_iter().map(|v| v.version).collect();
        Ok(PackageVersionsData {
            space_id: Val::Known(space),
            feed_id: Val::Known(feed),
            include_prerelease: Val::Known(prerelease),
            latest: versions.first().cloned().into(),
            versions: Val::Known(versions),
            ..config
        })
    }
}
