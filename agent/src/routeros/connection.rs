//! One authenticated RouterOS API session that many tasks can use at once.
//!
//! `connect` does the blocking-style part (TCP, optional TLS, login) in order; then the stream is
//! split between a reader task and a writer task (see [`super::dispatch`]) and every command is
//! pipelined with its own `.tag`. A bounded window (a semaphore) caps commands in flight, each
//! command has a deadline, and a command is reported done only after its `!done` arrived.
//!
//! The handle is a cheap `Clone` over an `Arc`; when the last clone is dropped the reader is
//! aborted and the writer shuts the stream down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hotspot_shared::routeros::{Decoder, Request};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout, timeout_at};

use super::config::RouterConfig;
use super::dispatch::{Dispatch, Outcome, Response, read_loop, write_loop};
use super::error::RouterError;
use super::{login, tls};

/// How long [`Connection::close`] waits for the router to end the session after `/quit`.
const QUIT_GRACE: Duration = Duration::from_secs(2);

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A live API session. Clone it to share it between tasks.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    dispatch: Arc<Dispatch>,
    frames: mpsc::Sender<Vec<u8>>,
    window: Arc<Semaphore>,
    window_size: usize,
    next_tag: AtomicU64,
    command_timeout: Duration,
    peer: String,
    reader: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The writer ends by itself once `frames` is dropped.
        self.reader.abort();
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.inner.peer)
            .field("dead", &self.inner.dispatch.dead_reason())
            .finish()
    }
}

/// A command that is on the wire (or queued for it, in order), waiting for its `!done`. Holds
/// its window slot; if dropped before the answer, its tag is forgotten.
pub(crate) struct InFlight {
    conn: Connection,
    rx: Option<oneshot::Receiver<Outcome>>,
    tag: u64,
    what: String,
    deadline: Instant,
    limit: Duration,
    mark: u64,
    sent_at: Instant,
    _permit: OwnedSemaphorePermit,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.rx.is_some() {
            self.conn.inner.dispatch.forget(self.tag);
        }
    }
}

impl InFlight {
    /// Waits for the answer until the command's deadline.
    pub(crate) async fn finish(mut self) -> Result<Response, RouterError> {
        let Some(rx) = self.rx.take() else {
            return Err(RouterError::Closed("answer already taken".into()));
        };
        let dispatch = &self.conn.inner.dispatch;
        match timeout_at(self.deadline, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => {
                dispatch.forget(self.tag);
                Err(RouterError::ConnectionLost {
                    reason: "session dropped".into(),
                })
            }
            Err(_) => {
                dispatch.forget(self.tag);
                if dispatch.received() == self.mark && self.sent_at.elapsed() >= self.limit / 2 {
                    // Not one sentence in a long wait: the router or the path is gone.
                    dispatch.kill(format!("no reply from the router for {:?}", self.limit));
                }
                Err(RouterError::Timeout {
                    what: std::mem::take(&mut self.what),
                })
            }
        }
    }
}

impl Connection {
    /// Opens a session: TCP connect, TLS if configured, login.
    pub async fn connect(config: &RouterConfig) -> Result<Connection, RouterError> {
        let address = config.address();
        let tcp = match timeout(
            config.connect_timeout,
            TcpStream::connect((config.host.as_str(), config.port)),
        )
        .await
        {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(RouterError::from_connect(&e)),
            Err(_) => {
                return Err(RouterError::Unreachable(format!(
                    "no TCP answer from {address} within {:?}",
                    config.connect_timeout
                )));
            }
        };
        let _ = tcp.set_nodelay(true);
        let mut stream: Box<dyn Stream> = match &config.tls {
            None => Box::new(tcp),
            Some(trust) => match timeout(
                config.connect_timeout,
                tls::connect(tcp, &config.host, trust),
            )
            .await
            {
                Ok(Ok(tls)) => Box::new(tls),
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(RouterError::Timeout {
                        what: format!("TLS handshake with {address}"),
                    });
                }
            },
        };
        let mut decoder = Decoder::default();
        let logged_in = login::login(
            &mut stream,
            &mut decoder,
            &config.username,
            &config.password,
        );
        match timeout(config.command_timeout, logged_in).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(RouterError::Timeout {
                    what: format!("login to {address}"),
                });
            }
        }
        tracing::debug!(router = %address, tls = config.tls.is_some(), "RouterOS session open");
        Ok(Connection::start(stream, decoder, config, address))
    }

    fn start(
        stream: Box<dyn Stream>,
        decoder: Decoder,
        config: &RouterConfig,
        peer: String,
    ) -> Connection {
        let window_size = config.window.max(1);
        let dispatch = Arc::new(Dispatch::new(config.max_reply_items));
        let (read_half, write_half) = tokio::io::split(stream);
        // Every queued frame holds a window permit, so the channel never fills beyond it.
        let (frames, frames_rx) = mpsc::channel(window_size + 1);
        let reader = tokio::spawn(read_loop(read_half, decoder, dispatch.clone()));
        tokio::spawn(write_loop(write_half, frames_rx, dispatch.clone()));
        Connection {
            inner: Arc::new(Inner {
                dispatch,
                frames,
                window: Arc::new(Semaphore::new(window_size)),
                window_size,
                next_tag: AtomicU64::new(1),
                command_timeout: config.command_timeout,
                peer,
                reader,
            }),
        }
    }

    /// Whether the session has ended (the pool then opens a new one).
    pub fn is_dead(&self) -> bool {
        self.inner.dispatch.dead_reason().is_some()
    }

    /// Most commands this session keeps in flight.
    pub fn window(&self) -> usize {
        self.inner.window_size
    }

    /// Runs one command with the configured deadline.
    pub async fn call(&self, request: Request) -> Result<Response, RouterError> {
        self.call_with_timeout(request, self.inner.command_timeout)
            .await
    }

    /// Runs one command within `limit`, from waiting for a window slot to its `!done`.
    ///
    /// Errors: `Closed`/`Busy` mean the command was not sent; `Timeout` and `ConnectionLost`
    /// mean it was sent and its outcome is unknown; anything else is the router's answer.
    pub async fn call_with_timeout(
        &self,
        request: Request,
        limit: Duration,
    ) -> Result<Response, RouterError> {
        self.send(request, limit).await?.finish().await
    }

    /// Puts one command on the wire (after waiting, until the deadline, for a window slot)
    /// without waiting for its answer. Commands sent one after another by one task go out in
    /// that order. Errors are `Closed` or `Busy`: not sent.
    pub(crate) async fn send(
        &self,
        request: Request,
        limit: Duration,
    ) -> Result<InFlight, RouterError> {
        let inner = &*self.inner;
        let what = String::from_utf8_lossy(&request.command).into_owned();
        let deadline = Instant::now() + limit;
        if let Some(reason) = inner.dispatch.dead_reason() {
            return Err(RouterError::Closed(reason));
        }
        let permit = match timeout_at(deadline, inner.window.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(RouterError::Closed("session closed".into())),
            Err(_) => return Err(RouterError::Busy { what }),
        };
        let tag = inner.next_tag.fetch_add(1, Ordering::Relaxed);
        let mut frame = Vec::new();
        request.with_tag(tag.to_string()).encode(&mut frame)?;
        let rx = inner.dispatch.register(tag)?;
        let mut in_flight = InFlight {
            conn: self.clone(),
            rx: Some(rx),
            tag,
            what,
            deadline,
            limit,
            mark: 0,
            sent_at: Instant::now(),
            _permit: permit,
        };
        if inner.frames.send(frame).await.is_err() {
            let reason = inner
                .dispatch
                .dead_reason()
                .unwrap_or_else(|| "writer stopped".into());
            return Err(RouterError::Closed(reason));
        }
        in_flight.mark = inner.dispatch.received();
        in_flight.sent_at = Instant::now();
        Ok(in_flight)
    }

    /// The per-command deadline of this session.
    pub(crate) fn command_timeout(&self) -> Duration {
        self.inner.command_timeout
    }

    /// Ends the session politely: `/quit`, then waits briefly for the router to close it.
    pub async fn close(&self) {
        let inner = &*self.inner;
        if inner.dispatch.dead_reason().is_some() {
            return;
        }
        let mut frame = Vec::new();
        if Request::new("/quit")
            .with_tag("0")
            .encode(&mut frame)
            .is_ok()
            && inner.frames.send(frame).await.is_ok()
        {
            let mut dead = inner.dispatch.subscribe_dead();
            let _ = timeout(QUIT_GRACE, dead.wait_for(|d| *d)).await;
        }
        inner.dispatch.kill("closed by the client".into());
    }
}

#[cfg(test)]
mod tests;
