//! Vouchers after generation, over real HTTP and the real link: revocation (ledger first,
//! then `RemoveVoucher` to the agent, record kept) and the listings' filters, pagination and
//! privacy.

mod common;
mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn revoke_keeps_the_record_and_removes_the_user_from_the_router() {
    let app = TestApp::start().await;
    let agent = app.agent("s1").await;
    let admin = app.login("admin").await;
    let alice = app.login("alice").await;
    let r = generate(&app, &alice, json!({"router_id": 1, "package_id": 1})).await;
    let code = codes(&vouchers(&r)).remove(0);
    let path = format!("/api/tokens/{code}/revoke");
    let r = app.api.post(&path, &alice, &json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "forbidden".into()),
        "staff may not revoke"
    );
    let r = app
        .api
        .post(&path, &admin, &json!({"reason": "refunded"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["voucher"]["state"], "revoked");
    assert_eq!(r.json()["voucher"]["reason"], "refunded");
    assert_eq!(r.json()["removal_queued"], true);
    let removed = eventually(Duration::from_secs(10), || {
        agent.seen().removed == vec![code.clone()]
    })
    .await;
    assert!(removed, "the agent never got RemoveVoucher");
    // The record stays, for its owner too; revoking again re-sends the removal.
    let kept = app.api.get(&format!("/api/tokens/{code}"), &alice).await;
    assert_eq!(
        (kept.status, kept.json()["state"].clone()),
        (200, json!("revoked"))
    );
    let r = app
        .api
        .send(
            "POST",
            &path,
            &[("authorization", &format!("Bearer {admin}"))],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "an empty body is fine: {:?}", r.json());
    assert_eq!(
        app.api
            .post("/api/tokens/NOSUCHCODE/revoke", &admin, &json!({}))
            .await
            .status,
        404
    );
    let audit = app
        .api
        .get(
            &format!("/api/audit?action=voucher.revoke&target={code}"),
            &admin,
        )
        .await;
    assert_eq!(audit.json()["items"][0]["actor_id"], "1");
    agent.stop().await;
}

#[tokio::test]
async fn listings_are_filtered_paginated_and_private() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let mine = codes(&vouchers(
        &generate(
            &app,
            &alice,
            json!({"router_id": 1, "package_id": 1, "count": 7}),
        )
        .await,
    ));
    let his = codes(&vouchers(
        &generate(
            &app,
            &bob,
            json!({"router_id": 2, "package_id": 1, "count": 3}),
        )
        .await,
    ));
    assert_eq!((mine.len(), his.len()), (7, 3));

    let collect = |pages: Vec<Value>| -> Vec<String> {
        pages
            .iter()
            .flat_map(|p| codes(p["items"].as_array().unwrap()))
            .collect()
    };
    let mut pages = Vec::new();
    let mut url = "/api/tokens/my-tokens?limit=3".to_owned();
    loop {
        let r = app.api.get(&url, &alice).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        let page = r.json();
        assert!(page["items"].as_array().unwrap().len() <= 3);
        let next = page["next"].as_str().map(str::to_owned);
        pages.push(page);
        match next {
            Some(n) => url = format!("/api/tokens/my-tokens?limit=3&after={n}"),
            None => break,
        }
    }
    let listed = collect(pages);
    assert_eq!(
        listed.iter().collect::<HashSet<_>>(),
        mine.iter().collect::<HashSet<_>>()
    );
    assert_eq!(listed.len(), 7, "no repeats across pages");

    // Bob cannot see Alice's vouchers, one by one or in bulk.
    let r = app.api.get(&format!("/api/tokens/{}", mine[0]), &bob).await;
    assert_eq!((r.status, r.code()), (404, "not_found".into()));
    assert_eq!(app.api.get("/api/tokens/all", &bob).await.status, 403);
    let r = app.api.get("/api/tokens/my-tokens?router_id=1", &bob).await;
    assert_eq!(r.json()["items"], json!([]));

    let by = |q: &str| {
        let q = q.to_owned();
        let app = &app;
        let admin = admin.clone();
        async move {
            let r = app
                .api
                .get(&format!("/api/tokens/all?limit=500&{q}"), &admin)
                .await;
            assert_eq!(r.status, 200, "{q}: {:?}", r.json());
            codes(r.json()["items"].as_array().unwrap())
                .into_iter()
                .collect::<HashSet<_>>()
        }
    };
    let set = |v: &[String]| v.iter().cloned().collect::<HashSet<_>>();
    assert_eq!(by("staff_id=3").await, set(&his));
    assert_eq!(by("router_id=1").await, set(&mine));
    assert_eq!(by("site_id=s1&package_id=1").await.len(), 10);
    assert_eq!(by("state=queued").await.len(), 10, "no agent: all queued");
    assert!(by("state=active").await.is_empty());
    assert!(by("site_id=s2").await.is_empty());
    assert!(by("from=2100-01-01").await.is_empty());
    assert_eq!(by("until=2100-01-01T00:00:00Z").await.len(), 10);
    for bad in [
        "limit=501",
        "state=bogus",
        "from=yesterday",
        "site_id=S_1",
        "after=zz",
    ] {
        let r = app.api.get(&format!("/api/tokens/all?{bad}"), &admin).await;
        assert!(matches!(r.status, 400 | 422), "{bad}: {}", r.status);
    }
}
