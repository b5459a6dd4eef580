//! Packet sources: where packets come from. Everything above this module sees
//! only [`PacketSource`], so the whole program runs against an offline file,
//! a live interface or an in-memory fixture alike.

mod file;
mod filter;
mod kfilter;
pub mod live;
mod memory;
mod merge;
pub mod open;
mod privilege;
mod select;
mod write;

pub use file::FileSource;
pub use filter::BpfFilter;
pub use live::{LiveConfig, LiveSource, OpenCapture};
pub use memory::{MemorySource, OwnedPacket};
pub use merge::MergedSource;
pub use write::{FlowWriter, PcapFile};

use crate::time::{Precision, Timestamp};

/// A link-layer header type as numbered by tcpdump.org's LINKTYPE_ registry.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// DLT_RAW as written by OpenBSD-derived tools.
    pub const RAW_OPENBSD: LinkType = LinkType(12);
    /// DLT_RAW on BSD/OS.
    pub const RAW_BSDOS: LinkType = LinkType(14);
    pub const LOOP: LinkType = LinkType(108);
    pub const RAW: LinkType = LinkType(101);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// Whether the link slicer understands this link type.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            LinkType::NULL
                | LinkType::ETHERNET
                | LinkType::RAW_OPENBSD
                | LinkType::RAW_BSDOS
                | LinkType::LOOP
                | LinkType::RAW
                | LinkType::LINUX_SLL
                | LinkType::IPV4
                | LinkType::IPV6
                | LinkType::LINUX_SLL2
        )
    }

    /// The name tcpdump uses for the link type, for messages.
    pub fn name(self) -> String {
        let known = match self.0 {
            0 => "NULL",
            1 => "EN10MB",
            12 | 14 | 101 => "RAW",
            105 => "IEEE802_11",
            108 => "LOOP",
            113 => "LINUX_SLL",
            127 => "IEEE802_11_RADIO",
            147..=162 => "USER",
            228 => "IPV4",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            _ => "",
        };
        if known.is_empty() {
            format!("link type {}", self.0)
        } else {
            format!("{known} (link type {})", self.0)
        }
    }
}

/// One captured packet, borrowed from the source's buffer until the next call
/// to [`PacketSource::next_packet`].
#[derive(Copy, Clone, Debug)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    /// Length of the packet on the wire; larger than `data.len()` when the
    /// capture's snapshot length cut it.
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// A source that cannot go on: unreadable, not a capture, corrupt.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot read {name}: {reason}")]
    Open { name: String, reason: String },
    #[error("{name} is not a pcap or pcapng capture ({detail})")]
    NotACapture { name: String, detail: String },
    #[error("{name} is corrupt at byte {offset}: {detail}")]
    Corrupt {
        name: String,
        offset: u64,
        detail: String,
    },
    #[error("{name} uses {link}, which zmqtrace cannot decode; capture with Ethernet, `-i any` (Linux cooked), loopback or raw IP framing")]
    UnsupportedLink { name: String, link: String },
    #[error("bad capture filter {expr:?}: {reason}")]
    Filter { expr: String, reason: String },
    /// A live capture could not start or stopped: the whole sentence.
    #[error("{0}")]
    Live(String),
    #[error("cannot write {name}: {reason}")]
    Write { name: String, reason: String },
    /// Options that do not go together: the sentence.
    #[error("{0}")]
    Usage(String),
}

/// What only a live capture counts, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Packets the kernel dropped because the capture buffer was full.
    pub kernel_dropped: u64,
    /// Packets dropped because the queue to the decoder was full.
    pub queue_dropped: u64,
    /// Ports found to carry ZMTP and added to the kernel filter, in order.
    pub auto_ports: Vec<u16>,
    /// ZMTP connections on new ports not followed because the kernel filter
    /// already had as many ports as it may.
    pub auto_ports_refused: u64,
}

/// Where packets come from. `next_packet` lends the packet until it is called
/// again, so file sources hand out slices of their read buffer without copying.
pub trait PacketSource: Send {
    /// The next packet in capture order, `Ok(None)` at the end of input.
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError>;

    /// Timestamp precision of the input, for printing.
    fn precision(&self) -> Precision;

    /// A warning to show once the input is over, such as where a truncated
    /// file was cut.
    fn end_warning(&self) -> Option<String> {
        None
    }

    /// The reader is done (end of input, or `-c` reached): a live source
    /// stops capturing and waits for its threads.
    fn stop(&mut self) {}

    /// Counters of a live capture; `None` for files.
    fn live_counters(&self) -> Option<LiveCounters> {
        None
    }

    /// How far through its input a file source is; `None` for live capture.
    fn progress(&self) -> Option<InputProgress> {
        None
    }
}

/// Bytes of the input files read so far, and their total size when known
/// (not for standard input).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputProgress {
    pub read: u64,
    pub total: Option<u64>,
}

impl InputProgress {
    /// Percent read, when the size is known.
    pub fn percent(&self) -> Option<u64> {
        let total = self.total.filter(|t| *t > 0)?;
        Some((self.read.min(total).saturating_mul(100)) / total)
    }
}

impl<S: PacketSource + ?Sized> PacketSource for Box<S> {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        (**self).next_packet()
    }
    fn precision(&self) -> Precision {
        (**self).precision()
    }
    fn end_warning(&self) -> Option<String> {
        (**self).end_warning()
    }
    fn stop(&mut self) {
        (**self).stop()
    }
    fn live_counters(&self) -> Option<LiveCounters> {
        (**self).live_counters()
    }
    fn progress(&self) -> Option<InputProgress> {
        (**self).progress()
    }
}
