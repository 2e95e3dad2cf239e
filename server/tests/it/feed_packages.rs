//! Octopus' package routes of a feed (`…/feeds/{feedId}/packages/versions` and
//! `…/packages/search`), through `octopus-client` and as raw JSON: Octopus' shape,
//! the packaging crate's range semantics with pre-releases included and excluded,
//! paging, and clear errors.

use crate::common::{self, KEY, TestServer, start};
use octopus_client::model::{Feed, FeedType};
use octopus_client::{OverwriteMode, VersionQuery};
use octopus_packaging::range::VersionRange;
use octopus_packaging::version::Version;
use serde_json::Value;
use std::io::Write;

const SPACE: &str = "Spaces-1";
const BUILT_IN: &str = "feeds-builtin";

/// The versions of `Web` pushed to the built-in feed.
const WEB: &[&str] = &[
    "0.9.0",
    "1.0.0",
    "1.2.0-alpha",
    "1.2.0",
    "1.5.0-beta.1",
    "1.10.0",
    "2.0.0-rc.1",
    "2.0.0",
    "10.1.0",
];

fn zip(seed: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("readme.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(seed.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

async fn push(t: &TestServer, file_name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, zip(file_name)).unwrap();
    t.client
        .packages(SPACE)
        .upload_path(&path, OverwriteMode::FailIfExists, |_, _| {})
        .await
        .unwrap();
}

async fn server_with_packages() -> TestServer {
    let t = start().await;
    for v in WEB {
        push(&t, &format!("Web.{v}.zip")).await;
    }
    push(&t, "Web.Api.3.0.0.zip").await;
    push(&t, "Other.1.0.0-alpha.zip").await;
    t
}

async fn versions(t: &TestServer, range: Option<&str>, prerelease: bool) -> Vec<String> {
    let query = VersionQuery {
        version_range: range.map(str::to_owned),
        include_prerelease: Some(prerelease),
        ..VersionQuery::new("Web")
    };
    t.client
        .feed_packages(SPACE, BUILT_IN)
        .all_versions(&query, None)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect()
}

/// What the packaging crate says the answer is: the versions in `range`, pre-releases
/// only when asked for, highest first.
fn expected(range: Option<&str>, prerelease: bool) -> Vec<String> {
    let range = range.map(|r| VersionRange::parse(r).unwrap());
    let mut vs: Vec<Version> = WEB
        .iter()
        .map(|v| Version::parse(v).unwrap())
        .filter(|v| prerelease || !v.is_prerelease())
        .filter(|v| range.as_ref().is_none_or(|r| r.contains(v)))
        .collect();
    vs.sort_by(|a, b| b.cmp(a));
    vs.iter().map(ToString::to_string).collect()
}

async fn raw_get(t: &TestServer, path: &str) -> (u16, Value) {
    let r = common::raw()
        .get(format!("{}{path}", t.url()))
        .header("X-Octopus-ApiKey", KEY)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn versions_follow_the_packaging_crates_ranges() {
    let t = server_with_packages().await;
    // Without includePreRelease, as in Octopus, no pre-releases.
    assert_eq!(
        versions(&t, None, false).await,
        ["10.1.0", "2.0.0", "1.10.0", "1.2.0", "1.0.0", "0.9.0"]
    );
    let matrix = [
        // NuGet: minimum, exact, intervals, open ends.
        "1.0",
        "[1.2]",
        "[1.0,2.0)",
        "(1.0,2.0]",
        "(,1.2.0]",
        "[2.0,)",
        "[1.2.0-alpha,1.5.0-beta.1]",
        // npm: caret, tilde, x-ranges, comparators, hyphens, unions, pre-release opt-ins.
        "^1.2",
        "~1.2.0",
        "1.x",
        ">=1.0 <2.0",
        "1.2 - 2.0",
        "^0.9 || ^10",
        ">=2.0.0-rc.1",
        "^1.2.0-alpha",
        "*",
        "^3",
    ];
    for range in matrix {
        for prerelease in [true, false] {
            assert_eq!(
                versions(&t, Some(range), prerelease).await,
                expected(Some(range), prerelease),
                "{range} (pre-releases {})",
                if prerelease { "included" } else { "excluded" }
            );
        }
    }
    // Spot checks of what the matrix relies on.
    assert_eq!(
        expected(Some("[1.0,2.0)"), true),
        [
            "2.0.0-rc.1",
            "1.10.0",
            "1.5.0-beta.1",
            "1.2.0",
            "1.2.0-alpha",
            "1.0.0"
        ]
    );
    assert_eq!(expected(Some("^1.2"), true), ["1.10.0", "1.2.0"]);
    assert_eq!(
        expected(Some("^1.2.0-alpha"), true),
        ["1.10.0", "1.2.0", "1.2.0-alpha"]
    );
    t.server.shutdown().await;
}

#[tokio::test]
async fn versions_answer_in_octopus_shape_with_paging() {
    let t = server_with_packages().await;
    let fp = t.client.feed_packages(SPACE, BUILT_IN);
    let page = fp
        .versions(&VersionQuery {
            include_prerelease: Some(true),
            take: Some(4),
            ..VersionQuery::new("web")
        })
        .await
        .unwrap();
    assert_eq!(page.item_type, "PackageVersion");
    assert_eq!(page.total_results, WEB.len() as i64);
    assert_eq!(page.items.len(), 4);
    let first = &page.items[0];
    assert_eq!(first.package_id, "Web", "IDs match case-insensitively");
    assert_eq!(first.version, "10.1.0");
    assert_eq!(first.feed_id.as_deref(), Some(BUILT_IN));
    assert_eq!(first.id.as_deref(), Some("packages-Web.10.1.0"));
    assert!(first.size_bytes.unwrap() > 0);
    assert!(first.published.as_deref().unwrap().contains('T'));
    assert!(page.next_link().is_some());
    // Following the pages gives everything, once.
    let all = fp
        .all_versions(
            &VersionQuery {
                include_prerelease: Some(true),
                take: Some(4),
                ..VersionQuery::new("Web")
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(all.len(), WEB.len());
    let limited = fp
        .all_versions(&VersionQuery::new("Web"), Some(2))
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);

    // The raw document has Octopus' field names, also under the default-space route.
    let (status, doc) = raw_get(
        &t,
        "/api/feeds/feeds-builtin/packages/versions?packageId=Web&take=1&versionRange=%5B1.0%2C2.0%29",
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    let item = &doc["Items"][0];
    for field in [
        "Id",
        "PackageId",
        "Version",
        "FeedId",
        "Published",
        "SizeBytes",
        "Title",
        "ReleaseNotes",
        "Links",
    ] {
        assert!(item.get(field).is_some(), "{field} in {item}");
    }
    assert_eq!(item["Version"], "1.10.0");
    assert!(doc["Links"]["Page.Next"].as_str().is_some(), "{doc}");
    assert!(
        doc["Links"]["Template"]
            .as_str()
            .unwrap()
            .ends_with("{?packageId,take,skip,includePreRelease,versionRange,preReleaseTag,filter,includeReleaseNotes}")
    );
    // A pre-release tag selects the pre-releases labelled so; filter matches text.
    let (_, doc) = raw_get(
        &t,
        &format!(
            "/api/{SPACE}/feeds/{BUILT_IN}/packages/versions?packageId=Web&preReleaseTag=beta"
        ),
    )
    .await;
    assert_eq!(doc["Items"][0]["Version"], "1.5.0-beta.1");
    assert_eq!(doc["TotalResults"], 1);
    let (_, doc) = raw_get(
        &t,
        &format!("/api/{SPACE}/feeds/{BUILT_IN}/packages/versions?packageId=Web&filter=1.1"),
    )
    .await;
    assert_eq!(doc["Items"][0]["Version"], "1.10.0");
    t.server.shutdown().await;
}

#[tokio::test]
async fn search_finds_packages_by_id() {
    let t = server_with_packages().await;
    let fp = t.client.feed_packages(SPACE, BUILT_IN);
    let page = fp.search("web", None, None).await.unwrap();
    assert_eq!(page.item_type, "PackageDescription");
    let found: Vec<(&str, &str)> = page
        .items
        .iter()
        .map(|p| (p.name.as_str(), p.latest_version.as_deref().unwrap()))
        .collect();
    assert_eq!(found, [("Web", "10.1.0"), ("Web.Api", "3.0.0")]);
    assert_eq!(page.items[0].id.as_deref(), Some("Web"));
    let template = &page.items[0].links["SearchPackageVersionsTemplate"];
    assert!(
        template.starts_with("/api/Spaces-1/feeds/feeds-builtin/packages/versions?packageId=Web{&"),
        "{template}"
    );
    // A package with only pre-releases reports its newest one.
    let other = fp.search("OTHER", None, None).await.unwrap();
    assert_eq!(
        other.items[0].latest_version.as_deref(),
        Some("1.0.0-alpha")
    );
    // Every package without a term; paged.
    let page = fp.search("", Some(1), Some(1)).await.unwrap();
    assert_eq!(page.total_results, 3);
    assert_eq!(page.items[0].name, "Web");
    let (status, doc) = raw_get(&t, "/api/feeds/feeds-builtin/packages/search?term=api").await;
    assert_eq!(status, 200);
    for field in ["Id", "Name", "Description", "LatestVersion", "Links"] {
        assert!(doc["Items"][0].get(field).is_some(), "{field} in {doc}");
    }
    // The feed links to both routes.
    let feed = t.client.feeds(SPACE).get(BUILT_IN).await.unwrap();
    assert_eq!(
        feed.links["SearchPackagesTemplate"],
        "/api/Spaces-1/feeds/feeds-builtin/packages/search{?term,skip,take}"
    );
    assert!(feed.links.contains_key("SearchPackageVersionsTemplate"));
    t.server.shutdown().await;
}

#[tokio::test]
async fn bad_requests_and_external_feeds_get_clear_answers() {
    let t = server_with_packages().await;
    let fp = t.client.feed_packages(SPACE, BUILT_IN);
    let (status, doc) = raw_get(&t, "/api/feeds/feeds-builtin/packages/versions").await;
    assert_eq!(status, 400);
    assert!(doc["Errors"][0].as_str().unwrap().starts_with("packageId:"));
    let e = fp
        .versions(&VersionQuery {
            version_range: Some("[1.0".into()),
            ..VersionQuery::new("Web")
        })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("versionRange:"), "{e}");
    let e = fp
        .versions(&VersionQuery::new("no such"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    // An unknown feed is a 404; an external one is not searched here (501).
    let e = t
        .client
        .feed_packages(SPACE, "Feeds-999")
        .search("", None, None)
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let nuget = t
        .client
        .feeds(SPACE)
        .create(&Feed::new(
            "nuget.org",
            FeedType::NuGet,
            Some("https://api.nuget.org/v3/index.json".into()),
        ))
        .await
        .unwrap();
    let e = t
        .client
        .feed_packages(SPACE, nuget.id.as_deref().unwrap())
        .versions(&VersionQuery::new("Newtonsoft.Json"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(501));
    assert!(e.to_string().contains("external feed"), "{e}");
    // No package of that ID: an empty page, not an error.
    let empty = fp.versions(&VersionQuery::new("Missing")).await.unwrap();
    assert_eq!(empty.total_results, 0);
    t.server.shutdown().await;
}
