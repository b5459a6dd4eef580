//! Everything above TCP, wired together: each connection's streams go to
//! the ZMTP layer (and from it to the oslo layer), or, on the redis ports,
//! to the redis layer, whose exchanges teach the oslo layer the name
//! service's view of who listens where.

use crate::oslo::{OsloConfig, OsloCounters, OsloDecoder, OsloSink};
use crate::pipeline::{EngineStatus, Progress};
use crate::ports::PortSet;
use crate::redis::{RedisCounters, RedisDecoder};
use crate::tcp::{Connection, StreamConsumer, StreamEvent};
use crate::zmtp::{DecoderLimits, ZmtpCounters, ZmtpDecoder};

/// What to decode.
#[derive(Clone, Debug)]
pub struct DecodeConfig {
    /// Ports decoded as ZMTP without proof.
    pub ports: PortSet,
    /// Also decode flows on other ports that open with a ZMTP greeting.
    pub auto: bool,
    /// Ports of the redis name service.
    pub redis_ports: PortSet,
    pub oslo: OsloConfig,
}

/// The totals of every layer above TCP, for a summary.
#[derive(Clone, Debug, Default)]
pub struct LayerCounters {
    pub zmtp: ZmtpCounters,
    pub redis: RedisCounters,
    pub oslo: OsloCounters,
}

/// A [`StreamConsumer`] feeding `S` with oslo events.
pub struct Decoders<S> {
    zmtp: ZmtpDecoder<OsloDecoder<S>>,
    redis: RedisDecoder,
}

impl<S: OsloSink> Decoders<S> {
    pub fn new(config: DecodeConfig, sink: S) -> Self {
        let oslo = OsloDecoder::new(config.oslo, sink);
        Decoders {
            zmtp: ZmtpDecoder::new(config.ports, config.auto, DecoderLimits::default(), oslo),
            redis: RedisDecoder::new(config.redis_ports),
        }
    }

    pub fn sink(&self) -> &S {
        self.zmtp.sink().sink()
    }

    pub fn sink_mut(&mut self) -> &mut S {
        self.zmtp.sink_mut().sink_mut()
    }

    /// End of input: calls still waiting become timeouts. Returns the
    /// sink and every layer's totals.
    pub fn finish(self) -> (S, LayerCounters) {
        let zmtp = self.zmtp.counters().clone();
        let redis = self.redis.counters().clone();
        let mut oslo = self.zmtp.into_sink();
        oslo.finish();
        let counters = LayerCounters {
            zmtp,
            redis,
            oslo: oslo.counters().clone(),
        };
        (oslo.into_sink(), counters)
    }
}

impl<S: OsloSink> StreamConsumer for Decoders<S> {
    fn event(&mut self, conn: &Connection, event: StreamEvent<'_>) {
        if self.redis.claims(conn) {
            self.redis.event(conn, event, self.zmtp.sink_mut());
        } else {
            self.zmtp.event(conn, event);
        }
    }

    fn retired(&mut self, conn: &Connection) {
        if !self.redis.claims(conn) {
            self.zmtp.retired(conn);
        }
    }
}

impl<S: OsloSink + Progress> Progress for Decoders<S> {
    fn wants_more(&self) -> bool {
        self.sink().wants_more()
    }

    fn status(&mut self, status: &EngineStatus) {
        self.sink_mut().status(status);
    }
}
