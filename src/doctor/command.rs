//! `zmqtrace doctor`: its command-line arguments and what it prints. The
//! CLI module parses, this module runs; exit status 3 when a finding is an
//! error or critical.

use std::path::PathBuf;

use clap::Args;

use super::{load, parse_node_arg, DoctorError, Inputs};

/// What `zmqtrace doctor` takes (docs/output-contract.md).
#[derive(Args, Debug, Default)]
pub struct DoctorArgs {
    /// An oslo .conf file (nova, cinder, neutron, ceilometer, the
    /// zmq-receiver) or haproxy.cfg, told apart by content; a directory is
    /// read as one node's config directory. Repeatable.
    #[arg(long = "config", value_name = "FILE|DIR")]
    pub config: Vec<PathBuf>,
    /// Everything of one machine, for checks across nodes: NAME=DIR.
    /// Repeatable.
    #[arg(long = "node", value_name = "NAME=DIR")]
    pub node: Vec<String>,
    /// The matchmaker ring file (JSON), when not found beside the configs.
    #[arg(long = "ringfile", value_name = "FILE")]
    pub ringfile: Option<PathBuf>,
    /// An /etc/hosts-style file to resolve host names with.
    #[arg(long = "hosts", value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// Resolve host names with this machine's resolver.
    #[arg(long = "resolve")]
    pub resolve: bool,
    /// A service or zmq-receiver log (nova, cinder, oslo.messaging lines of
    /// any release). Repeatable.
    #[arg(long = "log", value_name = "FILE")]
    pub log: Vec<PathBuf>,
    /// Explain, step by step, where a message for TOPIC goes (queue, host,
    /// port, the receiver's IPC socket) instead of checking everything.
    #[arg(long = "route", value_name = "TOPIC")]
    pub route: Option<String>,
    /// With --route: the node that sends (its options decide the port).
    #[arg(long = "from", value_name = "NODE", requires = "route")]
    pub from: Option<String>,
}

/// What the doctor printed and the exit status it asks for.
pub struct Outcome {
    pub text: String,
    pub exit_status: u8,
}

/// Run the doctor on `args` (captures come from the global `-r`).
pub fn run(args: &DoctorArgs, captures: &[String], jsonl: bool) -> Result<Outcome, DoctorError> {
    let nodes = args
        .node
        .iter()
        .map(|n| parse_node_arg(n))
        .collect::<Result<Vec<_>, _>>()?;
    let inputs = Inputs {
        configs: args.config.clone(),
        nodes,
        ringfile: args.ringfile.clone(),
        hosts: args.hosts.clone(),
        resolve: args.resolve,
        logs: args.log.clone(),
        captures: captures.iter().map(PathBuf::from).collect(),
    };
    let loaded = load(&inputs)?;
    if let Some(topic) = &args.route {
        // An explanation, not a verdict: it always exits 0.
        let route = loaded.route(topic, args.from.as_deref());
        let text = if jsonl {
            route.to_jsonl()
        } else {
            route.to_table()
        };
        return Ok(Outcome {
            text,
            exit_status: 0,
        });
    }
    let report = loaded.findings();
    let text = if jsonl {
        report.to_jsonl()
    } else {
        report.to_table()
    };
    Ok(Outcome {
        text,
        exit_status: report.exit_code(),
    })
}
