//! The real binary on real and hostile input: output, exit status, and one
//! clear line on stderr for every bad input — never a panic.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::captures;

fn zmqtrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .args(args)
        .output()
        .expect("run zmqtrace")
}

fn zmqtrace_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn reference(name: &str) -> String {
    captures()
        .join("reference")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zmqtrace-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// A runtime failure: status 1, exactly one line on stderr that names the
/// problem, and no panic.
fn assert_one_line_error(o: &Output, status: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(status), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("zmqtrace: "), "stderr: {err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    assert!(!err.contains("panicked"));
}

fn jsonl(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A classic pcap file (µs, Ethernet unless `link` says otherwise).
fn pcap(link: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&262144u32.to_le_bytes());
    out.extend_from_slice(&link.to_le_bytes());
    for (sec, usec, data) in records {
        out.extend_from_slice(&sec.to_le_bytes());
        out.extend_from_slice(&usec.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

fn syn_frame(i: u32) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([10, 9, (i >> 8) as u8, i as u8], [10, 0, 0, 1], 64)
        .tcp(20000 + (i % 40000) as u16, 9501, i, 1024)
        .syn();
    let mut out = Vec::new();
    builder.write(&mut out, &[]).unwrap();
    out
}

#[test]
fn flows_table_lists_connections_and_summary() {
    let o = zmqtrace(&["flows", "-r", &reference("s03_dealer_router.pcap")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("FIRST (UTC)"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.contains(">127.0.0.1:15503"))
            .count(),
        3
    );
    assert!(out.contains("ShAdDafF"));
    assert!(out.contains("3 flows shown of 3 TCP connections"));
}

#[test]
fn flows_jsonl_follows_the_contract() {
    let o = zmqtrace(&["flows", "-r", &reference("s14_ipv6.pcap"), "-o", "jsonl"]);
    assert!(o.status.success());
    let lines = jsonl(&o);
    assert_eq!(lines.len(), 2);
    let flow = &lines[0];
    assert_eq!(flow["event"], "flow");
    assert_eq!(flow["conn"], "[::1]:41401>[::1]:15520");
    assert_eq!(flow["src"], "[::1]:41401");
    assert_eq!(flow["dst"], "[::1]:15520");
    assert_eq!(flow["state"], "fin");
    assert_eq!(flow["midstream"], false);
    assert!(flow["ts"].as_f64().unwrap() > 1.7e9);
    assert_eq!(flow["c2s"]["bytes"], 67718);
    assert_eq!(flow["c2s"]["missed_bytes"], 0);
    let summary = &lines[1];
    assert_eq!(summary["event"], "summary");
    for key in [
        "packets",
        "bytes",
        "flows",
        "messages",
        "calls",
        "timeouts",
        "gaps",
        "resyncs",
        "decode_errors",
    ] {
        assert!(summary[key].is_u64(), "summary lacks {key}");
    }
    assert_eq!(summary["packets"], 32);
    assert_eq!(summary["flows"], 1);
}

#[test]
fn stdin_gives_the_same_result_as_the_file() {
    let path = reference("s02_req_rep.pcap");
    let from_file = zmqtrace(&["flows", "-r", &path, "-o", "jsonl"]);
    let from_stdin = zmqtrace_stdin(
        &["flows", "-r", "-", "-o", "jsonl"],
        &std::fs::read(&path).unwrap(),
    );
    assert!(from_stdin.status.success(), "{}", stderr(&from_stdin));
    assert_eq!(stdout(&from_file), stdout(&from_stdin));
}

#[test]
fn gzip_input_is_read() {
    let raw = std::fs::read(reference("s02_req_rep.pcap")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let path = temp("s02.pcap.gz", &gz.finish().unwrap());
    let plain = zmqtrace(&["flows", "-r", &reference("s02_req_rep.pcap"), "-o", "jsonl"]);
    let zipped = zmqtrace(&["flows", "-r", path.to_str().unwrap(), "-o", "jsonl"]);
    assert!(zipped.status.success(), "{}", stderr(&zipped));
    assert_eq!(stdout(&plain), stdout(&zipped));
    // Piped gzip too.
    let piped = zmqtrace_stdin(
        &["flows", "-r", "-", "-o", "jsonl"],
        &std::fs::read(&path).unwrap(),
    );
    assert_eq!(stdout(&plain), stdout(&piped));
}

#[test]
fn several_files_merge_by_time_and_filters_apply() {
    let a = reference("s02_req_rep.pcap");
    let b = reference("s03_dealer_router.pcap");
    let o = zmqtrace(&["flows", "-r", &b, "-r", &a, "-o", "jsonl"]);
    let lines = jsonl(&o);
    let flows: Vec<_> = lines.iter().filter(|l| l["event"] == "flow").collect();
    assert_eq!(flows.len(), 4);
    assert_eq!(lines.last().unwrap()["packets"], 57 + 116);
    // The earlier capture's connection comes first.
    assert_eq!(flows[0]["conn"], "127.0.0.1:40201>127.0.0.1:15502");

    let o = zmqtrace(&[
        "flows",
        "-r",
        &b,
        "-r",
        &a,
        "-o",
        "jsonl",
        "-f",
        "tcp port 15503",
    ]);
    let lines = jsonl(&o);
    assert_eq!(lines.iter().filter(|l| l["event"] == "flow").count(), 3);
    assert_eq!(lines.last().unwrap()["filtered_out"], 57);

    let o = zmqtrace(&["flows", "-r", &b, "-o", "jsonl", "-c", "1"]);
    assert_eq!(jsonl(&o).iter().filter(|l| l["event"] == "flow").count(), 1);
}

#[test]
fn ports_decide_what_is_shown_without_auto_detection() {
    let path = reference("s02_req_rep.pcap");
    let o = zmqtrace(&["flows", "-r", &path, "-o", "jsonl", "--no-auto"]);
    assert_eq!(jsonl(&o).last().unwrap()["flows"], 0);
    let o = zmqtrace(&[
        "flows",
        "-r",
        &path,
        "-o",
        "jsonl",
        "--no-auto",
        "-p",
        "15500-15510",
    ]);
    assert_eq!(jsonl(&o).last().unwrap()["flows"], 1);
    let o = zmqtrace(&["flows", "-r", &path, "-p", "99999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("99999"));
}

#[test]
fn bad_files_get_one_clear_line_and_status_1() {
    let o = zmqtrace(&["flows", "-r", "/nonexistent/x.pcap"]);
    assert_one_line_error(&o, 1, "no such file");

    let dir = std::env::temp_dir();
    let o = zmqtrace(&["flows", "-r", dir.to_str().unwrap()]);
    assert_one_line_error(&o, 1, "directory");

    let o = zmqtrace(&["flows", "-r", temp("empty.pcap", b"").to_str().unwrap()]);
    assert_one_line_error(&o, 1, "empty");

    let o = zmqtrace(&[
        "flows",
        "-r",
        temp("text.pcap", b"GET / HTTP/1.1\r\n\r\n")
            .to_str()
            .unwrap(),
    ]);
    assert_one_line_error(&o, 1, "not a pcap or pcapng capture");

    // A record header claiming 2 GiB.
    let mut bogus = pcap(1, &[(1, 0, &syn_frame(1))]);
    let at = 24 + 8;
    bogus[at..at + 4].copy_from_slice(&0x8000_0000u32.to_le_bytes());
    bogus.extend_from_slice(&[0u8; 4096]);
    let o = zmqtrace(&["flows", "-r", temp("caplen.pcap", &bogus).to_str().unwrap()]);
    assert_one_line_error(&o, 1, "corrupt");

    // A pcapng whose second block claims a length past any sane size.
    let mut ng = Vec::new();
    ng.extend_from_slice(&0x0a0d0d0au32.to_le_bytes());
    ng.extend_from_slice(&28u32.to_le_bytes());
    ng.extend_from_slice(&0x1a2b3c4du32.to_le_bytes());
    ng.extend_from_slice(&1u16.to_le_bytes());
    ng.extend_from_slice(&0u16.to_le_bytes());
    ng.extend_from_slice(&(-1i64).to_le_bytes());
    ng.extend_from_slice(&28u32.to_le_bytes());
    ng.extend_from_slice(&1u32.to_le_bytes()); // IDB
    ng.extend_from_slice(&7u32.to_le_bytes()); // impossible length
    ng.extend_from_slice(&[0u8; 64]);
    let o = zmqtrace(&["flows", "-r", temp("bogus.pcapng", &ng).to_str().unwrap()]);
    assert_one_line_error(&o, 1, "corrupt");

    // A section header block with an impossible length.
    let mut shb = ng[..28].to_vec();
    shb[4..8].copy_from_slice(&13u32.to_le_bytes());
    let o = zmqtrace(&["flows", "-r", temp("shb.pcapng", &shb).to_str().unwrap()]);
    assert_one_line_error(&o, 1, "impossible");
}

#[test]
fn unknown_link_type_is_named() {
    let file = pcap(147, &[(1, 0, b"\x01\x02\x03\x04")]);
    let o = zmqtrace(&["flows", "-r", temp("user0.pcap", &file).to_str().unwrap()]);
    assert_one_line_error(&o, 1, "link type 147");
}

#[test]
fn a_file_cut_mid_record_is_decoded_up_to_the_cut() {
    let full = std::fs::read(reference("s02_req_rep.pcap")).unwrap();
    let cut = &full[..full.len() - 30];
    let o = zmqtrace(&[
        "flows",
        "-r",
        temp("cut.pcap", cut).to_str().unwrap(),
        "-o",
        "jsonl",
    ]);
    assert!(o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("warning") && err.contains("cut short"),
        "{err}"
    );
    let lines = jsonl(&o);
    assert_eq!(lines.last().unwrap()["packets"], 56);
    assert_eq!(lines.iter().filter(|l| l["event"] == "flow").count(), 1);
}

#[test]
fn usage_errors_exit_2() {
    let o = zmqtrace(&["flows"]);
    assert_one_line_error(&o, 2, "-r FILE");
    let o = zmqtrace(&[
        "flows",
        "-r",
        &reference("s02_req_rep.pcap"),
        "-f",
        "port ninety",
    ]);
    assert_one_line_error(&o, 2, "bad capture filter");
    let o = zmqtrace(&["flows", "-r", "-", "-r", "-"]);
    assert_one_line_error(&o, 2, "only once");
    let o = zmqtrace(&["--bogus"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn ten_thousand_syn_only_flows_stay_within_the_flow_cap() {
    let frames: Vec<Vec<u8>> = (0..10_000).map(syn_frame).collect();
    let records: Vec<(u32, u32, &[u8])> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (1, i as u32, f.as_slice()))
        .collect();
    let path = temp("synflood.pcap", &pcap(1, &records));
    let o = zmqtrace(&[
        "flows",
        "-r",
        path.to_str().unwrap(),
        "-o",
        "jsonl",
        "--max-flows",
        "1000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = jsonl(&o);
    let summary = lines.last().unwrap();
    assert_eq!(summary["tcp_connections"], 10_000);
    assert_eq!(summary["flows"], 10_000);
    assert!(summary["flows_evicted"].as_u64().unwrap() >= 9_000);
    let flow = &lines[0];
    assert_eq!(flow["history"], "S");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .args([
            "flows",
            "-r",
            &reference("s13_concurrent.pcap"),
            "-o",
            "jsonl",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty());
}

/// A TCP conversation on 10.0.0.1:40000 > 10.0.0.2:`port`: handshake (when
/// `handshake`), then each (from_client, payload) in order, ACKed.
fn conversation(port: u16, handshake: bool, payloads: &[(bool, Vec<u8>)]) -> Vec<u8> {
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut seq = [1000u32, 5000u32];
    let packet = |from_client: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
        let (src, dst, sp, dp) = if from_client {
            (c, s, 40000, port)
        } else {
            (s, c, port, 40000)
        };
        let mut b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src, dst, 64)
            .tcp(sp, dp, seq, 1024);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(ack);
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    };
    if handshake {
        frames.push(packet(true, seq[0], 0, "S", &[]));
        frames.push(packet(false, seq[1], seq[0] + 1, "SA", &[]));
        seq = [seq[0] + 1, seq[1] + 1];
    }
    for (from_client, payload) in payloads {
        let i = usize::from(!*from_client);
        for chunk in payload.chunks(1400) {
            frames.push(packet(*from_client, seq[i], seq[1 - i], "A", chunk));
            seq[i] += chunk.len() as u32;
        }
    }
    let records: Vec<(u32, u32, &[u8])> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (1, i as u32, f.as_slice()))
        .collect();
    pcap(1, &records)
}

fn greeting31() -> Vec<u8> {
    let mut g = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1];
    g.extend_from_slice(b"NULL");
    g.resize(64, 0);
    g
}

fn events<'a>(lines: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["event"] == name).collect()
}

#[test]
fn trace_jsonl_follows_the_contract() {
    let o = zmqtrace(&["-r", &reference("s02_req_rep.pcap"), "-o", "jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = jsonl(&o);
    for l in &lines[..lines.len() - 1] {
        for key in ["event", "ts", "conn", "src", "dst"] {
            assert!(!l[key].is_null(), "{key} missing in {l}");
        }
    }
    let greetings = events(&lines, "greeting");
    assert_eq!(greetings.len(), 2);
    assert_eq!(greetings[0]["zmtp"], "3.1");
    assert_eq!(greetings[0]["mechanism"], "NULL");
    let ready = events(&lines, "command");
    assert_eq!(ready[1]["name"], "READY");
    assert_eq!(ready[1]["props"]["Identity"], "client-req-1");
    let messages = events(&lines, "message");
    assert_eq!(messages.len(), 40);
    let m = messages[1];
    assert_eq!(m["socket_type"], "REP");
    assert_eq!(m["zmtp"], "3.1");
    assert_eq!(m["encrypted"], false);
    assert_eq!(m["frames"][1]["len"], 4);
    assert_eq!(m["frames"][1]["more"], true);
    assert_eq!(m["frames"][1]["head"], "6f6b2d30");
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["messages"], 40);
    assert_eq!(summary["flows"], 1);
    assert_eq!(summary["decode_errors"], 0);
}

#[test]
fn count_stops_after_n_messages() {
    let o = zmqtrace(&[
        "-r",
        &reference("s12_burst10k.pcap"),
        "-o",
        "jsonl",
        "-c",
        "5",
    ]);
    assert!(o.status.success());
    let lines = jsonl(&o);
    assert_eq!(events(&lines, "message").len(), 5);
    assert_eq!(lines.last().unwrap()["messages"], 5);
}

#[test]
fn plain_passwords_are_redacted_unless_asked() {
    let path = reference("s07_plain.pcap");
    let hidden = stdout(&zmqtrace(&["-r", &path, "-o", "jsonl"]));
    assert!(hidden.contains("\"password\":\"<redacted>\""));
    assert!(!hidden.contains("secret"));
    let shown = stdout(&zmqtrace(&["-r", &path, "-o", "jsonl", "--show-secrets"]));
    assert!(shown.contains("\"password\":\"secret\""));
}

#[test]
fn stats_lists_connections_and_socket_types() {
    let o = zmqtrace(&[
        "stats",
        "-r",
        &reference("s13_concurrent.pcap"),
        "-o",
        "jsonl",
    ]);
    assert!(o.status.success());
    let lines = jsonl(&o);
    let conns = events(&lines, "connection");
    assert_eq!(conns.len(), 6);
    assert_eq!(conns[0]["c2s"]["messages"], 60);
    assert_eq!(conns[0]["c2s"]["socket_type"], "DEALER");
    let sockets = events(&lines, "socket_type");
    assert!(sockets
        .iter()
        .any(|s| s["socket_type"] == "ROUTER" && s["messages"] == 360));
    assert_eq!(lines.last().unwrap()["messages"], 720);
}

#[test]
fn stats_tally_only_what_the_display_filters_show() {
    let capture = format!(
        "{}/captures/oslo/new_rocky_direct_msgpack.pcap",
        env!("CARGO_MANIFEST_DIR")
    );
    let stats = |filter: &[&str]| {
        let mut args = vec!["stats", "-r", &capture, "-o", "jsonl"];
        args.extend_from_slice(filter);
        let o = zmqtrace(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        jsonl(&o)
    };
    let all = stats(&[]);
    let sum = |lines: &[serde_json::Value], event: &str, key: &str| -> u64 {
        events(lines, event)
            .iter()
            .map(|e| e[key].as_u64().unwrap())
            .sum()
    };
    // By topic: the notifications' rows, talkers and connections only.
    let notifications = stats(&["--topic", "notifications.*"]);
    let topics = events(&notifications, "topic_stats");
    assert_eq!(topics.len(), 3);
    assert!(topics
        .iter()
        .all(|t| t["topic"].as_str().unwrap().starts_with("notifications.")));
    assert_eq!(sum(&notifications, "talker", "messages"), 3);
    assert_eq!(events(&notifications, "connection").len(), 2);
    assert!(events(&all, "connection").len() > 2);
    // By method, with calls and their latency.
    let pings = stats(&["--method", "ping"]);
    let rows = events(&pings, "topic_stats");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["method"], "ping");
    let all_ping = events(&all, "topic_stats")
        .into_iter()
        .find(|t| t["method"] == "ping")
        .unwrap();
    assert_eq!(rows[0], all_ping);
    // By host: what travels to or from it.
    let node2 = stats(&["--host", "127.0.11.3"]);
    assert!(events(&node2, "connection")
        .iter()
        .all(|c| c["dst"].as_str().unwrap().starts_with("127.0.11.3:")));
    assert!(sum(&node2, "topic_stats", "messages") < sum(&all, "topic_stats", "messages"));
    // The summary counts everything decoded, filtered or not.
    for filtered in [&notifications, &pings, &node2] {
        assert_eq!(filtered.last().unwrap(), all.last().unwrap());
    }
}

#[test]
fn http_and_random_bytes_on_an_rpc_port_are_not_decoded() {
    let http = conversation(
        9501,
        true,
        &[
            (true, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
            (false, b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
        ],
    );
    let o = zmqtrace(&[
        "-r",
        temp("http.pcap", &http).to_str().unwrap(),
        "-o",
        "jsonl",
    ]);
    assert!(o.status.success());
    let lines = jsonl(&o);
    assert_eq!(events(&lines, "message").len(), 0);
    assert_eq!(events(&lines, "not_zmtp")[0]["what"], "HTTP");
    assert_eq!(lines.last().unwrap()["not_zmtp_flows"], 1);

    let mut x = 0x9e37_79b9u32;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 3) as u8
        })
        .collect();
    let random = conversation(9501, false, &[(true, noise)]);
    let o = zmqtrace(&[
        "-r",
        temp("random.pcap", &random).to_str().unwrap(),
        "-o",
        "jsonl",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = jsonl(&o);
    assert_eq!(
        events(&lines, "message").len(),
        0,
        "random bytes decoded as messages"
    );
    assert_eq!(lines.last().unwrap()["messages"], 0);
}

#[test]
fn a_frame_claiming_2_pow_62_bytes_costs_nothing() {
    let mut client = greeting31();
    client.extend_from_slice(b"\x04\x1c\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER");
    client.push(0x02);
    client.extend_from_slice(&(1u64 << 62).to_be_bytes());
    client.extend_from_slice(&[0x42; 100_000]);
    let file = conversation(9501, true, &[(false, greeting31()), (true, client)]);
    let o = zmqtrace(&[
        "-r",
        temp("huge.pcap", &file).to_str().unwrap(),
        "-o",
        "jsonl",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = jsonl(&o);
    // The frame never completes: no message is invented.
    assert_eq!(events(&lines, "message").len(), 0);
    assert_eq!(events(&lines, "command")[0]["name"], "READY");
}

#[test]
fn endless_zeros_mid_stream_never_lock() {
    let file = conversation(9501, false, &[(true, vec![0u8; 300_000])]);
    let o = zmqtrace(&[
        "-r",
        temp("zeros.pcap", &file).to_str().unwrap(),
        "-o",
        "jsonl",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = jsonl(&o);
    assert_eq!(events(&lines, "message").len(), 0);
    assert_eq!(lines.last().unwrap()["resyncs"], 0);
    assert_eq!(lines.last().unwrap()["skipped_bytes"], 300_000);
}

#[test]
fn display_filters_show_only_what_matches_and_count_everything() {
    let capture = "captures/oslo/legacy_liberty_ring.pcap";
    let all = zmqtrace(&["-r", capture, "-o", "jsonl"]);
    let some = zmqtrace(&[
        "-r",
        capture,
        "-o",
        "jsonl",
        "--topic",
        "compute.*",
        "--method",
        "get_*",
    ]);
    assert!(some.status.success(), "{}", stderr(&some));
    let events: Vec<serde_json::Value> = stdout(&some)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["event"] == "message").collect();
    assert_eq!(messages.len(), 4, "the four get_host_uptime calls");
    for m in &messages {
        assert!(m["rpc"]["topic"].as_str().unwrap().starts_with("compute."));
        assert_eq!(m["rpc"]["method"], "get_host_uptime");
    }
    assert_eq!(events.iter().filter(|e| e["event"] == "call").count(), 4);
    assert!(!events.iter().any(|e| e["event"] == "greeting"));
    // The summary counts everything decoded, filtered or not.
    let summary = |o: &Output| {
        let last = stdout(o).lines().last().unwrap().to_string();
        serde_json::from_str::<serde_json::Value>(&last).unwrap()
    };
    assert_eq!(summary(&some)["messages"], summary(&all)["messages"]);
    let host = zmqtrace(&["-r", capture, "-o", "jsonl", "--host", "127.0.20.4"]);
    for line in stdout(&host).lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["event"] == "message" {
            assert!(
                e["dst"].as_str().unwrap().starts_with("127.0.20.4:"),
                "{line}"
            );
        }
    }
}
