//! The engine: packets from a source, sliced, filtered and reassembled into
//! stream events for a consumer. It owns the packet-level counters; the
//! consumer owns everything above TCP.

use crate::capture::{
    BpfFilter, CaptureError, FlowWriter, InputProgress, LiveCounters, PacketSource,
};
use crate::net::{self, Sliced};
use crate::tcp::{Reassembler, StreamConsumer, TcpConfig, TcpCounters};
use crate::time::Timestamp;

/// Packet-level counts for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketCounters {
    /// Packets read from the input (before the `-f` filter).
    pub packets: u64,
    /// Bytes of those packets on the wire.
    pub bytes: u64,
    /// Packets the `-f` filter rejected.
    pub filtered_out: u64,
    pub non_tcp: u64,
    pub ip_fragments: u64,
    pub malformed: u64,
    pub unsupported_link: u64,
    /// Packets whose capture the snapshot length cut short.
    pub truncated: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    pub packets: PacketCounters,
    pub tcp: TcpCounters,
    /// A live capture's drops and found ports.
    pub live: Option<LiveCounters>,
    /// What `-w` wrote, when it was given.
    pub written: Option<WriteCounters>,
}

/// What `-w` wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteCounters {
    pub packets: u64,
    /// Packets of decoded flows left out because their link type is not
    /// the file's (a pcap file has one).
    pub other_link: u64,
}

pub struct Engine {
    reassembler: Reassembler,
    filter: Option<BpfFilter>,
    counters: PacketCounters,
    writer: Option<FlowWriter>,
    live: Option<LiveCounters>,
}

/// Where the engine stands, for frontends that show it while input is read.
#[derive(Clone, Debug, Default)]
pub struct EngineStatus {
    pub packets: PacketCounters,
    pub tcp: TcpCounters,
    pub live: Option<LiveCounters>,
    pub input: Option<InputProgress>,
    /// The input is over (end of file, -c reached, or capture stopped).
    pub finished: bool,
}

/// Packets between two status reports, at most.
const STATUS_EVERY_PACKETS: u64 = 1024;
/// Capture time between two status reports, at most (when packets arrive).
const STATUS_EVERY_NS: u64 = 100_000_000;

/// What the consumer says after each packet.
pub trait Progress {
    /// False once the consumer has all it wants (`-c N` reached).
    fn wants_more(&self) -> bool {
        true
    }

    /// The engine's counters, every [`STATUS_EVERY_PACKETS`] packets or
    /// 100 ms of capture time, and once when the input is over.
    fn status(&mut self, _status: &EngineStatus) {}
}

impl Engine {
    pub fn new(config: TcpConfig, filter: Option<BpfFilter>) -> Self {
        Engine {
            reassembler: Reassembler::new(config),
            filter,
            counters: PacketCounters::default(),
            writer: None,
            live: None,
        }
    }

    /// Also write the packets of the decoded flows (`-w`).
    pub fn with_writer(mut self, writer: Option<FlowWriter>) -> Self {
        self.writer = writer;
        self
    }

    /// Read `source` to the end (or until the consumer is satisfied), then
    /// end every connection still open.
    pub fn run<C: StreamConsumer + Progress>(
        &mut self,
        source: &mut dyn PacketSource,
        consumer: &mut C,
    ) -> Result<RunStats, CaptureError> {
        let result = self.pump(source, consumer);
        source.stop();
        self.live = source.live_counters();
        self.reassembler.finish(consumer);
        let mut status = self.status(source);
        status.finished = true;
        consumer.status(&status);
        let written = self.writer.as_mut().map_or(Ok(()), FlowWriter::finish);
        result?;
        written?;
        Ok(self.stats())
    }

    fn status(&self, source: &dyn PacketSource) -> EngineStatus {
        EngineStatus {
            packets: self.counters.clone(),
            tcp: self.reassembler.counters().clone(),
            live: source.live_counters(),
            input: source.progress(),
            finished: false,
        }
    }

    fn pump<C: StreamConsumer + Progress>(
        &mut self,
        source: &mut dyn PacketSource,
        consumer: &mut C,
    ) -> Result<(), CaptureError> {
        let mut next_status = Timestamp::ZERO;
        while consumer.wants_more() {
            if let Some(last) = self.counters.last_ts {
                if self.counters.packets % STATUS_EVERY_PACKETS == 0 || last >= next_status {
                    next_status =
                        Timestamp::from_nanos(last.as_nanos().saturating_add(STATUS_EVERY_NS));
                    consumer.status(&self.status(source));
                }
            }
            let Some(packet) = source.next_packet()? else {
                return Ok(());
            };
            let c = &mut self.counters;
            c.packets += 1;
            c.bytes += u64::from(packet.orig_len);
            c.first_ts.get_or_insert(packet.ts);
            c.last_ts = Some(c.last_ts.map_or(packet.ts, |t| t.max(packet.ts)));
            if let Some(filter) = &mut self.filter {
                if !filter.matches(&packet)? {
                    self.counters.filtered_out += 1;
                    continue;
                }
            }
            if (packet.data.len() as u64) < u64::from(packet.orig_len) {
                self.counters.truncated += 1;
            }
            let sliced = net::slice(&packet);
            if let Some(writer) = &mut self.writer {
                let segment = match &sliced {
                    Sliced::Tcp(segment) => Some(segment),
                    _ => None,
                };
                writer.offer(&packet, segment);
            }
            match sliced {
                Sliced::Tcp(segment) => self.reassembler.segment(&segment, consumer),
                Sliced::NotTcp => self.counters.non_tcp += 1,
                Sliced::Fragment => self.counters.ip_fragments += 1,
                Sliced::Malformed => self.counters.malformed += 1,
                Sliced::UnsupportedLink => {
                    self.counters.unsupported_link += 1;
                    if self.counters.unsupported_link == self.counters.packets {
                        return Err(CaptureError::UnsupportedLink {
                            name: "the capture".into(),
                            link: packet.link.name(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    pub fn stats(&self) -> RunStats {
        RunStats {
            packets: self.counters.clone(),
            tcp: self.reassembler.counters().clone(),
            live: self.live.clone(),
            written: self.writer.as_ref().map(|w| WriteCounters {
                packets: w.packets(),
                other_link: w.other_link(),
            }),
        }
    }
}
