//! See `causeway_server::fuzzing::http_body`: any bytes give a value or an
//! error, never a panic or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| causeway_server::fuzzing::http_body(data));
