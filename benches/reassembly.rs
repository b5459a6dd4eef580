//! TCP reassembly throughput: a capture held in memory, run through the
//! engine into a consumer that only counts the delivered bytes.
//!
//!     cargo bench --bench reassembly
//!
//! Throughput is per byte of captured packet data (what a pcap reader would
//! hand the engine), so the numbers compare with file sizes.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use zmqtrace::capture::{FileSource, MemorySource, OwnedPacket, PacketSource};
use zmqtrace::pipeline::{Engine, Progress};
use zmqtrace::tcp::{Connection, StreamConsumer, StreamEvent, TcpConfig};

/// Counts stream bytes and gaps, nothing else.
#[derive(Default)]
struct Counter {
    data: u64,
    gaps: u64,
    connections: u64,
}

impl StreamConsumer for Counter {
    fn event(&mut self, _conn: &Connection, event: StreamEvent<'_>) {
        match event {
            StreamEvent::Data { bytes, .. } => self.data += bytes.len() as u64,
            StreamEvent::Gap { len, .. } => self.gaps += len,
            StreamEvent::Open { .. } => self.connections += 1,
            StreamEvent::Close { .. } => {}
        }
    }
}

impl Progress for Counter {}

/// Every packet of a capture, copied out of the file once.
fn load(name: &str) -> (Vec<OwnedPacket>, u64) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("captures/reference")
        .join(name);
    let mut source = FileSource::open(path.to_str().unwrap()).expect("open capture");
    let mut packets = Vec::new();
    let mut bytes = 0u64;
    while let Some(packet) = source.next_packet().expect("read capture") {
        let mut owned = OwnedPacket::new(packet.ts, packet.link, Vec::new());
        owned.copy_from(&packet);
        bytes += owned.data.len() as u64;
        packets.push(owned);
    }
    (packets, bytes)
}

/// The measured work. The source is handed back so criterion drops the
/// packets outside the timing.
fn run(packets: Vec<OwnedPacket>) -> (Counter, MemorySource) {
    let mut source = MemorySource::new(packets);
    let mut counter = Counter::default();
    Engine::new(TcpConfig::default(), None)
        .run(&mut source, &mut counter)
        .expect("run");
    (counter, source)
}

fn reassembly(c: &mut Criterion) {
    let mut group = c.benchmark_group("reassembly");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    for name in ["s15_longlived_rpc.pcap", "s12_burst10k.pcap"] {
        let (packets, bytes) = load(name);
        // One run outside the timing: the consumer must see every stream byte.
        let (check, _) = run(packets.clone());
        assert!(
            check.data > 0 && check.gaps == 0,
            "{name}: {} bytes, {} gap bytes",
            check.data,
            check.gaps
        );
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(name.trim_end_matches(".pcap"), |b| {
            b.iter_batched(
                || packets.clone(),
                |packets| black_box(run(packets)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, reassembly);
criterion_main!(benches);
