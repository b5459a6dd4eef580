//! The legacy matchmaker, simulated: for a topic, the (queue, host) pairs a
//! sender produces, where the TCP connection goes, and where the receiver
//! on the destination node delivers it (catalogue §2, wire format §2.6).
//!
//! The rules, in the driver's own order:
//!
//! 1. the sender builds a key: `fanout~T` for a fanout, `T.server` for a
//!    directed message (oslo.messaging >= 1.5.0; older releases drop the
//!    server), `T` for a bare topic, `T.priority` with every `.` rewritten
//!    to `-` for a notification, `zmq_replies.<caller rpc_zmq_host>` for a
//!    reply;
//! 2. the first binding that matches decides: `fanout~` prefix, then a `.`
//!    (direct: the host is everything after the first dot), then the bare
//!    topic (round robin over the ring key, one cycle per process);
//! 3. the sender connects PUSH to `tcp://host:<its own rpc_zmq_port>`;
//! 4. the receiver there forwards by the queue frame: PUB
//!    `zmq_topic_<queue up to the first dot>` for `fanout~`, PUB
//!    `zmq_topic_<queue>` for `zmq_replies`, PUSH `zmq_topic_<queue>`
//!    otherwise, under its `rpc_zmq_ipc_dir`;
//! 5. the message is delivered only if a consumer on that node listens on
//!    the very same IPC path: `zmq_topic_<base>.<its rpc_zmq_host>` (PULL),
//!    `zmq_topic_fanout~<base>` (SUB), `zmq_topic_zmq_replies.<its
//!    rpc_zmq_host>` (SUB), under its own `rpc_zmq_ipc_dir`.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::config::{RingValue, Ringfile};
use super::model::{self, Cluster, NodeView, Resolved, ServiceView};
use super::Evidence;

/// What the sender is asked to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Send {
    /// `call`/`cast` to a topic, directed to `server` when given.
    Rpc {
        topic: String,
        server: Option<String>,
    },
    /// `fanout_cast` to every consumer of `topic`.
    Fanout { topic: String },
    /// A notification on `topic` at `priority`.
    Notify { topic: String, priority: String },
    /// The reply to a call made by `caller` (its `rpc_zmq_host`).
    Reply { caller: String },
}

impl Send {
    /// Read a `--route` argument: `fanout~T`, `zmq_replies.HOST`,
    /// `notify:T.PRIORITY` (or `T.PRIORITY` with a known priority), `T.HOST`
    /// (directed) or `T` (bare).
    pub fn parse(request: &str) -> Send {
        let r = request.trim();
        if let Some(t) = r.strip_prefix("fanout~") {
            return Send::Fanout {
                topic: t.to_string(),
            };
        }
        if let Some(c) = r.strip_prefix("zmq_replies.") {
            return Send::Reply {
                caller: c.to_string(),
            };
        }
        let notify = r.strip_prefix("notify:");
        let body = notify.unwrap_or(r);
        if let Some((topic, prio)) = body.rsplit_once('.') {
            if notify.is_some() || model::PRIORITIES.contains(&prio) {
                return Send::Notify {
                    topic: topic.to_string(),
                    priority: prio.to_string(),
                };
            }
        }
        match body.split_once('.') {
            Some((t, s)) => Send::Rpc {
                topic: t.to_string(),
                server: Some(s.to_string()),
            },
            None => Send::Rpc {
                topic: body.to_string(),
                server: None,
            },
        }
    }

    /// The topic whose consumers receive it (for picking configs).
    pub fn topic(&self) -> &str {
        match self {
            Send::Rpc { topic, .. } | Send::Fanout { topic } | Send::Notify { topic, .. } => topic,
            Send::Reply { .. } => "zmq_replies",
        }
    }
}

/// The driver release, where it changes routing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Version {
    /// An oslo-incubator copy inside a project (`nova.openstack.common.rpc`).
    Incubator,
    /// oslo.messaging major.minor.patch (legacy driver: up to 2.5.x).
    OsloMessaging(u32, u32, u32),
}

/// What the simulator assumes when no release is known: Liberty's.
pub const LATEST_LEGACY: Version = Version::OsloMessaging(2, 5, 0);

impl Version {
    fn at_least(self, v: (u32, u32, u32)) -> bool {
        match self {
            Version::Incubator => false,
            Version::OsloMessaging(a, b, c) => (a, b, c) >= v,
        }
    }

    /// `target.server` is appended to the topic (1.5.0, 3e6c0b38). The
    /// incubator's callers build `topic.host` themselves.
    pub fn honours_server(self) -> bool {
        self == Version::Incubator || self.at_least((1, 5, 0))
    }

    /// A fanout reaches every ring host (1.4.0, de2de36a); before, only
    /// the first.
    pub fn fanout_reaches_all(self) -> bool {
        self == Version::Incubator || self.at_least((1, 4, 0))
    }

    /// The log line of an empty matchmaker result: `Not casting.` (and a
    /// Timeout raised, casts too) up to 1.8.1, `Not sending.` (casts return
    /// silently) from 1.8.2.
    pub fn empty_result_line(self) -> &'static str {
        if self.at_least((1, 8, 2)) {
            "No matchmaker results. Not sending."
        } else {
            "No matchmaker results. Not casting."
        }
    }
}

/// The key the sender hands to the matchmaker.
pub fn sender_key(send: &Send, version: Version) -> String {
    match send {
        Send::Rpc {
            topic,
            server: Some(s),
        } if version.honours_server() => format!("{topic}.{s}"),
        Send::Rpc { topic, .. } => topic.clone(),
        Send::Fanout { topic } => format!("fanout~{topic}"),
        Send::Notify { topic, priority } => format!("{topic}.{priority}").replace('.', "-"),
        Send::Reply { caller } => format!("zmq_replies.{caller}"),
    }
}

/// The binding that handles a key (first match wins).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    Fanout,
    Direct,
    Topic,
}

pub fn binding(key: &str) -> Binding {
    if key.starts_with("fanout~") {
        Binding::Fanout
    } else if key.contains('.') {
        Binding::Direct
    } else {
        Binding::Topic
    }
}

/// The matchmaker a sender runs.
#[derive(Clone, Debug)]
pub enum Matchmaker<'r> {
    Ring(&'r Ringfile),
    /// `MatchMakerLocalhost`, the legacy default.
    Local,
    /// `MatchMakerRedis`: hosts come from Redis at send time.
    Redis,
    /// `MatchMakerStub`: `(key, None)`.
    Stub,
}

/// What `queues(key)` returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queues {
    pub binding: Binding,
    /// `(queue, host)` pairs, in order.
    pub pairs: Vec<(String, String)>,
    /// The WARNING the matchmaker logs (`No key defining hosts ...`).
    pub warning: Option<String>,
    /// The send fails with an exception instead of returning.
    pub failure: Option<String>,
    /// The hosts are not knowable offline (Redis).
    pub opaque: Option<String>,
}

/// A matchmaker with its round-robin state (one per process).
pub struct Simulator<'r> {
    mm: Matchmaker<'r>,
    cycles: HashMap<String, usize>,
}

impl<'r> Simulator<'r> {
    pub fn new(mm: Matchmaker<'r>) -> Simulator<'r> {
        Simulator {
            mm,
            cycles: HashMap::new(),
        }
    }

    pub fn ring(ring: &'r Ringfile) -> Simulator<'r> {
        Simulator::new(Matchmaker::Ring(ring))
    }

    pub fn queues(&mut self, key: &str) -> Queues {
        let b = binding(key);
        let mut q = Queues {
            binding: b,
            pairs: Vec::new(),
            warning: None,
            failure: None,
            opaque: None,
        };
        if b == Binding::Direct {
            let host = key.split_once('.').map(|x| x.1).unwrap_or("");
            q.pairs.push((key.to_string(), host.to_string()));
            return q;
        }
        match &self.mm {
            Matchmaker::Stub => q.pairs.push((key.to_string(), "None".to_string())),
            Matchmaker::Local => {
                let base = key.split('.').next().unwrap_or(key);
                q.pairs
                    .push((format!("{base}.localhost"), "localhost".to_string()));
            }
            Matchmaker::Redis => {
                let set = match b {
                    Binding::Fanout => key.split_once('~').map(|x| x.1).unwrap_or(key),
                    _ => key,
                };
                q.opaque = Some(format!(
                    "the hosts are the live members '{set}.<host>' of the Redis set '{set}' at send time{}",
                    if b == Binding::Fanout {
                        " (each sent as queue '<topic>.<host>' without 'fanout~': every host's direct consumer gets it)"
                    } else {
                        " (one random live member per message)"
                    }
                ));
            }
            Matchmaker::Ring(ring) => {
                // itertools.cycle() of every value runs when the matchmaker
                // is built: a value that is not iterable breaks every send.
                if let Some(bad) = ring.entries().iter().find_map(|e| match &e.value {
                    RingValue::NotIterable(kind) => Some((e.key.clone(), *kind)),
                    _ => None,
                }) {
                    q.failure = Some(format!(
                        "TypeError building the matchmaker: the value of ring key '{}' is {}, not a list",
                        bad.0, bad.1
                    ));
                    return q;
                }
                let lookup = match b {
                    // key.split('fanout~')[1:][0]
                    Binding::Fanout => key.split("fanout~").nth(1).unwrap_or(""),
                    _ => key,
                };
                let Some(entry) = ring.get(lookup) else {
                    q.warning = Some(format!(
                        "No key defining hosts for topic '{lookup}', see ringfile"
                    ));
                    return q;
                };
                let hosts: Vec<String> = match &entry.value {
                    RingValue::Hosts(h) => h.clone(),
                    RingValue::Str(s) => s.chars().map(String::from).collect(),
                    RingValue::MixedList { hosts, .. } => {
                        q.failure = Some(format!(
                            "TypeError: ring key '{lookup}' lists a host that is not a string"
                        ));
                        if b == Binding::Fanout {
                            return q;
                        }
                        hosts.clone()
                    }
                    RingValue::NotIterable(_) => Vec::new(),
                };
                match b {
                    Binding::Fanout => {
                        q.pairs = hosts
                            .iter()
                            .map(|h| (format!("{key}.{h}"), h.clone()))
                            .collect();
                    }
                    _ => {
                        if hosts.is_empty() {
                            q.failure = Some(format!(
                                "StopIteration: ring key '{lookup}' has no hosts (next() on an empty cycle)"
                            ));
                            return q;
                        }
                        let i = self.cycles.entry(lookup.to_string()).or_insert(0);
                        let host = hosts.get(*i % hosts.len()).cloned().unwrap_or_default();
                        *i = i.wrapping_add(1);
                        q.pairs.push((format!("{key}.{host}"), host));
                    }
                }
            }
        }
        q
    }
}

/// The IPC socket types of the receiver and the consumers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ipc {
    Push,
    Pub,
    Pull,
    Sub,
}

impl Ipc {
    pub fn as_str(self) -> &'static str {
        match self {
            Ipc::Push => "PUSH",
            Ipc::Pub => "PUB",
            Ipc::Pull => "PULL",
            Ipc::Sub => "SUB",
        }
    }
}

/// Where the receiver forwards a queue: socket type and the name after
/// `zmq_topic_`; `Err` with the receiver's WARNING when it refuses it.
pub fn receiver_forward(queue: &str) -> Result<(Ipc, String), &'static str> {
    if queue.contains('/') || queue.contains('\\') {
        return Err("Topic contained dangerous characters.");
    }
    if queue.starts_with("fanout~") {
        let base = queue.split('.').next().unwrap_or(queue);
        Ok((Ipc::Pub, base.to_string()))
    } else if queue.starts_with("zmq_replies") {
        Ok((Ipc::Pub, queue.to_string()))
    } else {
        Ok((Ipc::Push, queue.to_string()))
    }
}

/// The name (after `zmq_topic_`) a consumer with `rpc_zmq_host` listens on
/// for what a receiver forwards as `queue`.
pub fn consumer_name(queue: &str, rpc_zmq_host: &str) -> (Ipc, String) {
    if queue.starts_with("fanout~") {
        let base = queue.split('.').next().unwrap_or(queue);
        (Ipc::Sub, base.to_string())
    } else if queue.starts_with("zmq_replies") {
        (Ipc::Sub, format!("zmq_replies.{rpc_zmq_host}"))
    } else {
        let base = queue.split('.').next().unwrap_or(queue);
        (Ipc::Pull, format!("{base}.{rpc_zmq_host}"))
    }
}

/// `ipc://DIR/zmq_topic_NAME` (the driver joins with `/` as written).
pub fn ipc_path(dir: &str, name: &str) -> String {
    format!("ipc://{dir}/zmq_topic_{name}")
}

/// `/var/run/openstack/` and `/var/run/openstack` name the same directory.
pub fn same_dir(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let t = s.trim().trim_end_matches('/');
        if t.is_empty() {
            "/".to_string()
        } else {
            t.replace("//", "/")
        }
    };
    norm(a) == norm(b)
}

// ---------------------------------------------------------------------------
// doctor --route TOPIC
// ---------------------------------------------------------------------------

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Fail,
    /// Not knowable from what was given.
    Unknown,
    /// Explanation only.
    Info,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => " ok ",
            Status::Fail => "FAIL",
            Status::Unknown => " ?? ",
            Status::Info => "    ",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Step {
    pub status: Status,
    pub text: String,
    pub evidence: Vec<Evidence>,
}

/// The resolution of one topic, step by step.
#[derive(Clone, Debug)]
pub struct Route {
    pub request: String,
    pub steps: Vec<Step>,
    /// Some(true): every destination delivers; Some(false): the message is
    /// lost; None: not knowable from the inputs.
    pub delivered: Option<bool>,
}

impl Route {
    fn step(&mut self, status: Status, text: impl Into<String>, evidence: Vec<Evidence>) {
        self.steps.push(Step {
            status,
            text: text.into(),
            evidence,
        });
    }

    pub fn to_table(&self) -> String {
        let mut s = format!("route {}\n", self.request);
        for (i, st) in self.steps.iter().enumerate() {
            let _ = writeln!(s, "{:>3}. [{}] {}", i + 1, st.status.mark(), st.text);
            for e in &st.evidence {
                let _ = writeln!(s, "              at {}", e_text(e));
            }
        }
        let verdict = match self.delivered {
            Some(true) => "DELIVERED",
            Some(false) => "NOT DELIVERED",
            None => "UNKNOWN (give the missing inputs named above)",
        };
        let _ = writeln!(s, "result: {verdict}");
        s
    }

    pub fn to_jsonl(&self) -> String {
        let mut s = String::new();
        for (i, st) in self.steps.iter().enumerate() {
            let mut o = crate::output::JsonObject::new();
            o.str("event", "route_step")
                .u64("step", i as u64 + 1)
                .str(
                    "status",
                    match st.status {
                        Status::Ok => "ok",
                        Status::Fail => "fail",
                        Status::Unknown => "unknown",
                        Status::Info => "info",
                    },
                )
                .str("text", &st.text)
                .with("evidence", |buf| {
                    buf.push('[');
                    for (j, e) in st.evidence.iter().enumerate() {
                        if j > 0 {
                            buf.push(',');
                        }
                        buf.push_str(&e.to_json());
                    }
                    buf.push(']');
                });
            s.push_str(&o.finish());
            s.push('\n');
        }
        let mut o = crate::output::JsonObject::new();
        o.str("event", "route").str("request", &self.request).str(
            "delivered",
            match self.delivered {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            },
        );
        s.push_str(&o.finish());
        s.push('\n');
        s
    }
}

fn e_text(e: &Evidence) -> String {
    match e {
        Evidence::File {
            file,
            line,
            text,
            note,
        } => {
            let mut s = format!("{file}:{line}  {text}");
            if let Some(n) = note {
                let _ = write!(s, "  ({n})");
            }
            s
        }
        Evidence::Capture { conn, .. } => conn.clone(),
    }
}

fn setting_evidence(svc: &ServiceView<'_>, s: &model::Setting<'_>, name: &str) -> Evidence {
    svc.evidence_for(s.entry, &format!("{name} not set: default {}", s.value))
}

/// Explain how `request` is routed from node `from` (default: the first
/// node with a legacy ZeroMQ service).
pub fn route(cluster: &Cluster<'_>, request: &str, from: Option<&str>) -> Route {
    let send = Send::parse(request);
    let mut r = Route {
        request: request.trim().to_string(),
        steps: Vec::new(),
        delivered: None,
    };
    let what = match &send {
        Send::Rpc {
            topic,
            server: Some(s),
        } => format!("a call/cast to topic '{topic}' directed to server '{s}'"),
        Send::Rpc {
            topic,
            server: None,
        } => {
            format!("a call/cast to topic '{topic}' (no server: any consumer)")
        }
        Send::Fanout { topic } => format!("a fanout to every consumer of '{topic}'"),
        Send::Notify { topic, priority } => {
            format!("a notification on '{topic}' at priority '{priority}'")
        }
        Send::Reply { caller } => {
            format!("the reply to a call made by the node whose rpc_zmq_host is '{caller}'")
        }
    };
    r.step(Status::Info, format!("request: {what}"), vec![]);

    // The sender.
    let sender_node = match from {
        Some(name) => cluster.nodes.iter().find(|n| n.name() == name),
        None => cluster
            .nodes
            .iter()
            .find(|n| n.legacy_services().next().is_some())
            .or_else(|| cluster.nodes.first()),
    };
    let Some(sender_node) = sender_node else {
        let msg = match from {
            Some(n) => format!("no node named '{n}' was given (--node {n}=DIR)"),
            None => "no config was given: give --config or --node".to_string(),
        };
        r.step(Status::Unknown, msg, vec![]);
        return r;
    };
    let Some(svc) = sender_node
        .consumer_for(send.topic())
        .or_else(|| sender_node.zmq_services().next())
    else {
        r.step(
            Status::Unknown,
            format!(
                "node {} has no config that uses ZeroMQ (rpc_backend = zmq): nothing to simulate",
                sender_node.name()
            ),
            vec![],
        );
        return r;
    };
    if svc.era == model::Era::New {
        let key = match &send {
            Send::Rpc {
                topic,
                server: Some(s),
            } => format!("ROUTER/{topic}/{}", s.split('@').next().unwrap_or(s)),
            _ => format!("ROUTER/{}", send.topic()),
        };
        r.step(
            Status::Info,
            format!(
                "{} runs the new zmq driver: the sender looks up '{key}' (Ocata+; Mitaka/Newton: ROUTER_{}) in Redis and connects to the 'host:port' members; there is no ring, receiver or rpc_zmq_port",
                svc.path(),
                send.topic()
            ),
            svc.transport_entry.map(|e| Evidence::entry(svc.path(), e)).into_iter().collect(),
        );
        r.step(
            Status::Unknown,
            "the Redis records are not in the inputs: check them with redis-cli SMEMBERS",
            vec![],
        );
        return r;
    }
    let version = match svc.incubator {
        Some(_) => Version::Incubator,
        None => LATEST_LEGACY,
    };
    let port = svc.port_number().unwrap_or(model::DEFAULT_PORT);
    r.step(
        Status::Info,
        format!(
            "sender: {} with {} ({}, matchmaker '{}', sends to port {port}: its own rpc_zmq_port)",
            sender_node.label(),
            svc.path(),
            match version {
                Version::Incubator => "in-tree incubator impl_zmq".to_string(),
                _ => "legacy impl_zmq; release not given, Liberty (oslo.messaging 2.5) assumed"
                    .to_string(),
            },
            svc.matchmaker.value,
        ),
        vec![
            setting_evidence(svc, &svc.matchmaker, "rpc_zmq_matchmaker"),
            setting_evidence(svc, &svc.port, "rpc_zmq_port"),
        ],
    );

    // The key.
    let key = sender_key(&send, version);
    let why = match (&send, binding(&key)) {
        (Send::Notify { .. }, _) => {
            "notifications rewrite every '.' to '-' so the topic is not taken for a direct route"
        }
        (_, Binding::Fanout) => {
            "'fanout~' prefix: FanoutBinding, one message per host of the ring key"
        }
        (_, Binding::Direct) => {
            "a '.' in the key: DirectBinding, the host is everything after the first '.'"
        }
        (_, Binding::Topic) => "no '.': TopicBinding, round robin over the hosts of the ring key",
    };
    r.step(
        Status::Info,
        format!("matchmaker key '{key}': {why}"),
        vec![],
    );
    if matches!(send, Send::Notify { .. }) {
        let b = binding(&key);
        let how = match b {
            Binding::Topic => "no '.' left: TopicBinding, round robin over the ring key",
            _ => "still a binding other than the topic binding",
        };
        r.step(Status::Info, format!("'{key}': {how}"), vec![]);
    }

    // The matchmaker.
    let kind = svc.matchmaker_kind().to_string();
    let ring = cluster.ring_of(sender_node);
    let mm = match kind.as_str() {
        "ring" => match ring {
            Some(ring) => Matchmaker::Ring(ring),
            None if binding(&key) == Binding::Direct => Matchmaker::Stub,
            None => {
                r.step(
                    Status::Unknown,
                    format!(
                        "the ring matchmaker reads {} but no ringfile was given (--ringfile or a *.json in the node directory)",
                        svc.ringfile.value
                    ),
                    vec![setting_evidence(svc, &svc.ringfile, "[matchmaker_ring] ringfile")],
                );
                return r;
            }
        },
        "local" => Matchmaker::Local,
        "redis" => Matchmaker::Redis,
        other => {
            r.step(
                Status::Fail,
                format!("rpc_zmq_matchmaker = {other} is not a legacy matchmaker: the service fails when it first sends"),
                vec![setting_evidence(svc, &svc.matchmaker, "rpc_zmq_matchmaker")],
            );
            r.delivered = Some(false);
            return r;
        }
    };
    let ring_name = match &mm {
        Matchmaker::Ring(rf) => Some(rf.path.clone()),
        _ => None,
    };
    let mut sim = Simulator::new(mm);
    let first = sim.queues(&key);
    if let Some(opaque) = &first.opaque {
        r.step(
            Status::Unknown,
            format!("redis matchmaker: {opaque}"),
            vec![],
        );
        return r;
    }
    if let Some(f) = &first.failure {
        let ev = ring
            .and_then(|rf| {
                let k = key.strip_prefix("fanout~").unwrap_or(&key);
                rf.get(k).map(|e| Evidence::file(&rf.path, e.line, &e.text))
            })
            .into_iter()
            .collect();
        r.step(Status::Fail, format!("the matchmaker raises {f}"), ev);
        r.delivered = Some(false);
        return r;
    }
    if first.pairs.is_empty() {
        let mut ev = Vec::new();
        let mut hint = String::new();
        if let Some(rf) = ring {
            let k = key.strip_prefix("fanout~").unwrap_or(&key);
            if let Some((entry, reason)) = super::checks::near_key(rf, k) {
                ev.push(Evidence::file(&rf.path, entry.line, &entry.text));
                let _ = write!(hint, "; the ring has '{}' ({reason})", entry.key);
            } else if let Some(e) = rf.get(k) {
                ev.push(Evidence::file(&rf.path, e.line, &e.text));
                let _ = write!(hint, "; the key '{k}' lists no host");
            }
        }
        let empty = if version == LATEST_LEGACY {
            format!(
                "'{}' ('{}' up to oslo.messaging 1.8.1)",
                version.empty_result_line(),
                Version::OsloMessaging(1, 8, 1).empty_result_line()
            )
        } else {
            format!("'{}'", version.empty_result_line())
        };
        let lines = match &first.warning {
            Some(w) => format!("WARNING '{w}' then WARNING {empty}"),
            None => format!("WARNING {empty}"),
        };
        r.step(
            Status::Fail,
            format!(
                "{} returns no (queue, host) pair for '{key}'{hint}: the sender logs {lines}; a cast is dropped, a call raises Timeout",
                ring_name.as_deref().unwrap_or("the matchmaker")
            ),
            ev,
        );
        r.delivered = Some(false);
        return r;
    }
    let mut pairs = first.pairs.clone();
    if first.binding == Binding::Topic {
        // Round robin: every host of the cycle gets a turn.
        let k = key.as_str();
        let n = ring
            .and_then(|rf| rf.get(k))
            .map(|e| match &e.value {
                RingValue::Hosts(h) => h.len(),
                RingValue::Str(s) => s.chars().count(),
                _ => 1,
            })
            .unwrap_or(1);
        for _ in 1..n.min(64) {
            let q = sim.queues(k);
            for p in q.pairs {
                if !pairs.contains(&p) {
                    pairs.push(p);
                }
            }
        }
    }
    let list = pairs
        .iter()
        .map(|(q, h)| format!("('{q}', '{h}')"))
        .collect::<Vec<_>>()
        .join(", ");
    let ev: Vec<Evidence> = ring
        .and_then(|rf| {
            let k = match first.binding {
                Binding::Fanout => key.strip_prefix("fanout~").unwrap_or(&key),
                _ => key.as_str(),
            };
            rf.get(k).map(|e| Evidence::file(&rf.path, e.line, &e.text))
        })
        .filter(|_| first.binding != Binding::Direct)
        .into_iter()
        .collect();
    let rr = if first.binding == Binding::Topic && pairs.len() > 1 {
        " (one per message, in this order, per sending process)"
    } else {
        ""
    };
    r.step(Status::Ok, format!("matchmaker returns [{list}]{rr}"), ev);
    if let (Binding::Fanout, Version::OsloMessaging(..)) = (first.binding, version) {
        if !version.fanout_reaches_all() && pairs.len() > 1 {
            r.step(
                Status::Fail,
                "this release sends a fanout to the first host only (fixed in oslo.messaging 1.4.0)",
                vec![],
            );
        }
    }

    let mut all = Some(true);
    for (queue, host) in &pairs {
        let d = deliver(cluster, &mut r, sender_node, svc, port, queue, host);
        all = match (all, d) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (None, _) | (_, None) => None,
            _ => Some(true),
        };
    }
    r.delivered = all;
    r
}

/// Follow one (queue, host) pair to the consumer on the destination.
fn deliver(
    cluster: &Cluster<'_>,
    r: &mut Route,
    sender: &NodeView<'_>,
    svc: &ServiceView<'_>,
    port: u16,
    queue: &str,
    host: &str,
) -> Option<bool> {
    // Resolution.
    let resolved = cluster.resolve(host, Some(sender));
    // Whether every step could be checked.
    let mut certain = true;
    let ip = match &resolved {
        Resolved::Addr(ip, ev) => {
            r.step(
                Status::Ok,
                format!(
                    "PUSH connects to tcp://{host}:{port}; {host} resolves to {ip} on {}",
                    sender.label()
                ),
                ev.iter().cloned().collect(),
            );
            Some(*ip)
        }
        Resolved::Missing(table) => {
            r.step(
                Status::Fail,
                format!(
                    "PUSH connects to tcp://{host}:{port} but '{host}' is not in {table}: the sender fails with 'Could not open socket.'"
                ),
                vec![],
            );
            return Some(false);
        }
        Resolved::Unknown => {
            r.step(
                Status::Unknown,
                format!("PUSH connects to tcp://{host}:{port}; '{host}' not resolved (give --hosts FILE or --resolve)"),
                vec![],
            );
            certain = false;
            None
        }
    };
    let dest = ip
        .and_then(|ip| cluster.node_at(ip))
        .or_else(|| cluster.node_named(host));
    let Some(dest) = dest else {
        r.step(
            Status::Unknown,
            format!("no node given has the name or address of '{host}' (give its configs with --node {host}=DIR)"),
            vec![],
        );
        return None;
    };
    if let Some(ip) = ip {
        if ip.is_loopback() && dest.label() != sender.label() {
            r.step(
                Status::Fail,
                format!(
                    "'{host}' resolves to the loopback address {ip}: the message stays on {}",
                    sender.label()
                ),
                vec![],
            );
            return Some(false);
        }
    }
    // The receiver.
    let Some((recv, own)) = dest.receiver() else {
        r.step(
            Status::Unknown,
            format!("node {} has no receiver or legacy service config: its receiver's port and IPC directory are unknown", dest.label()),
            vec![],
        );
        return None;
    };
    let assumed = if own {
        String::new()
    } else {
        format!(
            " (no receiver config given: assumed to run with {})",
            recv.path()
        )
    };
    let rport = recv.port_number().unwrap_or(model::DEFAULT_PORT);
    if rport != port {
        r.step(
            Status::Fail,
            format!(
                "the receiver on {} listens on port {rport}{assumed}, not {port}: the connection is refused (RST)",
                dest.label()
            ),
            vec![
                setting_evidence(recv, &recv.port, "rpc_zmq_port"),
                setting_evidence(svc, &svc.port, "rpc_zmq_port"),
            ],
        );
        return Some(false);
    }
    let bind = recv.bind_address.value.trim();
    if let (Some(ip), Ok(b)) = (ip, bind.parse::<std::net::IpAddr>()) {
        if !b.is_unspecified() && b != ip {
            r.step(
                Status::Fail,
                format!(
                    "the receiver on {} binds {b}:{rport}{assumed}, not {ip}: the connection is refused (RST)",
                    dest.label()
                ),
                vec![setting_evidence(recv, &recv.bind_address, "rpc_zmq_bind_address")],
            );
            return Some(false);
        }
    }
    let forward = match receiver_forward(queue) {
        Ok(f) => f,
        Err(w) => {
            r.step(
                Status::Fail,
                format!(
                    "the receiver on {} drops queue '{queue}': WARNING '{w}'",
                    dest.label()
                ),
                vec![],
            );
            return Some(false);
        }
    };
    let rdir = recv.ipc_dir.value.trim().to_string();
    let rpath = ipc_path(&rdir, &forward.1);
    r.step(
        Status::Ok,
        format!(
            "the receiver on {} accepts on port {rport}{assumed} and forwards with {} to {rpath}",
            dest.label(),
            forward.0.as_str()
        ),
        vec![setting_evidence(recv, &recv.ipc_dir, "rpc_zmq_ipc_dir")],
    );
    // The consumer.
    let topic = queue.split('.').next().unwrap_or(queue);
    let Some(consumer) = dest.consumer_for(topic) else {
        r.step(
            Status::Unknown,
            format!(
                "no service config on {} to tell where its consumers listen",
                dest.label()
            ),
            vec![],
        );
        return None;
    };
    let (chost, chost_ev) = match consumer.rpc_zmq_host {
        Some(e) => (
            e.value.trim().to_string(),
            Evidence::entry(consumer.path(), e),
        ),
        None => match dest.zmq_host() {
            Some((h, Some((path, e)))) => (h, Evidence::entry(path, e)),
            Some((h, None)) => (
                h.clone(),
                consumer.evidence_for(
                    None,
                    &format!("rpc_zmq_host not set: the hostname, taken to be '{h}'"),
                ),
            ),
            None => {
                r.step(
                    Status::Unknown,
                    format!("the rpc_zmq_host of the consumers on {} is not set and the hostname is not known", dest.label()),
                    vec![],
                );
                return None;
            }
        },
    };
    let (ctype, cname) = consumer_name(queue, &chost);
    let cdir = consumer.ipc_dir.value.trim().to_string();
    let cpath = ipc_path(&cdir, &cname);
    if cname == forward.1 && same_dir(&cdir, &rdir) {
        let svc_note = if dest.inventory.is_empty()
            || model::SERVICE_TOPICS.iter().any(|t| {
                t.topics.contains(&topic.trim_start_matches("fanout~"))
                    && dest.inventory.iter().any(|i| i == t.service)
            })
            || topic.starts_with("zmq_replies")
        {
            String::new()
        } else {
            format!(
                " (but no service consuming '{}' is known on {}: services seen {})",
                topic.trim_start_matches("fanout~"),
                dest.label(),
                dest.inventory.join(", ")
            )
        };
        r.step(
            Status::Ok,
            format!(
                "delivered: the consumers of {} ({}) listen with {} on {cpath}{svc_note}",
                dest.label(),
                consumer.path(),
                ctype.as_str()
            ),
            vec![chost_ev],
        );
        return if certain { Some(true) } else { None };
    }
    let why = if !same_dir(&cdir, &rdir) {
        format!("the receiver's rpc_zmq_ipc_dir is {rdir} but the service's is {cdir}")
    } else {
        let qhost = queue.split_once('.').map(|x| x.1).unwrap_or("");
        format!("the queue's host part '{qhost}' is not the consumers' rpc_zmq_host '{chost}'")
    };
    r.step(
        Status::Fail,
        format!(
            "not delivered: the consumers of {} listen with {} on {cpath}, the receiver writes to {rpath}: {why}",
            dest.label(),
            ctype.as_str()
        ),
        vec![
            chost_ev,
            setting_evidence(consumer, &consumer.ipc_dir, "rpc_zmq_ipc_dir"),
        ],
    );
    Some(false)
}
