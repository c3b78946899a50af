//! A runtime watchdog: turns a frozen process into a crash that the service manager restarts.
//!
//! sled 0.34.7 can deadlock inside a transaction under load (a transaction holding the segment
//! allocator waits for a file truncation queued on sled's own thread pool, whose jobs wait for
//! that allocator; fixed upstream in spacejam/sled#1269, never released). Both tokio workers
//! then block for ever: the QUIC endpoint, HTTP and every job stop, but the process stays
//! alive, so nothing restarts it. Restarting is safe — nothing acknowledged is lost (the
//! SIGKILL fault tests prove it) — so the right answer to a stall is to abort.
//!
//! A task on the runtime ticks a counter every second; a plain OS thread (outside the runtime,
//! so a blocked runtime cannot block it) checks that the counter moves, and aborts the process
//! when it has not moved for `stall`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the runtime task ticks.
const TICK: Duration = Duration::from_secs(1);

/// Starts the watchdog on the current tokio runtime; the process aborts if the runtime makes
/// no progress for `stall` (at least a few ticks).
pub fn spawn(stall: Duration) {
    let ticks = Arc::new(AtomicU64::new(0));
    let counter = ticks.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        loop {
            interval.tick().await;
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let stall = stall.max(TICK * 3);
    let spawned = std::thread::Builder::new()
        .name("hotspot-watchdog".into())
        .spawn(move || {
            watch(&ticks, stall, |waited| {
                tracing::error!(
                    secs = waited.as_secs(),
                    "the runtime made no progress: aborting so the service restarts"
                );
                eprintln!(
                    "hotspot watchdog: no progress for {} s, aborting so the service restarts",
                    waited.as_secs()
                );
                std::process::abort();
            })
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the watchdog thread: {e}");
    }
}

/// Checks `ticks` every `stall / 4`; calls `on_stall` once it has not moved for `stall`.
fn watch(ticks: &AtomicU64, stall: Duration, on_stall: impl FnOnce(Duration)) {
    let step = stall / 4;
    let mut last = ticks.load(Ordering::Relaxed);
    let mut still = Duration::ZERO;
    loop {
        std::thread::sleep(step);
        let now = ticks.load(Ordering::Relaxed);
        if now == last {
            still += step;
            if still >= stall {
                on_stall(still);
                return;
            }
        } else {
            last = now;
            still = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_that_stops_moving_is_reported_and_a_moving_one_is_not() {
        let ticks = Arc::new(AtomicU64::new(0));
        let moving = ticks.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop_ticking = stop.clone();
        let ticker = std::thread::spawn(move || {
            while !stop_ticking.load(Ordering::Relaxed) {
                moving.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let stalled_after = Arc::new(std::sync::Mutex::new(None));
        let record = stalled_after.clone();
        let started = std::time::Instant::now();
        let watcher = {
            let ticks = ticks.clone();
            std::thread::spawn(move || {
                watch(&ticks, Duration::from_millis(200), |_| {
                    *record.lock().expect("lock") = Some(started.elapsed());
                })
            })
        };
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            stalled_after.lock().expect("lock").is_none(),
            "no stall while ticking"
        );
        stop.store(true, Ordering::Relaxed);
        ticker.join().expect("ticker");
        watcher.join().expect("watcher returns after reporting");
        let at = stalled_after
            .lock()
            .expect("lock")
            .expect("the stall was reported");
        assert!(
            at >= Duration::from_millis(500) + Duration::from_millis(200),
            "reported only after the counter stopped: {at:?}"
        );
    }
}
