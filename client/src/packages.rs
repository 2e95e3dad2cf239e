//! The built-in feed's packages: streamed uploads with progress, listing,
//! versions, download and delete ([`Client::packages`]).

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::RETRY_AFTER;
use reqwest::{Method, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio_stream::{Stream, StreamExt};

use crate::client::segment;
use crate::model::ResourceCollection;
use crate::model::package::Package;
use crate::{Client, Error, retry};

/// Time allowed for one upload or download: large transfers outlast the
/// client's per-request timeout, so they get this bound instead.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// What the server does when the package version already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverwriteMode {
    /// Refuse the upload: the server answers 409 ([`Error::is_conflict`]).
    #[default]
    FailIfExists,
    /// Keep the stored package; the upload reports [`Uploaded::created`] `false`.
    IgnoreIfExists,
    /// Replace the stored package.
    OverwriteExisting,
}

impl OverwriteMode {
    /// The mode's name in the API (`overwriteMode=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailIfExists => "FailIfExists",
            Self::IgnoreIfExists => "IgnoreIfExists",
            Self::OverwriteExisting => "OverwriteExisting",
        }
    }
}

/// The result of an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Uploaded {
    /// The stored package (the existing one when ignored).
    pub package: Package,
    /// `true` when the file was stored (201), `false` when an existing
    /// package was kept under [`OverwriteMode::IgnoreIfExists`] (200).
    pub created: bool,
}

/// Query options of [`Packages::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageListOptions {
    /// Items to skip.
    pub skip: Option<u32>,
    /// Page size.
    pub take: Option<u32>,
    /// Case-insensitive substring of the package ID.
    pub filter: Option<String>,
    /// Only this package ID (exact, case-insensitive).
    pub package_id: Option<String>,
    /// Only the highest version of each package.
    pub latest: bool,
}

impl PackageListOptions {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(s) = self.skip {
            q.push(("skip", s.to_string()));
        }
        if let Some(t) = self.take {
            q.push(("take", t.to_string()));
        }
        if let Some(f) = &self.filter {
            q.push(("filter", f.clone()));
        }
        if let Some(p) = &self.package_id {
            q.push(("packageId", p.clone()));
        }
        if self.latest {
            q.push(("latest", "true".into()));
        }
        q
    }
}

/// Packages of one space's built-in feed.
#[derive(Debug, Clone)]
pub struct Packages<'a> {
    client: &'a Client,
    base: String,
}

impl<'a> Packages<'a> {
    pub(crate) fn new(client: &'a Client, space_id: &str) -> Self {
        Self {
            client,
            base: format!("/api/{}/packages", segment(space_id)),
        }
    }

    /// Uploads the file at `path` (its file name names the package, e.g.
    /// `MyApp.1.0.0.zip`), streaming it from disk. `progress(sent, total)` is
    /// called as bytes go out. Retried like idempotent requests when the
    /// server could not be reached or answered 429/503, since the file can be
    /// read again.
    pub async fn upload_path(
        &self,
        path: impl AsRef<Path>,
        mode: OverwriteMode,
        progress: impl FnMut(u64, Option<u64>) + Send,
    ) -> Result<Uploaded, Error> {
        let path = path.as_ref();
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Config(format!("{} has no UTF-8 file name", path.display())))?
            .to_owned();
        self.upload_path_as(path, &file_name, mode, progress).await
    }

    /// [`Packages::upload_path`] under another file name than the file's own
    /// (`file_name` names the package: `<PackageId>.<Version>.<ext>`).
    pub async fn upload_path_as(
        &self,
        path: impl AsRef<Path>,
        file_name: &str,
        mode: OverwriteMode,
        mut progress: impl FnMut(u64, Option<u64>) + Send,
    ) -> Result<Uploaded, Error> {
        let path = path.as_ref();
        let policy = self.client.config().retry.clone();
        let mut attempt = 0u32;
        loop {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
            let len = file
                .metadata()
                .await
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?
                .len();
            let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
            let can_retry = attempt < policy.max_retries;
            match self
                .send_upload(file_name, stream, Some(len), mode, &mut progress)
                .await
            {
                Err(Attempt::Retryable { retry_after, error }) if can_retry => {
                    let wait = retry::retry_after(retry_after.as_deref(), &policy)
                        .unwrap_or_else(|| retry::backoff(&policy, attempt));
                    drop(error);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(Attempt::Retryable { error, .. } | Attempt::Final(error)) => return Err(error),
                Ok(u) => return Ok(u),
            }
        }
    }

    /// Uploads a package from a stream of chunks under `file_name`
    /// (`<PackageId>.<Version>.<ext>`); `len`, when known, lets the server
    /// refuse an oversized package at once. Not retried (a stream cannot be
    /// replayed). `progress(sent, len)` is called as bytes go out.
    pub async fn upload_stream<S, B>(
        &self,
        file_name: &str,
        body: S,
        len: Option<u64>,
        mode: OverwriteMode,
        mut progress: impl FnMut(u64, Option<u64>) + Send,
    ) -> Result<Uploaded, Error>
    where
        S: Stream<Item = io::Result<B>> + Send + 'static,
        B: Into<Bytes>,
    {
        let body = body.map(|r| r.map(Into::into));
        self.send_upload(file_name, body, len, mode, &mut progress)
            .await
            .map_err(|a| match a {
                Attempt::Retryable { error, .. } | Attempt::Final(error) => error,
            })
    }

    async fn send_upload<S>(
        &self,
        file_name: &str,
        body: S,
        len: Option<u64>,
        mode: OverwriteMode,
        progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    ) -> Result<Uploaded, Attempt>
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        let sent = Arc::new(AtomicU64::new(0));
        let (tick, mut ticks) = tokio::sync::watch::channel(());
        let counter = sent.clone();
        let counted = body.map(move |chunk| {
            if let Ok(c) = &chunk {
                counter.fetch_add(c.len() as u64, Ordering::Relaxed);
                tick.send_replace(());
            }
            chunk
        });
        let body = reqwest::Body::wrap_stream(counted);
        let part = match len {
            Some(n) => reqwest::multipart::Part::stream_with_length(body, n),
            None => reqwest::multipart::Part::stream(body),
        }
        .file_name(file_name.to_owned())
        .mime_str("application/octet-stream")
        .map_err(|e| Attempt::Final(e.into()))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let url = self.client.url(&format!("{}/raw", self.base));
        let request = self
            .client
            .http()
            .request(Method::POST, &url)
            .query(&[("overwriteMode", mode.as_str())])
            .timeout(TRANSFER_TIMEOUT)
            .multipart(form)
            .send();
        tokio::pin!(request);
        let mut reported = 0;
        let result = loop {
            tokio::select! {
                r = &mut request => break r,
                Ok(()) = ticks.changed() => {
                    let now = sent.load(Ordering::Relaxed);
                    if now != reported {
                        reported = now;
                        progress(now, len);
                    }
                }
            }
        };
        let now = sent.load(Ordering::Relaxed);
        if now != reported {
            progress(now, len);
        }
        let resp = match result {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Err(Attempt::Retryable {
                    retry_after: None,
                    error: e.into(),
                });
            }
            Err(e) => return Err(Attempt::Final(e.into())),
        };
        let status = resp.status();
        if status == StatusCode::CREATED || status == StatusCode::OK {
            let bytes = resp.bytes().await.map_err(|e| Attempt::Final(e.into()))?;
            let package = serde_json::from_slice(&bytes)
                .map_err(|source| Attempt::Final(Error::Decode { url, source }))?;
            return Ok(Uploaded {
                package,
                created: status == StatusCode::CREATED,
            });
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let reason = status.canonical_reason().unwrap_or("error").to_owned();
        let body = resp.bytes().await.unwrap_or_default();
        let error = Error::from_response(status.as_u16(), &reason, &body);
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            Err(Attempt::Retryable { retry_after, error })
        } else {
            Err(Attempt::Final(error))
        }
    }

    /// One page of packages (package ID ascending, newest version first).
    pub async fn list(
        &self,
        options: &PackageListOptions,
    ) -> Result<ResourceCollection<Package>, Error> {
        self.client.get_json(&self.base, &options.query()).await
    }

    /// All versions of `package_id`, highest first, optionally only those in
    /// `range` (NuGet `[1.0,2.0)` or npm `^1.2` notation).
    pub async fn versions(
        &self,
        package_id: &str,
        range: Option<&str>,
    ) -> Result<Vec<Package>, Error> {
        let mut query = vec![("take", "1000".to_owned())];
        if let Some(r) = range {
            query.push(("versionRange", r.to_owned()));
        }
        let path = format!("{}/{}/versions", self.base, segment(package_id));
        let mut page: ResourceCollection<Package> = self.client.get_json(&path, &query).await?;
        let mut items = std::mem::take(&mut page.items);
        while let Some(next) = page.next_link().map(str::to_owned) {
            page = self.client.get_json(&next, &[]).await?;
            if page.items.is_empty() {
                break;
            }
            items.append(&mut page.items);
        }
        Ok(items)
    }

    /// The package with this ID (`packages-<PackageId>.<Version>`).
    pub async fn get(&self, id: &str) -> Result<Package, Error> {
        self.client
            .get_json(&format!("{}/{}", self.base, segment(id)), &[])
            .await
    }

    /// Downloads the package file to `path` (written to `<path>.part`, then
    /// renamed); returns the bytes written.
    pub async fn download_to(&self, id: &str, path: impl AsRef<Path>) -> Result<u64, Error> {
        let path = path.as_ref();
        let url = self
            .client
            .url(&format!("{}/{}/raw", self.base, segment(id)));
        let resp = self
            .client
            .http()
            .get(&url)
            .timeout(TRANSFER_TIMEOUT)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let reason = status.canonical_reason().unwrap_or("error").to_owned();
            let body = resp.bytes().await.unwrap_or_default();
            return Err(Error::from_response(status.as_u16(), &reason, &body));
        }
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = std::path::PathBuf::from(part);
        let io_err = |e: io::Error| Error::Config(format!("cannot write {}: {e}", path.display()));
        let mut file = tokio::fs::File::create(&part).await.map_err(io_err)?;
        let mut written = 0u64;
        let mut stream = resp.bytes_stream();
        let result: Result<(), Error> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                file.write_all(&chunk).await.map_err(io_err)?;
                written += chunk.len() as u64;
            }
            file.flush().await.map_err(io_err)?;
            file.sync_all().await.map_err(io_err)?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
        tokio::fs::rename(&part, path).await.map_err(io_err)?;
        Ok(written)
    }

    /// Deletes the package with this ID.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        self.client
            .request::<(), serde_json::Value>(
                Method::DELETE,
                &format!("{}/{}", self.base, segment(id)),
                &[],
                None,
            )
            .await
            .map(drop)
    }
}

/// How one upload attempt failed.
enum Attempt {
    /// Nothing was stored; trying again is safe.
    Retryable {
        retry_after: Option<String>,
        error: Error,
    },
    /// Do not try again.
    Final(Error),
}
