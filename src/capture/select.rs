//! Which packets belong to the flows zmqtrace decodes: every packet on an
//! rpc port (`-p`), and, with auto-detection, every packet of a connection
//! whose first payload is a ZMTP signature, its handshake included.
//!
//! The live capture uses this to keep the packets its kernel filter lets
//! through only for detection (the SYNs and signatures of all connections)
//! away from the decoder until a connection proves to be ZMTP, and to learn
//! which server port to add to the kernel filter; `-w` uses it to write the
//! decoded flows and nothing else. The decision is made per packet, from
//! the packet alone plus a few held handshake packets, so both places agree.

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::{OwnedPacket, Packet};
use crate::net::TcpSegment;
use crate::ports::PortSet;

/// Handshake packets held while their connection has not spoken yet.
/// Policy when full: the oldest is forgotten; a ZMTP connection whose
/// handshake was forgotten is decoded as picked up mid-stream (counted in
/// `midstream_connections`).
const MAX_HELD_PACKETS: usize = 1024;
const MAX_HELD_BYTES: usize = 256 << 10;
/// A payload-less packet larger than this is not a plain handshake packet.
const MAX_HELD_PACKET: usize = 512;

/// A set of TCP ports, one bit each.
#[derive(Clone)]
pub struct PortBits(Box<[u64; 1024]>);

impl PortBits {
    pub fn new() -> Self {
        PortBits(Box::new([0; 1024]))
    }

    pub fn from_set(set: &PortSet) -> Self {
        let mut bits = PortBits::new();
        for port in set.iter() {
            bits.insert(port);
        }
        bits
    }

    pub fn contains(&self, port: u16) -> bool {
        let port = usize::from(port);
        self.0
            .get(port / 64)
            .is_some_and(|word| word & (1 << (port % 64)) != 0)
    }

    pub fn insert(&mut self, port: u16) {
        let port = usize::from(port);
        if let Some(word) = self.0.get_mut(port / 64) {
            *word |= 1 << (port % 64);
        }
    }
}

impl Default for PortBits {
    fn default() -> Self {
        PortBits::new()
    }
}

struct Held {
    src: SocketAddr,
    dst: SocketAddr,
    syn: bool,
    ack: bool,
    packet: OwnedPacket,
}

impl Held {
    fn same_flow(&self, a: SocketAddr, b: SocketAddr) -> bool {
        (self.src == a && self.dst == b) || (self.src == b && self.dst == a)
    }
}

/// What to do with one TCP packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// On an rpc port or a port found earlier.
    Keep,
    /// A payload-less packet of a connection on other ports, held until the
    /// connection shows what it carries.
    Held,
    /// Not part of a decoded flow.
    Skip,
    /// The connection opened with a ZMTP signature. `ports`: its server port
    /// (both ports when its handshake was not seen); `held`: the packets
    /// held so far of this connection and of others on those ports, oldest
    /// first, to be kept before this one. The caller adds the ports with
    /// [`Selector::add_found`] if it accepts them.
    Zmtp {
        ports: Vec<u16>,
        held: Vec<OwnedPacket>,
    },
}

pub struct Selector {
    listed: PortBits,
    found: PortBits,
    auto: bool,
    held: VecDeque<Held>,
    held_bytes: usize,
}

impl Selector {
    pub fn new(listed: &PortSet, auto: bool) -> Self {
        Selector {
            listed: PortBits::from_set(listed),
            found: PortBits::new(),
            auto,
            held: VecDeque::new(),
            held_bytes: 0,
        }
    }

    pub fn is_known(&self, port: u16) -> bool {
        self.listed.contains(port) || self.found.contains(port)
    }

    pub fn add_found(&mut self, port: u16) {
        self.found.insert(port);
    }

    pub fn judge(&mut self, packet: &Packet<'_>, segment: &TcpSegment<'_>) -> Verdict {
        let (src, dst) = (segment.src, segment.dst);
        if self.is_known(src.port()) || self.is_known(dst.port()) {
            return Verdict::Keep;
        }
        if !self.auto {
            return Verdict::Skip;
        }
        if segment.payload.is_empty() {
            if packet.data.len() > MAX_HELD_PACKET {
                return Verdict::Skip;
            }
            self.hold(Held {
                src,
                dst,
                syn: segment.flags.syn,
                ack: segment.flags.ack,
                packet: OwnedPacket {
                    ts: packet.ts,
                    link: packet.link,
                    orig_len: packet.orig_len,
                    data: packet.data.to_vec(),
                },
            });
            return Verdict::Held;
        }
        if !crate::zmtp::starts_with_signature(segment.payload) {
            return Verdict::Skip;
        }
        // The SYN goes to the server, the SYN-ACK comes from it; the last
        // one seen wins, as for a reused 4-tuple.
        let server = self
            .held
            .iter()
            .rev()
            .find(|h| h.syn && h.same_flow(src, dst))
            .map(|h| if h.ack { h.src } else { h.dst });
        let ports = match server {
            Some(server) => vec![server.port()],
            None if src.port() == dst.port() => vec![src.port()],
            None => vec![src.port(), dst.port()],
        };
        // This connection's handshake, and those of other connections to
        // the same port that opened before this one spoke.
        let (released, rest): (Vec<Held>, Vec<Held>) =
            std::mem::take(&mut self.held).into_iter().partition(|h| {
                h.same_flow(src, dst)
                    || ports.contains(&h.src.port())
                    || ports.contains(&h.dst.port())
            });
        self.held = rest.into();
        self.held_bytes = self.held.iter().map(|h| h.packet.data.len()).sum();
        Verdict::Zmtp {
            ports,
            held: released.into_iter().map(|h| h.packet).collect(),
        }
    }

    fn hold(&mut self, held: Held) {
        self.held_bytes += held.packet.data.len();
        self.held.push_back(held);
        while self.held.len() > MAX_HELD_PACKETS || self.held_bytes > MAX_HELD_BYTES {
            match self.held.pop_front() {
                Some(old) => self.held_bytes -= old.packet.data.len(),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::net::{self, Sliced};
    use crate::time::Timestamp;
    use etherparse::PacketBuilder;

    fn packet(src: u16, dst: u16, syn: bool, ack: bool, payload: &[u8]) -> OwnedPacket {
        // One address for both ends, as on loopback: ports tell the flows apart.
        let builder =
            PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 1], [10, 0, 0, 1], 64);
        let mut tcp = builder.tcp(src, dst, 1000, 65535);
        if syn {
            tcp = tcp.syn();
        }
        if ack {
            tcp = tcp.ack(1);
        }
        let mut data = Vec::new();
        tcp.write(&mut data, payload).unwrap();
        OwnedPacket::new(Timestamp::from_nanos(1), LinkType::ETHERNET, data)
    }

    fn judge(selector: &mut Selector, p: &OwnedPacket) -> Verdict {
        let packet = p.as_packet();
        let Sliced::Tcp(segment) = net::slice(&packet) else {
            panic!("not tcp");
        };
        selector.judge(&packet, &segment)
    }

    fn signature() -> Vec<u8> {
        let mut sig = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f];
        sig.extend_from_slice(&[3, 1]);
        sig
    }

    #[test]
    fn listed_ports_are_kept_and_others_wait_for_a_signature() {
        let mut s = Selector::new(&"9501".parse().unwrap(), true);
        assert_eq!(
            judge(&mut s, &packet(40000, 9501, false, true, b"x")),
            Verdict::Keep
        );
        assert_eq!(
            judge(&mut s, &packet(9501, 40000, false, true, b"")),
            Verdict::Keep
        );
        // An HTTP connection on other ports: its handshake is held, then skipped.
        assert_eq!(
            judge(&mut s, &packet(40001, 80, true, false, b"")),
            Verdict::Held
        );
        assert_eq!(
            judge(&mut s, &packet(40001, 80, false, true, b"GET /")),
            Verdict::Skip
        );
        // A ZMTP connection to 50000: SYN and SYN-ACK held, released with
        // the signature, and the server port found from the SYN.
        let syn = packet(40002, 50000, true, false, b"");
        let syn_ack = packet(50000, 40002, true, true, b"");
        assert_eq!(judge(&mut s, &syn), Verdict::Held);
        assert_eq!(judge(&mut s, &syn_ack), Verdict::Held);
        match judge(&mut s, &packet(50000, 40002, false, true, &signature())) {
            Verdict::Zmtp { ports, held } => {
                assert_eq!(ports, vec![50000]);
                assert_eq!(held, vec![syn, syn_ack]);
            }
            other => panic!("{other:?}"),
        }
        s.add_found(50000);
        assert_eq!(
            judge(&mut s, &packet(40003, 50000, true, false, b"")),
            Verdict::Keep
        );
    }

    #[test]
    fn connections_that_opened_before_the_port_was_found_keep_their_handshake() {
        let mut s = Selector::new(&"9501".parse().unwrap(), true);
        let first = packet(40002, 50000, true, false, b"");
        let second = packet(40003, 50000, true, false, b"");
        let other = packet(40004, 443, true, false, b"");
        for p in [&first, &second, &other] {
            assert_eq!(judge(&mut s, p), Verdict::Held);
        }
        match judge(&mut s, &packet(40002, 50000, false, true, &signature())) {
            Verdict::Zmtp { ports, held } => {
                assert_eq!(ports, vec![50000]);
                assert_eq!(held, vec![first, second]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.held.len(), 1);
    }

    #[test]
    fn without_a_handshake_both_ports_are_offered() {
        let mut s = Selector::new(&"9501".parse().unwrap(), true);
        match judge(&mut s, &packet(40002, 50000, false, true, &signature())) {
            Verdict::Zmtp { ports, held } => {
                assert_eq!(ports, vec![40002, 50000]);
                assert!(held.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_auto_keeps_to_the_listed_ports() {
        let mut s = Selector::new(&"9501".parse().unwrap(), false);
        assert_eq!(
            judge(&mut s, &packet(40002, 50000, true, false, b"")),
            Verdict::Skip
        );
        assert_eq!(
            judge(&mut s, &packet(40002, 50000, false, true, &signature())),
            Verdict::Skip
        );
    }

    #[test]
    fn held_packets_are_bounded() {
        let mut s = Selector::new(&"9501".parse().unwrap(), true);
        judge(&mut s, &packet(20000, 20001, true, false, b""));
        for port in 0..(MAX_HELD_PACKETS as u16 + 100) {
            judge(&mut s, &packet(30000 + port, 443, true, false, b""));
        }
        assert_eq!(s.held.len(), MAX_HELD_PACKETS);
        assert!(s.held_bytes <= MAX_HELD_BYTES);
        // The first one was forgotten: its signature comes without it.
        match judge(&mut s, &packet(20000, 20001, false, true, &signature())) {
            Verdict::Zmtp { ports, held } => {
                assert!(held.is_empty());
                assert_eq!(ports, vec![20000, 20001]);
            }
            other => panic!("{other:?}"),
        }
    }
}
