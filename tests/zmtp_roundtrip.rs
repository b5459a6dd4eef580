//! Property: random messages and commands, encoded with random framing
//! choices in every ZMTP version and cut into random TCP segments, decode
//! back exactly — every frame's length, MORE flag and bytes, every command.

use std::net::SocketAddr;

use proptest::prelude::*;
use zmqtrace::net::{TcpFlags, TcpSegment};
use zmqtrace::ports::PortSet;
use zmqtrace::tcp::{Connection, Reassembler, TcpConfig};
use zmqtrace::time::Timestamp;
use zmqtrace::zmtp::{DecoderLimits, ZmtpDecoder, ZmtpEvent, ZmtpSink};

#[derive(Debug, Clone)]
enum Unit {
    /// Frames (body, long form even when short).
    Message(Vec<(Vec<u8>, bool)>),
    Ping(u16, Vec<u8>),
    Subscribe(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Wire {
    V10,
    V20,
    V31,
}

fn encode_frame(out: &mut Vec<u8>, wire: Wire, body: &[u8], more: bool, long: bool, command: bool) {
    match wire {
        Wire::V10 => {
            let len = body.len() as u64 + 1;
            if long || len >= 255 {
                out.push(0xff);
                out.extend_from_slice(&len.to_be_bytes());
            } else {
                out.push(len as u8);
            }
            out.push(u8::from(more));
        }
        Wire::V20 | Wire::V31 => {
            let long = long || body.len() > 255;
            let flags = u8::from(more) | if long { 2 } else { 0 } | if command { 4 } else { 0 };
            out.push(flags);
            if long {
                out.extend_from_slice(&(body.len() as u64).to_be_bytes());
            } else {
                out.push(body.len() as u8);
            }
        }
    }
    out.extend_from_slice(body);
}

fn stream(wire: Wire, units: &[Unit]) -> Vec<u8> {
    let mut out = Vec::new();
    match wire {
        Wire::V10 => encode_frame(&mut out, wire, b"", false, false, false),
        Wire::V20 => {
            out.extend_from_slice(&[0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 5]);
            encode_frame(&mut out, wire, b"", false, false, false);
        }
        Wire::V31 => {
            let mut g = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1];
            g.extend_from_slice(b"NULL");
            g.resize(64, 0);
            out.extend_from_slice(&g);
            encode_frame(
                &mut out,
                wire,
                b"\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER",
                false,
                false,
                true,
            );
        }
    }
    for unit in units {
        match unit {
            Unit::Message(frames) => {
                for (i, (body, long)) in frames.iter().enumerate() {
                    encode_frame(&mut out, wire, body, i + 1 < frames.len(), *long, false);
                }
            }
            Unit::Ping(ttl, context) if wire == Wire::V31 => {
                let mut body = b"\x04PING".to_vec();
                body.extend_from_slice(&ttl.to_be_bytes());
                body.extend_from_slice(context);
                encode_frame(&mut out, wire, &body, false, false, true);
            }
            Unit::Subscribe(topic) if wire == Wire::V31 => {
                let mut body = b"\x09SUBSCRIBE".to_vec();
                body.extend_from_slice(topic);
                encode_frame(&mut out, wire, &body, false, false, true);
            }
            _ => {}
        }
    }
    out
}

#[derive(Default)]
struct Got(Vec<String>);

impl ZmtpSink for Got {
    fn event(&mut self, _: &Connection, event: ZmtpEvent<'_>) {
        match event {
            ZmtpEvent::Message(m) => {
                let frames: Vec<String> = m
                    .frames
                    .iter()
                    .map(|f| format!("{}{}{:?}", f.len, if f.more { "+" } else { "" }, m.kept(f)))
                    .collect();
                self.0.push(format!("message {}", frames.join(" ")));
            }
            ZmtpEvent::Command(c) if c.name == "PING" || c.name == "SUBSCRIBE" => {
                self.0.push(format!("command {} {}", c.name, c.len))
            }
            ZmtpEvent::Command(_) | ZmtpEvent::Greeting { .. } => {}
            other => self.0.push(format!("unexpected {other:?}")),
        }
    }
}

fn expected(wire: Wire, units: &[Unit]) -> Vec<String> {
    units
        .iter()
        .filter_map(|u| match u {
            Unit::Message(frames) => Some(format!(
                "message {}",
                frames
                    .iter()
                    .enumerate()
                    .map(|(i, (b, _))| format!(
                        "{}{}{:?}",
                        b.len(),
                        if i + 1 < frames.len() { "+" } else { "" },
                        b.as_slice()
                    ))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            Unit::Ping(_, ctx) if wire == Wire::V31 => {
                Some(format!("command PING {}", 7 + ctx.len()))
            }
            Unit::Subscribe(t) if wire == Wire::V31 => {
                Some(format!("command SUBSCRIBE {}", 10 + t.len()))
            }
            _ => None,
        })
        .collect()
}

fn unit() -> impl Strategy<Value = Unit> {
    prop_oneof![
        6 => proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..600), proptest::bool::weighted(0.1)),
            1..5
        )
        .prop_map(Unit::Message),
        1 => (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..16)).prop_map(|(t, c)| Unit::Ping(t, c)),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Unit::Subscribe),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn encoded_messages_decode_back_exactly(
        wire in prop_oneof![Just(Wire::V10), Just(Wire::V20), Just(Wire::V31)],
        units in proptest::collection::vec(unit(), 1..30),
        cuts in proptest::collection::vec(1usize..1500, 1..50),
    ) {
        let bytes = stream(wire, &units);
        let peer = stream(wire, &[]);
        let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let server: SocketAddr = "10.0.0.2:9501".parse().unwrap();
        let mut tcp = Reassembler::new(TcpConfig::default());
        let mut zmtp = ZmtpDecoder::new(PortSet::default(), true, DecoderLimits::default(), Got::default());
        fn seg(src: SocketAddr, dst: SocketAddr, seq: u32, flags: TcpFlags, payload: &[u8]) -> TcpSegment<'_> {
            TcpSegment {
                ts: Timestamp::from_nanos(1),
                src,
                dst,
                seq,
                ack: 0,
                flags,
                payload,
                missing_tail: 0,
            }
        }
        let syn = TcpFlags { syn: true, ..TcpFlags::default() };
        tcp.segment(&seg(client, server, 99, syn, &[]), &mut zmtp);
        tcp.segment(&seg(server, client, 499, TcpFlags { syn: true, ack: true, ..TcpFlags::default() }, &[]), &mut zmtp);
        // The server's opening first (libzmq sends its signature at once).
        tcp.segment(&seg(server, client, 500, TcpFlags::default(), &peer), &mut zmtp);
        let mut pos = 0usize;
        let mut i = 0;
        while pos < bytes.len() {
            let n = cuts[i % cuts.len()].min(bytes.len() - pos);
            tcp.segment(&seg(client, server, 100 + pos as u32, TcpFlags::default(), &bytes[pos..pos + n]), &mut zmtp);
            pos += n;
            i += 1;
        }
        tcp.finish(&mut zmtp);
        let got = zmtp.into_sink().0;
        prop_assert_eq!(got, expected(wire, &units));
    }
}

/// What was kept of each frame: its first bytes and, when cut, its last.
#[derive(Default)]
struct KeptAndTails(Vec<(u64, Vec<u8>, Vec<u8>)>);

impl ZmtpSink for KeptAndTails {
    fn event(&mut self, _: &Connection, event: ZmtpEvent<'_>) {
        if let ZmtpEvent::Message(m) = event {
            for f in m.frames {
                self.0.push((f.len, m.kept(f).to_vec(), m.tail(f).to_vec()));
            }
        }
    }
}

#[test]
fn a_frame_cut_by_the_keep_limit_keeps_its_last_bytes() {
    let body = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 7 % 251) as u8).collect() };
    let units = [
        Unit::Message(vec![
            (body(100_000), false),
            (body(300), true),
            (body(40), false),
        ]),
        Unit::Message(vec![(body(1_000), false)]),
    ];
    let bytes = stream(Wire::V31, &units);
    let peer = stream(Wire::V31, &[]);
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.2:9501".parse().unwrap();
    let limits = DecoderLimits {
        keep_per_frame: 64,
        ..DecoderLimits::default()
    };
    let mut tcp = Reassembler::new(TcpConfig::default());
    let mut zmtp = ZmtpDecoder::new(PortSet::default(), true, limits, KeptAndTails::default());
    let seg =
        |src: SocketAddr, dst: SocketAddr, seq: u32, flags: TcpFlags, payload: &[u8]| TcpSegment {
            ts: Timestamp::from_nanos(1),
            src,
            dst,
            seq,
            ack: 0,
            flags,
            payload: payload.to_vec().leak(),
            missing_tail: 0,
        };
    let syn = TcpFlags {
        syn: true,
        ..TcpFlags::default()
    };
    let syn_ack = TcpFlags {
        syn: true,
        ack: true,
        ..TcpFlags::default()
    };
    tcp.segment(&seg(client, server, 99, syn, &[]), &mut zmtp);
    tcp.segment(&seg(server, client, 499, syn_ack, &[]), &mut zmtp);
    tcp.segment(
        &seg(server, client, 500, TcpFlags::default(), &peer),
        &mut zmtp,
    );
    for (i, chunk) in bytes.chunks(1_397).enumerate() {
        let seq = 100 + (i * 1_397) as u32;
        tcp.segment(
            &seg(client, server, seq, TcpFlags::default(), chunk),
            &mut zmtp,
        );
    }
    tcp.finish(&mut zmtp);
    let got = zmtp.into_sink().0;
    let want: Vec<(u64, Vec<u8>, Vec<u8>)> = [100_000usize, 300, 40, 1_000]
        .iter()
        .map(|&n| {
            let b = body(n);
            let kept = b[..n.min(64)].to_vec();
            let tail = if n > 64 {
                b[n - (n - 64).min(zmqtrace::zmtp::TAIL_LEN)..].to_vec()
            } else {
                Vec::new()
            };
            (n as u64, kept, tail)
        })
        .collect();
    assert_eq!(got, want);
}
