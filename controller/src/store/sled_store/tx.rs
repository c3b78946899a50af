//! Multi-tree transactions over named trees, shared by the store's own calls and by the fleet
//! link's inbox transaction.
//!
//! sled hands a transaction its trees as a positional `Vec`; [`Tx`] names them by [`T`] so the
//! same in-transaction code (voucher index maintenance, audit appends) runs inside a store call
//! ([`Trees::run`]) and inside [`hotspot_link::InboxTx`], where the link owns the transaction.
//! Asking a [`Tx`] for a tree it was not opened with is a bug and aborts the transaction with
//! a named error rather than panicking.

use std::sync::Arc;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::layout::T;
use crate::store::codec::{Record, decode, encode, time_key, u64_of};
use crate::store::error::StoreError;
use crate::store::records::AuditEntry;
use hotspot_link::Flusher;

pub type TxResult<R> = Result<R, ConflictableTransactionError<StoreError>>;

pub fn abort<R>(e: StoreError) -> TxResult<R> {
    Err(ConflictableTransactionError::Abort(e))
}

/// Every ledger tree of one database, opened once.
#[derive(Clone)]
pub struct Trees {
    pub db: sled::Db,
    pub flusher: Arc<Flusher>,
    all: Arc<Vec<sled::Tree>>,
    /// Oldest `issued_at` of site sales applied since it was last taken (`i64::MAX`: none;
    /// starts at 0 so the first look checks every recent report).
    pub late_site_sales: Arc<std::sync::atomic::AtomicI64>,
}

impl Trees {
    pub fn open(db: &sled::Db) -> Result<Self, StoreError> {
        let all = T::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Trees {
            db: db.clone(),
            flusher: Arc::new(Flusher::new(db.clone())),
            all: Arc::new(all),
            late_site_sales: Arc::new(std::sync::atomic::AtomicI64::new(0)),
        })
    }

    pub fn get(&self, t: T) -> &sled::Tree {
        &self.all[t as usize]
    }

    /// Runs `f` in one transaction over the trees in `set` (retried by sled on conflict).
    pub fn run<R>(&self, set: &[T], f: impl Fn(&Tx<'_>) -> TxResult<R>) -> Result<R, StoreError> {
        let trees: Vec<&sled::Tree> = set.iter().map(|t| self.get(*t)).collect();
        let result = trees.as_slice().transaction(|views| {
            let tx = Tx::new(set.iter().copied().zip(views.iter()));
            f(&tx)
        });
        result.map_err(StoreError::from)
    }
}

/// The transactional view of some ledger trees.
pub struct Tx<'a> {
    slots: [Option<&'a TransactionalTree>; T::ALL.len()],
}

impl<'a> Tx<'a> {
    pub fn new(trees: impl IntoIterator<Item = (T, &'a TransactionalTree)>) -> Self {
        let mut slots = [None; T::ALL.len()];
        for (t, tree) in trees {
            slots[t as usize] = Some(tree);
        }
        Tx { slots }
    }

    pub fn t(&self, t: T) -> TxResult<&'a TransactionalTree> {
        match self.slots[t as usize] {
            Some(tree) => Ok(tree),
            None => abort(StoreError::Corrupt {
                kind: "transaction",
                detail: format!("tree {} is not part of this transaction", t.name()),
            }),
        }
    }

    pub fn get<R: Record>(&self, t: T, key: &[u8]) -> TxResult<Option<R>> {
        match self.t(t)?.get(key)? {
            Some(bytes) => decode(&bytes).map(Some).or_else(abort),
            None => Ok(None),
        }
    }

    pub fn put<R: Record>(&self, t: T, key: &[u8], value: &R) -> TxResult<()> {
        let bytes = encode(value).or_else(abort)?;
        self.t(t)?.insert(key, bytes)?;
        Ok(())
    }

    pub fn mark(&self, t: T, key: &[u8]) -> TxResult<()> {
        self.t(t)?.insert(key, &[][..])?;
        Ok(())
    }

    pub fn remove(&self, t: T, key: &[u8]) -> TxResult<bool> {
        Ok(self.t(t)?.remove(key)?.is_some())
    }

    pub fn has(&self, t: T, key: &[u8]) -> TxResult<bool> {
        Ok(self.t(t)?.get(key)?.is_some())
    }

    /// Adds `delta` to the u64 under `key` (removed at zero), never below zero.
    pub fn bump(&self, t: T, key: &[u8], delta: i64) -> TxResult<u64> {
        let tree = self.t(t)?;
        let now = tree.get(key)?.and_then(|v| u64_of(&v)).unwrap_or(0);
        let next = now.saturating_add_signed(delta);
        if next == 0 {
            tree.remove(key)?;
        } else {
            tree.insert(key, &next.to_be_bytes())?;
        }
        Ok(next)
    }

    /// The next id of counter `name` in `ledger/meta` (dense, from 1).
    pub fn next_id(&self, name: &str) -> TxResult<u64> {
        self.bump(T::Meta, name.as_bytes(), 1)
    }

    /// Appends an audit entry under `time ‖ unique id`.
    pub fn audit(&self, entry: &AuditEntry) -> TxResult<()> {
        let tree = self.t(T::Audit)?;
        let id = tree.generate_id()?;
        let mut key = time_key(entry.at).to_vec();
        key.extend_from_slice(&id.to_be_bytes());
        self.put(T::Audit, &key, entry)
    }
}
