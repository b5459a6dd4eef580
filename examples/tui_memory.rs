//! The terminal UI's memory without a terminal: the engine thread feeds the
//! UI's `State` exactly as in `zmqtrace -r FILE`, then the peak RSS is read
//! (docs/PERFORMANCE.md).
//!
//!   cargo run --release --example tui_memory -- bench-data/oslo.pcap [HISTORY]

use zmqtrace::capture::FileSource;
use zmqtrace::decode::DecodeConfig;
use zmqtrace::oslo::OsloConfig;
use zmqtrace::pipeline::Engine;
use zmqtrace::ports::PortSet;
use zmqtrace::tcp::TcpConfig;
use zmqtrace::tui::feed::{run_engine, EngineConfig, Feed};
use zmqtrace::tui::state::{Limits, State};

fn memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .cloned()
        .ok_or("usage: tui_memory CAPTURE [HISTORY]")?;
    let history = match args.get(2) {
        Some(n) => n.parse().map_err(|_| format!("not a number: {n}"))?,
        None => Limits::default().history,
    };
    let feed = Feed::new(true);
    let engine_feed = feed.clone();
    let engine = std::thread::spawn(move || {
        let mut source = FileSource::open(&path).map_err(|e| e.to_string())?;
        let ports: PortSet = "9501".parse().map_err(|_| "port")?;
        let tcp = TcpConfig {
            server_ports: ports.clone(),
            ..TcpConfig::default()
        };
        let decode = EngineConfig {
            decode: DecodeConfig {
                ports,
                auto: true,
                redis_ports: "6379".parse().map_err(|_| "port")?,
                oslo: OsloConfig {
                    keep_args: false,
                    ..OsloConfig::default()
                },
            },
            count: None,
        };
        run_engine(&engine_feed, &mut source, Engine::new(tcp, None), decode)
    });
    let mut state = State::new(Limits {
        history,
        ..Limits::default()
    });
    loop {
        let batch = feed.take(state.spare());
        let ended = batch.ended.is_some();
        state.absorb(batch);
        if ended {
            break;
        }
        // About the UI's tick.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    engine.join().map_err(|_| "engine panicked")??;
    println!(
        "{}; {} messages held, {} bytes of frames for details, {} messages in all",
        memory(),
        state.rows().len(),
        state.detail_bytes(),
        state.totals.messages
    );
    Ok(())
}
