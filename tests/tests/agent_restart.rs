//! The agent stopped abruptly in the middle of its queue (every task aborted where it stood, as
//! a crash would) and started again on the same data directory: every voucher ends up on the
//! router exactly once, none is lost, none fails. Some `Applied` events may come twice (the
//! crash fell between sending them and taking the items off the queue); the ledger absorbs
//! that, and the test says so.

mod agent_harness;

use std::collections::HashSet;
use std::time::Duration;

use agent_harness::*;
use hotspot_shared::fleet::msg::Event;
use hotspot_tests::sim::SimConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_queue_loses_nothing_and_duplicates_nothing() {
    let mut site = Site::start(SimConfig::local(), |_| {}).await;
    // A busy router: each command holds its CPU for 2 ms, so a 500-voucher batch takes a
    // second and the crash falls inside one: its users are on the router, its events not sent.
    site.sim.set_service_time(Duration::from_millis(2));
    let wanted = vouchers("R", 1200);
    site.create(&wanted).await;
    eventually("the queue is being worked", Duration::from_secs(30), || {
        site.sim.user_count() >= 300
    })
    .await;
    let agent = site.agent.take().expect("agent");
    agent.abort().await;
    let at_crash = site.sim.user_count();
    assert!(
        at_crash < 1200,
        "the crash came mid-queue ({at_crash} on the router)"
    );

    site.sim.set_service_time(Duration::ZERO);
    site.restart_agent().await;
    let expected: HashSet<&str> = wanted.iter().map(|v| v.code.as_str()).collect();
    eventually(
        "every voucher applied after the restart",
        Duration::from_secs(60),
        || {
            let applied = site.applied();
            applied.iter().map(String::as_str).collect::<HashSet<_>>() == expected
        },
    )
    .await;
    assert_eq!(site.sim.user_count(), 1200, "exactly once on the router");
    let names: HashSet<String> = site.sim.users().into_iter().map(|u| u.name).collect();
    assert_eq!(names.len(), 1200);
    let events = site.events();
    assert!(
        !events.iter().any(|e| matches!(e, Event::Failed { .. })),
        "re-adding after the crash is never a failure"
    );
    let applied = site.applied().len();
    eprintln!("{at_crash} users at the crash; {applied} Applied events for 1200 vouchers");
    let agent = site.agent.as_ref().expect("agent");
    eventually("the queue drains", Duration::from_secs(10), || {
        agent.queue_len(ROUTER) == 0
    })
    .await;
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_restart_resumes_where_it_stopped() {
    let mut site = Site::start(SimConfig::local(), |s| s.apply.batch_size = 50).await;
    site.sim.set_service_time(Duration::from_millis(2));
    let wanted = vouchers("G", 400);
    site.create(&wanted).await;
    eventually("some progress", Duration::from_secs(30), || {
        site.sim.user_count() >= 100
    })
    .await;
    site.stop_agent().await;
    site.sim.set_service_time(Duration::ZERO);
    site.restart_agent().await;
    eventually("all applied", Duration::from_secs(30), || {
        site.applied().iter().collect::<HashSet<_>>().len() == 400
    })
    .await;
    assert_eq!(site.sim.user_count(), 400);
    assert_eq!(
        site.applied().len(),
        400,
        "a graceful stop leaves no item both applied and queued"
    );
    site.shutdown().await;
}
