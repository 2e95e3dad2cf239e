//! Package file names: `<id>.<version>.<ext>`.
//!
//! * **Extension** (case-insensitive): `zip`, `nupkg`, `tar`, `tar.gz`, `tgz`; longer ones are
//!   tried first, so `foo.1.0.0-release.tar.gz` is version `1.0.0-release` with `tar.gz`.
//! * **Split**: the stem is cut at `.`; the version starts at the *first* segment from which the
//!   rest of the stem is a valid [`Version`] (Octopus's lazy-ID rule), so
//!   `Foo.Bar.2.Baz.1.0.0.zip` is `Foo.Bar.2.Baz` + `1.0.0`. IDs ending in a number are
//!   ambiguous: `app.2.1.0.zip` is `app` + `2.1.0`, while `app.2.1.0.0.zip` is `app.2` + `1.0.0`
//!   (`2.1.0.0` has four components, so it is not a version). Keep numbers out of IDs.
//! * **ID**: ASCII letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit,
//!   no empty `.` segment.
//!
//! ```
//! use octopus_packaging::filename::{PackageFileName, PackageFormat};
//!
//! let p = PackageFileName::parse("hello-world.1.2-beta.1.tar.gz").unwrap();
//! assert_eq!(p.id, "hello-world");
//! assert_eq!(p.version.to_string(), "1.2.0-beta.1");
//! assert_eq!(p.format, PackageFormat::TarGz);
//! assert_eq!(p.to_string(), "hello-world.1.2.0-beta.1.tar.gz");
//!
//! let err = PackageFileName::parse("my app.1.0.0.zip").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid package file name `my app.1.0.0.zip`: package ID `my app` contains ` ` at \
//!      position 2; only ASCII letters, digits, `-`, `_` and `.` are allowed"
//! );
//! ```

use std::fmt;
use std::str::FromStr;

use crate::version::Version;

/// Longest file name accepted, in bytes (a common file-system limit), counted with the version
/// normalised so that the canonical name ([`PackageFileName::file_name`]) always fits.
pub const MAX_FILE_NAME_LEN: usize = 255;

/// A package file format, named by its extension; serialized as the extension (`"tar.gz"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageFormat {
    /// `.zip`
    Zip,
    /// `.nupkg` (a zip with a `.nuspec`)
    Nupkg,
    /// `.tar` (uncompressed)
    Tar,
    /// `.tar.gz`
    TarGz,
    /// `.tgz` (same container as `.tar.gz`)
    Tgz,
}

/// The container actually used for the bytes of a [`PackageFormat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchiveKind {
    /// A zip archive.
    Zip,
    /// An uncompressed tar archive.
    Tar,
    /// A gzip-compressed tar archive.
    TarGz,
}

impl PackageFormat {
    /// Every supported format, longest extension first (the matching order).
    pub const ALL: [PackageFormat; 5] = [
        PackageFormat::TarGz,
        PackageFormat::Nupkg,
        PackageFormat::Zip,
        PackageFormat::Tar,
        PackageFormat::Tgz,
    ];

    /// The extension without its leading dot, e.g. `tar.gz`.
    pub fn extension(self) -> &'static str {
        match self {
            PackageFormat::Zip => "zip",
            PackageFormat::Nupkg => "nupkg",
            PackageFormat::Tar => "tar",
            PackageFormat::TarGz => "tar.gz",
            PackageFormat::Tgz => "tgz",
        }
    }

    /// The container format of the bytes.
    pub fn archive_kind(self) -> ArchiveKind {
        match self {
            PackageFormat::Zip | PackageFormat::Nupkg => ArchiveKind::Zip,
            PackageFormat::Tar => ArchiveKind::Tar,
            PackageFormat::TarGz | PackageFormat::Tgz => ArchiveKind::TarGz,
        }
    }

    /// The format whose extension ends `file_name` (case-insensitive).
    pub fn from_file_name(file_name: &str) -> Option<PackageFormat> {
        PackageFormat::ALL.into_iter().find(|f| {
            let ext = f.extension();
            file_name.len() > ext.len() + 1
                && file_name.is_char_boundary(file_name.len() - ext.len() - 1)
                && file_name[file_name.len() - ext.len() - 1..]
                    .strip_prefix('.')
                    .is_some_and(|e| e.eq_ignore_ascii_case(ext))
        })
    }
}

impl serde::Serialize for PackageFormat {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.extension())
    }
}

impl<'de> serde::Deserialize<'de> for PackageFormat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let ext = text.strip_prefix('.').unwrap_or(&text);
        PackageFormat::ALL
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(ext))
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unsupported package format `{text}`; expected zip, nupkg, tar, tar.gz or tgz"
                ))
            })
    }
}

impl fmt::Display for PackageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// A parsed package file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFileName {
    /// The package ID, as written.
    pub id: String,
    /// The version.
    pub version: Version,
    /// The format, from the extension.
    pub format: PackageFormat,
}

/// Why a package file name was rejected: [`FileNameError::reason`] says exactly what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid package file name `{name}`: {reason}")]
pub struct FileNameError {
    /// The file name (truncated to 300 bytes).
    pub name: String,
    /// What is wrong.
    pub reason: FileNameErrorKind,
}

/// The specific problem with a package file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameErrorKind {
    /// The name is empty.
    #[error("the file name is empty")]
    Empty,
    /// The name, with its version normalised, is longer than [`MAX_FILE_NAME_LEN`].
    #[error(
        "the file name is {0} bytes long (with the version's patch component); at most {MAX_FILE_NAME_LEN} are allowed"
    )]
    TooLong(usize),
    /// The name holds a path separator.
    #[error("the file name contains `{0}`; give a bare file name, not a path")]
    PathSeparator(char),
    /// The extension is not supported.
    #[error(
        "{}; supported extensions are .zip, .nupkg, .tar, .tar.gz and .tgz",
        match .0 { Some(e) => format!("unsupported extension `.{e}`"), None => "the file name has no extension".to_owned() }
    )]
    UnsupportedExtension(Option<String>),
    /// No `.`-separated suffix of the stem is a version.
    #[error(
        "no version found in `{stem}`: expected `<id>.<version>.<ext>` with a version like 1.0 or 1.2.3-beta.1 ({detail})"
    )]
    NoVersion {
        /// The name without extension.
        stem: String,
        /// Why the last candidate failed.
        detail: String,
    },
    /// Nothing precedes the version.
    #[error("the package ID is empty")]
    EmptyId,
    /// The ID holds a character outside `[A-Za-z0-9._-]`.
    #[error(
        "package ID `{id}` contains `{ch}` at position {position}; only ASCII letters, digits, `-`, `_` and `.` are allowed"
    )]
    InvalidIdCharacter {
        /// The ID.
        id: String,
        /// The bad character.
        ch: char,
        /// Its 0-based character position within the ID.
        position: usize,
    },
    /// The ID starts or ends with a separator or has an empty `.` segment.
    #[error("package ID `{id}` {problem}")]
    BadIdShape {
        /// The ID.
        id: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

fn fail(name: &str, reason: FileNameErrorKind) -> FileNameError {
    let mut end = name.len().min(300);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    FileNameError {
        name: name[..end].to_owned(),
        reason,
    }
}

/// Checks a package ID against the rules in the module docs.
pub fn validate_id(id: &str) -> Result<(), FileNameErrorKind> {
    if id.is_empty() {
        return Err(FileNameErrorKind::EmptyId);
    }
    if let Some((position, ch)) = id
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(FileNameErrorKind::InvalidIdCharacter {
            id: id.to_owned(),
            ch,
            position,
        });
    }
    let shape = |problem| {
        Err(FileNameErrorKind::BadIdShape {
            id: id.to_owned(),
            problem,
        })
    };
    if !id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return shape("must start with a letter or digit");
    }
    if !id.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return shape("must end with a letter or digit");
    }
    if id.contains("..") {
        return shape("has an empty `.`-separated segment (`..`)");
    }
    Ok(())
}

impl PackageFileName {
    /// Parses `<id>.<version>.<ext>`; see the module docs for the rules.
    pub fn parse(name: &str) -> Result<Self, FileNameError> {
        if name.is_empty() {
            return Err(fail(name, FileNameErrorKind::Empty));
        }
        if name.len() > MAX_FILE_NAME_LEN {
            return Err(fail(name, FileNameErrorKind::TooLong(name.len())));
        }
        if let Some(sep) = name.chars().find(|c| matches!(c, '/' | '\\')) {
            return Err(fail(name, FileNameErrorKind::PathSeparator(sep)));
        }
        let Some(format) = PackageFormat::from_file_name(name) else {
            let ext = name.rsplit_once('.').map(|(_, e)| e.to_owned());
            return Err(fail(name, FileNameErrorKind::UnsupportedExtension(ext)));
        };
        let stem = &name[..name.len() - format.extension().len() - 1];
        // Report the first (longest) candidate's problem: it is the most informative.
        let mut detail: Option<String> = None;
        let mut found = None;
        for (i, _) in stem.match_indices('.') {
            let candidate = &stem[i + 1..];
            // Versions start with a digit: skip cheaply to keep the scan linear in practice.
            if !candidate.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            match Version::parse(candidate) {
                Ok(v) => {
                    found = Some((&stem[..i], v));
                    break;
                }
                Err(e) => {
                    detail.get_or_insert_with(|| format!("`{candidate}`: {e}"));
                }
            }
        }
        let Some((id, version)) = found else {
            if stem.starts_with(|c: char| c.is_ascii_digit()) && Version::parse(stem).is_ok() {
                return Err(fail(name, FileNameErrorKind::EmptyId));
            }
            return Err(fail(
                name,
                FileNameErrorKind::NoVersion {
                    stem: stem.to_owned(),
                    detail: detail.unwrap_or_else(|| {
                        "no `.`-separated part starting with a digit".to_owned()
                    }),
                },
            ));
        };
        validate_id(id).map_err(|k| fail(name, k))?;
        if version.patch_omitted() && name.len() + 2 > MAX_FILE_NAME_LEN {
            return Err(fail(name, FileNameErrorKind::TooLong(name.len() + 2)));
        }
        Ok(PackageFileName {
            id: id.to_owned(),
            version,
            format,
        })
    }

    /// The canonical file name, with the normalised version.
    pub fn file_name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for PackageFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.id, self.version, self.format)
    }
}

impl FromStr for PackageFileName {
    type Err = FileNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageFileName::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(name: &str) -> (String, String, PackageFormat) {
        let p = PackageFileName::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        (p.id, p.version.to_string(), p.format)
    }

    #[test]
    fn splits_id_and_version() {
        use PackageFormat::*;
        let cases: &[(&str, &str, &str, PackageFormat)] = &[
            ("hello-world.1.0.0.zip", "hello-world", "1.0.0", Zip),
            (
                "Octopus.MyStepPackage.1.0.0.zip",
                "Octopus.MyStepPackage",
                "1.0.0",
                Zip,
            ),
            ("Foo.Bar.2.Baz.1.0.0.zip", "Foo.Bar.2.Baz", "1.0.0", Zip),
            ("foo.1.0.0-release.tar.gz", "foo", "1.0.0-release", TarGz),
            ("foo.1.0.0-release.TAR.GZ", "foo", "1.0.0-release", TarGz),
            ("foo.1.0.tgz", "foo", "1.0.0", Tgz),
            (
                "foo.2.1-beta.3+sha.5.nupkg",
                "foo",
                "2.1.0-beta.3+sha.5",
                Nupkg,
            ),
            ("my_pkg.10.20.30.tar", "my_pkg", "10.20.30", Tar),
            ("MyApp.v1.0.0.zip", "MyApp.v1", "0.0", Zip),
            ("app.2.1.0.0.zip", "app.2", "1.0.0", Zip),
            ("1.0.0.zip", "1", "0.0", Zip),
        ];
        for (name, id, version, format) in cases {
            let (gid, gv, gf) = ok(name);
            let want_v = Version::parse(version).unwrap().to_string();
            assert_eq!(
                (gid.as_str(), gv.as_str(), gf),
                (*id, want_v.as_str(), *format),
                "{name}"
            );
        }
    }

    #[test]
    fn errors_say_why() {
        let cases: &[(&str, &str)] = &[
            ("", "the file name is empty"),
            ("foo.1.0.0.rar", "unsupported extension `.rar`"),
            ("foo", "the file name has no extension"),
            ("foo.1.0.0.gz", "unsupported extension `.gz`"),
            ("foo.zip", "no version found in `foo`"),
            ("foo.bar.zip", "no version found"),
            ("foo.1.zip", "`1`: version `1` has 1 numeric component"),
            ("foo.01.0.zip", "leading zero"),
            ("1.0.zip", "the package ID is empty"),
            (".1.0.0.zip", "the package ID is empty"),
            ("my app.1.0.0.zip", "contains ` ` at position 2"),
            ("café.1.0.0.zip", "contains `é` at position 3"),
            ("-foo.1.0.0.zip", "must start with a letter or digit"),
            ("foo-.1.0.0.zip", "must end with a letter or digit"),
            ("foo..bar.1.0.0.zip", "empty `.`-separated segment"),
            ("../foo.1.0.0.zip", "contains `/`"),
            ("..\\foo.1.0.0.zip", "contains `\\`"),
            ("foo.1.0.0-be_ta.zip", "contains `_`"),
        ];
        for (name, want) in cases {
            let e = PackageFileName::parse(name).expect_err(name).to_string();
            assert!(e.contains(want), "{name:?}: `{e}` lacks `{want}`");
        }
        // Found by fuzzing: the canonical name (`1.0` → `1.0.0`) must fit the limit too.
        let fits = format!("{}.1.0.0.zip", "a".repeat(MAX_FILE_NAME_LEN - 10));
        assert_eq!(fits.len(), MAX_FILE_NAME_LEN);
        PackageFileName::parse(&fits).unwrap();
        let short = format!("{}.1.0.zip", "a".repeat(MAX_FILE_NAME_LEN - 9));
        assert_eq!(short.len(), MAX_FILE_NAME_LEN - 1);
        let e = PackageFileName::parse(&short).unwrap_err().to_string();
        assert!(
            e.contains("is 256 bytes long (with the version's patch component)"),
            "{e}"
        );
        let long = format!("{}.1.0.0.zip", "a".repeat(300));
        assert!(
            PackageFileName::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("at most 255")
        );
    }

    #[test]
    fn documented_messages_are_exact() {
        let msg = |n: &str| PackageFileName::parse(n).unwrap_err().to_string();
        assert_eq!(
            msg("foo.1.0.0.rar"),
            "invalid package file name `foo.1.0.0.rar`: unsupported extension `.rar`; supported \
             extensions are .zip, .nupkg, .tar, .tar.gz and .tgz"
        );
        assert_eq!(
            msg("foo.01.0.zip"),
            "invalid package file name `foo.01.0.zip`: no version found in `foo.01.0`: expected \
             `<id>.<version>.<ext>` with a version like 1.0 or 1.2.3-beta.1 (`01.0`: major `01` \
             has a leading zero, which Semantic Versioning forbids)"
        );
    }

    #[test]
    fn format_metadata() {
        assert_eq!(PackageFormat::Tgz.archive_kind(), ArchiveKind::TarGz);
        assert_eq!(PackageFormat::Nupkg.archive_kind(), ArchiveKind::Zip);
        assert_eq!(
            PackageFormat::from_file_name("x.TGZ"),
            Some(PackageFormat::Tgz)
        );
        assert_eq!(PackageFormat::from_file_name(".zip"), None);
        assert_eq!(PackageFormat::from_file_name("é"), None);
        assert_eq!(
            serde_json::to_string(&PackageFormat::TarGz).unwrap(),
            "\"tar.gz\""
        );
        let f: PackageFormat = serde_json::from_str("\".NUPKG\"").unwrap();
        assert_eq!(f, PackageFormat::Nupkg);
        let e = serde_json::from_str::<PackageFormat>("\"rar\"").unwrap_err();
        assert!(
            e.to_string().contains("unsupported package format `rar`"),
            "{e}"
        );
    }

    fn id_strategy() -> impl Strategy<Value = String> {
        // Segments start with a letter so no suffix of the ID can start a version.
        let segment = "[A-Za-z]([A-Za-z0-9]|[-_][A-Za-z0-9]){0,8}";
        proptest::collection::vec(segment, 1..4).prop_map(|s| s.join("."))
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        let num = prop_oneof![Just(0u64), 1u64..1000, Just(u64::MAX)];
        let ident = prop_oneof![
            "[a-zA-Z-][0-9a-zA-Z-]{0,5}",
            (0u64..100).prop_map(|n| n.to_string()),
        ];
        (
            num.clone(),
            num.clone(),
            proptest::option::of(num),
            proptest::collection::vec(ident, 0..3),
            proptest::collection::vec("[0-9a-zA-Z-]{1,4}", 0..3),
        )
            .prop_map(|(ma, mi, pa, pre, build)| {
                let mut s = format!("{ma}.{mi}");
                if let Some(pa) = pa {
                    s.push_str(&format!(".{pa}"));
                }
                if !pre.is_empty() {
                    s.push('-');
                    s.push_str(&pre.join("."));
                }
                if !build.is_empty() {
                    s.push('+');
                    s.push_str(&build.join("."));
                }
                s
            })
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(
            id in id_strategy(),
            version in version_strategy(),
            format in proptest::sample::select(PackageFormat::ALL.to_vec()),
            upper in any::<bool>(),
        ) {
            let ext = if upper { format.extension().to_ascii_uppercase() } else { format.extension().to_owned() };
            let name = format!("{id}.{version}.{ext}");
            let parsed = PackageFileName::parse(&name).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&parsed.id, &id);
            prop_assert_eq!(parsed.version.to_original_string(), version.clone());
            prop_assert_eq!(parsed.version.clone(), Version::parse(&version).unwrap());
            prop_assert_eq!(parsed.format, format);
            // The canonical name parses back to the same value.
            prop_assert_eq!(PackageFileName::parse(&parsed.to_string()).unwrap(), parsed);
        }

        #[test]
        fn parse_never_panics_and_canonical_form_is_stable(name in "\\PC{0,80}") {
            if let Ok(p) = PackageFileName::parse(&name) {
                prop_assert!(validate_id(&p.id).is_ok());
                prop_assert_eq!(PackageFileName::parse(&p.to_string()).unwrap(), p);
            }
        }

        #[test]
        fn parse_never_panics_on_name_like_input(name in "[a-z0-9.+_ -]{0,30}\\.(zip|tar\\.gz|tgz|nupkg|tar)") {
            if let Ok(p) = PackageFileName::parse(&name) {
                prop_assert!(name.to_ascii_lowercase().starts_with(&p.id.to_ascii_lowercase()));
                prop_assert_eq!(PackageFileName::parse(&p.to_string()).unwrap(), p);
            }
        }
    }
}
