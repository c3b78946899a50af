//! One API connection: accept, decode, execute in order, answer on time.
//!
//! Each connection is two tasks. The reader decodes sentences with the shared bounded
//! [`Decoder`], executes commands strictly in arrival order (pipelined, tagged commands are
//! welcome) and queues the encoded replies, stamped with the time they may leave
//! (`processed + latency`), on a bounded channel. The writer sleeps until each chunk's time and
//! writes it. So latency delays answers without holding back the commands behind them, order is
//! kept, and a client that stops reading eventually stops the reader (back-pressure), never
//! our memory.
//!
//! Malformed input gets `!fatal` with the reason and the connection closes; nothing that comes
//! from the network can make this code panic.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use hotspot_shared::routeros::{Decoder, Limits, Reply, Request};

use super::auth::{self, AuthState};
use super::{MAX_SESSIONS, Shared, commands};

/// Encoded replies waiting for the writer, in chunks.
const OUT_QUEUE: usize = 64;
/// A chunk is sent to the writer once it holds this many bytes.
const CHUNK: usize = 64 * 1024;
/// Bytes read from the socket at once.
const READ_BUF: usize = 16 * 1024;
/// A TLS handshake that takes longer is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Queued replies of a closing session are abandoned after this long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until shutdown; while the router "reboots" they are dropped at once.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let mut stop = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if shared.is_down() {
            tracing::debug!(%peer, "rebooting: connection dropped");
            drop(stream);
            continue;
        }
        // Replies are small and latency matters more than packet count.
        stream.set_nodelay(true).ok();
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve(stream, peer, shared).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => serve(s, peer, shared).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// One chunk of encoded replies for the writer.
struct Outgoing {
    due: Instant,
    bytes: Vec<u8>,
    /// Close the connection once this chunk is written.
    close_after: bool,
}

/// Decrements the open-session count however the session ends.
struct SessionSlot(Arc<Shared>);

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.open_sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one connection (plain or TLS) until either side closes it.
async fn serve<S>(stream: S, peer: SocketAddr, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let slot = SessionSlot(shared.clone());
    let open = shared.open_sessions.fetch_add(1, Ordering::Relaxed) + 1;
    let (rd, mut wr) = tokio::io::split(stream);
    if open > MAX_SESSIONS {
        let mut bytes = Vec::new();
        Reply::fatal("too many sessions").encode(&mut bytes).ok();
        wr.write_all(&bytes).await.ok();
        wr.shutdown().await.ok();
        return;
    }
    tracing::debug!(%peer, "API session opened");
    let (tx, rx) = mpsc::channel(OUT_QUEUE);
    let mut writer = tokio::spawn(write_replies(wr, rx));
    let mut session = Session {
        shared: shared.clone(),
        tx,
        epoch: shared.epoch.subscribe(),
        interrupted: false,
        auth: AuthState::Anonymous,
        answered: 0,
        drop_after: shared.faults().drop_after,
    };
    match session.run(rd).await {
        End::Graceful => {
            let mut epoch = session.epoch.clone();
            drop(session);
            // The writer drains what is queued (at its due times), then closes — unless the
            // router reboots meanwhile or the client stopped reading for too long.
            tokio::select! {
                _ = &mut writer => {}
                _ = epoch.changed() => writer.abort(),
                _ = tokio::time::sleep(DRAIN_TIMEOUT) => writer.abort(),
            }
        }
        End::Abrupt => writer.abort(),
    }
    drop(slot);
    tracing::debug!(%peer, "API session closed");
}

/// Writes each chunk at its due time; closes the stream at the end.
async fn write_replies<W: AsyncWrite + Unpin>(mut wr: W, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some(out) = rx.recv().await {
        tokio::time::sleep_until(out.due).await;
        if wr.write_all(&out.bytes).await.is_err() || wr.flush().await.is_err() {
            return;
        }
        if out.close_after {
            break;
        }
    }
    wr.shutdown().await.ok();
}

/// What the reading half hands to the executing half.
enum Inbound {
    Sentence(Vec<Vec<u8>>, Instant),
    Malformed(String),
    Eof,
    Broken,
}

/// Sentences waiting to be executed; a full queue stops reading (back-pressure).
const INBOUND_QUEUE: usize = 1024;

/// Reads and decodes until the stream ends, stamping each sentence with its arrival time.
async fn read_sentences<R: AsyncRead + Unpin>(mut rd: R, tx: mpsc::Sender<Inbound>) {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) => {
                tx.send(Inbound::Eof).await.ok();
                return;
            }
            Err(_) => {
                tx.send(Inbound::Broken).await.ok();
                return;
            }
            Ok(n) => n,
        };
        let arrived = Instant::now();
        decoder.feed(&buf[..n]);
        loop {
            let item = match decoder.next_sentence() {
                Ok(Some(s)) if s.is_empty() => continue, // the manual: empty sentences are ignored
                Ok(Some(s)) => Inbound::Sentence(s, arrived),
                Ok(None) => break,
                Err(e) => {
                    tx.send(Inbound::Malformed(e.to_string())).await.ok();
                    return;
                }
            };
            if tx.send(item).await.is_err() {
                return;
            }
        }
    }
}

enum End {
    /// Queued replies still go out (a `!fatal`, the last replies before `drop_after`).
    Graceful,
    /// Reboot, reset, shutdown, or the writer is gone: nothing more is sent.
    Abrupt,
}

enum Next {
    Continue,
    Close,
}

struct Session {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Outgoing>,
    /// Changes on reboot, reset and shutdown: the session ends at once.
    epoch: watch::Receiver<u64>,
    /// Set when the epoch changed while a reply waited for room in the queue.
    interrupted: bool,
    auth: AuthState,
    answered: u64,
    drop_after: Option<u64>,
}

impl Session {
    /// Reads and executes until the connection ends. Reading runs beside execution (in the same
    /// task) so each sentence is stamped with the time it really arrived: the simulated CPU
    /// queues commands by arrival, as a router does, instead of counting our own read delays.
    async fn run<R: AsyncRead + Unpin>(&mut self, rd: R) -> End {
        let (stx, mut srx) = mpsc::channel(INBOUND_QUEUE);
        let reader = read_sentences(rd, stx);
        tokio::pin!(reader);
        let mut reading = true;
        loop {
            let inbound = tokio::select! {
                _ = &mut reader, if reading => { reading = false; continue; }
                m = srx.recv() => m,
                _ = self.epoch.changed() => return End::Abrupt,
                _ = self.tx.closed() => return End::Abrupt,
            };
            let (sentence, arrived) = match inbound {
                // The client is done sending: what it asked for is still answered.
                None | Some(Inbound::Eof) => return End::Graceful,
                Some(Inbound::Broken) => return End::Abrupt,
                Some(Inbound::Malformed(reason)) => {
                    self.fatal(&format!("malformed input: {reason}")).await;
                    return End::Graceful;
                }
                Some(Inbound::Sentence(s, at)) => (s, at),
            };
            let next = self.handle(&sentence, arrived).await;
            if self.interrupted || self.epoch.has_changed().unwrap_or(true) {
                return End::Abrupt;
            }
            if let Next::Close = next {
                return End::Graceful;
            }
        }
    }

    async fn handle(&mut self, sentence: &[Vec<u8>], arrived: Instant) -> Next {
        let req = match Request::parse(sentence) {
            Ok(r) => r,
            Err(e) => {
                self.fatal(&format!("malformed sentence: {e}")).await;
                return Next::Close;
            }
        };
        let service_time = self.shared.faults().service_time;
        // When the command finished on the simulated CPU: the basis of the reply's due time.
        let mut processed = Instant::now();
        if !service_time.is_zero() {
            // The router's one CPU: a command starts when it has arrived and the CPU is free,
            // and holds the CPU for `service_time`. Completion times chain from the previous
            // one, so timer granularity never accumulates into a slower CPU than configured.
            let done_at = {
                let mut busy_until = self.shared.cpu_busy_until();
                let done_at = (*busy_until).max(arrived) + service_time;
                *busy_until = done_at;
                done_at
            };
            tokio::time::sleep_until(done_at).await;
            processed = done_at;
        }
        let (replies, mut next) = self.execute(&req);
        self.answered += 1;
        self.shared.commands_served.fetch_add(1, Ordering::Relaxed);
        let dropping = self.drop_after.is_some_and(|n| self.answered >= n);
        if dropping {
            tracing::debug!(
                answered = self.answered,
                "drop-after fault: closing the connection"
            );
            next = Next::Close;
        }
        let tag = req.tag().map(<[u8]>::to_vec);
        self.send(
            replies,
            tag.as_deref(),
            matches!(next, Next::Close),
            processed,
        )
        .await;
        next
    }

    fn execute(&mut self, req: &Request) -> (Vec<Reply>, Next) {
        let command = req.command.as_slice();
        if command == b"/login" {
            return (
                auth::login(&self.shared, &mut self.auth, req),
                Next::Continue,
            );
        }
        if command == b"/quit" {
            return (
                vec![Reply::fatal("session terminated on request")],
                Next::Close,
            );
        }
        if self.auth != AuthState::LoggedIn {
            return (vec![Reply::fatal("not logged in")], Next::Close);
        }
        if command == b"/cancel" {
            // Every command here completes before the next is read, so nothing is running
            // that could be interrupted: the cancel itself just succeeds.
            return (vec![Reply::done()], Next::Continue);
        }
        (commands::dispatch(&self.shared, req), Next::Continue)
    }

    async fn fatal(&mut self, reason: &str) {
        tracing::debug!(reason, "closing session with !fatal");
        self.send(vec![Reply::fatal(reason)], None, true, Instant::now())
            .await;
    }

    /// Encodes replies (tagged) into chunks and queues them, due `latency` after `processed`.
    async fn send(
        &mut self,
        replies: Vec<Reply>,
        tag: Option<&[u8]>,
        close_after: bool,
        processed: Instant,
    ) {
        let due = processed + self.shared.faults().latency;
        let mut bytes = Vec::new();
        let count = replies.len();
        if count == 0 && close_after {
            self.tx
                .send(Outgoing {
                    due,
                    bytes,
                    close_after,
                })
                .await
                .ok();
            return;
        }
        for (i, reply) in replies.into_iter().enumerate() {
            if let Err(e) = reply.with_tag(tag).encode(&mut bytes) {
                tracing::error!(error = %e, "reply could not be encoded");
            }
            let last = i + 1 == count;
            if bytes.len() >= CHUNK || last {
                let out = Outgoing {
                    due,
                    bytes: std::mem::take(&mut bytes),
                    close_after: close_after && last,
                };
                if !self.queue(out).await {
                    return;
                }
            }
        }
    }

    /// Queues one chunk, waiting for room (back-pressure from a slow reader) but not past a
    /// reboot. False when the session must stop.
    async fn queue(&mut self, out: Outgoing) -> bool {
        tokio::select! {
            sent = self.tx.send(out) => sent.is_ok(),
            _ = self.epoch.changed() => {
                self.interrupted = true;
                false
            }
        }
    }
}
