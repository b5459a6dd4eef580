//! Output formats shared by every report: JSON Lines objects built without
//! allocation per field, and human-readable times for tables.

use std::fmt::Write as _;

use crate::time::{Precision, Timestamp};

/// Builds one JSON object as text, fields in insertion order.
pub struct JsonObject {
    buf: String,
    first: bool,
}

impl Default for JsonObject {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonObject {
    pub fn new() -> Self {
        Self::reusing(String::new())
    }

    /// Build into `buf` (cleared), reusing its allocation.
    pub fn reusing(mut buf: String) -> Self {
        buf.clear();
        buf.push('{');
        JsonObject { buf, first: true }
    }

    /// Fields already written as JSON (`"a":1,"b":"x"`), e.g. cached ones.
    pub fn fields(&mut self, json_fields: &str) -> &mut Self {
        if json_fields.is_empty() {
            return self;
        }
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        self.buf.push_str(json_fields);
        self
    }

    /// Write a value in place: `write` gets the buffer after `"key":`.
    pub fn with(&mut self, key: &str, write: impl FnOnce(&mut String)) -> &mut Self {
        self.key(key);
        write(&mut self.buf);
        self
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        push_json_string(&mut self.buf, key);
        self.buf.push(':');
    }

    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_json_string(&mut self.buf, value);
        self
    }

    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        let _ = write!(self.buf, "{value}");
        self
    }

    pub fn f64(&mut self, key: &str, value: f64, decimals: usize) -> &mut Self {
        self.key(key);
        if value.is_finite() {
            let _ = write!(self.buf, "{value:.decimals$}");
        } else {
            self.buf.push_str("null");
        }
        self
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.buf.push_str(if value { "true" } else { "false" });
        self
    }

    pub fn ts(&mut self, key: &str, value: Timestamp, precision: Precision) -> &mut Self {
        self.key(key);
        let _ = write!(self.buf, "{}", value.display(precision));
        self
    }

    /// A value that is already JSON text.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.buf.push_str(json);
        self
    }

    pub fn object(&mut self, key: &str, value: JsonObject) -> &mut Self {
        self.key(key);
        self.buf.push_str(&value.finish());
        self
    }

    pub fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// Append `s` as a JSON string literal.
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `2026-11-26 07:19:01.123456` in UTC, for tables.
pub fn utc_datetime(ts: Timestamp, precision: Precision) -> String {
    let nanos = ts.as_nanos();
    let secs = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    match precision {
        Precision::Micro => format!(
            "{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}.{:06}",
            frac / 1000
        ),
        Precision::Nano => format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}.{frac:09}"),
    }
}

/// `07:19:01.123456` (UTC time of day), for event tables.
pub fn utc_time(ts: Timestamp, precision: Precision) -> String {
    let full = utc_datetime(ts, precision);
    full.get(11..).unwrap_or(&full).to_string()
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Bytes in a short human form: `950 B`, `12.3 KiB`, `1.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_and_orders_fields() {
        let mut o = JsonObject::new();
        o.str("event", "flow")
            .u64("n", 3)
            .bool("ok", true)
            .str("s", "a\"b\\c\n\u{1}");
        assert_eq!(
            o.finish(),
            r#"{"event":"flow","n":3,"ok":true,"s":"a\"b\\c\n\u0001"}"#
        );
    }

    #[test]
    fn utc_dates() {
        let ts = Timestamp::from_secs_micros(1_764_141_541, 123_456);
        assert_eq!(
            utc_datetime(ts, Precision::Micro),
            "2025-11-26 07:19:01.123456"
        );
        assert_eq!(
            utc_datetime(Timestamp::ZERO, Precision::Micro),
            "1970-01-01 00:00:00.000000"
        );
        let leap = Timestamp::from_secs_micros(951_782_400, 0); // 2000-02-29
        assert_eq!(&utc_datetime(leap, Precision::Micro)[..10], "2000-02-29");
    }

    #[test]
    fn bytes_read_well() {
        assert_eq!(human_bytes(950), "950 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }
}
