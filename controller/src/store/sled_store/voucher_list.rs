//! Voucher reads: filtered pages, the set a router should hold, per-state counts, and an
//! index check.
//!
//! A listing walks the narrowest index its filter names — router, else staff, else site, else
//! day (all vouchers by issue time) — bounded by the filter's time range, and checks the
//! remaining conditions on the records. [`SledStore::verify_vouchers`] rebuilds every index
//! from a full scan and compares: the property tests use it, and an operator can too.

use std::collections::{BTreeMap, BTreeSet};

use hotspot_shared::domain::{RouterId, VoucherState};

use super::layout::{self, T, code_of, id_key, site_prefix, tag};
use super::{SledStore, prefix_end};
use crate::store::codec::{day_of, decode, time_key, u64_of};
use crate::store::error::StoreError;
use crate::store::query::{
    CountScope, Page, PageRequest, StateCounts, VoucherFilter, state_of_byte,
};
use crate::store::records::RouterRecord;
use crate::store::voucher::VoucherRecord;

impl SledStore {
    pub(super) fn list_vouchers_impl(
        &self,
        f: &VoucherFilter,
        page: &PageRequest,
    ) -> Result<Page<VoucherRecord>, StoreError> {
        let limit = page.checked_limit()?;
        let (t, tag, prefix) = if let Some(router) = f.router {
            (T::ByRouter, tag::BY_ROUTER, id_key(router.0).to_vec())
        } else if let Some(staff) = f.staff {
            (T::ByStaff, tag::BY_STAFF, id_key(staff.0).to_vec())
        } else if let Some(site) = &f.site {
            (T::BySite, tag::BY_SITE, site_prefix(site))
        } else {
            (T::ByDay, tag::BY_DAY, Vec::new())
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
            None => prefix_end(&prefix),
        };
        let skip = prefix.len() + if t == T::ByDay { 8 } else { 0 };
        let vouchers = self.tree(T::Vouchers);
        self.page(t, tag, lo, hi, page.after.as_ref(), limit, |k, _| {
            let code = code_of(k, skip).ok_or_else(|| corrupt_index(t, k))?;
            // Not in a transaction: a voucher withdrawn since the index was read is skipped.
            let Some(bytes) = vouchers.get(code)? else {
                return Ok(None);
            };
            let v: VoucherRecord = decode(&bytes)?;
            Ok(matches(f, &v).then_some(v))
        })
    }

    pub(super) fn vouchers_on_router_impl(
        &self,
        router: RouterId,
        states: &[VoucherState],
    ) -> Result<Vec<VoucherRecord>, StoreError> {
        let mut out = Vec::new();
        for state in states.iter().collect::<BTreeSet<_>>() {
            let prefix = layout::state_router_prefix(*state, router);
            for kv in self.tree(T::ByState).scan_prefix(&prefix) {
                let (k, _) = kv?;
                let code =
                    code_of(&k, prefix.len()).ok_or_else(|| corrupt_index(T::ByState, &k))?;
                match self.read::<VoucherRecord>(T::Vouchers, code.as_bytes())? {
                    Some(v) if v.state == *state => out.push(v),
                    _ => {} // changed or withdrawn since the index was read
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
        let prefix = match scope {
            CountScope::Fleet => Vec::new(),
            CountScope::Site(site) => site_prefix(site),
            CountScope::Router(id) => {
                match self.read::<RouterRecord>(T::Routers, &id_key(id.0))? {
                    Some(r) => layout::router_by_site(&r.site, *id),
                    None => return Ok(StateCounts::default()),
                }
            }
        };
        let mut counts = StateCounts::default();
        for kv in self.tree(T::Counts).scan_prefix(&prefix) {
            let (k, v) = kv?;
            let state = k.last().and_then(|b| state_of_byte(*b));
            match (state, u64_of(&v)) {
                (Some(state), Some(n)) => counts.add(state, n),
                _ => return Err(corrupt_index(T::Counts, &k)),
            }
        }
        Ok(counts)
    }

    /// Rebuilds every voucher index and the counts from the records and compares them with
    /// what is stored. `Ok(())` when they match; otherwise a description of the first
    /// difference per tree.
    pub fn verify_vouchers(&self) -> Result<Result<(), Vec<String>>, StoreError> {
        let mut expected: BTreeMap<T, BTreeSet<Vec<u8>>> = BTreeMap::new();
        let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut problems = Vec::new();
        for kv in self.tree(T::Vouchers).iter() {
            let (k, bytes) = kv?;
            let v: VoucherRecord = decode(&bytes)?;
            if k.as_ref() != v.code.as_bytes() {
                problems.push(format!("voucher under key {k:?} has code {}", v.code));
            }
            for (t, key) in layout::index_entries(&v) {
                expected.entry(t).or_default().insert(key);
            }
            *counts
                .entry(layout::count_key(&v.site, v.router, v.state))
                .or_default() += 1;
        }
        for t in [T::ByRouter, T::ByStaff, T::BySite, T::ByState, T::ByDay] {
            let stored = self
                .tree(t)
                .iter()
                .keys()
                .map(|k| k.map(|k| k.to_vec()))
                .collect::<Result<BTreeSet<_>, _>>()?;
            let want = expected.remove(&t).unwrap_or_default();
            if let Some(extra) = stored.difference(&want).next() {
                problems.push(format!("{}: stale entry {extra:?}", t.name()));
            }
            if let Some(missing) = want.difference(&stored).next() {
                problems.push(format!("{}: missing entry {missing:?}", t.name()));
            }
        }
        let stored_counts = self
            .tree(T::Counts)
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), u64_of(&v).unwrap_or(u64::MAX))))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
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

fn corrupt_index(t: T, key: &[u8]) -> StoreError {
    StoreError::Corrupt {
        kind: "voucher index",
        detail: format!("{} entry {key:?} points at no voucher", t.name()),
    }
}
