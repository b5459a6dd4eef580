//! Reassembly against synthetic segments: the exact bytes present plus
//! exactly sized gaps, whatever the order, duplication, overlap and loss.

use std::net::SocketAddr;

use proptest::prelude::*;

use super::*;
use crate::net::{TcpFlags, TcpSegment};

const CLIENT_ISN: u32 = 0xffff_ff00; // wraps within the first 256 bytes
const SERVER_ISN: u32 = 5000;

fn client() -> SocketAddr {
    "10.0.0.1:40000".parse().unwrap()
}
fn server() -> SocketAddr {
    "10.0.0.2:9501".parse().unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Run {
    Data(u64, Vec<u8>),
    Gap(u64, u64),
}

#[derive(Default)]
struct Recorder {
    runs: [Vec<Run>; 2],
    events: Vec<String>,
    retired: Vec<(u64, String, bool, bool, String, [DirStats; 2])>,
}

impl StreamConsumer for Recorder {
    fn event(&mut self, conn: &Connection, event: StreamEvent<'_>) {
        match event {
            StreamEvent::Data {
                dir, offset, bytes, ..
            } => {
                let runs = &mut self.runs[dir.index()];
                match runs.last_mut() {
                    Some(Run::Data(start, data)) if *start + data.len() as u64 == offset => {
                        data.extend_from_slice(bytes)
                    }
                    _ => runs.push(Run::Data(offset, bytes.to_vec())),
                }
            }
            StreamEvent::Gap {
                dir, offset, len, ..
            } => {
                let runs = &mut self.runs[dir.index()];
                match runs.last_mut() {
                    Some(Run::Gap(start, n)) if *start + *n == offset => *n += len,
                    _ => runs.push(Run::Gap(offset, len)),
                }
            }
            StreamEvent::Open { .. } => self.events.push(format!("open {}", conn.id)),
            StreamEvent::Close { reason, .. } => {
                self.events
                    .push(format!("close {} {}", conn.id, reason.label()))
            }
        }
    }

    fn retired(&mut self, conn: &Connection) {
        self.retired.push((
            conn.id,
            conn.label(),
            conn.midstream,
            conn.flipped,
            conn.history.to_string(),
            [
                conn.stats(Direction::ClientToServer).clone(),
                conn.stats(Direction::ServerToClient).clone(),
            ],
        ));
    }
}

struct Seg {
    from_client: bool,
    seq: u32,
    ack: Option<u32>,
    flags: TcpFlags,
    payload: Vec<u8>,
    missing: u32,
    ts: u64,
}

impl Seg {
    fn data(from_client: bool, seq: u32, payload: &[u8]) -> Seg {
        Seg {
            from_client,
            seq,
            ack: None,
            flags: TcpFlags::default(),
            payload: payload.to_vec(),
            missing: 0,
            ts: 0,
        }
    }
    fn flags(mut self, f: &str) -> Seg {
        for c in f.chars() {
            match c {
                'S' => self.flags.syn = true,
                'A' => self.flags.ack = true,
                'F' => self.flags.fin = true,
                'R' => self.flags.rst = true,
                _ => {}
            }
        }
        self
    }
    fn ack(mut self, ack: u32) -> Seg {
        self.ack = Some(ack);
        self.flags.ack = true;
        self
    }
    fn at(mut self, secs: u64) -> Seg {
        self.ts = secs * 1_000_000_000;
        self
    }
}

fn feed(r: &mut Reassembler, out: &mut Recorder, segs: &[Seg]) {
    for s in segs {
        let (src, dst) = if s.from_client {
            (client(), server())
        } else {
            (server(), client())
        };
        let seg = TcpSegment {
            ts: crate::time::Timestamp::from_nanos(s.ts),
            src,
            dst,
            seq: s.seq,
            ack: s.ack.unwrap_or(0),
            flags: s.flags,
            payload: &s.payload,
            missing_tail: s.missing,
        };
        r.segment(&seg, out);
    }
}

fn handshake() -> Vec<Seg> {
    vec![
        Seg::data(true, CLIENT_ISN, b"").flags("S"),
        Seg::data(false, SERVER_ISN, b"")
            .flags("S")
            .ack(CLIENT_ISN.wrapping_add(1)),
        Seg::data(true, CLIENT_ISN.wrapping_add(1), b"").ack(SERVER_ISN + 1),
    ]
}

fn c(off: u32) -> u32 {
    CLIENT_ISN.wrapping_add(1).wrapping_add(off)
}

fn run(segs: &[Seg]) -> Recorder {
    let mut r = Reassembler::new(TcpConfig::default());
    let mut out = Recorder::default();
    feed(&mut r, &mut out, segs);
    r.finish(&mut out);
    assert_eq!(r.held_bytes(), 0);
    out
}

#[test]
fn in_order_across_sequence_wrap() {
    let mut segs = handshake();
    segs.push(Seg::data(true, c(0), &[1; 200]).ack(SERVER_ISN + 1));
    segs.push(Seg::data(true, c(200), &[2; 200]).ack(SERVER_ISN + 1));
    let out = run(&segs);
    let mut expected = vec![1u8; 200];
    expected.extend_from_slice(&[2; 200]);
    assert_eq!(out.runs[0], vec![Run::Data(0, expected)]);
    assert_eq!(out.retired[0].4, "ShAD");
}

#[test]
fn out_of_order_is_released_in_order() {
    let mut segs = handshake();
    segs.push(Seg::data(true, c(10), b"world"));
    segs.push(Seg::data(true, c(5), b" big "));
    segs.push(Seg::data(true, c(0), b"hello"));
    let out = run(&segs);
    assert_eq!(out.runs[0], vec![Run::Data(0, b"hello big world".to_vec())]);
    assert_eq!(out.retired[0].5[0].out_of_order, 2);
}

#[test]
fn overlapping_retransmission_first_copy_wins_and_conflicts_count() {
    let mut segs = handshake();
    segs.push(Seg::data(true, c(4), b"EFGH"));
    segs.push(Seg::data(true, c(2), b"cdXXXXij")); // overlaps EFGH with other bytes
    segs.push(Seg::data(true, c(0), b"ab"));
    let out = run(&segs);
    assert_eq!(out.runs[0], vec![Run::Data(0, b"abcdEFGHij".to_vec())]);
    assert_eq!(out.retired[0].5[0].conflicts, 1);
}

#[test]
fn queued_copy_wins_over_a_later_in_order_copy() {
    let mut segs = handshake();
    segs.push(Seg::data(true, c(4), b"XXXX")); // first copy of 4..8, queued
    segs.push(Seg::data(true, c(0), b"abcdefgh")); // in order, overlaps it
    let out = run(&segs);
    assert_eq!(out.runs[0], vec![Run::Data(0, b"abcdXXXX".to_vec())]);
    assert_eq!(out.retired[0].5[0].conflicts, 1);
}

#[test]
fn ack_past_a_hole_declares_exact_gap_while_later_data_waits() {
    let mut segs = handshake();
    segs.push(Seg::data(true, c(0), b"0123"));
    // 4..10 lost in the capture, 10..14 arrives, then the server ACKs 14.
    segs.push(Seg::data(true, c(10), b"abcd"));
    segs.push(Seg::data(false, SERVER_ISN + 1, b"").ack(c(14)));
    segs.push(Seg::data(true, c(14), b"tail"));
    let out = run(&segs);
    assert_eq!(
        out.runs[0],
        vec![
            Run::Data(0, b"0123".to_vec()),
            Run::Gap(4, 6),
            Run::Data(10, b"abcdtail".to_vec())
        ]
    );
    assert!(out.retired[0].4.contains('G'));
}

#[test]
fn snaplen_cut_becomes_gap_of_the_cut_size() {
    let mut segs = handshake();
    let mut s = Seg::data(true, c(0), b"head");
    s.missing = 96;
    segs.push(s);
    segs.push(Seg::data(true, c(100), b"next"));
    let out = run(&segs);
    assert_eq!(
        out.runs[0],
        vec![
            Run::Data(0, b"head".to_vec()),
            Run::Gap(4, 96),
            Run::Data(100, b"next".to_vec())
        ]
    );
    assert_eq!(out.retired[0].5[0].truncated, 1);
}

#[test]
fn fin_reveals_a_trailing_hole() {
    let mut segs = handshake();
    segs.push(Seg::data(true, c(0), b"abc"));
    segs.push(Seg::data(true, c(8), b"").flags("FA").ack(SERVER_ISN + 1));
    segs.push(Seg::data(false, SERVER_ISN + 1, b"").flags("FA").ack(c(9)));
    segs.push(Seg::data(true, c(9), b"").ack(SERVER_ISN + 2));
    let out = run(&segs);
    assert_eq!(
        out.runs[0],
        vec![Run::Data(0, b"abc".to_vec()), Run::Gap(3, 5)]
    );
    assert_eq!(out.events.last().unwrap(), "close 1 fin");
}

#[test]
fn midstream_pickup_uses_ports_and_first_byte() {
    let segs = vec![
        Seg::data(false, 777, b"reply"), // server -> client first
        Seg::data(true, 9000, b"request"),
    ];
    let out = run(&segs);
    let (_, label, midstream, flipped, _, _) = &out.retired[0];
    assert_eq!(label, "10.0.0.1:40000>10.0.0.2:9501");
    assert!(*midstream && !*flipped);
    assert_eq!(out.runs[0], vec![Run::Data(0, b"request".to_vec())]);
    assert_eq!(out.runs[1], vec![Run::Data(0, b"reply".to_vec())]);
}

#[test]
fn syn_ack_first_flips_and_keeps_client_offsets_exact() {
    let segs = vec![
        Seg::data(false, SERVER_ISN, b"")
            .flags("S")
            .ack(CLIENT_ISN.wrapping_add(1)),
        Seg::data(true, c(3), b"def"),
        Seg::data(true, c(0), b"abc"),
    ];
    let out = run(&segs);
    let (_, label, midstream, flipped, history, _) = &out.retired[0];
    assert_eq!(label, "10.0.0.1:40000>10.0.0.2:9501");
    assert!(!*midstream && *flipped);
    assert!(history.starts_with('^'));
    assert_eq!(out.runs[0], vec![Run::Data(0, b"abcdef".to_vec())]);
}

#[test]
fn new_syn_on_a_closed_tuple_is_a_new_connection() {
    let mut segs = handshake();
    segs.push(Seg::data(true, c(0), b"one"));
    segs.push(Seg::data(true, c(3), b"").flags("R"));
    segs.push(Seg::data(true, 42, b"").flags("S").at(1));
    segs.push(Seg::data(true, 43, b"two").at(1));
    let out = run(&segs);
    assert_eq!(
        out.events,
        vec!["open 1", "close 1 reset", "open 2", "close 2 open"]
    );
    assert_eq!(out.retired.len(), 2);
}

#[test]
fn idle_connections_expire_by_packet_time() {
    let mut r = Reassembler::new(TcpConfig {
        idle_timeout_ns: 10_000_000_000,
        ..TcpConfig::default()
    });
    let mut out = Recorder::default();
    let mut segs = handshake();
    segs.push(Seg::data(true, c(0), b"x").at(1));
    feed(&mut r, &mut out, &segs);
    // Another connection's packet 100 s later sweeps the first one out.
    let other = TcpSegment {
        ts: crate::time::Timestamp::from_nanos(100_000_000_000),
        src: "10.0.0.3:1".parse().unwrap(),
        dst: server(),
        seq: 1,
        ack: 0,
        flags: TcpFlags {
            syn: true,
            ..TcpFlags::default()
        },
        payload: &[],
        missing_tail: 0,
    };
    r.segment(&other, &mut out);
    assert!(out.events.contains(&"close 1 idle".to_string()));
    assert_eq!(r.counters().expired, 1);
}

#[test]
fn flood_above_a_hole_is_capped() {
    let mut r = Reassembler::new(TcpConfig {
        max_held_per_direction: 64 << 10,
        max_held_total: 1 << 20,
        ..TcpConfig::default()
    });
    let mut out = Recorder::default();
    let mut segs = handshake();
    // Byte 0 never arrives; 4 MiB arrive above it in 1 KiB segments.
    for i in 0..4096u32 {
        segs.push(Seg::data(true, c(1 + i * 1024), &[7; 1024]));
    }
    feed(&mut r, &mut out, &segs);
    assert!(r.held_bytes() <= (64 << 10) + 2048);
    assert!(r.counters().held_overflows >= 1);
    assert!(r.counters().held_peak <= (64 << 10) + 2048);
    r.finish(&mut out);
    let delivered: u64 = out.runs[0]
        .iter()
        .map(|run| match run {
            Run::Data(_, d) => d.len() as u64,
            Run::Gap(_, n) => *n,
        })
        .sum();
    assert_eq!(delivered, 1 + 4096 * 1024);
}

#[test]
fn total_held_bytes_stay_under_the_cap_across_many_connections() {
    let cap = 256 << 10;
    let mut r = Reassembler::new(TcpConfig {
        max_held_per_direction: 64 << 10,
        max_held_total: cap,
        ..TcpConfig::default()
    });
    let mut out = Recorder::default();
    // 50 connections, each holding 40 KiB above a hole (under the
    // per-direction cap): 2 MB in all unless the total cap bites.
    for i in 0..50u32 {
        let src: SocketAddr = SocketAddr::new([10, 2, 0, i as u8].into(), 40000);
        let syn = TcpSegment {
            ts: crate::time::Timestamp::from_nanos(u64::from(i * 100)),
            src,
            dst: server(),
            seq: 1000,
            ack: 0,
            flags: TcpFlags {
                syn: true,
                ..TcpFlags::default()
            },
            payload: &[],
            missing_tail: 0,
        };
        r.segment(&syn, &mut out);
        for k in 0..40u32 {
            let seg = TcpSegment {
                ts: crate::time::Timestamp::from_nanos(u64::from(i * 100 + k)),
                src,
                dst: server(),
                seq: 1000 + 2 + k * 1024,
                ack: 0,
                flags: TcpFlags::default(),
                payload: &[3; 1024],
                missing_tail: 0,
            };
            r.segment(&seg, &mut out);
            assert!(r.held_bytes() <= cap + 1024 + 64, "{} held", r.held_bytes());
        }
    }
    assert!(r.counters().memcap_flushes > 0);
    r.finish(&mut out);
    assert_eq!(r.held_bytes(), 0);
}

#[test]
fn flow_table_is_capped() {
    let mut r = Reassembler::new(TcpConfig {
        max_flows: 1000,
        ..TcpConfig::default()
    });
    let mut out = Recorder::default();
    for i in 0..10_000u32 {
        let seg = TcpSegment {
            ts: crate::time::Timestamp::from_nanos(u64::from(i)),
            src: SocketAddr::new([10, 1, (i >> 8) as u8, i as u8].into(), 30000),
            dst: server(),
            seq: i,
            ack: 0,
            flags: TcpFlags {
                syn: true,
                ..TcpFlags::default()
            },
            payload: &[],
            missing_tail: 0,
        };
        r.segment(&seg, &mut out);
        assert!(r.live_connections() <= 1000);
    }
    assert!(r.counters().evicted >= 9000);
    r.finish(&mut out);
    assert_eq!(out.retired.len(), 10_000);
}

/// A capture of one direction: which byte ranges of the stream appear, in
/// which order, and which original segments the capture lost.
#[derive(Debug, Clone)]
struct Scenario {
    stream: Vec<u8>,
    /// (offset, len, dropped, forged) in capture order; a forged copy
    /// carries different bytes (each XOR 0x5a).
    sends: Vec<(u32, u32, bool, bool)>,
    /// After which capture positions the receiver sends an ACK.
    acks_after: Vec<bool>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..3000).prop_flat_map(|len| {
        (
            proptest::collection::vec(any::<u8>(), len),
            proptest::collection::vec(1u32..400, 1..40),
            proptest::collection::vec((0u32..3000, 1u32..600, any::<bool>()), 0..8),
            proptest::collection::vec(any::<prop::sample::Index>(), 0..40),
            proptest::collection::vec(0u8..10, 64),
            proptest::collection::vec(any::<bool>(), 128),
        )
            .prop_map(move |(stream, cuts, retrans, swaps, drops, acks)| {
                let len = stream.len() as u32;
                // Cut the stream into segments.
                let mut sends = Vec::new();
                let mut pos = 0u32;
                let mut i = 0;
                while pos < len {
                    let n = cuts[i % cuts.len()].min(len - pos);
                    let dropped = drops[i % drops.len()] == 0;
                    sends.push((pos, n, dropped, false));
                    pos += n;
                    i += 1;
                }
                // Retransmissions of arbitrary ranges (coalesced, overlapping).
                for (start, n, forged) in retrans {
                    let start = start % len;
                    let n = n.min(len - start);
                    sends.push((start, n, drops[(start as usize) % drops.len()] == 1, forged));
                }
                // Reorder by swapping pairs.
                let count = sends.len();
                for s in swaps {
                    let a = s.index(count);
                    let b = (a + 1).min(count - 1);
                    sends.swap(a, b);
                }
                Scenario {
                    stream,
                    sends,
                    acks_after: acks,
                }
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_capture_yields_present_bytes_and_exact_gaps(sc in scenario()) {
        let len = sc.stream.len() as u32;
        let mut segs = handshake();
        // The first capture position of each byte, if any copy is captured.
        let mut first_captured = vec![usize::MAX; sc.stream.len()];
        // The first captured copy of each byte wins: its position and value.
        let mut expected_bytes = sc.stream.clone();
        for (i, &(off, n, dropped, forged)) in sc.sends.iter().enumerate() {
            if !dropped {
                for k in off as usize..(off + n) as usize {
                    if first_captured[k] == usize::MAX {
                        first_captured[k] = i;
                        if forged {
                            expected_bytes[k] ^= 0x5a;
                        }
                    }
                }
            }
        }
        // The receiver ACKs its contiguous prefix. It has every byte sent so
        // far; a capture point cannot see that ACK before a captured copy of
        // the bytes it covers, so a byte with a later captured copy is not
        // yet acknowledgeable.
        let mut received = vec![false; sc.stream.len()];
        for (i, &(off, n, dropped, forged)) in sc.sends.iter().enumerate() {
            for b in &mut received[off as usize..(off + n) as usize] {
                *b = true;
            }
            if !dropped {
                let mut data = sc.stream[off as usize..(off + n) as usize].to_vec();
                if forged {
                    data.iter_mut().for_each(|b| *b ^= 0x5a);
                }
                segs.push(Seg::data(true, c(off), &data).ack(SERVER_ISN + 1));
            }
            if sc.acks_after[i % sc.acks_after.len()] {
                let prefix = received
                    .iter()
                    .zip(&first_captured)
                    .take_while(|&(&r, &cap)| r && (cap == usize::MAX || cap <= i))
                    .count() as u32;
                segs.push(Seg::data(false, SERVER_ISN + 1, b"").ack(c(prefix)));
            }
        }
        // Lost ranges may only be lost at the end; everything was sent.
        segs.push(Seg::data(true, c(len), b"").flags("FA").ack(SERVER_ISN + 1));
        segs.push(Seg::data(false, SERVER_ISN + 1, b"").flags("FA").ack(c(len + 1)));
        let out = run(&segs);

        // Expected: bytes covered by a captured send, gaps elsewhere.
        let mut present = vec![false; sc.stream.len()];
        for &(off, n, dropped, _) in &sc.sends {
            if !dropped {
                for b in &mut present[off as usize..(off + n) as usize] {
                    *b = true;
                }
            }
        }
        let mut expected: Vec<Run> = Vec::new();
        for (i, &p) in present.iter().enumerate() {
            let i = i as u64;
            match (expected.last_mut(), p) {
                (Some(Run::Data(s, d)), true) if *s + d.len() as u64 == i => d.push(expected_bytes[i as usize]),
                (Some(Run::Gap(s, n)), false) if *s + *n == i => *n += 1,
                (_, true) => expected.push(Run::Data(i, vec![expected_bytes[i as usize]])),
                (_, false) => expected.push(Run::Gap(i, 1)),
            }
        }
        prop_assert_eq!(&out.runs[0], &expected);
        prop_assert_eq!(out.runs[1].len(), 0);
        prop_assert_eq!(out.events.last().map(String::as_str), Some("close 1 fin"));
    }
}
