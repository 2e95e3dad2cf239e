//! Shared test helpers: an in-process server on a random port in a temp dir,
//! and step-package archives.

pub mod step_archive;

use octopus_client::{Client, Config, Credentials, RetryPolicy};
use octopus_server::{RunningServer, Server, ServerConfig};

pub const KEY: &str = "API-TESTKEY0123456789";

pub struct TestServer {
    pub server: RunningServer,
    pub client: Client,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn url(&self) -> String {
        self.server.url()
    }
}

pub fn client_for(url: &str, key: &str) -> Client {
    let cfg = Config::new(url, Credentials::ApiKey(key.into())).with_retry(RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::default()
    });
    Client::new(cfg).unwrap()
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(f: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig::new(dir.path());
    cfg.api_key = Some(KEY.into());
    f(&mut cfg);
    let server = Server::start(cfg).await.unwrap();
    let client = client_for(&server.url(), KEY);
    TestServer {
        server,
        client,
        dir,
    }
}

/// A raw HTTP client (no Octopus client), for malformed requests.
pub fn raw() -> reqwest::Client {
    reqwest::Client::new()
}
