//! Healing after lost link state: the agent's inventory for the controller.
//!
//! Lost state shows at a Hello (`hotspot_link::loss`): the agent's data directory was wiped,
//! replaced or restored, or the controller's was. Whichever side finds it starts a new
//! numbering; then the side that knows more replays it. The agent's part is its
//! **inventory**: every voucher it holds, on every router, with the ledger's facts of each
//! sale ([`Issue`]), in [`Event::Inventory`] parts. The ledger adds what it lacks (marked
//! recovered), updates what it has, and sends back what the agent lacks
//! (`Command::EnsureVouchers`).
//!
//! The inventory goes when the link recorded a loss on this side (so the agent's outbox to the
//! controller started a new epoch) or when the controller asked for it
//! (`Command::SendInventory`, stored in `heal` by the inbound handler). Either mark is taken in
//! the transaction that queues the inventory, so a crash in between sends it on the next try.

use std::sync::Arc;
use std::time::Duration;

use hotspot_link::{PeerId, PushAbort, PushWithError};
use hotspot_shared::fleet::msg::{Event, HeldVoucher, MAX_VOUCHERS_PER_INVENTORY};

use crate::core::Core;
use crate::store::{HEAL_ASKED, table};

/// Pause before trying again after a failure (outbox full, storage).
const RETRY: Duration = Duration::from_secs(5);

/// Waits for a loss or a request and sends the inventory, until the agent stops.
pub(crate) async fn run(core: Arc<Core>) {
    let Some(link) = core.link() else { return };
    let mut losses = link.losses().changed();
    let wake = core.store.heal_wake();
    let mut stop = core.stop.subscribe();
    loop {
        match send_if_due(&core).await {
            Ok(Some(n)) => {
                tracing::info!(vouchers = n, "healing: inventory queued for the controller")
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("healing: cannot queue the inventory yet: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(RETRY) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                continue;
            }
        }
        tokio::select! {
            changed = losses.changed() => if changed.is_err() { return },
            _ = wake.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Queues the inventory if a loss or a request waits; returns how many vouchers went.
pub(crate) async fn send_if_due(core: &Core) -> Result<Option<usize>, String> {
    let link = core.link().ok_or("the link is not running")?;
    let lost = link
        .losses()
        .pending()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|l| l.peer == PeerId::Controller);
    let asked = core
        .store
        .db()
        .read()
        .and_then(|r| r.get(table::HEAL, HEAL_ASKED))
        .map_err(|e| e.to_string())?
        .map(|r| String::from_utf8_lossy(&r).into_owned());
    let reason = match (&lost, asked) {
        (Some(l), _) => format!("the agent found lost link state: {}", l.detail),
        (None, Some(asked)) => asked,
        (None, None) => return Ok(None),
    };
    let held: Vec<HeldVoucher> = core
        .store
        .all_desired()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(router, e)| HeldVoucher {
            router,
            status: e.status.held(),
            user: e.user,
            issue: e.issue,
            first_used_at: e.first_used_at,
        })
        .collect();
    let n = held.len();
    let events = parts(rand::random(), &reason, held);
    let written = link
        .send_batch_with(&events, |tx, _| {
            hotspot_link::loss::clear_in(tx, &PeerId::Controller)?;
            tx.remove(table::HEAL, HEAL_ASKED)?;
            Ok::<_, PushAbort<std::convert::Infallible>>(())
        })
        .await;
    match written {
        Ok(_) => Ok(Some(n)),
        Err(PushWithError::Link(e)) => Err(e.to_string()),
        Err(PushWithError::Aborted(never)) => match never {},
    }
}

/// The inventory as events: parts of at most [`MAX_VOUCHERS_PER_INVENTORY`], the last one
/// marked (an empty inventory is one empty last part).
fn parts(round: u64, reason: &str, held: Vec<HeldVoucher>) -> Vec<Event> {
    let mut chunks: Vec<Vec<HeldVoucher>> = Vec::new();
    let mut rest = held.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(MAX_VOUCHERS_PER_INVENTORY).collect());
    }
    if chunks.is_empty() {
        chunks.push(Vec::new());
    }
    let count = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, vouchers)| Event::Inventory {
            round,
            reason: reason.to_string(),
            vouchers,
            last: i + 1 == count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use hotspot_shared::domain::RouterId;
    use hotspot_shared::fleet::msg::HeldStatus;

    use super::*;
    use crate::fixtures::{issue, user};

    fn held(i: usize) -> HeldVoucher {
        HeldVoucher {
            router: RouterId(1),
            user: user(&format!("C{i}")),
            issue: issue(),
            status: HeldStatus::OnRouter,
            first_used_at: None,
        }
    }

    /// Each part's size and whether it is the last, and the codes in order.
    fn shape(events: &[Event]) -> (Vec<(usize, bool)>, Vec<String>, Vec<u64>) {
        let mut sizes = Vec::new();
        let mut codes = Vec::new();
        let mut rounds = Vec::new();
        for e in events {
            let Event::Inventory {
                round,
                vouchers,
                last,
                ..
            } = e
            else {
                panic!("not an inventory: {e:?}")
            };
            sizes.push((vouchers.len(), *last));
            codes.extend(vouchers.iter().map(|v| v.user.code.clone()));
            rounds.push(*round);
        }
        (sizes, codes, rounds)
    }

    #[test]
    fn an_inventory_is_cut_into_parts_of_one_round_and_only_the_last_is_marked() {
        let (sizes, codes, _) = shape(&parts(1, "r", Vec::new()));
        assert_eq!(
            (sizes, codes.len()),
            (vec![(0, true)], 0),
            "empty: one last part"
        );
        let n = 2 * MAX_VOUCHERS_PER_INVENTORY + 1;
        let (sizes, codes, rounds) = shape(&parts(9, "r", (0..n).map(held).collect()));
        assert_eq!(
            sizes,
            vec![
                (MAX_VOUCHERS_PER_INVENTORY, false),
                (MAX_VOUCHERS_PER_INVENTORY, false),
                (1, true)
            ]
        );
        let want: Vec<String> = (0..n).map(|i| format!("C{i}")).collect();
        assert_eq!(codes, want, "every voucher once, in order");
        assert!(rounds.iter().all(|r| *r == 9));
    }
}
