//! What the fault suites and the bench send through the link: numbered notes both ways, and a
//! ping request answered with a pong.
//!
//! A note carries its number, its sender's name and the wall-clock time it was made, so the
//! receiver can check order and sender and measure one-way latency (both ends share a clock:
//! everything runs on one machine). [`NoteInbox`] applies notes through the link's
//! [`RecordingInbox`] (what the fault tests read back afterwards) and keeps two in-memory
//! gauges beside it: how many were applied since start and their latencies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hotspot_link::{
    ApplyError, Inbound, LinkClient, LinkServer, PeerId, RecordingInbox, Responder,
};
use hotspot_storage::{Db, WriteTx};
use serde::{Deserialize, Serialize};

use super::stats::LatencyLog;

/// The table where a peer records the notes it applied.
pub const APPLIED_TABLE: &str = "fleet-peer/applied";

/// One numbered message. Note `n` from a sender is its `n`-th note; the sender's name is the
/// storage key of the link peer it is to the receiver (`controller`, `site/<id>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub n: u64,
    pub from: String,
    /// Microseconds since the Unix epoch when the note was made.
    pub sent_at_us: u64,
}

impl Note {
    /// Note `n` from `from`, stamped now.
    pub fn new(n: u64, from: &str) -> Note {
        Note {
            n,
            from: from.to_string(),
            sent_at_us: now_us(),
        }
    }
}

/// A request: answer with the same number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping(pub u64);

/// The answer to [`Ping`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong(pub u64);

/// The controller's end with the test payload.
pub type NoteServer = LinkServer<Note, Note, Ping, Pong>;
/// An agent's end with the test payload.
pub type NoteClient = LinkClient<Note, Note, Ping, Pong>;

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Answers every ping.
#[derive(Clone, Copy, Debug, Default)]
pub struct PingResponder;

impl Responder<Ping, Pong> for PingResponder {
    async fn respond(&self, _peer: PeerId, request: Ping) -> Result<Pong, String> {
        Ok(Pong(request.0))
    }
}

/// Applies notes: records them (optionally) and counts them and their latency in memory.
///
/// The gauges are updated inside the link's apply transaction, so a transaction that rolls
/// back after the apply (a storage failure) leaves them counted: they are for progress lines
/// and the bench. Exactly-once is judged only from the [`RecordingInbox`] on disk.
#[derive(Clone)]
pub struct NoteInbox {
    record: Option<RecordingInbox>,
    applied: Arc<AtomicU64>,
    latency: Arc<LatencyLog>,
}

impl NoteInbox {
    /// Records into [`APPLIED_TABLE`] of `db`.
    pub fn recording(db: &Db) -> NoteInbox {
        NoteInbox {
            record: Some(RecordingInbox::new(db, APPLIED_TABLE)),
            ..NoteInbox::counting()
        }
    }

    /// Counts and times notes without writing anything of its own (the bench's agents).
    pub fn counting() -> NoteInbox {
        NoteInbox {
            record: None,
            applied: Arc::new(AtomicU64::new(0)),
            latency: Arc::new(LatencyLog::default()),
        }
    }

    /// Shares gauges with other inboxes (the bench sums its agents).
    pub fn with_gauges(mut self, applied: Arc<AtomicU64>, latency: Arc<LatencyLog>) -> Self {
        self.applied = applied;
        self.latency = latency;
        self
    }

    /// The recording, if this inbox keeps one.
    pub fn record(&self) -> Option<&RecordingInbox> {
        self.record.as_ref()
    }

    /// Notes applied since this inbox was made.
    pub fn applied_since_start(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    pub fn latency(&self) -> &Arc<LatencyLog> {
        &self.latency
    }
}

impl Inbound<Note> for NoteInbox {
    fn apply(
        &self,
        tx: &mut WriteTx<'_>,
        peer: &PeerId,
        seq: u64,
        body: &Note,
    ) -> Result<(), ApplyError> {
        if let Some(record) = &self.record {
            Inbound::<Note>::apply(record, tx, peer, seq, body)?;
        }
        self.applied.fetch_add(1, Ordering::Relaxed);
        self.latency.record(now_us(), body.sent_at_us);
        Ok(())
    }
}
