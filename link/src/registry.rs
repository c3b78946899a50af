//! The controller's table of connected sites: at most one live connection per site, its
//! liveness, and the events published when sites come and go.
//!
//! A newer connection from a site replaces the older one (which is closed with a reason): an
//! agent that reconnects after its uplink flapped must not wait for the old connection's idle
//! timeout. Removal is by connection id, so an old session ending late never removes its
//! replacement.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use hotspot_pki::{Serial, SiteId};
use tokio::sync::broadcast;

use crate::channel::Channel;
use crate::wire::CloseCode;

/// What the controller knows about one site's link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteStatus {
    /// Connected, and a frame arrived within `offline_after`.
    pub online: bool,
    /// When the current connection was established.
    pub connected_since: Option<SystemTime>,
    /// When the last frame arrived (this process's knowledge; `None` if never).
    pub last_seen: Option<SystemTime>,
    /// Commands waiting for the site's ack.
    pub outbox_len: u64,
    /// The outbox cap; `send` fails at it.
    pub outbox_max: u64,
}

/// A site came online or went offline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteEvent {
    Online { site: SiteId },
    Offline { site: SiteId, reason: String },
}

pub(crate) struct Slot<Q, R> {
    pub conn_id: u64,
    pub conn: quinn::Connection,
    pub serial: Serial,
    /// The certificate's `not_after`: the connection does not outlive it.
    pub expires: SystemTime,
    pub channel: Arc<Channel<Q, R>>,
}

pub(crate) struct Registry<Q, R> {
    slots: Mutex<HashMap<SiteId, Slot<Q, R>>>,
    /// Last frame time of sites whose connection ended.
    last_seen: Mutex<HashMap<SiteId, SystemTime>>,
    events: broadcast::Sender<SiteEvent>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<Q, R> Registry<Q, R> {
    pub(crate) fn new() -> Self {
        Registry {
            slots: Mutex::new(HashMap::new()),
            last_seen: Mutex::new(HashMap::new()),
            events: broadcast::Sender::new(1024),
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<SiteEvent> {
        self.events.subscribe()
    }

    /// Makes `slot` the site's connection, closing the one it replaces.
    pub(crate) fn insert(&self, site: &SiteId, slot: Slot<Q, R>) {
        let old = lock(&self.slots).insert(site.clone(), slot);
        if let Some(old) = old {
            old.channel.close(
                &old.conn,
                CloseCode::Replaced,
                "replaced by a newer connection from the same site",
            );
        }
        let _ = self.events.send(SiteEvent::Online { site: site.clone() });
    }

    /// Removes the site's connection if it is still `conn_id`.
    pub(crate) fn remove(&self, site: &SiteId, conn_id: u64, reason: &str) {
        let mut slots = lock(&self.slots);
        if slots.get(site).is_some_and(|s| s.conn_id == conn_id) {
            if let Some(slot) = slots.remove(site) {
                lock(&self.last_seen).insert(site.clone(), slot.channel.last_seen());
            }
            drop(slots);
            let _ = self.events.send(SiteEvent::Offline {
                site: site.clone(),
                reason: reason.to_string(),
            });
        }
    }

    pub(crate) fn channel(&self, site: &SiteId) -> Option<Arc<Channel<Q, R>>> {
        lock(&self.slots).get(site).map(|s| s.channel.clone())
    }

    /// Closes every connection whose certificate has `serial`; returns how many.
    pub(crate) fn close_serial(&self, serial: &Serial, code: CloseCode, reason: &str) -> usize {
        let slots = lock(&self.slots);
        let matching: Vec<_> = slots
            .values()
            .filter(|s| &s.serial == serial)
            .map(|s| (s.conn.clone(), s.channel.clone()))
            .collect();
        drop(slots);
        for (conn, channel) in &matching {
            channel.close(conn, code, reason);
        }
        matching.len()
    }

    /// Closes the site's connection; returns its certificate serial.
    pub(crate) fn close_site(
        &self,
        site: &SiteId,
        code: CloseCode,
        reason: &str,
    ) -> Option<Serial> {
        let (conn, channel, serial) = lock(&self.slots)
            .get(site)
            .map(|s| (s.conn.clone(), s.channel.clone(), s.serial.clone()))?;
        channel.close(&conn, code, reason);
        Some(serial)
    }

    /// The certificate serial of the site's connection.
    pub(crate) fn serial(&self, site: &SiteId) -> Option<Serial> {
        lock(&self.slots).get(site).map(|s| s.serial.clone())
    }

    /// Closes connections that sent nothing for `silent_after`, and those whose certificate
    /// expired by `now` (TLS checked validity only at the handshake).
    pub(crate) fn sweep(&self, silent_after: Duration, now: SystemTime) {
        let doomed: Vec<_> = lock(&self.slots)
            .iter()
            .filter_map(|(site, s)| {
                // X.509 validity is inclusive to the second; past it, reconnecting fails too.
                let why = if s.expires + Duration::from_secs(1) <= now {
                    (
                        CloseCode::CertificateExpired,
                        "the client certificate expired".to_string(),
                    )
                } else if s.channel.silent_for() > silent_after {
                    let ms = silent_after.as_millis();
                    (CloseCode::Silent, format!("no frame for over {ms} ms"))
                } else {
                    return None;
                };
                Some((site.clone(), s.conn.clone(), s.channel.clone(), why))
            })
            .collect();
        for (site, conn, channel, (code, reason)) in doomed {
            tracing::info!(%site, "closing the site's connection: {reason}");
            channel.close(&conn, code, &reason);
        }
    }

    pub(crate) fn close_all(&self, code: CloseCode, reason: &str) {
        for slot in lock(&self.slots).values() {
            slot.channel.close(&slot.conn, code, reason);
        }
    }

    pub(crate) fn connected(&self) -> Vec<SiteId> {
        lock(&self.slots).keys().cloned().collect()
    }

    /// `(online, connected_since, last_seen)` for the site.
    pub(crate) fn liveness(
        &self,
        site: &SiteId,
        offline_after: Duration,
    ) -> (bool, Option<SystemTime>, Option<SystemTime>) {
        if let Some(slot) = lock(&self.slots).get(site) {
            let online = slot.channel.silent_for() <= offline_after;
            return (
                online,
                Some(slot.channel.opened_at()),
                Some(slot.channel.last_seen()),
            );
        }
        (false, None, lock(&self.last_seen).get(site).copied())
    }
}
