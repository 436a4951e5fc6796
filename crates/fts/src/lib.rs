//! Fulltext search for Causeway (docs/decisions/0015-fulltext-indexes.md):
//! analyzers under Neo4j's names, Lucene's classic query syntax, and tantivy
//! indexes in RAM.
//!
//! An index is written by one [`Writer`] and read through [`Generation`]s,
//! each a frozen view of what was committed. A search runs one parsed query
//! over a generation (minus the entities the caller says are stale there)
//! and over a small index of "pending" documents built for that search,
//! with BM25 statistics summed over both, so a document scores the same
//! whichever side holds it.
//!
//! Invariants:
//! * Documents are keyed by the entity id (an indexed, fast u64 field): a
//!   write replaces the document of that id, never adds a second one.
//! * Field `i` of every index is property `i` of its definition, so one
//!   lowered query runs on the generation and on the pending index alike.

pub mod analyzer;
pub mod query;

use std::ops::Bound;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, FuzzyTermQuery, Occur as TOccur, PhraseQuery,
    Query as TQuery, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED,
};
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, Searcher, SegmentOrdinal,
    SegmentReader, TantivyDocument, Term,
};

pub use analyzer::{Analyzer, ANALYZERS, DEFAULT_ANALYZER};
pub use query::{parse, ParseError, Query};

/// What one entity puts in an index: for each indexed property, in the
/// definition's order, its string values (none when absent or not text).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Doc {
    pub id: u64,
    pub values: Vec<Vec<String>>,
}

const TOKENIZER: &str = "causeway";
const ID: &str = "id";

/// Memory for the writer's in-RAM segment before it flushes one: tantivy's
/// minimum per thread, and one thread per index.
const WRITER_BUDGET: usize = 15_000_000;
/// Memory for the small index of one search's pending documents.
const PENDING_BUDGET: usize = 4_000_000;

/// The longest wildcard or regular expression a query may hold, in
/// characters (Lucene refuses patterns too complex to determinize).
pub const MAX_PATTERN_CHARS: usize = 1_000;
/// tantivy-fst builds a pattern's automaton recursively, as deep as the
/// pattern's chains of optional parts (`(a?){0,100000}`): it runs on a thread
/// with this much stack, never on a query's worker.
const PATTERN_STACK: usize = 512 << 20;
/// The largest counted repetition a pattern may ask for: each copy is
/// compiled out.
pub const MAX_REPEAT: u64 = 100;

/// tantivy's BM25 keeps Lucene's old `(k1 + 1)` factor, which Lucene 8
/// dropped; scaling by its inverse brings scores to Neo4j's.
const LUCENE_SCALE: f32 = 1.0 / 2.2;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

struct Layout {
    schema: Schema,
    id: Field,
    fields: Vec<Field>,
}

fn layout(properties: usize) -> Layout {
    let mut b = Schema::builder();
    let id = b.add_u64_field(ID, INDEXED | FAST);
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = (0..properties)
        .map(|i| b.add_text_field(&format!("p{i}"), text.clone()))
        .collect();
    Layout {
        schema: b.build(),
        id,
        fields,
    }
}

fn new_index(properties: usize, analyzer: &Analyzer) -> (Index, Layout) {
    let l = layout(properties);
    let index = Index::create_in_ram(l.schema.clone());
    index
        .tokenizers()
        .register(TOKENIZER, analyzer.text_analyzer());
    (index, l)
}

fn document(l: &Layout, doc: &Doc) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    d.add_u64(l.id, doc.id);
    for (field, values) in l.fields.iter().zip(&doc.values) {
        for v in values {
            d.add_text(*field, v);
        }
    }
    d
}

/// The one writer of an index on this member.
pub struct Writer {
    layout: Layout,
    writer: IndexWriter,
    reader: IndexReader,
}

impl Writer {
    pub fn new(properties: usize, analyzer: &Analyzer) -> Result<Writer, String> {
        let (index, layout) = new_index(properties, analyzer);
        let writer = index
            .writer_with_num_threads(1, WRITER_BUDGET)
            .map_err(err)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        Ok(Writer {
            layout,
            writer,
            reader,
        })
    }

    /// Replaces the document of `id` (`None`: removes it).
    pub fn put(&mut self, id: u64, doc: Option<&Doc>) -> Result<(), String> {
        self.writer
            .delete_term(Term::from_field_u64(self.layout.id, id));
        if let Some(doc) = doc.filter(|d| d.values.iter().any(|v| !v.is_empty())) {
            self.writer
                .add_document(document(&self.layout, doc))
                .map_err(err)?;
        }
        Ok(())
    }

    /// Makes every `put` so far visible, as a new generation.
    pub fn commit(&mut self) -> Result<Generation, String> {
        self.writer.commit().map_err(err)?;
        self.reader.reload().map_err(err)?;
        Ok(Generation {
            searcher: self.reader.searcher(),
        })
    }
}

/// A frozen view of an index: what one commit made visible.
#[derive(Clone)]
pub struct Generation {
    searcher: Searcher,
}

impl Generation {
    /// Documents it holds (deleted ones excluded).
    pub fn docs(&self) -> u64 {
        self.searcher.num_docs()
    }
}

/// One search: a parsed query over the named properties of an index whose
/// documents `analyzer` analyses; the query text goes through
/// `query_analyzer` (usually the same).
pub struct Search<'a> {
    pub query: &'a Query,
    pub properties: &'a [String],
    pub analyzer: &'a Analyzer,
    pub query_analyzer: &'a Analyzer,
}

impl Search<'_> {
    /// Every matching entity with its score, from `main` (skipping the ids
    /// `stale` names) and from `pending`, in no particular order.
    pub fn run(
        &self,
        main: Option<&Generation>,
        stale: impl Fn(u64) -> bool,
        pending: &[Doc],
    ) -> Result<Vec<(u64, f32)>, String> {
        let l = layout(self.properties.len());
        let named: Vec<(&str, Field)> = self
            .properties
            .iter()
            .map(String::as_str)
            .zip(l.fields.iter().copied())
            .collect();
        let Some(q) = lower(self.query, &named, self.query_analyzer)? else {
            return Ok(Vec::new());
        };
        let small = if pending.is_empty() {
            None
        } else {
            let (index, l) = new_index(self.properties.len(), self.analyzer);
            let mut w =
                tantivy::SingleSegmentIndexWriter::new(index, PENDING_BUDGET).map_err(err)?;
            for d in pending {
                if d.values.iter().any(|v| !v.is_empty()) {
                    w.add_document(document(&l, d)).map_err(err)?;
                }
            }
            let index = w.finalize().map_err(err)?;
            Some(index.reader().map_err(err)?.searcher())
        };
        let main = main.map(|g| &g.searcher);
        let stats = Summed {
            main,
            small: small.as_ref(),
        };
        let mut out = Vec::new();
        if let Some(m) = main {
            for (id, score) in m
                .search_with_statistics_provider(&*q, &Hits, &stats)
                .map_err(err)?
            {
                if !stale(id) {
                    out.push((id, score));
                }
            }
        }
        if let Some(s) = &small {
            out.extend(
                s.search_with_statistics_provider(&*q, &Hits, &stats)
                    .map_err(err)?,
            );
        }
        Ok(out)
    }
}

/// BM25 statistics over a generation and a pending index together.
struct Summed<'a> {
    main: Option<&'a Searcher>,
    small: Option<&'a Searcher>,
}

impl tantivy::query::Bm25StatisticsProvider for Summed<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let mut n = 0;
        for s in [self.main, self.small].into_iter().flatten() {
            n += s.total_num_tokens(field)?;
        }
        Ok(n)
    }
    fn total_num_docs(&self) -> tantivy::Result<u64> {
        let mut n = 0;
        for s in [self.main, self.small].into_iter().flatten() {
            n += s.total_num_docs()?;
        }
        Ok(n)
    }
    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let mut n = 0;
        for s in [self.main, self.small].into_iter().flatten() {
            n += s.doc_freq(term)?;
        }
        Ok(n)
    }
}

/// Collects every match as (entity id, score).
struct Hits;

struct SegmentHits {
    ids: Column<u64>,
    out: Vec<(u64, f32)>,
}

impl Collector for Hits {
    type Fruit = Vec<(u64, f32)>;
    type Child = SegmentHits;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentHits> {
        Ok(SegmentHits {
            ids: segment.fast_fields().u64(ID)?,
            out: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, parts: Vec<Vec<(u64, f32)>>) -> tantivy::Result<Vec<(u64, f32)>> {
        Ok(parts.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentHits {
    type Fruit = Vec<(u64, f32)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Some(id) = self.ids.first(doc) {
            self.out.push((id, score));
        }
    }

    fn harvest(self) -> Vec<(u64, f32)> {
        self.out
    }
}

type Lowered = Option<Box<dyn TQuery>>;

/// The tantivy query for `q`, or `None` when nothing is left of it (a
/// clause made only of stop words matches nothing, as in Lucene).
fn lower(q: &Query, fields: &[(&str, Field)], an: &Analyzer) -> Result<Lowered, String> {
    let targets = |field: &Option<String>| -> Vec<Field> {
        match field {
            None => fields.iter().map(|(_, f)| *f).collect(),
            // A field that is not indexed matches nothing, as in Lucene.
            Some(name) => fields
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, f)| *f)
                .collect(),
        }
    };
    let per_field = |field: &Option<String>,
                     one: &dyn Fn(Field) -> Result<Lowered, String>|
     -> Result<Lowered, String> {
        let mut clauses = Vec::new();
        for f in targets(field) {
            if let Some(q) = one(f)? {
                clauses.push((TOccur::Should, q));
            }
        }
        Ok(match clauses.len() {
            0 => Some(Box::new(EmptyQuery)),
            1 => clauses.pop().map(|(_, q)| q),
            _ => Some(Box::new(BooleanQuery::new(clauses))),
        })
    };
    Ok(match q {
        Query::All => Some(Box::new(AllQuery)),
        Query::Term { field, text, kind } => match kind {
            query::TermKind::Plain => {
                let tokens = an.tokens(text);
                if tokens.is_empty() {
                    return Ok(None);
                }
                per_field(field, &|f| {
                    let mut terms: Vec<(TOccur, Box<dyn TQuery>)> = tokens
                        .iter()
                        .map(|(_, t)| (TOccur::Should, scored(term_query(f, t))))
                        .collect();
                    Ok(Some(if terms.len() == 1 {
                        terms.remove(0).1
                    } else {
                        Box::new(BooleanQuery::new(terms))
                    }))
                })?
            }
            query::TermKind::Wildcard => {
                let pattern = wildcard_regex(&an.normalize(text));
                per_field(field, &|f| Ok(Some(regex_query(&pattern, f)?)))?
            }
            query::TermKind::Fuzzy(edits) => {
                let t = an.normalize(text);
                per_field(field, &|f| {
                    Ok(Some(Box::new(FuzzyTermQuery::new(
                        Term::from_field_text(f, &t),
                        *edits,
                        true,
                    ))))
                })?
            }
        },
        Query::Phrase { field, text, slop } => {
            let tokens = an.tokens(text);
            if tokens.is_empty() {
                return Ok(None);
            }
            per_field(field, &|f| {
                if tokens.len() == 1 {
                    return Ok(Some(scored(term_query(f, &tokens[0].1))));
                }
                let first = tokens[0].0;
                let terms = tokens
                    .iter()
                    .map(|(p, t)| (p - first, Term::from_field_text(f, t)))
                    .collect();
                Ok(Some(scored(Box::new(
                    PhraseQuery::new_with_offset_and_slop(terms, *slop),
                ))))
            })?
        }
        Query::Range {
            field,
            lower,
            upper,
            lower_inclusive,
            upper_inclusive,
        } => {
            let lower = lower.as_deref().map(|s| an.normalize(s));
            let upper = upper.as_deref().map(|s| an.normalize(s));
            per_field(field, &|f| {
                let bound = |v: &Option<String>, inclusive: bool| match v {
                    None => Bound::Unbounded,
                    Some(s) if inclusive => Bound::Included(Term::from_field_text(f, s)),
                    Some(s) => Bound::Excluded(Term::from_field_text(f, s)),
                };
                if lower.is_none() && upper.is_none() {
                    // `[* TO *]`: any term at all.
                    return Ok(Some(regex_query(".*", f)?));
                }
                Ok(Some(Box::new(RangeQuery::new(
                    bound(&lower, *lower_inclusive),
                    bound(&upper, *upper_inclusive),
                ))))
            })?
        }
        Query::Regex { field, pattern } => per_field(field, &|f| {
            regex_query(pattern, f)
                .map(Some)
                .map_err(|e| format!("Invalid regular expression /{pattern}/: {e}"))
        })?,
        Query::Boost(inner, b) => {
            lower(inner, fields, an)?.map(|q| Box::new(BoostQuery::new(q, *b)) as Box<dyn TQuery>)
        }
        Query::Bool(clauses) => {
            let mut out = Vec::new();
            for (occur, c) in clauses {
                if let Some(q) = lower(c, fields, an)? {
                    let o = match occur {
                        query::Occur::Must => TOccur::Must,
                        query::Occur::Should => TOccur::Should,
                        query::Occur::MustNot => TOccur::MustNot,
                    };
                    out.push((o, q));
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Some(Box::new(BooleanQuery::new(out)))
        }
    })
}

/// A regular-expression query over whole terms, its automaton built on a
/// thread of its own (see `PATTERN_STACK`) and its length bounded.
fn regex_query(pattern: &str, f: Field) -> Result<Box<dyn TQuery>, String> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(format!(
            "the pattern is longer than {MAX_PATTERN_CHARS} characters"
        ));
    }
    if max_repeat(pattern) > MAX_REPEAT {
        return Err(format!(
            "a counted repetition in the pattern exceeds {MAX_REPEAT}"
        ));
    }
    let p = pattern.to_string();
    let built = std::thread::Builder::new()
        .name("fts-pattern".into())
        .stack_size(PATTERN_STACK)
        .spawn(move || RegexQuery::from_pattern(&p, f).map_err(err))
        .map_err(err)?
        .join()
        .map_err(|_| "the pattern could not be compiled".to_string())??;
    Ok(Box::new(built))
}

/// The largest number in a `{n}`, `{n,}` or `{n,m}` of a pattern (escaped
/// braces count too: the bound only needs to be safe).
fn max_repeat(pattern: &str) -> u64 {
    let mut max = 0;
    let mut rest = pattern;
    while let Some(i) = rest.find('{') {
        rest = &rest[i + 1..];
        for part in rest.split('}').next().unwrap_or("").split(',') {
            let digits: String = part.trim().chars().take(20).collect();
            if let Ok(n) = digits.parse::<u64>() {
                max = max.max(n);
            }
        }
    }
    max
}

fn term_query(f: Field, text: &str) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(f, text),
        IndexRecordOption::WithFreqs,
    ))
}

/// BM25 clauses scaled to Lucene's scores.
fn scored(q: Box<dyn TQuery>) -> Box<dyn TQuery> {
    Box::new(BoostQuery::new(q, LUCENE_SCALE))
}

/// A Lucene wildcard (`*`, `?`, `\` escapes) as an anchored regular
/// expression over whole terms.
fn wildcard_regex(text: &str) -> String {
    let mut out = String::new();
    let mut it = text.chars();
    while let Some(c) = it.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => {
                if let Some(e) = it.next() {
                    push_literal(&mut out, e);
                }
            }
            c => push_literal(&mut out, c),
        }
    }
    out
}

fn push_literal(out: &mut String, c: char) {
    // The characters regex syntax gives a meaning to; every other one
    // stands for itself.
    if "\\.+*?()|[]{}^$#&-~".contains(c) {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests;
