//! The input the command line asked for: capture files (`-r`), or live
//! interfaces (`-i`) opened, filtered and then left with no privileges;
//! and the `-w` file, opened before privileges go.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::live::{self, LiveConfig};
use super::privilege;
use super::{CaptureError, FileSource, FlowWriter, LinkType, MergedSource, PacketSource, PcapFile};
use crate::ports::PortSet;
use crate::time::Precision;

/// What to open.
pub struct InputSpec<'a> {
    pub read: &'a [String],
    pub interfaces: &'a [String],
    pub ports: &'a PortSet,
    /// The redis name service's ports: captured and written like the rpc
    /// ports, decoded as redis.
    pub redis_ports: &'a PortSet,
    pub auto: bool,
    pub filter: Option<&'a str>,
    pub write: Option<&'a str>,
    /// Who to become after opening, when started as root.
    pub user: &'a str,
    pub kernel_buffer: usize,
    pub queue_bytes: usize,
    pub immediate: bool,
    /// Live capture: the flag that stops it (set by SIGINT/SIGTERM too);
    /// a new one when not given.
    pub stop: Option<Arc<AtomicBool>>,
}

pub struct Input {
    pub source: Box<dyn PacketSource>,
    pub writer: Option<FlowWriter>,
    /// For a live capture, the line that says it has started.
    pub started: Option<String>,
}

pub fn open(spec: &InputSpec<'_>) -> Result<Input, CaptureError> {
    match (spec.read.is_empty(), spec.interfaces.is_empty()) {
        (false, false) => Err(CaptureError::Usage(
            "-i and -r cannot be used together: capture live with -i, or read files with -r".into(),
        )),
        (true, true) => Err(CaptureError::Usage(
            "no input: give a capture file with -r FILE (or -r - to read standard input), or an interface with -i IFACE (`zmqtrace -D` lists them)".into(),
        )),
        (false, true) => open_files(spec),
        (true, false) => open_live(spec),
    }
}

fn open_files(spec: &InputSpec<'_>) -> Result<Input, CaptureError> {
    if spec.read.iter().filter(|p| p.as_str() == "-").count() > 1 {
        return Err(CaptureError::Usage(
            "standard input (-r -) can be read only once".into(),
        ));
    }
    let mut sources: Vec<Box<dyn PacketSource>> = Vec::new();
    for path in spec.read {
        sources.push(Box::new(FileSource::open(path)?));
    }
    let source: Box<dyn PacketSource> = match sources.len() {
        1 => sources.remove(0),
        _ => Box::new(MergedSource::new(sources)),
    };
    let writer = match spec.write {
        Some(path) => {
            check_not_an_input(path, spec.read)?;
            let file = PcapFile::create(path, None, source.precision())?;
            Some(FlowWriter::selecting(
                file,
                &spec.ports.union(spec.redis_ports),
                spec.auto,
            ))
        }
        None => None,
    };
    Ok(Input {
        source,
        writer,
        started: None,
    })
}

/// `-r x.pcap -w x.pcap` would truncate the input before reading it.
fn check_not_an_input(path: &str, inputs: &[String]) -> Result<(), CaptureError> {
    let same = |input: &String| {
        input == path
            || matches!(
                (std::fs::canonicalize(input), std::fs::canonicalize(path)),
                (Ok(a), Ok(b)) if a == b
            )
    };
    if inputs.iter().any(same) {
        return Err(CaptureError::Usage(format!(
            "-w {path} is also an input (-r): write to another file"
        )));
    }
    Ok(())
}

fn open_live(spec: &InputSpec<'_>) -> Result<Input, CaptureError> {
    let interfaces = spec.interfaces;
    if interfaces.len() > 1 && interfaces.iter().any(|i| i == "any") {
        return Err(CaptureError::Usage(
            "-i any already captures on every interface: give it alone".into(),
        ));
    }
    if let Some(twice) = interfaces
        .iter()
        .enumerate()
        .find(|(n, i)| interfaces.iter().skip(n + 1).any(|j| j == *i))
        .map(|(_, i)| i)
    {
        return Err(CaptureError::Usage(format!(
            "interface {twice} is given twice with -i"
        )));
    }
    // Everything that can be refused is checked before anything is opened.
    let target = privilege::resolve(spec.user).map_err(CaptureError::Live)?;
    let opened = live::open(LiveConfig {
        interfaces: interfaces.to_vec(),
        ports: spec.ports.union(spec.redis_ports),
        auto: spec.auto,
        filter: spec.filter.map(str::to_string),
        kernel_buffer: spec.kernel_buffer,
        queue_bytes: spec.queue_bytes,
        immediate: spec.immediate,
    })?;
    let links = opened.links();
    let writer = match spec.write {
        Some(path) => {
            let link = one_link(&links)?;
            let file = PcapFile::create(path, Some(link), Precision::Micro)?;
            Some(FlowWriter::all(file))
        }
        None => None,
    };
    let who = privilege::drop_all(target.as_ref()).map_err(CaptureError::Live)?;
    let stop = spec
        .stop
        .clone()
        .unwrap_or_else(|| Arc::new(AtomicBool::new(false)));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second Ctrl-C ends at once (exit status 130), in case flushing
        // the output is what hangs.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| CaptureError::Live(format!("cannot handle signals: {e}")))?;
    }
    let source = opened.start(stop)?;
    let names: Vec<&str> = links.iter().map(|(name, _)| name.as_str()).collect();
    let listed = |ports: &PortSet| ports.to_string().replace(',', ", ");
    let mut what = format!("tcp port {}", listed(spec.ports));
    if spec.auto {
        what.push_str(" and ZMTP on any port");
    }
    what.push_str(&format!(", redis on {}", listed(spec.redis_ports)));
    let started = format!(
        "zmqtrace: capturing {what} on {}, as {who} with no capabilities; Ctrl-C to stop",
        names.join(", ")
    );
    Ok(Input {
        source: Box::new(source),
        writer,
        started: Some(started),
    })
}

/// A pcap file has one link type: all interfaces must share it.
fn one_link(links: &[(String, LinkType)]) -> Result<LinkType, CaptureError> {
    let Some((first_name, first)) = links.first() else {
        return Err(CaptureError::Usage("no interface to capture on".into()));
    };
    match links.iter().find(|(_, link)| link != first) {
        Some((name, link)) => Err(CaptureError::Usage(format!(
            "-w writes one link type, but {first_name} is {} and {name} is {}: capture them with -i any, or one at a time",
            first.name(),
            link.name()
        ))),
        None => Ok(*first),
    }
}
