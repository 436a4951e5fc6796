//! Any text must parse and check to a statement or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(statement) = causeway_cypher::parse(text) {
            let _ = causeway_cypher::check(&statement);
        }
    }
});
