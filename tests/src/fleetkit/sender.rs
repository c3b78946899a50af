//! Sending notes `1..=N` through the link's durable outbox so that a process killed at any
//! instant and restarted on the same data directory neither skips nor repeats a number.
//!
//! **Why the outbox is the authority.** A note's number must become durable in the same
//! atomic step as the note itself. The link's outbox assigns sequence numbers and stores the
//! entries and its `last` counter in one transaction, covered by a durability barrier before
//! `send` returns. A counter of our own kept in a separate transaction would not do:
//! - counter first, then send: a kill between them skips numbers (the counter says sent, the
//!   outbox never had them);
//! - send first, then counter: a kill between them repeats numbers (the outbox has them, the
//!   counter says not sent, the restart sends them again under new sequence numbers and the
//!   receiver applies them twice — the link cannot know two messages are "the same note").
//!
//! Hence each peer uses its outbox for notes only, note `n` *is* message `n` of the outbox
//! (checked on every push, inside the push's transaction where the link allows it, and on the
//! numbers it returns), and a restart resumes after the outbox's last assigned number. A batch
//! whose transaction committed but whose barrier did not complete is either on disk after the
//! crash (then it counts as sent and is delivered) or not (then it was never on the wire,
//! because entries leave only once durable, and it is sent again with the same numbers and the
//! same content).
//!
//! Our own "sent up to" counter (`fleet-peer/sender`) is a cross-check. The agent writes it in
//! the push's own transaction (`LinkClient::send_batch_with`), so it always equals the
//! outbox's last number; the controller's `LinkServer` has no such call, so there it is written
//! right after each push returns and can lag the outbox by the batch in flight at a kill. It
//! never leads the outbox: a counter ahead of the outbox means the outbox lost data, and the
//! sender refuses to start.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hotspot_link::{LinkError, PeerId, PushAbort, PushWithError};
use hotspot_pki::SiteId;
use hotspot_storage::{Db, WriteTx};

use super::check::open_outbox;
use super::payload::{Note, NoteClient, NoteServer};

/// The table holding the sender's own "sent up to" counter.
pub const SENDER_TABLE: &str = "fleet-peer/sender";

/// Why a push failed.
#[derive(Debug)]
pub enum PushError {
    /// Nothing was queued.
    Link(LinkError),
    /// The outbox numbered the first note `first_seq`, not the note's own number: something
    /// else writes to the outbox. Where the check runs inside the push's transaction
    /// ([`NoteClient`]) nothing was queued.
    Misnumbered { first_seq: u64 },
}

impl From<LinkError> for PushError {
    fn from(e: LinkError) -> Self {
        PushError::Link(e)
    }
}

impl From<PushWithError<u64>> for PushError {
    fn from(e: PushWithError<u64>) -> Self {
        match e {
            PushWithError::Link(e) => PushError::Link(e),
            PushWithError::Aborted(first_seq) => PushError::Misnumbered { first_seq },
        }
    }
}

/// Somewhere notes can be pushed durably, numbered by the link.
pub trait NoteSink: Send + Sync {
    /// Queues `notes` (numbered consecutively from `notes[0].n`) in order and sets the counter
    /// under `counter_key` in [`SENDER_TABLE`] to the last note's number; returns their
    /// sequence numbers once durable.
    fn push(
        &self,
        notes: &[Note],
        counter_key: &str,
    ) -> impl Future<Output = Result<Vec<u64>, PushError>> + Send;
}

/// The counter's write inside a push's transaction: refuses (rolls the push back) unless the
/// outbox numbers the first note as the note's own number.
fn count_in_push(
    tx: &mut WriteTx<'_>,
    counter_key: &str,
    notes: &[Note],
    first_seq: u64,
) -> Result<(), PushAbort<u64>> {
    let (Some(first), Some(last)) = (notes.first(), notes.last()) else {
        return Ok(());
    };
    if first_seq != first.n {
        return Err(PushAbort::Caller(first_seq));
    }
    tx.insert(SENDER_TABLE, counter_key.as_bytes(), &last.n.to_be_bytes())?;
    Ok(())
}

impl NoteSink for NoteClient {
    /// One transaction for the notes and the counter.
    async fn push(&self, notes: &[Note], counter_key: &str) -> Result<Vec<u64>, PushError> {
        let (seqs, ()) = self
            .send_batch_with(notes, |tx, first| {
                count_in_push(tx, counter_key, notes, first)
            })
            .await?;
        Ok(seqs)
    }
}

/// The controller's outbox for one site.
pub struct ToSite {
    pub server: NoteServer,
    pub site: SiteId,
    /// The database the server runs on (for the counter).
    pub db: Db,
}

impl NoteSink for ToSite {
    /// The server offers no push with the caller's writes in its transaction: the counter is
    /// written after the push returned (durable by the next push's barrier, or the last one at
    /// shutdown), so at a kill it may lag the outbox.
    async fn push(&self, notes: &[Note], counter_key: &str) -> Result<Vec<u64>, PushError> {
        let seqs = self.server.send_batch(&self.site, notes).await?;
        if let (Some(&first_seq), Some(note)) = (seqs.first(), notes.first())
            && first_seq != note.n
        {
            return Err(PushError::Misnumbered { first_seq });
        }
        if let Some(last) = notes.last() {
            self.db
                .write(|tx| tx.insert(SENDER_TABLE, counter_key.as_bytes(), &last.n.to_be_bytes()))
                .map_err(LinkError::from)?;
        }
        Ok(seqs)
    }
}

fn counter_key(to: &PeerId) -> String {
    format!("sent/{}", to.storage_key())
}

fn read_u64(v: Option<Vec<u8>>) -> anyhow::Result<u64> {
    let Some(v) = v else { return Ok(0) };
    let bytes: [u8; 8] = v
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored counter has {} bytes, not 8", v.len()))?;
    Ok(u64::from_be_bytes(bytes))
}

/// Where sending to `to` resumes: the last note number already durably queued.
///
/// Call before the link is started on `db` (it opens the outbox on its own to read it).
pub fn resume_point(db: &Db, to: &PeerId) -> anyhow::Result<Resume> {
    let outbox_last = open_outbox(db, to)?.last_seq()?;
    let counter = read_u64(db.read()?.get(SENDER_TABLE, counter_key(to).as_bytes())?)?;
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
    /// Our own counter (the controller's may lag `outbox_last` by the batch in flight when
    /// the process died; the agent's equals it).
    pub counter: u64,
}

/// How to send.
#[derive(Clone, Debug)]
pub struct SendPlan {
    /// Send notes up to and including this number.
    pub total: u64,
    /// Notes per second; 0 = as fast as the outbox takes them.
    pub rate: u64,
    /// Most notes per push (one transaction and one barrier each).
    pub batch: u64,
    /// The sender's name written into each note.
    pub from: String,
}

/// Sends notes `resume.outbox_last + 1 ..= plan.total` to `to`, publishing the last durably
/// queued number in `sent`. Waits and retries while the outbox is full; any other error, or
/// numbers from the link that differ from the note numbers, end it with an error.
pub async fn run_sender(
    to: PeerId,
    sink: impl NoteSink,
    resume: Resume,
    plan: SendPlan,
    sent: Arc<AtomicU64>,
) -> anyhow::Result<()> {
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
        match sink.push(&notes, &key).await {
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
                sent.store(next - 1, Ordering::Relaxed);
            }
            Err(PushError::Link(e @ LinkError::OutboxFull { .. })) => {
                tracing::debug!("waiting for room: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(PushError::Link(e)) => return Err(e.into()),
            Err(PushError::Misnumbered { first_seq }) => anyhow::bail!(
                "the outbox numbered note {next} as {first_seq}: something else writes to the \
                 outbox for {to}"
            ),
        }
    }
    Ok(())
}
