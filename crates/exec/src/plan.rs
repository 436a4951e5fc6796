//! EXPLAIN / PROFILE: describes, as Bolt plan maps, the operators the
//! executor uses for a query, including the access path chosen per pattern.

use crate::eval::{contains_aggregate, Ctx};
use crate::pattern::{choose_anchor, hints, Access};
use crate::val::{Row, Val};
use causeway_cypher::ast::*;
use causeway_value::{Map, Value};

struct Op {
    rows: Option<usize>,
    name: String,
    ids: Vec<String>,
    details: String,
    children: Vec<Op>,
}

fn op(name: &str, ids: &[String], details: impl Into<String>, children: Vec<Op>) -> Op {
    Op {
        rows: None,
        name: name.to_owned(),
        ids: ids.to_vec(),
        details: details.into(),
        children,
    }
}

pub fn leaf(name: &str, ids: &[String]) -> Map {
    to_map(&op(name, ids, "", Vec::new()), false, true)
}

fn to_map(o: &Op, profile: bool, top: bool) -> Map {
    let rows = if profile {
        Some(o.rows.unwrap_or(0))
    } else {
        None
    };
    let mut m = Map::new();
    m.insert(
        "operatorType".into(),
        Value::String(format!("{}@causeway", o.name)),
    );
    m.insert(
        "identifiers".into(),
        Value::List(o.ids.iter().map(|s| Value::String(s.clone())).collect()),
    );
    let mut args = Map::new();
    if !o.details.is_empty() {
        args.insert("Details".into(), Value::String(o.details.clone()));
    }
    args.insert("EstimatedRows".into(), Value::Float(1.0));
    if top {
        args.insert("planner".into(), Value::String("COST".into()));
        args.insert("runtime".into(), Value::String("CAUSEWAY".into()));
        args.insert("runtime-impl".into(), Value::String("CAUSEWAY".into()));
        args.insert("version".into(), Value::String("CYPHER 5".into()));
    }
    if let Some(r) = rows {
        let r = i64::try_from(r).unwrap_or(i64::MAX);
        args.insert("Rows".into(), Value::Int(r));
        args.insert("DbHits".into(), Value::Int(0));
        m.insert("rows".into(), Value::Int(r));
        m.insert("dbHits".into(), Value::Int(0));
        m.insert("pageCacheHits".into(), Value::Int(0));
        m.insert("pageCacheMisses".into(), Value::Int(0));
        m.insert("time".into(), Value::Int(0));
    }
    m.insert("args".into(), Value::Map(args));
    m.insert(
        "children".into(),
        Value::List(
            o.children
                .iter()
                .map(|c| Value::Map(to_map(c, profile, false)))
                .collect(),
        ),
    );
    m
}

/// Column names of a query's result, as far as they are known statically.
pub fn fields(q: &Query) -> Vec<String> {
    let Some(part) = q.parts.first() else {
        return Vec::new();
    };
    match part.clauses.last() {
        Some(Clause::Return(p)) => p.items.iter().map(|i| i.name().to_owned()).collect(),
        _ => Vec::new(),
    }
}

type Counts<'a> = Option<(usize, &'a std::collections::HashMap<usize, usize>)>;

pub fn describe(ctx: &Ctx, q: &Query, profile: Counts) -> Map {
    let counts = profile.map(|(_, c)| c);
    let mut parts: Vec<Op> = q.parts.iter().map(|p| single(ctx, p, counts)).collect();
    let body = if parts.len() == 1 {
        parts.remove(0)
    } else {
        let mut cur = parts.remove(0);
        for p in parts {
            cur = op("Union", &[], "", vec![cur, p]);
        }
        if q.union_all.iter().any(|a| !a) {
            cur = op("Distinct", &[], "", vec![cur]);
        }
        cur
    };
    let ids = body.ids.clone();
    let name = match q.parts.last().and_then(|p| p.clauses.last()) {
        Some(Clause::Return(_)) | Some(Clause::Call { .. }) => "ProduceResults",
        _ => "EmptyResult",
    };
    let mut top = op(name, &ids, "", vec![body]);
    top.rows = profile.map(|(n, _)| n);
    to_map(&top, profile.is_some(), true)
}

fn single(
    ctx: &Ctx,
    sq: &SingleQuery,
    counts: Option<&std::collections::HashMap<usize, usize>>,
) -> Op {
    let mut scope: Vec<String> = Vec::new();
    let mut cur: Option<Op> = None;
    let mut pending = sq.clauses.iter().enumerate();
    while let Some((i, mut c)) = pending.next() {
        let tally = sq
            .clauses
            .get(i + 1)
            .and_then(|n| crate::counts::tally(c, n, &scope));
        let mut next = match tally {
            Some(t) => {
                // As the executor does: the MATCH and its projection are
                // one operator.
                c = &sq.clauses[i + 1];
                pending.next();
                if let Clause::With(p) | Clause::Return(p) = c {
                    scope = p.items.iter().map(|i| i.name().to_owned()).collect();
                }
                let (name, details) = t.describe();
                chain(name, &scope, details, cur.take())
            }
            None => clause(ctx, c, &mut scope, cur.take()),
        };
        next.rows = counts.and_then(|m| m.get(&(c as *const Clause as usize)).copied());
        cur = Some(next);
    }
    cur.unwrap_or_else(|| op("Argument", &[], "", Vec::new()))
}

fn chain(name: &str, scope: &[String], details: impl Into<String>, child: Option<Op>) -> Op {
    op(name, scope, details, child.into_iter().collect())
}

fn clause(ctx: &Ctx, c: &Clause, scope: &mut Vec<String>, child: Option<Op>) -> Op {
    match c {
        Clause::Match {
            optional,
            pattern,
            where_,
        } => {
            let hs = hints(where_.as_ref());
            let mut bound = Row::default();
            for v in scope.iter() {
                bound.set(v, Val::Null);
            }
            let mut cur = child;
            let mut inner: Option<Op> = None;
            for part in &pattern.parts {
                let el = &part.element;
                let anchor = choose_anchor(ctx, &hs, part, &bound);
                let anchor_np = if anchor.index == 0 {
                    &el.start
                } else {
                    &el.chain[anchor.index - 1].1
                };
                let var = anchor_np.var.clone().unwrap_or_else(|| "anon".into());
                for v in [&anchor_np.var, &el.start.var].into_iter().flatten() {
                    if !scope.contains(v) {
                        scope.push(v.clone());
                    }
                    bound.set(v, Val::Null);
                }
                let mut node = match (anchor.via_rel, anchor.access) {
                    (Some((r, _)), _) => {
                        let rp = &el.chain[r].0;
                        let name = if rp.direction == Direction::Both {
                            "UndirectedRelationshipTypeScan"
                        } else {
                            "DirectedRelationshipTypeScan"
                        };
                        let leaf = op(
                            name,
                            std::slice::from_ref(&var),
                            format!("[:{}]", rp.types.join("|")),
                            Vec::new(),
                        );
                        Some(join(inner.take(), leaf, scope))
                    }
                    (None, access) => match access {
                        Access::Bound => inner.take(),
                        Access::ById => {
                            let leaf = op(
                                "NodeByIdSeek",
                                std::slice::from_ref(&var),
                                var.clone(),
                                Vec::new(),
                            );
                            Some(join(inner.take(), leaf, scope))
                        }
                        Access::IndexSeek {
                            label,
                            prop,
                            unique,
                        } => {
                            let name = if unique {
                                "NodeUniqueIndexSeek"
                            } else {
                                "NodeIndexSeek"
                            };
                            let leaf = op(
                                name,
                                std::slice::from_ref(&var),
                                format!("RANGE INDEX {var}:{label}({prop})"),
                                Vec::new(),
                            );
                            Some(join(inner.take(), leaf, scope))
                        }
                        Access::CompositeSeek { label, props } => {
                            let leaf = op(
                                "NodeIndexSeek",
                                std::slice::from_ref(&var),
                                format!("RANGE INDEX {var}:{label}({})", props.join(", ")),
                                Vec::new(),
                            );
                            Some(join(inner.take(), leaf, scope))
                        }
                        Access::IndexRange { label, prop }
                        | Access::IndexPrefix { label, prop } => {
                            let leaf = op(
                                "NodeIndexSeekByRange",
                                std::slice::from_ref(&var),
                                format!("RANGE INDEX {var}:{label}({prop})"),
                                Vec::new(),
                            );
                            Some(join(inner.take(), leaf, scope))
                        }
                        Access::PointSeek { label, prop } => {
                            let leaf = op(
                                "NodeIndexSeekByRange",
                                std::slice::from_ref(&var),
                                format!("POINT INDEX {var}:{label}({prop})"),
                                Vec::new(),
                            );
                            Some(join(inner.take(), leaf, scope))
                        }
                        Access::LabelScan(l) => {
                            let leaf = op(
                                "NodeByLabelScan",
                                std::slice::from_ref(&var),
                                format!("{var}:{l}"),
                                Vec::new(),
                            );
                            Some(join(inner.take(), leaf, scope))
                        }
                        Access::AllNodes => {
                            let leaf = op(
                                "AllNodesScan",
                                std::slice::from_ref(&var),
                                var.clone(),
                                Vec::new(),
                            );
                            Some(join(inner.take(), leaf, scope))
                        }
                    },
                };
                for (rp, np) in &el.chain {
                    let into = np.var.as_ref().map(|v| bound.contains(v)).unwrap_or(false);
                    let group = rp.quantified.as_ref().map(|q| q.element.variables());
                    let vars = [rp.var.as_deref(), np.var.as_deref()];
                    for v in vars
                        .into_iter()
                        .flatten()
                        .chain(group.into_iter().flatten())
                    {
                        if !scope.iter().any(|s| s == v) {
                            scope.push(v.to_string());
                        }
                        bound.set(v, Val::Null);
                    }
                    let name = match (rp.length.is_some() || rp.quantified.is_some(), into) {
                        _ if rp.quantified.is_some() && part.selector.is_none() => "Repeat(Trail)",
                        (true, true) => "VarLengthExpand(Into)",
                        (true, false) => "VarLengthExpand(All)",
                        (false, true) => "Expand(Into)",
                        (false, false) => "Expand(All)",
                    };
                    node = Some(chain(name, scope, "", node));
                }
                if let Some(pv) = &part.var {
                    if !scope.contains(pv) {
                        scope.push(pv.clone());
                    }
                    bound.set(pv, Val::Null);
                    if part.shortest.is_some() {
                        node = Some(chain("ShortestPath", scope, "", node));
                    }
                }
                if part.selector.is_some() {
                    node = Some(chain("StatefulShortestPath(All)", scope, "", node));
                }
                inner = node;
            }
            if where_.is_some() {
                inner = Some(chain("Filter", scope, "", inner));
            }
            let matched = inner.unwrap_or_else(|| op("Argument", scope, "", Vec::new()));
            let matched = if *optional {
                op("Optional", scope, "", vec![matched])
            } else {
                matched
            };
            match cur.take() {
                Some(prev) if *optional => op("Apply", scope, "", vec![prev, matched]),
                Some(prev) => op("Apply", scope, "", vec![prev, matched]),
                None => matched,
            }
        }
        Clause::Unwind { var, .. } => {
            scope.push(var.clone());
            chain("Unwind", scope, "", child)
        }
        Clause::With(p) | Clause::Return(p) => {
            let aggregating = p.items.iter().any(|i| contains_aggregate(&i.expr));
            let mut names: Vec<String> = if p.star { scope.clone() } else { Vec::new() };
            names.extend(p.items.iter().map(|i| i.name().to_owned()));
            *scope = names;
            let mut cur = Some(chain(
                if aggregating {
                    "EagerAggregation"
                } else {
                    "Projection"
                },
                scope,
                "",
                child,
            ));
            if p.distinct {
                cur = Some(chain("Distinct", scope, "", cur));
            }
            if !p.order_by.is_empty() {
                let name = if p.limit.is_some() { "Top" } else { "Sort" };
                cur = Some(chain(name, scope, "", cur));
            }
            if p.skip.is_some() {
                cur = Some(chain("Skip", scope, "", cur));
            }
            if p.limit.is_some() && p.order_by.is_empty() {
                cur = Some(chain("Limit", scope, "", cur));
            }
            if p.where_.is_some() {
                cur = Some(chain("Filter", scope, "", cur));
            }
            cur.unwrap_or_else(|| op("Projection", scope, "", Vec::new()))
        }
        Clause::Create(p) => {
            add_pattern_vars(p, scope);
            chain("Create", scope, "", child)
        }
        Clause::Merge { part, .. } => {
            add_pattern_vars(
                &Pattern {
                    parts: vec![part.clone()],
                },
                scope,
            );
            chain("Merge", scope, "", child)
        }
        Clause::Set(_) => chain("SetProperty", scope, "", child),
        Clause::Remove(_) => chain("RemoveLabels", scope, "", child),
        Clause::Delete { detach, .. } => chain(
            if *detach { "DetachDelete" } else { "Delete" },
            scope,
            "",
            child,
        ),
        Clause::Foreach { .. } => chain("Foreach", scope, "", child),
        Clause::Call {
            procedure,
            yield_items,
            ..
        } => {
            if let Some(YieldSpec::Items(items)) = yield_items {
                for (_, v) in items {
                    scope.push(v.clone());
                }
            }
            chain("ProcedureCall", scope, procedure.clone(), child)
        }
        Clause::CallSubquery { .. } => chain("Apply", scope, "", child),
    }
}

fn join(prev: Option<Op>, leaf: Op, scope: &[String]) -> Op {
    match prev {
        Some(p) => op("CartesianProduct", scope, "", vec![p, leaf]),
        None => leaf,
    }
}

fn add_pattern_vars(p: &Pattern, scope: &mut Vec<String>) {
    let mut vs = Vec::new();
    crate::exec::pattern_vars(p, &mut vs);
    for v in vs {
        if !scope.contains(&v) {
            scope.push(v);
        }
    }
}
