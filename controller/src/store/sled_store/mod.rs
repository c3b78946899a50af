//! The sled implementation of [`Store`](super::Store).
//!
//! Shaped around three sled facts (DESIGN.md, "sled durability"):
//! - a change that spans trees (a voucher and its five indexes and counts; a router and its
//!   site index; any change and its audit entry) is one multi-tree transaction (`tx`), so a
//!   crash never leaves an index pointing at nothing;
//! - a write is durable only after a flush, which callers get through
//!   [`Written::durable`](super::Written::durable) — at most one flush per call, however big
//!   the batch, and concurrent callers share flushes (`hotspot_link::Flusher`);
//! - transactions cannot scan, so every index key is computed from the record alone
//!   ([`layout`]), and reads that scan (listings, counts) run outside transactions.
//!
//! The store shares its `sled::Db` with the fleet link; [`LedgerInbound`] applies agents'
//! events inside the link's transaction with the same in-transaction code as the store's own
//! calls.

mod inbound;
pub mod layout;
mod misc;
mod people;
mod routers;
mod store_impl;
mod tx;
mod voucher_list;
mod vouchers;

use std::ops::Bound;
use std::path::Path;

pub use inbound::{Clock, LedgerInbound};

use super::codec::{Record, decode};
use super::error::StoreError;
use super::query::{Cursor, Page};
use super::written::Written;
use layout::T;
use tx::Trees;

/// Schema version written in `ledger/meta`; a database from a newer build is refused.
const SCHEMA: u64 = 1;

/// The ledger on sled. Cheap to clone (handles to the same trees).
#[derive(Clone)]
pub struct SledStore {
    trees: Trees,
}

impl SledStore {
    /// Opens (or creates) the ledger in a database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(path).open()?;
        SledStore::new(&db)
    }

    /// The ledger in an open database (the one the fleet link uses too).
    pub fn new(db: &sled::Db) -> Result<Self, StoreError> {
        let trees = Trees::open(db)?;
        let meta = trees.get(T::Meta);
        match meta.get("schema")? {
            None => {
                meta.insert("schema", &SCHEMA.to_be_bytes())?;
            }
            Some(v) if v.as_ref() == SCHEMA.to_be_bytes() => {}
            Some(v) => {
                return Err(StoreError::Corrupt {
                    kind: "ledger",
                    detail: format!("schema {v:?}, this build reads {SCHEMA}"),
                });
            }
        }
        Ok(SledStore { trees })
    }

    /// The database, for the fleet link.
    pub fn db(&self) -> &sled::Db {
        &self.trees.db
    }

    /// The fleet-link handler that applies agents' events to this ledger.
    pub fn inbound(&self) -> LedgerInbound {
        LedgerInbound::new(self.trees.clone())
    }

    /// Bytes sled uses on disk (long tests record it: queue-like trees grow).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.trees.db.size_on_disk()?)
    }

    /// Flushes run so far by this store's group commit (metrics, tests).
    pub fn flushes(&self) -> u64 {
        self.trees.flusher.flushes()
    }

    fn written<R>(&self, value: R) -> Written<R> {
        Written::sled(value, &self.trees.flusher)
    }

    fn tree(&self, t: T) -> &sled::Tree {
        self.trees.get(t)
    }

    fn read<R: Record>(&self, t: T, key: &[u8]) -> Result<Option<R>, StoreError> {
        match self.tree(t).get(key)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    fn read_all<R: Record>(&self, t: T, prefix: &[u8]) -> Result<Vec<R>, StoreError> {
        self.tree(t)
            .scan_prefix(prefix)
            .map(|kv| decode(&kv?.1))
            .collect()
    }

    /// Newest-first page of the keys of `t` in `[lo, hi)` (`hi: None`: no bound), resuming
    /// after a cursor tagged `tag`; `keep` maps a key and value to an item or skips it.
    #[allow(clippy::too_many_arguments)]
    fn page<I>(
        &self,
        t: T,
        tag: u8,
        lo: Vec<u8>,
        hi: Option<Vec<u8>>,
        after: Option<&Cursor>,
        limit: usize,
        mut keep: impl FnMut(&[u8], &[u8]) -> Result<Option<I>, StoreError>,
    ) -> Result<Page<I>, StoreError> {
        let hi = match after {
            Some(c) => {
                let key = c.key_for(tag)?;
                if key < lo || hi.as_ref().is_some_and(|hi| &key >= hi) {
                    return Err(StoreError::BadCursor);
                }
                Bound::Excluded(key)
            }
            None => hi.map_or(Bound::Unbounded, Bound::Excluded),
        };
        let mut items = Vec::new();
        let mut last = None;
        let mut scanned = 0;
        let mut iter = self.tree(t).range((Bound::Included(lo), hi)).rev();
        for kv in iter.by_ref() {
            let (k, v) = kv?;
            scanned += 1;
            if let Some(item) = keep(&k, &v)? {
                items.push(item);
            }
            last = Some(k);
            if items.len() == limit || scanned == super::query::SCAN_BUDGET {
                break;
            }
        }
        let more = last.is_some() && iter.next().is_some();
        let next = match last {
            Some(k) if more => Some(Cursor::new(tag, &k)),
            _ => None,
        };
        Ok(Page { items, next })
    }
}

/// The least key above every key starting with `prefix` (`None`: there is none).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
