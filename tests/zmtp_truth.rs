//! The ZMTP decoder on every reference capture: each greeting, identity,
//! command, message (frame count, each frame's length, MORE flag and head)
//! and malformed unit of the truth, in wire order per connection and
//! direction — and nothing else.

#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::{captures, hex};
use serde_json::Value;
use zmqtrace::capture::FileSource;
use zmqtrace::pipeline::{Engine, Progress};
use zmqtrace::ports::PortSet;
use zmqtrace::tcp::{Connection, Direction, TcpConfig};
use zmqtrace::zmtp::{DecoderLimits, ZmtpDecoder, ZmtpEvent, ZmtpSink};

#[derive(Default)]
struct Units {
    by_dir: BTreeMap<(String, &'static str), Vec<String>>,
}

fn dir_label(d: Direction) -> &'static str {
    d.label()
}

impl ZmtpSink for Units {
    fn event(&mut self, conn: &Connection, event: ZmtpEvent<'_>) {
        let (dir, unit) = match &event {
            ZmtpEvent::Greeting { dir, zmtp, .. } => (*dir, format!("greeting {}", zmtp.label())),
            ZmtpEvent::Command(c) if c.name == "IDENTITY" => (
                c.dir,
                format!("identity {} {} @{}", c.len, hex(c.body), c.offset),
            ),
            ZmtpEvent::Command(c) => (c.dir, format!("command {} {} @{}", c.name, c.len, c.offset)),
            ZmtpEvent::Message(m) => {
                let frames: Vec<String> = m
                    .frames
                    .iter()
                    .map(|f| {
                        let head = hex(m.head(f));
                        let head = if m.encrypted {
                            head[..16.min(head.len())].to_string()
                        } else {
                            head
                        };
                        format!("{}{}:{}", f.len, if f.more { "+" } else { "" }, head)
                    })
                    .collect();
                (m.dir, format!("message {} @{}", frames.join(" "), m.offset))
            }
            ZmtpEvent::Malformed {
                dir, len, offset, ..
            } => (*dir, format!("malformed {len} @{offset}")),
            ZmtpEvent::Gap { dir, bytes, .. } => (*dir, format!("gap {bytes}")),
            ZmtpEvent::Resync { dir, skipped, .. } => (*dir, format!("resync {skipped}")),
            ZmtpEvent::NotZmtp { dir, what, .. } => (*dir, format!("not-zmtp {what}")),
        };
        self.by_dir
            .entry((conn.label(), dir_label(dir)))
            .or_default()
            .push(unit);
    }
}

struct Driver(ZmtpDecoder<Units>);

impl zmqtrace::tcp::StreamConsumer for Driver {
    fn event(&mut self, conn: &Connection, event: zmqtrace::tcp::StreamEvent<'_>) {
        self.0.event(conn, event);
    }
    fn retired(&mut self, conn: &Connection) {
        self.0.retired(conn);
    }
}
impl Progress for Driver {}

fn expected_units(name: &str) -> BTreeMap<(String, &'static str), Vec<String>> {
    let mut out: BTreeMap<(String, &'static str), Vec<String>> = BTreeMap::new();
    for line in common::reference_truth_text(name).lines() {
        let u: Value = serde_json::from_str(line).unwrap();
        let dir = if u["dir"] == "c2s" { "c2s" } else { "s2c" };
        let frames = u["frames"].as_array().cloned().unwrap_or_default();
        let unit = match u["kind"].as_str().unwrap() {
            "greeting" => format!("greeting {}", u["zmtp"].as_str().unwrap()),
            "preamble" => format!("greeting {}", u["zmtp"].as_str().unwrap()),
            "identity" => format!(
                "identity {} {} @{}",
                frames[0]["len"],
                frames[0]["head"].as_str().unwrap(),
                u["wire_off"]
            ),
            "command" => format!(
                "command {} {} @{}",
                u["name"].as_str().unwrap(),
                frames[0]["len"],
                u["wire_off"]
            ),
            "malformed" => format!("malformed {} @{}", u["wire_len"], u["wire_off"]),
            "message" if u["encrypted"].as_bool().unwrap_or(false) => {
                // CURVE: one message per MESSAGE box on the wire (the MORE
                // flag is inside the box); the head's first 8 bytes are known.
                let mut at = u["wire_off"].as_u64().unwrap_or(0);
                for f in &frames {
                    let head = f["head"].as_str().unwrap();
                    out.entry((u["conn"].as_str().unwrap().to_string(), dir))
                        .or_default()
                        .push(format!(
                            "message {}:{} @{at}",
                            f["len"],
                            &head[..16.min(head.len())]
                        ));
                    let len = f["len"].as_u64().unwrap();
                    at += len
                        + if f["long"].as_bool().unwrap_or(false) {
                            9
                        } else {
                            2
                        };
                }
                continue;
            }
            "message" => {
                let encrypted = false;
                let parts: Vec<String> = frames
                    .iter()
                    .map(|f| {
                        let head = f["head"].as_str().unwrap();
                        let head = if encrypted {
                            &head[..16.min(head.len())]
                        } else {
                            head
                        };
                        format!(
                            "{}{}:{}",
                            f["len"],
                            if f["more"].as_bool().unwrap() {
                                "+"
                            } else {
                                ""
                            },
                            head
                        )
                    })
                    .collect();
                format!("message {} @{}", parts.join(" "), u["wire_off"])
            }
            other => panic!("unknown unit kind {other}"),
        };
        out.entry((u["conn"].as_str().unwrap().to_string(), dir))
            .or_default()
            .push(unit);
    }
    out
}

fn check(name: &str) {
    let path = captures().join("reference").join(format!("{name}.pcap"));
    let mut source = FileSource::open(path.to_str().unwrap()).unwrap();
    let mut engine = Engine::new(TcpConfig::default(), None);
    let mut driver = Driver(ZmtpDecoder::new(
        PortSet::default(),
        true,
        DecoderLimits::default(),
        Units::default(),
    ));
    engine.run(&mut source, &mut driver).unwrap();
    let mut got = driver.0.into_sink().by_dir;
    let mut expected = expected_units(name);
    if name == "s05_heartbeat" {
        // Its truth lists data messages only, without offsets (heartbeat
        // timing makes them unknowable); PING/PONG counts are bounds.
        let strip = |u: &mut String| {
            if let Some(at) = u.rfind(" @") {
                u.truncate(at);
            }
        };
        for units in got.values_mut() {
            units.retain(|u| !u.starts_with("command PING") && !u.starts_with("command PONG"));
            units.iter_mut().for_each(strip);
        }
        for units in expected.values_mut() {
            units.iter_mut().for_each(strip);
        }
    }
    for (key, want) in &expected {
        let have = got.get(key).cloned().unwrap_or_default();
        if have != *want {
            let first = have
                .iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .unwrap_or(have.len().min(want.len()));
            panic!(
                "{name} {} {}: {} units decoded, {} in the truth; first difference at unit {first}:\n  got:  {:?}\n  want: {:?}",
                key.0,
                key.1,
                have.len(),
                want.len(),
                have.get(first),
                want.get(first)
            );
        }
    }
    for key in got.keys() {
        assert!(
            expected.contains_key(key),
            "{name}: units on {key:?}, which the truth does not list: {:?}",
            &got[key][..got[key].len().min(3)]
        );
    }
}

reference_capture_tests!(check);
