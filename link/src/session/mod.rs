//! One connection's protocol: the Hello exchange, then a reader and a writer on the one
//! bidirectional stream until either fails or the connection is closed from outside.
//!
//! - **Hello**: the agent opens the stream and speaks first; the controller answers after
//!   checking the version. Each Hello's `last_received` is read and then flushed before the
//!   Hello leaves, so it never claims more than is on disk; the peer deletes everything up to
//!   it from its outbox and resends from the next number.
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
use hotspot_shared::fleet::{Envelope, envelope::check_version};
use tokio::sync::mpsc;

use crate::Payload;
use crate::channel::Channel;
use crate::config::LinkConfig;
use crate::error::LinkError;
use crate::hooks::{DynRenewer, DynResponder};
use crate::inbox::Inbox;
use crate::outbox::Outbox;
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
/// it counts is on disk when the Hello leaves.
async fn hello_frame<In: 'static, Q, R>(parts: &Parts<In, Q, R>) -> Result<(Vec<u8>, u64), End> {
    let we_have = parts
        .inbox
        .last_applied(&parts.peer)
        .map_err(End::storage)?;
    parts.inbox.flush().await.map_err(End::storage)?;
    let mut frame = Vec::new();
    encode(
        &Control::hello(we_have, parts.config.software.clone()),
        parts.config.max_frame_len,
        &mut frame,
    )
    .map_err(End::storage)?;
    Ok((frame, we_have))
}

/// Checks the peer's first frame; returns its `last_received`.
fn check_hello<In: Payload, Q: Payload, R: Payload>(
    parts: &Parts<In, Q, R>,
    frame: InFrame<In, Q, R>,
) -> Result<u64, End> {
    match frame {
        Envelope::Hello {
            version,
            last_received,
            software,
        } => {
            check_version(version).map_err(|r| End::Close {
                code: CloseCode::UnsupportedVersion,
                reason: r.to_string(),
                refuse: Some(r),
            })?;
            parts
                .outbox
                .check_peer_position(last_received)
                .map_err(End::protocol)?;
            parts.outbox.ack(last_received).map_err(End::storage)?;
            tracing::debug!(peer = %parts.peer, %software, last_received, "hello");
            Ok(last_received)
        }
        Envelope::Refuse(r) => Err(End::Lost(LinkError::Refused(r))),
        other => Err(End::protocol(format!(
            "expected a hello first, got {}",
            other.kind()
        ))),
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
            let (hello, we_have) = hello_frame(self).await?;
            write_all(&mut send, &hello).await?;
            let frame = reader
                .read_one(self.config.hello_timeout, "hello from the controller")
                .await?;
            Ok((we_have, check_hello(self, frame)?))
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
            let peer_has = check_hello(self, frame)?;
            let (hello, we_have) = hello_frame(self).await?;
            write_all(&mut send, &hello).await?;
            Ok((we_have, peer_has))
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
