//! The embedded implementation of [`Store`](super::Store), on [`hotspot_storage`] (redb).
//!
//! Shaped around three facts of the storage boundary:
//! - a change that spans tables (a voucher and its five indexes and counts; a router and its
//!   site index; any change and its audit entry) is one write transaction (`tx`), so a crash
//!   never leaves an index pointing at nothing. Write transactions run one at a time, so a
//!   check and the write it guards (a free code, a unique user name) cannot race;
//! - a commit is visible at once but durable only after a barrier ([`Db::barrier`], the group
//!   commit), which callers get through [`Written::durable`](super::Written::durable) — at most
//!   one barrier per call, however big the batch, shared by concurrent callers;
//! - reads run on snapshots ([`Db::read`]): a listing page or a count sees one consistent
//!   state, and never blocks a writer.
//!
//! The store shares its [`Db`] with the fleet link; [`LedgerInbound`] applies agents' events
//! inside the link's transaction with the same in-transaction code as the store's own calls.
//! (The ledger was on sled before; sled's flush is no fsync and lost acknowledged writes in
//! power cuts, hence redb behind `hotspot-storage`.)

mod heal;
mod inbound;
pub mod layout;
mod misc;
mod people;
mod routers;
mod store_impl;
mod tx;
mod voucher_list;
mod vouchers;
mod writes;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use hotspot_storage::{Db, Flow, Options, ReadTx};

pub use inbound::{Clock, LedgerInbound};
pub use people::MAX_ASSIGNED_ROUTERS;

use super::codec::{Record, decode};
use super::error::StoreError;
use super::query::{Cursor, Page, SCAN_BUDGET};
use super::written::Written;
use layout::T;
use tx::Tx;

/// Schema version written in `ledger/meta`; a database from a newer build is refused.
const SCHEMA: u64 = 1;

/// The page cache of the ledger's database: a server can afford it, and listings and counts
/// read the voucher indexes over and over.
pub const CACHE_BYTES: usize = 64 << 20;

/// The ledger in an embedded database. Cheap to clone (handles to the same database).
#[derive(Clone, Debug)]
pub struct EmbeddedStore {
    db: Db,
    /// Oldest `issued_at` of site sales applied since it was last taken (`i64::MAX`: none;
    /// starts at 0 so the first look checks every recent report).
    late_site_sales: Arc<AtomicI64>,
    decisions: crate::store::Decisions,
}

impl EmbeddedStore {
    /// Opens (or creates) the ledger in the database file at `path` (its directory must
    /// exist). A file another process holds open is refused with
    /// [`StorageError::InUse`](hotspot_storage::StorageError::InUse).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = Db::open(
            path,
            Options {
                cache_bytes: CACHE_BYTES,
            },
        )?;
        EmbeddedStore::new(&db)
    }

    /// The ledger in an open database (the one the fleet link uses too).
    pub fn new(db: &Db) -> Result<Self, StoreError> {
        let check = |stored: Option<Vec<u8>>| match stored {
            Some(v) if v == SCHEMA.to_be_bytes() => Ok(true),
            Some(v) => Err(StoreError::Corrupt {
                kind: "ledger",
                detail: format!("schema {v:?}, this build reads {SCHEMA}"),
            }),
            None => Ok(false),
        };
        if !check(db.read()?.get(T::Meta.name(), b"schema")?)? {
            db.write(|tx| {
                if !check(tx.get(T::Meta.name(), b"schema")?)? {
                    tx.insert(T::Meta.name(), b"schema", &SCHEMA.to_be_bytes())?;
                }
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(EmbeddedStore {
            db: db.clone(),
            late_site_sales: Arc::new(AtomicI64::new(0)),
            decisions: crate::store::Decisions::default(),
        })
    }

    /// The database, for the fleet link.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The fleet-link handler that applies agents' events to this ledger.
    pub fn inbound(&self) -> LedgerInbound {
        LedgerInbound::new(
            self.db.clone(),
            self.late_site_sales.clone(),
            self.decisions.clone(),
        )
    }

    /// Durability barriers run so far on this store's database (metrics, tests).
    pub fn barriers(&self) -> u64 {
        self.db.barriers()
    }

    /// Runs `f` in one write transaction; an `Err` rolls it back.
    fn run<R>(
        &self,
        f: impl FnOnce(&mut Tx<'_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.db.write(|w| f(&mut Tx::new(w)))
    }

    fn written<R>(&self, value: R) -> Written<R> {
        Written::after_barrier(value, &self.db)
    }

    fn snapshot(&self) -> Result<ReadTx, StoreError> {
        Ok(self.db.read()?)
    }

    fn read<R: Record>(&self, t: T, key: &[u8]) -> Result<Option<R>, StoreError> {
        get(&self.snapshot()?, t, key)
    }

    fn read_all<R: Record>(&self, t: T, prefix: &[u8]) -> Result<Vec<R>, StoreError> {
        let snapshot = self.snapshot()?;
        let mut out = Vec::new();
        scan_prefix(&snapshot, t, prefix, |_, v| {
            out.push(decode(v)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Newest-first page of the keys of `t` in `[lo, hi)` (`hi: None`: no bound) in
    /// `snapshot`, resuming before a cursor's key (one above the range starts at its top, one
    /// below it gives an empty page); `keep` maps a key and value to an item or skips it.
    fn page<I>(
        snapshot: &ReadTx,
        t: T,
        lo: Vec<u8>,
        hi: Option<Vec<u8>>,
        after: Option<&Cursor>,
        limit: usize,
        mut keep: impl FnMut(&[u8], &[u8]) -> Result<Option<I>, StoreError>,
    ) -> Result<Page<I>, StoreError> {
        let hi = match after {
            Some(c) => {
                let key = c.key()?;
                match hi {
                    Some(hi) if key >= hi => Some(hi),
                    _ => Some(key),
                }
            }
            None => hi,
        };
        let mut page = Page {
            items: Vec::new(),
            next: None,
        };
        if hi.as_ref().is_some_and(|hi| *hi <= lo) {
            return Ok(page); // an empty range (a filter's `from` after its `until`)
        }
        let upper = hi.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let mut scanned = 0;
        // Set once the page is full: the key it stopped at. One more entry means "more".
        let mut stopped: Option<Vec<u8>> = None;
        snapshot.scan(
            t.name(),
            (Bound::Included(lo.as_slice()), upper),
            true,
            |k, v| {
                if let Some(last) = stopped.take() {
                    page.next = Some(Cursor::new(&last));
                    return Ok(Flow::Stop);
                }
                scanned += 1;
                if let Some(item) = keep(k, v)? {
                    page.items.push(item);
                }
                if page.items.len() == limit || scanned == SCAN_BUDGET {
                    stopped = Some(k.to_vec());
                }
                Ok::<_, StoreError>(Flow::Continue)
            },
        )?;
        Ok(page)
    }
}

/// The record under `key` in `t` of `snapshot`.
fn get<R: Record>(snapshot: &ReadTx, t: T, key: &[u8]) -> Result<Option<R>, StoreError> {
    match snapshot.get(t.name(), key)? {
        Some(bytes) => decode(&bytes).map(Some),
        None => Ok(None),
    }
}

/// Visits every entry of `t` in `snapshot` whose key starts with `prefix`, in key order.
/// `visit` must not read `snapshot` itself (a scan holds the snapshot's table).
fn scan_prefix(
    snapshot: &ReadTx,
    t: T,
    prefix: &[u8],
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let end = hotspot_storage::prefix_end(prefix);
    snapshot.scan(
        t.name(),
        hotspot_storage::prefix_bounds(prefix, &end),
        false,
        |k, v| {
            visit(k, v)?;
            Ok(Flow::Continue)
        },
    )
}
