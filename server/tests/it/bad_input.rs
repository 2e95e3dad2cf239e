//! Bad input gets a clear 4xx with an Octopus-style error body; the server
//! never panics or hangs.

use std::time::Duration;

use crate::common::{KEY, start, start_with};
use reqwest::Method;
use serde_json::Value;

struct Probe {
    http: reqwest::Client,
    base: String,
}

impl Probe {
    fn new(base: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self { http, base }
    }

    /// Sends a request and returns the status and the parsed error body.
    async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Octopus-ApiKey", KEY);
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let json =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text:?}"));
        (status, json)
    }

    async fn expect(&self, method: Method, path: &str, body: Option<&[u8]>, status: u16) -> Value {
        let (got, json) = self
            .send(method.clone(), path, body.map(<[u8]>::to_vec))
            .await;
        assert_eq!(got, status, "{method} {path}: {json}");
        let msg = json["ErrorMessage"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: no ErrorMessage in {json}"));
        assert!(!msg.is_empty());
        assert!(json["Errors"].is_array(), "{json}");
        json
    }
}

#[tokio::test]
async fn malformed_and_mistyped_bodies() {
    let t = start().await;
    let p = Probe::new(t.url());
    let post = |body: &'static str| (Method::POST, "/api/Spaces-1/projects", body);
    for (method, path, body) in [
        post("{"),
        post("not json"),
        post("[1,2,3]"),
        post("\"Name\""),
        post(""),
        post("   "),
        post(r#"{"Name": 5}"#),
        post(r#"{"Name": "x", "IsDisabled": "yes"}"#),
        post(r#"{"Name": "x", "IncludedLibraryVariableSetIds": "LibraryVariableSets-1"}"#),
        post(r#"{"Name": "x", "Name": "y"}"#),
        (
            Method::POST,
            "/api/Spaces-1/environments",
            r#"{"Name": "e", "SortOrder": 1e40}"#,
        ),
        (
            Method::POST,
            "/api/Spaces-1/feeds",
            r#"{"Name": "f", "FeedType": "Bogus", "FeedUri": "https://x"}"#,
        ),
        (
            Method::POST,
            "/api/Spaces-1/feeds",
            r#"{"Name": "f", "FeedType": "NuGet", "FeedUri": "https://x", "Password": 5}"#,
        ),
        (Method::POST, "/api/Spaces-1/feeds", r#"{"Name": "f"}"#),
        (Method::POST, "/api/spaces", r#"{"Name": ["a"]}"#),
    ] {
        p.expect(method, path, Some(body.as_bytes()), 400).await;
    }
    // Wrong types name the field.
    let e = p
        .expect(
            Method::POST,
            "/api/Spaces-1/projects",
            Some(br#"{"Name": "x", "IsDisabled": "yes"}"#),
            400,
        )
        .await;
    assert!(
        e["Errors"][0].as_str().unwrap().contains("IsDisabled"),
        "{e}"
    );
    // Invalid UTF-8.
    p.expect(
        Method::POST,
        "/api/Spaces-1/projects",
        Some(b"{\"Name\": \"\xff\xfe\"}"),
        400,
    )
    .await;
    // Deep nesting does not overflow the stack.
    let deep = format!(
        "{{\"Name\":\"deep\",\"Junk\":{}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    p.expect(
        Method::POST,
        "/api/Spaces-1/projects",
        Some(deep.as_bytes()),
        400,
    )
    .await;
    // Process bodies too.
    let proc_path = "/api/Spaces-1/deploymentprocesses/deploymentprocess-Projects-1";
    t.client
        .projects("Spaces-1")
        .create(&octopus_client::model::Project::new("P"))
        .await
        .unwrap();
    for body in [
        r#"{"Version": "zero", "Steps": []}"#,
        r#"{"Version": 0, "Steps": {}}"#,
        r#"{"Version": 0, "Steps": [{"Name": "s", "Actions": [{"Name": "a", "ActionType": "Octopus.Script", "Properties": {"k": 1}}]}]}"#,
        r#"{"Version": 0, "Steps": [{"Name": "s", "Actions": [{"Name": "a", "ActionType": "Octopus.Script", "Packages": [{"PackageId": "", "FeedId": "feeds-builtin"}]}]}]}"#,
        r#"{"Version": 0, "Steps": [{"Id": "../../x", "Name": "s", "Actions": [{"Name": "a", "ActionType": "Octopus.Script"}]}]}"#,
        r#"{"Version": 0, "Steps": [], "Id": "deploymentprocess-Projects-2"}"#,
    ] {
        p.expect(Method::PUT, proc_path, Some(body.as_bytes()), 400)
            .await;
    }
    // Nothing was created by any of it.
    assert_eq!(
        t.client
            .projects("Spaces-1")
            .list(&Default::default())
            .await
            .unwrap()
            .total_results,
        1
    );
}

#[tokio::test]
async fn names_empty_or_too_long() {
    let t = start().await;
    let p = Probe::new(t.url());
    let long = "n".repeat(201);
    for name in ["", "   ", long.as_str(), "tab\there", "new\nline"] {
        let body = serde_json::json!({ "Name": name }).to_string();
        for path in [
            "/api/Spaces-1/projects",
            "/api/Spaces-1/environments",
            "/api/Spaces-1/projectgroups",
            "/api/Spaces-1/lifecycles",
        ] {
            let e = p
                .expect(Method::POST, path, Some(body.as_bytes()), 400)
                .await;
            assert!(e["Errors"][0].as_str().unwrap().starts_with("Name:"), "{e}");
        }
    }
    let e = p
        .expect(
            Method::POST,
            "/api/spaces",
            Some(br#"{"Name": "012345678901234567890123456789012345678901234567890"}"#),
            400,
        )
        .await;
    assert!(e["Errors"][0].as_str().unwrap().contains("50"), "{e}");
    // 200 characters, including non-ASCII ones, is fine.
    let ok = "é".repeat(200);
    let (status, _) = p
        .send(
            Method::POST,
            "/api/Spaces-1/projects",
            Some(serde_json::json!({ "Name": ok }).to_string().into_bytes()),
        )
        .await;
    assert_eq!(status, 201);
    let huge_description =
        serde_json::json!({ "Name": "d", "Description": "x".repeat(5000) }).to_string();
    p.expect(
        Method::POST,
        "/api/Spaces-1/environments",
        Some(huge_description.as_bytes()),
        400,
    )
    .await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let t = start_with(|c| c.max_body_bytes = 64 * 1024).await;
    let p = Probe::new(t.url());
    let big =
        serde_json::json!({ "Name": "big", "Description": "x".repeat(100 * 1024) }).to_string();
    let e = p
        .expect(
            Method::POST,
            "/api/Spaces-1/projects",
            Some(big.as_bytes()),
            413,
        )
        .await;
    assert!(e["ErrorMessage"].as_str().unwrap().contains("65536"), "{e}");
    p.expect(
        Method::PUT,
        "/api/Spaces-1/deploymentprocesses/deploymentprocess-Projects-1",
        Some(big.as_bytes()),
        413,
    )
    .await;
    // A body just under the limit is read (and then judged on its merits).
    let (status, _) = p
        .send(
            Method::POST,
            "/api/Spaces-1/projects",
            Some(br#"{"Name": "small"}"#.to_vec()),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn path_tricks_unknown_ids_and_bad_queries() {
    let t = start().await;
    let p = Probe::new(t.url());
    let long_id = format!("/api/Spaces-1/projects/{}", "A".repeat(5000));
    for path in [
        "/api/Spaces-1/projects/..%2F..%2Fetc%2Fpasswd",
        "/api/Spaces-1/projects/Projects-1%00",
        "/api/Spaces-1/projects/Projects-1;DROP%20TABLE%20documents",
        "/api/Spaces-1/projects/'%20OR%20'1'='1",
        "/api/..%2Fspaces/projects",
        "/api/Spaces-1%2F..%2FSpaces-2/projects",
        "/api/spaces/Spaces-1%2F..",
        long_id.as_str(),
        "/api/Spaces-1/projects?ids=Projects-1,../x",
        "/api/Spaces-1/projects?skip=-1",
        "/api/Spaces-1/projects?take=lots",
        "/api/Spaces-1/projects?take=99999999999",
    ] {
        p.expect(Method::GET, path, None, 400).await;
    }
    for path in [
        "/api/Spaces-1/projects/Projects-999",
        "/api/Spaces-99/projects",
        "/api/Spaces-99",
        "/api/Spaces-1/feeds/Feeds-12",
        "/api/Spaces-1/deploymentprocesses/deploymentprocess-Projects-5",
        "/api/Spaces-1/projects/Projects-5/deploymentprocesses",
        "/api/nothing/here/at/all",
    ] {
        p.expect(Method::GET, path, None, 404).await;
    }
    // Literal dot segments, sent raw (HTTP clients would normalize them away).
    for target in [
        "/api/Spaces-1/projects/../../../etc/passwd",
        "/api/Spaces-1/projects/%2e%2e",
        "/api/Spaces-1/projects/..",
        "/api/../../etc/passwd",
    ] {
        let status = raw_get(&t.server.addr(), target).await;
        assert!((400..500).contains(&status), "{target}: {status}");
    }
    p.expect(
        Method::DELETE,
        "/api/Spaces-1/deploymentprocesses/deploymentprocess-Projects-1",
        None,
        405,
    )
    .await;
    p.expect(
        Method::POST,
        "/api/Spaces-1/deploymentprocesses",
        Some(b"{}"),
        405,
    )
    .await;
    p.expect(Method::PATCH, "/api/Spaces-1/projects", Some(b"{}"), 405)
        .await;
    // The database is untouched and the server still answers promptly.
    let (status, json) = p.send(Method::GET, "/api/Spaces-1/projects", None).await;
    assert_eq!(status, 200);
    assert_eq!(json["TotalResults"], 0);
    assert_eq!(t.client.root().await.unwrap().api_version, "3.0.0");
}

/// Sends a request line verbatim and returns the status code.
async fn raw_get(addr: &std::net::SocketAddr, target: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: x\r\nX-Octopus-ApiKey: {KEY}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.contains("ErrorMessage"), "{target}: {text}");
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_flood_of_bad_requests_does_not_hurt() {
    let t = start().await;
    let p = std::sync::Arc::new(Probe::new(t.url()));
    let mut tasks = Vec::new();
    for i in 0..64 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let body = match i % 4 {
                0 => b"{".to_vec(),
                1 => br#"{"Name": 1}"#.to_vec(),
                2 => br#"{"Name": ""}"#.to_vec(),
                _ => vec![b'['; 10_000],
            };
            p.send(Method::POST, "/api/Spaces-1/projects", Some(body))
                .await
                .0
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 400);
    }
    assert!(
        t.client
            .projects("Spaces-1")
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = start_with(|c| c.body_timeout = Duration::from_millis(300)).await;
    let mut s = tokio::net::TcpStream::connect(t.server.addr())
        .await
        .unwrap();
    let head = format!(
        "POST /api/Spaces-1/projects HTTP/1.1\r\nHost: x\r\nX-Octopus-ApiKey: {KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"Name\": "
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("did not arrive in time"), "{text}");
    // Meanwhile the server kept serving others.
    assert_eq!(t.client.root().await.unwrap().api_version, "3.0.0");
}

/// Sends a request and returns its status and body text, whatever the body is.
async fn send_text(p: &Probe, method: Method, path: &str, body: Option<String>) -> (u16, String) {
    let mut req = p
        .http
        .request(method, format!("{}{path}", p.base))
        .header("X-Octopus-ApiKey", KEY);
    if let Some(b) = body {
        req = req.header("Content-Type", "application/json").body(b);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn secrets_in_malformed_bodies_are_never_echoed() {
    const SECRET: &str = "PWSECRET-1111";
    let t = start().await;
    let p = Probe::new(t.url());
    t.client
        .projects("Spaces-1")
        .create(&octopus_client::model::Project::new("P"))
        .await
        .unwrap();
    let feed =
        |extra: &str| format!(r#"{{"Name":"f","FeedType":"NuGet","FeedUri":"https://x",{extra}}}"#);
    let action = |props: &str| {
        format!(
            r#"{{"Version":0,"Steps":[{{"Name":"s","Actions":[{{"Name":"a","ActionType":"Octopus.Script","Properties":{props}}}]}}]}}"#
        )
    };
    let process = "/api/Spaces-1/deploymentprocesses/deploymentprocess-Projects-1";
    let cases: Vec<(Method, &str, String)> = vec![
        // The issue's cases: a string where a sensitive value belongs.
        (
            Method::POST,
            "/api/Spaces-1/feeds",
            feed(&format!(r#""Password":"{SECRET}""#)),
        ),
        (
            Method::POST,
            "/api/Spaces-1/feeds",
            feed(&format!(r#""SecretKey":"{SECRET}""#)),
        ),
        (
            Method::POST,
            "/api/Spaces-1/feeds",
            feed(&format!(r#""Password":{{"HasValue":"{SECRET}"}}"#)),
        ),
        (
            Method::POST,
            "/api/Spaces-1/feeds",
            feed(&format!(r#""ServiceAccountJsonKey":["{SECRET}"]"#)),
        ),
        (
            Method::POST,
            "/api/Spaces-1/feeds",
            feed(&format!(
                r#""Password":{{"HasValue":true,"NewValue":["{SECRET}"]}}"#
            )),
        ),
        (
            Method::PUT,
            "/api/Spaces-1/feeds/feeds-builtin",
            feed(&format!(r#""Password":"{SECRET}""#)),
        ),
        // Sensitive step properties of the wrong shape.
        (
            Method::PUT,
            process,
            action(&format!(r#"{{"k":["{SECRET}"]}}"#)),
        ),
        (
            Method::PUT,
            process,
            action(&format!(r#"{{"k":{{"HasValue":"{SECRET}"}}}}"#)),
        ),
        (
            Method::PUT,
            process,
            action(&format!(r#"{{"k":{{"NewValue":{{"v":"{SECRET}"}}}}}}"#)),
        ),
        // Any field of any document.
        (
            Method::POST,
            "/api/Spaces-1/projects",
            format!(r#"{{"Name":"p","IsDisabled":"{SECRET}"}}"#),
        ),
        (
            Method::POST,
            "/api/Spaces-1/environments",
            format!(r#"{{"Name":"e","SortOrder":"{SECRET}"}}"#),
        ),
        (
            Method::POST,
            "/api/spaces",
            format!(r#"{{"Name":{{"x":"{SECRET}"}}}}"#),
        ),
        (
            Method::POST,
            "/api/Spaces-1/lifecycles",
            format!(r#"{{"Name":"l","Phases":"{SECRET}"}}"#),
        ),
        (
            Method::PUT,
            process,
            format!(r#"{{"Version":"{SECRET}","Steps":[]}}"#),
        ),
        (
            Method::PUT,
            "/api/Spaces-1/environments/sortorder",
            format!(r#"{{"Ids":"{SECRET}"}}"#),
        ),
        (
            Method::POST,
            "/api/Spaces-1/deploymentprocesses/deploymentprocess-Projects-1/steppackages/upgrade",
            format!(r#"{{"Version":["{SECRET}"]}}"#),
        ),
    ];
    for (method, path, body) in cases {
        let (status, text) = send_text(&p, method.clone(), path, Some(body.clone())).await;
        assert_eq!(status, 400, "{method} {path} {body}: {text}");
        assert!(
            !text.contains(SECRET),
            "{method} {path} echoed the secret: {text}"
        );
        assert!(!text.contains("PWSECRET"), "{text}");
        let json: Value = serde_json::from_str(&text).unwrap();
        assert!(
            json["ErrorMessage"].as_str().is_some_and(|m| !m.is_empty()),
            "{text}"
        );
    }
    // The message still says which field and what was expected.
    let (_, text) = send_text(
        &p,
        Method::POST,
        "/api/Spaces-1/feeds",
        Some(feed(&format!(r#""Password":"{SECRET}""#))),
    )
    .await;
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json["Errors"][0],
        "Password: invalid type: expected struct SensitiveValue, got a string"
    );
    let (_, text) = send_text(
        &p,
        Method::POST,
        "/api/Spaces-1/feeds",
        Some(feed(&format!(r#""Password":{{"HasValue":"{SECRET}"}}"#))),
    )
    .await;
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json["Errors"][0],
        "Password.HasValue: invalid type: expected a boolean, got a string"
    );
}

#[tokio::test]
async fn very_long_filters_are_answered_not_500() {
    let t = start().await;
    let p = Probe::new(t.url());
    for name in ["a_b", "axb", "100%"] {
        t.client
            .projects("Spaces-1")
            .create(&octopus_client::model::Project::new(name))
            .await
            .unwrap();
    }
    // Over SQLite's 50,000-byte LIKE pattern limit.
    let long = "a".repeat(60_000);
    for path in [
        format!("/api/spaces?partialName={long}"),
        format!("/api/Spaces-1/projects?partialName={long}"),
        format!("/api/Spaces-1/environments?partialName={long}"),
        format!("/api/Spaces-1/environments/v2?partialName={long}"),
        format!("/api/Spaces-1/feeds?partialName={long}"),
        format!("/api/Spaces-1/lifecycles?partialName={long}"),
        format!("/api/Spaces-1/packages?filter={long}"),
        format!("/api/steppackages?partialName={long}"),
    ] {
        let (status, text) = send_text(&p, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{}: {text}", &path[..60]);
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["TotalResults"], 0, "{}", &path[..60]);
    }
    // `_` and `%` are plain characters in a partial name.
    for (filter, want) in [("a_b", 1), ("a%5Fb", 1), ("0%25", 1), ("A", 2)] {
        let (status, text) = send_text(
            &p,
            Method::GET,
            &format!("/api/Spaces-1/projects?partialName={filter}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{text}");
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["TotalResults"], want, "{filter}: {text}");
    }
}

#[tokio::test]
async fn a_full_disk_is_507_with_an_octopus_error() {
    use octopus_server::api;
    use octopus_server::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.write_blocking(|tx| api::spaces_seed(tx)).unwrap();
    let state = api::State::new(store.clone(), KEY.into(), 4 << 20).unwrap();
    let app = api::router(std::sync::Arc::new(state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let p = Probe::new(format!("http://{addr}"));
    // The database may not grow: as on a full disk, SQLite answers SQLITE_FULL.
    store
        .limit_pages_for_tests(store.page_count().unwrap())
        .unwrap();
    let body = serde_json::json!({ "Name": "p", "Description": "x".repeat(1900), "Pad": "y".repeat(60_000) })
        .to_string();
    let e = p
        .expect(
            Method::POST,
            "/api/Spaces-1/projects",
            Some(body.as_bytes()),
            507,
        )
        .await;
    assert!(
        e["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("enough disk space"),
        "{e}"
    );
    // Nothing of the write remains, and it works once there is room.
    store.limit_pages_for_tests(1 << 30).unwrap();
    let (status, json) = p.send(Method::GET, "/api/Spaces-1/projects", None).await;
    assert_eq!((status, json["TotalResults"].as_i64()), (200, Some(0)));
    let (status, _) = p
        .send(
            Method::POST,
            "/api/Spaces-1/projects",
            Some(body.into_bytes()),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn unknown_fields_are_capped_per_document() {
    let t = start().await;
    let p = Probe::new(t.url());
    // The issue's document: 200,000 extra keys.
    let mut doc = serde_json::Map::new();
    doc.insert("Name".into(), "many".into());
    for i in 0..200_000 {
        doc.insert(format!("k{i}"), Value::from(1));
    }
    let body = Value::Object(doc).to_string();
    let e = p
        .expect(
            Method::POST,
            "/api/Spaces-1/projects",
            Some(body.as_bytes()),
            400,
        )
        .await;
    assert!(
        e["Errors"][0]
            .as_str()
            .unwrap()
            .contains("at most 1000 unknown fields"),
        "{e}"
    );
    // Few keys, but a large value.
    let body =
        serde_json::json!({ "Name": "big", "Junk": { "deep": "x".repeat(70_000) } }).to_string();
    let e = p
        .expect(
            Method::POST,
            "/api/Spaces-1/environments",
            Some(body.as_bytes()),
            400,
        )
        .await;
    assert!(
        e["Errors"][0].as_str().unwrap().contains("65536 bytes"),
        "{e}"
    );
    // Unknown fields in process actions count too.
    t.client
        .projects("Spaces-1")
        .create(&octopus_client::model::Project::new("P"))
        .await
        .unwrap();
    let actions: Vec<Value> = (0..10)
        .map(|i| {
            let mut a =
                serde_json::json!({"Name": format!("a{i}"), "ActionType": "Octopus.Script"});
            for k in 0..150 {
                a[format!("x{k}")] = Value::from(k);
            }
            a
        })
        .collect();
    let body =
        serde_json::json!({"Version": 0, "Steps": [{"Name": "s", "Actions": actions}]}).to_string();
    let e = p
        .expect(
            Method::PUT,
            "/api/Spaces-1/deploymentprocesses/deploymentprocess-Projects-1",
            Some(body.as_bytes()),
            400,
        )
        .await;
    assert!(
        e["Errors"][0]
            .as_str()
            .unwrap()
            .contains("in Steps[0].Actions[0]"),
        "{e}"
    );
    // Within the limits they are kept verbatim.
    let body = serde_json::json!({ "Name": "kept", "FutureField": {"A": [1, 2]}, "Other": "x" })
        .to_string();
    let (status, created) = p
        .send(
            Method::POST,
            "/api/Spaces-1/projects",
            Some(body.into_bytes()),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["Id"].as_str().unwrap();
    let (_, got) = p
        .send(Method::GET, &format!("/api/Spaces-1/projects/{id}"), None)
        .await;
    assert_eq!(got["FutureField"], serde_json::json!({"A": [1, 2]}));
    assert_eq!(got["Other"], "x");
    // A listing stays small.
    let (_, list) = p.send(Method::GET, "/api/Spaces-1/projects", None).await;
    assert_eq!(list["TotalResults"], 2);
}

#[tokio::test]
async fn invisible_names_and_bidi_controls_are_refused() {
    let t = start().await;
    let p = Probe::new(t.url());
    for name in [
        "\u{200b}",
        "\u{200b}\u{200c}\u{feff}",
        "\u{2060}",
        "evil\u{202e}txt.exe",
        "a\u{202a}b",
        "a\u{2066}b\u{2069}",
        "\u{200f}name",
    ] {
        let body = serde_json::json!({ "Name": name }).to_string();
        for path in [
            "/api/spaces",
            "/api/Spaces-1/projects",
            "/api/Spaces-1/environments",
            "/api/Spaces-1/projectgroups",
            "/api/Spaces-1/lifecycles",
        ] {
            let e = p
                .expect(Method::POST, path, Some(body.as_bytes()), 400)
                .await;
            assert!(
                e["Errors"][0].as_str().unwrap().starts_with("Name:"),
                "{path} {name:?}: {e}"
            );
        }
        let feed = serde_json::json!({ "Name": name, "FeedType": "NuGet", "FeedUri": "https://x" })
            .to_string();
        p.expect(
            Method::POST,
            "/api/Spaces-1/feeds",
            Some(feed.as_bytes()),
            400,
        )
        .await;
    }
    // Step and action names too.
    t.client
        .projects("Spaces-1")
        .create(&octopus_client::model::Project::new("P"))
        .await
        .unwrap();
    let body = serde_json::json!({"Version": 0, "Steps": [{"Name": "s\u{202e}", "Actions": [
        {"Name": "\u{200b}", "ActionType": "Octopus.Script"}]}]})
    .to_string();
    let e = p
        .expect(
            Method::PUT,
            "/api/Spaces-1/deploymentprocesses/deploymentprocess-Projects-1",
            Some(body.as_bytes()),
            400,
        )
        .await;
    let errors = e["Errors"].to_string();
    assert!(errors.contains("Steps[0].Name:"), "{e}");
    assert!(errors.contains("Steps[0].Actions[0].Name:"), "{e}");
    // A name with no ASCII letter or digit still gets a slug.
    for path in [
        "/api/spaces",
        "/api/Spaces-1/projects",
        "/api/Spaces-1/environments",
        "/api/Spaces-1/lifecycles",
    ] {
        let body = serde_json::json!({ "Name": "日本語" }).to_string();
        let (status, created) = p.send(Method::POST, path, Some(body.into_bytes())).await;
        assert_eq!(status, 201, "{path}: {created}");
        let slug = created["Slug"].as_str().unwrap();
        assert!(!slug.is_empty(), "{path}: {created}");
        assert_eq!(
            slug,
            created["Id"].as_str().unwrap().to_lowercase(),
            "{path}"
        );
    }
}
