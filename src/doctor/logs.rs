//! Service logs: the oslo.log lines of the ZeroMQ drivers (legacy
//! `impl_zmq`, its matchmakers and receiver; the new zmq driver) that say a
//! message had no route, and the tracebacks around them.
//!
//! Line formats read: oslo.log (`2015-10-01 12:00:00.123 1234 WARNING
//! oslo_messaging._drivers.impl_zmq [req-... - - -] message`), Python's
//! `logging.basicConfig` (`WARNING:name:message`, the receiver's), and bare
//! lines (tracebacks on stderr). Only the lines that matter are kept, with
//! their line number; the rest is counted.

/// Records kept per file; more are counted in `LogFile::dropped`.
const MAX_RECORDS: usize = 20_000;
/// Kept text of one line.
const MAX_TEXT: usize = 400;
/// How many lines back a traceback frame still explains an exception line.
const TRACEBACK_WINDOW: u32 = 40;

/// What a log line says, for the checks.
#[derive(Clone, Debug, PartialEq)]
pub enum LogEvent {
    /// `No key defining hosts for topic '<topic>', see ringfile` (DOC-L01).
    NoRingKey {
        topic: String,
    },
    /// `No matchmaker results. Not casting.` (`not_casting`) / `Not
    /// sending.` (DOC-L02).
    NoMatchmakerResults {
        not_casting: bool,
    },
    /// `rpc_zmq_matchmaker = <value> is deprecated...` (DOC-L03).
    MatchmakerDeprecated {
        value: String,
    },
    /// `Class <x> cannot be found` / `No 'oslo.messaging.zmq.matchmaker'
    /// driver found, looking for '<value>'` (DOC-L03).
    MatchmakerNotFound {
        value: String,
    },
    /// `Could not open socket.` (DOC-L04).
    CouldNotOpenSocket,
    /// `Timeout while waiting on RPC response - topic: "..", RPC method:
    /// "..", info: ".."` (DOC-L05).
    RpcTimeout {
        info: String,
    },
    /// Receiver: `Creating proxy for topic: <queue>` (DOC-L06).
    CreatingProxy {
        queue: String,
    },
    /// `Connecting to ipc://<dir>/zmq_topic_<name> with <socket>`.
    ConnectingIpc {
        dir: String,
        name: String,
        socket: String,
    },
    /// `Connecting to tcp://<host>:<port> with PUSH`.
    ConnectingTcp {
        host: String,
        port: u16,
    },
    /// Receiver start-up and forwarding errors (DOC-L07).
    IpcDirMissing {
        dir: String,
    },
    IpcDirPermission {
        dir: String,
    },
    ReceiverBindFailed,
    TopicSocketFailed,
    DangerousTopic,
    BacklogFull {
        queue: String,
    },
    /// `RPC message did not include method.` (DOC-L08).
    NoMethod,
    /// `ZMQ Envelope version unsupported or unknown.` (DOC-L08).
    EnvelopeUnsupported,
    /// Redis matchmaker trouble (DOC-L09): what, and the address when
    /// there is one.
    RedisError {
        what: &'static str,
        addr: Option<String>,
    },
    /// `serialize_msg() takes exactly 1 argument (2 given)` (DOC-L10).
    SerializeMsg,
    /// New driver (DOC-L11).
    NoRecords {
        target: String,
    },
    RedisUnavailable {
        addr: String,
    },
    MatchmakerUnreachable,
    MessagingTimeout,
    PortsExhausted,
    /// `Sending message(s) to: [(queue, host), ...]` (DOC-L12).
    SendingTo {
        pairs: Vec<(String, String)>,
    },
    /// `Timed out waiting for nova-conductor` (DOC-L13).
    ConductorTimeout,
    /// A traceback from `matchmaker_ring.py`: the ringfile is missing
    /// (`IOError`) or not JSON (`ValueError`).
    RingfileMissing {
        path: String,
    },
    RingfileInvalid {
        message: String,
    },
    /// `Could not send notification to <topic>.`
    NotificationFailed {
        topic: String,
    },
}

/// One kept line.
#[derive(Clone, Debug)]
pub struct LogRecord {
    pub line: u32,
    /// The line, trimmed (and cut when very long).
    pub text: String,
    /// `2015-10-01 12:00:00.123` when the line has it.
    pub time: Option<String>,
    /// The process id, which ties a WARNING to the one before it.
    pub pid: Option<String>,
    pub event: LogEvent,
}

#[derive(Clone, Debug)]
pub struct LogFile {
    pub path: String,
    /// The first line (trimmed, cut), to quote when the file itself is the
    /// evidence (a service runs on this node).
    pub first: String,
    pub lines: u32,
    pub records: Vec<LogRecord>,
    /// Matching lines not kept (over `MAX_RECORDS`).
    pub dropped: u64,
    last_matchmaker_ring: Option<u32>,
    last_ack_alive: Option<u32>,
    last_matchmaker: Option<u32>,
}

/// The parts of a formatted log line.
struct Parsed<'a> {
    time: Option<String>,
    pid: Option<&'a str>,
    message: &'a str,
}

const LEVELS: &[&str] = &[
    "TRACE", "DEBUG", "INFO", "AUDIT", "WARNING", "WARN", "ERROR", "CRITICAL",
];

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b.get(2) == Some(&b':')
        && b.get(5) == Some(&b':')
        && b.iter()
            .all(|c| c.is_ascii_digit() || *c == b':' || *c == b'.' || *c == b',')
}

/// Split an oslo.log or basicConfig line; anything else is all message.
fn parse_line(line: &str) -> Parsed<'_> {
    let bare = Parsed {
        time: None,
        pid: None,
        message: line,
    };
    // basicConfig: LEVEL:logger:message
    if let Some((level, rest)) = line.split_once(':') {
        if LEVELS.contains(&level) {
            if let Some((_, msg)) = rest.split_once(':') {
                return Parsed {
                    time: None,
                    pid: None,
                    message: msg.trim_start(),
                };
            }
        }
    }
    let mut rest = line;
    let next = |rest: &mut &str| -> Option<String> {
        let r = rest.trim_start();
        let end = r.find(' ').unwrap_or(r.len());
        let (word, tail) = r.split_at(end);
        *rest = tail;
        (!word.is_empty()).then(|| word.to_string())
    };
    let Some(date) = next(&mut rest) else {
        return bare;
    };
    if !is_date(&date) {
        return bare;
    }
    let Some(time) = next(&mut rest) else {
        return bare;
    };
    if !is_time(&time) {
        return bare;
    }
    let before_pid = rest;
    let pid = next(&mut rest);
    let pid_str = match &pid {
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            let start = before_pid.len() - before_pid.trim_start().len();
            before_pid.get(start..start + p.len())
        }
        _ => {
            rest = before_pid;
            None
        }
    };
    let Some(level) = next(&mut rest) else {
        return bare;
    };
    if !LEVELS.contains(&level.as_str()) {
        return bare;
    }
    let _logger = next(&mut rest);
    let mut msg = rest.trim_start();
    if msg.starts_with('[') {
        if let Some(end) = msg.find("] ") {
            msg = msg.get(end + 2..).unwrap_or("");
        } else if msg.ends_with(']') {
            msg = "";
        }
    }
    Parsed {
        time: Some(format!("{date} {time}")),
        pid: pid_str,
        message: msg,
    }
}

/// Text between `start` and the next `end` after it.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let rest = s.get(from..)?;
    let to = rest.find(end)?;
    rest.get(..to)
}

fn after<'a>(s: &'a str, start: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    s.get(from..)
}

/// The quoted strings of a Python repr, in order (`u'x'`, `"y"`).
fn quoted_strings(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' {
            let mut word = String::new();
            let mut escaped = false;
            for d in chars.by_ref() {
                if escaped {
                    word.push(d);
                    escaped = false;
                } else if d == '\\' {
                    escaped = true;
                } else if d == c {
                    break;
                } else {
                    word.push(d);
                }
            }
            out.push(word);
        }
    }
    out
}

/// A line trimmed and cut to `MAX_TEXT` bytes (on a character boundary).
fn cut_text(line: &str) -> String {
    let mut text = line.trim().to_string();
    if text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

impl LogFile {
    pub fn new(path: &str) -> LogFile {
        LogFile {
            path: path.to_string(),
            first: String::new(),
            lines: 0,
            records: Vec::new(),
            dropped: 0,
            last_matchmaker_ring: None,
            last_ack_alive: None,
            last_matchmaker: None,
        }
    }

    /// The service that wrote the log, from its file name
    /// (`nova-compute.log` -> `nova-compute`).
    pub fn service(&self) -> String {
        super::config::service_of(&self.path)
    }

    /// Parse a whole log held in memory (tests, fixtures).
    pub fn from_text(path: &str, text: &str) -> LogFile {
        let mut log = LogFile::new(path);
        for line in text.lines() {
            log.push_line(line);
        }
        log
    }

    fn recent(&self, mark: Option<u32>) -> bool {
        mark.is_some_and(|m| self.lines.saturating_sub(m) <= TRACEBACK_WINDOW)
    }

    /// Read one line.
    pub fn push_line(&mut self, line: &str) {
        self.lines = self.lines.saturating_add(1);
        if line.contains("matchmaker_ring") {
            self.last_matchmaker_ring = Some(self.lines);
        }
        if line.contains("ack_alive") {
            self.last_ack_alive = Some(self.lines);
        }
        if line.contains("matchmaker") {
            self.last_matchmaker = Some(self.lines);
        }
        if self.lines == 1 {
            self.first = cut_text(line);
        }
        let parsed = parse_line(line);
        let Some(event) = self.classify(parsed.message) else {
            return;
        };
        if self.records.len() >= MAX_RECORDS {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        let text = cut_text(line);
        self.records.push(LogRecord {
            line: self.lines,
            text,
            time: parsed.time,
            pid: parsed.pid.map(str::to_string),
            event,
        });
    }

    fn classify(&self, m: &str) -> Option<LogEvent> {
        use LogEvent::*;
        if let Some(topic) = between(m, "No key defining hosts for topic '", "', see ringfile") {
            return Some(NoRingKey {
                topic: topic.to_string(),
            });
        }
        if m.contains("No matchmaker results. Not casting.") {
            return Some(NoMatchmakerResults { not_casting: true });
        }
        if m.contains("No matchmaker results. Not sending.") && !m.contains("Timeout while") {
            return Some(NoMatchmakerResults { not_casting: false });
        }
        if let Some(rest) = after(m, "Timeout while waiting on RPC response - topic: ") {
            let info = between(rest, "info: \"", "\"").unwrap_or("").to_string();
            return Some(RpcTimeout { info });
        }
        if let Some(v) = between(m, "rpc_zmq_matchmaker = ", " is deprecated") {
            return Some(MatchmakerDeprecated {
                value: v.to_string(),
            });
        }
        if let Some(v) = between(m, "driver found, looking for '", "'") {
            return Some(MatchmakerNotFound {
                value: v.to_string(),
            });
        }
        if let Some(v) = between(m, "Class ", " cannot be found") {
            if v.contains("MatchMaker") || self.recent(self.last_matchmaker) {
                return Some(MatchmakerNotFound {
                    value: v.to_string(),
                });
            }
        }
        if m.contains("Could not open socket.") {
            return Some(CouldNotOpenSocket);
        }
        if let Some(q) = after(m, "Creating proxy for topic: ") {
            return Some(CreatingProxy {
                queue: q.trim().to_string(),
            });
        }
        if let Some(rest) = after(m, "Connecting to ") {
            let (addr, socket) = rest.rsplit_once(" with ").unwrap_or((rest, ""));
            if let Some(path) = addr.strip_prefix("ipc://") {
                if let Some((dir, name)) = path.rsplit_once("/zmq_topic_") {
                    return Some(ConnectingIpc {
                        dir: dir.to_string(),
                        name: name.to_string(),
                        socket: socket.trim().to_string(),
                    });
                }
            }
            if let Some(hp) = addr.strip_prefix("tcp://") {
                if let Some((host, port)) = hp.rsplit_once(':') {
                    if let Ok(port) = port.parse() {
                        return Some(ConnectingTcp {
                            host: host.to_string(),
                            port,
                        });
                    }
                }
            }
        }
        if let Some(d) = after(m, "Required IPC directory does not exist at ") {
            return Some(IpcDirMissing {
                dir: d.trim().to_string(),
            });
        }
        if let Some(d) = after(m, "Permission denied to IPC directory at ") {
            return Some(IpcDirPermission {
                dir: d.trim().to_string(),
            });
        }
        if m.contains("Could not create ZeroMQ receiver daemon") {
            return Some(ReceiverBindFailed);
        }
        if m.contains("Topic socket file creation failed.") {
            return Some(TopicSocketFailed);
        }
        if m.contains("Topic contained dangerous characters.") {
            return Some(DangerousTopic);
        }
        if let Some(q) = between(
            m,
            "Local per-topic backlog buffer full for topic ",
            ". Dropping message.",
        ) {
            return Some(BacklogFull {
                queue: q.to_string(),
            });
        }
        if m.contains("RPC message did not include method.") {
            return Some(NoMethod);
        }
        if m.contains("ZMQ Envelope version unsupported or unknown.") {
            return Some(EnvelopeUnsupported);
        }
        if m.contains("WRONGTYPE Operation against a key") {
            return Some(RedisError {
                what: "WRONGTYPE",
                addr: None,
            });
        }
        if m.contains("Failed to import module redis") {
            return Some(RedisError {
                what: "python-redis missing",
                addr: None,
            });
        }
        if m.contains("Register before starting heartbeat.") {
            return Some(RedisError {
                what: "heartbeat before register",
                addr: None,
            });
        }
        if m.starts_with("KeyError") && self.recent(self.last_ack_alive) {
            return Some(RedisError {
                what: "ack_alive KeyError",
                addr: None,
            });
        }
        if m.contains("dictionary changed size during iteration")
            && self.recent(self.last_matchmaker)
        {
            return Some(RedisError {
                what: "heartbeat iteration",
                addr: None,
            });
        }
        if let Some(rest) = after(m, "connecting to ") {
            if m.contains("Error ") && m.contains("Connection refused") {
                let addr = rest
                    .split(". ")
                    .next()
                    .unwrap_or(rest)
                    .trim_end_matches('.');
                return Some(RedisError {
                    what: "connection refused",
                    addr: Some(addr.to_string()),
                });
            }
        }
        if m.contains("serialize_msg() takes exactly 1 argument (2 given)") {
            return Some(SerializeMsg);
        }
        for start in [
            "Matchmaker contains no records for specified target ",
            "Matchmaker contains no record for specified target ",
        ] {
            if let Some(t) = between(m, start, ". Dropping message") {
                return Some(NoRecords {
                    target: t.to_string(),
                });
            }
        }
        if let Some(t) = after(m, "Matchmaker contains no hosts for target ") {
            return Some(NoRecords {
                target: t.trim().to_string(),
            });
        }
        if let Some(t) = between(m, "No hosts were found for target ", ".") {
            return Some(NoRecords {
                target: t.to_string(),
            });
        }
        if let Some(a) = between(m, "Redis host ", " is not available now.") {
            return Some(RedisUnavailable {
                addr: a.to_string(),
            });
        }
        if m.contains("Failed connecting to the Matchmaker") {
            return Some(MatchmakerUnreachable);
        }
        if m.contains("seconds was reached for message") && m.contains("Timeout ") {
            return Some(MessagingTimeout);
        }
        if m.contains("Random ports range exceeded!") {
            return Some(PortsExhausted);
        }
        if let Some(list) = after(m, "Sending message(s) to: ") {
            let words = quoted_strings(list);
            let pairs = words
                .chunks(2)
                .filter_map(|c| match c {
                    [q, h] => Some((q.clone(), h.clone())),
                    _ => None,
                })
                .collect();
            return Some(SendingTo { pairs });
        }
        if m.contains("Timed out waiting for nova-conductor") {
            return Some(ConductorTimeout);
        }
        if self.recent(self.last_matchmaker_ring) {
            if let Some(p) = after(m, "No such file or directory: ") {
                if m.starts_with("IOError") || m.starts_with("FileNotFoundError") {
                    return Some(RingfileMissing {
                        path: p.trim().trim_matches('\'').to_string(),
                    });
                }
            }
            if m.starts_with("ValueError")
                || m.starts_with("json.decoder.JSONDecodeError")
                || m.starts_with("simplejson")
            {
                return Some(RingfileInvalid {
                    message: m.split_once(": ").map(|x| x.1).unwrap_or(m).to_string(),
                });
            }
        }
        if let Some(t) = after(m, "Could not send notification to ") {
            let topic = t
                .split(". Payload")
                .next()
                .unwrap_or(t)
                .trim_end_matches('.');
            return Some(NotificationFailed {
                topic: topic.to_string(),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Option<LogEvent> {
        let log = LogFile::from_text("x.log", line);
        log.records.first().map(|r| r.event.clone())
    }

    #[test]
    fn oslo_log_lines() {
        let log = LogFile::from_text(
            "nova-api.log",
            "2026-11-26 05:43:05.213 16151 WARNING oslo_messaging._drivers.matchmaker_ring No key defining hosts for topic 'scheduler', see ringfile\n\
             2026-11-26 05:43:05.213 16151 WARNING oslo_messaging._drivers.impl_zmq [req-1 - - - - -] No matchmaker results. Not sending.\n",
        );
        assert_eq!(log.records.len(), 2);
        assert_eq!(
            log.records[0].event,
            LogEvent::NoRingKey {
                topic: "scheduler".into()
            }
        );
        assert_eq!(log.records[0].pid.as_deref(), Some("16151"));
        assert_eq!(
            log.records[0].time.as_deref(),
            Some("2026-11-26 05:43:05.213")
        );
        assert_eq!(log.records[1].line, 2);
        assert_eq!(
            log.records[1].event,
            LogEvent::NoMatchmakerResults { not_casting: false }
        );
    }

    #[test]
    fn receiver_and_consumer_lines() {
        assert_eq!(
            one("INFO:oslo_messaging._drivers.impl_zmq:Creating proxy for topic: compute.cmp1.example.com"),
            Some(LogEvent::CreatingProxy {
                queue: "compute.cmp1.example.com".into()
            })
        );
        assert_eq!(
            one("2015-01-01 00:00:00.000 1 DEBUG oslo_messaging._drivers.impl_zmq [-] Connecting to ipc:///var/run/openstack/zmq_topic_compute.cmp2 with PULL"),
            Some(LogEvent::ConnectingIpc {
                dir: "/var/run/openstack".into(),
                name: "compute.cmp2".into(),
                socket: "PULL".into()
            })
        );
        assert_eq!(
            one("2015-01-01 00:00:00.000 1 DEBUG x [-] Sending message(s) to: [(u'scheduler.localhost', u'localhost')]"),
            Some(LogEvent::SendingTo {
                pairs: vec![("scheduler.localhost".into(), "localhost".into())]
            })
        );
        assert_eq!(
            one("Timeout while waiting on RPC response - topic: \"<unknown>\", RPC method: \"<unknown>\" info: \"<unknown>\""),
            Some(LogEvent::RpcTimeout {
                info: "<unknown>".into()
            })
        );
    }

    #[test]
    fn tracebacks_need_their_frame() {
        assert_eq!(
            one("ValueError: Expecting property name: line 4 column 1 (char 76)"),
            None
        );
        let log = LogFile::from_text(
            "x.log",
            "  File \"/usr/lib/python2.7/dist-packages/oslo_messaging/_drivers/matchmaker_ring.py\", line 50, in __init__\n\
             IOError: [Errno 2] No such file or directory: '/etc/oslo/matchmaker_ring.json'\n",
        );
        assert_eq!(
            log.records.first().map(|r| r.event.clone()),
            Some(LogEvent::RingfileMissing {
                path: "/etc/oslo/matchmaker_ring.json".into()
            })
        );
    }
}
