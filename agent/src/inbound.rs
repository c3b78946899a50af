//! Commands from the controller, applied inside the link's transaction.
//!
//! The link calls [`AgentInbound::apply`] inside one transaction that also records the
//! command's sequence number, so a command is queued exactly once however often it is
//! redelivered. `apply` only *writes tables*; no router is touched here, and an error rolls
//! everything back. Whoever acts on the writes is woken after the commit
//! ([`Inbound::committed`] notifies `Store::commands`; see `runtime`), and works from the
//! tables: the apply workers from `queue`, the supervisor from `routers`/`retired`, the jobs
//! from `sync`. (The link waits for the barrier and acks after the transaction; an apply
//! worker waits for the barrier too before it touches a router, so nothing that a power cut
//! could take back reaches one.)
//!
//! A command that cannot be applied in full is still recorded (logged), never refused: a
//! refusal would make the link redeliver it for ever.

use hotspot_link::{ApplyError, Inbound, PeerId};
use hotspot_shared::domain::RouterId;
use hotspot_shared::fleet::msg::{Command, MAX_VOUCHERS_PER_COMMAND};
use hotspot_storage::WriteTx;

use crate::store::records::{desired_key, encode, router_key};
use crate::store::{
    ApplyOp, CURRENT, DesiredEntry, DesiredStatus, Grant, SYNC_ALL, Store, StoreError, queue_in,
    table,
};

/// The agent's [`Inbound`] for [`Command`]s.
#[derive(Clone, Debug)]
pub struct AgentInbound {
    store: Store,
}

impl AgentInbound {
    pub fn new(store: Store) -> Self {
        AgentInbound { store }
    }

    fn queue(tx: &mut WriteTx<'_>, router: RouterId, op: ApplyOp) -> Result<(), ApplyError> {
        queue_in(tx, router, op).map(drop).map_err(apply_error)
    }
}

fn apply_error(e: StoreError) -> ApplyError {
    match e {
        StoreError::Storage(e) => ApplyError::Storage(e),
        StoreError::Codec(e) => ApplyError::Failed(e),
    }
}

fn bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ApplyError> {
    encode(value).map_err(|e| ApplyError::Failed(e.to_string()))
}

impl Inbound<Command> for AgentInbound {
    fn committed(&self) {
        self.store.commands().notify_one();
        self.store.heal_wake().notify_one();
    }

    fn apply(
        &self,
        tx: &mut WriteTx<'_>,
        _peer: &PeerId,
        seq: u64,
        command: &Command,
    ) -> Result<(), ApplyError> {
        match command {
            Command::CreateVouchers {
                router,
                profile,
                issue,
                vouchers,
            } => {
                if vouchers.len() > MAX_VOUCHERS_PER_COMMAND {
                    tracing::warn!(
                        seq,
                        count = vouchers.len(),
                        "CreateVouchers above the per-command cap; queued anyway"
                    );
                }
                for user in vouchers {
                    let entry = DesiredEntry {
                        user: user.clone(),
                        profile: profile.clone(),
                        issue: issue.clone(),
                        status: DesiredStatus::Pending,
                        first_used_at: None,
                    };
                    tx.insert(
                        table::DESIRED,
                        &desired_key(*router, &user.code),
                        &bytes(&entry)?,
                    )?;
                    let op = ApplyOp::Create {
                        user: user.clone(),
                        profile: profile.clone(),
                    };
                    Self::queue(tx, *router, op)?;
                }
            }
            Command::EnsureVouchers {
                router,
                profile,
                issue,
                vouchers,
            } => {
                let mut added = 0usize;
                for user in vouchers {
                    let key = desired_key(*router, &user.code);
                    if tx.contains(table::DESIRED, &key)? {
                        continue;
                    }
                    let entry = DesiredEntry {
                        user: user.clone(),
                        profile: profile.clone(),
                        issue: issue.clone(),
                        status: DesiredStatus::Pending,
                        first_used_at: None,
                    };
                    tx.insert(table::DESIRED, &key, &bytes(&entry)?)?;
                    let op = ApplyOp::Create {
                        user: user.clone(),
                        profile: profile.clone(),
                    };
                    Self::queue(tx, *router, op)?;
                    added += 1;
                }
                if added > 0 {
                    tracing::info!(seq, %router, added, "healing: vouchers re-learned from the ledger");
                }
            }
            Command::SendInventory { reason } => {
                tx.insert(table::HEAL, crate::store::HEAL_ASKED, reason.as_bytes())?;
            }
            Command::RemoveVoucher {
                router,
                code,
                reason,
            } => {
                let key = desired_key(*router, code);
                if let Some(old) = tx.get(table::DESIRED, &key)? {
                    let mut entry: DesiredEntry = crate::store::records::decode(&old)
                        .map_err(|e| ApplyError::Failed(e.to_string()))?;
                    entry.status = DesiredStatus::Removing;
                    tx.insert(table::DESIRED, &key, &bytes(&entry)?)?;
                }
                let op = ApplyOp::Remove {
                    code: code.clone(),
                    reason: *reason,
                };
                Self::queue(tx, *router, op)?;
            }
            Command::RemoveRouter { router } => {
                let key = router_key(*router);
                tx.remove(table::ROUTERS, &key)?;
                tx.insert(table::RETIRED, &key, &[])?;
            }
            Command::Catalogue { packages } => {
                tx.insert(table::CATALOGUE, CURRENT, &bytes(packages)?)?;
            }
            Command::StaffDirectory { staff } => {
                tx.insert(table::STAFF, CURRENT, &bytes(staff)?)?;
            }
            Command::CodeGrant { prefix, budget } => {
                let grant = Grant {
                    prefix: prefix.clone(),
                    budget: *budget,
                };
                tx.insert(table::GRANT, CURRENT, &bytes(&grant)?)?;
            }
            Command::SyncNow { router } => {
                let key = router.map_or(SYNC_ALL.to_vec(), |r| router_key(r).to_vec());
                tx.insert(table::SYNC, &key, &[])?;
            }
        }
        Ok(())
    }
}
