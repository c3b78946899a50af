//! Accepting connections: the QUIC handshake, then either the enrollment exchange (no client
//! certificate) or a site session named by the certificate; plus the sweep that closes silent
//! sites. Each connection is one task in the accept loop's `JoinSet`, so none outlives the
//! endpoint.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};

use hotspot_pki::{Serial, serial_of, site_id_from_cert, validity_of};
use rustls_pki_types::CertificateDer;
use tokio::task::JoinSet;

use super::Inner;
use crate::Payload;
use crate::peer::PeerId;
use crate::registry::Slot;
use crate::session::Parts;
use crate::wire::{CloseCode, End, close_now};

impl<Evt: Payload, Q: Payload, R: Payload> Inner<Evt, Q, R> {
    pub(super) async fn accept_loop(self: Arc<Self>) {
        let mut shutdown = self.shutdown.subscribe();
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                incoming = self.endpoint.accept() => {
                    let Some(incoming) = incoming else { break };
                    if conns.len() >= self.config.max_connections {
                        tracing::warn!(remote = %incoming.remote_address(), "refusing a connection: at the cap of {}", self.config.max_connections);
                        incoming.refuse();
                        continue;
                    }
                    conns.spawn(self.clone().serve(incoming));
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        // Connections were closed by `shutdown`; give their tasks a moment, then abort the rest.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while conns.join_next().await.is_some() {}
        })
        .await;
    }

    pub(super) async fn sweep_loop(self: Arc<Self>) {
        let mut shutdown = self.shutdown.subscribe();
        let period = (self.config.offline_after / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(period) => { self.registry.sweep(self.config.offline_after, SystemTime::now()); }
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
    }

    async fn serve(self: Arc<Self>, incoming: quinn::Incoming) {
        let remote = incoming.remote_address();
        let connecting = match incoming.accept() {
            Ok(c) => c,
            Err(e) => return tracing::debug!(%remote, "incoming connection failed: {e}"),
        };
        let conn = match tokio::time::timeout(self.link.hello_timeout, connecting).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return tracing::info!(%remote, "handshake failed: {e}"),
            Err(_) => return tracing::info!(%remote, "handshake timed out"),
        };
        let cert = conn
            .peer_identity()
            .and_then(|id| id.downcast::<Vec<CertificateDer<'static>>>().ok())
            .and_then(|chain| chain.first().cloned());
        match cert {
            None => {
                let enroller = self.control.enroller.clone();
                crate::enroll::serve(conn, enroller, &self.enrollments, self.link.hello_timeout)
                    .await;
            }
            Some(cert) => self.serve_site(conn, &cert, remote).await,
        }
    }

    async fn serve_site(&self, conn: quinn::Connection, cert: &[u8], remote: SocketAddr) {
        // The verifier already refused certificates without exactly one site; check anyway.
        let facts = (site_id_from_cert(cert), serial_of(cert), validity_of(cert));
        let (site, serial, expires) = match facts {
            (Ok(site), Ok(serial), Ok((_, not_after))) => {
                (site, serial, SystemTime::from(not_after))
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                return close_now(
                    &conn,
                    CloseCode::Protocol,
                    &format!("unusable client certificate: {e}"),
                );
            }
        };
        // The TLS verifier decided already; this is defence in depth (e.g. should session
        // resumption ever be enabled, which skips the verifier).
        if let Some((code, reason)) = self.refusal(&serial, expires) {
            return close_now(&conn, code, reason);
        }
        let outbox = match self.outbox(&site) {
            Ok(o) => o,
            Err(e) => {
                return close_now(
                    &conn,
                    CloseCode::Storage,
                    &format!("controller storage failed: {e}"),
                );
            }
        };
        let parts = Parts {
            peer: PeerId::Site(site.clone()),
            config: self.link.clone(),
            outbox,
            inbox: self.inbox.clone(),
            losses: self.losses.clone(),
            responder: self.responder.clone(),
            renewer: self.control.renewer.clone().map(|r| (r, site.clone())),
        };
        let (send, recv) = match tokio::time::timeout(self.link.hello_timeout, conn.accept_bi())
            .await
        {
            Ok(Ok(streams)) => streams,
            Ok(Err(e)) => {
                return tracing::info!(%site, %remote, "connection ended before its stream opened: {e}");
            }
            Err(_) => return close_now(&conn, CloseCode::Protocol, "no stream opened in time"),
        };
        let est = match parts.open_as_server(&conn, send, recv).await {
            Ok(est) => est,
            Err(end) => return tracing::warn!(%site, %remote, "hello failed: {}", end.into_error()),
        };
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.registry.insert(
            &site,
            Slot {
                conn_id,
                conn: conn.clone(),
                serial: serial.clone(),
                expires,
                channel: est.channel.clone(),
            },
        );
        // Again after registering: a `revoke` that ran meanwhile did not see this connection.
        if let Some((code, reason)) = self.refusal(&serial, expires) {
            est.channel.close(&conn, code, reason);
        }
        tracing::info!(%site, %remote, %serial, "site connected");
        let channel = est.channel.clone();
        let end = parts.run(&conn, est).await;
        let misbehaved = matches!(&end, End::Close { code, .. } if *code != CloseCode::Normal);
        let why = channel
            .closed_because()
            .unwrap_or_else(|| end.into_error().to_string());
        self.registry.remove(&site, conn_id, &why);
        if misbehaved {
            tracing::warn!(%site, %remote, "site connection closed: {why}");
        } else {
            tracing::info!(%site, %remote, "site disconnected: {why}");
        }
    }

    /// Why a connection with this certificate must not be served, if it must not.
    fn refusal(&self, serial: &Serial, expires: SystemTime) -> Option<(CloseCode, &'static str)> {
        let revocations = self
            .revocations
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if revocations.is_revoked(serial) {
            return Some((CloseCode::Revoked, "revoked"));
        }
        if expires + Duration::from_secs(1) <= SystemTime::now() {
            return Some((
                CloseCode::CertificateExpired,
                "the client certificate expired",
            ));
        }
        None
    }
}
