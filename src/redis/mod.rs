//! The redis protocol beside ZMTP: oslo.messaging's zmq driver keeps its
//! name service ("matchmaker") in redis, so a capture that holds the redis
//! connections says which topic and server listen on which `ip:port`. This
//! layer turns a redis connection's two byte streams into exchanges: each
//! command with its reply, in order. What they mean is the oslo layer's
//! business.

pub mod resp;

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::ports::PortSet;
use crate::tcp::{Connection, Direction, StreamConsumer, StreamEvent};
use crate::time::Timestamp;
use resp::{Read, Value};

/// Where oslo.messaging's zmq driver looks for redis by default.
pub const DEFAULT_PORT: u16 = 6379;

/// Bytes one direction may hold while a value is incomplete. The name
/// service's commands and replies are a few hundred bytes; past this the
/// connection is not followed further (counted).
pub const MAX_BUFFERED: usize = 256 << 10;
/// Commands waiting for their replies on one connection; past this the
/// oldest is answered by nothing (counted).
pub const MAX_PENDING: usize = 1024;
/// Bytes all redis connections together may hold (values still arriving,
/// commands awaiting their reply); the connection that goes over it is
/// abandoned.
pub const MAX_TOTAL: usize = 64 << 20;
/// Arguments of one command kept (a `SADD` may name thousands of members).
pub const MAX_ARGS: usize = 64;
/// Bytes of one argument kept.
pub const MAX_ARG: usize = 1024;

/// One command and, when it came, its reply.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// The client and the redis server.
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub command_ts: Timestamp,
    /// The command's name and arguments (at most [`MAX_ARGS`], each cut at
    /// [`MAX_ARG`] bytes).
    pub command: &'a [Vec<u8>],
    /// The command had more arguments, or longer ones, than were kept.
    pub command_cut: bool,
    /// The reply and when it came; None: the connection ended, or lost
    /// bytes, before it (or was picked up midway).
    pub reply: Option<(&'a Value<'a>, Timestamp)>,
}

impl Exchange<'_> {
    /// Whether the command is `name` (redis reads names in any case).
    pub fn is(&self, name: &str) -> bool {
        self.command
            .first()
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    pub fn arg(&self, i: usize) -> Option<&[u8]> {
        self.command.get(i).map(Vec::as_slice)
    }
}

/// A consumer of redis exchanges (the oslo layer's name book).
pub trait RedisSink {
    fn exchange(&mut self, exchange: &Exchange<'_>);
}

/// What the redis layer counted, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedisCounters {
    pub connections: u64,
    pub commands: u64,
    pub replies: u64,
    /// Commands whose reply is not in the capture.
    pub unanswered: u64,
    /// Replies with no command before them in the capture.
    pub unmatched_replies: u64,
    /// Connections not followed to their end: bytes that are not RESP, a
    /// gap, a value over [`MAX_BUFFERED`], or all connections together
    /// holding over [`MAX_TOTAL`].
    pub abandoned: u64,
    pub commands_cut: u64,
    pub pending_evicted: u64,
    /// Connections picked up midway: commands read, replies not paired.
    pub midstream: u64,
}

struct Pending {
    ts: Timestamp,
    command: Vec<Vec<u8>>,
    cut: bool,
}

/// One direction's bytes that do not yet make a whole value.
#[derive(Default)]
struct Held {
    bytes: Vec<u8>,
    /// Read them again once they reach this length.
    retry_at: usize,
}

struct RedisConn {
    /// Which stream carries the commands (the side that is not on the
    /// redis port).
    commands: Direction,
    client: SocketAddr,
    server: SocketAddr,
    held: [Held; 2],
    pending: VecDeque<Pending>,
    /// What the pending commands hold, in bytes.
    pending_bytes: usize,
    /// No longer followed (counted in `abandoned`).
    abandoned: bool,
    /// Picked up midway: the replies to commands sent before the capture
    /// may still be on their way, so no reply is read; each command is
    /// passed on as it comes, without one.
    midstream: bool,
    /// The command stream is read from a command's start (midway: from
    /// the first line that opens an array).
    synced: bool,
}

/// Follows the connections on the redis ports.
pub struct RedisDecoder {
    ports: PortSet,
    conns: crate::FastMap<u64, RedisConn>,
    counters: RedisCounters,
    /// What all connections hold, against `budget` ([`MAX_TOTAL`]).
    held_total: usize,
    budget: usize,
}

impl RedisDecoder {
    pub fn new(ports: PortSet) -> Self {
        RedisDecoder {
            ports,
            conns: crate::FastMap::default(),
            counters: RedisCounters::default(),
            held_total: 0,
            budget: MAX_TOTAL,
        }
    }

    /// Whether a connection is a redis one: by its server's port, or by
    /// its client's when its handshake was not seen (the ends may then be
    /// the wrong way round).
    pub fn claims(&self, conn: &Connection) -> bool {
        self.ports.contains(conn.server.port())
            || ((conn.midstream || conn.flipped) && self.ports.contains(conn.client.port()))
    }

    pub fn counters(&self) -> &RedisCounters {
        &self.counters
    }

    pub fn event(&mut self, conn: &Connection, event: StreamEvent<'_>, sink: &mut dyn RedisSink) {
        match event {
            StreamEvent::Open { .. } => {
                // Commands travel towards the redis port.
                let (commands, client, server) = if self.ports.contains(conn.server.port()) {
                    (Direction::ClientToServer, conn.client, conn.server)
                } else {
                    (Direction::ServerToClient, conn.server, conn.client)
                };
                self.counters.connections += 1;
                self.counters.midstream += u64::from(conn.midstream);
                self.conns.insert(
                    conn.id,
                    RedisConn {
                        commands,
                        client,
                        server,
                        held: Default::default(),
                        pending: VecDeque::new(),
                        pending_bytes: 0,
                        abandoned: false,
                        midstream: conn.midstream,
                        synced: !conn.midstream,
                    },
                );
            }
            StreamEvent::Data { dir, ts, bytes, .. } => {
                let Some(state) = self.conns.get_mut(&conn.id) else {
                    return;
                };
                if !state.abandoned {
                    let before = state.footprint();
                    state.data(dir, ts, bytes, &mut self.counters, sink);
                    self.held_total = self.held_total.saturating_sub(before) + state.footprint();
                    if self.held_total > self.budget {
                        let held = state.footprint();
                        state.abandon(&mut self.counters, sink);
                        self.held_total = self.held_total.saturating_sub(held);
                    }
                }
            }
            StreamEvent::Gap { .. } => {
                // RESP has no markers to find the next value by.
                if let Some(state) = self.conns.get_mut(&conn.id) {
                    self.held_total = self.held_total.saturating_sub(state.footprint());
                    state.abandon(&mut self.counters, sink);
                }
            }
            StreamEvent::Close { ts, .. } => {
                if let Some(mut state) = self.conns.remove(&conn.id) {
                    self.held_total = self.held_total.saturating_sub(state.footprint());
                    state.flush(ts, &mut self.counters, sink);
                    state.unanswered(&mut self.counters, sink);
                }
            }
        }
    }
}

/// What a pending command holds.
fn pending_size(p: &Pending) -> usize {
    p.command
        .iter()
        .map(|a| a.len() + std::mem::size_of::<Vec<u8>>())
        .sum::<usize>()
        + std::mem::size_of::<Pending>()
}

impl RedisConn {
    /// The bytes this connection holds.
    fn footprint(&self) -> usize {
        self.held.iter().map(|h| h.bytes.capacity()).sum::<usize>() + self.pending_bytes
    }

    fn held(&mut self, dir: Direction) -> &mut Held {
        let [c2s, s2c] = &mut self.held;
        match dir {
            Direction::ClientToServer => c2s,
            Direction::ServerToClient => s2c,
        }
    }

    fn data(
        &mut self,
        dir: Direction,
        ts: Timestamp,
        bytes: &[u8],
        counters: &mut RedisCounters,
        sink: &mut dyn RedisSink,
    ) {
        if dir != self.commands && self.midstream {
            // Never paired midway (see `midstream`), so never read: a
            // stream entered inside a value would only look invalid.
            return;
        }
        let held = self.held(dir);
        if held.bytes.is_empty() {
            // Zero-copy when nothing is held: read straight from the segment.
            if let Some(used) = self.read_all(dir, bytes, ts, counters, sink) {
                let rest = bytes.get(used..).unwrap_or_default().to_vec();
                self.keep(dir, rest, counters, sink);
            }
            return;
        }
        held.bytes.extend_from_slice(bytes);
        if held.bytes.len() < held.retry_at && held.bytes.len() <= MAX_BUFFERED {
            // A large value still arriving: read it again only once a
            // quarter more has come, so a slow value costs linear time.
            return;
        }
        let mut input = std::mem::take(&mut held.bytes);
        if let Some(used) = self.read_all(dir, &input, ts, counters, sink) {
            input.drain(..used.min(input.len()));
            self.keep(dir, input, counters, sink);
        }
    }

    /// Read every whole value in `input`; how many bytes they took, or
    /// None when the connection was abandoned.
    fn read_all(
        &mut self,
        dir: Direction,
        input: &[u8],
        ts: Timestamp,
        counters: &mut RedisCounters,
        sink: &mut dyn RedisSink,
    ) -> Option<usize> {
        let commands = dir == self.commands;
        let mut at = 0;
        if commands && !self.synced {
            match sync_point(input) {
                Some(start) => {
                    at = start;
                    self.synced = true;
                }
                // Keep what could begin a "\r\n*" across segments.
                None => return Some(input.len().saturating_sub(2)),
            }
        }
        while at < input.len() {
            let rest = input.get(at..).unwrap_or_default();
            let read = if commands {
                resp::read_command(rest)
            } else {
                resp::read_value(rest)
            };
            match read {
                Read::Value { value, used, push } => {
                    at += used.max(1);
                    if commands {
                        self.command(ts, &value, counters, sink);
                    } else if !push {
                        self.reply(ts, &value, counters, sink);
                    }
                }
                Read::Incomplete => break,
                Read::Invalid(_) => {
                    self.abandon(counters, sink);
                    return None;
                }
            }
        }
        Some(at)
    }

    /// Hold what is left of a direction's bytes until more arrive.
    fn keep(
        &mut self,
        dir: Direction,
        rest: Vec<u8>,
        counters: &mut RedisCounters,
        sink: &mut dyn RedisSink,
    ) {
        if rest.len() > MAX_BUFFERED {
            // A value larger than zmqtrace holds.
            self.abandon(counters, sink);
            return;
        }
        *self.held(dir) = Held {
            retry_at: next_retry(rest.len()),
            bytes: rest,
        };
    }

    /// At the end: what a deferred read left whole is still read.
    fn flush(&mut self, ts: Timestamp, counters: &mut RedisCounters, sink: &mut dyn RedisSink) {
        for dir in [self.commands, self.commands.reverse()] {
            let held = std::mem::take(&mut self.held(dir).bytes);
            if !self.abandoned && !held.is_empty() {
                let _ = self.read_all(dir, &held, ts, counters, sink);
            }
        }
    }

    /// Hand a command, and its reply when there is one, to the sink.
    fn pass_on(
        &self,
        p: &Pending,
        reply: Option<(&Value<'_>, Timestamp)>,
        sink: &mut dyn RedisSink,
    ) {
        sink.exchange(&Exchange {
            client: self.client,
            server: self.server,
            command_ts: p.ts,
            command: &p.command,
            command_cut: p.cut,
            reply,
        });
    }

    fn command(
        &mut self,
        ts: Timestamp,
        value: &Value<'_>,
        counters: &mut RedisCounters,
        sink: &mut dyn RedisSink,
    ) {
        // Redis answers neither an empty line nor `*0`.
        let Value::List(items) = value else {
            return;
        };
        if items.is_empty() {
            return;
        }
        counters.commands += 1;
        let mut cut = items.len() > MAX_ARGS;
        let command = items
            .iter()
            .take(MAX_ARGS)
            .map(|v| match v {
                Value::Text(t) => {
                    cut |= t.len() > MAX_ARG;
                    t.get(..MAX_ARG).unwrap_or(t).to_vec()
                }
                _ => Vec::new(),
            })
            .collect();
        counters.commands_cut += u64::from(cut);
        let p = Pending { ts, command, cut };
        if self.midstream {
            self.pass_on(&p, None, sink);
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            if let Some(old) = self.pending.pop_front() {
                // Still says what was asked (a SADD registers regardless).
                counters.pending_evicted += 1;
                self.pending_bytes = self.pending_bytes.saturating_sub(pending_size(&old));
                self.pass_on(&old, None, sink);
            }
        }
        self.pending_bytes += pending_size(&p);
        self.pending.push_back(p);
    }

    fn reply(
        &mut self,
        ts: Timestamp,
        value: &Value<'_>,
        counters: &mut RedisCounters,
        sink: &mut dyn RedisSink,
    ) {
        counters.replies += 1;
        match self.pending.pop_front() {
            Some(p) => {
                self.pending_bytes = self.pending_bytes.saturating_sub(pending_size(&p));
                self.pass_on(&p, Some((value, ts)), sink)
            }
            None => counters.unmatched_replies += 1,
        }
    }

    /// Commands that will get no reply in the capture still say what was
    /// asked (a `SADD` registers whether or not its `:1` was captured).
    fn unanswered(&mut self, counters: &mut RedisCounters, sink: &mut dyn RedisSink) {
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        counters.unanswered += pending.len() as u64;
        for p in &pending {
            self.pass_on(p, None, sink);
        }
    }

    fn abandon(&mut self, counters: &mut RedisCounters, sink: &mut dyn RedisSink) {
        if !self.abandoned {
            counters.abandoned += 1;
            self.abandoned = true;
        }
        self.held = Default::default();
        self.unanswered(counters, sink);
    }
}

/// Held bytes above this are read again only after a quarter more has
/// arrived (the name service's values are far smaller).
const EAGER_READ: usize = 4096;

fn next_retry(held: usize) -> usize {
    if held > EAGER_READ {
        held + held / 4
    } else {
        0
    }
}

/// Where a command starts in a stream picked up midway: at the start, or
/// after the first line end followed by an array.
fn sync_point(input: &[u8]) -> Option<usize> {
    if input.first() == Some(&b'*') {
        return Some(0);
    }
    memchr::memmem::find(input, b"\r\n*").map(|i| i + 2)
}

/// A redis decoder alone is a stream consumer too (tests, fuzzing).
pub struct Standalone<S> {
    pub decoder: RedisDecoder,
    pub sink: S,
}

impl<S: RedisSink> StreamConsumer for Standalone<S> {
    fn event(&mut self, conn: &Connection, event: StreamEvent<'_>) {
        if self.decoder.claims(conn) {
            self.decoder.event(conn, event, &mut self.sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{TcpFlags, TcpSegment};
    use crate::tcp::{Reassembler, TcpConfig};

    #[derive(Default)]
    struct Seen(Vec<String>);

    impl RedisSink for Seen {
        fn exchange(&mut self, x: &Exchange<'_>) {
            let args: Vec<String> = x
                .command
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let reply = match x.reply {
                Some((v, _)) => format!(
                    "{:?}",
                    v.texts()
                        .iter()
                        .map(|t| String::from_utf8_lossy(t))
                        .collect::<Vec<_>>()
                ),
                None => "none".into(),
            };
            self.0.push(format!(
                "{} -> {reply}{}",
                args.join(" "),
                if x.command_cut { " (cut)" } else { "" }
            ));
        }
    }

    struct Wire {
        tcp: Reassembler,
        redis: Standalone<Seen>,
        seq: [u32; 2],
        client: SocketAddr,
        server: SocketAddr,
        ts: u64,
    }

    impl Wire {
        /// A connection to redis (or, `reversed`, seen from its first
        /// reply, so the reassembler takes redis for the client).
        fn new(handshake: bool) -> Wire {
            let mut wire = Wire {
                tcp: Reassembler::new(TcpConfig::default()),
                redis: Standalone {
                    decoder: RedisDecoder::new("6379".parse().unwrap()),
                    sink: Seen::default(),
                },
                seq: [1000, 5000],
                client: "10.0.0.1:40000".parse().unwrap(),
                server: "10.0.0.4:6379".parse().unwrap(),
                ts: 1,
            };
            if handshake {
                wire.handshake();
            }
            wire
        }

        fn segment(&mut self, c2s: bool, seq: u32, flags: TcpFlags, payload: &[u8]) {
            let (src, dst) = if c2s {
                (self.client, self.server)
            } else {
                (self.server, self.client)
            };
            self.ts += 1000;
            let seg = TcpSegment {
                ts: Timestamp::from_nanos(self.ts),
                src,
                dst,
                seq,
                ack: 1,
                flags,
                payload,
                missing_tail: 0,
            };
            self.tcp.segment(&seg, &mut self.redis);
        }

        /// Bytes in segments of `chunk` bytes.
        fn send(&mut self, c2s: bool, bytes: &[u8], chunk: usize) {
            let ack = TcpFlags {
                ack: true,
                ..TcpFlags::default()
            };
            for piece in bytes.chunks(chunk) {
                let i = usize::from(!c2s);
                let seq = self.seq[i];
                self.segment(c2s, seq, ack, piece);
                self.seq[i] = seq.wrapping_add(piece.len() as u32);
            }
        }

        /// A new connection from another client port, with its handshake.
        fn reconnect(&mut self, port: u16) {
            self.client.set_port(port);
            self.seq = [1000, 5000];
            self.handshake();
        }

        fn handshake(&mut self) {
            let syn = TcpFlags {
                syn: true,
                ..TcpFlags::default()
            };
            let syn_ack = TcpFlags {
                syn: true,
                ack: true,
                ..TcpFlags::default()
            };
            self.segment(true, 999, syn, &[]);
            self.segment(false, 4999, syn_ack, &[]);
        }

        fn skip(&mut self, c2s: bool, n: u32) {
            let i = usize::from(!c2s);
            self.seq[i] = self.seq[i].wrapping_add(n);
        }

        fn end(mut self) -> (Vec<String>, RedisCounters) {
            self.tcp.finish(&mut self.redis);
            (self.redis.sink.0, self.redis.decoder.counters().clone())
        }
    }

    const SADD: &[u8] =
        b"*3\r\n$4\r\nSADD\r\n$21\r\nROUTER/compute/node-1\r\n$16\r\n127.0.11.2:50679\r\n";
    const SMEMBERS: &[u8] = b"*2\r\n$8\r\nSMEMBERS\r\n$7\r\nROUTERS\r\n";

    #[test]
    fn commands_pair_with_replies_however_the_bytes_are_cut() {
        for chunk in [1, 3, 7, 1000] {
            let mut wire = Wire::new(true);
            // Pipelined: two commands before either reply.
            wire.send(true, &[SADD, SMEMBERS].concat(), chunk);
            wire.send(false, b":1\r\n~1\r\n$16\r\n127.0.14.4:52182\r\n", chunk);
            wire.send(true, b"PING\r\n", chunk);
            wire.send(false, b">2\r\n$10\r\ninvalidate\r\n*0\r\n+PONG\r\n", chunk);
            let (seen, counters) = wire.end();
            assert_eq!(
                seen,
                vec![
                    "SADD ROUTER/compute/node-1 127.0.11.2:50679 -> []",
                    "SMEMBERS ROUTERS -> [\"127.0.14.4:52182\"]",
                    "PING -> [\"PONG\"]",
                ],
                "segments of {chunk}"
            );
            assert_eq!(counters.commands, 3);
            assert_eq!(counters.replies, 3);
            assert_eq!(counters.abandoned, 0);
        }
    }

    #[test]
    fn what_redis_does_not_answer_is_not_waited_for() {
        // An empty inline line and an empty array get no reply from redis;
        // queued, they would shift the SMEMBERS answer onto them.
        let mut wire = Wire::new(true);
        wire.send(true, &[&b"\r\n*0\r\n"[..], SMEMBERS].concat(), 1000);
        wire.send(false, b"*1\r\n$16\r\n127.0.14.4:52182\r\n", 1000);
        let (seen, counters) = wire.end();
        assert_eq!(seen, vec!["SMEMBERS ROUTERS -> [\"127.0.14.4:52182\"]"]);
        assert_eq!(counters.commands, 1);
    }

    #[test]
    fn a_gap_ends_the_connection_and_says_what_went_unanswered() {
        let mut wire = Wire::new(true);
        wire.send(true, SADD, 1000);
        wire.skip(false, 10);
        wire.send(false, b":1\r\n", 1000);
        let (seen, counters) = wire.end();
        assert_eq!(
            seen,
            vec!["SADD ROUTER/compute/node-1 127.0.11.2:50679 -> none"]
        );
        assert_eq!(counters.abandoned, 1);
        assert_eq!(counters.unanswered, 1);
    }

    #[test]
    fn a_connection_picked_up_midway_pairs_no_reply_and_reads_commands_from_a_start() {
        // The capture begins inside a SADD's member and before the reply
        // to a command sent earlier: the fragment is skipped, the next
        // command read whole and passed on at once, and no reply paired
        // (it could answer a command from before the capture).
        let mut wire = Wire::new(false);
        wire.send(false, b":1\r\n", 1000);
        wire.send(true, b"11.2:50679\r\n", 1000);
        wire.send(true, &[SADD, SMEMBERS].concat(), 5);
        wire.send(false, b":0\r\n*1\r\n$16\r\n127.0.14.4:52182\r\n", 1000);
        let (seen, counters) = wire.end();
        assert_eq!(
            seen,
            vec![
                "SADD ROUTER/compute/node-1 127.0.11.2:50679 -> none",
                "SMEMBERS ROUTERS -> none"
            ]
        );
        // Replies are not read at all midway.
        assert_eq!(counters.replies, 0);
        assert_eq!(counters.midstream, 1);
        assert_eq!(counters.unanswered, 0);
    }

    #[test]
    fn what_is_not_resp_or_too_large_is_left_counted() {
        let mut wire = Wire::new(true);
        wire.send(true, SMEMBERS, 1000);
        wire.send(false, b"\x16\x03\x01 not redis", 1000);
        let (seen, counters) = wire.end();
        assert_eq!(seen, vec!["SMEMBERS ROUTERS -> none"]);
        assert_eq!(counters.abandoned, 1);

        let mut wire = Wire::new(true);
        let huge = format!("*1\r\n${}\r\n", MAX_BUFFERED + 10);
        wire.send(true, huge.as_bytes(), 1000);
        wire.send(true, &vec![b'x'; MAX_BUFFERED + 10], 1400);
        let (seen, counters) = wire.end();
        assert!(seen.is_empty());
        assert_eq!(counters.abandoned, 1);
    }

    #[test]
    fn large_values_arriving_slowly_are_read_whole() {
        // 8,000 members (~180 KB) in segments of 1,400 bytes: read again
        // only as a quarter more arrives, and still paired.
        let members: Vec<String> = (0..8000)
            .map(|i| format!("10.0.{}.{}:1000", i / 256, i % 256))
            .collect();
        let mut reply = format!("*{}\r\n", members.len());
        for m in &members {
            reply.push_str(&format!("${}\r\n{m}\r\n", m.len()));
        }
        let mut wire = Wire::new(true);
        wire.send(true, SMEMBERS, 1000);
        wire.send(false, reply.as_bytes(), 1400);
        let (seen, counters) = wire.end();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].contains("10.0.31.63:1000"), "the last member");
        assert_eq!(counters.replies, 1);

        // A value that completes while a re-read is deferred is read at
        // the connection's end.
        let body = "x".repeat(5990);
        let value = format!("${}\r\n{body}\r\n", body.len());
        let mut wire = Wire::new(true);
        wire.send(true, SMEMBERS, 1000);
        wire.send(false, &value.as_bytes()[..5000], 5000);
        wire.send(false, &value.as_bytes()[5000..], 5000);
        let (seen, counters) = wire.end();
        assert_eq!(seen.len(), 1);
        assert_eq!(counters.replies, 1);
        assert_eq!(counters.unanswered, 0);
    }

    #[test]
    fn long_commands_are_kept_in_part_and_said_so() {
        let mut command = format!("*{}\r\n$4\r\nSADD\r\n$1\r\nk\r\n", MAX_ARGS + 8).into_bytes();
        for _ in 0..MAX_ARGS + 6 {
            command.extend_from_slice(b"$3\r\nm:1\r\n");
        }
        let mut wire = Wire::new(true);
        wire.send(true, &command, 1000);
        wire.send(false, b":70\r\n", 1000);
        let (seen, counters) = wire.end();
        assert!(seen[0].ends_with("(cut)"));
        assert_eq!(counters.commands_cut, 1);
    }

    #[test]
    fn pending_commands_are_bounded() {
        let mut wire = Wire::new(true);
        wire.send(true, &b"PING\r\n".repeat(MAX_PENDING + 5), 60_000);
        let (seen, counters) = wire.end();
        assert_eq!(counters.pending_evicted, 5);
        // The evicted ones too: without their replies, at once.
        assert_eq!(seen.len(), MAX_PENDING + 5);
    }
    #[test]
    fn all_connections_together_are_held_to_a_budget() {
        let mut wire = Wire::new(false);
        wire.redis.decoder.budget = 1 << 20;
        // 30 connections, each holding 100 KB of a value still arriving.
        let mut partial = b"*3\r\n$4\r\nSADD\r\n$1\r\nk\r\n$200000\r\n".to_vec();
        partial.resize(partial.len() + 100_000, b'x');
        for i in 0..30 {
            wire.reconnect(41000 + i);
            wire.send(true, &partial, 1400);
            assert!(wire.redis.decoder.held_total <= 1 << 20);
        }
        let held = wire.redis.decoder.held_total;
        let (_, counters) = wire.end();
        // About 1 MiB of 3 MB fits: the rest is abandoned, and counted.
        assert!(held > 800_000, "{held}");
        assert!(counters.abandoned >= 19, "{counters:?}");
        assert_eq!(counters.connections, 30);
    }
}
