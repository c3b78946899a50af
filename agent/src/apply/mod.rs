//! The apply worker: one per router, working that router's queue in order.
//!
//! A worker takes up to `batch_size` items, runs them ([`batch::run`]), sends one event per
//! decided item with `send_batch` — durable, flushed, before anything else — and only then
//! takes those items off the queue and records them in the desired state. A crash between the
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
        let result = batch::run(&live.pool(), &items).await;
        let mut events = Vec::new();
        match &result.retry {
            Some(e) if means_down(e) && live.mark_down() => {
                tracing::warn!(router = %live.id, error = %e, "router down");
                events.push(Event::RouterDown {
                    router: live.id,
                    failure: failure_of(e),
                    at: unix_now(),
                });
            }
            Some(e) if means_down(e) => {}
            _ if !result.decided.is_empty() && live.mark_up() => live.wake_health.notify_one(),
            _ => {}
        }
        let at = unix_now();
        let done: Vec<Done> = result
            .decided
            .iter()
            .map(|d| {
                events.push(event_of(live, d, at));
                Done {
                    seq: d.seq,
                    code: d.code.clone(),
                    status: status_of(&d.outcome),
                }
            })
            .collect();
        #[cfg(feature = "fault-injection")]
        let done = fault::drop_one_applied(live, done).await;
        core.send(&events).await?;
        core.store
            .finish(live.id, &done)
            .map_err(|e| e.to_string())?;
        if !done.is_empty() {
            tracing::info!(
                router = %live.id,
                decided = done.len(),
                left = items.len() - done.len(),
                took = ?started.elapsed(),
                "apply batch"
            );
        }
        if let Some(e) = result.retry {
            tracing::info!(router = %live.id, error = %e, "apply batch incomplete; will retry");
            return Ok(Drained::Stalled);
        }
    }
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
