//! CSRF checks for cookie sessions: origin and synchronizer token; bearer calls exempt.

use axum::http::{HeaderMap, HeaderValue, Method};
use hotspot_controller::auth::csrf::{CsrfError, check, check_origin, origin_from_host};
use hotspot_controller::auth::token::{CsrfToken, SessionKind, TokenHash};

const ORIGIN: &str = "https://hotspot.example.com";

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn session() -> (CsrfToken, TokenHash) {
    let t = CsrfToken::generate(&mut rand::rng());
    let h = t.hash();
    (t, h)
}

fn post(h: &HeaderMap, stored: &TokenHash) -> Result<(), CsrfError> {
    check(
        &Method::POST,
        h,
        ORIGIN,
        SessionKind::Cookie,
        Some(stored),
        None,
    )
}

#[test]
fn right_origin_and_token_pass() {
    let (t, stored) = session();
    let h = headers(&[("origin", ORIGIN), ("x-csrf-token", t.expose())]);
    assert_eq!(post(&h, &stored), Ok(()));
    for m in [Method::PUT, Method::PATCH, Method::DELETE] {
        assert_eq!(
            check(&m, &h, ORIGIN, SessionKind::Cookie, Some(&stored), None),
            Ok(())
        );
    }
    // Same origin written differently (case, default port) is the same origin.
    let h = headers(&[
        ("origin", "HTTPS://Hotspot.Example.com:443"),
        ("x-csrf-token", t.expose()),
    ]);
    assert_eq!(post(&h, &stored), Ok(()));
}

#[test]
fn missing_or_wrong_token_is_refused() {
    let (_, stored) = session();
    let (other, _) = session();
    assert_eq!(
        post(&headers(&[("origin", ORIGIN)]), &stored),
        Err(CsrfError::MissingToken)
    );
    let h = headers(&[("origin", ORIGIN), ("x-csrf-token", other.expose())]);
    assert_eq!(post(&h, &stored), Err(CsrfError::BadToken));
    let h = headers(&[("origin", ORIGIN), ("x-csrf-token", "hfx_nonsense")]);
    assert_eq!(post(&h, &stored), Err(CsrfError::BadToken));
    // A cookie session without a stored CSRF hash fails closed.
    let h = headers(&[("origin", ORIGIN), ("x-csrf-token", other.expose())]);
    assert_eq!(
        check(&Method::POST, &h, ORIGIN, SessionKind::Cookie, None, None),
        Err(CsrfError::BadToken)
    );
}

#[test]
fn form_field_token_is_accepted() {
    let (t, stored) = session();
    let h = headers(&[("origin", ORIGIN)]);
    assert_eq!(
        check(
            &Method::POST,
            &h,
            ORIGIN,
            SessionKind::Cookie,
            Some(&stored),
            Some(t.expose())
        ),
        Ok(())
    );
}

#[test]
fn cross_origin_requests_are_refused_even_with_the_token() {
    let (t, stored) = session();
    for origin in [
        "https://evil.example",
        "http://hotspot.example.com",
        "https://hotspot.example.com:8443",
        "null",
    ] {
        let h = headers(&[("origin", origin), ("x-csrf-token", t.expose())]);
        assert!(
            matches!(post(&h, &stored), Err(CsrfError::CrossOrigin { .. })),
            "{origin}"
        );
    }
    let h = headers(&[
        ("origin", ORIGIN),
        ("sec-fetch-site", "cross-site"),
        ("x-csrf-token", t.expose()),
    ]);
    assert_eq!(post(&h, &stored), Err(CsrfError::CrossSiteFetch));
    let h = headers(&[
        ("origin", ORIGIN),
        ("sec-fetch-site", "same-site"),
        ("x-csrf-token", t.expose()),
    ]);
    assert_eq!(post(&h, &stored), Err(CsrfError::CrossSiteFetch));
}

#[test]
fn referer_stands_in_for_a_missing_origin_and_neither_is_refused() {
    let (t, stored) = session();
    let h = headers(&[
        ("referer", "https://hotspot.example.com/dashboard?x=1"),
        ("x-csrf-token", t.expose()),
    ]);
    assert_eq!(post(&h, &stored), Ok(()));
    let h = headers(&[
        ("referer", "https://evil.example/page"),
        ("x-csrf-token", t.expose()),
    ]);
    assert!(matches!(
        post(&h, &stored),
        Err(CsrfError::CrossOrigin { .. })
    ));
    let h = headers(&[("x-csrf-token", t.expose())]);
    assert_eq!(post(&h, &stored), Err(CsrfError::MissingOrigin));
}

#[test]
fn bearer_calls_and_safe_methods_are_exempt() {
    let (_, stored) = session();
    let hostile = headers(&[("origin", "https://evil.example")]);
    assert_eq!(
        check(
            &Method::POST,
            &hostile,
            ORIGIN,
            SessionKind::Bearer,
            None,
            None
        ),
        Ok(())
    );
    for m in [Method::GET, Method::HEAD, Method::OPTIONS] {
        assert_eq!(
            check(
                &m,
                &hostile,
                ORIGIN,
                SessionKind::Cookie,
                Some(&stored),
                None
            ),
            Ok(())
        );
    }
}

#[test]
fn our_origin_can_come_from_the_host_header() {
    let h = headers(&[("host", "10.0.0.5:8080")]);
    let ours = origin_from_host(&h, false).unwrap();
    assert_eq!(ours, "http://10.0.0.5:8080");
    assert_eq!(
        check_origin(&headers(&[("origin", "http://10.0.0.5:8080")]), &ours),
        Ok(())
    );
    assert_eq!(
        origin_from_host(&headers(&[("host", "x.example:443")]), true).unwrap(),
        "https://x.example"
    );
    assert_eq!(origin_from_host(&HeaderMap::new(), true), None);
}
