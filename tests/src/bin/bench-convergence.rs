//! Convergence after a long partition (issue 6 §4): the link cut, 5,000 vouchers issued
//! centrally and 1,000 sold at the site while simulated customers use the site's vouchers for a
//! simulated day (the agent's usage sync every second, so a day's worth of 5-minute samples —
//! 288 — queue up), then the link restored: how long until the ledger, the agent and the router
//! agree. Real processes (`e2e-controller`, `e2e-agent` beside this binary), like the fault
//! suite.
//!
//! ```text
//! cargo build --release -p hotspot-tests --bins
//! target/release/bench-convergence                 # 5,000 + 1,000, 288 s partition
//! target/release/bench-convergence --partition-secs 60 --central 1000 --site 200
//! ```

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use hotspot_tests::faultkit::{Binaries, Fleet, FleetOptions, Work, judge, views};
use hotspot_tests::sim::CustomerConfig;

#[derive(Parser)]
#[command(about = "Time until ledger, agent and router agree after a long partition")]
struct Args {
    /// Vouchers issued centrally during the partition.
    #[arg(long, default_value_t = 5_000)]
    central: u32,
    /// Vouchers sold at the site during the partition.
    #[arg(long, default_value_t = 1_000)]
    site: u32,
    /// How long the link stays cut (real seconds; the simulated customers live a day in it).
    #[arg(long, default_value_t = 288)]
    partition_secs: u64,
    /// Customer logins per real minute.
    #[arg(long, default_value_t = 120.0)]
    logins_per_minute: f64,
    /// Where the fleet keeps its data (default: a temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("—".into(), |d| format!("{:.1}", d.as_secs_f64()))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bins = Binaries::beside_current_exe()?;
    let tmp = tempfile::tempdir()?;
    let dir = args.data_dir.unwrap_or_else(|| tmp.path().to_path_buf());
    let opts = FleetOptions {
        usage_sync_secs: 1,
        local_api: true,
        customers: Some(CustomerConfig {
            logins_per_minute: args.logins_per_minute,
            time_scale: 86_400.0 / args.partition_secs.max(1) as f64,
            bytes_per_second: 40_000,
        }),
        ..FleetOptions::default()
    };
    let mut fleet = Fleet::start(&bins, &dir, &opts).await?;
    let seller = fleet.local_login(Duration::from_secs(60)).await?;

    fleet.proxy.blackhole();
    let cut = Instant::now();
    let mut work = Work::at_least(1);
    let chunks = |total: u32| (0..total.div_ceil(500)).map(move |i| (total - i * 500).min(500));
    for n in chunks(args.central) {
        work.central(n, fleet.generate(n).await?);
    }
    for n in chunks(args.site) {
        let sold =
            hotspot_tests::faultkit::local::sell_ok(&seller, fleet.router_id, fleet.package.id, n)
                .await?;
        work.site(n, sold);
    }
    let issued_in = cut.elapsed();
    let partition = Duration::from_secs(args.partition_secs);
    if let Some(rest) = partition.checked_sub(cut.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let before = seller.status().await?;
    anyhow::ensure!(
        before["link"]["online"] == false,
        "the agent never saw the link go down: {before}"
    );

    fleet.proxy.restore();
    let restored = Instant::now();
    let all: HashSet<String> = work.codes().into_iter().collect();
    let (mut t_online, mut t_ledger, mut t_router, mut t_agent) = (None, None, None, None);
    let deadline = restored + Duration::from_secs(900);
    let converged = loop {
        anyhow::ensure!(Instant::now() < deadline, "not converged within 900 s");
        let status = seller.status().await?;
        if t_online.is_none() && status["link"]["online"] == true {
            t_online = Some(restored.elapsed());
        }
        if t_agent.is_none()
            && status["pending_sales"] == 0
            && status["pending_events"] == 0
            && status["link"]["online"] == true
        {
            t_agent = Some(restored.elapsed());
        }
        if t_router.is_none() {
            let users: HashSet<String> = fleet.sim.users().into_iter().map(|u| u.name).collect();
            if all.iter().all(|c| users.contains(c)) {
                t_router = Some(restored.elapsed());
            }
        }
        if t_ledger.is_none() {
            let ledger = views::ledger(&fleet.admin, fleet.router_id).await?;
            let done = ledger
                .iter()
                .filter(|v| all.contains(&v.code))
                .filter(|v| !matches!(v.state.as_str(), "issued" | "queued"))
                .count();
            if done == all.len() {
                t_ledger = Some(restored.elapsed());
            }
        }
        if t_ledger.is_some() && t_router.is_some() && t_agent.is_some() {
            break restored.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let router = fleet.sim.users();
    let used = router.iter().filter(|u| u.uptime > 0).count();
    let router_uptime: u64 = router.iter().map(|u| u.uptime).sum();
    let views = fleet.read_views().await?;
    let ledger_uptime: u64 = views.ledger.iter().map(|v| v.uptime_secs).sum();
    let verdict = judge::compare(&work, &views);
    fleet.shutdown().await.context("shutdown")?;

    println!(
        "bench-convergence: link cut {} s; {} central + {} site vouchers issued in {:.1} s",
        args.partition_secs,
        work.central.len(),
        work.site.len(),
        issued_in.as_secs_f64()
    );
    println!("| measure                                   | value |");
    println!("|-------------------------------------------|-------|");
    println!(
        "| queued at the site before restore: sales  | {} |",
        before["pending_sales"]
    );
    println!(
        "| queued at the site before restore: events | {} |",
        before["pending_events"]
    );
    println!("| vouchers used by customers (router)       | {used} |");
    println!(
        "| link restored → agent online (s)          | {} |",
        secs(t_online)
    );
    println!(
        "| link restored → all on the router (s)     | {} |",
        secs(t_router)
    );
    println!(
        "| link restored → ledger complete (s)       | {} |",
        secs(t_ledger)
    );
    println!(
        "| link restored → agent queues empty (s)    | {} |",
        secs(t_agent)
    );
    println!(
        "| link restored → three views agree (s)     | {:.1} |",
        converged.as_secs_f64()
    );
    println!(
        "| vouchers / lost / duplicated / unknown    | {} / {} / {} / {} |",
        verdict.vouchers, verdict.lost, verdict.duplicated, verdict.unknown
    );
    println!(
        "| revenue report / ledger / agent / router  | {} / {} / {} / {} |",
        verdict.revenue[0], verdict.revenue[1], verdict.revenue[2], verdict.revenue[3]
    );
    println!("| uptime ledger / router (s, at the end)    | {ledger_uptime} / {router_uptime} |");
    if !verdict.clean() {
        anyhow::bail!("the views disagree: {}", verdict.problems_text());
    }
    Ok(())
}
