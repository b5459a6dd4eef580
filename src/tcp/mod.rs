//! TCP reassembly: per connection and direction, the exact byte stream the
//! sender wrote, as events — open, data at a stream offset, a gap of exact
//! size, close. Decoders above consume [`StreamEvent`]s and never see packets.

mod direction;
mod table;

pub use direction::DirStats;
pub use table::{Reassembler, TcpConfig, TcpCounters};

use std::fmt;
use std::net::SocketAddr;

use crate::time::Timestamp;

/// Which way bytes travel: from the TCP initiator (client) or to it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }

    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c2s",
            Direction::ServerToClient => "s2c",
        }
    }
}

/// Why a connection's streams ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Both sides sent FIN.
    Fin,
    Reset,
    /// No packet for longer than the idle timeout (capture time).
    Idle,
    /// A new SYN reused the 4-tuple before this connection was seen to end.
    Reused,
    /// Pushed out of a full connection table.
    Evicted,
    EndOfInput,
}

impl CloseReason {
    pub fn label(self) -> &'static str {
        match self {
            CloseReason::Fin => "fin",
            CloseReason::Reset => "reset",
            CloseReason::Idle => "idle",
            CloseReason::Reused => "reused",
            CloseReason::Evicted => "evicted",
            CloseReason::EndOfInput => "open",
        }
    }
}

/// What the reassembler tells the layers above.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// A new connection (its first packet).
    Open { ts: Timestamp },
    /// Bytes of one direction, in order, starting at `offset` of that stream
    /// (offset 0 is the first byte after the SYN, or the first byte seen).
    Data {
        dir: Direction,
        offset: u64,
        ts: Timestamp,
        bytes: &'a [u8],
    },
    /// `len` bytes at `offset` were sent but are not in the capture.
    Gap {
        dir: Direction,
        offset: u64,
        len: u64,
        ts: Timestamp,
    },
    /// No more bytes will follow in either direction.
    Close { ts: Timestamp, reason: CloseReason },
}

/// A consumer of reassembled streams (a protocol decoder, a report).
pub trait StreamConsumer {
    fn event(&mut self, conn: &Connection, event: StreamEvent<'_>);

    /// The connection leaves the table; its counters are final. Called after
    /// `Close`, possibly later, since late ACKs still count to it.
    fn retired(&mut self, _conn: &Connection) {}
}

/// The Zeek-style history of a connection: each letter the first time it
/// happens, upper case from the client, lower case from the server.
/// S syn, H syn-ack, A pure ack, D data, F fin, R rst, G gap, T retransmitted
/// data, ^ the first packet seen travelled from server to client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    letters: String,
    /// One bit per letter already recorded: [client, server].
    seen: [u32; 2],
}

impl History {
    pub fn record(&mut self, dir: Direction, letter: char) {
        let letter = match dir {
            Direction::ClientToServer => letter.to_ascii_uppercase(),
            Direction::ServerToClient => letter.to_ascii_lowercase(),
        };
        let Some(bit) = (letter.to_ascii_lowercase() as u32)
            .checked_sub('a' as u32)
            .filter(|&b| b < 26)
        else {
            return;
        };
        let seen = &mut self.seen[dir.index()];
        if *seen & (1 << bit) == 0 {
            *seen |= 1 << bit;
            self.letters.push(letter);
        }
    }

    pub fn flip_marker(&mut self) {
        if !self.letters.contains('^') {
            self.letters.push('^');
        }
    }

    pub fn as_str(&self) -> &str {
        &self.letters
    }
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.letters)
    }
}

/// A TCP connection as the reassembler knows it; consumers read it.
#[derive(Debug)]
pub struct Connection {
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// No SYN was seen: the capture started inside the connection.
    pub midstream: bool,
    /// The first packet seen was the server's (SYN-ACK before any SYN).
    pub flipped: bool,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub history: History,
    /// Set once the streams have ended.
    pub closed: Option<CloseReason>,
    pub(crate) dirs: [direction::DirState; 2],
}

impl Connection {
    pub fn stats(&self, dir: Direction) -> &DirStats {
        &self.dirs[dir.index()].stats
    }

    /// `src` and `dst` of a direction.
    pub fn endpoints(&self, dir: Direction) -> (SocketAddr, SocketAddr) {
        match dir {
            Direction::ClientToServer => (self.client, self.server),
            Direction::ServerToClient => (self.server, self.client),
        }
    }

    /// `client>server`, the contract's connection label.
    pub fn label(&self) -> String {
        connection_label(self.client, self.server)
    }
}

/// `client>server`, for a connection known only by its ends.
pub fn connection_label(client: SocketAddr, server: SocketAddr) -> String {
    let mut label = String::with_capacity(2 * "255.255.255.255:65535".len() + 1);
    push_socket_addr(&mut label, client);
    label.push('>');
    push_socket_addr(&mut label, server);
    label
}

/// `addr` as its `Display` writes it.
pub fn socket_addr_string(addr: SocketAddr) -> String {
    let mut text = String::with_capacity("255.255.255.255:65535".len());
    push_socket_addr(&mut text, addr);
    text
}

/// Appends `addr` as its `Display` writes it. IPv4 skips the formatting
/// machinery: at ~1,700 instructions an address through `Display`, labels
/// and endpoint names were 5 % of a `stats` run's instructions.
pub fn push_socket_addr(out: &mut String, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            let [a, b, c, d] = v4.ip().octets();
            for (n, octet) in [a, b, c, d].into_iter().enumerate() {
                if n > 0 {
                    out.push('.');
                }
                out.push_str(digits.format(octet));
            }
            out.push(':');
            out.push_str(digits.format(v4.port()));
        }
        SocketAddr::V6(_) => {
            use std::fmt::Write;
            // Writing to a String cannot fail.
            let _ = write!(out, "{addr}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn addresses_are_written_as_display_writes_them(
            v4 in proptest::prelude::any::<std::net::SocketAddrV4>(),
            v6 in proptest::prelude::any::<std::net::SocketAddrV6>(),
        ) {
            for addr in [SocketAddr::V4(v4), SocketAddr::V6(v6)] {
                proptest::prop_assert_eq!(socket_addr_string(addr), addr.to_string());
            }
            let (a, b) = (SocketAddr::V4(v4), SocketAddr::V6(v6));
            proptest::prop_assert_eq!(connection_label(a, b), format!("{a}>{b}"));
        }
    }

    #[test]
    fn history_keeps_first_occurrence_per_case() {
        let mut h = History::default();
        for (dir, l) in [
            (Direction::ClientToServer, 's'),
            (Direction::ServerToClient, 'h'),
            (Direction::ClientToServer, 'a'),
            (Direction::ClientToServer, 'd'),
            (Direction::ServerToClient, 'd'),
            (Direction::ClientToServer, 'd'),
            (Direction::ServerToClient, 'a'),
            (Direction::ClientToServer, 'f'),
            (Direction::ServerToClient, 'f'),
            (Direction::ServerToClient, 'a'),
        ] {
            h.record(dir, l);
        }
        assert_eq!(h.as_str(), "ShADdaFf");
    }
}

#[cfg(test)]
mod reassembly_tests;
