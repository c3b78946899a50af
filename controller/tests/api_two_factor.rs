//! Two-factor sign-in over real HTTP: set-up and confirmation, sign-in with TOTP codes and
//! recovery codes (each accepted once), throttling of wrong codes, super admins held to
//! enrolment when `auth.require_2fa_for_admins` is on, turning it off, an admin's reset, and
//! the secret never stored in plain text.

mod common;
mod support;

use hotspot_controller::auth::two_factor::TotpSecret;
use serde_json::{Value, json};
use support::*;

fn login_body(user: &str, code: Option<&str>) -> Value {
    let mut body = json!({"username": user, "password": password(user)});
    if let Some(c) = code {
        body["code"] = json!(c);
    }
    body
}

async fn login_reply(app: &TestApp, user: &str, code: Option<&str>) -> Reply {
    app.api
        .send(
            "POST",
            "/api/auth/login",
            &[],
            Some(&login_body(user, code)),
        )
        .await
}

/// Sets up two-factor sign-in for `user` (signed in as `token`); returns the secret, the
/// recovery codes and the code that confirmed the set-up.
async fn enrol_with(app: &TestApp, user: &str, token: &str) -> (TotpSecret, Vec<String>, String) {
    let r = app
        .api
        .post(
            "/api/auth/two-factor/setup",
            token,
            &json!({"password": password(user)}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let body = r.json();
    let uri = body["otpauth_uri"].as_str().expect("uri");
    let secret_text = body["secret"].as_str().expect("secret");
    assert!(uri.starts_with("otpauth://totp/hotspot-fleet:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret_text}")), "{uri}");
    let secret = TotpSecret::from_base32(secret_text).expect("base32 secret");
    let code = secret.code_at(app.now()).expect("code");
    let r = app
        .api
        .post(
            "/api/auth/two-factor/confirm",
            token,
            &json!({"code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let codes: Vec<String> = r.json()["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("text").to_owned())
        .collect();
    (secret, codes, code)
}

async fn enrol(app: &TestApp, user: &str, token: &str) -> (TotpSecret, Vec<String>) {
    let (secret, codes, _) = enrol_with(app, user, token).await;
    (secret, codes)
}

/// The code of the next step (valid now: one step of skew is allowed).
fn next_code(app: &TestApp, secret: &TotpSecret) -> String {
    secret.code_at(app.now() + 30).expect("code")
}

#[tokio::test]
async fn set_up_then_sign_in_with_a_code_each_accepted_once() {
    let app = TestApp::start().await;
    let alice = app.login("alice").await;

    let off = app.api.get("/api/auth/two-factor", &alice).await.json();
    assert_eq!(
        off,
        json!({"enabled": false, "pending": false, "recovery_codes_left": 0, "required": false})
    );
    let wrong = app
        .api
        .post(
            "/api/auth/two-factor/setup",
            &alice,
            &json!({"password": "not-her-password"}),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (401, "invalid_credentials".into())
    );
    let early = app
        .api
        .post(
            "/api/auth/two-factor/confirm",
            &alice,
            &json!({"code": "123456"}),
        )
        .await;
    assert_eq!(early.status, 409, "nothing to confirm yet");

    // A started set-up changes nothing at sign-in, and a wrong code does not confirm it.
    let r = app
        .api
        .post(
            "/api/auth/two-factor/setup",
            &alice,
            &json!({"password": password("alice")}),
        )
        .await;
    assert_eq!(r.status, 200);
    let pending = app.api.get("/api/auth/two-factor", &alice).await.json();
    assert_eq!(
        (pending["pending"].clone(), pending["enabled"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(login_reply(&app, "alice", None).await.status, 200);
    let secret = TotpSecret::from_base32(r.json()["secret"].as_str().unwrap()).unwrap();
    let current = secret.code_at(app.now()).unwrap();
    let bad = if current == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = app
        .api
        .post(
            "/api/auth/two-factor/confirm",
            &alice,
            &json!({"code": bad}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "validation_failed".into()));

    let (secret, recovery, spent) = enrol_with(&app, "alice", &alice).await;
    assert_eq!(recovery.len(), 10);
    let on = app.api.get("/api/auth/two-factor", &alice).await.json();
    assert_eq!(
        on,
        json!({"enabled": true, "pending": false, "recovery_codes_left": 10, "required": false})
    );

    // The password alone no longer signs in; the code of the confirming step is spent.
    let r = login_reply(&app, "alice", None).await;
    assert_eq!((r.status, r.code()), (401, "two_factor_required".into()));
    let r = login_reply(&app, "alice", Some(&spent)).await;
    assert_eq!(
        (r.status, r.code()),
        (401, "invalid_credentials".into()),
        "replayed"
    );

    let code = next_code(&app, &secret);
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let r = login_reply(&app, "alice", Some(&spaced)).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(app.api.get("/api/auth/me", &token).await.status, 200);
    let r = login_reply(&app, "alice", Some(&code)).await;
    assert_eq!(r.status, 401, "a code signs in once");

    // A recovery code works once, in any case and without its dashes.
    let typed = recovery[3].to_lowercase().replace('-', "");
    assert_eq!(login_reply(&app, "alice", Some(&typed)).await.status, 200);
    assert_eq!(
        login_reply(&app, "alice", Some(&recovery[3])).await.status,
        401
    );
    let left = app.api.get("/api/auth/two-factor", &alice).await.json();
    assert_eq!(left["recovery_codes_left"], 9);

    // New codes void the old ones.
    let r = app
        .api
        .post(
            "/api/auth/two-factor/recovery-codes",
            &alice,
            &json!({"password": password("alice")}),
        )
        .await;
    assert_eq!(r.status, 200);
    let fresh = r.json()["recovery_codes"][0].as_str().unwrap().to_owned();
    assert_eq!(
        login_reply(&app, "alice", Some(&recovery[4])).await.status,
        401
    );
    assert_eq!(login_reply(&app, "alice", Some(&fresh)).await.status, 200);

    // The changes are audited, the codes are not.
    let audit = app
        .api
        .get("/api/audit?limit=200", &app.login("admin").await)
        .await;
    let text = audit.text();
    for action in [
        "staff.two-factor.setup",
        "staff.two-factor.enable",
        "staff.two-factor.recovery-code-used",
        "staff.two-factor.recovery-codes",
    ] {
        assert!(text.contains(action), "{action} missing from the audit log");
    }
    assert!(!text.contains(&fresh) && !text.contains(&secret.base32()));

    // The cookie sign-in asks for the code the same way.
    let origin = app.api.origin();
    let r = app
        .api
        .send(
            "POST",
            "/api/auth/session",
            &[("origin", &origin)],
            Some(&login_body("alice", None)),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "two_factor_required".into()));
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords() {
    // The throttle runs on the monotonic clock: a one-second lockout keeps the wait short.
    let app = TestApp::start_with(|c| {
        c.auth.throttle.lockout_base_secs = std::num::NonZeroU64::new(1).unwrap();
    })
    .await;
    let alice = app.login("alice").await;
    let (secret, _) = enrol(&app, "alice", &alice).await;
    let good = next_code(&app, &secret);
    let wrong = if good == "999999" { "999998" } else { "999999" };
    for _ in 0..5 {
        let r = login_reply(&app, "alice", Some(wrong)).await;
        assert_eq!((r.status, r.code()), (401, "invalid_credentials".into()));
    }
    // Locked out: the right password and code are refused too, and say when to come back.
    let r = login_reply(&app, "alice", Some(&good)).await;
    assert_eq!((r.status, r.code()), (429, "throttled".into()));
    assert!(r.header("retry-after").is_some());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = login_reply(&app, "alice", Some(&next_code(&app, &secret))).await;
    assert_eq!(r.status, 200, "after the lockout: {:?}", r.json());
}

#[tokio::test]
async fn super_admins_set_it_up_before_anything_else_when_required() {
    let app = TestApp::start_with(|c| c.auth.require_2fa_for_admins = true).await;
    let admin = app.login("admin").await;
    let r = app.api.get("/api/routers", &admin).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "two_factor_setup_required".into())
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/api/auth/two-factor/setup")
    );
    assert_eq!(app.api.get("/api/auth/me", &admin).await.status, 200);
    let status = app.api.get("/api/auth/two-factor", &admin).await.json();
    assert_eq!(
        (status["required"].clone(), status["enabled"].clone()),
        (json!(true), json!(false))
    );
    // Staff are not held to it.
    let alice = app.login("alice").await;
    assert_eq!(
        app.api.get("/api/auth/two-factor", &alice).await.json()["required"],
        false
    );
    assert_eq!(app.api.get("/api/routers", &alice).await.status, 200);

    let (secret, _) = enrol(&app, "admin", &admin).await;
    assert_eq!(
        app.api.get("/api/routers", &admin).await.status,
        200,
        "same session, now enrolled"
    );
    // It cannot be turned off while required.
    let r = app
        .api
        .post(
            "/api/auth/two-factor/disable",
            &admin,
            &json!({"password": password("admin"), "code": next_code(&app, &secret)}),
        )
        .await;
    assert_eq!(r.status, 409, "{:?}", r.json());
    let r = login_reply(&app, "admin", None).await;
    assert_eq!(r.code(), "two_factor_required");
}

#[tokio::test]
async fn turning_it_off_takes_the_password_and_a_code() {
    let app = TestApp::start().await;
    let bob = app.login("bob").await;
    let (secret, recovery) = enrol(&app, "bob", &bob).await;
    let r = app
        .api
        .post(
            "/api/auth/two-factor/disable",
            &bob,
            &json!({"password": password("bob"), "code": "000000x"}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        app.api.get("/api/auth/two-factor", &bob).await.json()["enabled"],
        true
    );
    let r = app
        .api
        .post(
            "/api/auth/two-factor/disable",
            &bob,
            &json!({"password": password("bob"), "code": recovery[0]}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.json());
    assert_eq!(login_reply(&app, "bob", None).await.status, 200);
    // On again with a new secret: the old secret's codes mean nothing.
    let (_, _) = enrol(&app, "bob", &bob).await;
    let old = next_code(&app, &secret);
    assert_eq!(login_reply(&app, "bob", Some(&old)).await.status, 401);
}

#[tokio::test]
async fn a_super_admin_resets_a_lost_second_factor() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let alice = app.login("alice").await;
    let alice_id = app.api.get("/api/auth/me", &alice).await.json()["id"]
        .as_u64()
        .unwrap();
    let admin_id = app.api.get("/api/auth/me", &admin).await.json()["id"]
        .as_u64()
        .unwrap();
    let path = format!("/api/staff/{alice_id}/two-factor");
    assert_eq!(
        app.api.delete(&path, &admin).await.status,
        404,
        "nothing to reset yet"
    );
    enrol(&app, "alice", &alice).await;
    assert_eq!(
        app.api.delete(&path, &alice).await.status,
        403,
        "staff cannot"
    );
    let own = format!("/api/staff/{admin_id}/two-factor");
    assert_eq!(
        app.api.delete(&own, &admin).await.status,
        403,
        "not one's own"
    );
    assert_eq!(
        app.api
            .delete("/api/staff/999/two-factor", &admin)
            .await
            .status,
        404
    );
    let r = app.api.delete(&path, &admin).await;
    assert_eq!(r.status, 204, "{:?}", r.json());
    assert_eq!(login_reply(&app, "alice", None).await.status, 200);
    let audit = app.api.get("/api/audit?limit=200", &admin).await.text();
    assert!(audit.contains("staff.two-factor.remove"));
}

#[tokio::test]
async fn the_secret_rests_sealed_on_disk() {
    let app = TestApp::start().await;
    let alice = app.login("alice").await;
    let (secret, recovery) = enrol(&app, "alice", &alice).await;
    app.state.store.sync().durable().await.expect("barrier");
    let bytes = std::fs::read(&app.db_path).expect("ledger file");
    assert!(!bytes.is_empty());
    let raw = secret.expose();
    assert!(
        !bytes.windows(raw.len()).any(|w| w == raw),
        "the raw secret is on disk"
    );
    let b32 = secret.base32();
    assert!(!bytes.windows(b32.len()).any(|w| w == b32.as_bytes()));
    for code in &recovery {
        let plain = code.replace('-', "");
        assert!(!bytes.windows(plain.len()).any(|w| w == plain.as_bytes()));
    }
}
