//! Query planning and execution over a `TxGraph`.
//!
//! CONTRACT (the server and the TCK runner code against exactly this API):
//! * `execute` parses, checks, plans and runs one statement inside a
//!   transaction. Updating statements run eagerly into the `TxGraph`; read-only
//!   ones return a lazy row stream over an O(1) snapshot, so nothing borrows
//!   the transaction and huge results stream in bounded memory.
//! * `classify` tells, from the text alone and without a graph, whether a
//!   statement writes, so that the caller can take the write lock first.
//!
//! How it works:
//! * Parsed and checked statements are cached by query text (`cache`).
//! * Each clause becomes a stage over a stream of rows (`exec`). Reading
//!   stages are lazy iterators over an owned snapshot; MATCH streams one
//!   start candidate at a time, choosing the start node per pattern by
//!   selectivity (bound variable, node id, index seek/range/prefix, smallest
//!   label, all nodes; see `pattern`). Updating clauses drain their input
//!   and apply it to the transaction before the next stage is built, which
//!   gives Cypher's clause-at-a-time visibility (MERGE additionally sees the
//!   rows it created itself).
//! * Only sorting, grouping, DISTINCT and update buffers hold rows; each is
//!   bounded by `Limits::max_materialized_rows`, list values by
//!   `max_list_len`, and strings and value nesting by fixed caps, so a
//!   statement fails with `MemoryPoolOutOfMemory` (or an argument error)
//!   instead of exhausting the process.
//! * Statements nesting deeper than a small threshold run on a dedicated
//!   thread with a large stack, because evaluation recurses per level.
//! * Dates, times and durations are full values: they compare and sort
//!   chronologically, are stored as typed properties and leave the engine
//!   as the client model's temporal variants. Named time zones are not
//!   supported (no time-zone database): zone-id parameters must denote a
//!   fixed offset.
#![allow(clippy::type_complexity)]

mod aggregate;
mod apoc;
mod apoc_functions;
mod apoc_path;
mod apoc_periodic;
mod cache;
mod counts;
mod duration;
mod eval;
mod exec;
mod function_list;
mod functions;
mod introspect;
mod pattern;
mod plan;
mod procedures;
mod schema;
mod temporal;
mod val;
mod visit;
mod write;

#[cfg(test)]
mod path_tests;
#[cfg(test)]
mod point_tests;
#[cfg(test)]
mod tests;

use causeway_cypher::ast::{Clause, ExplainMode, Query, Statement, StatementKind};
use causeway_graph::TxGraph;
use causeway_value::{Counters, Map, QueryType, Result, Value};
use std::sync::Arc;

pub type RowStream = Box<dyn Iterator<Item = Result<Vec<Value>>> + Send>;

pub struct QueryResult {
    pub fields: Vec<String>,
    pub rows: RowStream,
    pub query_type: QueryType,
    /// Final once `execute` returns (updates are eager).
    pub counters: Counters,
    /// For EXPLAIN/PROFILE: the plan as Bolt's `plan`/`profile` map
    /// (`operatorType`, `identifiers`, `args`, `children`, ...).
    pub plan: Option<Map>,
}

/// What the server supplies for procedures and commands the graph alone can't
/// answer (`dbms.components()`, `SHOW DATABASES`, routing procedures...).
pub trait SystemCatalog: Send + Sync {
    /// The signature of a procedure this catalog provides, for compile-time
    /// checks (unknown procedure, argument count and types, YIELD names).
    fn procedure_signature(&self, name: &str) -> Option<ProcedureSignature>;
    /// `Some((columns, rows))` if this catalog knows the procedure.
    fn call_procedure(
        &self,
        name: &str,
        args: &[Value],
    ) -> Option<Result<(Vec<String>, Vec<Vec<Value>>)>>;
    /// `Some((columns, rows))` for SHOW commands other than INDEXES and
    /// CONSTRAINTS, which come from the graph.
    fn show(
        &self,
        kind: &causeway_cypher::ast::ShowKind,
    ) -> Option<Result<(Vec<String>, Vec<Vec<Value>>)>>;
}

/// Types are written as Cypher type names: `INTEGER?`, `STRING?`, `ANY?`,
/// `LIST? OF INTEGER?`, `NODE?`, ... (the `?` meaning nullable).
#[derive(Clone, Debug, PartialEq)]
pub struct ProcedureSignature {
    pub name: String,
    pub inputs: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
}

pub struct ExecContext<'a> {
    pub database: &'a str,
    pub catalog: Option<&'a dyn SystemCatalog>,
    /// Named limits: a statement exceeding them fails with
    /// `MemoryPoolOutOfMemory` instead of exhausting memory.
    pub limits: Limits,
    /// The statement's clock and random seed, when the caller must be able
    /// to run it again with the same ones (a transaction re-run at its
    /// commit point); otherwise the clock is read and randomness shared.
    pub inputs: Option<Inputs>,
}

/// What a statement draws from outside the graph and its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inputs {
    /// (days since epoch, nanoseconds of day, epoch millis)
    pub clock: (i64, i64, i64),
    pub seed: u64,
}

impl Inputs {
    /// The current time and a fresh seed.
    pub fn fresh() -> Self {
        Inputs {
            clock: temporal::now(),
            seed: functions::shared_random(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Rows a single operator may hold in memory (sort, aggregation,
    /// DISTINCT, eager write buffers).
    pub max_materialized_rows: usize,
    /// Elements in one list value (`range()`, `collect()`, ...).
    pub max_list_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_materialized_rows: 10_000_000,
            max_list_len: 10_000_000,
        }
    }
}

/// The procedures this crate implements itself (`db.labels()`, ...), for
/// listings such as `SHOW PROCEDURES`.
pub fn builtin_procedures() -> Vec<ProcedureSignature> {
    procedures::BUILTINS
        .iter()
        .filter_map(|b| procedures::builtin_signature(b.name))
        .collect()
}

/// A builtin procedure's description and mode (`READ` or `WRITE`).
pub fn builtin_procedure_info(name: &str) -> Option<(&'static str, &'static str)> {
    procedures::builtin(name).map(|b| (b.description, b.mode))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementClass {
    Read,
    Write,
    Schema,
    /// User, role and privilege management, which the server runs itself
    /// (the query engine refuses it).
    Admin,
}

/// What the server decides about a statement before running it, read once
/// from its parse (cached, so running it later parses nothing again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatementInfo {
    pub class: StatementClass,
    /// `PROFILE`: the result carries a plan with row counts.
    pub profile: bool,
    /// SHOW commands and read-only `CALL dbms.*` queries, which describe
    /// the member or cluster: the member a client talks to answers them as
    /// auto-commit queries instead of routing them to the leader.
    pub answered_here: bool,
    /// Holds `CALL { } IN TRANSACTIONS`, which runs only in an implicit
    /// transaction (the checker allows it only at the top of the query).
    pub inner_transactions: bool,
    /// The privilege action a schema command or a schema listing needs
    /// (`create_index`, `drop_constraint`, `show_index`, ...).
    pub schema_action: Option<&'static str>,
    /// `ALTER CURRENT USER SET PASSWORD`: the one statement a user whose
    /// password must change may run.
    pub changes_own_password: bool,
}

pub fn statement_info(query: &str) -> Result<StatementInfo> {
    let stmt = cache::statement(query)?;
    let (class, inner_transactions) = match &stmt.kind {
        StatementKind::Schema(_) => (StatementClass::Schema, false),
        StatementKind::Admin(_) => (StatementClass::Admin, false),
        StatementKind::Show(_) => (StatementClass::Read, false),
        StatementKind::Query(q) => (
            if exec::query_updates(q) {
                StatementClass::Write
            } else {
                StatementClass::Read
            },
            q.parts.iter().flat_map(|p| &p.clauses).any(|c| {
                matches!(
                    c,
                    Clause::CallSubquery {
                        in_transactions: Some(_),
                        ..
                    }
                )
            }),
        ),
    };
    let dbms_call = match &stmt.kind {
        StatementKind::Query(q) if q.parts.len() == 1 => matches!(
            q.parts[0].clauses.first(),
            Some(Clause::Call { procedure, .. })
                if procedure.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("dbms."))
        ),
        _ => false,
    };
    use causeway_cypher::ast::{AdminCommand, SchemaCommand as S, ShowKind};
    let schema_action = match &stmt.kind {
        StatementKind::Schema(
            S::CreateIndex { .. } | S::CreateFulltextIndex { .. } | S::CreateLookupIndex { .. },
        ) => Some("create_index"),
        StatementKind::Schema(S::DropIndex { .. } | S::DropIndexOn { .. }) => Some("drop_index"),
        StatementKind::Schema(S::CreateConstraint { .. }) => Some("create_constraint"),
        StatementKind::Schema(S::DropConstraint { .. } | S::DropConstraintOn { .. }) => {
            Some("drop_constraint")
        }
        StatementKind::Show(s) if s.kind == ShowKind::Indexes => Some("show_index"),
        StatementKind::Show(s) if s.kind == ShowKind::Constraints => Some("show_constraint"),
        _ => None,
    };
    Ok(StatementInfo {
        class,
        schema_action,
        changes_own_password: matches!(
            stmt.kind,
            StatementKind::Admin(AdminCommand::AlterCurrentUser { .. })
        ),
        profile: stmt.explain == Some(ExplainMode::Profile),
        answered_here: matches!(stmt.kind, StatementKind::Show(_))
            || (dbms_call && class == StatementClass::Read),
        inner_transactions,
    })
}

pub fn classify(query: &str) -> Result<StatementClass> {
    statement_info(query).map(|i| i.class)
}

/// Statements nesting deeper than this run on a dedicated thread with a
/// large stack: evaluation recurses once per level, and server threads have
/// small stacks.
const DEEP_STATEMENT: usize = 24;
const DEEP_STACK_BYTES: usize = 512 << 20;

pub fn execute(
    tx: &mut TxGraph,
    query: &str,
    params: &Map,
    ctx: &ExecContext<'_>,
) -> Result<QueryResult> {
    execute_until(tx, query, params, ctx, None)
}

/// `execute`, stopping with `TransactionTimedOut` once `deadline` passes
/// (checked while working, including while the returned rows are pulled).
pub fn execute_until(
    tx: &mut TxGraph,
    query: &str,
    params: &Map,
    ctx: &ExecContext<'_>,
    deadline: Option<tokio::time::Instant>,
) -> Result<QueryResult> {
    let stmt = cache::statement(query)?;
    let deep = match &stmt.kind {
        StatementKind::Query(q) => visit::query_depth(q) > DEEP_STATEMENT,
        StatementKind::Show(s) => {
            s.where_.as_ref().map(visit::expr_depth).unwrap_or(0) > DEEP_STATEMENT
                || visit::query_depth(&Query {
                    parts: vec![causeway_cypher::ast::SingleQuery {
                        clauses: s.then.clone(),
                    }],
                    union_all: Vec::new(),
                }) > DEEP_STATEMENT
        }
        StatementKind::Schema(_) | StatementKind::Admin(_) => false,
    };
    if !deep {
        return execute_statement(tx, &stmt, params, ctx, deadline);
    }
    // Everything, including pulling the rows, happens on the big stack.
    let limit = ctx.limits.max_materialized_rows;
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("causeway-deep-query".into())
            .stack_size(DEEP_STACK_BYTES)
            .spawn_scoped(s, || {
                let r = execute_statement(tx, &stmt, params, ctx, deadline)?;
                let mut rows = Vec::new();
                for row in r.rows {
                    let failed = row.is_err();
                    rows.push(row);
                    if failed {
                        break;
                    }
                    if rows.len() > limit {
                        return Err(exec::too_many_rows());
                    }
                }
                Ok(QueryResult {
                    fields: r.fields,
                    rows: Box::new(rows.into_iter()),
                    query_type: r.query_type,
                    counters: r.counters,
                    plan: r.plan,
                })
            });
        match handle {
            Ok(h) => h.join().unwrap_or_else(|_| {
                Err(causeway_value::Error::new(
                    causeway_value::Code::Unknown,
                    "The query could not be evaluated",
                ))
            }),
            Err(e) => Err(causeway_value::Error::new(
                causeway_value::Code::MemoryPoolOutOfMemory,
                format!("Could not start a thread for a deeply nested query: {e}"),
            )),
        }
    })
}

fn execute_statement(
    tx: &mut TxGraph,
    stmt: &Arc<Statement>,
    params: &Map,
    ctx: &ExecContext<'_>,
    deadline: Option<tokio::time::Instant>,
) -> Result<QueryResult> {
    let stmt = stmt.clone();
    val::check_params(params)?;
    let mut shared = eval::Shared::new(val::to_val_map(params), ctx.limits);
    if let Some(inputs) = ctx.inputs {
        shared.now = inputs.clock;
        shared.rng = Some(std::sync::atomic::AtomicU64::new(inputs.seed));
    }
    shared.deadline = deadline;
    shared.database = ctx.database.to_owned();
    let sh = Arc::new(shared);
    // Counters left over from earlier statements of the transaction are not
    // ours to report.
    let _ = tx.take_counters();
    match &stmt.kind {
        StatementKind::Admin(cmd) => Err(causeway_value::Error::new(
            causeway_value::Code::UnsupportedAdministrationCommand,
            format!("Unsupported administration command: {}", cmd.name()),
        )),
        StatementKind::Schema(cmd) => {
            if stmt.explain.is_some() {
                return Ok(QueryResult {
                    fields: Vec::new(),
                    rows: Box::new(std::iter::empty()),
                    query_type: QueryType::Schema,
                    counters: Counters::default(),
                    plan: Some(plan::leaf("CreateIndex", &[])),
                });
            }
            schema::run(tx, cmd, &sh)?;
            Ok(QueryResult {
                fields: Vec::new(),
                rows: Box::new(std::iter::empty()),
                query_type: QueryType::Schema,
                counters: tx.take_counters(),
                plan: None,
            })
        }
        StatementKind::Show(cmd) => {
            let mut runner = exec::Runner {
                tx: Some(tx),
                base: None,
                sh: sh.clone(),
                catalog: ctx.catalog,
                profile: None,
            };
            let (rows, fields) = procedures::run_show(&mut runner, cmd)?;
            let rows = exec::collect_rows(rows, ctx.limits.max_materialized_rows)?;
            let g = tx.snapshot();
            let out: Vec<Result<Vec<Value>>> = rows
                .into_iter()
                .map(|r| Ok(output_row(&g, &fields, &r)))
                .collect();
            Ok(QueryResult {
                fields,
                rows: Box::new(out.into_iter()),
                query_type: QueryType::Read,
                counters: Counters::default(),
                plan: None,
            })
        }
        StatementKind::Query(q) => run_query(tx, &stmt, q, sh, ctx),
    }
}

fn output_row(g: &causeway_graph::Graph, fields: &[String], r: &val::Row) -> Vec<Value> {
    fields
        .iter()
        .map(|f| r.get(f).map(|v| v.to_value(g)).unwrap_or(Value::Null))
        .collect()
}

fn run_query(
    tx: &mut TxGraph,
    stmt: &Statement,
    q: &Query,
    sh: Arc<eval::Shared>,
    ctx: &ExecContext<'_>,
) -> Result<QueryResult> {
    procedures::precheck(q, ctx.catalog)?;
    let updates = exec::query_updates(q);
    let ends_with_return = q
        .parts
        .last()
        .and_then(|p| p.clauses.last())
        .map(|c| matches!(c, Clause::Return(_)))
        .unwrap_or(false);
    let query_type = if updates {
        if ends_with_return {
            QueryType::ReadWrite
        } else {
            QueryType::Write
        }
    } else {
        QueryType::Read
    };
    if stmt.explain == Some(ExplainMode::Explain) {
        let g = tx.snapshot();
        let pctx = eval::Ctx {
            g: &g,
            sh: &sh,
            aggs: None,
            joins: None,
        };
        let fields = plan::fields(q);
        return Ok(QueryResult {
            fields,
            rows: Box::new(std::iter::empty()),
            query_type,
            counters: Counters::default(),
            plan: Some(plan::describe(&pctx, q, None)),
        });
    }
    procedures::check_params(q, &sh.params)?;
    let mut runner = exec::Runner {
        tx: Some(&mut *tx),
        base: None,
        sh: sh.clone(),
        catalog: ctx.catalog,
        profile: if stmt.explain == Some(ExplainMode::Profile) {
            Some(std::collections::HashMap::new())
        } else {
            None
        },
    };
    let out = runner.run_query(q, vec![val::Row::default()], &[])?;
    let counts = runner.profile.take();
    let fields = out.fields;
    // A query that does not end in RETURN (or a yielding CALL) produces no
    // records, but its stream must still be drained for its effects.
    let out_rows: exec::RowIter = if fields.is_empty() {
        let drained = exec::collect_rows(out.rows, ctx.limits.max_materialized_rows);
        Box::new(drained.err().map(Err).into_iter())
    } else {
        out.rows
    };
    let profile = stmt.explain == Some(ExplainMode::Profile);
    if updates || profile {
        let rows = exec::collect_rows(out_rows, ctx.limits.max_materialized_rows)?;
        tx.validate()?;
        let g = tx.snapshot();
        let out_rows: Vec<Result<Vec<Value>>> = rows
            .iter()
            .map(|r| Ok(output_row(&g, &fields, r)))
            .collect();
        let plan = if profile {
            let pctx = eval::Ctx {
                g: &g,
                sh: &sh,
                aggs: None,
                joins: None,
            };
            let counts: std::collections::HashMap<usize, usize> = counts
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.load(std::sync::atomic::Ordering::Relaxed)))
                .collect();
            Some(plan::describe(&pctx, q, Some((rows.len(), &counts))))
        } else {
            None
        };
        return Ok(QueryResult {
            fields,
            rows: Box::new(out_rows.into_iter()),
            query_type,
            counters: tx.take_counters(),
            plan,
        });
    }
    let g = tx.snapshot();
    let names = fields.clone();
    let fused = exec::Fuse {
        inner: out_rows,
        done: false,
    };
    let rows = fused.map(move |r| r.map(|row| output_row(&g, &names, &row)));
    Ok(QueryResult {
        fields,
        rows: Box::new(rows),
        query_type,
        counters: tx.take_counters(),
        plan: None,
    })
}
