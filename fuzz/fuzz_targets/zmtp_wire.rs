//! The ZMTP wire parsers on arbitrary bytes: headers never claim more than
//! they parsed, command names and properties stay inside the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zmqtrace::zmtp::wire::{self, Framing, HeaderParse};

fuzz_target!(|data: &[u8]| {
    for framing in [Framing::V1, Framing::V2, Framing::V3] {
        if let HeaderParse::Header(h) = wire::frame_header(framing, data) {
            assert!(h.header_len <= data.len() && h.header_len <= 10);
        }
    }
    let c = wire::command(data);
    assert!(c.name.len() + c.data.len() <= data.len());
    let (props, rest) = wire::properties(data);
    let used: usize = props.iter().map(|(k, v)| 1 + k.len() + 4 + v.len()).sum();
    assert_eq!(used + rest, data.len());
    let _ = wire::greeting64(data);
    let _ = wire::short_string(data);
});
