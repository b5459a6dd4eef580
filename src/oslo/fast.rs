//! The fast lane for JSON bodies: typed views that borrow raw JSON slices
//! for the few fields the decoder reads and skip everything else without
//! allocating (contexts carry service catalogs, arguments can be large).
//! Arguments are parsed into values only when they will be printed. A body
//! this lane cannot read (duplicate keys, unexpected types) returns `None`
//! and goes through the general `serde_json::Value` decoder instead.

use serde::Deserialize;
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
            rpc.msg_id = Some(msg_id_frame.to_string())
                .filter(|id| id != "0")
                .or_else(|| args.as_ref().and_then(|a| string(a.msg_id)));
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
