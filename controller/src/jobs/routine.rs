//! The frequent jobs: usage sync and health.
//!
//! - **Usage sync** asks every online site to read usage now (`Command::SyncNow`); agents
//!   also push usage on their own, so a site that is offline is simply skipped, and one whose
//!   outbox is not empty is skipped too (it has not caught up; another "sync now" would only
//!   pile up behind the first).
//! - **Health** reads every router of every online site through its agent (`Query::Stats`,
//!   bounded by a deadline, sites in parallel up to [`MAX_PARALLEL_SITES`]) and records the
//!   reading or the failure; then refreshes the sites' catalogue, staff directory and code
//!   grant, and the metrics. Routers of offline sites get nothing written: their status is
//!   computed as offline and stale when read (see `api::routers`), so it cannot lag.

use std::sync::Arc;

use hotspot_pki::SiteId;
use hotspot_shared::fleet::msg::{Answer, Command, Query};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::routers::READ_DEADLINE;
use crate::app::AppState;
use crate::fleet::Presence;
use crate::store::RouterObservation;

/// Most sites whose routers are read at once.
pub const MAX_PARALLEL_SITES: usize = 32;

fn online_sites(state: &AppState) -> Vec<SiteId> {
    state
        .fleet
        .connected_sites()
        .into_iter()
        .filter(|s| state.fleet.site_status(s).is_ok_and(|st| st.online))
        .collect()
}

/// Queues `SyncNow` for every online site that has caught up. Returns how many were asked.
pub async fn usage_sync(state: &AppState) -> usize {
    let mut asked = 0;
    for site in online_sites(state) {
        let caught_up = state
            .fleet
            .site_status(&site)
            .is_ok_and(|s| s.outbox_len == 0);
        if !caught_up {
            continue;
        }
        match state
            .fleet
            .send(&site, &Command::SyncNow { router: None })
            .await
        {
            Ok(_) => asked += 1,
            Err(e) => tracing::warn!(%site, "cannot queue a usage sync: {e}"),
        }
    }
    asked
}

/// Reads and records the health of the routers of one site.
async fn site_health(state: &AppState, site: &SiteId) {
    let routers = match state.store.routers(Some(site)) {
        Ok(r) => r,
        Err(e) => return tracing::warn!(%site, "cannot read routers: {e}"),
    };
    for r in routers {
        let query = Query::Stats { router: r.id };
        let (seen, at) = match state.fleet.request(site, query, READ_DEADLINE).await {
            Ok(Answer::Stats(sample)) => {
                let at = sample.at;
                (RouterObservation::Health(sample), at)
            }
            Ok(Answer::Failed(f)) => (RouterObservation::Down(f), state.now()),
            Ok(other) => {
                tracing::warn!(router = %r.id, "agent answered Stats with {other:?}");
                continue;
            }
            Err(e) => {
                tracing::debug!(router = %r.id, "no health reading: {e}");
                continue;
            }
        };
        let written = state.store.observe_router(r.id, seen, at);
        if let Err(e) = async { written?.durable().await }.await {
            tracing::warn!(router = %r.id, "cannot record health: {e}");
        }
    }
}

/// Reads every online site's routers, refreshes site directories and metrics.
pub async fn health(state: &AppState, presence: &Presence) {
    let permits = Arc::new(Semaphore::new(MAX_PARALLEL_SITES));
    let mut tasks = JoinSet::new();
    for site in online_sites(state) {
        let (state, permits) = (state.clone(), permits.clone());
        tasks.spawn(async move {
            let Ok(_permit) = permits.acquire().await else {
                return;
            };
            site_health(&state, &site).await;
        });
    }
    while tasks.join_next().await.is_some() {}
    presence.refresh(state).await;
    if let Err(e) = crate::jobs::reconcile::refresh_late(state).await {
        tracing::warn!("refreshing reports with late site sales: {e}");
    }
    crate::fleet::refresh_metrics(state);
}
