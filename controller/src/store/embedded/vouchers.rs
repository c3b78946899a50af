//! Voucher writes: batch issue with fleet-wide unique codes, state changes, deletion of
//! never-queued vouchers (the in-transaction writes they share with [`super::LedgerInbound`]
//! are in `writes`).
//!
//! A batch is one transaction: every code is checked against the ledger (and the rest of the
//! batch) first, and any duplicate aborts the whole batch with the list of offending codes, so
//! nothing is half-written and the caller regenerates just those codes. Up to
//! [`MAX_BATCH`] vouchers (the API's limit) go in one transaction and one barrier.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet};

use hotspot_shared::domain::{Origin, VoucherState};

use super::EmbeddedStore;
use super::layout::{self, T, count_key, id_key};
use super::tx::Tx;
use super::writes::{add, change};
use crate::store::error::StoreError;
use crate::store::records::{PackageRecord, RouterRecord, Stamp};
use crate::store::voucher::{
    ChangeOutcome, MAX_BATCH, MAX_CODE_LEN, VoucherChange, VoucherRecord, code_is_usable,
};
use crate::store::written::Written;

fn check_new(v: &VoucherRecord) -> Result<(), StoreError> {
    if !code_is_usable(&v.code) {
        return Err(StoreError::Invalid(format!("voucher code {:?}", v.code)));
    }
    if v.password.is_empty() || v.password.len() > MAX_CODE_LEN {
        return Err(StoreError::Invalid(format!("password of {}", v.code)));
    }
    Ok(())
}

impl EmbeddedStore {
    pub(super) fn insert_vouchers_impl(
        &self,
        batch: Vec<VoucherRecord>,
        by: &Stamp,
    ) -> Result<Written<usize>, StoreError> {
        if batch.len() > MAX_BATCH {
            return Err(StoreError::TooMany {
                what: "voucher batch",
                len: batch.len(),
                max: MAX_BATCH,
            });
        }
        if batch.is_empty() {
            return Ok(Written::already_durable(0));
        }
        batch.iter().try_for_each(check_new)?;
        self.run(|tx| {
            let mut seen = HashSet::with_capacity(batch.len());
            let mut duplicates = Vec::new();
            for v in &batch {
                if !seen.insert(v.code.as_str()) || tx.has(T::Vouchers, v.code.as_bytes())? {
                    duplicates.push(v.code.clone());
                }
            }
            if !duplicates.is_empty() {
                return Err(StoreError::DuplicateCodes(duplicates));
            }
            check_references(tx, &batch)?;
            for v in &batch {
                add(tx, v)?;
            }
            let mut per_router: BTreeMap<_, usize> = BTreeMap::new();
            for v in &batch {
                *per_router.entry(v.router).or_default() += 1;
            }
            for (router, n) in per_router {
                let first = batch.iter().find(|v| v.router == router);
                let detail = format!(
                    "{n} voucher(s) of {}, first {}",
                    first.map_or("", |v| v.package_name.as_str()),
                    first.map_or("", |v| v.code.as_str()),
                );
                tx.audit(&by.audit("voucher.issue", router, detail))?;
            }
            Ok(())
        })?;
        Ok(self.written(batch.len()))
    }

    pub(super) fn change_vouchers_impl(
        &self,
        codes: &[String],
        change_: &VoucherChange,
        by: &Stamp,
    ) -> Result<Written<Vec<ChangeOutcome>>, StoreError> {
        if codes.len() > MAX_BATCH {
            return Err(StoreError::TooMany {
                what: "voucher batch",
                len: codes.len(),
                max: MAX_BATCH,
            });
        }
        let outcomes = self.run(|tx| {
            let mut out = Vec::with_capacity(codes.len());
            for code in codes {
                match change(tx, code, change_, by.at)? {
                    Some(outcome) => out.push(outcome),
                    None => {
                        return Err(StoreError::NotFound {
                            kind: "voucher",
                            id: code.clone(),
                        });
                    }
                }
            }
            audit_change(tx, by, change_, &out)?;
            Ok(out)
        })?;
        Ok(self.written(outcomes))
    }

    pub(super) fn delete_voucher_impl(
        &self,
        code: &str,
        by: &Stamp,
    ) -> Result<Written<VoucherRecord>, StoreError> {
        let record = self.run(|tx| {
            let Some(v) = tx.get::<VoucherRecord>(T::Vouchers, code.as_bytes())? else {
                return Err(StoreError::NotFound {
                    kind: "voucher",
                    id: code.to_owned(),
                });
            };
            if v.state != VoucherState::Issued {
                return Err(StoreError::WrongState {
                    code: v.code,
                    state: v.state,
                });
            }
            tx.remove(T::Vouchers, code.as_bytes())?;
            for (t, key) in layout::index_entries(&v) {
                tx.remove(t, &key)?;
            }
            tx.bump(T::Counts, &count_key(&v.site, v.router, v.state), -1)?;
            tx.audit(&by.audit("voucher.delete", &v.code, "never queued; withdrawn"))?;
            Ok(v)
        })?;
        Ok(self.written(record))
    }
}

/// Central vouchers must name an existing router of their site and an existing package.
fn check_references(tx: &mut Tx<'_, '_>, batch: &[VoucherRecord]) -> Result<(), StoreError> {
    let mut routers = BTreeMap::new();
    let mut packages = HashSet::new();
    for v in batch {
        let site = match routers.entry(v.router) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let r = tx.get::<RouterRecord>(T::Routers, &id_key(v.router.0))?;
                e.insert(r.map(|r| r.site))
            }
        };
        match site {
            Some(site) if *site == v.site => {}
            Some(site) => {
                return Err(StoreError::Conflict(format!(
                    "{} belongs to site {site}, not {}",
                    v.router, v.site
                )));
            }
            _ => {
                return Err(StoreError::NotFound {
                    kind: "router",
                    id: v.router.to_string(),
                });
            }
        }
        if v.origin == Origin::Central && packages.insert(v.package) {
            let p = tx.get::<PackageRecord>(T::Packages, &id_key(v.package.0))?;
            if p.is_none() {
                return Err(StoreError::NotFound {
                    kind: "package",
                    id: v.package.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// One audit line per call for bulk changes, one per voucher for single ones.
fn audit_change(
    tx: &mut Tx<'_, '_>,
    by: &Stamp,
    change: &VoucherChange,
    out: &[ChangeOutcome],
) -> Result<(), StoreError> {
    let action = match change {
        VoucherChange::Queued => "voucher.queue",
        VoucherChange::Applied => "voucher.applied",
        VoucherChange::Failed { .. } => "voucher.failed",
        VoucherChange::Removed(_) => "voucher.removed",
        VoucherChange::Revoke { .. } => "voucher.revoke",
        VoucherChange::Usage(_) => "voucher.usage",
    };
    let moved = out.iter().filter(|o| o.transition.changed()).count();
    match out {
        [one] => {
            let detail = format!("{:?}", one.transition);
            tx.audit(&by.audit(action, &one.record.code, detail))
        }
        _ if moved > 0 => {
            let detail = format!("{moved} of {} changed", out.len());
            tx.audit(&by.audit(action, "vouchers", detail))
        }
        _ => Ok(()),
    }
}
