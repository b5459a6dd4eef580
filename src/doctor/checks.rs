//! The checks of the failure-mode catalogue
//! (shared/docs/matchmaker-failure-modes.md, §3 and §5.3), from configs,
//! haproxy.cfg, the ringfile, hosts tables and logs. Each finding names the
//! topic, host, port, option or file, quotes the lines that show it, and
//! says what to change. Catalogue ids are in `refs` (`FM01`, `DOC-R03`).
//!
//! Severity follows the catalogue: critical = a service cannot send or
//! receive at all; error = some messages are lost or misrouted; warning =
//! latent; info = worth knowing. An input that was not given is never more
//! than info.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::config::{normalize_group, IniEntry, RingEntry, RingValue, Ringfile};
use super::logs::{LogEvent, LogFile, LogRecord};
use super::matchmaker::{receiver_forward, same_dir};
use super::model::{
    self, zmq_like, Cluster, Era, NodeView, Resolved, ServiceView, Transport, KNOWN_TOPICS,
    PRIORITIES, SERVICE_TOPICS,
};
use super::{Evidence, Finding, Findings, Severity};

use Severity::{Critical, Error, Info, Warning};

/// How many lines after a 'No key defining hosts' its consequences are
/// logged by the same process.
const FOLLOW_LINES: u32 = 20;
/// Log lines quoted per finding (the count says how many there were).
const MAX_LOG_EVIDENCE: usize = 3;
/// Longest name compared by edit distance.
const MAX_NAME: usize = 128;
/// The longest Unix socket path (`sun_path` is 108 bytes with the NUL).
const MAX_IPC_PATH: usize = 107;

/// Run every check on what was loaded.
pub fn run(c: &Cluster<'_>, captures: &[super::wire::WireFacts], out: &mut Findings) {
    files(c, out);
    drivers(c, out);
    identity(c, out);
    ports(c, out);
    haproxy(c, out);
    ipc(c, out);
    rings(c, out);
    ring_hosts(c, out);
    coverage(c, out);
    logs(c, out);
    inputs(c, out);
    super::capture::run(c, captures, out);
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// Edit distance (characters). The indices stay below `b.len() + 1`, the
/// length of both rows.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let best = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur[j + 1] = best;
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// How `key` misses `topic`, if it is a near miss: whitespace, case, `_`
/// and `-` swapped, a notification key with `.`, or a spelling within an
/// edit distance of 1 (short names) or 2.
pub fn near_miss(key: &str, topic: &str) -> Option<&'static str> {
    if key == topic {
        return None;
    }
    if key.trim() == topic {
        return Some(if key.trim_end() != key && key.trim_start() == key {
            "trailing space"
        } else if key.trim_start() != key && key.trim_end() == key {
            "leading space"
        } else {
            "spaces around it"
        });
    }
    if key.to_lowercase() == topic.to_lowercase() {
        return Some("different case");
    }
    if key.replace('_', "-") == topic.replace('_', "-") {
        return Some("'_' and '-' swapped");
    }
    if key.replace('.', "-") == topic && key.contains('.') {
        return Some("a '.' where notifications use '-'");
    }
    let limit = if topic.chars().count() < 6 { 1 } else { 2 };
    // Edit distance is quadratic: only for names of a sensible length.
    if key.len() > MAX_NAME || topic.len() > MAX_NAME || key.len().abs_diff(topic.len()) > limit {
        return None;
    }
    (levenshtein(key, topic) <= limit).then_some("spelling")
}

/// The ring entry that nearly names `topic` (when `topic` is no key).
pub fn near_key<'r>(ring: &'r Ringfile, topic: &str) -> Option<(&'r RingEntry, &'static str)> {
    if ring.get(topic).is_some() {
        return None;
    }
    ring.entries()
        .iter()
        .find_map(|e| near_miss(&e.key, topic).map(|why| (e, why)))
}

/// The fix for a near-miss key.
fn rename_fix(key: &str, topic: &str, why: &str, path: &str) -> String {
    match why {
        "trailing space" => format!("remove the trailing space from the key '{key}' in {path}"),
        "leading space" => format!("remove the leading space from the key '{key}' in {path}"),
        "spaces around it" => format!("remove the spaces around the key '{key}' in {path}"),
        _ => format!("rename the key '{key}' to '{topic}' in {path}"),
    }
}

const RESTART: &str =
    "then restart every service that sends to it (the ring is read once per process)";

fn ring_first_line(ring: &Ringfile, note: &str) -> Evidence {
    Evidence::file(&ring.path, 1, "{").note(note)
}

fn log_ev(log: &LogFile, r: &LogRecord) -> Evidence {
    Evidence::file(&log.path, r.line, &r.text)
}

/// The files quoted by some evidence, comma-separated.
fn files_of(evs: &[Evidence]) -> String {
    let mut v: Vec<&str> = evs
        .iter()
        .filter_map(|e| match e {
            Evidence::File { file, .. } => Some(file.as_str()),
            Evidence::Capture { .. } => None,
        })
        .collect();
    v.dedup();
    v.join(", ")
}

/// `1 call`, `3 calls`.
pub(super) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(super) fn is_loopback_name(h: &str) -> bool {
    let h = h.trim();
    h.eq_ignore_ascii_case("localhost")
        || h.eq_ignore_ascii_case("localhost.localdomain")
        || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_wildcard(addr: &str) -> bool {
    matches!(addr.trim(), "" | "*" | "0.0.0.0" | "::" | "[::]")
}

fn svc_label(n: &NodeView<'_>, s: &ServiceView<'_>) -> String {
    if n.node.explicit {
        format!("{} on {}", s.path(), n.name())
    } else {
        s.path().to_string()
    }
}

/// Every legacy config a node runs with, receivers included, for the
/// options both read.
fn legacy_configs<'v, 'a>(n: &'v NodeView<'a>) -> Vec<&'v ServiceView<'a>> {
    n.legacy_services().chain(n.receivers.iter()).collect()
}

// ---------------------------------------------------------------------------
// config files
// ---------------------------------------------------------------------------

fn files(c: &Cluster<'_>, out: &mut Findings) {
    for n in &c.nodes {
        for (path, line, text) in &n.node.unrecognised {
            out.push(
                Finding::new(
                    "config-unrecognised",
                    Info,
                    format!("{path} is neither an oslo.config file nor haproxy.cfg: not read"),
                )
                .evidence(Evidence::file(path, *line, text))
                .fix(format!(
                    "leave {path} out, or give the file the service really reads"
                ))
                .node(n.name()),
            );
        }
        for v in n.services.iter().chain(n.receivers.iter()) {
            config_file(n, v, out);
        }
    }
}

fn config_file(n: &NodeView<'_>, v: &ServiceView<'_>, out: &mut Findings) {
    let ini = &v.cfg.ini;
    let path = ini.path.as_str();
    if let Some(e) = &ini.error {
        let fix = match e.message {
            "Unexpected continuation line" => format!(
                "remove the leading whitespace of line {} in {path} (oslo.config reads an indented line as the continuation of the value above it)",
                e.line
            ),
            "Section must be started before assignment" => {
                format!("put [DEFAULT] before line {} of {path}", e.line)
            }
            "No ':' or '=' found in assignment" => format!(
                "make line {} of {path} a 'key = value' assignment or a comment starting with '#'",
                e.line
            ),
            _ => format!("correct line {} of {path}", e.line),
        };
        out.push(
            Finding::new(
                "config-parse-error",
                Critical,
                format!(
                    "oslo.config cannot parse {path}: {} at line {}; the service does not start",
                    e.message, e.line
                ),
            )
            .evidence(Evidence::file(path, e.line, &e.text))
            .fix(fix)
            .node(n.name()),
        );
    }
    for (name, line, text) in &ini.sections {
        if name != "DEFAULT" && name.eq_ignore_ascii_case("default") {
            let holds_ours = ini
                .entries
                .iter()
                .any(|e| &e.section == name && (zmq_like(&e.key) || is_transport_key(&e.key)));
            out.push(
                Finding::new(
                    "config-default-section",
                    if holds_ours { Error } else { Warning },
                    format!(
                        "section [{name}] in {path} is not [DEFAULT]: oslo.config reads [DEFAULT] options only from a section spelt [DEFAULT]"
                    ),
                )
                .evidence(Evidence::file(path, *line, text))
                .fix(format!("rename the section header at line {line} of {path} to [DEFAULT]"))
                .node(n.name()),
            );
        }
    }
    let mut seen: BTreeMap<(String, String), Vec<&IniEntry>> = BTreeMap::new();
    for e in &ini.entries {
        if zmq_like(&e.key) || is_transport_key(&e.key) {
            seen.entry((normalize_group(&e.section), e.key.clone()))
                .or_default()
                .push(e);
            let v = e.value.as_str();
            if let Some(at) = v.find(" #").or_else(|| v.find("\t#")) {
                let meant = v.get(..at).unwrap_or(v).trim_end();
                out.push(
                    Finding::new(
                        "option-inline-comment",
                        Error,
                        format!(
                            "{} in {path} is '{v}', not '{meant}': oslo.config has no inline comments",
                            e.key
                        ),
                    )
                    .evidence(Evidence::entry(path, e))
                    .fix(format!(
                        "move the comment of line {} in {path} to a line of its own, leaving `{} = {meant}`",
                        e.line, e.key
                    ))
                    .node(n.name()),
                );
            }
        }
        option(n, v, e, out);
    }
    for ((group, key), list) in seen {
        let values: BTreeSet<&str> = list.iter().map(|e| e.value.as_str()).collect();
        if list.len() > 1 && values.len() > 1 {
            let Some(last) = list.last() else { continue };
            out.push(
                Finding::new(
                    "option-duplicate",
                    Warning,
                    format!(
                        "{key} is set {} times in [{group}] of {path}; the last one, '{}' at line {}, wins",
                        list.len(),
                        last.value,
                        last.line
                    ),
                )
                .evidence_all(list.iter().map(|e| Evidence::entry(path, e)))
                .fix(format!("keep one `{key} = ...` in [{group}] of {path}"))
                .node(n.name()),
            );
        }
    }
    zmq_not_enabled(n, v, out);
}

fn is_transport_key(key: &str) -> bool {
    matches!(key, "rpc_backend" | "transport_url" | "host" | "my_ip")
}

/// Every option name the ZeroMQ drivers know, for suggestions.
fn known_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = model::LEGACY_DEFAULT_OPTS.to_vec();
    v.extend(model::NEW_OPTS.iter().map(|(n, _)| *n));
    v.push("ringfile");
    v.sort_unstable();
    v.dedup();
    v
}

fn suggestion(key: &str) -> Option<&'static str> {
    if key.len() > MAX_NAME {
        return None;
    }
    known_names()
        .into_iter()
        .map(|n| (levenshtein(key, n), n))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}

/// Unknown, misplaced or release-ignored options (DOC-C02).
fn option(n: &NodeView<'_>, v: &ServiceView<'_>, e: &IniEntry, out: &mut Findings) {
    let path = v.path();
    let group = normalize_group(&e.section);
    let key = e.key.as_str();
    let ignored = |why: String, fix: String, refs: &[&str]| {
        Finding::new("option-ignored", Warning, why)
            .evidence(Evidence::entry(path, e))
            .fix(fix)
            .node(n.name())
            .refs(refs)
    };
    let ring_like = key.contains("ring");
    match group.as_str() {
        "matchmaker_ring" => {
            if key == "ringfile" {
                if v.era == Era::New && v.is_zmq() {
                    out.push(ignored(
                        format!("[matchmaker_ring] ringfile in {path} is ignored: the new zmq driver has no ring (oslo.messaging >= 2.6.0)"),
                        format!("remove it from {path}; the new driver finds servers through Redis (transport_url = zmq+redis://HOST:6379)"),
                        &["FM22", "DOC-C02"],
                    ));
                }
            } else {
                unknown_option(n, v, e, ring_like, out);
            }
        }
        "matchmaker_redis" => {
            if !model::REDIS_OPTS.contains(&key) {
                unknown_option(n, v, e, false, out);
            }
        }
        "oslo_messaging_zmq" => {
            if v.era == Era::Legacy && v.is_zmq() {
                out.push(ignored(
                    format!("[oslo_messaging_zmq] {key} in {path} is ignored: the legacy impl_zmq reads its options from [DEFAULT]"),
                    format!("move `{key} = {}` to [DEFAULT] in {path}", e.value),
                    &["FM22", "DOC-C02"],
                ));
            } else if !model::NEW_OPTS.iter().any(|(o, _)| *o == key) {
                unknown_option(n, v, e, ring_like, out);
            }
        }
        "DEFAULT" => {
            if !zmq_like(key) {
                return;
            }
            let legacy_known = model::LEGACY_DEFAULT_OPTS.contains(&key);
            let new_known = model::NEW_OPTS.iter().find(|(o, _)| *o == key);
            if v.era == Era::New && v.is_zmq() {
                if model::LEGACY_ONLY_OPTS.contains(&key) {
                    out.push(ignored(
                        format!("{key} in {path} is ignored by the new zmq driver (a legacy option; removed in oslo.messaging 2.6.0)"),
                        format!("remove `{key}` from {path}; the new driver binds random ports {}..65536 and has no receiver or ring", 49153),
                        &["FM22", "DOC-C02"],
                    ));
                } else if let Some((_, false)) = new_known {
                    out.push(ignored(
                        format!("{key} in [DEFAULT] of {path} is ignored: the new zmq driver reads it only from [oslo_messaging_zmq]"),
                        format!("move `{key} = {}` to [oslo_messaging_zmq] in {path}", e.value),
                        &["FM22", "DOC-C02"],
                    ));
                } else if new_known.is_none() && !legacy_known {
                    unknown_option(n, v, e, ring_like, out);
                }
            } else if !legacy_known {
                if new_known.is_some() && model::NEW_ONLY_OPTS.contains(&key) && v.is_zmq() {
                    out.push(ignored(
                        format!("{key} in {path} is a new-driver option (oslo.messaging >= 2.6.0): the legacy impl_zmq ignores it"),
                        format!("remove `{key}` from {path}, or upgrade every node to the new driver at once"),
                        &["FM22", "DOC-C02"],
                    ));
                } else if new_known.is_none() {
                    unknown_option(n, v, e, ring_like, out);
                }
            }
        }
        // `[default]` and the like: config-default-section says it.
        g if g.eq_ignore_ascii_case("default") => {}
        _ => {
            if model::LEGACY_DEFAULT_OPTS.contains(&key) && key.starts_with("rpc_zmq") {
                out.push(ignored(
                    format!(
                        "{key} in [{}] of {path} is ignored: the driver reads it from [DEFAULT]",
                        e.section
                    ),
                    format!("move `{key} = {}` to [DEFAULT] in {path}", e.value),
                    &["DOC-C02"],
                ));
            }
        }
    }
}

fn unknown_option(
    n: &NodeView<'_>,
    v: &ServiceView<'_>,
    e: &IniEntry,
    ring_like: bool,
    out: &mut Findings,
) {
    let path = v.path();
    if ring_like {
        let value = e.value.trim();
        let differs = value != v.ringfile.value.trim();
        let uses_ring = v.matchmaker_kind() == "ring";
        out.push(
            Finding::new(
                "ringfile-option-ignored",
                if differs && uses_ring { Error } else { Warning },
                format!(
                    "'{}' in [{}] of {path} is not an oslo option: the ring is read from {}",
                    e.key, e.section, v.ringfile.value
                ),
            )
            .evidence(Evidence::entry(path, e))
            .evidence(v.evidence_for(
                v.ringfile.entry,
                &format!("[matchmaker_ring] ringfile not set: default {}", v.ringfile.value),
            ))
            .fix(format!(
                "write `ringfile = {value}` under [matchmaker_ring] in {path} (Grizzly: `matchmaker_ringfile` in [DEFAULT]) and remove line {}",
                e.line
            ))
            .node(n.name())
            .refs(&["FM03", "DOC-C02"]),
        );
        return;
    }
    let hint = match suggestion(&e.key) {
        Some(s) => format!("did you mean '{s}'? Rename it in {path} (line {})", e.line),
        None => format!("remove line {} of {path}", e.line),
    };
    out.push(
        Finding::new(
            "option-unknown",
            Warning,
            format!(
                "'{}' in [{}] of {path} is not an option of the ZeroMQ driver: it is ignored",
                e.key, e.section
            ),
        )
        .evidence(Evidence::entry(path, e))
        .fix(hint)
        .node(n.name())
        .refs(&["DOC-C02"]),
    );
}

/// A service config that sets ZeroMQ options but does not select ZeroMQ.
fn zmq_not_enabled(n: &NodeView<'_>, v: &ServiceView<'_>, out: &mut Findings) {
    if v.cfg.receiver || v.transport == Transport::Zmq {
        return;
    }
    let Some(e) = v.cfg.ini.entries.iter().find(|e| {
        let g = normalize_group(&e.section);
        (g == "DEFAULT" || g == "oslo_messaging_zmq") && zmq_like(&e.key)
    }) else {
        return;
    };
    let backend = match &v.transport {
        Transport::Other(b) => format!("'{b}'"),
        _ => "not set (oslo's default is RabbitMQ)".to_string(),
    };
    let mut f = Finding::new(
        "zmq-not-enabled",
        Warning,
        format!(
            "{} sets {} but does not select ZeroMQ: the rpc backend is {backend}",
            v.path(),
            e.key
        ),
    )
    .evidence(Evidence::entry(v.path(), e))
    .fix(format!(
        "set `rpc_backend = zmq` in [DEFAULT] of {} if this service should use ZeroMQ (or remove the zmq options)",
        v.path()
    ))
    .node(n.name());
    if let Some(t) = v.transport_entry {
        f = f.evidence(Evidence::entry(v.path(), t));
    }
    out.push(f);
}

// ---------------------------------------------------------------------------
// driver, matchmaker, redis, versions
// ---------------------------------------------------------------------------

fn drivers(c: &Cluster<'_>, out: &mut Findings) {
    // What runs where (DOC-C01).
    for n in &c.nodes {
        let Some(s) = n.zmq_services().next().or(n.receivers.first()) else {
            continue;
        };
        let era = match (s.era, &s.incubator) {
            (Era::New, _) => "the new zmq driver (oslo.messaging >= 2.6)".to_string(),
            (_, Some(p)) => format!("the legacy impl_zmq ({p} in-tree copy)"),
            (Era::Legacy, None) => "the legacy impl_zmq (oslo.messaging <= 2.5)".to_string(),
            (Era::Unknown, None) => "ZeroMQ (generation not told by the config)".to_string(),
        };
        let mut what = format!("matchmaker {}", s.matchmaker_kind());
        if s.is_legacy() {
            what.push_str(&format!(", rpc_zmq_port {}", s.port.value));
        }
        let who = if n.node.explicit {
            format!("node {}", n.name())
        } else {
            "the configs given".to_string()
        };
        let receiver = match n.receivers.first() {
            Some(r) => format!(", receiver config {}", r.path()),
            None => String::new(),
        };
        out.push(
            Finding::new(
                "driver",
                Info,
                format!("{who} runs {era}: {what}{receiver}"),
            )
            .evidence_all(s.transport_entry.map(|e| Evidence::entry(s.path(), e)))
            .evidence(s.evidence_for(
                s.matchmaker.entry,
                &format!("rpc_zmq_matchmaker not set: default {}", s.matchmaker.value),
            ))
            .node(n.name())
            .refs(&["DOC-C01"]),
        );
    }
    // Mixed generations (FM22).
    let legacy = c.zmq_services().find(|(_, s)| s.era == Era::Legacy);
    let new = c.zmq_services().find(|(_, s)| s.era == Era::New);
    if let (Some((ln, ls)), Some((nn, ns))) = (legacy, new) {
        out.push(
            Finding::new(
                "driver-mixed",
                Critical,
                format!(
                    "the legacy impl_zmq ({}) and the new zmq driver ({}) are mixed: they cannot talk to each other",
                    svc_label(ln, ls),
                    svc_label(nn, ns)
                ),
            )
            .evidence_all(ls.transport_entry.map(|e| Evidence::entry(ls.path(), e)))
            .evidence(ls.evidence_for(ls.matchmaker.entry, "rpc_zmq_matchmaker not set"))
            .evidence_all(ns.transport_entry.map(|e| Evidence::entry(ns.path(), e)))
            .fix("move every node to the same driver at once (new driver: oslo.messaging >= 2.6.0 everywhere, Redis, ports 49153-65536 open between nodes)")
            .refs(&["FM22", "DOC-C01"]),
        );
    }
    let multi = c.multi_node();
    for (n, s) in c.zmq_services() {
        matchmaker_value(n, s, multi, out);
        redis(n, s, multi, out);
        versions(n, s, out);
    }
    for n in &c.nodes {
        for s in n.services.iter().chain(n.receivers.iter()) {
            if !s.is_zmq() {
                continue;
            }
            let backlog = match s.era {
                Era::New => s
                    .cfg
                    .ini
                    .get("oslo_messaging_zmq", "rpc_zmq_topic_backlog")
                    .or_else(|| s.cfg.ini.get("DEFAULT", "rpc_zmq_topic_backlog")),
                _ => s.cfg.ini.get("DEFAULT", "rpc_zmq_topic_backlog"),
            };
            if let Some(e) = backlog {
                if !e.value.trim().is_empty() {
                    out.push(
                        Finding::new(
                            "topic-backlog-set",
                            Warning,
                            format!(
                                "rpc_zmq_topic_backlog = {} in {}: the receiver drops messages beyond it ('Local per-topic backlog buffer full')",
                                e.value.trim(),
                                s.path()
                            ),
                        )
                        .evidence(Evidence::entry(s.path(), e))
                        .fix(format!("remove rpc_zmq_topic_backlog from {} (the default is unlimited)", s.path()))
                        .node(n.name())
                        .refs(&["DOC-C09"]),
                    );
                }
            }
        }
    }
    topology_flags(c, out);
}

/// `rpc_zmq_matchmaker` valid for the release (FM05) and not the local
/// default on more than one host (FM06).
fn matchmaker_value(n: &NodeView<'_>, s: &ServiceView<'_>, multi: bool, out: &mut Findings) {
    let path = s.path();
    let value = s.matchmaker.value.trim().to_string();
    let kind = s.matchmaker_kind().to_string();
    let ev = s.evidence_for(
        s.matchmaker.entry,
        &format!("rpc_zmq_matchmaker not set: default {value}"),
    );
    let invalid = |title: String, fix: String| {
        Finding::new("matchmaker-invalid", Critical, title)
            .evidence(ev.clone())
            .fix(fix)
            .node(n.name())
            .refs(&["FM05", "DOC-C03"])
    };
    let deprecated = |title: String, fix: String| {
        Finding::new("matchmaker-deprecated", Warning, title)
            .evidence(ev.clone())
            .fix(fix)
            .node(n.name())
            .refs(&["FM05", "DOC-C03"])
    };
    match (s.era, &s.incubator) {
        (Era::New, _) => {
            if !matches!(value.as_str(), "redis" | "dummy" | "sentinel") {
                out.push(invalid(
                    format!("rpc_zmq_matchmaker = {value} in {path} is refused by the new zmq driver (choices: redis, dummy, sentinel)"),
                    format!("set rpc_zmq_matchmaker = redis in [oslo_messaging_zmq] of {path} (or transport_url = zmq+redis://HOST:6379)"),
                ));
            } else if value == "dummy" && multi {
                out.push(
                    Finding::new(
                        "matchmaker-local",
                        Critical,
                        format!("rpc_zmq_matchmaker = dummy in {path}: the dummy matchmaker only knows the services of its own process"),
                    )
                    .evidence(ev.clone())
                    .fix(format!("use redis: transport_url = zmq+redis://HOST:6379 in {path}"))
                    .node(n.name())
                    .refs(&["FM23"]),
                );
            }
            return;
        }
        (_, Some(project)) => {
            let prefix = format!("{project}.openstack.common.rpc.");
            let ring = format!("{prefix}matchmaker_ring.MatchMakerRing");
            if matches!(
                value.as_str(),
                "ring" | "redis" | "local" | "dummy" | "sentinel"
            ) {
                out.push(invalid(
                    format!("rpc_zmq_matchmaker = {value} in {path}: the in-tree {project} impl_zmq needs a class path and fails with ImportError"),
                    format!("set rpc_zmq_matchmaker = {ring} in {path} (or {prefix}matchmaker_redis.MatchMakerRedis)"),
                ));
            } else if value.ends_with(".matchmaker.MatchMakerRing") {
                out.push(deprecated(
                    format!("rpc_zmq_matchmaker = {value} in {path} works only on Grizzly; Havana and Icehouse log 'is deprecated' and fail with ImportError"),
                    format!("set rpc_zmq_matchmaker = {ring} in {path}"),
                ));
            } else if value.contains('.') && !value.starts_with(&prefix) {
                out.push(invalid(
                    format!("rpc_zmq_matchmaker = {value} in {path} is not a class of {project}'s in-tree rpc ({prefix}...)"),
                    format!("set rpc_zmq_matchmaker = {ring} in {path}"),
                ));
            }
        }
        (_, None) => {
            let om = value.starts_with("oslo.messaging._drivers.")
                || value.starts_with("oslo_messaging._drivers.");
            if matches!(value.as_str(), "dummy" | "sentinel") {
                out.push(invalid(
                    format!("rpc_zmq_matchmaker = {value} in {path} is a new-driver matchmaker: the legacy impl_zmq cannot load it"),
                    format!("set rpc_zmq_matchmaker = ring (with [matchmaker_ring] ringfile) or redis in {path}"),
                ));
            } else if value.contains('.') && om && kind != value {
                out.push(deprecated(
                    format!("rpc_zmq_matchmaker = {value} in {path} is a class path: oslo.messaging 1.8.2+ maps it with a deprecation warning, other releases differ"),
                    format!("set rpc_zmq_matchmaker = {kind} in {path} (oslo.messaging 1.9 .. 2.5)"),
                ));
            } else if value.contains('.') && !om {
                out.push(invalid(
                    format!("rpc_zmq_matchmaker = {value} in {path} is not an oslo.messaging matchmaker: 'No 'oslo.messaging.zmq.matchmaker' driver found'"),
                    format!("set rpc_zmq_matchmaker = ring (or redis) in {path}"),
                ));
            } else if !matches!(kind.as_str(), "ring" | "redis" | "local") {
                out.push(invalid(
                    format!("rpc_zmq_matchmaker = {value} in {path} is not a matchmaker (ring, redis or local): 'No 'oslo.messaging.zmq.matchmaker' driver found, looking for '{value}''"),
                    format!("set rpc_zmq_matchmaker = ring (or redis) in {path}"),
                ));
            }
        }
    }
    if kind == "local" {
        let host = s.rpc_zmq_host.map(|e| e.value.trim().to_string());
        let localhost = host.as_deref().is_some_and(|h| h == "localhost");
        if !localhost || multi {
            let why = if s.era == Era::Unknown && !s.matchmaker.explicit() {
                " (the legacy default; the new driver's default, redis on 127.0.0.1, is no better)"
            } else {
                ""
            };
            let sev = if s.era == Era::Unknown && !multi {
                Warning
            } else {
                Critical
            };
            let mut f = Finding::new(
                "matchmaker-local",
                sev,
                format!(
                    "{path} uses the local matchmaker{why}: every bare topic and fanout goes to '<topic>.localhost', which {}",
                    if multi {
                        "never leaves the node"
                    } else {
                        "no consumer listens on unless rpc_zmq_host = localhost"
                    }
                ),
            )
            .evidence(ev.clone())
            .fix(format!(
                "set rpc_zmq_matchmaker = ring and [matchmaker_ring] ringfile = /etc/oslo/matchmaker_ring.json in {path} (or redis with [matchmaker_redis] host)"
            ))
            .node(n.name())
            .refs(&["FM06", "DOC-C04"]);
            if let Some(e) = s.rpc_zmq_host {
                f = f.evidence(Evidence::entry(path, e));
            }
            out.push(f);
        }
    }
}

fn redis(n: &NodeView<'_>, s: &ServiceView<'_>, multi: bool, out: &mut Findings) {
    let path = s.path();
    let ini = &s.cfg.ini;
    let uses_redis = s.matchmaker_kind() == "redis";
    if s.era != Era::New && uses_redis {
        // Where is Redis? (FM17)
        let loopback = s.redis_host.is_none_or(|e| is_loopback_name(&e.value));
        if loopback {
            let sev = if multi { Critical } else { Info };
            let value = s
                .redis_host
                .map(|e| e.value.trim().to_string())
                .unwrap_or_else(|| model::DEFAULT_REDIS_HOST.to_string());
            out.push(
                Finding::new(
                    "redis-host-missing",
                    sev,
                    format!(
                        "the redis matchmaker of {path} talks to Redis on {value}{}",
                        if multi {
                            ": every node has its own registry, so no node finds another"
                        } else {
                            " (fine on one node only)"
                        }
                    ),
                )
                .evidence(ev_or_header(s, s.redis_host, "matchmaker_redis", "[matchmaker_redis] host not set: default 127.0.0.1"))
                .fix(format!("set `host = <the Redis server>` under [matchmaker_redis] in {path}, the same on every node"))
                .node(n.name())
                .refs(&["FM17", "DOC-C12"]),
            );
        }
        for key in ["port", "password"] {
            if let Some(e) = ini.get("DEFAULT", key) {
                out.push(
                    Finding::new(
                        "redis-option-in-default",
                        Warning,
                        format!("[DEFAULT] {key} in {path} is not read by the redis matchmaker, which reads [matchmaker_redis]"),
                    )
                    .evidence(Evidence::entry(path, e))
                    .fix(format!("move `{key} = ...` to [matchmaker_redis] in {path}"))
                    .node(n.name())
                    .refs(&["FM17", "DOC-C02"]),
                );
            }
        }
        if let Some(h) = s.host {
            let looks_redis = h.value.trim().parse::<IpAddr>().is_ok()
                || ini.get("DEFAULT", "port").is_some()
                || s.redis_host
                    .is_some_and(|r| r.value.trim() == h.value.trim());
            if looks_redis && s.redis_host.is_none() {
                out.push(
                    Finding::new(
                        "redis-host-in-default",
                        Error,
                        format!(
                            "[DEFAULT] host = {} in {path} renames this service to '{}' and is not the Redis server",
                            h.value.trim(),
                            h.value.trim()
                        ),
                    )
                    .evidence(Evidence::entry(path, h))
                    .fix(format!(
                        "move it to [matchmaker_redis] host = {} in {path}; [DEFAULT] host is the service's own name (it must equal rpc_zmq_host)",
                        h.value.trim()
                    ))
                    .node(n.name())
                    .refs(&["FM17", "FM09", "DOC-C02"]),
                );
            }
        }
        // Heartbeat (FM15).
        let freq = ini.get("DEFAULT", "matchmaker_heartbeat_freq");
        let ttl = ini.get("DEFAULT", "matchmaker_heartbeat_ttl");
        if freq.is_some() || ttl.is_some() {
            let f = freq
                .and_then(|e| e.value.trim().parse::<i64>().ok())
                .unwrap_or(300);
            let t = ttl
                .and_then(|e| e.value.trim().parse::<i64>().ok())
                .unwrap_or(600);
            let sev = if f >= t {
                Some(Error)
            } else if f.saturating_mul(2) > t {
                Some(Warning)
            } else {
                None
            };
            if let Some(sev) = sev {
                out.push(
                    Finding::new(
                        "heartbeat-too-slow",
                        sev,
                        format!(
                            "matchmaker_heartbeat_freq = {f} with matchmaker_heartbeat_ttl = {t} in {path}: registrations expire before they are refreshed, then 'No matchmaker results'"
                        ),
                    )
                    .evidence_all(freq.map(|e| Evidence::entry(path, e)))
                    .evidence_all(ttl.map(|e| Evidence::entry(path, e)))
                    .fix(format!("keep matchmaker_heartbeat_freq below half of matchmaker_heartbeat_ttl in {path} (defaults 300 and 600)"))
                    .node(n.name())
                    .refs(&["FM15", "DOC-C10"]),
                );
            }
        }
    }
    if s.era == Era::New {
        // Where is Redis? (FM23)
        let url = ini.get("DEFAULT", "transport_url");
        let url_host = url.and_then(|u| {
            let rest = u.value.trim().split_once("://")?.1;
            let hostport = rest.split(['/', ',']).next()?;
            let host = hostport.rsplit('@').next()?.split(':').next()?;
            (!host.is_empty()).then(|| host.to_string())
        });
        let redis_host = s.redis_host.map(|e| e.value.trim().to_string());
        let effective = url_host.or(redis_host);
        if uses_redis && effective.as_deref().is_none_or(is_loopback_name) && multi {
            let mut f = Finding::new(
                "redis-host-missing",
                Critical,
                format!(
                    "the new zmq driver of {path} looks for Redis on {}: every node has its own registry, so no node finds another",
                    effective.as_deref().unwrap_or("127.0.0.1 (no host in transport_url or [matchmaker_redis])")
                ),
            )
            .fix(format!("set transport_url = zmq+redis://<the Redis server>:6379 in {path}, the same on every node"))
            .node(n.name())
            .refs(&["FM23", "DOC-C12"]);
            if let Some(u) = url {
                f = f.evidence(Evidence::entry(path, u));
            }
            f = f.evidence(ev_or_header(
                s,
                s.redis_host,
                "matchmaker_redis",
                "[matchmaker_redis] host not set",
            ));
            out.push(f);
        }
        let get = |name: &str| {
            ini.get("oslo_messaging_zmq", name)
                .or_else(|| ini.get("DEFAULT", name))
        };
        let expire = get("zmq_target_expire");
        let update = get("zmq_target_update");
        if expire.is_some() || update.is_some() {
            let ex = expire
                .and_then(|e| e.value.trim().parse::<i64>().ok())
                .unwrap_or(300);
            let up = update
                .and_then(|e| e.value.trim().parse::<i64>().ok())
                .unwrap_or(180);
            if ex > 0 && up >= ex {
                out.push(
                    Finding::new(
                        "target-update-too-slow",
                        Error,
                        format!(
                            "zmq_target_update = {up} is not below zmq_target_expire = {ex} in {path}: records expire before they are refreshed, then 'Matchmaker contains no records'"
                        ),
                    )
                    .evidence_all(update.map(|e| Evidence::entry(path, e)))
                    .evidence_all(expire.map(|e| Evidence::entry(path, e)))
                    .fix(format!("set zmq_target_update to about half of zmq_target_expire in {path} (defaults 180 and 300)"))
                    .node(n.name())
                    .refs(&["FM23", "DOC-C11"]),
                );
            }
        }
    }
}

fn ev_or_header(s: &ServiceView<'_>, e: Option<&IniEntry>, group: &str, note: &str) -> Evidence {
    match e {
        Some(e) => Evidence::entry(s.path(), e),
        None => match s.cfg.ini.section_header(group) {
            Some((line, text)) => Evidence::file(s.path(), line, text).note(note),
            None => s.evidence_for(None, note),
        },
    }
}

/// Cinder multi-backend and Ironic on the ZeroMQ drivers (FM21, FM25).
fn versions(n: &NodeView<'_>, s: &ServiceView<'_>, out: &mut Findings) {
    let path = s.path();
    let service = s.cfg.service.as_str();
    if service.starts_with("cinder") {
        if let Some(e) = s.cfg.ini.get("DEFAULT", "enabled_backends") {
            let backends: Vec<&str> = e
                .value
                .split(',')
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .collect();
            if !backends.is_empty() {
                let (sev, title, fix, refs): (Severity, String, String, &[&str]) = if s.era
                    == Era::New
                {
                    (
                        if backends.len() > 1 { Warning } else { Info },
                        format!("cinder multi-backend ({}) in {path} on the new zmq driver: before oslo.messaging 5.12 a message for a missing 'host@backend' falls back to any host; from 5.12 the server is cut at '@' so backends of one host share messages", backends.join(", ")),
                        "run oslo.messaging >= 5.12 with Cinder >= Ocata, and check that each backend's host@backend is registered".to_string(),
                        &["FM25", "FM21"],
                    )
                } else {
                    (
                        Error,
                        format!("cinder multi-backend ({}) in {path} on the legacy impl_zmq: requests to 'cinder-volume.<host>@<backend>' are sent to the host '<host>@<backend>', which does not resolve ('Could not open socket.')", backends.join(", ")),
                        format!("run one backend per cinder-volume host without enabled_backends on the legacy driver, or move to Cinder >= Ocata with oslo.messaging >= 5.12 (remove enabled_backends from {path} meanwhile)"),
                        &["FM21"],
                    )
                };
                out.push(
                    Finding::new("cinder-multibackend", sev, title)
                        .evidence(Evidence::entry(path, e))
                        .fix(fix)
                        .node(n.name())
                        .refs(refs),
                );
            }
        }
    }
    if service.starts_with("ironic") && s.era != Era::New {
        let ev = s
            .transport_entry
            .map(|e| Evidence::entry(path, e))
            .unwrap_or_else(|| s.evidence_for(None, "rpc_backend"));
        out.push(
            Finding::new(
                "ironic-legacy-zmq",
                Error,
                format!("ironic on the legacy impl_zmq ({path}): its topic 'ironic.conductor_manager' has a '.', so every conductor RPC goes to a host named 'conductor_manager'"),
            )
            .evidence(ev)
            .fix("do not run Ironic on the legacy ZeroMQ driver (use another rpc_backend for ironic, or the new zmq driver)")
            .node(n.name())
            .refs(&["FM21"]),
        );
    }
}

/// New driver: `use_pub_sub`, `use_router_proxy`, `use_dynamic_connections`
/// identical everywhere (FM24).
fn topology_flags(c: &Cluster<'_>, out: &mut Findings) {
    for flag in ["use_pub_sub", "use_router_proxy", "use_dynamic_connections"] {
        let alias = flag != "use_dynamic_connections";
        let mut values: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
        for (_, s) in c.zmq_services().filter(|(_, s)| s.era == Era::New) {
            let ini = &s.cfg.ini;
            let e = ini
                .get("oslo_messaging_zmq", flag)
                .or_else(|| alias.then(|| ini.get("DEFAULT", flag)).flatten());
            let (v, ev) = match e {
                Some(e) => (e.value.trim().to_lowercase(), Evidence::entry(s.path(), e)),
                None => (
                    "default".to_string(),
                    s.evidence_for(None, &format!("{flag} not set: the release's default (True in Newton, False from Ocata)")),
                ),
            };
            values.entry(v).or_default().push(ev);
        }
        if values.len() > 1 {
            let list = values
                .iter()
                .map(|(v, evs)| format!("{v} in {}", files_of(evs)))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(
                Finding::new(
                    "topology-flags-differ",
                    Error,
                    format!("{flag} differs between the new-driver configs ({list}): services and proxies disagree on where messages go"),
                )
                .evidence_all(values.values().flat_map(|e| e.iter().take(2).cloned()))
                .fix(format!("set the same `{flag} = ...` explicitly under [oslo_messaging_zmq] in every config, proxies included"))
                .refs(&["FM24", "DOC-X04"]),
            );
        }
    }
}

// ---------------------------------------------------------------------------
// names: host, rpc_zmq_host, bind address
// ---------------------------------------------------------------------------

fn identity(c: &Cluster<'_>, out: &mut Findings) {
    let multi = c.multi_node();
    for (n, s) in c.zmq_services() {
        let path = s.path();
        // host vs rpc_zmq_host (FM09): the legacy driver's queues are named
        // by both; the new driver registers `<topic>/<host>` with the
        // address `rpc_zmq_host:port`, so they may differ.
        match (s.is_legacy(), s.host, s.rpc_zmq_host) {
            (true, Some(h), Some(z)) if h.value.trim() != z.value.trim() => {
                out.push(
                    Finding::new(
                        "host-mismatch",
                        Error,
                        format!(
                            "[DEFAULT] host = {} but rpc_zmq_host = {} in {path}: messages directed to this service go to '<topic>.{}', its consumers listen on '<topic>.{}'",
                            h.value.trim(), z.value.trim(), h.value.trim(), z.value.trim()
                        ),
                    )
                    .evidence(Evidence::entry(path, h))
                    .evidence(Evidence::entry(path, z))
                    .fix({
                        let (hv, zv) = (h.value.trim(), z.value.trim());
                        let ring_knows = |name: &str| {
                            c.rings().any(|(_, r)| {
                                r.entries().iter().any(|e| {
                                    matches!(&e.value, RingValue::Hosts(l) if l.iter().any(|x| x == name))
                                })
                            })
                        };
                        if ring_knows(zv) && !ring_knows(hv) {
                            format!("make them the identical string: set host = {zv} in {path}, the name the ring uses")
                        } else {
                            format!("make them the identical string: set rpc_zmq_host = {hv} in {path} (or host = {zv})")
                        }
                    })
                    .node(n.name())
                    .refs(&["FM09", "DOC-C05"]),
                );
            }
            (true, Some(h), None) if !s.cfg.service.contains("receiver") => {
                out.push(
                    Finding::new(
                        "host-mismatch",
                        Warning,
                        format!(
                            "[DEFAULT] host = {} in {path} but rpc_zmq_host is not set (the machine's hostname): unless the hostname is exactly '{}', directed messages are never consumed",
                            h.value.trim(), h.value.trim()
                        ),
                    )
                    .evidence(Evidence::entry(path, h))
                    .fix(format!("set rpc_zmq_host = {} in [DEFAULT] of {path}", h.value.trim()))
                    .node(n.name())
                    .refs(&["FM09", "DOC-C05"]),
                );
            }
            _ => {}
        }
        // rpc_zmq_host itself (FM10, DOC-C06).
        if let Some(z) = s.rpc_zmq_host {
            let v = z.value.trim();
            if v.is_empty() {
                out.push(
                    Finding::new("rpc-zmq-host-invalid", Error, format!("rpc_zmq_host is empty in {path}: replies go to 'zmq_replies.' and directed messages to '<topic>.'"))
                        .evidence(Evidence::entry(path, z))
                        .fix(format!("set rpc_zmq_host to this node's resolvable name in {path}"))
                        .node(n.name())
                        .refs(&["FM10", "DOC-C06"]),
                );
            } else if is_loopback_name(v) {
                let sev = if multi { Critical } else { Info };
                out.push(
                    Finding::new(
                        "rpc-zmq-host-loopback",
                        sev,
                        format!(
                            "rpc_zmq_host = {v} in {path}: {}",
                            if multi {
                                "callees send the replies to this node's calls to 'zmq_replies.localhost' on their own host, so every call from it times out"
                            } else {
                                "works on a single node only"
                            }
                        ),
                    )
                    .evidence(Evidence::entry(path, z))
                    .fix(format!("set rpc_zmq_host in {path} to a name that every node resolves to this node (the sample config's `#rpc_zmq_host = localhost` must not be uncommented)"))
                    .node(n.name())
                    .refs(&["FM10", "DOC-C06"]),
                );
            } else if v.contains(['/', '\\']) || v.contains(char::is_whitespace) {
                out.push(
                    Finding::new(
                        "rpc-zmq-host-invalid",
                        Error,
                        format!("rpc_zmq_host = '{v}' in {path} is not a host name: the receiver refuses queues with '/' or '\\' ('Topic contained dangerous characters.')"),
                    )
                    .evidence(Evidence::entry(path, z))
                    .fix(format!("set rpc_zmq_host to this node's host name in {path}"))
                    .node(n.name())
                    .refs(&["FM10", "DOC-C06"]),
                );
            }
        }
    }
    // Unique across nodes.
    let mut by_host: BTreeMap<String, Vec<(&NodeView<'_>, Option<Evidence>)>> = BTreeMap::new();
    for n in c.nodes.iter().filter(|n| n.node.explicit) {
        if let Some((h, src)) = n.zmq_host() {
            by_host
                .entry(h)
                .or_default()
                .push((n, src.map(|(p, e)| Evidence::entry(p, e))));
        }
    }
    for (h, nodes) in &by_host {
        if nodes.len() > 1 && !is_loopback_name(h) {
            let names: Vec<&str> = nodes.iter().map(|(n, _)| n.name()).collect();
            out.push(
                Finding::new(
                    "rpc-zmq-host-duplicate",
                    Critical,
                    format!("nodes {} all use rpc_zmq_host '{h}': messages and replies for one of them reach whichever node '{h}' resolves to", names.join(", ")),
                )
                .evidence_all(nodes.iter().filter_map(|(_, e)| e.clone()))
                .fix("give every node its own rpc_zmq_host (its own host name)")
                .refs(&["FM10", "DOC-C06"]),
            );
        }
    }
    // Every node's name resolves, from every other node, to that node
    // (FM08, FM10, DOC-N01).
    for target in c.nodes.iter().filter(|n| n.node.explicit) {
        let Some((h, src)) = target.zmq_host() else {
            continue;
        };
        if is_loopback_name(&h) || target.zmq_services().next().is_none() {
            continue;
        }
        let own: Vec<IpAddr> = c.addresses(target).into_iter().map(|(ip, _)| ip).collect();
        let src_ev = src.map(|(p, e)| Evidence::entry(p, e));
        let from_nodes: Vec<Option<&NodeView<'_>>> =
            if c.nodes.iter().any(|n| n.node.hosts.is_some()) {
                c.nodes
                    .iter()
                    .filter(|n| n.node.explicit && n.name() != target.name())
                    .map(Some)
                    .collect()
            } else {
                vec![None]
            };
        for from in from_nodes {
            let on = from
                .map(|f| format!(" on {}", f.name()))
                .unwrap_or_default();
            match c.resolve(&h, from) {
                Resolved::Missing(table) => out.push(
                    Finding::new(
                        "rpc-zmq-host-unresolved",
                        Critical,
                        format!("'{h}' (rpc_zmq_host of {}) does not resolve{on} ({table}): messages and replies to it fail with 'Could not open socket.'", target.name()),
                    )
                    .evidence_all(src_ev.clone())
                    .fix(format!("add '{h}' with {}'s address to {table} (every node needs every node's name)", target.name()))
                    .node(target.name())
                    .refs(&["FM08", "FM10", "DOC-N01"]),
                ),
                Resolved::Addr(ip, ev) => {
                    let wrong = if ip.is_loopback() {
                        from.is_some()
                    } else {
                        !own.is_empty() && !own.contains(&ip)
                    };
                    if wrong {
                        let owns = own.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
                        out.push(
                            Finding::new(
                                "rpc-zmq-host-wrong-address",
                                Error,
                                format!(
                                    "'{h}' (rpc_zmq_host of {}) resolves{on} to {ip}, which is not {}'s address{}: its messages and replies land elsewhere",
                                    target.name(),
                                    target.name(),
                                    if owns.is_empty() { String::new() } else { format!(" ({owns})") }
                                ),
                            )
                            .evidence_all(ev)
                            .evidence_all(src_ev.clone())
                            .fix(format!("make '{h}' resolve to {}'s own address in every node's /etc/hosts or DNS", target.name()))
                            .node(target.name())
                            .refs(&["FM08", "FM10", "DOC-N02"]),
                        );
                    }
                }
                Resolved::Unknown => {}
            }
        }
    }
    // rpc_zmq_bind_address (FM13).
    for n in &c.nodes {
        for s in legacy_configs(n) {
            let Some(e) = s.bind_address.entry else {
                continue;
            };
            let v = e.value.trim();
            if is_wildcard(v) {
                continue;
            }
            let path = s.path();
            let ip = match v.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => match c.resolve(v, Some(n)) {
                    Resolved::Addr(ip, _) => Some(ip),
                    _ => None,
                },
            };
            let Some(ip) = ip else { continue };
            if ip.is_loopback() && (multi || n.node.explicit && c.nodes.len() > 1) {
                out.push(
                    Finding::new(
                        "bind-address-mismatch",
                        Error,
                        format!("rpc_zmq_bind_address = {v} in {path}: the receiver listens on loopback only, so other nodes get RST"),
                    )
                    .evidence(Evidence::entry(path, e))
                    .fix(format!("set rpc_zmq_bind_address = * (or this node's address) in {path}"))
                    .node(n.name())
                    .refs(&["FM13", "DOC-C08"]),
                );
                continue;
            }
            // The addresses peers use: what this node's name resolves to.
            let mut peers: Vec<(IpAddr, Evidence)> = Vec::new();
            if let Some((h, _)) = n.zmq_host() {
                let from = c
                    .nodes
                    .iter()
                    .find(|o| o.node.explicit && o.name() != n.name());
                if let Resolved::Addr(a, ev) = c.resolve(&h, from.or(Some(n))) {
                    if !a.is_loopback() {
                        if let Some(ev) = ev {
                            peers.push((a, ev));
                        }
                    }
                }
            }
            if let Some((a, ev)) = peers.into_iter().find(|(a, _)| *a != ip) {
                out.push(
                    Finding::new(
                        "bind-address-mismatch",
                        Error,
                        format!("rpc_zmq_bind_address = {v} in {path}, but peers reach {} at {a}: their connections get RST", n.name()),
                    )
                    .evidence(Evidence::entry(path, e))
                    .evidence(ev)
                    .fix(format!("set rpc_zmq_bind_address = * or {a} in {path} (the address the node's name resolves to)"))
                    .node(n.name())
                    .refs(&["FM13", "DOC-C08"]),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// ports and haproxy
// ---------------------------------------------------------------------------

fn ports(c: &Cluster<'_>, out: &mut Findings) {
    // A receiver behind haproxy (the all-in-one setups: haproxy holds 9501
    // and forwards to the receiver on 9500) is reached at haproxy's port.
    let zmq_ports = legacy_zmq_ports(c);
    let mut fronted: BTreeMap<(&str, u16), (u16, Evidence)> = BTreeMap::new();
    for n in &c.nodes {
        for cfg in &n.node.haproxy {
            for f in zmq_forwards(c, n, cfg, &zmq_ports) {
                if let Some(front) = f.front_port.filter(|&p| p != f.port) {
                    let ev = Evidence::file(&cfg.path, f.server.line, &f.server.text);
                    fronted
                        .entry((f.dest.name(), f.port))
                        .or_insert((front, ev));
                }
            }
        }
    }
    let mut by_port: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
    for n in &c.nodes {
        for s in legacy_configs(n) {
            if s.era == Era::New {
                continue;
            }
            let is_receiver = n.receivers.iter().any(|r| std::ptr::eq(r, s));
            let front = s
                .port_number()
                .filter(|_| is_receiver)
                .and_then(|p| fronted.get(&(n.name(), p)));
            if let Some((front, haproxy_line)) = front {
                by_port
                    .entry(front.to_string())
                    .or_default()
                    .push(haproxy_line.clone());
                continue;
            }
            let value = s.port.value.trim().to_string();
            if s.port_number().is_none() {
                out.push(
                    Finding::new(
                        "option-invalid",
                        Critical,
                        format!("rpc_zmq_port = {value} in {} is not a port number: the driver fails when it reads it", s.path()),
                    )
                    .evidence_all(s.port.entry.map(|e| Evidence::entry(s.path(), e)))
                    .fix(format!("set rpc_zmq_port = 9501 (the same everywhere) in {}", s.path()))
                    .node(n.name())
                    .refs(&["FM12"]),
                );
                continue;
            }
            let ev = s.evidence_for(s.port.entry, "rpc_zmq_port not set: default 9501");
            by_port.entry(value).or_default().push(ev);
        }
    }
    if by_port.len() > 1 {
        let majority = by_port
            .iter()
            .max_by_key(|(_, v)| v.len())
            .map(|(p, _)| p.clone())
            .unwrap_or_else(|| "9501".into());
        let list = by_port
            .iter()
            .map(|(p, evs)| format!("{p} in {}", files_of(evs)))
            .collect::<Vec<_>>()
            .join("; ");
        let others = by_port
            .iter()
            .filter(|(p, _)| **p != majority)
            .map(|(_, evs)| files_of(evs))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(
            Finding::new(
                "port-mismatch",
                Error,
                format!("rpc_zmq_port differs ({list}): every sender connects to its own port on every host, so some connections reach no receiver"),
            )
            .evidence_all(by_port.values().flat_map(|e| e.iter().take(4).cloned()))
            .fix(format!("use one port cluster-wide: set rpc_zmq_port = {majority} in {others} (receivers' configs included), then restart them"))
            .refs(&["FM12", "DOC-C07", "DOC-X01"]),
        );
    }
}

fn haproxy(c: &Cluster<'_>, out: &mut Findings) {
    let zmq_ports = legacy_zmq_ports(c);
    if zmq_ports.is_empty() {
        return;
    }
    for n in &c.nodes {
        for cfg in &n.node.haproxy {
            // Collision with the receiver on the same node (FM12, DOC-N03).
            if let Some((recv, own)) = n.receiver() {
                let rport = recv.port_number().unwrap_or(model::DEFAULT_PORT);
                let rbind = recv.bind_address.value.trim().to_string();
                for p in &cfg.proxies {
                    for b in p.binds.iter().filter(|b| b.port == rport) {
                        if is_wildcard(&b.addr) || is_wildcard(&rbind) || b.addr == rbind {
                            let assumed = if own {
                                ""
                            } else {
                                " (no receiver config given: assumed to run with it)"
                            };
                            out.push(
                                Finding::new(
                                    "haproxy-port-collision",
                                    Critical,
                                    format!(
                                        "haproxy '{}' binds {}:{} and the zmq-receiver on {} binds {}:{rport}{assumed}: whichever starts second fails ('Could not open socket.')",
                                        p.name,
                                        if b.addr.is_empty() { "*" } else { &b.addr },
                                        b.port,
                                        if n.node.explicit { n.name() } else { "the same host" },
                                        rbind
                                    ),
                                )
                                .evidence(Evidence::file(&cfg.path, b.line, &b.text))
                                .evidence(recv.evidence_for(recv.bind_address.entry, "rpc_zmq_bind_address not set: default *"))
                                .evidence(recv.evidence_for(recv.port.entry, "rpc_zmq_port not set: default 9501"))
                                .fix(format!(
                                    "bind the receiver to the node's own address (rpc_zmq_bind_address = <node IP> in {}) and haproxy '{}' to the VIP only, or move one of them to another port",
                                    recv.path(), p.name
                                ))
                                .node(n.name())
                                .refs(&["FM12", "DOC-N03"]),
                            );
                        }
                    }
                }
            }
            // Where haproxy forwards (FM12).
            for f in zmq_forwards(c, n, cfg, &zmq_ports) {
                let (p, sv, port, dest) = (f.proxy, f.server, f.port, f.dest);
                let Some((recv, _)) = dest.receiver() else {
                    continue;
                };
                let rport = recv.port_number().unwrap_or(model::DEFAULT_PORT);
                if rport != port {
                    out.push(
                            Finding::new(
                                "haproxy-backend-port",
                                Error,
                                format!(
                                    "haproxy '{}' forwards to {}:{port} (server '{}') but the zmq-receiver on {} listens on {rport}: forwarded messages are refused",
                                    p.name, sv.addr, sv.name, dest.name()
                                ),
                            )
                            .evidence(Evidence::file(&cfg.path, sv.line, &sv.text))
                            .evidence(recv.evidence_for(recv.port.entry, "rpc_zmq_port not set: default 9501"))
                            .fix(format!("point server '{}' of haproxy '{}' at port {rport} in {}", sv.name, p.name, cfg.path))
                            .node(n.name())
                            .refs(&["FM12", "DOC-N03"]),
                        );
                }
            }
        }
    }
}

/// One `server` line of a ZeroMQ proxy in an haproxy config, resolved to
/// the node it forwards to.
struct HaproxyForward<'c, 'a> {
    proxy: &'c super::config::HaproxyProxy,
    server: &'c super::config::HaproxyServer,
    /// Where it forwards (the server's port, else the frontend's).
    port: u16,
    /// The port haproxy takes the connections on.
    front_port: Option<u16>,
    dest: &'c NodeView<'a>,
}

/// The forwards of `cfg` (on node `n`) that carry ZeroMQ: proxies named for
/// it or on a port a ZeroMQ config uses, and the backends they name.
fn zmq_forwards<'c, 'a>(
    c: &'c Cluster<'a>,
    n: &'c NodeView<'a>,
    cfg: &'c super::config::HaproxyCfg,
    zmq_ports: &BTreeSet<u16>,
) -> Vec<HaproxyForward<'c, 'a>> {
    let zmq_proxy = |p: &super::config::HaproxyProxy| {
        p.name.contains("zmq")
            || p.binds.iter().any(|b| zmq_ports.contains(&b.port))
            || p.servers
                .iter()
                .any(|s| s.port.is_some_and(|x| zmq_ports.contains(&x)))
    };
    let mut chosen: Vec<(&super::config::HaproxyProxy, Option<u16>)> = Vec::new();
    for p in &cfg.proxies {
        if zmq_proxy(p) {
            chosen.push((p, p.binds.first().map(|b| b.port)));
            for name in &p.backends {
                if let Some(b) = cfg
                    .proxies
                    .iter()
                    .find(|q| q.kind == "backend" && &q.name == name)
                {
                    chosen.push((b, p.binds.first().map(|b| b.port)));
                }
            }
        }
    }
    let mut forwards = Vec::new();
    for (proxy, front_port) in chosen {
        for server in &proxy.servers {
            let Some(port) = server.port.or(front_port) else {
                continue;
            };
            let dest = match c.resolve(&server.addr, Some(n)) {
                Resolved::Addr(ip, _) => c.node_at(ip),
                _ => None,
            }
            .or_else(|| c.node_named(&server.addr));
            if let Some(dest) = dest {
                forwards.push(HaproxyForward {
                    proxy,
                    server,
                    port,
                    front_port,
                    dest,
                });
            }
        }
    }
    forwards
}

/// The ports of all ZeroMQ configs of the legacy driver.
fn legacy_zmq_ports(c: &Cluster<'_>) -> BTreeSet<u16> {
    c.nodes
        .iter()
        .flat_map(|n| {
            legacy_configs(n)
                .into_iter()
                .filter_map(|s| s.port_number())
        })
        .collect()
}

// ---------------------------------------------------------------------------
// IPC directory
// ---------------------------------------------------------------------------

fn ipc(c: &Cluster<'_>, out: &mut Findings) {
    for n in &c.nodes {
        let services: Vec<&ServiceView<'_>> = n.legacy_services().collect();
        if let Some(recv) = n.receivers.first() {
            let rdir = recv.ipc_dir.value.trim();
            for s in &services {
                if !same_dir(s.ipc_dir.value.trim(), rdir) {
                    out.push(
                        Finding::new(
                            "ipc-dir-mismatch",
                            Critical,
                            format!(
                                "the zmq-receiver{} forwards into {rdir} but {} listens in {}: nothing reaches that service",
                                if n.node.explicit { format!(" on {}", n.name()) } else { String::new() },
                                s.path(),
                                s.ipc_dir.value.trim()
                            ),
                        )
                        .evidence(recv.evidence_for(recv.ipc_dir.entry, "rpc_zmq_ipc_dir not set: default /var/run/openstack"))
                        .evidence(s.evidence_for(s.ipc_dir.entry, "rpc_zmq_ipc_dir not set: default /var/run/openstack"))
                        .fix(format!(
                            "set rpc_zmq_ipc_dir = {rdir} in {} (one directory per node, created at boot as root:openstack 2775, receiver umask 0002)",
                            s.path()
                        ))
                        .node(n.name())
                        .refs(&["FM14", "DOC-X02"]),
                    );
                }
            }
        } else {
            let dirs: BTreeSet<String> = services
                .iter()
                .map(|s| s.ipc_dir.value.trim().trim_end_matches('/').to_string())
                .collect();
            if dirs.len() > 1 {
                out.push(
                    Finding::new(
                        "ipc-dir-mismatch",
                        Error,
                        format!(
                            "services{} use different rpc_zmq_ipc_dir ({}): the receiver forwards into one of them only",
                            if n.node.explicit { format!(" on {}", n.name()) } else { String::new() },
                            dirs.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    )
                    .evidence_all(services.iter().map(|s| s.evidence_for(s.ipc_dir.entry, "rpc_zmq_ipc_dir not set: default /var/run/openstack")))
                    .fix("set the same rpc_zmq_ipc_dir in every service config of the node and in the receiver's")
                    .node(n.name())
                    .refs(&["FM14", "DOC-X02"]),
                );
            }
        }
        // Unix socket path length (catalogue 3.1).
        let Some((host, _)) = n.zmq_host() else {
            continue;
        };
        let mut topics: Vec<String> = KNOWN_TOPICS.iter().map(|t| t.to_string()).collect();
        if let Some(r) = c.ring_of(n) {
            topics.extend(r.entries().iter().map(|e| e.key.clone()));
        }
        for s in legacy_configs(n) {
            let dir = s.ipc_dir.value.trim();
            if let Some(t) = topics.iter().max_by_key(|t| t.len()) {
                let path = format!("{dir}/zmq_topic_{t}.{host}");
                if path.len() > MAX_IPC_PATH {
                    out.push(
                        Finding::new(
                            "ipc-path-too-long",
                            Warning,
                            format!("the IPC socket path for topic '{t}' on {} is {} bytes, over the {MAX_IPC_PATH} a Unix socket allows: 'Topic socket file creation failed.'", n.name(), path.len()),
                        )
                        .evidence(s.evidence_for(s.ipc_dir.entry, "rpc_zmq_ipc_dir not set: default /var/run/openstack"))
                        .fix(format!("use a shorter rpc_zmq_ipc_dir (e.g. /run/zmq) or a shorter rpc_zmq_host than '{host}'"))
                        .node(n.name())
                        .refs(&["DOC-X02"]),
                    );
                    break;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// the ringfile
// ---------------------------------------------------------------------------

/// `notifications.info`-style keys.
fn dotted_notification(key: &str) -> Option<String> {
    let (topic, prio) = key.split_once('.')?;
    (!topic.is_empty() && !prio.contains('.') && PRIORITIES.contains(&prio))
        .then(|| format!("{topic}-{prio}"))
}

/// A near-miss ring key, in every ring that has it.
struct Rename {
    why: &'static str,
    severity: Severity,
    paths: Vec<String>,
    evidence: Vec<Evidence>,
    nodes: BTreeSet<String>,
}

impl Rename {
    fn new(why: &'static str, severity: Severity) -> Rename {
        Rename {
            why,
            severity,
            paths: Vec::new(),
            evidence: Vec::new(),
            nodes: BTreeSet::new(),
        }
    }

    fn add(&mut self, path: &str, ev: Evidence, node: &str) {
        if !self.paths.iter().any(|p| p == path) {
            self.paths.push(path.to_string());
        }
        self.evidence.push(ev);
        self.nodes.insert(node.to_string());
    }
}

fn rings(c: &Cluster<'_>, out: &mut Findings) {
    let mut renames: BTreeMap<(String, String), Rename> = BTreeMap::new();
    let uses_ring = c
        .legacy_services()
        .any(|(_, s)| s.matchmaker_kind() == "ring");
    for (node, ring) in c.rings() {
        let node_name = node.map(|n| n.name()).unwrap_or("-");
        let path = ring.path.as_str();
        match &ring.data {
            Err(e) => {
                out.push(
                    Finding::new(
                        "ringfile-invalid",
                        Critical,
                        format!("ringfile {path} is not valid JSON: {} at line {}, column {}", e.message, e.line, e.column),
                    )
                    .evidence(Evidence::file(path, e.line, &e.text).note(&format!("column {}", e.column)))
                    .fix(format!(
                        "correct the JSON at line {} column {} of {path} (a trailing comma or a missing quote is the usual cause); until then every service reading it fails with ValueError, servers at start and clients at their first request",
                        e.line, e.column
                    ))
                    .node(node_name)
                    .refs(&["FM03", "DOC-R01"]),
                );
                continue;
            }
            Ok(super::config::RingData::NotObject(kind)) => {
                out.push(
                    Finding::new(
                        "ringfile-invalid",
                        Critical,
                        format!("ringfile {path} is {kind}, not a JSON object of topic -> [hosts]"),
                    )
                    .evidence(Evidence::file(path, 1, ""))
                    .fix(format!(
                        "write {path} as {{\"topic\": [\"host1\", \"host2\"], ...}}"
                    ))
                    .node(node_name)
                    .refs(&["FM03", "DOC-R01"]),
                );
                continue;
            }
            Ok(_) => {}
        }
        let entries = ring.entries();
        let mut seen: BTreeMap<&str, &RingEntry> = BTreeMap::new();
        for e in entries {
            let ev = Evidence::file(path, e.line, &e.text);
            if let Some(first) = seen.insert(e.key.as_str(), e) {
                out.push(
                    Finding::new(
                        "ring-key-duplicate",
                        Warning,
                        format!("ring key '{}' appears twice in {path}: only the last one (line {}) is used", e.key, e.line),
                    )
                    .evidence(Evidence::file(path, first.line, &first.text))
                    .evidence(ev.clone())
                    .fix(format!("merge the two '{}' entries of {path} into one", e.key))
                    .node(node_name)
                    .refs(&["DOC-R02"]),
                );
            }
            match &e.value {
                RingValue::Str(s) => {
                    let chars: Vec<String> =
                        s.chars().take(4).map(|ch| format!("'{ch}'")).collect();
                    out.push(
                        Finding::new(
                            "ring-value-not-list",
                            Error,
                            format!("ring key '{}' in {path} maps to the string \"{s}\", not a list: the matchmaker cycles over its characters and sends to hosts {}", e.key, chars.join(", ")),
                        )
                        .evidence(ev.clone())
                        .fix(format!("write \"{}\": [\"{s}\"] in {path}", e.key))
                        .node(node_name)
                        .refs(&["DOC-R04"]),
                    );
                }
                RingValue::Hosts(h) if h.is_empty() => {
                    out.push(
                        Finding::new(
                            "ring-value-empty",
                            Error,
                            format!("ring key '{}' in {path} lists no host: casts to '{}' raise StopIteration, fanouts go nowhere", e.key, e.key),
                        )
                        .evidence(ev.clone())
                        .fix(format!("list the hosts that run the consumers of '{}' in {path}, or remove the key", e.key))
                        .node(node_name)
                        .refs(&["DOC-R04"]),
                    );
                }
                RingValue::Hosts(h) => {
                    let mut uniq = BTreeSet::new();
                    for host in h {
                        if host.trim().is_empty()
                            || host.trim() != host
                            || host.contains(['/', '\\'])
                        {
                            out.push(
                                Finding::new(
                                    "ring-host-invalid",
                                    Error,
                                    format!("ring key '{}' in {path} lists the host \"{host}\", which no node is named", e.key),
                                )
                                .evidence(ev.clone())
                                .fix(format!("write the host's exact rpc_zmq_host, without spaces or slashes, in {path}"))
                                .node(node_name)
                                .refs(&["DOC-R02"]),
                            );
                        }
                        if !uniq.insert(host.as_str()) {
                            out.push(
                                Finding::new(
                                    "ring-host-duplicate",
                                    Warning,
                                    format!("ring key '{}' in {path} lists '{host}' twice: round robin sends it twice its share, fanouts send twice", e.key),
                                )
                                .evidence(ev.clone())
                                .fix(format!("list '{host}' once under '{}' in {path}", e.key))
                                .node(node_name)
                                .refs(&["DOC-R02"]),
                            );
                        }
                    }
                }
                RingValue::MixedList { others, .. } => {
                    out.push(
                        Finding::new(
                            "ring-value-invalid",
                            Error,
                            format!("ring key '{}' in {path} lists {others} value(s) that are not host names: sends to them fail with TypeError", e.key),
                        )
                        .evidence(ev.clone())
                        .fix(format!("make every host under '{}' a quoted string in {path}", e.key))
                        .node(node_name)
                        .refs(&["DOC-R04"]),
                    );
                }
                RingValue::NotIterable(kind) => {
                    out.push(
                        Finding::new(
                            "ring-value-invalid",
                            Critical,
                            format!("ring key '{}' in {path} maps to {kind}: building the ring matchmaker fails with TypeError, so every send of every service reading it fails", e.key),
                        )
                        .evidence(ev.clone())
                        .fix(format!("write \"{}\": [\"host1\", ...] in {path}", e.key))
                        .node(node_name)
                        .refs(&["DOC-R04"]),
                    );
                }
            }
            // Key hygiene.
            let key = e.key.as_str();
            let trimmed = key.trim();
            if trimmed != key && !trimmed.is_empty() && ring.get(trimmed).is_none() {
                let why = near_miss(key, trimmed).unwrap_or("spaces around it");
                renames
                    .entry((key.to_string(), trimmed.to_string()))
                    .or_insert_with(|| Rename::new(why, Error))
                    .add(path, ev.clone(), node_name);
            } else if let Some(want) = dotted_notification(key) {
                out.push(
                    Finding::new(
                        "ring-notification-key-dotted",
                        Error,
                        format!("ring key '{key}' in {path} is never looked up: notifications are sent to '{want}' ('.' becomes '-')"),
                    )
                    .evidence(ev.clone())
                    .fix(format!("rename the key '{key}' to '{want}' in {path}; {RESTART}"))
                    .node(node_name)
                    .refs(&["FM02", "DOC-R06"]),
                );
            } else if key.starts_with("fanout~") || key.starts_with("zmq_replies") {
                out.push(
                    Finding::new(
                        "ring-key-dead",
                        Warning,
                        format!("ring key '{key}' in {path} is never consulted: fanouts look up the topic without 'fanout~', replies are direct routes"),
                    )
                    .evidence(ev.clone())
                    .fix(format!(
                        "remove '{key}' from {path}{}",
                        key.strip_prefix("fanout~").map(|t| format!(" (fanouts to '{t}' use the key '{t}')")).unwrap_or_default()
                    ))
                    .node(node_name)
                    .refs(&["DOC-R06"]),
                );
            } else if let Some((_, host)) = key.split_once('.') {
                out.push(
                    Finding::new(
                        "ring-key-dead",
                        Warning,
                        format!("ring key '{key}' in {path} is never consulted: a topic with a '.' is a direct route to the host '{host}'"),
                    )
                    .evidence(ev.clone())
                    .fix(format!(
                        "remove '{key}' from {path}; do not use topics with a '.' on the legacy driver (Ironic's 'ironic.conductor_manager' cannot work on it)"
                    ))
                    .node(node_name)
                    .refs(&["FM21", "DOC-R06"]),
                );
            } else if !KNOWN_TOPICS.contains(&key) {
                if let Some((topic, why)) = KNOWN_TOPICS
                    .iter()
                    .filter(|t| ring.get(t).is_none())
                    .find_map(|t| near_miss(key, t).map(|w| (*t, w)))
                {
                    let certain = matches!(why, "different case" | "'_' and '-' swapped");
                    renames
                        .entry((key.to_string(), topic.to_string()))
                        .or_insert_with(|| Rename::new(why, if certain { Error } else { Warning }))
                        .add(
                            path,
                            ev.clone()
                                .note(&format!("'{key}' looks like '{topic}' ({why})")),
                            node_name,
                        );
                }
            }
        }
        if let (false, false, Some((n, s))) =
            (uses_ring, entries.is_empty(), c.legacy_services().next())
        {
            out.push(
                Finding::new(
                    "ringfile-unused",
                    Info,
                    format!("{path} is given but {} does not use the ring matchmaker (rpc_zmq_matchmaker = {})", s.path(), s.matchmaker.value),
                )
                .evidence(s.evidence_for(s.matchmaker.entry, "rpc_zmq_matchmaker not set"))
                .node(n.name()),
            );
        }
    }
    for ((key, topic), r) in renames {
        let mut f = Finding::new(
            "ring-key-missing",
            r.severity,
            format!("topic '{topic}' has no key in the ringfile"),
        )
        .evidence_all(r.evidence)
        .fix(format!(
            "{}; {RESTART}",
            rename_fix(&key, &topic, r.why, &r.paths.join(" and "))
        ))
        .refs(&["FM01", "DOC-R03"]);
        if let (1, Some(n)) = (r.nodes.len(), r.nodes.first()) {
            f = f.node(n);
        }
        out.push(f);
    }
    // Rings must be the same everywhere (FM04, DOC-R07).
    let all: Vec<(Option<&NodeView<'_>>, &Ringfile)> = c
        .rings()
        .filter(|(_, r)| matches!(r.data, Ok(super::config::RingData::Object(_))))
        .collect();
    if let Some((_, first)) = all.first() {
        let base = first.effective();
        for (_, other) in all.iter().skip(1) {
            let eff = other.effective();
            if eff == base {
                continue;
            }
            let keys: BTreeSet<&str> = base.keys().chain(eff.keys()).copied().collect();
            let diff: Vec<&str> = keys
                .into_iter()
                .filter(|k| base.get(k) != eff.get(k))
                .collect();
            let mut f = Finding::new(
                "ringfile-differs",
                Error,
                format!(
                    "the rings {} and {} differ (keys {}): nodes route the same topic to different hosts",
                    first.path,
                    other.path,
                    diff.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")
                ),
            )
            .fix(format!("install one ring on every node (config management), e.g. copy {} over {}, then restart every sender (the ring is read once per process)", first.path, other.path))
            .refs(&["FM04", "DOC-R07"]);
            for k in diff.iter().take(4) {
                for r in [*first, *other] {
                    match r.get(k) {
                        Some(e) => f = f.evidence(Evidence::file(&r.path, e.line, &e.text)),
                        None => f = f.evidence(ring_first_line(r, &format!("no key '{k}'"))),
                    }
                }
            }
            out.push(f);
        }
    }
}

/// The rings' host names against the nodes and name resolution (FM04,
/// FM07, FM08, DOC-R08, DOC-N01, DOC-N02).
fn ring_hosts(c: &Cluster<'_>, out: &mut Findings) {
    let explicit_nodes = c.nodes.iter().filter(|n| n.node.explicit).count();
    for (rnode, ring) in c.rings() {
        // host -> the ring lines naming it
        let mut hosts: BTreeMap<&str, Vec<&RingEntry>> = BTreeMap::new();
        for e in ring.entries() {
            if let RingValue::Hosts(h) = &e.value {
                for host in h {
                    if !host.trim().is_empty() {
                        hosts.entry(host.as_str()).or_default().push(e);
                    }
                }
            }
        }
        // The nodes whose senders read this ring (itself, or all for --ringfile).
        let readers: Vec<Option<&NodeView<'_>>> = match rnode {
            Some(n) => vec![Some(n)],
            None => {
                let with_hosts: Vec<Option<&NodeView<'_>>> = c
                    .nodes
                    .iter()
                    .filter(|n| n.node.hosts.is_some())
                    .map(Some)
                    .collect();
                if with_hosts.is_empty() {
                    vec![None]
                } else {
                    with_hosts
                }
            }
        };
        for (host, lines) in hosts {
            let ring_ev: Vec<Evidence> = lines
                .iter()
                .take(3)
                .map(|e| Evidence::file(&ring.path, e.line, &e.text))
                .collect();
            let keys: Vec<&str> = lines.iter().map(|e| e.key.as_str()).collect();
            let mut dest: Option<&NodeView<'_>> = None;
            let mut resolved_any = false;
            let mut unresolved = false;
            for from in &readers {
                let on = from
                    .map(|f| format!(" on {}", f.name()))
                    .unwrap_or_default();
                match c.resolve(host, *from) {
                    Resolved::Missing(table) => {
                        unresolved = true;
                        out.push(
                            Finding::new(
                                "ring-host-unresolved",
                                Critical,
                                format!("ring host '{host}' does not resolve{on} ({table}): sends to {} fail with 'Could not open socket.'", quote_list(&keys)),
                            )
                            .evidence_all(ring_ev.clone())
                            .fix(format!("add '{host}' with its address to {table} on every node (or correct the name in {})", ring.path))
                            .node(from.map(|f| f.name()).unwrap_or("-"))
                            .refs(&["FM08", "DOC-N01"]),
                        );
                    }
                    Resolved::Addr(ip, ev) => {
                        resolved_any = true;
                        if ip.is_loopback() && c.multi_node() {
                            let here = from
                                .and_then(|f| f.zmq_host())
                                .is_some_and(|(h, _)| h == host);
                            if !here {
                                out.push(
                                    Finding::new(
                                        "ring-host-loopback",
                                        Error,
                                        format!("ring host '{host}' resolves to {ip}{on}: messages for it stay on the sending node"),
                                    )
                                    .evidence_all(ring_ev.clone())
                                    .evidence_all(ev.clone())
                                    .fix(format!("make '{host}' resolve to its node's real address{on} (a '127.0.1.1 hostname' line of /etc/hosts is the usual cause)"))
                                    .node(from.map(|f| f.name()).unwrap_or("-"))
                                    .refs(&["FM08", "DOC-N02"]),
                                );
                                continue;
                            }
                        }
                        if let Some(d) = c.node_at(ip) {
                            dest = Some(d);
                        } else if !ip.is_loopback() {
                            // A VIP in front of receivers? (FM07, FM12)
                            for n in &c.nodes {
                                for cfg in &n.node.haproxy {
                                    for p in &cfg.proxies {
                                        for b in p.binds.iter().filter(|b| b.addr == ip.to_string())
                                        {
                                            out.push(
                                                Finding::new(
                                                    "ring-host-vip",
                                                    Error,
                                                    format!("ring host '{host}' resolves to {ip}, an haproxy address ('{}'): the receiver behind it forwards '<topic>.{host}', which no consumer listens on", p.name),
                                                )
                                                .evidence_all(ring_ev.clone())
                                                .evidence_all(ev.clone())
                                                .evidence(Evidence::file(&cfg.path, b.line, &b.text))
                                                .fix(format!("list the nodes' own rpc_zmq_host names in {}, not the VIP name '{host}'", ring.path))
                                                .refs(&["FM07", "FM12", "DOC-N02"]),
                                            );
                                        }
                                    }
                                }
                            }
                        }
                    }
                    Resolved::Unknown => {}
                }
            }
            let dest = dest.or_else(|| {
                if resolved_any {
                    None
                } else {
                    c.node_named(host)
                }
            });
            match dest {
                Some(d) => {
                    if let Some((zh, src)) = d.zmq_host() {
                        if zh != host {
                            let (sev, assumed) = match src {
                                Some(_) => (Error, ""),
                                None => (
                                    Warning,
                                    " (its rpc_zmq_host is not set: the --node name is taken as its hostname)",
                                ),
                            };
                            let mut f = Finding::new(
                                "ring-host-name-mismatch",
                                sev,
                                format!(
                                    "ring host '{host}' is node {}, whose consumers listen as '{zh}'{assumed}: the receiver there forwards '<topic>.{host}' to an IPC socket nobody reads",
                                    d.name()
                                ),
                            )
                            .evidence_all(ring_ev.clone())
                            .fix(format!(
                                "write '{zh}' instead of '{host}' in {}{} (or set rpc_zmq_host = {host} on {}), {RESTART}",
                                ring.path,
                                if c.rings().count() > 1 { " and every other copy of the ring" } else { "" },
                                d.name()
                            ))
                            .node(d.name())
                            .refs(&["FM07", "DOC-R08"]);
                            if let Some((p, e)) = src {
                                f = f.evidence(Evidence::entry(p, e));
                            }
                            out.push(f);
                        }
                    }
                }
                None if explicit_nodes > 1 && !resolved_any && !unresolved => {
                    let names: Vec<String> = c
                        .nodes
                        .iter()
                        .filter(|n| n.node.explicit)
                        .map(|n| {
                            n.zmq_host()
                                .map(|(h, _)| h)
                                .unwrap_or_else(|| n.name().to_string())
                        })
                        .collect();
                    out.push(
                        Finding::new(
                            "ring-host-unknown",
                            Info,
                            format!("ring host '{host}' (for {}) is none of the nodes given ({}): a removed node, a node not given, or a name no consumer uses", quote_list(&keys), names.join(", ")),
                        )
                        .evidence_all(ring_ev.clone())
                        .fix(format!("remove '{host}' from {} if the node is gone, or give its configs with --node {host}=DIR", ring.path))
                        .refs(&["FM04", "DOC-R07"]),
                    );
                }
                None => {}
            }
        }
    }
}

fn quote_list(items: &[&str]) -> String {
    let mut v: Vec<String> = items.iter().map(|k| format!("'{k}'")).collect();
    v.dedup();
    v.join(", ")
}

/// Every consumer known to run has its key and its host in the ring
/// (FM01, FM02, FM04, DOC-R05, DOC-R07).
fn coverage(c: &Cluster<'_>, out: &mut Findings) {
    for n in &c.nodes {
        let Some(ring) = c.ring_of(n) else { continue };
        if !matches!(ring.data, Ok(super::config::RingData::Object(_))) {
            continue;
        }
        if !c
            .legacy_services()
            .any(|(_, s)| s.matchmaker_kind() == "ring")
        {
            continue;
        }
        for svc in &n.inventory {
            let Some(st) = SERVICE_TOPICS.iter().find(|t| t.service == svc) else {
                continue;
            };
            let svc_ev = n
                .node
                .logs
                .iter()
                .find(|l| &l.service() == svc)
                .map(|l| {
                    Evidence::file(&l.path, 1, &l.first)
                        .note(&format!("{svc} runs on {}", n.name()))
                })
                .or_else(|| {
                    n.node.configs.iter().find(|c| &c.service == svc).map(|c| {
                        let (line, text) = c
                            .ini
                            .sections
                            .first()
                            .map(|(_, l, t)| (*l, t.as_str()))
                            .unwrap_or((1, ""));
                        Evidence::file(&c.ini.path, line, text)
                            .note(&format!("{svc} runs on {}", n.name()))
                    })
                });
            for topic in st.topics {
                match ring.get(topic) {
                    None => {
                        let (fix, near) = match near_key(ring, topic) {
                            Some((e, why)) => (
                                format!("{}; {RESTART}", rename_fix(&e.key, topic, why, &ring.path)),
                                Some(Evidence::file(&ring.path, e.line, &e.text)),
                            ),
                            None => (
                                format!(
                                    "add \"{topic}\": [\"{}\"] to {} (the hosts that run {svc}); {RESTART}",
                                    hosts_running(c, svc).join("\", \""),
                                    ring.path
                                ),
                                None,
                            ),
                        };
                        out.push(
                            Finding::new(
                                "ring-key-missing",
                                if st.fanout_only { Warning } else { Error },
                                format!("topic '{topic}' has no key in the ringfile"),
                            )
                            .evidence(near.unwrap_or_else(|| {
                                ring_first_line(ring, &format!("no key '{topic}'"))
                            }))
                            .evidence_all(svc_ev.clone())
                            .fix(fix)
                            .refs(&["FM01", "DOC-R05"]),
                        );
                    }
                    Some(e) => {
                        let Some((zh, _)) = n.zmq_host() else {
                            continue;
                        };
                        if let RingValue::Hosts(h) = &e.value {
                            // A host naming this node otherwise is the
                            // name mismatch (ring-host-name-mismatch).
                            let own: Vec<IpAddr> =
                                c.addresses(n).into_iter().map(|(ip, _)| ip).collect();
                            let other_name = h.iter().any(|x| {
                                matches!(c.resolve(x, Some(n)), Resolved::Addr(ip, _) if own.contains(&ip))
                            });
                            if !h.is_empty() && !h.contains(&zh) && !other_name {
                                out.push(
                                    Finding::new(
                                        "ring-missing-node",
                                        if st.fanout_only { Error } else { Warning },
                                        format!(
                                            "{svc} runs on {} but ring key '{topic}' does not list '{zh}': it gets no fanout to '{topic}'{}",
                                            n.name(),
                                            if st.fanout_only { "" } else { " and no round-robin cast" }
                                        ),
                                    )
                                    .evidence(Evidence::file(&ring.path, e.line, &e.text))
                                    .evidence_all(svc_ev.clone())
                                    .fix(format!("add \"{zh}\" to '{topic}' in {}; {RESTART}", ring.path))
                                    .node(n.name())
                                    .refs(&["FM04", "DOC-R07"]),
                                );
                            }
                        }
                    }
                }
            }
        }
        // Ring hosts that run no consumer of the key (known inventories only).
        for e in ring.entries() {
            let Some(st) = SERVICE_TOPICS
                .iter()
                .find(|t| t.topics.contains(&e.key.as_str()))
            else {
                continue;
            };
            if let RingValue::Hosts(hosts) = &e.value {
                for h in hosts {
                    let Some(d) = c.node_named(h) else { continue };
                    if d.name() != n.name() || d.inventory.is_empty() {
                        continue;
                    }
                    if !d.inventory.iter().any(|s| s == st.service) {
                        out.push(
                            Finding::new(
                                "ring-host-no-consumer",
                                Info,
                                format!(
                                    "ring key '{}' lists '{h}' but no log or config of {} was given for {} (services seen: {}); if it does not run there, its share of casts to '{}' is lost",
                                    e.key,
                                    st.service,
                                    d.label(),
                                    d.inventory.join(", "),
                                    e.key
                                ),
                            )
                            .evidence(Evidence::file(&ring.path, e.line, &e.text))
                            .fix(format!("remove '{h}' from '{}' in {} unless {} runs there; {RESTART}", e.key, ring.path, st.service))
                            .node(d.name())
                            .refs(&["FM04", "DOC-R07"]),
                        );
                    }
                }
            }
        }
    }
    // Notifications: the senders' notification topics need '<topic>-<priority>' keys (FM02).
    for (n, s) in c.legacy_services() {
        if s.matchmaker_kind() != "ring" {
            continue;
        }
        let Some(ring) = c.ring_of(n) else { continue };
        if !matches!(ring.data, Ok(super::config::RingData::Object(_))) {
            continue;
        }
        let ini = &s.cfg.ini;
        let driver = ini
            .all("DEFAULT", "notification_driver")
            .into_iter()
            .chain(ini.all("oslo_messaging_notifications", "driver"))
            .find(|e| {
                let v = e.value.trim();
                v.contains("messaging") || v.contains("rpc_notifier")
            });
        let Some(driver) = driver else { continue };
        let topics_entry = ini
            .get("oslo_messaging_notifications", "topics")
            .or_else(|| ini.get("DEFAULT", "notification_topics"));
        let topics: Vec<String> = topics_entry
            .map(|e| {
                e.value
                    .split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            })
            .unwrap_or_else(|| vec!["notifications".to_string()]);
        for t in topics {
            let key = format!("{t}-info");
            if ring.get(&key).is_some() {
                continue;
            }
            let dotted = ring.get(&format!("{t}.info"));
            let mut f = Finding::new(
                "ring-key-missing",
                Error,
                format!("topic '{key}' has no key in the ringfile"),
            )
            .evidence(Evidence::entry(s.path(), driver))
            .evidence_all(topics_entry.map(|e| Evidence::entry(s.path(), e)))
            .refs(&["FM02", "DOC-R05"]);
            f = match dotted {
                Some(e) => f
                    .evidence(Evidence::file(&ring.path, e.line, &e.text))
                    .fix(format!("rename the key '{t}.info' to '{key}' in {} (and '-error', '-warn' likewise); {RESTART}", ring.path)),
                None => f
                    .evidence(ring_first_line(ring, &format!("no key '{key}'")))
                    .fix(format!("add \"{key}\": [\"<the host of the notification consumer>\"] to {}; {RESTART}", ring.path)),
            };
            out.push(f);
        }
    }
}

/// The `rpc_zmq_host` of every node where `service` is known to run.
fn hosts_running(c: &Cluster<'_>, service: &str) -> Vec<String> {
    let v: Vec<String> = c
        .nodes
        .iter()
        .filter(|n| n.inventory.iter().any(|s| s == service))
        .filter_map(|n| n.zmq_host().map(|(h, _)| h))
        .collect();
    if v.is_empty() {
        vec![format!("<hosts running {service}>")]
    } else {
        v
    }
}

// ---------------------------------------------------------------------------
// logs
// ---------------------------------------------------------------------------

fn logs(c: &Cluster<'_>, out: &mut Findings) {
    for n in &c.nodes {
        for log in &n.node.logs {
            one_log(c, n, log, out);
        }
        consumers_vs_receiver(n, out);
    }
}

/// Quote the first lines, and say how many there were.
fn quoted(log: &LogFile, recs: &[&LogRecord]) -> Vec<Evidence> {
    let mut v: Vec<Evidence> = recs
        .iter()
        .take(MAX_LOG_EVIDENCE)
        .map(|r| log_ev(log, r))
        .collect();
    if recs.len() > MAX_LOG_EVIDENCE {
        v.pop();
        if let Some(r) = recs.last() {
            v.push(log_ev(log, r).note(&format!("{} such lines in {}", recs.len(), log.path)));
        }
    }
    v
}

fn one_log(c: &Cluster<'_>, n: &NodeView<'_>, log: &LogFile, out: &mut Findings) {
    use LogEvent as E;
    let node = n.name();
    let ring = c.ring_of(n);
    // Topics without a ring key, and the 'No matchmaker results' that
    // follow them in the same process.
    let mut missing: BTreeMap<&str, Vec<&LogRecord>> = BTreeMap::new();
    let mut orphans: Vec<&LogRecord> = Vec::new();
    // The last topic without a ring key per process, and its line: the
    // 'No matchmaker results' and the Timeout that follow it belong to it.
    let mut last_key: BTreeMap<Option<&str>, (&str, u32)> = BTreeMap::new();
    let mut by_kind: BTreeMap<&'static str, Vec<&LogRecord>> = BTreeMap::new();
    for r in &log.records {
        let pid = r.pid.as_deref();
        match &r.event {
            E::NoRingKey { topic } => {
                missing.entry(topic.as_str()).or_default().push(r);
                last_key.insert(pid, (topic.as_str(), r.line));
            }
            E::NoMatchmakerResults { .. } => match follows(&last_key, pid, r.line) {
                Some(t) => missing.entry(t).or_default().push(r),
                None => orphans.push(r),
            },
            E::RpcTimeout { info } if info.contains("matchmaker") || info.contains("No match") => {
                match follows(&last_key, pid, r.line) {
                    Some(t) => missing.entry(t).or_default().push(r),
                    None => orphans.push(r),
                }
            }
            E::RpcTimeout { .. } => by_kind.entry("timeout").or_default().push(r),
            E::MatchmakerDeprecated { .. } => by_kind.entry("mm-deprecated").or_default().push(r),
            E::MatchmakerNotFound { .. } => by_kind.entry("mm-notfound").or_default().push(r),
            E::CouldNotOpenSocket => by_kind.entry("open-socket").or_default().push(r),
            E::IpcDirMissing { .. } | E::IpcDirPermission { .. } => {
                by_kind.entry("ipc-dir").or_default().push(r)
            }
            E::ReceiverBindFailed => by_kind.entry("bind").or_default().push(r),
            E::TopicSocketFailed | E::DangerousTopic => {
                by_kind.entry("topic-refused").or_default().push(r)
            }
            E::BacklogFull { .. } => by_kind.entry("backlog").or_default().push(r),
            E::NoMethod => by_kind.entry("no-method").or_default().push(r),
            E::EnvelopeUnsupported => by_kind.entry("envelope").or_default().push(r),
            E::RedisError { .. } => by_kind.entry("redis").or_default().push(r),
            E::SerializeMsg => by_kind.entry("serialize").or_default().push(r),
            E::NoRecords { .. } => by_kind.entry("no-records").or_default().push(r),
            E::RedisUnavailable { .. } | E::MatchmakerUnreachable => {
                by_kind.entry("redis-down").or_default().push(r)
            }
            E::MessagingTimeout => by_kind.entry("messaging-timeout").or_default().push(r),
            E::PortsExhausted => by_kind.entry("ports").or_default().push(r),
            E::SendingTo { .. } => by_kind.entry("sending").or_default().push(r),
            E::ConductorTimeout => by_kind.entry("conductor").or_default().push(r),
            E::RingfileMissing { .. } => by_kind.entry("ring-missing").or_default().push(r),
            E::RingfileInvalid { .. } => by_kind.entry("ring-invalid").or_default().push(r),
            E::NotificationFailed { .. } => by_kind.entry("notification").or_default().push(r),
            E::CreatingProxy { .. } | E::ConnectingIpc { .. } | E::ConnectingTcp { .. } => {}
        }
    }
    // DOC-L01/L02 (FM01, FM02).
    for (topic, recs) in &missing {
        let topic = *topic;
        let mut f = Finding::new(
            "ring-key-missing",
            Error,
            format!("topic '{topic}' has no key in the ringfile"),
        )
        .evidence_all(quoted(log, recs))
        .refs(&["FM01", "DOC-L01", "DOC-L02"]);
        let base_prio = topic
            .rsplit_once('-')
            .filter(|(_, p)| PRIORITIES.contains(p))
            .map(|(b, p)| format!("{b}.{p}"));
        f = match ring {
            Some(r) => {
                if let Some(dotted) = base_prio.as_deref().and_then(|d| r.get(d)) {
                    f.evidence(Evidence::file(&r.path, dotted.line, &dotted.text))
                        .fix(format!("rename the key '{}' to '{topic}' in {}; {RESTART}", dotted.key, r.path))
                        .refs(&["FM02"])
                } else if let Some((e, why)) = near_key(r, topic) {
                    f.evidence(Evidence::file(&r.path, e.line, &e.text))
                        .fix(format!("{}; {RESTART}", rename_fix(&e.key, topic, why, &r.path)))
                } else if r.get(topic).is_some() {
                    let e = r.get(topic).map(|e| Evidence::file(&r.path, e.line, &e.text));
                    f.evidence_all(e).fix(format!(
                        "{} has '{topic}' now: the process that logged this started with an older ring; restart it (the ring is read once per process)",
                        r.path
                    ))
                    .refs(&["FM04"])
                } else {
                    f.evidence(ring_first_line(r, &format!("no key '{topic}'")))
                        .fix(format!("add \"{topic}\": [\"<hosts running the '{topic}' consumer>\"] to {}; {RESTART}", r.path))
                }
            }
            None => f.fix(format!(
                "add the key '{topic}' with the hosts that run its consumer to the ringfile ([matchmaker_ring] ringfile); {RESTART} (give --ringfile to check the ring itself)"
            )),
        };
        out.push(f.node(node));
    }
    if !orphans.is_empty() {
        let mm = n
            .legacy_services()
            .next()
            .map(|s| s.matchmaker_kind().to_string())
            .unwrap_or_default();
        let cause = match mm.as_str() {
            "redis" => "the redis matchmaker has no live registration for the topic: the consumer never registered, or its heartbeat stopped and the key expired",
            _ => "the matchmaker returned no host for the topic",
        };
        out.push(
            Finding::new(
                "no-matchmaker-results",
                Error,
                format!("{}: {} because {cause}", log.path, count(orphans.len() as u64, "send dropped", "sends dropped")),
            )
            .evidence_all(quoted(log, &orphans))
            .fix(if mm == "redis" {
                "check that the consumer of the topic runs and refreshes its registration (matchmaker_heartbeat_freq < ttl/2); restart the consumers after a Redis restart or flush".to_string()
            } else {
                format!("run `zmqtrace doctor --route <topic>` with the configs of {} to see which step fails", if n.node.explicit { node } else { "the sender" })
            })
            .node(node)
            .refs(&["FM01", "FM15", "DOC-L02"]),
        );
    }
    for (kind, recs) in by_kind {
        let first = recs.first().copied();
        let Some(first) = first else { continue };
        let ev = quoted(log, &recs);
        let f = match (kind, &first.event) {
            ("timeout", _) => Finding::new(
                "rpc-timeout",
                Error,
                format!("{}: {} sent but never answered (info \"<unknown>\")", log.path, count(recs.len() as u64, "call was", "calls were")),
            )
            .fix("follow the call with `zmqtrace doctor --route <topic>.<host>` and the reply with `--route zmq_replies.<this node's rpc_zmq_host>`: the usual causes are a ring host that is not the callee's rpc_zmq_host, host != rpc_zmq_host, a caller rpc_zmq_host of 'localhost', or a receiver that is down")
            .refs(&["FM07", "FM09", "FM10", "FM11", "DOC-L05"]),
            ("mm-deprecated", E::MatchmakerDeprecated { value }) => Finding::new(
                "matchmaker-deprecated",
                Warning,
                format!("{} logs that rpc_zmq_matchmaker = {value} is deprecated", log.path),
            )
            .fix("set rpc_zmq_matchmaker to the value the log suggests (oslo.messaging 1.9+: ring, redis or local; Havana/Icehouse in-tree: <project>.openstack.common.rpc.matchmaker_ring.MatchMakerRing)")
            .refs(&["FM05", "DOC-L03"]),
            ("mm-notfound", E::MatchmakerNotFound { value }) => Finding::new(
                "matchmaker-invalid",
                Critical,
                format!("{}: the matchmaker '{value}' cannot be loaded; the service cannot send", log.path),
            )
            .fix("set rpc_zmq_matchmaker to a value of this release: oslo.messaging 1.9 .. 2.5 'ring'/'redis'/'local'; 1.3 .. 1.7 'oslo.messaging._drivers.matchmaker_ring.MatchMakerRing'; in-tree Havana/Icehouse '<project>.openstack.common.rpc.matchmaker_ring.MatchMakerRing'; new driver 'redis'")
            .refs(&["FM05", "DOC-L03"]),
            ("open-socket", _) => Finding::new(
                "could-not-open-socket",
                Error,
                format!("{}: 'Could not open socket.' {}: a host name that does not resolve, or a port the receiver cannot bind", log.path, count(recs.len() as u64, "time", "times")),
            )
            .fix("give --hosts (or --resolve) so the doctor checks every ring and rpc_zmq_host name; for a receiver, check that nothing else (haproxy) holds its rpc_zmq_port; Cinder multi-backend hosts ('host@backend') cannot be resolved on the legacy driver")
            .refs(&["FM08", "FM12", "FM21", "DOC-L04"]),
            ("ipc-dir", E::IpcDirMissing { dir } | E::IpcDirPermission { dir }) => Finding::new(
                "ipc-dir-unusable",
                Critical,
                format!("the zmq-receiver cannot use its IPC directory {dir}: it does not start, nothing reaches the services on {node}"),
            )
            .fix(format!("create {dir} at boot (tmpfiles.d / upstart pre-start) owned root:openstack mode 2775, run the receiver with umask 0002, and the services in group openstack"))
            .refs(&["FM14", "DOC-L07"]),
            ("bind", _) => Finding::new(
                "receiver-bind-failed",
                Critical,
                format!("{}: the zmq-receiver could not bind its port; nothing reaches {node}", log.path),
            )
            .fix("free the port (haproxy or a second receiver holds it) or bind the receiver to the node's own address with rpc_zmq_bind_address")
            .refs(&["FM12", "DOC-L07"]),
            ("topic-refused", _) => Finding::new(
                "receiver-topic-refused",
                Error,
                format!("{}: the receiver refused {} (dangerous characters or socket file creation failed)", log.path, count(recs.len() as u64, "queue", "queues")),
            )
            .fix("keep '/' and '\\' out of rpc_zmq_host and topic names, and keep rpc_zmq_ipc_dir short (Unix socket paths are limited to 107 bytes)")
            .refs(&["DOC-L07"]),
            ("backlog", E::BacklogFull { queue }) => Finding::new(
                "receiver-backlog-full",
                Error,
                format!("the receiver dropped messages for '{queue}' (backlog full): often a queue no consumer reads"),
            )
            .fix(format!("check that a consumer listens on zmq_topic_{queue} (`zmqtrace doctor --route {queue}`), and unset rpc_zmq_topic_backlog"))
            .refs(&["FM07", "FM14", "DOC-L07"]),
            ("no-method", _) => Finding::new(
                "notification-dropped",
                Error,
                format!("{}: 'RPC message did not include method.' {}: notifications are received and dropped", log.path, count(recs.len() as u64, "time", "times")),
            )
            .fix("upgrade oslo.messaging to >= 1.7.0 on the notification consumers (Ceilometer)")
            .refs(&["FM20", "DOC-L08"]),
            ("envelope", _) => Finding::new(
                "envelope-unsupported",
                Error,
                format!("{}: 'ZMQ Envelope version unsupported or unknown.': sender and consumer speak different envelope versions", log.path),
            )
            .fix("run the same oslo.messaging release (>= 1.4.0) on every node")
            .refs(&["FM19", "DOC-L08"]),
            ("redis", E::RedisError { what, addr }) => {
                let (sev, fix) = match *what {
                    "connection refused" => (Critical, format!("point [matchmaker_redis] host at the Redis server on every node (it is {} now)", addr.as_deref().unwrap_or("127.0.0.1"))),
                    "python-redis missing" => (Critical, "install python-redis on this node".to_string()),
                    "WRONGTYPE" => (Error, "upgrade oslo.messaging to >= 1.7.0 and delete the old string keys '<topic>.<host>' from Redis".to_string()),
                    _ => (Error, "upgrade oslo.messaging to >= 1.9.0 (or 1.8.2): the heartbeat thread died and registrations will expire".to_string()),
                };
                Finding::new(
                    "redis-matchmaker-error",
                    sev,
                    format!("{}: the redis matchmaker fails ({what})", log.path),
                )
                .fix(fix)
                .refs(&["FM15", "FM17", "DOC-L09"])
            }
            ("serialize", _) => Finding::new(
                "oslo-messaging-1.3-broken",
                Critical,
                format!("{}: 'serialize_msg() takes exactly 1 argument (2 given)': oslo.messaging 1.3.x cannot send on ZeroMQ", log.path),
            )
            .fix("upgrade oslo.messaging to >= 1.5.0 (1.4.0 fixes sending, 1.5.0 directed messages)")
            .refs(&["FM19", "DOC-L10"]),
            ("no-records", E::NoRecords { target }) => Finding::new(
                "matchmaker-no-records",
                Error,
                format!("{}: the new driver's matchmaker has no host for {target}; {} dropped", log.path, count(recs.len() as u64, "message", "messages")),
            )
            .fix("check that the server of the target runs and registers in Redis (redis-cli SMEMBERS ROUTER/<topic>), that every node uses the same Redis (transport_url), and zmq_target_update < zmq_target_expire. The driver says the same when Redis has the record but no connection to its address completes (a service that died without unregistering): a capture shows which (redis-dead-listener)")
            .refs(&["FM23", "DOC-L11"]),
            ("redis-down", _) => Finding::new(
                "redis-unreachable",
                Critical,
                format!("{}: the new driver cannot reach its Redis matchmaker", log.path),
            )
            .fix("start Redis (or Sentinel) and point transport_url = zmq+redis://HOST:6379 at it on every node")
            .refs(&["FM23", "DOC-L11"]),
            ("messaging-timeout", _) => Finding::new(
                "messaging-timeout",
                Warning,
                format!("{}: {} out (MessagingTimeout)", log.path, count(recs.len() as u64, "call timed", "calls timed")),
            )
            .fix("look for 'Matchmaker contains no records' before them; check the server's registration and topology flags")
            .refs(&["FM23", "DOC-L11"]),
            ("ports", _) => Finding::new(
                "ports-exhausted",
                Error,
                format!("{}: 'Random ports range exceeded!': the new driver found no free port to bind", log.path),
            )
            .fix("widen rpc_zmq_min_port..rpc_zmq_max_port (default 49153..65536) and open it between nodes")
            .refs(&["FM22", "DOC-L11"]),
            ("sending", _) => {
                sending(c, n, log, &recs, out);
                continue;
            }
            ("conductor", _) => Finding::new(
                "conductor-unreachable",
                Warning,
                format!("{}: nova-compute timed out waiting for nova-conductor", log.path),
            )
            .fix("check that nova-conductor and the zmq-receivers run, and `zmqtrace doctor --route conductor`; start the receiver before the services and compute after conductor")
            .refs(&["FM11", "DOC-L13"]),
            ("ring-missing", E::RingfileMissing { path }) => Finding::new(
                "ringfile-missing",
                Critical,
                format!("the ring matchmaker cannot open {path}: the service cannot start (or send)"),
            )
            .fix(format!("install the ring at {path}, or point [matchmaker_ring] ringfile at the real file (Havana+; not ring_file, not [DEFAULT] ringfile)"))
            .refs(&["FM03", "DOC-R01"]),
            ("ring-invalid", E::RingfileInvalid { message }) => Finding::new(
                "ringfile-invalid",
                Critical,
                format!("the ring matchmaker cannot parse the ringfile: {message}"),
            )
            .fix("correct the JSON of the ringfile (give it with --ringfile: the doctor shows line and column)")
            .refs(&["FM03", "DOC-R01"]),
            ("notification", E::NotificationFailed { topic }) => Finding::new(
                "notification-send-failed",
                Error,
                format!("{}: notifications to '{topic}' could not be sent", log.path),
            )
            .fix(format!("the ring needs the keys '{topic}-info', '{topic}-error', '{topic}-warn' (with '-', not '.')"))
            .refs(&["FM02"]),
            _ => continue,
        };
        out.push(f.evidence_all(ev).node(node));
    }
}

/// The topic without a ring key that process `pid` logged shortly before
/// `line`, if any.
fn follows<'l>(
    last: &BTreeMap<Option<&'l str>, (&'l str, u32)>,
    pid: Option<&'l str>,
    line: u32,
) -> Option<&'l str> {
    last.get(&pid)
        .filter(|(_, at)| line.saturating_sub(*at) <= FOLLOW_LINES)
        .map(|(t, _)| *t)
}

/// DOC-L12: the (queue, host) pairs a sender really used.
fn sending(
    c: &Cluster<'_>,
    n: &NodeView<'_>,
    log: &LogFile,
    recs: &[&LogRecord],
    out: &mut Findings,
) {
    let ring = c.ring_of(n);
    let mut local: Vec<&LogRecord> = Vec::new();
    let mut stale: BTreeMap<(String, String), Vec<&LogRecord>> = BTreeMap::new();
    for r in recs {
        let LogEvent::SendingTo { pairs } = &r.event else {
            continue;
        };
        for (queue, host) in pairs {
            if host == "localhost"
                && queue.ends_with(".localhost")
                && !queue.starts_with("zmq_replies")
            {
                local.push(r);
                continue;
            }
            // A fanout pair whose host the ring does not list. (A bare
            // topic's pair looks like a directed one, so only fanouts tell.)
            let Some(ring) = ring else { continue };
            let Some((topic, qhost)) = queue
                .strip_prefix("fanout~")
                .and_then(|rest| rest.split_once('.'))
            else {
                continue;
            };
            if qhost != host {
                continue;
            }
            if let Some(e) = ring.get(topic) {
                if let RingValue::Hosts(h) = &e.value {
                    if !h.contains(host) && !queue.starts_with("zmq_replies") {
                        stale
                            .entry((topic.to_string(), host.clone()))
                            .or_default()
                            .push(r);
                    }
                }
            }
        }
    }
    if !local.is_empty() {
        local.dedup_by_key(|r| r.line);
        out.push(
            Finding::new(
                "matchmaker-local",
                Critical,
                format!("{} sends bare topics to '<topic>.localhost': the local matchmaker is in use", log.path),
            )
            .evidence_all(quoted(log, &local))
            .fix("set rpc_zmq_matchmaker = ring with a ringfile (or redis) in the service's config, then restart it")
            .node(n.name())
            .refs(&["FM06", "DOC-L12"]),
        );
    }
    for ((topic, host), rs) in stale {
        let Some(ring) = ring else { continue };
        let ev = ring
            .get(&topic)
            .map(|e| Evidence::file(&ring.path, e.line, &e.text));
        out.push(
            Finding::new(
                "ring-stale",
                Warning,
                format!("{} sent '{topic}' to '{host}', which {} does not list: the process runs with an older ring", log.path, ring.path),
            )
            .evidence_all(quoted(log, &rs))
            .evidence_all(ev)
            .fix(format!("restart the service that wrote {} so it reads the current ring (the ring is read once per process)", log.path))
            .node(n.name())
            .refs(&["FM04", "DOC-R09", "DOC-L12"]),
        );
    }
}

/// DOC-L06: queues the receiver created that no consumer of the node reads
/// (FM07, FM09, FM10, FM14).
fn consumers_vs_receiver(n: &NodeView<'_>, out: &mut Findings) {
    let mut consumers: BTreeMap<String, (String, &LogFile, &LogRecord)> = BTreeMap::new();
    let mut proxies: Vec<(&str, &LogFile, &LogRecord)> = Vec::new();
    for log in &n.node.logs {
        for r in &log.records {
            match &r.event {
                LogEvent::ConnectingIpc { dir, name, socket }
                    if socket == "PULL" || socket == "SUB" =>
                {
                    consumers
                        .entry(name.clone())
                        .or_insert((dir.clone(), log, r));
                    if name.starts_with("zmq_replies.")
                        && is_loopback_name(name.trim_start_matches("zmq_replies."))
                    {
                        out.push(
                            Finding::new(
                                "rpc-zmq-host-loopback",
                                Critical,
                                format!("{} waits for replies on zmq_replies.localhost: rpc_zmq_host is 'localhost', so callees send its replies to their own host", log.path),
                            )
                            .evidence(log_ev(log, r))
                            .fix("set rpc_zmq_host to this node's resolvable name in the service's config")
                            .node(n.name())
                            .refs(&["FM10", "DOC-L06"]),
                        );
                    }
                }
                LogEvent::CreatingProxy { queue } => proxies.push((queue.as_str(), log, r)),
                _ => {}
            }
        }
    }
    if consumers.is_empty() {
        return;
    }
    let recv_dir = n
        .receivers
        .first()
        .map(|r| r.ipc_dir.value.trim().to_string());
    let mut reported = BTreeSet::new();
    for (queue, log, r) in proxies {
        let Ok((_, name)) = receiver_forward(queue) else {
            continue;
        };
        if !reported.insert(name.clone()) {
            continue;
        }
        match consumers.get(&name) {
            Some((dir, clog, crec)) => {
                if let Some(rd) = &recv_dir {
                    if !same_dir(dir, rd) {
                        out.push(
                            Finding::new(
                                "ipc-dir-mismatch",
                                Critical,
                                format!("the consumer of '{name}' on {} listens in {dir}, the receiver forwards into {rd}", n.name()),
                            )
                            .evidence(log_ev(clog, crec))
                            .evidence(log_ev(log, r))
                            .fix(format!("use one rpc_zmq_ipc_dir ({rd}) for the receiver and every service on {}", n.name()))
                            .node(n.name())
                            .refs(&["FM14", "DOC-L06"]),
                        );
                    }
                }
            }
            None => {
                let base = name.split('.').next().unwrap_or(&name);
                let qhost = queue.split_once('.').map(|x| x.1).unwrap_or("");
                let similar = consumers
                    .iter()
                    .find(|(c, _)| c.split('.').next() == Some(base) && c.contains('.'));
                // Without a consumer of the same topic seen under another
                // name, its log may simply not have been given.
                let Some((cname, (_, clog, crec))) = similar else {
                    continue;
                };
                let chost = cname.split_once('.').map(|x| x.1).unwrap_or("");
                let hint = format!(
                    "the consumer listens as '{cname}': make the ring (or the sender's host option) use '{chost}', or set rpc_zmq_host = {qhost} on {}",
                    n.name()
                );
                let ev = Some(log_ev(clog, crec));
                let refs: &[&str] = if qhost == "localhost" || name.ends_with(".localhost") {
                    &["FM06", "FM10", "DOC-L06"]
                } else {
                    &["FM07", "FM09", "DOC-L06"]
                };
                out.push(
                    Finding::new(
                        "no-consumer-for-queue",
                        Error,
                        format!("the receiver on {} forwards '{queue}' to zmq_topic_{name}, which no service there listens on", n.name()),
                    )
                    .evidence(log_ev(log, r))
                    .evidence_all(ev)
                    .fix(hint)
                    .node(n.name())
                    .refs(refs),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// inputs not given
// ---------------------------------------------------------------------------

fn inputs(c: &Cluster<'_>, out: &mut Findings) {
    for n in &c.nodes {
        for log in n.node.logs.iter().filter(|l| l.dropped > 0) {
            out.push(
                Finding::new(
                    "input-log-cut",
                    Info,
                    format!(
                        "{}: only the first {} of its {} lines that matter were examined",
                        log.path,
                        log.records.len(),
                        log.records.len() as u64 + log.dropped
                    ),
                )
                .fix("give the part of the log around the failure (for example the hour it happened) to have it all examined")
                .node(n.name()),
            );
        }
    }
    if let Some((n, s)) = c
        .legacy_services()
        .find(|(n, s)| s.matchmaker_kind() == "ring" && c.ring_of(n).is_none())
    {
        out.push(
            Finding::new(
                "input-no-ringfile",
                Info,
                format!("{} uses the ring matchmaker ({}) but no ringfile was given: ring checks skipped", s.path(), s.ringfile.value),
            )
            .evidence(s.evidence_for(s.matchmaker.entry, "rpc_zmq_matchmaker"))
            .fix(format!("give the ring with --ringfile {} (or put it in the node directory)", s.ringfile.value))
            .node(n.name()),
        );
    }
    let no_tables =
        c.hosts.is_none() && c.nodes.iter().all(|n| n.node.hosts.is_none()) && !c.system_resolver;
    if no_tables && c.zmq_services().next().is_some() {
        out.push(
            Finding::new(
                "input-no-hosts",
                Info,
                "no hosts table was given: host names in the ring and rpc_zmq_host were not resolved",
            )
            .fix("give --hosts /etc/hosts (a copy from each node in its --node directory as 'hosts'), or --resolve to use this machine's resolver"),
        );
    }
}
