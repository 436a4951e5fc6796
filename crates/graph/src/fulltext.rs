//! Fulltext indexes (docs/decisions/0015): the schema rule, replicated like
//! every other, and per member a tantivy index built in the background from
//! committed graphs, as the vector HNSWs are (crate::ann).
//!
//! Invariants:
//! * Only the definition is replicated. The tantivy index is this member's
//!   own and only ever holds committed graphs' documents.
//! * Each commit of the builder is a generation tagged with the graph
//!   version it reflects. A query at version V takes the newest generation
//!   W <= V of this incarnation of the index, drops from its hits every
//!   entity the query's graph wrote after W (its `Pending`), and searches
//!   those entities' current documents, read from its own snapshot, beside
//!   it. So the transaction's own writes count, and nothing outside the
//!   snapshot is returned. Without such a generation (first build not done,
//!   or only newer ones kept), every entity of the index is searched from
//!   the snapshot.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use causeway_fts::{Analyzer, Doc, Generation, Search, Writer};
use causeway_value::{Code, Error, Result, Value};

use crate::ann::{Pending, Registry};
use crate::schema::default_named;
use crate::{Change, EntityType, Graph, TxGraph};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FulltextIndexDef {
    pub name: String,
    pub entity: EntityType,
    /// Labels, or relationship types: an entity with any of them is indexed.
    pub labels: Vec<String>,
    pub properties: Vec<String>,
    /// One of `causeway_fts::ANALYZERS`.
    pub analyzer: String,
    /// Kept and shown; queries are consistent either way, which Neo4j
    /// allows.
    pub eventually_consistent: bool,
}

/// How many generations a fulltext index keeps for queries on older
/// snapshots; older ones fall back to searching the snapshot.
const GENERATIONS: usize = 4;

/// How many documents the builder writes between checks that the index
/// still exists.
const BUILD_BATCH: usize = 256;

/// One fulltext index's tantivy index on this member.
pub(crate) struct Text {
    since: u64,
    def: FulltextIndexDef,
    writer: Mutex<Option<Writer>>,
    /// Newest last; each with the graph version it reflects.
    generations: RwLock<VecDeque<(u64, Generation)>>,
    through: AtomicU64,
}

impl Text {
    pub(crate) fn through(&self) -> u64 {
        self.through.load(Ordering::Acquire)
    }

    /// The newest generation at or before `version`.
    fn at(&self, version: u64) -> Option<(u64, Generation)> {
        let gens = self.generations.read().ok()?;
        gens.iter().rev().find(|(w, _)| *w <= version).cloned()
    }
}

fn analyzer(def: &FulltextIndexDef) -> Analyzer {
    Analyzer::named(&def.analyzer)
        .or_else(|| Analyzer::named(causeway_fts::DEFAULT_ANALYZER))
        .expect("the default analyzer exists")
}

impl Registry {
    pub(crate) fn text(&self, name: &str, since: u64) -> Option<Arc<Text>> {
        let texts = self.texts.read().ok()?;
        texts.get(name).filter(|t| t.since == since).cloned()
    }

    pub(crate) fn catch_up_texts(&self, g: &Graph, alive: &Weak<Registry>) {
        let mut wanted: Vec<Arc<Text>> = Vec::new();
        if let Ok(mut texts) = self.texts.write() {
            texts.retain(|name, t| {
                g.search_live.get(name).is_some_and(|p| {
                    p.since == t.since && g.fulltext_indexes.get(name) == Some(&t.def)
                })
            });
            for (name, def) in g.fulltext_indexes.iter() {
                let Some(p) = g.search_live.get(name) else {
                    continue;
                };
                let t = texts.entry(name.clone()).or_insert_with(|| {
                    Arc::new(Text {
                        since: p.since,
                        def: def.clone(),
                        writer: Mutex::new(None),
                        generations: RwLock::new(VecDeque::new()),
                        through: AtomicU64::new(0),
                    })
                });
                wanted.push(t.clone());
            }
        }
        for t in wanted {
            let through = t.through();
            if through >= g.version() {
                continue;
            }
            let ids: Vec<u64> = if through == 0 {
                g.fulltext_entities(&t.def)
            } else {
                g.search_live
                    .get(&t.def.name)
                    .map(|p| p.after(through).collect())
                    .unwrap_or_default()
            };
            let Ok(mut slot) = t.writer.lock() else {
                return;
            };
            if slot.is_none() {
                match Writer::new(t.def.properties.len(), &analyzer(&t.def)) {
                    Ok(w) => *slot = Some(w),
                    // Without a writer, queries search the snapshot.
                    Err(_) => return,
                }
            }
            let Some(w) = slot.as_mut() else { return };
            let mut broken = false;
            'build: for chunk in ids.chunks(BUILD_BATCH) {
                // Two references are this thread's own: with no other, the
                // database is gone.
                if alive.strong_count() <= 2 || self.gone(&t.def.name, t.since) {
                    return;
                }
                for &id in chunk {
                    if w.put(id, g.fulltext_doc(&t.def, id).as_ref()).is_err() {
                        broken = true;
                        break 'build;
                    }
                }
            }
            let committed = if broken { None } else { w.commit().ok() };
            let Some(generation) = committed else {
                // Uncommitted puts must not reach a later commit: the next
                // round rebuilds from scratch.
                *slot = None;
                t.through.store(0, Ordering::Release);
                return;
            };
            let version = g.version().max(1);
            if let Ok(mut gens) = t.generations.write() {
                gens.push_back((version, generation));
                while gens.len() > GENERATIONS {
                    gens.pop_front();
                }
            }
            t.through.store(version, Ordering::Release);
        }
    }
}

impl Graph {
    /// Sorted by name.
    pub fn fulltext_indexes(&self) -> Vec<FulltextIndexDef> {
        self.fulltext_indexes.values().cloned().collect()
    }

    /// Every entity the index covers: of any of its labels or types.
    fn fulltext_entities(&self, def: &FulltextIndexDef) -> Vec<u64> {
        let mut ids = BTreeSet::new();
        for l in &def.labels {
            match def.entity {
                EntityType::Node => ids.extend(self.nodes_with_label(l)),
                EntityType::Relationship => ids.extend(self.rels_with_type(l)),
            }
        }
        ids.into_iter().collect()
    }

    /// What `id` puts in the index: its string (and all-string list)
    /// values of the indexed properties, as Neo4j indexes only text; `None`
    /// when it is not covered or has none.
    pub(crate) fn fulltext_doc(&self, def: &FulltextIndexDef, id: u64) -> Option<Doc> {
        let covered = match def.entity {
            EntityType::Node => def.labels.iter().any(|l| self.node_has_label(id, l)),
            EntityType::Relationship => self
                .rel(id)
                .is_some_and(|r| def.labels.iter().any(|l| *l == r.rel_type)),
        };
        if !covered {
            return None;
        }
        let values: Vec<Vec<String>> = def
            .properties
            .iter()
            .map(|p| {
                let v = match def.entity {
                    EntityType::Node => self.node_prop(id, p),
                    EntityType::Relationship => self.rel_prop(id, p),
                };
                text_values(v.as_deref())
            })
            .collect();
        values
            .iter()
            .any(|v| !v.is_empty())
            .then_some(Doc { id, values })
    }

    /// `db.index.fulltext.queryNodes` / `queryRelationships`: every match,
    /// best first (ties by id), after `skip`, at most `limit`. `analyzer`
    /// overrides the index's for the query text.
    pub fn fulltext_query(
        &self,
        name: &str,
        entity: EntityType,
        query: &str,
        analyzer_name: Option<&str>,
        skip: usize,
        limit: Option<usize>,
    ) -> Result<Vec<(u64, f64)>> {
        let def = self
            .fulltext_indexes
            .get(name)
            .filter(|d| d.entity == entity)
            .ok_or_else(|| {
                call_failed(format!(
                    "java.lang.IllegalArgumentException: There is no such fulltext schema \
                     index: {name}"
                ))
            })?;
        let parsed = causeway_fts::parse(query).map_err(|e| {
            call_failed(format!(
                "org.apache.lucene.queryparser.classic.ParseException: {e}"
            ))
        })?;
        let index_analyzer = analyzer(def);
        let query_analyzer = match analyzer_name {
            None => index_analyzer,
            Some(a) => Analyzer::named(a).ok_or_else(|| {
                call_failed(format!(
                    "java.lang.IllegalArgumentException: No such analyzer: '{a}'"
                ))
            })?,
        };
        let search = Search {
            query: &parsed,
            properties: &def.properties,
            analyzer: &index_analyzer,
            query_analyzer: &query_analyzer,
        };
        let empty = Pending::default();
        let p = self.search_live.get(name).unwrap_or(&empty);
        let generation = self
            .ann
            .text(name, p.since)
            .and_then(|t| t.at(self.version))
            .filter(|(w, _)| *w >= p.since);
        let (main, through, ids) = match &generation {
            Some((w, g)) => (Some(g), *w, p.after(*w).collect::<Vec<_>>()),
            None => (None, 0, self.fulltext_entities(def)),
        };
        let pending: Vec<Doc> = ids
            .into_iter()
            .filter_map(|id| self.fulltext_doc(def, id))
            .collect();
        let mut hits = search
            .run(main, |id| p.written_after(id, through), &pending)
            .map_err(|e| call_failed(e.to_string()))?;
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(hits
            .into_iter()
            .skip(skip)
            .take(limit.unwrap_or(usize::MAX))
            .map(|(id, s)| (id, f64::from(s)))
            .collect())
    }

    pub(crate) fn raw_create_fulltext_index(&mut self, def: &FulltextIndexDef) -> Result<()> {
        if self.schema_name_taken(&def.name) || Analyzer::named(&def.analyzer).is_none() {
            return Err(Error::new(
                Code::Unknown,
                format!("index `{}` already exists or is malformed", def.name),
            ));
        }
        Arc::make_mut(&mut self.fulltext_indexes).insert(def.name.clone(), def.clone());
        Arc::make_mut(&mut self.search_live)
            .insert(def.name.clone(), Pending::new(self.version + 1));
        Ok(())
    }
}

/// The text a value contributes: a string, or every item of a list of
/// strings; nothing for any other value.
fn text_values(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::List(items)) if items.iter().all(|i| matches!(i, Value::String(_))) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn call_failed(cause: String) -> Error {
    Error::new(
        Code::ProcedureCallFailed,
        format!("Failed to invoke procedure: Caused by: {cause}"),
    )
}

/// Neo4j's description of a fulltext index in messages.
pub(crate) fn fulltext_index_desc(d: &FulltextIndexDef) -> String {
    let (open, close) = match d.entity {
        EntityType::Node => ("(:", ")"),
        EntityType::Relationship => ("()-[:", "]-()"),
    };
    format!(
        "Index( name='{}', type='FULLTEXT', schema={open}{} {{{}}}{close}, \
         indexProvider='fulltext-1.0' )",
        d.name,
        d.labels.join("|"),
        d.properties.join(", ")
    )
}

impl TxGraph {
    /// `CREATE FULLTEXT INDEX`: `def.name` empty means the default name.
    pub fn create_fulltext_index(
        &mut self,
        mut def: FulltextIndexDef,
        if_not_exists: bool,
    ) -> Result<()> {
        if def.name.is_empty() {
            def.name = default_named(
                "fulltext",
                def.entity,
                &def.labels.join("_"),
                &def.properties,
            );
        }
        if Analyzer::named(&def.analyzer).is_none() {
            return Err(Error::new(
                Code::ArgumentError,
                format!(
                    "Could not create fulltext index with specified index config \
                     '{{fulltext.analyzer: {}}}': no such analyzer. See \
                     db.index.fulltext.listAvailableAnalyzers().",
                    def.analyzer
                ),
            ));
        }
        let same = self.graph.fulltext_indexes.values().find(|d| {
            d.entity == def.entity && d.labels == def.labels && d.properties == def.properties
        });
        if let Some(outcome) =
            self.graph
                .index_clash(same.map(fulltext_index_desc), &def.name, if_not_exists)
        {
            return outcome;
        }
        self.graph.raw_create_fulltext_index(&def)?;
        self.changes.push_back(Change::CreateFulltextIndex { def });
        self.counters.indexes_added += 1;
        Ok(())
    }
}
