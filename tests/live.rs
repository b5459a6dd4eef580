//! Live capture (`-i`) with the real binary: real libzmq traffic on the
//! loopback interface, privileges after start, clean stops, and one clear
//! line for every way it cannot start.
//!
//! The capture tests need root and pyzmq; without them they are skipped
//! with the reason printed (`cargo test -- --nocapture` shows it), unless
//! `ZMQTRACE_REQUIRE_LIVE=1` (set by `./dev test` as root), which turns a
//! skip into a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_zmqtrace")
}

fn zmqtrace(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run zmqtrace")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A runtime failure: the status, exactly one line on stderr naming the
/// problem, no panic.
fn assert_one_line_error(o: &Output, status: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(status), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("zmqtrace: "), "stderr: {err}");
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in {err}");
    }
    assert!(!err.contains("panicked"));
}

fn status_field(status: &str, key: &str) -> Option<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status_field(&status, "Uid:").is_some_and(|uids| uids.split_whitespace().nth(1) == Some("0"))
}

fn has_pyzmq() -> bool {
    Command::new("python3")
        .args(["-c", "import zmq"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Live tests run one at a time: each would see the other's traffic on
/// the loopback interface, and they share two cores.
static LIVE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Why a live test cannot run here, if it cannot.
fn live_unavailable() -> Option<String> {
    let reason = if !is_root() {
        Some("not root (live capture needs CAP_NET_RAW)".to_string())
    } else if !has_pyzmq() {
        Some("python3 with pyzmq is missing (`pip install pyzmq`)".to_string())
    } else {
        None
    };
    if let Some(reason) = &reason {
        assert!(
            std::env::var("ZMQTRACE_REQUIRE_LIVE").as_deref() != Ok("1"),
            "ZMQTRACE_REQUIRE_LIVE=1 but {reason}"
        );
        println!("skipped: {reason}");
    }
    reason
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zmqtrace-live-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// zmqtrace capturing, confirmed started (its start-up line on stderr).
struct Capture {
    child: Child,
    stdout: PathBuf,
    stderr: BufReader<std::process::ChildStderr>,
    started: String,
}

impl Capture {
    fn start(args: &[&str], stdout: &Path) -> Capture {
        let mut child = Command::new(bin())
            .args(args)
            .stdout(std::fs::File::create(stdout).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn zmqtrace");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut started = String::new();
        stderr.read_line(&mut started).unwrap();
        assert!(
            started.starts_with("zmqtrace: capturing"),
            "zmqtrace did not start: {started}"
        );
        Capture {
            child,
            stdout: stdout.to_path_buf(),
            stderr,
            started,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {signal}");
    }

    /// Wait for the exit (bounded); the status, the JSON lines, the rest
    /// of stderr.
    fn finish(self) -> (Option<i32>, Vec<Value>, String) {
        let (status, out, rest) = self.finish_text();
        let lines = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        (status, lines, rest)
    }

    fn finish_text(mut self) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("zmqtrace did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        let out = std::fs::read_to_string(&self.stdout).unwrap();
        (status.code(), out, rest)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn traffic(listed: u16, auto: u16, count: u32) -> BTreeMap<String, Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/live_traffic.py");
    let out = Command::new("python3")
        .arg(script)
        .args([listed.to_string(), auto.to_string(), count.to_string()])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "traffic failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// The tag of a `message` event: the frame that reads like one.
fn tag(message: &Value) -> Option<String> {
    message["frames"].as_array()?.iter().find_map(|f| {
        let text = String::from_utf8(unhex(f["head"].as_str()?)).ok()?;
        (text.contains("-q") || text.contains("-r")).then_some(text)
    })
}

fn proc_status(pid: u32) -> Vec<String> {
    let mut all = vec![std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap()];
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("status");
        all.push(std::fs::read_to_string(path).unwrap());
    }
    all
}

#[test]
fn live_capture_reports_every_message_without_privileges() {
    if live_unavailable().is_some() {
        return;
    }
    let _one_at_a_time = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let (listed, auto) = (free_port(), free_port());
    // -f keeps other loopback traffic out; auto-detection still has to
    // find the second port, which -p does not name.
    let only_ours = format!("tcp port {listed} or tcp port {auto}");
    let dir = temp_dir("every");
    let pcap = dir.join("live.pcap");
    let capture = Capture::start(
        &[
            "-i",
            "lo",
            "-p",
            &listed.to_string(),
            "-f",
            &only_ours,
            "-o",
            "jsonl",
            "-w",
            pcap.to_str().unwrap(),
        ],
        &dir.join("out.jsonl"),
    );
    assert!(capture.started.contains("as nobody with no capabilities"));

    // Started: no root, no capabilities, in every thread, for good.
    for status in proc_status(capture.pid()) {
        let uids = status_field(&status, "Uid:").unwrap();
        assert!(
            uids.split_whitespace().all(|u| u != "0"),
            "still root: {uids}"
        );
        assert!(status_field(&status, "Gid:")
            .unwrap()
            .split_whitespace()
            .all(|g| g != "0"));
        for key in ["CapEff:", "CapPrm:", "CapInh:", "CapAmb:"] {
            assert_eq!(
                status_field(&status, key).as_deref(),
                Some("0000000000000000"),
                "{key}"
            );
        }
        assert_eq!(status_field(&status, "NoNewPrivs:").as_deref(), Some("1"));
    }

    let count = 150;
    let truth = traffic(listed, auto, count);
    std::thread::sleep(Duration::from_millis(300));
    capture.signal("-TERM");
    let (status, lines, rest) = capture.finish();
    assert_eq!(status, Some(0), "stderr: {rest}");
    assert!(rest.is_empty(), "stderr: {rest}");

    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["kernel_dropped"], 0);
    assert_eq!(summary["queue_dropped"], 0);
    assert_eq!(summary["gaps"], 0, "{summary}");
    assert_eq!(summary["auto_ports"], serde_json::json!([auto]));
    assert_eq!(summary["messages"], u64::from(6 * count));

    // Every message sent is reported once, on its connection.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for m in lines.iter().filter(|l| l["event"] == "message") {
        let tag = tag(m).unwrap_or_else(|| panic!("no tag in {m}"));
        let conn = m["conn"].as_str().unwrap().to_string();
        assert!(seen.insert(tag.clone(), conn).is_none(), "{tag} twice");
    }
    let mut conns: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (exchange, tags) in &truth {
        for tag in tags["requests"]
            .as_array()
            .unwrap()
            .iter()
            .chain(tags["replies"].as_array().unwrap())
        {
            let tag = tag.as_str().unwrap();
            let conn = seen
                .get(tag)
                .unwrap_or_else(|| panic!("message {tag} not reported"));
            conns.entry(exchange).or_default().insert(conn);
        }
    }
    assert_eq!(seen.len(), 6 * count as usize);
    for (exchange, on) in &conns {
        assert_eq!(on.len(), 1, "{exchange} on {on:?}");
    }
    let port_of = |exchange: &str| conns[exchange].iter().next().unwrap().to_string();
    assert!(port_of("listed").ends_with(&format!(":{listed}")));
    assert!(port_of("auto-a").ends_with(&format!(":{auto}")));
    // The second connection to the found port is captured from its SYN:
    // greetings and READY of both sides, offsets from 0.
    let b = port_of("auto-b");
    assert_ne!(b, port_of("auto-a"));
    let on_b: Vec<&Value> = lines.iter().filter(|l| l["conn"] == b.as_str()).collect();
    assert_eq!(on_b.iter().filter(|l| l["event"] == "greeting").count(), 2);
    let ready: BTreeSet<&str> = on_b
        .iter()
        .filter(|l| l["event"] == "command" && l["name"] == "READY")
        .map(|l| l["props"]["Socket-Type"].as_str().unwrap())
        .collect();
    assert_eq!(ready, BTreeSet::from(["DEALER", "ROUTER"]));

    // -w: the file replays to the same messages, and tcpdump reads it.
    assert!(summary["written_packets"].as_u64().unwrap() > 0);
    let replay = zmqtrace(&[
        "-r",
        pcap.to_str().unwrap(),
        "-p",
        &listed.to_string(),
        "-o",
        "jsonl",
    ]);
    assert!(replay.status.success(), "{}", stderr(&replay));
    let replayed: Vec<Value> = String::from_utf8(replay.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages = |v: &[Value]| -> Vec<String> {
        v.iter()
            .filter(|l| l["event"] == "message")
            .map(|l| l.to_string())
            .collect()
    };
    assert_eq!(messages(&replayed), messages(&lines));
    assert_eq!(
        replayed.last().unwrap()["packets"],
        summary["written_packets"]
    );
    if let Ok(out) = Command::new("tcpdump")
        .args(["-nr", pcap.to_str().unwrap()])
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let packets = String::from_utf8_lossy(&out.stdout).lines().count() as u64;
        assert_eq!(Some(packets), summary["written_packets"].as_u64());
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn live_capture_stops_by_itself_after_count_and_on_ctrl_c() {
    if live_unavailable().is_some() {
        return;
    }
    let _one_at_a_time = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let (listed, auto) = (free_port(), free_port());
    let dir = temp_dir("count");
    // -c: stops after 25 messages, on its own, with the summary.
    let capture = Capture::start(
        &[
            "-i",
            "any",
            "-p",
            &listed.to_string(),
            "-c",
            "25",
            "-o",
            "jsonl",
        ],
        &dir.join("count.jsonl"),
    );
    traffic(listed, auto, 20);
    let (status, lines, rest) = capture.finish();
    assert_eq!(status, Some(0), "{rest}");
    assert_eq!(lines.iter().filter(|l| l["event"] == "message").count(), 25);
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["messages"], 25);
    assert!(summary["kernel_dropped"].is_u64());

    // Ctrl-C (SIGINT), table output: the summary, exit 0.
    let capture = Capture::start(
        &["-i", "lo", "-p", &listed.to_string(), "--no-auto"],
        &dir.join("table.txt"),
    );
    assert!(capture
        .started
        .contains(&format!("tcp port {listed}, redis on 6379 on lo")));
    traffic(listed, auto, 5);
    std::thread::sleep(Duration::from_millis(200));
    capture.signal("-INT");
    let (status, table, rest) = capture.finish_text();
    assert_eq!(status, Some(0), "{rest}");
    // --no-auto: the auto port's 20 messages are not there.
    assert!(
        table.contains("10 messages and 2 commands on 1 ZeroMQ connections"),
        "{table}"
    );
    assert!(table.contains("live capture: 0 packets dropped by the kernel, 0 by zmqtrace's queue"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_full_queue_drops_and_counts() {
    if live_unavailable().is_some() {
        return;
    }
    let _one_at_a_time = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let (listed, auto) = (free_port(), free_port());
    // Standard output is a pipe nobody reads until the traffic is over: the
    // decoder blocks on it, and the 1 MiB queue behind it fills up.
    let mut child = Command::new(bin())
        .args(["-i", "lo", "-p", &listed.to_string(), "--no-auto"])
        .args(["--queue-mib", "1", "-o", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut started = String::new();
    stderr.read_line(&mut started).unwrap();
    assert!(started.starts_with("zmqtrace: capturing"), "{started}");
    traffic(listed, auto, 1500);
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(out.status.code(), Some(0), "{rest}");
    let text = String::from_utf8(out.stdout).unwrap();
    let summary: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["event"], "summary");
    let dropped = summary["queue_dropped"].as_u64().unwrap();
    assert!(dropped > 0, "{summary}");
    // What was dropped is missing from the streams, and said so: as a gap
    // in a stream that went on, or (its handshake dropped too) as a
    // connection picked up midway. A loss at a stream's very end (its FIN
    // dropped with it) leaves nothing to see but queue_dropped above.
    assert!(summary["messages"].as_u64().unwrap() < 3000, "{summary}");
    let said = summary["gaps"].as_u64().unwrap()
        + summary["midstream_connections"].as_u64().unwrap()
        + summary["incomplete_messages"].as_u64().unwrap();
    assert!(said > 0, "{summary}");
}

#[test]
fn without_cap_net_raw_one_sentence_names_both_remedies() {
    let o = if is_root() {
        let setpriv = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                bin(),
                "-i",
                "lo",
            ])
            .output();
        match setpriv {
            Ok(o) if !String::from_utf8_lossy(&o.stderr).starts_with("setpriv:") => o,
            _ => {
                println!("skipped: setpriv (util-linux) is missing");
                return;
            }
        }
    } else {
        zmqtrace(&["-i", "lo"])
    };
    assert_one_line_error(
        &o,
        1,
        &[
            "capturing on lo needs the CAP_NET_RAW capability",
            "sudo",
            "setcap cap_net_raw,cap_net_admin=eip",
        ],
    );
}

/// The other remedy: the binary with `cap_net_raw,cap_net_admin=eip`, run
/// by an ordinary user, captures, then holds no capability either.
#[test]
fn a_setcap_binary_captures_as_an_ordinary_user() {
    if live_unavailable().is_some() {
        return;
    }
    let _one_at_a_time = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("setcap");
    let copy = dir.join("zmqtrace");
    std::fs::copy(bin(), &copy).unwrap();
    let world = |path: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    world(&dir, 0o755);
    world(&copy, 0o755);
    let setcap = Command::new("setcap")
        .args(["cap_net_raw,cap_net_admin=eip", copy.to_str().unwrap()])
        .output();
    if !setcap.as_ref().is_ok_and(|o| o.status.success()) {
        println!("skipped: setcap (libcap2-bin) is missing or refused");
        return;
    }
    let listed = free_port();
    let out = dir.join("out.txt");
    let mut child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy)
        .args(["-i", "lo", "-p", &listed.to_string(), "--no-auto"])
        .current_dir(&dir)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut started = String::new();
    stderr.read_line(&mut started).unwrap();
    assert!(
        started.contains("as nobody with no capabilities"),
        "{started}"
    );
    // setpriv execs zmqtrace: same process.
    for status in proc_status(child.id()) {
        assert_eq!(
            status_field(&status, "CapEff:").as_deref(),
            Some("0000000000000000")
        );
        assert_eq!(
            status_field(&status, "CapPrm:").as_deref(),
            Some("0000000000000000")
        );
        assert_eq!(status_field(&status, "NoNewPrivs:").as_deref(), Some("1"));
    }
    traffic(listed, free_port(), 5);
    std::thread::sleep(Duration::from_millis(200));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let table = std::fs::read_to_string(&out).unwrap();
    assert!(table.contains("10 messages and 2 commands"), "{table}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_missing_interface_is_one_sentence() {
    let o = zmqtrace(&["-i", "zmqtrace-no0"]);
    assert_one_line_error(&o, 1, &["no interface named 'zmqtrace-no0'", "zmqtrace -D"]);
}

/// A network interface that is down, or one made for the test (root).
fn down_interface() -> Option<(String, bool)> {
    for entry in std::fs::read_dir("/sys/class/net").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let flags = std::fs::read_to_string(entry.path().join("flags")).unwrap_or_default();
        let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap_or(1);
        if flags & 1 == 0 {
            return Some((name, false));
        }
    }
    if !is_root() {
        return None;
    }
    for kind in ["dummy", "ifb"] {
        let made = Command::new("ip")
            .args(["link", "add", "zmqtd0", "type", kind])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if made {
            return Some(("zmqtd0".into(), true));
        }
    }
    None
}

#[test]
fn an_interface_that_is_down_is_one_sentence() {
    let Some((name, made)) = down_interface() else {
        println!("skipped: no interface is down and none can be made");
        return;
    };
    let o = zmqtrace(&["-i", &name]);
    if made {
        let _ = Command::new("ip").args(["link", "del", &name]).status();
    }
    assert_one_line_error(
        &o,
        1,
        &[&format!("interface '{name}' is down"), "ip link set"],
    );
}

#[test]
fn live_usage_errors() {
    for (args, needle) in [
        (
            &["-i", "lo", "-r", "x.pcap"][..],
            "-i and -r cannot be used together",
        ),
        (&["-i", "any", "-i", "lo"][..], "-i any already captures"),
        (&["-i", "lo", "-i", "lo"][..], "given twice"),
        (
            &["-i", "lo", "-f", "port nonsense"][..],
            "bad capture filter",
        ),
        (&[][..], "no input"),
    ] {
        let o = zmqtrace(args);
        assert_one_line_error(&o, 2, &[needle]);
    }
    let o = zmqtrace(&["--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("--interface") && help.contains("--user"));
    assert!(help.contains("tcpdump -Z"), "{help}");
}

#[test]
fn list_interfaces_names_loopback_with_its_address() {
    let o = zmqtrace(&["-D"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lo = out
        .lines()
        .find(|l| l.starts_with("lo "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(lo.contains("127.0.0.1") && lo.contains("loopback"), "{lo}");
    let o = zmqtrace(&["-D", "-o", "jsonl"]);
    let any = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["name"] == "any");
    assert!(any.is_some_and(|v| v["event"] == "interface" && v["up"] == true));
}
