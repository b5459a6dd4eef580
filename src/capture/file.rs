//! Offline captures: pcap (µs, ns, either byte order) and pcapng (several
//! sections, interfaces, link types and timestamp resolutions in one file),
//! plain or gzip-compressed, from a path or from standard input.
//!
//! The reader is `pcap-parser` rather than libpcap: libpcap 1.10 refuses a
//! pcapng file whose interfaces have different link types ("an interface has
//! a type 276 different from the type of the first interface"), which is what
//! `tcpdump -i any` next to an Ethernet capture merged by `mergecap` produces.
//! pcap-parser also hands out packets as slices of its read buffer, so the hot
//! path copies nothing.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use super::{CaptureError, InputProgress, LinkType, Packet, PacketSource};
use crate::time::{Precision, Timestamp};

/// Initial read buffer: holds many packets, and any single loopback segment.
const INITIAL_BUFFER: usize = 1 << 20;
/// A record larger than this is taken for corruption rather than buffered.
const MAX_RECORD: usize = 16 << 20;
/// A pcapng section header larger than this is taken for corruption.
const MAX_SECTION_HEADER: usize = 1 << 20;
/// libpcap's largest snapshot length; a record may claim this much even when
/// the file header's snaplen is smaller (some writers leave it 0).
const MAX_SNAPLEN: u32 = 262_144;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

pub struct FileSource {
    name: String,
    reader: Box<dyn PcapReaderIterator + Send>,
    format: Format,
    precision: Precision,
    /// Bytes of the block handed out last, consumed on the next call so the
    /// packet can borrow the reader's buffer in between.
    pending_consume: usize,
    last_ts: Timestamp,
    io_error: Arc<Mutex<Option<String>>>,
    /// Bytes of the file (compressed, if it is) read so far.
    read: Arc<AtomicU64>,
    /// The file's size; unknown for standard input and pipes.
    size: Option<u64>,
    end_warning: Option<String>,
    finished: bool,
}

enum Format {
    Legacy {
        link: LinkType,
        snaplen: u32,
        big_endian: bool,
    },
    Ng {
        interfaces: Vec<Interface>,
    },
}

#[derive(Clone, Copy)]
struct Interface {
    link: LinkType,
    units_per_sec: u64,
    offset_secs: i64,
}

/// What the reader's last step asked for, decided while the block is
/// borrowed and acted on after the borrow ends.
enum Step {
    Packet {
        consume: usize,
        start: usize,
        len: usize,
        orig_len: u32,
        ts: Timestamp,
        link: LinkType,
    },
    Skip(usize),
    Refill,
    Grow,
    Eof,
    Truncated,
    Fail(String),
}

impl FileSource {
    /// Open `path`, or standard input for `-`.
    pub fn open(path: &str) -> Result<FileSource, CaptureError> {
        let name = if path == "-" {
            "standard input".to_string()
        } else {
            format!("'{path}'")
        };
        let open_err = |reason: String| CaptureError::Open {
            name: name.clone(),
            reason,
        };
        let mut size = None;
        let raw: Box<dyn Read + Send> = if path == "-" {
            Box::new(io::stdin())
        } else {
            let meta = std::fs::metadata(path).map_err(|e| open_err(io_reason(&e)))?;
            if meta.is_dir() {
                return Err(open_err("it is a directory, not a capture file".into()));
            }
            size = meta.is_file().then_some(meta.len());
            Box::new(File::open(path).map_err(|e| open_err(io_reason(&e)))?)
        };
        let io_error = Arc::new(Mutex::new(None));
        let mut source = Self::from_reader(name, raw, io_error)?;
        source.size = size;
        Ok(source)
    }

    /// Read a capture from any byte stream (used by tests and by `open`).
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<FileSource, CaptureError> {
        Self::from_reader(
            name.to_string(),
            Box::new(Cursor::new(bytes)),
            Arc::new(Mutex::new(None)),
        )
    }

    fn from_reader(
        name: String,
        raw: Box<dyn Read + Send>,
        io_error: Arc<Mutex<Option<String>>>,
    ) -> Result<FileSource, CaptureError> {
        let open_err = |e: io::Error| CaptureError::Open {
            name: name.clone(),
            reason: io_reason(&e),
        };
        let read = Arc::new(AtomicU64::new(0));
        let mut input: Box<dyn Read + Send> = Box::new(Retrying {
            inner: Box::new(Counting {
                inner: raw,
                read: Arc::clone(&read),
            }),
            error: Arc::clone(&io_error),
        });
        let mut head = read_prefix(&mut input, 4).map_err(open_err)?;
        if head.starts_with(&GZIP_MAGIC) {
            let gz = flate2::read::MultiGzDecoder::new(Cursor::new(head).chain(input));
            input = Box::new(Retrying {
                inner: Box::new(gz),
                error: Arc::clone(&io_error),
            });
            head = read_prefix(&mut input, 4).map_err(|e| CaptureError::NotACapture {
                name: name.clone(),
                detail: format!("gzip data could not be decompressed: {e}"),
            })?;
        }
        if head.is_empty() {
            return Err(CaptureError::NotACapture {
                name,
                detail: "it is empty".into(),
            });
        }
        let not_capture = |head: &[u8]| CaptureError::NotACapture {
            name: name.clone(),
            detail: describe_prefix(head),
        };
        let (reader, format, precision): (Box<dyn PcapReaderIterator + Send>, Format, Precision) =
            if head.starts_with(&PCAPNG_MAGIC) {
                let header = read_section_header(&mut input, head, &name)?;
                let reader = PcapNGReader::new(INITIAL_BUFFER, Cursor::new(header).chain(input))
                    .map_err(|e| corrupt(&name, 0, &describe_pcap_error(&e)))?;
                (
                    Box::new(reader),
                    Format::Ng {
                        interfaces: Vec::new(),
                    },
                    Precision::Micro,
                )
            } else if let Some(precision) = legacy_precision(&head) {
                let mut header = head;
                let rest = read_prefix(&mut input, 24 - header.len()).map_err(open_err)?;
                header.extend_from_slice(&rest);
                if header.len() < 24 {
                    return Err(CaptureError::NotACapture {
                        name,
                        detail: format!(
                            "its pcap file header is cut short at {} bytes",
                            header.len()
                        ),
                    });
                }
                let reader =
                    LegacyPcapReader::new(INITIAL_BUFFER, Cursor::new(header).chain(input))
                        .map_err(|e| corrupt(&name, 0, &describe_pcap_error(&e)))?;
                (
                    Box::new(reader),
                    Format::Legacy {
                        link: LinkType::ETHERNET,
                        snaplen: 0,
                        big_endian: false,
                    },
                    precision,
                )
            } else {
                return Err(not_capture(&head));
            };
        Ok(FileSource {
            name,
            reader,
            format,
            precision,
            pending_consume: 0,
            last_ts: Timestamp::ZERO,
            io_error,
            read,
            size: None,
            end_warning: None,
            finished: false,
        })
    }

    fn step(&mut self) -> Step {
        let base = self.reader.data().as_ptr() as usize;
        match self.reader.next() {
            Ok((consume, block)) => match block {
                PcapBlockOwned::LegacyHeader(header) => {
                    self.format = Format::Legacy {
                        link: LinkType(u32::try_from(header.network.0).unwrap_or(u32::MAX)),
                        snaplen: header.snaplen,
                        big_endian: header.is_bigendian(),
                    };
                    Step::Skip(consume)
                }
                PcapBlockOwned::Legacy(record) => {
                    let Format::Legacy { link, .. } = self.format else {
                        return Step::Fail("a pcap record inside a pcapng file".into());
                    };
                    let fraction = u64::from(record.ts_usec);
                    let secs = u64::from(record.ts_sec);
                    let ts = match self.precision {
                        Precision::Micro => Timestamp::from_secs_micros(secs, fraction),
                        Precision::Nano => Timestamp::from_secs_nanos(secs, fraction),
                    };
                    Step::Packet {
                        consume,
                        start: (record.data.as_ptr() as usize).saturating_sub(base),
                        len: record.data.len(),
                        orig_len: record.origlen,
                        ts,
                        link,
                    }
                }
                PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                    // A new section starts its own interface numbering.
                    self.format = Format::Ng {
                        interfaces: Vec::new(),
                    };
                    Step::Skip(consume)
                }
                PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                    let Some(units_per_sec) = idb.ts_resolution().filter(|&r| r > 0) else {
                        return Step::Fail(format!(
                            "interface description has an unusable timestamp resolution (if_tsresol {:#04x})",
                            idb.if_tsresol
                        ));
                    };
                    if units_per_sec > 1_000_000 {
                        self.precision = Precision::Nano;
                    }
                    if let Format::Ng { interfaces } = &mut self.format {
                        interfaces.push(Interface {
                            link: LinkType(u32::try_from(idb.linktype.0).unwrap_or(u32::MAX)),
                            units_per_sec,
                            offset_secs: idb.if_tsoffset,
                        });
                    }
                    Step::Skip(consume)
                }
                PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                    let Format::Ng { interfaces } = &self.format else {
                        return Step::Fail("a pcapng block inside a pcap file".into());
                    };
                    let Some(interface) = usize::try_from(epb.if_id)
                        .ok()
                        .and_then(|i| interfaces.get(i))
                    else {
                        return Step::Fail(format!(
                            "a packet names interface {}, but only {} interfaces are described",
                            epb.if_id,
                            interfaces.len()
                        ));
                    };
                    let caplen = usize::try_from(epb.caplen).unwrap_or(usize::MAX);
                    if caplen > epb.data.len() {
                        return Step::Fail(format!(
                            "an enhanced packet block says {} captured bytes but holds {}",
                            epb.caplen,
                            epb.data.len()
                        ));
                    }
                    let ts = ng_timestamp(epb.ts_high, epb.ts_low, interface);
                    Step::Packet {
                        consume,
                        start: (epb.data.as_ptr() as usize).saturating_sub(base),
                        len: caplen,
                        orig_len: epb.origlen,
                        ts,
                        link: interface.link,
                    }
                }
                PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                    let Format::Ng { interfaces } = &self.format else {
                        return Step::Fail("a pcapng block inside a pcap file".into());
                    };
                    let Some(interface) = interfaces.first() else {
                        return Step::Fail(
                            "a simple packet block comes before any interface".into(),
                        );
                    };
                    // Simple packet blocks carry no time; they inherit the last one.
                    let len = spb
                        .data
                        .len()
                        .min(usize::try_from(spb.origlen).unwrap_or(usize::MAX));
                    Step::Packet {
                        consume,
                        start: (spb.data.as_ptr() as usize).saturating_sub(base),
                        len,
                        orig_len: spb.origlen,
                        ts: self.last_ts,
                        link: interface.link,
                    }
                }
                PcapBlockOwned::NG(_) => Step::Skip(consume),
            },
            Err(PcapError::Eof) => Step::Eof,
            Err(PcapError::Incomplete(_)) => Step::Refill,
            Err(PcapError::BufferTooSmall) => Step::Grow,
            Err(PcapError::UnexpectedEof) => Step::Truncated,
            Err(e) => Step::Fail(describe_pcap_error(&e)),
        }
    }

    /// A legacy record whose header claims more bytes than any capture of
    /// this file can hold is corruption, not a file cut short.
    fn impossible_record(&self) -> Option<String> {
        let Format::Legacy {
            snaplen,
            big_endian,
            ..
        } = self.format
        else {
            return None;
        };
        let field: [u8; 4] = self.reader.data().get(8..12)?.try_into().ok()?;
        let caplen = if big_endian {
            u32::from_be_bytes(field)
        } else {
            u32::from_le_bytes(field)
        };
        let limit = snaplen.max(MAX_SNAPLEN);
        (caplen > limit).then(|| {
            format!("a record claims {caplen} captured bytes, more than the file's snapshot length {snaplen} allows")
        })
    }

    fn read_error(&self) -> Option<String> {
        self.io_error.lock().ok().and_then(|mut e| e.take())
    }
}

impl PacketSource for FileSource {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.pending_consume > 0 {
            self.reader.consume(self.pending_consume);
            self.pending_consume = 0;
        }
        if self.finished {
            return Ok(None);
        }
        loop {
            let offset = u64::try_from(self.reader.consumed()).unwrap_or(u64::MAX);
            match self.step() {
                Step::Packet {
                    consume,
                    start,
                    len,
                    orig_len,
                    ts,
                    link,
                } => {
                    self.pending_consume = consume;
                    self.last_ts = ts;
                    let data = self
                        .reader
                        .data()
                        .get(start..start.saturating_add(len))
                        .unwrap_or_default();
                    return Ok(Some(Packet {
                        ts,
                        link,
                        orig_len,
                        data,
                    }));
                }
                Step::Skip(consume) => self.reader.consume(consume),
                Step::Refill => {
                    let failed = self.reader.refill().err().map(|e| describe_pcap_error(&e));
                    if let Some(described) = failed {
                        let detail = self.read_error().unwrap_or(described);
                        return Err(corrupt(&self.name, offset, &detail));
                    }
                    if let Some(detail) = self.read_error() {
                        return Err(corrupt(&self.name, offset, &detail));
                    }
                }
                Step::Grow => {
                    if let Some(detail) = self.impossible_record() {
                        return Err(corrupt(&self.name, offset, &detail));
                    }
                    let capacity = self.reader.data().len().max(INITIAL_BUFFER);
                    let wanted = capacity.saturating_mul(2);
                    if wanted > MAX_RECORD || !self.reader.grow(wanted) {
                        return Err(corrupt(
                            &self.name,
                            offset,
                            &format!("a record claims more than {} MiB", MAX_RECORD >> 20),
                        ));
                    }
                    let failed = self.reader.refill().err().map(|e| describe_pcap_error(&e));
                    if let Some(detail) = failed {
                        return Err(corrupt(&self.name, offset, &detail));
                    }
                }
                Step::Eof => {
                    self.finished = true;
                    return Ok(None);
                }
                Step::Truncated => {
                    if let Some(detail) = self.impossible_record() {
                        return Err(corrupt(&self.name, offset, &detail));
                    }
                    self.finished = true;
                    self.end_warning = Some(format!(
                        "{} ends in the middle of a record at byte {offset} (the file was cut short); decoded everything before the cut",
                        self.name
                    ));
                    return Ok(None);
                }
                Step::Fail(detail) => {
                    let detail = self.read_error().unwrap_or(detail);
                    return Err(corrupt(&self.name, offset, &detail));
                }
            }
        }
    }

    fn precision(&self) -> Precision {
        self.precision
    }

    fn end_warning(&self) -> Option<String> {
        self.end_warning.clone()
    }

    fn progress(&self) -> Option<InputProgress> {
        Some(InputProgress {
            read: self.read.load(Ordering::Relaxed),
            total: self.size,
        })
    }
}

/// Counts the bytes read from the file itself, for progress.
struct Counting {
    inner: Box<dyn Read + Send>,
    read: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads that retry on EINTR and remember the last I/O error's text, which
/// pcap-parser reduces to a bare `ReadError`.
struct Retrying {
    inner: Box<dyn Read + Send>,
    error: Arc<Mutex<Option<String>>>,
}

impl Read for Retrying {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if let Ok(mut slot) = self.error.lock() {
                        *slot = Some(format!("read failed: {}", io_reason(&e)));
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }
}

/// Up to `n` bytes from the start of `input`, fewer only at end of input.
fn read_prefix(input: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    input
        .take(u64::try_from(n).unwrap_or(u64::MAX))
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// The whole first section header block, so pcap-parser's first read sees it.
fn read_section_header(
    input: &mut Box<dyn Read + Send>,
    mut head: Vec<u8>,
    name: &str,
) -> Result<Vec<u8>, CaptureError> {
    let short = |len: usize| CaptureError::NotACapture {
        name: name.to_string(),
        detail: format!("its pcapng section header is cut short at {len} bytes"),
    };
    let more = read_prefix(input, 12 - head.len()).map_err(|_| short(head.len()))?;
    head.extend_from_slice(&more);
    let (Some(len_bytes), Some(magic)) = (head.get(4..8), head.get(8..12)) else {
        return Err(short(head.len()));
    };
    let len_bytes: [u8; 4] = len_bytes.try_into().unwrap_or_default();
    let block_len = match magic {
        [0x4d, 0x3c, 0x2b, 0x1a] => u32::from_le_bytes(len_bytes),
        [0x1a, 0x2b, 0x3c, 0x4d] => u32::from_be_bytes(len_bytes),
        _ => {
            return Err(corrupt(
                name,
                8,
                "the pcapng byte-order magic is neither 1a2b3c4d nor 4d3c2b1a",
            ))
        }
    };
    let block_len = usize::try_from(block_len).unwrap_or(usize::MAX);
    if block_len < 28 || block_len % 4 != 0 || block_len > MAX_SECTION_HEADER {
        return Err(corrupt(
            name,
            4,
            &format!("the section header block length {block_len} is impossible"),
        ));
    }
    let rest = read_prefix(input, block_len - head.len()).map_err(|_| short(head.len()))?;
    head.extend_from_slice(&rest);
    if head.len() < block_len {
        return Err(short(head.len()));
    }
    Ok(head)
}

fn legacy_precision(head: &[u8]) -> Option<Precision> {
    match head.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0xc3, 0xd4] => Some(Precision::Micro),
        // Kuznetsov's modified pcap (µs).
        [0x34, 0xcd, 0xb2, 0xa1] | [0xa1, 0xb2, 0xcd, 0x34] => Some(Precision::Micro),
        [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d] => Some(Precision::Nano),
        _ => None,
    }
}

fn ng_timestamp(high: u32, low: u32, interface: &Interface) -> Timestamp {
    let ticks = (u128::from(high) << 32) | u128::from(low);
    let res = u128::from(interface.units_per_sec);
    let nanos = ticks / res * 1_000_000_000 + ticks % res * 1_000_000_000 / res;
    let offset = i128::from(interface.offset_secs) * 1_000_000_000;
    let total = (i128::try_from(nanos).unwrap_or(i128::MAX)).saturating_add(offset);
    Timestamp::from_nanos(u64::try_from(total.max(0)).unwrap_or(u64::MAX))
}

fn corrupt(name: &str, offset: u64, detail: &str) -> CaptureError {
    CaptureError::Corrupt {
        name: name.to_string(),
        offset,
        detail: detail.to_string(),
    }
}

fn describe_pcap_error<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::Eof => "unexpected end of data".into(),
        PcapError::BufferTooSmall => "a record is larger than the read buffer".into(),
        PcapError::UnexpectedEof => "the file ends in the middle of a record".into(),
        PcapError::ReadError => "the data could not be read".into(),
        PcapError::Incomplete(_) => "the data ends early".into(),
        PcapError::HeaderNotRecognized => "the file header is not recognised".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("a block does not parse ({})", kind.description())
        }
    }
}

fn describe_prefix(head: &[u8]) -> String {
    let printable = head
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if printable {
        format!(
            "it starts with the text {:?}",
            String::from_utf8_lossy(head)
        )
    } else {
        let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
        format!("it starts with the bytes {}", hex.join(" "))
    }
}

pub(super) fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
