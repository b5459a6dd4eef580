//! Arbitrary bytes as both directions of a connection to redis, cut into
//! arbitrary segments with holes, then every exchange taught to the oslo
//! layer's name book: no panic, no kept command beyond the limits, and every
//! reply paired with the oldest command waiting or counted as unmatched.
#![no_main]

#[path = "segments.rs"]
mod segments;

use libfuzzer_sys::fuzz_target;
use zmqtrace::oslo::names::{NameBook, NameCounters};
use zmqtrace::redis::{Exchange, RedisDecoder, RedisSink, Standalone, MAX_ARG, MAX_ARGS};

#[derive(Default)]
struct Check {
    book: NameBook,
    counters: NameCounters,
    answered: u64,
}

impl RedisSink for Check {
    fn exchange(&mut self, x: &Exchange<'_>) {
        assert!(x.command.len() <= MAX_ARGS);
        assert!(x.command.iter().all(|a| a.len() <= MAX_ARG));
        self.answered += u64::from(x.reply.is_some());
        self.book.exchange(x, &mut self.counters);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut redis = Standalone {
        decoder: RedisDecoder::new("6379".parse().unwrap()),
        sink: Check::default(),
    };
    segments::replay(
        data,
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.4:6379".parse().unwrap(),
        &mut redis,
    );
    // Every reply answers the oldest command waiting, or is counted as
    // having none.
    let c = redis.decoder.counters();
    assert_eq!(redis.sink.answered, c.replies - c.unmatched_replies);
});
