//! `-w FILE`: the packets of the decoded flows, written as a classic pcap
//! file that tcpdump, Wireshark and zmqtrace itself read.
//!
//! Live, the capture threads have already kept only those packets, so every
//! packet is written. Offline, a [`Selector`] picks them: the rpc ports,
//! and connections that open with a ZMTP signature, handshake included.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use super::select::{Selector, Verdict};
use super::{CaptureError, LinkType, Packet};
use crate::net::TcpSegment;
use crate::ports::PortSet;
use crate::time::{Precision, Timestamp};

const SNAPLEN: u32 = 262_144;
/// The file is flushed at least this often in capture time, so a live
/// capture's file can be read while it grows.
const FLUSH_EVERY_NS: u64 = 1_000_000_000;

/// A classic pcap file, little-endian, µs or ns timestamps.
pub struct PcapFile {
    name: String,
    out: BufWriter<File>,
    precision: Precision,
    link: Option<LinkType>,
    error: Option<io::Error>,
    packets: u64,
    other_link: u64,
    last_flush: Timestamp,
}

impl PcapFile {
    /// Create (or truncate) `path`. With `link`, the header is written at
    /// once; otherwise the first packet's link type is used.
    pub fn create(
        path: &str,
        link: Option<LinkType>,
        precision: Precision,
    ) -> Result<PcapFile, CaptureError> {
        let file = File::create(path).map_err(|e| CaptureError::Write {
            name: format!("'{path}'"),
            reason: super::file::io_reason(&e),
        })?;
        let mut pcap = PcapFile {
            name: format!("'{path}'"),
            out: BufWriter::with_capacity(256 << 10, file),
            precision,
            link: None,
            error: None,
            packets: 0,
            other_link: 0,
            last_flush: Timestamp::ZERO,
        };
        if let Some(link) = link {
            pcap.header(link);
        }
        Ok(pcap)
    }

    fn header(&mut self, link: LinkType) {
        self.link = Some(link);
        let magic: u32 = match self.precision {
            Precision::Micro => 0xa1b2_c3d4,
            Precision::Nano => 0xa1b2_3c4d,
        };
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&magic.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&link.0.to_le_bytes());
        let result = self.out.write_all(&h);
        self.note(result);
    }

    pub fn write(&mut self, packet: &Packet<'_>) {
        if self.error.is_some() {
            return;
        }
        match self.link {
            None => self.header(packet.link),
            Some(link) if link != packet.link => {
                self.other_link += 1;
                return;
            }
            Some(_) => {}
        }
        let nanos = packet.ts.as_nanos();
        let secs = u32::try_from(nanos / 1_000_000_000).unwrap_or(u32::MAX);
        let frac = match self.precision {
            Precision::Micro => (nanos % 1_000_000_000) / 1_000,
            Precision::Nano => nanos % 1_000_000_000,
        } as u32;
        let data = packet.data.get(..SNAPLEN as usize).unwrap_or(packet.data);
        let caplen = data.len() as u32;
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&secs.to_le_bytes());
        record[4..8].copy_from_slice(&frac.to_le_bytes());
        record[8..12].copy_from_slice(&caplen.to_le_bytes());
        record[12..16].copy_from_slice(&packet.orig_len.max(caplen).to_le_bytes());
        let result = self
            .out
            .write_all(&record)
            .and_then(|()| self.out.write_all(data));
        self.note(result);
        self.packets += 1;
        if packet.ts.nanos_since(self.last_flush) >= FLUSH_EVERY_NS {
            self.last_flush = packet.ts;
            let result = self.out.flush();
            self.note(result);
        }
    }

    fn note(&mut self, result: io::Result<()>) {
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flush; the first write error, if any, as one sentence. A file that
    /// got no packet still gets a header (Ethernet).
    pub fn finish(&mut self) -> Result<(), CaptureError> {
        if self.link.is_none() && self.error.is_none() {
            self.header(LinkType::ETHERNET);
        }
        let result = self.out.flush();
        self.note(result);
        match self.error.take() {
            Some(e) => Err(CaptureError::Write {
                name: self.name.clone(),
                reason: super::file::io_reason(&e),
            }),
            None => Ok(()),
        }
    }

    /// Packets not written because their link type differs from the file's.
    pub fn other_link(&self) -> u64 {
        self.other_link
    }
}

/// `-w`: which packets go to the file, and the file.
pub struct FlowWriter {
    file: PcapFile,
    /// `None`: the source has already selected the packets (live capture).
    selector: Option<Selector>,
}

impl FlowWriter {
    /// Write every packet offered (the live capture selected them already).
    pub fn all(file: PcapFile) -> Self {
        FlowWriter {
            file,
            selector: None,
        }
    }

    /// Write the packets of the flows on `ports`, and with `auto` of the
    /// connections that open with a ZMTP signature.
    pub fn selecting(file: PcapFile, ports: &PortSet, auto: bool) -> Self {
        FlowWriter {
            file,
            selector: Some(Selector::new(ports, auto)),
        }
    }

    /// One packet of the input, with its TCP segment when it is one.
    pub fn offer(&mut self, packet: &Packet<'_>, segment: Option<&TcpSegment<'_>>) {
        let Some(selector) = &mut self.selector else {
            self.file.write(packet);
            return;
        };
        let Some(segment) = segment else {
            return;
        };
        match selector.judge(packet, segment) {
            Verdict::Keep => self.file.write(packet),
            Verdict::Held | Verdict::Skip => {}
            Verdict::Zmtp { ports, held } => {
                for port in ports {
                    selector.add_found(port);
                }
                for p in &held {
                    self.file.write(&p.as_packet());
                }
                self.file.write(packet);
            }
        }
    }

    pub fn packets(&self) -> u64 {
        self.file.packets()
    }

    /// Packets of the decoded flows left out because their link type is
    /// not the file's (a pcap file has one).
    pub fn other_link(&self) -> u64 {
        self.file.other_link()
    }

    pub fn finish(&mut self) -> Result<(), CaptureError> {
        self.file.finish()
    }
}
