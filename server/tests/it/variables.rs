//! Variable sets through HTTP: the project's set created and deleted with it, whole-set
//! PUT with validation and the `Version` check, sensitive values (sealed at rest, never
//! answered, kept or replaced by `Id`), scope values, the `?ids=` list, frozen
//! snapshots and the executor's decrypted view.

use std::path::Path;

use octopus_client::model::{
    Action, DeploymentProcess, Environment, Project, Step, Variable, VariableSet,
};
use octopus_client::{Client, Error};
use octopus_server::api::{
    FROZEN_MESSAGE, STALE_MESSAGE, load_variables_for_run, snapshot_variable_set,
};
use octopus_server::store::Store;
use octopus_server::{Server, ServerConfig};

use crate::common::{KEY, TestServer, client_for, start};

const SECRET: &str = "VARSECRET-5555";
const SECRET2: &str = "VARSECRET-6666";
const SECRET3: &str = "VARSECRET-8888";

fn errors_of(e: Error) -> (u16, String, Vec<String>) {
    match e {
        Error::Api {
            status,
            message,
            errors,
        } => (status, message, errors),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn project(c: &Client, name: &str) -> String {
    c.projects("Spaces-1")
        .create(&Project::new(name))
        .await
        .unwrap()
        .id
        .unwrap()
}

async fn environment(c: &Client, name: &str) -> String {
    c.environments("Spaces-1")
        .create(&Environment::new(name))
        .await
        .unwrap()
        .id
        .unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(dir.join(format!("octopus-lite.db{suffix}"))) {
            all.extend(b);
        }
    }
    all
}

async fn restart(dir: &Path) -> (octopus_server::RunningServer, Client) {
    let mut cfg = ServerConfig::new(dir);
    cfg.api_key = Some(KEY.into());
    let s = Server::start(cfg).await.unwrap();
    let c = client_for(&s.url(), KEY);
    (s, c)
}

#[tokio::test]
async fn a_project_has_an_empty_set_from_its_creation_to_its_deletion() {
    let t = start().await;
    let pid = project(&t.client, "Vars").await;
    let vars = t.client.variables("Spaces-1");
    let set = vars.get_for_owner(&pid).await.unwrap();
    assert_eq!(set.id.as_deref(), Some(&*format!("variableset-{pid}")));
    assert_eq!(set.owner_id, pid);
    assert_eq!(set.version, 0);
    assert!(set.variables.is_empty());
    assert_eq!(set.space_id.as_deref(), Some("Spaces-1"));
    assert!(set.links["Self"].ends_with(&format!("/variables/variableset-{pid}")));
    // The project links to it; the default-space route serves it too.
    let p = t.client.projects("Spaces-1").get(&pid).await.unwrap();
    assert_eq!(p.variable_set_id.as_deref(), set.id.as_deref());
    let raw: serde_json::Value = t
        .client
        .get_json(&format!("/api/variables/variableset-{pid}"), &[])
        .await
        .unwrap();
    assert_eq!(raw["OwnerId"], pid.as_str());
    assert!(raw["ScopeValues"]["Environments"].is_array());

    t.client.projects("Spaces-1").delete(&pid).await.unwrap();
    let gone = vars.get_for_owner(&pid).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    let missing = vars.get("variableset-Projects-999").await.unwrap_err();
    assert!(missing.is_not_found());
}

#[tokio::test]
async fn put_replaces_the_set_assigning_ids_and_versions() {
    let t = start().await;
    let pid = project(&t.client, "Vars").await;
    let env = environment(&t.client, "Production").await;
    let vars = t.client.variables("Spaces-1");
    let mut set = vars.get_for_owner(&pid).await.unwrap();
    let mut url = Variable::new("Url", "https://prod.example.com");
    url.description = Some("where it runs".into());
    url.scope.insert("Environment".into(), vec![env.clone()]);
    url.scope.insert("Role".into(), vec!["web".into()]);
    url.scope.insert("Channel".into(), vec![]);
    set.variables = vec![url, Variable::new("Plain", "x")];
    let saved = vars.update(&set).await.unwrap();
    assert_eq!(saved.version, 1);
    let ids: Vec<_> = saved.variables.iter().map(|v| v.id.clone()).collect();
    assert!(
        ids.iter()
            .all(|i| i.as_ref().is_some_and(|i| i.len() == 36))
    );
    assert_ne!(ids[0], ids[1]);
    let v = &saved.variables[0];
    assert_eq!(v.r#type, "String");
    assert!(!v.is_sensitive);
    assert_eq!(v.value.as_deref(), Some("https://prod.example.com"));
    // Empty scope kinds are dropped.
    assert_eq!(v.scope.keys().collect::<Vec<_>>(), ["Environment", "Role"]);
    let envs = &saved.scope_values["Environments"];
    assert!(
        envs.iter()
            .any(|e| e["Id"] == env.as_str() && e["Name"] == "Production")
    );
    assert!(
        saved.scope_values["Roles"]
            .iter()
            .any(|r| r["Name"] == "web")
    );

    // A second write with the old version is refused with Octopus' text.
    let err = vars.update(&set).await.unwrap_err();
    let (status, message, _) = errors_of(err);
    assert_eq!(status, 409);
    assert_eq!(message, STALE_MESSAGE);
    assert!(message.contains("another user has made changes to the variables between when you started editing and when you saved"));

    // Ids survive a round trip; removing a variable removes it.
    let mut again = vars.get_for_owner(&pid).await.unwrap();
    again.variables.truncate(1);
    let saved2 = vars.update(&again).await.unwrap();
    assert_eq!(saved2.version, 2);
    assert_eq!(saved2.variables.len(), 1);
    assert_eq!(saved2.variables[0].id, ids[0]);
}

#[tokio::test]
async fn invalid_sets_are_refused_with_what_to_fix() {
    let t = start().await;
    let pid = project(&t.client, "Vars").await;
    let vars = t.client.variables("Spaces-1");
    let base = vars.get_for_owner(&pid).await.unwrap();
    let cases: Vec<(Vec<Variable>, &str)> = vec![
        (
            vec![Variable::new("", "x")],
            "Variables[0].Name: The Variables[0].Name field is required.",
        ),
        (
            vec![Variable {
                r#type: "Bogus".into(),
                ..Variable::new("A", "x")
            }],
            "Variables[0].Type: 'Bogus' is not a variable type",
        ),
        (
            vec![{
                let mut v = Variable::new("A", "x");
                v.scope.insert("Planet".into(), vec!["Mars".into()]);
                v
            }],
            "Variables[0].Scope: 'Planet' is not a scope",
        ),
        (
            vec![{
                let mut v = Variable::new("A", "x");
                v.scope
                    .insert("Environment".into(), vec!["Environments-999".into()]);
                v
            }],
            "Variables[0].Scope.Environment: The Environment 'Environments-999' was not found in this space.",
        ),
        (
            vec![
                Variable {
                    id: Some("same".into()),
                    ..Variable::new("A", "x")
                },
                Variable {
                    id: Some("same".into()),
                    ..Variable::new("B", "y")
                },
            ],
            "Variable ids must be unique.",
        ),
        (
            vec![{
                let mut v = Variable::new("A", "x");
                v.prompt = Some(serde_json::json!({"Label": "A?"}));
                v.scope.insert("Role".into(), vec!["web".into()]);
                v
            }],
            "Prompted variables cannot be scoped to anything except an environment.",
        ),
    ];
    for (variables, expected) in cases {
        let set = VariableSet {
            variables,
            ..base.clone()
        };
        let (status, _, errors) = errors_of(vars.update(&set).await.unwrap_err());
        assert_eq!(status, 400, "{expected}");
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{expected:?} not in {errors:?}"
        );
    }
    // Nothing was stored.
    assert_eq!(vars.get_for_owner(&pid).await.unwrap().version, 0);
    // Another owner, another ID in the body.
    let mut wrong = base.clone();
    wrong.owner_id = "Projects-999".into();
    assert_eq!(errors_of(vars.update(&wrong).await.unwrap_err()).0, 400);
    let mut wrong = base.clone();
    wrong.id = Some("variableset-Projects-999".into());
    let raw = t
        .client
        .request::<_, serde_json::Value>(
            reqwest::Method::PUT,
            &format!("/api/Spaces-1/variables/variableset-{pid}"),
            &[],
            Some(&wrong),
        )
        .await
        .unwrap_err();
    assert_eq!(errors_of(raw).0, 400);
}

#[tokio::test]
async fn sensitive_values_are_never_answered_and_follow_their_id() {
    let t = start().await;
    let pid = project(&t.client, "Vars").await;
    let vars = t.client.variables("Spaces-1");
    let mut set = vars.get_for_owner(&pid).await.unwrap();
    set.variables = vec![
        Variable::sensitive("Db.Password", SECRET),
        // Older clients: IsSensitive alone.
        Variable {
            is_sensitive: true,
            ..Variable::new("Legacy", SECRET2)
        },
        Variable::sensitive("Kept", SECRET3),
    ];
    let saved = vars.update(&set).await.unwrap();
    assert_eq!(saved.variables.len(), 3);
    for v in &saved.variables {
        assert_eq!(v.value, None, "{v:?}");
        assert!(v.is_sensitive);
        assert_eq!(v.r#type, "Sensitive");
    }
    let read = vars.get_for_owner(&pid).await.unwrap();
    assert!(read.variables.iter().all(|v| v.value.is_none()));
    let raw: serde_json::Value = t
        .client
        .get_json(&format!("/api/Spaces-1/variables/variableset-{pid}"), &[])
        .await
        .unwrap();
    assert!(!raw.to_string().contains("VARSECRET"), "{raw}");
    assert_eq!(raw["Variables"][0]["Value"], serde_json::Value::Null);

    // Written back as read (same Id, null value): kept. Same Id, "": kept. `Kept` is
    // sent with "" here and never given a value again, so its final value proves it.
    let mut back = read.clone();
    back.variables[1].value = Some(String::new());
    let kept = back
        .variables
        .iter_mut()
        .find(|v| v.name == "Kept")
        .unwrap();
    assert!(kept.id.is_some());
    kept.value = Some(String::new());
    vars.update(&back).await.unwrap();
    // Same Id with a value: replaced; a new one without Id and without value: none.
    let mut next = vars.get_for_owner(&pid).await.unwrap();
    next.variables[1].value = Some("VARSECRET-7777".into());
    next.variables.push(Variable::sensitive("Empty", ""));
    vars.update(&next).await.unwrap();
    // No Id and no value: a variable re-created without its Id loses the secret.
    let mut wiped = vars.get_for_owner(&pid).await.unwrap();
    let mut recreated = wiped.variables[0].clone();
    recreated.id = None;
    recreated.name = "Recreated".into();
    wiped.variables.push(recreated);
    vars.update(&wiped).await.unwrap();

    let dir = t.dir;
    t.server.shutdown().await;
    let bytes = database_bytes(dir.path());
    for secret in [SECRET, SECRET2, SECRET3, "VARSECRET-7777"] {
        assert!(
            !contains(&bytes, secret),
            "{secret} is stored in plain text"
        );
    }
    assert!(contains(&bytes, "EncryptedValue"));
    // The executor's view has them.
    let store = Store::open(dir.path()).unwrap();
    let run = store
        .read_blocking(|c| load_variables_for_run(c, "Spaces-1", &format!("variableset-{pid}")))
        .unwrap();
    let value = |name: &str| {
        run.variables
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("{name}"))
            .value
            .clone()
    };
    assert_eq!(value("Db.Password").as_deref(), Some(SECRET));
    assert_eq!(value("Legacy").as_deref(), Some("VARSECRET-7777"));
    assert_eq!(value("Kept").as_deref(), Some(SECRET3));
    assert_eq!(value("Empty"), None);
    assert_eq!(value("Recreated"), None);
}

#[tokio::test]
async fn scope_values_list_environments_actions_and_roles() {
    let t = start().await;
    let pid = project(&t.client, "Vars").await;
    let env = environment(&t.client, "Test").await;
    let procs = t.client.deployment_processes("Spaces-1");
    let mut process: DeploymentProcess = procs.get_for_project(&pid).await.unwrap();
    let mut action = Action {
        name: "Run".into(),
        action_type: "Octopus.Script".into(),
        ..Action::default()
    };
    action
        .properties
        .insert("Octopus.Action.Script.ScriptBody".into(), "echo hi".into());
    let mut step = Step {
        name: "Run".into(),
        actions: vec![action],
        ..Step::default()
    };
    step.properties
        .insert("Octopus.Action.TargetRoles".into(), "web, db".into());
    process.steps = vec![step];
    let process = procs.update(&process).await.unwrap();
    let action_id = process.steps[0].actions[0].id.clone().unwrap();

    let vars = t.client.variables("Spaces-1");
    let set = vars.get_for_owner(&pid).await.unwrap();
    let sv = &set.scope_values;
    assert_eq!(
        sv["Environments"],
        [serde_json::json!({"Id": env, "Name": "Test"})]
    );
    assert_eq!(
        sv["Actions"],
        [serde_json::json!({"Id": action_id, "Name": "Run"})]
    );
    let roles: Vec<_> = sv["Roles"].iter().map(|r| r["Name"].clone()).collect();
    assert_eq!(roles, ["db", "web"]);
    assert_eq!(sv["Processes"][0]["Id"], pid.as_str());
    // Scoping to the action works.
    let mut set = set;
    let mut v = Variable::new("Step.Only", "1");
    v.scope.insert("Action".into(), vec![action_id.clone()]);
    set.variables.push(v);
    let saved = vars.update(&set).await.unwrap();
    assert_eq!(saved.variables[0].scope["Action"], [action_id]);
}

#[tokio::test]
async fn sets_are_listed_by_ids_as_an_array() {
    let t = start().await;
    let a = project(&t.client, "A").await;
    let b = project(&t.client, "B").await;
    let vars = t.client.variables("Spaces-1");
    let sets = vars
        .list(&[
            format!("variableset-{a}"),
            "variableset-Projects-999".into(),
            format!("variableset-{b}"),
        ])
        .await
        .unwrap();
    let owners: Vec<_> = sets.iter().map(|s| s.owner_id.clone()).collect();
    assert_eq!(owners, [a, b]);
}

/// Terraform writes many variables of one set at once: every writer's change lands.
#[tokio::test]
async fn parallel_writers_all_land_through_modify_set() {
    let t = start().await;
    let pid = project(&t.client, "Busy").await;
    let id = VariableSet::id_for_owner(&pid);
    let writers = (0..12).map(|i| {
        let client = t.client.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let vars = client.variables("Spaces-1");
            vars.modify_set(&id, |set| {
                set.variables
                    .push(Variable::sensitive(format!("V{i}"), format!("s{i}")));
                Ok::<_, ()>(())
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        })
    });
    for w in futures_join(writers).await {
        w.unwrap();
    }
    let set = t.client.variables("Spaces-1").get(&id).await.unwrap();
    assert_eq!(set.variables.len(), 12);
    assert_eq!(set.version, 12);
    // A change that changes nothing writes nothing.
    let (same, ()) = t
        .client
        .variables("Spaces-1")
        .modify_set(&id, |_| Ok::<_, ()>(()))
        .await
        .unwrap();
    assert_eq!(same.version, 12);
    // A refused change writes nothing either.
    let refused = t
        .client
        .variables("Spaces-1")
        .modify_set(&id, |set| {
            set.variables.clear();
            Err::<(), _>("no")
        })
        .await;
    assert!(matches!(
        refused,
        Err(octopus_client::ModifyError::Rejected("no"))
    ));
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn snapshots_are_frozen_copies_with_their_secrets() {
    let t = start().await;
    let pid = project(&t.client, "Release").await;
    let vars = t.client.variables("Spaces-1");
    let mut set = vars.get_for_owner(&pid).await.unwrap();
    set.variables = vec![
        Variable::sensitive("Token", SECRET),
        Variable::new("Plain", "p"),
    ];
    vars.update(&set).await.unwrap();
    let TestServer { server, dir, .. } = t;
    server.shutdown().await;

    let store = Store::open(dir.path()).unwrap();
    let snap = store
        .write_blocking(|tx| snapshot_variable_set(tx, "Spaces-1", &pid, 1))
        .unwrap();
    let prefix = format!("variableset-{pid}-s-1-");
    assert!(snap.starts_with(&prefix), "{snap}");
    let suffix = &snap[prefix.len()..];
    assert!(
        suffix.len() == 5 && suffix.bytes().all(|b| b.is_ascii_uppercase()),
        "{snap}"
    );
    let frozen = store
        .read_blocking(|c| load_variables_for_run(c, "Spaces-1", &snap))
        .unwrap();
    assert_eq!(frozen.variables[0].value.as_deref(), Some(SECRET));
    assert_eq!(frozen.owner_id, pid);
    drop(store);
    assert!(!contains(&database_bytes(dir.path()), SECRET));

    let (server, client) = restart(dir.path()).await;
    let vars = client.variables("Spaces-1");
    let read = vars.get(&snap).await.unwrap();
    assert_eq!(read.variables.len(), 2);
    assert_eq!(
        read.variables[0].value, None,
        "snapshots do not answer secrets"
    );
    assert_eq!(read.variables[1].value.as_deref(), Some("p"));
    let (status, message, _) = errors_of(vars.update(&read).await.unwrap_err());
    assert_eq!((status, message.as_str()), (400, FROZEN_MESSAGE));
    // The live set moves on; the snapshot does not.
    let mut live = vars.get_for_owner(&pid).await.unwrap();
    live.variables.clear();
    vars.update(&live).await.unwrap();
    assert_eq!(vars.get(&snap).await.unwrap().variables.len(), 2);
    // Deleting the project deletes its snapshots too.
    client.projects("Spaces-1").delete(&pid).await.unwrap();
    assert!(vars.get(&snap).await.unwrap_err().is_not_found());
    server.shutdown().await;
}
