//! A fresh demo's week of simulated past, read back the way an operator would: a report for
//! each of the last seven days with sales by three sellers, the offline afternoon's sales made
//! at the site, the voucher that never reached its router found by that day's reconciliation
//! and really put on the simulated router, and no past voucher that the router should hold
//! but does not. A resumed demo does not write the past again.

mod e2e_support;

use std::time::Duration;

use e2e_support::{options, start_demo};
use hotspot_tests::demo::Demo;
use hotspot_tests::demo::http::Api;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_demo_has_a_week_of_reports_and_a_repaired_drift() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = start_demo(|| {
        let mut o = options(2, dir.path());
        o.history = true;
        o
    })
    .await;
    let past = demo.past.clone().expect("a fresh demo writes its past");
    assert_eq!(past.dates.len(), 7);
    let admin = Api::new(demo.http)
        .login("admin", &demo.admin_password)
        .await
        .expect("admin");

    let mut sellers = std::collections::BTreeSet::new();
    let mut sold = 0;
    for date in &past.dates {
        let report: Value = admin
            .expect_ok("GET", &format!("/api/reports/{date}"), None)
            .await
            .expect("a report for every past day");
        let total = &report["total"];
        let issued =
            total["issued_central"].as_u64().unwrap() + total["issued_site"].as_u64().unwrap();
        assert!(issued >= 20, "{date}: {issued} vouchers");
        assert!(
            !total["revenue"].as_array().unwrap().is_empty(),
            "{date}: revenue"
        );
        assert!(
            total["expired"].as_u64().unwrap() > 0,
            "{date}: usage ran out"
        );
        for line in total["by_staff"].as_object().unwrap().values() {
            sellers.insert(line["label"].as_str().unwrap().to_owned());
        }
        sold += issued;
    }
    assert_eq!(
        sellers.into_iter().collect::<Vec<_>>(),
        ["joko", "maria", "staff"],
        "sales by several sellers"
    );
    assert_eq!(
        sold as usize, past.vouchers,
        "every past voucher is in a report"
    );

    let (offline_day, site) = past.offline.clone().expect("an offline afternoon");
    let report: Value = admin
        .expect_ok("GET", &format!("/api/reports/{offline_day}"), None)
        .await
        .expect("report");
    let at_site = report["sites"][site.as_str()]["issued_site"]
        .as_u64()
        .unwrap();
    assert!(at_site > 0, "sales made at {site} while its link was down");
    assert_eq!(report["total"]["issued_site"].as_u64().unwrap(), at_site);

    let (stuck, stuck_day) = past.stuck.clone().expect("a stuck voucher");
    let report: Value = admin
        .expect_ok("GET", &format!("/api/reports/{stuck_day}"), None)
        .await
        .expect("report");
    let drift = report["drift"].as_array().unwrap();
    assert!(
        drift.iter().any(|d| d["code"] == stuck.as_str()),
        "the drift is in its day's report: {drift:?}"
    );
    let last = demo.sites.last().expect("a site");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while last.sim.user(&stuck).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "{stuck} never reached its router"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing else of the past belongs on a router: each holds only the repaired voucher.
    let on_routers: usize = demo.sites.iter().map(|s| s.sim.user_count()).sum();
    assert_eq!(on_routers, 1, "only the repaired voucher is on a router");

    let http = demo.http;
    demo.shutdown().await.expect("stops");
    let resumed: Demo = start_demo(|| {
        let mut o = options(2, dir.path());
        o.http = http;
        o.fresh = false;
        o.history = true;
        o
    })
    .await;
    assert!(
        resumed.resumed && resumed.past.is_none(),
        "the past is written once"
    );
    resumed.shutdown().await.expect("stops");
}
