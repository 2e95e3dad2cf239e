//! Secrets at rest (issue 13, defect 5): sensitive values encrypted with the master
//! key, old plaintext stores encrypted at start (crash-safely), a wrong or missing key
//! refused, private file modes whatever the umask, and API key files checked.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use octopus_client::model::{
    Action, DeploymentProcess, Feed, FeedType, Project, PropertyValue, SensitiveValue, Step,
};
use octopus_server::store::{Store, documents};
use octopus_server::{Server, ServerConfig};

use crate::common::{KEY, client_for, start};

const FEED_SECRET: &str = "PWSECRET-1111";
const KEY_SECRET: &str = "SKSECRET-3333";
const PROP_SECRET: &str = "PROPSECRET-2222";
const INPUT_SECRET: &str = "INPUTSECRET-4444";

/// Every byte of the database, its WAL and shared memory.
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(dir.join(format!("octopus-lite.db{suffix}"))) {
            all.extend(b);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

async fn store_secrets(client: &octopus_client::Client) -> (String, String) {
    let mut feed = Feed::new(
        "Private",
        FeedType::NuGet,
        Some("https://nuget.example.com/v3/index.json".into()),
    );
    feed.password = Some(SensitiveValue::new(FEED_SECRET));
    feed.secret_key = Some(SensitiveValue::new(KEY_SECRET));
    let feed = client.feeds("Spaces-1").create(&feed).await.unwrap();
    let project = client
        .projects("Spaces-1")
        .create(&Project::new("Secretive"))
        .await
        .unwrap();
    let procs = client.deployment_processes("Spaces-1");
    let pid = project.id.clone().unwrap();
    let mut process: DeploymentProcess = procs.get_for_project(&pid).await.unwrap();
    let mut action = Action {
        name: "Run".into(),
        action_type: "Octopus.Script".into(),
        ..Action::default()
    };
    action.properties.insert(
        "Octopus.Action.Script.ScriptBody".into(),
        PropertyValue::from("echo hi"),
    );
    action.properties.insert(
        "Password".into(),
        PropertyValue::Sensitive(SensitiveValue::new(PROP_SECRET)),
    );
    action.inputs = Some(serde_json::json!({
        "token": {"HasValue": true, "NewValue": INPUT_SECRET}
    }));
    process.steps = vec![Step {
        name: "Run".into(),
        actions: vec![action],
        ..Step::default()
    }];
    let stored = procs.update(&process).await.unwrap();
    (feed.id.unwrap(), stored.id.unwrap())
}

/// The secrets as the store reads them back (decrypted).
fn stored_values(dir: &Path, feed: &str, process: &str) -> (Feed, DeploymentProcess) {
    let store = Store::open(dir).unwrap();
    store
        .read_blocking(|c| {
            Ok((
                documents::get::<Feed>(c, "feeds", "Spaces-1", feed)?.unwrap(),
                documents::get::<DeploymentProcess>(c, "deploymentprocesses", "Spaces-1", process)?
                    .unwrap(),
            ))
        })
        .unwrap()
}

fn assert_secrets_intact(feed: &Feed, process: &DeploymentProcess) {
    assert_eq!(
        feed.password.as_ref().unwrap().new_value.as_deref(),
        Some(FEED_SECRET)
    );
    assert_eq!(
        feed.secret_key.as_ref().unwrap().new_value.as_deref(),
        Some(KEY_SECRET)
    );
    let action = &process.steps[0].actions[0];
    match &action.properties["Password"] {
        PropertyValue::Sensitive(s) => assert_eq!(s.new_value.as_deref(), Some(PROP_SECRET)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        action.inputs.as_ref().unwrap()["token"]["NewValue"],
        serde_json::json!(INPUT_SECRET)
    );
}

#[tokio::test]
async fn sensitive_values_are_encrypted_at_rest_and_still_work() {
    let t = start().await;
    let (feed, process) = store_secrets(&t.client).await;
    // Reads never show them; writing back `HasValue` alone keeps them.
    let read = t.client.feeds("Spaces-1").get(&feed).await.unwrap();
    assert!(read.password.as_ref().unwrap().has_value);
    assert_eq!(read.password.as_ref().unwrap().new_value, None);
    let mut again = read.clone();
    again.name = "Private2".into();
    t.client.feeds("Spaces-1").update(&again).await.unwrap();
    let dir = t.dir;
    t.server.shutdown().await;
    let bytes = database_bytes(dir.path());
    for secret in [FEED_SECRET, KEY_SECRET, PROP_SECRET, INPUT_SECRET] {
        assert!(
            !contains(&bytes, secret),
            "{secret} is stored in plain text"
        );
    }
    assert!(contains(&bytes, "EncryptedValue"));
    let (feed, process) = stored_values(dir.path(), &feed, &process);
    assert_secrets_intact(&feed, &process);
    assert_eq!(feed.name, "Private2");
}

/// Turns a store back into what versions before migration 4 wrote: secrets in plain
/// text, no check value, no master key.
fn make_legacy(dir: &Path, feed: &str, process: &str) {
    let (f, p) = stored_values(dir, feed, process);
    let conn = rusqlite::Connection::open(dir.join("octopus-lite.db")).unwrap();
    for (kind, id, body) in [
        ("feeds", feed, serde_json::to_string(&f).unwrap()),
        (
            "deploymentprocesses",
            process,
            serde_json::to_string(&p).unwrap(),
        ),
    ] {
        assert!(body.contains("NewValue"));
        conn.execute(
            "UPDATE documents SET body = ?1 WHERE kind = ?2 AND id = ?3",
            rusqlite::params![body, kind, id],
        )
        .unwrap();
    }
    conn.execute_batch(
        "DROP TABLE master_key_check; DELETE FROM schema_migrations WHERE version = 4;",
    )
    .unwrap();
    drop(conn);
    std::fs::remove_file(dir.join("master-key")).unwrap();
    assert!(contains(&database_bytes(dir), FEED_SECRET));
}

#[tokio::test]
async fn plaintext_secrets_of_older_stores_are_encrypted_at_start() {
    let t = start().await;
    let (feed, process) = store_secrets(&t.client).await;
    let dir = t.dir;
    t.server.shutdown().await;
    make_legacy(dir.path(), &feed, &process);

    let mut cfg = ServerConfig::new(dir.path());
    cfg.api_key = Some(KEY.into());
    let s = Server::start(cfg).await.unwrap();
    // Still usable through the API.
    let c = client_for(&s.url(), KEY);
    assert!(
        c.feeds("Spaces-1")
            .get(&feed)
            .await
            .unwrap()
            .password
            .unwrap()
            .has_value
    );
    s.shutdown().await;
    // Checkpoint the WAL so that old page images are gone from the files.
    let conn = rusqlite::Connection::open(dir.path().join("octopus-lite.db")).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
        .unwrap();
    drop(conn);
    let bytes = database_bytes(dir.path());
    for secret in [FEED_SECRET, KEY_SECRET, PROP_SECRET, INPUT_SECRET] {
        assert!(!contains(&bytes, secret), "{secret} is still in plain text");
    }
    let (feed, process) = stored_values(dir.path(), &feed, &process);
    assert_secrets_intact(&feed, &process);
}

/// A failure part-way through the migration changes nothing: it is one transaction.
#[tokio::test]
async fn a_failed_encryption_migration_leaves_the_store_as_it_was() {
    let t = start().await;
    let (feed, process) = store_secrets(&t.client).await;
    let dir = t.dir;
    t.server.shutdown().await;
    make_legacy(dir.path(), &feed, &process);
    // A document the migration refuses (a forged encrypted value), after the feed.
    let conn = rusqlite::Connection::open(dir.path().join("octopus-lite.db")).unwrap();
    conn.execute(
        "INSERT INTO documents (kind, space_id, id, name_key, body) VALUES ('feeds', 'Spaces-1', 'Feeds-999', 'forged', ?1)",
        [r#"{"Id":"Feeds-999","Name":"forged","FeedType":"NuGet","Password":{"HasValue":true,"EncryptedValue":"v1.AAAA"}}"#],
    )
    .unwrap();
    drop(conn);
    let e = Store::open(dir.path()).err().expect("the migration fails");
    assert!(e.to_string().contains("EncryptedValue"), "{e}");
    let conn = rusqlite::Connection::open(dir.path().join("octopus-lite.db")).unwrap();
    let applied: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM schema_migrations WHERE version = 4",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(applied, 0);
    let body: String = conn
        .query_row("SELECT body FROM documents WHERE id = ?1", [&feed], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(body.contains(FEED_SECRET), "half-migrated: {body}");
}

/// SIGKILL at random moments while a large old store is being encrypted: every
/// restart finds it either untouched or completely encrypted, and the secrets always
/// decrypt in the end.
#[test]
fn killing_the_server_during_the_encryption_migration_loses_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (feed, process) = rt.block_on(async {
        let mut cfg = ServerConfig::new(dir.path());
        cfg.api_key = Some(KEY.into());
        let s = Server::start(cfg).await.unwrap();
        let c = client_for(&s.url(), KEY);
        let ids = store_secrets(&c).await;
        s.shutdown().await;
        ids
    });
    make_legacy(dir.path(), &feed, &process);
    // Many more plaintext secrets, so that the migration takes a while.
    let conn = rusqlite::Connection::open(dir.path().join("octopus-lite.db")).unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 0..20_000 {
        tx.execute(
            "INSERT INTO documents (kind, space_id, id, name_key, body) VALUES ('feeds', 'Spaces-1', ?1, ?2, ?3)",
            rusqlite::params![
                format!("Feeds-x{i}"),
                format!("bulk-{i}"),
                format!(r#"{{"Id":"Feeds-x{i}","Name":"bulk-{i}","FeedType":"NuGet","FeedUri":"https://x.example/{i}","Password":{{"HasValue":true,"NewValue":"BULK-{i}-SECRET"}}}}"#)
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);
    // Before, during and (perhaps) after the migration's transaction.
    for (round, delay) in [30u64, 80, 150, 300, 600, 1200].into_iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_octopus-lite"))
            .args(["--listen", "127.0.0.1:0", "--api-key", KEY, "--data-dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        // Untouched or complete, never in between.
        let conn = rusqlite::Connection::open(dir.path().join("octopus-lite.db")).unwrap();
        let applied: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM schema_migrations WHERE version = 4",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let plain: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM documents WHERE kind = 'feeds' AND instr(body, '\"NewValue\"') > 0",
                [],
                |r| r.get(0),
            )
            .unwrap();
        eprintln!("kill after {delay} ms: migration applied: {}", applied == 1);
        if applied == 1 {
            assert_eq!(
                plain, 0,
                "round {round}: migrated, yet {plain} plaintext secrets"
            );
        } else {
            assert_eq!(
                plain, 20_001,
                "round {round}: half-migrated ({plain} plaintext secrets)"
            );
        }
    }
    // A clean start completes it; every secret decrypts.
    let mut child = Command::new(env!("CARGO_BIN_EXE_octopus-lite"))
        .args(["--listen", "127.0.0.1:0", "--api-key", KEY, "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("octopus-lite listening on"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
    let (f, p) = stored_values(dir.path(), &feed, &process);
    assert_secrets_intact(&f, &p);
    let store = Store::open(dir.path()).unwrap();
    let bulk: Feed = store
        .read_blocking(|c| Ok(documents::get(c, "feeds", "Spaces-1", "Feeds-x19999")?.unwrap()))
        .unwrap();
    assert_eq!(
        bulk.password.unwrap().new_value.as_deref(),
        Some("BULK-19999-SECRET")
    );
}

#[tokio::test]
async fn a_wrong_or_missing_master_key_is_refused() {
    let t = start().await;
    store_secrets(&t.client).await;
    let dir = t.dir;
    t.server.shutdown().await;
    let key_file = dir.path().join("master-key");
    let good = std::fs::read(&key_file).unwrap();
    let start_on = |dir: &Path| {
        let mut cfg = ServerConfig::new(dir);
        cfg.api_key = Some(KEY.into());
        Server::start(cfg)
    };
    // Another (valid) key.
    let other = tempfile::tempdir().unwrap();
    start_on(other.path()).await.unwrap().shutdown().await;
    std::fs::copy(other.path().join("master-key"), &key_file).unwrap();
    let e = start_on(dir.path())
        .await
        .err()
        .expect("a wrong key is refused");
    assert!(e.to_string().contains("is not the key"), "{e}");
    // No key.
    std::fs::remove_file(&key_file).unwrap();
    let e = start_on(dir.path())
        .await
        .err()
        .expect("a missing key is refused");
    assert!(e.to_string().contains("is missing"), "{e}");
    assert!(
        !key_file.exists(),
        "a new key must not replace the lost one"
    );
    // Garbage.
    std::fs::write(&key_file, "not a key").unwrap();
    let e = start_on(dir.path())
        .await
        .err()
        .expect("garbage is refused");
    assert!(
        e.to_string().contains("not an octopus-lite master key"),
        "{e}"
    );
    // The right key again.
    std::fs::write(&key_file, &good).unwrap();
    start_on(dir.path()).await.unwrap().shutdown().await;
}

/// Runs the real binary until it listens (or fails), under `umask`.
fn run_binary(dir: &Path, umask: &str, args: &[&str]) -> Result<(), String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_octopus-lite"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    if line.starts_with("octopus-lite listening on") {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn data_files_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_binary(&data, "000", &[]).unwrap();
    assert_eq!(mode(&data), 0o700);
    for f in [
        "octopus-lite.db",
        "octopus-lite.db-wal",
        "octopus-lite.db-shm",
        "master-key",
        "api-key",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    // A store from an older version with world-readable files and a leftover
    // api-key.tmp: everything is made private, the leftover removed.
    use std::os::unix::fs::PermissionsExt;
    let open =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    open(&data, 0o755);
    for f in ["octopus-lite.db", "master-key", "api-key"] {
        open(&data.join(f), 0o644);
    }
    std::fs::write(data.join("api-key.tmp"), "API-LEFTOVER0000000000").unwrap();
    open(&data.join("api-key.tmp"), 0o644);
    std::fs::remove_file(data.join("api-key")).unwrap();
    run_binary(&data, "022", &[]).unwrap();
    assert_eq!(mode(&data), 0o700);
    for f in [
        "octopus-lite.db",
        "octopus-lite.db-wal",
        "master-key",
        "api-key",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    assert!(!data.join("api-key.tmp").exists());
    let key = std::fs::read_to_string(data.join("api-key")).unwrap();
    assert!(octopus_server::is_valid_api_key(&key), "{key}");
    assert_ne!(key, "API-LEFTOVER0000000000");
}

#[test]
fn api_key_files_must_hold_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api-key");
    for garbage in ["hunter2", "API-SHORT12345", "API-abc def ghi jkl mno", ""] {
        std::fs::write(&file, garbage).unwrap();
        let started = Instant::now();
        let e = run_binary(dir.path(), "022", &[]).expect_err(garbage);
        assert!(
            e.contains("does not hold a valid API key"),
            "{garbage:?}: {e}"
        );
        if !garbage.is_empty() {
            assert!(
                !e.contains(garbage),
                "the key file's content is echoed: {e}"
            );
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        // Never overwritten.
        assert_eq!(std::fs::read_to_string(&file).unwrap(), garbage);
    }
    std::fs::write(&file, "API-ABCDEFGHIJKLMNOP\n").unwrap();
    run_binary(dir.path(), "022", &[]).unwrap();
}
