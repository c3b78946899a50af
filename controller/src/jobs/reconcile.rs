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

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), &format).ok()
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates_round_trip() {
        assert_eq!(date_key(date!(2026 - 01 - 09)), "2026-01-09");
        assert_eq!(parse_date(" 2026-01-09 "), Some(date!(2026 - 01 - 09)));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
    }
}
