#!/usr/bin/env python3
"""Record real oslo.messaging zmq-driver runs on loopback, with truth written
by the generating side.

    python3 captures/tools/record_oslo.py SCENARIO [--venv-root DIR]
                                          [--work-root DIR] [--out DIR]
    python3 captures/tools/record_oslo.py --list
    python3 captures/tools/record_oslo.py SCENARIO --verify [--out DIR]

Scenarios (see captures/oslo/README.md, "More real runs"):

  new_rocky_direct_msgpack       8.1.4 (Rocky, G4), direct DEALER->ROUTER,
                                 rpc_zmq_serialization = msgpack
  new_newton_direct_json         5.10.2 (Newton, G3: no `1.0` frame),
                                 direct, json
  new_newton_direct_msgpack      5.10.2 (G3), direct, msgpack
  new_newton_proxy_pubsub_acks   5.10.2 with Newton's defaults: the real
                                 oslo-messaging-zmq-proxy, PUB/SUB, ACKs
  new_mitaka_direct_pickle       4.6.1 (Mitaka, G1): pickles (send_pyobj),
                                 direct DEALER->ROUTER, casts PUSH->PULL,
                                 use_pub_sub = false
  new_mitaka_defaults_pickle     4.6.1 (Mitaka, G1) with its defaults
                                 (use_pub_sub = true): calls DEALER ->
                                 ROUTER, casts PUSH -> PULL, fanouts and
                                 notifications over ipc to the node's
                                 oslo-messaging-zmq-broker (one per node,
                                 as the deployment guide says), which
                                 PUBlishes topic | pickle(request) to the
                                 servers' SUBs
  new_om540_direct_pickle        5.4.0 (G2): b'' | pickle(Envelope) |
                                 pickle(request or Response), direct
                                 DEALER->ROUTER, use_pub_sub =
                                 use_router_proxy = false
  new_om27x_direct_pickle        2.7.0 (early G1, = 2.6.1's driver):
                                 rpc_backend = zmq, zmq_use_broker =
                                 false; calls on a new REQ socket each
                                 (reply dict without message id),
                                 casts/fanouts/notifications DEALER ->
                                 ROUTER, ACK dicts back
  new_om30x_req_pickle           3.0.0 (early G1, = 2.9.0's driver): the
                                 same without ACKs; REQ identity uuid1,
                                 reply dict with type and id (None)
  new_om30x_broker_pickle        3.0.0 with its default zmq_use_broker =
                                 true: client -> local
                                 oslo-messaging-zmq-broker over ipc (not
                                 captured), broker DEALER -> server ROUTER
                                 over TCP: b'' | pickle(envelope dict) |
                                 pickle(request); replies b'' | 'reply' |
                                 proxy_reply_id | b'' | pickle(dict)
  new_om540_proxy_pickle         5.4.0 (G2) with its defaults
                                 use_router_proxy = use_pub_sub = true: the
                                 real oslo-messaging-zmq-proxy, '' | type |
                                 routing key | message id | pickle(context)
                                 | pickle(message), PUB/SUB
  new_om57x_proxy_json           5.7.0 (G3) with its defaults
                                 use_router_proxy = use_pub_sub = true (no
                                 ACKs in 5.7): context and message as two
                                 frames, '' | type | routing key | id |
                                 json(ctx) | json(msg); PUB topic | id |
                                 json(ctx) | json(msg)
  new_om513_proxy_pubsub_json    5.13.0 (G3) through the proxy with
                                 use_pub_sub = true: json([ctx, msg]);
                                 PUB topic | type | id | body; identities
                                 <host>/<topic>/<server>/<uuid>
  new_rocky_proxy_msgpack        8.1.4 (G4) through the proxy with ACKs,
                                 no PUB/SUB, msgpack: '' | '1.0' | type |
                                 routing key | id | msgpack([ctx, msg])
  legacy_om110_ring_per_message  1.10.0 legacy impl_zmq: one PUSH
                                 connection per message, MatchMakerRing, a
                                 real zmq-receiver per host on :9501

What it does, as root, on loopback only:

1. makes a venv per oslo.messaging version under --venv-root (default
   /tmp/oslo-venvs), pip-installs the pinned versions below and applies the
   Python 3.11 compatibility patches in captures/tools/oslo_patches/<ver>/;
2. starts tcpdump on lo for `net <net>.0/24` and, for the new driver,
   redis-server (its name service) on an address of that net, so redis is
   captured too;
3. starts each role as its own process running real oslo.messaging code
   (eventlet; the proxy with threads, as shipped): the new driver's proxy,
   servers node-1 (<net>.2: RPC server and notification listener) and
   node-2 (<net>.3), client (<net>.1); legacy: a zmq-receiver per host, RPC
   servers on compute1/compute2, client on controller;
4. stops everything, checks tcpdump's kernel drop count (must be 0), and
   writes <name>.pcap and <name>.truth.json into --out (default
   captures/oslo).

Truth comes only from the generating processes, never from the pcap.  Each
process wraps the driver's own send functions (new driver:
Request/Ack/ReplySender{Direct,Proxy}.send, the proxy's _redirect_message
and PublisherProxy.send_request; G1: the publishers' send functions handed
to QueuedSender and ZmqIncomingRequest.reply; G2: ZmqSocket.send_pyobj,
which every G2 sender calls for the Envelope and the body; legacy:
ZmqSocket.send of each ZmqClient) and the servers' receive paths, and logs
every ZeroMQ message it sends.  `t` is time.time() just before the message's last frame
is handed to libzmq (see build_*truth for the exceptions).  The 4-tuple of
a new-driver connection comes from a ZMQ_MONITOR on the connecting socket
(EVENT_CONNECTED gives the fd; getsockname/getpeername give the addresses);
which connection a message used is named by the process that logged
receiving it, or by the routing identity the proxy addressed.  Connecting
sockets use libzmq's source-address syntax `tcp://<own ip>:0;<peer>` so each
host has its own IP (legacy: a pinned source port, so src is exact).

G1 and G2 runs are then checked against the wire (verify_pickled, also
`--verify`): the pcap read back with record_libzmq.py's independent pcap
reader and TCP reassembly, ZMTP walked and the pickles read with stub
classes; every truth message must be on its connection with its
generation's frames (G2: the Envelope as logged), class, id, target and
method, and nothing else on the ZeroMQ connections.

The early G1 runs (2.7.0, 3.0.0: `early` in SCENARIOS) have their own
instrumentation (instrument_early: the raw REQ sockets of ReqPublisher
are reached through eventlet's green Socket class), truth builder
(build_early_truth: REPLYs have message_id null and name their CALL in
reply_to; a `connections` list with every ZeroMQ connection's 4-tuple;
the reply the server sends after the client gave up is in `dropped`) and
wire check (verify_early, also `--verify`).

5.7.0, 5.13.0 and 8.1.4 through the proxy (`variant` in SCENARIOS) reuse
the G3/G4 instrumentation and build_proxy_truth; their servers' receipts
are logged by instrument_g3_variant_recv, 5.13.0's and 8.1.4's proxy
(proxy/zmq_sender.py) by run_proxy_om513, and verify_g3_variant (also
`--verify`) checks every hop's frames and JSON (8.1.4: msgpack) body on
the wire.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PATCH_DIR = os.path.join(HERE, 'oslo_patches')

# Everything else those old releases need, pinned to what the recordings
# used (pip's resolution on 2025-11, Python 3.11.7).
COMMON_PINS = [
    'cachetools==8.0.2', 'debtcollector==3.1.0', 'eventlet==0.41.3',
    'fasteners==0.20', 'futurist==3.5.0', 'greenlet==3.5.6',
    'iso8601==2.1.0', 'monotonic==1.6', 'msgpack==1.2.4', 'netaddr==1.3.0',
    'oslo.concurrency==7.6.1', 'oslo.config==10.7.0', 'oslo.context==6.5.0',
    'oslo.i18n==6.9.0', 'oslo.log==8.3.2', 'oslo.middleware==8.2.0',
    'oslo.serialization==5.11.0', 'oslo.service==4.8.0', 'oslo.utils==10.2.0',
    'pbr==7.1.3', 'PyYAML==6.0.4', 'pyzmq==27.3.0', 'redis==8.1.0',
    'six==1.17.0', 'stevedore==5.10.0', 'WebOb==1.8.11', 'wrapt==2.5.2',
]
VERSIONS = {
    # kombu/amqp are only for the rabbit driver; 5.10.2's pins
    # (kombu<4 -> anyjson) do not build on Python 3.11, so oslo.messaging is
    # installed --no-deps and its non-AMQP requirements explicitly.
    '8.1.4': {'pins': COMMON_PINS + ['tenacity==9.2.1', 'amqp==5.4.2',
                                     'kombu==5.7.0']},
    '5.10.2': {'pins': COMMON_PINS + ['retrying==1.4.2']},
    # 1.10.0 wants pbr<1.0, trollius and aioeventlet (its asyncio
    # executor, unused here): installed --no-deps as well.
    '1.10.0': {'pins': COMMON_PINS},
    # 4.6.1 (Mitaka, G1) needs `retrying` for its redis matchmaker; its
    # AMQP/pika requirements are for the other drivers: --no-deps as well.
    '4.6.1': {'pins': COMMON_PINS + ['retrying==1.4.2']},
    # 5.4.0 (G2, the last release that pickles Envelope objects): the
    # same (retrying for the redis matchmaker; AMQP/pika left out).
    '5.4.0': {'pins': COMMON_PINS + ['retrying==1.4.2']},
    # 2.7.0 and 3.0.0 (Mitaka cycle, early G1): the same (retrying for the
    # redis matchmaker; AMQP and the asyncio executor's trollius/aioeventlet
    # left out).
    '2.7.0': {'pins': COMMON_PINS + ['retrying==1.4.2']},
    '3.0.0': {'pins': COMMON_PINS + ['retrying==1.4.2']},
    # 5.7.0 (the last 5.7.x, G3 with two body frames): retrying for its
    # DEALER publishers; AMQP/pika left out (--no-deps).
    '5.7.0': {'pins': COMMON_PINS + ['retrying==1.4.2']},
    # 5.13.0 (the last 5.13.x): tenacity for its redis matchmaker and
    # publisher manager; AMQP/pika left out (--no-deps).
    '5.13.0': {'pins': COMMON_PINS + ['tenacity==9.2.1']},
}

SCENARIOS = {
    'new_rocky_direct_msgpack': {
        'oslo_messaging': '8.1.4', 'generation': 'G4', 'net': '127.0.11',
        'serialization': 'msgpack',
    },
    'new_newton_direct_json': {
        'oslo_messaging': '5.10.2', 'generation': 'G3', 'net': '127.0.12',
        'serialization': 'json',
    },
    'new_newton_direct_msgpack': {
        # new_newton_direct_json with rpc_zmq_serialization = msgpack.
        'oslo_messaging': '5.10.2', 'generation': 'G3', 'net': '127.0.44',
        'serialization': 'msgpack',
    },
    'new_newton_proxy_pubsub_acks': {
        'oslo_messaging': '5.10.2', 'generation': 'G3', 'net': '127.0.14',
        'serialization': 'json', 'proxy': True, 'redis': '127.0.14.5',
        # Through the proxy the 70,000-character cast would cross twice:
        # left out to keep the capture small.
        'big_cast': False,
    },
    'new_mitaka_direct_pickle': {
        # G1: every request and reply is a pickle (send_pyobj); casts go
        # PUSH -> PULL, calls/fanouts/notifications DEALER -> ROUTER.
        'oslo_messaging': '4.6.1', 'generation': 'G1', 'net': '127.0.15',
        'serialization': 'pickle',
    },
    'new_mitaka_defaults_pickle': {
        # G1 (4.6.1) with the release's defaults: use_pub_sub = true
        # (impl_zmq.py), so CAST_FANOUT and NOTIFY go client DEALER ->
        # ipc://<rpc_zmq_ipc_dir>/zmq-broker -> the node's
        # oslo-messaging-zmq-broker (UniversalQueueProxy) -> its PUB ->
        # the servers' SUBs; calls and casts direct as in
        # new_mitaka_direct_pickle.  A broker on every node
        # (doc/source/zmq_driver.rst: "Each machine running OpenStack
        # services, or sending RPC messages, should run the
        # 'oslo-messaging-zmq-broker' daemon"), each with its own ipc dir.
        'oslo_messaging': '4.6.1', 'generation': 'G1', 'net': '127.0.43',
        'serialization': 'pickle', 'local_brokers': True,
    },
    'new_om540_direct_pickle': {
        # G2: DEALER -> ROUTER, b'' | pickle(Envelope) | pickle(request);
        # the REPLY echoes the request's Envelope before pickle(Response).
        'oslo_messaging': '5.4.0', 'generation': 'G2', 'net': '127.0.16',
        'serialization': 'pickle',
    },
    'new_om27x_direct_pickle': {
        # Early G1 (2.6.x/2.7.x driver, identical in 2.6.1 and 2.7.0):
        # calls on a new REQ socket each, casts/fanouts/notifications
        # DEALER -> ROUTER, ACKs for them; zmq_use_broker = false.
        'oslo_messaging': '2.7.0', 'generation': 'G1', 'early': True,
        'net': '127.0.17', 'serialization': 'pickle',
    },
    'new_om30x_req_pickle': {
        # Early G1 (2.9.0/3.0.0 driver, identical): REQ per call with a
        # uuid1 identity, reply dict with type and id; no ACKs;
        # zmq_use_broker = false.
        'oslo_messaging': '3.0.0', 'generation': 'G1', 'early': True,
        'net': '127.0.18', 'serialization': 'pickle',
    },
    'new_om30x_broker_pickle': {
        # Early G1 (3.0.0) with its default zmq_use_broker = true: the
        # client talks to a local oslo-messaging-zmq-broker over ipc (not
        # captured); the broker's DEALERs forward to the servers' ROUTERs.
        'oslo_messaging': '3.0.0', 'generation': 'G1', 'early': True,
        'broker': True, 'net': '127.0.19', 'serialization': 'pickle',
    },
    'new_om540_proxy_pickle': {
        # G2 (5.4.0) with its defaults use_router_proxy = use_pub_sub =
        # true: everything through the real oslo-messaging-zmq-proxy.
        'oslo_messaging': '5.4.0', 'generation': 'G2', 'net': '127.0.20',
        'serialization': 'pickle', 'proxy': True, 'redis': '127.0.20.5',
    },
    'new_om57x_proxy_json': {
        # G3 (5.7.0, the last 5.7.x) with its defaults use_router_proxy =
        # use_pub_sub = true (no ACKs in 5.7: no rpc_use_acks option):
        # the context and the message are two frames (send_dumped twice).
        'oslo_messaging': '5.7.0', 'generation': 'G3', 'net': '127.0.41',
        'serialization': 'json', 'proxy': True, 'redis': '127.0.41.5',
        'big_cast': False, 'variant': 'om57', 'acks': False,
        'pub_sub': True, 'conf_opts': {},
    },
    'new_om513_proxy_pubsub_json': {
        # G3 (5.13.0, the last 5.13.x) through its proxy (default
        # use_router_proxy = true) with use_pub_sub = true (default false);
        # rpc_use_acks and ack_pub_sub at their default (false).  The PUB
        # carries topic | type | message id | json([context, message]).
        'oslo_messaging': '5.13.0', 'generation': 'G3', 'net': '127.0.42',
        'serialization': 'json', 'proxy': True, 'redis': '127.0.42.5',
        'big_cast': False, 'variant': 'om513', 'acks': False,
        'pub_sub': True, 'conf_opts': {'use_pub_sub': 'true'},
    },
    'new_rocky_proxy_msgpack': {
        # G4 (8.1.4) through the real proxy (DoubleRouterProxy: both
        # ports random) with ACKs and without PUB/SUB, as in the shared
        # new_rocky_proxy_acks run, but rpc_zmq_serialization = msgpack:
        # every request and response crosses the proxy (two hops);
        # fanouts go as one ROUTER copy per server DEALER.
        'oslo_messaging': '8.1.4', 'generation': 'G4', 'net': '127.0.45',
        'serialization': 'msgpack', 'proxy': True, 'redis': '127.0.45.5',
        'big_cast': False, 'variant': 'om814', 'acks': True,
        'pub_sub': False,
        'conf_opts': {'use_router_proxy': 'true', 'use_pub_sub': 'false',
                      'rpc_use_acks': 'true'},
    },
    'legacy_om110_ring_per_message': {
        'oslo_messaging': '1.10.0', 'legacy': True, 'net': '127.0.13',
        'hosts': {'controller': '127.0.13.1', 'compute1': '127.0.13.2',
                  'compute2': '127.0.13.3'},
        'ring': {'compute': ['compute1', 'compute2'],
                 'notifications-info': ['compute1'],
                 'notifications-error': ['compute1']},
    },
}

TYPE_NAMES = {1: 'CALL', 2: 'CAST', 3: 'CAST_FANOUT', 4: 'NOTIFY',
              5: 'REPLY', 6: 'ACK'}


def now():
    return time.time()


# ---------------------------------------------------------------------------
# Role side: runs inside the venv, real oslo.messaging code.
# ---------------------------------------------------------------------------

class EventLog(object):
    def __init__(self, path, process):
        self.f = open(path, 'a', buffering=1)
        self.process = process

    def __call__(self, **kw):
        kw.setdefault('t', now())
        kw['process'] = self.process
        self.f.write(json.dumps(kw, sort_keys=True, default=str) + '\n')


def _s(v):
    if isinstance(v, bytes):
        return v.decode('utf-8', 'replace')
    return v


def request_fields(socket, request, msg_type):
    """What a send log line says about a request (every generation)."""
    target = request.target
    message = request.message or {}
    rec = {'ev': 'send', 'msg_type': msg_type,
           'message_id': _s(request.message_id),
           'socket_type': socket.type_name(),
           'zmq_identity': _s(socket.handle.identity),
           'connections': sorted(socket.connections),
           'topic': target.topic, 'server': target.server,
           'fanout': bool(target.fanout),
           'method': message.get('method')}
    if msg_type == 'NOTIFY':
        rec.update(method=message.get('event_type'),
                   event_type=message.get('event_type'),
                   payload_message_id=message.get('message_id'),
                   priority=message.get('priority'))
    return rec


def pickle_protocol(sock):
    """The protocol the socket's send_pyobj pickles with by default."""
    import inspect
    p = inspect.signature(type(sock.handle).send_pyobj).parameters
    return p['protocol'].default


def pickled_request_fields(socket, request, msg_type, sid_of):
    """request_fields plus what a pickled request (G1, G2) holds."""
    rec = request_fields(socket, request, msg_type)
    rec.update(pickle_class='%s.%s' % (type(request).__module__,
                                       type(request).__name__),
               sid=sid_of(socket), pickle_protocol=pickle_protocol(socket))
    if msg_type == 'CALL':
        rec['timeout'] = request.timeout
    if msg_type == 'NOTIFY':
        rec['notification_version'] = request.version
    return rec


def instrument(log, src_ip, sc=None):
    """Wrap the driver's send and receive functions; rewrite client
    connects to carry a source address; monitor every connection."""
    import itertools
    import socket as pysocket
    import threading
    import zmq as plainzmq
    from zmq.utils.monitor import parse_monitor_message
    from oslo_messaging._drivers.zmq_driver import zmq_socket

    # A name per driver socket (a G1 socket changes its identity at every
    # connect, so the identity does not name the socket there).
    sids = itertools.count(1)

    def sid_of(sock):
        if '_zt_sid' not in sock.__dict__:
            sock._zt_sid = '%s#%d' % (log.process, next(sids))
        return sock._zt_sid

    def addr_of(fd):
        s = pysocket.socket(fileno=os.dup(fd))
        try:
            return '%s:%d' % s.getsockname()[:2], '%s:%d' % s.getpeername()[:2]
        finally:
            s.close()

    def watch(sock):
        mon = sock.handle.get_monitor_socket(
            plainzmq.EVENT_CONNECTED | plainzmq.EVENT_ACCEPTED |
            plainzmq.EVENT_DISCONNECTED | plainzmq.EVENT_CLOSED)
        ident = _s(sock.handle.identity)
        sid = sid_of(sock)

        def loop():
            while True:
                try:
                    msg = mon.recv_multipart()
                except Exception:
                    return
                ev = parse_monitor_message(msg)
                e = int(ev['event'])
                rec = {'ev': 'conn', 'zmq_identity': ident, 'sid': sid,
                       'endpoint': _s(ev['endpoint']),
                       'what': {1: 'connected', 32: 'accepted',
                                512: 'disconnected',
                                1024: 'closed'}.get(e, str(e))}
                if e in (1, 32):
                    try:
                        rec['local'], rec['peer'] = addr_of(ev['value'])
                    except (OSError, TypeError) as exc:
                        # TypeError: an ipc connection (AF_UNIX names).
                        rec['error'] = str(exc)
                log(**rec)
        t = threading.Thread(target=loop)
        t.daemon = True
        t.start()

    def connect(self, address):
        if address not in self.connections:
            real = address
            if src_ip and address.startswith('tcp://'):
                real = 'tcp://%s:0;%s' % (src_ip, address[len('tcp://'):])
            if not getattr(self, '_monitored', False):
                self._monitored = True
                watch(self)
            self.handle.connect(real)
            self.connections.add(address)
            log(ev='connect', zmq_identity=_s(self.handle.identity),
                socket_type=self.type_name(), address=address, real=real,
                sid=sid_of(self))
    zmq_socket.ZmqSocket.connect = connect

    if sc is not None and sc.get('early'):      # 2.7.0, 3.0.0 (early G1)
        instrument_early(log, watch, sid_of, src_ip)
        if sc.get('broker'):                    # 3.0.0 through the broker
            instrument_om30_broker(log, sid_of)
        return
    if sc is not None and sc.get('proxy') and \
            sc.get('generation') == 'G2':       # 5.4.0 through the proxy
        instrument_g2_proxy(log, watch, sid_of)
        return
    if not hasattr(zmq_socket.ZmqSocket, 'send_dumped'):    # pickles
        import importlib.util
        if importlib.util.find_spec('oslo_messaging._drivers.zmq_driver.'
                                    'client.zmq_envelope'):  # G2 (5.0-5.4)
            instrument_g2(log, watch, sid_of)
        else:                                               # G1 (4.6.x)
            instrument_g1(log, watch, sid_of)
            if sc is not None and sc.get('local_brokers'):
                instrument_g1_pubsub(log, sid_of)
        return
    from oslo_messaging._drivers.zmq_driver.client import zmq_senders
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_router_consumer as rc

    # The time a message is complete: when its last frame (always the
    # serialized body) is handed to libzmq.  Taken just before that call:
    # a green send may switch greenthreads before it returns.
    # (Same body as the driver's own send_dumped in 5.10.2 and 8.1.4.)
    def send_dumped(self, obj, *args, **kwargs):
        serialization = kwargs.pop(
            'serialization',
            self.conf.oslo_messaging_zmq.rpc_zmq_serialization)
        serializer = self._get_serializer(serialization)
        s = serializer.dump_as_bytes(obj)
        self._zt_sent = now()
        self.handle.send(s, *args, **kwargs)
        self._zt_returned = now()
    zmq_socket.ZmqSocket.send_dumped = send_dumped

    orig_rp = zmq_socket.ZmqRandomPortSocket.__init__

    def rp_init(self, *a, **kw):
        orig_rp(self, *a, **kw)
        watch(self)
        log(ev='bind', zmq_identity=_s(self.handle.identity),
            socket_type=self.type_name(), addr=self.connect_address)
    zmq_socket.ZmqRandomPortSocket.__init__ = rp_init

    def fields(socket, request):
        return request_fields(socket, request,
                              TYPE_NAMES[int(request.msg_type)])

    orig_req = zmq_senders.RequestSenderDirect.send

    def req_send(self, socket, request):
        t0 = now()
        r = orig_req(self, socket, request)
        log(t=socket._zt_sent, t_before=t0, t_returned=socket._zt_returned,
            t_logged=now(),
            **fields(socket, request))
        return r
    zmq_senders.RequestSenderDirect.send = req_send

    orig_rep = zmq_senders.ReplySenderDirect.send

    def rep_send(self, socket, reply):
        t0 = now()
        r = orig_rep(self, socket, reply)
        log(t=socket._zt_sent, t_before=t0, t_returned=socket._zt_returned,
            t_logged=now(),
            ev='send', msg_type='REPLY',
            message_id=_s(reply.message_id), reply_id=_s(reply.reply_id),
            socket_type=socket.type_name(),
            zmq_identity=_s(socket.handle.identity),
            addr=getattr(socket, 'connect_address', None),
            failure=reply.failure is not None)
        return r
    zmq_senders.ReplySenderDirect.send = rep_send

    # Receipt: which server (and which of its ROUTERs) decoded a request.
    if hasattr(rc.RouterConsumer, '_create_message'):      # G4
        orig_cm = rc.RouterConsumer._create_message

        def create_message(self, context, message, message_version,
                           reply_id, message_id, socket, message_type):
            log(ev='recv', msg_type=TYPE_NAMES[int(message_type)],
                message_id=_s(message_id), reply_id=_s(reply_id),
                version=message_version, addr=socket.connect_address,
                method=(message or {}).get('method') or
                (message or {}).get('event_type'))
            return orig_cm(self, context, message, message_version,
                           reply_id, message_id, socket, message_type)
        rc.RouterConsumer._create_message = create_message
    else:                                                   # G3
        orig_rr = rc.RouterConsumer._receive_request

        def receive_request(self, socket):
            r = orig_rr(self, socket)
            reply_id, msg_type, message_id, context, message = r
            log(ev='recv', msg_type=TYPE_NAMES[int(msg_type)],
                message_id=_s(message_id), reply_id=_s(reply_id),
                version=None, addr=socket.connect_address,
                method=(message or {}).get('method') or
                (message or {}).get('event_type'))
            return r
        rc.RouterConsumer._receive_request = receive_request

    # Through the proxy (G3, 5.10.2): client -> proxy requests, server ->
    # proxy ACKs and REPLYs, and what the servers decode from their
    # DEALER (backend) and SUB (PUB) sockets.
    if hasattr(zmq_senders, 'RequestSenderProxy'):
        orig_preq = zmq_senders.RequestSenderProxy.send

        def preq_send(self, socket, request):
            t0 = now()
            r = orig_preq(self, socket, request)
            log(t=socket._zt_sent, t_before=t0, t_logged=now(),
                routing_key=_s(request.routing_key),
                **fields(socket, request))
            return r
        zmq_senders.RequestSenderProxy.send = preq_send

        # (5.7.0 has no ACKs.)
        orig_pack = getattr(zmq_senders, 'AckSenderProxy', None)
        orig_pack = orig_pack and orig_pack.send

        def pack_send(self, socket, ack):
            t0 = now()
            r = orig_pack(self, socket, ack)
            log(t=t0, t_logged=now(), ev='send', msg_type='ACK',
                message_id=_s(ack.message_id), reply_id=_s(ack.reply_id),
                socket_type=socket.type_name(),
                zmq_identity=_s(socket.handle.identity))
            return r
        if orig_pack is not None:
            zmq_senders.AckSenderProxy.send = pack_send

        orig_prep = zmq_senders.ReplySenderProxy.send

        def prep_send(self, socket, reply):
            t0 = now()
            r = orig_prep(self, socket, reply)
            log(t=socket._zt_sent, t_before=t0, t_logged=now(), ev='send',
                msg_type='REPLY', message_id=_s(reply.message_id),
                reply_id=_s(reply.reply_id), socket_type=socket.type_name(),
                zmq_identity=_s(socket.handle.identity),
                failure=reply.failure is not None)
            return r
        zmq_senders.ReplySenderProxy.send = prep_send

    if sc is not None and sc.get('variant'):        # 5.7.0, 5.13.0
        instrument_g3_variant_recv(log, sc)
        return
    try:
        from oslo_messaging._drivers.zmq_driver.server.consumers import \
            zmq_dealer_consumer as dc
        from oslo_messaging._drivers.zmq_driver.server.consumers import \
            zmq_sub_consumer as sc_
    except ImportError:
        return
    if hasattr(dc.DealerConsumer, '_receive_request'):
        orig_drr = dc.DealerConsumer._receive_request

        def dealer_receive(self, socket):
            r = orig_drr(self, socket)
            reply_id, msg_type, message_id, context, message = r
            log(ev='recv', via='DEALER', msg_type=TYPE_NAMES[int(msg_type)],
                message_id=_s(message_id), reply_id=_s(reply_id),
                zmq_identity=_s(socket.handle.identity),
                method=(message or {}).get('method') or
                (message or {}).get('event_type'))
            return r
        dc.DealerConsumer._receive_request = dealer_receive

    # (G3 only; 8.1.4's SubConsumer is versioned and differs.)
    sub_rr = getattr(sc_.SubConsumer, '_receive_request', None)
    if sub_rr is not None and sub_rr.__code__.co_argcount == 1:
        def sub_receive(socket):
            # 5.10.2 SubConsumer._receive_request, plus the log line.
            topic_filter = socket.recv()
            message_id = socket.recv()
            context, message = socket.recv_loaded()
            log(ev='recv', via='SUB', topic_filter=_s(topic_filter),
                message_id=_s(message_id),
                zmq_identity=_s(socket.handle.identity),
                method=(message or {}).get('method') or
                (message or {}).get('event_type'))
            return context, message
        sc_.SubConsumer._receive_request = staticmethod(sub_receive)


def instrument_g3_variant_recv(log, sc):
    """5.7.0 and 5.13.0 through the proxy: what the servers decode from
    their DEALER (proxy backend) and SUB (proxy PUB) sockets.  Each
    wrapper is the release's own receive body plus the log line (the
    ids are local variables there)."""
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_dealer_consumer as dc
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_sub_consumer as sc_
    from oslo_messaging._drivers.zmq_driver.server import \
        zmq_incoming_message as im
    from oslo_messaging._drivers.zmq_driver import zmq_names
    from oslo_messaging._drivers.zmq_driver import zmq_async
    zmq = zmq_async.import_zmq()

    def method_of(message):
        return (message or {}).get('method') or \
            (message or {}).get('event_type')

    if sc['variant'] == 'om57':
        # 5.7.0 DealerConsumer.receive_message: '' | reply_id | type |
        # message_id | context | message.
        def dealer_receive(self, socket):
            try:
                empty = socket.recv()
                assert empty == b'', 'Bad format: empty delimiter expected'
                reply_id = socket.recv()
                message_type = int(socket.recv())
                message_id = socket.recv()
                context = socket.recv_loaded()
                message = socket.recv_loaded()
                log(ev='recv', via='DEALER',
                    msg_type=TYPE_NAMES[message_type],
                    message_id=_s(message_id), reply_id=_s(reply_id),
                    zmq_identity=_s(socket.handle.identity),
                    method=method_of(message))
                if message_type == zmq_names.CALL_TYPE:
                    return im.ZmqIncomingMessage(
                        context, message, reply_id, message_id, socket,
                        self.sender)
                elif message_type in zmq_names.NON_BLOCKING_TYPES:
                    return im.ZmqIncomingMessage(context, message)
            except (zmq.ZMQError, AssertionError, ValueError) as e:
                log(ev='recv_error', error=str(e))
        dc.DealerConsumer.receive_message = dealer_receive

        # 5.7.0 SubConsumer._receive_request: topic_filter | message_id |
        # context | message.
        def sub_receive(socket):
            topic_filter = socket.recv()
            message_id = socket.recv()
            context = socket.recv_loaded()
            message = socket.recv_loaded()
            log(ev='recv', via='SUB', topic_filter=_s(topic_filter),
                message_id=_s(message_id),
                zmq_identity=_s(socket.handle.identity),
                method=method_of(message))
            return context, message
        sc_.SubConsumer._receive_request = staticmethod(sub_receive)
        return

    if sc['variant'] == 'om814':
        # 8.1.4: DealerConsumer._receive_request_v_1_0 hands the decoded
        # ids and the version to _create_message (DealerConsumerWithAcks
        # calls it through super() after sending its ACK); no SUBs here
        # (use_pub_sub = false).
        orig_cm4 = dc.DealerConsumer._create_message

        def create_message4(self, context, message, message_version,
                            reply_id, message_id, socket, message_type):
            log(ev='recv', via='DEALER',
                msg_type=TYPE_NAMES[int(message_type)],
                message_id=_s(message_id), reply_id=_s(reply_id),
                version=_s(message_version),
                zmq_identity=_s(socket.handle.identity),
                method=method_of(message))
            return orig_cm4(self, context, message, message_version,
                            reply_id, message_id, socket, message_type)
        dc.DealerConsumer._create_message = create_message4
        return

    # 5.13.0: DealerConsumer.receive_message hands the decoded ids to
    # _create_message.
    orig_cm = dc.DealerConsumer._create_message

    def create_message(self, context, message, reply_id, message_id, socket,
                       message_type):
        log(ev='recv', via='DEALER', msg_type=TYPE_NAMES[int(message_type)],
            message_id=_s(message_id), reply_id=_s(reply_id),
            zmq_identity=_s(socket.handle.identity),
            method=method_of(message))
        return orig_cm(self, context, message, reply_id, message_id,
                       socket, message_type)
    dc.DealerConsumer._create_message = create_message

    # 5.13.0 SubConsumer._receive_request: topic_filter | type |
    # message_id | [context, message].
    def sub_receive13(self, socket):
        topic_filter = socket.recv()
        message_type = int(socket.recv())
        message_id = socket.recv()
        context, message = socket.recv_loaded()
        log(ev='recv', via='SUB', topic_filter=_s(topic_filter),
            msg_type=TYPE_NAMES[message_type], message_id=_s(message_id),
            zmq_identity=_s(socket.handle.identity),
            method=method_of(message))
        return context, message
    sc_.SubConsumer._receive_request = sub_receive13


def log_binds(log, watch, sid_of):
    """G1, G2: log each socket a server binds (on a random port), and
    monitor it; `_zt_addr` names it (the receivers' `addr`)."""
    from oslo_messaging._drivers.zmq_driver import zmq_socket
    orig_rp = zmq_socket.ZmqRandomPortSocket.__init__

    def rp_init(self, *args, **kwargs):
        orig_rp(self, *args, **kwargs)
        self._zt_addr = '%s:%d' % (self.bind_address[len('tcp://'):],
                                   self.port)
        watch(self)
        log(ev='bind', zmq_identity=_s(self.handle.identity),
            socket_type=self.type_name(), addr=self._zt_addr,
            sid=sid_of(self))
    zmq_socket.ZmqRandomPortSocket.__init__ = rp_init


def log_listen(log, host, target, socket_type):
    """G1, G2: what a bound socket (host = its host:port) registers in the
    name service for a target."""
    from oslo_messaging._drivers.zmq_driver import zmq_socket
    zmq = zmq_socket.zmq
    log(ev='listen', host=host, topic=target.topic, server=target.server,
        listener_type={zmq.ROUTER: 'ROUTER', zmq.PULL: 'PULL'}.get(
            socket_type, str(socket_type)))


def log_recv(log, via, msg_type, request, reply_id, addr, **extra):
    """G1, G2: a server decoded a pickled request."""
    message = request.message or {}
    log(ev='recv', via=via, msg_type=msg_type,
        message_id=_s(request.message_id), reply_id=_s(reply_id),
        version=None, addr=addr,
        method=message.get('method') or message.get('event_type'), **extra)


# G1 (4.6.x) names its message types with strings.
G1_TYPES = {'call': 'CALL', 'cast': 'CAST', 'cast-f': 'CAST_FANOUT',
            'notify': 'NOTIFY', 'reply': 'REPLY'}


def instrument_g1(log, watch, sid_of):
    """4.6.1 (Mitaka, G1): every message is one `send_pyobj` of the
    driver's ZmqSocket (DEALER: after `b''`; PUSH: alone; the server's
    ROUTER: after `reply_id | b''`).  The publishers' send functions are
    closures handed to QueuedSender, which is wrapped to log each request
    (one log line per copy: CAST_FANOUT and NOTIFY go out once per
    connection of the DEALER); ZmqIncomingRequest.reply logs the REPLY.
    Receipt: RouterConsumer._receive_request (gives reply_id, the routing
    identity of the connection the request came on) and recv_pyobj on PULL
    sockets."""
    from oslo_messaging._drivers.zmq_driver import zmq_socket
    from oslo_messaging._drivers.zmq_driver.client.publishers import \
        zmq_publisher_base as pb
    from oslo_messaging._drivers.zmq_driver.server import \
        zmq_incoming_message as im
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_consumer_base as cb
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_router_consumer as rc
    zmq = zmq_socket.zmq            # eventlet.green.zmq, as the driver's

    def sends_of(sock):
        return sock.__dict__.setdefault('_zt_sends', [])

    # 4.6.1's own body (self.handle.send_pyobj(...)); t is taken just
    # before it: the green socket pickles (its own default protocol) and
    # hands the pickle, the message's last frame, to libzmq.
    def send_pyobj(self, *args, **kwargs):
        t = now()
        self.handle.send_pyobj(*args, **kwargs)
        sends_of(self).append((t, now()))
    zmq_socket.ZmqSocket.send_pyobj = send_pyobj

    log_binds(log, watch, sid_of)

    # What each bound socket registers in the name service.
    orig_listen = cb.TargetsManager.listen

    def tm_listen(self, target):
        r = orig_listen(self, target)
        log_listen(log, self.host, target, self.socket_type)
        return r
    cb.TargetsManager.listen = tm_listen

    def fields(socket, request):
        rec = pickled_request_fields(socket, request,
                                     G1_TYPES[request.msg_type], sid_of)
        rec['g1_msg_type'] = request.msg_type
        return rec

    orig_qs = pb.QueuedSender.__init__

    def qs_init(self, sockets_manager, _do_send_request):
        def logged(socket, request):
            sends = sends_of(socket)
            n0 = len(sends)
            t0 = now()
            r = _do_send_request(socket, request)
            mine = sends[n0:]
            for i, (t, tr) in enumerate(mine):
                log(t=t, t_before=t0, t_returned=tr, t_logged=now(),
                    copy=i, copies=len(mine),
                    **fields(socket, request))
            return r
        orig_qs(self, sockets_manager, logged)
    pb.QueuedSender.__init__ = qs_init

    orig_reply = im.ZmqIncomingRequest.reply

    def reply(self, reply=None, failure=None, log_failure=True):
        sock = self.reply_socket
        sends = sends_of(sock)
        n0 = len(sends)
        t0 = now()
        r = orig_reply(self, reply=reply, failure=failure,
                       log_failure=log_failure)
        t, tr = sends[n0]
        log(t=t, t_before=t0, t_returned=tr, t_logged=now(),
            ev='send', msg_type='REPLY', g1_msg_type='reply',
            pickle_class='builtins.dict',
            message_id=_s(self.request.message_id),
            reply_id=_s(self.reply_id), socket_type=sock.type_name(),
            sid=sid_of(sock), zmq_identity=_s(sock.handle.identity),
            addr=sock._zt_addr, failure=failure is not None,
            log_failure=log_failure, pickle_protocol=pickle_protocol(sock))
        return r
    im.ZmqIncomingRequest.reply = reply

    orig_rr = rc.RouterConsumer._receive_request

    def receive_request(self, socket):
        request, reply_id = orig_rr(self, socket)
        log_recv(log, 'ROUTER', G1_TYPES[request.msg_type], request,
                 reply_id, socket._zt_addr)
        return request, reply_id
    rc.RouterConsumer._receive_request = receive_request

    orig_recv_pyobj = zmq_socket.ZmqSocket.recv_pyobj

    def recv_pyobj(self, *args, **kwargs):
        obj = orig_recv_pyobj(self, *args, **kwargs)
        if self.socket_type == zmq.PULL:
            log_recv(log, 'PULL', G1_TYPES[obj.msg_type], obj, None,
                     self._zt_addr)
        elif self.socket_type == zmq.DEALER and isinstance(obj, dict):
            log(ev='recv_reply', message_id=_s(obj.get('message_id')),
                sid=sid_of(self), failure=obj.get('failure') is not None)
        return obj
    zmq_socket.ZmqSocket.recv_pyobj = recv_pyobj


def instrument_g1_pubsub(log, sid_of):
    """4.6.1 with use_pub_sub = true (its default), on top of
    instrument_g1.

    Client: CAST_FANOUT and NOTIFY go to DealerPublisherLight, whose
    DEALER is connected to ipc://<rpc_zmq_ipc_dir>/zmq-broker (not
    capturable): b'' | pickle(envelope dict) | pickle(request).  Its send
    closure is replaced after __init__ by the same body with a log line
    (`send_ipc`, t just before the last frame).  Broker
    (oslo-messaging-zmq-broker, native threads): its receipt
    (UniversalQueueProxy._receive_in_request), its PUB send
    (PubPublisherProxy.send_request, the body re-implemented with t just
    before the last frame: topic filter | the client's request pickle as
    received), the PUBLISHERS record it registers.  Servers:
    SubConsumer's subscriptions, the publishers it connects to and each
    request its SUB reads (_receive_request, its own body plus a log
    line)."""
    from oslo_messaging._drivers.zmq_driver import zmq_address
    from oslo_messaging._drivers.zmq_driver import zmq_names
    from oslo_messaging._drivers.zmq_driver import zmq_socket
    from oslo_messaging._drivers.zmq_driver.broker import zmq_broker
    from oslo_messaging._drivers.zmq_driver.broker import \
        zmq_queue_proxy as qp
    from oslo_messaging._drivers.zmq_driver.client.publishers import \
        zmq_pub_publisher as pp
    from oslo_messaging._drivers.zmq_driver.client.publishers.dealer \
        import zmq_dealer_publisher as dp
    from oslo_messaging._drivers.zmq_driver.client.publishers import \
        zmq_publisher_base as pb
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_sub_consumer as sc_mod
    zmq = zmq_socket.zmq            # eventlet.green.zmq, as the driver's

    def env_fields(env):
        t = env.get('target')
        return {'keys': sorted(env), 'msg_type': env.get('msg_type'),
                'message_id': _s(env.get('message_id')),
                'topic': t.topic if t is not None else None,
                'server': t.server if t is not None else None,
                'fanout': bool(t.fanout) if t is not None else None}

    # ---- client -> broker (ipc) -----------------------------------------
    orig_light_init = dp.DealerPublisherLight.__init__

    def light_init(self, conf, matchmaker):
        orig_light_init(self, conf, matchmaker)

        def _do_send_request(socket, request):
            # DealerPublisherLight's own closure (less its LOG line).
            if request.msg_type == zmq_names.CALL_TYPE:
                raise pb.UnsupportedSendPattern(request.msg_type)
            envelope = request.create_envelope()
            socket.send(b'', zmq.SNDMORE)
            socket.send_pyobj(envelope, zmq.SNDMORE)
            t = now()
            socket.send_pyobj(request)
            tr = now()
            rec = pickled_request_fields(socket, request,
                                         G1_TYPES[request.msg_type], sid_of)
            rec.update(ev='send_ipc', g1_msg_type=request.msg_type,
                       ipc_hop='client->broker',
                       envelope=env_fields(envelope),
                       pickle_keys=sorted(request.__dict__))
            log(t=t, t_returned=tr, t_logged=now(), **rec)
        self._do_send_request = _do_send_request
    dp.DealerPublisherLight.__init__ = light_init

    # ---- broker -----------------------------------------------------------
    orig_start = zmq_broker.ZmqBroker.start

    def broker_start(self):
        r = orig_start(self)
        px = self.proxies[0]
        log(ev='ready', address=_s(px.router_socket.getsockopt(
            zmq.LAST_ENDPOINT)), pub=px.pub_publisher.host,
            sync=px.pub_publisher.sync_channel.sync_host,
            pub_sid=sid_of(px.pub_publisher.socket))
        return r
    zmq_broker.ZmqBroker.start = broker_start

    orig_reg = pp.PubPublisherProxy.__init__

    def pub_init(self, conf, matchmaker):
        orig_reg(self, conf, matchmaker)
        log(ev='register_publisher', key='PUBLISHERS',
            value='%s,%s' % (self.host, self.sync_channel.sync_host),
            pub=self.host, sync=self.sync_channel.sync_host)
    pp.PubPublisherProxy.__init__ = pub_init

    orig_rin = qp.UniversalQueueProxy._receive_in_request

    def receive_in(self, socket):
        payload = orig_rin(self, socket)
        env = payload[0]
        log(ev='broker_recv', msg_type=G1_TYPES[env['msg_type']],
            message_id=_s(env['message_id']), envelope=env_fields(env),
            body_frames=len(payload) - 1,
            body_len=sum(len(b) for b in payload[1:]))
        return payload
    qp.UniversalQueueProxy._receive_in_request = receive_in

    def pub_send(self, multipart_message):
        # PubPublisherProxy.send_request's own body (less its LOG line).
        envelope = multipart_message[zmq_names.MULTIPART_IDX_ENVELOPE]
        msg_type = envelope[zmq_names.FIELD_MSG_TYPE]
        target = envelope[zmq_names.FIELD_TARGET]
        if msg_type not in zmq_names.MULTISEND_TYPES:
            raise pb.UnsupportedSendPattern(msg_type)
        topic_filter = zmq_address.target_to_subscribe_filter(target)
        self.socket.send(topic_filter, zmq.SNDMORE)
        body = multipart_message[zmq_names.MULTIPART_IDX_BODY]
        t = now()
        self.socket.send(body)
        tr = now()
        log(t=t, t_returned=tr, t_logged=now(), ev='send_pub',
            msg_type=G1_TYPES[msg_type], g1_msg_type=msg_type,
            message_id=_s(envelope[zmq_names.FIELD_MSG_ID]),
            socket_type=self.socket.type_name(), sid=sid_of(self.socket),
            pub=self.host, topic_filter=_s(topic_filter),
            envelope=env_fields(envelope), body_len=len(body),
            body_pickle_protocol=body[1] if body[:1] == b'\x80' else None)
    pp.PubPublisherProxy.send_request = pub_send

    # ---- servers ----------------------------------------------------------
    orig_sub = sc_mod.SubConsumer._subscribe_on_target

    def subscribe(self, target):
        before = set(self.subscriptions)
        r = orig_sub(self, target)
        log(ev='subscribe', sid=sid_of(self.socket), topic=target.topic,
            server=target.server,
            added=sorted(_s(x) for x in self.subscriptions - before),
            subscriptions=sorted(_s(x) for x in self.subscriptions))
        return r
    sc_mod.SubConsumer._subscribe_on_target = subscribe

    orig_onp = sc_mod.SubConsumer.on_publishers

    def on_publishers(self, publishers):
        r = orig_onp(self, publishers)
        log(ev='sub_publishers', sid=sid_of(self.socket),
            publishers=sorted(list(p) for p in publishers),
            subscriptions=sorted(_s(x) for x in self.subscriptions))
        return r
    sc_mod.SubConsumer.on_publishers = on_publishers

    def sub_receive(self, socket):
        # SubConsumer._receive_request's own body (less its LOG lines).
        topic_filter = socket.recv()
        assert topic_filter in self.subscriptions
        request = socket.recv_pyobj()
        message = request.message or {}
        log(ev='recv_sub', via='SUB', sid=sid_of(socket),
            msg_type=G1_TYPES[request.msg_type],
            message_id=_s(request.message_id),
            topic_filter=_s(topic_filter),
            topic=request.target.topic, server=request.target.server,
            method=message.get('method') or message.get('event_type'),
            pickle_keys=sorted(request.__dict__))
        return request
    sc_mod.SubConsumer._receive_request = sub_receive


def instrument_g2(log, watch, sid_of):
    """5.0-5.4 (G2; recorded: 5.4.0): every message is two `send_pyobj`
    calls of the driver's ZmqSocket after `b''` (the server's ROUTER:
    after `reply_id | b''`): the Envelope (SNDMORE), then the request or
    the Response.  Every sender goes through ZmqSocket.send_pyobj (the
    CALL publisher's CallSender, DealerPublisher's closures, one call per
    copy of a CAST_FANOUT/NOTIFY, ZmqIncomingRequest.reply), so that is
    wrapped: it remembers the Envelope and logs the message when the last
    frame is sent.  Receipt: RouterConsumer._receive_request (request,
    envelope and reply_id, the routing identity of the connection) and
    the client's ReplyWaiter.receive_method."""
    from oslo_messaging._drivers.zmq_driver import zmq_socket
    from oslo_messaging._drivers.zmq_driver.client import zmq_response
    from oslo_messaging._drivers.zmq_driver.client.publishers.dealer \
        import zmq_reply_waiter as rw
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_consumer_base as cb
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_router_consumer as rc
    zmq = zmq_socket.zmq            # eventlet.green.zmq, as the driver's

    def envelope_fields(env):
        if env is None:
            return None
        t = env.target
        return {'class': '%s.%s' % (type(env).__module__, type(env).__name__),
                'msg_type': env.msg_type, 'message_id': _s(env.message_id),
                'topic': t.topic if t else None,
                'server': t.server if t else None,
                'routing_key': _s(env.routing_key),
                'reply_id': _s(env.reply_id),
                'kwargs': dict(env._kwargs)}

    # 5.4.0's own body (self.handle.send_pyobj(...)).  For the last frame
    # t is taken just before it: the green socket pickles (its own default
    # protocol) and hands the pickle to libzmq.
    def send_pyobj(self, obj, *args, **kwargs):
        flags = args[0] if args else kwargs.get('flags', 0)
        if flags & zmq.SNDMORE:         # the Envelope
            self._zt_envelope = obj
            self.handle.send_pyobj(obj, *args, **kwargs)
            return
        t = now()
        self.handle.send_pyobj(obj, *args, **kwargs)
        tr = now()
        env = envelope_fields(self.__dict__.pop('_zt_envelope', None))
        if isinstance(obj, zmq_response.Response):
            log(t=t, t_returned=tr, t_logged=now(), ev='send',
                msg_type='REPLY', pickle_class='%s.%s' % (
                    type(obj).__module__, type(obj).__name__),
                response_type=obj.type_, message_id=_s(obj.message_id),
                reply_id=_s(obj.reply_id), socket_type=self.type_name(),
                sid=sid_of(self), zmq_identity=_s(self.handle.identity),
                addr=self._zt_addr, failure=obj.failure is not None,
                pickle_protocol=pickle_protocol(self), envelope=env)
        elif hasattr(obj, 'msg_type'):
            log(t=t, t_returned=tr, t_logged=now(), envelope=env,
                **pickled_request_fields(self, obj,
                                         TYPE_NAMES[int(obj.msg_type)],
                                         sid_of))
    zmq_socket.ZmqSocket.send_pyobj = send_pyobj

    log_binds(log, watch, sid_of)

    # What each bound socket registers in the name service.
    orig_tu = cb.TargetUpdater.__init__

    def tu_init(self, conf, matchmaker, target, host, socket_type):
        orig_tu(self, conf, matchmaker, target, host, socket_type)
        log_listen(log, host, target, socket_type)
    cb.TargetUpdater.__init__ = tu_init

    orig_rr = rc.RouterConsumer._receive_request

    def receive_request(self, socket):
        request, envelope, reply_id = orig_rr(self, socket)
        log_recv(log, 'ROUTER', TYPE_NAMES[int(request.msg_type)], request,
                 reply_id, socket._zt_addr,
                 envelope=envelope_fields(envelope))
        return request, envelope, reply_id
    rc.RouterConsumer._receive_request = receive_request

    orig_rm = rw.ReplyWaiter.receive_method

    def receive_method(self, socket):
        reply = orig_rm(self, socket)
        log(ev='recv_reply', message_id=_s(reply.message_id),
            sid=sid_of(socket), failure=reply.failure is not None)
        return reply
    rw.ReplyWaiter.receive_method = receive_method


def ident_str(b):
    """A ZeroMQ routing identity as text: itself if printable ASCII, else
    0x<hex> (libzmq's generated ids are b'\\x00' + a 32-bit counter)."""
    if b is None:
        return None
    if isinstance(b, str):
        return b
    b = bytes(b)
    try:
        t = b.decode('ascii')
        if t.isprintable():
            return t
    except UnicodeDecodeError:
        pass
    return '0x' + b.hex()


class _ReqRef(object):
    """Stands for one raw REQ socket of ReqPublisher (early G1), so the
    helpers written for the driver's ZmqSocket (sid_of, watch,
    pickle_protocol) work on it."""
    def __init__(self, handle):
        self.handle = handle
        self.connections = set()

    def type_name(self):
        return 'REQ'


def instrument_early(log, watch, sid_of, src_ip):
    """2.7.0 and 3.0.0 (early G1, Mitaka dev cycle), zmq_use_broker =
    false.  Calls: ReqPublisher makes a new zmq.Context and REQ socket per
    call, connects it to one server's ROUTER, send_pyobj(request) (REQ
    adds the b'' delimiter), waits for one reply and closes the socket.
    Casts, fanouts, notifications: DealerPublisher, b'' then
    send_pyobj(request) on the driver's ZmqSocket (one DEALER per
    str(target)).  Server: one ROUTER per listener; replies
    (ZmqIncomingRequest.reply) and, in 2.7.0, ACKs
    (RouterIncomingMessage.acknowledge) go back `reply_id | b'' |
    send_pyobj(dict)`.

    Logged: each send with `t` just before the pickle (the last frame) is
    handed to the green socket (ZmqSocket.send_pyobj wrapped; the REQ
    sockets' send_pyobj patched on eventlet's green Socket class, for REQ
    sockets only); the REQ connect (source address rewritten as for
    DEALERs, monitored), close and reply receipt; the servers' receipt
    (RouterConsumer's recv_pyobj, with the routing id read just before),
    their redis registrations (StrictRedis.lpush) and the client's ACK
    receipt."""
    from oslo_messaging._drivers.zmq_driver import zmq_socket
    from oslo_messaging._drivers.zmq_driver.client.publishers import \
        zmq_dealer_publisher as dp
    from oslo_messaging._drivers.zmq_driver.client.publishers import \
        zmq_req_publisher as rq
    from oslo_messaging._drivers.zmq_driver.server import \
        zmq_incoming_message as im
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_router_consumer as rc
    import functools
    import redis
    zmq = zmq_socket.zmq            # eventlet.green.zmq, as the driver's
    Green = zmq.Socket

    def sends_of(sock):
        return sock.__dict__.setdefault('_zt_sends', [])

    def dict_fields(obj):
        return {'pickle_class': '%s.%s' % (type(obj).__module__,
                                           type(obj).__name__),
                'pickle_keys': sorted(obj) if isinstance(obj, dict)
                else sorted(obj.__dict__)}

    # The driver's own body (self.handle.send_pyobj(...)), timed.
    def send_pyobj(self, obj, *args, **kwargs):
        t = now()
        self.handle.send_pyobj(obj, *args, **kwargs)
        sends_of(self).append((t, now(), dict_fields(obj)))
    zmq_socket.ZmqSocket.send_pyobj = send_pyobj

    def recv(self, *args, **kwargs):
        r = self.handle.recv(*args, **kwargs)
        self.__dict__.setdefault('_zt_recv', []).append(r)
        del self._zt_recv[:-4]
        return r
    zmq_socket.ZmqSocket.recv = recv

    # Bound sockets: bind_address is tcp://* in 2.7.0 (all interfaces),
    # tcp://<rpc_zmq_bind_address> in 3.0.0; clients are told
    # <rpc_zmq_host>:<port>, which names the socket here.
    orig_rp = zmq_socket.ZmqRandomPortSocket.__init__

    def rp_init(self, conf, *args, **kwargs):
        orig_rp(self, conf, *args, **kwargs)
        self._zt_addr = '%s:%d' % (conf.rpc_zmq_host, self.port)
        watch(self)
        log(ev='bind', zmq_identity=_s(self.handle.identity),
            socket_type=self.type_name(), addr=self._zt_addr,
            bind_address=self.bind_address, sid=sid_of(self))
    zmq_socket.ZmqRandomPortSocket.__init__ = rp_init

    # What each process registers in redis (2.7.0: LPUSH
    # ZMQ-target-<topic>:<exchange or *>:<server or *>; 3.0.0: LPUSH
    # ROUTER_<topic>.<server>, ROUTER_<topic>, ROUTER_<server>).
    orig_lpush = redis.StrictRedis.lpush

    def lpush(self, name, *values):
        log(ev='register', key=_s(name), values=[_s(v) for v in values])
        return orig_lpush(self, name, *values)
    redis.StrictRedis.lpush = lpush

    def req_fields(ref, request):
        rec = pickled_request_fields(ref, request,
                                     G1_TYPES[request.msg_type], sid_of)
        rec['g1_msg_type'] = request.msg_type
        rec['zmq_identity'] = ident_str(ref.handle.identity)
        rec['pickle_keys'] = sorted(request.__dict__)
        return rec

    # ---- client: REQ per call -------------------------------------------
    orig_gconnect = Green.connect

    def g_connect(self, addr):
        if self.socket_type != zmq.REQ or not addr.startswith('tcp://') \
                or ';' in addr:
            return orig_gconnect(self, addr)
        ref = _ReqRef(self)
        self.__dict__['_zt_ref'] = ref
        real = addr
        if src_ip:
            real = 'tcp://%s:0;%s' % (src_ip, addr[len('tcp://'):])
        watch(ref)
        r = orig_gconnect(self, real)
        ref.connections.add(addr)
        log(ev='connect', zmq_identity=ident_str(self.identity),
            socket_type='REQ', address=addr, real=real, sid=sid_of(ref))
        return r
    Green.connect = g_connect

    orig_gsend_pyobj = Green.send_pyobj

    @functools.wraps(orig_gsend_pyobj)      # pickle_protocol() reads it
    def g_send_pyobj(self, obj, *args, **kwargs):
        ref = self.__dict__.get('_zt_ref')
        if ref is None:
            return orig_gsend_pyobj(self, obj, *args, **kwargs)
        t = now()
        r = orig_gsend_pyobj(self, obj, *args, **kwargs)
        sends_of(self).append((t, now(), dict_fields(obj)))
        return r
    Green.send_pyobj = g_send_pyobj

    orig_grecv_pyobj = Green.recv_pyobj

    def g_recv_pyobj(self, *args, **kwargs):
        obj = orig_grecv_pyobj(self, *args, **kwargs)
        ref = self.__dict__.get('_zt_ref')
        if ref is not None:
            log(ev='recv_reply', sid=sid_of(ref), keys=sorted(obj),
                failure=obj.get('failure') is not None)
        return obj
    Green.recv_pyobj = g_recv_pyobj

    orig_gclose = Green.close

    def g_close(self, *args, **kwargs):
        ref = self.__dict__.get('_zt_ref')
        r = orig_gclose(self, *args, **kwargs)
        if ref is not None and not ref.__dict__.get('_zt_closed'):
            ref._zt_closed = True
            log(ev='req_close', sid=sid_of(ref))
        return r
    Green.close = g_close

    # ReqPublisher._send_request is PublisherBase's (socket.send_pyobj).
    orig_req_send = rq.ReqPublisher._send_request

    def req_send(self, socket, request):
        ref = socket._zt_ref
        sends = sends_of(socket)
        n0 = len(sends)
        t0 = now()
        r = orig_req_send(self, socket, request)
        t, tr, _ = sends[n0]
        log(t=t, t_before=t0, t_returned=tr, t_logged=now(),
            **req_fields(ref, request))
        return r
    rq.ReqPublisher._send_request = req_send

    # ---- client: DEALER (casts, fanouts, notifications) -----------------
    orig_dsend = dp.DealerPublisher._send_request

    def dealer_send(self, socket, request):
        sends = sends_of(socket)
        n0 = len(sends)
        t0 = now()
        r = orig_dsend(self, socket, request)
        t, tr, _ = sends[n0]
        rec = req_fields(socket, request)
        rec['zmq_identity'] = ident_str(socket.handle.identity)
        log(t=t, t_before=t0, t_returned=tr, t_logged=now(), **rec)
        return r
    dp.DealerPublisher._send_request = dealer_send

    ack_rx = getattr(dp, 'AcknowledgementReceiver', None)
    if ack_rx is not None:
        orig_rack = ack_rx._receive_acknowledgement

        def receive_ack(self, socket):
            ack = orig_rack(self, socket)
            log(ev='recv_ack', message_id=_s(ack.get('id')),
                keys=sorted(ack))
            return ack
        ack_rx._receive_acknowledgement = receive_ack

    # ---- server ---------------------------------------------------------
    # reply_id of each request this process received, by (socket, id):
    # 2.7.0's ZmqIncomingRequest does not keep the request.
    got = {}
    orig_recv_pyobj = zmq_socket.ZmqSocket.recv_pyobj

    def recv_pyobj(self, *args, **kwargs):
        obj = orig_recv_pyobj(self, *args, **kwargs)
        if self.socket_type == zmq.ROUTER and hasattr(obj, 'msg_type'):
            reply_id = self._zt_recv[-2]
            got[(self._zt_addr, reply_id)] = obj.message_id
            log_recv(log, 'ROUTER', G1_TYPES[obj.msg_type], obj,
                     ident_str(reply_id), self._zt_addr,
                     pickle_keys=sorted(obj.__dict__))
        return obj
    zmq_socket.ZmqSocket.recv_pyobj = recv_pyobj

    def server_send(sock, msg_type, message_id, reply_id, n0, t0, **extra):
        sends = sends_of(sock)
        if len(sends) <= n0:
            return
        t, tr, df = sends[n0]
        log(t=t, t_before=t0, t_returned=tr, t_logged=now(), ev='send',
            msg_type=msg_type, message_id=_s(message_id),
            reply_id=ident_str(reply_id), socket_type=sock.type_name(),
            sid=sid_of(sock), zmq_identity=_s(sock.handle.identity),
            addr=sock._zt_addr, pickle_protocol=pickle_protocol(sock),
            **dict(df, **extra))

    orig_reply = im.ZmqIncomingRequest.reply

    def reply(self, reply=None, failure=None, log_failure=True):
        sock = self.reply_socket
        n0 = len(sends_of(sock))
        t0 = now()
        r = orig_reply(self, reply=reply, failure=failure,
                       log_failure=log_failure)
        req = getattr(self, 'request', None)
        mid = req.message_id if req is not None else \
            got[(sock._zt_addr, self.reply_id)]
        # (3.0.0 through the broker: the id the broker put in the
        # envelope, sent back as a frame and as the dict's 'id'.)
        extra = {}
        if getattr(req, 'proxy_reply_id', None):
            extra['proxy_reply_id'] = ident_str(req.proxy_reply_id)
        server_send(sock, 'REPLY', mid, self.reply_id, n0, t0,
                    g1_msg_type='reply', failure=failure is not None,
                    log_failure=log_failure, **extra)
        return r
    im.ZmqIncomingRequest.reply = reply

    orig_ack = rc.RouterIncomingMessage.acknowledge

    def acknowledge(self):
        sock = self.socket
        n0 = len(sends_of(sock))
        t0 = now()
        r = orig_ack(self)
        server_send(sock, 'ACK', self.msg_id, self.reply_id, n0, t0)
        return r
    rc.RouterIncomingMessage.acknowledge = acknowledge


def _env_fields(env):
    """3.0.0's envelope dict (client -> broker -> server), as logged."""
    t = env.get('target')
    rec = {'keys': sorted(env), 'msg_type': env.get('msg_type'),
           'message_id': _s(env.get('message_id')),
           'topic': t.topic if t is not None else None,
           'server': t.server if t is not None else None,
           'fanout': bool(t.fanout) if t is not None else None}
    if 'timeout' in env:
        rec['timeout'] = env['timeout']
    if 'reply_id' in env:
        rec['reply_id'] = ident_str(env['reply_id'])
    return rec


def instrument_om30_broker(log, sid_of):
    """3.0.0 with zmq_use_broker = true (on top of instrument_early).

    Client: calls go on a new REQ socket per call to the local broker
    (ipc://<ipc dir>/zmq-broker): ReqPublisherLight._send_request sends
    pickle(envelope dict) (SNDMORE), pickle(CallRequest) (REQ adds b'');
    casts, fanouts and notifications go on DealerPublisherLight's DEALER
    (ipc): b'' | pickle(envelope) | pickle(request).  Both bodies are
    re-implemented here with `t` taken before the last frame (ipc: not on
    the wire).  Broker (UniversalQueueProxy, native threads): its receipt
    (_receive_in_request: the envelope, with reply_id = the REQ's identity
    for CALLs), its TCP sends (DealerPublisherProxy._send_request,
    re-implemented with `t` just before the last frame, the request's
    pickle as the client sent it) and the replies it hands back to its
    ipc ROUTER (_redirect_reply).  Servers: RouterConsumerBroker reads
    the envelope (logged with proxy_reply_id); replies are logged by
    instrument_early's ZmqIncomingRequest.reply wrapper."""
    import pickle
    from oslo_messaging._drivers.zmq_driver import zmq_socket
    from oslo_messaging._drivers.zmq_driver.broker import zmq_broker
    from oslo_messaging._drivers.zmq_driver.broker import \
        zmq_queue_proxy as qp
    from oslo_messaging._drivers.zmq_driver.client.publishers import \
        zmq_dealer_publisher as dp
    from oslo_messaging._drivers.zmq_driver.client.publishers import \
        zmq_req_publisher as rq
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_router_consumer as rc
    import oslo_messaging
    zmq = zmq_socket.zmq            # eventlet.green.zmq, as the driver's
    Green = zmq.Socket

    def fields(ref, request):
        rec = pickled_request_fields(ref, request,
                                     G1_TYPES[request.msg_type], sid_of)
        rec['g1_msg_type'] = request.msg_type
        rec['zmq_identity'] = ident_str(ref.handle.identity)
        rec['pickle_keys'] = sorted(request.__dict__)
        return rec

    # ---- client -> broker (ipc) -----------------------------------------
    def req_light_send(self, socket, request):
        # ReqPublisherLight._send_request's own body (less its LOG line).
        ref = socket.__dict__.get('_zt_ipc_ref')
        if ref is None:
            ref = _ReqRef(socket)
            ref.connections.add(request.host)
            socket.__dict__['_zt_ipc_ref'] = ref
        envelope = request.create_envelope()
        socket.send_pyobj(envelope, zmq.SNDMORE)
        t = now()
        socket.send_pyobj(request)
        tr = now()
        log(t=t, t_returned=tr, t_logged=now(), ipc_hop='client->broker',
            envelope=_env_fields(envelope),
            **dict(fields(ref, request), ev='send_ipc'))
    rq.ReqPublisherLight._send_request = req_light_send

    orig_receive_reply = rq.ReqPublisher.__dict__['_receive_reply'].__func__

    def receive_reply(socket, request):
        ref = socket.__dict__.get('_zt_ipc_ref')
        sid = sid_of(ref) if ref is not None else None
        try:
            r = orig_receive_reply(socket, request)
        except oslo_messaging.MessagingTimeout:
            log(ev='call_timeout', sid=sid,
                message_id=_s(request.message_id))
            raise
        except Exception:
            log(ev='recv_reply', sid=sid, message_id=_s(request.message_id),
                failure=True)
            raise
        log(ev='recv_reply', sid=sid, message_id=_s(request.message_id),
            failure=False)
        return r
    rq.ReqPublisher._receive_reply = staticmethod(receive_reply)

    orig_gclose = Green.close

    def g_close(self, *args, **kwargs):
        ref = self.__dict__.get('_zt_ipc_ref')
        r = orig_gclose(self, *args, **kwargs)
        if ref is not None and not ref.__dict__.get('_zt_closed'):
            ref._zt_closed = True
            log(ev='req_close', sid=sid_of(ref))
        return r
    Green.close = g_close

    orig_light = dp.DealerPublisherLight.send_request

    def light_send(self, request):
        if request.msg_type == 'call':
            return orig_light(self, request)     # raises, as shipped
        # DealerPublisherLight.send_request's own body.
        ref = self.__dict__.get('_zt_ipc_ref')
        if ref is None:
            ref = _ReqRef(self.socket)
            ref.type_name = lambda: 'DEALER'
            ref.connections.add(_s(self.socket.getsockopt(
                zmq.LAST_ENDPOINT)))
            self._zt_ipc_ref = ref
        envelope = request.create_envelope()
        self.socket.send(b'', zmq.SNDMORE)
        self.socket.send_pyobj(envelope, zmq.SNDMORE)
        t = now()
        self.socket.send_pyobj(request)
        tr = now()
        log(t=t, t_returned=tr, t_logged=now(), ipc_hop='client->broker',
            envelope=_env_fields(envelope),
            **dict(fields(ref, request), ev='send_ipc'))
    dp.DealerPublisherLight.send_request = light_send

    # ---- broker -----------------------------------------------------------
    orig_start = zmq_broker.ZmqBroker.start

    def broker_start(self):
        r = orig_start(self)
        log(ev='ready', address=self.proxies[0].router_socket.getsockopt(
            zmq.LAST_ENDPOINT).decode())
        return r
    zmq_broker.ZmqBroker.start = broker_start

    orig_rin = qp.UniversalQueueProxy._receive_in_request

    def receive_in(self, socket):
        payload = orig_rin(self, socket)
        env = payload[0]
        log(ev='broker_recv', msg_type=G1_TYPES[env['msg_type']],
            message_id=_s(env['message_id']), envelope=_env_fields(env),
            body_frames=len(payload) - 1)
        return payload
    qp.UniversalQueueProxy._receive_in_request = receive_in

    def proxy_send(self, socket, multipart_message):
        # DealerPublisherProxy._send_request's own body.
        env = multipart_message[0]
        socket.send(b'', zmq.SNDMORE)
        socket.send_pyobj(env, zmq.SNDMORE)
        t = now()
        socket.send(multipart_message[1])
        tr = now()
        log(t=t, t_returned=tr, t_logged=now(), ev='send',
            msg_type=G1_TYPES[env['msg_type']],
            g1_msg_type=env['msg_type'], message_id=_s(env['message_id']),
            socket_type=socket.type_name(), sid=sid_of(socket),
            zmq_identity=ident_str(socket.handle.identity),
            connections=sorted(socket.connections),
            envelope=_env_fields(env),
            envelope_pickle_protocol=pickle_protocol(socket),
            body_len=len(multipart_message[1]))
    dp.DealerPublisherProxy._send_request = proxy_send

    orig_redirect = qp.UniversalQueueProxy._redirect_reply

    def redirect_reply(self, reply):
        body = pickle.loads(reply[-1]) if len(reply) >= 5 else None
        t = now()
        r = orig_redirect(self, reply)
        tr = now()
        log(t=t, t_returned=tr, ev='send_ipc', ipc_hop='broker->client',
            msg_type='REPLY', reply_type=_s(reply[1]),
            proxy_reply_id=ident_str(reply[2]),
            frames_in=len(reply), frames_out=len(reply[2:]),
            keys=sorted(body) if isinstance(body, dict) else None,
            dict_id=ident_str(body.get('id')) if isinstance(body, dict)
            else None,
            failure=body.get('failure') is not None
            if isinstance(body, dict) else None)
        return r
    qp.UniversalQueueProxy._redirect_reply = redirect_reply

    # ---- server -----------------------------------------------------------
    orig_rcb = rc.RouterConsumerBroker._receive_request

    def rcb_receive(self, socket):
        request, reply_id = orig_rcb(self, socket)
        log(ev='recv_envelope', message_id=_s(request.message_id),
            reply_id=ident_str(reply_id), addr=socket._zt_addr,
            proxy_reply_id=ident_str(request.proxy_reply_id))
        return request, reply_id
    rc.RouterConsumerBroker._receive_request = rcb_receive


def instrument_g2_proxy(log, watch, sid_of):
    """5.4.0 (G2) through oslo-messaging-zmq-proxy (use_router_proxy =
    use_pub_sub = true).  Every frame a process sends on a driver
    ZmqSocket (send, send_pyobj, send_multipart) is recorded per socket;
    the message is complete when a frame without SNDMORE is sent (`t`
    just before that call).  Logged from those records: the client's
    requests (CallSenderProxy._do_send_request, DealerPublisherProxy.
    _do_send_request: b'' | type | routing key | message id |
    pickle(context) | pickle(message)), the servers' REPLYs
    (DealerIncomingRequest.reply: b'' | 5 | reply id | message id |
    pickle(Response)); receipt: DealerConsumer and SubConsumer
    receive_message (the frames they read), the client's
    ReplyWaiterProxy.receive_method.  The proxy's forwarding is logged
    by run_proxy."""
    from oslo_messaging._drivers.zmq_driver import zmq_socket
    from oslo_messaging._drivers.zmq_driver.client.publishers.dealer \
        import zmq_dealer_publisher_proxy as dpp
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_consumer_base as cb
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_dealer_consumer as dc
    from oslo_messaging._drivers.zmq_driver.server.consumers import \
        zmq_sub_consumer as subc
    zmq = zmq_socket.zmq

    def sends_of(sock):
        return sock.__dict__.setdefault('_zt_sends', [])

    def flags_of(args, kwargs, i):
        return args[i] if len(args) > i else kwargs.get('flags', 0)

    def frame(x):
        return _s(bytes(x)) if isinstance(x, (bytes, bytearray)) else x

    def finish(sock, call, part, more, *args, **kwargs):
        parts = sock.__dict__.setdefault('_zt_parts', [])
        parts.extend(part)
        if more:
            return call(*args, **kwargs)
        t = now()
        r = call(*args, **kwargs)
        sends_of(sock).append((t, now(), sock.__dict__.pop('_zt_parts')))
        return r

    def send(self, *args, **kwargs):
        return finish(self, self.handle.send, [frame(args[0])],
                      flags_of(args, kwargs, 1) & zmq.SNDMORE,
                      *args, **kwargs)
    zmq_socket.ZmqSocket.send = send

    def send_pyobj(self, *args, **kwargs):
        obj = args[0]
        return finish(self, self.handle.send_pyobj, [{
            'pickle_class': '%s.%s' % (type(obj).__module__,
                                       type(obj).__name__),
            'pickle_protocol': pickle_protocol(self)}],
            flags_of(args, kwargs, 1) & zmq.SNDMORE, *args, **kwargs)
    zmq_socket.ZmqSocket.send_pyobj = send_pyobj

    def send_multipart(self, *args, **kwargs):
        return finish(self, self.handle.send_multipart,
                      [frame(f) for f in args[0]],
                      flags_of(args, kwargs, 1) & zmq.SNDMORE,
                      *args, **kwargs)
    zmq_socket.ZmqSocket.send_multipart = send_multipart

    def recv(self, *args, **kwargs):
        r = self.handle.recv(*args, **kwargs)
        self.__dict__.setdefault('_zt_rx', []).append(r)
        return r
    zmq_socket.ZmqSocket.recv = recv

    def recv_pyobj(self, *args, **kwargs):
        r = self.handle.recv_pyobj(*args, **kwargs)
        self.__dict__.setdefault('_zt_rx', []).append(r)
        return r
    zmq_socket.ZmqSocket.recv_pyobj = recv_pyobj

    log_binds(log, watch, sid_of)

    orig_tu = cb.TargetUpdater.__init__

    def tu_init(self, conf, matchmaker, target, host, socket_type):
        orig_tu(self, conf, matchmaker, target, host, socket_type)
        log(ev='listen', host=_s(host), topic=target.topic,
            server=target.server,
            listener_type={zmq.ROUTER: 'ROUTER', zmq.DEALER: 'DEALER'}.get(
                socket_type, str(socket_type)))
    cb.TargetUpdater.__init__ = tu_init

    def log_request(socket, request, n0, t0):
        t, tr, frames = sends_of(socket)[n0]
        rec = request_fields(socket, request,
                             TYPE_NAMES[int(request.msg_type)])
        rec.update(t=t, t_before=t0, t_returned=tr, t_logged=now(),
                   routing_key=frames[2], frames=frames,
                   sid=sid_of(socket), pickle_protocol=frames[-1][
                       'pickle_protocol'])
        if request.msg_type == 1:
            rec['timeout'] = request.timeout
        log(**rec)

    orig_cs = dpp.CallSenderProxy._do_send_request

    def cs_send(self, socket, request):
        n0, t0 = len(sends_of(socket)), now()
        r = orig_cs(self, socket, request)
        log_request(socket, request, n0, t0)
        return r
    dpp.CallSenderProxy._do_send_request = cs_send

    orig_dp = dpp.DealerPublisherProxy._do_send_request

    def dp_send(self, request, routing_key):
        n0, t0 = len(sends_of(self.socket)), now()
        r = orig_dp(self, request, routing_key)
        log_request(self.socket, request, n0, t0)
        return r
    dpp.DealerPublisherProxy._do_send_request = dp_send

    orig_reply = dc.DealerIncomingRequest.reply

    def reply(self, *args, **kwargs):
        sock = self.reply_socket
        n0, t0 = len(sends_of(sock)), now()
        failure = kwargs.get('failure', args[1] if len(args) > 1 else None)
        r = orig_reply(self, *args, **kwargs)
        t, tr, frames = sends_of(sock)[n0]
        log(t=t, t_before=t0, t_returned=tr, t_logged=now(), ev='send',
            msg_type='REPLY', message_id=_s(self.message_id),
            reply_id=_s(self.reply_id), socket_type=sock.type_name(),
            zmq_identity=_s(sock.handle.identity), sid=sid_of(sock),
            failure=failure is not None, frames=frames,
            pickle_class=frames[-1]['pickle_class'],
            pickle_protocol=frames[-1]['pickle_protocol'])
        return r
    dc.DealerIncomingRequest.reply = reply

    def method_of(message):
        message = message if isinstance(message, dict) else {}
        return message.get('method') or message.get('event_type')

    orig_drm = dc.DealerConsumer.receive_message

    def dealer_receive(self, socket):
        socket._zt_rx = []
        r = orig_drm(self, socket)
        rx = socket._zt_rx
        if len(rx) == 6:
            log(ev='recv', via='DEALER', reply_id=_s(rx[1]),
                msg_type=TYPE_NAMES[int(rx[2])], message_id=_s(rx[3]),
                zmq_identity=_s(socket.handle.identity),
                method=method_of(rx[5]))
        else:
            log(ev='recv_bad', via='DEALER', n=len(rx))
        return r
    dc.DealerConsumer.receive_message = dealer_receive

    orig_srm = subc.SubConsumer.receive_message

    def sub_receive(self, socket):
        socket._zt_rx = []
        r = orig_srm(self, socket)
        rx = socket._zt_rx
        if len(rx) == 4:
            log(ev='recv', via='SUB', topic_filter=_s(rx[0]),
                id_frame=_s(rx[1]), zmq_identity=_s(socket.handle.identity),
                method=method_of(rx[3]))
        else:
            log(ev='recv_bad', via='SUB', n=len(rx))
        return r
    subc.SubConsumer.receive_message = sub_receive

    def setsockopt(self, *args, **kwargs):
        if args and args[0] == zmq.SUBSCRIBE:
            log(ev='subscribe_opt', zmq_identity=_s(self.handle.identity),
                sid=sid_of(self), filter=_s(args[1]))
        return self.handle.setsockopt(*args, **kwargs)
    zmq_socket.ZmqSocket.setsockopt = setsockopt

    orig_subscribe = subc.SubConsumer._subscribe_on_target

    def subscribe(self, target):
        r = orig_subscribe(self, target)
        log(ev='subscribe', zmq_identity=_s(self.socket.handle.identity),
            sid=sid_of(self.socket), topic=target.topic,
            server=target.server)
        return r
    subc.SubConsumer._subscribe_on_target = subscribe

    orig_rm = dpp.ReplyWaiterProxy.receive_method

    def receive_method(self, socket):
        reply = orig_rm(self, socket)
        log(ev='recv_reply', message_id=_s(reply.message_id),
            sid=sid_of(socket), failure=reply.failure is not None)
        return reply
    dpp.ReplyWaiterProxy.receive_method = receive_method


def redis_host(sc):
    return sc.get('redis', sc['net'] + '.4')


def role_conf(work, sc, host, name):
    redis_ip = redis_host(sc)
    proxy = 'true' if sc.get('proxy') else 'false'
    path = os.path.join(work, '%s.conf' % name)
    if sc.get('early'):
        # 2.7.0/3.0.0: no transport_url scheme for zmq yet (rpc_backend),
        # options in [DEFAULT]; the default zmq_use_broker = true sends
        # casts/fanouts/notifications (3.0.0: calls too) through a local
        # oslo-messaging-zmq-broker over ipc: off, for direct TCP.
        text = ('[DEFAULT]\n'
                'rpc_backend = zmq\n'
                'rpc_zmq_matchmaker = redis\n'
                'rpc_response_timeout = 10\n'
                'rpc_zmq_host = %s\n'
                'rpc_zmq_bind_address = %s\n'
                '%s'
                'rpc_zmq_ipc_dir = %s\n'
                '[matchmaker_redis]\n'
                'host = %s\n'
                'port = 6379\n' % (
                    host, host,
                    # new_om30x_broker_pickle: the default (true).
                    '' if sc.get('broker') else 'zmq_use_broker = false\n',
                    work, redis_ip))
    elif sc.get('generation') == 'G2' and sc.get('proxy'):
        # 5.4.0 through the proxy: its defaults (use_pub_sub =
        # use_router_proxy = true) left alone.  The proxy reads
        # rpc_zmq_host/rpc_zmq_bind_address for its sockets.
        text = ('[DEFAULT]\n'
                'transport_url = zmq+redis://%s:6379/\n'
                'rpc_response_timeout = 10\n'
                'rpc_zmq_host = %s\n'
                'rpc_zmq_bind_address = %s\n'
                'rpc_zmq_ipc_dir = %s\n'
                '[matchmaker_redis]\n'
                'host = %s\n'
                'port = 6379\n' % (redis_ip, host, host, work, redis_ip))
    elif 'conf_opts' in sc:
        # 5.7.0, 5.13.0: the release's defaults but what conf_opts sets
        # (5.13.0: use_pub_sub = true); 5.13.0's proxy takes its name
        # service from [zmq_proxy_opts] url.
        text = ('[DEFAULT]\n'
                'transport_url = zmq+redis://%s:6379/\n'
                'rpc_response_timeout = 10\n'
                '[oslo_messaging_zmq]\n'
                'rpc_zmq_host = %s\n'
                'rpc_zmq_bind_address = %s\n'
                'rpc_zmq_serialization = %s\n'
                '%s'
                'rpc_zmq_ipc_dir = %s\n'
                '[matchmaker_redis]\n'
                'host = %s\n'
                'port = 6379\n'
                '[zmq_proxy_opts]\n'
                'host = %s\n'
                'url = zmq+redis://%s:6379/\n'
                % (redis_ip, host, host, sc['serialization'],
                   ''.join('%s = %s\n' % kv
                           for kv in sorted(sc['conf_opts'].items())),
                   work, redis_ip, host, redis_ip))
    elif sc.get('local_brokers'):
        # 4.6.1 with its defaults (use_pub_sub = true, rpc_cast_timeout,
        # ports, ... untouched).  Set: the transport (zmq+redis), the
        # node's name and address (three nodes on one host), and one ipc
        # dir per node: the brokers of three nodes sharing one file
        # system would otherwise all bind <dir>/zmq-broker.
        ipc = os.path.join(work, 'ipc-' + host)
        text = ('[DEFAULT]\n'
                'transport_url = zmq+redis://%s:6379/\n'
                'rpc_response_timeout = 10\n'
                'rpc_zmq_host = %s\n'
                'rpc_zmq_bind_address = %s\n'
                'rpc_zmq_ipc_dir = %s\n'
                '[matchmaker_redis]\n'
                'host = %s\n'
                'port = 6379\n'
                % (redis_ip, host, host, ipc, redis_ip))
    elif sc.get('generation') in ('G1', 'G2'):
        # 4.6.x and 5.0-5.4 register their zmq options in [DEFAULT];
        # Mitaka's default use_pub_sub = true sends fanout/notify to a
        # local broker (ipc://<ipc dir>/zmq-broker), 5.x's defaults
        # use_pub_sub = use_router_proxy = true need the proxy: off, for
        # direct DEALER copies.
        text = ('[DEFAULT]\n'
                'transport_url = zmq+redis://%s:6379/\n'
                'rpc_response_timeout = 10\n'
                'rpc_zmq_host = %s\n'
                'rpc_zmq_bind_address = %s\n'
                'use_pub_sub = false\n'
                '%s'
                'rpc_zmq_ipc_dir = %s\n'
                '[matchmaker_redis]\n'
                'host = %s\n'
                'port = 6379\n'
                % (redis_ip, host, host,
                   'use_router_proxy = false\n'
                   if sc['generation'] == 'G2' else '', work, redis_ip))
    else:
        text = ('[DEFAULT]\n'
                'transport_url = zmq+redis://%s:6379/\n'
                'rpc_response_timeout = 10\n'
                '[oslo_messaging_zmq]\n'
                'rpc_zmq_host = %s\n'
                'rpc_zmq_bind_address = %s\n'
                'rpc_zmq_serialization = %s\n'
                'use_router_proxy = %s\n'
                'use_pub_sub = %s\n'
                'rpc_use_acks = %s\n'
                'rpc_zmq_ipc_dir = %s\n'
                '[matchmaker_redis]\n'
                'host = %s\n'
                'port = 6379\n'
                '[zmq_proxy_opts]\n'
                'host = %s\n'
                % (redis_ip, host, host, sc['serialization'], proxy, proxy,
                   proxy, work, redis_ip, host))
    with open(path, 'w') as f:
        f.write(text)
    if name in ('zmq-proxy', 'zmq-broker') or name.startswith('zmq-broker.'):
        return path
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    conf(['--config-file', path], project='zmqtrace-record')
    return conf


def rpc_transport(om, conf):
    return (om.get_rpc_transport(conf) if hasattr(om, 'get_rpc_transport')
            else om.get_transport(conf))


def notification_transport(om, conf):
    # 2.7.0 has no get_notification_transport: a transport of its own.
    return (om.get_notification_transport(conf)
            if hasattr(om, 'get_notification_transport')
            else om.get_transport(conf))


UPTIME = ' 12:00:00 up 1 day,  1:00,  0 users,  load average: 0.1'


def run_server(args, sc):
    import eventlet
    eventlet.monkey_patch()
    import oslo_messaging as om
    work, name = args.work, args.name
    log = EventLog(os.path.join(work, '%s.events.jsonl' % name), name)
    host = {'node-1': sc['net'] + '.2', 'node-2': sc['net'] + '.3'}[name]
    # Servers connect only through the proxy (DEALER, SUB): from their IP.
    instrument(log, host, sc)
    conf = role_conf(work, sc, host, name)
    transport = rpc_transport(om, conf)

    class Compute(object):
        def ping(self, ctxt, arg):
            return {'pong': arg, 'server': name}

        def get_host_uptime(self, ctxt):
            return UPTIME

        def boom(self, ctxt, reason):
            raise ValueError('boom: %s' % reason)

        def echo(self, ctxt, **kw):
            return kw

        def slow(self, ctxt, delay):
            eventlet.sleep(delay)
            return {'late': delay, 'server': name}

        def record_metering_data(self, ctxt, data):
            log(ev='handled', method='record_metering_data', n=len(data))

        def update_service_capabilities(self, ctxt, capabilities):
            log(ev='handled', method='update_service_capabilities')

    class Notifications(object):
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            log(ev='handled', method=event_type, priority='info')

        def error(self, ctxt, publisher_id, event_type, payload, metadata):
            log(ev='handled', method=event_type, priority='error')

    servers = [om.get_rpc_server(
        transport, om.Target(topic='compute', server=name), [Compute()],
        executor='eventlet')]
    if name == 'node-1':
        ntransport = notification_transport(om, conf)
        servers.append(om.get_notification_listener(
            ntransport, [om.Target(topic='notifications')],
            [Notifications()], executor='eventlet'))
    for s in servers:
        s.start()
    # Ready once the name service has our records.
    import redis
    r = redis.StrictRedis(host=redis_host(sc), port=6379)
    want = 2 if name == 'node-2' else 3
    deadline = now() + 30
    while now() < deadline:
        keys = [k.decode() for k in r.keys('*')]
        mine = [k for k in keys if 'compute' in k and name in k] + \
               [k for k in keys if 'notifications' in k]
        if len([k for k in keys if 'compute' in k]) >= 2 and \
                len(mine) >= want - 1:
            break
        eventlet.sleep(0.1)
    r.close()
    log(ev='ready', keys=sorted(keys))
    stop = os.path.join(work, 'stop')
    while not os.path.exists(stop):
        eventlet.sleep(0.1)
    for s in servers:
        s.stop()
    for s in servers:
        s.wait()
    transport.cleanup()
    log(ev='exit')
    os._exit(0)


def run_proxy(args, sc):
    """The real oslo-messaging-zmq-proxy (_cmd/zmq_proxy.main), threads and
    plain pyzmq as shipped; its forwarding functions wrapped to log each
    message it sends (t taken after the send returned)."""
    import threading
    import zmq
    log = EventLog(os.path.join(args.work, 'zmq-proxy.events.jsonl'),
                   'zmq-proxy')
    host = sc['net'] + '.4'
    path = role_conf(args.work, sc, host, 'zmq-proxy')
    g2 = sc.get('generation') == 'G2'
    if sc.get('variant') in ('om513', 'om814'):
        return run_proxy_om513(args, sc, log, path)
    instrument(log, None, sc if g2 or sc.get('variant') else None)
    if g2:      # 5.4.0: broker/zmq_queue_proxy, PubPublisherProxy
        from oslo_messaging._drivers.zmq_driver.broker import \
            zmq_queue_proxy as qp
        from oslo_messaging._drivers.zmq_driver.client.publishers import \
            zmq_pub_publisher
        pp = argparse.Namespace(
            PublisherProxy=zmq_pub_publisher.PubPublisherProxy)
    else:
        from oslo_messaging._drivers.zmq_driver.proxy import \
            zmq_queue_proxy as qp
        from oslo_messaging._drivers.zmq_driver.proxy import \
            zmq_publisher_proxy as pp
    from oslo_messaging._cmd import zmq_proxy

    orig_redirect = qp.UniversalQueueProxy._redirect_message

    def redirect(socket, multipart_message):
        msg_type, routing_key, reply_id, message_id = multipart_message[:4]
        # (5.4.0 hands over its ZmqSocket wrapper.)
        sock = socket if hasattr(socket, 'getsockopt') else socket.handle
        t0 = now()
        r = orig_redirect(socket, multipart_message)
        log(t=now(), t_before=t0, ev='proxy_send',
            msg_type=TYPE_NAMES[int(msg_type)],
            routing_key=_s(routing_key), reply_id=_s(reply_id),
            message_id=_s(message_id),
            endpoint=_s(sock.getsockopt(zmq.LAST_ENDPOINT)))
        return r
    qp.UniversalQueueProxy._redirect_message = staticmethod(redirect)

    orig_publish = pp.PublisherProxy.send_request

    def publish(self, multipart_message):
        msg_type, topic_filter, reply_id, message_id = multipart_message[:4]
        t0 = now()
        r = orig_publish(self, multipart_message)
        log(t=now(), t_before=t0, ev='proxy_publish',
            msg_type=TYPE_NAMES[int(msg_type)],
            topic_filter=_s(topic_filter), reply_id=_s(reply_id),
            message_id=_s(message_id), endpoint=self.host)
        return r
    pp.PublisherProxy.send_request = publish

    def ready():
        import redis
        r = redis.StrictRedis(host=redis_host(sc), port=6379)
        while True:
            keys = [k.decode() for k in r.keys('*')]
            if 'PUBLISHERS' in keys and 'ROUTERS' in keys:
                break
            time.sleep(0.1)
        r.close()
        log(ev='ready', keys=sorted(keys))
    t = threading.Thread(target=ready)
    t.daemon = True
    t.start()
    sys.argv = ['oslo-messaging-zmq-proxy', '--config-file', path]
    zmq_proxy.main()
    log(ev='exit')
    os._exit(0)


def proxy_ready(log, sc):
    import threading

    def ready():
        import redis
        r = redis.StrictRedis(host=redis_host(sc), port=6379)
        while True:
            keys = [k.decode() for k in r.keys('*')]
            if 'PUBLISHERS' in keys and 'ROUTERS' in keys:
                break
            time.sleep(0.1)
        r.close()
        log(ev='ready', keys=sorted(keys))
    t = threading.Thread(target=ready)
    t.daemon = True
    t.start()


def run_proxy_om513(args, sc, log, path):
    """5.13.0's oslo-messaging-zmq-proxy (DoubleRouterProxy: frontend and
    backend ports random): its forwarding moved to proxy/zmq_sender.py;
    CentralRouterSender (ROUTER -> ROUTER), CentralPublisherSender (PUB)
    and CentralAckSender (ack_pub_sub only) are wrapped, t taken after
    the send returned.  multipart_message is [reply_id, b'', type,
    routing_key, message_id, body]; 8.1.4's (same classes, versioned) has
    the version after b'': [reply_id, b'', version, type, routing_key,
    message_id, body...]."""
    import zmq
    instrument(log, None, sc)
    from oslo_messaging._drivers.zmq_driver.proxy import zmq_sender as zs
    from oslo_messaging._cmd import zmq_proxy

    v = 1 if sc['variant'] == 'om814' else 0    # the version frame

    def ids(mm):
        return dict(msg_type=TYPE_NAMES[int(mm[2 + v])], reply_id=_s(mm[0]),
                    message_id=_s(mm[4 + v]))

    orig_route = zs.CentralRouterSender.send_message

    def route(self, socket, mm):
        t0 = now()
        r = orig_route(self, socket, mm)
        log(t=now(), t_before=t0, ev='proxy_send', routing_key=_s(mm[3 + v]),
            endpoint=_s(socket.handle.getsockopt(zmq.LAST_ENDPOINT)),
            **ids(mm))
        return r
    zs.CentralRouterSender.send_message = route

    orig_pub = zs.CentralPublisherSender.send_message

    def publish(self, socket, mm):
        t0 = now()
        r = orig_pub(self, socket, mm)
        log(t=now(), t_before=t0, ev='proxy_publish',
            topic_filter=_s(mm[3 + v]), endpoint=socket.connect_address,
            **ids(mm))
        return r
    zs.CentralPublisherSender.send_message = publish

    orig_ack = zs.CentralAckSender.send_message

    def ack(self, socket, mm):
        t0 = now()
        r = orig_ack(self, socket, mm)
        log(t=now(), t_before=t0, ev='proxy_ack', **ids(mm))
        return r
    zs.CentralAckSender.send_message = ack

    proxy_ready(log, sc)
    sys.argv = ['oslo-messaging-zmq-proxy', '--config-file', path]
    zmq_proxy.main()
    log(ev='exit')
    os._exit(0)


def run_broker(args, sc):
    """3.0.0's oslo-messaging-zmq-broker (_cmd/zmq_broker.main), as
    shipped (native threads; its DealerPublisherProxy's sockets are the
    driver's ZmqSocket on eventlet.green.zmq, not monkey-patched), on the
    client host: ipc://<ipc dir>/zmq-broker, TCP from the client's IP."""
    # new_mitaka_defaults_pickle: one broker per node, named
    # zmq-broker.<node>.
    name = args.name
    log = EventLog(os.path.join(args.work, name + '.events.jsonl'), name)
    host = sc['net'] + {'zmq-broker': '.1', 'zmq-broker.client': '.1',
                        'zmq-broker.node-1': '.2',
                        'zmq-broker.node-2': '.3'}[name]
    path = role_conf(args.work, sc, host, name)
    # The monitor sockets of its green DEALERs are read from native
    # threads in this (not monkey-patched) process: read them through a
    # native shadow socket (instrumentation only).
    import zmq as plainzmq
    from eventlet.green import zmq as gzmq
    orig_gms = gzmq.Socket.get_monitor_socket
    keep = []

    def get_monitor_socket(self, *a, **kw):
        m = orig_gms(self, *a, **kw)
        keep.append(m)
        return plainzmq.Socket.shadow(m.underlying)
    gzmq.Socket.get_monitor_socket = get_monitor_socket
    instrument(log, host, sc)
    from oslo_messaging._cmd import zmq_broker
    sys.argv = ['oslo-messaging-zmq-broker', '--config-file', path]
    try:
        zmq_broker.main()
    except KeyboardInterrupt:
        pass
    log(ev='exit')
    os._exit(0)



def run_client(args, sc):
    import datetime
    import eventlet
    eventlet.monkey_patch()
    import oslo_messaging as om
    work = args.work
    log = EventLog(os.path.join(work, 'client.events.jsonl'), 'client')
    instrument(log, sc['net'] + '.1', sc)
    conf = role_conf(work, sc, sc['net'] + '.1', 'client')
    transport = rpc_transport(om, conf)
    ntransport = notification_transport(om, conf)
    client = om.RPCClient(transport, om.Target(topic='compute'))
    # (2.7.0/3.0.0 take topic=, not topics=.)
    notifier = om.Notifier(ntransport, publisher_id='compute.node-9',
                           driver='messagingv2',
                           **({'topic': 'notifications'} if sc.get('early')
                              else {'topics': ['notifications']}))
    # msgpack (oslo msgpackutils) and pickle (G1) carry bytes and
    # datetimes; JSON does not.
    binary_ok = sc['serialization'] in ('msgpack', 'pickle')
    ctxt = {'user_id': 'a1b2c3', 'project_id': 'p-0001',
            'request_id': 'req-00000000-1111-2222-3333-444444444444',
            'roles': ['admin', 'member'], 'is_admin': True,
            'auth_token': 'SECRET-TOKEN-do-not-print', 'read_deleted': 'no',
            'user_name': 'demo', 'project_name': 'demo'}
    seq = [0]

    def api(op, method, server=None, timeout=None, **kw):
        seq[0] += 1
        rec = {'ev': 'api', 'seq': seq[0], 'op': op, 'topic': 'compute',
               'server': server, 'method': method}
        t = now()
        try:
            if op == 'notify':
                rec['topic'] = 'notifications.' + kw['priority']
                getattr(notifier, kw['priority'])(ctxt, method, kw['payload'])
            else:
                c = client.prepare(server=server, fanout=(op == 'fanout'),
                                   timeout=timeout)
                if op == 'call':
                    rec['result'] = c.call(ctxt, method, **kw)
                else:
                    c.cast(ctxt, method, **kw)
        except Exception as e:
            rec['error'] = '%s: %s' % (type(e).__name__,
                                       str(e).splitlines()[0][:200])
        rec['t'] = t
        rec['t_done'] = now()
        log(**rec)

    samples = [{'counter_name': 'cpu_util', 'counter_type': 'gauge',
                'counter_unit': '%', 'counter_volume': 12.5 + i,
                'resource_id': 'inst-%04d' % i,
                'timestamp': '2025-11-26T08:00:%02d' % i}
               for i in range(3)]
    caps = {'host': 'node-9', 'free_ram_mb': 2048, 'vcpus': 8}
    # A body exercising the msgpack types: nested containers, negative
    # and 64-bit integers, float, None/bool, non-ASCII text, (msgpack and
    # pickle only) bytes and a datetime (oslo msgpackutils ext type; a
    # pickled datetime.datetime).
    rich = {'ints': [0, -1, 127, 128, -33, 65535, 2 ** 32, -(2 ** 40)],
            'ratio': 0.25, 'none': None, 'flags': [True, False],
            'text': u'h\u00e9llo \u2603', 'nested': {'a': {'b': [1, [2]]}}}
    if binary_ok:
        rich['blob'] = bytes(range(16))
        rich['when'] = datetime.datetime(2025, 11, 26, 8, 0, 0)
    for rnd in range(2):
        api('call', 'ping', server='node-1', arg=1 + 10 * rnd)
        api('call', 'ping', server='node-2', arg=2 + 10 * rnd)
        api('call', 'get_host_uptime')
        api('cast', 'record_metering_data', data=samples)
        api('fanout', 'update_service_capabilities', capabilities=caps)
        eventlet.sleep(0.05)
    api('call', 'echo', server='node-1', **rich)
    api('call', 'boom', server='node-2', reason='no valid host')
    api('notify', 'compute.instance.create.end', priority='info',
        payload={'instance_id': 'inst-0001', 'state': 'active'})
    api('notify', 'compute.instance.create.error', priority='error',
        payload={'instance_id': 'inst-0002', 'state': 'error'})
    eventlet.sleep(0.05)
    # 70,000-character text: msgpack str32 / a long JSON string, and a
    # multi-segment ZMTP long frame.
    if sc.get('big_cast', True):
        api('cast', 'record_metering_data', server='node-1',
            data=[{'counter_name': 'blob', 'note': 'x' * 70000}])
    # The client gives up after 1 s (the timeout must be an integer); the
    # reply still goes on the wire 1.5 s after the request.
    api('call', 'slow', server='node-2', timeout=1, delay=1.5)
    eventlet.sleep(0.7)
    api('call', 'ping', server='node-1', arg=99)
    api('notify', 'compute.instance.delete.end', priority='info',
        payload={'instance_id': 'inst-0001'})
    eventlet.sleep(0.3)
    transport.cleanup()
    ntransport.cleanup()
    log(ev='exit')
    os._exit(0)


# ---------------------------------------------------------------------------
# Legacy impl_zmq (oslo.messaging <= 1.10): role side.
# ---------------------------------------------------------------------------

def legacy_setup(args, sc, host):
    """Global cfg.CONF (the legacy driver insists on it) for one host."""
    work = args.work
    ip = sc['hosts'][host]
    ipc = os.path.join(work, 'ipc-' + host)
    os.makedirs(ipc, exist_ok=True)
    ring = os.path.join(work, 'ring.json')
    path = os.path.join(work, '%s-%s.conf' % (host, args.role))
    with open(path, 'w') as f:
        f.write('[DEFAULT]\n'
                'rpc_backend = zmq\n'
                'rpc_zmq_host = %s\n'
                'rpc_zmq_bind_address = %s\n'
                'rpc_zmq_ipc_dir = %s\n'
                'rpc_zmq_matchmaker = ring\n'
                'rpc_zmq_port = 9501\n'
                'rpc_response_timeout = 10\n'
                '[matchmaker_ring]\n'
                'ringfile = %s\n' % (host, ip, ipc, ring))
    return path


def instrument_legacy(log, sc, host):
    """Wrap the legacy driver: every PUSH connection gets this host's
    address and a pinned source port (so src is known exactly, as in the
    re-enactments), hostnames resolve through the scenario's table (no
    /etc/hosts), and every multipart handed to libzmq is logged with its
    frames.  Receivers log what they read from TCP."""
    import itertools
    import logging
    from oslo_messaging._drivers import impl_zmq

    my_ip = sc['hosts'][host]
    ports = itertools.count(40000 + 1000 * int(my_ip.rsplit('.', 1)[1]))

    orig_init = impl_zmq.ZmqClient.__init__

    def client_init(self, addr):
        h, port = addr[len('tcp://'):].rsplit(':', 1)
        ip = sc['hosts'].get(h, h)
        sport = next(ports)
        orig_init(self, 'tcp://%s:%d;%s:%s' % (my_ip, sport, ip, port))
        self.outq._zt = {'src': '%s:%d' % (my_ip, sport),
                         'dst': '%s:%s' % (ip, port), 'addr': addr}
    impl_zmq.ZmqClient.__init__ = client_init

    orig_send = impl_zmq.ZmqSocket.send

    def send(self, data, **kw):
        info = getattr(self, '_zt', None)
        t = now()
        r = orig_send(self, data, **kw)
        if info:
            log(ev='send', t=t, t_returned=now(),
                frames=[bytes(f).decode('utf-8') for f in data], **info)
        return r
    impl_zmq.ZmqSocket.send = send

    orig_recv = impl_zmq.ZmqSocket.recv

    def recv(self, **kw):
        data = orig_recv(self, **kw)
        if self.addr.startswith('tcp://'):
            fr = [getattr(f, 'bytes', f) for f in data]
            log(ev='recv', msg_id_frame=fr[0].decode('utf-8', 'replace'),
                topic=fr[1].decode('utf-8', 'replace'),
                envelope=fr[2].decode('utf-8', 'replace'), nframes=len(fr))
        return data
    impl_zmq.ZmqSocket.recv = recv

    class Warnings(logging.Handler):
        def emit(self, record):
            log(ev='warning', logger=record.name, line=record.getMessage())
    h = Warnings(level=logging.WARNING)
    logging.getLogger('oslo_messaging').addHandler(h)


def run_legacy_receiver(args, sc):
    import eventlet
    eventlet.monkey_patch()
    host = args.name
    log = EventLog(os.path.join(args.work, 'receiver-%s.events.jsonl'
                                % host), 'receiver-' + host)
    path = legacy_setup(args, sc, host)
    instrument_legacy(log, sc, host)
    from oslo_messaging._cmd import zmq_receiver
    from oslo_messaging._drivers import impl_zmq
    orig = impl_zmq.ZmqProxy.consume_in_thread

    def consume_in_thread(self):
        orig(self)
        log(ev='ready')
    impl_zmq.ZmqProxy.consume_in_thread = consume_in_thread
    # The real oslo-messaging-zmq-receiver entry point.
    sys.argv = ['oslo-messaging-zmq-receiver', '--config-file', path]
    zmq_receiver.main()


def run_legacy_server(args, sc):
    import eventlet
    eventlet.monkey_patch()
    host = args.name
    log = EventLog(os.path.join(args.work, '%s.events.jsonl' % host), host)
    path = legacy_setup(args, sc, host)
    from oslo_config import cfg
    import oslo_messaging as om
    instrument_legacy(log, sc, host)
    cfg.CONF(['--config-file', path], project='oslo')
    transport = om.get_transport(cfg.CONF)

    class Compute(object):
        def ping(self, ctxt, arg):
            return {'pong': arg, 'server': host}

        def get_host_uptime(self, ctxt):
            return UPTIME

        def boom(self, ctxt, reason):
            raise ValueError('boom: %s' % reason)

        def run_instance(self, ctxt, instance_id):
            log(ev='handled', method='run_instance')

        def record_metering_data(self, ctxt, data):
            log(ev='handled', method='record_metering_data')

        def update_service_capabilities(self, ctxt, capabilities):
            log(ev='handled', method='update_service_capabilities')

    class Notifications(object):
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            log(ev='handled', method=event_type, priority='info')

        def error(self, ctxt, publisher_id, event_type, payload, metadata):
            log(ev='handled', method=event_type, priority='error')

    servers = [om.get_rpc_server(
        transport, om.Target(topic='compute', server=host), [Compute()],
        executor='eventlet')]
    if host == 'compute1':
        servers.append(om.get_notification_listener(
            transport, [om.Target(topic='notifications')],
            [Notifications()], executor='eventlet'))
    for s in servers:
        s.start()
    eventlet.sleep(0.3)
    log(ev='ready')
    stop = os.path.join(args.work, 'stop')
    while not os.path.exists(stop):
        eventlet.sleep(0.1)
    for s in servers:
        s.stop()
    log(ev='exit')
    os._exit(0)


def run_legacy_client(args, sc):
    import eventlet
    eventlet.monkey_patch()
    host = args.name
    log = EventLog(os.path.join(args.work, 'client.events.jsonl'), host)
    path = legacy_setup(args, sc, host)
    from oslo_config import cfg
    import oslo_messaging as om
    instrument_legacy(log, sc, host)
    cfg.CONF(['--config-file', path], project='oslo')
    transport = om.get_transport(cfg.CONF)
    # A version, as every real RPC API had: without one the 1.10
    # dispatcher fails on the driver's 'version': None.
    client = om.RPCClient(transport, om.Target(topic='compute',
                                               version='1.0'))
    notifier_v1 = om.Notifier(transport, publisher_id='compute.controller',
                              driver='messaging', topic='notifications')
    notifier_v2 = om.Notifier(transport, publisher_id='compute.controller',
                              driver='messagingv2', topic='notifications')
    ctxt = {'user_id': 'a1b2c3', 'project_id': 'p-0001',
            'request_id': 'req-00000000-1111-2222-3333-444444444444',
            'roles': ['admin', 'member'], 'is_admin': True,
            'auth_token': None, 'read_deleted': 'no'}
    seq = [0]

    def api(op, method, server=None, topic='compute', **kw):
        seq[0] += 1
        rec = {'ev': 'api', 'seq': seq[0], 'op': op, 'topic': topic,
               'server': server, 'method': method}
        t = now()
        try:
            if op == 'notify':
                rec['topic'] = 'notifications.' + kw['priority']
                rec['notifier'] = kw['driver']
                n = notifier_v1 if kw['driver'] == 'messaging' \
                    else notifier_v2
                getattr(n, kw['priority'])(ctxt, method, kw['payload'])
            else:
                c = client.prepare(topic=topic, server=server,
                                   fanout=(op == 'fanout'))
                if op == 'call':
                    rec['result'] = c.call(ctxt, method, **kw)
                else:
                    c.cast(ctxt, method, **kw)
        except Exception as e:
            rec['error'] = '%s: %s' % (type(e).__name__,
                                       str(e).splitlines()[0][:200])
        rec['t'] = t
        rec['t_done'] = now()
        log(**rec)

    caps = {'host': 'controller', 'free_ram_mb': 2048}
    api('call', 'ping', server='compute1', arg=1)
    api('call', 'ping', server='compute2', arg=2)
    # No server: the ring picks compute1, then compute2.
    api('call', 'get_host_uptime')
    api('call', 'get_host_uptime')
    api('cast', 'run_instance', server='compute2', instance_id='inst-0001')
    # One message per host of the ring, each on its own connection.
    api('fanout', 'update_service_capabilities', capabilities=caps)
    eventlet.sleep(0.1)
    api('call', 'boom', server='compute1', reason='no valid host')
    # Four casts without waiting: four concurrent connections.
    for i in range(4):
        api('cast', 'record_metering_data', server='compute%d' % (1 + i % 2),
            data=[{'counter_name': 'cpu_util', 'counter_volume': i}])
    eventlet.sleep(0.2)
    api('notify', 'compute.instance.create.end', priority='info',
        driver='messaging', payload={'instance_id': 'inst-0001'})
    api('notify', 'compute.instance.create.error', priority='error',
        driver='messagingv2', payload={'instance_id': 'inst-0002'})
    # Not in the ring: the driver warns and sends nothing.
    api('cast', 'select_destinations', topic='scheduler', request_spec={})
    eventlet.sleep(0.1)
    api('call', 'ping', server='compute1', arg=99)
    eventlet.sleep(0.5)
    log(ev='exit')
    os._exit(0)


# ---------------------------------------------------------------------------
# Orchestrator side: system Python.
# ---------------------------------------------------------------------------

def site_packages(venv):
    out = subprocess.check_output(
        [os.path.join(venv, 'bin', 'python'), '-c',
         'import sysconfig; print(sysconfig.get_paths()["purelib"])'])
    return out.decode().strip()


def ensure_venv(root, version):
    venv = os.path.join(root, 'om-' + version)
    py = os.path.join(venv, 'bin', 'python')
    marker = os.path.join(venv, '.zmqtrace-ready')
    if os.path.exists(marker):
        return py
    if os.path.exists(venv):
        shutil.rmtree(venv)
    subprocess.check_call([sys.executable, '-m', 'venv', venv])
    pip = [py, '-m', 'pip', 'install', '-q', '--disable-pip-version-check']
    subprocess.check_call(pip + VERSIONS[version]['pins'])
    subprocess.check_call(pip + ['--no-deps', 'oslo.messaging==' + version])
    sp = site_packages(venv)
    pdir = os.path.join(PATCH_DIR, version)
    for p in sorted(os.listdir(pdir)) if os.path.isdir(pdir) else []:
        if p.endswith('.patch'):
            subprocess.check_call(['patch', '-p1', '-d', sp, '-i',
                                   os.path.join(pdir, p)])
    open(marker, 'w').close()
    return py


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise SystemExit('timed out waiting for ' + what)


def read_events(work):
    evs = []
    for fn in sorted(os.listdir(work)):
        if fn.endswith('.events.jsonl'):
            with open(os.path.join(work, fn)) as f:
                evs.extend(json.loads(l) for l in f if l.strip())
    evs.sort(key=lambda e: e['t'])
    return evs


def record(name, sc, args):
    py = ensure_venv(args.venv_root, sc['oslo_messaging'])
    work = os.path.join(args.work_root, name)
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    net = sc['net']
    me = os.path.abspath(__file__)
    procs = []

    def spawn(cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        procs.append(p)
        return p

    try:
        redis_p = spawn(['redis-server', '--bind', redis_host(sc), '--port',
                         '6379', '--save', '', '--appendonly', 'no',
                         '--dir', work, '--protected-mode', 'no'],
                        stdout=open(os.path.join(work, 'redis.log'), 'w'))
        wait_for(lambda: subprocess.call(
            ['redis-cli', '-h', redis_host(sc), 'ping'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0,
            10, 'redis')
        pcap_tmp = os.path.join(work, name + '.pcap')
        tcpdump_err = open(os.path.join(work, 'tcpdump.err'), 'w')
        tcpdump = spawn(['tcpdump', '-i', 'lo', '-s', '0', '-n', '-Z',
                         'root', '-w', pcap_tmp, 'net', net + '.0/24'],
                        stderr=tcpdump_err)
        wait_for(lambda: 'listening on' in open(
            os.path.join(work, 'tcpdump.err')).read(), 10, 'tcpdump')
        time.sleep(0.3)
        role = [py, '-W', 'ignore', me, '_role', name, '--work', work]

        def ready(node):
            p = os.path.join(work, node + '.events.jsonl')
            return os.path.exists(p) and '"ready"' in open(p).read()
        proxy = None
        if sc.get('proxy'):
            proxy = spawn(role + ['--role', 'proxy', '--name', 'zmq-proxy'],
                          stdout=open(os.path.join(work, 'zmq-proxy.log'),
                                      'w'), stderr=subprocess.STDOUT)
            wait_for(lambda: ready('zmq-proxy'), 30, 'proxy')
        brokers = []
        if sc.get('local_brokers'):
            # One oslo-messaging-zmq-broker per node, before the servers:
            # a server's SubConsumer reads PUBLISHERS once, when it
            # starts, and connects its SUB to every PUB listed.
            for node in ('client', 'node-1', 'node-2'):
                bname = 'zmq-broker.' + node
                brokers.append(spawn(
                    role + ['--role', 'broker', '--name', bname],
                    stdout=open(os.path.join(work, bname + '.log'), 'w'),
                    stderr=subprocess.STDOUT))
                wait_for(lambda: ready(bname), 30, bname)
        servers = []
        for node in ('node-1', 'node-2'):
            servers.append(spawn(
                role + ['--role', 'server', '--name', node],
                stdout=open(os.path.join(work, node + '.log'), 'w'),
                stderr=subprocess.STDOUT))
        wait_for(lambda: ready('node-1') and ready('node-2'), 60,
                 'servers')
        if brokers:
            # ... and each SUB connected to the three PUBs (node-1: the
            # RPC server's and the notification listener's SUB).
            def subs_connected(node, n_subs):
                p = os.path.join(work, node + '.events.jsonl')
                evs = [json.loads(l) for l in open(p) if l.strip()]
                sids = {e['sid'] for e in evs
                        if e['ev'] == 'sub_publishers'}
                conn = [e for e in evs if e['ev'] == 'conn' and
                        e['what'] == 'connected' and e['sid'] in sids]
                return len(sids) == n_subs and len(conn) == 3 * n_subs
            wait_for(lambda: subs_connected('node-1', 2) and
                     subs_connected('node-2', 1), 30, 'SUB connections')
        broker = None
        if sc.get('broker'):
            # The client host's oslo-messaging-zmq-broker (the servers
            # send no requests: they need none).
            broker = spawn(role + ['--role', 'broker', '--name',
                                   'zmq-broker'],
                           stdout=open(os.path.join(work, 'zmq-broker.log'),
                                       'w'), stderr=subprocess.STDOUT)
            wait_for(lambda: ready('zmq-broker'), 30, 'broker')
        time.sleep(0.2)
        clog = open(os.path.join(work, 'client.log'), 'w')
        client = spawn(role + ['--role', 'client', '--name', 'client'],
                       stdout=clog, stderr=subprocess.STDOUT)
        if client.wait(timeout=120) != 0:
            raise SystemExit('client failed: see %s/client.log' % work)
        time.sleep(0.3)
        if broker:
            # Before the servers: its DEALERs would retry connecting to
            # them (empty TCP connections, RST) while it runs.
            broker.send_signal(signal.SIGINT)
            broker.wait(timeout=10)
            time.sleep(0.2)
        open(os.path.join(work, 'stop'), 'w').close()
        for p in servers:
            p.wait(timeout=30)
        for p in brokers:
            # After the servers: their SUBs would otherwise retry
            # connecting to the stopped PUBs.
            time.sleep(0.2)
            p.send_signal(signal.SIGINT)
            p.wait(timeout=10)
        if proxy:
            proxy.send_signal(signal.SIGINT)
            proxy.wait(timeout=10)
        time.sleep(0.3)
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)
        redis_p.send_signal(signal.SIGTERM)
        redis_p.wait(timeout=10)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    err = open(os.path.join(work, 'tcpdump.err')).read()
    drops = [l for l in err.splitlines() if 'dropped by kernel' in l]
    if not drops or not drops[0].startswith('0 '):
        raise SystemExit('tcpdump reported drops: %r' % drops)
    if sc.get('broker'):
        truth = build_broker_truth(name, sc, read_events(work))
        verify_broker(pcap_tmp, truth)
    elif sc.get('proxy') and sc.get('generation') == 'G2':
        truth = build_g2_proxy_truth(name, sc, read_events(work))
        verify_g2_proxy(pcap_tmp, truth)
    elif sc.get('early'):
        truth = build_early_truth(name, sc, read_events(work))
        verify_early(pcap_tmp, truth)
    elif sc.get('variant'):                     # 5.7.0, 5.13.0
        truth = build_proxy_truth(name, sc, read_events(work))
        verify_g3_variant(pcap_tmp, truth, sc)
    elif sc.get('local_brokers'):               # 4.6.1 defaults
        truth = build_g1_pubsub_truth(name, sc, read_events(work))
    else:
        truth = (build_proxy_truth if sc.get('proxy') else build_truth)(
            name, sc, read_events(work))
    if sc.get('generation') in ('G1', 'G2') and not sc.get('early') and \
            not sc.get('proxy'):
        verify_pickled(pcap_tmp, truth)
    os.makedirs(args.out, exist_ok=True)
    shutil.copy(pcap_tmp, os.path.join(args.out, name + '.pcap'))
    with open(os.path.join(args.out, name + '.truth.json'), 'w') as f:
        json.dump(truth, f, indent=1, sort_keys=False)
        f.write('\n')
    size = os.path.getsize(os.path.join(args.out, name + '.pcap'))
    print('%s: %d bytes, %d messages, %d calls; %s' % (
        name, size, truth['summary']['messages'], truth['summary']['calls'],
        drops[0]))


def record_legacy(name, sc, args):
    py = ensure_venv(args.venv_root, sc['oslo_messaging'])
    work = os.path.join(args.work_root, name)
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    with open(os.path.join(work, 'ring.json'), 'w') as f:
        json.dump(sc['ring'], f)
    net = sc['net']
    me = os.path.abspath(__file__)
    procs = []

    def spawn(cmd, logname):
        p = subprocess.Popen(cmd, stdout=open(os.path.join(work, logname),
                                              'w'),
                             stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    def ready(fn):
        p = os.path.join(work, fn)
        return os.path.exists(p) and '"ready"' in open(p).read()

    try:
        pcap_tmp = os.path.join(work, name + '.pcap')
        tcpdump = subprocess.Popen(
            ['tcpdump', '-i', 'lo', '-s', '0', '-n', '-Z', 'root', '-w',
             pcap_tmp, 'net', net + '.0/24'],
            stderr=open(os.path.join(work, 'tcpdump.err'), 'w'))
        procs.append(tcpdump)
        wait_for(lambda: 'listening on' in open(
            os.path.join(work, 'tcpdump.err')).read(), 10, 'tcpdump')
        time.sleep(0.3)
        role = [py, '-W', 'ignore', me, '_role', name, '--work', work]
        receivers = []
        for host in sc['hosts']:
            receivers.append(spawn(role + ['--role', 'receiver', '--name',
                                           host], 'receiver-%s.log' % host))
        wait_for(lambda: all(ready('receiver-%s.events.jsonl' % h)
                             for h in sc['hosts']), 30, 'receivers')
        servers = [spawn(role + ['--role', 'server', '--name', h],
                         '%s.log' % h) for h in ('compute1', 'compute2')]
        wait_for(lambda: ready('compute1.events.jsonl') and
                 ready('compute2.events.jsonl'), 30, 'servers')
        client = spawn(role + ['--role', 'client', '--name', 'controller'],
                       'client.log')
        if client.wait(timeout=120) != 0:
            raise SystemExit('client failed: see %s/client.log' % work)
        time.sleep(0.5)
        open(os.path.join(work, 'stop'), 'w').close()
        for p in servers:
            p.wait(timeout=30)
        for p in receivers:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
        time.sleep(0.3)
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    err = open(os.path.join(work, 'tcpdump.err')).read()
    drops = [l for l in err.splitlines() if 'dropped by kernel' in l]
    if not drops or not drops[0].startswith('0 '):
        raise SystemExit('tcpdump reported drops: %r' % drops)
    truth = build_legacy_truth(name, sc, read_events(work))
    os.makedirs(args.out, exist_ok=True)
    shutil.copy(pcap_tmp, os.path.join(args.out, name + '.pcap'))
    with open(os.path.join(args.out, name + '.truth.json'), 'w') as f:
        json.dump(truth, f, indent=1)
        f.write('\n')
    size = os.path.getsize(os.path.join(args.out, name + '.pcap'))
    print('%s: %d bytes, %d messages, %d calls; %s' % (
        name, size, truth['summary']['messages'], truth['summary']['calls'],
        drops[0]))


def build_legacy_truth(name, sc, evs):
    """The legacy truth format (as legacy_liberty_ring.truth.json): one
    entry per multipart on one PUSH->PULL connection, described from the
    frames the sender handed to libzmq."""
    ip_host = {v: k for k, v in sc['hosts'].items()}
    messages = []
    for e in evs:
        if e['ev'] != 'send':
            continue
        fr = e['frames']
        host = ip_host[e['src'].split(':')[0]]
        m = {'t': round(e['t'], 6), 'src': e['src'], 'dst': e['dst'],
             'sender_host': host,
             'sender_role': 'client' if e['process'] == 'controller'
             else 'server',
             'kind': None, 'msg_id_frame': fr[0], 'topic': fr[1],
             'envelope': fr[2], 'nframes': len(fr)}
        if fr[2] == 'cast':
            ctx, msg = json.loads(fr[3])
            assert isinstance(ctx, str)     # double-encoded context
        else:
            pairs = dict(zip(fr[4::2], fr[5::2]))
            m['oslo.version'] = pairs['oslo.version']
            m['flattened_keys'] = fr[4::2]
            msg = json.loads(pairs['oslo.message'])
        method = msg.get('method')
        m['method'] = method
        if method == '-reply':
            m['kind'] = 'call'
            m['method'] = msg['args']['msg'][-1]['method']
            m['call_msg_id'] = msg['args']['msg_id']
            m['reply_topic'] = msg['args']['topic']
        elif method == '-process_reply':
            m['kind'] = 'reply'
            m['call_msg_id'] = msg['args']['msg_id']
            m['failure'] = any(isinstance(r, dict) and 'exc' in r
                               for r in msg['args']['response'])
        elif method is None and 'event_type' in msg:
            m['kind'] = 'notification'
            m['event_type'] = msg['event_type']
            m['priority'] = msg['priority']
            m['payload_message_id'] = msg['message_id']
        elif fr[1].startswith('fanout~'):
            m['kind'] = 'fanout'
        else:
            m['kind'] = 'cast'
        messages.append(m)
    messages.sort(key=lambda m: m['t'])
    recv = [e for e in evs if e['ev'] == 'recv']
    # Every message sent reached the receiver of its host.
    sent = sorted((m['topic'], m['msg_id_frame']) for m in messages)
    got = sorted((r['topic'], r['msg_id_frame']) for r in recv)
    if sent != got:
        raise SystemExit('sent and received differ:\n%r\n%r' % (sent, got))
    calls = []
    for m in messages:
        if m['kind'] != 'call':
            continue
        rep = [r for r in messages if r['kind'] == 'reply'
               and r['call_msg_id'] == m['call_msg_id']]
        c = {'call_msg_id': m['call_msg_id'], 'method': m['method'],
             'topic': m['topic'], 'reply_topic': m['reply_topic'],
             't_request': m['t'], 'request_src': m['src'],
             'request_dst': m['dst']}
        if rep:
            r = rep[0]
            c.update(t_reply=r['t'], reply_src=r['src'], reply_dst=r['dst'],
                     latency_s=round(r['t'] - m['t'], 6),
                     failure=r['failure'])
        calls.append(c)
    api = sorted(({k: v for k, v in e.items()} for e in evs
                  if e['ev'] == 'api'), key=lambda a: a['seq'])
    warnings = [{'log': e['process'], 'logger': e['logger'],
                 'line': e['line']} for e in evs if e['ev'] == 'warning']
    by = {}
    for m in messages:
        k = '%s %s %s' % (m['kind'], m['topic'],
                          m.get('event_type') or m['method'])
        by[k] = by.get(k, 0) + 1
    return {
        'capture': name + '.pcap',
        'generator': {
            'kind': 'real oslo.messaging legacy impl_zmq on Python 3.11 + '
                    'eventlet, with Python 3 patches (captures/tools/'
                    'oslo_patches/%s)' % sc['oslo_messaging'],
            'oslo_messaging': sc['oslo_messaging'],
            'matchmaker': 'MatchMakerRing (ringfile)',
            'receiver': 'oslo-messaging-zmq-receiver (impl_zmq.ZmqProxy, '
                        'real _cmd.zmq_receiver.main) per host on '
                        '<ip>:9501, own rpc_zmq_ipc_dir per host',
            'connections': 'one new PUSH socket, zmq context and TCP '
                           'connection per message (ZmqClient per _cast)',
            'source_address': 'pinned: tcp://<host ip>:<port>;<dst>:9501, '
                              'ports counted from 40000 + 1000 * last '
                              'octet (src exact, no socket-table lookup)',
            'clock': 'epoch seconds of the generating host; same clock as '
                     'the pcap timestamps; t = just before send_multipart '
                     '(the TCP connection is set up after that)',
            'recorder': 'captures/tools/record_oslo.py ' + name,
        },
        'hosts': sc['hosts'],
        'ring': sc['ring'],
        'messages': messages,
        'calls': calls,
        'dropped': [a for a in api if a.get('topic') == 'scheduler'],
        'warnings': warnings,
        'receiver_in_count': len(recv),
        'api_ops': api,
        'summary': {
            'messages': len(messages),
            'connections': len(messages),
            'by_kind_topic_method': dict(sorted(by.items())),
            'calls': len(calls),
            'calls_with_reply': sum(1 for c in calls if 't_reply' in c),
        },
    }


def build_proxy_truth(name, sc, evs, client_idents=None):
    """Every hop through oslo-messaging-zmq-proxy: client->proxy (frontend
    ROUTER), proxy->server and server->proxy (backend ROUTER),
    proxy->client, proxy-pub->server (PUB -> SUB).  A ROUTER's peer is
    named by the routing key (the peer DEALER's identity); the DEALER's
    own monitor gives that connection's 4-tuple."""
    net = sc['net']
    conns = {}
    for e in evs:
        if e['ev'] == 'conn' and e['what'] == 'connected':
            conns[(e['zmq_identity'], e['peer'])] = e['local']
    by_ident = {}
    for (ident, peer), local in conns.items():
        by_ident.setdefault(ident, []).append((peer, local))
    proxy_addrs = sorted({e['addr'] for e in evs
                          if e['ev'] == 'bind' and e['process'] == 'zmq-proxy'})
    requests = {}
    for e in evs:
        if e['ev'] == 'send' and e['process'] == 'client':
            requests.setdefault(e['message_id'], e)
    frontends = {peer for e in requests.values()
                 for peer, _ in by_ident.get(e['zmq_identity'], [])}
    problems = []

    def one(ident, peer=None):
        c = [(p, l) for p, l in by_ident.get(ident, [])
             if peer is None or p == peer]
        if len(c) != 1:
            problems.append('connection of %s to %s: %r' % (ident, peer, c))
            return None, None
        return c[0]

    def described(m, message_id):
        req = requests.get(message_id)
        if req:
            for k in ('topic', 'server', 'method', 'fanout'):
                m.setdefault(k, req[k])
            for k in ('event_type', 'payload_message_id', 'priority'):
                if k in req:
                    m.setdefault(k, req[k])
        return m

    messages = []
    for e in evs:
        if e['ev'] == 'send' and e['process'] == 'client':
            peer, local = one(e['zmq_identity'])
            m = {k: e[k] for k in ('msg_type', 'message_id', 'process',
                                   'socket_type', 'zmq_identity', 'topic',
                                   'server', 'fanout', 'method',
                                   'routing_key')}
            for k in ('event_type', 'payload_message_id', 'priority'):
                if k in e:
                    m[k] = e[k]
            m.update(t=round(e['t'], 6), hop='client->proxy', src=local,
                     dst=peer)
            messages.append(m)
        elif e['ev'] == 'send':                     # server ACK / REPLY
            peer, local = one(e['zmq_identity'])
            m = {'t': round(e['t'], 6), 'msg_type': e['msg_type'],
                 'message_id': e['message_id'], 'process': e['process'],
                 'socket_type': e['socket_type'],
                 'zmq_identity': e['zmq_identity'],
                 'reply_to': e['message_id'], 'reply_id': e['reply_id'],
                 'hop': 'server->proxy', 'src': local, 'dst': peer}
            if e['msg_type'] == 'REPLY':
                m['failure'] = e['failure']
            messages.append(described(m, e['message_id']))
        elif e['ev'] == 'proxy_send':
            ep = e['endpoint'][len('tcp://'):]
            # (5.4.0: clients and servers share the proxy's frontend
            # ROUTER; its routing key names the peer.)
            to_client = ep in frontends if client_idents is None else \
                e['routing_key'] in client_idents
            peer, local = one(e['routing_key'], ep)
            m = {'t': round(e['t'], 6), 'msg_type': e['msg_type'],
                 'message_id': e['message_id'], 'process': 'zmq-proxy',
                 'routing_key': e['routing_key'], 'reply_id': e['reply_id'],
                 'hop': 'proxy->client' if to_client else 'proxy->server',
                 'src': ep, 'dst': local}
            if to_client:
                m['reply_to'] = e['message_id']
            messages.append(described(m, e['message_id']))
        elif e['ev'] == 'proxy_publish':
            got = [r for r in evs if r['ev'] == 'recv' and
                   r.get('via') == 'SUB' and
                   r['message_id'] == e['message_id']]
            for r in got:
                peer, local = one(r['zmq_identity'], e['endpoint'])
                m = {'t': round(e['t'], 6), 'msg_type': e['msg_type'],
                     'message_id': e['message_id'], 'process': 'zmq-proxy',
                     'topic_filter': e['topic_filter'],
                     'reply_id': e['reply_id'], 'hop': 'proxy-pub->server',
                     'src': e['endpoint'], 'dst': local,
                     'received_by': r['process']}
                messages.append(described(m, e['message_id']))
    # Every request a server decoded from its DEALER came from the proxy.
    fwd = sorted((m['message_id'], m['msg_type']) for m in messages
                 if m['hop'] == 'proxy->server')
    dec = sorted((r['message_id'], r['msg_type']) for r in evs
                 if r['ev'] == 'recv' and r.get('via') == 'DEALER')
    if fwd != dec:
        problems.append('forwarded %r, decoded %r' % (fwd, dec))
    if problems:
        raise SystemExit('truth problems:\n' + '\n'.join(problems))
    messages.sort(key=lambda m: m['t'])
    api = sorted((dict(e) for e in evs if e['ev'] == 'api'),
                 key=lambda a: a['seq'])
    call_ops = [a for a in api if a['op'] == 'call']
    call_msgs = [m for m in messages
                 if m['hop'] == 'client->proxy' and m['msg_type'] == 'CALL']
    if len(call_ops) != len(call_msgs):
        raise SystemExit('%d call ops, %d CALL messages' % (
            len(call_ops), len(call_msgs)))
    calls = []
    for m, op in zip(call_msgs, call_ops):
        if op['method'] != m['method']:
            raise SystemExit('call op %r does not match %r' % (op, m))
        hop = {}
        for x in messages:
            if x['message_id'] == m['message_id'] and \
                    x['msg_type'] in ('ACK', 'REPLY'):
                hop.setdefault((x['hop'], x['msg_type']), x)
        rep = hop.get(('server->proxy', 'REPLY'))
        rep_c = hop.get(('proxy->client', 'REPLY'))
        ack = hop.get(('server->proxy', 'ACK'))
        calls.append({
            'message_id': m['message_id'], 'method': m['method'],
            'topic': m['topic'], 'server': m['server'],
            't_request': m['t'],
            't_ack': ack['t'] if ack else None,
            't_reply': rep['t'] if rep else None,
            't_reply_to_client': rep_c['t'] if rep_c else None,
            'wire_latency_s': round(rep['t'] - m['t'], 6) if rep else None,
            'failure': rep['failure'] if rep else None,
            't_api_start': op['t'], 't_api_done': op['t_done'],
            'error': op.get('error')})
    by = {}
    for m in messages:
        k = '%s %s %s %s' % (m['hop'], m['msg_type'], m.get('topic'),
                             m.get('method'))
        by[k] = by.get(k, 0) + 1
    endpoints = {}
    for e in evs:
        if e['ev'] == 'bind':
            endpoints.setdefault(e['process'], []).append(e['addr'])
    return {
        'capture': name + '.pcap',
        'generator': {
            'kind': 'real oslo.messaging new zmq driver and real '
                    'oslo-messaging-zmq-proxy',
            'oslo_messaging': sc['oslo_messaging'],
            'generation': sc['generation'],
            'wire_version_frame': sc['generation'] == 'G4',
            'mode': {'serialization': sc['serialization'], 'proxy': True,
                     'pub_sub': sc.get('pub_sub', True),
                     'acks': sc.get('acks', True), 'dynamic': False},
            'executor': 'eventlet (proxy: threads, as shipped)',
            'python': '3.11 (compatibility patches: captures/tools/'
                      'oslo_patches/%s)' % sc['oslo_messaging'],
            'matchmaker': 'redis %s:6379 (captured: same net)'
                          % redis_host(sc),
            'client_source_address': 'libzmq tcp://%s.1:0;<proxy> connect '
                                     'syntax (servers likewise from their '
                                     'own IP)' % net,
            'clock': 'epoch seconds of the generating host; same clock as '
                     'the pcap timestamps; t = just before the last frame '
                     'was handed to libzmq (client/server REPLY and '
                     'requests), before the first (server ACK), just after '
                     'the forwarding call returned (proxy)',
            'recorder': 'captures/tools/record_oslo.py ' + name,
        },
        'endpoints': endpoints,
        'proxy': {'addresses': proxy_addrs, 'frontend': sorted(frontends)},
        'client_host': net + '.1',
        'messages': messages,
        'calls': calls,
        'api_ops': api,
        'dropped': dropped_publishes(evs) if sc.get('variant') else [],
        'summary': {
            'messages': len(messages),
            'by_hop_type_topic_method': dict(sorted(by.items())),
            'calls': len(calls),
            'calls_with_reply': sum(1 for c in calls if c['t_reply']),
        },
    }


def dropped_publishes(evs):
    """5.7.0/5.13.0: what the proxy published that no SUB logged receiving
    (libzmq filters PUB messages on the publishing side: a message no
    connected SUB subscribed to is not sent)."""
    got = {r['message_id'] for r in evs
           if r['ev'] == 'recv' and r.get('via') == 'SUB'}
    return [{'t': round(e['t'], 6), 'msg_type': e['msg_type'],
             'message_id': e['message_id'], 'process': 'zmq-proxy',
             'hop': 'proxy-pub->server', 'topic_filter': e['topic_filter'],
             'src': e['endpoint'], 'why': 'no subscriber received it'}
            for e in evs if e['ev'] == 'proxy_publish' and
            e['message_id'] not in got]


G3_VARIANT_WIRE = {
    # hop -> the frames before the body; the body: 'two' = json(context) |
    # json(message) (5.7.0), 'one' = json([context, message]) (5.13.0);
    # replies: one frame, a dict (5.7.0) or [reply_body, failure]
    # (5.13.0).
    'om57': {
        'client->proxy': ['empty', 'code', 'routing_key', 'mid'],
        'proxy->server': ['empty', 'reply_id', 'code', 'mid'],
        'server->proxy': ['empty', 'code', 'reply_id', 'mid'],
        'proxy->client': ['empty', 'reply_id', 'code', 'mid'],
        'proxy-pub->server': ['topic_filter', 'mid'],
        'body': 'two',
    },
    'om513': {
        'client->proxy': ['empty', 'code', 'routing_key', 'mid'],
        'proxy->server': ['empty', 'reply_id', 'code', 'mid'],
        'server->proxy': ['empty', 'code', 'reply_id', 'mid'],
        'proxy->client': ['empty', 'reply_id', 'code', 'mid'],
        'proxy-pub->server': ['topic_filter', 'code', 'mid'],
        'body': 'one',
    },
    # 8.1.4 (G4) without PUB/SUB: the version frame after b''; ACKs have
    # no body; bodies msgpack([context, message]) / msgpack([reply_body,
    # failure]).
    'om814': {
        'client->proxy': ['empty', 'version', 'code', 'routing_key', 'mid'],
        'proxy->server': ['empty', 'version', 'reply_id', 'code', 'mid'],
        'server->proxy': ['empty', 'version', 'code', 'reply_id', 'mid'],
        'proxy->client': ['empty', 'version', 'reply_id', 'code', 'mid'],
        'body': 'one', 'serialization': 'msgpack',
    },
}


def _msgpack_load(data):
    """A msgpack document, read here (no msgpack module needed): str ->
    str, bin -> bytes, ext -> MsgpackExt(code, data); trailing bytes are
    an error."""
    import struct

    def rd(i):
        b = data[i]
        if b <= 0x7f:
            return b, i + 1
        if b >= 0xe0:
            return b - 0x100, i + 1
        if 0x80 <= b <= 0x8f:
            return rmap(b & 0x0f, i + 1)
        if 0x90 <= b <= 0x9f:
            return rarr(b & 0x0f, i + 1)
        if 0xa0 <= b <= 0xbf:
            n = b & 0x1f
            return data[i + 1:i + 1 + n].decode('utf-8'), i + 1 + n
        if b == 0xc0:
            return None, i + 1
        if b in (0xc2, 0xc3):
            return b == 0xc3, i + 1
        fixed = {0xca: '>f', 0xcb: '>d', 0xcc: '>B', 0xcd: '>H',
                 0xce: '>I', 0xcf: '>Q', 0xd0: '>b', 0xd1: '>h',
                 0xd2: '>i', 0xd3: '>q'}
        if b in fixed:
            n = struct.calcsize(fixed[b])
            return struct.unpack(fixed[b], data[i + 1:i + 1 + n])[0], \
                i + 1 + n
        sized = {0xc4: ('bin', 1), 0xc5: ('bin', 2), 0xc6: ('bin', 4),
                 0xd9: ('str', 1), 0xda: ('str', 2), 0xdb: ('str', 4),
                 0xdc: ('arr', 2), 0xdd: ('arr', 4), 0xde: ('map', 2),
                 0xdf: ('map', 4), 0xc7: ('ext', 1), 0xc8: ('ext', 2),
                 0xc9: ('ext', 4)}
        if b in sized:
            kind, w = sized[b]
            n = int.from_bytes(data[i + 1:i + 1 + w], 'big')
            j = i + 1 + w
            if kind == 'arr':
                return rarr(n, j)
            if kind == 'map':
                return rmap(n, j)
            if kind == 'ext':
                return MsgpackExt(data[j], data[j + 1:j + 1 + n]), j + 1 + n
            v = data[j:j + n]
            return (v.decode('utf-8') if kind == 'str' else bytes(v)), j + n
        if b in (0xd4, 0xd5, 0xd6, 0xd7, 0xd8):           # fixext
            n = 1 << (b - 0xd4)
            return MsgpackExt(data[i + 1], data[i + 2:i + 2 + n]), i + 2 + n
        raise ValueError('msgpack: byte 0x%02x at %d' % (b, i))

    def rarr(n, i):
        out = []
        for _ in range(n):
            v, i = rd(i)
            out.append(v)
        return out, i

    def rmap(n, i):
        out = {}
        for _ in range(n):
            k, i = rd(i)
            v, i = rd(i)
            out[k] = v
        return out, i

    v, end = rd(0)
    if end != len(data):
        raise ValueError('msgpack: %d trailing bytes' % (len(data) - end))
    return v


class MsgpackExt(tuple):
    def __new__(cls, code, data):
        return tuple.__new__(cls, (code, bytes(data)))


def verify_g3_variant(pcap, truth, sc, dump=False):
    """new_om57x_proxy_json, new_om513_proxy_pubsub_json (and
    new_rocky_proxy_msgpack: version frame, ACKs, msgpack bodies) against
    the wire (record_libzmq.py's reader): every truth message on its
    connection
    with G3_VARIANT_WIRE's frames (empty delimiter, type code, routing key
    or reply id, message id, topic filter) and JSON body (the context's
    user_id, the method or event type; replies: message id and type
    (5.7.0), failure or not); READY Socket-Type/Identity of the sending
    DEALERs; the only ZMTP commands SUBSCRIBEs to the proxy's PUB;
    nothing else on the ZeroMQ connections."""
    wire, props_of, tcp_of, redis_conns, cmds = _wire_msgs(pcap)
    codes = {'CALL': b'1', 'CAST': b'2', 'CAST_FANOUT': b'3',
             'NOTIFY': b'4', 'REPLY': b'5', 'ACK': b'6'}
    lay = G3_VARIANT_WIRE[sc['variant']]
    failed = {m['message_id']: m['failure'] for m in truth['messages']
              if m['hop'] == 'server->proxy' and m['msg_type'] == 'REPLY'}
    problems, deltas, used, dumps, wire_t = [], [], set(), {}, {}
    for m in truth['messages']:
        hop = m['hop']
        want = {'empty': b'', 'code': codes[m['msg_type']],
                'routing_key': (m.get('routing_key') or '').encode(),
                'reply_id': (m.get('reply_id') or '').encode(),
                'mid': (m['message_id'] or '').encode(),
                'topic_filter': (m.get('topic_filter') or '').encode(),
                'version': b'1.0'}
        head = [want[k] for k in lay[hop]]
        nbody = 2 if lay['body'] == 'two' and m['msg_type'] != 'REPLY' \
            else 1
        if m['msg_type'] == 'ACK':              # (8.1.4 only)
            nbody = 0
        label = '%s %s %s' % (hop, m['msg_type'], m['message_id'])
        hit = None
        for i, (frames, t) in enumerate(wire.get((m['src'], m['dst']), [])):
            if (m['src'], m['dst'], i) in used:
                continue
            if len(frames) == len(head) + nbody and \
                    frames[:len(head)] == head:
                hit = i, frames, t
                break
        if hit is None:
            problems.append('not on the wire: %s %s->%s' % (
                label, m['src'], m['dst']))
            continue
        i, frames, t = hit
        used.add((m['src'], m['dst'], i))
        try:
            if lay.get('serialization') == 'msgpack':
                body = [_msgpack_load(f) for f in frames[len(head):]]
            else:
                body = [json.loads(f) for f in frames[len(head):]]
        except Exception as e:
            problems.append('%s: body not %s: %s' % (
                label, lay.get('serialization', 'JSON'), e))
            continue
        if m['msg_type'] == 'ACK':
            ok = True
        elif m['msg_type'] == 'REPLY':
            r = body[0]
            if lay['body'] == 'two':            # 5.7.0: a dict
                ok = (isinstance(r, dict) and r.get('msg_type') == 5 and
                      r.get('message_id') == m['message_id'] and
                      (r.get('failure') is not None) ==
                      failed[m['message_id']])
            else:                               # 5.13.0: [body, failure]
                ok = (isinstance(r, list) and len(r) == 2 and
                      (r[1] is not None) == failed[m['message_id']])
        else:
            ctx, msg = body if nbody == 2 else \
                (list(body[0]) + [None, None])[:2]
            ok = (isinstance(ctx, dict) and ctx.get('user_id') == 'a1b2c3'
                  and isinstance(msg, dict) and
                  (msg.get('method') or msg.get('event_type')) ==
                  m['method'])
        if not ok:
            problems.append('%s: body differs: %r' % (label, body))
        mine = props_of.get((m['src'], m['dst']), {})
        if hop in ('client->proxy', 'server->proxy') and (
                mine.get('Socket-Type') != b'DEALER' or
                mine.get('Identity') != m['zmq_identity'].encode()):
            problems.append('%s: READY %r' % (label, mine))
        deltas.append((t - m['t'], m))
        wire_t[(hop, m['msg_type'], m['message_id'])] = t
        dumps.setdefault((hop, m['msg_type']), (m, frames))
    pub = set(truth['endpoints'].get('zmq-proxy', []))
    subs = []
    for (a, b), on in cmds.items():
        for name, data in on:
            if name != 'SUBSCRIBE' or b not in pub:
                problems.append('command %s %r on %s->%s' % (
                    name, data, a, b))
            else:
                subs.append((a, b, data))
    extra = sum(len(v) for v in wire.values()) - len(used)
    if extra:
        problems.append('%d ZeroMQ messages on the wire not in the truth'
                        % extra)
    lat = []
    for c in truth['calls']:
        if c['t_reply'] is None:
            continue
        w = wire_t[('server->proxy', 'REPLY', c['message_id'])] - \
            wire_t[('client->proxy', 'CALL', c['message_id'])]
        lat.append(abs(w - c['wire_latency_s']))
    print('wire check: %d ZeroMQ connections, %d redis; %d/%d truth '
          'messages found; %d SUBSCRIBEs; t -> wire %.3f..%.3f ms; '
          'call latency within %.3f ms of the truth' % (
              len(tcp_of), redis_conns, len(used), len(truth['messages']),
              len(subs), 1e3 * min(d for d, _ in deltas),
              1e3 * max(d for d, _ in deltas), 1e3 * max(lat)))
    if dump:
        for a, b, data in sorted(subs):
            print('SUBSCRIBE %r %s->%s' % (data, a, b))
        for k in sorted(dumps, key=str):
            m, frames = dumps[k]
            print('%s %s %s %s->%s frames %s' % (
                k[0], k[1], m['method'], m['src'], m['dst'],
                ' | '.join(repr(f) if len(f) < 60 else
                           '<%d bytes %r...>' % (len(f), f[:40])
                           for f in frames)))
    if problems:
        raise SystemExit('wire check failed:\n' + '\n'.join(problems))
    return deltas, lat


def lb_destinations(evs):
    """Where each request a G1/G2 client socket sent went, by libzmq's
    rule: a DEALER (or PUSH) hands each message to its next pipe,
    round-robin over its connections in connect order (pipes are made at
    connect, immediate = false, no HWM here).  Copies of a CAST_FANOUT or
    NOTIFY are identical, and the servers may log them in either order:
    this names which copy (which `t`) went where.  build_truth checks
    every prediction against the server that logged receiving it (a
    single-copy message to a socket with two connections too: the
    round-robin get_host_uptime calls and casts).  Sends without a socket
    name (G3/G4) are left out: there the first receipt is taken."""
    order, count, dst = {}, {}, {}
    for e in evs:
        if e['ev'] == 'connect':
            order.setdefault(e['sid'], []).append(
                e['address'][len('tcp://'):])
        elif e['ev'] == 'send' and e['msg_type'] != 'REPLY' and \
                e.get('sid') in order:
            n = count.get(e['sid'], 0)
            count[e['sid']] = n + 1
            dst[id(e)] = order[e['sid']][n % len(order[e['sid']])]
    return dst


def build_truth(name, sc, evs):
    net = sc['net']
    g1 = sc.get('generation') == 'G1'
    pickled = sc.get('generation') in ('G1', 'G2')
    # Connections: (zmq identity, peer) -> local address, from monitors.
    # G1 sets a new identity before each connect: there a connection is
    # named by (socket, peer), and its identity is the one set at connect.
    conns = {}
    sconns = {}
    idents = {}
    for e in evs:
        if e['ev'] == 'conn' and e['what'] == 'connected':
            conns[(e['zmq_identity'], e['peer'])] = e['local']
            sconns[(e.get('sid'), e['peer'])] = e['local']
        elif e['ev'] == 'connect' and g1:
            idents[(e['sid'], e['address'][len('tcp://'):])] = \
                e['zmq_identity']
    endpoints = {}
    for e in evs:
        if e['ev'] == 'bind':
            endpoints.setdefault(e['process'], []).append(e['addr'])
    recvs = {}
    for e in evs:
        if e['ev'] == 'recv':
            recvs.setdefault(e['message_id'], []).append(e)
    messages = []
    requests = {}
    problems = []
    lb = lb_destinations(evs)
    for e in evs:
        if e['ev'] != 'send' or e['msg_type'] == 'REPLY':
            continue
        got = recvs.get(e['message_id'], [])
        if id(e) in lb:
            # The copy the server that lb names logged receiving.
            got = [r for r in got if r['addr'] == lb[id(e)]]
        if not got:
            problems.append('request %s never received%s' % (
                e['message_id'], ' by ' + lb[id(e)] if id(e) in lb else ''))
            continue
        r = got[0]
        recvs[e['message_id']].remove(r)
        m = {'t': round(e['t'], 6), 'msg_type': e['msg_type'],
             'message_id': e['message_id'], 'process': e['process'],
             'socket_type': e['socket_type'],
             'zmq_identity': e['zmq_identity'], 'topic': e['topic'],
             'server': e['server'], 'fanout': e['fanout'],
             'method': e['method']}
        for k in ('event_type', 'payload_message_id', 'priority'):
            if k in e:
                m[k] = e[k]
        m['hop'] = 'client->server'
        m['dst'] = r['addr']
        m['received_by'] = r['process']
        if g1:
            m['src'] = sconns.get((e['sid'], r['addr']))
            m['zmq_identity'] = idents.get((e['sid'], r['addr']))
        else:
            m['src'] = conns.get((e['zmq_identity'], r['addr']))
        if pickled:
            # The ROUTER names the connection by the DEALER's identity.
            if r['reply_id'] is not None and \
                    r['reply_id'] != m['zmq_identity']:
                problems.append('%s came in as %s, connected as %s' % (
                    e['message_id'], r['reply_id'], m['zmq_identity']))
            m['dst_socket_type'] = r['via']
            for k in ('g1_msg_type', 'pickle_class', 'timeout',
                      'notification_version', 'pickle_protocol',
                      'envelope'):
                if k in e:
                    m[k] = e[k]
            if 'envelope' in r and r['envelope'] != e['envelope']:
                problems.append('%s: envelope sent %r, received %r' % (
                    e['message_id'], e['envelope'], r['envelope']))
        if m['src'] is None:
            problems.append('no connection for %s' % e['message_id'])
        messages.append(m)
        requests.setdefault(e['message_id'], m)
    for e in evs:
        if e['ev'] != 'send' or e['msg_type'] != 'REPLY':
            continue
        req = requests[e['message_id']]
        m = {'t': round(e['t'], 6), 'msg_type': 'REPLY',
             'message_id': e['message_id'], 'process': e['process'],
             'socket_type': e['socket_type'],
             'zmq_identity': e['zmq_identity'],
             'reply_to': e['message_id'], 'reply_id': e['reply_id'],
             'topic': req['topic'], 'method': req['method'],
             'failure': e['failure'], 'hop': 'server->client',
             'src': req['dst'], 'dst': req['src']}
        if e['addr'] != req['dst']:
            problems.append('reply %s from %s, request went to %s' % (
                e['message_id'], e['addr'], req['dst']))
        if pickled:
            m.update((k, e[k]) for k in (
                'g1_msg_type', 'pickle_class', 'response_type',
                'log_failure', 'pickle_protocol', 'envelope') if k in e)
            m['dst_socket_type'] = 'DEALER'
            if e['reply_id'] != req['zmq_identity']:
                problems.append('reply %s to %s, request came from %s' % (
                    e['message_id'], e['reply_id'], req['zmq_identity']))
        messages.append(m)
    for k, v in recvs.items():
        if v:
            problems.append('received but not sent: %s' % k)
    if problems:
        raise SystemExit('truth problems:\n' + '\n'.join(problems))
    messages.sort(key=lambda m: m['t'])
    api = [{k: v for k, v in e.items() if k not in ('ev',)}
           for e in evs if e['ev'] == 'api']
    for a in api:
        a['ev'] = 'api'
    api.sort(key=lambda a: a['seq'])
    # Calls are sequential: the k-th CALL the client sent is its k-th call.
    call_ops = [a for a in api if a['op'] == 'call']
    call_msgs = [m for m in sorted(messages, key=lambda m: m['t'])
                 if m['msg_type'] == 'CALL']
    if len(call_ops) != len(call_msgs):
        raise SystemExit('%d call ops, %d CALL messages' % (
            len(call_ops), len(call_msgs)))
    calls = []
    for m, op in zip(call_msgs, call_ops):
        if op['method'] != m['method'] or not (
                op['t'] <= m['t'] <= op['t_done']):
            raise SystemExit('call op %r does not match %r' % (op, m))
        rep = [x for x in messages if x['msg_type'] == 'REPLY'
               and x['message_id'] == m['message_id']]
        calls.append({
            'message_id': m['message_id'], 'method': m['method'],
            'topic': m['topic'], 'server': m['server'],
            'received_by': m['received_by'],
            't_request': m['t'],
            't_reply': rep[0]['t'] if rep else None,
            'wire_latency_s': round(rep[0]['t'] - m['t'], 6) if rep
            else None,
            'failure': rep[0]['failure'] if rep else None,
            't_api_start': op['t'], 't_api_done': op['t_done'],
            'error': op.get('error')})
    by = {}
    for m in messages:
        k = '%s %s %s %s' % (m['hop'], m['msg_type'], m['topic'],
                             m['method'])
        by[k] = by.get(k, 0) + 1
    gen = {
        'kind': 'real oslo.messaging new zmq driver',
        'oslo_messaging': sc['oslo_messaging'],
        'generation': sc['generation'],
        'wire_version_frame': sc['generation'] == 'G4',
        'mode': {'serialization': sc['serialization'], 'proxy': False,
                 'pub_sub': False, 'acks': False, 'dynamic': False},
        'executor': 'eventlet',
        'python': '3.11 (compatibility patches: captures/tools/'
                  'oslo_patches/%s)' % sc['oslo_messaging'],
        'matchmaker': 'redis %s.4:6379 (captured: same net)' % net,
        'client_source_address': 'libzmq tcp://%s.1:0;<server> connect '
                                 'syntax' % net,
        'clock': 'epoch seconds of the generating host; same clock as the '
                 'pcap timestamps; t = just after the driver send returned',
        'recorder': 'captures/tools/record_oslo.py ' + name,
    }
    truth = {
        'capture': name + '.pcap',
        'generator': gen,
        'endpoints': endpoints,
        'client_host': net + '.1',
        'messages': messages,
        'calls': calls,
        'api_ops': api,
        'dropped': [],
        'summary': {
            'messages': len(messages),
            'by_hop_type_topic_method': dict(sorted(by.items())),
            'calls': len(calls),
            'calls_with_reply': sum(1 for c in calls if c['t_reply']),
        },
    }
    if pickled:
        pickled_truth(truth, sc, evs)
    return truth


G1_PUBSUB_WIRE = {
    'CALL': "client DEALER -> server ROUTER (TCP): b'' | "
            "pickle(CallRequest)",
    'CAST': "client PUSH -> server PULL (TCP): pickle(CastRequest) (one "
            "frame)",
    'REPLY': "server ROUTER -> client DEALER (TCP): b'' | "
             "pickle({'type': 'reply', 'reply', 'failure', 'log_failure', "
             "'message_id'})",
    'CAST_FANOUT': "client DEALER -> ipc://<ipc dir>/zmq-broker (not "
                   "captured): b'' | pickle({msg_type: 'cast-f', "
                   "message_id, target}) | pickle(FanoutRequest); broker "
                   "PUB -> server SUB (TCP), one copy per SUB whose "
                   "subscription matches: <topic filter> | "
                   "pickle(FanoutRequest) (the client's pickle as "
                   "received)",
    'NOTIFY': "as CAST_FANOUT with msg_type 'notify', "
              "pickle(NotificationRequest); topic filter "
              "notifications.<priority>",
    'subscriptions': "each server SUB subscribes <topic>, <server> and "
                     "<topic>/<server> (RPC server), <topic>.<priority> "
                     "(notification listener): ZMTP SUBSCRIBE to every "
                     "PUB in PUBLISHERS",
    'type': "no type frame: a request's type is its class in the pickle "
            "(the envelope's msg_type string travels only over ipc); a "
            "reply is a dict with type = 'reply'",
    'identity': 'the client sets a new uuid1 ZMQ_IDENTITY before each '
                'connect (DEALER connections); SUB and PUB send none',
}


def build_g1_pubsub_truth(name, sc, evs):
    """4.6.1 with its defaults: build_truth's direct messages (CALL,
    CAST, REPLY) plus the broker PUB -> server SUB messages (one per SUB
    that logged receiving it: PUB/SUB filters at the PUB, so that is one
    per wire copy); the client -> broker hops are over ipc:
    ipc_messages[]; a PUB send no SUB logged is in dropped[]."""
    net = sc['net']
    # The client's ipc DEALERs' monitor events name no TCP 4-tuple.
    evs = [e for e in evs if not (e['ev'] == 'conn' and 'error' in e and
                                  e['endpoint'].startswith('ipc://'))]
    truth = build_truth(name, sc, evs)
    problems = []
    sconns = {}
    for e in evs:
        if e['ev'] == 'conn' and e['what'] == 'connected':
            sconns[(e.get('sid'), e['peer'])] = e['local']
    client = {}
    ipc_messages = []
    brokers = {}
    for e in evs:
        if e['ev'] == 'ready' and e['process'].startswith('zmq-broker'):
            brokers[e['process']] = e
    broker_by_ipc = {'ipc://' + b['address'][len('ipc://'):]: p
                     for p, b in brokers.items()}
    brecv = {}
    for e in evs:
        if e['ev'] == 'broker_recv':
            brecv.setdefault(e['message_id'], []).append(e)
    for e in evs:
        if e['ev'] != 'send_ipc':
            continue
        client[e['message_id']] = e
        addr = e['connections'][0]
        got = brecv.get(e['message_id'], [])
        if len(got) != 1 or got[0]['process'] != broker_by_ipc.get(addr):
            problems.append('ipc %s: broker receipts %r' % (
                e['message_id'], [g['process'] for g in got]))
        m = {'t': round(e['t'], 6), 'msg_type': e['msg_type'],
             'message_id': e['message_id'], 'process': e['process'],
             'hop': 'client->broker', 'transport': 'ipc',
             'address': addr, 'socket_type': e['socket_type'],
             'zmq_identity': e['zmq_identity'],
             'client_socket': e['sid'], 'topic': e['topic'],
             'server': e['server'], 'fanout': e['fanout'],
             'method': e['method'],
             'received_by': got[0]['process'] if got else None,
             'dst_socket_type': 'ROUTER', 'envelope': e['envelope'],
             'frames': "b'' | pickle(envelope) | pickle(%s)" %
             e['pickle_class'].rsplit('.', 1)[1]}
        for k in ('event_type', 'payload_message_id', 'priority',
                  'g1_msg_type', 'pickle_class', 'pickle_keys',
                  'pickle_protocol', 'notification_version'):
            if k in e:
                m[k] = e[k]
        ipc_messages.append(m)
    rsub = {}
    for e in evs:
        if e['ev'] == 'recv_sub':
            rsub.setdefault(e['message_id'], []).append(e)
    pub_msgs, dropped = [], []
    for e in evs:
        if e['ev'] != 'send_pub':
            continue
        c = client.get(e['message_id'])
        if c is None:
            problems.append('PUB %s not sent by the client' %
                            e['message_id'])
            continue
        if e['body_pickle_protocol'] != c['pickle_protocol']:
            problems.append('%s: PUB body protocol %r' % (
                e['message_id'], e['body_pickle_protocol']))
        got = rsub.pop(e['message_id'], [])
        base = {'msg_type': e['msg_type'], 'message_id': e['message_id'],
                'process': e['process'], 'socket_type': 'PUB',
                'zmq_identity': '', 'topic': c['topic'],
                'server': c['server'], 'fanout': c['fanout'],
                'method': c['method']}
        for k in ('event_type', 'payload_message_id', 'priority'):
            if k in c:
                base[k] = c[k]
        if not got:
            d = dict(base, t=round(e['t'], 6), hop='broker-pub->server',
                     src=e['pub'], topic_filter=e['topic_filter'],
                     reason='no SUB logged receiving it')
            dropped.append(d)
            continue
        for r in got:
            m = {'t': round(e['t'], 6)}
            m.update(base)
            m.update(hop='broker-pub->server', src=e['pub'],
                     dst=sconns.get((r['sid'], e['pub'])),
                     received_by=r['process'], sub_socket=r['sid'],
                     dst_socket_type='SUB',
                     topic_filter=e['topic_filter'],
                     g1_msg_type=c['g1_msg_type'],
                     pickle_class=c['pickle_class'],
                     pickle_keys=c['pickle_keys'],
                     pickle_protocol=c['pickle_protocol'],
                     body_len=e['body_len'])
            if 'notification_version' in c:
                m['notification_version'] = c['notification_version']
            if m['dst'] is None:
                problems.append('no SUB connection for %s' %
                                e['message_id'])
            if r['topic_filter'] != e['topic_filter'] or \
                    r['pickle_keys'] != c['pickle_keys']:
                problems.append('%s: SUB read %r' % (e['message_id'], r))
            pub_msgs.append(m)
    for k, v in rsub.items():
        problems.append('SUB received but not published: %s' % k)
    for mid in client:
        if not any(m['message_id'] == mid for m in pub_msgs + dropped):
            problems.append('%s never published' % mid)
    if problems:
        raise SystemExit('truth problems:\n' + '\n'.join(problems))
    messages = sorted(truth['messages'] + pub_msgs, key=lambda m: m['t'])
    ipc_messages.sort(key=lambda m: m['t'])
    truth['messages'] = messages
    # After messages, as in new_om30x_broker_pickle's truth.
    rest = [(k, truth.pop(k)) for k in ('calls', 'api_ops', 'dropped',
                                        'summary')]
    truth['ipc_messages'] = ipc_messages
    truth.update(rest)
    truth['dropped'] = dropped
    # The brokers' sockets: their ipc ROUTER, PUB and (sync) PULL.
    regs = {e['pub']: e['key'] for e in evs
            if e['ev'] == 'register_publisher'}
    syncs = {e['sync']: e['key'] for e in evs
             if e['ev'] == 'register_publisher'}
    for p, b in sorted(brokers.items()):
        truth['endpoints'].setdefault(p, []).insert(0, b['address'])
        socks = truth['endpoint_sockets'].setdefault(p, [])
        for s_ in socks:
            if s_['addr'] in regs:
                s_['registered'] = ['%s (%s,%s)' % (
                    regs[s_['addr']], s_['addr'], b['sync'])]
                s_['role'] = 'PubPublisherProxy PUB'
            elif s_['addr'] in syncs:
                s_['role'] = ('SyncChannel PULL (registered with the PUB; '
                              'nothing connects to it)')
        socks.insert(0, {'addr': b['address'], 'socket_type': 'ROUTER',
                         'registered': [],
                         'role': 'UniversalQueueProxy ipc ROUTER'})
    subs, subscribed = {}, {}
    for e in evs:
        if e['ev'] == 'subscribe':
            subscribed[e['sid']] = e['subscriptions']
    for e in evs:
        if e['ev'] == 'sub_publishers':
            # (It may connect before the server's listen() subscribes.)
            subs[e['sid']] = {
                'process': e['process'], 'sub_socket': e['sid'],
                'subscriptions': subscribed.get(e['sid'], []),
                'publishers': [p[0] for p in e['publishers']],
                'connections': sorted(
                    '%s -> %s' % (sconns.get((e['sid'], p[0])), p[0])
                    for p in e['publishers'])}
    truth['sub_sockets'] = list(subs.values())
    by, by_type = {}, {}
    for m in messages:
        k = '%s %s %s %s' % (m['hop'], m['msg_type'], m['topic'],
                             m['method'])
        by[k] = by.get(k, 0) + 1
        by_type[m['msg_type']] = by_type.get(m['msg_type'], 0) + 1
    sm = truth['summary']
    sm.update(messages=len(messages),
              by_hop_type_topic_method=dict(sorted(by.items())),
              by_msg_type=dict(sorted(by_type.items())),
              ipc_messages=len(ipc_messages), dropped=len(dropped))
    gen = truth['generator']
    gen['kind'] = ('real oslo.messaging new zmq driver (G1) and real '
                   'oslo-messaging-zmq-broker on every node')
    gen['mode'].update(pub_sub=True, broker=True)
    gen['executor'] = 'eventlet (brokers: native threads, as shipped)'
    gen['options'] = (
        "4.6.1's defaults: use_pub_sub = true (impl_zmq.py zmq_opts), "
        "rpc_zmq_ipc_dir per node (default /var/run/openstack; three "
        "nodes share one file system here), rpc_zmq_host and "
        "rpc_zmq_bind_address = the node's IP, transport_url "
        "zmq+redis://%s:6379/; 4.6.1 has no use_router_proxy, "
        "zmq_use_broker or ACK option" % redis_host(sc))
    gen['topology'] = (
        'an oslo-messaging-zmq-broker on each node (client %s.1, node-1 '
        '%s.2, node-2 %s.3): ipc ROUTER <ipc dir>/zmq-broker, a PUB and '
        'a SyncChannel PULL on TCP, both registered in PUBLISHERS; the '
        'client: calls DEALER -> the servers\' ROUTERs, casts PUSH -> '
        'PULLs (direct TCP, as with use_pub_sub = false), fanouts and '
        'notifications DEALER -> its broker over ipc -> that broker\'s '
        'PUB -> every SUB subscribed (node-1: the RPC server\'s and the '
        'notification listener\'s SUB; node-2: the RPC server\'s), each '
        'SUB connected to all three PUBs; the servers\' brokers carry '
        'nothing (the servers send no requests)' % (net, net, net))
    gen['wire'] = G1_PUBSUB_WIRE
    gen['matchmaker'] = ('redis %s:6379 (captured: same net); keys %s, '
                         'PUBLISHERS (<pub host:port>,<sync host:port>)'
                         % (redis_host(sc), PICKLED_KEYS['G1']))
    gen['clock'] += ('; broker PUB: t just before the body frame (the '
                     'client\'s pickle as received) is handed to the '
                     'socket; ipc sends: t just before the request\'s '
                     'send_pyobj')
    return truth


# What the early G1 runs' truth says about their wire (as recorded and
# checked by verify_early).
EARLY_WIRE = {
    '2.7.0': {
        'CALL': "REQ -> ROUTER, a new REQ socket (own zmq.Context, own TCP "
                "connection) per call, closed after the reply or the "
                "timeout: b'' | pickle(CallRequest) (REQ adds the b'')",
        'CAST': "DEALER -> ROUTER: b'' | pickle(CastRequest)",
        'CAST_FANOUT': "DEALER -> ROUTER, one copy per connection of the "
                       "target's DEALER: b'' | pickle(FanoutRequest)",
        'NOTIFY': "DEALER -> ROUTER (round-robin, one copy): b'' | "
                  "pickle(NotificationRequest)",
        'REPLY': "ROUTER -> REQ on the call's connection: b'' | "
                 "pickle({'reply', 'failure', 'log_failure'}): no type, "
                 "no message id",
        'ACK': "ROUTER -> DEALER, for every CAST, CAST_FANOUT copy and "
               "NOTIFY received: b'' | pickle({'id': <message_id>})",
        'type': "no type frame; a request's type is its class, named in "
                "the pickle; a REPLY is a dict with key 'reply', an ACK a "
                "dict with the one key 'id'",
        'identity': 'no ZMQ_IDENTITY is set on any socket (READY Identity '
                    'empty); the ROUTER names each connection by a '
                    'generated id, 0x00 + 32-bit counter (reply_id)',
        'pairing': 'a REPLY carries no message id: it is the answer to '
                   'the one CALL sent on the same REQ connection',
    },
    '3.0.0': {
        'CALL': "REQ -> ROUTER, a new REQ socket (own zmq.Context, own TCP "
                "connection, own uuid1 ZMQ_IDENTITY) per call, closed "
                "after the reply or the timeout: b'' | pickle(CallRequest) "
                "(REQ adds the b''); the pickle also holds proxy_reply_id "
                "(None) and host ('tcp://<server ip>:<port>')",
        'CAST': "DEALER -> ROUTER: b'' | pickle(CastRequest)",
        'CAST_FANOUT': "DEALER -> ROUTER, one copy per connection of the "
                       "target's DEALER: b'' | pickle(FanoutRequest)",
        'NOTIFY': "DEALER -> ROUTER (round-robin, one copy): b'' | "
                  "pickle(NotificationRequest)",
        'REPLY': "ROUTER -> REQ on the call's connection: b'' | "
                 "pickle({'type': 'reply', 'reply', 'failure', "
                 "'log_failure', 'id': None}): 'id' is the broker's "
                 "proxy_reply_id, None when direct; no message id",
        'type': "no type frame; a request's type is its class, named in "
                "the pickle; a REPLY is a dict with type 'reply'; no ACKs "
                "(RouterIncomingMessage.acknowledge only logs)",
        'identity': 'REQ: a uuid1 string set before connect (READY '
                    "Identity; the ROUTER's reply_id); DEALER: none set, "
                    'the ROUTER generates 0x00 + 32-bit counter',
        'pairing': 'a REPLY carries no message id: it is the answer to '
                   'the one CALL sent on the same REQ connection (whose '
                   'identity the server addressed it to)',
    },
}


def build_early_truth(name, sc, evs):
    """Truth for the early G1 runs (2.7.0, 3.0.0): one entry per ZeroMQ
    message on one TCP connection; REPLYs carry no message id (null) and
    name their CALL in reply_to; ACKs (2.7.0) carry the acked id."""
    net = sc['net']
    ver = sc['oslo_messaging']
    problems = []
    sconns, conn_ev, accepted = {}, {}, set()
    for e in evs:
        if e['ev'] == 'conn' and e['what'] == 'connected':
            sconns[(e['sid'], e['peer'])] = e['local']
            conn_ev[(e['sid'], e['peer'])] = e
        elif e['ev'] == 'conn' and e['what'] == 'accepted':
            accepted.add((e['peer'], e['local']))
    endpoints, socks = {}, {}
    for e in evs:
        if e['ev'] == 'bind':
            endpoints.setdefault(e['process'], []).append(e['addr'])
            socks[e['addr']] = {'process': e['process'], 'addr': e['addr'],
                                'socket_type': e['socket_type'],
                                'bind_address': e['bind_address'],
                                'registered': []}
    for e in evs:
        if e['ev'] == 'register':
            for v in e['values']:
                if v in socks and e['key'] not in socks[v]['registered']:
                    socks[v]['registered'].append(e['key'])
    recvs = {}
    for e in evs:
        if e['ev'] == 'recv':
            recvs.setdefault(e['message_id'], []).append(e)
    closed = {e['sid']: e['t'] for e in evs if e['ev'] == 'req_close'}
    lb = lb_destinations(evs)
    messages, requests = [], {}
    for e in evs:
        if e['ev'] != 'send' or e['process'] != 'client':
            continue
        got = [r for r in recvs.get(e['message_id'], [])
               if r['addr'] == lb.get(id(e))]
        if not got:
            problems.append('request %s never received by %s' % (
                e['message_id'], lb.get(id(e))))
            continue
        r = got[0]
        recvs[e['message_id']].remove(r)
        m = {'t': round(e['t'], 6), 'msg_type': e['msg_type'],
             'message_id': e['message_id'], 'process': 'client',
             'socket_type': e['socket_type'],
             'zmq_identity': e['zmq_identity'], 'topic': e['topic'],
             'server': e['server'], 'fanout': e['fanout'],
             'method': e['method']}
        for k in ('event_type', 'payload_message_id', 'priority'):
            if k in e:
                m[k] = e[k]
        m.update(hop='client->server', dst=r['addr'],
                 received_by=r['process'],
                 src=sconns.get((e['sid'], r['addr'])),
                 client_socket=e['sid'], dst_socket_type='ROUTER',
                 reply_id=r['reply_id'])
        for k in ('g1_msg_type', 'pickle_class', 'pickle_keys', 'timeout',
                  'notification_version', 'pickle_protocol'):
            if k in e:
                m[k] = e[k]
        if m['src'] is None:
            problems.append('no connection for %s' % e['message_id'])
        if e['zmq_identity'] and r['reply_id'] != e['zmq_identity']:
            problems.append('%s came in as %s, identity %s' % (
                e['message_id'], r['reply_id'], e['zmq_identity']))
        if r['pickle_keys'] != e['pickle_keys']:
            problems.append('%s: state sent %r, received %r' % (
                e['message_id'], e['pickle_keys'], r['pickle_keys']))
        messages.append(m)
        requests[(e['message_id'], r['addr'])] = m
    dropped = []
    for e in evs:
        if e['ev'] != 'send' or e['process'] == 'client':
            continue
        req = requests.get((e['message_id'], e['addr']))
        if req is None:
            problems.append('%s for unknown %s' % (e['msg_type'],
                                                   e['message_id']))
            continue
        if e['reply_id'] != req['reply_id']:
            problems.append('%s %s to %s, request came as %s' % (
                e['msg_type'], e['message_id'], e['reply_id'],
                req['reply_id']))
        m = {'t': round(e['t'], 6), 'msg_type': e['msg_type'],
             'message_id': e['message_id'] if e['msg_type'] == 'ACK'
             else None,
             'process': e['process'], 'socket_type': e['socket_type'],
             'zmq_identity': e['zmq_identity'],
             'reply_to': e['message_id'], 'reply_id': e['reply_id'],
             'topic': req['topic'], 'server': req['server'],
             'method': req['method'], 'hop': 'server->client',
             'src': req['dst'], 'dst': req['src'],
             'client_socket': req['client_socket'],
             'dst_socket_type': req['socket_type']}
        for k in ('failure', 'log_failure', 'g1_msg_type', 'pickle_class',
                  'pickle_keys', 'pickle_protocol'):
            if k in e:
                m[k] = e[k]
        c = closed.get(req['client_socket'])
        if e['msg_type'] == 'REPLY' and c is not None and c < e['t']:
            m['reason'] = ('handed to the ROUTER %.3f s after the client '
                           'closed its REQ socket (MessagingTimeout): the '
                           'ROUTER has no peer with that id and drops it; '
                           'not on the wire' % (e['t'] - c))
            dropped.append(m)
            continue
        messages.append(m)
    for k, v in recvs.items():
        if v:
            problems.append('received but not sent: %s' % k)
    messages.sort(key=lambda m: m['t'])
    api = [dict(e) for e in evs if e['ev'] == 'api']
    api.sort(key=lambda a: a['seq'])
    call_ops = [a for a in api if a['op'] == 'call']
    call_msgs = [m for m in messages if m['msg_type'] == 'CALL']
    if len(call_ops) != len(call_msgs):
        problems.append('%d call ops, %d CALL messages' % (
            len(call_ops), len(call_msgs)))
    calls = []
    for m, op in zip(call_msgs, call_ops):
        if op['method'] != m['method'] or not (
                op['t'] <= m['t'] <= op['t_done']):
            problems.append('call op %r does not match %r' % (op, m))
        rep = [x for x in messages if x['msg_type'] == 'REPLY'
               and x['reply_to'] == m['message_id']]
        drop = [x for x in dropped if x['reply_to'] == m['message_id']]
        calls.append({
            'message_id': m['message_id'], 'method': m['method'],
            'topic': m['topic'], 'server': m['server'],
            'received_by': m['received_by'],
            'request_src': m['src'], 'request_dst': m['dst'],
            'client_socket': m['client_socket'],
            'paired_by': 'connection (the REQ socket of this call; the '
                         'REPLY has no message id)',
            't_request': m['t'],
            't_reply': rep[0]['t'] if rep else None,
            'wire_latency_s': round(rep[0]['t'] - m['t'], 6) if rep
            else None,
            'failure': rep[0]['failure'] if rep else None,
            'reply_dropped_t': drop[0]['t'] if drop else None,
            't_req_closed': round(closed[m['client_socket']], 6)
            if m['client_socket'] in closed else None,
            't_api_start': op['t'], 't_api_done': op['t_done'],
            'error': op.get('error')})
    # Every ZeroMQ TCP connection, from the connecting side's monitor
    # (checked against the accepting ROUTERs' monitors).
    connections = []
    for (sid, peer), e in sorted(conn_ev.items(), key=lambda kv: kv[1]['t']):
        if (e['local'], peer) not in accepted:
            problems.append('connection %s -> %s not accepted' % (
                e['local'], peer))
        carried = [x for x in messages
                   if {x['src'], x['dst']} == {e['local'], peer}]
        connections.append({
            'src': e['local'], 'dst': peer, 'client_socket': sid,
            'socket_type': next(
                (c['socket_type'] for c in evs if c['ev'] == 'connect'
                 and c['sid'] == sid), None),
            'server_process': next((p for p, a in endpoints.items()
                                    if peer in a), None),
            't_connected': round(e['t'], 6),
            't_closed': round(closed[sid], 6) if sid in closed else None,
            'messages': len(carried),
            'by_msg_type': dict(sorted(
                (k, sum(1 for x in carried if x['msg_type'] == k))
                for k in {x['msg_type'] for x in carried}))})
    if len(accepted) != len(connections):
        problems.append('%d accepted, %d connected' % (
            len(accepted), len(connections)))
    if problems:
        raise SystemExit('truth problems:\n' + '\n'.join(problems))
    by, by_type = {}, {}
    for m in messages:
        k = '%s %s %s %s' % (m['hop'], m['msg_type'], m['topic'],
                             m['method'])
        by[k] = by.get(k, 0) + 1
        by_type[m['msg_type']] = by_type.get(m['msg_type'], 0) + 1
    protos = sorted({m['pickle_protocol'] for m in messages})
    acks = any(m['msg_type'] == 'ACK' for m in messages)
    by_proc = {}
    for v in socks.values():
        by_proc.setdefault(v.pop('process'), []).append(v)
    keys = sorted({k for v in socks.values() for k in v['registered']})
    gen = {
        'kind': 'real oslo.messaging new zmq driver (early G1)',
        'oslo_messaging': ver,
        'generation': 'G1',
        'wire_version_frame': False,
        'mode': {'serialization': 'pickle (send_pyobj)',
                 'pickle_protocol': protos[0] if len(protos) == 1
                 else protos,
                 'proxy': False, 'broker': False, 'pub_sub': False,
                 'acks': acks, 'dynamic': False},
        'executor': 'eventlet',
        'python': '3.11 (compatibility patches: captures/tools/'
                  'oslo_patches/%s)' % ver,
        'options': 'rpc_backend = zmq, zmq_use_broker = false (default '
                   'true: a local oslo-messaging-zmq-broker over ipc)',
        'matchmaker': 'redis %s:6379 (captured: same net); keys %s' % (
            redis_host(sc), ', '.join(keys)),
        'client_source_address': 'libzmq tcp://%s.1:0;<server> connect '
                                 'syntax (DEALER and REQ)' % net,
        'clock': "epoch seconds of the generating host; same clock as the "
                 "pcap timestamps; t = just before the pickle (the last "
                 "frame) is handed to the green socket's send_pyobj",
        'recorder': 'captures/tools/record_oslo.py ' + name,
        'wire': EARLY_WIRE[ver],
    }
    return {
        'capture': name + '.pcap',
        'generator': gen,
        'endpoints': endpoints,
        'endpoint_sockets': by_proc,
        'client_host': net + '.1',
        'connections': connections,
        'messages': messages,
        'calls': calls,
        'api_ops': api,
        'dropped': dropped,
        'summary': {
            'messages': len(messages),
            'by_hop_type_topic_method': dict(sorted(by.items())),
            'calls': len(calls),
            'calls_with_reply': sum(1 for c in calls if c['t_reply']),
            'by_msg_type': dict(sorted(by_type.items())),
            'failures': sum(1 for m in messages if m.get('failure')),
            'replies_received_by_client': sum(
                1 for e in evs if e['ev'] == 'recv_reply'),
            'acks_received_by_client': sum(
                1 for e in evs if e['ev'] == 'recv_ack'),
            'connections': len(connections),
            'req_connections': sum(1 for c in connections
                                   if c['socket_type'] == 'REQ'),
            'dropped': len(dropped),
        },
    }


# What the pickling generations' truth says about their wire and options.
PICKLED_WIRE = {
    'G1': {
        'CALL': "DEALER -> ROUTER: b'' | pickle(CallRequest)",
        'CAST': 'PUSH -> PULL: pickle(CastRequest) (one frame)',
        'CAST_FANOUT': "DEALER -> ROUTER, one copy per connection of the "
                       "topic's DEALER: b'' | pickle(FanoutRequest)",
        'NOTIFY': "DEALER -> ROUTER, one copy per connection: b'' | "
                  "pickle(NotificationRequest)",
        'REPLY': "ROUTER -> DEALER: b'' | pickle({'type': 'reply', "
                 "'reply', 'failure', 'log_failure', 'message_id'})",
        'type': 'no type frame; a request\'s type is its class, named in '
                'the pickle (pickle_class); g1_msg_type (call, cast, cast-f, '
                'notify) is a class attribute, not in the pickle; a reply '
                'is a dict with type = \'reply\'',
        'identity': 'the client sets a new uuid1 ZMQ_IDENTITY before '
                    'each connect, so each DEALER connection has its own '
                    'identity (messages[].zmq_identity; REPLY reply_id)',
    },
    'G2': {
        'CALL': "DEALER -> ROUTER: b'' | pickle(Envelope) | "
                "pickle(CallRequest)",
        'CAST': "DEALER -> ROUTER: b'' | pickle(Envelope) | "
                "pickle(CastRequest)",
        'CAST_FANOUT': "DEALER -> ROUTER, one copy per connection of the "
                       "topic's DEALER: b'' | pickle(Envelope) | "
                       "pickle(FanoutRequest)",
        'NOTIFY': "DEALER -> ROUTER (one ROUTER per priority), one copy "
                  "per connection: b'' | pickle(Envelope) | "
                  "pickle(NotificationRequest)",
        'REPLY': "ROUTER -> DEALER: b'' | pickle(the CALL's Envelope, "
                 "echoed as received) | pickle(Response)",
        'envelope': 'zmq_envelope.Envelope, state _msg_type (int), '
                    '_message_id, _target (oslo_messaging.target.Target), '
                    '_reply_id (None), _routing_key (None), _kwargs '
                    '(CALL: {timeout}) (messages[].envelope)',
        'type': 'no type frame: the integer type (1 CALL, 2 CAST, 3 '
                'CAST_FANOUT, 4 NOTIFY) is the Envelope\'s _msg_type; in '
                'the request it is a class attribute, not in the pickle; '
                'a REPLY carries the CALL\'s Envelope (_msg_type 1) and a '
                'Response whose _type is 5 (response_type)',
        'identity': 'each client DEALER has one uuid4 ZMQ_IDENTITY for all '
                    'its connections (messages[].zmq_identity; REPLY '
                    'reply_id)',
    },
}
PICKLED_OPTIONS = {
    'G1': 'use_pub_sub = false (Mitaka default true: fanout and notify to '
          'a local broker over ipc)',
    'G2': 'use_pub_sub = false, use_router_proxy = false (5.x defaults '
          'true: everything through oslo-messaging-zmq-proxy)',
}
PICKLED_KEYS = {
    'G1': 'ROUTER_<topic>[.<server>], PULL_<topic>[.<server>]',
    'G2': 'ROUTER_<topic>[.<server>] (EXPIRE zmq_target_expire = 300)',
}


def pickled_truth(truth, sc, evs):
    """What G1 (4.6.x) and G2 (5.0-5.4) add to the direct truth: their
    wire layout, the pickle protocol, which socket of each server took
    what."""
    g = sc['generation']
    protos = sorted({m['pickle_protocol'] for m in truth['messages']})
    gen = truth['generator']
    gen['mode'] = {'serialization': 'pickle (send_pyobj)',
                   'pickle_protocol': protos[0] if len(protos) == 1
                   else protos,
                   'proxy': False, 'pub_sub': False, 'acks': False,
                   'dynamic': False}
    gen['options'] = PICKLED_OPTIONS[g]
    gen['wire'] = PICKLED_WIRE[g]
    gen['matchmaker'] = ('redis %s:6379 (captured: same net); keys %s' % (
        redis_host(sc), PICKLED_KEYS[g]))
    gen['clock'] = ('epoch seconds of the generating host; same clock as '
                    'the pcap timestamps; t = just before the driver\'s '
                    'ZmqSocket.send_pyobj hands the object to the green '
                    'socket, which pickles it and sends it as the last '
                    'frame')
    # Each bound socket and what it registered in the name service.
    socks = {}
    for e in evs:
        if e['ev'] == 'bind':
            socks[e['addr']] = {'process': e['process'], 'addr': e['addr'],
                                'socket_type': e['socket_type'],
                                'registered': []}
    for e in evs:
        if e['ev'] == 'listen':
            keys = socks[e['host']]['registered']
            t = e['listener_type'] + '_'
            if e['topic'] and e['server']:
                keys.append(t + e['topic'] + '.' + e['server'])
            if e['topic']:
                keys.append(t + e['topic'])
    by_proc = {}
    for v in socks.values():
        by_proc.setdefault(v.pop('process'), []).append(v)
    # After 'endpoints' in the file.
    rest = [(k, truth.pop(k)) for k in list(truth)
            if k not in ('capture', 'generator', 'endpoints')]
    truth['endpoint_sockets'] = by_proc
    truth.update(rest)
    by = {}
    for m in truth['messages']:
        by[m['msg_type']] = by.get(m['msg_type'], 0) + 1
    truth['summary']['by_msg_type'] = dict(sorted(by.items()))
    truth['summary']['failures'] = sum(
        1 for m in truth['messages'] if m.get('failure'))
    truth['summary']['replies_received_by_client'] = sum(
        1 for e in evs if e['ev'] == 'recv_reply')


# ---------------------------------------------------------------------------
# G1/G2 wire check: the pcap, read back with record_libzmq.py's independent
# pcap reader and TCP reassembly (never zmqtrace), against the truth.
# ---------------------------------------------------------------------------

def _stub_unpickle(data):
    """Unpickle without importing oslo.messaging: its classes become
    stubs that keep their state and dotted name."""
    import codecs
    import datetime
    import io
    import pickle

    class Stub(object):
        def __setstate__(self, state):
            self.__dict__.update(state)
    real = {('_codecs', 'encode'): codecs.encode,
            ('datetime', 'datetime'): datetime.datetime,
            ('builtins', 'set'): set, ('builtins', 'frozenset'): frozenset}
    stubs = {}

    class U(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in real:
                return real[(module, name)]
            key = module + '.' + name
            if key not in stubs:
                stubs[key] = type(name, (Stub,), {'_class': key})
            return stubs[key]
    return U(io.BytesIO(data)).load()


def _zmtp_walk(stream):
    """ZMTP 3 greeting, READY properties and messages (frames, offset just
    past the message's last byte)."""
    import struct
    sys.path.insert(0, HERE)
    sys.dont_write_bytecode = True      # no __pycache__ in the work tree
    from record_libzmq import zmtp_frames
    props, msgs, parts = {}, [], []
    for flags, body, pos in zmtp_frames(stream):
        if flags & 4:
            name = body[1:1 + body[0]]
            if name == b'READY':
                i = 1 + body[0]
                while i < len(body):
                    n = body[i]
                    k = body[i + 1:i + 1 + n].decode()
                    i += 1 + n
                    v = struct.unpack_from('!I', body, i)[0]
                    props[k] = body[i + 4:i + 4 + v]
                    i += 4 + v
            continue
        parts.append(body)
        if not flags & 1:
            msgs.append((parts, pos))
            parts = []
    return props, msgs


def _body_id(body):
    """The message id in a G1/G2 last frame (request, reply dict or
    Response)."""
    if isinstance(body, dict):
        return body.get('message_id')
    return body.__dict__.get('message_id', body.__dict__.get('_message_id'))


def _is_reply(body):
    return isinstance(body, dict) or \
        getattr(body, '_class', '').endswith('zmq_response.Response')


def _g2_frames_ok(m, frames, body):
    """G2: b'' | pickle(Envelope) | pickle(request or Response), the
    Envelope as the sender logged it, the Response as the truth says."""
    if len(frames) != 3 or frames[0] != b'' or \
            frames[1][:2] != bytes([0x80, m['pickle_protocol']]):
        return False
    env, want = _stub_unpickle(frames[1]), m['envelope']
    ok = (env._class == want['class'] and
          env._msg_type == want['msg_type'] and
          env._message_id == want['message_id'] == m['message_id'] and
          env._target._class == 'oslo_messaging.target.Target' and
          env._target.topic == want['topic'] and
          env._target.server == want['server'] and
          env._routing_key == want['routing_key'] and
          env._reply_id == want['reply_id'] and
          env._kwargs == want['kwargs'])
    if m['msg_type'] == 'REPLY':
        ok = ok and (body._class == m['pickle_class'] and
                     body._type == m['response_type'] == 5 and
                     _s(body._reply_id) == m['reply_id'] and
                     (body._failure is not None) == m['failure'])
    return ok


def verify_pickled(pcap, truth, dump=False):
    """Every truth message is on the wire, on its connection, with the
    frames its generation (G1, G2) sends, a pickle (protocol as recorded)
    naming the right class, type, id, target and method; nothing else is
    on the ZeroMQ connections; each DEALER connection announces the
    identity the truth gives; wire timestamps against `t` and call
    latencies."""
    g2 = truth['generator']['generation'] == 'G2'
    import struct
    sys.path.insert(0, HERE)
    sys.dont_write_bytecode = True      # no __pycache__ in the work tree
    from record_libzmq import read_pcap, tcp_streams
    conns = tcp_streams(pcap)
    seen = set()
    for c in conns:
        k = (c.client, c.server)
        if k in seen:
            raise SystemExit('4-tuple reused: %r' % (k,))
        seen.add(k)
    # When each byte of each direction first crossed: (rel start, end, ts).
    spans = {}
    for ts, link, frame in read_pcap(pcap):
        ip = frame[14:]
        if struct.unpack_from('!H', frame, 12)[0] != 0x0800 or ip[9] != 6:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from('!H', ip, 2)[0]
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack_from('!HHI', tcp, 0)
        doff = (tcp[12] >> 4) * 4
        n = len(tcp) - doff
        if n:
            key = ('.'.join(str(b) for b in ip[12:16]), sport,
                   '.'.join(str(b) for b in ip[16:20]), dport)
            spans.setdefault(key, []).append((seq, n, ts))

    def hp(a):
        return '%s:%d' % a
    wire = {}          # (src, dst) -> [(frames, end ts)]
    idents = {}        # (src, dst) -> READY Identity of the sender
    redis_conns = 0
    for c in conns:
        if 6379 in (c.client[1], c.server[1]):
            redis_conns += 1
            continue
        for name, d in c.dirs.items():
            a, b = (c.client, c.server) if name == 'c2s' else \
                (c.server, c.client)
            if not d.buf:
                continue
            props, msgs = _zmtp_walk(d.buf)
            idents[(hp(a), hp(b))] = props.get('Identity')
            segs = spans[(a[0], a[1], b[0], b[1])]
            out = []
            for frames, end in msgs:
                # The first packet carrying the message's last byte.
                last = end - 1
                t = min(ts for seq, n, ts in segs
                        if (seq - d.isn - 1) & 0xFFFFFFFF <= last <
                        ((seq - d.isn - 1) & 0xFFFFFFFF) + n)
                out.append((frames, t))
            wire[(hp(a), hp(b))] = out
    classes = {'CALL': 'CallRequest', 'CAST': 'CastRequest',
               'CAST_FANOUT': 'FanoutRequest',
               'NOTIFY': 'NotificationRequest'}
    problems, deltas, used, dumps = [], [], set(), {}
    wire_t = {}
    for m in truth['messages']:
        on = wire.get((m['src'], m['dst']), [])
        hit = None
        for i, (frames, t) in enumerate(on):
            body = _stub_unpickle(frames[-1])
            if _body_id(body) == m['message_id'] and \
                    ((m['src'], m['dst'], i) not in used) and \
                    (_is_reply(body) == (m['msg_type'] == 'REPLY')):
                hit = i, frames, t, body
                break
        if hit is None:
            problems.append('not on the wire: %s %s %s->%s' % (
                m['msg_type'], m['message_id'], m['src'], m['dst']))
            continue
        i, frames, t, body = hit
        used.add((m['src'], m['dst'], i))
        want = [b''] if m['socket_type'] in ('DEALER', 'ROUTER') else []
        if m['socket_type'] == 'PUB':       # new_mitaka_defaults_pickle
            want = [m['topic_filter'].encode()]
        if g2 and not _g2_frames_ok(m, frames, body):
            problems.append('%s %s: frames %r' % (
                m['msg_type'], m['message_id'], [f[:40] for f in frames]))
        elif not g2 and frames[:-1] != want:
            problems.append('%s %s: frames %r' % (
                m['msg_type'], m['message_id'], frames[:-1]))
        if frames[-1][:2] != bytes([0x80, m['pickle_protocol']]):
            problems.append('%s: pickle starts %r' % (
                m['message_id'], frames[-1][:2]))
        if m['msg_type'] == 'REPLY':
            ok = g2 or (body.get('type') == 'reply' and
                        (body.get('failure') is not None) == m['failure'])
        else:
            msg = body.message or {}
            ok = (body._class.endswith('zmq_request.' +
                                       classes[m['msg_type']]) and
                  body._class == m['pickle_class'] and
                  'msg_type' not in body.__dict__ and
                  body.target._class == 'oslo_messaging.target.Target' and
                  body.target.topic == m['topic'] and
                  body.target.server == m['server'] and
                  bool(body.target.fanout) == m['fanout'] and
                  (msg.get('method') or msg.get('event_type')) ==
                  m['method'])
        if not ok:
            problems.append('%s %s: body differs' % (
                m['msg_type'], m['message_id']))
        if m['socket_type'] == 'DEALER' and \
                idents.get((m['src'], m['dst'])) != \
                m['zmq_identity'].encode():
            problems.append('%s: identity %r on the wire' % (
                m['message_id'], idents.get((m['src'], m['dst']))))
        deltas.append((t - m['t'], m))
        wire_t[(m['msg_type'] == 'REPLY', m['message_id'])] = t
        if m['msg_type'] not in dumps:
            dumps[m['msg_type']] = (m, frames)
    extra = sum(len(v) for v in wire.values()) - len(used)
    if extra:
        problems.append('%d ZeroMQ messages on the wire not in the truth'
                        % extra)
    lat = []
    for c in truth['calls']:
        if c['t_reply'] is None:
            continue
        w = wire_t[(True, c['message_id'])] - wire_t[(False, c['message_id'])]
        lat.append(abs(w - c['wire_latency_s']))
    print('wire check: %d ZeroMQ connections, %d redis; %d/%d truth '
          'messages found; t -> wire %.3f..%.3f ms; call latency within '
          '%.3f ms of the truth' % (
              len(conns) - redis_conns, redis_conns, len(used),
              len(truth['messages']), 1e3 * min(d for d, _ in deltas),
              1e3 * max(d for d, _ in deltas), 1e3 * max(lat)))
    if dump:
        for k in ('CALL', 'REPLY', 'CAST', 'CAST_FANOUT', 'NOTIFY'):
            if k in dumps:
                m, frames = dumps[k]
                print('%s %s %s->%s frames %s; pickle %d bytes:\n  %s' % (
                    k, m['method'], m['src'], m['dst'],
                    ' | '.join(repr(f) if len(f) < 40 else
                               '%d bytes %s...' % (len(f), f[:48].hex())
                               for f in frames[:-1]) or '-',
                    len(frames[-1]), frames[-1][:200].hex()))
    if problems:
        raise SystemExit('wire check failed:\n' + '\n'.join(problems))
    return deltas, lat


def verify_early(pcap, truth, dump=False):
    """verify_pickled for the early G1 runs (2.7.0, 3.0.0): every truth
    message on its connection with b'' | pickle (protocol as recorded),
    the request's class, id, target, method and pickled attribute names,
    the REPLY/ACK dict's keys (and 3.0.0's type/id), failure; each
    connection's READY Socket-Type and Identity; each REQ connection
    carries one CALL and at most one REPLY and is closed in the capture;
    dropped replies are not on the wire; nothing else on the ZeroMQ
    connections; tcpdump's drop count is checked by the recorder."""
    import struct
    sys.path.insert(0, HERE)
    sys.dont_write_bytecode = True      # no __pycache__ in the work tree
    from record_libzmq import read_pcap, tcp_streams
    conns = tcp_streams(pcap)
    seen = set()
    for c in conns:
        k = (c.client, c.server)
        if k in seen:
            raise SystemExit('4-tuple reused: %r' % (k,))
        seen.add(k)
    spans = {}
    for ts, link, frame in read_pcap(pcap):
        ip = frame[14:]
        if struct.unpack_from('!H', frame, 12)[0] != 0x0800 or ip[9] != 6:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from('!H', ip, 2)[0]
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack_from('!HHI', tcp, 0)
        doff = (tcp[12] >> 4) * 4
        key = ('.'.join(str(b) for b in ip[12:16]), sport,
               '.'.join(str(b) for b in ip[16:20]), dport)
        if len(tcp) - doff:
            spans.setdefault(key, []).append((seq, len(tcp) - doff, ts))

    def hp(a):
        return '%s:%d' % a
    wire, props_of, tcp_of = {}, {}, {}
    redis_conns = 0
    for c in conns:
        if 6379 in (c.client[1], c.server[1]):
            redis_conns += 1
            continue
        tcp_of[(hp(c.client), hp(c.server))] = c
        for name, d in c.dirs.items():
            a, b = (c.client, c.server) if name == 'c2s' else \
                (c.server, c.client)
            if not d.buf:
                continue
            props, msgs = _zmtp_walk(d.buf)
            props_of[(hp(a), hp(b))] = props
            segs = spans[(a[0], a[1], b[0], b[1])]
            out = []
            for frames, end in msgs:
                last = end - 1
                t = min(ts for seq, n, ts in segs
                        if (seq - d.isn - 1) & 0xFFFFFFFF <= last <
                        ((seq - d.isn - 1) & 0xFFFFFFFF) + n)
                out.append((frames, t))
            wire[(hp(a), hp(b))] = out
    v30 = truth['generator']['oslo_messaging'] != '2.7.0'
    classes = {'CALL': 'CallRequest', 'CAST': 'CastRequest',
               'CAST_FANOUT': 'FanoutRequest',
               'NOTIFY': 'NotificationRequest'}
    problems, deltas, used, dumps, wire_t = [], [], set(), {}, {}

    def kind(body):
        if not isinstance(body, dict):
            return 'request'
        return 'REPLY' if 'reply' in body else 'ACK'
    for m in truth['messages']:
        on = wire.get((m['src'], m['dst']), [])
        hit = None
        for i, (frames, t) in enumerate(on):
            if (m['src'], m['dst'], i) in used:
                continue
            body = _stub_unpickle(frames[-1])
            k = kind(body)
            if m['msg_type'] == 'REPLY' and k == 'REPLY' or \
                    m['msg_type'] == 'ACK' and k == 'ACK' and \
                    body['id'] == m['message_id'] or \
                    k == 'request' and m['msg_type'] in classes and \
                    _body_id(body) == m['message_id']:
                hit = i, frames, t, body
                break
        if hit is None:
            problems.append('not on the wire: %s %s %s->%s' % (
                m['msg_type'], m['message_id'] or m.get('reply_to'),
                m['src'], m['dst']))
            continue
        i, frames, t, body = hit
        used.add((m['src'], m['dst'], i))
        label = '%s %s' % (m['msg_type'], m['message_id'] or m['reply_to'])
        if frames[:-1] != [b'']:
            problems.append('%s: frames %r' % (label, frames[:-1]))
        if frames[-1][:2] != bytes([0x80, m['pickle_protocol']]):
            problems.append('%s: pickle starts %r' % (label, frames[-1][:2]))
        if m['msg_type'] in ('REPLY', 'ACK'):
            ok = sorted(body) == m['pickle_keys'] and \
                m['pickle_class'] == 'builtins.dict'
            if m['msg_type'] == 'REPLY':
                ok = ok and (body['failure'] is not None) == m['failure'] \
                    and body['log_failure'] == m['log_failure']
                if v30:
                    ok = ok and body['type'] == 'reply' and body['id'] is None
        else:
            msg = body.message or {}
            ok = (body._class.endswith('zmq_request.' +
                                       classes[m['msg_type']]) and
                  body._class == m['pickle_class'] and
                  sorted(body.__dict__) == m['pickle_keys'] and
                  body.target._class == 'oslo_messaging.target.Target' and
                  body.target.topic == m['topic'] and
                  body.target.server == m['server'] and
                  bool(body.target.fanout) == m['fanout'] and
                  (msg.get('method') or msg.get('event_type')) ==
                  m['method'])
            if m['msg_type'] == 'CALL' and v30:
                ok = ok and body.host == 'tcp://' + m['dst']
        if not ok:
            problems.append('%s: body differs' % label)
        # READY of each side: Socket-Type, and the client's Identity.
        mine = props_of.get((m['src'], m['dst']), {})
        want_type = m['socket_type'].encode()
        if mine.get('Socket-Type') != want_type:
            problems.append('%s: Socket-Type %r' % (
                label, mine.get('Socket-Type')))
        if m['hop'] == 'client->server' and \
                mine.get('Identity', b'') != m['zmq_identity'].encode():
            problems.append('%s: identity %r on the wire' % (
                label, mine.get('Identity')))
        deltas.append((t - m['t'], m))
        wire_t[(m['msg_type'], m['message_id'] or m['reply_to'])] = t
        dumps.setdefault(m['msg_type'], (m, frames))
    extra = sum(len(v) for v in wire.values()) - len(used)
    if extra:
        problems.append('%d ZeroMQ messages on the wire not in the truth'
                        % extra)
    # Connections: as the truth lists them; REQ: one call each, closed.
    if len(truth['connections']) != len(tcp_of):
        problems.append('%d ZeroMQ connections on the wire, %d in the '
                        'truth' % (len(tcp_of), len(truth['connections'])))
    for c in truth['connections']:
        tc = tcp_of.get((c['src'], c['dst']))
        if tc is None:
            problems.append('connection %s->%s not on the wire' % (
                c['src'], c['dst']))
            continue
        n = len(wire.get((c['src'], c['dst']), [])) + \
            len(wire.get((c['dst'], c['src']), []))
        if n != c['messages']:
            problems.append('%s->%s: %d messages, truth %d' % (
                c['src'], c['dst'], n, c['messages']))
        if c['socket_type'] == 'REQ':
            if c['by_msg_type'].get('CALL') != 1 or \
                    c['by_msg_type'].get('REPLY', 0) > 1 or \
                    not (tc.rst or tc.dirs['c2s'].fin):
                problems.append('REQ connection %s->%s: %r, closed %r' % (
                    c['src'], c['dst'], c['by_msg_type'],
                    tc.rst or tc.dirs['c2s'].fin))
    # A dropped reply's connection (its call's REQ) carries no REPLY.
    for d in truth['dropped']:
        if (d['dst'], d['src']) not in tcp_of:
            problems.append('dropped %s: no connection %s->%s' % (
                d['reply_to'], d['dst'], d['src']))
        if any(kind(_stub_unpickle(frames[-1])) == 'REPLY'
               for frames, t in wire.get((d['src'], d['dst']), [])):
            problems.append('dropped reply to %s is on the wire' %
                            d['reply_to'])
    lat = []
    for c in truth['calls']:
        if c['t_reply'] is None:
            continue
        w = wire_t[('REPLY', c['message_id'])] - \
            wire_t[('CALL', c['message_id'])]
        lat.append(abs(w - c['wire_latency_s']))
    print('wire check: %d ZeroMQ connections (%d REQ), %d redis; %d/%d '
          'truth messages found, %d dropped replies absent; t -> wire '
          '%.3f..%.3f ms; call latency within %.3f ms of the truth' % (
              len(tcp_of), sum(1 for c in truth['connections']
                               if c['socket_type'] == 'REQ'),
              redis_conns, len(used), len(truth['messages']),
              len(truth['dropped']), 1e3 * min(d for d, _ in deltas),
              1e3 * max(d for d, _ in deltas), 1e3 * max(lat)))
    if dump:
        for k in ('CALL', 'REPLY', 'CAST', 'ACK', 'CAST_FANOUT', 'NOTIFY'):
            if k in dumps:
                m, frames = dumps[k]
                print('%s %s %s->%s frames %s; pickle %d bytes:\n  %s' % (
                    k, m['method'], m['src'], m['dst'],
                    ' | '.join(repr(f) for f in frames[:-1]) or '-',
                    len(frames[-1]), frames[-1][:200].hex()))
    if problems:
        raise SystemExit('wire check failed:\n' + '\n'.join(problems))
    return deltas, lat


def build_broker_truth(name, sc, evs):
    """Truth for 3.0.0 through oslo-messaging-zmq-broker: `messages` are
    the ZeroMQ messages on TCP (captured): broker->server requests and
    server->broker REPLYs; the ipc hops (client->broker requests,
    broker->client REPLYs; not capturable) are in `ipc_messages`; a REPLY
    the broker hands to its ipc ROUTER after the client closed the call's
    REQ socket is in `dropped`.  REPLYs carry no message id (null): they
    name their CALL in reply_to, and carry proxy_reply_id (the client REQ
    socket's identity, which the broker put in the CALL's envelope)."""
    net = sc['net']
    ver = sc['oslo_messaging']
    problems = []
    sconns, conn_ev, accepted = {}, {}, set()
    for e in evs:
        if e['ev'] == 'conn' and e['what'] == 'connected':
            sconns[(e['sid'], e['peer'])] = e['local']
            conn_ev[(e['sid'], e['peer'])] = e
        elif e['ev'] == 'conn' and e['what'] == 'accepted':
            accepted.add((e['peer'], e['local']))
    endpoints, socks = {}, {}
    for e in evs:
        if e['ev'] == 'bind':
            endpoints.setdefault(e['process'], []).append(e['addr'])
            socks[e['addr']] = {'process': e['process'], 'addr': e['addr'],
                                'socket_type': e['socket_type'],
                                'bind_address': e['bind_address'],
                                'registered': []}
        elif e['ev'] == 'ready' and e['process'] == 'zmq-broker':
            endpoints['zmq-broker'] = [e['address']]
    for e in evs:
        if e['ev'] == 'register':
            for v in e['values']:
                if v in socks and e['key'] not in socks[v]['registered']:
                    socks[v]['registered'].append(e['key'])
    recvs, envs = {}, {}
    for e in evs:
        if e['ev'] == 'recv':
            recvs.setdefault(e['message_id'], []).append(e)
        elif e['ev'] == 'recv_envelope':
            envs[(e['message_id'], e['addr'])] = e
    closed = {e['sid']: e['t'] for e in evs if e['ev'] == 'req_close'}
    client = {}             # message id -> the client's ipc send
    by_req_ident = {}       # REQ identity -> the client's CALL
    ipc_messages = []
    for e in evs:
        if e['ev'] == 'send_ipc' and e['process'] == 'client':
            client[e['message_id']] = e
            if e['msg_type'] == 'CALL':
                by_req_ident[e['zmq_identity']] = e
            m = {'t': round(e['t'], 6), 'msg_type': e['msg_type'],
                 'message_id': e['message_id'], 'process': 'client',
                 'hop': 'client->broker', 'transport': 'ipc',
                 'address': e['connections'][0],
                 'socket_type': e['socket_type'],
                 'zmq_identity': e['zmq_identity'],
                 'client_socket': e['sid'], 'topic': e['topic'],
                 'server': e['server'], 'fanout': e['fanout'],
                 'method': e['method'], 'envelope': e['envelope'],
                 'frames': ("pickle(envelope) | pickle(%s) (REQ adds b'')"
                            if e['socket_type'] == 'REQ' else
                            "b'' | pickle(envelope) | pickle(%s)") %
                 e['pickle_class'].rsplit('.', 1)[1]}
            for k in ('event_type', 'payload_message_id', 'priority',
                      'g1_msg_type', 'pickle_class', 'pickle_keys',
                      'pickle_protocol', 'timeout', 'notification_version'):
                if k in e:
                    m[k] = e[k]
            ipc_messages.append(m)
    brecv = {}
    for e in evs:
        if e['ev'] == 'broker_recv':
            brecv.setdefault(e['message_id'], []).append(e)
    for mid in client:
        if mid not in brecv:
            problems.append('broker never received %s' % mid)
    lb = lb_destinations(evs)
    messages, requests = [], {}
    for e in evs:
        if e['ev'] != 'send' or e['process'] != 'zmq-broker':
            continue
        c = client.get(e['message_id'])
        got = [r for r in recvs.get(e['message_id'], [])
               if r['addr'] == lb.get(id(e))]
        if c is None or not got:
            problems.append('request %s (client %s) never received by %s'
                            % (e['message_id'], c is not None,
                               lb.get(id(e))))
            continue
        r = got[0]
        recvs[e['message_id']].remove(r)
        m = {'t': round(e['t'], 6), 'msg_type': e['msg_type'],
             'message_id': e['message_id'], 'process': 'zmq-broker',
             'socket_type': e['socket_type'],
             'zmq_identity': e['zmq_identity'], 'topic': c['topic'],
             'server': c['server'], 'fanout': c['fanout'],
             'method': c['method']}
        for k in ('event_type', 'payload_message_id', 'priority'):
            if k in c:
                m[k] = c[k]
        m.update(hop='broker->server', dst=r['addr'],
                 received_by=r['process'],
                 src=sconns.get((e['sid'], r['addr'])),
                 client_socket=e['sid'], dst_socket_type='ROUTER',
                 reply_id=r['reply_id'], envelope=e['envelope'],
                 envelope_pickle_protocol=e['envelope_pickle_protocol'])
        if e['msg_type'] == 'CALL':
            m['proxy_reply_id'] = e['envelope']['reply_id']
        for k in ('g1_msg_type', 'pickle_class', 'pickle_keys', 'timeout',
                  'notification_version', 'pickle_protocol'):
            if k in c:
                m[k] = c[k]
        m['body_len'] = e['body_len']
        if m['src'] is None:
            problems.append('no connection for %s' % e['message_id'])
        if r['pickle_keys'] != c['pickle_keys']:
            problems.append('%s: state sent %r, received %r' % (
                e['message_id'], c['pickle_keys'], r['pickle_keys']))
        env = envs.get((e['message_id'], r['addr']))
        if env is None or env['proxy_reply_id'] != \
                e['envelope'].get('reply_id'):
            problems.append('%s: proxy_reply_id %r, envelope %r' % (
                e['message_id'], env, e['envelope']))
        if e['msg_type'] == 'CALL' and e['envelope']['reply_id'] != \
                c['zmq_identity']:
            problems.append('%s: envelope reply_id %s, REQ %s' % (
                e['message_id'], e['envelope']['reply_id'],
                c['zmq_identity']))
        messages.append(m)
        requests[(e['message_id'], r['addr'])] = m
    for e in evs:
        if e['ev'] != 'send' or e['process'] in ('client', 'zmq-broker'):
            continue
        req = requests.get((e['message_id'], e['addr']))
        if req is None:
            problems.append('%s for unknown %s' % (e['msg_type'],
                                                   e['message_id']))
            continue
        if e['reply_id'] != req['reply_id'] or \
                e.get('proxy_reply_id') != req.get('proxy_reply_id'):
            problems.append('%s %s to %s/%s, request came as %s/%s' % (
                e['msg_type'], e['message_id'], e['reply_id'],
                e.get('proxy_reply_id'), req['reply_id'],
                req.get('proxy_reply_id')))
        m = {'t': round(e['t'], 6), 'msg_type': e['msg_type'],
             'message_id': None, 'process': e['process'],
             'socket_type': e['socket_type'],
             'zmq_identity': e['zmq_identity'],
             'reply_to': e['message_id'],
             'proxy_reply_id': e.get('proxy_reply_id'),
             'reply_id': e['reply_id'], 'topic': req['topic'],
             'server': req['server'], 'method': req['method'],
             'hop': 'server->broker', 'src': req['dst'], 'dst': req['src'],
             'client_socket': req['client_socket'],
             'dst_socket_type': req['socket_type']}
        for k in ('failure', 'log_failure', 'g1_msg_type', 'pickle_class',
                  'pickle_keys', 'pickle_protocol'):
            if k in e:
                m[k] = e[k]
        messages.append(m)
    for k, v in recvs.items():
        if v:
            problems.append('received but not sent: %s' % k)
    # broker -> client (ipc): the REPLY's frames 2.. (proxy_reply_id |
    # b'' | pickle) to the broker's ROUTER, which routes by the REQ's
    # identity; dropped if that REQ is gone.
    dropped = []
    wire_reply = {m['proxy_reply_id']: m for m in messages
                  if m['msg_type'] == 'REPLY'}
    got_reply = {e['message_id'] for e in evs if e['ev'] == 'recv_reply'}
    for e in evs:
        if e['ev'] != 'send_ipc' or e['process'] != 'zmq-broker':
            continue
        call = by_req_ident.get(e['proxy_reply_id'])
        w = wire_reply.get(e['proxy_reply_id'])
        if call is None or w is None or e['dict_id'] != e['proxy_reply_id']:
            problems.append('broker reply %r' % e)
            continue
        m = {'t': round(e['t'], 6), 'msg_type': 'REPLY',
             'message_id': None, 'process': 'zmq-broker',
             'hop': 'broker->client', 'transport': 'ipc',
             'address': call['connections'][0], 'socket_type': 'ROUTER',
             'reply_to': call['message_id'],
             'proxy_reply_id': e['proxy_reply_id'],
             'routing_id': e['proxy_reply_id'],
             'client_socket': call['sid'], 'topic': call['topic'],
             'server': call['server'], 'method': call['method'],
             'failure': e['failure'], 'pickle_keys': e['keys'],
             'frames': "b'' | pickle(dict) (the broker ROUTER's frames "
                       "proxy_reply_id | b'' | pickle, as received from "
                       "the server, less b'' | 'reply')"}
        c = closed.get(call['sid'])
        if c is not None and c < e['t']:
            if call['message_id'] in got_reply:
                problems.append('dropped reply %s was received' %
                                call['message_id'])
            m['reason'] = ('handed to the broker\'s ipc ROUTER %.3f s '
                           'after the client closed the call\'s REQ '
                           'socket (MessagingTimeout): no peer with that '
                           'identity, dropped; its server->broker hop is '
                           'on the wire' % (e['t'] - c))
            dropped.append(m)
        else:
            if call['message_id'] not in got_reply:
                problems.append('reply %s not received' %
                                call['message_id'])
            ipc_messages.append(m)
    messages.sort(key=lambda m: m['t'])
    ipc_messages.sort(key=lambda m: m['t'])
    api = [dict(e) for e in evs if e['ev'] == 'api']
    api.sort(key=lambda a: a['seq'])
    call_ops = [a for a in api if a['op'] == 'call']
    call_ipc = [m for m in ipc_messages if m['msg_type'] == 'CALL']
    if len(call_ops) != len(call_ipc):
        problems.append('%d call ops, %d CALL messages' % (
            len(call_ops), len(call_ipc)))
    calls = []
    for ci, op in zip(call_ipc, call_ops):
        if op['method'] != ci['method'] or not (
                op['t'] <= ci['t'] <= op['t_done']):
            problems.append('call op %r does not match %r' % (op, ci))
        req = [x for x in messages if x['msg_type'] == 'CALL'
               and x['message_id'] == ci['message_id']]
        rep = [x for x in messages if x['msg_type'] == 'REPLY'
               and x['reply_to'] == ci['message_id']]
        irep = [x for x in ipc_messages if x['msg_type'] == 'REPLY'
                and x['reply_to'] == ci['message_id']]
        drop = [x for x in dropped if x['reply_to'] == ci['message_id']]
        if len(req) != 1:
            problems.append('call %s on the wire %d times' % (
                ci['message_id'], len(req)))
            continue
        m = req[0]
        calls.append({
            'message_id': m['message_id'], 'method': m['method'],
            'topic': m['topic'], 'server': m['server'],
            'received_by': m['received_by'],
            'proxy_reply_id': m['proxy_reply_id'],
            'request_src': m['src'], 'request_dst': m['dst'],
            'broker_socket': m['client_socket'],
            'client_socket': ci['client_socket'],
            'paired_by': 'TCP (broker<->server): the REPLY carries no '
                         'message id; it carries proxy_reply_id (a frame '
                         'and the dict\'s id), the client REQ identity '
                         'the CALL\'s envelope carried as reply_id, and '
                         'comes back on the CALL\'s connection; ipc: the '
                         'REQ socket of this call',
            't_request_ipc': ci['t'], 't_request': m['t'],
            't_reply': rep[0]['t'] if rep else None,
            'wire_latency_s': round(rep[0]['t'] - m['t'], 6) if rep
            else None,
            't_reply_ipc': irep[0]['t'] if irep else None,
            'failure': rep[0]['failure'] if rep else None,
            'reply_dropped_t': drop[0]['t'] if drop else None,
            't_req_closed': round(closed[ci['client_socket']], 6)
            if ci['client_socket'] in closed else None,
            't_api_start': op['t'], 't_api_done': op['t_done'],
            'error': op.get('error')})
    connections = []
    for (sid, peer), e in sorted(conn_ev.items(), key=lambda kv: kv[1]['t']):
        if (e['local'], peer) not in accepted:
            problems.append('connection %s -> %s not accepted' % (
                e['local'], peer))
        carried = [x for x in messages
                   if {x['src'], x['dst']} == {e['local'], peer}]
        connections.append({
            'src': e['local'], 'dst': peer, 'broker_socket': sid,
            'socket_type': 'DEALER',
            'server_process': next((p for p, a in endpoints.items()
                                    if peer in a), None),
            't_connected': round(e['t'], 6),
            'messages': len(carried),
            'by_msg_type': dict(sorted(
                (k, sum(1 for x in carried if x['msg_type'] == k))
                for k in {x['msg_type'] for x in carried}))})
    if len(accepted) != len(connections):
        problems.append('%d accepted, %d connected' % (
            len(accepted), len(connections)))
    if problems:
        raise SystemExit('truth problems:\n' + '\n'.join(problems))
    by, by_type = {}, {}
    for m in messages:
        k = '%s %s %s %s' % (m['hop'], m['msg_type'], m['topic'],
                             m['method'])
        by[k] = by.get(k, 0) + 1
        by_type[m['msg_type']] = by_type.get(m['msg_type'], 0) + 1
    protos = sorted({m['pickle_protocol'] for m in messages} |
                    {m['envelope_pickle_protocol'] for m in messages
                     if 'envelope_pickle_protocol' in m})
    by_proc = {}
    for v in socks.values():
        by_proc.setdefault(v.pop('process'), []).append(v)
    keys = sorted({k for v in socks.values() for k in v['registered']})
    gen = {
        'kind': 'real oslo.messaging new zmq driver (early G1) and real '
                'oslo-messaging-zmq-broker',
        'oslo_messaging': ver,
        'generation': 'G1',
        'wire_version_frame': False,
        'mode': {'serialization': 'pickle (send_pyobj)',
                 'pickle_protocol': protos[0] if len(protos) == 1
                 else protos,
                 'proxy': False, 'broker': True, 'pub_sub': False,
                 'acks': False, 'dynamic': False},
        'executor': 'eventlet (broker: native threads, as shipped)',
        'python': '3.11 (compatibility patches: captures/tools/'
                  'oslo_patches/%s)' % ver,
        'options': 'rpc_backend = zmq, zmq_use_broker left at its '
                   'default (true) on the client and the servers',
        'topology': 'client (%s.1) -> ipc://<ipc dir>/zmq-broker -> '
                    'oslo-messaging-zmq-broker on the client host, one '
                    'DEALER per target (str(Target)), TCP from %s.1 -> '
                    'the servers\' ROUTERs (node-1 %s.2: RPC and '
                    'notification listener, node-2 %s.3); the servers '
                    'run no broker: they send no requests, and '
                    'RouterConsumerBroker replies on the connection the '
                    'request came on' % (net, net, net, net),
        'matchmaker': 'redis %s:6379 (captured: same net); keys %s; '
                      'read by the broker' % (redis_host(sc),
                                              ', '.join(keys)),
        'client_source_address': 'libzmq tcp://%s.1:0;<server> connect '
                                 'syntax (the broker\'s DEALERs)' % net,
        'clock': "epoch seconds of the generating host; same clock as the "
                 "pcap timestamps; t = just before the last frame is "
                 "handed to the socket (broker: the request's pickle, "
                 "forwarded as received; server: the reply dict's "
                 "send_pyobj)",
        'recorder': 'captures/tools/record_oslo.py ' + name,
        'wire': BROKER_WIRE,
    }
    return {
        'capture': name + '.pcap',
        'generator': gen,
        'endpoints': endpoints,
        'endpoint_sockets': by_proc,
        'client_host': net + '.1',
        'connections': connections,
        'messages': messages,
        'ipc_messages': ipc_messages,
        'calls': calls,
        'api_ops': api,
        'dropped': dropped,
        'summary': {
            'messages': len(messages),
            'by_hop_type_topic_method': dict(sorted(by.items())),
            'calls': len(calls),
            'calls_with_reply': sum(1 for c in calls if c['t_reply']),
            'calls_with_reply_to_client': sum(1 for c in calls
                                              if c['t_reply_ipc']),
            'by_msg_type': dict(sorted(by_type.items())),
            'failures': sum(1 for m in messages if m.get('failure')),
            'ipc_messages': len(ipc_messages),
            'replies_received_by_client': sum(
                1 for e in evs if e['ev'] == 'recv_reply'),
            'connections': len(connections),
            'dropped': len(dropped),
        },
    }


BROKER_WIRE = {
    'CALL': "broker DEALER -> server ROUTER: b'' | pickle(envelope dict "
            "{msg_type: 'call', message_id, target: Target, timeout, "
            "reply_id: <client REQ identity, bytes>}) | pickle(CallRequest) "
            "(the client's pickle, forwarded as received; its host is "
            "the broker's ipc address, its proxy_reply_id None)",
    'CAST': "broker DEALER -> server ROUTER: b'' | pickle(envelope "
            "{msg_type: 'cast', message_id, target, timeout}) | "
            "pickle(CastRequest)",
    'CAST_FANOUT': "one copy per connection of the target's broker "
                   "DEALER: b'' | pickle(envelope {msg_type: 'cast-f', "
                   "message_id, target, timeout}) | pickle(FanoutRequest)",
    'NOTIFY': "broker DEALER -> the listener's ROUTER: b'' | "
              "pickle(envelope {msg_type: 'notify', message_id, target}) "
              "| pickle(NotificationRequest)",
    'REPLY': "server ROUTER -> broker DEALER: b'' | b'reply' | "
             "<proxy_reply_id> | b'' | pickle({'type': 'reply', 'reply', "
             "'failure', 'log_failure', 'id': <proxy_reply_id, bytes>}); "
             "no message id",
    'ipc': "client -> broker: REQ (calls, a new socket per call, uuid1 "
           "identity) pickle(envelope) | pickle(request) after REQ's b''; "
           "DEALER (the rest) b'' | pickle(envelope) | pickle(request); "
           "broker -> client: the REPLY's frames from proxy_reply_id on "
           "(ROUTER routing by the REQ identity): b'' | pickle(dict)",
    'type': "no type frame on requests: the envelope's msg_type string "
            "(call, cast, cast-f, notify) and the request's class; a REPLY "
            "has the 'reply' frame and the dict's type",
    'identity': 'the broker\'s DEALERs set no identity (READY Identity '
                'empty; the server ROUTER names each connection with a '
                'libzmq-generated id, reply_id)',
}


def _wire_msgs(pcap):
    """The pcap's ZeroMQ TCP connections (redis left out), read with
    record_libzmq.py's reader: {(src, dst): [(frames, ts of the packet
    carrying the last byte)]}, the READY properties of each direction,
    the connections by (client, server), the redis connection count and
    the commands other than READY of each direction ({(src, dst):
    [(name, data)]}: ZMTP 3.1 SUBSCRIBE/CANCEL)."""
    import struct
    sys.path.insert(0, HERE)
    sys.dont_write_bytecode = True      # no __pycache__ in the work tree
    from record_libzmq import read_pcap, tcp_streams, zmtp_frames
    conns = tcp_streams(pcap)
    seen = set()
    for c in conns:
        k = (c.client, c.server)
        if k in seen:
            raise SystemExit('4-tuple reused: %r' % (k,))
        seen.add(k)
    spans = {}
    for ts, link, frame in read_pcap(pcap):
        ip = frame[14:]
        if struct.unpack_from('!H', frame, 12)[0] != 0x0800 or ip[9] != 6:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from('!H', ip, 2)[0]
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack_from('!HHI', tcp, 0)
        doff = (tcp[12] >> 4) * 4
        key = ('.'.join(str(b) for b in ip[12:16]), sport,
               '.'.join(str(b) for b in ip[16:20]), dport)
        if len(tcp) - doff:
            spans.setdefault(key, []).append((seq, len(tcp) - doff, ts))

    def hp(a):
        return '%s:%d' % a
    wire, props_of, tcp_of, cmds = {}, {}, {}, {}
    redis_conns = 0
    for c in conns:
        if 6379 in (c.client[1], c.server[1]):
            redis_conns += 1
            continue
        tcp_of[(hp(c.client), hp(c.server))] = c
        for name, d in c.dirs.items():
            a, b = (c.client, c.server) if name == 'c2s' else \
                (c.server, c.client)
            if not d.buf:
                continue
            props, msgs = _zmtp_walk(d.buf)
            props_of[(hp(a), hp(b))] = props
            for flags, body, pos in zmtp_frames(d.buf):
                if flags & 4 and body[1:1 + body[0]] != b'READY':
                    cmds.setdefault((hp(a), hp(b)), []).append(
                        (body[1:1 + body[0]].decode(), body[1 + body[0]:]))
            segs = spans[(a[0], a[1], b[0], b[1])]
            out = []
            for frames, end in msgs:
                last = end - 1
                t = min(ts for seq, n, ts in segs
                        if (seq - d.isn - 1) & 0xFFFFFFFF <= last <
                        ((seq - d.isn - 1) & 0xFFFFFFFF) + n)
                out.append((frames, t))
            wire[(hp(a), hp(b))] = out
    return wire, props_of, tcp_of, redis_conns, cmds


def _dump(dumps, order):
    for k in order:
        if k in dumps:
            m, frames = dumps[k]
            print('%s %s %s %s->%s frames %s' % (
                m['hop'], k, m['method'], m['src'], m['dst'],
                ' | '.join(repr(f) if len(f) < 48 else
                           '<%d bytes %s...>' % (len(f), f[:24].hex())
                           for f in frames)))


def verify_broker(pcap, truth, dump=False):
    """new_om30x_broker_pickle against the wire: every truth message on
    its TCP connection with the frames BROKER_WIRE gives (envelope dict
    keys and values, the request's class, id, target, method, attribute
    names and host; the REPLY's 'reply' and proxy_reply_id frames and its
    dict), pickle protocols as recorded, READY Socket-Type and (empty)
    Identity; nothing else on the ZeroMQ connections; every connection in
    the truth."""
    wire, props_of, tcp_of, redis_conns, cmds = _wire_msgs(pcap)
    if cmds:
        raise SystemExit('commands on the wire: %r' % cmds)
    classes = {'CALL': 'CallRequest', 'CAST': 'CastRequest',
               'CAST_FANOUT': 'FanoutRequest',
               'NOTIFY': 'NotificationRequest'}
    broker_addr = truth['endpoints']['zmq-broker'][0]
    problems, deltas, used, dumps, wire_t = [], [], set(), {}, {}
    for m in truth['messages']:
        on = wire.get((m['src'], m['dst']), [])
        hit = None
        for i, (frames, t) in enumerate(on):
            if (m['src'], m['dst'], i) in used:
                continue
            body = _stub_unpickle(frames[-1])
            if m['msg_type'] == 'REPLY':
                if isinstance(body, dict) and \
                        body.get('id') == m['proxy_reply_id'].encode():
                    hit = i, frames, t, body
                    break
            elif not isinstance(body, dict) and \
                    _body_id(body) == m['message_id']:
                hit = i, frames, t, body
                break
        label = '%s %s' % (m['msg_type'], m['message_id'] or m['reply_to'])
        if hit is None:
            problems.append('not on the wire: %s %s->%s' % (
                label, m['src'], m['dst']))
            continue
        i, frames, t, body = hit
        used.add((m['src'], m['dst'], i))
        if frames[-1][:2] != bytes([0x80, m['pickle_protocol']]):
            problems.append('%s: pickle starts %r' % (label, frames[-1][:2]))
        if m['msg_type'] == 'REPLY':
            p = m['proxy_reply_id'].encode()
            ok = (frames[:-1] == [b'', b'reply', p, b''] and
                  sorted(body) == m['pickle_keys'] and
                  body['type'] == 'reply' and body['id'] == p and
                  (body['failure'] is not None) == m['failure'] and
                  body['log_failure'] == m['log_failure'])
        else:
            env = _stub_unpickle(frames[1]) if len(frames) == 3 else {}
            want = m['envelope']
            msg = body.message or {}
            ok = (len(frames) == 3 and frames[0] == b'' and
                  frames[1][:2] == bytes([0x80,
                                          m['envelope_pickle_protocol']]) and
                  isinstance(env, dict) and sorted(env) == want['keys'] and
                  env['msg_type'] == m['g1_msg_type'] and
                  env['message_id'] == m['message_id'] and
                  env['target']._class == 'oslo_messaging.target.Target' and
                  env['target'].topic == m['topic'] and
                  env['target'].server == m['server'] and
                  env.get('timeout') == want.get('timeout') and
                  (m['msg_type'] != 'CALL' or
                   env['reply_id'] == m['proxy_reply_id'].encode()) and
                  len(frames[2]) == m['body_len'] and
                  body._class.endswith('zmq_request.' +
                                       classes[m['msg_type']]) and
                  body._class == m['pickle_class'] and
                  sorted(body.__dict__) == m['pickle_keys'] and
                  body.proxy_reply_id is None and
                  body.target.topic == m['topic'] and
                  body.target.server == m['server'] and
                  bool(body.target.fanout) == m['fanout'] and
                  (msg.get('method') or msg.get('event_type')) ==
                  m['method'] and
                  (m['msg_type'] != 'CALL' or body.host == broker_addr))
        if not ok:
            problems.append('%s: frames/body differ: %r' % (
                label, [f[:40] for f in frames[:-1]]))
        mine = props_of.get((m['src'], m['dst']), {})
        if mine.get('Socket-Type') != m['socket_type'].encode():
            problems.append('%s: Socket-Type %r' % (
                label, mine.get('Socket-Type')))
        if m['hop'] == 'broker->server' and \
                mine.get('Identity', b'') != b'':
            problems.append('%s: identity %r on the wire' % (
                label, mine.get('Identity')))
        deltas.append((t - m['t'], m))
        wire_t[(m['msg_type'], m['message_id'] or m['reply_to'])] = t
        dumps.setdefault(m['msg_type'], (m, frames))
    extra = sum(len(v) for v in wire.values()) - len(used)
    if extra:
        problems.append('%d ZeroMQ messages on the wire not in the truth'
                        % extra)
    if len(truth['connections']) != len(tcp_of):
        problems.append('%d ZeroMQ connections on the wire, %d in the '
                        'truth' % (len(tcp_of), len(truth['connections'])))
    for c in truth['connections']:
        if (c['src'], c['dst']) not in tcp_of:
            problems.append('connection %s->%s not on the wire' % (
                c['src'], c['dst']))
            continue
        n = len(wire.get((c['src'], c['dst']), [])) + \
            len(wire.get((c['dst'], c['src']), []))
        if n != c['messages']:
            problems.append('%s->%s: %d messages, truth %d' % (
                c['src'], c['dst'], n, c['messages']))
    lat = []
    for c in truth['calls']:
        if c['t_reply'] is None:
            continue
        w = wire_t[('REPLY', c['message_id'])] - \
            wire_t[('CALL', c['message_id'])]
        lat.append(abs(w - c['wire_latency_s']))
    print('wire check: %d ZeroMQ connections, %d redis; %d/%d truth '
          'messages found (%d ipc hops and %d dropped not capturable); '
          't -> wire %.3f..%.3f ms; call latency within %.3f ms of the '
          'truth' % (
              len(tcp_of), redis_conns, len(used), len(truth['messages']),
              len(truth['ipc_messages']), len(truth['dropped']),
              1e3 * min(d for d, _ in deltas),
              1e3 * max(d for d, _ in deltas), 1e3 * max(lat)))
    if dump:
        _dump(dumps, ('CALL', 'REPLY', 'CAST', 'CAST_FANOUT', 'NOTIFY'))
    if problems:
        raise SystemExit('wire check failed:\n' + '\n'.join(problems))
    return deltas, lat


G2_PROXY_WIRE = {
    'CALL': "client DEALER -> proxy ROUTER: b'' | b'1' | <routing key: "
            "the server DEALER's identity> | <message id> | "
            "pickle(context dict) | pickle(message dict); proxy ROUTER -> "
            "server DEALER: b'' | <reply id: the client DEALER's "
            "identity> | b'1' | <message id> | pickle(context) | "
            "pickle(message) (the routing key consumed as the ROUTER's "
            "routing frame)",
    'CAST': "as CALL with b'2' (routing key: one server DEALER identity, "
            "round-robin per target)",
    'CAST_FANOUT': "client -> proxy: b'' | b'3' | <topic filter> | "
                   "<message id> | pickle(context) | pickle(message); "
                   "proxy PUB -> server SUB: <topic filter> | <the client "
                   "DEALER's identity> | pickle(context) | pickle(message) "
                   "(PubPublisherProxy pops message_id and reply_id in the "
                   "wrong order: the message id is not on the PUB hop)",
    'NOTIFY': "as CAST_FANOUT with b'4' (topic filter "
              "notifications.<priority>)",
    'REPLY': "server DEALER -> proxy ROUTER: b'' | b'5' | <reply id: the "
             "client DEALER's identity> | <message id> | pickle(Response); "
             "proxy ROUTER -> client DEALER: b'' | <the server DEALER's "
             "identity> | b'5' | <message id> | pickle(Response)",
    'response': 'zmq_response.Response, state _id (None), _type (5), '
                '_message_id (bytes: the id frame the server read), '
                '_reply_id (bytes: the client identity), _reply_body, '
                '_failure',
    'subscriptions': "SUB -> PUB: a ZMTP 3.1 SUBSCRIBE command (not a "
                     "message) per setsockopt(SUBSCRIBE): <topic>, "
                     "<server>, <topic>/<server> (subscriptions[])",
    'type': 'a type frame: the integer as ASCII (1 CALL, 2 CAST, 3 '
            'CAST_FANOUT, 4 NOTIFY, 5 REPLY); none on the PUB hop',
    'identity': 'every driver socket has a uuid4 ZMQ_IDENTITY (READY '
                'Identity); the server registers its DEALER identity '
                'in redis (DEALER_<topic>[.<server>]) as the routing key',
    'proxy_ports': 'the proxy binds a frontend and a backend ROUTER but '
                   'registers the frontend port for both (PUBLISHERS and '
                   'ROUTERS): clients and servers all connect to the '
                   'frontend; the backend ROUTER carries nothing',
}


def build_g2_proxy_truth(name, sc, evs):
    """5.4.0 through oslo-messaging-zmq-proxy: build_proxy_truth's hops,
    after naming each SUB receipt by the publish it came from (the PUB
    hop carries no message id: PubPublisherProxy puts the client's
    identity in its place); then what G2 adds: the frames each generating
    process sent, pickle protocol, SUBSCRIBE messages."""
    evs = [dict(e) for e in evs]
    problems = []
    prefixes = {}
    for e in evs:
        if e['ev'] == 'subscribe_opt':
            prefixes.setdefault(e['zmq_identity'], []).append(e['filter'])
    pending = {}
    for e in evs:
        if e['ev'] == 'recv' and e.get('via') == 'SUB':
            pending.setdefault(e['zmq_identity'], []).append(e)
    for p in (e for e in evs if e['ev'] == 'proxy_publish'):
        for ident, pre in prefixes.items():
            if not any(p['topic_filter'].startswith(x) for x in pre):
                continue
            lst = pending.get(ident, [])
            if not lst or lst[0]['topic_filter'] != p['topic_filter'] or \
                    lst[0]['id_frame'] != p['reply_id']:
                problems.append('publish %s: SUB %s got %r' % (
                    p['message_id'], ident, lst[:1]))
                continue
            lst.pop(0)['message_id'] = p['message_id']
    for ident, lst in pending.items():
        if lst:
            problems.append('SUB %s received unpublished %r' % (ident, lst))
    for e in evs:
        if e['ev'] == 'recv_bad':
            problems.append('malformed receipt %r' % e)
    if problems:
        raise SystemExit('truth problems:\n' + '\n'.join(problems))
    client_idents = {e['zmq_identity'] for e in evs
                     if e['ev'] == 'send' and e['process'] == 'client'}
    truth = build_proxy_truth(name, sc, evs, client_idents=client_idents)
    sent = {}
    for e in evs:
        if e['ev'] == 'send':
            sent[(e['process'], e['msg_type'], e['message_id'])] = e
    # Which server a REPLY the proxy forwards came from (its routing
    # identity, the reply id it forwards).
    proc_of = {e['zmq_identity']: e['process'] for e in evs
               if e['ev'] == 'send'}
    for m in truth['messages']:
        if m['hop'] == 'proxy->client':
            m['received_from'] = proc_of.get(m['reply_id'])
    for m in truth['messages']:
        e = sent.get((m['process'], m['msg_type'], m['message_id']))
        if e is not None:
            m['frames'] = e['frames']
            m['pickle_protocol'] = e['pickle_protocol']
            m['sid'] = e['sid']
        if m['hop'] == 'proxy->client' and m['msg_type'] == 'REPLY':
            m['failure'] = sent[(m['received_from'], 'REPLY',
                                 m['message_id'])]['failure']
        if m['hop'] == 'proxy-pub->server':
            # The wire's message-id slot holds the client's identity.
            m['request_message_id'] = m['message_id']
            m['message_id'] = None
            m['id_frame'] = m['reply_id']
    # Each SUBSCRIBE on the wire: one message per filter per connection.
    conn_of = {}
    for e in evs:
        if e['ev'] == 'conn' and e['what'] == 'connected':
            conn_of.setdefault(e['zmq_identity'], []).append(
                (e['local'], e['peer']))
    subs = []
    for e in evs:
        if e['ev'] == 'subscribe_opt':
            for local, peer in conn_of.get(e['zmq_identity'], []):
                subs.append({'t': round(e['t'], 6), 'process': e['process'],
                             'socket_type': 'SUB',
                             'zmq_identity': e['zmq_identity'],
                             'filter': e['filter'], 'src': local,
                             'dst': peer})
    protos = sorted({m['pickle_protocol'] for m in truth['messages']
                     if 'pickle_protocol' in m})
    gen = truth['generator']
    gen['kind'] = ('real oslo.messaging new zmq driver (G2) and real '
                   'oslo-messaging-zmq-proxy')
    gen['mode'] = {'serialization': 'pickle (send_pyobj: context and '
                                    'message dicts, Response)',
                   'pickle_protocol': protos[0] if len(protos) == 1
                   else protos,
                   'proxy': True, 'pub_sub': True, 'acks': False,
                   'dynamic': False}
    gen['options'] = ('use_router_proxy, use_pub_sub left at their 5.4.0 '
                      'defaults (true)')
    gen['wire'] = G2_PROXY_WIRE
    gen['client_source_address'] = ('libzmq tcp://%s.1:0;<proxy> connect '
                                    'syntax (servers likewise from their '
                                    'own IP)' % sc['net'])
    gen['clock'] = ('epoch seconds of the generating host; same clock as '
                    'the pcap timestamps; t = just before the last frame '
                    'was handed to libzmq (client requests, server '
                    'REPLYs), just after the forwarding call returned '
                    '(proxy)')
    gen['python'] = ('3.11 (compatibility patches: captures/tools/'
                     'oslo_patches/5.4.0, 03 and 04 for this mode)')
    rest = [(k, truth.pop(k)) for k in list(truth)
            if k not in ('capture', 'generator', 'endpoints', 'proxy',
                         'client_host', 'messages')]
    truth['proxy']['sockets'] = [
        {'addr': e['addr'], 'socket_type': e['socket_type'],
         'zmq_identity': e['zmq_identity'],
         'connections_accepted': sum(
             1 for c in evs if c['ev'] == 'conn' and
             c['process'] == 'zmq-proxy' and c['what'] == 'accepted' and
             c['local'] == e['addr'])}
        for e in evs if e['ev'] == 'bind' and e['process'] == 'zmq-proxy']
    truth['subscriptions'] = subs
    truth.update(rest)
    by = {}
    for m in truth['messages']:
        by[m['msg_type']] = by.get(m['msg_type'], 0) + 1
    s = truth['summary']
    s['by_msg_type'] = dict(sorted(by.items()))
    s['failures'] = sum(1 for m in truth['messages'] if m.get('failure'))
    s['replies_received_by_client'] = sum(
        1 for e in evs if e['ev'] == 'recv_reply')
    s['subscriptions'] = len(subs)
    return truth


def verify_g2_proxy(pcap, truth, dump=False):
    """new_om540_proxy_pickle against the wire: every truth message on
    its connection with G2_PROXY_WIRE's frames (type, routing key or
    reply id, message id or the PUB hop's identity frame, the context
    and message pickles with the method, the Response's type, ids and
    failure), pickle protocol as recorded; every SUBSCRIBE message;
    READY Socket-Type and Identity of the sending DEALERs; nothing else
    on the ZeroMQ connections."""
    wire, props_of, tcp_of, redis_conns, cmds = _wire_msgs(pcap)
    codes = {'CALL': b'1', 'CAST': b'2', 'CAST_FANOUT': b'3',
             'NOTIFY': b'4', 'REPLY': b'5'}
    problems, deltas, used, dumps, wire_t = [], [], set(), {}, {}

    def pk(f, m):
        return f[:2] == bytes([0x80, m['pickle_protocol']])
    proto = truth['generator']['mode']['pickle_protocol']
    for m in truth['messages']:
        m.setdefault('pickle_protocol', proto)
        on = wire.get((m['src'], m['dst']), [])
        hop = m['hop']
        mid = (m['message_id'] or '').encode()
        label = '%s %s %s' % (hop, m['msg_type'], m['message_id'] or
                              m.get('request_message_id'))
        hit = None
        for i, (frames, t) in enumerate(on):
            if (m['src'], m['dst'], i) in used:
                continue
            if hop == 'client->proxy':
                ok = (len(frames) == 6 and frames[0] == b'' and
                      frames[1] == codes[m['msg_type']] and
                      frames[2] == m['routing_key'].encode() and
                      frames[3] == mid)
            elif hop == 'proxy->server':
                ok = (len(frames) == 6 and frames[0] == b'' and
                      frames[1] == m['reply_id'].encode() and
                      frames[2] == codes[m['msg_type']] and
                      frames[3] == mid)
            elif hop == 'server->proxy':
                ok = (len(frames) == 5 and frames[:4] == [
                    b'', b'5', m['reply_id'].encode(), mid])
            elif hop == 'proxy->client':
                ok = (len(frames) == 5 and frames[0] == b'' and
                      frames[1] == m['reply_id'].encode() and
                      frames[2:4] == [b'5', mid])
            else:                                   # proxy-pub->server
                ok = (len(frames) == 4 and
                      frames[0] == m['topic_filter'].encode() and
                      frames[1] == m['id_frame'].encode())
                if ok:
                    msg = _stub_unpickle(frames[3])
                    ok = (msg.get('method') or msg.get('event_type')) == \
                        m['method']
            if ok:
                hit = i, frames, t
                break
        if hit is None:
            problems.append('not on the wire: %s %s->%s' % (
                label, m['src'], m['dst']))
            continue
        i, frames, t = hit
        used.add((m['src'], m['dst'], i))
        if m['msg_type'] == 'REPLY':
            r = _stub_unpickle(frames[-1])
            ok = (pk(frames[-1], m) and
                  r._class.endswith('zmq_response.Response') and
                  r._type == 5 and r._message_id == mid and
                  r._reply_id == (m['reply_id'] if hop == 'server->proxy'
                                  else m['routing_key']).encode() and
                  (r._failure is not None) == m['failure'])
        else:
            ctx, msg = _stub_unpickle(frames[-2]), _stub_unpickle(frames[-1])
            ok = (pk(frames[-2], m) and pk(frames[-1], m) and
                  isinstance(ctx, dict) and ctx.get('user_id') == 'a1b2c3'
                  and isinstance(msg, dict) and
                  (msg.get('method') or msg.get('event_type')) ==
                  m['method'])
        if not ok:
            problems.append('%s: body differs' % label)
        mine = props_of.get((m['src'], m['dst']), {})
        if hop in ('client->proxy', 'server->proxy') and (
                mine.get('Socket-Type') != b'DEALER' or
                mine.get('Identity') != m['zmq_identity'].encode()):
            problems.append('%s: READY %r' % (label, mine))
        deltas.append((t - m['t'], m))
        if m['msg_type'] in ('CALL', 'REPLY'):
            wire_t[(hop, m['message_id'])] = t
        dumps.setdefault((hop, m['msg_type']), (m, frames))
    # SUBSCRIBE: a ZMTP 3.1 command (libzmq between two 3.1 peers), not a
    # message.
    for s in truth['subscriptions']:
        on = cmds.get((s['src'], s['dst']), [])
        want = ('SUBSCRIBE', s['filter'].encode())
        if want in on:
            on.remove(want)
        else:
            problems.append('subscription %r not on the wire' % s)
    if any(cmds.values()):
        problems.append('other commands on the wire: %r' % cmds)
    extra = sum(len(v) for v in wire.values()) - len(used)
    if extra:
        problems.append('%d ZeroMQ messages on the wire not in the truth'
                        % extra)
    lat = []
    for c in truth['calls']:
        if c['t_reply'] is None:
            continue
        w = wire_t[('server->proxy', c['message_id'])] - \
            wire_t[('client->proxy', c['message_id'])]
        lat.append(abs(w - c['wire_latency_s']))
    print('wire check: %d ZeroMQ connections, %d redis; %d/%d truth '
          'messages and %d subscriptions found; t -> wire %.3f..%.3f ms; '
          'call latency within %.3f ms of the truth' % (
              len(tcp_of), redis_conns, len(used), len(truth['messages']),
              len(truth['subscriptions']),
              1e3 * min(d for d, _ in deltas),
              1e3 * max(d for d, _ in deltas), 1e3 * max(lat)))
    if dump:
        for k in sorted(dumps, key=str):
            m, frames = dumps[k]
            print('%s %s %s %s->%s frames %s' % (
                k[0], k[1], m['method'], m['src'], m['dst'],
                ' | '.join(repr(f) if len(f) < 48 else
                           '<%d bytes %s...>' % (len(f), f[:20].hex())
                           for f in frames)))
    if problems:
        raise SystemExit('wire check failed:\n' + '\n'.join(problems))
    return deltas, lat


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('scenario', nargs='?')
    ap.add_argument('--venv-root', default='/tmp/oslo-venvs')
    ap.add_argument('--work-root', default='/tmp/oslo-record')
    ap.add_argument('--out', default=os.path.join(REPO, 'captures', 'oslo'))
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--verify', action='store_true',
                    help='G1, G2, 5.7.0/5.13.0/8.1.4 proxy only: check '
                         '--out/<scenario>.pcap against '
                         'its truth (no recording) and print the first '
                         'message of each type')
    if len(sys.argv) > 1 and sys.argv[1] == '_role':
        rp = argparse.ArgumentParser()
        rp.add_argument('_role')
        rp.add_argument('scenario')
        rp.add_argument('--work', required=True)
        rp.add_argument('--role', required=True)
        rp.add_argument('--name', required=True)
        a = rp.parse_args()
        sc = SCENARIOS[a.scenario]
        if sc.get('legacy'):
            {'receiver': run_legacy_receiver, 'server': run_legacy_server,
             'client': run_legacy_client}[a.role](a, sc)
        else:
            {'server': run_server, 'client': run_client,
             'proxy': run_proxy, 'broker': run_broker}[a.role](a, sc)
        return
    args = ap.parse_args()
    if args.list or not args.scenario:
        for k, v in SCENARIOS.items():
            print(k, v)
        return
    sc = SCENARIOS[args.scenario]
    if args.verify and sc.get('variant'):
        with open(os.path.join(args.out, args.scenario +
                               '.truth.json')) as f:
            truth = json.load(f)
        verify_g3_variant(os.path.join(args.out, args.scenario + '.pcap'),
                          truth, sc, dump=True)
        return
    if args.verify:
        if sc.get('generation') not in ('G1', 'G2'):
            raise SystemExit('--verify: G1 and G2 scenarios only')
        with open(os.path.join(args.out, args.scenario +
                               '.truth.json')) as f:
            truth = json.load(f)
        pcap = os.path.join(args.out, args.scenario + '.pcap')
        if sc.get('broker'):
            verify_broker(pcap, truth, dump=True)
            return
        if sc.get('proxy'):
            verify_g2_proxy(pcap, truth, dump=True)
            return
        if sc.get('early'):
            verify_early(os.path.join(args.out, args.scenario + '.pcap'),
                         truth, dump=True)
            return
        verify_pickled(os.path.join(args.out, args.scenario + '.pcap'),
                       truth,
                  dump=True)
        return
    (record_legacy if sc.get('legacy') else record)(args.scenario, sc, args)


if __name__ == '__main__':
    main()
