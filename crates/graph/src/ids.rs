//! Ids for writers that run side by side.
//!
//! A transaction shows the ids of what it creates (`id()`, `elementId()`,
//! returned nodes) before it commits, and several transactions build on
//! different snapshots at once, so ids cannot come from the snapshot's
//! counter: two of them would hand out the same one. One allocator per
//! database on the leader hands each id out once; a transaction re-run at
//! its commit point takes the very ids its first run took, so what its
//! client saw still holds.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use imbl::Vector;

use causeway_value::{Code, Error, Result};

use crate::{Graph, TxGraph};

/// Hands out node and relationship ids, each once, never below the
/// counters of the graph a writer builds on.
#[derive(Debug, Default)]
pub struct IdAllocator {
    nodes: AtomicU64,
    rels: AtomicU64,
}

impl IdAllocator {
    /// Never hand out an id at or below what `graph` has used: called when
    /// a leader rebuilds its head from the applied state, which holds every
    /// id earlier leaders committed.
    pub fn seed(&self, graph: &Graph) {
        self.nodes.fetch_max(graph.next_node, Ordering::SeqCst);
        self.rels.fetch_max(graph.next_rel, Ordering::SeqCst);
    }

    fn take(counter: &AtomicU64, floor: u64) -> u64 {
        let mut current = counter.load(Ordering::SeqCst);
        loop {
            let id = current.max(floor);
            match counter.compare_exchange_weak(
                current,
                id.saturating_add(1),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return id,
                Err(now) => current = now,
            }
        }
    }
}

/// A transaction's side of the allocator.
#[derive(Clone, Debug)]
pub(crate) struct Ids {
    alloc: Arc<IdAllocator>,
    /// The ids this transaction took, in order.
    nodes: Vector<u64>,
    rels: Vector<u64>,
    /// For a re-run: the ids the first run took, handed out again.
    reuse: Option<Reuse>,
}

#[derive(Clone, Debug, Default)]
struct Reuse {
    nodes: VecDeque<u64>,
    rels: VecDeque<u64>,
    /// Ids below these were not handed out under the current head's
    /// allocator seeding, so another leader may have used them.
    floor: (u64, u64),
}

fn stale_id() -> Error {
    Error::new(
        Code::Outdated,
        "The transaction created entities under an earlier leadership; retry it.",
    )
}

impl TxGraph {
    /// Takes ids from `alloc` instead of the snapshot's counters.
    pub fn with_ids(mut self, alloc: Arc<IdAllocator>) -> Self {
        self.ids = Some(Box::new(Ids {
            alloc,
            nodes: Vector::new(),
            rels: Vector::new(),
            reuse: None,
        }));
        self
    }

    /// A transaction on `base` that re-runs `first`'s statements: it takes
    /// the ids `first` took, as long as they are at or above `floor`
    /// (nodes, relationships) and unused in `base`.
    pub fn rerun_of(first: &TxGraph, base: Graph, floor: (u64, u64)) -> Self {
        let mut tx = TxGraph::new(base);
        if let Some(ids) = &first.ids {
            tx.ids = Some(Box::new(Ids {
                alloc: ids.alloc.clone(),
                nodes: Vector::new(),
                rels: Vector::new(),
                reuse: Some(Reuse {
                    nodes: ids.nodes.iter().copied().collect(),
                    rels: ids.rels.iter().copied().collect(),
                    floor,
                }),
            }));
        }
        tx
    }

    pub(crate) fn mint_node(&mut self) -> Result<u64> {
        self.mint(false)
    }

    pub(crate) fn mint_rel(&mut self) -> Result<u64> {
        self.mint(true)
    }

    /// The next id for a new node (or relationship, `rel`).
    fn mint(&mut self, rel: bool) -> Result<u64> {
        let (next_node, next_rel) = self.graph.next_ids();
        let next = if rel { next_rel } else { next_node };
        let Some(ids) = self.ids.as_deref_mut() else {
            return Ok(next);
        };
        let reused = ids.reuse.as_mut().and_then(|r| {
            let (queue, floor) = if rel {
                (&mut r.rels, r.floor.1)
            } else {
                (&mut r.nodes, r.floor.0)
            };
            queue.pop_front().map(|id| (id, floor))
        });
        let id = match reused {
            Some((id, floor)) => {
                let used = if rel {
                    self.graph.rel_exists(id)
                } else {
                    self.graph.node_exists(id)
                };
                if id < floor || used {
                    return Err(stale_id());
                }
                id
            }
            None if rel => IdAllocator::take(&ids.alloc.rels, next),
            None => IdAllocator::take(&ids.alloc.nodes, next),
        };
        if rel {
            ids.rels.push_back(id);
        } else {
            ids.nodes.push_back(id);
        }
        Ok(id)
    }
}
