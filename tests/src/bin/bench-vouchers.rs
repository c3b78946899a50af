//! `bench-vouchers`: how fast vouchers reach a router through the whole system, against what the
//! seed and its peers do.
//!
//! - **hotspot-fleet**: a demo fleet (controller, one enrolled agent, a simulated router with
//!   `--service-ms` per command) whose fleet link runs through the link-fault proxy with
//!   `--link-ms` round-trip delay (half each way). A batch of `--batch` vouchers from
//!   `POST /api/tokens/generate` is timed until every one is a user on the router; then
//!   `--singles` single-voucher calls, each timed from the request until its user exists.
//! - **baseline**: one synchronous RouterOS add per voucher from the central host across the same
//!   round trip (the simulator adds `--link-ms` to every reply), `--baseline` of them; vouchers
//!   per second extrapolate to the batch.
//!
//! Prints a table. Timing goals live here, never in tests.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use clap::Parser;
use hotspot_agent::routeros::{HotspotUser, Router, RouterConfig, SecretString};
use hotspot_shared::units::RosDuration;
use hotspot_tests::demo::http::Api;
use hotspot_tests::demo::{Demo, DemoOptions};
use hotspot_tests::linkfault::{Direction, Faults, LinkFaultProxy};
use hotspot_tests::sim::{self, FaultSettings, SimConfig};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "bench-vouchers",
    version,
    about = "Vouchers through the whole system vs one RouterOS call per voucher"
)]
struct Args {
    /// Vouchers in the batch.
    #[arg(long, default_value_t = 10_000)]
    batch: u32,
    /// Single-voucher calls timed one by one.
    #[arg(long, default_value_t = 100)]
    singles: usize,
    /// Baseline adds (one synchronous RouterOS call each).
    #[arg(long, default_value_t = 500)]
    baseline: usize,
    /// Round-trip delay of the link between the central host and the site, in milliseconds.
    #[arg(long, default_value_t = 50)]
    link_ms: u64,
    /// Router service time per command, in milliseconds.
    #[arg(long, default_value_t = 1)]
    service_ms: u64,
    /// Scratch directory (wiped at start if it is an old bench's).
    #[arg(long, default_value = "target/bench-vouchers")]
    data_dir: PathBuf,
}

fn free_tcp() -> anyhow::Result<std::net::SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn free_udp() -> anyhow::Result<std::net::SocketAddr> {
    Ok(std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

async fn baseline(args: &Args) -> anyhow::Result<Duration> {
    let sim = sim::start(SimConfig {
        faults: FaultSettings {
            latency: Duration::from_millis(args.link_ms),
            service_time: Duration::from_millis(args.service_ms),
            ..FaultSettings::default()
        },
        ..SimConfig::local()
    })
    .await?;
    let cfg = SimConfig::local();
    let addr = sim.api_addr();
    let router = Router::new(RouterConfig::plain(
        addr.ip().to_string(),
        addr.port(),
        &cfg.user,
        SecretString::new(cfg.password),
    ));
    router.identity().await.context("login")?;
    let start = Instant::now();
    for i in 0..args.baseline {
        let code = format!("BASE{i:06}");
        let user = HotspotUser {
            limit_uptime: Some(RosDuration::from_secs(3600)),
            ..HotspotUser::new(code.clone(), code)
        };
        router
            .add_hotspot_user(&user)
            .await
            .context("baseline add")?;
    }
    let elapsed = start.elapsed();
    ensure!(
        sim.user_count() == args.baseline,
        "baseline: {} users on the router",
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
    let fleet = free_udp()?;
    let proxy = LinkFaultProxy::start("127.0.0.1:0".parse()?, fleet).await?;
    let half = Duration::from_millis(args.link_ms / 2);
    proxy.set(
        Direction::Both,
        Faults {
            delay: half,
            ..Faults::default()
        },
    );
    eprintln!("starting a demo fleet behind a {} ms link …", args.link_ms);
    let demo = Demo::start(DemoOptions {
        http: free_tcp()?,
        fleet,
        data_dir: args.data_dir.clone(),
        admin_password: Some("bench-admin-password".into()),
        sites: 1,
        vouchers_per_router: 0,
        customers_per_minute: 0.0,
        agents_dial: Some(proxy.local_addr()),
        site_pages: None,
        fresh: true,
        history: false,
    })
    .await?;
    let site = &demo.sites[0];
    site.sim
        .set_service_time(Duration::from_millis(args.service_ms));
    let admin = Api::new(demo.http)
        .login("admin", &demo.admin_password)
        .await?;
    let package = demo.packages[0].0;

    eprintln!("batch of {} …", args.batch);
    let start = Instant::now();
    let body = json!({"router_id": site.router_id, "package_id": package, "count": args.batch});
    admin
        .expect_ok("POST", "/api/tokens/generate", Some(&body))
        .await?;
    let answered = start.elapsed();
    while site.sim.user_count() < args.batch as usize {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let batch = start.elapsed();

    eprintln!("{} single vouchers …", args.singles);
    let mut singles = Vec::with_capacity(args.singles);
    for _ in 0..args.singles {
        let start = Instant::now();
        let body = json!({"router_id": site.router_id, "package_id": package, "count": 1});
        let answer = admin
            .expect_ok("POST", "/api/tokens/generate", Some(&body))
            .await?;
        let code = answer["vouchers"][0]["code"]
            .as_str()
            .context("a code")?
            .to_owned();
        while site.sim.user(&code).is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        singles.push(start.elapsed());
    }
    singles.sort();
    demo.shutdown().await?;
    proxy.shutdown().await;

    eprintln!("baseline: {} synchronous adds …", args.baseline);
    let base = baseline(&args).await?;

    let rate = |n: f64, d: Duration| n / d.as_secs_f64();
    let ours = rate(f64::from(args.batch), batch);
    let theirs = rate(args.baseline as f64, base);
    println!(
        "vouchers onto a router across a {} ms round-trip link, router service time {} ms/command",
        args.link_ms, args.service_ms
    );
    println!("| path | vouchers | seconds | vouchers/s |");
    println!("|---|---|---|---|");
    println!(
        "| hotspot-fleet: POST /api/tokens/generate → on router | {} | {:.2} | {:.1} |",
        args.batch,
        batch.as_secs_f64(),
        ours
    );
    println!(
        "| baseline: one synchronous RouterOS call per voucher | {} (measured) | {:.2} | {:.1} (10,000 would take {:.0} s) |",
        args.baseline,
        base.as_secs_f64(),
        theirs,
        f64::from(args.batch) / theirs
    );
    println!(
        "ratio: {:.1}x; the batch call answered after {:.2} s",
        ours / theirs,
        answered.as_secs_f64()
    );
    println!(
        "single voucher, request → user on the router ({} calls): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        singles.len(),
        percentile(&singles, 0.5).as_secs_f64() * 1e3,
        percentile(&singles, 0.99).as_secs_f64() * 1e3,
        singles.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    Ok(())
}
