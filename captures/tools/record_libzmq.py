#!/usr/bin/env python3
"""Record real libzmq traffic on loopback with tcpdump, and write its truth.

Scenarios (pick by name, default: rpc pushpull):

  rpc       DEALER <-> ROUTER on 127.0.0.1:9501, ~200 oslo-style JSON RPCs
            (request: b'' + JSON body, reply likewise), a few 4-part
            envelopes, then a clean close.
            -> captures/libzmq/dealer_router_rpc.pcap (+ .truth.json)
  pushpull  PUSH -> PULL on 127.0.0.1:9501, message sizes 0..70000 including
            the 255/256 (short/long frame) and 8192 (libzmq batch) boundaries.
            -> captures/libzmq/push_pull_sizes.pcap (+ .truth.json)
  big       ~200 MB benchmark capture (not committed): 4 DEALERs x many RPCs
            to a ROUTER, a PUB fanning out to 2 SUBs, a few hundred 64 KiB
            PUSH -> PULL messages.  -> bench-data/big.pcap

The truth is written from the generating side: the messages each socket
sent, and, per connection and direction, the length and SHA-256 of the TCP
byte stream as read back from the pcap by the small independent reader in
this file (Ethernet/IPv4/TCP, payload concatenated by sequence number from
ISN+1, duplicates ignored).  zmqtrace is never used to make the truth.  As a
self-check the script also decodes each stream's ZMTP 3 framing (again with
its own code) and requires the data messages on the wire to be exactly the
messages the sockets sent, in order; a capture that misses anything fails.

Traffic stays on loopback (127.0.0.1) and is bounded in count and time.
Needs root (tcpdump), pyzmq and tcpdump.

  python3 captures/tools/record_libzmq.py            # rpc + pushpull
  python3 captures/tools/record_libzmq.py big        # bench-data/big.pcap
"""

import argparse
import hashlib
import json
import os
import random
import re
import signal
import struct
import subprocess
import sys
import threading
import time

import zmq

HOST = "127.0.0.1"
PORT = 9501
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SMALL_DIR = os.path.join(REPO, "captures", "libzmq")
BENCH_DIR = os.path.join(REPO, "bench-data")


# --------------------------------------------------------------------------
# tcpdump


class Tcpdump:
    """tcpdump on `lo`, started and confirmed listening before traffic, stopped
    with SIGINT after the last packet had time to leave the kernel ring."""

    def __init__(self, path, bpf, buffer_kib=65536, settle=2.0):
        self.path = path
        self.bpf = bpf
        self.settle = settle
        self.argv = [
            "tcpdump", "-i", "lo", "-s", "0", "-B", str(buffer_kib),
            "-Z", "root",  # write the file as root (Debian drops to `tcpdump`)
            "-w", path, bpf,
        ]
        self.lines = []
        self.proc = None

    def command(self):
        """The command line as run from the repository root."""
        return " ".join(
            _quote(os.path.relpath(a, REPO) if a == self.path else a) for a in self.argv
        )

    def start(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        if os.path.exists(self.path):
            os.unlink(self.path)
        print("+ " + self.command(), flush=True)
        self.proc = subprocess.Popen(
            self.argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        ready = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                if "listening on" in line:
                    ready.set()
            ready.set()

        self.thread = threading.Thread(target=drain, daemon=True)
        self.thread.start()
        if not ready.wait(15) or self.proc.poll() is not None:
            self.proc.kill()
            raise SystemExit("tcpdump did not start: " + " | ".join(self.lines))
        # The filter is installed before "listening on" is printed; a short
        # pause more so nothing races the first SYN.
        time.sleep(0.3)

    def stop(self):
        # tcpdump reads the TPACKET_V3 ring in blocks retired at most every
        # second; wait so the last packets are in a retired block.
        time.sleep(self.settle)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise SystemExit("tcpdump did not stop")
        self.thread.join(5)
        stats = {}
        for line in self.lines:
            m = re.match(r"(\d+) packets? (captured|received by filter|dropped by kernel)", line)
            if m:
                stats[m.group(2).replace(" ", "_")] = int(m.group(1))
        for line in self.lines:
            print("  tcpdump: " + line, flush=True)
        if "dropped_by_kernel" not in stats:
            raise SystemExit("tcpdump printed no drop count")
        print("  dropped by kernel: %d" % stats["dropped_by_kernel"], flush=True)
        if stats["dropped_by_kernel"] != 0:
            raise SystemExit("tcpdump dropped packets: the capture is incomplete")
        return stats


def _quote(arg):
    return arg if re.fullmatch(r"[\w./:=-]+", arg) else "'" + arg + "'"


# --------------------------------------------------------------------------
# Independent pcap reader and TCP stream reassembly


def read_pcap(path):
    """Yield (ts_seconds_float, linktype, frame bytes) of a classic pcap."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit("%s: not a classic pcap" % path)
    nanos = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    _, _, _, _, snaplen, linktype = struct.unpack(endian + "HHiIII", data[4:24])
    hdr = struct.Struct(endian + "IIII")
    pos = 24
    while pos < len(data):
        if pos + 16 > len(data):
            raise SystemExit("%s: truncated record header at %d" % (path, pos))
        sec, frac, incl, orig = hdr.unpack_from(data, pos)
        pos += 16
        if incl != orig:
            raise SystemExit("%s: packet cut by snaplen at %d" % (path, pos))
        if pos + incl > len(data):
            raise SystemExit("%s: truncated packet at %d" % (path, pos))
        yield sec + frac / (1e9 if nanos else 1e6), linktype & 0xFFFF, data[pos:pos + incl]
        pos += incl


def pcap_overview(path):
    """Packets, first and last timestamp: for the benchmark notes."""
    n, first, last = 0, None, None
    for ts, _, _ in read_pcap(path):
        n += 1
        first = ts if first is None else first
        last = ts
    return n, first, last


class Direction:
    def __init__(self):
        self.isn = None
        self.buf = bytearray()
        self.pending = {}  # relative seq -> payload, arrived ahead of a hole
        self.segments = 0
        self.duplicates = 0
        self.fin = False

    def add(self, seq, payload):
        if self.isn is None:
            raise SystemExit("data before the handshake")
        rel = (seq - self.isn - 1) & 0xFFFFFFFF
        self.segments += 1
        self.pending.setdefault(rel, payload)
        self._drain()

    def _drain(self):
        while True:
            end = len(self.buf)
            ready = [r for r in self.pending if r <= end]
            if not ready:
                return
            for rel in sorted(ready):
                payload = self.pending.pop(rel)
                end = len(self.buf)
                if rel + len(payload) <= end:
                    if self.buf[rel:rel + len(payload)] != payload:
                        raise SystemExit("retransmission with different bytes at %d" % rel)
                    self.duplicates += 1
                    continue
                overlap = end - rel
                if self.buf[rel:end] != payload[:overlap]:
                    raise SystemExit("overlap with different bytes at %d" % rel)
                self.buf += payload[overlap:]


class TcpConn:
    def __init__(self, client, server, first_ts):
        self.client = client
        self.server = server
        self.first_ts = first_ts
        self.dirs = {"c2s": Direction(), "s2c": Direction()}
        self.rst = False

    @property
    def label(self):
        return "%s:%d>%s:%d" % (self.client + self.server)

    def done(self):
        return self.rst or (self.dirs["c2s"].fin and self.dirs["s2c"].fin)


def tcp_streams(path):
    """Reassemble every TCP connection of an Ethernet/IPv4 pcap."""
    conns = []
    live = {}
    for ts, link, frame in read_pcap(path):
        if link != 1:
            raise SystemExit("link type %d: only Ethernet is read here" % link)
        (ethertype,) = struct.unpack_from("!H", frame, 12)
        if ethertype != 0x0800:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        frag = struct.unpack_from("!H", ip, 6)[0]
        if ip[9] != 6:
            continue
        if frag & 0x3FFF:
            raise SystemExit("IP fragment in capture")
        src = ".".join(str(b) for b in ip[12:16])
        dst = ".".join(str(b) for b in ip[16:20])
        tcp = ip[ihl:total]
        sport, dport, seq, _ack, off_flags = struct.unpack_from("!HHIIH", tcp, 0)
        doff = (off_flags >> 12) * 4
        flags = off_flags & 0x3F
        syn, ack, fin, rst = flags & 2, flags & 16, flags & 1, flags & 4
        payload = bytes(tcp[doff:])
        a, b = (src, sport), (dst, dport)
        key = tuple(sorted([a, b]))
        conn = live.get(key)
        if syn and not ack and (conn is None or conn.done()):
            conn = TcpConn(a, b, ts)
            conn.dirs["c2s"].isn = seq
            live[key] = conn
            conns.append(conn)
            continue
        if conn is None:
            raise SystemExit("packet of %s:%d>%s:%d outside any handshake" % (a + b))
        d = conn.dirs["c2s" if a == conn.client else "s2c"]
        if syn:
            if d.isn is None:
                d.isn = seq
            continue
        if rst:
            conn.rst = True
        if payload:
            d.add(seq, payload)
        if fin:
            d.fin = True
    for conn in conns:
        for name, d in conn.dirs.items():
            if d.pending:
                raise SystemExit("%s %s: hole in the stream" % (conn.label, name))
    return conns


# --------------------------------------------------------------------------
# ZMTP 3 decoding, for the self-check only


def zmtp_frames(stream):
    """The frames of a ZMTP 3.x stream after its greeting: (flags, body,
    offset just past the frame)."""
    if len(stream) < 64 or stream[0] != 0xFF or not stream[9] & 1:
        raise SystemExit("stream does not open with a ZMTP 3 greeting")
    pos = 64
    while pos < len(stream):
        flags = stream[pos]
        if flags & 2:
            (size,) = struct.unpack_from("!Q", stream, pos + 1)
            pos += 9
        else:
            size = stream[pos + 1]
            pos += 2
        body = bytes(stream[pos:pos + size])
        if len(body) != size:
            raise SystemExit("stream ends inside a frame")
        pos += size
        yield flags, body, pos


def zmtp_decode(stream):
    """Greeting + frames of a ZMTP 3.x stream: (greeting info, commands,
    messages as lists of frames)."""
    commands, messages, parts = [], [], []
    for flags, body, _ in zmtp_frames(stream):
        if flags & 4:
            commands.append(body[1:1 + body[0]].decode())
            continue
        parts.append(body)
        if not flags & 1:
            messages.append(parts)
            parts = []
    if parts:
        raise SystemExit("stream ends inside a multipart message")
    greeting = {
        "version": "%d.%d" % (stream[10], stream[11]),
        "mechanism": bytes(stream[12:32]).rstrip(b"\0").decode(),
    }
    return greeting, commands, messages


def digest(frames):
    h = hashlib.sha256()
    for f in frames:
        h.update(struct.pack("!Q", len(f)))
        h.update(f)
    return h.hexdigest()


# --------------------------------------------------------------------------
# Message bodies


METHODS = [
    "build_and_run_instance", "terminate_instance", "reboot_instance",
    "get_console_output", "attach_volume", "detach_volume", "report_state",
    "select_destinations", "sync_instance_info", "update_available_resource",
]


def json_body(rng, kind, msg_id, target):
    """An oslo.messaging-style JSON body of exactly `target` bytes where the
    envelope fits, else a bare JSON object of that size."""
    if kind == "request":
        inner = {
            "method": rng.choice(METHODS),
            "args": {"instance_uuid": "%032x" % rng.getrandbits(128)},
            "namespace": None,
            "version": "5.%d" % rng.randrange(12),
            "_msg_id": "%032x" % msg_id,
            "_reply_q": "reply_%032x" % rng.getrandbits(128),
            "_context_request_id": "req-%032x" % rng.getrandbits(128),
        }
    else:
        inner = {
            "result": rng.choice([None, True, {"state": "ACTIVE"}, [1, 2, 3]]),
            "failure": None,
            "ending": True,
            "_msg_id": "%032x" % msg_id,
        }
    keys = list(inner)
    sep = (",", ":")
    while True:
        inner_s = json.dumps(inner, separators=sep)
        base = json.dumps({"oslo.version": "2.0", "oslo.message": inner_s}, separators=sep)
        if len(base) <= target or not keys:
            break
        del inner[keys.pop()]
    if len(base) > target:
        # Smaller than the smallest envelope: a bare object.
        base = '{"r":""}'
        pad = max(0, target - len(base))
        return ('{"r":"%s"}' % ("x" * pad)).encode()
    if len(base) == target:
        return base.encode()
    # Pad inside the inner message: `,"pad":"xxx"` adds 1:1 bytes once the
    # escaping of the quotes in the outer string is counted.
    inner["pad"] = ""
    empty = json.dumps(
        {"oslo.version": "2.0", "oslo.message": json.dumps(inner, separators=sep)},
        separators=sep,
    )
    if len(empty) > target:
        del inner["pad"]
        return base.encode() + b" " * (target - len(base))
    inner["pad"] = "x" * (target - len(empty))
    out = json.dumps(
        {"oslo.version": "2.0", "oslo.message": json.dumps(inner, separators=sep)},
        separators=sep,
    ).encode()
    assert len(out) == target, (len(out), target)
    return out


# --------------------------------------------------------------------------
# Scenarios


def make_ctx():
    ctx = zmq.Context()
    return ctx


def setup(sock, timeout_ms=10000):
    sock.setsockopt(zmq.LINGER, 5000)
    sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
    sock.setsockopt(zmq.SNDTIMEO, timeout_ms)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.setsockopt(zmq.RCVHWM, 0)
    return sock


def scenario_rpc(seed):
    """One DEALER, one ROUTER, ~200 RPCs with up to 8 outstanding."""
    rng = random.Random(seed)
    ctx = make_ctx()
    router = setup(ctx.socket(zmq.ROUTER))
    router.bind("tcp://%s:%d" % (HOST, PORT))
    dealer = setup(ctx.socket(zmq.DEALER))
    dealer.setsockopt(zmq.ROUTING_ID, b"compute-01")
    dealer.connect("tcp://%s:%d" % (HOST, PORT))

    n_rpc, envelope_every, window = 200, 40, 8
    sent_c2s, sent_s2c = [], []
    next_req, replied = 0, 0
    while replied < n_rpc:
        while next_req < n_rpc and next_req - replied < window:
            i = next_req
            body = json_body(rng, "request", i, rng.randint(120, 900))
            if i % envelope_every == envelope_every - 1:
                msg = [b"", b"reply-to:conductor", b"msg-%08d" % i, body]
            else:
                msg = [b"", body]
            dealer.send_multipart(msg)
            sent_c2s.append(msg)
            next_req += 1
        # Serve whatever arrived, then collect the replies.
        frames = router.recv_multipart()
        ident, rest = frames[0], frames[1:]
        assert ident == b"compute-01", ident
        i = len(sent_s2c)
        assert rest == sent_c2s[i], "router got something unexpected"
        reply = json_body(rng, "reply", i, rng.randint(30, 400))
        if len(rest) == 4:
            out = [b"", b"reply", rest[2], reply]
        else:
            out = [b"", reply]
        router.send_multipart([ident] + out)
        sent_s2c.append(out)
        got = dealer.recv_multipart()
        assert got == out
        replied += 1
        if replied % 50 == 0:
            time.sleep(0.05)  # a few pauses, so it is not one burst
    # Clean close: the dealer first, then the router, then the context.
    dealer.close()
    time.sleep(0.2)
    router.close()
    ctx.term()
    expected = {"c2s": sent_c2s, "s2c": sent_s2c}
    sockets = {"client": "DEALER (routing id compute-01)", "server": "ROUTER"}
    summary = {
        "requests": describe(sent_c2s, "DEALER", "ROUTER (routing id frame stripped on receipt)"),
        "replies": describe(
            sent_s2c, "ROUTER", "DEALER",
            note="sent as [routing id] + frames; the routing id never goes on the wire",
        ),
        "outstanding_window": window,
    }
    return [expected], sockets, summary


def pushpull_sizes(rng):
    sizes = [0, 1, 2, 3, 10, 100, 200, 253, 254, 255, 256, 257, 258, 300, 511, 512,
             1000, 1024, 1500, 4096, 8000]
    # libzmq's out batch is 8192 bytes; frames with a 9-byte header fill it
    # at 8183.
    sizes += list(range(8180, 8196)) + [8200, 8300]
    sizes += [16383, 16384, 16385, 32768, 65535, 65536, 65537, 65536 + 256, 69999, 70000]
    sizes += [rng.randint(0, 70000) for _ in range(20)]
    return sizes


def scenario_pushpull(seed):
    rng = random.Random(seed)
    ctx = make_ctx()
    pull = setup(ctx.socket(zmq.PULL))
    pull.bind("tcp://%s:%d" % (HOST, PORT))
    push = setup(ctx.socket(zmq.PUSH))
    push.connect("tcp://%s:%d" % (HOST, PORT))
    sent = []
    sizes = pushpull_sizes(rng)
    for n, size in enumerate(sizes):
        msg = [rng.randbytes(size)]
        if n % 10 == 9:
            # A few multipart messages: a short head frame then the body.
            msg = [b"part-%d" % n, msg[0]]
        push.send_multipart(msg)
        sent.append(msg)
        if n % 8 == 7:
            # Let some go one by one and some batch together.
            for _ in range(8):
                got = pull.recv_multipart()
                assert got == sent[len(sent) - 8 + _]
    done = len(sent) - len(sent) % 8
    for k in range(done, len(sent)):
        assert pull.recv_multipart() == sent[k]
    push.close()
    time.sleep(0.2)
    pull.close()
    ctx.term()
    sockets = {"client": "PUSH", "server": "PULL"}
    summary = {"messages": describe(sent, "PUSH", "PULL")}
    summary["messages"]["body_sizes_in_order"] = sizes
    return [{"c2s": sent, "s2c": []}], sockets, summary


def describe(msgs, sender, receiver, note=None):
    parts = {}
    for m in msgs:
        parts[str(len(m))] = parts.get(str(len(m)), 0) + 1
    frame_sizes = [len(f) for m in msgs for f in m]
    out = {
        "sender": sender,
        "receiver": receiver,
        "count": len(msgs),
        "by_frame_count": parts,
        "frames": len(frame_sizes),
        "frame_bytes": sum(frame_sizes),
        "frame_size_min": min(frame_sizes),
        "frame_size_max": max(frame_sizes),
        "frame_sizes": [[len(f) for f in m] for m in msgs],
        "sha256_of_messages": digest([digest(m).encode() for m in msgs]),
    }
    if note:
        out["note"] = note
    return out


def record_small(name, scenario, stem, seed):
    pcap = os.path.join(SMALL_DIR, stem + ".pcap")
    bpf = "tcp and host %s and port %d" % (HOST, PORT)
    dump = Tcpdump(pcap, bpf, buffer_kib=8192, settle=2.0)
    dump.start()
    t0 = time.time()
    expected, sockets, summary = scenario(seed)
    elapsed = time.time() - t0
    stats = dump.stop()
    conns = tcp_streams(pcap)
    if len(conns) != len(expected):
        raise SystemExit("%s: %d connections captured, expected %d" % (name, len(conns), len(expected)))
    out_conns = []
    for conn, want in zip(conns, expected):
        if not conn.done():
            raise SystemExit("%s: %s did not close" % (name, conn.label))
        entry = {
            "conn": conn.label,
            "client": "%s:%d" % conn.client,
            "server": "%s:%d" % conn.server,
            "client_socket": sockets["client"],
            "server_socket": sockets["server"],
            "closed": "reset" if conn.rst else "fin",
        }
        for dname, d in conn.dirs.items():
            greeting, commands, messages = zmtp_decode(d.buf)
            if messages != want[dname]:
                raise SystemExit(
                    "%s: %s %s: %d messages on the wire, %d sent, or different bytes"
                    % (name, conn.label, dname, len(messages), len(want[dname]))
                )
            entry[dname] = {
                "bytes": len(d.buf),
                "sha256": hashlib.sha256(d.buf).hexdigest(),
                "segments": d.segments,
                "duplicate_segments": d.duplicates,
                "fin": d.fin,
                "zmtp_version": greeting["version"],
                "mechanism": greeting["mechanism"],
                "commands": commands,
                "messages": len(messages),
            }
        out_conns.append(entry)
    truth = {
        "scenario": name,
        "pcap": os.path.basename(pcap),
        "generated_by": "captures/tools/record_libzmq.py %s (seed %d)" % (name, seed),
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "python": sys.version.split()[0],
        "tcpdump_command": dump.command(),
        "tcpdump": stats,
        "scenario_seconds": round(elapsed, 3),
        "method": (
            "connections and per-direction byte counts/SHA-256 come from the "
            "script's own pcap reader (payload by sequence number from ISN+1, "
            "duplicates dropped); the decoded ZMTP messages of every direction "
            "were checked equal to the messages the sockets sent"
        ),
        "connections": out_conns,
        "sent": summary,
    }
    path = os.path.join(SMALL_DIR, stem + ".truth.json")
    with open(path, "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    for c in out_conns:
        print("  %s c2s %d bytes, s2c %d bytes" % (c["conn"], c["c2s"]["bytes"], c["s2c"]["bytes"]))
    print("wrote %s and %s" % (os.path.relpath(pcap, REPO), os.path.relpath(path, REPO)), flush=True)


def scenario_big(pcap_path, target_mb, time_limit, seed):
    """RPC from 4 dealers, PUB -> 2 SUBs, 64 KiB PUSH -> PULL, interleaved,
    until the capture file reaches `target_mb` MB or `time_limit` seconds."""
    rng = random.Random(seed)
    ctx = make_ctx()
    router = setup(ctx.socket(zmq.ROUTER))
    router.bind("tcp://%s:%d" % (HOST, 9501))
    dealers = []
    for k in range(4):
        d = setup(ctx.socket(zmq.DEALER))
        d.setsockopt(zmq.ROUTING_ID, b"compute-%02d" % k)
        d.connect("tcp://%s:%d" % (HOST, 9501))
        dealers.append(d)
    pub = setup(ctx.socket(zmq.PUB))
    pub.bind("tcp://%s:%d" % (HOST, 9502))
    subs = []
    for _ in range(2):
        s = setup(ctx.socket(zmq.SUB))
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect("tcp://%s:%d" % (HOST, 9502))
        subs.append(s)
    pull = setup(ctx.socket(zmq.PULL))
    pull.bind("tcp://%s:%d" % (HOST, 9503))
    push = setup(ctx.socket(zmq.PUSH))
    push.connect("tcp://%s:%d" % (HOST, 9503))
    time.sleep(0.5)  # subscriptions reach the PUB

    # Pools of pre-built bodies: generating JSON per message would make
    # Python the bottleneck.
    requests = [json_body(rng, "request", i, rng.randint(30, 300)) for i in range(4096)]
    replies = [json_body(rng, "reply", i, rng.randint(30, 300)) for i in range(4096)]
    env_parts = [rng.randbytes(rng.randint(100, 800)) for _ in range(512)]
    notifications = [json_body(rng, "request", i, rng.randint(100, 1200)) for i in range(1024)]
    bulk = [rng.randbytes(65536) for _ in range(8)]

    counts = {"rpc_requests": 0, "rpc_envelopes": 0, "rpc_replies": 0,
              "pub_messages": 0, "sub_received": 0, "push_messages": 0}
    payload = {"rpc": 0, "pub": 0, "push": 0}
    n_push_total = 300
    target = target_mb * 1_000_000
    t0 = time.time()
    rounds = 0
    window = 32
    while True:
        size = os.path.getsize(pcap_path) if os.path.exists(pcap_path) else 0
        if size >= target or time.time() - t0 > time_limit:
            break
        rounds += 1
        # RPC: each dealer sends a window of requests ...
        for d in dealers:
            for _ in range(window):
                i = counts["rpc_requests"]
                body = requests[i % 4096]
                if rng.random() < 0.10:
                    msg = [b"", env_parts[rng.randrange(512)], env_parts[rng.randrange(512)], body]
                    counts["rpc_envelopes"] += 1
                else:
                    msg = [b"", body]
                d.send_multipart(msg)
                counts["rpc_requests"] += 1
                payload["rpc"] += sum(len(f) for f in msg)
        # ... the router answers each ...
        for _ in range(window * len(dealers)):
            frames = router.recv_multipart()
            reply = replies[counts["rpc_replies"] % 4096]
            if len(frames) == 5:
                out = [frames[0], b"", b"reply", frames[3][:12], reply]
            else:
                out = [frames[0], b"", reply]
            router.send_multipart(out)
            counts["rpc_replies"] += 1
            payload["rpc"] += sum(len(f) for f in out[1:])
        # ... and the dealers read the replies.
        for d in dealers:
            for _ in range(window):
                d.recv_multipart()
        # PUB fan-out every round, PUSH bulk every few rounds.
        for _ in range(16):
            body = notifications[counts["pub_messages"] % 1024]
            pub.send_multipart([b"notifications.info", body])
            counts["pub_messages"] += 1
            payload["pub"] += 2 * (18 + len(body))
        for s in subs:
            for _ in range(16):
                s.recv_multipart()
                counts["sub_received"] += 1
        if counts["push_messages"] < n_push_total and rounds % 8 == 0:
            push.send(bulk[counts["push_messages"] % 8])
            counts["push_messages"] += 1
            payload["push"] += 65536
            pull.recv()
        if rounds % 64 == 0:
            time.sleep(0.002)  # brief idle moments, as real traffic has
    # Whatever bulk messages are still due.
    while counts["push_messages"] < n_push_total:
        push.send(bulk[counts["push_messages"] % 8])
        counts["push_messages"] += 1
        payload["push"] += 65536
        pull.recv()
    elapsed = time.time() - t0
    for s in dealers + subs + [push]:
        s.close()
    time.sleep(0.2)
    for s in (router, pub, pull):
        s.close()
    ctx.term()
    return counts, payload, elapsed


def record_big(args):
    pcap = os.path.join(BENCH_DIR, "big.pcap")
    bpf = "tcp and host %s and portrange 9501-9503" % HOST
    dump = Tcpdump(pcap, bpf, buffer_kib=65536, settle=2.0)
    dump.start()
    counts, payload, elapsed = scenario_big(pcap, args.big_mb, args.big_seconds, args.seed)
    stats = dump.stop()
    size = os.path.getsize(pcap)
    packets, first, last = pcap_overview(pcap)
    info = {
        "pcap": os.path.relpath(pcap, REPO),
        "bytes": size,
        "packets": packets,
        "duration_seconds": round(last - first, 6),
        "generation_seconds": round(elapsed, 3),
        "messages": counts,
        "zmtp_payload_bytes": payload,
        "tcpdump": stats,
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
    }
    with open(os.path.join(BENCH_DIR, "big.info.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print(json.dumps(info, indent=1))
    if packets != stats.get("captured"):
        raise SystemExit("pcap holds %d packets, tcpdump says %s" % (packets, stats.get("captured")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                    help="rpc, pushpull or big (default: rpc pushpull)")
    ap.add_argument("--seed", type=int, default=20240501)
    ap.add_argument("--big-mb", type=int, default=200, help="size of bench-data/big.pcap in MB (default 200)")
    ap.add_argument("--big-seconds", type=float, default=90, help="time limit for the big scenario's traffic")
    args = ap.parse_args()
    args.scenarios = args.scenarios or ["rpc", "pushpull"]
    for name in args.scenarios:
        if name not in ("rpc", "pushpull", "big"):
            ap.error("unknown scenario %r (rpc, pushpull, big)" % name)
    if os.geteuid() != 0:
        raise SystemExit("run as root (tcpdump)")
    for name in args.scenarios:
        print("== %s" % name, flush=True)
        if name == "rpc":
            record_small(name, scenario_rpc, "dealer_router_rpc", args.seed)
        elif name == "pushpull":
            record_small(name, scenario_pushpull, "push_pull_sizes", args.seed)
        else:
            record_big(args)


if __name__ == "__main__":
    main()
