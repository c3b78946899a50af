//! One connection's state shared by its session task and the API: requests waiting for
//! answers, frames queued for the writer, the writer's wake-ups, and liveness.
//!
//! The reader never waits on the writer: acks are a watermark (`ack_out`) plus a wake-up, and
//! requests/responses go through a bounded queue sized above the in-flight caps, so `try_send`
//! only fails when a cap is already broken. That is what keeps two busy peers from
//! deadlocking on QUIC flow control.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use hotspot_shared::fleet::Envelope;
use serde::Serialize;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::config::LinkConfig;
use crate::error::LinkError;
use crate::wire::{CloseCode, LinkRequest, LinkResponse, close_now, encode};

type Pending<R> = HashMap<u64, oneshot::Sender<LinkResponse<R>>>;

pub(crate) struct Channel<Q, R> {
    out: mpsc::Sender<Vec<u8>>,
    pending: Mutex<Pending<R>>,
    next_id: AtomicU64,
    max_in_flight: usize,
    max_frame: usize,
    /// Highest sequence number applied and flushed, to acknowledge.
    pub(crate) ack_out: AtomicU64,
    /// Highest sequence number the peer acknowledged on this connection.
    pub(crate) peer_acked: AtomicU64,
    /// Highest sequence number handed to the stream (set before the write).
    pub(crate) sent_max: AtomicU64,
    /// Wakes the writer (ack to send, window opened).
    pub(crate) wake: Notify,
    opened: Instant,
    opened_wall: SystemTime,
    last_frame_ms: AtomicU64,
    /// Why this side closed the connection from outside the session (revoked, replaced, ...).
    closed_because: Mutex<Option<String>>,
    _q: PhantomData<fn(Q)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes a pending request when its caller stops waiting (answer, timeout or cancel).
struct PendingGuard<'a, R> {
    pending: &'a Mutex<Pending<R>>,
    id: u64,
}

impl<R> Drop for PendingGuard<'_, R> {
    fn drop(&mut self) {
        lock(self.pending).remove(&self.id);
    }
}

impl<Q: Serialize, R> Channel<Q, R> {
    /// A channel whose peer said it has everything up to `peer_has`, and to which we said we
    /// have everything up to `we_have`.
    pub(crate) fn new(
        config: &LinkConfig,
        we_have: u64,
        peer_has: u64,
    ) -> (Self, mpsc::Receiver<Vec<u8>>) {
        let (out, rx) = mpsc::channel(2 * config.max_requests_in_flight + 8);
        let channel = Channel {
            out,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            max_in_flight: config.max_requests_in_flight,
            max_frame: config.max_frame_len,
            ack_out: AtomicU64::new(we_have),
            peer_acked: AtomicU64::new(peer_has),
            sent_max: AtomicU64::new(peer_has),
            wake: Notify::new(),
            opened: Instant::now(),
            opened_wall: SystemTime::now(),
            last_frame_ms: AtomicU64::new(0),
            closed_because: Mutex::new(None),
            _q: PhantomData,
        };
        (channel, rx)
    }

    /// Sends a request and waits for its answer until `deadline`.
    pub(crate) async fn request(
        &self,
        body: LinkRequest<Q>,
        deadline: Duration,
    ) -> Result<LinkResponse<R>, LinkError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let deadline_ms = u32::try_from(deadline.as_millis()).unwrap_or(u32::MAX);
        let mut frame = Vec::new();
        encode(
            &Envelope::<(), _, ()>::Request {
                id,
                deadline_ms,
                body,
            },
            self.max_frame,
            &mut frame,
        )?;
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = lock(&self.pending);
            if pending.len() >= self.max_in_flight {
                return Err(LinkError::Busy {
                    max: self.max_in_flight,
                });
            }
            pending.insert(id, tx);
        }
        let _guard = PendingGuard {
            pending: &self.pending,
            id,
        };
        self.out.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => LinkError::Busy {
                max: self.max_in_flight,
            },
            mpsc::error::TrySendError::Closed(_) => LinkError::Closed,
        })?;
        match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(LinkError::Closed),
            Err(_) => Err(LinkError::Timeout(deadline)),
        }
    }
}

impl<Q, R: Serialize> Channel<Q, R> {
    /// Queues the answer to the peer's request `id`; an answer too big for a frame becomes a
    /// `Failed` saying so.
    pub(crate) fn respond(&self, id: u64, body: LinkResponse<R>) {
        let mut frame = Vec::new();
        if let Err(e) = encode(
            &Envelope::<(), (), _>::Response { id, body },
            self.max_frame,
            &mut frame,
        ) {
            frame.clear();
            let failed =
                LinkResponse::<()>::Failed(format!("the answer does not fit a frame: {e}"));
            if encode(
                &Envelope::<(), (), _>::Response { id, body: failed },
                self.max_frame,
                &mut frame,
            )
            .is_err()
            {
                return;
            }
        }
        if self.out.try_send(frame).is_err() {
            tracing::warn!(id, "response dropped: writer queue full or closed");
        }
    }
}

impl<Q, R> Channel<Q, R> {
    /// Hands the peer's answer to the waiting requester; late answers are dropped.
    pub(crate) fn complete(&self, id: u64, body: LinkResponse<R>) {
        if let Some(tx) = lock(&self.pending).remove(&id) {
            let _ = tx.send(body);
        } else {
            tracing::debug!(id, "answer to a request nobody waits for (timed out?)");
        }
    }

    /// Fails every waiting request with `Closed` (the connection ended).
    pub(crate) fn fail_pending(&self) {
        lock(&self.pending).clear();
    }

    /// A frame arrived.
    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_frame_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long since the last frame (or since the connection opened).
    pub(crate) fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_frame_ms.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(last)
    }

    /// Wall-clock time of the last frame.
    pub(crate) fn last_seen(&self) -> SystemTime {
        self.opened_wall + Duration::from_millis(self.last_frame_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn opened_at(&self) -> SystemTime {
        self.opened_wall
    }

    /// Closes `conn` (this channel's connection) from outside the session, remembering why.
    pub(crate) fn close(&self, conn: &quinn::Connection, code: CloseCode, reason: &str) {
        lock(&self.closed_because).get_or_insert_with(|| reason.to_string());
        close_now(conn, code, reason);
    }

    /// The reason given to [`Channel::close`], if it was called.
    pub(crate) fn closed_because(&self) -> Option<String> {
        lock(&self.closed_because).clone()
    }

    /// Raises the ack watermark and wakes the writer.
    pub(crate) fn ack_upto(&self, seq: u64) {
        if self.ack_out.fetch_max(seq, Ordering::AcqRel) < seq {
            self.wake.notify_one();
        }
    }
}
