//! Selling, for staff (and super admins, who may sell on every router):
//! - `GET /staff` — choose router (only those assigned to the staff member) and package, how
//!   many, and whether passwords differ from codes;
//! - `POST /staff/generate` — the same service as `POST /api/tokens/generate`
//!   ([`crate::api::tokens::issue`]), without waiting for the router: the browser goes on to
//!   the batch page at once;
//! - `GET /staff/batch?router=&package=&at=` — the batch: each voucher's state, live
//!   (`/staff/batch/status`, JSON, polled by `app.js`), copy buttons, print;
//! - `GET /staff/vouchers` — "my vouchers", newest first, paged by the ledger's cursor.
//!
//! A batch is named by what the ledger indexes — issuing staff member, router, package and
//! the second it was issued (one `now` for the whole batch) — so its page survives restarts and
//! needs no server-side state.

use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hotspot_shared::domain::{PackageId, RouterId, StaffId, VoucherState};
use hotspot_ui::{Flash, Layout, fmt};
use serde::{Deserialize, Serialize};

use super::error::{PageResult, WebError, redirect};
use super::layout::layout_for;
use super::render::{render, urlencode};
use super::session::{CsrfForm, Viewer};
use crate::api::extract::{fmt_time, parse_time, store_err};
use crate::api::tokens::{GenerateRequest, PasswordMode, issue};
use crate::app::AppState;
use crate::store::{
    Cursor, MAX_PAGE, PackageRecord, PageRequest, RouterRecord, VoucherFilter, VoucherRecord,
};

/// Most vouchers a batch page lists (and a sheet prints).
pub const MAX_BATCH_SHOWN: usize = hotspot_ui::sheet::MAX_CARDS;
/// Vouchers per "my vouchers" page.
const PAGE_SIZE: usize = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff", get(sell))
        .route("/staff/generate", post(generate))
        .route("/staff/batch", get(batch))
        .route("/staff/batch/status", get(batch_status))
        .route("/staff/vouchers", get(my_vouchers))
}

/// A router as a choice in a form.
pub struct RouterOption {
    pub id: u64,
    pub label: String,
    pub selected: bool,
}

/// A package as a choice in a form.
pub struct PackageOption {
    pub id: u64,
    pub label: String,
    pub selected: bool,
}

/// Routers the viewer may sell on (admins: all).
pub fn routers_for(state: &AppState, viewer: &Viewer) -> Result<Vec<RouterRecord>, WebError> {
    let routers = if viewer.is_admin() {
        state.store.routers(None)
    } else {
        state.store.routers_of_staff(viewer.staff_id())
    };
    let mut routers = routers.map_err(store_err)?;
    routers.retain(|r| viewer.can_see_router(r.id.0));
    routers.sort_by_key(|r| r.id.0);
    Ok(routers)
}

fn router_label(state: &AppState, r: &RouterRecord) -> String {
    let online = state.fleet.site_status(&r.site).is_ok_and(|s| s.online);
    let place = if r.location.is_empty() {
        r.site.to_string()
    } else {
        r.location.clone()
    };
    let offline = if online { "" } else { " (site offline)" };
    format!("{} — {place}{offline}", r.name)
}

/// Words for a package's limits: `1 h · 1 GB · valid 1 d`.
pub fn limits_words(uptime: Option<u64>, bytes: Option<u64>, validity: Option<u64>) -> String {
    let mut parts = Vec::new();
    if let Some(s) = uptime {
        parts.push(fmt::duration(s));
    }
    if let Some(b) = bytes {
        parts.push(fmt::bytes(b));
    }
    if let Some(v) = validity {
        parts.push(format!("valid {}", fmt::duration(v)));
    }
    if parts.is_empty() {
        "no limits".to_owned()
    } else {
        parts.join(" · ")
    }
}

fn package_label(p: &PackageRecord) -> String {
    let p = &p.package;
    let limits = limits_words(
        p.time_limit.map(|d| d.as_secs()),
        p.data_limit,
        p.validity.map(|d| d.as_secs()),
    );
    format!("{} — {} ({limits})", p.name, fmt::money(&p.price))
}

#[derive(Template)]
#[template(path = "staff/sell.html")]
struct SellPage {
    layout: Layout,
    routers: Vec<RouterOption>,
    packages: Vec<PackageOption>,
    count: u32,
    max_batch: u32,
    separate: bool,
}

#[derive(Deserialize, Default)]
struct SellQuery {
    router: Option<u64>,
    package: Option<u64>,
}

async fn sell(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<SellQuery>,
) -> PageResult {
    let form = GenerateForm {
        router_id: q.router.unwrap_or(0),
        package_id: q.package.unwrap_or(0),
        count: Some(1),
        password: None,
    };
    sell_page(&state, &viewer, &form, None).map(|p| render(&p))
}

fn sell_page(
    state: &AppState,
    viewer: &Viewer,
    form: &GenerateForm,
    flash: Option<Flash>,
) -> Result<SellPage, WebError> {
    let e = |e: WebError| e.with_viewer(viewer);
    let routers = routers_for(state, viewer).map_err(e)?;
    let packages = state
        .store
        .packages(false)
        .map_err(|x| e(store_err(x).into()))?;
    let flash = flash.or_else(|| {
        if routers.is_empty() {
            Some(Flash::info(
                "No router is assigned to you yet: ask your administrator.",
            ))
        } else if packages.is_empty() {
            Some(Flash::info("No package is on sale yet."))
        } else {
            None
        }
    });
    Ok(SellPage {
        layout: layout_for(viewer, "Sell vouchers").with_flash(flash),
        routers: routers
            .iter()
            .map(|r| RouterOption {
                id: r.id.0,
                label: router_label(state, r),
                selected: r.id.0 == form.router_id,
            })
            .collect(),
        packages: packages
            .iter()
            .map(|p| PackageOption {
                id: p.package.id.0,
                label: package_label(p),
                selected: p.package.id.0 == form.package_id,
            })
            .collect(),
        count: form.count.unwrap_or(1),
        max_batch: state.config.vouchers.max_batch.get(),
        separate: form.password.as_deref() == Some("separate"),
    })
}

#[derive(Deserialize)]
struct GenerateForm {
    #[serde(default)]
    router_id: u64,
    #[serde(default)]
    package_id: u64,
    count: Option<u32>,
    password: Option<String>,
}

async fn generate(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<GenerateForm>,
) -> PageResult {
    let again = |status: StatusCode, message: String| -> PageResult {
        let page = sell_page(&state, &viewer, &form, Some(Flash::error(message)))?;
        Ok((status, render(&page)).into_response())
    };
    if form.router_id == 0 || form.package_id == 0 {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a router and a package.".into(),
        );
    }
    let req = GenerateRequest {
        router_id: form.router_id,
        package_id: form.package_id,
        count: form.count,
        prefix: None,
        length: None,
        password: Some(if form.password.as_deref() == Some("separate") {
            PasswordMode::Separate
        } else {
            PasswordMode::Same
        }),
    };
    match issue(&state, &viewer, req, false).await {
        Ok(done) => {
            let at = done
                .vouchers
                .first()
                .and_then(|v| parse_time("at", &v.issued_at).ok())
                .unwrap_or_else(|| state.now());
            Ok(redirect(&format!(
                "/staff/batch?router={}&package={}&at={at}",
                done.router_id, done.package_id
            )))
        }
        Err(e) => again(e.status(), e.message().to_owned()),
    }
}

/// Which batch (see the module comment).
#[derive(Deserialize, Serialize, Clone, Copy, Debug)]
pub struct BatchKey {
    pub router: u64,
    pub package: u64,
    /// Unix seconds of issue.
    pub at: i64,
    /// Issuing staff member (admins looking at someone else's batch); default the viewer.
    pub staff: Option<u64>,
}

impl BatchKey {
    pub fn query(&self) -> String {
        let staff = self
            .staff
            .map(|s| format!("&staff={s}"))
            .unwrap_or_default();
        format!(
            "router={}&package={}&at={}{staff}",
            self.router, self.package, self.at
        )
    }
}

/// The vouchers of a batch the viewer may see (staff: only their own), at most
/// [`MAX_BATCH_SHOWN`].
pub fn batch_vouchers(
    state: &AppState,
    viewer: &Viewer,
    key: &BatchKey,
) -> Result<Vec<VoucherRecord>, WebError> {
    let staff = match key.staff {
        Some(s) if viewer.is_admin() => s,
        Some(s) if s != viewer.staff_id().0 => {
            return Err(WebError::forbidden(
                "These are another staff member's vouchers.",
            ));
        }
        _ => viewer.staff_id().0,
    };
    let filter = VoucherFilter {
        router: Some(RouterId(key.router)),
        package: Some(PackageId(key.package)),
        staff: Some(StaffId(staff)),
        from: Some(key.at),
        until: Some(key.at.saturating_add(1)),
        ..VoucherFilter::default()
    };
    collect(state, &filter, MAX_BATCH_SHOWN)
}

/// Pages through the ledger until `max` vouchers or the end.
pub fn collect(
    state: &AppState,
    filter: &VoucherFilter,
    max: usize,
) -> Result<Vec<VoucherRecord>, WebError> {
    let mut out = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = PageRequest {
            limit: MAX_PAGE.min(max - out.len()).max(1),
            after: after.take(),
        };
        let got = state
            .store
            .list_vouchers(filter, &page)
            .map_err(store_err)?;
        out.extend(got.items);
        match got.next {
            Some(next) if out.len() < max => after = Some(next),
            _ => break,
        }
    }
    out.truncate(max);
    // The ledger lists newest first; a batch reads best in issue order.
    out.reverse();
    Ok(out)
}

/// Router names by id.
pub type RouterNames = std::collections::HashMap<u64, String>;

/// Every router's name (a missing ledger answer shows ids instead).
pub fn router_names(state: &AppState) -> RouterNames {
    state
        .store
        .routers(None)
        .map(|rs| rs.into_iter().map(|r| (r.id.0, r.name)).collect())
        .unwrap_or_default()
}

/// One row of a voucher table.
pub struct VoucherRow {
    pub code: String,
    /// Shown only when it differs from the code.
    pub password: Option<String>,
    pub package: String,
    pub price: String,
    pub state: &'static str,
    pub reason: String,
    /// The router's name (its id when unknown).
    pub router: String,
    pub issued: String,
    pub used: String,
}

impl VoucherRow {
    pub fn of(v: &VoucherRecord, routers: &RouterNames) -> VoucherRow {
        VoucherRow {
            code: v.code.clone(),
            password: (v.password != v.code).then(|| v.password.clone()),
            package: v.package_name.clone(),
            price: fmt::money(&v.price),
            state: v.state.as_str(),
            reason: v.reason.clone().unwrap_or_default(),
            router: routers
                .get(&v.router.0)
                .cloned()
                .unwrap_or_else(|| format!("router {}", v.router.0)),
            issued: fmt_time(v.issued_at).replace('T', " ").replace('Z', " UTC"),
            used: if v.uptime_secs == 0 && v.bytes_in + v.bytes_out == 0 {
                String::new()
            } else {
                format!(
                    "{} · {}",
                    fmt::duration(v.uptime_secs),
                    fmt::bytes(v.bytes_in.saturating_add(v.bytes_out))
                )
            },
        }
    }
}

/// How far a batch is: counts by state, and whether anything still waits for the router.
#[derive(Serialize, Default, Debug)]
pub struct Progress {
    pub total: usize,
    pub active: usize,
    pub waiting: usize,
    pub failed: usize,
    pub other: usize,
}

impl Progress {
    pub fn of(vouchers: &[VoucherRecord]) -> Progress {
        let mut p = Progress {
            total: vouchers.len(),
            ..Progress::default()
        };
        for v in vouchers {
            match v.state {
                VoucherState::Active | VoucherState::InUse => p.active += 1,
                VoucherState::Issued | VoucherState::Queued => p.waiting += 1,
                VoucherState::Failed => p.failed += 1,
                _ => p.other += 1,
            }
        }
        p
    }

    pub fn percent(&self) -> usize {
        (self.total - self.waiting) * 100 / self.total.max(1)
    }

    pub fn summary(&self) -> String {
        if self.waiting == 0 && self.failed == 0 {
            format!("All {} on the router and ready to sell.", self.total)
        } else if self.waiting == 0 {
            format!(
                "Done: {} ready, {} failed (see the reasons below).",
                self.active, self.failed
            )
        } else {
            format!(
                "{} of {} on the router; {} waiting for the router…",
                self.active, self.total, self.waiting
            )
        }
    }
}

#[derive(Template)]
#[template(path = "staff/batch.html")]
struct BatchPage {
    layout: Layout,
    rows: Vec<VoucherRow>,
    progress: Progress,
    query: String,
    package: String,
    /// Some voucher's password differs from its code: a password column.
    separate: bool,
}

async fn batch(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(key): Query<BatchKey>,
) -> PageResult {
    let vouchers = batch_vouchers(&state, &viewer, &key).map_err(|e| e.with_viewer(&viewer))?;
    if vouchers.is_empty() {
        return Err(
            WebError::not_found("No vouchers of yours match this batch.").with_viewer(&viewer),
        );
    }
    let site_offline = vouchers
        .first()
        .is_some_and(|v| !state.fleet.site_status(&v.site).is_ok_and(|s| s.online));
    let progress = Progress::of(&vouchers);
    let flash = site_offline.then(|| {
        Flash::info(
            "The site is offline: the vouchers are stored and queued, and reach the router \
             when the site's link is back.",
        )
    });
    let page = BatchPage {
        layout: layout_for(&viewer, "Batch").with_flash(flash),
        package: vouchers[0].package_name.clone(),
        rows: {
            let names = router_names(&state);
            vouchers.iter().map(|v| VoucherRow::of(v, &names)).collect()
        },
        separate: vouchers.iter().any(|v| v.password != v.code),
        progress,
        query: key.query(),
    };
    Ok(render(&page))
}

/// What the batch page polls.
#[derive(Serialize)]
struct BatchStatus {
    done: bool,
    progress: usize,
    fields: std::collections::BTreeMap<&'static str, String>,
    states: std::collections::BTreeMap<String, &'static str>,
    counts: Progress,
}

async fn batch_status(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(key): Query<BatchKey>,
) -> PageResult {
    let vouchers = batch_vouchers(&state, &viewer, &key)?;
    let p = Progress::of(&vouchers);
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("batch-summary", p.summary());
    fields.insert("n-active", p.active.to_string());
    fields.insert("n-waiting", p.waiting.to_string());
    fields.insert("n-failed", p.failed.to_string());
    let status = BatchStatus {
        done: p.waiting == 0,
        progress: p.percent(),
        fields,
        states: vouchers
            .iter()
            .map(|v| (v.code.clone(), v.state.as_str()))
            .collect(),
        counts: p,
    };
    Ok(Json(status).into_response())
}

#[derive(Template)]
#[template(path = "staff/vouchers.html")]
struct VouchersPage {
    layout: Layout,
    rows: Vec<VoucherRow>,
    next: Option<String>,
    first_page: bool,
    print_query: String,
    state_filter: String,
    states: Vec<(&'static str, bool)>,
}

#[derive(Deserialize)]
struct VouchersQuery {
    after: Option<String>,
    state: Option<String>,
}

async fn my_vouchers(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<VouchersQuery>,
) -> PageResult {
    let state_filter = q
        .state
        .as_deref()
        .and_then(VoucherState::parse)
        .map(VoucherState::as_str)
        .unwrap_or("");
    let filter = VoucherFilter {
        staff: Some(viewer.staff_id()),
        state: VoucherState::parse(state_filter),
        ..VoucherFilter::default()
    };
    let first_page = q.after.as_deref().is_none_or(str::is_empty);
    let page = PageRequest {
        limit: PAGE_SIZE,
        after: q.after.filter(|a| !a.is_empty()).map(Into::into),
    };
    let got = state
        .store
        .list_vouchers(&filter, &page)
        .map_err(|e| WebError::from(store_err(e)).with_viewer(&viewer))?;
    let print_query = got
        .items
        .iter()
        .map(|v| format!("code={}", urlencode(&v.code)))
        .collect::<Vec<_>>()
        .join("&");
    let page = VouchersPage {
        layout: layout_for(&viewer, "My vouchers"),
        rows: {
            let names = router_names(&state);
            got.items
                .iter()
                .map(|v| VoucherRow::of(v, &names))
                .collect()
        },
        next: got.next.map(|c| {
            let state = if state_filter.is_empty() {
                String::new()
            } else {
                format!("&state={state_filter}")
            };
            format!("/staff/vouchers?after={}{state}", urlencode(c.as_str()))
        }),
        first_page,
        print_query,
        state_filter: state_filter.to_owned(),
        states: VoucherState::ALL
            .iter()
            .map(|s| (s.as_str(), s.as_str() == state_filter))
            .collect(),
    };
    Ok(render(&page))
}
