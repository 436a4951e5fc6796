//! Procedures that describe the data's shape rather than query it:
//! `db.schema.nodeTypeProperties` and `db.schema.relTypeProperties`, which
//! schema-reading tools (LLM frameworks, MCP servers, Bloom-like browsers)
//! call before anything else.

use std::collections::{BTreeMap, BTreeSet};

use causeway_graph::Graph;
use causeway_value::Value;

/// Neo4j's name for a stored value's type, as these procedures list it.
fn stored_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Int(_) => "Long",
        Value::Float(_) => "Double",
        Value::String(_) => "String",
        Value::Bytes(_) => "ByteArray",
        Value::Date(_) => "Date",
        Value::Time(_) => "Time",
        Value::LocalTime(_) => "LocalTime",
        Value::DateTime(_) => "DateTime",
        Value::LocalDateTime(_) => "LocalDateTime",
        Value::Duration(_) => "Duration",
        Value::List(items) => match items.first() {
            // Stored lists are homogeneous; an empty one has no element type.
            None | Some(Value::String(_)) => "StringArray",
            Some(Value::Bool(_)) => "BooleanArray",
            Some(Value::Int(_)) => "LongArray",
            Some(Value::Float(_)) => "DoubleArray",
            Some(Value::Date(_)) => "DateArray",
            Some(Value::Time(_)) => "TimeArray",
            Some(Value::LocalTime(_)) => "LocalTimeArray",
            Some(Value::DateTime(_)) => "DateTimeArray",
            Some(Value::LocalDateTime(_)) => "LocalDateTimeArray",
            Some(Value::Duration(_)) => "DurationArray",
            Some(_) => "List",
        },
        Value::Map(_) => "Map",
        Value::Node(_) | Value::Relationship(_) | Value::Path(_) => "Entity",
    }
}

/// `:`A`:`B`` for a sorted label set, as Neo4j writes a node type.
fn type_name(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!(":`{}`", n.replace('`', "``")))
        .collect()
}

/// Per property: the types seen and on how many entities it was set.
type PropStats = BTreeMap<String, (BTreeSet<&'static str>, usize)>;

fn rows_for(
    total: usize,
    props: &PropStats,
    mut row: impl FnMut(Value, Value, Value) -> Vec<Value>,
) -> Vec<Vec<Value>> {
    if props.is_empty() {
        return vec![row(Value::Null, Value::Null, Value::Bool(false))];
    }
    props
        .iter()
        .map(|(name, (types, count))| {
            let types = Value::List(types.iter().map(|t| Value::from(*t)).collect());
            row(
                Value::from(name.as_str()),
                types,
                Value::Bool(*count == total),
            )
        })
        .collect()
}

/// One row per label combination and property: `nodeType`, `nodeLabels`,
/// `propertyName`, `propertyTypes`, `mandatory` (set on every node of the
/// combination). A combination whose nodes have no properties gets one row
/// with nulls. Unlabelled nodes are not a node type and are left out.
pub(crate) fn node_type_properties(g: &Graph) -> Vec<Vec<Value>> {
    let mut kinds: BTreeMap<Vec<String>, (usize, PropStats)> = BTreeMap::new();
    for id in g.all_nodes() {
        let Some(mut labels) = g.node_labels(id) else {
            continue;
        };
        if labels.is_empty() {
            continue;
        }
        labels.sort_unstable();
        let key: Vec<String> = labels.into_iter().map(str::to_owned).collect();
        let (count, props) = kinds.entry(key).or_default();
        *count += 1;
        for k in g.node_keys(id).unwrap_or_default() {
            if let Some(v) = g.node_prop(id, k) {
                let e = props.entry(k.to_owned()).or_default();
                e.0.insert(stored_type(v));
                e.1 += 1;
            }
        }
    }
    let mut out = Vec::new();
    for (labels, (count, props)) in &kinds {
        let name = Value::String(type_name(labels));
        let list = Value::List(labels.iter().map(|l| Value::from(l.as_str())).collect());
        out.extend(rows_for(*count, props, |p, t, m| {
            vec![name.clone(), list.clone(), p, t, m]
        }));
    }
    out
}

/// One row per relationship type and property: `relType`, `propertyName`,
/// `propertyTypes`, `mandatory`.
pub(crate) fn rel_type_properties(g: &Graph) -> Vec<Vec<Value>> {
    let mut kinds: BTreeMap<String, (usize, PropStats)> = BTreeMap::new();
    for id in g.all_rels() {
        let Some(r) = g.rel(id) else { continue };
        let (count, props) = kinds.entry(r.rel_type.to_owned()).or_default();
        *count += 1;
        for k in g.rel_keys(id).unwrap_or_default() {
            if let Some(v) = g.rel_prop(id, k) {
                let e = props.entry(k.to_owned()).or_default();
                e.0.insert(stored_type(v));
                e.1 += 1;
            }
        }
    }
    let mut out = Vec::new();
    for (ty, (count, props)) in &kinds {
        let name = Value::String(type_name(std::slice::from_ref(ty)));
        out.extend(rows_for(*count, props, |p, t, m| {
            vec![name.clone(), p, t, m]
        }));
    }
    out
}
