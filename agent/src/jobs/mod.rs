//! Background jobs, one scheduler task per router: usage sync with repair ([`usage`]), health
//! and info, and a light reachability probe ([`health`]).
//!
//! Why it is shaped so: each router is its own small world (its own session, its own outage),
//! so a slow or dead router delays nobody else's jobs. The schedule is three deadlines and
//! three wake-ups (sync now, router back, shutdown) in one `select!`; a job in progress is
//! abandoned at shutdown, which is safe because jobs only read the router and write through
//! the store's transactions and the durable outbox.
//!
//! Reachability is tracked per router ([`reachability`], on [`LiveRouter::mark_down`]): the
//! first failure that means "cannot talk to it" sends one `RouterDown`; the first success after
//! it wakes the apply worker and sends fresh health and info. What the jobs remember between
//! runs is in [`state`]. This module only schedules: its parts import nothing from it.

pub mod health;
pub mod reachability;
pub mod state;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::core::Core;
use crate::routers::LiveRouter;

pub use state::JobState;

/// First usage sync after start: soon, so that a router reset while the agent was down is
/// repaired without waiting a whole interval.
const FIRST_SYNC_WITHIN: Duration = Duration::from_secs(10);

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
