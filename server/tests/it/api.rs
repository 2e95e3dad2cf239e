//! Client-against-server integration tests: every endpoint's happy path and
//! the 401/404/400 cases, paging, filters and space isolation.

use crate::common::{self, KEY, client_for, start};
use octopus_client::model::feed::BUILT_IN_FEED_ID;
use octopus_client::model::{
    Environment, Feed, FeedType, Lifecycle, Phase, Project, ProjectGroup, SensitiveValue, Space,
};
use octopus_client::{Error, ListOptions};

fn api_status(e: &Error) -> u16 {
    match e {
        Error::Api { status, .. } => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn api_errors(e: &Error) -> Vec<String> {
    match e {
        Error::Api { errors, .. } => errors.clone(),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn root_document_and_default_space() {
    let t = start().await;
    let root = t.client.root().await.unwrap();
    assert_eq!(root.api_version, "3.0.0");
    assert!(root.links["Projects"].starts_with("/api/{spaceId}/projects"));
    assert!(root.links.contains_key("Spaces"));
    // Every link leads somewhere: expand the space, drop the optional template parts.
    let http = common::raw();
    for (name, template) in &root.links {
        let path = template
            .replace("{spaceId}", "Spaces-1")
            .split('{')
            .next()
            .unwrap()
            .to_owned();
        let status = http
            .get(format!("{}{path}", t.url()))
            .header("X-Octopus-ApiKey", KEY)
            .send()
            .await
            .unwrap()
            .status();
        // The upload, sort-order and command links only take POST/PUT.
        let post_only = [
            "PackageUpload",
            "EnvironmentSortOrder",
            "CreateReleaseCommandV1",
            "CreateDeploymentUntenantedCommandV1",
        ];
        let want = if post_only.contains(&name.as_str()) {
            405
        } else {
            200
        };
        assert_eq!(status.as_u16(), want, "link {name}: GET {path}");
    }
    // Clients detect overwriteMode support from the upload link.
    assert!(root.links["PackageUpload"].contains("overwriteMode"));
    assert!(root.links["Packages"].starts_with("/api/{spaceId}/packages"));

    let spaces = t
        .client
        .spaces()
        .list_all(&ListOptions::default())
        .await
        .unwrap();
    assert_eq!(spaces.len(), 1);
    assert!(spaces[0].is_default);
    assert_eq!(spaces[0].id.as_deref(), Some("Spaces-1"));
    assert_eq!(t.client.default_space_id().await.unwrap(), "Spaces-1");

    // Defaults exist so a project needs only a name.
    let groups = t
        .client
        .project_groups("Spaces-1")
        .list_all(&ListOptions::default())
        .await
        .unwrap();
    assert_eq!(groups[0].name, "Default Project Group");
    let lifecycles = t
        .client
        .lifecycles("Spaces-1")
        .list_all(&ListOptions::default())
        .await
        .unwrap();
    assert_eq!(lifecycles[0].name, "Default Lifecycle");
    let builtin = t
        .client
        .feeds("Spaces-1")
        .get(BUILT_IN_FEED_ID)
        .await
        .unwrap();
    assert_eq!(builtin.feed_type, FeedType::BuiltIn);

    // Space home and the default-space forms of collection URLs.
    let home: serde_json::Value = t.client.get_json("/api/Spaces-1", &[]).await.unwrap();
    assert_eq!(
        home["Links"]["Projects"],
        "/api/Spaces-1/projects{/id}{?name,skip,ids,take,partialName,clonedFromProjectId}"
    );
    let page: octopus_client::model::ResourceCollection<Feed> =
        t.client.get_json("/api/feeds", &[]).await.unwrap();
    assert_eq!(page.items[0].id.as_deref(), Some(BUILT_IN_FEED_ID));
    let page: octopus_client::model::ResourceCollection<serde_json::Value> = t
        .client
        .get_json("/api/deploymentprocesses", &[])
        .await
        .unwrap();
    assert_eq!(page.item_type, "DeploymentProcess");
    assert_eq!(page.total_results, 0);
}

#[tokio::test]
async fn spaces_crud_default_switch_and_delete_rules() {
    let t = start().await;
    let spaces = t.client.spaces();
    let mut s = spaces.create(&Space::new("Team A")).await.unwrap();
    assert_eq!(s.id.as_deref(), Some("Spaces-2"));
    assert_eq!(s.slug, "team-a");
    assert!(!s.is_default);
    let id = s.id.clone().unwrap();
    // New spaces get their own defaults.
    assert_eq!(
        t.client
            .feeds(&id)
            .get(BUILT_IN_FEED_ID)
            .await
            .unwrap()
            .space_id
            .as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        t.client
            .projects(&id)
            .create(&Project::new("p"))
            .await
            .unwrap()
            .space_id
            .as_deref(),
        Some(id.as_str())
    );

    // Duplicate names are refused, case-insensitively.
    let e = spaces.create(&Space::new("team a")).await.unwrap_err();
    assert_eq!(api_status(&e), 400);
    // Names longer than 50 characters are refused.
    let e = spaces
        .create(&Space::new("x".repeat(51)))
        .await
        .unwrap_err();
    assert_eq!(api_status(&e), 400);
    assert!(api_errors(&e)[0].starts_with("Name:"), "{e}");

    // Make it the default: the old default is demoted.
    s.is_default = true;
    s.description = Some("team space".into());
    let s = spaces.update(&s).await.unwrap();
    assert!(s.is_default);
    assert!(!spaces.get("Spaces-1").await.unwrap().is_default);
    assert_eq!(t.client.default_space_id().await.unwrap(), id);

    // The default space cannot be deleted; a running task queue blocks deletion.
    assert_eq!(api_status(&spaces.delete(&id).await.unwrap_err()), 400);
    assert_eq!(
        api_status(&spaces.delete("Spaces-1").await.unwrap_err()),
        400
    );
    let mut one = spaces.get("Spaces-1").await.unwrap();
    one.task_queue_stopped = true;
    spaces.update(&one).await.unwrap();
    spaces.delete("Spaces-1").await.unwrap();
    assert!(spaces.get("Spaces-1").await.unwrap_err().is_not_found());
    // Its contents are gone with it.
    assert!(
        t.client
            .feeds("Spaces-1")
            .get(BUILT_IN_FEED_ID)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn environments_project_groups_lifecycles_crud() {
    let t = start().await;
    let sp = "Spaces-1";
    let envs = t.client.environments(sp);
    let dev = envs.create(&Environment::new("Development")).await.unwrap();
    let prod = envs.create(&Environment::new("Production")).await.unwrap();
    assert_eq!(dev.id.as_deref(), Some("Environments-1"));
    assert_eq!(prod.sort_order, 1);
    let mut d = envs.get("Environments-1").await.unwrap();
    d.description = Some("dev boxes".into());
    d.use_guided_failure = true;
    let d = envs.update(&d).await.unwrap();
    assert!(d.use_guided_failure);
    assert_eq!(
        envs.get("Environments-1")
            .await
            .unwrap()
            .description
            .as_deref(),
        Some("dev boxes")
    );

    let groups = t.client.project_groups(sp);
    let g = groups.create(&ProjectGroup::new("Web")).await.unwrap();
    assert!(g.id.as_deref().unwrap().starts_with("ProjectGroups-"));
    let mut bad = ProjectGroup::new("Bad");
    bad.environment_ids = vec!["Environments-999".into()];
    let e = groups.create(&bad).await.unwrap_err();
    assert_eq!(api_status(&e), 400);
    assert!(api_errors(&e)[0].contains("EnvironmentIds"), "{e}");

    let lifecycles = t.client.lifecycles(sp);
    let mut lc = Lifecycle::new("Dev to Prod");
    lc.phases = vec![
        Phase {
            name: "Dev".into(),
            automatic_deployment_targets: vec![dev.id.clone().unwrap()],
            ..Phase::default()
        },
        Phase {
            name: "Prod".into(),
            optional_deployment_targets: vec![prod.id.clone().unwrap()],
            ..Phase::default()
        },
    ];
    let lc = lifecycles.create(&lc).await.unwrap();
    assert_eq!(lc.phases.len(), 2);
    assert!(lc.phases.iter().all(|p| p.id.is_some()));
    let mut dup = Lifecycle::new("Dup phases");
    dup.phases = vec![
        Phase {
            name: "A".into(),
            ..Phase::default()
        },
        Phase {
            name: "a".into(),
            ..Phase::default()
        },
    ];
    assert_eq!(api_status(&lifecycles.create(&dup).await.unwrap_err()), 400);

    // A project using the group and lifecycle blocks their deletion.
    let mut p = Project::new("Uses them");
    p.project_group_id = g.id.clone().unwrap();
    p.lifecycle_id = lc.id.clone().unwrap();
    let p = t.client.projects(sp).create(&p).await.unwrap();
    assert_eq!(
        api_status(&groups.delete(g.id.as_deref().unwrap()).await.unwrap_err()),
        400
    );
    assert_eq!(
        api_status(
            &lifecycles
                .delete(lc.id.as_deref().unwrap())
                .await
                .unwrap_err()
        ),
        400
    );
    t.client
        .projects(sp)
        .delete(p.id.as_deref().unwrap())
        .await
        .unwrap();
    groups.delete(g.id.as_deref().unwrap()).await.unwrap();
    lifecycles.delete(lc.id.as_deref().unwrap()).await.unwrap();
    envs.delete("Environments-2").await.unwrap();
    assert!(envs.get("Environments-2").await.unwrap_err().is_not_found());
    assert!(
        envs.delete("Environments-2")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn projects_with_defaults_process_and_unique_names() {
    let t = start().await;
    let sp = "Spaces-1";
    let projects = t.client.projects(sp);
    let p = projects.create(&Project::new("My App")).await.unwrap();
    let id = p.id.clone().unwrap();
    assert_eq!(id, "Projects-1");
    assert_eq!(p.lifecycle_id, "Lifecycles-1");
    assert_eq!(p.project_group_id, "ProjectGroups-1");
    assert_eq!(p.slug, "my-app");
    assert_eq!(
        p.deployment_process_id.as_deref(),
        Some("deploymentprocess-Projects-1")
    );
    assert_eq!(
        p.links["DeploymentProcess"],
        "/api/Spaces-1/projects/Projects-1/deploymentprocesses"
    );

    let process = t
        .client
        .deployment_processes(sp)
        .get_for_project(&id)
        .await
        .unwrap();
    assert_eq!(process.id.as_deref(), Some("deploymentprocess-Projects-1"));
    assert_eq!(process.project_id, id);
    assert_eq!(process.version, 0);
    assert!(process.steps.is_empty());

    // Unique names within a space, case-insensitively; fine in another space.
    let e = projects.create(&Project::new("MY APP")).await.unwrap_err();
    assert_eq!(api_status(&e), 400);
    assert!(api_errors(&e)[0].contains("already exists"), "{e}");
    let other = t
        .client
        .spaces()
        .create(&Space::new("Other"))
        .await
        .unwrap();
    let other_id = other.id.unwrap();
    t.client
        .projects(&other_id)
        .create(&Project::new("My App"))
        .await
        .unwrap();

    // Unknown references are refused.
    let mut bad = Project::new("Bad refs");
    bad.lifecycle_id = "Lifecycles-404".into();
    let e = projects.create(&bad).await.unwrap_err();
    assert_eq!(api_status(&e), 400);
    assert!(api_errors(&e)[0].starts_with("LifecycleId:"), "{e}");

    // Update keeps server-assigned fields and unknown fields round-trip.
    let mut p2 = projects.get(&id).await.unwrap();
    p2.description = Some("does things".into());
    p2.deployment_process_id = None;
    p2.extra
        .insert("ReleaseNotesTemplate".into(), serde_json::json!("notes"));
    let p2 = projects.update(&p2).await.unwrap();
    assert_eq!(p2.description.as_deref(), Some("does things"));
    assert_eq!(
        p2.deployment_process_id.as_deref(),
        Some("deploymentprocess-Projects-1")
    );
    assert_eq!(
        projects.get(&id).await.unwrap().extra["ReleaseNotesTemplate"],
        "notes"
    );

    // Renaming onto another project's name is refused.
    let q = projects.create(&Project::new("Second")).await.unwrap();
    let mut q2 = q.clone();
    q2.name = "my app".into();
    assert_eq!(api_status(&projects.update(&q2).await.unwrap_err()), 400);

    // find_by_name and the default-space form of the URL.
    assert_eq!(
        projects.find_by_name("second").await.unwrap().unwrap().id,
        q.id
    );
    let via_default: Project = t
        .client
        .get_json(&format!("/api/projects/{id}"), &[])
        .await
        .unwrap();
    assert_eq!(via_default.name, "My App");

    // Deleting a project deletes its process.
    projects.delete(&id).await.unwrap();
    assert!(projects.get(&id).await.unwrap_err().is_not_found());
    assert!(
        t.client
            .deployment_processes(sp)
            .get_for_project(&id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn paging_follows_next_links_and_filters() {
    let t = start().await;
    let envs = t.client.environments("Spaces-1");
    for i in 0..25 {
        envs.create(&Environment::new(format!("env-{i:02}")))
            .await
            .unwrap();
    }
    let page = envs.list(&ListOptions::default().take(10)).await.unwrap();
    assert_eq!(page.total_results, 25);
    assert_eq!(page.items.len(), 10);
    assert_eq!(page.items_per_page, 10);
    assert_eq!(page.number_of_pages, 3);
    assert_eq!(page.last_page_number, 2);
    assert_eq!(
        page.links["Page.Next"],
        "/api/Spaces-1/environments?skip=10&take=10"
    );
    let last = envs
        .list(&ListOptions::default().skip(20).take(10))
        .await
        .unwrap();
    assert_eq!(last.items.len(), 5);
    assert!(last.next_link().is_none());
    let past = envs.list(&ListOptions::default().skip(100)).await.unwrap();
    assert!(past.items.is_empty());
    assert_eq!(past.total_results, 25);

    let all = envs
        .list_all(&ListOptions::default().take(7))
        .await
        .unwrap();
    let names: Vec<_> = all.iter().map(|e| e.name.clone()).collect();
    let expected: Vec<_> = (0..25).map(|i| format!("env-{i:02}")).collect();
    assert_eq!(names, expected);

    // partialName is a case-insensitive substring; filters survive paging.
    let matching = envs
        .list_all(&ListOptions::default().partial_name("ENV-1").take(3))
        .await
        .unwrap();
    assert_eq!(matching.len(), 10);
    // LIKE wildcards are literal.
    assert!(
        envs.list_all(&ListOptions::default().partial_name("%"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        envs.list_all(&ListOptions::default().partial_name("env_0"))
            .await
            .unwrap()
            .is_empty()
    );

    let some = envs
        .list(&ListOptions::default().ids(["Environments-3", "Environments-7", "Environments-99"]))
        .await
        .unwrap();
    assert_eq!(some.total_results, 2);
    assert_eq!(some.items[1].name, "env-06");
}

#[tokio::test]
async fn authentication_is_required_everywhere() {
    let t = start().await;
    let anon = common::raw();
    for path in [
        "/api",
        "/api/spaces",
        "/api/Spaces-1/projects",
        "/api/Spaces-1/feeds/feeds-builtin",
        "/api/nope",
    ] {
        let r = anon.get(format!("{}{path}", t.url())).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["ErrorMessage"].as_str().unwrap().contains("API key"));
    }
    let wrong = client_for(&t.url(), "API-WRONGKEY");
    let e = wrong
        .projects("Spaces-1")
        .create(&Project::new("x"))
        .await
        .unwrap_err();
    assert_eq!(api_status(&e), 401);
    // Nothing was written.
    assert!(
        t.client
            .projects("Spaces-1")
            .list_all(&ListOptions::default())
            .await
            .unwrap()
            .is_empty()
    );
    // A bearer token works too.
    let bearer = octopus_client::Client::new(octopus_client::Config::new(
        t.url(),
        octopus_client::Credentials::AccessToken(KEY.into()),
    ))
    .unwrap();
    assert_eq!(bearer.root().await.unwrap().api_version, "3.0.0");
}

#[tokio::test]
async fn not_found_cases() {
    let t = start().await;
    assert!(
        t.client
            .projects("Spaces-1")
            .get("Projects-42")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        t.client
            .projects("Spaces-9")
            .list(&ListOptions::default())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        t.client
            .environments("Spaces-1")
            .delete("Environments-5")
            .await
            .unwrap_err()
            .is_not_found()
    );
    let mut ghost = Project::new("ghost");
    ghost.id = Some("Projects-77".into());
    assert!(
        t.client
            .projects("Spaces-1")
            .update(&ghost)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let r: Result<serde_json::Value, _> = t
        .client
        .get_json("/api/Spaces-1/no-such-collection", &[])
        .await;
    assert!(r.unwrap_err().is_not_found());
}

#[tokio::test]
async fn nothing_leaks_across_spaces() {
    let t = start().await;
    let s2 = t
        .client
        .spaces()
        .create(&Space::new("Second"))
        .await
        .unwrap()
        .id
        .unwrap();
    let p = t
        .client
        .projects(&s2)
        .create(&Project::new("Secret project"))
        .await
        .unwrap();
    let pid = p.id.unwrap();
    let env = t
        .client
        .environments(&s2)
        .create(&Environment::new("S2 env"))
        .await
        .unwrap()
        .id
        .unwrap();

    let p1 = t.client.projects("Spaces-1");
    assert!(p1.get(&pid).await.unwrap_err().is_not_found());
    assert!(
        p1.list_all(&ListOptions::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        p1.list_all(&ListOptions::default().ids([pid.clone()]))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(p1.delete(&pid).await.unwrap_err().is_not_found());
    assert!(
        t.client
            .deployment_processes("Spaces-1")
            .get_for_project(&pid)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // References across spaces are refused.
    let mut g = ProjectGroup::new("cross");
    g.environment_ids = vec![env];
    assert_eq!(
        api_status(
            &t.client
                .project_groups("Spaces-1")
                .create(&g)
                .await
                .unwrap_err()
        ),
        400
    );
    let mut cross = Project::new("cross");
    cross.project_group_id = t
        .client
        .project_groups(&s2)
        .list(&ListOptions::default())
        .await
        .unwrap()
        .items[0]
        .id
        .clone()
        .unwrap();
    assert_eq!(api_status(&p1.create(&cross).await.unwrap_err()), 400);
    // Still intact in its own space.
    assert_eq!(
        t.client.projects(&s2).get(&pid).await.unwrap().name,
        "Secret project"
    );
}

#[tokio::test]
async fn feeds_keep_secrets_and_protect_the_builtin_feed() {
    let t = start().await;
    let feeds = t.client.feeds("Spaces-1");
    let mut f = Feed::new(
        "NuGet.org",
        FeedType::NuGet,
        Some("https://api.nuget.org/v3/index.json".into()),
    );
    f.username = Some("me".into());
    f.password = Some(SensitiveValue::new("hunter2"));
    let created = feeds.create(&f).await.unwrap();
    let id = created.id.clone().unwrap();
    assert_eq!(id, "Feeds-1");
    let pw = created.password.clone().unwrap();
    assert!(pw.has_value);
    assert_eq!(pw.new_value, None);

    // The secret never appears in any response.
    let raw = common::raw()
        .get(format!("{}/api/Spaces-1/feeds", t.url()))
        .header("X-Octopus-ApiKey", KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.contains("\"HasValue\":true"), "{raw}");
    assert!(!raw.contains("hunter2"), "{raw}");

    // HasValue without NewValue keeps it; null clears it.
    let mut again = feeds.get(&id).await.unwrap();
    again.username = Some("you".into());
    let kept = feeds.update(&again).await.unwrap();
    assert!(kept.password.unwrap().has_value);
    let mut cleared = feeds.get(&id).await.unwrap();
    cleared.password = None;
    assert!(feeds.update(&cleared).await.unwrap().password.is_none());

    // Validation: URI required, BuiltIn not creatable, type fixed.
    let e = feeds
        .create(&Feed::new("No URI", FeedType::Docker, None))
        .await
        .unwrap_err();
    assert!(api_errors(&e)[0].starts_with("FeedUri:"), "{e}");
    let e = feeds
        .create(&Feed::new("Another builtin", FeedType::BuiltIn, None))
        .await
        .unwrap_err();
    assert_eq!(api_status(&e), 400);
    let mut retyped = feeds.get(&id).await.unwrap();
    retyped.feed_type = FeedType::Helm;
    assert_eq!(api_status(&feeds.update(&retyped).await.unwrap_err()), 400);
    let mut ecr = Feed::new("ECR", FeedType::AwsElasticContainerRegistry, None);
    ecr.region = Some("eu-west-1".into());
    ecr.access_key = Some("AKIA".into());
    ecr.secret_key = Some(SensitiveValue::new("s3cr3t"));
    let ecr = feeds.create(&ecr).await.unwrap();
    assert!(ecr.secret_key.unwrap().has_value);

    // The built-in feed cannot be deleted, but external ones can.
    assert_eq!(
        api_status(&feeds.delete(BUILT_IN_FEED_ID).await.unwrap_err()),
        400
    );
    feeds.delete(&id).await.unwrap();
    let docker_only: Vec<Feed> = t
        .client
        .get_json(
            "/api/Spaces-1/feeds",
            &[("feedType", "AwsElasticContainerRegistry".into())],
        )
        .await
        .map(|c: octopus_client::model::ResourceCollection<Feed>| c.items)
        .unwrap();
    assert_eq!(docker_only.len(), 1);
    assert_eq!(docker_only[0].name, "ECR");
}

#[tokio::test]
async fn data_survives_a_restart() {
    let t = start().await;
    let p = t
        .client
        .projects("Spaces-1")
        .create(&Project::new("Persistent"))
        .await
        .unwrap();
    let dir = t.dir;
    t.server.shutdown().await;
    let mut cfg = octopus_server::ServerConfig::new(dir.path());
    cfg.api_key = None;
    let s = octopus_server::Server::start(cfg).await.unwrap();
    // Without --api-key a key is generated once and kept.
    let key = s.api_key().to_owned();
    assert!(key.starts_with("API-"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("api-key")).unwrap(),
        key
    );
    let c = client_for(&s.url(), &key);
    assert_eq!(
        c.projects("Spaces-1")
            .get(p.id.as_deref().unwrap())
            .await
            .unwrap()
            .name,
        "Persistent"
    );
    assert_eq!(
        c.spaces()
            .list_all(&ListOptions::default())
            .await
            .unwrap()
            .len(),
        1
    );
    s.shutdown().await;
}

/// Spaces created and deleted concurrently are all usable the moment their create
/// is acknowledged: the server's space cache never loses a space to a racing
/// refresh (a stale refresh finishing last once made a new space answer 404).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrently_created_spaces_are_usable_at_once() {
    let t = start().await;
    for round in 0..5 {
        let mut creates = tokio::task::JoinSet::new();
        for i in 0..24 {
            let c = t.client.clone();
            creates.spawn(async move {
                let id = c
                    .spaces()
                    .create(&Space::new(format!("race-{round}-{i}")))
                    .await
                    .unwrap()
                    .id
                    .unwrap();
                c.environments(&id)
                    .list_all(&ListOptions::default())
                    .await
                    .unwrap_or_else(|e| panic!("new space {id} is unusable: {e}"));
                if i % 3 == 0 {
                    // Interleave deletions, which refresh the cache too.
                    let mut s = c.spaces().get(&id).await.unwrap();
                    s.task_queue_stopped = true;
                    c.spaces().update(&s).await.unwrap();
                    c.spaces().delete(&id).await.unwrap();
                    None
                } else {
                    Some(id)
                }
            });
        }
        let ids: Vec<String> = creates.join_all().await.into_iter().flatten().collect();
        for id in &ids {
            t.client
                .environments(id)
                .list_all(&ListOptions::default())
                .await
                .unwrap_or_else(|e| panic!("space {id} (round {round}) is unusable: {e}"));
        }
    }
}

// ------------------------------------------------- Octopus' own clients' needs

/// GET a path as raw JSON.
async fn get_json(url: &str, path: &str) -> serde_json::Value {
    let resp = common::raw()
        .get(format!("{url}{path}"))
        .header("X-Octopus-ApiKey", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "GET {path}");
    resp.json().await.unwrap()
}

/// Sends a JSON body; returns the status and the JSON answer.
async fn send_json(
    url: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let resp = common::raw()
        .request(method, format!("{url}{path}"))
        .header("X-Octopus-ApiKey", KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

/// Whether `version` is semver at least `min` (numeric major.minor.patch), as
/// api-client.ts's `isServerVersionAtLeast` decides.
fn at_least(version: &str, min: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    let (v, m) = (parse(version), parse(min));
    assert_eq!(v.len(), 3, "{version} is not major.minor.patch");
    v >= m
}

#[tokio::test]
async fn root_version_passes_the_octopus_clients_executions_api_check() {
    let t = start().await;
    let root = get_json(&t.url(), "/api").await;
    let version = root["Version"].as_str().unwrap();
    // @octopusdeploy/api-client refuses its executions API below this version.
    assert!(at_least(version, "2022.3.5512"), "{version}");
    assert_eq!(version, "2024.1.0");
    assert_eq!(root["OctopusLiteVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(root["ApiVersion"], "3.0.0");
}

#[tokio::test]
async fn documents_carry_the_fields_octopus_clients_require() {
    let t = start().await;
    let url = t.url();
    let project = t
        .client
        .projects("Spaces-1")
        .create(&Project::new("P"))
        .await
        .unwrap();
    let pid = project.id.clone().unwrap();
    let p = get_json(&url, &format!("/api/Spaces-1/projects/{pid}")).await;
    assert_eq!(
        p["PersistenceSettings"],
        serde_json::json!({"Type": "Database"})
    );
    assert_eq!(p["Templates"], serde_json::json!([]));
    assert_eq!(
        p["ReleaseCreationStrategy"],
        serde_json::json!({"ChannelId": null, "ReleaseCreationPackage": null, "ReleaseCreationPackageStepId": null})
    );
    assert_eq!(p["AutoCreateRelease"], false);
    assert_eq!(p["AutoDeployReleaseOverrides"], serde_json::json!([]));
    assert_eq!(p["ExtensionSettings"], serde_json::json!([]));
    for key in ["ClonedFromProjectId", "Description"] {
        assert!(
            p.as_object().unwrap().contains_key(key),
            "{key} missing: {p}"
        );
        assert!(p[key].is_null(), "{p}");
    }
    let listed = get_json(&url, "/api/Spaces-1/projects").await;
    assert_eq!(
        listed["Items"][0]["PersistenceSettings"]["Type"],
        "Database"
    );

    let env = t
        .client
        .environments("Spaces-1")
        .create(&Environment::new("Dev"))
        .await
        .unwrap();
    let e = get_json(
        &url,
        &format!("/api/Spaces-1/environments/{}", env.id.unwrap()),
    )
    .await;
    assert_eq!(e["ExtensionSettings"], serde_json::json!([]));

    let feed = get_json(&url, "/api/Spaces-1/feeds/feeds-builtin").await;
    assert_eq!(feed["IsBuiltInRepoSyncEnabled"], false);

    let (status, process) = send_json(
        &url,
        reqwest::Method::PUT,
        &format!("/api/Spaces-1/projects/{pid}/deploymentprocesses"),
        serde_json::json!({"Version": 0, "Steps": [{"Name": "s", "Actions": [
            {"Name": "a", "ActionType": "Octopus.Script"}]}]}),
    )
    .await;
    assert_eq!(status, 200, "{process}");
    let process = get_json(
        &url,
        &format!("/api/Spaces-1/projects/{pid}/deploymentprocesses"),
    )
    .await;
    let action = process["Steps"][0]["Actions"][0].as_object().unwrap();
    for key in ["Notes", "WorkerPoolId", "WorkerPoolVariable"] {
        assert!(
            action.contains_key(key) && action[key].is_null(),
            "{key}: {action:?}"
        );
    }

    // Round trips: the new fields keep what clients send, unknown fields still survive.
    let body = serde_json::json!({
        "Name": "Q",
        "Description": "d",
        "Templates": [{"Id": "t1", "Name": "Region", "DisplaySettings": {"Octopus.ControlType": "SingleLineText"}}],
        "PersistenceSettings": {"Type": "Database", "Future": 1},
        "ReleaseCreationStrategy": {"ChannelId": "Channels-1", "ReleaseCreationPackage": {"DeploymentAction": "a", "PackageReference": ""}, "ReleaseCreationPackageStepId": "s", "Other": true},
        "AutoCreateRelease": true,
        "AutoDeployReleaseOverrides": [{"EnvironmentId": "Environments-1", "ReleaseId": "Releases-1"}],
        "ExtensionSettings": [{"ExtensionId": "jira", "Values": {"JiraIssueTracker": true}}],
        "SomethingNew": {"x": [1]},
    });
    let (status, created) = send_json(
        &url,
        reqwest::Method::POST,
        "/api/Spaces-1/projects",
        body.clone(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let got = get_json(
        &url,
        &format!("/api/Spaces-1/projects/{}", created["Id"].as_str().unwrap()),
    )
    .await;
    for key in [
        "Description",
        "Templates",
        "PersistenceSettings",
        "ReleaseCreationStrategy",
        "AutoCreateRelease",
        "AutoDeployReleaseOverrides",
        "ExtensionSettings",
        "SomethingNew",
    ] {
        assert_eq!(got[key], body[key], "{key}");
    }
    // And through the Rust client, which reads and writes whole documents.
    let mut q = t
        .client
        .projects("Spaces-1")
        .get(created["Id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(q.persistence_settings.kind, "Database");
    q.is_disabled = true;
    t.client.projects("Spaces-1").update(&q).await.unwrap();
    let got = get_json(
        &url,
        &format!("/api/Spaces-1/projects/{}", created["Id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(got["Templates"], body["Templates"]);
    assert_eq!(got["SomethingNew"], body["SomethingNew"]);
    assert_eq!(
        got["ReleaseCreationStrategy"],
        body["ReleaseCreationStrategy"]
    );
}

#[tokio::test]
async fn environments_v2_sort_order_and_capabilities() {
    let t = start().await;
    let url = t.url();
    let envs = t.client.environments("Spaces-1");
    let mut ids = Vec::new();
    for name in ["Dev", "Test", "Prod"] {
        ids.push(
            envs.create(&Environment::new(name))
                .await
                .unwrap()
                .id
                .unwrap(),
        );
    }
    // The v2 listing, not an environment called `v2`.
    for base in ["/api/Spaces-1/environments/v2", "/api/environments/v2"] {
        let v2 = get_json(&url, base).await;
        assert_eq!(v2["TotalResults"], 3, "{v2}");
        assert_eq!(v2["Items"][0]["Name"], "Dev");
        assert_eq!(v2["Items"][0]["Type"], "Static");
        assert_eq!(v2["Items"][0]["Slug"], "dev");
        assert!(v2["Items"][0]["SortOrder"].is_number());
    }
    let v2 = get_json(
        &url,
        "/api/Spaces-1/environments/v2?partialName=pro&take=100&skip=0",
    )
    .await;
    assert_eq!(v2["TotalResults"], 1);
    let v2 = get_json(&url, "/api/Spaces-1/environments/v2?type=Static").await;
    assert_eq!(v2["TotalResults"], 3);
    let v2 = get_json(&url, "/api/Spaces-1/environments/v2?type=Ephemeral").await;
    assert_eq!(v2["TotalResults"], 0);
    let resp = common::raw()
        .get(format!("{url}/api/Spaces-1/environments/v2?type=Bogus"))
        .header("X-Octopus-ApiKey", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // Sort order: the ordered ID list, as the client's `sort(order)` sends it.
    let order = serde_json::json!([ids[2], ids[0]]);
    let (status, answer) = send_json(
        &url,
        reqwest::Method::PUT,
        "/api/Spaces-1/environments/sortorder",
        order,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // Unlisted environments follow, in their previous order.
    assert_eq!(answer, serde_json::json!([ids[2], ids[0], ids[1]]));
    let listed = envs.list_all(&ListOptions::default()).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Prod", "Dev", "Test"]);
    let orders: Vec<i32> = listed.iter().map(|e| e.sort_order).collect();
    assert_eq!(orders, [0, 1, 2]);
    let v2 = get_json(&url, "/api/Spaces-1/environments/v2").await;
    assert_eq!(v2["Items"][0]["Name"], "Prod");
    // The default-space form, and refusals: unknown or repeated IDs, not a list.
    let (status, _) = send_json(
        &url,
        reqwest::Method::PUT,
        "/api/environments/sortorder",
        serde_json::json!([ids[0]]),
    )
    .await;
    assert_eq!(status, 200);
    for bad in [
        serde_json::json!(["Environments-99"]),
        serde_json::json!([ids[0], ids[0]]),
        serde_json::json!({"Ids": []}),
    ] {
        let (status, e) = send_json(
            &url,
            reqwest::Method::PUT,
            "/api/Spaces-1/environments/sortorder",
            bad.clone(),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {e}");
        assert!(e["ErrorMessage"].is_string(), "{e}");
    }
    // Nothing changed by the refused ones.
    let names: Vec<String> = envs
        .list_all(&ListOptions::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["Dev", "Prod", "Test"]);
    // `sortorder` is not an ID either.
    let resp = common::raw()
        .get(format!("{url}/api/Spaces-1/environments/sortorder"))
        .header("X-Octopus-ApiKey", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);

    let caps = get_json(&url, "/api/capabilities").await;
    let caps = caps["Capabilities"].as_array().unwrap();
    assert!(caps.iter().any(|c| c == "GetAllSpacesRequest"), "{caps:?}");
}
