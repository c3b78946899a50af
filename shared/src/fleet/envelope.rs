//! What travels in a frame on the fleet link.
//!
//! One envelope type serves both directions; its type parameters are the payloads: `D` the
//! sequenced data (commands from the controller, events from the agent), `Q` requests and `R`
//! responses of the request/response side channel ("test this router now").
//!
//! `Hello` is variant 0 and its first field is the version, in every version of this protocol,
//! so that any peer can read a Hello and refuse politely instead of failing to decode.

use serde::{Deserialize, Serialize};

/// The version this build speaks. A peer with another version is refused with a reason.
///
/// Version 2 added [`Numbering`] to the Hello: epochs, so that a side that lost its link state
/// (a wiped disk, a restored backup) is recognised and both sides heal instead of refusing.
pub const PROTOCOL_VERSION: u16 = 2;

/// Which numbering a side's sequence numbers belong to.
///
/// Each outbox numbers its messages within an *epoch*: a random `u64` drawn when the outbox is
/// made and again whenever it has to start a new numbering because one side lost state. A
/// message is named by `(epoch, seq)`, so a number is never taken for another message across a
/// loss. An epoch's first message is `base + 1`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Numbering {
    /// The epoch of the sender's outbox to this peer.
    pub epoch: u64,
    /// The sequence number before that epoch's first message.
    pub base: u64,
    /// The peer's epoch that `last_received` counts in (0: nothing received from it).
    pub received_epoch: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Envelope<D, Q, R> {
    /// First message each way.
    Hello {
        version: u16,
        /// Highest data sequence number the sender has durably received from this peer; the
        /// peer resends everything after it.
        last_received: u64,
        /// Free text for logs (software name and version).
        software: String,
        /// Epochs (since version 2; appended, so an older peer still reads the version).
        numbering: Numbering,
    },
    /// The sender will close the connection, and says why.
    Refuse(Refusal),
    /// A durable message; `seq` counts from 1 per direction and per peer.
    Data { seq: u64, body: D },
    /// Everything up to and including `seq` is durably applied: the sender may delete it.
    Ack { seq: u64 },
    /// Liveness on an idle link; `sent_at_ms` is the sender's clock, for logs only.
    Heartbeat { sent_at_ms: u64 },
    /// A request that wants an answer before `deadline_ms` (milliseconds from receipt).
    Request { id: u64, deadline_ms: u32, body: Q },
    /// The answer to request `id`.
    Response { id: u64, body: R },
}

/// Why a peer refuses the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    #[error("unsupported protocol version {got}: this side speaks {supported}")]
    UnsupportedVersion { got: u16, supported: u16 },
    #[error("the site's certificate is revoked")]
    Revoked,
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("shutting down")]
    Shutdown,
}

impl<D, Q, R> Envelope<D, Q, R> {
    pub fn hello(last_received: u64, software: impl Into<String>, numbering: Numbering) -> Self {
        Envelope::Hello {
            version: PROTOCOL_VERSION,
            last_received,
            software: software.into(),
            numbering,
        }
    }

    /// A short name for logs, without the payload.
    pub fn kind(&self) -> &'static str {
        match self {
            Envelope::Hello { .. } => "hello",
            Envelope::Refuse(_) => "refuse",
            Envelope::Data { .. } => "data",
            Envelope::Ack { .. } => "ack",
            Envelope::Heartbeat { .. } => "heartbeat",
            Envelope::Request { .. } => "request",
            Envelope::Response { .. } => "response",
        }
    }
}

/// Checks a peer's Hello version.
pub fn check_version(got: u16) -> Result<(), Refusal> {
    if got == PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(Refusal::UnsupportedVersion {
            got,
            supported: PROTOCOL_VERSION,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type E = Envelope<String, u8, u16>;

    #[test]
    fn hello_layout_is_stable() {
        // Variant 0, then the version as a varint: a future peer can always read these bytes.
        let bytes = postcard::to_stdvec(&E::hello(5, "x", Numbering::default())).expect("encodes");
        assert_eq!(&bytes[..3], &[0, PROTOCOL_VERSION as u8, 5]);
    }

    #[test]
    fn a_future_hello_is_readable_and_refused() {
        // A v3 peer whose envelope has other variants still sends Hello as variant 0, with
        // its new fields appended.
        #[derive(Serialize)]
        enum Future {
            Hello {
                version: u16,
                last_received: u64,
                software: String,
                numbering: Numbering,
                more: String,
            },
        }
        let bytes = postcard::to_stdvec(&Future::Hello {
            version: 3,
            last_received: 0,
            software: "v3".into(),
            numbering: Numbering::default(),
            more: "later".into(),
        })
        .expect("encodes");
        let got: E = postcard::from_bytes(&bytes).expect("readable");
        let Envelope::Hello { version, .. } = got else {
            panic!("not a hello: {got:?}")
        };
        assert_eq!(
            check_version(version),
            Err(Refusal::UnsupportedVersion {
                got: 3,
                supported: PROTOCOL_VERSION
            })
        );
    }

    #[test]
    fn every_variant_round_trips() {
        let all: Vec<E> = vec![
            E::hello(
                7,
                "agent 0.1",
                Numbering {
                    epoch: u64::MAX,
                    base: 3,
                    received_epoch: 9,
                },
            ),
            E::Refuse(Refusal::Revoked),
            E::Data {
                seq: u64::MAX,
                body: "create".into(),
            },
            E::Ack { seq: 3 },
            E::Heartbeat { sent_at_ms: 1 },
            E::Request {
                id: 9,
                deadline_ms: 5000,
                body: 1,
            },
            E::Response { id: 9, body: 2 },
        ];
        for e in all {
            let bytes = postcard::to_stdvec(&e).expect("encodes");
            assert_eq!(postcard::from_bytes::<E>(&bytes).expect("decodes"), e);
        }
    }
}
