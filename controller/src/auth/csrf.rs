//! CSRF defence for cookie sessions: what a state-changing request must show before it runs.
//!
//! Why it is shaped so (OWASP's CSRF cheat sheet, defence in depth):
//! - **Only cookie sessions are checked.** A browser attaches cookies to requests other sites
//!   start; it never adds an `Authorization: Bearer` header by itself, so bearer calls are
//!   exempt. Safe methods (GET, HEAD, OPTIONS, TRACE) change nothing and are not checked.
//! - **Origin first.** Every unsafe request must come from our own origin: `Origin` must equal
//!   it; without `Origin`, `Referer`'s origin must; with neither the request is refused (current
//!   browsers send `Origin` on every POST, PUT, PATCH and DELETE). `Sec-Fetch-Site: cross-site`
//!   or `same-site` (a sibling subdomain) is refused outright.
//! - **Then the synchronizer token.** Each cookie session has its own random CSRF token; the
//!   store keeps its hash, the page gets the text and sends it back in `X-CSRF-Token` (or the
//!   `csrf_token` form field, which the caller extracts). Compared in constant time.
//! - **Our origin** comes from the configured public URL, or else from the `Host` header: a
//!   browser always sets `Host` to the site it is talking to, and a DNS-rebinding page under
//!   another name never receives our cookie.

use axum::http::header::{HOST, ORIGIN, REFERER};
use axum::http::{HeaderMap, Method};

use super::token::{CsrfToken, SessionKind, TokenHash};

/// Header the dashboard sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field a plain HTML form sends its CSRF token in.
pub const CSRF_FORM_FIELD: &str = "csrf_token";
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// Why a cookie-authenticated request was refused. All map to HTTP 403 `csrf_failed`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    #[error("request has neither an Origin nor a Referer header")]
    MissingOrigin,
    #[error("request comes from another origin ({origin})")]
    CrossOrigin { origin: String },
    #[error("request was started by another site")]
    CrossSiteFetch,
    #[error("request lacks the CSRF token (X-CSRF-Token header); reload the page")]
    MissingToken,
    #[error("CSRF token does not match this session; reload the page")]
    BadToken,
}

/// Methods that must not change state, hence need no CSRF check.
pub fn is_safe_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Checks one request of a session of `kind` whose stored CSRF hash is `csrf_hash`.
/// `expected_origin` is ours (see [`origin_of`] and [`origin_from_host`]); `form_token` is the
/// `csrf_token` form field when the body is a form.
pub fn check(
    method: &Method,
    headers: &HeaderMap,
    expected_origin: &str,
    kind: SessionKind,
    csrf_hash: Option<&TokenHash>,
    form_token: Option<&str>,
) -> Result<(), CsrfError> {
    if kind == SessionKind::Bearer || is_safe_method(method) {
        return Ok(());
    }
    check_origin(headers, expected_origin)?;
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(form_token)
        .ok_or(CsrfError::MissingToken)?;
    // A cookie session without a stored CSRF hash is a bug elsewhere: fail closed.
    let stored = csrf_hash.ok_or(CsrfError::BadToken)?;
    if CsrfToken::matches(presented.trim(), stored) {
        Ok(())
    } else {
        Err(CsrfError::BadToken)
    }
}

/// The origin check alone (Sec-Fetch-Site, then Origin, else Referer).
pub fn check_origin(headers: &HeaderMap, expected_origin: &str) -> Result<(), CsrfError> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header(SEC_FETCH_SITE)
        && matches!(site.trim(), "cross-site" | "same-site")
    {
        return Err(CsrfError::CrossSiteFetch);
    }
    let (raw, origin) = if let Some(origin) = header(ORIGIN.as_str()) {
        (origin, origin_of(origin))
    } else if let Some(referer) = header(REFERER.as_str()) {
        (referer, origin_of(referer))
    } else {
        return Err(CsrfError::MissingOrigin);
    };
    match origin {
        Some(o) if o.eq_ignore_ascii_case(expected_origin) => Ok(()),
        _ => Err(CsrfError::CrossOrigin {
            origin: raw.chars().take(100).collect(),
        }),
    }
}

/// `scheme://host[:port]` of an `http`/`https` URL, lower-cased and without a default port;
/// `None` for anything else (including `null`, user info, and an empty host).
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    // Split a port off, minding IPv6 literals (`[::1]:8080`).
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority.as_str(), None),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-[]:_".contains(&b))
    {
        return None;
    }
    match port {
        None => Some(format!("{scheme}://{host}")),
        Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5 => None,
        Some(p) if p == default_port => Some(format!("{scheme}://{host}")),
        Some(p) => Some(format!("{scheme}://{host}:{p}")),
    }
}

/// Our origin from the request's `Host` header, for when no public URL is configured.
pub fn origin_from_host(headers: &HeaderMap, https: bool) -> Option<String> {
    let host = headers.get(HOST)?.to_str().ok()?;
    let scheme = if https { "https" } else { "http" };
    origin_of(&format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            origin_of("HTTPS://Example.COM:443/x?y").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(
            origin_of("http://10.0.0.1:8080").as_deref(),
            Some("http://10.0.0.1:8080")
        );
        assert_eq!(
            origin_of("http://[::1]:8080/").as_deref(),
            Some("http://[::1]:8080")
        );
        assert_eq!(origin_of("http://[::1]/").as_deref(), Some("http://[::1]"));
        for bad in [
            "null",
            "ftp://x",
            "https://",
            "https://u:p@evil.com",
            "http://a:b:c",
            "http://x:99999999",
        ] {
            assert_eq!(origin_of(bad), None, "{bad}");
        }
    }
}
