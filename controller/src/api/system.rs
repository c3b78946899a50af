//! `GET /healthz` and `GET /metrics`.
//!
//! `/healthz` needs no sign-in: load balancers and `systemd` watchdogs call it; it says only
//! that the process serves and how many sites are online.
//!
//! `/metrics` (Prometheus text format) on the main listener answers a super admin's bearer
//! token or session, or the scrape token of `metrics.token_file` (compared in constant time;
//! the file is read at each scrape, so it can be rotated in place). Nobody else, loopback or
//! not: site names and sales counts are business data. A scraper on the same host without a
//! secret uses the second listener of `metrics.listen` (loopback only, [`open_metrics`]). The
//! gauges (sites online, queue depth per site) are refreshed from the link when scraped, so
//! they are never older than the scrape.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
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

/// Most bytes of a scrape token file.
const MAX_TOKEN_FILE: u64 = 4096;
/// Fewest characters of a scrape token.
pub const MIN_SCRAPE_TOKEN: usize = 16;

/// Whether the request's bearer token is the scrape token of `metrics.token_file`.
fn scrape_token_matches(state: &AppState, parts: &Parts) -> ApiResult<bool> {
    let Some(path) = &state.config.metrics.token_file else {
        return Ok(false);
    };
    let Some(presented) = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Ok(false);
    };
    let unreadable = |why: String| {
        tracing::error!(path = %path.display(), "metrics token file: {why}");
        ApiError::new(
            ErrorCode::Internal,
            "the metrics token file cannot be read; see the controller's log",
        )
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| {
            std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_TOKEN_FILE), &mut text)
        })
        .map_err(|e| unreadable(e.to_string()))?;
    let wanted = text.trim();
    if wanted.len() < MIN_SCRAPE_TOKEN {
        return Err(unreadable(format!(
            "the token has fewer than {MIN_SCRAPE_TOKEN} characters"
        )));
    }
    Ok(bool::from(subtle::ConstantTimeEq::ct_eq(
        wanted.as_bytes(),
        presented.trim().as_bytes(),
    )))
}

/// Prometheus metrics: super admins, or the scrape token of `metrics.token_file`.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
async fn metrics(state: State<AppState>, mut parts: Parts) -> ApiResult<impl IntoResponse> {
    if !scrape_token_matches(&state, &parts)? {
        AdminOnly::from_request_parts(&mut parts, &state).await?;
    }
    Ok(render(&state))
}

fn render(state: &AppState) -> impl IntoResponse + use<> {
    crate::fleet::refresh_metrics(state);
    (
        [(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
}

/// `/metrics` without sign-in, for the loopback listener of `metrics.listen` (the config
/// refuses any other address).
pub async fn open_metrics(state: State<AppState>) -> impl IntoResponse {
    render(&state)
}
