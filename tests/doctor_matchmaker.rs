//! The legacy matchmaker simulator against the test vectors of the
//! failure-mode catalogue (§2.6: upstream unit tests plus derived cases),
//! and `doctor --route` on the fixtures.

use std::path::PathBuf;

use zmqtrace::doctor::config::Ringfile;
use zmqtrace::doctor::matchmaker::{
    binding, consumer_name, receiver_forward, sender_key, Binding, Ipc, Matchmaker, Send,
    Simulator, Status, Version, LATEST_LEGACY,
};
use zmqtrace::doctor::{self, Inputs};

const RING: &str = r#"{"conductor": ["controller1", "node1", "node2", "node3"],
 "scheduler": ["controller1", "node1", "node2", "node3"],
 "cert": ["controller1"], "consoleauth": ["controller1"]}"#;

fn ring(text: &str) -> Ringfile {
    Ringfile::parse("ring.json", text)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(q, h)| (q.to_string(), h.to_string()))
        .collect()
}

#[test]
fn ring_direct_keys() {
    let r = ring(RING);
    let mut mm = Simulator::ring(&r);
    let q = mm.queues("cert.controller1");
    assert_eq!(q.binding, Binding::Direct);
    assert_eq!(q.pairs, pairs(&[("cert.controller1", "controller1")]));
    assert_eq!(
        mm.queues("conductor.node1").pairs,
        pairs(&[("conductor.node1", "node1")])
    );
}

#[test]
fn ring_fanout_reaches_every_host() {
    let r = ring(RING);
    let q = Simulator::ring(&r).queues("fanout~conductor");
    assert_eq!(q.binding, Binding::Fanout);
    assert_eq!(
        q.pairs,
        pairs(&[
            ("fanout~conductor.controller1", "controller1"),
            ("fanout~conductor.node1", "node1"),
            ("fanout~conductor.node2", "node2"),
            ("fanout~conductor.node3", "node3"),
        ])
    );
}

#[test]
fn ring_bare_topic_cycles() {
    let r = ring(RING);
    let mut mm = Simulator::ring(&r);
    let hosts: Vec<String> = (0..5)
        .map(|_| mm.queues("scheduler").pairs[0].1.clone())
        .collect();
    assert_eq!(
        hosts,
        ["controller1", "node1", "node2", "node3", "controller1"]
    );
    assert_eq!(
        mm.queues("cert").pairs,
        pairs(&[("cert.controller1", "controller1")])
    );
}

#[test]
fn local_matchmaker() {
    let mut mm = Simulator::new(Matchmaker::Local);
    assert_eq!(
        mm.queues("hello.server").pairs,
        pairs(&[("hello.server", "server")])
    );
    assert_eq!(
        mm.queues("fanout~testing.server").pairs,
        pairs(&[("fanout~testing.localhost", "localhost")])
    );
    assert_eq!(
        mm.queues("hello-world").pairs,
        pairs(&[("hello-world.localhost", "localhost")])
    );
}

#[test]
fn notifications_rewrite_the_dot_and_miss_a_dotted_key() {
    let key = sender_key(
        &Send::Notify {
            topic: "notifications".into(),
            priority: "info".into(),
        },
        LATEST_LEGACY,
    );
    assert_eq!(key, "notifications-info");
    assert_eq!(binding(&key), Binding::Topic);
    let r = ring(r#"{"notifications.info": ["ceilo1"]}"#);
    let q = Simulator::ring(&r).queues(&key);
    assert!(q.pairs.is_empty());
    assert_eq!(
        q.warning.as_deref(),
        Some("No key defining hosts for topic 'notifications-info', see ringfile")
    );
}

#[test]
fn dotted_topics_and_servers_are_direct_routes_whatever_the_matchmaker() {
    let r = ring(RING);
    for mm in [Matchmaker::Ring(&r), Matchmaker::Local, Matchmaker::Redis] {
        let mut sim = Simulator::new(mm);
        assert_eq!(
            sim.queues("ironic.conductor_manager").pairs,
            pairs(&[("ironic.conductor_manager", "conductor_manager")])
        );
        assert_eq!(sim.queues("cinder-volume.ctl1@lvm").pairs[0].1, "ctl1@lvm");
        assert_eq!(
            sim.queues("zmq_replies.ctl1").pairs,
            pairs(&[("zmq_replies.ctl1", "ctl1")])
        );
    }
}

#[test]
fn receiver_and_consumer_ipc_names() {
    assert_eq!(
        receiver_forward("zmq_replies.ctl1"),
        Ok((Ipc::Pub, "zmq_topic_zmq_replies.ctl1"[10..].to_string()))
    );
    assert_eq!(
        receiver_forward("fanout~conductor.node2"),
        Ok((Ipc::Pub, "fanout~conductor".to_string()))
    );
    assert_eq!(
        receiver_forward("compute.host1"),
        Ok((Ipc::Push, "compute.host1".to_string()))
    );
    assert_eq!(
        receiver_forward("compute.a/b"),
        Err("Topic contained dangerous characters.")
    );
    assert_eq!(
        consumer_name("compute.host1", "host1"),
        (Ipc::Pull, "compute.host1".to_string())
    );
    assert_eq!(
        consumer_name("fanout~compute.host9", "host1"),
        (Ipc::Sub, "fanout~compute".to_string())
    );
    assert_eq!(
        consumer_name("zmq_replies.ctl1", "ctl1"),
        (Ipc::Sub, "zmq_replies.ctl1".to_string())
    );
}

#[test]
fn ring_value_string_cycles_characters_and_empty_list_raises() {
    let r = ring(r#"{"metering": "ctl1", "alarm": []}"#);
    let mut mm = Simulator::ring(&r);
    let got: Vec<(String, String)> = (0..3).flat_map(|_| mm.queues("metering").pairs).collect();
    assert_eq!(
        got,
        pairs(&[
            ("metering.c", "c"),
            ("metering.t", "t"),
            ("metering.l", "l")
        ])
    );
    let q = mm.queues("alarm");
    assert!(q.pairs.is_empty());
    assert!(q.failure.unwrap().starts_with("StopIteration"));
    // A fanout over an empty list sends nothing, without the warning.
    let q = mm.queues("fanout~alarm");
    assert!(q.pairs.is_empty() && q.warning.is_none() && q.failure.is_none());
}

#[test]
fn releases_that_change_the_key() {
    let directed = Send::Rpc {
        topic: "compute".into(),
        server: Some("cmp1".into()),
    };
    assert_eq!(sender_key(&directed, LATEST_LEGACY), "compute.cmp1");
    assert_eq!(
        sender_key(&directed, Version::OsloMessaging(1, 4, 1)),
        "compute",
        "1.3.x/1.4.x ignore target.server (FM19)"
    );
    assert_eq!(
        sender_key(
            &Send::Fanout {
                topic: "compute".into()
            },
            LATEST_LEGACY
        ),
        "fanout~compute"
    );
    assert_eq!(
        sender_key(
            &Send::Reply {
                caller: "ctl1".into()
            },
            LATEST_LEGACY
        ),
        "zmq_replies.ctl1"
    );
    assert!(!Version::OsloMessaging(1, 3, 0).fanout_reaches_all());
    assert_eq!(
        Version::OsloMessaging(1, 8, 1).empty_result_line(),
        "No matchmaker results. Not casting."
    );
    assert_eq!(
        LATEST_LEGACY.empty_result_line(),
        "No matchmaker results. Not sending."
    );
    assert_eq!(
        Send::parse("notifications.info"),
        Send::Notify {
            topic: "notifications".into(),
            priority: "info".into()
        }
    );
    assert_eq!(
        Send::parse("metering.ceilometer"),
        Send::Rpc {
            topic: "metering".into(),
            server: Some("ceilometer".into())
        }
    );
}

#[test]
fn redis_hosts_are_not_knowable_offline() {
    let q = Simulator::new(Matchmaker::Redis).queues("fanout~compute");
    assert!(q.pairs.is_empty());
    assert!(q.opaque.unwrap().contains("without 'fanout~'"));
}

// --------------------------------------------------------------------------
// doctor --route
// --------------------------------------------------------------------------

fn clean() -> doctor::Loaded {
    let nodes = ["ctl1", "cmp1", "cmp2"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                PathBuf::from(format!("tests/fixtures/doctor/clean/{n}")),
            )
        })
        .collect();
    doctor::load(&Inputs {
        nodes,
        ..Inputs::default()
    })
    .unwrap()
}

#[test]
fn route_directed_call_is_delivered() {
    let route = clean().route("compute.cmp1", Some("ctl1"));
    println!("{}", route.to_table());
    assert_eq!(route.delivered, Some(true), "{}", route.to_table());
    let text = route.to_table();
    assert!(text.contains("tcp://cmp1:9501"));
    assert!(text.contains("ipc:///var/run/openstack/zmq_topic_compute.cmp1"));
    assert!(route.steps.iter().all(|s| s.status != Status::Fail));
}

#[test]
fn route_bare_topic_and_fanout_visit_every_ring_host() {
    let l = clean();
    let fanout = l.route("fanout~compute", None);
    assert_eq!(fanout.delivered, Some(true), "{}", fanout.to_table());
    let delivered = fanout
        .steps
        .iter()
        .filter(|s| s.text.starts_with("delivered"))
        .count();
    assert_eq!(delivered, 2, "{}", fanout.to_table());
    let reply = l.route("zmq_replies.cmp2", Some("ctl1"));
    assert_eq!(reply.delivered, Some(true), "{}", reply.to_table());
    assert!(reply.to_table().contains("zmq_topic_zmq_replies.cmp2"));
}

#[test]
fn route_explains_a_missing_ring_key() {
    let l = doctor::load(&Inputs {
        configs: vec![PathBuf::from(
            "tests/fixtures/doctor/fm01_ring_key/nova.conf",
        )],
        ringfile: Some(PathBuf::from(
            "tests/fixtures/doctor/fm01_ring_key/matchmaker_ring.json",
        )),
        ..Inputs::default()
    })
    .unwrap();
    let route = l.route("consoleauth", None);
    println!("{}", route.to_table());
    assert_eq!(route.delivered, Some(false));
    let fail = route
        .steps
        .iter()
        .find(|s| s.status == Status::Fail)
        .unwrap();
    assert!(
        fail.text.contains("'consoleauth ' (trailing space)"),
        "{}",
        fail.text
    );
    assert!(fail.text.contains("No matchmaker results. Not sending."));
    assert!(route
        .to_jsonl()
        .lines()
        .last()
        .unwrap()
        .contains("\"delivered\":\"no\""));
}

#[test]
fn route_explains_a_host_name_the_consumer_does_not_use() {
    let dir = "tests/fixtures/doctor/fm07_names";
    let l = doctor::load(&Inputs {
        nodes: vec![
            ("ctl1".into(), PathBuf::from(format!("{dir}/ctl1"))),
            ("cmp1".into(), PathBuf::from(format!("{dir}/cmp1"))),
        ],
        ..Inputs::default()
    })
    .unwrap();
    let route = l.route("compute", Some("ctl1"));
    println!("{}", route.to_table());
    assert_eq!(route.delivered, Some(false));
    let fail = route.steps.last().unwrap();
    assert_eq!(fail.status, Status::Fail);
    assert!(fail.text.contains(
        "the queue's host part 'cmp1.cloud.example.com' is not the consumers' rpc_zmq_host 'cmp1'"
    ));
}

#[test]
fn route_notification_with_a_dotted_ring_key() {
    let dir = "tests/fixtures/doctor/fm02_notifications";
    let l = doctor::load(&Inputs {
        configs: vec![PathBuf::from(format!("{dir}/nova.conf"))],
        ringfile: Some(PathBuf::from(format!("{dir}/matchmaker_ring.json"))),
        ..Inputs::default()
    })
    .unwrap();
    let route = l.route("notifications.info", None);
    assert_eq!(route.delivered, Some(false), "{}", route.to_table());
    assert!(route
        .to_table()
        .contains("'notifications.info' (a '.' where notifications use '-')"));
}

#[test]
fn route_without_names_resolved_is_unknown() {
    let l = doctor::load(&Inputs {
        configs: vec![PathBuf::from("tests/fixtures/doctor/clean/ctl1/nova.conf")],
        ringfile: Some(PathBuf::from(
            "tests/fixtures/doctor/clean/ctl1/matchmaker_ring.json",
        )),
        ..Inputs::default()
    })
    .unwrap();
    let route = l.route("scheduler", None);
    assert_eq!(route.delivered, None, "{}", route.to_table());
    assert!(route.to_table().contains("give --hosts FILE or --resolve"));
}
