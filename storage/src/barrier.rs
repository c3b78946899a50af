//! Group commit: many writers, few fsyncs.
//!
//! Every [`crate::Db::write`] commits with `Durability::None` and then counts itself in
//! `committed`. A barrier notes `committed` before it starts, makes one empty commit with
//! `Durability::Immediate` (redb writes the pages of every earlier non-durable commit and syncs
//! the file), and then marks everything up to the noted count as covered. One barrier runs at a
//! time; a caller whose own commits are already covered when its turn comes returns at once, so
//! callers who arrive while a barrier runs share the next one.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Non-durable commits that returned.
    committed: AtomicU64,
    /// Commits known to be durable.
    covered: AtomicU64,
    /// Durable commits made (for tests and metrics).
    barriers: AtomicU64,
}

impl Counters {
    pub(crate) fn committed(&self) {
        self.committed.fetch_add(1, Ordering::SeqCst);
    }

    /// The ticket of a caller: every commit it saw return.
    pub(crate) fn ticket(&self) -> u64 {
        self.committed.load(Ordering::SeqCst)
    }

    pub(crate) fn is_covered(&self, ticket: u64) -> bool {
        self.covered.load(Ordering::SeqCst) >= ticket
    }

    /// Runs `sync` (the durable commit) unless `ticket` is covered; the caller holds the turn.
    pub(crate) fn cover<E>(
        &self,
        ticket: u64,
        sync: impl FnOnce() -> Result<(), E>,
    ) -> Result<(), E> {
        if self.is_covered(ticket) {
            return Ok(());
        }
        let upto = self.committed.load(Ordering::SeqCst);
        sync()?;
        self.barriers.fetch_add(1, Ordering::Relaxed);
        self.covered.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    pub(crate) fn barriers(&self) -> u64 {
        self.barriers.load(Ordering::Relaxed)
    }
}
