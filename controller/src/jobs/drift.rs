//! Drift between the ledger and the routers, and what the reconciliation does about it.
//!
//! Three sources, each with its rule:
//! - **The agents' drift reports** (`fleet.drift` audit entries, written when an agent's
//!   `Event::Drift` is applied): codes the agent *restored* were missing on the router
//!   (`missing-on-router`, done by the agent); codes *unknown* to the agent that the ledger
//!   says belong on that router are re-queued (the agent lost its copy: an identical user on
//!   the router is success, so this is safe); unknown codes the ledger does not place there are
//!   reported and never deleted.
//! - **Vouchers that never reached their router**: `issued` ones (never queued, e.g. a crash
//!   between ledger and outbox) are re-queued; `queued` ones only when their site's outbox is
//!   empty (the agent acknowledged the command yet never answered) and the router is not known
//!   to be down. Both only after [`STUCK_AFTER`], so a batch in flight is left alone.
//! - **Usage mismatch**: vouchers still active or in use whose recorded usage reached their
//!   limit; reported.
//!
//! Re-queued vouchers go out as durable `CreateVouchers` commands built the same way as at
//! issue (`fleet::commands`).

use std::collections::{BTreeMap, BTreeSet};

use hotspot_pki::SiteId;
use hotspot_shared::domain::{PackageId, RouterId, VoucherState};
use serde::Deserialize;

use super::ReconcileError;
use crate::app::AppState;
use crate::fleet::commands::{Create, create_commands};
use crate::store::{
    Actor, AuditFilter, DriftKind, DriftLine, PageRequest, RouterRecord, Stamp, VoucherChange,
    VoucherRecord,
};

/// A voucher younger than this is never re-queued: it may still be on its way.
pub const STUCK_AFTER: i64 = 3600;

/// The detail of a `fleet.drift` audit entry.
#[derive(Debug, Deserialize)]
struct AgentDrift {
    #[serde(default)]
    unknown: Vec<String>,
    #[serde(default)]
    restored: Vec<String>,
}

#[derive(Default)]
struct Findings {
    lines: Vec<DriftLine>,
    /// Vouchers to send again, by code (one entry per code).
    requeue: BTreeMap<String, VoucherRecord>,
}

impl Findings {
    fn line(&mut self, site: &SiteId, router: RouterId, kind: DriftKind, code: &str, action: &str) {
        self.lines.push(DriftLine {
            site: site.clone(),
            router,
            kind,
            code: code.to_owned(),
            action: action.to_owned(),
        });
    }
}

/// Finds drift in `[from, until)` (agents' reports) and now (ledger states), re-queues what
/// belongs on a router, and returns the lines for the report.
pub async fn reconcile_drift(
    state: &AppState,
    from: i64,
    until: i64,
) -> Result<Vec<DriftLine>, ReconcileError> {
    let now = state.now();
    let mut found = Findings::default();
    agent_reports(state, from, until, &mut found)?;
    for router in state.store.routers(None)? {
        ledger_side(state, &router, now, &mut found)?;
    }
    requeue(state, &found.requeue, now).await?;
    Ok(found.lines)
}

fn agent_reports(
    state: &AppState,
    from: i64,
    until: i64,
    found: &mut Findings,
) -> Result<(), ReconcileError> {
    let filter = AuditFilter {
        from: Some(from),
        until: Some(until),
        action_prefix: Some("fleet.drift".into()),
        target: None,
    };
    let mut page = PageRequest::first(crate::store::MAX_PAGE);
    loop {
        let entries = state.store.audit(&filter, &page)?;
        for e in entries.items.iter().rev() {
            let Actor::Site(site) = &e.actor else {
                continue;
            };
            let router = e
                .target
                .strip_prefix("router-")
                .and_then(|n| n.parse().ok());
            let (Some(router), Ok(drift)) = (router, serde_json::from_str::<AgentDrift>(&e.detail))
            else {
                tracing::warn!(target = %e.target, "unreadable drift report");
                continue;
            };
            let router = RouterId(router);
            for code in &drift.restored {
                let kind = DriftKind::MissingOnRouter;
                found.line(site, router, kind, code, "restored by the agent");
            }
            for code in &drift.unknown {
                let ours = state.store.voucher(code)?.filter(|v| {
                    v.router == router && v.site == *site && v.state.belongs_on_router()
                });
                let kind = DriftKind::UnknownOnRouter;
                match ours {
                    Some(v) => {
                        found.line(
                            site,
                            router,
                            kind,
                            code,
                            "in the ledger: re-queued to the agent",
                        );
                        found.requeue.insert(code.clone(), v);
                    }
                    None => found.line(site, router, kind, code, "reported (not deleted)"),
                }
            }
        }
        match entries.next {
            Some(next) => page.after = Some(next),
            None => return Ok(()),
        }
    }
}

fn over_limit(v: &VoucherRecord) -> bool {
    let uptime = v.limits.uptime_secs.is_some_and(|l| v.uptime_secs >= l);
    let bytes = v
        .limits
        .bytes_total
        .is_some_and(|l| v.bytes_in.saturating_add(v.bytes_out) >= l);
    uptime || bytes
}

fn ledger_side(
    state: &AppState,
    r: &RouterRecord,
    now: i64,
    found: &mut Findings,
) -> Result<(), ReconcileError> {
    use VoucherState as S;
    let outbox_empty = state
        .fleet
        .site_status(&r.site)
        .is_ok_and(|s| s.outbox_len == 0);
    let router_down = match (&r.last_error, r.last_seen()) {
        (Some((_, failed)), seen) => seen.is_none_or(|s| *failed > s),
        (None, _) => false,
    };
    for v in state
        .store
        .vouchers_on_router(r.id, &[S::Issued, S::Queued])?
    {
        if now.saturating_sub(v.issued_at) < STUCK_AFTER || found.requeue.contains_key(&v.code) {
            continue;
        }
        let action = match v.state {
            S::Issued => "never queued: re-queued",
            _ if outbox_empty && !router_down => "acknowledged, never applied: re-queued",
            _ => continue,
        };
        found.line(&r.site, r.id, DriftKind::MissingOnRouter, &v.code, action);
        found.requeue.insert(v.code.clone(), v);
    }
    for v in state
        .store
        .vouchers_on_router(r.id, &[S::Active, S::InUse])?
    {
        if over_limit(&v) {
            let action = "reported: usage reached its limit, the router has not exhausted it";
            found.line(&r.site, r.id, DriftKind::UsageMismatch, &v.code, action);
        }
    }
    Ok(())
}

/// At start, before the API serves: every `issued` voucher is left over from a previous run
/// that stopped between the ledger and the outbox (no request is in flight yet), and nobody
/// will send it; it is re-queued at once instead of waiting [`STUCK_AFTER`] for the daily
/// reconciliation. Sending one whose command did reach the outbox is safe: the agent reads an
/// identical user back as success. The number re-queued.
pub async fn requeue_never_queued(state: &AppState) -> Result<usize, ReconcileError> {
    let mut found = BTreeMap::new();
    for router in state.store.routers(None)? {
        for v in state
            .store
            .vouchers_on_router(router.id, &[VoucherState::Issued])?
        {
            found.insert(v.code.clone(), v);
        }
    }
    if !found.is_empty() {
        requeue(state, &found, state.now()).await?;
    }
    Ok(found.len())
}

/// Sends `vouchers` again as `CreateVouchers`, grouped by router and package, and moves the
/// ones never queued to `queued` once the commands are durable.
async fn requeue(
    state: &AppState,
    vouchers: &BTreeMap<String, VoucherRecord>,
    now: i64,
) -> Result<(), ReconcileError> {
    let mut groups: BTreeMap<(SiteId, RouterId, PackageId), Vec<&VoucherRecord>> = BTreeMap::new();
    for v in vouchers.values() {
        let key = (v.site.clone(), v.router, v.package);
        groups.entry(key).or_default().push(v);
    }
    let mut issued = BTreeSet::new();
    for ((site, router, package), list) in groups {
        let Some(p) = state.store.package(package)? else {
            tracing::warn!(%package, "cannot re-queue vouchers of a missing package");
            continue;
        };
        let commands = create_commands(router, &p.package, &list, Create::All);
        state.fleet.send_batch(&site, &commands).await?;
        issued.extend(
            list.iter()
                .filter(|v| v.state == VoucherState::Issued)
                .map(|v| v.code.clone()),
        );
    }
    if !issued.is_empty() {
        let codes: Vec<String> = issued.into_iter().collect();
        state
            .store
            .change_vouchers(&codes, VoucherChange::Queued, &Stamp::system(now))?
            .durable()
            .await?;
    }
    Ok(())
}
