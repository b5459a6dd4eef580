#!/usr/bin/env python3
"""Record a ~200 MB benchmark capture of oslo.messaging-shaped ZeroMQ traffic.

Real libzmq sockets (pyzmq), captured with tcpdump on `lo`, carrying the
envelopes of both oslo zmq drivers (shared/docs/oslo-wire-format.md), scaled
up from the real runs in captures/oslo/:

  legacy impl_zmq (Liberty, pooled PUSH)   127.0.20.1-6, one zmq-receiver
      (PULL) per host on <ip>:9501; every host connects one PUSH per
      destination host from its own address (ZmqClientPool).  Calls are
      `-reply` wrappers to `<topic>.<host>`; the serving host answers with
      `msg_id | zmq_replies.<caller> | cast | [ctx, -process_reply]` on its
      own connection to the caller's receiver.  Casts, `fanout~T.<host>` (one
      per ring host), metering casts, v1 notifications (`cast`) and v2
      notifications (`impl_zmq_v2`, both frame orders) to
      `notifications-<priority>.ceilometer`.  The ceilometer compute agents
      send their metering casts the Icehouse way (ceilometer's incubator
      copy of impl_zmq): a new PUSH socket, so a new TCP connection, per
      message.
  new zmq driver G4, direct (Rocky)   127.0.30.1-6 with JSON bodies and a
      second, smaller deployment on 127.0.31.1-3 with
      rpc_zmq_serialization=msgpack.  Every service binds a ROUTER on a
      random port in [49153, 65536); clients use one DEALER (uuid4
      identity) per target, a fanout DEALER per topic that sends one copy
      per host, and a notifier DEALER to the notification listener's ROUTER.
      Frames `'' | '1.0' | <type> | <uuid1> | body`; the ROUTER answers a
      CALL with `'' | '1.0' | '5' | <same uuid1> | [result, failure]` over
      the same connection.

About 20 methods over the conductor/scheduler/compute/network/metering
topics, request bodies of roughly 300 B - 4 KB, ~5 % of replies carrying a
remote exception, and a few calls the server never answers (so they show
as timeouts).  Servers react to what they receive: a reply is only sent
once the request came out of the server's socket.

The truth (bench-data/oslo.info.json) is written from the generating side:
messages sent per driver and kind, calls, unanswered calls, failures, ZMTP
payload bytes, tcpdump's counts.  Unless --no-verify is given, the capture
is then read back with the independent pcap/TCP/ZMTP reader of
record_libzmq.py (never zmqtrace) and the messages on the wire, classified
by this script's own rules, must equal what was sent, kind by kind, with
calls paired by id.

Traffic stays on 127.0.20.0/24, 127.0.30.0/24 and 127.0.31.0/24 (loopback)
and is bounded by --mb and --seconds.  Needs root (tcpdump), pyzmq,
tcpdump; msgpack for the msgpack deployment (else it is left out).

  python3 captures/tools/make_oslo_bench.py            # bench-data/oslo.pcap
  python3 captures/tools/make_oslo_bench.py --mb 20    # a smaller one
"""

import argparse
import json
import os
import random
import sys
import time
import uuid

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record_libzmq import (  # noqa: E402  (same directory)
    BENCH_DIR,
    REPO,
    Tcpdump,
    pcap_overview,
    tcp_streams,
    zmtp_decode,
)

try:
    import msgpack
except ImportError:  # the msgpack deployment is left out
    msgpack = None

LEGACY_PORT = 9501
LEGACY_HOSTS = {
    "controller": "127.0.20.1",
    "network1": "127.0.20.2",
    "compute1": "127.0.20.3",
    "compute2": "127.0.20.4",
    "compute3": "127.0.20.5",
    "ceilometer": "127.0.20.6",
}
# MatchMakerRing's ringfile.
LEGACY_RING = {
    "conductor": ["controller"],
    "scheduler": ["controller"],
    "network": ["network1"],
    "compute": ["compute1", "compute2", "compute3"],
    "metering": ["ceilometer"],
    "notifications-info": ["ceilometer"],
    "notifications-error": ["ceilometer"],
}
# Hosts whose services run Python 2.7: impl_zmq_v2 frames in CPython 2.7
# dict order (oslo.message first); the others are Python 3 (oslo.version
# first), as in the real 2.5.0 run.
LEGACY_PY27 = {"network1", "compute3"}

NEW_DEPLOYMENTS = [
    {
        "name": "rocky-json",
        "serialization": "json",
        "hosts": {
            "controller": "127.0.30.1",
            "network1": "127.0.30.2",
            "compute1": "127.0.30.3",
            "compute2": "127.0.30.4",
            "compute3": "127.0.30.5",
            "ceilometer": "127.0.30.6",
        },
        "share": 0.85,
    },
    {
        "name": "rocky-msgpack",
        "serialization": "msgpack",
        "hosts": {
            "controller": "127.0.31.1",
            "compute1": "127.0.31.2",
            "compute2": "127.0.31.3",
        },
        "share": 0.15,
    },
]
# Which service runs where, by role (both drivers).
SERVICES = {
    "conductor": "controller",
    "scheduler": "controller",
    "network": "network1",
    "compute": "compute",  # every compute host
    "metering": "ceilometer",
    "notifications": "ceilometer",
}

BPF = "tcp and (net 127.0.20.0/24 or net 127.0.30.0/24 or net 127.0.31.0/24)"

# Share of traffic (operations) per driver.
LEGACY_SHARE = 0.55
FAILURE_RATE = 0.05
UNANSWERED_RATE = 0.0015


# --------------------------------------------------------------------------
# Message contents


WORDS = [
    "web", "db", "cache", "worker", "batch", "api", "front", "queue", "etl",
    "build", "ci", "mon", "log", "proxy", "lb", "test", "stage", "prod",
]
IMAGE_PROPS = [
    "image_base_image_ref", "image_container_format", "image_disk_format",
    "image_min_disk", "image_min_ram", "image_hw_disk_bus", "image_hw_vif_model",
    "image_os_distro", "image_os_type", "image_hw_qemu_guest_agent",
    "image_architecture", "image_hypervisor_type", "image_owner_specified",
    "instance_type_id", "instance_type_name", "instance_type_memory_mb",
    "instance_type_vcpus", "instance_type_root_gb", "instance_type_ephemeral_gb",
    "instance_type_flavorid", "instance_type_swap", "instance_type_rxtx_factor",
    "instance_type_vcpu_weight", "clean_attempts", "owner_project_name",
    "owner_user_name", "boot_roles", "image_signature_verified",
]
METER_NAMES = [
    ("cpu", "cumulative", "ns"), ("cpu_util", "gauge", "%"),
    ("memory.usage", "gauge", "MB"), ("disk.read.bytes", "cumulative", "B"),
    ("disk.write.bytes", "cumulative", "B"), ("network.incoming.bytes", "cumulative", "B"),
    ("network.outgoing.bytes", "cumulative", "B"), ("disk.root.size", "gauge", "GB"),
]
EVENT_TYPES = [
    "compute.instance.update", "compute.instance.exists",
    "compute.instance.create.start", "compute.instance.create.end",
    "compute.instance.delete.start", "compute.instance.delete.end",
    "compute.instance.power_off.end", "compute.instance.reboot.end",
    "scheduler.select_destinations.start", "scheduler.select_destinations.end",
    "network.floating_ip.associate", "compute.metrics.update",
]


class Content:
    """Builds contexts, messages and results; sizes are steered by a
    per-message byte target."""

    def __init__(self, rng):
        self.rng = rng
        self.projects = ["%032x" % rng.getrandbits(128) for _ in range(24)]
        self.users = ["%032x" % rng.getrandbits(128) for _ in range(64)]
        self.instances = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(4000)]
        self.images = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(30)]
        self.t0 = time.time()
        # Contexts are made per API request and reused by the RPCs that
        # request fans out into; a pool rotating slowly does that.
        self.legacy_ctx = [self._legacy_context() for _ in range(600)]
        self.new_ctx = [self._new_context() for _ in range(600)]
        self.unit = {}

    # -- contexts ----------------------------------------------------------

    def _catalog(self, project, rocky):
        rng = self.rng
        region = rng.choice(["RegionOne", "RegionTwo"])
        if rocky:
            cat = []
            for typ, name, port, path in (
                ("volumev3", "cinderv3", 8776, "/v3/" + project),
                ("network", "neutron", 9696, ""),
                ("image", "glance", 9292, ""),
                ("placement", "placement", 8778, "/placement"),
            )[: rng.randint(1, 2)]:
                cat.append({
                    "endpoints": [
                        {"region_id": region, "url": "http://10.0.0.11:%d%s" % (port, path),
                         "region": region, "interface": iface,
                         "id": "%032x" % rng.getrandbits(128)}
                        for iface in ("public", "internal", "admin")
                    ],
                    "type": typ, "id": "%032x" % rng.getrandbits(128), "name": name,
                })
            return cat
        url = "http://10.0.0.11:8776/v2/" + project
        return [{
            "endpoints": [{"adminURL": url, "region": region, "internalURL": url, "publicURL": url}],
            "endpoints_links": [], "type": "volumev2", "name": "cinderv2",
        }]

    def _stamp(self):
        t = self.t0 - self.rng.randint(0, 86400) + self.rng.random()
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06d" % int((t % 1) * 1e6)

    def _legacy_context(self):
        """nova (Liberty) RequestContext.to_dict(), key order of the real run."""
        rng = self.rng
        if rng.random() < 0.25:
            # Periodic tasks: get_admin_context(), no user, no token.
            user = project = None
            roles, token, admin, name = ["admin"], None, True, None
        else:
            user, project = rng.choice(self.users), rng.choice(self.projects)
            roles = rng.choice([["_member_"], ["admin", "_member_"], ["Member", "heat_stack_owner"]])
            token = "%032x" % rng.getrandbits(128)  # keystone UUID token
            admin, name = "admin" in roles, rng.choice(["demo", "alt_demo", "admin", "ci-%d" % rng.randint(1, 99)])
        ctx = {
            "user_id": user, "project_id": project, "is_admin": admin, "read_deleted": "no",
            "roles": roles, "remote_address": None if user is None else "10.0.%d.%d" % (rng.randint(0, 3), rng.randint(2, 250)),
            "request_id": "req-" + str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "auth_token": token, "instance_lock_checked": False, "quota_class": None,
            "user_name": name, "project_name": name, "tenant": project, "user": user,
            "timestamp": self._stamp(),
            "service_catalog": self._catalog(project, False) if user and rng.random() < 0.4 else [],
        }
        ctx_s = json.dumps(ctx)
        # Bytes it takes inside frame 3, where it is a JSON string.
        return ctx, ctx_s, len(json.dumps(ctx_s))

    def _new_context(self):
        """nova (Rocky) RequestContext.to_dict() with oslo.context 2.x keys."""
        rng = self.rng
        periodic = rng.random() < 0.25
        user = None if periodic else rng.choice(self.users)
        project = None if periodic else rng.choice(self.projects)
        rid = "req-" + str(uuid.UUID(int=rng.getrandbits(128), version=4))
        token = None if periodic else "gAAAAAB" + "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
            for _ in range(rng.choice([176, 180, 184])))
        roles = ["admin"] if periodic else rng.choice([["member", "reader"], ["admin", "member", "reader"]])
        ctx = {
            "user": user, "tenant": project, "system_scope": None, "project": project,
            "domain": None, "user_domain": None if periodic else "default",
            "project_domain": None if periodic else "default", "is_admin": periodic or "admin" in roles,
            "read_only": False, "show_deleted": False, "auth_token": token,
            "request_id": rid, "global_request_id": None, "resource_uuid": None,
            "roles": roles,
            "user_identity": "%s %s - %s %s" % (user or "-", project or "-", "default" if user else "-", "default" if user else "-"),
            "is_admin_project": True, "user_id": user, "project_id": project,
            "read_deleted": "no", "remote_address": None if periodic else "10.0.%d.%d" % (rng.randint(0, 3), rng.randint(2, 250)),
            "timestamp": self._stamp(), "quota_class": None,
            "user_name": None if periodic else "demo", "project_name": None if periodic else "demo",
            "service_catalog": [] if periodic or rng.random() < 0.3 else self._catalog(project, True),
            "instance_lock_checked": False,
        }
        return ctx, None, len(json.dumps(ctx))

    def context(self, legacy):
        pool = self.legacy_ctx if legacy else self.new_ctx
        return pool[self.rng.randrange(len(pool))]

    # -- building blocks ---------------------------------------------------

    def uuid(self):
        return self.rng.choice(self.instances)

    def instance(self, n, host):
        rng = self.rng
        iid = self.uuid()
        sysmeta = {}
        for i in range(n):
            key = IMAGE_PROPS[i % len(IMAGE_PROPS)]
            if i >= len(IMAGE_PROPS):
                key = "%s_%d" % (key, i // len(IMAGE_PROPS))
            sysmeta[key] = rng.choice(["virtio", "qcow2", "bare", "ubuntu", "x86_64", "1", "0", "512",
                                       "m1.small", "kvm", "True", rng.choice(self.images)])
        return {
            "nova_object.name": "Instance", "nova_object.namespace": "nova",
            "nova_object.version": "2.0",
            "nova_object.data": {
                "uuid": iid, "host": host, "node": host + ".localdomain",
                "display_name": "%s-%d" % (rng.choice(WORDS), rng.randint(1, 999)),
                "vm_state": rng.choice(["active", "building", "stopped"]),
                "task_state": rng.choice([None, "spawning", "rebooting", "deleting"]),
                "power_state": rng.choice([0, 1, 4]), "memory_mb": rng.choice([512, 2048, 4096]),
                "vcpus": rng.choice([1, 2, 4]), "root_gb": rng.choice([1, 20, 40]),
                "image_ref": rng.choice(self.images), "launched_at": self._stamp(),
                "system_metadata": sysmeta,
            },
            "nova_object.changes": ["task_state", "vm_state"][: rng.randint(0, 2)],
        }

    def vifs(self, n):
        rng = self.rng
        return [{
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "address": "fa:16:3e:%02x:%02x:%02x" % (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            "network": {"bridge": "br-int", "label": "private", "subnets": [{
                "cidr": "10.%d.%d.0/24" % (rng.randrange(256), rng.randrange(256)),
                "ips": [{"address": "10.1.%d.%d" % (rng.randrange(256), rng.randrange(2, 250)),
                         "type": "fixed", "version": 4, "floating_ips": []}],
                "gateway": {"address": "10.1.0.1", "type": "gateway"}, "dns": [],
            }]},
            "type": "ovs", "devname": "tap%s" % ("%011x" % rng.getrandbits(44)),
            "ovs_interfaceid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "active": True, "vnic_type": "normal",
        } for _ in range(n)]

    def samples(self, n, host):
        rng = self.rng
        out = []
        for _ in range(n):
            name, typ, unit = rng.choice(METER_NAMES)
            out.append({
                "counter_name": name, "counter_type": typ, "counter_unit": unit,
                "counter_volume": round(rng.random() * 1e6, 2),
                "user_id": rng.choice(self.users), "project_id": rng.choice(self.projects),
                "resource_id": self.uuid(), "timestamp": self._stamp(),
                "resource_metadata": {"host": host, "flavor": {"name": "m1.small"}},
                "source": "openstack", "message_id": str(uuid.UUID(int=rng.getrandbits(128), version=1)),
                "message_signature": "%064x" % rng.getrandbits(256),
            })
        return out

    # -- requests ----------------------------------------------------------

    def args(self, method, n, host, dst):
        rng = self.rng
        if method == "object_class_action":
            return {"objname": "InstanceList", "objmethod": "get_by_host",
                    "objver": "2.0", "args": [host], "kwargs": {"expected_attrs": ["system_metadata"][: n % 2]}}
        if method == "object_action":
            return {"objinst": self.instance(n, host), "objmethod": "save", "args": [],
                    "kwargs": {"expected_task_state": ["spawning"]}}
        if method == "select_destinations":
            return {"request_spec": {"nova_object.name": "RequestSpec", "nova_object.data": {
                "instance_uuid": self.uuid(), "num_instances": 1, "image": {"id": rng.choice(self.images)},
                "scheduler_hints": {"group": [rng.choice(WORDS)] * min(n, 6)},
                "flavor": {"memory_mb": 2048, "vcpus": 2, "root_gb": 20, "extra_specs": {
                    "hw:prop_%d" % i: rng.choice(WORDS) for i in range(n)}}}},
                "filter_properties": {"retry": {"num_attempts": 1, "hosts": []}}}
        if method == "build_and_run_instance":
            return {"instance": self.instance(n, dst), "image": {"id": rng.choice(self.images), "min_disk": 1},
                    "request_spec": {"num_instances": 1}, "filter_properties": {"retry": {"num_attempts": 1}},
                    "admin_password": "%016x" % rng.getrandbits(64), "injected_files": [],
                    "requested_networks": [{"network_id": self.uuid()}], "security_groups": ["default"],
                    "block_device_mapping": [], "node": dst + ".localdomain", "limits": {}}
        if method in ("terminate_instance", "reboot_instance", "stop_instance", "detach_volume",
                      "attach_volume", "get_console_output", "get_vnc_console",
                      "refresh_instance_security_rules"):
            a = {"instance": self.instance(n, dst)}
            if method == "terminate_instance":
                a.update(bdms=[], reservations=[])
            elif method == "reboot_instance":
                a.update(block_device_info=None, reboot_type=rng.choice(["SOFT", "HARD"]))
            elif method in ("attach_volume", "detach_volume"):
                a.update(volume_id=self.uuid(), attachment_id=self.uuid())
            elif method == "get_console_output":
                a.update(tail_length=rng.choice([None, 50]))
            elif method == "get_vnc_console":
                a.update(console_type="novnc")
            return a
        if method == "get_host_uptime":
            return {"host_name": dst}
        if method == "check_can_live_migrate_destination":
            return {"instance": self.instance(n, host), "block_migration": False,
                    "disk_over_commit": False}
        if method in ("allocate_for_instance", "get_instance_nw_info", "deallocate_for_instance"):
            return {"instance_id": rng.randint(1, 99999), "instance_uuid": self.uuid(),
                    "project_id": rng.choice(self.projects), "host": host,
                    "rxtx_factor": 1.0, "macs": None, "requested_networks": None,
                    "vpn": False, "dhcp_options": [{"opt_name": "opt-%d" % i, "opt_value": rng.choice(WORDS)}
                                                   for i in range(n)]}
        if method in ("update_instance_info", "sync_instance_info"):
            if method == "sync_instance_info":
                return {"host_name": host, "instance_uuids": [self.uuid() for _ in range(n + 1)]}
            return {"host_name": host, "instance_info": {"nova_object.name": "InstanceList",
                    "objects": [self.instance(0, host) for _ in range(n // 6 + 1)]}}
        if method == "record_metering_data":
            return {"data": self.samples(n + 1, host)}
        raise KeyError(method)

    def result(self, method, n, dst):
        rng = self.rng
        if method == "object_class_action":
            return {"nova_object.name": "InstanceList", "nova_object.version": "2.2",
                    "objects": [self.instance(6, dst) for _ in range(n // 4 + 1)]}
        if method == "object_action":
            return [{"updated_at": self._stamp(), "task_state": None}, None]
        if method == "select_destinations":
            return [{"host": h, "nodename": h + ".localdomain", "limits": {"memory_mb": 98304.0}}
                    for h in rng.sample(["compute1", "compute2", "compute3"], rng.randint(1, 3))]
        if method == "get_console_output":
            return "".join("[%8.6f] %s\n" % (rng.random() * 100, rng.choice(
                ["systemd[1]: Started Session 1 of user ubuntu.", "cloud-init[873]: Cloud-init v. 18.2 running",
                 "EXT4-fs (vda1): re-mounted. Opts: (null)", "random: crng init done"])) for _ in range(n))
        if method == "get_vnc_console":
            return {"token": "%032x" % rng.getrandbits(128), "host": "10.0.0.12", "port": 5900 + rng.randint(0, 50),
                    "internal_access_path": None, "access_url": "http://10.0.0.11:6080/vnc_auto.html?token=%032x" % rng.getrandbits(128)}
        if method == "get_host_uptime":
            return " %02d:%02d:%02d up %d days,  2:03,  0 users,  load average: 0.%02d" % (
                rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.randint(1, 400), rng.randrange(100))
        if method == "check_can_live_migrate_destination":
            return {"filename": "tmp%06x" % rng.getrandbits(24), "image_type": "default",
                    "block_migration": False, "disk_over_commit": False, "disk_available_mb": 102400}
        if method in ("allocate_for_instance", "get_instance_nw_info"):
            return self.vifs(n // 3 + 1)
        if method == "deallocate_for_instance":
            return None
        raise KeyError(method)

    def notification(self, publisher, n):
        rng = self.rng
        event = rng.choice(EVENT_TYPES)
        priority = "ERROR" if rng.random() < 0.04 else "INFO"
        payload = {"instance_id": self.uuid(), "tenant_id": rng.choice(self.projects),
                   "user_id": rng.choice(self.users), "state": rng.choice(["active", "building", "deleted"]),
                   "host": publisher.split(".", 1)[-1], "memory_mb": 2048, "disk_gb": 20,
                   "image_meta": {k: rng.choice(WORDS) for k in IMAGE_PROPS[:n]}}
        return priority, {
            "message_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "publisher_id": publisher, "event_type": event, "priority": priority,
            "payload": payload, "timestamp": self._stamp().replace("T", " "),
        }

    def failure(self, method, dst, legacy):
        rng = self.rng
        cls, module, msg = rng.choice({
            "select_destinations": [("NoValidHost", "nova.exception",
                                     "No valid host was found. There are not enough hosts available.")],
            "get_vnc_console": [("ConsoleTypeUnavailable", "nova.exception", "Unavailable console type novnc.")],
            "check_can_live_migrate_destination": [("MigrationPreCheckError", "nova.exception",
                                                    "Migration pre-check error: CPU doesn't have compatibility.")],
            "allocate_for_instance": [("NoMoreFixedIps", "nova.exception", "No fixed IP addresses available for network: %s" % self.uuid())],
        }.get(method, [
            ("InstanceNotFound", "nova.exception", "Instance %s could not be found." % self.uuid()),
            ("ValueError", "builtins" if not legacy else "exceptions", "invalid literal for int() with base 10: 'None'"),
            ("DBConnectionError", "oslo_db.exception", "(pymysql.err.OperationalError) (2013, 'Lost connection to MySQL server during query')"),
        ]))
        site = "/usr/lib/python2.7/dist-packages" if legacy else "/usr/lib/python3/dist-packages"
        tb = ["Traceback (most recent call last):\n"]
        for f, line, fn, code in (
            ("oslo_messaging/rpc/server.py", 166, "_process_incoming", "res = self.dispatcher.dispatch(message)"),
            ("oslo_messaging/rpc/dispatcher.py", 265, "dispatch", "return self._do_dispatch(endpoint, method, ctxt, args)"),
            ("oslo_messaging/rpc/dispatcher.py", 194, "_do_dispatch", "result = func(ctxt, **new_args)"),
            ("nova/exception_wrapper.py", 79, "wrapped", "function_name, call_dict, binary)"),
            ("nova/compute/manager.py", rng.randint(1000, 8000), method, "raise exception.%s()" % cls),
        )[: rng.randint(3, 5)]:
            tb.append('  File "%s/%s", line %d, in %s\n    %s\n' % (site, f, line, fn, code))
        tb.append("%s: %s\n" % (cls, msg))
        return json.dumps({"class": cls, "module": module, "message": msg, "tb": tb,
                           "args": [msg], "kwargs": {}})

    def sized(self, build, key, lo, hi, around=0):
        """Call build(n) with n chosen so that the body lands near a target
        drawn log-uniformly from [lo, hi]; `around` bytes of it (context,
        envelope) are there anyway."""
        rng = self.rng
        target = int(lo * (hi / lo) ** rng.random()) - around
        unit = self.unit.get(key)
        if unit is None:
            a, b = len(json.dumps(build(0))), len(json.dumps(build(12)))
            unit = self.unit[key] = (max(1.0, (b - a) / 12.0), a)
        per, base = unit
        n = max(0, min(200, int((target - base) / per)))
        return build(n)


# Methods: (name, topic, kind, sender role, weight, request body size range,
# reply body size range), in bytes of the whole last frame, context
# included (a body cannot be smaller than its context: a legacy call
# carries it twice).  Targets are on the topic's service hosts.
METHODS = [
    ("object_class_action", "conductor", "call", "compute", 10, (300, 1500), (400, 3800)),
    ("object_action", "conductor", "call", "compute", 9, (1200, 4000), (80, 200)),
    ("select_destinations", "scheduler", "call", "controller", 4, (800, 2500), (80, 400)),
    ("update_instance_info", "scheduler", "fanout", "compute", 3, (1000, 4000), None),
    ("sync_instance_info", "scheduler", "fanout", "compute", 2, (400, 2500), None),
    ("build_and_run_instance", "compute", "cast", "controller", 4, (2500, 4000), None),
    ("terminate_instance", "compute", "cast", "controller", 3, (1000, 3500), None),
    ("reboot_instance", "compute", "cast", "controller", 2, (1000, 3500), None),
    ("stop_instance", "compute", "cast", "controller", 1, (1000, 3500), None),
    ("attach_volume", "compute", "cast", "controller", 1, (1000, 3500), None),
    ("detach_volume", "compute", "cast", "controller", 1, (1000, 3500), None),
    ("get_console_output", "compute", "call", "controller", 3, (1000, 3000), (200, 3800)),
    ("get_vnc_console", "compute", "call", "controller", 2, (1000, 3000), (150, 300)),
    ("get_host_uptime", "compute", "call", "controller", 1, (300, 400), (60, 90)),
    ("check_can_live_migrate_destination", "compute", "call", "controller", 1, (1000, 3500), (150, 250)),
    ("refresh_instance_security_rules", "compute", "fanout", "controller", 1, (1000, 3000), None),
    ("allocate_for_instance", "network", "call", "compute", 3, (600, 2000), (600, 3800)),
    ("get_instance_nw_info", "network", "call", "compute", 4, (600, 2000), (600, 3800)),
    ("deallocate_for_instance", "network", "call", "compute", 2, (500, 1500), None),
    ("record_metering_data", "metering", "cast", "compute", 6, (800, 4000), None),
    ("<notification>", "notifications", "notify", "any", 10, (0, 12), None),
]


# --------------------------------------------------------------------------
# Accounting


class Tally:
    def __init__(self):
        self.sent = {}  # "driver kind" -> messages on the wire
        self.bytes = {}  # "driver kind" -> ZMTP frame payload bytes
        self.body_sizes = {}  # "driver kind" -> [min, max, total]
        self.calls = {"legacy": 0, "new": 0}
        self.answered = {"legacy": 0, "new": 0}
        self.unanswered = {"legacy": 0, "new": 0}
        self.failures = {"legacy": 0, "new": 0}
        self.by_method = {}
        self.connections = {"legacy_pooled": 0, "legacy_per_message": 0, "new_dealer": 0}
        self.unanswered_examples = []

    def add(self, driver, kind, frames, body_index=-1):
        key = "%s %s" % (driver, kind)
        self.sent[key] = self.sent.get(key, 0) + 1
        self.bytes[key] = self.bytes.get(key, 0) + sum(len(f) for f in frames)
        n = len(frames[body_index])
        s = self.body_sizes.get(key)
        if s is None:
            self.body_sizes[key] = [n, n, n]
        else:
            s[0], s[1], s[2] = min(s[0], n), max(s[1], n), s[2] + n

    def method(self, driver, kind, method):
        key = "%s %s %s" % (driver, kind, method)
        self.by_method[key] = self.by_method.get(key, 0) + 1


def setup(sock, hwm=0):
    sock.setsockopt(zmq.LINGER, 5000)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    return sock


# --------------------------------------------------------------------------
# Legacy impl_zmq


class Legacy:
    def __init__(self, zctx, content, tally, rng):
        self.zctx, self.content, self.tally, self.rng = zctx, content, tally, rng
        self.pull = {}
        for name, ip in LEGACY_HOSTS.items():
            s = setup(zctx.socket(zmq.PULL))
            s.bind("tcp://%s:%d" % (ip, LEGACY_PORT))
            self.pull[name] = s
        self.push = {}
        self.expected = 0  # messages sent to receivers, not yet received
        self.plans = {}  # msg_id -> (caller, server, reply body or None)
        self.rr = {}

    def _push(self, src, dst):
        s = self.push.get((src, dst))
        if s is None:
            s = setup(self.zctx.socket(zmq.PUSH))
            s.connect("tcp://%s:0;%s:%d" % (LEGACY_HOSTS[src], LEGACY_HOSTS[dst], LEGACY_PORT))
            self.push[(src, dst)] = s
            self.tally.connections["legacy_pooled"] += 1
        return s

    def send(self, src, dst, frames, kind, oneshot=False, body_index=3):
        if oneshot:
            s = self.zctx.socket(zmq.PUSH)
            s.setsockopt(zmq.LINGER, 5000)
            s.connect("tcp://%s:0;%s:%d" % (LEGACY_HOSTS[src], LEGACY_HOSTS[dst], LEGACY_PORT))
            s.send_multipart(frames)
            s.close()
            self.tally.connections["legacy_per_message"] += 1
        else:
            self._push(src, dst).send_multipart(frames)
        self.expected += 1
        self.tally.add("legacy", kind, frames, body_index)

    def resolve(self, topic, server=None):
        """MatchMakerRing: (wire topic, host) pairs."""
        if topic.startswith("fanout~"):
            return [(topic + "." + h, h) for h in LEGACY_RING[topic[7:]]]
        if server:
            return [(topic + "." + server, server)]
        hosts = LEGACY_RING[topic]
        i = self.rr.get(topic, 0)
        self.rr[topic] = i + 1
        h = hosts[i % len(hosts)]
        return [(topic + "." + h, h)]

    def operation(self, m):
        name, topic, kind, role, _, req_range, rep_range = m
        rng, content = self.rng, self.content
        computes = LEGACY_RING["compute"]
        if role == "compute":
            src = rng.choice(computes)
        elif role == "controller":
            src = "controller"
        else:
            src = rng.choice(list(LEGACY_HOSTS))
        ctx, ctx_s, ctx_len = content.context(True)
        if kind == "notify":
            priority, note = content.notification("compute." + src if src.startswith("compute") else "%s.%s" % (
                rng.choice(["conductor", "scheduler", "network", "api"]), src), rng.randint(*req_range))
            wtopic, host = self.resolve("notifications-%s" % priority.lower())[0]
            if rng.random() < 0.4:  # messagingv2 notifier
                body = json.dumps(note).encode()
                if src in LEGACY_PY27:
                    tail = [b"oslo.message", body, b"oslo.version", b"2.0"]
                else:
                    tail = [b"oslo.version", b"2.0", b"oslo.message", body]
                frames = [b"0", wtopic.encode(), b"impl_zmq_v2", ctx_s.encode()] + tail
                self.send(src, host, frames, "notify_v2", body_index=frames.index(body))
                self.tally.method("legacy", "notify_v2", note["event_type"])
            else:
                frames = [b"0", wtopic.encode(), b"cast", json.dumps([ctx_s, note]).encode()]
                self.send(src, host, frames, "notify_v1")
                self.tally.method("legacy", "notify_v1", note["event_type"])
            return
        dst_server = rng.choice(computes) if topic == "compute" and kind != "fanout" else None
        dst_host = dst_server or LEGACY_RING[topic][0]
        around = ctx_len * (2 if kind == "call" else 1) + (150 if kind == "call" else 40)
        args = content.sized(lambda n: content.args(name, n, src, dst_host), name, *req_range, around)
        msg = {"method": name, "args": args,
               "version": {"compute": "4.0", "metering": "1.0"}.get(topic, "3.0")}
        if kind == "fanout":
            for wtopic, host in self.resolve("fanout~" + topic):
                frames = [b"0", wtopic.encode(), b"cast", json.dumps([ctx_s, msg]).encode()]
                self.send(src, host, frames, "fanout")
                self.tally.method("legacy", "fanout", name)
            return
        wtopic, host = self.resolve(topic, dst_server)[0]
        if kind == "cast":
            frames = [b"0", wtopic.encode(), b"cast", json.dumps([ctx_s, msg]).encode()]
            # ceilometer's compute agent: Icehouse incubator copy, one
            # connection per message.
            self.send(src, host, frames, "cast", oneshot=(name == "record_metering_data"))
            self.tally.method("legacy", "cast", name)
            return
        # call
        msg_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex  # uuid4().hex
        reply_topic = "zmq_replies." + src
        wrapper = {"method": "-reply", "args": {"msg_id": msg_id, "topic": reply_topic, "msg": [ctx_s, msg]}}
        frames = [b"0", wtopic.encode(), b"cast", json.dumps([ctx_s, wrapper]).encode()]
        self.tally.calls["legacy"] += 1
        self.tally.method("legacy", "call", name)
        if rng.random() < UNANSWERED_RATE:
            reply = None
            self.tally.unanswered["legacy"] += 1
            if len(self.tally.unanswered_examples) < 6:
                self.tally.unanswered_examples.append({"driver": "legacy", "msg_id": msg_id, "method": name,
                                                       "topic": wtopic, "caller": LEGACY_HOSTS[src]})
        else:
            kind = "reply"
            if rng.random() < FAILURE_RATE:
                response = [{"exc": content.failure(name, host, True)}]
                kind = "reply_failure"
            elif rep_range is None:
                response = [None]
            else:
                response = [content.sized(lambda n: content.result(name, n, host), "r:" + name, *rep_range,
                                          ctx_len + 110)]
            body = {"method": "-process_reply", "args": {"msg_id": msg_id, "response": response}}
            reply = (kind, [msg_id.encode(), reply_topic.encode(), b"cast", json.dumps([ctx_s, body]).encode()])
        self.plans[msg_id] = (src, host, reply)
        self.send(src, host, frames, "call")

    def on_message(self, host, frames):
        """What a receiver got: serve calls, swallow the rest."""
        if frames[0] != b"0" or frames[2] != b"cast":
            return
        body = frames[3]
        i = body.find(b'"method": "-reply"')
        if i < 0:
            return
        j = body.find(b'"msg_id": "', i) + 11
        msg_id = body[j:j + 32].decode()
        caller, server, reply = self.plans.pop(msg_id)
        assert server == host, (server, host)
        if reply is not None:
            kind, frames = reply
            self.send(server, caller, frames, kind)
            self.tally.answered["legacy"] += 1
            if kind == "reply_failure":
                self.tally.failures["legacy"] += 1

    def sockets(self):
        return [(s, name) for name, s in self.pull.items()]

    def close_clients(self):
        for s in self.push.values():
            s.close()

    def close_servers(self):
        for s in self.pull.values():
            s.close()


# --------------------------------------------------------------------------
# New zmq driver, G4 direct


class NewDriver:
    def __init__(self, zctx, content, tally, rng, dep):
        self.zctx, self.content, self.tally, self.rng = zctx, content, tally, rng
        self.name = dep["name"]
        self.hosts = dep["hosts"]
        self.msgpack = dep["serialization"] == "msgpack"
        self.computes = [h for h in self.hosts if h.startswith("compute")]
        # ROUTER per service per host, on a random port.
        self.routers = {}  # (topic, host) -> (socket, port)
        for topic, role in SERVICES.items():
            for host in (self.computes if role == "compute" else [role]):
                if host not in self.hosts:
                    host = "controller"  # small deployment: everything else on the controller
                if (topic, host) in self.routers:
                    continue
                s = setup(zctx.socket(zmq.ROUTER))
                port = s.bind_to_random_port("tcp://" + self.hosts[host], 49153, 65536, 100)
                self.routers[(topic, host)] = (s, port)
        self.dealers = {}  # (src host, key) -> DEALER
        self.expected_requests = 0
        self.expected_replies = 0
        self.plans = {}  # msg_id -> reply body or None

    def hosts_of(self, topic):
        return [h for (t, h) in self.routers if t == topic]

    def _dealer(self, src, key, targets):
        s = self.dealers.get((src, key))
        if s is None:
            s = setup(self.zctx.socket(zmq.DEALER))
            s.setsockopt(zmq.ROUTING_ID, str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).encode())
            for topic, host in targets:
                port = self.routers[(topic, host)][1]
                s.connect("tcp://%s:0;%s:%d" % (self.hosts[src], self.hosts[host], port))
                self.tally.connections["new_dealer"] += 1
            self.dealers[(src, key)] = s
        return s

    def body(self, value):
        if self.msgpack:
            return msgpack.packb(value)
        return json.dumps(value).encode()

    def operation(self, m):
        name, topic, kind, role, _, req_range, rep_range = m
        rng, content = self.rng, self.content
        if role == "compute":
            src = rng.choice(self.computes)
        elif role == "controller":
            src = "controller"
        else:
            src = rng.choice(list(self.hosts))
        ctx, _, ctx_len = content.context(False)
        drv = "new"
        if kind == "notify":
            _, note = content.notification(("compute." if src.startswith("compute") else "conductor.") + src,
                                           rng.randint(*req_range))
            targets = [("notifications", h) for h in self.hosts_of("notifications")]
            s = self._dealer(src, "notify", targets)
            frames = [b"", b"1.0", b"4", str(uuid.uuid1()).encode(), self.body([ctx, note])]
            s.send_multipart(frames)
            self.expected_requests += 1
            self.tally.add(drv, "notify", frames)
            self.tally.method(drv, "notify", note["event_type"])
            return
        server = rng.choice(self.computes) if topic == "compute" and kind != "fanout" else None
        dst_host = server or self.hosts_of(topic)[0]
        args = content.sized(lambda n: content.args(name, n, src, dst_host), name, *req_range, ctx_len + 40)
        msg = {"method": name, "args": args,
               "version": {"compute": "5.0", "metering": "1.0"}.get(topic, "3.0")}
        msg_id = str(uuid.uuid1())
        if kind == "fanout":
            targets = [(topic, h) for h in self.hosts_of(topic)]
            s = self._dealer(src, "fanout/" + topic, targets)
            frames = [b"", b"1.0", b"3", msg_id.encode(), self.body([ctx, msg])]
            for _ in targets:  # one copy per connection, round-robin
                s.send_multipart(frames)
                self.expected_requests += 1
                self.tally.add(drv, "fanout", frames)
                self.tally.method(drv, "fanout", name)
            return
        key = "ROUTER/%s/%s" % (topic, server) if server else "ROUTER/" + topic
        targets = [(topic, server)] if server else [(topic, h) for h in self.hosts_of(topic)]
        s = self._dealer(src, key, targets)
        if kind == "cast":
            frames = [b"", b"1.0", b"2", msg_id.encode(), self.body([ctx, msg])]
            s.send_multipart(frames)
            self.expected_requests += 1
            self.tally.add(drv, "cast", frames)
            self.tally.method(drv, "cast", name)
            return
        frames = [b"", b"1.0", b"1", msg_id.encode(), self.body([ctx, msg])]
        self.tally.calls[drv] += 1
        self.tally.method(drv, "call", name)
        if rng.random() < UNANSWERED_RATE:
            reply = None
            self.tally.unanswered[drv] += 1
            if len(self.tally.unanswered_examples) < 12:
                self.tally.unanswered_examples.append({"driver": "new/" + self.name, "msg_id": msg_id,
                                                       "method": name, "caller": self.hosts[src]})
        else:
            if rng.random() < FAILURE_RATE:
                reply = ("reply_failure", self.body([None, content.failure(name, dst_host, False)]))
            else:
                result = None if rep_range is None else content.sized(
                    lambda n: content.result(name, n, dst_host), "r:" + name, *rep_range)
                reply = ("reply", self.body([result, None]))
        self.plans[msg_id] = reply
        s.send_multipart(frames)
        self.expected_requests += 1
        self.tally.add(drv, "call", frames)

    def on_router(self, sock, frames):
        # [identity, '', '1.0', type, msg_id, body]
        self.expected_requests -= 1
        if frames[3] != b"1":
            return
        plan = self.plans.pop(frames[4].decode())
        if plan is None:
            return
        kind, body = plan
        out = [b"", b"1.0", b"5", frames[4], body]
        sock.send_multipart([frames[0]] + out)
        self.expected_replies += 1
        self.tally.add("new", kind, out)
        self.tally.answered["new"] += 1
        if kind == "reply_failure":
            self.tally.failures["new"] += 1

    def on_dealer(self, frames):
        assert frames[2] == b"5", frames[:4]
        self.expected_replies -= 1

    def close_clients(self):
        for s in self.dealers.values():
            s.close()

    def close_servers(self):
        for s, _ in self.routers.values():
            s.close()


# --------------------------------------------------------------------------
# The run


class Run:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.zctx = zmq.Context()
        self.zctx.setsockopt(zmq.MAX_SOCKETS, 8192)
        self.tally = Tally()
        self.content = Content(self.rng)
        self.legacy = Legacy(self.zctx, self.content, self.tally, self.rng)
        deps = [d for d in NEW_DEPLOYMENTS if d["serialization"] == "json" or msgpack is not None]
        self.new = [NewDriver(self.zctx, self.content, self.tally, self.rng, d) for d in deps]
        self.new_weights = [d["share"] for d in deps]
        self.weights = [m[4] for m in METHODS]
        self.poller = zmq.Poller()
        self.roles = {}
        for s, name in self.legacy.sockets():
            self.poller.register(s, zmq.POLLIN)
            self.roles[s] = ("pull", name, None)
        for nd in self.new:
            for (topic, host), (s, _) in nd.routers.items():
                self.poller.register(s, zmq.POLLIN)
                self.roles[s] = ("router", host, nd)
        self.registered = set()

    def register_dealers(self):
        for nd in self.new:
            for s in nd.dealers.values():
                if s not in self.registered:
                    self.poller.register(s, zmq.POLLIN)
                    self.roles[s] = ("dealer", None, nd)
                    self.registered.add(s)

    def outstanding(self):
        return self.legacy.expected + sum(nd.expected_requests + nd.expected_replies for nd in self.new)

    def drain(self):
        self.register_dealers()
        while self.outstanding() > 0:
            events = self.poller.poll(15000)
            if not events:
                raise SystemExit("nothing arrived for 15 s with %d messages outstanding" % self.outstanding())
            for sock, _ in events:
                role, name, nd = self.roles[sock]
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if role == "pull":
                        self.legacy.expected -= 1
                        self.legacy.on_message(name, frames)
                    elif role == "router":
                        nd.on_router(sock, frames)
                    else:
                        nd.on_dealer(frames)

    def round(self, ops):
        rng = self.rng
        for m in rng.choices(METHODS, self.weights, k=ops):
            if rng.random() < LEGACY_SHARE:
                self.legacy.operation(m)
            else:
                rng.choices(self.new, self.new_weights)[0].operation(m)
        self.drain()

    def close(self):
        self.legacy.close_clients()
        for nd in self.new:
            nd.close_clients()
        time.sleep(0.3)
        self.legacy.close_servers()
        for nd in self.new:
            nd.close_servers()
        self.zctx.term()


def generate(pcap_path, target_mb, time_limit, seed):
    run = Run(seed)
    time.sleep(0.3)  # binds settle
    target = target_mb * 1_000_000
    t0 = time.time()
    rounds = 0
    while True:
        size = os.path.getsize(pcap_path) if os.path.exists(pcap_path) else 0
        if size >= target or time.time() - t0 > time_limit:
            break
        rounds += 1
        run.round(run.rng.randint(16, 96))
        if rounds % 50 == 0:
            time.sleep(0.003)  # brief idle moments, as real traffic has
        if rounds % 500 == 0:
            print("  %.1f s, %d rounds, pcap %.1f MB" % (time.time() - t0, rounds, size / 1e6), flush=True)
    run.drain()
    elapsed = time.time() - t0
    leftover = {"legacy": len(run.legacy.plans), "new": sum(len(nd.plans) for nd in run.new)}
    if leftover["legacy"] or leftover["new"]:
        raise SystemExit("requests never served: %r" % leftover)
    routers = {nd.name: {"%s@%s" % (t, h): "%s:%d" % (nd.hosts[h], p) for (t, h), (_, p) in nd.routers.items()}
               for nd in run.new}
    run.close()
    return run.tally, routers, rounds, elapsed


# --------------------------------------------------------------------------
# Independent read-back


def classify(frames):
    """This script's own reading of one wire message: (driver kind, call id,
    reply id)."""
    if len(frames) >= 4 and frames[2] == b"cast" and len(frames) == 4:
        body = frames[3]
        if frames[0] != b"0":
            kind = "reply_failure" if b'{"exc": ' in body else "reply"
            return "legacy " + kind, None, frames[0]
        if b'"method": "-reply"' in body:
            j = body.find(b'"msg_id": "') + 11
            return "legacy call", body[j:j + 32], None
        if frames[1].startswith(b"fanout~"):
            return "legacy fanout", None, None
        if b'"event_type": ' in body and b'"method": ' not in body:
            return "legacy notify_v1", None, None
        return "legacy cast", None, None
    if len(frames) == 8 and frames[2] == b"impl_zmq_v2":
        return "legacy notify_v2", None, None
    if len(frames) == 5 and frames[0] == b"" and frames[1] == b"1.0":
        t = frames[2]
        if t == b"5":
            body = frames[4]
            if msgpack is not None and body[:1] not in (b"[", b"{"):
                failed = msgpack.unpackb(body)[1] is not None
            else:
                failed = not body.endswith(b", null]")
            return "new " + ("reply_failure" if failed else "reply"), None, frames[3]
        kind = {b"1": "call", b"2": "cast", b"3": "fanout", b"4": "notify"}[t]
        return "new " + kind, frames[3] if t == b"1" else None, None
    raise SystemExit("unexpected message on the wire: %r" % [f[:40] for f in frames])


def verify(pcap, tally):
    t0 = time.time()
    conns = tcp_streams(pcap)
    counts, calls, replies = {}, {}, set()
    ports = {"9501": 0, "other": 0}
    for conn in conns:
        if not conn.done():
            raise SystemExit("%s did not close" % conn.label)
        ports["9501" if conn.server[1] == LEGACY_PORT else "other"] += 1
        for d in conn.dirs.values():
            if not d.buf:
                continue
            _, _, messages = zmtp_decode(d.buf)
            for frames in messages:
                key, call_id, reply_id = classify(frames)
                counts[key] = counts.get(key, 0) + 1
                if call_id is not None:
                    calls[(key.split()[0], call_id)] = key
                if reply_id is not None:
                    replies.add((key.split()[0], reply_id))
            d.buf = None  # keep memory down
    answered = {"legacy": 0, "new": 0}
    unanswered = {"legacy": 0, "new": 0}
    for (drv, cid) in calls:
        (answered if (drv, cid) in replies else unanswered)[drv] += 1
    wire = {
        "connections": len(conns),
        "connections_by_server_port": ports,
        "messages": dict(sorted(counts.items())),
        "calls_answered": answered,
        "calls_unanswered": unanswered,
        "replies_without_call": len(replies - set(calls)),
        "seconds": round(time.time() - t0, 1),
    }
    problems = []
    if dict(sorted(counts.items())) != dict(sorted(tally.sent.items())):
        problems.append("messages: wire %r, sent %r" % (counts, tally.sent))
    if answered != tally.answered or unanswered != tally.unanswered:
        problems.append("calls: wire %r/%r, sent %r/%r" % (answered, unanswered, tally.answered, tally.unanswered))
    if wire["replies_without_call"]:
        problems.append("%d replies without a call" % wire["replies_without_call"])
    want_conns = sum(tally.connections.values())
    if len(conns) != want_conns:
        problems.append("%d connections captured, %d opened" % (len(conns), want_conns))
    if problems:
        raise SystemExit("capture does not hold what was sent: " + "; ".join(problems))
    return wire


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--mb", type=int, default=200, help="capture size in MB (default 200)")
    ap.add_argument("--seconds", type=float, default=180, help="time limit for the traffic (default 180)")
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "oslo.pcap"), help="default bench-data/oslo.pcap")
    ap.add_argument("--no-verify", action="store_true", help="skip the independent read-back of the capture")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (tcpdump)")
    pcap = os.path.abspath(args.out)
    info_path = os.path.splitext(pcap)[0] + ".info.json"
    dump = Tcpdump(pcap, BPF, buffer_kib=65536, settle=2.0)
    dump.start()
    try:
        tally, routers, rounds, elapsed = generate(pcap, args.mb, args.seconds, args.seed)
    finally:
        stats = dump.stop()
    size = os.path.getsize(pcap)
    packets, first, last = pcap_overview(pcap)
    if packets != stats.get("captured"):
        raise SystemExit("pcap holds %d packets, tcpdump says %s" % (packets, stats.get("captured")))
    total = sum(tally.sent.values())
    calls = sum(tally.calls.values())
    answered = sum(tally.answered.values())
    unanswered = sum(tally.unanswered.values())
    failures = sum(tally.failures.values())
    assert calls == answered + unanswered
    info = {
        "pcap": os.path.relpath(pcap, REPO),
        "generated_by": "captures/tools/make_oslo_bench.py --mb %d --seed %d" % (args.mb, args.seed),
        "bytes": size,
        "packets": packets,
        "duration_seconds": round(last - first, 6),
        "generation_seconds": round(elapsed, 3),
        "rounds": rounds,
        "tcpdump_command": dump.command(),
        "tcpdump": stats,
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "msgpack": ".".join(map(str, msgpack.version)) if msgpack else None,
        "python": sys.version.split()[0],
        "expected_zmqtrace_summary": {
            "rpc_messages": total,
            "calls": answered,
            "timeouts": unanswered,
            "failures": failures,
            "note": ("zmqtrace counts a call when its reply is seen (calls = answered calls) and "
                     "reports calls still waiting at the end of the capture as timeouts"),
        },
        "messages_total": total,
        "messages": dict(sorted(tally.sent.items())),
        "zmtp_payload_bytes": dict(sorted(tally.bytes.items())),
        "zmtp_payload_bytes_total": sum(tally.bytes.values()),
        "body_bytes": {k: {"min": v[0], "max": v[1], "mean": round(v[2] / tally.sent[k], 1)}
                       for k, v in sorted(tally.body_sizes.items())},
        "calls": tally.calls,
        "calls_answered": tally.answered,
        "calls_unanswered": tally.unanswered,
        "reply_failures": tally.failures,
        "unanswered_examples": tally.unanswered_examples,
        "connections_opened": tally.connections,
        "hosts": {"legacy": LEGACY_HOSTS, **{d["name"]: d["hosts"] for d in NEW_DEPLOYMENTS}},
        "legacy_ring": LEGACY_RING,
        "new_driver_routers": routers,
        "by_driver_kind_method": dict(sorted(tally.by_method.items())),
    }
    if not args.no_verify:
        print("  reading the capture back (independent reader) ...", flush=True)
        info["wire_check"] = verify(pcap, tally)
        info["wire_check"]["result"] = "the messages on the wire equal the messages sent, kind by kind"
    with open(info_path, "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    brief = {k: info[k] for k in ("pcap", "bytes", "packets", "duration_seconds", "generation_seconds",
                                  "tcpdump", "expected_zmqtrace_summary", "messages", "connections_opened")}
    print(json.dumps(brief, indent=1))
    print("wrote %s and %s" % (os.path.relpath(pcap, REPO), os.path.relpath(info_path, REPO)), flush=True)


if __name__ == "__main__":
    main()
