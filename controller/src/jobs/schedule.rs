//! When each job is due: a pure function of the configured intervals and the time now.
//!
//! No sleeping and no clock in here, so the schedule is tested by handing it times. A clock
//! that jumps (suspend, NTP step) runs each job once, not once per missed interval: the next
//! run is planned from the later of the planned time and now.

use time::{Date, OffsetDateTime};

use crate::config::JobsConfig;

/// A job the scheduler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Ask online sites to read voucher usage now.
    UsageSync,
    /// Collect routers' health; refresh site directories and metrics.
    Health,
    /// The daily reconciliation report for `date` (a local date, in `jobs.utc_offset`).
    Reconcile { date: Date },
}

/// The next time of each job, in Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    usage_every: i64,
    health_every: i64,
    next_usage: i64,
    next_health: i64,
    next_reconcile: i64,
}

fn odt(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn secs(n: std::num::NonZeroU64) -> i64 {
    i64::try_from(n.get()).unwrap_or(i64::MAX / 4)
}

/// The local date whose report is made at `at` (the day that just ended).
pub fn report_date(jobs: &JobsConfig, at: i64) -> Date {
    let local = odt(at).to_offset(jobs.utc_offset.0).date();
    local.previous_day().unwrap_or(local)
}

/// `[start, end)` of local `date` in Unix seconds.
pub fn day_bounds(jobs: &JobsConfig, date: Date) -> (i64, i64) {
    let start = date
        .midnight()
        .assume_offset(jobs.utc_offset.0)
        .unix_timestamp();
    (start, start + 86_400)
}

/// Today's local date at `now`.
pub fn local_date(jobs: &JobsConfig, now: i64) -> Date {
    odt(now).to_offset(jobs.utc_offset.0).date()
}

impl Schedule {
    /// The first runs after `now`: each interval from now, the report at its next time.
    pub fn new(jobs: &JobsConfig, now: i64) -> Schedule {
        let (usage_every, health_every) = (secs(jobs.usage_sync_secs), secs(jobs.health_secs));
        Schedule {
            usage_every,
            health_every,
            next_usage: now.saturating_add(usage_every),
            next_health: now.saturating_add(health_every),
            next_reconcile: jobs.next_reconcile(odt(now)).unix_timestamp(),
        }
    }

    /// The jobs due at `now`, in the order to run them; plans their next runs.
    pub fn due(&mut self, jobs: &JobsConfig, now: i64) -> Vec<Job> {
        let mut due = Vec::new();
        let advance = |next: &mut i64, every: i64| {
            *next = next.saturating_add(every);
            if *next <= now {
                *next = now.saturating_add(every);
            }
        };
        if now >= self.next_usage {
            due.push(Job::UsageSync);
            advance(&mut self.next_usage, self.usage_every);
        }
        if now >= self.next_health {
            due.push(Job::Health);
            advance(&mut self.next_health, self.health_every);
        }
        if now >= self.next_reconcile {
            due.push(Job::Reconcile {
                date: report_date(jobs, self.next_reconcile),
            });
            self.next_reconcile = jobs.next_reconcile(odt(now)).unix_timestamp();
        }
        due
    }

    /// When the report runs next (Unix seconds).
    pub fn next_reconcile(&self) -> i64 {
        self.next_reconcile
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Offset, TimeOfDay};
    use std::num::NonZeroU64;
    use time::macros::{date, datetime, offset, time};

    fn jobs() -> JobsConfig {
        JobsConfig {
            usage_sync_secs: NonZeroU64::new(300).unwrap(),
            health_secs: NonZeroU64::new(60).unwrap(),
            reconcile_at: TimeOfDay(time!(02:00)),
            utc_offset: Offset(offset!(+3)),
        }
    }

    #[test]
    fn intervals_fire_once_per_period_and_skip_missed_ones() {
        let j = jobs();
        let t0 = datetime!(2026-05-01 12:00 UTC).unix_timestamp();
        let mut s = Schedule::new(&j, t0);
        assert!(s.due(&j, t0 + 59).is_empty());
        assert_eq!(s.due(&j, t0 + 60), [Job::Health]);
        assert!(s.due(&j, t0 + 61).is_empty());
        assert_eq!(s.due(&j, t0 + 300), [Job::UsageSync, Job::Health]);
        // A jump of an hour runs each once, then plans from now.
        assert_eq!(s.due(&j, t0 + 3900), [Job::UsageSync, Job::Health]);
        assert!(s.due(&j, t0 + 3959).is_empty());
        assert_eq!(s.due(&j, t0 + 3960), [Job::Health]);
    }

    #[test]
    fn the_report_runs_at_local_time_for_the_day_that_ended() {
        let j = jobs();
        // 02:00 at +03:00 is 23:00 UTC the day before.
        let before = datetime!(2026-05-01 22:59:59 UTC).unix_timestamp();
        let mut s = Schedule::new(&j, before);
        assert_eq!(s.next_reconcile(), before + 1);
        assert!(!s.due(&j, before).contains(&Job::Reconcile {
            date: date!(2026 - 05 - 01)
        }));
        let due = s.due(&j, before + 1);
        assert!(due.contains(&Job::Reconcile {
            date: date!(2026 - 05 - 01)
        }));
        assert_eq!(s.next_reconcile(), before + 1 + 86_400);
        let (start, end) = day_bounds(&j, date!(2026 - 05 - 01));
        assert_eq!(start, datetime!(2026-04-30 21:00 UTC).unix_timestamp());
        assert_eq!(end - start, 86_400);
        assert_eq!(local_date(&j, before + 1), date!(2026 - 05 - 02));
    }
}
