//! The oslo layer on real oslo.messaging runs (captures/oslo): every
//! message's kind, topic, method and msg_id match the truth; every call is
//! paired with its reply, with latency = reply ts - request ts of the
//! capture's own timestamps; proxy hops are forwards; nothing spurious.

mod common;

use std::process::Command;

use common::captures;
use common::oslo::{kind_of, legacy_truth_lines, multiset, s, trace, traced_lines, truth};
use serde_json::Value;

/// Calls: msg_id, method, and latency checked against our own message
/// timestamps; returns our calls by msg_id.
fn check_calls(events: &[Value], truth: &Value, id_key: &str) {
    let calls: Vec<&Value> = events.iter().filter(|e| e["event"] == "call").collect();
    let timeouts = events.iter().filter(|e| e["event"] == "timeout").count();
    assert_eq!(timeouts, 0, "spurious timeouts");
    let want = truth["calls"].as_array().unwrap();
    assert_eq!(calls.len(), want.len(), "calls");
    for w in want {
        let id = w[id_key].as_str().unwrap();
        let got = calls
            .iter()
            .find(|c| c["msg_id"] == id)
            .unwrap_or_else(|| panic!("call {id} not paired"));
        assert_eq!(got["method"], w["method"], "method of call {id}");
        // Latency from the capture's own timestamps: the request's message
        // event and the reply's.
        let request_ts = got["request_ts"].as_f64().unwrap();
        let reply_ts = got["reply_ts"].as_f64().unwrap();
        let first_request = events
            .iter()
            .find(|e| {
                e["event"] == "message" && e["rpc"]["kind"] == "call" && e["rpc"]["msg_id"] == id
            })
            .unwrap();
        assert_eq!(
            first_request["ts"].as_f64().unwrap(),
            request_ts,
            "request ts of {id}"
        );
        let replies: Vec<f64> = events
            .iter()
            .filter(|e| {
                e["event"] == "message" && e["rpc"]["kind"] == "reply" && e["rpc"]["msg_id"] == id
            })
            .map(|e| e["ts"].as_f64().unwrap())
            .collect();
        assert!(replies.contains(&reply_ts), "reply ts of {id}");
        let latency = got["latency_ms"].as_f64().unwrap();
        assert!(
            (latency - (reply_ts - request_ts) * 1e3).abs() < 0.002,
            "latency of {id}"
        );
        // The truth's latency is from the senders' clocks: close, not equal.
        let wire = w
            .get("latency_s")
            .or(w.get("wire_latency_s"))
            .and_then(Value::as_f64)
            .unwrap()
            * 1e3;
        assert!(
            (latency - wire).abs() < 5.0,
            "{id}: {latency} ms here, {wire} ms by the senders' clocks"
        );
    }
}

#[test]
fn legacy_liberty_ring() {
    let name = "legacy_liberty_ring";
    let events = trace(name);
    let truth = truth(name);
    let want = legacy_truth_lines(&truth, false);
    let got = traced_lines(&events, false);
    assert_eq!(got, want);
    // Envelopes: impl_zmq_v2 notifications too, and the driver named.
    assert!(events
        .iter()
        .any(|e| e["rpc"]["envelope"] == "impl_zmq_v2" && e["rpc"]["oslo_version"] == "2.0"));
    assert!(events
        .iter()
        .filter(|e| e["event"] == "message")
        .all(|e| e["rpc"]["driver"] == "impl_zmq"));
    check_calls(&events, &truth, "call_msg_id");
    // Secrets stay hidden: the contexts carry auth_token (null here) and
    // nothing names a password in clear.
    let failures: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "call" && !e["failure"].is_null())
        .collect();
    assert_eq!(failures.len(), 1, "the boom call failed remotely");
}

#[test]
fn new_rocky_direct_json() {
    let name = "new_rocky_direct_json";
    let events = trace(name);
    let truth = truth(name);
    let want = multiset(truth["messages"].as_array().unwrap().iter().map(|m| {
        let kind = kind_of(m["msg_type"].as_str().unwrap());
        let method = if kind == "notify" {
            s(&m["event_type"])
        } else {
            s(&m["method"])
        };
        format!(
            "{} > {} {kind} {method} {}",
            s(&m["src"]),
            s(&m["dst"]),
            s(&m["message_id"])
        )
    }));
    let got = multiset(events.iter().filter(|e| e["event"] == "message").map(|e| {
        let r = &e["rpc"];
        let method = if r["kind"] == "notify" {
            s(&r["event_type"])
        } else {
            s(&r["method"])
        };
        format!(
            "{} > {} {} {method} {}",
            s(&e["src"]),
            s(&e["dst"]),
            s(&r["kind"]),
            s(&r["msg_id"])
        )
    }));
    assert_eq!(got, want);
    // Direct mode: the topic is not on the wire. The server is named by
    // endpoint instead, and matches the truth's endpoints.
    let endpoints = &truth["endpoints"];
    for e in events
        .iter()
        .filter(|e| e["event"] == "message" && e["rpc"]["kind"] == "call")
    {
        assert!(e["rpc"]["topic"].is_null());
        let server = e["rpc"]["server"].as_str().unwrap();
        assert!(endpoints.as_object().unwrap().values().any(|v| v
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == server)));
    }
    check_calls(&events, &truth, "message_id");
    assert!(
        events.iter().all(|e| e["event"] != "forward"),
        "direct mode has no hops"
    );
}

#[test]
fn new_rocky_proxy_acks() {
    let name = "new_rocky_proxy_acks";
    let events = trace(name);
    let truth = truth(name);
    // The proxy's own log entries give a notification's event type only
    // as `method`.
    let want = multiset(truth["messages"].as_array().unwrap().iter().map(|m| {
        let kind = kind_of(m["msg_type"].as_str().unwrap());
        format!(
            "{kind} {} {} {}",
            s(&m["topic"]),
            s(&m["method"]),
            s(&m["message_id"])
        )
    }));
    let got = multiset(events.iter().filter(|e| e["event"] == "message").map(|e| {
        let r = &e["rpc"];
        let method = if r["kind"] == "notify" {
            s(&r["event_type"])
        } else {
            s(&r["method"])
        };
        format!(
            "{} {} {method} {}",
            s(&r["kind"]),
            s(&r["topic"]),
            s(&r["msg_id"])
        )
    }));
    assert_eq!(got, want);
    // Every request and response crosses the proxy: each second sighting
    // is a forward from the connection into the proxy to the one out of it.
    let forwards: Vec<&Value> = events.iter().filter(|e| e["event"] == "forward").collect();
    assert_eq!(forwards.len(), 45);
    for f in &forwards {
        assert!(f["from_conn"] != f["to_conn"]);
        assert!(f["delay_ms"].as_f64().unwrap() >= 0.0 && f["delay_ms"].as_f64().unwrap() < 100.0);
    }
    let forwarded = events
        .iter()
        .filter(|e| e["rpc"]["forwarded"] == true)
        .count();
    assert_eq!(forwarded, 45);
    check_calls(&events, &truth, "message_id");
    let summary = events.last().unwrap();
    assert_eq!(summary["calls"], 10);
    assert_eq!(summary["forwards"], 45);
}

#[test]
fn stats_per_topic_and_method_count_hops_once() {
    let path = captures().join("oslo").join("new_rocky_proxy_acks.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .args(["stats", "-r", path.to_str().unwrap(), "-o", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |method: &str| {
        lines
            .iter()
            .find(|l| {
                l["event"] == "topic_stats" && l["topic"] == "compute" && l["method"] == method
            })
            .unwrap_or_else(|| panic!("no row for compute {method}"))
            .clone()
    };
    // 6 ping calls through the proxy: request, ACK and reply each, every
    // one seen on two hops but counted once.
    let ping = row("ping");
    assert_eq!(ping["messages"], 18);
    assert_eq!(ping["calls"], 6);
    assert_eq!(ping["timeouts"], 0);
    let latency = &ping["latency_ms"];
    let (p50, max) = (
        latency["p50"].as_f64().unwrap(),
        latency["max"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= max && max < 100.0, "{latency}");
    assert_eq!(row("boom")["failures"], 1);
    assert!(lines
        .iter()
        .any(|l| l["event"] == "talker" && l["host"] == "127.0.10.1"));
    let summary = lines.last().unwrap();
    assert_eq!(summary["calls"], 10);
    assert_eq!(summary["messages"], 90);
}
