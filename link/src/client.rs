//! The agent's endpoint: one connection to the controller, re-established for ever with
//! capped, fully jittered exponential backoff, and the typed API the agent uses (`send` an
//! event, `request` with a deadline, status, certificate renewal, shutdown).
//!
//! Queued events live in the durable outbox, not in a connection, so reconnecting, swapping
//! the certificate ([`LinkClient::renew_with`]) or restarting the process loses nothing; the
//! controller's Hello says where to resume. The backoff resets after a session that lasted
//! `stable_after`, so a link that flaps every few minutes reconnects quickly each time, while
//! a controller that refuses us (revoked, wrong CA) is retried ever more slowly.

use std::marker::PhantomData;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use hotspot_pki::agent_client_config;
use hotspot_shared::fleet::ALPN;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::Payload;
use crate::backoff::full_jitter;
use crate::channel::Channel;
use crate::config::{ClientConfig, LinkConfig};
use crate::error::LinkError;
use crate::hooks::Responder;
use crate::inbox::{Inbound, Inbox};
use crate::loss::Losses;
use crate::outbox::{Outbox, PushAbort, PushWithError};
use crate::peer::PeerId;
use crate::session::Parts;
use crate::wire::{CloseCode, LinkRequest, LinkResponse, connection_error};
use hotspot_storage::{Db, WriteTx};
use serde::Serialize;

/// The agent's certificate and the CA it trusts.
pub struct ClientTls {
    /// The fleet CA: the only issuer the agent accepts for the controller.
    pub ca: CertificateDer<'static>,
    /// The agent's chain (leaf first).
    pub cert_chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// What the agent knows about its link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    pub connected: bool,
    /// When the current connection was established.
    pub since: Option<SystemTime>,
    /// Events waiting for the controller's ack.
    pub outbox_len: u64,
    pub outbox_max: u64,
    /// Why the last connection or attempt ended (kept while the next session runs).
    pub last_error: Option<String>,
    /// Sessions established since start.
    pub sessions: u64,
}

/// The agent's end of the link: a cheap, cloneable handle. Call [`LinkClient::shutdown`] to
/// stop it.
pub struct LinkClient<Evt, Cmd, Q, R> {
    inner: Arc<Inner<Cmd, Q, R>>,
    _evt: PhantomData<fn(Evt)>,
}

impl<Evt, Cmd, Q, R> Clone for LinkClient<Evt, Cmd, Q, R> {
    fn clone(&self) -> Self {
        LinkClient {
            inner: self.inner.clone(),
            _evt: PhantomData,
        }
    }
}

struct Current<Q, R> {
    conn: quinn::Connection,
    channel: Arc<Channel<Q, R>>,
}

struct State<Q, R> {
    current: Option<Current<Q, R>>,
    last_error: Option<String>,
    sessions: u64,
    /// The connection is being closed to switch certificates, or after a new numbering:
    /// reconnect at once.
    at_once: bool,
}

struct Inner<Cmd, Q, R> {
    config: ClientConfig,
    db: Db,
    endpoint: quinn::Endpoint,
    parts: Parts<Cmd, Q, R>,
    ca: CertificateDer<'static>,
    quic: Mutex<quinn::ClientConfig>,
    state: Mutex<State<Q, R>>,
    shutdown: watch::Sender<bool>,
    reconnect_now: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The local address to bind for reaching `remote` (same address family, any port).
pub fn bind_addr_for(remote: SocketAddr) -> SocketAddr {
    if remote.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    }
}

fn quic_config(
    link: &LinkConfig,
    ca: &CertificateDer<'_>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<quinn::ClientConfig, LinkError> {
    let tls =
        agent_client_config(ca, chain, key, &[ALPN]).map_err(|e| LinkError::Tls(e.to_string()))?;
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| LinkError::Tls(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(link.transport(false)?);
    Ok(config)
}

impl<Evt: Payload, Cmd: Payload, Q: Payload, R: Payload> LinkClient<Evt, Cmd, Q, R> {
    /// Starts connecting to the controller (and keeps reconnecting until shutdown). `db` is
    /// shared with the caller (the link's tables start with `link/`).
    pub async fn start(
        config: ClientConfig,
        db: &Db,
        tls: ClientTls,
        inbound: impl Inbound<Cmd>,
        responder: impl Responder<Q, R>,
    ) -> Result<Self, LinkError> {
        config.link.validate()?;
        let quic = quic_config(&config.link, &tls.ca, tls.cert_chain, tls.key)?;
        let endpoint = quinn::Endpoint::client(bind_addr_for(config.controller))?;
        let link = Arc::new(config.link.clone());
        let parts = Parts {
            peer: PeerId::Controller,
            outbox: Arc::new(Outbox::open(
                db,
                &PeerId::Controller,
                link.max_outbox_entries,
                link.max_frame_len,
            )?),
            inbox: Arc::new(Inbox::open(db, Arc::new(inbound))),
            losses: Arc::new(Losses::new(db)),
            responder: Arc::new(responder),
            renewer: None,
            config: link,
        };
        let inner = Arc::new(Inner {
            config,
            db: db.clone(),
            endpoint,
            parts,
            ca: tls.ca,
            quic: Mutex::new(quic),
            state: Mutex::new(State {
                current: None,
                last_error: None,
                sessions: 0,
                at_once: false,
            }),
            shutdown: watch::Sender::new(false),
            reconnect_now: Notify::new(),
            task: Mutex::new(None),
        });
        *lock(&inner.task) = Some(tokio::spawn(inner.clone().run()));
        Ok(LinkClient {
            inner,
            _evt: PhantomData,
        })
    }

    /// The local UDP address.
    pub fn local_addr(&self) -> Result<SocketAddr, LinkError> {
        Ok(self.inner.endpoint.local_addr()?)
    }

    /// Queues an event for the controller; returns its sequence number once it is durable.
    pub async fn send(&self, event: &Evt) -> Result<u64, LinkError> {
        self.inner.parts.outbox.push(event).await
    }

    /// Queues events in order, all or none, with one flush.
    pub async fn send_batch(&self, events: &[Evt]) -> Result<Vec<u64>, LinkError> {
        self.inner.parts.outbox.push_batch(events).await
    }

    /// Queues events and, in the same transaction, the caller's writes (see
    /// [`Outbox::push_batch_with`]); one barrier for both.
    pub async fn send_batch_with<T, E>(
        &self,
        events: &[Evt],
        write: impl FnOnce(&mut WriteTx<'_>, u64) -> Result<T, PushAbort<E>>,
    ) -> Result<(Vec<u64>, T), PushWithError<E>>
    where
        Evt: Serialize,
    {
        self.inner.parts.outbox.push_batch_with(events, write).await
    }

    /// Lost link states found on this endpoint, waiting for the application to heal them
    /// (see [`crate::loss`]).
    pub fn losses(&self) -> &Losses {
        &self.inner.parts.losses
    }

    /// The highest event sequence number the controller acknowledged (its ledger holds
    /// everything up to it durably).
    pub fn outbox_acked(&self) -> Result<u64, LinkError> {
        self.inner.parts.outbox.acked()
    }

    fn channel(&self) -> Result<Arc<Channel<Q, R>>, LinkError> {
        let state = lock(&self.inner.state);
        state
            .current
            .as_ref()
            .map(|c| c.channel.clone())
            .ok_or_else(|| LinkError::Offline {
                peer: PeerId::Controller.to_string(),
            })
    }

    /// Asks the controller and waits until `deadline`; `Offline` at once when not connected.
    pub async fn request(&self, request: Q, deadline: Duration) -> Result<R, LinkError> {
        match self
            .channel()?
            .request(LinkRequest::App(request), deadline)
            .await?
        {
            LinkResponse::App(r) => Ok(r),
            LinkResponse::Failed(reason) => Err(LinkError::Denied(reason)),
            LinkResponse::Renewed { .. } => Err(LinkError::Protocol(
                "a certificate where an answer was expected".into(),
            )),
        }
    }

    /// Asks the controller for a certificate for the key of `csr_der`; returns the new chain
    /// (PEM). Store it, then switch to it with [`LinkClient::renew_with`].
    pub async fn renew(&self, csr_der: Vec<u8>, deadline: Duration) -> Result<String, LinkError> {
        match self
            .channel()?
            .request(LinkRequest::Renew { csr_der }, deadline)
            .await?
        {
            LinkResponse::Renewed { cert_chain_pem } => Ok(cert_chain_pem),
            LinkResponse::Failed(reason) => Err(LinkError::Denied(reason)),
            LinkResponse::App(_) => Err(LinkError::Protocol(
                "an application answer to a renewal".into(),
            )),
        }
    }

    /// Switches to a new certificate and key: the current connection is closed and a new one
    /// made with them at once. Queued events stay queued. (Writing the files is the caller's
    /// job, before this call.)
    pub fn renew_with(
        &self,
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<(), LinkError> {
        let quic = quic_config(&self.inner.config.link, &self.inner.ca, cert_chain, key)?;
        *lock(&self.inner.quic) = quic;
        let mut state = lock(&self.inner.state);
        if let Some((conn, channel)) = state
            .current
            .as_ref()
            .map(|c| (c.conn.clone(), c.channel.clone()))
        {
            state.at_once = true;
            channel.close(
                &conn,
                CloseCode::Renewing,
                "switching to a renewed certificate",
            );
        }
        drop(state);
        self.inner.reconnect_now.notify_one();
        Ok(())
    }

    /// Closes the current connection with `reason`; the link reconnects with backoff.
    pub fn disconnect(&self, reason: &str) -> bool {
        let state = lock(&self.inner.state);
        state
            .current
            .as_ref()
            .map(|c| c.channel.close(&c.conn, CloseCode::Normal, reason))
            .is_some()
    }

    /// The link's state.
    pub fn status(&self) -> LinkState {
        let state = lock(&self.inner.state);
        let outbox = &self.inner.parts.outbox;
        LinkState {
            connected: state.current.is_some(),
            since: state.current.as_ref().map(|c| c.channel.opened_at()),
            outbox_len: outbox.len(),
            outbox_max: outbox.max(),
            last_error: state.last_error.clone(),
            sessions: state.sessions,
        }
    }

    /// Closes the connection with a reason, stops reconnecting, and makes every write durable.
    pub async fn shutdown(&self) -> Result<(), LinkError> {
        let inner = &self.inner;
        inner.shutdown.send_replace(true);
        if let Some(current) = &lock(&inner.state).current {
            current
                .channel
                .close(&current.conn, CloseCode::Shutdown, "agent shutting down");
        }
        // Also closes a connection still in its handshake, with the reason.
        inner
            .endpoint
            .close(CloseCode::Shutdown.to_varint(), b"agent shutting down");
        let task = lock(&inner.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), inner.endpoint.wait_idle()).await;
        inner.db.barrier().await?;
        Ok(())
    }
}

impl<Cmd: Payload, Q: Payload, R: Payload> Inner<Cmd, Q, R> {
    async fn run(self: Arc<Self>) {
        let mut shutdown = self.shutdown.subscribe();
        let mut attempt = 0u32;
        loop {
            let (established, error) = tokio::select! {
                r = self.connect_once() => r,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let at_once = {
                let mut state = lock(&self.state);
                state.current = None;
                state.last_error = Some(error.to_string());
                std::mem::take(&mut state.at_once)
            };
            if *shutdown.borrow() {
                break;
            }
            if at_once {
                attempt = 0;
                continue;
            }
            if established.is_some_and(|t| t.elapsed() >= self.config.stable_after) {
                attempt = 0;
            }
            let delay = full_jitter(attempt, self.config.backoff_base, self.config.backoff_cap);
            attempt = attempt.saturating_add(1);
            tracing::info!(?delay, attempt, "controller link down: {error}");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.reconnect_now.notified() => attempt = 0,
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        if let Some(current) = lock(&self.state).current.take() {
            current
                .channel
                .close(&current.conn, CloseCode::Shutdown, "agent shutting down");
        }
    }

    /// One connection attempt and, if it succeeds, its whole session. Returns when the
    /// session was established (if it was) and why it ended.
    async fn connect_once(&self) -> (Option<Instant>, LinkError) {
        let quic = lock(&self.quic).clone();
        let connecting =
            match self
                .endpoint
                .connect_with(quic, self.config.controller, &self.config.server_name)
            {
                Ok(c) => c,
                Err(e) => return (None, LinkError::Connect(e.to_string())),
            };
        let conn = match tokio::time::timeout(self.config.link.hello_timeout, connecting).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return (None, connection_error(&e)),
            Err(_) => return (None, LinkError::Connect("handshake timed out".into())),
        };
        let est = match self.parts.open_as_client(&conn).await {
            Ok(est) => est,
            Err(end) => {
                if end.is_renumbered() {
                    lock(&self.state).at_once = true;
                }
                return (None, end.into_error());
            }
        };
        let established = Instant::now();
        {
            let mut state = lock(&self.state);
            state.current = Some(Current {
                conn: conn.clone(),
                channel: est.channel.clone(),
            });
            state.sessions += 1;
        }
        tracing::info!(controller = %self.config.controller, "connected to the controller");
        let channel = est.channel.clone();
        let end = self.parts.run(&conn, est).await;
        let error = match channel.closed_because() {
            Some(reason) => LinkError::ClosedHere(reason),
            None => end.into_error(),
        };
        (Some(established), error)
    }
}
