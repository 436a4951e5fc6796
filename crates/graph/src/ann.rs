//! The approximate side of vector indexes (docs/decisions/0014): per member,
//! an HNSW per vector index, built in the background from committed graphs,
//! and per graph value, the entities written since that HNSW last caught up.
//!
//! Invariants:
//! * Nothing here is replicated or encoded. Only committed graphs are fed to
//!   the builder (`Graph::feed_index_builders`, called by the state machine
//!   after each apply), so the HNSW never holds a rolled-back write, and its
//!   shape never reaches another member.
//! * `Pending` of a graph value lists every entity whose indexed vector may
//!   have changed after `since` (the index's creation, or the decode that
//!   made the graph) and after the HNSW's watermark when it was last pruned,
//!   with the version of its latest such write. Pruning drops only entries
//!   at or below a watermark the HNSW has reached, so for any graph value:
//!   an entity not in `pending` has the vector the HNSW holds for it, as of
//!   the graph's version, unless a later write (after that graph) moved it.
//! * A query therefore takes HNSW candidates that are not pending, scores
//!   them and every pending entity exactly against its own snapshot, and
//!   merges: the transaction's own writes and every write its snapshot holds
//!   are found, and no entity outside the snapshot is returned.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::Duration;

use causeway_ann::{Hnsw, Metric, Params};
use imbl::{OrdMap, OrdSet};

use crate::{to_vector, EntityType, Graph, Similarity, VectorIndexDef};

/// Below this many entities of the label or type, queries score every one:
/// exact, and as fast as a graph walk at that size.
pub const DEFAULT_EXACT_BELOW: usize = 5_000;
static EXACT_BELOW: AtomicU64 = AtomicU64::new(DEFAULT_EXACT_BELOW as u64);

/// Sets the size below which vector queries skip the HNSW (tests use 0 to
/// exercise it on small graphs; `CAUSEWAY_VECTOR_EXACT_BELOW` sets it for a
/// server).
pub fn set_vector_exact_below(n: usize) {
    EXACT_BELOW.store(n as u64, Ordering::Relaxed);
}

pub(crate) fn exact_below() -> usize {
    EXACT_BELOW.load(Ordering::Relaxed) as usize
}

/// The HNSW beam width for a query of `k`: measured in bench/ (ann-bench)
/// to give recall@10 >= 0.95 at 1 M vectors of 384 dimensions.
pub(crate) fn search_ef(k: usize) -> usize {
    k.saturating_mul(2).max(SEARCH_EF)
}
const SEARCH_EF: usize = 400;

/// How many inserts the builder makes per hold of the write lock; queries
/// wait at most that long (about 0.4 ms per insert at 384 dimensions).
const BUILD_BATCH: usize = 16;

#[derive(Clone, Debug, Default)]
pub(crate) struct Pending {
    pub(crate) since: u64,
    /// Entity id to the version of its latest write.
    pub(crate) ids: OrdMap<u64, u64>,
    /// The same entries ordered by version, so that the writes past a
    /// watermark are a range and pruning takes them off the front.
    by_version: OrdSet<(u64, u64)>,
}

impl Pending {
    pub(crate) fn new(since: u64) -> Self {
        Pending {
            since,
            ..Pending::default()
        }
    }

    fn record(&mut self, id: u64, version: u64) {
        if let Some(old) = self.ids.insert(id, version) {
            self.by_version.remove(&(old, id));
        }
        self.by_version.insert((version, id));
    }

    /// Forgets the writes at or below `through`: the HNSW holds them.
    fn prune(&mut self, through: u64) {
        while let Some(&(v, id)) = self.by_version.get_min() {
            if v > through {
                break;
            }
            self.by_version.remove(&(v, id));
            self.ids.remove(&id);
        }
    }

    /// Entities written after `through`, ascending by version.
    pub(crate) fn after(&self, through: u64) -> impl Iterator<Item = u64> + '_ {
        self.by_version
            .range((through.saturating_add(1), 0)..)
            .map(|(_, id)| *id)
    }

    /// Whether the HNSW may hold an older vector for `id` than this graph.
    pub(crate) fn written_after(&self, id: u64, through: u64) -> bool {
        self.ids.get(&id).is_some_and(|v| *v > through)
    }
}

/// One vector index's HNSW on this member.
struct Ann {
    since: u64,
    def: VectorIndexDef,
    hnsw: RwLock<Option<Hnsw>>,
    /// The graph version the HNSW reflects; 0 until the first build ends.
    through: AtomicU64,
}

#[derive(Default)]
pub(crate) struct Registry {
    anns: RwLock<HashMap<String, Arc<Ann>>>,
    /// The fulltext indexes' tantivy indexes (crate::fulltext).
    pub(crate) texts: RwLock<HashMap<String, Arc<crate::fulltext::Text>>>,
    feed: Mutex<Option<Graph>>,
    wake: Condvar,
    started: std::sync::OnceLock<()>,
}

fn metric(s: Similarity) -> Metric {
    match s {
        Similarity::Cosine => Metric::Cosine,
        Similarity::Euclidean => Metric::Euclidean,
    }
}

impl Registry {
    fn ann(&self, name: &str, since: u64) -> Option<Arc<Ann>> {
        let anns = self.anns.read().ok()?;
        anns.get(name).filter(|a| a.since == since).cloned()
    }

    /// The watermark the HNSW of `name` has reached, if it is the one for
    /// this incarnation of the index and has been built.
    fn through(&self, name: &str, since: u64) -> Option<u64> {
        let t = match self.ann(name, since) {
            Some(a) => a.through.load(Ordering::Acquire),
            None => self.text(name, since)?.through(),
        };
        (t >= since && t > 0).then_some(t)
    }

    /// Brings every HNSW and fulltext index up to `g`, which is committed.
    fn catch_up(&self, g: &Graph, alive: &Weak<Registry>) {
        self.catch_up_vectors(g, alive);
        self.catch_up_texts(g, alive);
    }

    fn catch_up_vectors(&self, g: &Graph, alive: &Weak<Registry>) {
        let mut wanted: Vec<Arc<Ann>> = Vec::new();
        if let Ok(mut anns) = self.anns.write() {
            anns.retain(|name, a| {
                g.search_live.get(name).is_some_and(|p| {
                    p.since == a.since && g.vector_indexes.get(name) == Some(&a.def)
                })
            });
            for (name, def) in g.vector_indexes.iter() {
                let Some(p) = g.search_live.get(name) else {
                    continue;
                };
                let a = anns.entry(name.clone()).or_insert_with(|| {
                    Arc::new(Ann {
                        since: p.since,
                        def: def.clone(),
                        hnsw: RwLock::new(None),
                        through: AtomicU64::new(0),
                    })
                });
                wanted.push(a.clone());
            }
        }
        for a in wanted {
            let through = a.through.load(Ordering::Acquire);
            if through >= g.version() {
                continue;
            }
            let ids: Vec<u64> = if through == 0 {
                match a.def.entity {
                    EntityType::Node => g.nodes_with_label(&a.def.label),
                    EntityType::Relationship => g.rels_with_type(&a.def.label),
                }
            } else {
                g.search_live
                    .get(&a.def.name)
                    .map(|p| p.after(through).collect())
                    .unwrap_or_default()
            };
            let live = g.search_live.get(&a.def.name);
            for chunk in ids.chunks(BUILD_BATCH) {
                // Two references are this thread's own (its upgrade and the
                // graph it reads): with no other, the database is gone.
                if alive.strong_count() <= 2 || self.dropped(&a) {
                    return;
                }
                // Written at the version of its last write this graph
                // records; entities written before the index was created
                // (or before this graph was decoded) count from version 0.
                let vectors: Vec<(u64, u64, Option<Vec<f32>>)> = chunk
                    .iter()
                    .map(|&id| {
                        let at = live.and_then(|p| p.ids.get(&id)).copied().unwrap_or(0);
                        (id, at, g.indexed_vector(&a.def, id))
                    })
                    .collect();
                let Ok(mut slot) = a.hnsw.write() else { return };
                for (id, at, v) in vectors {
                    match v {
                        Some(v) => {
                            let h = slot.get_or_insert_with(|| {
                                let params = Params {
                                    m: a.def.hnsw_m as usize,
                                    ef_construction: a.def.hnsw_ef_construction as usize,
                                    ..Params::default()
                                };
                                Hnsw::new(v.len(), metric(a.def.similarity), params)
                            });
                            // Without a fixed dimension, vectors of another
                            // size than the first are refused: queries of
                            // that size are answered exactly instead.
                            h.insert(id, &v, at);
                        }
                        None => {
                            if let Some(h) = slot.as_mut() {
                                h.remove(id, at);
                            }
                        }
                    }
                }
            }
            a.through.store(g.version().max(1), Ordering::Release);
        }
    }
}

impl Registry {
    /// Whether a graph fed since the one being indexed no longer has this
    /// incarnation of the index (dropped, or dropped and re-created).
    fn dropped(&self, a: &Ann) -> bool {
        self.gone(&a.def.name, a.since)
    }

    pub(crate) fn gone(&self, name: &str, since: u64) -> bool {
        let Ok(slot) = self.feed.lock() else {
            return true;
        };
        slot.as_ref()
            .is_some_and(|g| g.search_live.get(name).map(|p| p.since) != Some(since))
    }
}

/// The background builder of one registry: it sleeps until a committed
/// graph is fed, and ends when the graphs that share the registry are gone.
fn run(reg: Weak<Registry>) {
    loop {
        let Some(r) = reg.upgrade() else { return };
        let g = {
            let Ok(mut slot) = r.feed.lock() else { return };
            if slot.is_none() {
                slot = match r.wake.wait_timeout(slot, Duration::from_secs(1)) {
                    Ok((s, _)) => s,
                    Err(_) => return,
                };
            }
            slot.take()
        };
        if let Some(g) = g {
            r.catch_up(&g, &reg);
        }
    }
}

/// How far one vector index's HNSW on this member has got, for operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorBuildStatus {
    pub name: String,
    /// Keys the HNSW holds, and replaced or removed slots it keeps.
    pub indexed: usize,
    pub tombstones: usize,
    /// The graph version it reflects (0: the first build has not ended).
    pub through: u64,
    /// Entities written after that, which queries score exactly.
    pub behind: usize,
}

impl Graph {
    /// The state of this member's HNSW for each vector index, as of this
    /// graph.
    pub fn vector_build_status(&self) -> Vec<VectorBuildStatus> {
        self.search_live
            .iter()
            .filter(|(name, _)| self.vector_indexes.contains_key(*name))
            .map(|(name, p)| {
                let ann = self.ann.ann(name, p.since);
                let (indexed, slots) = ann
                    .as_ref()
                    .and_then(|a| {
                        let h = a.hnsw.read().ok()?;
                        h.as_ref().map(|h| (h.len(), h.slots()))
                    })
                    .unwrap_or((0, 0));
                let through = self.ann.through(name, p.since).unwrap_or(0);
                VectorBuildStatus {
                    name: name.clone(),
                    indexed,
                    tombstones: slots - indexed,
                    through,
                    behind: if through == 0 {
                        self.label_or_type_count(name)
                    } else {
                        p.after(through).count()
                    },
                }
            })
            .collect()
    }

    fn label_or_type_count(&self, index: &str) -> usize {
        match self.vector_indexes.get(index) {
            Some(d) if d.entity == EntityType::Node => self.label_count(&d.label),
            Some(d) => self.type_count(&d.label),
            None => 0,
        }
    }

    /// Hands a committed graph to this member's HNSW builder (a background
    /// thread, started on first use). Only the replicated state machine
    /// calls this, after it applies a change set or installs a snapshot.
    pub fn feed_index_builders(&self) {
        if !self.has_search_indexes() {
            return;
        }
        let reg = &self.ann;
        reg.started.get_or_init(|| {
            let weak = Arc::downgrade(reg);
            let spawned = std::thread::Builder::new()
                .name("search-index".into())
                .spawn(move || run(weak));
            // Without the thread, queries stay exact: slower, still right.
            drop(spawned);
        });
        if let Ok(mut slot) = reg.feed.lock() {
            *slot = Some(self.clone());
            reg.wake.notify_one();
        }
    }

    /// Waits until every vector index's HNSW reflects this graph's version
    /// (for tests and benchmarks); false on timeout.
    pub fn wait_index_builders(&self, timeout: Duration) -> bool {
        let end = std::time::Instant::now() + timeout;
        loop {
            let done = self.search_live.iter().all(|(name, p)| {
                self.ann
                    .through(name, p.since)
                    .is_some_and(|t| t >= self.version())
            });
            if done {
                return true;
            }
            if std::time::Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The vector of `id` as index `def` sees it: present, of the label or
    /// type, and a list of finite numbers.
    pub(crate) fn indexed_vector(&self, def: &VectorIndexDef, id: u64) -> Option<Vec<f32>> {
        let v = match def.entity {
            EntityType::Node => {
                if !self.node_has_label(id, &def.label) {
                    return None;
                }
                self.node_prop(id, &def.property)?
            }
            EntityType::Relationship => {
                if self.rel(id)?.rel_type != def.label {
                    return None;
                }
                self.rel_prop(id, &def.property)?
            }
        };
        to_vector(&v)
    }

    /// Whether any vector or fulltext index exists (writes then record
    /// what they touch, and the builder runs).
    pub(crate) fn has_search_indexes(&self) -> bool {
        !self.vector_indexes.is_empty() || !self.fulltext_indexes.is_empty()
    }

    /// Records a write that may change what a vector or fulltext index
    /// holds for an entity: `tokens` are its labels (or type) before or
    /// after the write, `key` the property written (`None`: any, as for
    /// labels and deletes).
    pub(crate) fn search_touch<'a>(
        &mut self,
        entity: EntityType,
        id: u64,
        tokens: impl IntoIterator<Item = &'a str> + Clone,
        key: Option<&str>,
    ) {
        if !self.has_search_indexes() {
            return;
        }
        let has = |label: &str| tokens.clone().into_iter().any(|t| t == label);
        let vectors = self
            .vector_indexes
            .values()
            .filter(|d| d.entity == entity && key.is_none_or(|k| k == d.property) && has(&d.label));
        let texts = self.fulltext_indexes.values().filter(|d| {
            d.entity == entity
                && key.is_none_or(|k| d.properties.iter().any(|p| p == k))
                && d.labels.iter().any(|l| has(l))
        });
        let hit: Vec<String> = vectors
            .map(|d| d.name.clone())
            .chain(texts.map(|d| d.name.clone()))
            .collect();
        if hit.is_empty() {
            return;
        }
        let version = self.version + 1;
        let ann = self.ann.clone();
        let live = Arc::make_mut(&mut self.search_live);
        for name in hit {
            let Some(p) = live.get_mut(&name) else {
                continue;
            };
            p.record(id, version);
            if let Some(t) = ann.through(&name, p.since) {
                p.prune(t);
            }
        }
    }

    /// The `k` nearest via the HNSW, or `None` when it cannot answer for
    /// this snapshot (not built yet, or a query of another size).
    pub(crate) fn vector_query_ann(
        &self,
        def: &VectorIndexDef,
        q: &[f32],
        k: usize,
        score: impl Fn(u64) -> Option<f64>,
    ) -> Option<Vec<(u64, f64)>> {
        let p = self.search_live.get(&def.name)?;
        let through = self.ann.through(&def.name, p.since)?;
        let ann = self.ann.ann(&def.name, p.since)?;
        let hits = {
            let slot = ann.hnsw.read().ok()?;
            match slot.as_ref() {
                Some(h) if h.dim() == q.len() => {
                    h.search(q, search_ef(k), search_ef(k), self.version)
                }
                Some(_) => return None,
                None => Vec::new(),
            }
        };
        let mut out: Vec<(u64, f64)> = hits
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| !p.written_after(*id, through))
            .chain(p.after(through))
            .filter_map(|id| score(id).map(|s| (id, s)))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(k);
        Some(out)
    }
}
