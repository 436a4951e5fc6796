//! Replays the corpora of the fuzz targets that reach into the server (HTTP
//! bodies, log records, snapshots) through the very functions the targets
//! call: every input that once crashed one stays a regression test.

use std::path::Path;

fn replay(target: &str, one: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "empty corpus at {}", dir.display());
    let mut panicked = Vec::new();
    for path in &entries {
        let bytes = std::fs::read(path).unwrap_or_default();
        // Truncations are the likeliest damage; try a few with each entry.
        for cut in [bytes.len(), bytes.len() / 2, bytes.len().saturating_sub(1)] {
            if std::panic::catch_unwind(|| one(&bytes[..cut])).is_err() {
                panicked.push(format!("{} (first {cut} bytes)", path.display()));
            }
        }
    }
    assert!(panicked.is_empty(), "{target} panicked on: {panicked:#?}");
}

#[test]
fn http_bodies_never_panic() {
    replay("http_body", causeway_server::fuzzing::http_body);
}

#[test]
fn log_records_never_panic() {
    replay("log_record", causeway_server::fuzzing::log_record);
}

#[test]
fn snapshots_never_panic() {
    replay("snapshot_decoder", causeway_server::fuzzing::snapshot);
}
