//! A site's staff directory follows central changes at once: a staff member assigned to the
//! site's router reaches its agent without waiting for a job, and so does disabling them
//! (the agent then refuses them at its local page from that contact on).

mod common;
mod fleet_support;

use std::time::Duration;

use fleet_support::*;
use hotspot_shared::fleet::msg::{Command, StaffEntry};
use serde_json::json;

fn directory_of(commands: &[Command], username: &str) -> Option<StaffEntry> {
    commands.iter().rev().find_map(|c| match c {
        Command::StaffDirectory { staff } => staff.iter().find(|s| s.username == username).cloned(),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_changes_reach_the_site_without_waiting_for_a_job() {
    let c = Controller::start().await;
    c.add_site("s1").await;
    let agent = c.agent("s1").await;
    let r = c
        .http
        .post(
            "/api/routers",
            json!({
                "name": "gw", "site_id": "s1", "location": "bar", "host": "192.168.88.1",
                "port": 8728, "username": "api", "password": "S3cret-Router-pw"
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let router = r.json()["id"].as_u64().expect("id");
    let r = c
        .http
        .post(
            "/api/staff",
            json!({"username": "ana", "password": "a-long-Passw0rd", "role": "staff", "routers": [router]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_u64().expect("id");
    let arrived = eventually(Duration::from_secs(10), || {
        directory_of(&agent.commands(), "ana").is_some_and(|s| !s.disabled)
    })
    .await;
    assert!(arrived, "the new staff member reached the site");
    let entry = directory_of(&agent.commands(), "ana").expect("entry");
    assert!(
        entry.password_hash.starts_with("$argon2id$"),
        "a hash, never a password"
    );

    let r = c
        .http
        .send(
            "PUT",
            &format!("/api/staff/{id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let disabled = eventually(Duration::from_secs(10), || {
        directory_of(&agent.commands(), "ana").is_some_and(|s| s.disabled)
    })
    .await;
    assert!(disabled, "disabling reached the site at once");
    agent.link.shutdown().await.expect("agent stops");
    c.stop().await;
}

/// A voucher sold at the site yesterday while it was offline reaches the ledger today with
/// its original time, staff and price, and yesterday's report, already run, is refreshed
/// to count it.
#[tokio::test(flavor = "multi_thread")]
async fn a_late_site_sale_counts_in_the_report_of_the_day_it_was_made() {
    use hotspot_controller::jobs::{reconcile, schedule};
    use hotspot_controller::store::Store;
    use hotspot_link::PeerId;
    use hotspot_shared::domain::{Currency, Money, PackageId, RouterId, StaffId};
    use hotspot_shared::fleet::msg::{Event, SiteVoucher};

    let c = Controller::start().await;
    c.add_site("s1").await;
    let agent = c.agent("s1").await;
    let r = c
        .http
        .post(
            "/api/routers",
            json!({
                "name": "gw", "site_id": "s1", "location": "bar", "host": "192.168.88.1",
                "port": 8728, "username": "api", "password": "S3cret-Router-pw"
            }),
        )
        .await;
    let router = r.json()["id"].as_u64().expect("router id");
    let r = c
        .http
        .post(
            "/api/staff",
            json!({"username": "ana", "password": "a-long-Passw0rd", "role": "staff", "routers": [router]}),
        )
        .await;
    let staff = r.json()["id"].as_u64().expect("staff id");
    let r = c
        .http
        .post(
            "/api/packages",
            json!({"name": "1 hour", "price_minor": 250, "currency": "USD", "time_limit": "1h"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let package = r.json()["id"].as_u64().expect("package id");

    let jobs = &c.state.config.jobs;
    let today = schedule::local_date(jobs, c.state.now());
    let yesterday = today.previous_day().expect("yesterday");
    let key = reconcile::date_key(yesterday);
    let r = c.http.post("/api/reports/run", json!({"date": key})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["total"]["issued_site"], 0);
    reconcile::refresh_late(&c.state).await.expect("first look");

    let prefix = c.store.site(&site("s1")).unwrap().unwrap().code_prefix;
    let sold_at = schedule::day_bounds(jobs, yesterday).0 + 14 * 3600;
    let sale = SiteVoucher {
        router: RouterId(router),
        package: PackageId(package),
        staff: StaffId(staff),
        code: format!("{prefix}K7MX2P9Q"),
        password: format!("{prefix}K7MX2P9Q"),
        price: Money::new(250, Currency::new("USD").unwrap()),
        issued_at: sold_at,
    };
    let inbound = c.store.inbound();
    let peer = PeerId::Site(site("s1"));
    inbound
        .apply_direct(&peer, &Event::IssuedAtSite(sale.clone()))
        .unwrap();
    inbound
        .apply_direct(
            &peer,
            &Event::Applied {
                router: RouterId(router),
                code: sale.code.clone(),
                at: sold_at + 1,
            },
        )
        .unwrap();
    let v = c.store.voucher(&sale.code).unwrap().expect("in the ledger");
    assert_eq!(
        (v.issued_at, v.staff, v.price),
        (sold_at, sale.staff, sale.price)
    );

    let refreshed = reconcile::refresh_late(&c.state).await.expect("refresh");
    assert_eq!(refreshed, vec![key.clone()]);
    let report = c.http.get(&format!("/api/reports/{key}")).await.json();
    assert_eq!(report["total"]["issued_site"], 1, "{report}");
    assert_eq!(
        report["total"]["by_staff"][format!("staff-{staff}")]["vouchers"],
        1,
        "{report}"
    );
    assert!(
        reconcile::refresh_late(&c.state).await.unwrap().is_empty(),
        "nothing new, nothing refreshed"
    );
    agent.link.shutdown().await.expect("agent stops");
    c.stop().await;
}
