//! Vector indexes: the schema rule (replicated like every other), and
//! nearest-neighbour search over the snapshot a query reads.
//!
//! Search is exact here: every entity of the label or type is scored, so
//! the answer is the true top k of that very snapshot, including the
//! transaction's own writes. An approximate index for large graphs is to
//! sit in front of this (see docs/decisions/0014-vector-indexes.md).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use causeway_value::{Code, Error, Result, Value};

use crate::ann::{exact_below, Pending};
use crate::schema::{default_named, schema_desc};
use crate::{Change, EntityType, Graph, TxGraph};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Similarity {
    Cosine,
    Euclidean,
}

impl Similarity {
    pub fn name(self) -> &'static str {
        match self {
            Similarity::Cosine => "COSINE",
            Similarity::Euclidean => "EUCLIDEAN",
        }
    }

    /// Neo4j's scores, in [0, 1], higher is closer: `(1 + cos) / 2` for
    /// cosine and `1 / (1 + d²)` for Euclidean distance `d`. `None` when
    /// the pair cannot be compared (cosine of a zero vector).
    pub fn score(self, a: &[f32], b: &[f32]) -> Option<f64> {
        let mut acc = Pair::default();
        for (x, y) in a.iter().zip(b) {
            acc.add(*x, *y);
        }
        acc.score(self)
    }
}

/// Running sums over the components of two vectors, in f64.
#[derive(Default)]
struct Pair {
    dot: f64,
    aa: f64,
    bb: f64,
}

impl Pair {
    fn add(&mut self, x: f32, y: f32) {
        let (x, y) = (f64::from(x), f64::from(y));
        self.dot += x * y;
        self.aa += x * x;
        self.bb += y * y;
    }

    fn score(&self, similarity: Similarity) -> Option<f64> {
        match similarity {
            Similarity::Cosine => {
                if self.aa == 0.0 || self.bb == 0.0 {
                    return None;
                }
                let cos = (self.dot / (self.aa.sqrt() * self.bb.sqrt())).clamp(-1.0, 1.0);
                Some((1.0 + cos) / 2.0)
            }
            // |a - b|² = |a|² + |b|² - 2 a·b, clamped against rounding.
            Similarity::Euclidean => {
                Some(1.0 / (1.0 + (self.aa + self.bb - 2.0 * self.dot).max(0.0)))
            }
        }
    }
}

/// The query's score against a stored list, read in place (no copy per
/// candidate); `None` if the list is not a vector of the query's size.
fn score_stored(similarity: Similarity, query: &[f32], items: &[Value]) -> Option<f64> {
    if items.len() != query.len() {
        return None;
    }
    let mut acc = Pair::default();
    for (x, v) in query.iter().zip(items) {
        let y = match v {
            Value::Float(f) => *f as f32,
            Value::Int(i) => *i as f32,
            _ => return None,
        };
        if !y.is_finite() {
            return None;
        }
        acc.add(*x, y);
    }
    acc.score(similarity)
}

/// The largest `vector.dimensions` Neo4j accepts.
pub const MAX_DIMENSIONS: u32 = 4096;

#[derive(Clone, Debug, PartialEq)]
pub struct VectorIndexDef {
    pub name: String,
    pub entity: EntityType,
    /// The label, or the relationship type.
    pub label: String,
    pub property: String,
    /// `None`: any dimension, as long as the query vector matches the
    /// indexed one (Neo4j 5.23+ makes the setting optional).
    pub dimensions: Option<u32>,
    pub similarity: Similarity,
    /// Tuning of the approximate index, kept and shown as given.
    pub hnsw_m: u32,
    pub hnsw_ef_construction: u32,
    pub quantization: bool,
}

/// A list of finite numbers as 32-bit floats, the precision Neo4j's vector
/// indexes keep; `None` for anything else.
pub fn to_vector(v: &Value) -> Option<Vec<f32>> {
    let Value::List(items) = v else { return None };
    if items.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    for x in items {
        let f = match x {
            Value::Float(f) => *f as f32,
            Value::Int(i) => *i as f32,
            _ => return None,
        };
        if !f.is_finite() {
            return None;
        }
        out.push(f);
    }
    Some(out)
}

/// A scored candidate; ordered so that a max-heap pops the worst first.
struct Scored(f64, u64);

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    // Worse = lower score, then higher id (ties keep the lower id).
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| self.1.cmp(&other.1))
    }
}

impl Graph {
    /// Sorted by name.
    pub fn vector_indexes(&self) -> Vec<VectorIndexDef> {
        self.vector_indexes.values().cloned().collect()
    }

    pub fn vector_index(&self, name: &str) -> Option<&VectorIndexDef> {
        self.vector_indexes.get(name)
    }

    /// The `k` entities of the index closest to `query`, best first, with
    /// their scores. Errors as Neo4j's procedures do for a missing index or
    /// a query vector the index cannot compare.
    pub fn vector_query(
        &self,
        name: &str,
        entity: EntityType,
        k: i64,
        query: &Value,
    ) -> Result<Vec<(u64, f64)>> {
        let def = self
            .vector_indexes
            .get(name)
            .filter(|d| d.entity == entity)
            .ok_or_else(|| call_failed(format!("There is no such vector schema index: {name}")))?;
        if k <= 0 {
            return Err(call_failed(format!(
                "Invalid number of nearest neighbours {k}: it must be positive"
            )));
        }
        let q = to_vector(query).ok_or_else(|| {
            call_failed("Index query vector must be a non-empty list of finite numbers".into())
        })?;
        if let Some(d) = def.dimensions {
            if q.len() != d as usize {
                return Err(call_failed(format!(
                    "Index query vector has {} dimensions, but indexed vectors have {d}.",
                    q.len()
                )));
            }
        }
        let k = usize::try_from(k).unwrap_or(usize::MAX);
        let score = |id: u64| {
            let value = match entity {
                EntityType::Node => self
                    .node_has_label(id, &def.label)
                    .then(|| self.node_prop(id, &def.property))
                    .flatten(),
                EntityType::Relationship => self
                    .rel(id)
                    .filter(|r| r.rel_type == def.label)
                    .and_then(|_| self.rel_prop(id, &def.property)),
            };
            // Without a fixed dimension, entities of another one are not
            // comparable with this query and are left out, as are values
            // that are no vector (cosine: a zero vector scores nothing).
            match value.as_deref() {
                Some(Value::List(items)) => score_stored(def.similarity, &q, items),
                _ => None,
            }
        };
        let size = match entity {
            EntityType::Node => self.label_count(&def.label),
            EntityType::Relationship => self.type_count(&def.label),
        };
        if size >= exact_below() {
            if let Some(hits) = self.vector_query_ann(def, &q, k, score) {
                return Ok(hits);
            }
        }
        let ids = match entity {
            EntityType::Node => self.nodes_with_label(&def.label),
            EntityType::Relationship => self.rels_with_type(&def.label),
        };
        let mut heap: BinaryHeap<Scored> = BinaryHeap::with_capacity(k.min(ids.len()) + 1);
        for id in ids {
            let Some(score) = score(id) else {
                continue;
            };
            heap.push(Scored(score, id));
            if heap.len() > k {
                heap.pop();
            }
        }
        let mut out: Vec<(u64, f64)> = heap.into_iter().map(|Scored(s, id)| (id, s)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    pub(crate) fn raw_create_vector_index(&mut self, def: &VectorIndexDef) -> Result<()> {
        if self.schema_name_taken(&def.name) {
            return Err(Error::new(
                Code::Unknown,
                format!("index `{}` already exists", def.name),
            ));
        }
        Arc::make_mut(&mut self.vector_indexes).insert(def.name.clone(), def.clone());
        Arc::make_mut(&mut self.search_live)
            .insert(def.name.clone(), Pending::new(self.version + 1));
        Ok(())
    }
}

fn call_failed(msg: String) -> Error {
    Error::new(
        Code::ProcedureCallFailed,
        format!("Failed to invoke procedure: Caused by: java.lang.IllegalArgumentException: {msg}"),
    )
}

/// Neo4j's description of a vector index in messages.
pub(crate) fn vector_index_desc(d: &VectorIndexDef) -> String {
    format!(
        "Index( name='{}', type='VECTOR', schema={}, indexProvider='vector-2.0' )",
        d.name,
        schema_desc(d.entity, &d.label, std::slice::from_ref(&d.property))
    )
}

impl TxGraph {
    /// `CREATE VECTOR INDEX`: `def.name` empty means the default name.
    pub fn create_vector_index(
        &mut self,
        mut def: VectorIndexDef,
        if_not_exists: bool,
    ) -> Result<()> {
        let props = std::slice::from_ref(&def.property);
        if def.name.is_empty() {
            def.name = default_named("vector", def.entity, &def.label, props);
        }
        let same =
            self.graph.vector_indexes.values().find(|d| {
                d.entity == def.entity && d.label == def.label && d.property == def.property
            });
        if let Some(outcome) =
            self.graph
                .index_clash(same.map(vector_index_desc), &def.name, if_not_exists)
        {
            return outcome;
        }
        self.graph.raw_create_vector_index(&def)?;
        self.changes.push_back(Change::CreateVectorIndex { def });
        self.counters.indexes_added += 1;
        Ok(())
    }
}
