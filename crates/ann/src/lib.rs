//! An HNSW graph (Malkov and Yashunin, "Efficient and robust approximate
//! nearest neighbor search using Hierarchical Navigable Small World graphs")
//! for the vector indexes of `causeway-graph`.
//!
//! Invariants:
//! * Built by one writer (`&mut self`); any number of searches may run at
//!   once on a shared reference. The shape depends only on the order of
//!   inserts and the seed, never on timing.
//! * Keys are the caller's entity ids. Inserting a key again replaces its
//!   vector; the old slot stays as a routing point (a tombstone). `remove`
//!   tombstones too. Tombstones count in `slots()`, so an owner can rebuild
//!   when they dominate.
//! * Every slot carries the versions (the caller's clock) between which its
//!   vector was the key's: `search` at version `at` returns only slots
//!   written at or before `at` and replaced or removed after it, so a reader
//!   of an older snapshot still finds what that snapshot held.
//! * Cosine vectors are normalised on the way in, so cosine distance is
//!   `1 - dot`; a zero vector has no direction and is refused.
//! * Distances are for ranking: callers that need Neo4j's scores compute
//!   them from the stored property, in double precision.

mod distance;

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;

use distance::Kernel;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Cosine,
    Euclidean,
}

#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Links per node on the upper layers; twice this on layer 0.
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    pub seed: u64,
}

impl Default for Params {
    /// Neo4j's defaults (`vector.hnsw.m` 16, `vector.hnsw.ef_construction` 100).
    fn default() -> Self {
        Params {
            m: 16,
            ef_construction: 100,
            seed: 0x5eed,
        }
    }
}

/// No node is placed higher than this; with m = 16 a layer this high would
/// need about 16^16 nodes.
const MAX_LEVEL: usize = 15;

/// A distance and a slot, ordered by distance (then slot, for determinism).
#[derive(Clone, Copy, Debug)]
struct Cand(f32, u32);

impl PartialEq for Cand {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Marks of visited slots, cleared in O(1) by moving to a new stamp.
#[derive(Default)]
struct Visited {
    marks: Vec<u32>,
    stamp: u32,
}

impl Visited {
    fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.marks.fill(0);
            self.stamp = 1;
        }
    }

    /// True the first time a slot is seen since the last reset.
    fn first(&mut self, slot: u32) -> bool {
        let m = &mut self.marks[slot as usize];
        if *m == self.stamp {
            false
        } else {
            *m = self.stamp;
            true
        }
    }
}

pub struct Hnsw {
    dim: usize,
    metric: Metric,
    kernel: Kernel,
    m: usize,
    m0: usize,
    ef_construction: usize,
    level_mult: f64,
    rng: u64,
    /// `dim` floats per slot.
    vectors: Vec<f32>,
    keys: Vec<u64>,
    /// The version a slot's vector was written at, and the version it was
    /// replaced or removed at (`u64::MAX` while it is the key's).
    born: Vec<u64>,
    died: Vec<u64>,
    /// Layer-0 links: per slot, a count then `m0` entries.
    links0: Vec<u32>,
    /// Links on layers 1..=level, for the few slots above layer 0.
    upper: Vec<Vec<Vec<u32>>>,
    entry: Option<u32>,
    top: usize,
    slot_of: HashMap<u64, u32>,
    visited: Visited,
    /// Scratch for concurrent searches.
    pool: Mutex<Vec<Visited>>,
}

impl Hnsw {
    pub fn new(dim: usize, metric: Metric, params: Params) -> Self {
        let m = params.m.clamp(2, 512);
        Hnsw {
            dim,
            metric,
            kernel: Kernel::detect(),
            m,
            m0: 2 * m,
            ef_construction: params.ef_construction.max(m),
            level_mult: 1.0 / (m as f64).ln(),
            rng: params.seed,
            vectors: Vec::new(),
            keys: Vec::new(),
            born: Vec::new(),
            died: Vec::new(),
            links0: Vec::new(),
            upper: Vec::new(),
            entry: None,
            top: 0,
            slot_of: HashMap::new(),
            visited: Visited::default(),
            pool: Mutex::new(Vec::new()),
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Live keys.
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Slots in use, tombstones included.
    pub fn slots(&self) -> usize {
        self.keys.len()
    }

    pub fn contains(&self, key: u64) -> bool {
        self.slot_of.contains_key(&key)
    }

    /// Bytes held, roughly: vectors, links and key maps.
    pub fn memory_bytes(&self) -> usize {
        let upper: usize = self
            .upper
            .iter()
            .map(|l| l.iter().map(|v| v.capacity() * 4 + 24).sum::<usize>() + 24)
            .sum();
        self.vectors.capacity() * 4
            + self.links0.capacity() * 4
            + self.keys.capacity() * 24
            + upper
            + self.slot_of.capacity() * 16
    }

    fn vec(&self, slot: u32) -> &[f32] {
        let s = slot as usize * self.dim;
        &self.vectors[s..s + self.dim]
    }

    fn dist(&self, q: &[f32], slot: u32) -> f32 {
        let v = self.vec(slot);
        match self.metric {
            Metric::Cosine => 1.0 - self.kernel.dot(q, v),
            Metric::Euclidean => self.kernel.l2(q, v),
        }
    }

    fn dist_slots(&self, a: u32, b: u32) -> f32 {
        self.dist(self.vec(a), b)
    }

    fn links(&self, slot: u32, layer: usize) -> &[u32] {
        if layer == 0 {
            let s = slot as usize * (self.m0 + 1);
            let n = self.links0[s] as usize;
            &self.links0[s + 1..s + 1 + n]
        } else {
            &self.upper[slot as usize][layer - 1]
        }
    }

    fn set_links(&mut self, slot: u32, layer: usize, to: &[u32]) {
        if layer == 0 {
            let s = slot as usize * (self.m0 + 1);
            self.links0[s] = to.len() as u32;
            self.links0[s + 1..s + 1 + to.len()].copy_from_slice(to);
        } else {
            let l = &mut self.upper[slot as usize][layer - 1];
            l.clear();
            l.extend_from_slice(to);
        }
    }

    /// The vector as stored: normalised for cosine; `None` when it has the
    /// wrong size, a non-finite component, or (cosine) no length.
    fn prepare(&self, v: &[f32]) -> Option<Vec<f32>> {
        if v.len() != self.dim || v.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let mut v = v.to_vec();
        if self.metric == Metric::Cosine {
            let norm = self.kernel.dot(&v, &v).sqrt();
            if norm == 0.0 || !norm.is_finite() {
                return None;
            }
            v.iter_mut().for_each(|x| *x /= norm);
        }
        Some(v)
    }

    fn random_level(&mut self) -> usize {
        // splitmix64: deterministic for a seed, good enough for levels.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let u = ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        ((-u.ln() * self.level_mult) as usize).min(MAX_LEVEL)
    }

    /// Tombstones `key` as of version `at`; false if it was not indexed.
    pub fn remove(&mut self, key: u64, at: u64) -> bool {
        match self.slot_of.remove(&key) {
            Some(slot) => {
                self.died[slot as usize] = at;
                true
            }
            None => false,
        }
    }

    fn visible(&self, slot: u32, at: u64) -> bool {
        let s = slot as usize;
        self.born[s] <= at && (self.died[s] == u64::MAX || at < self.died[s])
    }

    /// Indexes `v` under `key` as written at version `at`, replacing an
    /// earlier vector. Returns false (and leaves `key` unindexed from `at`
    /// on) for a vector the metric cannot use.
    pub fn insert(&mut self, key: u64, v: &[f32], at: u64) -> bool {
        self.remove(key, at);
        let Some(v) = self.prepare(v) else {
            return false;
        };
        let slot = self.keys.len() as u32;
        let level = self.random_level();
        self.vectors.extend_from_slice(&v);
        self.keys.push(key);
        self.born.push(at);
        self.died.push(u64::MAX);
        self.links0.resize(self.links0.len() + self.m0 + 1, 0);
        self.upper.push(vec![Vec::new(); level]);
        self.slot_of.insert(key, slot);

        let Some(mut ep) = self.entry else {
            self.entry = Some(slot);
            self.top = level;
            return true;
        };
        let mut visited = std::mem::take(&mut self.visited);
        let mut ep_dist = self.dist(&v, ep);
        for layer in (level + 1..=self.top).rev() {
            (ep, ep_dist) = self.greedy(&v, ep, ep_dist, layer);
        }
        let mut eps = vec![Cand(ep_dist, ep)];
        for layer in (0..=level.min(self.top)).rev() {
            let found =
                self.search_layer(&v, &eps, self.ef_construction, layer, &mut visited, None);
            let max = if layer == 0 { self.m0 } else { self.m };
            let chosen = self.select(&found, self.m);
            self.set_links(slot, layer, &chosen);
            for &n in &chosen {
                self.link_back(n, slot, layer, max);
            }
            eps = found;
        }
        self.visited = visited;
        if level > self.top {
            self.top = level;
            self.entry = Some(slot);
        }
        true
    }

    /// Adds `to` to `from`'s links, pruning them with the heuristic when
    /// they overflow.
    fn link_back(&mut self, from: u32, to: u32, layer: usize, max: usize) {
        let cur = self.links(from, layer);
        if cur.len() < max {
            let mut l = cur.to_vec();
            l.push(to);
            self.set_links(from, layer, &l);
            return;
        }
        let base = self.vec(from).to_vec();
        let mut cands: Vec<Cand> = cur
            .iter()
            .chain(std::iter::once(&to))
            .map(|&s| Cand(self.dist(&base, s), s))
            .collect();
        cands.sort();
        let chosen = self.select(&cands, max);
        self.set_links(from, layer, &chosen);
    }

    /// The neighbour heuristic: walk candidates nearest first and keep one
    /// only if it is nearer to the new point than to every one kept, which
    /// spreads links across directions instead of bunching them.
    fn select(&self, sorted: &[Cand], m: usize) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::with_capacity(m);
        for &Cand(d, c) in sorted {
            if out.len() >= m {
                break;
            }
            if out.iter().all(|&r| self.dist_slots(c, r) > d) {
                out.push(c);
            }
        }
        out
    }

    fn greedy(&self, q: &[f32], mut ep: u32, mut best: f32, layer: usize) -> (u32, f32) {
        loop {
            let mut moved = false;
            for &n in self.links(ep, layer) {
                let d = self.dist(q, n);
                if d < best {
                    best = d;
                    ep = n;
                    moved = true;
                }
            }
            if !moved {
                return (ep, best);
            }
        }
    }

    /// Beam search on one layer; the result is sorted nearest first.
    /// With `at`, slots not visible at that version guide the walk but are
    /// not returned.
    fn search_layer(
        &self,
        q: &[f32],
        eps: &[Cand],
        ef: usize,
        layer: usize,
        visited: &mut Visited,
        at: Option<u64>,
    ) -> Vec<Cand> {
        let hidden = |slot: u32| at.is_some_and(|at| !self.visible(slot, at));
        visited.reset(self.keys.len());
        let mut todo: BinaryHeap<Reverse<Cand>> = BinaryHeap::new();
        let mut best: BinaryHeap<Cand> = BinaryHeap::new();
        for &c in eps {
            if visited.first(c.1) {
                todo.push(Reverse(c));
                if !hidden(c.1) {
                    best.push(c);
                }
            }
        }
        while let Some(Reverse(c)) = todo.pop() {
            if best.len() >= ef && best.peek().is_some_and(|w| c.0 > w.0) {
                break;
            }
            for &n in self.links(c.1, layer) {
                if !visited.first(n) {
                    continue;
                }
                let d = self.dist(q, n);
                if best.len() < ef || best.peek().is_some_and(|w| d < w.0) {
                    todo.push(Reverse(Cand(d, n)));
                    if !hidden(n) {
                        best.push(Cand(d, n));
                        if best.len() > ef {
                            best.pop();
                        }
                    }
                }
            }
        }
        best.into_sorted_vec()
    }

    /// Up to `k` keys nearest to `q` among the vectors they had at version
    /// `at` (`u64::MAX`: the latest), nearest first, with their distances;
    /// `ef` (at least `k`) trades time for recall. Empty when `q` cannot be
    /// compared (wrong size, or a zero vector under cosine).
    pub fn search(&self, q: &[f32], k: usize, ef: usize, at: u64) -> Vec<(u64, f32)> {
        let (Some(ep), Some(q)) = (self.entry, self.prepare(q)) else {
            return Vec::new();
        };
        let mut visited = self.pool.lock().map(|mut p| p.pop()).ok().flatten();
        let mut visited = visited.take().unwrap_or_default();
        let (mut ep, mut d) = (ep, self.dist(&q, ep));
        for layer in (1..=self.top).rev() {
            (ep, d) = self.greedy(&q, ep, d, layer);
        }
        let found = self.search_layer(&q, &[Cand(d, ep)], ef.max(k), 0, &mut visited, Some(at));
        if let Ok(mut p) = self.pool.lock() {
            p.push(visited);
        }
        found
            .into_iter()
            .take(k)
            .map(|Cand(d, s)| (self.keys[s as usize], d))
            .collect()
    }
}

#[cfg(test)]
mod tests;
