//! `zmqtrace doctor` as a user runs it: exit statuses, the findings
//! contract in JSON Lines, --route, and bad inputs.

use std::process::{Command, Output};

fn doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zmqtrace"))
        .arg("doctor")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run zmqtrace")
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

const FIX: &str = "tests/fixtures/doctor";

#[test]
fn errors_exit_3_with_evidence_and_a_fix() {
    let before = format!("{FIX}/walkthrough/before");
    let o = doctor(&[
        "--node",
        &format!("ctl1={before}/ctl1"),
        "--node",
        &format!("cmp1={before}/cmp1"),
        "-o",
        "jsonl",
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stderr.is_empty());
    let out = lines(&o);
    let ring = out
        .iter()
        .find(|f| f["id"] == "ring-key-missing")
        .expect("the ring key finding");
    assert_eq!(ring["event"], "finding");
    assert_eq!(ring["severity"], "error");
    assert!(ring["title"].as_str().unwrap().contains("consoleauth"));
    let evidence = ring["evidence"].as_array().unwrap();
    assert!(evidence.iter().any(|e| e["file"]
        .as_str()
        .unwrap()
        .ends_with("matchmaker_ring.json")
        && e["line"] == 4));
    assert!(ring["fix"].as_str().unwrap().contains("trailing space"));
    assert_eq!(out.last().unwrap()["event"], "summary");
}

#[test]
fn a_clean_cloud_has_nothing_above_info_and_exits_0() {
    let clean = format!("{FIX}/clean");
    let o = doctor(&[
        "--node",
        &format!("ctl1={clean}/ctl1"),
        "--node",
        &format!("cmp1={clean}/cmp1"),
        "--node",
        &format!("cmp2={clean}/cmp2"),
        "-o",
        "jsonl",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    for f in lines(&o).iter().filter(|l| l["event"] == "finding") {
        assert_eq!(f["severity"], "info", "{f}");
    }
}

#[test]
fn route_explains_a_topic_step_by_step() {
    let clean = format!("{FIX}/clean");
    let o = doctor(&[
        "--node",
        &format!("ctl1={clean}/ctl1"),
        "--route",
        "compute.cmp1",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("route compute.cmp1"), "{text}");
    assert!(text.contains("cmp1"));
}

#[test]
fn bad_inputs_are_one_clear_line() {
    let o = doctor(&["--ringfile", "/nonexistent/ring.json"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot read /nonexistent/ring.json"), "{err}");

    let o = doctor(&["--node", "nodir"]);
    assert_eq!(o.status.code(), Some(2));

    let o = doctor(&[
        "--ringfile",
        &format!("{FIX}/fm03_ringfile/matchmaker_ring.json"),
        "-o",
        "jsonl",
    ]);
    let out = lines(&o);
    let invalid = out
        .iter()
        .find(|f| f["event"] == "finding" && f["title"].as_str().unwrap_or("").contains("line"))
        .unwrap_or_else(|| panic!("no finding naming the line: {out:?}"));
    assert!(
        invalid["title"].as_str().unwrap().contains("column"),
        "{invalid}"
    );
}

#[test]
fn doctor_does_not_capture_live() {
    // -i is a global option; doctor would silently ignore it.
    let o = doctor(&["-i", "lo"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("-r rpc.pcap"), "{err}");
}
