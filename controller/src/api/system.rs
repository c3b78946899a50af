//! `GET /healthz` and `GET /metrics`.
//!
//! `/healthz` needs no sign-in: load balancers and `systemd` watchdogs call it; it says only
//! that the process serves and how many sites are online.
//!
//! `/metrics` (Prometheus text format) is open to clients on loopback that did not come
//! through a proxy (no `Forwarded` / `X-Forwarded-For` header): a Prometheus on the same host
//! scrapes it without a secret. Anyone else needs a super admin's bearer token (or session),
//! as for any admin endpoint. The gauges (sites online, queue depth per site) are refreshed
//! from the link when scraped, so they are never older than the scrape.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::error::{ApiResult, ErrorBody};
use crate::api::extract::AdminOnly;
use crate::app::AppState;

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics))
}

/// The process serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    pub sites_online: usize,
}

/// Liveness, without sign-in.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()),
    responses((status = 200, body = Health)))]
async fn healthz(state: State<AppState>) -> Json<Health> {
    let sites_online = state
        .fleet
        .connected_sites()
        .iter()
        .filter(|s| state.fleet.site_status(s).is_ok_and(|st| st.online))
        .count();
    Json(Health {
        status: "ok".into(),
        sites_online,
    })
}

/// Whether the request came straight from this host (not through a proxy).
fn local_scraper(parts: &Parts) -> bool {
    let proxied = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| parts.headers.contains_key(*h));
    let loopback = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(addr)| addr.ip().is_loopback());
    loopback && !proxied
}

/// Prometheus metrics: open to loopback scrapers, otherwise super admins only.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
async fn metrics(state: State<AppState>, mut parts: Parts) -> ApiResult<impl IntoResponse> {
    if !local_scraper(&parts) {
        AdminOnly::from_request_parts(&mut parts, &state).await?;
    }
    crate::fleet::refresh_metrics(&state);
    Ok((
        [(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    ))
}
