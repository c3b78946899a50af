//! The agent's jobs against the simulated router: a router that lost its users (configuration
//! reset) is repaired from the desired state and the drift reported; a hotspot-fleet user the
//! agent does not know is reported and left alone; usage samples follow customers using their
//! vouchers; a router that refuses the agent is reported down once, and up again.

mod agent_harness;

use std::collections::HashSet;
use std::time::Duration;

use agent_harness::*;
use hotspot_shared::domain::FailureKind;
use hotspot_shared::fleet::msg::{Answer, Command, Event, Query};
use hotspot_tests::sim::{NewUser, SimConfig};

fn sync_now() -> Command {
    Command::SyncNow {
        router: Some(ROUTER),
    }
}

fn drift(events: &[Event]) -> (Vec<String>, Vec<String>) {
    let (mut unknown, mut restored) = (Vec::new(), Vec::new());
    for e in events {
        if let Event::Drift {
            unknown: u,
            restored: r,
            ..
        } = e
        {
            unknown.extend(u.iter().cloned());
            restored.extend(r.iter().cloned());
        }
    }
    (unknown, restored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_router_is_restored_and_the_drift_reported() {
    let site = Site::start(SimConfig::local(), |_| {}).await;
    let wanted = vouchers("S", 50);
    site.create(&wanted).await;
    eventually("50 applied", Duration::from_secs(20), || {
        site.applied().len() == 50
    })
    .await;
    site.sim.reset();
    assert_eq!(site.sim.user_count(), 0);
    site.send(&[sync_now()]).await;
    eventually("restored on the router", Duration::from_secs(30), || {
        site.sim.user_count() == 50 && site.applied().len() == 100
    })
    .await;
    let (unknown, restored) = drift(&site.events());
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(
        restored.iter().collect::<HashSet<_>>(),
        wanted.iter().map(|v| &v.code).collect::<HashSet<_>>(),
        "every lost voucher reported restored, once"
    );
    assert_eq!(restored.len(), 50);
    let u = site.sim.user("S00007").expect("restored user");
    assert_eq!((u.password.as_str(), u.profile.as_str()), ("pw7", PROFILE));
    // A second sync finds nothing missing.
    site.send(&[sync_now()]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(drift(&site.events()).1.len(), 50, "no second restore");
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_fleet_user_is_reported_unknown_and_never_deleted() {
    let site = Site::start(SimConfig::local(), |_| {}).await;
    site.create(&vouchers("K", 2)).await;
    eventually("2 applied", Duration::from_secs(20), || {
        site.applied().len() == 2
    })
    .await;
    let foreign = |name: &str, comment: &[u8]| NewUser {
        comment: comment.to_vec(),
        ..NewUser::new(name, "x")
    };
    site.sim
        .add_user_direct(foreign("FOREIGN1", b"hotspot-fleet package-9 central"))
        .expect("foreign fleet user");
    site.sim
        .add_user_direct(foreign("guest", b"made by the operator"))
        .expect("operator's own user");
    site.send(&[sync_now()]).await;
    eventually("drift reported", Duration::from_secs(20), || {
        !drift(&site.events()).0.is_empty()
    })
    .await;
    assert_eq!(drift(&site.events()).0, ["FOREIGN1"]);
    assert!(site.sim.user("FOREIGN1").is_some(), "never deleted");
    assert!(site.sim.user("guest").is_some());
    // Reported once, not at every sync.
    site.send(&[sync_now()]).await;
    let answer = site.ask(Query::Sync { router: ROUTER }).await;
    assert_eq!(answer, Answer::Synced { samples: 2 });
    assert_eq!(drift(&site.events()).0.len(), 1);
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_samples_grow_as_customers_use_their_vouchers() {
    let site = Site::start(SimConfig::local(), |_| {}).await;
    let wanted = vouchers("U", 2);
    site.create(&wanted).await;
    eventually("2 applied", Duration::from_secs(20), || {
        site.applied().len() == 2
    })
    .await;
    site.sim.login_customer("U00000").expect("customer logs in");
    let samples_of = |code: &str| -> Vec<(u64, u64, bool)> {
        site.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Usage { samples, .. } => Some(samples),
                _ => None,
            })
            .flatten()
            .filter(|s| s.code == code)
            .map(|s| (s.uptime_secs, s.bytes_in + s.bytes_out, s.online))
            .collect()
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    site.send(&[sync_now()]).await;
    eventually("a first sample in use", Duration::from_secs(20), || {
        samples_of("U00000").iter().any(|s| s.1 > 0 && s.2)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let Answer::Synced { samples } = site.ask(Query::Sync { router: ROUTER }).await else {
        panic!("sync answered otherwise");
    };
    assert_eq!(samples, 2, "both vouchers read");
    // The sync's events travel the link after its answer: wait for them, then compare.
    let first = samples_of("U00000")[0];
    eventually(
        "a later sample with more bytes, still online",
        Duration::from_secs(20),
        || samples_of("U00000").iter().any(|s| s.1 > first.1 && s.2),
    )
    .await;
    assert!(
        samples_of("U00001").iter().all(|s| s.1 == 0 && !s.2),
        "the unused voucher stays at zero"
    );
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_refusing_the_agent_is_reported_down_once_then_up() {
    let site = Site::start(SimConfig::local(), |s| {
        s.jobs.router_probe = Duration::from_millis(200);
    })
    .await;
    eventually(
        "health and info on first contact",
        Duration::from_secs(10),
        || {
            let events = site.events();
            events
                .iter()
                .any(|e| matches!(e, Event::Info { info, .. } if info.identity == "sim-router"))
                && events.iter().any(|e| matches!(e, Event::Health { .. }))
        },
    )
    .await;
    site.sim.set_refuse_logins(true);
    site.sim.reboot(Duration::ZERO);
    let downs = || {
        site.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::RouterDown { failure, .. } => Some(failure.kind),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    eventually("router down", Duration::from_secs(20), || {
        !downs().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(downs(), [FailureKind::BadCredentials], "once per outage");
    let healths = |events: &[Event]| {
        events
            .iter()
            .filter(|e| matches!(e, Event::Health { .. }))
            .count()
    };
    let before = healths(&site.events());
    site.sim.set_refuse_logins(false);
    eventually(
        "health again once it is back",
        Duration::from_secs(20),
        || healths(&site.events()) > before,
    )
    .await;
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_past_its_validity_after_first_use_is_removed() {
    let site = Site::start(SimConfig::local(), |_| {}).await;
    let mut wanted = vouchers("T", 2);
    wanted[0].validity = Some(hotspot_shared::units::RosDuration::from_secs(1));
    site.create(&wanted).await;
    eventually("2 applied", Duration::from_secs(20), || {
        site.applied().len() == 2
    })
    .await;
    site.sim.login_customer("T00000").expect("first use");
    site.sim
        .login_customer("T00001")
        .expect("used too, but without validity");
    site.send(&[sync_now()]).await;
    eventually("usage seen", Duration::from_secs(10), || {
        site.events()
            .iter()
            .any(|e| matches!(e, Event::Usage { samples, .. } if samples.iter().any(|s| s.online)))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    site.send(&[sync_now()]).await;
    eventually("expired and removed", Duration::from_secs(20), || {
        site.events().iter().any(|e| {
            matches!(e, Event::Removed { code, reason: hotspot_shared::domain::RemovalReason::Expired, .. } if code == "T00000")
        })
    })
    .await;
    assert!(site.sim.user("T00000").is_none(), "removed from the router");
    assert!(
        site.sim.active().iter().all(|a| a.user != "T00000"),
        "session ended"
    );
    assert!(site.sim.user("T00001").is_some(), "no validity, no expiry");
    site.shutdown().await;
}
