//! Evaluation of a parsed template against a [`Variables`] dictionary.

use std::collections::HashMap;

use crate::Variables;
use crate::filters;
use crate::parser::{self, Arg, Calc, Cond, Expr, Index, Node, Operand, Path, Span, Step};

/// How deep variable values may reference other variables.
const MAX_DEPTH: usize = 32;
/// Bytes substituted in one evaluation beyond the template's own size, so
/// self-doubling definitions (`A1 = #{A0}#{A0}`, ...) stop instead of eating memory.
const OUTPUT_BUDGET: usize = 64 << 20;
/// Templated values evaluated in one evaluation. Values are memoised, but not
/// inside loops or after a cycle/depth cut-off, so this bounds the worst case.
const MAX_VALUE_EVALUATIONS: u32 = 100_000;

/// What a loop variable stands for.
enum Binding {
    /// An item of a comma-separated list.
    Value(String),
    /// One index of an indexed collection: the lower-cased key prefix
    /// (`octopus.action[step a]`) and the index as written (`Step A`).
    Prefix { key: String, index: String },
}

struct Scope {
    alias: String,
    binding: Binding,
    index: usize,
    last: bool,
}

enum Outcome {
    Value(String),
    /// The `Null` filter: emit nothing.
    Null,
    Missing,
}

/// A resolved path: each step's text as written, and whether it is an index.
type Steps = Vec<(bool, String)>;

pub(crate) struct Evaluator<'v> {
    vars: &'v Variables,
    scopes: Vec<Scope>,
    /// Keys whose values are being evaluated, innermost last (cycle detection).
    stack: Vec<String>,
    /// Evaluated values of global variables, filled only outside loops and
    /// when no cycle was met while evaluating them.
    memo: HashMap<String, String>,
    cycles: u64,
    produced: usize,
    budget: usize,
    evaluations: u32,
    /// Source text of tokens left as written, first occurrence order.
    pub missing: Vec<String>,
}

impl<'v> Evaluator<'v> {
    pub(crate) fn new(vars: &'v Variables, template_len: usize) -> Self {
        Evaluator {
            vars,
            scopes: Vec::new(),
            stack: Vec::new(),
            memo: HashMap::new(),
            cycles: 0,
            produced: 0,
            budget: OUTPUT_BUDGET.saturating_add(template_len),
            evaluations: 0,
            missing: Vec::new(),
        }
    }

    pub(crate) fn run(&mut self, template: &str) -> String {
        let t = parser::parse(template);
        let mut out = String::with_capacity(template.len());
        self.nodes(&t.nodes, &t.src, &mut out);
        out
    }

    fn note_missing(&mut self, text: &str) {
        if !self.missing.iter().any(|m| m == text) {
            self.missing.push(text.to_owned());
        }
    }

    fn leave_as_written(&mut self, src: &str, span: Span, out: &mut String) {
        let text = &src[span.0..span.1];
        self.note_missing(text);
        out.push_str(text);
    }

    fn nodes(&mut self, nodes: &[Node], src: &str, out: &mut String) {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Subst { expr, span } => match self.expr(expr, src) {
                    Outcome::Value(v) if self.produced.saturating_add(v.len()) <= self.budget => {
                        self.produced += v.len();
                        out.push_str(&v);
                    }
                    Outcome::Null => {}
                    _ => self.leave_as_written(src, *span, out),
                },
                Node::Calc { expr, span } => match self.calc(expr) {
                    Some(x) => out.push_str(&number(x)),
                    None => self.leave_as_written(src, *span, out),
                },
                Node::Cond {
                    branches,
                    otherwise,
                    span,
                } => {
                    let mut chosen = Some(otherwise);
                    for (cond, body) in branches {
                        match self.test(cond, src) {
                            Some(true) => {
                                chosen = Some(body);
                                break;
                            }
                            Some(false) => {}
                            None => {
                                chosen = None;
                                self.leave_as_written(src, *span, out);
                                break;
                            }
                        }
                    }
                    if let Some(body) = chosen {
                        self.nodes(body, src, out);
                    }
                }
                Node::Each {
                    alias,
                    collection,
                    body,
                } => {
                    let items = self.items(collection);
                    let n = items.len();
                    for (i, binding) in items.into_iter().enumerate() {
                        self.scopes.push(Scope {
                            alias: alias.to_lowercase(),
                            binding,
                            index: i,
                            last: i + 1 == n,
                        });
                        self.nodes(body, src, out);
                        self.scopes.pop();
                    }
                }
            }
        }
    }

    fn expr(&mut self, expr: &Expr, src: &str) -> Outcome {
        let mut value = if expr.path.steps.is_empty() {
            None
        } else {
            self.resolve(&expr.path)
        };
        if expr.filters.is_empty() {
            return value.map_or(Outcome::Missing, Outcome::Value);
        }
        for f in &expr.filters {
            let args: Vec<String> = f
                .args
                .iter()
                .map(|a| match a {
                    Arg::Text(t) => t.clone(),
                    Arg::Subst(e, span) => match self.expr(e, src) {
                        Outcome::Value(v) => v,
                        Outcome::Null => String::new(),
                        Outcome::Missing => src[span.0..span.1].to_owned(),
                    },
                })
                .collect();
            value = filters::apply(&f.name, value.as_deref(), &args);
        }
        match value {
            Some(v) => Outcome::Value(v),
            None if expr
                .filters
                .last()
                .is_some_and(|f| f.name.eq_ignore_ascii_case("null")) =>
            {
                Outcome::Null
            }
            None => Outcome::Missing,
        }
    }

    /// A condition's truth; `None` when a filtered operand cannot be evaluated.
    fn test(&mut self, cond: &Cond, src: &str) -> Option<bool> {
        let left = self.operand(&cond.left, src)?;
        match &cond.compare {
            None => Some(crate::truthy(&left)),
            Some((eq, right)) => {
                let right = self.operand(right, src)?;
                Some((left == right) == *eq)
            }
        }
    }

    fn operand(&mut self, op: &Operand, src: &str) -> Option<String> {
        match op {
            Operand::Quoted(q) => Some(q.clone()),
            // A missing variable compares as empty (and is falsy).
            Operand::Expr(e) if e.filters.is_empty() => {
                Some(self.resolve(&e.path).unwrap_or_default())
            }
            Operand::Expr(e) => match self.expr(e, src) {
                Outcome::Value(v) => Some(v),
                _ => None,
            },
        }
    }

    fn calc(&mut self, c: &Calc) -> Option<f64> {
        match c {
            Calc::Num(n) => Some(*n),
            Calc::Var(p) => self.resolve(p)?.trim().parse::<f64>().ok(),
            Calc::Op(l, op, r) => {
                let (l, r) = (self.calc(l)?, self.calc(r)?);
                Some(match op {
                    b'+' => l + r,
                    b'-' => l - r,
                    b'*' => l * r,
                    _ => l / r,
                })
            }
        }
    }

    /// Indexer symbols (`[#{B}]`) replaced by their values.
    fn steps(&mut self, path: &Path) -> Option<Steps> {
        let mut steps = Vec::with_capacity(path.steps.len());
        for s in &path.steps {
            steps.push(match s {
                Step::Ident(t) => (false, t.clone()),
                Step::Index(Index::Text(t)) => (true, t.clone()),
                Step::Index(Index::Symbol(p)) => (true, self.resolve(p)?.trim().to_owned()),
            });
        }
        (!steps.is_empty()).then_some(steps)
    }

    /// The evaluated value of a variable reference, `None` when missing.
    fn resolve(&mut self, path: &Path) -> Option<String> {
        let steps = self.steps(path)?;
        if let Some(v) = self.special(&steps) {
            return Some(v);
        }
        for si in (0..self.scopes.len()).rev() {
            let scope = &self.scopes[si];
            if steps[0].0 || steps[0].1.to_lowercase() != scope.alias {
                continue;
            }
            match &scope.binding {
                Binding::Value(v) if steps.len() == 1 => {
                    let v = v.clone();
                    return self.value(format!("\0each{si}"), &v);
                }
                Binding::Value(_) => {}
                Binding::Prefix { key, index } => {
                    let cand = format!("{key}{}", canonical(&steps[1..], true));
                    if let Some(raw) = self.vars.lookup(&cand) {
                        return self.value(cand, raw);
                    }
                    if steps.len() == 1 {
                        return Some(index.clone());
                    }
                }
            }
        }
        let key = self.expand_wildcards(canonical(&steps, false));
        let raw = self.vars.lookup(&key)?;
        self.value(key, raw)
    }

    /// `Octopus.Template.Each.Index/First/Last` of the innermost loop.
    fn special(&self, steps: &Steps) -> Option<String> {
        let scope = self.scopes.last()?;
        if steps.len() != 4 || steps.iter().any(|s| s.0) {
            return None;
        }
        let lower: Vec<String> = steps.iter().map(|s| s.1.to_lowercase()).collect();
        if lower[..3] != ["octopus", "template", "each"] {
            return None;
        }
        let flag = |b: bool| if b { "True" } else { "False" }.to_owned();
        match lower[3].as_str() {
            "index" => Some(scope.index.to_string()),
            "first" => Some(flag(scope.index == 0)),
            "last" => Some(flag(scope.last)),
            _ => None,
        }
    }

    /// `[*]` stands for the first index present at that point.
    fn expand_wildcards(&self, mut key: String) -> String {
        for _ in 0..8 {
            let Some(at) = key.find("[*]") else { break };
            let Some((first, _)) = self.vars.children(&key[..at]).into_iter().next() else {
                break;
            };
            key.replace_range(at..at + 3, &format!("[{first}]"));
        }
        key
    }

    /// Evaluates a raw value as a template, guarding against cycles and depth.
    fn value(&mut self, key: String, raw: &str) -> Option<String> {
        if !raw.contains("#{") {
            return Some(raw.to_owned());
        }
        if self.stack.len() >= MAX_DEPTH
            || self.evaluations >= MAX_VALUE_EVALUATIONS
            || self.stack.contains(&key)
        {
            self.cycles += 1;
            return None;
        }
        let memoable = self.scopes.is_empty();
        if memoable && let Some(v) = self.memo.get(&key) {
            return Some(v.clone());
        }
        self.evaluations += 1;
        let t = parser::parse(raw);
        let before = self.cycles;
        self.stack.push(key);
        let mut out = String::new();
        self.nodes(&t.nodes, &t.src, &mut out);
        let key = self.stack.pop().unwrap_or_default();
        if memoable && self.cycles == before {
            self.memo.insert(key, out.clone());
        }
        Some(out)
    }

    /// What `#{each x in collection}` iterates over.
    fn items(&mut self, collection: &Path) -> Vec<Binding> {
        let Some(steps) = self.steps(collection) else {
            return Vec::new();
        };
        let mut base = None;
        for si in (0..self.scopes.len()).rev() {
            let scope = &self.scopes[si];
            if steps[0].0 || steps[0].1.to_lowercase() != scope.alias {
                continue;
            }
            match &scope.binding {
                Binding::Value(v) if steps.len() == 1 => {
                    let v = v.clone();
                    return split(self.value(format!("\0each{si}"), &v));
                }
                Binding::Value(_) => {}
                Binding::Prefix { key, .. } => {
                    let cand = format!("{key}{}", canonical(&steps[1..], true));
                    if self.vars.lookup(&cand).is_some() || !self.vars.children(&cand).is_empty() {
                        base = Some(cand);
                        break;
                    }
                }
            }
        }
        let base = base.unwrap_or_else(|| self.expand_wildcards(canonical(&steps, false)));
        let children = self.vars.children(&base);
        if !children.is_empty() {
            return children
                .into_iter()
                .map(|(lower, index)| Binding::Prefix {
                    key: format!("{base}[{lower}]"),
                    index,
                })
                .collect();
        }
        match self.vars.lookup(&base) {
            Some(raw) => split(self.value(base.clone(), raw)),
            None => Vec::new(),
        }
    }
}

/// A comma-separated list, items as written (not trimmed, as in Octostache).
fn split(v: Option<String>) -> Vec<Binding> {
    v.map(|v| v.split(',').map(|s| Binding::Value(s.to_owned())).collect())
        .unwrap_or_default()
}

/// The lower-cased lookup key of resolved steps: `a.b[c].d`.
pub(crate) fn canonical(steps: &[(bool, String)], continuing: bool) -> String {
    canonical_cased(steps, continuing).to_lowercase()
}

pub(crate) fn canonical_cased(steps: &[(bool, String)], continuing: bool) -> String {
    let mut key = String::new();
    for (i, (is_index, text)) in steps.iter().enumerate() {
        if *is_index {
            key.push('[');
            key.push_str(text);
            key.push(']');
        } else {
            if i > 0 || continuing {
                key.push('.');
            }
            key.push_str(text);
        }
    }
    key
}

/// A `#{calc}` result as .NET prints doubles (shortest round-trip form).
fn number(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "∞" } else { "-∞" }.into()
    } else if x == 0.0 {
        "0".into()
    } else {
        format!("{x}")
    }
}
