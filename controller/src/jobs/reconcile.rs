//! The daily reconciliation report: vouchers and revenue of one local day, per site and in
//! total, and the drift between the ledger and the routers with what was done about it.
//!
//! Counting is [`Tally::count`] over every voucher issued that day (by the ledger's day index,
//! page by page, so memory stays bounded by a page); drift and its repair are in
//! [`super::drift`]. The report is stored under its date, replacing an earlier run for the same
//! day, and made durable before [`run`] returns. Running it again is harmless: re-queued
//! vouchers are applied idempotently by the agent.

use std::collections::HashMap;

use time::Date;

use super::ReconcileError;
use super::drift::reconcile_drift;
use super::schedule::day_bounds;
use crate::app::AppState;
use crate::store::{PageRequest, Report, ReportBody, Tally, VoucherFilter};

/// `YYYY-MM-DD`.
pub fn date_key(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

pub use crate::api::bounds::parse_date;

/// Counts the vouchers issued in `[from, until)` per site and in total.
pub fn tally(state: &AppState, from: i64, until: i64) -> Result<ReportBody, ReconcileError> {
    let labels: HashMap<_, _> = state
        .store
        .staff_list()?
        .into_iter()
        .map(|s| (s.id, s.username))
        .collect();
    let mut body = ReportBody::default();
    for site in state.store.sites()? {
        body.sites.entry(site.id).or_default();
    }
    let filter = VoucherFilter {
        from: Some(from),
        until: Some(until),
        ..VoucherFilter::default()
    };
    let mut page = PageRequest::first(crate::store::MAX_PAGE);
    loop {
        let found = state.store.list_vouchers(&filter, &page)?;
        for v in &found.items {
            let fallback = v.staff.to_string();
            let label = labels.get(&v.staff).unwrap_or(&fallback);
            body.total.count(v, label)?;
            let site: &mut Tally = body.sites.entry(v.site.clone()).or_default();
            site.count(v, label)?;
        }
        match found.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    Ok(body)
}

/// Reconciles local `date`: counts, finds and repairs drift, stores the report durably.
pub async fn run(state: &AppState, date: Date) -> Result<Report, ReconcileError> {
    let (from, until) = day_bounds(&state.config.jobs, date);
    let mut body = tally(state, from, until)?;
    body.drift = reconcile_drift(state, from, until).await?;
    let report = Report {
        date: date_key(date),
        generated_at: state.now(),
        body,
    };
    state.store.put_report(&report)?.durable().await?;
    tracing::info!(
        date = %report.date,
        issued = report.body.total.issued_central + report.body.total.issued_site,
        drift = report.body.drift.len(),
        "reconciliation report stored"
    );
    Ok(report)
}

/// Most past days a late sale makes the refresher look at.
pub const LATE_SALES_DAYS: u16 = 31;

/// Refreshes the counts of stored reports whose days received site sales late (sold while
/// the site was offline, delivered after the report ran), so those sales appear in the report
/// of the day they were made. Drift found at the original run is kept. Returns the dates
/// refreshed.
pub async fn refresh_late(state: &AppState) -> Result<Vec<String>, ReconcileError> {
    let Some(oldest) = state.store.take_late_site_sales() else {
        return Ok(Vec::new());
    };
    let jobs = &state.config.jobs;
    let today = super::schedule::local_date(jobs, state.now());
    let floor = today
        .checked_sub(time::Duration::days(i64::from(LATE_SALES_DAYS)))
        .unwrap_or(today);
    let mut date = super::schedule::local_date(jobs, oldest).max(floor);
    let mut refreshed = Vec::new();
    while date < today {
        let key = date_key(date);
        if let Some(old) = state.store.report(&key)? {
            let (from, until) = day_bounds(jobs, date);
            let mut body = tally(state, from, until)?;
            body.drift = old.body.drift.clone();
            if body != old.body {
                let report = Report {
                    date: key.clone(),
                    generated_at: state.now(),
                    body,
                };
                state.store.put_report(&report)?.durable().await?;
                tracing::info!(date = %key, "report refreshed with site sales that arrived late");
                refreshed.push(key);
            }
        }
        match date.next_day() {
            Some(next) => date = next,
            None => break,
        }
    }
    Ok(refreshed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates_round_trip() {
        assert_eq!(date_key(date!(2026 - 01 - 09)), "2026-01-09");
        assert_eq!(parse_date("2026-01-09"), Some(date!(2026 - 01 - 09)));
        assert_eq!(parse_date(" 2026-01-09"), None);
        assert_eq!(parse_date("+2026-01-09"), None);
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
    }
}
