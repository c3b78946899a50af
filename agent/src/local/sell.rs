//! A sale at the site: checks, codes, one durable commit, the router at once.
//!
//! The order that keeps the ledger exact: the sale's `IssuedAtSite` events go into the outbox
//! in the same transaction as its desired-state entries, apply-queue items and sales
//! records ([`hotspot_link::LinkClient::send_batch_with`]), and one barrier makes all of it
//! durable before the staff member gets an answer. The apply worker is woken only after
//! that, and its `Applied`/`Failed` events get later outbox numbers, so the controller always
//! learns of the sale before its outcome, however the link behaves.
//!
//! Sales are serialised (one at a time per agent): the budget check and the commit must see
//! the same count of unacknowledged sales, and a site sells at human speed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hotspot_link::{LinkError, PushAbort, PushWithError};
use hotspot_shared::domain::voucher::router_comment;
use hotspot_shared::domain::{Origin, Package, PackageId, RouterId, VoucherUser};
use hotspot_shared::fleet::msg::{Event, Issue, SiteVoucher, StaffEntry};
use hotspot_shared::voucher::CodeSpec;

use crate::core::{Core, unix_now};
use crate::store::records::{desired_key, encode, queue_key};
use crate::store::{
    ApplyItem, ApplyOp, DesiredEntry, DesiredStatus, SaleRecord, StoreError, next_queue_seq, table,
};

/// Most vouchers in one local sale.
pub const MAX_SALE: usize = 500;
/// Random characters after the site prefix.
pub const CODE_LENGTH: usize = 8;
/// How long a sale waits for the router to confirm before answering "queued".
pub const CONFIRM_WAIT: Duration = Duration::from_secs(2);
/// Attempts at a fresh set of codes when one collided inside the commit.
const CODE_ATTEMPTS: usize = 5;

/// Why a sale was refused. Each maps to an HTTP status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum SellError {
    #[error("{0}")]
    BadInput(String),
    #[error("router {0} is not one of this site's routers")]
    UnknownRouter(u64),
    #[error("package {0} is not in the catalogue this site received")]
    UnknownPackage(u64),
    #[error("you are not assigned to router {0}")]
    NotAssigned(u64),
    #[error(
        "no code space granted yet: the site has not been in contact with the controller since it was enrolled"
    )]
    NoGrant,
    #[error(
        "code space used up: {pending} sales are waiting to reach the controller and this site may hold at most {budget}; {asked} more do not fit. Selling resumes as soon as the link is back and the sales have synced"
    )]
    Exhausted {
        pending: usize,
        budget: u64,
        asked: usize,
    },
    #[error(
        "the agent's disk is full: this sale was not recorded and must not be handed out. Free space on the agent's disk; sales already made are kept ({0})"
    )]
    StorageFull(String),
    #[error(
        "too many events are waiting for the controller ({0}); try again once the link is back"
    )]
    Backlog(String),
    #[error("storage failed, the sale was not recorded: {0}")]
    Storage(String),
    #[error("the agent is shutting down")]
    Stopping,
}

impl SellError {
    /// HTTP status and stable error code.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            SellError::BadInput(_) => (400, "bad_request"),
            SellError::UnknownRouter(_) => (400, "unknown_router"),
            SellError::UnknownPackage(_) => (400, "unknown_package"),
            SellError::NotAssigned(_) => (403, "not_assigned"),
            SellError::NoGrant | SellError::Exhausted { .. } => (409, "code_space_exhausted"),
            SellError::StorageFull(_) => (507, "storage_full"),
            SellError::Backlog(_) => (503, "outbox_full"),
            SellError::Storage(_) => (500, "storage"),
            SellError::Stopping => (503, "stopping"),
        }
    }
}

/// Whether a storage failure is the disk being full (ENOSPC, or EDQUOT).
pub fn is_disk_full(e: &hotspot_storage::StorageError) -> bool {
    match e {
        hotspot_storage::StorageError::DiskFull(_) => true,
        other => {
            let text = other.to_string();
            text.contains("No space left") || text.contains("os error 28")
        }
    }
}

fn storage_error(e: hotspot_storage::StorageError) -> SellError {
    if is_disk_full(&e) {
        SellError::StorageFull(e.to_string())
    } else {
        SellError::Storage(e.to_string())
    }
}

fn link_error(e: LinkError) -> SellError {
    match e {
        LinkError::Storage(e) => storage_error(e),
        LinkError::OutboxFull { .. } => SellError::Backlog(e.to_string()),
        LinkError::Shutdown => SellError::Stopping,
        other => {
            let text = other.to_string();
            if text.contains("No space left") || text.contains("os error 28") {
                SellError::StorageFull(text)
            } else {
                SellError::Storage(text)
            }
        }
    }
}

impl From<StoreError> for SellError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Storage(e) => storage_error(e),
            StoreError::Codec(c) => SellError::Storage(c),
        }
    }
}

/// Where a sold voucher stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoldState {
    Queued,
    Active,
    Failed,
    Removed,
}

impl SoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            SoldState::Queued => "queued",
            SoldState::Active => "active",
            SoldState::Failed => "failed",
            SoldState::Removed => "removed",
        }
    }

    pub fn of(status: Option<DesiredStatus>) -> SoldState {
        match status {
            None | Some(DesiredStatus::Pending) => SoldState::Queued,
            Some(DesiredStatus::OnRouter) => SoldState::Active,
            Some(DesiredStatus::Failed) => SoldState::Failed,
            Some(DesiredStatus::Removing | DesiredStatus::Removed) => SoldState::Removed,
        }
    }
}

/// One voucher of a sale, as answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sold {
    pub code: String,
    pub password: String,
    pub state: SoldState,
}

/// A voucher of a sale with everything the page and print sheet show.
#[derive(Debug, Clone)]
pub struct SaleView {
    pub sale: SaleRecord,
    pub state: SoldState,
    /// Still waiting for the controller's acknowledgement.
    pub pending: bool,
}

/// Why the commit stopped.
#[derive(Debug)]
enum Abort {
    Collision(String),
    Store(String),
}

/// Sells vouchers at the site.
pub struct Seller {
    core: Arc<Core>,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl Seller {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Seller {
            core,
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    /// The package catalogue the site has (empty before the first contact).
    pub fn catalogue(&self) -> Result<Vec<Package>, SellError> {
        Ok(self.core.store.catalogue()?.unwrap_or_default())
    }

    /// Routers of this site that `staff` may sell on: `(id, name)`.
    pub fn routers_of(&self, staff: &StaffEntry) -> Result<Vec<(RouterId, String)>, SellError> {
        Ok(self
            .core
            .store
            .routers()?
            .into_iter()
            .filter(|r| staff.routers.contains(&r.id))
            .map(|r| (r.id, r.name))
            .collect())
    }

    /// Whether the link to the controller is up now.
    pub fn link_up(&self) -> bool {
        self.core.link().is_some_and(|l| l.status().connected)
    }

    /// Sales whose events the controller has not acknowledged.
    pub fn pending_sales(&self) -> usize {
        let acked = self
            .core
            .link()
            .and_then(|l| l.outbox_acked().ok())
            .unwrap_or(0);
        self.core.store.pending_sales(acked)
    }

    /// Events of every kind waiting for the controller.
    pub fn pending_events(&self) -> u64 {
        self.core.link().map_or(0, |l| l.status().outbox_len)
    }

    /// The newest `limit` sales with their states.
    pub fn recent(&self, limit: usize) -> Result<Vec<SaleView>, SellError> {
        let acked = self
            .core
            .link()
            .and_then(|l| l.outbox_acked().ok())
            .unwrap_or(0);
        let store = &self.core.store;
        store
            .recent_sales(limit)?
            .into_iter()
            .map(|(seq, sale)| {
                let status = store
                    .desired_entry(sale.router, &sale.code)?
                    .map(|e| e.status);
                Ok(SaleView {
                    state: SoldState::of(status),
                    pending: seq > acked,
                    sale,
                })
            })
            .collect()
    }

    /// Sells `count` vouchers of `package` on `router` for `staff`; answers once the sale is
    /// durable, after waiting up to [`CONFIRM_WAIT`] for the router.
    pub async fn sell(
        &self,
        staff: &StaffEntry,
        router: RouterId,
        package: PackageId,
        count: usize,
    ) -> Result<Vec<Sold>, SellError> {
        if !(1..=MAX_SALE).contains(&count) {
            return Err(SellError::BadInput(format!(
                "count must be between 1 and {MAX_SALE}"
            )));
        }
        let store = &self.core.store;
        let Some(entry) = store.routers()?.into_iter().find(|r| r.id == router) else {
            return Err(SellError::UnknownRouter(router.0));
        };
        if !staff.routers.contains(&router) {
            return Err(SellError::NotAssigned(router.0));
        }
        let Some(package) = self.catalogue()?.into_iter().find(|p| p.id == package) else {
            return Err(SellError::UnknownPackage(package.0));
        };
        let grant = store.grant()?.ok_or(SellError::NoGrant)?;
        let spec = CodeSpec::new(Some(&grant.prefix), Some(CODE_LENGTH))
            .map_err(|e| SellError::Storage(format!("unusable code grant: {e}")))?;

        if self.core.storage_is_failed() {
            return Err(SellError::StorageFull(
                "an earlier write failed; the agent restarts by itself once space is free".into(),
            ));
        }
        let guard = self.one_at_a_time.lock().await;
        let link = self.core.link().ok_or(SellError::Stopping)?;
        let acked = link.outbox_acked().map_err(link_error)?;
        let pending = store.pending_sales(acked);
        if (pending + count) as u64 > grant.budget {
            return Err(SellError::Exhausted {
                pending,
                budget: grant.budget,
                asked: count,
            });
        }
        let mut sold = None;
        for _ in 0..CODE_ATTEMPTS {
            let codes = fresh_codes(store, &spec, count)?;
            let now = unix_now();
            let sales: Vec<SaleRecord> = codes
                .into_iter()
                .map(|code| SaleRecord {
                    password: code.clone(),
                    code,
                    router,
                    package: package.id,
                    package_name: package.name.clone(),
                    price: package.price,
                    staff: staff.id,
                    staff_name: staff.username.clone(),
                    issued_at: now,
                })
                .collect();
            let events: Vec<Event> = sales
                .iter()
                .map(|s| {
                    Event::IssuedAtSite(SiteVoucher {
                        router,
                        package: package.id,
                        staff: staff.id,
                        code: s.code.clone(),
                        password: s.password.clone(),
                        price: s.price,
                        issued_at: s.issued_at,
                    })
                })
                .collect();
            let profile = package.profile_spec();
            let items: Vec<(DesiredEntry, Vec<u8>, Vec<u8>)> = sales
                .iter()
                .map(|s| {
                    let user = voucher_user(&package, s);
                    let desired = DesiredEntry {
                        user: user.clone(),
                        profile: profile.clone(),
                        issue: Issue {
                            package: s.package,
                            package_name: s.package_name.clone(),
                            staff: s.staff,
                            price: s.price,
                            issued_at: s.issued_at,
                            origin: Origin::Site,
                        },
                        status: DesiredStatus::Pending,
                        first_used_at: None,
                    };
                    let item = encode(&ApplyItem {
                        router,
                        op: ApplyOp::Create {
                            user,
                            profile: profile.clone(),
                        },
                    })?;
                    Ok((desired.clone(), encode(&desired)?, item))
                })
                .collect::<Result<_, StoreError>>()?;
            let sale_bytes: Vec<Vec<u8>> = sales
                .iter()
                .map(encode)
                .collect::<Result<_, StoreError>>()?;
            let committed = link
                .send_batch_with(&events, |tx, first| {
                    for (i, (entry, desired_bytes, item)) in items.iter().enumerate() {
                        let key = desired_key(router, &entry.user.code);
                        if tx.contains(table::DESIRED, &key)? {
                            return Err(PushAbort::Caller(Abort::Collision(
                                entry.user.code.clone(),
                            )));
                        }
                        tx.insert(table::DESIRED, &key, desired_bytes)?;
                        let seq = next_queue_seq(tx)
                            .map_err(|e| PushAbort::Caller(Abort::Store(e.to_string())))?;
                        tx.insert(table::QUEUE, &queue_key(router, seq), item)?;
                        let sale_seq = first + i as u64;
                        tx.insert(table::SALES, &sale_seq.to_be_bytes(), &sale_bytes[i])?;
                    }
                    Ok(())
                })
                .await;
            match committed {
                Ok(_) => {
                    sold = Some(sales);
                    break;
                }
                Err(PushWithError::Aborted(Abort::Collision(code))) => {
                    tracing::warn!(%code, "local sale: code collided at commit; new codes");
                }
                Err(PushWithError::Aborted(Abort::Store(e))) => return Err(SellError::Storage(e)),
                Err(PushWithError::Link(e)) => {
                    let e = link_error(e);
                    if matches!(e, SellError::StorageFull(_) | SellError::Storage(_)) {
                        // The commit may be in memory but not on the disk: stop
                        // the apply workers before they put it on a router.
                        self.core.mark_storage_failed(&e.to_string());
                    }
                    tracing::error!(router = %router, "local sale not recorded: {e}");
                    return Err(e);
                }
            }
        }
        drop(guard);
        let Some(sales) = sold else {
            return Err(SellError::Storage(
                "could not find unused codes; try again".into(),
            ));
        };
        tracing::info!(
            router = %router,
            staff = %staff.username,
            count = sales.len(),
            package = %package.name,
            "sold at the site"
        );
        if let Some(live) = self.core.routers.get(router) {
            live.wake_apply.notify_one();
        } else {
            tracing::warn!(router = %router, "router {} is not running; sale queued", entry.name);
        }
        if let Err(e) = store.prune_sales(acked) {
            tracing::warn!("pruning old sales: {e}");
        }
        self.confirm(router, sales).await
    }

    /// Waits up to [`CONFIRM_WAIT`] for the router's verdict on every voucher.
    async fn confirm(
        &self,
        router: RouterId,
        sales: Vec<SaleRecord>,
    ) -> Result<Vec<Sold>, SellError> {
        let deadline = Instant::now() + CONFIRM_WAIT;
        loop {
            let mut states = Vec::with_capacity(sales.len());
            for s in &sales {
                let status = self
                    .core
                    .store
                    .desired_entry(router, &s.code)?
                    .map(|e| e.status);
                states.push(SoldState::of(status));
            }
            let waiting = states.contains(&SoldState::Queued);
            if !waiting || Instant::now() >= deadline {
                return Ok(sales
                    .into_iter()
                    .zip(states)
                    .map(|(s, state)| Sold {
                        code: s.code,
                        password: s.password,
                        state,
                    })
                    .collect());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The hotspot user of a site sale: the same shape the controller builds for its own sales
/// (`VoucherRecord::router_user`), so a re-queue from the ledger compares equal.
pub fn voucher_user(package: &Package, sale: &SaleRecord) -> VoucherUser {
    VoucherUser {
        code: sale.code.clone(),
        password: sale.password.clone(),
        profile: package.profile.clone(),
        limit_uptime: package.time_limit,
        limit_bytes_total: package.data_limit,
        validity: package.validity,
        comment: router_comment(package.id, Origin::Site),
    }
}

/// `count` distinct codes that no router of this agent knows.
fn fresh_codes(
    store: &crate::store::Store,
    spec: &CodeSpec,
    count: usize,
) -> Result<Vec<String>, SellError> {
    let mut seen = HashSet::with_capacity(count);
    let mut codes = Vec::with_capacity(count);
    let mut tries = 0usize;
    while codes.len() < count {
        tries += 1;
        if tries > count * 4 + 100 {
            return Err(SellError::Storage(
                "could not find unused codes; try again".into(),
            ));
        }
        let code = spec.generate(&mut rand::rng());
        if seen.contains(&code) || store.code_taken(&code)? {
            continue;
        }
        seen.insert(code.clone());
        codes.push(code);
    }
    Ok(codes)
}
