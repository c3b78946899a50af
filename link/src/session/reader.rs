//! The receiving half of a session: decode what is buffered, apply data through the inbox,
//! flush once, then raise the ack watermark (group commit); handle acks, requests and answers.
//!
//! It never waits on the writer (acks are a watermark, answers go through a bounded queue), so
//! a peer that is slow to read cannot stop this side from reading, and two busy peers cannot
//! deadlock on QUIC flow control. Requests from the peer run as tasks owned by the reader's
//! `JoinSet` (at most `max_requests_in_flight`), aborted when the session ends.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hotspot_shared::fleet::Envelope;
use tokio::task::JoinSet;

use super::Parts;
use crate::Payload;
use crate::channel::Channel;
use crate::error::LinkError;
use crate::inbox::Refused;
use crate::wire::{CloseCode, End, FrameReader, InFrame, LinkRequest, LinkResponse};

impl<In: Payload, Q: Payload, R: Payload> Parts<In, Q, R> {
    pub(super) async fn read_loop(
        &self,
        channel: &Arc<Channel<Q, R>>,
        reader: &mut FrameReader,
    ) -> End {
        let mut tasks = JoinSet::new();
        loop {
            // Frames may already be buffered (they can arrive with the Hello): decode those
            // before waiting for more bytes.
            while tasks.try_join_next().is_some() {}
            let mut batch = Vec::new();
            let mut failure = None;
            loop {
                let frame = match reader.next::<InFrame<In, Q, R>>() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(end) => {
                        failure = Some(end);
                        break;
                    }
                };
                if let Err(end) = self.handle(frame, channel, &mut tasks, &mut batch) {
                    failure = Some(end);
                    break;
                }
            }
            if !batch.is_empty() {
                // Everything this read delivered, in one transaction.
                if let Err(refused) = self.inbox.offer_batch(&self.peer, &batch) {
                    failure.get_or_insert(refused_end(refused));
                }
                // Read the position first, then flush: everything counted is on disk before the ack.
                let last = match self.inbox.last_applied(&self.peer) {
                    Ok(last) => last,
                    Err(e) => return End::storage(e),
                };
                if let Err(e) = self.inbox.flush().await {
                    return End::storage(e);
                }
                channel.ack_upto(last);
            }
            if let Some(end) = failure {
                return end;
            }
            if let Err(end) = reader.fill().await {
                return end;
            }
            channel.touch();
        }
    }

    fn handle(
        &self,
        frame: InFrame<In, Q, R>,
        channel: &Arc<Channel<Q, R>>,
        tasks: &mut JoinSet<()>,
        batch: &mut Vec<(u64, In)>,
    ) -> Result<(), End> {
        match frame {
            Envelope::Data { seq, body } => {
                batch.push((seq, body));
                Ok(())
            }
            Envelope::Ack { seq } => {
                let sent = channel.sent_max.load(Ordering::Acquire);
                if seq > sent {
                    return Err(End::protocol(format!(
                        "ack for message {seq}, but only up to {sent} were sent"
                    )));
                }
                self.outbox.ack(seq).map_err(End::storage)?;
                channel.peer_acked.fetch_max(seq, Ordering::AcqRel);
                channel.wake.notify_one();
                Ok(())
            }
            Envelope::Heartbeat { .. } => Ok(()),
            Envelope::Request {
                id,
                deadline_ms,
                body,
            } => {
                self.spawn_answer(channel, tasks, id, deadline_ms, body);
                Ok(())
            }
            Envelope::Response { id, body } => {
                channel.complete(id, body);
                Ok(())
            }
            Envelope::Refuse(r) => Err(End::Lost(LinkError::Refused(r))),
            Envelope::Hello { .. } => Err(End::protocol("a second hello")),
        }
    }

    fn spawn_answer(
        &self,
        channel: &Arc<Channel<Q, R>>,
        tasks: &mut JoinSet<()>,
        id: u64,
        deadline_ms: u32,
        body: LinkRequest<Q>,
    ) {
        if tasks.len() >= self.config.max_requests_in_flight {
            channel.respond(
                id,
                LinkResponse::Failed("busy: too many requests in flight".into()),
            );
            return;
        }
        let channel = channel.clone();
        let deadline = Duration::from_millis(u64::from(deadline_ms));
        let answer: crate::hooks::BoxFuture<'static, LinkResponse<R>> = match body {
            LinkRequest::App(q) => {
                let responder = self.responder.clone();
                let peer = self.peer.clone();
                Box::pin(async move {
                    match responder.respond(peer, q).await {
                        Ok(r) => LinkResponse::App(r),
                        Err(reason) => LinkResponse::Failed(reason),
                    }
                })
            }
            LinkRequest::Renew { csr_der } => match &self.renewer {
                Some((renewer, site)) => {
                    let (renewer, site) = (renewer.clone(), site.clone());
                    Box::pin(async move {
                        match renewer.renew(site, csr_der).await {
                            Ok(cert_chain_pem) => LinkResponse::Renewed { cert_chain_pem },
                            Err(reason) => LinkResponse::Failed(reason),
                        }
                    })
                }
                None => Box::pin(async {
                    LinkResponse::Failed("certificate renewal is not offered here".into())
                }),
            },
        };
        tasks.spawn(async move {
            // Past the deadline nobody waits for the answer: drop it.
            if let Ok(answer) = tokio::time::timeout(deadline, answer).await {
                channel.respond(id, answer);
            }
        });
    }
}

fn refused_end(refused: Refused) -> End {
    match refused {
        Refused::Gap { last, got } => End::protocol(format!(
            "message {got} arrived after {last}: messages are missing"
        )),
        Refused::App { seq, reason } => End::Close {
            code: CloseCode::Storage,
            reason: format!("message {seq} could not be applied: {reason}"),
            refuse: None,
        },
        Refused::Storage(e) => End::storage(e),
    }
}
