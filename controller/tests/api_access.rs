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

/// The document keeps its word on the answers every operation's shape implies: a path
/// parameter that cannot be read (`-1` for an id) and a body that is not JSON are answered
/// with a status the operation lists, and with the one error body.
#[tokio::test]
async fn bad_path_values_and_non_json_bodies_get_documented_answers() {
    let app = TestApp::start().await;
    let admin = format!("Bearer {}", app.login("admin").await);
    let doc = app
        .api
        .send("GET", "/api/openapi.json", &[], None)
        .await
        .json();
    let param = regex::Regex::new(r"\{[^}]+\}").unwrap();
    let (mut paths_checked, mut bodies_checked) = (0, 0);
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            if path.contains("logout") || path.contains("revoke") || path.contains("sessions") {
                continue; // would end the admin's session or change what other cases see
            }
            let m = method.to_uppercase();
            let listed = |status: u16| op["responses"].get(status.to_string()).is_some();
            let auth = [("authorization", admin.as_str())];
            if path.contains('{') {
                let concrete = param.replace_all(path, "-1").into_owned();
                let body = (m != "GET" && m != "DELETE").then(|| json!({}));
                let r = app.api.send(&m, &concrete, &auth, body.as_ref()).await;
                assert!(
                    listed(r.status) && r.json()["error"]["code"].is_string(),
                    "{m} {concrete}: {} {} is not what the document lists",
                    r.status,
                    r.text()
                );
                paths_checked += 1;
            }
            if op.get("requestBody").is_some() {
                let concrete = param.replace_all(path, "1").into_owned();
                let r = common::http::request(
                    app.api.addr,
                    &m,
                    &concrete,
                    &auth,
                    common::http::Body::Form("a=1".into()),
                )
                .await;
                assert!(
                    (r.status, listed(415)) == (415, true),
                    "{m} {concrete} with a form body: {} {}",
                    r.status,
                    r.text()
                );
                bodies_checked += 1;
            }
        }
    }
    assert!(
        paths_checked >= 15 && bodies_checked >= 10,
        "checked {paths_checked} paths and {bodies_checked} bodies"
    );
}

/// `1.0` is an integer to JSON Schema (and to JavaScript): a body that writes an id so is read
/// as that id, while a real fraction is refused with the field's path.
#[tokio::test]
async fn integers_written_with_a_zero_fraction_are_integers() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let before = app.api.get("/api/staff/2", &admin).await.json();
    let routers = before["routers"].clone();
    let as_floats: Vec<f64> = routers
        .as_array()
        .expect("routers")
        .iter()
        .map(|r| r.as_f64().expect("id"))
        .collect();
    assert!(
        !as_floats.is_empty(),
        "alice sells on some router: {before}"
    );
    let r = app
        .api
        .put("/api/staff/2", &admin, &json!({"routers": as_floats}))
        .await;
    assert_eq!(
        (r.status, r.json()["routers"].clone()),
        (200, routers),
        "{}",
        r.text()
    );
    let r = app
        .api
        .put("/api/staff/2", &admin, &json!({"routers": [1.5]}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("routers"),
        "names the field: {}",
        r.text()
    );
}

/// A filter left empty in a query (what an HTML form sends) is no filter, as an empty `after`
/// is; a filled one is still checked.
#[tokio::test]
async fn empty_query_filters_are_absent() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    for path in [
        "/api/tokens/all?from=&until=",
        "/api/tokens/my-tokens?from=&until=&after=",
        "/api/audit?from=&until=",
        "/api/routers?site_id=&after=",
    ] {
        let r = app.api.get(path, &admin).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    // Only empty is absent: a space is not a time, a site id or a Unix second.
    for path in [
        "/api/tokens/all?from=yesterday",
        "/api/tokens/my-tokens?until=%20",
        "/api/tokens/all?from=%2B5",
        "/api/routers?site_id=%20x%20y",
    ] {
        let r = app.api.get(path, &admin).await;
        assert_eq!(r.status, 422, "{path}: {}", r.text());
    }
}

/// The document states the bounds the handlers enforce, from the same definitions
/// (`api::bounds`): a name's pattern and length, an id filter's maximum.
#[tokio::test]
async fn the_document_carries_the_handlers_bounds() {
    let app = TestApp::start().await;
    let doc = app
        .api
        .send("GET", "/api/openapi.json", &[], None)
        .await
        .json();
    let site = &doc["components"]["schemas"]["CreateSite"]["properties"];
    assert_eq!(
        site["name"]["pattern"],
        json!(hotspot_controller::api::bounds::text_pattern())
    );
    assert_eq!(site["name"]["maxLength"], 64);
    assert_eq!(site["id"]["pattern"], "^[a-z0-9][a-z0-9-]*$");
    let params = doc["paths"]["/api/tokens/all"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let staff = params
        .iter()
        .find(|p| p["name"] == "staff_id")
        .expect("staff_id");
    assert_eq!(staff["schema"]["maximum"], json!(i64::MAX));
}

/// What the schema refuses, the handlers refuse with the one error body; what it allows, they
/// take (the OpenAPI fuzzer in tests/api-fuzz checks this at large, these are its findings).
#[tokio::test]
async fn values_outside_the_schema_are_refused_and_inside_it_taken() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let auth = format!("Bearer {admin}");
    let auth = [("authorization", auth.as_str())];
    let field = |r: &Reply| r.json()["error"]["details"]["field"].clone();

    for (body, name) in [
        (json!({"id": "s9", "name": " Café"}), "name"),
        (json!({"id": "s9", "name": "Café\u{7}"}), "name"),
        (json!({"id": " s9", "name": "Café"}), "id"),
    ] {
        let r = app.api.send("POST", "/api/sites", &auth, Some(&body)).await;
        assert_eq!((r.status, field(&r)), (422, json!(name)), "{body}");
    }
    let ok = json!({"id": "s9", "name": "Café Ünïcode 日本"});
    let r = app.api.send("POST", "/api/sites", &auth, Some(&ok)).await;
    assert_eq!(r.status, 201, "{}", r.text());

    // No account has an empty name: wrong credentials like any other.
    let empty = json!({"username": "", "password": ""});
    let r = app
        .api
        .send("POST", "/api/auth/login", &[], Some(&empty))
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials".into()));

    // serde would read a struct from an array of its fields; the schema says object.
    let r = app
        .api
        .send("POST", "/api/reports/run", &auth, Some(&json!([null])))
        .await;
    assert_eq!(r.status, 422, "{}", r.text());

    for (path, status) in [
        ("/api/tokens/all?staff_id=9223372036854775808", 422),
        ("/api/tokens/all?staff_id=9223372036854775807", 200),
        ("/api/tokens/all?after=00", 200),
        ("/api/tokens/all?after=0", 400),
        ("/api/audit?after=ABCD", 400),
        ("/api/routers?after=5", 200),
        ("/api/routers?after=abc", 400),
        ("/api/routers?status=", 400),
        ("/api/tokens/all?from=2026-02-30", 422),
        ("/api/tokens/all?from=2026-02-28T10:00:00%2B03:00", 200),
    ] {
        let r = app.api.get(path, &admin).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
    }
}
