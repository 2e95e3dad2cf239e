//! Octopus' package routes of a feed, answered for the built-in feed from the package
//! repository ([`crate::packages`]):
//!
//! | Route | |
//! |---|---|
//! | `GET …/feeds/{feedId}/packages/versions{?packageId,versionRange,includePreRelease,preReleaseTag,filter,skip,take}` | `PackageVersion`s, highest first |
//! | `GET …/feeds/{feedId}/packages/search{?term,skip,take}` | `PackageDescription`s, by package ID |
//!
//! octopus-lite does not query external feeds: their routes answer 501.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use octopus_client::model::feed::BUILT_IN_FEED_ID;
use octopus_client::model::package::{PackageDescription, PackageVersion};
use octopus_client::model::{Feed, FeedType, Links, Resource, ResourceCollection};
use octopus_packaging::filename::validate_id;
use octopus_packaging::version::{Identifier, Version};

use super::AppState;
use super::crud::page_of;
use super::extract::{ItemId, ListQuery, Scope};
use super::packages::{flag, param, select_versions, version_range};
use crate::error::{ApiError, ApiResult};
use crate::packages::db::{self, PackageRow};
use crate::store::documents;

/// Query parameters of the versions route, as its link template names them.
const VERSIONS_TEMPLATE: &str = "{?packageId,take,skip,includePreRelease,versionRange,preReleaseTag,filter,includeReleaseNotes}";

/// Registers the routes, space-scoped and for the default space.
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    let mut r = r;
    // `{id}` as in the feeds' own item route: one parameter name per position.
    for prefix in [
        "/api/{space_id}/feeds/{id}/packages",
        "/api/feeds/{id}/packages",
    ] {
        r = r
            .route(&format!("{prefix}/versions"), get(versions))
            .route(&format!("{prefix}/search"), get(search));
    }
    r
}

/// The feed, which must be the built-in one: octopus-lite keeps no index of other feeds.
async fn built_in_feed(st: &AppState, space: &str, id: &str) -> ApiResult<Feed> {
    let (sp, i) = (space.to_owned(), id.to_owned());
    let feed: Option<Feed> = st
        .store
        .read(move |c| documents::get(c, Feed::COLLECTION, &sp, &i))
        .await?;
    let feed = feed.ok_or_else(|| ApiError::not_found("Feed", id))?;
    if feed.feed_type != FeedType::BuiltIn {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "octopus-lite does not search external feeds: only the built-in feed ({BUILT_IN_FEED_ID}) has packages here, and {id} is an external feed."
            ),
        ));
    }
    Ok(feed)
}

/// Whether a version's pre-release label starts with `tag` (case-insensitive): `beta`
/// matches `1.0.0-beta.2` and `1.0.0-beta2`, not releases.
fn has_tag(v: &Version, tag: &str) -> bool {
    let label = v
        .pre
        .iter()
        .map(|i| match i {
            Identifier::Numeric(n) => n.to_string(),
            Identifier::AlphaNumeric(s) => s.clone(),
        })
        .collect::<Vec<_>>()
        .join(".");
    !v.pre.is_empty() && label.to_lowercase().starts_with(&tag.to_lowercase())
}

fn version_of(row: &PackageRow, space: &str) -> PackageVersion {
    let model = row.to_model(space);
    PackageVersion {
        id: model.id,
        package_id: model.package_id,
        version: model.version,
        feed_id: Some(BUILT_IN_FEED_ID.to_owned()),
        published: model.published,
        size_bytes: Some(model.package_size_bytes),
        title: model.title,
        release_notes: None,
        links: model.links,
        extra: Default::default(),
    }
}

/// `GET …/feeds/{feedId}/packages/versions`: the versions of `packageId` (required),
/// highest first; `versionRange` (NuGet or npm notation), `includePreRelease` (default
/// false, as in Octopus), `preReleaseTag` (only pre-releases whose label starts with
/// it), `filter` (versions containing the text), `skip`, `take`.
async fn versions(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(feed_id): ItemId,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<PackageVersion>>> {
    let feed = built_in_feed(&st, &space, &feed_id).await?;
    let Some(package_id) = param(&q, "packageid").map(str::to_owned) else {
        return Err(ApiError::validation(vec![
            "packageId: The packageId parameter is required.".into(),
        ]));
    };
    validate_id(&package_id).map_err(|e| ApiError::bad_request(format!("packageId: {e}")))?;
    let range = version_range(&q)?;
    let tag = param(&q, "prereleasetag").map(str::to_owned);
    // A pre-release tag asks for pre-releases.
    let prerelease = flag(&q, "includeprerelease")?.unwrap_or(false) || tag.is_some();
    let text = param(&q, "filter").map(str::to_lowercase);
    let (sp, pid) = (space.clone(), package_id.clone());
    let rows = st
        .store
        .read(move |c| db::list(c, &sp, Some(&pid), None))
        .await?;
    let items = select_versions(rows, range.as_ref(), prerelease)
        .into_iter()
        .filter(|(v, _)| tag.as_deref().is_none_or(|t| has_tag(v, t)))
        .filter(|(_, r)| {
            text.as_deref()
                .is_none_or(|t| r.version.to_lowercase().contains(t))
        })
        .map(|(_, r)| version_of(&r, &space))
        .collect();
    let base = format!(
        "/api/{space}/feeds/{}/packages/versions",
        feed.id.unwrap_or(feed_id)
    );
    Ok(Json(page_of(
        items,
        &q,
        &base,
        "PackageVersion",
        VERSIONS_TEMPLATE,
    )))
}

/// `GET …/feeds/{feedId}/packages/search`: one entry per package whose ID contains
/// `term` (case-insensitive; every package when empty), sorted by ID, with its newest
/// release as `LatestVersion` (its newest pre-release when it has no release).
async fn search(
    State(st): State<AppState>,
    Scope(space): Scope,
    ItemId(feed_id): ItemId,
    q: ListQuery,
) -> ApiResult<Json<ResourceCollection<PackageDescription>>> {
    let feed = built_in_feed(&st, &space, &feed_id).await?;
    let feed_id = feed.id.unwrap_or(feed_id);
    let term = param(&q, "term").map(str::to_owned);
    let sp = space.clone();
    let rows = st
        .store
        .read(move |c| db::list(c, &sp, None, term.as_deref()))
        .await?;
    let mut packages: BTreeMap<String, Vec<PackageRow>> = BTreeMap::new();
    for r in rows {
        packages
            .entry(r.package_id.to_lowercase())
            .or_default()
            .push(r);
    }
    let items = packages
        .into_values()
        .filter_map(|rows| {
            let all = select_versions(rows, None, true);
            let (_, newest) = all
                .iter()
                .find(|(v, _)| !v.is_prerelease())
                .or(all.first())?;
            let mut links = Links::new();
            links.insert(
                "SearchPackageVersionsTemplate".into(),
                format!(
                    "/api/{space}/feeds/{feed_id}/packages/versions?packageId={}{{&take,skip,includePreRelease,versionRange,preReleaseTag,filter,includeReleaseNotes}}",
                    newest.package_id
                ),
            );
            Some(PackageDescription {
                id: Some(newest.package_id.clone()),
                name: newest.package_id.clone(),
                description: None,
                latest_version: Some(newest.version.clone()),
                links,
                extra: Default::default(),
            })
        })
        .collect();
    let base = format!("/api/{space}/feeds/{feed_id}/packages/search");
    Ok(Json(page_of(
        items,
        &q,
        &base,
        "PackageDescription",
        "{?term,skip,take}",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_release_tags_match_the_start_of_the_label() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert!(has_tag(&v("1.0.0-beta.2"), "beta"));
        assert!(has_tag(&v("1.0.0-Beta2"), "beta"));
        assert!(!has_tag(&v("1.0.0-rc.1"), "beta"));
        assert!(!has_tag(&v("1.0.0"), ""));
    }
}
