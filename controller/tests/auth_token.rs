//! Session and CSRF tokens: format, entropy, hashing, kinds, and expiry with injected time.

use std::collections::HashSet;

use hotspot_controller::auth::token::{
    CsrfToken, NewSession, SessionError, SessionKind, SessionPolicy, SessionToken, TOKEN_TEXT_LEN,
    TokenHash,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-25 08:00 UTC);

#[test]
fn tokens_are_prefixed_hex_of_256_bits() {
    let mut rng = rand::rng();
    for (kind, prefix) in [(SessionKind::Cookie, "hfc_"), (SessionKind::Bearer, "hfb_")] {
        let t = SessionToken::generate(kind, &mut rng);
        let text = t.expose();
        assert_eq!(text.len(), TOKEN_TEXT_LEN);
        assert_eq!(TOKEN_TEXT_LEN, 4 + 64);
        assert!(text.starts_with(prefix));
        assert!(
            text[4..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(SessionToken::parse(text, kind).unwrap(), t);
    }
    let csrf = CsrfToken::generate(&mut rng);
    assert!(csrf.expose().starts_with("hfx_") && csrf.expose().len() == TOKEN_TEXT_LEN);
}

#[test]
fn tokens_look_uniformly_random() {
    let mut rng = rand::rng();
    let tokens: Vec<SessionToken> = (0..2000)
        .map(|_| SessionToken::generate(SessionKind::Bearer, &mut rng))
        .collect();
    let unique: HashSet<&str> = tokens.iter().map(|t| t.expose()).collect();
    assert_eq!(unique.len(), tokens.len());
    // 2000 × 256 bits: the share of one bits is within 1% of one half, and every hex digit
    // appears at every position.
    let bytes: Vec<u8> = tokens
        .iter()
        .flat_map(|t| hex::decode(&t.expose()[4..]).unwrap())
        .collect();
    let ones: u32 = bytes.iter().map(|b| b.count_ones()).sum();
    let share = f64::from(ones) / (bytes.len() as f64 * 8.0);
    assert!((share - 0.5).abs() < 0.01, "share of one bits {share}");
    for pos in 4..TOKEN_TEXT_LEN {
        let digits: HashSet<u8> = tokens.iter().map(|t| t.expose().as_bytes()[pos]).collect();
        assert_eq!(digits.len(), 16, "position {pos}");
    }
}

#[test]
fn tokens_are_refused_in_the_wrong_place_or_shape() {
    let mut rng = rand::rng();
    let cookie = SessionToken::generate(SessionKind::Cookie, &mut rng);
    let bearer = SessionToken::generate(SessionKind::Bearer, &mut rng);
    let csrf = CsrfToken::generate(&mut rng);
    assert_eq!(
        SessionToken::parse(cookie.expose(), SessionKind::Bearer),
        Err(SessionError::WrongKind)
    );
    assert_eq!(
        SessionToken::parse(bearer.expose(), SessionKind::Cookie),
        Err(SessionError::WrongKind)
    );
    assert_eq!(
        SessionToken::parse(csrf.expose(), SessionKind::Bearer),
        Err(SessionError::WrongKind)
    );
    let text = bearer.expose();
    for bad in [
        "",
        "hfb_",
        &text[..TOKEN_TEXT_LEN - 1],
        &format!("{text}0"),
        &text.to_uppercase(),
        &text.replacen("hfb_", "xyz_", 1),
        &format!("hfb_{}", "g".repeat(64)),
    ] {
        assert_eq!(
            SessionToken::parse(bad, SessionKind::Bearer),
            Err(SessionError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn only_hashes_are_kept_and_compared_in_constant_time() {
    let mut rng = rand::rng();
    let a = SessionToken::generate(SessionKind::Bearer, &mut rng);
    let b = SessionToken::generate(SessionKind::Bearer, &mut rng);
    assert_eq!(a.hash(), TokenHash::of(a.expose()));
    assert!(a.hash().ct_eq(&TokenHash::of(a.expose())));
    assert!(!a.hash().ct_eq(&b.hash()));
    // The stored form serialises as hex and holds nothing of the token text.
    let json = serde_json::to_string(&a.hash()).unwrap();
    assert_eq!(json.len(), 64 + 2);
    assert!(!json.contains(&a.expose()[4..20]));
    // Debug output never shows secrets.
    for shown in [
        format!("{a:?}"),
        format!("{:?}", CsrfToken::generate(&mut rng)),
    ] {
        assert!(
            shown.contains("redacted") && !shown.contains(&a.expose()[4..]),
            "{shown}"
        );
    }
    let csrf = CsrfToken::generate(&mut rng);
    assert!(CsrfToken::matches(csrf.expose(), &csrf.hash()));
    assert!(!CsrfToken::matches(
        CsrfToken::generate(&mut rng).expose(),
        &csrf.hash()
    ));
    assert!(!CsrfToken::matches("", &csrf.hash()));
}

#[test]
fn cookie_sessions_expire_when_idle_or_old() {
    let p = SessionPolicy::default();
    let c = SessionKind::Cookie;
    // Active every 30 minutes: alive until the absolute limit.
    assert_eq!(
        p.check(
            c,
            T0,
            T0 + Duration::minutes(30),
            T0 + Duration::minutes(89)
        ),
        Ok(())
    );
    assert_eq!(
        p.check(
            c,
            T0,
            T0 + Duration::minutes(30),
            T0 + Duration::minutes(90)
        ),
        Err(SessionError::IdleTimeout { idle_mins: 60 })
    );
    let last = T0 + Duration::hours(12) - Duration::minutes(1);
    assert_eq!(p.check(c, T0, last, last + Duration::seconds(59)), Ok(()));
    assert_eq!(
        p.check(c, T0, last, T0 + Duration::hours(12)),
        Err(SessionError::Expired {
            expired_at: T0 + Duration::hours(12)
        })
    );
    assert_eq!(p.expires_at(c, T0), T0 + Duration::hours(12));
}

#[test]
fn bearer_tokens_have_no_idle_timeout_only_a_lifetime() {
    let p = SessionPolicy::default();
    let b = SessionKind::Bearer;
    assert_eq!(p.check(b, T0, T0, T0 + Duration::days(29)), Ok(()));
    assert!(matches!(
        p.check(b, T0, T0, T0 + Duration::days(30)),
        Err(SessionError::Expired { .. })
    ));
    assert!(!p.should_touch(b, T0, T0 + Duration::days(1)));
}

#[test]
fn last_seen_is_written_at_most_once_a_minute() {
    let p = SessionPolicy::default();
    let c = SessionKind::Cookie;
    assert!(!p.should_touch(c, T0, T0 + Duration::seconds(59)));
    assert!(p.should_touch(c, T0, T0 + Duration::seconds(60)));
}

#[test]
fn new_sessions_carry_what_the_store_keeps() {
    let p = SessionPolicy {
        cookie_idle: Duration::minutes(5),
        cookie_absolute: Duration::hours(1),
        bearer_lifetime: Duration::days(2),
    };
    let mut rng = rand::rng();
    let cookie = NewSession::create(SessionKind::Cookie, &p, T0, &mut rng);
    assert_eq!(cookie.token.kind(), SessionKind::Cookie);
    assert_eq!(cookie.expires_at, T0 + Duration::hours(1));
    let csrf = cookie
        .csrf
        .as_ref()
        .expect("cookie sessions get a CSRF token");
    assert_eq!(cookie.csrf_hash(), Some(csrf.hash()));
    assert_eq!(cookie.token_hash(), TokenHash::of(cookie.token.expose()));
    let bearer = NewSession::create(SessionKind::Bearer, &p, T0, &mut rng);
    assert!(bearer.csrf.is_none() && bearer.csrf_hash().is_none());
    assert_eq!(bearer.expires_at, T0 + Duration::days(2));
}

#[test]
fn bearer_tokens_are_read_from_the_authorization_header() {
    use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
    let mut rng = rand::rng();
    let bearer = SessionToken::generate(SessionKind::Bearer, &mut rng);
    let cookie = SessionToken::generate(SessionKind::Cookie, &mut rng);
    let with = |v: &str| {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    };
    assert_eq!(
        SessionToken::from_authorization(&HeaderMap::new()),
        Ok(None)
    );
    let h = with(&format!("Bearer {}", bearer.expose()));
    assert_eq!(
        SessionToken::from_authorization(&h),
        Ok(Some(bearer.clone()))
    );
    let h = with(&format!("bearer  {} ", bearer.expose()));
    assert_eq!(
        SessionToken::from_authorization(&h),
        Ok(Some(bearer.clone()))
    );
    let h = with(&format!("Bearer {}", cookie.expose()));
    assert_eq!(
        SessionToken::from_authorization(&h),
        Err(SessionError::WrongKind)
    );
    for bad in ["Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer nope", "token"] {
        assert_eq!(
            SessionToken::from_authorization(&with(bad)),
            Err(SessionError::Malformed),
            "{bad}"
        );
    }
}
