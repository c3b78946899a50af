//! The controller's questions to the agent, over the real link, answered from the simulated
//! router: test a router (right and wrong password, nothing listening), store its settings
//! with the password sealed (and never readable in the agent's files), info, stats, active
//! users and kick, revoke a voucher, forget a router.

mod agent_harness;

use std::path::Path;
use std::time::Duration;

use agent_harness::*;
use hotspot_shared::domain::{FailureKind, RemovalReason, RouterId};
use hotspot_shared::fleet::msg::{Answer, Command, Event, Query};
use hotspot_tests::sim::SimConfig;

const SECRET: &str = "Xq7-router-secret-5521";

fn secret_sim() -> SimConfig {
    SimConfig {
        password: SECRET.into(),
        ..SimConfig::local()
    }
}

fn failure_kind(answer: &Answer) -> Option<FailureKind> {
    match answer {
        Answer::Failed(f) => Some(f.kind),
        _ => None,
    }
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_router_names_the_cause() {
    let site = Site::start(secret_sim(), |_| {}).await;
    let good = spec_for(&site.sim, SECRET);
    match site.ask(Query::TestRouter(good.clone())).await {
        Answer::Tested(info) => {
            assert_eq!(info.identity, "sim-router");
            assert_eq!(info.model.as_deref(), Some("RB5009UG+S+"));
            assert!(info.version.starts_with("7.16"), "{info:?}");
        }
        other => panic!("expected Tested, got {other:?}"),
    }
    let wrong = spec_for(&site.sim, "not-the-password");
    let answer = site.ask(Query::TestRouter(wrong)).await;
    assert_eq!(
        failure_kind(&answer),
        Some(FailureKind::BadCredentials),
        "{answer:?}"
    );
    // Reserved for this test and never bound: nothing listens there.
    let closed_port = hotspot_tests::ports::reserve().port();
    let refused = hotspot_shared::domain::RouterSpec {
        port: closed_port,
        ..good
    };
    let answer = site.ask(Query::TestRouter(refused)).await;
    assert_eq!(
        failure_kind(&answer),
        Some(FailureKind::Refused),
        "{answer:?}"
    );
    let answer = site
        .ask(Query::RouterInfo {
            router: RouterId(99),
        })
        .await;
    assert_eq!(failure_kind(&answer), Some(FailureKind::UnknownRouter));
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_password_is_sealed_at_rest() {
    let mut site = Site::start(secret_sim(), |_| {}).await;
    site.create(&vouchers("P", 20)).await;
    eventually("20 applied", Duration::from_secs(20), || {
        site.applied().len() == 20
    })
    .await;
    site.agent
        .as_ref()
        .expect("agent")
        .store()
        .flush()
        .await
        .expect("flush");
    assert!(
        !files_containing(&site.data_dir, b"hotspot-fleet package-1").is_empty(),
        "the scan does see what the database stores in clear (the vouchers' comments)"
    );
    assert_eq!(
        files_containing(&site.data_dir, SECRET.as_bytes()),
        Vec::<String>::new(),
        "the password is in no file of the agent while it runs"
    );
    // The sealed password opens after a restart: the router still answers.
    site.stop_agent().await;
    assert_eq!(
        files_containing(&site.data_dir, SECRET.as_bytes()),
        Vec::<String>::new(),
        "nor after it stopped"
    );
    site.restart_agent().await;
    match site.ask(Query::RouterInfo { router: ROUTER }).await {
        Answer::Info(info) => assert_eq!(info.identity, "sim-router"),
        other => panic!("expected Info, got {other:?}"),
    }
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_active_users_kick_and_revoke() {
    let site = Site::start(SimConfig::local(), |_| {}).await;
    site.create(&vouchers("A", 3)).await;
    eventually("3 applied", Duration::from_secs(20), || {
        site.applied().len() == 3
    })
    .await;
    site.sim.login_customer("A00001").expect("login");
    site.sim.login_customer("A00002").expect("login");
    match site.ask(Query::Stats { router: ROUTER }).await {
        Answer::Stats(sample) => {
            assert_eq!(sample.active_users, 2);
            assert!(
                sample.total_memory > 0 && sample.cpu_load <= 100,
                "{sample:?}"
            );
        }
        other => panic!("expected Stats, got {other:?}"),
    }
    let Answer::Active(sessions) = site.ask(Query::ActiveUsers { router: ROUTER }).await else {
        panic!("expected Active");
    };
    let kicked = sessions
        .iter()
        .find(|s| s.user == "A00001")
        .expect("A00001 online")
        .id
        .clone();
    let answer = site
        .ask(Query::Kick {
            router: ROUTER,
            session: kicked,
        })
        .await;
    assert_eq!(answer, Answer::Kicked);
    assert!(site.sim.active().iter().all(|a| a.user != "A00001"));
    assert!(
        site.sim.user("A00001").is_some(),
        "a kick keeps the voucher"
    );

    site.send(&[Command::RemoveVoucher {
        router: ROUTER,
        code: "A00002".into(),
        reason: RemovalReason::Revoked,
    }])
    .await;
    eventually("removed", Duration::from_secs(20), || {
        site.events().iter().any(|e| {
            matches!(e, Event::Removed { code, reason: RemovalReason::Revoked, .. } if code == "A00002")
        })
    })
    .await;
    assert!(site.sim.user("A00002").is_none(), "user gone");
    assert!(site.sim.active().is_empty(), "its session kicked");
    assert_eq!(site.sim.user_count(), 2);
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_router_is_forgotten() {
    let site = Site::start(SimConfig::local(), |_| {}).await;
    site.sim.set_refuse_logins(true);
    site.sim.reboot(Duration::ZERO);
    site.create(&vouchers("F", 10)).await;
    let agent = site.agent.as_ref().expect("agent");
    eventually("queued", Duration::from_secs(10), || {
        agent.queue_len(ROUTER) == 10
    })
    .await;
    site.send(&[Command::RemoveRouter { router: ROUTER }]).await;
    eventually("queue purged", Duration::from_secs(10), || {
        agent.queue_len(ROUTER) == 0
    })
    .await;
    let answer = site.ask(Query::Stats { router: ROUTER }).await;
    assert_eq!(
        failure_kind(&answer),
        Some(FailureKind::UnknownRouter),
        "{answer:?}"
    );
    site.sim.set_refuse_logins(false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        site.sim.user_count(),
        0,
        "nothing applied for a removed router"
    );
    site.shutdown().await;
}
