//! The durable outbox: what this side must deliver to one peer, in sequence order.
//!
//! One table per peer (`link/outbox/<peer>`), key = big-endian `u64` sequence number (so
//! keys sort numerically), value = the postcard bytes of the message. Beside it, in
//! `link/outbox-meta`, the last sequence number ever assigned (`last/<peer>`, written in the same
//! transaction as the entries, so a number is never handed out twice) and the highest number
//! the peer acknowledged (`acked/<peer>`, to recognise a peer that lost its state).
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
        Ok(outbox)
    }

    fn last_key(&self) -> String {
        format!("last/{}", self.peer)
    }

    fn acked_key(&self) -> String {
        format!("acked/{}", self.peer)
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

    /// Starts the numbering over, for a peer whose link state is gone (an agent enrolled
    /// again, with a new or wiped data directory): entries not yet acknowledged keep their
    /// order and are renumbered from 1; nothing acknowledged comes back. One transaction, then
    /// a barrier. The caller disconnects the peer first. Returns how many entries are pending.
    pub async fn restart_numbering(&self) -> Result<u64, LinkError> {
        let (last_key, acked_key) = (self.last_key(), self.acked_key());
        let pending = self.db.write(|tx| {
            let pending = tx.entries(&self.entries, hotspot_storage::ALL, usize::MAX)?;
            tx.remove_range(&self.entries, hotspot_storage::ALL)?;
            for (i, (_, v)) in pending.iter().enumerate() {
                tx.insert(&self.entries, &seq_key(i as u64 + 1), v)?;
            }
            tx.insert(META, last_key.as_bytes(), &seq_key(pending.len() as u64))?;
            tx.insert(META, acked_key.as_bytes(), &seq_key(0))?;
            Ok::<_, StorageError>(pending.len() as u64)
        })?;
        self.db.barrier().await?;
        self.len.store(pending, Ordering::Relaxed);
        self.durable.send_replace(pending);
        Ok(pending)
    }

    /// Checks the `last_received` of the peer's Hello against what we sent and what it acked.
    /// An error is a lost or restored state on one side: resending cannot fix it.
    pub(crate) fn check_peer_position(&self, last_received: u64) -> Result<(), String> {
        let (last, acked) = match (self.last_seq(), self.acked()) {
            (Ok(l), Ok(a)) => (l, a),
            (Err(e), _) | (_, Err(e)) => {
                return Err(format!("cannot read the outbox position: {e}"));
            }
        };
        if last_received > last {
            return Err(format!(
                "the peer says it received up to message {last_received}, but only {last} were ever sent to it: this side's link state was lost or restored from an older backup"
            ));
        }
        if last_received < acked {
            return Err(format!(
                "the peer says it received up to message {last_received}, but it had acknowledged {acked}: the peer's link state was lost (data directory wiped or restored?)"
            ));
        }
        Ok(())
    }
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

    #[tokio::test]
    async fn peer_positions_outside_what_was_sent_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, o) = open(dir.path(), 10);
        o.push_batch(&[1u8, 2, 3]).await.expect("pushes");
        o.ack(2).expect("acks");
        assert!(o.check_peer_position(2).is_ok());
        assert!(o.check_peer_position(3).is_ok());
        assert!(o.check_peer_position(4).unwrap_err().contains("restored"));
        assert!(o.check_peer_position(1).unwrap_err().contains("lost"));
    }

    #[tokio::test]
    async fn restart_numbering_keeps_pending_entries_in_order_from_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, o) = open(dir.path(), 10);
        o.push_batch(&["a", "b", "c", "d"]).await.expect("pushes");
        o.ack(2).expect("acks");
        assert_eq!(o.restart_numbering().await.expect("restarts"), 2);
        assert_eq!(
            (o.last_seq().expect("reads"), o.acked().expect("reads")),
            (2, 0)
        );
        let bodies: Vec<(u64, String)> = o
            .read(1, 10, 10)
            .expect("reads")
            .into_iter()
            .map(|(seq, v)| (seq, postcard::from_bytes::<String>(&v).expect("decodes")))
            .collect();
        assert_eq!(bodies, vec![(1, "c".to_string()), (2, "d".to_string())]);
        assert_eq!(o.check_peer_position(0), Ok(()));
        assert_eq!(o.push(&"e").await.expect("pushes"), 3);
    }
}
