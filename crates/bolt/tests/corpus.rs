//! Replays the fuzz corpus through the message decoder and the dechunker.
//! The only requirement is that nothing panics; the saved inputs include
//! past crashes and hostile shapes (deep nesting, forged lengths).

use std::path::PathBuf;

use causeway_bolt::chunk::{write_message, Dechunker};
use causeway_bolt::{decode_message, SUPPORTED_VERSIONS};

fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/bolt_decoder"
    ))
}

#[test]
fn corpus_never_panics() {
    let mut entries: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 30,
        "corpus has only {} files",
        entries.len()
    );
    let mut decoded = 0;
    for path in &entries {
        let bytes = std::fs::read(path).unwrap();
        for v in SUPPORTED_VERSIONS {
            if decode_message(&bytes, v).is_ok() {
                decoded += 1;
            }
        }
        // The same bytes as raw chunk stream, and properly framed.
        let mut d = Dechunker::new(1 << 20);
        let mut raw = bytes.clone();
        while let Ok(Some(m)) = d.next_message(&mut raw) {
            let _ = decode_message(&m, SUPPORTED_VERSIONS[0]);
        }
        let mut framed = Vec::new();
        write_message(&mut framed, &bytes);
        let mut d = Dechunker::new(1 << 20);
        match d.next_message(&mut framed) {
            Ok(Some(m)) => assert_eq!(m, bytes),
            other => assert!(bytes.is_empty(), "{path:?}: {other:?}"),
        }
    }
    // The valid seeds must keep decoding, or the corpus has rotted.
    assert!(decoded > 100, "only {decoded} successful decodes");
}
