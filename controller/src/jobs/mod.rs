//! Background jobs: usage sync, health, and the daily reconciliation report.
//!
//! One scheduler task ([`spawn`]) wakes every `tick` and asks the pure [`Schedule`] what is
//! due at the injected clock's time ([`crate::app::Clock`]): tests move the clock instead of
//! sleeping through hours. Jobs run one after another in that task, so a slow reconciliation
//! delays the next health round instead of overlapping it; every request to an agent inside a
//! job has a deadline. The task stops when the shutdown signal flips.
//!
//! - [`routine`]: usage sync and health (every `jobs.usage_sync_secs` / `jobs.health_secs`);
//! - [`reconcile`]: the report at `jobs.reconcile_at` (local to `jobs.utc_offset`) for the day
//!   that ended, with [`drift`] found and repaired; [`csv`] renders a report.

pub mod csv;
pub mod drift;
pub mod reconcile;
pub mod routine;
pub mod schedule;

use std::time::Duration;

use hotspot_link::LinkError;
use hotspot_shared::domain::MoneyError;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use schedule::{Job, Schedule};

use crate::app::AppState;
use crate::fleet::Presence;
use crate::store::StoreError;

/// How often the scheduler looks at the clock in production.
pub const DEFAULT_TICK: Duration = Duration::from_secs(1);

/// Why a reconciliation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("queueing re-sent vouchers: {0}")]
    Link(#[from] LinkError),
    #[error("adding up revenue: {0}")]
    Money(#[from] MoneyError),
}

/// Runs one job now.
pub async fn run_job(state: &AppState, presence: &Presence, job: Job) {
    match job {
        Job::UsageSync => {
            let asked = routine::usage_sync(state).await;
            tracing::debug!(asked, "usage sync requested");
        }
        Job::Health => routine::health(state, presence).await,
        Job::Reconcile { date } => {
            if let Err(e) = reconcile::run(state, date).await {
                tracing::error!(%date, "reconciliation failed: {e}");
            }
        }
    }
}

/// Starts the scheduler; it stops when `shutdown` becomes `true` (or its sender is dropped).
pub fn spawn(
    state: AppState,
    presence: Presence,
    tick: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut schedule = Schedule::new(&state.config.jobs, state.now());
        let mut ticks = tokio::time::interval(tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
            for job in schedule.due(&state.config.jobs, state.now()) {
                tracing::debug!(?job, "running job");
                run_job(&state, &presence, job).await;
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    })
}
