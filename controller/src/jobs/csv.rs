//! A report as CSV (RFC 4180): one flat table, so a spreadsheet can filter and pivot it.
//!
//! Columns: `date,scope,section,key,label,router,count,amount_minor,currency,action`.
//! `scope` is `total` or `site:<id>`; `section` is `vouchers` (key = the counter), `revenue`,
//! `package`, `staff` (one row per currency; `amount_minor` in integer minor units, never a
//! float) or `drift` (key = the kind, label = the voucher code). Text cells that a spreadsheet
//! would run as a formula (`=`, `+`, `-`, `@` first) get a leading `'`.

use std::fmt::Write as _;

use hotspot_shared::domain::Money;

use crate::store::{Report, Revenue, Tally};

/// The header line's columns.
pub const COLUMNS: &str = "date,scope,section,key,label,router,count,amount_minor,currency,action";

fn text(cell: &str) -> String {
    let cell = if cell.starts_with(['=', '+', '-', '@']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

struct Rows<'a> {
    out: String,
    date: &'a str,
}

impl Rows<'_> {
    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        scope: &str,
        section: &str,
        key: &str,
        label: &str,
        router: &str,
        count: Option<u64>,
        money: Option<Money>,
        action: &str,
    ) {
        let count = count.map(|c| c.to_string()).unwrap_or_default();
        let (amount, currency) = money
            .map(|m| (m.minor.to_string(), m.currency.as_str().to_owned()))
            .unwrap_or_default();
        let _ = writeln!(
            self.out,
            "{},{},{},{},{},{},{count},{amount},{currency},{}",
            text(self.date),
            text(scope),
            section,
            text(key),
            text(label),
            text(router),
            text(action),
        );
    }

    fn revenue(&mut self, scope: &str, section: &str, key: &str, r: &Revenue) {
        if r.amounts.is_empty() {
            self.row(
                scope,
                section,
                key,
                &r.label,
                "",
                Some(r.vouchers),
                None,
                "",
            );
        }
        for m in &r.amounts {
            self.row(
                scope,
                section,
                key,
                &r.label,
                "",
                Some(r.vouchers),
                Some(*m),
                "",
            );
        }
    }

    fn tally(&mut self, scope: &str, t: &Tally) {
        let counters = [
            ("issued_central", t.issued_central),
            ("issued_site", t.issued_site),
            ("applied", t.applied),
            ("used", t.used),
            ("exhausted", t.exhausted),
            ("expired", t.expired),
            ("failed", t.failed),
            ("revoked", t.revoked),
        ];
        for (key, n) in counters {
            self.row(scope, "vouchers", key, "", "", Some(n), None, "");
        }
        for m in &t.revenue {
            self.row(scope, "revenue", "", "", "", None, Some(*m), "");
        }
        for (key, r) in &t.by_package {
            self.revenue(scope, "package", key, r);
        }
        for (key, r) in &t.by_staff {
            self.revenue(scope, "staff", key, r);
        }
    }
}

/// The whole report as CSV, header first.
pub fn to_csv(report: &Report) -> String {
    let mut rows = Rows {
        out: format!("{COLUMNS}\n"),
        date: &report.date,
    };
    rows.tally("total", &report.body.total);
    for (site, t) in &report.body.sites {
        rows.tally(&format!("site:{site}"), t);
    }
    for d in &report.body.drift {
        let kind = serde_json::to_value(d.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let scope = format!("site:{}", d.site);
        let router = d.router.to_string();
        rows.row(
            &scope, "drift", &kind, &d.code, &router, None, None, &d.action,
        );
    }
    rows.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DriftKind, DriftLine, ReportBody};
    use hotspot_shared::domain::{Currency, RouterId};

    #[test]
    fn cells_are_quoted_and_defused() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("=cmd()"), "'=cmd()");
    }

    #[test]
    fn a_report_becomes_one_table() {
        let usd = Currency::new("USD").unwrap();
        let mut total = Tally {
            issued_central: 2,
            revenue: vec![Money::new(250, usd)],
            ..Tally::default()
        };
        total.by_package.insert(
            "package-1".into(),
            Revenue {
                label: "1 hour, fast".into(),
                vouchers: 2,
                amounts: vec![Money::new(250, usd)],
            },
        );
        let report = Report {
            date: "2026-05-01".into(),
            generated_at: 0,
            body: ReportBody {
                total,
                sites: Default::default(),
                drift: vec![DriftLine {
                    site: "s1".parse().unwrap(),
                    router: RouterId(3),
                    kind: DriftKind::UnknownOnRouter,
                    code: "ZZZ".into(),
                    action: "reported".into(),
                }],
            },
        };
        let csv = to_csv(&report);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], COLUMNS);
        assert!(lines.contains(&"2026-05-01,total,vouchers,issued_central,,,2,,,"));
        assert!(lines.contains(&"2026-05-01,total,revenue,,,,,250,USD,"));
        assert!(lines.contains(&"2026-05-01,total,package,package-1,\"1 hour, fast\",,2,250,USD,"));
        assert!(
            lines.contains(&"2026-05-01,site:s1,drift,unknown-on-router,ZZZ,router-3,,,,reported")
        );
        assert!(lines.iter().all(|l| l.split(',').count() >= 10));
    }
}
