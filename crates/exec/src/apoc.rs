//! The APOC write procedures graph-building libraries call (LangChain's
//! `add_graph_documents`, neo4j-graphrag's KG writer, llama-index's property
//! graph store): `apoc.merge.node`, `apoc.merge.relationship` and a few
//! `apoc.create.*`. Each acts as the Cypher it stands for (a MERGE with
//! `ON CREATE SET +=` / `ON MATCH SET +=`, a CREATE, a SET) inside the
//! calling transaction, so its writes count in the statement's counters and
//! are seen by the next row.

use std::borrow::Cow;

use causeway_graph::{Dir, Graph, TxGraph};
use causeway_value::{Code, Error, Map, Result, Value};

use crate::val::{cypher_eq, key_of, total_cmp, Val, ValMap};

pub(crate) fn failed(procedure: &str, why: &str) -> Error {
    Error::new(
        Code::ProcedureCallFailed,
        format!(
            "Failed to invoke procedure `{procedure}`: Caused by: \
             java.lang.IllegalArgumentException: {why}"
        ),
    )
}

/// A MAP argument; null (or absent) is the empty map.
pub(crate) fn map_arg(v: Option<&Value>) -> Map {
    match v {
        Some(Value::Map(m)) => m.clone(),
        _ => Map::new(),
    }
}

/// Cypher equality for stored values: 1 = 1.0.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => *i as f64 == *f,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

/// `n += props` on a node: a null value removes the property.
fn set_all_node(tx: &mut TxGraph, id: u64, props: &Map) -> Result<()> {
    for (k, v) in props {
        tx.set_node_prop(id, k, v.clone())?;
    }
    Ok(())
}

fn set_all_rel(tx: &mut TxGraph, id: u64, props: &Map) -> Result<()> {
    for (k, v) in props {
        tx.set_rel_prop(id, k, v.clone())?;
    }
    Ok(())
}

fn without_nulls(props: Map) -> Map {
    props.into_iter().filter(|(_, v)| !v.is_null()).collect()
}

fn node_row(tx: &TxGraph, id: u64) -> Vec<Value> {
    let g = tx.snapshot();
    vec![g.node_value(id).map_or(Value::Null, Value::Node)]
}

fn rel_row(tx: &TxGraph, id: u64) -> Vec<Value> {
    let g = tx.snapshot();
    vec![g.rel_value(id).map_or(Value::Null, Value::Relationship)]
}

fn labels_arg(procedure: &str, v: Option<&Value>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::List(items)) => {
            for l in items {
                match l {
                    Value::String(s) if !s.is_empty() => {
                        if !out.contains(s) {
                            out.push(s.clone());
                        }
                    }
                    _ => {
                        return Err(failed(
                            procedure,
                            "The list of label names may not contain any `NULL` or empty \
                             `STRING` values. If you wish to merge a `NODE` without a label, \
                             pass an empty list instead.",
                        ))
                    }
                }
            }
        }
        Some(_) => return Err(failed(procedure, "labels must be a list of strings")),
    }
    Ok(out)
}

/// `apoc.merge.node(labels, identProps, onCreateProps = {}, onMatchProps = {})`:
/// every node with all the labels and identifying properties, updated with
/// `onMatchProps`; or one new node with all of them and `onCreateProps`.
pub(crate) fn merge_node(tx: &mut TxGraph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    const NAME: &str = "apoc.merge.node";
    let labels = labels_arg(NAME, argv.first())?;
    let ident = map_arg(argv.get(1));
    if ident.is_empty() {
        return Err(failed(
            NAME,
            "you need to supply at least one identifying property for a merge",
        ));
    }
    if let Some((k, _)) = ident.iter().find(|(_, v)| v.is_null()) {
        return Err(Error::new(
            Code::SemanticError,
            format!("Cannot merge the following node because of null property value for '{k}'"),
        ));
    }
    let on_create = map_arg(argv.get(2));
    let on_match = map_arg(argv.get(3));
    let g = tx.snapshot();
    let candidates = match labels.first() {
        Some(l) => g.nodes_with_label(l),
        None => g.all_nodes(),
    };
    let matched: Vec<u64> = candidates
        .into_iter()
        .filter(|&id| labels.iter().all(|l| g.node_has_label(id, l)))
        .filter(|&id| {
            ident
                .iter()
                .all(|(k, v)| g.node_prop(id, k).is_some_and(|x| same(&x, v)))
        })
        .collect();
    if matched.is_empty() {
        let mut props = ident;
        props.extend(on_create);
        let id = tx.create_node(&labels, without_nulls(props))?;
        return Ok(vec![node_row(tx, id)]);
    }
    let mut rows = Vec::with_capacity(matched.len());
    for id in matched {
        set_all_node(tx, id, &on_match)?;
        rows.push(node_row(tx, id));
    }
    Ok(rows)
}

/// `apoc.merge.relationship(start, relType, identProps, onCreateProps, end,
/// onMatchProps = {})`: directed, start to end; with no identifying
/// properties any relationship of the type between them matches.
pub(crate) fn merge_relationship(tx: &mut TxGraph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    const NAME: &str = "apoc.merge.relationship";
    let (Some(Value::Node(start)), Some(Value::Node(end))) = (argv.first(), argv.get(4)) else {
        return Err(Error::new(
            Code::SemanticError,
            "Failed to create relationship, because a node to connect is missing (null).",
        ));
    };
    let ty = match argv.get(1) {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => {
            return Err(failed(
                NAME,
                "It is not possible to merge a `RELATIONSHIP` without a `RELATIONSHIP` type.",
            ))
        }
    };
    let ident = map_arg(argv.get(2));
    let on_create = map_arg(argv.get(3));
    let on_match = map_arg(argv.get(5));
    let g = tx.snapshot();
    let matched: Vec<u64> = g
        .expand(start.id, Dir::Out, std::slice::from_ref(&ty))
        .into_iter()
        .filter(|&(_, other)| other == end.id)
        .map(|(rel, _)| rel)
        .filter(|&rel| {
            ident
                .iter()
                .all(|(k, v)| g.rel_prop(rel, k).is_some_and(|x| same(&x, v)))
        })
        .collect();
    if matched.is_empty() {
        let mut props = ident;
        props.extend(on_create);
        let id = tx.create_rel(start.id, end.id, &ty, without_nulls(props))?;
        return Ok(vec![rel_row(tx, id)]);
    }
    let mut rows = Vec::with_capacity(matched.len());
    for id in matched {
        set_all_rel(tx, id, &on_match)?;
        rows.push(rel_row(tx, id));
    }
    Ok(rows)
}

/// The nodes an APOC `nodes :: ANY` argument names: a node, an id, an
/// element id, or a list of those, in order.
fn nodes_arg(g: &Graph, procedure: &str, v: Option<&Value>) -> Result<Vec<u64>> {
    let one = |v: &Value| -> Result<u64> {
        let id = match v {
            Value::Node(n) => n.id,
            Value::Int(i) => u64::try_from(*i).unwrap_or(u64::MAX),
            Value::String(s) => s
                .rsplit(':')
                .next()
                .and_then(|x| x.parse().ok())
                .unwrap_or(u64::MAX),
            other => {
                return Err(failed(
                    procedure,
                    &format!("Can't convert {} to a Node", other.type_name()),
                ))
            }
        };
        if g.node_exists(id) {
            Ok(id)
        } else {
            Err(Error::new(
                Code::EntityNotFound,
                format!("Node with id {id} has been deleted or does not exist"),
            ))
        }
    };
    match v {
        Some(Value::List(items)) => items.iter().map(one).collect(),
        Some(v) if !v.is_null() => Ok(vec![one(v)?]),
        _ => Err(failed(procedure, "nodes must not be null")),
    }
}

/// `apoc.create.addLabels(nodes, labels)`: one row per node, in order.
pub(crate) fn add_labels(tx: &mut TxGraph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    const NAME: &str = "apoc.create.addLabels";
    let ids = nodes_arg(&tx.snapshot(), NAME, argv.first())?;
    let labels = labels_arg(NAME, argv.get(1))?;
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        for l in &labels {
            tx.add_label(id, l)?;
        }
        rows.push(node_row(tx, id));
    }
    Ok(rows)
}

/// `apoc.create.setProperty(nodes, key, value)`: null removes it.
pub(crate) fn set_property(tx: &mut TxGraph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    const NAME: &str = "apoc.create.setProperty";
    let ids = nodes_arg(&tx.snapshot(), NAME, argv.first())?;
    let Some(Value::String(key)) = argv.get(1) else {
        return Err(failed(NAME, "key must be a string"));
    };
    let value = argv.get(2).cloned().unwrap_or(Value::Null);
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        tx.set_node_prop(id, key, value.clone())?;
        rows.push(node_row(tx, id));
    }
    Ok(rows)
}

/// `apoc.create.node(labels, props)`.
pub(crate) fn create_node(tx: &mut TxGraph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let labels = labels_arg("apoc.create.node", argv.first())?;
    let id = tx.create_node(&labels, without_nulls(map_arg(argv.get(1))))?;
    Ok(vec![node_row(tx, id)])
}

/// `apoc.create.relationship(from, relType, props, to)`: always a new one.
pub(crate) fn create_relationship(tx: &mut TxGraph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    const NAME: &str = "apoc.create.relationship";
    let Some(Value::Node(from)) = argv.first() else {
        return Err(failed(NAME, "The inserted Start Node is null"));
    };
    let Some(Value::Node(to)) = argv.get(3) else {
        return Err(failed(NAME, "The inserted End Node is null"));
    };
    let ty = match argv.get(1) {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => {
            return Err(failed(
                NAME,
                "a relationship type must be a non-empty string",
            ))
        }
    };
    let id = tx.create_rel(from.id, to.id, &ty, without_nulls(map_arg(argv.get(2))))?;
    Ok(vec![rel_row(tx, id)])
}

/// APOC's functions: maps, collections and text, on evaluated values.
/// `None` when `name` (lower case) is not one of them.
pub(crate) fn function(ctx: &crate::eval::Ctx, name: &str, args: &[Val]) -> Option<Result<Val>> {
    if let Some(r) = crate::apoc_functions::function(ctx, name, args) {
        return Some(r);
    }
    let arg = |i: usize| args.get(i).unwrap_or(&Val::Null);
    let list = |v: &Val| match v {
        Val::List(items) => Some(items.clone()),
        _ => None,
    };
    let equal = |a: &Val, b: &Val| cypher_eq(a, b) == Some(true);
    Some(Ok(match name {
        // Without the given keys, null values, and values (or their string
        // forms) listed in the third argument.
        "apoc.map.clean" => {
            let Val::Map(m) = arg(0) else {
                return Some(Ok(Val::Null));
            };
            let keys = list(arg(1)).unwrap_or_default();
            let values = list(arg(2)).unwrap_or_default();
            let drop_value = |v: &Val| {
                v.is_null()
                    || values.iter().any(|x| {
                        x == v || matches!((x, string_form(v)), (Val::Str(s), Some(t)) if *s == t)
                    })
            };
            Val::Map(
                m.iter()
                    .filter(|(k, v)| {
                        !keys.iter().any(|x| matches!(x, Val::Str(s) if s == *k)) && !drop_value(v)
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        }
        "apoc.map.merge" => {
            let mut out = match arg(0) {
                Val::Map(m) => m.clone(),
                _ => ValMap::new(),
            };
            if let Val::Map(m) = arg(1) {
                out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Val::Map(out)
        }
        "apoc.coll.toset" => match list(arg(0)) {
            None => Val::Null,
            Some(items) => Val::List(distinct(items)),
        },
        "apoc.coll.contains" => {
            Val::Bool(list(arg(0)).is_some_and(|items| items.iter().any(|x| equal(x, arg(1)))))
        }
        "apoc.coll.flatten" => {
            let recursive = matches!(arg(1), Val::Bool(true));
            let mut out = Vec::new();
            flatten(list(arg(0)).unwrap_or_default(), recursive, &mut out);
            Val::List(out)
        }
        "apoc.coll.sum" | "apoc.coll.avg" => {
            let items = list(arg(0)).unwrap_or_default();
            if items.is_empty() {
                return Some(Ok(Val::Null));
            }
            let mut sum = 0.0;
            for v in &items {
                match v {
                    Val::Int(i) => sum += *i as f64,
                    Val::Float(f) => sum += f,
                    other => {
                        return Some(Err(Error::new(
                            Code::TypeError,
                            format!(
                                "Invalid input for function '{name}()': expected numbers, got {}",
                                other.type_name()
                            ),
                        )))
                    }
                }
            }
            if name == "apoc.coll.avg" {
                sum /= items.len() as f64;
            }
            Val::Float(sum)
        }
        // Nulls are skipped; mixed types order as ORDER BY orders them.
        "apoc.coll.max" | "apoc.coll.min" => {
            let items = list(arg(0)).unwrap_or_default();
            let values = items.into_iter().filter(|v| !v.is_null());
            let best = if name == "apoc.coll.max" {
                values.max_by(total_cmp)
            } else {
                values.min_by(total_cmp)
            };
            best.unwrap_or(Val::Null)
        }
        "apoc.coll.sort" => match list(arg(0)) {
            None => Val::Null,
            Some(mut items) => {
                items.retain(|v| !v.is_null());
                items.sort_by(total_cmp);
                Val::List(items)
            }
        },
        "apoc.coll.union" => match (list(arg(0)), list(arg(1))) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Val::List(distinct(a))
            }
            _ => Val::Null,
        },
        "apoc.coll.intersection" | "apoc.coll.subtract" => match (list(arg(0)), list(arg(1))) {
            (Some(a), Some(b)) => {
                let keep_common = name == "apoc.coll.intersection";
                let kept = a
                    .into_iter()
                    .filter(|x| b.iter().any(|y| equal(x, y)) == keep_common)
                    .collect();
                Val::List(distinct(kept))
            }
            _ => Val::Null,
        },
        "apoc.coll.indexof" => match list(arg(0)) {
            None => Val::Int(-1),
            Some(items) => Val::Int(
                items
                    .iter()
                    .position(|x| equal(x, arg(1)))
                    .map_or(-1, |i| i as i64),
            ),
        },
        "apoc.coll.containsall" | "apoc.coll.containsany" => match (list(arg(0)), list(arg(1))) {
            (Some(a), Some(b)) => {
                let found = |y: &Val| a.iter().any(|x| equal(x, y));
                Val::Bool(if name == "apoc.coll.containsall" {
                    b.iter().all(found)
                } else {
                    b.iter().any(found)
                })
            }
            _ => Val::Bool(false),
        },
        // Each element with the next one, the last with null.
        "apoc.coll.pairs" => match list(arg(0)) {
            None => Val::Null,
            Some(items) => Val::List(
                (0..items.len())
                    .map(|i| {
                        let next = items.get(i + 1).cloned().unwrap_or(Val::Null);
                        Val::List(vec![items[i].clone(), next])
                    })
                    .collect(),
            ),
        },
        "apoc.coll.zip" => match (list(arg(0)), list(arg(1))) {
            (Some(a), Some(b)) => Val::List(
                a.into_iter()
                    .enumerate()
                    .map(|(i, x)| Val::List(vec![x, b.get(i).cloned().unwrap_or(Val::Null)]))
                    .collect(),
            ),
            _ => Val::Null,
        },
        // `{item, count}` per distinct value, in order of first occurrence.
        "apoc.coll.frequencies" | "apoc.coll.duplicates" => {
            let items = list(arg(0)).unwrap_or_default();
            let mut order: Vec<(Val, i64)> = Vec::new();
            let mut at: std::collections::HashMap<_, usize> = std::collections::HashMap::new();
            for v in items {
                match at.get(&key_of(&v)) {
                    Some(&i) => order[i].1 += 1,
                    None => {
                        at.insert(key_of(&v), order.len());
                        order.push((v, 1));
                    }
                }
            }
            if name == "apoc.coll.duplicates" {
                Val::List(
                    order
                        .into_iter()
                        .filter(|(_, n)| *n > 1)
                        .map(|(v, _)| v)
                        .collect(),
                )
            } else {
                Val::List(
                    order
                        .into_iter()
                        .map(|(v, n)| {
                            let mut m = ValMap::new();
                            m.insert("item".into(), v);
                            m.insert("count".into(), Val::Int(n));
                            Val::Map(m)
                        })
                        .collect(),
                )
            }
        }
        "apoc.coll.remove" | "apoc.coll.insert" => {
            let Some(mut items) = list(arg(0)) else {
                return Some(Ok(Val::Null));
            };
            let Val::Int(index) = arg(1) else {
                return Some(Ok(Val::List(items)));
            };
            let bad = |what: String| Some(Err(Error::new(Code::ArgumentError, what)));
            let Some(index) = usize::try_from(*index).ok().filter(|i| *i <= items.len()) else {
                return bad(format!(
                    "Invalid input for function '{name}()': index {index} is out of bounds for \
                     a list of {}",
                    items.len()
                ));
            };
            if name == "apoc.coll.insert" {
                items.insert(index, arg(2).clone());
            } else {
                let length = match arg(2) {
                    Val::Int(n) => usize::try_from(*n).unwrap_or(0),
                    _ => 1,
                };
                let end = index.saturating_add(length).min(items.len());
                items.drain(index..end);
            }
            Val::List(items)
        }
        "apoc.text.join" => match (list(arg(0)), arg(1)) {
            (Some(items), Val::Str(sep)) => Val::Str(
                items
                    .iter()
                    .map(|v| string_form(v).unwrap_or_else(|| "null".into()))
                    .collect::<Vec<_>>()
                    .join(sep),
            ),
            _ => Val::Null,
        },
        _ => return None,
    }))
}

/// `apoc.schema.properties.distinct(label, key)`: one row whose `value` is
/// the distinct values of `key` on nodes of `label`; an empty label means
/// every node, an empty key every property.
pub(crate) fn properties_distinct(g: &Graph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let text = |i: usize| match argv.get(i) {
        Some(Value::String(s)) => s.as_str(),
        _ => "",
    };
    let (label, key) = (text(0), text(1));
    let ids = if label.is_empty() {
        g.all_nodes()
    } else {
        g.nodes_with_label(label)
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for id in ids {
        let values: Vec<Value> = if key.is_empty() {
            g.node_props(id).unwrap_or_default().into_values().collect()
        } else {
            g.node_prop(id, key)
                .map(Cow::into_owned)
                .into_iter()
                .collect()
        };
        for v in values {
            if seen.insert(key_of(&Val::from_value(&v))) {
                out.push(v);
            }
        }
    }
    Ok(vec![vec![Value::List(out)]])
}

/// The values of `items` without repeats, first occurrence kept. Equal
/// values share a key (1 and 1.0 too), so this is Cypher's DISTINCT.
pub(crate) fn distinct(items: Vec<Val>) -> Vec<Val> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|v| seen.insert(key_of(v)))
        .collect()
}

/// The names `function` answers, for the list of known functions.
pub(crate) const FUNCTIONS: &[&str] = &[
    "apoc.map.clean",
    "apoc.map.merge",
    "apoc.coll.toset",
    "apoc.coll.contains",
    "apoc.coll.flatten",
    "apoc.coll.sum",
    "apoc.coll.avg",
    "apoc.coll.max",
    "apoc.coll.min",
    "apoc.coll.sort",
    "apoc.coll.union",
    "apoc.coll.intersection",
    "apoc.coll.subtract",
    "apoc.coll.indexof",
    "apoc.coll.containsall",
    "apoc.coll.containsany",
    "apoc.coll.pairs",
    "apoc.coll.zip",
    "apoc.coll.frequencies",
    "apoc.coll.duplicates",
    "apoc.coll.remove",
    "apoc.coll.insert",
    "apoc.text.join",
    // Answered by `randomUUID`'s code in functions.rs.
    "apoc.create.uuid",
];

fn string_form(v: &Val) -> Option<String> {
    match v {
        Val::Str(s) => Some(s.clone()),
        Val::Int(i) => Some(i.to_string()),
        Val::Float(f) => Some(f.to_string()),
        Val::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn flatten(items: Vec<Val>, recursive: bool, out: &mut Vec<Val>) {
    for v in items {
        match v {
            Val::List(inner) if recursive => flatten(inner, true, out),
            Val::List(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
}
