//! The ZMTP layer as a consumer of TCP streams: which connections to decode,
//! one decoder per direction, events passed up to a [`ZmtpSink`].

use std::collections::HashMap;

use super::decoder::{DecoderLimits, DirCounters, DirDecoder};
use super::event::{Version, ZmtpEvent};
use super::resync::Strictness;
use super::wire::Mechanism;
use crate::ports::PortSet;
use crate::tcp::{Connection, Direction, StreamConsumer, StreamEvent};

/// A consumer of ZMTP events (reports, the oslo layer).
pub trait ZmtpSink {
    fn event(&mut self, conn: &Connection, event: ZmtpEvent<'_>);

    /// The connection is over; `summary` says what was decoded on it.
    fn retired(&mut self, _conn: &Connection, _summary: &ConnSummary) {}
}

/// What the ZMTP layer learned about one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnSummary {
    /// Decoded as ZMTP (on an rpc port, or proven by its bytes).
    pub decoded: bool,
    /// On an rpc port but not ZMTP: what it looked like instead.
    pub not_zmtp: Option<&'static str>,
    pub version: [Option<Version>; 2],
    pub mechanism: Option<&'static str>,
    pub socket_type: [Option<String>; 2],
    pub counters: [DirCounters; 2],
}

/// Totals over all connections, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZmtpCounters {
    pub connections: u64,
    pub not_zmtp: u64,
    pub messages: u64,
    pub commands: u64,
    pub incomplete: u64,
    pub decode_errors: u64,
    pub resyncs: u64,
    pub skipped_bytes: u64,
    pub partial_frames: u64,
    pub malformed: u64,
    pub nonce_gaps: u64,
}

impl ZmtpCounters {
    fn add(&mut self, c: &DirCounters) {
        self.messages += c.messages;
        self.commands += c.commands;
        self.incomplete += c.incomplete;
        self.decode_errors += c.decode_errors;
        self.resyncs += c.resyncs;
        self.skipped_bytes += c.skipped_bytes;
        self.partial_frames += c.partial_frames;
        self.malformed += c.malformed;
        self.nonce_gaps += c.nonce_gaps;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// On an rpc port: decode; report what is not ZMTP.
    Listed,
    /// Elsewhere: decode only once the bytes prove ZMTP.
    Probe,
    /// Elsewhere, and the opening was a ZMTP signature.
    Detected,
    Bypass,
}

struct ConnDecoder {
    mode: Mode,
    dirs: [DirDecoder; 2],
    not_zmtp: Option<&'static str>,
    /// Probe: bytes held, in arrival order, until a direction shows the
    /// ZMTP signature (a 1.0 peer may speak before libzmq's signature).
    held: Vec<(Direction, crate::time::Timestamp, u64, Vec<u8>)>,
    held_bytes: usize,
}

/// Bytes held while probing a connection on an unlisted port.
const PROBE_HOLD: usize = 16 << 10;

/// What the held opening bytes of an unlisted connection say.
enum Probe {
    Wait,
    Zmtp,
    NotZmtp,
}

fn probe(held: &[(Direction, crate::time::Timestamp, u64, Vec<u8>)]) -> Probe {
    let mut any_wait = false;
    for dir in [Direction::ClientToServer, Direction::ServerToClient] {
        let head: Vec<u8> = held
            .iter()
            .filter(|(d, ..)| *d == dir)
            .flat_map(|(.., b)| b.iter().copied())
            .take(10)
            .collect();
        match head.first() {
            None => any_wait = true,
            Some(0xff) if head.len() < 10 => any_wait = true,
            Some(0xff) if super::starts_with_signature(&head) => return Probe::Zmtp,
            Some(0xff) => return Probe::NotZmtp,
            // Not a signature; the other direction may still show one.
            Some(_) => {}
        }
    }
    if any_wait {
        Probe::Wait
    } else {
        Probe::NotZmtp
    }
}

pub struct ZmtpDecoder<S> {
    ports: PortSet,
    auto_detect: bool,
    limits: DecoderLimits,
    conns: HashMap<u64, ConnDecoder>,
    sink: S,
    counters: ZmtpCounters,
}

impl<S: ZmtpSink> ZmtpDecoder<S> {
    pub fn new(ports: PortSet, auto_detect: bool, limits: DecoderLimits, sink: S) -> Self {
        ZmtpDecoder {
            ports,
            auto_detect,
            limits,
            conns: HashMap::new(),
            sink,
            counters: ZmtpCounters::default(),
        }
    }

    pub fn sink(&self) -> &S {
        &self.sink
    }

    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    pub fn into_sink(self) -> S {
        self.sink
    }

    pub fn counters(&self) -> &ZmtpCounters {
        &self.counters
    }

    fn open(&mut self, conn: &Connection) {
        let listed =
            self.ports.contains(conn.server.port()) || self.ports.contains(conn.client.port());
        let mode = match (listed, self.auto_detect) {
            (true, _) => Mode::Listed,
            (false, true) => Mode::Probe,
            (false, false) => Mode::Bypass,
        };
        let strictness = if listed {
            Strictness::Normal
        } else {
            Strictness::Strict
        };
        self.conns.insert(
            conn.id,
            ConnDecoder {
                mode,
                dirs: [
                    DirDecoder::new(Direction::ClientToServer, conn.midstream, strictness),
                    DirDecoder::new(Direction::ServerToClient, conn.midstream, strictness),
                ],
                not_zmtp: None,
                held: Vec::new(),
                held_bytes: 0,
            },
        );
    }
}

impl<S: ZmtpSink> StreamConsumer for ZmtpDecoder<S> {
    fn event(&mut self, conn: &Connection, event: StreamEvent<'_>) {
        if let StreamEvent::Open { .. } = event {
            self.open(conn);
            return;
        }
        let Some(state) = self.conns.get_mut(&conn.id) else {
            return;
        };
        if state.mode == Mode::Bypass {
            return;
        }
        let sink = &mut self.sink;
        let limits = &self.limits;
        let mode = state.mode;
        let not_zmtp = &mut state.not_zmtp;
        let mut emit = |e: ZmtpEvent<'_>| {
            if let ZmtpEvent::NotZmtp { what, .. } = e {
                *not_zmtp = Some(what);
            }
            // An unlisted flow speaks only once it has proven to be ZMTP.
            if mode == Mode::Listed || !matches!(e, ZmtpEvent::NotZmtp { .. }) {
                sink.event(conn, e);
            }
        };
        match event {
            StreamEvent::Data {
                dir,
                ts,
                bytes,
                offset,
            } => {
                if mode == Mode::Probe && !conn.midstream {
                    state.held_bytes += bytes.len();
                    state.held.push((dir, ts, offset, bytes.to_vec()));
                    match probe(&state.held) {
                        Probe::Wait if state.held_bytes <= PROBE_HOLD => return,
                        Probe::Wait | Probe::NotZmtp => {
                            state.mode = Mode::Bypass;
                            state.held = Vec::new();
                            return;
                        }
                        Probe::Zmtp => {
                            state.mode = Mode::Detected;
                            for (dir, ts, offset, bytes) in std::mem::take(&mut state.held) {
                                let [c2s, s2c] = &mut state.dirs;
                                let (own, peer) = match dir {
                                    Direction::ClientToServer => (c2s, &*s2c),
                                    Direction::ServerToClient => (s2c, &*c2s),
                                };
                                own.data(peer.early(), ts, offset, &bytes, limits, &mut emit);
                            }
                            return;
                        }
                    }
                }
                let [c2s, s2c] = &mut state.dirs;
                let (own, peer) = match dir {
                    Direction::ClientToServer => (c2s, &*s2c),
                    Direction::ServerToClient => (s2c, &*c2s),
                };
                own.data(peer.early(), ts, offset, bytes, limits, &mut emit);
            }
            StreamEvent::Gap {
                dir,
                len,
                ts,
                offset,
            } => {
                if !state.held.is_empty() {
                    // A hole in the opening of an unproven flow: not worth guessing.
                    state.mode = Mode::Bypass;
                    state.held = Vec::new();
                    return;
                }
                let [c2s, s2c] = &mut state.dirs;
                let (own, peer) = match dir {
                    Direction::ClientToServer => (c2s, &*s2c),
                    Direction::ServerToClient => (s2c, &*c2s),
                };
                own.gap(peer.early(), ts, offset, len, &mut emit);
            }
            StreamEvent::Close { ts, .. } => {
                for d in &mut state.dirs {
                    d.close(ts, &mut emit);
                }
            }
            StreamEvent::Open { .. } => {}
        }
    }

    fn retired(&mut self, conn: &Connection) {
        let Some(state) = self.conns.remove(&conn.id) else {
            return;
        };
        let proven = state.dirs.iter().any(|d| d.proven());
        let decoded = match state.mode {
            Mode::Listed => state.not_zmtp.is_none() || proven,
            Mode::Probe | Mode::Detected => proven,
            Mode::Bypass => false,
        };
        if state.mode == Mode::Listed && state.not_zmtp.is_some() && !proven {
            self.counters.not_zmtp += 1;
        }
        let mut summary = ConnSummary {
            decoded,
            not_zmtp: state.not_zmtp,
            ..ConnSummary::default()
        };
        if decoded {
            self.counters.connections += 1;
            for (i, d) in state.dirs.iter().enumerate() {
                self.counters.add(&d.counters);
                summary.counters[i] = d.counters.clone();
                summary.version[i] = Some(d.version());
                summary.socket_type[i] = d.socket_type().map(str::to_string);
            }
            let mechanism = state.dirs[0].mechanism();
            summary.mechanism = Some(if state.dirs.iter().all(|d| d.version() < Version::V3_0) {
                Mechanism::Null.name()
            } else {
                mechanism.name()
            });
        }
        self.sink.retired(conn, &summary);
    }
}
