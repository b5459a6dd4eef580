//! ZMTP on the wire: frame headers and greetings as nom streaming parsers
//! (an `Incomplete` says how many more bytes are needed), and command bodies
//! as complete parsers over a frame body whose length is known. Every inner
//! length is bounded by the frame it sits in; libzmq itself writes frames
//! that break the rules (docs: zmtp-protocol.md §4.5, §4.8).

use nom::bytes::complete as cbytes;
use nom::number::complete as cnum;
use nom::number::streaming::{be_u64, be_u8};
use nom::{IResult, Parser};

/// The framing a direction uses once its greeting is over.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    /// ZMTP/1.0: length (including the flags octet) first, then flags.
    V1,
    /// ZMTP/2.0: flags, then a 1- or 8-byte size; no commands.
    V2,
    /// ZMTP/3.0 and 3.1: as 2.0, plus the COMMAND flag.
    V3,
}

/// A frame header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub more: bool,
    pub long: bool,
    pub command: bool,
    /// The flags octet as sent.
    pub flags: u8,
    pub body_len: u64,
    pub header_len: usize,
}

/// Why bytes cannot be a frame header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Reserved flag bits set (or MORE on a command).
    Flags(u8),
    /// ZMTP/1.0 length 0 (the length includes the flags octet).
    ZeroLength,
    /// A size no stream can carry (2^63 and above).
    Size(u64),
}

/// Result of parsing a header from the front of `input`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HeaderParse {
    Header(FrameHeader),
    /// At least this many more bytes are needed.
    Incomplete(usize),
    Invalid(HeaderError),
}

type E<'a> = nom::error::Error<&'a [u8]>;

fn needed(n: nom::Needed) -> usize {
    match n {
        nom::Needed::Size(n) => n.get(),
        nom::Needed::Unknown => 1,
    }
}

fn flags_and_size(input: &[u8]) -> IResult<&[u8], (u8, u64, bool), E<'_>> {
    let (rest, flags) = be_u8(input)?;
    if flags & 0x02 != 0 {
        let (rest, size) = be_u64(rest)?;
        Ok((rest, (flags, size, true)))
    } else {
        let (rest, size) = be_u8(rest)?;
        Ok((rest, (flags, u64::from(size), false)))
    }
}

/// A ZMTP/2.0 or 3.x frame header.
pub fn frame_header(framing: Framing, input: &[u8]) -> HeaderParse {
    if framing == Framing::V1 {
        return frame_header_v1(input);
    }
    match flags_and_size(input) {
        Ok((rest, (flags, size, long))) => {
            let reserved = if framing == Framing::V3 { 0xf8 } else { 0xfc };
            let command = framing == Framing::V3 && flags & 0x04 != 0;
            if flags & reserved != 0 || (command && flags & 0x01 != 0) {
                return HeaderParse::Invalid(HeaderError::Flags(flags));
            }
            if size >= 1 << 63 {
                return HeaderParse::Invalid(HeaderError::Size(size));
            }
            HeaderParse::Header(FrameHeader {
                more: flags & 0x01 != 0,
                long,
                command,
                flags,
                body_len: size,
                header_len: input.len() - rest.len(),
            })
        }
        Err(nom::Err::Incomplete(n)) => HeaderParse::Incomplete(needed(n)),
        Err(_) => HeaderParse::Incomplete(1),
    }
}

/// A ZMTP/1.0 frame header: `len flags` or `ff u64(len) flags`, where the
/// length counts the flags octet too.
fn frame_header_v1(input: &[u8]) -> HeaderParse {
    let parsed = (|| -> IResult<&[u8], (u64, bool, u8), E<'_>> {
        let (rest, first) = be_u8(input)?;
        let (rest, length, long) = if first == 0xff {
            let (rest, length) = be_u64(rest)?;
            (rest, length, true)
        } else {
            (rest, u64::from(first), false)
        };
        let (rest, flags) = be_u8(rest)?;
        Ok((rest, (length, long, flags)))
    })();
    match parsed {
        Ok((rest, (length, long, flags))) => {
            if length == 0 {
                return HeaderParse::Invalid(HeaderError::ZeroLength);
            }
            if length >= 1 << 63 {
                return HeaderParse::Invalid(HeaderError::Size(length));
            }
            HeaderParse::Header(FrameHeader {
                more: flags & 0x01 != 0,
                long,
                command: false,
                flags,
                body_len: length - 1,
                header_len: input.len() - rest.len(),
            })
        }
        Err(nom::Err::Incomplete(n)) => HeaderParse::Incomplete(needed(n)),
        Err(_) => HeaderParse::Incomplete(1),
    }
}

/// The security mechanism named in a 3.x greeting.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Null,
    Plain,
    Curve,
    Gssapi,
    Other,
}

impl Mechanism {
    pub fn from_field(field: &[u8]) -> Mechanism {
        let name = field.split(|&b| b == 0).next().unwrap_or_default();
        match name {
            b"NULL" => Mechanism::Null,
            b"PLAIN" => Mechanism::Plain,
            b"CURVE" => Mechanism::Curve,
            b"GSSAPI" => Mechanism::Gssapi,
            _ => Mechanism::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Null => "NULL",
            Mechanism::Plain => "PLAIN",
            Mechanism::Curve => "CURVE",
            Mechanism::Gssapi => "GSSAPI",
            Mechanism::Other => "OTHER",
        }
    }
}

/// A 64-byte ZMTP/3.x greeting.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Greeting64 {
    pub padding: u64,
    pub major: u8,
    pub minor: u8,
    pub mechanism: Mechanism,
    pub as_server: bool,
}

/// Parse a 64-byte greeting (the caller has checked the signature bytes).
pub fn greeting64(input: &[u8]) -> Option<Greeting64> {
    let bytes: &[u8; 64] = input.get(..64)?.try_into().ok()?;
    Some(Greeting64 {
        padding: u64::from_be_bytes(bytes[1..9].try_into().ok()?),
        major: bytes[10],
        minor: bytes[11],
        mechanism: Mechanism::from_field(&bytes[12..32]),
        as_server: bytes[32] == 1,
    })
}

/// Socket type names by their ZMTP/2.0 number.
pub fn socket_type_name(number: u8) -> Option<&'static str> {
    const NAMES: [&str; 11] = [
        "PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB",
    ];
    NAMES.get(usize::from(number)).copied()
}

/// A decoded command body (everything after the flags and size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    pub name: &'a [u8],
    pub data: &'a [u8],
    /// Set when the body breaks the grammar (the name length overruns the
    /// body, as in libzmq's PLAIN ERROR).
    pub malformed: Option<String>,
}

/// Split a command body into name and data, never trusting the name length
/// beyond the body.
pub fn command(body: &[u8]) -> Command<'_> {
    let Some((&name_len, rest)) = body.split_first() else {
        return Command {
            name: b"",
            data: b"",
            malformed: Some("empty command frame".into()),
        };
    };
    let name_len = usize::from(name_len);
    if name_len == 0 || name_len > rest.len() {
        // libzmq >= 4.3.0 PLAIN servers write "\x05ERROR" as the C literal
        // "\x05E" "RROR": 0x5e "RROR" (zmtp-protocol.md §4.8).
        if body.starts_with(b"\x5eRROR") {
            return Command {
                name: b"ERROR",
                data: body.get(5..).unwrap_or_default(),
                malformed: Some(format!(
                    "name length {name_len} exceeds the {}-byte body (libzmq PLAIN ERROR bug: \"^RROR\")",
                    body.len()
                )),
            };
        }
        let name_end = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        return Command {
            name: rest.get(..name_end).unwrap_or_default(),
            data: rest.get(name_end..).unwrap_or_default(),
            malformed: Some(format!(
                "name length {name_len} does not fit the {}-byte body",
                body.len()
            )),
        };
    }
    let (name, data) = rest.split_at(name_len);
    Command {
        name,
        data,
        malformed: None,
    }
}

/// A metadata property: name and value.
pub type Property<'a> = (&'a [u8], &'a [u8]);

/// Metadata properties (READY, INITIATE): `name-len name value-len(u32)
/// value`, repeated. What parses is returned; a remainder that does not is
/// reported by its length.
pub fn properties(mut data: &[u8]) -> (Vec<Property<'_>>, usize) {
    let mut props = Vec::new();
    let one = |i| -> IResult<&[u8], (&[u8], &[u8]), E<'_>> {
        let (i, name_len) = cnum::be_u8(i)?;
        let (i, name) = cbytes::take(name_len).parse(i)?;
        let (i, value_len) = cnum::be_u32(i)?;
        let (i, value) = cbytes::take(value_len).parse(i)?;
        Ok((i, (name, value)))
    };
    while !data.is_empty() {
        match one(data) {
            Ok((rest, prop)) => {
                props.push(prop);
                data = rest;
            }
            Err(_) => break,
        }
    }
    (props, data.len())
}

/// A length-prefixed (1 byte) string at the front of `data`.
pub fn short_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = data.split_first()?;
    let len = usize::from(len);
    (len <= rest.len()).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_headers() {
        assert_eq!(
            frame_header(Framing::V3, &[0x04, 0x19, 0]),
            HeaderParse::Header(FrameHeader {
                more: false,
                long: false,
                command: true,
                flags: 4,
                body_len: 25,
                header_len: 2
            })
        );
        assert_eq!(
            frame_header(Framing::V3, &[0x02, 0, 0]),
            HeaderParse::Incomplete(6)
        );
        assert_eq!(
            frame_header(Framing::V3, &[0x03]),
            HeaderParse::Incomplete(8)
        );
        assert_eq!(
            frame_header(Framing::V3, &[0x01]),
            HeaderParse::Incomplete(1)
        );
        assert_eq!(
            frame_header(Framing::V3, &[0x05, 1]),
            HeaderParse::Invalid(HeaderError::Flags(5))
        );
        assert_eq!(
            frame_header(Framing::V3, &[0x08, 1]),
            HeaderParse::Invalid(HeaderError::Flags(8))
        );
        assert_eq!(
            frame_header(Framing::V2, &[0x04, 1]),
            HeaderParse::Invalid(HeaderError::Flags(4))
        );
        let mut huge = vec![0x02];
        huge.extend_from_slice(&(1u64 << 62).to_be_bytes());
        assert!(
            matches!(frame_header(Framing::V3, &huge), HeaderParse::Header(h) if h.body_len == 1 << 62)
        );
        huge[1] = 0x80;
        assert!(matches!(
            frame_header(Framing::V3, &huge),
            HeaderParse::Invalid(HeaderError::Size(_))
        ));
    }

    #[test]
    fn v1_headers_count_the_flags_octet() {
        assert!(
            matches!(frame_header(Framing::V1, &[0x01, 0x00]), HeaderParse::Header(h) if h.body_len == 0)
        );
        assert!(
            matches!(frame_header(Framing::V1, &[0xfe, 0x01]), HeaderParse::Header(h) if h.body_len == 253 && h.more)
        );
        let sig = [0xff, 0, 0, 0, 0, 0, 0, 0, 7, 0x7f];
        assert!(
            matches!(frame_header(Framing::V1, &sig), HeaderParse::Header(h) if h.body_len == 6 && h.long && h.header_len == 10)
        );
        assert_eq!(
            frame_header(Framing::V1, &[0x00, 0x00]),
            HeaderParse::Invalid(HeaderError::ZeroLength)
        );
        assert_eq!(
            frame_header(Framing::V1, &[0xff, 0]),
            HeaderParse::Incomplete(7)
        );
    }

    #[test]
    fn commands_never_trust_inner_lengths() {
        let ready = b"\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00";
        let c = command(ready);
        assert_eq!(c.name, b"READY");
        let (props, rest) = properties(c.data);
        assert_eq!(
            props,
            vec![
                (&b"Socket-Type"[..], &b"DEALER"[..]),
                (&b"Identity"[..], &b""[..])
            ]
        );
        assert_eq!(rest, 0);
        let bad = command(b"\x5eRROR\x03400");
        assert_eq!(bad.name, b"ERROR");
        assert_eq!(short_string(bad.data), Some((&b"400"[..], &b""[..])));
        assert!(bad.malformed.is_some());
        assert!(command(b"").malformed.is_some());
        let (props, rest) = properties(b"\x04Name\x00\x00\x10\x00xx");
        assert!(props.is_empty());
        assert_eq!(rest, 11);
    }

    #[test]
    fn greetings() {
        let mut g = [0u8; 64];
        g[0] = 0xff;
        g[8] = 13;
        g[9] = 0x7f;
        g[10] = 3;
        g[11] = 1;
        g[12..17].copy_from_slice(b"CURVE");
        let parsed = greeting64(&g).unwrap();
        assert_eq!((parsed.padding, parsed.major, parsed.minor), (13, 3, 1));
        assert_eq!(parsed.mechanism, Mechanism::Curve);
        assert!(greeting64(&g[..63]).is_none());
    }
}
