//! Relationship reads and the writes that touch the base: the maps (what
//! was written since the base was built) over the base (`base.rs`), minus
//! the base rows writes have superseded.
//!
//! Invariants:
//! * a relationship id is live in at most one place: in `rels`, or as a
//!   base row not in `dead`;
//! * `types` and the nodes' `out`/`inc` lists hold exactly what `rels`
//!   holds; the base's adjacency covers its rows, dead ones included, so
//!   readers skip those;
//! * a write to a base relationship first moves it into the maps
//!   (`rel_into_maps`): the row dies and the same relationship is linked
//!   there. Which of the two holds a relationship is never observable:
//!   reads, counts, expansion order and the snapshot bytes are the same.

use std::borrow::Cow;
use std::sync::Arc;

use causeway_value::{Result, Value};
use imbl::{OrdMap, OrdSet};

use crate::base::Half;
use crate::store::{rel_not_found, NodeRec, PropsRef, Sym};
use crate::{Dir, Graph, NodeId, RelId};

/// Base rows superseded: deleted, or moved into the maps.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dead {
    ids: OrdSet<RelId>,
    /// By base type number; empty until a row dies.
    per_type: Vec<usize>,
    /// Dead rows per start node (`out`) and end node (`inc`), so a degree
    /// stays a subtraction.
    out: OrdMap<NodeId, usize>,
    inc: OrdMap<NodeId, usize>,
}

impl Dead {
    fn has(&self, id: RelId) -> bool {
        // Most graphs have no dead rows: skip the lookup.
        !self.ids.is_empty() && self.ids.contains(&id)
    }
}

/// A live relationship, wherever it is kept.
pub(crate) struct RelView<'a> {
    pub(crate) ty: &'a Sym,
    pub(crate) start: NodeId,
    pub(crate) end: NodeId,
    pub(crate) props: PropsRef<'a>,
}

impl Graph {
    /// The base row of live relationship `id`.
    fn base_row(&self, id: RelId) -> Option<u32> {
        let row = self.base.find(id)?;
        (!self.dead.has(id)).then_some(row)
    }

    fn base_view(&self, row: u32) -> RelView<'_> {
        let b = &*self.base;
        RelView {
            ty: b.type_name(b.ty(row)),
            start: b.start(row),
            end: b.end(row),
            props: PropsRef::Base(b.props(), row),
        }
    }

    pub(crate) fn rel_view(&self, id: RelId) -> Option<RelView<'_>> {
        if let Some(r) = self.rels.get(&id) {
            return Some(RelView {
                ty: &r.ty,
                start: r.start,
                end: r.end,
                props: r.props.view(),
            });
        }
        self.base_row(id).map(|row| self.base_view(row))
    }

    pub fn rel_exists(&self, id: RelId) -> bool {
        self.rels.contains_key(&id) || self.base_row(id).is_some()
    }

    pub fn rel_count(&self) -> usize {
        self.base.len() - self.dead.ids.len() + self.rels.len()
    }

    /// Relationships of `rel_type`, without materializing them.
    pub fn type_count(&self, rel_type: &str) -> usize {
        let maps = self.types.get(rel_type).map_or(0, |s| s.len());
        maps + self
            .base
            .type_index(rel_type)
            .map_or(0, |t| self.base_type_live(t))
    }

    fn base_type_live(&self, t: u32) -> usize {
        self.base.type_count(t) - self.dead.per_type.get(t as usize).copied().unwrap_or(0)
    }

    /// Relationship types currently in use, sorted.
    pub fn rel_types(&self) -> Vec<String> {
        let mut out: Vec<String> = (0..self.base.type_total())
            .filter(|t| self.base_type_live(*t) > 0)
            .map(|t| self.base.type_name(t).to_string())
            .chain(self.types.keys().map(|t| t.to_string()))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    pub fn knows_rel_type(&self, rel_type: &str) -> bool {
        self.type_count(rel_type) > 0
    }

    /// All relationship ids in ascending order.
    pub fn all_rels(&self) -> Vec<RelId> {
        let base = (0..self.base.len() as u32).map(|r| self.base.id(r));
        self.merge_ids(base, self.rels.keys().copied())
    }

    /// Ascending, like `all_rels`.
    pub fn rels_with_type(&self, rel_type: &str) -> Vec<RelId> {
        let maps = self.types.get(rel_type);
        let maps = maps.into_iter().flat_map(|s| s.iter().copied());
        match self.base.type_index(rel_type) {
            Some(t) => {
                let base = self.base.rows_of_type(t).map(|r| self.base.id(r));
                self.merge_ids(base, maps)
            }
            None => maps.collect(),
        }
    }

    /// Merges ascending live base ids (dead ones are skipped here) with
    /// ascending ids from the maps.
    fn merge_ids(
        &self,
        base: impl Iterator<Item = RelId>,
        maps: impl Iterator<Item = RelId>,
    ) -> Vec<RelId> {
        let mut base = base.filter(|id| !self.dead.has(*id)).peekable();
        let mut maps = maps.peekable();
        let mut out = Vec::new();
        loop {
            let next = match (base.peek(), maps.peek()) {
                (Some(b), Some(m)) if b < m => base.next(),
                (Some(_), Some(_)) | (None, Some(_)) => maps.next(),
                (Some(_), None) => base.next(),
                (None, None) => break,
            };
            out.extend(next);
        }
        out
    }

    /// The base's type numbers for `types` (every type if empty); `None`
    /// when none of them is in the base.
    fn base_types(&self, types: &[String]) -> Option<Vec<u32>> {
        if types.is_empty() {
            return Some(Vec::new());
        }
        let wanted: Vec<u32> = types
            .iter()
            .filter_map(|t| self.base.type_index(t))
            .collect();
        (!wanted.is_empty()).then_some(wanted)
    }

    /// `f(relationship, other node)` for the node's relationships in one
    /// direction, in (type name, id) order.
    pub(crate) fn expand_one_way(
        &self,
        rec: &NodeRec,
        node: NodeId,
        out: bool,
        types: &[String],
        f: &mut impl FnMut(RelId, NodeId),
    ) {
        let adj = if out { &rec.out } else { &rec.inc };
        let halves = self.base.adjacency(node, out);
        let wanted = match (halves.is_empty(), self.base_types(types)) {
            (false, Some(w)) => w,
            _ => return adj.for_each(types, &self.syms, f),
        };
        let live = |h: &&Half| {
            (wanted.is_empty() || wanted.contains(&h.ty)) && !self.dead.has(self.base.id(h.row))
        };
        if adj.len() == 0 {
            for h in halves.iter().filter(live) {
                f(self.base.id(h.row), h.other);
            }
            return;
        }
        let mut maps: Vec<(&str, RelId, NodeId)> = Vec::new();
        adj.for_each_typed(types, &self.syms, |t, r, o| maps.push((t, r, o)));
        maps.sort_unstable();
        let mut maps = maps.into_iter().peekable();
        for h in halves.iter().filter(live) {
            let key = (&**self.base.type_name(h.ty), self.base.id(h.row));
            while let Some(m) = maps.next_if(|m| (m.0, m.1) < key) {
                f(m.1, m.2);
            }
            f(key.1, h.other);
        }
        for m in maps {
            f(m.1, m.2);
        }
    }

    pub(crate) fn expand_rec(
        &self,
        rec: &NodeRec,
        node: NodeId,
        dir: Dir,
        types: &[String],
        mut f: impl FnMut(RelId, NodeId),
    ) {
        if matches!(dir, Dir::Out | Dir::Both) {
            self.expand_one_way(rec, node, true, types, &mut f);
        }
        match dir {
            Dir::Out => {}
            Dir::In => self.expand_one_way(rec, node, false, types, &mut f),
            Dir::Both => self.expand_one_way(rec, node, false, types, &mut |r, o| {
                if o != node {
                    f(r, o)
                }
            }),
        }
    }

    /// Relationships in one direction, counted without a walk when no type
    /// filters them.
    fn degree_one_way(&self, rec: &NodeRec, node: NodeId, out: bool, types: &[String]) -> usize {
        let adj = if out { &rec.out } else { &rec.inc };
        if types.is_empty() {
            let dead = if out { &self.dead.out } else { &self.dead.inc };
            let dead = dead.get(&node).copied().unwrap_or(0);
            return adj.len() + self.base.adjacency(node, out).len() - dead;
        }
        let mut n = 0;
        self.expand_one_way(rec, node, out, types, &mut |_, _| n += 1);
        n
    }

    pub fn degree(&self, node: NodeId, dir: Dir, types: &[String]) -> usize {
        let Some(rec) = self.node_rec(node) else {
            return 0;
        };
        match dir {
            Dir::Out => self.degree_one_way(rec, node, true, types),
            Dir::In => self.degree_one_way(rec, node, false, types),
            Dir::Both => {
                let mut n = self.degree_one_way(rec, node, true, types);
                self.expand_one_way(rec, node, false, types, &mut |_, o| {
                    if o != node {
                        n += 1
                    }
                });
                n
            }
        }
    }

    pub(crate) fn node_has_rels(&self, rec: &NodeRec, node: NodeId) -> bool {
        self.degree_one_way(rec, node, true, &[]) + self.degree_one_way(rec, node, false, &[]) > 0
    }

    /// Marks a base row superseded.
    fn kill_row(&mut self, id: RelId, row: u32) {
        let t = self.base.ty(row);
        let (start, end) = (self.base.start(row), self.base.end(row));
        let dead = Arc::make_mut(&mut self.dead);
        dead.ids.insert(id);
        *dead.out.entry(start).or_insert(0) += 1;
        *dead.inc.entry(end).or_insert(0) += 1;
        dead.per_type.resize(self.base.type_total() as usize, 0);
        dead.per_type[t as usize] += 1;
    }

    /// Moves a base relationship into the maps, so it can be written like
    /// any other; a relationship already there stays.
    pub(crate) fn rel_into_maps(&mut self, id: RelId) -> Result<()> {
        if self.rels.contains_key(&id) {
            return Ok(());
        }
        let row = self.base_row(id).ok_or_else(|| rel_not_found(id))?;
        let v = self.base_view(row);
        let (ty, start, end, props) = (v.ty.clone(), v.start, v.end, v.props.to_props());
        self.kill_row(id, row);
        self.link_rel(id, ty, start, end, props)
    }

    /// Deletes a relationship that lives in the base, with what it was
    /// (type and properties) for the indexes.
    pub(crate) fn delete_base_rel(&mut self, id: RelId) -> Result<()> {
        let row = self.base_row(id).ok_or_else(|| rel_not_found(id))?;
        let base = self.base.clone();
        let ty = base.type_name(base.ty(row));
        self.rel_index_update(id, ty, Some(PropsRef::Base(base.props(), row)), None);
        self.search_touch(crate::EntityType::Relationship, id, [&**ty], None);
        self.kill_row(id, row);
        Ok(())
    }

    pub fn rel_prop(&self, id: RelId, key: &str) -> Option<Cow<'_, Value>> {
        self.rel_view(id)?.props.get(key)
    }
}
