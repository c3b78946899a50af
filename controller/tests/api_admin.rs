//! Staff and package management over real HTTP: creation with the password policy, no hashes
//! in answers, password resets and role changes, the last-admin guard; packages with human
//! units, validation errors naming their field, archive; the audit log of those changes.

mod common;
mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn staff_accounts_are_managed_without_showing_hashes() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let carol = json!({"username": "carol", "password": password("carol"), "role": "staff", "routers": [1, 2]});
    let r = app.api.post("/api/staff", &admin, &carol).await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_u64().unwrap();
    assert_eq!(
        (r.json()["routers"].clone(), r.json()["role"].clone()),
        (json!([1, 2]), json!("staff"))
    );
    let dup = app
        .api
        .post(
            "/api/staff",
            &admin,
            &json!({"username": "CAROL", "password": "another-password-1", "role": "staff"}),
        )
        .await;
    assert_eq!((dup.status, dup.code()), (409, "conflict".into()));
    let weak = app
        .api
        .post(
            "/api/staff",
            &admin,
            &json!({"username": "dave", "password": "short", "role": "staff"}),
        )
        .await;
    assert_eq!(
        (
            weak.status,
            weak.json()["error"]["details"]["field"].clone()
        ),
        (422, json!("password"))
    );
    let ghost_router = app.api.post("/api/staff", &admin, &json!({"username": "erin", "password": "erin-long-password", "role": "staff", "routers": [99]})).await;
    assert_eq!(
        (
            ghost_router.status,
            ghost_router.json()["error"]["details"]["field"].clone()
        ),
        (422, json!("routers"))
    );

    let list = app.api.get("/api/staff", &admin).await;
    assert_eq!(list.status, 200);
    let text = String::from_utf8_lossy(&list.body).into_owned();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
    assert_eq!(list.json()["items"].as_array().unwrap().len(), 4);

    // Carol signs in; a role change applies on her next request; a reset ends her session.
    let token = app.login("carol").await;
    let r = app
        .api
        .put(
            &format!("/api/staff/{id}"),
            &admin,
            &json!({"role": "super_admin", "routers": []}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(app.api.get("/api/staff", &token).await.status, 200);
    let reset = format!("/api/staff/{id}/password");
    let r = app
        .api
        .post(&reset, &admin, &json!({"password": "carol"}))
        .await;
    assert_eq!(r.status, 422);
    let r = app
        .api
        .post(
            &reset,
            &admin,
            &json!({"password": "a-brand-new-passphrase"}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(app.api.get("/api/auth/me", &token).await.status, 401);
    let again = app
        .api
        .send(
            "POST",
            "/api/auth/login",
            &[],
            Some(&json!({"username": "carol", "password": "a-brand-new-passphrase"})),
        )
        .await;
    assert_eq!(again.status, 200);

    // The last enabled super admin stays one.
    let r = app
        .api
        .put(
            &format!("/api/staff/{id}"),
            &admin,
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .api
        .put("/api/staff/1", &admin, &json!({"role": "staff"}))
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict".into()));
    assert_eq!(app.api.get("/api/staff/99", &admin).await.status, 404);

    let audit = app.api.get("/api/audit?action=staff.", &admin).await;
    assert_eq!(audit.status, 200);
    let items = audit.json()["items"].as_array().unwrap().clone();
    assert!(items.iter().any(|e| e["action"] == "staff.create"
        && e["actor_kind"] == "staff"
        && e["actor_id"] == "1"));
    assert!(
        items
            .iter()
            .all(|e| e["action"].as_str().unwrap().starts_with("staff."))
    );
}

#[tokio::test]
async fn packages_take_human_units_and_name_the_bad_field() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let day = json!({
        "name": "Day pass (5 GB)", "price_minor": 50000, "currency": "UGX", "time_limit": "1 day",
        "data_limit_bytes": "5G", "validity": "7d", "rate_limit": "2M/5M", "shared_users": 2
    });
    let r = app.api.post("/api/packages", &admin, &day).await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    let p = r.json();
    let id = p["id"].as_u64().unwrap();
    assert_eq!(p["time_limit"], "1d");
    assert_eq!(p["time_limit_secs"], 86_400);
    assert_eq!(p["data_limit_bytes"], 5u64 << 30);
    assert_eq!(p["data_limit"], "5 GiB");
    assert_eq!(p["validity"], "1w");
    assert_eq!(p["profile"], "hf-day-pass-5-gb");
    assert_eq!(
        p["price"],
        json!({"minor": 50000, "currency": "UGX", "formatted": "50000 UGX"})
    );
    assert_eq!(
        (p["price_minor"].clone(), p["currency"].clone()),
        (json!(50000), json!("UGX"))
    );

    let plain = json!({"name": "Data only", "price_minor": 250, "currency": "USD", "data_limit_bytes": 1000000, "profile": "custom"});
    let r = app.api.post("/api/packages", &admin, &plain).await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert_eq!(
        (
            r.json()["data_limit_bytes"].clone(),
            r.json()["profile"].clone()
        ),
        (json!(1000000), json!("custom"))
    );
    assert_eq!(r.json()["price"]["formatted"], "2.50 USD");

    let base = json!({"name": "X", "price_minor": 100, "currency": "USD", "time_limit": "1h"});
    let cases = [
        ("currency", json!("usd")),
        ("time_limit", json!("1 fortnight")),
        ("time_limit", json!("0s")),
        ("data_limit_bytes", json!("5 parsecs")),
        ("validity", json!("-1d")),
        ("rate_limit", json!("fast")),
        ("shared_users", json!(0)),
        ("price_minor", json!(-1)),
        ("name", json!("  ")),
    ];
    for (field, value) in cases {
        let mut body = base.clone();
        body[field] = value.clone();
        let r = app.api.post("/api/packages", &admin, &body).await;
        assert_eq!(
            (r.status, r.code()),
            (422, "validation_failed".into()),
            "{field}={value}"
        );
        assert_eq!(
            r.json()["error"]["details"]["field"],
            field,
            "{field}={value}: {:?}",
            r.json()
        );
    }
    let unlimited = json!({"name": "Free", "price_minor": 0, "currency": "USD"});
    let r = app.api.post("/api/packages", &admin, &unlimited).await;
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].clone()),
        (422, json!("time_limit"))
    );
    let r = app.api.post("/api/packages", &admin, &json!({"name": "Y", "price_minor": 1, "currency": "USD", "time_limit": 60, "colour": "red"})).await;
    assert_eq!(r.status, 422, "unknown fields are refused");

    // Replace: the profile stays unless given; archive hides it from the default list.
    let mut changed = day.clone();
    changed["price_minor"] = json!(60000);
    changed["name"] = json!("Day pass");
    let r = app
        .api
        .put(&format!("/api/packages/{id}"), &admin, &changed)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(
        (r.json()["price_minor"].clone(), r.json()["profile"].clone()),
        (json!(60000), json!("hf-day-pass-5-gb"))
    );
    let r = app.api.delete(&format!("/api/packages/{id}"), &admin).await;
    assert_eq!((r.status, r.json()["archived"].clone()), (200, json!(true)));
    let staff = app.login("alice").await;
    let names = |r: Reply| -> Vec<String> {
        r.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = names(app.api.get("/api/packages", &staff).await);
    assert!(
        listed.contains(&"Data only".to_owned()) && !listed.contains(&"Day pass".to_owned()),
        "{listed:?}"
    );
    let all = names(
        app.api
            .get("/api/packages?include_archived=true", &staff)
            .await,
    );
    assert!(all.contains(&"Day pass".to_owned()));
    assert_eq!(app.api.get("/api/packages/999", &staff).await.status, 404);
    // Archived reads as deleted (HTTP's rule); the list with include_archived shows it.
    let one = format!("/api/packages/{id}");
    assert_eq!(app.api.get(&one, &staff).await.status, 404);
    let r = app.api.put(&format!("/api/packages/{id}"), &admin, &json!({"name": "Day pass", "price_minor": 1, "currency": "USD", "time_limit": "1h", "archived": false})).await;
    assert_eq!(
        (r.status, r.json()["archived"].clone()),
        (200, json!(false))
    );

    let audit = app
        .api
        .get("/api/audit?action=package.&limit=2", &admin)
        .await
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);
    let next = audit["next"].as_str().expect("more pages");
    let page2 = app
        .api
        .get(
            &format!("/api/audit?action=package.&limit=2&after={next}"),
            &admin,
        )
        .await;
    assert_eq!(page2.status, 200);
    assert!(!page2.json()["items"].as_array().unwrap().is_empty());
    assert_eq!(
        app.api.get("/api/audit?limit=501", &admin).await.status,
        422
    );
}
