//! The engine's side of the terminal UI: the oslo layer's events turned into
//! owned [`Item`]s on a shared queue the UI thread empties. The engine never
//! waits for the terminal: the queue is swapped out whole under a lock held
//! for a pointer swap, and when the UI falls too far behind, items are
//! dropped and counted instead of slowing capture down.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::oslo::{CallEvent, Driver, Kind, OsloSink, Rpc, RpcEvent, TimeoutEvent};
use crate::pipeline::{EngineStatus, Progress};
use crate::tcp::{CloseReason, Connection};
use crate::time::Timestamp;
use crate::zmtp::{ConnSummary, Version, ZmtpEvent};

/// Frame bytes kept per message for the detail pane.
pub const MAX_DETAIL_BYTES: usize = 64 << 10;

/// One frame of a message as the UI keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    pub len: u64,
    pub more: bool,
    /// Bytes of the frame the capture lacked.
    pub missing: u64,
    /// Bytes of the body held in [`Row::raw`] (a prefix of the body).
    pub kept: usize,
}

/// What oslo said about a message, as shown.
#[derive(Clone, Debug, PartialEq)]
pub struct RowRpc {
    pub driver: Driver,
    pub envelope: Arc<str>,
    pub kind: Kind,
    pub topic: Option<Arc<str>>,
    pub server: Option<Arc<str>>,
    pub method: Option<Arc<str>>,
    pub msg_id: Option<Box<str>>,
    pub reply_topic: Option<Arc<str>>,
    pub event_type: Option<Arc<str>>,
    pub request_id: Option<Box<str>>,
    pub failure: Option<Box<str>>,
    pub serialization: Option<&'static str>,
    pub latency_ns: Option<u64>,
    pub forwarded: bool,
    pub truncated: bool,
    pub undecodable: bool,
}

/// One shared copy of the names that repeat on every message (topics,
/// methods, socket types): a history of 100,000 rows holds a few hundred
/// strings instead of half a million. Bounded; beyond it names are copied.
#[derive(Default)]
pub struct Interner {
    names: std::collections::HashSet<Arc<str>>,
}

const MAX_INTERNED: usize = 16_384;

impl Interner {
    pub fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.names.get(name) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(name);
        if self.names.len() < MAX_INTERNED {
            self.names.insert(Arc::clone(&shared));
        }
        shared
    }

    fn opt(&mut self, name: &Option<String>) -> Option<Arc<str>> {
        name.as_deref().map(|n| self.get(n))
    }
}

impl RowRpc {
    fn from_rpc(rpc: &Rpc, names: &mut Interner) -> Self {
        let b = |s: &Option<String>| s.as_deref().map(Box::from);
        RowRpc {
            driver: rpc.driver,
            envelope: names.get(&rpc.envelope),
            kind: rpc.kind,
            topic: names.opt(&rpc.topic),
            server: names.opt(&rpc.server),
            method: names.opt(&rpc.method),
            msg_id: b(&rpc.msg_id),
            reply_topic: names.opt(&rpc.reply_topic),
            event_type: names.opt(&rpc.event_type),
            request_id: b(&rpc.request_id),
            failure: b(&rpc.failure),
            serialization: rpc.serialization,
            latency_ns: rpc.latency_ns,
            forwarded: rpc.forwarded,
            truncated: rpc.truncated,
            undecodable: rpc.undecodable,
        }
    }
}

/// One message as the UI shows it. Immutable once made, shared by the
/// history and every snapshot that lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Position in arrival order, from 0; the key of the row.
    pub seq: u64,
    pub ts: Timestamp,
    pub conn: u64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub zmtp: Version,
    pub socket_type: Option<Arc<str>>,
    pub encrypted: bool,
    pub bytes: u64,
    pub missing: u64,
    pub frames: Box<[FrameInfo]>,
    pub rpc: Option<RowRpc>,
}

impl Row {
    pub fn kind_label(&self) -> &'static str {
        match &self.rpc {
            Some(rpc) => rpc.kind.label(),
            None if self.encrypted => "curve",
            None => "message",
        }
    }

    pub fn topic(&self) -> &str {
        self.rpc
            .as_ref()
            .and_then(|r| r.topic.as_deref())
            .unwrap_or("")
    }

    pub fn method(&self) -> &str {
        self.rpc
            .as_ref()
            .and_then(|r| r.method.as_deref().or(r.event_type.as_deref()))
            .unwrap_or("")
    }

    pub fn msg_id(&self) -> Option<&str> {
        self.rpc.as_ref().and_then(|r| r.msg_id.as_deref())
    }

    pub fn latency_ns(&self) -> Option<u64> {
        self.rpc.as_ref().and_then(|r| r.latency_ns)
    }

    pub fn failed(&self) -> bool {
        self.rpc.as_ref().is_some_and(|r| r.failure.is_some())
    }

    pub fn forwarded(&self) -> bool {
        self.rpc.as_ref().is_some_and(|r| r.forwarded)
    }
}

/// What the ZMTP layer said about a connection, sent when something about
/// it changes (greeting, socket type, gap, resync, the end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub history: Box<str>,
    pub midstream: bool,
    pub closed: Option<CloseReason>,
    /// Payload bytes each way (client → server, server → client).
    pub bytes: [u64; 2],
    pub tcp_gaps: u64,
    pub version: Option<Version>,
    pub mechanism: Option<&'static str>,
    pub socket_types: [Option<Box<str>>; 2],
    pub not_zmtp: Option<&'static str>,
    /// The connection has left the tables: these are its final counts.
    pub retired: bool,
}

/// Something the UI is told about a connection beyond its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnNote {
    Gap { bytes: u64 },
    Resync { skipped: u64 },
    Malformed { reason: Box<str> },
    NotZmtp { what: &'static str },
}

/// What flows from the engine to the UI.
#[derive(Clone, Debug)]
pub enum Item {
    Message {
        row: Arc<Row>,
        /// The frames' kept bytes, back to back (see [`FrameInfo::kept`]).
        raw: Box<[u8]>,
    },
    // Boxed: the rare, large variants would make every item their size.
    Call(Box<CallEvent>),
    Timeout(Box<TimeoutEvent>),
    Conn(Box<ConnInfo>),
    Note {
        conn: u64,
        ts: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        note: ConnNote,
    },
}

impl Item {
    /// Roughly what the item holds in memory, for the queue's bound.
    fn weight(&self) -> usize {
        let heap = match self {
            Item::Message { row, raw } => {
                std::mem::size_of::<Row>() + raw.len() + row.frames.len() * 32 + 128
            }
            _ => 256,
        };
        std::mem::size_of::<Item>() + heap
    }
}

/// What may wait for the UI at once: items, and their bytes.
const MAX_QUEUED_ITEMS: usize = 1 << 20;
pub const MAX_QUEUED_BYTES: usize = 32 << 20;

#[derive(Default)]
struct Queue {
    items: Vec<Item>,
    bytes: usize,
    dropped: u64,
    status: EngineStatus,
    /// Set when the engine has stopped, with its error if it failed.
    ended: Option<Result<(), String>>,
}

/// The queue between the engine thread and the UI thread. When it is full,
/// a file replay waits for the UI (nothing is lost, the replay just goes at
/// the UI's pace); a live capture drops the item and counts it, since
/// waiting would only move the loss into the kernel.
#[derive(Clone, Default)]
pub struct Feed {
    queue: Arc<Mutex<Queue>>,
    /// Signalled when the UI has taken the queue.
    taken: Arc<Condvar>,
    /// Set by the UI when the user quits: the engine stops reading.
    quit: Arc<AtomicBool>,
    /// Wait when full (file input) instead of dropping (live).
    wait_when_full: bool,
}

/// What the UI takes from the feed at each tick.
pub struct Batch {
    pub items: Vec<Item>,
    pub dropped: u64,
    pub status: EngineStatus,
    pub ended: Option<Result<(), String>>,
}

impl Feed {
    /// `wait_when_full`: true for files (replay waits for the UI), false
    /// for live capture (items dropped and counted).
    pub fn new(wait_when_full: bool) -> Self {
        Feed {
            wait_when_full,
            ..Self::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere poisons nothing the queue relies on.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, item: Item) {
        let weight = item.weight();
        let mut q = self.lock();
        let full = |q: &Queue| {
            !q.items.is_empty()
                && (q.items.len() >= MAX_QUEUED_ITEMS || q.bytes + weight > MAX_QUEUED_BYTES)
        };
        while self.wait_when_full && full(&q) && !self.quit_requested() {
            q = match self.taken.wait_timeout(q, Duration::from_millis(100)) {
                Ok((q, _)) => q,
                Err(e) => e.into_inner().0,
            };
        }
        if full(&q) {
            q.dropped += 1;
        } else {
            q.bytes += weight;
            q.items.push(item);
        }
    }

    /// Everything queued since the last take; `spare` becomes the next
    /// queue so the two vectors' capacity is reused.
    pub fn take(&self, mut spare: Vec<Item>) -> Batch {
        // A burst's worth of capacity is not kept for ever.
        if spare.capacity() > 1 << 16 {
            spare = Vec::new();
        }
        let mut q = self.lock();
        let items = std::mem::replace(&mut q.items, spare);
        q.bytes = 0;
        self.taken.notify_all();
        Batch {
            items,
            dropped: q.dropped,
            status: q.status.clone(),
            ended: q.ended.clone(),
        }
    }

    pub fn set_status(&self, status: &EngineStatus) {
        self.lock().status = status.clone();
    }

    pub fn end(&self, result: Result<(), String>) {
        self.lock().ended = Some(result);
    }

    pub fn request_quit(&self) {
        self.quit.store(true, Ordering::Relaxed);
        self.taken.notify_all();
    }

    pub fn quit_requested(&self) -> bool {
        self.quit.load(Ordering::Relaxed)
    }

    /// The flag that stops the engine, to share with a live source.
    pub fn quit_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.quit)
    }
}

/// The oslo layer's sink for the TUI: each event becomes an [`Item`].
pub struct FeedReport {
    feed: Feed,
    names: Interner,
    /// Connections the UI has been told about (a connection picked up
    /// mid-stream has no greeting: its first message introduces it).
    announced: std::collections::HashSet<u64>,
    next_seq: u64,
    count: Option<u64>,
    messages: u64,
}

impl FeedReport {
    pub fn new(feed: Feed, count: Option<u64>) -> Self {
        FeedReport {
            feed,
            names: Interner::default(),
            announced: std::collections::HashSet::new(),
            next_seq: 0,
            count,
            messages: 0,
        }
    }

    fn conn_info(conn: &Connection, summary: Option<&ConnSummary>) -> ConnInfo {
        use crate::tcp::Direction;
        let c2s = conn.stats(Direction::ClientToServer);
        let s2c = conn.stats(Direction::ServerToClient);
        let (version, mechanism, socket_types, not_zmtp) = match summary {
            Some(s) => (
                s.version.iter().flatten().copied().max(),
                s.mechanism,
                [
                    s.socket_type[0].as_deref().map(Box::from),
                    s.socket_type[1].as_deref().map(Box::from),
                ],
                s.not_zmtp,
            ),
            None => (None, None, [None, None], None),
        };
        ConnInfo {
            id: conn.id,
            client: conn.client,
            server: conn.server,
            first_ts: conn.first_ts,
            last_ts: conn.last_ts,
            history: conn.history.as_str().into(),
            midstream: conn.midstream,
            closed: conn.closed,
            bytes: [c2s.bytes, s2c.bytes],
            tcp_gaps: c2s.gaps + s2c.gaps,
            version,
            mechanism,
            socket_types,
            not_zmtp,
            retired: summary.is_some(),
        }
    }

    fn announce(&mut self, info: ConnInfo) {
        self.announced.insert(info.id);
        self.feed.push(Item::Conn(Box::new(info)));
    }

    fn message(&mut self, conn: &Connection, m: &crate::zmtp::Message<'_>, rpc: Option<&Rpc>) {
        if !self.announced.contains(&conn.id) {
            let mut info = Self::conn_info(conn, None);
            info.version = Some(m.zmtp);
            self.announce(info);
        }
        let (src, dst) = conn.endpoints(m.dir);
        let mut raw = Vec::new();
        let frames = m
            .frames
            .iter()
            .map(|f| {
                let body = m.kept(f);
                let room = MAX_DETAIL_BYTES.saturating_sub(raw.len());
                let kept = body.get(..room.min(body.len())).unwrap_or_default();
                raw.extend_from_slice(kept);
                FrameInfo {
                    len: f.len,
                    more: f.more,
                    missing: f.missing,
                    kept: kept.len(),
                }
            })
            .collect();
        let row = Row {
            seq: self.next_seq,
            ts: m.ts,
            conn: conn.id,
            src,
            dst,
            zmtp: m.zmtp,
            socket_type: m.socket_type.map(|t| self.names.get(t)),
            encrypted: m.encrypted,
            bytes: m.bytes(),
            missing: m.missing(),
            frames,
            rpc: rpc.map(|r| RowRpc::from_rpc(r, &mut self.names)),
        };
        self.next_seq += 1;
        self.messages += 1;
        self.feed.push(Item::Message {
            row: Arc::new(row),
            raw: raw.into_boxed_slice(),
        });
    }

    fn note(&self, conn: &Connection, dir: crate::tcp::Direction, ts: Timestamp, note: ConnNote) {
        let (src, dst) = conn.endpoints(dir);
        self.feed.push(Item::Note {
            conn: conn.id,
            ts,
            src,
            dst,
            note,
        });
    }
}

impl OsloSink for FeedReport {
    fn zmtp(&mut self, conn: &Connection, event: &ZmtpEvent<'_>, rpc: Option<&Rpc>) {
        match event {
            ZmtpEvent::Message(m) => self.message(conn, m, rpc),
            ZmtpEvent::Greeting {
                dir,
                zmtp,
                mechanism,
                socket_type,
                ..
            } => {
                let mut info = Self::conn_info(conn, None);
                info.version = Some(*zmtp);
                info.mechanism = Some(mechanism.name());
                if let (Some(t), Some(slot)) = (socket_type, info.socket_types.get_mut(dir.index()))
                {
                    *slot = Some((*t).into());
                }
                self.announce(info);
            }
            ZmtpEvent::Command(c) => {
                let socket_type = c
                    .props
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("Socket-Type"))
                    .map(|(_, v)| v.as_str());
                if let Some(t) = socket_type {
                    let mut info = Self::conn_info(conn, None);
                    if let Some(slot) = info.socket_types.get_mut(c.dir.index()) {
                        *slot = Some(t.into());
                    }
                    self.announce(info);
                }
            }
            ZmtpEvent::Gap { dir, ts, bytes } => {
                self.note(conn, *dir, *ts, ConnNote::Gap { bytes: *bytes })
            }
            ZmtpEvent::Resync { dir, ts, skipped } => {
                self.note(conn, *dir, *ts, ConnNote::Resync { skipped: *skipped })
            }
            ZmtpEvent::Malformed {
                dir, ts, reason, ..
            } => self.note(
                conn,
                *dir,
                *ts,
                ConnNote::Malformed {
                    reason: reason.as_str().into(),
                },
            ),
            ZmtpEvent::NotZmtp { dir, ts, what } => {
                self.note(conn, *dir, *ts, ConnNote::NotZmtp { what })
            }
        }
    }

    fn rpc(&mut self, event: &RpcEvent) {
        match event {
            RpcEvent::Call(c) => self.feed.push(Item::Call(Box::new(c.clone()))),
            RpcEvent::Timeout(t) => self.feed.push(Item::Timeout(Box::new(t.clone()))),
            // The hop's second sighting is a row with `forwarded` set.
            RpcEvent::Forward(_) => {}
        }
    }

    fn retired(&mut self, conn: &Connection, summary: &ConnSummary) {
        self.announced.remove(&conn.id);
        self.feed
            .push(Item::Conn(Box::new(Self::conn_info(conn, Some(summary)))));
    }
}

impl Progress for FeedReport {
    fn wants_more(&self) -> bool {
        !self.feed.quit_requested() && self.count.is_none_or(|n| self.messages < n)
    }

    fn status(&mut self, status: &EngineStatus) {
        self.feed.set_status(status);
    }
}

/// Everything below the UI for one input: packets → TCP → ZMTP → oslo →
/// `feed`, to the end of the input (or until the UI quits). Runs on the
/// engine thread; tests call it directly.
pub fn run_engine(
    feed: &Feed,
    source: &mut dyn crate::capture::PacketSource,
    mut engine: crate::pipeline::Engine,
    decode: EngineConfig,
) -> Result<(), String> {
    let report = FeedReport::new(feed.clone(), decode.count);
    let mut decoders = crate::decode::Decoders::new(decode.decode, report);
    let result = engine.run(source, &mut decoders);
    // The calls still waiting reach the feed as timeouts.
    drop(decoders.finish());
    let result = result.map(|_| ()).map_err(|e| e.to_string());
    feed.end(result.clone());
    result
}

/// What the engine thread decodes.
pub struct EngineConfig {
    pub decode: crate::decode::DecodeConfig,
    /// Stop after this many messages (`-c`).
    pub count: Option<u64>,
}
