//! RESP, the redis protocol (RESP2 and RESP3), read in place: one value at
//! a time from the front of a buffer, or "not yet" when the buffer ends
//! inside it. Hand-written rather than taken from `redis-protocol`: that
//! crate recurses without a depth limit (a hostile `*1\r\n*1\r\n…` overflows
//! the stack) and we only read.

/// One RESP value, borrowing the buffer it was read from.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// Simple, bulk and verbatim strings; doubles and big numbers as text.
    Text(&'a [u8]),
    /// `-ERR …` and RESP3 blob errors.
    Error(&'a [u8]),
    Integer(i64),
    Boolean(bool),
    Null,
    /// Arrays, sets and pushes.
    List(Vec<Value<'a>>),
    /// RESP3 maps, as key, value pairs.
    Map(Vec<(Value<'a>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The strings of a list (a set's members), or the one string.
    pub fn texts(&self) -> Vec<&'a [u8]> {
        match self {
            Value::Text(t) => vec![t],
            Value::List(items) => items
                .iter()
                .filter_map(|v| match v {
                    Value::Text(t) => Some(*t),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// What reading the front of a buffer gave.
#[derive(Debug, PartialEq)]
pub enum Read<'a> {
    /// A value and the bytes it took. `push`: a RESP3 out-of-band push,
    /// which answers no command.
    Value {
        value: Value<'a>,
        used: usize,
        push: bool,
    },
    /// The buffer ends inside the value.
    Incomplete,
    /// Not RESP.
    Invalid(&'static str),
}

/// Nesting deeper than this is not something redis sends.
pub const MAX_DEPTH: usize = 16;

/// A header line (type byte, length, CRLF) longer than this is not RESP.
const MAX_HEADER: usize = 32;

/// Read one value from the front of `buf`.
pub fn read_value(buf: &[u8]) -> Read<'_> {
    let mut attributes = 0;
    let mut at = 0;
    loop {
        // RESP3 attributes (`|`) annotate the value after them.
        if buf.get(at) == Some(&b'|') {
            attributes += 1;
            if attributes > MAX_DEPTH {
                return Read::Invalid("too many attributes");
            }
            match value_at(buf, at, 0) {
                Step::Done(_, next) => {
                    at = next;
                    continue;
                }
                Step::Incomplete => return Read::Incomplete,
                Step::Invalid(why) => return Read::Invalid(why),
            }
        }
        let push = buf.get(at) == Some(&b'>');
        return match value_at(buf, at, 0) {
            Step::Done(value, used) => Read::Value { value, used, push },
            Step::Incomplete => Read::Incomplete,
            Step::Invalid(why) => Read::Invalid(why),
        };
    }
}

/// Read one command: a RESP array of strings, or an inline command (a line
/// of words, as `redis-cli` and telnet users send).
pub fn read_command(buf: &[u8]) -> Read<'_> {
    match buf.first() {
        None => Read::Incomplete,
        Some(b'*') => read_value(buf),
        Some(_) => {
            let Some(end) = memchr::memchr(b'\n', buf) else {
                return if buf.len() > 64 << 10 {
                    Read::Invalid("an inline command without an end of line")
                } else {
                    Read::Incomplete
                };
            };
            let line = buf.get(..end).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().any(|b| *b < 0x20 && *b != b'\t') {
                return Read::Invalid("control bytes in an inline command");
            }
            let words = line
                .split(|b| *b == b' ' || *b == b'\t')
                .filter(|w| !w.is_empty())
                .map(Value::Text)
                .collect();
            Read::Value {
                value: Value::List(words),
                used: end + 1,
                push: false,
            }
        }
    }
}

enum Step<'a> {
    Done(Value<'a>, usize),
    Incomplete,
    Invalid(&'static str),
}

/// The line starting at `from` (after the type byte), without its CRLF,
/// and where the next one starts.
fn line_at(buf: &[u8], from: usize, max: usize) -> Result<(&[u8], usize), Step<'static>> {
    let rest = buf.get(from..).unwrap_or_default();
    match memchr::memchr(b'\r', rest) {
        Some(cr) if cr > max => Err(Step::Invalid("a RESP line too long")),
        Some(cr) => match rest.get(cr + 1) {
            Some(b'\n') => Ok((rest.get(..cr).unwrap_or_default(), from + cr + 2)),
            Some(_) => Err(Step::Invalid("CR without LF in a RESP line")),
            None => Err(Step::Incomplete),
        },
        None if rest.len() > max => Err(Step::Invalid("a RESP line too long")),
        None => Err(Step::Incomplete),
    }
}

fn number(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// A length header: -1 is null (RESP2); anything else negative is not RESP.
fn length(text: &[u8]) -> Result<Option<usize>, Step<'static>> {
    match number(text) {
        Some(-1) => Ok(None),
        Some(n) => usize::try_from(n)
            .map(Some)
            .map_err(|_| Step::Invalid("a negative RESP length")),
        None => Err(Step::Invalid("a RESP length that is not a number")),
    }
}

/// An aggregate's element: attributes before it annotate it and are not
/// elements themselves.
fn element_at(buf: &[u8], mut at: usize, depth: usize) -> Step<'_> {
    for _ in 0..=MAX_DEPTH {
        if buf.get(at) != Some(&b'|') {
            return value_at(buf, at, depth);
        }
        match value_at(buf, at, depth) {
            Step::Done(_, next) => at = next,
            other => return other,
        }
    }
    Step::Invalid("too many attributes")
}

fn value_at(buf: &[u8], at: usize, depth: usize) -> Step<'_> {
    if depth > MAX_DEPTH {
        return Step::Invalid("RESP nested too deep");
    }
    let Some(&kind) = buf.get(at) else {
        return Step::Incomplete;
    };
    if !b"+-:_#,($!=*~>%|".contains(&kind) {
        return Step::Invalid("not a RESP type byte");
    }
    let line = match kind {
        // Simple strings and errors may be long (an error's text).
        b'+' | b'-' | b',' | b'(' => line_at(buf, at + 1, 1 << 20),
        _ => line_at(buf, at + 1, MAX_HEADER),
    };
    let (text, next) = match line {
        Ok(line) => line,
        Err(step) => return step,
    };
    match kind {
        b'+' | b',' | b'(' => Step::Done(Value::Text(text), next),
        b'-' => Step::Done(Value::Error(text), next),
        b':' => match number(text) {
            Some(n) => Step::Done(Value::Integer(n), next),
            None => Step::Invalid("a RESP integer that is not a number"),
        },
        b'_' if text.is_empty() => Step::Done(Value::Null, next),
        b'#' => match text {
            b"t" => Step::Done(Value::Boolean(true), next),
            b"f" => Step::Done(Value::Boolean(false), next),
            _ => Step::Invalid("a RESP boolean that is neither t nor f"),
        },
        b'$' | b'!' | b'=' => {
            let len = match length(text) {
                Ok(Some(len)) => len,
                Ok(None) => return Step::Done(Value::Null, next),
                Err(step) => return step,
            };
            let Some(end) = next.checked_add(len) else {
                return Step::Invalid("a RESP length beyond memory");
            };
            let Some(body) = buf.get(next..end) else {
                return Step::Incomplete;
            };
            match buf.get(end..end.saturating_add(2)) {
                Some(b"\r\n") => {}
                Some(_) => return Step::Invalid("a RESP string not followed by CRLF"),
                None => return Step::Incomplete,
            }
            let value = match kind {
                b'!' => Value::Error(body),
                // Verbatim strings start with their format: `txt:`.
                b'=' => Value::Text(body.get(4..).unwrap_or_default()),
                _ => Value::Text(body),
            };
            Step::Done(value, end + 2)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let count = match length(text) {
                Ok(Some(count)) => count,
                Ok(None) => return Step::Done(Value::Null, next),
                Err(step) => return step,
            };
            let pairs = matches!(kind, b'%' | b'|');
            let items = if pairs {
                count.checked_mul(2)
            } else {
                Some(count)
            };
            // Every item takes three bytes at least: a count beyond what the
            // buffer could hold is either incomplete or a lie, and must not
            // size an allocation.
            let Some(items) = items else {
                return Step::Invalid("a RESP count beyond memory");
            };
            let room = buf.len().saturating_sub(next) / 3;
            let mut values = Vec::with_capacity(items.min(room).min(1024));
            let mut at = next;
            for _ in 0..items {
                match element_at(buf, at, depth + 1) {
                    Step::Done(v, after) => {
                        values.push(v);
                        at = after;
                    }
                    other => return other,
                }
            }
            let value = if pairs {
                let mut map = Vec::with_capacity(values.len() / 2);
                let mut it = values.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    map.push((k, v));
                }
                Value::Map(map)
            } else {
                Value::List(values)
            };
            Step::Done(value, at)
        }
        _ => Step::Invalid("not a RESP type byte"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn done(buf: &[u8]) -> (Value<'_>, usize) {
        match read_value(buf) {
            Read::Value { value, used, .. } => (value, used),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_what_oslo_and_redis_py_exchange() {
        let sadd =
            b"*3\r\n$4\r\nSADD\r\n$21\r\nROUTER/compute/node-1\r\n$16\r\n127.0.11.2:50679\r\n";
        let (value, used) = done(sadd);
        assert_eq!(used, sadd.len());
        assert_eq!(
            value.texts(),
            vec![&b"SADD"[..], b"ROUTER/compute/node-1", b"127.0.11.2:50679"]
        );
        assert_eq!(done(b":1\r\n").0, Value::Integer(1));
        assert_eq!(done(b"+PONG\r\n").0, Value::Text(b"PONG"));
        // RESP3 (redis-py 5+ says HELLO 3): sets, maps, nulls.
        let (set, _) = done(b"~1\r\n$16\r\n127.0.14.4:52182\r\n");
        assert_eq!(set.texts(), vec![&b"127.0.14.4:52182"[..]]);
        let (map, _) = done(b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n");
        assert_eq!(
            map,
            Value::Map(vec![
                (Value::Text(b"server"), Value::Text(b"redis")),
                (Value::Text(b"proto"), Value::Integer(3))
            ])
        );
        assert_eq!(done(b"_\r\n").0, Value::Null);
        assert_eq!(done(b"$-1\r\n").0, Value::Null);
        assert_eq!(done(b"*-1\r\n").0, Value::Null);
        assert_eq!(done(b"#t\r\n").0, Value::Boolean(true));
        assert_eq!(done(b"=8\r\ntxt:Some\r\n").0, Value::Text(b"Some"));
        assert_eq!(
            done(b"-ERR unknown subcommand 'SETINFO'\r\n").0,
            Value::Error(b"ERR unknown subcommand 'SETINFO'")
        );
    }

    #[test]
    fn pushes_and_attributes_are_told_apart_from_replies() {
        match read_value(b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n") {
            Read::Value { push, .. } => assert!(push),
            other => panic!("{other:?}"),
        }
        // An attribute is skipped: the value is what follows it.
        let buf = b"|1\r\n+ttl\r\n:3600\r\n:1\r\n";
        assert_eq!(done(buf), (Value::Integer(1), buf.len()));
        // Inside an aggregate too: the list has two elements, not three.
        let buf = b"*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n";
        assert_eq!(
            done(buf),
            (
                Value::List(vec![Value::Integer(1), Value::Integer(2)]),
                buf.len()
            )
        );
    }

    #[test]
    fn inline_commands_are_words() {
        match read_command(b"PING\r\nSMEMBERS x") {
            Read::Value { value, used, .. } => {
                assert_eq!(value.texts(), vec![&b"PING"[..]]);
                assert_eq!(used, 6);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(read_command(b"SMEMBERS x"), Read::Incomplete);
    }

    #[test]
    fn hostile_input_is_refused_not_trusted() {
        let deep = b"*1\r\n".repeat(10_000);
        assert!(matches!(read_value(&deep), Read::Invalid(_)));
        // A count no buffer could hold sizes nothing.
        assert_eq!(
            read_value(b"*9223372036854775807\r\n:1\r\n"),
            Read::Incomplete
        );
        assert_eq!(read_value(b"%9223372036854775807\r\n"), Read::Incomplete);
        assert!(matches!(
            read_value(b"$18446744073709551615\r\n"),
            Read::Invalid(_)
        ));
        assert!(matches!(read_value(b"$-2\r\n"), Read::Invalid(_)));
        assert!(matches!(read_value(b"$3\r\nabcd\r\n"), Read::Invalid(_)));
        assert!(matches!(read_value(b"?\r\n"), Read::Invalid(_)));
        assert!(matches!(read_value(b"$1\rx"), Read::Invalid(_)));
        let long_header = [b"$".as_slice(), &[b'1'; 100]].concat();
        assert!(matches!(read_value(&long_header), Read::Invalid(_)));
    }

    proptest! {
        /// Any prefix of a valid value is incomplete, never a different
        /// value and never invalid; arbitrary bytes never panic.
        #[test]
        fn prefixes_wait_and_noise_never_panics(
            members in proptest::collection::vec("[a-z0-9./:]{0,20}", 0..6),
            noise in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut buf = format!("*{}\r\n", members.len()).into_bytes();
            for m in &members {
                buf.extend_from_slice(format!("${}\r\n{m}\r\n", m.len()).as_bytes());
            }
            for cut in 0..buf.len() {
                prop_assert_eq!(read_value(&buf[..cut]), Read::Incomplete);
            }
            let (value, used) = done(&buf);
            prop_assert_eq!(used, buf.len());
            prop_assert_eq!(value.texts().len(), members.len());
            let _ = read_value(&noise);
            let _ = read_command(&noise);
        }
    }
}
