//! Finding frame boundaries again after the framing was lost (a gap that
//! took a header, or a capture that began mid-connection), by scoring
//! candidate offsets: a chain of consecutive valid frame headers, reserved
//! bits clear, plausible sizes, command names that are names, with credit
//! for non-empty frames only (zero runs parse as endless empty frames) and
//! for boundaries that fall on TCP segment starts (libzmq writes whole
//! batches, so segments usually start at frames). See zmtp-protocol.md §8.
//!
//! Memory is bounded by the window; each candidate offset is rejected once
//! and never examined again, and bytes leave the window's front without
//! moving the rest each time, so the search is linear in the bytes seen.

use std::collections::VecDeque;

use super::wire::{self, Framing, HeaderParse};

/// Bytes kept while searching.
pub const WINDOW: usize = 64 << 10;
/// Frame sizes above this are not believed while searching.
const MAX_PLAUSIBLE: u64 = 1 << 32;
/// Frames walked from one candidate at most.
const MAX_CHAIN: usize = 64;

/// How sure a lock must be.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Strictness {
    /// A flow on an rpc port, or one already known to be ZMTP.
    Normal,
    /// A mid-stream flow on another port: ZMTP only if the evidence is strong.
    Strict,
}

impl Strictness {
    fn required(self) -> (u32, u32) {
        // (score, segment-boundary confirmations) that lock; a score of
        // twice the first locks without confirmations.
        match self {
            Strictness::Normal => (4, 1),
            Strictness::Strict => (8, 2),
        }
    }
}

#[derive(Debug, Default)]
pub struct Resync {
    /// The window is `buffer[front..]`: bytes dropped from its front are
    /// skipped, and removed only once they are half the buffer.
    buffer: Vec<u8>,
    front: usize,
    /// Stream offsets where a data event (a TCP segment) began, in order.
    segment_starts: VecDeque<u64>,
    /// Candidates below this offset are rejected for good.
    scanned: usize,
    /// Bytes dropped from the front of the window so far.
    discarded: u64,
    /// Stream offset of the window's first byte.
    base: u64,
    /// `window[0]` is the first byte after a hole (or of a capture that began
    /// mid-connection) and the start of a TCP segment.
    clean_start: bool,
}

/// A lock: frames start at `offset` of the window, in `framing`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SyncFound {
    pub offset: usize,
    pub framing: Framing,
}

enum Verdict {
    Accept,
    Reject,
    NeedMore,
}

impl Resync {
    /// Start searching at stream offset `offset`, with `pending` bytes
    /// from there already in hand.
    pub fn start(&mut self, offset: u64, pending: &[u8]) {
        self.buffer.clear();
        self.front = 0;
        self.segment_starts.clear();
        self.scanned = 0;
        self.discarded = 0;
        self.base = offset;
        self.clean_start = false;
        self.push(offset, pending);
    }

    /// Start searching at the first byte after a hole or at the start of a
    /// capture that began mid-connection: the next data begins a segment.
    pub fn start_after_hole(&mut self, offset: u64) {
        self.start(offset, &[]);
        self.clean_start = true;
    }

    /// Whether a lock at `offset` is the first byte after the hole and the
    /// start of a segment. libzmq writes whole messages into its batches,
    /// so such a lock starts a message, not the middle of one.
    pub fn at_clean_start(&self, offset: usize) -> bool {
        offset == 0 && self.clean_start && self.discarded == 0
    }

    /// Bytes at stream offset `offset` (contiguous with the window, or the
    /// first bytes of an empty one).
    pub fn push(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.window().is_empty() {
            self.buffer.clear();
            self.front = 0;
            self.base = offset;
        }
        let at = self.base + self.window().len() as u64;
        self.segment_starts.push_back(at);
        self.buffer.extend_from_slice(data);
    }

    /// Bytes given up so far (dropped from the window).
    pub fn discarded(&self) -> u64 {
        self.discarded
    }

    pub fn window(&self) -> &[u8] {
        self.buffer.get(self.front..).unwrap_or_default()
    }

    /// Look for a lock in the window. `framings` are the grammars to try at
    /// each offset, most likely first.
    pub fn search(&mut self, framings: &[Framing], strictness: Strictness) -> Option<SyncFound> {
        loop {
            let mut pending = false;
            while self.scanned < self.window().len() {
                let offset = self.scanned;
                let mut rejected_all = true;
                for &framing in framings {
                    match self.chain(offset, framing, strictness) {
                        Verdict::Accept => return Some(SyncFound { offset, framing }),
                        Verdict::Reject => {}
                        Verdict::NeedMore => rejected_all = false,
                    }
                }
                if !rejected_all {
                    pending = true;
                    break;
                }
                self.scanned += 1;
            }
            if self.window().len() < WINDOW {
                return None;
            }
            // The window is full: give up what cannot lock any more. A
            // candidate still waiting at the front cannot be proven within
            // the window either.
            let drop = if pending && self.scanned == 0 {
                1
            } else {
                self.scanned.max(1)
            };
            self.drop_front(drop);
        }
    }

    fn drop_front(&mut self, n: usize) {
        let n = n.min(self.window().len());
        self.front += n;
        self.discarded += n as u64;
        self.base += n as u64;
        self.scanned = self.scanned.saturating_sub(n);
        while self.segment_starts.front().is_some_and(|&s| s < self.base) {
            self.segment_starts.pop_front();
        }
        // Each byte is moved at most once per halving: linear overall.
        if self.front > self.buffer.len() / 2 {
            self.buffer.drain(..self.front);
            self.front = 0;
        }
    }

    /// Take the bytes from a lock onwards and clear the window; returns the
    /// bytes, how many were skipped in all before the lock, and the stream
    /// offset of the lock.
    pub fn take_from(&mut self, offset: usize) -> (Vec<u8>, u64, u64) {
        let offset = offset.min(self.window().len());
        let rest = self.buffer.split_off(self.front + offset);
        let skipped = self.discarded + offset as u64;
        let at = self.base + offset as u64;
        self.buffer.clear();
        self.front = 0;
        self.segment_starts.clear();
        self.scanned = 0;
        self.discarded = 0;
        (rest, skipped, at)
    }

    /// Everything given up (a hole, or the end of the stream, without a lock).
    pub fn abandon(&mut self) -> u64 {
        let skipped = self.discarded + self.window().len() as u64;
        self.start(0, &[]);
        skipped
    }

    fn is_segment_start(&self, offset: usize) -> bool {
        self.segment_starts
            .binary_search(&(self.base + offset as u64))
            .is_ok()
    }

    fn chain(&self, start: usize, framing: Framing, strictness: Strictness) -> Verdict {
        let (needed, confirmations) = strictness.required();
        let window = self.window();
        // Cheap first look: the first byte must be able to start a frame.
        match (framing, window.get(start)) {
            (Framing::V1, Some(0)) => return Verdict::Reject,
            (Framing::V2 | Framing::V3, Some(&b)) if !matches!(b, 0..=4 | 6) => {
                return Verdict::Reject
            }
            (_, None) => return Verdict::NeedMore,
            _ => {}
        }
        let mut pos = start;
        let mut score = 0u32;
        let mut hits = u32::from(self.is_segment_start(start) && start > 0);
        // Right after a hole, on a segment start: frames that close a
        // message exactly where the next segment begins are evidence too
        // (libzmq writes whole messages; a snapshot length can leave too few
        // bytes per segment for a longer chain).
        let tiling = start == 0 && self.clean_start && self.discarded == 0;
        for _ in 0..MAX_CHAIN {
            if score >= needed && (hits >= confirmations || score >= needed * 2) {
                return Verdict::Accept;
            }
            let rest = window.get(pos..).unwrap_or_default();
            let header = match wire::frame_header(framing, rest) {
                HeaderParse::Header(h) => h,
                HeaderParse::Incomplete(_) => return Verdict::NeedMore,
                HeaderParse::Invalid(_) => return Verdict::Reject,
            };
            if header.body_len > MAX_PLAUSIBLE {
                return Verdict::Reject;
            }
            // libzmq never uses the long form for small frames.
            let short_limit = if framing == Framing::V1 { 253 } else { 255 };
            if header.long && header.body_len <= short_limit {
                return Verdict::Reject;
            }
            if framing == Framing::V1 && header.flags > 1 {
                return Verdict::Reject;
            }
            let body_start = pos + header.header_len;
            let Ok(body_len) = usize::try_from(header.body_len) else {
                return Verdict::Reject;
            };
            let end = body_start.saturating_add(body_len);
            if header.command {
                let Some(body) = window.get(body_start..end) else {
                    return if end - start > WINDOW {
                        Verdict::Reject
                    } else {
                        Verdict::NeedMore
                    };
                };
                match command_credit(body) {
                    Some(credit) => score += credit,
                    None => return Verdict::Reject,
                }
            } else if body_len > 0 {
                score += 1;
            }
            if end > window.len() {
                if score >= needed && (hits >= confirmations || score >= needed * 2) {
                    return Verdict::Accept;
                }
                return if end - start > WINDOW {
                    Verdict::Reject
                } else {
                    Verdict::NeedMore
                };
            }
            pos = end;
            if self.is_segment_start(pos) {
                hits += 1;
                if tiling && !header.more && score >= 1 {
                    return Verdict::Accept;
                }
            }
        }
        if score >= needed {
            Verdict::Accept
        } else {
            Verdict::Reject
        }
    }
}

/// Credit for a command frame seen while searching: known commands are
/// strong evidence, unknown but well-formed names weak; anything else is not
/// a command.
fn command_credit(body: &[u8]) -> Option<u32> {
    let (&name_len, rest) = body.split_first()?;
    let name = rest.get(..usize::from(name_len))?;
    if name.is_empty() || !name.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let data_len = rest.len() - name.len();
    let plausible = match name {
        b"PING" => (2..=18).contains(&data_len),
        b"PONG" => data_len <= 16,
        b"READY" | b"SUBSCRIBE" | b"CANCEL" | b"ERROR" | b"HELLO" | b"WELCOME" | b"INITIATE" => {
            true
        }
        _ => return Some(1),
    };
    plausible.then_some(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8], more: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if body.len() > 255 {
            out.push(0x02 | u8::from(more));
            out.extend_from_slice(&(body.len() as u64).to_be_bytes());
        } else {
            out.push(u8::from(more));
            out.push(body.len() as u8);
        }
        out.extend_from_slice(body);
        out
    }

    fn messages(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let mut m = frame(b"", true);
                m.extend(frame(
                    format!("{{\"method\": \"call_{i}\", \"args\": {{}}}}").as_bytes(),
                    false,
                ));
                m
            })
            .collect()
    }

    #[test]
    fn locks_on_a_segment_start_after_a_cut_frame() {
        let mut r = Resync::default();
        let msgs = messages(12);
        // The first segment starts in the middle of a frame.
        r.start(0, &msgs[0][5..]);
        for m in &msgs[1..] {
            r.push(0, m);
        }
        let found = r.search(&[Framing::V3], Strictness::Normal).expect("lock");
        assert_eq!(found.offset, msgs[0].len() - 5);
    }

    #[test]
    fn zero_runs_and_text_do_not_lock() {
        let mut r = Resync::default();
        r.start(0, &[0u8; 20_000]);
        assert_eq!(
            r.search(&[Framing::V3, Framing::V1], Strictness::Normal),
            None
        );
        let mut r = Resync::default();
        r.start(0, b"GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n");
        assert_eq!(
            r.search(&[Framing::V3, Framing::V1], Strictness::Normal),
            None
        );
    }

    #[test]
    fn random_bytes_do_not_lock_and_memory_stays_bounded() {
        let mut r = Resync::default();
        let mut x = 0x1234_5678u32;
        for _ in 0..64 {
            let chunk: Vec<u8> = (0..4096)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            r.push(0, &chunk);
            assert_eq!(
                r.search(&[Framing::V3, Framing::V1], Strictness::Strict),
                None
            );
            assert!(r.window().len() <= WINDOW + 4096);
        }
        assert!(r.discarded() > 0);
    }

    #[test]
    fn one_byte_segments_keep_the_window_and_its_segment_starts_bounded() {
        let mut r = Resync::default();
        let mut x = 0x9e37_79b9u32;
        for _ in 0..3 * WINDOW {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            r.push(0, &[x as u8]);
            if r.window().len() >= WINDOW {
                assert_eq!(r.search(&[Framing::V3], Strictness::Strict), None);
            }
            assert!(r.buffer.len() <= 2 * WINDOW + 1, "{}", r.buffer.len());
            assert!(r.segment_starts.len() <= r.window().len());
        }
        assert!(r.discarded() >= WINDOW as u64);
        // The segment starts still name the window's bytes.
        assert!(r.is_segment_start(0));
        assert!(r.is_segment_start(r.window().len() - 1));
    }
}
