//! The ZMTP decoder of one direction: decides the version from both
//! directions' first bytes (as libzmq negotiates), then streams frames:
//! headers parsed in place, bodies passed over without buffering beyond
//! what is kept (so a frame claiming 2^62 bytes costs nothing), multipart
//! messages assembled across interleaved commands, gaps inside a body of
//! known size kept in sync, lost framing found again by `resync`.

use super::event::{CommandEvent, Frame, Message, Version, ZmtpEvent, HEAD_LEN, TAIL_LEN};
use super::resync::{Resync, Strictness};
use super::wire::{self, Framing, HeaderParse, Mechanism};
use crate::tcp::Direction;
use crate::time::Timestamp;
use std::fmt::Write as _;

/// Limits of a direction's decoder; what they cut is counted.
#[derive(Clone, Debug)]
pub struct DecoderLimits {
    /// Body bytes kept per frame for the layers above (at least the head).
    pub keep_per_frame: usize,
    /// Body bytes kept per message in all; later frames keep only a head.
    pub keep_per_message: usize,
    /// A command body beyond this is kept only in part.
    pub max_command: usize,
    /// Frames per message; beyond it the message is emitted in parts.
    pub max_frames: usize,
}

impl Default for DecoderLimits {
    fn default() -> Self {
        DecoderLimits {
            keep_per_frame: 64 << 10,
            keep_per_message: 1 << 20,
            max_command: 64 << 10,
            max_frames: 1024,
        }
    }
}

/// Counters of one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirCounters {
    pub messages: u64,
    pub message_bytes: u64,
    pub commands: u64,
    /// Messages emitted with bytes missing inside a frame body.
    pub incomplete: u64,
    /// Invalid frame headers met while in sync.
    pub decode_errors: u64,
    pub resyncs: u64,
    pub skipped_bytes: u64,
    /// Frames dropped because the start of their message was lost.
    pub partial_frames: u64,
    pub malformed: u64,
    /// Messages emitted in parts because they had too many frames.
    pub split_messages: u64,
    /// CURVE nonces that did not follow the previous one.
    pub nonce_gaps: u64,
}

/// The emitter the decoder reports through.
pub type Emit<'e> = dyn FnMut(ZmtpEvent<'_>) + 'e;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Collecting the first bytes to decide the version.
    Start,
    /// Collecting a 64-byte greeting.
    Greeting64,
    Frames,
    /// Framing lost: looking for frame boundaries.
    Lost,
    /// Not ZMTP (or given up): ignored from here on.
    Ignored,
}

/// What a direction's first bytes say, given the peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    NeedMore,
    /// 1.0 framing from the first byte (an identity frame).
    V1,
    /// A 12-byte greeting, then this framing.
    Greeting12(Framing),
    Greeting64,
    NotZmtp(&'static str),
}

/// How a header parse went, including libzmq's own malformed unit.
enum Parsed {
    Header(wire::FrameHeader),
    Incomplete(usize),
    Invalid,
    /// libzmq's 255-byte subscription bug: `len` bytes to pass over.
    Malformed(u64),
}

struct FrameInProgress {
    header: wire::FrameHeader,
    remaining: u64,
    /// Not a frame at all: the malformed unit being passed over.
    malformed: bool,
}

pub(crate) struct DirDecoder {
    dir: Direction,
    phase: Phase,
    strictness: Strictness,
    early: Vec<u8>,
    framing: Framing,
    /// What this direction announced.
    announced: Version,
    /// What governs its framing (the lower of both announcements).
    version: Version,
    mechanism: Mechanism,
    socket_type: Option<String>,
    expect_identity: bool,
    header: Vec<u8>,
    current: Option<FrameInProgress>,
    frames: Vec<Frame>,
    arena: Vec<u8>,
    /// The last bytes of the current frame beyond what `arena` keeps.
    tail: Vec<u8>,
    command: Vec<u8>,
    message_ts: Timestamp,
    message_offset: u64,
    command_offset: u64,
    /// Stream offset of the first byte in `header`.
    header_offset: u64,
    /// After a resync: frames until the first final one belong to a message
    /// whose start was lost.
    drop_partial: bool,
    last_nonce: Option<u64>,
    resync: Resync,
    pub(crate) counters: DirCounters,
}

impl DirDecoder {
    pub(crate) fn new(dir: Direction, midstream: bool, strictness: Strictness) -> Self {
        let mut decoder = DirDecoder {
            dir,
            phase: Phase::Start,
            strictness,
            early: Vec::new(),
            framing: Framing::V3,
            announced: Version::Unknown,
            version: Version::Unknown,
            mechanism: Mechanism::Null,
            socket_type: None,
            expect_identity: false,
            header: Vec::new(),
            current: None,
            frames: Vec::new(),
            arena: Vec::new(),
            tail: Vec::new(),
            command: Vec::new(),
            message_ts: Timestamp::ZERO,
            message_offset: 0,
            command_offset: 0,
            header_offset: 0,
            drop_partial: false,
            last_nonce: None,
            resync: Resync::default(),
            counters: DirCounters::default(),
        };
        if midstream {
            decoder.phase = Phase::Lost;
            decoder.resync.start_after_hole(0);
        }
        decoder
    }

    pub(crate) fn version(&self) -> Version {
        self.version
    }

    pub(crate) fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    pub(crate) fn socket_type(&self) -> Option<&str> {
        self.socket_type.as_deref()
    }

    pub(crate) fn early(&self) -> &[u8] {
        &self.early
    }

    /// Whether this direction has shown it speaks ZMTP.
    pub(crate) fn proven(&self) -> bool {
        matches!(self.phase, Phase::Greeting64 | Phase::Frames)
    }

    /// Bytes of the direction, in order, starting at stream `offset`.
    pub(crate) fn data(
        &mut self,
        peer_early: &[u8],
        ts: Timestamp,
        offset: u64,
        mut data: &[u8],
        limits: &DecoderLimits,
        emit: &mut Emit<'_>,
    ) {
        let mut at = offset;
        while !data.is_empty() {
            let before = data.len();
            match self.phase {
                Phase::Ignored => return,
                Phase::Start => data = self.opening_data(peer_early, ts, at, data, limits, emit),
                Phase::Greeting64 => data = self.greeting_data(peer_early, ts, data, emit),
                Phase::Frames => data = self.frames_data(ts, at, data, limits, emit),
                Phase::Lost => {
                    self.resync.push(at, data);
                    data = &[];
                }
            }
            at += (before - data.len()) as u64;
        }
        // Search for frame boundaries, resume, and search again if the
        // framing is lost again: a loop, never a recursion.
        while self.phase == Phase::Lost {
            let Some((rest, lock)) = self.try_resync(ts, emit) else {
                return;
            };
            let _ = self.frames_data(ts, lock, &rest, limits, emit);
        }
    }

    fn opening_data<'d>(
        &mut self,
        peer_early: &[u8],
        ts: Timestamp,
        at: u64,
        data: &'d [u8],
        limits: &DecoderLimits,
        emit: &mut Emit<'_>,
    ) -> &'d [u8] {
        let want = 16usize.saturating_sub(self.early.len()).min(data.len());
        let (take, rest) = data.split_at(want);
        self.early.extend_from_slice(take);
        match opening(&self.early, peer_early) {
            Opening::NeedMore => rest,
            Opening::NotZmtp(what) => {
                self.phase = Phase::Ignored;
                emit(ZmtpEvent::NotZmtp {
                    dir: self.dir,
                    ts,
                    what,
                });
                &[]
            }
            Opening::V1 => {
                self.announced = Version::V1_0;
                self.version = Version::V1_0;
                self.framing = Framing::V1;
                self.expect_identity = true;
                self.phase = Phase::Frames;
                let replay = self.early.clone();
                let _ = self.frames_data(ts, 0, &replay, limits, emit);
                if self.phase == Phase::Lost {
                    // Framing was lost inside the first bytes: the rest goes
                    // to the search too.
                    self.resync.push(at + want as u64, rest);
                    return &[];
                }
                rest
            }
            // The 12th byte (the socket type) may still be on its way.
            Opening::Greeting12(_) if self.early.len() < 12 => rest,
            Opening::Greeting12(framing) => {
                let extra = self.early.split_off(12.min(self.early.len()));
                self.framing = framing;
                self.announced = if framing == Framing::V1 {
                    Version::V1_0
                } else {
                    Version::V2_0
                };
                self.version = self.announced;
                self.expect_identity = true;
                let socket_type = self.early.get(11).and_then(|&t| wire::socket_type_name(t));
                self.socket_type = socket_type.map(str::to_string);
                emit(ZmtpEvent::Greeting {
                    dir: self.dir,
                    ts,
                    zmtp: self.version,
                    mechanism: Mechanism::Null,
                    as_server: false,
                    socket_type,
                });
                self.phase = Phase::Frames;
                let _ = self.frames_data(ts, 12, &extra, limits, emit);
                if self.phase == Phase::Lost {
                    self.resync.push(at + want as u64, rest);
                    return &[];
                }
                rest
            }
            Opening::Greeting64 => {
                self.phase = Phase::Greeting64;
                // Bytes past the first 16 were not taken yet; 16 < 64.
                rest
            }
        }
    }

    fn greeting_data<'d>(
        &mut self,
        peer_early: &[u8],
        ts: Timestamp,
        data: &'d [u8],
        emit: &mut Emit<'_>,
    ) -> &'d [u8] {
        let want = 64usize.saturating_sub(self.early.len()).min(data.len());
        let (take, rest) = data.split_at(want);
        self.early.extend_from_slice(take);
        if self.early.len() < 64 {
            return rest;
        }
        let Some(greeting) = wire::greeting64(&self.early) else {
            return rest;
        };
        self.announced = if greeting.minor == 0 {
            Version::V3_0
        } else {
            Version::V3_1
        };
        self.settle_version(peer_early);
        self.mechanism = greeting.mechanism;
        self.framing = Framing::V3;
        emit(ZmtpEvent::Greeting {
            dir: self.dir,
            ts,
            zmtp: self.announced,
            mechanism: greeting.mechanism,
            as_server: greeting.as_server,
            socket_type: None,
        });
        self.phase = Phase::Frames;
        rest
    }

    /// The framing version is the lower of both announcements (libzmq
    /// speaks 3.0 to a 3.0 peer after announcing 3.1).
    fn settle_version(&mut self, peer_early: &[u8]) {
        self.version = match (peer_early.get(10), peer_early.get(11)) {
            (Some(&major), Some(&0)) if major >= 3 => Version::V3_0,
            _ => self.announced,
        };
    }

    fn parse_header(&self, bytes: &[u8]) -> Parsed {
        // libzmq's v2 encoder (2.0 and 3.0 peers) flags a 255-byte
        // subscription short but writes an 8-byte size 256: `00`, size,
        // `01`, topic (zmtp-protocol.md §4.5).
        let v2_encoder = matches!(self.version, Version::V2_0 | Version::V3_0);
        let subscriber = matches!(self.socket_type(), Some("SUB" | "XSUB"));
        if v2_encoder && subscriber && bytes.first() == Some(&0) {
            const SIZE: [u8; 8] = 256u64.to_be_bytes();
            let seen = bytes.get(1..9.min(bytes.len())).unwrap_or_default();
            if SIZE.starts_with(seen) {
                match bytes.get(9) {
                    None => return Parsed::Incomplete(10 - bytes.len()),
                    Some(0 | 1) => return Parsed::Malformed(1 + 8 + 256),
                    Some(_) => {}
                }
            }
        }
        match wire::frame_header(self.framing, bytes) {
            HeaderParse::Header(h) => Parsed::Header(h),
            HeaderParse::Incomplete(n) => Parsed::Incomplete(n),
            HeaderParse::Invalid(_) => Parsed::Invalid,
        }
    }

    /// Frames from `data`; returns the bytes not consumed when framing was
    /// lost (they have gone to the resync search).
    fn frames_data<'d>(
        &mut self,
        ts: Timestamp,
        base: u64,
        mut data: &'d [u8],
        limits: &DecoderLimits,
        emit: &mut Emit<'_>,
    ) -> &'d [u8] {
        let total = data.len();
        let offset_of = |rest: &[u8]| base + (total - rest.len()) as u64;
        while !data.is_empty() && self.phase == Phase::Frames {
            if let Some(current) = &mut self.current {
                let take = usize::try_from(current.remaining)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let (body, rest) = data.split_at(take);
                current.remaining -= take as u64;
                let (command, malformed, done) = (
                    current.header.command,
                    current.malformed,
                    current.remaining == 0,
                );
                if !malformed {
                    self.keep(command, body, limits);
                }
                data = rest;
                if done {
                    self.finish_frame(ts, emit);
                }
                continue;
            }
            let buffered = !self.header.is_empty();
            let parsed = if buffered {
                let header = std::mem::take(&mut self.header);
                let parsed = self.parse_header(&header);
                self.header = header;
                parsed
            } else {
                self.parse_header(data)
            };
            match parsed {
                Parsed::Incomplete(n) => {
                    let take = if buffered {
                        n.min(data.len())
                    } else {
                        self.header_offset = offset_of(data);
                        data.len()
                    };
                    self.header.extend_from_slice(&data[..take]);
                    data = &data[take..];
                }
                Parsed::Invalid => {
                    self.counters.decode_errors += 1;
                    let start = if buffered {
                        self.header_offset
                    } else {
                        offset_of(data)
                    };
                    let mut pending = std::mem::take(&mut self.header);
                    pending.extend_from_slice(data);
                    self.lose(ts, emit);
                    self.resync.start(start, &pending);
                    return &[];
                }
                Parsed::Malformed(len) => {
                    self.counters.malformed += 1;
                    emit(ZmtpEvent::Malformed {
                        dir: self.dir,
                        ts,
                        offset: if buffered { self.header_offset } else { offset_of(data) },
                        len,
                        reason: "libzmq v2 encoder bug: a 255-byte subscription flagged short but sized with 8 bytes".into(),
                    });
                    // Pass over the unit: its first byte now, the rest as a body.
                    let consumed_now = if buffered {
                        let n = self.header.len();
                        self.header.clear();
                        n
                    } else {
                        data = &data[1..];
                        1
                    };
                    self.current = Some(FrameInProgress {
                        header: wire::FrameHeader {
                            more: false,
                            long: false,
                            command: false,
                            flags: 0,
                            body_len: len,
                            header_len: 0,
                        },
                        remaining: len - consumed_now as u64,
                        malformed: true,
                    });
                }
                Parsed::Header(header) => {
                    let header_start = if buffered {
                        self.header_offset
                    } else {
                        offset_of(data)
                    };
                    // Bytes buffered past the header (the malformed-unit
                    // check may ask for more than a header needs) belong to
                    // what follows; they are fewer than ten.
                    let extra = if buffered {
                        let extra = self
                            .header
                            .split_off(header.header_len.min(self.header.len()));
                        self.header.clear();
                        extra
                    } else {
                        data = &data[header.header_len..];
                        Vec::new()
                    };
                    self.start_frame(header, header_start, ts, limits, emit);
                    if header.body_len == 0 {
                        self.finish_frame(ts, emit);
                    }
                    if !extra.is_empty() {
                        let extra_at = header_start + header.header_len as u64;
                        let _ = self.frames_data(ts, extra_at, &extra, limits, emit);
                    }
                }
            }
        }
        data
    }

    fn start_frame(
        &mut self,
        header: wire::FrameHeader,
        header_start: u64,
        ts: Timestamp,
        limits: &DecoderLimits,
        emit: &mut Emit<'_>,
    ) {
        if header.command {
            self.command.clear();
            self.command_offset = header_start;
        } else {
            if self.frames.is_empty() {
                self.message_ts = ts;
                self.message_offset = header_start;
                self.arena.clear();
            } else if self.frames.len() >= limits.max_frames {
                self.counters.split_messages += 1;
                self.emit_message(emit);
                self.message_ts = ts;
                self.message_offset = header_start;
            }
            self.frames.push(Frame::new(
                header.body_len,
                header.more,
                header.flags,
                header.long,
                self.arena.len(),
            ));
            self.tail.clear();
        }
        self.current = Some(FrameInProgress {
            header,
            remaining: header.body_len,
            malformed: false,
        });
    }

    fn keep(&mut self, command: bool, body: &[u8], limits: &DecoderLimits) {
        if command {
            let room = limits.max_command.saturating_sub(self.command.len());
            self.command
                .extend_from_slice(&body[..room.min(body.len())]);
            return;
        }
        let Some(frame) = self.frames.last_mut() else {
            return;
        };
        if frame.missing > 0 {
            return;
        }
        let kept = *frame.kept_len_mut();
        let frame_room = limits.keep_per_frame.max(HEAD_LEN).saturating_sub(kept);
        let message_room = limits.keep_per_message.saturating_sub(self.arena.len());
        let room = frame_room.min(if kept < HEAD_LEN {
            frame_room
        } else {
            message_room
        });
        let take = room.min(body.len());
        self.arena.extend_from_slice(&body[..take]);
        *frame.kept_len_mut() += take;
        // Beyond the limit: only the frame's last bytes are remembered.
        let beyond = body.get(take..).unwrap_or_default();
        if beyond.len() >= TAIL_LEN {
            self.tail.clear();
            self.tail
                .extend_from_slice(beyond.get(beyond.len() - TAIL_LEN..).unwrap_or_default());
        } else if !beyond.is_empty() {
            self.tail.extend_from_slice(beyond);
            let excess = self.tail.len().saturating_sub(TAIL_LEN);
            self.tail.drain(..excess);
        }
    }

    fn finish_frame(&mut self, ts: Timestamp, emit: &mut Emit<'_>) {
        let Some(current) = self.current.take() else {
            return;
        };
        if current.malformed {
            return;
        }
        let header = current.header;
        if header.command {
            self.finish_command(ts, header.body_len, emit);
            return;
        }
        if self.expect_identity {
            // The first frame of a 1.0/2.0 direction is the peer's identity.
            self.expect_identity = false;
            if let Some(frame) = self.frames.pop() {
                self.counters.commands += 1;
                let body = self.arena.get(..frame.kept_end()).unwrap_or_default();
                let head = body.get(..HEAD_LEN.min(body.len())).unwrap_or_default();
                emit(ZmtpEvent::Command(CommandEvent {
                    dir: self.dir,
                    ts,
                    offset: self.message_offset,
                    name: "IDENTITY",
                    len: frame.len,
                    body: head,
                    props: Vec::new(),
                    fields: Vec::new(),
                    malformed: None,
                }));
            }
            return;
        }
        if self.drop_partial {
            if !header.more {
                self.drop_partial = false;
            }
            self.counters.partial_frames += 1;
            self.frames.clear();
            return;
        }
        if let Some(frame) = self.frames.last_mut() {
            let cut = frame.kept_len() as u64 != frame.len;
            if frame.missing == 0 && cut && !self.tail.is_empty() {
                frame.set_tail(self.arena.len(), self.tail.len());
                self.arena.extend_from_slice(&self.tail);
            }
        }
        self.tail.clear();
        let curve_box = self.mechanism == Mechanism::Curve
            && self.frames.len() == 1
            && self.arena.starts_with(b"\x07MESSAGE");
        if !header.more || curve_box {
            self.emit_message(emit);
        }
    }

    fn finish_command(&mut self, ts: Timestamp, len: u64, emit: &mut Emit<'_>) {
        self.counters.commands += 1;
        let body = std::mem::take(&mut self.command);
        let parsed = wire::command(&body);
        let name = std::str::from_utf8(parsed.name).unwrap_or("?");
        let mut props = Vec::new();
        let mut fields: Vec<(&'static str, String)> = Vec::new();
        let mut malformed = parsed.malformed.clone();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let hex = |b: &[u8]| {
            b.iter()
                .fold(String::with_capacity(2 * b.len()), |mut s, x| {
                    let _ = write!(s, "{x:02x}");
                    s
                })
        };
        let data = parsed.data;
        match (name, self.mechanism) {
            ("READY" | "INITIATE", Mechanism::Curve) => {
                // Inside the box; only the short nonce is visible.
                let nonce_at = if name == "INITIATE" { 96 } else { 0 };
                if let Some(nonce) = data.get(nonce_at..nonce_at + 8) {
                    let nonce = u64::from_be_bytes(nonce.try_into().unwrap_or_default());
                    self.last_nonce = Some(nonce);
                    fields.push(("nonce", nonce.to_string()));
                }
            }
            ("READY" | "INITIATE", _) => {
                let (pairs, rest) = wire::properties(data);
                for (k, v) in pairs {
                    let key = std::str::from_utf8(k).unwrap_or("?");
                    if key.eq_ignore_ascii_case("Socket-Type") {
                        self.socket_type = Some(text(v));
                    }
                    props.push((key, text(v)));
                }
                if rest > 0 && malformed.is_none() {
                    malformed = Some(format!("{rest} bytes after the metadata do not parse"));
                }
            }
            ("ERROR", _) => {
                if let Some((reason, _)) = wire::short_string(data) {
                    fields.push(("reason", text(reason)));
                }
            }
            ("SUBSCRIBE" | "CANCEL", _) => {
                fields.push(("topic", text(data)));
                if self.version == Version::Unknown {
                    // Only 3.1 has SUBSCRIBE and CANCEL commands.
                    self.version = Version::V3_1;
                }
            }
            ("PING", _) => {
                if let Some(ttl) = data.get(..2) {
                    fields.push(("ttl", u16::from_be_bytes([ttl[0], ttl[1]]).to_string()));
                    fields.push(("context", hex(data.get(2..).unwrap_or_default())));
                } else {
                    malformed.get_or_insert_with(|| "PING without a TTL".into());
                }
            }
            ("PONG", _) => {
                fields.push(("context", hex(data)));
            }
            ("HELLO", Mechanism::Plain) => {
                if let Some((user, rest)) = wire::short_string(data) {
                    fields.push(("username", text(user)));
                    if let Some((password, _)) = wire::short_string(rest) {
                        fields.push(("password", text(password)));
                    }
                }
            }
            ("HELLO", Mechanism::Curve) => {
                // version(2) padding(72) C'(32) nonce(8) signature box(80)
                if let Some(v) = data.get(..2) {
                    fields.push(("curve_version", format!("{}.{}", v[0], v[1])));
                }
                if let Some(key) = data.get(74..106) {
                    fields.push(("client_transient_key", hex(key)));
                }
                if let Some(nonce) = data.get(106..114) {
                    let nonce = u64::from_be_bytes(nonce.try_into().unwrap_or_default());
                    self.last_nonce = Some(nonce);
                    fields.push(("nonce", nonce.to_string()));
                }
            }
            _ => {}
        }
        emit(ZmtpEvent::Command(CommandEvent {
            dir: self.dir,
            ts,
            offset: self.command_offset,
            name,
            len,
            body: &body,
            props,
            fields,
            malformed,
        }));
        self.command = body;
    }

    fn emit_message(&mut self, emit: &mut Emit<'_>) {
        if self.frames.is_empty() {
            return;
        }
        let mut message = Message::new(
            self.dir,
            self.message_ts,
            self.message_offset,
            self.version,
            self.socket_type.as_deref(),
            &self.frames,
            &self.arena,
        );
        if self.mechanism == Mechanism::Curve
            && self.frames.len() == 1
            && self.arena.starts_with(b"\x07MESSAGE")
        {
            message.encrypted = true;
            message.plaintext_len = self.frames.first().map(|f| f.len.saturating_sub(33));
            if let Some(nonce) = self.arena.get(8..16) {
                let nonce = u64::from_be_bytes(nonce.try_into().unwrap_or_default());
                if let Some(last) = self.last_nonce {
                    if nonce != last.wrapping_add(1) {
                        message.nonce_gap = Some(nonce.wrapping_sub(last).wrapping_sub(1));
                        self.counters.nonce_gaps += 1;
                    }
                }
                self.last_nonce = Some(nonce);
            }
        } else if let ([frame], Some("SUB" | "XSUB")) =
            (self.frames.as_slice(), self.socket_type.as_deref())
        {
            let kept = message.kept(frame);
            if let Some((&kind @ (0 | 1), topic)) = kept.split_first() {
                if frame.missing == 0 {
                    message.subscription = Some((kind == 1, topic));
                }
            }
        }
        self.counters.messages += 1;
        self.counters.message_bytes += message.bytes();
        if message.missing() > 0 {
            self.counters.incomplete += 1;
        }
        emit(ZmtpEvent::Message(message));
        self.frames.clear();
        self.arena.clear();
    }

    /// `len` bytes of this direction are not in the capture.
    pub(crate) fn gap(
        &mut self,
        peer_early: &[u8],
        ts: Timestamp,
        offset: u64,
        len: u64,
        emit: &mut Emit<'_>,
    ) {
        emit(ZmtpEvent::Gap {
            dir: self.dir,
            ts,
            bytes: len,
        });
        match self.phase {
            Phase::Ignored => {}
            Phase::Lost => {
                // A chain cannot span the hole: the search restarts after it.
                self.counters.skipped_bytes += self.resync.abandon();
                self.resync.start_after_hole(offset + len);
            }
            Phase::Frames => {
                let inside_body = self.header.is_empty()
                    && self.current.as_ref().is_some_and(|c| len <= c.remaining);
                if inside_body {
                    // The frame's size says where the next one starts: only
                    // this message is hurt.
                    let Some(current) = &mut self.current else {
                        return;
                    };
                    current.remaining -= len;
                    let done = current.remaining == 0;
                    if !current.header.command && !current.malformed {
                        if let Some(frame) = self.frames.last_mut() {
                            frame.missing += len;
                        }
                    }
                    if done {
                        self.finish_frame(ts, emit);
                    }
                } else {
                    self.lose(ts, emit);
                    self.resync.start_after_hole(offset + len);
                }
            }
            // A 3.x greeting is 64 bytes whatever it holds: once its
            // mechanism field (bytes 12-31) is in, a hole in the rest (the
            // filler a snapshot length often cuts) costs nothing.
            Phase::Greeting64 if self.early.len() >= 32 => {
                let missing_in_greeting = 64usize.saturating_sub(self.early.len());
                let fill = usize::try_from(len)
                    .unwrap_or(usize::MAX)
                    .min(missing_in_greeting);
                self.early.resize(self.early.len() + fill, 0);
                let _ = self.greeting_data(peer_early, ts, &[], emit);
                if len > fill as u64 {
                    // The hole goes on past the greeting: a frame header is gone.
                    self.lose(ts, emit);
                    self.resync.start_after_hole(offset + len);
                }
            }
            Phase::Start | Phase::Greeting64 => {
                // The opening is gone: the version is unknown from here.
                self.phase = Phase::Lost;
                self.early.clear();
                self.resync.start_after_hole(offset + len);
            }
        }
    }

    /// Framing lost: the message in progress cannot be finished.
    fn lose(&mut self, _ts: Timestamp, _emit: &mut Emit<'_>) {
        if !self.frames.is_empty() {
            self.counters.partial_frames += self.frames.len() as u64;
        }
        self.frames.clear();
        self.arena.clear();
        self.current = None;
        self.header.clear();
        self.phase = Phase::Lost;
    }

    /// Search the window; on a lock, switch to frames and return the bytes
    /// from the lock onwards for the caller to decode.
    fn try_resync(&mut self, ts: Timestamp, emit: &mut Emit<'_>) -> Option<(Vec<u8>, u64)> {
        let framings: &[Framing] = match self.version {
            Version::V1_0 => &[Framing::V1],
            Version::V2_0 => &[Framing::V2],
            Version::V3_0 | Version::V3_1 => &[Framing::V3],
            Version::Unknown => &[Framing::V3, Framing::V1],
        };
        let found = self.resync.search(framings, self.strictness)?;
        let message_start = self.resync.at_clean_start(found.offset);
        let (rest, skipped, lock) = self.resync.take_from(found.offset);
        self.counters.resyncs += 1;
        self.counters.skipped_bytes += skipped;
        emit(ZmtpEvent::Resync {
            dir: self.dir,
            ts,
            skipped,
        });
        self.framing = found.framing;
        if found.framing == Framing::V1 && self.version == Version::Unknown {
            self.version = Version::V1_0;
        }
        self.phase = Phase::Frames;
        // Frames before the first final one belong to a message whose start
        // was lost, unless the lock is where a segment began right after
        // the hole.
        self.drop_partial = !message_start;
        self.expect_identity = false;
        Some((rest, lock))
    }

    /// The stream ended.
    pub(crate) fn close(&mut self, _ts: Timestamp, _emit: &mut Emit<'_>) {
        if self.phase == Phase::Lost {
            self.counters.skipped_bytes += self.resync.abandon();
        }
        if !self.frames.is_empty() || self.current.is_some() {
            self.counters.partial_frames += self.frames.len() as u64;
            self.frames.clear();
            self.current = None;
        }
    }
}

/// Decide a direction's framing from its first bytes and the peer's, as
/// libzmq's version negotiation does (zmtp-protocol.md §1, §5).
fn opening(own: &[u8], peer: &[u8]) -> Opening {
    let Some(&first) = own.first() else {
        return Opening::NeedMore;
    };
    if first != 0xff {
        return v1_identity_or_not(own);
    }
    if own.len() < 10 {
        return Opening::NeedMore;
    }
    if own[9] & 1 == 0 {
        return Opening::V1;
    }
    // A 1.0 peer: libzmq's ten bytes were the header of its identity frame.
    if peer.first().is_some_and(|&b| b != 0xff) || peer.get(9).is_some_and(|&b| b & 1 == 0) {
        return Opening::V1;
    }
    let Some(&revision) = own.get(10) else {
        return Opening::NeedMore;
    };
    match revision {
        0 => return Opening::Greeting12(Framing::V1),
        1 => return Opening::Greeting12(Framing::V2),
        _ => {}
    }
    // libzmq announces 3 even to an older peer; the peer's revision decides.
    match peer.get(10) {
        Some(0) => return Opening::Greeting12(Framing::V1),
        Some(1) => return Opening::Greeting12(Framing::V2),
        Some(_) => return Opening::Greeting64,
        None => {}
    }
    // One-sided capture: a 3.x greeting names a mechanism at offset 12.
    if own.len() < 16 {
        return Opening::NeedMore;
    }
    if own[12..16].iter().all(|b| b.is_ascii_uppercase()) {
        Opening::Greeting64
    } else {
        Opening::Greeting12(Framing::V2)
    }
}

/// A first byte other than 0xff: a ZMTP/1.0 identity frame, or something
/// else entirely.
fn v1_identity_or_not(own: &[u8]) -> Opening {
    let first = own[0];
    if own.starts_with(b"\x16\x03") {
        return Opening::NotZmtp("TLS");
    }
    const HTTP: [&[u8]; 9] = [
        b"GET ", b"POST", b"PUT ", b"HEAD", b"DELE", b"OPTI", b"PATC", b"HTTP", b"CONN",
    ];
    if HTTP
        .iter()
        .any(|m| own.starts_with(m) || m.starts_with(own))
        && own.len() >= 4
    {
        return Opening::NotZmtp("HTTP");
    }
    if first == 0 {
        return Opening::NotZmtp("not ZMTP (a zero-length first frame)");
    }
    match own.get(1) {
        None => Opening::NeedMore,
        // Real 1.0 peers send identity flags 0 (libzmq's own: 0x7f).
        Some(0 | 0x7f) => Opening::V1,
        Some(_) => Opening::NotZmtp("not ZMTP"),
    }
}
