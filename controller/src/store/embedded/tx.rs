//! The ledger's typed view of one write transaction, shared by the store's own calls and by the
//! fleet link's inbox transaction.
//!
//! [`Tx`] wraps a [`WriteTx`] and names its tables by [`T`], decoding and encoding records on
//! the way, so the same in-transaction code (voucher index maintenance, audit appends) runs
//! inside a store call ([`EmbeddedStore::run`](super::EmbeddedStore)) and inside
//! [`hotspot_link::Inbound::apply`], where the link owns the transaction. Write transactions
//! run one at a time and are never retried, so an `Err` is simply a rollback.

use hotspot_storage::{Entries, WriteTx};

use super::layout::T;
use crate::store::codec::{Record, decode, encode, time_key, u64_of};
use crate::store::error::StoreError;
use crate::store::records::AuditEntry;

/// The ledger's tables inside one write transaction.
pub struct Tx<'a, 't> {
    w: &'a mut WriteTx<'t>,
}

impl<'a, 't> Tx<'a, 't> {
    pub fn new(w: &'a mut WriteTx<'t>) -> Self {
        Tx { w }
    }

    pub fn get<R: Record>(&mut self, t: T, key: &[u8]) -> Result<Option<R>, StoreError> {
        match self.w.get(t.name(), key)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The stored bytes under `key`, undecoded.
    pub fn get_raw(&mut self, t: T, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.w.get(t.name(), key)?)
    }

    pub fn put<R: Record>(&mut self, t: T, key: &[u8], value: &R) -> Result<(), StoreError> {
        let bytes = encode(value)?;
        self.put_raw(t, key, &bytes)
    }

    pub fn put_raw(&mut self, t: T, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        Ok(self.w.insert(t.name(), key, value)?)
    }

    /// An index entry: the key is everything, the value empty.
    pub fn mark(&mut self, t: T, key: &[u8]) -> Result<(), StoreError> {
        self.put_raw(t, key, &[])
    }

    pub fn remove(&mut self, t: T, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.w.remove(t.name(), key)?)
    }

    pub fn has(&mut self, t: T, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.w.contains(t.name(), key)?)
    }

    /// Every key and value of `t` starting with `prefix`, in key order.
    pub fn prefixed(&mut self, t: T, prefix: &[u8]) -> Result<Entries, StoreError> {
        Ok(self.w.prefixed(t.name(), prefix)?)
    }

    /// Adds `delta` to the u64 under `key` (removed at zero), never below zero.
    pub fn bump(&mut self, t: T, key: &[u8], delta: i64) -> Result<u64, StoreError> {
        let now = self
            .w
            .get(t.name(), key)?
            .and_then(|v| u64_of(&v))
            .unwrap_or(0);
        let next = now.saturating_add_signed(delta);
        if next == 0 {
            self.w.remove(t.name(), key)?;
        } else {
            self.w.insert(t.name(), key, &next.to_be_bytes())?;
        }
        Ok(next)
    }

    /// The next id of counter `name` in `ledger/meta` (dense, from 1).
    pub fn next_id(&mut self, name: &str) -> Result<u64, StoreError> {
        self.bump(T::Meta, name.as_bytes(), 1)
    }

    /// Appends an audit entry under `time ‖ n`, `n` from the `audit` counter in `ledger/meta`
    /// (written in this transaction, so two entries never share a key).
    pub fn audit(&mut self, entry: &AuditEntry) -> Result<(), StoreError> {
        let n = self.next_id(AUDIT_COUNTER)?;
        let mut key = time_key(entry.at).to_vec();
        key.extend_from_slice(&n.to_be_bytes());
        self.put(T::Audit, &key, entry)
    }
}

/// The `ledger/meta` counter that numbers audit entries.
const AUDIT_COUNTER: &str = "audit";
