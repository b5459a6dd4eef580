#!/usr/bin/env python3
"""Write tests/fixtures/pickle/*.pickle: the objects oslo.messaging 4.6's zmq
driver (G1) pickles with `send_pyobj`, built here with the same module and
class names and the same attributes (zmq_request.Request.__init__ and
CallRequest of 4.6.1; the reply dict of server/zmq_incoming_message.py;
5.2.0's Envelope and Response for G2), at
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
# G2 (5.0 .. 5.5): client/zmq_envelope.py and client/zmq_response.py.
ENVELOPE = module('oslo_messaging._drivers.zmq_driver.client.zmq_envelope')
RESPONSE = module('oslo_messaging._drivers.zmq_driver.client.zmq_response')


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


class NotificationFanoutRequest(object):
    msg_type = 'notify-f'


class Envelope(object):
    # 5.2.0's __init__: the fields behind properties, numeric types.
    def __init__(self, msg_type=None, message_id=None, target=None,
                 routing_key=None, **kwargs):
        self._msg_type = msg_type
        self._message_id = message_id
        self._target = target
        self._reply_id = None
        self._routing_key = routing_key
        self._kwargs = kwargs


class Response(object):
    def __init__(self, id=None, type=None, message_id=None,
                 reply_id=None, reply_body=None, failure=None):
        self._id = id
        self._type = type
        self._message_id = message_id
        self._reply_id = reply_id
        self._reply_body = reply_body
        self._failure = failure


Envelope.__module__ = ENVELOPE.__name__
ENVELOPE.Envelope = Envelope
Response.__module__ = RESPONSE.__name__
RESPONSE.Response = Response
Target.__module__ = TARGET.__name__
TARGET.Target = Target
for cls in (CallRequest, CastRequest, NotificationFanoutRequest):
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
# A cast whose arguments pass the decoder's 64 KiB keep limit: its
# message_id, pickled after the message, is in the frame's last bytes only.
BIG_CAST = request(CastRequest, Target('compute', 'node-1'),
                   'record_metering_data',
                   '3c3d7f7e-e971-11f1-b56d-02fc00000004')
BIG_CAST.message['args'] = {'data': 'x' * 70000}
# 2.6.0-4.0.0: a notification to a fanout target has its own class.
NOTIFY_FANOUT = request(NotificationFanoutRequest,
                        Target('notifications.info', fanout=True), None,
                        '2c3d7f7e-e971-11f1-b56d-02fc00000003')
NOTIFY_FANOUT.message = {'event_type': 'compute.instance.update',
                         'priority': 'INFO', 'payload': {'x': 1},
                         'message_id': 'n-1'}
REPLY = {'type': 'reply', 'reply': None,
         'failure': '{"class": "ValueError", "module": "builtins", '
                    '"message": "boom", "tb": []}',
         'log_failure': True,
         'message_id': '0c3d7f7e-e971-11f1-b56d-02fc00000001'}

# 2.6 .. 3.0 (server/zmq_incoming_message.py, ZmqIncomingRequest.reply):
# the reply dict has no type and no message id (calls went over REQ, one
# request per reply on a connection); 2.6 .. 2.7 acknowledged a request
# with {'id': message_id} (RouterIncomingMessage.acknowledge).
EARLY_REPLY = {'reply': None,
               'failure': '{"class": "ValueError", "module": "builtins", '
                          '"message": "boom", "tb": []}',
               'log_failure': True}
EARLY_ACK = {'id': '1c3d7f7e-e971-11f1-b56d-02fc00000002'}

# G2 5.2 .. 5.5 through the proxy: '' | type | routing key | message id |
# pickle(context) | pickle(message), two plain dicts.
G2_PROXY_CONTEXT = dict(CALL.context)
G2_PROXY_MESSAGE = dict(CALL.message)

G2_ENVELOPE = Envelope(msg_type=1, message_id=CALL.message_id,
                       target=CALL.target, timeout=30)
G2_RESPONSE = Response(type=5, message_id=CALL.message_id,
                       reply_id=b'\x00k\x8bEg',
                       reply_body={'uptime': 42}, failure=None)

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    for name, obj in [('call', CALL), ('cast', CAST), ('reply', REPLY),
                      ('notify_fanout', NOTIFY_FANOUT),
                      ('early_reply', EARLY_REPLY), ('early_ack', EARLY_ACK),
                      ('big_cast', BIG_CAST),
                      ('g2_proxy_context', G2_PROXY_CONTEXT),
                      ('g2_proxy_message', G2_PROXY_MESSAGE),
                      ('g2_envelope', G2_ENVELOPE),
                      ('g2_response', G2_RESPONSE)]:
        for protocol in (2, 5):
            path = os.path.join(OUT, '%s_p%d.pickle' % (name, protocol))
            with open(path, 'wb') as f:
                f.write(pickle.dumps(obj, protocol))
