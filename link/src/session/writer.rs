//! The sending half of a session: the ack watermark, durable outbox entries within the
//! unacknowledged window, queued requests and answers, and a heartbeat after an idle interval.
//!
//! Only entries at or below the outbox's durable watermark are read, so nothing leaves before
//! its flush. Frames are batched into one write (bounded in entries and bytes). The sequence
//! number high-water mark is raised *before* the write, because the peer may acknowledge the
//! first part of a write before the rest is handed over.

use std::sync::atomic::Ordering;

use hotspot_shared::fleet::Envelope;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Parts;
use crate::Payload;
use crate::channel::Channel;
use crate::error::LinkError;
use crate::wire::{Control, End, Verbatim, encode, write_all};

/// Most outbox entries and bytes the writer puts in one write.
const WRITE_BATCH: usize = 256;
const WRITE_BYTES: usize = 1024 * 1024;

/// The sending half of a session.
pub(super) struct Writer {
    pub(super) send: quinn::SendStream,
    /// A write was started and not finished: the stream may hold half a frame.
    pub(super) mid_frame: bool,
    pub(super) buf: Vec<u8>,
}

impl Writer {
    async fn write_buf(&mut self) -> Result<(), End> {
        self.mid_frame = true;
        write_all(&mut self.send, &self.buf).await?;
        self.mid_frame = false;
        // Keep a big batch's allocation only while batches keep coming.
        if self.buf.capacity() > 4 * 64 * 1024 {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        Ok(())
    }

    pub(super) async fn run<In: Payload, Q: Payload, R: Payload>(
        &mut self,
        parts: &Parts<In, Q, R>,
        channel: &Channel<Q, R>,
        out_rx: &mut mpsc::Receiver<Vec<u8>>,
        peer_has: u64,
    ) -> End {
        let max_frame = parts.config.max_frame_len;
        let mut durable = parts.outbox.durable();
        let mut next = peer_has + 1;
        let mut acked_sent = channel.ack_out.load(Ordering::Acquire);
        let mut last_write = Instant::now();
        loop {
            let ack = channel.ack_out.load(Ordering::Acquire);
            if ack > acked_sent {
                if let Err(e) = encode(&Control::Ack { seq: ack }, max_frame, &mut self.buf) {
                    return End::storage(e);
                }
                acked_sent = ack;
            }
            while let Ok(frame) = out_rx.try_recv() {
                self.buf.extend_from_slice(&frame);
            }
            let window_end = channel
                .peer_acked
                .load(Ordering::Acquire)
                .saturating_add(parts.config.max_unacked);
            let upto = (*durable.borrow_and_update()).min(window_end);
            if next <= upto {
                let entries = match parts.outbox.read(next, upto, WRITE_BATCH) {
                    Ok(entries) => entries,
                    Err(e) => return End::storage(e),
                };
                for (seq, body) in entries {
                    if seq != next {
                        // Entries below `seq` are gone: fine only if the peer acknowledged them
                        // (through another connection of the same site).
                        match parts.outbox.acked() {
                            Ok(acked) if acked >= seq - 1 => {}
                            Ok(_) => {
                                return End::storage(format!(
                                    "outbox hole: message {next} is missing"
                                ));
                            }
                            Err(e) => return End::storage(e),
                        }
                    }
                    if let Err(e) = encode(
                        &Envelope::<_, (), ()>::Data {
                            seq,
                            body: Verbatim(&body),
                        },
                        max_frame,
                        &mut self.buf,
                    ) {
                        return End::storage(e);
                    }
                    next = seq + 1;
                    if self.buf.len() >= WRITE_BYTES {
                        break;
                    }
                }
                channel.sent_max.fetch_max(next - 1, Ordering::AcqRel);
            }
            if !self.buf.is_empty() {
                if let Err(end) = self.write_buf().await {
                    return end;
                }
                last_write = Instant::now();
                continue;
            }
            tokio::select! {
                frame = out_rx.recv() => match frame {
                    Some(frame) => self.buf.extend_from_slice(&frame),
                    None => return End::Lost(LinkError::Closed),
                },
                _ = channel.wake.notified() => {}
                changed = durable.changed() => if changed.is_err() {
                    return End::Lost(LinkError::Shutdown);
                },
                _ = tokio::time::sleep_until(last_write + parts.config.heartbeat_interval) => {
                    let now_ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                    if let Err(e) = encode(&Control::Heartbeat { sent_at_ms: now_ms }, max_frame, &mut self.buf) {
                        return End::storage(e);
                    }
                }
            }
        }
    }
}
