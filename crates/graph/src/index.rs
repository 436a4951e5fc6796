//! Property indexes: `(label, properties)` -> ordered map from key to nodes,
//! or `(type, properties)` -> relationships for relationship indexes.

use std::borrow::Cow;
use std::ops::Bound as StdBound;
use std::sync::Arc;

use imbl::{OrdMap, OrdSet};

use crate::key::Key;
use crate::spatial;
use crate::store::{NodeRec, PropsRef};
use crate::{Bound, EntityType, Graph, IndexDef, IndexType, NodeId, RelId};

/// The nodes under one key. Most keys of a typical index (and every key of
/// a unique one) hold a single node, which needs no set allocation.
#[derive(Clone, Debug)]
pub(crate) enum Ids {
    One(NodeId),
    Many(OrdSet<NodeId>),
}

impl Ids {
    fn insert(&mut self, id: NodeId) {
        match self {
            Ids::One(x) if *x == id => {}
            Ids::One(x) => {
                let mut s = OrdSet::new();
                s.insert(*x);
                s.insert(id);
                *self = Ids::Many(s);
            }
            Ids::Many(s) => {
                s.insert(id);
            }
        }
    }

    /// Returns whether the entry is now empty.
    fn remove(&mut self, id: NodeId) -> bool {
        match self {
            Ids::One(x) => *x == id,
            Ids::Many(s) => {
                s.remove(&id);
                if s.len() == 1 {
                    if let Some(last) = s.get_min().copied() {
                        *self = Ids::One(last);
                    }
                }
                s_is_empty(self)
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Ids::One(_) => 1,
            Ids::Many(s) => s.len(),
        }
    }

    /// Ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        let (one, many) = match self {
            Ids::One(x) => (Some(*x), None),
            Ids::Many(s) => (None, Some(s.iter().copied())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

fn s_is_empty(ids: &Ids) -> bool {
    matches!(ids, Ids::Many(s) if s.is_empty())
}

#[derive(Clone, Debug)]
pub(crate) struct Index {
    pub(crate) def: Arc<IndexDef>,
    /// Backs a uniqueness or node-key constraint.
    pub(crate) unique: bool,
    pub(crate) entries: OrdMap<Key, Ids>,
}

impl Index {
    pub(crate) fn new(def: IndexDef, unique: bool) -> Self {
        Index {
            def: Arc::new(def),
            unique,
            entries: OrdMap::new(),
        }
    }

    /// The entity's key in this index; `None` if it lacks any of the
    /// properties (such entities are not indexed, as in Neo4j).
    pub(crate) fn key_for(&self, props: PropsRef<'_>) -> Option<Key> {
        self.key_with(|k| props.get(k))
    }

    fn on_nodes(&self) -> bool {
        self.def.entity == EntityType::Node
    }

    fn on_rel_type(&self, ty: &str) -> bool {
        self.def.entity == EntityType::Relationship && self.def.label == ty
    }

    pub(crate) fn key_with<'a>(
        &self,
        get: impl Fn(&str) -> Option<Cow<'a, causeway_value::Value>>,
    ) -> Option<Key> {
        let props = &self.def.properties;
        if props.len() == 1 {
            let v = get(&props[0])?;
            // A point index holds points only, as in Neo4j.
            if matches!(self.def.kind, IndexType::Point(_))
                && !matches!(*v, causeway_value::Value::Point(_))
            {
                return None;
            }
            return Key::from_value(&v);
        }
        let mut parts = Vec::with_capacity(props.len());
        for p in props {
            let v = get(p)?;
            parts.push(Key::from_value(&v)?);
        }
        Some(Key::Tuple(parts))
    }

    pub(crate) fn insert(&mut self, key: Key, id: NodeId) {
        match self.entries.get_mut(&key) {
            Some(ids) => ids.insert(id),
            None => {
                self.entries.insert(key, Ids::One(id));
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &Key, id: NodeId) {
        let empty = match self.entries.get_mut(key) {
            Some(ids) => ids.remove(id),
            None => false,
        };
        if empty {
            self.entries.remove(key);
        }
    }

    pub(crate) fn seek(&self, key: &Key) -> Vec<NodeId> {
        if key.has_nan() {
            return Vec::new();
        }
        self.entries
            .get(key)
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }

    pub(crate) fn scan(&self) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = self.entries.values().flat_map(Ids::iter).collect();
        out.sort_unstable();
        out
    }

    pub(crate) fn prefix(&self, prefix: &str) -> Vec<NodeId> {
        let start = Key::Str(prefix.to_owned());
        let mut out = Vec::new();
        for (k, ids) in self
            .entries
            .range((StdBound::Included(start), StdBound::Unbounded))
        {
            match k {
                Key::Str(s) if s.starts_with(prefix) => out.extend(ids.iter()),
                _ => break,
            }
        }
        out.sort_unstable();
        out
    }

    /// Entities whose point, of system `srid`, lies in the box `lo..=hi`
    /// (one bound per coordinate, edges included). Ascending ids.
    pub(crate) fn within(&self, srid: u32, lo: &[f64], hi: &[f64]) -> Vec<NodeId> {
        let d = lo.len();
        // NaN bounds compare false with everything: an empty box.
        if d != hi.len()
            || d == 0
            || lo
                .iter()
                .zip(hi)
                .any(|(a, b)| a.partial_cmp(b).is_none_or(|o| o.is_gt()))
        {
            return Vec::new();
        }
        let bits = spatial::bits(d);
        let cells = |b: &[f64]| -> Vec<u64> { b.iter().map(|&c| spatial::cell(c, bits)).collect() };
        let inside = |coords: &[u64]| {
            coords.len() == d
                && coords.iter().zip(lo.iter().zip(hi)).all(|(&c, (l, h))| {
                    let c = f64::from_bits(c);
                    *l <= c && c <= *h
                })
        };
        let mut out = Vec::new();
        for (zlo, zhi) in spatial::z_intervals(&cells(lo), &cells(hi), bits) {
            let start = Key::Point(srid, zlo, Box::default());
            for (k, ids) in self
                .entries
                .range((StdBound::Included(start), StdBound::Unbounded))
            {
                match k {
                    Key::Point(s, z, coords) if *s == srid && *z <= zhi => {
                        if inside(coords) {
                            out.extend(ids.iter());
                        }
                    }
                    _ => break,
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    pub(crate) fn range(&self, lower: &Bound, upper: &Bound) -> Vec<NodeId> {
        // Zoned temporal bounds widen to all offsets at their instant, since
        // `<`/`>` compare instants (see `Key::instant_bound`).
        let conv = |b: &Bound, is_lower: bool| -> Result<StdBound<Key>, ()> {
            Ok(match b {
                Bound::Unbounded => StdBound::Unbounded,
                Bound::Included(v) => {
                    StdBound::Included(Key::from_value(v).ok_or(())?.instant_bound(is_lower))
                }
                Bound::Excluded(v) => {
                    StdBound::Excluded(Key::from_value(v).ok_or(())?.instant_bound(!is_lower))
                }
            })
        };
        // A null (or unstorable) bound makes every comparison null: no rows.
        let (Ok(lo), Ok(hi)) = (conv(lower, true), conv(upper, false)) else {
            return Vec::new();
        };
        // Durations and points are not ordered: every range comparison is
        // null.
        for b in [&lo, &hi] {
            if let StdBound::Included(k) | StdBound::Excluded(k) = b {
                if matches!(k, Key::Duration(..) | Key::Point(..)) {
                    return Vec::new();
                }
            }
        }
        let fam_of = |b: &StdBound<Key>| match b {
            StdBound::Included(k) | StdBound::Excluded(k) => Some(k.family()),
            StdBound::Unbounded => None,
        };
        let family = match (fam_of(&lo), fam_of(&hi)) {
            (Some(a), Some(b)) if a != b => return Vec::new(),
            (Some(a), _) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        for b in [&lo, &hi] {
            if let StdBound::Included(k) | StdBound::Excluded(k) = b {
                if k.has_nan() {
                    return Vec::new();
                }
            }
        }
        let start = match (&lo, family) {
            (StdBound::Unbounded, Some(f)) => StdBound::Included(Key::family_min(f)),
            (b, _) => b.clone(),
        };
        let mut out = Vec::new();
        for (k, ids) in self.entries.range((start, StdBound::Unbounded)) {
            if let Some(f) = family {
                if k.family() != f {
                    break;
                }
            }
            let past = match &hi {
                StdBound::Included(h) => k > h,
                StdBound::Excluded(h) => k >= h,
                StdBound::Unbounded => false,
            };
            if past {
                break;
            }
            if k.has_nan() {
                continue;
            }
            out.extend(ids.iter());
        }
        out.sort_unstable();
        out
    }
}

impl Graph {
    /// Positions (in name order) of the indexes a write to `rec` may affect:
    /// those on one of its labels (or only `label`), covering `key` if given.
    pub(crate) fn affected_indexes(
        &self,
        rec: &NodeRec,
        label: Option<&str>,
        key: Option<&str>,
    ) -> Vec<usize> {
        if self.indexes.is_empty() {
            return Vec::new();
        }
        self.indexes
            .values()
            .enumerate()
            .filter(|(_, ix)| ix.on_nodes())
            .filter(|(_, ix)| match label {
                Some(l) => ix.def.label == l,
                None => rec.has_label(&ix.def.label),
            })
            .filter(|(_, ix)| key.is_none_or(|k| ix.def.properties.iter().any(|p| p == k)))
            .map(|(i, _)| i)
            .collect()
    }

    pub(crate) fn index_keys(&self, rec: &NodeRec, positions: &[usize]) -> Vec<Option<Key>> {
        let mut out = Vec::with_capacity(positions.len());
        let mut it = self.indexes.values().enumerate();
        for &p in positions {
            let key = it
                .by_ref()
                .find(|(i, _)| *i == p)
                .and_then(|(_, ix)| ix.key_for(rec.props.view()));
            out.push(key);
        }
        out
    }

    /// Moves `id` from its old keys to the keys `rec` now has.
    pub(crate) fn index_update(
        &mut self,
        id: NodeId,
        rec: &NodeRec,
        positions: &[usize],
        old: Vec<Option<Key>>,
    ) {
        if positions.is_empty() {
            return;
        }
        let indexes = Arc::make_mut(&mut self.indexes);
        let mut old = old.into_iter();
        let mut pos = positions.iter().peekable();
        for (i, ix) in indexes.values_mut().enumerate() {
            if pos.peek() != Some(&&i) {
                continue;
            }
            pos.next();
            let old = old.next().flatten();
            let new = ix.key_for(rec.props.view());
            // Keys are canonical, so equal means the entry stays put.
            if new == old {
                continue;
            }
            if let Some(o) = old {
                ix.remove(&o, id);
            }
            if let Some(k) = new {
                ix.insert(k, id);
            }
        }
    }

    pub(crate) fn index_add_node(&mut self, id: NodeId, rec: &NodeRec, label: Option<&str>) {
        self.index_each(rec, label, |ix, key| ix.insert(key, id));
    }

    pub(crate) fn index_remove_node(&mut self, id: NodeId, rec: &NodeRec, label: Option<&str>) {
        self.index_each(rec, label, |ix, key| ix.remove(&key, id));
    }

    /// Calls `f` with each index on the node's labels (or only `label`) in
    /// which the node has a key.
    fn index_each(
        &mut self,
        rec: &NodeRec,
        label: Option<&str>,
        mut f: impl FnMut(&mut Index, Key),
    ) {
        let applies = |ix: &Index| {
            ix.on_nodes()
                && match label {
                    Some(l) => ix.def.label == l,
                    None => rec.has_label(&ix.def.label),
                }
        };
        // Checking first keeps unrelated writes from copying a shared map.
        if !self.indexes.values().any(applies) {
            return;
        }
        for ix in Arc::make_mut(&mut self.indexes).values_mut() {
            if applies(ix) {
                if let Some(k) = ix.key_for(rec.props.view()) {
                    f(ix, k);
                }
            }
        }
    }

    /// Whether a relationship index on `ty` (covering `key`, if given)
    /// exists, i.e. whether a write to such a relationship must touch one.
    pub(crate) fn has_rel_index(&self, ty: &str, key: Option<&str>) -> bool {
        self.indexes.values().any(|ix| {
            ix.on_rel_type(ty) && key.is_none_or(|k| ix.def.properties.iter().any(|p| p == k))
        })
    }

    /// Moves relationship `id` of type `ty` from the keys of `old` to the
    /// keys of `new` (either may be absent: created or deleted) in every
    /// relationship index on `ty`.
    pub(crate) fn rel_index_update(
        &mut self,
        id: RelId,
        ty: &str,
        old: Option<PropsRef<'_>>,
        new: Option<PropsRef<'_>>,
    ) {
        // Checking first keeps unrelated writes from copying a shared map.
        if !self.has_rel_index(ty, None) {
            return;
        }
        for ix in Arc::make_mut(&mut self.indexes).values_mut() {
            if !ix.on_rel_type(ty) {
                continue;
            }
            let o = old.and_then(|p| ix.key_for(p));
            let n = new.and_then(|p| ix.key_for(p));
            if o == n {
                continue;
            }
            if let Some(o) = o {
                ix.remove(&o, id);
            }
            if let Some(n) = n {
                ix.insert(n, id);
            }
        }
    }

    /// Builds the entries of `def` from existing data.
    pub(crate) fn build_index(&self, def: IndexDef, unique: bool) -> Index {
        let mut ix = Index::new(def, unique);
        match ix.def.entity {
            EntityType::Node => {
                if let Some(ids) = self.labels.get(ix.def.label.as_str()) {
                    for id in ids.iter() {
                        if let Some(rec) = self.node_rec(*id) {
                            if let Some(k) = ix.key_for(rec.props.view()) {
                                ix.insert(k, *id);
                            }
                        }
                    }
                }
            }
            EntityType::Relationship => {
                for id in self.rels_with_type(&ix.def.label) {
                    if let Some(rec) = self.rel_view(id) {
                        if let Some(k) = ix.key_for(rec.props) {
                            ix.insert(k, id);
                        }
                    }
                }
            }
        }
        ix
    }

    /// The single-property node index on `label(property)`.
    pub(crate) fn index_on(&self, label: &str, property: &str) -> Option<&Index> {
        self.indexes
            .values()
            .filter(|ix| {
                ix.on_nodes()
                    && ix.def.kind == IndexType::Range
                    && ix.def.label == label
                    && ix.def.properties.len() == 1
                    && ix.def.properties[0] == property
            })
            // Prefer a plain index, then any; deterministic by name order.
            .min_by_key(|ix| ix.unique)
    }

    pub(crate) fn index_on_schema(
        &self,
        entity: EntityType,
        label: &str,
        props: &[String],
    ) -> Option<&Index> {
        self.indexes.values().find(|ix| {
            ix.def.kind == IndexType::Range
                && ix.def.entity == entity
                && ix.def.label == label
                && ix.def.properties == props
        })
    }

    /// The point index on `label(property)` (or `type(property)`).
    pub(crate) fn point_index_on(
        &self,
        entity: EntityType,
        label: &str,
        property: &str,
    ) -> Option<&Index> {
        self.indexes.values().find(|ix| {
            matches!(ix.def.kind, IndexType::Point(_))
                && ix.def.entity == entity
                && ix.def.label == label
                && ix.def.properties.len() == 1
                && ix.def.properties[0] == property
        })
    }
}
