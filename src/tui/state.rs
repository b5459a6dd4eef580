//! The UI thread's picture of the traffic: built from the engine's items,
//! bounded everywhere (a ring of messages, capped tables, a byte budget
//! for the frames shown in the detail pane), each cap with a counter.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use hdrhistogram::Histogram;

use super::feed::{Batch, ConnInfo, ConnNote, Item, Row, RowRpc};
use crate::oslo::{CallEvent, Kind, TimeoutEvent};
use crate::pipeline::EngineStatus;
use crate::tcp::CloseReason;
use crate::time::Timestamp;

/// How much the UI keeps.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Messages in the history (and calls in the calls table).
    pub history: usize,
    /// Frame bytes held for the detail pane, over all messages.
    pub detail_bytes: usize,
    pub topics: usize,
    pub conns: usize,
    pub problems: usize,
    pub servers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            history: 100_000,
            detail_bytes: 32 << 20,
            topics: 2_048,
            conns: 4_096,
            problems: 10_000,
            servers: 4_096,
        }
    }
}

/// Seconds of capture time the rate sparklines cover.
pub const RATE_SECONDS: usize = 60;

/// Counts per second of capture time, over the last [`RATE_SECONDS`].
#[derive(Clone, Debug, Default)]
pub struct RateWindow {
    /// (second since the epoch, count), oldest first, no empty seconds kept.
    buckets: VecDeque<(u64, u32)>,
}

impl RateWindow {
    fn add(&mut self, ts: Timestamp) {
        let sec = ts.as_nanos() / 1_000_000_000;
        match self.buckets.back_mut() {
            Some((s, n)) if *s == sec => *n = n.saturating_add(1),
            // Reordered timestamps across connections: count in the newest.
            Some((s, n)) if *s > sec => *n = n.saturating_add(1),
            _ => self.buckets.push_back((sec, 1)),
        }
        while self
            .buckets
            .front()
            .is_some_and(|(s, _)| s + (RATE_SECONDS as u64) <= sec)
        {
            self.buckets.pop_front();
        }
    }

    /// Counts for each of the last `n` seconds up to `now`, oldest first.
    pub fn series(&self, now: Timestamp, n: usize) -> Vec<u64> {
        let end = now.as_nanos() / 1_000_000_000;
        let start = end.saturating_sub(n.saturating_sub(1) as u64);
        let mut out = vec![0u64; n];
        for (s, c) in &self.buckets {
            if *s >= start && *s <= end {
                if let Some(slot) = out.get_mut((s - start) as usize) {
                    *slot = u64::from(*c);
                }
            }
        }
        out
    }

    /// Mean per second over the last `n` complete seconds before `now`'s.
    pub fn per_second(&self, now: Timestamp, n: usize) -> f64 {
        let series = self.series(now, n + 1);
        let complete = series.get(..n).unwrap_or_default();
        if complete.is_empty() {
            return 0.0;
        }
        complete.iter().sum::<u64>() as f64 / complete.len() as f64
    }
}

/// Per topic and method.
#[derive(Clone, Debug)]
pub struct TopicStats {
    pub topic: Arc<str>,
    pub method: Arc<str>,
    pub messages: u64,
    pub bytes: u64,
    pub calls: u64,
    pub timeouts: u64,
    pub failures: u64,
    /// Call latency in microseconds, 1 µs to 1 h, 2 significant digits.
    latency: Option<Histogram<u64>>,
    pub rate: RateWindow,
    pub last_ts: Timestamp,
}

impl TopicStats {
    fn new(topic: Arc<str>, method: Arc<str>) -> Self {
        TopicStats {
            topic,
            method,
            messages: 0,
            bytes: 0,
            calls: 0,
            timeouts: 0,
            failures: 0,
            latency: None,
            rate: RateWindow::default(),
            last_ts: Timestamp::ZERO,
        }
    }

    fn record_latency(&mut self, ns: u64) {
        if self.latency.is_none() {
            self.latency = Histogram::new_with_bounds(1, 3_600_000_000, 2).ok();
        }
        if let Some(h) = &mut self.latency {
            let _ = h.record((ns / 1_000).clamp(1, 3_600_000_000));
        }
    }

    /// Latency at quantile `q`, in nanoseconds.
    pub fn latency_ns(&self, q: f64) -> Option<u64> {
        let h = self.latency.as_ref().filter(|h| !h.is_empty())?;
        Some(h.value_at_quantile(q).saturating_mul(1_000))
    }
}

/// What became of a call.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Waiting,
    Replied {
        reply_ts: Timestamp,
        latency_ns: u64,
        failure: Option<Arc<str>>,
    },
    TimedOut {
        waited_ns: u64,
        at_end: bool,
    },
}

impl Outcome {
    /// Unanswered calls sort first.
    pub fn rank(&self) -> u8 {
        match self {
            Outcome::TimedOut { .. } => 0,
            Outcome::Waiting => 1,
            Outcome::Replied {
                failure: Some(_), ..
            } => 2,
            Outcome::Replied { .. } => 3,
        }
    }
}

/// A call and what became of it.
#[derive(Clone, Debug)]
pub struct CallEntry {
    pub msg_id: Arc<str>,
    pub topic: Option<Arc<str>>,
    pub method: Option<Arc<str>>,
    pub caller: SocketAddr,
    pub server: SocketAddr,
    pub request_ts: Timestamp,
    /// The request in the history, when it was seen there.
    pub request_seq: Option<u64>,
    /// Its row in the Topics view.
    pub key: (Arc<str>, Arc<str>),
    pub outcome: Outcome,
}

/// A connection as the Connections view shows it.
#[derive(Clone, Debug)]
pub struct ConnRow {
    pub info: ConnInfo,
    pub messages: [u64; 2],
    pub message_bytes: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub resyncs: u64,
    pub malformed: u64,
}

impl ConnRow {
    /// The client's SYN got no answer at all.
    pub fn unanswered_syn(&self) -> bool {
        let h = &self.info.history;
        h.starts_with('S') && !h.contains('h') && !h.contains('r')
    }

    /// The server answered the SYN with a reset: nothing listens there.
    pub fn refused(&self) -> bool {
        let h = &self.info.history;
        h.starts_with('S') && h.contains('r') && !h.contains('h')
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProblemKind {
    Timeout,
    Failure,
    Refused,
    NoAnswer,
    Resync,
    Gap,
    Malformed,
    NotZmtp,
}

impl ProblemKind {
    pub fn label(self) -> &'static str {
        match self {
            ProblemKind::Timeout => "timeout",
            ProblemKind::Failure => "failure",
            ProblemKind::Refused => "refused",
            ProblemKind::NoAnswer => "no answer",
            ProblemKind::Resync => "resync",
            ProblemKind::Gap => "gap",
            ProblemKind::Malformed => "malformed",
            ProblemKind::NotZmtp => "not zmtp",
        }
    }
}

/// Something that went wrong, with where and when.
#[derive(Clone, Debug)]
pub struct Problem {
    pub ts: Timestamp,
    pub kind: ProblemKind,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub text: Arc<str>,
    /// The message it concerns, when there is one in the history.
    pub seq: Option<u64>,
}

/// Calls sent to one server endpoint and what came back.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerTally {
    pub replied: u64,
    pub timeouts: u64,
    pub last_ts: Timestamp,
}

/// Totals for the header.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub messages: u64,
    pub message_bytes: u64,
    pub rpc_messages: u64,
    pub calls: u64,
    pub timeouts: u64,
    pub failures: u64,
    pub forwards: u64,
    pub gaps: u64,
    pub resyncs: u64,
    pub malformed: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Timestamp,
}

/// What each cap has cost, for the user to see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    pub rows: u64,
    pub details: u64,
    pub calls: u64,
    pub topics_folded: u64,
    pub conns: u64,
    pub problems: u64,
    pub servers: u64,
    /// Items the engine dropped because the UI did not take them in time.
    pub feed: u64,
}

pub const OTHER_TOPIC: &str = "(other)";

/// The UI thread's model.
pub struct State {
    limits: Limits,
    rows: VecDeque<Arc<Row>>,
    /// Frame bytes for `rows`, parallel to it; `None` once evicted.
    raws: VecDeque<Option<Box<[u8]>>>,
    raw_bytes: usize,
    /// Index into `raws` of the oldest detail still held.
    raw_front: usize,
    calls: VecDeque<CallEntry>,
    /// Absolute index of `calls[0]`.
    calls_base: u64,
    waiting: HashMap<Arc<str>, u64>,
    topics: HashMap<(Arc<str>, Arc<str>), TopicStats>,
    conns: HashMap<u64, ConnRow>,
    problems: VecDeque<Problem>,
    servers: HashMap<SocketAddr, ServerTally>,
    pub totals: Totals,
    pub rate: RateWindow,
    pub evicted: Evicted,
    pub status: EngineStatus,
    pub ended: Option<Result<(), String>>,
    /// Bumped whenever anything shown changes.
    pub generation: u64,
    spare: Vec<Item>,
}

impl State {
    pub fn new(limits: Limits) -> Self {
        State {
            limits,
            rows: VecDeque::new(),
            raws: VecDeque::new(),
            raw_bytes: 0,
            raw_front: 0,
            calls: VecDeque::new(),
            calls_base: 0,
            waiting: HashMap::new(),
            topics: HashMap::new(),
            conns: HashMap::new(),
            problems: VecDeque::new(),
            servers: HashMap::new(),
            totals: Totals::default(),
            rate: RateWindow::default(),
            evicted: Evicted::default(),
            status: EngineStatus::default(),
            ended: None,
            generation: 0,
            spare: Vec::new(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Take in what the engine sent since the last tick.
    pub fn absorb(&mut self, batch: Batch) {
        let changed = !batch.items.is_empty()
            || batch.dropped != self.evicted.feed
            || batch.ended != self.ended
            || batch.status.packets.packets != self.status.packets.packets
            || batch.status.finished != self.status.finished;
        let mut items = batch.items;
        for item in items.drain(..) {
            self.apply(item);
        }
        self.spare = items;
        self.evicted.feed = batch.dropped;
        self.status = batch.status;
        self.ended = batch.ended;
        if changed {
            self.generation += 1;
        }
    }

    /// The vector to hand back to the feed (its capacity is reused).
    pub fn spare(&mut self) -> Vec<Item> {
        std::mem::take(&mut self.spare)
    }

    pub fn apply(&mut self, item: Item) {
        match item {
            Item::Message { row, raw } => self.message(row, raw),
            Item::Call(c) => self.call(*c),
            Item::Timeout(t) => self.timeout(*t),
            Item::Conn(info) => self.conn(*info),
            Item::Note {
                conn,
                ts,
                src,
                dst,
                note,
            } => self.note(conn, ts, src, dst, note),
        }
    }

    fn message(&mut self, row: Arc<Row>, raw: Box<[u8]>) {
        let t = &mut self.totals;
        t.messages += 1;
        t.message_bytes += row.bytes;
        t.first_ts.get_or_insert(row.ts);
        t.last_ts = t.last_ts.max(row.ts);
        self.rate.add(row.ts);
        if let Some(c) = self.conns.get_mut(&row.conn) {
            let dir = usize::from(row.src != c.info.client);
            if let Some(n) = c.messages.get_mut(dir) {
                *n += 1;
            }
            c.message_bytes += row.bytes;
            if let (Some(t), Some(slot)) = (&row.socket_type, c.info.socket_types.get_mut(dir)) {
                if slot.is_none() {
                    *slot = Some(Box::from(&**t));
                }
            }
        }
        if let Some(rpc) = row.rpc.as_ref() {
            self.totals.rpc_messages += 1;
            // A copy one hop further (haproxy, the oslo proxy).
            self.totals.forwards += u64::from(rpc.forwarded);
            if !rpc.forwarded {
                let key = topic_key(rpc);
                let stats = self.topic(key);
                stats.messages += 1;
                stats.bytes += row.bytes;
                stats.rate.add(row.ts);
                stats.last_ts = stats.last_ts.max(row.ts);
                if let (Kind::Call, Some(id)) = (rpc.kind, rpc.msg_id.as_deref()) {
                    self.new_call(&row, rpc, id);
                }
            }
        }
        self.raw_bytes += raw.len();
        self.rows.push_back(row);
        self.raws.push_back(Some(raw));
        while self.rows.len() > self.limits.history {
            self.rows.pop_front();
            if let Some(Some(raw)) = self.raws.pop_front() {
                self.raw_bytes -= raw.len();
                self.evicted.details += 1;
            }
            self.raw_front = self.raw_front.saturating_sub(1);
            self.evicted.rows += 1;
        }
        while self.raw_bytes > self.limits.detail_bytes {
            let Some(slot) = self.raws.get_mut(self.raw_front) else {
                break;
            };
            if let Some(raw) = slot.take() {
                self.raw_bytes -= raw.len();
                self.evicted.details += 1;
            }
            self.raw_front += 1;
        }
    }

    fn new_call(&mut self, row: &Row, rpc: &RowRpc, id: &str) {
        if self.waiting.contains_key(id) {
            return;
        }
        let id: Arc<str> = Arc::from(id);
        let index = self.calls_base + self.calls.len() as u64;
        self.calls.push_back(CallEntry {
            msg_id: Arc::clone(&id),
            topic: rpc.topic.as_deref().map(Arc::from),
            method: rpc.method.as_deref().map(Arc::from),
            caller: row.src,
            server: row.dst,
            request_ts: row.ts,
            request_seq: Some(row.seq),
            key: topic_key(rpc),
            outcome: Outcome::Waiting,
        });
        self.waiting.insert(id, index);
        self.trim_calls();
    }

    fn trim_calls(&mut self) {
        while self.calls.len() > self.limits.history {
            if let Some(old) = self.calls.pop_front() {
                if self.waiting.get(&old.msg_id) == Some(&self.calls_base) {
                    self.waiting.remove(&old.msg_id);
                }
                self.calls_base += 1;
                self.evicted.calls += 1;
            }
        }
    }

    /// The waiting call with this id, taken off the waiting list; a new
    /// entry when its request is not in the history.
    fn settle(
        &mut self,
        msg_id: &str,
        fill: impl FnOnce() -> CallEntry,
        outcome: Outcome,
    ) -> &CallEntry {
        let slot = self
            .waiting
            .remove(msg_id)
            .and_then(|i| i.checked_sub(self.calls_base))
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < self.calls.len());
        let i = match slot {
            Some(i) => i,
            None => {
                self.calls.push_back(fill());
                self.trim_calls();
                self.calls.len() - 1
            }
        };
        let entry = &mut self.calls[i];
        entry.outcome = outcome;
        entry
    }

    fn call(&mut self, c: CallEvent) {
        self.totals.calls += 1;
        self.totals.failures += u64::from(c.failure.is_some());
        let latency_ns = c.latency_ns();
        let outcome = Outcome::Replied {
            reply_ts: c.reply_ts,
            latency_ns,
            failure: c.failure.as_deref().map(Arc::from),
        };
        let entry = self.settle(
            &c.msg_id,
            || {
                entry_from(
                    &c.msg_id,
                    &c.topic,
                    &c.method,
                    c.caller,
                    c.server,
                    c.request_ts,
                )
            },
            outcome,
        );
        let key = call_key(entry);
        let (server, seq) = (entry.server, entry.request_seq);
        let stats = self.topic(key);
        stats.calls += 1;
        stats.record_latency(latency_ns);
        if let Some(failure) = &c.failure {
            stats.failures += 1;
            let text = format!(
                "{} {} on {} failed after {}: {}",
                c.topic.as_deref().unwrap_or("?"),
                c.method.as_deref().unwrap_or("?"),
                c.server,
                super::render::duration(latency_ns),
                failure
            );
            self.problem(Problem {
                ts: c.reply_ts,
                kind: ProblemKind::Failure,
                src: c.caller,
                dst: c.server,
                text: text.into(),
                seq,
            });
        }
        let tally = self.server(server);
        tally.replied += 1;
        tally.last_ts = tally.last_ts.max(c.reply_ts);
    }

    fn timeout(&mut self, t: TimeoutEvent) {
        self.totals.timeouts += 1;
        let outcome = Outcome::TimedOut {
            waited_ns: t.waited_ns,
            at_end: t.at_end_of_input,
        };
        let entry = self.settle(
            &t.msg_id,
            || {
                entry_from(
                    &t.msg_id,
                    &t.topic,
                    &t.method,
                    t.caller,
                    t.server,
                    t.request_ts,
                )
            },
            outcome,
        );
        let key = call_key(entry);
        let seq = entry.request_seq;
        self.topic(key).timeouts += 1;
        let text = format!(
            "{} {} to {}: no reply {} {}",
            t.topic.as_deref().unwrap_or("?"),
            t.method.as_deref().unwrap_or("?"),
            t.server,
            if t.at_end_of_input {
                "by the end of the input, after"
            } else {
                "within"
            },
            super::render::duration(t.waited_ns)
        );
        self.problem(Problem {
            ts: t.ts,
            kind: ProblemKind::Timeout,
            src: t.caller,
            dst: t.server,
            text: text.into(),
            seq,
        });
        let tally = self.server(t.server);
        tally.timeouts += 1;
        tally.last_ts = tally.last_ts.max(t.ts);
    }

    fn server(&mut self, addr: SocketAddr) -> &mut ServerTally {
        if self.servers.len() >= self.limits.servers && !self.servers.contains_key(&addr) {
            // Forget the eighth heard from longest ago, so a storm of new
            // servers costs one sort per eighth, not a scan per server.
            let mut by_age: Vec<(Timestamp, SocketAddr)> =
                self.servers.iter().map(|(a, t)| (t.last_ts, *a)).collect();
            by_age.sort_unstable();
            for (_, old) in by_age.iter().take((self.limits.servers / 8).max(1)) {
                self.servers.remove(old);
                self.evicted.servers += 1;
            }
        }
        self.servers.entry(addr).or_default()
    }

    fn topic(&mut self, key: (Arc<str>, Arc<str>)) -> &mut TopicStats {
        let key = if self.topics.len() >= self.limits.topics && !self.topics.contains_key(&key) {
            self.evicted.topics_folded += 1;
            (Arc::from(OTHER_TOPIC), Arc::from("-"))
        } else {
            key
        };
        self.topics
            .entry(key)
            .or_insert_with_key(|(t, m)| TopicStats::new(Arc::clone(t), Arc::clone(m)))
    }

    fn conn(&mut self, info: ConnInfo) {
        let (id, retired) = (info.id, info.retired);
        match self.conns.get_mut(&info.id) {
            Some(row) => {
                let old = std::mem::replace(&mut row.info, info);
                let new = &mut row.info;
                new.version = new.version.or(old.version);
                new.mechanism = new.mechanism.or(old.mechanism);
                for (slot, was) in new.socket_types.iter_mut().zip(old.socket_types) {
                    if slot.is_none() {
                        *slot = was;
                    }
                }
            }
            None => {
                self.conns.insert(
                    info.id,
                    ConnRow {
                        info,
                        messages: [0, 0],
                        message_bytes: 0,
                        gaps: 0,
                        gap_bytes: 0,
                        resyncs: 0,
                        malformed: 0,
                    },
                );
                self.trim_conns();
            }
        }
        let Some(row) = self.conns.get(&id).filter(|_| retired) else {
            return;
        };
        let (client, server, ts) = (row.info.client, row.info.server, row.info.first_ts);
        let problem = if row.refused() {
            Some((
                ProblemKind::Refused,
                format!("{server} answered the SYN with a reset: nothing listens there"),
            ))
        } else if row.unanswered_syn() {
            Some((
                ProblemKind::NoAnswer,
                format!("{server} never answered the SYN (filtered, or the host is down)"),
            ))
        } else {
            None
        };
        if let Some((kind, text)) = problem {
            self.problem(Problem {
                ts,
                kind,
                src: client,
                dst: server,
                text: text.into(),
                seq: None,
            });
        }
    }

    fn trim_conns(&mut self) {
        if self.conns.len() <= self.limits.conns {
            return;
        }
        // Drop the eighth that ended longest ago (or, if none has ended,
        // that was quiet longest).
        let mut order: Vec<(bool, Timestamp, u64)> = self
            .conns
            .values()
            .map(|c| (!c.info.retired, c.info.last_ts, c.info.id))
            .collect();
        order.sort_unstable();
        for (_, _, id) in order.iter().take((self.limits.conns / 8).max(1)) {
            self.conns.remove(id);
            self.evicted.conns += 1;
        }
    }

    fn note(&mut self, conn: u64, ts: Timestamp, src: SocketAddr, dst: SocketAddr, note: ConnNote) {
        let row = self.conns.get_mut(&conn);
        let (kind, text) = match note {
            ConnNote::Gap { bytes } => {
                self.totals.gaps += 1;
                if let Some(c) = row {
                    c.gaps += 1;
                    c.gap_bytes += bytes;
                }
                (
                    ProblemKind::Gap,
                    format!("{bytes} bytes missing from the capture"),
                )
            }
            ConnNote::Resync { skipped } => {
                self.totals.resyncs += 1;
                if let Some(c) = row {
                    c.resyncs += 1;
                }
                (
                    ProblemKind::Resync,
                    format!("frame boundaries found again after {skipped} bytes"),
                )
            }
            ConnNote::Malformed { reason } => {
                self.totals.malformed += 1;
                if let Some(c) = row {
                    c.malformed += 1;
                }
                (ProblemKind::Malformed, format!("malformed ZMTP: {reason}"))
            }
            ConnNote::NotZmtp { what } => (
                ProblemKind::NotZmtp,
                format!("looks like {what} on an rpc port; not decoded"),
            ),
        };
        self.problem(Problem {
            ts,
            kind,
            src,
            dst,
            text: text.into(),
            seq: None,
        });
    }

    fn problem(&mut self, p: Problem) {
        self.problems.push_back(p);
        if self.problems.len() > self.limits.problems {
            self.problems.pop_front();
            self.evicted.problems += 1;
        }
    }

    // --- Reading -------------------------------------------------------

    pub fn rows(&self) -> &VecDeque<Arc<Row>> {
        &self.rows
    }

    /// The frame bytes of message `seq`, while the detail budget holds them.
    pub fn raw(&self, seq: u64) -> Option<&[u8]> {
        let first = self.rows.front()?.seq;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.raws.get(i)?.as_deref()
    }

    pub fn detail_bytes(&self) -> usize {
        self.raw_bytes
    }

    pub fn calls(&self) -> &VecDeque<CallEntry> {
        &self.calls
    }

    pub fn waiting_calls(&self) -> usize {
        self.waiting.len()
    }

    pub fn topics(&self) -> impl Iterator<Item = &TopicStats> {
        self.topics.values()
    }

    pub fn conns(&self) -> impl Iterator<Item = &ConnRow> {
        self.conns.values()
    }

    pub fn problems(&self) -> &VecDeque<Problem> {
        &self.problems
    }

    /// Servers that were sent calls and never answered one, with the
    /// calls that timed out, most first.
    pub fn silent_servers(&self) -> Vec<(SocketAddr, ServerTally)> {
        let mut silent: Vec<(SocketAddr, ServerTally)> = self
            .servers
            .iter()
            .filter(|(_, t)| t.replied == 0 && t.timeouts > 0)
            .map(|(a, t)| (*a, *t))
            .collect();
        silent.sort_by(|a, b| b.1.timeouts.cmp(&a.1.timeouts).then(a.0.cmp(&b.0)));
        silent
    }

    /// Connections that never got going: refused or unanswered SYNs.
    pub fn failed_connects(&self) -> Vec<&ConnRow> {
        let mut failed: Vec<&ConnRow> = self
            .conns
            .values()
            .filter(|c| c.info.retired && (c.refused() || c.unanswered_syn()))
            .collect();
        failed.sort_by_key(|c| c.info.first_ts);
        failed
    }
}

fn entry_from(
    msg_id: &str,
    topic: &Option<String>,
    method: &Option<String>,
    caller: SocketAddr,
    server: SocketAddr,
    request_ts: Timestamp,
) -> CallEntry {
    CallEntry {
        msg_id: Arc::from(msg_id),
        topic: topic.as_deref().map(Arc::from),
        method: method.as_deref().map(Arc::from),
        caller,
        server,
        request_ts,
        request_seq: None,
        key: (
            topic.as_deref().map_or_else(|| Arc::from("?"), Arc::from),
            method
                .as_deref()
                .map_or_else(|| Arc::from("(call)"), Arc::from),
        ),
        outcome: Outcome::Waiting,
    }
}

/// How a message is grouped, as `zmqtrace stats` groups it: its topic (in
/// direct mode, where the topic is not on the wire, `?@server`) and its
/// method (or event type, or `(kind)`).
pub fn topic_key(rpc: &RowRpc) -> (Arc<str>, Arc<str>) {
    let topic: Arc<str> = match (&rpc.topic, &rpc.server) {
        (Some(t), _) => Arc::from(&**t),
        (None, Some(s)) => Arc::from(format!("?@{s}")),
        (None, None) => Arc::from("?"),
    };
    let method: Arc<str> = match (&rpc.method, &rpc.event_type) {
        (Some(m), _) | (None, Some(m)) => Arc::from(&**m),
        (None, None) => Arc::from(format!("({})", rpc.kind.label())),
    };
    (topic, method)
}

fn call_key(entry: &CallEntry) -> (Arc<str>, Arc<str>) {
    (Arc::clone(&entry.key.0), Arc::clone(&entry.key.1))
}

/// How a connection ended, as the Connections view says it.
pub fn close_label(reason: Option<CloseReason>) -> &'static str {
    match reason {
        None => "open",
        Some(CloseReason::Fin) => "closed",
        Some(CloseReason::Reset) => "reset",
        Some(CloseReason::Idle) => "idle",
        Some(CloseReason::Reused) => "reused",
        Some(CloseReason::Evicted) => "evicted",
        Some(CloseReason::EndOfInput) => "open at end",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oslo::Driver;
    use crate::tui::feed::FrameInfo;
    use crate::zmtp::Version;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn call_row(seq: u64, id: &str, topic: &str, raw_len: usize) -> Item {
        let rpc = RowRpc {
            driver: Driver::Zmq,
            envelope: "1.0".into(),
            kind: Kind::Call,
            topic: Some(topic.into()),
            server: None,
            method: Some("ping".into()),
            msg_id: Some(id.into()),
            reply_topic: None,
            event_type: None,
            request_id: None,
            failure: None,
            serialization: None,
            latency_ns: None,
            forwarded: false,
            truncated: false,
            undecodable: false,
        };
        Item::Message {
            row: Arc::new(Row {
                seq,
                ts: Timestamp::from_nanos(seq * 1_000_000),
                conn: seq % 50,
                src: addr(40000 + (seq % 1000) as u16),
                dst: addr(9501),
                zmtp: Version::V3_1,
                socket_type: None,
                encrypted: false,
                bytes: raw_len as u64,
                missing: 0,
                frames: vec![FrameInfo {
                    len: raw_len as u64,
                    more: false,
                    missing: 0,
                    kept: raw_len,
                }]
                .into(),
                rpc: Some(rpc),
            }),
            raw: vec![b'x'; raw_len].into(),
        }
    }

    #[test]
    fn a_long_run_stays_within_every_bound() {
        let limits = Limits {
            history: 500,
            detail_bytes: 20_000,
            topics: 16,
            conns: 64,
            problems: 100,
            servers: 8,
        };
        let mut state = State::new(limits);
        for seq in 0..20_000u64 {
            let id = format!("id{seq}");
            state.apply(call_row(seq, &id, &format!("topic{}", seq % 40), 100));
            if seq % 3 == 0 {
                // Every third call times out, from a new server each time.
                state.apply(Item::Timeout(Box::new(TimeoutEvent {
                    ts: Timestamp::from_nanos(seq * 1_000_000 + 1),
                    msg_id: id,
                    topic: None,
                    method: None,
                    caller: addr(1),
                    server: addr(10_000 + (seq % 5000) as u16),
                    conn: String::new(),
                    request_ts: Timestamp::ZERO,
                    waited_ns: 60_000_000_000,
                    at_end_of_input: false,
                })));
            }
        }
        assert_eq!(state.rows().len(), 500);
        assert_eq!(state.evicted.rows, 19_500);
        assert!(state.detail_bytes() <= 20_000);
        assert!(state.raw(19_999).is_some(), "the newest detail is held");
        assert!(state.raw(0).is_none(), "the oldest has gone");
        assert!(state.calls().len() <= 500);
        assert!(state.waiting_calls() <= 500);
        assert!(state.topics().count() <= 17, "cap plus (other)");
        assert!(state.evicted.topics_folded > 0);
        assert!(state.problems().len() <= 100);
        assert!(state.servers.len() <= 8);
        assert_eq!(state.totals.messages, 20_000);
        assert_eq!(state.totals.timeouts, 6_667);
    }

    #[test]
    fn a_reply_settles_its_call() {
        let mut state = State::new(Limits::default());
        state.apply(call_row(0, "abc", "compute.c1", 10));
        assert_eq!(state.waiting_calls(), 1);
        state.apply(Item::Call(Box::new(CallEvent {
            msg_id: "abc".into(),
            topic: Some("compute.c1".into()),
            method: Some("ping".into()),
            caller: addr(40000),
            server: addr(9501),
            conn: String::new(),
            request_ts: Timestamp::ZERO,
            reply_ts: Timestamp::from_nanos(5_000_000),
            failure: Some("ValueError".into()),
            driver: Driver::Zmq,
        })));
        assert_eq!(state.waiting_calls(), 0);
        let call = &state.calls()[0];
        assert_eq!(call.request_seq, Some(0));
        assert!(matches!(
            call.outcome,
            Outcome::Replied {
                latency_ns: 5_000_000,
                ..
            }
        ));
        let topic = state.topics().next().unwrap();
        assert_eq!((topic.calls, topic.failures), (1, 1));
        assert_eq!(state.problems().len(), 1);
        assert!(state.silent_servers().is_empty());
    }
}
