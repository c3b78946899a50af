//! The link's own wire types beside [`Envelope`], and frame IO over QUIC streams.
//!
//! The envelope in `shared` carries the application's `Q`/`R` in its request and response
//! variants. The link wraps them ([`LinkRequest`], [`LinkResponse`]) so that link-level control
//! (certificate renewal) travels apart from application requests and an application can never
//! spoof it. Enrollment has its own tiny protocol ([`EnrollRequest`] → [`EnrollReply`]) because
//! it runs on connections without a client certificate, which may do nothing else.
//!
//! [`CloseCode`] is the QUIC application error code of every close the link makes; the close
//! reason beside it is human text for logs.

use std::time::Duration;

use hotspot_pki::SiteId;
use hotspot_shared::fleet::{Envelope, FrameDecoder, FrameError, Refusal, encode_frame};
use serde::de::DeserializeOwned;
use serde::ser::SerializeTuple;
use serde::{Deserialize, Serialize};

use crate::error::LinkError;

/// Version of the enrollment exchange.
pub const ENROLL_VERSION: u16 = 1;
/// Largest enrollment frame (a CSR is about 250 bytes, a chain a few KiB).
pub const MAX_ENROLL_FRAME: usize = 64 * 1024;
/// Longest close reason we send; QUIC close frames must fit in one packet.
const MAX_REASON: usize = 400;

/// A request on the side channel: the application's, or the link's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkRequest<Q> {
    App(Q),
    /// An authenticated agent asks for a new certificate for its (new) key.
    Renew {
        csr_der: Vec<u8>,
    },
}

/// The answer to a [`LinkRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkResponse<R> {
    App(R),
    Renewed {
        cert_chain_pem: String,
    },
    /// The request was not answered: no such handler, busy, or the handler failed.
    Failed(String),
}

/// First and only message of an agent without a certificate.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// [`ENROLL_VERSION`]; first, so any future request stays readable enough to refuse.
    pub version: u16,
    pub token: String,
    pub csr_der: Vec<u8>,
}

impl std::fmt::Debug for EnrollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollRequest")
            .field("version", &self.version)
            .field("token", &"[redacted]")
            .field("csr_der_len", &self.csr_der.len())
            .finish()
    }
}

/// What an enrolled agent receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollGrant {
    pub site_id: SiteId,
    /// The agent's certificate (then the CA), PEM.
    pub cert_chain_pem: String,
    /// The fleet CA certificate, PEM: what the agent trusts from now on.
    pub ca_pem: String,
}

/// The controller's answer to an [`EnrollRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnrollReply {
    Granted(EnrollGrant),
    /// Human-readable reason (bad token, expired, reused, ...).
    Refused(String),
}

/// QUIC application error codes of the closes the link makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCode {
    Normal = 0,
    Shutdown = 1,
    Protocol = 2,
    UnsupportedVersion = 3,
    Revoked = 4,
    Replaced = 5,
    Silent = 6,
    Renewing = 7,
    Enrolled = 8,
    Busy = 9,
    Unauthenticated = 10,
    Storage = 11,
    CertificateExpired = 12,
    /// The agent started a new numbering after a loss and reconnects to announce it.
    Renumbered = 13,
}

impl CloseCode {
    const ALL: [CloseCode; 14] = [
        CloseCode::Normal,
        CloseCode::Shutdown,
        CloseCode::Protocol,
        CloseCode::UnsupportedVersion,
        CloseCode::Revoked,
        CloseCode::Replaced,
        CloseCode::Silent,
        CloseCode::Renewing,
        CloseCode::Enrolled,
        CloseCode::Busy,
        CloseCode::Unauthenticated,
        CloseCode::Storage,
        CloseCode::CertificateExpired,
        CloseCode::Renumbered,
    ];

    pub fn to_varint(self) -> quinn::VarInt {
        quinn::VarInt::from_u32(self as u32)
    }

    pub fn from_code(code: u64) -> Option<CloseCode> {
        CloseCode::ALL.into_iter().find(|c| *c as u64 == code)
    }
}

/// Frames a session decodes.
pub(crate) type InFrame<In, Q, R> = Envelope<In, LinkRequest<Q>, LinkResponse<R>>;

/// Frames whose payload slots do not matter (Hello, Ack, Heartbeat, Refuse): postcard encodes a
/// variant by its index, so `Envelope<(), (), ()>` bytes decode as any `Envelope<D, Q, R>`.
pub(crate) type Control = Envelope<(), (), ()>;

/// Bytes that are already postcard: serialised as a tuple of `u8`, which postcard writes
/// verbatim. Lets the outbox keep `postcard(body)` and frame it without decoding it.
pub(crate) struct Verbatim<'a>(pub &'a [u8]);

impl Serialize for Verbatim<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(self.0.len())?;
        for b in self.0 {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

/// Appends one frame, mapping frame errors to link errors.
pub(crate) fn encode<T: Serialize>(
    value: &T,
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), LinkError> {
    encode_frame(value, max, out).map_err(|e| match e {
        FrameError::TooLarge { len, max } => LinkError::TooLarge { len, max },
        other => LinkError::Encode(other.to_string()),
    })
}

/// How a connection ends.
#[derive(Debug)]
pub(crate) enum End {
    /// This side closes: `code` and `reason` go to the peer, after a Refuse frame if set.
    Close {
        code: CloseCode,
        reason: String,
        refuse: Option<Refusal>,
    },
    /// The connection is already gone, or the peer refused us.
    Lost(LinkError),
}

impl End {
    /// This side started a new numbering and closes to announce it in a new Hello.
    pub(crate) fn is_renumbered(&self) -> bool {
        matches!(
            self,
            End::Close {
                code: CloseCode::Renumbered,
                ..
            }
        )
    }

    pub(crate) fn protocol(reason: impl Into<String>) -> End {
        let reason = reason.into();
        End::Close {
            code: CloseCode::Protocol,
            refuse: Some(Refusal::Protocol(reason.clone())),
            reason,
        }
    }

    pub(crate) fn storage(e: impl std::fmt::Display) -> End {
        End::Close {
            code: CloseCode::Storage,
            reason: format!("local storage failed: {e}"),
            refuse: None,
        }
    }

    /// The error a caller sees for this end.
    pub(crate) fn into_error(self) -> LinkError {
        match self {
            End::Close {
                refuse: Some(Refusal::UnsupportedVersion { got, supported }),
                ..
            } => LinkError::Protocol(format!("peer speaks version {got}, we speak {supported}")),
            End::Close {
                code: CloseCode::Protocol,
                reason,
                ..
            } => LinkError::Protocol(reason),
            End::Close {
                code: CloseCode::Storage,
                reason,
                ..
            } => LinkError::Protocol(format!("local storage failed: {reason}")),
            End::Close { .. } => LinkError::Closed,
            End::Lost(e) => e,
        }
    }
}

/// The link error for a QUIC connection error; TLS alerts are told apart from the rest.
pub(crate) fn connection_error(e: &quinn::ConnectionError) -> LinkError {
    use quinn::ConnectionError as C;
    let is_crypto = |code: quinn::TransportErrorCode| (0x100..0x200).contains(&u64::from(code));
    match e {
        C::ApplicationClosed(close) => LinkError::ClosedByPeer {
            code: close.error_code.into_inner(),
            reason: String::from_utf8_lossy(&close.reason).into_owned(),
        },
        C::ConnectionClosed(close) if is_crypto(close.error_code) => {
            LinkError::Tls(close.to_string())
        }
        C::TransportError(err) if is_crypto(err.code) => LinkError::Tls(err.to_string()),
        C::LocallyClosed => LinkError::Closed,
        other => LinkError::Connect(other.to_string()),
    }
}

fn read_error(e: quinn::ReadError) -> End {
    match e {
        quinn::ReadError::ConnectionLost(c) => End::Lost(connection_error(&c)),
        other => End::protocol(format!("stream read failed: {other}")),
    }
}

fn write_error(e: quinn::WriteError) -> End {
    match e {
        quinn::WriteError::ConnectionLost(c) => End::Lost(connection_error(&c)),
        other => End::protocol(format!("stream write failed: {other}")),
    }
}

/// Capped frame reading from a QUIC receive stream. Reads borrow quinn's own buffers
/// (`read_chunk`), so an idle connection holds no read buffer of its own: what matters with
/// thousands of agents on one controller.
pub(crate) struct FrameReader {
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
}

/// Largest chunk taken from quinn at once.
const READ_CHUNK: usize = 64 * 1024;

impl FrameReader {
    pub(crate) fn new(recv: quinn::RecvStream, max_frame: usize) -> Self {
        FrameReader {
            recv,
            decoder: FrameDecoder::new(max_frame),
        }
    }

    /// Reads what is available (at least one byte). The end of the stream is an error: the
    /// link's stream lives as long as the connection.
    pub(crate) async fn fill(&mut self) -> Result<(), End> {
        match self
            .recv
            .read_chunk(READ_CHUNK, true)
            .await
            .map_err(read_error)?
        {
            Some(chunk) => {
                self.decoder.feed(&chunk.bytes);
                Ok(())
            }
            None => Err(End::protocol("the peer finished its stream")),
        }
    }

    /// The next buffered frame, without reading.
    pub(crate) fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>, End> {
        self.decoder
            .next_frame()
            .map_err(|e| End::protocol(e.to_string()))
    }

    /// Reads until one whole frame is in, within `deadline`.
    pub(crate) async fn read_one<T: DeserializeOwned>(
        &mut self,
        deadline: Duration,
        what: &str,
    ) -> Result<T, End> {
        let read = async {
            loop {
                if let Some(v) = self.next()? {
                    return Ok(v);
                }
                self.fill().await?;
            }
        };
        tokio::time::timeout(deadline, read)
            .await
            .map_err(|_| End::protocol(format!("no {what} within {deadline:?}")))?
    }
}

/// Writes bytes to a stream, mapping errors.
pub(crate) async fn write_all(send: &mut quinn::SendStream, bytes: &[u8]) -> Result<(), End> {
    send.write_all(bytes).await.map_err(write_error)
}

/// Closes `conn` as `end` says. When a Refuse frame is asked for (and no frame is half-written),
/// it is sent first and the peer gets up to `grace` to read it and close on its own; then the
/// QUIC close goes out with code and reason. A refusal received from the peer is answered by a
/// plain close.
pub(crate) async fn close(
    conn: &quinn::Connection,
    send: Option<&mut quinn::SendStream>,
    end: &End,
    grace: Duration,
) {
    let (code, reason, refuse) = match end {
        End::Close {
            code,
            reason,
            refuse,
        } => (*code, reason.as_str(), refuse.as_ref()),
        End::Lost(LinkError::Refused(_)) => (CloseCode::Normal, "refusal received", None),
        End::Lost(_) => return,
    };
    if let (Some(send), Some(refusal)) = (send, refuse) {
        let mut frame = Vec::new();
        if encode(
            &Control::Refuse(refusal.clone()),
            MAX_ENROLL_FRAME,
            &mut frame,
        )
        .is_ok()
        {
            let _ = tokio::time::timeout(grace, async {
                if send.write_all(&frame).await.is_ok() && send.finish().is_ok() {
                    conn.closed().await;
                }
            })
            .await;
        }
    }
    close_now(conn, code, reason);
}

/// Closes `conn` at once with `code` and `reason` (cut to fit a packet).
pub(crate) fn close_now(conn: &quinn::Connection, code: CloseCode, reason: &str) {
    let mut cut = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    conn.close(code.to_varint(), &reason.as_bytes()[..cut]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbatim_frames_equal_framing_the_decoded_body() {
        let body = (String::from("create user"), 42u64, vec![1u8, 2, 3]);
        let stored = postcard::to_stdvec(&body).expect("encodes");
        let direct = postcard::to_stdvec(&Envelope::<_, (), ()>::Data {
            seq: 300,
            body: body.clone(),
        })
        .expect("encodes");
        let verbatim = postcard::to_stdvec(&Envelope::<_, (), ()>::Data {
            seq: 300,
            body: Verbatim(&stored),
        })
        .expect("encodes");
        assert_eq!(direct, verbatim);
        let back: Envelope<(String, u64, Vec<u8>), u8, u8> =
            postcard::from_bytes(&verbatim).expect("decodes");
        assert_eq!(back, Envelope::Data { seq: 300, body });
    }

    #[test]
    fn control_frames_decode_as_any_envelope() {
        let bytes = postcard::to_stdvec(&Control::Ack { seq: 7 }).expect("encodes");
        let back: InFrame<String, u32, bool> = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, Envelope::Ack { seq: 7 });
    }

    #[test]
    fn close_codes_round_trip() {
        for c in CloseCode::ALL {
            assert_eq!(CloseCode::from_code(c as u64), Some(c));
        }
        assert_eq!(CloseCode::from_code(999), None);
    }
}
