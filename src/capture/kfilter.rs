//! The kernel capture filter of a live capture: which packets the kernel
//! copies to zmqtrace at all.
//!
//! It passes TCP on the rpc ports (`-p`) and on ports found to carry ZMTP,
//! ANDed with `-f`. With auto-detection it also passes, on every port, the
//! packets that open a ZMTP connection: SYN/SYN-ACK, a segment whose payload
//! opens with the ZMTP signature (`ff`, 8 bytes, then a byte with bit 0
//! set), and the pieces of the ZMTP 3 handshake that follow it. libpcap's
//! `tcp[]` reaches into IPv4 only, so IPv6 is matched at fixed offsets (TCP
//! right after the 40-byte header, which is how TCP over IPv6 travels in
//! practice).
//!
//! When a port is found, the filter is widened by attaching the new program
//! to the socket directly: `SO_ATTACH_FILTER` swaps programs atomically, so
//! each packet meets the old filter or the new one, and since the new one
//! passes everything the old one did, nothing is lost. `pcap_setfilter`
//! would first attach a reject-all filter and drain the socket, losing the
//! packets that arrive in between.

use std::io;

use crate::capture::LinkType;
use crate::ports::PortSet;

/// Ports found at runtime that the kernel filter may grow to. The classic
/// BPF program stays well under the kernel's 4096 instructions (each port
/// costs about 7).
pub const MAX_FOUND_PORTS: usize = 256;

/// The payload offset of a TCP segment over IPv4, and over IPv6 with TCP
/// right after the fixed header.
const PAYLOAD_V4: &str = "((tcp[12] & 0xf0) >> 2)";
const PAYLOAD_V6: &str = "(40 + ((ip6[52] & 0xf0) >> 2))";
const PAYLOAD_LEN_V4: &str = "(ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2))";
const PAYLOAD_LEN_V6: &str = "(ip6[4:2] - ((ip6[52] & 0xf0) >> 2))";
/// The first four bytes of the ZMTP 3 security mechanisms, and of the
/// handshake commands (READY, HELLO, WELCOME, INITIATE, ERROR).
const MECHANISMS: [u32; 3] = [0x4e55_4c4c, 0x504c_4149, 0x4355_5256];
const COMMANDS: [u32; 5] = [
    0x5245_4144,
    0x4845_4c4c,
    0x5745_4c43,
    0x494e_4954,
    0x4552_524f,
];

/// Segments that open a ZMTP connection, recognised without state: a SYN
/// or SYN-ACK, the signature, and the rest of libzmq's handshake, which it
/// writes in small pieces right after the signature (the major version
/// alone, then minor version and mechanism, then READY or the security
/// commands) - sooner than any filter can be widened to the new port.
/// `at(i, n)` loads `n` payload bytes at `i`.
fn zmtp_opening(syn: &str, at: &dyn Fn(u32, u32) -> String, payload_len: &str) -> String {
    let any_of = |load: String, values: &[u32]| {
        let tests: Vec<String> = values
            .iter()
            .map(|v| format!("{load} = {v:#010x}"))
            .collect();
        format!("({})", tests.join(" or "))
    };
    let signature = format!("({} = 0xff and {} & 1 = 1)", at(0, 1), at(9, 1));
    let major_alone = format!(
        "({payload_len} = 1 and {b} >= 1 and {b} <= 3)",
        b = at(0, 1)
    );
    let minor_and_mechanism = format!("({} <= 1 and {})", at(0, 1), any_of(at(1, 4), &MECHANISMS));
    let major_minor_mechanism = format!(
        "({b} >= 1 and {b} <= 3 and {} <= 1 and {})",
        at(1, 1),
        any_of(at(2, 4), &MECHANISMS),
        b = at(0, 1)
    );
    let short_command = format!("({} = 4 and {})", at(0, 1), any_of(at(3, 4), &COMMANDS));
    let long_command = format!("({} = 6 and {})", at(0, 1), any_of(at(10, 4), &COMMANDS));
    [
        syn.to_string(),
        signature,
        major_alone,
        minor_and_mechanism,
        major_minor_mechanism,
        short_command,
        long_command,
    ]
    .join(" or ")
}

fn zmtp_opening_v4() -> String {
    let at = |i: u32, n: u32| format!("tcp[{PAYLOAD_V4} + {i}:{n}]");
    zmtp_opening("tcp[tcpflags] & tcp-syn != 0", &at, PAYLOAD_LEN_V4)
}

fn zmtp_opening_v6() -> String {
    let at = |i: u32, n: u32| format!("ip6[{PAYLOAD_V6} + {i}:{n}]");
    format!(
        "ip6[6] = 6 and ({})",
        zmtp_opening("ip6[53] & 2 != 0", &at, PAYLOAD_LEN_V6)
    )
}

/// The filter expression, in libpcap's language.
pub fn expression(listed: &PortSet, found: &[u16], auto: bool, user: Option<&str>) -> String {
    let mut clauses: Vec<String> = port_ranges(listed)
        .into_iter()
        .map(|(lo, hi)| {
            if lo == hi {
                format!("tcp port {lo}")
            } else {
                format!("tcp portrange {lo}-{hi}")
            }
        })
        .collect();
    let mut found = found.to_vec();
    found.sort_unstable();
    found.dedup();
    clauses.extend(
        found
            .iter()
            .filter(|&&p| !listed.contains(p))
            .map(|p| format!("tcp port {p}")),
    );
    if auto {
        clauses.push(format!("({})", zmtp_opening_v4()));
        clauses.push(format!("({})", zmtp_opening_v6()));
    }
    let ours = format!("tcp and ({})", clauses.join(" or "));
    match user {
        Some(user) if !user.trim().is_empty() => format!("({user}) and ({ours})"),
        _ => ours,
    }
}

/// Contiguous runs of the set, lowest first.
fn port_ranges(set: &PortSet) -> Vec<(u16, u16)> {
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for port in set.iter() {
        match ranges.last_mut() {
            Some((_, hi)) if u32::from(*hi) + 1 == u32::from(port) => *hi = port,
            _ => ranges.push((port, port)),
        }
    }
    ranges
}

/// One classic BPF instruction: code, jt, jf, k.
type Insn = (u16, u8, u8, u32);

/// The instructions of a compiled program. The pcap crate keeps them behind
/// an opaque type whose `Display` prints `code jt jf k`.
fn instructions(program: &pcap::BpfProgram) -> io::Result<Vec<Insn>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "unreadable BPF instruction");
    program
        .get_instructions()
        .iter()
        .map(|insn| {
            let text = insn.to_string();
            let mut parts = text.split_whitespace();
            let mut next = || parts.next().ok_or_else(bad);
            let code = next()?.parse().map_err(|_| bad())?;
            let jt = next()?.parse().map_err(|_| bad())?;
            let jf = next()?.parse().map_err(|_| bad())?;
            let k = next()?.parse().map_err(|_| bad())?;
            Ok((code, jt, jf, k))
        })
        .collect()
}

const BPF_LD: u16 = 0x00;
const BPF_LDX: u16 = 0x01;
const BPF_ABS: u16 = 0x20;
const BPF_IND: u16 = 0x40;
const BPF_MSH: u16 = 0xa0;
/// Linux's ancillary-data offsets (`SKF_AD_OFF` is -0x1000).
const SKF_AD_OFF: u32 = 0xffff_f000;
const SKF_AD_PROTOCOL: u32 = 0;
const SKF_AD_PKTTYPE: u32 = 4;
const SKF_AD_IFINDEX: u32 = 8;

/// A cooked socket (`-i any`) hands the kernel filter the packet without
/// the Linux cooked header that the program was compiled for: rewrite the
/// loads as libpcap's `fix_program` does before it attaches a program.
/// `None` when a load reaches a header field the kernel cannot supply.
fn fix_cooked(insns: &mut [Insn], link: LinkType) -> Option<()> {
    let (header, fields): (u32, &[(u32, u32)]) = match link {
        LinkType::LINUX_SLL2 => (
            20,
            &[
                (0, SKF_AD_PROTOCOL),
                (4, SKF_AD_IFINDEX),
                (10, SKF_AD_PKTTYPE),
            ],
        ),
        LinkType::LINUX_SLL => (16, &[(0, SKF_AD_PKTTYPE), (14, SKF_AD_PROTOCOL)]),
        _ => return Some(()),
    };
    for insn in insns.iter_mut() {
        let class = insn.0 & 0x07;
        let mode = insn.0 & 0xe0;
        if !(class == BPF_LD || class == BPF_LDX) || !matches!(mode, BPF_ABS | BPF_IND | BPF_MSH) {
            continue;
        }
        let k = insn.3;
        if k >= SKF_AD_OFF {
            continue;
        }
        if k >= header {
            insn.3 = k - header;
        } else if let Some(&(_, ad)) = fields.iter().find(|(offset, _)| *offset == k) {
            insn.3 = SKF_AD_OFF + ad;
        } else if (k as i32) > 0 {
            return None;
        }
    }
    Some(())
}

/// What the kernel filter is made of.
#[derive(Clone, Debug)]
pub struct FilterSpec {
    pub listed: PortSet,
    pub auto: bool,
    pub user: Option<String>,
}

impl FilterSpec {
    pub fn expression(&self, found: &[u16]) -> String {
        expression(&self.listed, found, self.auto, self.user.as_deref())
    }
}

fn compile<T: pcap::Activated + ?Sized>(
    capture: &pcap::Capture<T>,
    expr: &str,
) -> io::Result<Vec<Insn>> {
    let program = capture.compile(expr, true).map_err(|e| {
        let text = e.to_string();
        io::Error::new(
            io::ErrorKind::InvalidInput,
            text.trim_start_matches("libpcap error: ").to_string(),
        )
    })?;
    instructions(&program)
}

/// Replace the kernel filter of `capture` with `insns` (compiled for `link`
/// on that capture), atomically.
fn attach_insns(
    capture: &pcap::Capture<pcap::Active>,
    mut insns: Vec<Insn>,
    link: LinkType,
) -> io::Result<()> {
    fix_cooked(&mut insns, link).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "the filter reads a cooked-header field the kernel cannot supply",
        )
    })?;
    let filters: Vec<socket2::SockFilter> = insns
        .iter()
        .map(|&(code, jt, jf, k)| socket2::SockFilter::new(code, jt, jf, k))
        .collect();
    socket2::SockRef::from(capture).attach_filter(&filters)
}

/// Compile the filter for `found` and attach it.
pub fn attach(
    capture: &pcap::Capture<pcap::Active>,
    spec: &FilterSpec,
    found: &[u16],
    link: LinkType,
) -> io::Result<()> {
    let insns = compile(capture, &spec.expression(found))?;
    attach_insns(capture, insns, link)
}

/// `jeq #k`: the comparison a port test compiles to.
const JEQ_K: u16 = 0x15;
const BPF_JMP: u16 = 0x05;
const BPF_JA: u16 = 0x00;

/// The filter for the ports found so far plus one port left open.
///
/// Compiling takes about a millisecond (libpcap's optimiser; tens of
/// milliseconds with hundreds of ports), while libzmq sends its first
/// messages microseconds after the handshake. So the capture thread keeps
/// the next filter compiled with a placeholder port and, when a new port is
/// found, only writes the port into the placeholder's comparisons and
/// attaches the result. The placeholder's instructions are found by
/// compiling with two different placeholders: the programs must be the same
/// but for those constants, or there is no template (and the filter is
/// compiled when needed).
///
/// libpcap's optimiser drops a comparison whose outcome an earlier one
/// decided on the same path: after `src port == 52700` succeeded, it knows
/// `src port == placeholder` fails. Written into the placeholder, 52700
/// would then be wrongly rejected on that path. Such knowledge only comes
/// from a comparison with that very constant, so a port that any other
/// comparison of the program uses (from `-f`, say) is never patched in.
pub struct Template {
    insns: Vec<Insn>,
    slots: Vec<usize>,
}

impl Template {
    pub fn new<T: pcap::Activated + ?Sized>(
        capture: &pcap::Capture<T>,
        spec: &FilterSpec,
        found: &[u16],
    ) -> Option<Template> {
        // Placeholders no comparison of the program uses already.
        let base = compile(capture, &spec.expression(found)).ok()?;
        let used: std::collections::HashSet<u32> = base
            .iter()
            .filter(|insn| insn.0 & 0x07 == BPF_JMP)
            .map(|insn| insn.3)
            .collect();
        let mut free = (1..=u16::MAX).rev().filter(|p| {
            !spec.listed.contains(*p) && !found.contains(p) && !used.contains(&u32::from(*p))
        });
        let (a, b) = (free.next()?, free.next()?);
        let with = |slot: u16| {
            let mut ports = found.to_vec();
            ports.push(slot);
            compile(capture, &spec.expression(&ports)).ok()
        };
        let (one, two) = (with(a)?, with(b)?);
        if one.len() != two.len() {
            return None;
        }
        let mut slots = Vec::new();
        for (i, (x, y)) in one.iter().zip(&two).enumerate() {
            if x == y {
                continue;
            }
            let same_but_k = x.0 == y.0 && x.1 == y.1 && x.2 == y.2;
            if !(same_but_k && x.0 == JEQ_K && x.3 == u32::from(a) && y.3 == u32::from(b)) {
                return None;
            }
            slots.push(i);
        }
        (!slots.is_empty()).then_some(Template { insns: one, slots })
    }

    /// The program with `port` in the placeholder; `None` when another
    /// comparison uses the same constant.
    fn patched(&self, port: u16) -> Option<Vec<Insn>> {
        let k = u32::from(port);
        let compared = self.insns.iter().enumerate().any(|(i, insn)| {
            let conditional = insn.0 & 0x07 == BPF_JMP && insn.0 & 0xf0 != BPF_JA;
            conditional && insn.3 == k && !self.slots.contains(&i)
        });
        if compared {
            return None;
        }
        let mut insns = self.insns.clone();
        for &i in &self.slots {
            if let Some(insn) = insns.get_mut(i) {
                insn.3 = k;
            }
        }
        Some(insns)
    }

    /// Attach the filter with `port` in the placeholder. False when the
    /// template cannot take this port (see [`Template`]).
    pub fn attach(
        &self,
        capture: &pcap::Capture<pcap::Active>,
        port: u16,
        link: LinkType,
    ) -> io::Result<bool> {
        match self.patched(port) {
            Some(insns) => attach_insns(capture, insns, link).map(|()| true),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn ports(spec: &str) -> PortSet {
        spec.parse().unwrap()
    }

    fn program(expr: &str, link: LinkType) -> pcap::BpfProgram {
        pcap::Capture::dead(pcap::Linktype(link.0 as i32))
            .unwrap()
            .compile(expr, true)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn v4(src: u16, dst: u16, syn: bool, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64);
        let mut tcp = b.tcp(src, dst, 1, 1000);
        if syn {
            tcp = tcp.syn();
        }
        let mut out = Vec::new();
        tcp.write(&mut out, payload).unwrap();
        out
    }

    fn v6(src: u16, dst: u16, syn: bool, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv6([1; 16], [2; 16], 64);
        let mut tcp = b.tcp(src, dst, 1, 1000).ack(5);
        if syn {
            tcp = tcp.syn();
        }
        let mut out = Vec::new();
        tcp.write(&mut out, payload).unwrap();
        out
    }

    const SIGNATURE: [u8; 12] = [0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1];

    #[test]
    fn expression_names_ranges_found_ports_and_the_user_filter() {
        assert_eq!(
            expression(&ports("9501"), &[], false, None),
            "tcp and (tcp port 9501)"
        );
        assert_eq!(
            expression(&ports("9500-9505,9507"), &[50000, 9501, 50000], false, Some("host 10.0.0.5")),
            "(host 10.0.0.5) and (tcp and (tcp portrange 9500-9505 or tcp port 9507 or tcp port 50000))"
        );
        assert!(expression(&ports("9501"), &[], true, None).contains("tcp-syn"));
    }

    #[test]
    fn the_filter_passes_what_auto_detection_needs_and_nothing_else() {
        let expr = expression(&ports("9501"), &[50000], true, None);
        let p = program(&expr, LinkType::ETHERNET);
        for make in [v4, v6] {
            assert!(p.filter(&make(40000, 9501, false, b"data")), "rpc port");
            assert!(p.filter(&make(9501, 40000, false, b"")), "rpc port, ack");
            assert!(p.filter(&make(40000, 50000, false, b"data")), "found port");
            assert!(p.filter(&make(40000, 60000, true, b"")), "SYN anywhere");
            assert!(
                p.filter(&make(40000, 60000, false, &SIGNATURE)),
                "signature"
            );
            assert!(
                !p.filter(&make(40000, 60000, false, b"GET / HTTP/1.1")),
                "other data"
            );
            assert!(!p.filter(&make(40000, 60000, false, b"")), "other ack");
            let mut not_sig = SIGNATURE;
            not_sig[9] = 0x7e;
            assert!(
                !p.filter(&make(40000, 60000, false, &not_sig)),
                "0xff but no signature"
            );
            // libzmq's handshake after the signature, as it writes it.
            assert!(
                p.filter(&make(40000, 60000, false, &[3])),
                "major version alone"
            );
            assert!(!p.filter(&make(40000, 60000, false, &[3, 0])), "two bytes");
            assert!(!p.filter(&make(40000, 60000, false, &[7])), "not a version");
            let mut rest = vec![1u8];
            rest.extend_from_slice(b"NULL");
            rest.resize(53, 0);
            assert!(p.filter(&make(40000, 60000, false, &rest)), "minor + NULL");
            rest[1..5].copy_from_slice(b"CURV");
            assert!(p.filter(&make(40000, 60000, false, &rest)), "minor + CURVE");
            let mut with_major = vec![3u8];
            with_major.extend_from_slice(&rest);
            assert!(
                p.filter(&make(40000, 60000, false, &with_major)),
                "major + minor + CURVE"
            );
            rest[1..5].copy_from_slice(b"NUL!");
            assert!(!p.filter(&make(40000, 60000, false, &rest)), "no mechanism");
            let ready = b"\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER";
            assert!(p.filter(&make(40000, 60000, false, ready)), "READY");
            let mut initiate = vec![6u8, 0, 0, 0, 0, 0, 0, 1, 0, 8];
            initiate.extend_from_slice(b"INITIATE");
            initiate.resize(300, 0);
            assert!(
                p.filter(&make(40000, 60000, false, &initiate)),
                "long INITIATE"
            );
            let ping = b"\x04\x07\x04PING\x00\x64";
            assert!(!p.filter(&make(40000, 60000, false, ping)), "other command");
        }
        let fixed = program(
            &expression(&ports("9501"), &[], false, None),
            LinkType::ETHERNET,
        );
        assert!(!fixed.filter(&v4(40000, 60000, true, b"")));
        assert!(!fixed.filter(&v4(40000, 60000, false, &SIGNATURE)));
    }

    #[test]
    fn the_largest_filter_compiles_under_the_kernel_limit() {
        let found: Vec<u16> = (0..MAX_FOUND_PORTS as u16).map(|i| 50000 + 3 * i).collect();
        let expr = expression(
            &ports("9501,9600-9700"),
            &found,
            true,
            Some("not host 10.9.9.9"),
        );
        for link in [
            LinkType::ETHERNET,
            LinkType::LINUX_SLL2,
            LinkType::LINUX_SLL,
        ] {
            let p = program(&expr, link);
            let mut insns = instructions(&p).unwrap();
            assert_eq!(insns.len(), p.get_instructions().len());
            assert!(insns.len() < 4096, "{} instructions", insns.len());
            assert!(fix_cooked(&mut insns, link).is_some());
        }
    }

    /// A classic BPF interpreter for the instructions libpcap emits: the
    /// pcap crate runs only programs it compiled, and a patched program is
    /// not one. Checked against libpcap's interpreter below.
    fn run(insns: &[Insn], packet: &[u8]) -> bool {
        let mut a: u32 = 0;
        let mut x: u32 = 0;
        let mut mem = [0u32; 16];
        let mut pc = 0usize;
        let load = |off: u32, size: u32| -> Option<u32> {
            let off = off as usize;
            let bytes = packet.get(off..off + size as usize)?;
            Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
        };
        while let Some(&(code, jt, jf, k)) = insns.get(pc) {
            pc += 1;
            match code & 0x07 {
                0x00 | 0x01 => {
                    let size = match code & 0x18 {
                        0x00 => 4,
                        0x08 => 2,
                        _ => 1,
                    };
                    let value = match code & 0xe0 {
                        0x00 => Some(k),
                        0x20 => load(k, size),
                        0x40 => load(x.wrapping_add(k), size),
                        0x60 => mem.get(k as usize).copied(),
                        0x80 => Some(packet.len() as u32),
                        0xa0 => load(k, 1).map(|b| (b & 0xf) << 2),
                        _ => None,
                    };
                    let Some(value) = value else { return false };
                    if code & 0x07 == 0x00 {
                        a = value;
                    } else {
                        x = value;
                    }
                }
                0x02 => mem[k as usize] = a,
                0x03 => mem[k as usize] = x,
                0x04 => {
                    let operand = if code & 0x08 != 0 { x } else { k };
                    a = match code & 0xf0 {
                        0x00 => a.wrapping_add(operand),
                        0x10 => a.wrapping_sub(operand),
                        0x20 => a.wrapping_mul(operand),
                        0x30 if operand != 0 => a / operand,
                        0x40 => a | operand,
                        0x50 => a & operand,
                        0x60 => a.wrapping_shl(operand),
                        0x70 => a.wrapping_shr(operand),
                        0x80 => a.wrapping_neg(),
                        _ => return false,
                    };
                }
                0x05 => {
                    let operand = if code & 0x08 != 0 { x } else { k };
                    let taken = match code & 0xf0 {
                        0x00 => {
                            pc += k as usize;
                            continue;
                        }
                        0x10 => a == operand,
                        0x20 => a > operand,
                        0x30 => a >= operand,
                        0x40 => a & operand != 0,
                        _ => return false,
                    };
                    pc += usize::from(if taken { jt } else { jf });
                }
                0x06 => return (if code & 0x18 == 0x10 { a } else { k }) != 0,
                0x07 => {
                    if code & 0xf8 == 0x00 {
                        x = a;
                    } else {
                        a = x;
                    }
                }
                _ => return false,
            }
        }
        false
    }

    #[test]
    fn a_patched_template_filters_as_the_compiled_filter() {
        let cases: [(&str, Option<&str>, Vec<u16>); 5] = [
            ("9501,9600-9700", None, vec![]),
            (
                "9501,9600-9700",
                Some("not host 10.1.2.3"),
                vec![50000, 50001],
            ),
            ("9501", Some("port 65535 or port 65534"), vec![]),
            ("9501", Some("tcp port 9501 or tcp port 52700"), vec![]),
            ("9501", Some("tcp port 52700"), vec![50000]),
        ];
        for (listed, user, found) in cases {
            let spec = FilterSpec {
                listed: ports(listed),
                auto: true,
                user: user.map(str::to_string),
            };
            let dead = pcap::Capture::dead(pcap::Linktype(1)).unwrap();
            let template = Template::new(&dead, &spec, &found).expect("a template");
            assert!(!template.slots.is_empty());
            // 2048 and 6 are constants of the program too (IPv4, TCP).
            for new in [52000, 52700, 2048, 6] {
                let mut more = found.clone();
                more.push(new);
                let expr = spec.expression(&more);
                let program = dead.compile(&expr, true).unwrap();
                let compiled = instructions(&program).unwrap();
                let Some(patched) = template.patched(new) else {
                    assert_ne!(new, 52000, "{user:?}: an ordinary port is patched in");
                    continue;
                };
                for (a, b) in [
                    (40000, new),
                    (new, 40000),
                    (new, 9501),
                    (9501, 40000),
                    (40000, 60000),
                    (50000, 40000),
                ] {
                    for make in [v4, v6] {
                        for packet in [
                            make(a, b, false, b"data"),
                            make(a, b, true, b""),
                            make(a, b, false, b""),
                        ] {
                            let expected = program.filter(&packet);
                            assert_eq!(run(&compiled, &packet), expected, "the interpreter");
                            assert_eq!(
                                run(&patched, &packet),
                                expected,
                                "{user:?} {found:?} +{new}: {a}>{b}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn cooked_programs_lose_the_cooked_header() {
        // ldh [20+12] in an SLL2 program is ldh [12] for the kernel; the
        // protocol field (offset 0) is an ancillary load.
        let mut insns = vec![
            (0x28, 0, 0, 0),
            (0x28, 0, 0, 32),
            (0x30, 0, 0, 10),
            (0x06, 0, 0, 0),
        ];
        fix_cooked(&mut insns, LinkType::LINUX_SLL2).unwrap();
        assert_eq!(
            insns,
            vec![
                (0x28, 0, 0, SKF_AD_OFF + SKF_AD_PROTOCOL),
                (0x28, 0, 0, 12),
                (0x30, 0, 0, SKF_AD_OFF + SKF_AD_PKTTYPE),
                (0x06, 0, 0, 0)
            ]
        );
        let mut unreachable = vec![(0x30, 0, 0, 2)];
        assert!(fix_cooked(&mut unreachable, LinkType::LINUX_SLL2).is_none());
        let mut ethernet = vec![(0x28, 0, 0, 12)];
        fix_cooked(&mut ethernet, LinkType::ETHERNET).unwrap();
        assert_eq!(ethernet, vec![(0x28, 0, 0, 12)]);
    }
}
