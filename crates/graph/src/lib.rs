//! The in-memory property graph: persistent (copy-on-write) data structures so
//! that a snapshot is an O(1) clone, transactions that record deterministic
//! change sets, label/type scans, property indexes and constraints.
//!
//! CONTRACT (other crates code against exactly this API; extend, don't break):
//! * `Graph` is a value. `clone()` is O(1) and gives an independent snapshot.
//! * `TxGraph` is a transaction's private working copy: reads see its own
//!   writes; every write is recorded into a `ChangeSet`.
//! * `Graph::apply(&ChangeSet)` replays a change set and reaches exactly the
//!   state the `TxGraph` reached (ids included): this is how the Raft state
//!   machine and WAL replay rebuild state. Never Cypher text.
//! * `ChangeSet` and `Graph` serialize to bytes (`encode`/`decode`) for the
//!   log and for snapshots.
//!
//! Behaviour the callers can rely on:
//! * Ids come from counters kept in the graph, or from a shared
//!   `IdAllocator` when writers run side by side, and are never reused; a
//!   replayed change set allocates nothing (a created id must be unused,
//!   not above a counter); `version()` counts non-empty change sets.
//! * Writes to a missing node or relationship fail with `EntityNotFound`;
//!   deleting one that is already gone is a no-op. `Value::Null` as a
//!   property value removes the property; maps, nested or mixed lists are a
//!   `TypeError`.
//! * Indexes and constraints are on nodes of a label or on relationships of
//!   a type (`EntityType`); node lookups (`find_index`, `index_seek`, ...)
//!   only ever use node indexes.
//! * Uniqueness (unique and key constraints) is enforced at each write,
//!   as Neo4j does; property existence (not-null, key) in `validate()`,
//!   over the nodes and relationships the transaction touched.
//! * Index lookups use Cypher equality (`1 = 1.0`, NaN equals nothing);
//!   ranges stay within the bounds' type family. Results are ascending ids.
//!   Each temporal type is its own family: zoned values are equal when
//!   instant and offset agree, and ranges compare instants; durations are
//!   seekable but have no order, so ranges over them are empty.
//! * The codec writes format 1 unless a temporal value is present (format 2
//!   adds their tags), so data without temporals stays readable by older
//!   binaries. Relationship schema is marked by a flag bit in bytes that
//!   older binaries already read, so node schema encodes as before and only
//!   relationship schema is unreadable to them.
//! * Cloning a `TxGraph` is cheap and serves as a statement savepoint.
//! * Decoding corrupt bytes returns an `Unknown` error; it never panics and
//!   never allocates more than the input could describe.

mod ann;
mod base;
mod codec;
mod fulltext;
mod ids;
mod index;
mod key;
mod rels;
mod schema;
mod spatial;
mod store;
mod tx;
mod vector;

pub use ann::{set_vector_exact_below, VectorBuildStatus, DEFAULT_EXACT_BELOW};
pub use fulltext::FulltextIndexDef;
pub use ids::IdAllocator;
pub use spatial::PointSettings;
pub use vector::{to_vector, Similarity, VectorIndexDef, MAX_DIMENSIONS};

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use causeway_value::{Counters, Map, Result, Value};
use imbl::{OrdMap, OrdSet, Vector};

use crate::base::RelBase;
use crate::index::Index;
use crate::key::Key;
use crate::store::{NodeRec, RelRec, Sym};

pub type NodeId = u64;
pub type RelId = u64;

/// Direction of an expansion, seen from the node being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Out,
    In,
    Both,
}

/// A bound of a range lookup on a property index.
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    Included(Value),
    Excluded(Value),
    Unbounded,
}

/// What a schema rule (index or constraint) ranges over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityType {
    #[default]
    Node,
    Relationship,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IndexDef {
    pub name: String,
    pub entity: EntityType,
    /// The label, or the relationship type for a relationship index.
    pub label: String,
    pub properties: Vec<String>,
    /// Set for indexes that back a uniqueness constraint.
    pub owning_constraint: Option<String>,
    pub kind: IndexType,
}

/// What a property index holds and answers.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum IndexType {
    /// Every storable value: equality, ranges, prefixes.
    #[default]
    Range,
    /// Point values only, on one property: bounding boxes and distances.
    Point(PointSettings),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintType {
    Unique,
    NotNull,
    /// Unique and not null together: NODE KEY, or RELATIONSHIP KEY when the
    /// constraint is on relationships.
    NodeKey,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConstraintDef {
    pub name: String,
    pub entity: EntityType,
    /// The label, or the relationship type for a relationship constraint.
    pub label: String,
    pub properties: Vec<String>,
    pub kind: ConstraintType,
}

/// A relationship as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct RelRef<'a> {
    pub id: RelId,
    pub rel_type: &'a str,
    pub start: NodeId,
    pub end: NodeId,
}

/// Sizes of the store, for `SHOW`-style procedures and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub version: u64,
    pub nodes: usize,
    pub relationships: usize,
    pub labels: usize,
    pub rel_types: usize,
    pub property_keys: usize,
    pub indexes: usize,
    pub constraints: usize,
    /// The next ids that will be allocated.
    pub next_node_id: NodeId,
    pub next_rel_id: RelId,
}

#[derive(Clone, Default)]
pub struct Graph {
    version: u64,
    next_node: NodeId,
    next_rel: RelId,
    nodes: OrdMap<NodeId, Arc<NodeRec>>,
    /// Relationships written since `base` was built (`rels.rs`).
    rels: OrdMap<RelId, Arc<RelRec>>,
    /// The relationships of the snapshot this graph was decoded from;
    /// shared, never changed.
    base: Arc<RelBase>,
    /// Base rows superseded since; behind an `Arc` because few graphs
    /// have any, and a transaction carries several graph values.
    dead: Arc<rels::Dead>,
    labels: OrdMap<Sym, OrdSet<NodeId>>,
    /// `rels` by type.
    types: OrdMap<Sym, OrdSet<RelId>>,
    /// Every property key ever written (Neo4j keeps unused ones listed too).
    prop_keys: OrdSet<Sym>,
    /// Shares one allocation per distinct name; not part of the observable
    /// state.
    syms: OrdSet<Sym>,
    /// Few entries, mutated in place; copied (cheaply: every `Index` is
    /// persistent) only when a write meets a shared snapshot.
    indexes: Arc<BTreeMap<String, Index>>,
    /// Vector indexes hold no entries: search scores the snapshot itself.
    vector_indexes: Arc<BTreeMap<String, VectorIndexDef>>,
    constraints: OrdMap<String, ConstraintDef>,
    /// Fulltext indexes: like vector ones, the replicated part is the rule.
    fulltext_indexes: Arc<BTreeMap<String, FulltextIndexDef>>,
    /// Per vector or fulltext index, what this graph value wrote since its
    /// member's index last caught up; like `ann`, not part of the
    /// observable state.
    search_live: Arc<BTreeMap<String, ann::Pending>>,
    /// This member's HNSWs and tantivy indexes, shared by every graph value
    /// of one lineage.
    ann: Arc<ann::Registry>,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("version", &self.version)
            .field("nodes", &self.nodes.len())
            .field("relationships", &self.rel_count())
            .field("indexes", &self.indexes.len())
            .field("constraints", &self.constraints.len())
            .finish()
    }
}

impl Graph {
    pub fn new() -> Self {
        Graph::default()
    }

    /// The node and relationship ids the graph's own counters would hand
    /// out next: every id it has used is below them.
    pub fn next_ids(&self) -> (NodeId, RelId) {
        (self.next_node, self.next_rel)
    }

    /// Number of change sets applied (or committed through a TxGraph) so far.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn stats(&self) -> Stats {
        Stats {
            version: self.version,
            nodes: self.nodes.len(),
            relationships: self.rel_count(),
            labels: self.labels.len(),
            rel_types: self.rel_types().len(),
            property_keys: self.prop_keys.len(),
            indexes: self.indexes.len() + self.vector_indexes.len() + self.fulltext_indexes.len(),
            constraints: self.constraints.len(),
            next_node_id: self.next_node,
            next_rel_id: self.next_rel,
        }
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    /// Nodes carrying `label`, without materializing them.
    pub fn label_count(&self, label: &str) -> usize {
        self.labels.get(label).map_or(0, |s| s.len())
    }

    pub fn node_exists(&self, id: NodeId) -> bool {
        self.nodes.contains_key(&id)
    }
    /// Labels in the order they were added.
    pub fn node_labels(&self, id: NodeId) -> Option<Vec<&str>> {
        self.node_rec(id)
            .map(|r| r.labels.iter().map(|l| &**l).collect())
    }
    pub fn node_has_label(&self, id: NodeId, label: &str) -> bool {
        self.node_rec(id).is_some_and(|r| r.has_label(label))
    }
    /// Borrowed where the store keeps a whole `Value`; scalars and strings,
    /// stored compactly, come back owned.
    pub fn node_prop(&self, id: NodeId, key: &str) -> Option<Cow<'_, Value>> {
        self.node_rec(id)?.props.get(key)
    }
    pub fn node_props(&self, id: NodeId) -> Option<Map> {
        self.node_rec(id).map(|r| r.props.view().to_map())
    }
    pub fn node_keys(&self, id: NodeId) -> Option<Vec<&str>> {
        self.node_rec(id).map(|r| r.props.view().keys())
    }

    pub fn rel(&self, id: RelId) -> Option<RelRef<'_>> {
        self.rel_view(id).map(|r| RelRef {
            id,
            rel_type: r.ty,
            start: r.start,
            end: r.end,
        })
    }
    pub fn rel_props(&self, id: RelId) -> Option<Map> {
        self.rel_view(id).map(|r| r.props.to_map())
    }
    pub fn rel_keys(&self, id: RelId) -> Option<Vec<&str>> {
        self.rel_view(id).map(|r| r.props.keys())
    }

    /// All node ids in ascending order. The returned collection is owned
    /// (a cheap persistent clone) so that streaming readers can hold it.
    pub fn all_nodes(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }
    /// Ascending, like `all_nodes`.
    pub fn nodes_with_label(&self, label: &str) -> Vec<NodeId> {
        self.labels
            .get(label)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
    /// Relationships attached to `node` in direction `dir`, restricted to
    /// `types` unless it is empty: `(relationship, the node at the other end)`.
    /// A self-loop appears once for `Dir::Both`. Within each direction the
    /// order is by (type, relationship id).
    pub fn expand(&self, node: NodeId, dir: Dir, types: &[String]) -> Vec<(RelId, NodeId)> {
        let mut out = Vec::new();
        if let Some(rec) = self.node_rec(node) {
            self.expand_rec(rec, node, dir, types, |r, o| out.push((r, o)));
        }
        out
    }
    /// Like `expand`, without collecting: `f(relationship, other node)`.
    pub fn for_each_rel(
        &self,
        node: NodeId,
        dir: Dir,
        types: &[String],
        f: impl FnMut(RelId, NodeId),
    ) {
        if let Some(rec) = self.node_rec(node) {
            self.expand_rec(rec, node, dir, types, f);
        }
    }
    /// The node index on `label(property)`, if one exists.
    pub fn find_index(&self, label: &str, property: &str) -> Option<&IndexDef> {
        self.index_on(label, property).map(|ix| &*ix.def)
    }
    /// Nodes whose `property` equals `value` (Cypher equality), via the index
    /// on `label(property)`; `None` if there is no such index. Ascending ids.
    pub fn index_seek(&self, label: &str, property: &str, value: &Value) -> Option<Vec<NodeId>> {
        let ix = self.index_on(label, property)?;
        Some(match Key::from_value(value) {
            Some(k) => ix.seek(&k),
            None => Vec::new(),
        })
    }
    /// Nodes whose `property` equals `values` on a composite index over
    /// exactly `properties` (in that order); `None` if there is none.
    pub fn index_seek_composite(
        &self,
        label: &str,
        properties: &[String],
        values: &[Value],
    ) -> Option<Vec<NodeId>> {
        let ix = self.index_on_schema(EntityType::Node, label, properties)?;
        if values.len() != properties.len() {
            return Some(Vec::new());
        }
        let key = if values.len() == 1 {
            Key::from_value(&values[0])
        } else {
            values
                .iter()
                .map(Key::from_value)
                .collect::<Option<Vec<_>>>()
                .map(Key::Tuple)
        };
        Some(key.map(|k| ix.seek(&k)).unwrap_or_default())
    }
    /// Nodes whose `property` lies in the range (values of the bound's type
    /// only, as Cypher comparison does); `None` if there is no such index.
    /// Ascending ids.
    pub fn index_range(
        &self,
        label: &str,
        property: &str,
        lower: &Bound,
        upper: &Bound,
    ) -> Option<Vec<NodeId>> {
        Some(self.index_on(label, property)?.range(lower, upper))
    }
    /// All nodes having `property`, via the index on `label(property)`
    /// (`IS NOT NULL` over an index); `None` if there is no such index.
    /// Ascending ids.
    pub fn index_scan(&self, label: &str, property: &str) -> Option<Vec<NodeId>> {
        Some(self.index_on(label, property)?.scan())
    }
    /// Nodes whose string `property` starts with `prefix` (`STARTS WITH`),
    /// via the index on `label(property)`; `None` if there is no such index.
    /// Ascending ids.
    pub fn index_prefix(&self, label: &str, property: &str, prefix: &str) -> Option<Vec<NodeId>> {
        Some(self.index_on(label, property)?.prefix(prefix))
    }
    /// The node index over exactly `properties` (in that order) on `label`,
    /// composite or not.
    pub fn find_index_on(&self, label: &str, properties: &[String]) -> Option<&IndexDef> {
        self.index_on_schema(EntityType::Node, label, properties)
            .map(|ix| &*ix.def)
    }
    /// The relationship index over exactly `properties` on `rel_type`.
    pub fn find_rel_index_on(&self, rel_type: &str, properties: &[String]) -> Option<&IndexDef> {
        self.index_on_schema(EntityType::Relationship, rel_type, properties)
            .map(|ix| &*ix.def)
    }
    /// Relationships whose `property` equals `value` (Cypher equality), via
    /// the relationship index on `rel_type(property)`; `None` if there is no
    /// such index. Ascending ids.
    pub fn rel_index_seek(
        &self,
        rel_type: &str,
        property: &str,
        value: &Value,
    ) -> Option<Vec<RelId>> {
        let ix = self.index_on_schema(
            EntityType::Relationship,
            rel_type,
            std::slice::from_ref(&property.to_owned()),
        )?;
        Some(match Key::from_value(value) {
            Some(k) => ix.seek(&k),
            None => Vec::new(),
        })
    }
    /// The point index on `label(property)` (a relationship type's, for
    /// relationships), if one exists.
    pub fn find_point_index(
        &self,
        entity: EntityType,
        label: &str,
        property: &str,
    ) -> Option<&IndexDef> {
        self.point_index_on(entity, label, property)
            .map(|ix| &*ix.def)
    }
    /// Entities whose `property` is a point of system `srid` inside the
    /// box `lo..=hi` (one bound per coordinate, edges included), via the
    /// point index; `None` if there is none. Ascending ids.
    pub fn point_index_within(
        &self,
        entity: EntityType,
        label: &str,
        property: &str,
        srid: u32,
        lo: &[f64],
        hi: &[f64],
    ) -> Option<Vec<u64>> {
        Some(
            self.point_index_on(entity, label, property)?
                .within(srid, lo, hi),
        )
    }
    /// Sorted by name.
    pub fn indexes(&self) -> Vec<IndexDef> {
        self.indexes.values().map(|ix| (*ix.def).clone()).collect()
    }
    /// Entries of the range index `name` and how many distinct keys they
    /// have: `(size, distinct)`.
    pub fn index_stats(&self, name: &str) -> Option<(usize, usize)> {
        let ix = self.indexes.get(name)?;
        let size = ix.entries.values().map(|ids| ids.len()).sum();
        Some((size, ix.entries.len()))
    }
    /// Neo4j's description of an index or constraint, as `SHOW` and error
    /// messages give it.
    pub fn index_description(d: &IndexDef) -> String {
        schema::index_desc(d)
    }
    pub fn constraint_description(d: &ConstraintDef) -> String {
        schema::constraint_desc(d)
    }
    /// Sorted by name.
    pub fn constraints(&self) -> Vec<ConstraintDef> {
        self.constraints.values().cloned().collect()
    }
    /// Labels currently in use, sorted.
    pub fn labels(&self) -> Vec<String> {
        self.labels.keys().map(|l| l.to_string()).collect()
    }
    /// Whether a label is in use (a name Neo4j would have a token for).
    pub fn knows_label(&self, label: &str) -> bool {
        self.labels.contains_key(label)
    }
    pub fn knows_property_key(&self, key: &str) -> bool {
        self.prop_keys.contains(key)
    }

    /// Every property key ever written, sorted.
    pub fn property_keys(&self) -> Vec<String> {
        self.prop_keys.iter().map(|l| l.to_string()).collect()
    }

    /// The node as a client value (labels and properties copied out).
    pub fn node_value(&self, id: NodeId) -> Option<causeway_value::Node> {
        let r = self.node_rec(id)?;
        Some(causeway_value::Node {
            id,
            labels: r.labels.iter().map(|l| l.to_string()).collect(),
            props: r.props.view().to_map(),
        })
    }
    pub fn rel_value(&self, id: RelId) -> Option<causeway_value::Relationship> {
        let r = self.rel_view(id)?;
        Some(causeway_value::Relationship {
            id,
            start: r.start,
            end: r.end,
            rel_type: r.ty.to_string(),
            props: r.props.to_map(),
        })
    }

    /// Replay a committed change set. Deterministic: same input state and
    /// change set give the same output state, ids included. Atomic: on error
    /// `self` is left unchanged.
    pub fn apply(&mut self, changes: &ChangeSet) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut g = self.clone();
        for c in &changes.changes {
            g.apply_one(c)?;
        }
        g.version += 1;
        *self = g;
        Ok(())
    }

    /// Takes over `live`'s member-local parts (search index builders and
    /// what they have yet to see): for a graph decoded from `live`'s own
    /// snapshot and caught up to it, about to replace it.
    pub fn take_local(&mut self, live: &Graph) {
        self.ann = live.ann.clone();
        self.search_live = live.search_live.clone();
    }

    /// Serialize the whole graph (data, schema, id counters, version).
    pub fn encode(&self) -> Vec<u8> {
        codec::encode_graph(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Graph> {
        codec::decode_graph(bytes)
    }
}

/// One primitive, fully determined write. Ids are explicit so that replay
/// never allocates.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    CreateNode {
        id: NodeId,
        labels: Vec<String>,
        props: Map,
    },
    CreateRel {
        id: RelId,
        start: NodeId,
        end: NodeId,
        rel_type: String,
        props: Map,
    },
    /// `Value::Null` removes the property.
    SetNodeProp {
        id: NodeId,
        key: String,
        value: Value,
    },
    SetRelProp {
        id: RelId,
        key: String,
        value: Value,
    },
    AddLabel {
        id: NodeId,
        label: String,
    },
    RemoveLabel {
        id: NodeId,
        label: String,
    },
    /// The node has no relationships left at this point.
    DeleteNode {
        id: NodeId,
    },
    DeleteRel {
        id: RelId,
    },
    CreateIndex {
        def: IndexDef,
    },
    /// Drops an index of any kind, vector and fulltext ones included.
    DropIndex {
        name: String,
    },
    CreateVectorIndex {
        def: VectorIndexDef,
    },
    CreateFulltextIndex {
        def: FulltextIndexDef,
    },
    /// Unique and node-key constraints bring their backing index along.
    CreateConstraint {
        def: ConstraintDef,
    },
    DropConstraint {
        name: String,
    },
}

/// The deterministic effect of one transaction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChangeSet {
    pub changes: Vec<Change>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
    pub fn len(&self) -> usize {
        self.changes.len()
    }
    pub fn encode(&self) -> Vec<u8> {
        codec::encode_changes(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<ChangeSet> {
        codec::decode_changes(bytes)
    }
}

/// A transaction's working copy. Derefs to `Graph` for reads.
///
/// Cloning is cheap (persistent structures throughout), so a clone serves
/// as a savepoint for statement-level rollback.
#[derive(Clone)]
pub struct TxGraph {
    graph: Graph,
    changes: Vector<Change>,
    counters: Counters,
    /// Nodes written since the transaction began, for `validate`; only
    /// tracked while constraints exist.
    touched: OrdSet<NodeId>,
    /// Likewise for relationships.
    touched_rels: OrdSet<RelId>,
    /// The state after the last finished inner transaction of the statement
    /// (`CALL { } IN TRANSACTIONS`): what commits if the statement then
    /// fails.
    kept: Option<Box<TxGraph>>,
    /// Where new ids come from when writers run side by side (`ids.rs`);
    /// without it, the graph's own counters.
    ids: Option<Box<ids::Ids>>,
}

impl std::ops::Deref for TxGraph {
    type Target = Graph;
    fn deref(&self) -> &Graph {
        &self.graph
    }
}

impl TxGraph {
    pub fn new(base: Graph) -> Self {
        TxGraph {
            graph: base,
            changes: Vector::new(),
            counters: Counters::default(),
            touched: OrdSet::new(),
            touched_rels: OrdSet::new(),
            kept: None,
            ids: None,
        }
    }
    /// The working state as an independent snapshot (O(1)), for lazily
    /// streamed reads that must not borrow the transaction.
    pub fn snapshot(&self) -> Graph {
        self.graph.clone()
    }
    /// Counters accumulated since the last `take_counters`.
    /// The counters so far, left in place.
    pub fn counters(&self) -> Counters {
        self.counters
    }
    pub fn take_counters(&mut self) -> Counters {
        std::mem::take(&mut self.counters)
    }
    /// Consume the transaction: its final state and the change set that
    /// turns the base into it.
    pub fn finish(self) -> (Graph, ChangeSet) {
        let mut graph = self.graph;
        if !self.changes.is_empty() {
            graph.version += 1;
        }
        let changes = ChangeSet {
            changes: self.changes.into_iter().collect(),
        };
        (graph, changes)
    }
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
    /// Number of primitive changes recorded so far.
    pub fn change_count(&self) -> usize {
        self.changes.len()
    }
    /// The changes recorded after the first `n`.
    pub fn changes_since(&self, n: usize) -> impl Iterator<Item = &Change> {
        self.changes.iter().skip(n)
    }

    pub fn create_node(&mut self, labels: &[String], props: Map) -> Result<NodeId> {
        self.tx_create_node(labels, props)
    }
    pub fn create_rel(
        &mut self,
        start: NodeId,
        end: NodeId,
        rel_type: &str,
        props: Map,
    ) -> Result<RelId> {
        self.tx_create_rel(start, end, rel_type, props)
    }
    /// `Value::Null` removes the property.
    pub fn set_node_prop(&mut self, id: NodeId, key: &str, value: Value) -> Result<()> {
        self.tx_set_node_prop(id, key, value)
    }
    pub fn set_rel_prop(&mut self, id: RelId, key: &str, value: Value) -> Result<()> {
        self.tx_set_rel_prop(id, key, value)
    }
    /// Returns whether the label was newly added.
    pub fn add_label(&mut self, id: NodeId, label: &str) -> Result<bool> {
        self.tx_add_label(id, label)
    }
    pub fn remove_label(&mut self, id: NodeId, label: &str) -> Result<bool> {
        self.tx_remove_label(id, label)
    }
    /// Fails with `ConstraintValidationFailed` if the node still has
    /// relationships and `detach` is false. Deleting a node that is already
    /// gone is a no-op (Cypher may delete the same node from several rows).
    pub fn delete_node(&mut self, id: NodeId, detach: bool) -> Result<()> {
        self.tx_delete_node(id, detach)
    }
    /// Deletes everything one `DELETE` clause named, relationships first,
    /// so that `DELETE n, r` succeeds whatever order the rows came in
    /// (Neo4j only checks for dangling relationships at the end).
    pub fn delete_all(&mut self, nodes: &[NodeId], rels: &[RelId], detach: bool) -> Result<()> {
        for r in rels {
            self.tx_delete_rel(*r)?;
        }
        for n in nodes {
            self.tx_delete_node(*n, detach)?;
        }
        Ok(())
    }
    /// Deleting a relationship that is already gone is a no-op.
    pub fn delete_rel(&mut self, id: RelId) -> Result<()> {
        self.tx_delete_rel(id)
    }
    pub fn create_index(
        &mut self,
        name: Option<String>,
        label: &str,
        properties: &[String],
        if_not_exists: bool,
    ) -> Result<()> {
        self.create_index_for(EntityType::Node, name, label, properties, if_not_exists)
    }
    /// `create_index` for nodes of a label or relationships of a type.
    pub fn create_index_for(
        &mut self,
        entity: EntityType,
        name: Option<String>,
        label: &str,
        properties: &[String],
        if_not_exists: bool,
    ) -> Result<()> {
        let kind = IndexType::Range;
        self.create_index_of(kind, entity, name, label, properties, if_not_exists)
    }
    /// `create_index_for` with the index's kind: a point index takes one
    /// property.
    pub fn create_index_of(
        &mut self,
        kind: IndexType,
        entity: EntityType,
        name: Option<String>,
        label: &str,
        properties: &[String],
        if_not_exists: bool,
    ) -> Result<()> {
        self.tx_create_index(entity, name, label, properties, kind, if_not_exists)
    }
    pub fn drop_index(&mut self, name: &str, if_exists: bool) -> Result<()> {
        self.tx_drop_index(name, if_exists)
    }
    pub fn create_constraint(
        &mut self,
        name: Option<String>,
        label: &str,
        properties: &[String],
        kind: ConstraintType,
        if_not_exists: bool,
    ) -> Result<()> {
        self.create_constraint_for(
            EntityType::Node,
            name,
            label,
            properties,
            kind,
            if_not_exists,
        )
    }
    /// `create_constraint` for nodes of a label or relationships of a type.
    pub fn create_constraint_for(
        &mut self,
        entity: EntityType,
        name: Option<String>,
        label: &str,
        properties: &[String],
        kind: ConstraintType,
        if_not_exists: bool,
    ) -> Result<()> {
        self.tx_create_constraint(entity, name, label, properties, kind, if_not_exists)
    }
    pub fn drop_constraint(&mut self, name: &str, if_exists: bool) -> Result<()> {
        self.tx_drop_constraint(name, if_exists)
    }
    /// Check constraints over what this transaction touched; called at the
    /// end of each statement and before commit.
    pub fn validate(&self) -> Result<()> {
        self.tx_validate()
    }

    /// Ends an inner transaction of `CALL { } IN TRANSACTIONS`: checks the
    /// constraints over what the batch wrote, then forgets those entities.
    /// A later batch that touches them again records them again, and each
    /// check is against the whole graph, so validating every batch once
    /// keeps an import linear instead of re-checking all earlier batches.
    pub fn validate_batch(&mut self) -> Result<()> {
        self.tx_validate()?;
        self.touched = OrdSet::new();
        self.touched_rels = OrdSet::new();
        Ok(())
    }

    /// Records this state as what the statement's finished inner
    /// transactions leave, to be committed even if the statement later
    /// fails, as Neo4j keeps such batches. O(1): a clone.
    pub fn keep_finished_batches(&mut self) {
        let mut snapshot = self.clone();
        snapshot.kept = None;
        self.kept = Some(Box::new(snapshot));
    }

    /// Whether anything was written since the last finished inner
    /// transaction (or at all, before the first).
    pub fn changed_since_kept(&self) -> bool {
        match &self.kept {
            None => self.has_changes(),
            Some(k) => self.changes.len() != k.changes.len(),
        }
    }

    /// The state the finished inner transactions left, if any.
    pub fn take_finished_batches(&mut self) -> Option<TxGraph> {
        self.kept.take().map(|k| *k)
    }

    /// Whether a failure now would still commit finished inner
    /// transactions.
    pub fn keeps_finished_batches(&self) -> bool {
        self.kept.is_some()
    }
}

#[cfg(test)]
mod tests;
