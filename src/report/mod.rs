//! Reports: consumers of the pipeline that print what the user asked for.

pub mod flows;
pub mod stats;
pub mod trace;

use std::io::{self, Write};

use crate::output::JsonObject;
use crate::pipeline::{EngineStatus, Progress, RunStats};
use crate::time::Precision;
use crate::zmtp::{ConnSummary, ZmtpCounters, ZmtpDecoder, ZmtpEvent, ZmtpSink};

impl<S: ZmtpSink + Progress> Progress for ZmtpDecoder<S> {
    fn wants_more(&self) -> bool {
        self.sink().wants_more()
    }
    fn status(&mut self, status: &EngineStatus) {
        self.sink_mut().status(status);
    }
}

impl<S: crate::oslo::OsloSink + Progress> Progress for crate::oslo::OsloDecoder<S> {
    fn wants_more(&self) -> bool {
        self.sink().wants_more()
    }
    fn status(&mut self, status: &EngineStatus) {
        self.sink_mut().status(status);
    }
}

impl Counts {
    /// Take the totals of the layers above TCP for the summary.
    pub fn set_layers(&mut self, layers: &crate::decode::LayerCounters) {
        let oslo = &layers.oslo;
        self.calls = oslo.calls;
        self.timeouts = oslo.timeouts;
        self.failures = oslo.failures;
        self.forwards = oslo.forwards;
        self.rpc_messages = oslo.rpc_messages;
        self.unmatched_replies = oslo.unmatched_replies;
        self.calls_evicted = oslo.pending_evicted;
        self.truncated_bodies = oslo.truncated_bodies;
        self.undecodable_bodies = oslo.undecodable_bodies;
        self.names = oslo.names.clone();
        self.redis = layers.redis.clone();
    }
}

/// How a report prints: a table for people, or JSON Lines for scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Jsonl,
}

/// A report on decoded traffic: fed by the oslo layer, closed with the
/// run's totals.
pub trait DecodeReport: crate::oslo::OsloSink + Progress {
    /// Print what is printed at the end (summary, tables) and flush.
    fn close(&mut self, stats: &RunStats, layers: &crate::decode::LayerCounters) -> io::Result<()>;
}

/// Summary notes: "N things", only for counts above zero.
#[derive(Default)]
pub struct Notes(Vec<String>);

impl Notes {
    pub fn add(&mut self, n: u64, what: &str) {
        if n > 0 {
            self.0.push(format!("{n} {what}"));
        }
    }
}

/// Counts of what a ZMTP report showed, for its summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub connections: u64,
    pub messages: u64,
    pub message_bytes: u64,
    pub commands: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub resyncs: u64,
    pub skipped_bytes: u64,
    pub malformed: u64,
    pub incomplete: u64,
    pub not_zmtp: u64,
    /// From the oslo layer.
    pub calls: u64,
    pub timeouts: u64,
    pub failures: u64,
    pub forwards: u64,
    pub rpc_messages: u64,
    pub unmatched_replies: u64,
    /// Waiting calls forgotten at the cap of the oslo layer's call table.
    pub calls_evicted: u64,
    pub truncated_bodies: u64,
    pub undecodable_bodies: u64,
    /// The redis name service's connections, and what they taught.
    pub redis: crate::redis::RedisCounters,
    pub names: crate::oslo::names::NameCounters,
}

impl Counts {
    pub fn count(&mut self, event: &ZmtpEvent<'_>) {
        match event {
            ZmtpEvent::Message(m) => {
                self.messages += 1;
                self.message_bytes += m.bytes();
                self.incomplete += u64::from(m.missing() > 0);
            }
            ZmtpEvent::Command(_) => self.commands += 1,
            ZmtpEvent::Gap { bytes, .. } => {
                self.gaps += 1;
                self.gap_bytes += bytes;
            }
            ZmtpEvent::Resync { skipped, .. } => {
                self.resyncs += 1;
                self.skipped_bytes += skipped;
            }
            ZmtpEvent::Malformed { .. } => self.malformed += 1,
            ZmtpEvent::NotZmtp { .. } => self.not_zmtp += 1,
            ZmtpEvent::Greeting { .. } => {}
        }
    }

    pub fn connection(&mut self, summary: &ConnSummary) {
        self.connections += u64::from(summary.decoded);
    }

    pub fn summary_json(
        &self,
        stats: &RunStats,
        zmtp: &ZmtpCounters,
        precision: Precision,
    ) -> String {
        let mut o = JsonObject::new();
        o.str("event", "summary")
            .ts("ts", stats.packets.last_ts.unwrap_or_default(), precision)
            .u64("packets", stats.packets.packets)
            .u64("bytes", stats.packets.bytes)
            .u64("flows", self.connections)
            .u64("messages", self.messages)
            .u64("calls", self.calls)
            .u64("timeouts", self.timeouts)
            .u64("gaps", self.gaps)
            .u64("resyncs", self.resyncs)
            .u64("decode_errors", zmtp.decode_errors + zmtp.malformed)
            .u64("commands", self.commands)
            .u64("message_bytes", self.message_bytes)
            .u64("missed_bytes", self.gap_bytes)
            .u64("skipped_bytes", zmtp.skipped_bytes)
            .u64("incomplete_messages", self.incomplete)
            .u64("partial_frames", zmtp.partial_frames)
            .u64("malformed", zmtp.malformed)
            .u64("nonce_gaps", zmtp.nonce_gaps)
            .u64("not_zmtp_flows", zmtp.not_zmtp)
            .u64("rpc_messages", self.rpc_messages)
            .u64("failures", self.failures)
            .u64("forwards", self.forwards)
            .u64("unmatched_replies", self.unmatched_replies)
            .u64("calls_evicted", self.calls_evicted)
            .u64("truncated_bodies", self.truncated_bodies)
            .u64("undecodable_bodies", self.undecodable_bodies)
            .u64("redis_connections", self.redis.connections)
            .u64("redis_commands", self.redis.commands)
            .u64("redis_replies", self.redis.replies)
            .u64("redis_unanswered", self.redis.unanswered)
            .u64("redis_unmatched_replies", self.redis.unmatched_replies)
            .u64("redis_abandoned", self.redis.abandoned)
            .u64("redis_commands_cut", self.redis.commands_cut)
            .u64("redis_pending_evicted", self.redis.pending_evicted)
            .u64("redis_midstream", self.redis.midstream)
            .u64("name_records", self.names.records)
            .u64("names_learned", self.names.named)
            .u64("name_members_not_addresses", self.names.not_addresses)
            .u64("names_dropped", self.names.dropped)
            .u64("name_keys_forgotten", self.names.keys_forgotten);
        packet_and_tcp_counters(&mut o, stats);
        o.finish()
    }

    pub fn summary_text(&self, stats: &RunStats, zmtp: &ZmtpCounters) -> String {
        let mut text = format!(
            "\n{} messages and {} commands on {} ZeroMQ connections; {} packets, {} bytes read",
            self.messages,
            self.commands,
            self.connections,
            stats.packets.packets,
            stats.packets.bytes
        );
        let mut notes = Notes::default();
        let mut add = |n: u64, what: &str| notes.add(n, what);
        add(self.rpc_messages, "oslo RPC messages");
        add(self.calls, "calls answered");
        add(self.timeouts, "calls unanswered (timeouts)");
        add(self.failures, "calls that failed remotely");
        add(
            self.forwards,
            "messages seen again one hop further (counted once)",
        );
        add(
            self.unmatched_replies,
            "replies whose request is not in the capture",
        );
        add(
            self.calls_evicted,
            "waiting calls forgotten (too many at once)",
        );
        add(
            self.truncated_bodies,
            "oslo bodies not kept whole (too long, cut or with a gap)",
        );
        add(self.undecodable_bodies, "oslo bodies that did not decode");
        add(self.gaps, "gaps");
        add(self.gap_bytes, "bytes missing from the capture");
        add(self.incomplete, "incomplete messages");
        add(self.resyncs, "resyncs");
        add(zmtp.skipped_bytes, "bytes skipped while resynchronising");
        add(
            zmtp.partial_frames,
            "frames of messages whose start was lost",
        );
        add(zmtp.decode_errors, "invalid frame headers");
        add(zmtp.malformed, "malformed units from libzmq");
        add(zmtp.nonce_gaps, "CURVE nonce gaps");
        add(zmtp.not_zmtp, "connections on rpc ports that are not ZMTP");
        add(
            self.redis.connections,
            "redis connections (the zmq driver's name service)",
        );
        add(
            self.names.named,
            "server endpoints named by redis registrations",
        );
        add(
            self.names.not_addresses,
            "redis ROUTER members that are not host:port",
        );
        add(self.names.dropped, "endpoints not named (name book full)");
        add(
            self.names.keys_forgotten,
            "redis keys of an endpoint forgotten for newer ones",
        );
        add(
            self.redis.abandoned,
            "redis connections not followed to the end (not RESP, a gap, a value too large, or over the 64 MiB all of them may hold)",
        );
        add(
            self.redis.unmatched_replies,
            "redis replies whose command is not in the capture",
        );
        add(self.redis.commands_cut, "redis commands not kept whole");
        add(
            self.redis.midstream,
            "redis connections picked up midway (replies not paired)",
        );
        add(
            self.redis.pending_evicted,
            "redis commands forgotten (too many waiting)",
        );
        text.push_str(&anomaly_lines(stats, notes));
        text
    }
}

/// The packet and TCP counters every summary carries.
pub fn packet_and_tcp_counters(o: &mut JsonObject, stats: &RunStats) {
    let p = &stats.packets;
    let t = &stats.tcp;
    o.u64("tcp_connections", t.connections)
        .u64("filtered_out", p.filtered_out)
        .u64("non_tcp", p.non_tcp)
        .u64("ip_fragments", p.ip_fragments)
        .u64("malformed_packets", p.malformed)
        .u64("unsupported_link_packets", p.unsupported_link)
        .u64("truncated_packets", p.truncated)
        .u64("midstream_connections", t.midstream)
        .u64("port_reuses", t.port_reuses)
        .u64("flows_evicted", t.evicted)
        .u64("flows_expired", t.expired)
        .u64("held_overflows", t.held_overflows)
        .u64("memcap_flushes", t.memcap_flushes)
        .u64("held_peak_bytes", t.held_peak as u64)
        .u64("late_segments", t.late_segments);
    if let Some(live) = &stats.live {
        let ports: Vec<String> = live.auto_ports.iter().map(u16::to_string).collect();
        o.u64("kernel_dropped", live.kernel_dropped)
            .u64("queue_dropped", live.queue_dropped)
            .raw("auto_ports", &format!("[{}]", ports.join(",")))
            .u64("auto_ports_refused", live.auto_ports_refused);
    }
    if let Some(written) = &stats.written {
        o.u64("written_packets", written.packets)
            .u64("written_other_link", written.other_link);
    }
}

/// The packet and TCP anomalies, after a report's own notes, as text.
pub fn anomaly_lines(stats: &RunStats, mut notes: Notes) -> String {
    let p = &stats.packets;
    let t = &stats.tcp;
    let mut add = |n: u64, what: &str| notes.add(n, what);
    add(p.filtered_out, "packets filtered out by -f");
    add(p.ip_fragments, "IP fragments (not reassembled)");
    add(p.malformed, "malformed packets");
    add(p.unsupported_link, "packets of unsupported link types");
    add(p.truncated, "packets cut by the snapshot length");
    add(t.port_reuses, "port reuses");
    add(t.evicted, "flows evicted (table full)");
    add(t.expired, "flows expired (idle)");
    add(
        t.held_overflows,
        "holes given up (per-direction buffer full)",
    );
    add(t.memcap_flushes, "flushes (reassembly memory full)");
    if let Some(live) = &stats.live {
        add(
            live.auto_ports_refused,
            "ZMTP connections on new ports not followed (kernel filter full; add their ports with -p)",
        );
    }
    let mut text = if notes.0.is_empty() {
        String::new()
    } else {
        format!("\n  {}", notes.0.join(", "))
    };
    text.push_str(&live_lines(stats));
    text
}

/// A live capture's drops (shown even when zero: a live capture must say
/// that it lost nothing), the ports it found, and what `-w` wrote.
fn live_lines(stats: &RunStats) -> String {
    let mut text = String::new();
    if let Some(live) = &stats.live {
        text.push_str(&format!(
            "\n  live capture: {} packets dropped by the kernel, {} by zmqtrace's queue",
            live.kernel_dropped, live.queue_dropped
        ));
        if !live.auto_ports.is_empty() {
            let ports: Vec<String> = live.auto_ports.iter().map(u16::to_string).collect();
            text.push_str(&format!(
                "; ZMTP found on port {} and captured there",
                ports.join(", ")
            ));
        }
    }
    if let Some(written) = &stats.written {
        text.push_str(&format!("\n  {} packets written (-w)", written.packets));
        if written.other_link > 0 {
            text.push_str(&format!(
                ", {} left out (another link type than the file's)",
                written.other_link
            ));
        }
    }
    text
}

/// Whether `text` holds a character a terminal would act on (C0 controls
/// other than newline and tab, DEL, C1 controls): names off the wire may.
fn has_terminal_controls(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Every output line passes here: a branch-free pass the compiler
    // vectorises, and the exact test only when it finds a candidate.
    let candidate = bytes.iter().fold(false, |seen, &b| {
        seen | (b < 0x20) | (b == 0x7f) | (b == 0xc2)
    });
    if !candidate {
        return false;
    }
    bytes.iter().enumerate().any(|(i, &b)| {
        (b < 0x20 && b != b'\n' && b != b'\t')
            || b == 0x7f
            || (b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

/// Control characters written as `\x1b`, `\u{9b}`, so the line shows what
/// was on the wire and the terminal does not act on it.
fn defuse_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for ch in text.chars() {
        match ch {
            '\n' | '\t' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if ('\u{80}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Where a report writes. Broken pipes end the run quietly (`| head`).
pub struct Sink<W: Write> {
    out: W,
    flush_each_line: bool,
    broken: bool,
    error: Option<io::Error>,
}

impl<W: Write> Sink<W> {
    pub fn new(out: W, flush_each_line: bool) -> Self {
        Sink {
            out,
            flush_each_line,
            broken: false,
            error: None,
        }
    }

    pub fn line(&mut self, text: &str) {
        if self.broken {
            return;
        }
        let defused;
        let text = if has_terminal_controls(text) {
            defused = defuse_controls(text);
            defused.as_str()
        } else {
            text
        };
        let result = self
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| {
                if self.flush_each_line {
                    self.out.flush()
                } else {
                    Ok(())
                }
            });
        self.note(result);
    }

    fn note(&mut self, result: io::Result<()>) {
        if let Err(e) = result {
            self.broken = true;
            if e.kind() != io::ErrorKind::BrokenPipe {
                self.error = Some(e);
            }
        }
    }

    /// The reader went away (or writing failed): stop producing output.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Flush and report a write error other than a closed pipe.
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.broken {
            let result = self.out.flush();
            self.note(result);
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The contract's display filters, `--topic GLOB`, `--method GLOB` and
/// `--host ADDR`: they change what is shown, never what is decoded (calls
/// are still paired, counts in the summary are of everything decoded).
#[derive(Clone, Debug, Default)]
pub struct DisplayFilter {
    pub topic: Option<String>,
    pub method: Option<String>,
    /// An IP address (either end of the connection) or `ip:port`.
    pub host: Option<String>,
}

impl DisplayFilter {
    pub fn is_empty(&self) -> bool {
        self.topic.is_none() && self.method.is_none() && self.host.is_none()
    }

    fn glob(pattern: &Option<String>, value: Option<&str>) -> bool {
        match pattern {
            None => true,
            Some(p) => value.is_some_and(|v| crate::glob::glob_match(p.as_bytes(), v.as_bytes())),
        }
    }

    fn host_is(&self, addr: &std::net::SocketAddr) -> bool {
        match &self.host {
            None => true,
            Some(h) => {
                let h = h.trim_start_matches('[').trim_end_matches(']');
                h == addr.to_string()
                    || h.parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip == addr.ip())
            }
        }
    }

    fn hosts(&self, addrs: &[std::net::SocketAddr]) -> bool {
        self.host.is_none() || addrs.iter().any(|a| self.host_is(a))
    }

    /// A message: its topic and method (as oslo names them) and its ends.
    pub fn shows_message(
        &self,
        src: std::net::SocketAddr,
        dst: std::net::SocketAddr,
        rpc: Option<&crate::oslo::Rpc>,
    ) -> bool {
        let method = rpc.and_then(|r| r.method.as_deref().or(r.event_type.as_deref()));
        Self::glob(&self.topic, rpc.and_then(|r| r.topic.as_deref()))
            && Self::glob(&self.method, method)
            && self.hosts(&[src, dst])
    }

    /// Greetings, commands, gaps: only when no topic or method is asked for.
    pub fn shows_connection_event(
        &self,
        src: std::net::SocketAddr,
        dst: std::net::SocketAddr,
    ) -> bool {
        self.topic.is_none() && self.method.is_none() && self.hosts(&[src, dst])
    }

    pub fn shows_rpc(&self, event: &crate::oslo::RpcEvent) -> bool {
        use crate::oslo::RpcEvent;
        match event {
            RpcEvent::Call(c) => {
                Self::glob(&self.topic, c.topic.as_deref())
                    && Self::glob(&self.method, c.method.as_deref())
                    && self.hosts(&[c.caller, c.server])
            }
            RpcEvent::Timeout(t) => {
                Self::glob(&self.topic, t.topic.as_deref())
                    && Self::glob(&self.method, t.method.as_deref())
                    && self.hosts(&[t.caller, t.server])
            }
            RpcEvent::Forward(f) => {
                let ends: Vec<std::net::SocketAddr> = [&f.from_conn, &f.to_conn]
                    .iter()
                    .flat_map(|c| c.split('>'))
                    .filter_map(|a| a.parse().ok())
                    .collect();
                Self::glob(&self.topic, f.topic.as_deref())
                    && self.method.is_none()
                    && self.hosts(&ends)
            }
        }
    }

    /// The same filter in the terminal UI's `/` language.
    pub fn as_tui_filter(&self) -> String {
        let mut words = Vec::new();
        if let Some(t) = &self.topic {
            words.push(format!("topic:{t}"));
        }
        if let Some(m) = &self.method {
            words.push(format!("method:{m}"));
        }
        if let Some(h) = &self.host {
            words.push(format!("host:{h}"));
        }
        words.join(" ")
    }
}

#[cfg(test)]
mod display_filter_tests {
    use super::*;

    #[test]
    fn terminal_controls_are_written_out_not_sent() {
        let mut sink = Sink::new(Vec::new(), false);
        sink.line("topic compute\x1b]2;owned\x07 \u{9b}31m ok\ttab");
        sink.line("plain é line");
        let out = String::from_utf8(sink.out.clone()).unwrap();
        assert_eq!(
            out,
            "topic compute\\x1b]2;owned\\x07 \\u{9b}31m ok\ttab\nplain é line\n"
        );
        assert!(!has_terminal_controls("a\nb\tc é"));
    }

    #[test]
    fn globs_hosts_and_connection_events() {
        let src: std::net::SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let dst: std::net::SocketAddr = "10.0.0.5:9501".parse().unwrap();
        let mut rpc = crate::oslo::Rpc::new(crate::oslo::Driver::ImplZmq);
        rpc.topic = Some("compute.cmp1".into());
        rpc.method = Some("run_instance".into());
        let f = |t: Option<&str>, m: Option<&str>, h: Option<&str>| DisplayFilter {
            topic: t.map(str::to_string),
            method: m.map(str::to_string),
            host: h.map(str::to_string),
        };
        assert!(f(Some("compute.*"), None, None).shows_message(src, dst, Some(&rpc)));
        assert!(!f(Some("compute"), None, None).shows_message(src, dst, Some(&rpc)));
        assert!(!f(Some("*"), None, None).shows_message(src, dst, None));
        assert!(f(None, Some("run_*"), Some("10.0.0.5")).shows_message(src, dst, Some(&rpc)));
        assert!(f(None, None, Some("10.0.0.5:9501")).shows_message(src, dst, Some(&rpc)));
        assert!(!f(None, None, Some("10.0.0.5:9502")).shows_message(src, dst, Some(&rpc)));
        assert!(f(None, None, Some("10.0.0.1")).shows_connection_event(src, dst));
        assert!(!f(Some("x"), None, None).shows_connection_event(src, dst));
        assert_eq!(
            f(Some("a*"), None, Some("10.0.0.5")).as_tui_filter(),
            "topic:a* host:10.0.0.5"
        );
    }
}
