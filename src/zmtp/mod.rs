//! ZMTP: ZeroMQ's wire protocol, versions 1.0, 2.0, 3.0 and 3.1, decoded
//! passively from reassembled TCP streams.

mod connection;
mod decoder;
pub mod event;
pub mod resync;
pub mod wire;

pub use connection::{ConnSummary, ZmtpCounters, ZmtpDecoder, ZmtpSink};
pub use decoder::{DecoderLimits, DirCounters};
pub use event::{CommandEvent, Frame, Message, Version, ZmtpEvent, TAIL_LEN};

/// Whether `head` (the first bytes of one direction) opens with the ZMTP
/// 2.0/3.x signature, or libzmq's 1.0-compatible identity header, which is
/// the same ten bytes: `ff`, eight bytes of padding (libzmq writes the
/// identity length + 1 there, so they are not zero in general), then a byte
/// whose bit 0 is set (`7f` from every libzmq since 3.x).
pub fn starts_with_signature(head: &[u8]) -> bool {
    matches!(head, [0xff, _, _, _, _, _, _, _, _, last, ..] if last & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_with_padding_counts() {
        let mut sig = [0u8; 10];
        sig[0] = 0xff;
        sig[8] = 13;
        sig[9] = 0x7f;
        assert!(starts_with_signature(&sig));
        sig[9] = 0x7e;
        assert!(!starts_with_signature(&sig));
        assert!(!starts_with_signature(b"GET / HTTP/1.1\r\n"));
        assert!(!starts_with_signature(&[0xff; 9]));
    }
}
