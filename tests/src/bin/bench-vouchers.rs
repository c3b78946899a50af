//! `bench-vouchers`: how close a sale comes to the router's own speed, measured against an ideal
//! client on the same simulated router in the same run.
//!
//! For each setting (where the delay sits), a fleet of real processes: `hotspot-controller`,
//! one enrolled `hotspot-agent` dialling through the link-fault proxy, and a simulated router
//! with `--service-ms` per command. Then, for each batch size:
//! - **project**: one `POST /api/tokens/generate`, timed until every voucher is a user on the
//!   router;
//! - **ideal**: the same number of adds written at once on one fresh API session beside the agent
//!   ([`hotspot_tests::ideal`]), timed until the last `!done`.
//!
//! Settings: the router 1 ms and 50 ms (round trip) from the agent, with a fast WAN; and the
//! real topology, the agent beside the router and 50 ms of WAN (the QUIC link) to the
//! controller. Also per setting: single-voucher calls (request → user on the router, p50/p99
//! against the goal of 2×RTT + 20 ms), the agent's resident memory idle, at its peak and after
//! the batches, and one synchronous-call-per-voucher baseline (how the seed and its peers add
//! users) across the WAN.
//!
//! Build with `cargo build --release -p hotspot-tests --bins` (the processes are the
//! `e2e-controller` and `e2e-agent` beside this binary). Prints tables; no pass/fail: timing
//! goals live here, never in tests.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use clap::Parser;
use hotspot_agent::routeros::{HotspotUser, Router, RouterConfig, SecretString};
use hotspot_shared::units::RosDuration;
use hotspot_tests::faultkit::{Binaries, Fleet, FleetOptions};
use hotspot_tests::fleetkit::stats::proc_usage;
use hotspot_tests::ideal;
use hotspot_tests::linkfault::{Direction, Faults};
use hotspot_tests::sim::{self, FaultSettings, SimConfig};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "bench-vouchers",
    version,
    about = "Vouchers through the whole system against an ideal client on the same router"
)]
struct Args {
    /// Batch sizes, each one `POST /api/tokens/generate`.
    #[arg(long, value_delimiter = ',', default_value = "500,2000,10000")]
    batches: Vec<u32>,
    /// Single-voucher calls timed one by one, per setting.
    #[arg(long, default_value_t = 50)]
    singles: usize,
    /// Round trip of the slow link in each setting, in milliseconds.
    #[arg(long, default_value_t = 50)]
    rtt_ms: u64,
    /// Router service time per command, in milliseconds.
    #[arg(long, default_value_t = 1)]
    service_ms: u64,
    /// Baseline adds (one synchronous RouterOS call each, across the slow link); 0 skips it.
    #[arg(long, default_value_t = 200)]
    baseline: usize,
    /// Only the settings whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// The agent binary to run (default: `e2e-agent` beside this binary; e.g.
    /// `target/dist/hotspot-agent` for the shipped build).
    #[arg(long)]
    agent: Option<PathBuf>,
    /// Scratch directory (wiped at start).
    #[arg(long, default_value = "target/bench-vouchers")]
    data_dir: PathBuf,
}

/// Where the delay sits.
struct Setting {
    name: &'static str,
    /// Added to every router reply (the agent–router round trip).
    router_rtt: Duration,
    /// Split between both directions of the fleet link (the controller–agent round trip).
    wan_rtt: Duration,
}

struct BatchRow {
    count: u32,
    project: Duration,
    answered: Duration,
    answered_active: u64,
    ideal: Duration,
}

struct SettingResult {
    name: &'static str,
    rows: Vec<BatchRow>,
    singles: Vec<Duration>,
    answers: Vec<Duration>,
    goal: Duration,
    rss_idle_kib: u64,
    rss_peak_kib: u64,
    rss_after_kib: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn wait_users(fleet: &Fleet, at_least: usize) {
    while fleet.sim.user_count() < at_least {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn run_setting(
    args: &Args,
    bins: &Binaries,
    setting: &Setting,
) -> anyhow::Result<SettingResult> {
    let dir = args.data_dir.join(setting.name);
    let options = FleetOptions {
        usage_sync_secs: 3600,
        ..FleetOptions::default()
    };
    let fleet = Fleet::start(bins, &dir, &options).await?;
    fleet
        .sim
        .set_service_time(Duration::from_millis(args.service_ms));
    fleet.sim.set_latency(setting.router_rtt);
    fleet.proxy.set(
        Direction::Both,
        Faults {
            delay: setting.wan_rtt / 2,
            ..Faults::default()
        },
    );
    let pid = fleet.agent_pid().context("the agent runs")?;
    // One voucher first: the profile exists and every session is open before timing.
    fleet.generate(1).await?;
    wait_users(&fleet, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle_kib = proc_usage(pid)?.rss_kib;

    let mut rows = Vec::new();
    let cfg = SimConfig::local();
    for &count in &args.batches {
        eprintln!("  {}: batch of {count} …", setting.name);
        let before = fleet.sim.user_count();
        let body = json!({"router_id": fleet.router_id, "package_id": fleet.package.id,
            "count": count});
        let start = Instant::now();
        let answer = fleet
            .admin
            .expect_ok("POST", "/api/tokens/generate", Some(&body))
            .await?;
        let answered = start.elapsed();
        let answered_active = answer["counts"]["active"].as_u64().unwrap_or(0);
        wait_users(&fleet, before + count as usize).await;
        let project = start.elapsed();

        let names: Vec<String> = (0..count).map(|i| format!("IDEAL{count}X{i:06}")).collect();
        let run = ideal::add_users(
            fleet.sim.api_addr(),
            &cfg.user,
            &cfg.password,
            &fleet.package.profile,
            &names,
        )
        .await
        .context("the ideal client")?;
        ensure!(
            run.refused == 0,
            "the router refused {} ideal adds",
            run.refused
        );
        // Gone again: the router holds the project's vouchers only, as at a real site.
        fleet.sim.remove_users_direct("IDEAL");
        rows.push(BatchRow {
            count,
            project,
            answered,
            answered_active,
            ideal: run.elapsed,
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = proc_usage(pid)?;
    let (rss_after_kib, rss_peak_kib) = (after.rss_kib, after.peak_rss_kib);

    eprintln!("  {}: {} single vouchers …", setting.name, args.singles);
    let (mut singles, mut answers) = (Vec::new(), Vec::new());
    let body = json!({"router_id": fleet.router_id, "package_id": fleet.package.id, "count": 1});
    for _ in 0..args.singles {
        let before = fleet.sim.user_count();
        let start = Instant::now();
        let admin = fleet.admin.clone();
        let body = body.clone();
        let call = tokio::spawn(async move {
            let answer = admin
                .expect_ok("POST", "/api/tokens/generate", Some(&body))
                .await;
            (answer, start.elapsed())
        });
        wait_users(&fleet, before + 1).await;
        singles.push(start.elapsed());
        let (answer, answered) = call.await?;
        ensure!(
            answer?["counts"]["active"] == 1,
            "a single voucher answered without being active"
        );
        answers.push(answered);
    }
    singles.sort();
    answers.sort();
    fleet.shutdown().await?;
    Ok(SettingResult {
        name: setting.name,
        rows,
        singles,
        answers,
        goal: (setting.router_rtt + setting.wan_rtt) * 2 + Duration::from_millis(20),
        rss_idle_kib,
        rss_peak_kib,
        rss_after_kib,
    })
}

/// One synchronous add per voucher across `rtt` (the seed's way): the time for `n`.
async fn baseline(n: usize, rtt: Duration, service: Duration) -> anyhow::Result<Duration> {
    let sim = sim::start(SimConfig {
        faults: FaultSettings {
            latency: rtt,
            service_time: service,
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
    for i in 0..n {
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
        sim.user_count() == n,
        "baseline: {} users",
        sim.user_count()
    );
    router.close().await;
    sim.shutdown().await;
    Ok(elapsed)
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let mut bins = Binaries::beside_current_exe()?;
    if let Some(agent) = &args.agent {
        bins.agent = agent.clone();
    }
    let _ = std::fs::remove_dir_all(&args.data_dir);
    let (fast, slow) = (Duration::from_millis(1), Duration::from_millis(args.rtt_ms));
    let settings = [
        Setting {
            name: "router-1ms",
            router_rtt: fast,
            wan_rtt: Duration::ZERO,
        },
        Setting {
            name: "router-far",
            router_rtt: slow,
            wan_rtt: Duration::ZERO,
        },
        Setting {
            name: "wan-far",
            router_rtt: Duration::ZERO,
            wan_rtt: slow,
        },
    ];
    let mut results = Vec::new();
    for setting in &settings {
        if args
            .only
            .as_deref()
            .is_some_and(|o| !setting.name.contains(o))
        {
            continue;
        }
        eprintln!("setting {} …", setting.name);
        results.push(run_setting(&args, &bins, setting).await?);
    }

    println!(
        "vouchers onto a simulated router ({} ms service time per command); slow link = {} ms round trip",
        args.service_ms, args.rtt_ms
    );
    println!(
        "router-1ms: router 1 ms from the agent; router-far: router across the slow link from the agent; wan-far: agent beside the router, slow link to the controller"
    );
    println!();
    println!(
        "| setting | vouchers | project s | ideal s | project/ideal | answer s (active in answer) |"
    );
    println!("|---|---|---|---|---|---|");
    for r in &results {
        for row in &r.rows {
            println!(
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} ({}) |",
                r.name,
                row.count,
                row.project.as_secs_f64(),
                row.ideal.as_secs_f64(),
                row.project.as_secs_f64() / row.ideal.as_secs_f64(),
                row.answered.as_secs_f64(),
                row.answered_active
            );
        }
    }
    println!();
    println!(
        "| setting | single voucher on router p50 ms | p99 ms | max ms | goal p99 (2×RTT + 20 ms) | answered active p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in &results {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} |",
            r.name,
            ms(percentile(&r.singles, 0.5)),
            ms(percentile(&r.singles, 0.99)),
            ms(r.singles.last().copied().unwrap_or_default()),
            ms(r.goal),
            ms(percentile(&r.answers, 0.5)),
            ms(percentile(&r.answers, 0.99)),
        );
    }
    println!();
    println!("| setting | agent RSS idle MiB | peak MiB | after the batches MiB |");
    println!("|---|---|---|---|");
    for r in &results {
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "| {} | {:.1} | {:.1} | {:.1} |",
            r.name,
            mib(r.rss_idle_kib),
            mib(r.rss_peak_kib),
            mib(r.rss_after_kib)
        );
    }
    // The processes above ran the release build; the shipped binary is the `dist` build
    // (deploy/build-agent-image.sh), when there is one.
    let shipped = bins
        .agent
        .parent()
        .and_then(Path::parent)
        .map(|target| target.join("dist/hotspot-agent"))
        .filter(|shipped| *shipped != bins.agent);
    println!();
    for path in std::iter::once(bins.agent.clone()).chain(shipped) {
        if let Some(size) = file_size(&path) {
            println!(
                "agent binary {}: {} bytes ({:.2} MiB)",
                path.display(),
                size,
                size as f64 / 1048576.0
            );
        }
    }

    if args.baseline > 0 {
        eprintln!("baseline: {} synchronous adds …", args.baseline);
        let base = baseline(args.baseline, slow, Duration::from_millis(args.service_ms)).await?;
        let per_second = args.baseline as f64 / base.as_secs_f64();
        println!();
        println!(
            "baseline, one synchronous call per voucher across {} ms: {} in {:.2} s = {:.1}/s ({:.0} s for 10,000)",
            args.rtt_ms,
            args.baseline,
            base.as_secs_f64(),
            per_second,
            10_000.0 / per_second
        );
    }
    Ok(())
}
