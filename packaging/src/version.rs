//! Semantic Versioning 2.0 versions with one relaxation: the patch component may be omitted.
//!
//! `1.2` parses as `1.2.0` (the omission is remembered, see [`Version::patch_omitted`]);
//! pre-release (`-beta.1`) and build metadata (`+sha.abc`) follow SemVer 2.0 exactly:
//! identifiers are non-empty `[0-9A-Za-z-]` runs and numeric identifiers (and the numeric
//! components) have no leading zeros.
//!
//! Ordering is SemVer 2.0 §11 precedence; build metadata has no precedence, so
//! [`Version::cmp_precedence`] ignores it. To keep [`Ord`] consistent with [`Eq`], the derived
//! total order breaks precedence ties by comparing build metadata, as the `semver` crate does.
//!
//! ```
//! use octopus_packaging::version::Version;
//!
//! let v: Version = "1.2-beta.2+build.7".parse().unwrap();
//! assert_eq!(v.to_string(), "1.2.0-beta.2+build.7");
//! assert!(v < "1.2.0".parse().unwrap());
//! assert!("1.2.0-beta.10".parse::<Version>().unwrap() > "1.2.0-beta.9".parse().unwrap());
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Longest version accepted, in bytes of its normalised form (`1.2` counts as `1.2.0`).
pub const MAX_VERSION_LEN: usize = 256;

/// A parsed version: `MAJOR.MINOR[.PATCH][-PRERELEASE][+BUILD]`.
#[derive(Debug, Clone)]
pub struct Version {
    /// Major component.
    pub major: u64,
    /// Minor component.
    pub minor: u64,
    /// Patch component (0 when omitted).
    pub patch: u64,
    /// Pre-release identifiers (empty for a release).
    pub pre: Vec<Identifier>,
    /// Build metadata identifiers (no precedence).
    pub build: Vec<String>,
    patch_omitted: bool,
}

/// A pre-release identifier: numeric ones sort numerically and below alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// A numeric identifier such as `10`.
    Numeric(u64),
    /// An identifier with at least one non-digit, such as `beta` or `rc-1`.
    AlphaNumeric(String),
}

impl Ord for Identifier {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Identifier::Numeric(a), Identifier::Numeric(b)) => a.cmp(b),
            (Identifier::Numeric(_), Identifier::AlphaNumeric(_)) => Ordering::Less,
            (Identifier::AlphaNumeric(_), Identifier::Numeric(_)) => Ordering::Greater,
            (Identifier::AlphaNumeric(a), Identifier::AlphaNumeric(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Identifier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identifier::Numeric(n) => write!(f, "{n}"),
            Identifier::AlphaNumeric(s) => f.write_str(s),
        }
    }
}

/// Why a version string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The text is empty.
    #[error("version is empty")]
    Empty,
    /// The normalised text (patch included) is longer than [`MAX_VERSION_LEN`].
    #[error(
        "version is {0} bytes long (with the patch component); at most {MAX_VERSION_LEN} are allowed"
    )]
    TooLong(usize),
    /// The core has fewer than two or more than three numeric components.
    #[error(
        "version `{text}` has {count} numeric component(s); expected MAJOR.MINOR or MAJOR.MINOR.PATCH"
    )]
    ComponentCount {
        /// The version core.
        text: String,
        /// How many components were found.
        count: usize,
    },
    /// A numeric component is empty or not a number.
    #[error("{which} component `{text}` is not a non-negative integer")]
    NotANumber {
        /// `major`, `minor` or `patch`.
        which: &'static str,
        /// The offending text.
        text: String,
    },
    /// A numeric component or identifier has a leading zero.
    #[error("{which} `{text}` has a leading zero, which Semantic Versioning forbids")]
    LeadingZero {
        /// What was being parsed.
        which: &'static str,
        /// The offending text.
        text: String,
    },
    /// A number does not fit in 64 bits.
    #[error("{which} `{text}` is too large (maximum {max})", max = u64::MAX)]
    TooLarge {
        /// What was being parsed.
        which: &'static str,
        /// The offending text.
        text: String,
    },
    /// A pre-release or build identifier is empty (e.g. `1.0.0-a..b`, `1.0.0-`).
    #[error("{which} has an empty identifier")]
    EmptyIdentifier {
        /// `pre-release` or `build metadata`.
        which: &'static str,
    },
    /// A pre-release or build identifier holds a character outside `[0-9A-Za-z-]`.
    #[error(
        "{which} identifier `{text}` contains `{ch}`; only ASCII letters, digits and `-` are allowed"
    )]
    InvalidCharacter {
        /// `pre-release` or `build metadata`.
        which: &'static str,
        /// The identifier.
        text: String,
        /// The first bad character.
        ch: char,
    },
}

fn parse_number(which: &'static str, text: &str) -> Result<u64, VersionError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VersionError::NotANumber {
            which,
            text: text.to_owned(),
        });
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(VersionError::LeadingZero {
            which,
            text: text.to_owned(),
        });
    }
    text.parse::<u64>().map_err(|_| VersionError::TooLarge {
        which,
        text: text.to_owned(),
    })
}

fn check_identifier(which: &'static str, ident: &str) -> Result<(), VersionError> {
    if ident.is_empty() {
        return Err(VersionError::EmptyIdentifier { which });
    }
    if let Some(ch) = ident
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(VersionError::InvalidCharacter {
            which,
            text: ident.to_owned(),
            ch,
        });
    }
    Ok(())
}

impl Version {
    /// A release version `major.minor.patch`.
    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version {
            major,
            minor,
            patch,
            pre: Vec::new(),
            build: Vec::new(),
            patch_omitted: false,
        }
    }

    /// Parses `MAJOR.MINOR[.PATCH][-PRERELEASE][+BUILD]` (no surrounding whitespace, no `v`).
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if text.len() > MAX_VERSION_LEN {
            return Err(VersionError::TooLong(text.len()));
        }
        let (rest, build) = match text.split_once('+') {
            Some((rest, build)) => (rest, Some(build)),
            None => (text, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (rest, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(VersionError::ComponentCount {
                text: core.to_owned(),
                count: parts.len(),
            });
        }
        let major = parse_number("major", parts[0])?;
        let minor = parse_number("minor", parts[1])?;
        let patch = match parts.get(2) {
            Some(p) => parse_number("patch", p)?,
            None => 0,
        };
        let mut version = Version::new(major, minor, patch);
        version.patch_omitted = parts.len() == 2;
        // The limit holds for the normalised form too, so `Display` output always parses.
        if version.patch_omitted && text.len() + 2 > MAX_VERSION_LEN {
            return Err(VersionError::TooLong(text.len() + 2));
        }
        if let Some(pre) = pre {
            for ident in pre.split('.') {
                check_identifier("pre-release", ident)?;
                let id = if ident.bytes().all(|b| b.is_ascii_digit()) {
                    Identifier::Numeric(parse_number("pre-release identifier", ident)?)
                } else {
                    Identifier::AlphaNumeric(ident.to_owned())
                };
                version.pre.push(id);
            }
        }
        if let Some(build) = build {
            for ident in build.split('.') {
                check_identifier("build metadata", ident)?;
                version.build.push(ident.to_owned());
            }
        }
        Ok(version)
    }

    /// True when the text had no patch component (`1.2` rather than `1.2.0`).
    pub fn patch_omitted(&self) -> bool {
        self.patch_omitted
    }

    /// True for a pre-release version (`1.0.0-beta`).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// SemVer 2.0 §11 precedence: build metadata is ignored, so `1.0.0+a` and `1.0.0+b`
    /// have equal precedence.
    pub fn cmp_precedence(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A pre-release has lower precedence than the release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }

    /// The same version without pre-release and build metadata.
    pub fn release(&self) -> Version {
        Version::new(self.major, self.minor, self.patch)
    }

    /// The text as it would have been written: like `Display` but without a patch that was
    /// omitted in the parsed text (`1.2-beta` stays `1.2-beta`).
    pub fn to_original_string(&self) -> String {
        let mut s = if self.patch_omitted && self.patch == 0 {
            format!("{}.{}", self.major, self.minor)
        } else {
            format!("{}.{}.{}", self.major, self.minor, self.patch)
        };
        self.write_suffixes(&mut s);
        s
    }

    fn write_suffixes(&self, s: &mut String) {
        use std::fmt::Write;
        for (i, p) in self.pre.iter().enumerate() {
            s.push(if i == 0 { '-' } else { '.' });
            let _ = write!(s, "{p}");
        }
        for (i, b) in self.build.iter().enumerate() {
            s.push(if i == 0 { '+' } else { '.' });
            s.push_str(b);
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.major, self.minor, self.patch, &self.pre, &self.build).hash(state);
    }
}

impl Ord for Version {
    /// Precedence first, then build metadata as a tie-breaker (see the module docs).
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_precedence(other)
            .then_with(|| self.build.cmp(&other.build))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    /// The normalised form, always with a patch component.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        self.write_suffixes(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Version::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_normalises() {
        let x = v("1.2");
        assert_eq!((x.major, x.minor, x.patch), (1, 2, 0));
        assert!(x.patch_omitted());
        assert_eq!(x.to_string(), "1.2.0");
        assert_eq!(x.to_original_string(), "1.2");
        let y = v("10.20.30-rc.1+build.5");
        assert_eq!(
            y.pre,
            vec![
                Identifier::AlphaNumeric("rc".into()),
                Identifier::Numeric(1)
            ]
        );
        assert_eq!(y.build, vec!["build".to_string(), "5".to_string()]);
        assert_eq!(y.to_string(), "10.20.30-rc.1+build.5");
        assert_eq!(v("1.0.0-x-y-z.--").to_string(), "1.0.0-x-y-z.--");
        assert_eq!(v("1.0.0+0001").build, vec!["0001".to_string()]);
        assert_eq!(v("1.0-alpha").to_original_string(), "1.0-alpha");
    }

    #[test]
    fn rejects_invalid_with_reasons() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("1", "1 numeric component"),
            ("1.2.3.4", "4 numeric component"),
            ("01.2.3", "leading zero"),
            ("1.2.3-01", "leading zero"),
            ("1.a.3", "minor component `a`"),
            ("1..3", "minor component ``"),
            ("1.2.3-", "empty identifier"),
            ("1.2.3-a..b", "empty identifier"),
            ("1.2.3+", "empty identifier"),
            ("1.2.3-be_ta", "contains `_`"),
            ("1.2.3+a+b", "contains `+`"),
            ("v1.2.3", "major component `v1`"),
            (" 1.2.3", "major component ` 1`"),
            ("99999999999999999999.0.0", "too large"),
        ];
        for (text, want) in cases {
            let err = Version::parse(text).expect_err(text).to_string();
            assert!(
                err.contains(want),
                "{text:?}: `{err}` should contain `{want}`"
            );
        }
        assert!(matches!(
            Version::parse(&"1".repeat(300)),
            Err(VersionError::TooLong(300))
        ));
        // Found by fuzzing: normalising `1.2` to `1.2.0` must not push it over the limit.
        let at_limit = format!("1.2.3-{}", "a".repeat(MAX_VERSION_LEN - 6));
        assert_eq!(
            Version::parse(&at_limit).unwrap().to_string().len(),
            MAX_VERSION_LEN
        );
        let short_patch = format!("1.2-{}", "a".repeat(MAX_VERSION_LEN - 5));
        assert_eq!(short_patch.len(), MAX_VERSION_LEN - 1);
        assert_eq!(
            Version::parse(&short_patch),
            Err(VersionError::TooLong(MAX_VERSION_LEN + 1))
        );
    }

    #[test]
    fn precedence_follows_semver_section_11() {
        // The chain from SemVer 2.0 §11.4.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1",
            "1.10.0",
            "2.0.0",
        ];
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        let mut shuffled: Vec<Version> = chain.iter().rev().map(|s| v(s)).collect();
        shuffled.sort();
        let sorted: Vec<String> = shuffled.iter().map(|x| x.to_original_string()).collect();
        assert_eq!(sorted, chain);
    }

    #[test]
    fn build_metadata_has_no_precedence_but_breaks_ties() {
        assert_eq!(v("1.0.0+a").cmp_precedence(&v("1.0.0+b")), Ordering::Equal);
        assert_ne!(v("1.0.0+a"), v("1.0.0+b"));
        assert!(v("1.0.0+a") < v("1.0.0+b"));
        assert_eq!(v("1.0"), v("1.0.0"));
    }

    proptest::proptest! {
        #[test]
        fn display_parses_back_and_order_is_consistent(
            a in "[0-9]{1,3}\\.[0-9]{1,3}(\\.[0-9]{1,3})?(-[0-9A-Za-z-]{1,4}(\\.[0-9A-Za-z-]{1,4}){0,2})?(\\+[0-9A-Za-z-]{1,4})?",
            b in "[0-9]{1,3}\\.[0-9]{1,3}(\\.[0-9]{1,3})?(-[0-9A-Za-z-]{1,4})?",
        ) {
            // Strings with leading zeros are rejected; everything accepted must round-trip.
            if let (Ok(x), Ok(y)) = (Version::parse(&a), Version::parse(&b)) {
                proptest::prop_assert_eq!(Version::parse(&x.to_string()).unwrap(), x.clone());
                proptest::prop_assert_eq!(Version::parse(&x.to_original_string()).unwrap(), x.clone());
                proptest::prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
                proptest::prop_assert_eq!(x == y, x.cmp(&y) == Ordering::Equal);
            }
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = Version::parse(&text);
        }
    }

    #[test]
    fn serde_as_string() {
        let x: Version = serde_json::from_str("\"2.1-beta\"").unwrap();
        assert_eq!(serde_json::to_string(&x).unwrap(), "\"2.1.0-beta\"");
        let err = serde_json::from_str::<Version>("\"2\"").unwrap_err();
        assert!(err.to_string().contains("numeric component"), "{err}");
    }
}
