//! Replays the fuzzing corpus through `parse` and `check`: whatever the input,
//! the front end must answer with a statement or an error, never a panic.

use std::fs;
use std::panic;
use std::path::Path;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fuzz/corpus/cypher_parser"
);

#[test]
fn corpus_never_panics() {
    let dir = Path::new(CORPUS);
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {CORPUS}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "empty corpus at {CORPUS}");
    let mut panicked = Vec::new();
    for path in &entries {
        let bytes = fs::read(path).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let outcome = panic::catch_unwind(|| {
            if let Ok(stmt) = causeway_cypher::parse(&text) {
                let _ = causeway_cypher::check(&stmt);
            }
        });
        if outcome.is_err() {
            panicked.push(path.display().to_string());
        }
    }
    assert!(panicked.is_empty(), "front end panicked on: {panicked:#?}");
}

/// Every prefix of every small corpus entry: truncated input is the most
/// common way to reach unusual parser states.
#[test]
fn truncated_corpus_inputs_never_panic() {
    let dir = Path::new(CORPUS);
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let bytes = fs::read(entry.path()).unwrap_or_default();
        if bytes.len() > 400 {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        for (i, _) in text.char_indices() {
            let prefix = &text[..i];
            let outcome = panic::catch_unwind(|| {
                if let Ok(stmt) = causeway_cypher::parse(prefix) {
                    let _ = causeway_cypher::check(&stmt);
                }
            });
            assert!(outcome.is_ok(), "panic on prefix {prefix:?}");
        }
    }
}
