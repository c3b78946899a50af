//! End to end over real sockets: HTTP → controller → QUIC (mutual TLS) → agent → RouterOS API →
//! simulated router, with PKI and enrollment done for real (the demo's own start-up).

mod e2e_support;

use std::collections::HashSet;
use std::time::Duration;

use e2e_support::{codes_of, demo, generate, wait_states};
use hotspot_tests::demo::http::Api;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_generates_vouchers_that_land_on_the_router_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = demo(2, dir.path()).await;
    let anonymous = Api::new(demo.http);
    let staff = anonymous
        .login("staff", &demo.staff_password)
        .await
        .expect("staff login");
    let site = &demo.sites[0];
    let package = demo.packages[0].0;

    let answer = generate(&staff, site.router_id, package, 50).await;
    let codes = codes_of(&answer);
    assert_eq!(codes.len(), 50);
    assert_eq!(
        codes.iter().collect::<HashSet<_>>().len(),
        50,
        "codes are unique"
    );
    wait_states(&staff, &codes, "active", 30).await;

    // The router holds each voucher exactly once, as a hotspot user with its limits and our comment.
    let users = site.sim.users();
    for code in &codes {
        let on_router: Vec<_> = users.iter().filter(|u| &u.name == code).collect();
        assert_eq!(on_router.len(), 1, "{code} on the router once");
        assert_eq!(
            on_router[0].limit_uptime,
            Some(3600),
            "{code} has the package's time limit"
        );
        assert!(String::from_utf8_lossy(&on_router[0].comment).starts_with("hotspot-fleet"));
    }
    assert!(
        demo.sites[1]
            .sim
            .users()
            .iter()
            .all(|u| !codes.contains(&u.name)),
        "nothing on the other site's router"
    );

    // Revoke: the record stays, the user leaves the router.
    let admin = anonymous
        .login("admin", &demo.admin_password)
        .await
        .expect("admin login");
    admin
        .expect_ok(
            "POST",
            &format!("/api/tokens/{}/revoke", codes[0]),
            Some(&json!({})),
        )
        .await
        .expect("revoke");
    for _ in 0..300 {
        if site.sim.user(&codes[0]).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        site.sim.user(&codes[0]).is_none(),
        "revoked voucher removed from the router"
    );
    let record = admin
        .expect_ok("GET", &format!("/api/tokens/{}", codes[0]), None)
        .await
        .expect("record kept");
    assert_eq!(record["state"], "revoked");

    demo.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_is_checked_on_the_running_fleet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = demo(1, dir.path()).await;
    let anonymous = Api::new(demo.http);
    let staff = anonymous
        .login("staff", &demo.staff_password)
        .await
        .expect("staff login");

    let (status, body) = anonymous
        .call("GET", "/api/routers", None)
        .await
        .expect("call");
    assert_eq!(status, 401, "{body}");
    let (status, body) = staff
        .call("GET", "/api/tokens/all", None)
        .await
        .expect("call");
    assert_eq!(status, 403, "{body}");
    let (status, body) = staff
        .call("POST", "/api/sites", Some(&json!({"id": "x", "name": "x"})))
        .await
        .expect("call");
    assert_eq!(status, 403, "{body}");

    // Routers show the agent's live view: online, with the simulated router's identity.
    let routers: Value = staff
        .expect_ok("GET", "/api/routers", None)
        .await
        .expect("routers");
    let first = &routers["items"][0];
    assert_eq!(first["status"], "online", "{first}");
    let info = staff
        .expect_ok(
            "GET",
            &format!("/api/routers/{}/info", demo.sites[0].router_id),
            None,
        )
        .await
        .expect("info");
    assert_eq!(info["info"]["identity"], "cafe-1", "{info}");
    assert_eq!(info["stale"], false, "{info}");

    demo.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_router_and_voucher_endpoint_answers_through_the_whole_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = demo(1, dir.path()).await;
    let anonymous = Api::new(demo.http);
    let admin = anonymous
        .login("admin", &demo.admin_password)
        .await
        .expect("admin login");
    let staff = anonymous
        .login("staff", &demo.staff_password)
        .await
        .expect("staff login");
    let site = &demo.sites[0];
    let id = site.router_id;

    // GET/PUT /api/routers/:id — the answer never carries a password.
    let router = admin
        .expect_ok("GET", &format!("/api/routers/{id}"), None)
        .await
        .expect("get");
    assert!(router.get("password").is_none(), "{router}");
    let updated = admin
        .expect_ok(
            "PUT",
            &format!("/api/routers/{id}"),
            Some(&json!({"location": "back office"})),
        )
        .await
        .expect("put");
    assert_eq!(updated["location"], "back office", "{updated}");

    // POST /test, GET /stats: live from the simulated router through the agent.
    let tested = admin
        .expect_ok("POST", &format!("/api/routers/{id}/test"), Some(&json!({})))
        .await
        .expect("test");
    assert_eq!(tested["ok"], true, "{tested}");
    let stats = staff
        .expect_ok("GET", &format!("/api/routers/{id}/stats"), None)
        .await
        .expect("stats");
    assert_eq!(stats["stale"], false, "{stats}");
    assert!(
        stats["stats"]["total_memory"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );

    // A customer logs in with a voucher: GET /active-users shows the session, kick ends it.
    let code = codes_of(&generate(&staff, id, demo.packages[0].0, 1).await).remove(0);
    wait_states(&staff, std::slice::from_ref(&code), "active", 30).await;
    site.sim.login_customer(&code).expect("customer logs in");
    let active = staff
        .expect_ok("GET", &format!("/api/routers/{id}/active-users"), None)
        .await
        .expect("active");
    let session = active["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["user"] == code.as_str())
        .unwrap_or_else(|| panic!("the customer's session is listed: {active}"));
    let session_id = session["id"].as_str().expect("session id").to_owned();
    admin
        .expect_ok(
            "POST",
            &format!("/api/routers/{id}/active-users/{session_id}/kick"),
            Some(&json!({})),
        )
        .await
        .expect("kick");
    assert!(
        site.sim.active().iter().all(|s| s.user != code),
        "the session is gone from the router"
    );

    // POST /sync, then the voucher lists: mine (staff) and all (admin).
    admin
        .expect_ok("POST", &format!("/api/routers/{id}/sync"), Some(&json!({})))
        .await
        .expect("sync");
    let mine = staff
        .expect_ok("GET", "/api/tokens/my-tokens", None)
        .await
        .expect("my-tokens");
    assert!(
        mine["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|v| v["code"] == code.as_str()),
        "{mine}"
    );
    let all = admin
        .expect_ok("GET", &format!("/api/tokens/all?router_id={id}"), None)
        .await
        .expect("all");
    assert!(
        all["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|v| v["code"] == code.as_str()),
        "{all}"
    );

    demo.shutdown().await.expect("clean shutdown");
}
