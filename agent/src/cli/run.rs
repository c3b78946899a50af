//! `hotspot-agent run` and `hotspot-agent config`: start the agent from a file or two flags,
//! stop it gracefully on SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{
    ApplySection, ConfigFile, ControllerSection, DEFAULT_CONFIG, JobsSection, RouterSection,
};
use crate::{AgentHandle, enroll};
use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub struct RunArgs {
    /// TOML configuration file (`hotspot-agent config --print-default` shows every setting).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory made by `enroll` (overrides the file's `data_dir`).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The controller's fleet link, HOST:PORT (overrides the file's `controller.address`).
    #[arg(long, value_name = "HOST:PORT")]
    controller: Option<String>,
    /// Name the controller's certificate carries [default: the host part of the address].
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
}

#[derive(Args)]
pub struct ConfigArgs {
    /// Print the configuration file with every default, documented.
    #[arg(long, conflicts_with = "check")]
    print_default: bool,
    /// Check a configuration file and say what is wrong with it.
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
}

fn config_from(args: &RunArgs) -> anyhow::Result<ConfigFile> {
    let mut file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => {
            let (Some(data_dir), Some(address)) = (&args.data_dir, &args.controller) else {
                anyhow::bail!(
                    "give --config FILE, or both --data-dir DIR and --controller HOST:PORT"
                );
            };
            ConfigFile {
                data_dir: data_dir.clone(),
                controller: ControllerSection::new(address.clone()),
                jobs: JobsSection::default(),
                apply: ApplySection::default(),
                router: RouterSection::default(),
                local: None,
            }
        }
    };
    if let Some(dir) = &args.data_dir {
        file.data_dir = dir.clone();
    }
    if let Some(address) = &args.controller {
        file.controller.address = address.clone();
    }
    if args.server_name.is_some() {
        file.controller.server_name = args.server_name.clone();
    }
    Ok(file)
}

async fn start(args: &RunArgs) -> anyhow::Result<AgentHandle> {
    let file = config_from(args)?;
    let addr = enroll::resolve(&file.controller.address).await?;
    let settings = file.into_settings(addr)?;
    AgentHandle::start(settings)
        .await
        .context("cannot start the agent")
}

async fn stop_signal() -> anyhow::Result<&'static str> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT").map_err(Into::into),
        _ = term.recv() => Ok("SIGTERM"),
    }
}

pub async fn run(args: RunArgs) -> ExitCode {
    let agent = match start(&args).await {
        Ok(agent) => agent,
        Err(e) => {
            eprintln!("error: {}", hotspot_shared::report::Chain(e.as_ref()));
            return ExitCode::from(2);
        }
    };
    let signal = stop_signal().await;
    tracing::info!(signal = ?signal.as_ref().ok(), "stopping");
    match agent.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error while stopping: {e}");
            ExitCode::from(1)
        }
    }
}

pub fn config(args: ConfigArgs) -> ExitCode {
    if let Some(path) = args.check {
        return match ConfigFile::load(&path).and_then(|f| f.validate()) {
            Ok(_) => {
                println!("{}: ok", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    if args.print_default {
        print!("{DEFAULT_CONFIG}");
        return ExitCode::SUCCESS;
    }
    eprintln!("error: give --print-default or --check FILE");
    ExitCode::from(2)
}
