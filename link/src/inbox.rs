//! The receiving side: apply each message exactly once, in order, per peer.
//!
//! `link/inbox` maps a peer's storage key to the highest sequence number applied from it. The
//! application's [`Inbound::apply`] runs inside one multi-tree sled transaction over that tree
//! *and* the trees the application declares, and the link records the sequence number in the
//! same transaction: the effect and "seen seq N" commit together or not at all. So:
//! - `seq <= last`: a redelivery; the transaction aborts, nothing is applied, it is acked again;
//! - `seq == last + 1`: applied and recorded;
//! - `seq > last + 1`: a gap, which the protocol never produces: the connection is closed.
//!
//! The check runs inside the transaction, so even two connections of one peer racing (an old
//! one not yet closed and its replacement) cannot apply a message twice. The caller flushes
//! once per batch and only then acknowledges (`Inbox::flush`).

use std::sync::Arc;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::durable::Flusher;
use crate::error::{ApplyError, LinkError};
use crate::outbox::{seq_key, seq_of};
use crate::peer::PeerId;

/// The application's handler for inbound messages of type `D`.
///
/// `apply` may run more than once for one message when sled retries a conflicting
/// transaction: it must only write through `tx`, not cause effects outside sled (queue work in
/// a tree and act on it after the transaction instead).
pub trait Inbound<D>: Send + Sync + 'static {
    /// The trees `apply` writes, in the order [`InboxTx::tree`] indexes them; all from the
    /// database given to the link.
    fn trees(&self) -> Vec<sled::Tree>;

    /// Applies message `seq` from `peer`.
    fn apply(&self, tx: &InboxTx<'_>, peer: &PeerId, seq: u64, body: &D) -> Result<(), ApplyError>;
}

/// The application's trees inside the apply transaction.
pub struct InboxTx<'a> {
    trees: &'a [TransactionalTree],
}

impl InboxTx<'_> {
    /// Tree `index` of those [`Inbound::trees`] returned.
    pub fn tree(&self, index: usize) -> Result<&TransactionalTree, ApplyError> {
        self.trees.get(index).ok_or_else(|| {
            ApplyError::Failed(format!(
                "no tree {index}: Inbound::trees returned {}",
                self.trees.len()
            ))
        })
    }
}

/// Outcome of offering one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    Applied,
    Duplicate,
}

/// Why a message was not applied.
#[derive(Debug)]
pub(crate) enum Refused {
    Gap { last: u64, got: u64 },
    App(String),
    Storage(LinkError),
}

enum Abort {
    Duplicate,
    Gap(u64),
    App(String),
    Bad(LinkError),
}

/// The link's side of receiving: the seq tree plus the application hook.
pub(crate) struct Inbox<D> {
    flusher: Arc<Flusher>,
    seqs: sled::Tree,
    all: Vec<sled::Tree>,
    app: Arc<dyn Inbound<D>>,
}

impl<D: 'static> Inbox<D> {
    pub(crate) fn open(
        db: &sled::Db,
        flusher: Arc<Flusher>,
        app: Arc<dyn Inbound<D>>,
    ) -> Result<Self, LinkError> {
        let seqs = db.open_tree("link/inbox")?;
        let mut all = vec![seqs.clone()];
        all.extend(app.trees());
        Ok(Inbox {
            flusher,
            seqs,
            all,
            app,
        })
    }

    /// Highest sequence number applied from `peer` (0 if none).
    pub(crate) fn last_applied(&self, peer: &PeerId) -> Result<u64, LinkError> {
        self.seqs
            .get(peer.storage_key())?
            .map_or(Ok(0), |v| seq_of(&v))
    }

    /// Applies `body` if it is the next message from `peer`.
    pub(crate) fn offer(&self, peer: &PeerId, seq: u64, body: &D) -> Result<Offer, Refused> {
        let key = peer.storage_key();
        let result = self.all.as_slice().transaction(|trees| {
            let last = trees[0]
                .get(key.as_bytes())?
                .map_or(Ok(0), |v| seq_of(&v))
                .map_err(|e| ConflictableTransactionError::Abort(Abort::Bad(e)))?;
            if seq <= last {
                return Err(ConflictableTransactionError::Abort(Abort::Duplicate));
            }
            if last.checked_add(1) != Some(seq) {
                return Err(ConflictableTransactionError::Abort(Abort::Gap(last)));
            }
            trees[0].insert(key.as_bytes(), &seq_key(seq))?;
            let tx = InboxTx { trees: &trees[1..] };
            match self.app.apply(&tx, peer, seq, body) {
                Ok(()) => Ok(()),
                Err(ApplyError::Storage(e)) => Err(e.into()),
                Err(ApplyError::Failed(reason)) => {
                    Err(ConflictableTransactionError::Abort(Abort::App(reason)))
                }
            }
        });
        match result {
            Ok(()) => Ok(Offer::Applied),
            Err(TransactionError::Abort(Abort::Duplicate)) => Ok(Offer::Duplicate),
            Err(TransactionError::Abort(Abort::Gap(last))) => Err(Refused::Gap { last, got: seq }),
            Err(TransactionError::Abort(Abort::App(reason))) => Err(Refused::App(reason)),
            Err(TransactionError::Abort(Abort::Bad(e))) => Err(Refused::Storage(e)),
            Err(TransactionError::Storage(e)) => Err(Refused::Storage(e.into())),
        }
    }

    /// Forgets what was applied from `peer`: its next message is number 1 again. Only for a
    /// peer whose link state restarted (see `Outbox::restart_numbering`).
    pub(crate) fn forget(&self, peer: &PeerId) -> Result<(), LinkError> {
        self.seqs.remove(peer.storage_key())?;
        Ok(())
    }

    /// Makes every applied message durable; call before acknowledging.
    pub(crate) async fn flush(&self) -> Result<(), LinkError> {
        self.flusher.flush().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::RecordingInbox;

    /// Writes its mark, then fails for bodies it dislikes: the write must roll back.
    struct Picky {
        tree: sled::Tree,
    }

    impl Inbound<String> for Picky {
        fn trees(&self) -> Vec<sled::Tree> {
            vec![self.tree.clone()]
        }
        fn apply(
            &self,
            tx: &InboxTx<'_>,
            _: &PeerId,
            seq: u64,
            body: &String,
        ) -> Result<(), ApplyError> {
            tx.tree(0)?.insert(&seq_key(seq), body.as_bytes())?;
            if body == "bad" {
                return Err(ApplyError::Failed("cannot apply 'bad'".into()));
            }
            Ok(())
        }
    }

    #[test]
    fn next_is_applied_redelivery_is_not_and_gaps_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db =
            crate::durable::open_db(dir.path(), std::time::Duration::from_secs(5)).expect("opens");
        let rec = RecordingInbox::open(&db, "rec").expect("tree");
        let inbox: Inbox<String> = Inbox::open(
            &db,
            Arc::new(Flusher::new(db.clone())),
            Arc::new(rec.clone()),
        )
        .expect("opens");
        let peer = PeerId::Controller;
        let body = "x".to_string();
        assert_eq!(
            inbox.offer(&peer, 1, &body).expect("applies"),
            Offer::Applied
        );
        assert_eq!(
            inbox.offer(&peer, 2, &body).expect("applies"),
            Offer::Applied
        );
        assert_eq!(
            inbox.offer(&peer, 1, &body).expect("duplicate"),
            Offer::Duplicate
        );
        assert_eq!(
            inbox.offer(&peer, 2, &body).expect("duplicate"),
            Offer::Duplicate
        );
        assert!(matches!(
            inbox.offer(&peer, 4, &body),
            Err(Refused::Gap { last: 2, got: 4 })
        ));
        assert_eq!(inbox.last_applied(&peer).expect("reads"), 2);
        assert_eq!(rec.apply_count(&peer).expect("reads"), 2);
        // Positions are per peer.
        let other = PeerId::Site("site-1".parse().expect("site"));
        assert_eq!(
            inbox.offer(&other, 1, &body).expect("applies"),
            Offer::Applied
        );
        assert_eq!(inbox.last_applied(&peer).expect("reads"), 2);
    }

    #[test]
    fn a_failed_apply_leaves_no_trace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db =
            crate::durable::open_db(dir.path(), std::time::Duration::from_secs(5)).expect("opens");
        let tree = db.open_tree("picky").expect("tree");
        let inbox: Inbox<String> = Inbox::open(
            &db,
            Arc::new(Flusher::new(db.clone())),
            Arc::new(Picky { tree: tree.clone() }),
        )
        .expect("opens");
        let peer = PeerId::Controller;
        assert_eq!(
            inbox.offer(&peer, 1, &"good".to_string()).expect("applies"),
            Offer::Applied
        );
        assert!(
            matches!(inbox.offer(&peer, 2, &"bad".to_string()), Err(Refused::App(r)) if r.contains("bad"))
        );
        assert_eq!(
            inbox.last_applied(&peer).expect("reads"),
            1,
            "seq not recorded"
        );
        assert!(
            tree.get(seq_key(2)).expect("reads").is_none(),
            "effect rolled back"
        );
        // Redelivered later (say the app recovered), it applies as 2.
        assert_eq!(
            inbox
                .offer(&peer, 2, &"fine now".to_string())
                .expect("applies"),
            Offer::Applied
        );
    }
}
