//! What a capture shows, for the doctor: every TCP connection attempt by
//! the endpoint it went to (accepted, refused, unanswered), the socket
//! types that met there, the legacy driver's messages with their queue
//! frames, and which calls were answered. The checks in `capture.rs` read
//! these facts; nothing here judges.
//!
//! The capture goes through the same pipeline as `zmqtrace -r` (TCP
//! reassembly, ZMTP, oslo with call pairing); the collector is one more
//! `OsloSink`. Every table is bounded and what did not fit is counted.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::capture::{FileSource, PacketSource};
use crate::decode::{DecodeConfig, Decoders};
use crate::oslo::{Driver, Kind, OsloConfig, OsloSink, Rpc, RpcEvent};
use crate::pipeline::{Engine, Progress};
use crate::ports::PortSet;
use crate::tcp::{Connection, TcpConfig};
use crate::time::Timestamp;
use crate::zmtp::{ConnSummary, ZmtpEvent};

use super::DoctorError;

/// Endpoints (server address and port) remembered per capture.
pub const MAX_ENDPOINTS: usize = 4096;
/// Legacy messages remembered per capture (enough for hours of a small
/// cloud's RPC; beyond it the checks see the first ones and say so).
pub const MAX_MESSAGES: usize = 200_000;
/// Connection-attempt times kept per endpoint, for the retry cadence.
const MAX_ATTEMPT_TIMES: usize = 256;
/// Clients named per endpoint.
const MAX_CLIENTS: usize = 16;
/// Unanswered calls kept per endpoint as evidence.
const MAX_UNANSWERED: usize = 8;
/// Socket-type pairs kept per endpoint (a healthy one has one or two).
const MAX_SOCKET_PAIRS: usize = 8;
/// Name-service records (key, member) remembered per capture.
pub const MAX_REDIS_RECORDS: usize = 4096;
/// Name-service keys whose lookups are tallied.
const MAX_REDIS_LOOKUPS: usize = 4096;
/// Error replies from redis kept as evidence.
const MAX_REDIS_ERRORS: usize = 16;
/// Redis servers told apart (a healthy cloud uses one).
const MAX_REDIS_SERVERS: usize = 16;
/// Bytes kept of a name read off the wire (queue, method, socket type...):
/// real ones are far shorter, and 200,000 messages must not hold 64 KiB
/// each.
pub const MAX_NAME: usize = 256;

/// One connection, by its capture label, its client and the time of its
/// first packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    pub conn: String,
    pub client: IpAddr,
    pub ts: Timestamp,
}

/// A call that got no reply in the capture.
#[derive(Clone, Debug)]
pub struct Unanswered {
    pub at: Sighting,
    pub topic: Option<String>,
    pub method: Option<String>,
    pub waited_ns: u64,
}

/// Everything seen about one server endpoint (`ip:port`).
#[derive(Clone, Debug, Default)]
pub struct Endpoint {
    pub attempts: u64,
    /// The server answered the SYN with a RST: nothing listens.
    pub refused: u64,
    /// The SYN (and its retransmissions) got no answer at all.
    pub unanswered: u64,
    /// The handshake completed (or the capture began inside it).
    pub accepted: u64,
    pub first_refused: Option<Sighting>,
    pub first_unanswered: Option<Sighting>,
    pub first_accepted: Option<Sighting>,
    /// When each attempt began (the first [`MAX_ATTEMPT_TIMES`]).
    pub attempt_times: Vec<Timestamp>,
    pub clients: BTreeSet<IpAddr>,
    /// Spoke something that is not ZMTP, and what it looked like.
    pub not_zmtp: Option<(&'static str, Sighting)>,
    /// (client socket type, server socket type) pairs that met here.
    pub socket_pairs: BTreeMap<(String, String), Sighting>,
    /// Messages delivered to this endpoint, by driver.
    pub legacy_messages: u64,
    pub new_messages: u64,
    /// Calls delivered here, answered, and not answered (by the capture's
    /// end or the rpc timeout).
    pub calls: u64,
    pub answered: u64,
    pub unanswered_calls: u64,
    pub unanswered_samples: Vec<Unanswered>,
    /// Casts and fanouts delivered here (lost too when calls are).
    pub casts: u64,
}

/// A legacy (`impl_zmq`) message as the checks need it.
#[derive(Clone, Debug)]
pub struct WireMessage {
    pub ts: Timestamp,
    pub conn: String,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub kind: Kind,
    /// The queue frame: `compute.cmp1`, `fanout~compute.cmp1`,
    /// `zmq_replies.ctl1`.
    pub queue: String,
    /// The host part of the queue.
    pub host: Option<String>,
    pub method: Option<String>,
    pub msg_id: Option<String>,
    pub reply_topic: Option<String>,
    /// Hash of the envelope frame: the copies of one fanout share it.
    pub body_hash: u64,
}

/// A listener the name service named: registered (`SADD`, `LPUSH`) or
/// listed in a lookup's answer (`SMEMBERS`, `LRANGE`, …).
#[derive(Clone, Debug)]
pub struct RedisRecord {
    /// The first exchange that named it.
    pub at: Sighting,
    pub registered: bool,
    /// Removed later in the capture (`SREM`, `LREM`).
    pub removed: bool,
}

/// The lookups of one key.
#[derive(Clone, Debug, Default)]
pub struct RedisLookups {
    pub asked: u64,
    /// Answered with no member.
    pub empty: u64,
    pub first_empty: Option<Sighting>,
    pub clients: BTreeSet<IpAddr>,
}

/// An error reply from redis.
#[derive(Clone, Debug)]
pub struct RedisError {
    pub at: Sighting,
    /// The command and its key, as sent.
    pub command: String,
    pub error: String,
}

/// What the capture showed of the zmq driver's name service (redis).
#[derive(Clone, Debug, Default)]
pub struct RedisFacts {
    pub exchanges: u64,
    /// (key, member) of listener keys (`ROUTER…`, `ZMQ-target-…`).
    pub records: BTreeMap<(String, String), RedisRecord>,
    pub records_dropped: u64,
    pub lookups: BTreeMap<String, RedisLookups>,
    pub lookups_dropped: u64,
    pub errors: Vec<RedisError>,
    pub errors_dropped: u64,
    /// The redis servers asked, with the hosts that asked them and the
    /// first exchange.
    pub servers: BTreeMap<SocketAddr, (BTreeSet<IpAddr>, Sighting)>,
    pub servers_dropped: u64,
}

/// What one capture showed.
#[derive(Clone, Debug, Default)]
pub struct WireFacts {
    /// The capture's name as given on the command line.
    pub path: String,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    pub packets: u64,
    pub connections: u64,
    pub zmtp_connections: u64,
    pub endpoints: BTreeMap<SocketAddr, Endpoint>,
    /// Connections to endpoints beyond [`MAX_ENDPOINTS`].
    pub endpoints_dropped: u64,
    /// Socket-type pairs beyond [`MAX_SOCKET_PAIRS`] of an endpoint.
    pub socket_pairs_dropped: u64,
    /// Names from the wire cut at [`MAX_NAME`] bytes.
    pub names_cut: u64,
    pub messages: Vec<WireMessage>,
    pub messages_dropped: u64,
    /// Messages of the new driver (not kept one by one).
    pub new_messages: u64,
    /// Copies of a message one hop further (haproxy, the oslo zmq proxy):
    /// counted here only, neither sends of the host that forwarded them
    /// nor calls or casts again.
    pub forwarded: u64,
    /// Calls paired with their reply, and calls left without one (a call
    /// through a proxy is one call, though it crosses two connections).
    pub calls_answered: u64,
    pub calls_unanswered: u64,
    /// The capture ended inside a record: where, in one sentence.
    pub truncated: Option<String>,
    pub redis: RedisFacts,
}

impl WireFacts {
    /// The capture's file name, for evidence.
    pub fn name(&self) -> &str {
        Path::new(&self.path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&self.path)
    }

    pub fn legacy_messages(&self) -> u64 {
        self.messages.len() as u64 + self.messages_dropped
    }

    /// Was this time within the capture, at least `after_start` past its
    /// first packet and `before_end` before its last (so what happened
    /// then had time to show up)?
    pub fn covers(&self, ts: Timestamp, after_start: u64, before_end: u64) -> bool {
        match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => {
                ts.as_nanos() >= a.as_nanos().saturating_add(after_start)
                    && ts.as_nanos().saturating_add(before_end) <= b.as_nanos()
            }
            _ => false,
        }
    }

    fn see(&mut self, ts: Timestamp) {
        if self.first_ts.is_none_or(|f| ts < f) {
            self.first_ts = Some(ts);
        }
        if self.last_ts.is_none_or(|l| ts > l) {
            self.last_ts = Some(ts);
        }
    }

    /// The endpoint's record, made if there is room (the caller counts
    /// what found none).
    fn endpoint(&mut self, addr: SocketAddr) -> Option<&mut Endpoint> {
        if !self.endpoints.contains_key(&addr) && self.endpoints.len() >= MAX_ENDPOINTS {
            return None;
        }
        Some(self.endpoints.entry(addr).or_default())
    }

    /// A name read off the wire, cut at [`MAX_NAME`] bytes (counted).
    fn cut_name(&mut self, s: &str) -> String {
        if s.len() <= MAX_NAME {
            return s.to_string();
        }
        self.names_cut += 1;
        let mut end = MAX_NAME;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.get(..end).unwrap_or_default().to_string()
    }

    fn opt_name(&mut self, s: Option<&str>) -> Option<String> {
        s.map(|s| self.cut_name(s))
    }
}

/// The oslo layer's sink that fills [`WireFacts`].
struct Collector {
    facts: WireFacts,
}

/// The host part of a legacy queue: `compute.cmp1` → `cmp1`,
/// `fanout~compute.cmp1` → `cmp1`, `zmq_replies.ctl1` → `ctl1`.
pub fn queue_host(queue: &str) -> Option<&str> {
    queue
        .split_once('.')
        .map(|(_, h)| h)
        .filter(|h| !h.is_empty())
}

impl Collector {
    fn message(&mut self, conn: &Connection, msg: &crate::zmtp::Message<'_>, rpc: &Rpc) {
        let (src, dst) = conn.endpoints(msg.dir);
        let facts = &mut self.facts;
        facts.see(msg.ts);
        if let Some(e) = facts.endpoint(dst) {
            match rpc.driver {
                Driver::ImplZmq => e.legacy_messages += 1,
                Driver::Zmq => e.new_messages += 1,
            }
            match rpc.kind {
                _ if rpc.forwarded => {}
                Kind::Call => e.calls += 1,
                Kind::Cast | Kind::Fanout | Kind::Notify => e.casts += 1,
                Kind::Reply | Kind::Ack => {}
            }
        }
        if rpc.forwarded {
            facts.forwarded += 1;
            return;
        }
        if rpc.driver != Driver::ImplZmq {
            facts.new_messages += 1;
            return;
        }
        if facts.messages.len() >= MAX_MESSAGES {
            facts.messages_dropped += 1;
            return;
        }
        let Some(queue) = facts.opt_name(rpc.topic.as_deref()) else {
            return;
        };
        // Only the copies of a fanout are compared by body.
        let mut body_hash = 0;
        if rpc.kind == Kind::Fanout {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            if let Some(last) = msg.frames.last() {
                msg.kept(last).hash(&mut hasher);
            }
            body_hash = hasher.finish();
        }
        let method = facts.opt_name(rpc.method.as_deref());
        let msg_id = facts.opt_name(rpc.msg_id.as_deref());
        let reply_topic = facts.opt_name(rpc.reply_topic.as_deref());
        facts.messages.push(WireMessage {
            ts: msg.ts,
            conn: conn.label(),
            src,
            dst,
            kind: rpc.kind,
            host: queue_host(&queue).map(str::to_string),
            queue,
            method,
            msg_id,
            reply_topic,
            body_hash,
        });
    }
}

impl Collector {
    fn redis_record(&mut self, key: &str, member: &[u8], at: &Sighting, registered: bool) {
        let member = self.facts.cut_name(&String::from_utf8_lossy(member));
        let redis = &mut self.facts.redis;
        let id = (key.to_string(), member);
        if let Some(r) = redis.records.get_mut(&id) {
            r.registered |= registered;
            r.removed = false;
        } else if redis.records.len() < MAX_REDIS_RECORDS {
            redis.records.insert(
                id,
                RedisRecord {
                    at: at.clone(),
                    registered,
                    removed: false,
                },
            );
        } else {
            redis.records_dropped += 1;
        }
    }
}

impl OsloSink for Collector {
    fn redis(&mut self, x: &crate::redis::Exchange<'_>) {
        use crate::redis::resp::Value;
        self.facts.redis.exchanges += 1;
        self.facts.see(x.command_ts);
        let at = Sighting {
            conn: crate::tcp::connection_label(x.client, x.server),
            client: x.client.ip(),
            ts: x.command_ts,
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let servers = &mut self.facts.redis.servers;
        if !servers.contains_key(&x.server) && servers.len() >= MAX_REDIS_SERVERS {
            self.facts.redis.servers_dropped += 1;
        } else {
            let (clients, _) = servers
                .entry(x.server)
                .or_insert_with(|| (BTreeSet::new(), at.clone()));
            if clients.len() < MAX_CLIENTS {
                clients.insert(x.client.ip());
            }
        }
        let key = x.arg(1).map(text);
        // Only the matchmaker's own commands: not a client library's
        // handshake probes (redis-py's CLIENT SETINFO, which older servers
        // refuse), nor another program sharing the server.
        let matchmaker = [
            "SADD",
            "SREM",
            "SMEMBERS",
            "SRANDMEMBER",
            "LPUSH",
            "RPUSH",
            "LREM",
            "LRANGE",
            "EXPIRE",
            "TTL",
            "KEYS",
            "AUTH",
        ]
        .iter()
        .any(|c| x.is(c));
        if let (Some((Value::Error(error), _)), true) = (x.reply, matchmaker) {
            let command = [x.arg(0).map(text), key.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let (command, error) = (
                self.facts.cut_name(&command),
                self.facts.cut_name(&text(error)),
            );
            let redis = &mut self.facts.redis;
            if redis.errors.len() < MAX_REDIS_ERRORS {
                redis.errors.push(RedisError {
                    at: at.clone(),
                    command,
                    error,
                });
            } else {
                redis.errors_dropped += 1;
            }
        }
        let Some(key) = key.filter(|k| crate::oslo::names::is_listener_key(k.as_bytes())) else {
            return;
        };
        let key = self.facts.cut_name(&key);
        if matches!(x.reply, Some((Value::Error(_), _))) {
            return;
        }
        if x.is("SADD") || x.is("LPUSH") || x.is("RPUSH") {
            for member in x.command.iter().skip(2) {
                self.redis_record(&key, member, &at, true);
            }
        } else if x.is("SREM") || x.is("LREM") {
            // SREM key member…; LREM key count member.
            let skip = if x.is("LREM") { 3 } else { 2 };
            for member in x.command.iter().skip(skip) {
                let member = self.facts.cut_name(&String::from_utf8_lossy(member));
                if let Some(r) = self.facts.redis.records.get_mut(&(key.clone(), member)) {
                    r.removed = true;
                }
            }
        } else if x.is("SMEMBERS") || x.is("SRANDMEMBER") || x.is("LRANGE") {
            let Some((reply, _)) = x.reply else {
                return;
            };
            let members = reply.texts();
            let redis = &mut self.facts.redis;
            if !redis.lookups.contains_key(&key) && redis.lookups.len() >= MAX_REDIS_LOOKUPS {
                redis.lookups_dropped += 1;
            } else {
                let lookups = redis.lookups.entry(key.clone()).or_default();
                lookups.asked += 1;
                if members.is_empty() && !matches!(reply, Value::Error(_)) {
                    lookups.empty += 1;
                    lookups.first_empty.get_or_insert(at.clone());
                }
                if lookups.clients.len() < MAX_CLIENTS {
                    lookups.clients.insert(x.client.ip());
                }
            }
            for member in members {
                self.redis_record(&key, member, &at, false);
            }
        }
    }

    fn zmtp(&mut self, conn: &Connection, event: &ZmtpEvent<'_>, rpc: Option<&Rpc>) {
        if let (ZmtpEvent::Message(msg), Some(rpc)) = (event, rpc) {
            self.message(conn, msg, rpc);
        }
    }

    fn rpc(&mut self, event: &RpcEvent) {
        match event {
            RpcEvent::Call(call) => {
                self.facts.calls_answered += 1;
                if let Some(e) = self.facts.endpoint(call.server) {
                    e.answered += 1;
                }
            }
            RpcEvent::Timeout(t) => {
                let facts = &mut self.facts;
                facts.calls_unanswered += 1;
                let sample = Unanswered {
                    at: Sighting {
                        conn: t.conn.clone(),
                        client: t.caller.ip(),
                        ts: t.request_ts,
                    },
                    topic: facts.opt_name(t.topic.as_deref()),
                    method: facts.opt_name(t.method.as_deref()),
                    waited_ns: t.waited_ns,
                };
                if let Some(e) = facts.endpoint(t.server) {
                    e.unanswered_calls += 1;
                    if e.unanswered_samples.len() < MAX_UNANSWERED {
                        e.unanswered_samples.push(sample);
                    }
                }
            }
            RpcEvent::Forward(_) => {}
        }
    }

    fn retired(&mut self, conn: &Connection, summary: &ConnSummary) {
        let facts = &mut self.facts;
        facts.connections += 1;
        facts.see(conn.first_ts);
        facts.see(conn.last_ts);
        let history = conn.history.as_str();
        let server_spoke = history.chars().any(|c| c.is_ascii_lowercase());
        // Decoded and heard from: a refused SYN on an rpc port is neither.
        let spoke_zmtp = summary.socket_type.iter().any(Option::is_some)
            || summary.counters.iter().any(|c| c.messages > 0);
        if summary.decoded && spoke_zmtp {
            facts.zmtp_connections += 1;
        }
        let at = Sighting {
            conn: conn.label(),
            client: conn.client.ip(),
            ts: conn.first_ts,
        };
        let pair = match &summary.socket_type {
            [Some(client), Some(server)] => Some((facts.cut_name(client), facts.cut_name(server))),
            _ => None,
        };
        let Some(e) = facts.endpoint(conn.server) else {
            facts.endpoints_dropped += 1;
            return;
        };
        e.attempts += 1;
        if e.attempt_times.len() < MAX_ATTEMPT_TIMES {
            e.attempt_times.push(conn.first_ts);
        }
        if e.clients.len() < MAX_CLIENTS {
            e.clients.insert(conn.client.ip());
        }
        if history.starts_with('S') && history.contains('r') && !history.contains('h') {
            e.refused += 1;
            e.first_refused.get_or_insert(at.clone());
        } else if history.starts_with('S') && !server_spoke && !conn.midstream {
            e.unanswered += 1;
            e.first_unanswered.get_or_insert(at.clone());
        } else if history.contains('h') || conn.midstream {
            e.accepted += 1;
            e.first_accepted.get_or_insert(at.clone());
        }
        if let Some(what) = summary.not_zmtp.filter(|_| !summary.decoded) {
            e.not_zmtp.get_or_insert((what, at.clone()));
        }
        if let Some(pair) = pair {
            if e.socket_pairs.contains_key(&pair) || e.socket_pairs.len() < MAX_SOCKET_PAIRS {
                e.socket_pairs.entry(pair).or_insert(at);
            } else {
                facts.socket_pairs_dropped += 1;
            }
        }
    }
}

impl Progress for Collector {}

/// The ports decoded as ZeroMQ without proof: the legacy default and
/// what the configs declare (elsewhere ZMTP is recognised by its bytes).
pub fn decode_ports(declared: &BTreeSet<u16>) -> PortSet {
    let mut spec: Vec<String> = vec!["9501".into()];
    spec.extend(declared.iter().map(u16::to_string));
    spec.join(",").parse().unwrap_or_default()
}

/// Read one capture through the whole pipeline.
pub fn read(path: &Path, ports: PortSet) -> Result<WireFacts, DoctorError> {
    let name = path.display().to_string();
    let mut source = FileSource::open(&name).map_err(|e| DoctorError::Capture {
        path: name.clone(),
        message: e.to_string(),
    })?;
    let config = DecodeConfig {
        ports,
        auto: true,
        redis_ports: crate::redis::DEFAULT_PORT.into(),
        oslo: OsloConfig {
            keep_args: false,
            keep_context: false,
            ..OsloConfig::default()
        },
    };
    let collector = Collector {
        facts: WireFacts {
            path: name.clone(),
            ..WireFacts::default()
        },
    };
    let mut decoders = Decoders::new(config, collector);
    let mut engine = Engine::new(TcpConfig::default(), None);
    let result = engine.run(&mut source, &mut decoders);
    let (mut collector, _) = decoders.finish();
    let mut facts = std::mem::take(&mut collector.facts);
    facts.packets = engine.stats().packets.packets;
    facts.truncated = source.end_warning();
    result.map_err(|e| DoctorError::Capture {
        path: name,
        message: e.to_string(),
    })?;
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_off_the_wire_are_cut_on_a_char_boundary_and_counted() {
        let mut facts = WireFacts::default();
        assert_eq!(facts.cut_name("compute.cmp1"), "compute.cmp1");
        assert_eq!(facts.names_cut, 0);
        // 'é' is two bytes: byte MAX_NAME falls inside one.
        let long = format!("a{}", "é".repeat(MAX_NAME));
        let cut = facts.cut_name(&long);
        assert!(cut.len() <= MAX_NAME && cut.len() >= MAX_NAME - 1);
        assert!(long.starts_with(&cut));
        assert_eq!(facts.names_cut, 1);
    }

    #[test]
    fn the_name_service_traffic_becomes_records_lookups_and_errors() {
        use crate::redis::resp::Value;
        let mut collector = Collector {
            facts: WireFacts::default(),
        };
        let mut send = |command: &[&[u8]], reply: Value<'_>| {
            let command: Vec<Vec<u8>> = command.iter().map(|a| a.to_vec()).collect();
            collector.redis(&crate::redis::Exchange {
                client: SocketAddr::from(([10, 0, 40, 2], 4000)),
                server: SocketAddr::from(([10, 0, 40, 5], 6379)),
                command_ts: Timestamp::from_secs_nanos(5, 0),
                command: &command,
                command_cut: false,
                reply: Some((&reply, Timestamp::from_secs_nanos(5, 1))),
            });
        };
        send(
            &[b"SADD", b"ROUTER/compute/node-2", b"10.0.40.3:50001"],
            Value::Integer(1),
        );
        send(
            &[b"EXPIRE", b"ROUTER/compute/node-2", b"300"],
            Value::Integer(1),
        );
        send(
            &[b"SMEMBERS", b"ROUTER/compute"],
            Value::List(vec![Value::Text(b"10.0.40.2:50000")]),
        );
        send(
            &[b"SMEMBERS", b"ROUTER/compute/node-9"],
            Value::List(Vec::new()),
        );
        send(
            &[b"SMEMBERS", b"ROUTER/compute/node-9"],
            Value::List(Vec::new()),
        );
        send(
            &[b"SREM", b"ROUTER/compute", b"10.0.40.2:50000"],
            Value::Integer(1),
        );
        // Not listener keys, and a client library's probe: none of it kept.
        send(&[b"SMEMBERS", b"PUBLISHERS"], Value::List(Vec::new()));
        send(
            &[b"CLIENT", b"SETINFO", b"LIB-NAME", b"redis-py"],
            Value::Error(b"ERR unknown subcommand 'SETINFO'"),
        );
        // Another program's error on the same server is not the driver's.
        send(
            &[
                b"EVALSHA",
                b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
                b"0",
            ],
            Value::Error(b"NOSCRIPT No matching script"),
        );
        send(
            &[b"LPUSH", b"ROUTER_compute", b"10.0.40.2:50000"],
            Value::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value"),
        );
        let redis = &collector.facts.redis;
        assert_eq!(redis.exchanges, 10);
        let record = |k: &str, m: &str| redis.records.get(&(k.to_string(), m.to_string()));
        let node2 = record("ROUTER/compute/node-2", "10.0.40.3:50001").unwrap();
        assert!(node2.registered && !node2.removed);
        let listed = record("ROUTER/compute", "10.0.40.2:50000").unwrap();
        assert!(!listed.registered && listed.removed);
        assert_eq!(redis.lookups.len(), 2, "{:?}", redis.lookups);
        let node9 = &redis.lookups["ROUTER/compute/node-9"];
        assert_eq!((node9.asked, node9.empty), (2, 2));
        assert_eq!(redis.lookups["ROUTER/compute"].empty, 0);
        assert_eq!(redis.errors.len(), 1);
        assert_eq!(redis.errors[0].command, "LPUSH ROUTER_compute");
        // A refused registration registered nothing.
        assert!(record("ROUTER_compute", "10.0.40.2:50000").is_none());
        assert!(redis.errors[0].error.starts_with("WRONGTYPE"));
    }

    #[test]
    fn endpoints_beyond_the_cap_are_refused() {
        let mut facts = WireFacts::default();
        for port in 0..MAX_ENDPOINTS as u16 {
            assert!(facts
                .endpoint(SocketAddr::from(([10, 0, 0, 1], port)))
                .is_some());
        }
        assert!(facts
            .endpoint(SocketAddr::from(([10, 0, 0, 2], 1)))
            .is_none());
        // A known endpoint is still found.
        assert!(facts
            .endpoint(SocketAddr::from(([10, 0, 0, 1], 7)))
            .is_some());
    }
}
