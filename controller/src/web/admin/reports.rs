//! Reports: `/admin/reports` (the daily reconciliations of the last weeks: issued / applied /
//! used / failed / drift, revenue per day as a bar chart), `/admin/reports/{date}` (one day's
//! revenue per package, staff and site, and its drift), CSV downloads (`/admin/reports.csv`,
//! one line per day; `/admin/reports/{date}/csv`, the API's full report), and
//! `POST /admin/reports/run` (reconcile today now, through the API's `run_report`).
//!
//! Charts are inline SVG drawn here ([`bar_chart`]): no script, they print, and they scale.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hotspot_shared::domain::{Currency, Money};
use hotspot_ui::{Flash, Layout};

use super::common::{Done, api_admin, sentence, when};
use super::packages::price_text;
use crate::api::extract::store_err;
use crate::app::AppState;
use crate::jobs::{csv, reconcile};
use crate::store::{PageRequest, Report, Revenue, Tally};
use crate::web::error::{PageResult, WebError, redirect};
use crate::web::layout::layout_for;
use crate::web::render::render;
use crate::web::session::{AdminViewer, CsrfForm};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/reports", get(list))
        .route("/admin/reports.csv", get(days_csv))
        .route("/admin/reports/run", post(run))
        .route("/admin/reports/{date}", get(day))
        .route("/admin/reports/{date}/csv", get(day_csv))
}

/// Days shown and downloaded.
const DAYS: usize = 31;

/// One bar: label, value, the value in words.
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub text: String,
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart as inline SVG (labels left, values right of each bar).
pub fn bar_chart(title: &str, bars: &[Bar]) -> String {
    const ROW: i64 = 26;
    const LABEL_W: i64 = 150;
    const BAR_W: i64 = 330;
    const WIDTH: i64 = 600;
    let height = ROW * i64::try_from(bars.len()).unwrap_or(0) + 8;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        xml(title),
        xml(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 4 + ROW * i64::try_from(i).unwrap_or(0);
        let w = if b.value > 0 {
            (b.value.saturating_mul(BAR_W) / max).max(2)
        } else {
            0
        };
        let label: String = b.label.chars().take(22).collect();
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" class="chart-label">{}</text><rect x="{}" y="{}" width="{w}" height="{}" rx="3" class="chart-bar"><title>{}: {}</title></rect><text x="{}" y="{}" class="chart-value">{}</text>"#,
            LABEL_W - 8,
            y + 17,
            xml(&label),
            LABEL_W,
            y + 3,
            ROW - 8,
            xml(&b.label),
            xml(&b.text),
            LABEL_W + w + 6,
            y + 17,
            xml(&b.text)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The currency with the most money entries (what the charts draw).
fn main_currency<'a>(amounts: impl Iterator<Item = &'a Money>) -> Option<Currency> {
    let mut counts = BTreeMap::<String, (usize, Currency)>::new();
    for m in amounts {
        counts
            .entry(m.currency.as_str().to_owned())
            .or_insert((0, m.currency))
            .0 += 1;
    }
    counts.into_values().max_by_key(|(n, _)| *n).map(|(_, c)| c)
}

fn amount_in(amounts: &[Money], currency: &Currency) -> i64 {
    amounts
        .iter()
        .filter(|m| m.currency == *currency)
        .map(|m| m.minor)
        .sum()
}

/// Adds `m` to the amount of its currency.
fn add_money(amounts: &mut Vec<Money>, m: Money) -> Option<()> {
    match amounts.iter_mut().find(|a| a.currency == m.currency) {
        Some(a) => *a = a.checked_add(m).ok()?,
        None => amounts.push(m),
    }
    Some(())
}

fn money_words(amounts: &[Money]) -> String {
    if amounts.is_empty() {
        return "–".to_owned();
    }
    amounts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A day's line in the list.
pub struct DayLine {
    pub date: String,
    pub issued: u64,
    pub applied: u64,
    pub used: u64,
    pub failed: u64,
    pub revoked: u64,
    pub drift: usize,
    pub revenue: String,
}

fn day_line(r: &Report) -> DayLine {
    let t = &r.body.total;
    DayLine {
        date: r.date.clone(),
        issued: t.issued_central + t.issued_site,
        applied: t.applied,
        used: t.used,
        failed: t.failed,
        revoked: t.revoked,
        drift: r.body.drift.len(),
        revenue: money_words(&t.revenue),
    }
}

fn recent(state: &AppState) -> Result<Vec<Report>, WebError> {
    Ok(state
        .store
        .reports(&PageRequest::first(DAYS))
        .map_err(store_err)?
        .items)
}

#[derive(Template)]
#[template(path = "admin/reports.html")]
struct ListPage {
    layout: Layout,
    days: Vec<DayLine>,
    chart: String,
    totals: DayLine,
}

const DONE: &[(&str, &str)] = &[("ran", "Today's reconciliation ran; its report is below.")];

async fn list(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(done): Query<Done>,
) -> PageResult {
    let reports = recent(&state)?;
    let currency = main_currency(reports.iter().flat_map(|r| r.body.total.revenue.iter()));
    // Oldest at the top of the chart, like a calendar.
    let chart = match &currency {
        Some(c) => {
            let bars: Vec<Bar> = reports
                .iter()
                .rev()
                .map(|r| {
                    let v = amount_in(&r.body.total.revenue, c);
                    Bar {
                        label: r.date.clone(),
                        value: v,
                        text: Money::new(v, *c).to_string(),
                    }
                })
                .collect();
            bar_chart(&format!("Revenue per day in {}", c.as_str()), &bars)
        }
        None => String::new(),
    };
    let totals = totals_line(&reports);
    let page = ListPage {
        layout: layout_for(&admin, "Reports").with_flash(done.flash(DONE)),
        days: reports.iter().map(day_line).collect(),
        chart,
        totals,
    };
    Ok(render(&page))
}

fn totals_line(reports: &[Report]) -> DayLine {
    let mut revenue: Vec<Money> = Vec::new();
    let mut line = DayLine {
        date: "total".into(),
        issued: 0,
        applied: 0,
        used: 0,
        failed: 0,
        revoked: 0,
        drift: 0,
        revenue: String::new(),
    };
    for r in reports {
        let d = day_line(r);
        line.issued += d.issued;
        line.applied += d.applied;
        line.used += d.used;
        line.failed += d.failed;
        line.revoked += d.revoked;
        line.drift += d.drift;
        for m in &r.body.total.revenue {
            let _ = add_money(&mut revenue, *m);
        }
    }
    line.revenue = money_words(&revenue);
    line
}

/// `text/csv` with a file name.
fn csv_response(name: &str, body: String) -> axum::response::Response {
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The header of the per-day CSV: counts, then one revenue column per currency (decimal).
pub const DAYS_COLUMNS: &str = "date,issued,applied,used,failed,revoked,drift";

/// One line per day (newest first) and a `total` line; revenue in decimal per currency.
pub fn days_csv_text(reports: &[Report]) -> String {
    let mut currencies: Vec<Currency> = Vec::new();
    for m in reports.iter().flat_map(|r| r.body.total.revenue.iter()) {
        if !currencies.contains(&m.currency) {
            currencies.push(m.currency);
        }
    }
    currencies.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut out = String::from(DAYS_COLUMNS);
    for c in &currencies {
        let _ = write!(out, ",revenue_{}", c.as_str());
    }
    out.push_str("\r\n");
    let mut lines: Vec<(DayLine, &[Money])> = reports
        .iter()
        .map(|r| (day_line(r), r.body.total.revenue.as_slice()))
        .collect();
    let mut all: Vec<Money> = Vec::new();
    for r in reports {
        for m in &r.body.total.revenue {
            let _ = add_money(&mut all, *m);
        }
    }
    lines.push((totals_line(reports), all.as_slice()));
    for (d, amounts) in lines {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{}",
            d.date, d.issued, d.applied, d.used, d.failed, d.revoked, d.drift
        );
        for c in &currencies {
            let _ = write!(out, ",{}", price_text(amount_in(amounts, c), c));
        }
        out.push_str("\r\n");
    }
    out
}

async fn days_csv(State(state): State<AppState>, _admin: AdminViewer) -> PageResult {
    let reports = recent(&state)?;
    Ok(csv_response("hotspot-days.csv", days_csv_text(&reports)))
}

fn load(state: &AppState, date: &str) -> Result<Report, WebError> {
    let missing = || WebError::not_found(format!("There is no report for {date}."));
    let day = reconcile::parse_date(date).ok_or_else(missing)?;
    state
        .store
        .report(&reconcile::date_key(day))
        .map_err(store_err)?
        .ok_or_else(missing)
}

async fn day_csv(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(date): Path<String>,
) -> PageResult {
    let r = load(&state, &date).map_err(|e| e.with_viewer(&admin))?;
    Ok(csv_response(
        &format!("hotspot-report-{}.csv", r.date),
        csv::to_csv(&r),
    ))
}

/// A revenue table's row.
pub struct RevenueLine {
    pub label: String,
    pub vouchers: u64,
    pub amount: String,
}

/// A breakdown: chart and rows.
pub struct Breakdown {
    pub title: &'static str,
    pub chart: String,
    pub rows: Vec<RevenueLine>,
}

fn breakdown(title: &'static str, entries: Vec<(String, u64, Vec<Money>)>) -> Breakdown {
    let currency = main_currency(entries.iter().flat_map(|(_, _, a)| a.iter()));
    let chart = match &currency {
        Some(c) => {
            let bars: Vec<Bar> = entries
                .iter()
                .map(|(label, _, amounts)| {
                    let v = amount_in(amounts, c);
                    Bar {
                        label: label.clone(),
                        value: v,
                        text: Money::new(v, *c).to_string(),
                    }
                })
                .collect();
            bar_chart(&format!("{title} in {}", c.as_str()), &bars)
        }
        None => String::new(),
    };
    Breakdown {
        title,
        chart,
        rows: entries
            .into_iter()
            .map(|(label, vouchers, amounts)| RevenueLine {
                label,
                vouchers,
                amount: money_words(&amounts),
            })
            .collect(),
    }
}

fn revenue_entries(map: &BTreeMap<String, Revenue>) -> Vec<(String, u64, Vec<Money>)> {
    let mut v: Vec<_> = map
        .values()
        .map(|r| (r.label.clone(), r.vouchers, r.amounts.clone()))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

pub struct DriftRow {
    pub site: String,
    pub router: u64,
    pub kind: String,
    pub code: String,
    pub action: String,
}

#[derive(Template)]
#[template(path = "admin/report_day.html")]
struct DayPage {
    layout: Layout,
    line: DayLine,
    generated: String,
    breakdowns: Vec<Breakdown>,
    drift: Vec<DriftRow>,
}

async fn day(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(date): Path<String>,
) -> PageResult {
    let r = load(&state, &date).map_err(|e| e.with_viewer(&admin))?;
    let t: &Tally = &r.body.total;
    let names: BTreeMap<String, String> = state
        .store
        .sites()
        .map_err(store_err)?
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect();
    let sites: Vec<(String, u64, Vec<Money>)> = r
        .body
        .sites
        .iter()
        .map(|(id, t)| {
            (
                names
                    .get(id.as_str())
                    .cloned()
                    .unwrap_or_else(|| id.to_string()),
                t.issued_central + t.issued_site,
                t.revenue.clone(),
            )
        })
        .collect();
    let page = DayPage {
        layout: layout_for(&admin, &format!("Report {}", r.date)),
        line: day_line(&r),
        generated: when(r.generated_at),
        breakdowns: vec![
            breakdown("Revenue per package", revenue_entries(&t.by_package)),
            breakdown("Revenue per staff member", revenue_entries(&t.by_staff)),
            breakdown("Revenue per site", sites),
        ],
        drift: r
            .body
            .drift
            .iter()
            .map(|d| DriftRow {
                site: d.site.to_string(),
                router: d.router.0,
                kind: serde_json::to_value(d.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s.replace('-', " ")))
                    .unwrap_or_default(),
                code: d.code.clone(),
                action: d.action.clone(),
            })
            .collect(),
    };
    Ok(render(&page))
}

#[derive(serde::Deserialize)]
struct Empty {}

async fn run(
    State(state): State<AppState>,
    admin: AdminViewer,
    CsrfForm(_): CsrfForm<Empty>,
) -> PageResult {
    match crate::api::reports::run_report(
        State(state.clone()),
        api_admin(&admin),
        crate::api::extract::OptionalJsonBody(None),
    )
    .await
    {
        Ok(_) => Ok(redirect("/admin/reports?done=ran")),
        Err(e) => {
            let page = ListPage {
                layout: layout_for(&admin, "Reports").with_flash(Some(Flash::error(format!(
                    "The reconciliation did not run: {}",
                    sentence(e.message())
                )))),
                days: recent(&state)?.iter().map(day_line).collect(),
                chart: String::new(),
                totals: totals_line(&recent(&state)?),
            };
            Ok(render(&page))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_scale_bars() {
        let svg = bar_chart(
            "t",
            &[
                Bar {
                    label: "<b>&".into(),
                    value: 50,
                    text: "0.50 USD".into(),
                },
                Bar {
                    label: "big".into(),
                    value: 100,
                    text: "1.00 USD".into(),
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;b&gt;&amp;") && !svg.contains("<b>"));
        assert!(svg.contains(r#"width="165""#) && svg.contains(r#"width="330""#));
    }
}
