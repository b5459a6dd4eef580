//! `zmqtrace` (trace): every greeting, command and message as it crossed
//! the wire, in JSON Lines (the contract) or a table for people.

use std::fmt::Write as _;
use std::io::Write;

use super::{Counts, Sink};
use crate::decode::LayerCounters;
use crate::oslo::{OsloSink, Rpc, RpcEvent};
use crate::output::{utc_time, JsonObject};
use crate::pipeline::{Progress, RunStats};
use crate::tcp::{Connection, Direction};
use crate::time::Precision;
use crate::zmtp::{ConnSummary, Message, ZmtpEvent};

pub use super::Format;

pub struct TraceReport<W: Write> {
    sink: Sink<W>,
    format: Format,
    precision: Precision,
    limit: Option<u64>,
    show_secrets: bool,
    counts: Counts,
    header_written: bool,
    /// Per connection, the `"conn":…,"src":…,"dst":…` JSON of each
    /// direction, made once instead of for every event.
    endpoints: crate::FastMap<u64, [String; 2]>,
    /// The line being built, reused.
    line: String,
    /// --topic, --method, --host.
    display: super::DisplayFilter,
}

/// Fields that carry credentials, redacted unless `--show-secrets`.
const SECRET_FIELDS: [&str; 1] = ["password"];
const REDACTED: &str = "<redacted>";

impl<W: Write> TraceReport<W> {
    pub fn new(
        sink: Sink<W>,
        format: Format,
        precision: Precision,
        limit: Option<u64>,
        show_secrets: bool,
    ) -> Self {
        TraceReport {
            sink,
            format,
            precision,
            limit,
            show_secrets,
            counts: Counts::default(),
            header_written: false,
            endpoints: crate::FastMap::default(),
            line: String::new(),
            display: super::DisplayFilter::default(),
        }
    }

    /// Show only what the display filter lets through.
    pub fn with_display_filter(mut self, display: super::DisplayFilter) -> Self {
        self.display = display;
        self
    }

    fn shown(&self, conn: &Connection, event: &ZmtpEvent<'_>, rpc: Option<&Rpc>) -> bool {
        if self.display.is_empty() {
            return true;
        }
        let dir = match event {
            ZmtpEvent::Greeting { dir, .. }
            | ZmtpEvent::Gap { dir, .. }
            | ZmtpEvent::Resync { dir, .. }
            | ZmtpEvent::Malformed { dir, .. }
            | ZmtpEvent::NotZmtp { dir, .. } => *dir,
            ZmtpEvent::Command(c) => c.dir,
            ZmtpEvent::Message(m) => m.dir,
        };
        let (src, dst) = conn.endpoints(dir);
        match event {
            ZmtpEvent::Message(_) => self.display.shows_message(src, dst, rpc),
            _ => self.display.shows_connection_event(src, dst),
        }
    }

    pub fn sink_mut(&mut self) -> &mut Sink<W> {
        &mut self.sink
    }

    pub fn write_summary(&mut self, stats: &RunStats, layers: &LayerCounters) {
        self.counts.set_layers(layers);
        let zmtp = &layers.zmtp;
        let line = match self.format {
            Format::Jsonl => self.counts.summary_json(stats, zmtp, self.precision),
            Format::Table => self.counts.summary_text(stats, zmtp),
        };
        self.sink.line(&line);
    }

    fn field_value<'v>(&self, key: &str, value: &'v str) -> &'v str {
        if !self.show_secrets && SECRET_FIELDS.contains(&key) {
            REDACTED
        } else {
            value
        }
    }

    fn json_line(
        &mut self,
        conn: &Connection,
        event: &ZmtpEvent<'_>,
        rpc: Option<&Rpc>,
    ) -> Option<String> {
        let (name, dir, ts) = match event {
            ZmtpEvent::Greeting { dir, ts, .. } => ("greeting", *dir, *ts),
            ZmtpEvent::Command(c) => ("command", c.dir, c.ts),
            ZmtpEvent::Message(m) => ("message", m.dir, m.ts),
            ZmtpEvent::Gap { dir, ts, .. } => ("gap", *dir, *ts),
            ZmtpEvent::Resync { dir, ts, .. } => ("resync", *dir, *ts),
            ZmtpEvent::Malformed { dir, ts, .. } => ("malformed", *dir, *ts),
            ZmtpEvent::NotZmtp { dir, ts, .. } => ("not_zmtp", *dir, *ts),
        };
        let endpoints = self.endpoints.entry(conn.id).or_insert_with(|| {
            [Direction::ClientToServer, Direction::ServerToClient].map(|d| {
                let (src, dst) = conn.endpoints(d);
                let mut o = JsonObject::new();
                o.str("conn", &conn.label())
                    .str("src", &src.to_string())
                    .str("dst", &dst.to_string());
                let json = o.finish();
                json.get(1..json.len() - 1).unwrap_or_default().to_string()
            })
        });
        let mut o = JsonObject::reusing(std::mem::take(&mut self.line));
        o.str("event", name)
            .ts("ts", ts, self.precision)
            .fields(&endpoints[dir.index()]);
        match event {
            ZmtpEvent::Greeting {
                zmtp,
                mechanism,
                as_server,
                socket_type,
                ..
            } => {
                o.str("zmtp", zmtp.label())
                    .str("mechanism", mechanism.name())
                    .bool("as_server", *as_server);
                if let Some(t) = socket_type {
                    o.str("socket_type", t);
                }
            }
            ZmtpEvent::Command(c) => {
                o.u64("offset", c.offset)
                    .str("name", c.name)
                    .u64("len", c.len);
                if c.name == "IDENTITY" {
                    o.str("head", &hex(c.body));
                }
                if !c.props.is_empty() {
                    let mut props = JsonObject::new();
                    for (k, v) in &c.props {
                        props.str(k, v);
                    }
                    o.object("props", props);
                }
                for (k, v) in &c.fields {
                    match *k {
                        "ttl" | "nonce" => o.u64(k, v.parse().unwrap_or(0)),
                        _ => o.str(k, self.field_value(k, v)),
                    };
                }
                if let Some(m) = &c.malformed {
                    o.str("malformed", m);
                }
            }
            ZmtpEvent::Message(m) => {
                message_json(&mut o, m);
                if let Some(rpc) = rpc {
                    o.object("rpc", rpc_json(rpc));
                }
            }
            ZmtpEvent::Gap { bytes, .. } => {
                o.u64("bytes", *bytes);
            }
            ZmtpEvent::Resync { skipped, .. } => {
                o.u64("skipped", *skipped);
            }
            ZmtpEvent::Malformed {
                offset,
                len,
                reason,
                ..
            } => {
                o.u64("offset", *offset)
                    .u64("len", *len)
                    .str("reason", reason);
            }
            ZmtpEvent::NotZmtp { what, .. } => {
                o.str("what", what);
            }
        }
        Some(o.finish())
    }

    fn table_line(
        &mut self,
        conn: &Connection,
        event: &ZmtpEvent<'_>,
        rpc: Option<&Rpc>,
    ) -> Option<String> {
        let (dir, ts, kind, detail) = match event {
            ZmtpEvent::Greeting {
                dir,
                ts,
                zmtp,
                mechanism,
                socket_type,
                ..
            } => (
                *dir,
                *ts,
                "greeting".to_string(),
                format!(
                    "ZMTP {} {}{}",
                    zmtp.label(),
                    mechanism.name(),
                    socket_type.map(|t| format!(" {t}")).unwrap_or_default()
                ),
            ),
            ZmtpEvent::Command(c) => {
                let mut detail = format!("{} B", c.len);
                for (k, v) in &c.props {
                    detail.push_str(&format!(" {k}={v}"));
                }
                for (k, v) in &c.fields {
                    detail.push_str(&format!(" {k}={}", self.field_value(k, v)));
                }
                if c.name == "IDENTITY" {
                    detail.push_str(&format!(" {}", show_bytes(c.body, c.len)));
                }
                if let Some(m) = &c.malformed {
                    detail.push_str(&format!(" MALFORMED: {m}"));
                }
                (c.dir, c.ts, c.name.to_string(), detail)
            }
            ZmtpEvent::Message(m) => match rpc {
                Some(rpc) => (m.dir, m.ts, rpc.kind.label().to_string(), rpc_text(rpc, m)),
                None => (m.dir, m.ts, "message".to_string(), message_text(m)),
            },
            ZmtpEvent::Gap { dir, ts, bytes } => (
                *dir,
                *ts,
                "GAP".to_string(),
                format!("{bytes} bytes missing from the capture"),
            ),
            ZmtpEvent::Resync { dir, ts, skipped } => (
                *dir,
                *ts,
                "RESYNC".to_string(),
                format!("frame boundaries found again after {skipped} bytes"),
            ),
            ZmtpEvent::Malformed {
                dir,
                ts,
                len,
                reason,
                ..
            } => (
                *dir,
                *ts,
                "MALFORMED".to_string(),
                format!("{len} bytes: {reason}"),
            ),
            ZmtpEvent::NotZmtp { dir, ts, what } => (
                *dir,
                *ts,
                "NOT ZMTP".to_string(),
                format!("looks like {what}; not decoded"),
            ),
        };
        let (src, dst) = conn.endpoints(dir);
        let socket = match event {
            ZmtpEvent::Message(m) => m.socket_type.unwrap_or("").to_string(),
            _ => String::new(),
        };
        let mut line = String::new();
        if !self.header_written {
            self.header_written = true;
            line.push_str(&format!(
                "{:<15} {:<45} {:<7} {:<9} DETAIL\n",
                "TIME (UTC)", "SRC > DST", "SOCKET", "KIND"
            ));
        }
        line.push_str(&format!(
            "{:<15} {:<45} {:<7} {:<9} {}",
            utc_time(ts, self.precision),
            format!("{src} > {dst}"),
            socket,
            kind,
            detail
        ));
        Some(line)
    }
}

fn message_json(o: &mut JsonObject, m: &Message<'_>) {
    o.u64("offset", m.offset).str("zmtp", m.zmtp.label());
    if let Some(t) = m.socket_type {
        o.str("socket_type", t);
    }
    o.bool("encrypted", m.encrypted);
    o.with("frames", |out| {
        out.push('[');
        for (i, f) in m.frames.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{{\"len\":{},\"more\":{},\"head\":\"", f.len, f.more);
            push_hex(out, m.head(f));
            out.push('"');
            if f.missing > 0 {
                let _ = write!(out, ",\"missing\":{}", f.missing);
            }
            out.push('}');
        }
        out.push(']');
    });
    if let Some(n) = m.plaintext_len {
        o.u64("plaintext_len", n);
    }
    if let Some(n) = m.nonce_gap {
        o.u64("nonce_gap", n);
    }
    if m.missing() > 0 {
        o.bool("incomplete", true).u64("missing_bytes", m.missing());
    }
    if let Some((subscribe, topic)) = m.subscription {
        let mut sub = JsonObject::new();
        sub.bool("subscribe", subscribe)
            .str("topic", &String::from_utf8_lossy(topic));
        o.object("subscription", sub);
    }
}

fn message_text(m: &Message<'_>) -> String {
    let sizes: Vec<String> = m.frames.iter().map(|f| f.len.to_string()).collect();
    let mut text = if m.encrypted {
        format!("CURVE box, {} B inside", m.plaintext_len.unwrap_or(0))
    } else {
        format!(
            "{} frame{} [{}]",
            m.frames.len(),
            if m.frames.len() == 1 { "" } else { "s" },
            sizes.join(", ")
        )
    };
    if let Some((subscribe, topic)) = m.subscription {
        text.push_str(&format!(
            " {} {:?}",
            if subscribe {
                "SUBSCRIBE"
            } else {
                "UNSUBSCRIBE"
            },
            String::from_utf8_lossy(topic)
        ));
    } else if !m.encrypted {
        for f in m.frames.iter().filter(|f| f.len > 0).take(3) {
            text.push(' ');
            text.push_str(&show_bytes(m.head(f), f.len));
        }
    }
    if m.missing() > 0 {
        text.push_str(&format!(" INCOMPLETE ({} bytes missing)", m.missing()));
    }
    if let Some(n) = m.nonce_gap {
        text.push_str(&format!(" NONCE GAP ({n} boxes unseen)"));
    }
    text
}

/// Text when printable, hex otherwise; `…` when the body is longer.
fn show_bytes(head: &[u8], len: u64) -> String {
    if len == 0 {
        return "(empty)".into();
    }
    let more = if (head.len() as u64) < len { "…" } else { "" };
    if !head.is_empty() && head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}{more}", String::from_utf8_lossy(head))
    } else {
        format!("0x{}{more}", hex(head))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

impl<W: Write> OsloSink for TraceReport<W> {
    fn zmtp(&mut self, conn: &Connection, event: &ZmtpEvent<'_>, rpc: Option<&Rpc>) {
        if !self.wants_more() {
            return;
        }
        self.counts.count(event);
        if !self.shown(conn, event, rpc) {
            return;
        }
        let line = match self.format {
            Format::Jsonl => self.json_line(conn, event, rpc),
            Format::Table => self.table_line(conn, event, rpc),
        };
        if let Some(line) = line {
            self.sink.line(&line);
            self.line = line;
        }
    }

    fn rpc(&mut self, event: &RpcEvent) {
        if self.sink.is_broken() || !self.display.shows_rpc(event) {
            return;
        }
        let line = match self.format {
            Format::Jsonl => rpc_event_json(event, self.precision),
            Format::Table => rpc_event_text(event, self.precision),
        };
        self.sink.line(&line);
    }

    fn retired(&mut self, conn: &Connection, summary: &ConnSummary) {
        self.counts.connection(summary);
        self.endpoints.remove(&conn.id);
    }
}

/// The contract's `rpc` object: only the keys that apply.
pub fn rpc_json(rpc: &Rpc) -> JsonObject {
    let mut o = JsonObject::new();
    o.str("driver", rpc.driver.label())
        .str("envelope", &rpc.envelope)
        .str("kind", rpc.kind.label());
    let opt = |o: &mut JsonObject, k: &str, v: &Option<String>| {
        if let Some(v) = v {
            o.str(k, v);
        }
    };
    opt(&mut o, "topic", &rpc.topic);
    opt(&mut o, "server", &rpc.server);
    opt(&mut o, "method", &rpc.method);
    opt(&mut o, "msg_id", &rpc.msg_id);
    opt(&mut o, "reply_topic", &rpc.reply_topic);
    opt(&mut o, "namespace", &rpc.namespace);
    opt(&mut o, "version", &rpc.version);
    opt(&mut o, "event_type", &rpc.event_type);
    opt(&mut o, "priority", &rpc.priority);
    opt(&mut o, "request_id", &rpc.request_id);
    opt(&mut o, "user", &rpc.user);
    opt(&mut o, "project", &rpc.project);
    opt(&mut o, "payload_message_id", &rpc.payload_message_id);
    opt(&mut o, "routing_key", &rpc.routing_key);
    opt(&mut o, "reply_id", &rpc.reply_id);
    opt(&mut o, "oslo_version", &rpc.oslo_version);
    if let Some(args) = &rpc.args {
        let text = args.to_string();
        if text.len() <= MAX_ARGS_JSON {
            o.raw("args", &text);
        } else {
            o.str(
                "args",
                &format!("<{} bytes of arguments, not shown>", text.len()),
            );
        }
    }
    opt(&mut o, "failure", &rpc.failure);
    if let Some(s) = rpc.serialization {
        o.str("serialization", s);
    }
    if let Some(ns) = rpc.latency_ns {
        o.f64("latency_ms", ns as f64 / 1e6, 3);
    }
    if rpc.forwarded {
        o.bool("forwarded", true);
    }
    if rpc.truncated {
        o.bool("truncated", true);
    }
    if rpc.undecodable {
        o.bool("undecodable", true);
    }
    o
}

/// Arguments longer than this (as JSON) are summarised, not printed.
const MAX_ARGS_JSON: usize = 16 << 10;

fn rpc_event_json(event: &RpcEvent, precision: Precision) -> String {
    let mut o = JsonObject::new();
    let opt = |o: &mut JsonObject, k: &str, v: &Option<String>| {
        if let Some(v) = v {
            o.str(k, v);
        }
    };
    match event {
        RpcEvent::Call(c) => {
            o.str("event", "call")
                .ts("ts", c.reply_ts, precision)
                .str("conn", &c.conn)
                .str("msg_id", &c.msg_id);
            opt(&mut o, "topic", &c.topic);
            opt(&mut o, "method", &c.method);
            o.str("caller", &c.caller.to_string())
                .str("server", &c.server.to_string())
                .ts("request_ts", c.request_ts, precision)
                .ts("reply_ts", c.reply_ts, precision)
                .f64("latency_ms", c.latency_ns() as f64 / 1e6, 3)
                .str("driver", c.driver.label());
            opt(&mut o, "failure", &c.failure);
        }
        RpcEvent::Timeout(t) => {
            o.str("event", "timeout")
                .ts("ts", t.ts, precision)
                .str("conn", &t.conn)
                .str("msg_id", &t.msg_id);
            opt(&mut o, "topic", &t.topic);
            opt(&mut o, "method", &t.method);
            o.str("caller", &t.caller.to_string())
                .str("server", &t.server.to_string())
                .ts("request_ts", t.request_ts, precision)
                .f64("waited_ms", t.waited_ns as f64 / 1e6, 3)
                .bool("end_of_input", t.at_end_of_input);
        }
        RpcEvent::Forward(f) => {
            o.str("event", "forward")
                .ts("ts", f.ts, precision)
                .str("from_conn", &f.from_conn)
                .str("to_conn", &f.to_conn)
                .str("kind", f.kind.label());
            opt(&mut o, "topic", &f.topic);
            opt(&mut o, "msg_id", &f.msg_id);
            o.f64("delay_ms", f.delay_ns as f64 / 1e6, 3);
        }
    }
    o.finish()
}

fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn rpc_event_text(event: &RpcEvent, precision: Precision) -> String {
    let name = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
    match event {
        RpcEvent::Call(c) => format!(
            "{:<15} {:<45} {:<7} {:<9} {} {} {} answered in {:.1} ms{}",
            utc_time(c.reply_ts, precision),
            format!("{} > {}", c.caller, c.server),
            "",
            "CALL",
            name(&c.topic),
            name(&c.method),
            short_id(&c.msg_id),
            c.latency_ns() as f64 / 1e6,
            c.failure
                .as_ref()
                .map(|f| format!(" FAILED: {f}"))
                .unwrap_or_default()
        ),
        RpcEvent::Timeout(t) => format!(
            "{:<15} {:<45} {:<7} {:<9} {} {} {} no reply after {:.1} s{}",
            utc_time(t.ts, precision),
            format!("{} > {}", t.caller, t.server),
            "",
            "TIMEOUT",
            name(&t.topic),
            name(&t.method),
            short_id(&t.msg_id),
            t.waited_ns as f64 / 1e9,
            if t.at_end_of_input {
                " (capture ended)"
            } else {
                ""
            }
        ),
        RpcEvent::Forward(f) => format!(
            "{:<15} {:<45} {:<7} {:<9} {} {} {} -> {} after {:.3} ms",
            utc_time(f.ts, precision),
            "",
            "",
            "FORWARD",
            f.kind.label(),
            name(&f.topic),
            f.from_conn,
            f.to_conn,
            f.delay_ns as f64 / 1e6
        ),
    }
}

/// `topic method msg_id latency size` for an oslo message.
fn rpc_text(rpc: &Rpc, m: &Message<'_>) -> String {
    let topic = match (&rpc.topic, &rpc.server) {
        // A legacy directed topic names its host already.
        (Some(t), Some(server)) if !t.ends_with(&format!(".{server}")) => {
            format!("{t}@{server}")
        }
        (Some(t), _) => t.clone(),
        // Direct mode: the topic is not on the wire; name the server.
        (None, Some(server)) => format!("?@{server}"),
        (None, None) => "?".into(),
    };
    let mut text = format!(
        "{topic} {}",
        rpc.method
            .as_deref()
            .or(rpc.event_type.as_deref())
            .unwrap_or("-")
    );
    if let Some(id) = &rpc.msg_id {
        text.push_str(&format!(" {}", short_id(id)));
    }
    if let Some(ns) = rpc.latency_ns {
        text.push_str(&format!(" {:.1} ms", ns as f64 / 1e6));
    }
    text.push_str(&format!(" {} B", m.bytes()));
    if let Some(f) = &rpc.failure {
        text.push_str(&format!(" FAILED: {f}"));
    }
    if rpc.forwarded {
        text.push_str(" (hop)");
    }
    if m.missing() > 0 {
        text.push_str(&format!(" INCOMPLETE ({} bytes missing)", m.missing()));
    }
    text
}

impl<W: Write> super::DecodeReport for TraceReport<W> {
    fn close(&mut self, stats: &RunStats, layers: &LayerCounters) -> std::io::Result<()> {
        self.write_summary(stats, layers);
        self.sink.finish()
    }
}

impl<W: Write> Progress for TraceReport<W> {
    fn wants_more(&self) -> bool {
        !self.sink.is_broken() && self.limit.is_none_or(|n| self.counts.messages < n)
    }
}
