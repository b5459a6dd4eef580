//! Arbitrary bytes as both directions of a connection to redis, cut into
//! arbitrary segments with holes, then every exchange taught to the oslo
//! layer's name book: no panic, no kept command beyond the limits, and a
//! reply only for a command seen before it.
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use zmqtrace::net::{TcpFlags, TcpSegment};
use zmqtrace::oslo::names::{NameBook, NameCounters};
use zmqtrace::redis::{Exchange, RedisDecoder, RedisSink, Standalone, MAX_ARG, MAX_ARGS};
use zmqtrace::tcp::{Reassembler, TcpConfig};
use zmqtrace::time::Timestamp;

#[derive(Default)]
struct Check {
    book: NameBook,
    counters: NameCounters,
    answered: u64,
}

impl RedisSink for Check {
    fn exchange(&mut self, x: &Exchange<'_>) {
        assert!(x.command.len() <= MAX_ARGS);
        assert!(x.command.iter().all(|a| a.len() <= MAX_ARG));
        assert_eq!(x.reply.is_some(), x.reply_ts.is_some());
        self.answered += u64::from(x.reply.is_some());
        self.book.exchange(x, &mut self.counters);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.4:6379".parse().unwrap();
    let mut tcp = Reassembler::new(TcpConfig::default());
    let mut redis = Standalone {
        decoder: RedisDecoder::new("6379".parse().unwrap()),
        sink: Check::default(),
    };
    let mut seq = [1000u32, 5000u32];
    if mode & 1 == 0 {
        for (src, dst, s, f) in [
            (
                client,
                server,
                999u32,
                TcpFlags {
                    syn: true,
                    ..TcpFlags::default()
                },
            ),
            (
                server,
                client,
                4999u32,
                TcpFlags {
                    syn: true,
                    ack: true,
                    ..TcpFlags::default()
                },
            ),
        ] {
            let seg = TcpSegment {
                ts: Timestamp::from_nanos(1),
                src,
                dst,
                seq: s,
                ack: 1000,
                flags: f,
                payload: &[],
                missing_tail: 0,
            };
            tcp.segment(&seg, &mut redis);
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
        let (src, dst) = if from_client {
            (client, server)
        } else {
            (server, client)
        };
        let seg = TcpSegment {
            ts: Timestamp::from_nanos(2),
            src,
            dst,
            seq: seq[i],
            ack: seq[1 - i],
            flags: TcpFlags {
                ack: true,
                ..TcpFlags::default()
            },
            payload: chunk,
            missing_tail: 0,
        };
        tcp.segment(&seg, &mut redis);
        seq[i] = seq[i].wrapping_add(chunk.len() as u32);
    }
    tcp.finish(&mut redis);
    // Every reply answers the oldest command waiting, or is counted as
    // having none.
    let c = redis.decoder.counters();
    assert_eq!(redis.sink.answered, c.replies - c.unmatched_replies);
});
