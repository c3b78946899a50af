//! The link-fault proxy over real UDP sockets on 127.0.0.1: an upstream (echo or sink) behind
//! the proxy, clients in front of it.
//!
//! These machines are noisy, so nothing here asserts on how long anything took: tests assert on
//! counts, with wide statistical bands, and wait by polling with generous deadlines. Senders
//! keep a window of datagrams in flight, and every socket asks for a large receive buffer
//! (`linkfault::bind_udp`), so that no loopback socket buffer overflows (which would look like
//! the proxy losing datagrams).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotspot_tests::linkfault::{
    Direction, Faults, LinkFaultProxy, ProxyConfig, ProxyStats, bind_udp,
};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

/// Datagrams a sender lets run ahead of what has been accounted for.
const WINDOW: usize = 64;
/// Longest wait for anything expected to happen.
const PATIENCE: Duration = Duration::from_secs(20);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

type Log<T> = Arc<Mutex<Vec<T>>>;

/// The server behind the proxy: records what it receives and, if `echo`, sends it back.
struct Upstream {
    addr: SocketAddr,
    received: Log<(SocketAddr, Vec<u8>)>,
    task: JoinHandle<()>,
}

impl Upstream {
    async fn echo() -> Upstream {
        Upstream::bind(loopback(), true).await
    }

    async fn sink() -> Upstream {
        Upstream::bind(loopback(), false).await
    }

    async fn bind(addr: SocketAddr, echo: bool) -> Upstream {
        let socket = bind_udp(addr).expect("bind upstream");
        let addr = socket.local_addr().expect("upstream addr");
        let received: Log<(SocketAddr, Vec<u8>)> = Arc::default();
        let log = received.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                log.lock().unwrap().push((from, buf[..n].to_vec()));
                if echo {
                    let _ = socket.send_to(&buf[..n], from).await;
                }
            }
        });
        Upstream {
            addr,
            received,
            task,
        }
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn payloads(&self) -> Vec<Vec<u8>> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, p)| p.clone())
            .collect()
    }

    fn peers(&self) -> Vec<SocketAddr> {
        let mut peers: Vec<SocketAddr> = Vec::new();
        for (from, _) in self.received.lock().unwrap().iter() {
            if !peers.contains(from) {
                peers.push(*from);
            }
        }
        peers
    }

    /// Stops serving and closes the socket (the port is free when this returns).
    async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

/// A client in front of the proxy, with a reader task recording every reply.
struct Client {
    socket: Arc<UdpSocket>,
    received: Log<Vec<u8>>,
    task: JoinHandle<()>,
}

impl Client {
    async fn new(proxy: SocketAddr) -> Client {
        let socket = Arc::new(bind_udp(loopback()).expect("bind client"));
        socket.connect(proxy).await.expect("connect client");
        let received: Log<Vec<u8>> = Arc::default();
        let (reader, log) = (socket.clone(), received.clone());
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                if let Ok(n) = reader.recv(&mut buf).await {
                    log.lock().unwrap().push(buf[..n].to_vec());
                }
            }
        });
        Client {
            socket,
            received,
            task,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("client addr")
    }

    async fn send(&self, payload: &[u8]) {
        self.socket.send(payload).await.expect("client send");
    }

    /// Sends each payload, keeping at most [`WINDOW`] ahead of `accounted()` (the number of
    /// sent datagrams whose fate is known). If nothing moves for a while it carries on rather
    /// than hang; the test's own assertions then say what went missing.
    async fn send_windowed(&self, payloads: &[Vec<u8>], accounted: impl Fn() -> usize) {
        self.send_windowed_by(WINDOW, payloads, accounted).await;
    }

    /// [`send_windowed`](Self::send_windowed) with another window: where each datagram comes
    /// back several times, the window shrinks by that factor so that the datagrams in flight
    /// towards one socket stay within its receive buffer.
    async fn send_windowed_by(
        &self,
        window: usize,
        payloads: &[Vec<u8>],
        accounted: impl Fn() -> usize,
    ) {
        for (sent, p) in payloads.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while sent >= accounted() + window && Instant::now() < deadline {
                sleep(Duration::from_millis(1)).await;
            }
            self.send(p).await;
        }
    }

    /// Sends `per_tick` payloads every `tick`: a steady rate for tests whose faults make
    /// exact accounting awkward.
    async fn send_paced(&self, payloads: &[Vec<u8>], per_tick: usize, tick: Duration) {
        for chunk in payloads.chunks(per_tick) {
            for p in chunk {
                self.send(p).await;
            }
            sleep(tick).await;
        }
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn replies(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `cond` until it holds; panics with `what` and the last state after [`PATIENCE`].
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `probe` gives the same value for 300 ms running, and returns it.
async fn settled<T: PartialEq + std::fmt::Debug>(mut probe: impl FnMut() -> T) -> T {
    let deadline = Instant::now() + PATIENCE;
    let mut last = probe();
    let mut since = Instant::now();
    loop {
        sleep(Duration::from_millis(20)).await;
        let now = probe();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= Duration::from_millis(300) {
            return last;
        }
        assert!(Instant::now() < deadline, "never settled: {last:?}");
    }
}

/// `n` payloads, each starting with its big-endian sequence number.
fn numbered(n: u32, len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut p = i.to_be_bytes().to_vec();
            p.resize(len.max(4), (i % 251) as u8);
            p
        })
        .collect()
}

fn seq_of(p: &[u8]) -> u32 {
    u32::from_be_bytes(p[..4].try_into().expect("numbered payload"))
}

/// How many times a datagram arrived after one with a higher sequence number.
fn inversions(arrived: &[Vec<u8>]) -> usize {
    arrived
        .windows(2)
        .filter(|w| seq_of(&w[1]) < seq_of(&w[0]))
        .count()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

fn assert_all_settled(stats: &ProxyStats) {
    for (name, leg) in [("up", stats.to_upstream), ("down", stats.to_client)] {
        assert_eq!(
            leg.entered(),
            leg.settled(),
            "{name}: every copy accounted for: {stats:?}"
        );
    }
}

async fn start(upstream: &Upstream) -> LinkFaultProxy {
    LinkFaultProxy::start(loopback(), upstream.addr)
        .await
        .expect("start proxy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_relay_passes_every_datagram_both_ways_intact() {
    let upstream = Upstream::echo().await;
    let proxy = start(&upstream).await;
    let client = Client::new(proxy.local_addr()).await;

    // Varied sizes and contents, up to a datagram near the UDP maximum.
    let mut sent: Vec<Vec<u8>> = (0..1000u32)
        .map(|i| {
            let len = 4 + (i as usize * 37) % 1400;
            let mut p = i.to_be_bytes().to_vec();
            p.extend((0..len).map(|j| (i as usize * 7 + j * 13) as u8));
            p
        })
        .collect();
    sent.push(vec![0xAB; 60_000]);
    client.send_windowed(&sent, || client.count()).await;

    eventually("every echo back", || client.count() == sent.len()).await;
    assert_eq!(sorted(upstream.payloads()), sorted(sent.clone()));
    assert_eq!(sorted(client.replies()), sorted(sent.clone()));

    let stats = proxy.stats();
    let n = sent.len() as u64;
    for leg in [stats.to_upstream, stats.to_client] {
        assert_eq!((leg.received, leg.forwarded), (n, n), "{stats:?}");
        assert_eq!(leg.dropped + leg.duplicated + leg.delayed + leg.overflow, 0);
    }
    assert_eq!(stats.mappings, 1);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_get_their_own_replies() {
    let upstream = Upstream::echo().await;
    let proxy = start(&upstream).await;
    let a = Client::new(proxy.local_addr()).await;
    let b = Client::new(proxy.local_addr()).await;

    let tagged = |tag: &str| -> Vec<Vec<u8>> {
        (0..200)
            .map(|i| format!("{tag}-{i}").into_bytes())
            .collect()
    };
    let (from_a, from_b) = (tagged("a"), tagged("b"));
    for (i, (pa, pb)) in from_a.iter().zip(&from_b).enumerate() {
        a.send(pa).await;
        b.send(pb).await;
        let deadline = Instant::now() + Duration::from_secs(2);
        while 2 * (i + 1) > a.count() + b.count() + WINDOW && Instant::now() < deadline {
            sleep(Duration::from_millis(1)).await;
        }
    }
    eventually("both clients' echoes", || {
        a.count() == 200 && b.count() == 200
    })
    .await;
    assert_eq!(sorted(a.replies()), sorted(from_a));
    assert_eq!(sorted(b.replies()), sorted(from_b));

    // Like a NAT: the upstream saw two peers, neither of them a client's own address.
    let peers = upstream.peers();
    assert_eq!(peers.len(), 2, "{peers:?}");
    assert!(!peers.contains(&a.addr()) && !peers.contains(&b.addr()));
    assert_eq!(proxy.stats().mappings, 2);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_drops_everything_and_restore_resumes() {
    let upstream = Upstream::echo().await;
    let proxy = start(&upstream).await;
    let client = Client::new(proxy.local_addr()).await;
    client.send(b"hello").await;
    eventually("the first echo", || client.count() == 1).await;

    proxy.blackhole();
    for p in numbered(100, 32) {
        client.send(&p).await;
    }
    eventually("100 dropped", || proxy.stats().to_upstream.dropped == 100).await;
    sleep(Duration::from_millis(200)).await;
    assert_eq!(upstream.count(), 1, "nothing crosses a cut link");
    assert_eq!(client.count(), 1);

    proxy.restore();
    assert!(proxy.faults().to_upstream.is_clean() && proxy.faults().to_client.is_clean());
    let again = numbered(100, 32);
    client.send_windowed(&again, || client.count() - 1).await;
    eventually("echoes after restore", || client.count() == 101).await;

    // One direction only: requests reach the upstream, its replies are lost.
    proxy.set(Direction::ToClient, Faults::cut());
    for p in numbered(50, 32) {
        client.send(&p).await;
    }
    eventually("requests through, replies dropped", || {
        upstream.count() == 151 && proxy.stats().to_client.dropped == 50
    })
    .await;
    sleep(Duration::from_millis(200)).await;
    assert_eq!(client.count(), 101);

    let stats = proxy.stats();
    assert_eq!(stats.to_upstream.dropped, 100);
    assert_eq!(stats.to_upstream.forwarded, 151);
    assert_eq!(stats.to_client.forwarded, 101);
    assert_all_settled(&stats);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_drop_lands_in_a_wide_band_each_way() {
    let upstream = Upstream::echo().await;
    let proxy = start(&upstream).await;
    let client = Client::new(proxy.local_addr()).await;
    proxy.set(
        Direction::Both,
        Faults {
            drop_percent: 30.0,
            ..Faults::default()
        },
    );

    const N: usize = 5_000;
    let sent = numbered(N as u32, 64);
    client
        .send_windowed(&sent, || {
            upstream.count() + proxy.stats().to_upstream.dropped as usize
        })
        .await;
    eventually("every request reached or dropped", || {
        proxy.stats().to_upstream.settled() == N as u64
            && upstream.count() as u64 == proxy.stats().to_upstream.forwarded
    })
    .await;
    let reached = upstream.count();
    eventually("every echo reached or dropped", || {
        let down = proxy.stats().to_client;
        down.received == reached as u64
            && down.settled() == down.received
            && client.count() as u64 == down.forwarded
    })
    .await;
    let back = client.count();

    let up_loss = 1.0 - reached as f64 / N as f64;
    let down_loss = 1.0 - back as f64 / reached as f64;
    assert!((0.22..=0.38).contains(&up_loss), "up loss {up_loss}");
    assert!((0.22..=0.38).contains(&down_loss), "down loss {down_loss}");

    let stats = proxy.stats();
    assert_eq!(stats.to_upstream.received, N as u64);
    assert_eq!(stats.to_upstream.dropped, (N - reached) as u64);
    assert_eq!(stats.to_client.dropped, (reached - back) as u64);
    assert_all_settled(&stats);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_duplication_doubles_each_way() {
    let upstream = Upstream::echo().await;
    let proxy = start(&upstream).await;
    let client = Client::new(proxy.local_addr()).await;
    proxy.set(
        Direction::Both,
        Faults {
            duplicate_percent: 100.0,
            ..Faults::default()
        },
    );

    // Each request reaches the upstream twice; each of its two echoes reaches the client twice.
    let sent = numbered(300, 48);
    // Four echoes per request: a quarter of the window keeps 64 datagrams in flight to the
    // client (a full window overflowed its socket buffer on a busy machine: lost datagrams
    // the proxy never saw).
    client
        .send_windowed_by(WINDOW / 4, &sent, || client.count() / 4)
        .await;
    eventually("four echoes of each", || client.count() == 1200).await;
    assert_eq!(upstream.count(), 600);

    let mut at_upstream: HashMap<Vec<u8>, usize> = HashMap::new();
    for p in upstream.payloads() {
        *at_upstream.entry(p).or_default() += 1;
    }
    let mut at_client: HashMap<Vec<u8>, usize> = HashMap::new();
    for p in client.replies() {
        *at_client.entry(p).or_default() += 1;
    }
    for p in &sent {
        assert_eq!(at_upstream.get(p), Some(&2));
        assert_eq!(at_client.get(p), Some(&4));
    }

    let stats = proxy.stats();
    assert_eq!(
        (stats.to_upstream.duplicated, stats.to_upstream.forwarded),
        (300, 600)
    );
    assert_eq!(
        (stats.to_client.duplicated, stats.to_client.forwarded),
        (600, 1200)
    );
    assert_all_settled(&stats);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_with_jitter_reorders_a_burst_and_delivers_it_all() {
    let upstream = Upstream::sink().await;
    let proxy = start(&upstream).await;
    let client = Client::new(proxy.local_addr()).await;
    proxy.set(
        Direction::ToUpstream,
        Faults {
            delay: Duration::from_millis(100),
            jitter: Duration::from_millis(80),
            ..Faults::default()
        },
    );

    // About one datagram a millisecond: far closer together than the 80 ms of jitter.
    let sent = numbered(1000, 16);
    client
        .send_paced(&sent, 10, Duration::from_millis(10))
        .await;
    eventually("every delayed datagram", || upstream.count() == 1000).await;

    let arrived = upstream.payloads();
    assert_eq!(sorted(arrived.clone()), sorted(sent));
    let swaps = inversions(&arrived);
    assert!(swaps > 0, "jitter should have reordered the burst");

    let stats = settled(|| proxy.stats()).await;
    assert_eq!(stats.to_upstream.delayed, 1000);
    assert_eq!(stats.to_upstream.forwarded, 1000);
    assert_eq!(stats.pending_delayed, 0);
    assert_all_settled(&stats);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_reorder_holds_some_back_and_delivers_all() {
    let upstream = Upstream::sink().await;
    let proxy = start(&upstream).await;
    let client = Client::new(proxy.local_addr()).await;
    proxy.set(
        Direction::ToUpstream,
        Faults {
            reorder_percent: 20.0,
            reorder_extra: Duration::from_millis(50),
            ..Faults::default()
        },
    );

    let sent = numbered(1000, 16);
    client
        .send_paced(&sent, 10, Duration::from_millis(10))
        .await;
    eventually("every datagram", || upstream.count() == 1000).await;
    let arrived = upstream.payloads();
    assert_eq!(sorted(arrived.clone()), sorted(sent));
    assert!(
        inversions(&arrived) > 0,
        "held-back datagrams should arrive late"
    );

    let stats = settled(|| proxy.stats()).await;
    let held = stats.to_upstream.reordered;
    assert!(
        (100..=300).contains(&held),
        "about 20 % held back, got {held}"
    );
    assert_eq!(stats.to_upstream.delayed, held, "only held-back ones wait");
    assert_all_settled(&stats);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_account_for_every_datagram_under_mixed_faults() {
    let upstream = Upstream::echo().await;
    let proxy = start(&upstream).await;
    let client = Client::new(proxy.local_addr()).await;
    proxy.set(
        Direction::Both,
        Faults {
            drop_percent: 20.0,
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(5),
            reorder_percent: 10.0,
            reorder_extra: Duration::from_millis(20),
            duplicate_percent: 20.0,
            ..Faults::default()
        },
    );

    let sent = numbered(2000, 100);
    client.send_paced(&sent, 10, Duration::from_millis(5)).await;
    let stats = settled(|| (proxy.stats(), upstream.count(), client.count())).await;
    let (stats, at_upstream, at_client) = stats;

    assert_eq!(stats.pending_delayed, 0);
    assert_all_settled(&stats);
    let (up, down) = (stats.to_upstream, stats.to_client);
    assert_eq!(up.received, 2000);
    assert_eq!(up.forwarded, at_upstream as u64);
    assert_eq!(
        down.received, at_upstream as u64,
        "one echo per request that arrived"
    );
    assert_eq!(down.forwarded, at_client as u64);
    assert_eq!(
        up.overflow + down.overflow + up.send_errors + down.send_errors,
        0
    );
    // Generous bands around 20 % dropped, 20 % of survivors duplicated, 10 % held back.
    for leg in [up, down] {
        let r = leg.received as f64;
        assert!((0.10..=0.30).contains(&(leg.dropped as f64 / r)), "{leg:?}");
        let survivors = (leg.received - leg.dropped) as f64;
        assert!(
            (0.10..=0.30).contains(&(leg.duplicated as f64 / survivors)),
            "{leg:?}"
        );
        assert!(
            (0.04..=0.16).contains(&(leg.reordered as f64 / survivors)),
            "{leg:?}"
        );
    }
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_delay_queue_drops_and_counts_and_shutdown_discards_the_rest() {
    let upstream = Upstream::sink().await;
    let config = ProxyConfig {
        max_pending_delayed: 10,
        ..ProxyConfig::default()
    };
    let proxy = LinkFaultProxy::start_with(loopback(), upstream.addr, config)
        .await
        .expect("start proxy");
    let client = Client::new(proxy.local_addr()).await;
    proxy.set(
        Direction::ToUpstream,
        Faults {
            delay: Duration::from_secs(30),
            ..Faults::default()
        },
    );

    client
        .send_windowed(&numbered(100, 16), || {
            proxy.stats().to_upstream.received as usize
        })
        .await;
    eventually("all 100 received", || {
        proxy.stats().to_upstream.received == 100
    })
    .await;
    let stats = proxy.stats();
    assert_eq!(stats.to_upstream.delayed, 10, "{stats:?}");
    assert_eq!(stats.to_upstream.overflow, 90, "{stats:?}");
    assert_eq!(stats.pending_delayed, 10);

    let handle = proxy.clone();
    proxy.shutdown().await;
    let after = handle.stats();
    assert_eq!(after.pending_delayed, 0);
    assert_eq!(
        after.to_upstream.dropped, 10,
        "waiting datagrams are lost at shutdown"
    );
    assert_all_settled(&after);
    assert_eq!(upstream.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_mapping_expires_and_the_client_comes_back_from_a_new_port() {
    let upstream = Upstream::echo().await;
    let config = ProxyConfig {
        idle_timeout: Duration::from_millis(200),
        ..ProxyConfig::default()
    };
    let proxy = LinkFaultProxy::start_with(loopback(), upstream.addr, config)
        .await
        .expect("start proxy");
    let client = Client::new(proxy.local_addr()).await;

    client.send(b"first").await;
    eventually("first echo", || client.count() == 1).await;
    eventually("the mapping expires", || {
        let s = proxy.stats();
        s.mappings == 0 && s.mappings_expired == 1
    })
    .await;

    client.send(b"second").await;
    eventually("second echo", || client.count() == 2).await;
    let peers = upstream.peers();
    assert_eq!(
        peers.len(),
        2,
        "a new mapping means a new upstream port: {peers:?}"
    );
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mapping_table_turns_new_clients_away() {
    let upstream = Upstream::echo().await;
    let config = ProxyConfig {
        max_mappings: 2,
        ..ProxyConfig::default()
    };
    let proxy = LinkFaultProxy::start_with(loopback(), upstream.addr, config)
        .await
        .expect("start proxy");
    let clients = [
        Client::new(proxy.local_addr()).await,
        Client::new(proxy.local_addr()).await,
        Client::new(proxy.local_addr()).await,
    ];
    for c in &clients[..2] {
        c.send(b"ping").await;
        eventually("echo", || c.count() == 1).await;
    }
    clients[2].send(b"ping").await;
    eventually("third client rejected", || {
        proxy.stats().mappings_rejected == 1
    })
    .await;
    sleep(Duration::from_millis(200)).await;
    assert_eq!(clients[2].count(), 0);
    let stats = proxy.stats();
    assert_eq!(stats.mappings, 2);
    assert_eq!(stats.to_upstream.overflow, 1);
    assert_all_settled(&stats);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_over_the_size_bound_are_dropped_and_counted() {
    let upstream = Upstream::echo().await;
    let config = ProxyConfig {
        max_datagram: 100,
        ..ProxyConfig::default()
    };
    let proxy = LinkFaultProxy::start_with(loopback(), upstream.addr, config)
        .await
        .expect("start proxy");
    let client = Client::new(proxy.local_addr()).await;
    client.send(&[1; 101]).await;
    client.send(&[2; 100]).await;
    eventually("the 100-byte echo", || client.count() == 1).await;
    assert_eq!(client.replies(), vec![vec![2; 100]]);
    assert_eq!(upstream.payloads(), vec![vec![2; 100]]);
    let stats = proxy.stats();
    assert_eq!(stats.to_upstream.received, 2);
    assert_eq!(stats.to_upstream.overflow, 1);
    assert_all_settled(&stats);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_survives_the_upstream_restarting_on_its_port() {
    let upstream = Upstream::sink().await;
    let addr = upstream.addr;
    let proxy = start(&upstream).await;
    let client = Client::new(proxy.local_addr()).await;
    client.send(b"before").await;
    eventually("first datagram", || upstream.count() == 1).await;

    // The controller dies: its port is closed and the kernel answers "port unreachable".
    upstream.stop().await;
    for p in numbered(20, 16) {
        client.send(&p).await;
        sleep(Duration::from_millis(2)).await;
    }
    eventually("the proxy tried them all", || {
        proxy.stats().to_upstream.settled() == 21
    })
    .await;

    // It comes back on the same port; the same mapping carries on.
    let upstream = Upstream::bind(addr, false).await;
    let deadline = Instant::now() + PATIENCE;
    while upstream.count() == 0 {
        assert!(Instant::now() < deadline, "relay never resumed");
        client.send(b"after").await;
        sleep(Duration::from_millis(50)).await;
    }
    let stats = proxy.stats();
    assert_eq!(stats.mappings, 1);
    assert_all_settled(&stats);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_the_port_and_dropping_every_handle_stops_it_too() {
    let upstream = Upstream::echo().await;

    let proxy = start(&upstream).await;
    let addr = proxy.local_addr();
    let client = Client::new(addr).await;
    client.send(b"x").await;
    eventually("echo", || client.count() == 1).await;
    let other = proxy.clone();
    proxy.shutdown().await;
    UdpSocket::bind(addr)
        .await
        .expect("the port is free after shutdown");
    assert_eq!(
        other.stats().to_client.forwarded,
        1,
        "stats outlive shutdown"
    );
    other.blackhole(); // harmless on a stopped proxy
    drop(other);

    let proxy = start(&upstream).await;
    let addr = proxy.local_addr();
    drop(proxy);
    let deadline = Instant::now() + PATIENCE;
    while UdpSocket::bind(addr).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "port still held after the last handle dropped"
        );
        sleep(Duration::from_millis(10)).await;
    }
    let seen: HashSet<SocketAddr> = upstream.peers().into_iter().collect();
    assert_eq!(seen.len(), 1);
}
