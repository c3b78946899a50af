//! The durable outbox: what this side must deliver to one peer, in sequence order.
//!
//! One sled tree per peer (`link/outbox/<peer>`), key = big-endian `u64` sequence number (so
//! keys sort numerically), value = the postcard bytes of the message. Beside it, in
//! `link/outbox-meta`, the last sequence number ever assigned (`last/<peer>`, written in the same
//! transaction as the entries, so a number is never handed out twice) and the highest number
//! the peer acknowledged (`acked/<peer>`, to recognise a peer that lost its state).
//!
//! Invariants, and where they hold:
//! - **Durable before the wire**: [`Outbox::push_batch`] flushes sled (one group-committed flush per
//!   batch: group commit) and only then raises the `durable` watermark; sessions send only
//!   entries at or below it. A crash can therefore never reuse a number the peer has seen.
//! - **Deleted only on ack**: entries leave the tree only in `Outbox::ack`, called for the
//!   peer's `Ack` and for the `last_received` of its Hello, both of which the peer sends after
//!   its own flush.
//! - **Bounded**: at most `max` entries; beyond, `OutboxFull` and nothing is written.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;
use tokio::sync::watch;

use crate::durable::Flusher;
use crate::error::LinkError;
use crate::peer::PeerId;

/// Bytes a Data frame adds around its body: the variant tag and the sequence varint.
pub(crate) const DATA_OVERHEAD: usize = 16;

/// Why the caller's part of [`Outbox::push_batch_with`] stopped the transaction.
#[derive(Debug)]
pub enum PushAbort<E> {
    /// The caller's own reason: nothing is written.
    Caller(E),
    /// A sled failure inside the caller's writes (a conflict is retried by sled).
    Storage(sled::transaction::UnabortableTransactionError),
    #[doc(hidden)]
    Link(LinkError),
}

impl<E> From<sled::transaction::UnabortableTransactionError> for PushAbort<E> {
    fn from(e: sled::transaction::UnabortableTransactionError) -> Self {
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
    flusher: Arc<Flusher>,
    peer: String,
    entries: sled::Tree,
    meta: sled::Tree,
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

fn opt_seq(v: Option<sled::IVec>) -> Result<u64, LinkError> {
    v.map_or(Ok(0), |v| seq_of(&v))
}

impl Outbox {
    /// Opens (or creates) the outbox for `peer` in `db`; `max_frame` bounds each message.
    pub fn open(
        db: &sled::Db,
        flusher: Arc<Flusher>,
        peer: &PeerId,
        max: u64,
        max_frame: usize,
    ) -> Result<Outbox, LinkError> {
        let key = peer.storage_key();
        let entries = db.open_tree(format!("link/outbox/{key}"))?;
        let meta = db.open_tree("link/outbox-meta")?;
        let outbox = Outbox {
            len: AtomicU64::new(entries.len() as u64),
            durable: watch::Sender::new(0),
            peer: key,
            entries,
            meta,
            flusher,
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
        opt_seq(self.meta.get(self.last_key())?)
    }

    /// The highest sequence number the peer acknowledged.
    pub fn acked(&self) -> Result<u64, LinkError> {
        opt_seq(self.meta.get(self.acked_key())?)
    }

    /// Queues one message; returns its sequence number once it is durable.
    pub async fn push<D: Serialize>(&self, body: &D) -> Result<u64, LinkError> {
        let seqs = self.push_batch(std::slice::from_ref(body)).await?;
        seqs.first()
            .copied()
            .ok_or_else(|| LinkError::Encode("empty batch".into()))
    }

    /// Queues messages in order, in one transaction and one flush; returns their sequence
    /// numbers once they are durable. All or none are queued. An error after the transaction
    /// (the flush failed) means "not known to be durable": the messages may still be delivered,
    /// delivery being at-least-once for the caller too.
    pub async fn push_batch<D: Serialize>(&self, bodies: &[D]) -> Result<Vec<u64>, LinkError> {
        if bodies.is_empty() {
            return Ok(Vec::new());
        }
        let write = |_: &[sled::transaction::TransactionalTree], _: u64| {
            Ok::<(), PushAbort<std::convert::Infallible>>(())
        };
        match self.push_batch_with(bodies, &[], write).await {
            Ok((seqs, ())) => Ok(seqs),
            Err(PushWithError::Link(e)) => Err(e),
            Err(PushWithError::Aborted(never)) => match never {},
        }
    }

    /// Queues messages like [`Outbox::push_batch`], and in the *same* sled transaction runs
    /// `write` over the caller's `trees` (in the order given) with the sequence number of the
    /// first message: the caller's records and the messages commit together or not at all, and
    /// one flush makes both durable. `write` may run more than once (sled retries conflicting
    /// transactions), so it must only write through the trees it is given. An `Err` from it
    /// aborts everything and comes back as [`PushWithError::Aborted`].
    pub async fn push_batch_with<D, T, E>(
        &self,
        bodies: &[D],
        trees: &[sled::Tree],
        write: impl Fn(&[sled::transaction::TransactionalTree], u64) -> Result<T, PushAbort<E>>,
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
        let mut all = vec![self.meta.clone(), self.entries.clone()];
        all.extend(trees.iter().cloned());
        let result = all.as_slice().transaction(|t| {
            let (meta, entries) = (&t[0], &t[1]);
            let last = opt_seq(meta.get(last_key.as_bytes())?)
                .map_err(|e| ConflictableTransactionError::Abort(PushAbort::Link(e)))?;
            for (i, bytes) in encoded.iter().enumerate() {
                entries.insert(&seq_key(last + 1 + i as u64), bytes.as_slice())?;
            }
            meta.insert(last_key.as_bytes(), &seq_key(last + n))?;
            let out = match write(&t[2..], last + 1) {
                Ok(out) => out,
                Err(PushAbort::Storage(e)) => return Err(e.into()),
                Err(abort) => return Err(ConflictableTransactionError::Abort(abort)),
            };
            Ok((last, out))
        });
        let (last, out) = match result {
            Ok(r) => r,
            Err(e) => {
                self.len.fetch_sub(n, Ordering::Relaxed);
                return Err(match e {
                    sled::transaction::TransactionError::Abort(PushAbort::Link(e)) => e.into(),
                    sled::transaction::TransactionError::Abort(PushAbort::Caller(e)) => {
                        PushWithError::Aborted(e)
                    }
                    sled::transaction::TransactionError::Abort(PushAbort::Storage(e)) => {
                        LinkError::Storage(sled::Error::ReportableBug(e.to_string())).into()
                    }
                    sled::transaction::TransactionError::Storage(e) => LinkError::from(e).into(),
                });
            }
        };
        self.flusher.flush().await.map_err(LinkError::from)?;
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
    ) -> Result<Vec<(u64, sled::IVec)>, LinkError> {
        if from > upto {
            return Ok(Vec::new());
        }
        self.entries
            .range(seq_key(from)..=seq_key(upto))
            .take(max_count)
            .map(|kv| {
                let (k, v) = kv?;
                Ok((seq_of(&k)?, v))
            })
            .collect()
    }

    /// The peer durably holds everything up to `upto`: delete it. Returns how many went.
    pub(crate) fn ack(&self, upto: u64) -> Result<u64, LinkError> {
        let keys = self
            .entries
            .range(..=seq_key(upto))
            .keys()
            .collect::<Result<Vec<_>, _>>()?;
        let mut removed = 0;
        for k in keys {
            // Count only our own removals: two sessions of one peer may ack concurrently.
            if self.entries.remove(k)?.is_some() {
                removed += 1;
            }
        }
        self.len.fetch_sub(removed, Ordering::Relaxed);
        self.meta.fetch_and_update(self.acked_key(), |old| {
            let old = old.and_then(|o| seq_of(o).ok()).unwrap_or(0);
            Some(seq_key(old.max(upto)).to_vec())
        })?;
        Ok(removed)
    }

    /// Starts the numbering over, for a peer whose link state is gone (an agent enrolled
    /// again, with a new or wiped data directory): entries not yet acknowledged keep their
    /// order and are renumbered from 1; nothing acknowledged comes back. One transaction, then
    /// a flush. The caller disconnects the peer first. Returns how many entries are pending.
    pub async fn restart_numbering(&self) -> Result<u64, LinkError> {
        let (last_key, acked_key) = (self.last_key(), self.acked_key());
        let pending = loop {
            let seen_last = self.last_seq()?;
            let pending = self.entries.iter().collect::<Result<Vec<_>, _>>()?;
            let result = (&self.entries, &self.meta).transaction(|(entries, meta)| {
                let last = opt_seq(meta.get(last_key.as_bytes())?)
                    .map_err(ConflictableTransactionError::Abort)?;
                if last != seen_last {
                    // A push landed since we read the entries: read again.
                    return Ok(false);
                }
                for (k, _) in &pending {
                    entries.remove(k)?;
                }
                for (i, (_, v)) in pending.iter().enumerate() {
                    entries.insert(&seq_key(i as u64 + 1), v.clone())?;
                }
                meta.insert(last_key.as_bytes(), &seq_key(pending.len() as u64))?;
                meta.insert(acked_key.as_bytes(), &seq_key(0))?;
                Ok(true)
            });
            match result {
                Ok(true) => break pending.len() as u64,
                Ok(false) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        self.flusher.flush().await?;
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
    use std::time::Duration;

    use super::*;
    use crate::durable::open_db;

    fn open(dir: &std::path::Path, max: u64) -> (sled::Db, Outbox) {
        let db = open_db(dir, Duration::from_secs(5)).expect("opens");
        let flusher = Arc::new(Flusher::new(db.clone()));
        let outbox = Outbox::open(&db, flusher, &PeerId::Controller, max, 1024).expect("opens");
        (db, outbox)
    }

    #[tokio::test]
    async fn push_with_commits_the_callers_writes_with_the_messages_or_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, o) = open(dir.path(), 10);
        let mine = db.open_tree("mine").expect("tree");
        let (seqs, first) = o
            .push_batch_with(&["a", "b"], std::slice::from_ref(&mine), |t, first| {
                t[0].insert(&first.to_be_bytes(), "sale")?;
                Ok::<_, PushAbort<()>>(first)
            })
            .await
            .expect("pushes");
        assert_eq!((seqs, first), (vec![1, 2], 1));
        assert_eq!(mine.len(), 1);
        assert_eq!(*o.durable().borrow(), 2);
        let refused = o
            .push_batch_with(&["c"], std::slice::from_ref(&mine), |t, first| {
                t[0].insert(&first.to_be_bytes(), "sale")?;
                Err::<(), _>(PushAbort::Caller("no"))
            })
            .await;
        assert!(matches!(refused, Err(PushWithError::Aborted("no"))));
        assert_eq!((o.len(), o.last_seq().expect("reads")), (2, 2));
        assert_eq!(mine.len(), 1, "the caller's write went with the abort");
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
