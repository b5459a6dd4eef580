//! Arbitrary bytes after a pickle header (protocol 2..=5) through the pickle
//! reader: never a panic, and what it returns stays within the JSON
//! budget whatever the memo shares.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zmqtrace::oslo::pickle;

fn count(v: &serde_json::Value) -> usize {
    1 + match v {
        serde_json::Value::Array(a) => a.iter().map(count).sum(),
        serde_json::Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&proto, rest)) = data.split_first() else {
        return;
    };
    let mut input = vec![0x80, 2 + proto % 4];
    input.extend_from_slice(rest);
    if let Ok(v) = pickle::to_json(&input) {
        // Each budgeted value may add a class-name string and one `…`
        // where its walk stopped.
        assert!(count(&v) <= 3 * 65_536 + 1);
    }
});
