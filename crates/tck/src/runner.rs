//! Runs one expanded scenario in-process against the engine.

use crate::compare::{matches, rows_match};
use crate::gherkin::{Scenario, Step};
use crate::tckvalue::{self, TckValue};
use causeway_exec::{ExecContext, Limits, ProcedureSignature, SystemCatalog};
use causeway_graph::{Graph, TxGraph};
use causeway_value::{Code, Error, Map, Phase, Result, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// Results beyond this many rows mean a runaway query, not a TCK answer.
const MAX_ROWS: usize = 1_000_000;

pub struct Outcome {
    pub passed: bool,
    pub reason: String,
    /// Query, expected and actual values, for `--verbose`.
    pub details: String,
    /// An error expectation was accepted on code and phase alone because
    /// the engine gave no detail.
    pub lenient: bool,
}

#[derive(Default)]
pub struct TckCatalog {
    procs: BTreeMap<String, Procedure>,
}

struct Procedure {
    sig: ProcedureSignature,
    /// Column name -> index in each row, as the step's table header gives.
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl SystemCatalog for TckCatalog {
    fn procedure_signature(&self, name: &str) -> Option<ProcedureSignature> {
        self.procs.get(name).map(|p| p.sig.clone())
    }

    fn call_procedure(
        &self,
        name: &str,
        args: &[Value],
    ) -> Option<Result<(Vec<String>, Vec<Vec<Value>>)>> {
        let p = self.procs.get(name)?;
        if args.len() != p.sig.inputs.len() {
            return Some(Err(Error::runtime(
                Code::ProcedureCallFailed,
                "InvalidNumberOfArguments",
                format!("{name} takes {} arguments", p.sig.inputs.len()),
            )));
        }
        let col = |n: &str| p.columns.iter().position(|c| c == n);
        let in_cols: Vec<Option<usize>> = p.sig.inputs.iter().map(|(n, _)| col(n)).collect();
        let out_cols: Vec<Option<usize>> = p.sig.outputs.iter().map(|(n, _)| col(n)).collect();
        // The TCK's fake procedures are tables: a call yields the rows whose
        // input columns equal the arguments (numerically, so that an integer
        // argument finds a FLOAT input's `42.0`).
        let rows = p
            .rows
            .iter()
            .filter(|row| {
                in_cols.iter().zip(args).all(|(c, a)| match c {
                    Some(c) => loosely_equal(&row[*c], a),
                    None => true,
                })
            })
            .map(|row| {
                out_cols
                    .iter()
                    .map(|c| c.map_or(Value::Null, |c| row[c].clone()))
                    .collect()
            })
            .collect();
        let names = p.sig.outputs.iter().map(|(n, _)| n.clone()).collect();
        Some(Ok((names, rows)))
    }

    fn show(
        &self,
        _kind: &causeway_cypher::ast::ShowKind,
    ) -> Option<Result<(Vec<String>, Vec<Vec<Value>>)>> {
        None
    }
}

fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => (*x as f64) == *y,
        _ => a == b,
    }
}

/// `name(a :: T, ...) :: (x :: T, ...)`, with an optional trailing colon.
pub fn parse_signature(text: &str) -> std::result::Result<ProcedureSignature, String> {
    let text = text.trim().trim_end_matches(':').trim();
    let open = text.find('(').ok_or("no argument list")?;
    let name = text[..open].trim().to_owned();
    let close = text[open..].find(')').ok_or("unclosed argument list")? + open;
    let inputs = parse_fields(&text[open + 1..close])?;
    let rest = text[close + 1..].trim();
    let rest = rest.strip_prefix("::").ok_or("no output list")?.trim();
    let rest = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or("malformed output list")?;
    let outputs = parse_fields(rest)?;
    Ok(ProcedureSignature {
        name,
        inputs,
        outputs,
    })
}

fn parse_fields(s: &str) -> std::result::Result<Vec<(String, String)>, String> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|f| {
            let (n, t) = f
                .split_once("::")
                .ok_or_else(|| format!("bad field {f:?}"))?;
            Ok((n.trim().to_owned(), t.trim().to_owned()))
        })
        .collect()
}

/// What the graph holds, in the terms the TCK counts side effects in.
#[derive(Default)]
struct GraphState {
    nodes: BTreeSet<u64>,
    rels: BTreeSet<u64>,
    /// Distinct label names in use: the TCK counts `+labels` as label names
    /// that appear, not as (node, label) pairs (a CREATE of five `:N` nodes
    /// into an empty graph is `+labels 1`).
    labels: BTreeSet<String>,
    /// (is relationship, entity id, key, rendered value); a changed value is
    /// one removal and one addition, as the TCK counts it.
    props: BTreeSet<(bool, u64, String, String)>,
}

fn render(v: &Value) -> String {
    // The type name keeps 1 and 1.0 (and '1') distinct.
    format!("{}:{v}", v.type_name())
}

impl GraphState {
    fn of(g: &Graph) -> GraphState {
        let mut s = GraphState::default();
        for n in g.all_nodes() {
            s.nodes.insert(n);
            for l in g.node_labels(n).unwrap_or_default() {
                s.labels.insert(l.to_owned());
            }
            for (k, v) in g.node_props(n).unwrap_or_default() {
                s.props.insert((false, n, k, render(&v)));
            }
        }
        for r in g.all_rels() {
            s.rels.insert(r);
            for (k, v) in g.rel_props(r).unwrap_or_default() {
                s.props.insert((true, r, k, render(&v)));
            }
        }
        s
    }
}

pub type SideEffects = BTreeMap<&'static str, usize>;

pub const SIDE_EFFECT_KEYS: [&str; 8] = [
    "+nodes",
    "-nodes",
    "+relationships",
    "-relationships",
    "+labels",
    "-labels",
    "+properties",
    "-properties",
];

fn diff(before: &GraphState, after: &GraphState) -> SideEffects {
    fn count<T: Ord>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> usize {
        a.difference(b).count()
    }
    let mut m = SideEffects::new();
    let vals = [
        count(&after.nodes, &before.nodes),
        count(&before.nodes, &after.nodes),
        count(&after.rels, &before.rels),
        count(&before.rels, &after.rels),
        count(&after.labels, &before.labels),
        count(&before.labels, &after.labels),
        count(&after.props, &before.props),
        count(&before.props, &after.props),
    ];
    for (k, v) in SIDE_EFFECT_KEYS.iter().zip(vals) {
        m.insert(*k, v);
    }
    m
}

struct QueryRun {
    fields: Vec<String>,
    rows: Vec<Vec<Value>>,
    /// The error and whether it was raised at compile time.
    error: Option<(Error, bool)>,
}

struct State<'a> {
    graphs_dir: &'a Path,
    graph: Graph,
    params: Map,
    catalog: TckCatalog,
    last: Option<QueryRun>,
    side_effects: Option<SideEffects>,
    lenient: bool,
    log: String,
}

fn context(catalog: &TckCatalog) -> ExecContext<'_> {
    ExecContext {
        database: "neo4j",
        catalog: Some(catalog),
        limits: Limits {
            max_materialized_rows: MAX_ROWS,
            max_list_len: MAX_ROWS,
        },
        inputs: None,
    }
}

/// Runs `query` in its own transaction over `graph`; the new graph state is
/// returned only if the query succeeded.
fn run_query(
    graph: &Graph,
    query: &str,
    params: &Map,
    catalog: &TckCatalog,
) -> (QueryRun, Option<Graph>) {
    let mut tx = TxGraph::new(graph.clone());
    let ctx = context(catalog);
    let mut run = QueryRun {
        fields: Vec::new(),
        rows: Vec::new(),
        error: None,
    };
    let result = match causeway_exec::execute(&mut tx, query, params, &ctx) {
        Ok(r) => r,
        Err(e) => {
            let compile = e.phase == Phase::Compile;
            run.error = Some((e, compile));
            return (run, None);
        }
    };
    run.fields = result.fields;
    for row in result.rows {
        match row {
            Ok(r) => run.rows.push(r),
            Err(e) => {
                run.error = Some((e, false));
                return (run, None);
            }
        }
        if run.rows.len() > MAX_ROWS {
            run.error = Some((
                Error::new(
                    Code::Unknown,
                    format!("TCK runner: more than {MAX_ROWS} rows"),
                ),
                false,
            ));
            return (run, None);
        }
    }
    if let Err(e) = tx.validate() {
        run.error = Some((e, false));
        return (run, None);
    }
    let (g, _) = tx.finish();
    (run, Some(g))
}

fn fmt_error(e: &Error, compile: bool) -> String {
    format!(
        "{} at {} ({}): {}",
        e.code.as_str(),
        if compile { "compile time" } else { "runtime" },
        e.detail.unwrap_or("no detail"),
        e.message
    )
}

fn fmt_rows(fields: &[String], rows: &[Vec<Value>]) -> String {
    let mut s = format!("    | {} |\n", fields.join(" | "));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(s, "    | {} |", cells.join(" | "));
    }
    s
}

fn fmt_expected(header: &[String], rows: &[Vec<TckValue>]) -> String {
    let mut s = format!("    | {} |\n", header.join(" | "));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(s, "    | {} |", cells.join(" | "));
    }
    s
}

pub fn run_scenario(scenario: &Scenario, graphs_dir: &Path) -> Outcome {
    let mut st = State {
        graphs_dir,
        graph: Graph::new(),
        params: Map::new(),
        catalog: TckCatalog::default(),
        last: None,
        side_effects: None,
        lenient: false,
        log: String::new(),
    };
    for step in &scenario.steps {
        if let Err(reason) = st.step(step) {
            return Outcome {
                passed: false,
                reason: format!("line {}: {reason}", step.line),
                details: st.log,
                lenient: false,
            };
        }
    }
    Outcome {
        passed: true,
        reason: String::new(),
        details: st.log,
        lenient: st.lenient,
    }
}

impl State<'_> {
    fn step(&mut self, step: &Step) -> std::result::Result<(), String> {
        let text = step.text.as_str();
        let doc = || {
            step.doc
                .as_deref()
                .ok_or_else(|| "step needs a doc string".to_owned())
        };
        let table = || {
            step.table
                .as_ref()
                .ok_or_else(|| "step needs a table".to_owned())
        };
        if text == "an empty graph" || text == "any graph" {
            self.graph = Graph::new();
            return Ok(());
        }
        if let Some(name) = text
            .strip_prefix("the ")
            .and_then(|t| t.strip_suffix(" graph"))
        {
            let path = self.graphs_dir.join(name).join(format!("{name}.cypher"));
            let q = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            for stmt in split_statements(&q) {
                self.setup_query(stmt, &format!("graph {name}"))?;
            }
            return Ok(());
        }
        if text == "having executed:" {
            return self.setup_query(doc()?, "having executed");
        }
        if text == "parameters are:" {
            for row in table()? {
                let [name, value] = row.as_slice() else {
                    return Err(format!("parameter row needs 2 cells: {row:?}"));
                };
                let v = tckvalue::parse(value)
                    .and_then(|v| v.to_value())
                    .map_err(|e| format!("bad parameter {name}: {e}"))?;
                self.params.insert(name.clone(), v);
            }
            return Ok(());
        }
        if let Some(sig) = text.strip_prefix("there exists a procedure ") {
            return self.add_procedure(sig, table()?);
        }
        if text == "executing query:" || text == "executing control query:" {
            let q = doc()?;
            let _ = writeln!(self.log, "  query:\n{}", indent(q));
            let before = GraphState::of(&self.graph);
            let (run, new_graph) = run_query(&self.graph, q, &self.params, &self.catalog);
            if let Some(g) = new_graph {
                let after = GraphState::of(&g);
                self.side_effects = Some(diff(&before, &after));
                self.graph = g;
            } else {
                self.side_effects = Some(diff(&before, &before));
            }
            match &run.error {
                Some((e, c)) => {
                    let _ = writeln!(self.log, "  actual error: {}", fmt_error(e, *c));
                }
                None => {
                    let _ = write!(self.log, "  actual:\n{}", fmt_rows(&run.fields, &run.rows));
                }
            }
            self.last = Some(run);
            return Ok(());
        }
        if let Some(mode) = text.strip_prefix("the result should be") {
            return self.check_result(mode.trim(), step.table.as_ref());
        }
        if text == "no side effects" {
            return self.check_side_effects(&[]);
        }
        if text == "the side effects should be:" {
            return self.check_side_effects(table()?);
        }
        if let Some((kind, phase, detail)) = parse_error_step(text) {
            return self.check_error(kind, phase, detail);
        }
        Err(format!("unsupported step: {} {}", step.keyword, text))
    }

    fn setup_query(&mut self, q: &str, what: &str) -> std::result::Result<(), String> {
        let (run, g) = run_query(&self.graph, q, &self.params, &self.catalog);
        match (run.error, g) {
            (Some((e, c)), _) => Err(format!("{what} failed: {}", fmt_error(&e, c))),
            (None, Some(g)) => {
                self.graph = g;
                Ok(())
            }
            (None, None) => Err(format!("{what}: no graph")),
        }
    }

    fn add_procedure(
        &mut self,
        sig: &str,
        table: &[Vec<String>],
    ) -> std::result::Result<(), String> {
        let sig = parse_signature(sig).map_err(|e| format!("bad procedure signature: {e}"))?;
        let mut rows = table.iter();
        let columns = rows.next().cloned().unwrap_or_default();
        let rows = rows
            .map(|r| {
                r.iter()
                    .map(|c| tckvalue::parse(c).and_then(|v| v.to_value()))
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| format!("bad procedure row: {e}"))?;
        if rows.iter().any(|r| r.len() != columns.len()) {
            return Err("procedure rows and header differ in width".to_owned());
        }
        self.catalog
            .procs
            .insert(sig.name.clone(), Procedure { sig, columns, rows });
        Ok(())
    }

    fn last_ok(&self) -> std::result::Result<&QueryRun, String> {
        let run = self.last.as_ref().ok_or("no query was executed")?;
        if let Some((e, c)) = &run.error {
            return Err(format!("query failed: {}", fmt_error(e, *c)));
        }
        Ok(run)
    }

    fn check_result(
        &mut self,
        mode: &str,
        table: Option<&Vec<Vec<String>>>,
    ) -> std::result::Result<(), String> {
        let (ordered, unordered_lists) = match mode {
            "empty" => {
                let _ = writeln!(self.log, "  expected: empty");
                let run = self.last_ok()?;
                if run.rows.is_empty() {
                    return Ok(());
                }
                return Err(format!("expected no rows, got {}", run.rows.len()));
            }
            ", in any order:" => (false, false),
            ", in order:" => (true, false),
            "(ignoring element order for lists):"
            | ", in any order (ignoring element order for lists):" => (false, true),
            ", in order (ignoring element order for lists):" => (true, true),
            other => return Err(format!("unsupported result mode: {other:?}")),
        };
        let table = table.ok_or("result step needs a table")?;
        let header = table.first().cloned().unwrap_or_default();
        let expected = table[1..]
            .iter()
            .map(|r| {
                r.iter()
                    .map(|c| tckvalue::parse(c))
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| format!("runner cannot parse expected value: {e}"))?;
        let _ = write!(
            self.log,
            "  expected:\n{}",
            fmt_expected(&header, &expected)
        );
        let run = self.last_ok()?;
        if run.fields != header {
            return Err(format!("columns {:?}, expected {:?}", run.fields, header));
        }
        if rows_match(&run.rows, &expected, ordered, unordered_lists) {
            return Ok(());
        }
        if run.rows.len() != expected.len() {
            return Err(format!(
                "{} rows, expected {}",
                run.rows.len(),
                expected.len()
            ));
        }
        if ordered && rows_match(&run.rows, &expected, false, unordered_lists) {
            return Err("right rows in the wrong order".to_owned());
        }
        // Name one expected row that has no counterpart, to make the reason useful.
        let missing = expected.iter().find(|e| {
            !run.rows.iter().any(|a| {
                a.len() == e.len()
                    && a.iter()
                        .zip(e.iter())
                        .all(|(x, y)| matches(x, y, unordered_lists))
            })
        });
        Err(match missing {
            Some(m) => {
                let cells: Vec<String> = m.iter().map(|v| v.to_string()).collect();
                format!("result differs; e.g. no row | {} |", cells.join(" | "))
            }
            None => "result differs in row multiplicity".to_owned(),
        })
    }

    fn check_side_effects(&mut self, table: &[Vec<String>]) -> std::result::Result<(), String> {
        let mut expected: SideEffects = SIDE_EFFECT_KEYS.iter().map(|k| (*k, 0)).collect();
        for row in table {
            let [k, v] = row.as_slice() else {
                return Err(format!("side effect row needs 2 cells: {row:?}"));
            };
            let key = SIDE_EFFECT_KEYS
                .iter()
                .find(|x| **x == k.as_str())
                .ok_or_else(|| format!("unknown side effect {k}"))?;
            let n = v
                .parse()
                .map_err(|_| format!("bad side effect count {v}"))?;
            expected.insert(key, n);
        }
        let actual = self.side_effects.clone().ok_or("no query was executed")?;
        if actual == expected {
            return Ok(());
        }
        let show = |m: &SideEffects| {
            m.iter()
                .filter(|(_, v)| **v != 0)
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            self.log,
            "  side effects: {} (expected {})",
            show(&actual),
            show(&expected)
        );
        Err(format!(
            "side effects [{}], expected [{}]",
            show(&actual),
            show(&expected)
        ))
    }

    fn check_error(
        &mut self,
        kind: &str,
        phase: &str,
        detail: &str,
    ) -> std::result::Result<(), String> {
        let _ = writeln!(self.log, "  expected error: {kind} at {phase}: {detail}");
        let run = self.last.as_ref().ok_or("no query was executed")?;
        let Some((e, compile)) = &run.error else {
            return Err(format!(
                "expected {kind} at {phase}: {detail}, but the query succeeded"
            ));
        };
        let got = fmt_error(e, *compile);
        let codes: &[Code] = match kind {
            "Error" => &[],
            "SyntaxError" => &[Code::SyntaxError],
            "SemanticError" => &[Code::SemanticError],
            "TypeError" => &[Code::TypeError],
            "ArgumentError" => &[Code::ArgumentError],
            "ArithmeticError" => &[Code::ArithmeticError],
            "EntityNotFound" => &[Code::EntityNotFound],
            "ParameterMissing" => &[Code::ParameterMissing],
            "ConstraintVerificationFailed" | "ConstraintValidationFailed" => {
                &[Code::ConstraintValidationFailed]
            }
            "ProcedureError" => &[Code::ProcedureNotFound, Code::ProcedureCallFailed],
            other => return Err(format!("unknown error type {other}")),
        };
        if !codes.is_empty() && !codes.contains(&e.code) {
            return Err(format!("expected {kind}, got {got}"));
        }
        let phase_ok = match phase {
            "compile time" => *compile,
            "runtime" => !*compile,
            "any time" => true,
            other => return Err(format!("unknown phase {other}")),
        };
        if !phase_ok {
            return Err(format!("expected {kind} at {phase}, got {got}"));
        }
        if detail != "*" {
            match e.detail {
                Some(d) if d == detail => {}
                Some(_) => return Err(format!("expected detail {detail}, got {got}")),
                // Lenient by design: until the engine names every detail, a
                // right code at the right time counts; the summary reports
                // how often that happened.
                None => self.lenient = true,
            }
        }
        Ok(())
    }
}

/// Splits a script at `;` outside quotes and comments: the graph scripts end
/// their statements that way, which a single-statement `execute` rejects.
pub fn split_statements(script: &str) -> Vec<&str> {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'/' if b.get(i + 1) == Some(&b'/') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                b';' => {
                    out.push(&script[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    out.push(&script[start..]);
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// `a TypeError should be raised at runtime: InvalidArgumentValue`.
pub fn parse_error_step(text: &str) -> Option<(&str, &str, &str)> {
    let rest = text
        .strip_prefix("an ")
        .or_else(|| text.strip_prefix("a "))?;
    let (kind, rest) = rest.split_once(" should be raised at ")?;
    let (phase, detail) = rest.split_once(':')?;
    Some((kind.trim(), phase.trim(), detail.trim()))
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let s = parse_signature(
            "test.my.proc(name :: STRING?, id :: INTEGER?) :: (city :: STRING?, country_code :: INTEGER?):",
        )
        .unwrap();
        assert_eq!(s.name, "test.my.proc");
        assert_eq!(s.inputs[1], ("id".to_owned(), "INTEGER?".to_owned()));
        assert_eq!(s.outputs.len(), 2);
        let s = parse_signature("test.doNothing() :: ():").unwrap();
        assert!(s.inputs.is_empty() && s.outputs.is_empty());
        let s = parse_signature("test.my.proc(in :: INTEGER?) :: (a :: INTEGER?, b :: INTEGER?) :")
            .unwrap();
        assert_eq!(s.outputs[1].0, "b");
        assert!(parse_signature("nope").is_err());
    }

    #[test]
    fn procedure_rows_filter_on_inputs() {
        let mut st = TckCatalog::default();
        let sig = parse_signature("p(name :: STRING?, in :: FLOAT?) :: (out :: STRING?)").unwrap();
        st.procs.insert(
            "p".into(),
            Procedure {
                sig,
                columns: vec!["out".into(), "name".into(), "in".into()],
                rows: vec![
                    vec![Value::from("a"), Value::from("x"), Value::Float(42.0)],
                    vec![Value::from("b"), Value::from("x"), Value::Float(1.5)],
                ],
            },
        );
        let (cols, rows) = st
            .call_procedure("p", &[Value::from("x"), Value::Int(42)])
            .unwrap()
            .unwrap();
        assert_eq!(cols, vec!["out"]);
        assert_eq!(rows, vec![vec![Value::from("a")]]);
        assert!(st.call_procedure("q", &[]).is_none());
        assert!(st.call_procedure("p", &[]).unwrap().is_err());
        assert!(st.procedure_signature("p").is_some());
    }

    #[test]
    fn statements_split_outside_strings() {
        assert_eq!(
            split_statements("CREATE (:A {s: ';'});\n// x;y\nCREATE ();\n"),
            vec!["CREATE (:A {s: ';'})", "\n// x;y\nCREATE ()"]
        );
        assert_eq!(split_statements("RETURN 1"), vec!["RETURN 1"]);
    }

    #[test]
    fn error_steps() {
        assert_eq!(
            parse_error_step("a SyntaxError should be raised at compile time: UndefinedVariable"),
            Some(("SyntaxError", "compile time", "UndefinedVariable"))
        );
        assert_eq!(
            parse_error_step("an Error should be raised at any time: *"),
            Some(("Error", "any time", "*"))
        );
        assert_eq!(parse_error_step("the result should be empty"), None);
    }

    #[test]
    fn side_effects_over_a_real_graph() {
        let labels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let props = |k: &str, v: Value| Map::from([(k.to_owned(), v)]);
        let mut tx = TxGraph::new(Graph::new());
        let a = tx
            .create_node(&labels(&["N"]), props("num", Value::Int(1)))
            .unwrap();
        let b = tx.create_node(&labels(&["N"]), Map::new()).unwrap();
        tx.create_rel(a, b, "R", props("w", Value::Int(2))).unwrap();
        let g0 = tx.finish().0;
        let before = GraphState::of(&g0);
        let d = diff(&GraphState::default(), &before);
        assert_eq!(
            (
                d["+nodes"],
                d["+relationships"],
                d["+labels"],
                d["+properties"]
            ),
            (2, 1, 1, 2)
        );

        let mut tx = TxGraph::new(g0);
        tx.set_node_prop(a, "num", Value::Int(3)).unwrap();
        tx.remove_label(b, "N").unwrap();
        tx.add_label(b, "M").unwrap();
        tx.delete_node(b, true).unwrap();
        let d = diff(&before, &GraphState::of(&tx.finish().0));
        assert_eq!(d["-nodes"], 1);
        assert_eq!(d["-relationships"], 1);
        // `N` is still on `a`, and `M` came and went with `b`.
        assert_eq!((d["+labels"], d["-labels"]), (0, 0));
        // num 1 -> 3 is one of each; the relationship's `w` went with it.
        assert_eq!((d["+properties"], d["-properties"]), (1, 2));
    }

    #[test]
    fn side_effect_diff_counts_label_names_and_property_triples() {
        let mut before = GraphState::default();
        before.nodes.insert(1);
        before.labels.insert("A".into());
        before
            .props
            .insert((false, 1, "k".into(), render(&Value::Int(1))));
        let mut after = GraphState::default();
        after.nodes.extend([1, 2]);
        after.labels.extend(["A".to_owned(), "B".to_owned()]);
        after
            .props
            .insert((false, 1, "k".into(), render(&Value::Float(1.0))));
        after
            .props
            .insert((false, 2, "k".into(), render(&Value::Int(1))));
        let d = diff(&before, &after);
        assert_eq!(d["+nodes"], 1);
        assert_eq!(d["-nodes"], 0);
        assert_eq!(d["+labels"], 1);
        assert_eq!(d["+properties"], 2);
        assert_eq!(d["-properties"], 1);
    }
}

#[cfg(test)]
mod corpus_tests {
    use crate::gherkin;
    use crate::tckvalue;

    /// Every value cell in the shared TCK copy must parse; skipped when the
    /// corpus is not checked out beside the workspace.
    #[test]
    fn every_value_cell_in_the_corpus_parses() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tck/features");
        if !dir.is_dir() {
            return;
        }
        let mut stack = vec![dir];
        let mut cells = 0;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p.extension().is_none_or(|x| x != "feature") {
                    continue;
                }
                let f = gherkin::parse(&std::fs::read_to_string(&p).unwrap()).unwrap();
                for s in &f.scenarios {
                    for st in &s.steps {
                        let Some(t) = &st.table else { continue };
                        let values: Vec<&String> = if st.text.starts_with("the result should be")
                            || st.text.starts_with("there exists a procedure")
                        {
                            t.iter().skip(1).flatten().collect()
                        } else if st.text == "parameters are:" {
                            t.iter().filter_map(|r| r.get(1)).collect()
                        } else {
                            continue;
                        };
                        for c in values {
                            cells += 1;
                            if let Err(e) = tckvalue::parse(c) {
                                panic!("{}: {} line {}: {c:?}: {e}", p.display(), s.name, st.line);
                            }
                        }
                    }
                }
            }
        }
        assert!(cells > 1000);
    }
}
