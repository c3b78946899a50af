//! The dashboard's session cookie: its name, its attributes, and reading it back.
//!
//! Why it is shaped so:
//! - **`__Host-hf_session` over HTTPS.** The `__Host-` prefix makes the browser accept the
//!   cookie only with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain or a plain-HTTP
//!   page cannot plant or shadow it. Over plain HTTP (a LAN or the demo) the prefix is not
//!   allowed and the cookie is `hf_session`; only the name for the current mode is ever read.
//! - **`SameSite=Strict`.** The dashboard has no inbound cross-site flows (no OAuth return, no
//!   payment redirect) that need the session on arrival, and it handles money and router
//!   credentials, so the browser should never attach the cookie to a request started by another
//!   site, top-level navigations included. The cost: following a link to the dashboard from
//!   mail shows the sign-in page once. `Lax` would also block cross-site POSTs; `Strict` closes
//!   the GET side too. CSRF tokens and the Origin check ([`super::csrf`]) stay as the second
//!   layer, because SameSite treats sibling subdomains as "same site".
//! - **`HttpOnly`**: page scripts never see the session token (the CSRF token is separate).
//! - **`Max-Age`** is the absolute lifetime; the idle timeout is enforced by the server.
//! - Written by hand: the value is our own hex token, so no escaping is needed, and a small
//!   parser avoids pulling in a cookie crate for one cookie.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use time::Duration;

use super::token::{SessionKind, SessionToken};

/// Cookie name when served over HTTPS.
pub const SECURE_COOKIE_NAME: &str = "__Host-hf_session";
/// Cookie name over plain HTTP.
pub const PLAIN_COOKIE_NAME: &str = "hf_session";
/// Most `Cookie` header bytes looked at.
const MAX_COOKIE_HEADER: usize = 8 * 1024;

/// How the session cookie is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieSettings {
    /// Served over HTTPS: `Secure` and the `__Host-` name.
    pub secure: bool,
    /// The cookie's `Max-Age` (the absolute session lifetime).
    pub max_age: Duration,
}

impl CookieSettings {
    pub fn name(&self) -> &'static str {
        if self.secure {
            SECURE_COOKIE_NAME
        } else {
            PLAIN_COOKIE_NAME
        }
    }

    /// The `Set-Cookie` value that signs the browser in with `token`.
    pub fn set_cookie(&self, token: &SessionToken) -> HeaderValue {
        debug_assert_eq!(token.kind(), SessionKind::Cookie);
        self.header(token.expose(), self.max_age.whole_seconds().max(0))
    }

    /// The `Set-Cookie` value that signs the browser out.
    pub fn clear_cookie(&self) -> HeaderValue {
        self.header("", 0)
    }

    fn header(&self, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
            self.name()
        );
        // Name, value (hex) and attributes are ASCII without control characters.
        HeaderValue::from_str(&text).expect("cookie header is visible ASCII")
    }

    /// The session token in the request's cookies, if there is a well-formed one under this
    /// mode's name. Other cookies, and a malformed value, count as no session.
    pub fn read(&self, headers: &HeaderMap) -> Option<SessionToken> {
        let name = self.name();
        headers
            .get_all(COOKIE)
            .iter()
            .filter(|v| v.len() <= MAX_COOKIE_HEADER)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(n, _)| *n == name)
            .find_map(|(_, value)| {
                SessionToken::parse(value.trim_matches('"'), SessionKind::Cookie).ok()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookie_has_host_prefix_and_attributes() {
        let s = CookieSettings {
            secure: true,
            max_age: Duration::hours(12),
        };
        let t = SessionToken::generate(SessionKind::Cookie, &mut rand::rng());
        let v = s.set_cookie(&t);
        let v = v.to_str().unwrap();
        assert!(v.starts_with(&format!("__Host-hf_session={}; ", t.expose())));
        for attr in [
            "Path=/",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Max-Age=43200",
        ] {
            assert!(v.split("; ").any(|a| a == attr), "{attr} missing in {v}");
        }
        assert!(!v.contains("Domain"));
    }

    #[test]
    fn plain_cookie_is_not_secure_and_reads_back() {
        let s = CookieSettings {
            secure: false,
            max_age: Duration::hours(1),
        };
        let t = SessionToken::generate(SessionKind::Cookie, &mut rand::rng());
        assert!(!s.set_cookie(&t).to_str().unwrap().contains("Secure"));
        let mut h = HeaderMap::new();
        let cookie = format!("theme=dark; hf_session={}; x=1", t.expose());
        h.insert(COOKIE, HeaderValue::from_str(&cookie).unwrap());
        assert_eq!(s.read(&h), Some(t.clone()));
        // The secure mode reads only the __Host- name.
        let secure = CookieSettings { secure: true, ..s };
        assert_eq!(secure.read(&h), None);
        assert!(s.clear_cookie().to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn bearer_token_in_cookie_is_ignored() {
        let s = CookieSettings {
            secure: false,
            max_age: Duration::hours(1),
        };
        let t = SessionToken::generate(SessionKind::Bearer, &mut rand::rng());
        let mut h = HeaderMap::new();
        let cookie = format!("hf_session={}", t.expose());
        h.insert(COOKIE, HeaderValue::from_str(&cookie).unwrap());
        assert_eq!(s.read(&h), None);
    }
}
