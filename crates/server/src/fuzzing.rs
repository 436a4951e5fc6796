//! One input for each fuzz target in `fuzz/` that reaches into the server:
//! the same functions the targets call are replayed over their corpora by
//! `tests/fuzz_corpus.rs`, so every input that ever crashed stays a
//! regression test. Each must return (an error is fine), never panic.

use causeway_replication::{store, wal, Data};

use crate::db::GraphState;

/// An HTTP request body, as the transactional endpoint and the Query API
/// read it.
pub fn http_body(data: &[u8]) {
    let _ = crate::http::tx::request_statements(data);
    let _ = crate::http::tx::query_body(data);
}

/// A write-ahead log segment's bytes: its records, each decoded as a log
/// entry, and each entry's payload applied as a change set; the bytes
/// themselves are also tried as one record's payload and as a change set.
pub fn log_record(data: &[u8]) {
    let (records, _) = wal::scan_records(data);
    for (_, _, payload) in records {
        entry(payload);
    }
    entry(data);
    let _ = GraphState::default().apply(data);
}

fn entry(payload: &[u8]) {
    if let Ok(Some(cmd)) = store::decode_command(payload) {
        let _ = GraphState::default().apply(&cmd.payload);
    }
}

/// A snapshot file, or snapshot data as a leader sends it.
pub fn snapshot(data: &[u8]) {
    let _ = causeway_replication::sm::decode_untrusted::<GraphState>(data);
}
