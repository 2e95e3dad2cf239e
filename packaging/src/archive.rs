//! Streaming, safety-checked inspection of package archives (zip, tar, tar.gz).
//!
//! [`inspect`] proves that the bytes are the container the extension claims (zip local header
//! and central directory; gzip magic and CRC; tar header checksums), decompresses every entry
//! (so zip CRCs are verified) without holding the archive in memory, and refuses anything an
//! extractor could be tricked with:
//!
//! * entry paths that are absolute (`/x`, `\x`), carry a Windows drive or stream (`C:x`,
//!   `a:b`), contain a `..` component (with `/` or `\` as separator) or a component of only dots
//!   and spaces (`.. `, which Windows reads as `..`), a NUL byte, or are empty;
//! * symbolic links whose target is absolute or climbs above the archive root, or uses `..`
//!   after a name (`a/../..`, which could step through another link); hard links to anything
//!   but an earlier regular file; entries *below* a symbolic link (writing through a link);
//! * device files, FIFOs and other special entries; encrypted zip entries;
//! * duplicate paths, and a file that is also used as a directory;
//! * zip archives whose central directory and local headers disagree, whose entries share
//!   data (overlap bombs), or that hide local headers from the central directory;
//! * more entries, bigger entries or more uncompressed bytes than [`ArchiveLimits`] allows,
//!   counted from the bytes actually decompressed, not the sizes the archive declares.
//!
//! ```no_run
//! use octopus_packaging::archive::{inspect, ArchiveLimits};
//! use octopus_packaging::filename::PackageFormat;
//!
//! let summary = inspect("pkg.1.0.0.zip".as_ref(), PackageFormat::Zip, &ArchiveLimits::default())?;
//! println!("{} entries, {} bytes uncompressed", summary.entries.len(), summary.total_size);
//! # Ok::<(), octopus_packaging::archive::ArchiveError>(())
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::filename::{ArchiveKind, PackageFormat};

/// Limits applied while inspecting an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Most entries (files, directories and links).
    pub max_entries: u64,
    /// Most uncompressed bytes over all entries.
    pub max_total_size: u64,
    /// Most uncompressed bytes in one entry.
    pub max_entry_size: u64,
    /// Longest entry path, in bytes.
    pub max_path_len: usize,
}

impl Default for ArchiveLimits {
    /// 100,000 entries, 4 GiB in total and per entry, paths up to 1024 bytes.
    fn default() -> Self {
        ArchiveLimits {
            max_entries: 100_000,
            max_total_size: 4 << 30,
            max_entry_size: 4 << 30,
            max_path_len: 1024,
        }
    }
}

impl From<PackageFormat> for ArchiveKind {
    fn from(f: PackageFormat) -> Self {
        f.archive_kind()
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link; `target` as stored, relative to the link's directory.
    Symlink {
        /// The link target.
        target: String,
    },
    /// A hard link (tar only) to an earlier file; `target` is relative to the archive root.
    HardLink {
        /// The normalised path of the linked file.
        target: String,
    },
}

/// One entry of an inspected archive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArchiveEntry {
    /// Normalised path: `/`-separated, no `.` components, no leading or trailing `/`.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Uncompressed bytes (0 for directories and links).
    pub size: u64,
}

/// The result of a successful inspection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArchiveSummary {
    /// Entries in archive order (a `./` root entry is left out).
    pub entries: Vec<ArchiveEntry>,
    /// Uncompressed bytes of all files.
    pub total_size: u64,
}

impl ArchiveSummary {
    /// The entry at normalised `path`, if any.
    pub fn entry(&self, path: &str) -> Option<&ArchiveEntry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// Number of regular files.
    pub fn file_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .count()
    }
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file could not be opened or read.
    #[error("could not read the archive: {0}")]
    Io(#[source] io::Error),
    /// The bytes are not the container the format names.
    #[error("not a valid {expected} archive: {reason}")]
    WrongFormat {
        /// `zip`, `tar` or `gzip-compressed tar`.
        expected: &'static str,
        /// What was found instead.
        reason: String,
    },
    /// The container is damaged (bad checksum, truncated data, ...).
    #[error("the archive is corrupt{}: {reason}", at(.entry))]
    Corrupt {
        /// The entry being read, if known.
        entry: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// An entry path could escape the extraction directory or is otherwise unusable.
    #[error("entry `{path}` is refused: {reason}")]
    UnsafePath {
        /// The path as stored (lossily decoded).
        path: String,
        /// Why.
        reason: String,
    },
    /// A link points outside the archive or is otherwise refused.
    #[error("link `{path}` -> `{target}` is refused: {reason}")]
    UnsafeLink {
        /// The link's path.
        path: String,
        /// Its target as stored.
        target: String,
        /// Why.
        reason: String,
    },
    /// Device files, FIFOs, encrypted entries and the like.
    #[error("entry `{path}` is refused: {reason}")]
    UnsupportedEntry {
        /// The entry path.
        path: String,
        /// What it is.
        reason: String,
    },
    /// Two entries share a path, or a file is also used as a directory.
    #[error("entry `{path}` conflicts with an earlier entry: {reason}")]
    Conflict {
        /// The entry path.
        path: String,
        /// How.
        reason: &'static str,
    },
    /// More than [`ArchiveLimits::max_entries`] entries.
    #[error("the archive has more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// An entry is larger than [`ArchiveLimits::max_entry_size`].
    #[error("entry `{path}` is larger than the limit of {limit} bytes uncompressed")]
    EntryTooLarge {
        /// The entry path.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// The entries add up to more than [`ArchiveLimits::max_total_size`].
    #[error("the archive holds more than the limit of {limit} bytes uncompressed")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// A file requested with [`inspect_and_read`] is larger than the read limit.
    #[error("entry `{path}` is larger than {limit} bytes and cannot be read into memory")]
    ReadTooLarge {
        /// The entry path.
        path: String,
        /// The limit.
        limit: u64,
    },
}

fn at(entry: &Option<String>) -> String {
    entry
        .as_deref()
        .map(|e| format!(" at entry `{e}`"))
        .unwrap_or_default()
}

/// Inspects the archive file at `path` as `format` (a [`PackageFormat`] or [`ArchiveKind`]).
pub fn inspect(
    path: &Path,
    format: impl Into<ArchiveKind>,
    limits: &ArchiveLimits,
) -> Result<ArchiveSummary, ArchiveError> {
    let file = File::open(path).map_err(ArchiveError::Io)?;
    inspect_reader(file, format, limits)
}

/// Inspects an archive read from `reader` (seekable, for the zip central directory).
pub fn inspect_reader<R: Read + Seek>(
    reader: R,
    format: impl Into<ArchiveKind>,
    limits: &ArchiveLimits,
) -> Result<ArchiveSummary, ArchiveError> {
    walk(reader, format.into(), limits, &|_| false, 0).map(|(s, _)| s)
}

/// Inspects like [`inspect`] and also returns the contents of the regular files whose
/// normalised path satisfies `wanted`, each at most `max_read` bytes.
pub fn inspect_and_read(
    path: &Path,
    format: impl Into<ArchiveKind>,
    limits: &ArchiveLimits,
    wanted: &dyn Fn(&str) -> bool,
    max_read: u64,
) -> Result<(ArchiveSummary, BTreeMap<String, Vec<u8>>), ArchiveError> {
    let file = File::open(path).map_err(ArchiveError::Io)?;
    walk(file, format.into(), limits, wanted, max_read)
}

/// Normalises an entry path, or says why it is unsafe. `Ok("")` is the root (`./`).
pub fn normalize_entry_path(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("the path is empty".into());
    }
    if raw.contains('\0') {
        return Err("the path contains a NUL byte".into());
    }
    if raw.starts_with(['/', '\\']) {
        return Err("the path is absolute".into());
    }
    let mut parts = Vec::new();
    for part in raw.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return Err("the path contains a `..` component".into()),
            p if is_dots_and_spaces(p) => {
                return Err(format!(
                    "the path component `{p}` is only dots and spaces, which Windows reads as `..` or `.`"
                ));
            }
            p if p.contains(':') => {
                return Err(format!(
                    "the path component `{p}` contains `:` (a Windows drive or stream)"
                ));
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// `.. `, `...`, `. .`: Windows drops trailing dots and spaces, so these act as `..` or `.`.
fn is_dots_and_spaces(component: &str) -> bool {
    component.chars().all(|c| c == '.' || c == ' ')
}

/// Checks a symlink target relative to the directory holding the link (`link_dir_depth`
/// levels below the root).
fn check_symlink_target(target: &str, link_dir_depth: usize) -> Result<(), String> {
    if target.is_empty() {
        return Err("the target is empty".into());
    }
    if target.contains('\0') {
        return Err("the target contains a NUL byte".into());
    }
    if target.starts_with(['/', '\\']) {
        return Err("the target is absolute".into());
    }
    let mut ups = 0usize;
    let mut seen_name = false;
    for part in target.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." if seen_name => {
                return Err("`..` after a name could step through another link".into());
            }
            ".." => {
                ups += 1;
                if ups > link_dir_depth {
                    return Err("the target climbs above the archive root".into());
                }
            }
            p if is_dots_and_spaces(p) => {
                return Err(format!(
                    "`{p}` is only dots and spaces, which Windows reads as `..` or `.`"
                ));
            }
            p if p.contains(':') => {
                return Err(format!("`{p}` contains `:` (a Windows drive or stream)"));
            }
            _ => seen_name = true,
        }
    }
    Ok(())
}

/// Counts bytes read through it.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

struct Walker<'a> {
    limits: &'a ArchiveLimits,
    wanted: &'a dyn Fn(&str) -> bool,
    max_read: u64,
    entries: Vec<ArchiveEntry>,
    /// Paths of regular files seen so far (hard-link targets).
    files: HashSet<String>,
    total: u64,
    read: BTreeMap<String, Vec<u8>>,
    /// Set when extracting: writes what is walked under a destination directory.
    out: Option<extract::Extractor>,
}

impl<'a> Walker<'a> {
    fn new(limits: &'a ArchiveLimits, wanted: &'a dyn Fn(&str) -> bool, max_read: u64) -> Self {
        Walker {
            limits,
            wanted,
            max_read,
            entries: Vec::new(),
            files: HashSet::new(),
            total: 0,
            read: BTreeMap::new(),
            out: None,
        }
    }

    /// Checks the whole and hands over what was found.
    fn finish(self) -> Result<(ArchiveSummary, BTreeMap<String, Vec<u8>>), ArchiveError> {
        self.check_structure()?;
        let summary = ArchiveSummary {
            entries: self.entries,
            total_size: self.total,
        };
        Ok((summary, self.read))
    }
}

/// Where [`Walker::consume`] puts an entry's bytes.
enum Sink<'b> {
    /// Read and drop them (inspection).
    Discard,
    /// Keep them in memory ([`inspect_and_read`]).
    Keep(&'b mut Vec<u8>),
    /// Write them out (extraction).
    Write(&'b mut dyn io::Write),
}

enum RawKind {
    File,
    Directory,
    Symlink,
    HardLink(String),
}

impl Walker<'_> {
    /// Reads one entry's data, enforcing limits; returns its size.
    fn consume(
        &mut self,
        path: &str,
        data: &mut dyn Read,
        keep: Sink<'_>,
    ) -> Result<u64, ArchiveError> {
        let per_entry = self.limits.max_entry_size;
        let remaining_total = self.limits.max_total_size.saturating_sub(self.total);
        let cap = per_entry.min(remaining_total);
        let mut limited = Counting {
            inner: data.take(cap.saturating_add(1)),
            count: 0,
        };
        let result = match keep {
            Sink::Keep(buf) => {
                let mut capped = (&mut limited).take(self.max_read.saturating_add(1));
                let r = capped.read_to_end(buf).map(|_| ());
                if r.is_ok() && buf.len() as u64 > self.max_read {
                    return Err(ArchiveError::ReadTooLarge {
                        path: path.to_owned(),
                        limit: self.max_read,
                    });
                }
                r
            }
            Sink::Discard => io::copy(&mut limited, &mut io::sink()).map(|_| ()),
            Sink::Write(w) => io::copy(&mut limited, w).and_then(|_| w.flush()),
        };
        result.map_err(|e| corrupt(Some(path), e))?;
        let size = limited.count;
        if size > per_entry {
            return Err(ArchiveError::EntryTooLarge {
                path: path.to_owned(),
                limit: per_entry,
            });
        }
        if size > remaining_total {
            return Err(ArchiveError::TooLarge {
                limit: self.limits.max_total_size,
            });
        }
        self.total += size;
        Ok(size)
    }

    fn entry(
        &mut self,
        raw_path: &str,
        kind: RawKind,
        mode: Option<u32>,
        data: &mut dyn Read,
    ) -> Result<(), ArchiveError> {
        if self.entries.len() as u64 >= self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        if raw_path.len() > self.limits.max_path_len {
            return Err(ArchiveError::UnsafePath {
                path: raw_path.chars().take(100).collect::<String>() + "...",
                reason: format!(
                    "the path is {} bytes long; at most {} are allowed",
                    raw_path.len(),
                    self.limits.max_path_len
                ),
            });
        }
        let path = normalize_entry_path(raw_path).map_err(|reason| ArchiveError::UnsafePath {
            path: raw_path.to_owned(),
            reason,
        })?;
        if path.is_empty() {
            return match kind {
                RawKind::Directory => Ok(()),
                _ => Err(ArchiveError::UnsafePath {
                    path: raw_path.to_owned(),
                    reason: "only a directory may name the archive root".into(),
                }),
            };
        }
        let depth = path.matches('/').count();
        let (kind, size) = match kind {
            RawKind::Directory => {
                self.consume(&path, data, Sink::Discard)?;
                if let Some(out) = &mut self.out {
                    out.directory(self.entries.len(), &path)?;
                }
                (EntryKind::Directory, 0)
            }
            RawKind::File => {
                let size = if let Some(mut out) = self.out.take() {
                    // Extracting: the bytes go to a new file under the destination.
                    let result =
                        out.create_file(self.entries.len(), &path, mode)
                            .and_then(|mut file| {
                                let r = self.consume(&path, data, Sink::Write(&mut file));
                                file.finish(r)
                            });
                    self.out = Some(out);
                    result?
                } else if (self.wanted)(&path) {
                    let mut buf = Vec::new();
                    let size = self.consume(&path, data, Sink::Keep(&mut buf))?;
                    self.read.insert(path.clone(), buf);
                    size
                } else {
                    self.consume(&path, data, Sink::Discard)?
                };
                (EntryKind::File, size)
            }
            RawKind::Symlink => {
                let mut target = Vec::new();
                let limit = 4096u64;
                data.take(limit + 1)
                    .read_to_end(&mut target)
                    .map_err(|e| corrupt(Some(&path), e))?;
                let target = String::from_utf8_lossy(&target).into_owned();
                if target.len() as u64 > limit {
                    return Err(self.bad_link(&path, &target, "the target is too long"));
                }
                check_symlink_target(&target, depth)
                    .map_err(|reason| self.bad_link(&path, &target, &reason))?;
                (EntryKind::Symlink { target }, 0)
            }
            RawKind::HardLink(target) => {
                // As for symbolic links: count any data a crafted entry carries.
                self.consume(&path, data, Sink::Discard)?;
                let norm = normalize_entry_path(&target)
                    .map_err(|reason| self.bad_link(&path, &target, &reason))?;
                if !self.files.contains(&norm) {
                    return Err(self.bad_link(
                        &path,
                        &target,
                        "a hard link must point to an earlier regular file",
                    ));
                }
                (EntryKind::HardLink { target: norm }, 0)
            }
        };
        if kind == EntryKind::File {
            self.files.insert(path.clone());
        }
        let entry = ArchiveEntry { path, kind, size };
        if let Some(out) = &mut self.out {
            out.check(self.entries.len(), &entry)?;
        }
        self.entries.push(entry);
        Ok(())
    }

    fn bad_link(&self, path: &str, target: &str, reason: &str) -> ArchiveError {
        ArchiveError::UnsafeLink {
            path: path.to_owned(),
            target: target.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// Duplicate paths, files used as directories, entries below symlinks.
    fn check_structure(&self) -> Result<(), ArchiveError> {
        let mut by_path: HashMap<&str, &EntryKind> = HashMap::with_capacity(self.entries.len());
        for e in &self.entries {
            if let Some(prev) = by_path.insert(&e.path, &e.kind)
                && !(*prev == EntryKind::Directory && e.kind == EntryKind::Directory)
            {
                return Err(ArchiveError::Conflict {
                    path: e.path.clone(),
                    reason: "the same path appears twice",
                });
            }
        }
        for e in &self.entries {
            for (i, _) in e.path.match_indices('/') {
                match by_path.get(&e.path[..i]) {
                    Some(EntryKind::Symlink { .. }) => {
                        return Err(ArchiveError::UnsafePath {
                            path: e.path.clone(),
                            reason: format!("it lies below the symbolic link `{}`", &e.path[..i]),
                        });
                    }
                    Some(EntryKind::File | EntryKind::HardLink { .. }) => {
                        return Err(ArchiveError::Conflict {
                            path: e.path.clone(),
                            reason: "a parent of this path is a file",
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

fn corrupt(entry: Option<&str>, e: io::Error) -> ArchiveError {
    ArchiveError::Corrupt {
        entry: entry.map(str::to_owned),
        reason: e.to_string(),
    }
}

fn walk<R: Read + Seek>(
    mut reader: R,
    kind: ArchiveKind,
    limits: &ArchiveLimits,
    wanted: &dyn Fn(&str) -> bool,
    max_read: u64,
) -> Result<(ArchiveSummary, BTreeMap<String, Vec<u8>>), ArchiveError> {
    let mut walker = Walker::new(limits, wanted, max_read);
    match kind {
        ArchiveKind::Zip => walk_zip(&mut reader, &mut walker)?,
        ArchiveKind::Tar | ArchiveKind::TarGz => walk_tars(reader, kind, &mut walker)?,
    }
    walker.finish()
}

/// Inspects a tar or gzip-compressed tar archive front to back as it is read, with
/// no seeking, so an upload can be checked while it streams in. Zip archives keep
/// their directory at the end and are refused here: use [`inspect`] on the file.
///
/// ```
/// use octopus_packaging::archive::{inspect_stream, ArchiveLimits};
/// use octopus_packaging::filename::ArchiveKind;
///
/// let mut tar = tar::Builder::new(Vec::new());
/// let mut header = tar::Header::new_gnu();
/// header.set_size(2);
/// header.set_mode(0o644);
/// tar.append_data(&mut header, "app/hi.txt", &b"hi"[..]).unwrap();
/// let bytes = tar.into_inner().unwrap();
/// let summary = inspect_stream(&bytes[..], ArchiveKind::Tar, &ArchiveLimits::default()).unwrap();
/// assert_eq!(summary.total_size, 2);
/// ```
pub fn inspect_stream<R: Read>(
    reader: R,
    kind: ArchiveKind,
    limits: &ArchiveLimits,
) -> Result<ArchiveSummary, ArchiveError> {
    if kind == ArchiveKind::Zip {
        return Err(ArchiveError::Io(io::Error::new(
            io::ErrorKind::Unsupported,
            "a zip archive cannot be inspected as a stream (its directory is at the end)",
        )));
    }
    let mut walker = Walker::new(limits, &|_| false, 0);
    walk_tars(reader, kind, &mut walker)?;
    walker.finish().map(|(summary, _)| summary)
}

/// Walks a tar (`Tar`) or gzip-compressed tar (`TarGz`).
fn walk_tars<R: Read>(
    reader: R,
    kind: ArchiveKind,
    walker: &mut Walker<'_>,
) -> Result<(), ArchiveError> {
    if kind == ArchiveKind::Tar {
        return walk_tar(BufReader::new(reader), walker, "tar");
    }
    let mut buffered = BufReader::new(reader);
    let head = buffered.fill_buf().map_err(ArchiveError::Io)?;
    if !head.starts_with(&[0x1f, 0x8b]) {
        return Err(ArchiveError::WrongFormat {
            expected: "gzip-compressed tar",
            reason: describe_magic(head),
        });
    }
    let gz = flate2::bufread::MultiGzDecoder::new(buffered);
    walk_tar(BufReader::new(gz), walker, "gzip-compressed tar")
}

fn describe_magic(head: &[u8]) -> String {
    let n = head.len().min(4);
    if n == 0 {
        return "the file is empty".to_owned();
    }
    let kind = if head.starts_with(b"PK") {
        " (a zip archive)"
    } else if head.starts_with(&[0x1f, 0x8b]) {
        " (gzip data)"
    } else if head.starts_with(b"BZh") {
        " (bzip2 data, which is not supported)"
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X']) {
        " (xz data, which is not supported)"
    } else {
        ""
    };
    format!(
        "it starts with bytes {}{kind}",
        crate::hashing::to_hex(&head[..n])
    )
}

fn walk_zip<R: Read + Seek>(reader: &mut R, walker: &mut Walker<'_>) -> Result<(), ArchiveError> {
    let wrong = |reason: String| ArchiveError::WrongFormat {
        expected: "zip",
        reason,
    };
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match reader.read(&mut magic[got..]).map_err(ArchiveError::Io)? {
            0 => break,
            n => got += n,
        }
    }
    if &magic[..got] != b"PK\x03\x04" && &magic[..got] != b"PK\x05\x06" {
        return Err(wrong(describe_magic(&magic[..got])));
    }
    reader.seek(SeekFrom::Start(0)).map_err(ArchiveError::Io)?;
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| wrong(e.to_string()))?;
    // Central directory and local headers must agree: no duplicate names (the zip crate would
    // silently keep one), no entries sharing data (overlap bombs), no local headers hidden
    // from the directory (extractors that stream local headers would see other files).
    zip.validate_header_consistency()
        .map_err(|e| ArchiveError::Corrupt {
            entry: None,
            reason: e.to_string(),
        })?;
    if zip.len() as u64 > walker.limits.max_entries {
        return Err(ArchiveError::TooManyEntries {
            limit: walker.limits.max_entries,
        });
    }
    for i in 0..zip.len() {
        let name_hint = zip
            .name_for_index(i)
            .and_then(Result::ok)
            .map(|n| n.into_owned());
        let mut file = match zip.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                let name = name_hint;
                return Err(match e {
                    zip::result::ZipError::UnsupportedArchive(msg) => {
                        ArchiveError::UnsupportedEntry {
                            path: name.unwrap_or_default(),
                            reason: msg.to_owned(),
                        }
                    }
                    zip::result::ZipError::CompressionMethodNotSupported(m) => {
                        ArchiveError::UnsupportedEntry {
                            path: name.unwrap_or_default(),
                            reason: format!(
                                "compression method {m} is not supported (only stored and deflate)"
                            ),
                        }
                    }
                    other => ArchiveError::Corrupt {
                        entry: name,
                        reason: other.to_string(),
                    },
                });
            }
        };
        let name = match file.name() {
            Ok(n) => n.into_owned(),
            Err(_) => String::from_utf8_lossy(file.name_raw()).into_owned(),
        };
        if file.encrypted() {
            return Err(ArchiveError::UnsupportedEntry {
                path: name,
                reason: "the entry is encrypted".into(),
            });
        }
        let mode = file.unix_mode();
        let kind = if file.is_symlink() {
            RawKind::Symlink
        } else if file.is_dir() {
            RawKind::Directory
        } else {
            if let Some(mode) = file.unix_mode() {
                let ty = mode & 0o170000;
                if ty != 0 && ty != 0o100000 {
                    return Err(ArchiveError::UnsupportedEntry {
                        path: name,
                        reason: format!("unix file type {ty:o} is not a regular file"),
                    });
                }
            }
            RawKind::File
        };
        if file.size() > walker.limits.max_entry_size {
            return Err(ArchiveError::EntryTooLarge {
                path: name,
                limit: walker.limits.max_entry_size,
            });
        }
        // An entry with no stored bytes is empty, whatever method it names: Octopus'
        // ZipPackageBuilder and NuGetPackageBuilder (adm-zip) write directories and
        // empty files as zero bytes marked deflated. Zero bytes are no valid deflate
        // stream (the decoder would call them corrupt); Python and adm-zip read them
        // as empty, and so do we, when the headers also declare nothing (size 0, CRC 0).
        if file.compressed_size() == 0 {
            if file.size() != 0 || file.crc32() != 0 {
                return Err(ArchiveError::Corrupt {
                    entry: Some(name),
                    reason: format!(
                        "the entry stores no data but declares {} bytes with CRC-32 {:08x}",
                        file.size(),
                        file.crc32()
                    ),
                });
            }
            walker.entry(&name, kind, mode, &mut io::empty())?;
            continue;
        }
        walker.entry(&name, kind, mode, &mut file)?;
    }
    Ok(())
}

/// Largest tar metadata member (GNU long name or link, PAX header) accepted.
pub const MAX_TAR_METADATA: u64 = 1 << 20;

/// Watches the raw tar stream and refuses metadata members (GNU long names, PAX headers)
/// larger than [`MAX_TAR_METADATA`] *before* the `tar` crate buffers them in memory, so a
/// small upload cannot make the server allocate gigabytes for one "file name".
struct TarGuard<R> {
    inner: R,
    header: [u8; 512],
    filled: usize,
    data_left: u64,
    pax: Option<Vec<u8>>,
    pax_size: Option<u64>,
    /// Set once the structure is no longer followed (end marker, damaged header).
    done: bool,
}

/// The error payload when [`TarGuard`] refuses a metadata member.
#[derive(Debug, thiserror::Error)]
#[error(
    "a tar long-name or PAX header member of {size} bytes is larger than the limit of {MAX_TAR_METADATA} bytes"
)]
struct TarMetadataTooLarge {
    size: u64,
}

impl<R> TarGuard<R> {
    fn new(inner: R) -> Self {
        TarGuard {
            inner,
            header: [0; 512],
            filled: 0,
            data_left: 0,
            pax: None,
            pax_size: None,
            done: false,
        }
    }

    fn observe(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() && !self.done {
            if self.data_left > 0 {
                let k = bytes
                    .len()
                    .min(usize::try_from(self.data_left).unwrap_or(usize::MAX));
                if let Some(p) = &mut self.pax {
                    p.extend_from_slice(&bytes[..k]);
                }
                self.data_left -= k as u64;
                bytes = &bytes[k..];
                if self.data_left == 0
                    && let Some(p) = self.pax.take()
                {
                    self.pax_size = pax_size(&p);
                }
                continue;
            }
            let k = bytes.len().min(512 - self.filled);
            self.header[self.filled..self.filled + k].copy_from_slice(&bytes[..k]);
            self.filled += k;
            bytes = &bytes[k..];
            if self.filled == 512 {
                self.filled = 0;
                self.on_header()?;
            }
        }
        Ok(())
    }

    fn on_header(&mut self) -> io::Result<()> {
        let h = &self.header;
        let stored = octal(&h[148..156]);
        let computed: u64 = h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(*b)
                }
            })
            .sum();
        let size = tar_size(&h[124..136]);
        let (Some(size), true) = (size, stored == Some(computed)) else {
            // End-of-archive zeros or a damaged header: the tar crate reports the latter.
            self.done = true;
            return Ok(());
        };
        let ty = h[156];
        let meta = matches!(ty, b'L' | b'K' | b'x' | b'g');
        if meta && size > MAX_TAR_METADATA {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TarMetadataTooLarge { size },
            ));
        }
        if ty == b'S' {
            // GNU sparse members carry extension blocks; they are refused by the walker.
            self.done = true;
            return Ok(());
        }
        let len = if meta {
            size
        } else {
            self.pax_size.take().unwrap_or(size)
        };
        if ty == b'x' {
            self.pax = Some(Vec::new());
        }
        self.data_left = len.div_ceil(512).saturating_mul(512);
        if self.data_left == 0
            && let Some(p) = self.pax.take()
        {
            self.pax_size = pax_size(&p);
        }
        Ok(())
    }
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

/// An octal header field (NUL/space padded).
fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let t = text.trim_matches(|c| c == '\0' || c == ' ');
    if t.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(t, 8).ok()
}

/// The size field: octal, or GNU base-256 when the high bit is set.
fn tar_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = 0;
        for (i, b) in field.iter().enumerate() {
            let b = if i == 0 { b & 0x7f } else { *b };
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        Some(v)
    } else {
        octal(field)
    }
}

/// The `size` record of PAX extended-header data (`"<len> size=<n>\n"` records).
fn pax_size(data: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(data);
    text.split('\n')
        .filter_map(|rec| rec.split_once(' ').map(|(_, kv)| kv))
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == "size")
        .filter_map(|(_, v)| v.trim_end_matches('\0').parse().ok())
        .next_back()
}

/// The message of a [`TarMetadataTooLarge`] inside `e`, however the `tar` crate wrapped it.
fn find_guard_error(e: &io::Error) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|x| x as _);
    while let Some(err) = cur {
        if let Some(g) = err.downcast_ref::<TarMetadataTooLarge>() {
            return Some(g.to_string());
        }
        if let Some(io) = err.downcast_ref::<io::Error>()
            && let Some(inner) = io.get_ref()
        {
            cur = Some(inner);
            continue;
        }
        cur = err.source();
    }
    None
}

fn walk_tar<R: Read>(
    reader: R,
    walker: &mut Walker<'_>,
    expected: &'static str,
) -> Result<(), ArchiveError> {
    let mut counted = Counting {
        inner: TarGuard::new(reader),
        count: 0,
    };
    {
        let mut archive = tar::Archive::new(&mut counted);
        let entries = archive.entries().map_err(ArchiveError::Io)?;
        let mut first = true;
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) if find_guard_error(&e).is_some() => {
                    return Err(ArchiveError::UnsupportedEntry {
                        path: walker
                            .entries
                            .last()
                            .map(|e| e.path.clone())
                            .unwrap_or_default(),
                        reason: find_guard_error(&e).unwrap_or_default(),
                    });
                }
                Err(e) if first => {
                    return Err(ArchiveError::WrongFormat {
                        expected,
                        reason: e.to_string(),
                    });
                }
                Err(e) => return Err(corrupt(walker.entries.last().map(|e| e.path.as_str()), e)),
            };
            first = false;
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let ty = entry.header().entry_type();
            let kind = match ty {
                tar::EntryType::Regular | tar::EntryType::Continuous => RawKind::File,
                tar::EntryType::Directory => RawKind::Directory,
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    if ty == tar::EntryType::Symlink {
                        // A link has no data, but a crafted one could carry some: count it
                        // against the limits rather than let the tar crate skip it unseen.
                        walker.consume(&path, &mut entry, Sink::Discard)?;
                        // tar keeps the target in the header; hand it over as the data.
                        walker.entry(&path, RawKind::Symlink, None, &mut target.as_bytes())?;
                        continue;
                    }
                    RawKind::HardLink(target)
                }
                // PAX global headers carry metadata only.
                tar::EntryType::XGlobalHeader => continue,
                other => {
                    return Err(ArchiveError::UnsupportedEntry {
                        path,
                        reason: format!("tar entry type {other:?} is not allowed"),
                    });
                }
            };
            let mode = entry.header().mode().ok();
            walker.entry(&path, kind, mode, &mut entry)?;
        }
    }
    if counted.count < 512 {
        return Err(ArchiveError::WrongFormat {
            expected,
            reason: format!(
                "{} bytes is too short for a tar archive (at least one 512-byte block)",
                counted.count
            ),
        });
    }
    // Read whatever follows the end-of-archive marker so a gzip trailer (CRC, size) is
    // verified, counting it against the total limit (a bomb could hide there).
    let room = walker
        .limits
        .max_total_size
        .saturating_sub(walker.total)
        .saturating_add(1);
    let trailing =
        io::copy(&mut (&mut counted).take(room), &mut io::sink()).map_err(|e| corrupt(None, e))?;
    if trailing >= room {
        return Err(ArchiveError::TooLarge {
            limit: walker.limits.max_total_size,
        });
    }
    Ok(())
}

mod extract;
pub use extract::{ExtractSummary, extract};

#[cfg(test)]
mod tests;
