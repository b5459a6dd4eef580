//! Any bytes under any supported link type: the slicer never panics and a
//! TCP segment's payload always lies inside the packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zmqtrace::capture::{LinkType, Packet};
use zmqtrace::net::{slice, Sliced};
use zmqtrace::time::Timestamp;

const LINKS: [LinkType; 8] = [
    LinkType::ETHERNET,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType::RAW,
    LinkType::IPV4,
    LinkType::IPV6,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(selector) % LINKS.len()];
    let packet = Packet {
        ts: Timestamp::ZERO,
        link,
        orig_len: rest.len() as u32 + u32::from(selector),
        data: rest,
    };
    if let Sliced::Tcp(segment) = slice(&packet) {
        let start = segment.payload.as_ptr() as usize;
        let base = rest.as_ptr() as usize;
        assert!(start >= base && start + segment.payload.len() <= base + rest.len());
    }
});
