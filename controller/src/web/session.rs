//! Who is looking at a page ([`Viewer`], [`AdminViewer`] as extractors), and the CSRF token the
//! page's forms carry.
//!
//! Built on the API's machinery, not beside it: the session is resolved by
//! [`crate::api::extract::authenticate`] (cookie, idle and absolute lifetime, disabled
//! accounts, fresh staff record every request) and checked with [`crate::auth::csrf`].
//!
//! Why the CSRF token travels in a second cookie:
//! - the ledger keeps only the hash of a session's CSRF token, yet every server-rendered form
//!   must carry the token's text. At sign-in the text is known; it is put in `hf_csrf`
//!   (`__Host-hf_csrf` over HTTPS), HttpOnly and SameSite=Strict like the session cookie, and
//!   each page copies it into its forms' hidden `csrf_token` field;
//! - a POST is accepted only when its origin is ours and the form's token matches the hash
//!   stored with the session (a cookie planted by a sibling host cannot match that hash);
//! - a session without a usable `hf_csrf` (signed in through `/api/auth/session`, or another
//!   tab asked `/api/auth/csrf` for a new token) gets a fresh token on its next page view: the
//!   stored hash is replaced and the cookie set with the response ([`csrf_cookie_layer`]).
//!
//! Page extractors answer the browser, not a script: no session redirects to the sign-in page
//! (`/?next=…`), a wrong role is a 403 page.

use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::WebError;
use crate::api::error::ErrorCode;
use crate::api::extract::{authenticate, expected_origin, store_err};
use crate::app::AppState;
use crate::auth::cookie::CookieSettings;
use crate::auth::csrf::{self, CSRF_FORM_FIELD, CsrfError};
use crate::auth::token::{CsrfToken, SessionKind, TokenHash};
use crate::store::SessionRecord;

// The extractors' types, defined below the page frame that draws them; extracted here.
pub use super::viewer::{AdminViewer, Viewer};

/// CSRF cookie name over HTTPS (same `__Host-` rules as the session cookie).
pub const SECURE_CSRF_COOKIE: &str = "__Host-hf_csrf";
/// CSRF cookie name over plain HTTP.
pub const PLAIN_CSRF_COOKIE: &str = "hf_csrf";
/// Longest CSRF cookie value read.
const MAX_TOKEN_LEN: usize = 128;

impl FromRequestParts<AppState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        if let Some(v) = parts.extensions.get::<Viewer>() {
            return Ok(v.clone());
        }
        let path = parts.uri.path().to_owned();
        // Resolved as a read: the form's CSRF token is in the body, checked by `CsrfForm`.
        let principal = authenticate(&Method::GET, &path, &parts.headers, state)
            .await
            .map_err(|e| match e.code() {
                ErrorCode::Unauthorized => WebError::SignIn {
                    next: next_target(&parts.method, parts.uri.path_and_query()),
                },
                ErrorCode::TwoFactorSetupRequired => WebError::GoTo("/account"),
                _ => WebError::from(e),
            })?;
        if principal.kind() != SessionKind::Cookie {
            return Err(WebError::forbidden(
                "Dashboard pages need a browser session: sign in on the start page.",
            ));
        }
        let settings = state.config.cookie_settings();
        let presented = read_csrf_cookie(&settings, &parts.headers);
        let stored = principal.session.csrf_hash.map(TokenHash);
        let csrf = match (presented, stored) {
            (Some(t), Some(h)) if CsrfToken::matches(&t, &h) => t,
            _ => {
                let fresh = renew_csrf(state, &principal.session).await?;
                if let Some(slot) = parts.extensions.get::<CookieSlot>() {
                    slot.set(csrf_cookie(&settings, &fresh));
                }
                fresh
            }
        };
        let viewer = Viewer {
            principal,
            csrf,
            path,
        };
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

impl FromRequestParts<AppState> for AdminViewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        if !viewer.is_admin() {
            return Err(WebError::forbidden_for(
                "This page is for super admins.",
                viewer,
            ));
        }
        Ok(AdminViewer(viewer))
    }
}

/// Where to come back to after signing in: the page asked for (GET only, same site).
fn next_target(method: &Method, pq: Option<&axum::http::uri::PathAndQuery>) -> Option<String> {
    let pq = pq?.as_str();
    let safe = *method == Method::GET
        && pq.starts_with('/')
        && !pq.starts_with("//")
        && pq.len() <= 512
        && pq != "/";
    safe.then(|| pq.to_owned())
}

/// A stored session gets a new CSRF token (its hash replaces the old one, durably).
async fn renew_csrf(state: &AppState, session: &SessionRecord) -> Result<String, WebError> {
    let token = CsrfToken::generate(&mut rand::rng());
    let record = SessionRecord {
        csrf_hash: Some(token.hash().0),
        ..session.clone()
    };
    let written = state.store.create_session(&record).map_err(store_err)?;
    written.durable().await.map_err(store_err)?;
    Ok(token.expose().to_owned())
}

fn csrf_cookie_name(settings: &CookieSettings) -> &'static str {
    if settings.secure {
        SECURE_CSRF_COOKIE
    } else {
        PLAIN_CSRF_COOKIE
    }
}

/// The `Set-Cookie` value carrying the CSRF token (same attributes as the session cookie).
pub fn csrf_cookie(settings: &CookieSettings, token: &str) -> HeaderValue {
    cookie_header(settings, token, settings.max_age.whole_seconds().max(0))
}

/// The `Set-Cookie` value removing the CSRF cookie.
pub fn clear_csrf_cookie(settings: &CookieSettings) -> HeaderValue {
    cookie_header(settings, "", 0)
}

fn cookie_header(settings: &CookieSettings, value: &str, max_age: i64) -> HeaderValue {
    let secure = if settings.secure { "; Secure" } else { "" };
    let text = format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
        csrf_cookie_name(settings)
    );
    // Our tokens are `hfc_` + hex; an unexpected value yields an expiring empty cookie.
    HeaderValue::from_str(&text).unwrap_or_else(|_| clear_csrf_cookie(settings))
}

fn read_csrf_cookie(settings: &CookieSettings, headers: &HeaderMap) -> Option<String> {
    let name = csrf_cookie_name(settings);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
        .find(|v| !v.is_empty() && v.len() <= MAX_TOKEN_LEN)
        .map(str::to_owned)
}

/// A `Set-Cookie` an extractor wants on the response.
#[derive(Clone, Default)]
struct CookieSlot(Arc<Mutex<Option<HeaderValue>>>);

impl CookieSlot {
    fn set(&self, v: HeaderValue) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(v);
    }
    fn take(&self) -> Option<HeaderValue> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Middleware of the page routes: lets [`Viewer`] set a renewed CSRF cookie, and marks pages
/// as not to be cached (framing and the rest: `hotspot_ui::headers`, on every response).
pub async fn csrf_cookie_layer(mut req: Request, next: Next) -> Response {
    let slot = CookieSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    if let Some(cookie) = slot.take() {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    let h = response.headers_mut();
    h.entry(axum::http::header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A form POST from a signed-in page: the origin is ours and `csrf_token` matches the
/// session's. Put it last in a handler's arguments, after the [`Viewer`] (or [`AdminViewer`]).
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct TokenField {
    csrf_token: Option<String>,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| WebError::bad_request(e.body_text()))?;
        let token: TokenField = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| WebError::bad_request("the form could not be read"))?;
        check_form_csrf(state, &parts.headers, &viewer, token.csrf_token.as_deref())?;
        let value = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| WebError::bad_request(format!("the form could not be read: {e}")))?;
        Ok(CsrfForm(value))
    }
}

/// Origin and synchronizer-token checks of a page's POST (see [`crate::auth::csrf::check`]).
pub fn check_form_csrf(
    state: &AppState,
    headers: &HeaderMap,
    viewer: &Viewer,
    form_token: Option<&str>,
) -> Result<(), WebError> {
    let origin = expected_origin(state, headers).ok_or(CsrfError::MissingOrigin)?;
    let stored = viewer.session.csrf_hash.map(TokenHash);
    let form_token = form_token.filter(|t| !t.is_empty());
    csrf::check(
        &Method::POST,
        headers,
        &origin,
        SessionKind::Cookie,
        stored.as_ref(),
        form_token,
    )
    .map_err(WebError::from)
}

/// The name of the hidden field forms carry the token in.
pub const FORM_FIELD: &str = CSRF_FORM_FIELD;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;
    use axum::http::uri::PathAndQuery;

    fn settings(secure: bool) -> CookieSettings {
        CookieSettings {
            secure,
            max_age: time::Duration::hours(1),
        }
    }

    #[test]
    fn csrf_cookie_reads_back_under_its_mode_only() {
        let token = CsrfToken::generate(&mut rand::rng());
        let set = csrf_cookie(&settings(false), token.expose());
        let set = set.to_str().unwrap();
        assert!(set.starts_with(&format!("hf_csrf={}; ", token.expose())));
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(attr), "{attr} in {set}");
        }
        let mut h = HeaderMap::new();
        let cookie = format!("hf_session=x; hf_csrf={}", token.expose());
        h.insert(COOKIE, HeaderValue::from_str(&cookie).unwrap());
        assert_eq!(
            read_csrf_cookie(&settings(false), &h).as_deref(),
            Some(token.expose())
        );
        assert_eq!(read_csrf_cookie(&settings(true), &h), None);
        assert!(
            csrf_cookie(&settings(true), token.expose())
                .to_str()
                .unwrap()
                .starts_with("__Host-hf_csrf=")
        );
    }

    #[test]
    fn sign_in_returns_only_to_local_gets() {
        let pq = |s: &str| s.parse::<PathAndQuery>().unwrap();
        assert_eq!(
            next_target(&Method::GET, Some(&pq("/staff/vouchers?after=x"))).as_deref(),
            Some("/staff/vouchers?after=x")
        );
        assert_eq!(next_target(&Method::POST, Some(&pq("/staff"))), None);
        assert_eq!(next_target(&Method::GET, Some(&pq("/"))), None);
        assert_eq!(next_target(&Method::GET, Some(&pq("//evil"))), None);
    }
}
