//! The voucher ledger: `/admin/vouchers` filters (site, router, package, staff, state, issued
//! from / until) and pages through every voucher with state badges, through the API's
//! `all_tokens`; `POST /admin/vouchers/{code}/revoke` (confirmed in the browser) runs the API's
//! `revoke_token` and comes back to the same filtered page.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hotspot_shared::domain::VoucherState;
use hotspot_ui::{Flash, Layout};
use serde::Deserialize;

use super::common::{Done, FormError, api_admin, sentence, when};
use crate::api::extract::{OptionalJsonBody, PathParam, QueryParams, parse_time, store_err};
use crate::api::tokens::{AllQuery, StateName, VoucherView};
use crate::app::AppState;
use crate::web::error::{PageResult, redirect};
use crate::web::layout::layout_for;
use crate::web::render::{render, urlencode};
use crate::web::session::{AdminViewer, CsrfForm};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/vouchers", get(list))
        .route("/admin/vouchers/{code}/revoke", post(revoke))
}

/// Rows per page.
const PAGE: usize = 50;

/// The filters as the query string carries them (empty = any).
#[derive(Debug, Default, Deserialize, Clone)]
pub struct Filter {
    #[serde(default)]
    pub site: String,
    #[serde(default)]
    pub router: String,
    #[serde(default)]
    pub package: String,
    #[serde(default)]
    pub staff: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub after: String,
    pub done: Option<String>,
}

impl Filter {
    /// The query string of these filters (without `after` and `done`).
    pub fn query(&self) -> String {
        [
            ("site", &self.site),
            ("router", &self.router),
            ("package", &self.package),
            ("staff", &self.staff),
            ("state", &self.state),
            ("from", &self.from),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }

    fn id(field: &str, text: &str) -> Result<Option<u64>, FormError> {
        match text.trim() {
            "" => Ok(None),
            t => t
                .parse()
                .map(Some)
                .map_err(|_| FormError::new(field, format!("Choose a {field} from the list"))),
        }
    }

    fn api_query(&self) -> Result<AllQuery, FormError> {
        let state = match self.state.trim() {
            "" => None,
            s => Some(
                VoucherState::parse(s)
                    .map(StateName::from)
                    .ok_or_else(|| FormError::new("state", "Choose a state from the list"))?,
            ),
        };
        let date = |field: &str, t: &str| -> Result<Option<String>, FormError> {
            let t = t.trim();
            if t.is_empty() {
                return Ok(None);
            }
            parse_time(field, t)
                .map(|_| Some(t.to_owned()))
                .map_err(|_| FormError::new(field, "Dates are written 2026-05-31"))
        };
        Ok(AllQuery {
            site_id: Some(self.site.trim().to_owned()).filter(|s| !s.is_empty()),
            staff_id: Self::id("staff", &self.staff)?,
            state,
            router_id: Self::id("router", &self.router)?,
            package_id: Self::id("package", &self.package)?,
            from: date("from", &self.from)?,
            until: date("until", &self.until)?,
            limit: Some(PAGE),
            after: Some(self.after.trim().to_owned()).filter(|a| !a.is_empty()),
        })
    }
}

/// One voucher row.
pub struct Line {
    pub code: String,
    pub state: &'static str,
    pub reason: String,
    pub package: String,
    pub price: String,
    pub router: String,
    pub site: String,
    pub staff: String,
    pub issued: String,
    pub revocable: bool,
}

/// `(value, label)` options of a select.
type Options = Vec<(String, String)>;

#[derive(Template)]
#[template(path = "admin/vouchers.html")]
struct ListPage {
    layout: Layout,
    filter: Filter,
    sites: Options,
    routers: Options,
    packages: Options,
    staff: Options,
    states: Vec<&'static str>,
    lines: Vec<Line>,
    error: FormError,
    /// Query of the current filters, for links (`&`-joined, may be empty).
    query: String,
    next: Option<String>,
    /// Where a revoke comes back to.
    back: String,
}

fn state_str(s: StateName) -> &'static str {
    VoucherState::from(s).as_str()
}

const DONE: &[(&str, &str)] = &[(
    "revoked",
    "The voucher is revoked; its removal from the router is queued.",
)];

async fn list(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(filter): Query<Filter>,
) -> PageResult {
    draw(&state, &admin, filter, None).await
}

async fn draw(
    state: &AppState,
    admin: &AdminViewer,
    filter: Filter,
    flash: Option<Flash>,
) -> PageResult {
    let store = &state.store;
    let mut sites: Options = store
        .sites()
        .map_err(store_err)?
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect();
    sites.sort();
    let router_rows = store.routers(None).map_err(store_err)?;
    let router_names: BTreeMap<u64, String> = router_rows
        .iter()
        .map(|r| (r.id.0, r.name.clone()))
        .collect();
    let staff_rows = store.staff_list().map_err(store_err)?;
    let staff_names: BTreeMap<u64, String> = staff_rows
        .iter()
        .map(|s| (s.id.0, s.username.clone()))
        .collect();
    let packages: Options = store
        .packages(true)
        .map_err(store_err)?
        .iter()
        .map(|p| (p.package.id.0.to_string(), p.package.name.clone()))
        .collect();
    let mut error = FormError::default();
    let mut lines = Vec::new();
    let mut next = None;
    let listed = match filter.api_query() {
        Ok(q) => {
            crate::api::tokens::all_tokens(State(state.clone()), api_admin(admin), QueryParams(q))
                .await
                .map_err(|e| FormError::of(&e))
        }
        Err(e) => Err(e),
    };
    match listed {
        Ok(page) => {
            let page = page.0;
            next = page.next;
            lines = page
                .items
                .iter()
                .map(|v: &VoucherView| Line {
                    code: v.code.clone(),
                    state: state_str(v.state),
                    reason: v.reason.clone().unwrap_or_default(),
                    package: v.package.clone(),
                    price: v.price.formatted.clone(),
                    router: router_names
                        .get(&v.router_id)
                        .cloned()
                        .unwrap_or_else(|| format!("router {}", v.router_id)),
                    site: v.site_id.clone(),
                    staff: staff_names
                        .get(&v.staff_id)
                        .cloned()
                        .unwrap_or_else(|| format!("staff {}", v.staff_id)),
                    issued: time::OffsetDateTime::parse(
                        &v.issued_at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map(|t| when(t.unix_timestamp()))
                    .unwrap_or_else(|_| v.issued_at.clone()),
                    revocable: matches!(
                        v.state,
                        StateName::Issued
                            | StateName::Queued
                            | StateName::Active
                            | StateName::InUse
                    ),
                })
                .collect();
        }
        Err(e) => error = e,
    }
    let query = filter.query();
    let mut back = format!("/admin/vouchers?{query}");
    if !filter.after.is_empty() {
        back.push_str(&format!("&after={}", urlencode(&filter.after)));
    }
    let done = Done {
        done: filter.done.clone(),
    };
    let status = error.status();
    let page = ListPage {
        layout: layout_for(admin, "Vouchers").with_flash(flash.or_else(|| done.flash(DONE))),
        filter,
        sites,
        routers: router_rows
            .iter()
            .map(|r| (r.id.0.to_string(), format!("{} ({})", r.name, r.site)))
            .collect(),
        packages,
        staff: staff_rows
            .iter()
            .map(|s| (s.id.0.to_string(), s.username.clone()))
            .collect(),
        states: VoucherState::ALL.iter().map(|s| s.as_str()).collect(),
        lines,
        error,
        query,
        next,
        back,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    back: String,
}

async fn revoke(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(code): Path<String>,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> PageResult {
    // Only back to the ledger page (no open redirect).
    let back = if form.back.starts_with("/admin/vouchers?") && !form.back.contains(['\r', '\n']) {
        form.back.clone()
    } else {
        "/admin/vouchers?".to_owned()
    };
    let reason = form.reason.trim();
    let body = crate::api::tokens::RevokeRequest {
        reason: (!reason.is_empty()).then(|| reason.to_owned()),
    };
    match crate::api::tokens::revoke_token(
        State(state.clone()),
        api_admin(&admin),
        PathParam(code.clone()),
        OptionalJsonBody(Some(body)),
    )
    .await
    {
        Ok(_) => {
            let sep = if back.ends_with('?') { "" } else { "&" };
            Ok(redirect(&format!("{back}{sep}done=revoked")))
        }
        Err(e) => {
            let flash = Flash::error(format!(
                "Voucher {code} was not revoked: {}",
                sentence(e.message())
            ));
            let filter: Filter = back
                .split_once('?')
                .and_then(|(_, q)| serde_urlencoded::from_str(q).ok())
                .unwrap_or_default();
            draw(&state, &admin, filter, Some(flash)).await
        }
    }
}
