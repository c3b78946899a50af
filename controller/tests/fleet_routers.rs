//! The routers API through a fake agent over the real fleet link: a router is stored only
//! after the agent's test passes, with its password sealed; the router's refusals come back in
//! words; an offline site gets 503 for writes that need the router and the last known state,
//! marked stale with its age, for reads; credentials changed offline reach the agent when its
//! site returns, with the site's catalogue, staff directory and code grant.

mod common;
mod fleet_support;

use std::time::{Duration, Instant};

use fleet_support::*;
use hotspot_controller::store::Store;
use hotspot_shared::fleet::msg::Command;
use serde_json::{Value, json};

const ROUTER_PW: &str = "S3cret-Router-pw";

fn router_body(site_id: &str, password: &str) -> Value {
    json!({
        "name": "cafe gateway", "site_id": site_id, "location": "behind the bar",
        "host": "192.168.88.1", "port": 8728, "username": "api", "password": password
    })
}

/// Adds a router on `site_id` (whose agent is online); returns its id.
async fn add_router(c: &Controller, site_id: &str) -> u64 {
    let r = c
        .http
        .post("/api/routers", router_body(site_id, ROUTER_PW))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_u64().expect("id")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_router_is_tested_before_it_is_stored_and_its_password_is_sealed() {
    let c = Controller::start().await;
    c.add_site("s1").await;
    c.add_site("s2").await;
    let agent = c.agent("s1").await;

    let r = c
        .http
        .post("/api/routers", router_body("s1", ROUTER_PW))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(!r.text().contains(ROUTER_PW), "no password in the answer");
    let body = r.json();
    assert!(body.get("password").is_none());
    assert_eq!(body["info"]["identity"], "cafe-gw");
    assert_eq!(body["status"], "online", "{body}");
    assert_eq!(body["credentials_pending"], false);
    // The site's on-connect hand-over may repeat the same settings; what matters is that the
    // agent got them and never anything else.
    let handed = agent.passwords_set();
    assert!(
        !handed.is_empty() && handed.iter().all(|p| p == ROUTER_PW),
        "the agent was handed the settings: {handed:?}"
    );
    let id = body["id"].as_u64().unwrap();

    let wrong = c
        .http
        .post("/api/routers", router_body("s1", "wrong"))
        .await;
    assert_eq!(
        (wrong.status, wrong.code().as_str()),
        (422, "validation_failed")
    );
    let error = &wrong.json()["error"];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("Wrong username or password"),
        "{error}"
    );
    assert_eq!(error["details"]["kind"], "bad-credentials");

    let offline = c
        .http
        .post("/api/routers", router_body("s2", ROUTER_PW))
        .await;
    assert_eq!(
        (offline.status, offline.code().as_str()),
        (409, "conflict"),
        "an offline site's router cannot be tried: a state to wait out, not a server fault"
    );

    let list = c.http.get("/api/routers").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(list["next"], Value::Null);
    let one = c.http.get(&format!("/api/routers/{id}")).await;
    assert_eq!(one.json()["site_id"], "s1");
    assert_eq!(
        c.http.get("/api/routers?site_id=s2").await.json()["items"],
        json!([])
    );

    // A staff member not assigned to it does not see it.
    let staff = json!({"username": "carol", "password": "carol-passw0rd-long", "role": "staff"});
    assert_eq!(c.http.post("/api/staff", staff).await.status, 201);
    let login = c
        .http
        .post(
            "/api/auth/login",
            json!({"username": "carol", "password": "carol-passw0rd-long"}),
        )
        .await;
    let carol = Http {
        addr: c.http.addr,
        bearer: Some(login.json()["token"].as_str().unwrap().to_owned()),
    };
    assert_eq!(carol.get("/api/routers").await.json()["items"], json!([]));
    assert_eq!(carol.get(&format!("/api/routers/{id}")).await.status, 404);

    c.store.sync().durable().await.unwrap();
    assert!(
        !files_contain(c.dir.path(), ROUTER_PW.as_bytes()),
        "the ledger's file holds no plain password"
    );
    agent.link.shutdown().await.unwrap();
    c.stop().await;
}

/// Sends `path` and checks it answered within a second (never hangs on an offline site).
async fn quick(c: &Controller, method: &str, path: &str) -> fleet_support::http::Reply {
    let started = Instant::now();
    let r = c
        .http
        .send(method, path, (method == "POST").then(|| json!({})))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{path} took {:?}",
        started.elapsed()
    );
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn router_calls_answer_live_then_from_the_last_known_state_marked_stale() {
    let c = Controller::start().await;
    c.add_site("s1").await;
    let agent = c.agent("s1").await;
    let id = add_router(&c, "s1").await;
    let base = format!("/api/routers/{id}");

    let info = c.http.get(&format!("{base}/info")).await.json();
    assert_eq!(
        (info["stale"].clone(), info["info"]["model"].clone()),
        (json!(false), json!("RB4011iGS+"))
    );
    let stats = c.http.get(&format!("{base}/stats")).await.json();
    assert_eq!(
        (stats["stale"].clone(), stats["stats"]["cpu_load"].clone()),
        (json!(false), json!(7))
    );
    let users = c.http.get(&format!("{base}/active-users")).await.json();
    assert_eq!(users["items"][0]["id"], "*1A", "{users}");
    let kicked = c
        .http
        .post(&format!("{base}/active-users/*1A/kick"), json!({}))
        .await;
    assert_eq!(kicked.json()["kicked"], true, "{}", kicked.text());
    // A session id that no router could have is the caller's mistake: 404, never sent on.
    let odd = c
        .http
        .post(&format!("{base}/active-users/0/kick"), json!({}))
        .await;
    assert_eq!(
        (odd.status, odd.json()["error"]["code"].clone()),
        (404, json!("not_found")),
        "{}",
        odd.text()
    );
    let synced = c.http.post(&format!("{base}/sync"), json!({})).await;
    assert_eq!(
        (synced.status, synced.json()["samples"].clone()),
        (200, json!(3))
    );
    let tested = c.http.post(&format!("{base}/test"), json!({})).await.json();
    assert_eq!(
        (tested["ok"].clone(), tested["stale"].clone()),
        (json!(true), json!(false))
    );

    agent.link.shutdown().await.unwrap();
    c.wait_online("s1", false).await;
    c.clock.advance(30);

    let info = quick(&c, "GET", &format!("{base}/info")).await;
    assert_eq!(info.status, 200, "{}", info.text());
    let info = info.json();
    assert_eq!(info["stale"], true);
    assert!(info["age_secs"].as_u64().unwrap() >= 30, "{info}");
    assert_eq!(info["info"]["identity"], "cafe-gw");
    assert!(
        info["reason"].as_str().unwrap().contains("offline"),
        "{info}"
    );
    let stats = quick(&c, "GET", &format!("{base}/stats")).await.json();
    assert_eq!(
        (stats["stale"].clone(), stats["stats"]["cpu_load"].clone()),
        (json!(true), json!(7))
    );
    assert!(stats["age_secs"].as_u64().unwrap() >= 30, "{stats}");
    let users = quick(&c, "GET", &format!("{base}/active-users")).await;
    assert_eq!((users.status, users.code().as_str()), (503, "site_offline"));
    let kick = quick(&c, "POST", &format!("{base}/active-users/*1A/kick")).await;
    assert_eq!(kick.status, 503);
    let sync = quick(&c, "POST", &format!("{base}/sync")).await;
    assert_eq!(
        (sync.status, sync.json()["queued"].clone()),
        (202, json!(true))
    );
    let test = quick(&c, "POST", &format!("{base}/test")).await.json();
    assert_eq!(
        (test["ok"].clone(), test["stale"].clone()),
        (json!(true), json!(true))
    );
    let listed = c.http.get("/api/routers").await.json();
    assert_eq!(listed["items"][0]["status"], "offline", "{listed}");
    assert_eq!(listed["items"][0]["stale"], true);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_changed_while_offline_reach_the_agent_when_its_site_returns() {
    let c = Controller::start().await;
    c.add_site("s1").await;
    let mut agent = c.agent("s1").await;
    let id = add_router(&c, "s1").await;
    let path = format!("/api/routers/{id}");

    let refused = c
        .http
        .send("PUT", &path, Some(json!({"password": "wrong"})))
        .await;
    assert_eq!(
        refused.status,
        422,
        "a failing test stores nothing: {}",
        refused.text()
    );
    let handed = agent.passwords_set();
    assert!(
        !handed.is_empty() && handed.iter().all(|p| p == ROUTER_PW),
        "only the tested password reached the agent: {handed:?}"
    );

    agent.link.shutdown().await.unwrap();
    c.wait_online("s1", false).await;
    let r = c
        .http
        .send("PUT", &path, Some(json!({"password": "N3w-Router-pw"})))
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["credentials_pending"], true);
    assert!(!r.text().contains("N3w-Router-pw"));

    agent.restart().await;
    c.wait_online("s1", true).await;
    let back = &agent;
    let handed = eventually(Duration::from_secs(10), || {
        back.passwords_set().contains(&"N3w-Router-pw".to_string())
    })
    .await;
    assert!(
        handed,
        "the new password reached the agent: {:?}",
        back.passwords_set()
    );
    let mut cleared = false;
    for _ in 0..100 {
        if c.http.get(&path).await.json()["credentials_pending"] == false {
            cleared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cleared, "the pending mark gives way to the router's news");

    assert!(eventually(Duration::from_secs(5), || back.commands().len() >= 3).await);
    let commands = back.commands();
    let site = c.store.site(&site("s1")).unwrap().unwrap();
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::Catalogue { .. }))
    );
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::StaffDirectory { .. }))
    );
    assert!(commands.contains(&Command::CodeGrant {
        prefix: site.code_prefix,
        budget: hotspot_controller::fleet::presence::SITE_SALE_BUDGET,
    }));
    back.link.shutdown().await.unwrap();
    c.stop().await;
}
