#!/usr/bin/env python3
"""Responsiveness and memory of the terminal UI while it replays a big
capture (docs/PERFORMANCE.md): zmqtrace runs in tmux; while it reads, keys
are sent one at a time and the time until the screen shows their effect is
measured (tmux capture-pane polling, so it includes tmux's own latency);
the peak RSS is read from /proc before quitting.

  captures/tools/tui_bench.py [--capture bench-data/oslo.pcap] [--rounds 20]
"""
import argparse
import os
import statistics
import subprocess
import time

SOCK = "zmqtrace-tui-bench-%d" % os.getpid()


def tmux(*args):
    return subprocess.run(["tmux", "-L", SOCK, *args], capture_output=True, text=True).stdout


def screen():
    return tmux("capture-pane", "-p", "-t", "b")


def wait(pred, limit=30.0):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        s = screen()
        if pred(s):
            return time.monotonic() - start, s
        time.sleep(0.002)
    raise SystemExit("timed out; screen:\n" + screen())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capture", default="bench-data/oslo.pcap")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--binary", default="target/release/zmqtrace")
    ap.add_argument("--extra", default="", help="more zmqtrace arguments, e.g. --history 10000")
    args = ap.parse_args()
    cmd = "%s -r %s %s" % (os.path.abspath(args.binary), os.path.abspath(args.capture), args.extra)
    tmux("new-session", "-d", "-s", "b", "-x", "160", "-y", "45", cmd)
    try:
        pid = int(tmux("display-message", "-p", "-t", "b", "#{pane_pid}").strip())
        started = time.monotonic()
        wait(lambda s: "READING" in s or "DONE" in s)
        # Alternate between two views; each key's effect is the other
        # view's column titles.
        targets = [("2", "STATE"), ("1", "KIND")]
        latencies = []
        during_read = 0
        for i in range(args.rounds):
            key, marker = targets[i % 2]
            tmux("send-keys", "-t", "b", key)
            took, s = wait(lambda s, m=marker: m in s.splitlines()[3] if len(s.splitlines()) > 3 else False)
            latencies.append(took * 1000)
            if "READING" in s:
                during_read += 1
            time.sleep(0.05)
        _, s = wait(lambda s: "DONE" in s, limit=600)
        read_secs = time.monotonic() - started
        hwm = [l for l in open("/proc/%d/status" % pid) if l.startswith(("VmHWM", "VmRSS"))]
        header = s.splitlines()[:2]
        tmux("send-keys", "-t", "b", "q")
        print("capture:", args.capture, "(%.0f MB)" % (os.path.getsize(args.capture) / 1e6))
        print("keys answered: %d (%d while the file was still being read)" % (len(latencies), during_read))
        print("key -> screen ms: median %.1f, p90 %.1f, max %.1f" % (
            statistics.median(latencies),
            sorted(latencies)[int(len(latencies) * 0.9) - 1],
            max(latencies)))
        print("until DONE: %.1f s (includes the keys above)" % read_secs)
        print("".join(hwm).strip())
        print("\n".join(header))
    finally:
        tmux("kill-server")


if __name__ == "__main__":
    main()
