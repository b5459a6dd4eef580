//! Pathological variants of the reference captures (captures/variants, made
//! by captures/tools/make_variants.py): reordering, duplication, loss,
//! snapshot-length cuts, midstream starts, re-segmentation, port reuse, a
//! lost SYN, VLAN tags, overlapping copies that differ, and the file formats
//! (gzip, nanosecond pcap, pcapng with two link types). Each
//! `NAME.expect.json` gives, per connection and direction, the exact runs of
//! data and gaps the reassembler must produce; this test runs the pipeline
//! and compares them run for run.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use common::{captures, collect, sha256_hex};
use serde_json::Value;
use zmqtrace::tcp::TcpConfig;

fn variants_dir() -> PathBuf {
    captures().join("variants")
}

fn strings(value: &Value, what: &str) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what}: not an array"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{what}: not a string"))
                .to_string()
        })
        .collect()
}

/// Where two run lists part, with a little context, for the failure message.
fn diff_runs(want: &[String], got: &[String]) -> String {
    let first = want
        .iter()
        .zip(got)
        .position(|(w, g)| w != g)
        .unwrap_or(want.len().min(got.len()));
    let from = first.saturating_sub(2);
    let show = |runs: &[String]| {
        runs.iter()
            .enumerate()
            .skip(from)
            .take(8)
            .map(|(i, r)| format!("      [{i}] {r}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let totals = |runs: &[String]| {
        let (mut data, mut gap) = (0u64, 0u64);
        for r in runs {
            let mut parts = r.split(' ');
            let kind = parts.next();
            let len: u64 = parts.nth(1).and_then(|l| l.parse().ok()).unwrap_or(0);
            match kind {
                Some("data") => data += len,
                _ => gap += len,
            }
        }
        format!("{} runs, {data} data bytes, {gap} gap bytes", runs.len())
    };
    format!(
        "    first difference at run {first}\n    expected ({}):\n{}\n    got ({}):\n{}",
        totals(want),
        show(want),
        totals(got),
        show(got)
    )
}

fn check_variant(name: &str) {
    let dir = variants_dir();
    let text = fs::read_to_string(dir.join(format!("{name}.expect.json")))
        .unwrap_or_else(|e| panic!("{name}: expect file: {e}"));
    let expect: Value = serde_json::from_str(&text).expect("expect json");
    assert_eq!(expect["variant"], name);
    let capture = dir.join(expect["capture"].as_str().expect("capture name"));
    let (collected, stats) = collect(&capture, TcpConfig::default());
    assert_eq!(
        stats.tcp.evicted + stats.tcp.held_overflows + stats.tcp.memcap_flushes,
        0,
        "{name}: a reassembly limit was hit"
    );

    let expected = expect["connections"].as_array().expect("connections");
    let mut failures: Vec<String> = Vec::new();
    if collected.connections.len() != expected.len() {
        failures.push(format!(
            "  {} connections, expected {}: got {:?}",
            collected.connections.len(),
            expected.len(),
            collected
                .connections
                .iter()
                .map(|c| c.label.as_str())
                .collect::<Vec<_>>()
        ));
    }
    // The n-th expected connection with a label is the n-th retired one with
    // that label (port reuse gives several).
    let mut incarnation: BTreeMap<String, usize> = BTreeMap::new();
    for conn in expected {
        let label = conn["label"].as_str().expect("label").to_string();
        let n = {
            let slot = incarnation.entry(label.clone()).or_insert(0);
            *slot += 1;
            *slot - 1
        };
        let Some(summary) = collected
            .connections
            .iter()
            .filter(|c| c.label == label)
            .nth(n)
        else {
            failures.push(format!("  {label} #{n}: connection not seen"));
            continue;
        };
        for (key, got) in [
            ("midstream", summary.midstream),
            ("flipped", summary.flipped),
        ] {
            if conn[key].as_bool() != Some(got) {
                failures.push(format!(
                    "  {label} #{n}: {key} is {got}, expected {}",
                    conn[key]
                ));
            }
        }
        if conn["closed"].as_str() != Some(summary.closed.as_str()) {
            failures.push(format!(
                "  {label} #{n}: closed '{}', expected {}",
                summary.closed, conn["closed"]
            ));
        }
        for dir in ["c2s", "s2c"] {
            let want = strings(&conn[dir], &format!("{name} {label} {dir}"));
            let got = collected
                .streams
                .get(&(label.clone(), dir))
                .and_then(|streams| streams.get(n))
                .map(|s| s.describe())
                .unwrap_or_default();
            if want != got {
                failures.push(format!(
                    "  {label} #{n} {dir} (history {}):\n{}",
                    summary.history,
                    diff_runs(&want, &got)
                ));
            }
        }
        // Spans named in the expectation, to say where a stream differs.
        for check in conn["checks"].as_array().into_iter().flatten() {
            let dir = if check["dir"] == "c2s" { "c2s" } else { "s2c" };
            let offset = check["offset"].as_u64().expect("offset") as usize;
            let len = check["len"].as_u64().expect("len") as usize;
            let what = check["what"].as_str().unwrap_or("");
            let bytes = collected
                .streams
                .get(&(label.clone(), dir))
                .and_then(|streams| streams.get(n))
                .and_then(|s| s.bytes.get(offset..offset + len));
            match bytes {
                None => failures.push(format!(
                    "  {label} #{n} {dir} bytes {offset}..{}: not in the stream ({what})",
                    offset + len
                )),
                Some(bytes) if sha256_hex(bytes) != check["sha256"].as_str().unwrap_or("") => {
                    failures.push(format!(
                        "  {label} #{n} {dir} bytes {offset}..{} differ: {what}",
                        offset + len
                    ))
                }
                Some(_) => {}
            }
        }
    }
    // The variant really takes the path it exercises (reordering queues,
    // duplicates are retransmissions, ...).
    if let Some(bounds) = expect["counters_at_least"].as_object() {
        for (counter, bound) in bounds {
            let total: u64 = collected
                .connections
                .iter()
                .flat_map(|c| c.stats.iter())
                .map(|s| match counter.as_str() {
                    "retransmitted" => s.retransmitted,
                    "out_of_order" => s.out_of_order,
                    "conflicts" => s.conflicts,
                    "truncated" => s.truncated,
                    "gaps" => s.gaps,
                    other => panic!("{name}: unknown counter {other}"),
                })
                .sum();
            let bound = bound.as_u64().expect("counter bound");
            if total < bound {
                failures.push(format!(
                    "  counter {counter} is {total}, expected at least {bound}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{name} ({}): reassembly differs from the expectation\n{}",
        capture.display(),
        failures.join("\n")
    );
}

macro_rules! variants {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_variant(stringify!($name));
            }
        )*

        /// Every expect file has its test above, and every test its file.
        #[test]
        fn every_variant_is_tested() {
            let mut on_disk: Vec<String> = fs::read_dir(variants_dir())
                .expect("captures/variants")
                .filter_map(|e| {
                    let name = e.ok()?.file_name().into_string().ok()?;
                    name.strip_suffix(".expect.json").map(str::to_string)
                })
                .collect();
            on_disk.sort();
            let mut listed = vec![$(stringify!($name).to_string()),*];
            listed.sort();
            assert_eq!(on_disk, listed);
        }
    };
}

variants!(
    v01_reordered,
    v02_duplicated,
    v03_lost,
    v04_reordered_and_lost,
    v05_snaplen96,
    v06_midstream_cut,
    v07_reseg_mss536,
    v08_reseg_midstream_lost,
    v09_gzip,
    v10_nsec,
    v11_pcapng_two_links,
    v12_port_reuse,
    v13_syn_lost,
    v14_vlan,
    v15_overlap_conflict,
);
