//! The agent's durable state in sled, behind typed operations.
//!
//! Trees (all named `agent/…`; the link's own trees are `link/…` in the same database):
//! - `routers`: router id → [`RouterEntry`] (password sealed, never plain);
//! - `queue`: `router ‖ seq` → [`ApplyItem`], the apply queue, in order per router;
//! - `desired`: `router ‖ code` → [`DesiredEntry`], what should exist on each router;
//! - `catalogue`, `staff`, `grant`: the latest package catalogue, staff directory and code grant
//!   from the controller, stored for the site's local issuing page;
//! - `sales`: outbox seq of the `IssuedAtSite` event → [`SaleRecord`], vouchers sold at the
//!   site (written in the outbox's own transaction, see `local::sell`); at most
//!   [`MAX_SALES_KEPT`] are kept, oldest acknowledged ones go first;
//! - `usage`: `router ‖ code` → [`HeldUsage`], usage read while the link was down, one entry
//!   per voucher (first and latest sample), delivered when it is back: bounded by the
//!   vouchers on the router however long the outage, and never crowding sales out of the
//!   outbox;
//! - `sync`: "sync now" flags (router id, or `all`), read by the jobs;
//! - `retired`: routers the controller removed, whose queue and desired state are still to be
//!   purged;
//! - `wake`: one key rewritten by every inbound command, watched to wake the workers.
//!
//! Why it is shaped so: the inbound handler writes several of these trees in the *same*
//! transaction as the link's "applied seq N" record ([`Store::inbound_trees`] lists them in
//! the order [`tree`] indexes them), so a command is queued exactly once. Who acts on a command
//! learns of it from one sled subscriber on `wake` (one event per command, not per voucher:
//! sled's subscriber channel holds 1,024 events and a full one stalls the writing transaction). Everything else here
//! is a short transaction or a single write. Sequence numbers come from sled's crash-safe
//! monotonic id generator, so a re-queued item always sorts after what is already queued
//! (inside a transaction, only through the `TransactionalTree`: `Db::generate_id` takes the
//! lock the transaction holds, and waits for ever).

pub mod records;

use hotspot_shared::domain::{Package, RemovalReason, RouterId};
use hotspot_shared::fleet::msg::StaffEntry;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

pub use records::{
    ApplyItem, ApplyOp, DesiredEntry, DesiredStatus, Grant, HeldUsage, RouterEntry, SaleRecord,
};
use records::{decode, desired_key, encode, queue_key, router_key};

/// Indexes of [`Store::inbound_trees`] inside the inbound transaction.
pub mod tree {
    pub const ROUTERS: usize = 0;
    pub const QUEUE: usize = 1;
    pub const DESIRED: usize = 2;
    pub const CATALOGUE: usize = 3;
    pub const STAFF: usize = 4;
    pub const GRANT: usize = 5;
    pub const SYNC: usize = 6;
    pub const RETIRED: usize = 7;
    pub const WAKE: usize = 8;
}

/// Key of the single value in `catalogue`, `staff` and `grant`.
pub const CURRENT: &[u8] = b"current";
/// `sync` key meaning every router.
pub const SYNC_ALL: &[u8] = b"all";
/// The single key of `wake`.
pub const WAKE_KEY: &[u8] = b"wake";

/// Local sales kept for the page's list (acknowledged ones beyond it are forgotten).
pub const MAX_SALES_KEPT: usize = 20_000;

/// Most writes in one repair transaction (larger repairs take several).
const REPAIR_CHUNK: usize = 500;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored value does not decode: {0}")]
    Codec(String),
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

/// An item taken off the queue and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub seq: u64,
    pub code: String,
    pub status: DesiredStatus,
}

/// The agent's trees. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: sled::Db,
    routers: sled::Tree,
    queue: sled::Tree,
    desired: sled::Tree,
    catalogue: sled::Tree,
    staff: sled::Tree,
    grant: sled::Tree,
    sync: sled::Tree,
    retired: sled::Tree,
    wake: sled::Tree,
    sales: sled::Tree,
    usage: sled::Tree,
}

impl Store {
    pub fn open(db: &sled::Db) -> Result<Store, StoreError> {
        let t = |name: &str| db.open_tree(format!("agent/{name}"));
        Ok(Store {
            db: db.clone(),
            routers: t("routers")?,
            queue: t("queue")?,
            desired: t("desired")?,
            catalogue: t("catalogue")?,
            staff: t("staff")?,
            grant: t("grant")?,
            sync: t("sync")?,
            retired: t("retired")?,
            wake: t("wake")?,
            sales: t("sales")?,
            usage: t("usage")?,
        })
    }

    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// The trees the inbound handler writes, in [`tree`] order.
    pub fn inbound_trees(&self) -> Vec<sled::Tree> {
        vec![
            self.routers.clone(),
            self.queue.clone(),
            self.desired.clone(),
            self.catalogue.clone(),
            self.staff.clone(),
            self.grant.clone(),
            self.sync.clone(),
            self.retired.clone(),
            self.wake.clone(),
        ]
    }

    /// Events after every committed inbound command.
    pub fn watch_commands(&self) -> sled::Subscriber {
        self.wake.watch_prefix(WAKE_KEY)
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    pub fn routers(&self) -> Result<Vec<RouterEntry>, StoreError> {
        self.routers
            .iter()
            .map(|kv| decode(&kv?.1))
            .collect::<Result<_, _>>()
    }

    /// Stores (or replaces) a router and makes it durable.
    pub async fn put_router(&self, entry: &RouterEntry) -> Result<(), StoreError> {
        let key = router_key(entry.id);
        self.routers.insert(key, encode(entry)?)?;
        self.retired.remove(key)?;
        self.flush().await
    }

    /// Up to `n` queued items of `router`, oldest first, with their sequence numbers.
    pub fn queue_batch(
        &self,
        router: RouterId,
        n: usize,
    ) -> Result<Vec<(u64, ApplyItem)>, StoreError> {
        self.queue
            .scan_prefix(router_key(router))
            .take(n)
            .map(|kv| {
                let (k, v) = kv?;
                let seq = records::seq_of_queue_key(&k)
                    .ok_or_else(|| StoreError::Codec("short queue key".into()))?;
                Ok((seq, decode(&v)?))
            })
            .collect()
    }

    /// Items queued for `router`.
    pub fn queue_len(&self, router: RouterId) -> usize {
        self.queue.scan_prefix(router_key(router)).count()
    }

    /// Takes finished items off the queue and records their outcome in `desired`, in one
    /// transaction. A voucher whose removal is queued stays `Removing` when its create
    /// finishes.
    pub fn finish(&self, router: RouterId, done: &[Done]) -> Result<(), StoreError> {
        (&self.queue, &self.desired).transaction(|(queue, desired)| {
            for d in done {
                queue.remove(&queue_key(router, d.seq))?;
                let key = desired_key(router, &d.code);
                let Some(bytes) = desired.get(&key)? else {
                    continue;
                };
                let mut entry: DesiredEntry = decode(&bytes).map_err(abort)?;
                let keep_removing =
                    entry.status == DesiredStatus::Removing && d.status == DesiredStatus::OnRouter;
                if !keep_removing {
                    entry.status = d.status;
                    desired.insert(key, encode(&entry).map_err(abort)?)?;
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    /// What should exist on `router`, by code.
    pub fn desired(&self, router: RouterId) -> Result<Vec<DesiredEntry>, StoreError> {
        self.desired
            .scan_prefix(router_key(router))
            .map(|kv| decode(&kv?.1))
            .collect()
    }

    /// Queues a create again for each voucher of `codes` that is still `OnRouter` (the router
    /// lost it); returns the codes re-queued.
    pub fn requeue_missing(
        &self,
        router: RouterId,
        codes: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut restored = Vec::new();
        for chunk in codes.chunks(REPAIR_CHUNK) {
            let done = (&self.queue, &self.desired).transaction(|(queue, desired)| {
                let mut done = Vec::new();
                for code in chunk {
                    let key = desired_key(router, code);
                    let Some(bytes) = desired.get(&key)? else {
                        continue;
                    };
                    let mut entry: DesiredEntry = decode(&bytes).map_err(abort)?;
                    if entry.status != DesiredStatus::OnRouter {
                        continue;
                    }
                    let seq = queue.generate_id().map_err(|e| abort(e.into()))?;
                    let item = ApplyItem {
                        router,
                        op: ApplyOp::Create {
                            user: entry.user.clone(),
                            profile: entry.profile.clone(),
                        },
                    };
                    queue.insert(&queue_key(router, seq), encode(&item).map_err(abort)?)?;
                    entry.status = DesiredStatus::Pending;
                    desired.insert(key, encode(&entry).map_err(abort)?)?;
                    done.push(code.clone());
                }
                Ok(done)
            })?;
            restored.extend(done);
        }
        Ok(restored)
    }

    /// Queues the removal of a voucher that is on the router (validity over); false when it is
    /// not `OnRouter` any more.
    pub fn queue_removal(
        &self,
        router: RouterId,
        code: &str,
        reason: RemovalReason,
    ) -> Result<bool, StoreError> {
        let queued = (&self.queue, &self.desired).transaction(|(queue, desired)| {
            let key = desired_key(router, code);
            let Some(bytes) = desired.get(&key)? else {
                return Ok(false);
            };
            let mut entry: DesiredEntry = decode(&bytes).map_err(abort)?;
            if entry.status != DesiredStatus::OnRouter {
                return Ok(false);
            }
            let seq = queue.generate_id().map_err(|e| abort(e.into()))?;
            let item = ApplyItem {
                router,
                op: ApplyOp::Remove {
                    code: code.to_owned(),
                    reason,
                },
            };
            queue.insert(&queue_key(router, seq), encode(&item).map_err(abort)?)?;
            entry.status = DesiredStatus::Removing;
            desired.insert(key, encode(&entry).map_err(abort)?)?;
            Ok(true)
        })?;
        Ok(queued)
    }

    /// Records when a voucher was first seen in use (kept if already set).
    pub fn mark_first_use(&self, router: RouterId, code: &str, at: i64) -> Result<(), StoreError> {
        let key = desired_key(router, code);
        self.desired
            .fetch_and_update(&key, |old| {
                let mut entry: DesiredEntry = decode(old?).ok()?;
                entry.first_used_at.get_or_insert(at);
                encode(&entry).ok()
            })
            .map(drop)
            .map_err(StoreError::from)
    }

    /// Takes every "sync now" flag: `None` means every router.
    pub fn take_sync_flags(&self) -> Result<Vec<Option<RouterId>>, StoreError> {
        let mut flags = Vec::new();
        for kv in self.sync.iter() {
            let (k, _) = kv?;
            self.sync.remove(&k)?;
            flags.push(if &*k == SYNC_ALL {
                None
            } else {
                records::router_of_key(&k)
            });
        }
        Ok(flags)
    }

    /// Routers removed by the controller whose data is still to be purged.
    pub fn retired(&self) -> Result<Vec<RouterId>, StoreError> {
        self.retired
            .iter()
            .keys()
            .map(|k| Ok(records::router_of_key(&k?)))
            .filter_map(|r| r.transpose())
            .collect()
    }

    /// Keeps `samples` read at `at` while the link is down, merged per voucher (see
    /// [`HeldUsage`]).
    pub fn hold_usage(
        &self,
        router: RouterId,
        at: i64,
        samples: &[hotspot_shared::domain::UsageSample],
    ) -> Result<(), StoreError> {
        for s in samples {
            let key = desired_key(router, &s.code);
            let held = match self.usage.get(&key)? {
                Some(old) => {
                    let mut h: HeldUsage = decode(&old)?;
                    h.last_at = at;
                    h.last = s.clone();
                    h
                }
                None => HeldUsage {
                    first_at: at,
                    first: s.clone(),
                    last_at: at,
                    last: s.clone(),
                },
            };
            self.usage.insert(key, encode(&held)?)?;
        }
        Ok(())
    }

    /// Usage held for `router`, with the raw values (for [`Store::release_usage`]).
    pub fn held_usage(
        &self,
        router: RouterId,
    ) -> Result<Vec<(sled::IVec, sled::IVec, HeldUsage)>, StoreError> {
        self.usage
            .scan_prefix(router_key(router))
            .map(|kv| {
                let (k, v) = kv?;
                let h = decode(&v)?;
                Ok((k, v, h))
            })
            .collect()
    }

    /// Forgets held usage once delivered, unless it changed meanwhile.
    pub fn release_usage(
        &self,
        held: &[(sled::IVec, sled::IVec, HeldUsage)],
    ) -> Result<(), StoreError> {
        for (k, v, _) in held {
            let _ = self.usage.compare_and_swap(k, Some(v), None::<&[u8]>)?;
        }
        Ok(())
    }

    /// Vouchers with usage held back.
    pub fn held_usage_len(&self) -> usize {
        self.usage.len()
    }

    /// Forgets everything about `router`: queue, desired state, flags, settings.
    pub fn purge(&self, router: RouterId) -> Result<(), StoreError> {
        let prefix = router_key(router);
        for tree in [&self.queue, &self.desired, &self.usage] {
            for k in tree.scan_prefix(prefix).keys() {
                tree.remove(k?)?;
            }
        }
        self.sync.remove(prefix)?;
        self.routers.remove(prefix)?;
        self.retired.remove(prefix)?;
        Ok(())
    }

    /// The latest package catalogue from the controller.
    pub fn catalogue(&self) -> Result<Option<Vec<Package>>, StoreError> {
        self.catalogue.get(CURRENT)?.map(|v| decode(&v)).transpose()
    }

    /// The latest staff directory from the controller.
    pub fn staff(&self) -> Result<Option<Vec<StaffEntry>>, StoreError> {
        self.staff.get(CURRENT)?.map(|v| decode(&v)).transpose()
    }

    /// The code space granted for vouchers made at the site.
    pub fn grant(&self) -> Result<Option<Grant>, StoreError> {
        self.grant.get(CURRENT)?.map(|v| decode(&v)).transpose()
    }

    /// The trees a local sale writes, in the order `local::sell` indexes them:
    /// queue, desired, sales.
    pub fn sale_trees(&self) -> Vec<sled::Tree> {
        vec![self.queue.clone(), self.desired.clone(), self.sales.clone()]
    }

    /// Whether `code` is known on any router (desired state, whatever its status).
    pub fn code_taken(&self, code: &str) -> Result<bool, StoreError> {
        for r in self.routers()? {
            if self.desired.contains_key(desired_key(r.id, code))? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The desired-state entry of `code` on `router`.
    pub fn desired_entry(
        &self,
        router: RouterId,
        code: &str,
    ) -> Result<Option<DesiredEntry>, StoreError> {
        self.desired
            .get(desired_key(router, code))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Sales whose event the controller has not acknowledged (`acked` = its highest ack).
    pub fn pending_sales(&self, acked: u64) -> usize {
        self.sales
            .range(acked.saturating_add(1).to_be_bytes()..)
            .count()
    }

    /// The newest `limit` local sales, newest first, with their outbox sequence numbers.
    pub fn recent_sales(&self, limit: usize) -> Result<Vec<(u64, SaleRecord)>, StoreError> {
        self.sales
            .iter()
            .rev()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                let seq: [u8; 8] = k
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Codec("short sales key".into()))?;
                Ok((u64::from_be_bytes(seq), decode(&v)?))
            })
            .collect()
    }

    /// Forgets acknowledged sales beyond the newest [`MAX_SALES_KEPT`].
    pub fn prune_sales(&self, acked: u64) -> Result<usize, StoreError> {
        let excess = self.sales.len().saturating_sub(MAX_SALES_KEPT);
        let mut removed = 0;
        for k in self.sales.iter().keys().take(excess) {
            let k = k?;
            if k.as_ref() > acked.to_be_bytes().as_slice() {
                break;
            }
            self.sales.remove(k)?;
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;
