//! The capture checks (catalogue DOC-P01..P07) and the cross-reference of
//! logs and captures. They read [`WireFacts`] and, when given, the configs
//! (to name nodes, ports and options) and logs (to compare what a service
//! says it sent with what the wire carried).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use super::checks::{count, is_loopback_name};
use super::config::HaproxyServer;
use super::logs::{LogEvent, LogFile, LogRecord};
use super::matchmaker::Simulator;
use super::model::{Cluster, NodeView, Resolved};
use super::wire::{queue_host, Endpoint, RedisRecord, Sighting, WireFacts, WireMessage};
use super::{Evidence, Finding, Findings, Severity};
use crate::oslo::Kind;
use crate::time::Timestamp;

const SECOND: u64 = 1_000_000_000;
/// A SYN this long before the end of the capture had time to be answered.
const SYN_PATIENCE_NS: u64 = SECOND;
/// An unanswered call this old at the end of the capture counts as lost.
const CALL_PATIENCE_NS: u64 = SECOND;
/// How far from a logged send its message may be on the wire: clocks of
/// the logging host and the capturing host differ, and a PUSH socket may
/// hold a message while it connects.
const LOG_BEFORE_NS: u64 = 2 * SECOND;
const LOG_AFTER_NS: u64 = 5 * SECOND;
/// Evidence lines quoted per finding.
const MAX_QUOTES: usize = 3;

/// Socket types libzmq lets meet (ZMTP 23/ZMTP, "socket compatibility").
fn compatible(a: &str, b: &str) -> bool {
    let pair = |x: &str, y: &str| (a == x && b == y) || (a == y && b == x);
    pair("REQ", "REP")
        || pair("REQ", "ROUTER")
        || pair("DEALER", "REP")
        || pair("DEALER", "DEALER")
        || pair("DEALER", "ROUTER")
        || pair("ROUTER", "ROUTER")
        || pair("PUB", "SUB")
        || pair("PUB", "XSUB")
        || pair("XPUB", "SUB")
        || pair("XPUB", "XSUB")
        || pair("PUSH", "PULL")
        || pair("PAIR", "PAIR")
        || pair("CLIENT", "SERVER")
        || pair("RADIO", "DISH")
        || pair("SCATTER", "GATHER")
}

/// A call that asks for its reply on a loopback name (`zmq_replies.localhost`).
fn asks_reply_on_loopback(m: &WireMessage) -> bool {
    m.kind == Kind::Call
        && m.reply_topic
            .as_deref()
            .and_then(queue_host)
            .is_some_and(is_loopback_name)
}

fn seconds(ns: u64) -> String {
    if ns >= 10 * SECOND {
        format!("{} s", ns / SECOND)
    } else {
        format!("{:.1} s", ns as f64 / SECOND as f64)
    }
}

fn ev(facts: &WireFacts, at: &Sighting) -> Evidence {
    Evidence::capture(facts.name(), &at.conn, at.ts)
}

fn ev_msg(facts: &WireFacts, m: &WireMessage) -> Evidence {
    Evidence::capture(facts.name(), &m.conn, m.ts)
}

/// What the configs say about an address: the node's name and its label
/// for sentences (`compute2 (127.0.21.3:9501)`).
struct Who<'c, 'a> {
    node: Option<&'c NodeView<'a>>,
    label: String,
}

fn who<'c, 'a>(c: &'c Cluster<'a>, addr: SocketAddr) -> Who<'c, 'a> {
    Who {
        node: c.node_at(addr.ip()),
        label: labelled(name_of(c, addr.ip()), addr),
    }
}

/// `controller (10.0.0.1)` or `10.0.0.1`: a host by its address.
fn host_label(c: &Cluster<'_>, ip: IpAddr) -> String {
    labelled(name_of(c, ip), ip)
}

fn labelled(name: Option<String>, addr: impl std::fmt::Display) -> String {
    match name {
        Some(n) => format!("{n} ({addr})"),
        None => addr.to_string(),
    }
}

/// The name of the host at `ip`: its node's, else its hosts-table name.
fn name_of(c: &Cluster<'_>, ip: IpAddr) -> Option<String> {
    c.node_at(ip)
        .map(|n| n.name().to_string())
        .filter(|n| n != super::LOOSE_NODE)
        .or_else(|| reverse_name(c, ip))
}

/// A name the hosts tables give this address.
fn reverse_name(c: &Cluster<'_>, ip: IpAddr) -> Option<String> {
    let tables = c
        .hosts
        .into_iter()
        .chain(c.nodes.iter().filter_map(|n| n.node.hosts.as_ref()));
    for t in tables {
        if let Some(e) = t.entries.iter().find(|e| e.ip == ip) {
            if let Some(n) = e.names.first() {
                return Some(n.clone());
            }
        }
    }
    None
}

/// Resolve `name` as `from` would, else with any node's hosts table (the
/// sender's node may not be known from its address).
fn resolve_ip(c: &Cluster<'_>, name: &str, from: Option<&NodeView<'_>>) -> Option<IpAddr> {
    if let Resolved::Addr(ip, _) = c.resolve(name, from) {
        return Some(ip);
    }
    c.nodes.iter().find_map(|n| match c.resolve(name, Some(n)) {
        Resolved::Addr(ip, _) => Some(ip),
        _ => None,
    })
}

/// Where a `server` line of a haproxy.cfg sends to, resolved.
struct Backend<'a> {
    path: &'a str,
    server: &'a HaproxyServer,
    bind_ports: Vec<u16>,
}

fn backends<'c>(c: &'c Cluster<'_>) -> Vec<(SocketAddr, Backend<'c>)> {
    let mut out = Vec::new();
    for n in &c.nodes {
        for cfg in &n.node.haproxy {
            for p in &cfg.proxies {
                let bind_ports: Vec<u16> = p.binds.iter().map(|b| b.port).collect();
                for s in &p.servers {
                    let ip = match c.resolve(&s.addr, Some(n)) {
                        Resolved::Addr(ip, _) => ip,
                        _ => continue,
                    };
                    let ports = match s.port {
                        Some(port) => vec![port],
                        None => bind_ports.clone(),
                    };
                    for port in ports {
                        out.push((
                            SocketAddr::new(ip, port),
                            Backend {
                                path: &cfg.path,
                                server: s,
                                bind_ports: bind_ports.clone(),
                            },
                        ));
                    }
                }
            }
        }
    }
    out
}

/// The ports the configs declare: every legacy service's and receiver's
/// `rpc_zmq_port`, haproxy's binds and backends.
pub fn declared_ports(c: &Cluster<'_>) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for n in &c.nodes {
        for s in n.legacy_services().chain(n.receivers.iter()) {
            if let Some(p) = s.port_number() {
                ports.insert(p);
            }
        }
        for cfg in &n.node.haproxy {
            for p in &cfg.proxies {
                ports.extend(p.binds.iter().map(|b| b.port));
                ports.extend(p.servers.iter().filter_map(|s| s.port));
            }
        }
    }
    ports
}

/// The median gap between connection attempts, when they repeat.
fn retry_interval(e: &Endpoint) -> Option<u64> {
    let mut gaps: Vec<u64> = e
        .attempt_times
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some(b.nanos_since(*a)),
            _ => None,
        })
        .collect();
    if gaps.len() < 2 {
        return None;
    }
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied()
}

fn clients_text(e: &Endpoint) -> String {
    let list: Vec<String> = e.clients.iter().map(IpAddr::to_string).collect();
    list.join(", ")
}

/// Run every capture check and the log cross-reference.
pub fn run(c: &Cluster<'_>, captures: &[WireFacts], out: &mut Findings) {
    let backends = backends(c);
    let declared = declared_ports(c);
    for facts in captures {
        overview(facts, out);
        let loopback_replies = facts.messages.iter().any(asks_reply_on_loopback);
        let mut calls_to: BTreeMap<SocketAddr, Vec<&WireMessage>> = BTreeMap::new();
        for m in facts.messages.iter().filter(|m| m.kind == Kind::Call) {
            calls_to.entry(m.dst).or_default().push(m);
        }
        let registered = redis_listeners(c, facts);
        for (addr, e) in &facts.endpoints {
            let backend = backends.iter().find(|(a, _)| a == addr).map(|(_, b)| b);
            // The name service's record explains it (and no receiver is
            // meant to listen there).
            let explained = registered
                .get(addr)
                .is_some_and(|records| dead_registration(c, facts, *addr, e, records, out));
            if !explained {
                refused(c, facts, *addr, e, backend, loopback_replies, out);
                unanswered(c, facts, *addr, e, out);
            }
            not_zmtp(c, facts, *addr, e, out);
            socket_types(c, facts, *addr, e, out);
            silent(c, facts, &calls_to, *addr, e, out);
            undeclared_port(c, facts, *addr, e, &declared, out);
        }
        replies(c, facts, out);
        queue_hosts(c, facts, out);
        fanouts(c, facts, out);
        redis_lookups(facts, out);
        redis_errors(facts, out);
        redis_servers(facts, out);
    }
    logs_vs_wire(c, captures, out);
}

/// The listeners the name service named in this capture, by address: a
/// member's host is an address or a name the configs resolve.
fn redis_listeners<'f>(
    c: &Cluster<'_>,
    facts: &'f WireFacts,
) -> BTreeMap<SocketAddr, Vec<(&'f str, &'f str, &'f RedisRecord)>> {
    let mut by_addr: BTreeMap<SocketAddr, Vec<(&str, &str, &RedisRecord)>> = BTreeMap::new();
    // A record removed in the capture is not handed out any more.
    for ((key, member), record) in facts.redis.records.iter().filter(|(_, r)| !r.removed) {
        let Some((host, port)) = crate::oslo::names::host_port(member.as_bytes()) else {
            continue;
        };
        let ip = host
            .parse::<IpAddr>()
            .ok()
            .or_else(|| resolve_ip(c, host, None));
        if let Some(ip) = ip {
            by_addr.entry(SocketAddr::new(ip, port)).or_default().push((
                key.as_str(),
                member.as_str(),
                record,
            ));
        }
    }
    by_addr
}

/// A listener the name service still hands out, where nothing listens any
/// more (DOC-P09; FM16, FM23): its service died without unregistering, or
/// its host is gone. Whether it was reported.
fn dead_registration(
    c: &Cluster<'_>,
    facts: &WireFacts,
    addr: SocketAddr,
    e: &Endpoint,
    records: &[(&str, &str, &RedisRecord)],
    out: &mut Findings,
) -> bool {
    // A SYN just before the capture ends had no time to be answered.
    let unanswered = match &e.first_unanswered {
        Some(u) if facts.covers(u.ts, 0, SYN_PATIENCE_NS) => e.unanswered,
        _ => 0,
    };
    let (Some((key, member, record)), true) = (records.first(), e.refused + unanswered > 0) else {
        return false;
    };
    let w = who(c, addr);
    let how = match (e.refused, unanswered) {
        (r, 0) => count(r, "attempt refused", "attempts refused"),
        (0, u) => count(u, "attempt unanswered", "attempts unanswered"),
        (r, u) => format!("{r} refused, {u} unanswered"),
    };
    let keys: Vec<&str> = records.iter().map(|(k, _, _)| *k).collect();
    let severity = if e.accepted > 0 {
        Severity::Warning
    } else {
        Severity::Error
    };
    let mut title = format!(
        "redis names {member} as a listener ({}) but nothing answers there: {how} from {}",
        keys.join(", "),
        clients_text(e)
    );
    if e.accepted > 0 {
        title.push_str(&format!(
            "; {} accepted at other times",
            count(e.accepted, "connection was", "connections were")
        ));
    }
    let said = if record.registered {
        "registered"
    } else {
        "handed out by a lookup"
    };
    let mut f = Finding::new("redis-dead-listener", severity, title)
        .evidence(ev(facts, &record.at).note(&format!("{key} → {member}, {said}")))
        .evidence_all(
            [&e.first_refused, &e.first_unanswered]
                .into_iter()
                .flatten()
                .map(|at| ev(facts, at).note("connection to it")),
        )
        .fix(if e.refused > 0 {
            format!(
                "the service that registered {member} is gone without unregistering (killed, or crashed), and clients still pick it: messages sent there are lost. Restart it, or remove the record (redis-cli SREM {key} {member}; LREM for releases before 4.6); set [oslo_messaging_zmq] zmq_target_expire so records of dead services expire, with zmq_target_update about half of it"
            )
        } else {
            format!(
                "nothing answers the SYNs: the host of {member} is down, or a firewall drops them (the new driver's random ports 49153-65535 must be open between nodes). If the service is gone, remove its record (redis-cli SREM {key} {member}) and set zmq_target_expire so such records expire"
            )
        })
        .refs(&["FM16", "FM23", "DOC-P09"]);
    if let Some(n) = w.node {
        f = f.node(n.name());
    }
    out.push(f);
    true
}

/// Lookups the name service answered with nothing (DOC-P09; FM23): the
/// driver drops those messages ("Matchmaker contains no records").
fn redis_lookups(facts: &WireFacts, out: &mut Findings) {
    for (key, lookups) in &facts.redis.lookups {
        let known = facts
            .redis
            .records
            .range((key.clone(), String::new())..)
            .next();
        let ever_named = known.is_some_and(|((k, _), _)| k == key);
        // Only when every answer was empty, and the record table missed
        // nothing that could have named it.
        let always_empty = lookups.empty == lookups.asked && facts.redis.records_dropped == 0;
        let (Some(first), false, true) = (&lookups.first_empty, ever_named, always_empty) else {
            continue;
        };
        let clients: Vec<String> = lookups.clients.iter().map(IpAddr::to_string).collect();
        out.push(
            Finding::new(
                "redis-no-listener",
                Severity::Error,
                format!(
                    "redis has no listener for {key}: asked {} by {}, answered empty every time",
                    count(lookups.asked, "time", "times"),
                    clients.join(", ")
                ),
            )
            .evidence(ev(facts, first).note("empty answer"))
            .fix(format!(
                "no running service registered {key} with this redis, so the driver drops what is sent to that target (\"Matchmaker contains no records for specified target\"): start the service, and check that it and its clients use the same redis (transport_url zmq+redis://<host>:6379, or [matchmaker_redis] host)"
            ))
            .refs(&["FM23", "DOC-P09"]),
        );
    }
}

/// More than one redis answering the driver (DOC-P09, DOC-C12; FM23): a
/// service registered in one is invisible to the clients of another.
fn redis_servers(facts: &WireFacts, out: &mut Findings) {
    let servers = &facts.redis.servers;
    if servers.len() < 2 {
        return;
    }
    let list: Vec<String> = servers
        .iter()
        .map(|(addr, (clients, _))| {
            let who: Vec<String> = clients.iter().map(IpAddr::to_string).collect();
            format!("{addr} (asked by {})", who.join(", "))
        })
        .collect();
    out.push(
        Finding::new(
            "redis-servers-differ",
            Severity::Error,
            format!(
                "the capture shows {} name services in use: {}",
                servers.len(),
                list.join("; ")
            ),
        )
        .evidence_all(
            servers
                .values()
                .take(MAX_QUOTES)
                .map(|(_, at)| ev(facts, at).note("redis exchange")),
        )
        .fix("services registered in one redis are invisible to the clients of another, which drop what they send them: point every node at the same redis (transport_url = zmq+redis://<host>:6379, or [matchmaker_redis] host), never at its own loopback")
        .refs(&["FM23", "DOC-C12", "DOC-P09"]),
    );
}

/// Error replies from redis (DOC-P09; FM17).
fn redis_errors(facts: &WireFacts, out: &mut Findings) {
    let Some(first) = facts.redis.errors.first() else {
        return;
    };
    let fix = if first.error.starts_with("WRONGTYPE") {
        "a key of another type is in the way (releases before 1.7.0 first wrote topic.host as a string; a key written by another tool): delete it (redis-cli DEL <key>) and restart the services"
    } else if first.error.starts_with("NOAUTH") || first.error.contains("password") {
        "redis wants a password: set [matchmaker_redis] password (or the password in transport_url) on every node"
    } else {
        "the name service refuses the driver's commands: check the redis server's log and version"
    };
    let total = facts.redis.errors.len() as u64 + facts.redis.errors_dropped;
    out.push(
        Finding::new(
            "redis-error",
            Severity::Error,
            format!(
                "redis answered {} with an error: {} ({})",
                count(total, "command", "commands"),
                first.error,
                first.command
            ),
        )
        .evidence_all(
            facts
                .redis
                .errors
                .iter()
                .take(MAX_QUOTES)
                .map(|e| ev(facts, &e.at).note(&format!("{} → {}", e.command, e.error))),
        )
        .fix(fix)
        .refs(&["FM17", "DOC-P09"]),
    );
}

/// What the capture holds, and whether it can say anything.
fn overview(facts: &WireFacts, out: &mut Findings) {
    let span = match (facts.first_ts, facts.last_ts) {
        (Some(a), Some(b)) => format!(
            " from {} to {}",
            crate::output::utc_datetime(a, crate::time::Precision::Micro),
            crate::output::utc_datetime(b, crate::time::Precision::Micro)
        ),
        _ => String::new(),
    };
    let answered = facts.calls_answered;
    let calls = answered + facts.calls_unanswered;
    let mut title = format!(
        "capture {}: {} ({} ZeroMQ), {} of the legacy driver, {} of the new one, {} ({} answered){span}",
        facts.name(),
        count(facts.connections, "TCP connection", "TCP connections"),
        facts.zmtp_connections,
        count(facts.legacy_messages(), "message", "messages"),
        facts.new_messages,
        count(calls, "call", "calls"),
        answered,
    );
    let mut notes = Vec::new();
    if facts.endpoints_dropped > 0 {
        notes.push(format!(
            "{} to endpoints beyond the first {} not examined",
            count(facts.endpoints_dropped, "connection", "connections"),
            super::wire::MAX_ENDPOINTS
        ));
    }
    if facts.messages_dropped > 0 {
        notes.push(format!(
            "{} beyond the first {} not compared one by one",
            count(facts.messages_dropped, "message", "messages"),
            super::wire::MAX_MESSAGES
        ));
    }
    if facts.socket_pairs_dropped > 0 {
        notes.push(format!(
            "{} of socket types beyond 8 per endpoint not examined",
            count(facts.socket_pairs_dropped, "pair", "pairs")
        ));
    }
    if facts.forwarded > 0 {
        notes.push(format!(
            "{} seen again one hop further (haproxy, proxy), counted once",
            count(facts.forwarded, "message", "messages")
        ));
    }
    if facts.names_cut > 0 {
        notes.push(format!(
            "{} longer than {} bytes cut",
            count(facts.names_cut, "name", "names"),
            super::wire::MAX_NAME
        ));
    }
    let redis = &facts.redis;
    if redis.exchanges > 0 {
        let mut said = format!(
            "the redis name service: {} read, {}",
            count(redis.exchanges, "command", "commands"),
            count(
                redis.records.len() as u64,
                "listener record",
                "listener records"
            ),
        );
        let dropped = redis.records_dropped
            + redis.lookups_dropped
            + redis.errors_dropped
            + redis.servers_dropped;
        if dropped > 0 {
            said.push_str(&format!(" ({dropped} beyond the tables' caps not kept)"));
        }
        notes.push(said);
    }
    if let Some(t) = &facts.truncated {
        notes.push(t.clone());
    }
    if !notes.is_empty() {
        title = format!("{title}; {}", notes.join("; "));
    }
    out.push(Finding::new("capture-read", Severity::Info, title).refs(&["DOC-P01"]));
    // Connections that got going and none spoke ZeroMQ (refused ones are
    // reported each on its own).
    if facts.zmtp_connections == 0 && facts.endpoints.values().any(|e| e.accepted > 0) {
        out.push(
            Finding::new(
                "capture-no-zeromq",
                Severity::Warning,
                format!(
                    "capture {} holds TCP but no ZeroMQ traffic",
                    facts.name()
                ),
            )
            .fix("capture on the interface the rpc traffic crosses, on the rpc ports (tcpdump -i <if> -w f.pcap 'tcp port 9501')"),
        );
    }
}

/// SYN answered by RST: nothing listens (DOC-P01, DOC-P03).
fn refused(
    c: &Cluster<'_>,
    facts: &WireFacts,
    addr: SocketAddr,
    e: &Endpoint,
    backend: Option<&Backend<'_>>,
    loopback_replies: bool,
    out: &mut Findings,
) {
    let Some(first) = &e.first_refused else {
        return;
    };
    if addr.ip().is_loopback() && loopback_replies {
        // Callees sending replies to their own loopback: reported as
        // `capture-reply-to-localhost`, with this connection as evidence.
        return;
    }
    let w = who(c, addr);
    let cadence = retry_interval(e)
        .map(|g| format!(", retried every {}", ms(g)))
        .unwrap_or_default();
    let mut attempts = format!(
        "{} from {}{cadence}",
        count(e.refused, "attempt refused", "attempts refused"),
        clients_text(e)
    );
    if e.accepted > 0 {
        attempts.push_str(&format!(
            "; {} accepted at other times",
            count(e.accepted, "connection was", "connections were")
        ));
    }
    let severity = if e.accepted > 0 {
        Severity::Warning
    } else {
        Severity::Error
    };
    let at = ev(facts, first).note("SYN answered by RST");
    if let Some(b) = backend {
        // haproxy forwards to a port nobody listens on (FM12).
        let receiver_port = w
            .node
            .and_then(|n| n.receiver())
            .and_then(|(r, own)| own.then_some(r))
            .and_then(|r| r.port_number().map(|p| (p, r)));
        let fix = match receiver_port {
            Some((p, r)) if p != addr.port() => format!(
                "the receiver's config {} says rpc_zmq_port = {p}: make it {} (or change the server line of {} to port {p}), then restart the receiver",
                r.path(),
                addr.port(),
                b.path
            ),
            _ => format!(
                "start the zmq-receiver on {} listening on port {} (rpc_zmq_port = {} in its config), or point the server line of {} at the port it listens on",
                w.label,
                addr.port(),
                addr.port(),
                b.path
            ),
        };
        let mut f = Finding::new(
            "haproxy-backend-refused",
            Severity::Error,
            format!(
                "haproxy forwards {} to {addr} and nothing listens there: {attempts}",
                b.bind_ports
                    .first()
                    .map(|p| format!("port {p}"))
                    .unwrap_or_else(|| "connections".into()),
            ),
        )
        .evidence(at)
        .evidence(Evidence::file(b.path, b.server.line, &b.server.text))
        .fix(fix)
        .refs(&["FM12", "DOC-P01", "DOC-N03"]);
        if let Some(n) = w.node {
            f = f.node(n.name());
        }
        out.push(f);
        return;
    }
    let mut fix = format!(
        "start oslo-messaging-zmq-receiver on {} before the services and keep it supervised: it must listen on {addr}",
        w.label
    );
    let mut extra = Vec::new();
    if let Some(n) = w.node {
        if let Some((r, own)) = n.receiver() {
            let p = r.port_number();
            if own && p.is_some_and(|p| p != addr.port()) {
                fix = format!(
                    "senders use port {} but the receiver on {} is configured for {} ({}): use one rpc_zmq_port everywhere",
                    addr.port(),
                    n.name(),
                    p.unwrap_or_default(),
                    r.path()
                );
                extra.push(r.evidence_for(r.port.entry, "rpc_zmq_port not set: 9501"));
            } else {
                let bind = r.bind_address.value.trim();
                if bind != "*"
                    && !bind.is_empty()
                    && bind.parse::<IpAddr>().is_ok_and(|b| b != addr.ip())
                {
                    fix = format!(
                        "the receiver on {} binds {bind} (rpc_zmq_bind_address in {}), not {}: bind '*' or the address peers reach",
                        n.name(),
                        r.path(),
                        addr.ip()
                    );
                    extra.push(r.evidence_for(r.bind_address.entry, ""));
                }
            }
        }
    }
    if let (true, Some(ok)) = (e.accepted > 0, &e.first_accepted) {
        let when = if ok.ts > first.ts { "after" } else { "before" };
        fix = format!(
            "the receiver at {addr} was down for part of the capture (it accepted a connection {when} the refused ones): it started after its senders, restarted or crashed; start it before the services and keep it supervised, and check its log for a traceback"
        );
        extra.push(ev(facts, ok).note("accepted"));
    }
    let mut f = Finding::new(
        "capture-connection-refused",
        severity,
        format!(
            "connections to {} are refused, nothing listens there: {attempts}",
            w.label
        ),
    )
    .evidence(at)
    .evidence_all(extra)
    .fix(fix)
    .refs(&["FM11", "FM12", "FM13", "DOC-P01", "DOC-P03"]);
    if let Some(n) = w.node {
        f = f.node(n.name());
    }
    out.push(f);
}

fn ms(ns: u64) -> String {
    if ns >= SECOND {
        seconds(ns)
    } else {
        format!("{} ms", (ns + 500_000) / 1_000_000)
    }
}

/// SYN with no answer: filtered (DOC-P02).
fn unanswered(
    c: &Cluster<'_>,
    facts: &WireFacts,
    addr: SocketAddr,
    e: &Endpoint,
    out: &mut Findings,
) {
    let Some(first) = &e.first_unanswered else {
        return;
    };
    // A SYN just before the capture ended proves nothing.
    let Some(end) = facts.last_ts else {
        return;
    };
    if end.nanos_since(first.ts) < SYN_PATIENCE_NS {
        return;
    }
    let w = who(c, addr);
    let new_range = addr.port() >= 49153;
    let fix = if new_range {
        format!(
            "allow TCP from {} to {} on ports 49153-65535 (the new driver binds random ports there); check iptables/nftables on {} and any security group or firewall between them",
            clients_text(e),
            addr.ip(),
            w.label
        )
    } else {
        format!(
            "allow TCP port {} to {} from {}: check iptables/nftables on that node (iptables -S INPUT) and any security group or firewall between them",
            addr.port(),
            addr.ip(),
            clients_text(e)
        )
    };
    let severity = if e.accepted > 0 {
        Severity::Warning
    } else {
        Severity::Error
    };
    let mut f = Finding::new(
        "capture-syn-unanswered",
        severity,
        format!(
            "SYNs to {} get no answer at all, a firewall drops them: {} from {}",
            w.label,
            count(e.unanswered, "connection attempt", "connection attempts"),
            clients_text(e)
        ),
    )
    .evidence(ev(facts, first).note("SYN, no SYN-ACK or RST"))
    .fix(fix)
    .refs(&["FM11", "FM22", "DOC-P02"]);
    if let Some(n) = w.node {
        f = f.node(n.name());
    }
    out.push(f);
}

/// Something else answers on an rpc port (DOC-P04).
fn not_zmtp(
    c: &Cluster<'_>,
    facts: &WireFacts,
    addr: SocketAddr,
    e: &Endpoint,
    out: &mut Findings,
) {
    let Some((what, at)) = &e.not_zmtp else {
        return;
    };
    let w = who(c, addr);
    out.push(
        Finding::new(
            "capture-not-zeromq",
            Severity::Error,
            format!(
                "{} answers on a ZeroMQ port, but not with ZeroMQ ({what}): another service holds the port",
                w.label
            ),
        )
        .evidence(ev(facts, at))
        .fix(format!(
            "find the process on {} (ss -ltnp 'sport = :{}') and move it or the zmq-receiver to another port; every rpc_zmq_port must reach a receiver",
            addr.ip(),
            addr.port()
        ))
        .refs(&["FM12", "DOC-P04"]),
    );
}

/// Socket types that cannot talk to each other (DOC-P04, FM22).
fn socket_types(
    c: &Cluster<'_>,
    facts: &WireFacts,
    addr: SocketAddr,
    e: &Endpoint,
    out: &mut Findings,
) {
    for ((client, server), at) in &e.socket_pairs {
        if compatible(client, server) {
            continue;
        }
        let w = who(c, addr);
        let legacy = client == "PUSH" || server == "PULL";
        let fix = if legacy {
            "old (impl_zmq, PUSH/PULL) and new (ROUTER/DEALER) ZeroMQ drivers are mixed: upgrade every node at once, the two cannot talk".to_string()
        } else {
            format!("check which services connect to {addr}: libzmq drops {client} to {server} at the handshake")
        };
        out.push(
            Finding::new(
                "capture-socket-types",
                Severity::Error,
                format!(
                    "{client} sockets connect to a {server} socket at {}: libzmq refuses the pair and the connection closes",
                    w.label
                ),
            )
            .evidence(ev(facts, at))
            .fix(fix)
            .refs(&["FM22", "DOC-P04"]),
        );
    }
}

/// A receiver that takes messages and never answers a call (DOC-P06,
/// FM07/09/14): the queue reaches the node, no consumer reads it.
fn silent(
    c: &Cluster<'_>,
    facts: &WireFacts,
    calls_to: &BTreeMap<SocketAddr, Vec<&WireMessage>>,
    addr: SocketAddr,
    e: &Endpoint,
    out: &mut Findings,
) {
    if e.answered > 0 || e.calls == 0 {
        return;
    }
    let Some(end) = facts.last_ts else {
        return;
    };
    // Calls whose reply was asked for on a loopback name are explained by
    // `capture-reply-to-localhost`; calls cut by the end of the capture
    // prove nothing.
    let lost: Vec<&WireMessage> = calls_to
        .get(&addr)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .copied()
        .filter(|m| !asks_reply_on_loopback(m) && end.nanos_since(m.ts) >= CALL_PATIENCE_NS)
        .collect();
    let legacy = e.legacy_messages > 0;
    let samples: Vec<_> = e
        .unanswered_samples
        .iter()
        .filter(|u| end.nanos_since(u.at.ts) >= CALL_PATIENCE_NS)
        .filter(|u| !legacy || lost.iter().any(|m| m.ts == u.at.ts))
        .collect();
    if samples.is_empty() {
        return;
    }
    let w = who(c, addr);
    let mut queues: BTreeSet<&str> = lost.iter().map(|m| m.queue.as_str()).collect();
    for u in &samples {
        if let Some(t) = &u.topic {
            queues.insert(t);
        }
    }
    let queue_list: Vec<&str> = queues.iter().copied().take(4).collect();
    let casts = if e.casts > 0 {
        format!(
            "; {} delivered to it are probably lost as well",
            count(e.casts, "cast", "casts")
        )
    } else {
        String::new()
    };
    let n = if legacy {
        lost.len() as u64
    } else {
        e.unanswered_calls
    };
    let title = format!(
        "{} accepts messages but answers no call: {} to {} unanswered{casts}",
        w.label,
        count(n, "call", "calls"),
        queue_list.join(", ")
    );
    let first_queue = queue_list.first().copied().unwrap_or("the topic");
    let fix = if legacy {
        let host = queue_host(first_queue).unwrap_or("<host>");
        let consumer = w.node.and_then(|n| n.zmq_host()).map(|(h, _)| h);
        match consumer {
            Some(h) if h != host => format!(
                "the messages are for '{first_queue}' but the consumers on {} listen as '{h}' (rpc_zmq_host): make the ring's host string, the topic's host and rpc_zmq_host one identical name",
                w.label
            ),
            _ => format!(
                "on {}: make sure the service consuming '{first_queue}' runs, that its rpc_zmq_host is '{host}' and its rpc_zmq_ipc_dir is the receiver's (its receiver log says 'Creating proxy for topic: {first_queue}' when nobody consumes it)",
                w.label
            ),
        }
    } else {
        format!(
            "on {}: check the server process for {first_queue} runs and is not stuck; its log shows what it did with the message ids quoted here",
            w.label
        )
    };
    let mut f = Finding::new("capture-receiver-silent", Severity::Error, title)
        .evidence_all(samples.iter().take(MAX_QUOTES).map(|u| {
            let what = format!(
                "call {} {}: no reply in {}",
                u.topic.as_deref().unwrap_or("?"),
                u.method.as_deref().unwrap_or("?"),
                seconds(u.waited_ns)
            );
            ev(facts, &u.at).note(&what)
        }))
        .fix(fix)
        .refs(&["FM07", "FM09", "FM14", "DOC-P06"]);
    if let Some(n) = w.node {
        f = f.node(n.name());
    }
    out.push(f);
}

/// ZeroMQ on a port no config declares (only with legacy configs given).
fn undeclared_port(
    c: &Cluster<'_>,
    facts: &WireFacts,
    addr: SocketAddr,
    e: &Endpoint,
    declared: &BTreeSet<u16>,
    out: &mut Findings,
) {
    if declared.is_empty() || e.legacy_messages == 0 || declared.contains(&addr.port()) {
        return;
    }
    let Some(at) = &e.first_accepted else {
        return;
    };
    let w = who(c, addr);
    let list: Vec<String> = declared.iter().map(u16::to_string).collect();
    out.push(
        Finding::new(
            "capture-port-undeclared",
            Severity::Warning,
            format!(
                "legacy ZeroMQ messages go to {} on port {}, which no config given declares (they declare {})",
                w.label,
                addr.port(),
                list.join(", ")
            ),
        )
        .evidence(ev(facts, at).note(&count(e.legacy_messages, "message", "messages")))
        .fix(format!(
            "find the sender and the listener (ss -tnp 'dport = :{0}' on the senders, ss -ltnp 'sport = :{0}' on {1}) and give doctor their configs, or set rpc_zmq_port = {2} there",
            addr.port(),
            addr.ip(),
            list.first().map(String::as_str).unwrap_or("9501")
        ))
        .refs(&["FM12", "DOC-C07"]),
    );
}

/// Replies asked for on a loopback name, or on a name that is not the
/// caller (DOC-P06, FM10).
fn replies(c: &Cluster<'_>, facts: &WireFacts, out: &mut Findings) {
    let mut by_caller: BTreeMap<(IpAddr, String), Vec<&WireMessage>> = BTreeMap::new();
    for m in facts.messages.iter().filter(|m| m.kind == Kind::Call) {
        if let Some(rt) = &m.reply_topic {
            by_caller
                .entry((m.src.ip(), rt.clone()))
                .or_default()
                .push(m);
        }
    }
    for ((caller, reply_topic), calls) in by_caller {
        let Some(host) = queue_host(&reply_topic) else {
            continue;
        };
        let Some(first) = calls.first() else {
            continue;
        };
        let caller_node = c.node_at(caller);
        let caller_label = host_label(c, caller);
        let n = calls.len() as u64;
        if is_loopback_name(host) {
            // Where the callees then sent them: connections to loopback :port.
            let attempts: Vec<Evidence> = facts
                .endpoints
                .iter()
                .filter(|(a, e)| a.ip().is_loopback() && (e.refused > 0 || e.unanswered > 0))
                .filter_map(|(_, e)| e.first_refused.as_ref().or(e.first_unanswered.as_ref()))
                .take(1)
                .map(|s| ev(facts, s).note("a callee sends the reply to its own loopback"))
                .collect();
            let name = name_of(c, caller).unwrap_or_else(|| "<its hostname>".into());
            let severity = if c.multi_node()
                || facts
                    .endpoints
                    .keys()
                    .map(|a| a.ip())
                    .collect::<BTreeSet<_>>()
                    .len()
                    > 2
            {
                Severity::Critical
            } else {
                Severity::Error
            };
            let mut f = Finding::new(
                "capture-reply-to-localhost",
                severity,
                format!(
                    "calls from {caller_label} ask for their replies on '{reply_topic}': each callee sends the reply to its own loopback and the caller times out ({})",
                    count(n, "call", "calls")
                ),
            )
            .evidence(ev_msg(facts, first).note(&format!("request with reply topic {reply_topic}")))
            .evidence_all(attempts)
            .fix(format!(
                "set rpc_zmq_host on {caller_label} to its own resolvable, unique name (e.g. '{name}') in every service config and in the receiver's, then restart them"
            ))
            .refs(&["FM10", "DOC-P06", "DOC-C06"]);
            if let Some(node) = caller_node {
                f = f.node(node.name());
            }
            out.push(f);
            continue;
        }
        // The name resolves elsewhere than the caller.
        let from = c.node_at(first.dst.ip());
        if let Resolved::Addr(ip, line) = c.resolve(host, from) {
            if ip != caller && !ip.is_unspecified() {
                let mut f = Finding::new(
                    "capture-reply-elsewhere",
                    Severity::Error,
                    format!(
                        "calls from {caller_label} ask for replies on '{reply_topic}', but {host} resolves to {ip}: the replies go there ({})",
                        count(n, "call", "calls")
                    ),
                )
                .evidence(ev_msg(facts, first).note(&format!("request with reply topic {reply_topic}")))
                .fix(format!(
                    "make rpc_zmq_host of {caller_label} a name that resolves to {caller} on every node, or fix the hosts entry for {host}"
                ))
                .refs(&["FM10", "FM08", "DOC-P06"]);
                if let Some(l) = line {
                    f = f.evidence(l);
                }
                out.push(f);
            }
        }
    }
}

/// A queue's host part is not the name the destination's consumers use
/// (DOC-P05, FM07/FM09). Needs the destination's configs.
fn queue_hosts(c: &Cluster<'_>, facts: &WireFacts, out: &mut Findings) {
    type Seen<'m> = (u64, &'m WireMessage, BTreeSet<&'m str>);
    let mut seen: BTreeMap<(SocketAddr, String), Seen<'_>> = BTreeMap::new();
    for m in &facts.messages {
        if let Some(h) = &m.host {
            let slot = seen
                .entry((m.dst, h.clone()))
                .or_insert((0, m, BTreeSet::new()));
            slot.0 += 1;
            slot.2.insert(&m.queue);
        }
    }
    for ((dst, host), (n, m, queues)) in seen {
        let Some(node) = c.node_at(dst.ip()) else {
            continue;
        };
        let Some((consumer, entry)) = node.zmq_host() else {
            continue;
        };
        if consumer == host {
            continue;
        }
        let mut f = Finding::new(
            "capture-queue-host-mismatch",
            Severity::Error,
            format!(
                "{} for {} reach {} ({}), whose consumers listen as '{consumer}': nobody reads them",
                count(n, "message", "messages"),
                queues.iter().map(|q| format!("'{q}'")).collect::<Vec<_>>().join(", "),
                node.name(),
                dst.ip()
            ),
        )
        .evidence(ev_msg(facts, m))
        .fix(format!(
            "use one name for {}: the ring's host string, the 'host' option and rpc_zmq_host must all be '{host}' or all be '{consumer}'",
            node.name()
        ))
        .refs(&["FM07", "FM09", "DOC-P05"])
        .node(node.name());
        if let Some((path, e)) = entry {
            f = f.evidence(Evidence::entry(path, e));
        }
        out.push(f);
    }
}

/// Fanout completeness against the ring (DOC-P07; FM18 when every fanout
/// reached only the first host, FM04 otherwise).
fn fanouts(c: &Cluster<'_>, facts: &WireFacts, out: &mut Findings) {
    // One fanout = the copies with the same body from one sender within a
    // second.
    struct Group<'m> {
        topic: String,
        first: &'m WireMessage,
        hosts: Vec<String>,
    }
    let mut groups: Vec<Group<'_>> = Vec::new();
    for m in facts.messages.iter().filter(|m| m.kind == Kind::Fanout) {
        let Some(topic) = m
            .queue
            .strip_prefix("fanout~")
            .and_then(|q| q.split_once('.'))
            .map(|(t, _)| t.to_string())
        else {
            continue;
        };
        let host = m.host.clone().unwrap_or_default();
        // The copies of one fanout are sent back to back: look only at the
        // latest groups.
        match groups.iter_mut().rev().take(64).find(|g| {
            g.topic == topic
                && g.first.src.ip() == m.src.ip()
                && g.first.body_hash == m.body_hash
                && m.ts.nanos_since(g.first.ts) < SECOND
        }) {
            Some(g) => {
                if !g.hosts.contains(&host) {
                    g.hosts.push(host)
                }
            }
            None => groups.push(Group {
                topic,
                first: m,
                hosts: vec![host],
            }),
        }
    }
    let mut by_topic: BTreeMap<(String, IpAddr), Vec<&Group<'_>>> = BTreeMap::new();
    for g in &groups {
        by_topic
            .entry((g.topic.clone(), g.first.src.ip()))
            .or_default()
            .push(g);
    }
    for ((topic, sender), gs) in by_topic {
        let sender_node = c.node_at(sender);
        let ring = sender_node
            .and_then(|n| c.ring_of(n))
            .or(c.ring)
            .or_else(|| c.rings().next().map(|(_, r)| r));
        let Some(ring) = ring else {
            continue;
        };
        // Where the legacy matchmaker sends a fanout of this topic.
        let queues = Simulator::ring(ring).queues(&format!("fanout~{topic}"));
        let expected: Vec<String> = queues.pairs.into_iter().map(|(_, h)| h).collect();
        let Some(entry) = ring.get(&topic).filter(|e| {
            expected.len() >= 2 && matches!(e.value, super::config::RingValue::Hosts(_))
        }) else {
            continue;
        };
        // A host whose connections were refused or dropped is explained
        // by that finding; only unexplained gaps are reported here.
        let reachable: Vec<&String> = expected
            .iter()
            .filter(|h| {
                let ip = resolve_ip(c, h, sender_node);
                !facts.endpoints.iter().any(|(a, e)| {
                    Some(a.ip()) == ip && (e.refused > 0 || e.unanswered > 0) && e.accepted == 0
                })
            })
            .collect();
        let incomplete: Vec<&&Group<'_>> = gs
            .iter()
            .filter(|g| reachable.iter().any(|h| !g.hosts.contains(h)))
            .collect();
        let Some(g) = incomplete.first() else {
            continue;
        };
        let sender_label = host_label(c, sender);
        let first_only = gs
            .iter()
            .all(|g| g.hosts.len() == 1 && expected.first() == g.hosts.first());
        let ring_ev = Evidence::file(&ring.path, entry.line, &entry.text);
        let cap_ev = ev_msg(facts, g.first)
            .note(&format!("fanout~{topic} copies to: {}", g.hosts.join(", ")));
        let f = if first_only {
            Finding::new(
                "capture-fanout-first-host-only",
                Severity::Error,
                format!(
                    "fanouts of '{topic}' from {sender_label} reach only {} of the {} hosts the ring lists ({} of {})",
                    expected.first().map(String::as_str).unwrap_or("?"),
                    expected.len(),
                    gs.len(),
                    count(gs.len() as u64, "fanout", "fanouts")
                ),
            )
            .fix(format!(
                "the sender runs the fanout loop of oslo.messaging < 1.4.0 (or an openstack/common/rpc copy older than March 2014) that returns after the first host: upgrade oslo.messaging on {sender_label} to 1.4.0 or later, or re-sync the project's rpc copy"
            ))
            .refs(&["FM18", "DOC-P07"])
        } else {
            let missing: Vec<&str> = expected
                .iter()
                .filter(|h| !g.hosts.contains(h))
                .map(String::as_str)
                .collect();
            Finding::new(
                "capture-fanout-incomplete",
                Severity::Error,
                format!(
                    "{} of {} fanouts of '{topic}' from {sender_label} miss {} although the ring lists {}",
                    incomplete.len(),
                    gs.len(),
                    missing.join(", "),
                    expected.join(", ")
                ),
            )
            .fix(format!(
                "the sender's ring differs from this one or was loaded before an edit: compare the ring on {sender_label} with {} and restart the sending services",
                ring.path
            ))
            .refs(&["FM04", "DOC-P07"])
        };
        out.push(f.evidence(cap_ev).evidence(ring_ev));
    }
}

// ---------------------------------------------------------------------------
// logs against the wire
// ---------------------------------------------------------------------------

/// `2015-10-01 12:00:00.123` (also with `,` before the milliseconds) read
/// as UTC.
pub fn log_time(text: &str) -> Option<Timestamp> {
    let (date, time) = text.trim().split_once(' ')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = match time.split_once(['.', ',']) {
        Some((a, b)) => (a, b),
        None => (time, ""),
    };
    let mut t = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    // Years a log line can carry (four digits) keep the arithmetic below
    // far from overflowing.
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&da)
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    let digits: String = frac
        .chars()
        .take_while(char::is_ascii_digit)
        .take(9)
        .collect();
    let nanos = if digits.is_empty() {
        0
    } else {
        digits.parse::<u64>().ok()? * 10u64.pow(9 - digits.len() as u32)
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days).ok()?.checked_mul(86_400)? + h * 3600 + mi * 60 + s;
    Some(Timestamp::from_secs_nanos(secs, nanos))
}

/// A logged send: the line and the (queue, host) pairs it names.
struct LoggedSend<'l> {
    log: &'l LogFile,
    record: &'l LogRecord,
    ts: Timestamp,
    queue: &'l str,
    host: &'l str,
}

fn logged_sends(log: &LogFile) -> Vec<LoggedSend<'_>> {
    let mut out = Vec::new();
    for r in &log.records {
        let LogEvent::SendingTo { pairs } = &r.event else {
            continue;
        };
        let Some(ts) = r.time.as_deref().and_then(log_time) else {
            continue;
        };
        for (queue, host) in pairs {
            out.push(LoggedSend {
                log,
                record: r,
                ts,
                queue,
                host,
            });
        }
    }
    out
}

fn shifted(ts: Timestamp, offset_s: i64) -> Timestamp {
    let n = ts.as_nanos() as i128 - i128::from(offset_s) * i128::from(SECOND);
    Timestamp::from_nanos(n.clamp(0, i128::from(u64::MAX)) as u64)
}

/// Times per queue, sorted: "was there one near t?" in O(log n), however
/// busy the queue (a storm of 10,000 messages a second stays cheap).
#[derive(Default)]
struct TimesByQueue<'a> {
    times: std::collections::HashMap<&'a str, Vec<u64>>,
}

impl<'a> TimesByQueue<'a> {
    fn new(items: impl Iterator<Item = (&'a str, Timestamp)>) -> Self {
        let mut times: std::collections::HashMap<&'a str, Vec<u64>> = Default::default();
        for (q, ts) in items {
            times.entry(q).or_default().push(ts.as_nanos());
        }
        for v in times.values_mut() {
            v.sort_unstable();
        }
        TimesByQueue { times }
    }

    /// One in `[ts - before, ts + after]`?
    fn near(&self, queue: &str, ts: Timestamp, before: u64, after: u64) -> bool {
        let Some(v) = self.times.get(queue) else {
            return false;
        };
        let lo = ts.as_nanos().saturating_sub(before);
        let hi = ts.as_nanos().saturating_add(after);
        let i = v.partition_point(|&t| t < lo);
        v.get(i).is_some_and(|&t| t <= hi)
    }
}

/// Messages on the wire with this queue near a logged send at `ts`.
fn on_wire(wire: &TimesByQueue<'_>, queue: &str, ts: Timestamp) -> bool {
    wire.near(queue, ts, LOG_BEFORE_NS, LOG_AFTER_NS)
}

/// The log's clock relative to the capture's, in seconds: log times are
/// local time without a zone, so try every offset a zone can have and
/// keep the one under which the most logged sends are on the wire.
fn clock_offset(sends: &[LoggedSend<'_>], wire: &TimesByQueue<'_>) -> Option<(i64, usize)> {
    let mut best: Option<(i64, usize)> = None;
    for quarter in -56i64..=56 {
        let offset = quarter * 900;
        let hits = sends
            .iter()
            .filter(|s| on_wire(wire, s.queue, shifted(s.ts, offset)))
            .count();
        let better = match best {
            None => hits > 0,
            Some((o, h)) => hits > h || (hits == h && offset.abs() < o.abs()),
        };
        if better {
            best = Some((offset, hits));
        }
    }
    best
}

/// A send a log claims that no capture shows, and messages of a node the
/// capture shows that its DEBUG log does not (the catalogue's log checks
/// against the wire).
fn logs_vs_wire(c: &Cluster<'_>, captures: &[WireFacts], out: &mut Findings) {
    let messages: Vec<(&WireFacts, &WireMessage)> = captures
        .iter()
        .flat_map(|f| f.messages.iter().map(move |m| (f, m)))
        .collect();
    if messages.is_empty() {
        return;
    }
    let wire = TimesByQueue::new(messages.iter().map(|(_, m)| (m.queue.as_str(), m.ts)));
    for n in &c.nodes {
        let mut node_sends: Vec<LoggedSend<'_>> = Vec::new();
        let mut span: Option<(Timestamp, Timestamp)> = None;
        for log in &n.node.logs {
            let sends = logged_sends(log);
            if sends.is_empty() {
                continue;
            }
            let overlaps = sends
                .iter()
                .any(|s| captures.iter().any(|f| f.covers(s.ts, 0, 0)));
            let found = clock_offset(&sends, &wire).or(overlaps.then_some((0, 0)));
            let Some((offset, _)) = found else {
                let quoted = sends
                    .iter()
                    .take(1)
                    .map(|s| Evidence::file(&log.path, s.record.line, &s.record.text));
                out.push(
                    Finding::new(
                        "log-capture-disjoint",
                        Severity::Info,
                        format!(
                            "{} logs {} but none of them is in the capture at any clock offset: they were taken at different times",
                            log.path,
                            count(sends.len() as u64, "send", "sends")
                        ),
                    )
                    .evidence_all(quoted)
                    .fix("give a capture taken while the logged traffic happened")
                    .node(n.name()),
                );
                continue;
            };
            let sends: Vec<LoggedSend<'_>> = sends
                .into_iter()
                .map(|s| LoggedSend {
                    ts: shifted(s.ts, offset),
                    ..s
                })
                .collect();
            // Only sends the capture had time to show are judged.
            let mut missing: BTreeMap<(&str, &str), Vec<&LoggedSend<'_>>> = BTreeMap::new();
            for s in &sends {
                if captures.iter().any(|f| f.covers(s.ts, 0, LOG_AFTER_NS))
                    && !on_wire(&wire, s.queue, s.ts)
                {
                    missing.entry((s.queue, s.host)).or_default().push(s);
                }
            }
            for ((queue, host), sends) in missing {
                not_on_wire(c, n, captures, queue, host, &sends, offset, out);
            }
            node_sends.extend(sends);
            // The log's own span: every dated line it kept, not only sends.
            for ts in log
                .records
                .iter()
                .filter_map(|r| r.time.as_deref().and_then(log_time))
            {
                let ts = shifted(ts, offset);
                span = Some(match span {
                    None => (ts, ts),
                    Some((a, b)) => (a.min(ts), b.max(ts)),
                });
            }
        }
        if let Some(span) = span {
            unlogged(c, n, span, &node_sends, &messages, out);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn not_on_wire(
    c: &Cluster<'_>,
    n: &NodeView<'_>,
    captures: &[WireFacts],
    queue: &str,
    host: &str,
    sends: &[&LoggedSend<'_>],
    offset: i64,
    out: &mut Findings,
) {
    let Some(first) = sends.first() else {
        return;
    };
    let ip = resolve_ip(c, host, Some(n));
    // What the wire says about that host instead.
    let mut seen: Vec<Evidence> = Vec::new();
    let mut why = None;
    // Only connections from the logging node, when its addresses are known.
    let own: Vec<IpAddr> = c.addresses(n).into_iter().map(|(a, _)| a).collect();
    let from_node = |s: &Sighting| own.is_empty() || own.contains(&s.client);
    for f in captures {
        for (addr, e) in &f.endpoints {
            if Some(addr.ip()) != ip {
                continue;
            }
            if let Some(s) = e.first_refused.as_ref().filter(|s| from_node(s)) {
                seen.push(ev(f, s).note("SYN answered by RST"));
                why.get_or_insert("connections to it are refused: start its zmq-receiver (see capture-connection-refused)");
            } else if let Some(s) = e.first_unanswered.as_ref().filter(|s| from_node(s)) {
                seen.push(ev(f, s).note("SYN unanswered"));
                why.get_or_insert(
                    "its SYNs are dropped: open the port (see capture-syn-unanswered)",
                );
            } else if let Some(s) = e.first_accepted.as_ref().filter(|s| from_node(s)) {
                if e.legacy_messages == 0 {
                    seen.push(ev(f, s).note("accepted, closed before any message"));
                    why.get_or_insert("something accepts the connections there and closes them before a message gets through: a proxy in front of the receiver whose backend is down (see haproxy-backend-refused), or another program on the port");
                }
            }
        }
    }
    let why = if is_loopback_name(host) {
        format!("'{host}' is the sender's own loopback, so the message never leaves its node: the node it is meant for must use its real name as rpc_zmq_host (see capture-reply-to-localhost)")
    } else {
        why.map(str::to_string).unwrap_or_else(|| match ip {
        Some(ip) => format!("nothing from the sender to {ip} is in the capture: check that the capture point sees this node's traffic, and that the sender's PUSH socket connected (its log says 'Connecting to tcp://{host}:...')"),
        None if c.hosts.is_none() && c.nodes.iter().all(|n| n.node.hosts.is_none()) && !c.system_resolver => format!("nothing for '{host}' is on the wire; give the hosts tables (--hosts, or each node's hosts file) or --resolve to see where the sender would connect"),
        None => format!("'{host}' does not resolve with the hosts tables given: the sender cannot connect (FM08); add it to DNS or /etc/hosts on every node"),
        })
    };
    let clock = if offset != 0 {
        format!(
            " (log clock read as UTC{}{}h{:02})",
            if offset < 0 { '-' } else { '+' },
            offset.abs() / 3600,
            (offset.abs() % 3600) / 60
        )
    } else {
        String::new()
    };
    out.push(
        Finding::new(
            "log-send-not-on-wire",
            Severity::Error,
            format!(
                "{} logs {} to '{queue}' on {host} that the wire never carried{clock}",
                first.log.path,
                count(sends.len() as u64, "send", "sends")
            ),
        )
        .evidence_all(
            sends
                .iter()
                .take(MAX_QUOTES)
                .map(|s| Evidence::file(&s.log.path, s.record.line, &s.record.text)),
        )
        .evidence_all(seen.into_iter().take(2))
        .fix(why)
        .refs(&["FM11", "FM08", "DOC-L12", "DOC-P01"])
        .node(n.name()),
    );
}

/// Messages from this node's addresses in the span of its DEBUG logs that
/// no log line announced: another process sends them, or a log is missing.
fn unlogged(
    c: &Cluster<'_>,
    n: &NodeView<'_>,
    (lo, hi): (Timestamp, Timestamp),
    sends: &[LoggedSend<'_>],
    messages: &[(&WireFacts, &WireMessage)],
    out: &mut Findings,
) {
    let addrs: BTreeSet<IpAddr> = c.addresses(n).into_iter().map(|(ip, _)| ip).collect();
    if addrs.is_empty() {
        return;
    }
    let logged = TimesByQueue::new(sends.iter().map(|s| (s.queue, s.ts)));
    let mut queues: BTreeMap<&str, Vec<(&WireFacts, &WireMessage)>> = BTreeMap::new();
    for &(f, m) in messages {
        if !addrs.contains(&m.src.ip()) || m.ts < lo || m.ts > hi {
            continue;
        }
        // The log line comes before the message, by up to LOG_AFTER_NS.
        if !logged.near(&m.queue, m.ts, LOG_AFTER_NS, LOG_BEFORE_NS) {
            queues.entry(m.queue.as_str()).or_default().push((f, m));
        }
    }
    for (queue, ms) in queues {
        let Some(&(facts, first)) = ms.first() else {
            continue;
        };
        out.push(
            Finding::new(
                "wire-send-not-logged",
                Severity::Warning,
                format!(
                    "{} from {} to '{queue}' on the wire, in none of its logs, which log every other send",
                    count(ms.len() as u64, "message", "messages"),
                    n.name()
                ),
            )
            .evidence(ev_msg(facts, first))
            .fix(format!(
                "another process on {} sends them (an old service, a second copy, another project's agent): find it with ss -tnp on that node, and give doctor its log too",
                n.name()
            ))
            .refs(&["DOC-L12"])
            .node(n.name()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::wire::{RedisError, RedisLookups};
    use super::*;

    #[test]
    fn log_times_are_read_as_utc() {
        let t = log_time("2026-11-26 11:30:22.547").map(|t| t.as_nanos());
        assert_eq!(t, Some(1_795_692_622_547_000_000));
        assert_eq!(
            log_time("1970-01-01 00:00:01,5").map(|t| t.as_nanos()),
            Some(1_500_000_000)
        );
        assert!(log_time("2016-02-29 10:00:00").is_some());
        for bad in [
            "",
            "2015-13-01 00:00:00",
            "yesterday 10:00",
            "2015-01-01",
            "2015-01-01 25:00:00",
            "9223372036854775807-01-01 00:00:00",
            "1969-12-31 23:59:59",
        ] {
            assert_eq!(log_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_by_queue_finds_one_in_the_window_only() {
        let t = |s: u64| Timestamp::from_secs_nanos(s, 0);
        let idx = TimesByQueue::new([("a", t(10)), ("a", t(20)), ("b", t(15))].into_iter());
        assert!(idx.near("a", t(12), 2 * SECOND, 0));
        assert!(!idx.near("a", t(13), 2 * SECOND, 0));
        assert!(idx.near("a", t(13), 0, 7 * SECOND));
        assert!(!idx.near("c", t(10), SECOND, SECOND));
        assert!(!idx.near("b", t(10), SECOND, SECOND));
    }

    /// Facts of a new-driver capture: redis named `member` under `key`,
    /// and connections to `member` were refused `refused` times.
    fn redis_facts(key: &str, member: &str, refused: u64, accepted: u64) -> WireFacts {
        let at = |conn: &str, s: u64| Sighting {
            conn: conn.to_string(),
            client: "10.0.40.1".parse().unwrap(),
            ts: Timestamp::from_secs_nanos(s, 0),
        };
        let mut facts = WireFacts {
            path: "c.pcap".into(),
            first_ts: Some(Timestamp::from_secs_nanos(10, 0)),
            last_ts: Some(Timestamp::from_secs_nanos(20, 0)),
            ..WireFacts::default()
        };
        facts.redis.records.insert(
            (key.to_string(), member.to_string()),
            RedisRecord {
                at: at("10.0.40.1:4000>10.0.40.5:6379", 11),
                registered: false,
                removed: false,
            },
        );
        let endpoint = Endpoint {
            attempts: refused + accepted,
            refused,
            accepted,
            first_refused: (refused > 0).then(|| at("10.0.40.1:4001>10.0.40.3:50001", 12)),
            first_accepted: (accepted > 0).then(|| at("10.0.40.1:4002>10.0.40.3:50001", 13)),
            clients: ["10.0.40.1".parse().unwrap()].into(),
            ..Endpoint::default()
        };
        facts
            .endpoints
            .insert("10.0.40.3:50001".parse().unwrap(), endpoint);
        facts
    }

    fn findings_of(facts: WireFacts) -> Vec<super::super::Finding> {
        let cluster = Cluster::new(&[], None, None, false);
        let mut out = Findings::default();
        run(&cluster, &[facts], &mut out);
        out.into_sorted()
    }

    #[test]
    fn a_listener_redis_hands_out_where_nothing_listens_is_a_dead_registration() {
        let found = findings_of(redis_facts(
            "ROUTER/compute/node-2",
            "10.0.40.3:50001",
            3,
            0,
        ));
        let dead: Vec<_> = found
            .iter()
            .filter(|f| f.id == "redis-dead-listener")
            .collect();
        assert_eq!(dead.len(), 1, "{found:#?}");
        assert_eq!(dead[0].severity, Severity::Error);
        assert!(
            dead[0].title.contains("10.0.40.3:50001"),
            "{}",
            dead[0].title
        );
        assert!(
            dead[0].title.contains("ROUTER/compute/node-2"),
            "{}",
            dead[0].title
        );
        assert!(dead[0]
            .fix
            .contains("SREM ROUTER/compute/node-2 10.0.40.3:50001"));
        assert_eq!(dead[0].evidence.len(), 2);
        // Not also blamed on a missing zmq-receiver.
        assert!(!found.iter().any(|f| f.id == "capture-connection-refused"));
        // Up part of the time: a warning. Never refused: nothing.
        let found = findings_of(redis_facts(
            "ROUTER/compute/node-2",
            "10.0.40.3:50001",
            3,
            1,
        ));
        assert!(found
            .iter()
            .any(|f| f.id == "redis-dead-listener" && f.severity == Severity::Warning));
        let found = findings_of(redis_facts(
            "ROUTER/compute/node-2",
            "10.0.40.3:50001",
            0,
            2,
        ));
        assert!(
            !found.iter().any(|f| f.id.starts_with("redis-")),
            "{found:#?}"
        );
        // A member that names another address explains nothing here.
        let found = findings_of(redis_facts(
            "ROUTER/compute/node-2",
            "10.0.40.9:50001",
            3,
            0,
        ));
        assert!(!found.iter().any(|f| f.id == "redis-dead-listener"));
        assert!(found.iter().any(|f| f.id == "capture-connection-refused"));
    }

    #[test]
    fn a_removed_record_or_a_syn_at_the_end_is_no_dead_registration() {
        // Unregistered (SREM) in the capture: not handed out any more.
        let mut facts = redis_facts("ROUTER/compute/node-2", "10.0.40.3:50001", 3, 0);
        for r in facts.redis.records.values_mut() {
            r.removed = true;
        }
        let found = findings_of(facts);
        assert!(
            !found.iter().any(|f| f.id == "redis-dead-listener"),
            "{found:#?}"
        );
        // One unanswered SYN in the capture's last second: too soon to say.
        let mut facts = redis_facts("ROUTER/compute/node-2", "10.0.40.3:50001", 0, 0);
        if let Some(e) = facts.endpoints.values_mut().next() {
            e.attempts = 1;
            e.unanswered = 1;
            e.first_unanswered = Some(Sighting {
                conn: "10.0.40.1:4009>10.0.40.3:50001".into(),
                client: "10.0.40.1".parse().unwrap(),
                ts: Timestamp::from_secs_nanos(19, 500_000_000),
            });
        }
        let found = findings_of(facts.clone());
        assert!(
            !found.iter().any(|f| f.id == "redis-dead-listener"),
            "{found:#?}"
        );
        // Earlier, the same is a host that is down (or filtered).
        if let Some(e) = facts.endpoints.values_mut().next() {
            if let Some(u) = e.first_unanswered.as_mut() {
                u.ts = Timestamp::from_secs_nanos(12, 0);
            }
        }
        let found = findings_of(facts);
        let dead = found
            .iter()
            .find(|f| f.id == "redis-dead-listener")
            .unwrap();
        assert!(dead.fix.contains("firewall"), "{}", dead.fix);
        assert!(
            !found.iter().any(|f| f.id == "capture-syn-unanswered"),
            "{found:#?}"
        );
    }

    #[test]
    fn lookups_answered_empty_for_a_key_never_registered_are_reported() {
        let mut facts = redis_facts("ROUTER/compute/node-1", "10.0.40.2:50000", 0, 1);
        let empty = |n: u64| RedisLookups {
            asked: n,
            empty: n,
            first_empty: Some(Sighting {
                conn: "10.0.40.1:4000>10.0.40.5:6379".into(),
                client: "10.0.40.1".parse().unwrap(),
                ts: Timestamp::from_secs_nanos(11, 0),
            }),
            clients: ["10.0.40.1".parse().unwrap()].into(),
        };
        facts
            .redis
            .lookups
            .insert("ROUTER/compute/node-9".into(), empty(4));
        // Empty once of three answers (the others' records not kept).
        let mut sometimes = empty(1);
        sometimes.asked = 3;
        facts
            .redis
            .lookups
            .insert("ROUTER/compute/node-8".into(), sometimes);
        // Empty once, but a listener was named for it in the capture.
        facts
            .redis
            .lookups
            .insert("ROUTER/compute/node-1".into(), empty(1));
        let found = findings_of(facts);
        let none: Vec<_> = found
            .iter()
            .filter(|f| f.id == "redis-no-listener")
            .collect();
        assert_eq!(none.len(), 1, "{found:#?}");
        assert!(none[0].title.contains("ROUTER/compute/node-9"));
        assert!(none[0].title.contains("4 times"));
    }

    #[test]
    fn two_redis_servers_in_use_are_reported() {
        let at = Sighting {
            conn: "10.0.40.1:4000>10.0.40.5:6379".into(),
            client: "10.0.40.1".parse().unwrap(),
            ts: Timestamp::from_secs_nanos(11, 0),
        };
        let mut facts = redis_facts("ROUTER/compute/node-1", "10.0.40.2:50000", 0, 1);
        facts.redis.servers.insert(
            "10.0.40.5:6379".parse().unwrap(),
            (["10.0.40.1".parse().unwrap()].into(), at.clone()),
        );
        assert!(!findings_of(facts.clone())
            .iter()
            .any(|f| f.id == "redis-servers-differ"));
        facts.redis.servers.insert(
            "127.0.0.1:6379".parse().unwrap(),
            (["127.0.0.1".parse().unwrap()].into(), at),
        );
        let found = findings_of(facts);
        let differ = found
            .iter()
            .find(|f| f.id == "redis-servers-differ")
            .unwrap();
        assert_eq!(differ.severity, Severity::Error);
        assert!(differ.title.contains("127.0.0.1:6379") && differ.title.contains("10.0.40.5:6379"));
    }

    #[test]
    fn redis_errors_name_the_command_and_a_fix() {
        let mut facts = redis_facts("ROUTER/compute/node-1", "10.0.40.2:50000", 0, 1);
        facts.redis.errors.push(RedisError {
            at: Sighting {
                conn: "10.0.40.1:4000>10.0.40.5:6379".into(),
                client: "10.0.40.1".parse().unwrap(),
                ts: Timestamp::from_secs_nanos(11, 0),
            },
            command: "SADD ROUTER/compute".into(),
            error: "WRONGTYPE Operation against a key holding the wrong kind of value".into(),
        });
        let found = findings_of(facts);
        let errors: Vec<_> = found.iter().filter(|f| f.id == "redis-error").collect();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].title.contains("SADD ROUTER/compute"));
        assert!(errors[0].fix.contains("DEL"));
    }

    #[test]
    fn socket_compatibility_is_symmetric() {
        assert!(compatible("PUSH", "PULL"));
        assert!(compatible("ROUTER", "DEALER"));
        assert!(!compatible("PUSH", "ROUTER"));
        assert!(!compatible("PULL", "PULL"));
    }

    #[test]
    fn loopback_names() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "::1",
            "localhost.localdomain",
        ] {
            assert!(is_loopback_name(h), "{h}");
        }
        for h in ["controller", "10.0.0.1", "localhost-2"] {
            assert!(!is_loopback_name(h), "{h}");
        }
    }
}
