//! Shared test support: run the library pipeline on a capture and collect
//! each direction's stream as runs of data and gaps.

#![allow(dead_code, unused_macros)]

/// One `#[test]` per reference capture in `captures/reference`, each
/// calling `$check` with the capture's name.
macro_rules! reference_capture_tests {
    ($check:path) => {
        reference_capture_tests!(@each $check;
            s01_push_pull_sizes,
            s02_req_rep,
            s03_dealer_router,
            s04_pub_sub,
            s05_heartbeat,
            s06_heartbeat_raw_ctx,
            s07_plain,
            s08_curve,
            s09_zmtp20_peers,
            s10_zmtp10_peers,
            s11_zmtp30_peers,
            s12_burst10k,
            s13_concurrent,
            s14_ipv6,
            s15_longlived_rpc,
            s16_sll2_any,
            s17_sll1_any,
            s18_socket_type_mismatch,
        );
    };
    (@each $check:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $check(stringify!($name));
            }
        )*
    };
}

pub mod oslo;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zmqtrace::capture::{FileSource, PacketSource};
use zmqtrace::pipeline::{Engine, Progress, RunStats};
use zmqtrace::tcp::{Connection, Direction, StreamConsumer, StreamEvent, TcpConfig};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn captures() -> PathBuf {
    repo().join("captures")
}

/// One direction as a sequence of runs: contiguous data (kept whole) or gaps.
#[derive(Debug, Default, Clone)]
pub struct Stream {
    pub bytes: Vec<u8>,
    /// The next offset expected.
    pub next: u64,
    pub runs: Vec<Run>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    Data { offset: u64, len: u64 },
    Gap { offset: u64, len: u64 },
}

impl Stream {
    fn data(&mut self, offset: u64, bytes: &[u8]) {
        assert_eq!(offset, self.next, "data not contiguous");
        self.bytes.extend_from_slice(bytes);
        self.next += bytes.len() as u64;
        match self.runs.last_mut() {
            Some(Run::Data { len, .. }) => *len += bytes.len() as u64,
            _ => self.runs.push(Run::Data {
                offset,
                len: bytes.len() as u64,
            }),
        }
    }

    fn gap(&mut self, offset: u64, n: u64) {
        assert_eq!(offset, self.next, "gap not contiguous");
        self.next += n;
        // Gap bytes are stood in for by zeros so offsets index `bytes`.
        self.bytes.resize(self.bytes.len() + n as usize, 0);
        match self.runs.last_mut() {
            Some(Run::Gap { len, .. }) => *len += n,
            _ => self.runs.push(Run::Gap { offset, len: n }),
        }
    }

    /// Runs as `["data", off, len, sha256]` / `["gap", off, len]` strings.
    pub fn describe(&self) -> Vec<String> {
        self.runs
            .iter()
            .map(|r| match r {
                Run::Data { offset, len } => {
                    let body = &self.bytes[*offset as usize..(*offset + *len) as usize];
                    format!("data {offset} {len} {}", sha256_hex(body))
                }
                Run::Gap { offset, len } => format!("gap {offset} {len}"),
            })
            .collect()
    }
}

#[derive(Debug, Default)]
pub struct Collected {
    /// (conn label, "c2s"/"s2c") -> stream, for every connection incarnation
    /// in order (port reuse gives two entries under the same label).
    pub streams: BTreeMap<(String, &'static str), Vec<Stream>>,
    pub connections: Vec<ConnSummary>,
    current: BTreeMap<u64, [Stream; 2]>,
}

#[derive(Debug, Clone)]
pub struct ConnSummary {
    pub label: String,
    pub midstream: bool,
    pub flipped: bool,
    pub history: String,
    pub closed: String,
    pub stats: [zmqtrace::tcp::DirStats; 2],
}

impl StreamConsumer for Collected {
    fn event(&mut self, conn: &Connection, event: StreamEvent<'_>) {
        let streams = self.current.entry(conn.id).or_default();
        match event {
            StreamEvent::Data {
                dir, offset, bytes, ..
            } => streams[dir.index()].data(offset, bytes),
            StreamEvent::Gap {
                dir, offset, len, ..
            } => streams[dir.index()].gap(offset, len),
            StreamEvent::Open { .. } | StreamEvent::Close { .. } => {}
        }
    }

    fn retired(&mut self, conn: &Connection) {
        let [c2s, s2c] = self.current.remove(&conn.id).unwrap_or_default();
        let label = conn.label();
        self.streams
            .entry((label.clone(), "c2s"))
            .or_default()
            .push(c2s);
        self.streams
            .entry((label.clone(), "s2c"))
            .or_default()
            .push(s2c);
        self.connections.push(ConnSummary {
            label,
            midstream: conn.midstream,
            flipped: conn.flipped,
            history: conn.history.to_string(),
            closed: conn.closed.map_or("open", |r| r.label()).to_string(),
            stats: [
                conn.stats(Direction::ClientToServer).clone(),
                conn.stats(Direction::ServerToClient).clone(),
            ],
        });
    }
}

impl Progress for Collected {}

pub fn collect(path: &Path, config: TcpConfig) -> (Collected, RunStats) {
    let mut source = FileSource::open(path.to_str().unwrap()).expect("open capture");
    collect_from(&mut source, config)
}

pub fn collect_from(source: &mut dyn PacketSource, config: TcpConfig) -> (Collected, RunStats) {
    let mut engine = Engine::new(config, None);
    let mut collected = Collected::default();
    let stats = engine.run(source, &mut collected).expect("run");
    (collected, stats)
}

/// A reference capture's truth (captures/reference), plain or gzipped.
pub fn reference_truth_text(name: &str) -> String {
    use std::io::Read;
    let dir = captures().join("reference");
    let plain = dir.join(format!("{name}.truth.jsonl"));
    if plain.exists() {
        return std::fs::read_to_string(plain).expect("truth file");
    }
    let gz = std::fs::File::open(dir.join(format!("{name}.truth.jsonl.gz"))).expect("truth file");
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .expect("gunzip truth");
    text
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
