//! The detail pane's text for one message: what oslo said, its call partner
//! and hops, then every frame with its decoded body (pretty JSON, secrets
//! redacted) and a hex view of the bytes held.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::feed::Row;
use super::render::{bytes_label, duration};
use crate::oslo::redact::{redact, Redaction};
use crate::output::utc_time;
use crate::time::Precision;

/// Hex lines shown per frame, at most; the rest is summarised.
const MAX_HEX_LINES: usize = 64;
/// Pretty JSON lines shown per frame, at most.
const MAX_JSON_LINES: usize = 400;

pub struct DetailInput<'a> {
    pub row: &'a Row,
    pub raw: Option<&'a [u8]>,
    pub partner: Option<&'a Row>,
    pub hops: Vec<&'a Row>,
    pub precision: Precision,
    pub show_secrets: bool,
}

fn key(text: &str) -> Span<'static> {
    Span::styled(
        format!("{text:<12}"),
        Style::default().add_modifier(Modifier::BOLD),
    )
}

fn field(name: &str, value: impl Into<String>) -> Line<'static> {
    Line::from(vec![key(name), Span::raw(value.into())])
}

pub fn lines(input: &DetailInput<'_>) -> Vec<Line<'static>> {
    let row = input.row;
    let mut out = Vec::new();
    out.push(field(
        "message",
        format!(
            "#{}  {}  {} → {}",
            row.seq,
            utc_time(row.ts, input.precision),
            row.src,
            row.dst
        ),
    ));
    out.push(field(
        "zmtp",
        format!(
            "{}  {}{}  {} in {} frame{}{}",
            row.zmtp.label(),
            row.socket_type.as_deref().unwrap_or("socket ?"),
            if row.encrypted { "  CURVE box" } else { "" },
            bytes_label(row.bytes),
            row.frames.len(),
            if row.frames.len() == 1 { "" } else { "s" },
            if row.missing > 0 {
                format!("  ({} missing from the capture)", bytes_label(row.missing))
            } else {
                String::new()
            }
        ),
    ));
    if let Some(rpc) = &row.rpc {
        let mut oslo = format!("{} {}", rpc.driver.label(), rpc.envelope);
        if let Some(s) = rpc.serialization {
            oslo.push_str(&format!(" ({s})"));
        }
        out.push(field("oslo", oslo));
        let opt = |v: Option<&str>| v.unwrap_or("-").to_string();
        out.push(field("kind", rpc.kind.label()));
        out.push(field("topic", opt(rpc.topic.as_deref())));
        if rpc.server.is_some() {
            out.push(field("server", opt(rpc.server.as_deref())));
        }
        out.push(field("method", opt(rpc.method.as_deref())));
        if let Some(e) = &rpc.event_type {
            out.push(field("event_type", e.to_string()));
        }
        out.push(field("msg_id", opt(rpc.msg_id.as_deref())));
        if rpc.reply_topic.is_some() {
            out.push(field("reply_topic", opt(rpc.reply_topic.as_deref())));
        }
        if rpc.request_id.is_some() {
            out.push(field("request_id", opt(rpc.request_id.as_deref())));
        }
        if let Some(f) = &rpc.failure {
            out.push(Line::from(vec![
                key("failure"),
                Span::styled(f.to_string(), Style::default().fg(Color::Red)),
            ]));
        }
        if rpc.forwarded {
            out.push(field("hop", "a copy of a message seen one hop earlier"));
        }
        if rpc.truncated {
            out.push(field(
                "body",
                "longer than zmqtrace keeps; fields after the cut unknown",
            ));
        }
        if rpc.undecodable {
            out.push(field("body", "not valid JSON, msgpack or pickle"));
        }
        match input.partner {
            Some(p) => {
                let gap = if p.ts >= row.ts {
                    format!("{} later", duration(p.ts.nanos_since(row.ts)))
                } else {
                    format!("{} earlier", duration(row.ts.nanos_since(p.ts)))
                };
                out.push(field(
                    "partner",
                    format!(
                        "{} #{} at {}, {gap}  {} → {}   (p jumps there)",
                        p.kind_label(),
                        p.seq,
                        utc_time(p.ts, input.precision),
                        p.src,
                        p.dst
                    ),
                ));
            }
            None if matches!(rpc.kind, crate::oslo::Kind::Call | crate::oslo::Kind::Reply) => {
                out.push(field("partner", "not in the history"));
            }
            None => {}
        }
        if let Some(l) = rpc.latency_ns {
            out.push(field("latency", duration(l)));
        }
    }
    for hop in &input.hops {
        let when = if hop.ts >= row.ts {
            format!("+{}", duration(hop.ts.nanos_since(row.ts)))
        } else {
            format!("-{}", duration(row.ts.nanos_since(hop.ts)))
        };
        out.push(field(
            "seen also",
            format!("#{} {when}  {} → {}", hop.seq, hop.src, hop.dst),
        ));
    }
    out.push(Line::raw(""));
    let mut offset = 0usize;
    for (i, f) in row.frames.iter().enumerate() {
        let mut head = format!(
            "frame {i}: {}{}",
            bytes_label(f.len),
            if f.more { ", more" } else { "" }
        );
        if f.missing > 0 {
            head.push_str(&format!(", {} missing", bytes_label(f.missing)));
        }
        if (f.kept as u64) < f.len {
            head.push_str(&format!(", first {} held", bytes_label(f.kept as u64)));
        }
        out.push(Line::styled(
            head,
            Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ));
        let Some(raw) = input.raw else {
            continue;
        };
        let body = raw.get(offset..offset + f.kept).unwrap_or_default();
        offset += f.kept;
        if let Some(json) = decode_body(body, input.show_secrets) {
            let text = serde_json::to_string_pretty(&json).unwrap_or_default();
            let total = text.lines().count();
            for l in text.lines().take(MAX_JSON_LINES) {
                out.push(Line::raw(format!("  {l}")));
            }
            if total > MAX_JSON_LINES {
                out.push(Line::raw(format!(
                    "  … {} more lines",
                    total - MAX_JSON_LINES
                )));
            }
        } else if !body.is_empty() && body.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            out.push(Line::raw(format!(
                "  \"{}\"",
                String::from_utf8_lossy(body)
            )));
        }
        let total = body.len().div_ceil(16);
        for (n, chunk) in body.chunks(16).take(MAX_HEX_LINES).enumerate() {
            out.push(Line::styled(
                hex_line(n * 16, chunk),
                Style::default().fg(Color::DarkGray),
            ));
        }
        if total > MAX_HEX_LINES {
            out.push(Line::styled(
                format!("  … {} more bytes", body.len() - MAX_HEX_LINES * 16),
                Style::default().fg(Color::DarkGray),
            ));
        }
    }
    if input.raw.is_none() && !row.frames.is_empty() {
        out.push(Line::raw(
            "(the frame bytes of this message are no longer held: the detail budget keeps the newest)",
        ));
    }
    out
}

/// `0010  7b 22 6f 73 ...  {"os...`
fn hex_line(offset: usize, chunk: &[u8]) -> String {
    let mut hex = String::with_capacity(16 * 3);
    for (i, b) in chunk.iter().enumerate() {
        if i == 8 {
            hex.push(' ');
        }
        hex.push_str(&format!("{b:02x} "));
    }
    let ascii: String = chunk
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("  {offset:04x}  {hex:<49} {ascii}")
}

/// A frame body as JSON (JSON text, msgpack, or a pickle of the zmq
/// driver's first generations), with JSON-in-JSON strings (the legacy
/// driver's context) opened up and secrets redacted.
fn decode_body(body: &[u8], show_secrets: bool) -> Option<Value> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    // Before msgpack: a pickle's 0x80 would read as an empty msgpack map.
    let value = if crate::oslo::pickle::looks_like(body) {
        crate::oslo::pickle::to_json(body).ok()?
    } else if matches!(first, b'{' | b'[') {
        serde_json::from_slice::<Value>(body).ok()?
    } else if matches!(first, 0x80..=0x8f | 0x90..=0x9f | 0xdc..=0xdf) {
        // msgpack maps and arrays only: anything else is too likely to
        // be a stray binary id.
        crate::oslo::envelope::msgpack(body)?
    } else {
        return None;
    };
    let value = open_nested(value, 0);
    let redaction = if show_secrets {
        Redaction::Off
    } else {
        Redaction::On
    };
    Some(redact(value, redaction))
}

fn open_nested(value: Value, depth: usize) -> Value {
    if depth > 16 {
        return value;
    }
    match value {
        Value::String(s) if s.starts_with('{') || s.starts_with('[') => {
            match serde_json::from_str::<Value>(&s) {
                Ok(inner @ (Value::Object(_) | Value::Array(_))) => open_nested(inner, depth + 1),
                _ => Value::String(s),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| open_nested(v, depth + 1))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, open_nested(v, depth + 1)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_json_is_opened_and_secrets_redacted() {
        let body =
            br#"{"oslo.message": "{\"_context_auth_token\": \"abc\", \"method\": \"ping\"}"}"#;
        let v = decode_body(body, false).unwrap();
        let inner = &v["oslo.message"];
        assert_eq!(inner["method"], "ping");
        assert_ne!(inner["_context_auth_token"], "abc");
        let shown = decode_body(body, true).unwrap();
        assert_eq!(shown["oslo.message"]["_context_auth_token"], "abc");
    }

    #[test]
    fn msgpack_maps_decode_and_binary_does_not() {
        // {"a": 1}
        assert_eq!(
            decode_body(&[0x81, 0xa1, b'a', 0x01], false).unwrap()["a"],
            1
        );
        assert!(decode_body(&[0x00, 0x01, 0x02], false).is_none());
    }

    #[test]
    fn pickled_bodies_show_their_state_not_an_empty_msgpack_map() {
        let call = include_bytes!("../../tests/fixtures/pickle/call_p2.pickle");
        let v = decode_body(call, false).unwrap();
        assert_eq!(v["message"]["method"], "get_uptime");
        assert_eq!(v["target"]["server"], "node-1");
        assert_ne!(v["context"]["auth_token"], "SECRET");
        assert_eq!(
            decode_body(call, true).unwrap()["context"]["auth_token"],
            "SECRET"
        );
        assert!(decode_body(b"", false).is_none());
    }

    #[test]
    fn hex_lines_are_aligned() {
        let l = hex_line(16, b"0123456789abcdef");
        assert!(l.starts_with("  0010  30 31"));
        assert!(l.ends_with(" 0123456789abcdef"));
        assert_eq!(hex_line(0, b"ab").len(), hex_line(0, b"abcdef").len() - 4);
    }
}
