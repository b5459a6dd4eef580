//! Arbitrary bytes as both directions of a connection on an rpc port, cut
//! into arbitrary segments with holes: the ZMTP decoder never panics, never
//! reports a frame longer than the bytes that could carry it, and keeps no
//! more than its limits.
#![no_main]

#[path = "segments.rs"]
mod segments;

use libfuzzer_sys::fuzz_target;
use zmqtrace::ports::PortSet;
use zmqtrace::tcp::Connection;
use zmqtrace::zmtp::{DecoderLimits, ZmtpDecoder, ZmtpEvent, ZmtpSink};

struct Check {
    limits: DecoderLimits,
}

impl ZmtpSink for Check {
    fn event(&mut self, _: &Connection, event: ZmtpEvent<'_>) {
        if let ZmtpEvent::Message(m) = event {
            let kept: usize = m.frames.iter().map(|f| m.kept(f).len()).sum();
            assert!(kept <= self.limits.keep_per_message + 32 * m.frames.len());
            assert!(m.frames.len() <= self.limits.max_frames);
            for f in m.frames {
                assert!(m.kept(f).len() as u64 <= f.len);
                assert!(m.head(f).len() <= 32);
                // A cut frame's last bytes: only beyond what was kept, and
                // only when the frame arrived whole.
                let tail = m.tail(f);
                assert!(tail.len() <= zmqtrace::zmtp::TAIL_LEN);
                assert!((m.kept(f).len() + tail.len()) as u64 <= f.len);
                assert!(tail.is_empty() || f.missing == 0);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = DecoderLimits {
        keep_per_frame: 256,
        keep_per_message: 1024,
        max_command: 512,
        max_frames: 16,
    };
    let mut zmtp = ZmtpDecoder::new(PortSet::default(), true, limits.clone(), Check { limits });
    segments::replay(
        data,
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:9501".parse().unwrap(),
        &mut zmtp,
    );
});
