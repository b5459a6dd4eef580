#!/usr/bin/env python3
"""Record real failures of the legacy ZeroMQ driver for `zmqtrace doctor`:
a capture, the configs, ring, hosts table and DEBUG logs of every node.

    python3 captures/tools/record_doctor.py SCENARIO [--venv-root DIR]
                                            [--work-root DIR] [--out DIR]
    python3 captures/tools/record_doctor.py --list

Each scenario runs real oslo.messaging 1.10.0 code (the venv and patches of
record_oslo.py) on loopback, as root: a real `oslo-messaging-zmq-receiver`
per node, an RPC server on compute1 and compute2 and a client on the
controller, with MatchMakerRing.  Then it breaks one thing, the way the
failure-mode catalogue (shared/docs/matchmaker-failure-modes.md) says it
breaks in the field:

  receiver_down     compute2's receiver is not running (FM11): SYN -> RST
  reply_localhost   the controller's rpc_zmq_host is `localhost` (FM10):
                    replies go to zmq_replies.localhost, i.e. to the
                    callee's own 127.0.0.1:9501, where nothing listens
  name_mismatch     compute2's services use rpc_zmq_host =
                    compute2.example.com while the ring says compute2
                    (FM07): its receiver takes the messages, no consumer
                    reads them, calls are never answered
  firewall          an iptables rule on lo drops SYNs to compute2:9501
                    (the catalogue's "SYN with no answer"); removed after
  haproxy_backend   compute2 is an all-in-one node behind a real haproxy:
                    haproxy holds 9501 and forwards to 9500, but the
                    receiver was started on 9502 (FM12)
  haproxy_aio       nothing broken, compute2 as the all-in-one setups run
                    it: haproxy holds 9501 and forwards to the receiver
                    on 9500, so every message to compute2 crosses two
                    TCP connections (forward events, counted once)
  fanout_first      the fanout loop of oslo.messaging < 1.4.0 (FM18),
                    re-enacted in 1.10.0 by returning after the first
                    cast of `_multi_send`, as the old code did
  clean             nothing broken: the baseline

What is written to --out/<scenario>/ (default
tests/fixtures/doctor/capture_<scenario>):

  capture.pcap                   tcpdump -i lo of the scenario's net (and
                                 127.0.0.1:9501, where replies to
                                 `localhost` go)
  <node>/nova.conf               the services' config, as they ran
  <node>/zmq-receiver.conf       the receiver's config
  <node>/matchmaker_ring.json    the ring every node read
  <node>/hosts                   how names resolved (the script resolves
                                 through this table, not /etc/hosts)
  <node>/nova-*.log, zmq-receiver.log
                                 the driver's own log lines (logger
                                 `oslo_messaging`, DEBUG) in oslo.log's
                                 default format, times in UTC
  <node>/haproxy.cfg             haproxy_backend and haproxy_aio only
  events.jsonl                   what each process did (sends, API results)

Nothing here is written from the capture.
"""

import argparse
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
import record_oslo as ro  # noqa: E402

OM = '1.10.0'
NODES = ('controller', 'compute1', 'compute2')
# Seconds the client may run; a frozen client is killed (see run_client).
CLIENT_DEADLINE = 9
BASE = {'oslo_messaging': OM, 'legacy': True, 'port': 9501,
        'ring': {'compute': ['compute1', 'compute2']}}

SCENARIOS = {
    'clean': {'net': '127.0.20'},
    'receiver_down': {'net': '127.0.21', 'no_receiver': ['compute2']},
    'reply_localhost': {'net': '127.0.22',
                        'rpc_zmq_host': {'controller': 'localhost'}},
    'name_mismatch': {'net': '127.0.23',
                      'rpc_zmq_host': {'compute2': 'compute2.example.com'},
                      'aliases': {'compute2.example.com': 'compute2'}},
    'firewall': {'net': '127.0.24', 'drop': 'compute2'},
    'haproxy_backend': {'net': '127.0.25', 'haproxy': 'compute2',
                        'receiver_port': {'compute2': 9502}},
    'fanout_first': {'net': '127.0.26', 'fanout_first': True},
    'haproxy_aio': {'net': '127.0.27', 'haproxy': 'compute2',
                    'receiver_port': {'compute2': 9500}},
}


def scenario(name):
    sc = dict(BASE)
    sc.update(SCENARIOS[name])
    net = sc['net']
    sc['hosts'] = {n: '%s.%d' % (net, i + 1) for i, n in enumerate(NODES)}
    for alias, node in sc.get('aliases', {}).items():
        sc['hosts'][alias] = sc['hosts'][node]
    # How `localhost` resolves on every node.
    sc['hosts']['localhost'] = '127.0.0.1'
    return sc


def zmq_host(sc, node):
    return sc.get('rpc_zmq_host', {}).get(node, node)


def write_node_files(work, sc, node):
    """The files of one node, as an operator would hand them to doctor."""
    d = os.path.join(work, node)
    os.makedirs(d, exist_ok=True)
    ip = sc['hosts'][node]
    ipc = os.path.join(work, 'ipc-' + node)
    os.makedirs(ipc, exist_ok=True)
    ring = os.path.join(d, 'matchmaker_ring.json')
    with open(ring, 'w') as f:
        json.dump(sc['ring'], f, indent=1)
        f.write('\n')
    with open(os.path.join(d, 'hosts'), 'w') as f:
        f.write('127.0.0.1 localhost\n')
        for n in NODES:
            names = [n] + [a for a, t in sc.get('aliases', {}).items()
                           if t == n]
            f.write('%s %s\n' % (sc['hosts'][n], ' '.join(names)))

    def conf(fn, port):
        body = ('[DEFAULT]\n'
                'rpc_backend = zmq\n'
                'rpc_zmq_host = %s\n'
                'rpc_zmq_bind_address = %s\n'
                'rpc_zmq_ipc_dir = %s\n'
                'rpc_zmq_matchmaker = ring\n'
                'rpc_zmq_port = %d\n'
                'rpc_response_timeout = 2\n'
                '\n[matchmaker_ring]\n'
                'ringfile = %s\n' % (zmq_host(sc, node), ip, ipc, port, ring))
        with open(os.path.join(d, fn), 'w') as f:
            f.write(body)
    conf('nova.conf', sc['port'])
    conf('zmq-receiver.conf', sc.get('receiver_port', {}).get(node,
                                                               sc['port']))
    if sc.get('haproxy') == node:
        with open(os.path.join(d, 'haproxy.cfg'), 'w') as f:
            f.write('global\n'
                    '    maxconn 256\n'
                    '\n'
                    'defaults\n'
                    '    mode tcp\n'
                    '    timeout connect 2s\n'
                    '    timeout client 30s\n'
                    '    timeout server 30s\n'
                    '    retries 2\n'
                    '\n'
                    'listen zmq-rpc\n'
                    '    bind %s:9501\n'
                    '    source %s\n'
                    '    server %s %s:9500\n' % (ip, ip, node, ip))


# ---------------------------------------------------------------------------
# Role side: inside the venv.
# ---------------------------------------------------------------------------

def role_setup(args, sc, conf_name, log_name):
    """Logging as oslo.log's default format writes it, to the node's log,
    and the driver instrumented as record_oslo.py does it."""
    import logging
    node = args.name
    d = os.path.join(args.work, node)
    fmt = logging.Formatter(
        '%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s '
        '[-] %(message)s', '%Y-%m-%d %H:%M:%S')
    fmt.converter = time.gmtime
    h = logging.FileHandler(os.path.join(d, log_name))
    h.setFormatter(fmt)
    lg = logging.getLogger('oslo_messaging')
    lg.setLevel(logging.DEBUG)
    lg.addHandler(h)
    log = ro.EventLog(os.path.join(args.work, 'events.jsonl'),
                      '%s/%s' % (node, args.role))
    # instrument_legacy maps names through sc['hosts'] and pins the source
    # address of each PUSH connection to the node's own IP.
    ro.instrument_legacy(log, sc, node)
    if sc.get('fanout_first'):
        from oslo_messaging._drivers import impl_zmq
        orig = impl_zmq._multi_send

        def first_only(method, context, topic, msg, timeout=None,
                       envelope=False, _msg_id=None,
                       allowed_remote_exmods=None):
            # oslo.messaging < 1.4.0 had `return method(...)` inside the
            # loop over the matchmaker's queues, so a fanout cast reached
            # the first host only (LP 1300539).
            queues = impl_zmq._get_matchmaker().queues(topic)
            if method.__name__ == '_cast' and len(queues) > 1:
                impl_zmq.LOG.debug("Sending message(s) to: %s", queues)
                _topic, ip_addr = queues[0]
                addr = "tcp://%s:%s" % (ip_addr, impl_zmq.CONF.rpc_zmq_port)
                return method(addr, context, _topic, msg, timeout, envelope,
                              _msg_id)
            return orig(method, context, topic, msg, timeout=timeout,
                        envelope=envelope, _msg_id=_msg_id,
                        allowed_remote_exmods=allowed_remote_exmods)
        impl_zmq._multi_send = first_only
    return os.path.join(d, conf_name), log


def run_receiver(args, sc):
    import eventlet
    eventlet.monkey_patch()
    path, log = role_setup(args, sc, 'zmq-receiver.conf',
                           'zmq-receiver.log')
    from oslo_messaging._cmd import zmq_receiver
    from oslo_messaging._drivers import impl_zmq
    orig = impl_zmq.ZmqProxy.consume_in_thread

    def consume_in_thread(self):
        orig(self)
        log(ev='ready')
    impl_zmq.ZmqProxy.consume_in_thread = consume_in_thread
    sys.argv = ['oslo-messaging-zmq-receiver', '--config-file', path]
    zmq_receiver.main()


def run_server(args, sc):
    import eventlet
    eventlet.monkey_patch()
    path, log = role_setup(args, sc, 'nova.conf', 'nova-compute.log')
    from oslo_config import cfg
    import oslo_messaging as om
    cfg.CONF(['--config-file', path], project='nova')
    transport = om.get_transport(cfg.CONF)
    host = args.name

    class Compute(object):
        def ping(self, ctxt, arg):
            return {'pong': arg, 'server': host}

        def run_instance(self, ctxt, instance_id):
            log(ev='handled', method='run_instance')

        def update_service_capabilities(self, ctxt, capabilities):
            log(ev='handled', method='update_service_capabilities')

    server = om.get_rpc_server(
        transport, om.Target(topic='compute', server=zmq_host(sc, host)),
        [Compute()], executor='eventlet')
    server.start()
    eventlet.sleep(0.3)
    log(ev='ready')
    stop = os.path.join(args.work, 'stop')
    while not os.path.exists(stop):
        eventlet.sleep(0.1)
    server.stop()
    log(ev='exit')
    os._exit(0)


def run_client(args, sc):
    import eventlet
    eventlet.monkey_patch()
    path, log = role_setup(args, sc, 'nova.conf', 'nova-api.log')
    from oslo_config import cfg
    import oslo_messaging as om
    cfg.CONF(['--config-file', path], project='nova')
    transport = om.get_transport(cfg.CONF)
    client = om.RPCClient(transport, om.Target(topic='compute',
                                               version='1.0'))
    ctxt = {'user_id': 'u-1', 'project_id': 'p-1',
            'request_id': 'req-00000000-0000-0000-0000-00000000d0c7'}
    seq = [0]

    def api(op, method, server=None, **kw):
        seq[0] += 1
        rec = {'ev': 'api', 'seq': seq[0], 'op': op, 'server': server,
               'method': method, 't': ro.now()}
        try:
            c = client.prepare(server=server, fanout=(op == 'fanout'))
            if op == 'call':
                rec['result'] = c.call(ctxt, method, **kw)
            else:
                c.cast(ctxt, method, **kw)
        except Exception as e:
            rec['error'] = '%s: %s' % (type(e).__name__,
                                       str(e).splitlines()[0][:200])
        rec['t_done'] = ro.now()
        log(**rec)

    # What works first: in the broken scenarios the first message that
    # cannot be delivered freezes this process for good.  The driver closes
    # each PUSH socket and terminates its context after the send times out;
    # libzmq's default linger is infinite, so zmq_ctx_term() blocks the
    # (single, eventlet) thread while the message is still queued.  The
    # orchestrator kills the client after CLIENT_DEADLINE seconds.
    api('call', 'ping', server='compute1', arg=1)
    api('fanout', 'update_service_capabilities',
        capabilities={'host': 'controller'})
    api('call', 'ping', server='compute1', arg=2)
    eventlet.sleep(0.3)
    api('cast', 'run_instance', server='compute2', instance_id='inst-1')
    api('call', 'ping', server='compute2', arg=3)
    api('call', 'ping', server='compute2', arg=4)
    eventlet.sleep(0.5)
    log(ev='exit')
    os._exit(0)


# ---------------------------------------------------------------------------
# Orchestrator side.
# ---------------------------------------------------------------------------

def _csum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def relocate_pcap(src, dst, old_net, new_net):
    """Copy a classic pcap of Ethernet/IPv4 frames, moving addresses of
    old_net (a /24 like '127.0.21') to new_net ('10.0.21') and fixing the
    IPv4 and TCP checksums; every other byte is kept.  The recording has to
    run on loopback, but a doctor fixture must look like the multi-node
    cloud it stands for: 127.x addresses in configs are findings of their
    own (a ring host that resolves to loopback)."""
    old = bytes(int(x) for x in old_net.split('.'))
    new = bytes(int(x) for x in new_net.split('.'))
    with open(src, 'rb') as f:
        data = bytearray(f.read())
    magic, = struct.unpack('<I', data[:4])
    if magic not in (0xa1b2c3d4, 0xa1b23c4d) or \
            struct.unpack('<I', data[20:24])[0] != 1:
        raise SystemExit('relocate_pcap: expected a little-endian Ethernet pcap')
    pos = 24
    while pos + 16 <= len(data):
        incl, = struct.unpack('<I', data[pos + 8:pos + 12])
        frame = pos + 16
        ip = frame + 14
        if data[frame + 12:frame + 14] == b'\x08\x00' and incl >= 34:
            ihl = (data[ip] & 0x0f) * 4
            moved = False
            for off in (12, 16):
                if bytes(data[ip + off:ip + off + 3]) == old:
                    data[ip + off:ip + off + 3] = new
                    moved = True
            if moved:
                data[ip + 10:ip + 12] = b'\0\0'
                data[ip + 10:ip + 12] = struct.pack(
                    '!H', _csum(bytes(data[ip:ip + ihl])))
                total, = struct.unpack('!H', data[ip + 2:ip + 4])
                if data[ip + 9] == 6 and frame + 14 + total <= pos + 16 + incl:
                    seg = ip + ihl
                    end = ip + total
                    data[seg + 16:seg + 18] = b'\0\0'
                    pseudo = bytes(data[ip + 12:ip + 20]) + struct.pack(
                        '!BBH', 0, 6, end - seg)
                    data[seg + 16:seg + 18] = struct.pack(
                        '!H', _csum(pseudo + bytes(data[seg:end])))
        pos = frame + incl
    with open(dst, 'wb') as f:
        f.write(data)


def relocate_text(path, old_net, new_net):
    with open(path) as f:
        text = f.read()
    with open(path, 'w') as f:
        f.write(text.replace(old_net + '.', new_net + '.'))

def record(name, args):
    sc = scenario(name)
    py = ro.ensure_venv(args.venv_root, OM)
    work = os.path.join(args.work_root, name)
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    for node in NODES:
        write_node_files(work, sc, node)
    net = sc['net']
    me = os.path.abspath(__file__)
    procs = []
    iptables = None

    def spawn(cmd, logname):
        p = subprocess.Popen(cmd, stdout=open(os.path.join(work, logname),
                                              'a'),
                             stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    def ready(proc_name):
        p = os.path.join(work, 'events.jsonl')
        if not os.path.exists(p):
            return False
        return any(json.loads(l).get('process') == proc_name and
                   json.loads(l).get('ev') == 'ready'
                   for l in open(p) if l.strip())

    try:
        if sc.get('drop'):
            ip = sc['hosts'][sc['drop']]
            iptables = ['INPUT', '-i', 'lo', '-p', 'tcp', '-d', ip,
                        '--dport', str(sc['port']), '--syn', '-j', 'DROP']
            subprocess.check_call(['iptables', '-A'] + iptables)
        pcap = os.path.join(work, 'capture.pcap')
        tcpdump = subprocess.Popen(
            ['tcpdump', '-i', 'lo', '-s', '0', '-n', '-Z', 'root', '-w', pcap,
             'net %s.0/24 or (host 127.0.0.1 and tcp port 9501)' % net],
            stderr=open(os.path.join(work, 'tcpdump.err'), 'w'))
        procs.append(tcpdump)
        ro.wait_for(lambda: 'listening on' in open(
            os.path.join(work, 'tcpdump.err')).read(), 10, 'tcpdump')
        time.sleep(0.3)
        role = [py, '-W', 'ignore', me, '_role', name, '--work', work]
        if sc.get('haproxy'):
            d = os.path.join(work, sc['haproxy'])
            spawn(['haproxy', '-db', '-f', os.path.join(d, 'haproxy.cfg')],
                  'haproxy.out')
            time.sleep(0.5)
        receivers = [n for n in NODES if n not in sc.get('no_receiver', [])]
        for n in receivers:
            spawn(role + ['--role', 'receiver', '--name', n],
                  'receiver-%s.out' % n)
        ro.wait_for(lambda: all(ready('%s/receiver' % n) for n in receivers),
                    30, 'receivers')
        servers = [spawn(role + ['--role', 'server', '--name', n],
                         '%s.out' % n) for n in ('compute1', 'compute2')]
        ro.wait_for(lambda: ready('compute1/server') and
                    ready('compute2/server'), 30, 'servers')
        client = spawn(role + ['--role', 'client', '--name', 'controller'],
                       'client.out')
        try:
            if client.wait(timeout=CLIENT_DEADLINE) != 0:
                raise SystemExit('client failed: see %s/client.out' % work)
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait()
            ro.EventLog(os.path.join(work, 'events.jsonl'),
                        'orchestrator')(ev='client_killed',
                                        after_s=CLIENT_DEADLINE)
        time.sleep(0.5)
        open(os.path.join(work, 'stop'), 'w').close()
        for p in servers:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # Frozen the same way (a reply it could not deliver).
                p.kill()
                p.wait()
        for p in procs:
            if p is not tcpdump and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        time.sleep(0.3)
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)
    finally:
        if iptables:
            subprocess.call(['iptables', '-D'] + iptables)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    err = open(os.path.join(work, 'tcpdump.err')).read()
    drops = [l for l in err.splitlines() if 'dropped by kernel' in l]
    if not drops or not drops[0].startswith('0 '):
        raise SystemExit('tcpdump reported drops: %r' % drops)
    out = os.path.join(args.out, 'capture_' + name) if args.out_is_root \
        else args.out
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    new_net = '10.0.' + net.rsplit('.', 1)[1]
    relocate_pcap(pcap, os.path.join(out, 'capture.pcap'), net, new_net)
    shutil.copy(os.path.join(work, 'events.jsonl'),
                os.path.join(out, 'events.jsonl'))
    for node in NODES:
        shutil.copytree(os.path.join(work, node), os.path.join(out, node))
    for root, _, files in os.walk(out):
        for fn in files:
            if not fn.endswith('.pcap'):
                relocate_text(os.path.join(root, fn), net, new_net)
    # The configs name the scratch IPC dir and ring path of this run; the
    # fixture keeps them as they ran (doctor reads paths, never opens them).
    apis = [json.loads(l) for l in open(os.path.join(work, 'events.jsonl'))
            if '"api"' in l]
    failed = sum(1 for a in apis if a.get('error'))
    print('%s: %d bytes of capture, %d API operations (%d failed); %s' % (
        name, os.path.getsize(pcap), len(apis), failed, drops[0]))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '_role':
        rp = argparse.ArgumentParser()
        rp.add_argument('_role')
        rp.add_argument('scenario')
        rp.add_argument('--work', required=True)
        rp.add_argument('--role', required=True)
        rp.add_argument('--name', required=True)
        a = rp.parse_args()
        sc = scenario(a.scenario)
        {'receiver': run_receiver, 'server': run_server,
         'client': run_client}[a.role](a, sc)
        return
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('scenario', nargs='*')
    ap.add_argument('--venv-root', default='/tmp/oslo-venvs')
    ap.add_argument('--work-root', default='/tmp/doctor-record')
    ap.add_argument('--out', default=None)
    ap.add_argument('--list', action='store_true')
    args = ap.parse_args()
    if args.list or not args.scenario:
        for k, v in SCENARIOS.items():
            print(k, v)
        return
    args.out_is_root = args.out is None or len(args.scenario) > 1
    if args.out is None:
        args.out = os.path.join(REPO, 'tests', 'fixtures', 'doctor')
    for name in (SCENARIOS if args.scenario == ['all'] else args.scenario):
        record(name, args)


if __name__ == '__main__':
    main()
