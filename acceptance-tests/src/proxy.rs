//! A reverse proxy in front of the embedded server, for tests and benches that need to
//! count the provider's requests or get in between them (another writer saving a
//! process between the provider's read and write, say).

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// What runs before a request is forwarded: its method and path (with query).
pub type Hook =
    Arc<dyn Fn(Method, String) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A running proxy to [`crate::Backend`]; point a provider's `address` at [`Proxy::url`].
pub struct Proxy {
    /// The proxy's base URL.
    pub url: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Proxy {
    /// A proxy that only counts.
    pub fn counting() -> Proxy {
        Proxy::start(Arc::new(|_, _| Box::pin(async {})))
    }

    /// A proxy that runs `before` ahead of forwarding each request.
    pub fn start(before: Hook) -> Proxy {
        let upstream = crate::Backend::get().url().to_string();
        let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let seen = counts.clone();
        let http = reqwest::Client::new();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (http, upstream, seen, before) =
                    (http.clone(), upstream.clone(), seen.clone(), before.clone());
                async move {
                    *seen.lock().unwrap().entry(method.to_string()).or_default() += 1;
                    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
                    before(method.clone(), path.clone()).await;
                    let mut req = http.request(method, format!("{upstream}{path}")).body(body);
                    for (name, value) in &headers {
                        if name != "host" && name != "content-length" {
                            req = req.header(name, value);
                        }
                    }
                    let resp = req.send().await.expect("forward to the server");
                    let status = resp.status();
                    let content_type = resp.headers().get("content-type").cloned();
                    let bytes = resp.bytes().await.expect("the server's answer");
                    let mut out = axum::response::Response::new(axum::body::Body::from(bytes));
                    *out.status_mut() = status;
                    if let Some(ct) = content_type {
                        out.headers_mut().insert("content-type", ct);
                    }
                    out
                }
            },
        );
        runtime.spawn(async move { axum::serve(listener, app).await.expect("proxy serves") });
        Proxy {
            url,
            counts,
            _runtime: runtime,
        }
    }

    /// How many requests of `method` were seen.
    pub fn count(&self, method: &str) -> usize {
        self.counts
            .lock()
            .unwrap()
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    /// The requests seen so far, as `"3 GET, 1 PUT"`, and forgets them.
    pub fn take(&self) -> String {
        let mut c: Vec<_> = std::mem::take(&mut *self.counts.lock().unwrap())
            .into_iter()
            .collect();
        c.sort();
        c.iter()
            .map(|(m, n)| format!("{n} {m}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
