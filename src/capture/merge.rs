//! Several inputs merged into one stream ordered by capture time, as
//! `mergecap` would, so `-r a.pcap -r b.pcap` sees one timeline.

use super::{CaptureError, OwnedPacket, Packet, PacketSource};
use crate::time::Precision;

pub struct MergedSource {
    inputs: Vec<Input>,
    /// The packet last handed out; kept so the loan outlives the call.
    current: OwnedPacket,
    warnings: Vec<String>,
}

struct Input {
    source: Box<dyn PacketSource>,
    head: Option<OwnedPacket>,
    spare: OwnedPacket,
    done: bool,
}

impl Input {
    fn refill(&mut self) -> Result<(), CaptureError> {
        if self.done || self.head.is_some() {
            return Ok(());
        }
        match self.source.next_packet()? {
            Some(packet) => {
                let mut slot = std::mem::replace(
                    &mut self.spare,
                    OwnedPacket::new(packet.ts, packet.link, Vec::new()),
                );
                slot.copy_from(&packet);
                self.head = Some(slot);
            }
            None => self.done = true,
        }
        Ok(())
    }
}

impl MergedSource {
    pub fn new(sources: Vec<Box<dyn PacketSource>>) -> Self {
        let inputs = sources
            .into_iter()
            .map(|source| Input {
                source,
                head: None,
                spare: OwnedPacket::new(Default::default(), super::LinkType::ETHERNET, Vec::new()),
                done: false,
            })
            .collect();
        MergedSource {
            inputs,
            current: OwnedPacket::new(Default::default(), super::LinkType::ETHERNET, Vec::new()),
            warnings: Vec::new(),
        }
    }
}

impl PacketSource for MergedSource {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        for input in &mut self.inputs {
            input.refill()?;
        }
        // Earliest head wins; ties go to the input named first, so equal
        // timestamps keep a stable, documented order.
        let earliest = self
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(i, input)| input.head.as_ref().map(|p| (p.ts, i)))
            .min();
        let Some((_, index)) = earliest else {
            self.warnings = self
                .inputs
                .iter()
                .filter_map(|i| i.source.end_warning())
                .collect();
            return Ok(None);
        };
        let Some(input) = self.inputs.get_mut(index) else {
            return Ok(None);
        };
        if let Some(head) = input.head.take() {
            let previous = std::mem::replace(&mut self.current, head);
            input.spare = previous;
        }
        Ok(Some(self.current.as_packet()))
    }

    fn precision(&self) -> Precision {
        self.inputs
            .iter()
            .map(|i| i.source.precision())
            .max()
            .unwrap_or_default()
    }

    fn progress(&self) -> Option<super::InputProgress> {
        let mut sum = super::InputProgress {
            read: 0,
            total: Some(0),
        };
        for p in self.inputs.iter().map(|i| i.source.progress()) {
            let p = p?;
            sum.read = sum.read.saturating_add(p.read);
            sum.total = sum.total.zip(p.total).map(|(a, b)| a.saturating_add(b));
        }
        Some(sum)
    }

    fn end_warning(&self) -> Option<String> {
        if self.warnings.is_empty() {
            None
        } else {
            Some(self.warnings.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{LinkType, MemorySource};
    use crate::time::Timestamp;

    fn packets(times: &[u64], tag: u8) -> Vec<OwnedPacket> {
        times
            .iter()
            .map(|&t| OwnedPacket::new(Timestamp::from_nanos(t), LinkType::ETHERNET, vec![tag]))
            .collect()
    }

    #[test]
    fn merges_by_time_with_stable_ties() {
        let a = MemorySource::new(packets(&[1, 5, 9], b'a'));
        let b = MemorySource::new(packets(&[2, 5, 6, 20], b'b'));
        let mut merged = MergedSource::new(vec![Box::new(a), Box::new(b)]);
        let mut seen = Vec::new();
        while let Some(p) = merged.next_packet().unwrap() {
            seen.push((p.ts.as_nanos(), p.data[0]));
        }
        assert_eq!(
            seen,
            vec![
                (1, b'a'),
                (2, b'b'),
                (5, b'a'),
                (5, b'b'),
                (6, b'b'),
                (9, b'a'),
                (20, b'b')
            ]
        );
    }
}
