//! Middleware around the whole HTTP application, outermost first:
//! - **observe**: one tracing line per request (method, route template, status, time) and
//!   `hotspot_http_requests_total{route,status}`; the route is the matched template
//!   (`/api/staff/{id}`), so label values stay bounded;
//! - **timeout**: a request that takes longer than [`request_timeout`] is answered 504
//!   `timeout` (a dashboard page gets a 504 page). Handlers whose work must not be cut in
//!   half (voucher generation) run that work in a spawned task, so dropping the request
//!   future cannot tear it;
//! - **body limit**: `http.body_limit_kib`; a larger body is 413 `payload_too_large` (the JSON
//!   extractor maps axum's rejection);
//! - **security headers** on every response (`hotspot_ui::headers`: CSP without inline script,
//!   no framing, nosniff, referrer policy; HSTS when `http.tls_cert` is set).

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};

use crate::api::error::{ApiError, ErrorCode};
use crate::app::AppState;

/// Slack beyond the longest deliberate wait (`vouchers.confirm_wait_ms`).
const TIMEOUT_SLACK: Duration = Duration::from_secs(30);

/// How long any request may take.
pub fn request_timeout(state: &AppState) -> Duration {
    TIMEOUT_SLACK + Duration::from_millis(state.config.vouchers.confirm_wait_ms)
}

/// Wraps the application in the layers above.
pub fn wrap(app: Router, state: &AppState) -> Router {
    let https = state.config.http.tls_cert.is_some();
    app.layer(DefaultBodyLimit::max(state.config.http.body_limit_bytes()))
        .layer(from_fn(move |req: Request, next: Next| async move {
            let mut response = next.run(req).await;
            hotspot_ui::headers::apply(response.headers_mut(), https);
            response
        }))
        .layer(from_fn_with_state(state.clone(), timeout))
        .layer(from_fn_with_state(state.clone(), observe))
}

async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = request_timeout(&state);
    let path = req.uri().path();
    let page = !(path.starts_with("/api") || path == "/healthz" || path == "/metrics");
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        // A dashboard page answers with a page, not JSON.
        Err(_) if page => crate::web::error::WebError::page(
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            "No answer in time",
            format!(
                "This took longer than {} s. What you sent may still be done: check before \
                 trying again.",
                limit.as_secs()
            ),
        )
        .into_response(),
        Err(_) => ApiError::new(
            ErrorCode::Timeout,
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = req.method().clone();
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status();
    state
        .metrics
        .http_requests
        .inc(&[route.as_str(), status.as_str()]);
    let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    if status.is_server_error() {
        tracing::warn!(%method, route, status = status.as_u16(), ms, "http request");
    } else {
        tracing::info!(%method, route, status = status.as_u16(), ms, "http request");
    }
    response
}
