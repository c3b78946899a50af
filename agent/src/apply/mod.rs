//! The apply worker: one per router, working that router's queue in order.
//!
//! A worker takes up to `batch_size` items and runs them ([`batch::run`]). While the router
//! works, each item decided so far becomes one event, sent with `send_batch` — durable,
//! flushed, before anything else — and only then is that item taken off the queue and recorded
//! in the desired state (a group per barrier: the events of a long batch do not wait for its
//! end, and the router does not wait for the events). A crash between the
//! two re-runs the items and re-sends their events; the controller's ledger absorbs the repeat
//! (a second `Applied` for a voucher changes nothing), and the router absorbs the re-run
//! (`AlreadyExists`, read back, equal). That order is what makes the queue exactly-once in
//! effect with at-least-once events.
//!
//! When a batch cannot finish, the worker waits with capped, fully jittered exponential
//! backoff; new items or new router settings wake it at once. A router that cannot be reached
//! at all is reported with one `RouterDown` per outage.

pub mod batch;
pub mod compare;
#[cfg(feature = "fault-injection")]
mod fault;

use std::sync::Arc;
use std::time::Duration;

use hotspot_shared::fleet::msg::Event;

use crate::core::{Core, unix_now};
use crate::routers::{LiveRouter, failure_of, means_down};
use crate::store::{DesiredStatus, Done};
use batch::{Decided, Outcome};

/// What a drain of the queue ended with.
enum Drained {
    Empty,
    Stalled,
    Stopped,
}

/// The worker of `live`; returns at shutdown.
pub(crate) async fn run(core: Arc<Core>, live: Arc<LiveRouter>) {
    let mut stop = core.stop.subscribe();
    let apply = &core.settings.apply;
    let mut backoff = apply.retry_min;
    loop {
        // A batch in progress is finished, not abandoned, at shutdown: its events and its
        // queue update then agree (the grace period of the stop bounds it).
        let drained = drain(&core, &live, &stop).await;
        let wait = match drained {
            Ok(Drained::Stopped) => return,
            Ok(Drained::Empty) => {
                // What a long batch held goes back to the kernel while the queue is idle.
                crate::memory::give_back();
                backoff = apply.retry_min;
                apply.poll
            }
            Ok(Drained::Stalled) | Err(_) => {
                if let Err(e) = &drained {
                    tracing::error!(router = %live.id, "apply queue: {e}");
                }
                let wait = jitter(backoff);
                backoff = (backoff * 2).min(apply.retry_max);
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = live.wake_apply.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// A uniform draw from `[ceiling / 2, ceiling]`: spread out, never a busy loop.
fn jitter(ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::random_range(nanos / 2..=nanos.max(1)))
}

/// Works batches until the queue is empty or a batch cannot finish.
async fn drain(
    core: &Core,
    live: &LiveRouter,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<Drained, String> {
    let size = core.settings.apply.batch_size;
    loop {
        if *stop.borrow() {
            return Ok(Drained::Stopped);
        }
        if core.storage_is_failed() {
            // Nothing could be recorded: a queue item may belong to a sale that was refused.
            return Ok(Drained::Stalled);
        }
        let items = core
            .store
            .queue_batch(live.id, size)
            .map_err(|e| e.to_string())?;
        if items.is_empty() {
            return Ok(Drained::Empty);
        }
        // Only what is on disk goes to a router: a sale whose barrier failed (disk full) must
        // not reach it, nor a command a power cut could take back. One barrier per batch;
        // usually a no-op, the writer's barrier covered it already.
        if let Err(e) = core.store.flush().await {
            core.mark_storage_failed(&e.to_string());
            return Ok(Drained::Stalled);
        }
        let started = std::time::Instant::now();
        let (sink, decisions) = tokio::sync::mpsc::unbounded_channel();
        let pool = live.pool();
        let (retry, confirmed) = tokio::join!(
            batch::run(&pool, &items, sink),
            confirm(core, live, decisions)
        );
        let confirmed = confirmed?;
        let mut events = Vec::new();
        match &retry {
            Some(e) if means_down(e) && live.mark_down() => {
                tracing::warn!(router = %live.id, error = %e, "router down");
                events.push(Event::RouterDown {
                    router: live.id,
                    failure: failure_of(e),
                    at: unix_now(),
                });
            }
            _ => {}
        }
        core.send(&events).await?;
        if confirmed > 0 {
            tracing::info!(
                router = %live.id,
                decided = confirmed,
                left = items.len() - confirmed,
                took = ?started.elapsed(),
                "apply batch"
            );
        }
        if let Some(e) = retry {
            tracing::info!(router = %live.id, error = %e, "apply batch incomplete; will retry");
            return Ok(Drained::Stalled);
        }
    }
}

/// The other half of a batch: while the router works, each group of decisions that arrived
/// meanwhile becomes its events, sent durably, and only then leaves the queue (group commit:
/// one barrier per group, groups as large as the barrier is slow). The number confirmed.
async fn confirm(
    core: &Core,
    live: &LiveRouter,
    mut decisions: tokio::sync::mpsc::UnboundedReceiver<Decided>,
) -> Result<usize, String> {
    let mut confirmed = 0;
    let mut group = Vec::new();
    while decisions.recv_many(&mut group, usize::MAX).await > 0 {
        if confirmed == 0 && live.mark_up() {
            live.wake_health.notify_one();
        }
        let at = unix_now();
        let events: Vec<Event> = group.iter().map(|d| event_of(live, d, at)).collect();
        let done: Vec<Done> = group
            .drain(..)
            .map(|d| Done {
                seq: d.seq,
                status: status_of(&d.outcome),
                code: d.code,
            })
            .collect();
        #[cfg(feature = "fault-injection")]
        let done = fault::drop_one_applied(live, done).await;
        core.send(&events).await?;
        core.store
            .finish(live.id, &done)
            .map_err(|e| e.to_string())?;
        confirmed += done.len();
    }
    Ok(confirmed)
}

fn status_of(outcome: &Outcome) -> DesiredStatus {
    match outcome {
        Outcome::Applied => DesiredStatus::OnRouter,
        Outcome::Failed { .. } | Outcome::RemoveFailed(_) => DesiredStatus::Failed,
        Outcome::Removed(_) => DesiredStatus::Removed,
    }
}

fn event_of(live: &LiveRouter, d: &Decided, at: i64) -> Event {
    let (router, code) = (live.id, d.code.clone());
    match &d.outcome {
        Outcome::Applied => Event::Applied { router, code, at },
        Outcome::Failed { reason, conflict } => Event::Failed {
            router,
            code,
            reason: reason.clone(),
            conflict: *conflict,
            at,
        },
        Outcome::Removed(reason) => Event::Removed {
            router,
            code,
            reason: *reason,
            at,
        },
        Outcome::RemoveFailed(reason) => Event::Failed {
            router,
            code,
            reason: format!("the router refused to remove it: {reason}"),
            conflict: false,
            at,
        },
    }
}
