//! Two-factor sign-in on the dashboard over plain HTTP, as a browser uses it: a super admin
//! without a second factor (required by config) is sent to `/account` from every page, sets
//! it up with the secret the page shows and a code, gets recovery codes once; signing in then
//! takes a second step whose ticket survives a wrong code, and a made-up ticket gets the
//! sign-in page again.

mod common;
mod fleet_support;
mod web_support;

use fleet_support::*;
use hotspot_controller::auth::two_factor::TotpSecret;
use web_support::Browser;

/// The text of the element with `id` whose content is plain text (`<… id="x">text</…>`).
fn text_of(body: &str, id: &str) -> String {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} not in the page:\n{body}"));
    let rest = &body[start..];
    let open = rest.find('>').expect("tag end") + 1;
    let close = rest[open..].find('<').expect("element end");
    rest[open..open + close].trim().to_owned()
}

/// The value of the hidden input `name`.
fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field:\n{body}"))
        + marker.len();
    let end = body[start..].find('"').expect("value end");
    body[start..start + end].to_owned()
}

#[tokio::test]
async fn an_admin_is_sent_to_set_it_up_then_signs_in_in_two_steps() {
    let c = Controller::start_with(|cfg| cfg.auth.require_2fa_for_admins = true).await;
    let addr = c.http.addr;
    let mut admin = Browser::sign_in(addr, "admin", ADMIN_PASSWORD).await;
    for page in ["/admin", "/admin/staff", "/staff"] {
        let r = admin.get(page).await;
        assert_eq!(
            (r.status, r.location.as_deref()),
            (303, Some("/account")),
            "{page}"
        );
    }
    let account = admin.get("/account").await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("id=\"must-enrol\""));

    let wrong = admin
        .post(
            "/account/two-factor/setup",
            &[("password", "not-the-password")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong.body.contains("Wrong password or code."),
        "{}",
        wrong.body
    );
    let setup = admin
        .post("/account/two-factor/setup", &[("password", ADMIN_PASSWORD)])
        .await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    assert!(
        setup.body.contains("<svg class=\"qr\""),
        "a QR code is drawn"
    );
    let secret = TotpSecret::from_base32(&text_of(&setup.body, "setup-secret")).expect("secret");
    let code = secret.code_at(c.state.now()).expect("code");
    let done = admin
        .post("/account/two-factor/confirm", &[("code", &code)])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("id=\"recovery-codes\""));
    assert_eq!(done.body.matches("<li><code>").count(), 10);
    assert_eq!(
        admin.get("/admin").await.status,
        200,
        "enrolled: the pages open"
    );
    let again = admin.get("/account").await;
    assert!(
        !again.body.contains("id=\"recovery-codes\""),
        "codes are shown once"
    );
    assert!(again.body.contains("10 recovery codes left"));

    // A new sign-in: the password step answers the code step, not a session.
    let mut fresh = Browser::new(addr);
    let step = fresh
        .send(
            "POST",
            "/login",
            Some(&[("username", "admin"), ("password", ADMIN_PASSWORD)]),
        )
        .await;
    assert_eq!(step.status, 200, "{}", step.body);
    assert!(step.body.contains("id=\"code-form\""));
    assert!(
        !fresh.cookies.contains_key("hf_session"),
        "{:?}",
        fresh.cookies
    );
    let ticket = hidden(&step.body, "ticket");
    assert!(ticket.starts_with("hft_"));
    assert!(!step.body.contains(ADMIN_PASSWORD));

    let wrong = fresh
        .send(
            "POST",
            "/login/code",
            Some(&[("ticket", &ticket), ("code", "12345x")]),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong or already used code."));
    assert_eq!(
        hidden(&wrong.body, "ticket"),
        ticket,
        "the ticket stays good"
    );

    let made_up = fresh
        .send(
            "POST",
            "/login/code",
            Some(&[("ticket", "hft_00"), ("code", "123456")]),
        )
        .await;
    assert_eq!(made_up.status, 401);
    assert!(made_up.body.contains("sign in again"), "{}", made_up.body);

    let next = secret.code_at(c.state.now() + 30).expect("code");
    let signed = fresh
        .send(
            "POST",
            "/login/code",
            Some(&[("ticket", &ticket), ("code", &next)]),
        )
        .await;
    assert_eq!(
        (signed.status, signed.location.as_deref()),
        (303, Some("/admin")),
        "{}",
        signed.body
    );
    assert_eq!(fresh.get("/admin").await.status, 200);
    let replay = fresh
        .send(
            "POST",
            "/login/code",
            Some(&[("ticket", &ticket), ("code", &next)]),
        )
        .await;
    assert_eq!(replay.status, 401, "a ticket signs in once");
}
