//! Built-in filters (`#{Name | Filter arg...}`).
//!
//! Each filter takes the value so far (`None` when the variable is missing or
//! an earlier filter failed) and its arguments, and returns `None` when it is
//! unknown or cannot apply, which leaves the whole token as written.

use crate::format;

/// Applies the filter `name` (case-insensitive).
pub(crate) fn apply(name: &str, input: Option<&str>, args: &[String]) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let no_args = args.is_empty();
    match name.as_str() {
        "null" => None,
        "append" => append(input, args, false),
        "prepend" => append(input, args, true),
        "nowdate" | "nowdateutc" => {
            if input.is_some() || args.len() > 1 {
                return None;
            }
            format::now(args.first().map(String::as_str), name == "nowdateutc")
        }
        _ => {
            let v = input?;
            match name.as_str() {
                "tolower" if no_args => Some(v.to_lowercase()),
                "toupper" if no_args => Some(v.to_uppercase()),
                "tobase64" if args.len() <= 1 => to_base64(v, args.first()),
                "frombase64" if args.len() <= 1 => from_base64(v, args.first()),
                "htmlescape" if no_args => Some(escape(v, html_entity)),
                "xmlescape" if no_args => Some(escape(v, xml_entity)),
                "jsonescape" if no_args => Some(escape(v, json_entity)),
                "uriescape" if no_args => Some(percent_encode(v, true)),
                "uridataescape" if no_args => Some(percent_encode(v, false)),
                "yamlsinglequoteescape" if no_args => Some(yaml_single(v)),
                "yamldoublequoteescape" if no_args => Some(yaml_double(v)),
                "propertieskeyescape" if no_args => Some(properties(v, true)),
                "propertiesvalueescape" if no_args => Some(properties(v, false)),
                "trim" => trim(v, args),
                "truncate" => truncate(v, args),
                "substring" => substring(v, args),
                "replace" if !no_args => {
                    Some(replace(v, &args[0], args.get(1).map_or("", String::as_str)))
                }
                "startswith" if args.len() == 1 => {
                    Some(v.starts_with(args[0].as_str()).to_string())
                }
                "endswith" if args.len() == 1 => Some(v.ends_with(args[0].as_str()).to_string()),
                "contains" if args.len() == 1 => Some(v.contains(args[0].as_str()).to_string()),
                "indent" => indent(v, args),
                "format" => format::format(v, args),
                "versionmajor" => Some(Version::parse(v).major.to_string()),
                "versionminor" => Some(Version::parse(v).minor.to_string()),
                "versionpatch" => Some(Version::parse(v).patch.to_string()),
                "versionrevision" => Some(Version::parse(v).revision.to_string()),
                "versionprerelease" => Some(Version::parse(v).release.to_owned()),
                "versionprereleaseprefix" => Some(Version::parse(v).release_prefix().to_owned()),
                "versionprereleasecounter" => Some(Version::parse(v).release_counter().to_owned()),
                "versionmetadata" => Some(Version::parse(v).metadata.to_owned()),
                _ => None,
            }
        }
    }
}

fn append(input: Option<&str>, args: &[String], prepend: bool) -> Option<String> {
    if args.is_empty() {
        return None;
    }
    let extra = args.concat();
    Some(match input {
        None => extra,
        Some(v) if prepend => extra + v,
        Some(v) => format!("{v}{extra}"),
    })
}

fn escape(v: &str, map: fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match map(c) {
            Some(e) => out.push_str(e),
            None => out.push(c),
        }
    }
    out
}

fn html_entity(c: char) -> Option<&'static str> {
    if c == '/' {
        Some("&#x2F;")
    } else {
        xml_entity(c)
    }
}

fn xml_entity(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '"' => "&quot;",
        '\'' => "&apos;",
        _ => return None,
    })
}

fn json_entity(c: char) -> Option<&'static str> {
    Some(match c {
        '"' => "\\\"",
        '\r' => "\\r",
        '\t' => "\\t",
        '\n' => "\\n",
        '\\' => "\\\\",
        _ => return None,
    })
}

/// Percent-encodes UTF-8 bytes; `uri` keeps the URI reserved characters too
/// (like .NET's `EscapeUriString`), otherwise only the unreserved ones
/// (`EscapeDataString`).
fn percent_encode(v: &str, uri: bool) -> String {
    let mut out = String::with_capacity(v.len());
    for &b in v.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (uri && b"!#$&'()*+,/:;=?@[]".contains(&b));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Doubles `'`; a run of newlines gets one more newline, as YAML folds single newlines.
fn yaml_single(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(c) = rest.chars().next() {
        if c == '\n' || rest.starts_with("\r\n") {
            let run = rest.len() - rest.trim_start_matches(['\r', '\n']).len();
            let run_text = &rest[..run];
            // Only whole `\r\n` / `\n` newlines count; keep the run as written plus one.
            out.push_str(if run_text.starts_with('\r') {
                "\r\n"
            } else {
                "\n"
            });
            out.push_str(run_text);
            rest = &rest[run..];
            continue;
        }
        if c == '\'' {
            out.push_str("''");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn push_utf16_escapes(out: &mut String, c: char) {
    let mut units = [0u16; 2];
    for u in c.encode_utf16(&mut units) {
        out.push_str(&format!("\\u{u:04x}"));
    }
}

fn yaml_double(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            ' '..='~' => out.push(c),
            _ => push_utf16_escapes(&mut out, c),
        }
    }
    out
}

/// Java `.properties` escaping: keys also escape space, `:` and `=`; values
/// only a leading space.
fn properties(v: &str, key: bool) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        match c {
            ' ' if key || i == 0 => out.push_str("\\ "),
            ':' if key => out.push_str("\\:"),
            '=' if key => out.push_str("\\="),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0xFF => out.push(c),
            c => push_utf16_escapes(&mut out, c),
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encoding option: UTF-8 (default) or `Unicode` (UTF-16LE), as in .NET.
fn text_bytes(v: &str, encoding: Option<&String>) -> Option<Vec<u8>> {
    match encoding.map(|e| e.to_ascii_lowercase()).as_deref() {
        None | Some("utf8" | "utf-8") => Some(v.as_bytes().to_vec()),
        Some("unicode") => Some(v.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        Some(_) => None,
    }
}

fn to_base64(v: &str, encoding: Option<&String>) -> Option<String> {
    let bytes = text_bytes(v, encoding)?;
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    Some(out)
}

fn from_base64(v: &str, encoding: Option<&String>) -> Option<String> {
    let clean: Vec<u8> = v.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    let pad = clean.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 2 {
        return None;
    }
    let mut bytes = Vec::with_capacity(clean.len() / 4 * 3);
    for (ci, chunk) in clean.chunks(4).enumerate() {
        let last = ci == clean.len() / 4 - 1;
        let mut n = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            let d = match b {
                b'=' if last && i >= 4 - pad => 0,
                _ => B64.iter().position(|&c| c == b)? as u32,
            };
            n = n << 6 | d;
        }
        let take = if last { 3 - pad } else { 3 };
        bytes.extend_from_slice(&n.to_be_bytes()[1..1 + take]);
    }
    match encoding.map(|e| e.to_ascii_lowercase()).as_deref() {
        None | Some("utf8" | "utf-8") => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Some("unicode") => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        Some(_) => None,
    }
}

fn trim(v: &str, args: &[String]) -> Option<String> {
    match args.first().map(|a| a.to_ascii_lowercase()).as_deref() {
        None => Some(v.trim().to_owned()),
        Some("start") => Some(v.trim_start().to_owned()),
        Some("end") => Some(v.trim_end().to_owned()),
        Some(_) => None,
    }
}

fn parse_count(s: &str) -> Option<usize> {
    s.trim().parse::<usize>().ok()
}

/// `Truncate N [suffix]`: the first N characters plus the suffix (default `...`) when longer.
fn truncate(v: &str, args: &[String]) -> Option<String> {
    let n = parse_count(args.first()?)?;
    let suffix = args.get(1).map_or("...", String::as_str);
    Some(match v.char_indices().nth(n) {
        Some((at, _)) => format!("{}{suffix}", &v[..at]),
        None => v.to_owned(),
    })
}

/// `Substring N` (first N characters) or `Substring start N`; out of range fails.
fn substring(v: &str, args: &[String]) -> Option<String> {
    let nums: Vec<usize> = args.iter().map(|a| parse_count(a)).collect::<Option<_>>()?;
    let (start, len) = match nums[..] {
        [n] => (0, n),
        [s, n] => (s, n),
        _ => return None,
    };
    let end = start.checked_add(len)?;
    if end > v.chars().count() {
        return None;
    }
    Some(v.chars().skip(start).take(len).collect())
}

/// Literal (not regex) replacement; see the crate docs.
fn replace(v: &str, pattern: &str, with: &str) -> String {
    if pattern.is_empty() {
        return v.to_owned();
    }
    v.replace(pattern, with)
}

/// `Indent` (4 spaces), `Indent N`, `Indent I/S` (initial/subsequent sizes),
/// `Indent /S`, `Indent text`, or `Indent initial subsequent`.
fn indent(v: &str, args: &[String]) -> Option<String> {
    if v.is_empty() {
        return Some(String::new());
    }
    let spaces = |s: &str| -> Option<String> {
        if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u8>().ok().map(|n| " ".repeat(n.into()))
    };
    let (first, next) = match args {
        [] => ("    ".to_owned(), "    ".to_owned()),
        [a] => match a.split_once('/') {
            Some((i, s)) if !s.contains('/') => match (i.is_empty(), spaces(i), spaces(s)) {
                (true, _, Some(s)) => (String::new(), s),
                (false, Some(i), Some(s)) => (i, s),
                _ => (a.clone(), a.clone()),
            },
            _ => match spaces(a) {
                Some(s) => (s.clone(), s),
                None => (a.clone(), a.clone()),
            },
        },
        [i, s] => (i.clone(), s.clone()),
        _ => return None,
    };
    Some(format!("{first}{}", v.replace('\n', &format!("\n{next}"))))
}

/// Octopus's lenient version parse: `[v]major[.minor[.patch[.revision]]][-|.release][+metadata]`.
struct Version<'a> {
    major: u64,
    minor: u64,
    patch: u64,
    revision: u64,
    release: &'a str,
    metadata: &'a str,
}

impl<'a> Version<'a> {
    fn parse(v: &'a str) -> Self {
        let v = v.trim();
        let (v, metadata) = v.split_once('+').unwrap_or((v, ""));
        let mut rest = match v.strip_prefix(['v', 'V']) {
            Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => r,
            _ => v,
        };
        let mut nums = [0u64; 4];
        for (i, slot) in nums.iter_mut().enumerate() {
            let body = if i == 0 {
                rest
            } else {
                match rest.strip_prefix('.') {
                    Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => r,
                    _ => break,
                }
            };
            let digits = body.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                break;
            }
            *slot = body[..digits].parse().unwrap_or(u64::MAX);
            rest = &body[digits..];
        }
        let release = rest.strip_prefix(['-', '.']).unwrap_or(rest);
        Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            revision: nums[3],
            release,
            metadata,
        }
    }

    fn release_prefix(&self) -> &'a str {
        self.release.split(['.', '-', '_']).next().unwrap_or("")
    }

    fn release_counter(&self) -> &'a str {
        self.release
            .split_once(['.', '-', '_'])
            .map_or("", |(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, v: &str, args: &[&str]) -> Option<String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        apply(name, Some(v), &args)
    }

    #[test]
    fn case_and_unknown() {
        assert_eq!(f("ToUpper", "abc", &[]).as_deref(), Some("ABC"));
        assert_eq!(f("tolower", "ÀBC", &[]).as_deref(), Some("àbc"));
        assert_eq!(f("ToUpper", "abc", &["x"]), None);
        assert_eq!(f("NoSuchFilter", "abc", &[]), None);
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "héllo wörld"] {
            let e = f("ToBase64", s, &[]).unwrap();
            assert_eq!(f("FromBase64", &e, &[]).as_deref(), Some(s));
        }
        assert_eq!(f("ToBase64", "hello", &[]).as_deref(), Some("aGVsbG8="));
        assert_eq!(
            f("ToBase64", "hi", &["Unicode"]).as_deref(),
            Some("aABpAA==")
        );
        assert_eq!(
            f("FromBase64", "aABpAA==", &["unicode"]).as_deref(),
            Some("hi")
        );
        assert_eq!(f("FromBase64", "not base64!", &[]), None);
        assert_eq!(f("FromBase64", "a===", &[]), None);
        assert_eq!(f("ToBase64", "x", &["ebcdic"]), None);
    }

    #[test]
    fn escapes() {
        assert_eq!(
            f("HtmlEscape", "<a href='/x'>&\"", &[]).as_deref(),
            Some("&lt;a href=&apos;&#x2F;x&apos;&gt;&amp;&quot;")
        );
        assert_eq!(f("XmlEscape", "</>", &[]).as_deref(), Some("&lt;/&gt;"));
        assert_eq!(
            f("JsonEscape", "a\"b\\c\n\t\r", &[]).as_deref(),
            Some("a\\\"b\\\\c\\n\\t\\r")
        );
        assert_eq!(
            f("UriEscape", "a b/c?d=é", &[]).as_deref(),
            Some("a%20b/c?d=%C3%A9")
        );
        assert_eq!(
            f("UriDataEscape", "a b/c?d", &[]).as_deref(),
            Some("a%20b%2Fc%3Fd")
        );
        assert_eq!(
            f("YamlSingleQuoteEscape", "it's\nok\n\nx", &[]).as_deref(),
            Some("it''s\n\nok\n\n\nx")
        );
        assert_eq!(
            f("YamlDoubleQuoteEscape", "a\"\\\né", &[]).as_deref(),
            Some("a\\\"\\\\\\n\\u00e9")
        );
        assert_eq!(
            f("PropertiesKeyEscape", "a b:c=d", &[]).as_deref(),
            Some("a\\ b\\:c\\=d")
        );
        assert_eq!(
            f("PropertiesValueEscape", " a b\n€", &[]).as_deref(),
            Some("\\ a b\\n\\u20ac")
        );
    }

    #[test]
    fn text_manipulation() {
        assert_eq!(f("Trim", "  a  ", &[]).as_deref(), Some("a"));
        assert_eq!(f("Trim", "  a  ", &["Start"]).as_deref(), Some("a  "));
        assert_eq!(f("Trim", "  a  ", &["end"]).as_deref(), Some("  a"));
        assert_eq!(f("Trim", "a", &["middle"]), None);
        assert_eq!(f("Truncate", "abcdef", &["3"]).as_deref(), Some("abc..."));
        assert_eq!(f("Truncate", "abcdef", &["3", ""]).as_deref(), Some("abc"));
        assert_eq!(f("Truncate", "abc", &["3"]).as_deref(), Some("abc"));
        assert_eq!(f("Truncate", "abc", &["-1"]), None);
        assert_eq!(f("Substring", "abcdef", &["3"]).as_deref(), Some("abc"));
        assert_eq!(
            f("Substring", "abcdef", &["2", "3"]).as_deref(),
            Some("cde")
        );
        assert_eq!(f("Substring", "abc", &["2", "3"]), None);
        assert_eq!(f("Substring", "abc", &["x"]), None);
        assert_eq!(f("Replace", "a.b.c", &[".", "-"]).as_deref(), Some("a-b-c"));
        assert_eq!(f("Replace", "a.b.c", &["."]).as_deref(), Some("abc"));
        assert_eq!(apply("Append", None, &["x".into()]).as_deref(), Some("x"));
        assert_eq!(f("Append", "a", &["b", "c"]).as_deref(), Some("abc"));
        assert_eq!(f("Prepend", "a", &["b"]).as_deref(), Some("ba"));
        assert_eq!(f("Append", "a", &[]), None);
    }

    #[test]
    fn comparisons() {
        assert_eq!(f("StartsWith", "abc", &["ab"]).as_deref(), Some("true"));
        assert_eq!(f("StartsWith", "abc", &["AB"]).as_deref(), Some("false"));
        assert_eq!(f("EndsWith", "abc", &["bc"]).as_deref(), Some("true"));
        assert_eq!(f("Contains", "abc", &["x"]).as_deref(), Some("false"));
        assert_eq!(f("Contains", "abc", &[]), None);
    }

    #[test]
    fn indent_forms() {
        assert_eq!(f("Indent", "a\nb", &[]).as_deref(), Some("    a\n    b"));
        assert_eq!(f("Indent", "a\nb", &["2"]).as_deref(), Some("  a\n  b"));
        assert_eq!(f("Indent", "a\nb", &["1/3"]).as_deref(), Some(" a\n   b"));
        assert_eq!(f("Indent", "a\nb", &["/2"]).as_deref(), Some("a\n  b"));
        assert_eq!(f("Indent", "a\nb", &["--"]).as_deref(), Some("--a\n--b"));
        assert_eq!(f("Indent", "a\nb", &["#", "*"]).as_deref(), Some("#a\n*b"));
        assert_eq!(f("Indent", "", &[]).as_deref(), Some(""));
        assert_eq!(f("Indent", "a", &["1", "2", "3"]), None);
    }

    #[test]
    fn versions() {
        let cases = [
            ("1", "1", "0", "0", "0", "", "", "", ""),
            (
                "1.2.3.4-branch.1+meta",
                "1",
                "2",
                "3",
                "4",
                "branch.1",
                "branch",
                "1",
                "meta",
            ),
            (
                "V1.2.3.4-branch_hithere+meta",
                "1",
                "2",
                "3",
                "4",
                "branch_hithere",
                "branch",
                "hithere",
                "meta",
            ),
            (
                "19.0.0.Final",
                "19",
                "0",
                "0",
                "0",
                "Final",
                "Final",
                "",
                "",
            ),
            (
                "284.0.0-debian_component_based",
                "284",
                "0",
                "0",
                "0",
                "debian_component_based",
                "debian",
                "component_based",
                "",
            ),
            ("latest", "0", "0", "0", "0", "latest", "latest", "", ""),
            ("v1.2.3", "1", "2", "3", "0", "", "", "", ""),
        ];
        for (v, ma, mi, pa, re, rel, pre, cnt, meta) in cases {
            assert_eq!(f("VersionMajor", v, &[]).as_deref(), Some(ma), "{v}");
            assert_eq!(f("VersionMinor", v, &[]).as_deref(), Some(mi), "{v}");
            assert_eq!(f("VersionPatch", v, &[]).as_deref(), Some(pa), "{v}");
            assert_eq!(f("VersionRevision", v, &[]).as_deref(), Some(re), "{v}");
            assert_eq!(f("VersionPreRelease", v, &[]).as_deref(), Some(rel), "{v}");
            assert_eq!(
                f("VersionPreReleasePrefix", v, &[]).as_deref(),
                Some(pre),
                "{v}"
            );
            assert_eq!(
                f("VersionPreReleaseCounter", v, &[]).as_deref(),
                Some(cnt),
                "{v}"
            );
            assert_eq!(f("VersionMetadata", v, &[]).as_deref(), Some(meta), "{v}");
        }
    }
}
