//! The scheduler with an injected clock: usage sync and health at their intervals, the daily
//! report at the configured local time for the day that ended, without sleeping for hours.

mod common;
mod fleet_support;

use std::num::NonZeroU64;
use std::time::Duration;

use fleet_support::*;
use hotspot_controller::config::TimeOfDay;
use hotspot_controller::jobs::reconcile::date_key;
use hotspot_controller::jobs::{self, schedule::report_date};
use hotspot_controller::store::Store;
use hotspot_shared::domain::RouterId;
use hotspot_shared::fleet::msg::Command;
use serde_json::json;
use tokio::sync::watch;

#[tokio::test(flavor = "multi_thread")]
async fn jobs_fire_when_the_clock_says_so() {
    let c = Controller::start_with(|config| {
        config.jobs.usage_sync_secs = NonZeroU64::new(60).unwrap();
        config.jobs.health_secs = NonZeroU64::new(120).unwrap();
        // An hour from now (to the minute), so the test never straddles the report time.
        let soon = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let at = time::Time::from_hms(soon.hour(), soon.minute(), 0).unwrap();
        config.jobs.reconcile_at = TimeOfDay(at);
    })
    .await;
    c.add_site("s1").await;
    let agent = c.agent("s1").await;
    let body = json!({"name": "gw", "site_id": "s1", "host": "192.0.2.1", "username": "api", "password": "pw-1"});
    let added = c.http.post("/api/routers", body).await;
    assert_eq!(added.status, 201, "{}", added.text());
    let router = RouterId(added.json()["id"].as_u64().unwrap());
    let (stop, stopped) = watch::channel(false);
    let scheduler = jobs::spawn(
        c.state.clone(),
        c.presence.clone(),
        Duration::from_millis(20),
        stopped,
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sync_now = || {
        agent
            .commands()
            .iter()
            .filter(|c| matches!(c, Command::SyncNow { router: None }))
            .count()
    };
    assert_eq!(sync_now(), 0, "nothing is due yet");
    assert!(c.store.router(router).unwrap().unwrap().health.is_none());

    c.clock.advance(61);
    assert!(
        eventually(Duration::from_secs(5), || sync_now() == 1).await,
        "usage sync ran"
    );
    assert!(
        c.store.router(router).unwrap().unwrap().health.is_none(),
        "health not yet due"
    );
    c.clock.advance(60);
    let health = eventually(Duration::from_secs(5), || {
        c.store.router(router).unwrap().unwrap().health.is_some()
    })
    .await;
    assert!(health, "health was read from the router through the agent");

    let jobs_config = &c.state.config.jobs;
    let now = c.state.now();
    let next = jobs_config
        .next_reconcile(time::OffsetDateTime::from_unix_timestamp(now).unwrap())
        .unix_timestamp();
    let date = date_key(report_date(jobs_config, next));
    assert!(c.store.report(&date).unwrap().is_none());
    assert!(next - now > 3000, "the report is about an hour away");
    c.clock.advance(next - now - 5);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        c.store.report(&date).unwrap().is_none(),
        "not before its time"
    );
    c.clock.advance(6);
    let reported = eventually(Duration::from_secs(5), || {
        c.store.report(&date).unwrap().is_some()
    })
    .await;
    assert!(
        reported,
        "the report for {date} was made at the configured time"
    );

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), scheduler)
        .await
        .unwrap()
        .unwrap();
    agent.link.shutdown().await.unwrap();
    c.stop().await;
}
