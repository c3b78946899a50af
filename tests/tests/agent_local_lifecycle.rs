//! A voucher's life while the site's link is down (issue 6 §2): usage read offline is held
//! (one entry per voucher, not an event per sync) and delivered when the link returns;
//! validity expiry is enforced offline and the removal reported later; a revoke issued
//! centrally during the outage is applied when the site returns, with the usage that
//! happened meanwhile delivered; a router reset and rebooted while offline is noticed by its
//! uptime going backwards and repaired without the controller.

mod agent_harness;
mod agent_local_support;

use std::time::Duration;

use agent_harness::{ROUTER, eventually, issue, profile, vouchers};
use agent_local_support::*;
use hotspot_shared::domain::RemovalReason;
use hotspot_shared::fleet::msg::{Command, Event};
use hotspot_shared::units::RosDuration;

fn usage_of(events: &[Event], code: &str) -> Vec<(i64, u64, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Usage { at, samples, .. } => Some(
                samples
                    .iter()
                    .filter(|s| s.code == code)
                    .map(|s| (*at, s.bytes_in + s.bytes_out, s.online))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

async fn sell_one(site: &LocalSite) -> String {
    let ana = site.staff("ana").await;
    let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 1).await.expect("sell");
    assert_eq!(status, 200, "{body}");
    let code = body["vouchers"][0]["code"]
        .as_str()
        .expect("code")
        .to_owned();
    eventually("on the router", Duration::from_secs(10), || {
        site.sim.user(&code).is_some()
    })
    .await;
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_read_offline_is_held_per_voucher_and_delivered_later() {
    let site = LocalSite::start(100, |s| s.jobs.usage_sync = Duration::from_secs(1)).await;
    let code = sell_one(&site).await;
    eventually("the sale is acknowledged", Duration::from_secs(10), || {
        site.agent()
            .link()
            .is_some_and(|l| l.status().outbox_len == 0)
    })
    .await;
    site.cut().await;
    let cut_at = time::OffsetDateTime::now_utc().unix_timestamp();
    site.sim.login_customer(&code).expect("customer logs in");
    let store = site.agent().store().clone();
    eventually("usage is held", Duration::from_secs(10), || {
        store.held_usage_len() == 1
    })
    .await;
    let outbox = || site.agent().link().map_or(0, |l| l.status().outbox_len);
    let early = outbox();
    // Several more syncs: the held entry is updated, the outbox does not grow with them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(store.held_usage_len(), 1);
    assert_eq!(outbox(), early, "no usage event per sync while offline");
    assert!(
        usage_of(&site.events(), &code).is_empty(),
        "nothing delivered yet"
    );

    let restored_at = time::OffsetDateTime::now_utc().unix_timestamp();
    site.restore().await;
    eventually("the held usage arrives", Duration::from_secs(20), || {
        usage_of(&site.events(), &code)
            .iter()
            .any(|(_, bytes, _)| *bytes > 0)
    })
    .await;
    let samples = usage_of(&site.events(), &code);
    let first_use = samples
        .iter()
        .find(|(_, bytes, _)| *bytes > 0)
        .expect("a sample in use");
    assert!(
        (cut_at..=restored_at).contains(&first_use.0),
        "the first use keeps when it was read, during the outage: {samples:?}"
    );
    eventually("nothing held any more", Duration::from_secs(10), || {
        store.held_usage_len() == 0
    })
    .await;
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_sent_while_offline_is_applied_on_return_with_the_usage_meanwhile() {
    let site = LocalSite::start(100, |s| s.jobs.usage_sync = Duration::from_secs(1)).await;
    let code = sell_one(&site).await;
    site.cut().await;
    site.sim.login_customer(&code).expect("customer logs in");
    site.send(&[Command::RemoveVoucher {
        router: ROUTER,
        code: code.clone(),
        reason: RemovalReason::Revoked,
    }])
    .await;
    let store = site.agent().store().clone();
    eventually("usage is held", Duration::from_secs(10), || {
        store.held_usage_len() == 1
    })
    .await;
    assert!(site.sim.user(&code).is_some(), "still there while offline");
    site.restore().await;
    eventually("removed on return", Duration::from_secs(20), || {
        site.sim.user(&code).is_none()
    })
    .await;
    eventually("reported removed, with the usage meanwhile", Duration::from_secs(20), || {
        let events = site.events();
        events.iter().any(|e| {
            matches!(e, Event::Removed { code: c, reason: RemovalReason::Revoked, .. } if *c == code)
        }) && usage_of(&events, &code).iter().any(|(_, bytes, _)| *bytes > 0)
    })
    .await;
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validity_is_enforced_offline_and_the_removal_reported_later() {
    let site = LocalSite::start(100, |s| s.jobs.usage_sync = Duration::from_secs(1)).await;
    let mut wanted = vouchers("V", 1);
    wanted[0].validity = Some(RosDuration::from_secs(1));
    site.send(&[Command::CreateVouchers {
        router: ROUTER,
        profile: profile(),
        issue: issue(),
        vouchers: wanted.clone(),
    }])
    .await;
    let code = wanted[0].code.clone();
    eventually("on the router", Duration::from_secs(10), || {
        site.sim.user(&code).is_some()
    })
    .await;
    site.cut().await;
    site.sim.login_customer(&code).expect("customer logs in");
    eventually(
        "removed at expiry while offline",
        Duration::from_secs(20),
        || site.sim.user(&code).is_none(),
    )
    .await;
    assert!(
        !site
            .events()
            .iter()
            .any(|e| matches!(e, Event::Removed { .. }))
    );
    site.restore().await;
    eventually("the removal is reported", Duration::from_secs(20), || {
        site.events().iter().any(|e| {
            matches!(e, Event::Removed { code: c, reason: RemovalReason::Expired, .. } if *c == code)
        })
    })
    .await;
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_reset_and_rebooted_offline_is_repaired_without_the_controller() {
    // Usage sync only hourly: the repair can only come from the uptime check.
    let site = LocalSite::start(100, |s| s.jobs.router_probe = Duration::from_secs(1)).await;
    let ana = site.staff("ana").await;
    let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 5).await.expect("sell");
    assert_eq!(status, 200, "{body}");
    eventually("all five on the router", Duration::from_secs(10), || {
        site.sim.user_count() == 5
    })
    .await;
    // Let the probe learn the uptime first.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    site.cut().await;
    site.sim.reset();
    site.sim.reboot(Duration::from_millis(200));
    assert_eq!(site.sim.user_count(), 0);
    eventually(
        "restored from the desired state",
        Duration::from_secs(20),
        || site.sim.user_count() == 5,
    )
    .await;
    assert!(!site.agent_online(), "without the controller");
    site.shutdown().await;
}
