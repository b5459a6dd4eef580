//! Any byte string as a capture file: reading, slicing and reassembly must
//! end in packets or one error, never a panic or unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zmqtrace::capture::FileSource;
use zmqtrace::pipeline::{Engine, Progress};
use zmqtrace::tcp::{Connection, StreamConsumer, StreamEvent, TcpConfig};

struct Sink;
impl StreamConsumer for Sink {
    fn event(&mut self, _: &Connection, _: StreamEvent<'_>) {}
}
impl Progress for Sink {}

fuzz_target!(|data: &[u8]| {
    let Ok(mut source) = FileSource::from_bytes("fuzz input", data.to_vec()) else {
        return;
    };
    let mut engine = Engine::new(
        TcpConfig {
            max_flows: 64,
            max_held_per_direction: 1 << 16,
            max_held_total: 1 << 18,
            ..TcpConfig::default()
        },
        None,
    );
    let _ = engine.run(&mut source, &mut Sink);
});
