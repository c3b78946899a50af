//! Voucher reads: filtered pages, the set a router should hold, per-state counts, and an
//! index check.
//!
//! A listing walks the narrowest index its filter names — router, else staff, else site, else
//! day (all vouchers by issue time) — bounded by the filter's time range, and checks the
//! remaining conditions on the records. [`EmbeddedStore::verify_vouchers`] rebuilds every index
//! from a full scan and compares: the property tests use it, and an operator can too.
//!
//! A page walks the index in one snapshot and looks the records up in a second one taken just
//! after it (a snapshot cannot be read from inside its own scan), so a voucher withdrawn in
//! between is skipped and one changed in between is checked against the filter as it is now.
//! Everything else here reads one snapshot per call.

use std::collections::{BTreeMap, BTreeSet};

use hotspot_shared::domain::{RouterId, VoucherState};
use hotspot_storage::{ALL, Flow, ReadTx};

use super::layout::{self, T, code_of, id_key, site_prefix};
use super::{EmbeddedStore, get, scan_prefix};
use crate::store::codec::{day_of, decode, time_key, u64_of};
use crate::store::error::StoreError;
use crate::store::query::{
    CountScope, Page, PageRequest, StateCounts, VoucherFilter, state_of_byte,
};
use crate::store::records::RouterRecord;
use crate::store::voucher::VoucherRecord;

impl EmbeddedStore {
    pub(super) fn list_vouchers_impl(
        &self,
        f: &VoucherFilter,
        page: &PageRequest,
    ) -> Result<Page<VoucherRecord>, StoreError> {
        let limit = page.checked_limit()?;
        let (t, prefix) = if let Some(router) = f.router {
            (T::ByRouter, id_key(router.0).to_vec())
        } else if let Some(staff) = f.staff {
            (T::ByStaff, id_key(staff.0).to_vec())
        } else if let Some(site) = &f.site {
            (T::BySite, site_prefix(site))
        } else {
            (T::ByDay, Vec::new())
        };
        // By day, the key starts with the day, then the time; elsewhere with the time.
        let bound = |t_: i64| {
            let mut k = prefix.clone();
            if t == T::ByDay {
                k.extend_from_slice(&time_key(day_of(t_)));
            }
            k.extend_from_slice(&time_key(t_));
            k
        };
        let lo = f.from.map_or_else(|| prefix.clone(), bound);
        let hi = match f.until {
            Some(until) => Some(bound(until)),
            None => hotspot_storage::prefix_end(&prefix),
        };
        let skip = prefix.len() + if t == T::ByDay { 8 } else { 0 };
        let index = self.snapshot()?;
        let records = self.snapshot()?;
        let after = page.after.as_ref();
        EmbeddedStore::page(&index, t, lo, hi, after, limit, |k, _| {
            let code = code_of(k, skip).ok_or_else(|| corrupt_index(t, k))?;
            // Withdrawn since the index snapshot: skipped.
            let Some(v) = get::<VoucherRecord>(&records, T::Vouchers, code.as_bytes())? else {
                return Ok(None);
            };
            Ok(matches(f, &v).then_some(v))
        })
    }

    pub(super) fn vouchers_on_router_impl(
        &self,
        router: RouterId,
        states: &[VoucherState],
    ) -> Result<Vec<VoucherRecord>, StoreError> {
        let snapshot = self.snapshot()?;
        let mut out = Vec::new();
        for state in states.iter().collect::<BTreeSet<_>>() {
            let prefix = layout::state_router_prefix(*state, router);
            let mut codes = Vec::new();
            scan_prefix(&snapshot, T::ByState, &prefix, |k, _| {
                let code = code_of(k, prefix.len()).ok_or_else(|| corrupt_index(T::ByState, k))?;
                codes.push(code.to_owned());
                Ok(())
            })?;
            for code in codes {
                // One snapshot: the index and the records agree, unless the index is damaged
                // (which `verify_vouchers` reports).
                match get::<VoucherRecord>(&snapshot, T::Vouchers, code.as_bytes())? {
                    Some(v) if v.state == *state => out.push(v),
                    _ => {}
                }
            }
        }
        out.sort_by(|a, b| (a.issued_at, &a.code).cmp(&(b.issued_at, &b.code)));
        Ok(out)
    }

    pub(super) fn voucher_counts_impl(
        &self,
        scope: &CountScope,
    ) -> Result<StateCounts, StoreError> {
        let snapshot = self.snapshot()?;
        let prefix = match scope {
            CountScope::Fleet => Vec::new(),
            CountScope::Site(site) => site_prefix(site),
            CountScope::Router(id) => {
                match get::<RouterRecord>(&snapshot, T::Routers, &id_key(id.0))? {
                    Some(r) => layout::router_by_site(&r.site, *id),
                    None => return Ok(StateCounts::default()),
                }
            }
        };
        let mut counts = StateCounts::default();
        scan_prefix(&snapshot, T::Counts, &prefix, |k, v| {
            let state = k.last().and_then(|b| state_of_byte(*b));
            match (state, u64_of(v)) {
                (Some(state), Some(n)) => counts.add(state, n),
                _ => return Err(corrupt_index(T::Counts, k)),
            }
            Ok(())
        })?;
        Ok(counts)
    }

    /// Rebuilds every voucher index and the counts from the records and compares them with
    /// what is stored, all in one snapshot. `Ok(())` when they match; otherwise a description
    /// of the first difference per table.
    pub fn verify_vouchers(&self) -> Result<Result<(), Vec<String>>, StoreError> {
        let snapshot = self.snapshot()?;
        let mut expected: BTreeMap<T, BTreeSet<Vec<u8>>> = BTreeMap::new();
        let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut problems = Vec::new();
        scan_prefix(&snapshot, T::Vouchers, &[], |k, bytes| {
            let v: VoucherRecord = decode(bytes)?;
            if k != v.code.as_bytes() {
                problems.push(format!("voucher under key {k:?} has code {}", v.code));
            }
            for (t, key) in layout::index_entries(&v) {
                expected.entry(t).or_default().insert(key);
            }
            *counts
                .entry(layout::count_key(&v.site, v.router, v.state))
                .or_default() += 1;
            Ok(())
        })?;
        for t in [T::ByRouter, T::ByStaff, T::BySite, T::ByState, T::ByDay] {
            let stored: BTreeSet<Vec<u8>> = all(&snapshot, t)?.into_keys().collect();
            let want = expected.remove(&t).unwrap_or_default();
            if let Some(extra) = stored.difference(&want).next() {
                problems.push(format!("{}: stale entry {extra:?}", t.name()));
            }
            if let Some(missing) = want.difference(&stored).next() {
                problems.push(format!("{}: missing entry {missing:?}", t.name()));
            }
        }
        let stored_counts: BTreeMap<Vec<u8>, u64> = all(&snapshot, T::Counts)?
            .into_iter()
            .map(|(k, v)| (k, u64_of(&v).unwrap_or(u64::MAX)))
            .collect();
        if stored_counts != counts {
            problems.push(format!(
                "{}: stored {stored_counts:?}, records say {counts:?}",
                T::Counts.name()
            ));
        }
        Ok(if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        })
    }
}

fn matches(f: &VoucherFilter, v: &VoucherRecord) -> bool {
    f.site.as_ref().is_none_or(|s| *s == v.site)
        && f.router.is_none_or(|r| r == v.router)
        && f.package.is_none_or(|p| p == v.package)
        && f.staff.is_none_or(|s| s == v.staff)
        && f.state.is_none_or(|s| s == v.state)
        && f.from.is_none_or(|t| v.issued_at >= t)
        && f.until.is_none_or(|t| v.issued_at < t)
}

/// Every entry of `t` in `snapshot`.
fn all(snapshot: &ReadTx, t: T) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StoreError> {
    let mut out = BTreeMap::new();
    snapshot.scan(t.name(), ALL, false, |k, v| {
        out.insert(k.to_vec(), v.to_vec());
        Ok::<_, StoreError>(Flow::Continue)
    })?;
    Ok(out)
}

fn corrupt_index(t: T, key: &[u8]) -> StoreError {
    StoreError::Corrupt {
        kind: "voucher index",
        detail: format!("{} entry {key:?} points at no voucher", t.name()),
    }
}
