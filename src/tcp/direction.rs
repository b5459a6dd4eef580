//! One direction of a TCP connection: sequence numbers to stream offsets,
//! in-order delivery, the queue of bytes waiting above a hole, and gaps.

use std::collections::BTreeMap;

use super::{Direction, StreamEvent};
use crate::time::Timestamp;

/// Bookkeeping a queued chunk costs beyond its payload (map node, vector
/// header), so a flood of tiny segments above a hole is bounded too.
pub(crate) const CHUNK_OVERHEAD: usize = 64;

/// Counters of one direction, final once the connection is retired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Packets travelling this way, including pure ACKs.
    pub packets: u64,
    /// Unique payload bytes delivered in order.
    pub bytes: u64,
    /// Bytes declared missing (the sum of gap lengths).
    pub missed_bytes: u64,
    pub gaps: u64,
    /// Segments that repeated bytes already seen (whole or in part).
    pub retransmitted: u64,
    /// Segments that arrived above a hole and had to wait.
    pub out_of_order: u64,
    /// Overlapping copies whose bytes differed (the first copy was kept).
    pub conflicts: u64,
    /// Segments the capture's snapshot length cut short.
    pub truncated: u64,
}

#[derive(Debug)]
enum Chunk {
    Bytes {
        ts: Timestamp,
        data: Vec<u8>,
    },
    /// Bytes known to have been sent but not captured (snapshot length).
    Missing {
        ts: Timestamp,
        len: u64,
    },
}

impl Chunk {
    fn len(&self) -> u64 {
        match self {
            Chunk::Bytes { data, .. } => data.len() as u64,
            Chunk::Missing { len, .. } => *len,
        }
    }

    fn cost(&self) -> usize {
        match self {
            Chunk::Bytes { data, .. } => data.len() + CHUNK_OVERHEAD,
            Chunk::Missing { .. } => CHUNK_OVERHEAD,
        }
    }
}

pub(crate) type Emit<'e> = dyn FnMut(StreamEvent<'_>) + 'e;

#[derive(Debug, Default)]
pub(crate) struct DirState {
    /// The sequence number of stream offset 0.
    pub(crate) base: Option<u32>,
    /// The next offset to deliver.
    pub(crate) next: u64,
    pub(crate) fin_offset: Option<u64>,
    /// Highest offset of this direction the peer has acknowledged.
    pub(crate) peer_acked: u64,
    queue: BTreeMap<u64, Chunk>,
    /// Memory held by `queue`, overhead included.
    pub(crate) held: usize,
    pub(crate) stats: DirStats,
}

impl DirState {
    /// The stream offset of a sequence number, taken within 2^31 of the next
    /// expected byte so 32-bit wrap-around is invisible. Negative: before the
    /// stream began.
    pub(crate) fn offset_of(&self, seq: u32) -> Option<i64> {
        let base = self.base?;
        let rel = seq.wrapping_sub(base);
        let diff = rel.wrapping_sub(self.next as u32) as i32;
        Some(i64::try_from(self.next).unwrap_or(i64::MAX) + i64::from(diff))
    }

    pub(crate) fn finished(&self) -> bool {
        self.fin_offset == Some(self.next)
    }

    pub(crate) fn first_held(&self) -> Option<u64> {
        self.queue.keys().next().copied()
    }

    /// Take in a segment's payload at `off`: `payload` captured bytes then
    /// `missing` bytes the capture cut off.
    pub(crate) fn accept(
        &mut self,
        dir: Direction,
        off: i64,
        ts: Timestamp,
        payload: &[u8],
        missing: u64,
        emit: &mut Emit<'_>,
    ) {
        let total = payload.len() as u64 + missing;
        if total == 0 {
            return;
        }
        if missing > 0 {
            self.stats.truncated += 1;
        }
        let next = i64::try_from(self.next).unwrap_or(i64::MAX);
        let end = off.saturating_add(i64::try_from(total).unwrap_or(i64::MAX));
        if end <= next {
            self.stats.retransmitted += 1;
            return;
        }
        let (mut payload, mut missing) = (payload, missing);
        if off < next {
            // Overlaps what was delivered: keep the first copy, take the rest.
            self.stats.retransmitted += 1;
            let skip = (next - off) as u64;
            match payload.get(usize::try_from(skip).unwrap_or(usize::MAX)..) {
                Some(rest) => payload = rest,
                None => {
                    missing -= skip - payload.len() as u64;
                    payload = &[];
                }
            }
        }
        let off = u64::try_from(off.max(next)).unwrap_or(0);
        if off == self.next {
            let end = off + payload.len() as u64 + missing;
            match self.first_held() {
                // Bytes already queued above the hole overlap this segment:
                // they came first, so deliver only up to them and queue the
                // rest, which keeps the queued copy where the two overlap.
                Some(first) if first < end => {
                    let direct = usize::try_from(first - off).unwrap_or(usize::MAX);
                    if direct <= payload.len() {
                        let (now, later) = payload.split_at(direct);
                        self.deliver(dir, ts, now, emit);
                        self.insert(first, ts, later, missing);
                    } else {
                        self.deliver(dir, ts, payload, emit);
                        self.gap_to(dir, first, ts, emit);
                        self.insert(first, ts, &[], end - first);
                    }
                }
                _ => {
                    self.deliver(dir, ts, payload, emit);
                    if missing > 0 {
                        self.gap_to(dir, end, ts, emit);
                    }
                }
            }
            self.drain(dir, emit);
        } else {
            self.stats.out_of_order += 1;
            self.insert(off, ts, payload, missing);
        }
    }

    /// In-order bytes: handed up without a copy.
    fn deliver(&mut self, dir: Direction, ts: Timestamp, bytes: &[u8], emit: &mut Emit<'_>) {
        if bytes.is_empty() {
            return;
        }
        emit(StreamEvent::Data {
            dir,
            offset: self.next,
            ts,
            bytes,
        });
        self.next += bytes.len() as u64;
        self.stats.bytes += bytes.len() as u64;
    }

    /// Declare everything up to `upto` missing.
    pub(crate) fn gap_to(&mut self, dir: Direction, upto: u64, ts: Timestamp, emit: &mut Emit<'_>) {
        if upto <= self.next {
            return;
        }
        let len = upto - self.next;
        emit(StreamEvent::Gap {
            dir,
            offset: self.next,
            len,
            ts,
        });
        self.stats.gaps += 1;
        self.stats.missed_bytes += len;
        self.next = upto;
    }

    /// Release queued chunks that have become contiguous.
    pub(crate) fn drain(&mut self, dir: Direction, emit: &mut Emit<'_>) {
        while let Some(entry) = self.queue.first_entry() {
            let start = *entry.key();
            if start > self.next {
                break;
            }
            let chunk = entry.remove();
            self.held = self.held.saturating_sub(chunk.cost());
            let end = start + chunk.len();
            if end <= self.next {
                continue;
            }
            let skip = usize::try_from(self.next - start).unwrap_or(usize::MAX);
            match chunk {
                Chunk::Bytes { ts, data } => {
                    let rest = data.get(skip..).unwrap_or_default();
                    emit(StreamEvent::Data {
                        dir,
                        offset: self.next,
                        ts,
                        bytes: rest,
                    });
                    self.stats.bytes += rest.len() as u64;
                    self.next = end;
                }
                Chunk::Missing { ts, .. } => self.gap_to(dir, end, ts, emit),
            }
        }
    }

    /// Queue a segment above a hole. Where it overlaps bytes already queued
    /// the first copy wins; differing bytes count as a conflict.
    fn insert(&mut self, off: u64, ts: Timestamp, payload: &[u8], missing: u64) {
        let end = off + payload.len() as u64 + missing;
        let mut uncovered: Vec<(u64, u64)> = Vec::new();
        let mut pos = off;
        if let Some((&start, chunk)) = self.queue.range(..=pos).next_back() {
            let chunk_end = start + chunk.len();
            if chunk_end > pos {
                pos = chunk_end.min(end);
            }
        }
        while pos < end {
            match self.queue.range(pos..end).next() {
                Some((&start, chunk)) => {
                    if start > pos {
                        uncovered.push((pos, start));
                    }
                    pos = (start + chunk.len()).min(end);
                }
                None => {
                    uncovered.push((pos, end));
                    pos = end;
                }
            }
        }
        if uncovered != [(off, end)] {
            self.count_conflicts(off, payload);
        }
        let payload_end = off + payload.len() as u64;
        for (a, b) in uncovered {
            if a < payload_end {
                let upto = b.min(payload_end);
                let data = payload
                    .get(
                        usize::try_from(a - off).unwrap_or(usize::MAX)
                            ..usize::try_from(upto - off).unwrap_or(usize::MAX),
                    )
                    .unwrap_or_default()
                    .to_vec();
                let chunk = Chunk::Bytes { ts, data };
                self.held += chunk.cost();
                self.queue.insert(a, chunk);
            }
            if b > payload_end {
                let from = a.max(payload_end);
                let chunk = Chunk::Missing { ts, len: b - from };
                self.held += chunk.cost();
                self.queue.insert(from, chunk);
            }
        }
    }

    /// Compare `bytes` at `off` with queued bytes covering the same offsets.
    fn count_conflicts(&mut self, off: u64, bytes: &[u8]) {
        let end = off + bytes.len() as u64;
        let lower = self
            .queue
            .range(..off)
            .next_back()
            .map(|(&k, _)| k)
            .unwrap_or(off);
        let differs = self.queue.range(lower..end).any(|(&start, chunk)| {
            let Chunk::Bytes { data, .. } = chunk else {
                return false;
            };
            let a = start.max(off);
            let b = (start + data.len() as u64).min(end);
            if a >= b {
                return false;
            }
            let theirs = data.get(
                usize::try_from(a - start).unwrap_or(0)..usize::try_from(b - start).unwrap_or(0),
            );
            let ours = bytes
                .get(usize::try_from(a - off).unwrap_or(0)..usize::try_from(b - off).unwrap_or(0));
            theirs != ours
        });
        if differs {
            self.stats.conflicts += 1;
        }
    }

    /// The peer acknowledged up to `ack`: bytes below that which the capture
    /// lacks will never come, so a hole under it becomes a gap now.
    pub(crate) fn peer_ack(
        &mut self,
        dir: Direction,
        ack: u32,
        ts: Timestamp,
        emit: &mut Emit<'_>,
    ) {
        let Some(off) = self.offset_of(ack) else {
            return;
        };
        let Ok(off) = u64::try_from(off) else {
            return;
        };
        self.peer_acked = self.peer_acked.max(off);
        self.resolve_acked(dir, ts, emit);
    }

    pub(crate) fn resolve_acked(&mut self, dir: Direction, ts: Timestamp, emit: &mut Emit<'_>) {
        loop {
            let Some(hole_end) = self.first_held().or(self.fin_offset) else {
                return;
            };
            let upto = self.peer_acked.min(hole_end);
            if upto <= self.next {
                return;
            }
            self.gap_to(dir, upto, ts, emit);
            self.drain(dir, emit);
        }
    }

    /// Give up the hole below the first queued chunk.
    pub(crate) fn skip_first_hole(
        &mut self,
        dir: Direction,
        ts: Timestamp,
        emit: &mut Emit<'_>,
    ) -> bool {
        let Some(first) = self.first_held() else {
            return false;
        };
        self.gap_to(dir, first, ts, emit);
        self.drain(dir, emit);
        true
    }

    /// The stream is over: every hole becomes a gap, and bytes known to have
    /// been sent after the last captured one (FIN, or the peer's ACK) too.
    pub(crate) fn finish(&mut self, dir: Direction, ts: Timestamp, emit: &mut Emit<'_>) {
        while self.skip_first_hole(dir, ts, emit) {}
        match self.fin_offset {
            Some(fin) => self.gap_to(dir, fin, ts, emit),
            // An ACK one past the last byte most likely acknowledges a FIN
            // the capture missed, not a byte of data.
            None if self.peer_acked > self.next + 1 => self.gap_to(dir, self.peer_acked, ts, emit),
            None => {}
        }
    }
}
