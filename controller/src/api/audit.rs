//! The audit log (super admins): `GET /api/audit`, newest first, paginated `{"items","next"}`.
//!
//! The ledger writes an entry in the same transaction as every change (who, when, what, on
//! what); this module only reads them. Filters: a time range, an action prefix (`voucher.`,
//! `staff.update`, `fleet.`) and an exact target.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::bounds;
use crate::api::error::{ApiResult, ErrorBody};
use crate::api::extract::{
    AdminOnly, QueryParams, fmt_time, page_request, parse_optional_time, store_err,
};
use crate::app::AppState;
use crate::store::{Actor, AuditEntry, AuditFilter};

/// Longest action prefix or target accepted in a filter.
const MAX_FILTER_LEN: usize = 200;

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub at: String,
    /// `staff`, `system` or `site`.
    pub actor_kind: String,
    /// The staff id or site id; absent for the system.
    pub actor_id: Option<String>,
    /// Dotted verb, e.g. `voucher.issue`, `staff.update`.
    pub action: String,
    pub target: String,
    pub detail: String,
}

impl From<&AuditEntry> for AuditView {
    fn from(e: &AuditEntry) -> AuditView {
        let (kind, id) = match &e.actor {
            Actor::Staff(id) => ("staff", Some(id.0.to_string())),
            Actor::System => ("system", None),
            Actor::Site(site) => ("site", Some(site.to_string())),
        };
        AuditView {
            at: fmt_time(e.at),
            actor_kind: kind.to_owned(),
            actor_id: id,
            action: e.action.clone(),
            target: e.target.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// A page of audit entries, newest first; pass `next` as `after` for the following page.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    pub next: Option<String>,
}

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// At or after.
    #[param(schema_with = bounds::time_filter)]
    pub from: Option<String>,
    /// Before.
    #[param(schema_with = bounds::time_filter)]
    pub until: Option<String>,
    /// Actions starting with this, e.g. `voucher.`.
    pub action: Option<String>,
    /// Exactly this target, e.g. `staff-2`.
    pub target: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    #[param(schema_with = bounds::cursor)]
    pub after: Option<String>,
}

/// Read the audit log.
#[utoipa::path(get, path = "/api/audit", tag = "system", params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn list_audit(
    state: State<AppState>,
    _admin: AdminOnly,
    QueryParams(q): QueryParams<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let text = |t: Option<String>| {
        t.map(|t| t.trim().chars().take(MAX_FILTER_LEN).collect::<String>())
            .filter(|t| !t.is_empty())
    };
    let filter = AuditFilter {
        from: parse_optional_time("from", q.from.as_deref())?,
        until: parse_optional_time("until", q.until.as_deref())?,
        action_prefix: text(q.action),
        target: text(q.target),
    };
    let page = page_request(q.limit, q.after)?;
    let got = state.store.audit(&filter, &page).map_err(store_err)?;
    Ok(Json(AuditPage {
        items: got.items.iter().map(AuditView::from).collect(),
        next: got.next.map(|c| c.as_str().to_owned()),
    }))
}
