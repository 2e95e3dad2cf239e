//! Template parser: source text to a tree of [`Node`]s.
//!
//! Parsing never fails. It runs in two linear passes: a tokenizer turns each
//! `#{...}` into a token (or, when it is not a valid expression, into literal
//! text), then a stack pairs block openers with their closers. An opener
//! without its closer, or a closer without its opener, is rendered as written.

/// Nested `#{...}` inside one expression (indexers, filter arguments).
const MAX_EXPR_DEPTH: u32 = 16;
/// Nested blocks (`if`/`unless`/`each`) in one template.
const MAX_BLOCK_DEPTH: usize = 32;
use std::collections::HashMap;

/// Longest indexer text or `\"...\"` argument, so a stray `[` or quote
/// cannot make every later token rescan the rest of a large input.
const MAX_SCAN: usize = 4096;

/// A byte range of the template source.
pub(crate) type Span = (usize, usize);

/// A parsed template; spans refer to `src`.
#[derive(Debug)]
pub(crate) struct Template {
    pub src: String,
    pub nodes: Vec<Node>,
}

#[derive(Debug)]
pub(crate) enum Node {
    /// Literal output (escapes already applied).
    Text(String),
    /// `#{expr}`.
    Subst { expr: Expr, span: Span },
    /// `#{calc ...}`.
    Calc { expr: Calc, span: Span },
    /// `#{if}` / `#{unless}` chains: the first true condition's body, else `otherwise`.
    Cond {
        branches: Vec<(Cond, Vec<Node>)>,
        otherwise: Vec<Node>,
        span: Span,
    },
    /// `#{each alias in collection}body#{/each}`.
    Each {
        alias: String,
        collection: Path,
        body: Vec<Node>,
    },
}

/// A variable reference: identifiers and indexers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Path {
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    Ident(String),
    Index(Index),
}

#[derive(Debug, Clone)]
pub(crate) enum Index {
    /// `[Step A]`: literal text.
    Text(String),
    /// `[#{Other}]`: the value of another variable.
    Symbol(Path),
}

/// A symbol (possibly empty) followed by a chain of filters.
#[derive(Debug, Clone)]
pub(crate) struct Expr {
    pub path: Path,
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub name: String,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    /// A nested `#{expr}` argument; the span is its source text.
    Subst(Expr, Span),
}

/// A condition of `#{if}` / `#{elseif}` / `#{unless}`.
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub left: Operand,
    /// `Some((true, right))` for `==`, `Some((false, right))` for `!=`.
    pub compare: Option<(bool, Operand)>,
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Expr(Expr),
    Quoted(String),
}

/// `#{calc ...}` arithmetic.
#[derive(Debug, Clone)]
pub(crate) enum Calc {
    Num(f64),
    Var(Path),
    Op(Box<Calc>, u8, Box<Calc>),
}

/// Identifier characters (Octostache's set); `.` and `[` separate steps.
pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric()
        || c.is_whitespace()
        || matches!(c, '_' | '-' | ':' | '/' | '~' | '(' | ')' | '@')
}

/// Parses a whole template.
pub(crate) fn parse(src: &str) -> Template {
    let tokens = tokenize(src);
    let nodes = build(src, tokens);
    Template {
        src: src.to_owned(),
        nodes,
    }
}

/// Parses a variable name into a path (no `#{}` indexers); `None` when the
/// whole name is not a path.
pub(crate) fn parse_name(name: &str) -> Option<Path> {
    let pairs = bracket_pairs(name);
    let mut p = Cursor {
        s: name,
        pos: 0,
        depth: MAX_EXPR_DEPTH,
        keywords: false,
        pairs: &pairs,
    };
    let path = p.symbol()?;
    p.skip_ws();
    (p.pos == name.len()).then_some(path)
}

#[derive(Debug)]
enum Tok {
    Text(String),
    Node(Node),
    Open { kind: Kind, head: Head, span: Span },
    ElseIf(Cond, Span),
    Else(Span),
    Close(Kind, Span),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    If,
    Unless,
    Each,
}

#[derive(Debug)]
enum Head {
    Cond(Cond),
    Each(String, Path),
}

/// Each `[`'s matching `]`, found in one pass so that indexers never rescan.
fn bracket_pairs(src: &str) -> HashMap<usize, usize> {
    let mut pairs = HashMap::new();
    let mut open = Vec::new();
    for (i, b) in src.bytes().enumerate() {
        match b {
            b'[' => open.push(i),
            b']' => {
                if let Some(o) = open.pop() {
                    pairs.insert(o, i);
                }
            }
            _ => {}
        }
    }
    pairs
}

fn tokenize(src: &str) -> Vec<Tok> {
    let b = src.as_bytes();
    let pairs = bracket_pairs(src);
    let mut toks = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let mut lit = 0; // start of the pending literal run
    while i < b.len() {
        if b[i] != b'#' {
            i += 1;
            continue;
        }
        // `##` before `#{` renders `#`; `##{` renders a literal `#{`.
        if b[i..].starts_with(b"###{") {
            text.push_str(&src[lit..i]);
            text.push('#');
            i += 2;
            lit = i;
            continue;
        }
        if b[i..].starts_with(b"##{") {
            text.push_str(&src[lit..i]);
            text.push_str("#{");
            i += 3;
            lit = i;
            continue;
        }
        if !b[i..].starts_with(b"#{") {
            // `#` and the character after it are literal; a second `#` cannot start an escape.
            i += if b.get(i + 1) == Some(&b'#') { 2 } else { 1 };
            continue;
        }
        match token_at(src, i, &pairs) {
            Some((tok, end)) => {
                text.push_str(&src[lit..i]);
                if !text.is_empty() {
                    toks.push(Tok::Text(std::mem::take(&mut text)));
                }
                toks.push(tok);
                i = end;
                lit = i;
            }
            // Not an expression: the `#{` stays literal and what follows is scanned normally.
            None => i += 2,
        }
    }
    text.push_str(&src[lit..]);
    if !text.is_empty() {
        toks.push(Tok::Text(text));
    }
    toks
}

/// The token starting with `#{` at `start`, and where it ends.
fn token_at(src: &str, start: usize, pairs: &HashMap<usize, usize>) -> Option<(Tok, usize)> {
    let rest = &src[start..];
    for (lit, kind) in [
        ("#{/if}", Kind::If),
        ("#{/unless}", Kind::Unless),
        ("#{/each}", Kind::Each),
    ] {
        if rest.starts_with(lit) {
            return Some((
                Tok::Close(kind, (start, start + lit.len())),
                start + lit.len(),
            ));
        }
    }
    if rest.starts_with("#{/") {
        return None;
    }
    if rest.starts_with("#{else}") {
        return Some((Tok::Else((start, start + 7)), start + 7));
    }
    let mut p = Cursor {
        s: src,
        pos: start,
        depth: 0,
        keywords: true,
        pairs,
    };
    if rest.starts_with("#{elseif") && rest[8..].starts_with(char::is_whitespace) {
        p.pos = start + 8;
        if let Some(c) = p.condition().filter(|_| p.close_brace()) {
            return Some((Tok::ElseIf(c, (start, p.pos)), p.pos));
        }
        p.pos = start;
    }
    if let Some(tok) = p.block_opener(start) {
        return Some((tok, p.pos));
    }
    p.pos = start;
    if let Some(expr) = p.calc_token() {
        let span = (start, p.pos);
        return Some((Tok::Node(Node::Calc { expr, span }), p.pos));
    }
    p.pos = start;
    let (expr, span) = p.substitution()?;
    Some((Tok::Node(Node::Subst { expr, span }), p.pos))
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    depth: u32,
    /// Whether whitespace before ` in `, ` == `, ` != ` ends an identifier.
    keywords: bool,
    /// From [`bracket_pairs`] of `s`.
    pairs: &'a HashMap<usize, usize>,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.rest().starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        let r = self.rest().as_bytes();
        if r.len() >= kw.len() && r[..kw.len()].eq_ignore_ascii_case(kw.as_bytes()) {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) -> usize {
        let before = self.pos;
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
        self.pos - before
    }

    fn close_brace(&mut self) -> bool {
        self.skip_ws();
        self.eat("}")
    }

    /// An identifier; leading whitespace is skipped, the text is trimmed.
    fn identifier(&mut self, allow_ws: bool) -> Option<String> {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !is_ident_char(c) || (c.is_whitespace() && (!allow_ws || self.ws_ends_identifier(c)))
            {
                break;
            }
            self.pos += c.len_utf8();
        }
        let text = self.s[start..self.pos].trim();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// Whitespace before `|`, `}` or a keyword is not part of an identifier.
    fn ws_ends_identifier(&self, c: char) -> bool {
        let after = &self.rest()[c.len_utf8()..];
        if after.starts_with(['|', '}']) {
            return true;
        }
        self.keywords
            && ["in", "==", "!="].iter().any(|kw| {
                after.starts_with(kw) && after[kw.len()..].starts_with(char::is_whitespace)
            })
    }

    fn symbol(&mut self) -> Option<Path> {
        let first = self.identifier(true)?;
        let mut steps = vec![Step::Ident(first)];
        loop {
            let save = self.pos;
            if self.eat(".") {
                // After a dot the identifier may start with whitespace.
                match self.identifier(true) {
                    Some(id) => steps.push(Step::Ident(id)),
                    None => {
                        self.pos = save;
                        break;
                    }
                }
            } else if self.peek() == Some('[') {
                match self.indexer() {
                    Some(ix) => steps.push(Step::Index(ix)),
                    None => {
                        self.pos = save;
                        break;
                    }
                }
            } else {
                break;
            }
        }
        Some(Path { steps })
    }

    fn indexer(&mut self) -> Option<Index> {
        let start = self.pos;
        self.pos += 1; // '['
        self.skip_ws();
        if self.rest().starts_with("#{") && self.depth < MAX_EXPR_DEPTH {
            let save = self.pos;
            if let Some((expr, _)) = self.nested(|p| p.substitution())
                && expr.filters.is_empty()
            {
                self.skip_ws();
                if self.eat("]") {
                    return Some(Index::Symbol(expr.path));
                }
            }
            self.pos = save;
        }
        self.pos = start;
        let text = self.bracket_text()?;
        Some(Index::Text(text[1..text.len() - 1].trim().to_owned()))
    }

    /// `[...]` with balanced inner brackets, returned with its brackets.
    fn bracket_text(&mut self) -> Option<&str> {
        let start = self.pos;
        let end = *self.pairs.get(&start).filter(|&&e| e - start <= MAX_SCAN)?;
        self.pos = end + 1;
        Some(&self.s[start..self.pos])
    }

    /// Runs `f` one nesting level deeper.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        if self.depth >= MAX_EXPR_DEPTH {
            return None;
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// `#{expr}` at the cursor.
    fn substitution(&mut self) -> Option<(Expr, Span)> {
        let start = self.pos;
        if !self.eat("#{") || self.rest().starts_with('/') {
            return None;
        }
        let expr = self.expression()?;
        if !self.close_brace() {
            return None;
        }
        Some((expr, (start, self.pos)))
    }

    /// A symbol and/or a filter chain (at least one of them).
    fn expression(&mut self) -> Option<Expr> {
        let save = self.pos;
        let path = match self.symbol() {
            Some(p) => p,
            None => {
                self.pos = save;
                Path::default()
            }
        };
        let mut filters = Vec::new();
        loop {
            let save = self.pos;
            self.skip_ws();
            if !self.eat("|") {
                self.pos = save;
                break;
            }
            let name = self.identifier(false)?;
            let mut args = Vec::new();
            loop {
                let save = self.pos;
                self.skip_ws();
                if self.rest().starts_with("#{") {
                    match self.nested(|p| p.substitution()) {
                        Some((e, span)) => args.push(Arg::Subst(e, span)),
                        None => {
                            self.pos = save;
                            break;
                        }
                    }
                } else if let Some(q) = self.quoted() {
                    args.push(Arg::Text(q));
                } else if let Some(id) = self.identifier(false) {
                    args.push(Arg::Text(id));
                } else {
                    self.pos = save;
                    break;
                }
            }
            filters.push(Filter { name, args });
        }
        if path.steps.is_empty() && filters.is_empty() {
            return None;
        }
        Some(Expr { path, filters })
    }

    /// `"text"` (no `"` or `#` inside) or `\"text\"` (anything inside).
    fn quoted(&mut self) -> Option<String> {
        let start = self.pos;
        if self.eat("\\\"") {
            let end = self.rest().find("\\\"").filter(|&e| e <= MAX_SCAN);
            return match end {
                Some(e) => {
                    let t = self.rest()[..e].to_owned();
                    self.pos += e + 2;
                    Some(t)
                }
                None => {
                    self.pos = start;
                    None
                }
            };
        }
        if !self.eat("\"") {
            return None;
        }
        match self.rest().find(['"', '#']) {
            Some(e) if self.rest()[e..].starts_with('"') => {
                let t = self.rest()[..e].to_owned();
                self.pos += e + 1;
                Some(t)
            }
            _ => {
                self.pos = start;
                None
            }
        }
    }

    fn operand(&mut self) -> Option<Operand> {
        self.skip_ws();
        if let Some(q) = self.quoted() {
            return Some(Operand::Quoted(q));
        }
        self.expression().map(Operand::Expr)
    }

    fn condition(&mut self) -> Option<Cond> {
        let left = self.operand()?;
        self.skip_ws();
        let eq = if self.eat("==") {
            true
        } else if self.eat("!=") {
            false
        } else {
            return match left {
                Operand::Expr(_) => Some(Cond {
                    left,
                    compare: None,
                }),
                Operand::Quoted(_) => None,
            };
        };
        let right = self.operand()?;
        Some(Cond {
            left,
            compare: Some((eq, right)),
        })
    }

    /// `#{if c}`, `#{unless c}` or `#{each x in c}`.
    fn block_opener(&mut self, start: usize) -> Option<Tok> {
        self.pos = start + 2;
        self.skip_ws();
        let kind = if self.eat_keyword("if") {
            Kind::If
        } else if self.eat_keyword("unless") {
            Kind::Unless
        } else if self.eat_keyword("each") {
            Kind::Each
        } else {
            return None;
        };
        if self.skip_ws() == 0 {
            return None;
        }
        let head = if kind == Kind::Each {
            let alias = self.identifier(true)?;
            self.skip_ws();
            if !self.eat_keyword("in") {
                return None;
            }
            let coll = self.symbol()?;
            Head::Each(alias, coll)
        } else {
            Head::Cond(self.condition()?)
        };
        if !self.close_brace() {
            return None;
        }
        Some(Tok::Open {
            kind,
            head,
            span: (start, self.pos),
        })
    }

    /// `#{calc ...}`.
    fn calc_token(&mut self) -> Option<Calc> {
        self.pos += 2;
        self.skip_ws();
        if !self.eat_keyword("calc") || self.skip_ws() == 0 {
            return None;
        }
        let e = self.calc_sum()?;
        self.close_brace().then_some(e)
    }

    fn calc_sum(&mut self) -> Option<Calc> {
        let mut left = self.calc_product()?;
        loop {
            self.skip_ws();
            let op = match self.peek() {
                Some(c @ ('+' | '-')) => c as u8,
                _ => return Some(left),
            };
            self.pos += 1;
            let right = self.calc_product()?;
            left = Calc::Op(Box::new(left), op, Box::new(right));
        }
    }

    fn calc_product(&mut self) -> Option<Calc> {
        let mut left = self.calc_factor()?;
        loop {
            self.skip_ws();
            let op = match self.peek() {
                Some(c @ ('*' | '/')) => c as u8,
                _ => return Some(left),
            };
            self.pos += 1;
            let right = self.calc_factor()?;
            left = Calc::Op(Box::new(left), op, Box::new(right));
        }
    }

    fn calc_factor(&mut self) -> Option<Calc> {
        self.skip_ws();
        if self.eat("(") {
            let e = self.nested(|p| p.calc_sum())?;
            self.skip_ws();
            return self.eat(")").then_some(e);
        }
        let digits = self.rest().bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            || (self.rest().starts_with('.')
                && self.rest()[1..].starts_with(|c: char| c.is_ascii_digit()))
        {
            let start = self.pos;
            self.pos += digits;
            if self.rest().starts_with('.')
                && self.rest()[1..].starts_with(|c: char| c.is_ascii_digit())
            {
                self.pos += 1;
                self.pos += self.rest().bytes().take_while(u8::is_ascii_digit).count();
            }
            return self.s[start..self.pos].parse().ok().map(Calc::Num);
        }
        if self.eat("{") {
            let p = self.symbol()?;
            return self.close_brace().then_some(Calc::Var(p));
        }
        self.symbol().map(Calc::Var)
    }
}

/// An open block while building the tree.
struct Frame {
    kind: Kind,
    head: Option<Head>,
    open: Span,
    /// Clauses: the opener's, then each `elseif`/`else` with its span.
    clauses: Vec<(Option<Cond>, Span, Vec<Node>)>,
    seen_else: bool,
}

fn build(src: &str, tokens: Vec<Tok>) -> Vec<Node> {
    let mut root: Vec<Node> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    fn current<'a>(root: &'a mut Vec<Node>, stack: &'a mut [Frame]) -> &'a mut Vec<Node> {
        match stack.last_mut() {
            Some(f) => &mut f.clauses.last_mut().expect("a frame has a clause").2,
            None => root,
        }
    }
    for tok in tokens {
        match tok {
            Tok::Text(t) => push_text(current(&mut root, &mut stack), t),
            Tok::Node(n) => current(&mut root, &mut stack).push(n),
            Tok::Open { kind, head, span } => {
                if stack.len() >= MAX_BLOCK_DEPTH {
                    push_text(
                        current(&mut root, &mut stack),
                        src[span.0..span.1].to_owned(),
                    );
                    continue;
                }
                let cond = match &head {
                    Head::Cond(c) => Some(c.clone()),
                    Head::Each(..) => None,
                };
                stack.push(Frame {
                    kind,
                    head: Some(head),
                    open: span,
                    clauses: vec![(cond, span, Vec::new())],
                    seen_else: false,
                });
            }
            Tok::ElseIf(cond, span) => match stack.last_mut() {
                Some(f) if f.kind == Kind::If && !f.seen_else => {
                    f.clauses.push((Some(cond), span, Vec::new()))
                }
                _ => push_text(
                    current(&mut root, &mut stack),
                    src[span.0..span.1].to_owned(),
                ),
            },
            Tok::Else(span) => match stack.last_mut() {
                Some(f) if f.kind != Kind::Each && !f.seen_else => {
                    f.seen_else = true;
                    f.clauses.push((None, span, Vec::new()));
                }
                _ => push_text(
                    current(&mut root, &mut stack),
                    src[span.0..span.1].to_owned(),
                ),
            },
            Tok::Close(kind, span) => {
                let Some(at) = stack.iter().rposition(|f| f.kind == kind) else {
                    push_text(
                        current(&mut root, &mut stack),
                        src[span.0..span.1].to_owned(),
                    );
                    continue;
                };
                // Blocks opened inside this one and never closed are literal text.
                while stack.len() > at + 1 {
                    let f = stack.pop().expect("checked length");
                    unwind(src, f, current(&mut root, &mut stack));
                }
                let f = stack.pop().expect("checked length");
                let node = finish(f, span.1);
                current(&mut root, &mut stack).push(node);
            }
        }
    }
    while let Some(f) = stack.pop() {
        unwind(src, f, current(&mut root, &mut stack));
    }
    root
}

fn push_text(nodes: &mut Vec<Node>, t: String) {
    if let Some(Node::Text(prev)) = nodes.last_mut() {
        prev.push_str(&t);
    } else {
        nodes.push(Node::Text(t));
    }
}

/// An unclosed block: its opener and clause markers become text, its content stays.
fn unwind(src: &str, f: Frame, out: &mut Vec<Node>) {
    for (_, span, nodes) in f.clauses {
        push_text(out, src[span.0..span.1].to_owned());
        for n in nodes {
            match n {
                Node::Text(t) => push_text(out, t),
                n => out.push(n),
            }
        }
    }
}

fn finish(mut f: Frame, end: usize) -> Node {
    let span = (f.open.0, end);
    match f.head.take() {
        Some(Head::Each(alias, collection)) => {
            let body = f.clauses.pop().map(|c| c.2).unwrap_or_default();
            Node::Each {
                alias,
                collection,
                body,
            }
        }
        _ => {
            let mut branches = Vec::new();
            let mut otherwise = Vec::new();
            for (cond, _, nodes) in f.clauses {
                match cond {
                    Some(c) => branches.push((c, nodes)),
                    None => otherwise = nodes,
                }
            }
            if f.kind == Kind::Unless {
                // `unless c` = `if c` with the bodies swapped.
                let (cond, body) = branches.pop().expect("an unless has its condition");
                return Node::Cond {
                    branches: vec![(cond, otherwise)],
                    otherwise: body,
                    span,
                };
            }
            Node::Cond {
                branches,
                otherwise,
                span,
            }
        }
    }
}
