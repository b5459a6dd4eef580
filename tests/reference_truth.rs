//! Every direction of every reference capture (../shared/captures, copied to
//! captures/reference) reassembles to exactly the bytes the truth describes:
//! each unit at its stream offset, each frame body matching its head and
//! SHA-256, nothing missing, nothing extra.

#[macro_use]
mod common;

use common::{captures, collect, hex, sha256_hex};
use serde_json::Value;
use zmqtrace::tcp::TcpConfig;

/// Header length of a frame in the unit's framing.
fn header_len(zmtp: &str, long: bool) -> usize {
    match (zmtp, long) {
        ("1.0", true) => 10,
        (_, true) => 9,
        (_, false) => 2,
    }
}

fn check_capture(name: &str) {
    let dir = captures().join("reference");
    let pcap = dir.join(format!("{name}.pcap"));
    let truth = common::reference_truth_text(name);
    let (collected, stats) = collect(&pcap, TcpConfig::default());
    assert_eq!(
        stats.tcp.evicted + stats.tcp.held_overflows + stats.tcp.memcap_flushes,
        0
    );

    let mut ends: std::collections::BTreeMap<(String, String), (u64, bool)> = Default::default();
    let mut units = 0;
    for line in truth.lines() {
        let unit: Value = serde_json::from_str(line).expect("truth line");
        let conn = unit["conn"].as_str().unwrap().to_string();
        let dir = unit["dir"].as_str().unwrap().to_string();
        let key = (conn.clone(), if dir == "c2s" { "c2s" } else { "s2c" });
        let streams = collected
            .streams
            .get(&(key.0.clone(), key.1))
            .unwrap_or_else(|| panic!("{name}: no stream for {conn} {dir}"));
        assert_eq!(
            streams.len(),
            1,
            "{name}: {conn} seen as {} connections",
            streams.len()
        );
        let stream = &streams[0];
        assert!(
            stream
                .runs
                .iter()
                .all(|r| matches!(r, common::Run::Data { .. })),
            "{name}: {conn} {dir} has gaps"
        );
        let entry = ends.entry((conn.clone(), dir.clone())).or_insert((0, true));
        let Some(wire_off) = unit["wire_off"].as_u64() else {
            // s05: heartbeat timing makes the offset unknowable.
            entry.1 = false;
            continue;
        };
        units += 1;
        let wire_len = unit["wire_len"].as_u64().unwrap();
        let end = (wire_off + wire_len) as usize;
        assert!(
            end <= stream.bytes.len(),
            "{name}: {conn} {dir} unit {} ends at {end}, stream has {}",
            unit["i"],
            stream.bytes.len()
        );
        entry.0 = entry.0.max(end as u64);
        let bytes = &stream.bytes[wire_off as usize..end];
        let zmtp = unit["zmtp"].as_str().unwrap_or("3.1");
        match unit["kind"].as_str().unwrap() {
            "greeting" | "preamble" => {
                assert_eq!(bytes[0], 0xff, "{name}: greeting signature");
                assert_eq!(bytes[9] & 1, 1, "{name}: greeting byte 9");
                if let Some(padding) = unit["sig_padding"].as_u64() {
                    assert_eq!(u64::from_be_bytes(bytes[1..9].try_into().unwrap()), padding);
                }
                if unit["kind"] == "greeting" {
                    let mechanism = unit["mechanism"].as_str().unwrap();
                    assert!(
                        bytes[12..32].starts_with(mechanism.as_bytes()),
                        "{name}: mechanism"
                    );
                }
            }
            "malformed" => {}
            _ => {
                let mut pos = 0usize;
                for frame in unit["frames"].as_array().unwrap() {
                    let len = frame["len"].as_u64().unwrap() as usize;
                    let long = frame["long"].as_bool().unwrap_or(false);
                    let body_start = pos + header_len(zmtp, long);
                    let body = &bytes[body_start..body_start + len];
                    let known = frame["head_known"].as_u64().map(|n| n as usize * 2);
                    let head = frame["head"].as_str().unwrap();
                    let head = &head[..known.unwrap_or(head.len()).min(head.len())];
                    assert!(
                        hex(&body[..len.min(32)]).starts_with(head),
                        "{name}: {conn} {dir} unit {} frame head",
                        unit["i"]
                    );
                    if let Some(sha) = frame["sha256"].as_str() {
                        assert_eq!(
                            sha256_hex(body),
                            sha,
                            "{name}: {conn} {dir} unit {} body",
                            unit["i"]
                        );
                    }
                    pos = body_start + len;
                }
                assert_eq!(
                    pos,
                    bytes.len(),
                    "{name}: {conn} {dir} unit {} frames fill the unit",
                    unit["i"]
                );
            }
        }
    }
    // Nothing beyond the last unit: each direction's stream ends exactly there.
    for ((conn, dir), (end, exact)) in ends {
        let key = (conn.clone(), if dir == "c2s" { "c2s" } else { "s2c" });
        let stream = &collected.streams[&key][0];
        if exact {
            assert_eq!(
                stream.bytes.len() as u64,
                end,
                "{name}: {conn} {dir} stream length"
            );
        }
    }
    assert!(units > 0 || name == "s18_socket_type_mismatch" || name == "s05_heartbeat");
}

reference_capture_tests!(check_capture);
