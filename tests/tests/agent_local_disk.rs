//! The agent's disk fills up (a small tmpfs as its data dir): a sale at the site is refused
//! with 507 `storage_full` and words, nothing it refused reaches the router, nothing accepted
//! before is lost, and after space returns a restart (what the service manager does when
//! the agent exits with status 75) sells again. Needs root to mount: skipped otherwise on a
//! developer's machine, failed under `CI=true`.

mod agent_harness;
mod agent_local_support;

use std::time::Duration;

use agent_harness::{ROUTER, eventually, start_agent};
use agent_local_support::*;
use hotspot_tests::faultkit::disk::{Tmpfs, fill};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_sales_loses_nothing_and_recovers_after_restart() {
    let base = tempfile::tempdir().expect("tempdir");
    let Some(fs) = Tmpfs::mount_or_skip(&base.path().join("disk"), "24m") else {
        return;
    };
    let data_dir = fs.0.join("agent");
    let mut site = LocalSite::start_in(1000, Some(data_dir.clone()), |_| {}).await;
    let ana = site.staff("ana").await;
    let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 5).await.expect("sell");
    assert_eq!(status, 200, "{body}");
    eventually("five on the router", Duration::from_secs(10), || {
        site.sim.user_count() == 5
    })
    .await;
    site.cut().await;
    let filler = fs.0.join("filler");
    fill(&filler).expect("fill the disk");
    let mut refused = None;
    for _ in 0..200 {
        let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 50).await.expect("sell");
        if status != 200 {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("a sale is refused while the disk is full");
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error"]["code"], "storage_full");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("disk is full"),
        "{body}"
    );
    let on_router = site.sim.user_count();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        site.sim.user_count(),
        on_router,
        "nothing refused reaches the router"
    );

    // Space returns; the agent is restarted (in production: it exits with status 75 and the
    // service manager starts it again).
    std::fs::remove_file(&filler).expect("free space");
    // The client's kept-alive connections hold the old agent's page (and its database).
    drop(ana);
    let agent = site.agent.take().expect("agent");
    agent.abort().await;
    site.agent = Some(start_agent(site.settings.clone()).await);
    site.restore().await;
    let ana = site.staff("ana").await;
    let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 1).await.expect("sell");
    assert_eq!(status, 200, "sells again: {body}");
    let listed = ana.list(500).await.expect("list");
    let codes = listed["vouchers"].as_array().expect("vouchers").len();
    assert!(
        codes > 5,
        "the sales made before are all still there ({codes})"
    );
    eventually(
        "every recorded sale is on the router",
        Duration::from_secs(20),
        || site.sim.user_count() == codes,
    )
    .await;
    site.shutdown().await;
    drop(fs);
}
