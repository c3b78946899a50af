//! Counters of what the proxy did to the traffic, per direction.
//!
//! Tests assert on these rather than on timing: "30 % dropped" is checked as a count, and
//! every datagram is accounted for by the identity
//! `received + duplicated == forwarded + dropped + overflow + send_errors + (still pending)`.
//! The live counters are relaxed atomics bumped on the hot path; [`ProxyStats`] is a plain
//! snapshot that can be compared, printed and serialised.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use super::faults::Leg;

/// Live counters of one leg.
#[derive(Debug, Default)]
pub(crate) struct LegCounters {
    pub received: AtomicU64,
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
    pub duplicated: AtomicU64,
    pub delayed: AtomicU64,
    pub reordered: AtomicU64,
    pub overflow: AtomicU64,
    pub send_errors: AtomicU64,
}

/// Live counters of the whole proxy.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    legs: [LegCounters; 2],
    /// Open client mappings.
    pub mappings: AtomicUsize,
    pub mappings_rejected: AtomicU64,
    pub mappings_expired: AtomicU64,
    /// Datagram copies waiting in the delay queue (also the queue's bound check).
    pub pending_delayed: AtomicUsize,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn leg(&self, leg: Leg) -> &LegCounters {
        &self.legs[leg.index()]
    }

    pub(crate) fn snapshot(&self) -> ProxyStats {
        ProxyStats {
            to_upstream: self.leg(Leg::ToUpstream).snapshot(),
            to_client: self.leg(Leg::ToClient).snapshot(),
            mappings: self.mappings.load(Ordering::Relaxed),
            mappings_rejected: self.mappings_rejected.load(Ordering::Relaxed),
            mappings_expired: self.mappings_expired.load(Ordering::Relaxed),
            pending_delayed: self.pending_delayed.load(Ordering::Relaxed),
        }
    }
}

impl LegCounters {
    fn snapshot(&self) -> DirectionStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DirectionStats {
            received: get(&self.received),
            forwarded: get(&self.forwarded),
            dropped: get(&self.dropped),
            duplicated: get(&self.duplicated),
            delayed: get(&self.delayed),
            reordered: get(&self.reordered),
            overflow: get(&self.overflow),
            send_errors: get(&self.send_errors),
        }
    }
}

/// What happened to the datagrams going one way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirectionStats {
    /// Datagrams that arrived at the proxy.
    pub received: u64,
    /// Datagram copies sent on (a duplicated datagram counts twice).
    pub forwarded: u64,
    /// Datagrams lost to a fault (blackhole or random drop).
    pub dropped: u64,
    /// Datagrams that were sent a second time.
    pub duplicated: u64,
    /// Copies that went through the delay queue rather than straight out.
    pub delayed: u64,
    /// Datagrams held back by the reorder fault.
    pub reordered: u64,
    /// Copies lost because a bound was hit: the delay queue or the mapping table was full, or
    /// the datagram was over `max_datagram` (a congested link drops too).
    pub overflow: u64,
    /// Copies the operating system refused to send (for example the upstream port was closed).
    pub send_errors: u64,
}

impl DirectionStats {
    /// Copies whose fate is settled: sent, dropped, overflowed or failed.
    pub fn settled(&self) -> u64 {
        self.forwarded + self.dropped + self.overflow + self.send_errors
    }

    /// Copies that entered the proxy: every received datagram plus every duplicate made.
    /// Equals [`settled`](Self::settled) once nothing is pending in the delay queue.
    pub fn entered(&self) -> u64 {
        self.received + self.duplicated
    }
}

/// A snapshot of the proxy's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProxyStats {
    /// Client → upstream.
    pub to_upstream: DirectionStats,
    /// Upstream → client.
    pub to_client: DirectionStats,
    /// Client mappings open now.
    pub mappings: usize,
    /// New clients turned away because the mapping table was full or no socket could be
    /// opened for them.
    pub mappings_rejected: u64,
    /// Mappings closed after being idle.
    pub mappings_expired: u64,
    /// Copies waiting in the delay queue now.
    pub pending_delayed: usize,
}
