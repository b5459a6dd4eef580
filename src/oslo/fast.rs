//! The fast lane for JSON bodies: typed views that borrow raw JSON slices
//! for the few fields the decoder reads and skip everything else without
//! allocating (contexts carry service catalogs, arguments can be large).
//! Arguments are parsed into values only when they will be printed. A body
//! this lane cannot read (duplicate keys, unexpected types) returns `None`
//! and goes through the general `serde_json::Value` decoder instead.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::Value;

use super::envelope::{failure_summary, Options};
use super::redact::redact;
use super::{Kind, Rpc};

#[derive(Deserialize)]
struct RawCtx<'a> {
    #[serde(borrow, default)]
    request_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user_name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    project_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tenant: Option<&'a RawValue>,
    #[serde(borrow, default)]
    project: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tenant_id: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawMsg<'a> {
    #[serde(borrow, default)]
    method: Option<&'a RawValue>,
    #[serde(borrow, default)]
    args: Option<&'a RawValue>,
    #[serde(borrow, default)]
    namespace: Option<&'a RawValue>,
    #[serde(borrow, default)]
    version: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    priority: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WrapperArgs<'a> {
    #[serde(borrow, default)]
    msg_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    topic: Option<&'a RawValue>,
    #[serde(borrow, default)]
    msg: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    response: Option<&'a RawValue>,
}

/// A JSON string's text; anything else (numbers, objects, null) is none.
fn string(raw: Option<&RawValue>) -> Option<String> {
    let raw = raw?;
    raw.get()
        .starts_with('"')
        .then(|| serde_json::from_str::<String>(raw.get()).ok())
        .flatten()
}

fn value(raw: &RawValue) -> Option<Value> {
    serde_json::from_str(raw.get()).ok()
}

/// A context: an object, or (legacy `cast`) a JSON string holding one.
fn apply_context(rpc: &mut Rpc, raw: &RawValue) {
    let text = raw.get();
    let unescaped;
    let object = if text.starts_with('"') {
        match serde_json::from_str::<String>(text) {
            Ok(s) => {
                unescaped = s;
                unescaped.as_str()
            }
            Err(_) => return,
        }
    } else {
        text
    };
    let Ok(ctx) = serde_json::from_str::<RawCtx>(object) else {
        return;
    };
    let pick = |fields: &[Option<&RawValue>]| fields.iter().find_map(|f| string(*f));
    rpc.request_id = pick(&[ctx.request_id]).or(rpc.request_id.take());
    rpc.user = pick(&[ctx.user_id, ctx.user, ctx.user_name]).or(rpc.user.take());
    rpc.project =
        pick(&[ctx.project_id, ctx.tenant, ctx.project, ctx.tenant_id]).or(rpc.project.take());
}

fn apply_message(rpc: &mut Rpc, msg: &RawMsg<'_>, options: Options) {
    rpc.method = string(msg.method);
    rpc.namespace = string(msg.namespace);
    rpc.version = string(msg.version);
    if options.keep_args {
        rpc.args = msg
            .args
            .and_then(value)
            .map(|a| redact(a, options.redaction));
    }
}

fn apply_notification(rpc: &mut Rpc, msg: &RawMsg<'_>, options: Options) {
    rpc.kind = Kind::Notify;
    rpc.event_type = string(msg.event_type);
    rpc.priority = string(msg.priority);
    rpc.payload_message_id = string(msg.message_id);
    if options.keep_args {
        rpc.args = msg
            .payload
            .and_then(value)
            .map(|a| redact(a, options.redaction));
    }
}

/// The remote exception in a legacy `-process_reply` response (a list whose
/// items may be `{"exc": ...}`); parsed only when one is there.
fn legacy_failure(response: &RawValue) -> Option<String> {
    if !response.get().contains("\"exc\"") {
        return None;
    }
    let v = value(response)?;
    v.as_array()?
        .iter()
        .find_map(|item| item.get("exc"))
        .map(failure_summary)
}

/// Legacy `cast` frame 3: `[ctx, msg]`, the call wrapper unwrapped.
/// `msg_id_frame` is frame 0. Returns `None` to leave it to the general
/// decoder.
pub fn legacy_cast(rpc: &mut Rpc, body: &[u8], msg_id_frame: &str, options: Options) -> Option<()> {
    let parts: Vec<&RawValue> = serde_json::from_slice(body).ok()?;
    let (ctx, msg) = (parts.first()?, parts.get(1)?);
    let msg: RawMsg = serde_json::from_str(msg.get()).ok()?;
    apply_context(rpc, ctx);
    match string(msg.method).as_deref() {
        Some("-reply") => {
            rpc.kind = Kind::Call;
            let args: WrapperArgs = serde_json::from_str(msg.args?.get()).ok()?;
            rpc.msg_id = string(args.msg_id);
            rpc.reply_topic = string(args.topic);
            if let Some(inner) = &args.msg {
                if let Some(inner_ctx) = inner.first() {
                    apply_context(rpc, inner_ctx);
                }
                if let Some(real) = inner.last() {
                    let real: RawMsg = serde_json::from_str(real.get()).ok()?;
                    apply_message(rpc, &real, options);
                }
            }
            if rpc.msg_id.is_none() && msg_id_frame != "0" {
                // Folsom put the id in frame 0.
                rpc.msg_id = Some(msg_id_frame.to_string());
            }
        }
        Some("-process_reply") => {
            rpc.kind = Kind::Reply;
            let args: Option<WrapperArgs> =
                msg.args.and_then(|a| serde_json::from_str(a.get()).ok());
            // The id in the arguments first (Folsom's frame 0 of a reply
            // is its queue).
            rpc.msg_id = args
                .as_ref()
                .and_then(|a| string(a.msg_id))
                .or_else(|| Some(msg_id_frame.to_string()).filter(|id| id != "0"));
            if let Some(response) = args.as_ref().and_then(|a| a.response) {
                rpc.failure = legacy_failure(response);
                if options.keep_args {
                    rpc.args = value(response).map(|r| redact(r, options.redaction));
                }
            }
        }
        Some(_) => apply_message(rpc, &msg, options),
        None if msg.event_type.is_some() => apply_notification(rpc, &msg, options),
        None => {}
    }
    Some(())
}

/// A new-driver JSON body: `[context, message]` for requests, `[reply,
/// failure]` for replies.
pub fn new_body(rpc: &mut Rpc, bytes: &[u8], options: Options) -> Option<()> {
    let parts: Vec<&RawValue> = serde_json::from_slice(bytes).ok()?;
    match rpc.kind {
        Kind::Reply => {
            if let Some(reply) = parts.first().filter(|r| r.get() != "null") {
                if options.keep_args {
                    rpc.args = value(reply).map(|r| redact(r, options.redaction));
                }
            }
            rpc.failure = parts
                .get(1)
                .filter(|f| f.get() != "null")
                .and_then(|f| value(f))
                .map(|f| failure_summary(&f));
        }
        Kind::Ack => {}
        _ => {
            if let Some(ctx) = parts.first() {
                apply_context(rpc, ctx);
            }
            if let Some(msg) = parts.get(1) {
                let msg: RawMsg = serde_json::from_str(msg.get()).ok()?;
                if msg.method.is_some() {
                    apply_message(rpc, &msg, options);
                } else if msg.event_type.is_some() {
                    apply_notification(rpc, &msg, options);
                }
            }
        }
    }
    Some(())
}

// The lean lane: for reports that print neither arguments nor the context
// (stats, doctor), a body is read in one pass. The lane above re-reads each
// nested raw slice (body, message, wrapper args, inner message: the same
// bytes up to five times) and unescapes the legacy JSON-in-JSON context; here
// everything but the fields below is skipped once, where it stands.

/// One JSON value, kept only in the shape the lane reads: a string's text or
/// an object read as `T`; any other value is skipped.
#[derive(Default)]
enum Lean<'a, T> {
    /// Absent or `null`.
    #[default]
    Null,
    Text(Cow<'a, str>),
    Object(T),
    Other,
}

/// A field that is read only when it is a string.
type Text<'a> = Lean<'a, IgnoredAny>;

impl<T> Lean<'_, T> {
    fn is_present(&self) -> bool {
        !matches!(self, Lean::Null)
    }

    fn text(&self) -> Option<String> {
        match self {
            Lean::Text(s) => Some(s.to_string()),
            _ => None,
        }
    }

    fn object(self) -> Option<T> {
        match self {
            Lean::Object(t) => Some(t),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for Lean<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LeanVisitor(PhantomData))
    }
}

struct LeanVisitor<'a, T>(PhantomData<Lean<'a, T>>);

impl<'de: 'a, 'a, T: Deserialize<'de>> Visitor<'de> for LeanVisitor<'a, T> {
    type Value = Lean<'a, T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Lean::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Lean::Text(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Lean::Text(Cow::Owned(v)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Lean::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Lean::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Lean::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Lean::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Lean::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Lean::Other)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Lean::Null)
    }
}

/// The method part of a message, its arguments skipped.
#[derive(Deserialize)]
struct LeanInner<'a> {
    #[serde(borrow, default)]
    method: Text<'a>,
    #[serde(borrow, default)]
    namespace: Text<'a>,
    #[serde(borrow, default)]
    version: Text<'a>,
}

/// The legacy call wrapper's arguments; for any other method these fields
/// are read from its arguments too, and ignored.
#[derive(Deserialize)]
struct LeanWrapperArgs<'a> {
    #[serde(borrow, default)]
    msg_id: Text<'a>,
    #[serde(borrow, default)]
    topic: Text<'a>,
    /// `[ctx, msg]`: the wrapped call, read in the same pass.
    #[serde(borrow, default)]
    msg: Option<WrappedCall<'a>>,
    #[serde(borrow, default)]
    response: Option<&'a RawValue>,
}

/// A legacy `-reply`'s wrapped call, `[ctx, msg]`, with the context skipped.
/// Any other shape is `Unread` (never an error, as any method's arguments
/// may hold a `msg`), and a `-reply` carrying one goes to the general
/// decoder.
enum WrappedCall<'a> {
    Pair(LeanInner<'a>),
    Unread,
}

impl<'de: 'a, 'a> Deserialize<'de> for WrappedCall<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(WrappedCallVisitor(PhantomData))
    }
}

struct WrappedCallVisitor<'a>(PhantomData<WrappedCall<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for WrappedCallVisitor<'a> {
    type Value = WrappedCall<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let context = seq.next_element::<IgnoredAny>()?;
        let message = seq.next_element::<Lean<'a, LeanInner<'a>>>()?;
        let mut more = false;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            more = true;
        }
        Ok(match (context, message, more) {
            (Some(_), Some(Lean::Object(inner)), false) => WrappedCall::Pair(inner),
            _ => WrappedCall::Unread,
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(WrappedCall::Unread)
    }
    fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Self::Value, E> {
        Ok(WrappedCall::Unread)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(WrappedCall::Unread)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(WrappedCall::Unread)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(WrappedCall::Unread)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(WrappedCall::Unread)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(WrappedCall::Unread)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(WrappedCall::Unread)
    }
}

#[derive(Deserialize)]
struct LeanMsg<'a> {
    #[serde(borrow, default)]
    method: Text<'a>,
    #[serde(borrow, default)]
    args: Lean<'a, LeanWrapperArgs<'a>>,
    #[serde(borrow, default)]
    namespace: Text<'a>,
    #[serde(borrow, default)]
    version: Text<'a>,
    #[serde(borrow, default)]
    event_type: Text<'a>,
    #[serde(borrow, default)]
    priority: Text<'a>,
    #[serde(borrow, default)]
    message_id: Text<'a>,
}

impl LeanMsg<'_> {
    fn apply(&self, rpc: &mut Rpc) {
        rpc.method = self.method.text();
        rpc.namespace = self.namespace.text();
        rpc.version = self.version.text();
    }

    fn apply_notification(&self, rpc: &mut Rpc) {
        rpc.kind = Kind::Notify;
        rpc.event_type = self.event_type.text();
        rpc.priority = self.priority.text();
        rpc.payload_message_id = self.message_id.text();
    }
}

/// [`legacy_cast`] without the context and arguments. `None` leaves `rpc`
/// as it was, for the full lane to read.
pub fn lean_legacy_cast(rpc: &mut Rpc, body: &[u8], msg_id_frame: &str) -> Option<()> {
    let (_ctx, msg): (IgnoredAny, LeanMsg) = serde_json::from_slice(body).ok()?;
    match msg.method.text().as_deref() {
        Some("-reply") => {
            let args = msg.args.object()?;
            let inner = match args.msg {
                Some(WrappedCall::Pair(inner)) => Some(inner),
                Some(WrappedCall::Unread) => return None,
                None => None,
            };
            rpc.kind = Kind::Call;
            rpc.msg_id = args.msg_id.text();
            rpc.reply_topic = args.topic.text();
            if let Some(inner) = inner {
                rpc.method = inner.method.text();
                rpc.namespace = inner.namespace.text();
                rpc.version = inner.version.text();
            }
            if rpc.msg_id.is_none() && msg_id_frame != "0" {
                rpc.msg_id = Some(msg_id_frame.to_string());
            }
        }
        Some("-process_reply") => {
            rpc.kind = Kind::Reply;
            let args = msg.args.object();
            rpc.msg_id = args
                .as_ref()
                .and_then(|a| a.msg_id.text())
                .or_else(|| Some(msg_id_frame.to_string()).filter(|id| id != "0"));
            if let Some(response) = args.as_ref().and_then(|a| a.response) {
                rpc.failure = legacy_failure(response);
            }
        }
        Some(_) => msg.apply(rpc),
        None if msg.event_type.is_present() => msg.apply_notification(rpc),
        None => {}
    }
    Some(())
}

/// [`new_body`] without the context and arguments. `None` leaves `rpc` as
/// it was.
pub fn lean_new_body(rpc: &mut Rpc, bytes: &[u8]) -> Option<()> {
    match rpc.kind {
        Kind::Reply => {
            let (_reply, failure): (IgnoredAny, &RawValue) = serde_json::from_slice(bytes).ok()?;
            rpc.failure = (failure.get() != "null")
                .then(|| value(failure))
                .flatten()
                .map(|f| failure_summary(&f));
        }
        Kind::Ack => {
            // Nothing is read from it, but a body that is not an array is
            // undecodable, as in the full lane.
            serde_json::from_slice::<Vec<IgnoredAny>>(bytes).ok()?;
        }
        _ => {
            let (_ctx, msg): (IgnoredAny, LeanMsg) = serde_json::from_slice(bytes).ok()?;
            if msg.method.is_present() {
                msg.apply(rpc);
            } else if msg.event_type.is_present() {
                msg.apply_notification(rpc);
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::envelope::{decode, Options};
    use super::super::redact::Redaction;
    use super::super::Rpc;

    const LEAN: Options = Options {
        redaction: Redaction::On,
        keep_args: false,
        keep_context: false,
    };

    /// What `options` decode of `frames`, less what the lean lane skips (a
    /// body the lean lane leaves to the general decoder gets its context).
    fn less_skipped(frames: &[&[u8]], options: Options) -> Option<Rpc> {
        let frames: Vec<(&[u8], bool)> = frames.iter().map(|f| (*f, true)).collect();
        let mut rpc = decode(&frames, options)?;
        rpc.request_id = None;
        rpc.user = None;
        rpc.project = None;
        rpc.args = None;
        Some(rpc)
    }

    const CTX: &str = r#""{\"request_id\": \"req-1\", \"user_id\": \"u\", \"service_catalog\": [{\"a\": \"\\\"x\\\"\"}]}""#;

    fn legacy(body: &str) -> Vec<Vec<u8>> {
        vec![
            b"0".to_vec(),
            b"compute.node-1".to_vec(),
            b"cast".to_vec(),
            body.as_bytes().to_vec(),
        ]
    }

    fn new_driver(kind: &str, body: &str) -> Vec<Vec<u8>> {
        vec![
            b"".to_vec(),
            b"1.0".to_vec(),
            kind.as_bytes().to_vec(),
            b"6f3e6a6e-0000-11ee-8000-0242ac120002".to_vec(),
            body.as_bytes().to_vec(),
        ]
    }

    #[test]
    fn the_lean_lane_reads_what_the_full_lane_reads() {
        let bodies: Vec<Vec<Vec<u8>>> = vec![
            // A call wrapper, the real method inside, the wrapper's keys in any order.
            legacy(&format!(
                r#"[{CTX}, {{"args": {{"topic": "zmq_replies.ctl", "msg": [{{"user_id": "u"}}, {{"args": {{"x": [1, {{"msg": 2}}]}}, "method": "get_uptime", "namespace": "ns", "version": "1.2"}}], "msg_id": "abc"}}, "method": "-reply"}}]"#
            )),
            // Folsom: the id in frame 0 only.
            vec![
                b"m-9".to_vec(),
                b"compute.node-1".to_vec(),
                b"cast".to_vec(),
                format!(r#"[{CTX}, {{"method": "-reply", "args": {{"msg": [{{}}, {{"method": "m"}}]}}}}]"#)
                    .into_bytes(),
            ],
            // Replies: a result, a remote exception, the id only in the args.
            legacy(&format!(
                r#"[{CTX}, {{"method": "-process_reply", "args": {{"response": [[1, 2], {{"ending": true}}], "msg_id": "x"}}}}]"#
            )),
            legacy(&format!(
                r#"[{CTX}, {{"method": "-process_reply", "args": {{"response": [{{"exc": "{{\"class\": \"Boom\", \"message\": \"no\"}}"}}], "msg_id": "x"}}}}]"#
            )),
            // A cast whose arguments look like a wrapper's, a notification,
            // a method that is not a string, nothing at all.
            legacy(&format!(
                r#"[{CTX}, {{"method": "run", "args": {{"msg": "text", "topic": 3, "response": null, "msg_id": null}}}}]"#
            )),
            legacy(&format!(
                r#"[{CTX}, {{"event_type": "compute.instance.create.end", "priority": "INFO", "message_id": "n-1", "payload": {{"a": 1}}}}]"#
            )),
            legacy(&format!(r#"[{CTX}, {{"method": 5, "event_type": null}}]"#)),
            legacy(&format!(r#"[{CTX}, {{}}]"#)),
            // Shapes the lean lane leaves to the general decoder.
            legacy(&format!(
                r#"[{CTX}, {{"method": "-reply", "args": {{"msg": [1, 2, {{"method": "third"}}]}}}}]"#
            )),
            legacy(&format!(r#"[{CTX}, {{"method": "-reply", "args": {{"msg": [{{}}, "text"]}}}}]"#)),
            legacy(&format!(r#"[{CTX}, {{"method": "-reply", "args": {{"msg": [{{}}, ["m", "ns"]]}}}}]"#)),
            legacy(&format!(r#"[{CTX}, {{"method": "-reply", "args": {{"msg": {{"a": [1]}}}}}}]"#)),
            legacy(&format!(r#"[{CTX}, {{"method": "-reply", "args": {{"msg": [{{}}]}}}}]"#)),
            legacy(&format!(
                r#"[{CTX}, {{"method": "-reply", "args": {{"msg": [{{}}, {{"method": "a", "method": "b"}}]}}}}]"#
            )),
            legacy(&format!(
                r#"[{CTX}, {{"method": "run", "args": {{"msg": [{{}}, {{"method": 1, "method": 2}}]}}}}]"#
            )),
            legacy(&format!(r#"[{CTX}, {{"method": "a", "method": "b"}}]"#)),
            legacy(&format!(r#"[{CTX}, {{"method": "a"}}, "extra"]"#)),
            legacy(r#"[{"request_id": "req-2"}, {"method": "-reply", "args": "none"}]"#),
            // A number beyond f64 (found by fuzzing): the lean lane parses the
            // numbers it skips and fails; the full lane reads it.
            legacy(r#"[0, [2555551, 4933333E33626]]"#),
            legacy(r#"[0, {"method": "m", "args": {"n": 1e999}}]"#),
            new_driver("1", r#"[{}, {"method": "m", "args": [1e999]}]"#),
            // New driver: request, notification, reply with and without failure, ACK.
            new_driver(
                "1",
                r#"[{"request_id": "r", "catalog": ["\"q\""]}, {"method": "ping", "args": {"a": "\\"}, "version": "2.0"}]"#,
            ),
            new_driver(
                "4",
                r#"[{}, {"event_type": "e", "priority": "WARN", "payload": [1], "message_id": "p"}]"#,
            ),
            new_driver("5", r#"[{"ok": true}, null]"#),
            new_driver(
                "5",
                r#"[null, "{\"class\": \"ValueError\", \"message\": \"bad\", \"tb\": []}"]"#,
            ),
            new_driver("5", r#"[1, null, 3]"#),
            new_driver("6", r#"[]"#),
            // An ACK through the proxy whose body is not JSON (found by
            // fuzzing).
            vec![
                b"".to_vec(),
                b"1.0".to_vec(),
                b"q\t".to_vec(),
                b"6".to_vec(),
                b"\xf9".to_vec(),
                b"[\x85\x85\x85~\x83\x85\x83\0\0\0\0".to_vec(),
            ],
            new_driver("2", r#"[{}, {"method": null, "event_type": "x"}]"#),
        ];
        let mut decoded = 0;
        for frames in &bodies {
            let frames: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            let full = less_skipped(&frames, Options::all(Redaction::On));
            decoded += usize::from(full.as_ref().is_some_and(|r| {
                r.method.is_some() || r.event_type.is_some() || r.failure.is_some()
            }));
            assert_eq!(
                less_skipped(&frames, LEAN),
                full,
                "{:?}",
                String::from_utf8_lossy(frames[frames.len() - 1])
            );
        }
        // The cases are not all trivially empty.
        assert!(decoded >= 10, "{decoded}");
    }

    #[test]
    fn the_lean_lane_reads_a_call_wrapper_itself() {
        let body = format!(
            r#"[{CTX}, {{"method": "-reply", "args": {{"msg_id": "abc", "topic": "zmq_replies.ctl", "msg": [{{"user_id": "u"}}, {{"method": "get_uptime", "args": {{"msg": [1]}}, "version": "1.2"}}]}}}}]"#
        );
        let mut rpc = Rpc::new(super::super::Driver::ImplZmq);
        assert_eq!(
            super::lean_legacy_cast(&mut rpc, body.as_bytes(), "0"),
            Some(())
        );
        assert_eq!(rpc.method.as_deref(), Some("get_uptime"));
        assert_eq!(rpc.version.as_deref(), Some("1.2"));
        assert_eq!(rpc.msg_id.as_deref(), Some("abc"));
        assert_eq!(rpc.reply_topic.as_deref(), Some("zmq_replies.ctl"));
        // Not a pair: left to the general decoder.
        let odd = format!(r#"[{CTX}, {{"method": "-reply", "args": {{"msg": [{{}}, "m"]}}}}]"#);
        assert_eq!(
            super::lean_legacy_cast(
                &mut Rpc::new(super::super::Driver::ImplZmq),
                odd.as_bytes(),
                "0"
            ),
            None
        );
    }
}
