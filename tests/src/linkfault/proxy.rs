//! [`LinkFaultProxy`]: the handle tests hold to start, steer, read and stop the proxy.
//!
//! The handle is cheap to clone so a test can give one to a background "chaos" task and keep
//! another. Settings and counters live in shared state the relay tasks read per datagram, so a
//! change applies to the very next datagram without restarting anything. Shutdown is explicit
//! ([`LinkFaultProxy::shutdown`] signals every task and waits for them, releasing the ports);
//! dropping the last handle signals it too, so a forgotten proxy does not outlive its test.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::delay_line::DelayLine;
use super::faults::{Direction, Faults, Leg};
use super::relay::{Core, MAX_DATAGRAM, RelayLimits, run_client_loop};
use super::stats::{Counters, ProxyStats};

/// Bounds and timeouts of a proxy. `ProxyConfig::default()` suits tests and benches.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// A client mapping with no traffic either way for this long is closed; the client's next
    /// datagram opens a new one, from a new upstream port (as a NAT rebinding does).
    /// Default 120 s. Values under 1 ms count as 1 ms.
    pub idle_timeout: Duration,
    /// Most client mappings open at once; datagrams from further clients are dropped and
    /// counted in `mappings_rejected`. Default 16,384. At least 1.
    pub max_mappings: usize,
    /// Most datagram copies waiting in the delay queue; beyond it copies are dropped and
    /// counted as `overflow`. Default 16,384.
    pub max_pending_delayed: usize,
    /// Largest datagram relayed, in bytes; larger ones are dropped and counted as `overflow`,
    /// like packets over a link's MTU. Default and ceiling 65,535 (everything UDP can carry).
    /// Every client mapping holds a receive buffer this size, so a bench with thousands of
    /// clients can set about 1,500 (QUIC's datagrams fit; quinn's path-MTU probes above it are
    /// lost, as on a real Ethernet path).
    pub max_datagram: usize,
}

impl Default for ProxyConfig {
    fn default() -> ProxyConfig {
        ProxyConfig {
            idle_timeout: Duration::from_secs(120),
            max_mappings: 16_384,
            max_pending_delayed: 16_384,
            max_datagram: MAX_DATAGRAM,
        }
    }
}

/// The current faults of both directions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkFaults {
    /// Client → upstream.
    pub to_upstream: Faults,
    /// Upstream → client.
    pub to_client: Faults,
}

/// A running link-fault proxy. Clones share one proxy.
#[derive(Clone)]
pub struct LinkFaultProxy {
    inner: Arc<Inner>,
}

struct Inner {
    core: Arc<Core>,
    local_addr: SocketAddr,
    upstream: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for LinkFaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkFaultProxy")
            .field("local_addr", &self.inner.local_addr)
            .field("upstream", &self.inner.upstream)
            .finish_non_exhaustive()
    }
}

impl LinkFaultProxy {
    /// Listens on `listen` (port 0 picks a free one; see [`local_addr`](Self::local_addr)) and
    /// relays to `upstream`, with a clean link and the default [`ProxyConfig`].
    pub async fn start(listen: SocketAddr, upstream: SocketAddr) -> io::Result<LinkFaultProxy> {
        LinkFaultProxy::start_with(listen, upstream, ProxyConfig::default()).await
    }

    /// As [`start`](Self::start), with explicit bounds.
    pub async fn start_with(
        listen: SocketAddr,
        upstream: SocketAddr,
        config: ProxyConfig,
    ) -> io::Result<LinkFaultProxy> {
        let socket = Arc::new(super::bind_udp(listen)?);
        let local_addr = socket.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let (delay, delay_task) = DelayLine::start(
            config.max_pending_delayed,
            counters.clone(),
            stop_rx.clone(),
        );
        let core = Arc::new(Core::new(counters, delay));
        let limits = RelayLimits {
            idle_timeout: config.idle_timeout.max(Duration::from_millis(1)),
            max_mappings: config.max_mappings.max(1),
            max_datagram: config.max_datagram.clamp(1, MAX_DATAGRAM),
        };
        let relay_task = tokio::spawn(run_client_loop(
            core.clone(),
            socket,
            upstream,
            limits,
            stop_rx,
        ));
        tracing::debug!(%local_addr, %upstream, "linkfault: proxy started");
        Ok(LinkFaultProxy {
            inner: Arc::new(Inner {
                core,
                local_addr,
                upstream,
                stop,
                tasks: Mutex::new(vec![relay_task, delay_task]),
            }),
        })
    }

    /// The address clients send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The address datagrams are relayed to.
    pub fn upstream(&self) -> SocketAddr {
        self.inner.upstream
    }

    /// Replaces the faults of `dir` (out-of-range values are clamped, see [`Faults`]).
    pub fn set(&self, dir: Direction, faults: Faults) {
        self.inner.core.update(dir.legs(), |f| *f = faults.clone());
    }

    /// Changes the faults of `dir` in place, keeping the fields `change` leaves alone:
    /// `proxy.update(Direction::Both, |f| f.drop_percent = 30.0)`.
    pub fn update(&self, dir: Direction, change: impl Fn(&mut Faults)) {
        self.inner.core.update(dir.legs(), change);
    }

    /// Cuts the link both ways (other settings are kept, but nothing gets through).
    pub fn blackhole(&self) {
        self.update(Direction::Both, |f| f.blackhole = true);
    }

    /// Turns every fault off, both ways.
    pub fn restore(&self) {
        self.set(Direction::Both, Faults::default());
    }

    /// The faults in force now.
    pub fn faults(&self) -> LinkFaults {
        LinkFaults {
            to_upstream: self.inner.core.faults(Leg::ToUpstream),
            to_client: self.inner.core.faults(Leg::ToClient),
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        self.inner.core.counters.snapshot()
    }

    /// Stops relaying, discards delayed datagrams, closes every socket, and returns once all
    /// the proxy's tasks have ended. Other clones of the handle then see a stopped proxy
    /// (their settings calls do nothing; their stats stay readable).
    pub async fn shutdown(self) {
        self.inner.stop.send_replace(true);
        let tasks = std::mem::take(
            &mut *self
                .inner
                .tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for task in tasks {
            if let Err(e) = task.await
                && e.is_panic()
            {
                tracing::error!(error = %e, "linkfault: proxy task panicked");
            }
        }
        tracing::debug!(local_addr = %self.inner.local_addr, "linkfault: proxy stopped");
    }
}
