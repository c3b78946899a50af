//! API keys over real HTTP: made by a super admin and shown once, each scope doing what it
//! says and no more, every use audited with the last use listed, and a key stopping at once
//! when revoked, expired or its maker disabled.

mod common;
mod support;

use serde_json::{Value, json};
use support::*;

async fn make_key(app: &TestApp, admin: &str, body: Value) -> (String, u64) {
    let r = app.api.post("/api/api-keys", admin, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    let key = v["key"].as_str().expect("key shown once").to_owned();
    assert!(key.starts_with("hfk_") && key.len() == 68, "{key}");
    (key, v["id"].as_u64().expect("id"))
}

#[tokio::test]
async fn each_scope_does_what_it_says_and_no_more() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;

    let (read, read_id) = make_key(
        &app,
        &admin,
        json!({"name": "dashboard wall", "scope": {"kind": "read_only"}}),
    )
    .await;
    let r = app.api.get("/api/tokens/all", &read).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.api.get("/api/staff", &read).await.status, 200);
    let r = app
        .api
        .post(
            "/api/packages",
            &read,
            &json!({"name": "x", "price_minor": 1, "currency": "USD", "time_limit": "1h"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "forbidden".into()),
        "{}",
        r.text()
    );
    let r = generate(&app, &read, json!({"router_id": 1, "package_id": 1})).await;
    assert_eq!(r.status, 403, "a read-only key sells nothing");

    let (seller, _) = make_key(
        &app,
        &admin,
        json!({"name": "kiosk", "scope": {"kind": "seller", "routers": [2]}, "valid_days": 30}),
    )
    .await;
    let r = generate(
        &app,
        &seller,
        json!({"router_id": 2, "package_id": 1, "count": 2}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = generate(&app, &seller, json!({"router_id": 1, "package_id": 1})).await;
    assert_eq!(r.status, 403, "not its router");
    assert_eq!(app.api.get("/api/staff", &seller).await.status, 403);
    let mine = app.api.get("/api/tokens/my-tokens", &seller).await.json();
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(2), "{mine}");

    let (full, _) = make_key(
        &app,
        &admin,
        json!({"name": "provisioning", "scope": {"kind": "admin"}}),
    )
    .await;
    let r = app
        .api
        .post("/api/sites", &full, &json!({"id": "s9", "name": "Nine"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // No key manages keys, not even an admin one: a leaked key cannot mint more.
    for key in [&full, &read] {
        assert_eq!(app.api.get("/api/api-keys", key).await.status, 403);
        let r = app
            .api
            .post(
                "/api/api-keys",
                key,
                &json!({"name": "more", "scope": {"kind": "admin"}}),
            )
            .await;
        assert_eq!(r.status, 403);
    }

    // Listed with its last use, never its secret; each use is in the audit log.
    let list = app.api.get("/api/api-keys", &admin).await;
    assert_eq!(list.status, 200);
    assert!(
        !list.text().contains(&read),
        "the secret is shown once only"
    );
    let items = list.json()["items"].as_array().cloned().expect("items");
    assert_eq!(items.len(), 3);
    let listed = items
        .iter()
        .find(|k| k["id"] == read_id)
        .expect("the read-only key");
    assert!(listed["last_used_at"].is_string(), "{listed}");
    assert_eq!(listed["scope"], json!({"kind": "read_only"}));
    let audit = app
        .api
        .get(
            &format!("/api/audit?action=api-key.use&target=api-key-{read_id}"),
            &admin,
        )
        .await
        .json();
    let asked: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    for want in [
        "GET /api/tokens/all",
        "GET /api/staff",
        "POST /api/packages",
        "POST /api/tokens/generate",
        "GET /api/api-keys",
    ] {
        assert!(
            asked.contains(&want),
            "{want} is audited, refused or not: {asked:?}"
        );
    }
}

#[tokio::test]
async fn a_key_stops_when_revoked_expired_or_its_maker_disabled() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let (key, id) = make_key(
        &app,
        &admin,
        json!({"name": "export", "scope": {"kind": "read_only"}}),
    )
    .await;
    assert_eq!(app.api.get("/api/packages", &key).await.status, 200);
    let r = app.api.delete(&format!("/api/api-keys/{id}"), &admin).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["revoked_at"].is_string());
    let r = app.api.get("/api/packages", &key).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized".into()));

    let (short, _) = make_key(
        &app,
        &admin,
        json!({"name": "a day", "scope": {"kind": "admin"}, "valid_days": 1}),
    )
    .await;
    assert_eq!(app.api.get("/api/packages", &short).await.status, 200);
    app.advance(86_400);
    assert_eq!(
        app.api.get("/api/packages", &short).await.status,
        401,
        "expired"
    );

    // A second super admin makes a key, then is disabled: the key dies with the account.
    let admin2 = app
        .api
        .post(
            "/api/staff",
            &admin,
            &json!({"username": "admin2", "password": "Second-admin-pw-1", "role": "super_admin"}),
        )
        .await;
    assert_eq!(admin2.status, 201, "{}", admin2.text());
    let admin2_id = admin2.json()["id"].as_u64().expect("id");
    let login = app
        .api
        .send(
            "POST",
            "/api/auth/login",
            &[],
            Some(&json!({"username": "admin2", "password": "Second-admin-pw-1"})),
        )
        .await;
    let token2 = login.json()["token"].as_str().expect("token").to_owned();
    let (theirs, _) = make_key(
        &app,
        &token2,
        json!({"name": "theirs", "scope": {"kind": "admin"}}),
    )
    .await;
    assert_eq!(app.api.get("/api/packages", &theirs).await.status, 200);
    let r = app
        .api
        .put(
            &format!("/api/staff/{admin2_id}"),
            &admin,
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.api.get("/api/packages", &theirs).await.status, 401);

    // Made-up and malformed keys.
    let fake = format!("hfk_{}", "0".repeat(64));
    assert_eq!(app.api.get("/api/packages", &fake).await.status, 401);
    assert_eq!(app.api.get("/api/packages", "hfk_short").await.status, 401);
}

#[tokio::test]
async fn bad_key_requests_are_refused_with_the_field_named() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let field = |r: &Reply| r.json()["error"]["details"]["field"].clone();
    for (body, name) in [
        (json!({"name": " x", "scope": {"kind": "admin"}}), "name"),
        (
            json!({"name": "x", "scope": {"kind": "seller", "routers": [99]}}),
            "routers",
        ),
        (
            json!({"name": "x", "scope": {"kind": "admin"}, "valid_days": 0}),
            "valid_days",
        ),
    ] {
        let r = app.api.post("/api/api-keys", &admin, &body).await;
        assert_eq!(
            (r.status, field(&r)),
            (422, json!(name)),
            "{body}: {}",
            r.text()
        );
    }
    for body in [
        json!({"name": "x", "scope": {"kind": "root"}}),
        json!({"name": "x", "scope": {"kind": "seller"}}),
        json!({"name": "x"}),
    ] {
        let r = app.api.post("/api/api-keys", &admin, &body).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
    }
    let alice = app.login("alice").await;
    let r = app
        .api
        .post(
            "/api/api-keys",
            &alice,
            &json!({"name": "x", "scope": {"kind": "admin"}}),
        )
        .await;
    assert_eq!(r.status, 403, "staff make no keys");
    assert_eq!(app.api.delete("/api/api-keys/42", &admin).await.status, 404);
}
