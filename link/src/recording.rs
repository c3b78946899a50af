//! A ready-made [`Inbound`] that records every message: for tests, benchmarks and the fault
//! suites' child processes.
//!
//! Each applied message is stored under `<peer>\0m<seq>` (body as postcard bytes), and a
//! per-peer apply counter under `<peer>\0n` is incremented in the same transaction. A test that
//! sent N messages checks that the records are exactly `1..=N` with the right bodies **and**
//! that the counter is N: a message applied twice would leave the records unchanged but raise
//! the counter.

use hotspot_storage::{Db, WriteTx};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApplyError, LinkError};
use crate::inbox::Inbound;
use crate::outbox::{opt_seq, seq_key, seq_of};
use crate::peer::PeerId;

/// Records inbound messages in one table.
#[derive(Clone, Debug)]
pub struct RecordingInbox {
    db: Db,
    table: String,
}

fn prefix(peer: &PeerId, kind: u8) -> Vec<u8> {
    let mut k = peer.storage_key().into_bytes();
    k.push(0);
    k.push(kind);
    k
}

impl RecordingInbox {
    /// Records into table `name` of `db` (the same database as the link's).
    pub fn new(db: &Db, name: &str) -> Self {
        RecordingInbox {
            db: db.clone(),
            table: name.to_string(),
        }
    }

    /// How many times `apply` committed for `peer`.
    pub fn apply_count(&self, peer: &PeerId) -> Result<u64, LinkError> {
        opt_seq(self.db.read()?.get(&self.table, &prefix(peer, b'n'))?)
    }

    /// The recorded `(seq, postcard bytes)` from `peer`, in sequence order.
    pub fn records(&self, peer: &PeerId) -> Result<Vec<(u64, Vec<u8>)>, LinkError> {
        let p = prefix(peer, b'm');
        self.db
            .read()?
            .prefixed(&self.table, &p)?
            .into_iter()
            .map(|(k, v)| Ok((seq_of(&k[p.len()..])?, v)))
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
    fn apply(
        &self,
        tx: &mut WriteTx<'_>,
        peer: &PeerId,
        seq: u64,
        body: &D,
    ) -> Result<(), ApplyError> {
        let bytes = postcard::to_stdvec(body).map_err(|e| ApplyError::Failed(e.to_string()))?;
        let mut key = prefix(peer, b'm');
        key.extend_from_slice(&seq_key(seq));
        tx.insert(&self.table, &key, &bytes)?;
        let count_key = prefix(peer, b'n');
        let count = opt_seq(tx.get(&self.table, &count_key)?)
            .map_err(|e| ApplyError::Failed(e.to_string()))?;
        tx.insert(&self.table, &count_key, &seq_key(count + 1))?;
        Ok(())
    }
}
