//! Arbitrary bytes as both directions of a connection on an rpc port, cut
//! into arbitrary segments with holes: the ZMTP decoder never panics, never
//! reports a frame longer than the bytes that could carry it, and keeps no
//! more than its limits.
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use zmqtrace::net::{TcpFlags, TcpSegment};
use zmqtrace::ports::PortSet;
use zmqtrace::tcp::{Connection, Reassembler, TcpConfig};
use zmqtrace::time::Timestamp;
use zmqtrace::zmtp::{DecoderLimits, ZmtpDecoder, ZmtpEvent, ZmtpSink};

struct Check {
    limits: DecoderLimits,
}

impl ZmtpSink for Check {
    fn event(&mut self, _: &Connection, event: ZmtpEvent<'_>) {
        if let ZmtpEvent::Message(m) = event {
            let kept: usize = m.frames.iter().map(|f| m.kept(f).len()).sum();
            assert!(kept <= self.limits.keep_per_message + 32 * m.frames.len());
            assert!(m.frames.len() <= self.limits.max_frames);
            for f in m.frames {
                assert!(m.kept(f).len() as u64 <= f.len);
                assert!(m.head(f).len() <= 32);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.2:9501".parse().unwrap();
    let limits = DecoderLimits {
        keep_per_frame: 256,
        keep_per_message: 1024,
        max_command: 512,
        max_frames: 16,
    };
    let mut tcp = Reassembler::new(TcpConfig::default());
    let mut zmtp = ZmtpDecoder::new(PortSet::default(), true, limits.clone(), Check { limits });
    let handshake = mode & 1 == 0;
    let mut seq = [1000u32, 5000u32];
    if handshake {
        for (src, dst, s, f) in [
            (client, server, 999u32, TcpFlags { syn: true, ..TcpFlags::default() }),
            (server, client, 4999u32, TcpFlags { syn: true, ack: true, ..TcpFlags::default() }),
        ] {
            let seg = TcpSegment { ts: Timestamp::from_nanos(1), src, dst, seq: s, ack: 1000, flags: f, payload: &[], missing_tail: 0 };
            tcp.segment(&seg, &mut zmtp);
        }
    }
    // Records: a control byte (direction, hole, length) then that many bytes.
    let mut input = rest;
    while let Some((&ctl, tail)) = input.split_first() {
        let len = usize::from(ctl >> 2).min(tail.len());
        let (chunk, tail) = tail.split_at(len);
        input = tail;
        let from_client = ctl & 1 == 0;
        let i = usize::from(!from_client);
        if ctl & 2 != 0 {
            seq[i] = seq[i].wrapping_add(u32::from(ctl >> 4) + 1);
        }
        let (src, dst) = if from_client { (client, server) } else { (server, client) };
        let seg = TcpSegment {
            ts: Timestamp::from_nanos(2),
            src,
            dst,
            seq: seq[i],
            ack: seq[1 - i],
            flags: TcpFlags { ack: true, ..TcpFlags::default() },
            payload: chunk,
            missing_tail: 0,
        };
        tcp.segment(&seg, &mut zmtp);
        seq[i] = seq[i].wrapping_add(chunk.len() as u32);
    }
    tcp.finish(&mut zmtp);
});
