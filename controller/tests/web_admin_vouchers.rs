//! The voucher ledger page over plain HTTP: filters, state badges, pages, revoke (with its
//! CSRF token; the removal reaches the site's agent). Runs on the API harness, whose fake
//! agent applies vouchers, so they become active as on a real router.

mod common;
mod support;
mod web_support;

use std::time::Duration;

use hotspot_controller::store::Store;
use serde_json::json;
use support::*;
use web_support::Browser;

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_filters_pages_and_revokes() {
    let app = TestApp::start().await;
    let agent = app.agent("s1").await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let r = generate(
        &app,
        &alice,
        json!({"router_id": 1, "package_id": 1, "count": 52}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let r = generate(
        &app,
        &bob,
        json!({"router_id": 2, "package_id": 1, "count": 2}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let bobs = codes(&vouchers(&r));
    let active = eventually(Duration::from_secs(10), || {
        bobs.iter()
            .all(|c| app.ledger.voucher(c).unwrap().unwrap().state.as_str() == "active")
    })
    .await;
    assert!(active, "bob's vouchers became active");

    let mut admin = Browser::sign_in(app.api.addr, "admin", &password("admin")).await;
    let rows = |body: &str| body.matches("class=\"vcode\"").count();
    let bob_id = app
        .ledger
        .staff_list()
        .unwrap()
        .into_iter()
        .find(|s| s.username == "bob")
        .unwrap()
        .id
        .0;
    let page = admin.get(&format!("/admin/vouchers?staff={bob_id}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(rows(&page.body), 2, "only bob's");
    for code in &bobs {
        assert!(page.body.contains(code.as_str()));
    }
    assert!(page.body.contains("badge badge-active"));
    let none = admin
        .get(&format!("/admin/vouchers?staff={bob_id}&state=revoked"))
        .await;
    assert_eq!(rows(&none.body), 0);
    assert!(none.body.contains("No vouchers match."));

    // 54 in all: a first page of 50 and a link to the rest.
    let first = admin.get("/admin/vouchers").await;
    assert_eq!(rows(&first.body), 50);
    let next = first
        .body
        .split("id=\"next-page\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a next page")
        .replace("&amp;", "&");
    let second = admin.get(&next).await;
    assert_eq!(rows(&second.body), 4, "{next}");

    let bad = admin.get("/admin/vouchers?from=yesterday").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Dates are written 2026-05-31"));

    // Revoke: refused without the token, done with it, back on the same filtered page.
    let code = bobs[0].clone();
    let path = format!("/admin/vouchers/{code}/revoke");
    let back = format!("/admin/vouchers?staff={bob_id}");
    let refused = admin
        .send("POST", &path, Some(&[("back", back.as_str())]))
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        app.ledger.voucher(&code).unwrap().unwrap().state.as_str(),
        "active"
    );
    let done = admin.post(&path, &[("back", back.as_str())]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("{back}&done=revoked").as_str())
    );
    let v = app.ledger.voucher(&code).unwrap().unwrap();
    assert!(
        matches!(v.state.as_str(), "revoked" | "removed"),
        "{:?}",
        v.state
    );
    let removed = eventually(Duration::from_secs(10), || {
        agent.seen().removed.contains(&code)
    })
    .await;
    assert!(removed, "the removal reached the agent");
    let after = admin.get(done.location.as_deref().unwrap()).await;
    assert!(after.body.contains("The voucher is revoked"));
    // Revoking again is harmless, and a forged `back` never sends the browser elsewhere.
    let again = admin
        .post(&path, &[("back", "https://evil.example/")])
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(
        again.location.as_deref(),
        Some("/admin/vouchers?done=revoked")
    );
}
