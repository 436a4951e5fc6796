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

/// A small deterministic mutation fuzzer over the corpus: random splices of
/// characters and Cypher fragments. Cheap enough to run on every test run.
#[test]
fn mutated_corpus_inputs_never_panic() {
    const FRAGMENTS: &[&str] = &[
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "-",
        "->",
        "<-",
        "--",
        "*",
        "..",
        ":",
        "|",
        "&",
        "!",
        ",",
        ".",
        "$",
        "'",
        "\"",
        "`",
        "\\",
        "\\u",
        "0x",
        "1e",
        "9223372036854775808",
        "WHERE ",
        " RETURN ",
        " WITH ",
        " MATCH ",
        " UNION ",
        " CALL { ",
        " EXISTS { ",
        " CASE ",
        " END",
        " AND ",
        " NOT ",
        " IN ",
        " IS NULL",
        " count(*)",
        "é",
        "—",
        "\n",
        "/*",
        "//",
        "*/",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let dir = Path::new(CORPUS);
    let mut inputs: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| String::from_utf8_lossy(&fs::read(e.path()).unwrap_or_default()).into_owned())
        .filter(|t| t.len() < 2_000)
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty());
    for round in 0..30_000 {
        let base = &inputs[round % inputs.len()];
        let mut text: Vec<char> = base.chars().collect();
        for _ in 0..1 + next() % 4 {
            let at = if text.is_empty() {
                0
            } else {
                (next() as usize) % (text.len() + 1)
            };
            match next() % 3 {
                0 => {
                    let frag = FRAGMENTS[(next() as usize) % FRAGMENTS.len()];
                    for (k, c) in frag.chars().enumerate() {
                        text.insert(at + k, c);
                    }
                }
                1 if at < text.len() => {
                    let len = 1 + (next() as usize) % 8;
                    let end = (at + len).min(text.len());
                    text.drain(at..end);
                }
                _ => {
                    let c = char::from_u32(32 + (next() % 95) as u32).unwrap_or('x');
                    text.insert(at, c);
                }
            }
        }
        let q: String = text.into_iter().collect();
        let outcome = panic::catch_unwind(|| {
            if let Ok(stmt) = causeway_cypher::parse(&q) {
                let _ = causeway_cypher::check(&stmt);
            }
        });
        assert!(outcome.is_ok(), "panic on mutated input {q:?}");
    }
}
