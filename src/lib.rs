//! zmqtrace: a tracer for OpenStack ZeroMQ RPC traffic.
//!
//! The pipeline runs one way; each layer knows nothing of the ones above it
//! (see docs/ARCHITECTURE.md):
//!
//! capture (packet sources) → net (link/IP/TCP slicing) → tcp (reassembly,
//! stream events) → zmtp → oslo → reports (table, JSON Lines) or the
//! terminal UI.

#![forbid(unsafe_code)]

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
