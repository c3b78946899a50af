//! The proxy's TCP line control interface, in-process and through the `linkfault-proxy`
//! binary, on 127.0.0.1.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hotspot_tests::linkfault::{ControlServer, Direction, LinkFaultProxy};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::process::Command;
use tokio::time::{Instant, sleep, timeout};

const PATIENCE: Duration = Duration::from_secs(20);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A UDP sink counting what it receives.
async fn sink() -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = UdpSocket::bind(loopback()).await.expect("bind sink");
    let addr = socket.local_addr().expect("sink addr");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while socket.recv_from(&mut buf).await.is_ok() {
            seen.fetch_add(1, Ordering::Relaxed);
        }
    });
    (addr, count)
}

struct Control {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Control {
    async fn connect(addr: SocketAddr) -> Control {
        let stream = TcpStream::connect(addr).await.expect("connect control");
        let (read, write) = stream.into_split();
        Control {
            lines: BufReader::new(read).lines(),
            write,
        }
    }

    async fn ask(&mut self, command: &str) -> String {
        self.write
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("send command");
        self.answer().await.expect("an answer")
    }

    async fn answer(&mut self) -> Option<String> {
        timeout(PATIENCE, self.lines.next_line())
            .await
            .expect("answer in time")
            .expect("read answer")
    }
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_commands_change_the_faults_and_answer_ok_or_error() {
    let (upstream, _) = sink().await;
    let proxy = LinkFaultProxy::start(loopback(), upstream)
        .await
        .expect("start proxy");
    let server = ControlServer::start(loopback(), proxy.clone())
        .await
        .expect("start control");
    let mut c = Control::connect(server.local_addr()).await;

    let a = c.ask("drop 30 up").await;
    assert_eq!(a, "ok up: drop=30%");
    assert_eq!(proxy.faults().to_upstream.drop_percent, 30.0);
    assert!(proxy.faults().to_client.is_clean());

    let a = c.ask("delay 300 50").await;
    assert!(a.starts_with("ok "), "{a}");
    for f in [proxy.faults().to_upstream, proxy.faults().to_client] {
        assert_eq!(f.delay, Duration::from_millis(300));
        assert_eq!(f.jitter, Duration::from_millis(50));
    }
    assert_eq!(
        proxy.faults().to_upstream.drop_percent,
        30.0,
        "other settings kept"
    );

    assert!(c.ask("duplicate 1 down").await.starts_with("ok down:"));
    assert_eq!(proxy.faults().to_client.duplicate_percent, 1.0);
    assert!(c.ask("reorder 5 40").await.starts_with("ok "));
    assert_eq!(proxy.faults().to_client.reorder_percent, 5.0);
    assert_eq!(
        proxy.faults().to_upstream.reorder_extra,
        Duration::from_millis(40)
    );

    assert!(c.ask("blackhole").await.starts_with("ok "));
    assert!(proxy.faults().to_upstream.blackhole && proxy.faults().to_client.blackhole);
    assert_eq!(c.ask("restore").await, "ok up: clean; down: clean");

    for bad in ["drop 130", "explode", "delay", "drop 30 sideways"] {
        let a = c.ask(bad).await;
        assert!(a.starts_with("error: "), "{bad:?} -> {a}");
    }
    assert!(
        proxy.faults().to_upstream.is_clean(),
        "errors change nothing"
    );

    let a = c.ask("stats").await;
    let json = a.strip_prefix("ok ").expect("ok stats");
    let stats: serde_json::Value = serde_json::from_str(json).expect("stats are JSON");
    assert_eq!(stats["to_upstream"]["received"], 0);
    assert_eq!(stats["mappings"], 0);

    // Over-long lines are refused and the connection closed; others keep working.
    let mut other = Control::connect(server.local_addr()).await;
    let long = "x".repeat(10_000);
    assert_eq!(other.ask(&long).await, "error: line too long");
    assert_eq!(other.answer().await, None);

    assert_eq!(c.ask("quit").await, "ok bye");
    assert_eq!(c.answer().await, None);

    server.shutdown().await;
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_server_shutdown_closes_open_connections() {
    let (upstream, _) = sink().await;
    let proxy = LinkFaultProxy::start(loopback(), upstream)
        .await
        .expect("start proxy");
    let server = ControlServer::start(loopback(), proxy.clone())
        .await
        .expect("start control");
    let mut c = Control::connect(server.local_addr()).await;
    assert!(c.ask("show").await.starts_with("ok "));
    server.shutdown().await;
    assert_eq!(c.answer().await, None);
    proxy.set(Direction::Both, Default::default());
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_relays_obeys_its_control_port_and_stops_on_sigterm() {
    let (upstream, received) = sink().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_linkfault-proxy"))
        .args(["--listen", "127.0.0.1:0", "--control", "127.0.0.1:0"])
        .args(["--upstream", &upstream.to_string()])
        .args(["--delay-ms", "5", "--jitter-ms", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start linkfault-proxy");
    let stdout = child.stdout.take().expect("stdout");
    let mut out = BufReader::new(stdout).lines();
    let mut addr_after = async |prefix: &str| -> SocketAddr {
        let line = timeout(PATIENCE, out.next_line())
            .await
            .expect("start-up line in time")
            .expect("read stdout")
            .expect("a start-up line");
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
            .parse()
            .expect("an address")
    };
    let proxy_addr = addr_after("proxy listening on ").await;
    let control_addr = addr_after("control listening on ").await;

    let client = UdpSocket::bind(loopback()).await.expect("bind client");
    for _ in 0..20 {
        client.send_to(b"through", proxy_addr).await.expect("send");
    }
    eventually("20 delayed datagrams", || {
        received.load(Ordering::Relaxed) == 20
    })
    .await;

    let mut c = Control::connect(control_addr).await;
    assert!(c.ask("blackhole").await.starts_with("ok "));
    for _ in 0..20 {
        client.send_to(b"cut", proxy_addr).await.expect("send");
    }
    let a = c.ask("stats").await;
    assert!(a.starts_with("ok {"), "{a}");
    sleep(Duration::from_millis(200)).await;
    assert_eq!(received.load(Ordering::Relaxed), 20);

    let pid = child.id().expect("child pid").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("run kill");
    assert!(killed.success());
    let status = timeout(PATIENCE, child.wait())
        .await
        .expect("exits in time")
        .expect("wait");
    assert!(status.success(), "graceful exit: {status:?}");
    let last = timeout(PATIENCE, out.next_line())
        .await
        .expect("final line in time")
        .expect("read stdout")
        .expect("a final stats line");
    assert!(last.starts_with("final stats {"), "{last}");
}
