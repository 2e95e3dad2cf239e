//! `octopus_package`: a local file pushed to a space's built-in feed.
//!
//! The plan reads the file name (package ID and version) and, once the package exists,
//! hashes the file (streamed, off the async threads) to compare it with what the server
//! reported: other content plans a replacement. A create plans no digests (the server
//! reports them), so pushing a large new package reads it once, while uploading. Refresh
//! sees a package deleted on the server (re-created by apply) or overwritten there with
//! other content (its digest changes, which plans a replacement).

use crate::Octopus;
use crate::errors::{api, not_found_as_none};
use octopus_client::OverwriteMode;
use octopus_client::model::feed::BUILT_IN_FEED_ID;
use octopus_client::model::package::Package;
use octopus_packaging::filename::PackageFileName;
use sha1::Digest as _;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};
use tf_sdk::{AttributePath, Context, Diagnostic, Diagnostics, Model, PlanRequest, Resource, Val};

/// A package file in a space's built-in feed. The file is streamed to the server;
/// with `TF_LOG=INFO` the provider logs the upload's progress every 2 seconds.
#[derive(Model, Clone, Debug)]
pub struct PackageModel {
    /// The package's ID on the server, `packages-<PackageId>.<Version>`.
    #[tf(computed, use_state_for_unknown)]
    pub id: Val<String>,
    /// The space; the provider's when not set. Changing it replaces the package.
    #[tf(optional, computed, use_state_for_unknown, requires_replace, validate = crate::resources::space_id)]
    pub space_id: Val<String>,
    /// The local file to push, e.g. `"${path.module}/dist/web.1.2.3.zip"`. Other content
    /// in it replaces the package; another path to the same content changes nothing on
    /// the server.
    #[tf(required)]
    pub source: Val<String>,
    /// The name the file is pushed as, `<PackageId>.<Version>.<ext>` (`.zip`, `.nupkg`,
    /// `.tar`, `.tar.gz`, `.tgz`), which gives the package's ID and version; the base
    /// name of `source` when not set.
    #[tf(optional, computed)]
    pub file_name: Val<String>,
    /// The package ID, from the file name (e.g. `web`).
    #[tf(computed, use_state_for_unknown)]
    pub package_id: Val<String>,
    /// The version, from the file name, normalised (`1.2` is `1.2.0`).
    #[tf(computed, use_state_for_unknown)]
    pub version: Val<String>,
    /// The feed holding the package: the built-in feed, `feeds-builtin`.
    #[tf(computed, use_state_for_unknown)]
    pub feed_id: Val<String>,
    /// The file's SHA-1, lower-case hex, as Octopus reports it (`Hash`).
    #[tf(computed, use_state_for_unknown)]
    pub hash: Val<String>,
    /// The file's SHA-256, lower-case hex (null from servers that do not report it).
    #[tf(computed, use_state_for_unknown)]
    pub sha256: Val<String>,
    /// The file's size in bytes.
    #[tf(computed, use_state_for_unknown)]
    pub size_bytes: Val<i64>,
}

/// The resource.
pub struct PackageResource;

/// The base name of a path, as the default file name.
fn base_name(source: &str) -> String {
    Path::new(source)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The package resource ID of a package ID and version.
fn resource_id(name: &PackageFileName) -> String {
    format!("packages-{}.{}", name.id, name.version)
}

/// The model of a package read from `space`; `source` and `file_name` come from `known`.
fn from_package(p: Package, space: &str, known: Option<&PackageModel>) -> PackageModel {
    let file_name = p.file_name();
    PackageModel {
        id: p.id.into(),
        space_id: Val::Known(p.space_id.unwrap_or_else(|| space.to_string())),
        source: known.map_or(Val::Null, |k| k.source.clone()),
        file_name: match known.map(|k| &k.file_name) {
            Some(Val::Known(f)) => Val::Known(f.clone()),
            _ => Val::Known(file_name),
        },
        package_id: Val::Known(p.package_id),
        version: Val::Known(p.version),
        feed_id: Val::Known(p.feed_id.unwrap_or_else(|| BUILT_IN_FEED_ID.to_string())),
        hash: Val::Known(p.hash),
        sha256: p.sha256.into(),
        size_bytes: Val::Known(p.package_size_bytes as i64),
    }
}

/// Why a file cannot be pushed, as an error on `source`.
fn unreadable(source: &str, why: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        format!("Cannot read the package file {source}"),
        format!("{why}. `source` must name a readable file."),
    )
    .at(AttributePath::root("source"))
}

/// Checks that `source` is a readable file; returns its size.
fn check_readable(source: &str) -> Result<u64, Diagnostic> {
    let meta = std::fs::metadata(source).map_err(|e| unreadable(source, e))?;
    if !meta.is_file() {
        return Err(unreadable(source, "it is not a regular file"));
    }
    std::fs::File::open(source).map_err(|e| unreadable(source, e))?;
    Ok(meta.len())
}

/// Which digest identifies the content: SHA-256 when the server reports it, else SHA-1.
#[derive(Clone, Copy)]
enum DigestKind {
    Sha256,
    Sha1,
}

/// The file's digest of `kind`, lower-case hex, read in 1 MiB pieces.
fn digest_file(path: &str, kind: DigestKind) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut sha256 = sha2::Sha256::new();
    let mut sha1 = sha1::Sha1::new();
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        match kind {
            DigestKind::Sha256 => sha256.update(&buf[..n]),
            DigestKind::Sha1 => sha1.update(&buf[..n]),
        }
    }
    let bytes = match kind {
        DigestKind::Sha256 => sha256.finalize().to_vec(),
        DigestKind::Sha1 => sha1.finalize().to_vec(),
    };
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether two file names name the same package version in the same format.
fn same_package(a: &PackageFileName, b: &PackageFileName) -> bool {
    a.id.eq_ignore_ascii_case(&b.id) && a.version == b.version && a.format == b.format
}

/// Logs upload progress at most every 2 seconds and at the end, for the provider log
/// (`TF_LOG=INFO`): Terraform logs a plugin's stderr lines at the level they start with.
fn progress_logger(name: String) -> impl FnMut(u64, Option<u64>) + Send {
    progress_lines(name, Duration::from_secs(2), |line| eprintln!("{line}"))
}

/// Progress lines for `name`, at most one per `every` and one at the end, to `emit`.
fn progress_lines(
    name: String,
    every: Duration,
    mut emit: impl FnMut(String) + Send,
) -> impl FnMut(u64, Option<u64>) + Send {
    let started = Instant::now();
    let mut last = started;
    move |sent, total| {
        let now = Instant::now();
        let done = total == Some(sent);
        if !done && now.duration_since(last) < every {
            return;
        }
        last = now;
        let mib = |n: u64| n as f64 / (1 << 20) as f64;
        let secs = now.duration_since(started).as_secs_f64().max(1e-3);
        let share = total
            .filter(|&t| t > 0)
            .map(|t| {
                format!(
                    " of {:.1} MiB ({:.0}%)",
                    mib(t),
                    100.0 * sent as f64 / t as f64
                )
            })
            .unwrap_or_default();
        emit(format!(
            "[INFO] octopus_package: uploading {name}: {:.1} MiB{share}, {:.1} MiB/s",
            mib(sent),
            mib(sent) / secs
        ));
    }
}

impl PackageResource {
    /// Plans `file_name`, `package_id`, `version` and `feed_id` from the file name, and,
    /// for an existing package, compares the file's digest with the state's.
    async fn plan(&self, req: &mut PlanRequest<PackageModel>, diags: &mut Diagnostics) {
        let Some(source) = req.config.source.known().cloned() else {
            return;
        };
        let size = match check_readable(&source) {
            Ok(n) => n,
            Err(d) => return diags.push(d),
        };
        let configured = req.config.file_name.known().cloned();
        let name_text = configured.clone().unwrap_or_else(|| base_name(&source));
        let name = match PackageFileName::parse(&name_text) {
            Ok(n) => n,
            Err(e) => {
                let at = if configured.is_some() {
                    "file_name"
                } else {
                    "source"
                };
                return diags.push(
                    Diagnostic::error("Invalid package file name", e.to_string())
                        .at(AttributePath::root(at)),
                );
            }
        };
        let plan = &mut req.plan;
        plan.file_name = Val::Known(name_text);
        plan.feed_id = Val::Known(BUILT_IN_FEED_ID.to_string());
        let Some(prior) = &req.prior else {
            plan.package_id = Val::Known(name.id.clone());
            plan.version = Val::Known(name.version.to_string());
            return;
        };
        let prior_name = prior
            .file_name
            .as_deref()
            .and_then(|f| PackageFileName::parse(f).ok());
        if !prior_name.is_some_and(|p| same_package(&p, &name)) {
            // Another package version or format: a new package, whose ID, digests and size
            // the server gives.
            plan.package_id = Val::Known(name.id.clone());
            plan.version = Val::Known(name.version.to_string());
            plan.id = Val::Unknown;
            plan.hash = Val::Unknown;
            plan.sha256 = Val::Unknown;
            plan.size_bytes = Val::Unknown;
            req.requires_replace.push(AttributePath::root("file_name"));
            return;
        }
        // The same package: the server's spelling of its ID and version stays.
        plan.package_id = prior.package_id.clone();
        plan.version = prior.version.clone();
        let (kind, attr, stored) = match prior.sha256.known() {
            Some(s) => (DigestKind::Sha256, "sha256", s.clone()),
            None => (
                DigestKind::Sha1,
                "hash",
                prior.hash.known().cloned().unwrap_or_default(),
            ),
        };
        let path = source.clone();
        let digest = tokio::task::spawn_blocking(move || digest_file(&path, kind)).await;
        let digest = match digest {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return diags.push(unreadable(&source, e)),
            Err(e) => return diags.push(unreadable(&source, e)),
        };
        if digest.eq_ignore_ascii_case(&stored) {
            return;
        }
        // Other content: pushed again as a new file, with the digest planned here.
        plan.hash = Val::Unknown;
        plan.sha256 = Val::Unknown;
        match kind {
            DigestKind::Sha256 => plan.sha256 = Val::Known(digest),
            DigestKind::Sha1 => plan.hash = Val::Known(digest),
        }
        plan.size_bytes = Val::Known(size as i64);
        req.requires_replace.push(AttributePath::root(attr));
    }

    /// Finds a package by an import ID in `space`.
    async fn find(o: &Octopus, space: &str, id: &str) -> Result<Option<Package>, Diagnostics> {
        let found = o.client.packages(space).get(id).await;
        not_found_as_none(found).map_err(|e| api(&format!("import package {id}"), e, None))
    }
}

/// The provider, and the space and ID of the package behind a state.
async fn located<'a>(
    ctx: &'a Context<Octopus>,
    state: &PackageModel,
) -> Result<(&'a Octopus, String, String), Diagnostics> {
    let o = ctx.data()?;
    let space = o.space(&state.space_id).await?;
    Ok((o, space, state.id.known().cloned().unwrap_or_default()))
}

/// The package resource ID an import ID names: `packages-web.1.2.3` as it is, or
/// `web.1.2.3` (`<package-id>.<version>`), whose version is normalised.
fn import_target(import_id: &str) -> Result<String, Diagnostics> {
    if import_id
        .get(..9)
        .is_some_and(|p| p.eq_ignore_ascii_case("packages-"))
    {
        return Ok(import_id.to_string());
    }
    // Parsed as a file name, whose rules split the package ID from the version.
    let name = PackageFileName::parse(&format!("{import_id}.zip")).map_err(|e| {
        Diagnostics::from(Diagnostic::error(
            format!("Invalid package import ID {import_id:?}"),
            format!(
                "Write <package-id>.<version> (web.1.2.3) or the package's ID \
                 (packages-web.1.2.3), optionally after <space-id>/: {}",
                e.reason
            ),
        ))
    })?;
    Ok(resource_id(&name))
}

impl Resource<Octopus> for PackageResource {
    type Model = PackageModel;

    fn name(&self) -> &str {
        "package"
    }

    async fn modify_plan(
        &self,
        _ctx: &Context<Octopus>,
        req: &mut PlanRequest<PackageModel>,
        diags: &mut Diagnostics,
    ) {
        self.plan(req, diags).await;
    }

    async fn create(
        &self,
        ctx: &Context<Octopus>,
        plan: PackageModel,
    ) -> Result<PackageModel, Diagnostics> {
        let o = ctx.data()?;
        let space = o.space(&plan.space_id).await?;
        let source = plan.source.known().cloned().unwrap_or_default();
        let file_name = plan
            .file_name
            .known()
            .cloned()
            .unwrap_or_else(|| base_name(&source));
        check_readable(&source).map_err(Diagnostics::from)?;
        let packages = o.client.packages(&space);
        let progress = progress_logger(file_name.clone());
        let uploaded = packages
            .upload_path_as(&source, &file_name, OverwriteMode::FailIfExists, progress)
            .await
            .map_err(|e| {
                if e.is_conflict() {
                    let id = PackageFileName::parse(&file_name)
                        .map(|n| format!("{}.{}", n.id, n.version))
                        .unwrap_or(file_name.clone());
                    Diagnostics::from(
                        Diagnostic::error(
                            format!("The package {id} already exists in space {space}"),
                            format!(
                                "It was pushed outside this configuration. Import it \
                                 (terraform import <address> {space}/{id}), delete it, or \
                                 push another version."
                            ),
                        )
                        .at(AttributePath::root("source")),
                    )
                } else {
                    api(&format!("push {file_name}"), e, None)
                }
            })?;
        Ok(from_package(uploaded.package, &space, Some(&plan)))
    }

    async fn read(
        &self,
        ctx: &Context<Octopus>,
        state: PackageModel,
    ) -> Result<Option<PackageModel>, Diagnostics> {
        let (o, space, id) = located(ctx, &state).await?;
        let found = not_found_as_none(o.client.packages(&space).get(&id).await);
        let found = found.map_err(|e| api("read the package", e, None))?;
        Ok(found.map(|p| from_package(p, &space, Some(&state))))
    }

    /// Only the local path or the file name's spelling changed (content and package
    /// version are the same): nothing to do on the server.
    async fn update(
        &self,
        _ctx: &Context<Octopus>,
        prior: PackageModel,
        plan: PackageModel,
    ) -> Result<PackageModel, Diagnostics> {
        let keep = |p: Val<String>, q: &Val<String>| if p.is_known() { p } else { q.clone() };
        Ok(PackageModel {
            id: keep(plan.id, &prior.id),
            hash: keep(plan.hash, &prior.hash),
            sha256: keep(plan.sha256, &prior.sha256),
            size_bytes: if plan.size_bytes.is_known() {
                plan.size_bytes
            } else {
                prior.size_bytes
            },
            ..plan
        })
    }

    async fn delete(&self, ctx: &Context<Octopus>, state: PackageModel) -> Result<(), Diagnostics> {
        let (o, space, id) = located(ctx, &state).await?;
        not_found_as_none(o.client.packages(&space).delete(&id).await)
            .map_err(|e| api("delete the package", e, None))?;
        Ok(())
    }

    /// Imports by `<package-id>.<version>` (`web.1.2.3`) or the package's ID
    /// (`packages-web.1.2.3`), optionally as `<space-id>/<id>`; a bare ID is looked for
    /// in the provider's space, then in every space the key can see.
    async fn import(
        &self,
        ctx: &Context<Octopus>,
        import_id: &str,
    ) -> Result<PackageModel, Diagnostics> {
        let o = ctx.data()?;
        let (spaces, bare) = o.import_spaces(import_id).await?;
        let id = import_target(bare)?;
        for space in &spaces {
            if let Some(p) = Self::find(o, space, &id).await? {
                return Ok(from_package(p, space, None));
            }
        }
        Err(Diagnostic::error(
            format!("Cannot import package {import_id}"),
            format!(
                "No space the API key can see has {id} ({} searched). Check the package ID \
                 and version, or write <space-id>/{bare}.",
                spaces.len()
            ),
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_ids_name_package_resources() {
        assert_eq!(import_target("web.1.2.3").unwrap(), "packages-web.1.2.3");
        assert_eq!(
            import_target("Web.Api.1.2").unwrap(),
            "packages-Web.Api.1.2.0"
        );
        assert_eq!(
            import_target("packages-web.1.2.3").unwrap(),
            "packages-web.1.2.3"
        );
        assert!(import_target("web").is_err());
    }

    #[test]
    fn progress_is_logged_at_info_at_most_once_per_period_and_at_the_end() {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        let mut progress = progress_lines("web.1.0.0.zip".into(), Duration::from_millis(50), {
            move |l| sink.lock().unwrap().push(l)
        });
        let total = Some(4 << 20);
        progress(1 << 20, total);
        progress(2 << 20, total);
        std::thread::sleep(Duration::from_millis(60));
        progress(3 << 20, total);
        progress(4 << 20, total);
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "[INFO] octopus_package: uploading web.1.0.0.zip: 3.0 MiB of 4.0 MiB (75%)"
            ),
            "{lines:?}"
        );
        assert!(lines[1].contains("4.0 MiB of 4.0 MiB (100%)"), "{lines:?}");
    }

    #[test]
    fn file_digests_match_known_vectors() {
        let dir = std::env::temp_dir().join(format!("pkg-digest-{}", std::process::id()));
        std::fs::write(&dir, b"abc").unwrap();
        let p = dir.to_str().unwrap();
        assert_eq!(
            digest_file(p, DigestKind::Sha256).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest_file(p, DigestKind::Sha1).unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        std::fs::remove_file(&dir).unwrap();
    }
}
