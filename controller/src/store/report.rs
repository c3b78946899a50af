//! The stored daily reconciliation report.
//!
//! Typed rather than free JSON: postcard (the ledger's encoding) cannot store an arbitrary
//! `serde_json::Value`, and a typed body keeps the CSV and JSON downloads and the dashboard
//! reading the same numbers. Money is summed per currency, never mixed. The reconciliation job
//! fills it ([`Tally::count`] does the per-voucher arithmetic); the ledger only stores it, keyed
//! by its date so that regenerating a day replaces that day.

use std::collections::BTreeMap;

use hotspot_pki::SiteId;
use hotspot_shared::domain::{Money, MoneyError, Origin, RouterId, VoucherState};
use serde::{Deserialize, Serialize};

use super::codec::Record;
use super::voucher::VoucherRecord;

use VoucherState as S;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// `YYYY-MM-DD`, the UTC day reported on.
    pub date: String,
    pub generated_at: i64,
    pub body: ReportBody,
}

impl Record for Report {
    const KIND: &'static str = "report";
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportBody {
    pub total: Tally,
    pub sites: BTreeMap<SiteId, Tally>,
    pub drift: Vec<DriftLine>,
}

/// Vouchers and revenue over some scope (a site, or the fleet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub issued_central: u64,
    pub issued_site: u64,
    /// Put on their router at some point (active or later).
    pub applied: u64,
    /// Used by a customer (in use, exhausted or expired).
    pub used: u64,
    pub exhausted: u64,
    pub expired: u64,
    pub failed: u64,
    pub revoked: u64,
    /// Revenue per currency, of vouchers neither revoked nor failed (the customer got nothing).
    pub revenue: Vec<Money>,
    /// Keyed by package id (`package-3`).
    pub by_package: BTreeMap<String, Revenue>,
    /// Keyed by staff id (`staff-2`).
    pub by_staff: BTreeMap<String, Revenue>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revenue {
    /// Human name at the time of the report (package name, user name).
    pub label: String,
    pub vouchers: u64,
    pub amounts: Vec<Money>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// In the ledger, missing on the router.
    MissingOnRouter,
    /// On the router, unknown to the ledger.
    UnknownOnRouter,
    UsageMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftLine {
    pub site: SiteId,
    pub router: RouterId,
    pub kind: DriftKind,
    pub code: String,
    /// What was done: `re-queued`, `restored`, `reported`.
    pub action: String,
}

/// Adds `m` to the amount of its currency.
pub fn add_money(amounts: &mut Vec<Money>, m: Money) -> Result<(), MoneyError> {
    match amounts.iter_mut().find(|a| a.currency == m.currency) {
        Some(a) => *a = a.checked_add(m)?,
        None => amounts.push(m),
    }
    Ok(())
}

impl Tally {
    /// Counts one voucher issued in the period; `staff_label` names its seller.
    pub fn count(&mut self, v: &VoucherRecord, staff_label: &str) -> Result<(), MoneyError> {
        match v.origin {
            Origin::Central => self.issued_central += 1,
            Origin::Site => self.issued_site += 1,
        }
        let s = v.state;
        let on_router = matches!(s, S::Active | S::InUse | S::Exhausted | S::Expired);
        self.applied += u64::from(v.applied_at.is_some() || on_router);
        let used = matches!(s, S::InUse | S::Exhausted);
        self.used += u64::from(v.first_login_at.is_some() || used);
        self.exhausted += u64::from(s == S::Exhausted);
        self.expired += u64::from(s == S::Expired);
        self.failed += u64::from(s == S::Failed);
        self.revoked += u64::from(s == S::Revoked);
        if matches!(s, S::Revoked | S::Failed) {
            return Ok(());
        }
        add_money(&mut self.revenue, v.price)?;
        for (map, key, label) in [
            (
                &mut self.by_package,
                v.package.to_string(),
                v.package_name.as_str(),
            ),
            (&mut self.by_staff, v.staff.to_string(), staff_label),
        ] {
            let line = map.entry(key).or_default();
            line.label = label.to_owned();
            line.vouchers += 1;
            add_money(&mut line.amounts, v.price)?;
        }
        Ok(())
    }
}
