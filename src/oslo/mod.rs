//! oslo.messaging on top of ZMTP: which RPC each message is, each call
//! paired with its reply (latency from packet timestamps), calls that time
//! out, and the same message seen again one hop further (haproxy, the oslo
//! zmq proxy) reported as a forward and counted once.

pub mod envelope;
mod fast;
pub mod names;
pub mod pickle;
pub mod redact;

use std::collections::VecDeque;

pub(crate) use crate::FastMap as Map;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use serde_json::Value;

pub use redact::Redaction;

use crate::tcp::{connection_label, Connection};
use crate::time::Timestamp;
use crate::zmtp::{ConnSummary, Message, ZmtpEvent, ZmtpSink};

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Driver {
    /// The legacy driver (Grizzly .. Liberty): PUSH to a zmq-receiver.
    ImplZmq,
    /// oslo.messaging's zmq driver (2.6 .. 8.1): DEALER/ROUTER.
    Zmq,
}

impl Driver {
    pub fn label(self) -> &'static str {
        match self {
            Driver::ImplZmq => "impl_zmq",
            Driver::Zmq => "zmq",
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Call,
    Cast,
    Fanout,
    Notify,
    Reply,
    Ack,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Cast => "cast",
            Kind::Fanout => "fanout",
            Kind::Notify => "notify",
            Kind::Reply => "reply",
            Kind::Ack => "ack",
        }
    }
}

/// What oslo says a message is. Only what applies is set.
#[derive(Clone, Debug, PartialEq)]
pub struct Rpc {
    pub driver: Driver,
    /// `cast`, `impl_zmq_v2` (legacy); `1.0` or `none` (new driver).
    pub envelope: String,
    pub kind: Kind,
    pub topic: Option<String>,
    pub server: Option<String>,
    pub method: Option<String>,
    pub msg_id: Option<String>,
    pub reply_topic: Option<String>,
    pub namespace: Option<String>,
    pub version: Option<String>,
    pub event_type: Option<String>,
    pub priority: Option<String>,
    pub request_id: Option<String>,
    pub user: Option<String>,
    pub project: Option<String>,
    /// Method arguments (a reply's result; a notification's payload),
    /// secrets redacted unless asked.
    pub args: Option<Value>,
    pub failure: Option<String>,
    pub routing_key: Option<String>,
    pub reply_id: Option<String>,
    pub payload_message_id: Option<String>,
    pub oslo_version: Option<String>,
    pub serialization: Option<&'static str>,
    /// The body was longer than what the decoder keeps: fields in it unknown.
    pub truncated: bool,
    /// The body did not parse (invalid JSON/msgpack).
    pub undecodable: bool,
    /// This sighting is the same message one hop further.
    pub forwarded: bool,
    /// A reply that completed a call: request to reply, capture time.
    pub latency_ns: Option<u64>,
}

impl Rpc {
    pub fn new(driver: Driver) -> Self {
        Rpc {
            driver,
            envelope: String::new(),
            kind: Kind::Cast,
            topic: None,
            server: None,
            method: None,
            msg_id: None,
            reply_topic: None,
            namespace: None,
            version: None,
            event_type: None,
            priority: None,
            request_id: None,
            user: None,
            project: None,
            args: None,
            failure: None,
            routing_key: None,
            reply_id: None,
            payload_message_id: None,
            oslo_version: None,
            serialization: None,
            truncated: false,
            undecodable: false,
            forwarded: false,
            latency_ns: None,
        }
    }

    fn take_context(&mut self, ctx: &Value) {
        let s = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| ctx.get(*k).and_then(Value::as_str))
                .map(str::to_string)
        };
        self.request_id = s(&["request_id"]).or(self.request_id.take());
        self.user = s(&["user_id", "user", "user_name"]).or(self.user.take());
        self.project = s(&["project_id", "tenant", "project", "tenant_id"]).or(self.project.take());
    }

    fn take_message(&mut self, msg: &Value, options: envelope::Options) {
        let s = |k: &str| msg.get(k).and_then(Value::as_str).map(str::to_string);
        self.method = s("method");
        self.namespace = s("namespace");
        self.version = s("version");
        if options.keep_args {
            self.args = msg
                .get("args")
                .cloned()
                .map(|a| redact::redact(a, options.redaction));
        }
    }

    fn take_notification(&mut self, msg: &Value, options: envelope::Options) {
        let s = |k: &str| msg.get(k).and_then(Value::as_str).map(str::to_string);
        self.kind = Kind::Notify;
        self.event_type = s("event_type");
        self.priority = s("priority");
        self.payload_message_id = s("message_id");
        if options.keep_args {
            self.args = msg
                .get("payload")
                .cloned()
                .map(|a| redact::redact(a, options.redaction));
        }
    }

    /// The new driver's DEALER identities name topic and server:
    /// `host/topic/server/uuid` or `host/topic/uuid` (G4, with the `1.0`
    /// frame), `host/topic.server/uuid` (G3).
    fn take_routing_key(&mut self, key: &str) {
        let parts: Vec<&str> = key.split('/').collect();
        match parts.as_slice() {
            [_, topic, server, _] => {
                self.topic = Some((*topic).to_string());
                self.server = Some((*server).to_string());
            }
            [_, target, _] if self.envelope == "1.0" => self.topic = Some((*target).to_string()),
            // To the proxy's PUB: the routing key is the topic filter; a
            // bare uuid is a server DEALER's identity (5.2 .. 5.9), no name.
            [filter] if !filter.is_empty() && !envelope::is_message_id(filter.as_bytes()) => {
                self.topic = Some((*filter).to_string())
            }
            // A notification topic keeps its dot: notifiers set no server,
            // and 5.11 .. 5.13 name topics `host/topic/uuid`.
            [_, target, _] if is_notification_topic(target) => {
                self.topic = Some((*target).to_string())
            }
            [_, target, _] => match target.split_once('.') {
                Some((topic, server)) => {
                    self.topic = Some(topic.to_string());
                    self.server = Some(server.to_string());
                }
                None => self.topic = Some((*target).to_string()),
            },
            _ => {}
        }
    }
}

/// `notifications.info` and the like: a notification topic and priority.
fn is_notification_topic(target: &str) -> bool {
    target.split_once('.').is_some_and(|(_, priority)| {
        matches!(
            priority,
            "audit" | "debug" | "info" | "warn" | "warning" | "error" | "critical" | "sample"
        )
    })
}

/// A call matched with its reply.
#[derive(Clone, Debug, PartialEq)]
pub struct CallEvent {
    pub msg_id: String,
    pub topic: Option<String>,
    pub method: Option<String>,
    pub caller: SocketAddr,
    pub server: SocketAddr,
    pub conn: String,
    pub request_ts: Timestamp,
    pub reply_ts: Timestamp,
    pub failure: Option<String>,
    pub driver: Driver,
}

impl CallEvent {
    pub fn latency_ns(&self) -> u64 {
        self.reply_ts.nanos_since(self.request_ts)
    }
}

/// A call with no reply within the timeout (or by the end of the input).
#[derive(Clone, Debug, PartialEq)]
pub struct TimeoutEvent {
    pub ts: Timestamp,
    pub msg_id: String,
    pub topic: Option<String>,
    pub method: Option<String>,
    pub caller: SocketAddr,
    pub server: SocketAddr,
    pub conn: String,
    pub request_ts: Timestamp,
    pub waited_ns: u64,
    pub at_end_of_input: bool,
}

/// The same message seen on a second connection, one hop further.
#[derive(Clone, Debug, PartialEq)]
pub struct ForwardEvent {
    pub ts: Timestamp,
    pub from_conn: String,
    pub to_conn: String,
    pub kind: Kind,
    pub topic: Option<String>,
    pub msg_id: Option<String>,
    pub delay_ns: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RpcEvent {
    Call(CallEvent),
    Timeout(TimeoutEvent),
    Forward(ForwardEvent),
}

/// A consumer of the oslo layer: every ZMTP event (messages with their
/// `Rpc` when oslo), then calls, timeouts and forwards.
pub trait OsloSink {
    fn zmtp(&mut self, conn: &Connection, event: &ZmtpEvent<'_>, rpc: Option<&Rpc>);
    fn rpc(&mut self, event: &RpcEvent);
    fn retired(&mut self, _conn: &Connection, _summary: &ConnSummary) {}
    /// A redis exchange (the name service), after the oslo layer learned
    /// from it.
    fn redis(&mut self, _exchange: &crate::redis::Exchange<'_>) {}
}

#[derive(Clone, Debug)]
pub struct OsloConfig {
    /// A call unanswered this long (capture time) is reported as a timeout.
    pub rpc_timeout_ns: u64,
    pub redaction: Redaction,
    /// Keep method arguments (and reply results) for output; reports that
    /// never print them skip the copying.
    pub keep_args: bool,
    /// Read request contexts (request id, user, project); reports that never
    /// print them skip reading them.
    pub keep_context: bool,
    /// Calls awaiting a reply; beyond it the oldest is dropped and counted.
    pub max_pending: usize,
    /// Recent requests remembered to name replies and ACKs.
    pub max_recent: usize,
    /// How long after a message its copy on the next hop is still a forward.
    pub forward_window_ns: u64,
    /// Messages remembered for forward detection.
    pub max_sightings: usize,
}

impl Default for OsloConfig {
    fn default() -> Self {
        OsloConfig {
            rpc_timeout_ns: 60_000_000_000,
            redaction: Redaction::On,
            keep_args: true,
            keep_context: true,
            max_pending: 100_000,
            max_recent: 32_768,
            forward_window_ns: 1_000_000_000,
            max_sightings: 16_384,
        }
    }
}

/// What the oslo layer counted, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsloCounters {
    pub rpc_messages: u64,
    pub calls: u64,
    pub timeouts: u64,
    pub failures: u64,
    pub forwards: u64,
    /// Replies whose request is not in the capture (or was forgotten).
    pub unmatched_replies: u64,
    /// Calls forgotten because too many were waiting at once.
    pub pending_evicted: u64,
    pub truncated_bodies: u64,
    pub undecodable_bodies: u64,
    /// What the name service (redis) taught.
    pub names: names::NameCounters,
}

struct Pending {
    request_ts: Timestamp,
    topic: Option<String>,
    method: Option<String>,
    caller: SocketAddr,
    server: SocketAddr,
    conn: String,
    driver: Driver,
    /// A reply seen on an inner hop (server -> proxy), before the last one.
    inner_reply: Option<(Timestamp, Option<String>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SightKey {
    /// Shared with the expiry queue: one copy of the id per sighting.
    Id(Kind, Rc<str>),
    Content(u64),
    /// The pickled context and message of 5.2 .. 5.5 through the proxy,
    /// which its PUB republishes unchanged without the message id.
    PickledPair(u64),
}

#[derive(Clone)]
struct Sighting {
    conn_id: u64,
    /// The connection's ends, formatted into its label only for a hop.
    client: SocketAddr,
    server: SocketAddr,
    src: SocketAddr,
    dst: SocketAddr,
    /// The host that sent it first (the client, for a copy one hop on).
    origin: IpAddr,
    ts: Timestamp,
    /// The message's id, kept for a copy that lost it (a pickled pair).
    msg_id: Option<Rc<str>>,
}

/// Reply ids longer than this do not pair calls (real ones are uuids).
const MAX_REPLY_ID: usize = 256;

/// What a request said of itself, for the replies, ACKs and later hops
/// that do not say it.
#[derive(Clone, Debug, Default)]
struct Named {
    topic: Option<String>,
    method: Option<String>,
    event_type: Option<String>,
}

impl Named {
    fn of(rpc: &Rpc) -> Self {
        Named {
            topic: rpc.topic.clone(),
            method: rpc.method.clone(),
            event_type: rpc.event_type.clone(),
        }
    }

    fn fill(&self, rpc: &mut Rpc) {
        rpc.topic = rpc.topic.take().or_else(|| self.topic.clone());
        rpc.method = rpc.method.take().or_else(|| self.method.clone());
        rpc.event_type = rpc.event_type.take().or_else(|| self.event_type.clone());
    }
}

/// The oslo layer: a [`ZmtpSink`] feeding an [`OsloSink`].
pub struct OsloDecoder<S> {
    config: OsloConfig,
    sink: S,
    counters: OsloCounters,
    pending: Map<String, Pending>,
    /// Call ids in request order, for timeouts and eviction.
    deadlines: VecDeque<(Timestamp, String)>,
    /// Keyed by a shared id so the eviction queue costs no second copy.
    recent: Map<Rc<str>, Named>,
    recent_order: VecDeque<Rc<str>>,
    sightings: Map<SightKey, Sighting>,
    sighting_order: VecDeque<(Timestamp, SightKey)>,
    /// The last call sent on each connection: a reply without an id
    /// (oslo.messaging 2.6 .. 3.0, calls over REQ) answers it.
    last_call_on: Map<u64, String>,
    /// Calls by the reply id their envelope carries: a reply without a
    /// message id but with that reply id (2.8 .. 3.0 through the broker)
    /// answers it.
    call_by_reply_id: Map<String, String>,
    last_ts: Timestamp,
    names: names::NameBook,
}

impl<S: OsloSink> OsloDecoder<S> {
    pub fn new(config: OsloConfig, sink: S) -> Self {
        OsloDecoder {
            config,
            sink,
            counters: OsloCounters::default(),
            pending: Map::default(),
            deadlines: VecDeque::new(),
            recent: Map::default(),
            recent_order: VecDeque::new(),
            sightings: Map::default(),
            sighting_order: VecDeque::new(),
            last_call_on: Map::default(),
            call_by_reply_id: Map::default(),
            last_ts: Timestamp::ZERO,
            names: names::NameBook::default(),
        }
    }

    pub fn sink(&self) -> &S {
        &self.sink
    }

    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    pub fn counters(&self) -> &OsloCounters {
        &self.counters
    }

    pub fn into_sink(self) -> S {
        self.sink
    }

    /// End of input: calls still waiting are timeouts now.
    pub fn finish(&mut self) {
        let now = self.last_ts;
        let waiting: Vec<(Timestamp, String)> = self.deadlines.drain(..).collect();
        for (deadline, id) in waiting {
            if let Some(p) = self.take_due(deadline, &id) {
                if let Some((reply_ts, failure)) = p.inner_reply.clone() {
                    // Only an inner hop of the reply was captured.
                    self.complete(id, p, reply_ts, failure);
                } else {
                    self.time_out(id, p, now, true);
                }
            }
        }
    }

    fn deadline_of(&self, request_ts: Timestamp) -> Timestamp {
        Timestamp::from_nanos(
            request_ts
                .as_nanos()
                .saturating_add(self.config.rpc_timeout_ns),
        )
    }

    /// Take the call a queued deadline belongs to. An answered call's
    /// deadline stays queued; if its id has since been reused by a new call,
    /// that entry is stale and must not touch the new call.
    fn take_due(&mut self, deadline: Timestamp, id: &str) -> Option<Pending> {
        let current = self
            .pending
            .get(id)
            .is_some_and(|p| self.deadline_of(p.request_ts) == deadline);
        if current {
            self.pending.remove(id)
        } else {
            None
        }
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some((deadline, _)) = self.deadlines.front() {
            if *deadline > now {
                break;
            }
            let Some((deadline, id)) = self.deadlines.pop_front() else {
                break;
            };
            if let Some(p) = self.take_due(deadline, &id) {
                self.time_out(id, p, deadline, false);
            }
        }
        while let Some((ts, _)) = self.sighting_order.front() {
            if now.nanos_since(*ts) <= self.config.forward_window_ns
                && self.sighting_order.len() <= self.config.max_sightings
            {
                break;
            }
            if let Some((ts, key)) = self.sighting_order.pop_front() {
                if self.sightings.get(&key).is_some_and(|s| s.ts == ts) {
                    self.sightings.remove(&key);
                }
            }
        }
    }

    fn time_out(&mut self, msg_id: String, p: Pending, now: Timestamp, at_end: bool) {
        self.counters.timeouts += 1;
        self.sink.rpc(&RpcEvent::Timeout(TimeoutEvent {
            ts: now,
            msg_id,
            topic: p.topic,
            method: p.method,
            caller: p.caller,
            server: p.server,
            conn: p.conn,
            request_ts: p.request_ts,
            waited_ns: now.nanos_since(p.request_ts),
            at_end_of_input: at_end,
        }));
    }

    fn complete(
        &mut self,
        msg_id: String,
        p: Pending,
        reply_ts: Timestamp,
        failure: Option<String>,
    ) {
        self.counters.calls += 1;
        if failure.is_some() {
            self.counters.failures += 1;
        }
        self.sink.rpc(&RpcEvent::Call(CallEvent {
            msg_id,
            topic: p.topic,
            method: p.method,
            caller: p.caller,
            server: p.server,
            conn: p.conn,
            request_ts: p.request_ts,
            reply_ts,
            failure,
            driver: p.driver,
        }));
    }

    fn remember(&mut self, id: &str, rpc: &Rpc) {
        if let Some(known) = self.recent.get_mut(id) {
            *known = Named::of(rpc);
        } else {
            let id: Rc<str> = Rc::from(id);
            self.recent.insert(Rc::clone(&id), Named::of(rpc));
            self.recent_order.push_back(id);
            while self.recent_order.len() > self.config.max_recent {
                if let Some(old) = self.recent_order.pop_front() {
                    self.recent.remove(&old);
                }
            }
        }
    }

    /// The hash of a message's last two frames when they are a pickled
    /// context and message (G2 through the proxy).
    fn pickled_pair(&self, m: &Message<'_>, rpc: &Rpc) -> Option<u64> {
        if rpc.serialization != Some("pickle") || rpc.driver != Driver::Zmq {
            return None;
        }
        let [.., ctx, msg] = m.frames else {
            return None;
        };
        let (ctx, msg) = (m.kept(ctx), m.kept(msg));
        if !(pickle::looks_like(ctx) && pickle::looks_like(msg)) {
            return None;
        }
        let mut h = self.sightings.hasher().build_hasher();
        ctx.hash(&mut h);
        msg.hash(&mut h);
        Some(h.finish())
    }

    /// Whether this sighting is a copy of one the previous hop sent here.
    fn sighting(
        &mut self,
        conn: &Connection,
        m: &Message<'_>,
        rpc: &Rpc,
    ) -> Option<(u64, String, Timestamp, Option<Rc<str>>)> {
        let key = match (&rpc.msg_id, rpc.driver) {
            (Some(id), Driver::Zmq) => SightKey::Id(rpc.kind, Rc::from(id.as_str())),
            _ => {
                // Seeded per process like the map, so a sender cannot
                // aim collisions at it.
                let mut h = self.sightings.hasher().build_hasher();
                for f in m.frames {
                    f.len.hash(&mut h);
                    m.kept(f).hash(&mut h);
                }
                SightKey::Content(h.finish())
            }
        };
        let (src, dst) = conn.endpoints(m.dir);
        let pair = self.pickled_pair(m, rpc);
        // A copy without an id is known by its pair only (another copy of
        // it is not a hop of it).
        let lookup = match (&rpc.msg_id, pair) {
            (None, Some(pair)) => SightKey::PickledPair(pair),
            _ => key.clone(),
        };
        let previous = self.sightings.get(&lookup).and_then(|prev| {
            // Sent on from the host it reached; for the legacy driver's
            // byte-identical copies also by a third host: haproxy on a VIP
            // connects from its host's own address. (The new driver's
            // copies share a message id: a client sends a fanout through
            // the proxy once per server, a third host to the proxy's last
            // hop.)
            let third_host = matches!(key, SightKey::Content(_))
                && prev.src.ip() != src.ip()
                && prev.origin != src.ip();
            let hop = prev.conn_id != conn.id
                && (prev.dst.ip() == src.ip() || third_host)
                && prev.dst != dst
                && prev.src != src
                && m.ts.nanos_since(prev.ts) <= self.config.forward_window_ns;
            hop.then(|| {
                let label = connection_label(prev.client, prev.server);
                (
                    prev.conn_id,
                    label,
                    prev.ts,
                    prev.origin,
                    prev.msg_id.clone(),
                )
            })
        });
        let origin = previous.as_ref().map_or(src.ip(), |p| p.3);
        let sighting = Sighting {
            conn_id: conn.id,
            client: conn.client,
            server: conn.server,
            src,
            dst,
            origin,
            ts: m.ts,
            msg_id: None,
        };
        // A hop leaves the sighting it came from in place: the proxy's PUB
        // sends one copy per subscriber, each a hop of the client's.
        if previous.is_none() {
            if let (Some(id), Some(pair)) = (&rpc.msg_id, pair) {
                let pair = SightKey::PickledPair(pair);
                let with_id = Sighting {
                    msg_id: Some(Rc::from(id.as_str())),
                    ..sighting.clone()
                };
                self.sightings.insert(pair.clone(), with_id);
                self.sighting_order.push_back((m.ts, pair));
            }
            self.sightings.insert(key.clone(), sighting);
            self.sighting_order.push_back((m.ts, key));
        }
        previous.map(|(conn_id, label, ts, _, msg_id)| (conn_id, label, ts, msg_id))
    }

    fn message(&mut self, conn: &Connection, event: &ZmtpEvent<'_>, m: &Message<'_>) {
        self.last_ts = self.last_ts.max(m.ts);
        self.expire(m.ts);
        let frames: Vec<(&[u8], bool)> = m
            .frames
            .iter()
            .map(|f| (m.kept(f), f.missing == 0 && m.kept(f).len() as u64 == f.len))
            .collect();
        let options = envelope::Options {
            redaction: self.config.redaction,
            keep_args: self.config.keep_args,
            keep_context: self.config.keep_context,
        };
        let Some(mut rpc) = envelope::decode(&frames, options) else {
            self.sink.zmtp(conn, event, None);
            return;
        };
        if rpc.truncated && rpc.msg_id.is_none() {
            // A body cut before its id: the frame's last bytes.
            let tail = m.frames.last().map(|f| m.tail(f)).unwrap_or_default();
            if rpc.serialization == Some("pickle") {
                rpc.msg_id = envelope::pickled_message_id_in_tail(tail);
            } else if rpc.driver == Driver::ImplZmq && matches!(rpc.kind, Kind::Call | Kind::Reply)
            {
                rpc.msg_id = envelope::legacy_json_string_last(tail, "msg_id");
            }
        }
        self.counters.rpc_messages += 1;
        self.counters.truncated_bodies += u64::from(rpc.truncated);
        self.counters.undecodable_bodies += u64::from(rpc.undecodable);
        let (src, dst) = conn.endpoints(m.dir);
        let forward = self.sighting(conn, m, &rpc);
        rpc.forwarded = forward.is_some();
        if let (true, Some(id)) = (rpc.forwarded, &rpc.msg_id) {
            // A later hop may lack what the first one said (the proxy's
            // backend frames carry no routing key).
            if let Some(named) = self.recent.get(id.as_str()) {
                named.fill(&mut rpc);
            }
        }
        if rpc.topic.is_none() && !matches!(rpc.kind, Kind::Reply | Kind::Ack) {
            // To the proxy (5.2 .. 5.9): the routing key is the server
            // DEALER's identity, which it registered under its target.
            if let Some(name) = rpc
                .routing_key
                .as_deref()
                .and_then(|key| self.names.lookup_identity(key))
            {
                rpc.topic = Some(name.topic.clone());
                rpc.server = rpc.server.take().or_else(|| name.server.clone());
            }
        }
        if rpc.msg_id.is_none() && rpc.kind == Kind::Reply && rpc.driver == Driver::Zmq {
            let waiting = |id: &String| {
                self.pending
                    .get(id.as_str())
                    .is_some_and(|p| p.caller == dst)
            };
            let call = match rpc.reply_id.as_deref() {
                // Through the broker: the reply id (the per-call
                // proxy_reply_id its envelope carried) names the call.
                Some(reply_id) => self
                    .call_by_reply_id
                    .get(reply_id)
                    .filter(|id| waiting(id))
                    .is_some()
                    .then(|| self.call_by_reply_id.remove(reply_id))
                    .flatten(),
                // REQ and REP take turns: back to the caller, it answers
                // the call before it on its connection.
                None => self
                    .last_call_on
                    .get(&conn.id)
                    .filter(|id| waiting(id))
                    .is_some()
                    .then(|| self.last_call_on.remove(&conn.id))
                    .flatten(),
            };
            match call {
                Some(id) => rpc.msg_id = Some(id),
                None => self.counters.unmatched_replies += 1,
            }
        }
        if rpc.topic.is_none() && rpc.server.is_none() && rpc.driver == Driver::Zmq {
            // Direct mode: the topic is not on the wire; the server's
            // endpoint is, and the name service may have said who listens
            // there.
            let endpoint = match rpc.kind {
                Kind::Reply | Kind::Ack => src,
                _ => dst,
            };
            match self.names.lookup(endpoint) {
                Some(name) => {
                    rpc.topic = Some(name.topic.clone());
                    rpc.server = name.server.clone();
                }
                None => rpc.server = Some(crate::tcp::socket_addr_string(endpoint)),
            }
        }
        let mut completed = None;
        if let Some(id) = rpc.msg_id.clone() {
            match rpc.kind {
                Kind::Call if !rpc.forwarded => {
                    if !self.pending.contains_key(&id) {
                        if self.pending.len() >= self.config.max_pending {
                            // Forget the oldest call still waiting; deadlines
                            // of answered calls are skipped on the way.
                            while let Some((deadline, old)) = self.deadlines.pop_front() {
                                if self.take_due(deadline, &old).is_some() {
                                    self.counters.pending_evicted += 1;
                                    break;
                                }
                            }
                        }
                        let deadline = self.deadline_of(m.ts);
                        self.deadlines.push_back((deadline, id.clone()));
                        // Answered calls leave their deadline queued until it
                        // falls due; drop them once they outnumber the rest,
                        // so the queue is bounded by the calls waiting.
                        if self.deadlines.len() > 2 * self.pending.len() + 1024 {
                            let pending = &self.pending;
                            self.deadlines.retain(|(_, id)| pending.contains_key(id));
                        }
                        self.pending.insert(
                            id.clone(),
                            Pending {
                                request_ts: m.ts,
                                topic: rpc.topic.clone(),
                                method: rpc.method.clone(),
                                caller: src,
                                server: dst,
                                conn: conn.label(),
                                driver: rpc.driver,
                                inner_reply: None,
                            },
                        );
                        // Only a call that starts waiting is found by its
                        // connection or reply id: one entry per waiting
                        // call, so a retain at twice the table's cap keeps
                        // both maps within it.
                        let cap = self.config.max_pending.saturating_mul(2);
                        let pending = &self.pending;
                        if rpc.driver == Driver::Zmq && m.socket_type == Some("REQ") {
                            if self.last_call_on.len() >= cap {
                                self.last_call_on.retain(|_, id| pending.contains_key(id));
                            }
                            self.last_call_on.insert(conn.id, id.clone());
                        }
                        if let Some(reply_id) = rpc
                            .reply_id
                            .as_ref()
                            .filter(|r| rpc.driver == Driver::Zmq && r.len() <= MAX_REPLY_ID)
                        {
                            if self.call_by_reply_id.len() >= cap {
                                self.call_by_reply_id
                                    .retain(|_, id| pending.contains_key(id));
                            }
                            self.call_by_reply_id.insert(reply_id.clone(), id.clone());
                        }
                    }
                    self.remember(&id, &rpc);
                }
                Kind::Cast | Kind::Fanout | Kind::Notify if !rpc.forwarded => {
                    self.remember(&id, &rpc);
                }
                Kind::Reply => match self.pending.get_mut(&id) {
                    Some(p) => {
                        rpc.method = rpc.method.take().or_else(|| p.method.clone());
                        rpc.topic = rpc.topic.take().or_else(|| p.topic.clone());
                        // The reply has reached the caller (or, legacy, has
                        // left for its receiver): the call is complete.
                        if p.driver == Driver::ImplZmq || dst == p.caller {
                            rpc.latency_ns = Some(m.ts.nanos_since(p.request_ts));
                            completed = Some((id.clone(), m.ts, rpc.failure.clone()));
                        } else {
                            p.inner_reply = Some((m.ts, rpc.failure.clone()));
                        }
                    }
                    None => match self.recent.get(id.as_str()) {
                        // A reply already matched (seen again on a later hop).
                        Some(named) if rpc.forwarded => named.fill(&mut rpc),
                        _ => self.counters.unmatched_replies += 1,
                    },
                },
                Kind::Ack => {
                    if let Some(named) = self.recent.get(id.as_str()) {
                        named.fill(&mut rpc);
                    }
                }
                _ => {}
            }
        }
        self.sink.zmtp(conn, event, Some(&rpc));
        if let Some((id, reply_ts, failure)) = completed {
            if let Some(p) = self.pending.remove(&id) {
                self.complete(id, p, reply_ts, failure);
            }
        }
        if let Some((_, from_conn, first_ts, first_id)) = forward {
            self.counters.forwards += 1;
            self.sink.rpc(&RpcEvent::Forward(ForwardEvent {
                ts: m.ts,
                from_conn,
                to_conn: conn.label(),
                kind: rpc.kind,
                topic: rpc.topic.clone(),
                // A copy that lost its id is still a hop of that message.
                msg_id: rpc
                    .msg_id
                    .clone()
                    .or_else(|| first_id.map(|id| id.to_string())),
                delay_ns: m.ts.nanos_since(first_ts),
            }));
        }
    }
}

/// The name service's traffic, from the redis layer beside ZMTP.
impl<S: OsloSink> crate::redis::RedisSink for OsloDecoder<S> {
    fn exchange(&mut self, exchange: &crate::redis::Exchange<'_>) {
        self.names.exchange(exchange, &mut self.counters.names);
        self.sink.redis(exchange);
    }
}

impl<S: OsloSink> ZmtpSink for OsloDecoder<S> {
    fn event(&mut self, conn: &Connection, event: ZmtpEvent<'_>) {
        if let ZmtpEvent::Message(m) = &event {
            self.message(conn, &event, m);
        } else {
            self.sink.zmtp(conn, &event, None);
        }
    }

    fn retired(&mut self, conn: &Connection, summary: &ConnSummary) {
        self.last_call_on.remove(&conn.id);
        self.sink.retired(conn, summary);
    }
}
