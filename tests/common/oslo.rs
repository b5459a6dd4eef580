//! Helpers for the oslo capture tests: run the binary, read a truth, and
//! compare multisets of message descriptions.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use super::captures;

/// `zmqtrace -r captures/oslo/NAME.pcap -o jsonl`, every line parsed.
pub fn trace(name: &str) -> Vec<Value> {
    let path = captures().join("oslo").join(format!("{name}.pcap"));
    let out = Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .args(["-r", path.to_str().unwrap(), "-o", "jsonl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// captures/oslo/NAME.truth.json.
pub fn truth(name: &str) -> Value {
    let text = std::fs::read_to_string(captures().join("oslo").join(format!("{name}.truth.json")))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A string field, or "-".
pub fn s(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| "-".into())
}

pub fn multiset(keys: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for k in keys {
        *m.entry(k).or_default() += 1;
    }
    m
}

/// The truth's message type as the `rpc.kind` zmqtrace prints.
pub fn kind_of(msg_type: &str) -> &'static str {
    match msg_type {
        "CALL" | "call" => "call",
        "CAST" | "cast" => "cast",
        "CAST_FANOUT" | "fanout" => "fanout",
        "NOTIFY" | "notification" => "notify",
        "REPLY" | "reply" => "reply",
        "ACK" => "ack",
        other => panic!("unknown kind {other}"),
    }
}
