//! The connection table: finds the connection of each segment, keeps the
//! handshake and teardown state, and bounds memory — live connections, bytes
//! held above holes per direction and in total — each with a policy and a
//! counter.

use std::net::SocketAddr;

use super::direction::{DirState, Emit};
use super::{CloseReason, Connection, Direction, History, StreamConsumer, StreamEvent};
use crate::net::TcpSegment;
use crate::ports::PortSet;
use crate::time::Timestamp;
use crate::FastMap;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Limits of the reassembler. Every limit has a policy (below) and a counter
/// in [`TcpCounters`].
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Connections tracked at once. When full, the least recently active
    /// eighth is closed (`evicted`).
    pub max_flows: usize,
    /// Bytes one direction may hold above a hole. Beyond it the hole is
    /// declared a gap and the held bytes delivered (`held_overflows`).
    pub max_held_per_direction: usize,
    /// Bytes all directions together may hold. Beyond it the direction that
    /// just grew gives up all its holes (`memcap_flushes`). Only the
    /// direction being fed grows, so this keeps the total under the cap
    /// plus one segment, however many connections hold bytes.
    pub max_held_total: usize,
    /// An open connection with no packet for this long (capture time) is
    /// closed (`expired`).
    pub idle_timeout_ns: u64,
    /// A closed connection stays this long to collect late ACKs and
    /// retransmissions before its counters are final.
    pub closed_linger_ns: u64,
    /// Ports that mark the server side when the handshake was not seen.
    pub server_ports: PortSet,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            max_flows: 32_768,
            max_held_per_direction: 4 << 20,
            max_held_total: 16 << 20,
            idle_timeout_ns: 900 * NANOS_PER_SEC,
            closed_linger_ns: 60 * NANOS_PER_SEC,
            server_ports: PortSet::default(),
        }
    }
}

/// What the reassembler did, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpCounters {
    pub segments: u64,
    pub connections: u64,
    pub midstream: u64,
    pub port_reuses: u64,
    pub evicted: u64,
    pub expired: u64,
    pub held_overflows: u64,
    pub memcap_flushes: u64,
    pub held_peak: usize,
    /// Segments that arrived after their connection had closed.
    pub late_segments: u64,
}

/// A connection's two endpoints in a fixed order, so both directions find it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct FlowKey(SocketAddr, SocketAddr);

impl FlowKey {
    fn new(a: SocketAddr, b: SocketAddr) -> Self {
        if a <= b {
            FlowKey(a, b)
        } else {
            FlowKey(b, a)
        }
    }
}

pub struct Reassembler {
    flows: FastMap<FlowKey, Connection>,
    /// Everything per-packet work touches besides the connection itself,
    /// apart from the table so both can be borrowed at once.
    budget: Budget,
    next_id: u64,
    next_sweep: Timestamp,
}

/// The limits, counters and held-byte total that per-packet work updates.
struct Budget {
    config: TcpConfig,
    counters: TcpCounters,
    total_held: usize,
}

/// How often (capture time) idle and lingering connections are looked for.
const SWEEP_INTERVAL_NS: u64 = 5 * NANOS_PER_SEC;

impl Reassembler {
    pub fn new(config: TcpConfig) -> Self {
        Reassembler {
            flows: FastMap::default(),
            budget: Budget {
                config,
                counters: TcpCounters::default(),
                total_held: 0,
            },
            next_id: 1,
            next_sweep: Timestamp::ZERO,
        }
    }

    pub fn counters(&self) -> &TcpCounters {
        &self.budget.counters
    }

    pub fn live_connections(&self) -> usize {
        self.flows.len()
    }

    pub fn held_bytes(&self) -> usize {
        self.budget.total_held
    }

    pub fn segment(&mut self, seg: &TcpSegment<'_>, out: &mut dyn StreamConsumer) {
        self.budget.counters.segments += 1;
        if seg.ts >= self.next_sweep {
            self.sweep(seg.ts, out);
            self.next_sweep =
                Timestamp::from_nanos(seg.ts.as_nanos().saturating_add(SWEEP_INTERVAL_NS));
        }
        let key = FlowKey::new(seg.src, seg.dst);
        // The common case: one lookup, the connection processed in place.
        match self.flows.get_mut(&key) {
            Some(conn) if !is_new_incarnation(conn, seg) => {
                self.budget.process(conn, seg, out);
                return;
            }
            Some(_) => {
                self.budget.counters.port_reuses += 1;
                if let Some(mut old) = self.flows.remove(&key) {
                    self.budget.close(&mut old, CloseReason::Reused, out);
                    out.retired(&old);
                }
            }
            None => {}
        }
        if self.flows.len() >= self.budget.config.max_flows {
            self.evict(out);
        }
        let mut conn = self.open(seg);
        out.event(&conn, StreamEvent::Open { ts: seg.ts });
        self.budget.process(&mut conn, seg, out);
        self.flows.insert(key, conn);
    }

    /// End of input: every connection still open ends here.
    pub fn finish(&mut self, out: &mut dyn StreamConsumer) {
        let mut all: Vec<Connection> = self.flows.drain().map(|(_, c)| c).collect();
        all.sort_by_key(|c| c.id);
        for mut conn in all {
            if conn.closed.is_none() {
                self.budget.close(&mut conn, CloseReason::EndOfInput, out);
            }
            out.retired(&conn);
        }
        self.budget.total_held = 0;
    }

    fn open(&mut self, seg: &TcpSegment<'_>) -> Connection {
        let id = self.next_id;
        self.next_id += 1;
        self.budget.counters.connections += 1;
        let flags = seg.flags;
        let (client, server, midstream, flipped) = if flags.syn && !flags.ack {
            (seg.src, seg.dst, false, false)
        } else if flags.syn {
            (seg.dst, seg.src, false, true)
        } else {
            let ports = &self.budget.config.server_ports;
            let dst_is_server = match (
                ports.contains(seg.src.port()),
                ports.contains(seg.dst.port()),
            ) {
                (false, true) => true,
                (true, false) => false,
                _ => seg.dst.port() <= seg.src.port(),
            };
            if dst_is_server {
                (seg.src, seg.dst, true, false)
            } else {
                (seg.dst, seg.src, true, false)
            }
        };
        if midstream {
            self.budget.counters.midstream += 1;
        }
        let mut history = History::default();
        if flipped {
            history.flip_marker();
        }
        Connection {
            id,
            client,
            server,
            midstream,
            flipped,
            first_ts: seg.ts,
            last_ts: seg.ts,
            history,
            closed: None,
            dirs: [DirState::default(), DirState::default()],
        }
    }

    /// Close connections idle past the timeout; retire closed ones whose
    /// linger is over. Deterministic order: by connection id.
    fn sweep(&mut self, now: Timestamp, out: &mut dyn StreamConsumer) {
        let idle = self.budget.config.idle_timeout_ns;
        let linger = self.budget.config.closed_linger_ns;
        let mut due: Vec<(u64, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, c)| {
                let quiet = now.nanos_since(c.last_ts);
                if c.closed.is_some() {
                    quiet >= linger
                } else {
                    quiet >= idle
                }
            })
            .map(|(k, c)| (c.id, *k))
            .collect();
        due.sort_unstable();
        for (_, key) in due {
            if let Some(mut conn) = self.flows.remove(&key) {
                if conn.closed.is_none() {
                    self.budget.counters.expired += 1;
                    self.budget.close(&mut conn, CloseReason::Idle, out);
                }
                out.retired(&conn);
            }
        }
    }

    /// The table is full: retire the least recently active eighth, closed
    /// connections first.
    fn evict(&mut self, out: &mut dyn StreamConsumer) {
        let mut candidates: Vec<(bool, Timestamp, u64, FlowKey)> = self
            .flows
            .iter()
            .map(|(k, c)| (c.closed.is_none(), c.last_ts, c.id, *k))
            .collect();
        let n = (candidates.len() / 8).max(1).min(candidates.len());
        if n == 0 {
            return;
        }
        candidates.select_nth_unstable(n - 1);
        candidates.truncate(n);
        candidates.sort_unstable_by_key(|c| c.2);
        for (_, _, _, key) in candidates {
            if let Some(mut conn) = self.flows.remove(&key) {
                if conn.closed.is_none() {
                    self.budget.counters.evicted += 1;
                    self.budget.close(&mut conn, CloseReason::Evicted, out);
                }
                out.retired(&conn);
            }
        }
    }
}

impl Budget {
    fn process(
        &mut self,
        conn: &mut Connection,
        seg: &TcpSegment<'_>,
        out: &mut dyn StreamConsumer,
    ) {
        let dir = if seg.src == conn.client && seg.dst == conn.server {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let flags = seg.flags;
        conn.last_ts = conn.last_ts.max(seg.ts);
        conn.dirs[dir.index()].stats.packets += 1;
        let has_data = !seg.payload.is_empty() || seg.missing_tail > 0;
        record_history(&mut conn.history, dir, seg, has_data);
        if conn.closed.is_some() {
            // The last ACK of a clean close is expected; data, FIN or RST
            // after the end is not.
            if has_data || flags.fin || flags.rst || flags.syn {
                self.counters.late_segments += 1;
            }
            return;
        }
        if flags.syn && flags.ack {
            // The SYN-ACK acknowledges the client's ISN + 1: the client's
            // stream starts there even if its SYN was not captured.
            let peer = &mut conn.dirs[dir.reverse().index()];
            if peer.base.is_none() {
                peer.base = Some(seg.ack);
            }
        }
        let held_limit = self.config.max_held_per_direction;
        let mut overflows = 0;
        let delta = with_dir(conn, dir, out, |state, emit| {
            let data_seq = if flags.syn {
                if state.base.is_none() {
                    state.base = Some(seg.seq.wrapping_add(1));
                }
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            if state.base.is_none() && (has_data || flags.fin) {
                state.base = Some(data_seq);
            }
            let Some(off) = state.offset_of(data_seq) else {
                return;
            };
            if has_data {
                state.accept(
                    dir,
                    off,
                    seg.ts,
                    seg.payload,
                    u64::from(seg.missing_tail),
                    emit,
                );
            }
            if flags.fin && state.fin_offset.is_none() {
                let end = off + seg.payload.len() as i64 + i64::from(seg.missing_tail);
                state.fin_offset = u64::try_from(end).ok().map(|e| e.max(state.next));
            }
            state.resolve_acked(dir, seg.ts, emit);
            while state.held > held_limit && state.skip_first_hole(dir, seg.ts, emit) {
                overflows += 1;
            }
        });
        self.counters.held_overflows += overflows;
        self.adjust_held(delta);
        if self.total_held > self.config.max_held_total {
            self.counters.memcap_flushes += 1;
            let delta = with_dir(conn, dir, out, |state, emit| {
                while state.skip_first_hole(dir, seg.ts, emit) {}
            });
            self.adjust_held(delta);
        }
        if flags.ack {
            let delta = with_dir(conn, dir.reverse(), out, |state, emit| {
                state.peer_ack(dir.reverse(), seg.ack, seg.ts, emit);
            });
            self.adjust_held(delta);
        }
        if flags.rst {
            self.close(conn, CloseReason::Reset, out);
        } else if conn.dirs.iter().all(DirState::finished) {
            self.close(conn, CloseReason::Fin, out);
        }
    }

    fn adjust_held(&mut self, delta: isize) {
        self.total_held = self.total_held.saturating_add_signed(delta);
        self.counters.held_peak = self.counters.held_peak.max(self.total_held);
    }

    /// End both streams: holes become gaps, then `Close`.
    fn close(&mut self, conn: &mut Connection, reason: CloseReason, out: &mut dyn StreamConsumer) {
        if conn.closed.is_some() {
            return;
        }
        let ts = conn.last_ts;
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let delta = with_dir(conn, dir, out, |state, emit| state.finish(dir, ts, emit));
            self.adjust_held(delta);
        }
        conn.closed = Some(reason);
        out.event(conn, StreamEvent::Close { ts, reason });
    }
}

/// Run `f` on one direction's state with events going to `out`, the
/// connection itself readable meanwhile. Returns the change in held bytes.
fn with_dir(
    conn: &mut Connection,
    dir: Direction,
    out: &mut dyn StreamConsumer,
    f: impl FnOnce(&mut DirState, &mut Emit<'_>),
) -> isize {
    let mut state = std::mem::take(&mut conn.dirs[dir.index()]);
    let held_before = state.held;
    let gaps_before = state.stats.gaps;
    let retransmitted_before = state.stats.retransmitted;
    {
        let view: &Connection = conn;
        let mut emit = |event: StreamEvent<'_>| out.event(view, event);
        f(&mut state, &mut emit);
    }
    if state.stats.gaps > gaps_before {
        conn.history.record(dir, 'g');
    }
    if state.stats.retransmitted > retransmitted_before {
        conn.history.record(dir, 't');
    }
    let delta = state.held as isize - held_before as isize;
    conn.dirs[dir.index()] = state;
    delta
}

fn record_history(history: &mut History, dir: Direction, seg: &TcpSegment<'_>, has_data: bool) {
    let f = seg.flags;
    if f.syn {
        history.record(dir, if f.ack { 'h' } else { 's' });
    }
    if has_data {
        history.record(dir, 'd');
    }
    if f.fin {
        history.record(dir, 'f');
    }
    if f.rst {
        history.record(dir, 'r');
    }
    if f.ack && !f.syn && !f.fin && !f.rst && !has_data {
        history.record(dir, 'a');
    }
}

/// A SYN that cannot belong to the connection on record: the 4-tuple was
/// reused (or the old connection's end was never captured).
fn is_new_incarnation(conn: &Connection, seg: &TcpSegment<'_>) -> bool {
    if !seg.flags.syn || seg.flags.ack {
        return false;
    }
    if conn.closed.is_some() {
        return true;
    }
    let dir = if seg.src == conn.client {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    };
    conn.dirs[dir.index()].base != Some(seg.seq.wrapping_add(1))
}
