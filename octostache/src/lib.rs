//! Octopus's `#{...}` variable templates (Octostache), evaluated over a
//! case-insensitive variable dictionary.
//!
//! ```
//! let mut vars = octostache::Variables::new();
//! vars.set("Greeting", "Hello #{Name}");
//! vars.set("Name", "world");
//! assert_eq!(octostache::evaluate("#{Greeting | ToUpper}!", &vars), "HELLO WORLD!");
//! // Missing variables are left as written.
//! assert_eq!(octostache::evaluate("#{Missing}", &vars), "#{Missing}");
//! ```
//!
//! Supported, following Octostache:
//! - `#{Name}`, `#{A.B[Index].C}`, `#{A[#{B}]}`, `#{A[*].B}` (first index);
//!   values are evaluated recursively; cycles and chains deeper than 32 are
//!   left as written. `##{` renders `#{`.
//! - Filters (case-insensitive), args bare words, `"text"` (no `"` or `#`),
//!   `\"text\"` or `#{...}`: `ToLower ToUpper ToBase64 FromBase64 HtmlEscape
//!   XmlEscape JsonEscape UriEscape UriDataEscape YamlSingleQuoteEscape
//!   YamlDoubleQuoteEscape PropertiesKeyEscape PropertiesValueEscape Trim
//!   Truncate Substring Replace Append Prepend StartsWith EndsWith Contains
//!   Indent Format NowDate NowDateUtc Null VersionMajor VersionMinor
//!   VersionPatch VersionRevision VersionPreRelease VersionPreReleasePrefix
//!   VersionPreReleaseCounter VersionMetadata`.
//! - `#{if}`/`#{elseif}`/`#{else}`/`#{unless}` with [`truthy`] values and
//!   case-sensitive `==`/`!=`; `#{each x in List}` over comma lists (items not
//!   trimmed) and indexed collections (`#{each a in Octopus.Action}#{a.Name}`),
//!   with `Octopus.Template.Each.Index/First/Last`; `#{calc}` (`+ - * /`,
//!   parentheses, numbers, `A` or `{A-B}` variables).
//!
//! Differences: `Replace` is a literal (not regex) replacement; `Match`,
//! `Markdown`/`MarkdownToHtml`, `UriPart`, `AddHours`/`AddDays` and the hash
//! filters (`MD5`, `SHA*`) are not implemented (left as written); `Format`
//! covers the subset described in its module; `NowDate` uses UTC; JSON values
//! are not parsed into collections; filter arguments cannot be blocks.
//! Indexed collections iterate in key order, not insertion order.

mod eval;
mod filters;
mod format;
mod parser;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

/// A variable dictionary; names are case-insensitive, the last `set` wins.
///
/// Names are keyed by their path (`Octopus.Action[Step A].Output.X`): steps
/// are compared case-insensitively and surrounding whitespace is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    /// Lower-cased path key to the entry.
    map: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// The name as written.
    name: String,
    /// The path key with its case kept (indexes as written, for `each`).
    cased: String,
    value: String,
}

/// The path key of a name, with its case kept.
fn cased_key(name: &str) -> String {
    match parser::parse_name(name) {
        Some(path) => {
            let steps: Vec<(bool, String)> = path
                .steps
                .into_iter()
                .map(|s| match s {
                    parser::Step::Ident(t) => (false, t),
                    parser::Step::Index(parser::Index::Text(t)) => (true, t),
                    // `parse_name` reads `[#{...}]` as text; kept for completeness.
                    parser::Step::Index(parser::Index::Symbol(_)) => (true, String::new()),
                })
                .collect();
            eval::canonical_cased(&steps, false)
        }
        None => name.to_owned(),
    }
}

impl Variables {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) a variable.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let cased = cased_key(&name);
        self.map.insert(
            cased.to_lowercase(),
            Entry {
                name,
                cased,
                value: value.into(),
            },
        );
    }

    /// The raw (unevaluated) value of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.lookup(&cased_key(name).to_lowercase())
    }

    /// The value with its own `#{...}` references evaluated.
    pub fn eval(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| evaluate(v, self))
    }

    /// Every `(name, raw value)`, ordered by lower-cased path key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map
            .values()
            .map(|e| (e.name.as_str(), e.value.as_str()))
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn lookup(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(|e| e.value.as_str())
    }

    /// The distinct indexes directly under `base` (`base[x]...`), as
    /// `(lower-cased, as written)`, in key order.
    fn children(&self, base: &str) -> Vec<(String, String)> {
        let prefix = format!("{base}[");
        let depth = split_steps(base).len();
        let mut out: Vec<(String, String)> = Vec::new();
        for (key, entry) in self.map.range(prefix.clone()..) {
            if !key.starts_with(&prefix) {
                break;
            }
            let Some(end) = bracket_end(&key[base.len()..]) else {
                continue;
            };
            let lower = &key[base.len() + 1..base.len() + end];
            if out.last().is_some_and(|(l, _)| l == lower) {
                continue;
            }
            let cased = split_steps(&entry.cased)
                .get(depth)
                .and_then(|s| s.strip_prefix('[')?.strip_suffix(']'))
                .unwrap_or(lower)
                .to_owned();
            out.push((lower.to_owned(), cased));
        }
        out
    }
}

/// The byte offset of the `]` closing the `[` that starts `s`.
fn bracket_end(s: &str) -> Option<usize> {
    let mut level = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => level += 1,
            ']' => {
                level = level.checked_sub(1)?;
                if level == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A path key's steps: identifiers and `[index]`es.
fn split_steps(key: &str) -> Vec<&str> {
    let mut steps = Vec::new();
    let mut i = 0;
    while i < key.len() {
        let rest = &key[i..];
        if rest.starts_with('[') {
            let Some(end) = bracket_end(rest) else {
                steps.push(rest);
                break;
            };
            steps.push(&rest[..=end]);
            i += end + 1;
        } else if rest.starts_with('.') {
            i += 1;
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            steps.push(&rest[..end]);
            i += end;
        }
    }
    steps
}

/// Octostache truthiness: everything except `""`, `"0"`, and (trimmed,
/// case-insensitive) `"no"` and `"false"`. A missing variable is `""`.
///
/// ```
/// assert!(octostache::truthy("yes"));
/// assert!(!octostache::truthy(" False "));
/// ```
pub fn truthy(value: &str) -> bool {
    let t = value.trim();
    !(value.is_empty()
        || value == "0"
        || t.eq_ignore_ascii_case("no")
        || t.eq_ignore_ascii_case("false"))
}

/// The result of [`evaluate_with_report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The evaluated text.
    pub output: String,
    /// Source text of every token left as written (missing variable,
    /// failing filter, cycle), each once, in order of first occurrence.
    pub missing: Vec<String>,
}

/// Evaluates `template` against `vars`. Never fails: what cannot be evaluated
/// (a missing variable, an unknown filter, a malformed expression) is left as written.
pub fn evaluate(template: &str, vars: &Variables) -> String {
    evaluate_with_report(template, vars).output
}

/// Like [`evaluate`], also reporting which tokens were left as written.
///
/// ```
/// let vars = octostache::Variables::new();
/// let r = octostache::evaluate_with_report("a #{B} c", &vars);
/// assert_eq!(r.output, "a #{B} c");
/// assert_eq!(r.missing, ["#{B}"]);
/// ```
pub fn evaluate_with_report(template: &str, vars: &Variables) -> Evaluation {
    let mut ev = eval::Evaluator::new(vars, template.len());
    let output = ev.run(template);
    Evaluation {
        output,
        missing: ev.missing,
    }
}
