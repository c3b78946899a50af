//! `linkfault-proxy`: the link-fault UDP relay as a process, for benches, demos and manual
//! experiments (`nc` to the control port and type `drop 30`).
//!
//! Faults given as flags apply from the first datagram; the control interface changes them at
//! run time. It prints `proxy listening on ADDR` (and `control listening on ADDR`) on stdout
//! once ready, so a parent process can wait for those lines and learn the ports when it asked
//! for port 0. Ctrl-C or SIGTERM stops it gracefully and prints the final counters.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use hotspot_tests::linkfault::{ControlServer, Direction, Faults, LinkFaultProxy, ProxyConfig};

#[derive(Parser, Debug)]
#[command(
    name = "linkfault-proxy",
    about = "UDP relay that drops, delays, reorders, duplicates or cuts traffic on command"
)]
struct Args {
    /// Address the clients (agents) send to.
    #[arg(long)]
    listen: SocketAddr,
    /// Address datagrams are relayed to (the controller).
    #[arg(long)]
    upstream: SocketAddr,
    /// Serve the line control interface on this TCP address (keep it on loopback).
    #[arg(long)]
    control: Option<SocketAddr>,
    /// Which way the fault flags below apply.
    #[arg(long, value_enum, default_value_t = DirArg::Both)]
    direction: DirArg,
    /// Start with the link cut.
    #[arg(long)]
    blackhole: bool,
    /// Percentage of datagrams dropped (0-100).
    #[arg(long, default_value_t = 0.0, value_parser = percent)]
    drop: f64,
    /// Base delay in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Uniform random extra delay, up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Percentage of datagrams sent twice (0-100).
    #[arg(long, default_value_t = 0.0, value_parser = percent)]
    duplicate: f64,
    /// Percentage of datagrams held back so later ones overtake them (0-100).
    #[arg(long, default_value_t = 0.0, value_parser = percent)]
    reorder: f64,
    /// How long a held-back datagram waits, in milliseconds.
    #[arg(long, default_value_t = 50)]
    reorder_ms: u64,
    /// Close a client mapping after this many idle seconds.
    #[arg(long, default_value_t = 120)]
    idle_timeout_secs: u64,
    /// Most client mappings at once.
    #[arg(long, default_value_t = ProxyConfig::default().max_mappings)]
    max_mappings: usize,
    /// Most datagrams waiting in the delay queue at once.
    #[arg(long, default_value_t = ProxyConfig::default().max_pending_delayed)]
    max_pending: usize,
    /// Largest datagram relayed, in bytes (larger ones are dropped, like an MTU).
    #[arg(long, default_value_t = ProxyConfig::default().max_datagram)]
    max_datagram: usize,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DirArg {
    Up,
    Down,
    Both,
}

impl From<DirArg> for Direction {
    fn from(d: DirArg) -> Direction {
        match d {
            DirArg::Up => Direction::ToUpstream,
            DirArg::Down => Direction::ToClient,
            DirArg::Both => Direction::Both,
        }
    }
}

fn percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a percentage from 0 to 100")),
    }
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let config = ProxyConfig {
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        max_mappings: args.max_mappings,
        max_pending_delayed: args.max_pending,
        max_datagram: args.max_datagram,
    };
    let proxy = LinkFaultProxy::start_with(args.listen, args.upstream, config)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let faults = Faults {
        blackhole: args.blackhole,
        drop_percent: args.drop,
        delay: millis(args.delay_ms),
        jitter: millis(args.jitter_ms),
        reorder_percent: args.reorder,
        reorder_extra: if args.reorder > 0.0 {
            millis(args.reorder_ms)
        } else {
            Duration::ZERO
        },
        duplicate_percent: args.duplicate,
    };
    proxy.set(args.direction.into(), faults);
    println!("proxy listening on {}", proxy.local_addr());

    let control = match args.control {
        Some(addr) => {
            let server = ControlServer::start(addr, proxy.clone())
                .await
                .with_context(|| format!("cannot listen for control on {addr}"))?;
            println!("control listening on {}", server.local_addr());
            Some(server)
        }
        None => None,
    };
    let now = proxy.faults();
    tracing::info!(
        upstream = %args.upstream,
        up = %now.to_upstream,
        down = %now.to_client,
        "relaying"
    );

    stop_signal().await?;
    tracing::info!("stopping");
    if let Some(server) = control {
        server.shutdown().await;
    }
    let stats = proxy.stats();
    proxy.shutdown().await;
    println!("final stats {}", serde_json::to_string(&stats)?);
    Ok(())
}

/// Waits for Ctrl-C, or SIGTERM where there is one.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot watch Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot watch Ctrl-C")?;
    Ok(())
}
