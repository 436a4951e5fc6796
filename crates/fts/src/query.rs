//! Lucene's classic query syntax, which Neo4j's fulltext procedures take:
//! terms, `field:` prefixes, phrases with slop, `AND`/`OR`/`NOT`, `&&`,
//! `||`, `!`, `+`/`-`, groups, wildcards (`?`, `*`, leading ones too),
//! fuzzy terms (`~`, `~1`, `~0.8`), regular expressions (`/.../`), ranges
//! (`[a TO b]`, `{a TO b}`, `*` for open ends), boosts (`^2`) and `\`
//! escapes. Parsed once into [`Query`], then lowered to tantivy queries per
//! index (see `lower` in lib.rs).

use std::fmt;

/// How a clause joins its boolean query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occur {
    Must,
    Should,
    MustNot,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TermKind {
    /// Analysed like indexed text.
    Plain,
    /// Holds unescaped `*` or `?`: matched against terms as a pattern.
    Wildcard,
    /// `term~n`: within `n` edits (at most 2, as Lucene).
    Fuzzy(u8),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    /// `field` is `None` for every indexed property.
    Term {
        field: Option<String>,
        text: String,
        kind: TermKind,
    },
    Phrase {
        field: Option<String>,
        text: String,
        slop: u32,
    },
    Range {
        field: Option<String>,
        lower: Option<String>,
        upper: Option<String>,
        lower_inclusive: bool,
        upper_inclusive: bool,
    },
    Regex {
        field: Option<String>,
        pattern: String,
    },
    /// `*:*`
    All,
    Bool(Vec<(Occur, Query)>),
    Boost(Box<Query>, f32),
}

/// A query that cannot be parsed, worded as Lucene's ParseException.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest query text accepted, and the deepest nesting of groups:
/// bounds on the work and stack one call may take.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
pub const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    And,
    Or,
    Not,
    Plus,
    Minus,
    LParen,
    RParen,
    Colon,
    /// `^` with its number.
    Boost(f32),
    /// `~` with its number, if any.
    Tilde(Option<f32>),
    Quoted(String),
    /// Unescaped text, and whether it holds an unescaped wildcard (the
    /// text then keeps escapes as `\x` so the pattern can tell them apart).
    Term(String, bool),
    Regex(String),
    /// `[`/`{` ... `]`/`}` with both ends (`None`: `*`).
    Range(Option<String>, Option<String>, bool, bool),
}

fn is_special(c: char) -> bool {
    matches!(
        c,
        '+' | '-' | '!' | '(' | ')' | ':' | '^' | '[' | ']' | '"' | '{' | '}' | '~' | '\\' | '/'
    )
}

fn at(pos: usize) -> String {
    format!("at character {pos}")
}

fn lex(text: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let single = match c {
            '!' => Some(Tok::Not),
            '+' => Some(Tok::Plus),
            '-' => Some(Tok::Minus),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = single {
            out.push((start, tok));
            i += 1;
            continue;
        }
        let tok = match c {
            '&' if next == Some('&') => {
                i += 2;
                Tok::And
            }
            '|' if next == Some('|') => {
                i += 2;
                Tok::Or
            }
            '^' => {
                i += 1;
                let (n, len) = number(&chars[i..]);
                let Some(n) = n else {
                    return Err(ParseError(format!(
                        "Cannot parse query: a boost '^' needs a number, {}",
                        at(start)
                    )));
                };
                i += len;
                Tok::Boost(n)
            }
            '~' => {
                i += 1;
                let (n, len) = number(&chars[i..]);
                i += len;
                Tok::Tilde(n)
            }
            '"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(ParseError(format!(
                                "Cannot parse query: Lexical error: unterminated phrase, {}",
                                at(start)
                            )))
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if i + 1 < chars.len() => {
                            s.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&c) => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                Tok::Quoted(s)
            }
            '/' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(ParseError(format!(
                                "Cannot parse query: Lexical error: unterminated regular \
                                 expression, {}",
                                at(start)
                            )))
                        }
                        Some('/') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if chars.get(i + 1) == Some(&'/') => {
                            s.push('/');
                            i += 2;
                        }
                        Some(&c) => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                Tok::Regex(s)
            }
            '[' | '{' => {
                i += 1;
                let (lo, hi, close, len) = range(&chars[i..]).ok_or_else(|| {
                    ParseError(format!(
                        "Cannot parse query: a range is written [a TO b] or {{a TO b}}, {}",
                        at(start)
                    ))
                })?;
                i += len;
                Tok::Range(lo, hi, c == '[', close == ']')
            }
            ']' | '}' => {
                return Err(ParseError(format!(
                    "Cannot parse query: Encountered \"{c}\" {}",
                    at(start)
                )))
            }
            _ => {
                let mut s = String::new();
                let mut wild = false;
                while i < chars.len() {
                    let c = chars[i];
                    if c.is_whitespace() || (is_special(c) && c != '\\' && c != '+' && c != '-') {
                        break;
                    }
                    // `+` and `-` continue a term, but cannot start one.
                    if c == '\\' {
                        let Some(&e) = chars.get(i + 1) else {
                            return Err(ParseError(
                                "Cannot parse query: Term can not end with escape character."
                                    .into(),
                            ));
                        };
                        s.push('\\');
                        s.push(e);
                        i += 2;
                        continue;
                    }
                    if c == '*' || c == '?' {
                        wild = true;
                    }
                    s.push(c);
                    i += 1;
                }
                let text = if wild { s } else { unescape(&s) };
                Tok::Term(text, wild)
            }
        };
        out.push((start, tok));
    }
    Ok(out)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(e) = it.next() {
                out.push(e);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A number at the start of `chars` (digits, an optional fraction), and how
/// many characters it took.
fn number(chars: &[char]) -> (Option<f32>, usize) {
    let len = chars
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == '.')
        .count();
    let s: String = chars[..len].iter().collect();
    (s.parse().ok(), len)
}

/// After `[` or `{`: `lo TO hi` then `]` or `}`; ends may be quoted or `*`.
type RangeParts = (Option<String>, Option<String>, char, usize);

fn range(chars: &[char]) -> Option<RangeParts> {
    let mut i = 0;
    let mut parts: Vec<(String, bool)> = Vec::new();
    loop {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        match chars.get(i)? {
            c @ (']' | '}') => {
                let [(lo, lq), (to, tq), (hi, hq)] = <[_; 3]>::try_from(parts).ok()?;
                if to != "TO" || tq {
                    return None;
                }
                let end = |s: String, quoted: bool| (quoted || s != "*").then_some(s);
                return Some((end(lo, lq), end(hi, hq), *c, i + 1));
            }
            '"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match chars.get(i)? {
                        '"' => break,
                        '\\' => {
                            s.push(*chars.get(i + 1)?);
                            i += 1;
                        }
                        c => s.push(*c),
                    }
                    i += 1;
                }
                i += 1;
                parts.push((s, true));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.get(i) {
                    if c.is_whitespace() || c == ']' || c == '}' {
                        break;
                    }
                    if c == '\\' {
                        s.push(*chars.get(i + 1)?);
                        i += 2;
                        continue;
                    }
                    s.push(c);
                    i += 1;
                }
                parts.push((s, false));
            }
        }
        if parts.len() > 3 {
            return None;
        }
    }
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Conj {
    None,
    And,
    Or,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mods {
    None,
    Req,
    Not,
}

/// Parses a query in Lucene's classic syntax (default operator OR).
pub fn parse(text: &str) -> Result<Query, ParseError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(ParseError(format!(
            "Cannot parse query: it is longer than {MAX_QUERY_BYTES} bytes"
        )));
    }
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let q = p.query(None)?;
    if let Some((at_, t)) = p.toks.get(p.pos) {
        return Err(ParseError(format!(
            "Cannot parse '{text}': Encountered \"{}\" {}",
            shown(t),
            at(*at_)
        )));
    }
    Ok(q)
}

fn shown(t: &Tok) -> String {
    match t {
        Tok::RParen => ")".into(),
        Tok::LParen => "(".into(),
        Tok::Colon => ":".into(),
        Tok::And => "AND".into(),
        Tok::Or => "OR".into(),
        Tok::Not => "NOT".into(),
        Tok::Term(s, _) => s.clone(),
        other => format!("{other:?}"),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn err(&self, what: &str) -> ParseError {
        match self.toks.get(self.pos) {
            Some((p, t)) => ParseError(format!(
                "Cannot parse query: Encountered \"{}\" {}, expecting {what}",
                shown(t),
                at(*p)
            )),
            None => ParseError(format!(
                "Cannot parse query: Encountered \"<EOF>\", expecting {what}"
            )),
        }
    }

    /// Words `AND`, `OR`, `NOT` are operators only in upper case.
    fn word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Term(s, false)) => Some(s.as_str()),
            _ => None,
        }
    }

    fn conj(&mut self) -> Conj {
        let c = match (self.peek(), self.word()) {
            (Some(Tok::And), _) | (_, Some("AND")) => Conj::And,
            (Some(Tok::Or), _) | (_, Some("OR")) => Conj::Or,
            _ => return Conj::None,
        };
        self.pos += 1;
        c
    }

    fn mods(&mut self) -> Mods {
        let m = match (self.peek(), self.word()) {
            (Some(Tok::Plus), _) => Mods::Req,
            (Some(Tok::Minus | Tok::Not), _) | (_, Some("NOT")) => Mods::Not,
            _ => return Mods::None,
        };
        self.pos += 1;
        m
    }

    fn query(&mut self, field: Option<&str>) -> Result<Query, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError(format!(
                "Cannot parse query: groups nest deeper than {MAX_DEPTH}"
            )));
        }
        let mut clauses: Vec<(Occur, Query)> = Vec::new();
        let mut first = true;
        loop {
            match self.peek() {
                None | Some(Tok::RParen) => break,
                _ => {}
            }
            let conj = self.conj();
            if first && conj != Conj::None {
                return Err(self.err("a term"));
            }
            let mods = self.mods();
            let q = self.clause(field)?;
            add_clause(&mut clauses, conj, mods, q);
            first = false;
        }
        self.depth -= 1;
        if clauses.is_empty() {
            return Err(self.err("a term"));
        }
        if clauses.len() == 1 && clauses[0].0 == Occur::Should {
            return Ok(clauses.pop().map(|(_, q)| q).unwrap_or(Query::Bool(vec![])));
        }
        Ok(Query::Bool(clauses))
    }

    fn clause(&mut self, field: Option<&str>) -> Result<Query, ParseError> {
        let mut field = field.map(str::to_string);
        if let (Some(Tok::Term(name, wild)), Some((_, Tok::Colon))) =
            (self.peek(), self.toks.get(self.pos + 1))
        {
            let (name, wild) = (name.clone(), *wild);
            self.pos += 2;
            if name == "*" {
                if let Some(Tok::Term(t, _)) = self.peek() {
                    if t == "*" {
                        self.pos += 1;
                        return self.boosted(Query::All);
                    }
                }
            }
            field = Some(if wild { unescape(&name) } else { name });
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let q = self.query(field.as_deref())?;
            if self.peek() != Some(&Tok::RParen) {
                return Err(self.err("\")\""));
            }
            self.pos += 1;
            return self.boosted(q);
        }
        self.term(field)
    }

    fn boosted(&mut self, q: Query) -> Result<Query, ParseError> {
        if let Some(Tok::Boost(b)) = self.peek() {
            let b = *b;
            self.pos += 1;
            return Ok(Query::Boost(Box::new(q), b));
        }
        Ok(q)
    }

    fn term(&mut self, field: Option<String>) -> Result<Query, ParseError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.err("a term"));
        };
        self.pos += 1;
        let q = match tok {
            Tok::Term(text, wild) => {
                let mut kind = if wild {
                    TermKind::Wildcard
                } else {
                    TermKind::Plain
                };
                let mut text = text;
                if let Some(Tok::Tilde(n)) = self.peek() {
                    let n = *n;
                    self.pos += 1;
                    if wild {
                        // Lucene reads `te?t~` as fuzzy on the literal text.
                        text = unescape(&text);
                    }
                    kind = TermKind::Fuzzy(fuzzy_edits(n, text.chars().count())?);
                }
                Query::Term { field, text, kind }
            }
            Tok::Quoted(text) => {
                let mut slop = 0;
                if let Some(Tok::Tilde(n)) = self.peek() {
                    slop = n.unwrap_or(0.0).max(0.0) as u32;
                    self.pos += 1;
                }
                Query::Phrase { field, text, slop }
            }
            Tok::Range(lower, upper, lower_inclusive, upper_inclusive) => Query::Range {
                field,
                lower,
                upper,
                lower_inclusive,
                upper_inclusive,
            },
            Tok::Regex(pattern) => Query::Regex { field, pattern },
            _ => {
                self.pos -= 1;
                return Err(self.err("a term"));
            }
        };
        self.boosted(q)
    }
}

/// Lucene's reading of `~n`: whole numbers are edits; a fraction is the old
/// minimum similarity, turned into edits for a term of this length.
fn fuzzy_edits(n: Option<f32>, len: usize) -> Result<u8, ParseError> {
    let Some(n) = n else { return Ok(2) };
    if n >= 1.0 {
        if n.fract() != 0.0 {
            return Err(ParseError(
                "Cannot parse query: Fractional edit distances are not allowed!".into(),
            ));
        }
        return Ok(n.min(2.0) as u8);
    }
    Ok((((1.0 - n) * len as f32) as u32).min(2) as u8)
}

/// Lucene's `addClause` with OR as the default operator: `AND` makes the
/// clause before it required, unless it is prohibited.
fn add_clause(clauses: &mut Vec<(Occur, Query)>, conj: Conj, mods: Mods, q: Query) {
    if conj == Conj::And {
        if let Some(last) = clauses.last_mut() {
            if last.0 != Occur::MustNot {
                last.0 = Occur::Must;
            }
        }
    }
    let prohibited = mods == Mods::Not;
    let required = mods == Mods::Req || (conj == Conj::And && !prohibited);
    let occur = match (required, prohibited) {
        (_, true) => Occur::MustNot,
        (true, false) => Occur::Must,
        (false, false) => Occur::Should,
    };
    clauses.push((occur, q));
}
