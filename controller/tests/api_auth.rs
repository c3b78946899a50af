//! Signing in over real HTTP: bearer and cookie sessions, CSRF, login throttling, session
//! expiry.

mod common;
mod support;

use serde_json::{Value, json};
use support::*;

fn login_body(user: &str, pw: &str) -> Value {
    json!({"username": user, "password": pw})
}

#[tokio::test]
async fn login_gives_a_bearer_token_and_refuses_bad_or_unknown_credentials() {
    let app = TestApp::start().await;
    let ok = app
        .api
        .send(
            "POST",
            "/api/auth/login",
            &[],
            Some(&login_body("admin", &password("admin"))),
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.json());
    let body = ok.json();
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("hfb_") && token.len() == 68);
    assert_eq!(body["role"], "super_admin");
    let me = app.api.get("/api/auth/me", token).await;
    assert_eq!(me.status, 200);
    assert_eq!(
        (me.json()["username"].clone(), me.json()["session"].clone()),
        (json!("admin"), json!("bearer"))
    );

    for (user, pw) in [
        ("admin", "wrong-password-1"),
        ("nobody", "whatever-password"),
    ] {
        let r = app
            .api
            .send("POST", "/api/auth/login", &[], Some(&login_body(user, pw)))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_credentials".into()),
            "{user}"
        );
        assert!(r.header("www-authenticate").is_some());
        assert!(!String::from_utf8_lossy(&r.body).contains(pw));
    }
    let staff = app.login("alice").await;
    let me = app.api.get("/api/auth/me", &staff).await.json();
    assert_eq!(
        (me["role"].clone(), me["routers"].clone()),
        (json!("staff"), json!([1]))
    );

    // Logout ends the bearer session.
    let out = app
        .api
        .send(
            "POST",
            "/api/auth/logout",
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
        .await;
    assert_eq!(out.status, 204);
    let r = app.api.get("/api/auth/me", token).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized".into()));
}

#[tokio::test]
async fn repeated_failures_are_throttled_before_the_password_is_checked() {
    let app = TestApp::start().await;
    for i in 0..5 {
        let r = app
            .api
            .send(
                "POST",
                "/api/auth/login",
                &[],
                Some(&login_body("alice", "not-her-password")),
            )
            .await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    // Locked: even the right password is not looked at.
    let r = app
        .api
        .send(
            "POST",
            "/api/auth/login",
            &[],
            Some(&login_body("ALICE", &password("alice"))),
        )
        .await;
    assert_eq!((r.status, r.code()), (429, "throttled".into()));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Unknown accounts are throttled the same way.
    for _ in 0..5 {
        let r = app
            .api
            .send(
                "POST",
                "/api/auth/login",
                &[],
                Some(&login_body("ghost", "guess-guess-1")),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = app
        .api
        .send(
            "POST",
            "/api/auth/login",
            &[],
            Some(&login_body("ghost", "guess-guess-1")),
        )
        .await;
    assert_eq!(r.status, 429);
    // Another account from the same address is still let in (its limit is higher).
    app.login("bob").await;
}

#[tokio::test]
async fn cookie_sessions_need_same_origin_and_the_csrf_token_on_writes() {
    let app = TestApp::start().await;
    let origin = app.api.origin();
    let creds = login_body("admin", &password("admin"));
    // Login CSRF: a cookie session is only made for our own origin.
    let r = app
        .api
        .send("POST", "/api/auth/session", &[], Some(&creds))
        .await;
    assert_eq!((r.status, r.code()), (403, "csrf_failed".into()));
    let r = app
        .api
        .send(
            "POST",
            "/api/auth/session",
            &[("origin", "http://evil.example")],
            Some(&creds),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "csrf_failed".into()));
    let r = app
        .api
        .send(
            "POST",
            "/api/auth/session",
            &[("origin", &origin)],
            Some(&creds),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let set_cookie = r.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("hf_session=hfc_"));
    let csrf = r.json()["csrf_token"].as_str().unwrap().to_owned();
    assert!(
        r.json().get("token").is_none(),
        "the cookie token is not in the body"
    );

    let me = app
        .api
        .send("GET", "/api/auth/me", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(
        (me.status, me.json()["session"].clone()),
        (200, json!("cookie"))
    );
    let package =
        json!({"name": "Cookie pack", "price_minor": 50, "currency": "USD", "time_limit": "30m"});
    let no_token = app
        .api
        .send(
            "POST",
            "/api/packages",
            &[("cookie", &cookie), ("origin", &origin)],
            Some(&package),
        )
        .await;
    assert_eq!(
        (no_token.status, no_token.code()),
        (403, "csrf_failed".into())
    );
    let bad_token = app
        .api
        .send(
            "POST",
            "/api/packages",
            &[
                ("cookie", &cookie),
                ("origin", &origin),
                ("x-csrf-token", "hfx_00"),
            ],
            Some(&package),
        )
        .await;
    assert_eq!(
        (bad_token.status, bad_token.code()),
        (403, "csrf_failed".into())
    );
    let cross = app
        .api
        .send(
            "POST",
            "/api/packages",
            &[
                ("cookie", &cookie),
                ("origin", "http://evil.example"),
                ("x-csrf-token", &csrf),
            ],
            Some(&package),
        )
        .await;
    assert_eq!((cross.status, cross.code()), (403, "csrf_failed".into()));
    let ok = app
        .api
        .send(
            "POST",
            "/api/packages",
            &[
                ("cookie", &cookie),
                ("origin", &origin),
                ("x-csrf-token", &csrf),
            ],
            Some(&package),
        )
        .await;
    assert_eq!(ok.status, 201, "{:?}", ok.json());
    // A bearer token is CSRF-exempt; a cookie token is not accepted as a bearer token.
    let bearer = app.login("admin").await;
    assert_eq!(
        app.api
            .post(
                "/api/packages",
                &bearer,
                &json!({"name": "B", "price_minor": 1, "currency": "USD", "time_limit": 60})
            )
            .await
            .status,
        201
    );
    let cookie_token = cookie.trim_start_matches("hf_session=");
    assert_eq!(app.api.get("/api/auth/me", cookie_token).await.status, 401);

    // A reloaded page asks for a new CSRF token; the old one stops working.
    let fresh = app
        .api
        .send("GET", "/api/auth/csrf", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.json());
    let new_csrf = fresh.json()["csrf_token"].as_str().unwrap().to_owned();
    assert_ne!(new_csrf, csrf);
    let stale = app
        .api
        .send(
            "POST",
            "/api/auth/logout",
            &[
                ("cookie", &cookie),
                ("origin", &origin),
                ("x-csrf-token", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!((stale.status, stale.code()), (403, "csrf_failed".into()));
    let csrf = new_csrf;
    assert_eq!(app.api.get("/api/auth/csrf", &bearer).await.status, 409);
    let out = app
        .api
        .send(
            "POST",
            "/api/auth/logout",
            &[
                ("cookie", &cookie),
                ("origin", &origin),
                ("x-csrf-token", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let me = app
        .api
        .send("GET", "/api/auth/me", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(me.status, 401);
}

/// Cookie sessions end after the idle timeout unless used (activity is written at most once a
/// minute); bearer tokens end at their absolute lifetime. Expired sessions are deleted.
#[tokio::test]
async fn sessions_expire_by_idle_time_and_lifetime() {
    let app = TestApp::start().await;
    let origin = app.api.origin();
    let creds = login_body("alice", &password("alice"));
    let session = |app: &TestApp| {
        let (creds, origin) = (creds.clone(), origin.clone());
        let api = app.api.clone();
        async move {
            let r = api
                .send(
                    "POST",
                    "/api/auth/session",
                    &[("origin", &origin)],
                    Some(&creds),
                )
                .await;
            r.header("set-cookie")
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        }
    };
    let me = |cookie: String| {
        let api = app.api.clone();
        async move {
            api.send("GET", "/api/auth/me", &[("cookie", &cookie)], None)
                .await
                .status
        }
    };
    let idle = session(&app).await;
    let busy = session(&app).await;
    let bearer = app.login("alice").await;
    for _ in 0..3 {
        app.advance(50 * 60);
        assert_eq!(me(busy.clone()).await, 200, "used every 50 minutes");
    }
    assert_eq!(me(idle.clone()).await, 401, "idle for 150 minutes");
    app.advance(-150 * 60);
    assert_eq!(
        me(idle).await,
        401,
        "an expired session is deleted, not revived"
    );
    app.advance(150 * 60 + 10 * 3600);
    assert_eq!(me(busy).await, 401, "past the 12-hour absolute lifetime");
    assert_eq!(app.api.get("/api/auth/me", &bearer).await.status, 200);
    app.advance(30 * 24 * 3600);
    assert_eq!(app.api.get("/api/auth/me", &bearer).await.status, 401);
}

/// Failed logins from one address, each with another unknown account (so only the
/// per-address limit counts), sent with `headers`.
async fn fail_logins(app: &TestApp, n: usize, headers: &[(&str, &str)]) {
    for i in 0..n {
        let r = app
            .api
            .send(
                "POST",
                "/api/auth/login",
                headers,
                Some(&login_body(&format!("ghost{i}"), "guess-guess-1")),
            )
            .await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
}

async fn bob_from(app: &TestApp, headers: &[(&str, &str)]) -> u16 {
    app.api
        .send(
            "POST",
            "/api/auth/login",
            headers,
            Some(&login_body("bob", &password("bob"))),
        )
        .await
        .status
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_throttle_follows_x_forwarded_for() {
    let app = TestApp::start_with(|c| {
        c.http.trusted_proxies = vec!["127.0.0.1".parse().expect("net")];
        c.auth.throttle.address_max_failures = std::num::NonZeroU32::new(4).expect("4");
    })
    .await;
    let guesser = [("x-forwarded-for", "203.0.113.5")];
    fail_logins(&app, 4, &guesser).await;
    assert_eq!(
        bob_from(&app, &guesser).await,
        429,
        "the guessing address is locked"
    );
    // Another customer behind the same proxy signs in; a spoofed entry left of the proxy's
    // does not move the guesser elsewhere.
    assert_eq!(
        bob_from(&app, &[("x-forwarded-for", "198.51.100.7")]).await,
        200
    );
    assert_eq!(
        bob_from(&app, &[("x-forwarded-for", "198.51.100.8, 203.0.113.5")]).await,
        429
    );
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_cannot_dodge_the_throttle() {
    let app = TestApp::start_with(|c| {
        c.auth.throttle.address_max_failures = std::num::NonZeroU32::new(4).expect("4");
    })
    .await;
    fail_logins(&app, 4, &[("x-forwarded-for", "203.0.113.5")]).await;
    // The header is not believed: every request came from 127.0.0.1, now locked.
    assert_eq!(
        bob_from(&app, &[("x-forwarded-for", "198.51.100.7")]).await,
        429
    );
}
