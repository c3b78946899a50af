//! Vouchers under the seed's `/api/tokens` paths (the seed said "tokens"; this system says
//! "voucher" everywhere else):
//! - `POST /api/tokens/generate`: see [`generate`];
//! - `GET /api/tokens/my-tokens`: the caller's vouchers, filtered, paginated;
//! - `GET /api/tokens/all`: every voucher (super admins), filtered by site, router, package,
//!   staff, state and issue time, paginated `{"items","next"}`;
//! - `GET /api/tokens/{code}`: one voucher, for the staff member who issued it or an admin.
//!   Anyone else gets 404, not 403: a code is what a customer logs in with, so the API does
//!   not confirm that a code exists to someone who may not see it;
//! - `POST /api/tokens/{code}/revoke`: **super admins only** (a refund is a money decision).
//!   The ledger marks the voucher revoked first (record kept, durable), then a
//!   `RemoveVoucher` command goes to the site's durable outbox; the agent removes the hotspot
//!   user and kicks its sessions. Revoking again re-sends the removal (idempotent), which is
//!   how a removal that could not be queued is retried.

mod generate;

use axum::Json;
use axum::extract::State;
use hotspot_shared::domain::{Origin, PackageId, RemovalReason, RouterId, StaffId, VoucherState};
use hotspot_shared::fleet::msg::Command;
use hotspot_shared::units::RosDuration;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::bounds;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{
    AdminOnly, OptionalJsonBody, PathParam, Principal, QueryParams, fmt_time, page_request,
    parse_optional_time, store_err,
};
use crate::api::packages::MoneyView;
use crate::app::AppState;
use crate::store::{Transition, VoucherChange, VoucherFilter, VoucherRecord};

pub use generate::{GenerateRequest, GenerateResponse, PasswordMode, issue};

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate::generate))
        .routes(routes!(my_tokens))
        .routes(routes!(all_tokens))
        .routes(routes!(get_token))
        .routes(routes!(revoke_token))
}

/// A voucher's state as the API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StateName {
    Issued,
    Queued,
    Active,
    InUse,
    Exhausted,
    Expired,
    Removed,
    Failed,
    Revoked,
}

impl From<VoucherState> for StateName {
    fn from(s: VoucherState) -> StateName {
        use VoucherState as V;
        match s {
            V::Issued => StateName::Issued,
            V::Queued => StateName::Queued,
            V::Active => StateName::Active,
            V::InUse => StateName::InUse,
            V::Exhausted => StateName::Exhausted,
            V::Expired => StateName::Expired,
            V::Removed => StateName::Removed,
            V::Failed => StateName::Failed,
            V::Revoked => StateName::Revoked,
        }
    }
}

impl From<StateName> for VoucherState {
    fn from(s: StateName) -> VoucherState {
        VoucherState::ALL
            .into_iter()
            .find(|v| StateName::from(*v) == s)
            .unwrap_or(VoucherState::Issued)
    }
}

/// A voucher as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VoucherView {
    /// The hotspot user name customers type.
    pub code: String,
    pub password: String,
    pub state: StateName,
    /// Why it failed (the router's message) or was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The package's name when sold.
    pub package: String,
    pub package_id: u64,
    pub price: MoneyView,
    pub router_id: u64,
    pub site_id: String,
    pub staff_id: u64,
    /// `central` (this API) or `site` (the agent's local page).
    pub origin: String,
    pub issued_at: String,
    pub applied_at: Option<String>,
    pub first_login_at: Option<String>,
    /// Set at the first login when the package has a validity.
    pub expires_at: Option<String>,
    /// Limits copied from the package at issue (RouterOS forms).
    pub time_limit: Option<String>,
    pub data_limit_bytes: Option<u64>,
    pub validity: Option<String>,
    pub uptime_secs: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub updated_at: String,
}

impl From<&VoucherRecord> for VoucherView {
    fn from(v: &VoucherRecord) -> VoucherView {
        let dur = |s: Option<u64>| s.map(|s| RosDuration::from_secs(s).to_string());
        VoucherView {
            code: v.code.clone(),
            password: v.password.clone(),
            state: v.state.into(),
            reason: v.reason.clone(),
            package: v.package_name.clone(),
            package_id: v.package.0,
            price: v.price.into(),
            router_id: v.router.0,
            site_id: v.site.to_string(),
            staff_id: v.staff.0,
            origin: match v.origin {
                Origin::Central => "central".into(),
                Origin::Site => "site".into(),
            },
            issued_at: fmt_time(v.issued_at),
            applied_at: v.applied_at.map(fmt_time),
            first_login_at: v.first_login_at.map(fmt_time),
            expires_at: v.expires_at.map(fmt_time),
            time_limit: dur(v.limits.uptime_secs),
            data_limit_bytes: v.limits.bytes_total,
            validity: dur(v.limits.validity_secs),
            uptime_secs: v.uptime_secs,
            bytes_in: v.bytes_in,
            bytes_out: v.bytes_out,
            updated_at: fmt_time(v.updated_at),
        }
    }
}

/// A page of vouchers, newest first; pass `next` as `after` for the following page. A page
/// may be short (even empty) with a `next`; only `next: null` means the end.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoucherPage {
    pub items: Vec<VoucherView>,
    pub next: Option<String>,
}

/// Filters of `my-tokens`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MyQuery {
    pub state: Option<StateName>,
    #[param(schema_with = bounds::id_filter)]
    pub router_id: Option<u64>,
    #[param(schema_with = bounds::id_filter)]
    pub package_id: Option<u64>,
    /// Issued at or after.
    #[param(schema_with = bounds::time_filter)]
    pub from: Option<String>,
    /// Issued before.
    #[param(schema_with = bounds::time_filter)]
    pub until: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    #[param(schema_with = bounds::cursor)]
    pub after: Option<String>,
}

/// Filters of `all`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AllQuery {
    #[param(schema_with = bounds::site_filter)]
    pub site_id: Option<String>,
    #[param(schema_with = bounds::id_filter)]
    pub staff_id: Option<u64>,
    pub state: Option<StateName>,
    #[param(schema_with = bounds::id_filter)]
    pub router_id: Option<u64>,
    #[param(schema_with = bounds::id_filter)]
    pub package_id: Option<u64>,
    /// Issued at or after.
    #[param(schema_with = bounds::time_filter)]
    pub from: Option<String>,
    /// Issued before.
    #[param(schema_with = bounds::time_filter)]
    pub until: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    #[param(schema_with = bounds::cursor)]
    pub after: Option<String>,
}

/// The calling staff member's vouchers.
#[utoipa::path(get, path = "/api/tokens/my-tokens", tag = "tokens", params(MyQuery),
    responses(
        (status = 200, body = VoucherPage),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn my_tokens(
    state: State<AppState>,
    caller: Principal,
    QueryParams(q): QueryParams<MyQuery>,
) -> ApiResult<Json<VoucherPage>> {
    let all = AllQuery {
        site_id: None,
        staff_id: Some(caller.staff_id().0),
        state: q.state,
        router_id: q.router_id,
        package_id: q.package_id,
        from: q.from,
        until: q.until,
        limit: q.limit,
        after: q.after,
    };
    list(&state, all)
}

/// Every voucher (super admins).
#[utoipa::path(get, path = "/api/tokens/all", tag = "tokens", params(AllQuery),
    responses(
        (status = 200, body = VoucherPage),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub(crate) async fn all_tokens(
    state: State<AppState>,
    _admin: AdminOnly,
    QueryParams(q): QueryParams<AllQuery>,
) -> ApiResult<Json<VoucherPage>> {
    list(&state, q)
}

fn list(state: &AppState, q: AllQuery) -> ApiResult<Json<VoucherPage>> {
    let filter = VoucherFilter {
        site: bounds::site_filter_of(q.site_id.as_deref())?,
        router: bounds::id_filter_of("router_id", q.router_id)?.map(RouterId),
        package: bounds::id_filter_of("package_id", q.package_id)?.map(PackageId),
        staff: bounds::id_filter_of("staff_id", q.staff_id)?.map(StaffId),
        state: q.state.map(VoucherState::from),
        from: parse_optional_time("from", q.from.as_deref())?,
        until: parse_optional_time("until", q.until.as_deref())?,
    };
    let page = page_request(q.limit, q.after)?;
    let got = state
        .store
        .list_vouchers(&filter, &page)
        .map_err(store_err)?;
    Ok(Json(VoucherPage {
        items: got.items.iter().map(VoucherView::from).collect(),
        next: got.next.map(|c| c.as_str().to_owned()),
    }))
}

/// One voucher (its issuer or a super admin).
#[utoipa::path(get, path = "/api/tokens/{code}", tag = "tokens",
    params(("code" = String, Path, description = "Voucher code")),
    responses(
        (status = 200, body = VoucherView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such voucher, or not the caller's", body = ErrorBody),
    ))]
async fn get_token(
    state: State<AppState>,
    caller: Principal,
    PathParam(code): PathParam<String>,
) -> ApiResult<Json<VoucherView>> {
    let v = load_visible(&state, &caller, &code)?;
    Ok(Json(VoucherView::from(&v)))
}

fn load_visible(state: &AppState, caller: &Principal, code: &str) -> ApiResult<VoucherRecord> {
    state
        .store
        .voucher(code)
        .map_err(store_err)?
        .filter(|v| caller.can_see_voucher(v.staff.0))
        .ok_or_else(|| ApiError::not_found("voucher"))
}

/// Why a voucher is revoked (optional body).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    pub reason: Option<String>,
}

/// The revoked voucher, and whether its removal from the router is queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokeResponse {
    pub voucher: VoucherView,
    /// The `RemoveVoucher` command is in the site's durable outbox.
    pub removal_queued: bool,
}

/// Longest revocation reason kept.
const MAX_REASON: usize = 200;

/// Revoke a voucher (super admins): ledger first, then removal from the router.
#[utoipa::path(post, path = "/api/tokens/{code}/revoke", tag = "tokens",
    params(("code" = String, Path, description = "Voucher code")),
    request_body(content = RevokeRequest, description = "Optional"),
    responses(
        (status = 200, body = RevokeResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already expired or removed", body = ErrorBody),
        (status = 503, description = "Revoked in the ledger; the removal could not be \
            queued (retry)", body = ErrorBody),
    ))]
pub(crate) async fn revoke_token(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam(code): PathParam<String>,
    OptionalJsonBody(req): OptionalJsonBody<RevokeRequest>,
) -> ApiResult<Json<RevokeResponse>> {
    let req = req.unwrap_or_default();
    let reason = req
        .reason
        .map(|r| r.trim().chars().take(MAX_REASON).collect());
    let v = load_visible(&state, &admin, &code)?;
    let stamp = admin.stamp(state.now());
    let written = state
        .store
        .change_voucher(&v.code, VoucherChange::Revoke { reason }, &stamp)
        .map_err(store_err)?;
    let outcome = written.durable().await.map_err(store_err)?;
    if let Transition::Ignored(s) = outcome.transition {
        return Err(ApiError::conflict(format!(
            "voucher is {}; it is no longer on the router",
            s.as_str()
        )));
    }
    let cmd = Command::RemoveVoucher {
        router: v.router,
        code: v.code.clone(),
        reason: RemovalReason::Revoked,
    };
    if let Err(e) = state.fleet.send(&v.site, &cmd).await {
        tracing::warn!(code = %v.code, site = %v.site, error = %e, "revoked, removal not queued");
        return Err(ApiError::site_offline(format!(
            "the voucher is revoked in the ledger, but its removal from the router could not \
             be queued ({e}); revoke it again to retry"
        )));
    }
    Ok(Json(RevokeResponse {
        voucher: VoucherView::from(&outcome.record),
        removal_queued: true,
    }))
}
