//! What oslo.messaging puts inside a ZeroMQ message, per driver generation
//! (shared/docs/oslo-wire-format.md): the legacy `impl_zmq` `cast` and
//! `impl_zmq_v2` envelopes, and the new zmq driver's G4 (`1.0` version
//! frame) and G3 layouts, direct, through the proxy and on its PUB socket,
//! with JSON or msgpack bodies. Anything else is not oslo and yields `None`.

use serde_json::Value;

use super::redact::{redact, Redaction};
use super::{Driver, Kind, Rpc};

/// Bodies nested deeper than this are not believed (serde_json stops at
/// 128 levels itself; msgpack is converted with the same bound).
const MAX_DEPTH: usize = 64;

/// How much of a message to decode.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub redaction: Redaction,
    /// Keep arguments, results and payloads (copied and redacted).
    pub keep_args: bool,
    /// Read the request context (request id, user, project).
    pub keep_context: bool,
}

impl Options {
    pub fn all(redaction: Redaction) -> Self {
        Options {
            redaction,
            keep_args: true,
            keep_context: true,
        }
    }

    /// Neither arguments nor context: JSON bodies take the one-pass lane.
    fn lean(&self) -> bool {
        !self.keep_args && !self.keep_context
    }
}

/// Decode a message from its frames: each frame's kept bytes and whether
/// they are the whole frame.
pub fn decode(frames: &[(&[u8], bool)], options: Options) -> Option<Rpc> {
    legacy(frames, options)
        .or_else(|| new_driver(frames, options))
        .or_else(|| pickled(frames, options))
}

fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

fn frame<'a>(frames: &[(&'a [u8], bool)], i: usize) -> Option<&'a [u8]> {
    frames.get(i).map(|f| f.0)
}

/// `msg_id | topic | 'cast' | json([ctx_json, msg])` or
/// `msg_id | topic | 'impl_zmq_v2' | ctx_json | k1 | v1 | k2 | v2`.
fn legacy(frames: &[(&[u8], bool)], options: Options) -> Option<Rpc> {
    let tag = frame(frames, 2)?;
    // Most messages that are not legacy oslo fail here, before any copying.
    if tag != b"cast" && tag != b"impl_zmq_v2" {
        return None;
    }
    let topic = text(frame(frames, 1)?)?.to_string();
    let msg_id_frame = text(frame(frames, 0)?)?.to_string();
    let mut rpc = Rpc::new(Driver::ImplZmq);
    rpc.topic = Some(topic.clone());
    let (ctx, msg) = match tag {
        b"cast" if frames.len() == 4 => {
            rpc.envelope = "cast".into();
            let (body, whole) = *frames.get(3)?;
            if !whole {
                rpc.truncated = true;
                // The call wrapper comes first; the real method after it.
                // Its arguments' id and reply topic come before the
                // wrapped message (else the oslo layer looks in the
                // frame's last bytes).
                if find(body, b"\"-reply\"").is_some() {
                    rpc.kind = Kind::Call;
                    rpc.msg_id = legacy_json_string(body, "msg_id");
                    rpc.reply_topic = legacy_json_string(body, "topic");
                    rpc.method = scan_method(body).filter(|m| m != "-reply");
                } else if find(body, b"\"-process_reply\"").is_some() {
                    // A reply with a large result.
                    rpc.kind = Kind::Reply;
                    rpc.msg_id = legacy_json_string(body, "msg_id");
                } else {
                    rpc.method = scan_method(body);
                }
                if rpc.msg_id.is_none() && msg_id_frame != "0" && rpc.kind == Kind::Call {
                    // Folsom put the id in frame 0.
                    rpc.msg_id = Some(msg_id_frame.clone());
                }
                (None, None)
            } else if (options.lean()
                && super::fast::lean_legacy_cast(&mut rpc, body, &msg_id_frame).is_some())
                // The lean lane reads numbers it skips (one out of f64's
                // range fails it); the full lane only scans them.
                || super::fast::legacy_cast(&mut rpc, body, &msg_id_frame, options).is_some()
            {
                (None, None)
            } else {
                let v: Value = serde_json::from_slice(body).ok()?;
                let arr = v.as_array()?;
                let ctx = arr.first().and_then(context_value);
                (ctx, arr.get(1).cloned())
            }
        }
        b"impl_zmq_v2" if frames.len() >= 6 && frames.len() % 2 == 0 => {
            rpc.envelope = "impl_zmq_v2".into();
            let ctx = frame(frames, 3).and_then(|b| serde_json::from_slice::<Value>(b).ok());
            let mut msg = None;
            for pair in frames.get(4..)?.chunks(2) {
                let (Some(k), Some(v)) = (pair.first(), pair.get(1)) else {
                    break;
                };
                match k.0 {
                    b"oslo.version" => rpc.oslo_version = text(v.0).map(str::to_string),
                    b"oslo.message" => {
                        if v.1 {
                            msg = serde_json::from_slice::<Value>(v.0).ok();
                        } else {
                            rpc.truncated = true;
                        }
                    }
                    _ => {}
                }
            }
            (ctx, msg)
        }
        _ => return None,
    };
    if let Some(ctx) = &ctx {
        rpc.take_context(ctx);
    }
    // Where the topic sends it: everything after the first dot.
    let routed = topic.strip_prefix("fanout~").unwrap_or(&topic);
    rpc.server = routed.split_once('.').map(|(_, host)| host.to_string());
    if topic.starts_with("fanout~") && rpc.kind == Kind::Cast {
        rpc.kind = Kind::Fanout;
    }
    let Some(msg) = msg else {
        return Some(rpc);
    };
    match msg.get("method").and_then(Value::as_str) {
        Some("-reply") => {
            // A call: the wrapper carries the id and where to reply; the
            // real message is its last element.
            rpc.kind = Kind::Call;
            let args = msg.get("args");
            rpc.msg_id = args
                .and_then(|a| a.get("msg_id"))
                .and_then(Value::as_str)
                .map(str::to_string);
            rpc.reply_topic = args
                .and_then(|a| a.get("topic"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let inner = args.and_then(|a| a.get("msg")).and_then(Value::as_array);
            if let Some(inner_ctx) = inner.and_then(|m| m.first()).and_then(context_value) {
                rpc.take_context(&inner_ctx);
            }
            if let Some(real) = inner.and_then(|m| m.last()) {
                rpc.take_message(real, options);
            }
            if rpc.msg_id.is_none() && msg_id_frame != "0" {
                // Folsom put the id in frame 0.
                rpc.msg_id = Some(msg_id_frame);
            }
        }
        Some("-process_reply") => {
            rpc.kind = Kind::Reply;
            let args = msg.get("args");
            // The id in the arguments first: Folsom's frame 0 of a reply is
            // its queue (`zmq_replies.<host>`), later ones repeat the id.
            rpc.msg_id = args
                .and_then(|a| a.get("msg_id"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| Some(msg_id_frame).filter(|id| id != "0"));
            if let Some(response) = args.and_then(|a| a.get("response")) {
                rpc.failure = response
                    .as_array()
                    .and_then(|r| r.iter().find_map(|item| item.get("exc")))
                    .map(failure_summary);
                if options.keep_args {
                    rpc.args = Some(redact(response.clone(), options.redaction));
                }
            }
        }
        Some(_) => rpc.take_message(&msg, options),
        None if msg.get("event_type").is_some() => {
            rpc.kind = Kind::Notify;
            rpc.take_notification(&msg, options);
        }
        None => {}
    }
    Some(rpc)
}

/// The context: a JSON object, or (legacy `cast`) a JSON string holding one.
fn context_value(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => serde_json::from_str(s).ok(),
        Value::Object(_) => Some(v.clone()),
        _ => None,
    }
}

fn is_type_digit(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [d @ b'1'..=b'6'] => Some(d - b'0'),
        _ => None,
    }
}

fn kind_of(t: u8) -> Kind {
    match t {
        1 => Kind::Call,
        2 => Kind::Cast,
        3 => Kind::Fanout,
        4 => Kind::Notify,
        5 => Kind::Reply,
        _ => Kind::Ack,
    }
}

/// The new driver (oslo.messaging 5.6 .. 8.1): G4 `'' | '1.0' | ...` and G3
/// `'' | type | ...`, direct, through the proxy, or from its PUB socket.
fn new_driver(frames: &[(&[u8], bool)], options: Options) -> Option<Rpc> {
    let first = frame(frames, 0)?;
    let second = frame(frames, 1)?;
    let publication = match frames.len() {
        3 => true,
        // G3a: the context and the message in two frames.
        4 => frame(frames, 2).is_some_and(is_map),
        _ => false,
    };
    if !first.is_empty() && second != b"1.0" && publication && is_message_id(second) {
        return g3_publication(frames, options);
    }
    let (version, rest) = match second {
        b"1.0" => ("1.0", frames.get(2..)?),
        _ if first.is_empty() => ("none", frames.get(1..)?),
        // G3d (5.12 .. 5.13) PUB: topic | type | message_id | body.
        _ if is_type_digit(second).is_some() && frame(frames, 2).is_some_and(is_message_id) => {
            ("none", frames.get(1..)?)
        }
        _ => return None,
    };
    let mut rpc = Rpc::new(Driver::Zmq);
    rpc.envelope = version.into();
    if version == "none" && rest.len() == 1 {
        // G3 direct reply: '' | {message_id, reply_id, reply_body, failure}.
        return g3_direct_reply(rpc, rest.first()?, options);
    }
    if !first.is_empty() {
        // PUB -> SUB: the first frame is the subscription topic.
        let topic = text(first)?;
        let t = is_type_digit(frame(rest, 0)?)?;
        rpc.kind = kind_of(t);
        rpc.topic = Some(topic.to_string());
        rpc.msg_id = text(frame(rest, 1)?).map(str::to_string);
        decode_bodies(&mut rpc, rest.get(2..), options);
        return Some(rpc);
    }
    let n = rest.len();
    let id = |i: usize| frame(rest, i).and_then(text).map(str::to_string);
    if let Some(t) = frame(rest, 0).and_then(is_type_digit) {
        rpc.kind = kind_of(t);
        match (rpc.kind, n) {
            // Direct: type | message_id | body (G3a: | context | message).
            (Kind::Call | Kind::Cast | Kind::Fanout | Kind::Notify | Kind::Reply, 3) => {
                rpc.msg_id = id(1);
                decode_body(&mut rpc, rest.get(2), options);
            }
            (Kind::Call | Kind::Cast | Kind::Fanout | Kind::Notify, 4)
                if frame(rest, 2).is_some_and(is_map) =>
            {
                rpc.msg_id = id(1);
                decode_bodies(&mut rpc, rest.get(2..), options);
            }
            // To the proxy: type | routing_key | message_id | body.
            (Kind::Call | Kind::Cast | Kind::Fanout | Kind::Notify, 4 | 5) => {
                rpc.routing_key = id(1);
                rpc.msg_id = id(2);
                decode_bodies(&mut rpc, rest.get(3..), options);
            }
            // Server to the proxy: type | reply_id | message_id [| body].
            (Kind::Reply, 4) | (Kind::Ack, 3) => {
                rpc.reply_id = id(1);
                rpc.msg_id = id(2);
                decode_body(&mut rpc, rest.get(3), options);
            }
            _ => return None,
        }
    } else if let Some(t) = frame(rest, 1).and_then(is_type_digit) {
        // From the proxy: identity | type | message_id [| body].
        rpc.kind = kind_of(t);
        match rpc.kind {
            Kind::Reply | Kind::Ack => rpc.routing_key = id(0),
            _ => rpc.reply_id = id(0),
        }
        rpc.msg_id = id(2);
        decode_bodies(&mut rpc, rest.get(3..), options);
    } else {
        return None;
    }
    if let Some(key) = rpc.routing_key.clone() {
        rpc.take_routing_key(&key);
    }
    Some(rpc)
}

/// The zmq driver's first generations (oslo.messaging 2.6 .. 5.5): Python
/// objects pickled by `send_pyobj`. G1 (.. 4.6): DEALER -> ROUTER
/// `'' | pickle(request)`, PUSH -> PULL `pickle(request)`, the answer
/// `'' | pickle({type: reply, ...})`, to the proxy
/// `'' | pickle(envelope dict) | pickle(request)`, from its PUB
/// `topic_filter | pickle(request)`. G2 (5.0 .. 5.5): `'' |
/// pickle(Envelope) | pickle(request or Response)` both ways (and, behind
/// numeric type frames, bodies read by [`decode_body`]). A request is a
/// `zmq_request.{Call,Cast,Fanout,Notification}Request` holding `target`
/// (an `oslo_messaging.Target`), `context`, `message` and `message_id`.
fn pickled(frames: &[(&[u8], bool)], options: Options) -> Option<Rpc> {
    use super::pickle::looks_like;
    let mut broker_reply_id = None;
    let (topic_filter, envelope, body) = match frames {
        [body] if looks_like(body.0) => (None, None, body),
        // 2.8 .. 3.0, a server answering the broker: `'' | 'reply' |
        // <the caller's REQ identity> | '' | pickle(reply dict)`.
        [(e1, _), (word, true), (reply_id, true), (e2, true), body]
            if e1.is_empty() && *word == b"reply" && e2.is_empty() && looks_like(body.0) =>
        {
            broker_reply_id = Some(text(reply_id)?.to_string());
            (None, None, body)
        }
        [(empty, _), body] if empty.is_empty() && looks_like(body.0) => (None, None, body),
        [(empty, _), (envelope, true), body]
            if empty.is_empty() && looks_like(envelope) && looks_like(body.0) =>
        {
            (None, Some(*envelope), body)
        }
        [(filter, true), body] if !looks_like(filter) && looks_like(body.0) => {
            (Some(text(filter)?), None, body)
        }
        _ => return None,
    };
    let mut rpc = Rpc::new(Driver::Zmq);
    rpc.envelope = "pickle".into();
    if let Some(envelope) = envelope.and_then(|e| super::pickle::to_json(e).ok()) {
        take_pickled_envelope(&mut rpc, &envelope);
    }
    let (bytes, whole) = *body;
    if !pickled_body(&mut rpc, bytes, whole, options) {
        return None;
    }
    if let Some(reply_id) = broker_reply_id {
        if rpc.kind != Kind::Reply {
            return None;
        }
        rpc.reply_id = Some(reply_id);
    }
    if rpc.topic.is_none() {
        // From the proxy's PUB: `topic/server` or `topic`.
        if let Some(filter) = topic_filter.filter(|f| !f.is_empty()) {
            match filter.split_once('/') {
                Some((topic, server)) => {
                    rpc.topic = Some(topic.to_string());
                    rpc.server = Some(server.to_string());
                }
                None => rpc.topic = Some(filter.to_string()),
            }
        }
    }
    Some(rpc)
}

/// A pickled request, reply dict or `Response` into `rpc`; false when the
/// pickle is not oslo's (a cut or broken one names oslo's classes).
fn pickled_body(rpc: &mut Rpc, bytes: &[u8], whole: bool, options: Options) -> bool {
    rpc.serialization = Some("pickle");
    let read = if whole {
        super::pickle::to_json(bytes)
    } else {
        // Cut by the keep limit: what came before the cut (the class, the
        // target and the method come before the arguments).
        rpc.truncated = true;
        super::pickle::to_json_prefix(bytes)
    };
    let value = match read {
        Ok(value) => value,
        Err(_) => {
            // Damaged: oslo's only if it names oslo's classes; nothing
            // else is guessed.
            let Some(kind) = pickled_kind(bytes) else {
                return false;
            };
            rpc.kind = kind;
            rpc.undecodable = whole;
            return true;
        }
    };
    let class = value.get(super::pickle::CLASS_KEY).and_then(Value::as_str);
    let class = class.map(|c| c.rsplit('.').next().unwrap_or(c));
    match class {
        Some("Response") => take_pickled_reply(rpc, &value, options),
        Some(class) => {
            let kind = match field(&value, "msg_type") {
                Some(t) => pickled_type(t),
                None => request_kind(class),
            };
            let Some(kind) = kind else {
                return false;
            };
            rpc.kind = kind;
            rpc.msg_id = str_field(&value, "message_id").or(rpc.msg_id.take());
            take_pickled_target(rpc, &value);
            if let Some(ctx) = field(&value, "context") {
                rpc.take_context(ctx);
            }
            if let Some(msg) = field(&value, "message") {
                if msg.get("method").is_some() {
                    rpc.take_message(msg, options);
                } else if msg.get("event_type").is_some() {
                    rpc.take_notification(msg, options);
                }
            }
        }
        None if value.get("type").and_then(Value::as_str) == Some("reply") => {
            take_pickled_reply(rpc, &value, options)
        }
        // 2.6 .. 3.0: the reply dict has no type (and, over REQ, no id: it
        // answers the call before it on its connection).
        None if ["reply", "failure", "log_failure"]
            .iter()
            .all(|k| value.get(k).is_some()) =>
        {
            take_pickled_reply(rpc, &value, options)
        }
        // 2.6 .. 2.7: an ACK is `{'id': message_id}` alone.
        None if value.as_object().is_some_and(|o| o.len() == 1) && value.get("id").is_some() => {
            let Some(id) = value.get("id").and_then(Value::as_str) else {
                return false;
            };
            rpc.kind = Kind::Ack;
            rpc.msg_id = Some(id.to_string());
        }
        None => return false,
    }
    if !whole {
        // What the cut left of the arguments is not them.
        rpc.args = None;
    }
    true
}

/// A G1 reply dict (`reply`) or a G2 `Response` (`_reply_body`).
fn take_pickled_reply(rpc: &mut Rpc, value: &Value, options: Options) {
    rpc.kind = Kind::Reply;
    rpc.msg_id = str_field(value, "message_id").or(rpc.msg_id.take());
    if let Some(reply_id) = str_field(value, "reply_id") {
        rpc.reply_id = Some(reply_id);
    }
    let result = field(value, "reply").or_else(|| field(value, "reply_body"));
    if let Some(result) = result.filter(|r| !r.is_null() && options.keep_args) {
        rpc.args = Some(redact(result.clone(), options.redaction));
    }
    rpc.failure = field(value, "failure")
        .filter(|f| !f.is_null())
        .map(failure_summary);
}

/// What a proxy envelope says: a G1 dict or a G2 `Envelope`.
fn take_pickled_envelope(rpc: &mut Rpc, envelope: &Value) {
    take_pickled_target(rpc, envelope);
    rpc.msg_id = str_field(envelope, "message_id");
    if let Some(kind) = field(envelope, "msg_type").and_then(pickled_type) {
        rpc.kind = kind;
    }
    if let Some(key) = str_field(envelope, "routing_key") {
        rpc.routing_key = Some(key);
    }
    if let Some(reply_id) = str_field(envelope, "reply_id") {
        rpc.reply_id = Some(reply_id);
    }
}

/// An attribute as G1 stores it, or as G2's objects do (`_name`, behind a
/// property).
fn field<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    let object = v.as_object()?;
    object
        .get(name)
        .or_else(|| {
            // An instance's state has a handful of keys: a scan costs less
            // than building `_name`.
            object
                .iter()
                .find_map(|(k, f)| (k.strip_prefix('_') == Some(name)).then_some(f))
        })
        .filter(|f| !f.is_null())
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    field(v, key).and_then(Value::as_str).map(str::to_string)
}

/// `target.topic` and `target.server` of a pickled request or envelope.
fn take_pickled_target(rpc: &mut Rpc, holder: &Value) {
    if let Some(target) = field(holder, "target") {
        if let Some(topic) = str_field(target, "topic").filter(|t| !t.is_empty()) {
            rpc.topic = Some(topic);
        }
        if let Some(server) = str_field(target, "server").filter(|s| !s.is_empty()) {
            rpc.server = Some(server);
        }
    }
}

/// A message type: G1 words (`zmq_names.py` of 4.6), G2 numbers.
fn pickled_type(t: &Value) -> Option<Kind> {
    if let Some(n) = t.as_u64() {
        return (1..=6).contains(&n).then(|| kind_of(n as u8));
    }
    Some(match t.as_str()? {
        "call" => Kind::Call,
        "cast" => Kind::Cast,
        "cast-f" => Kind::Fanout,
        // 2.6.0-4.0.0: a notification to a fanout target.
        "notify" | "notify-f" => Kind::Notify,
        "reply" => Kind::Reply,
        "ack" => Kind::Ack,
        _ => return None,
    })
}

/// The kind a request class stands for.
fn request_kind(class: &str) -> Option<Kind> {
    Some(match class {
        "CallRequest" => Kind::Call,
        "CastRequest" => Kind::Cast,
        "FanoutRequest" => Kind::Fanout,
        // 2.6.0-4.0.0 sent a notification to a fanout target as its own class.
        "NotificationRequest" | "NotificationFanoutRequest" => Kind::Notify,
        _ => return None,
    })
}

/// The kind of a pickle that cannot be read whole, from the request or
/// response class it names near its start, or a reply dict's keys; none if
/// it names none of them.
fn pickled_kind(bytes: &[u8]) -> Option<Kind> {
    if find(bytes, b"zmq_request").is_some() {
        // NotificationFanoutRequest before the FanoutRequest it ends with.
        for class in [
            "CallRequest",
            "CastRequest",
            "NotificationFanoutRequest",
            "FanoutRequest",
            "NotificationRequest",
        ] {
            if find(bytes, class.as_bytes()).is_some() {
                return request_kind(class);
            }
        }
    }
    let reply = find(bytes, b"zmq_response").is_some()
        || (find(bytes, b"message_id").is_some() && find(bytes, b"reply").is_some())
        || (find(bytes, b"log_failure").is_some() && find(bytes, b"reply").is_some());
    reply.then_some(Kind::Reply)
}

/// A uuid as the new driver writes message ids (36 characters, 4 dashes).
pub(super) fn is_message_id(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().filter(|&&b| b == b'-').count() == 4
        && bytes.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-')
}

/// G3 PUB -> SUB: `topic | message_id | body`, no type frame; the body says
/// whether it is a notification.
fn g3_publication(frames: &[(&[u8], bool)], options: Options) -> Option<Rpc> {
    let mut rpc = Rpc::new(Driver::Zmq);
    rpc.envelope = "none".into();
    rpc.kind = Kind::Fanout;
    rpc.topic = Some(text(frame(frames, 0)?)?.to_string());
    let id = frame(frames, 1)?;
    if is_identity(id) {
        // 5.2 .. 5.5's proxy publishes the sender's identity where the
        // message id belongs (it pops the two in the wrong order).
        rpc.reply_id = text(id).map(str::to_string);
    } else {
        rpc.msg_id = text(id).map(str::to_string);
    }
    decode_bodies(&mut rpc, frames.get(2..), options);
    Some(rpc)
}

/// The message id at the end of a pickled request cut by the keep limit
/// (G1 pickles its `message_id` after the message): the last
/// `message_id` key in `tail`, the frame's last bytes, and the uuid that
/// follows it within a few opcode bytes (any protocol's string opcode,
/// length and memo).
pub fn pickled_message_id_in_tail(tail: &[u8]) -> Option<String> {
    let key = memchr::memmem::rfind(tail, b"message_id")?;
    let after = tail.get(key + b"message_id".len()..)?;
    (0..=16).find_map(|skip| {
        let id = after.get(skip..skip + 36)?;
        is_message_id(id)
            .then(|| text(id).map(str::to_string))
            .flatten()
    })
}

/// The string value of the first `"key": "…"` in a legacy JSON body as
/// Python's json.dumps writes it (a key inside the JSON-in-JSON context is
/// escaped and does not match); `None` when it is not there or not a
/// plain id-like string.
pub fn legacy_json_string(body: &[u8], key: &str) -> Option<String> {
    let needle = format!("\"{key}\": \"");
    let start = memchr::memmem::find(body, needle.as_bytes())? + needle.len();
    let rest = body.get(start..)?;
    let end = memchr::memchr(b'"', rest)?;
    let value = rest.get(..end)?;
    let plausible = !value.is_empty()
        && value.len() <= 256
        && value.iter().all(|b| b.is_ascii_graphic() && *b != b'\\');
    plausible.then(|| text(value).map(str::to_string)).flatten()
}

/// The same, the last occurrence: in a frame's last bytes.
pub fn legacy_json_string_last(tail: &[u8], key: &str) -> Option<String> {
    let needle = format!("\"{key}\": \"");
    let at = memchr::memmem::rfind(tail, needle.as_bytes())?;
    legacy_json_string(tail.get(at..)?, key)
}

/// A uuid4: a socket identity, never a message id (every release writes
/// those with uuid1).
fn is_identity(bytes: &[u8]) -> bool {
    is_message_id(bytes) && bytes.get(14) == Some(&b'4')
}

/// A JSON object or a msgpack map, by its first byte.
fn is_map(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(b'{' | 0x80..=0x8f | 0xde | 0xdf))
}

/// The body after the id frames: one `[context, message]` frame, or (G3a,
/// oslo.messaging 5.6 .. 5.7; pickled, G2 5.2 .. 5.5 through the proxy) the
/// context and the message in two frames, read as the one body later
/// releases send.
fn decode_bodies(rpc: &mut Rpc, frames: Option<&[(&[u8], bool)]>, options: Options) {
    let Some(frames) = frames else {
        return;
    };
    let [(ctx, ctx_whole), (msg, msg_whole)] = frames else {
        return decode_body(rpc, frames.first(), options);
    };
    let pickle = super::pickle::looks_like;
    if pickle(ctx) && pickle(msg) {
        // G2 (5.2 .. 5.5) through the proxy: both pickled, apart.
        rpc.serialization = Some("pickle");
        if !(*ctx_whole && *msg_whole) {
            // Cut by the keep limit: what came before the cut (the method
            // precedes the arguments); what is left of these is not them.
            rpc.truncated = true;
            let read = |bytes: &[u8], whole: bool| {
                if whole {
                    super::pickle::to_json(bytes)
                } else {
                    super::pickle::to_json_prefix(bytes)
                }
            };
            if let (Ok(ctx), Ok(msg)) = (read(ctx, *ctx_whole), read(msg, *msg_whole)) {
                apply_body(rpc, Value::Array(vec![ctx, msg]), options);
                rpc.args = None;
            }
            return;
        }
        match (super::pickle::to_json(ctx), super::pickle::to_json(msg)) {
            (Ok(ctx), Ok(msg)) => apply_body(rpc, Value::Array(vec![ctx, msg]), options),
            _ => rpc.undecodable = true,
        }
        return;
    }
    if !(is_map(ctx) && is_map(msg)) {
        return decode_body(rpc, frames.first(), options);
    }
    if !(*ctx_whole && *msg_whole) {
        // Cut by the keep limit: the method is near the message's start.
        return decode_body(rpc, Some(&(msg, false)), options);
    }
    let mut pair = Vec::with_capacity(ctx.len() + msg.len() + 3);
    if ctx.first() == Some(&b'{') && msg.first() == Some(&b'{') {
        pair.push(b'[');
        pair.extend_from_slice(ctx);
        pair.push(b',');
        pair.extend_from_slice(msg);
        pair.push(b']');
    } else {
        // A msgpack array of two: fixarray header 0x92.
        pair.push(0x92);
        pair.extend_from_slice(ctx);
        pair.extend_from_slice(msg);
    }
    decode_body(rpc, Some(&(&pair, true)), options);
}

/// G3 direct reply: the whole reply is one dict frame after the empty one.
fn g3_direct_reply(mut rpc: Rpc, body: &(&[u8], bool), options: Options) -> Option<Rpc> {
    let (bytes, whole) = *body;
    // Many non-oslo DEALER messages have this two-frame shape too: look for
    // the key before parsing anything (the same bytes in JSON and msgpack).
    if !is_map(bytes) || find(bytes, b"reply_body").is_none() {
        return None;
    }
    let value = match bytes.first() {
        Some(b'{') if whole => serde_json::from_slice::<Value>(bytes).ok()?,
        Some(0x80..=0x8f | 0xde | 0xdf) if whole => msgpack(bytes)?,
        _ => return None,
    };
    let dict = value.as_object()?;
    if !dict.contains_key("reply_body") {
        return None;
    }
    rpc.kind = Kind::Reply;
    rpc.msg_id = dict
        .get("message_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    rpc.reply_id = dict
        .get("reply_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(reply) = dict
        .get("reply_body")
        .filter(|r| !r.is_null() && options.keep_args)
    {
        rpc.args = Some(redact(reply.clone(), options.redaction));
    }
    rpc.failure = dict
        .get("failure")
        .filter(|f| !f.is_null())
        .map(failure_summary);
    Some(rpc)
}

/// A new-driver body: `[context, message]` for requests, `[reply, failure]`
/// for replies (G3 direct replies: a dict); JSON or msgpack.
fn decode_body(rpc: &mut Rpc, body: Option<&(&[u8], bool)>, options: Options) {
    let Some(&(bytes, whole)) = body else {
        return;
    };
    if super::pickle::looks_like(bytes) {
        // G2 (5.0 .. 5.5): a pickled request or Response behind type frames.
        if !pickled_body(rpc, bytes, whole, options) {
            rpc.undecodable = whole;
        }
        return;
    }
    if !whole {
        rpc.truncated = true;
        // Too long to keep whole: the method is near the start.
        rpc.method = scan_method(bytes);
        return;
    }
    if bytes.first() == Some(&b'[') {
        let lean = options.lean() && super::fast::lean_new_body(rpc, bytes).is_some();
        if lean || super::fast::new_body(rpc, bytes, options).is_some() {
            return;
        }
    }
    let value = match bytes.first() {
        Some(b'[' | b'{') => serde_json::from_slice::<Value>(bytes).ok(),
        Some(_) => {
            rpc.serialization = Some("msgpack");
            msgpack(bytes)
        }
        None => None,
    };
    let Some(value) = value else {
        rpc.undecodable = true;
        return;
    };
    apply_body(rpc, value, options);
}

/// What a parsed body says: a reply's result and failure, a request's
/// `[context, message]`.
fn apply_body(rpc: &mut Rpc, value: Value, options: Options) {
    match rpc.kind {
        Kind::Reply => {
            let (reply, failure) = match &value {
                Value::Array(a) => (a.first().cloned(), a.get(1).cloned()),
                Value::Object(o) => (o.get("reply_body").cloned(), o.get("failure").cloned()),
                _ => (None, None),
            };
            if let Some(reply) = reply.filter(|r| !r.is_null() && options.keep_args) {
                rpc.args = Some(redact(reply, options.redaction));
            }
            rpc.failure = failure
                .filter(|f| !f.is_null())
                .map(|f| failure_summary(&f));
        }
        Kind::Ack => {}
        _ => {
            let Value::Array(parts) = value else {
                return;
            };
            if let Some(ctx) = parts.first() {
                rpc.take_context(ctx);
            }
            if let Some(msg) = parts.get(1) {
                if msg.get("method").is_some() {
                    rpc.take_message(msg, options);
                } else if msg.get("event_type").is_some() {
                    rpc.take_notification(msg, options);
                }
            }
        }
    }
}

/// The RPC method from the start of a body too long to keep whole: the first
/// `"method"` key (JSON or msgpack) whose value is a string, skipping the
/// legacy call wrapper's `-reply` for the real method inside it. A body cut
/// before its method yields `None`, never a guess.
pub fn scan_method(prefix: &[u8]) -> Option<String> {
    let mut found = None;
    let mut rest = prefix;
    while let Some(pos) = find(rest, b"method") {
        let after = rest.get(pos + 6..).unwrap_or_default();
        let value = json_string_value(after).or_else(|| msgpack_string_value(after));
        rest = after;
        match value {
            Some(v) if v == "-reply" => found = Some(v),
            Some(v) => return Some(v),
            None => {}
        }
    }
    found
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// `": "value"` after a JSON key; the quotes are escaped (`\"`) when the
/// JSON sits inside a JSON string (the legacy envelope's double encoding).
fn json_string_value(after: &[u8]) -> Option<String> {
    let (rest, quote): (&[u8], &[u8]) = match after.strip_prefix(b"\\\"") {
        Some(r) => (r, b"\\\""),
        None => (after.strip_prefix(b"\"")?, b"\""),
    };
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let rest = rest.strip_prefix(quote)?;
    let end = find(rest, quote)?;
    let value = std::str::from_utf8(rest.get(..end)?).ok()?;
    (!value.is_empty() && value.len() <= 256 && !value.contains(['"', '\\']))
        .then(|| value.to_string())
}

/// A msgpack fixstr, str8 or bin8 right after the key `method` (itself a
/// fixstr or bin8). oslo.serialization packs with `use_bin_type`, so a
/// Python 2 sender's `str` keys and values are bin.
fn msgpack_string_value(after: &[u8]) -> Option<String> {
    let (&marker, rest) = after.split_first()?;
    let (len, rest) = match marker {
        0xa0..=0xbf => (usize::from(marker & 0x1f), rest),
        0xd9 | 0xc4 => {
            let (&len, rest) = rest.split_first()?;
            (usize::from(len), rest)
        }
        _ => return None,
    };
    let value = std::str::from_utf8(rest.get(..len)?).ok()?;
    (!value.is_empty()).then(|| value.to_string())
}

/// msgpack to JSON values, refusing depth beyond the bound.
pub(crate) fn msgpack(bytes: &[u8]) -> Option<Value> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH).ok()?;
    Some(to_json(&value))
}

fn to_json(v: &rmpv::Value) -> Value {
    use rmpv::Value as M;
    match v {
        M::Nil => Value::Null,
        M::Boolean(b) => Value::Bool(*b),
        M::Integer(i) => i
            .as_i64()
            .map(Value::from)
            .or_else(|| i.as_u64().map(Value::from))
            .unwrap_or(Value::Null),
        M::F32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        M::F64(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        M::String(s) => Value::String(s.as_str().map_or_else(
            || String::from_utf8_lossy(s.as_bytes()).into_owned(),
            str::to_string,
        )),
        M::Binary(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        M::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        M::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        M::String(s) => s.as_str().unwrap_or("?").to_string(),
                        // A Python 2 sender's `str` keys (use_bin_type).
                        M::Binary(b) => String::from_utf8_lossy(b).into_owned(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        M::Ext(_, _) => Value::Null,
    }
}

/// "ValueError: boom requested" from oslo's serialised remote exception
/// (a JSON string of {class, module, message, tb, ...}, or the object).
pub(super) fn failure_summary(v: &Value) -> String {
    let parsed;
    let object = match v {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok();
            parsed.as_ref()
        }
        other => Some(other),
    };
    match object {
        Some(o) => {
            let class = o
                .get("class")
                .and_then(Value::as_str)
                .unwrap_or("RemoteError");
            let message = o.get("message").and_then(Value::as_str).unwrap_or("");
            if message.is_empty() {
                class.to_string()
            } else {
                format!("{class}: {message}")
            }
        }
        None => v
            .as_str()
            .unwrap_or("remote error")
            .chars()
            .take(200)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&[u8]]) -> Vec<(&'static [u8], bool)> {
        parts
            .iter()
            .map(|p| (&*Box::leak(p.to_vec().into_boxed_slice()), true))
            .collect()
    }

    /// The objects oslo.messaging 4.6 pickles, at protocols 2 and 5
    /// (captures/tools/make_pickle_fixtures.py).
    const G1_CALLS: [&[u8]; 2] = [
        include_bytes!("../../tests/fixtures/pickle/call_p2.pickle"),
        include_bytes!("../../tests/fixtures/pickle/call_p5.pickle"),
    ];
    const G1_CASTS: [&[u8]; 2] = [
        include_bytes!("../../tests/fixtures/pickle/cast_p2.pickle"),
        include_bytes!("../../tests/fixtures/pickle/cast_p5.pickle"),
    ];
    const G1_REPLIES: [&[u8]; 2] = [
        include_bytes!("../../tests/fixtures/pickle/reply_p2.pickle"),
        include_bytes!("../../tests/fixtures/pickle/reply_p5.pickle"),
    ];

    #[test]
    fn a_folsom_reply_is_named_by_the_id_in_its_arguments() {
        // Folsom-era impl_zmq (nova/rpc, the 2012 incubator) sent a reply
        // with its queue in frame 0; the id is in the arguments only.
        let body = br#"["{\"user_id\": \"u1\"}", {"method": "-process_reply", "args": {"msg_id": "4f1e0c8d", "response": [42]}}]"#;
        let parts = frames(&[b"zmq_replies.ctl1", b"zmq_replies.ctl1", b"cast", body]);
        let lean = Options {
            redaction: Redaction::On,
            keep_args: false,
            keep_context: false,
        };
        for options in [Options::all(Redaction::On), lean] {
            let rpc = decode(&parts, options).unwrap();
            assert_eq!(rpc.kind, Kind::Reply);
            assert_eq!(rpc.msg_id.as_deref(), Some("4f1e0c8d"));
            assert_eq!(rpc.topic.as_deref(), Some("zmq_replies.ctl1"));
        }
    }

    #[test]
    fn a_cut_legacy_call_or_reply_keeps_its_id() {
        // Liberty writes the wrapper's arguments id first: before the cut.
        let big = "x".repeat(100);
        let call = format!(
            r#"["{{\"msg_id\": \"not-this\"}}", {{"method": "-reply", "args": {{"msg_id": "1eef3aaa", "topic": "zmq_replies.ctl", "msg": ["{{}}", {{"method": "get_it", "args": {{"blob": "{big}"}}}}]}}}}]"#
        );
        let cut = |body: &str| {
            frames(&[
                b"0",
                b"compute.h1",
                b"cast",
                &body.as_bytes()[..body.len() - 20],
            ])
            .into_iter()
            .enumerate()
            .map(|(i, f)| (f.0, i < 3))
            .collect::<Vec<_>>()
        };
        let rpc = decode(&cut(&call), Options::all(Redaction::On)).unwrap();
        assert!(rpc.truncated);
        assert_eq!(rpc.kind, Kind::Call);
        assert_eq!(rpc.msg_id.as_deref(), Some("1eef3aaa"));
        assert_eq!(rpc.reply_topic.as_deref(), Some("zmq_replies.ctl"));
        assert_eq!(rpc.method.as_deref(), Some("get_it"));
        let reply = format!(
            r#"["{{}}", {{"method": "-process_reply", "args": {{"msg_id": "1eef3aaa", "response": ["{big}"]}}}}]"#
        );
        let rpc = decode(&cut(&reply), Options::all(Redaction::On)).unwrap();
        assert_eq!(rpc.kind, Kind::Reply);
        assert_eq!(rpc.msg_id.as_deref(), Some("1eef3aaa"));
        // The id after the cut: in the frame's last bytes.
        let tail = br#"..."}]], "msg_id": "9a8b7c6d"}}]"#;
        assert_eq!(
            legacy_json_string_last(tail, "msg_id").as_deref(),
            Some("9a8b7c6d")
        );
        assert_eq!(
            legacy_json_string_last(br#""msg_id": "a\"b""#, "msg_id"),
            None
        );
    }

    #[test]
    fn a_cut_request_pickle_s_id_is_found_in_its_last_bytes() {
        const ID: &str = "3c3d7f7e-e971-11f1-b56d-02fc00000004";
        for pickled in [
            &include_bytes!("../../tests/fixtures/pickle/big_cast_p2.pickle")[..],
            &include_bytes!("../../tests/fixtures/pickle/big_cast_p5.pickle")[..],
        ] {
            let tail = &pickled[pickled.len() - 256..];
            assert_eq!(pickled_message_id_in_tail(tail).as_deref(), Some(ID));
            // Cut before the id, or only the key: nothing is guessed.
            assert_eq!(pickled_message_id_in_tail(&tail[..tail.len() - 40]), None);
            assert_eq!(pickled_message_id_in_tail(&pickled[..256]), None);
        }
        assert_eq!(
            pickled_message_id_in_tail(b"message_id\x8c\x05hello not a uuid at all, no"),
            None
        );
    }

    #[test]
    fn early_g1_replies_and_acks_have_no_type() {
        // 2.6 .. 3.0: `'' | pickle({reply, failure, log_failure})`, no id;
        // 2.6 .. 2.7: `'' | pickle({'id': message_id})` acknowledges.
        for (reply, ack) in [
            (
                &include_bytes!("../../tests/fixtures/pickle/early_reply_p2.pickle")[..],
                &include_bytes!("../../tests/fixtures/pickle/early_ack_p2.pickle")[..],
            ),
            (
                &include_bytes!("../../tests/fixtures/pickle/early_reply_p5.pickle")[..],
                &include_bytes!("../../tests/fixtures/pickle/early_ack_p5.pickle")[..],
            ),
        ] {
            let rpc = decode(&frames(&[b"", reply]), Options::all(Redaction::On)).unwrap();
            assert_eq!(rpc.kind, Kind::Reply);
            assert_eq!(rpc.msg_id, None);
            assert_eq!(rpc.failure.as_deref(), Some("ValueError: boom"));
            let rpc = decode(&frames(&[b"", ack]), Options::all(Redaction::On)).unwrap();
            assert_eq!(rpc.kind, Kind::Ack);
            assert_eq!(
                rpc.msg_id.as_deref(),
                Some("1c3d7f7e-e971-11f1-b56d-02fc00000002")
            );
            // Damaged: still a reply, by its keys.
            let mut damaged = reply[..reply.len() - 3].to_vec();
            damaged.push(0xff);
            let rpc = decode(&frames(&[b"", &damaged]), Options::all(Redaction::On)).unwrap();
            assert_eq!(rpc.kind, Kind::Reply);
        }
        // `{'id': 5}`, `{'reply': 1, 'failure': None}`, `{'id': 'x', 'y': 1}`
        // (protocol 2) are not oslo's.
        for obj in [
            &b"\x80\x02}q\x00X\x02\x00\x00\x00idq\x01K\x05s."[..],
            b"\x80\x02}q\x00(X\x05\x00\x00\x00replyq\x01K\x01X\x07\x00\x00\x00failureq\x02Nu.",
            b"\x80\x02}q\x00(X\x02\x00\x00\x00idq\x01X\x01\x00\x00\x00xq\x02X\x01\x00\x00\x00yq\x03K\x01u.",
        ] {
            assert!(super::super::pickle::to_json(obj).is_ok());
            assert_eq!(decode(&frames(&[b"", obj]), Options::all(Redaction::On)), None);
        }
    }

    #[test]
    fn a_g1_notification_to_a_fanout_target_is_a_notification() {
        for pickled in [
            &include_bytes!("../../tests/fixtures/pickle/notify_fanout_p2.pickle")[..],
            &include_bytes!("../../tests/fixtures/pickle/notify_fanout_p5.pickle")[..],
        ] {
            let rpc = decode(&frames(&[b"", pickled]), Options::all(Redaction::On)).unwrap();
            assert_eq!(rpc.kind, Kind::Notify);
            assert_eq!(rpc.event_type.as_deref(), Some("compute.instance.update"));
            assert_eq!(rpc.topic.as_deref(), Some("notifications.info"));
            // Damaged past the class name: still named by it, not a fanout.
            let cut = &pickled[..pickled.len() / 2];
            let mut damaged = cut.to_vec();
            damaged.push(0xff);
            let rpc = decode(&frames(&[b"", &damaged]), Options::all(Redaction::On)).unwrap();
            assert_eq!(rpc.kind, Kind::Notify);
        }
    }

    #[test]
    fn msgpack_from_python_2_has_bin_keys_and_values() {
        // oslo.serialization packs with use_bin_type: Python 2's `str`
        // (keys, method names, context values) arrives as bin.
        use rmpv::Value as M;
        let bin = |s: &str| M::Binary(s.as_bytes().to_vec());
        let body = M::Array(vec![
            M::Map(vec![
                (bin("request_id"), bin("req-1")),
                (bin("user_id"), bin("u1")),
            ]),
            M::Map(vec![
                (bin("method"), bin("get_uptime")),
                (bin("args"), M::Map(vec![(bin("host"), bin("h1"))])),
                (bin("version"), bin("1.0")),
            ]),
        ]);
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &body).unwrap();
        let parts = frames(&[b"", b"1.0", b"1", b"m-1", &bytes]);
        let rpc = decode(&parts, Options::all(Redaction::On)).unwrap();
        assert_eq!(rpc.kind, Kind::Call);
        assert_eq!(rpc.method.as_deref(), Some("get_uptime"));
        assert_eq!(rpc.user.as_deref(), Some("u1"));
        assert_eq!(rpc.request_id.as_deref(), Some("req-1"));
        assert_eq!(rpc.args, Some(serde_json::json!({"host": "h1"})));
        // Cut before its end, the method is still found.
        assert_eq!(scan_method(&bytes).as_deref(), Some("get_uptime"));
    }

    #[test]
    fn g3a_context_and_message_in_two_frames_and_g3d_publications() {
        // oslo.messaging 5.6 .. 5.7 sent the context and the message as
        // two frames (client/zmq_senders.py: send_dumped twice).
        const MID: &[u8] = b"6f2a1c0e-e971-11f1-b56d-02fc00000001";
        const RK: &[u8] = b"9c1e8a22-5b4f-4d3e-8a7b-6c5d4e3f2a1b";
        let ctx = br#"{"request_id": "req-1", "user_id": "u1"}"#;
        let msg = br#"{"method": "get_uptime", "args": {"host": "h1"}, "version": "1.0"}"#;
        let mp = |json: &[u8]| {
            let v: Value = serde_json::from_slice(json).unwrap();
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, &json_to_msgpack(&v)).unwrap();
            out
        };
        let (ctx_mp, msg_mp) = (mp(ctx), mp(msg));
        for (ctx, msg) in [(&ctx[..], &msg[..]), (&ctx_mp[..], &msg_mp[..])] {
            let layouts: [(Vec<&[u8]>, Option<&str>); 4] = [
                // Direct.
                (vec![b"", b"1", MID, ctx, msg], None),
                // To the proxy, with the server DEALER's identity.
                (vec![b"", b"1", RK, MID, ctx, msg], None),
                // From the proxy to the server.
                (vec![b"", b"proxy-id", b"1", MID, ctx, msg], None),
                // The proxy's PUB.
                (vec![b"compute", MID, ctx, msg], Some("compute")),
            ];
            for (parts, topic) in layouts {
                let rpc = decode(&frames(&parts), Options::all(Redaction::On))
                    .unwrap_or_else(|| panic!("{parts:?}"));
                assert_eq!(
                    rpc.msg_id.as_deref(),
                    Some(std::str::from_utf8(MID).unwrap())
                );
                assert_eq!(rpc.method.as_deref(), Some("get_uptime"), "{parts:?}");
                assert_eq!(rpc.user.as_deref(), Some("u1"));
                assert_eq!(rpc.args, Some(serde_json::json!({"host": "h1"})));
                if let Some(t) = topic {
                    assert_eq!(rpc.topic.as_deref(), Some(t));
                }
            }
        }
        // G2 (5.2 .. 5.5) through the proxy: both pickled.
        let ctx = include_bytes!("../../tests/fixtures/pickle/g2_proxy_context_p2.pickle");
        let msg = include_bytes!("../../tests/fixtures/pickle/g2_proxy_message_p2.pickle");
        for parts in [
            vec![&b""[..], b"1", RK, MID, ctx, msg],
            vec![&b"compute"[..], MID, ctx, msg],
        ] {
            let rpc = decode(&frames(&parts), Options::all(Redaction::On)).unwrap();
            assert_eq!(rpc.serialization, Some("pickle"));
            assert_eq!(rpc.method.as_deref(), Some("get_uptime"));
            assert_eq!(rpc.user.as_deref(), Some("u1"));
            assert_eq!(
                rpc.msg_id.as_deref(),
                Some(std::str::from_utf8(MID).unwrap())
            );
        }
        // Cut by the keep limit: the method, before the arguments, is read.
        let mut parts = frames(&[b"", b"1", RK, MID, ctx, &msg[..msg.len() - 4]]);
        if let Some(last) = parts.last_mut() {
            last.1 = false;
        }
        let rpc = decode(&parts, Options::all(Redaction::On)).unwrap();
        assert!(rpc.truncated);
        assert_eq!(rpc.method.as_deref(), Some("get_uptime"));
        assert_eq!(rpc.args, None);
        // 5.2 .. 5.5's PUB: the sender's identity (a uuid4) where the id
        // belongs is not a message id.
        let rpc = decode(
            &frames(&[b"compute", RK, ctx, msg]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(rpc.msg_id, None);
        assert_eq!(
            rpc.reply_id.as_deref(),
            Some(std::str::from_utf8(RK).unwrap())
        );
        assert_eq!(rpc.method.as_deref(), Some("get_uptime"));
        // Routing keys: a bare uuid (5.2 .. 5.9) names nothing; a
        // notification topic keeps its dot (5.11 .. 5.13 `host/topic/uuid`).
        let body = br#"[{"user_id": "u1"}, {"method": "refresh", "args": {}}]"#;
        let rpc = decode(
            &frames(&[b"", b"1", RK, MID, body]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!((rpc.topic.as_deref(), rpc.server.as_deref()), (None, None));
        let key = b"ctl1/notifications.info/9c1e8a22-5b4f-4d3e-8a7b-6c5d4e3f2a1b";
        let rpc = decode(
            &frames(&[b"", b"4", key, MID, body]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(rpc.topic.as_deref(), Some("notifications.info"));
        assert_eq!(rpc.server, None);
        let key = b"ctl1/compute.node-1/9c1e8a22-5b4f-4d3e-8a7b-6c5d4e3f2a1b";
        let rpc = decode(
            &frames(&[b"", b"1", key, MID, body]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(rpc.topic.as_deref(), Some("compute"));
        assert_eq!(rpc.server.as_deref(), Some("node-1"));
        // 5.12 .. 5.13: the PUB gained a type frame.
        let body = br#"[{"user_id": "u1"}, {"method": "refresh", "args": {}}]"#;
        let rpc = decode(
            &frames(&[b"compute", b"3", MID, body]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(
            (rpc.kind, rpc.topic.as_deref()),
            (Kind::Fanout, Some("compute"))
        );
        assert_eq!(rpc.method.as_deref(), Some("refresh"));
        // The G3b proxy layout is still read as it was.
        let rpc = decode(
            &frames(&[b"", b"1", RK, MID, body]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(
            rpc.routing_key.as_deref(),
            Some(std::str::from_utf8(RK).unwrap())
        );
        assert_eq!(rpc.method.as_deref(), Some("refresh"));
    }

    fn json_to_msgpack(v: &Value) -> rmpv::Value {
        use rmpv::Value as M;
        match v {
            Value::Null => M::Nil,
            Value::Bool(b) => M::Boolean(*b),
            Value::Number(n) => n.as_i64().map_or(M::Nil, M::from),
            Value::String(s) => M::from(s.as_str()),
            Value::Array(a) => M::Array(a.iter().map(json_to_msgpack).collect()),
            Value::Object(o) => M::Map(
                o.iter()
                    .map(|(k, v)| (M::from(k.as_str()), json_to_msgpack(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn g1_pickled_requests_and_replies() {
        for call in G1_CALLS {
            let rpc = decode(&frames(&[b"", call]), Options::all(Redaction::On)).unwrap();
            assert_eq!(
                (rpc.driver, rpc.kind, rpc.envelope.as_str()),
                (Driver::Zmq, Kind::Call, "pickle")
            );
            assert_eq!(rpc.topic.as_deref(), Some("compute"));
            assert_eq!(rpc.server.as_deref(), Some("node-1"));
            assert_eq!(rpc.method.as_deref(), Some("get_uptime"));
            assert_eq!(rpc.version.as_deref(), Some("1.0"));
            assert_eq!(
                rpc.msg_id.as_deref(),
                Some("0c3d7f7e-e971-11f1-b56d-02fc00000001")
            );
            assert_eq!(rpc.request_id.as_deref(), Some("req-7"));
            assert_eq!(
                (rpc.user.as_deref(), rpc.project.as_deref()),
                (Some("u1"), Some("p1"))
            );
            assert_eq!(rpc.serialization, Some("pickle"));
            let args = rpc.args.unwrap();
            assert_eq!(args["x"], 1);
            assert_ne!(args["password"], "pw", "secrets are redacted");
        }
        for cast in G1_CASTS {
            // PUSH -> PULL: the pickle alone.
            let rpc = decode(&frames(&[cast]), Options::all(Redaction::On)).unwrap();
            assert_eq!(
                (rpc.kind, rpc.method.as_deref()),
                (Kind::Cast, Some("refresh"))
            );
            assert_eq!((rpc.topic.as_deref(), rpc.server), (Some("compute"), None));
        }
        for reply in G1_REPLIES {
            let rpc = decode(&frames(&[b"", reply]), Options::all(Redaction::On)).unwrap();
            assert_eq!(rpc.kind, Kind::Reply);
            assert_eq!(
                rpc.msg_id.as_deref(),
                Some("0c3d7f7e-e971-11f1-b56d-02fc00000001")
            );
            assert_eq!(rpc.failure.as_deref(), Some("ValueError: boom"));
            assert_eq!(rpc.args, None);
        }
    }

    const G2_ENVELOPES: [&[u8]; 2] = [
        include_bytes!("../../tests/fixtures/pickle/g2_envelope_p2.pickle"),
        include_bytes!("../../tests/fixtures/pickle/g2_envelope_p5.pickle"),
    ];
    const G2_RESPONSES: [&[u8]; 2] = [
        include_bytes!("../../tests/fixtures/pickle/g2_response_p2.pickle"),
        include_bytes!("../../tests/fixtures/pickle/g2_response_p5.pickle"),
    ];

    #[test]
    fn g2_envelopes_responses_and_pickles_behind_type_frames() {
        let id = "0c3d7f7e-e971-11f1-b56d-02fc00000001";
        for (envelope, response) in G2_ENVELOPES.into_iter().zip(G2_RESPONSES) {
            // DEALER -> ROUTER: '' | pickle(Envelope) | pickle(CallRequest).
            let call = decode(
                &frames(&[b"", envelope, G1_CALLS[1]]),
                Options::all(Redaction::On),
            )
            .unwrap();
            assert_eq!(
                (call.kind, call.method.as_deref()),
                (Kind::Call, Some("get_uptime"))
            );
            assert_eq!(
                (call.topic.as_deref(), call.server.as_deref()),
                (Some("compute"), Some("node-1"))
            );
            // And back: '' | pickle(Envelope) | pickle(Response).
            let reply = decode(
                &frames(&[b"", envelope, response]),
                Options::all(Redaction::On),
            )
            .unwrap();
            assert_eq!(
                (reply.kind, reply.msg_id.as_deref()),
                (Kind::Reply, Some(id))
            );
            assert_eq!(reply.args, Some(serde_json::json!({"uptime": 42})));
            // The ROUTER identity, bytes (protocol 2 writes them as a call to
            // `_codecs.encode`).
            assert_eq!(reply.reply_id.as_deref(), Some("0x006b8b4567"));
            assert_eq!(reply.failure, None);
            // Through the proxy: '' | '5' | reply_id | message_id | pickle(Response).
            let reply = decode(
                &frames(&[b"", b"5", b"\x00k\x8bEg", id.as_bytes(), response]),
                Options::all(Redaction::On),
            )
            .unwrap();
            assert_eq!(
                (reply.kind, reply.msg_id.as_deref(), reply.undecodable),
                (Kind::Reply, Some(id), false)
            );
            assert_eq!(reply.serialization, Some("pickle"));
        }
    }

    #[test]
    fn g1_through_the_proxy_and_its_pub_socket() {
        // To the proxy: '' | pickle(envelope) | pickle(request); the envelope
        // here is the request itself, as good a dict-bearing pickle as any.
        let rpc = decode(
            &frames(&[b"", G1_CASTS[1], G1_CALLS[0]]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(
            (rpc.kind, rpc.method.as_deref()),
            (Kind::Call, Some("get_uptime"))
        );
        // From the proxy's PUB: topic filter | pickle(request).
        let rpc = decode(
            &frames(&[b"compute/node-9", G1_CASTS[0]]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(
            (rpc.kind, rpc.topic.as_deref()),
            (Kind::Cast, Some("compute"))
        );
    }

    #[test]
    fn g1_cut_or_broken_pickles() {
        let call = G1_CALLS[0];
        // Cut by the decoder's keep limit: the class still says what it is.
        let rpc = decode(
            &[(b"".as_slice(), true), (&call[..120], false)],
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!((rpc.kind, rpc.truncated), (Kind::Call, true));
        // Damaged in the middle: oslo's, undecodable.
        let mut broken = call.to_vec();
        broken.truncate(300);
        broken.push(b'.');
        let rpc = decode(&frames(&[b"", &broken]), Options::all(Redaction::On)).unwrap();
        assert_eq!((rpc.kind, rpc.undecodable), (Kind::Call, true));
        // A pickle that is not oslo's stays a plain message.
        assert!(decode(
            &frames(&[b"", b"\x80\x02]q\x00."]),
            Options::all(Redaction::On)
        )
        .is_none());
        assert!(decode(
            &frames(&[b"", b"\x80\x02}q\x00."]),
            Options::all(Redaction::On)
        )
        .is_none());
        assert!(decode(&frames(&[b"\x80\x04garbage"]), Options::all(Redaction::On)).is_none());
    }

    #[test]
    fn legacy_call_is_unwrapped() {
        let body = br#"["{\"user_id\": \"u1\", \"project_id\": \"p1\", \"auth_token\": \"SECRET\"}", {"method": "-reply", "args": {"msg_id": "abc123", "topic": "zmq_replies.controller", "msg": ["{\"request_id\": \"req-1\"}", {"method": "get_host_uptime", "args": {"password": "hunter2", "x": 1}, "version": "3.0"}]}}]"#;
        let rpc = decode(
            &frames(&[b"0", b"compute.compute1", b"cast", body]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(rpc.kind, Kind::Call);
        assert_eq!(rpc.method.as_deref(), Some("get_host_uptime"));
        assert_eq!(rpc.msg_id.as_deref(), Some("abc123"));
        assert_eq!(rpc.server.as_deref(), Some("compute1"));
        assert_eq!(rpc.reply_topic.as_deref(), Some("zmq_replies.controller"));
        assert_eq!(rpc.request_id.as_deref(), Some("req-1"));
        assert_eq!(rpc.user.as_deref(), Some("u1"));
        let args = rpc.args.unwrap().to_string();
        assert!(
            args.contains("<redacted>") && !args.contains("hunter2"),
            "{args}"
        );
    }

    #[test]
    fn impl_zmq_v2_pairs_in_either_order() {
        let msg = br#"{"message_id": "n1", "event_type": "compute.instance.create.end", "priority": "INFO", "payload": {}}"#;
        for order in [
            [&b"oslo.version"[..], b"2.0", b"oslo.message", msg],
            [b"oslo.message", msg, b"oslo.version", b"2.0"],
        ] {
            let mut parts: Vec<&[u8]> = vec![
                b"0",
                b"notifications-info.ceilometer",
                b"impl_zmq_v2",
                b"{}",
            ];
            parts.extend_from_slice(&order);
            let rpc = decode(&frames(&parts), Options::all(Redaction::On)).unwrap();
            assert_eq!(rpc.kind, Kind::Notify);
            assert_eq!(
                rpc.event_type.as_deref(),
                Some("compute.instance.create.end")
            );
            assert_eq!(rpc.oslo_version.as_deref(), Some("2.0"));
        }
    }

    #[test]
    fn new_driver_layouts() {
        let body = br#"[{"user_id": "u"}, {"method": "ping", "args": {}}]"#;
        let direct = decode(
            &frames(&[b"", b"1.0", b"1", b"id-1", body]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(
            (
                direct.kind,
                direct.msg_id.as_deref(),
                direct.method.as_deref()
            ),
            (Kind::Call, Some("id-1"), Some("ping"))
        );
        let to_proxy = decode(
            &frames(&[
                b"",
                b"1.0",
                b"1",
                b"10.0.0.2/compute/node-1/uuid",
                b"id-2",
                body,
            ]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(
            (to_proxy.topic.as_deref(), to_proxy.server.as_deref()),
            (Some("compute"), Some("node-1"))
        );
        let from_proxy = decode(
            &frames(&[b"", b"1.0", b"10.0.0.1/uuid", b"1", b"id-2", body]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(from_proxy.reply_id.as_deref(), Some("10.0.0.1/uuid"));
        let ack = decode(
            &frames(&[b"", b"1.0", b"6", b"10.0.0.1/uuid", b"id-2"]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!((ack.kind, ack.msg_id.as_deref()), (Kind::Ack, Some("id-2")));
        let reply = decode(
            &frames(&[
                b"",
                b"1.0",
                b"5",
                b"id-1",
                br#"[null, "{\"class\": \"ValueError\", \"message\": \"boom\"}"]"#,
            ]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(reply.failure.as_deref(), Some("ValueError: boom"));
        let g3 = decode(
            &frames(&[b"", b"2", b"id-3", body]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!((g3.kind, g3.envelope.as_str()), (Kind::Cast, "none"));
    }

    #[test]
    fn g3_replies_and_publications() {
        let reply = decode(
            &frames(&[b"", br#"{"message_id": "3d665f46-e95c-11f1-a69b-02fc00000001", "reply_id": "r", "reply_body": {"pong": 1}, "failure": null}"#]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!((reply.kind, reply.envelope.as_str()), (Kind::Reply, "none"));
        assert_eq!(
            reply.msg_id.as_deref(),
            Some("3d665f46-e95c-11f1-a69b-02fc00000001")
        );
        let body = br#"[{"user_id": "u"}, {"message_id": "x", "event_type": "compute.instance.create.end", "priority": "INFO", "payload": {}}]"#;
        let publication = decode(
            &frames(&[
                b"notifications.info",
                b"3d665f46-e95c-11f1-a69b-02fc00000001",
                body,
            ]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(
            (publication.kind, publication.topic.as_deref()),
            (Kind::Notify, Some("notifications.info"))
        );
        let fanout = decode(
            &frames(&[
                b"",
                b"3",
                b"compute",
                b"3d665f46-e95c-11f1-a69b-02fc00000001",
                br#"[{}, {"method": "m"}]"#,
            ]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(
            (fanout.kind, fanout.topic.as_deref()),
            (Kind::Fanout, Some("compute"))
        );
    }

    #[test]
    fn methods_of_bodies_too_long_to_keep() {
        assert_eq!(
            scan_method(
                br#"[{"user_id": "u"}, {"method": "record_metering_data", "args": {"data": "xxxx"#
            )
            .as_deref(),
            Some("record_metering_data")
        );
        let legacy = br#"["{\"user_id\": \"u\"}", {"method": "-reply", "args": {"msg_id": "m", "msg": ["{}", {"method": "get_it", "args": {"blob": "xxx"#;
        assert_eq!(scan_method(legacy).as_deref(), Some("get_it"));
        assert_eq!(
            scan_method(b"\x92\x81\xa7user_id\xa1u\x82\xa6method\xa4ping\xa4args").as_deref(),
            Some("ping")
        );
        assert_eq!(scan_method(br#"[{"user_id": "u"}, {"meth"#), None);
        // Truncated legacy call: still a call, with the real method.
        let mut tr = frames(&[b"0", b"compute.h", b"cast", legacy]);
        tr[3].1 = false;
        let rpc = decode(&tr, Options::all(Redaction::On)).unwrap();
        assert_eq!(
            (rpc.kind, rpc.method.as_deref(), rpc.truncated),
            (Kind::Call, Some("get_it"), true)
        );
    }

    #[test]
    fn msgpack_bodies() {
        // [ {"user_id": "u"}, {"method": "ping"} ]
        let body = b"\x92\x81\xa7user_id\xa1u\x81\xa6method\xa4ping";
        let rpc = decode(
            &frames(&[b"", b"1.0", b"2", b"id", body]),
            Options::all(Redaction::On),
        )
        .unwrap();
        assert_eq!(rpc.method.as_deref(), Some("ping"));
        assert_eq!(rpc.serialization, Some("msgpack"));
    }

    #[test]
    fn hostile_bodies_never_panic() {
        let deep = "[".repeat(100_000);
        for body in [
            &b"[\"{\\\"a"[..],
            b"\xff\xfe\x00",
            deep.as_bytes(),
            b"\xdd\xff\xff\xff\xff",
            b"[null, 7]",
        ] {
            let _ = decode(
                &frames(&[b"0", b"compute.h", b"cast", body]),
                Options::all(Redaction::On),
            );
            let _ = decode(
                &frames(&[b"", b"1.0", b"1", b"id", body]),
                Options::all(Redaction::On),
            );
            let _ = decode(
                &frames(&[b"", b"1.0", b"5", b"id", body]),
                Options::all(Redaction::On),
            );
        }
        assert!(decode(&frames(&[b"hello"]), Options::all(Redaction::On)).is_none());
        assert!(decode(&frames(&[b"", b"x", b"y"]), Options::all(Redaction::On)).is_none());
    }
}
