//! The client mapping table: which upstream socket carries which client's traffic.
//!
//! Like a NAT, the proxy gives each client address its own upstream socket, so the upstream
//! sees distinct peers and its replies can be told apart. The table is bounded (a full table
//! turns new clients away rather than growing) and forgets clients idle for longer than a
//! timeout. It does no IO and reads no clock: callers pass `now` in milliseconds, so expiry is
//! tested without sleeping. Activity is an atomic shared with the reply task, because replies
//! keep a mapping alive too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// When a mapping last carried traffic, in milliseconds on the proxy's clock.
#[derive(Debug)]
pub(crate) struct Activity(AtomicU64);

impl Activity {
    pub(crate) fn new(now_ms: u64) -> Arc<Activity> {
        Arc::new(Activity(AtomicU64::new(now_ms)))
    }

    /// Records traffic at `now_ms` (never moves backwards).
    pub(crate) fn touch(&self, now_ms: u64) {
        self.0.fetch_max(now_ms, Ordering::Relaxed);
    }

    fn last(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The table is at its bound.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

struct Entry<T> {
    value: T,
    activity: Arc<Activity>,
}

/// Bounded map from client address to its mapping `T`.
pub(crate) struct NatTable<T> {
    entries: HashMap<SocketAddr, Entry<T>>,
    capacity: usize,
}

impl<T> NatTable<T> {
    pub(crate) fn new(capacity: usize) -> NatTable<T> {
        NatTable {
            entries: HashMap::new(),
            capacity,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    /// The mapping of `client`, marked active at `now_ms`.
    pub(crate) fn get(&self, client: &SocketAddr, now_ms: u64) -> Option<&T> {
        let entry = self.entries.get(client)?;
        entry.activity.touch(now_ms);
        Some(&entry.value)
    }

    /// Adds a mapping for a client that has none.
    pub(crate) fn insert(
        &mut self,
        client: SocketAddr,
        value: T,
        activity: Arc<Activity>,
    ) -> Result<&T, Full> {
        if self.is_full() && !self.entries.contains_key(&client) {
            return Err(Full);
        }
        let entry = self
            .entries
            .entry(client)
            .insert_entry(Entry { value, activity });
        Ok(&entry.into_mut().value)
    }

    /// Removes and returns every mapping idle for at least `idle_ms` at `now_ms`.
    pub(crate) fn expire(&mut self, now_ms: u64, idle_ms: u64) -> Vec<(SocketAddr, T)> {
        let stale: Vec<SocketAddr> = self
            .entries
            .iter()
            .filter(|(_, e)| now_ms.saturating_sub(e.activity.last()) >= idle_ms)
            .map(|(addr, _)| *addr)
            .collect();
        stale
            .into_iter()
            .filter_map(|addr| self.entries.remove(&addr).map(|e| (addr, e.value)))
            .collect()
    }

    /// Removes and returns every mapping.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (SocketAddr, T)> + '_ {
        self.entries.drain().map(|(addr, e)| (addr, e.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn full_table_turns_new_clients_away_but_keeps_known_ones() {
        let mut t = NatTable::new(2);
        assert!(t.insert(addr(1), 'a', Activity::new(0)).is_ok());
        assert!(t.insert(addr(2), 'b', Activity::new(0)).is_ok());
        assert_eq!(t.insert(addr(3), 'c', Activity::new(0)).err(), Some(Full));
        assert_eq!(t.get(&addr(1), 0), Some(&'a'));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn idle_mappings_expire_and_traffic_keeps_them() {
        let mut t = NatTable::new(8);
        let a_activity = Activity::new(0);
        t.insert(addr(1), 'a', a_activity.clone()).ok();
        t.insert(addr(2), 'b', Activity::new(0)).ok();
        assert!(t.expire(999, 1000).is_empty());
        // Client 1 sends at 900; a reply for it (touching the shared activity) comes at 1500.
        t.get(&addr(1), 900);
        a_activity.touch(1500);
        let gone = t.expire(1000, 1000);
        assert_eq!(gone, vec![(addr(2), 'b')]);
        assert!(t.expire(2499, 1000).is_empty());
        assert_eq!(t.expire(2500, 1000), vec![(addr(1), 'a')]);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn activity_never_moves_backwards() {
        let a = Activity::new(10);
        a.touch(5);
        assert_eq!(a.last(), 10);
        a.touch(20);
        assert_eq!(a.last(), 20);
    }
}
