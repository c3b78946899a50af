//! The dashboard in a real browser: headless Chromium (Debian's `chromium` + `chromium-driver`)
//! driven over WebDriver, against a real running fleet (controller + agent + simulated router
//! over QUIC, the demo's own start-up).
//!
//! One fleet and one browser serve all scenarios (starting either costs seconds); each
//! scenario is its own function, run in order by the test below. Screenshots of the main pages
//! are written to `target/screenshots/` (not committed) for people to look at.
//!
//! Admin pages (routers, packages, staff, …) get their scenarios in [`admin_scenarios`]; until
//! then the test sets its data up through the JSON API, as the demo does.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium` (or `HOTSPOT_CHROMEDRIVER` /
//! `HOTSPOT_CHROMIUM`): without them the test fails and says how to install them.

mod e2e_support;

mod browser_support;

use browser_support::{Chromedriver, Ctx, browser, screenshot, screenshot_dir};
use e2e_support::demo;
use fantoccini::Locator;
use fantoccini::wd::PrintConfiguration;
use hotspot_tests::demo::http::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_real_browser() {
    let driver = Chromedriver::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = demo(1, dir.path()).await;
    let profile = dir.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let c = browser(&driver, &profile).await;
    let ctx = Ctx {
        c,
        base: format!("http://{}", demo.http),
        demo,
    };

    no_session_redirects_to_sign_in(&ctx).await;
    wrong_password_is_said_in_the_page(&ctx).await;
    admin_scenarios(&ctx).await;
    let staff_password = ctx.demo.staff_password.clone();
    ctx.sign_in("staff", &staff_password).await;
    staff_generates_a_batch_of_20_and_prints_it(&ctx).await;
    staff_sees_my_vouchers(&ctx).await;
    staff_cannot_open_admin_pages(&ctx).await;
    post_without_csrf_token_is_refused(&ctx).await;
    phone_sized_pages(&ctx).await;
    ctx.sign_out().await;

    let Ctx { c, demo, .. } = ctx;
    c.close().await.expect("close the browser");
    demo.shutdown().await.expect("demo stops");
    drop(driver);
}

/// A page asked for without a session goes to the sign-in page, and back after signing in.
async fn no_session_redirects_to_sign_in(ctx: &Ctx) {
    ctx.c.goto(&ctx.url("/staff/vouchers")).await.expect("goto");
    ctx.wait_for("#login-form").await;
    assert_eq!(ctx.path().await, "/?next=/staff/vouchers");
    screenshot(&ctx.c, "login").await;
    ctx.c.goto(&ctx.url("/admin")).await.expect("goto");
    ctx.wait_for("#login-form").await;
    assert_eq!(ctx.path().await, "/?next=/admin");
}

async fn wrong_password_is_said_in_the_page(ctx: &Ctx) {
    ctx.c.goto(&ctx.url("/")).await.expect("goto");
    ctx.submit_sign_in("staff", "not-the-password").await;
    ctx.wait_for(".flash-error").await;
    assert_eq!(
        ctx.text(".flash-error").await,
        "Wrong username or password."
    );
    // The username stays filled in; the password does not.
    let user = ctx.c.find(Locator::Id("username")).await.expect("field");
    assert_eq!(
        user.prop("value").await.expect("value").as_deref(),
        Some("staff")
    );
    screenshot(&ctx.c, "login-wrong-password").await;
}

/// The super admin's pages. The admin sections (add router with its connection test, packages,
/// staff accounts, …) extend this scenario as they are built; the staff scenarios below use
/// the demo's router, packages and staff account, made through the JSON API.
async fn admin_scenarios(ctx: &Ctx) {
    ctx.c.goto(&ctx.url("/")).await.expect("goto");
    let admin_password = ctx.demo.admin_password.clone();
    ctx.sign_in("admin", &admin_password).await;
    assert_eq!(ctx.path().await, "/admin");
    let admin_links = ctx
        .c
        .find_all(Locator::Css("nav.nav a[href^='/admin']"))
        .await
        .expect("nav links");
    assert!(!admin_links.is_empty(), "admin sections in the navigation");
    let nav = ctx.text("nav.nav").await;
    assert!(nav.contains("Sell"), "admins may sell too: {nav}");
    screenshot(&ctx.c, "admin-home").await;
    ctx.sign_out().await;
}

async fn staff_generates_a_batch_of_20_and_prints_it(ctx: &Ctx) {
    assert_eq!(
        ctx.path().await,
        "/staff",
        "staff start on the selling page"
    );
    let admin_links = ctx
        .c
        .find_all(Locator::Css("nav.nav a[href^='/admin']"))
        .await
        .expect("nav links");
    assert!(admin_links.is_empty(), "no admin links for staff");
    let router = ctx.demo.sites[0].router_id.to_string();
    let package = ctx.demo.packages[0].0.to_string();
    ctx.c
        .find(Locator::Id("router_id"))
        .await
        .expect("router select")
        .select_by_value(&router)
        .await
        .expect("choose router");
    ctx.c
        .find(Locator::Id("package_id"))
        .await
        .expect("package select")
        .select_by_value(&package)
        .await
        .expect("choose package");
    let count = ctx.c.find(Locator::Id("count")).await.expect("count");
    count.clear().await.expect("clear");
    count.send_keys("20").await.expect("type");
    screenshot(&ctx.c, "staff-sell").await;
    ctx.c
        .find(Locator::Id("generate"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");

    // The batch page polls until every voucher is on the router.
    ctx.wait_for("#batch").await;
    assert!(ctx.path().await.starts_with("/staff/batch?"));
    ctx.wait_for("#batch[data-done='true']").await;
    let badges = ctx
        .c
        .find_all(Locator::Css("[data-state-of]"))
        .await
        .expect("badges");
    assert_eq!(badges.len(), 20, "one row per voucher");
    for b in &badges {
        assert_eq!(b.text().await.expect("badge"), "active");
    }
    assert_eq!(ctx.text("#n-active").await, "20");
    let codes: Vec<String> = {
        let mut codes = Vec::new();
        for b in &badges {
            codes.push(b.attr("data-state-of").await.expect("attr").expect("code"));
        }
        codes
    };
    // The router really has them.
    let sim = &ctx.demo.sites[0].sim;
    for code in &codes {
        assert!(sim.user(code).is_some(), "{code} on the simulated router");
    }
    screenshot(&ctx.c, "staff-batch").await;

    // The print sheet: 20 cards, each with its QR code.
    let href = ctx
        .c
        .find(Locator::Id("print"))
        .await
        .expect("print link")
        .attr("href")
        .await
        .expect("href")
        .expect("a link");
    ctx.c.goto(&ctx.url(&href)).await.expect("goto sheet");
    ctx.wait_for("section.sheet").await;
    let cards = ctx
        .c
        .find_all(Locator::Css("article.card"))
        .await
        .expect("cards");
    assert_eq!(cards.len(), 20, "20 cards");
    let qrs = ctx
        .c
        .find_all(Locator::Css("article.card svg.qr"))
        .await
        .expect("qr codes");
    assert_eq!(qrs.len(), 20, "a QR code on every card");
    let sheet = ctx.text("section.sheet").await;
    for code in &codes {
        assert!(sheet.contains(code.as_str()), "{code} printed");
    }
    screenshot(&ctx.c, "print-sheet").await;
    // Printed on A4 with the WebDriver's default 1 cm margins: 20 cards fit one page (24 do),
    // and the screen-only toolbar adds no page.
    let pdf = ctx
        .c
        .print(
            PrintConfiguration::builder()
                .background(true)
                .build()
                .expect("print settings"),
        )
        .await
        .expect("print to PDF");
    std::fs::write(screenshot_dir().join("print-sheet.pdf"), &pdf).expect("write pdf");
    assert_eq!(pdf_pages(&pdf), 1, "20 cards print on one A4 page");
    ctx.c.back().await.expect("back");
}

/// Pages in a PDF: its `/Type /Page` objects (not the `/Type /Pages` tree nodes).
fn pdf_pages(pdf: &[u8]) -> usize {
    let needle = b"/Type /Page";
    pdf.windows(needle.len() + 1)
        .filter(|w| &w[..needle.len()] == needle && w[needle.len()] != b's')
        .count()
}

async fn staff_sees_my_vouchers(ctx: &Ctx) {
    ctx.c.goto(&ctx.url("/staff/vouchers")).await.expect("goto");
    ctx.wait_for("#vouchers").await;
    let rows = ctx
        .c
        .find_all(Locator::Css("#vouchers tbody tr"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 20, "the batch, and nothing of anyone else's");
    screenshot(&ctx.c, "staff-vouchers").await;
}

/// Access control is on the server: staff typing an admin URL get the 403 page.
async fn staff_cannot_open_admin_pages(ctx: &Ctx) {
    for path in ["/admin", "/admin/print?code=X"] {
        ctx.c.goto(&ctx.url(path)).await.expect("goto");
        ctx.wait_for(".error-page").await;
        assert_eq!(ctx.text(".error-page .status").await, "403", "{path}");
        assert_eq!(ctx.text(".error-page h1").await, "Not allowed", "{path}");
    }
    screenshot(&ctx.c, "staff-forbidden").await;
}

/// A form sent without its CSRF token is refused and changes nothing.
async fn post_without_csrf_token_is_refused(ctx: &Ctx) {
    let staff = Api::new(ctx.demo.http)
        .login("staff", &ctx.demo.staff_password)
        .await
        .expect("staff API login");
    let before = my_voucher_count(&staff).await;
    ctx.c.goto(&ctx.url("/staff")).await.expect("goto");
    ctx.wait_for("#generate-form").await;
    let router = ctx.demo.sites[0].router_id.to_string();
    let package = ctx.demo.packages[0].0.to_string();
    ctx.c
        .find(Locator::Id("router_id"))
        .await
        .expect("router")
        .select_by_value(&router)
        .await
        .expect("choose");
    ctx.c
        .find(Locator::Id("package_id"))
        .await
        .expect("package")
        .select_by_value(&package)
        .await
        .expect("choose");
    ctx.c
        .execute(
            "document.querySelector('#generate-form input[name=csrf_token]').remove();",
            vec![],
        )
        .await
        .expect("remove the token");
    ctx.c
        .find(Locator::Id("generate"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    ctx.wait_for(".error-page").await;
    assert_eq!(ctx.text(".error-page .status").await, "403");
    assert_eq!(ctx.text(".error-page h1").await, "Form expired");
    assert_eq!(my_voucher_count(&staff).await, before, "nothing was issued");
}

async fn my_voucher_count(api: &Api) -> usize {
    let page = api
        .expect_ok("GET", "/api/tokens/my-tokens?limit=500", None)
        .await
        .expect("my vouchers");
    page["items"].as_array().map_or(0, Vec::len)
}

/// Staff often sell from a phone: the main pages at a phone's width.
async fn phone_sized_pages(ctx: &Ctx) {
    ctx.c.set_window_size(390, 844).await.expect("resize");
    ctx.c.goto(&ctx.url("/staff")).await.expect("goto");
    ctx.wait_for("#generate-form").await;
    let form_width = ctx
        .c
        .find(Locator::Id("generate-form"))
        .await
        .expect("form")
        .rectangle()
        .await
        .expect("rect")
        .2;
    assert!(form_width <= 390.0, "the form fits the phone: {form_width}");
    screenshot(&ctx.c, "phone-staff-sell").await;
    ctx.c.goto(&ctx.url("/staff/vouchers")).await.expect("goto");
    ctx.wait_for("#vouchers").await;
    screenshot(&ctx.c, "phone-staff-vouchers").await;
    ctx.c.set_window_size(1280, 900).await.expect("resize");
}
