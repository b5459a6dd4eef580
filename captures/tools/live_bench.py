#!/usr/bin/env python3
"""Live-capture benchmark: real libzmq traffic on 127.0.0.1 at a given rate
while `zmqtrace -i lo` decodes it; reports what zmqtrace saw and lost.

  sudo python3 captures/tools/live_bench.py --rate 100000 --seconds 10
  sudo python3 captures/tools/live_bench.py --sweep 100000,200000,400000

Traffic: SENDERS DEALER processes, each connected to one ROUTER process on
PORT, send two-frame messages [b"", body] (body SIZE bytes, as oslo's zmq
driver frames a cast), paced to RATE messages per second in total: every
millisecond each sender sends what it is behind schedule. The ROUTER
receives and counts them. With --window N they are calls: the ROUTER answers
each, and a sender waits for answers when N are outstanding (--window 1 is a
ping-pong, one message per packet: the packet-rate test). zmqtrace runs as built (`target/release/zmqtrace`
by default) with `-i lo -p PORT -o jsonl`, its output in a temporary file
(trace mode) or its `stats` summary; it is stopped with SIGTERM once the
receiver has everything, and its summary line is read back.

Printed per run (one JSON object per line, then a table): the target and
achieved rates, messages sent, received and reported by zmqtrace, packets
and packets per second, kernel_dropped and queue_dropped from the summary,
and zmqtrace's CPU time and peak resident memory. A run is "clean" when zmqtrace reported every
message sent and nothing was dropped. `--sweep` stops at the first rate
that is not clean or that the senders cannot reach.

Needs root (live capture) and pyzmq. Traffic stays on loopback, bounded by
--seconds. The wall clock paces the senders only; zmqtrace uses packet
timestamps.
"""

import argparse
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time

import zmq

HOST = "127.0.0.1"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def sender(port, rate, seconds, size, window, go, result):
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.SNDHWM, 1_000_000)
    s.connect(f"tcp://{HOST}:{port}")
    body = b"x" * size
    go.wait()
    start = time.perf_counter()
    sent = 0
    outstanding = 0
    total = int(rate * seconds)
    # Bounded in time too: a rate the sender cannot reach ends on time.
    while sent < total and time.perf_counter() - start < seconds:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due and (window == 0 or outstanding < window):
            s.send_multipart([b"", body])
            sent += 1
            outstanding += 1
        if window:
            # Calls: wait for a reply before sending beyond the window.
            s.recv_multipart()
            outstanding -= 1
            continue
        ahead = (sent / rate) - (time.perf_counter() - start)
        if ahead > 0.0005:
            time.sleep(0.001)
    while window and outstanding:
        s.recv_multipart()
        outstanding -= 1
    elapsed = time.perf_counter() - start
    result.put((sent, elapsed))
    s.close(linger=-1)
    ctx.term()


def receiver(port, reply, bound, stop, done):
    ctx = zmq.Context()
    r = ctx.socket(zmq.ROUTER)
    r.setsockopt(zmq.RCVHWM, 1_000_000)
    r.bind(f"tcp://{HOST}:{port}")
    bound.set()
    got = 0
    poller = zmq.Poller()
    poller.register(r, zmq.POLLIN)
    idle_since = None
    while True:
        if poller.poll(100):
            while True:
                try:
                    frames = r.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                got += 1
                if reply:
                    r.send_multipart([frames[0], b"", b"ok"])
            idle_since = None
        else:
            idle_since = idle_since or time.monotonic()
            # Done once the senders are, and nothing more comes.
            if stop.is_set() and time.monotonic() - idle_since > 0.2:
                break
    done.put(got)
    r.close(linger=0)
    ctx.term()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run(args, rate):
    out = tempfile.NamedTemporaryFile(
        prefix="zmqtrace-bench-", suffix=".jsonl", dir=args.out_dir, delete=False
    )
    argv = [args.zmqtrace]
    if args.mode == "stats":
        argv.append("stats")
    # -f keeps other traffic on the loopback interface out of the count;
    # auto-detection stays on, as by default.
    argv += ["-i", "lo", "-p", str(args.port), "-f", f"tcp port {args.port}", "-o", "jsonl"]
    argv += ["--kernel-buffer-mib", str(args.kernel_buffer_mib)]
    if args.immediate:
        argv.append("--immediate")
    zt = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, text=True)
    line = zt.stderr.readline()
    if not line.startswith("zmqtrace: capturing"):
        zt.kill()
        sys.exit(f"zmqtrace did not start: {line.strip()} {zt.stderr.read().strip()}")

    per_sender = rate / args.senders
    bound, go, stop = mp.Event(), mp.Event(), mp.Event()
    results, done = mp.Queue(), mp.Queue()
    recv = mp.Process(target=receiver, args=(args.port, args.window > 0, bound, stop, done))
    recv.start()
    bound.wait()
    senders = [
        mp.Process(
            target=sender,
            args=(args.port, per_sender, args.seconds, args.size, args.window, go, results),
        )
        for _ in range(args.senders)
    ]
    for p in senders:
        p.start()
    time.sleep(0.5)  # connections and handshakes done before the clock starts
    go.set()
    sent, slowest = 0, 0.0
    for _ in senders:
        n, elapsed = results.get()
        sent += n
        slowest = max(slowest, elapsed)
    stop.set()
    received = done.get()
    for p in senders + [recv]:
        p.join()
    time.sleep(0.5)  # the last packets leave the kernel ring
    cpu = cpu_seconds(zt.pid)
    rss = peak_rss_kib(zt.pid)
    zt.send_signal(signal.SIGTERM)
    rest = zt.communicate(timeout=120)[1]
    out.close()
    summary = None
    with open(out.name, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 65536))
        for raw in f.read().splitlines():
            if raw.startswith(b'{"event":"summary"'):
                summary = json.loads(raw)
    os.unlink(out.name)
    if summary is None:
        sys.exit(f"no summary from zmqtrace (exit {zt.returncode}): {rest.strip()}")
    result = {
        "target_rate": rate,
        "achieved_rate": round(sent / slowest) if slowest else 0,
        "sent": sent,
        "received": received,
        "reported": summary["messages"],
        "packets": summary["packets"],
        "packets_per_s": round(summary["packets"] / slowest) if slowest else 0,
        "kernel_dropped": summary["kernel_dropped"],
        "queue_dropped": summary["queue_dropped"],
        "gaps": summary["gaps"],
        "zmqtrace_cpu_s": round(cpu, 2),
        "zmqtrace_peak_rss_kib": rss,
        "seconds": round(slowest, 2),
        "exit": zt.returncode,
    }
    expected = sent * (2 if args.window else 1)
    result["clean"] = (
        result["reported"] == expected
        and sent == received
        and result["kernel_dropped"] == 0
        and result["queue_dropped"] == 0
        and result["exit"] == 0
    )
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=100_000, help="messages per second, all senders together")
    ap.add_argument("--sweep", help="comma-separated rates, run in order until one is not clean")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=100, help="body bytes per message")
    ap.add_argument("--senders", type=int, default=1)
    ap.add_argument(
        "--window",
        type=int,
        default=0,
        help="0: one-way casts; N: calls, each answered, at most N outstanding per sender "
        "(1 puts every message in a packet of its own)",
    )
    ap.add_argument("--port", type=int, default=19501)
    ap.add_argument("--kernel-buffer-mib", type=int, default=32)
    ap.add_argument("--immediate", action="store_true", help="zmqtrace --immediate (libpcap immediate mode)")
    ap.add_argument("--mode", choices=["trace", "stats"], default="trace")
    ap.add_argument(
        "--out-dir",
        help="where zmqtrace's output goes (deleted after; default: the temporary directory). "
        "The trace writes ~250 bytes per message: /dev/shm keeps the disk out of the measurement",
    )
    ap.add_argument("--zmqtrace", default=os.path.join(REPO, "target", "release", "zmqtrace"))
    args = ap.parse_args()
    if args.seconds > 120:
        sys.exit("--seconds is capped at 120")
    rates = [int(r) for r in args.sweep.split(",")] if args.sweep else [args.rate]
    results = []
    for rate in rates:
        r = run(args, rate)
        print(json.dumps(r), flush=True)
        results.append(r)
        if args.sweep and (not r["clean"] or r["achieved_rate"] < 0.95 * rate):
            break
    print()
    print(f"{'target/s':>10} {'achieved/s':>10} {'sent':>10} {'reported':>10} {'packets/s':>10} "
          f"{'kernel_dr':>9} {'queue_dr':>9} {'cpu s':>6}  clean")
    for r in results:
        print(f"{r['target_rate']:>10} {r['achieved_rate']:>10} {r['sent']:>10} {r['reported']:>10} "
              f"{r['packets_per_s']:>10} {r['kernel_dropped']:>9} {r['queue_dropped']:>9} "
              f"{r['zmqtrace_cpu_s']:>6}  {r['clean']}")


if __name__ == "__main__":
    main()
