//! The writes inside one transaction that both the store's own methods and the agents' events
//! ([`super::LedgerInbound`], `heal`) make: a voucher added or moved with its indexes and
//! counts, a router observation. Below both, so neither imports the other.

use hotspot_shared::domain::VoucherState;

use super::layout::{self, T, count_key, id_key};
use super::tx::Tx;
use crate::store::error::StoreError;
use crate::store::records::{RouterObservation, RouterRecord};
use crate::store::voucher::{ChangeOutcome, VoucherChange, VoucherRecord};

/// Writes a new voucher and its indexes and counts.
pub(super) fn add(tx: &mut Tx<'_, '_>, v: &VoucherRecord) -> Result<(), StoreError> {
    tx.put(T::Vouchers, v.code.as_bytes(), v)?;
    for (t, key) in layout::index_entries(v) {
        tx.mark(t, &key)?;
    }
    tx.bump(T::Counts, &count_key(&v.site, v.router, v.state), 1)?;
    Ok(())
}

/// Rewrites a voucher whose state may have moved from `old_state`.
pub(super) fn replace(
    tx: &mut Tx<'_, '_>,
    old_state: VoucherState,
    v: &VoucherRecord,
) -> Result<(), StoreError> {
    tx.put(T::Vouchers, v.code.as_bytes(), v)?;
    if old_state != v.state {
        let mut old = v.clone();
        old.state = old_state;
        tx.remove(T::ByState, &layout::by_state(&old))?;
        tx.mark(T::ByState, &layout::by_state(v))?;
        tx.bump(T::Counts, &count_key(&v.site, v.router, old_state), -1)?;
        tx.bump(T::Counts, &count_key(&v.site, v.router, v.state), 1)?;
    }
    Ok(())
}

/// Applies `change` to voucher `code` (which must exist).
pub(super) fn change(
    tx: &mut Tx<'_, '_>,
    code: &str,
    change: &VoucherChange,
    at: i64,
) -> Result<Option<ChangeOutcome>, StoreError> {
    let Some(mut record) = tx.get::<VoucherRecord>(T::Vouchers, code.as_bytes())? else {
        return Ok(None);
    };
    let old_state = record.state;
    let transition = record.apply(change, at);
    if transition.changed() {
        replace(tx, old_state, &record)?;
    }
    Ok(Some(ChangeOutcome { record, transition }))
}

/// Records what was learned about router `r` at `at`; older news never replaces newer.
pub(super) fn observe(
    tx: &mut Tx<'_, '_>,
    mut r: RouterRecord,
    seen: &RouterObservation,
    at: i64,
) -> Result<(), StoreError> {
    let newer = |slot: Option<i64>| slot.is_none_or(|t| t <= at);
    let reachable = match seen {
        RouterObservation::Info(info) if newer(r.info.as_ref().map(|x| x.1)) => {
            r.info = Some((info.clone(), at));
            true
        }
        RouterObservation::Health(h) if newer(r.health.as_ref().map(|x| x.1)) => {
            r.health = Some((h.clone(), at));
            true
        }
        RouterObservation::Synced if newer(r.last_sync_at) => {
            r.last_sync_at = Some(at);
            true
        }
        RouterObservation::Down(f) if newer(r.last_error.as_ref().map(|x| x.1)) => {
            r.last_error = Some((f.clone(), at));
            false
        }
        _ => return Ok(()),
    };
    if reachable && r.last_error.as_ref().is_some_and(|(_, t)| *t <= at) {
        r.last_error = None;
    }
    tx.put(T::Routers, &id_key(r.id.0), &r)
}
