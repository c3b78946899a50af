//! Commands from the controller, applied inside the link's transaction.
//!
//! The link calls [`AgentInbound::apply`] inside one sled transaction that also records the
//! command's sequence number, so a command is queued exactly once however often it is
//! redelivered. That transaction may be retried by sled, so `apply` only *writes trees*; no
//! router is touched here. Whoever acts on the writes is woken by sled's watchers after the
//! commit (one event per command, on the `wake` tree; see `runtime`), and works from the trees: the apply workers from `queue`, the
//! supervisor from `routers`/`retired`, the jobs from `sync`. (The link flushes and acks after
//! the transaction; a worker that starts before that flush is harmless, because creating a
//! voucher twice is idempotent.)
//!
//! A command that cannot be applied in full is still recorded (logged), never refused: a
//! refusal would make the link redeliver it for ever.

use hotspot_link::{ApplyError, Inbound, InboxTx, PeerId};
use hotspot_shared::domain::RouterId;
use hotspot_shared::fleet::msg::{Command, MAX_VOUCHERS_PER_COMMAND};
use sled::transaction::TransactionalTree;

use crate::store::records::{desired_key, encode, queue_key, router_key};
use crate::store::{
    ApplyItem, ApplyOp, CURRENT, DesiredEntry, DesiredStatus, Grant, SYNC_ALL, Store, WAKE_KEY,
    tree,
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

    fn queue(queue: &TransactionalTree, router: RouterId, op: ApplyOp) -> Result<(), ApplyError> {
        // The transactional tree's id generator: `Db::generate_id` would wait for the
        // transaction's own lock.
        let seq = queue
            .generate_id()
            .map_err(|e| ApplyError::Failed(format!("no queue sequence number: {e}")))?;
        let item = ApplyItem { router, op };
        queue.insert(&queue_key(router, seq), bytes(&item)?)?;
        Ok(())
    }
}

fn bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ApplyError> {
    encode(value).map_err(|e| ApplyError::Failed(e.to_string()))
}

impl Inbound<Command> for AgentInbound {
    fn trees(&self) -> Vec<sled::Tree> {
        self.store.inbound_trees()
    }

    fn apply(
        &self,
        tx: &InboxTx<'_>,
        _peer: &PeerId,
        seq: u64,
        command: &Command,
    ) -> Result<(), ApplyError> {
        tx.tree(tree::WAKE)?.insert(WAKE_KEY, &seq.to_be_bytes())?;
        match command {
            Command::CreateVouchers {
                router,
                profile,
                vouchers,
            } => {
                if vouchers.len() > MAX_VOUCHERS_PER_COMMAND {
                    tracing::warn!(
                        seq,
                        count = vouchers.len(),
                        "CreateVouchers above the per-command cap; queued anyway"
                    );
                }
                let (queue, desired) = (tx.tree(tree::QUEUE)?, tx.tree(tree::DESIRED)?);
                for user in vouchers {
                    let entry = DesiredEntry {
                        user: user.clone(),
                        profile: profile.clone(),
                        status: DesiredStatus::Pending,
                        first_used_at: None,
                    };
                    desired.insert(desired_key(*router, &user.code), bytes(&entry)?)?;
                    let op = ApplyOp::Create {
                        user: user.clone(),
                        profile: profile.clone(),
                    };
                    Self::queue(queue, *router, op)?;
                }
            }
            Command::RemoveVoucher {
                router,
                code,
                reason,
            } => {
                let desired = tx.tree(tree::DESIRED)?;
                let key = desired_key(*router, code);
                if let Some(old) = desired.get(&key)? {
                    let mut entry: DesiredEntry = crate::store::records::decode(&old)
                        .map_err(|e| ApplyError::Failed(e.to_string()))?;
                    entry.status = DesiredStatus::Removing;
                    desired.insert(key, bytes(&entry)?)?;
                }
                let op = ApplyOp::Remove {
                    code: code.clone(),
                    reason: *reason,
                };
                Self::queue(tx.tree(tree::QUEUE)?, *router, op)?;
            }
            Command::RemoveRouter { router } => {
                let key = router_key(*router);
                tx.tree(tree::ROUTERS)?.remove(&key)?;
                tx.tree(tree::RETIRED)?.insert(&key, &[])?;
            }
            Command::Catalogue { packages } => {
                tx.tree(tree::CATALOGUE)?
                    .insert(CURRENT, bytes(packages)?)?;
            }
            Command::StaffDirectory { staff } => {
                tx.tree(tree::STAFF)?.insert(CURRENT, bytes(staff)?)?;
            }
            Command::CodeGrant { prefix, budget } => {
                let grant = Grant {
                    prefix: prefix.clone(),
                    budget: *budget,
                };
                tx.tree(tree::GRANT)?.insert(CURRENT, bytes(&grant)?)?;
            }
            Command::SyncNow { router } => {
                let key = router.map_or(SYNC_ALL.to_vec(), |r| router_key(r).to_vec());
                tx.tree(tree::SYNC)?.insert(key, &[])?;
            }
        }
        Ok(())
    }
}
