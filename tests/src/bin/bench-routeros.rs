//! `bench-routeros`: what pipelining buys when a batch of vouchers goes onto a router.
//!
//! For each link delay, a fresh simulated router with a fixed service time per command (its
//! one CPU is busy that long for every command, across all sessions) receives `--count`
//! hotspot-user adds, once pipelined on one API session (up to `--window` in flight) and once
//! one at a time (each add waits for the previous `!done`, as the seed and its peers do).
//! Every run is checked: the router must hold exactly `--count` users afterwards.
//! Prints a table; no pass/fail beyond that check — timing goals live here, not in tests.

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use clap::Parser;
use hotspot_agent::routeros::{HotspotUser, Router, RouterConfig, SecretString};
use hotspot_shared::units::RosDuration;
use hotspot_tests::sim::{self, FaultSettings, SimConfig};

#[derive(Parser)]
#[command(
    name = "bench-routeros",
    version,
    about = "Pipelined vs one-at-a-time hotspot-user adds on the simulator"
)]
struct Args {
    /// Vouchers per run.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Vouchers per one-at-a-time run (default: --count); results are per second, so a smaller
    /// sample keeps the 50 ms case short.
    #[arg(long)]
    sequential_count: Option<usize>,
    /// Router service time per command, in milliseconds.
    #[arg(long, default_value_t = 1.0)]
    service_ms: f64,
    /// Link delays to measure, in milliseconds (added to every reply).
    #[arg(long, value_delimiter = ',', default_value = "1,50")]
    delays_ms: Vec<f64>,
    /// Commands in flight on the pipelined session.
    #[arg(long, default_value_t = 64)]
    window: usize,
}

struct Row {
    delay_ms: f64,
    mode: &'static str,
    vouchers: usize,
    elapsed: Duration,
}

fn users(prefix: &str, n: usize) -> Vec<HotspotUser> {
    (0..n)
        .map(|i| {
            let code = format!("{prefix}{i:06}");
            HotspotUser {
                limit_uptime: Some(RosDuration::from_secs(3600)),
                limit_bytes_total: Some(1 << 30),
                comment: Some(b"bench".to_vec()),
                ..HotspotUser::new(code.clone(), code)
            }
        })
        .collect()
}

async fn run(
    delay: Duration,
    service: Duration,
    pipelined: bool,
    n: usize,
    window: usize,
) -> anyhow::Result<Duration> {
    let sim = sim::start(SimConfig {
        faults: FaultSettings {
            latency: delay,
            service_time: service,
            ..FaultSettings::default()
        },
        ..SimConfig::local()
    })
    .await?;
    let cfg = SimConfig::local();
    let addr = sim.api_addr();
    let mut config = RouterConfig::plain(
        addr.ip().to_string(),
        addr.port(),
        &cfg.user,
        SecretString::new(cfg.password.clone()),
    );
    config.window = window;
    config.command_timeout = Duration::from_secs(120);
    let router = Router::new(config);
    router.identity().await.context("login")?; // connect outside the timed part
    let batch = users(if pipelined { "P" } else { "S" }, n);
    let start = Instant::now();
    if pipelined {
        for r in router.add_hotspot_users_pipelined(&batch).await {
            r.context("pipelined add")?;
        }
    } else {
        for u in &batch {
            router.add_hotspot_user(u).await.context("sequential add")?;
        }
    }
    let elapsed = start.elapsed();
    ensure!(
        sim.user_count() == n,
        "router holds {} users, expected {n}",
        sim.user_count()
    );
    router.close().await;
    sim.shutdown().await;
    Ok(elapsed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let service = Duration::from_secs_f64(args.service_ms / 1000.0);
    let seq_n = args.sequential_count.unwrap_or(args.count);
    let mut rows = Vec::new();
    for &d in &args.delays_ms {
        let delay = Duration::from_secs_f64(d / 1000.0);
        for (mode, pipelined, n) in [
            ("pipelined", true, args.count),
            ("one-at-a-time", false, seq_n),
        ] {
            eprintln!("running: delay {d} ms, {mode}, {n} vouchers…");
            let elapsed = run(delay, service, pipelined, n, args.window).await?;
            rows.push(Row {
                delay_ms: d,
                mode,
                vouchers: n,
                elapsed,
            });
        }
    }
    println!(
        "hotspot-user adds on routeros-sim, service time {} ms/command, window {}",
        args.service_ms, args.window
    );
    println!(
        "{:>9}  {:<14} {:>9} {:>10} {:>12} {:>8}",
        "delay ms", "mode", "vouchers", "seconds", "vouchers/s", "ratio"
    );
    for pair in rows.chunks(2) {
        let rate = |r: &Row| r.vouchers as f64 / r.elapsed.as_secs_f64();
        let base = pair.get(1).map(rate).unwrap_or(f64::NAN);
        for r in pair {
            println!(
                "{:>9}  {:<14} {:>9} {:>10.2} {:>12.1} {:>7.1}x",
                r.delay_ms,
                r.mode,
                r.vouchers,
                r.elapsed.as_secs_f64(),
                rate(r),
                rate(r) / base
            );
        }
    }
    Ok(())
}
