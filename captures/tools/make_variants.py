#!/usr/bin/env python3
"""Derive pathological capture variants from the clean reference captures.

    python3 captures/tools/make_variants.py

reads captures/reference/*.pcap and (re)writes captures/variants/: for each
variant the capture plus NAME.expect.json, the exact byte streams the TCP
reassembler must produce (per connection and direction, as runs
`data OFF LEN SHA256` / `gap OFF LEN`, the format of `Stream::describe` in
tests/common/mod.rs). tests/variants.rs checks the reassembler against them.

How the expectations are made. The reference captures are clean loopback
captures: every direction's bytes are in order, each exactly once, between
the SYN and the FIN. So the clean stream of a direction is the payloads
placed at `seq - (ISN + 1)`. Each variant transforms the packets, and its
expected runs are computed from the clean stream in sequence space (which
byte ranges a dropped segment, the snapshot length or a midstream start
removes, which bytes a conflicting copy replaces). Then, as a check on the
packet writers, the written file is read back with an independent reader and
a small model of the reassembly contract (first copy of a byte in capture
order wins; bytes never captured below the FIN are a gap), and the two must
agree, or the script stops.

Deterministic: standard library only, `random.Random` with fixed seeds, and
only `Random.random()` is used (its sequence is stable across Python
versions); gzip is written with mtime 0.
"""

import gzip
import hashlib
import json
import os
import random
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REF = os.path.join(ROOT, "captures", "reference")
OUT = os.path.join(ROOT, "captures", "variants")

LINK_ETHERNET = 1
LINK_SLL = 113
LINK_SLL2 = 276

# TcpConfig::default().server_ports: the server side of a midstream connection.
SERVER_PORTS = {9501}

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

NS = 1_000_000_000


# --------------------------------------------------------------------------
# Checksums


def ones_sum(data):
    if len(data) % 2:
        data = data + b"\0"
    total = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum(data):
    return (~ones_sum(data)) & 0xFFFF


# --------------------------------------------------------------------------
# Packets


class Pkt:
    """One captured IPv4/TCP packet: link header, IP header, TCP header,
    payload, and the frame as it is written (`raw`). `snap` is the number of
    bytes the capture keeps (None: all); `iface` the pcapng interface.
    Annotations from `analyze`: `dir` ("c2s"/"s2c") and `off` (the stream
    offset of the first payload byte)."""

    __slots__ = ("ts", "link", "l2", "ip", "tcp", "payload", "raw", "snap",
                 "iface", "dir", "off", "conn")

    def __init__(self, ts, link, raw):
        self.ts = ts
        self.link = link
        self.raw = raw
        self.snap = None
        self.iface = 0
        self.dir = None
        self.off = None
        self.conn = None
        if link == LINK_ETHERNET:
            l2len, ethertype = 14, struct.unpack(">H", raw[12:14])[0]
        elif link == LINK_SLL2:
            l2len, ethertype = 20, struct.unpack(">H", raw[0:2])[0]
        elif link == LINK_SLL:
            l2len, ethertype = 16, struct.unpack(">H", raw[14:16])[0]
        else:
            raise ValueError("link type %d" % link)
        if ethertype != 0x0800:
            raise ValueError("not IPv4")
        ip = raw[l2len:]
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if l2len + total != len(raw):
            raise ValueError("frame with trailer")
        thl = (ip[ihl + 12] >> 4) * 4
        self.l2 = raw[:l2len]
        self.ip = ip[:ihl]
        self.tcp = ip[ihl:ihl + thl]
        self.payload = ip[ihl + thl:total]

    @property
    def sport(self):
        return struct.unpack(">H", self.tcp[0:2])[0]

    @property
    def dport(self):
        return struct.unpack(">H", self.tcp[2:4])[0]

    @property
    def seq(self):
        return struct.unpack(">I", self.tcp[4:8])[0]

    @property
    def ack(self):
        return struct.unpack(">I", self.tcp[8:12])[0]

    @property
    def flags(self):
        return self.tcp[13]

    @property
    def src(self):
        return "%d.%d.%d.%d:%d" % (*self.ip[12:16], self.sport)

    @property
    def dst(self):
        return "%d.%d.%d.%d:%d" % (*self.ip[16:20], self.dport)

    def headers_len(self):
        return len(self.l2) + len(self.ip) + len(self.tcp)

    def copy(self):
        other = Pkt.__new__(Pkt)
        for name in Pkt.__slots__:
            setattr(other, name, getattr(self, name))
        return other

    def derive(self, seq=None, ack=None, flags=None, payload=None):
        """A new packet with some TCP fields or the payload replaced; IP total
        length, IPv4 header checksum and TCP checksum are recomputed."""
        other = self.copy()
        payload = self.payload if payload is None else payload
        tcp = bytearray(self.tcp)
        if seq is not None:
            tcp[4:8] = struct.pack(">I", seq & 0xFFFFFFFF)
        if ack is not None:
            tcp[8:12] = struct.pack(">I", ack & 0xFFFFFFFF)
        if flags is not None:
            tcp[13] = flags
        ip = bytearray(self.ip)
        ip[2:4] = struct.pack(">H", len(ip) + len(tcp) + len(payload))
        ip[10:12] = b"\0\0"
        ip[10:12] = struct.pack(">H", checksum(bytes(ip)))
        tcp[16:18] = b"\0\0"
        pseudo = bytes(ip[12:20]) + struct.pack(">BBH", 0, 6, len(tcp) + len(payload))
        tcp[16:18] = struct.pack(">H", checksum(pseudo + bytes(tcp) + payload))
        other.ip = bytes(ip)
        other.tcp = bytes(tcp)
        other.payload = bytes(payload)
        other.raw = other.l2 + other.ip + other.tcp + other.payload
        return other

    def relink(self, l2):
        """The same packet behind a different link-layer header."""
        other = self.copy()
        other.raw = l2 + self.raw[len(self.l2):]
        other.l2 = l2
        return other


# --------------------------------------------------------------------------
# Reading and writing capture files


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", data[:24])
    if magic != 0xA1B2C3D4:
        raise ValueError("%s: expected a little-endian microsecond pcap" % path)
    pkts = []
    pos = 24
    while pos < len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[pos:pos + 16])
        if incl != orig:
            raise ValueError("%s: reference packets are never truncated" % path)
        pkts.append(Pkt(sec * NS + usec * 1000, link, data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return pkts


def pcap_bytes(pkts, link, snaplen=262144, nsec=False):
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = [struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, link)]
    for p in pkts:
        assert p.link == link
        frac = p.ts % NS if nsec else (p.ts % NS) // 1000
        if not nsec:
            assert p.ts % 1000 == 0
        data = p.raw if p.snap is None else p.raw[:p.snap]
        out.append(struct.pack("<IIII", p.ts // NS, frac, len(data), len(p.raw)))
        out.append(data)
    return b"".join(out)


def pcapng_block(kind, body):
    assert len(body) % 4 == 0
    total = len(body) + 12
    return struct.pack("<II", kind, total) + body + struct.pack("<I", total)


def pcapng_bytes(interfaces, pkts):
    """interfaces: [(link, if_tsresol as a power of ten)]; each packet's
    `iface` names one."""
    out = [pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for link, tsresol in interfaces:
        options = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HH", 0, 0)
        out.append(pcapng_block(1, struct.pack("<HHI", link, 0, 262144) + options))
    for p in pkts:
        link, tsresol = interfaces[p.iface]
        assert p.link == link
        unit = 10 ** (9 - tsresol)
        assert p.ts % unit == 0
        ticks = p.ts // unit
        data = p.raw if p.snap is None else p.raw[:p.snap]
        pad = b"\0" * (-len(data) % 4)
        body = struct.pack("<IIIII", p.iface, ticks >> 32, ticks & 0xFFFFFFFF,
                           len(data), len(p.raw)) + data + pad
        out.append(pcapng_block(6, body))
    return b"".join(out)


# --------------------------------------------------------------------------
# The clean base: connections and their streams


class Dir:
    """One direction of a clean connection."""

    def __init__(self):
        self.base = None  # sequence number of stream offset 0 (ISN + 1)
        self.data = bytearray()
        self.fin = None  # stream offset of the FIN
        self.segs = []  # data packets, in capture order (= sequence order)


class Conn:
    def __init__(self, client, server):
        self.client = client
        self.server = server
        self.dirs = {"c2s": Dir(), "s2c": Dir()}

    @property
    def label(self):
        return "%s>%s" % (self.client, self.server)


def rel(seq, base):
    """seq - base as a signed 32-bit difference."""
    d = (seq - base) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d


def analyze(pkts):
    """The connections of a clean reference capture. Annotates every packet
    with its connection, direction and stream offset, and checks the capture
    is clean: handshake first, bytes in order exactly once, FIN last."""
    conns = {}
    order = []
    for p in pkts:
        key = frozenset((p.src, p.dst))
        conn = conns.get(key)
        if conn is None:
            assert p.flags & (SYN | ACK) == SYN, "clean capture starts with a SYN"
            conn = conns[key] = Conn(p.src, p.dst)
            order.append(conn)
        p.conn = conn
        p.dir = "c2s" if p.src == conn.client else "s2c"
        d = conn.dirs[p.dir]
        if p.flags & SYN:
            assert d.base is None
            d.base = (p.seq + 1) & 0xFFFFFFFF
            p.off = 0
            continue
        p.off = rel(p.seq, d.base)
        if p.payload:
            assert d.fin is None and p.off == len(d.data), "clean capture in order"
            d.data += p.payload
            d.segs.append(p)
        if p.flags & FIN:
            assert d.fin is None
            d.fin = p.off + len(p.payload)
            assert d.fin == len(d.data)
    for conn in order:
        for d in conn.dirs.values():
            assert d.base is not None and d.fin is not None, "clean capture has both FINs"
    return order


# --------------------------------------------------------------------------
# Expected runs


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def runs_of(buf, state):
    """Runs of a stream: `state` has 1 for a data byte, anything else for a
    missing one; adjacent runs of one kind are merged."""
    runs = []
    for m in re.finditer(rb"\x01+|[^\x01]+", bytes(state)):
        a, b = m.span()
        if state[a] == 1:
            runs.append("data %d %d %s" % (a, b - a, sha256(bytes(buf[a:b]))))
        else:
            runs.append("gap %d %d" % (a, b - a))
    return runs


def expect_runs(data, start=0, end=None, gaps=(), overrides=()):
    """The runs of clean stream `data` seen from offset `start` (a midstream
    start) to `end`, with the byte ranges `gaps` ((offset, length), clean
    offsets) missing and `overrides` ((offset, bytes)) replacing bytes."""
    end = len(data) if end is None else end
    buf = bytearray(data[start:end])
    state = bytearray(b"\x01") * len(buf)
    for off, new in overrides:
        buf[off - start:off - start + len(new)] = new
    for off, n in gaps:
        a, b = max(off, start) - start, min(off + n, end) - start
        if a < b:
            state[a:b] = b"\x02" * (b - a)
    return runs_of(buf, state)


def conn_expect(conn, c2s, s2c, midstream=False, flipped=False, closed="fin"):
    return {
        "label": conn.label,
        "midstream": midstream,
        "flipped": flipped,
        "closed": closed,
        "c2s": c2s,
        "s2c": s2c,
    }


def full(conn, **flags):
    return conn_expect(conn, expect_runs(conn.dirs["c2s"].data),
                       expect_runs(conn.dirs["s2c"].data), **flags)


def with_gaps(conn, gaps):
    """gaps: {dir: [(off, len)]}"""
    return conn_expect(conn, *(expect_runs(conn.dirs[d].data, gaps=gaps.get(d, ()))
                               for d in ("c2s", "s2c")))


# --------------------------------------------------------------------------
# Independent check: read the written file back and model the reassembly


def read_any(path):
    """(ts_ns, link, data, orig_len) of every packet of a pcap (µs or ns,
    either byte order), pcapng or gzip-compressed file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    magic = data[:4]
    recs = []
    if magic == b"\x0a\x0d\x0d\x0a":
        pos = 0
        ifaces = []
        while pos < len(data):
            kind, total = struct.unpack("<II", data[pos:pos + 8])
            body = data[pos + 8:pos + total - 4]
            assert struct.unpack("<I", data[pos + total - 4:pos + total])[0] == total
            if kind == 0x0A0D0D0A:
                assert body[:4] == struct.pack("<I", 0x1A2B3C4D)
                ifaces = []
            elif kind == 1:
                link = struct.unpack("<H", body[:2])[0]
                res = 6
                opos = 8
                while opos + 4 <= len(body):
                    code, olen = struct.unpack("<HH", body[opos:opos + 4])
                    if code == 0:
                        break
                    if code == 9:
                        res = body[opos + 4]
                    opos += 4 + olen + (-olen % 4)
                assert res < 128
                ifaces.append((link, 10 ** res))
            elif kind == 6:
                if_id, hi, lo, caplen, orig = struct.unpack("<IIIII", body[:20])
                link, per_sec = ifaces[if_id]
                ticks = (hi << 32) | lo
                recs.append((ticks * NS // per_sec, link, body[20:20 + caplen], orig))
            pos += total
        return recs
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError("%s: not a capture" % path)
    nsec = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack(endian + "I", data[20:24])[0]
    pos = 24
    while pos < len(data):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", data[pos:pos + 16])
        ts = sec * NS + (frac if nsec else frac * 1000)
        recs.append((ts, link, data[pos + 16:pos + 16 + incl], orig))
        pos += 16 + incl
    return recs


def slice_tcp(link, data):
    """src, dst, seq, ack, flags, captured payload, payload length on the
    wire (from the IP total length)."""
    if link == LINK_ETHERNET:
        ethertype, pos = struct.unpack(">H", data[12:14])[0], 14
        while ethertype in (0x8100, 0x88A8):
            ethertype, pos = struct.unpack(">H", data[pos + 2:pos + 4])[0], pos + 4
    elif link == LINK_SLL2:
        ethertype, pos = struct.unpack(">H", data[0:2])[0], 20
    elif link == LINK_SLL:
        ethertype, pos = struct.unpack(">H", data[14:16])[0], 16
    else:
        raise ValueError(link)
    assert ethertype == 0x0800
    ip = data[pos:]
    ihl = (ip[0] & 15) * 4
    assert ip[9] == 6
    total = struct.unpack(">H", ip[2:4])[0]
    tcp = ip[ihl:total]
    sport, dport, seq, ack, offs, flags = struct.unpack(">HHIIBB", tcp[:14])
    thl = (offs >> 4) * 4
    src = "%d.%d.%d.%d:%d" % (*ip[12:16], sport)
    dst = "%d.%d.%d.%d:%d" % (*ip[16:20], dport)
    return src, dst, seq, ack, flags, tcp[thl:], total - ihl - thl


class ModelDir:
    def __init__(self):
        self.base = None
        self.buf = bytearray()
        self.state = bytearray()  # 0 unknown, 1 data, 2 cut by the snapshot length
        self.fin = None

    def put(self, off, captured, wire_len):
        end = off + wire_len
        if end > len(self.state):
            grow = end - len(self.state)
            self.state += bytes(grow)
            self.buf += bytes(grow)
        a = max(off, 0)
        if a >= end:
            return
        if self.state.count(0, a, end) == end - a:
            # Nothing of it seen before (the usual case).
            cap_end = min(end, off + len(captured))
            if a < cap_end:
                self.buf[a:cap_end] = captured[a - off:cap_end - off]
                self.state[a:cap_end] = b"\x01" * (cap_end - a)
            if max(a, cap_end) < end:
                b = max(a, cap_end)
                self.state[b:end] = b"\x02" * (end - b)
            return
        for pos in range(a, end):
            if self.state[pos] == 0:
                if pos - off < len(captured):
                    self.buf[pos] = captured[pos - off]
                    self.state[pos] = 1
                else:
                    self.state[pos] = 2


class ModelConn:
    def __init__(self, client, server, midstream, flipped):
        self.client = client
        self.server = server
        self.midstream = midstream
        self.flipped = flipped
        self.dirs = {"c2s": ModelDir(), "s2c": ModelDir()}

    def closed(self):
        return all(d.fin is not None for d in self.dirs.values())


def model(path):
    """The contract applied to a capture file: connection list in order of
    appearance, each with its flags and runs per direction."""
    live = {}
    conns = []
    for _, link, data, _orig in read_any(path):
        src, dst, seq, ack, flags, captured, wire_len = slice_tcp(link, data)
        key = frozenset((src, dst))
        conn = live.get(key)
        syn_only = flags & (SYN | ACK) == SYN
        if conn is not None and syn_only:
            d = conn.dirs["c2s" if src == conn.client else "s2c"]
            if conn.closed() or d.base != (seq + 1) & 0xFFFFFFFF:
                conn = None  # port reuse
        if conn is None:
            if syn_only:
                conn = ModelConn(src, dst, False, False)
            elif flags & SYN:
                conn = ModelConn(dst, src, False, True)
            else:
                sport, dport = int(src.rsplit(":", 1)[1]), int(dst.rsplit(":", 1)[1])
                if (sport in SERVER_PORTS) != (dport in SERVER_PORTS):
                    dst_is_server = dport in SERVER_PORTS
                else:
                    dst_is_server = dport <= sport
                client, server = (src, dst) if dst_is_server else (dst, src)
                conn = ModelConn(client, server, True, False)
            live[key] = conn
            conns.append(conn)
        dname = "c2s" if src == conn.client else "s2c"
        d = conn.dirs[dname]
        peer = conn.dirs["s2c" if dname == "c2s" else "c2s"]
        if conn.closed():
            continue
        if flags & SYN and flags & ACK and peer.base is None:
            peer.base = ack
        data_seq = seq
        if flags & SYN:
            data_seq = (seq + 1) & 0xFFFFFFFF
            if d.base is None:
                d.base = data_seq
        if d.base is None and (wire_len > 0 or flags & FIN):
            d.base = data_seq
        if d.base is None:
            continue
        off = rel(data_seq, d.base)
        if wire_len:
            d.put(off, captured, wire_len)
        if flags & FIN and d.fin is None:
            d.fin = off + wire_len
    out = []
    for conn in conns:
        entry = {
            "label": "%s>%s" % (conn.client, conn.server),
            "midstream": conn.midstream,
            "flipped": conn.flipped,
            "closed": "fin" if conn.closed() else "open",
        }
        for dname, d in conn.dirs.items():
            assert d.fin is not None
            assert not any(d.state[d.fin:]), "bytes beyond the FIN"
            entry[dname] = runs_of(d.buf[:d.fin], d.state[:d.fin])
        out.append(entry)
    return out


# --------------------------------------------------------------------------
# Helpers for transformations


def pick(rng, items, count):
    """`count` items chosen with `rng.random()` only, in the order drawn."""
    items = list(items)
    chosen = []
    for _ in range(min(count, len(items))):
        i = int(rng.random() * len(items))
        chosen.append(items.pop(i))
    return chosen


def peer_acks_ok(pkts, i, j, p):
    """No packet of the peer strictly between positions i and j acknowledges
    any byte of data packet p, so moving p from i to j delays it without a
    peer ACK declaring it lost first."""
    d = p.conn.dirs[p.dir]
    for q in pkts[i + 1:j]:
        if q.conn is p.conn and q.dir != p.dir and q.flags & ACK:
            if rel(q.ack, d.base) > p.off:
                return False
    return True


def data_positions(pkts):
    """Per (connection, direction): positions of its data packets, in order."""
    out = {}
    for i, p in enumerate(pkts):
        if p.payload:
            out.setdefault((id(p.conn), p.dir), []).append(i)
    return out


def fin_position(pkts):
    return min(i for i, p in enumerate(pkts) if p.flags & FIN)


def apply(pkts, drops=(), swaps=(), inserts=()):
    """Drop positions, swap pairs of positions (each packet takes the other's
    timestamp, so time still runs forward) and insert packets after
    positions (with the timestamp of the packet they follow)."""
    drops = set(drops)
    slots = list(pkts)
    for i, j in swaps:
        a, b = slots[i].copy(), slots[j].copy()
        a.ts, b.ts = pkts[j].ts, pkts[i].ts
        slots[i], slots[j] = b, a
    after = {}
    for pos, p in inserts:
        q = p.copy()
        q.ts = pkts[pos].ts
        after.setdefault(pos, []).append(q)
    out = []
    for i, p in enumerate(slots):
        if i not in drops:
            out.append(p)
        out.extend(after.get(i, ()))
    return out


def resegment(pkts, mss):
    """Split every segment carrying more than `mss` payload bytes into pieces
    of at most `mss`; PSH and FIN stay on the last piece."""
    out = []
    for p in pkts:
        if len(p.payload) <= mss:
            out.append(p)
            continue
        n = len(p.payload)
        for a in range(0, n, mss):
            last = a + mss >= n
            flags = p.flags if last else p.flags & ~(PSH | FIN)
            q = p.derive(seq=p.seq + a, flags=flags, payload=p.payload[a:a + mss])
            q.off = p.off + a
            out.append(q)
    return out


# --------------------------------------------------------------------------
# Variants


class Variant:
    def __init__(self, name, base, transformation, exercises):
        self.name = name
        self.base = base
        self.transformation = transformation
        self.exercises = exercises
        self.capture = None
        self.connections = None
        self.notes = []
        # Lower bounds on the reassembler's direction counters (DirStats),
        # summed over all connections and directions: proof the variant
        # really takes the path it is meant to exercise.
        self.counters = {}


def load(name):
    pkts = read_pcap(os.path.join(REF, name + ".pcap"))
    conns = analyze(pkts)
    return pkts, conns


def write_pcap_variant(v, pkts, link, **kw):
    v.capture = v.name + ".pcap"
    with open(os.path.join(OUT, v.capture), "wb") as f:
        f.write(pcap_bytes(pkts, link, **kw))


def v01_reordered():
    v = Variant("v01_reordered", ["s15_longlived_rpc"],
                "About 5% of the data segments swapped with the next data segment "
                "of the same direction (each keeps its slot's timestamp), only "
                "where no ACK of the peer in between acknowledges the delayed one.",
                "Out-of-order queueing and draining; no gap may appear.")
    pkts, conns = load("s15_longlived_rpc")
    rng = random.Random(101)
    candidates = []
    for positions in data_positions(pkts).values():
        for a, b in zip(positions, positions[1:]):
            if peer_acks_ok(pkts, a, b, pkts[a]):
                candidates.append((a, b))
    ndata = sum(1 for p in pkts if p.payload)
    swaps, used = [], set()
    for a, b in pick(rng, candidates, len(candidates)):
        if len(swaps) >= round(0.05 * ndata) // 2 + 1:
            break
        if a in used or b in used:
            continue
        used.update((a, b))
        swaps.append((a, b))
    out = apply(pkts, swaps=swaps)
    v.counters = {"out_of_order": len(swaps)}
    v.notes.append("%d of %d data segments moved (%d swapped pairs out of %d eligible)"
                   % (2 * len(swaps), ndata, len(swaps), len(candidates)))
    write_pcap_variant(v, out, LINK_ETHERNET)
    v.connections = [full(c) for c in conns]
    return v


def v02_duplicated():
    v = Variant("v02_duplicated", ["s15_longlived_rpc"],
                "About 5% of the data segments sent again 1-20 packets later; "
                "and 6 coalesced retransmissions: two consecutive data segments "
                "of one direction merged into one packet, sent again 1-20 "
                "packets after the second. All before the first FIN.",
                "Duplicate and overlapping retransmissions of delivered bytes "
                "are dropped (first copy wins); full streams, no gaps.")
    pkts, conns = load("s15_longlived_rpc")
    rng = random.Random(102)
    limit = fin_position(pkts) - 1
    data = [i for i, p in enumerate(pkts) if p.payload and i < limit]
    inserts = []
    for i in pick(rng, data, round(0.05 * len(data))):
        inserts.append((min(limit, i + 1 + int(rng.random() * 20)), pkts[i]))
    pairs = []
    for positions in data_positions(pkts).values():
        for a, b in zip(positions, positions[1:]):
            if b < limit and len(pkts[a].payload) + len(pkts[b].payload) <= 16000:
                pairs.append((a, b))
    coalesced = pick(rng, pairs, 6)
    for a, b in coalesced:
        pa, pb = pkts[a], pkts[b]
        merged = pb.derive(seq=pa.seq, payload=pa.payload + pb.payload)
        inserts.append((min(limit, b + 1 + int(rng.random() * 20)), merged))
    out = apply(pkts, inserts=inserts)
    v.counters = {"retransmitted": len(inserts)}
    v.notes.append("%d exact duplicates, %d coalesced retransmissions"
                   % (len(inserts) - len(coalesced), len(coalesced)))
    write_pcap_variant(v, out, LINK_ETHERNET)
    v.connections = [full(c) for c in conns]
    return v


def lost_gaps(pkts, drops):
    gaps = {}
    for i in drops:
        p = pkts[i]
        gaps.setdefault(p.dir, []).append((p.off, len(p.payload)))
    return gaps


def v03_lost():
    v = Variant("v03_lost", ["s15_longlived_rpc"],
                "About 1% of the data segments removed (never a SYN, SYN-ACK or FIN).",
                "A hole revealed by later data, the peer's ACK or the FIN "
                "becomes a gap of exactly the missing size.")
    pkts, conns = load("s15_longlived_rpc")
    rng = random.Random(103)
    data = [i for i, p in enumerate(pkts) if p.payload]
    drops = pick(rng, data, max(5, round(0.01 * len(data))))
    out = apply(pkts, drops=drops)
    v.notes.append("%d of %d data segments dropped" % (len(drops), len(data)))
    write_pcap_variant(v, out, LINK_ETHERNET)
    v.connections = [with_gaps(conns[0], lost_gaps(pkts, drops))]
    return v


def v04_reordered_and_lost():
    v = Variant("v04_reordered_and_lost", ["s15_longlived_rpc"],
                "Reordering next to loss, over three consecutive data segments "
                "A B C of one direction: (1) A lost, C before B; (2) B lost, C "
                "before A; (3) B before A, C lost. Plus some lone swaps and "
                "losses. Swaps only where no peer ACK in between acknowledges "
                "the delayed segment.",
                "Holes that stay open while later bytes queue and earlier bytes "
                "arrive late: exact gaps for the lost segments, everything else "
                "present. The case the Wireshark Lua dissector gets wrong.")
    pkts, conns = load("s15_longlived_rpc")
    rng = random.Random(104)
    triples = {1: [], 2: [], 3: []}
    for positions in data_positions(pkts).values():
        for a, b, c in zip(positions, positions[1:], positions[2:]):
            if peer_acks_ok(pkts, b, c, pkts[b]):
                triples[1].append((a, b, c))
            if peer_acks_ok(pkts, a, c, pkts[a]):
                triples[2].append((a, b, c))
            if peer_acks_ok(pkts, a, b, pkts[a]):
                triples[3].append((a, b, c))
    used, drops, swaps = set(), [], []

    def free(*ps):
        return not any(q in used for p in ps for q in range(p - 1, p + 2))

    counts = {1: 0, 2: 0, 3: 0}
    for kind in (1, 2, 3):
        for a, b, c in pick(rng, triples[kind], len(triples[kind])):
            if counts[kind] >= 3:
                break
            if not free(a, b, c):
                continue
            used.update((a, b, c))
            counts[kind] += 1
            if kind == 1:
                drops.append(a)
                swaps.append((b, c))
            elif kind == 2:
                drops.append(b)
                swaps.append((a, c))
            else:
                swaps.append((a, b))
                drops.append(c)
    lone_swaps = lone_drops = 0
    pairs = [(a, b) for positions in data_positions(pkts).values()
             for a, b in zip(positions, positions[1:]) if peer_acks_ok(pkts, a, b, pkts[a])]
    for a, b in pick(rng, pairs, len(pairs)):
        if lone_swaps >= 8:
            break
        if free(a, b):
            used.update((a, b))
            swaps.append((a, b))
            lone_swaps += 1
    data = [i for i, p in enumerate(pkts) if p.payload]
    for i in pick(rng, data, len(data)):
        if lone_drops >= 5:
            break
        if free(i):
            used.add(i)
            drops.append(i)
            lone_drops += 1
    out = apply(pkts, drops=drops, swaps=swaps)
    v.counters = {"out_of_order": len(swaps)}
    v.notes.append("patterns (1) x%d, (2) x%d, (3) x%d (eligible %d/%d/%d); %d lone swaps, "
                   "%d lone losses" % (counts[1], counts[2], counts[3], len(triples[1]),
                                       len(triples[2]), len(triples[3]), lone_swaps,
                                       lone_drops))
    write_pcap_variant(v, out, LINK_ETHERNET)
    v.connections = [with_gaps(conns[0], lost_gaps(pkts, drops))]
    return v


def v05_snaplen96():
    v = Variant("v05_snaplen96", ["s15_longlived_rpc"],
                "Every packet's captured length cut to 96 bytes (original length "
                "kept, file snaplen 96): 30 payload bytes of each segment kept "
                "(Ethernet 14 + IPv4 20 + TCP 32 = 66 header bytes).",
                "Bytes a packet carried but the capture cut off become a gap of "
                "exactly that size (from the IP total length); each segment is "
                "data then gap.")
    pkts, conns = load("s15_longlived_rpc")
    gaps = {}
    for p in pkts:
        p.snap = min(96, len(p.raw))
        kept = max(0, p.snap - p.headers_len())
        if len(p.payload) > kept:
            gaps.setdefault(p.dir, []).append((p.off + kept, len(p.payload) - kept))
    v.counters = {"truncated": sum(len(g) for g in gaps.values())}
    write_pcap_variant(v, pkts, LINK_ETHERNET, snaplen=96)
    v.connections = [with_gaps(conns[0], gaps)]
    return v


def midstream_expect(conn, pkts, gaps=None):
    """Offset 0 of a direction: the first payload byte of its first data
    segment in capture order."""
    runs = {}
    for dname in ("c2s", "s2c"):
        d = conn.dirs[dname]
        first = next((p for p in pkts if p.conn is conn and p.dir == dname and p.payload), None)
        start = first.off if first is not None else d.fin
        runs[dname] = expect_runs(d.data, start=start, gaps=(gaps or {}).get(dname, ()))
    return conn_expect(conn, runs["c2s"], runs["s2c"], midstream=True)


def v06_midstream_cut():
    pkts, conns = load("s15_longlived_rpc")
    # About a third in, at the next server-to-client data segment.
    n = 500
    while not (pkts[n].payload and pkts[n].dir == "s2c"):
        n += 1
    v = Variant("v06_midstream_cut", ["s15_longlived_rpc"],
                "The first %d packets (handshake included) removed; the capture "
                "starts with a server-to-client data segment." % n,
                "Midstream pickup: client/server from the ports (lower port is the "
                "server), offset 0 of each direction at the first data byte seen; "
                "ACKs for bytes before that are ignored.")
    out = pkts[n:]
    write_pcap_variant(v, out, LINK_ETHERNET)
    v.connections = [midstream_expect(conns[0], out)]
    return v


def v07_reseg_mss536():
    v = Variant("v07_reseg_mss536", ["s01_push_pull_sizes"],
                "Every segment re-segmented so none carries more than 536 payload "
                "bytes (IP total length, IPv4 header checksum and TCP checksum "
                "recomputed; PSH on the last piece; pieces share the original "
                "timestamp).",
                "Many small in-order segments making up large ZMTP frames "
                "(up to 64 KiB segments originally); full streams.")
    pkts, conns = load("s01_push_pull_sizes")
    out = resegment(pkts, 536)
    v.notes.append("%d packets from %d" % (len(out), len(pkts)))
    write_pcap_variant(v, out, LINK_ETHERNET)
    v.connections = [full(c) for c in conns]
    return v


def v08_reseg_midstream_lost():
    v = Variant("v08_reseg_midstream_lost", ["s12_burst10k"],
                "Re-segmented to MSS 1448, then the packets before the middle of "
                "the first 59 KB client segment removed (the capture starts with "
                "a piece from the middle of that segment), then about 1% of the "
                "remaining data segments dropped (not the first data segment of "
                "either direction).",
                "Midstream start inside a large write, plus exact gaps, at "
                "Ethernet-MTU segment sizes.")
    pkts, conns = load("s12_burst10k")
    big = next(i for i, p in enumerate(pkts) if len(p.payload) > 50000 and p.dir == "c2s")
    reseg = resegment(pkts, 1448)
    # The piece in the middle of the big segment.
    first_piece = next(i for i, q in enumerate(reseg) if q.off == pkts[big].off)
    cut = first_piece + (len(pkts[big].payload) // 1448) // 2
    out = reseg[cut:]
    rng = random.Random(108)
    firsts = set()
    for dname in ("c2s", "s2c"):
        firsts.add(next((i for i, q in enumerate(out) if q.payload and q.dir == dname), None))
    data = [i for i, q in enumerate(out) if q.payload and i not in firsts]
    drops = pick(rng, data, max(5, round(0.01 * len(data))))
    final = apply(out, drops=drops)
    v.notes.append("%d packets cut, %d of %d data segments dropped"
                   % (cut, len(drops), len(data) + len(firsts - {None})))
    write_pcap_variant(v, final, LINK_ETHERNET)
    v.connections = [midstream_expect(conns[0], final, lost_gaps(out, drops))]
    return v


def v09_gzip():
    v = Variant("v09_gzip", ["s02_req_rep"],
                "The capture gzip-compressed (.pcap.gz, mtime 0).",
                "Transparent gzip decompression of the input.")
    pkts, conns = load("s02_req_rep")
    v.capture = v.name + ".pcap.gz"
    with open(os.path.join(OUT, v.capture), "wb") as f:
        f.write(gzip.compress(pcap_bytes(pkts, LINK_ETHERNET), compresslevel=9, mtime=0))
    v.connections = [full(c) for c in conns]
    return v


def v10_nsec():
    v = Variant("v10_nsec", ["s13_concurrent"],
                "Rewritten as a nanosecond pcap (magic a1b23c4d, little-endian "
                "bytes 4d 3c b2 a1); each timestamp gets a sub-microsecond part "
                "(packet index x 7 mod 1000 ns, kept increasing).",
                "The nanosecond pcap format; six concurrent connections.")
    pkts, conns = load("s13_concurrent")
    last = -1
    for i, p in enumerate(pkts):
        p.ts = max(last + 1, p.ts + (i * 7) % 1000)
        last = p.ts
    write_pcap_variant(v, pkts, LINK_ETHERNET, nsec=True)
    v.connections = [full(c) for c in conns]
    return v


def v11_pcapng_two_links():
    v = Variant("v11_pcapng_two_links", ["s02_req_rep", "s16_sll2_any"],
                "One pcapng: SHB, IDB 0 (Ethernet, if_tsresol 6) for s02, IDB 1 "
                "(LINUX_SLL2 = 276, if_tsresol 9) for s16, EPBs merged by "
                "timestamp. s16 is shifted in time to start 1 ms + 123 ns after "
                "s02's first packet so the two connections interleave.",
                "pcapng with two interfaces of different link types and "
                "timestamp resolutions (libpcap refuses such a file).")
    a, ca = load("s02_req_rep")
    b, cb = load("s16_sll2_any")
    shift = a[0].ts + 1_000_123 - b[0].ts
    for p in a:
        p.iface = 0
    for p in b:
        p.iface = 1
        p.ts += shift
    merged = sorted(a + b, key=lambda p: p.ts)  # stable: ties keep file order
    v.capture = v.name + ".pcapng"
    with open(os.path.join(OUT, v.capture), "wb") as f:
        f.write(pcapng_bytes([(LINK_ETHERNET, 6), (LINK_SLL2, 9)], merged))
    v.connections = [full(c) for c in sorted(ca + cb, key=lambda c: 0 if c in ca else 1)]
    return v


def v12_port_reuse():
    v = Variant("v12_port_reuse", ["s02_req_rep"],
                "s02's packets, then all of them again 2 s later on the same "
                "4-tuple with both directions' sequence and acknowledgement "
                "numbers shifted by one constant, chosen so the client's "
                "sequence numbers wrap from 2^32-1 to 0 at its stream offset "
                "5000.",
                "Port reuse after a FIN close: two connections with the same "
                "label, in order; 32-bit sequence wrap-around.")
    pkts, conns = load("s02_req_rep")
    conn = conns[0]
    shift = ((1 << 32) - 5000 - conn.dirs["c2s"].base) & 0xFFFFFFFF
    again = []
    for p in pkts:
        q = p.derive(seq=p.seq + shift,
                     ack=(p.ack + shift) if p.flags & ACK else p.ack)
        q.ts = p.ts + 2 * NS
        again.append(q)
    write_pcap_variant(v, pkts + again, LINK_ETHERNET)
    v.connections = [full(conn), full(conn)]
    return v


def v13_syn_lost():
    v = Variant("v13_syn_lost", ["s02_req_rep"],
                "The client's SYN removed: the capture starts with the SYN-ACK.",
                "A flipped connection: the client is the SYN-ACK's destination, "
                "its stream starts at the SYN-ACK's acknowledgement number.")
    pkts, conns = load("s02_req_rep")
    assert pkts[0].flags & (SYN | ACK) == SYN
    write_pcap_variant(v, pkts[1:], LINK_ETHERNET)
    v.connections = [full(conns[0], flipped=True)]
    return v


def v14_vlan():
    v = Variant("v14_vlan", ["s02_req_rep"],
                "Client-to-server frames get an 802.1Q tag (TPID 0x8100, VID "
                "100); server-to-client frames QinQ (outer 0x88a8 VID 200, "
                "inner 0x8100 VID 300).",
                "VLAN and QinQ Ethernet framing.")
    pkts, conns = load("s02_req_rep")
    out = []
    for p in pkts:
        macs, ethertype = p.l2[:12], p.l2[12:14]
        if p.dir == "c2s":
            tags = struct.pack(">HH", 0x8100, 100)
        else:
            tags = struct.pack(">HHHH", 0x88A8, 200, 0x8100, 300)
        out.append(p.relink(macs + tags + ethertype))
    write_pcap_variant(v, out, LINK_ETHERNET)
    v.connections = [full(c) for c in conns]
    return v


def v15_overlap_conflict():
    v = Variant("v15_overlap_conflict", ["s15_longlived_rpc"],
                "Over three consecutive data segments A B C of one direction "
                "(forged = every byte XOR 0x5a): (1) at A's place C, a forged "
                "copy of B+C, then A; B stays at its own place, by then a "
                "retransmission; (2) at A's place a forged copy of B[5:] + "
                "C[:7], then C, A and B (real); (3) a forged copy of A one "
                "packet after A. Two instances of each.",
                "Overlapping copies with different bytes: the first copy of "
                "each byte in capture order wins, whether queued or delivered "
                "(queued C beats the forged C; the forged B beats the later "
                "real B; a forged retransmission of delivered bytes is "
                "ignored).")
    pkts, conns = load("s15_longlived_rpc")
    rng = random.Random(115)
    conn = conns[0]
    limit = fin_position(pkts) - 2

    def forge(b):
        return bytes(x ^ 0x5A for x in b)

    triples = [(a, b, c) for positions in data_positions(pkts).values()
               for a, b, c in zip(positions, positions[1:], positions[2:])
               if c < limit and all(len(pkts[i].payload) >= 16 for i in (a, b, c))]
    used = set()
    drops, inserts = [], []
    overrides = {}
    checks = []
    counts = {1: 0, 2: 0, 3: 0}
    for kind in (1, 2, 3):
        for a, b, c in pick(rng, triples, len(triples)):
            if counts[kind] >= 2:
                break
            if any(q in used for p in (a, b, c) for q in range(p - 2, p + 3)):
                continue
            used.update((a, b, c))
            counts[kind] += 1
            pa, pb, pc = pkts[a], pkts[b], pkts[c]
            ov = overrides.setdefault(pa.dir, [])
            if kind == 1:
                x = pc.derive(seq=pb.seq, payload=forge(pb.payload + pc.payload))
                # At A's place: C, X, A. C's own place loses C; B stays (a
                # retransmission by then).
                drops += [a, c]
                inserts += [(a, pc), (a, x), (a, pa)]
                ov.append((pb.off, forge(pb.payload)))
                tag = "pattern 1 #%d %s: " % (counts[kind], pa.dir)
                checks += [
                    (pa.dir, pa.off, len(pa.payload), tag + "A, real (arrives last, in order)"),
                    (pa.dir, pb.off, len(pb.payload),
                     tag + "B, forged (the forged B+C arrived before the real B)"),
                    (pa.dir, pc.off, len(pc.payload),
                     tag + "C, real (queued before the forged B+C)"),
                ]
            elif kind == 2:
                lo, hi = pb.off + 5, pc.off + 7
                seq = pb.seq + 5
                x = pc.derive(seq=seq, payload=forge(
                    (pb.payload + pc.payload)[5:len(pb.payload) + 7]))
                drops += [a, b, c]
                inserts += [(a, x), (a, pc), (a, pa), (a, pb)]
                assert hi - lo == len(x.payload)
                ov.append((lo, x.payload))
                tag = "pattern 2 #%d %s: " % (counts[kind], pa.dir)
                nb = len(pb.payload)
                checks += [
                    (pa.dir, pa.off, len(pa.payload), tag + "A, real"),
                    (pa.dir, pb.off, 5, tag + "B[0:5], real (only the real B had it)"),
                    (pa.dir, pb.off + 5, nb - 5, tag + "B[5:%d], forged (the forged "
                     "copy was queued before the real B arrived in order)" % nb),
                    (pa.dir, pc.off, 7, tag + "C[0:7], forged (queued before the real C)"),
                    (pa.dir, pc.off + 7, len(pc.payload) - 7,
                     tag + "C[7:], real (only the real C had it)"),
                ]
            else:
                x = pa.derive(payload=forge(pa.payload))
                inserts += [(a + 1, x)]
                checks.append((pa.dir, pa.off, len(pa.payload),
                               "pattern 3 #%d %s: A, real (forged copy came after "
                               "delivery)" % (counts[kind], pa.dir)))
    out = apply(pkts, drops=drops, inserts=inserts)
    v.notes.append("patterns (1) x%d, (2) x%d, (3) x%d" % (counts[1], counts[2], counts[3]))
    # (1) and (2) each queue a copy over differing queued bytes; (1) and (3)
    # each resend delivered bytes.
    v.counters = {"conflicts": counts[1] + counts[2], "retransmitted": counts[1] + counts[3]}
    write_pcap_variant(v, out, LINK_ETHERNET)
    entry = conn_expect(conn, *(expect_runs(conn.dirs[d].data, overrides=overrides.get(d, ()))
                                for d in ("c2s", "s2c")))
    # Spans to localise a difference the whole-stream hash cannot.
    expected = {}
    for d in ("c2s", "s2c"):
        buf = bytearray(conn.dirs[d].data)
        for off, new in overrides.get(d, ()):
            buf[off:off + len(new)] = new
        expected[d] = buf
    entry["checks"] = [
        {"dir": d, "offset": off, "len": n, "sha256": sha256(bytes(expected[d][off:off + n])),
         "what": what}
        for d, off, n, what in checks
    ]
    v.connections = [entry]
    return v


VARIANTS = [
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
]


README_HEAD = """\
# Capture variants

Pathological variants of the clean reference captures in
`captures/reference/`, each with the exact byte streams the TCP reassembler
must produce. **Generated; do not edit by hand.** Regenerate everything
(captures, expectations and this file) from `captures/reference/` with

    python3 captures/tools/make_variants.py

The script uses the Python 3 standard library only and fixed random seeds; it
writes the same bytes on every run. `cargo test --test variants`
(`tests/variants.rs`) runs the pipeline on every variant and compares.

## Expectation files

`NAME.expect.json`:

- `capture`: the capture file next to it; `base`: the reference capture(s)
  it is made from; `transformation`, `exercises`, `notes`: what was done.
- `connections`: in order of first appearance, each with `label`
  (`client>server`), `midstream`, `flipped`, `closed` (`fin`), and `c2s` /
  `s2c`: the runs of that direction as `Stream::describe()` prints them
  (`data OFF LEN SHA256` / `gap OFF LEN`, adjacent runs of one kind merged).
  Several connections with one label are port-reuse incarnations, in order.
  Optional `checks`: byte spans (`dir`, `offset`, `len`, `sha256`, `what`)
  that say where a stream differs when its whole-run hash does not match.
- `counters_at_least`: lower bounds on the reassembler's direction counters
  (summed over all connections), so a variant cannot silently stop
  exercising its path (no reordering, no retransmission, ...).

The expected runs are computed from the clean streams (the payloads placed at
`seq - (ISN + 1)`) with each transformation applied in sequence space, then
checked against an independent model run on the written file (first copy of
each byte in capture order wins; bytes never captured below the FIN are a gap;
bytes cut by the snapshot length are a gap of exactly that size; a midstream
direction starts at the first payload byte of its first data segment in
capture order; a flipped connection's client stream at the SYN-ACK's
acknowledgement number).

## Variants
"""


def write_readme(variants):
    lines = [README_HEAD]
    for v in variants:
        lines.append("### %s\n" % v.name)
        lines.append("- Capture: `%s`" % v.capture)
        lines.append("- Base: %s" % ", ".join("`%s`" % b for b in v.base))
        lines.append("- Transformation: %s" % v.transformation)
        lines.append("- Exercises: %s" % v.exercises)
        if v.notes:
            lines.append("- Details: %s" % "; ".join(v.notes))
        conns = ", ".join(
            "%s%s%s" % (c["label"], " (midstream)" if c["midstream"] else "",
                        " (flipped)" if c["flipped"] else "")
            for c in v.connections)
        gaps = sum(1 for c in v.connections for d in ("c2s", "s2c") for r in c[d]
                   if r.startswith("gap"))
        lines.append("- Expected: %d connection(s): %s; %s" % (
            len(v.connections), conns, "%d gap run(s)" % gaps if gaps else "no gaps"))
        lines.append("")
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if re.match(r"v\d\d_.*\.(pcap|pcap\.gz|pcapng|expect\.json)$", name):
            os.remove(os.path.join(OUT, name))
    total = 0
    made = []
    for make in VARIANTS:
        v = make()
        made.append(v)
        assert v.name == make.__name__
        path = os.path.join(OUT, v.capture)
        checked = model(path)
        plain = [{k: c[k] for k in c if k != "checks"} for c in v.connections]
        if checked != plain:
            for want, got in zip(v.connections, checked):
                for key in want:
                    if want[key] != got[key]:
                        print("%s: %s %s differs:\n  expected %s\n  model    %s"
                              % (v.name, want["label"], key, want[key][:6], got[key][:6]),
                              file=sys.stderr)
            sys.exit("%s: the expectation and the model of the written file disagree"
                     % v.name)
        expect = {
            "variant": v.name,
            "capture": v.capture,
            "base": v.base,
            "transformation": v.transformation,
            "exercises": v.exercises,
            "notes": v.notes,
            "counters_at_least": v.counters,
            "connections": v.connections,
        }
        with open(os.path.join(OUT, v.name + ".expect.json"), "w") as f:
            json.dump(expect, f, indent=1)
            f.write("\n")
        size = os.path.getsize(path)
        total += size
        runs = sum(len(c["c2s"]) + len(c["s2c"]) for c in v.connections)
        print("%-26s %-22s %8d bytes  %d conn  %d runs  %s"
              % (v.name, v.capture.split(".", 1)[1], size, len(v.connections), runs,
                 "; ".join(v.notes)))
    write_readme(made)
    print("total capture bytes: %d" % total)


if __name__ == "__main__":
    main()
