//! The dashboard: server-rendered pages for people, beside the JSON API.
//!
//! - `/` — sign-in page (or the signed-in person's home); `POST /login`, `POST /logout`;
//! - `/static/…` — the shared UI crate's embedded stylesheet, script and icon;
//! - `/staff…` — selling: generate vouchers, watch them reach the router, print, "my vouchers"
//!   ([`staff`]); `/staff/print` and `/admin/print` — the voucher sheet ([`print`]);
//! - `/admin…` — super admins ([`admin`], filled by the admin pages);
//! - `/account…` — the signed-in person's own two-factor sign-in ([`account`]).
//!
//! Shape: templates live in `ui/templates` (the controller's `askama.toml` points there), so
//! pages extend the shared `base.html`; handlers take a [`session::Viewer`] (any signed-in
//! person) or [`session::AdminViewer`], and POST bodies through [`session::CsrfForm`], which
//! checks origin and CSRF token. Handlers call the same service functions as the API, never the
//! API over HTTP. Errors become pages ([`error::WebError`]).
//!
//! Layers: the page frame — [`layout`] (with the entries of [`nav`]), [`error`] (error pages),
//! [`render`] (a template into a response), [`viewer`] (who is looking) — knows nothing of the
//! pages inside it; [`session`] finds the viewer and answers with the frame's error pages; the
//! pages use all of these; this module only mounts the pages, and nothing imports it back.

pub mod account;
pub mod admin;
pub mod error;
pub mod layout;
mod login;
pub mod nav;
pub mod print;
pub mod render;
pub mod session;
pub mod staff;
pub mod viewer;

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;
use error::WebError;

/// All pages and the static files.
pub fn router() -> Router<AppState> {
    let pages = Router::new()
        .merge(login::routes())
        .merge(account::routes())
        .merge(staff::routes())
        .merge(print::routes())
        .merge(admin::routes())
        .layer(from_fn(session::csrf_cookie_layer));
    Router::new()
        .route("/static/{*path}", get(static_file))
        .merge(pages)
}

/// Unknown paths: JSON under the API's prefixes, a page everywhere else.
pub async fn fallback(uri: Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        crate::api::error::not_found_fallback()
            .await
            .into_response()
    } else {
        WebError::not_found("There is no page at this address.").into_response()
    }
}

/// `/static/{path}`: embedded files with a strong `ETag`; cached for a year when the link
/// carries the `?v=` fingerprint (the layout's links do), else for an hour.
async fn static_file(Path(path): Path<String>, query: RawQuery, headers: HeaderMap) -> Response {
    let Some(asset) = hotspot_ui::assets::get(&path) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let cache = if query.0.is_some_and(|q| q.starts_with("v=")) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    let etag = HeaderValue::from_str(&asset.etag).ok();
    let fresh = headers
        .get(IF_NONE_MATCH)
        .zip(etag.as_ref())
        .is_some_and(|(a, b)| a == b);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(CONTENT_TYPE, asset.content_type)],
            asset.body.into_owned(),
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Some(etag) = etag {
        h.insert(ETAG, etag);
    }
    response
}
