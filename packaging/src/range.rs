//! Version ranges in NuGet interval notation or npm (node-semver) notation.
//!
//! [`VersionRange::parse`] detects the syntax:
//!
//! * **NuGet** when the text starts with `[` or `(`, or is a bare version (`1.0`, `1.2.3-beta`):
//!   `1.0` means `>= 1.0.0`; `[1.0]` exactly 1.0.0; `[1.0,2.0)` `>= 1.0.0 < 2.0.0`; `(1.0,)`
//!   `> 1.0.0`; `(,2.0]` `<= 2.0.0`. Bounds are full or partial versions (`1`, `1.2`, `1.2.3`,
//!   missing parts are zero). Pre-release versions are ordinary points of the order, so
//!   `[1.0,2.0)` contains `1.5.0-beta` **and** `2.0.0-beta` (which sorts below `2.0.0`), as in
//!   NuGet. Callers that want releases only filter with [`Version::is_prerelease`].
//! * **npm** otherwise: comparators `=`, `>`, `>=`, `<`, `<=` joined by spaces (AND) and `||`
//!   (OR); caret `^1.2.3`, tilde `~1.2`, X-ranges `1.x`, `1.2.*`, `*`, `x`, hyphen ranges
//!   `1.2 - 2.3.4`, and partial versions (`1.2` = `1.2.x`). Pre-releases follow node-semver:
//!   a pre-release version matches only if some comparator of the same `||` alternative names a
//!   pre-release of the same `MAJOR.MINOR.PATCH` (`>=1.2.3-beta.2` matches `1.2.3-beta.4` but
//!   not `1.2.4-beta`), and caret/tilde/X upper bounds exclude pre-releases of the next version.
//!
//! ```
//! use octopus_packaging::range::{RangeSyntax, VersionRange};
//! use octopus_packaging::version::Version;
//!
//! let nuget = VersionRange::parse("[1.0,2.0)").unwrap();
//! assert_eq!(nuget.syntax(), RangeSyntax::NuGet);
//! assert!(nuget.contains(&Version::parse("1.9.9").unwrap()));
//! assert!(!nuget.contains(&Version::parse("2.0.0").unwrap()));
//!
//! let npm = VersionRange::parse("^1.2").unwrap();
//! assert_eq!(npm.syntax(), RangeSyntax::Npm);
//! assert!(npm.contains(&Version::parse("1.9.0").unwrap()));
//! assert!(!npm.contains(&Version::parse("2.0.0-rc.1").unwrap()));
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::version::{Identifier, Version, VersionError};

/// Longest range text accepted, in bytes.
pub const MAX_RANGE_LEN: usize = 1024;

/// Which notation a range was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeSyntax {
    /// NuGet interval notation (`[1.0,2.0)`, or a bare minimum version).
    NuGet,
    /// npm / node-semver notation (`^1.2`, `>=1.0 <2.0`, `1.x || 3.x`).
    Npm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
}

impl Comparator {
    fn matches(&self, v: &Version) -> bool {
        let ord = v.cmp_precedence(&self.version);
        match self.op {
            Op::Eq => ord == Ordering::Equal,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
        }
    }
}

/// A parsed version range; see the module docs for both syntaxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    syntax: RangeSyntax,
    text: String,
    /// OR of ANDs; an empty inner list matches everything.
    sets: Vec<Vec<Comparator>>,
}

/// Why a range was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The text is empty or only whitespace.
    #[error("version range is empty")]
    Empty,
    /// The text is longer than [`MAX_RANGE_LEN`].
    #[error("version range is {0} bytes long; at most {MAX_RANGE_LEN} are allowed")]
    TooLong(usize),
    /// A NuGet interval is malformed.
    #[error("invalid NuGet interval `{text}`: {reason}")]
    NuGet {
        /// The range text.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// An npm range is malformed.
    #[error("invalid npm range `{text}`: {reason}")]
    Npm {
        /// The range text.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// A version inside the range is invalid.
    #[error("invalid version `{text}` in range: {source}")]
    Version {
        /// The version text.
        text: String,
        /// Why it is invalid.
        source: VersionError,
    },
}

/// A possibly partial version: `1`, `1.2`, `1.x`, `1.2.3-beta`.
#[derive(Debug, Clone)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Vec<Identifier>,
}

fn is_wild(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn parse_partial(text: &str, allow_wildcards: bool) -> Result<Partial, RangeError> {
    let verr = |source| RangeError::Version {
        text: text.to_owned(),
        source,
    };
    let no_build = text.split_once('+').map_or(text, |(a, _)| a);
    let (core, pre) = match no_build.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (no_build, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return Err(verr(VersionError::ComponentCount {
            text: core.to_owned(),
            count: parts.len(),
        }));
    }
    let mut nums = [None, None, None];
    let names = ["major", "minor", "patch"];
    let mut wild_seen = false;
    for (i, part) in parts.iter().enumerate() {
        if allow_wildcards && is_wild(part) {
            wild_seen = true;
            continue;
        }
        if wild_seen {
            return Err(verr(VersionError::NotANumber {
                which: names[i],
                text: (*part).to_owned(),
            }));
        }
        // Reuse the full parser's number rules by parsing a synthetic version.
        let n = Version::parse(&format!("{part}.0")).map_err(|e| match e {
            VersionError::NotANumber { text, .. } => VersionError::NotANumber {
                which: names[i],
                text,
            },
            VersionError::LeadingZero { text, .. } => VersionError::LeadingZero {
                which: names[i],
                text,
            },
            VersionError::TooLarge { text, .. } => VersionError::TooLarge {
                which: names[i],
                text,
            },
            other => other,
        });
        nums[i] = Some(n.map_err(verr)?.major);
    }
    let mut partial = Partial {
        major: nums[0],
        minor: nums[1],
        patch: nums[2],
        pre: Vec::new(),
    };
    if let Some(pre) = pre {
        if partial.patch.is_none() && partial.minor.is_none() {
            return Err(RangeError::Version {
                text: text.to_owned(),
                source: VersionError::ComponentCount {
                    text: core.to_owned(),
                    count: parts.len(),
                },
            });
        }
        let full = Version::parse(&format!(
            "{}.{}.{}-{pre}",
            partial.major.unwrap_or(0),
            partial.minor.unwrap_or(0),
            partial.patch.unwrap_or(0)
        ))
        .map_err(verr)?;
        partial.pre = full.pre;
    }
    Ok(partial)
}

fn full(major: u64, minor: u64, patch: u64, pre: Vec<Identifier>) -> Version {
    let mut v = Version::new(major, minor, patch);
    v.pre = pre;
    v
}

/// The smallest version with this core: `X.Y.Z-0`.
fn floor_pre(major: u64, minor: u64, patch: u64) -> Version {
    full(major, minor, patch, vec![Identifier::Numeric(0)])
}

fn cmp(op: Op, version: Version) -> Comparator {
    Comparator { op, version }
}

impl VersionRange {
    /// Parses a range, detecting NuGet or npm syntax (see the module docs).
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        if text.len() > MAX_RANGE_LEN {
            return Err(RangeError::TooLong(text.len()));
        }
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(RangeError::Empty);
        }
        let core_end = trimmed.find(['-', '+']).unwrap_or(trimmed.len());
        let nuget = trimmed.starts_with(['[', '('])
            || (trimmed.starts_with(|c: char| c.is_ascii_digit())
                && !trimmed.contains(char::is_whitespace)
                && !trimmed.contains('|')
                && !trimmed[..core_end].contains(['x', 'X', '*']));
        let (syntax, sets) = if nuget {
            (RangeSyntax::NuGet, vec![parse_nuget(trimmed)?])
        } else {
            (RangeSyntax::Npm, parse_npm(trimmed)?)
        };
        Ok(VersionRange {
            syntax,
            text: trimmed.to_owned(),
            sets,
        })
    }

    /// A range that contains every version.
    pub fn any() -> Self {
        VersionRange {
            syntax: RangeSyntax::Npm,
            text: "*".to_owned(),
            sets: vec![Vec::new()],
        }
    }

    /// The notation the range was written in.
    pub fn syntax(&self) -> RangeSyntax {
        self.syntax
    }

    /// True when `version` is inside the range.
    pub fn contains(&self, version: &Version) -> bool {
        self.sets.iter().any(|set| {
            if !set.iter().all(|c| c.matches(version)) {
                return false;
            }
            if self.syntax == RangeSyntax::NuGet || !version.is_prerelease() {
                return true;
            }
            // node-semver: a pre-release only matches when a comparator of this set
            // names a pre-release of the same MAJOR.MINOR.PATCH.
            set.iter().any(|c| {
                c.version.is_prerelease()
                    && (c.version.major, c.version.minor, c.version.patch)
                        == (version.major, version.minor, version.patch)
            })
        })
    }

    /// The versions from `versions` inside the range, sorted ascending by precedence.
    pub fn filter<'a, I>(&self, versions: I) -> Vec<&'a Version>
    where
        I: IntoIterator<Item = &'a Version>,
    {
        let mut out: Vec<&Version> = versions.into_iter().filter(|v| self.contains(v)).collect();
        out.sort();
        out
    }

    /// The highest version from `versions` inside the range.
    pub fn max_satisfying<'a, I>(&self, versions: I) -> Option<&'a Version>
    where
        I: IntoIterator<Item = &'a Version>,
    {
        versions.into_iter().filter(|v| self.contains(v)).max()
    }
}

impl fmt::Display for VersionRange {
    /// The range text as given (trimmed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for VersionRange {
    type Err = RangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VersionRange::parse(s)
    }
}

impl serde::Serialize for VersionRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for VersionRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        VersionRange::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn nuget_version(text: &str, whole: &str) -> Result<Version, RangeError> {
    let p = parse_partial(text, false)?;
    let Some(major) = p.major else {
        return Err(RangeError::NuGet {
            text: whole.to_owned(),
            reason: format!("`{text}` is not a version"),
        });
    };
    Ok(full(
        major,
        p.minor.unwrap_or(0),
        p.patch.unwrap_or(0),
        p.pre,
    ))
}

fn parse_nuget(text: &str) -> Result<Vec<Comparator>, RangeError> {
    let err = |reason: &str| RangeError::NuGet {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let first = text.chars().next().unwrap_or(' ');
    if first != '[' && first != '(' {
        // A bare version is an inclusive minimum.
        return Ok(vec![cmp(Op::Ge, nuget_version(text, text)?)]);
    }
    let last = text.chars().last().unwrap_or(' ');
    if last != ']' && last != ')' {
        return Err(err("an interval must end with `]` or `)`"));
    }
    let inner = &text[1..text.len() - 1];
    let min_inclusive = first == '[';
    let max_inclusive = last == ']';
    match inner.split_once(',') {
        None => {
            if !(min_inclusive && max_inclusive) {
                return Err(err("an exact version must be written `[1.0]`"));
            }
            let v = inner.trim();
            if v.is_empty() {
                return Err(err("`[]` names no version"));
            }
            Ok(vec![cmp(Op::Eq, nuget_version(v, text)?)])
        }
        Some((lo, hi)) => {
            if hi.contains(',') {
                return Err(err("an interval has at most two bounds"));
            }
            let (lo, hi) = (lo.trim(), hi.trim());
            if lo.is_empty() && hi.is_empty() {
                return Err(err("an interval needs at least one bound"));
            }
            let mut set = Vec::new();
            let mut low = None;
            if !lo.is_empty() {
                let v = nuget_version(lo, text)?;
                low = Some(v.clone());
                set.push(cmp(if min_inclusive { Op::Ge } else { Op::Gt }, v));
            } else if min_inclusive {
                return Err(err("an open lower bound must be written `(`"));
            }
            if !hi.is_empty() {
                let v = nuget_version(hi, text)?;
                if let Some(low) = &low {
                    match low.cmp_precedence(&v) {
                        Ordering::Greater => {
                            return Err(err("the lower bound is above the upper bound"));
                        }
                        Ordering::Equal if !(min_inclusive && max_inclusive) => {
                            return Err(err("equal bounds must both be inclusive: `[1.0]`"));
                        }
                        _ => {}
                    }
                }
                set.push(cmp(if max_inclusive { Op::Le } else { Op::Lt }, v));
            } else if max_inclusive {
                return Err(err("an open upper bound must be written `)`"));
            }
            Ok(set)
        }
    }
}

fn parse_npm(text: &str) -> Result<Vec<Vec<Comparator>>, RangeError> {
    let mut sets = Vec::new();
    for alternative in text.split("||") {
        let alternative = alternative.trim();
        let set = if alternative.is_empty() {
            // `""` within `||` means any version, as in node-semver.
            Vec::new()
        } else {
            parse_npm_set(alternative, text)?
        };
        sets.push(set);
    }
    Ok(sets)
}

fn parse_npm_set(alt: &str, whole: &str) -> Result<Vec<Comparator>, RangeError> {
    let err = |reason: String| RangeError::Npm {
        text: whole.to_owned(),
        reason,
    };
    // Hyphen range: `A - B`.
    if let Some((lo, hi)) = alt.split_once(" - ") {
        let (lo, hi) = (lo.trim(), hi.trim());
        if lo.contains(' ') || hi.contains(' ') || hi.contains(" - ") {
            return Err(err(format!("`{alt}` is not a valid hyphen range `A - B`")));
        }
        let lo = parse_partial(lo, true)?;
        let hi = parse_partial(hi, true)?;
        let mut set = Vec::new();
        if let Some(major) = lo.major {
            set.push(cmp(
                Op::Ge,
                full(major, lo.minor.unwrap_or(0), lo.patch.unwrap_or(0), lo.pre),
            ));
        }
        match (hi.major, hi.minor, hi.patch) {
            (None, _, _) => {}
            (Some(ma), None, _) => set.push(cmp(Op::Lt, floor_pre(ma.saturating_add(1), 0, 0))),
            (Some(ma), Some(mi), None) => {
                set.push(cmp(Op::Lt, floor_pre(ma, mi.saturating_add(1), 0)))
            }
            (Some(ma), Some(mi), Some(pa)) => set.push(cmp(Op::Le, full(ma, mi, pa, hi.pre))),
        }
        return Ok(set);
    }
    // Glue operators to their version: `>= 1.2` → `>=1.2`.
    let mut tokens: Vec<String> = Vec::new();
    let mut pending_op: Option<&str> = None;
    for word in alt.split_whitespace() {
        if matches!(word, ">" | ">=" | "<" | "<=" | "=" | "^" | "~" | "~>") {
            if pending_op.is_some() {
                return Err(err(format!("operator `{word}` follows another operator")));
            }
            pending_op = Some(word);
            continue;
        }
        match pending_op.take() {
            Some(op) => tokens.push(format!("{op}{word}")),
            None => tokens.push(word.to_owned()),
        }
    }
    if let Some(op) = pending_op {
        return Err(err(format!("operator `{op}` has no version after it")));
    }
    let mut set = Vec::new();
    for token in &tokens {
        expand_npm_comparator(token, &mut set, whole)?;
    }
    Ok(set)
}

fn expand_npm_comparator(
    token: &str,
    out: &mut Vec<Comparator>,
    whole: &str,
) -> Result<(), RangeError> {
    let err = |reason: String| RangeError::Npm {
        text: whole.to_owned(),
        reason,
    };
    let (op, rest) = ["~>", ">=", "<=", ">", "<", "=", "^", "~"]
        .iter()
        .find_map(|op| token.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("", token));
    let rest = rest.strip_prefix(['v', 'V']).unwrap_or(rest);
    if rest.is_empty() {
        return Err(err(format!("operator `{op}` has no version after it")));
    }
    if rest.starts_with(['>', '<', '=', '^', '~']) {
        return Err(err(format!("`{token}` has more than one operator")));
    }
    let p = parse_partial(rest, true)?;
    let pre = p.pre.clone();
    match op {
        "" | "=" => match (p.major, p.minor, p.patch) {
            (None, _, _) => {}
            (Some(ma), None, _) => {
                out.push(cmp(Op::Ge, full(ma, 0, 0, vec![])));
                out.push(cmp(Op::Lt, floor_pre(ma.saturating_add(1), 0, 0)));
            }
            (Some(ma), Some(mi), None) => {
                out.push(cmp(Op::Ge, full(ma, mi, 0, vec![])));
                out.push(cmp(Op::Lt, floor_pre(ma, mi.saturating_add(1), 0)));
            }
            (Some(ma), Some(mi), Some(pa)) => out.push(cmp(Op::Eq, full(ma, mi, pa, pre))),
        },
        "^" => {
            let Some(ma) = p.major else {
                return Ok(());
            };
            let mi = p.minor.unwrap_or(0);
            let pa = p.patch.unwrap_or(0);
            out.push(cmp(Op::Ge, full(ma, mi, pa, pre)));
            let upper = if ma > 0 || p.minor.is_none() {
                floor_pre(ma.saturating_add(1), 0, 0)
            } else if mi > 0 || p.patch.is_none() {
                floor_pre(0, mi.saturating_add(1), 0)
            } else {
                floor_pre(0, 0, pa.saturating_add(1))
            };
            out.push(cmp(Op::Lt, upper));
        }
        "~" | "~>" => {
            let Some(ma) = p.major else {
                return Ok(());
            };
            let mi = p.minor.unwrap_or(0);
            out.push(cmp(Op::Ge, full(ma, mi, p.patch.unwrap_or(0), pre)));
            let upper = if p.minor.is_none() {
                floor_pre(ma.saturating_add(1), 0, 0)
            } else {
                floor_pre(ma, mi.saturating_add(1), 0)
            };
            out.push(cmp(Op::Lt, upper));
        }
        ">" | ">=" | "<" | "<=" => {
            let Some(ma) = p.major else {
                // `>*` matches nothing, `>=*` / `<=*` everything, `<*` nothing.
                if matches!(op, ">" | "<") {
                    out.push(cmp(Op::Lt, floor_pre(0, 0, 0)));
                }
                return Ok(());
            };
            let v = full(ma, p.minor.unwrap_or(0), p.patch.unwrap_or(0), pre);
            let c = match (op, p.minor, p.patch) {
                (">=", _, _) | ("<", _, _) => {
                    cmp(if op == ">=" { Op::Ge } else { Op::Lt }, v.clone())
                }
                // `>1.2` means `>=1.3.0`; `>1` means `>=2.0.0`.
                (">", None, _) => cmp(Op::Ge, full(ma.saturating_add(1), 0, 0, vec![])),
                (">", Some(mi), None) => cmp(Op::Ge, full(ma, mi.saturating_add(1), 0, vec![])),
                (">", _, _) => cmp(Op::Gt, v.clone()),
                // `<=1.2` means `<1.3.0-0`.
                ("<=", None, _) => cmp(Op::Lt, floor_pre(ma.saturating_add(1), 0, 0)),
                ("<=", Some(mi), None) => cmp(Op::Lt, floor_pre(ma, mi.saturating_add(1), 0)),
                _ => cmp(Op::Le, v.clone()),
            };
            out.push(c);
        }
        _ => unreachable!("operator list is fixed"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn check(range: &str, inside: &[&str], outside: &[&str]) {
        let r = VersionRange::parse(range).unwrap_or_else(|e| panic!("{range}: {e}"));
        for s in inside {
            assert!(r.contains(&v(s)), "{range} should contain {s}");
        }
        for s in outside {
            assert!(!r.contains(&v(s)), "{range} should not contain {s}");
        }
    }

    #[test]
    fn nuget_intervals() {
        check(
            "1.0",
            &["1.0.0", "1.0.1", "99.0.0"],
            &["0.9.9", "1.0.0-beta"],
        );
        check("[1.0]", &["1.0.0"], &["1.0.1", "0.9.0"]);
        check(
            "[1.0,2.0)",
            &["1.0.0", "1.9.9", "1.5.0-beta", "2.0.0-beta"],
            &["2.0.0", "0.9.9"],
        );
        check("[1.0,2.0]", &["2.0.0"], &["2.0.1"]);
        check("(1.0,2.0)", &["1.0.1"], &["1.0.0", "2.0.0"]);
        check("(1.0,)", &["1.0.1", "50.0.0"], &["1.0.0"]);
        check("(,2.0]", &["0.0.1", "2.0.0"], &["2.0.1"]);
        check("(,2.0)", &["1.9.9"], &["2.0.0"]);
        check("[ 1.0 , 2.0 )", &["1.5.0"], &["2.0.0"]);
        check(
            "[1.2.3-beta.2,1.2.3]",
            &["1.2.3-beta.3", "1.2.3"],
            &["1.2.3-beta.1"],
        );
        assert_eq!(
            VersionRange::parse("[1,2)").unwrap().syntax(),
            RangeSyntax::NuGet
        );
    }

    #[test]
    fn nuget_errors_say_why() {
        let cases = [
            ("[1.0", "must end with"),
            ("(1.0)", "exact version must be written"),
            ("[2.0,1.0]", "lower bound is above"),
            ("[,1.0]", "open lower bound"),
            ("[1.0,]", "open upper bound"),
            ("(,)", "at least one bound"),
            ("[1.0,2.0,3.0]", "at most two bounds"),
            ("[1.0,1.0)", "equal bounds"),
            ("[a,2.0)", "major component `a`"),
            ("[]", "names no version"),
        ];
        for (text, want) in cases {
            let e = VersionRange::parse(text).expect_err(text).to_string();
            assert!(e.contains(want), "{text}: `{e}` lacks `{want}`");
        }
    }

    #[test]
    fn npm_ranges() {
        check(
            "^1.2",
            &["1.2.0", "1.9.9"],
            &["1.1.9", "2.0.0", "2.0.0-rc.1", "1.5.0-beta"],
        );
        check("^1.2.3", &["1.2.3", "1.99.0"], &["1.2.2", "2.0.0"]);
        check("^0.2.3", &["0.2.3", "0.2.9"], &["0.3.0"]);
        check("^0.0.3", &["0.0.3"], &["0.0.4"]);
        check("^0.0", &["0.0.9"], &["0.1.0"]);
        check("~1.2.3", &["1.2.3", "1.2.9"], &["1.3.0", "1.2.2"]);
        check("~1.2", &["1.2.0", "1.2.9"], &["1.3.0"]);
        check("~1", &["1.0.0", "1.9.0"], &["2.0.0"]);
        check(">=1.0 <2.0", &["1.0.0", "1.9.9"], &["2.0.0", "0.9.0"]);
        check(">= 1.0 < 2.0", &["1.5.0"], &["2.0.0"]);
        check("1.x", &["1.0.0", "1.99.3"], &["2.0.0", "0.1.0"]);
        check("1.2.*", &["1.2.0", "1.2.7"], &["1.3.0"]);
        check("*", &["0.0.1", "7.0.0"], &["1.0.0-beta"]);
        check("x", &["3.0.0"], &[]);
        check(
            "1.x || >=3.0.0 <3.1",
            &["1.4.0", "3.0.5"],
            &["2.0.0", "3.1.0"],
        );
        check("1.2 - 2.3.4", &["1.2.0", "2.3.4"], &["2.3.5", "1.1.9"]);
        check("1.2.3 - 2", &["2.9.9"], &["3.0.0"]);
        check(">1.2", &["1.3.0"], &["1.2.9"]);
        check("<=1.2", &["1.2.9"], &["1.3.0"]);
        check(">1.2.3", &["1.2.4"], &["1.2.3"]);
        check("=1.2.3", &["1.2.3"], &["1.2.4"]);
        check("v1.2.3", &["1.2.3"], &["1.2.4"]);
        check("<*", &[], &["0.0.0", "1.0.0"]);
        // Pre-release rules of node-semver.
        check(
            ">=1.2.3-beta.2",
            &["1.2.3-beta.2", "1.2.3-beta.10", "1.2.3", "1.3.0"],
            &["1.2.3-beta.1", "1.2.4-beta", "3.0.0-alpha"],
        );
        check("^1.2.3-beta.2", &["1.2.3-beta.3", "1.3.0"], &["1.3.0-beta"]);
    }

    #[test]
    fn npm_errors_say_why() {
        let cases = [
            (">=", "no version after"),
            (">= >= 1.0", "follows another operator"),
            ("^1.2.3.4", "4 numeric component"),
            ("1.x.3", "patch component `3`"),
            ("~foo", "major component `foo`"),
            (">>1.0", "more than one operator"),
        ];
        for (text, want) in cases {
            let e = VersionRange::parse(text).expect_err(text).to_string();
            assert!(e.contains(want), "{text}: `{e}` lacks `{want}`");
        }
        assert_eq!(VersionRange::parse("  "), Err(RangeError::Empty));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,40}", probe in "(0|[1-9][0-9]?)\\.(0|[1-9][0-9]?)\\.(0|[1-9][0-9]?)(-[a-z][a-z0-9]{0,2})?") {
            if let Ok(r) = VersionRange::parse(&text) {
                let _ = r.contains(&v(&probe));
                proptest::prop_assert_eq!(VersionRange::parse(&r.to_string()).unwrap(), r);
            }
        }

        #[test]
        fn range_like_input_never_panics(text in "[\\[\\(]?[0-9.x*^~<>=, |-]{0,20}[\\]\\)]?") {
            let _ = VersionRange::parse(&text).map(|r| r.contains(&Version::new(1, 2, 3)));
        }
    }

    #[test]
    fn filter_and_max() {
        let versions: Vec<Version> = ["2.0.0", "1.0.0", "1.5.0", "1.10.0", "0.9.0", "1.6.0-beta"]
            .iter()
            .map(|s| v(s))
            .collect();
        let r = VersionRange::parse("^1.0").unwrap();
        let got: Vec<String> = r.filter(&versions).iter().map(|v| v.to_string()).collect();
        assert_eq!(got, ["1.0.0", "1.5.0", "1.10.0"]);
        assert_eq!(r.max_satisfying(&versions).unwrap().to_string(), "1.10.0");
        let n = VersionRange::parse("[1.0,2.0)").unwrap();
        let got: Vec<String> = n.filter(&versions).iter().map(|v| v.to_string()).collect();
        assert_eq!(got, ["1.0.0", "1.5.0", "1.6.0-beta", "1.10.0"]);
    }
}
