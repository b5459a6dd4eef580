//! Shared by the stream targets: arbitrary bytes as one connection's two
//! directions, cut into arbitrary segments with holes, through the
//! reassembler into `consumer`.

use std::net::SocketAddr;

use zmqtrace::net::{TcpFlags, TcpSegment};
use zmqtrace::tcp::{Reassembler, StreamConsumer, TcpConfig};
use zmqtrace::time::Timestamp;

/// `data`: a mode byte (bit 0 clear: the handshake is seen), then records
/// of a control byte (bit 0: direction, bit 1: a hole of `ctl >> 4` + 1
/// bytes before, `ctl >> 2`: length) and that many bytes.
pub fn replay(data: &[u8], client: SocketAddr, server: SocketAddr, consumer: &mut dyn StreamConsumer) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut tcp = Reassembler::new(TcpConfig::default());
    let mut seq = [1000u32, 5000u32];
    if mode & 1 == 0 {
        for (src, dst, s, f) in [
            (client, server, 999u32, TcpFlags { syn: true, ..TcpFlags::default() }),
            (server, client, 4999u32, TcpFlags { syn: true, ack: true, ..TcpFlags::default() }),
        ] {
            let seg = TcpSegment { ts: Timestamp::from_nanos(1), src, dst, seq: s, ack: 1000, flags: f, payload: &[], missing_tail: 0 };
            tcp.segment(&seg, consumer);
        }
    }
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
        tcp.segment(&seg, consumer);
        seq[i] = seq[i].wrapping_add(chunk.len() as u32);
    }
    tcp.finish(consumer);
}
