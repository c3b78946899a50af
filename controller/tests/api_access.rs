//! Access control over real HTTP: 401 on every protected operation of the OpenAPI
//! document, 403 for staff on admin endpoints, disabled accounts shut out at once.

mod common;
mod support;

use serde_json::json;
use support::*;

/// Every operation the OpenAPI document lists as protected answers 401 without a session,
/// and with a made-up token.
#[tokio::test]
async fn every_protected_endpoint_answers_401_without_a_session() {
    let app = TestApp::start().await;
    let doc = app.api.send("GET", "/api/openapi.json", &[], None).await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    let paths = doc["paths"].as_object().expect("paths");
    for contract in [
        "/api/auth/login",
        "/api/tokens/generate",
        "/api/tokens/my-tokens",
        "/api/tokens/all",
        "/api/packages",
        "/api/staff",
        "/api/audit",
    ] {
        assert!(
            paths.contains_key(contract),
            "{contract} missing from the document"
        );
    }
    let fake = format!("Bearer hfb_{}", "ab".repeat(32));
    let mut checked = 0;
    let param = regex::Regex::new(r"\{[^}]+\}").unwrap();
    for (path, item) in paths {
        let concrete = param.replace_all(path, "1").into_owned();
        for (method, op) in item.as_object().unwrap() {
            let public = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            if public || !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let m = method.to_uppercase();
            let body = (m != "GET").then(|| json!({}));
            // As a remote client (through a proxy), which used to matter for /metrics.
            let remote = ("x-forwarded-for", "203.0.113.9");
            for headers in [vec![remote], vec![remote, ("authorization", fake.as_str())]] {
                let r = app.api.send(&m, &concrete, &headers, body.as_ref()).await;
                assert_eq!(
                    (r.status, r.code()),
                    (401, "unauthorized".into()),
                    "{m} {concrete} with {headers:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} operations checked");
}

#[tokio::test]
async fn staff_get_403_on_admin_endpoints_and_disabled_accounts_are_out() {
    let app = TestApp::start().await;
    let alice = app.login("alice").await;
    let any = json!({});
    let admin_only: [(&str, &str); 11] = [
        ("GET", "/api/staff"),
        ("POST", "/api/staff"),
        ("GET", "/api/staff/1"),
        ("PUT", "/api/staff/1"),
        ("POST", "/api/staff/1/password"),
        ("POST", "/api/packages"),
        ("PUT", "/api/packages/1"),
        ("DELETE", "/api/packages/1"),
        ("GET", "/api/tokens/all"),
        ("GET", "/api/audit"),
        ("POST", "/api/tokens/ABCDEFGH/revoke"),
    ];
    let auth = format!("Bearer {alice}");
    for (m, path) in admin_only {
        let body = (m != "GET" && m != "DELETE").then_some(&any);
        let r = app
            .api
            .send(m, path, &[("authorization", &auth)], body)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "forbidden".into()),
            "{m} {path}"
        );
    }
    assert_eq!(app.api.get("/api/packages", &alice).await.status, 200);
    assert_eq!(app.api.get("/api/packages/1", &alice).await.status, 200);

    // Disabling bob ends his sessions at once; he cannot sign in again.
    let bob = app.login("bob").await;
    let admin = app.login("admin").await;
    let r = app
        .api
        .put("/api/staff/3", &admin, &json!({"disabled": true}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(app.api.get("/api/auth/me", &bob).await.status, 401);
    let r = app
        .api
        .send(
            "POST",
            "/api/auth/login",
            &[],
            Some(&json!({"username": "bob", "password": password("bob")})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden".into()));
}
