//! Voucher generation end to end over the real link: HTTP → ledger → outbox → QUIC → fake
//! agent → events → ledger → HTTP answer. Confirmed, failed and offline (queued) vouchers,
//! a full outbox, limits and permissions, and durability of every 2xx (the ledger's files
//! are copied as they are on disk right after the answer and reopened).

mod common;
mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hotspot_shared::domain::VoucherState;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn one_voucher_is_confirmed_by_the_agent() {
    let app = TestApp::start().await;
    let agent = app.agent("s1").await;
    let alice = app.login("alice").await;
    let r = generate(&app, &alice, json!({"router_id": 1, "package_id": 1})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let list = vouchers(&r);
    assert_eq!(list.len(), 1);
    let v = &list[0];
    assert_eq!(v["state"], "active", "{v:?}");
    let code = v["code"].as_str().unwrap();
    assert_eq!(code.len(), 8);
    assert_eq!(v["password"], code);
    assert_eq!(
        v["price"],
        json!({"minor": 100, "currency": "USD", "formatted": "1.00 USD"})
    );
    assert_eq!(
        (
            v["package"].clone(),
            v["time_limit"].clone(),
            v["validity"].clone()
        ),
        (json!("1 hour"), json!("1h"), json!("1d"))
    );
    assert_eq!(
        (
            v["router_id"].clone(),
            v["site_id"].clone(),
            v["staff_id"].clone()
        ),
        (json!(1), json!("s1"), json!(2))
    );
    assert_eq!(r.json()["site_offline"], false);
    assert_eq!(agent.seen().created, vec![code.to_owned()]);
    assert_eq!(agent.seen().profiles, vec!["hf-1-hour".to_owned()]);
    assert_durable(&app, &codes(&list));
    let issued = app.state.metrics.vouchers_issued.get(&["central"]);
    assert_eq!(issued, 1);
    agent.stop().await;
}

#[tokio::test]
async fn a_batch_answers_each_vouchers_state() {
    let app = TestApp::start().await;
    let agent = app.agent("s1").await;
    let bob = app.login("bob").await;
    agent.fail_next(17);
    let body = json!({"router_id": 2, "package_id": 1, "count": 50, "prefix": "CAFE-", "length": 10, "password": "separate"});
    let r = generate(&app, &bob, body).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let list = vouchers(&r);
    assert_eq!(list.len(), 50);
    let all = codes(&list);
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        50,
        "codes are unique"
    );
    for v in &list {
        let code = v["code"].as_str().unwrap();
        let rest = code.strip_prefix("CAFE-").expect("prefix");
        assert!(
            rest.len() == 10 && !rest.contains(['0', 'O', '1', 'I', 'l']),
            "{code}"
        );
        assert_ne!(v["password"], v["code"]);
    }
    let failed: Vec<&Value> = list.iter().filter(|v| v["state"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{list:?}");
    assert_eq!(failed[0]["code"], list[17]["code"]);
    assert_eq!(failed[0]["reason"], agent::FAIL_REASON);
    assert_eq!(list.iter().filter(|v| v["state"] == "active").count(), 49);
    assert_eq!(
        r.json()["counts"],
        json!({"active": 49, "queued": 0, "failed": 1, "other": 0})
    );
    assert_eq!(
        agent.seen().created,
        all,
        "the agent got them in order, once"
    );
    assert_durable(&app, &all);
    agent.stop().await;
}

#[tokio::test]
async fn an_offline_site_gets_queued_vouchers_that_land_when_it_returns() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let started = Instant::now();
    let r = generate(
        &app,
        &admin,
        json!({"router_id": 3, "package_id": 1, "count": 5}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wait for an offline site"
    );
    assert_eq!(r.json()["site_offline"], true);
    let list = vouchers(&r);
    assert!(list.iter().all(|v| v["state"] == "queued"), "{list:?}");
    let all = codes(&list);
    assert_durable(&app, &all);
    assert_eq!(
        app.state.fleet.site_status(&site("s2")).unwrap().outbox_len,
        1
    );

    // The agent connects: the queued command is delivered and confirmed.
    let agent = app.agent("s2").await;
    let store = app.state.store.clone();
    let landed = eventually(Duration::from_secs(10), || {
        all.iter()
            .all(|c| store.voucher(c).unwrap().unwrap().state == VoucherState::Active)
    })
    .await;
    assert!(landed, "queued vouchers never became active");
    assert_eq!(agent.seen().created, all);
    let one = app
        .api
        .get(&format!("/api/tokens/{}", all[0]), &admin)
        .await;
    assert_eq!(one.json()["state"], "active");
    agent.stop().await;

    // A site that goes away mid-life answers queued again.
    let agent = app.agent("s1").await;
    agent.stop().await;
    let gone = eventually(Duration::from_secs(10), || {
        !app.state.fleet.site_status(&site("s1")).unwrap().online
    })
    .await;
    assert!(gone);
    let r = generate(&app, &admin, json!({"router_id": 1, "package_id": 1})).await;
    assert_eq!(
        (r.status, r.json()["site_offline"].clone()),
        (200, json!(true))
    );
    assert_eq!(vouchers(&r)[0]["state"], "queued");
}

#[tokio::test]
async fn limits_and_permissions_are_checked_before_anything_is_stored() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let alice = app.login("alice").await;
    let prefix = app
        .state
        .store
        .site(&site("s1"))
        .unwrap()
        .unwrap()
        .code_prefix;
    let field = |r: &Reply| r.json()["error"]["details"]["field"].clone();
    let cases = [
        (
            json!({"router_id": 1, "package_id": 1, "count": 10001}),
            "count",
        ),
        (
            json!({"router_id": 1, "package_id": 1, "count": 0}),
            "count",
        ),
        (
            json!({"router_id": 1, "package_id": 1, "length": 5}),
            "length",
        ),
        (
            json!({"router_id": 1, "package_id": 1, "length": 21}),
            "length",
        ),
        (
            json!({"router_id": 1, "package_id": 1, "prefix": "abc"}),
            "prefix",
        ),
        (
            json!({"router_id": 1, "package_id": 1, "prefix": " AB"}),
            "prefix",
        ),
    ];
    for (body, name) in cases {
        let r = generate(&app, &admin, body.clone()).await;
        assert_eq!((r.status, field(&r)), (422, json!(name)), "{body}");
    }
    // Well-formed, but taken: a site's offline prefix belongs to its agent's codes.
    let reserved = json!({"router_id": 1, "package_id": 1, "prefix": format!("{prefix}X")});
    let r = generate(&app, &admin, reserved).await;
    assert_eq!((r.status, field(&r)), (409, json!("prefix")));
    let r = generate(&app, &alice, json!({"router_id": 2, "package_id": 1})).await;
    assert_eq!((r.status, r.code()), (403, "forbidden".into()));
    assert_eq!(
        generate(&app, &admin, json!({"router_id": 99, "package_id": 1}))
            .await
            .status,
        404
    );
    assert_eq!(
        generate(&app, &admin, json!({"router_id": 1, "package_id": 99}))
            .await
            .status,
        404
    );
    let r = generate(&app, &admin, json!({"router_id": 1})).await;
    assert_eq!(r.status, 422, "package_id is required");
    let page = app.api.get("/api/tokens/all", &admin).await.json();
    assert_eq!(page["items"], json!([]), "nothing was stored");
}

/// A site whose outbox is full: generation fails and keeps nothing (never "queued" for what
/// was not queued); revocation is recorded and says the removal must be retried.
#[tokio::test]
async fn a_full_outbox_is_an_error_and_nothing_is_claimed() {
    let app = TestApp::start_full(|_| {}, |l| l.link.max_outbox_entries = 2).await;
    let admin = app.login("admin").await;
    let r = generate(
        &app,
        &admin,
        json!({"router_id": 3, "package_id": 1, "count": 600}),
    )
    .await;
    assert_eq!(r.status, 200, "two commands fit: {:?}", r.json());
    let kept = codes(&vouchers(&r));
    let r = generate(&app, &admin, json!({"router_id": 3, "package_id": 1})).await;
    assert_eq!(
        (r.status, r.code()),
        (503, "site_offline".into()),
        "{:?}",
        r.json()
    );
    let listed = app
        .api
        .get("/api/tokens/all?site_id=s2&limit=500", &admin)
        .await
        .json();
    let next = listed["next"].as_str().unwrap().to_owned();
    let rest = app
        .api
        .get(
            &format!("/api/tokens/all?site_id=s2&limit=500&after={next}"),
            &admin,
        )
        .await
        .json();
    let total = listed["items"].as_array().unwrap().len() + rest["items"].as_array().unwrap().len();
    assert_eq!(total, 600, "the refused voucher was withdrawn");
    let withdrawn = app
        .api
        .get("/api/audit?action=voucher.delete", &admin)
        .await
        .json();
    assert_eq!(withdrawn["items"].as_array().unwrap().len(), 1);

    let path = format!("/api/tokens/{}/revoke", kept[0]);
    let r = app.api.post(&path, &admin, &json!({})).await;
    assert_eq!((r.status, r.code()), (503, "site_offline".into()));
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoke it again")
    );
    let v = app
        .api
        .get(&format!("/api/tokens/{}", kept[0]), &admin)
        .await
        .json();
    assert_eq!(v["state"], "revoked", "the ledger decision stands");
}
