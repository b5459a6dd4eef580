#!/usr/bin/env python3
"""Real ZeroMQ (libzmq via pyzmq) traffic on 127.0.0.1 for tests/live.rs.

  live_traffic.py LISTED_PORT AUTO_PORT COUNT

1. On LISTED_PORT (given to zmqtrace with -p): a DEALER sends COUNT
   requests [b"", tag, body] to a ROUTER, which answers each.
2. On AUTO_PORT (not given to zmqtrace, found by auto-detection): DEALER
   "a" connects, waits for the handshake to be long over, then sends COUNT
   requests; then DEALER "b" connects to the now known port and sends COUNT
   requests at once. The ROUTER answers every one.

Bodies vary in size across the short/long frame boundary (255/256 bytes)
and up to 9000 bytes (more than libzmq's 8 KiB batch). Every message
carries a unique tag at the start of a frame, so the test finds it in the
`head` of zmqtrace's `message` events. The script prints the tags it sent,
as JSON, on its last line. Bounded: a few hundred messages, a few seconds.
"""

import json
import sys
import time

import zmq

HOST = "127.0.0.1"
SIZES = [0, 1, 100, 255, 256, 1000, 9000]


def body(i):
    return bytes((i + j) % 251 for j in range(SIZES[i % len(SIZES)]))


def exchange(dealer, router, prefix, count, truth):
    """COUNT requests from DEALER, each answered by ROUTER; all received."""
    sent = []
    for i in range(count):
        tag = b"%s-q%04d" % (prefix, i)
        dealer.send_multipart([b"", tag, body(i)])
        sent.append(tag.decode())
    replies = []
    for _ in range(count):
        ident, empty, tag, payload = router.recv_multipart()
        reply = tag.replace(b"-q", b"-r")
        router.send_multipart([ident, empty, reply, payload[:50]])
        replies.append(reply.decode())
    for _ in range(count):
        dealer.recv_multipart()
    truth[prefix.decode()] = {"requests": sent, "replies": replies}


def main():
    listed, auto, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    ctx = zmq.Context()
    truth = {}
    try:
        router = ctx.socket(zmq.ROUTER)
        router.bind(f"tcp://{HOST}:{listed}")
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect(f"tcp://{HOST}:{listed}")
        exchange(dealer, router, b"listed", count, truth)

        router2 = ctx.socket(zmq.ROUTER)
        router2.bind(f"tcp://{HOST}:{auto}")
        a = ctx.socket(zmq.DEALER)
        a.connect(f"tcp://{HOST}:{auto}")
        time.sleep(0.5)
        exchange(a, router2, b"auto-a", count, truth)
        b = ctx.socket(zmq.DEALER)
        b.connect(f"tcp://{HOST}:{auto}")
        exchange(b, router2, b"auto-b", count, truth)
        time.sleep(0.2)
    finally:
        ctx.destroy(linger=0)
    print(json.dumps(truth))


if __name__ == "__main__":
    main()
