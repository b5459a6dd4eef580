//! `zmqtrace doctor`: why a message had no route, with evidence and the fix.
//!
//! The doctor reads what an operator has — oslo.config files, haproxy.cfg,
//! the matchmaker ringfile, /etc/hosts tables, service logs — per node or
//! one by one, simulates the legacy matchmaker (`matchmaker`), runs the
//! checks of the failure-mode catalogue (`checks`) and reports findings,
//! most severe first, as a table or JSON Lines (docs/output-contract.md).
//!
//! ```text
//! Inputs ─ load ─▶ Loaded (nodes: configs, rings, hosts, logs) ─▶ Cluster (resolved)
//!                                         │                          │
//!                                         │               checks::run │ matchmaker::route
//!                                         ▼                          ▼
//!                                     Report { findings }        Route { steps }
//! ```
//!
//! Captures (`-r`) go through the whole decoding pipeline into
//! [`wire::WireFacts`] (connection attempts per endpoint, legacy messages,
//! answered and unanswered calls); `capture` checks them against the
//! configs and cross-references the logs, adding findings with
//! [`Evidence::Capture`].

pub mod capture;
pub mod checks;
pub mod command;
pub mod config;
pub mod logs;
pub mod matchmaker;
pub mod model;
pub mod wire;

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::output::{push_json_string, JsonObject};
use crate::time::{Precision, Timestamp};

pub use config::parse_node_arg;
use config::{HostsFile, IniEntry, Node, Ringfile};

/// A file that cannot be read, or arguments that make no sense.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is larger than {limit_mib} MiB: give the config, ring or hosts file itself")]
    TooLarge { path: String, limit_mib: u64 },
    #[error("{path} is not a directory (--node takes NAME=DIR)")]
    NotADirectory { path: String },
    /// A capture that cannot be read; the message names the file.
    #[error("{message}")]
    Capture { path: String, message: String },
    #[error("{0}")]
    Usage(String),
}

/// How bad a finding is (catalogue 5.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; nothing is lost.
    Info,
    /// Latent: breaks on a change, a restart or a new node.
    Warning,
    /// Some messages are lost or misrouted.
    Error,
    /// A service cannot send or receive at all.
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

/// Where a finding's fact was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// A line of a config, ringfile, hosts table or log.
    File {
        file: String,
        line: u32,
        text: String,
        /// What the line shows, when the line alone does not say it (an
        /// unset option: the section header and "not set: default 9501").
        note: Option<String>,
    },
    /// A connection of a capture and the time of the packet.
    Capture {
        /// The capture's file name.
        capture: String,
        conn: String,
        ts: Timestamp,
        note: Option<String>,
    },
}

impl Evidence {
    pub fn file(file: &str, line: u32, text: &str) -> Evidence {
        Evidence::File {
            file: file.to_string(),
            line,
            text: text.to_string(),
            note: None,
        }
    }

    pub fn entry(file: &str, e: &IniEntry) -> Evidence {
        Evidence::file(file, e.line, &e.text)
    }

    pub fn capture(capture: &str, conn: &str, ts: Timestamp) -> Evidence {
        Evidence::Capture {
            capture: capture.to_string(),
            conn: conn.to_string(),
            ts,
            note: None,
        }
    }

    pub fn note(mut self, text: &str) -> Evidence {
        match &mut self {
            Evidence::File { note, .. } | Evidence::Capture { note, .. } => {
                *note = Some(text.to_string())
            }
        }
        self
    }

    fn to_json(&self) -> String {
        let mut o = JsonObject::new();
        match self {
            Evidence::File {
                file,
                line,
                text,
                note,
            } => {
                o.str("file", file)
                    .u64("line", u64::from(*line))
                    .str("text", text);
                if let Some(n) = note {
                    o.str("note", n);
                }
            }
            Evidence::Capture {
                capture,
                conn,
                ts,
                note,
            } => {
                o.str("capture", capture)
                    .str("conn", conn)
                    .ts("ts", *ts, Precision::Micro);
                if let Some(n) = note {
                    o.str("note", n);
                }
            }
        }
        o.finish()
    }

    /// `file:line  text` / `conn @ ts`, for the table.
    fn to_text(&self) -> String {
        match self {
            Evidence::File {
                file,
                line,
                text,
                note,
            } => {
                let mut s = format!("{file}:{line}");
                if !text.is_empty() {
                    let _ = write!(s, "  {text}");
                }
                if let Some(n) = note {
                    let _ = write!(s, "  ({n})");
                }
                s
            }
            Evidence::Capture {
                capture,
                conn,
                ts,
                note,
            } => {
                let mut s = format!(
                    "{capture}: {conn} at {}",
                    crate::output::utc_datetime(*ts, Precision::Micro)
                );
                if let Some(n) = note {
                    let _ = write!(s, "  ({n})");
                }
                s
            }
        }
    }
}

/// One problem, with the lines that show it and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier of the check (`ring-key-missing`).
    pub id: String,
    pub severity: Severity,
    /// One sentence naming the topic, host, port, option or file.
    pub title: String,
    pub evidence: Vec<Evidence>,
    /// What to change, concretely.
    pub fix: String,
    /// The node it concerns, when there is one.
    pub node: Option<String>,
    /// Catalogue references (`FM01`, `DOC-R03`).
    pub refs: Vec<String>,
}

impl Finding {
    pub fn new(id: &str, severity: Severity, title: impl Into<String>) -> Finding {
        Finding {
            id: id.to_string(),
            severity,
            title: title.into(),
            evidence: Vec::new(),
            fix: String::new(),
            node: None,
            refs: Vec::new(),
        }
    }

    pub fn evidence(mut self, e: Evidence) -> Finding {
        if !self.evidence.contains(&e) {
            self.evidence.push(e);
        }
        self
    }

    pub fn evidence_all(mut self, es: impl IntoIterator<Item = Evidence>) -> Finding {
        for e in es {
            self = self.evidence(e);
        }
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = fix.into();
        self
    }

    pub fn node(mut self, node: &str) -> Finding {
        if node != "-" {
            self.node = Some(node.to_string());
        }
        self
    }

    pub fn refs(mut self, refs: &[&str]) -> Finding {
        self.refs.extend(refs.iter().map(|r| r.to_string()));
        self
    }

    /// Seen happening: quoted from a log (a `DOC-L` check) or a capture.
    pub fn observed(&self) -> bool {
        self.refs.iter().any(|r| r.starts_with("DOC-L"))
            || self
                .evidence
                .iter()
                .any(|e| matches!(e, Evidence::Capture { .. }))
    }

    /// The finding as one JSON Lines object (docs/output-contract.md).
    pub fn to_json(&self) -> String {
        let mut o = JsonObject::new();
        o.str("event", "finding")
            .str("id", &self.id)
            .str("severity", self.severity.as_str())
            .str("title", &self.title)
            .with("evidence", |buf| {
                buf.push('[');
                for (i, e) in self.evidence.iter().enumerate() {
                    if i > 0 {
                        buf.push(',');
                    }
                    buf.push_str(&e.to_json());
                }
                buf.push(']');
            })
            .str("fix", &self.fix);
        if let Some(n) = &self.node {
            o.str("node", n);
        }
        if !self.refs.is_empty() {
            o.with("refs", |buf| {
                buf.push('[');
                for (i, r) in self.refs.iter().enumerate() {
                    if i > 0 {
                        buf.push(',');
                    }
                    push_json_string(buf, r);
                }
                buf.push(']');
            });
        }
        o.finish()
    }
}

/// Findings as they are collected: the same id and title seen again (a
/// ring key missing, from the ring and from three logs) is one finding
/// with all the evidence, at the highest severity.
#[derive(Default, Debug)]
pub struct Findings {
    list: Vec<Finding>,
}

impl Findings {
    pub fn push(&mut self, f: Finding) {
        if let Some(old) = self
            .list
            .iter_mut()
            .find(|o| o.id == f.id && o.title == f.title)
        {
            old.severity = old.severity.max(f.severity);
            if old.node != f.node {
                old.node = None;
            }
            for e in f.evidence {
                if !old.evidence.contains(&e) {
                    old.evidence.push(e);
                }
            }
            for r in f.refs {
                if !old.refs.contains(&r) {
                    old.refs.push(r);
                }
            }
            if old.fix.is_empty() {
                old.fix = f.fix;
            }
            return;
        }
        self.list.push(f);
    }

    pub fn has(&self, id: &str) -> bool {
        self.list.iter().any(|f| f.id == id)
    }

    /// Most severe first; within a severity, what was seen happening (in
    /// a log or a capture) before what the configuration predicts, then the
    /// order of discovery.
    pub fn into_sorted(mut self) -> Vec<Finding> {
        self.list
            .sort_by_key(|f| (std::cmp::Reverse(f.severity), !f.observed()));
        self.list
    }
}

/// What the doctor was given (`zmqtrace doctor` options).
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// `--config FILE|DIR` (repeatable): oslo .conf files and haproxy.cfg,
    /// told apart by content; a directory is read like a node directory.
    pub configs: Vec<PathBuf>,
    /// `--node NAME=DIR` (repeatable): everything of one machine.
    pub nodes: Vec<(String, PathBuf)>,
    /// `--ringfile FILE`: the ring, when not found in a node directory.
    pub ringfile: Option<PathBuf>,
    /// `--hosts FILE`: an /etc/hosts-style table used to resolve names.
    pub hosts: Option<PathBuf>,
    /// `--resolve`: resolve names with the system resolver.
    pub resolve: bool,
    /// `--log FILE` (repeatable): service logs.
    pub logs: Vec<PathBuf>,
    /// `-r CAPTURE` (repeatable): for the capture checks.
    pub captures: Vec<PathBuf>,
}

/// How much was read, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputCounts {
    pub nodes: usize,
    pub configs: usize,
    pub haproxy: usize,
    pub ringfiles: usize,
    pub hosts: usize,
    pub logs: usize,
    pub log_lines: u64,
    pub captures: usize,
}

/// Everything loaded, before interpretation.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub nodes: Vec<Node>,
    pub ring: Option<Ringfile>,
    pub hosts: Option<HostsFile>,
    pub resolve: bool,
    /// What each capture showed.
    pub captures: Vec<wire::WireFacts>,
}

/// The name of the node that holds files given outside `--node`.
pub const LOOSE_NODE: &str = "-";

/// Read every input. An unreadable file is an error; a broken one is kept
/// for the checks to report.
pub fn load(inputs: &Inputs) -> Result<Loaded, DoctorError> {
    if inputs.configs.is_empty()
        && inputs.nodes.is_empty()
        && inputs.ringfile.is_none()
        && inputs.logs.is_empty()
        && inputs.hosts.is_none()
        && inputs.captures.is_empty()
    {
        return Err(DoctorError::Usage(
            "doctor needs something to examine: give --config, --node, --ringfile, --log, --hosts or -r"
                .into(),
        ));
    }
    let mut nodes = Vec::new();
    for (name, dir) in &inputs.nodes {
        if name == LOOSE_NODE || nodes.iter().any(|n: &Node| &n.name == name) {
            return Err(DoctorError::Usage(format!(
                "--node {name}= is given twice (or is '-'): give each node once"
            )));
        }
        let mut node = Node::new(name, true);
        config::load_node_dir(&mut node, dir)?;
        nodes.push(node);
    }
    let mut loose = Node::new(LOOSE_NODE, false);
    for path in &inputs.configs {
        config::load_config_arg(&mut loose, path)?;
    }
    for path in &inputs.logs {
        loose.logs.push(config::load_log(path)?);
    }
    if !loose.is_empty() {
        nodes.push(loose);
    }
    let ring = inputs
        .ringfile
        .as_deref()
        .map(config::load_ringfile)
        .transpose()?;
    let hosts = inputs
        .hosts
        .as_deref()
        .map(config::load_hosts)
        .transpose()?;
    // Decode the ports the configs declare, whatever the bytes look like.
    let ports = {
        let cluster = model::Cluster::new(&nodes, ring.as_ref(), hosts.as_ref(), inputs.resolve);
        wire::decode_ports(&capture::declared_ports(&cluster))
    };
    let captures = inputs
        .captures
        .iter()
        .map(|p| wire::read(p, ports.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Loaded {
        nodes,
        ring,
        hosts,
        resolve: inputs.resolve,
        captures,
    })
}

impl Loaded {
    pub fn cluster(&self) -> model::Cluster<'_> {
        model::Cluster::new(
            &self.nodes,
            self.ring.as_ref(),
            self.hosts.as_ref(),
            self.resolve,
        )
    }

    pub fn counts(&self) -> InputCounts {
        let mut c = InputCounts {
            nodes: self.nodes.iter().filter(|n| n.explicit).count(),
            ringfiles: usize::from(self.ring.is_some()),
            hosts: usize::from(self.hosts.is_some()),
            captures: self.captures.len(),
            ..InputCounts::default()
        };
        for n in &self.nodes {
            c.configs += n.configs.len();
            c.haproxy += n.haproxy.len();
            c.ringfiles += n.rings.len();
            c.hosts += usize::from(n.hosts.is_some());
            c.logs += n.logs.len();
            c.log_lines += n.logs.iter().map(|l| u64::from(l.lines)).sum::<u64>();
        }
        c
    }

    /// Run every check.
    pub fn findings(&self) -> Report {
        let mut out = Findings::default();
        checks::run(&self.cluster(), &self.captures, &mut out);
        Report {
            findings: out.into_sorted(),
            inputs: self.counts(),
        }
    }

    /// `doctor --route TOPIC [--from NODE]`: the resolution step by step.
    pub fn route(&self, request: &str, from: Option<&str>) -> matchmaker::Route {
        matchmaker::route(&self.cluster(), request, from)
    }
}

/// Load and check: what `zmqtrace doctor` prints.
pub fn run(inputs: &Inputs) -> Result<Report, DoctorError> {
    Ok(load(inputs)?.findings())
}

/// The findings of one run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub inputs: InputCounts,
}

impl Report {
    /// Add findings from elsewhere (the capture checks) and keep the order.
    pub fn extend(&mut self, more: impl IntoIterator<Item = Finding>) {
        let mut all = Findings::default();
        for f in self.findings.drain(..).chain(more) {
            all.push(f);
        }
        self.findings = all.into_sorted();
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// 3 when an `error` or `critical` finding was reported, else 0
    /// (docs/output-contract.md).
    pub fn exit_code(&self) -> u8 {
        match self.worst() {
            Some(Severity::Error | Severity::Critical) => 3,
            _ => 0,
        }
    }

    /// The `summary` line that ends the JSON Lines output.
    pub fn summary_json(&self) -> String {
        let i = &self.inputs;
        let mut inputs = JsonObject::new();
        inputs
            .u64("nodes", i.nodes as u64)
            .u64("configs", i.configs as u64)
            .u64("haproxy", i.haproxy as u64)
            .u64("ringfiles", i.ringfiles as u64)
            .u64("hosts", i.hosts as u64)
            .u64("logs", i.logs as u64)
            .u64("log_lines", i.log_lines)
            .u64("captures", i.captures as u64);
        let mut o = JsonObject::new();
        o.str("event", "summary")
            .u64("findings", self.findings.len() as u64)
            .u64("critical", self.count(Severity::Critical) as u64)
            .u64("error", self.count(Severity::Error) as u64)
            .u64("warning", self.count(Severity::Warning) as u64)
            .u64("info", self.count(Severity::Info) as u64)
            .object("inputs", inputs);
        o.finish()
    }

    /// JSON Lines: one `finding` object per line, then the `summary`.
    pub fn to_jsonl(&self) -> String {
        let mut s = String::new();
        for f in &self.findings {
            s.push_str(&f.to_json());
            s.push('\n');
        }
        s.push_str(&self.summary_json());
        s.push('\n');
        s
    }

    /// The table: most severe first, each finding as a headline, its
    /// evidence and its fix.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        for f in &self.findings {
            let label = match f.severity {
                Severity::Critical => "CRITICAL",
                Severity::Error => "ERROR",
                Severity::Warning => "WARNING",
                Severity::Info => "info",
            };
            let _ = write!(s, "{label:<8}  {}", f.title);
            if let Some(n) = &f.node {
                let _ = write!(s, "  [node {n}]");
            }
            let _ = writeln!(s, "  ({})", f.id);
            for e in &f.evidence {
                let _ = writeln!(s, "          at   {}", e.to_text());
            }
            if !f.fix.is_empty() {
                let _ = writeln!(s, "          fix  {}", f.fix);
            }
            s.push('\n');
        }
        let i = &self.inputs;
        let plural = |n: usize, one: &str, many: &str| checks::count(n as u64, one, many);
        let _ = writeln!(
            s,
            "doctor: {}, {}, {}, {} ({}, {}, {}, {}, {}, {})",
            plural(self.count(Severity::Critical), "critical", "critical"),
            plural(self.count(Severity::Error), "error", "errors"),
            plural(self.count(Severity::Warning), "warning", "warnings"),
            plural(self.count(Severity::Info), "info", "info"),
            plural(i.nodes, "node", "nodes"),
            plural(i.configs, "oslo config", "oslo configs"),
            plural(i.haproxy, "haproxy.cfg", "haproxy.cfg"),
            plural(i.ringfiles, "ringfile", "ringfiles"),
            plural(i.hosts, "hosts table", "hosts tables"),
            plural(i.logs, "log", "logs"),
        );
        s
    }
}
