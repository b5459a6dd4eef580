#!/usr/bin/env python3
"""Write tests/fixtures/pickle/*.pickle: the objects oslo.messaging 4.6's zmq
driver (G1) pickles with `send_pyobj`, built here with the same module and
class names and the same attributes (zmq_request.Request.__init__ and
CallRequest of 4.6.1; the reply dict of server/zmq_incoming_message.py), at
protocol 2 (Python 2.7's pyzmq default, HIGHEST_PROTOCOL) and 5 (Python
3.8+). A recorded 4.6.1 run is in captures/oslo/; these pin the decoder to
both protocols in unit tests.

    python3 captures/tools/make_pickle_fixtures.py
"""
import os
import pickle
import sys
import types

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                   'tests', 'fixtures', 'pickle')


def module(name):
    parts = name.split('.')
    for i in range(1, len(parts) + 1):
        sys.modules.setdefault('.'.join(parts[:i]),
                               types.ModuleType('.'.join(parts[:i])))
    return sys.modules[name]


TARGET = module('oslo_messaging.target')
REQUEST = module('oslo_messaging._drivers.zmq_driver.client.zmq_request')


class Target(object):
    def __init__(self, topic=None, server=None, fanout=None):
        self.exchange = None
        self.topic = topic
        self.namespace = None
        self.version = None
        self.server = server
        self.fanout = fanout
        self.accepted_namespaces = [None]


class CallRequest(object):
    msg_type = 'call'


class CastRequest(object):
    msg_type = 'cast'


Target.__module__ = TARGET.__name__
TARGET.Target = Target
for cls in (CallRequest, CastRequest):
    cls.__module__ = REQUEST.__name__
    setattr(REQUEST, cls.__name__, cls)


def request(cls, target, method, message_id, **extra):
    r = cls.__new__(cls)
    r.target = target
    r.context = {'request_id': 'req-7', 'user_id': 'u1',
                 'project_id': 'p1', 'auth_token': 'SECRET'}
    r.message = {'method': method, 'args': {'x': 1, 'password': 'pw'},
                 'namespace': None, 'version': '1.0'}
    r.retry = None
    r.message_id = message_id
    r.__dict__.update(extra)
    return r


CALL = request(CallRequest, Target('compute', 'node-1'), 'get_uptime',
               '0c3d7f7e-e971-11f1-b56d-02fc00000001',
               allowed_remote_exmods=[], timeout=30)
CAST = request(CastRequest, Target('compute'), 'refresh',
               '1c3d7f7e-e971-11f1-b56d-02fc00000002')
REPLY = {'type': 'reply', 'reply': None,
         'failure': '{"class": "ValueError", "module": "builtins", '
                    '"message": "boom", "tb": []}',
         'log_failure': True,
         'message_id': '0c3d7f7e-e971-11f1-b56d-02fc00000001'}

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    for name, obj in [('call', CALL), ('cast', CAST), ('reply', REPLY)]:
        for protocol in (2, 5):
            path = os.path.join(OUT, '%s_p%d.pickle' % (name, protocol))
            with open(path, 'wb') as f:
                f.write(pickle.dumps(obj, protocol))
