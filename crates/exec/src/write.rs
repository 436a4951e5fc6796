//! Updating clauses, applied row by row to the transaction.

use crate::eval::{all_props, eval, Ctx, Shared};
use crate::pattern;
use crate::val::*;
use causeway_cypher::ast::*;
use causeway_graph::{Graph, TxGraph};
use causeway_value::{Code, Error, Map, Result, Value};
use std::sync::Arc;

fn ctx<'a>(g: &'a Graph, sh: &'a Arc<Shared>) -> Ctx<'a> {
    Ctx {
        g,
        sh,
        aggs: None,
        joins: None,
    }
}

fn invalid_prop(v: &Val) -> Error {
    Error::runtime(
        Code::TypeError,
        "InvalidPropertyType",
        format!(
            "Property values can only be of primitive types or arrays thereof, got {}",
            v.type_name()
        ),
    )
}

/// Converts a value to a storable property value.
pub fn to_prop(v: &Val) -> Result<Value> {
    Ok(match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Int(i) => Value::Int(*i),
        Val::Float(f) => Value::Float(*f),
        Val::Str(s) => Value::String(s.clone()),
        Val::Bytes(b) => Value::Bytes(b.clone()),
        Val::Temporal(t) => temporal_to_value(t),
        Val::Duration(d) => duration_to_value(d),
        Val::Point(p) => Value::Point(**p),
        Val::List(l) => {
            // Stored lists are homogeneous, as Neo4j's property arrays are
            // (integers and floats count as one kind here).
            // Each temporal type is a kind of its own.
            let kind = |x: &Val| match x {
                Val::Int(_) | Val::Float(_) => 0,
                Val::Bool(_) => 1,
                Val::Str(_) => 2,
                Val::Duration(_) => 3,
                Val::Temporal(t) => 10 + t.kind as u8,
                // One coordinate system per point array, as in Neo4j.
                Val::Point(p) => 20 + u8::try_from(p.srid % 200).unwrap_or(0),
                _ => 4,
            };
            if let Some(first) = l.first() {
                if l.iter().any(|x| kind(x) != kind(first)) {
                    return Err(Error::runtime(
                        Code::TypeError,
                        "InvalidPropertyType",
                        "Collections containing mixed types can not be stored in properties",
                    ));
                }
            }
            let mut out = Vec::with_capacity(l.len());
            for x in l {
                match x {
                    Val::Bool(_)
                    | Val::Int(_)
                    | Val::Float(_)
                    | Val::Str(_)
                    | Val::Temporal(_)
                    | Val::Duration(_)
                    | Val::Point(_) => out.push(to_prop(x)?),
                    other => return Err(invalid_prop(other)),
                }
            }
            Value::List(out)
        }
        other => return Err(invalid_prop(other)),
    })
}

fn eval_props(
    tx: &TxGraph,
    sh: &Arc<Shared>,
    e: Option<&Expr>,
    row: &Row,
    for_merge: bool,
) -> Result<Map> {
    let mut out = Map::new();
    let Some(e) = e else { return Ok(out) };
    let c = ctx(tx, sh);
    match eval(&c, e, row)? {
        Val::Map(m) => {
            for (k, v) in m {
                if v.is_null() {
                    if for_merge {
                        return Err(Error::runtime(
                            Code::SemanticError,
                            "MergeReadOwnWrites",
                            format!(
                                "Cannot merge the following node because of null property value for '{k}'"
                            ),
                        ));
                    }
                    continue;
                }
                out.insert(k, to_prop(&v)?);
            }
        }
        Val::Null => {}
        other => {
            return Err(type_error(format!(
                "Expected a map of properties but got {}",
                other.type_name()
            )))
        }
    }
    Ok(out)
}

fn node_for(
    tx: &mut TxGraph,
    sh: &Arc<Shared>,
    np: &NodePattern,
    row: &mut Row,
    for_merge: bool,
) -> Result<u64> {
    if let Some(v) = &np.var {
        if let Some(b) = row.get(v) {
            return match b {
                Val::Node(id) => Ok(*id),
                Val::Null => Err(Error::runtime(
                    Code::SemanticError,
                    "InvalidArgumentType",
                    format!("Failed to create relationship, node `{v}` is null"),
                )),
                other => Err(type_error(format!(
                    "Variable `{v}` is not a node but a {}",
                    other.type_name()
                ))),
            };
        }
    }
    let props = eval_props(tx, sh, np.props.as_ref(), row, for_merge)?;
    let id = tx.create_node(&np.labels, props)?;
    if let Some(v) = &np.var {
        row.set(v, Val::Node(id));
    }
    Ok(id)
}

pub fn create_pattern(
    tx: &mut TxGraph,
    sh: &Arc<Shared>,
    parts: &[PatternPart],
    row: Row,
) -> Result<Row> {
    if !parts.iter().any(has_dynamic) {
        return create_parts(tx, sh, parts, row, false);
    }
    let parts = parts
        .iter()
        .map(|p| resolve_dynamic(tx, sh, p, &row))
        .collect::<Result<Vec<_>>>()?;
    create_parts(tx, sh, &parts, row, false)
}

fn has_dynamic(part: &PatternPart) -> bool {
    let el = &part.element;
    !el.start.dynamic_labels.is_empty()
        || el
            .chain
            .iter()
            .any(|(r, n)| r.dynamic_type.is_some() || !n.dynamic_labels.is_empty())
}

/// The part with its `$(expr)` labels and types evaluated for this row:
/// a label term gives a string or a list of strings, a type term exactly
/// one string.
fn resolve_dynamic(
    tx: &TxGraph,
    sh: &Arc<Shared>,
    part: &PatternPart,
    row: &Row,
) -> Result<PatternPart> {
    let c = ctx(tx, sh);
    let node = |np: &NodePattern| -> Result<NodePattern> {
        let mut np = np.clone();
        for e in std::mem::take(&mut np.dynamic_labels) {
            for l in crate::eval::dynamic_labels(eval(&c, &e, row)?)? {
                if !np.labels.contains(&l) {
                    np.labels.push(l);
                }
            }
        }
        Ok(np)
    };
    let mut out = part.clone();
    out.element.start = node(&part.element.start)?;
    for (i, (r, n)) in part.element.chain.iter().enumerate() {
        out.element.chain[i].1 = node(n)?;
        if let Some(e) = &r.dynamic_type {
            let types = crate::eval::dynamic_labels(eval(&c, e, row)?)?;
            let [t] = types.as_slice() else {
                return Err(Error::compile(
                    Code::SyntaxError,
                    "NoSingleRelationshipType",
                    format!(
                        "Exactly one relationship type must be specified for CREATE, got {}",
                        types.len()
                    ),
                ));
            };
            out.element.chain[i].0.types = vec![t.clone()];
            out.element.chain[i].0.dynamic_type = None;
        }
    }
    Ok(out)
}

fn create_parts(
    tx: &mut TxGraph,
    sh: &Arc<Shared>,
    parts: &[PatternPart],
    mut row: Row,
    for_merge: bool,
) -> Result<Row> {
    for part in parts {
        let el = &part.element;
        let mut cur = node_for(tx, sh, &el.start, &mut row, for_merge)?;
        let mut pn = vec![cur];
        let mut pr = Vec::new();
        for (rp, np) in &el.chain {
            let next = node_for(tx, sh, np, &mut row, for_merge)?;
            let Some(t) = rp.types.first() else {
                return Err(Error::compile(
                    Code::SyntaxError,
                    "NoSingleRelationshipType",
                    "Exactly one relationship type must be specified for CREATE",
                ));
            };
            if let Some(v) = &rp.var {
                if row.contains(v) {
                    return Err(Error::compile(
                        Code::SyntaxError,
                        "VariableAlreadyBound",
                        format!("Can't create `{v}` because it is already bound"),
                    ));
                }
            }
            let props = eval_props(tx, sh, rp.props.as_ref(), &row, for_merge)?;
            let (s, e) = match rp.direction {
                Direction::Incoming => (next, cur),
                _ => (cur, next),
            };
            let rid = tx.create_rel(s, e, t, props)?;
            if let Some(v) = &rp.var {
                row.set(v, Val::Rel(rid));
            }
            pr.push(rid);
            pn.push(next);
            cur = next;
        }
        if let Some(v) = &part.var {
            row.set(
                v,
                Val::Path(Box::new(PathVal {
                    nodes: pn,
                    rels: pr,
                })),
            );
        }
    }
    Ok(row)
}

pub fn merge(
    tx: &mut TxGraph,
    sh: &Arc<Shared>,
    part: &PatternPart,
    on_create: &[SetItem],
    on_match: &[SetItem],
    row: Row,
) -> Result<Vec<Row>> {
    let resolved;
    let part = if has_dynamic(part) {
        resolved = resolve_dynamic(tx, sh, part, &row)?;
        &resolved
    } else {
        part
    };
    let matches = {
        let c = ctx(tx, sh);
        let mut v = Vec::new();
        pattern::match_parts(&c, std::slice::from_ref(part), &row, &mut |r| {
            v.push(r);
            Ok(true)
        })?;
        v
    };
    if !matches.is_empty() {
        for r in &matches {
            set_items(tx, sh, on_match, r)?;
        }
        return Ok(matches);
    }
    let r = create_parts(tx, sh, std::slice::from_ref(part), row, true)?;
    set_items(tx, sh, on_create, &r)?;
    Ok(vec![r])
}

fn set_prop(tx: &mut TxGraph, target: &Val, key: &str, v: Value) -> Result<()> {
    match target {
        Val::Null => Ok(()),
        Val::Node(id) => tx.set_node_prop(*id, key, v),
        Val::Rel(id) => tx.set_rel_prop(*id, key, v),
        other => Err(type_error(format!(
            "Expected a Node or Relationship but got {}",
            other.type_name()
        ))),
    }
}

fn var_val(row: &Row, v: &str) -> Result<Val> {
    row.get(v).cloned().ok_or_else(|| {
        Error::compile(
            Code::SyntaxError,
            "UndefinedVariable",
            format!("Variable `{v}` not defined"),
        )
    })
}

pub fn set_items(tx: &mut TxGraph, sh: &Arc<Shared>, items: &[SetItem], row: &Row) -> Result<()> {
    for item in items {
        match item {
            SetItem::Property { target, key, value } => {
                let (t, v) = {
                    let c = ctx(tx, sh);
                    (eval(&c, target, row)?, eval(&c, value, row)?)
                };
                if t.is_null() {
                    continue;
                }
                let v = to_prop(&v)?;
                set_prop(tx, &t, key, v)?;
            }
            SetItem::Replace { var, value } | SetItem::Merge { var, value } => {
                let t = var_val(row, var)?;
                if t.is_null() {
                    continue;
                }
                let (new, old) = {
                    let c = ctx(tx, sh);
                    let v = eval(&c, value, row)?;
                    let new = match &v {
                        Val::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                        Val::Node(_) | Val::Rel(_) => all_props(tx, &v)?,
                        Val::Null => Vec::new(),
                        other => {
                            return Err(type_error(format!(
                                "Expected a map but got {}",
                                other.type_name()
                            )))
                        }
                    };
                    let old = all_props(tx, &t)?;
                    (new, old)
                };
                if matches!(item, SetItem::Replace { .. }) {
                    for (k, _) in old {
                        if !new.iter().any(|(nk, nv)| *nk == k && !nv.is_null()) {
                            set_prop(tx, &t, &k, Value::Null)?;
                        }
                    }
                }
                for (k, v) in new {
                    let v = to_prop(&v)?;
                    set_prop(tx, &t, &k, v)?;
                }
            }
            SetItem::Labels {
                var,
                labels,
                dynamic,
            } => match var_val(row, var)? {
                Val::Null => {}
                Val::Node(id) => {
                    for l in labels.iter().chain(&dynamic_labels(tx, sh, dynamic, row)?) {
                        tx.add_label(id, l)?;
                    }
                }
                other => {
                    return Err(type_error(format!(
                        "Expected a Node but got {}",
                        other.type_name()
                    )))
                }
            },
        }
    }
    Ok(())
}

/// The labels `:$(expr)` name for this row, from every expression.
fn dynamic_labels(
    tx: &TxGraph,
    sh: &Arc<Shared>,
    exprs: &[Expr],
    row: &Row,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in exprs {
        let v = eval(&ctx(tx, sh), e, row)?;
        out.extend(crate::eval::dynamic_labels(v)?);
    }
    Ok(out)
}

pub fn remove_items(
    tx: &mut TxGraph,
    sh: &Arc<Shared>,
    items: &[RemoveItem],
    row: &Row,
) -> Result<()> {
    for item in items {
        match item {
            RemoveItem::Property { target, key } => {
                let t = {
                    let c = ctx(tx, sh);
                    eval(&c, target, row)?
                };
                set_prop(tx, &t, key, Value::Null)?;
            }
            RemoveItem::Labels {
                var,
                labels,
                dynamic,
            } => match var_val(row, var)? {
                Val::Null => {}
                Val::Node(id) => {
                    for l in labels.iter().chain(&dynamic_labels(tx, sh, dynamic, row)?) {
                        tx.remove_label(id, l)?;
                    }
                }
                other => {
                    return Err(type_error(format!(
                        "Expected a Node but got {}",
                        other.type_name()
                    )))
                }
            },
        }
    }
    Ok(())
}

fn collect_targets(v: Val, nodes: &mut Vec<u64>, rels: &mut Vec<u64>) -> Result<()> {
    match v {
        Val::Null => {}
        Val::Node(id) => nodes.push(id),
        Val::Rel(id) => rels.push(id),
        Val::Path(p) => {
            nodes.extend(p.nodes);
            rels.extend(p.rels);
        }
        Val::List(l) => {
            for x in l {
                collect_targets(x, nodes, rels)?;
            }
        }
        other => {
            return Err(type_error(format!(
                "Expected a Node, Relationship or Path but got {}",
                other.type_name()
            )))
        }
    }
    Ok(())
}

pub fn delete(
    tx: &mut TxGraph,
    sh: &Arc<Shared>,
    exprs: &[Expr],
    detach: bool,
    rows: &[Row],
) -> Result<()> {
    let mut nodes = Vec::new();
    let mut rels = Vec::new();
    {
        let c = ctx(tx, sh);
        for row in rows {
            for e in exprs {
                let v = eval(&c, e, row)?;
                collect_targets(v, &mut nodes, &mut rels)?;
            }
        }
    }
    // Relationships first, so that nodes deleted together with all their
    // relationships in one clause need no DETACH.
    for r in rels {
        if let Some(rr) = tx.rel(r) {
            if let Ok(mut d) = sh.deleted_rel_types.lock() {
                d.insert(r, rr.rel_type.to_owned());
            }
        }
        if tx.rel_exists(r) {
            tx.delete_rel(r)?;
        }
    }
    for n in nodes {
        if tx.node_exists(n) {
            tx.delete_node(n, detach)?;
        }
    }
    Ok(())
}
