//! Retries against a scripted raw HTTP server: 503/429 (with Retry-After) and
//! connection errors are retried for idempotent requests only.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use octopus_client::model::Environment;
use octopus_client::{Client, Config, Credentials, Error, ListOptions, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves the scripted responses in order (the last one repeats), one per
/// connection, and counts requests.
async fn scripted(
    responses: Vec<String>,
) -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, s) = (count.clone(), seen.clone());
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let n = c.fetch_add(1, Ordering::SeqCst);
            let resp = responses[n.min(responses.len() - 1)].clone();
            let s = s.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut req = Vec::new();
                loop {
                    let k = sock.read(&mut buf).await.unwrap_or(0);
                    if k == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..k]);
                    let text = String::from_utf8_lossy(&req);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if req.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                s.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&req).into_owned());
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, count, seen)
}

fn response(status: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
}

fn client(url: &str, retries: u32) -> Client {
    let cfg = Config::new(url, Credentials::ApiKey("API-XYZ".into())).with_retry(RetryPolicy {
        max_retries: retries,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    });
    Client::new(cfg).unwrap()
}

const ENV: &str = r#"{"Id":"Environments-1","Name":"Dev","SpaceId":"Spaces-1"}"#;

#[tokio::test]
async fn get_is_retried_on_503_and_429_honouring_retry_after() {
    let (url, count, seen) = scripted(vec![
        response(
            "503 Service Unavailable",
            "Retry-After: 0\r\n",
            r#"{"ErrorMessage":"busy"}"#,
        ),
        response(
            "429 Too Many Requests",
            "",
            r#"{"ErrorMessage":"slow down"}"#,
        ),
        response("200 OK", "", ENV),
    ])
    .await;
    let env = client(&url, 3)
        .environments("Spaces-1")
        .get("Environments-1")
        .await
        .unwrap();
    assert_eq!(env.name, "Dev");
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let first = seen.lock().unwrap()[0].clone();
    assert!(
        first.starts_with("GET /api/Spaces-1/environments/Environments-1 "),
        "{first}"
    );
    assert!(
        first
            .to_ascii_lowercase()
            .contains("x-octopus-apikey: api-xyz"),
        "{first}"
    );
}

#[tokio::test]
async fn retries_give_up_with_the_api_error() {
    let (url, count, _) = scripted(vec![response(
        "503 Service Unavailable",
        "",
        r#"{"ErrorMessage":"down for maintenance","Errors":["try later"]}"#,
    )])
    .await;
    let e = client(&url, 2)
        .environments("Spaces-1")
        .get("Environments-1")
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 3);
    match e {
        Error::Api {
            status,
            message,
            errors,
        } => {
            assert_eq!(status, 503);
            assert_eq!(message, "down for maintenance");
            assert_eq!(errors, vec!["try later"]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn post_is_not_retried() {
    let (url, count, _) = scripted(vec![
        response("503 Service Unavailable", "", r#"{"ErrorMessage":"busy"}"#),
        response("201 Created", "", ENV),
    ])
    .await;
    let e = client(&url, 3)
        .environments("Spaces-1")
        .create(&Environment::new("Dev"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn other_errors_are_not_retried_and_carry_the_body() {
    let (url, count, _) = scripted(vec![response(
        "400 Bad Request",
        "",
        r#"{"ErrorMessage":"There was a problem with your request.","Errors":["Name: The Name field is required."]}"#,
    )])
    .await;
    let e = client(&url, 3)
        .environments("Spaces-1")
        .update(&Environment {
            id: Some("Environments-1".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(
        e.to_string(),
        "Octopus API error (400): There was a problem with your request. [Name: The Name field is required.]"
    );
}

#[tokio::test]
async fn connection_errors_are_retried_with_backoff() {
    // Bind and drop to get a port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let e = client(&format!("http://127.0.0.1:{port}"), 3)
        .root()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    // Three backoffs of at least 10, 20 and 40 ms (half of 20/40/80).
    assert!(
        started.elapsed() >= Duration::from_millis(70),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn list_all_follows_page_next() {
    let page = |items: &str, next: Option<&str>| {
        let next = next
            .map(|n| format!(r#","Page.Next":"{n}""#))
            .unwrap_or_default();
        response(
            "200 OK",
            "",
            &format!(
                r#"{{"ItemType":"Environment","TotalResults":3,"Items":[{items}],"Links":{{"Self":"x"{next}}}}}"#
            ),
        )
    };
    let (url, count, seen) = scripted(vec![
        page(
            r#"{"Name":"a"},{"Name":"b"}"#,
            Some("/api/Spaces-1/environments?skip=2&take=2"),
        ),
        page(r#"{"Name":"c"}"#, None),
    ])
    .await;
    let all = client(&url, 0)
        .environments("Spaces-1")
        .list_all(&ListOptions::default().take(2).partial_name("x y"))
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
    let reqs = seen.lock().unwrap().clone();
    assert!(
        reqs[0].starts_with("GET /api/Spaces-1/environments?take=2&partialName=x+y "),
        "{}",
        reqs[0]
    );
    assert!(
        reqs[1].starts_with("GET /api/Spaces-1/environments?skip=2&take=2 "),
        "{}",
        reqs[1]
    );
}

#[test]
fn config_from_environment_variables() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let c = Config::from_lookup(vars(&[
        ("OCTOPUS_URL", "https://o.example"),
        ("OCTOPUS_API_KEY", "API-1"),
        ("OCTOPUS_SPACE_ID", "Spaces-3"),
    ]))
    .unwrap();
    assert_eq!(c.credentials, Credentials::ApiKey("API-1".into()));
    assert_eq!(c.space_id.as_deref(), Some("Spaces-3"));
    let c = Config::from_lookup(vars(&[
        ("OCTOPUS_URL", "https://o"),
        ("OCTOPUS_APIKEY", "API-2"),
        ("OCTOPUS_API_KEY", "API-3"),
    ]))
    .unwrap();
    assert_eq!(c.credentials, Credentials::ApiKey("API-2".into()));
    let c = Config::from_lookup(vars(&[
        ("OCTOPUS_URL", "https://o"),
        ("OCTOPUS_ACCESS_TOKEN", "tok"),
    ]))
    .unwrap();
    assert_eq!(c.credentials, Credentials::AccessToken("tok".into()));
    assert!(format!("{c:?}").contains("AccessToken(***)"));
    assert!(Config::from_lookup(vars(&[("OCTOPUS_APIKEY", "API-2")])).is_err());
    assert!(Config::from_lookup(vars(&[("OCTOPUS_URL", "https://o")])).is_err());
    assert!(Client::new(Config::new("ftp://o", Credentials::ApiKey("k".into()))).is_err());
}
