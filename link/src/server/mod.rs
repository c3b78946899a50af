//! The controller's endpoint: accepts agents, names each by its certificate, and offers the
//! typed API the controller uses (`send` a command to a site, `request` with a deadline,
//! status, revocation, shutdown).
//!
//! Invariants enforced here:
//! - **Identity from the certificate only**: the site of a connection is `site_id_from_cert`
//!   of the verified client certificate; no message carries a site id.
//! - **Unauthenticated connections may only enroll** ([`mod@crate::enroll`]).
//! - **Revocation is immediate**: `revoke` adds the serial to the set the TLS verifier reads
//!   on each handshake, then closes open connections with that serial; a connection registers
//!   before re-checking the set, so one racing the revocation is closed too. TLS session
//!   resumption is off: rustls does not re-run the client verifier on a resumed session.
//! - **No connection outlives its certificate**: the sweep closes it after `not_after`.
//! - **One connection per site**: a newer one replaces the older one.
//! - **No task leaks**: each connection is one task in the accept loop's `JoinSet`; its reader,
//!   writer and request tasks live inside it.
//!
//! The accepting side (handshake, dispatch to enrollment or a session) is in `accept`.

use std::collections::{BTreeSet, HashMap};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hotspot_pki::{
    FleetClientVerifier, Serial, SharedRevocations, SiteId, controller_server_config,
};
use hotspot_shared::fleet::ALPN;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::{Semaphore, broadcast, watch};
use tokio::task::JoinHandle;

use crate::Payload;
use crate::config::{LinkConfig, ServerConfig};
use crate::error::LinkError;
use crate::hooks::{ControlHooks, DynResponder, Responder};
use crate::inbox::{Inbound, Inbox};
use crate::loss::{Loss, LossKind, Losses};
use crate::outbox::{Outbox, PushAbort, PushWithError};
use crate::peer::PeerId;
use crate::registry::{Registry, SiteEvent, SiteStatus};
use crate::wire::{CloseCode, LinkRequest, LinkResponse};
use hotspot_storage::{Db, WriteTx};

mod accept;

/// The controller's certificate and what it trusts.
pub struct ServerTls {
    /// The controller's chain: leaf, then the fleet CA (enrolling agents pin the CA in it).
    pub cert_chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The fleet CA client certificates must chain to.
    pub ca: CertificateDer<'static>,
    /// The revocation set; the link reads it on every handshake and adds to it in `revoke`.
    pub revocations: SharedRevocations,
}

/// The controller's end of the link: a cheap, cloneable handle. Call [`LinkServer::shutdown`]
/// to stop it; dropping handles does not.
pub struct LinkServer<Cmd, Evt, Q, R> {
    inner: Arc<Inner<Evt, Q, R>>,
    _cmd: PhantomData<fn(Cmd)>,
}

impl<Cmd, Evt, Q, R> Clone for LinkServer<Cmd, Evt, Q, R> {
    fn clone(&self) -> Self {
        LinkServer {
            inner: self.inner.clone(),
            _cmd: PhantomData,
        }
    }
}

/// A [`LinkServer`] handle that does not keep it alive: for what the server itself holds (its
/// hooks), which a strong handle would tie into a cycle that never frees the server and its
/// database.
pub struct WeakLinkServer<Cmd, Evt, Q, R> {
    inner: std::sync::Weak<Inner<Evt, Q, R>>,
    _cmd: PhantomData<fn(Cmd)>,
}

impl<Cmd, Evt, Q, R> Clone for WeakLinkServer<Cmd, Evt, Q, R> {
    fn clone(&self) -> Self {
        WeakLinkServer {
            inner: self.inner.clone(),
            _cmd: PhantomData,
        }
    }
}

impl<Cmd, Evt, Q, R> WeakLinkServer<Cmd, Evt, Q, R> {
    /// The server, while something else still holds it.
    pub fn upgrade(&self) -> Option<LinkServer<Cmd, Evt, Q, R>> {
        self.inner.upgrade().map(|inner| LinkServer {
            inner,
            _cmd: PhantomData,
        })
    }
}

impl<Cmd, Evt, Q, R> LinkServer<Cmd, Evt, Q, R> {
    /// A handle that does not keep the server alive.
    pub fn downgrade(&self) -> WeakLinkServer<Cmd, Evt, Q, R> {
        WeakLinkServer {
            inner: Arc::downgrade(&self.inner),
            _cmd: PhantomData,
        }
    }
}

struct Inner<Evt, Q, R> {
    config: ServerConfig,
    link: Arc<LinkConfig>,
    db: Db,
    endpoint: quinn::Endpoint,
    inbox: Arc<Inbox<Evt>>,
    losses: Arc<Losses>,
    responder: Arc<dyn DynResponder<Q, R>>,
    control: ControlHooks,
    revocations: SharedRevocations,
    registry: Registry<Q, R>,
    outboxes: Mutex<HashMap<SiteId, Arc<Outbox>>>,
    next_conn: AtomicU64,
    enrollments: Semaphore,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl<Cmd: Payload, Evt: Payload, Q: Payload, R: Payload> LinkServer<Cmd, Evt, Q, R> {
    /// Binds the endpoint and starts accepting agents. `db` is shared with the caller (table
    /// names of the link start with `link/`).
    pub async fn start(
        config: ServerConfig,
        db: &Db,
        tls: ServerTls,
        inbound: impl Inbound<Evt>,
        responder: impl Responder<Q, R>,
        control: ControlHooks,
    ) -> Result<Self, LinkError> {
        config.link.validate()?;
        let tls_err = |e: hotspot_pki::PkiError| LinkError::Tls(e.to_string());
        let verifier = FleetClientVerifier::new(&tls.ca, tls.revocations.clone())
            .map_err(tls_err)?
            .allow_unauthenticated();
        // Built without TLS session resumption (see `controller_server_config`): every handshake
        // meets the verifier, so revoked and expired certificates stay out.
        let rustls = controller_server_config(tls.cert_chain, tls.key, Arc::new(verifier), &[ALPN])
            .map_err(tls_err)?;
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(rustls)
            .map_err(|e| LinkError::Tls(e.to_string()))?;
        let mut quic = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        quic.transport_config(config.link.transport(true)?);
        let endpoint = endpoint(db, quic, config.listen, config.recv_buffer).await?;
        let inner = Arc::new(Inner {
            link: Arc::new(config.link.clone()),
            db: db.clone(),
            endpoint,
            inbox: Arc::new(Inbox::open(db, Arc::new(inbound))),
            losses: Arc::new(Losses::new(db)),
            responder: Arc::new(responder),
            control,
            revocations: tls.revocations,
            registry: Registry::new(),
            outboxes: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            enrollments: Semaphore::new(config.max_enrollments),
            shutdown: watch::Sender::new(false),
            tasks: Mutex::new(Vec::new()),
            config,
        });
        let accept = tokio::spawn(inner.clone().accept_loop());
        let sweep = tokio::spawn(inner.clone().sweep_loop());
        inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend([accept, sweep]);
        tracing::info!(addr = ?inner.endpoint.local_addr().ok(), "fleet link listening");
        Ok(LinkServer {
            inner,
            _cmd: PhantomData,
        })
    }

    /// The UDP address the endpoint is bound to.
    pub fn local_addr(&self) -> Result<SocketAddr, LinkError> {
        Ok(self.inner.endpoint.local_addr()?)
    }

    /// Queues a command for `site`; returns its sequence number once it is durable.
    pub async fn send(&self, site: &SiteId, cmd: &Cmd) -> Result<u64, LinkError> {
        self.inner.outbox(site)?.push(cmd).await
    }

    /// Queues commands in order, all or none, with one flush.
    pub async fn send_batch(&self, site: &SiteId, cmds: &[Cmd]) -> Result<Vec<u64>, LinkError> {
        self.inner.outbox(site)?.push_batch(cmds).await
    }

    /// Queues commands for `site` and, in the same transaction, the caller's writes (see
    /// [`crate::outbox::Outbox::push_batch_with`]); one barrier for both.
    pub async fn send_batch_with<T, E>(
        &self,
        site: &SiteId,
        cmds: &[Cmd],
        write: impl FnOnce(&mut WriteTx<'_>, u64) -> Result<T, PushAbort<E>>,
    ) -> Result<(Vec<u64>, T), PushWithError<E>> {
        self.inner.outbox(site)?.push_batch_with(cmds, write).await
    }

    /// Lost link states found on this endpoint, waiting for the application to heal them
    /// (see [`crate::loss`]).
    pub fn losses(&self) -> &Losses {
        &self.inner.losses
    }

    /// Asks the connected `site` and waits for the answer until `deadline`. Fails at once with
    /// `Offline` when the site is not connected.
    pub async fn request(
        &self,
        site: &SiteId,
        request: Q,
        deadline: Duration,
    ) -> Result<R, LinkError> {
        let channel = self
            .inner
            .registry
            .channel(site)
            .ok_or_else(|| LinkError::Offline {
                peer: format!("site {site}"),
            })?;
        match channel.request(LinkRequest::App(request), deadline).await? {
            LinkResponse::App(r) => Ok(r),
            LinkResponse::Failed(reason) => Err(LinkError::Denied(reason)),
            LinkResponse::Renewed { .. } => Err(LinkError::Protocol(
                "a certificate where an answer was expected".into(),
            )),
        }
    }

    /// Link status of `site`.
    pub fn site_status(&self, site: &SiteId) -> Result<SiteStatus, LinkError> {
        let outbox = self.inner.outbox(site)?;
        let (online, connected_since, last_seen) = self
            .inner
            .registry
            .liveness(site, self.inner.config.offline_after);
        Ok(SiteStatus {
            online,
            connected_since,
            last_seen,
            outbox_len: outbox.len(),
            outbox_max: outbox.max(),
        })
    }

    /// Every site the link knows: connected now, or with link state on disk.
    pub fn sites(&self) -> Result<Vec<SiteId>, LinkError> {
        let mut sites: BTreeSet<SiteId> = self.inner.registry.connected().into_iter().collect();
        let snapshot = self.inner.db.read()?;
        let mut keys = Vec::new();
        for table in [crate::outbox::META, crate::inbox::SEQS] {
            for (k, _) in snapshot.entries(table, hotspot_storage::ALL, usize::MAX)? {
                keys.push(k);
            }
        }
        for key in keys {
            let key = String::from_utf8_lossy(&key);
            let name = ["last/", "acked/", "epoch/", "base/"]
                .iter()
                .find_map(|p| key.strip_prefix(p))
                .unwrap_or(&key);
            if let Some(site) = name.strip_prefix("site/").and_then(|s| s.parse().ok()) {
                sites.insert(site);
            }
        }
        Ok(sites.into_iter().collect())
    }

    /// Sites with an open connection.
    pub fn connected_sites(&self) -> Vec<SiteId> {
        self.inner.registry.connected()
    }

    /// Site online/offline events.
    pub fn events(&self) -> broadcast::Receiver<SiteEvent> {
        self.inner.registry.subscribe()
    }

    /// Revokes certificate `serial`: refused from the next handshake on, and any open
    /// connection using it is closed now with reason "revoked". Returns how many were closed.
    /// (Persisting the revocation is the caller's job.)
    pub fn revoke(&self, serial: &Serial) -> usize {
        self.inner
            .revocations
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .revoke(serial.clone());
        self.inner
            .registry
            .close_serial(serial, CloseCode::Revoked, "revoked")
    }

    /// Revokes the certificate `site` is connected with, and closes that connection. Returns
    /// the serial, or `None` when the site is not connected (revoke by serial then).
    pub fn revoke_site(&self, site: &SiteId) -> Option<Serial> {
        let serial = self.inner.registry.serial(site)?;
        self.revoke(&serial);
        Some(serial)
    }

    /// Starts a new numbering for a site whose agent enrolled again (a replaced device, a
    /// wiped data directory: it has no link state), and records the loss so the application
    /// heals it (see [`crate::loss`]). Its connection is closed; commands it had not
    /// acknowledged stay queued and go again under the new epoch. (An agent never enrolls
    /// into a data directory that already holds an identity, so its side starts afresh by
    /// construction; the agent's new epoch moves this side's inbox on its first Hello.)
    ///
    /// `None` for a site that never exchanged a message (its first enrollment): nothing to heal.
    pub async fn reset_site(&self, site: &SiteId) -> Result<Option<Loss>, LinkError> {
        self.disconnect(site, "link state restarted: the site enrolled again");
        let peer = PeerId::Site(site.clone());
        let outbox = self.inner.outbox(site)?;
        let received = self.inner.inbox.position(&peer)?;
        if outbox.acked()? == 0 && received.seq == 0 && received.epoch == 0 {
            return Ok(None);
        }
        let (loss, _) = outbox
            .start_epoch(
                &peer,
                LossKind::Reenrolled,
                "the site enrolled again".into(),
                crate::session::unix_now(),
            )
            .await?;
        self.inner.losses.notify();
        Ok(Some(loss))
    }

    /// Closes `site`'s connection with `reason`; the agent will reconnect. Returns whether one
    /// was open.
    pub fn disconnect(&self, site: &SiteId, reason: &str) -> bool {
        self.inner
            .registry
            .close_site(site, CloseCode::Normal, reason)
            .is_some()
    }

    /// Closes every connection with a reason, stops accepting, and makes every write durable.
    pub async fn shutdown(&self) -> Result<(), LinkError> {
        let inner = &self.inner;
        inner.shutdown.send_replace(true);
        inner
            .registry
            .close_all(CloseCode::Shutdown, "controller shutting down");
        inner
            .endpoint
            .close(CloseCode::Shutdown.to_varint(), b"controller shutting down");
        let tasks =
            std::mem::take(&mut *inner.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            let _ = task.await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), inner.endpoint.wait_idle()).await;
        inner.db.barrier().await?;
        Ok(())
    }
}

impl<Evt: Payload, Q: Payload, R: Payload> Inner<Evt, Q, R> {
    fn outbox(&self, site: &SiteId) -> Result<Arc<Outbox>, LinkError> {
        let mut map = self.outboxes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(o) = map.get(site) {
            return Ok(o.clone());
        }
        let outbox = Arc::new(Outbox::open(
            &self.db,
            &PeerId::Site(site.clone()),
            self.link.max_outbox_entries,
            self.link.max_frame_len,
        )?);
        map.insert(site.clone(), outbox.clone());
        Ok(outbox)
    }
}

/// Where the stateless-reset key lives in the link's tables.
const RESET_KEY: &[u8] = b"stateless-reset-key";

/// The controller's QUIC endpoint, with a stateless-reset key and connection-ID key that
/// survive restarts.
///
/// After a controller crash its agents keep sending on their old connections. The restarted
/// process answers a packet for a connection it does not know with a stateless reset, and the
/// agent reconnects at once, but only when two keys are the same as before the crash:
/// - the reset key, from which the reset token is derived (quinn's default is random per
///   process: the agent cannot verify the reset and ignores it);
/// - the key of quinn's connection-ID generator, which checks that a packet's connection ID
///   is one this endpoint could have issued before answering it at all (random per process
///   by default: the old IDs fail the check and their packets are dropped without a reset).
///
/// With either key fresh, agents came back only when their idle timeout fired (30 s with the
/// production settings; `fleet_sigkill` has the test). Both come from the one key kept in
/// the database.
async fn endpoint(
    db: &Db,
    quic: quinn::ServerConfig,
    listen: std::net::SocketAddr,
    recv_buffer: usize,
) -> Result<quinn::Endpoint, LinkError> {
    let key = stateless_reset_key(db).await?;
    let cid_key = connection_id_key(&key);
    let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut config = quinn::EndpointConfig::new(Arc::new(hmac));
    config.cid_generator(move || {
        Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key))
    });
    let socket = udp_socket(listen, recv_buffer)?;
    let runtime = quinn::default_runtime()
        .ok_or_else(|| LinkError::Config("no tokio runtime to run the endpoint on".into()))?;
    Ok(quinn::Endpoint::new(config, Some(quic), socket, runtime)?)
}

/// The fleet's UDP socket, bound to `listen`, with the receive buffer asked for (what the
/// kernel granted is logged: it caps the request at `net.core.rmem_max`).
fn udp_socket(
    listen: std::net::SocketAddr,
    recv_buffer: usize,
) -> Result<std::net::UdpSocket, LinkError> {
    let socket = crate::udp::bind_udp(listen, recv_buffer)?;
    if recv_buffer > 0 {
        let granted = socket2::SockRef::from(&socket)
            .recv_buffer_size()
            .unwrap_or(0);
        tracing::info!(
            asked = recv_buffer,
            granted,
            "fleet socket receive buffer (the kernel caps it at net.core.rmem_max)"
        );
    }
    Ok(socket)
}

/// The connection-ID generator's key, derived from the stored reset key (a separate HMAC
/// label, so neither key reveals the other).
fn connection_id_key(reset_key: &[u8; 32]) -> u64 {
    let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, reset_key);
    let tag = ring::hmac::sign(&hmac, b"hotspot-fleet/1 connection id key");
    let mut first = [0u8; 8];
    first.copy_from_slice(&tag.as_ref()[..8]);
    u64::from_le_bytes(first)
}

/// The 32-byte stateless-reset key, made once and kept (durably) in `link/meta`.
pub(crate) async fn stateless_reset_key(db: &Db) -> Result<[u8; 32], LinkError> {
    const META: &str = "link/meta";
    let stored = db.write(|tx| match tx.get(META, RESET_KEY)? {
        Some(key) => Ok::<_, LinkError>(key),
        None => {
            let mut fresh = [0u8; 32];
            rand::Rng::fill_bytes(&mut rand::rng(), &mut fresh);
            tx.insert(META, RESET_KEY, &fresh)?;
            Ok(fresh.to_vec())
        }
    })?;
    db.barrier().await?;
    stored.as_slice().try_into().map_err(|_| {
        LinkError::Encode(format!(
            "stored stateless-reset key has {} bytes, not 32",
            stored.len()
        ))
    })
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    #[tokio::test]
    async fn the_stateless_reset_key_is_made_once_and_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let open = || Db::open(&path, hotspot_storage::Options::default()).expect("opens");
        let first = {
            let db = open();
            let a = stateless_reset_key(&db).await.expect("made");
            assert_eq!(
                stateless_reset_key(&db).await.expect("read"),
                a,
                "made once"
            );
            a
        };
        let db = open();
        assert_eq!(
            stateless_reset_key(&db).await.expect("read"),
            first,
            "kept across restarts"
        );
        assert_ne!(first, [0u8; 32]);
        assert_ne!(
            connection_id_key(&first),
            connection_id_key(&[7u8; 32]),
            "the connection-ID key follows the stored key"
        );
    }

    #[test]
    fn the_fleet_socket_gets_a_larger_receive_buffer_than_the_kernel_default() {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let size = |s: std::net::UdpSocket| socket2::SockRef::from(&s).recv_buffer_size();
        let default = size(udp_socket(addr, 0).expect("binds")).expect("reads");
        let asked = size(udp_socket(addr, 4 * default).expect("binds")).expect("reads");
        assert!(asked > default, "asked {asked} vs default {default}");
    }
}
