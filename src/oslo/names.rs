//! The zmq driver's name service as seen in redis: which topic and server
//! listen on which `host:port`, so a direct-mode message (whose topic is
//! not on the wire) can be named by where it went.
//!
//! Servers register with `SADD <key> <host:port>` (4.6 on) or `LPUSH`
//! (2.6 .. 4.4), and clients look up with `SMEMBERS` or `LRANGE`; both
//! teach the book. Keys, per driver generation: `ROUTER/<topic>` and
//! `ROUTER/<topic>/<server>` (G4); `ROUTER_<topic>` and
//! `ROUTER_<topic>.<server>` (2.8 .. 5.13; 2.8 .. 4.4 also `ROUTER_<server>`),
//! where a topic may itself hold dots (`notifications.info`): `a.b` is read
//! as topic `a`, server `b` only when the same address is also registered
//! under `a` alone, as every server does; `ZMQ-target-<topic>:<exchange>:
//! <server>` with `*` for none (2.6 .. 2.7); 2.8.x wrote the same names
//! with no prefix (LISTs of `host:port`). Through the proxy (5.2 ..
//! 5.9) servers register `DEALER_<topic>[.<server>]` with their DEALER's
//! bare uuid identity, which clients then put on the wire as the routing
//! key: the book names those identities the same way (later releases'
//! identities carry the names themselves).

use std::net::{IpAddr, SocketAddr};

use super::Map;
use crate::redis::Exchange;

/// Addresses named at most; past this new ones are counted, not kept.
pub const MAX_NAMED: usize = 65_536;
/// Keys remembered per address (a server registers two).
const MAX_KEYS_PER_ADDRESS: usize = 8;
/// Host names registered with one port, at most.
const MAX_HOSTS_PER_PORT: usize = 8;
/// Topic and server names are cut here (they come off the wire).
const MAX_NAME: usize = 256;

/// What the name service says listens on an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceName {
    pub topic: String,
    pub server: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    /// G4: `ROUTER/<topic>[/<server>]`.
    Slash,
    /// G1, G3: `ROUTER_<topic>[.<server>]`.
    Underscore,
}

#[derive(Default)]
struct Registrations {
    keys: Vec<(Scheme, String)>,
    resolved: Option<ServiceName>,
}

/// What the book counted, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameCounters {
    /// Registrations and lookups read (SADD, LPUSH, SMEMBERS, LRANGE, … on
    /// a key that names a listener).
    pub records: u64,
    /// Addresses named (one registered for two bare topics is not).
    pub named: u64,
    /// Members that were not `host:port`.
    pub not_addresses: u64,
    /// Addresses not kept: the book was full.
    pub dropped: u64,
    /// Older keys of an address forgotten for newer ones (8 are kept).
    pub keys_forgotten: u64,
}

#[derive(Default)]
pub struct NameBook {
    by_address: Map<SocketAddr, Registrations>,
    /// Members registered by host name (`rpc_zmq_host` is a host name by
    /// default): port → the names registered with it, used when a port
    /// is unambiguous.
    by_port: Map<u16, Vec<(String, Registrations)>>,
    /// Proxy identities (bare uuids) → who registered them.
    by_identity: Map<String, Registrations>,
    /// Addresses and host names held, against [`MAX_NAMED`].
    held: usize,
}

impl NameCounters {
    /// An address named, or no longer named (registered for a second bare
    /// topic), by a registration.
    fn renamed(&mut self, was: bool, is: bool) {
        match (was, is) {
            (false, true) => self.named += 1,
            (true, false) => self.named = self.named.saturating_sub(1),
            _ => {}
        }
    }
}

impl NameBook {
    /// Who listens on `addr`, when the name service said.
    pub fn lookup(&self, addr: SocketAddr) -> Option<&ServiceName> {
        if let Some(r) = self.by_address.get(&addr) {
            return r.resolved.as_ref();
        }
        match self.by_port.get(&addr.port()).map(Vec::as_slice) {
            Some([(_, only)]) => only.resolved.as_ref(),
            _ => None,
        }
    }

    /// Who registered a proxy identity, when the name service said.
    pub fn lookup_identity(&self, identity: &str) -> Option<&ServiceName> {
        self.by_identity.get(identity)?.resolved.as_ref()
    }

    /// Learn from one `key → members` fact.
    pub fn learn(&mut self, key: &[u8], members: &[&[u8]], counters: &mut NameCounters) {
        if let Some(name) = dealer_key(key) {
            self.learn_identities(&name, members, counters);
            return;
        }
        let Some((scheme, name)) = router_key(key) else {
            return;
        };
        counters.records += 1;
        for member in members {
            let Some((host, port)) = host_port(member) else {
                counters.not_addresses += 1;
                continue;
            };
            let full = self.held >= MAX_NAMED;
            let entry = match host.parse::<IpAddr>() {
                Ok(ip) => {
                    let addr = SocketAddr::new(ip, port);
                    if !self.by_address.contains_key(&addr) {
                        if full {
                            counters.dropped += 1;
                            continue;
                        }
                        self.held += 1;
                    }
                    self.by_address.entry(addr).or_default()
                }
                Err(_) => {
                    let hosts = self.by_port.entry(port).or_default();
                    match hosts.iter().position(|(h, _)| *h == host) {
                        Some(i) => match hosts.get_mut(i) {
                            Some((_, r)) => r,
                            None => continue,
                        },
                        None if full || hosts.len() >= MAX_HOSTS_PER_PORT => {
                            counters.dropped += 1;
                            continue;
                        }
                        None => {
                            self.held += 1;
                            hosts.push((host.to_string(), Registrations::default()));
                            match hosts.last_mut() {
                                Some((_, r)) => r,
                                None => continue,
                            }
                        }
                    }
                }
            };
            let was_named = entry.resolved.is_some();
            entry.add(scheme, &name, counters);
            counters.renamed(was_named, entry.resolved.is_some());
        }
    }
}

impl NameBook {
    /// A key without a prefix names listeners only when its members are
    /// `host:port` (other keys on the redis port teach nothing, and are
    /// not counted).
    fn learn_bare(&mut self, key: &[u8], members: &[&[u8]], counters: &mut NameCounters) {
        let Ok(name) = std::str::from_utf8(key) else {
            return;
        };
        let plausible = !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
        // Addresses only: a host name would be matched by its port alone,
        // too weak for a key that no prefix marks as the driver's.
        let addresses: Vec<&[u8]> = members
            .iter()
            .copied()
            .filter(|m| host_port(m).is_some_and(|(host, _)| host.parse::<IpAddr>().is_ok()))
            .collect();
        if plausible && !addresses.is_empty() {
            let mut prefixed = b"ROUTER_".to_vec();
            prefixed.extend_from_slice(key);
            self.learn(&prefixed, &addresses, counters);
        }
    }

    fn learn_identities(&mut self, name: &str, members: &[&[u8]], counters: &mut NameCounters) {
        // Only bare uuids: 5.10 on register `host/topic.server/uuid`,
        // which names itself on the wire.
        let identities: Vec<&str> = members
            .iter()
            .filter(|m| super::envelope::is_message_id(m))
            .filter_map(|m| std::str::from_utf8(m).ok())
            .collect();
        if identities.is_empty() {
            return;
        }
        counters.records += 1;
        for identity in identities {
            if !self.by_identity.contains_key(identity) {
                if self.held >= MAX_NAMED {
                    counters.dropped += 1;
                    continue;
                }
                self.held += 1;
            }
            let entry = self.by_identity.entry(identity.to_string()).or_default();
            let was_named = entry.resolved.is_some();
            entry.add(Scheme::Underscore, name, counters);
            counters.renamed(was_named, entry.resolved.is_some());
        }
    }
}

impl Registrations {
    fn add(&mut self, scheme: Scheme, name: &str, counters: &mut NameCounters) {
        if let Some(i) = self
            .keys
            .iter()
            .position(|(s, n)| *s == scheme && n == name)
        {
            // Seen again: it is now the latest.
            let key = self.keys.remove(i);
            self.keys.push(key);
        } else {
            if self.keys.len() >= MAX_KEYS_PER_ADDRESS {
                self.keys.remove(0);
                counters.keys_forgotten += 1;
            }
            self.keys.push((scheme, name.to_string()));
        }
        self.resolved = self.resolve();
    }

    /// The most specific name: one with a server beats a bare topic; the
    /// latest wins among equals. An address registered under different
    /// bare topics only (2.7's notification ROUTER: info and error) has no
    /// one name.
    fn resolve(&self) -> Option<ServiceName> {
        let mut best: Option<ServiceName> = None;
        let mut bare_topics: Vec<String> = Vec::new();
        for (scheme, name) in &self.keys {
            let candidate = match scheme {
                Scheme::Slash => match name.split_once('/') {
                    Some((topic, server)) => ServiceName {
                        topic: topic.to_string(),
                        server: Some(server.to_string()),
                    },
                    None => bare(name),
                },
                Scheme::Underscore => {
                    // The longest registered prefix is the topic.
                    let topic = self
                        .keys
                        .iter()
                        .filter_map(|(s, t)| {
                            (*s == Scheme::Underscore && t.len() < name.len())
                                .then(|| name.strip_prefix(t.as_str())?.strip_prefix('.'))
                                .flatten()
                                .map(|server| (t, server))
                        })
                        .max_by_key(|(t, _)| t.len());
                    match topic {
                        Some((topic, server)) => ServiceName {
                            topic: topic.clone(),
                            server: Some(server.to_string()),
                        },
                        None => bare(name),
                    }
                }
            };
            if candidate.server.is_none() && !bare_topics.contains(&candidate.topic) {
                bare_topics.push(candidate.topic.clone());
            }
            let better = match &best {
                None => true,
                Some(b) => candidate.server.is_some() || b.server.is_none(),
            };
            if better {
                best = Some(candidate);
            }
        }
        best.filter(|b| b.server.is_some() || bare_topics.len() == 1)
    }
}

fn bare(name: &str) -> ServiceName {
    ServiceName {
        topic: name.to_string(),
        server: None,
    }
}

/// Whether a name-service key names listeners (`host:port` members).
pub fn is_listener_key(key: &[u8]) -> bool {
    router_key(key).is_some()
}

/// The topic part of a ROUTER key, and how it names a server.
fn router_key(key: &[u8]) -> Option<(Scheme, String)> {
    let key = std::str::from_utf8(key).ok()?;
    let plausible = |name: &str| {
        !name.is_empty() && name.len() <= MAX_NAME && !name.chars().any(char::is_control)
    };
    if let Some(target) = key.strip_prefix("ZMQ-target-") {
        // Written the G4 way: `topic/server` or `topic`.
        let mut parts = target.rsplitn(3, ':');
        let (server, _exchange, topic) = (parts.next()?, parts.next()?, parts.next()?);
        if topic == "*" || !plausible(topic) || topic.contains('/') {
            return None;
        }
        let name = match server {
            "*" | "" => topic.to_string(),
            server if plausible(server) => format!("{topic}/{server}"),
            _ => return None,
        };
        return Some((Scheme::Slash, name));
    }
    let (scheme, name) = if let Some(name) = key.strip_prefix("ROUTER/") {
        (Scheme::Slash, name)
    } else {
        (Scheme::Underscore, key.strip_prefix("ROUTER_")?)
    };
    plausible(name).then(|| (scheme, name.to_string()))
}

/// The topic part of a proxy-identity key, `DEALER_<topic>[.<server>]`.
fn dealer_key(key: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(key).ok()?.strip_prefix("DEALER_")?;
    let plausible =
        !name.is_empty() && name.len() <= MAX_NAME && !name.chars().any(char::is_control);
    plausible.then(|| name.to_string())
}

/// `host:port`, `[v6]:port` or `v6:port`.
pub fn host_port(member: &[u8]) -> Option<(&str, u16)> {
    let member = std::str::from_utf8(member).ok()?;
    let (host, port) = member.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let plausible = !host.is_empty()
        && host.len() <= MAX_NAME
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%'));
    plausible.then_some((host, port))
}

impl NameBook {
    /// Learn from a redis exchange: a registration or a lookup's answer.
    pub fn exchange(&mut self, x: &Exchange<'_>, counters: &mut NameCounters) {
        let Some(key) = x.arg(1) else {
            return;
        };
        let list = x.is("LPUSH") || x.is("RPUSH") || x.is("LRANGE");
        let members: Vec<&[u8]> = if x.is("SADD") || x.is("LPUSH") || x.is("RPUSH") {
            x.command.iter().skip(2).map(Vec::as_slice).collect()
        } else if x.is("SMEMBERS") || x.is("SRANDMEMBER") || x.is("LRANGE") {
            match x.reply {
                Some((reply, _)) => reply.texts(),
                None => return,
            }
        } else {
            return;
        };
        if list && router_key(key).is_none() && dealer_key(key).is_none() {
            // 2.8.x: `<topic>.<server>`, `<topic>`, `<server>` with no
            // prefix, LISTs of `host:port`.
            self.learn_bare(key, &members, counters);
        } else {
            self.learn(key, &members, counters);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn name(topic: &str, server: Option<&str>) -> ServiceName {
        ServiceName {
            topic: topic.into(),
            server: server.map(Into::into),
        }
    }

    #[test]
    fn g4_keys_name_topic_and_server() {
        let mut book = NameBook::default();
        let mut c = NameCounters::default();
        book.learn(b"ROUTER/compute", &[b"127.0.11.3:65146"], &mut c);
        assert_eq!(
            book.lookup(addr("127.0.11.3:65146")),
            Some(&name("compute", None))
        );
        book.learn(b"ROUTER/compute/node-2", &[b"127.0.11.3:65146"], &mut c);
        book.learn(b"ROUTER/compute", &[b"127.0.11.3:65146"], &mut c);
        assert_eq!(
            book.lookup(addr("127.0.11.3:65146")),
            Some(&name("compute", Some("node-2")))
        );
        book.learn(b"ROUTER/notifications.info", &[b"127.0.11.2:54853"], &mut c);
        assert_eq!(
            book.lookup(addr("127.0.11.2:54853")),
            Some(&name("notifications.info", None))
        );
        assert_eq!(book.lookup(addr("127.0.11.2:1")), None);
        assert_eq!(c.named, 2);
    }

    #[test]
    fn g3_dots_are_a_server_only_when_the_bare_topic_is_registered_too() {
        let mut book = NameBook::default();
        let mut c = NameCounters::default();
        book.learn(b"ROUTER_compute.node-1", &[b"127.0.12.2:60788"], &mut c);
        // Alone, the dotted key could be a dotted topic.
        assert_eq!(
            book.lookup(addr("127.0.12.2:60788")),
            Some(&name("compute.node-1", None))
        );
        book.learn(b"ROUTER_compute", &[b"127.0.12.2:60788"], &mut c);
        assert_eq!(
            book.lookup(addr("127.0.12.2:60788")),
            Some(&name("compute", Some("node-1")))
        );
        // The longest registered prefix is the topic.
        for key in [&b"ROUTER_a"[..], b"ROUTER_a.b", b"ROUTER_a.b.c"] {
            book.learn(key, &[b"127.0.12.9:1"], &mut c);
        }
        assert_eq!(
            book.lookup(addr("127.0.12.9:1")),
            Some(&name("a.b", Some("c")))
        );
        book.learn(b"ROUTER_notifications.info", &[b"127.0.12.2:58693"], &mut c);
        assert_eq!(
            book.lookup(addr("127.0.12.2:58693")),
            Some(&name("notifications.info", None))
        );
    }

    #[test]
    fn an_address_registered_for_two_bare_topics_has_no_one_name() {
        // 2.7 and 4.6.1's notification listener: one ROUTER, both priorities.
        let mut book = NameBook::default();
        let mut c = NameCounters::default();
        book.learn(b"ROUTER_notifications.info", &[b"127.0.15.2:40000"], &mut c);
        assert_eq!(
            book.lookup(addr("127.0.15.2:40000")),
            Some(&name("notifications.info", None))
        );
        assert_eq!(c.named, 1);
        book.learn(
            b"ROUTER_notifications.error",
            &[b"127.0.15.2:40000"],
            &mut c,
        );
        assert_eq!(book.lookup(addr("127.0.15.2:40000")), None);
        assert_eq!(c.named, 0);
    }

    #[test]
    fn host_names_match_by_port_when_unambiguous() {
        let mut book = NameBook::default();
        let mut c = NameCounters::default();
        book.learn(b"ROUTER/compute/cmp1", &[b"cmp1:50000"], &mut c);
        assert_eq!(
            book.lookup(addr("10.0.0.5:50000")),
            Some(&name("compute", Some("cmp1")))
        );
        book.learn(b"ROUTER/compute/cmp2", &[b"cmp2:50000"], &mut c);
        assert_eq!(book.lookup(addr("10.0.0.5:50000")), None);
        // v6, bracketed or not.
        book.learn(
            b"ROUTER/compute/cmp3",
            &[b"[::1]:50001", b"::1:50002"],
            &mut c,
        );
        assert!(book.lookup(addr("[::1]:50001")).is_some());
        assert!(book.lookup(addr("[::1]:50002")).is_some());
    }

    #[test]
    fn early_list_registrations_and_lookups_teach_the_book() {
        use crate::redis::resp::Value;
        use crate::time::Timestamp;
        let exchange = |command: &[&[u8]], reply: Option<&Value>, book: &mut NameBook| {
            let command: Vec<Vec<u8>> = command.iter().map(|a| a.to_vec()).collect();
            let x = Exchange {
                client: addr("127.0.17.1:40000"),
                server: addr("127.0.17.5:6379"),
                command_ts: Timestamp::ZERO,
                command: &command,
                command_cut: false,
                reply: reply.map(|r| (r, Timestamp::ZERO)),
            };
            let mut c = NameCounters::default();
            book.exchange(&x, &mut c);
            c
        };
        let mut book = NameBook::default();
        // 2.6 .. 2.7: `ZMQ-target-<topic>:<exchange>:<server>`, `*` for none.
        exchange(
            &[
                b"LPUSH",
                b"ZMQ-target-compute:*:node-1",
                b"127.0.17.2:34895",
            ],
            None,
            &mut book,
        );
        assert_eq!(
            book.lookup(addr("127.0.17.2:34895")),
            Some(&name("compute", Some("node-1")))
        );
        let listed = Value::List(vec![Value::Text(b"127.0.17.2:44047")]);
        exchange(
            &[b"LRANGE", b"ZMQ-target-notifications.info:*:*", b"0", b"-1"],
            Some(&listed),
            &mut book,
        );
        assert_eq!(
            book.lookup(addr("127.0.17.2:44047")),
            Some(&name("notifications.info", None))
        );
        // A lookup pattern's `*` topic, or a key list, names nothing.
        let keys = Value::List(vec![Value::Text(b"ZMQ-target-compute:*:node-1")]);
        let c = exchange(
            &[b"KEYS", b"ZMQ-target-compute:*:*"],
            Some(&keys),
            &mut book,
        );
        assert_eq!(c.records, 0);
        let c = exchange(
            &[b"LPUSH", b"ZMQ-target-*:*:*", b"127.0.17.9:1"],
            None,
            &mut book,
        );
        assert_eq!(c.records, 0);
        // 2.8 .. 4.4: `ROUTER_<topic>.<server>`, `ROUTER_<topic>` and
        // `ROUTER_<server>`, in that order.
        for key in [
            &b"ROUTER_compute.node-1"[..],
            b"ROUTER_compute",
            b"ROUTER_node-1",
        ] {
            exchange(&[b"LPUSH", key, b"127.0.18.2:41149"], None, &mut book);
        }
        assert_eq!(
            book.lookup(addr("127.0.18.2:41149")),
            Some(&name("compute", Some("node-1")))
        );
    }

    #[test]
    fn proxy_identities_registered_under_dealer_keys_are_named() {
        // 5.2 .. 5.9 through the proxy: the server DEALER's bare uuid4.
        let mut book = NameBook::default();
        let mut c = NameCounters::default();
        let id: &[u8] = b"95d5b23a-fe27-4484-a20d-f8a1c34f29ca";
        book.learn(b"DEALER_compute.node-1", &[id], &mut c);
        book.learn(b"DEALER_compute", &[id], &mut c);
        assert_eq!(
            book.lookup_identity("95d5b23a-fe27-4484-a20d-f8a1c34f29ca"),
            Some(&name("compute", Some("node-1")))
        );
        assert_eq!(c.records, 2);
        // Later releases' identities name themselves: not kept, not counted.
        book.learn(
            b"DEALER_compute",
            &[b"127.0.14.2/compute.node-1/c2622add"],
            &mut c,
        );
        assert_eq!(c.records, 2);
        assert_eq!(
            book.lookup_identity("127.0.14.2/compute.node-1/c2622add"),
            None
        );
    }

    #[test]
    fn bare_list_keys_of_2_8_name_listeners_when_their_members_are_addresses() {
        use crate::redis::resp::Value;
        use crate::time::Timestamp;
        let mut book = NameBook::default();
        let mut c = NameCounters::default();
        let mut lpush = |key: &[u8], member: &[u8], book: &mut NameBook| {
            let command = vec![b"LPUSH".to_vec(), key.to_vec(), member.to_vec()];
            let reply = Value::Integer(1);
            book.exchange(
                &Exchange {
                    client: addr("127.0.18.2:40000"),
                    server: addr("127.0.18.4:6379"),
                    command_ts: Timestamp::ZERO,
                    command: &command,
                    command_cut: false,
                    reply: Some((&reply, Timestamp::ZERO)),
                },
                &mut c,
            );
        };
        for key in [&b"compute.node-1"[..], b"compute", b"node-1"] {
            lpush(key, b"127.0.18.2:41149", &mut book);
        }
        assert_eq!(
            book.lookup(addr("127.0.18.2:41149")),
            Some(&name("compute", Some("node-1")))
        );
        // Other lists on the redis port teach nothing.
        lpush(b"PUBLISHERS", b"127.0.18.4:1,127.0.18.4:2", &mut book);
        lpush(b"jobs", b"some work", &mut book);
        lpush(b"a key", b"127.0.18.9:5", &mut book);
        lpush(b"jobs", b"worker:51234", &mut book);
        assert_eq!(book.lookup(addr("127.0.18.9:5")), None);
        assert_eq!((c.records, c.not_addresses), (3, 0));
    }

    #[test]
    fn other_keys_and_junk_members_teach_nothing() {
        let mut book = NameBook::default();
        let mut c = NameCounters::default();
        book.learn(
            b"DEALER_compute.node-1",
            &[b"127.0.14.2/compute.node-1/c2622add"],
            &mut c,
        );
        book.learn(b"127.0.11.3:65146", &[b" "], &mut c);
        book.learn(
            b"PUBLISHERS",
            &[b"127.0.14.4:52942,127.0.14.4:65524"],
            &mut c,
        );
        assert_eq!(c.records, 0);
        book.learn(
            b"ROUTER/compute",
            &[b"no port", b"h:0", b"h:99999", b"a b:1"],
            &mut c,
        );
        assert_eq!(c.not_addresses, 4);
        assert_eq!(c.named, 0);
        book.learn(b"ROUTER/", &[b"127.0.0.1:1"], &mut c);
        assert_eq!(c.named, 0);
    }

    #[test]
    fn the_book_is_bounded() {
        let mut book = NameBook::default();
        let mut c = NameCounters::default();
        let members: Vec<String> = (0..MAX_NAMED + 10)
            .map(|i| format!("10.{}.{}.{}:1000", i >> 16, (i >> 8) & 255, i & 255))
            .collect();
        let refs: Vec<&[u8]> = members.iter().map(|m| m.as_bytes()).collect();
        book.learn(b"ROUTER/t", &refs, &mut c);
        assert_eq!(c.dropped, 10);
        assert_eq!(c.named, MAX_NAMED as u64);
        // Many keys for one address: the oldest go; the latest name with a
        // server wins.
        for i in 0..20 {
            book.learn(
                format!("ROUTER/t{i}/s").as_bytes(),
                &[b"10.0.0.1:1000"],
                &mut c,
            );
        }
        assert_eq!(
            book.lookup(addr("10.0.0.1:1000")).map(|n| n.topic.as_str()),
            Some("t19")
        );
        // `t` and t0..t19 for one address, eight kept.
        assert_eq!(c.keys_forgotten, 13);
    }
}
