//! The daily reconciliation from a seeded ledger: the numbers per site and in total, revenue
//! by package and staff, drift from the agent's reports and from voucher states with what was
//! done (re-queued vouchers reach the agent as `CreateVouchers`), and the report over HTTP as
//! JSON and CSV.

mod common;
mod fleet_support;

use std::sync::Arc;
use std::time::Duration;

use fleet_support::*;
use hotspot_controller::jobs::reconcile::{self, date_key};
use hotspot_controller::jobs::schedule::{day_bounds, local_date};
use hotspot_controller::store::{
    DriftKind, NewRouter, NewStaff, Role, Stamp, Store, VoucherLimits, VoucherRecord,
};
use hotspot_link::PeerId;
use hotspot_shared::domain::{
    Currency, Money, Origin, Package, PackageId, RouterId, StaffId, VoucherState,
};
use hotspot_shared::fleet::msg::{Command, Event};
use hotspot_shared::units::RosDuration;
use serde_json::json;

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::new("USD").unwrap())
}

struct Seeded {
    router: RouterId,
    package: PackageId,
    alice: StaffId,
}

async fn seed(c: &Controller) -> Seeded {
    let by = Stamp::system(c.state.now());
    c.add_site("s1").await;
    let new = NewRouter {
        site: site("s1"),
        name: "gw".into(),
        location: String::new(),
        host: "192.0.2.1".into(),
        port: 8728,
        username: "api".into(),
        password: "pw-router-1".into(),
        tls: None,
    };
    let router = c
        .store
        .create_router(new, &c.state.keyring, &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    let package = Package {
        id: PackageId(0),
        name: "1 hour".into(),
        price: usd(100),
        time_limit: Some(RosDuration::from_secs(3600)),
        data_limit: None,
        validity: None,
        rate_limit: None,
        shared_users: 1,
        profile: "hf-1h".into(),
    };
    let package = c
        .store
        .create_package(package, &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    let alice = NewStaff {
        username: "alice".into(),
        password_hash: c.state.hasher.hash("alice-passw0rd-long").unwrap(),
        role: Role::Staff,
        routers: vec![router.id],
    };
    let alice = c
        .store
        .create_staff(alice, &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    Seeded {
        router: router.id,
        package: package.package.id,
        alice: alice.id,
    }
}

fn voucher(s: &Seeded, code: &str, state: VoucherState, issued_at: i64) -> VoucherRecord {
    VoucherRecord {
        code: code.into(),
        password: format!("{code}-pw"),
        package: s.package,
        package_name: "1 hour".into(),
        router: s.router,
        site: site("s1"),
        staff: s.alice,
        price: usd(100),
        origin: Origin::Central,
        state,
        reason: None,
        issued_at,
        applied_at: None,
        first_login_at: None,
        expires_at: None,
        uptime_secs: 0,
        bytes_in: 0,
        bytes_out: 0,
        updated_at: issued_at,
        limits: VoucherLimits {
            uptime_secs: Some(3600),
            bytes_total: None,
            validity_secs: None,
        },
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_counts_the_day_and_repairs_what_drifted() {
    let c = Controller::start().await;
    let s = seed(&c).await;
    let jobs = &c.state.config.jobs;
    let today = local_date(jobs, c.state.now());
    let day = today.previous_day().unwrap();
    let (start, _) = day_bounds(jobs, day);
    let at = |h: i64| start + h * 3600;
    use VoucherState as S;
    let mut v = vec![
        voucher(&s, "V1", S::Active, at(1)),
        voucher(&s, "V2", S::InUse, at(2)),
        voucher(&s, "V3", S::Exhausted, at(3)),
        voucher(&s, "V4", S::Failed, at(4)),
        voucher(&s, "V5", S::Issued, at(5)),
        voucher(&s, "V6", S::Queued, at(6)),
        voucher(&s, "V7", S::Active, at(7)),
        voucher(&s, "V8", S::Active, at(-30)),
    ];
    v[0].applied_at = Some(at(1));
    v[1].first_login_at = Some(at(2));
    v[2].origin = Origin::Site;
    v[6].uptime_secs = 4000;
    c.store
        .insert_vouchers(v, &Stamp::system(at(8)))
        .unwrap()
        .durable()
        .await
        .unwrap();
    let drift_time = at(9);
    let inbound = c.store.inbound().with_clock(Arc::new(move || drift_time));
    let drift = Event::Drift {
        router: s.router,
        at: drift_time,
        unknown: vec!["V1".into(), "ZZZ9".into()],
        restored: vec!["V2".into()],
    };
    inbound
        .apply_direct(&PeerId::Site(site("s1")), &drift)
        .unwrap();

    let report = reconcile::run(&c.state, day).await.expect("reconciles");
    assert_eq!(report.date, date_key(day));
    let t = &report.body.total;
    assert_eq!((t.issued_central, t.issued_site), (6, 1));
    assert_eq!((t.applied, t.used, t.exhausted, t.failed), (4, 2, 1, 1));
    assert_eq!(t.revenue, [usd(600)], "the failed voucher earned nothing");
    assert_eq!(t.by_staff[&s.alice.to_string()].label, "alice");
    assert_eq!(t.by_staff[&s.alice.to_string()].vouchers, 6);
    assert_eq!(t.by_package[&s.package.to_string()].amounts, [usd(600)]);
    assert_eq!(&report.body.sites[&site("s1")], t);
    let lines: Vec<(DriftKind, &str, &str)> = report
        .body
        .drift
        .iter()
        .map(|d| (d.kind, d.code.as_str(), d.action.as_str()))
        .collect();
    use DriftKind as D;
    for expected in [
        (D::MissingOnRouter, "V2", "restored by the agent"),
        (
            D::UnknownOnRouter,
            "V1",
            "in the ledger: re-queued to the agent",
        ),
        (D::UnknownOnRouter, "ZZZ9", "reported (not deleted)"),
        (D::MissingOnRouter, "V5", "never queued: re-queued"),
        (
            D::MissingOnRouter,
            "V6",
            "acknowledged, never applied: re-queued",
        ),
        (
            D::UsageMismatch,
            "V7",
            "reported: usage reached its limit, the router has not exhausted it",
        ),
    ] {
        assert!(lines.contains(&expected), "{expected:?} in {lines:?}");
    }
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(c.store.voucher("V5").unwrap().unwrap().state, S::Queued);
    assert_eq!(
        c.store.report(&report.date).unwrap().as_ref(),
        Some(&report)
    );

    // The re-queued vouchers reach the agent when it connects.
    let agent = c.agent("s1").await;
    let requeued = || {
        agent
            .commands()
            .into_iter()
            .filter_map(|c| match c {
                Command::CreateVouchers {
                    vouchers, profile, ..
                } => Some((vouchers, profile)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(eventually(Duration::from_secs(5), || requeued().len() >= 3).await);
    // One command per sale (each seeded voucher has its own issue time), in the order given.
    let commands = requeued();
    assert!(
        commands.iter().all(|(_, p)| p.name == "hf-1h"),
        "{commands:?}"
    );
    let users: Vec<_> = commands.into_iter().flat_map(|(u, _)| u).collect();
    let codes: Vec<&str> = users.iter().map(|u| u.code.as_str()).collect();
    assert_eq!(codes, ["V1", "V5", "V6"]);
    assert_eq!(users[0].comment, "hotspot-fleet package-1 central");
    assert_eq!(users[0].limit_uptime, Some(RosDuration::from_secs(3600)));

    // Over HTTP: listed, as JSON, as CSV.
    let date = &report.date;
    let list = c.http.get("/api/reports").await.json();
    assert_eq!(list["items"][0]["date"], json!(date), "{list}");
    let json = c.http.get(&format!("/api/reports/{date}")).await.json();
    assert_eq!(json["total"]["issued_central"], 6);
    assert_eq!(json["total"]["revenue"][0]["minor"], 600);
    assert_eq!(json["drift"].as_array().unwrap().len(), 6);
    let csv = c.http.get(&format!("/api/reports/{date}.csv")).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let text = csv.text();
    assert!(
        text.starts_with(
            "date,scope,section,key,label,router,count,amount_minor,currency,action\n"
        )
    );
    assert!(
        text.contains(&format!("{date},total,vouchers,issued_central,,,6,,,\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{date},site:s1,revenue,,,,,600,USD,\n")),
        "{text}"
    );
    let unknown =
        format!("{date},site:s1,drift,unknown-on-router,ZZZ9,router-1,,,,reported (not deleted)\n");
    assert!(text.contains(&unknown), "{text}");
    let same = c.http.get(&format!("/api/reports/{date}?format=csv")).await;
    assert_eq!(same.text(), text);
    assert_eq!(c.http.get("/api/reports/2001-01-01").await.status, 404);
    assert_eq!(
        c.http
            .get(&format!("/api/reports/{date}?format=xml"))
            .await
            .status,
        400,
        "format is an enum of the query: a value outside it cannot be read"
    );

    let run = c.http.post("/api/reports/run", json!({})).await;
    assert_eq!(run.status, 200, "{}", run.text());
    assert_eq!(run.json()["date"], json!(date_key(today)));
    agent.link.shutdown().await.unwrap();
    c.stop().await;
}

/// A controller killed between the ledger and the outbox of `POST /api/tokens/generate` leaves
/// `issued` vouchers nobody sends; the next start re-queues them at once (found by the fault
/// suite's controller-kill scenario), and leaves the others alone.
#[tokio::test(flavor = "multi_thread")]
async fn vouchers_a_crash_left_unsent_are_requeued_at_start() {
    use hotspot_controller::jobs::drift::requeue_never_queued;
    let c = Controller::start().await;
    let s = seed(&c).await;
    let now = c.state.now();
    use VoucherState as S;
    let v = vec![
        voucher(&s, "U1", S::Issued, now),
        voucher(&s, "U2", S::Queued, now),
        voucher(&s, "U3", S::Active, now),
    ];
    c.store
        .insert_vouchers(v, &Stamp::system(now))
        .unwrap()
        .durable()
        .await
        .unwrap();
    assert_eq!(requeue_never_queued(&c.state).await.unwrap(), 1);
    assert_eq!(c.store.voucher("U1").unwrap().unwrap().state, S::Queued);
    assert_eq!(c.store.voucher("U3").unwrap().unwrap().state, S::Active);
    assert_eq!(requeue_never_queued(&c.state).await.unwrap(), 0, "once");

    let agent = c.agent("s1").await;
    let sent = || {
        agent
            .commands()
            .into_iter()
            .flat_map(|c| match c {
                Command::CreateVouchers { vouchers, .. } => vouchers,
                _ => Vec::new(),
            })
            .map(|u| u.code)
            .collect::<Vec<_>>()
    };
    assert!(eventually(Duration::from_secs(5), || !sent().is_empty()).await);
    assert_eq!(sent(), ["U1"]);
}
