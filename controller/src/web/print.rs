//! The printable voucher sheet (`hotspot_ui::sheet`), for vouchers the viewer may see:
//! - `GET /staff/print?code=A&code=B…` or `?router=&package=&at=` (a batch): the viewer's own
//!   vouchers;
//! - `GET /admin/print?…` (super admins): the same, for any staff member's vouchers (`staff=`
//!   names whose batch).
//!
//! Each card's QR code opens the hotspot's login page with the code filled in
//! ([`hotspot_ui::login_url`]): `vouchers.hotspot_login_url` from the config, else
//! [`hotspot_ui::sheet::DEFAULT_LOGIN_BASE`] (the router records do not carry the hotspot's
//! DNS name yet).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use hotspot_pki::SiteId;
use hotspot_ui::{Card, fmt, login_url, render_sheet};

use super::error::{PageResult, WebError};
use super::session::{AdminViewer, Viewer};
use super::staff::{BatchKey, MAX_BATCH_SHOWN, batch_vouchers, limits_words};
use crate::api::extract::store_err;
use crate::app::AppState;
use crate::store::VoucherRecord;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/print", get(staff_print))
        .route("/admin/print", get(admin_print))
}

async fn staff_print(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(q): RawQuery,
) -> PageResult {
    sheet(&state, &viewer, q.as_deref().unwrap_or("")).map_err(|e| e.with_viewer(&viewer))
}

async fn admin_print(
    State(state): State<AppState>,
    admin: AdminViewer,
    RawQuery(q): RawQuery,
) -> PageResult {
    sheet(&state, &admin, q.as_deref().unwrap_or("")).map_err(|e| e.with_viewer(&admin))
}

/// The vouchers a print query names: `code=` values, or a batch (`router`, `package`, `at`,
/// optional `staff`). Vouchers the viewer may not see are left out, as if they did not exist.
fn chosen(state: &AppState, viewer: &Viewer, query: &str) -> Result<Vec<VoucherRecord>, WebError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| WebError::bad_request("the print address could not be read"))?;
    let codes: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "code")
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    if codes.len() > MAX_BATCH_SHOWN {
        return Err(WebError::bad_request(format!(
            "at most {MAX_BATCH_SHOWN} vouchers fit on one sheet"
        )));
    }
    if !codes.is_empty() {
        let mut out = Vec::with_capacity(codes.len());
        for code in codes {
            if let Some(v) = state.store.voucher(code).map_err(store_err)?
                && viewer.can_see_voucher(v.staff.0)
            {
                out.push(v);
            }
        }
        return Ok(out);
    }
    let key: BatchKey = serde_urlencoded::from_str(query).map_err(|_| {
        WebError::bad_request("name the vouchers to print: code=… or a batch (router, package, at)")
    })?;
    batch_vouchers(state, viewer, &key)
}

fn sheet(state: &AppState, viewer: &Viewer, query: &str) -> PageResult {
    let vouchers = chosen(state, viewer, query)?;
    if vouchers.is_empty() {
        return Err(WebError::not_found(
            "None of these vouchers is yours to print.",
        ));
    }
    let login_base = state
        .config
        .vouchers
        .hotspot_login_url
        .as_deref()
        .unwrap_or("");
    let mut site_names: HashMap<SiteId, String> = HashMap::new();
    let mut cards = Vec::with_capacity(vouchers.len());
    for v in &vouchers {
        if !site_names.contains_key(&v.site) {
            let name = match state.store.site(&v.site).map_err(store_err)? {
                Some(s) if !s.name.trim().is_empty() => s.name,
                _ => v.site.to_string(),
            };
            site_names.insert(v.site.clone(), name);
        }
        cards.push(card(v, &site_names[&v.site], login_base));
    }
    let title = match cards.len() {
        1 => "1 voucher".to_owned(),
        n => format!("{n} vouchers"),
    };
    let html = render_sheet(&title, &cards).map_err(|e| WebError::bad_request(e.to_string()))?;
    Ok(Html(html).into_response())
}

/// A voucher as a printed card.
/// A voucher as a printed card; `login_base` empty means the default hotspot address.
pub fn card(v: &VoucherRecord, site: &str, login_base: &str) -> Card {
    Card {
        code: v.code.clone(),
        password: v.password.clone(),
        package: v.package_name.clone(),
        limits: limits_words(
            v.limits.uptime_secs,
            v.limits.bytes_total,
            v.limits.validity_secs,
        ),
        price: fmt::money(&v.price),
        site: site.to_owned(),
        login_url: login_url(login_base, &v.code, &v.password),
    }
}
