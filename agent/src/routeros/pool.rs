//! `Router`: a small, fixed pool of sessions to one router, reopened with backoff.
//!
//! Routers limit API sessions (`/ip service` `max-sessions`), and a session is cheap to keep and
//! slow to open (TCP, maybe TLS, login), so the pool keeps a few long-lived sessions (one by
//! default) and pipelines commands over them rather than opening more.
//!
//! Sessions open lazily. A dead one is replaced on next use, retrying the connect with
//! exponential backoff and full jitter (`backon` computes the capped exponential schedule,
//! each delay is then drawn uniformly from `[0, delay]`). Only the *connect* is retried, and only
//! for transient causes: wrong credentials or a pin mismatch come back at once, and a command
//! whose outcome is unknown (`ConnectionLost`, `Timeout`) is never resent here — the caller
//! knows whether it is safe. A command that was provably not sent (`Closed`) is sent once more
//! on a fresh session.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder, Retryable};
use hotspot_shared::routeros::Request;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::config::{ReconnectPolicy, RouterConfig};
use super::connection::Connection;
use super::dispatch::Response;
use super::error::RouterError;

/// Most sessions a pool keeps to one router, whatever the config asks.
pub const MAX_POOL_SIZE: usize = 8;

/// A pool of sessions to one router. Cheap to clone; clones share the sessions.
#[derive(Clone, Debug)]
pub struct Router {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    config: RouterConfig,
    slots: Vec<Mutex<Slot>>,
    next: AtomicUsize,
    /// Sessions opened so far: a reopen may follow a reboot or a reset of the router.
    opens: AtomicU64,
    /// Facts about the router's configuration, each with the `opens` it was learnt at; one
    /// holds while no session has been reopened since.
    facts: std::sync::Mutex<HashMap<String, u64>>,
}

#[derive(Debug, Default)]
struct Slot {
    conn: Option<Connection>,
    /// The last failed reopen, so callers queued behind it get its answer instead of each
    /// running a full backoff of their own.
    failure: Option<(Instant, RouterError)>,
}

impl Router {
    pub fn new(config: RouterConfig) -> Router {
        let size = config.pool_size.clamp(1, MAX_POOL_SIZE);
        let slots = (0..size).map(|_| Mutex::new(Slot::default())).collect();
        Router {
            inner: Arc::new(PoolInner {
                config,
                slots,
                next: AtomicUsize::new(0),
                opens: AtomicU64::new(0),
                facts: std::sync::Mutex::default(),
            }),
        }
    }

    /// Whether `self` and `other` are the same pool (not only the same settings).
    pub fn same_pool(&self, other: &Router) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub fn config(&self) -> &RouterConfig {
        &self.inner.config
    }

    /// How many sessions this pool has opened: read before learning a fact (see
    /// [`Router::learn`]).
    pub(crate) fn opens(&self) -> u64 {
        self.inner.opens.load(Ordering::SeqCst)
    }

    /// Whether `fact` was learnt and no session was opened since.
    pub(crate) fn knows(&self, fact: &str) -> bool {
        let facts = self.inner.facts.lock().unwrap_or_else(|e| e.into_inner());
        facts.get(fact) == Some(&self.opens())
    }

    /// Records `fact`, found true by commands that started when [`Router::opens`] was
    /// `opens`: a session opened meanwhile leaves it unknown.
    pub(crate) fn learn(&self, fact: String, opens: u64) {
        let mut facts = self.inner.facts.lock().unwrap_or_else(|e| e.into_inner());
        facts.insert(fact, opens);
    }

    /// Forgets every fact that starts with `prefix`.
    pub(crate) fn forget(&self, prefix: &str) {
        let mut facts = self.inner.facts.lock().unwrap_or_else(|e| e.into_inner());
        facts.retain(|fact, _| !fact.starts_with(prefix));
    }

    /// A live session (opened or reopened if needed), taking the slots in turn.
    pub async fn connection(&self) -> Result<Connection, RouterError> {
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.slots.len();
        self.slot_connection(i).await
    }

    async fn slot_connection(&self, i: usize) -> Result<Connection, RouterError> {
        let asked_at = Instant::now();
        let mut slot = self.inner.slots[i].lock().await;
        if let Some(conn) = &slot.conn
            && !conn.is_dead()
        {
            return Ok(conn.clone());
        }
        if let Some((at, err)) = &slot.failure
            && *at >= asked_at
        {
            return Err(err.clone());
        }
        slot.conn = None;
        match open(&self.inner.config).await {
            Ok(conn) => {
                self.inner.opens.fetch_add(1, Ordering::SeqCst);
                slot.conn = Some(conn.clone());
                slot.failure = None;
                Ok(conn)
            }
            Err(err) => {
                slot.failure = Some((Instant::now(), err.clone()));
                Err(err)
            }
        }
    }

    /// Runs one command. A command the session provably did not send (`Closed`) is sent once
    /// more on a fresh session; anything else, including `ConnectionLost`, is returned.
    pub async fn call(&self, request: Request) -> Result<Response, RouterError> {
        let conn = self.connection().await?;
        match conn.call(request.clone()).await {
            Err(RouterError::Closed(_)) => self.connection().await?.call(request).await,
            other => other,
        }
    }

    /// Runs a command that changes nothing (a print): after a lost session it is safe to send it
    /// again, once, on a fresh session.
    pub async fn call_read(&self, request: Request) -> Result<Response, RouterError> {
        let conn = self.connection().await?;
        match conn.call(request.clone()).await {
            Err(RouterError::Closed(_) | RouterError::ConnectionLost { .. }) => {
                self.connection().await?.call(request).await
            }
            other => other,
        }
    }

    /// Whether at least one session is open and alive right now (no IO).
    pub fn is_connected(&self) -> bool {
        self.inner.slots.iter().any(|s| {
            s.try_lock()
                .is_ok_and(|slot| slot.conn.as_ref().is_some_and(|c| !c.is_dead()))
        })
    }

    /// Closes every session (`/quit`). The pool stays usable and reopens on next use.
    pub async fn close(&self) {
        for slot in &self.inner.slots {
            let conn = slot.lock().await.conn.take();
            if let Some(conn) = conn {
                conn.close().await;
            }
        }
    }
}

/// Opens a session, retrying transient failures on the policy's schedule.
async fn open(config: &RouterConfig) -> Result<Connection, RouterError> {
    let address = config.address();
    (|| Connection::connect(config))
        .retry(FullJitter(config.reconnect))
        .sleep(tokio::time::sleep)
        .when(RouterError::is_transient)
        .notify(|err, delay| tracing::warn!(router = %address, error = %err, ?delay, "RouterOS connect failed; retrying"))
        .await
}

/// `backon`'s capped exponential schedule (factor 2, no jitter of its own), with each delay
/// replaced by a uniform draw from `[0, delay]`: "full jitter", which spreads many agents
/// reconnecting to one rebooted router better than backon's additive jitter.
#[derive(Debug, Clone, Copy)]
pub struct FullJitter(pub ReconnectPolicy);

impl BackoffBuilder for FullJitter {
    type Backoff = FullJitterBackoff;

    fn build(self) -> FullJitterBackoff {
        let policy = self.0;
        let exponential = ExponentialBuilder::new()
            .with_factor(2.0)
            .with_min_delay(policy.base)
            .with_max_delay(policy.cap)
            .with_max_times(policy.max_attempts);
        FullJitterBackoff {
            exponential: exponential.build(),
        }
    }
}

/// The delays of [`FullJitter`].
#[derive(Debug)]
pub struct FullJitterBackoff {
    exponential: ExponentialBackoff,
}

impl Iterator for FullJitterBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let ceiling = self.exponential.next()?;
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Some(Duration::from_nanos(rand::random_range(0..=nanos)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_the_capped_exponential() {
        let policy = ReconnectPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(1),
            max_attempts: 6,
        };
        let delays: Vec<Duration> = FullJitter(policy).build().collect();
        assert_eq!(delays.len(), 6);
        let ceilings = [200, 400, 800, 1000, 1000, 1000];
        for (d, c) in delays.iter().zip(ceilings) {
            assert!(*d <= Duration::from_millis(c), "{d:?} > {c} ms");
        }
    }

    #[test]
    fn no_retry_policy_yields_no_delays() {
        assert_eq!(FullJitter(ReconnectPolicy::no_retry()).build().count(), 0);
    }

    #[tokio::test]
    async fn refused_is_retried_then_returned() {
        // Bind and drop a listener to get a local port where nothing listens.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let mut config = RouterConfig::plain("127.0.0.1", port, "admin", "x");
        config.reconnect = ReconnectPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            max_attempts: 2,
        };
        let router = Router::new(config);
        assert!(matches!(
            router.connection().await,
            Err(RouterError::Refused(_))
        ));
        assert!(!router.is_connected());
    }
}
