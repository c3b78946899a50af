//! Selling at the site through the agent's local API: a sale made while the uplink is down
//! lands on the router at once and reaches the controller later with its original time,
//! staff and price (its `IssuedAtSite` before its `Applied`); the API's refusals (wrong
//! password, no CSRF token, a router not assigned, code space used up) and the recovery of the
//! budget once sales sync; a staff member disabled centrally is refused at the next contact.

mod agent_harness;
mod agent_local_support;

use std::collections::HashSet;
use std::time::Duration;

use agent_harness::{ROUTER, eventually};
use agent_local_support::*;
use hotspot_shared::domain::RouterId;
use hotspot_shared::fleet::msg::{Command, Event};
use hotspot_tests::local_staff::LocalStaff;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn codes(body: &serde_json::Value) -> Vec<String> {
    body["vouchers"]
        .as_array()
        .expect("vouchers")
        .iter()
        .map(|v| v["code"].as_str().expect("code").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_sale_is_on_the_router_at_once_and_in_the_ledger_later() {
    let site = LocalSite::start(100, |_| {}).await;
    site.cut().await;
    let ana = site.staff("ana").await;
    let before = now();
    let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 3).await.expect("sell");
    let after = now();
    assert_eq!(status, 200, "{body}");
    let sold = codes(&body);
    assert_eq!(sold.len(), 3);
    assert!(
        sold.iter()
            .all(|c| c.starts_with(PREFIX) && c.len() == PREFIX.len() + 8)
    );
    for v in body["vouchers"].as_array().expect("vouchers") {
        assert_eq!(v["password"], v["code"]);
        assert!(["queued", "active"].contains(&v["state"].as_str().expect("state")));
    }
    eventually(
        "the vouchers are on the router",
        Duration::from_secs(10),
        || sold.iter().all(|c| site.sim.user(c).is_some()),
    )
    .await;
    let status = ana.status().await.expect("status");
    assert_eq!(status["link"]["online"], false, "{status}");
    assert!(
        status["link"]["offline_since"].as_i64().is_some(),
        "{status}"
    );
    assert_eq!(status["pending_sales"], 3, "{status}");
    assert!(
        !site
            .events()
            .iter()
            .any(|e| matches!(e, Event::IssuedAtSite(_))),
        "nothing reached the controller while the link was down"
    );
    let listed = ana.list(10).await.expect("list");
    let listed: HashSet<String> = codes(&listed).into_iter().collect();
    assert_eq!(listed, sold.iter().cloned().collect::<HashSet<_>>());

    site.restore().await;
    eventually(
        "the sales reach the controller",
        Duration::from_secs(20),
        || {
            let events = site.events();
            sold.iter().all(|c| {
                events
                    .iter()
                    .any(|e| matches!(e, Event::Applied { code, .. } if code == c))
            })
        },
    )
    .await;
    let events = site.events();
    for code in &sold {
        let issued = events
            .iter()
            .position(|e| matches!(e, Event::IssuedAtSite(v) if &v.code == code))
            .expect("IssuedAtSite sent");
        let applied = events
            .iter()
            .position(|e| matches!(e, Event::Applied { code: c, .. } if c == code))
            .expect("Applied sent");
        assert!(
            issued < applied,
            "{code}: the sale comes before its outcome"
        );
        let Event::IssuedAtSite(v) = &events[issued] else {
            unreachable!()
        };
        assert_eq!(v.staff, ANA);
        assert_eq!(v.router, ROUTER);
        assert_eq!(v.package, PACKAGE);
        assert_eq!(v.price.minor, PRICE_MINOR);
        assert!(
            (before..=after).contains(&v.issued_at),
            "original time kept"
        );
    }
    eventually("nothing waits to sync", Duration::from_secs(10), || {
        site.agent()
            .link()
            .is_some_and(|l| l.status().outbox_len == 0)
    })
    .await;
    assert_eq!(ana.status().await.expect("status")["pending_sales"], 0);
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_the_code_budget() {
    let site = LocalSite::start(3, |_| {}).await;
    let mut stranger = LocalStaff::new(site.local_addr());
    let (status, body) = stranger.login("ana", "wrong").await.expect("login");
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "bad_credentials");
    let (status, _) = stranger.sell(ROUTER.0, PACKAGE.0, 1).await.expect("sell");
    assert_eq!(status, 401, "no session");

    let ana = site.staff("ana").await;
    let (status, body) = ana.sell(99, PACKAGE.0, 1).await.expect("sell");
    assert_eq!(status, 400, "{body}");
    let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 0).await.expect("sell");
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &"bad_request".into())
    );
    let (status, body) = ana.sell(ROUTER.0, 77, 1).await.expect("sell");
    assert_eq!(status, 400, "{body}");

    site.cut().await;
    let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 2).await.expect("sell");
    assert_eq!(status, 200, "{body}");
    let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 2).await.expect("sell");
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "code_space_exhausted");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("waiting")
    );
    let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 1).await.expect("sell");
    assert_eq!(status, 200, "the last code of the budget: {body}");
    let (status, _) = ana.sell(ROUTER.0, PACKAGE.0, 1).await.expect("sell");
    assert_eq!(status, 409);

    site.restore().await;
    eventually(
        "the sales are acknowledged",
        Duration::from_secs(20),
        || {
            site.agent()
                .link()
                .is_some_and(|l| l.status().outbox_len == 0)
        },
    )
    .await;
    let (status, body) = ana.sell(ROUTER.0, PACKAGE.0, 3).await.expect("sell");
    assert_eq!(status, 200, "budget back once the sales synced: {body}");
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_and_assignment_are_enforced() {
    let site = LocalSite::start(100, |_| {}).await;
    // A router the directory does not give Bob.
    let mut staff = agent_local_support::staff(false);
    staff[1].routers = vec![RouterId(8)];
    site.send(&[Command::StaffDirectory { staff }]).await;
    let bob = site.staff("bob").await;
    eventually(
        "Bob is moved off the router",
        Duration::from_secs(10),
        || {
            site.agent()
                .store()
                .staff()
                .ok()
                .flatten()
                .is_some_and(|s| s[1].routers == vec![RouterId(8)])
        },
    )
    .await;
    let (status, body) = bob.sell(ROUTER.0, PACKAGE.0, 1).await.expect("sell");
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "not_assigned");

    let ana = site.staff("ana").await;
    let (status, body) = ana
        .without_csrf()
        .sell(ROUTER.0, PACKAGE.0, 1)
        .await
        .expect("sell");
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "csrf");
    let (status, body) = ana
        .call(
            "POST",
            "/api/vouchers",
            Some(&serde_json::json!({"router": "7", "package": "package-1", "count": 1})),
        )
        .await
        .expect("sell");
    assert_eq!(status, 200, "ids as strings are accepted: {body}");
    site.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_disabled_centrally_is_refused_at_the_next_contact() {
    let site = LocalSite::start(100, |_| {}).await;
    let bob = site.staff("bob").await;
    let (status, body) = bob.sell(ROUTER.0, PACKAGE.0, 1).await.expect("sell");
    assert_eq!(status, 200, "{body}");
    site.cut().await;
    // Disabled centrally while the site is offline: queued for the next contact.
    site.send(&[Command::StaffDirectory {
        staff: agent_local_support::staff(true),
    }])
    .await;
    let (status, _) = bob.sell(ROUTER.0, PACKAGE.0, 1).await.expect("sell");
    assert_eq!(status, 200, "the site has not heard yet");
    site.restore().await;
    let store = site.agent().store().clone();
    eventually("the new directory arrives", Duration::from_secs(20), || {
        store
            .staff()
            .ok()
            .flatten()
            .is_some_and(|s| s.iter().any(|e| e.username == "bob" && e.disabled))
    })
    .await;
    let (status, body) = bob.sell(ROUTER.0, PACKAGE.0, 1).await.expect("sell");
    assert_eq!(status, 401, "an open session ends: {body}");
    let mut again = LocalStaff::new(site.local_addr());
    let (status, body) = again.login("bob", PASSWORD).await.expect("login");
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "bad_credentials");
    site.staff("ana").await;
    site.shutdown().await;
}

/// The value of `name="csrf_token" value="…"` in a page.
fn form_token(page: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let at = page.find(marker).expect("a form token") + marker.len();
    page[at..].split('"').next().expect("token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_sells_lists_prints_and_says_the_link_state() {
    let site = LocalSite::start(100, |_| {}).await;
    let mut ana = LocalStaff::new(site.local_addr());
    let (status, _, login) = ana.page("GET", "/", None).await.expect("page");
    assert_eq!(status, 200);
    assert!(
        login.contains("Sign in") && login.contains("/static/app.css"),
        "{login}"
    );
    assert!(!ana.form_login("ana", "wrong").await.expect("login"));
    assert!(ana.form_login("ana", PASSWORD).await.expect("login"));
    site.cut().await;
    let (_, _, page) = ana.page("GET", "/", None).await.expect("page");
    assert!(page.contains("Offline since"), "{page}");
    let token = form_token(&page);

    let (status, _, _) = ana
        .page(
            "POST",
            "/sell",
            Some("csrf_token=forged&router=7&package=1&count=2"),
        )
        .await
        .expect("sell");
    assert_eq!(status, 403, "a form without the page's token is refused");
    let form = format!("csrf_token={token}&router=7&package=1&count=2");
    let (status, location, _) = ana.page("POST", "/sell", Some(&form)).await.expect("sell");
    assert_eq!(status, 303);
    let location = location.expect("redirect");
    let codes: Vec<String> = location
        .strip_prefix("/?sold=")
        .expect("sold codes")
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 2);
    let (_, _, page) = ana.page("GET", &location, None).await.expect("page");
    assert!(page.contains("Sold 2 vouchers"), "{page}");
    assert!(page.contains("2 sales waiting to sync"), "{page}");
    assert!(codes.iter().all(|c| page.contains(c.as_str())));
    let (status, _, sheet) = ana
        .page("GET", &format!("/print?codes={}", codes.join(",")), None)
        .await
        .expect("print");
    assert_eq!(status, 200);
    assert!(codes.iter().all(|c| sheet.contains(c.as_str())), "{sheet}");
    assert!(sheet.contains("<svg"), "cards carry QR codes");
    let (status, _, _) = ana.page("GET", "/static/app.css", None).await.expect("css");
    assert_eq!(status, 200);
    site.restore().await;
    eventually("the page says online", Duration::from_secs(20), || {
        site.agent()
            .link()
            .is_some_and(|l| l.status().outbox_len == 0)
    })
    .await;
    let (_, _, page) = ana.page("GET", "/", None).await.expect("page");
    assert!(page.contains("Online, no sales waiting to sync."), "{page}");
    site.shutdown().await;
}

/// With `tls = true` the page is HTTPS with the certificate made on first start (kept in the
/// data dir), and the session cookie is `Secure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_over_https_uses_the_certificate_made_on_first_start() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let site = LocalSite::start(10, |s| {
        if let Some(l) = s.local.as_mut() {
            l.tls = true;
        }
    })
    .await;
    let pem = std::fs::read_to_string(site.data_dir.join("local-tls/cert.pem")).expect("cert kept");
    let mut roots = rustls::RootCertStore::empty();
    for c in hotspot_pki::tls::certs_from_pem("cert", &pem).expect("parses") {
        roots.add(c).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(hotspot_pki::tls::ring_provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(site.local_addr())
        .await
        .expect("connects");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("the certificate verifies");
    let body = format!(r#"{{"username":"ana","password":"{PASSWORD}"}}"#);
    let request = format!(
        "POST /api/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.expect("writes");
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("HttpOnly; SameSite=Strict; Path=/; Secure"),
        "{answer}"
    );
    site.shutdown().await;
}
