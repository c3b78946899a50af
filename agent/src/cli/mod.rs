//! `hotspot-agent`'s command line, as a library module so that the binary, the demo and
//! process-level tests run exactly the same code.
//!
//! - `enroll`: turn a one-time token into this agent's key, certificate and master key;
//! - `run`: the agent itself (fleet link, apply queue, jobs) until SIGINT or SIGTERM;
//! - `probe`: connect to a router and print what it finds, to check settings by hand;
//! - `backup` / `restore`: the data directory in one archive (while `run` is up, too), and back;
//! - `config`: print the documented default configuration, or check a file.
//!
//! Errors are one line a person can act on, with an exit code per kind of cause.

pub mod backup;
pub mod enroll;
pub mod probe;
pub mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "hotspot-agent", version, about = "Site agent of hotspot-fleet")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this agent with the controller using a one-time token.
    Enroll(enroll::EnrollArgs),
    /// Run the agent: connect to the controller and serve the site's routers.
    Run(run::RunArgs),
    /// Connect to a router and print its identity, health and hotspot users.
    Probe(probe::ProbeArgs),
    /// Write the data directory (a consistent snapshot of the queues, keys, certificates) to
    /// one archive; works while `run` is up.
    Backup(backup::BackupArgs),
    /// Put an archive written by `backup` in place as the data directory (agent stopped).
    Restore(backup::RestoreArgs),
    /// Print the default configuration file, or check one.
    Config(run::ConfigArgs),
}

/// The `hotspot-agent` command line: parses arguments, sets up logging and runs a command.
pub fn main() -> ExitCode {
    // Configs pass the ring provider explicitly; this covers any code that asks for the default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    // The agent logs its work; the one-shot commands only warnings (their output is the point).
    let default_level = match cli.command {
        Command::Run(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Config(args) => return run::config(args),
        Command::Backup(args) => return backup::backup(args),
        Command::Restore(args) => return backup::restore(args),
        _ => {}
    }
    crate::memory::limit_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Enroll(args) => runtime.block_on(enroll::run(args)),
        Command::Run(args) => runtime.block_on(run::run(args)),
        Command::Probe(args) => runtime.block_on(probe::probe(args)),
        Command::Config(_) | Command::Backup(_) | Command::Restore(_) => ExitCode::SUCCESS,
    }
}
