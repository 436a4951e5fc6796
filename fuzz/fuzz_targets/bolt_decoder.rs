//! Any bytes, decoded as a Bolt request under every supported version, must
//! give a request or an error, never a panic or unbounded allocation.
#![no_main]

use causeway_bolt::{decode_message, SUPPORTED_VERSIONS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for version in SUPPORTED_VERSIONS {
        let _ = decode_message(data, version);
    }
});
