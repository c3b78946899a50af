//! The routers this agent serves, live: a connection pool per router, its wake-ups, and
//! whether it is currently reported down.
//!
//! Why it is shaped so: settings change (the controller sends new credentials) while workers
//! and jobs keep running, so a [`LiveRouter`] is stable for the router's whole life here and
//! only its pool is swapped; workers take the current pool at each batch. Passwords are opened
//! from the store's sealed form only to build a pool, and live on only inside it
//! ([`SecretString`], whose `Debug` hides them).
//!
//! Also here: turning the controller's `RouterSpec` / stored [`RouterEntry`] into a
//! [`RouterConfig`], and a [`RouterError`] into the [`RouterFailure`] the controller shows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hotspot_pki::tls::certs_from_pem;
use hotspot_shared::domain::{FailureKind, RouterFailure, RouterId, RouterTls};
use hotspot_shared::secretbox::{Keyring, Place, Sealed};
use tokio::sync::Notify;

use crate::config::Settings;
use crate::jobs::state::JobState;
use crate::routeros::{ReconnectPolicy, Router, RouterConfig, RouterError, SecretString, TlsTrust};
use crate::store::RouterEntry;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One router as the agent's tasks share it.
#[derive(Debug)]
pub struct LiveRouter {
    pub id: RouterId,
    pool: Mutex<Router>,
    /// New queue items (or new settings): the apply worker looks at the queue.
    pub wake_apply: Notify,
    /// "Sync now": the jobs run a usage sync.
    pub wake_sync: Notify,
    /// The router came back: the jobs send health and info.
    pub wake_health: Notify,
    down: Mutex<bool>,
    /// Usage sync state; the lock also keeps two syncs of one router apart.
    pub sync: tokio::sync::Mutex<JobState>,
}

impl LiveRouter {
    /// The current pool (cheap clone).
    pub fn pool(&self) -> Router {
        lock(&self.pool).clone()
    }

    /// Marks the router down; true when it was up (send `RouterDown` once per outage).
    pub fn mark_down(&self) -> bool {
        !std::mem::replace(&mut *lock(&self.down), true)
    }

    /// Marks the router up; true when it was down (the outage ended).
    pub fn mark_up(&self) -> bool {
        std::mem::replace(&mut *lock(&self.down), false)
    }

    pub fn is_down(&self) -> bool {
        *lock(&self.down)
    }
}

/// Every live router, by id.
#[derive(Debug)]
pub struct RouterSet {
    map: Mutex<HashMap<RouterId, Arc<LiveRouter>>>,
    /// Routers were added or removed: the supervisor reconciles workers.
    pub changed: Notify,
}

impl RouterSet {
    pub fn new() -> Self {
        RouterSet {
            map: Mutex::new(HashMap::new()),
            changed: Notify::new(),
        }
    }

    pub fn get(&self, id: RouterId) -> Option<Arc<LiveRouter>> {
        lock(&self.map).get(&id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<LiveRouter>> {
        lock(&self.map).values().cloned().collect()
    }

    /// Adds a router, or gives an existing one a new pool (the old one is closed) when its
    /// settings changed. The same settings again (the controller hands them over on every
    /// connect) keep the pool: closing it would cut the commands in flight on it.
    pub fn upsert(&self, id: RouterId, config: RouterConfig) -> Arc<LiveRouter> {
        let mut map = lock(&self.map);
        let live = match map.get(&id) {
            Some(live) => {
                let mut current = lock(&live.pool);
                if *current.config() != config {
                    let old = std::mem::replace(&mut *current, Router::new(config));
                    tokio::spawn(async move { old.close().await });
                }
                drop(current);
                live.clone()
            }
            None => {
                let live = Arc::new(LiveRouter {
                    id,
                    pool: Mutex::new(Router::new(config)),
                    wake_apply: Notify::new(),
                    wake_sync: Notify::new(),
                    wake_health: Notify::new(),
                    down: Mutex::new(false),
                    sync: tokio::sync::Mutex::new(JobState::default()),
                });
                map.insert(id, live.clone());
                live
            }
        };
        drop(map);
        live.wake_apply.notify_one();
        live.wake_health.notify_one();
        self.changed.notify_one();
        live
    }

    pub fn remove(&self, id: RouterId) -> Option<Arc<LiveRouter>> {
        let removed = lock(&self.map).remove(&id);
        self.changed.notify_one();
        removed
    }

    /// Closes every pool (`/quit`).
    pub async fn close_all(&self) {
        for live in self.all() {
            live.pool().close().await;
        }
    }
}

impl Default for RouterSet {
    fn default() -> Self {
        RouterSet::new()
    }
}

/// How to reach a router, as the store or the controller says it.
pub struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
    pub username: &'a str,
    pub tls: Option<&'a RouterTls>,
}

impl<'a> From<&'a RouterEntry> for Endpoint<'a> {
    fn from(e: &'a RouterEntry) -> Self {
        Endpoint {
            host: &e.host,
            port: e.port,
            username: &e.username,
            tls: e.tls.as_ref(),
        }
    }
}

/// A pool config with the agent's limits. A CA that is not PEM is a `Tls` failure.
pub fn router_config(
    endpoint: Endpoint<'_>,
    password: SecretString,
    settings: &Settings,
) -> Result<RouterConfig, RouterFailure> {
    let mut config = RouterConfig::plain(endpoint.host, endpoint.port, endpoint.username, password);
    config.tls = match endpoint.tls {
        None => None,
        Some(RouterTls::Pin(pin)) => Some(TlsTrust::Pin(*pin)),
        Some(RouterTls::CaPem(pem)) => {
            let roots = certs_from_pem("the router CA", pem)
                .map_err(|e| RouterFailure::new(FailureKind::Tls, e.to_string()))?;
            Some(TlsTrust::Ca(roots))
        }
    };
    config.connect_timeout = settings.router.connect_timeout;
    config.command_timeout = settings.router.command_timeout;
    config.window = settings.apply.window;
    Ok(config)
}

/// A config for a one-off test: same limits, no reconnect retries.
pub fn test_config(
    endpoint: Endpoint<'_>,
    password: SecretString,
    settings: &Settings,
) -> Result<RouterConfig, RouterFailure> {
    let mut config = router_config(endpoint, password, settings)?;
    config.reconnect = ReconnectPolicy::no_retry();
    Ok(config)
}

/// Where a router's password is sealed: bound to the router's id.
pub fn password_place(id: RouterId) -> Place {
    Place::router_password(id.0.to_string())
}

/// Seals a router password under the agent's current master key.
pub fn seal_password(keyring: &Keyring, id: RouterId, password: &str) -> Result<Sealed, String> {
    keyring
        .seal(&password_place(id), password.as_bytes(), &mut rand::rng())
        .map_err(|e| format!("cannot seal the router password: {e}"))
}

/// Opens a stored router password (only to build a pool).
pub fn open_password(keyring: &Keyring, entry: &RouterEntry) -> Result<SecretString, String> {
    let opened = keyring
        .open(&password_place(entry.id), &entry.password)
        .map_err(|e| format!("cannot open the sealed password of {}: {e}", entry.id))?;
    let text = opened
        .expose_str()
        .map_err(|_| format!("the sealed password of {} is not UTF-8", entry.id))?;
    Ok(SecretString::new(text))
}

/// What the controller is told about a failed RouterOS call.
pub fn failure_of(err: &RouterError) -> RouterFailure {
    let kind = match err {
        RouterError::Unreachable(_)
        | RouterError::ConnectionLost { .. }
        | RouterError::Closed(_) => FailureKind::Unreachable,
        RouterError::Refused(_) | RouterError::Fatal(_) => FailureKind::Refused,
        RouterError::Timeout { .. } | RouterError::Busy { .. } => FailureKind::Timeout,
        RouterError::BadCredentials => FailureKind::BadCredentials,
        RouterError::Tls(_) => FailureKind::Tls,
        RouterError::PinMismatch { .. } => FailureKind::PinMismatch,
        RouterError::Trap { .. }
        | RouterError::AlreadyExists { .. }
        | RouterError::NoSuchItem { .. } => FailureKind::Trap,
        RouterError::Protocol(_) => FailureKind::Protocol,
    };
    RouterFailure::new(kind, err.to_string())
}

/// Whether the error means "cannot talk to this router" (report it down), as opposed to one
/// command's outcome or the router's answer.
pub fn means_down(err: &RouterError) -> bool {
    matches!(
        err,
        RouterError::Unreachable(_)
            | RouterError::Refused(_)
            | RouterError::BadCredentials
            | RouterError::Tls(_)
            | RouterError::PinMismatch { .. }
            | RouterError::Fatal(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_kinds_a_person_can_act_on() {
        let kind = |e: RouterError| failure_of(&e).kind;
        assert_eq!(
            kind(RouterError::BadCredentials),
            FailureKind::BadCredentials
        );
        assert_eq!(kind(RouterError::Refused("x".into())), FailureKind::Refused);
        assert_eq!(
            kind(RouterError::Unreachable("x".into())),
            FailureKind::Unreachable
        );
        assert_eq!(
            kind(RouterError::Timeout { what: "x".into() }),
            FailureKind::Timeout
        );
        assert_eq!(
            kind(RouterError::Trap {
                category: None,
                message: "not enough privileges".into()
            }),
            FailureKind::Trap
        );
        assert!(means_down(&RouterError::BadCredentials));
        assert!(!means_down(&RouterError::ConnectionLost {
            reason: "eof".into()
        }));
    }

    #[test]
    fn a_bad_ca_is_a_tls_failure() {
        let settings = Settings::new("/tmp/x", "127.0.0.1:1".parse().expect("addr"), "c");
        let tls = RouterTls::CaPem("not pem".into());
        let endpoint = Endpoint {
            host: "10.0.0.1",
            port: 8729,
            username: "api",
            tls: Some(&tls),
        };
        let err = router_config(endpoint, SecretString::new("pw"), &settings).expect_err("bad");
        assert_eq!(err.kind, FailureKind::Tls);
    }

    #[tokio::test]
    async fn the_same_settings_again_keep_the_pool_and_new_ones_replace_it() {
        let set = RouterSet::new();
        let config = |pw: &str| RouterConfig::plain("127.0.0.1", 1, "a", SecretString::new(pw));
        let live = set.upsert(RouterId(1), config("b"));
        let first = live.pool();
        set.upsert(RouterId(1), config("b"));
        assert!(
            live.pool().same_pool(&first),
            "unchanged settings keep the sessions"
        );
        set.upsert(RouterId(1), config("new password"));
        assert!(
            !live.pool().same_pool(&first),
            "a new password gets a new pool"
        );
    }

    #[test]
    fn down_is_reported_once_per_outage() {
        let set = RouterSet::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let live = set.upsert(
                RouterId(1),
                RouterConfig::plain("127.0.0.1", 1, "a", SecretString::new("b")),
            );
            assert!(live.mark_down());
            assert!(!live.mark_down());
            assert!(live.mark_up());
            assert!(!live.mark_up());
        });
    }
}
