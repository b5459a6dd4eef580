//! `zmqtrace flows`: one row per TCP connection on the rpc ports (or proven
//! ZMTP elsewhere), like Zeek's conn.log, then a summary.

use std::io::Write;

use super::Sink;
use crate::output::{utc_datetime, JsonObject};
use crate::pipeline::{Progress, RunStats};
use crate::ports::PortSet;
use crate::tcp::{Connection, DirStats, Direction, StreamConsumer, StreamEvent};
use crate::time::Precision;
use crate::zmtp;

pub use super::Format;

/// How many leading bytes of each direction are kept to recognise ZMTP.
const HEAD_LEN: usize = 10;

#[derive(Default)]
struct Heads {
    bytes: [[u8; HEAD_LEN]; 2],
    len: [usize; 2],
}

/// Totals over the flows shown, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowTotals {
    pub flows: u64,
    pub gaps: u64,
    pub missed_bytes: u64,
    pub retransmitted: u64,
    pub out_of_order: u64,
    pub conflicts: u64,
    pub midstream: u64,
}

pub struct FlowsReport<W: Write> {
    sink: Sink<W>,
    format: Format,
    precision: Precision,
    ports: PortSet,
    auto_detect: bool,
    limit: Option<u64>,
    heads: crate::FastMap<u64, Heads>,
    totals: FlowTotals,
    header_written: bool,
}

impl<W: Write> FlowsReport<W> {
    pub fn new(
        sink: Sink<W>,
        format: Format,
        precision: Precision,
        ports: PortSet,
        auto_detect: bool,
        limit: Option<u64>,
    ) -> Self {
        FlowsReport {
            sink,
            format,
            precision,
            ports,
            auto_detect,
            limit,
            heads: crate::FastMap::default(),
            totals: FlowTotals::default(),
            header_written: false,
        }
    }

    pub fn totals(&self) -> &FlowTotals {
        &self.totals
    }

    pub fn sink_mut(&mut self) -> &mut Sink<W> {
        &mut self.sink
    }

    pub fn into_sink(self) -> Sink<W> {
        self.sink
    }

    fn shown(&self, conn: &Connection, heads: Option<&Heads>) -> (bool, bool) {
        let zmtp = heads.is_some_and(|h| {
            (0..2).any(|d| {
                zmtp::starts_with_signature(h.bytes[d].get(..h.len[d]).unwrap_or_default())
            })
        });
        let on_port =
            self.ports.contains(conn.server.port()) || self.ports.contains(conn.client.port());
        (on_port || (self.auto_detect && zmtp), zmtp)
    }

    fn write_row(&mut self, conn: &Connection, zmtp: bool) {
        let line = match self.format {
            Format::Jsonl => flow_json(conn, zmtp, self.precision),
            Format::Table => {
                if !self.header_written {
                    self.header_written = true;
                    self.sink.line(&table_header());
                }
                flow_table_row(conn, self.precision)
            }
        };
        self.sink.line(&line);
    }

    /// The closing summary line (JSON) or block (table).
    pub fn write_summary(&mut self, stats: &RunStats) {
        let line = match self.format {
            Format::Jsonl => summary_json(stats, &self.totals, self.precision),
            Format::Table => summary_text(stats, &self.totals),
        };
        self.sink.line(&line);
    }
}

impl<W: Write> StreamConsumer for FlowsReport<W> {
    fn event(&mut self, conn: &Connection, event: StreamEvent<'_>) {
        if let StreamEvent::Data {
            dir, offset, bytes, ..
        } = event
        {
            let Ok(offset) = usize::try_from(offset) else {
                return;
            };
            if offset >= HEAD_LEN {
                return;
            }
            let heads = self.heads.entry(conn.id).or_default();
            let d = dir.index();
            // Only a contiguous prefix counts: a gap at the start leaves it short.
            if heads.len[d] != offset {
                return;
            }
            let take = (HEAD_LEN - offset).min(bytes.len());
            if let (Some(dst), Some(src)) = (
                heads.bytes[d].get_mut(offset..offset + take),
                bytes.get(..take),
            ) {
                dst.copy_from_slice(src);
                heads.len[d] += take;
            }
        }
    }

    fn retired(&mut self, conn: &Connection) {
        let heads = self.heads.remove(&conn.id);
        let (shown, zmtp) = self.shown(conn, heads.as_ref());
        if !shown || !self.wants_more() {
            return;
        }
        let t = &mut self.totals;
        t.flows += 1;
        t.midstream += u64::from(conn.midstream);
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let s = conn.stats(dir);
            t.gaps += s.gaps;
            t.missed_bytes += s.missed_bytes;
            t.retransmitted += s.retransmitted;
            t.out_of_order += s.out_of_order;
            t.conflicts += s.conflicts;
        }
        self.write_row(conn, zmtp);
    }
}

impl<W: Write> Progress for FlowsReport<W> {
    fn wants_more(&self) -> bool {
        !self.sink.is_broken() && self.limit.is_none_or(|n| self.totals.flows < n)
    }
}

fn dir_json(s: &DirStats) -> JsonObject {
    let mut o = JsonObject::new();
    o.u64("packets", s.packets)
        .u64("bytes", s.bytes)
        .u64("missed_bytes", s.missed_bytes)
        .u64("gaps", s.gaps)
        .u64("retransmitted", s.retransmitted)
        .u64("out_of_order", s.out_of_order)
        .u64("conflicts", s.conflicts)
        .u64("truncated", s.truncated);
    o
}

pub fn flow_json(conn: &Connection, zmtp: bool, precision: Precision) -> String {
    let mut o = JsonObject::new();
    let duration = conn.last_ts.nanos_since(conn.first_ts) as f64 / 1e9;
    o.str("event", "flow")
        .ts("ts", conn.first_ts, precision)
        .str("conn", &conn.label())
        .str("src", &conn.client.to_string())
        .str("dst", &conn.server.to_string())
        .ts("first_ts", conn.first_ts, precision)
        .ts("last_ts", conn.last_ts, precision)
        .f64("duration", duration, 6)
        .str("state", conn.closed.map_or("open", |r| r.label()))
        .bool("midstream", conn.midstream)
        .bool("flipped", conn.flipped)
        .bool("zmtp_signature", zmtp)
        .str("history", conn.history.as_str())
        .object("c2s", dir_json(conn.stats(Direction::ClientToServer)))
        .object("s2c", dir_json(conn.stats(Direction::ServerToClient)));
    o.finish()
}

fn table_header() -> String {
    format!(
        "{:<26} {:>10} {:<7} {:>6} {:>10} {:>6} {:>10} {:>8} {:>5} {:>5} {:<12} CONN",
        "FIRST (UTC)",
        "DURATION",
        "STATE",
        "C>S PK",
        "C>S BYTES",
        "S>C PK",
        "S>C BYTES",
        "MISSED",
        "RETX",
        "OOO",
        "HISTORY"
    )
}

fn flow_table_row(conn: &Connection, precision: Precision) -> String {
    let c2s = conn.stats(Direction::ClientToServer);
    let s2c = conn.stats(Direction::ServerToClient);
    let duration = conn.last_ts.nanos_since(conn.first_ts) as f64 / 1e9;
    let mut note = String::new();
    if conn.midstream {
        note.push_str(" (midstream)");
    }
    format!(
        "{:<26} {:>9.3}s {:<7} {:>6} {:>10} {:>6} {:>10} {:>8} {:>5} {:>5} {:<12} {}{}",
        utc_datetime(conn.first_ts, precision),
        duration,
        conn.closed.map_or("open", |r| r.label()),
        c2s.packets,
        c2s.bytes,
        s2c.packets,
        s2c.bytes,
        c2s.missed_bytes + s2c.missed_bytes,
        c2s.retransmitted + s2c.retransmitted,
        c2s.out_of_order + s2c.out_of_order,
        conn.history.as_str(),
        conn.label(),
        note
    )
}

pub fn summary_json(stats: &RunStats, totals: &FlowTotals, precision: Precision) -> String {
    let p = &stats.packets;
    let mut o = JsonObject::new();
    o.str("event", "summary")
        .ts("ts", p.last_ts.unwrap_or_default(), precision)
        .u64("packets", p.packets)
        .u64("bytes", p.bytes)
        .u64("flows", totals.flows)
        .u64("messages", 0)
        .u64("calls", 0)
        .u64("timeouts", 0)
        .u64("gaps", totals.gaps)
        .u64("resyncs", 0)
        .u64("decode_errors", 0)
        .u64("missed_bytes", totals.missed_bytes)
        .u64("retransmitted", totals.retransmitted)
        .u64("out_of_order", totals.out_of_order)
        .u64("conflicts", totals.conflicts)
        .u64("midstream_flows", totals.midstream);
    super::packet_and_tcp_counters(&mut o, stats);
    o.finish()
}

fn summary_text(stats: &RunStats, totals: &FlowTotals) -> String {
    let mut text = format!(
        "\n{} flows shown of {} TCP connections; {} packets, {} bytes read",
        totals.flows, stats.tcp.connections, stats.packets.packets, stats.packets.bytes
    );
    let mut notes = super::Notes::default();
    let mut add = |n: u64, what: &str| notes.add(n, what);
    add(totals.gaps, "gaps");
    add(totals.missed_bytes, "missed bytes");
    add(totals.retransmitted, "retransmitted segments");
    add(totals.out_of_order, "out-of-order segments");
    add(totals.conflicts, "conflicting overlaps");
    add(totals.midstream, "flows picked up mid-stream");
    text.push_str(&super::anomaly_lines(stats, notes));
    text
}
