//! Arbitrary segment sequences on a few connections: events stay contiguous
//! per direction (data and gaps tile the stream), held memory stays under
//! its cap, and everything is released at the end.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use zmqtrace::net::{TcpFlags, TcpSegment};
use zmqtrace::tcp::{Connection, Reassembler, StreamConsumer, StreamEvent, TcpConfig};
use zmqtrace::time::Timestamp;

#[derive(Default)]
struct Checker {
    next: HashMap<(u64, usize), u64>,
}

impl StreamConsumer for Checker {
    fn event(&mut self, conn: &Connection, event: StreamEvent<'_>) {
        let (dir, offset, len) = match event {
            StreamEvent::Data { dir, offset, bytes, .. } => (dir, offset, bytes.len() as u64),
            StreamEvent::Gap { dir, offset, len, .. } => (dir, offset, len),
            _ => return,
        };
        let next = self.next.entry((conn.id, dir.index())).or_insert(offset);
        assert_eq!(*next, offset, "events must tile the stream");
        *next = offset + len;
    }
}

const HELD: usize = 1 << 14;

fuzz_target!(|data: &[u8]| {
    let mut r = Reassembler::new(TcpConfig {
        max_flows: 4,
        max_held_per_direction: HELD,
        max_held_total: HELD * 2,
        ..TcpConfig::default()
    });
    let mut checker = Checker::default();
    let endpoints: [SocketAddr; 3] = [
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:9501".parse().unwrap(),
        "[::1]:9501".parse().unwrap(),
    ];
    let payload = [0x5au8; 1500];
    let mut ts = 0u64;
    // Each 12-byte record: src, dst, flags, len(2), seq(4), ack(4), dt.
    for rec in data.chunks_exact(12) {
        let src = endpoints[usize::from(rec[0]) % 3];
        let dst = endpoints[usize::from(rec[1]) % 3];
        if src == dst {
            continue;
        }
        let f = rec[2];
        let len = usize::from(u16::from_le_bytes([rec[3], rec[4]])) % payload.len();
        ts += u64::from(rec[11]) * 50_000_000;
        let seg = TcpSegment {
            ts: Timestamp::from_nanos(ts),
            src,
            dst,
            seq: u32::from_le_bytes([rec[5], rec[6], rec[7], rec[8]]),
            ack: u32::from_le_bytes([rec[9], rec[10], rec[5], rec[1]]),
            flags: TcpFlags {
                syn: f & 1 != 0,
                ack: f & 2 != 0,
                fin: f & 4 != 0,
                rst: f & 8 != 0,
            },
            payload: &payload[..len],
            missing_tail: if f & 16 != 0 { u32::from(rec[3]) } else { 0 },
        };
        r.segment(&seg, &mut checker);
        assert!(r.held_bytes() <= HELD * 2 + 1600 + 64);
    }
    r.finish(&mut checker);
    assert_eq!(r.held_bytes(), 0);
    assert_eq!(r.live_connections(), 0);
});
