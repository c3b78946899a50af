//! What every page is drawn with: [`render`] turns a template into a response, and
//! [`urlencode`] makes a value safe in a link or a redirect's query.
//!
//! Why a module of its own: the error page ([`super::error`]) and every page draw with these,
//! and the dashboard's router in [`super`] mounts all of them; kept here, below the pages and
//! the frame, none of them imports the router back.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Renders a template; a template fault (a bug) is logged and shown as a plain 500.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => Html(body).into_response(),
        Err(e) => {
            let id = format!("{:016x}", rand::random::<u64>());
            tracing::error!(error_id = %id, error = %e, "page template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(format!(
                    "<!doctype html><title>Error</title><p>This page could not be drawn \
                     (error id {id}).</p>"
                )),
            )
                .into_response()
        }
    }
}

/// Percent-encodes a query value.
pub fn urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
