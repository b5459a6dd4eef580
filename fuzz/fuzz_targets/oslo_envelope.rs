//! Arbitrary frames as an oslo message (legacy and new-driver layouts, JSON
//! and msgpack bodies): the envelope decoder never panics, whatever the
//! nesting, UTF-8 or lengths, and its one-pass lane (stats, doctor) reads
//! the same fields as the full lane.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zmqtrace::oslo::envelope;
use zmqtrace::oslo::Redaction;

fuzz_target!(|data: &[u8]| {
    // Frames separated by 0xFE 0xFE; the first byte picks a prefix layout
    // so the interesting branches are reached quickly.
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut frames: Vec<&[u8]> = match mode % 4 {
        0 => vec![b"0", b"compute.host", b"cast"],
        1 => vec![b"", b"1.0"],
        2 => vec![b"0", b"notifications-info.h", b"impl_zmq_v2"],
        _ => vec![],
    };
    frames.extend(rest.split(|&b| b == 0xfe));
    let framed: Vec<(&[u8], bool)> = frames.iter().map(|f| (*f, mode & 4 == 0)).collect();
    let full = envelope::decode(&framed, envelope::Options::all(Redaction::On));
    let _ = envelope::decode(
        &framed,
        envelope::Options { redaction: Redaction::On, keep_args: false, keep_context: true },
    );
    let lean = envelope::decode(
        &framed,
        envelope::Options { redaction: Redaction::On, keep_args: false, keep_context: false },
    );
    // The one-pass lane skips the context and arguments and nothing else.
    let strip = |rpc: Option<zmqtrace::oslo::Rpc>| {
        rpc.map(|mut r| {
            r.request_id = None;
            r.user = None;
            r.project = None;
            r.args = None;
            r
        })
    };
    assert_eq!(strip(lean), strip(full));
});
