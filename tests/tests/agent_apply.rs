//! The agent's apply queue against the simulated router: vouchers sent by the controller end up
//! as hotspot users exactly once, each confirmed by one `Applied` event; a user that already
//! exists is read back and compared (equal → applied, different → conflict, never
//! overwritten); a session dropped in the middle of a batch changes nothing about that.

mod agent_harness;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use agent_harness::*;
use hotspot_shared::fleet::msg::Event;
use hotspot_tests::sim::{FaultSettings, NewUser, SimConfig};

fn by_code(events: &[Event]) -> HashMap<String, Vec<&Event>> {
    let mut map: HashMap<String, Vec<&Event>> = HashMap::new();
    for e in events {
        if let Event::Applied { code, .. } | Event::Failed { code, .. } = e {
            map.entry(code.clone()).or_default().push(e);
        }
    }
    map
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_hundred_vouchers_land_exactly_once_in_order() {
    let site = Site::start(SimConfig::local(), |_| {}).await;
    let wanted = vouchers("V", 1200);
    site.create(&wanted).await;
    eventually("1200 Applied events", Duration::from_secs(60), || {
        site.applied().len() >= 1200
    })
    .await;
    let users = site.sim.users();
    assert_eq!(users.len(), 1200, "exactly the vouchers, once each");
    let events = site.events();
    let applied = site.applied();
    assert_eq!(applied.len(), 1200, "one Applied per voucher");
    assert_eq!(
        applied.iter().collect::<HashSet<_>>(),
        wanted.iter().map(|v| &v.code).collect::<HashSet<_>>()
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::Failed { .. })),
        "no failures"
    );
    // The users are what the vouchers say, and they were created in submission order.
    let mut by_id = users.clone();
    by_id.sort_by_key(|u| u64::from_str_radix(u.id.trim_start_matches('*'), 16).unwrap_or(0));
    let names: Vec<&str> = by_id.iter().map(|u| u.name.as_str()).collect();
    let expected: Vec<&str> = wanted.iter().map(|v| v.code.as_str()).collect();
    assert_eq!(names, expected, "adds reached the router in queue order");
    let u = site.sim.user("V00042").expect("user");
    assert_eq!(
        (u.password.as_str(), u.profile.as_str(), u.limit_uptime),
        ("pw42", PROFILE, Some(3600))
    );
    assert!(u.comment.starts_with(b"hotspot-fleet package-1"));
    let agent = site.agent.as_ref().expect("agent");
    assert_eq!(agent.queue_len(ROUTER), 0, "queue drained");
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_user_is_applied_and_a_different_one_is_a_conflict() {
    let site = Site::start(SimConfig::local(), |_| {}).await;
    let wanted = vouchers("E", 3);
    // Ensure the profile exists so that the users below can be made by hand.
    site.create(&wanted[2..]).await;
    eventually("the third voucher", Duration::from_secs(20), || {
        site.applied().len() == 1
    })
    .await;
    let same = &wanted[0];
    site.sim
        .add_user_direct(NewUser {
            name: same.code.clone(),
            password: same.password.clone(),
            profile: PROFILE.into(),
            limit_uptime: Some(3600),
            limit_bytes_total: None,
            comment: same.comment.as_bytes().to_vec(),
            disabled: false,
        })
        .expect("identical user");
    let other = &wanted[1];
    site.sim
        .add_user_direct(NewUser {
            name: other.code.clone(),
            password: "someone-elses".into(),
            profile: PROFILE.into(),
            limit_uptime: Some(3600),
            limit_bytes_total: None,
            comment: b"made by hand".to_vec(),
            disabled: false,
        })
        .expect("different user");
    site.create(&wanted[..2]).await;
    eventually("both decided", Duration::from_secs(20), || {
        by_code(&site.events()).len() == 3
    })
    .await;
    let events = site.events();
    let decided = by_code(&events);
    assert!(
        matches!(decided[&same.code][..], [Event::Applied { .. }]),
        "{:?}",
        decided[&same.code]
    );
    match &decided[&other.code][..] {
        [
            Event::Failed {
                conflict: true,
                reason,
                ..
            },
        ] => assert!(
            reason.contains("password") && reason.contains("comment"),
            "{reason}"
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let kept = site.sim.user(&other.code).expect("still there");
    assert_eq!(kept.password, "someone-elses", "never overwritten");
    assert_eq!(site.sim.user_count(), 3);
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_dropped_mid_batch_still_lands_exactly_once() {
    // Every session is cut after 150 answered commands: each 500-voucher batch breaks.
    let faults = FaultSettings {
        drop_after: Some(150),
        ..FaultSettings::default()
    };
    let site = Site::start(
        SimConfig {
            faults,
            ..SimConfig::local()
        },
        |_| {},
    )
    .await;
    let wanted = vouchers("D", 1200);
    site.create(&wanted).await;
    eventually(
        "some progress through the drops",
        Duration::from_secs(60),
        || site.sim.user_count() >= 600,
    )
    .await;
    let sessions_cut = site.sim.commands_served() / 150;
    site.sim.set_drop_after(None);
    eventually("every voucher applied", Duration::from_secs(60), || {
        site.applied().iter().collect::<HashSet<_>>().len() == 1200
    })
    .await;
    assert_eq!(site.sim.user_count(), 1200, "exactly once on the router");
    let events = site.events();
    assert!(
        !events.iter().any(|e| matches!(e, Event::Failed { .. })),
        "no failures: {:?}",
        events
            .iter()
            .filter(|e| matches!(e, Event::Failed { .. }))
            .take(3)
            .collect::<Vec<_>>()
    );
    let applied = site.applied();
    assert_eq!(applied.len(), 1200, "each decided once while the agent ran");
    assert!(
        sessions_cut >= 4,
        "the faults really cut sessions ({sessions_cut})"
    );
    site.shutdown().await;
}
