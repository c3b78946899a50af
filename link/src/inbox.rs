//! The receiving side: apply each message exactly once, in order, per peer.
//!
//! `link/inbox` maps a peer's storage key to `epoch ‖ seq`: the peer's numbering (its outbox
//! epoch, see [`hotspot_shared::fleet::Numbering`]) and the highest sequence number applied
//! from it in that epoch. When the peer's Hello names another epoch, the record moves to it at
//! the epoch's base ([`Inbox::enter_epoch`]). The
//! application's [`Inbound::apply`] runs inside the write transaction that records the sequence
//! number: the effect and "seen seq N" commit together or not at all. So:
//! - `seq <= last`: a redelivery; nothing is applied, it is acked again;
//! - `seq == last + 1`: applied and recorded;
//! - `seq > last + 1`: a gap, which the protocol never produces: the connection is closed.
//!
//! The check runs inside the transaction (write transactions run one at a time), so even two
//! connections of one peer racing (an old one not yet closed and its replacement) cannot apply
//! a message twice. What one read of the connection delivers is applied in **one** transaction
//! ([`Inbox::offer_batch`]); the caller then waits for one barrier and only then acknowledges.

use hotspot_storage::{Db, StorageError, WriteTx};

use crate::error::{ApplyError, LinkError};
use crate::outbox::seq_of;
use crate::peer::PeerId;

/// The table of every peer's position.
pub(crate) const SEQS: &str = "link/inbox";

/// The application's handler for inbound messages of type `D`.
///
/// `apply` writes only through `tx`; an `Err` rolls its writes back with the sequence record,
/// so it must not cause effects outside the database (queue work in a table and act on it
/// after the transaction instead).
pub trait Inbound<D>: Send + Sync + 'static {
    /// Applies message `seq` from `peer`.
    fn apply(
        &self,
        tx: &mut WriteTx<'_>,
        peer: &PeerId,
        seq: u64,
        body: &D,
    ) -> Result<(), ApplyError>;

    /// Called once after each offered batch, when its transaction has committed or rolled back
    /// (committed is not yet durable): the place to wake whoever acts on what `apply` queued.
    /// The batch may have applied nothing, so a wake-up must be harmless when spurious.
    fn committed(&self) {}
}

/// Why a message was not applied.
#[derive(Debug)]
pub(crate) enum Refused {
    Gap { last: u64, got: u64 },
    App { seq: u64, reason: String },
    Storage(LinkError),
}

/// How far one transaction over a batch got.
enum Stop {
    /// A gap at this message; the ones before it are applied.
    Gap {
        last: u64,
        got: u64,
    },
    /// The application refused message `index`: nothing of the batch is applied.
    App {
        index: usize,
        reason: String,
    },
    Storage(StorageError),
    Bad(LinkError),
}

impl From<StorageError> for Stop {
    fn from(e: StorageError) -> Self {
        Stop::Storage(e)
    }
}

/// The link's side of receiving: the sequence table plus the application hook.
pub(crate) struct Inbox<D> {
    db: Db,
    app: std::sync::Arc<dyn Inbound<D>>,
}

impl<D: 'static> Inbox<D> {
    pub(crate) fn open(db: &Db, app: std::sync::Arc<dyn Inbound<D>>) -> Self {
        Inbox {
            db: db.clone(),
            app,
        }
    }

    /// Highest sequence number applied from `peer` in its current epoch (0 if none).
    pub(crate) fn last_applied(&self, peer: &PeerId) -> Result<u64, LinkError> {
        Ok(self.position(peer)?.seq)
    }

    /// The peer's epoch this side counts in, and the highest number applied in it.
    pub(crate) fn position(&self, peer: &PeerId) -> Result<Position, LinkError> {
        Position::of(self.db.read()?.get(SEQS, peer.storage_key().as_bytes())?)
    }

    /// The peer numbers in `epoch` from `base + 1` now: unless already there, the record moves
    /// to it (committed; the barrier before the next Hello or ack covers it). Returns the
    /// position after.
    pub(crate) fn enter_epoch(
        &self,
        peer: &PeerId,
        epoch: u64,
        base: u64,
    ) -> Result<Position, LinkError> {
        let key = peer.storage_key();
        self.db.write(|tx| {
            let now = Position::of(tx.get(SEQS, key.as_bytes())?)?;
            if now.epoch == epoch {
                return Ok(now);
            }
            let moved = Position { epoch, seq: base };
            tx.insert(SEQS, key.as_bytes(), &moved.bytes())?;
            Ok::<_, LinkError>(moved)
        })
    }

    /// Applies, in one transaction, each message of `batch` that is next from `peer`
    /// (redeliveries are skipped). A gap applies what comes before it and is refused; a message
    /// the application refuses is refused after everything before it is applied.
    pub(crate) fn offer_batch(&self, peer: &PeerId, batch: &[(u64, D)]) -> Result<(), Refused> {
        let result = self.offer_all(peer, batch);
        self.app.committed();
        result
    }

    fn offer_all(&self, peer: &PeerId, batch: &[(u64, D)]) -> Result<(), Refused> {
        match self.apply_all(peer, batch) {
            Ok(None) => Ok(()),
            Ok(Some((last, got))) => Err(Refused::Gap { last, got }),
            Err(Stop::App { index, reason }) => {
                // Roll forward the messages before the refused one, then report it.
                let seq = batch.get(index).map_or(0, |(s, _)| *s);
                match self.apply_all(peer, &batch[..index]) {
                    Ok(_) => Err(Refused::App { seq, reason }),
                    Err(stop) => Err(refused(stop)),
                }
            }
            Err(stop) => Err(refused(stop)),
        }
    }

    /// `Ok(Some((last, got)))`: stopped at a gap, the messages before it committed.
    fn apply_all(&self, peer: &PeerId, batch: &[(u64, D)]) -> Result<Option<(u64, u64)>, Stop> {
        if batch.is_empty() {
            return Ok(None);
        }
        let key = peer.storage_key();
        let outcome = self.db.write(|tx| {
            let position = Position::of(tx.get(SEQS, key.as_bytes())?).map_err(Stop::Bad)?;
            let mut last = position.seq;
            let start = last;
            let mut gap = None;
            for (index, (seq, body)) in batch.iter().enumerate() {
                if *seq <= last {
                    continue;
                }
                if last.checked_add(1) != Some(*seq) {
                    gap = Some(Stop::Gap { last, got: *seq });
                    break;
                }
                match self.app.apply(tx, peer, *seq, body) {
                    Ok(()) => last = *seq,
                    Err(ApplyError::Storage(e)) => return Err(Stop::Storage(e)),
                    Err(ApplyError::Failed(reason)) => return Err(Stop::App { index, reason }),
                }
            }
            if last != start {
                let moved = Position {
                    epoch: position.epoch,
                    seq: last,
                };
                tx.insert(SEQS, key.as_bytes(), &moved.bytes())?;
            }
            Ok(gap)
        })?;
        match outcome {
            None => Ok(None),
            Some(Stop::Gap { last, got }) => Ok(Some((last, got))),
            Some(other) => Err(other),
        }
    }

    /// Makes every applied message durable; call before acknowledging.
    pub(crate) async fn flush(&self) -> Result<(), LinkError> {
        self.db.barrier().await?;
        Ok(())
    }
}

/// Where a peer's stream stands on this side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// The peer's epoch (0: none yet).
    pub epoch: u64,
    pub seq: u64,
}

impl Position {
    fn of(stored: Option<Vec<u8>>) -> Result<Position, LinkError> {
        match stored.as_deref() {
            None => Ok(Position { epoch: 0, seq: 0 }),
            // A record from before epochs.
            Some(seq) if seq.len() == 8 => Ok(Position {
                epoch: 0,
                seq: seq_of(seq)?,
            }),
            Some(both) if both.len() == 16 => Ok(Position {
                epoch: seq_of(&both[..8])?,
                seq: seq_of(&both[8..])?,
            }),
            Some(other) => Err(LinkError::Encode(format!(
                "stored inbox position has {} bytes, not 16",
                other.len()
            ))),
        }
    }

    fn bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.epoch.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }
}

fn refused(stop: Stop) -> Refused {
    match stop {
        Stop::Gap { last, got } => Refused::Gap { last, got },
        Stop::App { reason, .. } => Refused::App { seq: 0, reason },
        Stop::Storage(e) => Refused::Storage(e.into()),
        Stop::Bad(e) => Refused::Storage(e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::outbox::seq_key;
    use crate::recording::RecordingInbox;

    /// Writes its mark, then fails for bodies it dislikes: the write must roll back.
    struct Picky;

    impl Inbound<String> for Picky {
        fn apply(
            &self,
            tx: &mut WriteTx<'_>,
            _: &PeerId,
            seq: u64,
            body: &String,
        ) -> Result<(), ApplyError> {
            tx.insert("picky", &seq_key(seq), body.as_bytes())?;
            if body == "bad" {
                return Err(ApplyError::Failed("cannot apply 'bad'".into()));
            }
            Ok(())
        }
    }

    fn db(dir: &tempfile::TempDir) -> Db {
        Db::open(dir.path().join("db"), hotspot_storage::Options::default()).expect("opens")
    }

    fn one(inbox: &Inbox<String>, peer: &PeerId, seq: u64, body: &str) -> Result<(), Refused> {
        inbox.offer_batch(peer, &[(seq, body.to_string())])
    }

    #[test]
    fn next_is_applied_redelivery_is_not_and_gaps_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = db(&dir);
        let rec = RecordingInbox::new(&db, "rec");
        let inbox: Inbox<String> = Inbox::open(&db, Arc::new(rec.clone()));
        let peer = PeerId::Controller;
        one(&inbox, &peer, 1, "x").expect("applies");
        one(&inbox, &peer, 2, "x").expect("applies");
        one(&inbox, &peer, 1, "x").expect("a duplicate is skipped");
        one(&inbox, &peer, 2, "x").expect("a duplicate is skipped");
        assert!(matches!(
            one(&inbox, &peer, 4, "x"),
            Err(Refused::Gap { last: 2, got: 4 })
        ));
        assert_eq!(inbox.last_applied(&peer).expect("reads"), 2);
        assert_eq!(rec.apply_count(&peer).expect("reads"), 2);
        // Positions are per peer.
        let other = PeerId::Site("site-1".parse().expect("site"));
        one(&inbox, &other, 1, "x").expect("applies");
        assert_eq!(inbox.last_applied(&peer).expect("reads"), 2);
    }

    #[test]
    fn a_batch_is_one_commit_with_duplicates_skipped_and_a_gap_keeps_what_came_before() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = db(&dir);
        let rec = RecordingInbox::new(&db, "rec");
        let inbox: Inbox<String> = Inbox::open(&db, Arc::new(rec.clone()));
        let peer = PeerId::Controller;
        let batch: Vec<(u64, String)> = (1..=50).map(|s| (s, format!("m{s}"))).collect();
        inbox.offer_batch(&peer, &batch).expect("applies");
        assert_eq!(rec.apply_count(&peer).expect("reads"), 50);
        // Redelivered 40..=50 with 51..=60 behind it: only the new ones apply.
        let again: Vec<(u64, String)> = (40..=60).map(|s| (s, format!("m{s}"))).collect();
        inbox.offer_batch(&peer, &again).expect("applies");
        assert_eq!(rec.apply_count(&peer).expect("reads"), 60);
        let gapped = vec![
            (61, "a".to_string()),
            (62, "b".to_string()),
            (64, "c".to_string()),
        ];
        assert!(matches!(
            inbox.offer_batch(&peer, &gapped),
            Err(Refused::Gap { last: 62, got: 64 })
        ));
        assert_eq!(inbox.last_applied(&peer).expect("reads"), 62);
        assert_eq!(rec.apply_count(&peer).expect("reads"), 62);
    }

    #[test]
    fn a_failed_apply_leaves_no_trace_and_the_batch_before_it_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = db(&dir);
        let inbox: Inbox<String> = Inbox::open(&db, Arc::new(Picky));
        let peer = PeerId::Controller;
        let batch = vec![(1, "good".to_string()), (2, "bad".to_string())];
        assert!(matches!(
            inbox.offer_batch(&peer, &batch),
            Err(Refused::App { seq: 2, reason }) if reason.contains("bad")
        ));
        assert_eq!(
            inbox.last_applied(&peer).expect("reads"),
            1,
            "the message before the refused one is applied"
        );
        let r = db.read().expect("reads");
        assert!(r.contains("picky", &seq_key(1)).expect("reads"));
        assert!(
            !r.contains("picky", &seq_key(2)).expect("reads"),
            "effect rolled back"
        );
        drop(r);
        // Redelivered later (say the app recovered), it applies as 2.
        one(&inbox, &peer, 2, "fine now").expect("applies");
        assert_eq!(inbox.last_applied(&peer).expect("reads"), 2);
    }
}
