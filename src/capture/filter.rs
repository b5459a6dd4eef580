//! Capture filters (`-f BPF`) applied to offline input with libpcap's own
//! compiler and `pcap_offline_filter`, so an expression means exactly what it
//! means to tcpdump. A program is compiled per link type, because the same
//! expression compiles to different code for Ethernet and cooked captures.

use std::collections::HashMap;

use super::{CaptureError, LinkType, Packet};

pub struct BpfFilter {
    expr: String,
    programs: HashMap<LinkType, pcap::BpfProgram>,
}

impl BpfFilter {
    /// Checks the expression once against Ethernet framing so a typo is
    /// reported before any input is read.
    pub fn new(expr: &str) -> Result<BpfFilter, CaptureError> {
        let mut filter = BpfFilter {
            expr: expr.to_string(),
            programs: HashMap::new(),
        };
        filter.program(LinkType::ETHERNET)?;
        Ok(filter)
    }

    fn program(&mut self, link: LinkType) -> Result<&pcap::BpfProgram, CaptureError> {
        if !self.programs.contains_key(&link) {
            let error = |reason: String| CaptureError::Filter {
                expr: self.expr.clone(),
                reason,
            };
            let linktype = pcap::Linktype(i32::try_from(link.0).unwrap_or(i32::MAX));
            let dead = pcap::Capture::dead(linktype).map_err(|e| error(e.to_string()))?;
            let program = dead.compile(&self.expr, true).map_err(|e| {
                error(
                    e.to_string()
                        .trim_start_matches("libpcap error: ")
                        .to_string(),
                )
            })?;
            self.programs.insert(link, program);
        }
        self.programs
            .get(&link)
            .ok_or_else(|| CaptureError::Filter {
                expr: self.expr.clone(),
                reason: "internal: program cache".into(),
            })
    }

    pub fn matches(&mut self, packet: &Packet<'_>) -> Result<bool, CaptureError> {
        Ok(self.program(packet.link)?.filter(packet.data))
    }
}
