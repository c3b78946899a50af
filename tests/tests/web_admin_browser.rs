//! The super admin's pages in a real browser (headless Chromium over WebDriver, the harness of
//! `web_browser.rs` in `browser_support`), against a real running fleet: the demo's controller,
//! agent and simulated router, plus a second simulated router that the admin adds by hand.
//!
//! One scenario, in order: the admin signs in and sees the site online with its router; adds
//! the second router with a wrong password (the page says so in words, nothing is added), then
//! with the right one (the agent's connection test passes, the router's page opens); creates a
//! package with human units and a staff account with a generated password for the new router;
//! the new staff member signs in with it and has no admin navigation; the admin makes a
//! read-only API key (shown once), a script reads with it and is refused a write, and the
//! admin revokes it. The staff member also sets up two-factor sign-in (QR code and key, a
//! code from the "app", recovery codes shown once) and signs in again in two steps;
//! `/metrics` opened in the browser shows figures to the admin only. Screenshots of each page go to `target/screenshots/admin-*.png`.

mod browser_support;
mod e2e_support;

use browser_support::{Chromedriver, Ctx, WAIT, browser, screenshot};
use e2e_support::demo;
use fantoccini::Locator;
use hotspot_controller::auth::two_factor::TotpSecret;
use hotspot_tests::sim::{self, SimConfig};

const SIM_PASSWORD: &str = "Back-office-router-pw";

/// Types `text` into the field `id` (cleared first).
async fn fill(ctx: &Ctx, id: &str, text: &str) {
    let field = ctx
        .c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn click(ctx: &Ctx, css: &str) {
    ctx.c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .expect("click");
}

/// Waits until the element `css` holds `needle` (pages answer after a round trip to the agent).
async fn wait_text(ctx: &Ctx, css: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Ok(e) = ctx.c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
            && t.contains(needle)
        {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} never said {needle:?}; page at {}",
            ctx.path().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The text of the row of table `#table` that mentions `needle`.
async fn row_text(ctx: &Ctx, table: &str, needle: &str) -> String {
    let xpath = format!("//table[@id='{table}']//tr[contains(., '{needle}')]");
    ctx.c
        .find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("{needle} in #{table}: {e}"))
        .text()
        .await
        .expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_in_a_real_browser() {
    let driver = Chromedriver::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = demo(1, dir.path()).await;
    let back_office = sim::start(SimConfig {
        password: SIM_PASSWORD.into(),
        identity: "back-office".into(),
        ..SimConfig::local()
    })
    .await
    .expect("second simulated router");
    let profile = dir.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let c = browser(&driver, &profile).await;
    let ctx = Ctx {
        c,
        base: format!("http://{}", demo.http),
        demo,
    };

    ctx.c.goto(&ctx.url("/admin")).await.expect("goto");
    let admin_password = ctx.demo.admin_password.clone();
    ctx.sign_in("admin", &admin_password).await;
    assert_eq!(ctx.path().await, "/admin");
    let site_id = ctx.demo.sites[0].id.clone();
    let site = wait_text(&ctx, &format!("#site-{site_id}"), "online").await;
    assert!(site.contains("RB5009UG+S+"), "the router's model: {site}");
    screenshot(&ctx.c, "admin-overview").await;
    // The table refreshes itself: emptied here, it comes back from the server.
    ctx.c
        .execute("document.getElementById('fleet').innerHTML = '';", vec![])
        .await
        .expect("empty the table");
    wait_text(&ctx, &format!("#site-{site_id}"), "online").await;

    let router_id = add_router(&ctx, &back_office.api_addr()).await;
    create_package(&ctx).await;
    let password = create_staff(&ctx, router_id).await;

    ctx.sign_out().await;
    ctx.sign_in("dana", &password).await;
    assert_eq!(
        ctx.path().await,
        "/staff",
        "staff start on the selling page"
    );
    let nav = ctx.text("nav.nav").await;
    assert!(
        !nav.contains("Overview") && !nav.contains("Packages"),
        "{nav}"
    );
    ctx.c.goto(&ctx.url("/admin/staff")).await.expect("goto");
    ctx.wait_for(".error-page").await;
    assert_eq!(ctx.text(".error-page .status").await, "403");
    metrics_page(&ctx, "forbidden").await;
    two_factor(&ctx, "dana", &password).await;
    ctx.sign_out().await;

    ctx.c.set_window_size(390, 844).await.expect("resize");
    ctx.sign_in("admin", &admin_password).await;
    ctx.wait_for("#fleet").await;
    api_key(&ctx).await;
    metrics_page(&ctx, "hotspot_sites_online").await;
    ctx.c.goto(&ctx.url("/admin")).await.expect("goto");
    ctx.wait_for("#fleet").await;
    screenshot(&ctx.c, "admin-phone-overview").await;
    ctx.c.set_window_size(1280, 900).await.expect("resize");
    ctx.sign_out().await;
    metrics_page(&ctx, "unauthorized").await;

    let Ctx { c, demo, .. } = ctx;
    c.close().await.expect("close the browser");
    back_office.shutdown().await;
    demo.shutdown().await.expect("demo stops");
    drop(driver);
}

/// `/metrics` opened in the browser: the Prometheus text for a super admin's session, the
/// JSON error for anyone else; `expect` is in the page either way, sales figures only in the
/// first.
async fn metrics_page(ctx: &Ctx, expect: &str) {
    let back = ctx.c.current_url().await.expect("url");
    ctx.c.goto(&ctx.url("/metrics")).await.expect("goto");
    let text = ctx.text("body").await;
    assert!(text.contains(expect), "/metrics: {text}");
    let figures = text.contains("hotspot_vouchers") || text.contains("hotspot_sites_online");
    assert_eq!(
        figures,
        expect == "hotspot_sites_online",
        "/metrics: {text}"
    );
    ctx.c.goto(back.as_str()).await.expect("back");
}

/// `user` (signed in, with `password`) sets up two-factor sign-in from the Account page with
/// the key the page shows, sees the recovery codes, signs out, and signs in again in two
/// steps: the password, then the app's code.
async fn two_factor(ctx: &Ctx, user: &str, password: &str) {
    click(ctx, "nav.nav a[href='/account']").await;
    ctx.wait_for("#setup-form").await;
    fill(ctx, "setup-password", password).await;
    click(ctx, "#start-setup").await;
    ctx.wait_for("#setup-qr svg").await;
    screenshot(&ctx.c, "account-two-factor-setup").await;
    let key = ctx.text("#setup-secret").await;
    let secret = TotpSecret::from_base32(key.trim()).expect("the page shows a base32 key");
    let now = || time::OffsetDateTime::now_utc().unix_timestamp();
    fill(ctx, "confirm-code", &secret.code_at(now()).expect("code")).await;
    click(ctx, "#confirm-setup").await;
    ctx.wait_for("#recovery-codes").await;
    let codes = ctx.text("#recovery-codes").await;
    assert_eq!(codes.lines().count(), 10, "{codes}");
    screenshot(&ctx.c, "account-recovery-codes").await;
    click(ctx, "#codes-done").await;
    wait_text(ctx, "#two-factor-state", "10 recovery codes left").await;

    ctx.sign_out().await;
    ctx.submit_sign_in(user, password).await;
    ctx.wait_for("#code-form").await;
    screenshot(&ctx.c, "sign-in-code-step").await;
    // The next step's code: the step that confirmed the set-up is spent.
    fill(ctx, "code", &secret.code_at(now() + 30).expect("code")).await;
    click(ctx, "#verify").await;
    ctx.wait_for("#logout").await;
    assert_eq!(ctx.path().await, "/staff");
}

/// Adds the back-office router: a wrong password first, then the right one. Its id.
async fn add_router(ctx: &Ctx, addr: &std::net::SocketAddr) -> u64 {
    click(ctx, "#add-router").await;
    ctx.wait_for("#router-form").await;
    fill(ctx, "name", "Back office").await;
    fill(ctx, "location", "upstairs").await;
    fill(ctx, "host", &addr.ip().to_string()).await;
    fill(ctx, "port", &addr.port().to_string()).await;
    fill(ctx, "username", "admin").await;
    fill(ctx, "password", "not-the-password").await;
    click(ctx, "#add-router-submit").await;
    let said = wait_text(ctx, "#form-error", "connection test failed").await;
    assert!(
        said.contains("Wrong username or password"),
        "words for people: {said}"
    );
    assert_eq!(ctx.path().await, "/admin/routers/new", "still on the form");
    let kept = ctx
        .c
        .find(Locator::Id("name"))
        .await
        .expect("name")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("Back office"), "typed values kept");
    screenshot(&ctx.c, "admin-router-wrong-password").await;

    fill(ctx, "password", SIM_PASSWORD).await;
    click(ctx, "#add-router-submit").await;
    wait_text(ctx, ".flash", "The connection test passed").await;
    let path = ctx.path().await;
    let id: u64 = path
        .strip_prefix("/admin/routers/")
        .and_then(|p| p.split('?').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("on the router's page: {path}"));
    let page = ctx.text("main").await;
    assert!(page.contains("back-office"), "identity read: {page}");
    assert!(!page.contains(SIM_PASSWORD), "no password on the page");
    screenshot(&ctx.c, "admin-router-added").await;
    id
}

async fn create_package(ctx: &Ctx) {
    ctx.c.goto(&ctx.url("/admin/packages")).await.expect("goto");
    ctx.wait_for("#package-form").await;
    fill(ctx, "name", "Evening").await;
    fill(ctx, "price", "1.50").await;
    fill(ctx, "currency", "USD").await;
    fill(ctx, "time_limit", "1 h 30 min").await;
    fill(ctx, "data_limit", "1 GB").await;
    fill(ctx, "rate_limit", "2M/5M").await;
    click(ctx, "#create-package").await;
    wait_text(ctx, ".flash", "The package was created").await;
    let row = row_text(ctx, "packages", "Evening").await;
    for shown in ["1.50 USD", "1 h 30 min", "1 GiB", "2M/5M"] {
        assert!(row.contains(shown), "{shown} in {row}");
    }
    screenshot(&ctx.c, "admin-packages").await;
}

/// Creates `dana` on `router` with a generated password; returns it.
async fn create_staff(ctx: &Ctx, router: u64) -> String {
    ctx.c.goto(&ctx.url("/admin/staff")).await.expect("goto");
    ctx.wait_for("#staff-form").await;
    fill(ctx, "username", "dana").await;
    click(ctx, &format!("input[name=router_{router}]")).await;
    click(ctx, "#create-staff").await;
    ctx.wait_for("#new-password").await;
    let password = ctx.text("#new-password").await;
    assert!(password.len() >= 10, "a generated password: {password}");
    let row = row_text(ctx, "staff", "dana").await;
    assert!(
        row.contains("Back office"),
        "dana sells on the new router: {row}"
    );
    screenshot(&ctx.c, "admin-staff-created").await;
    password
}

/// Makes a read-only API key on its page, uses it as a script would, and revokes it there.
async fn api_key(ctx: &Ctx) {
    ctx.c.set_window_size(1280, 900).await.expect("resize");
    ctx.c.goto(&ctx.url("/admin/api-keys")).await.expect("goto");
    fill(ctx, "key-name", "wall screen").await;
    click(ctx, "#scope-read").await;
    fill(ctx, "valid_days", "30").await;
    click(ctx, "#create-key").await;
    let key = wait_text(ctx, "#new-key", "hfk_").await;
    screenshot(&ctx.c, "admin-api-key").await;
    let script = hotspot_tests::demo::http::Api::new(ctx.demo.http).with_token(key.trim());
    let (status, _) = script
        .call("GET", "/api/tokens/all", None)
        .await
        .expect("read");
    assert_eq!(status, 200, "the key reads");
    let body = serde_json::json!({"id": "x1", "name": "X"});
    let (status, _) = script
        .call("POST", "/api/sites", Some(&body))
        .await
        .expect("write");
    assert_eq!(status, 403, "a read-only key writes nothing");

    ctx.c.goto(&ctx.url("/admin/api-keys")).await.expect("goto");
    let row = row_text(ctx, "api-keys", "wall screen").await;
    assert!(
        row.contains("read-only") && !row.contains("never"),
        "used, listed: {row}"
    );
    assert!(
        !ctx.text("main").await.contains(key.trim()),
        "the key is shown once only"
    );
    click(ctx, "#api-keys button[id^='revoke-']").await;
    wait_text(ctx, "#api-keys", "revoked").await;
    let (status, _) = script
        .call("GET", "/api/tokens/all", None)
        .await
        .expect("read");
    assert_eq!(status, 401, "a revoked key is refused at once");
}
