//! Captures of real libzmq traffic (captures/libzmq, recorded by
//! captures/tools/record_libzmq.py): every direction reassembles to exactly
//! the length and SHA-256 the recorder computed with its own pcap reader, and
//! `zmqtrace flows -o jsonl` reports the same connections and byte counts.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use common::{captures, collect, sha256_hex};
use serde_json::Value;
use zmqtrace::tcp::TcpConfig;

fn truth(name: &str) -> Value {
    let path = captures().join("libzmq").join(format!("{name}.truth.json"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("truth JSON")
}

const DIRS: [&str; 2] = ["c2s", "s2c"];

/// The library pipeline: one incarnation per truth connection, no gaps, and
/// each direction's bytes hash to the truth.
fn check_streams(name: &str) {
    let truth = truth(name);
    let pcap = captures().join("libzmq").join(format!("{name}.pcap"));
    let (collected, stats) = collect(&pcap, TcpConfig::default());
    let conns = truth["connections"].as_array().expect("connections");
    assert!(!conns.is_empty(), "{name}: truth lists no connections");
    assert_eq!(
        collected.connections.len(),
        conns.len(),
        "{name}: connections seen {:?}",
        collected
            .connections
            .iter()
            .map(|c| &c.label)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        stats.tcp.evicted + stats.tcp.held_overflows + stats.tcp.memcap_flushes,
        0
    );
    for conn in conns {
        let label = conn["conn"].as_str().unwrap();
        for dir in DIRS {
            let want_len = conn[dir]["bytes"].as_u64().unwrap();
            let want_sha = conn[dir]["sha256"].as_str().unwrap();
            let streams = collected
                .streams
                .get(&(label.to_string(), dir))
                .unwrap_or_else(|| panic!("{name}: no {dir} stream for {label}"));
            assert_eq!(
                streams.len(),
                1,
                "{name}: {label} seen as {} connections",
                streams.len()
            );
            let stream = &streams[0];
            assert!(
                stream
                    .runs
                    .iter()
                    .all(|r| matches!(r, common::Run::Data { .. })),
                "{name}: {label} {dir} has gaps: {:?}",
                stream.runs
            );
            assert_eq!(
                stream.bytes.len() as u64,
                want_len,
                "{name}: {label} {dir} length"
            );
            assert_eq!(
                sha256_hex(&stream.bytes),
                want_sha,
                "{name}: {label} {dir} SHA-256"
            );
        }
        let summary = collected
            .connections
            .iter()
            .find(|c| c.label == label)
            .unwrap_or_else(|| panic!("{name}: {label} not retired"));
        assert!(
            !summary.midstream && !summary.flipped,
            "{name}: {label}: {summary:?}"
        );
        assert_eq!(
            summary.closed,
            conn["closed"].as_str().unwrap(),
            "{name}: {label} close"
        );
    }
}

/// The real binary: one `flow` object per truth connection with the truth's
/// byte counts, then a `summary` line last.
fn check_flows_cli(name: &str) {
    let truth = truth(name);
    let pcap = captures().join("libzmq").join(format!("{name}.pcap"));
    let out = Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .args(["flows", "-r"])
        .arg(&pcap)
        .args(["-o", "jsonl"])
        .output()
        .expect("run zmqtrace");
    assert!(
        out.status.success(),
        "{name}: zmqtrace failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: bad line {l:?}: {e}")))
        .collect();
    let (last, flows) = lines.split_last().expect("some output");
    assert_eq!(last["event"], "summary", "{name}: last line {last}");
    let mut by_conn = BTreeMap::new();
    for flow in flows {
        assert_eq!(flow["event"], "flow", "{name}: unexpected line {flow}");
        let conn = flow["conn"].as_str().unwrap().to_string();
        assert!(
            by_conn.insert(conn.clone(), flow).is_none(),
            "{name}: {conn} twice"
        );
    }
    let conns = truth["connections"].as_array().unwrap();
    assert_eq!(
        by_conn.len(),
        conns.len(),
        "{name}: flows {:?}",
        by_conn.keys()
    );
    for conn in conns {
        let label = conn["conn"].as_str().unwrap();
        let flow = by_conn
            .get(label)
            .unwrap_or_else(|| panic!("{name}: no flow for {label}"));
        for dir in DIRS {
            assert_eq!(
                flow[dir]["bytes"].as_u64(),
                conn[dir]["bytes"].as_u64(),
                "{name}: {label} {dir} bytes"
            );
            assert_eq!(flow[dir]["missed_bytes"], 0, "{name}: {label} {dir} missed");
        }
        assert_eq!(flow["state"], conn["closed"], "{name}: {label} state");
    }
    assert_eq!(
        last["flows"].as_u64(),
        Some(conns.len() as u64),
        "{name}: summary {last}"
    );
}

#[test]
fn dealer_router_rpc_streams() {
    check_streams("dealer_router_rpc");
}

#[test]
fn dealer_router_rpc_flows_cli() {
    check_flows_cli("dealer_router_rpc");
}

#[test]
fn push_pull_sizes_streams() {
    check_streams("push_pull_sizes");
}

#[test]
fn push_pull_sizes_flows_cli() {
    check_flows_cli("push_pull_sizes");
}
