//! `hotspot-storage`: the one home of the embedded engine.
//!
//! Every durable byte of the agent, the link and the controller's ledger goes through this crate,
//! so the engine is opened, committed and made durable in one place, and nothing outside names it.
//! The engine is [redb]: sled 0.34.7, used before, ends its `flush()` in `sync_file_range`, which
//! is no durability barrier, and lost acknowledged writes in 5 of 5 power cuts (DESIGN.md,
//! "Durability").
//!
//! The shape:
//! - [`Db`] opens a database file (or, for tests, any [`redb::StorageBackend`], such as
//!   [`powercut::PowerCutDisk`]). Tables are named by strings and hold bytes; callers keep their
//!   own encodings (big-endian integers for keys that must sort numerically).
//! - [`Db::write`] runs a closure in one write transaction and commits it **without** making it
//!   durable (redb's `Durability::None`). Readers in this process see it at once; a crash may take
//!   it away. [`Db::read`] is a consistent snapshot.
//! - [`Db::barrier`] is the group commit: one durable commit (`Durability::Immediate`, an fsync)
//!   covers every commit that returned before the call, and callers that ask while a barrier runs
//!   share the next one. The rule of the whole project: no acknowledgement (a QUIC ack, an HTTP
//!   2xx, an "applied" event, a CLI success line) leaves the process before the barrier that
//!   covers its write.
//! - [`powercut`]: a backend that keeps every byte written since the last sync apart and drops
//!   it on command — what a power cut does — so tests can prove the rule above.
//! - [`backup`] and [`control`]: a data directory's database snapshot and files in one archive,
//!   taken beside a running process through its backup socket, and restored.

pub mod backup;
mod barrier;
pub mod control;
mod db;
mod error;
pub mod powercut;
mod tx;

pub use db::{Db, Options};
pub use error::StorageError;
pub use tx::{Entries, Flow, ReadTx, WriteTx};

/// A key range over one table: `(lower, upper)` bounds of byte keys.
pub type KeyBounds<'a> = (std::ops::Bound<&'a [u8]>, std::ops::Bound<&'a [u8]>);

/// The least key above every key starting with `prefix` (`None`: there is none, the prefix is
/// all `0xff`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The bounds of every key starting with `prefix`; `end` is [`prefix_end`] of it.
pub fn prefix_bounds<'a>(prefix: &'a [u8], end: &'a Option<Vec<u8>>) -> KeyBounds<'a> {
    let upper = match end {
        Some(e) => std::ops::Bound::Excluded(e.as_slice()),
        None => std::ops::Bound::Unbounded,
    };
    (std::ops::Bound::Included(prefix), upper)
}

/// Every key of a table.
pub const ALL: KeyBounds<'static> = (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded);

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_is_the_least_key_above_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
