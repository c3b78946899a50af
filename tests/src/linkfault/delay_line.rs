//! The delay queue: datagrams that must wait before they are sent.
//!
//! One task owns a min-heap ordered by due time and sleeps until the earliest entry, so a
//! delayed datagram never blocks the relay loops and thousands of them cost one timer, not
//! thousands of tasks. Each datagram's due time is drawn independently, so when jitter exceeds
//! the gap between datagrams they leave in a different order than they came: reordering falls
//! out of the heap, and equal due times leave first-in first-out (a fixed delay alone never
//! reorders). The queue is bounded by a count shared with the stats; a datagram that finds it
//! full is dropped and counted as overflow, like a congested link. On shutdown whatever is
//! still waiting is discarded (counted as dropped), as a cut link would.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::faults::Leg;
use super::shutdown;
use super::stats::{Counters, bump};

/// Where a datagram leaves the proxy: a connected upstream socket (`target: None`) or the
/// listening socket towards one client.
#[derive(Clone, Debug)]
pub(crate) struct Outlet {
    pub socket: Arc<UdpSocket>,
    pub target: Option<SocketAddr>,
}

impl Outlet {
    pub(crate) async fn send(&self, payload: &[u8]) -> io::Result<usize> {
        match self.target {
            Some(to) => self.socket.send_to(payload, to).await,
            None => self.socket.send(payload).await,
        }
    }
}

/// Sends `payload` now and counts the outcome on `leg`.
pub(crate) async fn send_now(counters: &Counters, leg: Leg, outlet: &Outlet, payload: &[u8]) {
    match outlet.send(payload).await {
        Ok(_) => bump(&counters.leg(leg).forwarded),
        Err(e) => {
            bump(&counters.leg(leg).send_errors);
            tracing::debug!(?leg, error = %e, "linkfault: send failed");
        }
    }
}

struct Delayed {
    due: Instant,
    seq: u64,
    leg: Leg,
    outlet: Outlet,
    payload: Vec<u8>,
}

// The heap orders by (due, seq) only; BinaryHeap is a max-heap, so the order is reversed to pop
// the earliest first.
impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// The sending side of the delay queue, shared by every relay task.
pub(crate) struct DelayLine {
    tx: mpsc::Sender<Delayed>,
    counters: Arc<Counters>,
    capacity: usize,
    seq: AtomicU64,
}

impl DelayLine {
    /// Makes the queue and spawns the task that drains it. `capacity` bounds the copies
    /// waiting at any time.
    pub(crate) fn start(
        capacity: usize,
        counters: Arc<Counters>,
        shutdown: watch::Receiver<bool>,
    ) -> (DelayLine, tokio::task::JoinHandle<()>) {
        // The pending count below keeps the channel from filling; its own bound is a backstop.
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let task = tokio::spawn(run(rx, counters.clone(), shutdown));
        let line = DelayLine {
            tx,
            counters,
            capacity,
            seq: AtomicU64::new(0),
        };
        (line, task)
    }

    /// Queues a copy of `payload` to leave through `outlet` at `due`. Returns false, having
    /// queued nothing, when the queue is full or shutting down.
    pub(crate) fn push(&self, leg: Leg, due: Instant, outlet: Outlet, payload: &[u8]) -> bool {
        let pending = &self.counters.pending_delayed;
        let reserved = pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok();
        if !reserved {
            return false;
        }
        let item = Delayed {
            due,
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            leg,
            outlet,
            payload: payload.to_vec(),
        };
        if self.tx.try_send(item).is_err() {
            pending.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }
}

async fn run(
    mut rx: mpsc::Receiver<Delayed>,
    counters: Arc<Counters>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut heap: BinaryHeap<Delayed> = BinaryHeap::new();
    loop {
        let next_due = heap.peek().map(|d| d.due);
        tokio::select! {
            biased;
            () = shutdown::wait(&mut shutdown) => break,
            // Due sends come before new arrivals so that a flood cannot starve the timer.
            () = sleep_until(next_due) => {
                let now = Instant::now();
                while heap.peek().is_some_and(|d| d.due <= now) {
                    let Some(d) = heap.pop() else { break };
                    send_now(&counters, d.leg, &d.outlet, &d.payload).await;
                    counters.pending_delayed.fetch_sub(1, Ordering::AcqRel);
                }
            }
            item = rx.recv() => match item {
                Some(d) => heap.push(d),
                None => break,
            },
        }
    }
    // What is still waiting is lost, as on a cut link; count it as dropped so that the stats
    // identity still holds after shutdown.
    rx.close();
    let mut discarded = 0;
    while let Some(d) = heap.pop().or_else(|| rx.try_recv().ok()) {
        bump(&counters.leg(d.leg).dropped);
        discarded += 1;
    }
    counters
        .pending_delayed
        .fetch_sub(discarded, Ordering::AcqRel);
    if discarded > 0 {
        tracing::debug!(
            discarded,
            "linkfault: delayed datagrams discarded at shutdown"
        );
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}
