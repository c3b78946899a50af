//! Sending notes `1..=N` through the link's durable outbox so that a process killed at any
//! instant and restarted on the same data directory neither skips nor repeats a number.
//!
//! **Why the outbox is the authority.** A note's number must become durable in the same
//! atomic step as the note itself. The link's outbox assigns sequence numbers and stores the
//! entries and its `last` counter in one sled transaction, flushed before `send` returns; our
//! own counter cannot join that transaction. So:
//! - counter first, then send: a kill between them skips numbers (the counter says sent, the
//!   outbox never had them);
//! - send first, then counter: a kill between them repeats numbers (the outbox has them, the
//!   counter says not sent, the restart sends them again under new sequence numbers and the
//!   receiver applies them twice — the link cannot know two messages are "the same note").
//!
//! Hence each peer uses its outbox for notes only, note `n` *is* message `n` of the outbox
//! (checked on every push: the numbers the link returns must equal the note numbers), and a
//! restart resumes after the outbox's last assigned number. A batch whose transaction
//! committed but whose flush did not complete is either on disk after the crash (then it
//! counts as sent and is delivered) or not (then it was never on the wire, because entries
//! leave only once flushed, and it is sent again with the same numbers and the same content).
//!
//! Our own counter (`fleet-peer/sender`, written after each push returns) is kept as the
//! brief asks and as a cross-check: it can lag the outbox by the batch in flight at a kill,
//! never lead it; a counter ahead of the outbox means the outbox lost data, and the sender
//! refuses to start.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hotspot_link::{LinkError, PeerId};
use hotspot_pki::SiteId;

use super::check::open_outbox;
use super::payload::{Note, NoteClient, NoteServer};

/// The sled tree holding the sender's own "sent up to" counter.
pub const SENDER_TREE: &str = "fleet-peer/sender";

/// Somewhere notes can be pushed durably, numbered by the link.
pub trait NoteSink: Send + Sync {
    /// Queues `notes` in order; returns their sequence numbers once durable.
    fn push(&self, notes: &[Note]) -> impl Future<Output = Result<Vec<u64>, LinkError>> + Send;
}

impl NoteSink for NoteClient {
    async fn push(&self, notes: &[Note]) -> Result<Vec<u64>, LinkError> {
        self.send_batch(notes).await
    }
}

/// The controller's outbox for one site.
pub struct ToSite {
    pub server: NoteServer,
    pub site: SiteId,
}

impl NoteSink for ToSite {
    async fn push(&self, notes: &[Note]) -> Result<Vec<u64>, LinkError> {
        self.server.send_batch(&self.site, notes).await
    }
}

fn counter_key(to: &PeerId) -> String {
    format!("sent/{}", to.storage_key())
}

fn read_u64(v: Option<sled::IVec>) -> anyhow::Result<u64> {
    match v {
        None => Ok(0),
        Some(v) => Ok(u64::from_be_bytes(v.as_ref().try_into().map_err(|_| {
            anyhow::anyhow!("stored counter has {} bytes, not 8", v.len())
        })?)),
    }
}

/// Where sending to `to` resumes: the last note number already durably queued.
///
/// Call before the link is started on `db` (it opens the outbox on its own to read it).
pub fn resume_point(db: &sled::Db, to: &PeerId) -> anyhow::Result<Resume> {
    let outbox_last = open_outbox(db, to)?.last_seq()?;
    let counter = read_u64(db.open_tree(SENDER_TREE)?.get(counter_key(to))?)?;
    anyhow::ensure!(
        counter <= outbox_last,
        "the sender's counter says {counter} notes were sent to {to}, but the outbox only ever \
         numbered {outbox_last}: the outbox lost data"
    );
    Ok(Resume {
        outbox_last,
        counter,
    })
}

/// What [`resume_point`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resume {
    /// The last number the outbox assigned: sending resumes after it.
    pub outbox_last: u64,
    /// Our own counter (may lag `outbox_last` by the batch in flight when the process died).
    pub counter: u64,
}

/// How to send.
#[derive(Clone, Debug)]
pub struct SendPlan {
    /// Send notes up to and including this number.
    pub total: u64,
    /// Notes per second; 0 = as fast as the outbox takes them.
    pub rate: u64,
    /// Most notes per push (one sled flush each).
    pub batch: u64,
    /// The sender's name written into each note.
    pub from: String,
}

/// Sends notes `resume.outbox_last + 1 ..= plan.total` to `to`, publishing the last durably
/// queued number in `sent`. Waits and retries while the outbox is full; any other error, or
/// numbers from the link that differ from the note numbers, end it with an error.
pub async fn run_sender(
    db: sled::Db,
    to: PeerId,
    sink: impl NoteSink,
    resume: Resume,
    plan: SendPlan,
    sent: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let counter = db.open_tree(SENDER_TREE)?;
    let key = counter_key(&to);
    let first = resume.outbox_last + 1;
    let mut next = first;
    sent.store(resume.outbox_last, Ordering::Relaxed);
    let started = Instant::now();
    while next <= plan.total {
        let mut room = plan.batch.max(1).min(plan.total - next + 1);
        if plan.rate > 0 {
            // Token bucket from the start of this run: never ahead of rate × elapsed.
            let allowed = (plan.rate as f64 * started.elapsed().as_secs_f64()) as u64;
            let done = next - first;
            if allowed <= done {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            room = room.min(allowed - done);
        }
        let notes: Vec<Note> = (next..next + room)
            .map(|n| Note::new(n, &plan.from))
            .collect();
        match sink.push(&notes).await {
            Ok(seqs) => {
                let expected: Vec<u64> = (next..next + room).collect();
                anyhow::ensure!(
                    seqs == expected,
                    "the outbox numbered notes {next}..={} as {:?}..: something else writes to \
                     the outbox for {to}",
                    next + room - 1,
                    seqs.first()
                );
                next += room;
                counter.insert(&key, &(next - 1).to_be_bytes())?;
                sent.store(next - 1, Ordering::Relaxed);
            }
            Err(e @ LinkError::OutboxFull { .. }) => {
                tracing::debug!("waiting for room: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
