//! Hops through haproxy, as all-in-one setups run the legacy driver:
//! haproxy holds 9501 and forwards to the zmq-receiver on 9500 of the same
//! host. A real run (captures/tools/record_doctor.py haproxy_aio: real
//! oslo.messaging 1.10.0, real zmq-receivers, real haproxy 2.6); what was
//! sent comes from `events.jsonl`, written by the sending processes.
//!
//! Every message to compute2 is on the wire twice, client → haproxy and
//! haproxy → receiver: the second is a `forward` of the first, counted
//! once, and calls are paired once, with the latency of the client's hop.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

const DIR: &str = "tests/fixtures/doctor/capture_haproxy_aio";
const HAPROXY: &str = "10.0.27.3:9501";
const RECEIVER: &str = "10.0.27.3:9500";

fn lines(args: &[&str]) -> Vec<Value> {
    let pcap = format!("{}/{DIR}/capture.pcap", env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .args(args)
        .args(["-r", &pcap, "-o", "jsonl"])
        .output()
        .expect("run zmqtrace");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn sends() -> Vec<Value> {
    let path = format!("{}/{DIR}/events.jsonl", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .expect("events.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("event"))
        .filter(|e| e["ev"] == "send")
        .collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

#[test]
fn every_message_through_haproxy_is_one_forward_and_counted_once() {
    let events = lines(&[]);
    let messages = of(&events, "message");
    let sends = sends();
    assert_eq!(sends.len(), 11);
    let mut hops = 0;
    for send in &sends {
        // Source ports are pinned: one connection per send.
        let conn = format!("{}>{}", s(&send["src"]), s(&send["dst"]));
        let first: Vec<&&Value> = messages.iter().filter(|m| m["conn"] == conn).collect();
        assert_eq!(first.len(), 1, "{conn}");
        let rpc = &first[0]["rpc"];
        let frames = send["frames"].as_array().unwrap();
        assert_eq!(rpc["topic"], frames[1], "{conn}");
        assert!(rpc.get("forwarded").is_none(), "{conn}: {rpc}");
        if s(&send["dst"]) != HAPROXY {
            continue;
        }
        hops += 1;
        let forward: Vec<&Value> = of(&events, "forward")
            .into_iter()
            .filter(|f| f["from_conn"] == conn)
            .collect();
        assert_eq!(forward.len(), 1, "{conn}");
        let to = s(&forward[0]["to_conn"]);
        assert!(
            to.starts_with("10.0.27.3:") && to.ends_with(&format!(">{RECEIVER}")),
            "{to}"
        );
        let second: Vec<&&Value> = messages.iter().filter(|m| m["conn"] == to).collect();
        assert_eq!(second.len(), 1, "{to}");
        let hop = &second[0]["rpc"];
        assert_eq!(hop["forwarded"], true, "{hop}");
        assert_eq!(hop["topic"], rpc["topic"]);
        assert_eq!(hop["kind"], rpc["kind"]);
        assert_eq!(hop["msg_id"], rpc["msg_id"]);
        // The forward's delay is the gap between the two sightings.
        let delay = second[0]["ts"].as_f64().unwrap() - first[0]["ts"].as_f64().unwrap();
        assert!(delay >= 0.0);
        let said = forward[0]["delay_ms"].as_f64().unwrap();
        assert!((said - delay * 1e3).abs() < 0.002, "{said} vs {delay}");
    }
    assert_eq!(hops, 4);
    assert_eq!(of(&events, "forward").len(), hops);
    assert_eq!(messages.len(), sends.len() + hops);

    // Calls: one per -reply the client sent, paired with the reply its
    // callee sent, the latency taken from the client's own hop.
    let calls = of(&events, "call");
    let requests: BTreeMap<&str, &Value> = messages
        .iter()
        .filter(|m| m["rpc"]["kind"] == "call" && m["rpc"].get("forwarded").is_none())
        .map(|m| (s(&m["rpc"]["msg_id"]), *m))
        .collect();
    let replies: BTreeMap<&str, &Value> = messages
        .iter()
        .filter(|m| m["rpc"]["kind"] == "reply")
        .map(|m| (s(&m["rpc"]["msg_id"]), *m))
        .collect();
    let sent_calls = sends
        .iter()
        .filter(|e| s(&e["frames"][3]).contains("\"-reply\""))
        .count();
    assert_eq!((calls.len(), requests.len(), sent_calls), (4, 4, 4));
    for c in &calls {
        let id = s(&c["msg_id"]);
        let (req, rep) = (requests[id], replies[id]);
        assert_eq!(c["conn"], req["conn"], "the client's hop, not haproxy's");
        let latency = rep["ts"].as_f64().unwrap() - req["ts"].as_f64().unwrap();
        let said = c["latency_ms"].as_f64().unwrap();
        assert!(
            (said - latency * 1e3).abs() < 0.002,
            "{id}: {said} vs {latency}"
        );
    }
    assert!(of(&events, "timeout").is_empty());
    let summary = of(&events, "summary");
    assert_eq!(summary[0]["forwards"], hops);
}

#[test]
fn stats_count_a_forwarded_message_once() {
    let rows = lines(&["stats"]);
    let row = |topic: &str, method: &str| {
        rows.iter()
            .find(|r| r["event"] == "topic_stats" && r["topic"] == topic && r["method"] == method)
            .unwrap_or_else(|| panic!("{topic} {method} in {rows:#?}"))
    };
    // Two pings and one run_instance to compute2, each on the wire twice.
    let ping = row("compute.compute2", "ping");
    assert_eq!((&ping["messages"], &ping["calls"]), (&2.into(), &2.into()));
    assert_eq!(row("compute.compute2", "run_instance")["messages"], 1);
    assert_eq!(
        row("fanout~compute.compute2", "update_service_capabilities")["messages"],
        1
    );
}
