//! The HTTP client and its per-resource sub-APIs.

use std::marker::PhantomData;
use std::sync::Arc;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::{
    DeploymentProcess, Environment, Feed, Lifecycle, Named, Project, ProjectGroup, Resource,
    ResourceCollection, RootDocument, Space,
};
use crate::{Config, Credentials, Error, retry};

/// A client for the Octopus REST API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Arc<str>,
    config: Arc<Config>,
}

/// Query options of a list request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Items to skip.
    pub skip: Option<u32>,
    /// Page size.
    pub take: Option<u32>,
    /// Case-insensitive name substring.
    pub partial_name: Option<String>,
    /// Only these IDs.
    pub ids: Vec<String>,
}

impl ListOptions {
    /// Sets the page size.
    pub fn take(mut self, take: u32) -> Self {
        self.take = Some(take);
        self
    }
    /// Sets the items to skip.
    pub fn skip(mut self, skip: u32) -> Self {
        self.skip = Some(skip);
        self
    }
    /// Filters by name substring.
    pub fn partial_name(mut self, name: impl Into<String>) -> Self {
        self.partial_name = Some(name.into());
        self
    }
    /// Filters by IDs.
    pub fn ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.ids = ids.into_iter().map(Into::into).collect();
        self
    }

    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(s) = self.skip {
            q.push(("skip", s.to_string()));
        }
        if let Some(t) = self.take {
            q.push(("take", t.to_string()));
        }
        if let Some(n) = &self.partial_name {
            q.push(("partialName", n.clone()));
        }
        if !self.ids.is_empty() {
            q.push(("ids", self.ids.join(",")));
        }
        q
    }
}

/// Percent-encodes one path segment, so an ID can never change the path.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~') && s != "." && s != ".."
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Joins the base URL and an API path or server link. A server hosted under a
/// virtual directory (`https://host/octopus`) sends links that already carry it.
fn join_url(base: &str, path_or_link: &str) -> String {
    if path_or_link.starts_with("http://") || path_or_link.starts_with("https://") {
        return path_or_link.to_owned();
    }
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let (origin, prefix) = match base[after_scheme..].find('/') {
        Some(i) => base.split_at(after_scheme + i),
        None => (base, ""),
    };
    match path_or_link.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() && rest.starts_with("/api") => {
            format!("{origin}{path_or_link}")
        }
        _ => format!("{base}{path_or_link}"),
    }
}

impl Client {
    /// Builds a client; no request is made yet.
    pub fn new(config: Config) -> Result<Self, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json,text/*;q=0.99"),
        );
        match &config.credentials {
            Credentials::ApiKey(key) => {
                let mut v = HeaderValue::from_str(key)
                    .map_err(|_| Error::Config("the API key is not a valid header value".into()))?;
                v.set_sensitive(true);
                headers.insert("X-Octopus-ApiKey", v);
            }
            Credentials::AccessToken(token) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    Error::Config("the access token is not a valid header value".into())
                })?;
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
        }
        let url = config.url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "server URL must be http(s): {url:?}"
            )));
        }
        let base: Arc<str> = url.strip_suffix("/api").unwrap_or(url).into();
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()?;
        Ok(Self {
            http,
            base,
            config: Arc::new(config),
        })
    }

    /// A client configured from the environment ([`Config::from_env`]).
    pub fn from_env() -> Result<Self, Error> {
        Self::new(Config::from_env()?)
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `GET /api`: the root document.
    pub async fn root(&self) -> Result<RootDocument, Error> {
        self.get_json("/api", &[]).await
    }

    /// The configured space, or else the server's default space.
    pub async fn default_space_id(&self) -> Result<String, Error> {
        if let Some(id) = &self.config.space_id {
            return Ok(id.clone());
        }
        let spaces = self.spaces().list_all(&ListOptions::default()).await?;
        spaces
            .into_iter()
            .find(|s| s.is_default)
            .and_then(|s| s.id)
            .ok_or_else(|| Error::Config("the server has no default space".into()))
    }

    /// Spaces (`/api/spaces`).
    pub fn spaces(&self) -> Collection<'_, Space> {
        Collection::new(self, "/api/spaces".to_owned())
    }

    /// Environments of a space.
    pub fn environments(&self, space_id: &str) -> Collection<'_, Environment> {
        self.scoped(space_id)
    }

    /// Project groups of a space.
    pub fn project_groups(&self, space_id: &str) -> Collection<'_, ProjectGroup> {
        self.scoped(space_id)
    }

    /// Lifecycles of a space.
    pub fn lifecycles(&self, space_id: &str) -> Collection<'_, Lifecycle> {
        self.scoped(space_id)
    }

    /// Projects of a space.
    pub fn projects(&self, space_id: &str) -> Collection<'_, Project> {
        self.scoped(space_id)
    }

    /// Feeds of a space.
    pub fn feeds(&self, space_id: &str) -> Collection<'_, Feed> {
        self.scoped(space_id)
    }

    /// Packages of a space's built-in feed.
    pub fn packages(&self, space_id: &str) -> crate::packages::Packages<'_> {
        crate::packages::Packages::new(self, space_id)
    }

    /// The packages of any feed of a space, through Octopus' feed routes.
    pub fn feed_packages(&self, space_id: &str, feed_id: &str) -> crate::FeedPackages<'_> {
        crate::FeedPackages::new(self, space_id, feed_id)
    }

    /// The underlying HTTP client (its default headers carry the credentials).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The releases of a space.
    pub fn releases(&self, space_id: &str) -> crate::Releases<'_> {
        crate::Releases {
            client: self,
            space: space_id.to_owned(),
        }
    }

    /// The deployments of a space.
    pub fn deployments(&self, space_id: &str) -> crate::Deployments<'_> {
        crate::Deployments {
            client: self,
            space: space_id.to_owned(),
        }
    }

    /// Server tasks (addressed without a space, as `Links.Task` does).
    pub fn tasks(&self) -> crate::Tasks<'_> {
        crate::Tasks { client: self }
    }

    /// Deployment processes of a space.
    pub fn deployment_processes(&self, space_id: &str) -> DeploymentProcesses<'_> {
        DeploymentProcesses {
            inner: self.scoped(space_id),
        }
    }

    /// Variable sets of a space (a project's variables and release snapshots of them).
    pub fn variables(&self, space_id: &str) -> crate::Variables<'_> {
        crate::Variables {
            client: self,
            space_id: space_id.to_owned(),
        }
    }

    /// Step packages of octopus-lite (`/api/steppackages`, server-wide).
    pub fn step_packages(&self) -> crate::step_packages::StepPackages<'_> {
        crate::step_packages::StepPackages { client: self }
    }

    /// Sends raw bytes (`application/octet-stream`, never retried) and decodes the JSON answer.
    pub(crate) async fn send_bytes<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        bytes: Vec<u8>,
    ) -> Result<T, Error> {
        let url = self.url(path);
        let resp = self
            .http
            .request(method, &url)
            .query(query)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            let reason = status.canonical_reason().unwrap_or("error");
            return Err(Error::from_response(status.as_u16(), reason, &body));
        }
        serde_json::from_slice(&body).map_err(|source| Error::Decode { url, source })
    }

    fn scoped<T: Resource>(&self, space_id: &str) -> Collection<'_, T> {
        Collection::new(
            self,
            format!("/api/{}/{}", segment(space_id), T::COLLECTION),
        )
    }

    /// The collection of `T` in `space_id` (ignored for collections that are not
    /// space-scoped, such as spaces), for code generic over resource types.
    pub fn collection<T: Resource>(&self, space_id: &str) -> Collection<'_, T> {
        if T::SPACE_SCOPED {
            self.scoped(space_id)
        } else {
            Collection::new(self, format!("/api/{}", T::COLLECTION))
        }
    }

    pub(crate) fn url(&self, path_or_link: &str) -> String {
        join_url(&self.base, path_or_link)
    }

    /// GET a path (or a server link) and return the answer as text.
    pub(crate) async fn get_text(&self, path: &str) -> Result<String, Error> {
        let url = self.url(path);
        let bytes = self.send(Method::GET, &url, &[], None::<&()>).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// GET a path (or a server link) and decode the JSON answer.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, Error> {
        self.request(Method::GET, path, query, None::<&()>).await
    }

    /// Sends a request with an optional JSON body and decodes the JSON answer.
    /// GET, PUT and DELETE are retried on connection errors, 429 and 503.
    pub async fn request<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, Error> {
        let url = self.url(path);
        let bytes = self.send(method, &url, query, body).await?;
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|source| Error::Decode { url, source })
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<bytes_vec::Bytes, Error> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Config(format!("could not serialize the request body: {e}")))?;
        let idempotent = matches!(
            method,
            Method::GET | Method::PUT | Method::DELETE | Method::HEAD
        );
        let policy = &self.config.retry;
        let mut attempt = 0u32;
        loop {
            let mut req = self.http.request(method.clone(), url).query(query);
            if let Some(b) = &body {
                req = req.header(CONTENT_TYPE, "application/json").body(b.clone());
            }
            let can_retry = idempotent && attempt < policy.max_retries;
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status.is_success() {
                        return Ok(resp.bytes().await?.to_vec());
                    }
                    if can_retry
                        && (status == StatusCode::TOO_MANY_REQUESTS
                            || status == StatusCode::SERVICE_UNAVAILABLE)
                    {
                        let after = resp
                            .headers()
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok());
                        let wait = retry::retry_after(after, policy)
                            .unwrap_or_else(|| retry::backoff(policy, attempt));
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    let reason = status.canonical_reason().unwrap_or("error").to_owned();
                    let body = resp.bytes().await.unwrap_or_default();
                    return Err(Error::from_response(status.as_u16(), &reason, &body));
                }
                Err(e) if can_retry && e.is_connect() => {
                    tokio::time::sleep(retry::backoff(policy, attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

mod bytes_vec {
    pub type Bytes = Vec<u8>;
}

/// CRUD on one collection, e.g. the projects of a space.
#[derive(Debug, Clone)]
pub struct Collection<'a, T> {
    client: &'a Client,
    base: String,
    _t: PhantomData<fn() -> T>,
}

impl<'a, T: Resource> Collection<'a, T> {
    fn new(client: &'a Client, base: String) -> Self {
        Self {
            client,
            base,
            _t: PhantomData,
        }
    }

    fn item(&self, id: &str) -> String {
        format!("{}/{}", self.base, segment(id))
    }

    /// One page.
    pub async fn list(&self, options: &ListOptions) -> Result<ResourceCollection<T>, Error> {
        self.client.get_json(&self.base, &options.query()).await
    }

    /// Every item, following `Links["Page.Next"]` from the first page.
    pub async fn list_all(&self, options: &ListOptions) -> Result<Vec<T>, Error> {
        let mut page = self.list(options).await?;
        let mut items = std::mem::take(&mut page.items);
        let mut seen = 0usize;
        while let Some(next) = page.next_link().map(str::to_owned) {
            seen += 1;
            if seen > 100_000 {
                return Err(Error::Config("paging did not terminate".into()));
            }
            page = self.client.get_json(&next, &[]).await?;
            if page.items.is_empty() {
                break;
            }
            items.append(&mut page.items);
        }
        Ok(items)
    }

    /// The item with this ID.
    pub async fn get(&self, id: &str) -> Result<T, Error> {
        self.client.get_json(&self.item(id), &[]).await
    }

    /// The item with exactly this name (case-insensitive), if any.
    pub async fn find_by_name(&self, name: &str) -> Result<Option<T>, Error>
    where
        T: Named,
    {
        let items = self
            .list_all(&ListOptions::default().partial_name(name))
            .await?;
        Ok(items
            .into_iter()
            .find(|i| i.name().eq_ignore_ascii_case(name)))
    }

    /// Creates an item (POST) and returns it as stored.
    pub async fn create(&self, item: &T) -> Result<T, Error> {
        self.client
            .request(Method::POST, &self.base, &[], Some(item))
            .await
    }

    /// Replaces an item (PUT to its ID) and returns it as stored.
    pub async fn update(&self, item: &T) -> Result<T, Error> {
        let id = item
            .id()
            .ok_or_else(|| Error::Config("update needs an item with an Id".into()))?;
        self.client
            .request(Method::PUT, &self.item(id), &[], Some(item))
            .await
    }

    /// Deletes an item.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        let url = self.client.url(&self.item(id));
        self.client
            .send(Method::DELETE, &url, &[], None::<&()>)
            .await
            .map(drop)
    }
}

/// Deployment processes: created with their project, so only read and replace.
#[derive(Debug, Clone)]
pub struct DeploymentProcesses<'a> {
    inner: Collection<'a, DeploymentProcess>,
}

impl DeploymentProcesses<'_> {
    /// The process with this ID (`deploymentprocess-<ProjectId>`).
    pub async fn get(&self, id: &str) -> Result<DeploymentProcess, Error> {
        self.inner.get(id).await
    }

    /// The process of a project.
    pub async fn get_for_project(&self, project_id: &str) -> Result<DeploymentProcess, Error> {
        self.inner
            .get(&DeploymentProcess::id_for_project(project_id))
            .await
    }

    /// One page of processes.
    pub async fn list(
        &self,
        options: &ListOptions,
    ) -> Result<ResourceCollection<DeploymentProcess>, Error> {
        self.inner.list(options).await
    }

    /// Replaces the whole process. `Version` must be the one last read,
    /// otherwise the server answers 409 ([`Error::is_conflict`]).
    pub async fn update(&self, process: &DeploymentProcess) -> Result<DeploymentProcess, Error> {
        self.inner.update(process).await
    }
}

#[cfg(test)]
mod tests {
    use super::{join_url, segment};

    #[test]
    fn urls_join_with_and_without_a_virtual_directory() {
        assert_eq!(
            join_url("http://h:1", "/api/spaces"),
            "http://h:1/api/spaces"
        );
        assert_eq!(
            join_url("https://h/octopus", "/api/spaces"),
            "https://h/octopus/api/spaces"
        );
        assert_eq!(
            join_url(
                "https://h/octopus",
                "/octopus/api/Spaces-1/projects?skip=30"
            ),
            "https://h/octopus/api/Spaces-1/projects?skip=30"
        );
        assert_eq!(
            join_url("https://h/octopus", "https://other/api"),
            "https://other/api"
        );
    }

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert_eq!(segment("Projects-1"), "Projects-1");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment("a/b?c#d"), "a%2Fb%3Fc%23d");
    }
}
