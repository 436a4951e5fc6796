//! The invariants every seed must keep, checked against the history and
//! every member's final state: no acknowledged write lost, none applied
//! twice, none reported failed yet applied; every acknowledged read a
//! prefix of the final list; no lost counter update; a read presenting a
//! write's bookmark sees it; every bookmark names its database; members
//! identical.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use crate::client::{Final, Kind, Micro, Op, Outcome};

#[derive(Clone, Debug)]
pub struct Anomaly {
    pub kind: &'static str,
    pub detail: String,
}

impl Anomaly {
    pub fn new(kind: &'static str, detail: impl Into<String>) -> Anomaly {
        Anomaly {
            kind,
            detail: detail.into(),
        }
    }
}

pub fn check(ops: &[Op], finals: Option<&Result<Vec<Final>, String>>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for op in ops {
        for b in &op.bookmarks {
            let named = b
                .strip_prefix("causeway:neo4j:")
                .is_some_and(|i| !i.is_empty() && i.bytes().all(|c| c.is_ascii_digit()));
            if !named {
                out.push(Anomaly::new(
                    "bookmark",
                    format!("bookmark {b:?} does not name database neo4j: {op:?}"),
                ));
            }
        }
        if let (Outcome::Ok, Kind::Ryw { value, seen }) = (&op.outcome, &op.kind) {
            if *seen != Some(1) {
                out.push(Anomaly::new(
                    "stale-read",
                    format!("a read with the write's bookmark saw {seen:?} of {value}: {op:?}"),
                ));
            }
        }
    }
    let finals = match finals {
        None => {
            out.push(Anomaly::new("final", "the final state was never read"));
            return out;
        }
        Some(Err(e)) => {
            out.push(Anomaly::new("final", e.clone()));
            return out;
        }
        Some(Ok(f)) => f,
    };
    let Some(first) = finals.first() else {
        out.push(Anomaly::new("final", "no member answered"));
        return out;
    };
    for (m, f) in finals.iter().enumerate().skip(1) {
        if f != first {
            out.push(Anomaly::new(
                "members-differ",
                format!("member {m} has {f:?}, member 0 has {first:?}"),
            ));
        }
    }

    // List appends.
    let mut writer: HashMap<i64, (&Op, usize)> = HashMap::new();
    for op in ops {
        if let Kind::Txn(micro) = &op.kind {
            for m in micro {
                if let Micro::Append(k, v) = m {
                    writer.insert(*v, (op, *k));
                }
            }
        }
    }
    let mut present: HashMap<i64, usize> = HashMap::new();
    for (k, list) in first.lists.iter().enumerate() {
        let mut seen = HashSet::new();
        for v in list {
            if !seen.insert(*v) {
                out.push(Anomaly::new(
                    "duplicate",
                    format!("key {k}: {v} appears twice"),
                ));
            }
            present.insert(*v, k);
            if !writer.contains_key(v) {
                out.push(Anomaly::new(
                    "phantom",
                    format!("key {k}: {v} was never appended"),
                ));
            }
        }
    }
    for (v, (op, k)) in &writer {
        match (&op.outcome, present.get(v)) {
            (Outcome::Ok, None) => out.push(Anomaly::new(
                "lost",
                format!("key {k}: acknowledged append {v} is missing: {op:?}"),
            )),
            (Outcome::Fail(why), Some(_)) => out.push(Anomaly::new(
                "failed-but-applied",
                format!("key {k}: {v} was reported failed ({why}) yet applied: {op:?}"),
            )),
            (_, Some(at)) if at != k => out.push(Anomaly::new(
                "misplaced",
                format!("{v} landed in key {at}, not {k}"),
            )),
            _ => {}
        }
    }
    for op in ops {
        let (Outcome::Ok, Kind::Txn(micro)) = (&op.outcome, &op.kind) else {
            continue;
        };
        for m in micro {
            if let Micro::Read(k, Some(got)) = m {
                let list = first.lists.get(*k).cloned().unwrap_or_default();
                if got.len() > list.len() || got[..] != list[..got.len()] {
                    out.push(Anomaly::new(
                        "read-not-prefix",
                        format!("key {k}: read {got:?} is not a prefix of {list:?}: {op:?}"),
                    ));
                }
            }
        }
    }

    // The counter.
    let mut ok_values: Vec<i64> = Vec::new();
    let (mut ok, mut unknown) = (0i64, 0i64);
    for op in ops {
        if let Kind::Incr(got) = &op.kind {
            match &op.outcome {
                Outcome::Ok => {
                    ok += 1;
                    ok_values.extend(got);
                }
                Outcome::Info(_) => unknown += 1,
                Outcome::Fail(_) => {}
            }
        }
    }
    let distinct: HashSet<_> = ok_values.iter().collect();
    if distinct.len() != ok_values.len() {
        out.push(Anomaly::new(
            "lost-update",
            format!("acknowledged increments returned repeated values: {ok_values:?}"),
        ));
    }
    if first.counter < ok || first.counter > ok + unknown {
        out.push(Anomaly::new(
            "counter",
            format!(
                "final counter {} with {ok} acknowledged and {unknown} unknown increments",
                first.counter
            ),
        ));
    }
    out
}

/// A digest of the history and the final state, to show that a seed
/// replays identically.
pub fn digest(ops: &[Op], finals: Option<&Result<Vec<Final>, String>>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ops.hash(&mut h);
    finals.hash(&mut h);
    h.finish()
}
