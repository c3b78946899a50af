//! Usage sync and desired-state repair: one read of the router's users and sessions, three uses.
//!
//! 1. **Usage**: uptime and bytes of every voucher we put there, and whether it is online now,
//!    as `Usage` events of at most `MAX_SAMPLES_PER_EVENT` samples; only samples that changed
//!    since the last one sent (after a restart, all of them once).
//! 2. **Repair**: a voucher confirmed on the router (`OnRouter`) that the router no longer has
//!    (reset, restored backup) is queued again and reported as `Drift { restored }`.
//!    The desired state is read *before* the router, so a voucher created meanwhile is not
//!    mistaken for a lost one, and the re-queue re-checks the status in its transaction, so a
//!    voucher being removed is not brought back.
//! 3. **Unknown users**: a user carrying our comment prefix that the desired state does not
//!    hold (or holds as removed) is reported once as `Drift { unknown }` and never deleted.
//!
//! While the link is down, usage is held in the store (first and latest sample per voucher,
//! so bounded by the vouchers however long the outage) and delivered ahead of fresh samples
//! at the first sync with the link up; the ledger ends with the same counters and first-use
//! time as if the link had never dropped.
//!
//! Validity after first login is enforced here too: the first sync that sees a voucher used
//! records the time; once its validity has passed, its removal is queued (reason `Expired`).

use std::collections::{BTreeSet, HashMap, HashSet};

use hotspot_shared::domain::voucher::COMMENT_PREFIX;
use hotspot_shared::domain::{RemovalReason, UsageSample};
use hotspot_shared::fleet::msg::{Event, MAX_SAMPLES_PER_EVENT};

use super::reachability::observe;
use crate::core::{Core, unix_now};
use crate::routeros::{RouterError, UserQuery};
use crate::routers::LiveRouter;
use crate::store::{DesiredBrief, DesiredStatus, StoreError};

/// The properties a usage sync reads (plus `.id`, always).
const USAGE_PROPLIST: [&str; 5] = ["name", "uptime", "bytes-in", "bytes-out", "comment"];

/// Why a usage sync did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Router(#[from] RouterError),
    /// Storage or the outbox.
    #[error("{0}")]
    Agent(String),
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        SyncError::Agent(e.to_string())
    }
}

/// Reads usage, repairs, reports; returns how many usage samples were read. The memory the
/// sync held (every voucher and every user on the router) goes back to the kernel after it.
pub(crate) async fn sync(core: &Core, live: &LiveRouter) -> Result<usize, SyncError> {
    let synced = sync_once(core, live).await;
    crate::memory::give_back();
    synced
}

async fn sync_once(core: &Core, live: &LiveRouter) -> Result<usize, SyncError> {
    let mut state = live.sync.lock().await;
    let snapshot = core.store.desired_brief(live.id)?;
    let pool = live.pool();
    let query = UserQuery {
        name: None,
        proplist: Some(USAGE_PROPLIST.iter().map(|p| (*p).to_owned()).collect()),
    };
    let read = match pool.print_hotspot_users(&query).await {
        Ok(users) => pool.active_sessions().await.map(|a| (users, a)),
        Err(e) => Err(e),
    };
    observe(core, live, read.as_ref().map(drop)).await;
    let (users, active) = read?;

    let now = unix_now();
    let online: HashSet<&str> = active.iter().map(|s| s.user.as_str()).collect();
    let desired: HashMap<&str, &DesiredBrief> =
        snapshot.iter().map(|e| (e.code.as_str(), e)).collect();
    let mut samples = Vec::new();
    let mut expired = Vec::new();
    for u in &users {
        let Some(entry) = desired.get(u.name.as_str()) else {
            continue;
        };
        if !matches!(
            entry.status,
            DesiredStatus::Pending | DesiredStatus::OnRouter | DesiredStatus::Removing
        ) {
            continue;
        }
        let sample = UsageSample {
            code: u.name.clone(),
            uptime_secs: u.uptime.as_secs(),
            bytes_in: u.bytes_in,
            bytes_out: u.bytes_out,
            online: online.contains(u.name.as_str()),
        };
        let used = sample.online || sample.uptime_secs > 0 || u.bytes_in + u.bytes_out > 0;
        let first_used = match entry.first_used_at {
            None if used => {
                core.store.mark_first_use(live.id, &u.name, now)?;
                Some(now)
            }
            other => other,
        };
        if let (Some(validity), Some(first)) = (entry.validity, first_used)
            && entry.status == DesiredStatus::OnRouter
            && now >= first.saturating_add(i64::try_from(validity.as_secs()).unwrap_or(i64::MAX))
        {
            expired.push(u.name.clone());
        }
        samples.push(sample);
    }
    let read = samples.len();
    let changed: Vec<UsageSample> = samples
        .into_iter()
        .filter(|s| state.last_sent.get(&s.code) != Some(s))
        .collect();
    let mut events: Vec<Event> = changed
        .chunks(MAX_SAMPLES_PER_EVENT)
        .map(|chunk| Event::Usage {
            router: live.id,
            at: now,
            samples: chunk.to_vec(),
        })
        .collect();

    let on_router: HashSet<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let missing: Vec<String> = snapshot
        .iter()
        .filter(|e| e.status == DesiredStatus::OnRouter && !on_router.contains(e.code.as_str()))
        .map(|e| e.code.clone())
        .collect();
    let restored = if missing.is_empty() {
        Vec::new()
    } else {
        core.store.requeue_missing(live.id, &missing)?
    };
    let unknown: BTreeSet<String> = users
        .iter()
        .filter(|u| {
            u.comment
                .as_deref()
                .is_some_and(|c| c.starts_with(COMMENT_PREFIX.as_bytes()))
                && desired
                    .get(u.name.as_str())
                    .is_none_or(|e| e.status == DesiredStatus::Removed)
        })
        .map(|u| u.name.clone())
        .collect();
    let new_unknown: Vec<String> = unknown.difference(&state.unknown).cloned().collect();
    if !restored.is_empty() || !new_unknown.is_empty() {
        tracing::warn!(
            router = %live.id,
            restored = restored.len(),
            unknown = new_unknown.len(),
            "drift between the desired state and the router"
        );
        events.push(Event::Drift {
            router: live.id,
            at: now,
            unknown: new_unknown,
            restored: restored.clone(),
        });
    }
    // While the link is down, usage waits in the `usage` tree (one entry per voucher) instead
    // of piling up in the outbox; once it is back, what was held goes first.
    let online = core.link().is_some_and(|l| l.status().connected);
    let mut held = Vec::new();
    if online {
        held = core.store.held_usage(live.id)?;
        if !held.is_empty() {
            let mut by_time: std::collections::BTreeMap<i64, Vec<UsageSample>> = Default::default();
            for (_, _, h) in &held {
                by_time.entry(h.first_at).or_default().push(h.first.clone());
                if h.last_at != h.first_at {
                    by_time.entry(h.last_at).or_default().push(h.last.clone());
                }
            }
            let mut earlier: Vec<Event> = Vec::new();
            for (at, samples) in by_time {
                for chunk in samples.chunks(MAX_SAMPLES_PER_EVENT) {
                    earlier.push(Event::Usage {
                        router: live.id,
                        at,
                        samples: chunk.to_vec(),
                    });
                }
            }
            tracing::info!(router = %live.id, vouchers = held.len(), "delivering usage read while offline");
            earlier.append(&mut events);
            events = earlier;
        }
    } else if !changed.is_empty() {
        core.store.hold_usage(live.id, now, &changed)?;
        events.retain(|e| !matches!(e, Event::Usage { .. }));
    }
    core.send(&events).await.map_err(SyncError::Agent)?;
    core.store.release_usage(&held)?;
    state.unknown = unknown;
    state
        .last_sent
        .retain(|code, _| on_router.contains(code.as_str()));
    for s in changed {
        state.last_sent.insert(s.code.clone(), s);
    }
    let mut wake = !restored.is_empty();
    for code in expired {
        let queued = core
            .store
            .queue_removal(live.id, &code, RemovalReason::Expired)?;
        wake |= queued;
    }
    if wake {
        live.wake_apply.notify_one();
    }
    Ok(read)
}
