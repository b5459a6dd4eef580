//! zmqtrace: a tracer for OpenStack ZeroMQ RPC traffic.
//!
//! The pipeline runs one way; each layer knows nothing of the ones above it
//! (see docs/ARCHITECTURE.md):
//!
//! capture (packet sources) → net (link/IP/TCP slicing) → tcp (reassembly,
//! stream events) → zmtp → oslo → reports (table, JSON Lines) or the
//! terminal UI.

#![forbid(unsafe_code)]

/// The hash map for keys read off the wire (flows, connections, topics,
/// message ids): foldhash seeds itself per process, so crafted keys cannot
/// aim at one bucket, and hashes a short key in a fraction of SipHash's time
/// (SipHash was 3 % of a `stats` run's instructions).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub mod capture;
pub mod cli;
pub mod decode;
pub mod doctor;
pub mod glob;
pub mod net;
pub mod oslo;
pub mod output;
pub mod pipeline;
pub mod ports;
pub mod redis;
pub mod report;
pub mod tcp;
pub mod time;
pub mod tui;
pub mod zmtp;
