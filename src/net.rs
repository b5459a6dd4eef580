//! Link and network layers: turn a captured packet into a TCP segment view,
//! without copying. Ethernet (with 802.1Q/QinQ), Linux cooked v1 and v2
//! (`tcpdump -i any`), BSD NULL/LOOP and raw IPv4/IPv6 framing; IPv4 and IPv6
//! with extension headers. Packets cut by the snapshot length keep their TCP
//! header and report how many payload bytes the capture did not keep, so the
//! reassembler can declare exactly that many bytes missing.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, LenSource, TransportSlice};

use crate::capture::{LinkType, Packet};
use crate::time::Timestamp;

/// The TCP header fields reassembly needs, plus the payload as captured.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub ts: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload bytes the segment carried on the wire beyond `payload`
    /// (cut by the snapshot length).
    pub missing_tail: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// What a packet turned out to be.
#[derive(Debug)]
pub enum Sliced<'a> {
    Tcp(TcpSegment<'a>),
    /// Not TCP (ARP, UDP, ICMP, ...).
    NotTcp,
    /// A non-first IP fragment, or a fragmented TCP segment: counted, not
    /// reassembled.
    Fragment,
    /// Too short or inconsistent to carry a TCP header.
    Malformed,
    UnsupportedLink,
}

pub fn slice<'a>(packet: &Packet<'a>) -> Sliced<'a> {
    let data = packet.data;
    let sliced = match packet.link {
        LinkType::ETHERNET => match LaxSlicedPacket::from_ethernet(data) {
            Ok(s) => s,
            Err(_) => return Sliced::Malformed,
        },
        LinkType::LINUX_SLL => {
            // 16-byte header; the protocol (an EtherType for IP) is last.
            let (Some(proto), Some(rest)) = (data.get(14..16), data.get(16..)) else {
                return Sliced::Malformed;
            };
            LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([proto[0], proto[1]])),
                rest,
            )
        }
        LinkType::LINUX_SLL2 => {
            // 20-byte header; the protocol comes first.
            let (Some(proto), Some(rest)) = (data.get(0..2), data.get(20..)) else {
                return Sliced::Malformed;
            };
            LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([proto[0], proto[1]])),
                rest,
            )
        }
        LinkType::NULL | LinkType::LOOP => {
            // A 4-byte address family (host order for NULL, network order
            // for LOOP); IP itself says which version follows.
            let Some(rest) = data.get(4..) else {
                return Sliced::Malformed;
            };
            match LaxSlicedPacket::from_ip(rest) {
                Ok(s) => s,
                Err(_) => return Sliced::NotTcp,
            }
        }
        LinkType::RAW
        | LinkType::RAW_OPENBSD
        | LinkType::RAW_BSDOS
        | LinkType::IPV4
        | LinkType::IPV6 => match LaxSlicedPacket::from_ip(data) {
            Ok(s) => s,
            Err(_) => return Sliced::Malformed,
        },
        _ => return Sliced::UnsupportedLink,
    };
    let cut_by_snaplen = u64::from(packet.orig_len).saturating_sub(data.len() as u64);
    from_lax(packet.ts, &sliced, cut_by_snaplen)
}

fn from_lax<'a>(ts: Timestamp, sliced: &LaxSlicedPacket<'a>, cut_by_snaplen: u64) -> Sliced<'a> {
    let Some(net) = &sliced.net else {
        return Sliced::NotTcp;
    };
    let (src_ip, dst_ip, ip_payload, declared_ip_payload): (IpAddr, IpAddr, _, Option<usize>) =
        match net {
            LaxNetSlice::Ipv4(ip) => {
                let header = ip.header();
                let declared =
                    usize::from(header.total_len()).checked_sub(usize::from(header.ihl()) * 4);
                (
                    IpAddr::V4(header.source_addr()),
                    IpAddr::V4(header.destination_addr()),
                    ip.payload(),
                    declared,
                )
            }
            LaxNetSlice::Ipv6(ip) => {
                let header = ip.header();
                let declared =
                    usize::from(header.payload_length()).checked_sub(ip.extensions().slice().len());
                (
                    IpAddr::V6(header.source_addr()),
                    IpAddr::V6(header.destination_addr()),
                    ip.payload(),
                    declared,
                )
            }
            LaxNetSlice::Arp(_) => return Sliced::NotTcp,
        };
    if ip_payload.ip_number != etherparse::IpNumber::TCP {
        return if ip_payload.fragmented {
            Sliced::Fragment
        } else {
            Sliced::NotTcp
        };
    }
    if ip_payload.fragmented {
        return Sliced::Fragment;
    }
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
        return Sliced::Malformed;
    };
    let payload = tcp.payload();
    let header_len = tcp.slice().len().saturating_sub(payload.len());
    let missing_tail = if ip_payload.incomplete {
        let declared = match ip_payload.len_source {
            LenSource::Ipv4HeaderTotalLen | LenSource::Ipv6HeaderPayloadLen => declared_ip_payload,
            _ => None,
        };
        match declared {
            Some(ip_len) => ip_len
                .saturating_sub(header_len)
                .saturating_sub(payload.len()) as u64,
            None => cut_by_snaplen,
        }
    } else {
        0
    };
    Sliced::Tcp(TcpSegment {
        ts,
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        payload,
        missing_tail: u32::try_from(missing_tail).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_ipv4_ethernet(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 9501, 1000, 512)
            .ack(77)
            .psh();
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    fn packet(link: LinkType, data: &[u8], orig_len: usize) -> Packet<'_> {
        Packet {
            ts: Timestamp::ZERO,
            link,
            orig_len: orig_len as u32,
            data,
        }
    }

    #[test]
    fn slices_ethernet_ipv4_tcp() {
        let frame = tcp_ipv4_ethernet(b"hello");
        let Sliced::Tcp(seg) = slice(&packet(LinkType::ETHERNET, &frame, frame.len())) else {
            panic!("not tcp");
        };
        assert_eq!(seg.src.to_string(), "10.0.0.1:40000");
        assert_eq!(seg.dst.to_string(), "10.0.0.2:9501");
        assert_eq!((seg.seq, seg.ack), (1000, 77));
        assert!(seg.flags.ack && !seg.flags.syn);
        assert_eq!(seg.payload, b"hello");
        assert_eq!(seg.missing_tail, 0);
    }

    #[test]
    fn snaplen_cut_reports_missing_payload() {
        let frame = tcp_ipv4_ethernet(&[7u8; 100]);
        let cut = &frame[..frame.len() - 60];
        let Sliced::Tcp(seg) = slice(&packet(LinkType::ETHERNET, cut, frame.len())) else {
            panic!("not tcp");
        };
        assert_eq!(seg.payload.len(), 40);
        assert_eq!(seg.missing_tail, 60);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut frame = tcp_ipv4_ethernet(b"");
        frame.extend_from_slice(&[0; 6]);
        let Sliced::Tcp(seg) = slice(&packet(LinkType::ETHERNET, &frame, frame.len())) else {
            panic!("not tcp");
        };
        assert!(seg.payload.is_empty());
    }

    #[test]
    fn cooked_v1_and_v2_and_loop() {
        let frame = tcp_ipv4_ethernet(b"abc");
        let ip = &frame[14..];
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(ip);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(ip);
        let mut lo = 2u32.to_ne_bytes().to_vec();
        lo.extend_from_slice(ip);
        for (link, data) in [
            (LinkType::LINUX_SLL, &sll),
            (LinkType::LINUX_SLL2, &sll2),
            (LinkType::NULL, &lo),
        ] {
            let Sliced::Tcp(seg) = slice(&packet(link, data, data.len())) else {
                panic!("{link:?} not tcp");
            };
            assert_eq!(seg.payload, b"abc", "{link:?}");
        }
    }

    #[test]
    fn short_and_unknown_input_never_panics() {
        for n in 0..60 {
            let data = vec![0x45u8; n];
            for link in [
                LinkType::ETHERNET,
                LinkType::LINUX_SLL,
                LinkType::LINUX_SLL2,
                LinkType::RAW,
                LinkType::NULL,
            ] {
                let _ = slice(&packet(link, &data, n));
            }
        }
        assert!(matches!(
            slice(&packet(LinkType(147), &[1, 2, 3], 3)),
            Sliced::UnsupportedLink
        ));
    }
}
