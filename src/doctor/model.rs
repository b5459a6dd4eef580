//! What the loaded files mean: which ZeroMQ driver each config selects, the
//! value each option really takes (oslo.config's lookup, deprecated names
//! and groups, the release's defaults), and per node: its services, its
//! receiver, its addresses and how it resolves names.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};

use super::config::{HostsFile, IniEntry, Node, OsloConfig, Ringfile};
use super::Evidence;

/// The legacy receiver port default.
pub const DEFAULT_PORT: u16 = 9501;
pub const DEFAULT_IPC_DIR: &str = "/var/run/openstack";
pub const DEFAULT_RINGFILE: &str = "/etc/oslo/matchmaker_ring.json";
pub const DEFAULT_REDIS_HOST: &str = "127.0.0.1";

/// Which driver generation a config runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// Legacy `impl_zmq`: in-tree incubator copies (L0) or oslo.messaging
    /// up to 2.5.x, Liberty (L1).
    Legacy,
    /// The rewritten driver, oslo.messaging 2.6.0 (Mitaka) .. 8.x (Rocky).
    New,
    /// ZeroMQ, but nothing in the file tells the generation apart.
    Unknown,
}

/// Whether a config uses ZeroMQ at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    Zmq,
    /// Another backend (`rabbit`, `qpid`, ...), named.
    Other(String),
    /// No `rpc_backend` / `transport_url`: oslo's default, RabbitMQ.
    Unset,
}

/// Options the legacy driver reads, all in `[DEFAULT]`.
pub const LEGACY_DEFAULT_OPTS: &[&str] = &[
    "rpc_zmq_bind_address",
    "rpc_zmq_matchmaker",
    "rpc_zmq_port",
    "rpc_zmq_contexts",
    "rpc_zmq_topic_backlog",
    "rpc_zmq_ipc_dir",
    "rpc_zmq_host",
    "rpc_cast_timeout",
    "matchmaker_heartbeat_freq",
    "matchmaker_heartbeat_ttl",
    "matchmaker_ringfile",
];

/// `[oslo_messaging_zmq]` options of the new driver; `true` when
/// `[DEFAULT]` is a deprecated alias for it (oslo.messaging 5.7.0 moved
/// them; the ones without an alias are ignored in `[DEFAULT]`).
pub const NEW_OPTS: &[(&str, bool)] = &[
    ("rpc_zmq_bind_address", true),
    ("rpc_zmq_matchmaker", true),
    ("rpc_zmq_contexts", true),
    ("rpc_zmq_topic_backlog", true),
    ("rpc_zmq_ipc_dir", true),
    ("rpc_zmq_host", true),
    ("zmq_linger", true),
    ("rpc_cast_timeout", true),
    ("rpc_poll_timeout", true),
    ("zmq_target_expire", true),
    ("zmq_target_update", true),
    ("use_pub_sub", true),
    ("use_router_proxy", true),
    ("use_dynamic_connections", false),
    ("zmq_failover_connections", false),
    ("rpc_zmq_min_port", true),
    ("rpc_zmq_max_port", true),
    ("rpc_zmq_bind_port_retries", true),
    ("rpc_zmq_serialization", true),
    ("zmq_immediate", false),
    ("zmq_tcp_keepalive", false),
    ("zmq_tcp_keepalive_idle", false),
    ("zmq_tcp_keepalive_cnt", false),
    ("zmq_tcp_keepalive_intvl", false),
    ("rpc_thread_pool_size", false),
    ("rpc_message_ttl", false),
    ("rpc_use_acks", false),
    ("rpc_ack_timeout_base", false),
    ("rpc_ack_timeout_multiplier", false),
    ("rpc_retry_attempts", false),
    ("subscribe_on", false),
];

/// Options only the new driver has (their presence marks a config as new).
pub const NEW_ONLY_OPTS: &[&str] = &[
    "zmq_target_expire",
    "zmq_target_update",
    "use_pub_sub",
    "use_router_proxy",
    "use_dynamic_connections",
    "rpc_zmq_min_port",
    "rpc_zmq_max_port",
    "rpc_zmq_bind_port_retries",
    "rpc_zmq_serialization",
    "zmq_immediate",
];

/// Options only the legacy driver has.
pub const LEGACY_ONLY_OPTS: &[&str] = &[
    "rpc_zmq_port",
    "matchmaker_heartbeat_freq",
    "matchmaker_heartbeat_ttl",
    "matchmaker_ringfile",
];

pub const REDIS_OPTS: &[&str] = &[
    "host",
    "port",
    "password",
    "sentinel_hosts",
    "sentinel_group_name",
    "wait_timeout",
    "check_timeout",
    "socket_timeout",
];

/// Does an option name belong to the ZeroMQ driver (so an unknown one is
/// worth a finding)? Other projects' options are not ours to judge.
pub fn zmq_like(name: &str) -> bool {
    name.starts_with("rpc_zmq")
        || name.starts_with("zmq_")
        || name.starts_with("matchmaker")
        || name.contains("ringfile")
        || name.contains("ring_file")
        || name.starts_with("use_pub_sub")
        || name.starts_with("use_router_proxy")
        || name.starts_with("use_dynamic_connections")
}

/// An option's value with the line that set it (None: the default).
#[derive(Clone, Debug)]
pub struct Setting<'a> {
    pub value: String,
    pub entry: Option<&'a IniEntry>,
}

impl<'a> Setting<'a> {
    fn new(entry: Option<&'a IniEntry>, default: &str) -> Setting<'a> {
        Setting {
            value: entry
                .map(|e| e.value.clone())
                .unwrap_or_else(|| default.to_string()),
            entry,
        }
    }

    pub fn explicit(&self) -> bool {
        self.entry.is_some()
    }
}

/// One oslo.config file, resolved.
#[derive(Clone, Debug)]
pub struct ServiceView<'a> {
    pub cfg: &'a OsloConfig,
    pub transport: Transport,
    /// The line that chose the transport.
    pub transport_entry: Option<&'a IniEntry>,
    pub era: Era,
    /// `nova` for `nova.openstack.common.rpc.impl_zmq` (an in-tree copy).
    pub incubator: Option<String>,
    pub matchmaker: Setting<'a>,
    pub rpc_zmq_host: Option<&'a IniEntry>,
    pub host: Option<&'a IniEntry>,
    pub port: Setting<'a>,
    pub bind_address: Setting<'a>,
    pub ipc_dir: Setting<'a>,
    pub ringfile: Setting<'a>,
    pub redis_host: Option<&'a IniEntry>,
    pub my_ip: Option<&'a IniEntry>,
}

impl<'a> ServiceView<'a> {
    pub fn new(cfg: &'a OsloConfig) -> ServiceView<'a> {
        let ini = &cfg.ini;
        let url = ini.get("DEFAULT", "transport_url");
        let backend = ini.get("DEFAULT", "rpc_backend");
        let (transport, transport_entry) = match (url, backend) {
            (Some(u), _) if !u.value.trim().is_empty() => {
                let scheme = u.value.split("://").next().unwrap_or("").to_string();
                if scheme == "zmq" || scheme.starts_with("zmq+") {
                    (Transport::Zmq, Some(u))
                } else {
                    (Transport::Other(scheme), Some(u))
                }
            }
            (_, Some(b)) => {
                let v = b.value.trim();
                if v == "zmq" || v.ends_with("impl_zmq") || v.contains(".impl_zmq") {
                    (Transport::Zmq, Some(b))
                } else {
                    (Transport::Other(v.to_string()), Some(b))
                }
            }
            _ => (Transport::Unset, None),
        };
        let incubator = backend.and_then(|b| {
            b.value
                .split_once(".openstack.common.rpc")
                .map(|(p, _)| p.to_string())
        });
        let era = detect_era(cfg, url, incubator.is_some());
        let zmq_opt = |name: &str| -> Option<&'a IniEntry> {
            match era {
                Era::New => ini.get("oslo_messaging_zmq", name).or_else(|| {
                    NEW_OPTS
                        .iter()
                        .any(|(n, alias)| *n == name && *alias)
                        .then(|| ini.get("DEFAULT", name))
                        .flatten()
                }),
                _ => ini.get("DEFAULT", name),
            }
        };
        let default_mm = match (era, &incubator) {
            (Era::New, _) => "redis".to_string(),
            (_, Some(p)) => format!("{p}.openstack.common.rpc.matchmaker.MatchMakerLocalhost"),
            _ => "local".to_string(),
        };
        let ringfile = ini
            .get("matchmaker_ring", "ringfile")
            .or_else(|| ini.get("DEFAULT", "matchmaker_ringfile"));
        ServiceView {
            cfg,
            transport,
            transport_entry,
            era,
            incubator,
            matchmaker: Setting::new(zmq_opt("rpc_zmq_matchmaker"), &default_mm),
            rpc_zmq_host: zmq_opt("rpc_zmq_host"),
            host: ini.get("DEFAULT", "host"),
            port: Setting::new(ini.get("DEFAULT", "rpc_zmq_port"), "9501"),
            bind_address: Setting::new(zmq_opt("rpc_zmq_bind_address"), "*"),
            ipc_dir: Setting::new(zmq_opt("rpc_zmq_ipc_dir"), DEFAULT_IPC_DIR),
            ringfile: Setting::new(ringfile, DEFAULT_RINGFILE),
            redis_host: ini.get("matchmaker_redis", "host"),
            my_ip: ini.get("DEFAULT", "my_ip"),
        }
    }

    pub fn path(&self) -> &str {
        &self.cfg.ini.path
    }

    /// Does this config drive ZeroMQ? A receiver config always does. A
    /// file oslo.config cannot parse drives nothing: the service does not
    /// start with it (its parse error is the finding).
    pub fn is_zmq(&self) -> bool {
        self.cfg.ini.error.is_none() && (self.cfg.receiver || self.transport == Transport::Zmq)
    }

    pub fn is_legacy(&self) -> bool {
        self.era != Era::New
    }

    /// The port as a number (a bad value is reported by its own check).
    pub fn port_number(&self) -> Option<u16> {
        self.port.value.trim().parse().ok()
    }

    /// The matchmaker, normalised: `ring`, `redis`, `local`, `dummy`,
    /// `sentinel`, or the raw value when it is something else.
    pub fn matchmaker_kind(&self) -> &str {
        matchmaker_kind(&self.matchmaker.value)
    }

    /// Evidence for an option that may be unset: its line, or the file's
    /// `[DEFAULT]` header (or first line) with a note naming the default.
    pub fn evidence_for(&self, entry: Option<&IniEntry>, unset_note: &str) -> Evidence {
        match entry {
            Some(e) => Evidence::entry(&self.cfg.ini.path, e),
            None => {
                let (line, text) = self
                    .cfg
                    .ini
                    .section_header("DEFAULT")
                    .map(|(l, t)| (l, t.to_string()))
                    .unwrap_or((1, String::new()));
                Evidence::file(&self.cfg.ini.path, line, &text).note(unset_note)
            }
        }
    }
}

pub fn matchmaker_kind(value: &str) -> &str {
    let v = value.trim();
    if v.ends_with("MatchMakerRing") || v == "ring" {
        "ring"
    } else if v.ends_with("MatchMakerRedis") || v == "redis" {
        "redis"
    } else if v.ends_with("MatchMakerLocalhost") || v == "local" {
        "local"
    } else {
        v
    }
}

fn detect_era(cfg: &OsloConfig, url: Option<&IniEntry>, incubator: bool) -> Era {
    if incubator {
        return Era::Legacy;
    }
    let ini = &cfg.ini;
    let new_url = url.is_some_and(|u| {
        let s = u.value.trim();
        s.starts_with("zmq+redis://") || s.starts_with("zmq+sentinel://")
    });
    let new_group = ini
        .entries
        .iter()
        .any(|e| super::config::normalize_group(&e.section) == "oslo_messaging_zmq");
    let new_opt = NEW_ONLY_OPTS
        .iter()
        .any(|o| ini.get("DEFAULT", o).is_some() || ini.get("oslo_messaging_zmq", o).is_some());
    let mm = ini
        .get("oslo_messaging_zmq", "rpc_zmq_matchmaker")
        .or_else(|| ini.get("DEFAULT", "rpc_zmq_matchmaker"))
        .map(|e| matchmaker_kind(&e.value).to_string());
    let new_mm = matches!(mm.as_deref(), Some("dummy" | "sentinel"));
    let legacy_mm = matches!(mm.as_deref(), Some("ring" | "local"))
        || mm.as_deref().is_some_and(|m| m.contains('.'));
    let legacy_opt = LEGACY_ONLY_OPTS
        .iter()
        .any(|o| ini.get("DEFAULT", o).is_some())
        || ini.has_group("matchmaker_ring");
    let new = new_url || new_group || new_opt || new_mm;
    let legacy = legacy_mm || legacy_opt;
    match (legacy, new) {
        // A legacy matchmaker decides: the new driver refuses to start with it.
        (true, true) if legacy_mm => Era::Legacy,
        (_, true) => Era::New,
        (true, false) => Era::Legacy,
        (false, false) if cfg.receiver => Era::Legacy,
        (false, false) => Era::Unknown,
    }
}

/// Services whose consumers a ring must route to, and the bare topics each
/// consumes (catalogue 5.4). `fanout_only`: only fanouts use the bare key.
pub struct ServiceTopics {
    pub service: &'static str,
    pub topics: &'static [&'static str],
    pub fanout_only: bool,
}

pub const SERVICE_TOPICS: &[ServiceTopics] = &[
    ServiceTopics {
        service: "nova-scheduler",
        topics: &["scheduler"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "nova-conductor",
        topics: &["conductor"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "nova-cert",
        topics: &["cert"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "nova-consoleauth",
        topics: &["consoleauth"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "nova-console",
        topics: &["console"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "nova-network",
        topics: &["network"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "nova-compute",
        topics: &["compute"],
        fanout_only: true,
    },
    ServiceTopics {
        service: "cinder-scheduler",
        topics: &["cinder-scheduler"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "cinder-volume",
        topics: &["cinder-volume"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "cinder-backup",
        topics: &["cinder-backup"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "neutron-server",
        topics: &["q-plugin", "q-l3-plugin"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "neutron-dhcp-agent",
        topics: &["dhcp_agent"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "neutron-l3-agent",
        topics: &["l3_agent"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "neutron-metering-agent",
        topics: &["metering_agent"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "ceilometer-collector",
        topics: &["metering"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "ceilometer-alarm-notifier",
        topics: &["alarm_notifier"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "ceilometer-agent-notification",
        topics: &["notifications-info"],
        fanout_only: false,
    },
    ServiceTopics {
        service: "heat-engine",
        topics: &["engine"],
        fanout_only: false,
    },
];

/// Topics legacy deployments really used, for near-miss key detection
/// (`q-dhcp-notifer` is neutron's own spelling).
pub const KNOWN_TOPICS: &[&str] = &[
    "scheduler",
    "conductor",
    "cert",
    "consoleauth",
    "console",
    "network",
    "compute",
    "cells",
    "cinder-scheduler",
    "cinder-volume",
    "cinder-backup",
    "q-plugin",
    "q-l3-plugin",
    "q-reports-plugin",
    "q-dhcp-notifer",
    "q-metering-plugin",
    "q-firewall-plugin",
    "n-lbaas-plugin",
    "dhcp_agent",
    "l3_agent",
    "metering_agent",
    "n-lbaas_agent",
    "metering",
    "alarm_notifier",
    "alarm_partition_coordination",
    "engine",
    "notifications-info",
    "notifications-error",
    "notifications-warn",
    "notifications-critical",
    "notifications-debug",
    "notifications-audit",
    "notifications-sample",
];

pub const PRIORITIES: &[&str] = &[
    "audit", "debug", "info", "warn", "warning", "error", "critical", "sample",
];

/// The project a bare topic belongs to, to pick the consumer's config on a
/// node (`compute` -> nova).
pub fn project_of_topic(topic: &str) -> Option<&'static str> {
    let base = topic.split('.').next().unwrap_or(topic);
    let base = base.strip_prefix("fanout~").unwrap_or(base);
    match base {
        "scheduler" | "conductor" | "cert" | "consoleauth" | "console" | "network" | "compute"
        | "cells" => Some("nova"),
        b if b.starts_with("cinder-") => Some("cinder"),
        b if b.starts_with("q-") || b.ends_with("_agent") || b.starts_with("n-lbaas") => {
            Some("neutron")
        }
        "metering" | "alarm_notifier" | "alarm_partition_coordination" => Some("ceilometer"),
        b if b.starts_with("notifications") => Some("ceilometer"),
        "engine" => Some("heat"),
        b if b.starts_with("ironic") => Some("ironic"),
        _ => None,
    }
}

/// A node with its configs resolved.
pub struct NodeView<'a> {
    pub node: &'a Node,
    /// oslo configs of services (every config that is not a receiver's).
    pub services: Vec<ServiceView<'a>>,
    pub receivers: Vec<ServiceView<'a>>,
    /// Services known to run here (from log and config file names).
    pub inventory: Vec<String>,
}

impl<'a> NodeView<'a> {
    pub fn new(node: &'a Node) -> NodeView<'a> {
        let mut services = Vec::new();
        let mut receivers = Vec::new();
        for cfg in &node.configs {
            let view = ServiceView::new(cfg);
            if cfg.receiver {
                receivers.push(view);
            } else {
                services.push(view);
            }
        }
        let mut inventory: Vec<String> = node
            .logs
            .iter()
            .map(|l| l.service())
            .chain(node.configs.iter().map(|c| c.service.clone()))
            .filter(|s| SERVICE_TOPICS.iter().any(|t| t.service == s))
            .collect();
        inventory.sort();
        inventory.dedup();
        NodeView {
            node,
            services,
            receivers,
            inventory,
        }
    }

    pub fn name(&self) -> &str {
        &self.node.name
    }

    /// `cmp1`, or `the configs' host` for files given outside `--node`.
    pub fn label(&self) -> String {
        if self.node.explicit {
            self.node.name.clone()
        } else {
            "the host of the configs given".to_string()
        }
    }

    /// Configs that drive ZeroMQ (services, not receivers).
    pub fn zmq_services(&self) -> impl Iterator<Item = &ServiceView<'a>> {
        self.services.iter().filter(|s| s.is_zmq())
    }

    /// The legacy services: those a receiver serves.
    pub fn legacy_services(&self) -> impl Iterator<Item = &ServiceView<'a>> {
        self.zmq_services().filter(|s| s.is_legacy())
    }

    /// The config the receiver runs with: its own, or (assumed) the first
    /// legacy service config of the node.
    pub fn receiver(&self) -> Option<(&ServiceView<'a>, bool)> {
        self.receivers
            .first()
            .map(|r| (r, true))
            .or_else(|| self.legacy_services().next().map(|s| (s, false)))
    }

    /// This node's name as its consumers use it: the first explicit
    /// `rpc_zmq_host` of a ZeroMQ service, else the node's name (the
    /// default is the machine's hostname; a `--node` name is taken as it).
    pub fn zmq_host(&self) -> Option<(String, Option<(&'a str, &'a IniEntry)>)> {
        for s in self.zmq_services().chain(self.receivers.iter()) {
            if let Some(e) = s.rpc_zmq_host {
                let cfg: &'a OsloConfig = s.cfg;
                return Some((e.value.trim().to_string(), Some((cfg.ini.path.as_str(), e))));
            }
        }
        self.node.explicit.then(|| (self.node.name.clone(), None))
    }

    /// The consumer config for a topic: the service of the topic's
    /// project, else any ZeroMQ service of the node.
    pub fn consumer_for(&self, topic: &str) -> Option<&ServiceView<'a>> {
        let project = project_of_topic(topic);
        self.legacy_services()
            .find(|s| project.is_some_and(|p| s.cfg.service.starts_with(p)))
            .or_else(|| self.legacy_services().next())
    }
}

/// How a name resolved.
#[derive(Clone, Debug)]
pub enum Resolved {
    /// The address and the line (hosts table) it came from.
    Addr(IpAddr, Option<Evidence>),
    /// Looked up in `table` (or the system resolver) and not found.
    Missing(String),
    /// No way to resolve was given.
    Unknown,
}

/// Everything loaded, resolved.
pub struct Cluster<'a> {
    pub nodes: Vec<NodeView<'a>>,
    pub ring: Option<&'a Ringfile>,
    pub hosts: Option<&'a super::config::HostsFile>,
    pub system_resolver: bool,
    cache: RefCell<BTreeMap<String, Option<IpAddr>>>,
}

impl<'a> Cluster<'a> {
    pub fn new(
        nodes: &'a [Node],
        ring: Option<&'a Ringfile>,
        hosts: Option<&'a HostsFile>,
        system_resolver: bool,
    ) -> Cluster<'a> {
        Cluster {
            nodes: nodes.iter().map(NodeView::new).collect(),
            ring,
            hosts,
            system_resolver,
            cache: RefCell::new(BTreeMap::new()),
        }
    }

    /// Is this more than one machine? (Several nodes, or rings naming
    /// several hosts.)
    pub fn multi_node(&self) -> bool {
        if self.nodes.iter().filter(|n| n.node.explicit).count() > 1 {
            return true;
        }
        let mut hosts: Vec<&str> = self
            .rings()
            .flat_map(|(_, r)| r.entries())
            .flat_map(|e| match &e.value {
                super::config::RingValue::Hosts(h) => h.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            })
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts.len() > 1
    }

    /// Every ringfile with the node it belongs to (None: `--ringfile`).
    pub fn rings(&self) -> impl Iterator<Item = (Option<&NodeView<'a>>, &'a Ringfile)> {
        self.ring.map(|r| (None, r)).into_iter().chain(
            self.nodes
                .iter()
                .flat_map(|n| n.node.rings.iter().map(move |r| (Some(n), r))),
        )
    }

    /// The ring a node's senders read: its own, else `--ringfile`.
    pub fn ring_of(&self, node: &NodeView<'a>) -> Option<&'a Ringfile> {
        node.node.rings.first().or(self.ring)
    }

    pub fn hosts_of(&self, node: Option<&NodeView<'a>>) -> Option<&'a HostsFile> {
        node.and_then(|n| n.node.hosts.as_ref()).or(self.hosts)
    }

    /// Resolve `name` as `from` would: its hosts file, else `--hosts`,
    /// else the system resolver when allowed. IP literals are themselves.
    pub fn resolve(&self, name: &str, from: Option<&NodeView<'a>>) -> Resolved {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Resolved::Addr(ip, None);
        }
        if let Some(table) = self.hosts_of(from) {
            return match table.lookup(name) {
                Some(e) => Resolved::Addr(e.ip, Some(Evidence::file(&table.path, e.line, &e.text))),
                None => {
                    if self.system_resolver {
                        self.system(name)
                    } else {
                        Resolved::Missing(table.path.clone())
                    }
                }
            };
        }
        if self.system_resolver {
            return self.system(name);
        }
        Resolved::Unknown
    }

    fn system(&self, name: &str) -> Resolved {
        if let Some(hit) = self.cache.borrow().get(name) {
            return match hit {
                Some(ip) => Resolved::Addr(*ip, None),
                None => Resolved::Missing("the system resolver".into()),
            };
        }
        let ip = (name, 0u16)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip());
        self.cache.borrow_mut().insert(name.to_string(), ip);
        match ip {
            Some(ip) => Resolved::Addr(ip, None),
            None => Resolved::Missing("the system resolver".into()),
        }
    }

    /// The addresses a node is known to have, with where each came from:
    /// `my_ip`, a specific `rpc_zmq_bind_address`, and what its own names
    /// resolve to in its own hosts table.
    pub fn addresses(&self, node: &NodeView<'a>) -> Vec<(IpAddr, Evidence)> {
        let mut out: Vec<(IpAddr, Evidence)> = Vec::new();
        for s in node.services.iter().chain(node.receivers.iter()) {
            for e in [s.my_ip, s.bind_address.entry].into_iter().flatten() {
                if let Ok(ip) = e.value.trim().parse::<IpAddr>() {
                    if !ip.is_unspecified() && !ip.is_loopback() {
                        out.push((ip, Evidence::entry(s.path(), e)));
                    }
                }
            }
        }
        let mut names = vec![node.name().to_string()];
        if let Some((h, _)) = node.zmq_host() {
            names.push(h);
        }
        if let Some(table) = node.node.hosts.as_ref() {
            for n in names {
                if let Some(e) = table.lookup(&n) {
                    if !e.ip.is_loopback() {
                        out.push((e.ip, Evidence::file(&table.path, e.line, &e.text)));
                    }
                }
            }
        }
        out.sort_by_key(|a| a.0);
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// The node an address belongs to.
    pub fn node_at(&self, ip: IpAddr) -> Option<&NodeView<'a>> {
        self.nodes
            .iter()
            .find(|n| self.addresses(n).iter().any(|(a, _)| *a == ip))
    }

    /// The node whose consumers use `name` as their `rpc_zmq_host`, or
    /// whose `--node` name it is.
    pub fn node_named(&self, name: &str) -> Option<&NodeView<'a>> {
        self.nodes
            .iter()
            .find(|n| n.zmq_host().is_some_and(|(h, _)| h == name))
            .or_else(|| {
                self.nodes
                    .iter()
                    .find(|n| n.node.explicit && n.name() == name)
            })
    }

    /// Every legacy ZeroMQ service config of every node.
    pub fn legacy_services(&self) -> impl Iterator<Item = (&NodeView<'a>, &ServiceView<'a>)> {
        self.nodes
            .iter()
            .flat_map(|n| n.legacy_services().map(move |s| (n, s)))
    }

    pub fn zmq_services(&self) -> impl Iterator<Item = (&NodeView<'a>, &ServiceView<'a>)> {
        self.nodes
            .iter()
            .flat_map(|n| n.zmq_services().map(move |s| (n, s)))
    }
}
