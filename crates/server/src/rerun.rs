//! What an optimistic write transaction keeps so that it can be run again
//! at its commit point (docs/decisions/0022-concurrency-control.md).
//!
//! An explicit write transaction runs on a snapshot, holding no lock. At
//! COMMIT, if anything committed since that snapshot, its statements run
//! again on the head, in order, with the clock and random seed each had;
//! if every statement gives its client exactly what it already received
//! (fields, counters and each record pulled), the client cannot tell the
//! two runs apart, and the re-run's changes commit as if the whole
//! transaction had run there. Otherwise it fails with `Outdated`, which
//! drivers retry.
//!
//! A statement whose transactions keep failing this way is *hot* (a
//! counter many clients increment): for a while, transactions that begin
//! with it queue on the write lock instead, as under `lock`, so that they
//! neither retry nor make others retry.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use causeway_exec::{Inputs, QueryResult};
use causeway_value::Map;

use crate::forward::{text_size, Digest};

/// Statement text and parameters one transaction may keep for its re-run;
/// past it the transaction takes the write lock (running what it has so
/// far again once, under the lock) and keeps nothing more.
pub const MAX_JOURNAL_BYTES: usize = 4 << 20;

/// The statements of an optimistic transaction, in order.
#[derive(Default)]
pub struct Journal {
    pub entries: Vec<Entry>,
    bytes: usize,
}

pub struct Entry {
    pub query: String,
    pub params: Map,
    pub inputs: Inputs,
    /// What the client has received of this statement's result so far.
    pub seen: Arc<Mutex<Seen>>,
}

pub struct Seen {
    digest: Digest,
    records: usize,
    /// The client learnt that there are no more records: a re-run must
    /// have none past them either (a row that appeared is a phantom).
    ended: bool,
    /// Pulling a record failed: the client saw an error, which a re-run
    /// cannot be compared with, so the transaction may not commit.
    failed: bool,
    /// The transaction moved onto the head under the lock after this
    /// result was opened: its snapshot is gone, so it yields no more.
    sealed: bool,
}

fn lock(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    // Updated only by whole assignments; a poisoned lock still holds a
    // consistent value.
    seen.lock().unwrap_or_else(|e| e.into_inner())
}

fn moved() -> causeway_value::Error {
    causeway_value::Error::new(
        causeway_value::Code::Outdated,
        "This result was opened before the transaction had to take the write lock, and \
         what it read may have changed since; retry the transaction.",
    )
}

impl Journal {
    /// Whether a statement of this size still fits.
    pub fn fits(&self, query: &str, params: &Map) -> bool {
        self.bytes + text_size(query, params) <= MAX_JOURNAL_BYTES
    }

    /// Records a statement and returns its result, witnessed: every record
    /// the client pulls is digested as it passes.
    pub fn record(
        &mut self,
        query: &str,
        params: &Map,
        inputs: Inputs,
        result: QueryResult,
    ) -> QueryResult {
        self.bytes += text_size(query, params);
        let seen = Arc::new(Mutex::new(Seen {
            digest: Digest::new(&result.fields, &result.counters),
            records: 0,
            ended: false,
            failed: false,
            sealed: false,
        }));
        self.entries.push(Entry {
            query: query.to_owned(),
            params: params.clone(),
            inputs,
            seen: seen.clone(),
        });
        let mut rows = result.rows;
        let mut over = false;
        QueryResult {
            rows: Box::new(std::iter::from_fn(move || {
                if over {
                    return None;
                }
                let mut s = lock(&seen);
                if s.sealed {
                    over = true;
                    return Some(Err(moved()));
                }
                let row = rows.next();
                match &row {
                    Some(Ok(record)) => {
                        s.digest.record(record);
                        s.records += 1;
                    }
                    Some(Err(_)) => s.failed = true,
                    None => s.ended = true,
                }
                row
            })),
            ..result
        }
    }

    /// Whether pulling some result failed.
    pub fn failed(&self) -> bool {
        self.entries.iter().any(|e| lock(&e.seen).failed)
    }

    /// Ends every result still open: the transaction has moved onto the
    /// head, and their snapshot is no longer what it reads.
    pub fn seal(&self) {
        for e in &self.entries {
            lock(&e.seen).sealed = true;
        }
    }
}

impl Entry {
    /// Whether `result`, from running this statement again, gives the
    /// client what it received the first time. Pulls only as many records
    /// as the client did.
    pub fn same_as(&self, result: QueryResult) -> bool {
        let (records, ended, first) = {
            let s = lock(&self.seen);
            (s.records, s.ended, s.digest.finish())
        };
        let mut again = Digest::new(&result.fields, &result.counters);
        let mut rows = result.rows;
        for _ in 0..records {
            match rows.next() {
                Some(Ok(record)) => again.record(&record),
                _ => return false,
            }
        }
        (!ended || rows.next().is_none()) && again.finish() == first
    }
}

/// How long a statement stays hot after a conflict, or after a transaction
/// that began with it had to queue.
const HOT_FOR: Duration = Duration::from_secs(2);
/// Statements remembered as hot; past it the expired ones are forgotten,
/// and if none has expired, all of them.
const MAX_HOT: usize = 1_024;

/// Statements (text and parameters) whose transactions conflict.
#[derive(Default)]
pub struct Hot {
    keys: std::collections::hash_map::RandomState,
    marks: Mutex<Marks>,
}

#[derive(Default)]
struct Marks {
    until: HashMap<u64, Instant>,
    /// The latest of `until`: once past it, nothing is hot.
    last: Option<Instant>,
}

impl Hot {
    fn marks(&self) -> MutexGuard<'_, Marks> {
        self.marks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A statement's key: its text and parameters.
    pub fn shape(&self, query: &str, params: &Map) -> u64 {
        let mut h = self.keys.build_hasher();
        query.hash(&mut h);
        let mut feed = crate::forward::Sink(|s: &str| h.write(s.as_bytes()));
        let _ = std::fmt::Write::write_fmt(&mut feed, format_args!("{params:?}"));
        h.finish()
    }

    /// Whether no statement is hot: then nothing needs its key. Forgets
    /// every mark once the last has expired.
    pub fn is_empty(&self) -> bool {
        let mut m = self.marks();
        if m.last.is_some_and(|t| t <= Instant::now()) {
            *m = Marks::default();
        }
        m.until.is_empty()
    }

    pub fn is_hot(&self, shape: u64) -> bool {
        let m = self.marks();
        !m.until.is_empty() && m.until.get(&shape).is_some_and(|t| *t > Instant::now())
    }

    pub fn mark(&self, shape: u64) {
        let now = Instant::now();
        let mut m = self.marks();
        if m.until.len() >= MAX_HOT && !m.until.contains_key(&shape) {
            m.until.retain(|_, t| *t > now);
            if m.until.len() >= MAX_HOT {
                m.until.clear();
            }
        }
        m.until.insert(shape, now + HOT_FOR);
        m.last = Some(now + HOT_FOR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_value::{Code, Counters, QueryType, Value};

    fn result(rows: &[i64]) -> QueryResult {
        let rows: Vec<_> = rows.iter().map(|v| Ok(vec![Value::Int(*v)])).collect();
        QueryResult {
            fields: vec!["v".into()],
            rows: Box::new(rows.into_iter()),
            query_type: QueryType::Read,
            counters: Counters::default(),
            plan: None,
        }
    }

    fn recorded(journal: &mut Journal, rows: &[i64]) -> QueryResult {
        journal.record("RETURN 1", &Map::new(), Inputs::fresh(), result(rows))
    }

    #[test]
    fn a_rerun_must_give_what_was_pulled_and_end_where_it_ended() {
        let mut j = Journal::default();
        // Pulled to the end: a row more is a phantom, a row less or another
        // value a change.
        assert_eq!(recorded(&mut j, &[]).rows.count(), 0);
        let mut two = recorded(&mut j, &[1, 2]);
        assert!(two.rows.next().is_some());
        assert!(j.entries[0].same_as(result(&[])));
        assert!(!j.entries[0].same_as(result(&[7])));
        // Only the first record was pulled: what follows it may differ.
        assert!(j.entries[1].same_as(result(&[1, 5, 6])));
        assert!(!j.entries[1].same_as(result(&[2])));
        assert!(!j.entries[1].same_as(result(&[])));
    }

    #[test]
    fn a_hot_statement_cools_down() {
        let hot = Hot::default();
        assert!(hot.is_empty());
        let k = hot.shape("MATCH (c) SET c.n = $n", &Map::new());
        assert_ne!(k, hot.shape("MATCH (c) SET c.n = $m", &Map::new()));
        hot.mark(k);
        assert!(!hot.is_empty() && hot.is_hot(k));
        hot.marks().last = Some(Instant::now());
        assert!(hot.is_empty() && !hot.is_hot(k));
    }

    #[test]
    fn a_sealed_result_yields_an_error_then_ends() {
        let mut j = Journal::default();
        let mut r = recorded(&mut j, &[1, 2, 3]);
        assert!(matches!(r.rows.next(), Some(Ok(_))));
        j.seal();
        let e = r.rows.next().unwrap().unwrap_err();
        assert_eq!(e.code, Code::Outdated);
        assert!(r.rows.next().is_none());
        assert!(!j.failed());
    }
}
