//! The scenarios of the fault suite. Each starts its own fleet in `dir`, injects its faults
//! while it asks for vouchers (recording what it asked for and what was acknowledged in a
//! [`Work`] with its own floor), waits for the three views to agree and hands work and views to
//! the judge ([`judge::compare`]), which fails a run that exercised nothing.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::RngExt as _;
use serde_json::json;

use super::disk::{self, Tmpfs};
use super::fleet::{Fleet, FleetOptions, codes_of};
use super::judge::{self, Problem, Work};
use super::local::{self, LocalStaff};
use super::proc::Binaries;
use super::summary::Row;
use super::views;
use crate::demo::http::Api;
use crate::linkfault::{Direction, Faults};
use crate::powerfs::PowerFs;

/// How big a run is: the issue's sizes at 1.0; `--soak` runs more.
///
/// CI runs the issue's sizes unscaled: measured on the 2-core machine (debug build, nextest,
/// nothing else running) the seven scenarios take 245–320 s of test time, 150–180 s of wall
/// time (scenarios 2 to 4 ~35–57 s each; scenario 6 varies most, 37–121 s, as convergence
/// through 30 % loss took 19–105 s), inside the 10-minute budget, so nothing is scaled down.
/// Re-measured with the guarded judge (issue 19): 136–146 s wall, about 250 s of test time.
/// The power cuts on [`PowerFs`] (scenarios 8 to 11, five cuts each; debug build, nextest, alone
/// or two at a time): 8 (controller) 22–30 s, 9 (agent mid-drain) 7–9 s, 10 (agent between site
/// sales, link cut) 8–17 s, 11 (both at once) 13–20 s; the four take 31–47 s of wall time
/// with `-E 'test(power)'`. Lost state on purpose (issue 11 §2): 12 (agent wiped, enrolled
/// again) ~19 s, 13 (controller restored from an older backup) ~21 s.
/// A scale so small that a scenario falls below its floor ([`Work::at_least`]) fails.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Multiplies voucher counts.
    pub vouchers: f64,
    /// Multiplies fault repetitions (flaps, kills).
    pub faults: f64,
}

impl Scale {
    pub const CI: Scale = Scale {
        vouchers: 1.0,
        faults: 1.0,
    };
    pub const SOAK: Scale = Scale {
        vouchers: 4.0,
        faults: 3.0,
    };

    /// `FAULT_SUITE_SCALE` (a factor for both) if set, else [`Scale::CI`].
    pub fn from_env() -> Scale {
        match std::env::var("FAULT_SUITE_SCALE")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
        {
            Some(f) if f > 0.0 => Scale {
                vouchers: f,
                faults: f,
            },
            _ => Scale::CI,
        }
    }

    fn n(self, base: usize) -> usize {
        ((base as f64 * self.vouchers).round() as usize).max(1)
    }

    fn k(self, base: usize) -> usize {
        ((base as f64 * self.faults).round() as usize).max(1)
    }
}

/// Longest wait for the views to agree after the faults end (a deadline, not a measurement);
/// `FAULT_SUITE_CONVERGE_SECS` changes it.
fn converge_within() -> Duration {
    let secs = std::env::var("FAULT_SUITE_CONVERGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(240);
    Duration::from_secs(secs)
}

/// Every scenario, by name.
pub const ALL: &[&str] = &[
    "1-site-sales-link-cut",
    "2-link-flapping",
    "3-agent-kill9",
    "4-controller-kill9",
    "5-router-reboot-reset",
    "6-loss-and-delay",
    "7-agent-disk-full",
    "8-controller-power-cut",
    "9-agent-power-cut-drain",
    "10-agent-power-cut-site-sales",
    "11-both-power-cut",
    "12-agent-wiped-reenrolled",
    "13-controller-restored-backup",
];

/// The scenarios that destroy state on purpose, whose fleet must heal; every other one must not.
const LOSE_STATE: &[&str] = &["12-agent-wiped-reenrolled", "13-controller-restored-backup"];

/// Runs the scenario called `name`.
pub async fn run(name: &str, bins: &Binaries, dir: &Path, scale: Scale) -> anyhow::Result<Row> {
    match name {
        "1-site-sales-link-cut" => site_sales_link_cut(bins, dir, scale).await,
        "2-link-flapping" => link_flapping(bins, dir, scale).await,
        "3-agent-kill9" => agent_kill9(bins, dir, scale).await,
        "4-controller-kill9" => controller_kill9(bins, dir, scale).await,
        "5-router-reboot-reset" => router_reboot_reset(bins, dir, scale).await,
        "6-loss-and-delay" => loss_and_delay(bins, dir, scale).await,
        "7-agent-disk-full" => agent_disk_full(bins, dir, scale).await,
        "8-controller-power-cut" => controller_power_cut(bins, dir, scale).await,
        "9-agent-power-cut-drain" => agent_power_cut_drain(bins, dir, scale).await,
        "10-agent-power-cut-site-sales" => agent_power_cut_site_sales(bins, dir, scale).await,
        "11-both-power-cut" => both_power_cut(bins, dir, scale).await,
        "12-agent-wiped-reenrolled" => agent_wiped_reenrolled(bins, dir, scale).await,
        "13-controller-restored-backup" => controller_restored_backup(bins, dir, scale).await,
        other => anyhow::bail!("no scenario {other:?}; known: {}", ALL.join(", ")),
    }
}

fn ms(range: std::ops::Range<u64>) -> Duration {
    Duration::from_millis(rand::rng().random_range(range))
}

/// Splits `total` into `parts` counts (the first ones one larger).
fn split(total: usize, parts: usize) -> Vec<u32> {
    (0..parts)
        .map(|i| (total / parts + usize::from(i < total % parts)) as u32)
        .filter(|n| *n > 0)
        .collect()
}

/// Ends a scenario: waits for agreement, reads the three views, stops everything, and judges
/// `work` against the views.
async fn finish(
    mut fleet: Fleet,
    scenario: &str,
    faults: String,
    work: &Work,
    started: Instant,
) -> anyhow::Result<Row> {
    // Not converging is a finding like the others: the views are still compared.
    let waited = Instant::now();
    let expected = work.codes();
    let (converge, not_converged) = match fleet.wait_converged(&expected, converge_within()).await {
        Ok(t) => (t, None),
        Err(e) => (waited.elapsed(), Some(format!("{e:#}"))),
    };
    let views = fleet.read_views().await?;
    let mut verdict = judge::compare(work, &views);
    if let Some(e) = not_converged {
        let first = e.lines().next().unwrap_or_default().to_owned();
        verdict.problems.insert(0, Problem::NotConverged(first));
    }
    // Crashes, cut links and power cuts lose nothing acknowledged, so they must never look
    // like lost link state: only the scenarios that destroy state may heal.
    let heals = fleet.audit_count("fleet.heal.").await?;
    if heals > 0 && !LOSE_STATE.contains(&scenario) {
        verdict.problems.push(Problem::Scenario(format!(
            "{heals} fleet.heal.* audit entries: a fault that loses no acknowledged state looked like lost link state"
        )));
    }
    fleet.shutdown().await?;
    Ok(Row {
        scenario: scenario.to_owned(),
        faults,
        verdict,
        converge,
        wall: started.elapsed(),
    })
}

/// Scenario 2: The link cut and restored (100 times, a few hundred ms each) while a 5,000-voucher
/// central batch is issued and applied.
pub async fn link_flapping(bins: &Binaries, dir: &Path, scale: Scale) -> anyhow::Result<Row> {
    let started = Instant::now();
    let fleet = Fleet::start(bins, dir, &FleetOptions::default()).await?;
    let flaps = scale.k(100);
    let proxy = fleet.proxy.clone();
    let flapper = tokio::spawn(async move {
        for _ in 0..flaps {
            proxy.blackhole();
            tokio::time::sleep(ms(50..400)).await;
            proxy.restore();
            tokio::time::sleep(ms(50..300)).await;
        }
    });
    // Ten batches among the flaps: at least one voucher in each.
    let mut work = Work::at_least(10);
    for count in split(scale.n(5_000), 10) {
        work.central(count, fleet.generate(count).await?);
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }
    flapper.await.context("the flapping task")?;
    fleet.proxy.restore();
    finish(
        fleet,
        "2-link-flapping",
        format!("{flaps} × cut/restore"),
        &work,
        started,
    )
    .await
}

/// Scenario 3: `kill -9` of the agent at random moments while a 5,000-voucher batch drains (each round
/// issues its share, so every kill lands with vouchers in flight).
pub async fn agent_kill9(bins: &Binaries, dir: &Path, scale: Scale) -> anyhow::Result<Row> {
    let started = Instant::now();
    let mut fleet = Fleet::start(bins, dir, &FleetOptions::default()).await?;
    fleet.sim.set_service_time(Duration::from_millis(1));
    let kills = scale.k(30);
    // Every kill lands with vouchers in flight: at least one issued per round.
    let mut work = Work::at_least(kills);
    for count in split(scale.n(5_000), kills) {
        work.central(count, fleet.generate(count).await?);
        tokio::time::sleep(ms(100..1_000)).await;
        fleet.kill_agent();
        fleet.start_agent()?;
    }
    fleet.sim.clear_faults();
    finish(
        fleet,
        "3-agent-kill9",
        format!("{kills} × kill -9 agent"),
        &work,
        started,
    )
    .await
}

/// Vouchers per `POST /api/tokens/generate` of scenario 4.
const PER_CALL: u32 = 10;

/// Keeps calling `POST /api/tokens/generate` until a call fails; every 2xx answer goes into
/// `work` with the count it asked for.
async fn issue_until_error(api: Api, router: u64, package: u64, work: Arc<Mutex<Work>>) {
    let body = json!({"router_id": router, "package_id": package, "count": PER_CALL});
    loop {
        match api.call("POST", "/api/tokens/generate", Some(&body)).await {
            Ok((200..=299, answer)) => match codes_of(&answer) {
                Ok(c) => work
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .central(PER_CALL, c),
                Err(_) => return,
            },
            _ => return,
        }
    }
}

/// Two clients call `POST /api/tokens/generate` without pause (see [`issue_until_error`]);
/// after 0.3–1.5 s `fault` strikes, and the clients end at their first failed call.
async fn under_load(
    fleet: &mut Fleet,
    work: &Arc<Mutex<Work>>,
    fault: impl FnOnce(&mut Fleet),
) -> anyhow::Result<()> {
    let clients: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(issue_until_error(
                fleet.admin.clone(),
                fleet.router_id,
                fleet.package.id,
                work.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(ms(300..1_500)).await;
    fault(fleet);
    for c in clients {
        c.await.context("a client task")?;
    }
    Ok(())
}

/// Scenario 4: `kill -9` of the controller while two clients call `POST /api/tokens/generate` without
/// pause: every voucher of a 2xx answer ends in the ledger and on the router, none twice.
pub async fn controller_kill9(bins: &Binaries, dir: &Path, scale: Scale) -> anyhow::Result<Row> {
    let started = Instant::now();
    let mut fleet = Fleet::start(bins, dir, &FleetOptions::default()).await?;
    let kills = scale.k(10);
    // At least one answered call per round between kills.
    let work = Arc::new(Mutex::new(Work::at_least(PER_CALL as usize * kills)));
    for round in 0..kills {
        if round > 0 {
            fleet.start_controller().await?;
        }
        under_load(&mut fleet, &work, |fleet| {
            fleet.kill_controller();
        })
        .await?;
    }
    fleet.start_controller().await?;
    let work = work.lock().unwrap_or_else(PoisonError::into_inner).clone();
    finish(
        fleet,
        "4-controller-kill9",
        format!("{kills} × kill -9 controller mid-generate"),
        &work,
        started,
    )
    .await
}

/// Scenario 8: the controller's machine loses power (5 times) while two clients call
/// `POST /api/tokens/generate` without pause. Its data directory is on the power-cut file system
/// ([`PowerFs`]): each round is `kill -9`, then a cut (everything not fsynced is gone), then a
/// restart on what is left. Every voucher of a 2xx answer must still end in the ledger and on
/// the router, none twice: an answer given before its barrier shows up here as lost.
pub async fn controller_power_cut(
    bins: &Binaries,
    dir: &Path,
    scale: Scale,
) -> anyhow::Result<Row> {
    let started = Instant::now();
    let fs = PowerFs::mount(&dir.join("controller-disk")).context("scenario 8")?;
    let opts = FleetOptions {
        controller_dir: Some(fs.path().join("controller")),
        ..FleetOptions::default()
    };
    let mut fleet = Fleet::start(bins, dir, &opts).await?;
    let cuts = scale.k(5);
    // At least one answered call per round between cuts.
    let work = Arc::new(Mutex::new(Work::at_least(PER_CALL as usize * cuts)));
    for round in 0..cuts {
        if round > 0 {
            fleet.start_controller().await?;
        }
        under_load(&mut fleet, &work, |fleet| {
            fleet.kill_controller();
            fs.cut();
        })
        .await?;
    }
    fleet.start_controller().await?;
    let work = work.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let stats = fs.stats();
    let row = finish(
        fleet,
        "8-controller-power-cut",
        format!(
            "{cuts} × power cut of the controller mid-generate (kill -9, unsynced writes \
             dropped; {} syncs)",
            stats.syncs
        ),
        &work,
        started,
    )
    .await;
    drop(fs);
    row
}

/// `kill -9` of the agent, a power cut of its disk, a restart on what is left.
fn power_cut_agent(fleet: &mut Fleet, fs: &PowerFs) -> anyhow::Result<()> {
    fleet.kill_agent();
    fs.cut();
    fleet.start_agent()
}

/// Whether some of the `issued` vouchers have not reached the router yet (the router holds only
/// this scenario's users).
fn in_flight(fleet: &Fleet, issued: usize) -> bool {
    fleet.sim.user_count() < issued
}

/// How long scenario 9 waits for a batch to start reaching the router before it cuts anyway.
const DRAIN_STARTS_WITHIN: Duration = Duration::from_secs(20);

/// Waits (up to `within`) until the router holds more than `n` users; whether it did.
async fn router_passes(fleet: &Fleet, n: usize, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while fleet.sim.user_count() <= n {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// `POST /api/tokens/generate` for `count` vouchers on a task of its own: while the site is
/// online the call waits (up to `vouchers.confirm_wait_ms`) for the router's confirmation, and
/// a fault is meant to land during that wait.
fn generate_in_background(
    fleet: &Fleet,
    count: u32,
) -> tokio::task::JoinHandle<anyhow::Result<Vec<String>>> {
    let api = fleet.admin.clone();
    let body =
        json!({"router_id": fleet.router_id, "package_id": fleet.package.id, "count": count});
    tokio::spawn(async move {
        let answer = api
            .expect_ok("POST", "/api/tokens/generate", Some(&body))
            .await?;
        codes_of(&answer)
    })
}

/// Scenario 9: the agent's machine loses power (5 times) while central batches drain to the
/// router. Its data directory is on the power-cut file system ([`PowerFs`]); each round issues
/// its share of 600 vouchers (`POST /api/tokens/generate` on a task of its own, as the call
/// waits for the router's confirmation; acknowledged by the controller), waits until the batch
/// starts reaching the router (slowly: 4 ms per user, so a batch takes half a second), and a
/// moment later cuts: `kill -9`, everything not fsynced gone, a restart on what is left. Every acknowledged voucher must still reach the router exactly once: a
/// queue item, `Applied` event or link sequence record that was acknowledged before its
/// barrier shows up here as lost or twice. A run whose cuts all found the drain finished
/// proves less and fails.
pub async fn agent_power_cut_drain(
    bins: &Binaries,
    dir: &Path,
    scale: Scale,
) -> anyhow::Result<Row> {
    let started = Instant::now();
    let fs = PowerFs::mount(&dir.join("agent-disk")).context("scenario 9")?;
    let opts = FleetOptions {
        agent_dir: Some(fs.path().join("agent")),
        ..FleetOptions::default()
    };
    let mut fleet = Fleet::start(bins, dir, &opts).await?;
    fleet.sim.set_service_time(Duration::from_millis(4));
    let cuts = scale.k(5);
    // At least one voucher issued per round.
    let mut work = Work::at_least(cuts);
    let mut mid_drain = 0;
    let mut rounds = 0;
    for count in split(scale.n(600), cuts) {
        let before = fleet.sim.user_count();
        let call = generate_in_background(&fleet, count);
        router_passes(&fleet, before, DRAIN_STARTS_WITHIN).await;
        tokio::time::sleep(ms(0..300)).await;
        mid_drain += usize::from(in_flight(&fleet, work.central.len() + count as usize));
        power_cut_agent(&mut fleet, &fs)?;
        rounds += 1;
        work.central(count, call.await.context("a generate call")??);
    }
    fleet.sim.clear_faults();
    let stats = fs.stats();
    let faults = format!(
        "{rounds} × power cut of the agent mid-drain (kill -9, unsynced writes dropped; \
         {mid_drain} with vouchers in flight; {} syncs)",
        stats.syncs
    );
    let mut row = finish(fleet, "9-agent-power-cut-drain", faults, &work, started).await;
    if let Ok(row) = &mut row
        && mid_drain == 0
    {
        row.verdict.problems.push(Problem::Scenario(
            "no power cut landed while vouchers were on their way to the router".into(),
        ));
    }
    drop(fs);
    row
}

/// Scenario 10: the link cut while staff sell at the site, and the site's machine losing
/// power (5 times) between the sales. The agent's data directory is on [`PowerFs`]; after the
/// seller signed in once with the link up (so the agent holds the staff directory, the
/// catalogue and a code grant), the link goes, and then six sales at the site (300 vouchers)
/// have a `kill -9`, a cut and a restart between each two; the seller signs in again each time
/// (offline, against the stored directory: sessions live in memory). Every sale the local API
/// answered 200 must survive the cuts after it and, once the link is back, be in the ledger (as
/// a site sale) and on the router once.
pub async fn agent_power_cut_site_sales(
    bins: &Binaries,
    dir: &Path,
    scale: Scale,
) -> anyhow::Result<Row> {
    let started = Instant::now();
    let fs = PowerFs::mount(&dir.join("agent-disk")).context("scenario 10")?;
    let opts = FleetOptions {
        local_api: true,
        agent_dir: Some(fs.path().join("agent")),
        ..FleetOptions::default()
    };
    let mut fleet = Fleet::start(bins, dir, &opts).await?;
    let mut seller = fleet.local_login(Duration::from_secs(60)).await?;
    fleet.proxy.blackhole();
    let sales = split(scale.n(300), scale.k(5) + 1);
    // At least one voucher in each sale.
    let mut work = Work::at_least(sales.len()).with_site_minimum(sales.len());
    let mut cuts = 0;
    for (round, &count) in sales.iter().enumerate() {
        if round > 0 {
            power_cut_agent(&mut fleet, &fs)?;
            cuts += 1;
            seller = fleet.local_login(Duration::from_secs(60)).await?;
            // Restarted behind the cut link, it has not reached the controller since.
            local::wait_link(&seller, false, Duration::from_secs(5)).await?;
        }
        let sold = local::sell_ok(&seller, fleet.router_id, fleet.package.id, count).await?;
        work.site(count, sold);
    }
    let status = seller.status().await?;
    anyhow::ensure!(
        status["link"]["online"] == false,
        "the link came back early: {status}"
    );
    fleet.proxy.restore();
    let stats = fs.stats();
    let faults = format!(
        "link cut; {cuts} × power cut of the agent between {} site sales (kill -9, unsynced \
         writes dropped; {} syncs)",
        sales.len(),
        stats.syncs
    );
    let row = finish(
        fleet,
        "10-agent-power-cut-site-sales",
        faults,
        &work,
        started,
    )
    .await;
    drop(fs);
    row
}

/// Restarts the controller, then the agent. In between, while the agent is still down and the
/// router holds what it held at the cut, it looks whether the ledger (what survived the
/// controller's cut) has vouchers the router lacks: whether the cut caught vouchers on their way.
async fn restart_both(fleet: &mut Fleet) -> anyhow::Result<bool> {
    fleet.start_controller().await?;
    let ledger = views::ledger(&fleet.admin, fleet.router_id).await?;
    let in_flight = ledger.len() > fleet.sim.user_count();
    fleet.start_agent()?;
    Ok(in_flight)
}

/// Scenario 11: the controller and the agent lose power together (5 times) while two clients
/// call `POST /api/tokens/generate` without pause and the agent puts what it got on the router
/// (6 ms per user). Each has its data directory on a [`PowerFs`] of its own; each round kills
/// both, cuts both and restarts both on what is left. Every voucher of a 2xx answer must end
/// in the ledger, the agent and on the router, none twice, although neither side kept anything
/// it had not fsynced (link sequence records and outboxes included).
pub async fn both_power_cut(bins: &Binaries, dir: &Path, scale: Scale) -> anyhow::Result<Row> {
    let started = Instant::now();
    let controller_fs = PowerFs::mount(&dir.join("controller-disk")).context("scenario 11")?;
    let agent_fs = PowerFs::mount(&dir.join("agent-disk")).context("scenario 11")?;
    let opts = FleetOptions {
        controller_dir: Some(controller_fs.path().join("controller")),
        agent_dir: Some(agent_fs.path().join("agent")),
        ..FleetOptions::default()
    };
    let mut fleet = Fleet::start(bins, dir, &opts).await?;
    fleet.sim.set_service_time(Duration::from_millis(6));
    let cuts = scale.k(5);
    // At least one answered call per round between cuts.
    let work = Arc::new(Mutex::new(Work::at_least(PER_CALL as usize * cuts)));
    let mut mid_drain = 0;
    for round in 0..cuts {
        if round > 0 {
            mid_drain += usize::from(restart_both(&mut fleet).await?);
        }
        under_load(&mut fleet, &work, |fleet| {
            fleet.kill_controller();
            fleet.kill_agent();
            controller_fs.cut();
            agent_fs.cut();
        })
        .await?;
    }
    mid_drain += usize::from(restart_both(&mut fleet).await?);
    fleet.sim.clear_faults();
    let work = work.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let faults = format!(
        "{cuts} × power cut of controller and agent together mid-generate (kill -9 both, \
         unsynced writes dropped on both; {mid_drain} with vouchers in flight; {} + {} syncs)",
        controller_fs.stats().syncs,
        agent_fs.stats().syncs
    );
    let row = finish(fleet, "11-both-power-cut", faults, &work, started).await;
    drop(agent_fs);
    drop(controller_fs);
    row
}

/// Waits until the router holds at least `n` users (`n` > 0: an empty router meets a gate of
/// none).
async fn router_reaches(fleet: &Fleet, n: usize) -> anyhow::Result<()> {
    anyhow::ensure!(n > 0, "a gate of 0 users proves nothing");
    let deadline = Instant::now() + converge_within();
    while fleet.sim.user_count() < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the router did not reach {n} users"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Scenario 5: The router reboots while a batch is applied, then loses its configuration (reset)
/// while the next one is applied.
pub async fn router_reboot_reset(bins: &Binaries, dir: &Path, scale: Scale) -> anyhow::Result<Row> {
    let started = Instant::now();
    let fleet = Fleet::start(bins, dir, &FleetOptions::default()).await?;
    fleet.sim.set_service_time(Duration::from_millis(2));
    let half = scale.n(1_500) as u32;
    // Enough that each gate below waits for at least one user.
    let mut work = Work::at_least(8);
    work.central(half, fleet.generate(half).await?);
    router_reaches(&fleet, (work.central.len() / 4).max(1)).await?;
    fleet.sim.reboot(Duration::from_secs(2));
    work.central(half, fleet.generate(half).await?);
    router_reaches(&fleet, (work.central.len() * 2 / 3).max(1)).await?;
    fleet.sim.reset();
    fleet.sim.clear_faults();
    finish(
        fleet,
        "5-router-reboot-reset",
        "reboot (2 s down) + reset, mid-batch".into(),
        &work,
        started,
    )
    .await
}

/// Scenario 6: 30 % packet loss and 300 ms delay (each way) on the link for the whole run.
pub async fn loss_and_delay(bins: &Binaries, dir: &Path, scale: Scale) -> anyhow::Result<Row> {
    let started = Instant::now();
    let fleet = Fleet::start(bins, dir, &FleetOptions::default()).await?;
    fleet.proxy.set(
        Direction::Both,
        Faults {
            drop_percent: 30.0,
            delay: Duration::from_millis(300),
            ..Faults::default()
        },
    );
    // Four batches through the lossy link: at least one voucher in each.
    let mut work = Work::at_least(4);
    for count in split(scale.n(1_000), 4) {
        work.central(count, fleet.generate(count).await?);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Measured (and compared) with the faults still on: the link never "returns" here.
    finish(
        fleet,
        "6-loss-and-delay",
        "30 % loss + 300 ms delay both ways, whole run".into(),
        &work,
        started,
    )
    .await
}

/// Scenario 1: The link cut for the whole time (the agent sees it go down) while staff sell 500 at the
/// site and 500 centrally; then restored.
pub async fn site_sales_link_cut(bins: &Binaries, dir: &Path, scale: Scale) -> anyhow::Result<Row> {
    let started = Instant::now();
    let opts = FleetOptions {
        local_api: true,
        ..FleetOptions::default()
    };
    let fleet = Fleet::start(bins, dir, &opts).await?;
    let seller = fleet.local_login(Duration::from_secs(60)).await?;
    fleet.proxy.blackhole();
    // The agent must see the outage (its QUIC connection times out), not just lose packets.
    local::wait_link(&seller, false, Duration::from_secs(90)).await?;
    // Five rounds of a site sale and a central batch: at least one voucher in each.
    let mut work = Work::at_least(10).with_site_minimum(5);
    for count in split(scale.n(500), 5) {
        let sold = local::sell_ok(&seller, fleet.router_id, fleet.package.id, count).await?;
        work.site(count, sold);
    }
    let status = seller.status().await?;
    anyhow::ensure!(
        status["link"]["online"] == false,
        "the link came back early: {status}"
    );
    fleet.proxy.restore();
    finish(
        fleet,
        "1-site-sales-link-cut",
        format!(
            "link cut ≥ 30 s (agent offline), {} sold at the site",
            work.site.len()
        ),
        &work,
        started,
    )
    .await
}

/// Vouchers per sale while the agent's disk is full.
const FULL_SALE: u32 = 50;

/// How long one sale may take before it counts as hanging.
const SALE_WITHIN: Duration = Duration::from_secs(15);

/// How long the site may take to sell again once space returns.
const RECOVER_WITHIN: Duration = Duration::from_secs(20);

/// How selling at the site came back.
#[derive(Debug, PartialEq, Eq)]
enum Recovery {
    Sold,
    AgentExited(std::process::ExitStatus),
    TimedOut,
}

/// Sells `batch` at the site until it is accepted (recorded in `work`), the agent exits, or
/// `within` passes.
async fn sell_again(
    seller: &LocalStaff,
    fleet: &mut Fleet,
    batch: u32,
    work: &mut Work,
    within: Duration,
) -> anyhow::Result<Recovery> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = fleet.agent_exited() {
            return Ok(Recovery::AgentExited(status));
        }
        let sale = seller.sell(fleet.router_id, fleet.package.id, batch as usize);
        if let Ok(Ok((200, answer))) = tokio::time::timeout(SALE_WITHIN, sale).await {
            work.site(batch, codes_of(&answer)?);
            return Ok(Recovery::Sold);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(Recovery::TimedOut)
}

/// Scenario 7: The agent's disk fills up: sales at the site are refused with a clear message, nothing
/// accepted is lost (site or central), and selling works again once space returns.
pub async fn agent_disk_full(bins: &Binaries, dir: &Path, scale: Scale) -> anyhow::Result<Row> {
    let started = Instant::now();
    let fs = Tmpfs::mount(&dir.join("agent-disk"), "48m").context("scenario 7")?;
    let opts = FleetOptions {
        local_api: true,
        agent_dir: Some(fs.0.join("agent")),
        ..FleetOptions::default()
    };
    let fleet = Fleet::start(bins, dir, &opts).await?;
    let seller = fleet.local_login(Duration::from_secs(60)).await?;
    let batch = scale.n(100) as u32;
    // Sold at the site before the disk fills and after it recovers; sold centrally before and
    // while it is full.
    let mut work = Work::at_least(4).with_site_minimum(2);
    let sold = local::sell_ok(&seller, fleet.router_id, fleet.package.id, batch).await?;
    work.site(batch, sold);
    work.central(batch, fleet.generate(batch).await?);
    fleet
        .wait_converged(&work.codes(), converge_within())
        .await?;

    let filler = fs.0.join("filler");
    disk::fill(&filler)?;
    let mut problems = Vec::new();
    let mut refusal = None;
    for _ in 0..50 {
        let sale = seller.sell(fleet.router_id, fleet.package.id, FULL_SALE as usize);
        let (status, answer) = match tokio::time::timeout(SALE_WITHIN, sale).await {
            Ok(answer) => answer?,
            Err(_) => {
                problems.push(format!(
                    "a sale with the disk full got no answer within {SALE_WITHIN:?}"
                ));
                break;
            }
        };
        match status {
            200 => work.site(FULL_SALE, codes_of(&answer)?),
            507 => {
                refusal = Some(answer);
                break;
            }
            other => anyhow::bail!("a sale on a full disk answered {other}: {answer}"),
        }
    }
    match &refusal {
        Some(r) if r["error"]["code"] == "storage_full" => {}
        Some(r) => problems.push(format!("the refusal is not a storage_full error: {r}")),
        None => problems.push("no sale was refused while the agent's disk was full".into()),
    }
    // Sold centrally meanwhile: reaches the site once it has space again.
    work.central(batch, fleet.generate(batch).await?);
    tokio::time::sleep(Duration::from_secs(2)).await;

    std::fs::remove_file(&filler)?;
    let mut fleet = fleet;
    let mut seller = seller;
    let mut how = "without a restart".to_owned();
    match sell_again(&seller, &mut fleet, batch, &mut work, RECOVER_WITHIN).await? {
        Recovery::Sold => {}
        Recovery::AgentExited(status) => {
            // The agent's way back from ENOSPC: it exits once space returns, and the service
            // manager (Restart=always) starts it again; so does this harness.
            how = format!("after the agent exited ({status}) and was restarted");
            fleet.start_agent()?;
            seller = fleet.local_login(Duration::from_secs(60)).await?;
            if sell_again(&seller, &mut fleet, batch, &mut work, RECOVER_WITHIN).await?
                != Recovery::Sold
            {
                problems.push("selling did not recover after the agent's restart".into());
            }
        }
        Recovery::TimedOut => {
            problems.push(format!(
                "selling at the site did not recover within {RECOVER_WITHIN:?} of space \
                 returning, and the agent kept running"
            ));
            // Still check that a restart recovers and nothing was lost.
            how = "ONLY after a forced restart".into();
            fleet.kill_agent();
            fleet.start_agent()?;
            seller = fleet.local_login(Duration::from_secs(60)).await?;
            sell_again(&seller, &mut fleet, batch, &mut work, RECOVER_WITHIN).await?;
        }
    }
    let faults = format!("tmpfs filled: refused with 507 storage_full; recovered {how}");
    let mut row = finish(fleet, "7-agent-disk-full", faults, &work, started).await;
    if let Ok(row) = &mut row {
        row.verdict
            .problems
            .extend(problems.into_iter().map(Problem::Scenario));
    }
    drop(fs);
    row
}

/// Central and site sales that the whole fleet has taken in: sold, then waited for until
/// ledger, agent and router agree on everything in `work` so far.
async fn sell_and_settle(
    fleet: &Fleet,
    seller: &LocalStaff,
    work: &mut Work,
    central: u32,
    site: u32,
) -> anyhow::Result<()> {
    work.central(central, fleet.generate(central).await?);
    let sold = local::sell_ok(seller, fleet.router_id, fleet.package.id, site).await?;
    work.site(site, sold);
    fleet
        .wait_converged(&work.codes(), converge_within())
        .await
        .context("the fleet did not settle before the fault")?;
    Ok(())
}

/// Waits until the audit log holds more than `before` `fleet.heal.done` entries of the site.
async fn healed(fleet: &Fleet, before: usize) -> anyhow::Result<usize> {
    let deadline = Instant::now() + converge_within();
    loop {
        let now = fleet.audit_count("fleet.heal.done").await?;
        if now > before {
            return Ok(now);
        }
        anyhow::ensure!(Instant::now() < deadline, "no heal was recorded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A fleet selling centrally and at the site (`central` and `site` vouchers, settled): what the
/// state-loss scenarios start from.
async fn settled_fleet(
    bins: &Binaries,
    dir: &Path,
    work: &mut Work,
    central: u32,
    site: u32,
) -> anyhow::Result<(Fleet, LocalStaff)> {
    let opts = FleetOptions {
        local_api: true,
        ..FleetOptions::default()
    };
    let fleet = Fleet::start(bins, dir, &opts).await?;
    let seller = fleet.local_login(Duration::from_secs(60)).await?;
    sell_and_settle(&fleet, &seller, work, central, site).await?;
    Ok((fleet, seller))
}

/// After a state loss: 50 more central vouchers and 20 sold at the site (signed in again,
/// sessions live in the agent's memory), then the judge.
async fn sell_on_and_finish(
    fleet: Fleet,
    mut work: Work,
    scenario: &str,
    faults: String,
    started: Instant,
) -> anyhow::Result<Row> {
    work.central(50, fleet.generate(50).await?);
    let seller = fleet.local_login(Duration::from_secs(60)).await?;
    let sold = local::sell_ok(&seller, fleet.router_id, fleet.package.id, 20).await?;
    work.site(20, sold);
    finish(fleet, scenario, faults, &work, started).await
}

/// Scenario 12: the agent's disk replaced after central and site sales settled: the agent is
/// enrolled again into an empty directory and must re-learn every voucher from the ledger (the
/// judge reads its database), while selling goes on; nothing twice on the router.
pub async fn agent_wiped_reenrolled(
    bins: &Binaries,
    dir: &Path,
    scale: Scale,
) -> anyhow::Result<Row> {
    let started = Instant::now();
    let mut work = Work::at_least(4).with_site_minimum(2);
    let (central, site) = (scale.n(300) as u32, scale.n(100) as u32);
    let (mut fleet, _) = settled_fleet(bins, dir, &mut work, central, site).await?;
    let heals = fleet.audit_count("fleet.heal.done").await?;
    fleet.kill_agent();
    fleet.wipe_agent()?;
    fleet.enroll_agent().await?;
    let wiped = Instant::now();
    fleet.start_agent()?;
    healed(&fleet, heals).await?;
    let heal_secs = wiped.elapsed().as_secs_f64();
    let faults = format!(
        "agent data directory wiped, enrolled again; healed {heal_secs:.1} s after its start"
    );
    sell_on_and_finish(fleet, work, "12-agent-wiped-reenrolled", faults, started).await
}

/// Scenario 13: the controller restored from a backup older than what the site holds: central
/// and site sales made after the backup are only at the site (the agent holds them, the router
/// has them). After the restore the ledger must recover every one of them with its facts
/// (revenue equal) and the site goes on selling; nothing twice on the router.
pub async fn controller_restored_backup(
    bins: &Binaries,
    dir: &Path,
    scale: Scale,
) -> anyhow::Result<Row> {
    let started = Instant::now();
    let mut work = Work::at_least(6).with_site_minimum(3);
    let (central, site) = (scale.n(200) as u32, scale.n(50) as u32);
    let (mut fleet, seller) = settled_fleet(bins, dir, &mut work, central, site).await?;
    let backup = dir.join("controller-backup.tar");
    fleet.backup_controller(&backup)?;
    // What the sites sold after the backup (in a real fleet: the next ten minutes, or hours).
    let before = work.codes().len();
    for _ in 0..2 {
        let (central, site) = (scale.n(100) as u32, scale.n(50) as u32);
        sell_and_settle(&fleet, &seller, &mut work, central, site).await?;
    }
    let after_backup = work.codes().len() - before;
    fleet.kill_controller();
    fleet.restore_controller(&backup)?;
    let restored = Instant::now();
    fleet.start_controller().await?;
    let heals = healed(&fleet, 0).await?;
    let heal_secs = restored.elapsed().as_secs_f64();
    let faults = format!(
        "controller restored from a backup {after_backup} vouchers old; {heals} heal(s), \
         the first {heal_secs:.1} s after the restart"
    );
    sell_on_and_finish(
        fleet,
        work,
        "13-controller-restored-backup",
        faults,
        started,
    )
    .await
}
