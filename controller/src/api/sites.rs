//! Sites and their agents (super admins): `GET/POST /api/sites`,
//! `POST /api/sites/{id}/enrollment` (a one-time token, shown once) and
//! `POST /api/sites/{id}/revoke`.
//!
//! The token and revocation logic is shared with the command line in `fleet::sites`; this
//! module adds the link's view of each site (online, last seen, outbox depth). Revoking closes
//! the site's open connection at once and refuses its certificates from then on; it is in the
//! audit log with who and when.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hotspot_pki::SiteId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::bounds;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{
    AdminOnly, JsonBody, OptionalJsonBody, PathParam, QueryParams, fmt_time, page_request,
    store_err,
};
use crate::app::AppState;
use crate::fleet::sites::{
    self as ops, DEFAULT_TOKEN_VALIDITY, SiteOpError, controller_address, issue_token,
};
use crate::store::Site;

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sites, create_site))
        .routes(routes!(create_enrollment))
        .routes(routes!(revoke_site))
}

/// A site as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    /// Vouchers made at the site start with this.
    pub code_prefix: String,
    pub revoked: bool,
    /// The agent is connected and was heard from recently.
    pub online: bool,
    /// When the current connection was made (RFC 3339).
    pub connected_since: Option<String>,
    /// When the agent was last heard from, by this controller process.
    pub last_seen: Option<String>,
    /// Commands waiting for the agent's acknowledgement.
    pub outbox_depth: u64,
    pub outbox_max: u64,
    pub routers: usize,
    /// The last time lost link state was found for this site, or a heal finished.
    pub last_heal: Option<HealView>,
}

/// A heal after lost link state (a wiped or restored data directory on either side).
#[derive(Debug, Serialize, ToSchema)]
pub struct HealView {
    /// RFC 3339.
    pub at: String,
    /// `fleet.heal.lost` (found, healing), `fleet.heal.inventory` (the site's inventory
    /// arrived) or `fleet.heal.done`.
    pub action: String,
    pub detail: String,
}

fn unix(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn view(state: &AppState, s: &Site) -> ApiResult<SiteView> {
    let status = state.fleet.site_status(&s.id).map_err(ApiError::internal)?;
    let routers = state.store.routers(Some(&s.id)).map_err(store_err)?.len();
    Ok(SiteView {
        id: s.id.to_string(),
        name: s.name.clone(),
        created_at: fmt_time(s.created_at),
        code_prefix: s.code_prefix.clone(),
        revoked: s.revoked,
        online: status.online,
        connected_since: status.connected_since.map(|t| fmt_time(unix(t))),
        last_seen: status.last_seen.map(|t| fmt_time(unix(t))),
        outbox_depth: status.outbox_len,
        outbox_max: status.outbox_max,
        routers,
        last_heal: crate::fleet::heal::last_heal(state, &s.id)
            .map_err(store_err)?
            .map(|e| HealView {
                at: fmt_time(e.at),
                action: e.action,
                detail: e.detail,
            }),
    })
}

/// Sites, one page.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteList {
    pub items: Vec<SiteView>,
    pub next: Option<String>,
}

/// Paging of the site list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SiteQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    #[param(schema_with = bounds::cursor)]
    pub after: Option<String>,
}

/// List sites with their agents' link status.
#[utoipa::path(get, path = "/api/sites", tag = "sites", params(SiteQuery),
    responses(
        (status = 200, body = SiteList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
async fn list_sites(
    state: State<AppState>,
    _admin: AdminOnly,
    QueryParams(q): QueryParams<SiteQuery>,
) -> ApiResult<Json<SiteList>> {
    let page = page_request(q.limit, q.after)?;
    let limit = if page.limit == 0 {
        crate::store::DEFAULT_PAGE
    } else {
        page.limit
    };
    let mut sites = state.store.sites().map_err(store_err)?;
    sites.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(after) = &page.after {
        sites.retain(|s| s.id.as_str() > after.as_str());
    }
    let more = sites.len() > limit;
    sites.truncate(limit);
    let items = sites
        .iter()
        .map(|s| view(&state, s))
        .collect::<ApiResult<Vec<_>>>()?;
    let next = more.then(|| items.last().map(|v| v.id.clone())).flatten();
    Ok(Json(SiteList { items, next }))
}

/// A site to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSite {
    /// 1 to 64 of `a-z`, `0-9` and `-`, not starting with `-` (named in the agent's
    /// certificate).
    #[schema(schema_with = bounds::site_id)]
    pub id: String,
    #[schema(schema_with = bounds::name)]
    pub name: String,
}

/// Create a site (then make an enrollment token for its agent).
#[utoipa::path(post, path = "/api/sites", tag = "sites", request_body = CreateSite,
    responses(
        (status = 201, body = SiteView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The id is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub(crate) async fn create_site(
    state: State<AppState>,
    admin: AdminOnly,
    JsonBody(req): JsonBody<CreateSite>,
) -> ApiResult<(StatusCode, Json<SiteView>)> {
    let id: SiteId = req
        .id
        .parse()
        .map_err(|e: hotspot_pki::SiteIdError| ApiError::invalid_field("id", e.to_string()))?;
    let name = bounds::text("name", &req.name, bounds::MAX_NAME, false)?;
    let site = state
        .store
        .create_site(id, &name, &admin.stamp(state.now()))
        .map_err(store_err)?
        .durable()
        .await
        .map_err(store_err)?;
    Ok((StatusCode::CREATED, Json(view(&state, &site)?)))
}

// The schema's bound on `valid_hours` (attributes take literals only).
const _: () = assert!(crate::fleet::sites::MAX_TOKEN_VALIDITY.as_secs() == 720 * 3600);

/// Options of a new enrollment token.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRequest {
    /// Lifetime in hours (default 24).
    #[schema(minimum = 1, maximum = 720)]
    pub valid_hours: Option<u64>,
}

/// A one-time enrollment token. It is shown only now; the controller keeps only its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentToken {
    pub site_id: String,
    pub token: String,
    /// What to run at the site.
    pub command: String,
    pub expires_at: String,
}

fn site_op_err(e: SiteOpError) -> ApiError {
    match e {
        e @ SiteOpError::NotFound(_) => {
            ApiError::not_found(e.to_string().trim_end_matches(" not found"))
        }
        e @ SiteOpError::Revoked(_) => ApiError::conflict(e.to_string()),
        e @ SiteOpError::BadValidity => ApiError::invalid_field("valid_hours", e.to_string()),
        SiteOpError::Store(e) => store_err(e),
    }
}

fn site_id(text: &str) -> ApiResult<SiteId> {
    text.parse()
        .map_err(|_| ApiError::not_found(format!("site {text}")))
}

/// Make a one-time enrollment token for the site's agent.
#[utoipa::path(post, path = "/api/sites/{id}/enrollment", tag = "sites",
    params(("id" = String, Path, description = "Site id")),
    request_body(content = Option<EnrollmentRequest>, description = "Optional"),
    responses(
        (status = 201, body = EnrollmentToken),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The site is revoked", body = ErrorBody),
    ))]
pub(crate) async fn create_enrollment(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam(id): PathParam<String>,
    OptionalJsonBody(req): OptionalJsonBody<EnrollmentRequest>,
) -> ApiResult<(StatusCode, Json<EnrollmentToken>)> {
    let site = site_id(&id)?;
    let req = req.unwrap_or_default();
    let valid_for = match req.valid_hours {
        None => DEFAULT_TOKEN_VALIDITY,
        Some(h) => Duration::from_secs(h.saturating_mul(3600)),
    };
    let fingerprint =
        crate::fleet::pki::ca_fingerprint(&state.config).map_err(ApiError::internal)?;
    let issued = issue_token(
        state.store.as_ref(),
        fingerprint,
        &controller_address(&state.config),
        &site,
        valid_for,
        &admin.stamp(state.now()),
    )
    .await
    .map_err(site_op_err)?;
    let answer = EnrollmentToken {
        site_id: issued.site.to_string(),
        token: issued.token,
        command: issued.command,
        expires_at: fmt_time(issued.expires_at.unix_timestamp()),
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// What revoking did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revocation {
    pub site_id: String,
    pub revoked: bool,
    /// Certificate serials now refused (hex).
    pub serials: Vec<String>,
    /// Open connections closed now.
    pub connections_closed: usize,
    pub already_revoked: bool,
}

/// Revoke the site: its certificates are refused from now on and its open connection closed.
#[utoipa::path(post, path = "/api/sites/{id}/revoke", tag = "sites",
    params(("id" = String, Path, description = "Site id")),
    responses(
        (status = 200, body = Revocation),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn revoke_site(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam(id): PathParam<String>,
) -> ApiResult<Json<Revocation>> {
    let site = site_id(&id)?;
    let stamp = admin.stamp(state.now());
    let done = ops::revoke_site(state.store.as_ref(), Some(&state.fleet), &site, &stamp)
        .await
        .map_err(site_op_err)?;
    tracing::info!(%site, closed = done.closed, by = %stamp.actor, "site revoked");
    Ok(Json(Revocation {
        site_id: done.site.to_string(),
        revoked: true,
        serials: done.serials.iter().map(ToString::to_string).collect(),
        connections_closed: done.closed,
        already_revoked: done.already,
    }))
}
