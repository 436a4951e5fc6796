//! Expression evaluation with Cypher's null propagation and typing rules.

use crate::functions;
use crate::pattern;
use crate::val::*;
use crate::Limits;
use causeway_cypher::ast::*;
use causeway_graph::Graph;
use causeway_value::{Code, Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// State shared by every operator of one statement.
pub struct Shared {
    pub params: ValMap,
    /// The statement's clock: Cypher's current time does not move while a
    /// statement runs. (days since epoch, nanoseconds of day, epoch millis)
    pub now: (i64, i64, i64),
    /// When set, long-running work stops with `TransactionTimedOut`.
    pub deadline: Option<tokio::time::Instant>,
    /// The database the statement runs in (names inner transactions).
    pub database: String,
    ticks: std::sync::atomic::AtomicU32,
    /// Types of relationships deleted by this statement: `type(r)` still
    /// works on them, as in Neo4j.
    pub deleted_rel_types: Mutex<HashMap<u64, String>>,
    pub limits: Limits,
    regexes: Mutex<HashMap<String, Arc<regex::Regex>>>,
    /// The statement's own random sequence (`Inputs::seed`); without it,
    /// the process-wide one.
    pub rng: Option<std::sync::atomic::AtomicU64>,
}

impl Shared {
    pub fn new(params: ValMap, limits: Limits) -> Self {
        Shared {
            params,
            now: crate::temporal::now(),
            deadline: None,
            database: String::from("neo4j"),
            ticks: std::sync::atomic::AtomicU32::new(0),
            limits,
            deleted_rel_types: Mutex::new(HashMap::new()),
            regexes: Mutex::new(HashMap::new()),
            rng: None,
        }
    }

    /// The next draw for `rand()` and `randomUUID()`.
    pub fn random(&self) -> u64 {
        match &self.rng {
            Some(state) => functions::splitmix(state),
            None => functions::shared_random(),
        }
    }

    /// Called once per unit of work (row, expansion, ...); looks at the
    /// clock only every few thousand calls.
    pub fn tick(&self) -> Result<()> {
        if self.deadline.is_none() {
            return Ok(());
        }
        let n = self
            .ticks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n.is_multiple_of(4096) {
            self.check_deadline()?;
        }
        Ok(())
    }

    /// `TransactionTimedOut` once the deadline has passed.
    pub fn check_deadline(&self) -> Result<()> {
        match self.deadline {
            Some(deadline) if tokio::time::Instant::now() > deadline => Err(Error::new(
                Code::TransactionTimedOut,
                "The transaction has not completed within the specified timeout",
            )),
            _ => Ok(()),
        }
    }

    fn regex(&self, pat: &str) -> Result<Arc<regex::Regex>> {
        if let Ok(cache) = self.regexes.lock() {
            if let Some(r) = cache.get(pat) {
                return Ok(r.clone());
            }
        }
        let full = format!("^(?:{pat})$");
        let re = regex::RegexBuilder::new(&full)
            .size_limit(10 << 20)
            .build()
            .map_err(|e| {
                Error::runtime(
                    Code::ArgumentError,
                    "InvalidArgumentValue",
                    format!("Invalid Regex: {e}"),
                )
            })?;
        let re = Arc::new(re);
        if let Ok(mut cache) = self.regexes.lock() {
            if cache.len() < 1000 {
                cache.insert(pat.to_owned(), re.clone());
            }
        }
        Ok(re)
    }
}

/// Aggregate results of the current group, keyed by the address of the
/// aggregate call in the AST (the AST outlives execution, so addresses are
/// stable identities).
pub type AggVals = HashMap<usize, Val>;

#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub g: &'a Graph,
    pub sh: &'a Arc<Shared>,
    pub aggs: Option<&'a AggVals>,
    /// Per-snapshot hash tables for equality lookups on unindexed
    /// properties; absent where the graph may change underneath.
    pub joins: Option<&'a JoinCache>,
}

/// `(label, property)` -> property value -> nodes, built on first use by
/// a reading stage, which turns repeated unindexed lookups (a nested-loop
/// join) into one scan plus hash probes.
#[derive(Default)]
pub struct JoinCache {
    tables: Mutex<HashMap<(String, String), Arc<HashMap<Key, Vec<u64>>>>>,
}

impl JoinCache {
    pub fn table(&self, g: &Graph, label: &str, prop: &str) -> Option<Arc<HashMap<Key, Vec<u64>>>> {
        let key = (label.to_owned(), prop.to_owned());
        if let Ok(t) = self.tables.lock() {
            if let Some(found) = t.get(&key) {
                return Some(found.clone());
            }
        }
        let mut table: HashMap<Key, Vec<u64>> = HashMap::new();
        for id in g.nodes_with_label(label) {
            if let Some(v) = g.node_prop(id, prop) {
                table
                    .entry(key_of(&Val::from_prop(v)))
                    .or_default()
                    .push(id);
            }
        }
        let table = Arc::new(table);
        if let Ok(mut t) = self.tables.lock() {
            t.insert(key, table.clone());
        }
        Some(table)
    }
}

pub fn expr_id(e: &Expr) -> usize {
    e as *const Expr as usize
}

pub fn is_aggregate_name(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "count"
            | "sum"
            | "avg"
            | "min"
            | "max"
            | "collect"
            | "stdev"
            | "stdevp"
            | "percentilecont"
            | "percentiledisc"
    )
}

/// Whether the expression contains an aggregate (not looking into nested
/// subqueries, whose aggregates are their own).
pub fn contains_aggregate(e: &Expr) -> bool {
    let mut found = false;
    walk(e, &mut |x| {
        if matches!(x, Expr::CountStar)
            || matches!(x, Expr::Function { name, .. } if is_aggregate_name(name))
        {
            found = true;
        }
    });
    found
}

/// Collects the aggregate calls inside `e` (outermost only).
pub fn collect_aggregates<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::CountStar => out.push(e),
        Expr::Function { name, .. } if is_aggregate_name(name) => out.push(e),
        _ => for_children(e, &mut |c| collect_aggregates(c, out)),
    }
}

pub fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    for_children(e, &mut |c| walk(c, f));
}

pub fn for_children<'e>(e: &'e Expr, f: &mut dyn FnMut(&'e Expr)) {
    match e {
        Expr::Literal(_)
        | Expr::Parameter(_)
        | Expr::Variable(_)
        | Expr::CountStar
        | Expr::PatternPredicate(_)
        | Expr::Exists(_)
        | Expr::CountSubquery(_)
        | Expr::CollectSubquery(_) => {}
        Expr::Property(x, _) => f(x),
        Expr::List(xs) => xs.iter().for_each(f),
        Expr::Map(xs) => xs.iter().for_each(|(_, x)| f(x)),
        Expr::Index(a, b) => {
            f(a);
            f(b)
        }
        Expr::Slice(a, b, c) => {
            f(a);
            if let Some(b) = b {
                f(b)
            }
            if let Some(c) = c {
                f(c)
            }
        }
        Expr::Unary(_, x) => f(x),
        Expr::Binary(_, a, b) => {
            f(a);
            f(b)
        }
        Expr::IsNull { expr, .. } => f(expr),
        Expr::HasLabels(x, _) => f(x),
        Expr::HasDynamicLabels { target, labels, .. } => {
            f(target);
            f(labels)
        }
        Expr::Case {
            subject,
            whens,
            else_,
        } => {
            if let Some(s) = subject {
                f(s)
            }
            for (a, b) in whens {
                f(a);
                f(b)
            }
            if let Some(x) = else_ {
                f(x)
            }
        }
        Expr::Function { args, .. } => args.iter().for_each(f),
        Expr::ListComprehension {
            list, filter, map, ..
        } => {
            f(list);
            if let Some(x) = filter {
                f(x)
            }
            if let Some(x) = map {
                f(x)
            }
        }
        Expr::PatternComprehension { filter, map, .. } => {
            if let Some(x) = filter {
                f(x)
            }
            f(map)
        }
        Expr::Quantified { list, filter, .. } => {
            f(list);
            if let Some(x) = filter {
                f(x)
            }
        }
        Expr::Reduce {
            init, list, expr, ..
        } => {
            f(init);
            f(list);
            f(expr)
        }
        Expr::MapProjection { items, .. } => {
            for it in items {
                if let MapProjectionItem::Literal(_, x) = it {
                    f(x)
                }
            }
        }
    }
}

/// Free variables referenced by an expression (approximate: names bound
/// inside comprehensions are not subtracted, which only makes callers more
/// conservative).
pub fn variables(e: &Expr, out: &mut Vec<String>) {
    walk(e, &mut |x| match x {
        Expr::Variable(v) => out.push(v.clone()),
        Expr::MapProjection { var, .. } => out.push(var.clone()),
        Expr::PatternPredicate(p) => pattern_vars(p, out),
        Expr::PatternComprehension { pattern, .. } => pattern_vars(pattern, out),
        Expr::Exists(_) | Expr::CountSubquery(_) | Expr::CollectSubquery(_) => {
            out.push("\u{0}subquery".into())
        }
        _ => {}
    });
}

fn pattern_vars(p: &PatternElement, out: &mut Vec<String>) {
    out.extend(p.variables().into_iter().map(String::from));
}

pub fn truthy(v: &Val) -> Result<Option<bool>> {
    match v {
        Val::Null => Ok(None),
        Val::Bool(b) => Ok(Some(*b)),
        other => Err(type_error(format!(
            "Expected a Boolean but got {}",
            other.type_name()
        ))),
    }
}

/// WHERE semantics: only `true` keeps a row.
pub fn eval_pred(ctx: &Ctx, e: &Expr, row: &Row) -> Result<bool> {
    Ok(truthy(&eval(ctx, e, row)?)? == Some(true))
}

fn tri(v: Option<bool>) -> Val {
    v.map(Val::Bool).unwrap_or(Val::Null)
}

pub fn eval(ctx: &Ctx, e: &Expr, row: &Row) -> Result<Val> {
    match e {
        Expr::Literal(l) => Ok(match l {
            Literal::Null => Val::Null,
            Literal::Bool(b) => Val::Bool(*b),
            Literal::Int(i) => Val::Int(*i),
            Literal::Float(f) => Val::Float(*f),
            Literal::String(s) => Val::Str(s.clone()),
        }),
        Expr::Parameter(p) => ctx.sh.params.get(p).cloned().ok_or_else(|| {
            Error::new(
                Code::ParameterMissing,
                format!("Expected parameter(s): {p}"),
            )
        }),
        Expr::Variable(v) => match row.get(v) {
            Some(x) => Ok(x.clone()),
            None => Err(Error::compile(
                Code::SyntaxError,
                "UndefinedVariable",
                format!("Variable `{v}` not defined"),
            )),
        },
        Expr::Property(x, key) => {
            let base = eval(ctx, x, row)?;
            property(ctx.g, &base, key)
        }
        Expr::List(xs) => {
            let mut out = Vec::with_capacity(xs.len());
            for x in xs {
                out.push(eval(ctx, x, row)?);
            }
            Ok(Val::List(out))
        }
        Expr::Map(xs) => {
            let mut out = ValMap::new();
            for (k, x) in xs {
                out.insert(k.clone(), eval(ctx, x, row)?);
            }
            Ok(Val::Map(out))
        }
        Expr::Index(a, b) => {
            let base = eval(ctx, a, row)?;
            let idx = eval(ctx, b, row)?;
            index(ctx.g, &base, &idx)
        }
        Expr::Slice(a, from, to) => {
            let base = eval(ctx, a, row)?;
            let from = match from {
                Some(x) => Some(eval(ctx, x, row)?),
                None => None,
            };
            let to = match to {
                Some(x) => Some(eval(ctx, x, row)?),
                None => None,
            };
            slice(&base, from.as_ref(), to.as_ref())
        }
        Expr::Unary(op, x) => {
            let v = eval(ctx, x, row)?;
            match op {
                UnaryOp::Not => Ok(tri(truthy(&v)?.map(|b| !b))),
                UnaryOp::Neg => match v {
                    Val::Null => Ok(Val::Null),
                    Val::Int(i) => i.checked_neg().map(Val::Int).ok_or_else(overflow),
                    Val::Float(f) => Ok(Val::Float(-f)),
                    other => Err(type_error(format!("Cannot negate a {}", other.type_name()))),
                },
                UnaryOp::Pos => match v {
                    Val::Null | Val::Int(_) | Val::Float(_) => Ok(v),
                    other => Err(type_error(format!(
                        "Cannot apply unary plus to a {}",
                        other.type_name()
                    ))),
                },
            }
        }
        Expr::Binary(op, a, b) => binary(ctx, *op, a, b, row),
        Expr::IsNull { expr, negated } => {
            let v = eval(ctx, expr, row)?;
            Ok(Val::Bool(v.is_null() != *negated))
        }
        Expr::HasLabels(x, labels) => match eval(ctx, x, row)? {
            Val::Null => Ok(Val::Null),
            Val::Node(id) => Ok(Val::Bool(
                labels.iter().all(|l| ctx.g.node_has_label(id, l)),
            )),
            Val::Rel(id) => {
                let t = rel_type(ctx, id)?;
                Ok(Val::Bool(labels.iter().all(|l| *l == t)))
            }
            other => Err(type_error(format!(
                "Expected a Node but got {}",
                other.type_name()
            ))),
        },
        Expr::HasDynamicLabels {
            target,
            labels,
            any,
        } => {
            let wanted = dynamic_labels(eval(ctx, labels, row)?)?;
            let hits = match eval(ctx, target, row)? {
                Val::Null => return Ok(Val::Null),
                Val::Node(id) => wanted
                    .iter()
                    .filter(|l| ctx.g.node_has_label(id, l))
                    .count(),
                Val::Rel(id) => {
                    let t = rel_type(ctx, id)?;
                    wanted.iter().filter(|l| **l == t).count()
                }
                other => {
                    return Err(type_error(format!(
                        "Expected a Node or Relationship but got {}",
                        other.type_name()
                    )))
                }
            };
            Ok(Val::Bool(if *any {
                hits > 0
            } else {
                hits == wanted.len()
            }))
        }
        Expr::Case {
            subject,
            whens,
            else_,
        } => {
            match subject {
                Some(s) => {
                    let sv = eval(ctx, s, row)?;
                    for (w, t) in whens {
                        let wv = eval(ctx, w, row)?;
                        if cypher_eq(&sv, &wv) == Some(true) {
                            return eval(ctx, t, row);
                        }
                    }
                }
                None => {
                    for (w, t) in whens {
                        let wv = eval(ctx, w, row)?;
                        if matches!(wv, Val::Bool(true)) {
                            return eval(ctx, t, row);
                        }
                    }
                }
            }
            match else_ {
                Some(x) => eval(ctx, x, row),
                None => Ok(Val::Null),
            }
        }
        Expr::Function { name, args, .. } => {
            if is_aggregate_name(name) {
                return agg_value(ctx, e);
            }
            functions::call(ctx, name, args, row)
        }
        Expr::CountStar => agg_value(ctx, e),
        Expr::ListComprehension {
            var,
            list,
            filter,
            map,
        } => {
            let items = match eval(ctx, list, row)? {
                Val::Null => return Ok(Val::Null),
                Val::List(l) => l,
                other => {
                    return Err(type_error(format!(
                        "Expected a List but got {}",
                        other.type_name()
                    )))
                }
            };
            let mut inner = row.clone();
            let mut out = Vec::new();
            for it in items {
                inner.set(var, it.clone());
                if let Some(f) = filter {
                    if !eval_pred(ctx, f, &inner)? {
                        continue;
                    }
                }
                match map {
                    Some(m) => out.push(eval(ctx, m, &inner)?),
                    None => out.push(it),
                }
            }
            Ok(Val::List(out))
        }
        Expr::Quantified {
            kind,
            var,
            list,
            filter,
        } => {
            let items = match eval(ctx, list, row)? {
                Val::Null => return Ok(Val::Null),
                Val::List(l) => l,
                other => {
                    return Err(type_error(format!(
                        "Expected a List but got {}",
                        other.type_name()
                    )))
                }
            };
            let mut inner = row.clone();
            let (mut trues, mut nulls) = (0usize, 0usize);
            let total = items.len();
            for it in items {
                inner.set(var, it);
                let r = match filter {
                    Some(f) => truthy(&eval(ctx, f, &inner)?)?,
                    None => Some(true),
                };
                match r {
                    Some(true) => trues += 1,
                    None => nulls += 1,
                    Some(false) => {}
                }
            }
            let falses = total - trues - nulls;
            Ok(match kind {
                Quantifier::All => {
                    if falses > 0 {
                        Val::Bool(false)
                    } else if nulls > 0 {
                        Val::Null
                    } else {
                        Val::Bool(true)
                    }
                }
                Quantifier::Any => {
                    if trues > 0 {
                        Val::Bool(true)
                    } else if nulls > 0 {
                        Val::Null
                    } else {
                        Val::Bool(false)
                    }
                }
                Quantifier::None => {
                    if trues > 0 {
                        Val::Bool(false)
                    } else if nulls > 0 {
                        Val::Null
                    } else {
                        Val::Bool(true)
                    }
                }
                Quantifier::Single => {
                    if trues > 1 {
                        Val::Bool(false)
                    } else if nulls > 0 {
                        Val::Null
                    } else {
                        Val::Bool(trues == 1)
                    }
                }
            })
        }
        Expr::Reduce {
            acc,
            init,
            var,
            list,
            expr,
        } => {
            let init = eval(ctx, init, row)?;
            let items = match eval(ctx, list, row)? {
                Val::Null => return Ok(Val::Null),
                Val::List(l) => l,
                other => {
                    return Err(type_error(format!(
                        "Expected a List but got {}",
                        other.type_name()
                    )))
                }
            };
            let mut inner = row.clone();
            inner.set(acc, init);
            for it in items {
                inner.set(var, it);
                let v = eval(ctx, expr, &inner)?;
                // reduce is the one construct that can nest values without
                // bound; deeper values would overflow recursive consumers.
                if matches!(v, Val::List(_) | Val::Map(_)) && nesting_exceeds(&v, MAX_VALUE_DEPTH) {
                    return Err(Error::runtime(
                        Code::ArgumentError,
                        "InvalidArgumentValue",
                        format!("Values may nest at most {MAX_VALUE_DEPTH} levels deep"),
                    ));
                }
                inner.set(acc, v);
            }
            Ok(inner.get(acc).cloned().unwrap_or(Val::Null))
        }
        Expr::MapProjection { var, items } => {
            let base = match row.get(var) {
                Some(v) => v.clone(),
                None => {
                    return Err(Error::compile(
                        Code::SyntaxError,
                        "UndefinedVariable",
                        format!("Variable `{var}` not defined"),
                    ))
                }
            };
            if base.is_null() {
                return Ok(Val::Null);
            }
            let mut out = ValMap::new();
            for it in items {
                match it {
                    MapProjectionItem::Property(k) => {
                        out.insert(k.clone(), property(ctx.g, &base, k)?);
                    }
                    MapProjectionItem::AllProperties => {
                        for (k, v) in all_props(ctx.g, &base)? {
                            out.insert(k, v);
                        }
                    }
                    MapProjectionItem::Literal(k, x) => {
                        out.insert(k.clone(), eval(ctx, x, row)?);
                    }
                    MapProjectionItem::Variable(v) => {
                        let x = row.get(v).cloned().unwrap_or(Val::Null);
                        out.insert(v.clone(), x);
                    }
                }
            }
            Ok(Val::Map(out))
        }
        Expr::PatternComprehension {
            path_var,
            pattern,
            filter,
            map,
        } => {
            let part = PatternPart::new(path_var.clone(), (**pattern).clone());
            let mut out = Vec::new();
            pattern::match_parts(ctx, std::slice::from_ref(&part), row, &mut |r| {
                if let Some(f) = filter {
                    if !eval_pred(ctx, f, &r)? {
                        return Ok(true);
                    }
                }
                out.push(eval(ctx, map, &r)?);
                Ok(true)
            })?;
            Ok(Val::List(out))
        }
        Expr::PatternPredicate(p) => {
            let part = PatternPart::new(None, (**p).clone());
            let mut found = false;
            pattern::match_parts(ctx, std::slice::from_ref(&part), row, &mut |_| {
                found = true;
                Ok(false)
            })?;
            Ok(Val::Bool(found))
        }
        Expr::Exists(sq) => Ok(Val::Bool(subquery_count(ctx, sq, row, true)? > 0)),
        Expr::CountSubquery(sq) => {
            let n = subquery_count(ctx, sq, row, false)?;
            Ok(Val::Int(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        Expr::CollectSubquery(sq) => match &**sq {
            SubqueryPattern::Query(q) => crate::exec::run_collect_subquery(ctx, q, row),
            // The parser only builds the query form.
            SubqueryPattern::Pattern { .. } => Ok(Val::List(Vec::new())),
        },
    }
}

fn subquery_count(ctx: &Ctx, sq: &SubqueryPattern, row: &Row, first_only: bool) -> Result<usize> {
    match sq {
        SubqueryPattern::Pattern { pattern, where_ } => {
            let mut n = 0usize;
            pattern::match_parts(ctx, &pattern.parts, row, &mut |r| {
                if let Some(w) = where_ {
                    if !eval_pred(ctx, w, &r)? {
                        return Ok(true);
                    }
                }
                n += 1;
                Ok(!first_only)
            })?;
            Ok(n)
        }
        SubqueryPattern::Query(q) => {
            let rows = crate::exec::run_read_subquery(ctx, q, row)?;
            Ok(rows)
        }
    }
}

fn agg_value(ctx: &Ctx, e: &Expr) -> Result<Val> {
    match ctx.aggs.and_then(|a| a.get(&expr_id(e))) {
        Some(v) => Ok(v.clone()),
        None => Err(Error::compile(
            Code::SyntaxError,
            "InvalidAggregation",
            "Invalid use of aggregating function in this context",
        )),
    }
}

pub fn property(g: &Graph, base: &Val, key: &str) -> Result<Val> {
    match base {
        Val::Null => Ok(Val::Null),
        // Existence is only checked when the property is absent: present
        // properties imply a live entity.
        Val::Node(id) => match g.node_prop(*id, key) {
            Some(v) => Ok(Val::from_prop(v)),
            None if g.node_exists(*id) => Ok(Val::Null),
            None => Err(deleted_access("Node", *id)),
        },
        Val::Rel(id) => match g.rel_prop(*id, key) {
            Some(v) => Ok(Val::from_prop(v)),
            None if g.rel_exists(*id) => Ok(Val::Null),
            None => Err(deleted_access("Relationship", *id)),
        },
        Val::Map(m) => Ok(m.get(key).cloned().unwrap_or(Val::Null)),
        Val::Virtual(v) => Ok(virtual_props(v)
            .and_then(|m| m.get(key))
            .map_or(Val::Null, Val::from_value)),
        Val::Temporal(t) => Ok(t.field(key).unwrap_or(Val::Null)),
        Val::Duration(d) => Ok(d.field(key).unwrap_or(Val::Null)),
        Val::Point(p) => p.component(key).map(|v| Val::from_value(&v)),
        other => Err(type_error(format!(
            "Type mismatch: expected a map but was {}",
            other.type_name()
        ))),
    }
}

/// The properties of a virtual node or relationship.
pub fn virtual_props(v: &causeway_value::Value) -> Option<&causeway_value::Map> {
    match v {
        causeway_value::Value::Node(n) => Some(&n.props),
        causeway_value::Value::Relationship(r) => Some(&r.props),
        _ => None,
    }
}

pub fn deleted_access(kind: &str, id: u64) -> Error {
    Error::runtime(
        Code::EntityNotFound,
        "DeletedEntityAccess",
        format!("{kind} with id {id} has been deleted in this transaction"),
    )
}

pub fn all_props(g: &Graph, base: &Val) -> Result<Vec<(String, Val)>> {
    let m = match base {
        Val::Node(id) => g
            .node_props(*id)
            .ok_or_else(|| deleted_access("Node", *id))?,
        Val::Rel(id) => g
            .rel_props(*id)
            .ok_or_else(|| deleted_access("Relationship", *id))?,
        Val::Map(m) => return Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Val::Null => return Ok(Vec::new()),
        Val::Virtual(v) => virtual_props(v).cloned().unwrap_or_default(),
        other => {
            return Err(type_error(format!(
                "Expected a Node, Relationship or Map but got {}",
                other.type_name()
            )))
        }
    };
    Ok(m.iter()
        .map(|(k, v)| (k.clone(), Val::from_value(v)))
        .collect())
}

fn index(g: &Graph, base: &Val, idx: &Val) -> Result<Val> {
    match (base, idx) {
        (Val::Null, _) | (_, Val::Null) => Ok(Val::Null),
        (Val::List(l), Val::Int(i)) => Ok(list_get(l, *i).cloned().unwrap_or(Val::Null)),
        (Val::List(_), other) => Err(type_error(format!(
            "Expected an Integer index but got {}",
            other.type_name()
        ))),
        (Val::Map(_) | Val::Node(_) | Val::Rel(_), Val::Str(k)) => property(g, base, k),
        (Val::Map(_) | Val::Node(_) | Val::Rel(_), other) => Err(type_error(format!(
            "Expected a String key but got {}",
            other.type_name()
        ))),
        (other, _) => Err(type_error(format!(
            "Type mismatch: expected a list or map but was {}",
            other.type_name()
        ))),
    }
}

pub fn list_get(l: &[Val], i: i64) -> Option<&Val> {
    let len = i64::try_from(l.len()).ok()?;
    let j = if i < 0 { len.checked_add(i)? } else { i };
    if j < 0 || j >= len {
        return None;
    }
    l.get(usize::try_from(j).ok()?)
}

fn slice(base: &Val, from: Option<&Val>, to: Option<&Val>) -> Result<Val> {
    let l = match base {
        Val::Null => return Ok(Val::Null),
        Val::List(l) => l,
        other => {
            return Err(type_error(format!(
                "Expected a List but got {}",
                other.type_name()
            )))
        }
    };
    let len = i64::try_from(l.len()).unwrap_or(i64::MAX);
    let norm = |v: Option<&Val>, default: i64| -> Result<Option<i64>> {
        match v {
            None => Ok(Some(default)),
            Some(Val::Null) => Ok(None),
            Some(Val::Int(i)) => {
                let j = if *i < 0 { len.saturating_add(*i) } else { *i };
                Ok(Some(j.clamp(0, len)))
            }
            Some(other) => Err(type_error(format!(
                "Expected an Integer but got {}",
                other.type_name()
            ))),
        }
    };
    let (Some(a), Some(b)) = (norm(from, 0)?, norm(to, len)?) else {
        return Ok(Val::Null);
    };
    if a >= b {
        return Ok(Val::List(Vec::new()));
    }
    let (a, b) = (a as usize, b as usize);
    Ok(Val::List(l[a..b].to_vec()))
}

fn binary(ctx: &Ctx, op: BinaryOp, a: &Expr, b: &Expr, row: &Row) -> Result<Val> {
    match op {
        BinaryOp::And => {
            let l = truthy(&eval(ctx, a, row)?)?;
            if l == Some(false) {
                return Ok(Val::Bool(false));
            }
            let r = truthy(&eval(ctx, b, row)?)?;
            Ok(match (l, r) {
                (_, Some(false)) => Val::Bool(false),
                (Some(true), Some(true)) => Val::Bool(true),
                _ => Val::Null,
            })
        }
        BinaryOp::Or => {
            let l = truthy(&eval(ctx, a, row)?)?;
            if l == Some(true) {
                return Ok(Val::Bool(true));
            }
            let r = truthy(&eval(ctx, b, row)?)?;
            Ok(match (l, r) {
                (_, Some(true)) => Val::Bool(true),
                (Some(false), Some(false)) => Val::Bool(false),
                _ => Val::Null,
            })
        }
        BinaryOp::Xor => {
            let l = truthy(&eval(ctx, a, row)?)?;
            let r = truthy(&eval(ctx, b, row)?)?;
            Ok(match (l, r) {
                (Some(x), Some(y)) => Val::Bool(x != y),
                _ => Val::Null,
            })
        }
        _ => {
            let l = eval(ctx, a, row)?;
            let r = eval(ctx, b, row)?;
            binary_vals(ctx, op, &l, &r)
        }
    }
}

pub fn binary_vals(ctx: &Ctx, op: BinaryOp, l: &Val, r: &Val) -> Result<Val> {
    use std::cmp::Ordering::*;
    let cmp = |f: fn(std::cmp::Ordering) -> bool| -> Val {
        match cypher_cmp(l, r) {
            CmpResult::Ord(o) => Val::Bool(f(o)),
            CmpResult::Null => Val::Null,
            CmpResult::False => Val::Bool(false),
        }
    };
    match op {
        BinaryOp::Eq => Ok(tri(cypher_eq(l, r))),
        BinaryOp::Ne => Ok(tri(cypher_eq(l, r).map(|b| !b))),
        BinaryOp::Lt => Ok(cmp(|o| o == Less)),
        BinaryOp::Le => Ok(cmp(|o| o != Greater)),
        BinaryOp::Gt => Ok(cmp(|o| o == Greater)),
        BinaryOp::Ge => Ok(cmp(|o| o != Less)),
        BinaryOp::Add => add(l, r, ctx.sh.limits.max_list_len),
        BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Pow => {
            arith(op, l, r)
        }
        BinaryOp::In => match r {
            Val::Null => Ok(Val::Null),
            Val::List(items) => {
                if l.is_null() {
                    return Ok(if items.is_empty() {
                        Val::Bool(false)
                    } else {
                        Val::Null
                    });
                }
                let mut unknown = false;
                for it in items {
                    match cypher_eq(l, it) {
                        Some(true) => return Ok(Val::Bool(true)),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                Ok(if unknown { Val::Null } else { Val::Bool(false) })
            }
            other => Err(type_error(format!(
                "Expected a List for IN but got {}",
                other.type_name()
            ))),
        },
        BinaryOp::StartsWith | BinaryOp::EndsWith | BinaryOp::Contains => match (l, r) {
            (Val::Str(x), Val::Str(y)) => Ok(Val::Bool(match op {
                BinaryOp::StartsWith => x.starts_with(y.as_str()),
                BinaryOp::EndsWith => x.ends_with(y.as_str()),
                _ => x.contains(y.as_str()),
            })),
            _ => Ok(Val::Null),
        },
        BinaryOp::RegexMatch => match (l, r) {
            (Val::Str(x), Val::Str(p)) => Ok(Val::Bool(ctx.sh.regex(p)?.is_match(x))),
            _ => Ok(Val::Null),
        },
        BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => {
            let (x, y) = (truthy(l)?, truthy(r)?);
            Ok(match op {
                BinaryOp::And => match (x, y) {
                    (Some(false), _) | (_, Some(false)) => Val::Bool(false),
                    (Some(true), Some(true)) => Val::Bool(true),
                    _ => Val::Null,
                },
                BinaryOp::Or => match (x, y) {
                    (Some(true), _) | (_, Some(true)) => Val::Bool(true),
                    (Some(false), Some(false)) => Val::Bool(false),
                    _ => Val::Null,
                },
                _ => match (x, y) {
                    (Some(p), Some(q)) => Val::Bool(p != q),
                    _ => Val::Null,
                },
            })
        }
    }
}

fn add(l: &Val, r: &Val, max_list: usize) -> Result<Val> {
    match (l, r) {
        (Val::Temporal(t), Val::Duration(d)) | (Val::Duration(d), Val::Temporal(t)) => {
            Ok(Val::Temporal(crate::duration::add_to(t, d)?))
        }
        (Val::Duration(a), Val::Duration(b)) => Ok(Val::Duration(Box::new(a.add(b)?))),
        (Val::List(a), Val::List(b)) => {
            if a.len().saturating_add(b.len()) > max_list {
                return Err(list_too_long());
            }
            let mut out = a.clone();
            out.extend(b.iter().cloned());
            Ok(Val::List(out))
        }
        (Val::List(a), x) => {
            let mut out = a.clone();
            out.push(x.clone());
            Ok(Val::List(out))
        }
        (x, Val::List(b)) => {
            let mut out = Vec::with_capacity(b.len() + 1);
            out.push(x.clone());
            out.extend(b.iter().cloned());
            Ok(Val::List(out))
        }
        (Val::Null, _) | (_, Val::Null) => Ok(Val::Null),
        (Val::Str(a), Val::Str(b)) => {
            if a.len().saturating_add(b.len()) > MAX_STRING_BYTES {
                return Err(string_too_long());
            }
            Ok(Val::Str(format!("{a}{b}")))
        }
        (Val::Str(a), x @ (Val::Int(_) | Val::Float(_) | Val::Bool(_))) => {
            Ok(Val::Str(format!("{a}{}", functions::to_string_repr(x))))
        }
        (x @ (Val::Int(_) | Val::Float(_) | Val::Bool(_)), Val::Str(b)) => {
            Ok(Val::Str(format!("{}{b}", functions::to_string_repr(x))))
        }
        (Val::Int(a), Val::Int(b)) => a.checked_add(*b).map(Val::Int).ok_or_else(overflow),
        (Val::Int(_) | Val::Float(_), Val::Int(_) | Val::Float(_)) => {
            Ok(Val::Float(as_f64(l) + as_f64(r)))
        }
        _ => Err(type_error(format!(
            "Cannot add {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

/// Strings built by a query (concatenation in a loop doubles quickly) are
/// capped so that one statement cannot exhaust memory.
pub const MAX_STRING_BYTES: usize = 256 << 20;

pub fn string_too_long() -> Error {
    Error::new(
        Code::MemoryPoolOutOfMemory,
        "The string exceeds the maximum allowed length",
    )
}

/// The labels or types a `$(...)` term names: a non-empty string, or a
/// list of them; anything else (null and `''` included) is a type error, as
/// in Neo4j, where a token name cannot be empty.
pub fn dynamic_labels(v: Val) -> Result<Vec<String>> {
    let bad = |v: &Val| {
        let what = match v {
            Val::Null => "NULL",
            Val::Str(_) => "an empty String",
            other => other.type_name(),
        };
        type_error(format!(
            "A dynamic label or type must be a non-empty String or a List of them, but was {what}"
        ))
    };
    let items = match v {
        Val::List(items) => items,
        single => vec![single],
    };
    items
        .into_iter()
        .map(|x| match x {
            Val::Str(s) if !s.is_empty() => Ok(s),
            other => Err(bad(&other)),
        })
        .collect()
}

pub fn list_too_long() -> Error {
    Error::new(
        Code::MemoryPoolOutOfMemory,
        "The list exceeds the maximum allowed length",
    )
}

pub fn as_f64(v: &Val) -> f64 {
    match v {
        Val::Int(i) => *i as f64,
        Val::Float(f) => *f,
        _ => f64::NAN,
    }
}

fn arith(op: BinaryOp, l: &Val, r: &Val) -> Result<Val> {
    match (op, l, r) {
        (BinaryOp::Sub, Val::Temporal(t), Val::Duration(d)) => {
            return Ok(Val::Temporal(crate::duration::add_to(t, &d.neg()?)?))
        }
        (BinaryOp::Sub, Val::Duration(a), Val::Duration(b)) => {
            return Ok(Val::Duration(Box::new(a.add(&b.neg()?)?)))
        }
        (BinaryOp::Mul, Val::Duration(d), n @ (Val::Int(_) | Val::Float(_)))
        | (BinaryOp::Mul, n @ (Val::Int(_) | Val::Float(_)), Val::Duration(d)) => {
            return Ok(Val::Duration(Box::new(d.scale(as_f64(n))?)))
        }
        (BinaryOp::Div, Val::Duration(d), n @ (Val::Int(_) | Val::Float(_))) => {
            let f = as_f64(n);
            if f == 0.0 {
                return Err(div_zero());
            }
            return Ok(Val::Duration(Box::new(d.scale(1.0 / f)?)));
        }
        _ => {}
    }
    match (l, r) {
        (Val::Null, _) | (_, Val::Null) => Ok(Val::Null),
        (Val::Int(a), Val::Int(b)) => {
            let (a, b) = (*a, *b);
            match op {
                BinaryOp::Sub => a.checked_sub(b).map(Val::Int).ok_or_else(overflow),
                BinaryOp::Mul => a.checked_mul(b).map(Val::Int).ok_or_else(overflow),
                BinaryOp::Div => {
                    if b == 0 {
                        Err(div_zero())
                    } else {
                        a.checked_div(b).map(Val::Int).ok_or_else(overflow)
                    }
                }
                BinaryOp::Mod => {
                    if b == 0 {
                        Err(div_zero())
                    } else {
                        Ok(Val::Int(a.checked_rem(b).unwrap_or(0)))
                    }
                }
                _ => Ok(Val::Float((a as f64).powf(b as f64))),
            }
        }
        (Val::Int(_) | Val::Float(_), Val::Int(_) | Val::Float(_)) => {
            let (a, b) = (as_f64(l), as_f64(r));
            Ok(Val::Float(match op {
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                BinaryOp::Mod => a % b,
                _ => a.powf(b),
            }))
        }
        _ => Err(type_error(format!(
            "Cannot apply arithmetic to {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn div_zero() -> Error {
    Error::runtime(Code::ArithmeticError, "DivisionByZero", "/ by zero")
}

pub fn rel_type(ctx: &Ctx, id: u64) -> Result<String> {
    if let Some(r) = ctx.g.rel(id) {
        return Ok(r.rel_type.to_owned());
    }
    if let Ok(d) = ctx.sh.deleted_rel_types.lock() {
        if let Some(t) = d.get(&id) {
            return Ok(t.clone());
        }
    }
    Err(deleted_access("Relationship", id))
}
