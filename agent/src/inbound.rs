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
use hotspot_shared::domain::{ProfileSpec, RouterId, VoucherUser};
use hotspot_shared::fleet::msg::{Command, Issue, MAX_VOUCHERS_PER_COMMAND};
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

/// What a create does with a voucher the agent already holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Queue it again only if the router refused it (a re-queue from the controller).
    RetryFailed,
    /// Leave it (healing: the agent's state is the newer one).
    Keep,
}

/// Queues the create of each voucher of `vouchers` the agent does not hold (and, with
/// `RetryFailed`, of those the router refused). A voucher it holds keeps its state and its
/// first use (the start of its validity): a command sent again after lost state (an older
/// controller's outbox, a replay) must not restart a voucher. Returns how many were queued.
fn create(
    tx: &mut WriteTx<'_>,
    router: RouterId,
    profile: &ProfileSpec,
    issue: &Issue,
    vouchers: &[VoucherUser],
    known: Known,
) -> Result<usize, ApplyError> {
    let mut queued = 0;
    for user in vouchers {
        let key = desired_key(router, &user.code);
        if let Some(old) = tx.get(table::DESIRED, &key)? {
            let old: DesiredEntry = crate::store::records::decode(&old).map_err(apply_error)?;
            if known == Known::Keep || old.status != DesiredStatus::Failed {
                continue;
            }
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
        AgentInbound::queue(tx, router, op)?;
        queued += 1;
    }
    Ok(queued)
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
                create(tx, *router, profile, issue, vouchers, Known::RetryFailed)?;
            }
            Command::EnsureVouchers {
                router,
                profile,
                issue,
                vouchers,
            } => {
                let added = create(tx, *router, profile, issue, vouchers, Known::Keep)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{issue, user};
    use crate::store::DesiredStatus;

    const R: RouterId = RouterId(1);

    fn profile() -> ProfileSpec {
        ProfileSpec {
            name: "hf".into(),
            rate_limit: None,
            shared_users: None,
        }
    }

    fn apply(store: &Store, command: Command) {
        let inbound = AgentInbound::new(store.clone());
        store
            .db()
            .write(|tx| inbound.apply(tx, &PeerId::Controller, 1, &command))
            .expect("applies");
    }

    fn create(codes: &[&str], ensure: bool) -> Command {
        let vouchers = codes.iter().map(|c| user(c)).collect();
        let (router, profile, issue) = (R, profile(), issue());
        if ensure {
            Command::EnsureVouchers {
                router,
                profile,
                issue,
                vouchers,
            }
        } else {
            Command::CreateVouchers {
                router,
                profile,
                issue,
                vouchers,
            }
        }
    }

    #[test]
    fn creates_sent_again_never_restart_a_voucher_the_agent_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::store::open_db(&dir.path().join("agent.redb")).expect("opens");
        let store = Store::open(&db).expect("store");
        apply(&store, create(&["A", "B"], false));
        assert_eq!(store.queue_len(R), 2);
        store.mark_first_use(R, "A", 50).expect("marks");
        let on_router = |code: &str, status| {
            store
                .db()
                .write(|tx| {
                    let key = desired_key(R, code);
                    let mut e: DesiredEntry = crate::store::records::decode(
                        &tx.get(table::DESIRED, &key)?.expect("held"),
                    )?;
                    e.status = status;
                    tx.insert(table::DESIRED, &key, &encode(&e)?)?;
                    Ok::<_, StoreError>(())
                })
                .expect("writes");
        };
        on_router("A", DesiredStatus::OnRouter);
        on_router("B", DesiredStatus::Failed);
        // The same command again (an older controller's outbox after a restore): A keeps its
        // state and first use; B, refused by the router, is tried again; C is new.
        apply(&store, create(&["A", "B", "C"], false));
        let a = store.desired_entry(R, "A").expect("reads").expect("held");
        assert_eq!(
            (a.status, a.first_used_at),
            (DesiredStatus::OnRouter, Some(50))
        );
        assert_eq!(store.queue_len(R), 4, "B and C queued again, A not");
        // Healing adds only what the agent lacks, and leaves a refused one alone.
        on_router("B", DesiredStatus::Failed);
        apply(&store, create(&["A", "B", "C", "D"], true));
        assert_eq!(store.queue_len(R), 5, "only D");
        let d = store.desired_entry(R, "D").expect("reads").expect("held");
        assert_eq!((d.status, d.issue), (DesiredStatus::Pending, issue()));
    }

    #[test]
    fn the_controllers_request_for_an_inventory_is_kept_for_the_healer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::store::open_db(&dir.path().join("agent.redb")).expect("opens");
        let store = Store::open(&db).expect("store");
        apply(
            &store,
            Command::SendInventory {
                reason: "the controller found lost link state".into(),
            },
        );
        let asked = db
            .read()
            .and_then(|r| r.get(table::HEAL, crate::store::HEAL_ASKED))
            .expect("reads");
        assert_eq!(
            asked.as_deref(),
            Some(&b"the controller found lost link state"[..])
        );
    }
}
