//! A ready-made [`Inbound`] that records every message: for tests, benchmarks and the fault
//! suites' child processes.
//!
//! Each applied message is stored under `<peer>\0m<seq>` (body as postcard bytes), and a
//! per-peer apply counter under `<peer>\0n` is incremented in the same transaction. A test that
//! sent N messages checks that the records are exactly `1..=N` with the right bodies **and**
//! that the counter is N: a message applied twice would leave the records unchanged but raise
//! the counter.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApplyError, LinkError};
use crate::inbox::{Inbound, InboxTx};
use crate::outbox::{seq_key, seq_of};
use crate::peer::PeerId;

/// Records inbound messages in one sled tree.
#[derive(Clone, Debug)]
pub struct RecordingInbox {
    tree: sled::Tree,
}

fn prefix(peer: &PeerId, kind: u8) -> Vec<u8> {
    let mut k = peer.storage_key().into_bytes();
    k.push(0);
    k.push(kind);
    k
}

impl RecordingInbox {
    /// Records into tree `name` of `db` (the same database as the link's).
    pub fn open(db: &sled::Db, name: &str) -> Result<Self, LinkError> {
        Ok(RecordingInbox {
            tree: db.open_tree(name)?,
        })
    }

    /// How many times `apply` committed for `peer`.
    pub fn apply_count(&self, peer: &PeerId) -> Result<u64, LinkError> {
        self.tree
            .get(prefix(peer, b'n'))?
            .map_or(Ok(0), |v| seq_of(&v))
    }

    /// The recorded `(seq, postcard bytes)` from `peer`, in sequence order.
    pub fn records(&self, peer: &PeerId) -> Result<Vec<(u64, Vec<u8>)>, LinkError> {
        let p = prefix(peer, b'm');
        self.tree
            .scan_prefix(&p)
            .map(|kv| {
                let (k, v) = kv?;
                Ok((seq_of(&k[p.len()..])?, v.to_vec()))
            })
            .collect()
    }

    /// The recorded messages from `peer`, decoded.
    pub fn messages<D: DeserializeOwned>(&self, peer: &PeerId) -> Result<Vec<(u64, D)>, LinkError> {
        self.records(peer)?
            .into_iter()
            .map(|(seq, bytes)| {
                let body =
                    postcard::from_bytes(&bytes).map_err(|e| LinkError::Encode(e.to_string()))?;
                Ok((seq, body))
            })
            .collect()
    }
}

impl<D: Serialize> Inbound<D> for RecordingInbox {
    fn trees(&self) -> Vec<sled::Tree> {
        vec![self.tree.clone()]
    }

    fn apply(&self, tx: &InboxTx<'_>, peer: &PeerId, seq: u64, body: &D) -> Result<(), ApplyError> {
        let tree = tx.tree(0)?;
        let bytes = postcard::to_stdvec(body).map_err(|e| ApplyError::Failed(e.to_string()))?;
        let mut key = prefix(peer, b'm');
        key.extend_from_slice(&seq_key(seq));
        tree.insert(key, bytes)?;
        let count_key = prefix(peer, b'n');
        let count = match tree.get(&count_key)? {
            Some(v) => seq_of(&v).map_err(|e| ApplyError::Failed(e.to_string()))?,
            None => 0,
        };
        tree.insert(count_key, &seq_key(count + 1))?;
        Ok(())
    }
}
