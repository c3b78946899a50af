//! The link's errors, one enum per boundary.
//!
//! [`LinkError`] is what callers of the link see (send, request, enroll, start); each variant
//! says what happened in terms a caller can act on: retry later (`Offline`, `Timeout`,
//! `Closed`, `Busy`), tell the user the queue is full (`OutboxFull`), fix configuration or
//! certificates (`Tls`, `Refused`, `Denied`), or investigate (`Storage`, `Protocol`).
//! [`ApplyError`] is what an application's [`crate::Inbound`] hook returns.

use std::time::Duration;

use hotspot_shared::fleet::Refusal;
use hotspot_storage::StorageError;

/// What can go wrong on the link, as seen by its callers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The peer has no open connection; the request was not sent.
    #[error("{peer} is not connected")]
    Offline { peer: String },
    /// No answer before the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection ended before the answer came; the request may or may not have run.
    #[error("the connection closed before an answer came")]
    Closed,
    /// The peer's outbox holds its maximum; the message was not queued.
    #[error(
        "outbox for {peer} is full ({len} of at most {max} messages waiting); the peer has been unreachable or is not acknowledging"
    )]
    OutboxFull { peer: String, len: u64, max: u64 },
    /// Too many requests are waiting for answers on this connection.
    #[error("too many requests in flight (at most {max}); try again shortly")]
    Busy { max: usize },
    /// A message is bigger than a frame may be.
    #[error("message of {len} bytes does not fit the frame cap of {max} bytes; split it")]
    TooLarge { len: usize, max: usize },
    /// The peer refused the connection, with its reason.
    #[error("refused by the peer: {0}")]
    Refused(Refusal),
    /// This side closed the connection, for the reason given.
    #[error("connection closed by this side: {0}")]
    ClosedHere(String),
    /// The peer closed the connection with a reason.
    #[error("connection closed by the peer: {reason} (code {code})")]
    ClosedByPeer { code: u64, reason: String },
    /// The controller or a hook said no (enrollment, renewal, an application request).
    #[error("denied: {0}")]
    Denied(String),
    /// TLS configuration or handshake failure (certificate refused, unknown CA, ...).
    #[error("TLS: {0}")]
    Tls(String),
    /// QUIC could not connect or the connection was lost.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The peer broke the protocol; the connection was closed.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The database failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A value did not encode or decode with postcard.
    #[error("encoding: {0}")]
    Encode(String),
    /// A setting that cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Socket set-up failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The link was shut down.
    #[error("the link is shut down")]
    Shutdown,
}

impl LinkError {
    /// Whether trying the same thing again later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LinkError::Offline { .. }
                | LinkError::Timeout(_)
                | LinkError::Closed
                | LinkError::Busy { .. }
                | LinkError::OutboxFull { .. }
                | LinkError::Connect(_)
                | LinkError::ClosedByPeer { .. }
                | LinkError::ClosedHere(_)
        )
    }
}

/// Why an application could not apply an inbound message.
///
/// Either way the message is **not** recorded as applied, no ack is sent for it, and the
/// connection is closed; the peer redelivers it after reconnecting. A message the application
/// can never apply should instead be applied as "failed" (recorded in the application's own
/// trees, e.g. as a failure event), so the link moves on.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The database failed inside the transaction (propagate it with `?`).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The application cannot apply the message now.
    #[error("{0}")]
    Failed(String),
}
