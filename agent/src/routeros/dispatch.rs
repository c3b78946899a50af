//! Routing replies to the commands waiting for them, and the two IO tasks of a session.
//!
//! A session pipelines: many tagged commands are on the wire at once and their replies come
//! back interleaved. The [`Dispatch`] table maps each numeric `.tag` to the command's pending
//! state (its `!re` items so far, a `!trap` if one came, and the oneshot that delivers the
//! result at `!done`). The reader task is the only one that reads the socket, the writer task
//! the only one that writes it, so a caller that gives up (timeout, cancellation) never leaves a
//! half-written sentence behind.
//!
//! When the session breaks (EOF, read or write error, bad bytes, `!fatal`) the table is marked
//! dead and drained in one step under its lock: every command in flight gets
//! `ConnectionLost`, and no command can register afterwards (it gets `Closed`, meaning "not
//! sent"). Nothing is left waiting forever.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hotspot_shared::routeros::{Attributes, Decoder, MessageError, Reply, ReplyKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

use super::error::RouterError;
use super::login::fatal_reason;

/// The answer to one command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// One entry per `!re`, in order (none for `!empty` or a command without items).
    pub items: Vec<Attributes>,
    /// The attributes of `!done` (e.g. `ret`, the id of an added item).
    pub done: Attributes,
}

/// Result delivered to a waiting command.
pub(crate) type Outcome = Result<Response, RouterError>;

struct Pending {
    tx: oneshot::Sender<Outcome>,
    items: Vec<Attributes>,
    trap: Option<RouterError>,
}

#[derive(Default)]
struct Table {
    pending: HashMap<u64, Pending>,
    /// Why the session ended; `Some` forever after.
    dead: Option<String>,
}

/// The tag table of one session.
pub(crate) struct Dispatch {
    table: Mutex<Table>,
    /// Sentences received so far: a command that times out while this stood still means the
    /// router (or the path to it) went silent.
    received: AtomicU64,
    max_items: usize,
    dead_tx: watch::Sender<bool>,
}

impl Dispatch {
    pub(crate) fn new(max_items: usize) -> Dispatch {
        Dispatch {
            table: Mutex::default(),
            received: AtomicU64::new(0),
            max_items,
            dead_tx: watch::channel(false).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding this lock cannot leave the table half-updated in a way that
        // matters more than losing the session, so recover the guard.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers `tag`; `Closed` if the session is already dead.
    pub(crate) fn register(&self, tag: u64) -> Result<oneshot::Receiver<Outcome>, RouterError> {
        let mut table = self.lock();
        if let Some(reason) = &table.dead {
            return Err(RouterError::Closed(reason.clone()));
        }
        let (tx, rx) = oneshot::channel();
        table.pending.insert(
            tag,
            Pending {
                tx,
                items: Vec::new(),
                trap: None,
            },
        );
        Ok(rx)
    }

    /// Drops `tag` (its command timed out or was cancelled); late replies are then ignored.
    pub(crate) fn forget(&self, tag: u64) {
        self.lock().pending.remove(&tag);
    }

    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    pub(crate) fn dead_reason(&self) -> Option<String> {
        self.lock().dead.clone()
    }

    /// Resolves once the session is dead.
    pub(crate) fn subscribe_dead(&self) -> watch::Receiver<bool> {
        self.dead_tx.subscribe()
    }

    /// Marks the session dead (first reason wins) and fails every command in flight.
    pub(crate) fn kill(&self, reason: String) {
        let drained: Vec<Pending> = {
            let mut table = self.lock();
            if table.dead.is_none() {
                tracing::debug!(%reason, in_flight = table.pending.len(), "RouterOS session ended");
                table.dead = Some(reason.clone());
            }
            table.pending.drain().map(|(_, p)| p).collect()
        };
        for p in drained {
            let _ = p.tx.send(Err(RouterError::ConnectionLost {
                reason: reason.clone(),
            }));
        }
        self.dead_tx.send_replace(true);
    }

    /// Applies one reply. `Err` means the session cannot go on (the reason).
    fn route(&self, reply: Reply) -> Result<(), String> {
        self.received.fetch_add(1, Ordering::Relaxed);
        if reply.kind == ReplyKind::Fatal {
            return Err(format!("router sent !fatal: {}", fatal_reason(&reply)));
        }
        let Some(tag_bytes) = &reply.tag else {
            return Err(format!(
                "untagged {:?} reply on a pipelined session",
                reply.kind
            ));
        };
        let Some(tag) = std::str::from_utf8(tag_bytes)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
        else {
            return Err(format!(
                "reply with a tag we never sent: {:?}",
                String::from_utf8_lossy(tag_bytes)
            ));
        };
        let mut table = self.lock();
        let Some(pending) = table.pending.get_mut(&tag) else {
            // Late reply of a command that timed out or was dropped.
            tracing::trace!(tag, kind = ?reply.kind, "reply for a forgotten command");
            return Ok(());
        };
        match reply.kind {
            ReplyKind::Re => {
                if pending.items.len() >= self.max_items {
                    let max = self.max_items;
                    if let Some(p) = table.pending.remove(&tag) {
                        let _ = p.tx.send(Err(RouterError::Protocol(format!(
                            "reply has more than {max} items"
                        ))));
                    }
                } else {
                    pending.items.push(reply.attrs);
                }
            }
            ReplyKind::Empty => {}
            ReplyKind::Trap => {
                if pending.trap.is_none() {
                    let message = reply.message().map(|m| m.into_owned()).unwrap_or_default();
                    pending.trap = Some(RouterError::from_trap(reply.category(), message));
                }
            }
            ReplyKind::Done => {
                if let Some(p) = table.pending.remove(&tag) {
                    let outcome = match p.trap {
                        Some(err) => Err(err),
                        None => Ok(Response {
                            items: p.items,
                            done: reply.attrs,
                        }),
                    };
                    let _ = p.tx.send(outcome);
                }
            }
            ReplyKind::Fatal => {}
        }
        Ok(())
    }
}

/// Reads the socket until it ends, routing every reply; then kills the session.
pub(crate) async fn read_loop<R>(
    mut reader: R,
    mut decoder: Decoder,
    dispatch: std::sync::Arc<Dispatch>,
) where
    R: AsyncRead + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    let reason = 'session: loop {
        loop {
            match decoder.next_sentence() {
                Ok(Some(sentence)) => match Reply::parse(&sentence) {
                    Ok(reply) => {
                        if let Err(reason) = dispatch.route(reply) {
                            break 'session reason;
                        }
                    }
                    // A reply type newer than this client (as `!empty` once was): the words are
                    // in step, so skip it; its command still ends at `!done` or its deadline.
                    Err(MessageError::UnknownReply(word)) => {
                        tracing::warn!(%word, "ignoring an unknown RouterOS reply type");
                    }
                    Err(e) => break 'session format!("bad reply: {e}"),
                },
                Ok(None) => break,
                Err(e) => break 'session format!("bad bytes from the router: {e}"),
            }
        }
        match reader.read(&mut buf).await {
            Ok(0) => break "router closed the connection".to_owned(),
            Ok(n) => decoder.feed(&buf[..n]),
            Err(e) => break format!("read failed: {e}"),
        }
    };
    dispatch.kill(reason);
}

/// Most bytes the writer gathers from queued frames before one write.
const WRITE_BATCH: usize = 64 * 1024;

/// Writes queued frames, coalescing what is queued into one write, until the session dies or
/// every sender is gone.
pub(crate) async fn write_loop<W>(
    mut writer: W,
    mut frames: mpsc::Receiver<Vec<u8>>,
    dispatch: std::sync::Arc<Dispatch>,
) where
    W: AsyncWrite + Unpin,
{
    let mut dead = dispatch.subscribe_dead();
    let mut out = Vec::with_capacity(WRITE_BATCH);
    loop {
        let frame = tokio::select! {
            frame = frames.recv() => frame,
            _ = dead.wait_for(|d| *d) => break,
        };
        let Some(frame) = frame else { break };
        out.clear();
        out.extend_from_slice(&frame);
        while out.len() < WRITE_BATCH {
            match frames.try_recv() {
                Ok(more) => out.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        let written = async {
            writer.write_all(&out).await?;
            writer.flush().await
        };
        if let Err(e) = written.await {
            dispatch.kill(format!("write failed: {e}"));
            break;
        }
    }
    let _ = writer.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(reply: Reply, tag: &str) -> Reply {
        reply.with_tag(Some(tag.as_bytes()))
    }

    #[test]
    fn items_then_done_resolve_the_command() {
        let d = Dispatch::new(10);
        let mut rx = d.register(1).expect("alive");
        let item: Attributes = [("name", "a")].into_iter().collect();
        d.route(tagged(Reply::re(item.clone()), "1")).expect("ok");
        d.route(tagged(Reply::re(item.clone()), "1")).expect("ok");
        assert!(rx.try_recv().is_err(), "not done before !done");
        d.route(tagged(Reply::done(), "1")).expect("ok");
        let resp = rx.try_recv().expect("sent").expect("ok");
        assert_eq!(resp.items, vec![item.clone(), item]);
    }

    #[test]
    fn empty_then_done_is_no_items() {
        let d = Dispatch::new(10);
        let mut rx = d.register(7).expect("alive");
        d.route(tagged(Reply::new(ReplyKind::Empty), "7"))
            .expect("ok");
        d.route(tagged(Reply::done(), "7")).expect("ok");
        assert_eq!(rx.try_recv().expect("sent"), Ok(Response::default()));
    }

    #[test]
    fn trap_waits_for_done_and_maps_the_message() {
        let d = Dispatch::new(10);
        let mut rx = d.register(2).expect("alive");
        d.route(tagged(
            Reply::trap(
                None,
                "failure: already have user with this name for this server",
            ),
            "2",
        ))
        .expect("ok");
        assert!(rx.try_recv().is_err());
        d.route(tagged(Reply::done(), "2")).expect("ok");
        assert!(matches!(
            rx.try_recv().expect("sent"),
            Err(RouterError::AlreadyExists { .. })
        ));
    }

    #[test]
    fn too_many_items_is_a_protocol_error() {
        let d = Dispatch::new(2);
        let mut rx = d.register(3).expect("alive");
        for _ in 0..3 {
            d.route(tagged(Reply::re(Attributes::new()), "3"))
                .expect("ok");
        }
        assert!(matches!(
            rx.try_recv().expect("sent"),
            Err(RouterError::Protocol(_))
        ));
        // Later replies of that command are ignored, the session goes on.
        d.route(tagged(Reply::done(), "3")).expect("ok");
    }

    #[test]
    fn kill_fails_in_flight_and_refuses_new_commands() {
        let d = Dispatch::new(10);
        let mut a = d.register(1).expect("alive");
        let mut b = d.register(2).expect("alive");
        d.kill("router closed the connection".into());
        assert!(matches!(
            a.try_recv().expect("sent"),
            Err(RouterError::ConnectionLost { .. })
        ));
        assert!(matches!(
            b.try_recv().expect("sent"),
            Err(RouterError::ConnectionLost { .. })
        ));
        assert!(matches!(d.register(3), Err(RouterError::Closed(_))));
    }

    #[test]
    fn fatal_and_untagged_replies_end_the_session() {
        let d = Dispatch::new(10);
        assert!(
            d.route(Reply::fatal("session terminated on request"))
                .is_err()
        );
        assert!(d.route(Reply::done()).is_err());
        assert!(d.route(tagged(Reply::done(), "x1")).is_err());
        // An unknown numeric tag is a late reply: ignored.
        assert!(d.route(tagged(Reply::done(), "99")).is_ok());
    }
}
