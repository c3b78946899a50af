//! The core promise: every message accepted by `send` is applied exactly once, in order, per
//! sender, through reconnects and restarts of either side.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use hotspot_link::{LinkConfig, LinkError, PeerId, RecordingInbox};
use hotspot_pki::{AgentKey, IssuedCert};

const N: u64 = 5000;
const BATCH: u64 = 50;

fn msg(i: u64) -> Msg {
    (i, format!("message number {i}"))
}

/// Reopens a data directory, waiting for the previous owner's handles to be gone.
fn reopen(path: &Path) -> Db {
    open_db(path)
}

async fn send_range_from_server(
    server: &Server,
    site_id: &hotspot_pki::SiteId,
    from: u64,
    to: u64,
) {
    let mut i = from;
    while i <= to {
        let end = (i + BATCH - 1).min(to);
        let batch: Vec<Msg> = (i..=end).map(msg).collect();
        let seqs = server.send_batch(site_id, &batch).await.expect("queued");
        assert_eq!(seqs, (i..=end).collect::<Vec<_>>());
        i = end + 1;
    }
}

async fn send_range_from_agent(agent: &Agent, from: u64, to: u64) {
    let mut i = from;
    while i <= to {
        // Alternate batches and single sends: both paths number in order.
        if i % 100 == 1 {
            assert_eq!(agent.send(&msg(i)).await.expect("queued"), i);
            i += 1;
            continue;
        }
        let end = (i + BATCH - 1).min(to);
        let batch: Vec<Msg> = (i..=end).map(msg).collect();
        assert_eq!(
            agent.send_batch(&batch).await.expect("queued"),
            (i..=end).collect::<Vec<_>>()
        );
        i = end + 1;
    }
}

async fn both_ways(
    server: &Server,
    agent: &Agent,
    site_id: &hotspot_pki::SiteId,
    from: u64,
    to: u64,
) {
    tokio::join!(
        send_range_from_server(server, site_id, from, to),
        send_range_from_agent(agent, from, to)
    );
}

fn exactly_once_in_order(inbox: &RecordingInbox, peer: &PeerId) {
    let got = inbox.messages::<Msg>(peer).expect("reads");
    assert_eq!(got.len() as u64, N, "all {N} messages from {peer}");
    for (i, (seq, body)) in got.into_iter().enumerate() {
        let i = i as u64 + 1;
        assert_eq!((seq, body), (i, msg(i)), "message {i} from {peer}");
    }
    assert_eq!(
        inbox.apply_count(peer).expect("reads"),
        N,
        "no message from {peer} applied twice"
    );
}

struct AgentIdentity {
    key: AgentKey,
    cert: IssuedCert,
}

async fn agent_up(
    pki: &Pki,
    id: &AgentIdentity,
    path: &Path,
    server: SocketAddr,
) -> (Agent, RecordingInbox, Db) {
    let db = reopen(path);
    let (agent, inbox) = start_agent(pki.client_tls(&id.key, &id.cert), &db, server).await;
    (agent, inbox, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_each_way_exactly_once_through_reconnects_and_restarts() {
    let started = Instant::now();
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cpath, apath) = (dir.path().join("controller"), dir.path().join("agent"));
    let site_id = site("site-flow");
    let (key, cert) =
        Pki::agent_cert_from(&pki.ca, "site-flow", time::OffsetDateTime::now_utc(), 90);
    let id = AgentIdentity { key, cert };

    let cdb = reopen(&cpath);
    let (server, first_received) = start_server(&pki, &cdb).await;
    let addr = server.local_addr().expect("addr");
    let (agent, _, adb) = agent_up(&pki, &id, &apath, addr).await;

    // 1. Traffic both ways; the controller drops the connection while it flows.
    let from_agent = PeerId::Site(site_id.clone());
    let cut = async {
        assert!(
            eventually(Duration::from_secs(10), || first_received
                .apply_count(&from_agent)
                .unwrap_or(0)
                >= 700)
            .await
        );
        let applied = first_received.apply_count(&from_agent).unwrap_or(0);
        assert!(server.disconnect(&site_id, "test: cut in the middle"));
        applied
    };
    let ((), applied_at_cut) = tokio::join!(both_ways(&server, &agent, &site_id, 1, 2500), cut);
    assert!(
        applied_at_cut < 2500,
        "the cut came while messages were flowing ({applied_at_cut} applied)"
    );

    // 2. The agent "process" restarts: everything dropped, the same data directory reopened.
    agent.shutdown().await.expect("agent stops");
    drop((agent, adb));
    send_range_from_server(&server, &site_id, 2501, 3000).await;
    let (agent, _, adb) = agent_up(&pki, &id, &apath, addr).await;
    send_range_from_agent(&agent, 2501, 3500).await;
    send_range_from_server(&server, &site_id, 3001, 3500).await;

    // 3. The controller "process" restarts on the same address.
    server.shutdown().await.expect("server stops");
    drop((server, cdb, first_received));
    send_range_from_agent(&agent, 3501, 4000).await;
    let cdb = reopen(&cpath);
    let config = hotspot_link::ServerConfig {
        listen: addr,
        ..server_config()
    };
    let (server, _) =
        start_server_with(&pki, &cdb, config, hotspot_link::ControlHooks::new()).await;
    send_range_from_server(&server, &site_id, 3501, 4000).await;
    both_ways(&server, &agent, &site_id, 4001, N).await;

    // Everything arrives once, in order, and both outboxes drain.
    let received_c = RecordingInbox::new(&cdb, "test/received");
    let received_a = RecordingInbox::new(&adb, "test/received");
    let done = eventually(Duration::from_secs(15), || {
        received_c.apply_count(&from_agent).unwrap_or(0) >= N
            && received_a.apply_count(&PeerId::Controller).unwrap_or(0) >= N
    })
    .await;
    assert!(
        done,
        "controller has {:?}, agent has {:?}",
        received_c.apply_count(&from_agent),
        received_a.apply_count(&PeerId::Controller)
    );
    exactly_once_in_order(&received_c, &from_agent);
    exactly_once_in_order(&received_a, &PeerId::Controller);
    assert!(
        eventually(Duration::from_secs(5), || agent.status().outbox_len == 0
            && server
                .site_status(&site_id)
                .map(|s| s.outbox_len)
                .unwrap_or(1)
                == 0)
        .await
    );
    agent.shutdown().await.expect("agent stops");
    server.shutdown().await.expect("server stops");
    tracing::info!(elapsed = ?started.elapsed(), "done");
}

#[tokio::test]
async fn a_full_outbox_refuses_and_reports_its_length() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path());
    let (tls, _) = pki.agent("site-full");
    // Nobody listens there: everything stays queued.
    let nowhere = SocketAddr::from(([127, 0, 0, 1], 9));
    let config = hotspot_link::ClientConfig {
        link: LinkConfig {
            max_outbox_entries: 10,
            ..LinkConfig::fast_for_tests()
        },
        ..client_config(nowhere)
    };
    let (agent, _) = start_agent_with(tls, &db, config).await;
    agent
        .send_batch(&(1..=8).map(msg).collect::<Vec<_>>())
        .await
        .expect("fits");
    assert!(matches!(
        agent
            .send_batch(&(9..=11).map(msg).collect::<Vec<_>>())
            .await,
        Err(LinkError::OutboxFull {
            len: 8,
            max: 10,
            ..
        })
    ));
    agent
        .send_batch(&(9..=10).map(msg).collect::<Vec<_>>())
        .await
        .expect("fits");
    let e = agent.send(&msg(11)).await.expect_err("full");
    assert!(e.to_string().contains("full"), "{e}");
    let status = agent.status();
    assert_eq!(
        (status.connected, status.outbox_len, status.outbox_max),
        (false, 10, 10)
    );
    // Too big for a frame is refused before it is queued.
    let huge = (0, "x".repeat(2 << 20));
    assert!(matches!(
        agent.send(&huge).await,
        Err(LinkError::TooLarge { .. }) | Err(LinkError::OutboxFull { .. })
    ));
    agent.shutdown().await.expect("stops");
}
