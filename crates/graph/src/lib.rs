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

use causeway_value::{Counters, Map, Result, Value};

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

#[derive(Clone, Debug, PartialEq)]
pub struct IndexDef {
    pub name: String,
    pub label: String,
    pub properties: Vec<String>,
    /// Set for indexes that back a uniqueness constraint.
    pub owning_constraint: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintType {
    Unique,
    NotNull,
    NodeKey,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConstraintDef {
    pub name: String,
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

#[derive(Clone, Default)]
pub struct Graph {}

impl Graph {
    pub fn new() -> Self {
        todo!()
    }

    /// Number of change sets applied (or committed through a TxGraph) so far.
    pub fn version(&self) -> u64 {
        todo!()
    }

    pub fn node_count(&self) -> usize {
        todo!()
    }
    pub fn rel_count(&self) -> usize {
        todo!()
    }

    pub fn node_exists(&self, _id: NodeId) -> bool {
        todo!()
    }
    /// Labels in the order they were added.
    pub fn node_labels(&self, _id: NodeId) -> Option<Vec<&str>> {
        todo!()
    }
    pub fn node_has_label(&self, _id: NodeId, _label: &str) -> bool {
        todo!()
    }
    pub fn node_prop(&self, _id: NodeId, _key: &str) -> Option<&Value> {
        todo!()
    }
    pub fn node_props(&self, _id: NodeId) -> Option<Map> {
        todo!()
    }
    pub fn node_keys(&self, _id: NodeId) -> Option<Vec<&str>> {
        todo!()
    }

    pub fn rel(&self, _id: RelId) -> Option<RelRef<'_>> {
        todo!()
    }
    pub fn rel_prop(&self, _id: RelId, _key: &str) -> Option<&Value> {
        todo!()
    }
    pub fn rel_props(&self, _id: RelId) -> Option<Map> {
        todo!()
    }
    pub fn rel_keys(&self, _id: RelId) -> Option<Vec<&str>> {
        todo!()
    }

    /// All node ids in ascending order. The returned collection is owned
    /// (a cheap persistent clone) so that streaming readers can hold it.
    pub fn all_nodes(&self) -> Vec<NodeId> {
        todo!()
    }
    pub fn nodes_with_label(&self, _label: &str) -> Vec<NodeId> {
        todo!()
    }
    pub fn all_rels(&self) -> Vec<RelId> {
        todo!()
    }
    pub fn rels_with_type(&self, _rel_type: &str) -> Vec<RelId> {
        todo!()
    }
    /// Relationships attached to `node` in direction `dir`, restricted to
    /// `types` unless it is empty: `(relationship, the node at the other end)`.
    /// A self-loop appears once for `Dir::Both`.
    pub fn expand(&self, _node: NodeId, _dir: Dir, _types: &[String]) -> Vec<(RelId, NodeId)> {
        todo!()
    }
    pub fn degree(&self, _node: NodeId, _dir: Dir, _types: &[String]) -> usize {
        todo!()
    }

    /// The index on `label(property)`, if one exists.
    pub fn find_index(&self, _label: &str, _property: &str) -> Option<&IndexDef> {
        todo!()
    }
    /// Nodes whose `property` equals `value` (Cypher equality), via the index
    /// on `label(property)`; `None` if there is no such index.
    pub fn index_seek(&self, _label: &str, _property: &str, _value: &Value) -> Option<Vec<NodeId>> {
        todo!()
    }
    /// Nodes whose `property` lies in the range (values of the bound's type
    /// only, as Cypher comparison does); `None` if there is no such index.
    pub fn index_range(
        &self,
        _label: &str,
        _property: &str,
        _lower: &Bound,
        _upper: &Bound,
    ) -> Option<Vec<NodeId>> {
        todo!()
    }
    pub fn indexes(&self) -> Vec<IndexDef> {
        todo!()
    }
    pub fn constraints(&self) -> Vec<ConstraintDef> {
        todo!()
    }
    pub fn labels(&self) -> Vec<String> {
        todo!()
    }
    pub fn rel_types(&self) -> Vec<String> {
        todo!()
    }
    pub fn property_keys(&self) -> Vec<String> {
        todo!()
    }

    /// The node as a client value (labels and properties copied out).
    pub fn node_value(&self, _id: NodeId) -> Option<causeway_value::Node> {
        todo!()
    }
    pub fn rel_value(&self, _id: RelId) -> Option<causeway_value::Relationship> {
        todo!()
    }

    /// Replay a committed change set. Deterministic: same input state and
    /// change set give the same output state, ids included.
    pub fn apply(&mut self, _changes: &ChangeSet) -> Result<()> {
        todo!()
    }

    /// Serialize the whole graph (data, schema, id counters, version).
    pub fn encode(&self) -> Vec<u8> {
        todo!()
    }
    pub fn decode(_bytes: &[u8]) -> Result<Graph> {
        todo!()
    }
}

/// The deterministic effect of one transaction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChangeSet {}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        todo!()
    }
    pub fn encode(&self) -> Vec<u8> {
        todo!()
    }
    pub fn decode(_bytes: &[u8]) -> Result<ChangeSet> {
        todo!()
    }
}

/// A transaction's working copy. Derefs to `Graph` for reads.
#[derive(Clone)]
pub struct TxGraph {
    graph: Graph,
}

impl std::ops::Deref for TxGraph {
    type Target = Graph;
    fn deref(&self) -> &Graph {
        &self.graph
    }
}

impl TxGraph {
    pub fn new(_base: Graph) -> Self {
        todo!()
    }
    /// The working state as an independent snapshot (O(1)), for lazily
    /// streamed reads that must not borrow the transaction.
    pub fn snapshot(&self) -> Graph {
        todo!()
    }
    /// Counters accumulated since the last `take_counters`.
    pub fn take_counters(&mut self) -> Counters {
        todo!()
    }
    /// Consume the transaction: its final state and the change set that
    /// turns the base into it.
    pub fn finish(self) -> (Graph, ChangeSet) {
        todo!()
    }
    pub fn has_changes(&self) -> bool {
        todo!()
    }

    pub fn create_node(&mut self, _labels: &[String], _props: Map) -> Result<NodeId> {
        todo!()
    }
    pub fn create_rel(
        &mut self,
        _start: NodeId,
        _end: NodeId,
        _rel_type: &str,
        _props: Map,
    ) -> Result<RelId> {
        todo!()
    }
    /// `Value::Null` removes the property.
    pub fn set_node_prop(&mut self, _id: NodeId, _key: &str, _value: Value) -> Result<()> {
        todo!()
    }
    pub fn set_rel_prop(&mut self, _id: RelId, _key: &str, _value: Value) -> Result<()> {
        todo!()
    }
    /// Returns whether the label was newly added.
    pub fn add_label(&mut self, _id: NodeId, _label: &str) -> Result<bool> {
        todo!()
    }
    pub fn remove_label(&mut self, _id: NodeId, _label: &str) -> Result<bool> {
        todo!()
    }
    /// Fails with `ConstraintValidationFailed` if the node still has
    /// relationships and `detach` is false.
    pub fn delete_node(&mut self, _id: NodeId, _detach: bool) -> Result<()> {
        todo!()
    }
    pub fn delete_rel(&mut self, _id: RelId) -> Result<()> {
        todo!()
    }
    pub fn create_index(
        &mut self,
        _name: Option<String>,
        _label: &str,
        _properties: &[String],
        _if_not_exists: bool,
    ) -> Result<()> {
        todo!()
    }
    pub fn drop_index(&mut self, _name: &str, _if_exists: bool) -> Result<()> {
        todo!()
    }
    pub fn create_constraint(
        &mut self,
        _name: Option<String>,
        _label: &str,
        _properties: &[String],
        _kind: ConstraintType,
        _if_not_exists: bool,
    ) -> Result<()> {
        todo!()
    }
    pub fn drop_constraint(&mut self, _name: &str, _if_exists: bool) -> Result<()> {
        todo!()
    }
    /// Check constraints over what this transaction touched; called at the
    /// end of each statement and before commit.
    pub fn validate(&self) -> Result<()> {
        todo!()
    }
}
