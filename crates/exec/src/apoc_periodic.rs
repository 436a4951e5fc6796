//! APOC procedures that run Cypher of their own or hold the statement:
//! `apoc.periodic.iterate` and `apoc.util.sleep`.
//!
//! `apoc.periodic.iterate` runs its iterate query, then its action over
//! batches of the rows. APOC commits each batch in a transaction of its own;
//! here a batch ends at a savepoint of the calling transaction, as the
//! batches of `CALL { } IN TRANSACTIONS` do (docs/decisions/0017): a batch
//! that fails is rolled back and counted, the others stay, and they commit
//! with the statement.

use crate::eval::Shared;
use crate::exec::{collect_rows, Runner};
use crate::val::{Row, Val, ValMap};
use causeway_cypher::ast::StatementKind;
use causeway_value::{Code, Counters, Error, Map, Result, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ITERATE: &str = "apoc.periodic.iterate";
/// APOC's default `batchSize`.
const DEFAULT_BATCH_SIZE: i64 = 10_000;
/// How often a sleeping statement looks at its deadline.
const SLEEP_SLICE: Duration = Duration::from_millis(20);

fn failed(why: impl std::fmt::Display) -> Error {
    Error::new(
        Code::ProcedureCallFailed,
        format!("Failed to invoke procedure `{ITERATE}`: Caused by: {why}"),
    )
}

/// Runs `text` inside the runner's transaction with its own parameters;
/// returns its columns and rows.
fn run_text(runner: &mut Runner, text: &str, params: ValMap) -> Result<(Vec<String>, Vec<Row>)> {
    let stmt = crate::cache::statement(text)?;
    let StatementKind::Query(q) = &stmt.kind else {
        return Err(failed(
            "only queries can be iterated over or run as the action",
        ));
    };
    crate::procedures::precheck(q, runner.catalog)?;
    if crate::statement_info(text)?.inner_transactions {
        return Err(failed(
            "its statements cannot hold CALL { ... } IN TRANSACTIONS: its batches already are \
             inner transactions",
        ));
    }
    let mut sh = Shared::new(params, runner.sh.limits);
    sh.deadline = runner.sh.deadline;
    // Same clock, and a sequence drawn from the statement's, so a re-run
    // of the calling statement draws the same values.
    sh.now = runner.sh.now;
    if runner.sh.rng.is_some() {
        sh.rng = Some(std::sync::atomic::AtomicU64::new(runner.sh.random()));
    }
    sh.database = runner.sh.database.clone();
    let limit = runner.sh.limits.max_materialized_rows;
    let mut inner = Runner {
        tx: runner.tx.as_deref_mut(),
        base: runner.base.clone(),
        sh: Arc::new(sh),
        catalog: runner.catalog,
        profile: None,
    };
    let out = inner.run_query(q, vec![Row::default()], &[])?;
    let fields = out.fields;
    Ok((fields, collect_rows(out.rows, limit)?))
}

/// The rest of APOC's config: whether the action runs once per batch
/// (`batchMode: 'BATCH_SINGLE'`) and how often a failed batch is retried.
/// `parallel` and `concurrency` are accepted: the batches of one statement
/// run one after another, which is one of the schedules parallel batches
/// may take. What would change the outcome and is not built (`batchMode:
/// 'SINGLE'`, `iterateList: false`, `failedParams`) is refused.
fn modes(config: &Map) -> Result<(bool, u32)> {
    let mut per_batch = false;
    match config.get("batchMode") {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) if m.eq_ignore_ascii_case("BATCH") => {}
        Some(Value::String(m)) if m.eq_ignore_ascii_case("BATCH_SINGLE") => per_batch = true,
        Some(Value::String(m)) if m.eq_ignore_ascii_case("SINGLE") => {
            return Err(failed(
                "batchMode 'SINGLE' (a transaction per row) is not supported by Causeway; use \
                 'BATCH' or 'BATCH_SINGLE'",
            ))
        }
        Some(other) => {
            return Err(failed(format!(
                "batchMode must be 'BATCH', 'BATCH_SINGLE' or 'SINGLE', not {other}"
            )))
        }
    }
    match config.get("iterateList") {
        None | Some(Value::Null) | Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            return Err(failed(
                "iterateList: false (a transaction per row) is not supported by Causeway",
            ))
        }
        Some(other) => {
            return Err(failed(format!(
                "iterateList must be a boolean, not {other}"
            )))
        }
    }
    match config.get("parallel") {
        None | Some(Value::Null) | Some(Value::Bool(_)) => {}
        Some(other) => return Err(failed(format!("parallel must be a boolean, not {other}"))),
    }
    match config.get("concurrency") {
        None | Some(Value::Null) => {}
        Some(Value::Int(n)) if *n > 0 => {}
        Some(other) => {
            return Err(failed(format!(
                "concurrency must be a positive integer, not {other}"
            )))
        }
    }
    match config.get("failedParams") {
        None | Some(Value::Null) => {}
        Some(Value::Int(n)) if *n < 0 => {}
        Some(_) => {
            return Err(failed(
                "failedParams (the parameters of failed batches) is not supported by Causeway",
            ))
        }
    }
    let retries = match config.get("retries") {
        None | Some(Value::Null) => 0,
        Some(Value::Int(n)) if *n >= 0 => u32::try_from(*n).unwrap_or(u32::MAX).min(MAX_RETRIES),
        Some(other) => {
            return Err(failed(format!(
                "retries must be a non-negative integer, not {other}"
            )))
        }
    };
    Ok((per_batch, retries))
}

/// The most retries of one failed batch.
const MAX_RETRIES: u32 = 100;

/// `apoc.periodic.iterate(cypherIterate, cypherAction, config)`.
pub fn iterate(runner: &mut Runner, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let started = Instant::now();
    let text = |i: usize, what: &str| match argv.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(failed(format!("{what} must be a string"))),
    };
    let (iterate_text, action) = (text(0, "cypherIterate")?, text(1, "cypherAction")?);
    let config = crate::apoc::map_arg(argv.get(2));
    let batch_size = match config.get("batchSize") {
        None | Some(Value::Null) => DEFAULT_BATCH_SIZE,
        Some(Value::Int(n)) if *n > 0 => *n,
        Some(other) => {
            return Err(failed(format!(
                "batchSize must be a positive integer, not {other}"
            )))
        }
    };
    let batch_size = usize::try_from(batch_size).unwrap_or(usize::MAX);
    let (force_per_batch, retries) = modes(&config)?;
    let params = match config.get("params") {
        None | Some(Value::Null) => ValMap::new(),
        Some(Value::Map(m)) => crate::val::to_val_map(m),
        Some(_) => return Err(failed("params must be a map")),
    };
    let (columns, rows) = run_text(runner, &iterate_text, params.clone())?;
    // Decided after the iterate query ran: what it wrote, like any write of
    // the outer query, belongs to the outer transaction.
    let keeps = runner
        .tx
        .as_deref()
        .is_some_and(|t| !t.changed_since_kept());
    // An action that names $_batch takes a whole batch as a list of maps;
    // any other runs once per row, the row's columns bound as variables
    // and as parameters.
    let per_batch = force_per_batch || action.contains("$_batch");
    let per_row = if columns.is_empty() {
        action.clone()
    } else {
        let binds: Vec<String> = columns
            .iter()
            .map(|c| {
                let q = format!("`{}`", c.replace('`', "``"));
                format!("$_row.{q} AS {q}")
            })
            .collect();
        format!("WITH {} {action}", binds.join(", "))
    };
    let before = runner
        .tx
        .as_deref()
        .map(|t| t.counters())
        .unwrap_or_default();
    let mut stats = Tally::default();
    for (n, batch) in rows.chunks(batch_size).enumerate() {
        let mut attempt = 0;
        let ran = loop {
            let ran = runner.inner_transaction(|r| {
                run_batch(r, &columns, batch, n, per_batch, &action, &per_row, &params)
            });
            match ran {
                Err(e) if attempt < retries && !crate::exec::ends_statement(&e) => {
                    attempt += 1;
                    stats.retries += 1;
                }
                other => break other,
            }
        };
        match ran {
            Ok(()) => {
                // Like APOC's own batch transactions, a finished batch stays
                // if the calling statement fails later (auto-commit only).
                if let Some(tx) = runner.tx.as_deref_mut().filter(|_| keeps) {
                    tx.keep_finished_batches();
                }
                stats.committed(batch.len());
            }
            Err(e) if crate::exec::ends_statement(&e) => return Err(e),
            Err(e) => stats.failed(batch.len(), e.message),
        }
    }
    let after = runner
        .tx
        .as_deref()
        .map(|t| t.counters())
        .unwrap_or_default();
    Ok(vec![stats.row(started.elapsed(), &before, &after)])
}

#[allow(clippy::too_many_arguments)]
fn run_batch(
    runner: &mut Runner,
    columns: &[String],
    batch: &[Row],
    n: usize,
    per_batch: bool,
    action: &str,
    per_row: &str,
    params: &ValMap,
) -> Result<()> {
    let row_map = |row: &Row| -> ValMap {
        columns
            .iter()
            .map(|c| (c.clone(), row.get(c).cloned().unwrap_or(Val::Null)))
            .collect()
    };
    if per_batch {
        let mut p = params.clone();
        p.insert(
            "_batch".into(),
            Val::List(batch.iter().map(|r| Val::Map(row_map(r))).collect()),
        );
        p.insert(
            "_count".into(),
            Val::Int(i64::try_from(n).unwrap_or(i64::MAX)),
        );
        return run_text(runner, action, p).map(drop);
    }
    for row in batch {
        let mut p = params.clone();
        let m = row_map(row);
        for (k, v) in &m {
            p.insert(k.clone(), v.clone());
        }
        p.insert("_row".into(), Val::Map(m));
        p.insert(
            "_count".into(),
            Val::Int(i64::try_from(n).unwrap_or(i64::MAX)),
        );
        run_text(runner, per_row, p)?;
    }
    Ok(())
}

/// What `apoc.periodic.iterate` reports.
#[derive(Default)]
struct Tally {
    batches: i64,
    total: i64,
    committed_ops: i64,
    failed_ops: i64,
    failed_batches: i64,
    retries: i64,
    errors: BTreeMap<String, i64>,
}

impl Tally {
    fn committed(&mut self, rows: usize) {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        self.batches += 1;
        self.total += rows;
        self.committed_ops += rows;
    }

    fn failed(&mut self, rows: usize, error: String) {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        self.batches += 1;
        self.total += rows;
        self.failed_ops += rows;
        self.failed_batches += 1;
        *self.errors.entry(error).or_default() += 1;
    }

    fn row(&self, took: Duration, before: &Counters, after: &Counters) -> Vec<Value> {
        let errors = || {
            Value::Map(
                self.errors
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::Int(*v)))
                    .collect(),
            )
        };
        let part = |total: i64, committed: i64, failed: i64| {
            let mut m = Map::new();
            m.insert("total".into(), Value::Int(total));
            m.insert("committed".into(), Value::Int(committed));
            m.insert("failed".into(), Value::Int(failed));
            m.insert("errors".into(), errors());
            Value::Map(m)
        };
        let committed_batches = self.batches - self.failed_batches;
        let diff = |a: i64, b: i64| Value::Int(a - b);
        let mut updates = Map::new();
        for (k, v) in [
            (
                "relationshipsDeleted",
                diff(after.relationships_deleted, before.relationships_deleted),
            ),
            (
                "relationshipsCreated",
                diff(after.relationships_created, before.relationships_created),
            ),
            (
                "nodesDeleted",
                diff(after.nodes_deleted, before.nodes_deleted),
            ),
            (
                "nodesCreated",
                diff(after.nodes_created, before.nodes_created),
            ),
            (
                "labelsRemoved",
                diff(after.labels_removed, before.labels_removed),
            ),
            ("labelsAdded", diff(after.labels_added, before.labels_added)),
            (
                "propertiesSet",
                diff(after.properties_set, before.properties_set),
            ),
        ] {
            updates.insert(k.into(), v);
        }
        vec![
            Value::Int(self.batches),
            Value::Int(self.total),
            Value::Int(i64::try_from(took.as_secs()).unwrap_or(i64::MAX)),
            Value::Int(self.committed_ops),
            Value::Int(self.failed_ops),
            Value::Int(self.failed_batches),
            Value::Int(self.retries),
            errors(),
            part(self.batches, committed_batches, self.failed_batches),
            part(self.total, self.committed_ops, self.failed_ops),
            Value::Bool(false),
            Value::Map(Map::new()),
            Value::Map(updates),
        ]
    }
}

/// `apoc.util.sleep(duration)`: holds the statement for `duration`
/// milliseconds, or until its transaction times out. The worker thread is
/// handed over first, so other queries on it go on meanwhile.
pub fn sleep(sh: &Shared, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let ms = match argv.first() {
        Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
        Some(Value::Null) | None => 0,
        Some(other) => {
            return Err(Error::new(
                Code::ArgumentError,
                format!("apoc.util.sleep takes milliseconds as an integer, not {other}"),
            ))
        }
    };
    let until = Instant::now() + Duration::from_millis(ms);
    let wait = || -> Result<()> {
        loop {
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            sh.check_deadline()?;
            std::thread::sleep(SLEEP_SLICE.min(until - now));
        }
    };
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(wait)?;
    } else {
        wait()?;
    }
    Ok(Vec::new())
}
