//! Masking of sensitive values in log text.

use std::borrow::Cow;

/// The text that replaces a sensitive value.
pub const MASK: &str = "********";

/// Replaces every known sensitive value by [`MASK`].
#[derive(Debug, Default, Clone)]
pub struct Masker {
    /// Longest first, so a value containing another is masked whole.
    values: Vec<String>,
}

impl Masker {
    /// A masker with no values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value to mask. Empty values are ignored. A multi-line value is masked line by
    /// line as well (log lines never hold a newline), except for lines shorter than 3
    /// characters, which would mask ordinary text.
    pub fn add(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        if value.contains('\n') {
            for line in value.split('\n') {
                let line = line.trim_end_matches('\r');
                if line.trim().chars().count() >= 3 {
                    self.insert(line);
                }
            }
        } else {
            self.insert(value);
        }
    }

    fn insert(&mut self, value: &str) {
        if self.values.iter().any(|v| v == value) {
            return;
        }
        let at = self
            .values
            .iter()
            .position(|v| v.len() < value.len())
            .unwrap_or(self.values.len());
        self.values.insert(at, value.to_owned());
    }

    /// The values masked, longest first.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every sensitive value replaced; borrowed when nothing matched.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out: Cow<'a, str> = Cow::Borrowed(text);
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = Cow::Owned(out.replace(v.as_str(), MASK));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let mut m = Masker::new();
        m.add("abc");
        m.add("abcdef");
        m.add("");
        assert_eq!(m.mask("x abcdef y abc z"), "x ******** y ******** z");
        assert!(matches!(m.mask("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn multi_line_values_are_masked_per_line() {
        let mut m = Masker::new();
        m.add("-----BEGIN KEY-----\r\nc2VjcmV0\n}\n");
        assert_eq!(m.mask("c2VjcmV0"), MASK);
        assert_eq!(m.mask("-----BEGIN KEY-----"), MASK);
        assert_eq!(m.mask("fn() {}"), "fn() {}", "short lines are not masked");
    }

    #[test]
    fn duplicate_values_are_kept_once() {
        let mut m = Masker::new();
        m.add("s3cret");
        m.add("s3cret");
        assert_eq!(m.values.len(), 1);
        assert!(!m.is_empty());
    }
}
