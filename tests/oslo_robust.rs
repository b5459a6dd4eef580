//! The oslo layer under stress: calls that never get a reply time out by
//! capture time (and at the end of input), a storm of replies for unknown
//! ids stays bounded, the table of waiting calls is capped, and hostile
//! bodies never panic.

use std::net::SocketAddr;

use zmqtrace::net::{TcpFlags, TcpSegment};
use zmqtrace::oslo::{OsloConfig, OsloDecoder, OsloSink, Rpc, RpcEvent};
use zmqtrace::ports::PortSet;
use zmqtrace::tcp::{Connection, Reassembler, TcpConfig};
use zmqtrace::time::Timestamp;
use zmqtrace::zmtp::{DecoderLimits, ZmtpDecoder, ZmtpEvent};

#[derive(Default)]
struct Seen {
    rpc: Vec<Rpc>,
    plain_messages: usize,
    events: Vec<RpcEvent>,
}

impl OsloSink for Seen {
    fn zmtp(&mut self, _: &Connection, event: &ZmtpEvent<'_>, rpc: Option<&Rpc>) {
        if let ZmtpEvent::Message(_) = event {
            match rpc {
                Some(r) => self.rpc.push(r.clone()),
                None => self.plain_messages += 1,
            }
        }
    }
    fn rpc(&mut self, event: &RpcEvent) {
        self.events.push(event.clone());
    }
}

fn frame(out: &mut Vec<u8>, body: &[u8], more: bool) {
    if body.len() > 255 {
        out.push(2 | u8::from(more));
        out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    } else {
        out.push(u8::from(more));
        out.push(body.len() as u8);
    }
    out.extend_from_slice(body);
}

fn opening() -> Vec<u8> {
    opening_as("PUSH")
}

/// A ZMTP 3.1 greeting and READY of a socket of this type.
fn opening_as(socket_type: &str) -> Vec<u8> {
    let mut g = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1];
    g.extend_from_slice(b"NULL");
    g.resize(64, 0);
    let body_len = 1 + 5 + 1 + 11 + 4 + socket_type.len();
    g.extend_from_slice(&[0x04, body_len as u8, 0x05]);
    g.extend_from_slice(b"READY\x0bSocket-Type\x00\x00\x00");
    g.push(socket_type.len() as u8);
    g.extend_from_slice(socket_type.as_bytes());
    g
}

fn message(frames: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        frame(&mut out, f, i + 1 < frames.len());
    }
    out
}

fn legacy_call(msg_id: &str) -> Vec<u8> {
    let body = format!(
        r#"["{{\"request_id\": \"req-1\"}}", {{"method": "-reply", "args": {{"msg_id": "{msg_id}", "topic": "zmq_replies.ctl", "msg": ["{{}}", {{"method": "get_it", "args": {{}}}}]}}}}]"#
    );
    message(&[b"0", b"compute.host1", b"cast", body.as_bytes()])
}

fn legacy_reply(msg_id: &str) -> Vec<u8> {
    let body = format!(
        r#"["{{}}", {{"method": "-process_reply", "args": {{"msg_id": "{msg_id}", "response": [1]}}}}]"#
    );
    message(&[
        msg_id.as_bytes(),
        b"zmq_replies.ctl",
        b"cast",
        body.as_bytes(),
    ])
}

/// One PUSH connection per call of `send`, on loopback port 9501.
struct Net {
    tcp: Reassembler,
    zmtp: ZmtpDecoder<OsloDecoder<Seen>>,
    next_port: u16,
}

impl Net {
    fn new(config: OsloConfig) -> Self {
        Net {
            tcp: Reassembler::new(TcpConfig::default()),
            zmtp: ZmtpDecoder::new(
                PortSet::default(),
                true,
                DecoderLimits::default(),
                OsloDecoder::new(config, Seen::default()),
            ),
            next_port: 30000,
        }
    }

    /// A connection from `from` to `to`:9501 carrying `messages` at `secs`.
    fn send(&mut self, from: [u8; 4], to: [u8; 4], secs: f64, messages: &[Vec<u8>]) {
        let client = SocketAddr::from((from, self.next_port));
        self.next_port = self.next_port.wrapping_add(1).max(30000);
        let server = SocketAddr::from((to, 9501));
        let ts = Timestamp::from_nanos((secs * 1e9) as u64);
        let mut bytes = opening();
        for m in messages {
            bytes.extend_from_slice(m);
        }
        fn seg(
            ts: Timestamp,
            src: SocketAddr,
            dst: SocketAddr,
            seq: u32,
            flags: TcpFlags,
            payload: &[u8],
        ) -> TcpSegment<'_> {
            TcpSegment {
                ts,
                src,
                dst,
                seq,
                ack: 0,
                flags,
                payload,
                missing_tail: 0,
            }
        }
        let greeting = opening();
        let syn = TcpFlags {
            syn: true,
            ..TcpFlags::default()
        };
        self.tcp
            .segment(&seg(ts, client, server, 0, syn, &[]), &mut self.zmtp);
        self.tcp.segment(
            &seg(
                ts,
                server,
                client,
                0,
                TcpFlags {
                    syn: true,
                    ack: true,
                    ..TcpFlags::default()
                },
                &[],
            ),
            &mut self.zmtp,
        );
        self.tcp.segment(
            &seg(ts, server, client, 1, TcpFlags::default(), &greeting),
            &mut self.zmtp,
        );
        self.tcp.segment(
            &seg(ts, client, server, 1, TcpFlags::default(), &bytes),
            &mut self.zmtp,
        );
    }

    /// One connection from `from` to `to`:9501: the client's messages at
    /// their times, then the server's at theirs (after its greeting).
    fn converse(
        &mut self,
        from: [u8; 4],
        to: [u8; 4],
        client_sends: &[(f64, Vec<u8>)],
        server_sends: &[(f64, Vec<u8>)],
    ) {
        self.converse_as("REQ", "ROUTER", from, to, client_sends, server_sends);
    }

    /// [`Net::converse`] between sockets of these types.
    #[allow(clippy::too_many_arguments)]
    fn converse_as(
        &mut self,
        client_type: &str,
        server_type: &str,
        from: [u8; 4],
        to: [u8; 4],
        client_sends: &[(f64, Vec<u8>)],
        server_sends: &[(f64, Vec<u8>)],
    ) {
        let client = SocketAddr::from((from, self.next_port));
        self.next_port = self.next_port.wrapping_add(1).max(30000);
        let server = SocketAddr::from((to, 9501));
        let at = |secs: f64| Timestamp::from_nanos((secs * 1e9) as u64);
        let start = client_sends.first().map_or(0.0, |(t, _)| *t);
        let mut sends: Vec<(f64, bool, Vec<u8>)> = vec![
            (start, true, opening_as(client_type)),
            (start, false, opening_as(server_type)),
        ];
        sends.extend(client_sends.iter().map(|(t, m)| (*t, true, m.clone())));
        sends.extend(server_sends.iter().map(|(t, m)| (*t, false, m.clone())));
        sends.sort_by(|a, b| a.0.total_cmp(&b.0));
        let syn = |ack: bool| TcpFlags {
            syn: true,
            ack,
            ..TcpFlags::default()
        };
        let mut seq = [1u32, 1u32];
        for (src, dst, flags) in [(client, server, syn(false)), (server, client, syn(true))] {
            let segment = TcpSegment {
                ts: at(start),
                src,
                dst,
                seq: 0,
                ack: 0,
                flags,
                payload: &[],
                missing_tail: 0,
            };
            self.tcp.segment(&segment, &mut self.zmtp);
        }
        for (secs, from_client, payload) in &sends {
            let (src, dst, side) = if *from_client {
                (client, server, 0)
            } else {
                (server, client, 1)
            };
            let segment = TcpSegment {
                ts: at(*secs),
                src,
                dst,
                seq: seq[side],
                ack: 0,
                flags: TcpFlags::default(),
                payload,
                missing_tail: 0,
            };
            self.tcp.segment(&segment, &mut self.zmtp);
            seq[side] = seq[side].wrapping_add(payload.len() as u32);
        }
    }

    fn finish(mut self) -> (Seen, zmqtrace::oslo::OsloCounters) {
        self.tcp.finish(&mut self.zmtp);
        let mut oslo = self.zmtp.into_sink();
        oslo.finish();
        let counters = oslo.counters().clone();
        let seen = std::mem::take(oslo.sink_mut());
        (seen, counters)
    }
}

#[test]
fn unanswered_calls_time_out_by_capture_time_and_at_the_end() {
    let mut net = Net::new(OsloConfig {
        rpc_timeout_ns: 1_000_000_000,
        ..OsloConfig::default()
    });
    net.send([10, 0, 0, 1], [10, 0, 0, 2], 10.0, &[legacy_call("a1")]);
    net.send([10, 0, 0, 1], [10, 0, 0, 2], 10.5, &[legacy_call("a2")]);
    net.send([10, 0, 0, 2], [10, 0, 0, 1], 10.6, &[legacy_reply("a2")]);
    // Time passes in the capture: a1 is overdue.
    net.send([10, 0, 0, 1], [10, 0, 0, 2], 20.0, &[legacy_call("a3")]);
    let (seen, counters) = net.finish();
    let timeouts: Vec<_> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            RpcEvent::Timeout(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(timeouts.len(), 2);
    assert_eq!(timeouts[0].msg_id, "a1");
    assert_eq!(timeouts[0].waited_ns, 1_000_000_000);
    assert!(!timeouts[0].at_end_of_input);
    assert_eq!(timeouts[1].msg_id, "a3");
    assert!(timeouts[1].at_end_of_input);
    let calls: Vec<_> = seen
        .events
        .iter()
        .filter(|e| matches!(e, RpcEvent::Call(_)))
        .collect();
    assert_eq!(calls.len(), 1);
    if let RpcEvent::Call(c) = calls[0] {
        assert_eq!(c.msg_id, "a2");
        assert_eq!(c.latency_ns(), 100_000_000);
        assert_eq!(c.method.as_deref(), Some("get_it"));
    }
    assert_eq!((counters.calls, counters.timeouts), (1, 2));
}

#[test]
fn an_answered_calls_deadline_does_not_time_out_a_new_call_with_its_id() {
    let mut net = Net::new(OsloConfig {
        rpc_timeout_ns: 1_000_000_000,
        ..OsloConfig::default()
    });
    net.send([10, 0, 0, 1], [10, 0, 0, 2], 10.0, &[legacy_call("r1")]);
    net.send([10, 0, 0, 2], [10, 0, 0, 1], 10.1, &[legacy_reply("r1")]);
    // The id comes again (a replay, a sender reusing ids) before the first
    // call's deadline at 11.0; the new call's own deadline is 11.8.
    net.send([10, 0, 0, 1], [10, 0, 0, 2], 10.8, &[legacy_call("r1")]);
    // Past the first deadline, before the second: nothing is overdue.
    net.send([10, 0, 0, 1], [10, 0, 0, 2], 11.5, &[legacy_call("other")]);
    net.send([10, 0, 0, 2], [10, 0, 0, 1], 11.6, &[legacy_reply("r1")]);
    net.send([10, 0, 0, 2], [10, 0, 0, 1], 11.7, &[legacy_reply("other")]);
    let (seen, counters) = net.finish();
    let calls: Vec<_> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            RpcEvent::Call(c) => Some((c.msg_id.clone(), c.latency_ns())),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("r1".to_string(), 100_000_000),
            ("r1".to_string(), 800_000_000),
            ("other".to_string(), 200_000_000),
        ]
    );
    assert_eq!((counters.calls, counters.timeouts), (3, 0));
}

#[test]
fn a_reply_storm_for_unknown_ids_is_counted_not_stored() {
    let mut net = Net::new(OsloConfig::default());
    let replies: Vec<Vec<u8>> = (0..10_000)
        .map(|i| legacy_reply(&format!("{i:032x}")))
        .collect();
    net.send([10, 0, 0, 2], [10, 0, 0, 1], 1.0, &replies);
    let (seen, counters) = net.finish();
    assert_eq!(counters.unmatched_replies, 10_000);
    assert_eq!(seen.rpc.len(), 10_000);
    assert!(
        seen.events.is_empty(),
        "no call or timeout out of unknown replies"
    );
}

#[test]
fn the_table_of_waiting_calls_is_capped() {
    let mut net = Net::new(OsloConfig {
        max_pending: 100,
        ..OsloConfig::default()
    });
    let calls: Vec<Vec<u8>> = (0..1_000).map(|i| legacy_call(&format!("c{i}"))).collect();
    net.send([10, 0, 0, 1], [10, 0, 0, 2], 1.0, &calls);
    let (seen, counters) = net.finish();
    assert_eq!(counters.pending_evicted, 900);
    assert_eq!(counters.timeouts, 100);
    assert_eq!(seen.rpc.len(), 1_000);
}

#[test]
fn hostile_bodies_never_panic() {
    let mut net = Net::new(OsloConfig::default());
    let deep = "[".repeat(50_000);
    let huge_args = format!(
        r#"["{{}}", {{"method": "m", "args": {{"blob": "{}"}}}}]"#,
        "x".repeat(200_000)
    );
    let bodies: Vec<Vec<u8>> = vec![
        b"[\"{\\\"trunc".to_vec(),
        vec![0xff, 0xfe, 0x80, 0x00],
        deep.into_bytes(),
        huge_args.into_bytes(),
        b"[null, null]".to_vec(),
        b"\xdd\xff\xff\xff\xff".to_vec(),
    ];
    let mut messages = Vec::new();
    for b in &bodies {
        messages.push(message(&[b"0", b"compute.h", b"cast", b]));
        messages.push(message(&[b"", b"1.0", b"1", b"id", b]));
        messages.push(message(&[b"", b"1.0", b"5", b"id", b]));
        messages.push(message(&[b"\xc3\x28", b"\xff", b"cast", b]));
    }
    net.send([10, 0, 0, 1], [10, 0, 0, 2], 1.0, &messages);
    let (seen, _) = net.finish();
    assert_eq!(seen.rpc.len() + seen.plain_messages, messages.len());
    // The 200 KB argument exceeds what the decoder keeps: the method, at the
    // start, is still named; the arguments are marked unknown, not guessed.
    assert!(seen
        .rpc
        .iter()
        .any(|r| r.truncated && r.method.as_deref() == Some("m") && r.args.is_none()));
}

#[test]
fn a_legacy_copy_sent_on_by_a_third_host_is_a_forward_a_resend_is_not() {
    let mut net = Net::new(OsloConfig::default());
    // haproxy holds the VIP 10.0.0.100 and connects to the receiver from
    // its host's own address, 10.0.0.5.
    net.send([10, 0, 0, 1], [10, 0, 0, 100], 1.0, &[legacy_call("v1")]);
    net.send([10, 0, 0, 5], [10, 0, 0, 7], 1.001, &[legacy_call("v1")]);
    // The client sending the same bytes again, to another host: not a hop
    // of either sighting.
    net.send([10, 0, 0, 1], [10, 0, 0, 8], 1.002, &[legacy_call("v1")]);
    let (seen, counters) = net.finish();
    let forwarded: Vec<bool> = seen.rpc.iter().map(|r| r.forwarded).collect();
    assert_eq!(forwarded, [false, true, false]);
    let forwards: Vec<_> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            RpcEvent::Forward(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(forwards.len(), 1);
    assert_eq!(forwards[0].from_conn, "10.0.0.1:30000>10.0.0.100:9501");
    assert_eq!(forwards[0].to_conn, "10.0.0.5:30001>10.0.0.7:9501");
    assert_eq!(counters.forwards, 1);
}

#[test]
fn a_reply_without_an_id_answers_the_call_before_it_on_its_connection() {
    // oslo.messaging 2.6 .. 3.0: calls over REQ, `'' | pickle(CallRequest)`;
    // the reply dict `'' | pickle({reply, failure, log_failure})` has no id.
    const FIXTURE_ID: &[u8] = b"0c3d7f7e-e971-11f1-b56d-02fc00000001";
    let call_with = |id: &str| {
        let pickled = include_bytes!("fixtures/pickle/call_p2.pickle");
        let at = pickled
            .windows(FIXTURE_ID.len())
            .position(|w| w == FIXTURE_ID)
            .unwrap();
        let mut pickled = pickled.to_vec();
        pickled[at..at + FIXTURE_ID.len()].copy_from_slice(id.as_bytes());
        message(&[b"", &pickled])
    };
    let reply = message(&[b"", include_bytes!("fixtures/pickle/early_reply_p2.pickle")]);
    let (x, y) = (
        "11111111-e971-11f1-b56d-02fc00000001",
        "22222222-e971-11f1-b56d-02fc00000001",
    );
    let mut net = Net::new(OsloConfig::default());
    // Answered on its connection; a second reply there has no call left.
    net.converse(
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        &[(1.0, call_with(x))],
        &[(1.25, reply.clone()), (1.5, reply.clone())],
    );
    // A call whose reply never comes on its connection (one arrives on
    // another that carried no call).
    net.converse([10, 0, 0, 1], [10, 0, 0, 2], &[(2.0, call_with(y))], &[]);
    net.converse(
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        &[(2.4, message(&[b"", b"\x80\x02N."]))],
        &[(2.5, reply.clone())],
    );
    // On a DEALER connection calls overlap: an id-less reply there (a
    // damaged one) answers nothing by its connection.
    let z = "33333333-e971-11f1-b56d-02fc00000001";
    net.converse_as(
        "DEALER",
        "ROUTER",
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        &[(3.0, call_with(z))],
        &[(3.1, reply)],
    );
    let (seen, counters) = net.finish();
    let calls: Vec<_> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            RpcEvent::Call(c) => Some((c.msg_id.clone(), c.latency_ns(), c.failure.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        [(
            x.to_string(),
            250_000_000,
            Some("ValueError: boom".to_string())
        )]
    );
    let timeouts: Vec<_> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            RpcEvent::Timeout(t) => Some(t.msg_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(timeouts, [y.to_string(), z.to_string()]);
    // The paired reply carries its call's id and method; the others none.
    let replies: Vec<_> = seen
        .rpc
        .iter()
        .filter(|r| r.kind == zmqtrace::oslo::Kind::Reply)
        .map(|r| r.msg_id.clone())
        .collect();
    assert_eq!(replies, [Some(x.to_string()), None, None, None]);
    assert_eq!(counters.unmatched_replies, 3);
}

#[test]
fn a_request_pickle_over_the_keep_limit_keeps_its_id() {
    // G1 pickles the message id after the message: a 70 KB cast is cut
    // at 64 KiB and its id is read from the frame's last bytes.
    let big = include_bytes!("fixtures/pickle/big_cast_p2.pickle");
    let mut net = Net::new(OsloConfig::default());
    net.send([10, 0, 0, 1], [10, 0, 0, 2], 1.0, &[message(&[b"", big])]);
    let (seen, counters) = net.finish();
    assert_eq!(seen.rpc.len(), 1);
    let rpc = &seen.rpc[0];
    assert!(rpc.truncated);
    assert_eq!(rpc.kind, zmqtrace::oslo::Kind::Cast);
    assert_eq!(rpc.method.as_deref(), Some("record_metering_data"));
    assert_eq!(
        rpc.msg_id.as_deref(),
        Some("3c3d7f7e-e971-11f1-b56d-02fc00000004")
    );
    assert_eq!(rpc.args, None);
    assert_eq!(counters.truncated_bodies, 1);
}

#[test]
fn a_legacy_call_and_reply_over_the_keep_limit_are_still_paired() {
    let blob = "x".repeat(70_000);
    let call = format!(
        r#"["{{}}", {{"method": "-reply", "args": {{"msg_id": "big1", "topic": "zmq_replies.ctl", "msg": ["{{}}", {{"method": "get_it", "args": {{"blob": "{blob}"}}}}]}}}}]"#
    );
    let reply = format!(
        r#"["{{}}", {{"method": "-process_reply", "args": {{"msg_id": "big1", "response": ["{blob}"]}}}}]"#
    );
    let mut net = Net::new(OsloConfig::default());
    net.send(
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        1.0,
        &[message(&[b"0", b"compute.host1", b"cast", call.as_bytes()])],
    );
    net.send(
        [10, 0, 0, 2],
        [10, 0, 0, 1],
        1.5,
        &[message(&[
            b"0",
            b"zmq_replies.ctl",
            b"cast",
            reply.as_bytes(),
        ])],
    );
    let (seen, counters) = net.finish();
    assert!(seen.rpc.iter().all(|r| r.truncated));
    let calls: Vec<_> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            RpcEvent::Call(c) => Some((c.msg_id.clone(), c.method.clone(), c.latency_ns())),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        [("big1".to_string(), Some("get_it".to_string()), 500_000_000)]
    );
    assert_eq!((counters.timeouts, counters.unmatched_replies), (0, 0));
}
