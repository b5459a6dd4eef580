//! Loading what the operator has: oslo.config files, haproxy.cfg (told apart
//! by content), the matchmaker ringfile, /etc/hosts-style tables and service
//! logs, per node (`--node NAME=DIR`) or given one by one.
//!
//! Every loader keeps the line each fact came from, so a finding can quote
//! it. Configs, rings, hosts tables and logs are input: nothing here panics
//! on them. A file that cannot be read is a [`DoctorError`]; a file that
//! reads but is broken (bad JSON, an INI line oslo.config refuses) is kept
//! with its error, for the checks to report.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::logs::{self, LogFile};
use super::DoctorError;

/// Largest config, ring or hosts file read whole (logs are streamed).
const MAX_TEXT_FILE: u64 = 16 << 20;
/// How deep a node directory is walked, and how many files are looked at.
const MAX_DEPTH: usize = 6;
/// A log line is kept up to this many bytes; the rest of it is skipped (the
/// doctor shows 400 bytes of a line, and a file without newlines must not
/// be held whole).
const MAX_LOG_LINE: usize = 64 << 10;
const MAX_FILES: usize = 20_000;

// ---------------------------------------------------------------------------
// oslo.config INI files
// ---------------------------------------------------------------------------

/// One `key = value` assignment as oslo.config parses it.
#[derive(Clone, Debug)]
pub struct IniEntry {
    /// The section as written (`DEFAULT`, `matchmaker_ring`, ...).
    pub section: String,
    pub key: String,
    /// Quotes stripped as oslo.config does; continuation lines joined by `\n`.
    pub value: String,
    /// Line of the key (1-based).
    pub line: u32,
    /// That line, trimmed.
    pub text: String,
}

/// A line oslo.config refuses: the service would not start.
#[derive(Clone, Debug)]
pub struct IniParseError {
    pub line: u32,
    pub message: &'static str,
    pub text: String,
}

/// An oslo.config file: the assignments in file order (a later one wins),
/// the section headers, and the first parse error (oslo.config stops there).
#[derive(Clone, Debug)]
pub struct IniFile {
    pub path: String,
    pub entries: Vec<IniEntry>,
    /// Section headers: name as written, line, text.
    pub sections: Vec<(String, u32, String)>,
    pub error: Option<IniParseError>,
}

/// oslo.config's group name normalisation: `DEFAULT` is exact, every other
/// group is matched lower-cased.
pub fn normalize_group(section: &str) -> String {
    if section == "DEFAULT" {
        section.to_string()
    } else {
        section.to_lowercase()
    }
}

impl IniFile {
    /// Parse `text` with the rules of `oslo_config.iniparser.BaseParser`:
    /// lines are right-stripped; a blank line ends a multi-line value; a
    /// line starting with a space or tab continues the previous value; `[x]`
    /// opens a section; `#` or `;` *at the start of a line* is a comment (an
    /// inline `#` is part of the value); `key = value` or `key: value`,
    /// whichever separator comes first; one pair of matching quotes around
    /// the whole value is removed.
    pub fn parse(path: &str, text: &str) -> IniFile {
        let mut file = IniFile {
            path: path.to_string(),
            entries: Vec::new(),
            sections: Vec::new(),
            error: None,
        };
        let mut section: Option<String> = None;
        // The assignment being read: (key, line, text, value lines).
        let mut pending: Option<(String, u32, String, Vec<String>)> = None;
        let mut line_no: u32 = 0;
        for raw in text.split('\n') {
            line_no = line_no.saturating_add(1);
            let line = raw.trim_end();
            if line.is_empty() {
                if let Some(p) = pending.take() {
                    if let Err(e) = file.flush(&section, p) {
                        file.error = Some(e);
                        return file;
                    }
                }
                continue;
            }
            if line.starts_with([' ', '\t']) {
                match pending.as_mut() {
                    Some(p) => p.3.push(line.trim_start().to_string()),
                    None => {
                        file.error = Some(IniParseError {
                            line: line_no,
                            message: "Unexpected continuation line",
                            text: line.to_string(),
                        });
                        return file;
                    }
                }
                continue;
            }
            if let Some(p) = pending.take() {
                if let Err(e) = file.flush(&section, p) {
                    file.error = Some(e);
                    return file;
                }
            }
            if let Some(rest) = line.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    file.error = Some(IniParseError {
                        line: line_no,
                        message: "Invalid section (must end with ])",
                        text: line.to_string(),
                    });
                    return file;
                };
                if name.is_empty() {
                    file.error = Some(IniParseError {
                        line: line_no,
                        message: "Empty section name",
                        text: line.to_string(),
                    });
                    return file;
                }
                section = Some(name.to_string());
                file.sections
                    .push((name.to_string(), line_no, line.to_string()));
            } else if line.starts_with(['#', ';']) {
                // comment
            } else {
                match split_key_value(line) {
                    None => {
                        file.error = Some(IniParseError {
                            line: line_no,
                            message: "No ':' or '=' found in assignment",
                            text: line.to_string(),
                        });
                        return file;
                    }
                    Some((key, _)) if key.is_empty() => {
                        file.error = Some(IniParseError {
                            line: line_no,
                            message: "Key cannot be empty",
                            text: line.to_string(),
                        });
                        return file;
                    }
                    Some((key, value)) => {
                        pending = Some((key, line_no, line.trim().to_string(), vec![value]));
                    }
                }
            }
        }
        if let Some(p) = pending.take() {
            if let Err(e) = file.flush(&section, p) {
                file.error = Some(e);
            }
        }
        file
    }

    fn flush(
        &mut self,
        section: &Option<String>,
        (key, line, text, values): (String, u32, String, Vec<String>),
    ) -> Result<(), IniParseError> {
        let Some(section) = section else {
            return Err(IniParseError {
                line,
                message: "Section must be started before assignment",
                text,
            });
        };
        self.entries.push(IniEntry {
            section: section.clone(),
            key,
            value: values.join("\n"),
            line,
            text,
        });
        Ok(())
    }

    /// The assignment oslo.config uses for `group`/`name`: the last one in
    /// the file, group names normalised.
    pub fn get(&self, group: &str, name: &str) -> Option<&IniEntry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key == name && normalize_group(&e.section) == group)
    }

    /// Every assignment of `group`/`name`, in file order.
    pub fn all(&self, group: &str, name: &str) -> Vec<&IniEntry> {
        self.entries
            .iter()
            .filter(|e| e.key == name && normalize_group(&e.section) == group)
            .collect()
    }

    /// The first header of a section (for evidence when an option is unset).
    pub fn section_header(&self, group: &str) -> Option<(u32, &str)> {
        self.sections
            .iter()
            .find(|(name, _, _)| normalize_group(name) == group)
            .map(|(_, line, text)| (*line, text.as_str()))
    }

    pub fn has_group(&self, group: &str) -> bool {
        self.sections
            .iter()
            .any(|(name, _, _)| normalize_group(name) == group)
    }
}

fn split_key_value(line: &str) -> Option<(String, String)> {
    let colon = line.find(':');
    let equal = line.find('=');
    let at = match (colon, equal) {
        (None, None) => return None,
        (None, Some(e)) => e,
        (Some(c), None) => c,
        (Some(c), Some(e)) => c.min(e),
    };
    let key = line.get(..at)?.trim().to_string();
    let value = line.get(at + 1..)?.trim();
    Some((key, strip_quotes(value).to_string()))
}

/// `value[1:-1]` when the value starts and ends with the same quote.
fn strip_quotes(value: &str) -> &str {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&a), Some(&b)) if a == b && (a == b'"' || a == b'\'') => {
            value.get(1..value.len().saturating_sub(1)).unwrap_or("")
        }
        _ => value,
    }
}

// ---------------------------------------------------------------------------
// haproxy.cfg
// ---------------------------------------------------------------------------

/// An `address:port` a proxy binds (`*`, empty or `0.0.0.0` = every address).
#[derive(Clone, Debug)]
pub struct HaproxyBind {
    pub addr: String,
    pub port: u16,
    pub line: u32,
    pub text: String,
}

/// A `server` line: where haproxy forwards.
#[derive(Clone, Debug)]
pub struct HaproxyServer {
    pub name: String,
    pub addr: String,
    /// None: the port of the connection haproxy accepted.
    pub port: Option<u16>,
    pub line: u32,
    pub text: String,
}

/// A `frontend`, `backend` or `listen` section.
#[derive(Clone, Debug)]
pub struct HaproxyProxy {
    pub kind: String,
    pub name: String,
    pub line: u32,
    pub binds: Vec<HaproxyBind>,
    pub servers: Vec<HaproxyServer>,
    /// `default_backend` / `use_backend` targets.
    pub backends: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct HaproxyCfg {
    pub path: String,
    pub proxies: Vec<HaproxyProxy>,
}

const HAPROXY_SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "mailers",
    "program",
    "cache",
    "http-errors",
    "ring",
];

impl HaproxyCfg {
    pub fn parse(path: &str, text: &str) -> HaproxyCfg {
        let mut proxies: Vec<HaproxyProxy> = Vec::new();
        let mut in_proxy = false;
        for (i, raw) in text.lines().enumerate() {
            let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let line = raw.split('#').next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            let Some(first) = words.next() else { continue };
            if HAPROXY_SECTIONS.contains(&first) {
                in_proxy = matches!(first, "frontend" | "backend" | "listen");
                if in_proxy {
                    let name = words.next().unwrap_or("").to_string();
                    let mut proxy = HaproxyProxy {
                        kind: first.to_string(),
                        name,
                        line: line_no,
                        binds: Vec::new(),
                        servers: Vec::new(),
                        backends: Vec::new(),
                    };
                    // Old syntax: `listen NAME ADDR:PORT`.
                    if let Some(addrs) = words.next() {
                        proxy.binds.extend(parse_binds(addrs, line_no, line));
                    }
                    proxies.push(proxy);
                }
                continue;
            }
            if !in_proxy {
                continue;
            }
            let Some(proxy) = proxies.last_mut() else {
                continue;
            };
            match first {
                "bind" => {
                    if let Some(addrs) = words.next() {
                        proxy.binds.extend(parse_binds(addrs, line_no, line));
                    }
                }
                "server" => {
                    let name = words.next().unwrap_or("").to_string();
                    if let Some(target) = words.next() {
                        let (addr, port) = split_host_port(target);
                        proxy.servers.push(HaproxyServer {
                            name,
                            addr,
                            port,
                            line: line_no,
                            text: line.to_string(),
                        });
                    }
                }
                "default_backend" | "use_backend" => {
                    if let Some(name) = words.next() {
                        proxy.backends.push(name.to_string());
                    }
                }
                _ => {}
            }
        }
        HaproxyCfg {
            path: path.to_string(),
            proxies,
        }
    }
}

/// `10.0.0.1:9501,*:9502` (port ranges keep their first port).
fn parse_binds(addrs: &str, line: u32, text: &str) -> Vec<HaproxyBind> {
    addrs
        .split(',')
        .filter_map(|a| {
            let (addr, port) = split_host_port(a);
            Some(HaproxyBind {
                addr,
                port: port?,
                line,
                text: text.to_string(),
            })
        })
        .collect()
}

/// `host:port`, `[v6]:port`, `ipv4@addr:port`, `:port`, `host` (no port).
fn split_host_port(s: &str) -> (String, Option<u16>) {
    let s = s.rsplit('@').next().unwrap_or(s);
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((addr, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(parse_port);
            return (addr.to_string(), port);
        }
    }
    // A bare IPv6 address has several colons and no port.
    if s.matches(':').count() > 1 {
        return (s.to_string(), None);
    }
    match s.rsplit_once(':') {
        Some((addr, port)) => (addr.to_string(), parse_port(port)),
        None => (s.to_string(), None),
    }
}

fn parse_port(s: &str) -> Option<u16> {
    s.split('-').next().and_then(|p| p.trim().parse().ok())
}

// ---------------------------------------------------------------------------
// /etc/hosts
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct HostsEntry {
    pub ip: IpAddr,
    pub names: Vec<String>,
    pub line: u32,
    pub text: String,
}

/// An /etc/hosts-style table: `ADDRESS NAME [ALIAS...]`, `#` comments.
#[derive(Clone, Debug)]
pub struct HostsFile {
    pub path: String,
    pub entries: Vec<HostsEntry>,
}

impl HostsFile {
    pub fn parse(path: &str, text: &str) -> HostsFile {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) else {
                continue;
            };
            let names: Vec<String> = words.map(str::to_string).collect();
            if names.is_empty() {
                continue;
            }
            entries.push(HostsEntry {
                ip,
                names,
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                text: raw.trim().to_string(),
            });
        }
        HostsFile {
            path: path.to_string(),
            entries,
        }
    }

    /// The first entry naming `name` (case-insensitive, as glibc does).
    pub fn lookup(&self, name: &str) -> Option<&HostsEntry> {
        self.entries
            .iter()
            .find(|e| e.names.iter().any(|n| n.eq_ignore_ascii_case(name)))
    }
}

// ---------------------------------------------------------------------------
// The matchmaker ringfile
// ---------------------------------------------------------------------------

/// What a ring key maps to, as `itertools.cycle` would see it.
#[derive(Clone, Debug, PartialEq)]
pub enum RingValue {
    /// A list of host strings (the only correct form).
    Hosts(Vec<String>),
    /// A list with non-string members: `key + '.' + host` fails at send.
    MixedList { hosts: Vec<String>, others: usize },
    /// A string: cycles over its characters.
    Str(String),
    /// A number, object, bool or null: `itertools.cycle` raises TypeError
    /// when the matchmaker is built, so every send of the process fails.
    NotIterable(&'static str),
}

#[derive(Clone, Debug)]
pub struct RingEntry {
    pub key: String,
    pub value: RingValue,
    pub line: u32,
    /// The source line of the key, trimmed.
    pub text: String,
}

/// A ringfile that is valid JSON.
#[derive(Clone, Debug)]
pub enum RingData {
    /// Top-level object: entries in file order (duplicates kept; the last
    /// one wins, as with Python's `json.load`).
    Object(Vec<RingEntry>),
    /// Valid JSON that is not an object (`ring.keys()` fails).
    NotObject(&'static str),
}

/// JSON the ring matchmaker would refuse (`ValueError` at `json.load`).
#[derive(Clone, Debug)]
pub struct RingError {
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// The offending line, trimmed.
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct Ringfile {
    pub path: String,
    pub data: Result<RingData, RingError>,
}

impl Ringfile {
    pub fn parse(path: &str, text: &str) -> Ringfile {
        let data = match serde_json::from_str::<serde_json::Value>(text) {
            Err(e) => {
                let line = u32::try_from(e.line()).unwrap_or(u32::MAX);
                let column = u32::try_from(e.column()).unwrap_or(u32::MAX);
                let src = text
                    .lines()
                    .nth(e.line().saturating_sub(1))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                // serde_json's message ends with " at line L column C".
                let msg = e.to_string();
                let message = match msg.rfind(" at line ") {
                    Some(at) => msg.get(..at).unwrap_or(&msg).to_string(),
                    None => msg,
                };
                Err(RingError {
                    line,
                    column,
                    message,
                    text: src,
                })
            }
            Ok(serde_json::Value::Object(_)) => Ok(RingData::Object(scan_ring_entries(text))),
            Ok(other) => Ok(RingData::NotObject(json_kind(&other))),
        };
        Ringfile {
            path: path.to_string(),
            data,
        }
    }

    /// Entries when the ring is a JSON object.
    pub fn entries(&self) -> &[RingEntry] {
        match &self.data {
            Ok(RingData::Object(entries)) => entries,
            _ => &[],
        }
    }

    /// The entry the matchmaker uses for `key` (the last duplicate).
    pub fn get(&self, key: &str) -> Option<&RingEntry> {
        self.entries().iter().rev().find(|e| e.key == key)
    }

    /// The ring as the matchmaker sees it (duplicates resolved), for
    /// comparing rings between nodes.
    pub fn effective(&self) -> BTreeMap<&str, &RingValue> {
        self.entries()
            .iter()
            .map(|e| (e.key.as_str(), &e.value))
            .collect()
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

fn ring_value(v: &serde_json::Value) -> RingValue {
    match v {
        serde_json::Value::Array(items) => {
            let hosts: Vec<String> = items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect();
            let others = items.len() - hosts.len();
            if others == 0 {
                RingValue::Hosts(hosts)
            } else {
                RingValue::MixedList { hosts, others }
            }
        }
        serde_json::Value::String(s) => RingValue::Str(s.clone()),
        other => RingValue::NotIterable(json_kind(other)),
    }
}

/// Walk the top-level object of valid JSON, recording each key with its
/// line and its own value (serde_json's map would merge duplicates and
/// forget positions).
fn scan_ring_entries(text: &str) -> Vec<RingEntry> {
    let bytes = text.as_bytes();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut line: u32 = 1;
    let mut i = 0usize;
    // Inside the top-level object: waiting for a key, or for its value.
    let mut key: Option<(String, u32)> = None;
    let mut value_start: Option<usize> = None;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\n' => line = line.saturating_add(1),
            b'"' => {
                let start = i;
                let start_line = line;
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    match c {
                        b'\\' => i += 1,
                        b'"' => break,
                        b'\n' => line = line.saturating_add(1),
                        _ => {}
                    }
                    i += 1;
                }
                if depth == 1 && key.is_none() && value_start.is_none() {
                    let raw = text.get(start..=i).unwrap_or("\"\"");
                    let k = serde_json::from_str::<String>(raw).unwrap_or_default();
                    key = Some((k, start_line));
                }
            }
            b':' if depth == 1 && key.is_some() && value_start.is_none() => {
                value_start = Some(i + 1);
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' | b',' => {
                let closes_top = (b == b'}' || b == b']') && depth == 1;
                let sep_top = b == b',' && depth == 1;
                if closes_top || sep_top {
                    if let (Some((k, kline)), Some(vs)) = (key.take(), value_start.take()) {
                        let raw = text.get(vs..i).unwrap_or("null");
                        let value = serde_json::from_str::<serde_json::Value>(raw)
                            .map(|v| ring_value(&v))
                            .unwrap_or(RingValue::NotIterable("invalid"));
                        let text = lines
                            .get(kline.saturating_sub(1) as usize)
                            .map(|l| l.trim().to_string())
                            .unwrap_or_default();
                        out.push(RingEntry {
                            key: k,
                            value,
                            line: kline,
                            text,
                        });
                    }
                }
                if b != b',' {
                    depth = depth.saturating_sub(1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------
// Files and nodes
// ---------------------------------------------------------------------------

/// What a config file holds, told apart by content.
#[derive(Clone, Debug)]
pub enum ConfigFile {
    Oslo(IniFile),
    Haproxy(HaproxyCfg),
    /// Neither: the first meaningful line, for the finding.
    Unrecognised {
        path: String,
        line: u32,
        text: String,
    },
}

/// An oslo.config file and the service it configures.
#[derive(Clone, Debug)]
pub struct OsloConfig {
    pub ini: IniFile,
    /// From the file name: `nova`, `cinder`, `zmq-receiver`, ...
    pub service: String,
    /// Read by an `oslo-messaging-zmq-receiver` (or `*-rpc-zmq-receiver`).
    pub receiver: bool,
}

/// One machine of the cloud and everything given about it.
#[derive(Clone, Debug, Default)]
pub struct Node {
    pub name: String,
    /// False for the files given with `--config` / `--log` outside a node.
    pub explicit: bool,
    pub configs: Vec<OsloConfig>,
    pub haproxy: Vec<HaproxyCfg>,
    pub rings: Vec<Ringfile>,
    pub hosts: Option<HostsFile>,
    pub logs: Vec<LogFile>,
    pub unrecognised: Vec<(String, u32, String)>,
}

impl Node {
    pub fn new(name: &str, explicit: bool) -> Node {
        Node {
            name: name.to_string(),
            explicit,
            ..Node::default()
        }
    }

    fn add_config(&mut self, file: ConfigFile) {
        match file {
            ConfigFile::Oslo(ini) => {
                let service = service_of(&ini.path);
                let receiver = service.contains("receiver");
                self.configs.push(OsloConfig {
                    ini,
                    service,
                    receiver,
                });
            }
            ConfigFile::Haproxy(h) => self.haproxy.push(h),
            ConfigFile::Unrecognised { path, line, text } => {
                self.unrecognised.push((path, line, text))
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.configs.is_empty()
            && self.haproxy.is_empty()
            && self.rings.is_empty()
            && self.hosts.is_none()
            && self.logs.is_empty()
            && self.unrecognised.is_empty()
    }
}

/// The service a file belongs to, from its name: `nova.conf` -> `nova`,
/// `nova-compute.log` -> `nova-compute`.
pub fn service_of(path: &str) -> String {
    let name = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    stem.to_string()
}

/// Read a whole text file (bounded), invalid UTF-8 replaced.
pub fn read_text(path: &Path) -> Result<String, DoctorError> {
    let err = |source| DoctorError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = fs::File::open(path).map_err(err)?;
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(err)?;
    if bytes.len() as u64 > MAX_TEXT_FILE {
        return Err(DoctorError::TooLarge {
            path: path.display().to_string(),
            limit_mib: MAX_TEXT_FILE >> 20,
        });
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Tell an oslo.config file from haproxy.cfg by the first meaningful line.
pub fn classify_config(path: &str, text: &str) -> ConfigFile {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let first = line.split_whitespace().next().unwrap_or("");
        if line.starts_with('[') {
            return ConfigFile::Oslo(IniFile::parse(path, text));
        }
        if HAPROXY_SECTIONS.contains(&first) {
            return ConfigFile::Haproxy(HaproxyCfg::parse(path, text));
        }
        if line.contains('=') {
            // An assignment before any section: oslo.config refuses it,
            // which is worth saying.
            return ConfigFile::Oslo(IniFile::parse(path, text));
        }
        return ConfigFile::Unrecognised {
            path: path.to_string(),
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            text: line.to_string(),
        };
    }
    // An empty file is a valid (empty) oslo.config file.
    ConfigFile::Oslo(IniFile::parse(path, text))
}

pub fn load_config(path: &Path) -> Result<ConfigFile, DoctorError> {
    let text = read_text(path)?;
    Ok(classify_config(&path.display().to_string(), &text))
}

pub fn load_ringfile(path: &Path) -> Result<Ringfile, DoctorError> {
    let text = read_text(path)?;
    Ok(Ringfile::parse(&path.display().to_string(), &text))
}

pub fn load_hosts(path: &Path) -> Result<HostsFile, DoctorError> {
    let text = read_text(path)?;
    Ok(HostsFile::parse(&path.display().to_string(), &text))
}

pub fn load_log(path: &Path) -> Result<LogFile, DoctorError> {
    let err = |source| DoctorError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = fs::File::open(path).map_err(err)?;
    let mut reader = BufReader::new(file);
    let mut log = LogFile::new(&path.display().to_string());
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LOG_LINE as u64)
            .read_until(b'\n', &mut buf)
            .map_err(err)?;
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') {
            skip_rest_of_line(&mut reader).map_err(err)?;
        }
        let line = String::from_utf8_lossy(&buf);
        log.push_line(line.trim_end_matches(['\n', '\r']));
    }
    Ok(log)
}

/// How a file found in a directory is read.
enum Kind {
    Config,
    Ring,
    Hosts,
    Log,
}

fn kind_of(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    if name == "hosts" || name.ends_with(".hosts") {
        return Some(Kind::Hosts);
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "conf" | "cfg" | "ini" => Some(Kind::Config),
        "json" => Some(Kind::Ring),
        "log" => Some(Kind::Log),
        _ => None,
    }
}

/// `matchmaker_ring.json`, `ring.json`, `zmq-matchmaker.json`...: a JSON
/// file so named is a ringfile even when it does not parse.
fn named_like_a_ring(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_lowercase();
    name.contains("ring") || name.contains("matchmaker")
}

/// Other JSON (`policy.json`) is a ring only if every value is a list.
fn shaped_like_a_ring(ring: &Ringfile) -> bool {
    let entries = ring.entries();
    !entries.is_empty()
        && entries
            .iter()
            .all(|e| matches!(e.value, RingValue::Hosts(_) | RingValue::MixedList { .. }))
}

/// The files under `dir`, sorted, directories walked to a bounded depth
/// without following symbolic links to directories.
/// Consume up to and including the next newline, holding nothing.
fn skip_rest_of_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = available.len();
                reader.consume(len);
            }
        }
    }
}

/// A regular file, or a symlink to one: never a FIFO (which would block) or
/// a device (which may never end).
fn is_regular_file(path: &Path, meta: &fs::Metadata) -> bool {
    meta.is_file()
        || (meta.file_type().is_symlink() && fs::metadata(path).is_ok_and(|m| m.is_file()))
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>, DoctorError> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let err = |source| DoctorError::Read {
            path: d.display().to_string(),
            source,
        };
        let mut children: Vec<PathBuf> = fs::read_dir(&d)
            .map_err(err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        children.sort();
        for child in children {
            let Ok(meta) = fs::symlink_metadata(&child) else {
                continue;
            };
            if meta.is_dir() {
                if depth < MAX_DEPTH {
                    stack.push((child, depth + 1));
                }
            } else if out.len() < MAX_FILES && is_regular_file(&child, &meta) {
                out.push(child);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Load one node directory: every `*.conf`/`*.cfg`/`*.ini` (oslo or
/// haproxy by content), `*.json` that is a ringfile (named like one, or an
/// object of lists: `policy.json` is not), `hosts`, `*.log`.
pub fn load_node_dir(node: &mut Node, dir: &Path) -> Result<(), DoctorError> {
    let meta = fs::metadata(dir).map_err(|source| DoctorError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(DoctorError::NotADirectory {
            path: dir.display().to_string(),
        });
    }
    for path in walk(dir)? {
        match kind_of(&path) {
            Some(Kind::Config) => node.add_config(load_config(&path)?),
            Some(Kind::Ring) => {
                let ring = load_ringfile(&path)?;
                if named_like_a_ring(&path) || shaped_like_a_ring(&ring) {
                    node.rings.push(ring);
                }
            }
            Some(Kind::Hosts) => node.hosts = Some(load_hosts(&path)?),
            Some(Kind::Log) => node.logs.push(load_log(&path)?),
            None => {}
        }
    }
    Ok(())
}

/// `--config FILE|DIR`: a file is read whatever its name; a directory
/// contributes its config files (and rings, hosts, logs) as a node does.
pub fn load_config_arg(node: &mut Node, path: &Path) -> Result<(), DoctorError> {
    let meta = fs::metadata(path).map_err(|source| DoctorError::Read {
        path: path.display().to_string(),
        source,
    })?;
    if meta.is_dir() {
        load_node_dir(node, path)
    } else {
        node.add_config(load_config(path)?);
        Ok(())
    }
}

/// Parse `NAME=DIR`.
pub fn parse_node_arg(arg: &str) -> Result<(String, PathBuf), DoctorError> {
    match arg.split_once('=') {
        Some((name, dir)) if !name.trim().is_empty() && !dir.is_empty() => {
            Ok((name.trim().to_string(), PathBuf::from(dir)))
        }
        _ => Err(DoctorError::Usage(format!(
            "--node takes NAME=DIR (for example --node cmp1=/srv/cmp1/etc), not '{arg}'"
        ))),
    }
}

pub use logs::LogRecord;

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("zmqtrace-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_log_line_longer_than_the_cap_is_cut_and_the_next_line_still_read() {
        let dir = scratch("longline");
        let path = dir.join("nova-compute.log");
        let mut text = vec![b'x'; 3 * MAX_LOG_LINE + 17];
        text.extend_from_slice(b"\nsecond line\n");
        fs::write(&path, &text).unwrap();
        let log = load_log(&path).unwrap();
        // Without the skip, the cut line's tail would count as 3 more lines.
        assert_eq!(log.lines, 2);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn walking_a_node_directory_skips_fifos_and_follows_symlinks_to_files() {
        let dir = scratch("walk");
        fs::write(dir.join("a.log"), "one\n").unwrap();
        std::os::unix::fs::symlink(dir.join("a.log"), dir.join("b.log")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.log")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(dir.join("pipe.log"))
            .status()
            .unwrap();
        assert!(fifo.success());
        let names: Vec<String> = walk(&dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.log", "b.log"]);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn ini_follows_oslo_config() {
        let text = "[DEFAULT]\nrpc_zmq_host = ctl1 # controller\nhost: 'ctl1'\nlist = a,\n  b\n\n[Matchmaker_Ring]\nringfile=/etc/oslo/r.json\n";
        let ini = IniFile::parse("n.conf", text);
        assert!(ini.error.is_none());
        assert_eq!(
            ini.get("DEFAULT", "rpc_zmq_host").map(|e| e.value.as_str()),
            Some("ctl1 # controller")
        );
        assert_eq!(
            ini.get("DEFAULT", "host").map(|e| e.value.as_str()),
            Some("ctl1")
        );
        assert_eq!(
            ini.get("DEFAULT", "list").map(|e| e.value.as_str()),
            Some("a,\nb")
        );
        let ring = ini.get("matchmaker_ring", "ringfile");
        assert_eq!(
            ring.map(|e| (e.line, e.value.as_str())),
            Some((8, "/etc/oslo/r.json"))
        );
    }

    #[test]
    fn ini_errors_like_oslo_config() {
        let e = IniFile::parse("x", "rpc_zmq_host = a\n").error;
        assert_eq!(
            e.map(|e| e.message),
            Some("Section must be started before assignment")
        );
        let e = IniFile::parse("x", "[DEFAULT]\n  x\n").error;
        assert_eq!(
            e.map(|e| (e.line, e.message)),
            Some((2, "Unexpected continuation line"))
        );
        let e = IniFile::parse("x", "[DEFAULT\n").error;
        assert_eq!(
            e.map(|e| e.message),
            Some("Invalid section (must end with ])")
        );
        let e = IniFile::parse("x", "[DEFAULT]\njunk\n").error;
        assert_eq!(
            e.map(|e| e.message),
            Some("No ':' or '=' found in assignment")
        );
        assert!(IniFile::parse("x", "[DEFAULT]\nx = \"\n").error.is_none());
    }

    #[test]
    fn ring_positions_and_values() {
        let text = "{\n  \"conductor\": [\"a\", \"b\"],\n  \"cert\": \"ctl1\",\n  \"x\": [],\n  \"y\": {\"z\": [1]},\n  \"cert\": [\"ctl1\"]\n}\n";
        let ring = Ringfile::parse("r.json", text);
        let keys: Vec<(&str, u32)> = ring
            .entries()
            .iter()
            .map(|e| (e.key.as_str(), e.line))
            .collect();
        assert_eq!(
            keys,
            [
                ("conductor", 2),
                ("cert", 3),
                ("x", 4),
                ("y", 5),
                ("cert", 6)
            ]
        );
        assert_eq!(
            ring.get("cert").map(|e| &e.value),
            Some(&RingValue::Hosts(vec!["ctl1".into()]))
        );
        assert_eq!(ring.entries()[1].value, RingValue::Str("ctl1".into()));
        assert_eq!(ring.entries()[3].value, RingValue::NotIterable("an object"));
    }

    #[test]
    fn ring_error_has_line_and_column() {
        let ring = Ringfile::parse("r.json", "{\n  \"a\": [\"x\"],\n}\n");
        let err = ring.data.err().map(|e| (e.line, e.column));
        assert_eq!(err, Some((3, 1)));
    }

    #[test]
    fn haproxy_and_hosts() {
        let h = HaproxyCfg::parse(
            "h.cfg",
            "global\n  daemon\nlisten zmq 10.0.0.10:9501\n  mode tcp\n  server c1 10.0.0.11:9502 check\nfrontend f\n  bind *:9501,:9600\n  default_backend b\n",
        );
        assert_eq!(h.proxies.len(), 2);
        assert_eq!(h.proxies[0].binds[0].port, 9501);
        assert_eq!(h.proxies[0].servers[0].port, Some(9502));
        assert_eq!(h.proxies[1].binds.len(), 2);
        assert_eq!(h.proxies[1].binds[1].addr, "");
        let hosts = HostsFile::parse(
            "hosts",
            "127.0.0.1 localhost\n10.0.0.11 ctl1.example.com ctl1 # c\n",
        );
        assert_eq!(hosts.lookup("CTL1").map(|e| e.line), Some(2));
        assert!(hosts.lookup("cmp1").is_none());
    }

    #[test]
    fn tells_haproxy_from_oslo() {
        assert!(matches!(
            classify_config("a", "# x\n[DEFAULT]\n"),
            ConfigFile::Oslo(_)
        ));
        assert!(matches!(
            classify_config("a", "global\n  log /dev/log\n"),
            ConfigFile::Haproxy(_)
        ));
        assert!(matches!(
            classify_config("a", "description \"x\"\n"),
            ConfigFile::Unrecognised { .. }
        ));
    }
}
