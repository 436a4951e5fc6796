//! The clause pipeline. Reading clauses become lazy iterator stages over an
//! owned snapshot; updating clauses drain their input and apply it to the
//! transaction before the next stage is built, which gives Cypher's
//! clause-at-a-time visibility rules.

use crate::aggregate::Agg;
use crate::eval::*;
use crate::pattern::{self, hints};
use crate::procedures;
use crate::val::*;
use crate::write;
use crate::SystemCatalog;
use causeway_cypher::ast::*;
use causeway_graph::{Graph, TxGraph};
use causeway_value::{Code, Error, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub type RowIter = Box<dyn Iterator<Item = Result<Row>> + Send>;

pub struct Env {
    pub g: Graph,
    pub sh: Arc<Shared>,
    pub joins: JoinCache,
}

impl Env {
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            g: &self.g,
            sh: &self.sh,
            aggs: None,
            joins: Some(&self.joins),
        }
    }
}

pub fn once_err(e: Error) -> RowIter {
    Box::new(std::iter::once(Err(e)))
}

pub fn from_vec(v: Vec<Row>) -> RowIter {
    Box::new(v.into_iter().map(Ok))
}

/// Defers a materialising computation until the first row is pulled, so
/// that its errors surface from the stream like any other runtime error.
struct Lazy {
    f: Option<Box<dyn FnOnce() -> Result<Vec<Row>> + Send>>,
    inner: Option<std::vec::IntoIter<Row>>,
}

impl Iterator for Lazy {
    type Item = Result<Row>;
    fn next(&mut self) -> Option<Result<Row>> {
        if let Some(f) = self.f.take() {
            match f() {
                Ok(v) => self.inner = Some(v.into_iter()),
                Err(e) => return Some(Err(e)),
            }
        }
        self.inner.as_mut()?.next().map(Ok)
    }
}

pub fn lazy(f: impl FnOnce() -> Result<Vec<Row>> + Send + 'static) -> RowIter {
    Box::new(Lazy {
        f: Some(Box::new(f)),
        inner: None,
    })
}

/// Stops a stream after its first error.
pub struct Fuse {
    pub inner: RowIter,
    pub done: bool,
}

impl Iterator for Fuse {
    type Item = Result<Row>;
    fn next(&mut self) -> Option<Result<Row>> {
        if self.done {
            return None;
        }
        let r = self.inner.next();
        if matches!(r, Some(Err(_)) | None) {
            self.done = true;
        }
        r
    }
}

pub fn collect_rows(it: RowIter, limit: usize) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for r in it {
        out.push(r?);
        if out.len() > limit {
            return Err(too_many_rows());
        }
    }
    Ok(out)
}

pub fn too_many_rows() -> Error {
    Error::new(
        Code::MemoryPoolOutOfMemory,
        "The allocation of an extra row would exceed the limit on materialised rows",
    )
}

/// `CALL { } IN TRANSACTIONS` without `OF n ROWS`.
const DEFAULT_BATCH_ROWS: usize = 1000;

/// Ids for inner transactions, as their status reports name them.
static INNER_TX_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Errors that end the whole statement whatever ON ERROR says: the outer
/// transaction ran out of time or was terminated.
pub fn ends_statement(e: &Error) -> bool {
    matches!(e.code, Code::TransactionTimedOut | Code::Terminated)
}

pub struct Runner<'t, 'c> {
    pub tx: Option<&'t mut TxGraph>,
    pub base: Option<Graph>,
    pub sh: Arc<Shared>,
    pub catalog: Option<&'c dyn SystemCatalog>,
    /// For PROFILE: rows produced per clause, keyed by the clause's address.
    pub profile: Option<HashMap<usize, Arc<std::sync::atomic::AtomicUsize>>>,
}

pub struct QueryOut {
    pub rows: RowIter,
    pub fields: Vec<String>,
}

impl Runner<'_, '_> {
    pub fn snapshot(&self) -> Graph {
        match &self.tx {
            Some(tx) => tx.snapshot(),
            None => self.base.clone().unwrap_or_default(),
        }
    }

    pub fn env(&self) -> Arc<Env> {
        Arc::new(Env {
            g: self.snapshot(),
            sh: self.sh.clone(),
            joins: JoinCache::default(),
        })
    }

    pub fn run_query(&mut self, q: &Query, input: Vec<Row>, scope: &[String]) -> Result<QueryOut> {
        self.run_query_with(q, &|_| (input.clone(), scope.to_vec()))
    }

    /// `run_query` where each union part gets the input rows and scope that
    /// `start` gives for its index (a `CALL { }` body imports per part).
    fn run_query_with(
        &mut self,
        q: &Query,
        start: &dyn Fn(usize) -> (Vec<Row>, Vec<String>),
    ) -> Result<QueryOut> {
        let mut outs = Vec::new();
        for (i, part) in q.parts.iter().enumerate() {
            let (input, mut sc) = start(i);
            let (rows, fields) = self.run_clauses(&part.clauses, from_vec(input), &mut sc)?;
            outs.push((rows, fields));
        }
        if outs.len() == 1 {
            let (rows, fields) = outs.remove(0);
            return Ok(QueryOut { rows, fields });
        }
        let fields = outs[0].1.clone();
        for (_, f) in &outs[1..] {
            if *f != fields {
                return Err(Error::compile(
                    Code::SyntaxError,
                    "DifferentColumnsInUnion",
                    "All sub queries in an UNION must have the same return column names",
                ));
            }
        }
        let distinct = q.union_all.iter().any(|a| !a);
        let mut chained: RowIter = Box::new(std::iter::empty());
        for (rows, _) in outs {
            chained = Box::new(chained.chain(rows));
        }
        if distinct {
            let names = fields.clone();
            let max = self.sh.limits.max_materialized_rows;
            let mut seen: HashSet<Vec<Key>> = HashSet::new();
            chained = Box::new(chained.filter_map(move |r| match r {
                Ok(row) => {
                    let k: Vec<Key> = names
                        .iter()
                        .map(|n| key_of(row.get(n).unwrap_or(&Val::Null)))
                        .collect();
                    if !seen.insert(k) {
                        None
                    } else if seen.len() > max {
                        Some(Err(too_many_rows()))
                    } else {
                        Some(Ok(row))
                    }
                }
                Err(e) => Some(Err(e)),
            }));
        }
        Ok(QueryOut {
            rows: chained,
            fields,
        })
    }

    /// Runs clauses; returns the final stream and the RETURN columns (empty
    /// when the query does not end in RETURN).
    pub fn run_clauses(
        &mut self,
        clauses: &[Clause],
        mut it: RowIter,
        scope: &mut Vec<String>,
    ) -> Result<(RowIter, Vec<String>)> {
        let mut fields = Vec::new();
        let standalone_call = clauses.len() == 1;
        let mut pending = clauses.iter().enumerate();
        while let Some((i, mut clause)) = pending.next() {
            fields.clear();
            if let Some(t) = clauses
                .get(i + 1)
                .and_then(|next| crate::counts::tally(clause, next, scope))
            {
                // The MATCH and the projection after it become one stage.
                clause = &clauses[i + 1];
                pending.next();
                let (Clause::With(p) | Clause::Return(p)) = clause else {
                    unreachable!("a tally ends in a projection")
                };
                *scope = p.items.iter().map(|i| i.name().to_owned()).collect();
                if matches!(clause, Clause::Return(_)) {
                    fields = scope.clone();
                }
                it = self.tally_stage(it, t, p);
            } else {
                it = self.stage(clause, it, scope, &mut fields, standalone_call)?;
            }
            if let Some(p) = &mut self.profile {
                let c = p
                    .entry(clause as *const Clause as usize)
                    .or_default()
                    .clone();
                it = Box::new(it.inspect(move |r| {
                    if r.is_ok() {
                        c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }));
            }
        }
        Ok((it, fields))
    }

    /// One clause as a stage over the rows before it.
    fn stage(
        &mut self,
        clause: &Clause,
        it: RowIter,
        scope: &mut Vec<String>,
        fields: &mut Vec<String>,
        standalone_call: bool,
    ) -> Result<RowIter> {
        Ok(match clause {
            Clause::Match {
                optional,
                pattern,
                where_,
            } => {
                let mut new_vars = Vec::new();
                pattern_vars(pattern, &mut new_vars);
                new_vars.retain(|v| !scope.contains(v));
                new_vars.dedup();
                for v in &new_vars {
                    if !scope.contains(v) {
                        scope.push(v.clone());
                    }
                }
                self.match_stage(it, pattern, where_.as_ref(), *optional, new_vars)
            }
            Clause::Unwind { expr, var } => {
                if !scope.contains(var) {
                    scope.push(var.clone());
                }
                self.unwind_stage(it, expr, var)
            }
            Clause::With(p) => self.project(it, p, scope, false)?,
            Clause::Return(p) => {
                let it = self.project(it, p, scope, true)?;
                *fields = scope.clone();
                it
            }
            Clause::Call {
                procedure,
                args,
                yield_items,
                where_,
            } => {
                let (it, cols) = procedures::call_stage(
                    self,
                    it,
                    procedure,
                    args.as_deref(),
                    yield_items.as_ref(),
                    where_.as_ref(),
                    standalone_call,
                )?;
                for c in &cols {
                    if !scope.contains(c) {
                        scope.push(c.clone());
                    }
                }
                if standalone_call {
                    *fields = cols;
                }
                it
            }
            Clause::CallSubquery {
                query,
                scope: clause,
                in_transactions,
            } => self.call_subquery(
                it,
                query,
                clause.as_ref(),
                in_transactions.as_deref(),
                scope,
            )?,
            Clause::Create(_)
            | Clause::Merge { .. }
            | Clause::Set(_)
            | Clause::Remove(_)
            | Clause::Delete { .. }
            | Clause::Foreach { .. } => {
                let rows = collect_rows(it, self.sh.limits.max_materialized_rows)?;
                let out = self.write_clause(clause, rows, scope)?;
                from_vec(out)
            }
        })
    }

    /// A count answered from the graph's tallies, once per input row: as
    /// any grouping-free aggregation, it yields one row however many rows
    /// came in, each of which would have matched the same things.
    fn tally_stage(&mut self, it: RowIter, t: crate::counts::Tally, p: &Projection) -> RowIter {
        let env = self.env();
        let names: Vec<Arc<str>> = p.items.iter().map(|i| Arc::from(i.name())).collect();
        lazy(move || {
            let mut inputs = 0i64;
            for r in it {
                r?;
                inputs += 1;
            }
            let n = i64::try_from(t.count(env.ctx().g)).unwrap_or(i64::MAX);
            let v = Val::Int(n.saturating_mul(inputs));
            Ok(vec![Row(names
                .into_iter()
                .map(|k| (k, v.clone()))
                .collect())])
        })
    }

    pub fn write_clause(
        &mut self,
        clause: &Clause,
        rows: Vec<Row>,
        scope: &mut Vec<String>,
    ) -> Result<Vec<Row>> {
        if let Clause::Foreach { var, list, clauses } = clause {
            for row in &rows {
                let items = {
                    match self.eval_now(list, row)? {
                        Val::Null => Vec::new(),
                        Val::List(l) => l,
                        other => {
                            return Err(type_error(format!(
                                "Expected a List in FOREACH but got {}",
                                other.type_name()
                            )))
                        }
                    }
                };
                for item in items {
                    let mut r = row.clone();
                    r.set(var, item);
                    let mut sc = scope.clone();
                    sc.push(var.clone());
                    let (it, _) = self.run_clauses(clauses, from_vec(vec![r]), &mut sc)?;
                    // Drain so that any trailing reading stage runs.
                    collect_rows(it, self.sh.limits.max_materialized_rows)?;
                }
            }
            return Ok(rows);
        }
        let sh = self.sh.clone();
        let Some(tx) = self.tx.as_deref_mut() else {
            return Err(Error::new(
                Code::Unknown,
                "Updating clause in a read-only context",
            ));
        };
        match clause {
            Clause::Create(p) => {
                let mut vars = Vec::new();
                pattern_vars(p, &mut vars);
                for v in vars {
                    if !scope.contains(&v) {
                        scope.push(v);
                    }
                }
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    sh.tick()?;
                    out.push(write::create_pattern(tx, &sh, &p.parts, row)?);
                }
                Ok(out)
            }
            Clause::Merge {
                part,
                on_create,
                on_match,
            } => {
                let mut vars = Vec::new();
                pattern_vars(
                    &Pattern {
                        parts: vec![part.clone()],
                    },
                    &mut vars,
                );
                for v in vars {
                    if !scope.contains(&v) {
                        scope.push(v);
                    }
                }
                let mut out = Vec::new();
                for row in rows {
                    sh.tick()?;
                    out.extend(write::merge(tx, &sh, part, on_create, on_match, row)?);
                    if out.len() > sh.limits.max_materialized_rows {
                        return Err(too_many_rows());
                    }
                }
                Ok(out)
            }
            Clause::Set(items) => {
                for row in &rows {
                    sh.tick()?;
                    write::set_items(tx, &sh, items, row)?;
                }
                Ok(rows)
            }
            Clause::Remove(items) => {
                for row in &rows {
                    sh.tick()?;
                    write::remove_items(tx, &sh, items, row)?;
                }
                Ok(rows)
            }
            Clause::Delete { detach, exprs } => {
                write::delete(tx, &sh, exprs, *detach, &rows)?;
                Ok(rows)
            }
            _ => Ok(rows),
        }
    }

    fn match_stage(
        &mut self,
        it: RowIter,
        pattern: &Pattern,
        where_: Option<&Expr>,
        optional: bool,
        new_vars: Vec<String>,
    ) -> RowIter {
        let env = self.env();
        let spec = Arc::new((pattern.clone(), where_.cloned()));
        let new_vars = Arc::new(new_vars);
        Box::new(it.flat_map(move |r| -> RowIter {
            let row = match r {
                Ok(row) => row,
                Err(e) => return once_err(e),
            };
            let anchor = {
                let ctx = env.ctx();
                let hs = hints(spec.1.as_ref());
                pattern::first_anchor(&ctx, &spec.0.parts, &row, &hs)
            };
            match anchor {
                Ok(Some((anchor, cands))) => Box::new(MatchIter {
                    env: env.clone(),
                    spec: spec.clone(),
                    row,
                    optional,
                    new_vars: new_vars.clone(),
                    anchor,
                    cands: cands.into_iter(),
                    buf: std::collections::VecDeque::new(),
                    any: false,
                    done: false,
                }),
                Ok(None) => {
                    match match_rows(&env, &spec.0, spec.1.as_ref(), &row, optional, &new_vars) {
                        Ok(v) => from_vec(v),
                        Err(e) => once_err(e),
                    }
                }
                Err(e) => once_err(e),
            }
        }))
    }

    fn unwind_stage(&mut self, it: RowIter, expr: &Expr, var: &str) -> RowIter {
        let env = self.env();
        let expr = Arc::new(expr.clone());
        let var: Arc<str> = Arc::from(var);
        Box::new(it.flat_map(move |r| -> RowIter {
            let row = match r {
                Ok(row) => row,
                Err(e) => return once_err(e),
            };
            let ctx = env.ctx();
            // range() is unwound lazily so that huge ranges stream.
            if let Expr::Function { name, args, .. } = &*expr {
                if name.eq_ignore_ascii_case("range") && (2..=3).contains(&args.len()) {
                    let mut vals = Vec::new();
                    for a in args {
                        match eval(&ctx, a, &row) {
                            Ok(v) => vals.push(v),
                            Err(e) => return once_err(e),
                        }
                    }
                    let ints: Vec<Option<i64>> = vals
                        .iter()
                        .map(|v| match v {
                            Val::Int(i) => Some(*i),
                            _ => None,
                        })
                        .collect();
                    if let (Some(Some(s)), Some(Some(e))) = (ints.first(), ints.get(1)) {
                        let step = if ints.len() == 3 { ints[2] } else { Some(1) };
                        if let Some(step) = step {
                            if step == 0 {
                                return once_err(arg_error(
                                    "NumberOutOfRange",
                                    "Step argument to range() can't be 0",
                                ));
                            }
                            let n = crate::functions::range_len(*s, *e, step);
                            let (s, step) = (*s as i128, step as i128);
                            let var = var.clone();
                            let env = env.clone();
                            return Box::new((0..n).map(move |i| {
                                env.sh.tick()?;
                                let mut r = row.clone();
                                r.set_arc(&var, Val::Int((s + step * i as i128) as i64));
                                Ok(r)
                            }));
                        }
                    }
                }
            }
            match eval(&ctx, &expr, &row) {
                Ok(Val::Null) => Box::new(std::iter::empty()),
                Ok(Val::List(l)) => {
                    let var = var.clone();
                    Box::new(l.into_iter().map(move |x| {
                        let mut r = row.clone();
                        r.set_arc(&var, x);
                        Ok(r)
                    }))
                }
                Ok(other) => {
                    let mut r = row;
                    r.set_arc(&var, other);
                    Box::new(std::iter::once(Ok(r)))
                }
                Err(e) => once_err(e),
            }
        }))
    }

    fn call_subquery(
        &mut self,
        it: RowIter,
        q: &Query,
        clause: Option<&CallScope>,
        batched: Option<&InTransactions>,
        scope: &mut Vec<String>,
    ) -> Result<RowIter> {
        let rows = collect_rows(it, self.sh.limits.max_materialized_rows)?;
        // The outer variables each union part of the body sees: nothing
        // unless imported, so an outer name reused inside is a new variable.
        let imports: Vec<Vec<String>> = q
            .parts
            .iter()
            .map(|part| match clause {
                Some(CallScope::All) => scope.clone(),
                Some(CallScope::Vars(vars)) => vars.clone(),
                None => match part.importing_with() {
                    Some(p) if p.star => scope.clone(),
                    Some(p) => p.items.iter().map(|i| i.name().to_owned()).collect(),
                    None => Vec::new(),
                },
            })
            .collect();
        let mut new_cols: Vec<String> = Vec::new();
        if let Some(Clause::Return(p)) = q.parts.first().and_then(|p| p.clauses.last()) {
            if !p.star {
                new_cols = p.items.iter().map(|i| i.name().to_owned()).collect();
            }
        }
        let mut out = Vec::new();
        match batched {
            None => {
                for row in rows {
                    self.call_row(q, &imports, row, &mut out, &mut new_cols)?;
                }
            }
            Some(spec) => {
                self.call_in_transactions(q, &imports, rows, spec, &mut out, &mut new_cols)?;
                if let Some(s) = &spec.report_status {
                    new_cols.push(s.clone());
                }
            }
        }
        for c in new_cols {
            if !scope.contains(&c) {
                scope.push(c);
            }
        }
        Ok(from_vec(out))
    }

    /// The body of `CALL { }` for one input row: the row itself for a unit
    /// subquery, else one row per row the body returns.
    fn call_row(
        &mut self,
        q: &Query,
        imports: &[Vec<String>],
        row: Row,
        out: &mut Vec<Row>,
        new_cols: &mut Vec<String>,
    ) -> Result<()> {
        let start = |i: usize| {
            let names = imports.get(i).cloned().unwrap_or_default();
            let mut inner = Row::default();
            for n in &names {
                if let Some(v) = row.get(n) {
                    inner.set(n, v.clone());
                }
            }
            (vec![inner], names)
        };
        let res = self.run_query_with(q, &start)?;
        if res.fields.is_empty() {
            out.push(row);
            return Ok(());
        }
        *new_cols = res.fields.clone();
        let inner = collect_rows(res.rows, self.sh.limits.max_materialized_rows)?;
        for ir in inner {
            let mut r = row.clone();
            for f in &res.fields {
                r.set(f, ir.get(f).cloned().unwrap_or(Val::Null));
            }
            out.push(r);
            if out.len() > self.sh.limits.max_materialized_rows {
                return Err(too_many_rows());
            }
        }
        Ok(())
    }

    /// `CALL { } IN TRANSACTIONS`: the input rows in batches, each batch an
    /// inner transaction that ends at a savepoint of the statement's
    /// transaction once its constraints hold. A failed batch is rolled back
    /// to the savepoint and, under ON ERROR CONTINUE or BREAK, its rows go on
    /// with the body's columns null. The batches commit together with the
    /// statement (docs/decisions/0017-call-in-transactions.md); concurrency
    /// is accepted and the batches run one after another, which is one of
    /// the orders concurrent batches may take.
    fn call_in_transactions(
        &mut self,
        q: &Query,
        imports: &[Vec<String>],
        rows: Vec<Row>,
        spec: &InTransactions,
        out: &mut Vec<Row>,
        new_cols: &mut Vec<String>,
    ) -> Result<()> {
        let size = self.positive_int(spec.batch_size.as_ref(), DEFAULT_BATCH_ROWS)?;
        if let Some(Some(n)) = &spec.concurrency {
            self.positive_int(Some(n), 1)?;
        }
        if let Some(Some(seconds)) = &spec.retry {
            match self.eval_now(seconds, &Row::default())? {
                Val::Int(n) if n >= 0 => {}
                Val::Float(f) if f >= 0.0 => {}
                other => {
                    return Err(Error::new(
                        Code::ArgumentError,
                        format!(
                            "Invalid input. '{}' is not a valid retry duration. Must be a \
                             non-negative number of seconds.",
                            other.to_value(&self.snapshot())
                        ),
                    ))
                }
            }
        }
        // Finished batches survive a later failure only when everything
        // written so far came from inner transactions: writes the outer
        // query made before this clause belong to the outer transaction,
        // which the failure rolls back.
        let keeps = self.tx.as_deref().is_some_and(|t| !t.changed_since_kept());
        let mut broken = false;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let batch: Vec<Row> = rows.by_ref().take(size).collect();
            let status = |started: bool, id: Option<&str>, error: Option<&str>| {
                let text = |t: Option<&str>| t.map_or(Val::Null, |s| Val::Str(s.into()));
                let mut m = ValMap::new();
                m.insert("started".into(), Val::Bool(started));
                m.insert("committed".into(), Val::Bool(started && error.is_none()));
                m.insert("transactionId".into(), text(id));
                m.insert("errorMessage".into(), text(error));
                Val::Map(m)
            };
            let failed_rows = |out: &mut Vec<Row>, new_cols: &[String], s: Val| {
                for mut row in batch.iter().cloned() {
                    for c in new_cols {
                        row.set(c, Val::Null);
                    }
                    if let Some(name) = &spec.report_status {
                        row.set(name, s.clone());
                    }
                    out.push(row);
                }
            };
            if broken {
                failed_rows(out, new_cols, status(false, None, None));
                continue;
            }
            let id = format!(
                "{}-transaction-{}",
                self.sh.database,
                INNER_TX_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let mut done = Vec::new();
            let ran = self.inner_transaction(|r| {
                batch
                    .iter()
                    .try_for_each(|row| r.call_row(q, imports, row.clone(), &mut done, new_cols))
            });
            match ran {
                Ok(()) => {
                    if let Some(tx) = self.tx.as_deref_mut().filter(|_| keeps) {
                        tx.keep_finished_batches();
                    }
                    for mut row in done {
                        if let Some(name) = &spec.report_status {
                            row.set(name, status(true, Some(&id), None));
                        }
                        out.push(row);
                    }
                }
                Err(e) => {
                    if spec.on_error == OnError::Fail || ends_statement(&e) {
                        return Err(e);
                    }
                    failed_rows(out, new_cols, status(true, Some(&id), Some(&e.message)));
                    broken = spec.on_error == OnError::Break;
                }
            }
            if out.len() > self.sh.limits.max_materialized_rows {
                return Err(too_many_rows());
            }
        }
        Ok(())
    }

    /// Runs `work` as an inner transaction of the statement: it ends at a
    /// savepoint once the constraints over what it wrote hold, or, when it
    /// fails, the transaction is restored to where it began.
    pub fn inner_transaction(&mut self, work: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let savepoint = self.tx.as_deref().cloned();
        let ran = work(self).and_then(|()| {
            self.tx
                .as_deref_mut()
                .map_or(Ok(()), TxGraph::validate_batch)
        });
        if ran.is_err() {
            if let (Some(tx), Some(saved)) = (self.tx.as_deref_mut(), savepoint) {
                *tx = saved;
            }
        }
        ran
    }

    /// A batch size or concurrency: a positive integer, from a literal or a
    /// parameter.
    fn positive_int(&self, e: Option<&Expr>, default: usize) -> Result<usize> {
        let Some(e) = e else { return Ok(default) };
        match self.eval_now(e, &Row::default())? {
            Val::Int(n) if n > 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            other => Err(Error::new(
                Code::ArgumentError,
                format!(
                    "Invalid input. '{}' is not a valid value. Must be a positive integer.",
                    other.to_value(&self.snapshot())
                ),
            )),
        }
    }

    /// `e` over `row`, against the transaction's state at this moment.
    fn eval_now(&self, e: &Expr, row: &Row) -> Result<Val> {
        let g = self.snapshot();
        let ctx = Ctx {
            g: &g,
            sh: &self.sh,
            aggs: None,
            joins: None,
        };
        eval(&ctx, e, row)
    }

    fn project(
        &mut self,
        it: RowIter,
        p: &Projection,
        scope: &mut Vec<String>,
        is_return: bool,
    ) -> Result<RowIter> {
        let env = self.env();
        let mut items: Vec<(Arc<str>, Expr)> = Vec::new();
        if p.star {
            let mut names: Vec<String> = scope.clone();
            if is_return {
                names.sort();
            }
            for n in names {
                if p.items.iter().any(|i| i.name() == n) {
                    continue;
                }
                items.push((Arc::from(n.as_str()), Expr::Variable(n)));
            }
        }
        for i in &p.items {
            items.push((Arc::from(i.name()), i.expr.clone()));
        }
        if items.is_empty() && !p.star {
            return Err(Error::compile(
                Code::SyntaxError,
                "InvalidClauseComposition",
                "Projection without items",
            ));
        }
        *scope = items.iter().map(|(n, _)| n.to_string()).collect();
        let ctx = env.ctx();
        let empty = Row::default();
        let skip = match &p.skip {
            Some(e) => Some(count_arg(&ctx, e, &empty, "SKIP")?),
            None => None,
        };
        let limit = match &p.limit {
            Some(e) => Some(count_arg(&ctx, e, &empty, "LIMIT")?),
            None => None,
        };
        let spec = Arc::new(ProjSpec {
            items,
            distinct: p.distinct,
            order_by: p.order_by.clone(),
            where_: p.where_.clone(),
        });
        let aggregating = spec.items.iter().any(|(_, e)| contains_aggregate(e));
        let max_rows = self.sh.limits.max_materialized_rows;
        // Each row carries the projected row and, when ORDER BY or WHERE may
        // look at pre-projection variables, the combined row.
        let need_combined = !spec.order_by.is_empty() || spec.where_.is_some();
        let top = match (skip, limit) {
            (s, Some(l)) => Some(s.unwrap_or(0).saturating_add(l)),
            _ => None,
        };
        // ORDER BY ... LIMIT over rows it can sort as they come in: sort
        // those, keep the best, and project only what is kept.
        let late = !aggregating
            && !spec.distinct
            && spec.where_.is_none()
            && top.is_some()
            && !spec.order_by.is_empty()
            && sorts_by_inputs(&spec);
        let mut stream: Box<dyn Iterator<Item = Result<(Row, Option<Row>)>> + Send> = if late {
            let keys = ProjSpec {
                items: Vec::new(),
                distinct: false,
                order_by: spec.order_by.clone(),
                where_: None,
            };
            let env2 = env.clone();
            let input = Box::new(it.map(|r| r.map(|row| (row, None))));
            let kept = lazy_pairs(move || sort_rows(&env2, &keys, input, max_rows, top));
            let spec2 = spec.clone();
            let env2 = env.clone();
            Box::new(kept.map(move |r| {
                let (row, _) = r?;
                Ok((project_row(&env2.ctx(), &spec2.items, &row)?, None))
            }))
        } else if aggregating {
            let spec2 = spec.clone();
            let env2 = env.clone();
            let rows = lazy(move || aggregate(&env2, &spec2, it, max_rows));
            let spec3 = spec.clone();
            Box::new(rows.map(move |r| {
                r.map(|row| {
                    let projected = Row(spec3
                        .items
                        .iter()
                        .map(|(n, _)| (n.clone(), row.get(n).cloned().unwrap_or(Val::Null)))
                        .collect());
                    (projected, if need_combined { Some(row) } else { None })
                })
            }))
        } else {
            let spec2 = spec.clone();
            let env2 = env.clone();
            Box::new(it.map(move |r| {
                let row = r?;
                env2.sh.tick()?;
                let projected = project_row(&env2.ctx(), &spec2.items, &row)?;
                let combined = if need_combined {
                    let mut c = row;
                    for (n, v) in &projected.0 {
                        c.set_arc(n, v.clone());
                    }
                    Some(c)
                } else {
                    None
                };
                Ok((projected, combined))
            }))
        };
        if spec.distinct {
            let mut seen: HashSet<Vec<Key>> = HashSet::new();
            let mut count = 0usize;
            stream = Box::new(stream.filter_map(move |r| match r {
                Ok((p, c)) => {
                    let k: Vec<Key> = p.0.iter().map(|(_, v)| key_of(v)).collect();
                    if seen.insert(k) {
                        count += 1;
                        if count > max_rows {
                            return Some(Err(too_many_rows()));
                        }
                        Some(Ok((p, c)))
                    } else {
                        None
                    }
                }
                Err(e) => Some(Err(e)),
            }));
        }
        if !spec.order_by.is_empty() && !late {
            let spec2 = spec.clone();
            let env2 = env.clone();
            let sorted = lazy_pairs(move || sort_rows(&env2, &spec2, stream, max_rows, top));
            stream = sorted;
        }
        // SKIP and LIMIT belong to the projection; WITH's WHERE filters
        // what the projection produced.
        if let Some(s) = skip {
            stream = Box::new(stream.skip(s));
        }
        if let Some(l) = limit {
            stream = Box::new(stream.take(l));
        }
        let out: RowIter = if spec.where_.is_some() {
            let spec2 = spec.clone();
            let env2 = env.clone();
            Box::new(stream.filter_map(move |r| match r {
                Ok((p, c)) => {
                    let ctx = env2.ctx();
                    let w = spec2.where_.as_ref()?;
                    let probe = c.as_ref().unwrap_or(&p);
                    match eval_pred(&ctx, w, probe) {
                        Ok(true) => Some(Ok(p)),
                        Ok(false) => None,
                        Err(e) => Some(Err(e)),
                    }
                }
                Err(e) => Some(Err(e)),
            }))
        } else {
            Box::new(stream.map(|r| r.map(|(p, _)| p)))
        };
        Ok(out)
    }
}

fn project_row(ctx: &Ctx, items: &[(Arc<str>, Expr)], row: &Row) -> Result<Row> {
    let mut projected = Row(Vec::with_capacity(items.len()));
    for (n, e) in items {
        projected.0.push((n.clone(), eval(ctx, e, row)?));
    }
    Ok(projected)
}

/// Whether ORDER BY reads nothing the projection renames: every variable
/// it mentions means the same before the projection as after it, so the
/// rows can be sorted before they are projected.
fn sorts_by_inputs(spec: &ProjSpec) -> bool {
    let mut vars = Vec::new();
    for s in &spec.order_by {
        // A key that repeats an item must sort by that item's value (which
        // `rand()` would not give twice).
        if contains_aggregate(&s.expr) || spec.items.iter().any(|(_, e)| *e == s.expr) {
            return false;
        }
        variables(&s.expr, &mut vars);
    }
    // A subquery names no variables here (it shows as a hidden marker), and
    // would read the projection's names from its outer row.
    vars.iter().all(|v| !v.starts_with('\0'))
        && vars.iter().all(|v| {
            spec.items
                .iter()
                .all(|(n, e)| **n != **v || matches!(e, Expr::Variable(x) if x == v))
        })
}

fn lazy_pairs(
    f: impl FnOnce() -> Result<Vec<(Row, Option<Row>)>> + Send + 'static,
) -> Box<dyn Iterator<Item = Result<(Row, Option<Row>)>> + Send> {
    let mut f = Some(f);
    let mut inner: Option<std::vec::IntoIter<(Row, Option<Row>)>> = None;
    Box::new(std::iter::from_fn(move || {
        if let Some(g) = f.take() {
            match g() {
                Ok(v) => inner = Some(v.into_iter()),
                Err(e) => return Some(Err(e)),
            }
        }
        inner.as_mut()?.next().map(Ok)
    }))
}

/// Streams the matches of one input row, one start candidate at a time, so
/// that scans of large graphs never hold all their matches.
struct MatchIter {
    env: Arc<Env>,
    spec: Arc<(Pattern, Option<Expr>)>,
    row: Row,
    optional: bool,
    new_vars: Arc<Vec<String>>,
    anchor: usize,
    cands: std::vec::IntoIter<u64>,
    buf: std::collections::VecDeque<Row>,
    any: bool,
    done: bool,
}

impl MatchIter {
    fn fill(&mut self, cs: Vec<u64>) -> Result<()> {
        let ctx = self.env.ctx();
        let where_ = self.spec.1.as_ref();
        let hs = hints(where_);
        let fs = pattern::filters(where_);
        let max = self.env.sh.limits.max_materialized_rows;
        let buf = &mut self.buf;
        pattern::match_parts_anchored(
            &ctx,
            &self.spec.0.parts,
            &self.row,
            &hs,
            &fs,
            (self.anchor, cs),
            &mut |r| {
                if let Some(w) = where_ {
                    if !eval_pred(&ctx, w, &r)? {
                        return Ok(true);
                    }
                }
                buf.push_back(r);
                if buf.len() > max {
                    return Err(too_many_rows());
                }
                Ok(true)
            },
        )
    }
}

impl Iterator for MatchIter {
    type Item = Result<Row>;
    fn next(&mut self) -> Option<Result<Row>> {
        loop {
            if let Some(r) = self.buf.pop_front() {
                self.any = true;
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            // Candidates go in small batches: per-call setup is amortised
            // while the buffered matches stay few.
            if let Err(e) = self.env.sh.tick() {
                self.done = true;
                return Some(Err(e));
            }
            let batch: Vec<u64> = self.cands.by_ref().take(64).collect();
            match (!batch.is_empty()).then_some(batch) {
                Some(cs) => {
                    if let Err(e) = self.fill(cs) {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                None => {
                    self.done = true;
                    if self.optional && !self.any {
                        self.any = true;
                        let mut r = self.row.clone();
                        for v in self.new_vars.iter() {
                            if !r.contains(v) {
                                r.set(v, Val::Null);
                            }
                        }
                        return Some(Ok(r));
                    }
                    return None;
                }
            }
        }
    }
}

pub struct ProjSpec {
    pub items: Vec<(Arc<str>, Expr)>,
    pub distinct: bool,
    pub order_by: Vec<SortItem>,
    pub where_: Option<Expr>,
}

fn count_arg(ctx: &Ctx, e: &Expr, row: &Row, what: &str) -> Result<usize> {
    let mut vars = Vec::new();
    variables(e, &mut vars);
    if !vars.is_empty() {
        return Err(Error::compile(
            Code::SyntaxError,
            "NonConstantExpression",
            format!("It is not allowed to refer to variables in {what}"),
        ));
    }
    match eval(ctx, e, row)? {
        Val::Int(i) if i >= 0 => Ok(usize::try_from(i).unwrap_or(usize::MAX)),
        Val::Int(i) => Err(Error::compile(
            Code::SyntaxError,
            "NegativeIntegerArgument",
            format!("Invalid input. '{i}' is not a valid value. Must be a non-negative integer."),
        )),
        other => Err(Error::compile(
            Code::SyntaxError,
            "InvalidArgumentType",
            format!(
                "Invalid input. '{}' is not a valid value. Must be a non-negative integer.",
                crate::functions::to_string_repr(&other)
            ),
        )),
    }
}

fn sort_rows(
    env: &Env,
    spec: &ProjSpec,
    stream: Box<dyn Iterator<Item = Result<(Row, Option<Row>)>> + Send>,
    max_rows: usize,
    top: Option<usize>,
) -> Result<Vec<(Row, Option<Row>)>> {
    let ctx = env.ctx();
    let mut keyed: Vec<(Vec<Val>, (Row, Option<Row>))> = Vec::new();
    let cmp = |a: &Vec<Val>, b: &Vec<Val>| {
        for (i, s) in spec.order_by.iter().enumerate() {
            let o = total_cmp(&a[i], &b[i]);
            let o = if s.descending { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    };
    for r in stream {
        let (p, c) = r?;
        env.sh.tick()?;
        let mut keys = Vec::with_capacity(spec.order_by.len());
        for s in &spec.order_by {
            // An ORDER BY expression that repeats a projection item (for
            // example an aggregate) sorts by that item's value.
            if let Some(idx) = spec.items.iter().position(|(_, e)| *e == s.expr) {
                keys.push(p.0[idx].1.clone());
                continue;
            }
            let probe = c.as_ref().unwrap_or(&p);
            if let Some(v) = probe.get(&format!("\u{0}agg{}", expr_id(&s.expr))) {
                keys.push(v.clone());
                continue;
            }
            keys.push(eval(&ctx, &s.expr, probe)?);
        }
        keyed.push((keys, (p, c)));
        if let Some(t) = top {
            // Keep memory bounded for ORDER BY ... LIMIT: prune to the best
            // `t` whenever the buffer doubles.
            let threshold = t
                .saturating_mul(2)
                .max(t.saturating_add(64))
                .min(max_rows)
                .max(t.saturating_add(1));
            if keyed.len() >= threshold {
                keyed.sort_by(|a, b| cmp(&a.0, &b.0));
                keyed.truncate(t);
            }
        }
        if keyed.len() > max_rows {
            return Err(too_many_rows());
        }
    }
    keyed.sort_by(|a, b| cmp(&a.0, &b.0));
    if let Some(t) = top {
        keyed.truncate(t);
    }
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

fn aggregate(env: &Env, spec: &ProjSpec, it: RowIter, max_rows: usize) -> Result<Vec<Row>> {
    let ctx = env.ctx();
    let key_idx: Vec<usize> = (0..spec.items.len())
        .filter(|i| !contains_aggregate(&spec.items[*i].1))
        .collect();
    let mut agg_exprs: Vec<&Expr> = Vec::new();
    for (_, e) in &spec.items {
        collect_aggregates(e, &mut agg_exprs);
    }
    for s in &spec.order_by {
        collect_aggregates(&s.expr, &mut agg_exprs);
    }
    struct Group<'e> {
        keys: Vec<Val>,
        repr: Row,
        aggs: Vec<Agg<'e>>,
    }
    let mut index: HashMap<Vec<Key>, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for r in it {
        let row = r?;
        env.sh.tick()?;
        let mut keys = Vec::with_capacity(key_idx.len());
        for &i in &key_idx {
            keys.push(eval(&ctx, &spec.items[i].1, &row)?);
        }
        let k: Vec<Key> = keys.iter().map(key_of).collect();
        let gi = match index.get(&k) {
            Some(&gi) => gi,
            None => {
                if groups.len() >= max_rows {
                    return Err(too_many_rows());
                }
                groups.push(Group {
                    keys,
                    repr: row.clone(),
                    aggs: agg_exprs.iter().map(|e| Agg::new(e)).collect(),
                });
                index.insert(k, groups.len() - 1);
                groups.len() - 1
            }
        };
        for a in &mut groups[gi].aggs {
            a.feed(&ctx, &row)?;
        }
    }
    if groups.is_empty() && key_idx.is_empty() {
        groups.push(Group {
            keys: Vec::new(),
            repr: Row::default(),
            aggs: agg_exprs.iter().map(|e| Agg::new(e)).collect(),
        });
    }
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let mut vals: AggVals = HashMap::new();
        for (e, a) in agg_exprs.iter().zip(g.aggs) {
            vals.insert(expr_id(e), a.finish()?);
        }
        let actx = Ctx {
            g: ctx.g,
            sh: ctx.sh,
            aggs: Some(&vals),
            joins: ctx.joins,
        };
        let mut row = g.repr;
        let mut projected: Vec<(Arc<str>, Val)> = Vec::with_capacity(spec.items.len());
        let mut ki = 0;
        for (i, (n, e)) in spec.items.iter().enumerate() {
            let v = if key_idx.contains(&i) {
                ki += 1;
                g.keys[ki - 1].clone()
            } else {
                eval(&actx, e, &row)?
            };
            projected.push((n.clone(), v));
        }
        for (n, v) in projected {
            row.set_arc(&n, v);
        }
        // Aggregates used only by ORDER BY are exposed under their address
        // so that the sort can find them.
        for s in &spec.order_by {
            if contains_aggregate(&s.expr) && !spec.items.iter().any(|(_, e)| *e == s.expr) {
                let v = eval(&actx, &s.expr, &row)?;
                row.set(&format!("\u{0}agg{}", expr_id(&s.expr)), v);
            }
        }
        out.push(row);
    }
    Ok(out)
}

pub fn pattern_vars(p: &Pattern, out: &mut Vec<String>) {
    for part in &p.parts {
        if let Some(v) = &part.var {
            out.push(v.clone());
        }
        out.extend(part.element.variables().into_iter().map(String::from));
    }
    let mut seen = HashSet::new();
    out.retain(|v| seen.insert(v.clone()));
}

pub fn match_rows(
    env: &Env,
    pattern: &Pattern,
    where_: Option<&Expr>,
    row: &Row,
    optional: bool,
    new_vars: &[String],
) -> Result<Vec<Row>> {
    let ctx = env.ctx();
    let hs = hints(where_);
    let mut out = Vec::new();
    let max = env.sh.limits.max_materialized_rows;
    let fs = pattern::filters(where_);
    pattern::match_parts_hinted(&ctx, &pattern.parts, row, &hs, &fs, &mut |r| {
        if let Some(w) = where_ {
            if !eval_pred(&ctx, w, &r)? {
                return Ok(true);
            }
        }
        out.push(r);
        if out.len() > max {
            return Err(too_many_rows());
        }
        Ok(true)
    })?;
    if out.is_empty() && optional {
        let mut r = row.clone();
        for v in new_vars {
            if !r.contains(v) {
                r.set(v, Val::Null);
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// Runs a read-only expression subquery over the snapshot with every
/// variable of the outer `row` visible (EXISTS, COUNT and COLLECT see the
/// outer scope, unlike CALL).
fn run_with_outer_row(ctx: &Ctx, q: &Query, row: &Row) -> Result<QueryOut> {
    let mut runner = Runner {
        tx: None,
        base: Some(ctx.g.clone()),
        sh: ctx.sh.clone(),
        catalog: None,
        profile: None,
    };
    let scope: Vec<String> = row.names().map(|s| s.to_owned()).collect();
    runner.run_query(q, vec![row.clone()], &scope)
}

/// Runs a read-only subquery (EXISTS { ... } / COUNT { ... }) for one outer
/// row and returns the number of rows it produced.
pub fn run_read_subquery(ctx: &Ctx, q: &Query, row: &Row) -> Result<usize> {
    let out = run_with_outer_row(ctx, q, row)?;
    let mut n = 0usize;
    for r in out.rows {
        r?;
        n += 1;
    }
    Ok(n)
}

/// The values of the single column `q` returns, run with `row` visible.
pub fn run_collect_subquery(ctx: &Ctx, q: &Query, row: &Row) -> Result<Val> {
    let out = run_with_outer_row(ctx, q, row)?;
    let Some(column) = out.fields.first().cloned() else {
        return Ok(Val::List(Vec::new()));
    };
    let mut items = Vec::new();
    for r in out.rows {
        let r = r?;
        if items.len() >= ctx.sh.limits.max_list_len {
            return Err(list_too_long());
        }
        items.push(r.get(&column).cloned().unwrap_or(Val::Null));
    }
    Ok(Val::List(items))
}

pub fn is_updating(c: &Clause) -> bool {
    match c {
        Clause::Create(_)
        | Clause::Merge { .. }
        | Clause::Set(_)
        | Clause::Remove(_)
        | Clause::Delete { .. }
        | Clause::Foreach { .. } => true,
        Clause::CallSubquery { query, .. } => query_updates(query),
        Clause::Call { procedure, .. } => crate::procedures::is_write_procedure(procedure),
        _ => false,
    }
}

pub fn query_updates(q: &Query) -> bool {
    q.parts.iter().any(|p| p.clauses.iter().any(is_updating))
}
