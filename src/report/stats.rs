//! `zmqtrace stats`: per connection and per socket type, how much was said
//! (the oslo layer adds topics, methods and latency).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use hdrhistogram::Histogram;

use super::{Counts, Sink};
use crate::decode::LayerCounters;
use crate::oslo::{OsloSink, Rpc, RpcEvent};
use crate::output::{utc_datetime, JsonObject};
use crate::pipeline::{Progress, RunStats};
use crate::tcp::{push_socket_addr, socket_addr_string, Connection, Direction};
use crate::time::{Precision, Timestamp};
use crate::zmtp::{ConnSummary, Version, ZmtpEvent};
use crate::FastMap;

pub use super::Format;

/// Connection rows kept for the report; beyond it the quietest are dropped
/// and counted.
const MAX_ROWS: usize = 10_000;
/// Distinct (topic, method) pairs tracked; later ones are folded into one
/// "(other)" row, so hostile topic names cannot grow memory without bound.
const MAX_TOPICS: usize = 4_096;
/// Source hosts tracked for top talkers.
const MAX_TALKERS: usize = 4_096;
const OTHER: &str = "(other)";
/// Socket-type rows: the name is whatever the peer's READY says, so
/// beyond a handful of real ones the rest are folded into `(other)`.
const MAX_SOCKET_TYPES: usize = 64;

/// Per (topic, method).
struct TopicTally {
    messages: u64,
    bytes: u64,
    calls: u64,
    timeouts: u64,
    failures: u64,
    /// Call latency in microseconds, 1 µs to 1 h, 2 significant digits.
    latency: Option<Histogram<u64>>,
}

impl TopicTally {
    fn new() -> Self {
        TopicTally {
            messages: 0,
            bytes: 0,
            calls: 0,
            timeouts: 0,
            failures: 0,
            latency: None,
        }
    }

    fn record_latency(&mut self, ns: u64) {
        if self.latency.is_none() {
            // Fails only for invalid bounds; then there are no percentiles.
            self.latency = Histogram::new_with_bounds(1, 3_600_000_000, 2).ok();
        }
        if let Some(h) = &mut self.latency {
            let _ = h.record((ns / 1_000).clamp(1, 3_600_000_000));
        }
    }
}

#[derive(Default)]
struct Talker {
    messages: u64,
    bytes: u64,
}

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
    live: FastMap<u64, [DirTally; 2]>,
    rows: Vec<Row>,
    dropped_rows: u64,
    by_socket: BTreeMap<String, SocketTally>,
    /// Topic, then method: looked up by the message's own text, allocated
    /// only for a pair not seen before.
    topics: FastMap<String, FastMap<String, TopicTally>>,
    topic_pairs: usize,
    talkers: FastMap<IpAddr, Talker>,
    /// Hosts beyond [`MAX_TALKERS`], together (shown as `(other)`).
    other_talkers: Talker,
    first_ts: Option<Timestamp>,
    last_ts: Timestamp,
    display: super::DisplayFilter,
    /// Live connections that carried a message the display filter shows.
    shown_conns: FastMap<u64, ()>,
}

impl<W: Write> StatsReport<W> {
    pub fn new(sink: Sink<W>, format: Format, precision: Precision) -> Self {
        StatsReport {
            sink,
            format,
            precision,
            counts: Counts::default(),
            live: FastMap::default(),
            rows: Vec::new(),
            dropped_rows: 0,
            by_socket: BTreeMap::new(),
            topics: FastMap::default(),
            topic_pairs: 0,
            talkers: FastMap::default(),
            other_talkers: Talker::default(),
            first_ts: None,
            last_ts: Timestamp::ZERO,
            display: super::DisplayFilter::default(),
            shown_conns: FastMap::default(),
        }
    }

    /// Tally only what the display filter shows: topic rows, talkers and
    /// socket types of the messages (and calls, timeouts) it lets through,
    /// and the connections that carried one (their rows keep all their
    /// counts). The summary still counts everything decoded.
    pub fn with_display_filter(mut self, display: super::DisplayFilter) -> Self {
        self.display = display;
        self
    }

    pub fn sink_mut(&mut self) -> &mut Sink<W> {
        &mut self.sink
    }

    /// The tally of a topic and method (always `Some`, as for `socket`).
    fn topic(&mut self, topic: &str, method: &str) -> Option<&mut TopicTally> {
        let known = self
            .topics
            .get(topic)
            .is_some_and(|methods| methods.contains_key(method));
        if known {
            return self.topics.get_mut(topic)?.get_mut(method);
        }
        // A pair not seen before: beyond the cap, counted as (other).
        let (topic, method) = if self.topic_pairs < MAX_TOPICS {
            (topic, method)
        } else {
            (OTHER, OTHER)
        };
        if !self.topics.contains_key(topic) {
            self.topics.insert(topic.to_string(), FastMap::default());
        }
        let methods = self.topics.get_mut(topic)?;
        if !methods.contains_key(method) {
            self.topic_pairs += 1;
            methods.insert(method.to_string(), TopicTally::new());
        }
        methods.get_mut(method)
    }

    /// The tally of a socket type, allocating its name only when new
    /// (always `Some`; an `Option` only to look up by `&str` once known).
    fn socket(&mut self, name: &str) -> Option<&mut SocketTally> {
        let key = if self.by_socket.contains_key(name) || self.by_socket.len() < MAX_SOCKET_TYPES {
            name
        } else {
            OTHER
        };
        if !self.by_socket.contains_key(key) {
            self.by_socket
                .insert(key.to_string(), SocketTally::default());
        }
        self.by_socket.get_mut(key)
    }

    /// (topic, method) rows, busiest first, with rates over the capture.
    fn topic_rows(&self) -> Vec<((&String, &String), &TopicTally)> {
        let mut rows: Vec<_> = self
            .topics
            .iter()
            .flat_map(|(topic, methods)| {
                methods
                    .iter()
                    .map(move |(method, tally)| ((topic, method), tally))
            })
            .collect();
        rows.sort_by(|a, b| b.1.messages.cmp(&a.1.messages).then(a.0.cmp(&b.0)));
        rows
    }

    fn duration_secs(&self) -> f64 {
        self.first_ts
            .map_or(0.0, |first| self.last_ts.nanos_since(first) as f64 / 1e9)
    }

    /// A source host's tally; beyond the cap, the one of `(other)`.
    fn talker(&mut self, host: IpAddr) -> &mut Talker {
        if self.talkers.len() < MAX_TALKERS || self.talkers.contains_key(&host) {
            self.talkers.entry(host).or_default()
        } else {
            &mut self.other_talkers
        }
    }

    /// The ten busiest hosts, then `(other)` for hosts beyond the table's
    /// cap when there were any.
    fn talker_rows(&self) -> Vec<(String, &Talker)> {
        let mut rows: Vec<_> = self.talkers.iter().collect();
        rows.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0)));
        rows.truncate(10);
        let mut rows: Vec<(String, &Talker)> =
            rows.into_iter().map(|(h, t)| (h.to_string(), t)).collect();
        if self.other_talkers.messages > 0 {
            rows.push((OTHER.to_string(), &self.other_talkers));
        }
        rows
    }

    fn write_topics(&mut self) {
        let duration = self.duration_secs();
        let rate = |n: u64| {
            if duration > 0.0 {
                n as f64 / duration
            } else {
                0.0
            }
        };
        let pct = |h: &Option<Histogram<u64>>, q: f64| {
            h.as_ref().map(|h| h.value_at_quantile(q) as f64 / 1e3)
        };
        let mut lines = Vec::new();
        match self.format {
            Format::Jsonl => {
                for ((topic, method), t) in self.topic_rows() {
                    let mut o = JsonObject::new();
                    o.str("event", "topic_stats")
                        .str("topic", topic)
                        .str("method", method)
                        .u64("messages", t.messages)
                        .f64("rate", rate(t.messages), 3)
                        .u64("bytes", t.bytes)
                        .u64("calls", t.calls)
                        .u64("timeouts", t.timeouts)
                        .u64("failures", t.failures);
                    if let Some(h) = &t.latency {
                        let mut l = JsonObject::new();
                        l.f64("p50", pct(&t.latency, 0.5).unwrap_or(0.0), 3)
                            .f64("p90", pct(&t.latency, 0.9).unwrap_or(0.0), 3)
                            .f64("p99", pct(&t.latency, 0.99).unwrap_or(0.0), 3)
                            .f64("max", h.max() as f64 / 1e3, 3);
                        o.object("latency_ms", l);
                    }
                    lines.push(o.finish());
                }
                for (host, t) in self.talker_rows() {
                    let mut o = JsonObject::new();
                    o.str("event", "talker")
                        .str("host", &host)
                        .u64("messages", t.messages)
                        .u64("bytes", t.bytes);
                    lines.push(o.finish());
                }
            }
            Format::Table => {
                lines.push(format!(
                    "{:<32} {:<28} {:>8} {:>8} {:>10} {:>6} {:>5} {:>5} {:>9} {:>9} {:>9} {:>9}",
                    "TOPIC",
                    "METHOD",
                    "MSGS",
                    "MSG/S",
                    "BYTES",
                    "CALLS",
                    "TOUT",
                    "FAIL",
                    "P50 MS",
                    "P90 MS",
                    "P99 MS",
                    "MAX MS"
                ));
                for ((topic, method), t) in self.topic_rows() {
                    let ms =
                        |q: f64| pct(&t.latency, q).map_or("-".to_string(), |v| format!("{v:.2}"));
                    let max = t
                        .latency
                        .as_ref()
                        .map_or("-".to_string(), |h| format!("{:.2}", h.max() as f64 / 1e3));
                    lines.push(format!(
                        "{:<32} {:<28} {:>8} {:>8.2} {:>10} {:>6} {:>5} {:>5} {:>9} {:>9} {:>9} {:>9}",
                        topic,
                        method,
                        t.messages,
                        rate(t.messages),
                        t.bytes,
                        t.calls,
                        t.timeouts,
                        t.failures,
                        ms(0.5),
                        ms(0.9),
                        ms(0.99),
                        max
                    ));
                }
                lines.push(String::new());
                lines.push(format!(
                    "{:<40} {:>10} {:>12}",
                    "TOP TALKERS (by bytes sent)", "MESSAGES", "BYTES"
                ));
                for (host, t) in self.talker_rows() {
                    lines.push(format!("{:<40} {:>10} {:>12}", host, t.messages, t.bytes));
                }
                lines.push(String::new());
            }
        }
        for line in lines {
            self.sink.line(&line);
        }
    }

    /// Print everything: topics and methods, top talkers, connections
    /// (busiest first), socket types, summary.
    pub fn finish(&mut self, stats: &RunStats, layers: &LayerCounters) {
        self.counts.set_layers(layers);
        let zmtp = &layers.zmtp;
        if !self.topics.is_empty() {
            self.write_topics();
        }
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

impl<W: Write> OsloSink for StatsReport<W> {
    fn zmtp(&mut self, conn: &Connection, event: &ZmtpEvent<'_>, rpc: Option<&Rpc>) {
        self.counts.count(event);
        let tally = self.live.entry(conn.id).or_default();
        match event {
            ZmtpEvent::Message(m) => {
                let t = &mut tally[m.dir.index()];
                t.messages += 1;
                t.bytes += m.bytes();
                // Rates are over the whole capture, filtered or not.
                self.first_ts.get_or_insert(m.ts);
                self.last_ts = self.last_ts.max(m.ts);
                if !self.display.is_empty() {
                    let (src, dst) = conn.endpoints(m.dir);
                    if !self.display.shows_message(src, dst, rpc) {
                        return;
                    }
                    self.shown_conns.insert(conn.id, ());
                }
                if let Some(socket) = self.socket(m.socket_type.unwrap_or("unknown")) {
                    socket.messages += 1;
                    socket.bytes += m.bytes();
                }
                // A copy one hop further is the same message: counted once.
                if let Some(rpc) = rpc.filter(|r| !r.forwarded) {
                    let bytes = m.bytes();
                    let (topic, method) = topic_and_method(rpc);
                    if let Some(t) = self.topic(&topic, &method) {
                        t.messages += 1;
                        t.bytes += bytes;
                    }
                    let (src, _) = conn.endpoints(m.dir);
                    let talker = self.talker(src.ip());
                    talker.messages += 1;
                    talker.bytes += bytes;
                }
            }
            ZmtpEvent::Command(c) => tally[c.dir.index()].commands += 1,
            ZmtpEvent::Gap { dir, .. } => tally[dir.index()].gaps += 1,
            _ => {}
        }
    }

    fn rpc(&mut self, event: &RpcEvent) {
        if !self.display.shows_rpc(event) {
            return;
        }
        // Grouped as their messages are: direct mode's unknown topic by
        // the server's endpoint.
        match event {
            RpcEvent::Call(c) => {
                let (topic, method) = label(&c.topic, c.server, &c.method);
                if let Some(t) = self.topic(&topic, method) {
                    t.calls += 1;
                    t.failures += u64::from(c.failure.is_some());
                    t.record_latency(c.latency_ns());
                }
            }
            RpcEvent::Timeout(to) => {
                let (topic, method) = label(&to.topic, to.server, &to.method);
                if let Some(t) = self.topic(&topic, method) {
                    t.timeouts += 1;
                }
            }
            RpcEvent::Forward(_) => {}
        }
    }

    fn retired(&mut self, conn: &Connection, summary: &ConnSummary) {
        self.counts.connection(summary);
        let dirs = self.live.remove(&conn.id).unwrap_or_default();
        let carried_shown = self.shown_conns.remove(&conn.id).is_some();
        if !summary.decoded {
            return;
        }
        if !self.display.is_empty() {
            let (client, server) = conn.endpoints(Direction::ClientToServer);
            let by_content = self.display.topic.is_some() || self.display.method.is_some();
            let shown = if by_content {
                carried_shown
            } else {
                self.display.shows_connection_event(client, server)
            };
            if !shown {
                return;
            }
        }
        let version = summary.version[0]
            .max(summary.version[1])
            .unwrap_or(Version::Unknown);
        for socket in summary.socket_type.iter().flatten() {
            if let Some(tally) = self.socket(socket) {
                tally.connections += 1;
            }
        }
        let (client, server) = conn.endpoints(Direction::ClientToServer);
        self.rows.push(Row {
            label: conn.label(),
            client: socket_addr_string(client),
            server: socket_addr_string(server),
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

/// How a message is grouped: its topic (or, in direct mode where the topic
/// is not on the wire, `?@server`) and its method (or event type).
/// A message's (topic, method) row; direct mode's unknown topic named by
/// the server's endpoint.
fn topic_and_method(rpc: &Rpc) -> (Cow<'_, str>, Cow<'_, str>) {
    let topic = match (&rpc.topic, &rpc.server) {
        (Some(t), _) => Cow::Borrowed(t.as_str()),
        (None, Some(s)) => Cow::Owned(format!("?@{s}")),
        (None, None) => Cow::Borrowed("?"),
    };
    let method = match rpc.method.as_deref().or(rpc.event_type.as_deref()) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(format!("({})", rpc.kind.label())),
    };
    (topic, method)
}

/// A call's or timeout's (topic, method) row, named as its messages are.
fn label<'a>(
    topic: &'a Option<String>,
    server: SocketAddr,
    method: &'a Option<String>,
) -> (Cow<'a, str>, &'a str) {
    let topic = match topic {
        Some(t) => Cow::Borrowed(t.as_str()),
        None => {
            let mut unknown = String::from("?@");
            push_socket_addr(&mut unknown, server);
            Cow::Owned(unknown)
        }
    };
    (topic, method.as_deref().unwrap_or("-"))
}

impl<W: Write> super::DecodeReport for StatsReport<W> {
    fn close(&mut self, stats: &RunStats, layers: &LayerCounters) -> std::io::Result<()> {
        self.finish(stats, layers);
        self.sink.finish()
    }
}

impl<W: Write> Progress for StatsReport<W> {
    fn wants_more(&self) -> bool {
        !self.sink.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_types_beyond_the_cap_fold_into_other() {
        let mut report = StatsReport::new(
            Sink::new(Vec::new(), false),
            Format::Jsonl,
            Precision::Micro,
        );
        for i in 0..MAX_SOCKET_TYPES + 10 {
            if let Some(t) = report.socket(&format!("TYPE{i}")) {
                t.messages += 1;
            }
        }
        if let Some(t) = report.socket("TYPE0") {
            t.messages += 1;
        }
        assert_eq!(report.by_socket.len(), MAX_SOCKET_TYPES + 1);
        assert_eq!(report.by_socket[OTHER].messages, 10);
        assert_eq!(report.by_socket["TYPE0"].messages, 2);
    }

    #[test]
    fn talkers_beyond_the_cap_are_counted_as_other() {
        let mut report = StatsReport::new(
            Sink::new(Vec::new(), false),
            Format::Jsonl,
            Precision::Micro,
        );
        for i in 0..MAX_TALKERS as u32 + 5 {
            let t = report.talker(IpAddr::from(i.to_be_bytes()));
            t.messages += 1;
            t.bytes += 1;
        }
        // A known host keeps counting after the cap.
        report.talker(IpAddr::from([0, 0, 0, 0])).bytes += 99;
        let rows = report.talker_rows();
        assert_eq!(rows.len(), 11);
        assert_eq!(rows[0].0, "0.0.0.0");
        assert_eq!(rows[0].1.bytes, 100);
        assert_eq!(rows[10].0, OTHER);
        assert_eq!(rows[10].1.bytes, 5);
    }

    #[test]
    fn topic_pairs_beyond_the_cap_fold_into_other() {
        let mut report = StatsReport::new(
            Sink::new(Vec::new(), false),
            Format::Jsonl,
            Precision::Micro,
        );
        // Half new topics, half new methods of one topic.
        for i in 0..MAX_TOPICS + 10 {
            let (topic, method) = if i % 2 == 0 {
                (format!("t{i}"), "m".to_string())
            } else {
                ("t0".to_string(), format!("m{i}"))
            };
            if let Some(t) = report.topic(&topic, &method) {
                t.messages += 1;
            }
        }
        // Known pairs keep counting after the cap.
        if let Some(t) = report.topic("t0", "m") {
            t.messages += 1;
        }
        assert_eq!(report.topic_rows().len(), MAX_TOPICS + 1);
        assert_eq!(report.topic_pairs, MAX_TOPICS + 1);
        assert_eq!(report.topics[OTHER][OTHER].messages, 10);
        assert_eq!(report.topics["t0"]["m"].messages, 2);
    }
}
