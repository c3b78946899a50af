//! Reconciliation reports (super admins: they show revenue per staff member):
//! `GET /api/reports` (newest first, paginated), `GET /api/reports/{date}` as JSON, or as CSV
//! with `{date}.csv` or `?format=csv`, and `POST /api/reports/run` to reconcile now.
//!
//! The numbers come from the stored report only; JSON and CSV are two renderings of the same
//! record (`jobs::csv`), so they cannot disagree.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::bounds;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{
    AdminOnly, OptionalJsonBody, PathParam, QueryParams, fmt_time, page_request, store_err,
};
use crate::api::packages::MoneyView;
use crate::app::AppState;
use crate::jobs::reconcile::{self, parse_date};
use crate::jobs::{ReconcileError, csv, schedule};
use crate::store::{Report, Revenue, Tally};

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reports))
        .routes(routes!(run_report))
        .routes(routes!(get_report))
}

/// Sales of one package or staff member.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueView {
    pub label: String,
    pub vouchers: u64,
    pub amounts: Vec<MoneyView>,
}

impl From<&Revenue> for RevenueView {
    fn from(r: &Revenue) -> Self {
        RevenueView {
            label: r.label.clone(),
            vouchers: r.vouchers,
            amounts: r.amounts.iter().map(|m| (*m).into()).collect(),
        }
    }
}

/// Vouchers and revenue over a site or the fleet.
#[derive(Debug, Serialize, ToSchema)]
pub struct TallyView {
    pub issued_central: u64,
    pub issued_site: u64,
    pub applied: u64,
    pub used: u64,
    pub exhausted: u64,
    pub expired: u64,
    pub failed: u64,
    pub revoked: u64,
    /// Per currency; revoked and failed vouchers excluded.
    pub revenue: Vec<MoneyView>,
    /// By package id (`package-3`).
    pub by_package: BTreeMap<String, RevenueView>,
    /// By staff id (`staff-2`).
    pub by_staff: BTreeMap<String, RevenueView>,
}

impl From<&Tally> for TallyView {
    fn from(t: &Tally) -> Self {
        let map =
            |m: &BTreeMap<String, Revenue>| m.iter().map(|(k, v)| (k.clone(), v.into())).collect();
        TallyView {
            issued_central: t.issued_central,
            issued_site: t.issued_site,
            applied: t.applied,
            used: t.used,
            exhausted: t.exhausted,
            expired: t.expired,
            failed: t.failed,
            revoked: t.revoked,
            revenue: t.revenue.iter().map(|m| (*m).into()).collect(),
            by_package: map(&t.by_package),
            by_staff: map(&t.by_staff),
        }
    }
}

/// One difference between the ledger and a router.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftView {
    pub site_id: String,
    pub router_id: u64,
    /// `missing-on-router`, `unknown-on-router` or `usage-mismatch`.
    pub kind: String,
    pub code: String,
    /// What was done about it.
    pub action: String,
}

/// A daily reconciliation report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    /// The local day reported on, `YYYY-MM-DD`.
    pub date: String,
    pub generated_at: String,
    pub total: TallyView,
    pub sites: BTreeMap<String, TallyView>,
    pub drift: Vec<DriftView>,
}

impl From<&Report> for ReportView {
    fn from(r: &Report) -> Self {
        ReportView {
            date: r.date.clone(),
            generated_at: fmt_time(r.generated_at),
            total: (&r.body.total).into(),
            sites: r
                .body
                .sites
                .iter()
                .map(|(k, v)| (k.to_string(), v.into()))
                .collect(),
            drift: r
                .body
                .drift
                .iter()
                .map(|d| DriftView {
                    site_id: d.site.to_string(),
                    router_id: d.router.0,
                    kind: serde_json::to_value(d.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    code: d.code.clone(),
                    action: d.action.clone(),
                })
                .collect(),
        }
    }
}

/// Reports, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportList {
    pub items: Vec<ReportView>,
    pub next: Option<String>,
}

/// Paging of the report list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    #[param(schema_with = bounds::cursor)]
    pub after: Option<String>,
}

/// List reports, newest first.
#[utoipa::path(get, path = "/api/reports", tag = "reports", params(ReportQuery),
    responses(
        (status = 200, body = ReportList),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ))]
async fn list_reports(
    state: State<AppState>,
    _admin: AdminOnly,
    QueryParams(q): QueryParams<ReportQuery>,
) -> ApiResult<Json<ReportList>> {
    let page = state
        .store
        .reports(&page_request(q.limit, q.after)?)
        .map_err(store_err)?;
    Ok(Json(ReportList {
        items: page.items.iter().map(ReportView::from).collect(),
        next: page.next.map(|c| c.to_string()),
    }))
}

/// Format of one report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// Default `json`; a `.csv` or `.json` ending of the date wins.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// How a report is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Json,
    Csv,
}

/// One report, as JSON or CSV (`/api/reports/2026-05-01.csv` or `?format=csv`).
#[utoipa::path(get, path = "/api/reports/{date}", tag = "reports",
    params(("date" = String, Path, description = "`YYYY-MM-DD`, optionally with `.csv` or `.json`",
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:\.(?:csv|json))?$"), FormatQuery),
    responses(
        (status = 200, description = "The report: JSON, or CSV for `.csv` and `format=csv`",
            content((ReportView = "application/json"), (String = "text/csv"))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn get_report(
    state: State<AppState>,
    _admin: AdminOnly,
    PathParam(date): PathParam<String>,
    QueryParams(q): QueryParams<FormatQuery>,
) -> ApiResult<Response> {
    let not_found = || ApiError::not_found(format!("report {date}"));
    let (day, suffix) = match date.split_once('.') {
        Some((d, "csv")) => (d, Some(ReportFormat::Csv)),
        Some((d, "json")) => (d, Some(ReportFormat::Json)),
        Some(_) => return Err(not_found()),
        None => (date.as_str(), None),
    };
    let format = suffix.or(q.format).unwrap_or(ReportFormat::Json);
    let day = parse_date(day).ok_or_else(not_found)?;
    let report = state
        .store
        .report(&reconcile::date_key(day))
        .map_err(store_err)?
        .ok_or_else(not_found)?;
    match format {
        ReportFormat::Json => Ok(Json(ReportView::from(&report)).into_response()),
        ReportFormat::Csv => {
            let disposition = format!(
                "attachment; filename=\"hotspot-report-{}.csv\"",
                report.date
            );
            let headers = [
                (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (CONTENT_DISPOSITION, disposition),
            ];
            Ok((headers, csv::to_csv(&report)).into_response())
        }
    }
}

/// Which day to reconcile.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// `YYYY-MM-DD`, a local date; default today (so far).
    #[schema(schema_with = bounds::date_or_null)]
    pub date: Option<String>,
}

/// Reconcile now: count, find and repair drift, store the report (replacing that day's).
#[utoipa::path(post, path = "/api/reports/run", tag = "reports",
    request_body(content = Option<RunRequest>, description = "Optional"),
    responses(
        (status = 200, body = ReportView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub(crate) async fn run_report(
    state: State<AppState>,
    admin: AdminOnly,
    OptionalJsonBody(req): OptionalJsonBody<RunRequest>,
) -> ApiResult<Json<ReportView>> {
    let req = req.unwrap_or_default();
    let date = match &req.date {
        Some(d) => parse_date(d)
            .ok_or_else(|| ApiError::invalid_field("date", "date must be YYYY-MM-DD"))?,
        None => schedule::local_date(&state.config.jobs, state.now()),
    };
    tracing::info!(%date, by = %admin.staff_id(), "reconciliation run by hand");
    let report = reconcile::run(&state, date).await.map_err(|e| match e {
        ReconcileError::Store(e) => store_err(e),
        other => ApiError::internal(other),
    })?;
    Ok(Json(ReportView::from(&report)))
}
