//! Helpers for the oslo capture tests: run the binary, read a truth, and
//! compare multisets of message descriptions.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use super::captures;

/// `zmqtrace -r captures/oslo/NAME.pcap -o jsonl`, every line parsed.
pub fn trace(name: &str) -> Vec<Value> {
    trace_with(name, &[])
}

/// The same with more arguments (a subcommand first, e.g. `stats`).
pub fn trace_with(name: &str, args: &[&str]) -> Vec<Value> {
    let path = captures().join("oslo").join(format!("{name}.pcap"));
    let out = Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .args(args)
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

/// A legacy (impl_zmq) run's messages as the truth records them:
/// `src > dst kind topic method msg_id`, plus the envelope when asked. A
/// reply's method is its call's; a notification's is its event type.
pub fn legacy_truth_lines(truth: &Value, with_envelope: bool) -> BTreeMap<String, usize> {
    let call_methods: BTreeMap<String, String> = truth["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (s(&c["call_msg_id"]), s(&c["method"])))
        .collect();
    multiset(truth["messages"].as_array().unwrap().iter().map(|m| {
        let kind = kind_of(m["kind"].as_str().unwrap());
        let id = s(&m["call_msg_id"]);
        let method = match kind {
            "reply" => call_methods[&id].clone(),
            "notify" => s(&m["event_type"]),
            _ => s(&m["method"]),
        };
        let mut line = format!(
            "{} > {} {kind} {} {method} {id}",
            s(&m["src"]),
            s(&m["dst"]),
            s(&m["topic"])
        );
        if with_envelope {
            line.push_str(&format!(" {}", s(&m["envelope"])));
        }
        line
    }))
}

/// The same lines from zmqtrace's `message` events.
pub fn traced_lines(events: &[Value], with_envelope: bool) -> BTreeMap<String, usize> {
    multiset(events.iter().filter(|e| e["event"] == "message").map(|e| {
        let r = &e["rpc"];
        let method = if r["kind"] == "notify" {
            s(&r["event_type"])
        } else {
            s(&r["method"])
        };
        let mut line = format!(
            "{} > {} {} {} {method} {}",
            s(&e["src"]),
            s(&e["dst"]),
            s(&r["kind"]),
            s(&r["topic"]),
            s(&r["msg_id"])
        );
        if with_envelope {
            line.push_str(&format!(" {}", s(&r["envelope"])));
        }
        line
    }))
}
