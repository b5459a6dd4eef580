#!/usr/bin/env python3
"""Record a real stale-registration failure of the new oslo.messaging zmq
driver's redis name service, for `zmqtrace doctor` (catalogue FM16/FM23,
check DOC-P09), and its clean baseline.

    python3 captures/tools/record_doctor_redis.py SCENARIO... [--venv-root DIR]
                                                  [--work-root DIR] [--out DIR]
    python3 captures/tools/record_doctor_redis.py --list

Real oslo.messaging 8.1.4 (Rocky, G4) code, the venv and patches of
record_oslo.py (imported as a module), on loopback, as root:

  redis-server           127.0.40.5:6379 (--save '' --appendonly no)
  node-1                 127.0.40.2: RPC server, topic `compute`, server
                         `node-1`, ROUTER on a random port
  node-2                 127.0.40.3: the same, server `node-2`
  controller             127.0.40.1: the RPC client

redis-py 2.10.6 (Rocky's upper-constraints; RESP2) in a venv of its own
with record_oslo.py's other pins and patches (--redis-py 8.1.0: its venv,
which speaks RESP3); direct mode (use_router_proxy = use_pub_sub =
false, static direct connections: DEALER -> ROUTER), name service redis via
transport_url = zmq+redis://127.0.40.5:6379/; zmq_target_expire = 300,
zmq_target_update = 180 (the defaults, written out); rpc_response_timeout =
2 on every node.

Scenarios:

  redis_stale   the servers register (SADD/EXPIRE ROUTER/compute,
                ROUTER/compute/<node>, <ip:port>); node-2's server process
                is then killed with SIGKILL, so it never unregisters and
                its records stay in redis until they expire (300 s, far
                beyond the run).  Only then tcpdump starts and the client
                runs: it looks the targets up in redis, calls `ping` on
                node-1, `ping` on node-2 (the dead endpoint), casts to
                `compute`, calls `compute` without a server, one fanout
                and a last `ping` on node-1.
  redis_clean   the same run without the kill: the baseline.

The capture starts after the registration (and, in redis_stale, after the
kill), as a capture taken when the trouble is noticed would: the servers'
SADD/EXPIRE are therefore not in the pcap; they are in events.jsonl as the
servers sent them.  The client's lookups (SMEMBERS, TTL) and, at the end,
the surviving servers' unregistration (SREM) are on the wire.

Each process logs what it does to events.jsonl (process `<node>/<role>`):
every redis command it sent and the reply it read (wrapping redis-py's
Connection.send_command/read_response; `local`/`peer` are the TCP
endpoints), the matchmaker registrations (`register`, with expire), the
ZeroMQ sends (record_oslo.instrument), ZMQ_MONITOR events of the client's
connecting sockets (connected, connect_delayed, connect_retried, closed,
disconnected; the first ones per endpoint, then counts in `monitor_counts`)
and each API call/cast with its result.  The orchestrator logs the kill
and the redis contents (redis-cli, off the capture) before the client runs
and after the servers stopped, and, last, `stale_record`: the stale key,
member and the connection attempts to it, all taken from the events above
(never from the capture).

Two things the instrumentation changes, both in the open:
- every ZeroMQ connect uses libzmq's `tcp://<own ip>:0;<peer>` syntax
  (record_oslo.instrument) and every redis connection binds the node's own
  IP before connecting, so each node has its own source address on the
  wire (otherwise Linux picks 127.0.0.1 for all of them);
- nothing else: no option of the driver is changed.

Written to --out/capture_<scenario>/ (default tests/fixtures/doctor):
capture.pcap, <node>/nova.conf, <node>/nova-compute.log (servers) or
nova-api.log (controller): logger `oslo_messaging` at DEBUG in oslo.log's
default format, UTC; events.jsonl; README.md.  Addresses: 127.0.40.x
becomes 10.10.40.x in every file of the fixture (relocate_pcap: IPv4
headers, and the same-length text inside TCP payloads, i.e. the `ip:port`
members redis hands out; --no-relocate keeps them).
"""

import argparse
import collections
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import record_oslo as ro  # noqa: E402

OM = '8.1.4'
NET = '127.0.40'
REDIS = NET + '.5'
HOSTS = {'controller': NET + '.1', 'node-1': NET + '.2', 'node-2': NET + '.3'}
SERVERS = ('node-1', 'node-2')
EXPIRE = 300
UPDATE = 180
TIMEOUT = 2
# Seconds the client may take to clean up before it is killed.
CLEANUP_DEADLINE = 6
# redis-py of Rocky's upper-constraints (stable/rocky: redis===2.10.6): a
# RESP2 client (no HELLO, no CLIENT SETINFO), as a Rocky deployment ran
# it.  record_oslo.py's venv pins redis==8.1.0, which speaks RESP3 (HELLO
# 3): --redis-py 8.1.0 uses that venv as it is.
REDIS_PY = '2.10.6'

SCENARIOS = {
    'redis_stale': {'kill': 'node-2'},
    'redis_clean': {},
}

LOG_NAME = {'controller': 'nova-api.log', 'node-1': 'nova-compute.log',
            'node-2': 'nova-compute.log'}
SC = {'oslo_messaging': OM, 'generation': 'G4', 'net': NET,
      'serialization': 'json', 'redis': REDIS}


def node_conf(work, node):
    d = os.path.join(work, node)
    os.makedirs(d, exist_ok=True)
    ip = HOSTS[node]
    text = ('[DEFAULT]\n'
            'host = %s\n'
            'transport_url = zmq+redis://%s:6379/\n'
            'rpc_response_timeout = %d\n'
            '\n'
            '[oslo_messaging_zmq]\n'
            'rpc_zmq_host = %s\n'
            'rpc_zmq_bind_address = %s\n'
            'rpc_zmq_serialization = %s\n'
            'use_router_proxy = false\n'
            'use_pub_sub = false\n'
            'use_dynamic_connections = false\n'
            'rpc_use_acks = false\n'
            'zmq_target_expire = %d\n'
            'zmq_target_update = %d\n'
            'rpc_zmq_ipc_dir = %s\n'
            '\n'
            '[matchmaker_redis]\n'
            'host = %s\n'
            'port = 6379\n'
            % (node, REDIS, TIMEOUT, ip, ip, SC['serialization'], EXPIRE,
               UPDATE, os.path.join(work, 'ipc-' + node), REDIS))
    path = os.path.join(d, 'nova.conf')
    with open(path, 'w') as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------
# Role side: inside the venv.
# ---------------------------------------------------------------------------

def setup_logging(work, node):
    import logging
    fmt = logging.Formatter(
        '%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s '
        '[-] %(message)s', '%Y-%m-%d %H:%M:%S')
    fmt.converter = time.gmtime
    h = logging.FileHandler(os.path.join(work, node, LOG_NAME[node]))
    h.setFormatter(fmt)
    lg = logging.getLogger('oslo_messaging')
    lg.setLevel(logging.DEBUG)
    lg.addHandler(h)


def _j(v):
    """A redis reply or argument as JSON can hold it."""
    if isinstance(v, bytes):
        return v.decode('utf-8', 'replace')
    if isinstance(v, (list, tuple, set)):
        return [_j(x) for x in v]
    if isinstance(v, dict):
        return {str(_j(k)): _j(x) for k, x in v.items()}
    if isinstance(v, Exception):
        return '%s: %s' % (type(v).__name__, v)
    return v


def instrument_redis(log, src_ip):
    """Each redis connection binds src_ip; every command and its reply is
    logged as one `redis` event; matchmaker registrations are logged."""
    import socket
    from redis import connection as rc
    from oslo_messaging._drivers.zmq_driver.matchmaker import \
        zmq_matchmaker_redis as mr

    sockmod = socket

    def bound_socket(family=sockmod.AF_INET, *a, **kw):
        s = sockmod.socket(family, *a, **kw)
        if family == sockmod.AF_INET:
            s.bind((src_ip, 0))
        return s

    class _SocketModule(object):
        """redis.connection's `socket`, whose socket() binds src_ip."""
        def __getattr__(self, name):
            return getattr(sockmod, name)
    shim = _SocketModule()
    shim.socket = bound_socket
    rc.socket = shim

    orig_connect = rc.Connection.connect

    def connect(self, *args, **kwargs):
        fresh = self._sock is None
        r = orig_connect(self, *args, **kwargs)
        if fresh and self._sock is not None:
            log(ev='redis_connect', local='%s:%d' % self._sock.getsockname(),
                peer='%s:%d' % self._sock.getpeername(),
                redis_py=getattr(__import__('redis'), '__version__', None))
        return r
    rc.Connection.connect = connect

    orig_send = rc.Connection.send_command
    orig_read = rc.Connection.read_response

    def addrs(conn):
        try:
            s = conn._sock
            return ('%s:%d' % s.getsockname()[:2],
                    '%s:%d' % s.getpeername()[:2])
        except Exception:
            return None, None

    def send_command(self, *args, **kwargs):
        t = ro.now()
        r = orig_send(self, *args, **kwargs)
        self.__dict__.setdefault('_zt_pending', []).append(
            (t, [_j(a) for a in args]))
        return r

    def read_response(self, *args, **kwargs):
        pending = self.__dict__.get('_zt_pending') or []
        t, cmd = pending.pop(0) if pending else (None, None)
        local, peer = addrs(self)
        try:
            reply = orig_read(self, *args, **kwargs)
        except Exception as e:
            log(t=t, t_reply=ro.now(), ev='redis', cmd=cmd, error=_j(e),
                local=local, peer=peer)
            raise
        log(t=t, t_reply=ro.now(), ev='redis', cmd=cmd, reply=_j(reply),
            local=local, peer=peer)
        return reply
    rc.Connection.send_command = send_command
    rc.Connection.read_response = read_response

    orig_register = mr.MatchmakerRedisBase.register

    def register(self, target, hostname, listener_type, expire=-1):
        log(ev='register', topic=target.topic, server=target.server,
            hostname=hostname, listener_type=listener_type, expire=expire)
        return orig_register(self, target, hostname, listener_type, expire)
    mr.MatchmakerRedisBase.register = register

    orig_unregister = mr.MatchmakerRedisBase.unregister

    def unregister(self, target, hostname, listener_type):
        log(ev='unregister', topic=target.topic, server=target.server,
            hostname=hostname, listener_type=listener_type)
        return orig_unregister(self, target, hostname, listener_type)
    mr.MatchmakerRedisBase.unregister = unregister

    orig_get_hosts = mr.MatchmakerRedisBase.get_hosts

    def get_hosts(self, target, listener_type):
        hosts = orig_get_hosts(self, target, listener_type)
        log(ev='lookup', via='get_hosts', topic=target.topic,
            server=target.server, listener_type=listener_type,
            hosts=_j(list(hosts)))
        return hosts
    mr.MatchmakerRedisBase.get_hosts = get_hosts

    orig_fanout = mr.MatchmakerRedisBase.get_hosts_fanout

    def get_hosts_fanout(self, target, listener_type):
        hosts = orig_fanout(self, target, listener_type)
        log(ev='lookup', via='get_hosts_fanout', topic=target.topic,
            server=target.server, listener_type=listener_type,
            hosts=_j(list(hosts)))
        return hosts
    mr.MatchmakerRedisBase.get_hosts_fanout = get_hosts_fanout


MONITOR_NAMES = {1: 'connected', 2: 'connect_delayed', 4: 'connect_retried',
                 32: 'accepted', 128: 'closed', 512: 'disconnected',
                 4096: 'handshake_succeeded'}
# Events logged one by one per (socket, endpoint, event); the rest counted.
MONITOR_FIRST = 3


def instrument_connects(log, src_ip, counts):
    """record_oslo.instrument's ZmqSocket.connect (source address, a
    monitor per socket), with a monitor that also reports the attempts
    (connect_delayed, connect_retried, closed)."""
    import threading
    import socket as pysocket
    import zmq as plainzmq
    from zmq.utils.monitor import parse_monitor_message
    from oslo_messaging._drivers.zmq_driver import zmq_socket
    lock = threading.Lock()

    def addr_of(fd):
        s = pysocket.socket(fileno=os.dup(fd))
        try:
            return ('%s:%d' % s.getsockname()[:2],
                    '%s:%d' % s.getpeername()[:2])
        finally:
            s.close()

    def watch(sock, sid):
        mon = sock.handle.get_monitor_socket(sum(MONITOR_NAMES))
        ident = ro._s(sock.handle.identity)

        def loop():
            while True:
                try:
                    msg = mon.recv_multipart()
                except Exception:
                    return
                ev = parse_monitor_message(msg)
                e = int(ev['event'])
                what = MONITOR_NAMES.get(e, str(e))
                endpoint = ro._s(ev['endpoint'])
                key = (sid, endpoint, what)
                with lock:
                    c = counts.setdefault(key, [0, None, None])
                    c[0] += 1
                    c[1] = c[1] or ro.now()
                    c[2] = ro.now()
                    n = c[0]
                if n > MONITOR_FIRST and e not in (1, 32, 512):
                    continue
                rec = {'ev': 'conn', 'zmq_identity': ident, 'sid': sid,
                       'endpoint': endpoint, 'what': what, 'n': n,
                       'value': int(ev['value'])}
                if e in (1, 32):
                    try:
                        rec['local'], rec['peer'] = addr_of(ev['value'])
                    except OSError as exc:
                        rec['error'] = str(exc)
                log(**rec)
        t = threading.Thread(target=loop)
        t.daemon = True
        t.start()

    nsid = [0]

    def connect(self, address):
        if address not in self.connections:
            real = address
            if src_ip and address.startswith('tcp://'):
                real = 'tcp://%s:0;%s' % (src_ip, address[len('tcp://'):])
            if '_zt_sid' not in self.__dict__:
                nsid[0] += 1
                self._zt_sid = '%s#%d' % (log.process, nsid[0])
            if not getattr(self, '_monitored', False):
                self._monitored = True
                watch(self, self._zt_sid)
            self.handle.connect(real)
            self.connections.add(address)
            log(ev='connect', zmq_identity=ro._s(self.handle.identity),
                socket_type=self.type_name(), address=address, real=real,
                sid=self._zt_sid,
                immediate=bool(self.handle.getsockopt(plainzmq.IMMEDIATE)))
    zmq_socket.ZmqSocket.connect = connect

    def dump():
        with lock:
            items = sorted(counts.items())
        return [{'sid': k[0], 'endpoint': k[1], 'what': k[2], 'count': v[0],
                 'first': v[1], 'last': v[2]} for k, v in items]
    return dump


def role_common(args):
    import eventlet
    eventlet.monkey_patch()
    node = args.name
    setup_logging(args.work, node)
    log = ro.EventLog(os.path.join(args.work, 'events.jsonl'),
                      '%s/%s' % (node, args.role))
    log(ev='start', pid=os.getpid())
    ip = HOSTS[node]
    ro.instrument(log, ip, SC)
    instrument_redis(log, ip)
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    conf(['--config-file', os.path.join(args.work, node, 'nova.conf')],
         project='nova')
    return eventlet, log, conf, ip


def run_server(args):
    eventlet, log, conf, ip = role_common(args)
    import oslo_messaging as om
    name = args.name
    transport = om.get_rpc_transport(conf)

    class Compute(object):
        def ping(self, ctxt, arg):
            log(ev='handled', method='ping', arg=arg)
            return {'pong': arg, 'server': name}

        def run_instance(self, ctxt, instance_id):
            log(ev='handled', method='run_instance', instance_id=instance_id)

        def update_service_capabilities(self, ctxt, capabilities):
            log(ev='handled', method='update_service_capabilities')

    server = om.get_rpc_server(
        transport, om.Target(topic='compute', server=name), [Compute()],
        executor='eventlet')
    server.start()
    log(ev='ready')
    stop = os.path.join(args.work, 'stop')
    while not os.path.exists(stop):
        eventlet.sleep(0.1)
    server.stop()
    server.wait()
    transport.cleanup()
    log(ev='exit')
    os._exit(0)


def run_client(args):
    eventlet, log, conf, ip = role_common(args)
    counts = {}
    dump = instrument_connects(log, ip, counts)
    import oslo_messaging as om
    transport = om.get_rpc_transport(conf)
    client = om.RPCClient(transport, om.Target(topic='compute'))
    ctxt = {'user_id': 'u-1', 'project_id': 'p-1',
            'request_id': 'req-00000000-0000-0000-0000-0000000d0c40'}
    seq = [0]

    def api(op, method, server=None, **kw):
        seq[0] += 1
        rec = {'ev': 'api', 'seq': seq[0], 'op': op, 'topic': 'compute',
               'server': server, 'method': method, 'timeout': TIMEOUT,
               't': ro.now()}
        try:
            c = client.prepare(server=server, fanout=(op == 'fanout'),
                               timeout=TIMEOUT)
            if op == 'call':
                rec['result'] = c.call(ctxt, method, **kw)
            else:
                c.cast(ctxt, method, **kw)
        except Exception as e:
            rec['error'] = '%s: %s' % (type(e).__name__,
                                       str(e).splitlines()[0][:200])
        rec['t_done'] = ro.now()
        log(**rec)

    api('call', 'ping', server='node-1', arg=1)
    api('call', 'ping', server='node-2', arg=2)
    for i in range(4):
        api('cast', 'run_instance', instance_id='inst-%d' % (i + 1))
    api('call', 'ping', arg=3)
    api('call', 'ping', arg=4)
    api('fanout', 'update_service_capabilities',
        capabilities={'host': 'controller'})
    eventlet.sleep(0.5)
    api('call', 'ping', server='node-1', arg=5)
    eventlet.sleep(0.5)
    log(ev='monitor_counts', counts=dump())
    log(ev='cleanup')
    transport.cleanup()
    log(ev='monitor_counts', counts=dump())
    log(ev='exit')
    os._exit(0)


# ---------------------------------------------------------------------------
# Orchestrator side.
# ---------------------------------------------------------------------------

def read_events(work):
    with open(os.path.join(work, 'events.jsonl')) as f:
        return [json.loads(l) for l in f if l.strip()]


def redis_state(olog, when):
    """The name service's contents, read with redis-cli (from 127.0.0.1,
    outside the captured net unless tcpdump runs: call it when it does
    not)."""
    def cli(*a):
        return subprocess.check_output(['redis-cli', '-h', REDIS] +
                                       list(a)).decode().splitlines()
    state = {}
    for k in sorted(cli('--scan')):
        state[k] = {'type': cli('TYPE', k)[0], 'ttl': int(cli('TTL', k)[0]),
                    'members': sorted(cli('SMEMBERS', k))}
    olog(ev='redis_state', when=when, keys=state)
    return state


def stale_truth(evs, dead):
    """The stale record and the attempts to reach it, from the events."""
    regs = [e for e in evs if e['process'] == dead + '/server' and
            e['ev'] == 'register']
    sent = [e for e in evs if e['process'] == dead + '/server' and
            e['ev'] == 'redis' and e['cmd'] and
            e['cmd'][0] in ('SADD', 'EXPIRE')]
    member = regs[0]['hostname']
    endpoint = 'tcp://' + member
    client = 'controller/client'
    lookups = [{'t': e['t'], 'cmd': e['cmd'], 'reply': e['reply']}
               for e in evs if e['process'] == client and e['ev'] == 'redis'
               and e['cmd'] and member in json.dumps(e['cmd']) +
               json.dumps(e.get('reply'))]
    connects = [e for e in evs if e['process'] == client and
                e['ev'] == 'connect' and e['address'] == endpoint]
    counts = [e for e in evs if e['process'] == client and
              e['ev'] == 'monitor_counts']
    final = counts[-1]['counts'] if counts else []
    attempts = [c for c in final if c['endpoint'].endswith(member)]
    apis = [e for e in evs if e['process'] == client and e['ev'] == 'api']
    return {'ev': 'stale_record', 'dead_server': dead,
            'keys': ['ROUTER/compute/' + dead, 'ROUTER/compute', member],
            'member': member,
            'registered_by': [{'t': e['t'], 'cmd': e['cmd'],
                               'reply': e['reply']} for e in sent],
            'unregistered': any(e['process'] == dead + '/server' and
                                e['ev'] == 'unregister' for e in evs),
            'client_lookups_naming_it': lookups,
            'client_connects': [{'t': e['t'], 'sid': e['sid'],
                                 'real': e['real'],
                                 'immediate': e['immediate']}
                                for e in connects],
            'monitor_counts': attempts,
            'connected': any(c['what'] == 'connected' for c in attempts),
            'api_failed': [{'seq': a['seq'], 'op': a['op'],
                            'server': a['server'], 'error': a['error']}
                           for a in apis if a.get('error')]}


def ensure_venv(root, redis_py):
    """record_oslo.ensure_venv for 8.1.4, with redis-py pinned to
    redis_py (the same pins and patches otherwise) in a venv of its own."""
    if redis_py == '8.1.0':
        return ro.ensure_venv(root, OM)
    venv = os.path.join(root, 'om-%s-redis-%s' % (OM, redis_py))
    py = os.path.join(venv, 'bin', 'python')
    marker = os.path.join(venv, '.zmqtrace-ready')
    if os.path.exists(marker):
        return py
    if os.path.exists(venv):
        shutil.rmtree(venv)
    subprocess.check_call([sys.executable, '-m', 'venv', venv])
    pins = [p for p in ro.VERSIONS[OM]['pins'] if not p.startswith('redis==')]
    pip = [py, '-m', 'pip', 'install', '-q', '--disable-pip-version-check']
    subprocess.check_call(pip + pins + ['redis==' + redis_py])
    subprocess.check_call(pip + ['--no-deps', 'oslo.messaging==' + OM])
    sp = ro.site_packages(venv)
    pdir = os.path.join(ro.PATCH_DIR, OM)
    for p in sorted(os.listdir(pdir)):
        if p.endswith('.patch'):
            subprocess.check_call(['patch', '-p1', '-d', sp, '-i',
                                   os.path.join(pdir, p)])
    open(marker, 'w').close()
    return py


def record(name, args):
    sc = SCENARIOS[name]
    py = ensure_venv(args.venv_root, args.redis_py)
    work = os.path.join(args.work_root, name)
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    for node in HOSTS:
        node_conf(work, node)
    me = os.path.abspath(__file__)
    olog = ro.EventLog(os.path.join(work, 'events.jsonl'), 'orchestrator')
    procs = []
    tcpdump = None

    def spawn(cmd, logname):
        p = subprocess.Popen(cmd, stdout=open(os.path.join(work, logname),
                                              'a'),
                             stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    def has(process, ev):
        return any(e['process'] == process and e['ev'] == ev
                   for e in read_events(work))

    try:
        redis_cmd = ['redis-server', '--bind', REDIS, '--port', '6379',
                     '--save', '', '--appendonly', 'no', '--dir', work,
                     '--protected-mode', 'no']
        redis_p = spawn(redis_cmd, 'redis.log')
        ro.wait_for(lambda: subprocess.call(
            ['redis-cli', '-h', REDIS, 'ping'], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL) == 0, 10, 'redis')
        olog(ev='redis_started', pid=redis_p.pid, cmd=redis_cmd,
             redis_py=args.redis_py,
             version=subprocess.check_output(
                 ['redis-server', '--version']).decode().strip())
        role = [py, '-W', 'ignore', '-B', me, '_role', name, '--work', work]
        servers = {}
        for node in SERVERS:
            servers[node] = spawn(role + ['--role', 'server', '--name', node],
                                  '%s.out' % node)
        ro.wait_for(lambda: all(has('%s/server' % n, 'ready')
                                for n in SERVERS), 60, 'servers')
        time.sleep(0.5)
        dead = sc.get('kill')
        if dead:
            p = servers[dead]
            os.kill(p.pid, signal.SIGKILL)
            olog(ev='kill', node=dead, pid=p.pid, signal='SIGKILL')
            p.wait()
            olog(ev='killed', node=dead, pid=p.pid, returncode=p.returncode)
            time.sleep(0.5)
        redis_state(olog, 'before_capture')
        pcap = os.path.join(work, 'capture.pcap')
        tcpdump = subprocess.Popen(
            ['tcpdump', '-i', 'lo', '-s', '0', '-n', '-Z', 'root', '-w', pcap,
             'net %s.0/24' % NET],
            stderr=open(os.path.join(work, 'tcpdump.err'), 'w'))
        procs.append(tcpdump)
        ro.wait_for(lambda: 'listening on' in open(
            os.path.join(work, 'tcpdump.err')).read(), 10, 'tcpdump')
        time.sleep(0.3)
        olog(ev='capture_started')
        client = spawn(role + ['--role', 'client', '--name', 'controller'],
                       'controller.out')
        ro.wait_for(lambda: has('controller/client', 'cleanup') or
                    client.poll() is not None, 90, 'client')
        try:
            client.wait(timeout=CLEANUP_DEADLINE)
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait()
            olog(ev='client_killed', after_cleanup_s=CLEANUP_DEADLINE)
        if client.returncode not in (0, -9):
            raise SystemExit('client failed: see %s/controller.out' % work)
        time.sleep(0.3)
        open(os.path.join(work, 'stop'), 'w').close()
        for node, p in servers.items():
            if p.poll() is None:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    olog(ev='server_killed', node=node)
        time.sleep(0.3)
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)
        olog(ev='capture_stopped')
        redis_state(olog, 'after_run')
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
    olog(ev='tcpdump', stats=[l for l in err.splitlines() if 'packets' in l])
    evs = read_events(work)
    if sc.get('kill'):
        olog(**{k: v for k, v in stale_truth(evs, sc['kill']).items()
                if k != 't'})
    evs = read_events(work)
    evs.sort(key=lambda e: (e['t'] is None, e['t'] or 0))
    out = os.path.join(args.out, 'capture_' + name)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with open(os.path.join(out, 'events.jsonl'), 'w') as f:
        for e in evs:
            f.write(json.dumps(e, sort_keys=True) + '\n')
    for node in HOSTS:
        shutil.copytree(os.path.join(work, node), os.path.join(out, node))
    if args.relocate:
        n = relocate_pcap(pcap, os.path.join(out, 'capture.pcap'),
                          *RELOCATE)
        for root, _, files in os.walk(out):
            for fn in files:
                if not fn.endswith('.pcap'):
                    relocate_text(os.path.join(root, fn), *RELOCATE)
        with open(os.path.join(out, 'events.jsonl')) as f:
            evs = [json.loads(l) for l in f if l.strip()]
        print('%s: addresses moved from %s0/24 to %s0/24 (%d in TCP '
              'payloads)' % (name, RELOCATE[0], RELOCATE[1], n))
    else:
        shutil.copy(pcap, os.path.join(out, 'capture.pcap'))
    write_readme(name, sc, out, evs, drops[0], args.redis_py,
                 args.relocate)
    apis = [e for e in evs if e['ev'] == 'api']
    print('%s: %d bytes of capture, %d API operations (%d failed); %s' % (
        name, os.path.getsize(pcap), len(apis),
        sum(1 for a in apis if a.get('error')), drops[0]))


# The run has to use loopback; the fixture stands for a multi-node cloud,
# where 127.x addresses in configs are findings of their own (see
# tests/fixtures/doctor/CAPTURES.md).  127.0.40.x becomes 10.10.40.x: the
# same length as text, so the addresses redis hands out inside RESP
# payloads are rewritten too without changing a length or sequence number.
RELOCATE = (NET + '.', '10.10.40.')


def _csum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def relocate_pcap(src, dst, old, new):
    """Copy a little-endian Ethernet pcap, moving IPv4 addresses with the
    prefix `old` (like '127.0.40.') to `new` and replacing the text `old`
    in TCP payloads by `new` (equal lengths); IPv4 and TCP checksums
    recomputed, every other byte kept."""
    assert len(old) == len(new)
    ob = bytes(int(x) for x in old.strip('.').split('.'))
    nb = bytes(int(x) for x in new.strip('.').split('.'))
    assert len(ob) == len(nb) == 3
    otext, ntext = old.encode(), new.encode()
    with open(src, 'rb') as f:
        data = bytearray(f.read())
    magic, = struct.unpack('<I', data[:4])
    if magic not in (0xa1b2c3d4, 0xa1b23c4d) or \
            struct.unpack('<I', data[20:24])[0] != 1:
        raise SystemExit('relocate_pcap: expected a little-endian '
                         'Ethernet pcap')
    pos, moved = 24, 0
    while pos + 16 <= len(data):
        incl, = struct.unpack('<I', data[pos + 8:pos + 12])
        frame = pos + 16
        end_cap = frame + incl
        ip = frame + 14
        if data[frame + 12:frame + 14] == b'\x08\x00' and incl >= 34:
            ihl = (data[ip] & 0x0f) * 4
            total, = struct.unpack('!H', data[ip + 2:ip + 4])
            for off in (12, 16):
                if bytes(data[ip + off:ip + off + 3]) == ob:
                    data[ip + off:ip + off + 3] = nb
            data[ip + 10:ip + 12] = b'\0\0'
            data[ip + 10:ip + 12] = struct.pack(
                '!H', _csum(bytes(data[ip:ip + ihl])))
            if data[ip + 9] == 6 and ip + total <= end_cap:
                seg = ip + ihl
                end = ip + total
                doff = ((data[seg + 12] >> 4) & 0xf) * 4
                payload = bytes(data[seg + doff:end])
                if otext in payload:
                    moved += payload.count(otext)
                    data[seg + doff:end] = payload.replace(otext, ntext)
                data[seg + 16:seg + 18] = b'\0\0'
                pseudo = bytes(data[ip + 12:ip + 20]) + struct.pack(
                    '!BBH', 0, 6, end - seg)
                data[seg + 16:seg + 18] = struct.pack(
                    '!H', _csum(pseudo + bytes(data[seg:end])))
        pos = end_cap
    with open(dst, 'wb') as f:
        f.write(data)
    return moved


def relocate_text(path, old, new):
    with open(path) as f:
        text = f.read()
    with open(path, 'w') as f:
        f.write(text.replace(old, new))


def wire_counts(pcap, member):
    """Counts read back from the capture with tcpdump (for the README)."""
    ip, port = member.rsplit(':', 1)

    def n(expr):
        out = subprocess.run(['tcpdump', '-n', '-r', pcap, expr],
                             capture_output=True).stdout.decode()
        return len([l for l in out.splitlines() if l.strip()])
    return {
        'syn': n('dst host %s and tcp dst port %s and '
                 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' % (ip, port)),
        'rst': n('src host %s and tcp src port %s and '
                 'tcp[tcpflags] & tcp-rst != 0' % (ip, port)),
        'packets': n('host %s and tcp port %s' % (ip, port)),
    }


def write_readme(name, sc, out, evs, drops, redis_py, relocated):
    def ip(a):
        return a.replace(*RELOCATE) if relocated else a
    apis = [e for e in evs if e['ev'] == 'api']
    regs = [e for e in evs if e['ev'] == 'register']
    ok = [a for a in apis if not a.get('error')]
    dead = sc.get('kill')
    lines = ['# capture_%s' % name, '',
             'Recorded by `captures/tools/record_doctor_redis.py %s` '
             '(see its docstring): real oslo.messaging %s (Rocky, G4) zmq '
             'driver, direct mode (DEALER -> ROUTER on random ports), '
             'redis name service (redis-server %s:6379, %s; the roles use '
             'redis-py %s), '
             '`zmq_target_expire = %d`, `zmq_target_update = %d`, '
             '`rpc_response_timeout = %d`, json serialization, on loopback.'
             % (name, OM, ip(REDIS), [e for e in evs if e['ev'] ==
                                      'redis_started'][0]['version'],
                redis_py, EXPIRE, UPDATE, TIMEOUT), '']
    if relocated:
        lines += ['**Addresses.** The run used %s0/24 (loopback); this '
                  'fixture has %s0/24 everywhere: IPv4 headers of the '
                  'capture (IPv4 and TCP checksums recomputed), the text '
                  '`%s` inside TCP payloads (the `ip:port` members redis '
                  'hands out; same length, so no length or sequence number '
                  'changes), configs, logs and `events.jsonl`. A 127.x '
                  'address in a config is a finding of its own, as in the '
                  'other capture fixtures (CAPTURES.md).'
                  % (RELOCATE[0], RELOCATE[1], RELOCATE[0]), '']
    lines += [
             '| node | address | role |', '|---|---|---|',
             '| controller | %s | RPC client |' % ip(HOSTS['controller']),
             '| node-1 | %s | RPC server, topic `compute`, server `node-1` |'
             % ip(HOSTS['node-1']),
             '| node-2 | %s | RPC server, topic `compute`, server `node-2` |'
             % ip(HOSTS['node-2']),
             '| redis | %s | redis-server (name service) |' % ip(REDIS), '']
    lines.append('Registrations (as the servers sent them, before the '
                 'capture started; in `events.jsonl`; each `register` is '
                 'SADD+EXPIRE of `ROUTER/compute/<node>`, `<ip:port>` '
                 '(member `\' \'`), `ROUTER/compute`, `<ip:port>`; the '
                 'driver registers twice at start: TargetUpdater\'s first '
                 'update, then its loop\'s first run):')
    lines.append('')
    for r in regs:
        lines.append('- %s: `%s/%s/%s` and `%s/%s` -> `%s`, expire %s' % (
            r['process'].split('/')[0], r['listener_type'], r['topic'],
            r['server'], r['listener_type'], r['topic'], r['hostname'],
            r['expire']))
    lines.append('')
    if dead:
        st = [e for e in evs if e['ev'] == 'stale_record'][0]
        wc = wire_counts(os.path.join(out, 'capture.pcap'), st['member'])
        lines += [
            '**What broke:** %s\'s server process was killed with SIGKILL '
            'after it registered; it never unregistered, so redis still '
            'maps `ROUTER/compute/%s` and `ROUTER/compute` to `%s` (the '
            'records expire only after %d s). tcpdump started after the '
            'kill, so the capture holds the client\'s lookups, not the '
            'registration.' % (dead, dead, st['member'], EXPIRE), '',
            'Stale member `%s`: %d of the client\'s DEALER sockets '
            'connect()ed to it; ZMQ_MONITOR on the client: %s; never '
            'connected. On the '
            'wire (tcpdump -r, for this README only): %d SYNs to it, %d '
            'RSTs from it.' % (
                st['member'], len(st['client_connects']),
                ', '.join('%s %s x%d' % (c['sid'], c['what'], c['count'])
                          for c in st['monitor_counts']) or 'none',
                wc['syn'], wc['rst']), '']
    lines.append('API operations of the client (%d, %d without error):'
                 % (len(apis), len(ok)))
    lines.append('')
    for a in apis:
        res = a.get('error') or 'ok: %s' % json.dumps(a.get('result'))
        lines.append('%d. %s `%s` server=%s (%.2f s): %s' % (
            a['seq'], a['op'], a['method'], a['server'] or '-',
            a['t_done'] - a['t'], res))
    handled = collections.Counter(
        (e['process'].split('/')[0], e['method']) for e in evs
        if e['ev'] == 'handled')
    lines += ['', 'Handled by the servers: ' + (', '.join(
        '%s %s x%d' % (k[0], k[1], v) for k, v in sorted(handled.items()))
        or 'none') + '.', '']
    warn = []
    for node in HOSTS:
        p = os.path.join(out, node, LOG_NAME[node])
        if os.path.exists(p):
            warn += ['%s: %s' % (node, l.split(' [-] ', 1)[-1].strip())
                     for l in open(p) if ' WARNING ' in l or ' ERROR ' in l]
    lines.append('Driver WARNING/ERROR lines: %d' % len(warn) +
                 (':' if warn else '.'))
    lines += ['- `%s`' % w for w in warn[:10]]
    lines += ['', 'tcpdump: %s.' % drops, '',
              'Files: `capture.pcap`; `<node>/nova.conf` as the node ran '
              'it; `<node>/nova-compute.log` or `nova-api.log` (logger '
              '`oslo_messaging`, DEBUG, oslo.log default format, UTC); '
              '`events.jsonl` (written by the processes: redis commands '
              'and replies, registrations, zmq sends, monitor events, API '
              'results%s).' % (', the kill and `stale_record`' if dead
                               else ''), '']
    with open(os.path.join(out, 'README.md'), 'w') as f:
        f.write('\n'.join(lines))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '_role':
        rp = argparse.ArgumentParser()
        rp.add_argument('_role')
        rp.add_argument('scenario')
        rp.add_argument('--work', required=True)
        rp.add_argument('--role', required=True)
        rp.add_argument('--name', required=True)
        a = rp.parse_args()
        {'server': run_server, 'client': run_client}[a.role](a)
        return
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('scenario', nargs='*')
    ap.add_argument('--venv-root', default='/tmp/oslo-venvs')
    ap.add_argument('--work-root', default='/tmp/doctor-redis-record')
    ap.add_argument('--out', default=os.path.join(REPO, 'tests', 'fixtures',
                                                  'doctor'))
    ap.add_argument('--redis-py', default=REDIS_PY,
                    help='redis-py version of the roles (default %(default)s'
                         '; 8.1.0 = record_oslo.py\'s venv)')
    ap.add_argument('--no-relocate', dest='relocate', action='store_false',
                    help='keep 127.0.40.x in the fixture (default: moved to '
                         '10.10.40.x)')
    ap.add_argument('--list', action='store_true')
    args = ap.parse_args()
    if args.list or not args.scenario:
        for k, v in SCENARIOS.items():
            print(k, v)
        return
    for name in (SCENARIOS if args.scenario == ['all'] else args.scenario):
        record(name, args)


if __name__ == '__main__':
    main()
