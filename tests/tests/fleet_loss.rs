//! The fleet link over a bad uplink, between real processes: a `fleet-peer` controller and a
//! `fleet-peer` agent exchange 5,000 numbered notes each way through the link-fault proxy,
//! first while it drops 30 % of datagrams both ways, then (a fresh pair) while it cuts the
//! link for 30 s in the middle of the flow. Afterwards each receiver's records on disk must hold
//! every note exactly once, in order, and each sender's outbox must be empty.
//!
//! Waits are bounded only to turn a hang into a failure; nothing here asserts how long
//! anything took (the summary prints it).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hotspot_tests::fleetkit::fleet::{Fleet, Flow};
use hotspot_tests::fleetkit::process::PeerProcess;
use hotspot_tests::linkfault::{Direction, Faults, LinkFaultProxy};

const N: u64 = 5000;
/// A liveness bound for a phase: far above what it needs, so only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(80);

fn fleet(test: &str) -> Fleet {
    Fleet::in_temp_dir(
        Path::new(env!("CARGO_BIN_EXE_fleet-peer")),
        test,
        "site-lossy",
    )
    .expect("fleet PKI")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime for the proxy")
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Starts the controller and, behind a proxy with `faults` in force from its first datagram
/// (so the handshake suffers them too), the agent; both send `flow`.
fn start_pair(
    fleet: &Fleet,
    rt: &tokio::runtime::Runtime,
    flow: Flow,
    faults: Faults,
) -> (PeerProcess, LinkFaultProxy, PeerProcess) {
    let controller = fleet
        .controller(any_port(), flow, &[])
        .expect("controller starts");
    let listening = controller
        .wait_for("listening", PATIENCE, |p| p.listening.is_some())
        .expect("controller listens")
        .listening
        .expect("address");
    let proxy = rt
        .block_on(LinkFaultProxy::start(any_port(), listening))
        .expect("proxy starts");
    proxy.set(Direction::Both, faults);
    let agent = fleet
        .agent(proxy.local_addr(), flow, &[])
        .expect("agent starts");
    (controller, proxy, agent)
}

/// Waits until both peers sent and applied `n` and their outboxes are empty.
fn settle(controller: &PeerProcess, agent: &PeerProcess, n: u64) {
    controller
        .wait_for("everything exchanged", PATIENCE, |p| p.settled(n))
        .expect("controller settles");
    agent
        .wait_for("everything exchanged", PATIENCE, |p| p.settled(n))
        .expect("agent settles");
}

/// Stops both gracefully, then judges their data directories.
fn stop_and_judge(fleet: &Fleet, mut controller: PeerProcess, mut agent: PeerProcess, n: u64) {
    let status = agent.stop(Duration::from_secs(15)).expect("agent stops");
    assert!(status.success(), "agent exit: {status}");
    let status = controller
        .stop(Duration::from_secs(15))
        .expect("controller stops");
    assert!(status.success(), "controller exit: {status}");
    let (at_controller, c_log) = fleet.controller_received(n).expect("controller data");
    let (at_agent, a_log) = fleet.agent_received(n).expect("agent data");
    assert!(
        at_controller.is_exact(),
        "agent → controller: {at_controller}"
    );
    assert!(at_agent.is_exact(), "controller → agent: {at_agent}");
    assert_eq!(a_log.outbox_len, 0, "the agent's outbox drained");
    assert_eq!(c_log.outbox_len, 0, "the controller's outbox drained");
    println!("agent → controller: {at_controller}");
    println!("controller → agent: {at_agent}");
}

#[test]
fn five_thousand_notes_each_way_arrive_once_in_order_through_30_percent_loss() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    let rt = runtime();
    let fleet = fleet("fleet_loss_drop");
    let lossy = Faults {
        drop_percent: 30.0,
        ..Faults::default()
    };
    // 500 notes/s each way: many small writes, so the loss hits many round trips.
    let (controller, proxy, agent) = start_pair(&fleet, &rt, Flow { n: N, rate: 500 }, lossy);
    settle(&controller, &agent, N);
    let stats = proxy.stats();
    // The premise: datagrams really were dropped, both ways, at about the set rate.
    for (way, s) in [
        ("to controller", &stats.to_upstream),
        ("to agent", &stats.to_client),
    ] {
        assert!(s.received > 100, "{way}: {s:?}");
        let share = s.dropped as f64 / s.received as f64;
        assert!(
            (0.2..0.4).contains(&share),
            "{way}: dropped {share:.2} of datagrams: {s:?}"
        );
    }
    let sessions = agent.progress().link_ups;
    stop_and_judge(&fleet, controller, agent, N);
    rt.block_on(proxy.shutdown());
    println!(
        "| phase | notes each way | datagrams dropped (up/down) | agent sessions | lost | duplicates | elapsed |\n\
         | 30 % loss | {N} | {}/{} of {}/{} | {sessions} | 0 | 0 | {:.1} s |",
        stats.to_upstream.dropped,
        stats.to_client.dropped,
        stats.to_upstream.received,
        stats.to_client.received,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn five_thousand_notes_each_way_arrive_once_in_order_through_a_30_second_cut() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    let rt = runtime();
    let fleet = fleet("fleet_loss_cut");
    // 200 notes/s each way: the senders are still queueing when the cut comes, and go on
    // queueing during it.
    let flow = Flow { n: N, rate: 200 };
    let (controller, proxy, agent) = start_pair(&fleet, &rt, flow, Faults::default());
    let flowing = |p: &hotspot_tests::fleetkit::progress::Progress| p.applied >= 1000;
    controller
        .wait_for("1000 notes from the agent", PATIENCE, flowing)
        .expect("notes flow to the controller");
    agent
        .wait_for("1000 notes from the controller", PATIENCE, flowing)
        .expect("notes flow to the agent");

    proxy.blackhole();
    let cut_at = Instant::now();
    let (c_cut, a_cut) = (controller.progress(), agent.progress());
    std::thread::sleep(Duration::from_secs(30));
    let (c_restore, a_restore) = (controller.progress(), agent.progress());
    let cut_stats = proxy.stats();
    proxy.restore();
    let restored_at = Instant::now();

    // The premise: the cut came in the middle of the flow, the link went down, and the
    // senders kept queueing into their outboxes while it was down.
    assert!(
        c_cut.applied < N && a_cut.applied < N,
        "cut mid-flow: {c_cut:?} / {a_cut:?}"
    );
    assert!(
        !a_restore.link_up,
        "the agent saw the link go down: {a_restore:?}"
    );
    assert!(
        c_restore.sent > c_cut.sent && a_restore.sent > a_cut.sent,
        "senders went on queueing during the cut: {c_restore:?} / {a_restore:?}"
    );
    assert!(
        c_restore.outbox.unwrap_or(0) > 0 && a_restore.outbox.unwrap_or(0) > 0,
        "outboxes held the queued notes: {c_restore:?} / {a_restore:?}"
    );

    settle(&controller, &agent, N);
    let converged = restored_at.elapsed();
    let sessions = agent.progress().link_ups;
    stop_and_judge(&fleet, controller, agent, N);
    rt.block_on(proxy.shutdown());
    println!(
        "| phase | notes each way | applied at cut (c/a) | outbox at restore (c/a) | cut | datagrams lost in cut (up/down) | agent sessions after start | drained after restore | lost | duplicates | elapsed |\n\
         | 30 s cut | {N} | {}/{} | {}/{} | {:.1} s | {}/{} | {sessions} | {:.1} s | 0 | 0 | {:.1} s |",
        c_cut.applied,
        a_cut.applied,
        c_restore.outbox.unwrap_or(0),
        a_restore.outbox.unwrap_or(0),
        restored_at.duration_since(cut_at).as_secs_f64(),
        cut_stats.to_upstream.dropped,
        cut_stats.to_client.dropped,
        converged.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
