//! `zmqtrace doctor` checks: each failure mode of the catalogue
//! (shared/docs/matchmaker-failure-modes.md) has a fixture under
//! tests/fixtures/doctor/ and a test that its finding appears with the right
//! evidence; a clean cloud gives nothing above `info`.

use std::path::PathBuf;

use zmqtrace::doctor::{self, Evidence, Finding, Inputs, Report, Severity};

const FIX: &str = "tests/fixtures/doctor";

fn p(rel: &str) -> PathBuf {
    PathBuf::from(format!("{FIX}/{rel}"))
}

/// Inputs with one `--node NAME=DIR` per name under `dir`.
fn nodes(dir: &str, names: &[&str]) -> Inputs {
    Inputs {
        nodes: names
            .iter()
            .map(|n| (n.to_string(), p(&format!("{dir}/{n}"))))
            .collect(),
        ..Inputs::default()
    }
}

fn run(inputs: &Inputs) -> Report {
    doctor::run(inputs).unwrap()
}

/// The findings with this id.
fn with_id<'r>(r: &'r Report, id: &str) -> Vec<&'r Finding> {
    r.findings.iter().filter(|f| f.id == id).collect()
}

/// The one finding with this id whose title contains `needle`.
fn find<'r>(r: &'r Report, id: &str, needle: &str) -> &'r Finding {
    let hits: Vec<&Finding> = with_id(r, id)
        .into_iter()
        .filter(|f| f.title.contains(needle))
        .collect();
    assert!(
        hits.len() == 1,
        "expected one '{id}' finding with '{needle}', got {}:\n{}",
        hits.len(),
        r.to_table()
    );
    hits[0]
}

/// The finding quotes `file` (suffix) at `line`.
fn has_evidence(f: &Finding, file: &str, line: u32) -> bool {
    f.evidence.iter().any(|e| match e {
        Evidence::File {
            file: fl, line: l, ..
        } => fl.ends_with(file) && *l == line,
        _ => false,
    })
}

fn assert_evidence(f: &Finding, file: &str, line: u32) {
    assert!(
        has_evidence(f, file, line),
        "{} ({}) should quote {file}:{line}; evidence: {:#?}",
        f.id,
        f.title,
        f.evidence
    );
}

fn worst_is_info(r: &Report) {
    let bad: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .collect();
    assert!(bad.is_empty(), "clean input gave:\n{}", r.to_table());
}

#[test]
fn clean_cloud_has_nothing_above_info() {
    let r = run(&nodes("clean", &["ctl1", "cmp1", "cmp2"]));
    println!("{}", r.to_table());
    worst_is_info(&r);
    assert_eq!(with_id(&r, "driver").len(), 3);
    assert_eq!(r.exit_code(), 0);
    assert_eq!(r.inputs.nodes, 3);
    assert_eq!(r.inputs.ringfiles, 3);
}

#[test]
fn fm01_trailing_space_key_as_in_the_contract() {
    let r = run(&Inputs {
        configs: vec![p("fm01_ring_key/nova.conf")],
        ringfile: Some(p("fm01_ring_key/matchmaker_ring.json")),
        logs: vec![p("fm01_ring_key/nova-api.log")],
        ..Inputs::default()
    });
    let f = find(&r, "ring-key-missing", "'consoleauth'");
    assert_eq!(f.title, "topic 'consoleauth' has no key in the ringfile");
    assert_eq!(f.severity, Severity::Error);
    assert_evidence(f, "fm01_ring_key/matchmaker_ring.json", 7);
    assert_evidence(f, "fm01_ring_key/nova-api.log", 2);
    assert_evidence(f, "fm01_ring_key/nova-api.log", 3);
    assert!(f.fix.starts_with(
        "remove the trailing space from the key 'consoleauth ' in tests/fixtures/doctor/fm01_ring_key/matchmaker_ring.json"
    ));
    assert!(f.refs.iter().any(|r| r == "FM01"));
    // The contract's JSON shape.
    let line = f.to_json();
    assert!(line.starts_with(
        r#"{"event":"finding","id":"ring-key-missing","severity":"error","title":"topic 'consoleauth' has no key in the ringfile","evidence":[{"file":"tests/fixtures/doctor/fm01_ring_key/matchmaker_ring.json","line":7,"text":"\"consoleauth \": [\"ctl1\"]"}"#
    ), "{line}");
    assert_eq!(r.exit_code(), 3);
}

#[test]
fn fm01_keys_the_running_services_need() {
    let r = run(&nodes("fm01_inventory", &["ctl1"]));
    let cert = find(&r, "ring-key-missing", "'cert'");
    assert_eq!(cert.severity, Severity::Error);
    assert_evidence(cert, "fm01_inventory/ctl1/matchmaker_ring.json", 1);
    assert_evidence(cert, "fm01_inventory/ctl1/nova-cert.log", 1);
    assert!(
        cert.fix.contains("add \"cert\": [\"ctl1\"]"),
        "{}",
        cert.fix
    );
    let sched = find(&r, "ring-key-missing", "'scheduler'");
    assert_eq!(sched.severity, Severity::Error);
    assert_evidence(sched, "fm01_inventory/ctl1/matchmaker_ring.json", 3);
    assert!(sched
        .fix
        .contains("rename the key 'Scheduler' to 'scheduler'"));
}

#[test]
fn fm02_notification_key_with_a_dot() {
    let dir = "fm02_notifications";
    let r = run(&Inputs {
        configs: vec![p(&format!("{dir}/nova.conf"))],
        ringfile: Some(p(&format!("{dir}/matchmaker_ring.json"))),
        logs: vec![p(&format!("{dir}/nova-compute.log"))],
        ..Inputs::default()
    });
    let dotted = find(&r, "ring-notification-key-dotted", "notifications.info");
    assert_evidence(dotted, "matchmaker_ring.json", 3);
    assert!(dotted
        .fix
        .contains("rename the key 'notifications.info' to 'notifications-info'"));
    let missing = find(&r, "ring-key-missing", "'notifications-info'");
    assert_evidence(missing, "fm02_notifications/nova.conf", 6);
    assert_evidence(missing, "fm02_notifications/nova-compute.log", 1);
    assert_evidence(missing, "fm02_notifications/nova-compute.log", 2);
    assert!(missing.refs.iter().any(|r| r == "FM02"));
    let failed = find(&r, "notification-send-failed", "notifications");
    assert_evidence(failed, "nova-compute.log", 3);
}

#[test]
fn fm03_invalid_ring_json_has_line_and_column() {
    let dir = "fm03_ringfile";
    let r = run(&Inputs {
        configs: vec![p(&format!("{dir}/nova.conf"))],
        ringfile: Some(p(&format!("{dir}/matchmaker_ring.json"))),
        logs: vec![p(&format!("{dir}/nova-api.log"))],
        ..Inputs::default()
    });
    let bad = find(&r, "ringfile-invalid", "matchmaker_ring.json");
    assert_eq!(bad.severity, Severity::Critical);
    assert!(bad.title.contains("at line 4, column 1"), "{}", bad.title);
    assert!(bad.title.contains("trailing comma"), "{}", bad.title);
    assert_evidence(bad, "fm03_ringfile/matchmaker_ring.json", 4);
    let ignored = find(&r, "ringfile-option-ignored", "ring_file");
    assert_eq!(ignored.severity, Severity::Error);
    assert_evidence(ignored, "fm03_ringfile/nova.conf", 6);
    assert!(ignored
        .fix
        .contains("`ringfile = /etc/nova/matchmaker_ring.json` under [matchmaker_ring]"));
    let missing = find(&r, "ringfile-missing", "/etc/oslo/matchmaker_ring.json");
    assert_eq!(missing.severity, Severity::Critical);
    assert_evidence(missing, "fm03_ringfile/nova-api.log", 5);
}

#[test]
fn fm04_rings_differ_a_removed_node_and_an_old_ring() {
    let r = run(&nodes("fm04_stale", &["ctl1", "cmp1"]));
    let differ = find(&r, "ringfile-differs", "'compute'");
    assert_evidence(differ, "fm04_stale/ctl1/matchmaker_ring.json", 3);
    assert_evidence(differ, "fm04_stale/cmp1/matchmaker_ring.json", 3);
    let gone = find(&r, "ring-host-unknown", "'cmp3'");
    // Not among the nodes given may just be a node not given: info.
    assert_eq!(gone.severity, Severity::Info);
    assert_evidence(gone, "fm04_stale/ctl1/matchmaker_ring.json", 3);
    let stale = find(&r, "ring-stale", "'cmp4'");
    assert_evidence(stale, "fm04_stale/ctl1/nova-conductor.log", 1);
}

#[test]
fn fm05_matchmaker_value_of_another_release() {
    let dir = "fm05_matchmaker";
    let r = run(&Inputs {
        configs: vec![
            p(&format!("{dir}/nova.conf")),
            p(&format!("{dir}/cinder.conf")),
        ],
        logs: vec![p(&format!("{dir}/cinder-scheduler.log"))],
        ..Inputs::default()
    });
    let intree = find(&r, "matchmaker-invalid", "in-tree nova impl_zmq");
    assert_eq!(intree.severity, Severity::Critical);
    assert_evidence(intree, "fm05_matchmaker/nova.conf", 5);
    assert!(intree
        .fix
        .contains("nova.openstack.common.rpc.matchmaker_ring.MatchMakerRing"));
    let dep = find(&r, "matchmaker-deprecated", "cinder.conf");
    assert_evidence(dep, "fm05_matchmaker/cinder.conf", 5);
    assert!(dep.fix.contains("rpc_zmq_matchmaker = ring"));
    let log = find(&r, "matchmaker-invalid", "'rings'");
    assert_evidence(log, "cinder-scheduler.log", 1);
}

#[test]
fn fm06_local_matchmaker_left_in_place() {
    let r = run(&Inputs {
        configs: vec![p("fm06_local/nova.conf")],
        logs: vec![p("fm06_local/nova-api.log")],
        ..Inputs::default()
    });
    let cfg = find(&r, "matchmaker-local", "fm06_local/nova.conf");
    assert_eq!(cfg.severity, Severity::Critical);
    assert_evidence(cfg, "fm06_local/nova.conf", 4);
    assert!(cfg.fix.contains("rpc_zmq_matchmaker = ring"));
    let log = find(&r, "matchmaker-local", "nova-api.log");
    assert_evidence(log, "fm06_local/nova-api.log", 1);
}

#[test]
fn fm07_ring_host_is_not_the_nodes_rpc_zmq_host() {
    let r = run(&nodes("fm07_names", &["ctl1", "cmp1"]));
    let f = find(&r, "ring-host-name-mismatch", "'cmp1.cloud.example.com'");
    assert_eq!(f.severity, Severity::Error);
    assert_evidence(f, "fm07_names/ctl1/matchmaker_ring.json", 3);
    assert_evidence(f, "fm07_names/cmp1/nova.conf", 5);
    assert!(f
        .fix
        .contains("write 'cmp1' instead of 'cmp1.cloud.example.com'"));
    let q = find(
        &r,
        "no-consumer-for-queue",
        "'compute.cmp1.cloud.example.com'",
    );
    assert_evidence(q, "fm07_names/cmp1/zmq-receiver.log", 2);
    assert_evidence(q, "fm07_names/cmp1/nova-compute.log", 1);
    assert!(q.refs.iter().any(|r| r == "FM07"));
}

#[test]
fn fm08_ring_host_does_not_resolve() {
    let r = run(&nodes("fm08_resolve", &["ctl1", "cmp1"]));
    let f = find(&r, "ring-host-unresolved", "'cmp2'");
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.title.contains("on ctl1"));
    assert_evidence(f, "fm08_resolve/ctl1/matchmaker_ring.json", 3);
    assert!(f.fix.contains("fm08_resolve/ctl1/hosts"));
    let sock = find(&r, "could-not-open-socket", "nova-conductor.log");
    assert_evidence(sock, "fm08_resolve/ctl1/nova-conductor.log", 1);
    // ctl1's own name on 127.0.1.1 is fine for ctl1 itself.
    assert!(with_id(&r, "ring-host-loopback").is_empty());
}

#[test]
fn fm09_host_and_rpc_zmq_host_differ() {
    let r = run(&Inputs {
        configs: vec![p("fm09_host/nova.conf")],
        ..Inputs::default()
    });
    let f = find(&r, "host-mismatch", "cmp1.cloud.example.com");
    assert_eq!(f.severity, Severity::Error);
    assert_evidence(f, "fm09_host/nova.conf", 2);
    assert_evidence(f, "fm09_host/nova.conf", 5);
}

#[test]
fn fm10_replies_to_localhost() {
    let r = run(&nodes("fm10_localhost", &["ctl1", "cmp1"]));
    let cfg = find(&r, "rpc-zmq-host-loopback", "rpc_zmq_host = localhost");
    assert_eq!(cfg.severity, Severity::Critical);
    assert_evidence(cfg, "fm10_localhost/cmp1/nova.conf", 5);
    let log = find(&r, "rpc-zmq-host-loopback", "waits for replies");
    assert_evidence(log, "fm10_localhost/cmp1/nova-compute.log", 1);
    let t = find(&r, "rpc-timeout", "nova-compute.log");
    assert_evidence(t, "fm10_localhost/cmp1/nova-compute.log", 2);
}

#[test]
fn fm11_services_waiting_for_a_receiver() {
    let r = run(&Inputs {
        logs: vec![p("fm11_receiver/nova-compute.log")],
        ..Inputs::default()
    });
    let f = find(&r, "conductor-unreachable", "nova-compute.log");
    assert_eq!(f.severity, Severity::Warning);
    assert_evidence(f, "fm11_receiver/nova-compute.log", 2);
}

#[test]
fn fm12_ports_haproxy_and_receivers() {
    let r = run(&nodes("fm12_ports", &["ctl1", "cmp1"]));
    let col = find(&r, "haproxy-port-collision", "zmq-vip");
    assert_eq!(col.severity, Severity::Critical);
    assert_evidence(col, "fm12_ports/ctl1/haproxy.cfg", 10);
    assert_evidence(col, "fm12_ports/ctl1/zmq-receiver.conf", 2);
    let back = find(&r, "haproxy-backend-port", "10.0.0.21:9502");
    assert_evidence(back, "fm12_ports/ctl1/haproxy.cfg", 12);
    assert!(back.fix.contains("port 9501"));
    let ports = find(&r, "port-mismatch", "rpc_zmq_port differs");
    assert_evidence(ports, "fm12_ports/cmp1/nova.conf", 7);
    assert!(
        ports
            .fix
            .contains("rpc_zmq_port = 9501 in tests/fixtures/doctor/fm12_ports/cmp1/nova.conf"),
        "{}",
        ports.fix
    );
}

#[test]
fn fm13_bind_address_peers_do_not_reach() {
    let r = run(&nodes("fm13_bind", &["ctl1", "cmp1"]));
    let lo = find(&r, "bind-address-mismatch", "127.0.0.1");
    assert_evidence(lo, "fm13_bind/ctl1/zmq-receiver.conf", 2);
    let other = find(&r, "bind-address-mismatch", "10.0.9.21");
    assert!(other.title.contains("10.0.0.21"));
    assert_evidence(other, "fm13_bind/cmp1/zmq-receiver.conf", 3);
    assert_evidence(other, "fm13_bind/ctl1/hosts", 2);
}

#[test]
fn fm14_receiver_and_services_in_different_ipc_dirs() {
    let r = run(&nodes("fm14_ipc", &["cmp1"]));
    let f = find(&r, "ipc-dir-mismatch", "/var/run/zmq");
    assert_eq!(f.severity, Severity::Critical);
    assert_evidence(f, "fm14_ipc/cmp1/zmq-receiver.conf", 3);
    assert_evidence(f, "fm14_ipc/cmp1/nova.conf", 1);
    let log = find(&r, "ipc-dir-unusable", "/var/run/zmq");
    assert_evidence(log, "fm14_ipc/cmp1/zmq-receiver.log", 1);
}

#[test]
fn fm15_redis_heartbeat() {
    let r = run(&Inputs {
        configs: vec![p("fm15_heartbeat/nova.conf")],
        logs: vec![p("fm15_heartbeat/nova-compute.log")],
        ..Inputs::default()
    });
    let hb = find(&r, "heartbeat-too-slow", "matchmaker_heartbeat_freq = 600");
    assert_eq!(hb.severity, Severity::Error);
    assert_evidence(hb, "fm15_heartbeat/nova.conf", 6);
    assert_evidence(hb, "fm15_heartbeat/nova.conf", 7);
    let crash = find(&r, "redis-matchmaker-error", "ack_alive");
    assert_evidence(crash, "fm15_heartbeat/nova-compute.log", 5);
}

#[test]
fn fm17_redis_settings_in_the_wrong_section() {
    let r = run(&nodes("fm17_redis", &["ctl1", "cmp1"]));
    let miss = find(&r, "redis-host-missing", "fm17_redis/cmp1/nova.conf");
    assert_eq!(miss.severity, Severity::Critical);
    let port = find(&r, "redis-option-in-default", "port");
    assert_evidence(port, "fm17_redis/cmp1/nova.conf", 7);
    let host = find(&r, "redis-host-in-default", "10.0.0.5");
    assert_evidence(host, "fm17_redis/cmp1/nova.conf", 6);
    assert!(host.fix.contains("[matchmaker_redis] host = 10.0.0.5"));
    let log = find(&r, "redis-matchmaker-error", "connection refused");
    assert_eq!(log.severity, Severity::Critical);
    assert_evidence(log, "fm17_redis/cmp1/nova-compute.log", 1);
    assert!(log.fix.contains("127.0.0.1:6379"));
}

#[test]
fn fm19_oslo_messaging_1_3() {
    let r = run(&Inputs {
        logs: vec![p("fm19_om13/nova-compute.log")],
        ..Inputs::default()
    });
    let f = find(&r, "oslo-messaging-1.3-broken", "serialize_msg");
    assert_eq!(f.severity, Severity::Critical);
    assert_evidence(f, "fm19_om13/nova-compute.log", 3);
    let env = find(&r, "envelope-unsupported", "Envelope");
    assert_evidence(env, "fm19_om13/nova-compute.log", 4);
}

#[test]
fn fm20_notifications_dropped_without_method() {
    let r = run(&Inputs {
        logs: vec![p("fm20_no_method/ceilometer-collector.log")],
        ..Inputs::default()
    });
    let f = find(&r, "notification-dropped", "2 times");
    assert_evidence(f, "fm20_no_method/ceilometer-collector.log", 2);
    assert!(f.fix.contains(">= 1.7.0"));
}

#[test]
fn fm21_dots_in_topics_and_servers() {
    let dir = "fm21_dotted";
    let r = run(&Inputs {
        configs: vec![
            p(&format!("{dir}/cinder.conf")),
            p(&format!("{dir}/ironic.conf")),
        ],
        ringfile: Some(p(&format!("{dir}/matchmaker_ring.json"))),
        ..Inputs::default()
    });
    let cinder = find(&r, "cinder-multibackend", "lvm, ceph");
    assert_eq!(cinder.severity, Severity::Error);
    assert_evidence(cinder, "fm21_dotted/cinder.conf", 6);
    let ironic = find(&r, "ironic-legacy-zmq", "ironic.conductor_manager");
    assert_evidence(ironic, "fm21_dotted/ironic.conf", 3);
    let dead = find(&r, "ring-key-dead", "'ironic.conductor_manager'");
    assert_evidence(dead, "fm21_dotted/matchmaker_ring.json", 4);
}

#[test]
fn fm22_legacy_and_new_driver_mixed() {
    let r = run(&nodes("fm22_mixed", &["ctl1", "cmp1"]));
    let mixed = find(&r, "driver-mixed", "cannot talk");
    assert_eq!(mixed.severity, Severity::Critical);
    assert_evidence(mixed, "fm22_mixed/ctl1/nova.conf", 3);
    assert_evidence(mixed, "fm22_mixed/cmp1/nova.conf", 3);
    let port = find(&r, "option-ignored", "rpc_zmq_port");
    assert_evidence(port, "fm22_mixed/cmp1/nova.conf", 4);
    let dynamic = find(&r, "option-ignored", "use_dynamic_connections");
    assert_evidence(dynamic, "fm22_mixed/cmp1/nova.conf", 5);
    assert!(dynamic.fix.contains("[oslo_messaging_zmq]"));
}

#[test]
fn fm23_new_driver_without_redis() {
    let r = run(&nodes("fm23_new_redis", &["ctl1", "cmp1"]));
    let f = find(&r, "redis-host-missing", "fm23_new_redis/cmp1/nova.conf");
    assert_eq!(f.severity, Severity::Critical);
    assert_evidence(f, "fm23_new_redis/cmp1/nova.conf", 3);
    let upd = find(
        &r,
        "target-update-too-slow",
        "fm23_new_redis/ctl1/nova.conf",
    );
    assert_evidence(upd, "fm23_new_redis/ctl1/nova.conf", 8);
    let rec = find(&r, "matchmaker-no-records", "<Target topic=conductor>");
    assert_evidence(rec, "fm23_new_redis/cmp1/nova-compute.log", 2);
    let down = find(&r, "redis-unreachable", "nova-compute.log");
    assert_evidence(down, "fm23_new_redis/cmp1/nova-compute.log", 1);
}

#[test]
fn fm24_topology_flags_differ() {
    let r = run(&nodes("fm24_flags", &["ctl1", "cmp1"]));
    let f = find(&r, "topology-flags-differ", "use_pub_sub");
    assert!(
        f.title
            .contains("true in tests/fixtures/doctor/fm24_flags/ctl1/nova.conf"),
        "{}",
        f.title
    );
    assert_evidence(f, "fm24_flags/ctl1/nova.conf", 7);
    assert_evidence(f, "fm24_flags/cmp1/nova.conf", 7);
    assert!(with_id(&r, "topology-flags-differ")
        .iter()
        .all(|f| !f.title.contains("use_router_proxy")));
}

#[test]
fn fm25_cinder_multibackend_on_the_new_driver() {
    let r = run(&Inputs {
        configs: vec![p("fm25_cinder_new/cinder.conf")],
        ..Inputs::default()
    });
    let f = find(&r, "cinder-multibackend", "new zmq driver");
    assert_eq!(f.severity, Severity::Warning);
    assert_evidence(f, "fm25_cinder_new/cinder.conf", 4);
    assert!(f.refs.iter().any(|r| r == "FM25"));
}

#[test]
fn options_oslo_config_would_ignore_or_refuse() {
    let dir = "misc_options";
    let r = run(&Inputs {
        configs: vec![p(dir)],
        ..Inputs::default()
    });
    let broken = find(&r, "config-parse-error", "broken.conf");
    assert_eq!(broken.severity, Severity::Critical);
    assert!(broken
        .title
        .contains("Unexpected continuation line at line 4"));
    assert_evidence(broken, "misc_options/broken.conf", 4);
    let inline = find(&r, "option-inline-comment", "rpc_zmq_host");
    assert_evidence(inline, "misc_options/nova.conf", 4);
    let typo = find(&r, "option-unknown", "'rpc_zmq_prot'");
    assert!(typo.fix.contains("did you mean 'rpc_zmq_port'"));
    assert_evidence(typo, "misc_options/nova.conf", 6);
    let folsom = find(&r, "ringfile-option-ignored", "rpc_zmq_matchmaker_ringfile");
    assert_eq!(folsom.severity, Severity::Error);
    assert_evidence(folsom, "misc_options/nova.conf", 7);
    let dup = find(&r, "option-duplicate", "rpc_zmq_host");
    assert_evidence(dup, "misc_options/nova.conf", 4);
    assert_evidence(dup, "misc_options/nova.conf", 8);
    let section = find(&r, "config-default-section", "[default]");
    assert_eq!(section.severity, Severity::Error);
    assert_evidence(section, "misc_options/nova.conf", 10);
    let rabbit = find(&r, "zmq-not-enabled", "cinder.conf");
    assert_evidence(rabbit, "misc_options/cinder.conf", 3);
    assert_evidence(rabbit, "misc_options/cinder.conf", 2);
    let upstart = find(&r, "config-unrecognised", "upstart.conf");
    assert_eq!(upstart.severity, Severity::Info);
}

#[test]
fn ring_values_the_matchmaker_cannot_use() {
    let r = run(&Inputs {
        ringfile: Some(p("ring_values/matchmaker_ring.json")),
        ..Inputs::default()
    });
    let ring = "ring_values/matchmaker_ring.json";
    assert_evidence(find(&r, "ring-value-not-list", "'conductor'"), ring, 2);
    assert_evidence(find(&r, "ring-value-empty", "'scheduler'"), ring, 3);
    assert_evidence(find(&r, "ring-host-duplicate", "'ctl1' twice"), ring, 4);
    let dup = find(&r, "ring-key-duplicate", "'consoleauth'");
    assert_evidence(dup, ring, 5);
    assert_evidence(dup, ring, 6);
    assert_evidence(find(&r, "ring-key-dead", "'fanout~compute'"), ring, 7);
    let bad = find(&r, "ring-value-invalid", "'network'");
    assert_eq!(bad.severity, Severity::Critical);
    assert_evidence(bad, ring, 8);
}

#[test]
fn inputs_not_given_are_info_only() {
    // A ring-matchmaker config without the ring, hosts or logs.
    let r = run(&Inputs {
        configs: vec![p("clean/ctl1/nova.conf")],
        captures: vec![PathBuf::from(
            "captures/oslo/legacy_om110_ring_per_message.pcap",
        )],
        ..Inputs::default()
    });
    worst_is_info(&r);
    for id in ["input-no-ringfile", "input-no-hosts", "capture-read"] {
        assert_eq!(with_id(&r, id).len(), 1, "{id}:\n{}", r.to_table());
    }
}

#[test]
fn unreadable_file_is_one_clear_error() {
    let e = doctor::run(&Inputs {
        configs: vec![p("no-such-dir/nova.conf")],
        ..Inputs::default()
    })
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("cannot read tests/fixtures/doctor/no-such-dir/nova.conf: "),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    let e = doctor::run(&Inputs::default()).unwrap_err();
    assert!(e.to_string().contains("give --config"));
    assert!(doctor::config::parse_node_arg("cmp1").is_err());
    assert_eq!(
        doctor::config::parse_node_arg("cmp1=/srv/cmp1").unwrap().0,
        "cmp1"
    );
}

#[test]
fn jsonl_is_findings_most_severe_first_then_a_summary() {
    let r = run(&nodes("fm12_ports", &["ctl1", "cmp1"]));
    let text = r.to_jsonl();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, findings) = lines.split_last().unwrap();
    assert_eq!(last["event"], "summary");
    assert_eq!(last["findings"], findings.len());
    assert_eq!(last["inputs"]["nodes"], 2);
    let rank = |s: &str| match s {
        "critical" => 3,
        "error" => 2,
        "warning" => 1,
        _ => 0,
    };
    let mut prev = 3;
    for f in findings {
        assert_eq!(f["event"], "finding");
        for key in ["id", "severity", "title", "fix"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
        let sev = rank(f["severity"].as_str().unwrap());
        assert!(sev <= prev, "not sorted: {text}");
        prev = sev;
        for e in f["evidence"].as_array().unwrap() {
            assert!(e["file"].is_string() && e["line"].is_u64(), "{e}");
        }
    }
    // Every finding above info has evidence with a file and line.
    assert!(r
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .all(|f| !f.evidence.is_empty()));
    let table = r.to_table();
    assert!(table.starts_with("CRITICAL  "), "{table}");
    assert!(table.contains("          fix  "));
}

#[test]
fn walkthrough_of_the_troubleshooting_guide() {
    let before = run(&nodes("walkthrough/before", &["ctl1", "cmp1"]));
    let key = find(&before, "ring-key-missing", "'consoleauth'");
    assert_evidence(key, "walkthrough/before/ctl1/matchmaker_ring.json", 4);
    assert_evidence(key, "walkthrough/before/ctl1/nova-api.log", 2);
    assert_evidence(key, "walkthrough/before/ctl1/nova-api.log", 3);
    let host = find(&before, "host-mismatch", "cmp1.cloud.example.com");
    assert_evidence(host, "walkthrough/before/cmp1/nova.conf", 2);
    assert_eq!(before.findings[0].id, "ring-key-missing");
    let after = run(&nodes("walkthrough/after", &["ctl1", "cmp1"]));
    worst_is_info(&after);
}

/// Prints what docs/troubleshooting.md shows:
/// `cargo test --test doctor print_troubleshooting -- --ignored --nocapture`.
#[test]
#[ignore = "prints the troubleshooting guide's examples; run by hand to regenerate docs/troubleshooting.md"]
fn print_troubleshooting_examples() {
    let before = nodes("walkthrough/before", &["ctl1", "cmp1"]);
    println!("=== table (before)\n{}", run(&before).to_table());
    let loaded = doctor::load(&before).unwrap();
    println!(
        "=== route consoleauth\n{}",
        loaded.route("consoleauth", Some("ctl1")).to_table()
    );
    println!(
        "=== route compute.cmp1.cloud.example.com\n{}",
        loaded
            .route("compute.cmp1.cloud.example.com", Some("ctl1"))
            .to_table()
    );
    println!("=== jsonl (before)\n{}", run(&before).to_jsonl());
    let after = nodes("walkthrough/after", &["ctl1", "cmp1"]);
    println!("=== table (after)\n{}", run(&after).to_table());
    let loaded = doctor::load(&after).unwrap();
    println!(
        "=== route consoleauth (after)\n{}",
        loaded.route("consoleauth", Some("ctl1")).to_table()
    );
    let d = "tests/fixtures/doctor/capture_receiver_down";
    let with_capture = Inputs {
        nodes: ["controller", "compute1", "compute2"]
            .iter()
            .map(|n| (n.to_string(), PathBuf::from(format!("{d}/{n}"))))
            .collect(),
        captures: vec![PathBuf::from(format!("{d}/capture.pcap"))],
        ..Inputs::default()
    };
    println!(
        "=== table (receiver down, with its capture)\n{}",
        run(&with_capture).to_table()
    );
}

/// Every fixture's table, to read the doctor's wording:
/// `cargo test --test doctor print_every_fixture -- --ignored --nocapture`.
#[test]
#[ignore = "prints every fixture's findings; run by hand when reviewing fixtures"]
fn print_every_fixture() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(FIX)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs.into_iter().filter(|d| !d.ends_with("walkthrough")) {
        let subdirs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        let inputs = if subdirs.is_empty() {
            Inputs {
                configs: vec![dir.clone()],
                ..Inputs::default()
            }
        } else {
            Inputs {
                nodes: subdirs
                    .iter()
                    .map(|d| {
                        (
                            d.file_name().unwrap().to_string_lossy().into_owned(),
                            d.clone(),
                        )
                    })
                    .collect(),
                ..Inputs::default()
            }
        };
        println!("===== {}\n{}", dir.display(), run(&inputs).to_table());
    }
}

/// docs/troubleshooting.md shows real output: what the doctor prints now
/// (re-paste from `print_troubleshooting_examples` when wording changes).
#[test]
fn troubleshooting_guide_shows_current_output() {
    let doc = std::fs::read_to_string("docs/troubleshooting.md").unwrap();
    let before = nodes("walkthrough/before", &["ctl1", "cmp1"]);
    let after = nodes("walkthrough/after", &["ctl1", "cmp1"]);
    let shown = [
        run(&before).to_table(),
        run(&after).to_table(),
        doctor::load(&before)
            .unwrap()
            .route("consoleauth", Some("ctl1"))
            .to_table(),
        doctor::load(&before)
            .unwrap()
            .route("compute.cmp1.cloud.example.com", Some("ctl1"))
            .to_table(),
        doctor::load(&after)
            .unwrap()
            .route("consoleauth", Some("ctl1"))
            .to_table(),
    ];
    // Section 7: a real run with compute2's receiver down, and its capture.
    let d = "tests/fixtures/doctor/capture_receiver_down";
    let with_capture = Inputs {
        nodes: ["controller", "compute1", "compute2"]
            .iter()
            .map(|n| (n.to_string(), PathBuf::from(format!("{d}/{n}"))))
            .collect(),
        captures: vec![PathBuf::from(format!("{d}/capture.pcap"))],
        ..Inputs::default()
    };
    let shown = shown.into_iter().chain([run(&with_capture).to_table()]);
    for text in shown {
        assert!(
            doc.contains(text.trim_end()),
            "docs/troubleshooting.md is out of date; it should show:\n{text}"
        );
    }
}

mod hostile {
    use super::*;
    use doctor::config::{classify_config, HostsFile, IniFile, Node, OsloConfig, Ringfile};
    use doctor::logs::LogFile;
    use proptest::prelude::*;

    /// Text made of the characters the parsers care about.
    fn texty() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("[DEFAULT]\n".to_string()),
                Just("[matchmaker_ring]\n".to_string()),
                Just("rpc_zmq_host = ".to_string()),
                Just("rpc_zmq_matchmaker = ring\n".to_string()),
                Just("rpc_backend = zmq\n".to_string()),
                Just("host = ".to_string()),
                Just("rpc_zmq_port = 95o1\n".to_string()),
                Just("listen zmq 10.0.0.1:9501\n  server a 10.0.0.2:\n".to_string()),
                Just("{\"k\": [\"a\", 1, {}], \"fanout~x\": \"é\"}".to_string()),
                Just("No key defining hosts for topic '".to_string()),
                Just("Sending message(s) to: [(u'".to_string()),
                Just("Connecting to ipc://".to_string()),
                Just("2015-01-01 00:00:00.000 1 WARNING x [".to_string()),
                "[ -~]{0,12}",
                "[\\[\\]=:#;'\"{},.~@/\\\\ \t\n\u{e9}\u{1f600}]{0,8}",
            ],
            0..24,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn parsers_and_checks_never_panic(a in texty(), b in texty(), c in texty()) {
            let _ = IniFile::parse("a.conf", &a);
            let _ = classify_config("a.cfg", &b);
            let _ = HostsFile::parse("hosts", &c);
            let _ = Ringfile::parse("r.json", &a);
            let _ = LogFile::from_text("x.log", &b);
            // The whole doctor on a node made of them.
            let mut node = Node::new("n1", true);
            node.configs.push(OsloConfig {
                ini: IniFile::parse("nova.conf", &a),
                service: "nova".into(),
                receiver: false,
            });
            node.configs.push(OsloConfig {
                ini: IniFile::parse("zmq-receiver.conf", &b),
                service: "zmq-receiver".into(),
                receiver: true,
            });
            if let doctor::config::ConfigFile::Haproxy(h) = classify_config("h.cfg", &b) {
                node.haproxy.push(h);
            }
            node.rings.push(Ringfile::parse("r.json", &c));
            node.hosts = Some(HostsFile::parse("hosts", &c));
            node.logs.push(LogFile::from_text("nova-api.log", &a));
            node.logs.push(LogFile::from_text("zmq-receiver.log", &c));
            let mut other = node.clone();
            other.name = "n2".into();
            let loaded = doctor::Loaded {
                nodes: vec![node, other],
                ..doctor::Loaded::default()
            };
            let report = loaded.findings();
            let _ = report.to_jsonl();
            let _ = report.to_table();
            for t in ["compute", "fanout~compute", "compute.n1", "notifications.info", "zmq_replies.n2", &a] {
                let _ = loaded.route(t, None).to_table();
            }
        }
    }
}

#[test]
fn names_resolving_to_the_wrong_place() {
    let r = run(&nodes("names_more", &["ctl1", "cmp1", "cmp2", "cmp3"]));
    let vip = find(&r, "ring-host-vip", "'vip'");
    assert_evidence(vip, "names_more/ctl1/matchmaker_ring.json", 3);
    assert_evidence(vip, "names_more/ctl1/hosts", 3);
    assert_evidence(vip, "names_more/ctl1/haproxy.cfg", 5);
    let lo = find(&r, "ring-host-loopback", "'db1'");
    assert_evidence(lo, "names_more/ctl1/hosts", 2);
    let wrong = find(&r, "rpc-zmq-host-wrong-address", "rpc_zmq_host of cmp1)");
    assert!(wrong.title.contains("10.0.0.99") && wrong.title.contains("10.0.0.21"));
    assert_evidence(wrong, "names_more/ctl1/hosts", 5);
    assert_evidence(wrong, "names_more/cmp1/nova.conf", 5);
    let unres = find(&r, "rpc-zmq-host-unresolved", "'cmp2'");
    assert_eq!(unres.severity, Severity::Critical);
    assert_evidence(unres, "names_more/cmp2/nova.conf", 5);
    let dup = find(&r, "rpc-zmq-host-duplicate", "cmp1, cmp3");
    assert_evidence(dup, "names_more/cmp1/nova.conf", 5);
    assert_evidence(dup, "names_more/cmp3/nova.conf", 5);
    // haproxy binds the VIP and the receiver its own address: no collision.
    assert!(with_id(&r, "haproxy-port-collision").is_empty());
}

#[test]
fn receiver_log_lines() {
    let r = run(&Inputs {
        configs: vec![p("receiver_logs")],
        ..Inputs::default()
    });
    let log = "receiver_logs/zmq-receiver.log";
    let bind = find(&r, "receiver-bind-failed", "zmq-receiver.log");
    assert_eq!(bind.severity, Severity::Critical);
    assert_evidence(bind, log, 1);
    assert_evidence(find(&r, "receiver-topic-refused", "1 queue"), log, 2);
    assert_evidence(find(&r, "receiver-backlog-full", "'compute.cmp9'"), log, 3);
    let backlog = find(&r, "topic-backlog-set", "rpc_zmq_topic_backlog = 100");
    assert_evidence(backlog, "receiver_logs/zmq-receiver.conf", 3);
    let orphan = find(&r, "no-matchmaker-results", "nova-scheduler.log");
    assert_evidence(orphan, "receiver_logs/nova-scheduler.log", 1);
}
