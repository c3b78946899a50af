//! What happens when a site comes online: it gets what it needs to work on its own.
//!
//! On [`SiteEvent::Online`] the site is sent, as durable commands, its package catalogue, the
//! staff directory (Argon2id hashes of the staff assigned to its routers, never passwords) and
//! its code grant, on every connect (the agent applies them idempotently). When staff or
//! packages change centrally ([`directory_changed`]), online sites whose copy changed get the
//! new one at once. Then
//! every router's connection settings go to the agent with [`Query::SetRouter`], inside TLS and
//! never through an outbox: that is how a password changed while the site was offline
//! ("credentials pending") reaches it.
//!
//! [`Presence::refresh`] does the same for every online site; the health job calls it too, as
//! a safety net.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hotspot_link::{LinkError, SiteEvent};
use hotspot_pki::SiteId;
use hotspot_shared::domain::{FailureKind, RouterFailure, RouterId};
use hotspot_shared::fleet::msg::{Answer, Command, Query, StaffEntry};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::store::{Role, RouterObservation, RouterRecord, StoreError};

/// Most sales a site may hold that the ledger has not acknowledged (see
/// [`Command::CodeGrant`]): what a site can sell during an outage.
pub const SITE_SALE_BUDGET: u64 = 2000;

/// Deadline for handing a router's settings to the agent.
pub const SET_ROUTER_DEADLINE: Duration = Duration::from_secs(10);

/// The `last_error` message that marks settings waiting for the site to come online.
pub const CREDENTIALS_PENDING: &str =
    "new connection settings are waiting for the site to come online";

/// Whether `router`'s settings have not reached its agent yet.
pub fn credentials_pending(router: &RouterRecord) -> bool {
    router
        .last_error
        .as_ref()
        .is_some_and(|(f, _)| f.kind == FailureKind::Agent && f.message == CREDENTIALS_PENDING)
}

/// Marks `router`'s settings as waiting for its site (cleared by the next news from it).
pub async fn mark_credentials_pending(
    state: &AppState,
    router: RouterId,
) -> Result<(), StoreError> {
    let failure = RouterFailure::new(FailureKind::Agent, CREDENTIALS_PENDING);
    state
        .store
        .observe_router(router, RouterObservation::Down(failure), state.now())?
        .durable()
        .await
}

/// Why pushing to a site failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// Bumped whenever what a site's directory is made of changed centrally (staff, packages).
static DIRECTORY_CHANGES: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::Sender::new(0));

/// Says that staff or packages changed: every running [`Presence`] queues the new
/// catalogue and staff directory for the online sites whose copy changed, at once (offline
/// sites get it when they connect). Call it after the change is durable.
///
/// Why a process-wide signal rather than a handle in `AppState`: the API handlers that change
/// staff and packages need no new dependency, and a spurious wake-up only recomputes the
/// directories (pushes happen only for sites whose copy changed).
pub fn directory_changed() {
    DIRECTORY_CHANGES.send_modify(|n| *n = n.wrapping_add(1));
}

/// Site pushes, and what was last sent to each site.
#[derive(Clone, Default)]
pub struct Presence {
    sent: Arc<Mutex<HashMap<SiteId, u64>>>,
}

impl Presence {
    pub fn new() -> Self {
        Presence::default()
    }

    /// Follows the link's online/offline events until the link shuts down.
    pub fn spawn(&self, state: AppState) -> JoinHandle<()> {
        let presence = self.clone();
        let mut events = state.fleet.events();
        let mut changes = DIRECTORY_CHANGES.subscribe();
        tokio::spawn(async move {
            loop {
                let received = tokio::select! {
                    r = events.recv() => r,
                    changed = changes.changed() => {
                        if changed.is_ok() {
                            tracing::debug!("staff or packages changed; refreshing the sites");
                            presence.refresh(&state).await;
                        }
                        continue;
                    }
                };
                let event = match received {
                    Ok(e) => e,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "site events lagged; refreshing every site");
                        presence.refresh(&state).await;
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                match event {
                    SiteEvent::Online { site } => {
                        tracing::info!(%site, "site online");
                        let (presence, state) = (presence.clone(), state.clone());
                        // Apart from the event loop: a slow agent must not delay the others.
                        tokio::spawn(async move { presence.site_online(&state, &site).await });
                    }
                    SiteEvent::Offline { site, reason } => {
                        tracing::info!(%site, %reason, "site offline");
                    }
                }
                super::refresh_metrics(&state);
            }
        })
    }

    /// Everything a site gets when it comes online; failures are logged (the next online or
    /// refresh tries again).
    pub async fn site_online(&self, state: &AppState, site: &SiteId) {
        // Every connect: the agent applies it idempotently, and a staff member disabled
        // centrally must be refused at the site from this contact on.
        if let Err(e) = self.push_directory(state, site, true).await {
            tracing::warn!(%site, "cannot queue the site's catalogue and staff: {e}");
        }
        match state.store.routers(Some(site)) {
            Ok(routers) => {
                for router in routers {
                    push_router(state, &router).await;
                }
            }
            Err(e) => tracing::warn!(%site, "cannot read the site's routers: {e}"),
        }
    }

    /// Queues the catalogue, staff directory and code grant for every online site whose copy
    /// changed.
    pub async fn refresh(&self, state: &AppState) {
        for site in state.fleet.connected_sites() {
            if let Err(e) = self.push_directory(state, &site, false).await {
                tracing::warn!(%site, "cannot queue the site's catalogue and staff: {e}");
            }
        }
    }

    /// Queues catalogue, staff directory and code grant for `site` (unless unchanged and not
    /// `force`). Returns whether anything was queued.
    pub async fn push_directory(
        &self,
        state: &AppState,
        site: &SiteId,
        force: bool,
    ) -> Result<bool, PushError> {
        let Some(record) = state.store.site(site)? else {
            return Ok(false);
        };
        if record.revoked {
            return Ok(false);
        }
        let commands = directory(state, site, &record.code_prefix)?;
        let mut hasher = DefaultHasher::new();
        postcard::to_stdvec(&commands)
            .map_err(|e| StoreError::Encode {
                kind: "site directory",
                detail: e.to_string(),
            })?
            .hash(&mut hasher);
        let hash = hasher.finish();
        let lock = || self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if !force && lock().get(site) == Some(&hash) {
            return Ok(false);
        }
        state.fleet.send_batch(site, &commands).await?;
        lock().insert(site.clone(), hash);
        tracing::debug!(%site, "catalogue, staff directory and code grant queued");
        Ok(true)
    }
}

/// The catalogue, staff directory and code grant of `site`.
fn directory(state: &AppState, site: &SiteId, prefix: &str) -> Result<Vec<Command>, StoreError> {
    let packages = state
        .store
        .packages(false)?
        .into_iter()
        .map(|p| p.package)
        .collect();
    let routers: Vec<RouterId> = state
        .store
        .routers(Some(site))?
        .iter()
        .map(|r| r.id)
        .collect();
    let staff = state
        .store
        .staff_list()?
        .into_iter()
        .filter(|s| s.role == Role::Staff)
        .filter_map(|s| {
            let here: Vec<RouterId> = s
                .routers
                .iter()
                .copied()
                .filter(|r| routers.contains(r))
                .collect();
            (!here.is_empty()).then_some(StaffEntry {
                id: s.id,
                username: s.username,
                password_hash: s.password_hash,
                routers: here,
                disabled: s.disabled,
            })
        })
        .collect();
    Ok(vec![
        Command::Catalogue { packages },
        Command::StaffDirectory { staff },
        Command::CodeGrant {
            prefix: prefix.to_string(),
            budget: SITE_SALE_BUDGET,
        },
    ])
}

/// Hands `router`'s settings to its agent; with settings that were pending, fetches the
/// router's info so the pending mark gives way to real news.
pub async fn push_router(state: &AppState, router: &RouterRecord) {
    let spec = match router.spec(&state.keyring) {
        Ok(spec) => spec,
        Err(e) => {
            tracing::error!(router = %router.id, "cannot open the router password: {e}");
            return;
        }
    };
    let stored = state
        .fleet
        .request(&router.site, Query::SetRouter(spec), SET_ROUTER_DEADLINE)
        .await;
    match stored {
        Ok(Answer::Stored) => {}
        Ok(other) => {
            tracing::warn!(router = %router.id, "agent answered SetRouter with {other:?}");
            return;
        }
        Err(e) => {
            tracing::warn!(router = %router.id, "cannot hand the router's settings over: {e}");
            return;
        }
    }
    if !credentials_pending(router) && router.info.is_some() {
        return;
    }
    let ask = Query::RouterInfo { router: router.id };
    let seen = match state
        .fleet
        .request(&router.site, ask, SET_ROUTER_DEADLINE)
        .await
    {
        Ok(Answer::Info(info)) => RouterObservation::Info(info),
        Ok(Answer::Failed(f)) => RouterObservation::Down(f),
        Ok(_) | Err(_) => return,
    };
    let written = state.store.observe_router(router.id, seen, state.now());
    if let Err(e) = async { written?.durable().await }.await {
        tracing::warn!(router = %router.id, "cannot record the router's info: {e}");
    }
}
