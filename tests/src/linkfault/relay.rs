//! The IO of the proxy: the loops that move datagrams between sockets.
//!
//! Two kinds of task, one concern each:
//! - the *client loop* reads the listening socket, finds or opens the sender's mapping (its own
//!   upstream socket, connected to the upstream so that only the upstream's replies reach it),
//!   and forwards towards the upstream; it also sweeps idle mappings;
//! - one *reply loop* per mapping reads that upstream socket and forwards to its client through
//!   the listening socket.
//!
//! Each forwarded datagram first asks [`plan`](super::faults::plan) what the link does to it;
//! delayed copies go to the [`DelayLine`] so no loop ever sleeps on a datagram's behalf. Socket
//! errors never end a loop: a refused send (the upstream was killed and its port is closed for a
//! moment) is counted and the next datagram is tried, which is what lets tests restart the
//! controller behind a running proxy.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::SmallRng;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};

use super::delay_line::{DelayLine, Outlet, send_now};
use super::faults::{Faults, Leg, Plan, plan};
use super::nat::{Activity, NatTable};
use super::shutdown;
use super::stats::{Counters, bump};

/// The largest UDP payload there is; the default and ceiling of `max_datagram`.
pub(crate) const MAX_DATAGRAM: usize = 65_535;

/// Pause after an unexpected receive error, so a persistent error cannot spin a core.
const RECV_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// State shared by the handle and every task.
pub(crate) struct Core {
    faults: Mutex<[Faults; 2]>,
    pub counters: Arc<Counters>,
    delay: DelayLine,
    epoch: Instant,
}

impl Core {
    pub(crate) fn new(counters: Arc<Counters>, delay: DelayLine) -> Core {
        Core {
            faults: Mutex::new([Faults::default(), Faults::default()]),
            counters,
            delay,
            epoch: Instant::now(),
        }
    }

    /// The faults of one leg now.
    pub(crate) fn faults(&self, leg: Leg) -> Faults {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)[leg.index()].clone()
    }

    /// Changes the faults of the given legs in place.
    pub(crate) fn update(&self, legs: &[Leg], change: impl Fn(&mut Faults)) {
        let mut faults = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        for leg in legs {
            let f = &mut faults[leg.index()];
            change(f);
            *f = f.clone().sanitized();
        }
    }

    /// Milliseconds since the proxy started: the clock of the mapping table.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Relays the `len` bytes received into `buf`, unless the datagram is over `max_datagram`
    /// (then it is dropped and counted as overflow, like a packet over a link's MTU).
    async fn relay(
        &self,
        leg: Leg,
        buf: &[u8],
        len: usize,
        max_datagram: usize,
        outlet: &Outlet,
        rng: &mut SmallRng,
    ) {
        match buf.get(..len) {
            Some(payload) if len <= max_datagram => {
                self.forward(leg, payload, outlet, rng).await;
            }
            _ => {
                let counters = self.counters.leg(leg);
                bump(&counters.received);
                bump(&counters.overflow);
            }
        }
    }

    /// Applies the leg's faults to one datagram and sends (or queues, or drops) it.
    async fn forward(&self, leg: Leg, payload: &[u8], outlet: &Outlet, rng: &mut SmallRng) {
        let counters = self.counters.leg(leg);
        bump(&counters.received);
        let faults = self.faults(leg);
        let (delay, duplicate) = match plan(&faults, rng) {
            Plan::Drop => {
                bump(&counters.dropped);
                return;
            }
            Plan::Deliver {
                delay,
                reordered,
                duplicate,
            } => {
                if reordered {
                    bump(&counters.reordered);
                }
                if duplicate.is_some() {
                    bump(&counters.duplicated);
                }
                (delay, duplicate)
            }
        };
        for after in std::iter::once(delay).chain(duplicate) {
            self.send_after(leg, after, payload, outlet).await;
        }
    }

    async fn send_after(&self, leg: Leg, after: Duration, payload: &[u8], outlet: &Outlet) {
        if after.is_zero() {
            send_now(&self.counters, leg, outlet, payload).await;
            return;
        }
        let counters = self.counters.leg(leg);
        if self
            .delay
            .push(leg, Instant::now() + after, outlet.clone(), payload)
        {
            bump(&counters.delayed);
        } else {
            bump(&counters.overflow);
        }
    }
}

/// Limits and timeouts of the relay.
#[derive(Clone, Debug)]
pub(crate) struct RelayLimits {
    pub idle_timeout: Duration,
    pub max_mappings: usize,
    /// Largest datagram relayed; larger ones are dropped as overflow.
    pub max_datagram: usize,
}

/// One client's mapping.
struct Mapping {
    outlet: Outlet,
    reply_task: AbortHandle,
}

/// The client loop and the mapping table it owns.
struct ClientLoop {
    core: Arc<Core>,
    listen: Arc<UdpSocket>,
    upstream: SocketAddr,
    limits: RelayLimits,
    idle_ms: u64,
    table: NatTable<Mapping>,
    reply_tasks: JoinSet<()>,
    stop: watch::Receiver<bool>,
    rng: SmallRng,
}

/// The client loop. Returns after shutdown, once every reply loop has ended.
pub(crate) async fn run_client_loop(
    core: Arc<Core>,
    listen: Arc<UdpSocket>,
    upstream: SocketAddr,
    limits: RelayLimits,
    stop: watch::Receiver<bool>,
) {
    let mut this = ClientLoop {
        idle_ms: u64::try_from(limits.idle_timeout.as_millis()).unwrap_or(u64::MAX),
        table: NatTable::new(limits.max_mappings),
        reply_tasks: JoinSet::new(),
        rng: rand::make_rng(),
        core,
        listen,
        upstream,
        limits,
        stop,
    };
    this.run().await;
}

impl ClientLoop {
    async fn run(&mut self) {
        // One byte more than the largest datagram relayed, so that a larger one shows (a full
        // buffer) instead of being silently truncated.
        let mut buf = vec![0u8; self.limits.max_datagram + 1];
        let sweep_every =
            (self.limits.idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut sweep = tokio::time::interval(sweep_every);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stop = self.stop.clone();
        let listen = self.listen.clone();

        loop {
            tokio::select! {
                biased;
                () = shutdown::wait(&mut stop) => break,
                _ = sweep.tick() => self.expire(),
                Some(ended) = self.reply_tasks.join_next(), if !self.reply_tasks.is_empty() => {
                    if let Err(e) = ended && e.is_panic() {
                        tracing::error!(error = %e, "linkfault: reply loop panicked");
                    }
                }
                received = listen.recv_from(&mut buf) => match received {
                    Ok((len, client)) => self.on_datagram(client, &buf, len).await,
                    Err(e) => recv_error("listening socket", &e).await,
                },
            }
        }

        for (_, mapping) in self.table.drain() {
            mapping.reply_task.abort();
        }
        self.count_mappings();
        self.reply_tasks.shutdown().await;
    }

    /// Relays the `len` bytes in `buf` that `client` sent, through its mapping.
    async fn on_datagram(&mut self, client: SocketAddr, buf: &[u8], len: usize) {
        let now_ms = self.core.now_ms();
        let outlet = match self.table.get(&client, now_ms) {
            Some(mapping) => mapping.outlet.clone(),
            None => match self.open_mapping(client, now_ms).await {
                Some(outlet) => outlet,
                None => {
                    let leg = self.core.counters.leg(Leg::ToUpstream);
                    bump(&leg.received);
                    bump(&leg.overflow);
                    return;
                }
            },
        };
        let max = self.limits.max_datagram;
        self.core
            .relay(Leg::ToUpstream, buf, len, max, &outlet, &mut self.rng)
            .await;
    }

    /// Opens an upstream socket for a new client and starts its reply loop. `None` when the
    /// table is full even after expiring idle mappings, or no socket could be opened.
    async fn open_mapping(&mut self, client: SocketAddr, now_ms: u64) -> Option<Outlet> {
        if self.table.is_full() {
            self.expire();
        }
        if self.table.is_full() {
            bump(&self.core.counters.mappings_rejected);
            tracing::debug!(%client, "linkfault: mapping table full, datagram dropped");
            return None;
        }
        let socket = match upstream_socket(self.upstream).await {
            Ok(s) => Arc::new(s),
            Err(e) => {
                bump(&self.core.counters.mappings_rejected);
                tracing::warn!(%client, error = %e, "linkfault: cannot open an upstream socket");
                return None;
            }
        };
        let activity = Activity::new(now_ms);
        let reply_task = self.reply_tasks.spawn(run_reply_loop(
            self.core.clone(),
            socket.clone(),
            Outlet {
                socket: self.listen.clone(),
                target: Some(client),
            },
            activity.clone(),
            self.stop.clone(),
            self.limits.max_datagram,
        ));
        let outlet = Outlet {
            socket,
            target: None,
        };
        let mapping = Mapping {
            outlet: outlet.clone(),
            reply_task: reply_task.clone(),
        };
        if self.table.insert(client, mapping, activity).is_err() {
            // Unreachable after the checks above.
            reply_task.abort();
            bump(&self.core.counters.mappings_rejected);
            return None;
        }
        self.count_mappings();
        tracing::debug!(%client, "linkfault: new mapping");
        Some(outlet)
    }

    /// Closes the mappings idle for longer than the timeout.
    fn expire(&mut self) {
        for (client, mapping) in self.table.expire(self.core.now_ms(), self.idle_ms) {
            mapping.reply_task.abort();
            bump(&self.core.counters.mappings_expired);
            tracing::debug!(%client, "linkfault: idle mapping expired");
        }
        self.count_mappings();
    }

    fn count_mappings(&self) {
        self.core
            .counters
            .mappings
            .store(self.table.len(), std::sync::atomic::Ordering::Relaxed);
    }
}

/// A socket of the upstream's address family connected to it, so that it receives from the
/// upstream only (the filtering of a real NAT).
async fn upstream_socket(upstream: SocketAddr) -> io::Result<UdpSocket> {
    let ip: IpAddr = match (upstream.is_ipv4(), upstream.ip().is_loopback()) {
        (true, true) => Ipv4Addr::LOCALHOST.into(),
        (true, false) => Ipv4Addr::UNSPECIFIED.into(),
        (false, true) => Ipv6Addr::LOCALHOST.into(),
        (false, false) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = super::bind_udp(SocketAddr::new(ip, 0))?;
    socket.connect(upstream).await?;
    Ok(socket)
}

/// One mapping's reply loop: upstream → client.
async fn run_reply_loop(
    core: Arc<Core>,
    upstream: Arc<UdpSocket>,
    to_client: Outlet,
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
    max_datagram: usize,
) {
    let mut rng: SmallRng = rand::make_rng();
    let mut buf = vec![0u8; max_datagram + 1];
    loop {
        tokio::select! {
            biased;
            () = shutdown::wait(&mut stop) => break,
            received = upstream.recv(&mut buf) => match received {
                Ok(len) => {
                    activity.touch(core.now_ms());
                    core.relay(Leg::ToClient, &buf, len, max_datagram, &to_client, &mut rng)
                        .await;
                }
                Err(e) => recv_error("upstream socket", &e).await,
            },
        }
    }
}

/// Handles a receive error without ending the loop. An ICMP "port unreachable" comes back as
/// a refused or reset connection on the next receive; it is expected while the upstream is
/// down and needs no pause.
async fn recv_error(socket: &str, e: &io::Error) {
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => {
            tracing::trace!(socket, error = %e, "linkfault: peer unreachable");
        }
        _ => {
            tracing::warn!(socket, error = %e, "linkfault: receive failed");
            tokio::time::sleep(RECV_ERROR_PAUSE).await;
        }
    }
}
