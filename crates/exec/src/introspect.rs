//! Procedures that describe the data's shape rather than query it:
//! `db.schema.nodeTypeProperties` and `db.schema.relTypeProperties`, which
//! schema-reading tools (LLM frameworks, MCP servers, Bloom-like browsers)
//! call before anything else.

use std::collections::{BTreeMap, BTreeSet};

use causeway_graph::Graph;
use causeway_value::{Map, Value};

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
        Value::Point(_) => "Point",
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
            Some(Value::Point(_)) => "PointArray",
            Some(_) => "List",
        },
        Value::Map(_) => "Map",
        Value::Node(_) | Value::Relationship(_) | Value::Path(_) => "Entity",
    }
}

fn strs(v: &[String]) -> Value {
    Value::List(v.iter().map(|s| Value::from(s.as_str())).collect())
}

/// Adds one entity's properties to the per-property tally.
fn tally<'g>(
    props: &mut PropStats,
    entries: impl Iterator<Item = (&'g str, Option<std::borrow::Cow<'g, Value>>)>,
) {
    for (k, v) in entries {
        if let Some(v) = v {
            let e = props.entry(k.to_owned()).or_default();
            e.0.insert(stored_type(&v));
            e.1 += 1;
        }
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
        let keys = g.node_keys(id).unwrap_or_default();
        tally(props, keys.into_iter().map(|k| (k, g.node_prop(id, k))));
    }
    let mut out = Vec::new();
    for (labels, (count, props)) in &kinds {
        let name = Value::String(type_name(labels));
        let list = strs(labels);
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
        let keys = g.rel_keys(id).unwrap_or_default();
        tally(props, keys.into_iter().map(|k| (k, g.rel_prop(id, k))));
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

/// APOC's name for a stored value's type in `apoc.meta.data`: lists are
/// just `LIST`, whatever they hold.
fn apoc_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "STRING",
        Value::Int(_) => "INTEGER",
        Value::Float(_) => "FLOAT",
        Value::Bool(_) => "BOOLEAN",
        Value::Date(_) => "DATE",
        Value::DateTime(_) => "DATE_TIME",
        Value::LocalDateTime(_) => "LOCAL_DATE_TIME",
        Value::LocalTime(_) => "LOCAL_TIME",
        Value::Time(_) => "TIME",
        Value::Duration(_) => "DURATION",
        Value::Point(_) => "POINT",
        Value::List(_) | Value::Bytes(_) => "LIST",
        Value::Map(_) => "MAP",
        Value::Null => "NULL",
        Value::Node(_) | Value::Relationship(_) | Value::Path(_) => "ANY",
    }
}

/// One `apoc.meta.data` row while it is being filled in.
#[derive(Default)]
struct MetaRow {
    label: String,
    property: String,
    /// Property rows: the value type; relationship rows: `None`.
    value_type: Option<&'static str>,
    count: i64,
    unique: bool,
    index: bool,
    existence: bool,
    array: bool,
    out_total: i64,
    in_total: i64,
    other: Vec<String>,
    other_labels: Vec<String>,
    node: bool,
}

impl MetaRow {
    fn into_values(self) -> Vec<Value> {
        let (left, right) = if self.count > 0 {
            (self.out_total / self.count, self.in_total / self.count)
        } else {
            (0, 0)
        };
        vec![
            Value::String(self.label),
            Value::String(self.property),
            Value::Int(self.count),
            Value::Bool(self.unique),
            Value::Bool(self.index),
            Value::Bool(self.existence),
            Value::from(self.value_type.unwrap_or("RELATIONSHIP")),
            Value::Bool(self.array),
            Value::Null,
            Value::Int(left),
            Value::Int(right),
            strs(&self.other),
            strs(&self.other_labels),
            Value::from(if self.node { "node" } else { "relationship" }),
        ]
    }
}

/// Rows of one label or relationship type, in first-seen order; property
/// names and relationship types share the keys, as in APOC.
#[derive(Default)]
struct Group {
    rows: Vec<MetaRow>,
    at: BTreeMap<String, usize>,
}

impl Group {
    fn row(&mut self, key: &str, make: impl FnOnce() -> MetaRow) -> (&mut MetaRow, bool) {
        if let Some(&i) = self.at.get(key) {
            return (&mut self.rows[i], false);
        }
        self.at.insert(key.to_owned(), self.rows.len());
        self.rows.push(make());
        (self.rows.last_mut().expect("just pushed"), true)
    }
}

/// `apoc.meta.data`: per label, its properties (type, index, constraints)
/// and the relationship types its nodes start, with the end nodes' labels;
/// per relationship type, the labels it starts from and its properties.
/// About `sample` nodes of each label are examined (`-1`: all of them),
/// every `n / sample`-th in label order, so a small graph is read whole.
pub(crate) fn apoc_meta_data(g: &Graph, sample: i64) -> causeway_value::Result<Vec<Vec<Value>>> {
    let (types, labels) = meta_collect(g, sample)?;
    Ok(types
        .into_values()
        .chain(labels.into_values())
        .flat_map(|g| g.rows)
        .map(MetaRow::into_values)
        .collect())
}

/// Groups by relationship type, then by label, as `apoc.meta.data` and
/// `apoc.meta.schema` both read them.
type MetaGroups = (BTreeMap<String, Group>, BTreeMap<String, Group>);

fn meta_collect(g: &Graph, sample: i64) -> causeway_value::Result<MetaGroups> {
    use causeway_graph::{ConstraintType, Dir, EntityType};
    if sample == 0 {
        return Err(causeway_value::Error::new(
            causeway_value::Code::ProcedureCallFailed,
            "Failed to invoke procedure `apoc.meta.data`: Caused by: java.lang.ArithmeticException: / by zero",
        ));
    }
    let indexes = g.indexes();
    let constraints = g.constraints();
    let indexed = |entity: EntityType, label: &str, key: &str| {
        indexes.iter().any(|ix| {
            ix.entity == entity && ix.label == label && ix.properties.iter().any(|p| p == key)
        })
    };
    let constrained = |entity: EntityType, label: &str, key: &str, kind: ConstraintType| {
        constraints.iter().any(|c| {
            c.entity == entity
                && c.label == label
                && c.kind == kind
                && c.properties.iter().any(|p| p == key)
        })
    };
    let property_row = |entity: EntityType, label: &str, key: &str, v: &Value| MetaRow {
        label: label.to_owned(),
        property: key.to_owned(),
        value_type: Some(apoc_type(v)),
        unique: constrained(entity, label, key, ConstraintType::Unique),
        index: indexed(entity, label, key),
        existence: constrained(entity, label, key, ConstraintType::NotNull),
        array: matches!(v, Value::List(_) | Value::Bytes(_)),
        node: entity == EntityType::Node,
        ..MetaRow::default()
    };
    let mut types: BTreeMap<String, Group> = BTreeMap::new();
    let mut labels: BTreeMap<String, Group> = BTreeMap::new();
    for label in g.labels() {
        let ids = g.nodes_with_label(&label);
        let step = if sample < 0 {
            1
        } else {
            (ids.len() / sample as usize).max(1)
        };
        let mut group = Group::default();
        for (c, &id) in ids.iter().enumerate() {
            if (c + 1) % step != 0 {
                continue;
            }
            // Outgoing relationships by type, in the order first met.
            let mut by_type: Vec<(String, Vec<(u64, u64)>)> = Vec::new();
            for (rel, end) in g.expand(id, Dir::Out, &[]) {
                let Some(r) = g.rel(rel) else { continue };
                match by_type.iter_mut().find(|(t, _)| t == r.rel_type) {
                    Some((_, v)) => v.push((rel, end)),
                    None => by_type.push((r.rel_type.to_owned(), vec![(rel, end)])),
                }
            }
            for (ty, rels) in &by_type {
                let incoming = g.degree(id, Dir::In, std::slice::from_ref(ty)) as i64;
                let mut ends: Vec<String> = Vec::new();
                for (_, end) in rels {
                    for l in g.node_labels(*end).unwrap_or_default() {
                        if !ends.iter().any(|x| x == l) {
                            ends.push(l.to_owned());
                        }
                    }
                }
                let tgroup = types.entry(ty.clone()).or_default();
                let update = |row: &mut MetaRow| {
                    row.count += 1;
                    row.out_total += rels.len() as i64;
                    row.in_total += incoming;
                    row.array |= rels.len() > 1;
                    for l in &ends {
                        if !row.other.contains(l) {
                            row.other.push(l.clone());
                        }
                    }
                };
                update(
                    group
                        .row(ty, || MetaRow {
                            label: label.clone(),
                            property: ty.clone(),
                            node: true,
                            ..MetaRow::default()
                        })
                        .0,
                );
                update(
                    tgroup
                        .row(&label, || MetaRow {
                            label: ty.clone(),
                            property: label.clone(),
                            ..MetaRow::default()
                        })
                        .0,
                );
                for (rel, _) in rels {
                    for key in g.rel_keys(*rel).unwrap_or_default() {
                        if let Some(v) = g.rel_prop(*rel, key) {
                            tgroup.row(key, || property_row(EntityType::Relationship, ty, key, &v));
                        }
                    }
                }
            }
            let own = g.node_labels(id).unwrap_or_default();
            for key in g.node_keys(id).unwrap_or_default() {
                let Some(v) = g.node_prop(id, key) else {
                    continue;
                };
                let (row, new) = group.row(key, || property_row(EntityType::Node, &label, key, &v));
                if new && row.unique {
                    row.other_labels = own
                        .iter()
                        .filter(|l| **l != label)
                        .map(|l| (*l).to_owned())
                        .collect();
                }
            }
        }
        labels.insert(label, group);
    }
    Ok((types, labels))
}

fn map(entries: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Map(entries.into_iter().collect())
}

/// `apoc.meta.schema`: one map, a key per label (`type: 'node'`, its count,
/// properties and relationships in and out) and per relationship type
/// (`type: 'relationship'`, its count and properties), from the same
/// sample as `apoc.meta.data`. Counts of labels and types are exact; the
/// count of an outgoing relationship entry is, as in APOC, the incoming
/// degree of the examined nodes of that type.
pub(crate) fn apoc_meta_schema(g: &Graph, sample: i64) -> causeway_value::Result<Value> {
    let (types, labels) = meta_collect(g, sample)?;
    let rel_props = |ty: &str| -> Option<Value> {
        let group = types.get(ty)?;
        Some(map(group
            .rows
            .iter()
            .filter(|r| r.value_type.is_some())
            .map(|r| {
                (
                    r.property.clone(),
                    map([
                        ("type".into(), Value::from(r.value_type.unwrap_or_default())),
                        ("array".into(), Value::Bool(r.array)),
                        ("existence".into(), Value::Bool(r.existence)),
                        ("indexed".into(), Value::Bool(r.index)),
                    ]),
                )
            })))
    };
    // Per label: (other labels, properties, relationships by type).
    type Rel = (&'static str, i64, Vec<String>);
    let mut nodes: BTreeMap<String, (Vec<String>, Map, BTreeMap<String, Rel>)> = BTreeMap::new();
    for label in g.labels() {
        let mut entry = (Vec::new(), Map::new(), BTreeMap::new());
        for r in labels
            .get(&label)
            .map(|g| g.rows.as_slice())
            .unwrap_or_default()
        {
            match r.value_type {
                Some(t) => {
                    if r.unique {
                        entry.0 = r.other_labels.clone();
                    }
                    entry.1.insert(
                        r.property.clone(),
                        map([
                            ("type".into(), Value::from(t)),
                            ("indexed".into(), Value::Bool(r.index)),
                            ("unique".into(), Value::Bool(r.unique)),
                            ("existence".into(), Value::Bool(r.existence)),
                        ]),
                    );
                }
                None => {
                    entry
                        .2
                        .insert(r.property.clone(), ("out", r.in_total, r.other.clone()));
                }
            }
        }
        nodes.insert(label, entry);
    }
    // Incoming entries, after every outgoing one; a label that itself
    // starts the type keeps its outgoing entry.
    for (label, group) in &labels {
        for r in group.rows.iter().filter(|r| r.value_type.is_none()) {
            for target in &r.other {
                let Some(t) = nodes.get_mut(target) else {
                    continue;
                };
                match t.2.get_mut(&r.property) {
                    None => {
                        t.2.insert(r.property.clone(), ("in", r.out_total, vec![label.clone()]));
                    }
                    Some(("in", _, from)) => from.push(label.clone()),
                    Some(_) => {}
                }
            }
        }
    }
    let mut out = Map::new();
    for (label, (others, props, rels)) in nodes {
        let count = g.label_count(&label) as i64;
        let rels = map(rels.into_iter().map(|(ty, (dir, count, with))| {
            let props = rel_props(&ty).unwrap_or(Value::Null);
            (
                ty,
                map([
                    ("direction".into(), Value::from(dir)),
                    ("count".into(), Value::Int(count)),
                    ("labels".into(), strs(&with)),
                    ("properties".into(), props),
                ]),
            )
        }));
        out.insert(
            label,
            map([
                ("type".into(), Value::from("node")),
                ("count".into(), Value::Int(count)),
                ("labels".into(), strs(&others)),
                ("properties".into(), Value::Map(props)),
                ("relationships".into(), rels),
            ]),
        );
    }
    for ty in g.rel_types() {
        let key = if out.contains_key(&ty) {
            format!("{ty} (RELATIONSHIP)")
        } else {
            ty.clone()
        };
        let entry = map([
            ("type".into(), Value::from("relationship")),
            ("count".into(), Value::Int(g.type_count(&ty) as i64)),
            (
                "properties".into(),
                rel_props(&ty).unwrap_or_else(|| map([])),
            ),
        ]);
        out.insert(key, entry);
    }
    Ok(Value::Map(out))
}

/// The include and exclude lists of an `apoc.schema.*` config.
fn name_filter(
    config: &Map,
    include: &str,
    exclude: &str,
) -> causeway_value::Result<impl Fn(&str) -> bool> {
    let names = |key: &str| -> Vec<String> {
        match config.get(key) {
            Some(Value::List(items)) => items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let (inc, exc) = (names(include), names(exclude));
    if !inc.is_empty() && !exc.is_empty() {
        return Err(causeway_value::Error::new(
            causeway_value::Code::ProcedureCallFailed,
            format!(
                "Failed to invoke procedure: Parameters {include} and {exclude} are both \
                 valuated. Please check parameters and valuate only one."
            ),
        ));
    }
    Ok(move |name: &str| {
        (inc.is_empty() || inc.iter().any(|x| x == name)) && !exc.iter().any(|x| x == name)
    })
}

/// `:Label(a,b)`, APOC's name for a node schema rule under Cypher 5.
fn rule_name(label: &str, props: &[String]) -> String {
    format!(":{label}({})", props.join(","))
}

/// `apoc.schema.nodes`: node constraints, then node indexes (those behind
/// constraints too), each sorted by label, with sizes and selectivity.
pub(crate) fn apoc_schema_nodes(
    g: &Graph,
    config: &Map,
) -> causeway_value::Result<Vec<Vec<Value>>> {
    use causeway_graph::{ConstraintType, EntityType};
    let keep = name_filter(config, "labels", "excludeLabels")?;
    let mut constraints: Vec<_> = g
        .constraints()
        .into_iter()
        .filter(|c| c.entity == EntityType::Node && keep(&c.label))
        .collect();
    constraints.sort_by(|a, b| a.label.cmp(&b.label));
    let mut rows: Vec<Vec<Value>> = constraints
        .iter()
        .map(|c| {
            let kind = match c.kind {
                ConstraintType::Unique => "UNIQUENESS",
                ConstraintType::NodeKey => "NODE_KEY",
                ConstraintType::NotNull => "NODE_PROPERTY_EXISTENCE",
            };
            vec![
                Value::String(rule_name(&c.label, &c.properties)),
                Value::from(c.label.as_str()),
                strs(&c.properties),
                Value::from(""),
                Value::from(kind),
                Value::from("NO FAILURE"),
                Value::Float(0.0),
                Value::Int(0),
                Value::Float(0.0),
                Value::String(Graph::constraint_description(c)),
            ]
        })
        .collect();
    // (label, row) for range and vector indexes alike.
    let mut indexes: Vec<(String, Vec<Value>)> = Vec::new();
    for ix in g.indexes() {
        if ix.entity != EntityType::Node || !keep(&ix.label) {
            continue;
        }
        let (size, distinct) = g.index_stats(&ix.name).unwrap_or((0, 0));
        let selectivity = if size == 0 {
            1.0
        } else {
            distinct as f64 / size as f64
        };
        indexes.push((
            ix.label.clone(),
            vec![
                Value::String(rule_name(&ix.label, &ix.properties)),
                Value::from(ix.label.as_str()),
                strs(&ix.properties),
                Value::from("ONLINE"),
                Value::from(index_type(&ix)),
                Value::from("NO FAILURE"),
                Value::Float(100.0),
                Value::Int(size as i64),
                Value::Float(selectivity),
                Value::String(Graph::index_description(&ix)),
            ],
        ));
    }
    for d in g.vector_indexes() {
        if d.entity != EntityType::Node || !keep(&d.label) {
            continue;
        }
        let props = std::slice::from_ref(&d.property);
        let size = g
            .nodes_with_label(&d.label)
            .into_iter()
            .filter(|id| g.node_prop(*id, &d.property).is_some())
            .count();
        indexes.push((
            d.label.clone(),
            vec![
                Value::String(rule_name(&d.label, props)),
                Value::from(d.label.as_str()),
                strs(props),
                Value::from("ONLINE"),
                Value::from("VECTOR"),
                Value::from("NO FAILURE"),
                Value::Float(100.0),
                Value::Int(size as i64),
                Value::Float(1.0),
                Value::String(format!(
                    "Index( name='{}', type='VECTOR', schema=(:{} {{{}}}), indexProvider='vector-2.0' )",
                    d.name, d.label, d.property
                )),
            ],
        ));
    }
    indexes.sort_by(|a, b| a.0.cmp(&b.0));
    rows.extend(indexes.into_iter().map(|(_, row)| row));
    Ok(rows)
}

/// `apoc.schema.relationships`: relationship constraints, then indexes;
/// five columns (name, type, properties, status, relationshipType).
pub(crate) fn apoc_schema_relationships(
    g: &Graph,
    config: &Map,
) -> causeway_value::Result<Vec<Vec<Value>>> {
    use causeway_graph::{ConstraintType, EntityType};
    let keep = name_filter(config, "relationships", "excludeRelationships")?;
    let mut rows = Vec::new();
    for c in g.constraints() {
        if c.entity != EntityType::Relationship || !keep(&c.label) {
            continue;
        }
        let var = c.label.to_lowercase();
        let props: Vec<String> = c.properties.iter().map(|p| format!("{var}.{p}")).collect();
        let (kind, rule) = match c.kind {
            ConstraintType::Unique => (
                "RELATIONSHIP_UNIQUENESS",
                format!("{} IS UNIQUE", props.join(",")),
            ),
            ConstraintType::NotNull => (
                "RELATIONSHIP_PROPERTY_EXISTENCE",
                format!("{} IS NOT NULL", props.join(",")),
            ),
            ConstraintType::NodeKey => (
                "RELATIONSHIP_KEY",
                format!("({}) IS RELATIONSHIP KEY", props.join(",")),
            ),
        };
        rows.push(vec![
            Value::String(format!(
                "CONSTRAINT FOR ()-[{var}:{}]-() REQUIRE {rule}",
                c.label
            )),
            Value::from(kind),
            strs(&c.properties),
            Value::from(""),
            Value::from(c.label.as_str()),
        ]);
    }
    for ix in g.indexes() {
        if ix.entity != EntityType::Relationship || !keep(&ix.label) {
            continue;
        }
        rows.push(vec![
            Value::String(rule_name(&ix.label, &ix.properties)),
            Value::from(index_type(&ix)),
            strs(&ix.properties),
            Value::from("ONLINE"),
            Value::from(ix.label.as_str()),
        ]);
    }
    for d in g.vector_indexes() {
        if d.entity != EntityType::Relationship || !keep(&d.label) {
            continue;
        }
        let props = std::slice::from_ref(&d.property);
        rows.push(vec![
            Value::String(rule_name(&d.label, props)),
            Value::from("VECTOR"),
            strs(props),
            Value::from("ONLINE"),
            Value::from(d.label.as_str()),
        ]);
    }
    Ok(rows)
}

/// `apoc.meta.graph` and `apoc.meta.subGraph`: one row holding a virtual
/// node per label (`{name, count}`) and a virtual relationship per
/// (start label, type, end label) that occurs (`{type, count}`), counted
/// exactly. `config` may restrict `labels` and `rels` and `excludes` labels.
pub(crate) fn apoc_meta_graph(g: &Graph, config: &Map) -> causeway_value::Result<Vec<Vec<Value>>> {
    let names = |key: &str| -> Option<BTreeSet<String>> {
        match config.get(key) {
            Some(Value::List(items)) if !items.is_empty() => Some(
                items
                    .iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        }
    };
    let (only, rels, excludes) = (names("labels"), names("rels"), names("excludes"));
    let wanted = |l: &str| {
        only.as_ref().is_none_or(|o| o.contains(l))
            && excludes.as_ref().is_none_or(|x| !x.contains(l))
    };
    // Virtual ids count down from -1 as Bolt sees them, as Neo4j's do.
    let mut next = u64::MAX;
    let mut fresh = || {
        let id = next;
        next -= 1;
        id
    };
    let mut node_ids: BTreeMap<String, u64> = BTreeMap::new();
    let mut nodes = Vec::new();
    for label in g.labels().into_iter().filter(|l| wanted(l)) {
        let id = fresh();
        node_ids.insert(label.clone(), id);
        nodes.push(Value::Node(causeway_value::Node {
            id,
            labels: vec![label.clone()],
            props: Map::from([
                ("name".to_owned(), Value::from(label.as_str())),
                ("count".to_owned(), Value::Int(g.label_count(&label) as i64)),
            ]),
        }));
    }
    let mut counts: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for ty in g.rel_types() {
        if rels.as_ref().is_some_and(|r| !r.contains(&ty)) {
            continue;
        }
        for id in g.rels_with_type(&ty) {
            let Some(r) = g.rel(id) else { continue };
            let ends = |n| g.node_labels(n).unwrap_or_default();
            for s in ends(r.start).iter().filter(|l| node_ids.contains_key(**l)) {
                for e in ends(r.end).iter().filter(|l| node_ids.contains_key(**l)) {
                    *counts
                        .entry((s.to_string(), ty.clone(), e.to_string()))
                        .or_default() += 1;
                }
            }
        }
    }
    let relationships = counts
        .into_iter()
        .map(|((s, ty, e), count)| {
            Value::Relationship(causeway_value::Relationship {
                id: fresh(),
                start: node_ids[&s],
                end: node_ids[&e],
                rel_type: ty.clone(),
                props: Map::from([
                    ("type".to_owned(), Value::from(ty.as_str())),
                    ("count".to_owned(), Value::Int(count)),
                ]),
            })
        })
        .collect();
    Ok(vec![vec![Value::List(nodes), Value::List(relationships)]])
}

/// `db.schema.visualization()`: one virtual node per label (`name`, the
/// properties it has indexes on, and its constraints) and one virtual
/// relationship per (label, type, label) that occurs (`name`).
pub(crate) fn schema_visualization(g: &Graph) -> causeway_value::Result<Vec<Vec<Value>>> {
    let mut rows = apoc_meta_graph(g, &Map::new())?;
    let Some(row) = rows.first_mut() else {
        return Ok(rows);
    };
    let indexes = g.indexes();
    let constraints = g.constraints();
    if let Some(Value::List(nodes)) = row.get_mut(0) {
        for n in nodes.iter_mut() {
            let Value::Node(node) = n else { continue };
            let Some(label) = node.labels.first().cloned() else {
                continue;
            };
            let indexed: Vec<Value> = indexes
                .iter()
                .filter(|d| d.entity == causeway_graph::EntityType::Node && d.label == label)
                .map(|d| Value::String(d.properties.join(",")))
                .collect();
            let constrained: Vec<Value> = constraints
                .iter()
                .filter(|c| c.entity == causeway_graph::EntityType::Node && c.label == label)
                .map(|c| Value::String(Graph::constraint_description(c)))
                .collect();
            node.props = Map::from([
                ("name".to_owned(), Value::String(label)),
                ("indexes".to_owned(), Value::List(indexed)),
                ("constraints".to_owned(), Value::List(constrained)),
            ]);
        }
    }
    if let Some(Value::List(rels)) = row.get_mut(1) {
        for r in rels.iter_mut() {
            if let Value::Relationship(rel) = r {
                rel.props = Map::from([("name".to_owned(), Value::from(rel.rel_type.as_str()))]);
            }
        }
    }
    Ok(rows)
}

/// Neo4j's name for a property index's type.
fn index_type(ix: &causeway_graph::IndexDef) -> &'static str {
    match ix.kind {
        causeway_graph::IndexType::Range => "RANGE",
        causeway_graph::IndexType::Point(_) => "POINT",
    }
}
