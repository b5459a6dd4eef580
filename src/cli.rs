//! The command line (see docs/output-contract.md): parse, run, and turn every
//! failure into one sentence on stderr with the contract's exit status.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::capture::open::{self as input_open, InputSpec};
use crate::capture::{BpfFilter, CaptureError, FlowWriter, PacketSource};
use crate::decode::{DecodeConfig, Decoders};
use crate::oslo::{OsloConfig, Redaction};
use crate::pipeline::Engine;
use crate::ports::PortSet;
use crate::report::flows::FlowsReport;
use crate::report::stats::StatsReport;
use crate::report::trace::TraceReport;
use crate::report::Sink;
use crate::report::{DecodeReport, Format};
use crate::tcp::TcpConfig;

/// Exit status for a runtime error (bad file, no permission).
const EXIT_RUNTIME: u8 = 1;
/// Exit status for bad usage.
const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "zmqtrace",
    version,
    about = "Trace OpenStack ZeroMQ RPC traffic from packet captures or live interfaces",
    long_about = "Trace OpenStack ZeroMQ RPC traffic (oslo.messaging impl_zmq and zmq drivers) \
                  from packet captures or live interfaces: TCP streams reassembled byte for byte, then every ZMTP \
                  greeting, command and message (ZMTP 1.0, 2.0, 3.0, 3.1; NULL, PLAIN, CURVE).\n\n\
                  Without a subcommand, zmqtrace prints each message as it crossed the wire.",
    after_help = "Examples:\n  zmqtrace -r capture.pcap\n  zmqtrace -r capture.pcap -o jsonl | jq 'select(.event==\"message\")'\n  zmqtrace stats -r a.pcap -r b.pcapng.gz -p 9500-9505\n  zmqtrace flows -r capture.pcap\n  ssh host tcpdump -w - port 9501 | zmqtrace -r -\n  sudo zmqtrace -i eth0 -w rpc.pcap\n  zmqtrace -D"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Per topic and method (messages, rate, calls, timeouts, failures,
    /// latency percentiles), top talkers, per connection and socket type.
    Stats,
    /// One row per TCP connection on the rpc ports (and any connection that
    /// opens with a ZMTP greeting), with packets, bytes, gaps,
    /// retransmissions and a Zeek-style history, then a summary.
    Flows,
    /// Explain why messages have no route: configs, the ringfile, hosts
    /// files, logs and captures (-r, repeatable) checked together, each
    /// finding with its evidence and a fix. Exit status 3 when a finding is
    /// an error or critical.
    Doctor(crate::doctor::command::DoctorArgs),
}

#[derive(Args, Debug)]
struct InputArgs {
    /// Read packets from a .pcap or .pcapng file, gzip accepted; `-` reads
    /// standard input. Repeat to merge several files by timestamp.
    #[arg(short = 'r', long = "read", value_name = "FILE", global = true)]
    read: Vec<String>,

    /// Capture live on this interface (repeatable; `any` for all of them).
    /// Needs CAP_NET_RAW (root, or `setcap cap_net_raw,cap_net_admin=eip`
    /// on the binary); once the interfaces and the -w file are open,
    /// zmqtrace runs as --user with no capabilities, as tcpdump -Z does.
    /// Ctrl-C or SIGTERM ends the capture and prints the summary.
    #[arg(short = 'i', long = "interface", value_name = "IFACE", global = true)]
    interface: Vec<String>,

    /// List the interfaces -i can capture on, with their addresses.
    #[arg(short = 'D', long = "list-interfaces", global = true)]
    list_interfaces: bool,

    /// Live capture started as root: the user to become once the interfaces
    /// and the -w file are open (all capabilities are dropped as well).
    #[arg(
        long = "user",
        value_name = "USER",
        default_value = "nobody",
        global = true
    )]
    user: String,

    /// Live capture: the kernel's capture buffer per interface, in MiB.
    #[arg(
        long = "kernel-buffer-mib",
        value_name = "MIB",
        default_value_t = 32,
        global = true
    )]
    kernel_buffer_mib: usize,

    /// Live capture: packet bytes waiting for the decoder, at most, in MiB;
    /// when full, packets are dropped and counted (`queue_dropped`).
    #[arg(
        long = "queue-mib",
        value_name = "MIB",
        default_value_t = 64,
        global = true
    )]
    queue_mib: usize,

    /// Live capture: libpcap's immediate mode, each packet handed over at
    /// once instead of in blocks within a millisecond; the kernel buffer then
    /// holds far fewer packets (one 64 KiB slot each on loopback), so raise
    /// --kernel-buffer-mib with it.
    #[arg(long = "immediate", global = true)]
    immediate: bool,

    /// RPC ports to decode, e.g. `9501` or `9500-9505,9501`.
    #[arg(
        short = 'p',
        long = "port",
        value_name = "SPEC",
        default_value = "9501",
        global = true
    )]
    port: PortSet,

    /// Ports of the redis server the zmq driver keeps its name service in
    /// (its registrations name the topic and server of direct-mode
    /// messages).
    #[arg(
        long = "redis-port",
        value_name = "SPEC",
        default_value = "6379",
        global = true
    )]
    redis_port: PortSet,

    /// Only the -p ports: do not also pick up flows on other ports whose
    /// bytes open with a ZMTP greeting.
    #[arg(long = "no-auto", global = true)]
    no_auto: bool,

    /// Capture filter (BPF, as for tcpdump), applied to offline input too.
    #[arg(short = 'f', long = "filter", value_name = "BPF", global = true)]
    filter: Option<String>,

    /// Stop after N data messages (`flows`: after N connections).
    #[arg(short = 'c', long = "count", value_name = "N", global = true)]
    count: Option<u64>,

    /// Connections tracked at once; when full, the least recently active
    /// eighth is closed and counted as evicted.
    #[arg(long = "max-flows", value_name = "N", default_value_t = TcpConfig::default().max_flows, global = true)]
    max_flows: usize,

    /// MiB one direction may hold above a hole before the hole is declared
    /// a gap; all directions together may hold four times that.
    #[arg(
        long = "max-held-mib",
        value_name = "MIB",
        default_value_t = 4,
        global = true
    )]
    max_held_mib: usize,

    /// Seconds of capture time after which a call with no reply is reported
    /// as a timeout (oslo's rpc_response_timeout defaults to 60).
    #[arg(
        long = "rpc-timeout",
        value_name = "SECS",
        default_value_t = 60.0,
        global = true
    )]
    rpc_timeout: f64,

    /// Seconds of capture time after which a silent connection is closed.
    #[arg(
        long = "idle-timeout",
        value_name = "SECS",
        default_value_t = 900,
        global = true
    )]
    idle_timeout: u64,
}

#[derive(Args, Debug)]
struct OutputArgs {
    /// Output: `tui` (the terminal UI; the default for tracing when stdout
    /// is a terminal), `table` for people and pipes, `jsonl` (JSON Lines,
    /// one object per line) for scripts.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "MODE",
        value_enum,
        global = true
    )]
    output: Option<OutputMode>,

    /// Display filter: only messages (and calls, timeouts, hops) whose oslo
    /// topic matches this glob, e.g. 'compute.*' (`stats`: only their rows,
    /// talkers and connections). What is decoded, and the summary, do not
    /// change.
    #[arg(long = "topic", value_name = "GLOB", global = true)]
    topic: Option<String>,

    /// Display filter: only messages whose oslo method (or notification
    /// event type) matches this glob, e.g. 'get_*'.
    #[arg(long = "method", value_name = "GLOB", global = true)]
    method: Option<String>,

    /// Display filter: only what travels to or from this address (an IP,
    /// or IP:port).
    #[arg(long = "host", value_name = "ADDR", global = true)]
    host: Option<String>,

    /// Terminal UI: messages kept in its history (older ones leave it).
    #[arg(
        long = "history",
        value_name = "N",
        default_value_t = crate::tui::state::Limits::default().history,
        global = true
    )]
    history: usize,

    /// Show secrets found on the wire (oslo auth tokens, passwords and
    /// service catalogs in contexts and arguments; ZMTP PLAIN passwords)
    /// instead of redacting them.
    #[arg(long = "show-secrets", global = true)]
    show_secrets: bool,

    /// Also write the packets of the decoded flows (the -p ports, and the
    /// connections found to be ZMTP) to this pcap file.
    #[arg(short = 'w', long = "write", value_name = "FILE", global = true)]
    write: Option<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum OutputMode {
    Tui,
    Table,
    Jsonl,
}

impl OutputArgs {
    fn display_filter(&self) -> crate::report::DisplayFilter {
        crate::report::DisplayFilter {
            topic: self.topic.clone(),
            method: self.method.clone(),
            host: self.host.clone(),
        }
    }

    /// The mode asked for; without -o, the terminal UI for tracing to a
    /// terminal and a table otherwise. The UI needs a terminal on stdout:
    /// without one it falls back to the table.
    fn mode(&self, trace: bool) -> OutputMode {
        let terminal = io::stdout().is_terminal();
        match self.output {
            Some(OutputMode::Tui) if !terminal => {
                eprintln!("zmqtrace: stdout is not a terminal; printing a table instead of the terminal UI");
                OutputMode::Table
            }
            Some(mode) => mode,
            None if trace && terminal => OutputMode::Tui,
            None => OutputMode::Table,
        }
    }
}

/// A failure, with the exit status it maps to.
#[derive(Debug)]
struct Failure {
    status: u8,
    message: String,
}

impl From<CaptureError> for Failure {
    fn from(e: CaptureError) -> Self {
        let status = match e {
            CaptureError::Filter { .. } | CaptureError::Usage(_) => EXIT_USAGE,
            _ => EXIT_RUNTIME,
        };
        Failure {
            status,
            message: e.to_string(),
        }
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        status: EXIT_USAGE,
        message: message.into(),
    }
}

/// Parse the command line from the process arguments and run.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // An exit status without a message (doctor's 3) has said its
            // piece on stdout already.
            if !failure.message.is_empty() {
                eprintln!("zmqtrace: {}", failure.message);
            }
            ExitCode::from(failure.status)
        }
    }
}

fn run_doctor(
    args: &crate::doctor::command::DoctorArgs,
    input: &InputArgs,
    output: &OutputArgs,
) -> Result<(), Failure> {
    use crate::doctor::DoctorError;
    if !input.interface.is_empty() {
        return Err(usage(
            "doctor reads captures from files: record one with `zmqtrace -i IFACE -w rpc.pcap` (or tcpdump) and give it with -r rpc.pcap",
        ));
    }
    let jsonl = output.output == Some(OutputMode::Jsonl);
    let outcome = crate::doctor::command::run(args, &input.read, jsonl).map_err(|e| Failure {
        status: if matches!(e, DoctorError::Usage(_)) {
            EXIT_USAGE
        } else {
            EXIT_RUNTIME
        },
        message: e.to_string(),
    })?;
    let mut out = io::stdout().lock();
    let written = out
        .write_all(outcome.text.as_bytes())
        .and_then(|()| out.flush());
    if let Err(e) = written {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(Failure {
                status: EXIT_RUNTIME,
                message: format!("cannot write the output: {e}"),
            });
        }
    }
    if outcome.exit_status == 0 {
        Ok(())
    } else {
        Err(Failure {
            status: outcome.exit_status,
            message: String::new(),
        })
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    if cli.input.list_interfaces {
        return list_interfaces(&cli.output);
    }
    let (input, output) = (&cli.input, &cli.output);
    match cli.command {
        Some(Command::Doctor(args)) => run_doctor(&args, input, output),
        Some(Command::Flows) => match output.mode(false) {
            OutputMode::Tui => run_tui(input, output, crate::tui::app::CONNECTIONS),
            mode => run_flows(input, output, mode),
        },
        Some(Command::Stats) => match output.mode(false) {
            OutputMode::Tui => run_tui(input, output, crate::tui::app::TOPICS),
            mode => run_decode(input, output, Decode::Stats, mode),
        },
        None => match output.mode(true) {
            OutputMode::Tui => run_tui(input, output, crate::tui::app::MESSAGES),
            mode => run_decode(input, output, Decode::Trace, mode),
        },
    }
}

/// Open the files or interfaces, and the -w file. A live capture has
/// dropped its privileges by the time this returns.
fn open_input(
    input: &InputArgs,
    output: &OutputArgs,
) -> Result<(Box<dyn PacketSource>, Option<FlowWriter>), Failure> {
    open_input_stoppable(input, output, None)
}

fn open_input_stoppable(
    input: &InputArgs,
    output: &OutputArgs,
    stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> Result<(Box<dyn PacketSource>, Option<FlowWriter>), Failure> {
    let opened = input_open::open(&InputSpec {
        read: &input.read,
        interfaces: &input.interface,
        ports: &input.port,
        redis_ports: &input.redis_port,
        auto: !input.no_auto,
        filter: input.filter.as_deref(),
        write: output.write.as_deref(),
        user: &input.user,
        kernel_buffer: input.kernel_buffer_mib.clamp(1, 2047) << 20,
        queue_bytes: input.queue_mib.max(1).saturating_mul(1 << 20),
        immediate: input.immediate,
        stop,
    })?;
    if let Some(line) = &opened.started {
        eprintln!("{line}");
    }
    Ok((opened.source, opened.writer))
}

/// The engine for this input: a live capture's -f already ran in the
/// kernel.
fn engine(input: &InputArgs, filter: Option<BpfFilter>, writer: Option<FlowWriter>) -> Engine {
    let filter = filter.filter(|_| input.interface.is_empty());
    Engine::new(tcp_config(input), filter).with_writer(writer)
}

/// `-D`: the interfaces, their state and addresses.
fn list_interfaces(output: &OutputArgs) -> Result<(), Failure> {
    let interfaces = crate::capture::live::list_interfaces()?;
    let mut sink = stdout_sink();
    for i in interfaces.iter().filter(|i| i.network) {
        let mut state = vec![if i.up { "up" } else { "down" }];
        if i.running {
            state.push("running");
        }
        if i.loopback {
            state.push("loopback");
        }
        let addresses: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
        match output.mode(false) {
            OutputMode::Table | OutputMode::Tui => {
                let shown = if i.name == "any" {
                    "(every interface)".to_string()
                } else if addresses.is_empty() {
                    "-".to_string()
                } else {
                    addresses.join(", ")
                };
                sink.line(&format!("{:<16} {:<24} {shown}", i.name, state.join(", ")));
            }
            OutputMode::Jsonl => {
                let mut o = crate::output::JsonObject::new();
                let quoted: Vec<String> = addresses.iter().map(|a| format!("\"{a}\"")).collect();
                o.str("event", "interface")
                    .str("name", &i.name)
                    .bool("up", i.up)
                    .bool("running", i.running)
                    .bool("loopback", i.loopback)
                    .raw("addresses", &format!("[{}]", quoted.join(",")));
                if let Some(d) = &i.description {
                    o.str("description", d);
                }
                sink.line(&o.finish());
            }
        }
    }
    sink.finish().map_err(|e| Failure {
        status: EXIT_RUNTIME,
        message: format!("cannot write the output: {e}"),
    })
}

fn oslo_config(input: &InputArgs, output: &OutputArgs) -> Result<OsloConfig, Failure> {
    if !(input.rpc_timeout.is_finite() && input.rpc_timeout > 0.0) {
        return Err(usage(
            "--rpc-timeout takes a number of seconds above 0, e.g. 60 or 0.5",
        ));
    }
    Ok(OsloConfig {
        rpc_timeout_ns: (input.rpc_timeout * 1e9).min(u64::MAX as f64) as u64,
        redaction: if output.show_secrets {
            Redaction::Off
        } else {
            Redaction::On
        },
        ..OsloConfig::default()
    })
}

/// What is decoded above TCP.
fn decode_config(input: &InputArgs, oslo: OsloConfig) -> DecodeConfig {
    DecodeConfig {
        ports: input.port.clone(),
        auto: !input.no_auto,
        redis_ports: input.redis_port.clone(),
        oslo,
    }
}

/// The ports whose every packet is decoded: the rpc ports and redis's.
fn captured_ports(input: &InputArgs) -> PortSet {
    input.port.union(&input.redis_port)
}

fn tcp_config(input: &InputArgs) -> TcpConfig {
    let per_direction = input.max_held_mib.max(1).saturating_mul(1 << 20);
    TcpConfig {
        max_flows: input.max_flows.max(1),
        max_held_per_direction: per_direction,
        max_held_total: per_direction.saturating_mul(4),
        idle_timeout_ns: input.idle_timeout.max(1).saturating_mul(1_000_000_000),
        server_ports: captured_ports(input),
        ..TcpConfig::default()
    }
}

/// JSON Lines are flushed per line into a pipe or terminal (so `| jq` is
/// live), and block-buffered into files and /dev/null.
fn flush_each_line() -> bool {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata("/dev/stdout") {
        Ok(meta) => {
            let kind = meta.file_type();
            kind.is_fifo() || kind.is_socket() || io::stdout().is_terminal()
        }
        Err(_) => true,
    }
}

fn stdout_sink() -> Sink<BufWriter<io::StdoutLock<'static>>> {
    Sink::new(
        BufWriter::with_capacity(256 << 10, io::stdout().lock()),
        flush_each_line(),
    )
}

fn finish(
    result: Result<crate::pipeline::RunStats, CaptureError>,
    written: io::Result<()>,
    source: &dyn PacketSource,
) -> Result<(), Failure> {
    if let Some(warning) = source.end_warning() {
        eprintln!("zmqtrace: warning: {warning}");
    }
    result?;
    written.map_err(|e| Failure {
        status: EXIT_RUNTIME,
        message: format!("cannot write the output: {e}"),
    })?;
    let _ = io::stderr().flush();
    Ok(())
}

fn format_of(mode: OutputMode) -> Format {
    match mode {
        OutputMode::Jsonl => Format::Jsonl,
        OutputMode::Table | OutputMode::Tui => Format::Table,
    }
}

fn run_flows(input: &InputArgs, output: &OutputArgs, mode: OutputMode) -> Result<(), Failure> {
    let filter = input.filter.as_deref().map(BpfFilter::new).transpose()?;
    let (mut source, writer) = open_input(input, output)?;
    let format = format_of(mode);
    let mut report = FlowsReport::new(
        stdout_sink(),
        format,
        source.precision(),
        input.port.clone(),
        !input.no_auto,
        input.count,
    );
    let mut engine = engine(input, filter, writer);
    let result = engine.run(&mut *source, &mut report);
    report.write_summary(&engine.stats());
    let written = report.sink_mut().finish();
    finish(result, written, &*source)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Decode {
    Trace,
    Stats,
}

fn run_decode(
    input: &InputArgs,
    output: &OutputArgs,
    what: Decode,
    mode: OutputMode,
) -> Result<(), Failure> {
    let filter = input.filter.as_deref().map(BpfFilter::new).transpose()?;
    // Usage is checked before a live capture starts.
    // Only the JSON Lines trace prints arguments; the rest skip copying them.
    let keep_args = what == Decode::Trace && mode == OutputMode::Jsonl;
    let oslo = OsloConfig {
        keep_args,
        // Stats never print the request context.
        keep_context: what == Decode::Trace,
        ..oslo_config(input, output)?
    };
    let (source, writer) = open_input(input, output)?;
    let precision = source.precision();
    let format = format_of(mode);
    let engine = engine(input, filter, writer);
    match what {
        Decode::Trace => {
            let report = TraceReport::new(
                stdout_sink(),
                format,
                precision,
                input.count,
                output.show_secrets,
            )
            .with_display_filter(output.display_filter());
            decode(input, engine, source, oslo, report)
        }
        Decode::Stats => decode(
            input,
            engine,
            source,
            oslo,
            StatsReport::new(stdout_sink(), format, precision)
                .with_display_filter(output.display_filter()),
        ),
    }
}

/// Packets → TCP → ZMTP → oslo → `report`, then the report's closing lines.
fn decode<R: DecodeReport>(
    input: &InputArgs,
    mut engine: Engine,
    mut source: Box<dyn PacketSource>,
    oslo: OsloConfig,
    report: R,
) -> Result<(), Failure> {
    let mut decoders = Decoders::new(decode_config(input, oslo), report);
    let result = engine.run(&mut *source, &mut decoders);
    let (mut report, layers) = decoders.finish();
    let written = report.close(&engine.stats(), &layers);
    finish(result, written, &*source)
}

/// The terminal UI: the engine on its own thread feeding the UI on this
/// one; `view` is the view it opens on.
fn run_tui(input: &InputArgs, output: &OutputArgs, view: usize) -> Result<(), Failure> {
    use crate::tui::feed::{run_engine, EngineConfig, Feed};
    let filter = input.filter.as_deref().map(BpfFilter::new).transpose()?;
    let oslo = OsloConfig {
        // The detail pane decodes bodies from the frames it holds.
        keep_args: false,
        ..oslo_config(input, output)?
    };
    if output.history == 0 {
        return Err(usage("--history takes a number of messages above 0"));
    }
    // A file replay waits for the UI when its queue is full; a live
    // capture cannot wait and drops (counted) instead.
    let feed = Feed::new(input.interface.is_empty());
    let (mut source, writer) = open_input_stoppable(input, output, Some(feed.quit_flag()))?;
    if input.interface.is_empty() {
        // A live capture registered this already; for files, a SIGTERM
        // must still restore the terminal. SIGHUP keeps its default: the
        // terminal is gone, there is nothing to restore.
        let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, feed.quit_flag());
    }
    let live = !input.interface.is_empty();
    let label = if live {
        format!("live {}", input.interface.join(","))
    } else {
        let names: Vec<&str> = input
            .read
            .iter()
            .map(|r| if r == "-" { "stdin" } else { r.as_str() })
            .collect();
        names.join(" ")
    };
    let precision = source.precision();
    let engine = engine(input, filter, writer);
    let decode = EngineConfig {
        decode: decode_config(input, oslo),
        count: input.count,
    };
    let engine_feed = feed.clone();
    let handle = std::thread::Builder::new()
        .name("zmqtrace-engine".into())
        .spawn(move || {
            let result = run_engine(&engine_feed, &mut *source, engine, decode);
            if let (Ok(()), Some(warning)) = (&result, source.end_warning()) {
                eprintln!("zmqtrace: warning: {warning}");
            }
            result
        })
        .map_err(|e| Failure {
            status: EXIT_RUNTIME,
            message: format!("cannot start the decoder thread: {e}"),
        })?;
    let options = crate::tui::TuiOptions {
        source: label,
        live,
        precision,
        show_secrets: output.show_secrets,
        limits: crate::tui::state::Limits {
            history: output.history,
            ..Default::default()
        },
        view,
        filter: Some(output.display_filter().as_tui_filter()).filter(|f| !f.is_empty()),
    };
    let ended = crate::tui::run(options, feed, handle).map_err(|e| Failure {
        status: EXIT_RUNTIME,
        message: format!("the terminal UI failed: {e}"),
    })?;
    match ended {
        crate::tui::EngineEnd::Finished(Ok(())) => Ok(()),
        crate::tui::EngineEnd::Finished(Err(message)) => Err(Failure {
            status: EXIT_RUNTIME,
            message,
        }),
        crate::tui::EngineEnd::StillRunning => {
            eprintln!("zmqtrace: quit while the input was still being read");
            Ok(())
        }
    }
}
