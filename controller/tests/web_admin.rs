//! The super-admin pages over plain HTTP, as a browser would use them: sign in through the
//! form, keep the cookies, post forms with the page's CSRF token and our origin. Runs on the
//! fleet harness (real ledger, real fleet link, a fake agent answering router questions).
//!
//! Checked: staff get the 403 page on every admin URL (GET and POST); a POST without the CSRF
//! token is refused and changes nothing; the package form's human units are stored as the
//! right numbers, a bad one is shown next to its field; the reports CSV has its header and
//! totals; adding a router with a wrong password shows the words for people and stores
//! nothing, with the right one the router is added and no password is drawn; a site's
//! enrollment command is shown; a staff account with a generated password can sign in.

mod common;
mod fleet_support;
mod web_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use fleet_support::agent::WRONG;
use fleet_support::*;
use hotspot_controller::store::{NewStaff, Report, ReportBody, Revenue, Role, Stamp, Store, Tally};
use hotspot_shared::domain::{Currency, Money, PackageId, RouterId};
use web_support::Browser;

const ROUTER_PW: &str = "S3cret-Router-pw";
const STAFF_PW: &str = "alice-secret-passw0rd";

fn addr(c: &Controller) -> SocketAddr {
    c.http.addr
}

async fn add_staff(c: &Controller, name: &str, routers: Vec<RouterId>) {
    let new = NewStaff {
        username: name.into(),
        password_hash: c.state.hasher.hash(STAFF_PW).expect("hash"),
        role: Role::Staff,
        routers,
    };
    c.store
        .create_staff(new, &Stamp::system(0))
        .expect("staff")
        .durable()
        .await
        .expect("durable");
}

/// Every admin page, and every admin form target.
const ADMIN_GETS: &[&str] = &[
    "/admin",
    "/admin/fleet",
    "/admin/routers/new",
    "/admin/routers/1",
    "/admin/sites",
    "/admin/packages",
    "/admin/packages/1",
    "/admin/staff",
    "/admin/staff/1",
    "/admin/vouchers",
    "/admin/reports",
    "/admin/reports.csv",
    "/admin/reports/2026-01-01",
    "/admin/reports/2026-01-01/csv",
];
const ADMIN_POSTS: &[&str] = &[
    "/admin/routers/new",
    "/admin/routers/1/test",
    "/admin/routers/1/sync",
    "/admin/routers/1/kick",
    "/admin/routers/1/remove",
    "/admin/sites",
    "/admin/sites/s1/enroll",
    "/admin/packages",
    "/admin/packages/1",
    "/admin/staff",
    "/admin/staff/1",
    "/admin/staff/1/access",
    "/admin/staff/1/password",
    "/admin/vouchers/ABCD2345/revoke",
    "/admin/reports/run",
];

#[tokio::test(flavor = "multi_thread")]
async fn staff_get_the_403_page_on_every_admin_url_and_visitors_the_sign_in() {
    let c = Controller::start().await;
    c.add_site("s1").await;
    add_staff(&c, "alice", vec![]).await;
    let mut alice = Browser::sign_in(addr(&c), "alice", STAFF_PW).await;
    for path in ADMIN_GETS {
        let r = alice.get(path).await;
        assert_eq!(r.status, 403, "GET {path}: {}", r.body);
        assert!(r.body.contains("for super admins"), "GET {path}");
    }
    for path in ADMIN_POSTS {
        let r = alice
            .post(path, &[("name", "x"), ("disabled", "true")])
            .await;
        assert_eq!(r.status, 403, "POST {path}: {}", r.body);
    }
    assert!(!c.store.staff_list().unwrap().iter().any(|s| s.disabled));
    let mut visitor = Browser::new(addr(&c));
    for path in ["/admin", "/admin/packages", "/admin/reports"] {
        let r = visitor.get(path).await;
        assert_eq!(r.status, 303, "GET {path}");
        assert!(r.location.unwrap().starts_with("/?next="), "{path}");
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_sends_the_security_headers_and_runs_no_inline_script() {
    let c = Controller::start().await;
    c.add_site("s1").await;
    let mut visitor = Browser::new(addr(&c));
    let login = visitor.get("/login").await;
    let mut admin = Browser::sign_in(addr(&c), "admin", ADMIN_PASSWORD).await;
    let mut pages = vec![("/login".to_string(), login)];
    for path in ADMIN_GETS.iter().chain(&["/api/sites", "/healthz"]) {
        pages.push((path.to_string(), admin.get(path).await));
    }
    for (path, page) in &pages {
        let header = |name: &str| {
            page.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let csp = header("content-security-policy");
        assert!(
            csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp:?}"
        );
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        assert_eq!(
            header("strict-transport-security"),
            "",
            "{path}: plain HTTP has no HSTS"
        );
        if page.content_type.starts_with("text/html") {
            assert_eq!(
                hotspot_ui::headers::inline_script(&page.body),
                None,
                "{path} runs inline script"
            );
        }
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let c = Controller::start().await;
    let mut admin = Browser::sign_in(addr(&c), "admin", ADMIN_PASSWORD).await;
    let fields = [
        ("name", "Sneaky"),
        ("price", "1"),
        ("currency", "USD"),
        ("time_limit", "1h"),
    ];
    let r = admin.send("POST", "/admin/packages", Some(&fields)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let mut wrong = vec![("csrf_token", "hfx_not-the-token")];
    wrong.extend_from_slice(&fields);
    let r = admin.send("POST", "/admin/packages", Some(&wrong)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(c.store.packages(true).unwrap().is_empty(), "nothing stored");
    // The same form with the token goes through.
    let r = admin.post("/admin/packages", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(c.store.packages(true).unwrap().len(), 1);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_package_form_takes_human_units_and_shows_a_bad_one_next_to_its_field() {
    let c = Controller::start().await;
    let mut admin = Browser::sign_in(addr(&c), "admin", ADMIN_PASSWORD).await;
    let r = admin
        .post(
            "/admin/packages",
            &[
                ("name", "Evening 1 GB"),
                ("price", "1.50"),
                ("currency", "USD"),
                ("time_limit", "1 h 30 min"),
                ("data_limit", "1 GB"),
                ("validity", "1 day"),
                ("rate_limit", "2M/5M"),
                ("shared_users", "2"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/admin/packages?done=created"));
    let stored = c.store.packages(false).unwrap();
    let p = &stored[0].package;
    assert_eq!(p.name, "Evening 1 GB");
    assert_eq!(
        p.price,
        Money::new(150, Currency::new("USD").unwrap()),
        "1.50 USD in cents"
    );
    assert_eq!(p.time_limit.map(|d| d.as_secs()), Some(5400));
    assert_eq!(p.data_limit, Some(1 << 30));
    assert_eq!(p.validity.map(|d| d.as_secs()), Some(86_400));
    assert_eq!(p.rate_limit.as_deref(), Some("2M/5M"));
    assert_eq!(p.shared_users, 2);
    let list = admin.get("/admin/packages?done=created").await;
    assert!(list.body.contains("1 h 30 min") && list.body.contains("1 GiB"));
    assert!(list.body.contains("1.50 USD"));

    let bad = admin
        .post(
            "/admin/packages",
            &[
                ("name", "Broken"),
                ("price", "2"),
                ("currency", "USD"),
                ("time_limit", "1 fortnight"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    let field = bad
        .body
        .split("id=\"time_limit\"")
        .nth(1)
        .expect("the time field");
    assert!(
        field
            .split("</div>")
            .next()
            .unwrap()
            .contains("field-error"),
        "the error is under the time field: {field}"
    );
    assert!(bad.body.contains("value=\"Broken\""), "typed values kept");
    let bad_price = admin
        .post(
            "/admin/packages",
            &[
                ("name", "Cheap"),
                ("price", "1.505"),
                ("currency", "USD"),
                ("time_limit", "1h"),
            ],
        )
        .await;
    assert_eq!(bad_price.status, 422);
    assert!(bad_price.body.contains("The price is a number like 1.55"));
    assert_eq!(c.store.packages(true).unwrap().len(), 1, "nothing more");

    // Editing shows the values back in units the parser reads, and saves them unchanged.
    let id = p.id.0;
    let edit = admin.get(&format!("/admin/packages/{id}")).await;
    assert!(edit.body.contains("value=\"1h 30m\""), "{}", edit.body);
    assert!(edit.body.contains("value=\"1G\""));
    let r = admin
        .post(
            &format!("/admin/packages/{id}"),
            &[
                ("name", "Evening 1 GB"),
                ("price", "1.75"),
                ("currency", "USD"),
                ("time_limit", "1h 30m"),
                ("data_limit", "1G"),
                ("validity", "1d"),
                ("rate_limit", "2M/5M"),
                ("shared_users", "2"),
                ("on_sale", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let p = c.store.package(PackageId(id)).unwrap().unwrap();
    assert_eq!(p.package.price.minor, 175);
    assert_eq!(p.package.data_limit, Some(1 << 30));
    assert!(!p.archived);
    c.stop().await;
}

fn tally(issued: u64, failed: u64, cents: i64) -> Tally {
    let usd = Currency::new("USD").unwrap();
    let mut by_package = BTreeMap::new();
    by_package.insert(
        "package-1".to_owned(),
        Revenue {
            label: "1 hour".into(),
            vouchers: issued - failed,
            amounts: vec![Money::new(cents, usd)],
        },
    );
    Tally {
        issued_central: issued,
        issued_site: 0,
        applied: issued - failed,
        used: 1,
        exhausted: 0,
        expired: 0,
        failed,
        revoked: 0,
        revenue: vec![Money::new(cents, usd)],
        by_package,
        by_staff: BTreeMap::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reports_csv_has_its_header_and_the_totals_of_the_days() {
    let c = Controller::start().await;
    for (date, issued, failed, cents) in [("2026-05-01", 10, 1, 900), ("2026-05-02", 5, 0, 550)] {
        let report = Report {
            date: date.into(),
            generated_at: 1_777_777_777,
            body: ReportBody {
                total: tally(issued, failed, cents),
                sites: BTreeMap::new(),
                drift: vec![],
            },
        };
        c.store
            .put_report(&report)
            .unwrap()
            .durable()
            .await
            .unwrap();
    }
    let mut admin = Browser::sign_in(addr(&c), "admin", ADMIN_PASSWORD).await;
    let csv = admin.get("/admin/reports.csv").await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "date,issued,applied,used,failed,revoked,drift,revenue_USD"
    );
    assert_eq!(lines[1], "2026-05-02,5,5,1,0,0,0,5.50");
    assert_eq!(lines[2], "2026-05-01,10,9,1,1,0,0,9.00");
    assert_eq!(lines[3], "total,15,14,2,1,0,0,14.50");
    assert_eq!(lines.len(), 4);

    let page = admin.get("/admin/reports").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<svg class=\"chart\""), "chart drawn");
    assert!(page.body.contains("14.50 USD"), "total revenue");
    let day = admin.get("/admin/reports/2026-05-01").await;
    assert!(day.body.contains("Revenue per package") && day.body.contains("1 hour"));
    let full = admin.get("/admin/reports/2026-05-01/csv").await;
    assert!(full.body.starts_with("date,scope,section"), "{}", full.body);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn adding_a_router_runs_the_connection_test_and_explains_a_refusal() {
    let c = Controller::start().await;
    c.add_site("s1").await;
    let agent = c.agent("s1").await;
    let mut admin = Browser::sign_in(addr(&c), "admin", ADMIN_PASSWORD).await;
    let form = |password: &'static str| {
        [
            ("name", "Cafe gateway"),
            ("site_id", "s1"),
            ("location", "behind the bar"),
            ("host", "192.168.88.1"),
            ("port", "8728"),
            ("username", "api"),
            ("password", password),
            ("tls_fingerprint", ""),
        ]
    };
    let wrong = admin.post("/admin/routers/new", &form(WRONG)).await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("The connection test failed."));
    assert!(
        wrong
            .body
            .contains("Wrong username or password for the router&#39;s API user."),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains("value=\"Cafe gateway\""),
        "typed values kept"
    );
    assert!(c.store.routers(None).unwrap().is_empty(), "nothing stored");

    let ok = admin.post("/admin/routers/new", &form(ROUTER_PW)).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let routers = c.store.routers(None).unwrap();
    assert_eq!(routers.len(), 1);
    let id = routers[0].id.0;
    assert_eq!(
        ok.location.as_deref(),
        Some(format!("/admin/routers/{id}?done=added").as_str())
    );
    // Handed over after the test (the site's on-connect hand-over may repeat it, never another).
    let handed = agent.passwords_set();
    assert!(
        !handed.is_empty() && handed.iter().all(|p| p == ROUTER_PW),
        "handed to the agent: {handed:?}"
    );

    let detail = admin.get(&format!("/admin/routers/{id}?done=added")).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("The connection test passed"));
    assert!(detail.body.contains("RB4011iGS+") && detail.body.contains("cafe-gw"));
    assert!(detail.body.contains("ABCD2345"), "active session listed");
    let overview = admin.get("/admin").await;
    let fragment = admin.get("/admin/fleet").await;
    for page in [&detail, &overview, &fragment] {
        assert!(!page.body.contains(ROUTER_PW), "no router password drawn");
        assert!(!page.body.contains("hf_session"), "no session token drawn");
    }
    assert!(fragment.body.contains("Cafe gateway") && fragment.body.contains("7 %"));
    assert!(
        !fragment.body.contains("<html"),
        "the fragment is a fragment"
    );

    let kick = admin
        .post(&format!("/admin/routers/{id}/kick"), &[("session", "*1A")])
        .await;
    assert_eq!(kick.status, 303, "{}", kick.body);
    let test = admin.post(&format!("/admin/routers/{id}/test"), &[]).await;
    assert!(
        test.body.contains("Connection test passed"),
        "{}",
        test.body
    );
    let sync = admin.post(&format!("/admin/routers/{id}/sync"), &[]).await;
    assert!(sync.body.contains("usage of 3 voucher(s)"), "{}", sync.body);
    let removed = admin
        .post(&format!("/admin/routers/{id}/remove"), &[])
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(removed.location.as_deref(), Some("/admin?done=removed"));
    assert!(
        c.store.routers(None).unwrap().is_empty(),
        "removed from the ledger"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_site_shows_its_enrollment_command_once() {
    let c = Controller::start().await;
    let mut admin = Browser::sign_in(addr(&c), "admin", ADMIN_PASSWORD).await;
    let r = admin
        .post(
            "/admin/sites",
            &[
                ("id", "cafe-main"),
                ("name", "Café Main"),
                ("valid_hours", "48"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("hotspot-agent enroll --controller"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("hfe1.cafe-main."),
        "the token is in the command"
    );
    assert!(c.store.site(&site("cafe-main")).unwrap().is_some());
    let again = admin.get("/admin/sites").await;
    assert!(!again.body.contains("hfe1."), "shown only once");
    let dup = admin
        .post("/admin/sites", &[("id", "cafe-main"), ("name", "Again")])
        .await;
    assert_eq!(dup.status, 422);
    assert!(dup.body.contains("form-error"));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_site_row_says_when_lost_link_state_was_found_and_healed() {
    let c = Controller::start().await;
    c.add_site("s1").await;
    let mut admin = Browser::sign_in(addr(&c), "admin", ADMIN_PASSWORD).await;
    assert!(!admin.get("/admin/sites").await.body.contains("data-heal"));
    let stamp = Stamp::system(c.state.now());
    let lost = stamp.audit("fleet.heal.lost", "s1", "the site enrolled again");
    c.store
        .append_audit(&lost)
        .unwrap()
        .durable()
        .await
        .unwrap();
    let body = admin.get("/admin/sites").await.body;
    assert!(body.contains("lost link state found; healing"), "{body}");
    let done = stamp.audit(
        "fleet.heal.done",
        "s1",
        "3 vouchers recovered from the site",
    );
    c.store
        .append_audit(&done)
        .unwrap()
        .durable()
        .await
        .unwrap();
    for page in ["/admin/sites", "/admin/fleet"] {
        let body = admin.get(page).await.body;
        assert!(
            body.contains("healed after lost link state") && body.contains("3 vouchers recovered"),
            "{page}: {body}"
        );
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_staff_account_with_a_generated_password_can_sign_in_and_be_disabled() {
    let c = Controller::start().await;
    c.add_site("s1").await;
    let mut admin = Browser::sign_in(addr(&c), "admin", ADMIN_PASSWORD).await;
    let r = admin
        .post(
            "/admin/staff",
            &[("username", "carol"), ("role", "staff"), ("password", "")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let shown = r
        .body
        .split("id=\"new-password\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the generated password is shown")
        .to_owned();
    let carol = c
        .store
        .staff_list()
        .unwrap()
        .into_iter()
        .find(|s| s.username == "carol")
        .expect("stored");
    assert!(!r.body.contains(&carol.password_hash), "no hash drawn");
    let _ = Browser::sign_in(addr(&c), "carol", &shown).await;
    let list = admin.get("/admin/staff").await;
    assert!(
        !list.body.contains(&shown),
        "the password is shown only once"
    );

    let off = admin
        .post(
            &format!("/admin/staff/{}/access", carol.id.0),
            &[("disabled", "true")],
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.body);
    let mut b = Browser::new(addr(&c));
    let refused = b
        .send(
            "POST",
            "/login",
            Some(&[("username", "carol"), ("password", shown.as_str())]),
        )
        .await;
    assert_ne!(refused.status, 303, "a disabled account cannot sign in");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offline_site_shows_its_last_known_state_marked_stale_with_its_age() {
    let c = Controller::start().await;
    c.add_site("s1").await;
    let agent = c.agent("s1").await;
    let mut admin = Browser::sign_in(addr(&c), "admin", ADMIN_PASSWORD).await;
    let r = admin
        .post(
            "/admin/routers/new",
            &[
                ("name", "Cafe gateway"),
                ("site_id", "s1"),
                ("host", "192.168.88.1"),
                ("port", "8728"),
                ("username", "api"),
                ("password", ROUTER_PW),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let id = c.store.routers(None).unwrap()[0].id.0;
    // The router's page reads its stats live: they are recorded as the last known state.
    let live = admin.get(&format!("/admin/routers/{id}")).await;
    assert!(!live.body.contains("stats-note"), "read now: {}", live.body);
    assert!(live.body.contains("7 %"));

    agent.link.shutdown().await.unwrap();
    c.wait_online("s1", false).await;
    c.clock.advance(600);
    let fleet = admin.get("/admin/fleet").await;
    assert!(
        fleet.body.contains("site-state\">offline"),
        "{}",
        fleet.body
    );
    assert!(
        fleet.body.contains("stale · 10 min ago"),
        "stale with its age: {}",
        fleet.body
    );
    assert!(
        fleet.body.contains("7 %"),
        "the last known CPU is still shown"
    );
    let detail = admin.get(&format!("/admin/routers/{id}")).await;
    assert_eq!(detail.status, 200);
    assert!(
        // The test clock is the wall clock moved on, so a second may tick by as well.
        detail.body.contains("Last known reading, 10 min old")
            || detail.body.contains("Last known reading, 10 min 1 s old"),
        "{}",
        detail.body
    );
    assert!(detail.body.contains("Sessions can only be read live."));
    let sync = admin.post(&format!("/admin/routers/{id}/sync"), &[]).await;
    assert!(sync.body.contains("the sync is queued"), "{}", sync.body);
    c.stop().await;
}
