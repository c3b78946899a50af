//! `routeros-sim`: run a simulated MikroTik router until SIGINT/SIGTERM.
//!
//! Prints one line per listener on stdout, for scripts:
//! `api listening on ADDR`, `api-ssl listening on ADDR sha256=HEX`, `control listening on ADDR`.
//! Logs go to stderr (`RUST_LOG` filters them).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use hotspot_tests::sim::{self, CustomerConfig, FaultSettings, RosVersion, SimConfig};

/// A simulated MikroTik router speaking the RouterOS API, for tests and demos.
#[derive(Debug, Parser)]
#[command(name = "routeros-sim", version)]
struct Args {
    /// Plain API listener.
    #[arg(long, default_value = "127.0.0.1:8728")]
    listen: SocketAddr,
    /// API-SSL listener (self-signed certificate; its SHA-256 is printed).
    #[arg(long)]
    api_ssl: Option<SocketAddr>,
    #[arg(long, default_value = "admin")]
    user: String,
    /// API password [env: ROUTEROS_SIM_PASSWORD] [default: sim-password].
    #[arg(long)]
    password: Option<String>,
    /// RouterOS version to emulate: before 6.43 the MD5 challenge login, from 7.18 `!empty`.
    #[arg(long, default_value = "7.16")]
    ros_version: RosVersion,
    #[arg(long, default_value = "sim-router")]
    identity: String,
    /// Board model (`CHR` for a virtual router without /system/routerboard).
    #[arg(long, default_value = "RB5009UG+S+")]
    model: String,
    /// JSON state file: users, profiles, ids, identity; loaded at start, saved after changes.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Simulated customer logins per minute (off when absent).
    #[arg(long, value_name = "RATE")]
    customers: Option<f64>,
    /// Simulated seconds per real second for customers' uptime and traffic.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Traffic per customer per simulated second.
    #[arg(long, default_value_t = 50_000)]
    bytes_per_second: u64,
    /// Added to every reply.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Router CPU time per command, serialised across all sessions.
    #[arg(long, default_value_t = 0)]
    service_time_ms: u64,
    /// Close each connection after this many commands.
    #[arg(long)]
    drop_after: Option<u64>,
    /// Answer every login as a bad password.
    #[arg(long)]
    refuse_logins: bool,
    /// Control interface (line protocol: latency, service-time, drop-after, refuse-logins,
    /// reboot, reset, users, commands, clear).
    #[arg(long)]
    control: Option<SocketAddr>,
    /// Write the API-SSL certificate (PEM) here, for clients that trust it from a file.
    #[arg(long, requires = "api_ssl")]
    cert_out: Option<PathBuf>,
}

impl Args {
    fn into_config(self) -> (SimConfig, Option<PathBuf>) {
        let cert_out = self.cert_out.clone();
        (self.config(), cert_out)
    }

    fn config(self) -> SimConfig {
        SimConfig {
            listen: self.listen,
            api_ssl: self.api_ssl,
            user: self.user,
            password: self
                .password
                .or_else(|| std::env::var("ROUTEROS_SIM_PASSWORD").ok())
                .unwrap_or_else(|| "sim-password".into()),
            ros_version: self.ros_version,
            identity: self.identity,
            model: self.model,
            state_file: self.state,
            customers: self.customers.map(|rate| CustomerConfig {
                logins_per_minute: rate,
                time_scale: self.time_scale,
                bytes_per_second: self.bytes_per_second,
            }),
            faults: FaultSettings {
                latency: Duration::from_millis(self.latency_ms),
                service_time: Duration::from_millis(self.service_time_ms),
                drop_after: self.drop_after,
                refuse_logins: self.refuse_logins,
            },
            control: self.control,
        }
    }
}

async fn terminated() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let (config, cert_out) = Args::parse().into_config();
    let handle = sim::start(config).await?;
    if let (Some(path), Some(pem)) = (&cert_out, handle.cert_pem()) {
        std::fs::write(path, pem)
            .with_context(|| format!("writing certificate to {}", path.display()))?;
    }
    println!("api listening on {}", handle.api_addr());
    if let (Some(addr), Some(pin)) = (handle.api_ssl_addr(), handle.cert_sha256()) {
        println!("api-ssl listening on {addr} sha256={}", hex::encode(pin));
    }
    if let Some(addr) = handle.control_addr() {
        println!("control listening on {addr}");
    }
    use std::io::Write as _;
    std::io::stdout().flush().ok();
    terminated().await?;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}
