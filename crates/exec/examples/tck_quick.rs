//! A rough TCK driver for executor development (the real runner lives in
//! crates/tck). Usage: cargo run -p causeway-exec --example tck_quick -- DIR [filter]
#![allow(clippy::type_complexity)]

use causeway_exec::{execute, ExecContext, Limits};
use causeway_graph::{Graph, TxGraph};
use causeway_value::{Map, Value};
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
enum T {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<T>),
    Map(Vec<(String, T)>),
    Node(Vec<String>, Vec<(String, T)>),
    Rel(String, Vec<(String, T)>),
    Path(Vec<T>),
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] as char).is_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> u8 {
        self.ws();
        *self.s.get(self.i).unwrap_or(&0)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == c {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> String {
        self.ws();
        let st = self.i;
        if self.s.get(self.i) == Some(&b'`') {
            self.i += 1;
            while self.i < self.s.len() && self.s[self.i] != b'`' {
                self.i += 1;
            }
            self.i += 1;
            return String::from_utf8_lossy(&self.s[st + 1..self.i - 1]).into();
        }
        while self.i < self.s.len() {
            let c = self.s[self.i] as char;
            if c.is_alphanumeric() || c == '_' {
                self.i += 1;
            } else {
                break;
            }
        }
        String::from_utf8_lossy(&self.s[st..self.i]).into()
    }
    fn props(&mut self) -> Vec<(String, T)> {
        let mut out = Vec::new();
        if !self.eat(b'{') {
            return out;
        }
        if self.eat(b'}') {
            return out;
        }
        loop {
            let k = self.ident();
            self.eat(b':');
            let v = self.val();
            out.push((k, v));
            if !self.eat(b',') {
                break;
            }
        }
        self.eat(b'}');
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
    fn node(&mut self) -> T {
        self.eat(b'(');
        let mut labels = Vec::new();
        while self.eat(b':') {
            labels.push(self.ident());
        }
        labels.sort();
        let p = self.props();
        self.eat(b')');
        T::Node(labels, p)
    }
    fn val(&mut self) -> T {
        match self.peek() {
            b'[' => {
                self.i += 1;
                if self.peek() == b':' {
                    self.i += 1;
                    let t = self.ident();
                    let p = self.props();
                    self.eat(b']');
                    return T::Rel(t, p);
                }
                let mut out = Vec::new();
                if self.eat(b']') {
                    return T::List(out);
                }
                loop {
                    out.push(self.val());
                    if !self.eat(b',') {
                        break;
                    }
                }
                self.eat(b']');
                T::List(out)
            }
            b'{' => T::Map(self.props()),
            b'(' => self.node(),
            b'<' => {
                self.i += 1;
                let mut out = vec![self.node()];
                loop {
                    if self.peek() == b'>' {
                        self.i += 1;
                        break;
                    }
                    let left = self.eat(b'<');
                    self.eat(b'-');
                    self.eat(b'[');
                    self.eat(b':');
                    let t = self.ident();
                    let p = self.props();
                    self.eat(b']');
                    self.eat(b'-');
                    let right = self.eat(b'>');
                    out.push(T::Str(format!("{}{}", left, right)));
                    out.push(T::Rel(t, p));
                    out.push(self.node());
                    if self.i >= self.s.len() {
                        break;
                    }
                }
                T::Path(out)
            }
            b'\'' => {
                self.i += 1;
                let mut s = Vec::new();
                while self.i < self.s.len() && self.s[self.i] != b'\'' {
                    if self.s[self.i] == b'\\' && self.i + 1 < self.s.len() {
                        self.i += 1;
                    }
                    s.push(self.s[self.i]);
                    self.i += 1;
                }
                self.i += 1;
                T::Str(String::from_utf8_lossy(&s).into())
            }
            _ => {
                self.ws();
                let st = self.i;
                while self.i < self.s.len() && !b",]}) \t".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let w = String::from_utf8_lossy(&self.s[st..self.i]).to_string();
                match w.as_str() {
                    "null" => T::Null,
                    "true" => T::Bool(true),
                    "false" => T::Bool(false),
                    "NaN" => T::Float(f64::NAN),
                    "Inf" | "Infinity" => T::Float(f64::INFINITY),
                    "-Inf" | "-Infinity" => T::Float(f64::NEG_INFINITY),
                    _ => {
                        if let Ok(i) = w.parse::<i64>() {
                            T::Int(i)
                        } else if let Ok(f) = w.parse::<f64>() {
                            T::Float(f)
                        } else {
                            T::Str(format!("?{w}"))
                        }
                    }
                }
            }
        }
    }
}

fn parse_t(s: &str) -> T {
    P {
        s: s.trim().as_bytes(),
        i: 0,
    }
    .val()
}

fn props_t(m: &Map) -> Vec<(String, T)> {
    m.iter().map(|(k, v)| (k.clone(), conv(v))).collect()
}

fn conv(v: &Value) -> T {
    match v {
        Value::Null => T::Null,
        Value::Bool(b) => T::Bool(*b),
        Value::Int(i) => T::Int(*i),
        Value::Float(f) => T::Float(*f),
        Value::String(s) => T::Str(s.clone()),
        Value::Bytes(_) => T::Str("bytes".into()),
        Value::List(l) => T::List(l.iter().map(conv).collect()),
        Value::Map(m) => T::Map(props_t(m)),
        Value::Node(n) => {
            let mut l = n.labels.clone();
            l.sort();
            T::Node(l, props_t(&n.props))
        }
        Value::Relationship(r) => T::Rel(r.rel_type.clone(), props_t(&r.props)),
        Value::Path(p) => {
            let mut out = Vec::new();
            for (i, n) in p.nodes.iter().enumerate() {
                if i > 0 {
                    let r = &p.rels[i - 1];
                    let fwd = r.start == p.nodes[i - 1].id;
                    out.push(T::Str(format!("{}{}", !fwd, fwd)));
                    out.push(conv(&Value::Relationship(r.clone())));
                }
                out.push(conv(&Value::Node(n.clone())));
            }
            T::Path(out)
        }
        // The TCK writes temporal results as strings.
        v if v.is_temporal() => T::Str(v.temporal_text().unwrap_or_default()),
        _ => T::Null,
    }
}

fn eq_t(a: &T, b: &T, unordered_lists: bool) -> bool {
    match (a, b) {
        (T::Float(x), T::Float(y)) => {
            (x.is_nan() && y.is_nan()) || x == y || ((x - y).abs() <= 1e-9 * x.abs().max(1.0))
        }
        (T::List(x), T::List(y)) => {
            if x.len() != y.len() {
                return false;
            }
            if unordered_lists {
                let mut used = vec![false; y.len()];
                x.iter().all(|p| {
                    for (j, q) in y.iter().enumerate() {
                        if !used[j] && eq_t(p, q, true) {
                            used[j] = true;
                            return true;
                        }
                    }
                    false
                })
            } else {
                x.iter().zip(y).all(|(p, q)| eq_t(p, q, false))
            }
        }
        (T::Map(x), T::Map(y)) | (T::Node(_, x), T::Node(_, y)) | (T::Rel(_, x), T::Rel(_, y)) => {
            let head = match (a, b) {
                (T::Node(l, _), T::Node(m, _)) => l == m,
                (T::Rel(l, _), T::Rel(m, _)) => l == m,
                _ => true,
            };
            head && x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p.0 == q.0 && eq_t(&p.1, &q.1, unordered_lists))
        }
        (T::Path(x), T::Path(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| eq_t(p, q, unordered_lists))
        }
        _ => a == b,
    }
}

fn table(lines: &[&str]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|l| {
            let t = l.trim();
            let t = t.strip_prefix('|').unwrap_or(t);
            let t = t.strip_suffix('|').unwrap_or(t);
            split_cells(t)
        })
        .collect()
}

fn split_cells(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_str = false;
    let mut prev = ' ';
    for c in t.chars() {
        if c == '\'' && prev != '\\' {
            in_str = !in_str;
        }
        if c == '|' && !in_str {
            out.push(cur.trim().to_string());
            cur.clear();
        } else {
            cur.push(c);
        }
        prev = c;
    }
    out.push(cur.trim().to_string());
    out
}

fn ctx() -> ExecContext<'static> {
    ExecContext {
        database: "neo4j",
        catalog: None,
        limits: Limits::default(),
        inputs: None,
    }
}

static COUNTERS: std::sync::Mutex<Option<causeway_value::Counters>> = std::sync::Mutex::new(None);

fn run(g: &mut Graph, q: &str, params: &Map) -> Result<(Vec<String>, Vec<Vec<Value>>), String> {
    let mut tx = TxGraph::new(g.clone());
    let r = execute(&mut tx, q, params, &ctx()).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for row in r.rows {
        rows.push(row.map_err(|e| e.to_string())?);
    }
    *COUNTERS.lock().unwrap() = Some(r.counters);
    let (ng, _) = tx.finish();
    *g = ng;
    Ok((r.fields, rows))
}

fn check_effects(expected: &[(String, i64)]) -> Result<(), String> {
    let c = COUNTERS.lock().unwrap().unwrap_or_default();
    let get = |k: &str| {
        expected
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| *v)
            .unwrap_or(0)
    };
    let checks = [
        ("+nodes", c.nodes_created),
        ("-nodes", c.nodes_deleted),
        ("+relationships", c.relationships_created),
        ("-relationships", c.relationships_deleted),
    ];
    for (k, v) in checks {
        if get(k) != v {
            return Err(format!(
                "side effect {k}: expected {} got {v} ({c:?})",
                get(k)
            ));
        }
    }
    Ok(())
}

struct Scenario {
    name: String,
    steps: Vec<String>,
}

fn scenarios(text: &str) -> Vec<Scenario> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut background: Vec<&str> = Vec::new();
    while i < lines.len() {
        let l = lines[i].trim();
        if l.starts_with("Background") {
            i += 1;
            while i < lines.len() && !lines[i].trim().starts_with("Scenario") {
                background.push(lines[i]);
                i += 1;
            }
            continue;
        }
        if l.starts_with("Scenario") {
            let name = l.to_string();
            let outline = l.starts_with("Scenario Outline");
            let mut body = background.clone();
            i += 1;
            while i < lines.len() {
                let t = lines[i].trim();
                if t.starts_with("Scenario") || (t.starts_with("Examples") && outline) {
                    break;
                }
                body.push(lines[i]);
                i += 1;
            }
            if outline && i < lines.len() && lines[i].trim().starts_with("Examples") {
                i += 1;
                let mut rows = Vec::new();
                while i < lines.len() && lines[i].trim().starts_with('|') {
                    rows.push(lines[i]);
                    i += 1;
                }
                let t = table(&rows);
                if let Some((h, data)) = t.split_first() {
                    for (n, d) in data.iter().enumerate() {
                        let mut b = body.join("\n");
                        for (k, v) in h.iter().zip(d) {
                            b = b.replace(&format!("<{k}>"), v);
                        }
                        out.push(Scenario {
                            name: format!("{name} #{}", n + 1),
                            steps: b.lines().map(|s| s.to_string()).collect(),
                        });
                    }
                }
                while i < lines.len() && !lines[i].trim().starts_with("Scenario") {
                    i += 1;
                }
            } else {
                out.push(Scenario {
                    name,
                    steps: body.iter().map(|s| s.to_string()).collect(),
                });
            }
        } else {
            i += 1;
        }
    }
    out
}

fn run_scenario(sc: &Scenario) -> Result<(), String> {
    let mut g = Graph::new();
    let mut params = Map::new();
    let lines: Vec<&str> = sc.steps.iter().map(|s| s.as_str()).collect();
    let mut i = 0;
    let mut result: Option<Result<(Vec<String>, Vec<Vec<Value>>), String>> = None;
    let docstring = |i: &mut usize| -> String {
        let mut s = Vec::new();
        *i += 1;
        while *i < lines.len() && lines[*i].trim() != "\"\"\"" {
            *i += 1;
        }
        *i += 1;
        while *i < lines.len() && lines[*i].trim() != "\"\"\"" {
            s.push(lines[*i]);
            *i += 1;
        }
        *i += 1;
        s.join("\n")
    };
    while i < lines.len() {
        let l = lines[i].trim();
        if l.starts_with("And having executed") {
            let q = docstring(&mut i);
            run(&mut g, &q, &Map::new()).map_err(|e| format!("setup failed: {e}"))?;
            continue;
        }
        if l.starts_with("Given the ") && l.ends_with(" graph") {
            let name = l
                .trim_start_matches("Given the ")
                .trim_end_matches(" graph");
            let q =
                std::fs::read_to_string(format!("/work/shared/tck/graphs/{name}/{name}.cypher"))
                    .map_err(|e| e.to_string())?;
            run(&mut g, &q, &Map::new()).map_err(|e| format!("graph setup failed: {e}"))?;
            i += 1;
            continue;
        }
        if l.starts_with("And there exists a procedure") {
            return Err("unsupported".into());
        }
        if l.starts_with("And parameters are") {
            i += 1;
            let mut rows = Vec::new();
            while i < lines.len() && lines[i].trim().starts_with('|') {
                rows.push(lines[i]);
                i += 1;
            }
            for r in table(&rows) {
                if r.len() >= 2 {
                    let (_, v) = run(
                        &mut Graph::new(),
                        &format!("RETURN {} AS v", r[1]),
                        &Map::new(),
                    )
                    .map_err(|e| format!("param: {e}"))?;
                    params.insert(r[0].clone(), v[0][0].clone());
                }
            }
            continue;
        }
        if l.starts_with("And no side effects") {
            check_effects(&[])?;
            i += 1;
            continue;
        }
        if l.starts_with("And the side effects should be") {
            i += 1;
            let mut rows = Vec::new();
            while i < lines.len() && lines[i].trim().starts_with('|') {
                rows.push(lines[i]);
                i += 1;
            }
            let t: Vec<(String, i64)> = table(&rows)
                .into_iter()
                .filter(|r| r.len() >= 2)
                .map(|r| (r[0].clone(), r[1].parse().unwrap_or(0)))
                .collect();
            check_effects(&t)?;
            continue;
        }
        if l.starts_with("When executing query") {
            *COUNTERS.lock().unwrap() = None;
            let q = docstring(&mut i);
            result = Some(run(&mut g, &q, &params));
            continue;
        }
        if l.starts_with("When executing control query") {
            let q = docstring(&mut i);
            result = Some(run(&mut g, &q, &params));
            continue;
        }
        if l.starts_with("Then the result should be empty") {
            match result.take() {
                Some(Ok((_, rows))) if rows.is_empty() => {}
                Some(Ok((_, rows))) => return Err(format!("expected empty, got {rows:?}")),
                Some(Err(e)) => return Err(e),
                None => return Err("no result".into()),
            }
            i += 1;
            continue;
        }
        if l.starts_with("Then the result should be") {
            let ordered = l.contains("in order");
            let unordered_lists = l.contains("ignoring element order");
            i += 1;
            let mut rows = Vec::new();
            while i < lines.len() && lines[i].trim().starts_with('|') {
                rows.push(lines[i]);
                i += 1;
            }
            let t = table(&rows);
            let (fields, actual) = match result.take() {
                Some(Ok(r)) => r,
                Some(Err(e)) => return Err(e),
                None => return Err("no result".into()),
            };
            let Some((h, exp)) = t.split_first() else {
                continue;
            };
            if *h != fields {
                return Err(format!("columns {fields:?} != {h:?}"));
            }
            let exp: Vec<Vec<T>> = exp
                .iter()
                .map(|r| r.iter().map(|c| parse_t(c)).collect())
                .collect();
            let act: Vec<Vec<T>> = actual
                .iter()
                .map(|r| r.iter().map(conv).collect())
                .collect();
            let row_eq = |a: &Vec<T>, b: &Vec<T>| {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq_t(x, y, unordered_lists))
            };
            let ok = if exp.len() != act.len() {
                false
            } else if ordered {
                exp.iter().zip(&act).all(|(a, b)| row_eq(a, b))
            } else {
                let mut used = vec![false; act.len()];
                exp.iter().all(|e| {
                    for (j, a) in act.iter().enumerate() {
                        if !used[j] && row_eq(e, a) {
                            used[j] = true;
                            return true;
                        }
                    }
                    false
                })
            };
            if !ok {
                let shown: Vec<String> = actual
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|v| v.to_string())
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
                    .collect();
                return Err(format!(
                    "rows differ; got:\n      {}",
                    shown.join("\n      ")
                ));
            }
            continue;
        }
        if l.contains("should be raised") {
            match result.take() {
                Some(Err(_)) => {}
                Some(Ok(r)) => return Err(format!("expected error {l}, got {:?}", r.1)),
                None => return Err("no result".into()),
            }
            i += 1;
            continue;
        }
        i += 1;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "/work/shared/tck/features".into());
    let filter = args.get(2).cloned();
    let mut files = Vec::new();
    fn walk(p: &Path, out: &mut Vec<std::path::PathBuf>) {
        if p.is_dir() {
            let mut es: Vec<_> = std::fs::read_dir(p)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect();
            es.sort();
            for e in es {
                walk(&e, out);
            }
        } else if p.extension().map(|e| e == "feature").unwrap_or(false) {
            out.push(p.to_path_buf());
        }
    }
    walk(Path::new(&dir), &mut files);
    let (mut pass, mut fail) = (0, 0);
    for f in files {
        if f.to_string_lossy().contains("temporal") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for sc in scenarios(&text) {
            if let Some(flt) = &filter {
                if !sc.name.contains(flt.as_str()) {
                    continue;
                }
            }
            let r = std::panic::catch_unwind(|| run_scenario(&sc));
            let fname = f.file_name().unwrap().to_string_lossy().to_string();
            match r {
                Ok(Ok(())) => pass += 1,
                Ok(Err(e)) => {
                    fail += 1;
                    println!("FAIL {fname} {}: {}", sc.name, e);
                }
                Err(_) => {
                    fail += 1;
                    println!("PANIC {fname} {}", sc.name);
                }
            }
        }
    }
    println!("{pass} passed, {fail} failed");
}
