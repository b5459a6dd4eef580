//! `-w FILE` on offline input: the packets of the decoded flows, and only
//! those, in a pcap file that replays to the same trace.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use etherparse::PacketBuilder;
use serde_json::Value;

fn zmqtrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .args(args)
        .output()
        .expect("run zmqtrace")
}

fn jsonl(o: &Output) -> Vec<Value> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zmqtrace-write-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn reference(name: &str) -> String {
    common::captures()
        .join("reference")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// One TCP connection, packet by packet, with real sequence numbers.
struct Conn {
    client: u16,
    server: u16,
    seq: [u32; 2],
    packets: Vec<Vec<u8>>,
}

impl Conn {
    fn new(client: u16, server: u16) -> Conn {
        let mut c = Conn {
            client,
            server,
            seq: [1000, 5000],
            packets: Vec::new(),
        };
        c.push(0, "S", b"");
        c.push(1, "SA", b"");
        c.push(0, "A", b"");
        c
    }

    /// `dir` 0: client to server.
    fn push(&mut self, dir: usize, flags: &str, payload: &[u8]) {
        let (src, dst) = if dir == 0 {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let (seq, ack) = (self.seq[dir], self.seq[1 - dir]);
        let ip = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64);
        let mut tcp = ip.tcp(src, dst, seq, 65535);
        if flags.contains('S') {
            tcp = tcp.syn();
        }
        if flags.contains('A') || !flags.contains('S') {
            tcp = tcp.ack(ack);
        }
        if flags.contains('F') {
            tcp = tcp.fin();
        }
        let mut out = Vec::new();
        tcp.write(&mut out, payload).unwrap();
        self.packets.push(out);
        let len = payload.len() as u32 + u32::from(flags.contains('S') || flags.contains('F'));
        self.seq[dir] = seq.wrapping_add(len);
    }

    /// A ZMTP 3.1 NULL handshake and one message each way.
    fn zmtp(client: u16, server: u16) -> Conn {
        let mut c = Conn::new(client, server);
        let signature = [0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f];
        c.push(0, "A", &signature);
        c.push(1, "A", &signature);
        let mut rest = vec![3u8, 1];
        rest.extend_from_slice(b"NULL");
        rest.resize(54, 0);
        c.push(0, "A", &rest);
        c.push(1, "A", &rest);
        let ready = |socket: &[u8]| {
            let mut body = vec![5u8];
            body.extend_from_slice(b"READY");
            body.push(11);
            body.extend_from_slice(b"Socket-Type");
            body.extend_from_slice(&(socket.len() as u32).to_be_bytes());
            body.extend_from_slice(socket);
            let mut frame = vec![4u8, body.len() as u8];
            frame.extend_from_slice(&body);
            frame
        };
        c.push(0, "A", &ready(b"DEALER"));
        c.push(1, "A", &ready(b"ROUTER"));
        c.push(0, "A", b"\x01\x00\x00\x05hello");
        c.push(1, "A", b"\x01\x00\x00\x05world");
        c.push(0, "FA", b"");
        c.push(1, "FA", b"");
        c.push(0, "A", b"");
        c
    }

    fn http(client: u16, server: u16) -> Conn {
        let mut c = Conn::new(client, server);
        c.push(0, "A", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        c.push(1, "A", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        c.push(0, "FA", b"");
        c.push(1, "FA", b"");
        c
    }
}

/// Interleave connections into one pcap, a millisecond apart.
fn pcap(conns: &[&Conn]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&262144u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let longest = conns.iter().map(|c| c.packets.len()).max().unwrap_or(0);
    let mut usec = 0u32;
    for i in 0..longest {
        for c in conns {
            if let Some(p) = c.packets.get(i) {
                usec += 1000;
                out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
                out.extend_from_slice(&usec.to_le_bytes());
                out.extend_from_slice(&(p.len() as u32).to_le_bytes());
                out.extend_from_slice(&(p.len() as u32).to_le_bytes());
                out.extend_from_slice(p);
            }
        }
    }
    out
}

/// The packets of a pcap file, as written by zmqtrace (little-endian, µs).
fn records(path: &PathBuf) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.get(..4), Some(&0xa1b2c3d4u32.to_le_bytes()[..]));
    assert_eq!(bytes.get(20..24), Some(&1u32.to_le_bytes()[..]), "Ethernet");
    let mut out = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(bytes[at + 16..at + 16 + len].to_vec());
        at += 16 + len;
    }
    out
}

#[test]
fn writes_the_rpc_port_and_zmtp_flows_and_nothing_else() {
    let listed = Conn::zmtp(40001, 9501);
    let found = Conn::zmtp(40002, 52000);
    let http = Conn::http(40003, 80);
    let input = temp("mixed.pcap");
    std::fs::write(&input, pcap(&[&listed, &http, &found])).unwrap();

    let out = temp("mixed-out.pcap");
    let lines = jsonl(&zmqtrace(&[
        "-r",
        input.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
        "-o",
        "jsonl",
    ]));
    let summary = lines.last().unwrap();
    let messages = lines.iter().filter(|l| l["event"] == "message").count();
    assert_eq!(messages, 4, "{lines:?}");
    let written = records(&out);
    assert_eq!(summary["written_packets"], written.len());
    // Every packet of both ZMTP connections, handshakes included, each
    // connection's in capture order (a handshake on another port is
    // written once the connection proves to be ZMTP); none of HTTP's.
    let of = |port: u16| -> Vec<Vec<u8>> {
        written
            .iter()
            .filter(|p| p[34..38].chunks(2).any(|c| c == port.to_be_bytes()))
            .cloned()
            .collect()
    };
    assert_eq!(of(9501), listed.packets);
    assert_eq!(of(52000), found.packets);
    assert!(of(80).is_empty());
    assert_eq!(written.len(), listed.packets.len() + found.packets.len());

    // The file gives the same trace.
    let replay = jsonl(&zmqtrace(&["-r", out.to_str().unwrap(), "-o", "jsonl"]));
    let events = |v: &[Value]| -> Vec<String> {
        v.iter()
            .filter(|l| l["event"] != "summary")
            .map(|l| l.to_string())
            .collect()
    };
    assert_eq!(events(&replay), events(&lines));

    // --no-auto: the rpc port only.
    let lines = jsonl(&zmqtrace(&[
        "-r",
        input.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
        "--no-auto",
        "-o",
        "jsonl",
    ]));
    assert_eq!(records(&out), listed.packets);
    assert_eq!(
        lines.last().unwrap()["written_packets"],
        listed.packets.len()
    );
}

#[test]
fn a_written_reference_capture_replays_to_the_same_trace() {
    let input = reference("s13_concurrent.pcap");
    let out = temp("s13.pcap");
    for mode in [&[][..], &["stats"][..], &["flows"][..]] {
        let mut args = mode.to_vec();
        args.extend(["-r", &input, "-o", "jsonl", "-w", out.to_str().unwrap()]);
        let original = jsonl(&zmqtrace(&args));
        let mut args = mode.to_vec();
        args.extend(["-r", out.to_str().unwrap(), "-o", "jsonl"]);
        let replayed = jsonl(&zmqtrace(&args));
        let (mut a, mut b) = (
            original[..original.len() - 1].to_vec(),
            replayed[..replayed.len() - 1].to_vec(),
        );
        if mode == ["flows"] {
            // Handshakes on a port found later are written when it is
            // found, so connections open in another order.
            a.sort_by_key(|v| v.to_string());
            b.sort_by_key(|v| v.to_string());
        }
        assert_eq!(a, b, "{mode:?}");
        let summary = original.last().unwrap();
        assert_eq!(
            summary["written_packets"],
            replayed.last().unwrap()["packets"]
        );
        assert_eq!(summary["written_other_link"], 0);
    }
}

#[test]
fn bad_write_targets_are_one_sentence() {
    let input = reference("s02_req_rep.pcap");
    let o = zmqtrace(&["-r", &input, "-w", "/nonexistent-dir/x.pcap"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("zmqtrace: cannot write '/nonexistent-dir/x.pcap'"),
        "{err}"
    );

    let o = zmqtrace(&["-r", &input, "-w", &input]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is also an input"), "{err}");
    assert!(
        std::fs::metadata(&input).unwrap().len() > 24,
        "the input is intact"
    );
}
