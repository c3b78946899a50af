//! Reading a stopped peer's data directory: what it applied from its peer, and what is still
//! waiting in its outbox. This is how the fault suites judge "exactly once, in order": from
//! the receiver's records on disk, never from progress lines.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hotspot_link::outbox::Outbox;
use hotspot_link::{PeerId, RecordingInbox};
use hotspot_storage::{Db, Options, StorageError};

use super::payload::{APPLIED_TABLE, Note};

/// The database file in a peer's data directory.
pub const DB_FILE: &str = "peer.redb";

/// Where the database of the peer with data directory `dir` lives.
pub fn db_file(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// Opens the database of a stopped peer's data directory. A peer holds its database's lock
/// until its process is gone, and the callers reap a peer before reading it, so a database
/// still in use is an error, not something to wait for.
pub fn open_stopped(dir: &Path) -> anyhow::Result<Db> {
    let path = db_file(dir);
    anyhow::ensure!(path.is_file(), "no peer database at {}", path.display());
    match Db::open(&path, Options::default()) {
        Ok(db) => Ok(db),
        Err(StorageError::InUse) => {
            anyhow::bail!("{} is in use: stop the peer first", path.display())
        }
        Err(e) => Err(e).with_context(|| format!("opening {}", path.display())),
    }
}

/// The outbox towards `peer` in `db`, opened on its own (only to read it: not to push while a
/// link runs on `db`).
pub fn open_outbox(db: &Db, peer: &PeerId) -> anyhow::Result<Outbox> {
    Ok(Outbox::open(
        db,
        peer,
        u64::MAX,
        hotspot_shared::fleet::MAX_FRAME_LEN,
    )?)
}

/// What a peer applied from one sender, read from disk.
#[derive(Clone, Debug)]
pub struct AppliedLog {
    /// `(link sequence number, note)` in application order.
    pub records: Vec<(u64, Note)>,
    /// How many times an apply committed (a message applied twice raises it, not `records`).
    pub apply_count: u64,
    /// Notes still in this peer's own outbox towards that sender.
    pub outbox_len: u64,
}

impl AppliedLog {
    /// Reads the notes applied from `from` and the outbox towards it in `db`.
    pub fn read(db: &Db, from: &PeerId) -> anyhow::Result<AppliedLog> {
        let record = RecordingInbox::new(db, APPLIED_TABLE);
        let outbox = open_outbox(db, from)?;
        Ok(AppliedLog {
            records: record.messages::<Note>(from)?,
            apply_count: record.apply_count(from)?,
            outbox_len: outbox.len(),
        })
    }

    /// Reads a stopped peer's directory.
    pub fn read_dir(dir: &Path, from: &PeerId) -> anyhow::Result<AppliedLog> {
        AppliedLog::read(&open_stopped(dir)?, from)
    }

    /// Compares the log with "notes 1..=`expected` from `sender`, each once, in order".
    pub fn verify(&self, sender: &PeerId, expected: u64) -> Verdict {
        let name = sender.storage_key();
        let mut seen = vec![0u32; usize::try_from(expected).unwrap_or(0) + 1];
        let mut verdict = Verdict {
            expected,
            applied: self.records.len() as u64,
            apply_count: self.apply_count,
            ..Verdict::default()
        };
        let mut previous = 0;
        for (seq, note) in &self.records {
            if note.from != name {
                verdict.wrong_sender += 1;
            }
            if note.n != *seq || note.n <= previous {
                verdict.out_of_order += 1;
            }
            previous = note.n;
            match seen.get_mut(usize::try_from(note.n).unwrap_or(usize::MAX)) {
                Some(count) if note.n > 0 => *count += 1,
                _ => verdict.unexpected += 1,
            }
        }
        let twice: u64 = seen.iter().map(|&c| u64::from(c.saturating_sub(1))).sum();
        verdict.duplicates = twice + self.apply_count.saturating_sub(self.records.len() as u64);
        verdict.lost = seen.iter().skip(1).filter(|&&c| c == 0).count() as u64;
        verdict
    }
}

/// The outcome of [`AppliedLog::verify`]; [`Verdict::is_exact`] is the fault suites' verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub expected: u64,
    /// Distinct records.
    pub applied: u64,
    pub apply_count: u64,
    /// Numbers in `1..=expected` never applied.
    pub lost: u64,
    /// Extra applications: a number recorded more than once, or an apply that committed twice.
    pub duplicates: u64,
    /// Records whose note number is not their place in the sequence.
    pub out_of_order: u64,
    /// Records naming another sender.
    pub wrong_sender: u64,
    /// Numbers outside `1..=expected`.
    pub unexpected: u64,
}

impl Verdict {
    /// Every note exactly once, in order, from the right sender.
    pub fn is_exact(&self) -> bool {
        *self
            == Verdict {
                expected: self.expected,
                applied: self.expected,
                apply_count: self.expected,
                ..Verdict::default()
            }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected={} applied={} apply_count={} lost={} duplicates={} out_of_order={} wrong_sender={} unexpected={}",
            self.expected,
            self.applied,
            self.apply_count,
            self.lost,
            self.duplicates,
            self.out_of_order,
            self.wrong_sender,
            self.unexpected
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(ns: &[u64], apply_count: u64) -> AppliedLog {
        AppliedLog {
            records: ns
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    (
                        i as u64 + 1,
                        Note {
                            n,
                            from: "controller".into(),
                            sent_at_us: 0,
                        },
                    )
                })
                .collect(),
            apply_count,
            outbox_len: 0,
        }
    }

    #[test]
    fn exact_logs_pass_and_each_fault_is_named() {
        let c = PeerId::Controller;
        assert!(log(&[1, 2, 3], 3).verify(&c, 3).is_exact());
        let lost = log(&[1, 2], 2).verify(&c, 3);
        assert_eq!((lost.lost, lost.is_exact()), (1, false));
        let twice = log(&[1, 2, 2, 3], 4).verify(&c, 3);
        assert_eq!((twice.duplicates, twice.lost), (1, 0));
        assert!(twice.out_of_order > 0);
        let recounted = log(&[1, 2, 3], 4).verify(&c, 3);
        assert_eq!(recounted.duplicates, 1);
        let swapped = log(&[2, 1, 3], 3).verify(&c, 3);
        assert_eq!((swapped.out_of_order, swapped.lost), (2, 0));
        let other = log(&[1], 1).verify(&PeerId::Site("a".parse().expect("site")), 1);
        assert_eq!(other.wrong_sender, 1);
    }
}
