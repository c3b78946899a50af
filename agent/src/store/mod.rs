//! The agent's durable state, behind typed operations.
//!
//! Tables (all named `agent/…`; the link's own tables are `link/…` in the same database):
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
//! - `meta`: the last queue sequence number handed out;
//! - `heal`: the controller's request for an inventory, until it is queued (see `heal`).
//!
//! Why it is shaped so: the inbound handler writes several of these tables in the *same*
//! transaction as the link's "applied seq N" record, so a command is queued exactly once. Who
//! acts on a command is woken after that transaction commits ([`Store::commands`], one
//! coalescing notification, not one per voucher). Queue sequence numbers come from a counter
//! in `meta` written in the transaction that queues the item, so a re-queued item always sorts
//! after what is already queued, across restarts too. Durability is the database's barrier
//! ([`Store::flush`]): nothing is acknowledged, and nothing reaches a router, before it.

pub mod records;

use std::ops::Bound;
use std::sync::Arc;

use hotspot_shared::domain::{Package, RemovalReason, RouterId};
use hotspot_shared::fleet::msg::StaffEntry;
use hotspot_storage::{Db, StorageError, WriteTx};

pub use records::{
    ApplyItem, ApplyOp, DesiredBrief, DesiredEntry, DesiredStatus, Grant, HeldUsage, RouterEntry,
    SaleRecord,
};
use records::{decode, desired_key, encode, queue_key, router_key};

/// The agent's tables.
pub mod table {
    pub const ROUTERS: &str = "agent/routers";
    pub const QUEUE: &str = "agent/queue";
    pub const DESIRED: &str = "agent/desired";
    pub const CATALOGUE: &str = "agent/catalogue";
    pub const STAFF: &str = "agent/staff";
    pub const GRANT: &str = "agent/grant";
    pub const SYNC: &str = "agent/sync";
    pub const RETIRED: &str = "agent/retired";
    pub const SALES: &str = "agent/sales";
    pub const USAGE: &str = "agent/usage";
    pub const META: &str = "agent/meta";
    /// `asked` → the reason the controller gave for wanting the inventory (see `heal`).
    pub const HEAL: &str = "agent/heal";
}

/// Key of the single value in `catalogue`, `staff` and `grant`.
pub const CURRENT: &[u8] = b"current";
/// `heal` key of the controller's request for an inventory.
pub const HEAL_ASKED: &[u8] = b"asked";
/// `sync` key meaning every router.
pub const SYNC_ALL: &[u8] = b"all";
/// `meta` key of the last queue sequence number.
const QUEUE_SEQ: &[u8] = b"queue-seq";

/// Local sales kept for the page's list (acknowledged ones beyond it are forgotten).
pub const MAX_SALES_KEPT: usize = 20_000;

/// Most writes in one repair transaction (larger repairs take several).
const REPAIR_CHUNK: usize = 500;

/// The agent's page cache: small, the agent must fit a router's container (DESIGN.md: under
/// 16 MB resident); its database holds little beyond the queues. 2 MiB (was 4): the peak RSS of
/// a 10,000-voucher batch fell from 24.2 to 22.4 MiB, with the same bench-vouchers times.
pub const CACHE_BYTES: usize = 2 << 20;

/// Opens the agent's database file (made when missing).
pub fn open_db(path: &std::path::Path) -> Result<Db, StorageError> {
    Db::open(
        path,
        hotspot_storage::Options {
            cache_bytes: CACHE_BYTES,
        },
    )
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("stored value does not decode: {0}")]
    Codec(String),
}

impl StoreError {
    /// Whether the disk is full (nothing more can be made durable until space is back).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Storage(StorageError::DiskFull(_)))
    }
}

/// An item taken off the queue and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub seq: u64,
    pub code: String,
    pub status: DesiredStatus,
}

/// Queues `op` for `router` inside `tx`, under the next queue sequence number.
pub fn queue_in(tx: &mut WriteTx<'_>, router: RouterId, op: ApplyOp) -> Result<u64, StoreError> {
    let seq = next_queue_seq(tx)?;
    let item = ApplyItem { router, op };
    tx.insert(table::QUEUE, &queue_key(router, seq), &encode(&item)?)?;
    Ok(seq)
}

/// The next queue sequence number (from 1), taken inside `tx`.
pub fn next_queue_seq(tx: &mut WriteTx<'_>) -> Result<u64, StoreError> {
    let last = match tx.get(table::META, QUEUE_SEQ)? {
        Some(v) => u64_of(&v)?,
        None => 0,
    };
    let next = last + 1;
    tx.insert(table::META, QUEUE_SEQ, &next.to_be_bytes())?;
    Ok(next)
}

fn u64_of(bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Codec(format!("{} bytes where 8 were stored", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

fn after(key: &[u8]) -> Option<Vec<u8>> {
    hotspot_storage::prefix_end(key)
}

/// The agent's tables. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    commands: Arc<tokio::sync::Notify>,
    heal: Arc<tokio::sync::Notify>,
}

impl Store {
    pub fn open(db: &Db) -> Result<Store, StoreError> {
        Ok(Store {
            db: db.clone(),
            commands: Arc::new(tokio::sync::Notify::new()),
            heal: Arc::new(tokio::sync::Notify::new()),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Notified after every committed batch of inbound commands (a permit is kept when nobody
    /// waits, so no command goes unnoticed).
    pub fn commands(&self) -> Arc<tokio::sync::Notify> {
        self.commands.clone()
    }

    /// Notified after inbound commands too, for the healer (`heal`), which looks for an
    /// inventory the controller asked for.
    pub fn heal_wake(&self) -> Arc<tokio::sync::Notify> {
        self.heal.clone()
    }

    /// Every voucher this agent holds, on every router.
    pub fn all_desired(&self) -> Result<Vec<(RouterId, DesiredEntry)>, StoreError> {
        let read = self.db.read()?;
        let mut out = Vec::new();
        read.scan(table::DESIRED, hotspot_storage::ALL, false, |k, v| {
            let router = records::router_of_key(k)
                .ok_or_else(|| StoreError::Codec("desired key without a router".into()))?;
            out.push((router, decode(v)?));
            Ok::<_, StoreError>(hotspot_storage::Flow::Continue)
        })?;
        Ok(out)
    }

    /// Makes every write so far durable (the database's group-commit barrier).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.barrier().await?;
        Ok(())
    }

    fn prefixed<T: serde::de::DeserializeOwned>(
        &self,
        t: &str,
        prefix: &[u8],
    ) -> Result<Vec<T>, StoreError> {
        self.prefixed_map(t, prefix, |v: T| v)
    }

    /// Every value under `prefix`, decoded and passed through `f` one at a time (no copy of
    /// the raw bytes is held, nor more of each value than `f` keeps).
    fn prefixed_map<T: serde::de::DeserializeOwned, U>(
        &self,
        t: &str,
        prefix: &[u8],
        mut f: impl FnMut(T) -> U,
    ) -> Result<Vec<U>, StoreError> {
        let end = after(prefix);
        let mut out = Vec::new();
        self.db.read()?.scan(
            t,
            hotspot_storage::prefix_bounds(prefix, &end),
            false,
            |_, v| {
                out.push(f(decode(v)?));
                Ok::<_, StoreError>(hotspot_storage::Flow::Continue)
            },
        )?;
        Ok(out)
    }

    fn current<T: serde::de::DeserializeOwned>(&self, t: &str) -> Result<Option<T>, StoreError> {
        self.db
            .read()?
            .get(t, CURRENT)?
            .map(|v| decode(&v))
            .transpose()
    }

    pub fn routers(&self) -> Result<Vec<RouterEntry>, StoreError> {
        self.prefixed(table::ROUTERS, &[])
    }

    /// Stores (or replaces) a router and makes it durable.
    pub async fn put_router(&self, entry: &RouterEntry) -> Result<(), StoreError> {
        let key = router_key(entry.id);
        let bytes = encode(entry)?;
        self.db.write(|tx| {
            tx.insert(table::ROUTERS, &key, &bytes)?;
            tx.remove(table::RETIRED, &key)?;
            Ok::<_, StoreError>(())
        })?;
        self.flush().await
    }

    /// Up to `n` queued items of `router`, oldest first, with their sequence numbers.
    pub fn queue_batch(
        &self,
        router: RouterId,
        n: usize,
    ) -> Result<Vec<(u64, ApplyItem)>, StoreError> {
        let prefix = router_key(router);
        let end = after(&prefix);
        self.db
            .read()?
            .entries(
                table::QUEUE,
                hotspot_storage::prefix_bounds(&prefix, &end),
                n,
            )?
            .into_iter()
            .map(|(k, v)| {
                let seq = records::seq_of_queue_key(&k)
                    .ok_or_else(|| StoreError::Codec("short queue key".into()))?;
                Ok((seq, decode(&v)?))
            })
            .collect()
    }

    /// Items queued for `router`.
    pub fn queue_len(&self, router: RouterId) -> usize {
        let prefix = router_key(router);
        let end = after(&prefix);
        let mut n = 0;
        let counted = self.db.read().and_then(|r| {
            r.scan(
                table::QUEUE,
                hotspot_storage::prefix_bounds(&prefix, &end),
                false,
                |_, _| {
                    n += 1;
                    Ok::<_, StorageError>(hotspot_storage::Flow::Continue)
                },
            )
        });
        if let Err(e) = counted {
            tracing::warn!(router = %router, "counting the queue: {e}");
        }
        n
    }

    /// Takes finished items off the queue and records their outcome in `desired`, in one
    /// transaction. A voucher whose removal is queued stays `Removing` when its create
    /// finishes.
    pub fn finish(&self, router: RouterId, done: &[Done]) -> Result<(), StoreError> {
        self.db.write(|tx| {
            for d in done {
                tx.remove(table::QUEUE, &queue_key(router, d.seq))?;
                let key = desired_key(router, &d.code);
                let Some(bytes) = tx.get(table::DESIRED, &key)? else {
                    continue;
                };
                let mut entry: DesiredEntry = decode(&bytes)?;
                let keep_removing =
                    entry.status == DesiredStatus::Removing && d.status == DesiredStatus::OnRouter;
                if !keep_removing {
                    entry.status = d.status;
                    tx.insert(table::DESIRED, &key, &encode(&entry)?)?;
                }
            }
            Ok(())
        })
    }

    /// What should exist on `router`, by code.
    pub fn desired(&self, router: RouterId) -> Result<Vec<DesiredEntry>, StoreError> {
        self.prefixed(table::DESIRED, &router_key(router))
    }

    /// [`Store::desired`] without the sale facts, users' settings and profiles: what the usage
    /// sync needs, a fraction of the memory at tens of thousands of vouchers.
    pub fn desired_brief(&self, router: RouterId) -> Result<Vec<DesiredBrief>, StoreError> {
        self.prefixed_map(table::DESIRED, &router_key(router), |e: DesiredEntry| {
            DesiredBrief {
                validity: e.user.validity,
                code: e.user.code,
                status: e.status,
                first_used_at: e.first_used_at,
            }
        })
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
            let done = self.db.write(|tx| {
                let mut done = Vec::new();
                for code in chunk {
                    let key = desired_key(router, code);
                    let Some(bytes) = tx.get(table::DESIRED, &key)? else {
                        continue;
                    };
                    let mut entry: DesiredEntry = decode(&bytes)?;
                    if entry.status != DesiredStatus::OnRouter {
                        continue;
                    }
                    let op = ApplyOp::Create {
                        user: entry.user.clone(),
                        profile: entry.profile.clone(),
                    };
                    queue_in(tx, router, op)?;
                    entry.status = DesiredStatus::Pending;
                    tx.insert(table::DESIRED, &key, &encode(&entry)?)?;
                    done.push(code.clone());
                }
                Ok::<_, StoreError>(done)
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
        self.db.write(|tx| {
            let key = desired_key(router, code);
            let Some(bytes) = tx.get(table::DESIRED, &key)? else {
                return Ok(false);
            };
            let mut entry: DesiredEntry = decode(&bytes)?;
            if entry.status != DesiredStatus::OnRouter {
                return Ok(false);
            }
            let op = ApplyOp::Remove {
                code: code.to_owned(),
                reason,
            };
            queue_in(tx, router, op)?;
            entry.status = DesiredStatus::Removing;
            tx.insert(table::DESIRED, &key, &encode(&entry)?)?;
            Ok(true)
        })
    }

    /// Records when a voucher was first seen in use (kept if already set).
    pub fn mark_first_use(&self, router: RouterId, code: &str, at: i64) -> Result<(), StoreError> {
        let key = desired_key(router, code);
        self.db.write(|tx| {
            let Some(bytes) = tx.get(table::DESIRED, &key)? else {
                return Ok(());
            };
            let mut entry: DesiredEntry = decode(&bytes)?;
            if entry.first_used_at.is_none() {
                entry.first_used_at = Some(at);
                tx.insert(table::DESIRED, &key, &encode(&entry)?)?;
            }
            Ok(())
        })
    }

    /// Takes every "sync now" flag: `None` means every router.
    pub fn take_sync_flags(&self) -> Result<Vec<Option<RouterId>>, StoreError> {
        if self.db.read()?.len(table::SYNC)? == 0 {
            return Ok(Vec::new());
        }
        self.db.write(|tx| {
            let keys = tx.keys(table::SYNC, hotspot_storage::ALL, usize::MAX)?;
            tx.remove_range(table::SYNC, hotspot_storage::ALL)?;
            Ok(keys
                .iter()
                .map(|k| {
                    if k.as_slice() == SYNC_ALL {
                        None
                    } else {
                        records::router_of_key(k)
                    }
                })
                .collect())
        })
    }

    /// Routers removed by the controller whose data is still to be purged.
    pub fn retired(&self) -> Result<Vec<RouterId>, StoreError> {
        Ok(self
            .db
            .read()?
            .entries(table::RETIRED, hotspot_storage::ALL, usize::MAX)?
            .iter()
            .filter_map(|(k, _)| records::router_of_key(k))
            .collect())
    }

    /// Keeps `samples` read at `at` while the link is down, merged per voucher (see
    /// [`HeldUsage`]).
    pub fn hold_usage(
        &self,
        router: RouterId,
        at: i64,
        samples: &[hotspot_shared::domain::UsageSample],
    ) -> Result<(), StoreError> {
        self.db.write(|tx| {
            for s in samples {
                let key = desired_key(router, &s.code);
                let held = match tx.get(table::USAGE, &key)? {
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
                tx.insert(table::USAGE, &key, &encode(&held)?)?;
            }
            Ok(())
        })
    }

    /// Usage held for `router`, with the raw key and value (for [`Store::release_usage`]).
    #[allow(clippy::type_complexity)]
    pub fn held_usage(
        &self,
        router: RouterId,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>, HeldUsage)>, StoreError> {
        self.db
            .read()?
            .prefixed(table::USAGE, &router_key(router))?
            .into_iter()
            .map(|(k, v)| {
                let h = decode(&v)?;
                Ok((k, v, h))
            })
            .collect()
    }

    /// Forgets held usage once delivered, unless it changed meanwhile.
    pub fn release_usage(&self, held: &[(Vec<u8>, Vec<u8>, HeldUsage)]) -> Result<(), StoreError> {
        self.db.write(|tx| {
            for (k, v, _) in held {
                if tx.get(table::USAGE, k)?.as_deref() == Some(v.as_slice()) {
                    tx.remove(table::USAGE, k)?;
                }
            }
            Ok(())
        })
    }

    /// Vouchers with usage held back.
    pub fn held_usage_len(&self) -> usize {
        self.db
            .read()
            .and_then(|r| r.len(table::USAGE))
            .map_or(0, |n| n as usize)
    }

    /// Forgets everything about `router`: queue, desired state, flags, settings.
    pub fn purge(&self, router: RouterId) -> Result<(), StoreError> {
        let prefix = router_key(router);
        let end = after(&prefix);
        self.db.write(|tx| {
            for t in [table::QUEUE, table::DESIRED, table::USAGE] {
                tx.remove_range(t, hotspot_storage::prefix_bounds(&prefix, &end))?;
            }
            tx.remove(table::SYNC, &prefix)?;
            tx.remove(table::ROUTERS, &prefix)?;
            tx.remove(table::RETIRED, &prefix)?;
            Ok(())
        })
    }

    /// The latest package catalogue from the controller.
    pub fn catalogue(&self) -> Result<Option<Vec<Package>>, StoreError> {
        self.current(table::CATALOGUE)
    }

    /// The latest staff directory from the controller.
    pub fn staff(&self) -> Result<Option<Vec<StaffEntry>>, StoreError> {
        self.current(table::STAFF)
    }

    /// The code space granted for vouchers made at the site.
    pub fn grant(&self) -> Result<Option<Grant>, StoreError> {
        self.current(table::GRANT)
    }

    /// Whether `code` is known on any router (desired state, whatever its status).
    pub fn code_taken(&self, code: &str) -> Result<bool, StoreError> {
        let r = self.db.read()?;
        for router in self.routers()? {
            if r.contains(table::DESIRED, &desired_key(router.id, code))? {
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
        self.db
            .read()?
            .get(table::DESIRED, &desired_key(router, code))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Sales whose event the controller has not acknowledged (`acked` = its highest ack).
    pub fn pending_sales(&self, acked: u64) -> usize {
        let from = acked.saturating_add(1).to_be_bytes();
        let mut n = 0;
        let counted = self.db.read().and_then(|r| {
            r.scan(
                table::SALES,
                (Bound::Included(&from[..]), Bound::Unbounded),
                false,
                |_, _| {
                    n += 1;
                    Ok::<_, StorageError>(hotspot_storage::Flow::Continue)
                },
            )
        });
        if let Err(e) = counted {
            tracing::warn!("counting pending sales: {e}");
        }
        n
    }

    /// The newest `limit` local sales, newest first, with their outbox sequence numbers.
    pub fn recent_sales(&self, limit: usize) -> Result<Vec<(u64, SaleRecord)>, StoreError> {
        let mut out = Vec::new();
        self.db
            .read()?
            .scan(table::SALES, hotspot_storage::ALL, true, |k, v| {
                let seq = u64_of(k)?;
                out.push((seq, decode(v)?));
                Ok::<_, StoreError>(if out.len() >= limit {
                    hotspot_storage::Flow::Stop
                } else {
                    hotspot_storage::Flow::Continue
                })
            })?;
        Ok(out)
    }

    /// Forgets acknowledged sales beyond the newest [`MAX_SALES_KEPT`].
    pub fn prune_sales(&self, acked: u64) -> Result<usize, StoreError> {
        let len = self.db.read()?.len(table::SALES)? as usize;
        let excess = len.saturating_sub(MAX_SALES_KEPT);
        if excess == 0 {
            return Ok(0);
        }
        let upto = acked.to_be_bytes();
        self.db.write(|tx| {
            let keys = tx.keys(
                table::SALES,
                (Bound::Unbounded, Bound::Included(&upto[..])),
                excess,
            )?;
            for k in &keys {
                tx.remove(table::SALES, k)?;
            }
            Ok(keys.len())
        })
    }
}

#[cfg(test)]
mod tests;
