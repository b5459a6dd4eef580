//! `zmqtrace stats`: per connection and per socket type, how much was said
//! (the oslo layer adds topics, methods and latency).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use super::{Counts, Sink};
use crate::output::{utc_datetime, JsonObject};
use crate::pipeline::{Progress, RunStats};
use crate::tcp::{Connection, Direction};
use crate::time::{Precision, Timestamp};
use crate::zmtp::{ConnSummary, Version, ZmtpCounters, ZmtpEvent, ZmtpSink};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Jsonl,
}

/// Connection rows kept for the report; beyond it the quietest are dropped
/// and counted.
const MAX_ROWS: usize = 10_000;

#[derive(Clone, Debug, Default)]
struct DirTally {
    messages: u64,
    bytes: u64,
    commands: u64,
    gaps: u64,
}

#[derive(Clone, Debug)]
struct Row {
    label: String,
    client: String,
    server: String,
    first_ts: Timestamp,
    zmtp: String,
    mechanism: String,
    socket_types: [Option<String>; 2],
    dirs: [DirTally; 2],
    resyncs: u64,
}

#[derive(Clone, Debug, Default)]
struct SocketTally {
    messages: u64,
    bytes: u64,
    connections: u64,
}

pub struct StatsReport<W: Write> {
    sink: Sink<W>,
    format: Format,
    precision: Precision,
    counts: Counts,
    live: HashMap<u64, [DirTally; 2]>,
    rows: Vec<Row>,
    dropped_rows: u64,
    by_socket: BTreeMap<String, SocketTally>,
}

impl<W: Write> StatsReport<W> {
    pub fn new(sink: Sink<W>, format: Format, precision: Precision) -> Self {
        StatsReport {
            sink,
            format,
            precision,
            counts: Counts::default(),
            live: HashMap::new(),
            rows: Vec::new(),
            dropped_rows: 0,
            by_socket: BTreeMap::new(),
        }
    }

    pub fn sink_mut(&mut self) -> &mut Sink<W> {
        &mut self.sink
    }

    /// Print everything: connections (busiest first), socket types, summary.
    pub fn finish(&mut self, stats: &RunStats, zmtp: &ZmtpCounters) {
        self.rows.sort_by(|a, b| {
            let total = |r: &Row| r.dirs[0].messages + r.dirs[1].messages;
            total(b).cmp(&total(a)).then(a.first_ts.cmp(&b.first_ts))
        });
        let rows = std::mem::take(&mut self.rows);
        let sockets = std::mem::take(&mut self.by_socket);
        match self.format {
            Format::Jsonl => {
                for row in &rows {
                    let line = self.row_json(row);
                    self.sink.line(&line);
                }
                for (socket_type, t) in &sockets {
                    let mut o = JsonObject::new();
                    o.str("event", "socket_type")
                        .str("socket_type", socket_type)
                        .u64("messages", t.messages)
                        .u64("bytes", t.bytes)
                        .u64("connections", t.connections);
                    self.sink.line(&o.finish());
                }
                let mut summary = self.counts.summary_json(stats, zmtp, self.precision);
                if self.dropped_rows > 0 {
                    summary.pop();
                    summary.push_str(&format!(
                        ",\"connections_not_listed\":{}}}",
                        self.dropped_rows
                    ));
                }
                self.sink.line(&summary);
            }
            Format::Table => {
                self.sink.line(&format!(
                    "{:<26} {:<4} {:<6} {:<15} {:>8} {:>10} {:>8} {:>10} {:>5} {:>6} CONN",
                    "FIRST (UTC)",
                    "ZMTP",
                    "MECH",
                    "SOCKETS",
                    "C>S MSGS",
                    "C>S BYTES",
                    "S>C MSGS",
                    "S>C BYTES",
                    "GAPS",
                    "RESYNC"
                ));
                for row in &rows {
                    let sockets = format!(
                        "{}>{}",
                        row.socket_types[0].as_deref().unwrap_or("?"),
                        row.socket_types[1].as_deref().unwrap_or("?")
                    );
                    self.sink.line(&format!(
                        "{:<26} {:<4} {:<6} {:<15} {:>8} {:>10} {:>8} {:>10} {:>5} {:>6} {}",
                        utc_datetime(row.first_ts, self.precision),
                        row.zmtp,
                        row.mechanism,
                        sockets,
                        row.dirs[0].messages,
                        row.dirs[0].bytes,
                        row.dirs[1].messages,
                        row.dirs[1].bytes,
                        row.dirs[0].gaps + row.dirs[1].gaps,
                        row.resyncs,
                        row.label
                    ));
                }
                if self.dropped_rows > 0 {
                    self.sink.line(&format!(
                        "({} quieter connections not listed)",
                        self.dropped_rows
                    ));
                }
                self.sink.line("");
                self.sink.line(&format!(
                    "{:<10} {:>10} {:>12} {:>12}",
                    "SOCKET", "MESSAGES", "BYTES", "CONNECTIONS"
                ));
                for (socket_type, t) in &sockets {
                    self.sink.line(&format!(
                        "{:<10} {:>10} {:>12} {:>12}",
                        socket_type, t.messages, t.bytes, t.connections
                    ));
                }
                let text = self.counts.summary_text(stats, zmtp);
                self.sink.line(&text);
            }
        }
    }

    fn row_json(&self, row: &Row) -> String {
        let dir = |t: &DirTally, socket: &Option<String>| {
            let mut o = JsonObject::new();
            if let Some(s) = socket {
                o.str("socket_type", s);
            }
            o.u64("messages", t.messages)
                .u64("bytes", t.bytes)
                .u64("commands", t.commands)
                .u64("gaps", t.gaps);
            o
        };
        let mut o = JsonObject::new();
        o.str("event", "connection")
            .ts("ts", row.first_ts, self.precision)
            .str("conn", &row.label)
            .str("src", &row.client)
            .str("dst", &row.server)
            .str("zmtp", &row.zmtp)
            .str("mechanism", &row.mechanism)
            .object("c2s", dir(&row.dirs[0], &row.socket_types[0]))
            .object("s2c", dir(&row.dirs[1], &row.socket_types[1]))
            .u64("resyncs", row.resyncs);
        o.finish()
    }
}

impl<W: Write> ZmtpSink for StatsReport<W> {
    fn event(&mut self, conn: &Connection, event: ZmtpEvent<'_>) {
        self.counts.count(&event);
        let tally = self.live.entry(conn.id).or_default();
        match &event {
            ZmtpEvent::Message(m) => {
                let t = &mut tally[m.dir.index()];
                t.messages += 1;
                t.bytes += m.bytes();
                let socket = self
                    .by_socket
                    .entry(m.socket_type.unwrap_or("unknown").to_string())
                    .or_default();
                socket.messages += 1;
                socket.bytes += m.bytes();
            }
            ZmtpEvent::Command(c) => tally[c.dir.index()].commands += 1,
            ZmtpEvent::Gap { dir, .. } => tally[dir.index()].gaps += 1,
            _ => {}
        }
    }

    fn retired(&mut self, conn: &Connection, summary: &ConnSummary) {
        self.counts.connection(summary);
        let dirs = self.live.remove(&conn.id).unwrap_or_default();
        if !summary.decoded {
            return;
        }
        let version = summary.version[0]
            .max(summary.version[1])
            .unwrap_or(Version::Unknown);
        for socket in summary.socket_type.iter().flatten() {
            self.by_socket
                .entry(socket.clone())
                .or_default()
                .connections += 1;
        }
        let (client, server) = conn.endpoints(Direction::ClientToServer);
        self.rows.push(Row {
            label: conn.label(),
            client: client.to_string(),
            server: server.to_string(),
            first_ts: conn.first_ts,
            zmtp: version.label().to_string(),
            mechanism: summary.mechanism.unwrap_or("?").to_string(),
            socket_types: summary.socket_type.clone(),
            dirs,
            resyncs: summary.counters.iter().map(|c| c.resyncs).sum(),
        });
        if self.rows.len() > MAX_ROWS {
            // Keep the busiest; drop the quietest half of the overflow.
            self.rows
                .sort_by_key(|r| std::cmp::Reverse(r.dirs[0].messages + r.dirs[1].messages));
            let keep = MAX_ROWS * 3 / 4;
            self.dropped_rows += (self.rows.len() - keep) as u64;
            self.rows.truncate(keep);
        }
    }
}

impl<W: Write> Progress for StatsReport<W> {
    fn wants_more(&self) -> bool {
        !self.sink.is_broken()
    }
}
