//! The command line: arguments, output formats, colour, exit codes. Thin: each subcommand calls the
//! library and prints. Exit codes mean the same everywhere: 0 ok, 1 the input is wrong or a check
//! failed, 2 the tool could not do its job (usage, I/O).

mod agent;
#[cfg(feature = "hedera")]
mod agent_hedera;
pub mod approve;
#[cfg(feature = "hedera")]
mod approve_hedera;
mod devnet;
mod gate;
mod plan;
pub mod run;
#[cfg(feature = "hedera")]
mod run_hedera;
mod schema;
mod serve;
mod setup;
pub mod status;
mod validate;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: the input is valid, the command succeeded.
pub const OK: u8 = 0;
/// Exit code: the input is wrong or a check failed.
pub const INVALID: u8 = 1;
/// Exit code: usage, I/O or another failure of the tool itself.
pub const FAILURE: u8 = 2;

/// What a build without the `hedera` feature says when asked for Hedera.
const NEEDS_HEDERA: &str = "this build has no Hedera backend; build with it: `cargo build --release --features hedera` \
     (needs protoc, the protobuf well-known types and OpenSSL: apt-get install protobuf-compiler libprotobuf-dev libssl-dev pkg-config)";

#[derive(Debug, Parser)]
#[command(
    name = "baton",
    version,
    about = "Festivals of tasks that agents carry out and get paid for on Hedera"
)]
pub struct Cli {
    /// When to colour diagnostics: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check workflows or festival directories offline and report every problem.
    Validate {
        /// Workflow files (`.yaml`) or Festival Methodology directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// `human` (like rustc, on stderr) or `json` (one array on stdout).
        #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
        format: DiagnosticFormat,
    },
    /// Show the waves of parallel tasks, the critical path and the spend of a festival.
    Plan {
        /// A workflow file or a Festival Methodology directory.
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
    },
    /// Quality gates: run them on reports, run their test cases.
    Gate {
        #[command(subcommand)]
        command: gate::GateCommand,
    },
    /// Print a JSON Schema baton checks files against.
    Schema {
        #[arg(value_enum, default_value_t = schema::Which::Workflow)]
        which: schema::Which,
    },
    /// Run a festival: assignments, gates, approvals and payments on the ledger.
    Run(run::RunArgs),
    /// A festival's state, from its log alone.
    Status(status::StatusArgs),
    /// Approve a task waiting for approval, as an approver named in the workflow.
    Approve(approve::ApproveArgs),
    /// Reject a task waiting for approval, with a reason.
    Reject(approve::ApproveArgs),
    /// A live web view of a festival, with approvals, beside `baton run`.
    Serve(serve::ServeArgs),
    /// The reference agent daemon: takes its assignments, runs their commands, reports.
    Agent(agent::AgentArgs),
    /// A Hedera-compatible node and mirror on loopback, serving a local ledger (`hedera` feature).
    Devnet(devnet::DevnetArgs),
    /// Create the token, topics and accounts festivals need on a Hedera network; write `.env`.
    Setup(setup::SetupArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Dot,
    Mermaid,
}

impl Color {
    /// Whether stderr gets ANSI colours.
    #[must_use]
    pub fn enabled(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal(),
        }
    }
}

/// Runs the binary: parses arguments, loads `.env` if present, runs the command.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { FAILURE } else { OK });
        }
    };
    // Values in `.env` fill in what the environment does not set; a malformed file is reported.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: cannot read `.env`: {e}");
        return ExitCode::from(FAILURE);
    }
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    ExitCode::from(run(&cli))
}

/// The festival at `path`, checked, for a command that works on the ledger `network`; on failure
/// the reason is printed and the exit code returned.
pub(crate) fn festival_on(
    path: &std::path::Path,
    network: &str,
    color: bool,
) -> Result<std::sync::Arc<crate::check::Festival>, u8> {
    if network != "local" && !cfg!(feature = "hedera") {
        eprintln!("error: network `{network}`: {NEEDS_HEDERA}");
        return Err(FAILURE);
    }
    run::festival(path, color).map(std::sync::Arc::new)
}

/// Runs a parsed command and returns its exit code.
#[must_use]
pub fn run(cli: &Cli) -> u8 {
    let color = cli.color.enabled();
    match &cli.command {
        Command::Validate { paths, format } => validate::run(paths, *format, color),
        Command::Plan { path, format } => plan::run(path, *format, color),
        Command::Schema { which } => schema::run(*which),
        Command::Gate { command } => gate::run(command),
        Command::Run(args) => run::run(args, color),
        Command::Status(args) => status::run(args, color),
        Command::Approve(args) => approve::run(args, true, color),
        Command::Reject(args) => approve::run(args, false, color),
        Command::Serve(args) => serve::run(args, color),
        Command::Agent(args) => agent::run(args, color),
        Command::Devnet(args) => devnet::run(args),
        Command::Setup(args) => setup::run(args, color),
    }
}
