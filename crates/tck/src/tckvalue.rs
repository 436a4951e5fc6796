//! The literal syntax the TCK writes expected values and parameters in.
//! It is close to Cypher literals, plus node `(:L {k: v})`, relationship
//! `[:T {k: v}]` and path `<(a)-[r]->(b)>` forms that carry no ids.

use causeway_value::{Map, Value};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub enum TckValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<TckValue>),
    Map(BTreeMap<String, TckValue>),
    Node(TckNode),
    Rel(TckRel),
    Path(TckPath),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TckNode {
    pub labels: Vec<String>,
    pub props: BTreeMap<String, TckValue>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TckRel {
    pub rel_type: String,
    pub props: BTreeMap<String, TckValue>,
}

/// `segments[i]` leads from the previous node to `segments[i].2`;
/// `forward` is true for `-[..]->`.
#[derive(Clone, Debug, PartialEq)]
pub struct TckPath {
    pub start: TckNode,
    pub segments: Vec<(TckRel, bool, TckNode)>,
}

pub fn parse(s: &str) -> Result<TckValue, String> {
    let mut p = Parser {
        s: s.as_bytes(),
        src: s,
        pos: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(format!("trailing input at {}: {:?}", p.pos, &s[p.pos..]));
    }
    Ok(v)
}

impl TckValue {
    /// For parameters and procedure rows, which are plain values: graph
    /// entities have no meaning there.
    pub fn to_value(&self) -> Result<Value, String> {
        Ok(match self {
            TckValue::Null => Value::Null,
            TckValue::Bool(b) => Value::Bool(*b),
            TckValue::Int(i) => Value::Int(*i),
            TckValue::Float(f) => Value::Float(*f),
            TckValue::String(s) => Value::String(s.clone()),
            TckValue::List(l) => {
                Value::List(l.iter().map(|v| v.to_value()).collect::<Result<_, _>>()?)
            }
            TckValue::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_value()?)))
                    .collect::<Result<Map, String>>()?,
            ),
            TckValue::Node(_) | TckValue::Rel(_) | TckValue::Path(_) => {
                return Err("graph entities cannot be plain values".to_owned())
            }
        })
    }
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.rest().starts_with(tok) {
            self.pos += tok.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &str) -> Result<(), String> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(format!(
                "expected {tok:?} at {}: {:?}",
                self.pos,
                self.rest()
            ))
        }
    }

    /// A keyword only counts if no identifier character follows it.
    fn eat_word(&mut self, w: &str) -> bool {
        self.ws();
        let r = self.rest();
        if r.len() >= w.len() && r[..w.len()].eq_ignore_ascii_case(w) {
            let next = r[w.len()..].chars().next();
            if !next.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                self.pos += w.len();
                return true;
            }
        }
        false
    }

    fn value(&mut self) -> Result<TckValue, String> {
        self.ws();
        match self.peek() {
            None => Err("unexpected end of value".to_owned()),
            Some(b'\'') | Some(b'"') => Ok(TckValue::String(self.string()?)),
            Some(b'[') => {
                let save = self.pos;
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b':') {
                    self.pos = save;
                    Ok(TckValue::Rel(self.rel()?))
                } else {
                    self.pos = save;
                    self.list()
                }
            }
            Some(b'{') => Ok(TckValue::Map(self.map()?)),
            Some(b'(') => Ok(TckValue::Node(self.node()?)),
            Some(b'<') => self.path(),
            Some(_) => {
                if self.eat_word("null") {
                    Ok(TckValue::Null)
                } else if self.eat_word("true") {
                    Ok(TckValue::Bool(true))
                } else if self.eat_word("false") {
                    Ok(TckValue::Bool(false))
                } else {
                    self.number()
                }
            }
        }
    }

    fn number(&mut self) -> Result<TckValue, String> {
        let neg = self.eat("-");
        if !neg {
            self.eat("+");
        }
        let sign = if neg { -1.0 } else { 1.0 };
        if self.eat_word("NaN") {
            return Ok(TckValue::Float(f64::NAN));
        }
        if self.eat_word("Infinity") || self.eat_word("Inf") {
            return Ok(TckValue::Float(sign * f64::INFINITY));
        }
        let start = self.pos;
        let r = self.rest();
        if r.starts_with("0x") || r.starts_with("0X") {
            self.pos += 2;
            let digits = self.take_while(|c| c.is_ascii_hexdigit());
            let v = i64::from_str_radix(digits, 16).map_err(|e| e.to_string())?;
            return Ok(TckValue::Int(if neg { -v } else { v }));
        }
        let mut is_float = false;
        self.take_while(|c| c.is_ascii_digit());
        if self.peek() == Some(b'.') && self.s.get(self.pos + 1).is_some_and(u8::is_ascii_digit) {
            is_float = true;
            self.pos += 1;
            self.take_while(|c| c.is_ascii_digit());
        }
        if matches!(self.peek(), Some(b'e') | Some(b'E')) {
            is_float = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'-') | Some(b'+')) {
                self.pos += 1;
            }
            self.take_while(|c| c.is_ascii_digit());
        }
        let text = &self.src[start..self.pos];
        if text.is_empty() {
            return Err(format!("unexpected input at {}: {:?}", start, self.rest()));
        }
        let signed = if neg {
            format!("-{text}")
        } else {
            text.to_owned()
        };
        if is_float {
            signed
                .parse::<f64>()
                .map(TckValue::Float)
                .map_err(|e| format!("bad float {signed:?}: {e}"))
        } else {
            signed
                .parse::<i64>()
                .map(TckValue::Int)
                .map_err(|e| format!("bad integer {signed:?}: {e}"))
        }
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !f(c as char) || !c.is_ascii() {
                break;
            }
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.src[self.pos..].chars().next().unwrap();
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.src[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.pos += i + 1;
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' | 'U' => {
                    let len = if e == 'u' { 4 } else { 8 };
                    let hex: String = (0..len)
                        .filter_map(|_| chars.next().map(|(_, c)| c))
                        .collect();
                    let ch = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("bad unicode escape \\{e}{hex}"))?;
                    out.push(ch);
                }
                // `\\`, `\'`, `\"` and anything unknown stand for themselves.
                other => out.push(other),
            }
        }
        Err("unterminated string".to_owned())
    }

    fn list(&mut self) -> Result<TckValue, String> {
        self.expect("[")?;
        let mut items = Vec::new();
        if self.eat("]") {
            return Ok(TckValue::List(items));
        }
        loop {
            items.push(self.value()?);
            if self.eat("]") {
                return Ok(TckValue::List(items));
            }
            self.expect(",")?;
        }
    }

    fn key(&mut self) -> Result<String, String> {
        self.ws();
        match self.peek() {
            Some(b'`') => {
                self.pos += 1;
                let end = self.rest().find('`').ok_or("unterminated `name`")?;
                let k = self.rest()[..end].to_owned();
                self.pos += end + 1;
                Ok(k)
            }
            Some(b'\'') | Some(b'"') => self.string(),
            _ => {
                let start = self.pos;
                while let Some(c) = self.rest().chars().next() {
                    if c.is_alphanumeric() || c == '_' || c == '$' {
                        self.pos += c.len_utf8();
                    } else {
                        break;
                    }
                }
                if start == self.pos {
                    return Err(format!("expected a name at {}: {:?}", start, self.rest()));
                }
                Ok(self.src[start..self.pos].to_owned())
            }
        }
    }

    fn map(&mut self) -> Result<BTreeMap<String, TckValue>, String> {
        self.expect("{")?;
        let mut m = BTreeMap::new();
        if self.eat("}") {
            return Ok(m);
        }
        loop {
            let k = self.key()?;
            self.expect(":")?;
            let v = self.value()?;
            if m.insert(k.clone(), v).is_some() {
                return Err(format!("duplicate key {k}"));
            }
            if self.eat("}") {
                return Ok(m);
            }
            self.expect(",")?;
        }
    }

    fn props(&mut self) -> Result<BTreeMap<String, TckValue>, String> {
        self.ws();
        if self.peek() == Some(b'{') {
            self.map()
        } else {
            Ok(BTreeMap::new())
        }
    }

    fn node(&mut self) -> Result<TckNode, String> {
        self.expect("(")?;
        let mut labels = Vec::new();
        while self.eat(":") {
            labels.push(self.key()?);
        }
        let props = self.props()?;
        self.expect(")")?;
        Ok(TckNode { labels, props })
    }

    fn rel(&mut self) -> Result<TckRel, String> {
        self.expect("[")?;
        self.expect(":")?;
        let rel_type = self.key()?;
        let props = self.props()?;
        self.expect("]")?;
        Ok(TckRel { rel_type, props })
    }

    fn path(&mut self) -> Result<TckValue, String> {
        self.expect("<")?;
        let start = self.node()?;
        let mut segments = Vec::new();
        loop {
            if self.eat(">") {
                return Ok(TckValue::Path(TckPath { start, segments }));
            }
            let forward = if self.eat("<-") {
                false
            } else {
                self.expect("-")?;
                true
            };
            let rel = self.rel()?;
            if forward {
                self.expect("->")?;
            } else {
                self.expect("-")?;
            }
            let node = self.node()?;
            segments.push((rel, forward, node));
        }
    }
}

impl std::fmt::Display for TckValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TckValue::Null => f.write_str("null"),
            TckValue::Bool(b) => write!(f, "{b}"),
            TckValue::Int(i) => write!(f, "{i}"),
            TckValue::Float(x) => write!(f, "{}", Value::Float(*x)),
            TckValue::String(s) => write!(f, "{}", Value::String(s.clone())),
            TckValue::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            TckValue::Map(m) => fmt_map(m, f),
            TckValue::Node(n) => fmt_node(n, f),
            TckValue::Rel(r) => fmt_rel(r, f),
            TckValue::Path(p) => {
                f.write_str("<")?;
                fmt_node(&p.start, f)?;
                for (r, forward, n) in &p.segments {
                    f.write_str(if *forward { "-" } else { "<-" })?;
                    fmt_rel(r, f)?;
                    f.write_str(if *forward { "->" } else { "-" })?;
                    fmt_node(n, f)?;
                }
                f.write_str(">")
            }
        }
    }
}

fn fmt_map(m: &BTreeMap<String, TckValue>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("{")?;
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{k}: {v}")?;
    }
    f.write_str("}")
}

fn fmt_node(n: &TckNode, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("(")?;
    for l in &n.labels {
        write!(f, ":{l}")?;
    }
    if !n.props.is_empty() {
        if !n.labels.is_empty() {
            f.write_str(" ")?;
        }
        fmt_map(&n.props, f)?;
    }
    f.write_str(")")
}

fn fmt_rel(r: &TckRel, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(f, "[:{}", r.rel_type)?;
    if !r.props.is_empty() {
        f.write_str(" ")?;
        fmt_map(&r.props, f)?;
    }
    f.write_str("]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> TckValue {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn scalars() {
        assert_eq!(p("null"), TckValue::Null);
        assert_eq!(p(" true "), TckValue::Bool(true));
        assert_eq!(p("false"), TckValue::Bool(false));
        assert_eq!(p("42"), TckValue::Int(42));
        assert_eq!(p("-9223372036854775808"), TckValue::Int(i64::MIN));
        assert_eq!(p("-1.5"), TckValue::Float(-1.5));
        assert_eq!(p("1e308"), TckValue::Float(1e308));
        assert_eq!(p("-1e-305"), TckValue::Float(-1e-305));
        assert_eq!(
            p("1.2635418652381264e305"),
            TckValue::Float(1.2635418652381264e305)
        );
        assert_eq!(p("Inf"), TckValue::Float(f64::INFINITY));
        assert_eq!(p("-Infinity"), TckValue::Float(f64::NEG_INFINITY));
        assert!(matches!(p("NaN"), TckValue::Float(x) if x.is_nan()));
        assert!(parse("9223372036854775808").is_err());
        assert!(parse("1 2").is_err());
    }

    #[test]
    fn strings() {
        assert_eq!(p("''"), TckValue::String(String::new()));
        assert_eq!(p("'🧐🍌'"), TckValue::String("🧐🍌".into()));
        assert_eq!(
            p(r#"'a\\bcn5t\'"\\//\\"\''"#),
            TckValue::String(r#"a\bcn5t'"\//\"'"#.into())
        );
        assert_eq!(p(r"'a\nb\u00e9'"), TckValue::String("a\nbé".into()));
        assert_eq!(p("\"x'y\""), TckValue::String("x'y".into()));
    }

    #[test]
    fn collections() {
        assert_eq!(p("[]"), TckValue::List(vec![]));
        assert_eq!(
            p("[1, [2], 'a']"),
            TckValue::List(vec![
                TckValue::Int(1),
                TckValue::List(vec![TckValue::Int(2)]),
                TckValue::String("a".into())
            ])
        );
        let m = p("{a: 1, `b c`: [], name2: {}}");
        let TckValue::Map(m) = m else { panic!() };
        assert_eq!(m.len(), 3);
        assert_eq!(m["a"], TckValue::Int(1));
        assert_eq!(m["b c"], TckValue::List(vec![]));
        assert!(parse("{a: 1, a: 2}").is_err());
    }

    #[test]
    fn entities() {
        assert_eq!(
            p("()"),
            TckValue::Node(TckNode {
                labels: vec![],
                props: BTreeMap::new()
            })
        );
        let TckValue::Node(n) = p("(:A:B {name: 'x', n: 1})") else {
            panic!()
        };
        assert_eq!(n.labels, vec!["A", "B"]);
        assert_eq!(n.props["name"], TckValue::String("x".into()));
        let TckValue::Node(n) = p("({prop:1})") else {
            panic!()
        };
        assert_eq!(n.props["prop"], TckValue::Int(1));
        let TckValue::Rel(r) = p("[:T {k: 1.0}]") else {
            panic!()
        };
        assert_eq!(r.rel_type, "T");
        let TckValue::List(l) = p("[(:A), [:T], (:B)]") else {
            panic!()
        };
        assert!(matches!(l[1], TckValue::Rel(_)));
        let TckValue::Path(path) = p("<(:A)-[:T1]->(:B)<-[:T2 {x: 1}]-({name: 'C'})>") else {
            panic!()
        };
        assert_eq!(path.start.labels, vec!["A"]);
        assert_eq!(path.segments.len(), 2);
        assert!(path.segments[0].1);
        assert!(!path.segments[1].1);
        assert_eq!(path.segments[1].0.rel_type, "T2");
        let TckValue::Path(path) = p("<()>") else {
            panic!()
        };
        assert!(path.segments.is_empty());
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "[1, 2.5, 'a', null, true]",
            "{a: [], b: {c: 1}}",
            "<(:A {x: 1})-[:T]->()<-[:U {y: 'z'}]-(:B)>",
        ] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn to_value_rejects_entities() {
        assert_eq!(
            p("[1, {a: 'b'}]").to_value().unwrap().to_string(),
            "[1, {a: 'b'}]"
        );
        assert!(p("(:A)").to_value().is_err());
    }
}
