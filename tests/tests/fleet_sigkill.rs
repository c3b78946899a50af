//! Crash safety of the fleet link between real processes: while a `fleet-peer` controller and
//! a `fleet-peer` agent exchange numbered notes both ways, one of them is killed with SIGKILL
//! (`Child::kill`) at random moments, at least 20 times, and restarted each time on the same
//! data directory. At the end each receiver's records on disk must hold every note exactly once
//! and in order, both outboxes must be empty, and no restart may have resumed sending below a
//! number it had already reported as durably queued.
//!
//! The kill delays come from a seeded RNG; the seed is printed and named in every failure, and
//! `FLEET_SEED=<seed>` replays the same delays. Waits are bounded only to turn a hang into a
//! failure; nothing asserts how long anything took (the summary prints it).

use std::path::Path;
use std::time::{Duration, Instant};

use hotspot_tests::fleetkit::fleet::{Fleet, Flow};
use hotspot_tests::fleetkit::process::PeerProcess;
use hotspot_tests::fleetkit::progress::Progress;
use hotspot_tests::ports::free_udp;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const KILLS: u32 = 20;
/// Notes each way; sent at `RATE` per second so the flow outlasts the kills.
const N: u64 = 5000;
const RATE: u64 = 250;
const PATIENCE: Duration = Duration::from_secs(60);

fn seed() -> u64 {
    std::env::var("FLEET_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

fn fleet(test: &str) -> Fleet {
    Fleet::in_temp_dir(
        Path::new(env!("CARGO_BIN_EXE_fleet-peer")),
        test,
        "site-crashy",
    )
    .expect("fleet PKI")
}

/// One kill, as seen from outside.
struct Kill {
    delay: Duration,
    /// The victim's last progress before it died.
    before: Progress,
    /// Whether the link was up when it died.
    link_up: bool,
}

/// Which process the test kills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Victim {
    Agent,
    Controller,
}

struct Outcome {
    kills: Vec<Kill>,
    /// Restarts whose resume point was above the last `sent` line seen before the kill: the
    /// kill fell between a durable push and its report.
    resumed_above_report: u32,
    /// Restarts whose own counter lagged the outbox: a controller killed between a push and
    /// its counter's write (the agent's counter commits with the push, so never lags).
    counter_lagged: u32,
    converge: Duration,
}

/// Kills `victim` `KILLS` times at random moments, restarting it each time, then waits until
/// both peers settled. `other` is the peer left running.
fn kill_repeatedly(
    seed: u64,
    which: Victim,
    victim: &mut PeerProcess,
    other: &PeerProcess,
) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut outcome = Outcome {
        kills: Vec::new(),
        resumed_above_report: 0,
        counter_lagged: 0,
        converge: Duration::ZERO,
    };
    for i in 0..KILLS {
        let delay = Duration::from_millis(rng.random_range(50..=700));
        // Half the controller's kills count their delay from the agent's return: those land
        // while notes flow, the others land in start-up and recovery.
        if which == Victim::Controller && i % 2 == 1 {
            let _ = victim.wait_for("the agent back", Duration::from_secs(10), |p| p.link_up);
        }
        std::thread::sleep(delay);
        let before = victim.kill().expect("kill");
        outcome.kills.push(Kill {
            delay,
            link_up: before.link_up,
            before: before.clone(),
        });
        victim.restart().expect("restart");
        let after = victim
            .wait_for("its resume line", PATIENCE, |p| p.resumed_from.is_some())
            .unwrap_or_else(|e| panic!("seed {seed}, kill {i}: {e:#}"));
        let resumed = after.resumed_from.unwrap_or(0);
        assert!(
            resumed >= before.sent,
            "seed {seed}, kill {i}: reported {} notes durably sent, but the restart resumed after {resumed}",
            before.sent
        );
        outcome.resumed_above_report += u32::from(resumed > before.sent);
        outcome.counter_lagged += u32::from(after.resume_counter.is_some_and(|c| c < resumed));
    }
    let last_restart = Instant::now();
    for peer in [&*victim, other] {
        peer.wait_for("everything exchanged", PATIENCE, |p| p.settled(N))
            .unwrap_or_else(|e| panic!("seed {seed}: {e:#}"));
    }
    outcome.converge = last_restart.elapsed();
    outcome
}

/// Stops both peers, judges both directions, prints the summary.
fn judge(
    seed: u64,
    which: Victim,
    fleet: &Fleet,
    mut controller: PeerProcess,
    mut agent: PeerProcess,
    outcome: &Outcome,
) {
    agent.stop(Duration::from_secs(15)).expect("agent stops");
    controller
        .stop(Duration::from_secs(15))
        .expect("controller stops");
    let (at_controller, c_log) = fleet.controller_received(N).expect("controller data");
    let (at_agent, a_log) = fleet.agent_received(N).expect("agent data");
    assert!(
        at_controller.is_exact(),
        "seed {seed}: agent → controller: {at_controller}"
    );
    assert!(
        at_agent.is_exact(),
        "seed {seed}: controller → agent: {at_agent}"
    );
    assert_eq!(
        (a_log.outbox_len, c_log.outbox_len),
        (0, 0),
        "seed {seed}: outboxes drained"
    );

    let kills = &outcome.kills;
    let mid_send = kills.iter().filter(|k| k.before.sent < N).count();
    let mid_receive = kills.iter().filter(|k| k.before.applied < N).count();
    let link_up = kills.iter().filter(|k| k.link_up).count();
    let delays: Vec<u128> = kills.iter().map(|k| k.delay.as_millis()).collect();
    println!("{which:?} kills, seed {seed}: delays (ms) {delays:?}");
    println!(
        "| victim | kills | while sending | while receiving | link up at kill | notes each way | lost | duplicates | resumed above last report | counter lagged outbox | settled after last restart |\n\
         | {which:?} | {} | {mid_send} | {mid_receive} | {link_up} | {N} | {} | {} | {} | {} | {:.1} s |",
        kills.len(),
        at_controller.lost + at_agent.lost,
        at_controller.duplicates + at_agent.duplicates,
        outcome.resumed_above_report,
        outcome.counter_lagged,
        outcome.converge.as_secs_f64()
    );
    // The premise: the kills came while notes were still flowing.
    assert!(
        mid_send >= KILLS as usize / 2 && mid_receive >= KILLS as usize / 2,
        "seed {seed}: most kills should land mid-flow ({mid_send} while sending, {mid_receive} while receiving)"
    );
}

#[test]
fn an_agent_killed_20_times_loses_nothing_and_applies_nothing_twice() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seed = seed();
    println!("agent SIGKILL test: seed {seed} (FLEET_SEED={seed} replays it)");
    let fleet = fleet("fleet_sigkill_agent");
    let flow = Flow { n: N, rate: RATE };
    let controller = fleet
        .controller("127.0.0.1:0".parse().expect("addr"), flow, &[])
        .expect("controller starts");
    let addr = controller
        .wait_for("listening", PATIENCE, |p| p.listening.is_some())
        .expect("controller listens")
        .listening
        .expect("address");
    let mut agent = fleet.agent(addr, flow, &[]).expect("agent starts");
    let outcome = kill_repeatedly(seed, Victim::Agent, &mut agent, &controller);
    judge(seed, Victim::Agent, &fleet, controller, agent, &outcome);
}

#[test]
fn a_controller_killed_20_times_loses_nothing_and_applies_nothing_twice() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seed = seed();
    println!("controller SIGKILL test: seed {seed} (FLEET_SEED={seed} replays it)");
    let fleet = fleet("fleet_sigkill_controller");
    let flow = Flow { n: N, rate: RATE };
    // Restarts reuse the first incarnation's port, so the agent finds the new process.
    let addr = free_udp();
    let mut controller = fleet
        .controller(addr, flow, &[])
        .expect("controller starts");
    controller
        .wait_for("listening", PATIENCE, |p| p.listening.is_some())
        .expect("controller listens");
    let agent = fleet.agent(addr, flow, &[]).expect("agent starts");
    let outcome = kill_repeatedly(seed, Victim::Controller, &mut controller, &agent);
    judge(
        seed,
        Victim::Controller,
        &fleet,
        controller,
        agent,
        &outcome,
    );
}

/// After a `kill -9` of the controller, the agent learns of the restart from the new process's
/// stateless reset, not from its own idle timeout: the restarted controller keeps the keys that
/// make its reset verifiable and the old connection IDs recognisable (with either key fresh,
/// the old connection's packets are ignored until the agent gives up on it).
#[test]
fn an_agent_learns_of_a_controller_restart_from_its_stateless_reset() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fleet = fleet("fleet_reset");
    let flow = Flow { n: 0, rate: 0 };
    let addr = free_udp();
    // A minute of idle timeout on both ends (QUIC takes the lower of the two) and a keep-alive
    // every 200 ms: within the 30 s this test waits, only the new controller's reset can end
    // the old connection.
    let idle = ["--idle-ms", "60000", "--keepalive-ms", "200"];
    let mut controller = fleet
        .controller(addr, flow, &idle)
        .expect("controller starts");
    controller
        .wait_for("listening", PATIENCE, |p| p.listening.is_some())
        .expect("controller listens");
    let agent = fleet.agent(addr, flow, &idle).expect("agent starts");
    agent
        .wait_for("the link up", PATIENCE, |p| p.link_up)
        .expect("agent connects");
    for round in 1..=3 {
        let sessions = agent.progress().sessions;
        controller.kill().expect("kill");
        controller.restart().expect("restart");
        let back = agent
            .wait_for(
                "the agent back on the restarted controller",
                Duration::from_secs(30),
                |p| p.link_up && p.sessions > sessions,
            )
            .unwrap_or_else(|e| panic!("round {round}: {e:#}"));
        assert_eq!(
            back.sessions,
            sessions + 1,
            "round {round}: one new session"
        );
        let why = back.link_error.unwrap_or_default();
        assert!(
            why.contains("reset"),
            "round {round}: the old connection ended with {why:?}, not with the restarted controller's reset"
        );
    }
}
