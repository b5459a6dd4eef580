//! An in-memory packet source: fixtures for tests and packets copied out of
//! other sources (the merger keeps one owned packet per input).

use super::{CaptureError, LinkType, Packet, PacketSource};
use crate::time::{Precision, Timestamp};

/// A packet that owns its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedPacket {
    pub ts: Timestamp,
    pub link: LinkType,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

impl OwnedPacket {
    pub fn new(ts: Timestamp, link: LinkType, data: Vec<u8>) -> Self {
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        OwnedPacket {
            ts,
            link,
            orig_len,
            data,
        }
    }

    pub fn as_packet(&self) -> Packet<'_> {
        Packet {
            ts: self.ts,
            link: self.link,
            orig_len: self.orig_len,
            data: &self.data,
        }
    }

    /// Overwrite `self` with `packet`, reusing the allocation.
    pub fn copy_from(&mut self, packet: &Packet<'_>) {
        self.ts = packet.ts;
        self.link = packet.link;
        self.orig_len = packet.orig_len;
        self.data.clear();
        self.data.extend_from_slice(packet.data);
    }
}

/// Replays a list of packets in the order given.
#[derive(Debug, Default)]
pub struct MemorySource {
    packets: Vec<OwnedPacket>,
    next: usize,
    precision: Precision,
}

impl MemorySource {
    pub fn new(packets: Vec<OwnedPacket>) -> Self {
        MemorySource {
            packets,
            next: 0,
            precision: Precision::Micro,
        }
    }
}

impl PacketSource for MemorySource {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        let packet = self.packets.get(self.next);
        self.next += usize::from(packet.is_some());
        Ok(packet.map(OwnedPacket::as_packet))
    }

    fn precision(&self) -> Precision {
        self.precision
    }
}
