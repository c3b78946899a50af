//! The security headers both web servers send with every response (the controller's dashboard
//! and API, the agent's local page): one place, so the two cannot drift apart.
//!
//! - `Content-Security-Policy`: scripts only from this origin (`/static/app.js`: no inline
//!   script, no `javascript:` URLs, no event-handler attributes), no plugins, no framing
//!   (`frame-ancestors 'none'`), forms post only here. Inline `style` attributes stay allowed:
//!   the gauges and progress bars set their width that way, and styles cannot run code.
//! - `X-Frame-Options: DENY` for browsers without `frame-ancestors`, `X-Content-Type-Options:
//!   nosniff`, `Referrer-Policy: same-origin`.
//! - `Strict-Transport-Security` only when served over HTTPS (a plain-HTTP LAN page must not
//!   tell a browser to insist on HTTPS for that host).

use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};

/// The policy every page is served with.
pub const CONTENT_SECURITY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// HSTS for a year when served over HTTPS.
pub const TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Sets the headers above on `headers` (`https`: the server speaks TLS).
pub fn apply(headers: &mut HeaderMap, https: bool) {
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if https {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(TRANSPORT_SECURITY),
        );
    }
}

/// The first piece of `html` that runs script the policy blocks, if any: an inline `<script>`
/// (one without `src`), an event-handler attribute (`onclick=`, `onsubmit=`, …) or a
/// `javascript:` URL. For tests of pages and templates.
pub fn inline_script(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    for (i, _) in lower.match_indices("<script") {
        let end = lower[i..].find('>').map_or(lower.len(), |e| i + e);
        if !lower[i..end].contains(" src=") {
            return Some(lower[i..end].to_owned());
        }
    }
    let bytes = lower.as_bytes();
    for (i, _) in lower.match_indices(" on") {
        let name: String = lower[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase())
            .collect();
        if name.len() > 2 && bytes.get(i + 1 + name.len()) == Some(&b'=') {
            return Some(lower[i..(i + 40).min(lower.len())].to_owned());
        }
    }
    lower
        .find("javascript:")
        .map(|i| lower[i..(i + 40).min(lower.len())].to_owned())
}

/// Every `.html` file below `dir` with the script [`inline_script`] finds in it.
pub fn templates_with_inline_script(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "html")
                && let Ok(text) = std::fs::read_to_string(&path)
                && let Some(bad) = inline_script(&text)
            {
                found.push((path, bad));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_script_is_found_and_script_files_are_not() {
        assert_eq!(
            inline_script("<script src=\"/static/app.js\" defer></script>"),
            None
        );
        assert!(inline_script("<script>alert(1)</script>").is_some());
        assert!(inline_script("<form onsubmit=\"return x()\">").is_some());
        assert!(inline_script("<a href=\"javascript:history.back()\">").is_some());
        assert_eq!(inline_script("<p class=\"online\">on the router</p>"), None);
    }

    #[test]
    fn no_template_runs_inline_script() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        assert!(dir.is_dir());
        let found = templates_with_inline_script(&dir);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn https_adds_transport_security_and_http_does_not() {
        let mut plain = HeaderMap::new();
        apply(&mut plain, false);
        assert!(plain.get(STRICT_TRANSPORT_SECURITY).is_none());
        assert_eq!(plain[X_FRAME_OPTIONS], "DENY");
        let csp = plain[CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(csp.contains("script-src 'self';") && !csp.contains("script-src 'self' 'unsafe"));
        assert!(csp.contains("frame-ancestors 'none'"));
        let mut tls = HeaderMap::new();
        apply(&mut tls, true);
        assert_eq!(tls[STRICT_TRANSPORT_SECURITY], TRANSPORT_SECURITY);
    }
}
