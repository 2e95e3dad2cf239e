//! `terraform-provider-localfs`: an example provider built with tf-sdk that manages
//! files and directories under a root folder on local disk.
//!
//! ```hcl
//! provider "localfs" { root = "/tmp/demo" }
//! resource "localfs_file" "motd" {
//!   path    = "etc/motd"
//!   content = "hello"
//! }
//! ```

mod manifest;

use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use tf_sdk::{
    AttributePath, Context, DataSource, Diagnostic, Diagnostics, ErasedDataSource, ErasedResource,
    Model, Provider, Resource, ServeOptions, Val, data_source, resource, validators,
};

/// Files and directories on local disk.
#[derive(Model, Clone, Debug)]
struct Config {
    /// Folder every `path` is relative to; it must exist.
    #[tf(required)]
    root: Val<String>,
}

/// The configured root folder.
pub(crate) struct Root(PathBuf);

impl Root {
    /// `rel` under the root, refusing paths that would leave it.
    pub(crate) fn join(&self, rel: &str) -> Result<PathBuf, Diagnostics> {
        check_relative(rel).map_err(|msg| {
            Diagnostics::from(
                Diagnostic::error("Invalid path", msg).at(AttributePath::root("path")),
            )
        })?;
        Ok(self.0.join(rel))
    }
}

pub(crate) fn check_relative(rel: &str) -> Result<(), String> {
    let p = Path::new(rel);
    if rel.is_empty() {
        return Err("must not be empty".into());
    }
    if p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!(
            "{rel:?} must be a relative path without `..` or `.` parts"
        ));
    }
    Ok(())
}

fn check_mode(mode: &str) -> Result<(), String> {
    match u32::from_str_radix(mode, 8) {
        Ok(m) if mode.len() == 4 && m <= 0o777 => Ok(()),
        _ => Err(format!("{mode:?} is not a permission mode like \"0644\"")),
    }
}

pub(crate) fn io_error(what: &str, path: &Path, e: std::io::Error) -> Diagnostics {
    Diagnostic::error(format!("Cannot {what} {}", path.display()), e.to_string()).into()
}

struct LocalFs;

impl Provider for LocalFs {
    type Config = Config;
    type Data = Root;

    fn type_name(&self) -> &str {
        "localfs"
    }

    async fn configure(
        &self,
        config: Config,
        _terraform_version: String,
    ) -> Result<Root, Diagnostics> {
        let root = match config.root {
            Val::Known(r) => PathBuf::from(r),
            _ => {
                return Err(
                    Diagnostic::error("Root not known", "Set `root` to a known folder.")
                        .at(AttributePath::root("root"))
                        .into(),
                );
            }
        };
        if !root.is_dir() {
            return Err(Diagnostic::error(
                "Root folder does not exist",
                format!("{} is not a directory; create it first.", root.display()),
            )
            .at(AttributePath::root("root"))
            .into());
        }
        Ok(Root(root))
    }

    fn resources(&self) -> Vec<Box<dyn ErasedResource<Root>>> {
        vec![
            resource(FileResource),
            resource(DirectoryResource),
            resource(manifest::ManifestResource),
        ]
    }

    fn data_sources(&self) -> Vec<Box<dyn ErasedDataSource<Root>>> {
        vec![data_source(FileData)]
    }
}

/// A file with the given content.
#[derive(Model, Clone, Debug)]
struct File {
    /// The path relative to the provider's root, also the ID.
    #[tf(computed, use_state_for_unknown)]
    id: Val<String>,
    /// Path relative to the provider's root. Changing it replaces the file.
    #[tf(required, requires_replace, validate = |s: &String| check_relative(s))]
    path: Val<String>,
    /// The file's content.
    #[tf(required)]
    content: Val<String>,
    /// Permission bits in octal.
    #[tf(optional, computed, default = "0644", validate = |s: &String| check_mode(s))]
    mode: Val<String>,
    /// SHA-256 of the content, hex.
    #[tf(computed)]
    sha256: Val<String>,
    /// Size in bytes.
    #[tf(computed)]
    size: Val<i64>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct FileResource;

impl FileResource {
    fn write(root: &Root, plan: &File) -> Result<File, Diagnostics> {
        let rel = plan.path.known().cloned().unwrap_or_default();
        let path = root.join(&rel)?;
        let content = plan.content.known().cloned().unwrap_or_default();
        let mode = plan.mode.known().cloned().unwrap_or_else(|| "0644".into());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error("create", parent, e))?;
        }
        std::fs::write(&path, &content).map_err(|e| io_error("write", &path, e))?;
        let bits = u32::from_str_radix(&mode, 8).unwrap_or(0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bits))
            .map_err(|e| io_error("chmod", &path, e))?;
        Ok(File {
            id: Val::Known(rel),
            path: plan.path.clone(),
            sha256: Val::Known(sha256_hex(content.as_bytes())),
            size: Val::Known(content.len() as i64),
            content: Val::Known(content),
            mode: Val::Known(mode),
        })
    }

    fn load(root: &Root, rel: &str) -> Result<Option<File>, Diagnostics> {
        let path = root.join(rel)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("read", &path, e)),
        };
        let meta = std::fs::metadata(&path).map_err(|e| io_error("stat", &path, e))?;
        Ok(Some(File {
            id: Val::Known(rel.to_string()),
            path: Val::Known(rel.to_string()),
            content: Val::Known(String::from_utf8_lossy(&bytes).into_owned()),
            mode: Val::Known(format!("{:04o}", meta.permissions().mode() & 0o777)),
            sha256: Val::Known(sha256_hex(&bytes)),
            size: Val::Known(bytes.len() as i64),
        }))
    }
}

impl Resource<Root> for FileResource {
    type Model = File;

    fn name(&self) -> &str {
        "file"
    }

    async fn create(&self, ctx: &Context<Root>, plan: File) -> Result<File, Diagnostics> {
        Self::write(ctx.data()?, &plan)
    }

    async fn read(&self, ctx: &Context<Root>, state: File) -> Result<Option<File>, Diagnostics> {
        let rel = state
            .id
            .known()
            .or(state.path.known())
            .cloned()
            .unwrap_or_default();
        Self::load(ctx.data()?, &rel)
    }

    async fn update(
        &self,
        ctx: &Context<Root>,
        _prior: File,
        plan: File,
    ) -> Result<File, Diagnostics> {
        Self::write(ctx.data()?, &plan)
    }

    async fn delete(&self, ctx: &Context<Root>, state: File) -> Result<(), Diagnostics> {
        let path = ctx
            .data()?
            .join(state.path.known().map(String::as_str).unwrap_or_default())?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("delete", &path, e)),
        }
    }

    async fn import(&self, ctx: &Context<Root>, id: &str) -> Result<File, Diagnostics> {
        Self::load(ctx.data()?, id)?.ok_or_else(|| {
            Diagnostic::error(
                "Cannot import",
                format!("There is no file {id:?} under the root."),
            )
            .into()
        })
    }
}

/// A directory, with small files kept in it (`marker` blocks, an unordered set).
#[derive(Model, Clone, Debug)]
struct Directory {
    /// The path relative to the provider's root.
    #[tf(computed, use_state_for_unknown)]
    id: Val<String>,
    /// Path relative to the provider's root.
    #[tf(required, requires_replace, validate = validators::length(1, 4096))]
    path: Val<String>,
    /// Files kept in the directory; files it held before and no longer lists are removed.
    #[tf(block = "set")]
    marker: Val<tf_sdk::model::Set<Marker>>,
}

/// A small file inside a directory.
#[derive(Model, Clone, Debug, PartialEq)]
struct Marker {
    /// File name inside the directory.
    #[tf(required, validate = |s: &String| check_file_name(s))]
    name: Val<String>,
    /// The file's content.
    #[tf(required)]
    content: Val<String>,
    /// Permission bits in octal.
    #[tf(optional, computed, default = "0644", validate = |s: &String| check_mode(s))]
    mode: Val<String>,
    /// SHA-256 of the content, hex.
    #[tf(computed)]
    sha256: Val<String>,
}

fn check_file_name(name: &str) -> Result<(), String> {
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) => Ok(()),
        _ => Err(format!("{name:?} must be a plain file name")),
    }
}

fn markers(v: &Val<tf_sdk::model::Set<Marker>>) -> Vec<Marker> {
    v.known().map(|s| s.0.clone()).unwrap_or_default()
}

fn known_str(v: &Val<String>) -> &str {
    v.known().map(String::as_str).unwrap_or_default()
}

/// Writes the planned markers into `dir`, removes those only `prior` had, and
/// returns the markers with their digests.
fn write_markers(
    dir: &Path,
    planned: &Val<tf_sdk::model::Set<Marker>>,
    prior: &[Marker],
) -> Result<Val<tf_sdk::model::Set<Marker>>, Diagnostics> {
    let planned_markers = markers(planned);
    for old in prior {
        let name = known_str(&old.name);
        if !planned_markers.iter().any(|m| known_str(&m.name) == name) {
            let path = dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("remove", &path, e)),
            }
        }
    }
    let mut out = Vec::new();
    for mut m in planned_markers {
        let path = dir.join(known_str(&m.name));
        let content = known_str(&m.content).to_owned();
        std::fs::write(&path, &content).map_err(|e| io_error("write", &path, e))?;
        let mode = u32::from_str_radix(known_str(&m.mode), 8).unwrap_or(0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_error("chmod", &path, e))?;
        m.sha256 = Val::Known(sha256_hex(content.as_bytes()));
        out.push(m);
    }
    Ok(match planned {
        Val::Null => Val::Null,
        _ => Val::Known(tf_sdk::model::Set(out)),
    })
}

struct DirectoryResource;

impl Resource<Root> for DirectoryResource {
    type Model = Directory;

    fn name(&self) -> &str {
        "directory"
    }

    async fn create(&self, ctx: &Context<Root>, plan: Directory) -> Result<Directory, Diagnostics> {
        let rel = plan.path.known().cloned().unwrap_or_default();
        let path = ctx.data()?.join(&rel)?;
        std::fs::create_dir_all(&path).map_err(|e| io_error("create", &path, e))?;
        let marker = write_markers(&path, &plan.marker, &[])?;
        Ok(Directory {
            id: Val::Known(rel),
            path: plan.path,
            marker,
        })
    }

    async fn read(
        &self,
        ctx: &Context<Root>,
        state: Directory,
    ) -> Result<Option<Directory>, Diagnostics> {
        let rel = state.path.known().cloned().unwrap_or_default();
        let dir = ctx.data()?.join(&rel)?;
        if !dir.is_dir() {
            return Ok(None);
        }
        // Drift: a marker whose file is gone or was edited shows as changed.
        let mut state = state;
        if let Val::Known(set) = &mut state.marker {
            set.0.retain_mut(
                |m| match std::fs::read_to_string(dir.join(known_str(&m.name))) {
                    Ok(content) => {
                        m.sha256 = Val::Known(sha256_hex(content.as_bytes()));
                        m.content = Val::Known(content);
                        true
                    }
                    Err(_) => false,
                },
            );
        }
        Ok(Some(state))
    }

    async fn update(
        &self,
        ctx: &Context<Root>,
        prior: Directory,
        plan: Directory,
    ) -> Result<Directory, Diagnostics> {
        let dir = ctx.data()?.join(known_str(&plan.path))?;
        let marker = write_markers(&dir, &plan.marker, &markers(&prior.marker))?;
        Ok(Directory { marker, ..plan })
    }

    async fn delete(&self, ctx: &Context<Root>, state: Directory) -> Result<(), Diagnostics> {
        let path = ctx
            .data()?
            .join(state.path.known().map(String::as_str).unwrap_or_default())?;
        write_markers(&path, &Val::Null, &markers(&state.marker))?;
        match std::fs::remove_dir(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("delete", &path, e)),
        }
    }

    async fn import(&self, ctx: &Context<Root>, id: &str) -> Result<Directory, Diagnostics> {
        let path = ctx.data()?.join(id)?;
        if !path.is_dir() {
            return Err(Diagnostic::error(
                "Cannot import",
                format!("There is no directory {id:?}."),
            )
            .into());
        }
        Ok(Directory {
            id: Val::Known(id.into()),
            path: Val::Known(id.into()),
            // Which files are markers is only known to the configuration.
            marker: Val::Known(tf_sdk::model::Set(Vec::new())),
        })
    }
}

/// Reads a file under the root.
#[derive(Model, Clone, Debug)]
struct FileInfo {
    /// Path relative to the provider's root.
    #[tf(required, validate = |s: &String| check_relative(s))]
    path: Val<String>,
    /// The file's content.
    #[tf(computed)]
    content: Val<String>,
    /// SHA-256 of the content, hex.
    #[tf(computed)]
    sha256: Val<String>,
}

struct FileData;

impl DataSource<Root> for FileData {
    type Model = FileInfo;

    fn name(&self) -> &str {
        "file"
    }

    async fn read(&self, ctx: &Context<Root>, config: FileInfo) -> Result<FileInfo, Diagnostics> {
        let rel = config.path.known().cloned().unwrap_or_default();
        let file = FileResource::load(ctx.data()?, &rel)?.ok_or_else(|| {
            Diagnostics::from(
                Diagnostic::error(
                    "File not found",
                    format!("There is no file {rel:?} under the root."),
                )
                .at(AttributePath::root("path")),
            )
        })?;
        Ok(FileInfo {
            path: config.path,
            content: file.content,
            sha256: file.sha256,
        })
    }
}

fn main() -> std::process::ExitCode {
    tf_sdk::serve(
        LocalFs,
        ServeOptions::from_args("registry.terraform.io/example/localfs"),
    )
}
