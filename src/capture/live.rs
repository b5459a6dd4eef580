//! Live capture (`-i`): one thread per interface reads libpcap's ring and
//! hands the packets, in batches, through a bounded queue to the decoder,
//! which reads them as a [`PacketSource`] like any file.
//!
//! ```text
//!  kernel ring (BPF filter) ─▶ capture thread ─▶ bounded queue ─▶ LiveSource ─▶ engine
//!      kernel_dropped          selects, widens      queue_dropped
//! ```
//!
//! Opening happens in two steps so privileges can be dropped in between:
//! [`open`] opens and filters every interface (this needs `CAP_NET_RAW`),
//! [`OpenCapture::start`] starts the threads. A capture thread never blocks
//! on the decoder: when the queue is full the batch is dropped and counted,
//! so the kernel ring keeps draining and every loss is a counted loss.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::kfilter::{self, FilterSpec, Template, MAX_FOUND_PORTS};
use super::privilege;
use super::select::{Selector, Verdict};
use super::{CaptureError, LinkType, LiveCounters, Packet, PacketSource};
use crate::net::{self, Sliced};
use crate::ports::PortSet;
use crate::time::{Precision, Timestamp};

/// libpcap's largest snapshot length: whole packets, as on the wire.
const SNAPLEN: i32 = 262_144;
/// How long a capture thread sleeps in `poll` when its ring is empty,
/// at most, before it looks at the stop flag again.
const POLL_MS: u16 = 100;
/// The kernel hands over a block of packets when it is full or this old.
///
/// libpcap's immediate mode would mean TPACKET_V2 on Linux: one ring slot
/// per packet, each sized for the largest packet the interface can deliver
/// (64 KiB on loopback and with receive offload), so 32 MiB hold 500
/// packets and a busy two-core machine drops them while the capture thread
/// waits for a CPU. TPACKET_V3 packs packets into blocks (32 MiB hold
/// 32 MiB of packets) and, with this timeout, still delivers them within
/// about a millisecond. `--immediate` gives libpcap's immediate mode.
const BLOCK_TIMEOUT_MS: i32 = 1;
/// A batch goes to the queue when it holds this much, or when the ring is
/// empty, whichever comes first.
const BATCH_PACKETS: usize = 1024;
const BATCH_BYTES: usize = 1 << 20;
/// Batches the queue holds at most (its bytes are capped separately).
const QUEUE_BATCHES: usize = 4096;
/// Spare batch buffers kept for reuse.
const SPARES: usize = 8;
/// After a stop request, at most this many packets still in the ring are
/// read; the rest arrived after the stop.
const DRAIN_MAX: u64 = 1 << 20;
/// Kernel statistics are read every this many packets (and when idle).
const STATS_EVERY: u64 = 8192;

/// What to capture and how much to buffer.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    pub interfaces: Vec<String>,
    pub ports: PortSet,
    pub auto: bool,
    /// `-f`, ANDed with the port filter in the kernel.
    pub filter: Option<String>,
    /// Kernel ring per interface, bytes.
    pub kernel_buffer: usize,
    /// Packet bytes waiting for the decoder, at most.
    pub queue_bytes: usize,
    /// libpcap's immediate mode (see [`BLOCK_TIMEOUT_MS`]).
    pub immediate: bool,
}

/// What libpcap can open, with addresses, for `-D`.
pub struct InterfaceInfo {
    pub name: String,
    pub description: Option<String>,
    pub addresses: Vec<std::net::IpAddr>,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
    /// A network interface (or `any`), rather than a pseudo-device such
    /// as nflog or a D-Bus bus, which carry no TCP/IP.
    pub network: bool,
}

pub fn list_interfaces() -> Result<Vec<InterfaceInfo>, CaptureError> {
    let devices = pcap::Device::list()
        .map_err(|e| CaptureError::Live(format!("cannot list the interfaces: {e}")))?;
    Ok(devices
        .into_iter()
        .map(|d| InterfaceInfo {
            network: d.name == "any"
                || std::path::Path::new("/sys/class/net")
                    .join(&d.name)
                    .exists(),
            up: d.name == "any" || d.flags.is_up(),
            running: d.name == "any" || d.flags.is_running(),
            loopback: d.flags.is_loopback(),
            addresses: d.addresses.iter().map(|a| a.addr).collect(),
            description: d.desc,
            name: d.name,
        })
        .collect())
}

/// A clear sentence for an interface that cannot be captured on, before
/// libpcap is asked: it does not exist, or it is down.
fn check_interface(name: &str, known: &[InterfaceInfo]) -> Result<(), CaptureError> {
    if name == "any" {
        return Ok(());
    }
    match known.iter().find(|i| i.name == name) {
        None => Err(CaptureError::Live(format!(
            "there is no interface named '{name}'; `zmqtrace -D` lists the interfaces"
        ))),
        Some(i) if i.network && !i.up => Err(CaptureError::Live(format!(
            "interface '{name}' is down: bring it up (`ip link set {name} up`) or capture on another one (`zmqtrace -D` lists them)"
        ))),
        Some(_) => Ok(()),
    }
}

struct Handle {
    name: String,
    capture: pcap::Capture<pcap::Active>,
    link: LinkType,
}

/// The interfaces, open and filtered, not yet read.
pub struct OpenCapture {
    config: LiveConfig,
    handles: Vec<Handle>,
}

/// Open every interface of `config` with the kernel filter set. Needs
/// `CAP_NET_RAW`; nothing is read until [`OpenCapture::start`].
pub fn open(config: LiveConfig) -> Result<OpenCapture, CaptureError> {
    let known = list_interfaces()?;
    for name in &config.interfaces {
        check_interface(name, &known)?;
    }
    let first = config
        .interfaces
        .first()
        .map_or("an interface", |s| s.as_str());
    if !privilege::can_capture() {
        return Err(CaptureError::Live(privilege::missing_capability(first)));
    }
    let spec = FilterSpec {
        listed: config.ports.clone(),
        auto: config.auto,
        user: config.filter.clone(),
    };
    let expr = spec.expression(&[]);
    let mut handles = Vec::new();
    for name in &config.interfaces {
        let failed = |e: pcap::Error| {
            let text = e.to_string();
            let text = text.trim_start_matches("libpcap error: ").to_string();
            if text.contains("not permitted") || text.contains("ermission denied") {
                CaptureError::Live(privilege::missing_capability(name))
            } else if text.is_empty() {
                CaptureError::Live(format!(
                    "cannot capture on {name}: libpcap could not open it"
                ))
            } else {
                CaptureError::Live(format!("cannot capture on {name}: {text}"))
            }
        };
        let capture = pcap::Capture::from_device(name.as_str())
            .map_err(failed)?
            .snaplen(SNAPLEN)
            .immediate_mode(config.immediate)
            .buffer_size(i32::try_from(config.kernel_buffer).unwrap_or(i32::MAX))
            .timeout(BLOCK_TIMEOUT_MS)
            .promisc(false)
            .open()
            .map_err(failed)?;
        let mut capture = capture.setnonblock().map_err(failed)?;
        let link = LinkType(u32::try_from(capture.get_datalink().0).unwrap_or(u32::MAX));
        if !link.is_supported() {
            return Err(CaptureError::UnsupportedLink {
                name: name.clone(),
                link: link.name(),
            });
        }
        capture
            .filter(&expr, true)
            .map_err(|e| CaptureError::Filter {
                expr: config.filter.clone().unwrap_or_else(|| expr.clone()),
                reason: e
                    .to_string()
                    .trim_start_matches("libpcap error: ")
                    .to_string(),
            })?;
        handles.push(Handle {
            name: name.clone(),
            capture,
            link,
        });
    }
    Ok(OpenCapture { config, handles })
}

impl OpenCapture {
    /// Each interface with its link type.
    pub fn links(&self) -> Vec<(String, LinkType)> {
        self.handles
            .iter()
            .map(|h| (h.name.clone(), h.link))
            .collect()
    }

    /// Start one capture thread per interface. Setting `stop` (Ctrl-C,
    /// SIGTERM) ends the capture: each thread reads what its ring already
    /// holds, then the source ends once the decoder has read the queue.
    pub fn start(self, stop: Arc<AtomicBool>) -> Result<LiveSource, CaptureError> {
        let (tx, rx) = mpsc::sync_channel(QUEUE_BATCHES);
        let shared = Arc::new(Shared {
            stop,
            queued_bytes: AtomicUsize::new(0),
            queue_cap: self.config.queue_bytes,
            queue_dropped: AtomicU64::new(0),
            kernel_dropped: self.handles.iter().map(|_| AtomicU64::new(0)).collect(),
            found: Mutex::new(Found::default()),
            generation: AtomicU64::new(0),
            spares: Mutex::new(Vec::new()),
            warnings: Mutex::new(Vec::new()),
            spec: FilterSpec {
                listed: self.config.ports.clone(),
                auto: self.config.auto,
                user: self.config.filter.clone(),
            },
        });
        let mut threads = Vec::new();
        for (index, handle) in self.handles.into_iter().enumerate() {
            let tx = tx.clone();
            let worker = Worker::new(handle, index, tx, Arc::clone(&shared));
            let thread = std::thread::Builder::new()
                .name(format!("capture-{index}"))
                .spawn(move || worker.run())
                .map_err(|e| CaptureError::Live(format!("cannot start a capture thread: {e}")))?;
            threads.push(thread);
        }
        Ok(LiveSource {
            rx: Some(rx),
            current: Batch::new(LinkType::ETHERNET),
            pos: 0,
            shared,
            threads,
            error: None,
        })
    }
}

/// Ports found at runtime, shared by the capture threads.
#[derive(Default)]
struct Found {
    ports: Vec<u16>,
    refused: u64,
}

/// Whether a batch of `weight` bytes fits behind `queued` bytes. An empty
/// queue always takes it: a full batch weighs more than BATCH_BYTES, which
/// may exceed a small `--queue-mib`, and refusing it then would drop all.
fn queue_admits(queued: usize, weight: usize, cap: usize) -> bool {
    queued == 0 || queued.saturating_add(weight) <= cap
}

struct Shared {
    stop: Arc<AtomicBool>,
    queued_bytes: AtomicUsize,
    queue_cap: usize,
    queue_dropped: AtomicU64,
    /// Per interface, as libpcap counts them since the start.
    kernel_dropped: Vec<AtomicU64>,
    found: Mutex<Found>,
    /// Bumped whenever `found` grows, so each thread widens its filter.
    generation: AtomicU64,
    spares: Mutex<Vec<Batch>>,
    warnings: Mutex<Vec<String>>,
    spec: FilterSpec,
}

impl Shared {
    /// Accept `ports` as ZMTP ports unless that would pass the cap.
    fn add_found(&self, ports: &[u16]) -> bool {
        let Ok(mut found) = self.found.lock() else {
            return false;
        };
        let new: Vec<u16> = ports
            .iter()
            .copied()
            .filter(|p| !found.ports.contains(p))
            .collect();
        if new.is_empty() {
            return true;
        }
        if found.ports.len() + new.len() > MAX_FOUND_PORTS {
            found.refused += 1;
            return false;
        }
        found.ports.extend(new);
        self.generation.fetch_add(1, Ordering::Release);
        true
    }

    fn spare(&self, link: LinkType) -> Batch {
        let spare = self.spares.lock().ok().and_then(|mut s| s.pop());
        match spare {
            Some(mut b) => {
                b.link = link;
                b
            }
            None => Batch::new(link),
        }
    }

    fn recycle(&self, mut batch: Batch) {
        batch.clear();
        if let Ok(mut spares) = self.spares.lock() {
            if spares.len() < SPARES {
                spares.push(batch);
            }
        }
    }

    fn warn(&self, warning: String) {
        if let Ok(mut w) = self.warnings.lock() {
            if !w.contains(&warning) {
                w.push(warning);
            }
        }
    }
}

struct Entry {
    ts: Timestamp,
    orig_len: u32,
    start: usize,
    end: usize,
}

/// Packets of one interface, copied out of the ring into one buffer.
struct Batch {
    link: LinkType,
    data: Vec<u8>,
    packets: Vec<Entry>,
}

impl Batch {
    fn new(link: LinkType) -> Self {
        Batch {
            link,
            data: Vec::new(),
            packets: Vec::new(),
        }
    }

    fn push(&mut self, ts: Timestamp, orig_len: u32, data: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(data);
        self.packets.push(Entry {
            ts,
            orig_len,
            start,
            end: self.data.len(),
        });
    }

    fn is_full(&self) -> bool {
        self.packets.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }

    /// What the batch weighs against the queue's byte cap.
    fn weight(&self) -> usize {
        self.data.len() + self.packets.len() * std::mem::size_of::<Entry>()
    }

    fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
    }
}

enum Msg {
    Batch(Batch),
    /// The interface failed (it went down, disappeared); the sentence.
    Failed(String),
}

/// One capture thread.
struct Worker {
    handle: Handle,
    index: usize,
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    selector: Option<Selector>,
    batch: Batch,
    generation: u64,
    /// The found ports in the attached kernel filter.
    filter_ports: Vec<u16>,
    /// That filter plus a placeholder port, ready to patch; made again
    /// when the ring is next empty after it was used.
    template: Option<Template>,
    template_due: bool,
    since_stats: u64,
}

impl Worker {
    fn new(handle: Handle, index: usize, tx: SyncSender<Msg>, shared: Arc<Shared>) -> Self {
        // Without auto-detection the kernel filter passes the rpc ports
        // only, and every packet is kept as it is.
        let selector = shared
            .spec
            .auto
            .then(|| Selector::new(&shared.spec.listed, true));
        let template = shared
            .spec
            .auto
            .then(|| Template::new(&handle.capture, &shared.spec, &[]))
            .flatten();
        let batch = shared.spare(handle.link);
        Worker {
            handle,
            index,
            tx,
            shared,
            selector,
            batch,
            generation: 0,
            filter_ports: Vec::new(),
            template,
            template_due: false,
            since_stats: 0,
        }
    }

    fn run(mut self) {
        let mut drain_left: Option<u64> = None;
        loop {
            if drain_left.is_none() && self.shared.stop.load(Ordering::Relaxed) {
                drain_left = Some(DRAIN_MAX);
            }
            if self.shared.generation.load(Ordering::Acquire) != self.generation {
                self.widen();
            }
            let link = self.handle.link;
            let found = match self.handle.capture.next_packet() {
                Ok(p) => {
                    let ts = Timestamp::from_secs_micros(
                        u64::try_from(p.header.ts.tv_sec).unwrap_or(0),
                        u64::try_from(p.header.ts.tv_usec).unwrap_or(0),
                    );
                    let packet = Packet {
                        ts,
                        link,
                        orig_len: p.header.len,
                        data: p.data,
                    };
                    Self::take(&mut self.selector, &mut self.batch, &self.shared, &packet)
                }
                Err(pcap::Error::TimeoutExpired) => {
                    // The ring is empty: hand over what we have, then wait.
                    if !self.send() {
                        break;
                    }
                    self.read_stats();
                    if drain_left.is_some() {
                        break;
                    }
                    if self.template_due {
                        // Compiling takes a millisecond or more: done while
                        // the ring is empty, not while packets wait.
                        self.template_due = false;
                        self.template = Template::new(
                            &self.handle.capture,
                            &self.shared.spec,
                            &self.filter_ports,
                        );
                    }
                    self.wait();
                    continue;
                }
                Err(e) => {
                    let _ = self.send();
                    let text = e.to_string();
                    let text = text.trim_start_matches("libpcap error: ");
                    let _ = self.tx.send(Msg::Failed(format!(
                        "the capture on {} stopped: {text}",
                        self.handle.name
                    )));
                    break;
                }
            };
            if found {
                // Widen at once: the rest of this connection is on its way.
                self.widen();
            }
            if self.batch.is_full() && !self.send() {
                break;
            }
            self.since_stats += 1;
            if self.since_stats >= STATS_EVERY {
                self.read_stats();
            }
            if let Some(left) = &mut drain_left {
                *left = left.saturating_sub(1);
                if *left == 0 {
                    break;
                }
            }
        }
        let _ = self.send();
        self.read_stats();
    }

    /// Keep, hold or skip one packet; true when it revealed a new ZMTP port.
    fn take(
        selector: &mut Option<Selector>,
        batch: &mut Batch,
        shared: &Shared,
        packet: &Packet<'_>,
    ) -> bool {
        let Some(selector) = selector else {
            batch.push(packet.ts, packet.orig_len, packet.data);
            return false;
        };
        let Sliced::Tcp(segment) = net::slice(packet) else {
            // Fragments and the like passed the kernel filter on a port
            // test; the engine counts them.
            batch.push(packet.ts, packet.orig_len, packet.data);
            return false;
        };
        match selector.judge(packet, &segment) {
            Verdict::Keep => {
                batch.push(packet.ts, packet.orig_len, packet.data);
                false
            }
            Verdict::Held | Verdict::Skip => false,
            Verdict::Zmtp { ports, held } => {
                if !shared.add_found(&ports) {
                    return false;
                }
                for port in ports {
                    selector.add_found(port);
                }
                for p in &held {
                    batch.push(p.ts, p.orig_len, &p.data);
                }
                batch.push(packet.ts, packet.orig_len, packet.data);
                true
            }
        }
    }

    /// Attach a kernel filter that also passes every port found so far.
    fn widen(&mut self) {
        let generation = self.shared.generation.load(Ordering::Acquire);
        let ports = match self.shared.found.lock() {
            Ok(found) => found.ports.clone(),
            Err(_) => return,
        };
        self.generation = generation;
        let new: Vec<u16> = ports
            .iter()
            .copied()
            .filter(|p| !self.filter_ports.contains(p))
            .collect();
        if new.is_empty() {
            return;
        }
        if let Some(selector) = &mut self.selector {
            for &port in &new {
                selector.add_found(port);
            }
        }
        let (capture, link) = (&self.handle.capture, self.handle.link);
        let patched = match (&self.template, new.as_slice()) {
            (Some(template), &[port]) => template.attach(capture, port, link),
            _ => Ok(false),
        };
        let result = match patched {
            Ok(true) => Ok(()),
            Ok(false) => kfilter::attach(capture, &self.shared.spec, &ports, link),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                self.filter_ports = ports;
                self.template = None;
                self.template_due = self.shared.spec.auto;
            }
            Err(e) => self.shared.warn(format!(
                "the kernel filter on {} could not be widened to the ZMTP ports found ({e}); their packets were not all captured",
                self.handle.name
            )),
        }
    }

    /// Hand the batch to the decoder, or drop and count it when the queue
    /// is full. False once the decoder has gone.
    fn send(&mut self) -> bool {
        if self.batch.packets.is_empty() {
            return true;
        }
        let weight = self.batch.weight();
        let count = self.batch.packets.len() as u64;
        let before = self.shared.queued_bytes.fetch_add(weight, Ordering::AcqRel);
        if !queue_admits(before, weight, self.shared.queue_cap) {
            self.shared.queued_bytes.fetch_sub(weight, Ordering::AcqRel);
            self.shared
                .queue_dropped
                .fetch_add(count, Ordering::Relaxed);
            self.batch.clear();
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, self.shared.spare(self.handle.link));
        match self.tx.try_send(Msg::Batch(batch)) {
            Ok(()) => true,
            Err(TrySendError::Full(Msg::Batch(batch))) => {
                self.shared.queued_bytes.fetch_sub(weight, Ordering::AcqRel);
                self.shared
                    .queue_dropped
                    .fetch_add(count, Ordering::Relaxed);
                self.shared.recycle(batch);
                true
            }
            Err(_) => false,
        }
    }

    fn read_stats(&mut self) {
        self.since_stats = 0;
        if let Ok(stats) = self.handle.capture.stats() {
            if let Some(slot) = self.shared.kernel_dropped.get(self.index) {
                slot.store(u64::from(stats.dropped), Ordering::Relaxed);
            }
        }
    }

    /// Sleep until the ring has a packet, or `POLL_MS` at most.
    fn wait(&self) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let mut fds = [PollFd::new(self.handle.capture.as_fd(), PollFlags::POLLIN)];
        // An error (EINTR) or a timeout just means: look again.
        let _ = poll(&mut fds, PollTimeout::from(POLL_MS));
    }
}

/// The decoder's end of the queue.
pub struct LiveSource {
    rx: Option<Receiver<Msg>>,
    current: Batch,
    pos: usize,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    error: Option<String>,
}

impl LiveSource {
    /// The next batch; false when every capture thread has ended.
    fn advance(&mut self) -> Result<bool, CaptureError> {
        let Some(rx) = &self.rx else {
            return Ok(false);
        };
        match rx.recv() {
            Ok(Msg::Batch(batch)) => {
                self.shared
                    .queued_bytes
                    .fetch_sub(batch.weight(), Ordering::AcqRel);
                let old = std::mem::replace(&mut self.current, batch);
                self.shared.recycle(old);
                self.pos = 0;
                Ok(true)
            }
            Ok(Msg::Failed(sentence)) => {
                // One interface failed: end the whole capture, after the
                // packets already read.
                self.shared.stop.store(true, Ordering::Relaxed);
                self.error.get_or_insert(sentence);
                Ok(true)
            }
            Err(_) => match self.error.take() {
                Some(sentence) => Err(CaptureError::Live(sentence)),
                None => Ok(false),
            },
        }
    }

    /// Counters so far (final once the source has ended or been stopped).
    pub fn counters(&self) -> LiveCounters {
        let (ports, refused) = match self.shared.found.lock() {
            Ok(found) => (found.ports.clone(), found.refused),
            Err(_) => (Vec::new(), 0),
        };
        LiveCounters {
            kernel_dropped: self
                .shared
                .kernel_dropped
                .iter()
                .map(|d| d.load(Ordering::Relaxed))
                .sum(),
            queue_dropped: self.shared.queue_dropped.load(Ordering::Relaxed),
            auto_ports: ports,
            auto_ports_refused: refused,
        }
    }
}

impl PacketSource for LiveSource {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        while self.pos >= self.current.packets.len() {
            if !self.advance()? {
                return Ok(None);
            }
        }
        let Some(entry) = self.current.packets.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        Ok(Some(Packet {
            ts: entry.ts,
            link: self.current.link,
            orig_len: entry.orig_len,
            data: self
                .current
                .data
                .get(entry.start..entry.end)
                .unwrap_or_default(),
        }))
    }

    fn precision(&self) -> Precision {
        Precision::Micro
    }

    fn end_warning(&self) -> Option<String> {
        let warnings = self.shared.warnings.lock().ok()?;
        (!warnings.is_empty()).then(|| warnings.join("\n"))
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Without a reader the threads stop at their next batch instead of
        // counting the rest as queue drops.
        self.rx = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    fn live_counters(&self) -> Option<LiveCounters> {
        Some(self.counters())
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_heavier_than_the_queue_still_enters_an_empty_queue() {
        let cap = 1 << 20;
        assert!(queue_admits(0, BATCH_BYTES + 4096, cap));
        assert!(!queue_admits(1, BATCH_BYTES + 4096, cap));
        assert!(queue_admits(cap / 2, cap / 2, cap));
        assert!(!queue_admits(cap / 2, cap / 2 + 1, cap));
        assert!(!queue_admits(usize::MAX, 1, cap));
    }
}
