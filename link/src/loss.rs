//! Lost link state, found and remembered until the application has healed it.
//!
//! When a Hello shows that one side lost state (a wiped or replaced disk, a restored backup,
//! an agent enrolled again), the link starts a new numbering for that peer (see
//! [`crate::outbox`]) and, **in the same transaction**, records a [`Loss`] in `link/lost`. The
//! link itself can only make the numbering consistent again; what was lost has to be replayed
//! by the application, which knows what its messages mean. So the record stays until the
//! application has queued its replay: it takes the record with [`clear_in`] inside the
//! transaction that queues the replay (`Outbox::push_batch_with`), so a crash in between
//! leaves the record for the next try, and the replay is never skipped.
//!
//! The application learns of new records from [`Losses::changed`], and at start from
//! [`Losses::pending`].

use hotspot_storage::{Db, StorageError, WriteTx};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::LinkError;
use crate::peer::PeerId;

/// The table of losses waiting for the application.
pub(crate) const LOST: &str = "link/lost";

/// Which side lost what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LossKind {
    /// The peer received less than it had acknowledged: its link state is gone or older (its
    /// data directory was wiped, replaced or restored).
    PeerLost,
    /// The peer received more than this side ever sent: this side's state is older than the
    /// peer's (restored from a backup, or its disk lost writes).
    SelfBehind,
    /// The peer enrolled again (a new or wiped data directory).
    Reenrolled,
}

impl LossKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LossKind::PeerLost => "peer-lost-state",
            LossKind::SelfBehind => "own-state-behind",
            LossKind::Reenrolled => "peer-enrolled-again",
        }
    }
}

/// A loss the application has not healed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    pub peer: PeerId,
    pub kind: LossKind,
    /// Unix seconds.
    pub at: i64,
    /// For people: the positions that gave it away.
    pub detail: String,
    /// The new epoch the outbox started.
    pub epoch: u64,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    kind: LossKind,
    at: i64,
    detail: String,
    epoch: u64,
}

/// Writes `loss` (replacing an older one of the same peer: one replay heals both).
pub(crate) fn record_in(tx: &mut WriteTx<'_>, loss: &Loss) -> Result<(), LinkError> {
    let stored = Stored {
        kind: loss.kind,
        at: loss.at,
        detail: loss.detail.clone(),
        epoch: loss.epoch,
    };
    let bytes = postcard::to_stdvec(&stored).map_err(|e| LinkError::Encode(e.to_string()))?;
    tx.insert(LOST, loss.peer.storage_key().as_bytes(), &bytes)?;
    Ok(())
}

/// Takes `peer`'s loss inside the caller's transaction (the one that queues the replay).
/// Returns whether there was one.
pub fn clear_in(tx: &mut WriteTx<'_>, peer: &PeerId) -> Result<bool, StorageError> {
    tx.remove(LOST, peer.storage_key().as_bytes())
}

/// The losses of one endpoint, and a signal when one is recorded.
#[derive(Debug)]
pub struct Losses {
    db: Db,
    changed: watch::Sender<u64>,
}

impl Losses {
    pub(crate) fn new(db: &Db) -> Losses {
        Losses {
            db: db.clone(),
            changed: watch::Sender::new(0),
        }
    }

    /// Says that a loss was recorded (after its transaction and barrier).
    pub(crate) fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever a loss is recorded.
    pub fn changed(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Every loss not yet healed, oldest peer key first.
    pub fn pending(&self) -> Result<Vec<Loss>, LinkError> {
        let entries = self
            .db
            .read()?
            .entries(LOST, hotspot_storage::ALL, usize::MAX)?;
        entries
            .into_iter()
            .filter_map(|(k, v)| {
                let key = String::from_utf8(k).ok()?;
                let peer = PeerId::from_storage_key(&key)?;
                Some(
                    postcard::from_bytes::<Stored>(&v)
                        .map(|s| Loss {
                            peer,
                            kind: s.kind,
                            at: s.at,
                            detail: s.detail,
                            epoch: s.epoch,
                        })
                        .map_err(|e| LinkError::Encode(e.to_string())),
                )
            })
            .collect()
    }
}
