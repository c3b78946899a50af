//! Healing a site after lost link state, on the controller's side.
//!
//! The link finds the loss at a Hello and records it (`hotspot_link::loss`); whichever side
//! found it, both end up replaying what they know:
//! 1. **A loss found here** (the agent's data directory was wiped, replaced or restored, or the
//!    site enrolled again): audited as `fleet.heal.lost`, then `Command::SendInventory` is
//!    queued in the transaction that takes the loss record, so a crash asks again.
//! 2. **The agent's inventory** (asked for, or sent unasked because the agent found the loss,
//!    e.g. this controller was restored from an older backup): applied part by part by the
//!    ledger's inbound handler (`store::embedded::heal`: what the ledger lacks is recovered),
//!    the last part marks the replay due.
//! 3. **The replay**: every voucher of the site that belongs on a router (queued, active, in
//!    use, exhausted) as `Command::EnsureVouchers` (the agent adds those it does not know),
//!    and a removal for each voucher the ledger revoked that the agent still holds; then the
//!    heal is finished (`fleet.heal.done` in the audit log, shown on the dashboard). The
//!    catalogue, staff and code grant go on every connect anyway (`presence`).
//!
//! The replay is at least once (a crash after queueing it and before finishing sends it
//! again), which is safe: the agent applies it idempotently.

use std::collections::BTreeMap;
use std::time::Duration;

use hotspot_link::{Loss, PushAbort, PushWithError};
use hotspot_pki::SiteId;
use hotspot_shared::domain::{PackageId, RemovalReason, VoucherState};
use hotspot_shared::fleet::msg::Command;
use tokio::task::JoinHandle;

use super::commands::{Create, create_commands};
use crate::app::AppState;
use crate::store::{
    AuditEntry, AuditFilter, HealRecord, PageRequest, Stamp, StoreError, VoucherRecord,
};

/// How often the ledger is looked at for inventories that arrived in full.
const POLL: Duration = Duration::from_secs(1);

/// The states of a voucher that belongs on its router.
pub const ON_ROUTER: [VoucherState; 4] = [
    VoucherState::Queued,
    VoucherState::Active,
    VoucherState::InUse,
    VoucherState::Exhausted,
];

/// The newest `fleet.heal.*` audit entry about `site`: the last loss found or heal finished.
pub fn last_heal(state: &AppState, site: &SiteId) -> Result<Option<AuditEntry>, StoreError> {
    let filter = AuditFilter {
        action_prefix: Some("fleet.heal.".into()),
        target: Some(site.to_string()),
        ..Default::default()
    };
    Ok(state
        .store
        .audit(&filter, &PageRequest::first(1))?
        .items
        .into_iter()
        .next())
}

/// Runs the healer until the task is aborted.
pub fn spawn(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut losses = state.fleet.losses().changed();
        loop {
            heal_once(&state).await;
            tokio::select! {
                changed = losses.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

/// One pass: asks for the inventory of every site with a loss, replays to every site whose
/// inventory is in. Failures are logged; the next pass tries again.
pub async fn heal_once(state: &AppState) {
    match state.fleet.losses().pending() {
        Ok(losses) => {
            for loss in losses {
                if let Err(e) = ask_inventory(state, &loss).await {
                    tracing::warn!(peer = %loss.peer, "healing: cannot ask for the inventory yet: {e}");
                }
            }
        }
        Err(e) => tracing::warn!("healing: cannot read lost link states: {e}"),
    }
    match state.store.heals_due() {
        Ok(due) => {
            for heal in due {
                if let Err(e) = replay(state, &heal).await {
                    tracing::warn!(site = %heal.site, "healing: cannot queue the replay yet: {e}");
                }
            }
        }
        Err(e) => tracing::warn!("healing: cannot read the heals due: {e}"),
    }
}

async fn ask_inventory(state: &AppState, loss: &Loss) -> Result<(), String> {
    let Some(site) = loss.peer.site() else {
        return Ok(());
    };
    let reason = format!(
        "the controller found lost link state ({}): {}",
        loss.kind.as_str(),
        loss.detail
    );
    tracing::warn!(%site, "healing: {reason}; asking for the site's inventory");
    let stamp = Stamp::system(state.now());
    state
        .store
        .append_audit(&stamp.audit("fleet.heal.lost", site, reason.clone()))
        .map_err(|e| e.to_string())?
        .durable()
        .await
        .map_err(|e| e.to_string())?;
    let peer = loss.peer.clone();
    let sent = state
        .fleet
        .send_batch_with(site, &[Command::SendInventory { reason }], |tx, _| {
            hotspot_link::loss::clear_in(tx, &peer)?;
            Ok::<_, PushAbort<std::convert::Infallible>>(())
        })
        .await;
    match sent {
        Ok(_) => Ok(()),
        Err(PushWithError::Link(e)) => Err(e.to_string()),
        Err(PushWithError::Aborted(never)) => match never {},
    }
}

/// What the site must hold again: every voucher that belongs on its routers, and removals.
fn replay_commands(state: &AppState, heal: &HealRecord) -> Result<Vec<Command>, String> {
    let site: &SiteId = &heal.site;
    let mut commands = Vec::new();
    for router in state.store.routers(Some(site)).map_err(|e| e.to_string())? {
        let vouchers = state
            .store
            .vouchers_on_router(router.id, &ON_ROUTER)
            .map_err(|e| e.to_string())?;
        let mut by_package: BTreeMap<PackageId, Vec<&VoucherRecord>> = BTreeMap::new();
        for v in &vouchers {
            by_package.entry(v.package).or_default().push(v);
        }
        for (package, list) in by_package {
            let Some(p) = state.store.package(package).map_err(|e| e.to_string())? else {
                tracing::warn!(%package, "healing: vouchers of a missing package not sent again");
                continue;
            };
            commands.extend(create_commands(
                router.id,
                &p.package,
                &list,
                Create::Missing,
            ));
        }
    }
    commands.extend(
        heal.remove
            .iter()
            .map(|(router, code)| Command::RemoveVoucher {
                router: *router,
                code: code.clone(),
                reason: RemovalReason::Revoked,
            }),
    );
    Ok(commands)
}

async fn replay(state: &AppState, heal: &HealRecord) -> Result<(), String> {
    let commands = replay_commands(state, heal)?;
    if !commands.is_empty() {
        state
            .fleet
            .send_batch(&heal.site, &commands)
            .await
            .map_err(|e| e.to_string())?;
    }
    state
        .store
        .finish_heal(&heal.site, heal.round, &Stamp::system(state.now()))
        .map_err(|e| e.to_string())?
        .durable()
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        site = %heal.site,
        recovered = heal.recovered,
        updated = heal.updated,
        commands = commands.len(),
        "healing: the site's vouchers sent again; healed"
    );
    Ok(())
}
