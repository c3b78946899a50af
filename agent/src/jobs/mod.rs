//! Background jobs, one scheduler task per router: usage sync with repair ([`usage`]), health
//! and info, and a light reachability probe ([`health`]).
//!
//! Why it is shaped so: each router is its own small world (its own session, its own outage),
//! so a slow or dead router delays nobody else's jobs. The schedule is three deadlines and
//! three wake-ups (sync now, router back, shutdown) in one `select!`; a job in progress is
//! abandoned at shutdown, which is safe because jobs only read the router and write through
//! the store's transactions and the durable outbox.
//!
//! Reachability is tracked per router ([`LiveRouter::mark_down`]): the first failure that
//! means "cannot talk to it" sends one `RouterDown`; the first success after it wakes the
//! apply worker and sends fresh health and info.

pub mod health;
pub mod usage;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use hotspot_shared::domain::{RouterInfo, UsageSample};
use hotspot_shared::fleet::msg::Event;
use tokio::time::Instant;

use crate::routeros::RouterError;
use crate::routers::{LiveRouter, failure_of, means_down};
use crate::runtime::{Core, unix_now};

/// First usage sync after start: soon, so that a router reset while the agent was down is
/// repaired without waiting a whole interval.
const FIRST_SYNC_WITHIN: Duration = Duration::from_secs(10);

/// What the jobs remember about one router between runs (in memory: after a restart
/// everything is simply reported again).
#[derive(Debug, Default)]
pub struct JobState {
    /// The last usage sample sent per voucher: only changes are sent again.
    pub(crate) last_sent: HashMap<String, UsageSample>,
    /// Unknown users already reported.
    pub(crate) unknown: BTreeSet<String>,
    /// The last router info sent.
    pub(crate) last_info: Option<RouterInfo>,
    /// The router's uptime at the last look (seconds): less now means it rebooted.
    pub(crate) last_uptime: Option<u64>,
}

/// The job scheduler of `live`; returns at shutdown.
pub(crate) async fn run(core: Arc<Core>, live: Arc<LiveRouter>) {
    let jobs = core.settings.jobs.clone();
    let mut stop = core.stop.subscribe();
    let start = Instant::now();
    let mut next_usage = start + jobs.usage_sync.min(FIRST_SYNC_WITHIN);
    let mut next_health = start;
    let mut next_probe = start + jobs.router_probe;
    loop {
        let next = next_usage.min(next_health).min(next_probe);
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = live.wake_sync.notified() => next_usage = Instant::now(),
            _ = live.wake_health.notified() => next_health = Instant::now(),
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = Instant::now();
        let work = async {
            if now >= next_usage {
                if let Err(e) = usage::sync(&core, &live).await {
                    tracing::warn!(router = %live.id, "usage sync: {e}");
                }
                next_usage = Instant::now() + jobs.usage_sync;
            }
            if now >= next_health {
                if let Err(e) = health::report(&core, &live).await {
                    tracing::warn!(router = %live.id, "health: {e}");
                }
                next_health = Instant::now() + jobs.health;
                next_probe = Instant::now() + jobs.router_probe;
            } else if now >= next_probe {
                health::probe(&core, &live).await;
                next_probe = Instant::now() + jobs.router_probe;
            }
        };
        tokio::select! {
            () = work => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Records the outcome of a call to the router: one `RouterDown` per outage, and on recovery
/// the apply worker and the health job are woken.
pub(crate) async fn observe(core: &Core, live: &LiveRouter, result: Result<(), &RouterError>) {
    match result {
        Ok(()) => {
            if live.mark_up() {
                tracing::info!(router = %live.id, "router reachable again");
                live.wake_apply.notify_one();
                live.wake_health.notify_one();
            }
        }
        Err(e) if means_down(e) => {
            if live.mark_down() {
                tracing::warn!(router = %live.id, error = %e, "router down");
                let down = Event::RouterDown {
                    router: live.id,
                    failure: failure_of(e),
                    at: unix_now(),
                };
                if let Err(e) = core.send(&[down]).await {
                    tracing::error!(router = %live.id, "cannot queue RouterDown: {e}");
                }
            }
        }
        Err(_) => {}
    }
}
