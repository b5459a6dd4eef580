//! The real binary's terminal UI in a real terminal (tmux): it draws, answers
//! keys, quits with `q` restoring the screen and exit status 0; with stdout
//! piped it prints the table instead. Needs tmux (`./dev deps` installs it).

use std::path::Path;
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        let socket = format!("zmqtrace-test-{}-{name}", std::process::id());
        Tmux { socket }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (install it: apt-get install tmux, or ./dev deps)")
    }

    fn start(&self, width: u16, height: u16, command: &str) {
        let out = self.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Keep the pane after the program exits, to read what it left.
        self.run(&["set-option", "-t", "t", "remain-on-exit", "on"]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits (up to 20 s, for a loaded machine) until the screen shows
    /// `text`; panics with the screen otherwise.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited for {text:?}; the screen shows:\n{screen}"
            );
            sleep(Duration::from_millis(50));
        }
    }

    fn pane(&self, format: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", "t", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// zmqtrace's exit status, which `exited(...)` prints after it ends
    /// (tmux's own pane_dead_status is sometimes never set: it can leave
    /// the process unreaped for a while).
    fn wait_exit(&self) -> String {
        let screen = self.wait_for("EXIT=");
        screen
            .lines()
            .find_map(|l| l.trim().strip_prefix("EXIT="))
            .unwrap_or("")
            .to_string()
    }
}

/// A shell command running `command`, then printing its exit status and
/// waiting, so the pane can be read after zmqtrace has gone.
fn exited(command: &str) -> String {
    format!("sh -c '{command}; echo EXIT=$?; sleep 30'")
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn zmqtrace() -> String {
    env!("CARGO_BIN_EXE_zmqtrace").to_string()
}

const CAPTURE: &str = "captures/oslo/legacy_liberty_ring.pcap";

#[test]
fn the_ui_draws_answers_keys_and_quits_cleanly() {
    assert!(Path::new(CAPTURE).exists());
    let tmux = Tmux::new("ui");
    tmux.start(100, 30, &exited(&format!("{} -r {CAPTURE}", zmqtrace())));
    let screen = tmux.wait_for("DONE");
    assert!(screen.contains("get_host_uptime"), "{screen}");
    assert!(screen.contains("1 Messages"), "{screen}");
    tmux.keys(&["2"]);
    let calls = tmux.wait_for("STATE");
    assert!(calls.contains("FAILED"), "{calls}");
    tmux.keys(&["?"]);
    tmux.wait_for("keys  (? or Esc closes)");
    // Esc alone: Esc and the next key in one write read as Alt+key.
    tmux.keys(&["Escape"]);
    let start = Instant::now();
    while tmux.screen().contains("(? or Esc closes)") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "Esc closes the help"
        );
        sleep(Duration::from_millis(50));
    }
    tmux.keys(&["1", "/"]);
    tmux.keys(&["-l", "kind:notify"]);
    let filtered = tmux.wait_for("✓ 3 shown");
    assert!(!filtered.contains("get_host_uptime"), "{filtered}");
    tmux.keys(&["Enter", "Space"]);
    tmux.wait_for("FROZEN");
    tmux.keys(&["G"]);
    let live = tmux.wait_for("DONE");
    assert!(!live.contains("FROZEN"), "{live}");
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0", "exit status after q");
    let after = tmux.screen();
    assert!(
        !after.contains("1 Messages"),
        "the alternate screen is left on exit:\n{after}"
    );
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let tmux = Tmux::new("ctrlc");
    // `stty -a` after zmqtrace shows whether raw mode was undone.
    tmux.start(
        100,
        30,
        &format!(
            "sh -c '{} -r {CAPTURE}; echo EXIT=$?; stty -a | grep -o \" icanon\" ; sleep 30'",
            zmqtrace()
        ),
    );
    tmux.wait_for("DONE");
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    let screen = tmux.wait_for("icanon");
    assert!(
        screen.contains(" icanon"),
        "canonical mode is back:\n{screen}"
    );
}

#[test]
fn a_pipe_gets_the_table_and_a_tiny_terminal_a_sentence() {
    let tmux = Tmux::new("pipe");
    tmux.start(
        120,
        30,
        &format!("sh -c '{} -r {CAPTURE} | head -3; sleep 30'", zmqtrace()),
    );
    let screen = tmux.wait_for("TIME (UTC)");
    assert!(screen.contains("greeting"), "{screen}");

    let tmux = Tmux::new("tiny");
    tmux.start(40, 10, &exited(&format!("{} -r {CAPTURE}", zmqtrace())));
    tmux.wait_for("needs a terminal");
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0");
}

#[test]
fn a_vanished_terminal_ends_the_ui_instead_of_spinning() {
    let tmux = Tmux::new("hangup");
    // SIGHUP ignored, as under nohup-like wrappers: the UI must see the
    // hang-up on the terminal itself (crossterm alone would spin on EOF).
    tmux.start(
        100,
        30,
        &format!("sh -c 'trap \"\" HUP; exec {} -r {CAPTURE}'", zmqtrace()),
    );
    tmux.wait_for("DONE");
    let pid: u32 = tmux.pane("#{pane_pid}").parse().expect("pane pid");
    tmux.run(&["kill-server"]);
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}/stat")).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // A zombie waiting for its (gone) parent has exited.
        if stat.split_whitespace().nth(2) == Some("Z") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "zmqtrace {pid} still runs after its terminal went away"
        );
        sleep(Duration::from_millis(50));
    }
}
