//! The `/` filter: words that must all match, typed as the user goes.
//!
//! `compute` matches any of topic, method, host and kind; `topic:compute.*`,
//! `method:`, `host:`, `kind:` and `id:` look at one field; `*` and `?` are
//! globs (anchored), anything else a case-insensitive substring; `!word`
//! excludes what matches.

use std::net::SocketAddr;

use super::feed::Row;
use super::state::CallEntry;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Any,
    Topic,
    Method,
    Host,
    Kind,
    Id,
}

const KINDS: [&str; 8] = [
    "call", "cast", "fanout", "notify", "reply", "ack", "message", "curve",
];

#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    field: Field,
    negate: bool,
    /// Lower-cased.
    pattern: String,
    glob: bool,
}

/// A parsed filter; the empty filter matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    terms: Vec<Term>,
}

/// What a filter is checked against.
pub struct Subject<'a> {
    pub topic: &'a str,
    pub method: &'a str,
    pub kind: &'a str,
    pub id: &'a str,
    pub hosts: [Option<SocketAddr>; 2],
}

impl Filter {
    /// The filter, or a sentence saying what is wrong with it.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            let (negate, word) = match word.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, word),
            };
            let (field, value) = match word.split_once(':') {
                // `[::1]:9501` and `10.0.0.1:9501` are hosts, not fields.
                Some((name, value))
                    if name.chars().all(|c| c.is_ascii_alphabetic()) && !name.is_empty() =>
                {
                    let field = match name.to_ascii_lowercase().as_str() {
                        "topic" | "t" => Field::Topic,
                        "method" | "m" => Field::Method,
                        "host" | "h" => Field::Host,
                        "kind" | "k" => Field::Kind,
                        "id" | "msg_id" => Field::Id,
                        other => {
                            return Err(format!(
                                "unknown field '{other}:' (topic, method, host, kind, id)"
                            ))
                        }
                    };
                    (field, value)
                }
                _ => (Field::Any, word),
            };
            if value.is_empty() {
                return Err(format!("'{word}' needs a value after the colon"));
            }
            let pattern = value.to_lowercase();
            if field == Field::Kind
                && !pattern.contains(['*', '?'])
                && !KINDS.contains(&pattern.as_str())
            {
                return Err(format!(
                    "no kind '{value}' (call, cast, fanout, notify, reply, ack, message, curve)"
                ));
            }
            let glob = pattern.contains(['*', '?']);
            terms.push(Term {
                field,
                negate,
                pattern,
                glob,
            });
        }
        Ok(Filter { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, s: &Subject<'_>) -> bool {
        self.terms.iter().all(|t| t.matches(s) != t.negate)
    }

    pub fn matches_row(&self, row: &Row) -> bool {
        self.is_empty()
            || self.matches(&Subject {
                topic: row.topic(),
                method: row.method(),
                kind: row.kind_label(),
                id: row.msg_id().unwrap_or(""),
                hosts: [Some(row.src), Some(row.dst)],
            })
    }

    pub fn matches_call(&self, call: &CallEntry) -> bool {
        self.is_empty()
            || self.matches(&Subject {
                topic: call.topic.as_deref().unwrap_or(""),
                method: call.method.as_deref().unwrap_or(""),
                kind: "call",
                id: &call.msg_id,
                hosts: [Some(call.caller), Some(call.server)],
            })
    }

    pub fn matches_topic(&self, topic: &str, method: &str) -> bool {
        self.is_empty()
            || self.matches(&Subject {
                topic,
                method,
                kind: "",
                id: "",
                hosts: [None, None],
            })
    }
}

impl Term {
    fn matches(&self, s: &Subject<'_>) -> bool {
        let text = |t: &str| self.text_matches(t);
        let host = || {
            s.hosts
                .iter()
                .flatten()
                .any(|h| with_addr_text(h, |t| self.text_matches(t)))
        };
        match self.field {
            Field::Topic => text(s.topic),
            Field::Method => text(s.method),
            Field::Kind => text(s.kind),
            Field::Id => text(s.id),
            Field::Host => host(),
            Field::Any => text(s.topic) || text(s.method) || text(s.kind) || host(),
        }
    }

    /// Runs for every row of the history on each rebuild, so ASCII text
    /// (nearly all of it) is compared in place, without lower-casing a copy.
    fn text_matches(&self, text: &str) -> bool {
        let pattern = self.pattern.as_bytes();
        if !text.is_ascii() {
            let lower = text.to_lowercase();
            return if self.glob {
                glob_match(pattern, lower.as_bytes())
            } else {
                lower.contains(&self.pattern)
            };
        }
        if self.glob {
            crate::glob::glob_match_ignore_ascii_case(pattern, text.as_bytes())
        } else {
            pattern.is_empty()
                || text
                    .as_bytes()
                    .windows(pattern.len())
                    .any(|w| w.eq_ignore_ascii_case(pattern))
        }
    }
}

/// `addr` as text, formatted on the stack (an address is at most 47 bytes).
fn with_addr_text<R>(addr: &SocketAddr, f: impl FnOnce(&str) -> R) -> R {
    use std::io::Write;
    let mut buf = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let len = match write!(cursor, "{addr}") {
        Ok(()) => cursor.position() as usize,
        Err(_) => 0,
    };
    f(std::str::from_utf8(buf.get(..len).unwrap_or_default()).unwrap_or_default())
}

pub use crate::glob::glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(topic: &'a str, method: &'a str, kind: &'a str) -> Subject<'a> {
        Subject {
            topic,
            method,
            kind,
            id: "1eef3aaa",
            hosts: [
                Some("127.0.20.1:39159".parse().unwrap()),
                Some("127.0.20.2:9501".parse().unwrap()),
            ],
        }
    }

    #[test]
    fn words_must_all_match() {
        let s = subject("compute.compute1", "get_host_uptime", "call");
        assert!(Filter::parse("compute uptime").unwrap().matches(&s));
        assert!(!Filter::parse("compute scheduler").unwrap().matches(&s));
        assert!(Filter::parse("").unwrap().matches(&s));
    }

    #[test]
    fn fields_globs_and_negation() {
        let s = subject("compute.compute1", "get_host_uptime", "call");
        assert!(Filter::parse("topic:compute.*").unwrap().matches(&s));
        assert!(!Filter::parse("topic:compute").unwrap().matches(&Subject {
            topic: "scheduler",
            ..subject("", "", "cast")
        }));
        assert!(!Filter::parse("topic:*.compute2").unwrap().matches(&s));
        assert!(Filter::parse("kind:call !method:ping").unwrap().matches(&s));
        assert!(!Filter::parse("!kind:call").unwrap().matches(&s));
        assert!(Filter::parse("host:127.0.20.2:9501").unwrap().matches(&s));
        assert!(Filter::parse("127.0.20.2:9501").unwrap().matches(&s));
        assert!(Filter::parse("id:1eef").unwrap().matches(&s));
        assert!(Filter::parse("TOPIC:COMPUTE").unwrap().matches(&s));
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(Filter::parse("tpoic:x")
            .unwrap_err()
            .contains("unknown field"));
        assert!(Filter::parse("kind:cal").unwrap_err().contains("no kind"));
        assert!(Filter::parse("topic:")
            .unwrap_err()
            .contains("needs a value"));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,64}") {
            let _ = Filter::parse(&text);
        }

        #[test]
        fn star_matches_everything(text in "[a-z.]{0,32}") {
            proptest::prop_assert!(glob_match(b"*", text.as_bytes()));
            let pattern = format!("*{text}*");
            proptest::prop_assert!(glob_match(pattern.as_bytes(), text.as_bytes()));
        }
    }
}
