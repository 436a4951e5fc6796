//! Records and the primitive mutations shared by `TxGraph` and `Graph::apply`.
//! Keeping one implementation of each primitive is what guarantees that a
//! replayed change set reaches exactly the state the transaction reached.

use std::borrow::Cow;
use std::sync::Arc;

use causeway_value::{Code, Error, Result, Value};
use imbl::{OrdMap, OrdSet};

use crate::base::Columns;
use crate::{EntityType, Graph, NodeId, RelId};

pub(crate) type Sym = Arc<str>;

/// Above this many entries an adjacency list switches to a persistent map,
/// so inserting into a dense node never copies its whole list.
const SMALL_ADJ: usize = 32;

/// A property value as the store keeps it: 24 bytes, where a client-facing
/// `Value` takes 80 because its node, relationship and path variants sit
/// inline. Scalars and strings, nearly every stored property, are held
/// inline; the rest is boxed. Never `Null`: storing null removes.
#[derive(Clone, Debug)]
pub(crate) enum Stored {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<str>),
    Other(Box<Value>),
}

impl Stored {
    /// `None` for `Null`, which is never stored.
    pub(crate) fn new(v: Value) -> Option<Stored> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(b) => Stored::Bool(b),
            Value::Int(i) => Stored::Int(i),
            Value::Float(f) => Stored::Float(f),
            Value::String(s) => Stored::Str(s.into_boxed_str()),
            other => Stored::Other(Box::new(other)),
        })
    }

    pub(crate) fn as_ref(&self) -> StoredRef<'_> {
        match self {
            Stored::Bool(b) => StoredRef::Bool(*b),
            Stored::Int(i) => StoredRef::Int(*i),
            Stored::Float(f) => StoredRef::Float(*f),
            Stored::Str(s) => StoredRef::Str(s),
            Stored::Other(v) => StoredRef::Other(v),
        }
    }
}

/// A stored value, borrowed from the maps' records or the base's columns.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StoredRef<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Other(&'a Value),
}

impl<'a> StoredRef<'a> {
    /// The value as callers see it: borrowed where the store holds a whole
    /// `Value`, built for the inline forms (a copy, or one allocation for
    /// a string, which every read of a string paid before too).
    pub(crate) fn get(self) -> Cow<'a, Value> {
        match self {
            StoredRef::Bool(b) => Cow::Owned(Value::Bool(b)),
            StoredRef::Int(i) => Cow::Owned(Value::Int(i)),
            StoredRef::Float(f) => Cow::Owned(Value::Float(f)),
            StoredRef::Str(s) => Cow::Owned(Value::String(s.to_string())),
            StoredRef::Other(v) => Cow::Borrowed(v),
        }
    }

    fn to_stored(self) -> Stored {
        match self {
            StoredRef::Bool(b) => Stored::Bool(b),
            StoredRef::Int(i) => Stored::Int(i),
            StoredRef::Float(f) => Stored::Float(f),
            StoredRef::Str(s) => Stored::Str(s.into()),
            StoredRef::Other(v) => Stored::Other(Box::new(v.clone())),
        }
    }
}

/// An entity's properties, in the order they were first set. A boxed slice
/// holds exactly its entries: a growing `Vec` would keep room for four
/// after the first push, four times the bytes of a one-property record.
#[derive(Clone, Debug, Default)]
pub(crate) struct Props(Box<[(Sym, Stored)]>);

impl Props {
    /// Builds from entries whose keys are distinct and whose values are not
    /// null; callers (creation, decoding) have checked both.
    pub(crate) fn from_entries(entries: Vec<(Sym, Stored)>) -> Props {
        Props(entries.into_boxed_slice())
    }

    pub(crate) fn view(&self) -> PropsRef<'_> {
        PropsRef::Map(self)
    }

    pub(crate) fn get(&self, key: &str) -> Option<Cow<'_, Value>> {
        self.view().get(key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.view().has(key)
    }

    /// `Null` removes.
    pub(crate) fn set(&mut self, key: Sym, value: Value) {
        let pos = self.0.iter().position(|(k, _)| *k == key);
        match (pos, Stored::new(value)) {
            (Some(i), None) => {
                let mut v = std::mem::take(&mut self.0).into_vec();
                v.remove(i);
                self.0 = v.into_boxed_slice();
            }
            (Some(i), Some(v)) => self.0[i].1 = v,
            (None, None) => {}
            (None, Some(v)) => {
                let mut all = std::mem::take(&mut self.0).into_vec();
                all.reserve_exact(1);
                all.push((key, v));
                self.0 = all.into_boxed_slice();
            }
        }
    }
}

/// An entity's properties, wherever they are kept.
#[derive(Clone, Copy)]
pub(crate) enum PropsRef<'a> {
    Map(&'a Props),
    Base(&'a Columns, u32),
}

impl<'a> PropsRef<'a> {
    fn stored(self, key: &str) -> Option<StoredRef<'a>> {
        match self {
            PropsRef::Map(p) => {
                p.0.iter()
                    .find(|(k, _)| &**k == key)
                    .map(|(_, v)| v.as_ref())
            }
            PropsRef::Base(c, row) => c.get(row, key),
        }
    }

    pub(crate) fn get(self, key: &str) -> Option<Cow<'a, Value>> {
        self.stored(key).map(StoredRef::get)
    }

    pub(crate) fn has(self, key: &str) -> bool {
        self.stored(key).is_some()
    }

    pub(crate) fn len(self) -> usize {
        match self {
            PropsRef::Map(p) => p.0.len(),
            PropsRef::Base(c, row) => c.len(row),
        }
    }

    /// `f(key, value)` in the order the keys were first set.
    pub(crate) fn for_each(self, mut f: impl FnMut(&'a Sym, StoredRef<'a>)) {
        match self {
            PropsRef::Map(p) => p.0.iter().for_each(|(k, v)| f(k, v.as_ref())),
            PropsRef::Base(c, row) => c.for_each(row, f),
        }
    }

    pub(crate) fn to_map(self) -> causeway_value::Map {
        let mut m = causeway_value::Map::new();
        self.for_each(|k, v| {
            m.insert(k.to_string(), v.get().into_owned());
        });
        m
    }

    pub(crate) fn keys(self) -> Vec<&'a str> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|k, _| out.push(&**k));
        out
    }

    /// An owned copy, for a relationship moving from the base to the maps.
    pub(crate) fn to_props(self) -> Props {
        let mut entries = Vec::with_capacity(self.len());
        self.for_each(|k, v| entries.push((k.clone(), v.to_stored())));
        Props::from_entries(entries)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct AdjEntry {
    pub(crate) ty: Sym,
    pub(crate) rel: RelId,
    pub(crate) other: NodeId,
}

/// Entries are ordered by (type, relationship id) in both representations,
/// so expansion order does not depend on how the list was built.
#[derive(Clone, Debug)]
pub(crate) enum Adj {
    Small(Vec<AdjEntry>),
    Large(OrdMap<(Sym, RelId), NodeId>),
}

impl Default for Adj {
    fn default() -> Self {
        Adj::Small(Vec::new())
    }
}

impl Adj {
    pub(crate) fn len(&self) -> usize {
        match self {
            Adj::Small(v) => v.len(),
            Adj::Large(m) => m.len(),
        }
    }

    fn insert(&mut self, ty: Sym, rel: RelId, other: NodeId) {
        match self {
            Adj::Small(v) => {
                let pos = v.partition_point(|e| (&*e.ty, e.rel) < (&*ty, rel));
                v.insert(pos, AdjEntry { ty, rel, other });
                if v.len() > SMALL_ADJ {
                    let m: OrdMap<(Sym, RelId), NodeId> =
                        v.drain(..).map(|e| ((e.ty, e.rel), e.other)).collect();
                    *self = Adj::Large(m);
                }
            }
            Adj::Large(m) => {
                m.insert((ty, rel), other);
            }
        }
    }

    fn remove(&mut self, ty: &Sym, rel: RelId) {
        match self {
            Adj::Small(v) => {
                if let Some(i) = v.iter().position(|e| e.rel == rel) {
                    v.remove(i);
                }
            }
            Adj::Large(m) => {
                m.remove(&(ty.clone(), rel));
            }
        }
    }

    /// Calls `f(rel, other)` for entries whose type is in `types` (all if
    /// empty). `syms` is the graph's interner: the range probe of a large
    /// list reuses its names rather than allocating one per call.
    pub(crate) fn for_each(
        &self,
        types: &[String],
        syms: &OrdSet<Sym>,
        mut f: impl FnMut(RelId, NodeId),
    ) {
        self.for_each_typed(types, syms, |_, r, o| f(r, o))
    }

    /// `for_each`, with each entry's type.
    pub(crate) fn for_each_typed<'a>(
        &'a self,
        types: &[String],
        syms: &OrdSet<Sym>,
        mut f: impl FnMut(&'a Sym, RelId, NodeId),
    ) {
        match self {
            Adj::Small(v) => {
                for e in v {
                    if types.is_empty() || types.iter().any(|t| **t == *e.ty) {
                        f(&e.ty, e.rel, e.other);
                    }
                }
            }
            Adj::Large(m) => {
                if types.is_empty() {
                    for ((t, r), o) in m.iter() {
                        f(t, *r, *o);
                    }
                } else {
                    // Each named type once, in name order, as the small
                    // form and the base give them; a name never interned is
                    // on no relationship.
                    let mut wanted: Vec<&Sym> =
                        types.iter().filter_map(|t| syms.get(t.as_str())).collect();
                    wanted.sort_unstable();
                    wanted.dedup();
                    for lo in wanted {
                        let start = (lo.clone(), 0u64);
                        let end = (lo.clone(), u64::MAX);
                        for ((t, r), o) in m.range(start..=end) {
                            f(t, *r, *o);
                        }
                    }
                }
            }
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct NodeRec {
    pub(crate) labels: Vec<Sym>,
    pub(crate) props: Props,
    pub(crate) out: Adj,
    pub(crate) inc: Adj,
}

impl NodeRec {
    pub(crate) fn has_label(&self, l: &str) -> bool {
        self.labels.iter().any(|x| &**x == l)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct RelRec {
    pub(crate) ty: Sym,
    pub(crate) start: NodeId,
    pub(crate) end: NodeId,
    pub(crate) props: Props,
}

pub(crate) fn node_not_found(id: NodeId) -> Error {
    Error::runtime(
        Code::EntityNotFound,
        "EntityNotFound",
        format!("Unable to load NODE with id {id}."),
    )
}

pub(crate) fn rel_not_found(id: RelId) -> Error {
    Error::runtime(
        Code::EntityNotFound,
        "EntityNotFound",
        format!("Unable to load RELATIONSHIP with id {id}."),
    )
}

pub(crate) fn connected_node(id: NodeId) -> Error {
    Error::runtime(
        Code::ConstraintValidationFailed,
        "DeleteConnectedNode",
        format!(
            "Cannot delete node<{id}>, because it still has relationships. \
             To delete this node, you must first delete its relationships."
        ),
    )
}

impl Graph {
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if let Some(x) = self.syms.get(s) {
            return x.clone();
        }
        let x: Sym = Arc::from(s);
        self.syms.insert(x.clone());
        x
    }

    fn note_prop_key(&mut self, k: &Sym) {
        // Looking first avoids touching a shared set on every write.
        if !self.prop_keys.contains(k) {
            self.prop_keys.insert(k.clone());
        }
    }

    /// A new entity's properties; nulls are not stored.
    fn new_props(&mut self, props: &causeway_value::Map) -> Props {
        let mut entries = Vec::with_capacity(props.len());
        for (k, v) in props {
            if let Some(v) = Stored::new(v.clone()) {
                let s = self.intern(k);
                self.note_prop_key(&s);
                entries.push((s, v));
            }
        }
        Props::from_entries(entries)
    }

    pub(crate) fn node_rec(&self, id: NodeId) -> Option<&NodeRec> {
        self.nodes.get(&id).map(|a| &**a)
    }

    fn node_mut(&mut self, id: NodeId) -> Result<&mut NodeRec> {
        self.nodes
            .get_mut(&id)
            .map(Arc::make_mut)
            .ok_or_else(|| node_not_found(id))
    }

    // ---- primitives -------------------------------------------------------
    // Each validates only what keeps the store consistent (existence, ids);
    // Cypher-level checks (types, constraints) happen in TxGraph beforehand.

    pub(crate) fn raw_create_node(
        &mut self,
        id: NodeId,
        labels: &[String],
        props: &causeway_value::Map,
    ) -> Result<()> {
        // Any unused id: writers running side by side commit their ids out of
        // order. The leader's allocator is what keeps ids from being reused.
        if self.nodes.contains_key(&id) {
            return Err(Error::new(
                Code::Unknown,
                format!("node id {id} is already allocated"),
            ));
        }
        let mut rec = NodeRec::default();
        for l in labels {
            if !rec.has_label(l) {
                let s = self.intern(l);
                rec.labels.push(s);
            }
        }
        rec.props = self.new_props(props);
        self.insert_node_rec(id, rec);
        Ok(())
    }

    /// Links a fresh record (no relationships yet) into the label and
    /// property indexes. Callers have checked that `id` is free.
    pub(crate) fn insert_node_rec(&mut self, id: NodeId, rec: NodeRec) {
        for l in &rec.labels {
            self.labels.entry(l.clone()).or_default().insert(id);
        }
        self.next_node = self.next_node.max(id.saturating_add(1));
        self.index_add_node(id, &rec, None);
        self.nodes.insert(id, Arc::new(rec));
        self.search_touch_node(id, None);
    }

    pub(crate) fn raw_create_rel(
        &mut self,
        id: RelId,
        start: NodeId,
        end: NodeId,
        ty: &str,
        props: &causeway_value::Map,
    ) -> Result<()> {
        if self.rel_exists(id) {
            return Err(Error::new(
                Code::Unknown,
                format!("relationship id {id} is already allocated"),
            ));
        }
        if !self.nodes.contains_key(&start) {
            return Err(node_not_found(start));
        }
        if !self.nodes.contains_key(&end) {
            return Err(node_not_found(end));
        }
        let ty = self.intern(ty);
        let p = self.new_props(props);
        self.rel_index_update(id, &ty, None, Some(p.view()));
        self.search_touch(EntityType::Relationship, id, [&*ty], None);
        self.link_rel(id, ty, start, end, p)
    }

    /// Puts a relationship between two existing nodes into the maps and
    /// their adjacency. Callers have checked that `id` is free.
    pub(crate) fn link_rel(
        &mut self,
        id: RelId,
        ty: Sym,
        start: NodeId,
        end: NodeId,
        p: Props,
    ) -> Result<()> {
        self.node_mut(start)?.out.insert(ty.clone(), id, end);
        self.node_mut(end)?.inc.insert(ty.clone(), id, start);
        self.types.entry(ty.clone()).or_default().insert(id);
        self.rels.insert(
            id,
            Arc::new(RelRec {
                ty,
                start,
                end,
                props: p,
            }),
        );
        self.next_rel = self.next_rel.max(id.saturating_add(1));
        Ok(())
    }

    pub(crate) fn raw_set_node_prop(&mut self, id: NodeId, key: &str, value: Value) -> Result<()> {
        let rec = self.node_rec(id).ok_or_else(|| node_not_found(id))?;
        let affected = self.affected_indexes(rec, None, Some(key));
        let old_keys = self.index_keys(rec, &affected);
        let k = self.intern(key);
        if !value.is_null() {
            self.note_prop_key(&k);
        }
        let rec = self.node_mut(id)?;
        rec.props.set(k, value);
        if !affected.is_empty() {
            let rec = self
                .nodes
                .get(&id)
                .cloned()
                .ok_or_else(|| node_not_found(id))?;
            self.index_update(id, &rec, &affected, old_keys);
        }
        self.search_touch_node(id, Some(key));
        Ok(())
    }

    pub(crate) fn raw_set_rel_prop(&mut self, id: RelId, key: &str, value: Value) -> Result<()> {
        self.rel_into_maps(id)?;
        let rec = self.rels.get(&id).ok_or_else(|| rel_not_found(id))?;
        let indexed = self.has_rel_index(&rec.ty, Some(key));
        let before = indexed.then(|| rec.props.clone());
        let k = self.intern(key);
        if !value.is_null() {
            self.note_prop_key(&k);
        }
        let rec = self
            .rels
            .get_mut(&id)
            .map(Arc::make_mut)
            .ok_or_else(|| rel_not_found(id))?;
        rec.props.set(k, value);
        if let Some(before) = before {
            let rec = self
                .rels
                .get(&id)
                .cloned()
                .ok_or_else(|| rel_not_found(id))?;
            self.rel_index_update(id, &rec.ty, Some(before.view()), Some(rec.props.view()));
        }
        if self.has_search_indexes() {
            if let Some(ty) = self.rels.get(&id).map(|r| r.ty.clone()) {
                self.search_touch(EntityType::Relationship, id, [&*ty], Some(key));
            }
        }
        Ok(())
    }

    pub(crate) fn raw_add_label(&mut self, id: NodeId, label: &str) -> Result<bool> {
        let rec = self.node_rec(id).ok_or_else(|| node_not_found(id))?;
        if rec.has_label(label) {
            return Ok(false);
        }
        let l = self.intern(label);
        self.node_mut(id)?.labels.push(l.clone());
        self.labels.entry(l).or_default().insert(id);
        let rec = self
            .nodes
            .get(&id)
            .cloned()
            .ok_or_else(|| node_not_found(id))?;
        self.index_add_node(id, &rec, Some(label));
        self.search_touch(EntityType::Node, id, [label], None);
        Ok(true)
    }

    pub(crate) fn raw_remove_label(&mut self, id: NodeId, label: &str) -> Result<bool> {
        let rec = self.node_rec(id).ok_or_else(|| node_not_found(id))?;
        if !rec.has_label(label) {
            return Ok(false);
        }
        let rec = self
            .nodes
            .get(&id)
            .cloned()
            .ok_or_else(|| node_not_found(id))?;
        self.index_remove_node(id, &rec, Some(label));
        drop(rec);
        let rec = self.node_mut(id)?;
        rec.labels.retain(|l| &**l != label);
        self.remove_from_label_index(label, id);
        self.search_touch(EntityType::Node, id, [label], None);
        Ok(true)
    }

    /// `search_touch` for a node, with the labels it has now.
    fn search_touch_node(&mut self, id: NodeId, key: Option<&str>) {
        if !self.has_search_indexes() {
            return;
        }
        if let Some(rec) = self.nodes.get(&id).cloned() {
            self.search_touch(EntityType::Node, id, rec.labels.iter().map(|l| &**l), key);
        }
    }

    fn remove_from_label_index(&mut self, label: &str, id: NodeId) {
        let empty = match self.labels.get_mut(label) {
            Some(set) => {
                set.remove(&id);
                set.is_empty()
            }
            None => false,
        };
        if empty {
            self.labels.remove(label);
        }
    }

    pub(crate) fn raw_delete_rel(&mut self, id: RelId) -> Result<()> {
        let Some(rec) = self.rels.remove(&id) else {
            return self.delete_base_rel(id);
        };
        self.rel_index_update(id, &rec.ty, Some(rec.props.view()), None);
        self.search_touch(EntityType::Relationship, id, [&*rec.ty], None);
        if let Ok(n) = self.node_mut(rec.start) {
            n.out.remove(&rec.ty, id);
        }
        if let Ok(n) = self.node_mut(rec.end) {
            n.inc.remove(&rec.ty, id);
        }
        let empty = match self.types.get_mut(&rec.ty) {
            Some(set) => {
                set.remove(&id);
                set.is_empty()
            }
            None => false,
        };
        if empty {
            self.types.remove(&rec.ty);
        }
        Ok(())
    }

    pub(crate) fn raw_delete_node(&mut self, id: NodeId) -> Result<()> {
        let rec = self
            .nodes
            .get(&id)
            .cloned()
            .ok_or_else(|| node_not_found(id))?;
        if self.node_has_rels(&rec, id) {
            return Err(connected_node(id));
        }
        self.index_remove_node(id, &rec, None);
        self.search_touch_node(id, None);
        for l in &rec.labels {
            self.remove_from_label_index(l, id);
        }
        self.nodes.remove(&id);
        Ok(())
    }
}
