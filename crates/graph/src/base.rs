//! The relationship base: every relationship a decoded snapshot held, in
//! flat arrays (decision 0023).
//!
//! A base is built once, when a snapshot is decoded (a restart, the rebuild
//! after each snapshot, a follower installing one), and never changes. The
//! graph's persistent maps hold only what was written after it, and a set
//! of base rows that writes have superseded (`rels.rs`). Cloning a graph
//! shares the base, so a snapshot stays O(1).
//!
//! Invariants, relied on by `rels.rs` and the codec:
//! * rows are in ascending relationship id order, and fit in `u32`;
//! * types are sorted by name, so a type's index orders as its name does;
//! * each node's adjacency slice is sorted by (type, row), which is the
//!   (type name, relationship id) order the maps' adjacency keeps;
//! * a row's shape lists its property columns in the order the
//!   relationship's keys were first set, so `keys()` and the snapshot bytes
//!   are the same whether a relationship lives here or in the maps.

use std::collections::HashMap;
use std::sync::Arc;

use crate::store::{Stored, StoredRef, Sym};
use crate::{NodeId, RelId};

/// A column is stored densely (one slot per row) when at least this share
/// of rows has the key, as 1 / DENSE_SHARE; below it, as (row, value) pairs.
const DENSE_SHARE: usize = 4;

/// Below this many rows a thread costs more than it saves.
const PARALLEL_FROM: usize = 100_000;

/// Ascending ids; an id's row is its position.
#[derive(Debug, Default)]
pub(crate) struct Ids(Vec<u64>);

impl Ids {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn get(&self, row: u32) -> u64 {
        self.0[row as usize]
    }

    pub(crate) fn find(&self, id: u64) -> Option<u32> {
        find_sorted(&self.0, id).map(|r| r as u32)
    }
}

/// The position of `id` in ascending `ids`. Ids come from counters and few
/// are deleted between rebuilds, so it is usually the distance from the
/// first id.
pub(crate) fn find_sorted(ids: &[u64], id: u64) -> Option<usize> {
    let first = *ids.first()?;
    if let Some(guess) = id.checked_sub(first) {
        if ids.get(guess as usize) == Some(&id) {
            return Some(guess as usize);
        }
    }
    ids.binary_search(&id).ok()
}

enum Column {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool(Vec<bool>),
    /// Row `r`'s string is `text[ends[r - 1]..ends[r]]` (from 0 for row 0).
    Str {
        ends: Vec<u32>,
        text: String,
    },
    /// Sorted by row: keys few rows have, and values of mixed kinds.
    Sparse(Vec<(u32, Stored)>),
}

impl Column {
    /// Dense columns hold a filler where the row lacks the key: callers ask
    /// only for columns the row's shape lists.
    fn get(&self, row: u32) -> Option<StoredRef<'_>> {
        let r = row as usize;
        Some(match self {
            Column::Int(v) => StoredRef::Int(v[r]),
            Column::Float(v) => StoredRef::Float(v[r]),
            Column::Bool(v) => StoredRef::Bool(v[r]),
            Column::Str { ends, text } => StoredRef::Str(&text[group(ends, r)]),
            Column::Sparse(v) => {
                let i = v.binary_search_by_key(&row, |e| e.0).ok()?;
                v[i].1.as_ref()
            }
        })
    }

    /// The densest form that holds `vals` (sorted by row) for `rows` rows.
    fn build(rows: usize, vals: Vec<(u32, Stored)>) -> Column {
        if vals.len() * DENSE_SHARE < rows || vals.is_empty() {
            return Column::Sparse(vals);
        }
        let kind = std::mem::discriminant(&vals[0].1);
        if vals.iter().any(|(_, v)| std::mem::discriminant(v) != kind) {
            return Column::Sparse(vals);
        }
        let text_len: usize = vals
            .iter()
            .map(|(_, v)| match v {
                Stored::Str(s) => s.len(),
                _ => 0,
            })
            .sum();
        match &vals[0].1 {
            Stored::Int(_) => Column::Int(dense(rows, &vals, |v| match v {
                Stored::Int(i) => *i,
                _ => 0,
            })),
            Stored::Float(_) => Column::Float(dense(rows, &vals, |v| match v {
                Stored::Float(f) => *f,
                _ => 0.0,
            })),
            Stored::Bool(_) => {
                Column::Bool(dense(rows, &vals, |v| matches!(v, Stored::Bool(true))))
            }
            Stored::Str(_) if u32::try_from(text_len).is_ok() => {
                let mut text = String::with_capacity(text_len);
                let mut ends = Vec::with_capacity(rows);
                let mut next = vals.iter().peekable();
                for r in 0..rows as u32 {
                    if let Some((_, Stored::Str(s))) = next.next_if(|(row, _)| *row == r) {
                        text.push_str(s);
                    }
                    ends.push(text.len() as u32);
                }
                Column::Str { ends, text }
            }
            _ => Column::Sparse(vals),
        }
    }
}

fn dense<T: Copy + Default>(
    rows: usize,
    vals: &[(u32, Stored)],
    f: impl Fn(&Stored) -> T,
) -> Vec<T> {
    let mut out = vec![T::default(); rows];
    for (r, v) in vals {
        out[*r as usize] = f(v);
    }
    out
}

/// Properties of a set of rows, one column per key.
#[derive(Default)]
pub(crate) struct Columns {
    keys: Vec<Sym>,
    cols: Vec<Column>,
    /// Each distinct ordered key list, as column numbers.
    shapes: Vec<Box<[u32]>>,
    /// Per row, its index in `shapes`.
    shape: Vec<u32>,
}

impl std::fmt::Debug for Columns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Columns")
            .field("keys", &self.keys)
            .field("shapes", &self.shapes.len())
            .finish()
    }
}

impl Columns {
    fn shape_of(&self, row: u32) -> &[u32] {
        &self.shapes[self.shape[row as usize] as usize]
    }

    pub(crate) fn get(&self, row: u32, key: &str) -> Option<StoredRef<'_>> {
        let c = self.keys.iter().position(|k| &**k == key)? as u32;
        if !self.shape_of(row).contains(&c) {
            return None;
        }
        self.cols[c as usize].get(row)
    }

    pub(crate) fn len(&self, row: u32) -> usize {
        self.shape_of(row).len()
    }

    /// `f(key, value)` in the order the keys were first set.
    pub(crate) fn for_each<'a>(&'a self, row: u32, mut f: impl FnMut(&'a Sym, StoredRef<'a>)) {
        for &c in self.shape_of(row) {
            if let Some(v) = self.cols[c as usize].get(row) {
                f(&self.keys[c as usize], v);
            }
        }
    }
}

/// Numbers names (keys, types) in the order they are first seen.
#[derive(Default)]
struct Numbering {
    ix: HashMap<Sym, u32>,
    names: Vec<Sym>,
}

impl Numbering {
    /// `intern` is called once per distinct name.
    fn number(&mut self, name: &str, intern: impl FnOnce(&str) -> Sym) -> u32 {
        if let Some(n) = self.ix.get(name) {
            return *n;
        }
        let n = self.names.len() as u32;
        let s = intern(name);
        self.ix.insert(s.clone(), n);
        self.names.push(s);
        n
    }
}

/// Collects rows' properties in row order.
#[derive(Default)]
pub(crate) struct ColumnsBuilder {
    keys: Numbering,
    vals: Vec<Vec<(u32, Stored)>>,
    shape_ix: HashMap<Box<[u32]>, u32>,
    shapes: Vec<Box<[u32]>>,
    shape: Vec<u32>,
    row: Vec<u32>,
}

impl ColumnsBuilder {
    /// Adds a property to the row being built; false if the row already has
    /// the key. `intern` is called once per distinct key.
    pub(crate) fn push(&mut self, key: &str, v: Stored, intern: impl FnOnce(&str) -> Sym) -> bool {
        let c = self.keys.number(key, intern);
        if c as usize == self.vals.len() {
            self.vals.push(Vec::new());
        }
        if self.row.contains(&c) {
            return false;
        }
        self.row.push(c);
        let r = self.shape.len() as u32;
        self.vals[c as usize].push((r, v));
        true
    }

    pub(crate) fn end_row(&mut self) {
        let s = match self.shape_ix.get(&self.row[..]) {
            Some(s) => *s,
            None => {
                let s = self.shapes.len() as u32;
                let key: Box<[u32]> = self.row.as_slice().into();
                self.shape_ix.insert(key.clone(), s);
                self.shapes.push(key);
                s
            }
        };
        self.shape.push(s);
        self.row.clear();
    }

    fn finish(self) -> Columns {
        let rows = self.shape.len();
        Columns {
            keys: self.keys.names,
            cols: self
                .vals
                .into_iter()
                .map(|v| Column::build(rows, v))
                .collect(),
            shapes: self.shapes,
            shape: self.shape,
        }
    }
}

/// Group `i` of a grouping described by where each group ends: from where
/// group `i - 1` ends (0 for the first) to `ends[i]`.
fn group(ends: &[u32], i: usize) -> std::ops::Range<usize> {
    let from = if i == 0 { 0 } else { ends[i - 1] as usize };
    from..ends[i] as usize
}

/// Rows (positions in `keys`) grouped by key, in row order within each
/// group, and where each group ends; every key is below `groups`.
fn counting_sort(keys: &[u32], groups: usize) -> (Vec<u32>, Vec<u32>) {
    let mut ends = vec![0u32; groups];
    for k in keys {
        ends[*k as usize] += 1;
    }
    let mut total = 0u32;
    for e in ends.iter_mut() {
        total += *e;
        *e = total;
    }
    let mut next: Vec<u32> = std::iter::once(0)
        .chain(ends.iter().copied())
        .take(groups)
        .collect();
    let mut order = vec![0u32; keys.len()];
    for (r, k) in keys.iter().enumerate() {
        order[next[*k as usize] as usize] = r as u32;
        next[*k as usize] += 1;
    }
    (ends, order)
}

/// One end of a relationship as a node's adjacency holds it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Half {
    pub(crate) other: NodeId,
    pub(crate) row: u32,
    pub(crate) ty: u32,
}

/// Adjacency in one direction: per node position (in the base's `nodes`),
/// a slice of `halves`.
#[derive(Debug, Default)]
struct Csr {
    /// Position `i`'s slice is `group(ends, i)`.
    ends: Vec<u32>,
    halves: Vec<Half>,
}

impl Csr {
    /// `from[r]` is row `r`'s node on this side, `to[r]` the other end;
    /// every `from[r]` is in `nodes` (ascending).
    fn build(nodes: &[NodeId], from: &[NodeId], to: &[NodeId], ty: &[u32]) -> Csr {
        // Grouped by node with a counting sort, so each node's slice is in
        // row order, and only nodes with relationships of several types
        // need a sort by type.
        let pos: Vec<u32> = from
            .iter()
            .map(|n| find_sorted(nodes, *n).unwrap_or(0) as u32)
            .collect();
        let (ends, order) = counting_sort(&pos, nodes.len());
        let mut halves: Vec<Half> = order
            .iter()
            .map(|&r| Half {
                other: to[r as usize],
                row: r,
                ty: ty[r as usize],
            })
            .collect();
        let mut from_ix = 0usize;
        for end in &ends {
            let slice = &mut halves[from_ix..*end as usize];
            if slice.windows(2).any(|w| w[0].ty > w[1].ty) {
                slice.sort_by_key(|h| (h.ty, h.row));
            }
            from_ix = *end as usize;
        }
        Csr { ends, halves }
    }

    fn of(&self, pos: u32) -> &[Half] {
        &self.halves[group(&self.ends, pos as usize)]
    }
}

/// The relationships of a decoded snapshot.
#[derive(Debug, Default)]
pub(crate) struct RelBase {
    ids: Ids,
    ty: Vec<u32>,
    start: Vec<NodeId>,
    end: Vec<NodeId>,
    /// Sorted by name.
    types: Vec<Sym>,
    /// Type `t`'s rows are `by_type[type_ends[t - 1]..type_ends[t]]`
    /// (from 0 for the first type), ascending.
    type_ends: Vec<u32>,
    /// Empty when there is one type: its rows are all rows.
    by_type: Vec<u32>,
    props: Columns,
    /// Every node of the snapshot, ascending: the positions both
    /// directions' adjacency is numbered by.
    nodes: Ids,
    out: Csr,
    inc: Csr,
}

impl RelBase {
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
    pub(crate) fn find(&self, id: RelId) -> Option<u32> {
        self.ids.find(id)
    }
    pub(crate) fn id(&self, row: u32) -> RelId {
        self.ids.get(row)
    }
    pub(crate) fn ty(&self, row: u32) -> u32 {
        self.ty[row as usize]
    }
    pub(crate) fn type_name(&self, ty: u32) -> &Sym {
        &self.types[ty as usize]
    }
    pub(crate) fn type_index(&self, name: &str) -> Option<u32> {
        self.types
            .binary_search_by(|t| (**t).cmp(name))
            .ok()
            .map(|i| i as u32)
    }
    fn type_range(&self, ty: u32) -> std::ops::Range<usize> {
        group(&self.type_ends, ty as usize)
    }
    pub(crate) fn type_count(&self, ty: u32) -> usize {
        self.type_range(ty).len()
    }
    pub(crate) fn type_total(&self) -> u32 {
        self.types.len() as u32
    }
    pub(crate) fn start(&self, row: u32) -> NodeId {
        self.start[row as usize]
    }
    pub(crate) fn end(&self, row: u32) -> NodeId {
        self.end[row as usize]
    }
    pub(crate) fn props(&self) -> &Columns {
        &self.props
    }
    /// Rows of type `ty`, ascending.
    pub(crate) fn rows_of_type(&self, ty: u32) -> impl Iterator<Item = u32> + '_ {
        let range = self.type_range(ty);
        let (all, some) = if self.by_type.is_empty() {
            (Some(range.start as u32..range.end as u32), None)
        } else {
            (None, Some(self.by_type[range].iter().copied()))
        };
        all.into_iter().flatten().chain(some.into_iter().flatten())
    }
    /// The node's outgoing (`out`) or incoming relationships, by (type, row).
    pub(crate) fn adjacency(&self, node: NodeId, out: bool) -> &[Half] {
        let Some(pos) = self.nodes.find(node) else {
            return &[];
        };
        if out {
            self.out.of(pos)
        } else {
            self.inc.of(pos)
        }
    }
}

/// Collects relationships in ascending id order.
#[derive(Default)]
pub(crate) struct RelBaseBuilder {
    ids: Vec<RelId>,
    ty: Vec<u32>,
    start: Vec<NodeId>,
    end: Vec<NodeId>,
    types: Numbering,
    pub(crate) props: ColumnsBuilder,
}

impl RelBaseBuilder {
    /// Whether another row still fits.
    pub(crate) fn has_room(&self) -> bool {
        self.ids.len() < u32::MAX as usize
    }

    /// Starts a row; its properties follow through `props`, then
    /// `props.end_row()`. Ids must ascend.
    pub(crate) fn push(
        &mut self,
        id: RelId,
        ty: &str,
        start: NodeId,
        end: NodeId,
        intern: impl FnOnce(&str) -> Sym,
    ) {
        let t = self.types.number(ty, intern);
        self.ids.push(id);
        self.ty.push(t);
        self.start.push(start);
        self.end.push(end);
    }

    /// `nodes`: every node id, ascending; each row's endpoints are among
    /// them.
    pub(crate) fn finish(self, nodes: &[NodeId]) -> RelBase {
        let RelBaseBuilder {
            ids,
            mut ty,
            start,
            end,
            types,
            props,
        } = self;
        let mut types = types.names;
        // Renumber types in name order.
        let mut order: Vec<u32> = (0..types.len() as u32).collect();
        order.sort_by(|a, b| types[*a as usize].cmp(&types[*b as usize]));
        let mut renumber = vec![0u32; types.len()];
        for (new, old) in order.iter().enumerate() {
            renumber[*old as usize] = new as u32;
        }
        for t in ty.iter_mut() {
            *t = renumber[*t as usize];
        }
        let (type_ends, mut by_type) = counting_sort(&ty, types.len());
        if types.len() == 1 {
            by_type = Vec::new();
        }
        types = order
            .iter()
            .map(|o| Arc::clone(&types[*o as usize]))
            .collect();
        // The two directions are independent: large ones are built side by
        // side.
        let (out, inc) = if ids.len() < PARALLEL_FROM {
            (
                Csr::build(nodes, &start, &end, &ty),
                Csr::build(nodes, &end, &start, &ty),
            )
        } else {
            let (out, inc) = std::thread::scope(|s| {
                let out = s.spawn(|| Csr::build(nodes, &start, &end, &ty));
                (out.join(), Csr::build(nodes, &end, &start, &ty))
            });
            match out {
                Ok(out) => (out, inc),
                Err(e) => std::panic::resume_unwind(e),
            }
        };
        RelBase {
            ids: Ids(ids),
            ty,
            start,
            end,
            types,
            type_ends,
            by_type,
            props: props.finish(),
            nodes: Ids(nodes.to_vec()),
            out,
            inc,
        }
    }
}
