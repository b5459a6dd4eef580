//! More real oslo.messaging runs (captures/oslo, made by
//! captures/tools/record_oslo.py): every message's kind, method and msg_id
//! (and endpoints) match the truth written by the generating processes;
//! the topic is absent, as it is not on the wire in direct mode; every call
//! is paired with its reply, latency within 5 ms of the senders' clocks;
//! no spurious call, timeout or forward.

mod common;

use std::collections::BTreeMap;

use common::oslo::{
    kind_of, legacy_truth_lines, multiset, s, trace, trace_with, traced_lines, truth,
};
use serde_json::Value;

fn messages(events: &[Value]) -> impl Iterator<Item = &Value> {
    events.iter().filter(|e| e["event"] == "message")
}

/// Both multisets must be equal; on failure, list only the differences.
fn assert_same(got: &BTreeMap<String, usize>, want: &BTreeMap<String, usize>, what: &str) {
    let mut diff = Vec::new();
    for (k, n) in want {
        let g = got.get(k).copied().unwrap_or(0);
        if g != *n {
            diff.push(format!("  truth {n} x, zmqtrace {g} x: {k}"));
        }
    }
    for (k, g) in got {
        if !want.contains_key(k) {
            diff.push(format!("  truth 0 x, zmqtrace {g} x: {k}"));
        }
    }
    assert!(
        diff.is_empty(),
        "{what}: {} differences\n{}",
        diff.len(),
        diff.join("\n")
    );
}

/// Every message: `src > dst kind method msg_id` (a notification's method
/// is its event type), as a multiset against the truth's, so nothing is
/// missing and nothing is extra. Direct mode: the topic is not on the wire,
/// but these runs captured the redis name service, whose registrations
/// name the listening endpoints: each message's topic must be the sender's
/// Target topic, and its server either the sender's Target server or, for
/// a round-robin or fanout copy, the node that owns the endpoint it reached
/// (the truth's `endpoints`); never another node.
fn check_messages(name: &str, envelope: &str) {
    check_messages_naming(name, envelope, 4);
}

/// The id zmqtrace gives a truth message: its own, or for a reply that
/// carries none (2.6 .. 3.0, over REQ) the id of the call it answers.
fn truth_id(m: &Value) -> &Value {
    match &m["message_id"] {
        Value::Null if m["msg_type"] == "REPLY" => &m["reply_to"],
        id => id,
    }
}

/// [`check_messages`], with `names` endpoints the name service names.
fn check_messages_naming(name: &str, envelope: &str, names: u64) {
    let events = trace(name);
    let truth = truth(name);
    let want = multiset(truth["messages"].as_array().unwrap().iter().map(|m| {
        format!(
            "{} > {} {} {} {}",
            s(&m["src"]),
            s(&m["dst"]),
            kind_of(m["msg_type"].as_str().unwrap()),
            s(&m["method"]),
            s(truth_id(m))
        )
    }));
    // A body cut by the keep cap keeps its id too (G1 pickles put it after
    // the arguments: it is read from the frame's last bytes).
    let got = multiset(messages(&events).map(|e| {
        let r = &e["rpc"];
        // An ACK names what it acknowledges: a notification by its type.
        let method = if r["kind"] == "notify" || r["method"].is_null() {
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
    assert!(
        messages(&events).any(|e| e["rpc"]["truncated"] == true) || !name.contains("pickle"),
        "{name}: the pickling runs all send a body over the keep cap"
    );
    assert_same(&got, &want, name);
    let owner = |endpoint: &Value| -> String {
        truth["endpoints"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, addrs)| addrs.as_array().unwrap().contains(endpoint))
            .map(|(node, _)| node.clone())
            .unwrap_or_else(|| panic!("{endpoint} is not a listening socket"))
    };
    for m in truth["messages"].as_array().unwrap() {
        let same = |e: &&Value| {
            e["src"] == m["src"]
                && e["dst"] == m["dst"]
                && e["rpc"]["kind"] == kind_of(m["msg_type"].as_str().unwrap())
        };
        let e = messages(&events)
            .find(|e| same(e) && &e["rpc"]["msg_id"] == truth_id(m))
            .or_else(|| {
                messages(&events).find(|e| {
                    same(e) && e["rpc"]["truncated"] == true && e["rpc"]["method"] == m["method"]
                })
            })
            .unwrap();
        let r = &e["rpc"];
        assert_eq!(r["driver"], "zmq", "{e}");
        assert_eq!(r["envelope"], envelope, "{e}");
        assert_eq!(r["topic"], m["topic"], "the name service's topic: {e}");
        let endpoint = if r["kind"] == "reply" || r["kind"] == "ack" {
            &e["src"]
        } else {
            &e["dst"]
        };
        // Needed only when zmqtrace names a server the sender did not (a
        // PUB copy's destination is a SUB's own port, not a listener).
        let node = || owner(endpoint);
        match (&r["server"], &m["server"]) {
            (got, Value::String(_)) => assert_eq!(got, &m["server"], "{e}"),
            (Value::Null, Value::Null) => {}
            // An ACK from a listener registered for several topics (2.7's
            // notification ROUTER: info and error) is named by its
            // request's topic and its endpoint.
            (Value::String(got), Value::Null) if r["kind"] == "ack" && got == endpoint => {}
            (Value::String(got), Value::Null) => assert_eq!(*got, node(), "{e}"),
            (got, _) => panic!("server {got} in {e}"),
        }
    }
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert!(summary["redis_connections"].as_u64().unwrap() > 0);
    assert_eq!(summary["redis_abandoned"], 0);
    // G3/G4: node-1's RPC and two notification endpoints, node-2's RPC
    // endpoint.
    assert_eq!(summary["names_learned"], names);
}

/// Calls: each truth call paired by msg_id with its method, the latency
/// taken from the capture's own request and reply timestamps and within
/// 5 ms of the senders' clocks; no spurious call, timeout or forward.
/// New driver: the reply comes back on the request's connection.
fn check_calls(name: &str) {
    check_calls_by(name, "message_id", "wire_latency_s", true);
    no_forwards(name);
}

fn no_forwards(name: &str) {
    assert!(
        trace(name).iter().all(|e| e["event"] != "forward"),
        "no proxy, no forwards"
    );
}

fn check_calls_by(name: &str, id_key: &str, latency_key: &str, same_conn: bool) {
    let events = trace(name);
    let truth = truth(name);
    // A call whose reply a ROUTER on the wire dropped (the client had
    // given up and closed its socket) is a timeout at the end of input; one
    // dropped later on ipc (the broker's) was answered on the wire.
    let dropped_on_wire: Vec<&Value> = truth["dropped"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter(|m| m["transport"] != "ipc")
                .map(|m| &m["reply_to"])
                .collect()
        })
        .unwrap_or_default();
    let (dropped, want): (Vec<&Value>, Vec<&Value>) = truth["calls"]
        .as_array()
        .unwrap()
        .iter()
        .partition(|c| dropped_on_wire.contains(&&c[id_key]));
    let timeouts: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "timeout")
        .map(|e| format!("{} {}", s(&e["method"]), s(&e["msg_id"])))
        .collect();
    let want_timeouts: Vec<String> = dropped
        .iter()
        .map(|c| format!("{} {}", s(&c["method"]), s(&c[id_key])))
        .collect();
    assert_eq!(timeouts, want_timeouts, "timeouts");
    let calls: Vec<&Value> = events.iter().filter(|e| e["event"] == "call").collect();
    assert_eq!(calls.len(), want.len(), "calls");
    for w in &want {
        let id = w[id_key].as_str().unwrap();
        let got = calls
            .iter()
            .find(|c| c["msg_id"] == id)
            .unwrap_or_else(|| panic!("call {id} not paired"));
        assert_eq!(got["method"], w["method"], "method of call {id}");
        let request_ts = got["request_ts"].as_f64().unwrap();
        let reply_ts = got["reply_ts"].as_f64().unwrap();
        let request = messages(&events)
            .find(|e| e["rpc"]["kind"] == "call" && e["rpc"]["msg_id"] == id)
            .unwrap();
        assert_eq!(
            request["ts"].as_f64().unwrap(),
            request_ts,
            "request ts of {id}"
        );
        // The reply sighting the call was closed with (through a proxy,
        // the reply crosses two connections).
        let reply = messages(&events)
            .find(|e| {
                e["rpc"]["kind"] == "reply"
                    && e["rpc"]["msg_id"] == id
                    && e["ts"].as_f64() == Some(reply_ts)
            })
            .unwrap_or_else(|| panic!("reply ts of {id}"));
        if same_conn {
            assert_eq!(reply["src"], request["dst"], "{id}");
            assert_eq!(reply["dst"], request["src"], "{id}");
        }
        let latency = got["latency_ms"].as_f64().unwrap();
        assert!(
            (latency - (reply_ts - request_ts) * 1e3).abs() < 0.002,
            "latency of {id}"
        );
        let wire = w[latency_key].as_f64().unwrap() * 1e3;
        assert!(
            (latency - wire).abs() < 5.0,
            "{id}: {latency} ms here, {wire} ms by the senders' clocks"
        );
        // A failed call (the remote raised) is reported as such.
        assert_eq!(
            !got["failure"].is_null(),
            w["failure"] == true,
            "failure of call {id}"
        );
    }
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["calls"], want.len());
    assert_eq!(summary["timeouts"], dropped.len());
    assert_eq!(
        summary["messages"],
        truth["messages"].as_array().unwrap().len()
    );
}

/// A run through a proxy or broker: every hop's message (kind, topic,
/// method, id as zmqtrace gives it) as a multiset against the truth's.
fn check_hops(name: &str) {
    let events = trace(name);
    let truth = truth(name);
    let want = multiset(truth["messages"].as_array().unwrap().iter().map(|m| {
        format!(
            "{} > {} {} {} {} {}",
            s(&m["src"]),
            s(&m["dst"]),
            kind_of(m["msg_type"].as_str().unwrap()),
            s(&m["topic"]),
            s(&m["method"]),
            s(truth_id(m))
        )
    }));
    assert_same(&traced_lines(&events, false), &want, name);
}

// oslo.messaging 8.1.4 (Rocky, G4), direct, rpc_zmq_serialization = msgpack.

#[test]
fn new_rocky_direct_msgpack_messages() {
    check_messages("new_rocky_direct_msgpack", "1.0");
}

#[test]
fn new_rocky_direct_msgpack_calls() {
    check_calls("new_rocky_direct_msgpack");
}

#[test]
fn new_rocky_direct_msgpack_bodies_are_msgpack() {
    // Every body zmqtrace decoded was msgpack, not JSON.
    let events = trace("new_rocky_direct_msgpack");
    let decoded: Vec<&Value> = messages(&events)
        .filter(|e| e["rpc"]["truncated"] != true)
        .collect();
    assert!(!decoded.is_empty());
    for e in decoded {
        assert_eq!(e["rpc"]["serialization"], "msgpack", "{e}");
    }
}

/// The name service is looked for on --redis-port: elsewhere, the same
/// capture names no topic, and each message's server is its endpoint.
#[test]
fn redis_elsewhere_names_nothing() {
    let events = trace_with("new_rocky_direct_msgpack", &["--redis-port", "6380"]);
    for e in messages(&events) {
        let r = &e["rpc"];
        assert!(r["topic"].is_null(), "{e}");
        let endpoint = if r["kind"] == "reply" {
            &e["src"]
        } else {
            &e["dst"]
        };
        assert_eq!(&r["server"], endpoint, "{e}");
    }
    let summary = events.last().unwrap();
    assert_eq!(summary["redis_connections"], 0);
    assert_eq!(summary["names_learned"], 0);
}

/// -w keeps the redis connections: the written file names what the
/// original did.
#[test]
fn written_flows_keep_the_name_service() {
    let dir = std::env::temp_dir().join(format!("zmqtrace-redis-w-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let written = dir.join("out.pcap");
    let events = trace_with(
        "new_rocky_direct_msgpack",
        &["-w", written.to_str().unwrap()],
    );
    assert!(events.last().unwrap()["written_packets"].as_u64().unwrap() > 0);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .args(["-r", written.to_str().unwrap(), "-o", "jsonl"])
        .output()
        .unwrap();
    let last: Value = serde_json::from_str(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["names_learned"], 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without the name service, stats group a direct-mode call where its
/// messages are: under the server's endpoint, not under a bare `?`.
#[test]
fn stats_group_direct_calls_with_their_messages() {
    let lines = trace_with("new_rocky_direct_json", &["stats"]);
    let topics: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "topic_stats")
        .collect();
    assert!(!topics.is_empty());
    for t in &topics {
        assert!(
            t["topic"].as_str().unwrap().starts_with("?@127.0.10."),
            "{t}"
        );
        if t["calls"].as_u64().unwrap() > 0 {
            assert!(
                t["messages"].as_u64().unwrap() >= 2 * t["calls"].as_u64().unwrap(),
                "{t}"
            );
        }
    }
    let calls: u64 = topics.iter().map(|t| t["calls"].as_u64().unwrap()).sum();
    assert_eq!(calls, 13);
}

// oslo.messaging 4.6.1 (Mitaka, G1): pickled request objects and reply
// dicts (protocol 2, as eventlet's green sockets send them), DEALER ->
// ROUTER for calls, PUSH -> PULL for casts, redis name service.

#[test]
fn new_mitaka_direct_pickle_messages() {
    // The ROUTER_ registrations: node-1's and node-2's RPC endpoints; not
    // node-1's notification listener, one ROUTER registered for both
    // priorities (PULL_ keys name the cast sockets, whose messages carry
    // their topic anyway).
    check_messages_naming("new_mitaka_direct_pickle", "pickle", 2);
}

#[test]
fn new_mitaka_direct_pickle_calls() {
    check_calls("new_mitaka_direct_pickle");
}

#[test]
fn new_mitaka_direct_pickle_requests_carry_their_target() {
    // G1 pickles the request's Target: topic and server come from the
    // message itself, not from the name service.
    check_pickled_targets("new_mitaka_direct_pickle");
}

/// A pickling run (G1, G2) traced without its name service: every
/// request's topic and server come from the pickled Target, and the one
/// failed call (`boom`) carries the remote exception.
fn check_pickled_targets(name: &str) {
    let plain = trace_with(name, &["--redis-port", "6380"]);
    let truth = truth(name);
    for m in truth["messages"].as_array().unwrap() {
        if m["msg_type"] == "REPLY" || m["msg_type"] == "ACK" {
            continue;
        }
        let e = messages(&plain)
            .find(|e| {
                e["src"] == m["src"]
                    && e["dst"] == m["dst"]
                    && (e["rpc"]["msg_id"] == m["message_id"]
                        || (e["rpc"]["truncated"] == true && e["rpc"]["method"] == m["method"]))
            })
            .unwrap();
        assert_eq!(e["rpc"]["topic"], m["topic"], "{e}");
        assert_eq!(e["rpc"]["server"], m["server"], "{e}");
        assert_eq!(e["rpc"]["serialization"], "pickle", "{e}");
    }
    let summary = plain.last().unwrap();
    assert_eq!(summary["names_learned"], 0);
    // The remote exception of `boom`, from the pickled reply's failure.
    let failed: Vec<&Value> = plain
        .iter()
        .filter(|e| e["event"] == "call" && !e["failure"].is_null())
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["method"], "boom");
    assert!(
        failed[0]["failure"]
            .as_str()
            .unwrap()
            .starts_with("ValueError"),
        "{}",
        failed[0]
    );
}

// oslo.messaging 5.4.0 (G2): `b'' | pickle(Envelope) | pickle(request)`,
// every message DEALER -> ROUTER; the REPLY carries the CALL's Envelope
// and a pickled Response; protocol 2, redis name service.

#[test]
fn new_om540_direct_pickle_messages() {
    // The ROUTER_ registrations: node-1's and node-2's RPC endpoints and
    // node-1's two notification endpoints (one ROUTER per priority).
    check_messages_naming("new_om540_direct_pickle", "pickle", 4);
}

#[test]
fn new_om540_direct_pickle_calls() {
    check_calls("new_om540_direct_pickle");
}

#[test]
fn new_om540_direct_pickle_requests_carry_their_target() {
    check_pickled_targets("new_om540_direct_pickle");
}

#[test]
fn new_om540_direct_pickle_envelope_outlives_a_cut_body() {
    // The Envelope comes before the body: the 70,000-character cast, whose
    // body is over the keep cap, keeps its message id, type and method.
    let events = trace("new_om540_direct_pickle");
    let truth = truth("new_om540_direct_pickle");
    let cut: Vec<&Value> = messages(&events)
        .filter(|e| e["rpc"]["truncated"] == true)
        .collect();
    assert_eq!(cut.len(), 1, "{cut:?}");
    let r = &cut[0]["rpc"];
    let m = truth["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_id"] == r["msg_id"])
        .unwrap_or_else(|| panic!("{} is not in the truth", cut[0]));
    assert_eq!(m["msg_type"], "CAST");
    assert_eq!(r["kind"], "cast");
    assert_eq!(r["method"], m["method"]);
    assert!(cut[0]["frames"][2]["len"].as_u64().unwrap() > 65_536);
}

// oslo.messaging 5.10.2 (Newton, G3: no `1.0` frame), direct, JSON.

#[test]
fn new_newton_direct_json_messages() {
    check_messages("new_newton_direct_json", "none");
}

#[test]
fn new_newton_direct_json_calls() {
    check_calls("new_newton_direct_json");
}

// oslo.messaging 5.10.2 (Newton, G3) with Newton's defaults: through the
// real oslo-messaging-zmq-proxy, PUB/SUB for fanout and notifications,
// ACKs.

/// Every hop, `kind topic method msg_id` against the truth (the topic of
/// the sender's Target, as for new_rocky_proxy_acks).
#[test]
fn a_body_over_the_keep_cap_is_counted_in_the_summary() {
    // One ceilometer cast in this run carries 70,357 bytes of JSON, more
    // than a frame keeps: its method is scanned for, and the summary says
    // one body was not kept whole.
    let events = trace("new_newton_direct_json");
    let cut: Vec<&Value> = messages(&events)
        .filter(|m| m["rpc"]["truncated"] == true)
        .collect();
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0]["rpc"]["method"], "record_metering_data");
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["truncated_bodies"], 1);
    assert_eq!(summary["undecodable_bodies"], 0);
    assert_eq!(summary["calls_evicted"], 0);
}

#[test]
fn new_newton_proxy_pubsub_acks_messages() {
    let name = "new_newton_proxy_pubsub_acks";
    check_hops(name);
    for e in messages(&trace(name)) {
        assert_eq!(e["rpc"]["envelope"], "none", "G3: no version frame: {e}");
    }
}

/// Calls paired through the proxy, ACKs not taken for replies, each
/// proxy->server and proxy->client hop a forward.
#[test]
fn new_newton_proxy_pubsub_acks_calls() {
    let name = "new_newton_proxy_pubsub_acks";
    check_calls_by(name, "message_id", "wire_latency_s", false);
    let events = trace(name);
    let truth = truth(name);
    let hops: Vec<&Value> = truth["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["hop"] == "proxy->server" || m["hop"] == "proxy->client")
        .collect();
    for h in &hops {
        let got = messages(&events)
            .find(|e| {
                e["src"] == h["src"]
                    && e["dst"] == h["dst"]
                    && e["rpc"]["msg_id"] == h["message_id"]
                    && e["rpc"]["kind"] == kind_of(h["msg_type"].as_str().unwrap())
            })
            .unwrap_or_else(|| panic!("hop not seen: {h}"));
        assert_eq!(got["rpc"]["forwarded"], true, "{got}");
    }
    let forwards: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "forward" && e["kind"] != "fanout" && e["kind"] != "notify")
        .collect();
    assert_eq!(forwards.len(), hops.len());
    for f in &forwards {
        assert!(f["from_conn"] != f["to_conn"]);
    }
    // Every call's ACK crossed both hops.
    let acks = messages(&events)
        .filter(|e| e["rpc"]["kind"] == "ack")
        .count();
    let want_acks = truth["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["msg_type"] == "ACK")
        .count();
    assert_eq!(acks, want_acks);
}

// oslo.messaging 1.10.0 legacy impl_zmq: a new PUSH connection per message,
// MatchMakerRing, a zmq-receiver per host on :9501.

#[test]
fn legacy_om110_ring_per_message_messages() {
    let name = "legacy_om110_ring_per_message";
    let events = trace(name);
    let truth = truth(name);
    let want = legacy_truth_lines(&truth, true);
    let got = traced_lines(&events, true);
    assert_same(&got, &want, name);
    assert!(messages(&events).all(|e| e["rpc"]["driver"] == "impl_zmq"));
    // One message per connection: every message on its own TCP
    // connection, and every connection carried one.
    let conns = multiset(messages(&events).map(|e| s(&e["conn"])));
    assert_eq!(conns.len(), want.values().sum::<usize>());
    assert!(conns.values().all(|n| *n == 1));
    let summary = events.last().unwrap();
    assert_eq!(summary["flows"], conns.len());
}

#[test]
fn legacy_om110_ring_per_message_calls() {
    let name = "legacy_om110_ring_per_message";
    // The reply is a cast from the server's host to the caller's
    // receiver: another connection, in the other direction.
    check_calls_by(name, "call_msg_id", "latency_s", false);
    no_forwards(name);
    let events = trace(name);
    let truth = truth(name);
    for w in truth["calls"].as_array().unwrap() {
        let got = events
            .iter()
            .find(|e| e["event"] == "call" && e["msg_id"] == w["call_msg_id"])
            .unwrap();
        assert_eq!(got["topic"], w["topic"]);
    }
}

// oslo.messaging 2.7.0 and 3.0.0 (G1 before 4.6), direct: calls over a REQ
// socket per call, the reply dict without an id (paired by connection),
// 2.7's ACK `{'id': …}`; the name service in redis LISTs under
// `ZMQ-target-…` (2.7) and `ROUTER_…` (3.0) keys.

#[test]
fn new_om27x_direct_pickle_messages() {
    // The RPC ROUTERs; the notification ROUTER is registered for both
    // priorities, so it has no one name.
    check_messages_naming("new_om27x_direct_pickle", "pickle", 2);
}

#[test]
fn new_om27x_direct_pickle_calls() {
    check_calls("new_om27x_direct_pickle");
}

#[test]
fn new_om27x_direct_pickle_requests_carry_their_target() {
    check_pickled_targets("new_om27x_direct_pickle");
}

#[test]
fn new_om30x_req_pickle_messages() {
    check_messages_naming("new_om30x_req_pickle", "pickle", 2);
}

#[test]
fn new_om30x_req_pickle_calls() {
    check_calls("new_om30x_req_pickle");
}

#[test]
fn new_om30x_req_pickle_requests_carry_their_target() {
    check_pickled_targets("new_om30x_req_pickle");
}

// oslo.messaging 3.0.0 with its default broker (the client's hops are ipc,
// not captured): the broker's DEALER sends `'' | pickle(envelope) |
// pickle(request)`, the server answers `'' | 'reply' | <the caller's REQ
// identity> | '' | pickle(dict)` with no message id: paired by that
// identity, which the call's envelope carried as its reply id.

#[test]
fn new_om30x_broker_pickle_messages() {
    check_hops("new_om30x_broker_pickle");
}

#[test]
fn new_om30x_broker_pickle_calls() {
    check_calls("new_om30x_broker_pickle");
}

// oslo.messaging 5.4.0 (G2) through the real zmq proxy, its defaults:
// `'' | type | routing key | id | pickle(ctx) | pickle(msg)` to the proxy,
// the routing key a server DEALER's uuid4 identity that redis names
// (`DEALER_compute.node-1`); the proxy's PUB puts the sender's identity
// where the message id belongs.

#[test]
fn new_om540_proxy_pickle_messages() {
    check_hops("new_om540_proxy_pickle");
}

#[test]
fn new_om540_proxy_pickle_calls() {
    check_calls_by(
        "new_om540_proxy_pickle",
        "message_id",
        "wire_latency_s",
        false,
    );
}

#[test]
fn new_om540_proxy_pickle_publications_are_hops_counted_once() {
    // The PUB copies carry no message id; their context and message
    // pickles are the client's, republished: each is a forward of the
    // client's message, and stats count every message once.
    let name = "new_om540_proxy_pickle";
    let truth = truth(name);
    let events = trace(name);
    let copies = truth["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["hop"] == "proxy-pub->server")
        .count();
    assert!(copies > 0);
    let forwards_to_subscribers: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "forward" && (e["kind"] == "fanout" || e["kind"] == "notify"))
        .collect();
    assert_eq!(forwards_to_subscribers.len(), copies);
    // Each names the client's message it is a copy of.
    let originals: Vec<&Value> = truth["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["hop"] == "proxy-pub->server")
        .map(|m| &m["request_message_id"])
        .collect();
    for f in &forwards_to_subscribers {
        assert!(originals.contains(&&f["msg_id"]), "{f}");
    }
    let sent_by_client = |method: &str| {
        truth["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["hop"] == "client->proxy" && m["method"] == method)
            .count() as u64
    };
    let stats = trace_with(name, &["stats"]);
    for t in stats.iter().filter(|l| l["event"] == "topic_stats") {
        let method = t["method"].as_str().unwrap();
        // A request as the client sent it, and each call's reply once.
        let calls = t["calls"].as_u64().unwrap();
        assert_eq!(
            t["messages"].as_u64().unwrap(),
            sent_by_client(method) + calls,
            "{t}"
        );
    }
}

// oslo.messaging 5.7.0 (context and message in two JSON frames) and 5.13.0
// (routing keys `host/topic/server/uuid`, PUB `topic | type | id | body`),
// both through the real zmq proxy with PUB/SUB.

#[test]
fn new_om57x_proxy_json_messages() {
    check_hops("new_om57x_proxy_json");
}

#[test]
fn new_om57x_proxy_json_calls() {
    check_calls_by(
        "new_om57x_proxy_json",
        "message_id",
        "wire_latency_s",
        false,
    );
}

#[test]
fn new_om513_proxy_pubsub_json_messages() {
    check_hops("new_om513_proxy_pubsub_json");
}

#[test]
fn new_om513_proxy_pubsub_json_calls() {
    check_calls_by(
        "new_om513_proxy_pubsub_json",
        "message_id",
        "wire_latency_s",
        false,
    );
}

/// Through a proxy, every copy after the first sighting — proxy to server,
/// each PUB copy to a subscriber, proxy to client — is one forward.
#[test]
fn every_proxy_hop_is_one_forward() {
    for name in [
        "new_newton_proxy_pubsub_acks",
        "new_rocky_proxy_acks",
        "new_om540_proxy_pickle",
        "new_om57x_proxy_json",
        "new_om513_proxy_pubsub_json",
        "new_rocky_proxy_msgpack",
    ] {
        let truth = truth(name);
        let hops = truth["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["hop"].as_str().unwrap_or_default().starts_with("proxy"))
            .count();
        let events = trace(name);
        let forwards = events.iter().filter(|e| e["event"] == "forward").count();
        assert_eq!(forwards, hops, "{name}");
        let forwarded = messages(&events)
            .filter(|e| e["rpc"]["forwarded"] == true)
            .count();
        assert_eq!(forwarded, hops, "{name}");
    }
}

// oslo.messaging 4.6.1 with Mitaka's defaults: use_pub_sub = true, a
// broker per node; fanouts and notifications go client -> broker over ipc
// (not captured), then the broker's PUB sends `topic | pickle(request)`.

#[test]
fn new_mitaka_defaults_pickle_messages() {
    // node-1's and node-2's RPC ROUTERs (notifications come over SUB).
    check_messages_naming("new_mitaka_defaults_pickle", "pickle", 2);
}

#[test]
fn new_mitaka_defaults_pickle_calls() {
    check_calls("new_mitaka_defaults_pickle");
}

// msgpack variants: 5.10.2 direct (G3) and 8.1.4 through the proxy with
// ACKs (G4); bodies with bin and ext values.

#[test]
fn new_newton_direct_msgpack_messages() {
    check_messages("new_newton_direct_msgpack", "none");
}

#[test]
fn new_newton_direct_msgpack_calls() {
    check_calls("new_newton_direct_msgpack");
}

#[test]
fn new_rocky_proxy_msgpack_messages() {
    check_hops("new_rocky_proxy_msgpack");
}

#[test]
fn new_rocky_proxy_msgpack_calls() {
    check_calls_by(
        "new_rocky_proxy_msgpack",
        "message_id",
        "wire_latency_s",
        false,
    );
}
