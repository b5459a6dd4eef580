//! What the ZMTP layer tells the layers above.

use crate::tcp::Direction;
use crate::time::Timestamp;

use super::wire::Mechanism;

/// The ZMTP version governing a direction's framing.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    Unknown,
    V1_0,
    V2_0,
    V3_0,
    V3_1,
}

impl Version {
    pub fn label(self) -> &'static str {
        match self {
            Version::Unknown => "unknown",
            Version::V1_0 => "1.0",
            Version::V2_0 => "2.0",
            Version::V3_0 => "3.0",
            Version::V3_1 => "3.1",
        }
    }
}

/// How many leading body bytes a frame's `head` shows.
pub const HEAD_LEN: usize = 32;
/// How many last body bytes are kept of a frame cut by the keep limit
/// (oslo's first pickles put the message id after the arguments).
pub const TAIL_LEN: usize = 256;

/// One frame of a message. Its bytes live in the message's arena.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub len: u64,
    pub more: bool,
    pub flags: u8,
    pub long: bool,
    /// Body bytes the capture lacked (a gap inside this frame).
    pub missing: u64,
    kept_start: usize,
    kept_len: usize,
    /// The frame's last bytes, when it was cut by the keep limit and
    /// arrived whole: `tail_len` bytes at `tail_start` of the arena.
    tail_start: usize,
    tail_len: usize,
}

impl Frame {
    pub(crate) fn new(len: u64, more: bool, flags: u8, long: bool, kept_start: usize) -> Frame {
        Frame {
            len,
            more,
            flags,
            long,
            missing: 0,
            kept_start,
            kept_len: 0,
            tail_start: 0,
            tail_len: 0,
        }
    }

    pub(crate) fn set_tail(&mut self, start: usize, len: usize) {
        self.tail_start = start;
        self.tail_len = len;
    }

    pub(crate) fn kept_len_mut(&mut self) -> &mut usize {
        &mut self.kept_len
    }

    pub(crate) fn kept_len(&self) -> usize {
        self.kept_len
    }

    pub(crate) fn kept_end(&self) -> usize {
        self.kept_start + self.kept_len
    }
}

/// A ZeroMQ message: its frames, with the first bytes of each kept.
#[derive(Debug)]
pub struct Message<'a> {
    pub dir: Direction,
    /// Time of the packet that carried the message's first byte.
    pub ts: Timestamp,
    /// Stream offset of the message's first byte in its direction.
    pub offset: u64,
    pub zmtp: Version,
    /// The sender's socket type, when its greeting or READY said.
    pub socket_type: Option<&'a str>,
    /// CURVE: one MESSAGE box; its frames and content are not visible.
    pub encrypted: bool,
    /// CURVE: bytes inside the box (frame length - 33).
    pub plaintext_len: Option<u64>,
    /// CURVE: the nonce did not follow the previous one by exactly 1, so
    /// boxes were lost or unseen.
    pub nonce_gap: Option<u64>,
    /// A (un)subscription sent as a data frame: (subscribe, topic).
    pub subscription: Option<(bool, &'a [u8])>,
    pub frames: &'a [Frame],
    arena: &'a [u8],
}

impl<'a> Message<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        dir: Direction,
        ts: Timestamp,
        offset: u64,
        zmtp: Version,
        socket_type: Option<&'a str>,
        frames: &'a [Frame],
        arena: &'a [u8],
    ) -> Self {
        Message {
            dir,
            ts,
            offset,
            zmtp,
            socket_type,
            encrypted: false,
            plaintext_len: None,
            nonce_gap: None,
            subscription: None,
            frames,
            arena,
        }
    }

    /// The body bytes of frame `i` that were kept (all of it up to the
    /// keep limit, and nothing after a gap inside it).
    pub fn kept(&self, frame: &Frame) -> &'a [u8] {
        self.arena
            .get(frame.kept_start..frame.kept_end())
            .unwrap_or_default()
    }

    /// The last up to [`TAIL_LEN`] bytes of a frame cut by the keep limit
    /// (empty when it was kept whole, or bytes of it were missing).
    pub fn tail(&self, frame: &Frame) -> &'a [u8] {
        self.arena
            .get(frame.tail_start..frame.tail_start + frame.tail_len)
            .unwrap_or_default()
    }

    /// The first up to 32 bytes of a frame's body.
    pub fn head(&self, frame: &Frame) -> &'a [u8] {
        let kept = self.kept(frame);
        kept.get(..HEAD_LEN.min(kept.len())).unwrap_or_default()
    }

    /// Bytes of the message the capture lacked; nonzero means incomplete.
    pub fn missing(&self) -> u64 {
        self.frames.iter().map(|f| f.missing).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.frames.iter().map(|f| f.len).sum()
    }
}

/// A ZMTP command (or the identity frame of a 1.0/2.0 direction, reported
/// as the command `IDENTITY`).
#[derive(Debug)]
pub struct CommandEvent<'a> {
    pub dir: Direction,
    pub ts: Timestamp,
    /// Stream offset of the command frame in its direction.
    pub offset: u64,
    pub name: &'a str,
    /// The command frame's body length, name included.
    pub len: u64,
    /// The body as kept (commands are kept whole up to 64 KiB).
    pub body: &'a [u8],
    /// READY/INITIATE metadata.
    pub props: Vec<(&'a str, String)>,
    /// Other decoded fields: topic, ttl, context, reason, username, ...
    pub fields: Vec<(&'static str, String)>,
    pub malformed: Option<String>,
}

/// Everything the ZMTP layer reports.
#[derive(Debug)]
pub enum ZmtpEvent<'a> {
    Greeting {
        dir: Direction,
        ts: Timestamp,
        zmtp: Version,
        mechanism: Mechanism,
        as_server: bool,
        /// 2.0 greetings carry the socket type.
        socket_type: Option<&'static str>,
    },
    Command(CommandEvent<'a>),
    Message(Message<'a>),
    /// Bytes missing from the capture in this direction.
    Gap {
        dir: Direction,
        ts: Timestamp,
        bytes: u64,
    },
    /// Bytes discarded before frame boundaries were found again.
    Resync {
        dir: Direction,
        ts: Timestamp,
        skipped: u64,
    },
    /// Bytes a ZMTP peer wrote that are not a valid frame.
    Malformed {
        dir: Direction,
        ts: Timestamp,
        offset: u64,
        len: u64,
        reason: String,
    },
    /// The direction is some other protocol; it is not decoded further.
    NotZmtp {
        dir: Direction,
        ts: Timestamp,
        what: &'static str,
    },
}
