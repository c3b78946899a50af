//! The durable outbox: what this side must deliver to one peer, in sequence order.
//!
//! One table per peer (`link/outbox/<peer>`), key = big-endian `u64` sequence number (so
//! keys sort numerically), value = the postcard bytes of the message. Beside it, in
//! `link/outbox-meta`, the last sequence number ever assigned (`last/<peer>`, written in the same
//! transaction as the entries, so a number is never handed out twice) and the highest number
//! the peer acknowledged (`acked/<peer>`, to recognise a peer that lost its state), and the
//! numbering's epoch and base (`epoch/<peer>`, `base/<peer>`; see
//! [`hotspot_shared::fleet::Numbering`]): after a loss a new epoch starts, so a sequence number
//! is never taken for another message.
//!
//! Invariants, and where they hold:
//! - **Durable before the wire**: [`Outbox::push_batch`] commits, waits for the database's
//!   barrier (one fsync shared by every concurrent batch: group commit) and only then raises the
//!   `durable` watermark; sessions send only entries at or below it. A crash can therefore
//!   never reuse a number the peer has seen.
//! - **Deleted only on ack**: entries leave the table only in `Outbox::ack`, called for the
//!   peer's `Ack` and for the `last_received` of its Hello, both of which the peer sends after
//!   its own barrier.
//! - **Bounded**: at most `max` entries; beyond, `OutboxFull` and nothing is written.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

use hotspot_storage::{Db, StorageError, WriteTx};
use serde::Serialize;
use tokio::sync::watch;

use crate::error::LinkError;
use crate::loss::{Loss, LossKind};
use crate::peer::PeerId;

/// Bytes a Data frame adds around its body: the variant tag and the sequence varint.
pub(crate) const DATA_OVERHEAD: usize = 16;

/// The table of every outbox's position.
pub(crate) const META: &str = "link/outbox-meta";

/// Why the caller's part of [`Outbox::push_batch_with`] stopped the transaction.
#[derive(Debug)]
pub enum PushAbort<E> {
    /// The caller's own reason: nothing is written.
    Caller(E),
    /// The database failed inside the caller's writes.
    Storage(StorageError),
    #[doc(hidden)]
    Link(LinkError),
}

impl<E> From<StorageError> for PushAbort<E> {
    fn from(e: StorageError) -> Self {
        PushAbort::Storage(e)
    }
}

/// Why [`Outbox::push_batch_with`] did not queue the messages.
#[derive(Debug, thiserror::Error)]
pub enum PushWithError<E> {
    #[error("{0}")]
    Link(#[from] LinkError),
    /// The caller aborted; nothing was written.
    #[error("aborted by the caller")]
    Aborted(E),
}

/// One peer's outbox.
#[derive(Debug)]
pub struct Outbox {
    db: Db,
    peer: String,
    entries: String,
    max: u64,
    max_body: usize,
    len: AtomicU64,
    durable: watch::Sender<u64>,
}

pub(crate) fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub(crate) fn seq_of(bytes: &[u8]) -> Result<u64, LinkError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        LinkError::Encode(format!(
            "stored sequence number has {} bytes, not 8",
            bytes.len()
        ))
    })?;
    Ok(u64::from_be_bytes(arr))
}

pub(crate) fn opt_seq(v: Option<Vec<u8>>) -> Result<u64, LinkError> {
    v.map_or(Ok(0), |v| seq_of(&v))
}

impl Outbox {
    /// Opens (or creates) the outbox for `peer` in `db`; `max_frame` bounds each message.
    pub fn open(db: &Db, peer: &PeerId, max: u64, max_frame: usize) -> Result<Outbox, LinkError> {
        let key = peer.storage_key();
        let entries = format!("link/outbox/{key}");
        let len = db.read()?.len(&entries)?;
        let outbox = Outbox {
            len: AtomicU64::new(len),
            durable: watch::Sender::new(0),
            peer: key,
            entries,
            db: db.clone(),
            max,
            max_body: max_frame.saturating_sub(DATA_OVERHEAD),
        };
        // Everything found on disk at open is as durable as it will ever be.
        outbox.durable.send_replace(outbox.last_seq()?);
        if outbox.numbering()?.0 == 0 {
            // A new outbox (or one from before epochs). Durable with the first barrier, before
            // any Hello names it.
            db.write(|tx| outbox.begin_epoch(tx))?;
        }
        Ok(outbox)
    }

    fn last_key(&self) -> String {
        format!("last/{}", self.peer)
    }

    fn acked_key(&self) -> String {
        format!("acked/{}", self.peer)
    }

    fn epoch_key(&self) -> String {
        format!("epoch/{}", self.peer)
    }

    fn base_key(&self) -> String {
        format!("base/{}", self.peer)
    }

    /// Messages waiting for the peer's ack.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most messages this outbox holds.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The last sequence number assigned (0 before the first message).
    pub fn last_seq(&self) -> Result<u64, LinkError> {
        opt_seq(self.db.read()?.get(META, self.last_key().as_bytes())?)
    }

    /// The highest sequence number the peer acknowledged.
    pub fn acked(&self) -> Result<u64, LinkError> {
        opt_seq(self.db.read()?.get(META, self.acked_key().as_bytes())?)
    }

    /// Queues one message; returns its sequence number once it is durable.
    pub async fn push<D: Serialize>(&self, body: &D) -> Result<u64, LinkError> {
        let seqs = self.push_batch(std::slice::from_ref(body)).await?;
        seqs.first()
            .copied()
            .ok_or_else(|| LinkError::Encode("empty batch".into()))
    }

    /// Queues messages in order, in one transaction and one barrier; returns their sequence
    /// numbers once they are durable. All or none are queued. An error after the transaction
    /// (the barrier failed) means "not known to be durable": the messages may still be
    /// delivered, delivery being at-least-once for the caller too.
    pub async fn push_batch<D: Serialize>(&self, bodies: &[D]) -> Result<Vec<u64>, LinkError> {
        if bodies.is_empty() {
            return Ok(Vec::new());
        }
        let write = |_: &mut WriteTx<'_>, _: u64| Ok::<(), PushAbort<std::convert::Infallible>>(());
        match self.push_batch_with(bodies, write).await {
            Ok((seqs, ())) => Ok(seqs),
            Err(PushWithError::Link(e)) => Err(e),
            Err(PushWithError::Aborted(never)) => match never {},
        }
    }

    /// Queues messages like [`Outbox::push_batch`], and in the *same* transaction runs `write`
    /// with the sequence number of the first message: the caller's records and the messages
    /// commit together or not at all, and one barrier makes both durable. An `Err` from `write`
    /// rolls everything back and comes back as [`PushWithError::Aborted`].
    pub async fn push_batch_with<D, T, E>(
        &self,
        bodies: &[D],
        write: impl FnOnce(&mut WriteTx<'_>, u64) -> Result<T, PushAbort<E>>,
    ) -> Result<(Vec<u64>, T), PushWithError<E>>
    where
        D: Serialize,
    {
        let encoded = bodies
            .iter()
            .map(|b| {
                let bytes = postcard::to_stdvec(b).map_err(|e| LinkError::Encode(e.to_string()))?;
                if bytes.len() > self.max_body {
                    return Err(LinkError::TooLarge {
                        len: bytes.len(),
                        max: self.max_body,
                    });
                }
                Ok(bytes)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = encoded.len() as u64;
        self.reserve(n)?;
        let last_key = self.last_key();
        let result = self.db.write(|tx| {
            let last = opt_seq(tx.get(META, last_key.as_bytes())?).map_err(PushAbort::Link)?;
            for (i, bytes) in encoded.iter().enumerate() {
                tx.insert(&self.entries, &seq_key(last + 1 + i as u64), bytes)?;
            }
            tx.insert(META, last_key.as_bytes(), &seq_key(last + n))?;
            let out = write(tx, last + 1)?;
            Ok((last, out))
        });
        let (last, out) = match result {
            Ok(r) => r,
            Err(e) => {
                self.len.fetch_sub(n, Ordering::Relaxed);
                return Err(match e {
                    PushAbort::Link(e) => e.into(),
                    PushAbort::Caller(e) => PushWithError::Aborted(e),
                    PushAbort::Storage(e) => LinkError::from(e).into(),
                });
            }
        };
        self.db.barrier().await.map_err(LinkError::from)?;
        let newest = last + n;
        self.durable.send_if_modified(|d| {
            let raise = newest > *d;
            if raise {
                *d = newest;
            }
            raise
        });
        Ok(((last + 1..=newest).collect(), out))
    }

    /// Takes `n` slots of the cap, or fails without taking any.
    fn reserve(&self, n: u64) -> Result<(), LinkError> {
        let mut cur = self.len.load(Ordering::Relaxed);
        loop {
            if cur.saturating_add(n) > self.max {
                return Err(LinkError::OutboxFull {
                    peer: self.peer.clone(),
                    len: cur,
                    max: self.max,
                });
            }
            match self
                .len
                .compare_exchange_weak(cur, cur + n, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Watches the highest sequence number that may go on the wire.
    pub(crate) fn durable(&self) -> watch::Receiver<u64> {
        self.durable.subscribe()
    }

    /// Up to `max_count` entries with `from <= seq <= upto`, in order.
    pub(crate) fn read(
        &self,
        from: u64,
        upto: u64,
        max_count: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, LinkError> {
        if from > upto {
            return Ok(Vec::new());
        }
        let (lo, hi) = (seq_key(from), seq_key(upto));
        self.db
            .read()?
            .entries(
                &self.entries,
                (Bound::Included(&lo[..]), Bound::Included(&hi[..])),
                max_count,
            )?
            .into_iter()
            .map(|(k, v)| Ok((seq_of(&k)?, v)))
            .collect()
    }

    /// The peer durably holds everything up to `upto`: delete it. Returns how many went.
    ///
    /// Not followed by a barrier: a crash that forgets an ack only resends what the peer
    /// recognises as a duplicate.
    pub(crate) fn ack(&self, upto: u64) -> Result<u64, LinkError> {
        let hi = seq_key(upto);
        let acked_key = self.acked_key();
        let removed = self.db.write(|tx| {
            let removed =
                tx.remove_range(&self.entries, (Bound::Unbounded, Bound::Included(&hi[..])))?;
            let old = opt_seq(tx.get(META, acked_key.as_bytes())?).unwrap_or(0);
            if upto > old {
                tx.insert(META, acked_key.as_bytes(), &seq_key(upto))?;
            }
            Ok::<_, StorageError>(removed)
        })?;
        // Write transactions run one at a time, so two sessions of one peer acking at once
        // each count only their own removals.
        self.len.fetch_sub(removed, Ordering::Relaxed);
        Ok(removed)
    }

    /// This outbox's numbering: its epoch and the number before the epoch's first message.
    pub(crate) fn numbering(&self) -> Result<(u64, u64), LinkError> {
        let read = self.db.read()?;
        let epoch = opt_seq(read.get(META, self.epoch_key().as_bytes())?)?;
        let base = opt_seq(read.get(META, self.base_key().as_bytes())?)?;
        Ok((epoch, base))
    }

    /// Judges the position the peer's Hello claims (`last_received` in our epoch
    /// `received_epoch`) against what this side sent and what the peer acknowledged.
    pub(crate) fn judge(
        &self,
        received_epoch: u64,
        last_received: u64,
    ) -> Result<Verdict, LinkError> {
        let (epoch, base) = self.numbering()?;
        let (last, acked) = (self.last_seq()?, self.acked()?);
        if received_epoch != epoch {
            // The peer has not seen this epoch: fine while it has acknowledged nothing of it
            // (every message of the epoch is still here; each epoch after the first starts
            // with the application's replay, see `crate::loss`).
            if acked <= base {
                return Ok(Verdict::Resume {
                    peer_has: base,
                    ack: None,
                });
            }
            return Ok(Verdict::Lost(
                LossKind::PeerLost,
                format!(
                    "the peer acknowledged messages up to {acked} of this numbering but now knows nothing of it (it counts in another one): its link state was lost (data directory wiped, replaced or restored?)"
                ),
            ));
        }
        if last_received > last {
            return Ok(Verdict::Lost(
                LossKind::SelfBehind,
                format!(
                    "the peer says it received up to message {last_received}, but only {last} were ever sent to it: this side's link state was lost or restored from an older backup"
                ),
            ));
        }
        if last_received < acked {
            return Ok(Verdict::Lost(
                LossKind::PeerLost,
                format!(
                    "the peer says it received up to message {last_received}, but it had acknowledged {acked}: the peer's link state was lost (data directory wiped or restored?)"
                ),
            ));
        }
        Ok(Verdict::Resume {
            peer_has: last_received,
            ack: Some(last_received),
        })
    }

    /// Starts a new epoch after a loss: a fresh random epoch whose base is the highest number
    /// the peer acknowledged, so the entries not yet acknowledged go again, under the new
    /// epoch, and no number of the old one is taken for anything else. The loss is recorded in
    /// the same transaction (for the application to heal), then a barrier. Returns the
    /// recorded loss and the new base; the caller gives the new numbering to the peer.
    pub(crate) async fn start_epoch(
        &self,
        peer: &PeerId,
        kind: LossKind,
        detail: String,
        at: i64,
    ) -> Result<(Loss, u64), LinkError> {
        let (loss, base) = self.db.write(|tx| {
            let (epoch, base) = self.begin_epoch(tx)?;
            let loss = Loss {
                peer: peer.clone(),
                kind,
                at,
                detail,
                epoch,
            };
            crate::loss::record_in(tx, &loss)?;
            Ok::<_, LinkError>((loss, base))
        })?;
        self.db.barrier().await?;
        Ok((loss, base))
    }

    /// Writes a fresh random epoch whose base is the highest number the peer acknowledged;
    /// returns both.
    fn begin_epoch(&self, tx: &mut WriteTx<'_>) -> Result<(u64, u64), LinkError> {
        let base = opt_seq(tx.get(META, self.acked_key().as_bytes())?)?;
        let epoch = new_epoch();
        tx.insert(META, self.epoch_key().as_bytes(), &seq_key(epoch))?;
        tx.insert(META, self.base_key().as_bytes(), &seq_key(base))?;
        Ok((epoch, base))
    }
}

/// A random non-zero epoch (0 means "none" on the wire).
fn new_epoch() -> u64 {
    loop {
        let e: u64 = rand::random();
        if e != 0 {
            return e;
        }
    }
}

/// What a peer's claimed position means for this outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go on: send from `peer_has + 1`; `ack` what the peer holds of this epoch.
    Resume { peer_has: u64, ack: Option<u64> },
    /// One side lost state: start a new epoch (and heal).
    Lost(LossKind, String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &std::path::Path, max: u64) -> (Db, Outbox) {
        let db = Db::open(dir.join("db"), hotspot_storage::Options::default()).expect("opens");
        let outbox = Outbox::open(&db, &PeerId::Controller, max, 1024).expect("opens");
        (db, outbox)
    }

    #[tokio::test]
    async fn push_with_commits_the_callers_writes_with_the_messages_or_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, o) = open(dir.path(), 10);
        let mine = |db: &Db| db.read().expect("reads").len("mine").expect("counts");
        let (seqs, first) = o
            .push_batch_with(&["a", "b"], |tx, first| {
                tx.insert("mine", &first.to_be_bytes(), b"sale")?;
                Ok::<_, PushAbort<()>>(first)
            })
            .await
            .expect("pushes");
        assert_eq!((seqs, first), (vec![1, 2], 1));
        assert_eq!(mine(&db), 1);
        assert_eq!(*o.durable().borrow(), 2);
        let refused = o
            .push_batch_with(&["c"], |tx, first| {
                tx.insert("mine", &first.to_be_bytes(), b"sale")?;
                Err::<(), _>(PushAbort::Caller("no"))
            })
            .await;
        assert!(matches!(refused, Err(PushWithError::Aborted("no"))));
        assert_eq!((o.len(), o.last_seq().expect("reads")), (2, 2));
        assert_eq!(mine(&db), 1, "the caller's write went with the abort");
    }

    #[tokio::test]
    async fn numbers_continue_after_reopen_and_acks_delete() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (_db, o) = open(dir.path(), 10);
            assert_eq!(
                o.push_batch(&["a", "b", "c"]).await.expect("pushes"),
                vec![1, 2, 3]
            );
            assert_eq!(*o.durable().borrow(), 3);
            assert_eq!(o.ack(2).expect("acks"), 2);
            assert_eq!(o.len(), 1);
        }
        let (_db, o) = open(dir.path(), 10);
        assert_eq!(o.len(), 1);
        assert_eq!(*o.durable().borrow(), 3);
        assert_eq!(o.push(&"d").await.expect("pushes"), 4);
        let got: Vec<u64> = o
            .read(1, 10, 10)
            .expect("reads")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(got, vec![3, 4]);
        assert_eq!(o.acked().expect("reads"), 2);
    }

    #[tokio::test]
    async fn full_outbox_refuses_whole_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, o) = open(dir.path(), 3);
        o.push_batch(&[1u8, 2]).await.expect("fits");
        assert!(matches!(
            o.push_batch(&[3u8, 4]).await,
            Err(LinkError::OutboxFull { len: 2, max: 3, .. })
        ));
        assert_eq!(o.push(&3u8).await.expect("fits"), 3);
        assert!(matches!(
            o.push(&4u8).await,
            Err(LinkError::OutboxFull { .. })
        ));
        o.ack(3).expect("acks");
        assert_eq!(o.push(&4u8).await.expect("fits again"), 4);
        assert!(matches!(
            o.push(&vec![0u8; 2000]).await,
            Err(LinkError::TooLarge { .. })
        ));
    }

    fn resume(peer_has: u64, ack: Option<u64>) -> Verdict {
        Verdict::Resume { peer_has, ack }
    }

    #[tokio::test]
    async fn peer_positions_outside_what_was_sent_or_acked_are_losses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, o) = open(dir.path(), 10);
        let (epoch, base) = o.numbering().expect("reads");
        assert!(epoch != 0 && base == 0, "a new outbox has an epoch from 0");
        o.push_batch(&[1u8, 2, 3]).await.expect("pushes");
        o.ack(2).expect("acks");
        assert_eq!(o.judge(epoch, 2).expect("judges"), resume(2, Some(2)));
        assert_eq!(o.judge(epoch, 3).expect("judges"), resume(3, Some(3)));
        let lost = |v: Verdict| match v {
            Verdict::Lost(kind, detail) => (kind, detail),
            other => panic!("not a loss: {other:?}"),
        };
        let (kind, detail) = lost(o.judge(epoch, 4).expect("judges"));
        assert_eq!(kind, LossKind::SelfBehind);
        assert!(detail.contains("restored"), "{detail}");
        assert_eq!(
            lost(o.judge(epoch, 1).expect("judges")).0,
            LossKind::PeerLost
        );
        // A peer that knows nothing of this epoch after acknowledging some of it lost state.
        assert_eq!(lost(o.judge(0, 0).expect("judges")).0, LossKind::PeerLost);
        assert_eq!(
            lost(o.judge(epoch ^ 1, 9).expect("judges")).0,
            LossKind::PeerLost
        );
    }

    #[tokio::test]
    async fn a_new_epoch_resends_what_was_not_acknowledged_under_new_numbers_and_records_the_loss()
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, o) = open(dir.path(), 10);
        let peer = PeerId::Controller;
        let (old, _) = o.numbering().expect("reads");
        o.push_batch(&["a", "b", "c", "d"]).await.expect("pushes");
        o.ack(2).expect("acks");
        let (loss, started_at) = o
            .start_epoch(&peer, LossKind::PeerLost, "test".into(), 7)
            .await
            .expect("starts");
        let (epoch, base) = o.numbering().expect("reads");
        assert_ne!(epoch, old);
        assert_eq!((loss.epoch, base, started_at, loss.at), (epoch, 2, 2, 7));
        // The peer, not yet in the new epoch, resumes from its base: c and d go again.
        assert_eq!(o.judge(old, 1).expect("judges"), resume(2, None));
        let bodies: Vec<(u64, String)> = o
            .read(3, 10, 10)
            .expect("reads")
            .into_iter()
            .map(|(seq, v)| (seq, postcard::from_bytes::<String>(&v).expect("decodes")))
            .collect();
        assert_eq!(bodies, vec![(3, "c".to_string()), (4, "d".to_string())]);
        assert_eq!(o.push(&"e").await.expect("pushes"), 5);
        // The loss waits for the application, which takes it in its own transaction.
        let losses = crate::loss::Losses::new(&db);
        assert_eq!(losses.pending().expect("reads"), vec![loss]);
        db.write(|tx| crate::loss::clear_in(tx, &peer))
            .expect("clears");
        assert!(losses.pending().expect("reads").is_empty());
        // Reopened, the numbering is kept.
        drop(o);
        let o = Outbox::open(&db, &peer, 10, 1024).expect("opens");
        assert_eq!(o.numbering().expect("reads"), (epoch, 2));
    }
}
