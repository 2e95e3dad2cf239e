//! Safe extraction: [`extract`] writes an archive under a destination directory only after
//! [`inspect`](super::inspect) accepted it, then walks it a second time with the same checks,
//! writing as it goes.
//!
//! Why it cannot write outside `dest`:
//! * every entry of the second walk must equal the entry at the same position of the first
//!   (which passed the structure checks: no duplicates, nothing below a link, no file used as
//!   a directory), so an archive that changes between the walks is refused;
//! * paths are normalised (no `..`, not absolute) before they are joined to `dest`;
//! * directories are created one component at a time and an existing component must be a real
//!   directory (never a symbolic link);
//! * files are created with `O_EXCL` (`create_new`), so nothing existing is overwritten or
//!   followed;
//! * hard links and then symbolic links are created last, after every file is written, so no
//!   write ever goes through a link the archive made.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{
    ArchiveEntry, ArchiveError, ArchiveLimits, EntryKind, Walker, walk, walk_tars, walk_zip,
};
use crate::filename::ArchiveKind;

/// What [`extract`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Regular files written (hard links included).
    pub files: usize,
    /// Directories named by the archive.
    pub directories: usize,
    /// Symbolic links created.
    pub symlinks: usize,
    /// Uncompressed bytes written.
    pub total_size: u64,
}

/// Extracts the archive at `path` (read as `format`) under the existing directory `dest`.
///
/// The archive is first inspected with every rule of [`inspect`](super::inspect) and refused
/// as a whole if any fails; nothing is written then. Unix permission bits are reduced to
/// "executable or not" (`0755` / `0644`, less the umask). Files that already exist under
/// `dest` are never overwritten (the extraction fails instead). On an error during the
/// writing pass, what was written so far stays: callers extract into a fresh directory and
/// remove it on failure.
///
/// ```
/// use octopus_packaging::archive::{extract, ArchiveLimits};
/// use octopus_packaging::filename::PackageFormat;
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut tar = tar::Builder::new(Vec::new());
/// let mut header = tar::Header::new_gnu();
/// header.set_size(2);
/// header.set_mode(0o755);
/// tar.append_data(&mut header, "bin/run.sh", &b"hi"[..]).unwrap();
/// let archive = dir.path().join("app.1.0.0.tar");
/// std::fs::write(&archive, tar.into_inner().unwrap()).unwrap();
/// let dest = dir.path().join("out");
/// std::fs::create_dir(&dest).unwrap();
/// let summary = extract(&archive, PackageFormat::Tar, &dest, &ArchiveLimits::default()).unwrap();
/// assert_eq!(summary.files, 1);
/// assert_eq!(std::fs::read(dest.join("bin/run.sh")).unwrap(), b"hi");
/// ```
pub fn extract(
    path: &Path,
    format: impl Into<ArchiveKind>,
    dest: &Path,
    limits: &ArchiveLimits,
) -> Result<ExtractSummary, ArchiveError> {
    let kind = format.into();
    // First walk: every check, nothing written.
    let file = File::open(path).map_err(ArchiveError::Io)?;
    let (expected, _) = walk(file, kind, limits, &|_| false, 0)?;
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(ArchiveError::Io(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("`{}` is not a directory", dest.display()),
            )));
        }
        Err(e) => return Err(ArchiveError::Io(with_path(e, dest))),
    }
    // Second walk: the same checks, writing as it goes.
    let mut walker = Walker::new(limits, &|_| false, 0);
    walker.out = Some(Extractor {
        dest: dest.to_path_buf(),
        expected: expected.entries,
    });
    let mut reader = File::open(path).map_err(ArchiveError::Io)?;
    match kind {
        ArchiveKind::Zip => walk_zip(&mut reader, &mut walker)?,
        ArchiveKind::Tar | ArchiveKind::TarGz => walk_tars(reader, kind, &mut walker)?,
    }
    let out = walker.out.take().expect("the extractor stays in place");
    let (summary, _) = walker.finish()?;
    if summary.entries.len() != out.expected.len() {
        return Err(changed(None));
    }
    out.create_links(&summary.entries)?;
    let mut result = ExtractSummary {
        files: 0,
        directories: 0,
        symlinks: 0,
        total_size: summary.total_size,
    };
    for e in &summary.entries {
        match e.kind {
            EntryKind::File | EntryKind::HardLink { .. } => result.files += 1,
            EntryKind::Directory => result.directories += 1,
            EntryKind::Symlink { .. } => result.symlinks += 1,
        }
    }
    Ok(result)
}

/// The writing side of the second walk.
pub(super) struct Extractor {
    dest: PathBuf,
    /// The entries of the first walk, in order.
    expected: Vec<ArchiveEntry>,
}

/// A file being written; remembers a write error so it is reported as one (not as a
/// corrupt archive).
pub(super) struct OutFile {
    file: BufWriter<File>,
    failed: Option<io::Error>,
    path: PathBuf,
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf).inspect_err(|e| {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush().inspect_err(|e| {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
}

impl OutFile {
    /// The walk's result, with a write error taking precedence.
    pub(super) fn finish(self, result: Result<u64, ArchiveError>) -> Result<u64, ArchiveError> {
        match self.failed {
            Some(e) => Err(ArchiveError::Io(with_path(e, &self.path))),
            None => result,
        }
    }
}

impl Extractor {
    fn expect(&self, index: usize, path: &str, is_file: bool) -> Result<(), ArchiveError> {
        match self.expected.get(index) {
            Some(e)
                if e.path == path
                    && ((is_file && e.kind == EntryKind::File)
                        || (!is_file && e.kind == EntryKind::Directory)) =>
            {
                Ok(())
            }
            _ => Err(changed(Some(path))),
        }
    }

    /// Checks a finished entry of the second walk against the first.
    pub(super) fn check(&self, index: usize, entry: &ArchiveEntry) -> Result<(), ArchiveError> {
        if self.expected.get(index) == Some(entry) {
            Ok(())
        } else {
            Err(changed(Some(&entry.path)))
        }
    }

    /// Creates the directory of a directory entry (and its parents).
    pub(super) fn directory(&mut self, index: usize, path: &str) -> Result<(), ArchiveError> {
        self.expect(index, path, false)?;
        ensure_dirs(&self.dest, path.split('/')).map(|_| ())
    }

    /// Creates a new file for a file entry; its parents are created as needed.
    pub(super) fn create_file(
        &mut self,
        index: usize,
        path: &str,
        mode: Option<u32>,
    ) -> Result<OutFile, ArchiveError> {
        self.expect(index, path, true)?;
        let target = self.parent_of(path)?;
        let mut options = OpenOptions::new();
        // O_CREAT | O_EXCL: never overwrites and never follows a link in the last component.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            let executable = mode.is_some_and(|m| m & 0o111 != 0);
            options.mode(if executable { 0o755 } else { 0o644 });
        }
        #[cfg(not(unix))]
        let _ = mode;
        let file = options
            .open(&target)
            .map_err(|e| ArchiveError::Io(with_path(e, &target)))?;
        Ok(OutFile {
            file: BufWriter::with_capacity(64 * 1024, file),
            failed: None,
            path: target,
        })
    }

    /// Ensures the parents of `path` exist as real directories; returns the full path.
    fn parent_of(&self, path: &str) -> Result<PathBuf, ArchiveError> {
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, path),
        };
        let dir = match parent {
            Some(p) => ensure_dirs(&self.dest, p.split('/'))?,
            None => self.dest.clone(),
        };
        Ok(dir.join(name))
    }

    /// Hard links, then symbolic links, once every file is written.
    fn create_links(&self, entries: &[ArchiveEntry]) -> Result<(), ArchiveError> {
        for e in entries {
            if let EntryKind::HardLink { target } = &e.kind {
                let from = self.dest.join(target);
                let to = self.parent_of(&e.path)?;
                match fs::symlink_metadata(&from) {
                    Ok(m) if m.is_file() => {}
                    _ => return Err(changed(Some(&e.path))),
                }
                if fs::hard_link(&from, &to).is_err() {
                    // A file system without hard links: a copy has the same content.
                    copy_new(&from, &to)?;
                }
            }
        }
        for e in entries {
            if let EntryKind::Symlink { target } = &e.kind {
                let to = self.parent_of(&e.path)?;
                #[cfg(unix)]
                std::os::unix::fs::symlink(target, &to)
                    .map_err(|err| ArchiveError::Io(with_path(err, &to)))?;
                #[cfg(not(unix))]
                {
                    let _ = (target, to);
                    return Err(ArchiveError::UnsupportedEntry {
                        path: e.path.clone(),
                        reason: "symbolic links are only extracted on Unix".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn copy_new(from: &Path, to: &Path) -> Result<(), ArchiveError> {
    let mut src = File::open(from).map_err(|e| ArchiveError::Io(with_path(e, from)))?;
    let mut dst = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| ArchiveError::Io(with_path(e, to)))?;
    io::copy(&mut src, &mut dst).map_err(|e| ArchiveError::Io(with_path(e, to)))?;
    Ok(())
}

/// Creates `dest/<components...>` one component at a time; an existing component must be
/// a directory, not a link to one.
fn ensure_dirs<'p>(
    dest: &Path,
    components: impl Iterator<Item = &'p str>,
) -> Result<PathBuf, ArchiveError> {
    let mut dir = dest.to_path_buf();
    for c in components {
        dir.push(c);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(ArchiveError::Io(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("`{}` exists and is not a directory", dir.display()),
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(ArchiveError::Io(with_path(e, &dir))),
        }
        match fs::create_dir(&dir) {
            Ok(()) => {}
            // Created meanwhile: fine if it is a real directory.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                    return Err(ArchiveError::Io(with_path(e, &dir)));
                }
            }
            Err(e) => return Err(ArchiveError::Io(with_path(e, &dir))),
        }
    }
    Ok(dir)
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("`{}`: {e}", path.display()))
}

fn changed(entry: Option<&str>) -> ArchiveError {
    ArchiveError::Corrupt {
        entry: entry.map(str::to_owned),
        reason: "the archive changed between its inspection and its extraction".into(),
    }
}
