//! One connection's protocol: the Hello exchange, then a reader and a writer on the one
//! bidirectional stream until either fails or the connection is closed from outside.
//!
//! - **Hello**: the agent opens the stream and speaks first; the controller answers after
//!   checking the version. Each Hello's `last_received` is read and then flushed before the
//!   Hello leaves, so it never claims more than is on disk; the peer deletes everything up to
//!   it from its outbox and resends from the next number. Each Hello also carries the
//!   sender's [`Numbering`]: the receiver's inbox follows the sender's epoch, and a claimed
//!   position that one side's state cannot explain (it lost state) starts a new epoch on
//!   that outbox and records the loss for the application to heal (`crate::loss`). The
//!   controller decides before its Hello, so the new epoch is in it; the agent decides after
//!   the controller's Hello, so it reconnects at once to announce it.
//! - **Reader**: decodes every frame available, applies data through the
//!   inbox, then flushes once and raises the ack watermark (group commit). Acks delete from the
//!   outbox. Requests run as tasks owned by the reader (bounded; aborted with it).
//! - **Writer**: sends the ack watermark, durable outbox entries within the
//!   unacknowledged window, queued requests/responses, and a heartbeat after an idle interval.
//!
//! The reader is in [`reader`], the writer in [`writer`]. They are two futures of one task:
//! when one ends, the other is dropped with it, so a session leaks nothing. A violation closes the connection with a [`CloseCode`], a reason,
//! and (when no frame is half-written) a Refuse frame first.

use std::sync::Arc;
use std::time::Duration;

use hotspot_pki::SiteId;
use hotspot_shared::fleet::{Envelope, Numbering, envelope::check_version};
use tokio::sync::mpsc;

use crate::Payload;
use crate::channel::Channel;
use crate::config::LinkConfig;
use crate::error::LinkError;
use crate::hooks::{DynRenewer, DynResponder};
use crate::inbox::Inbox;
use crate::loss::Losses;
use crate::outbox::{Outbox, Verdict};
use crate::peer::PeerId;
use crate::wire::{
    CloseCode, Control, End, FrameReader, InFrame, close, connection_error, encode, write_all,
};

mod reader;
mod writer;

use writer::Writer;

/// How long a closing side waits for its Refuse frame to be acknowledged.
const REFUSE_GRACE: Duration = Duration::from_millis(500);

/// Everything a session works with, shared by all connections of one endpoint.
pub(crate) struct Parts<In, Q, R> {
    pub peer: PeerId,
    pub config: Arc<LinkConfig>,
    pub outbox: Arc<Outbox>,
    pub inbox: Arc<Inbox<In>>,
    pub responder: Arc<dyn DynResponder<Q, R>>,
    /// Where a lost link state is announced to the application.
    pub losses: Arc<Losses>,
    /// On the controller, for this site: how to answer a renewal request.
    pub renewer: Option<(Arc<dyn DynRenewer>, SiteId)>,
}

/// A connection past its Hello exchange.
pub(crate) struct Established<Q, R> {
    pub channel: Arc<Channel<Q, R>>,
    out_rx: mpsc::Receiver<Vec<u8>>,
    reader: FrameReader,
    send: quinn::SendStream,
    peer_has: u64,
}

/// Our Hello and the position it claims. The position is read *before* the flush, so whatever
/// it counts is on disk when the Hello leaves (and so is our outbox's numbering).
async fn hello_frame<In: 'static, Q, R>(parts: &Parts<In, Q, R>) -> Result<(Vec<u8>, u64), End> {
    let we_have = parts.inbox.position(&parts.peer).map_err(End::storage)?;
    let (epoch, base) = parts.outbox.numbering().map_err(End::storage)?;
    parts.inbox.flush().await.map_err(End::storage)?;
    let numbering = Numbering {
        epoch,
        base,
        received_epoch: we_have.epoch,
    };
    let mut frame = Vec::new();
    encode(
        &Control::hello(we_have.seq, parts.config.software.clone(), numbering),
        parts.config.max_frame_len,
        &mut frame,
    )
    .map_err(End::storage)?;
    Ok((frame, we_have.seq))
}

/// What the peer's Hello says.
struct PeerHello {
    last_received: u64,
    numbering: Numbering,
}

/// Checks the peer's first frame.
fn check_hello<In: Payload, Q: Payload, R: Payload>(
    parts: &Parts<In, Q, R>,
    frame: InFrame<In, Q, R>,
) -> Result<PeerHello, End> {
    match frame {
        Envelope::Hello {
            version,
            last_received,
            software,
            numbering,
        } => {
            check_version(version).map_err(|r| End::Close {
                code: CloseCode::UnsupportedVersion,
                reason: r.to_string(),
                refuse: Some(r),
            })?;
            tracing::debug!(peer = %parts.peer, %software, last_received, ?numbering, "hello");
            Ok(PeerHello {
                last_received,
                numbering,
            })
        }
        Envelope::Refuse(r) => Err(End::Lost(LinkError::Refused(r))),
        other => Err(End::protocol(format!(
            "expected a hello first, got {}",
            other.kind()
        ))),
    }
}

/// Unix seconds now, for loss records.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Where both directions stand after the peer's Hello.
struct Adopted {
    /// What we hold of the peer's stream (in its current epoch).
    we_have: u64,
    /// What the peer holds of ours: send from the next number.
    peer_has: u64,
    /// Our outbox started a new epoch (the peer must learn it from a Hello).
    renumbered: bool,
}

impl<In: Payload, Q, R> Parts<In, Q, R> {
    /// Takes the peer's Hello: our inbox follows its epoch; its claimed position is judged
    /// against our outbox, which starts a new epoch (and records the loss) if one side lost
    /// state.
    async fn adopt(&self, peer: &PeerHello) -> Result<Adopted, End> {
        let n = peer.numbering;
        let position = self
            .inbox
            .enter_epoch(&self.peer, n.epoch, n.base)
            .map_err(End::storage)?;
        let verdict = self
            .outbox
            .judge(n.received_epoch, peer.last_received)
            .map_err(End::storage)?;
        match verdict {
            Verdict::Resume { peer_has, ack } => {
                if let Some(upto) = ack {
                    self.outbox.ack(upto).map_err(End::storage)?;
                }
                Ok(Adopted {
                    we_have: position.seq,
                    peer_has,
                    renumbered: false,
                })
            }
            Verdict::Lost(kind, detail) => {
                tracing::warn!(peer = %self.peer, kind = kind.as_str(), "link state lost: {detail}; starting a new numbering and healing");
                let (loss, base) = self
                    .outbox
                    .start_epoch(&self.peer, kind, detail, unix_now())
                    .await
                    .map_err(End::storage)?;
                self.losses.notify();
                tracing::debug!(peer = %self.peer, epoch = loss.epoch, base, "new epoch");
                Ok(Adopted {
                    we_have: position.seq,
                    peer_has: base,
                    renumbered: true,
                })
            }
        }
    }
}

impl<In: Payload, Q: Payload, R: Payload> Parts<In, Q, R> {
    /// The agent's side: open the stream, send our Hello, read the controller's.
    pub(crate) async fn open_as_client(
        &self,
        conn: &quinn::Connection,
    ) -> Result<Established<Q, R>, End> {
        let (mut send, recv) = conn
            .open_bi()
            .await
            .map_err(|e| End::Lost(connection_error(&e)))?;
        let mut reader = FrameReader::new(recv, self.config.max_frame_len);
        let result = async {
            let (hello, _) = hello_frame(self).await?;
            write_all(&mut send, &hello).await?;
            let frame = reader
                .read_one(self.config.hello_timeout, "hello from the controller")
                .await?;
            let adopted = self.adopt(&check_hello(self, frame)?).await?;
            if adopted.renumbered {
                // The controller must hear of the new numbering in a Hello before any data.
                return Err(End::Close {
                    code: CloseCode::Renumbered,
                    reason: "link state healed: reconnecting with a new numbering".into(),
                    refuse: None,
                });
            }
            Ok((adopted.we_have, adopted.peer_has))
        }
        .await;
        self.established(conn, send, reader, result).await
    }

    /// The controller's side, on the stream the agent opened: read its Hello, answer ours.
    pub(crate) async fn open_as_server(
        &self,
        conn: &quinn::Connection,
        send: quinn::SendStream,
        recv: quinn::RecvStream,
    ) -> Result<Established<Q, R>, End> {
        let mut send = send;
        let mut reader = FrameReader::new(recv, self.config.max_frame_len);
        let result = async {
            let frame = reader
                .read_one(self.config.hello_timeout, "hello from the agent")
                .await?;
            let adopted = self.adopt(&check_hello(self, frame)?).await?;
            let (hello, we_have) = hello_frame(self).await?;
            write_all(&mut send, &hello).await?;
            Ok((we_have, adopted.peer_has))
        }
        .await;
        self.established(conn, send, reader, result).await
    }

    async fn established(
        &self,
        conn: &quinn::Connection,
        mut send: quinn::SendStream,
        reader: FrameReader,
        result: Result<(u64, u64), End>,
    ) -> Result<Established<Q, R>, End> {
        let (we_have, peer_has) = match result {
            Ok(positions) => positions,
            Err(end) => {
                close(conn, Some(&mut send), &end, REFUSE_GRACE).await;
                return Err(end);
            }
        };
        let (channel, out_rx) = Channel::new(&self.config, we_have, peer_has);
        Ok(Established {
            channel: Arc::new(channel),
            out_rx,
            reader,
            send,
            peer_has,
        })
    }

    /// Runs the session until it ends; closes the connection (with a reason) if this side ends it.
    pub(crate) async fn run(&self, conn: &quinn::Connection, est: Established<Q, R>) -> End {
        let Established {
            channel,
            mut out_rx,
            mut reader,
            send,
            peer_has,
        } = est;
        let mut writer = Writer {
            send,
            mid_frame: false,
            buf: Vec::new(),
        };
        let end = tokio::select! {
            end = self.read_loop(&channel, &mut reader) => end,
            end = writer.run(self, &channel, &mut out_rx, peer_has) => end,
        };
        channel.fail_pending();
        let send = if writer.mid_frame {
            None
        } else {
            Some(&mut writer.send)
        };
        close(conn, send, &end, REFUSE_GRACE).await;
        end
    }
}
