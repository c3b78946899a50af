//! Lost link state (issue 11 §2), over real QUIC: an agent restored from an older copy of its
//! database, and an agent with a new, empty one. The link must tell which side lost what,
//! record the loss for the application on the side that found it, start a new numbering, and
//! deliver new messages both ways again — where it used to refuse the peer for good.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use hotspot_link::{LossKind, PeerId, RecordingInbox};

fn msg(tag: &str, i: u64) -> Msg {
    (i, format!("{tag} {i}"))
}

async fn exchange(server: &Server, agent: &Agent, site: &hotspot_pki::SiteId, tag: &str, n: u64) {
    let to_agent: Vec<Msg> = (1..=n)
        .map(|i| msg(&format!("{tag} to agent"), i))
        .collect();
    let to_server: Vec<Msg> = (1..=n)
        .map(|i| msg(&format!("{tag} to server"), i))
        .collect();
    server.send_batch(site, &to_agent).await.expect("queued");
    agent.send_batch(&to_server).await.expect("queued");
}

/// Waits until `inbox` holds a message from `peer` whose body has `text`.
async fn arrives(inbox: &RecordingInbox, peer: &PeerId, text: &str) {
    let seen = eventually(Duration::from_secs(15), || {
        inbox
            .messages::<Msg>(peer)
            .unwrap_or_default()
            .iter()
            .any(|(_, (_, body))| body.contains(text))
    })
    .await;
    assert!(seen, "{text:?} from {peer} did not arrive");
}

fn copy_db(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    std::fs::copy(from.join("link.redb"), to.join("link.redb")).expect("copies the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_restored_from_an_older_copy_is_recognised_and_both_ways_flow_again() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cpath, apath, old) = (
        dir.path().join("controller"),
        dir.path().join("agent"),
        dir.path().join("agent-copy"),
    );
    let site_id = site("site-restored");
    let from_agent = PeerId::Site(site_id.clone());
    let (key, cert) = Pki::agent_cert_from(
        &pki.ca,
        "site-restored",
        time::OffsetDateTime::now_utc(),
        90,
    );
    let tls = || pki.client_tls(&key, &cert);
    let cdb = open_db(&cpath);
    let (server, received) = start_server(&pki, &cdb).await;
    let addr = server.local_addr().expect("addr");

    let adb = open_db(&apath);
    let (agent, agent_received) = start_agent(tls(), &adb, addr).await;
    exchange(&server, &agent, &site_id, "first", 20).await;
    arrives(&received, &from_agent, "first to server 20").await;
    arrives(&agent_received, &PeerId::Controller, "first to agent 20").await;
    agent.shutdown().await.expect("agent stops");
    drop((agent, agent_received, adb));
    copy_db(&apath, &old);

    // Later traffic the copy will not have.
    let adb = open_db(&apath);
    let (agent, agent_received) = start_agent(tls(), &adb, addr).await;
    exchange(&server, &agent, &site_id, "later", 20).await;
    arrives(&received, &from_agent, "later to server 20").await;
    arrives(&agent_received, &PeerId::Controller, "later to agent 20").await;
    agent.shutdown().await.expect("agent stops");
    drop((agent, agent_received, adb));

    // The agent comes back from the copy.
    std::fs::remove_dir_all(&apath).expect("removes");
    copy_db(&old, &apath);
    let adb = open_db(&apath);
    let (agent, agent_received) = start_agent(tls(), &adb, addr).await;
    let found = eventually(Duration::from_secs(15), || {
        let at_server = server.losses().pending().unwrap_or_default();
        let at_agent = agent.losses().pending().unwrap_or_default();
        at_server
            .iter()
            .any(|l| l.peer == from_agent && l.kind == LossKind::PeerLost)
            && at_agent
                .iter()
                .any(|l| l.peer == PeerId::Controller && l.kind == LossKind::SelfBehind)
    })
    .await;
    assert!(
        found,
        "each side found its loss: server {:?}, agent {:?}",
        server.losses().pending(),
        agent.losses().pending()
    );
    // Both ways again, under new numberings: the agent's new messages reuse none of the
    // numbers the controller already applied from the lost incarnation.
    let before = received.apply_count(&from_agent).expect("reads");
    exchange(&server, &agent, &site_id, "healed", 5).await;
    arrives(&received, &from_agent, "healed to server 5").await;
    arrives(&agent_received, &PeerId::Controller, "healed to agent 5").await;
    assert_eq!(
        received.apply_count(&from_agent).expect("reads"),
        before + 5,
        "each new message applied once"
    );
    agent.shutdown().await.expect("agent stops");
    server.shutdown().await.expect("server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_an_empty_database_is_recognised_and_gets_new_messages() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cpath, apath) = (dir.path().join("controller"), dir.path().join("agent"));
    let site_id = site("site-wiped");
    let from_agent = PeerId::Site(site_id.clone());
    let (key, cert) =
        Pki::agent_cert_from(&pki.ca, "site-wiped", time::OffsetDateTime::now_utc(), 90);
    let tls = || pki.client_tls(&key, &cert);
    let cdb = open_db(&cpath);
    let (server, received) = start_server(&pki, &cdb).await;
    let addr = server.local_addr().expect("addr");
    let adb = open_db(&apath);
    let (agent, agent_received) = start_agent(tls(), &adb, addr).await;
    exchange(&server, &agent, &site_id, "first", 20).await;
    arrives(&received, &from_agent, "first to server 20").await;
    arrives(&agent_received, &PeerId::Controller, "first to agent 20").await;
    agent.shutdown().await.expect("agent stops");
    drop((agent, agent_received, adb));

    std::fs::remove_dir_all(&apath).expect("wipes");
    let adb = open_db(&apath);
    let (agent, agent_received) = start_agent(tls(), &adb, addr).await;
    exchange(&server, &agent, &site_id, "after", 3).await;
    arrives(&received, &from_agent, "after to server 3").await;
    arrives(&agent_received, &PeerId::Controller, "after to agent 3").await;
    let losses = server.losses().pending().expect("reads");
    assert!(
        losses
            .iter()
            .any(|l| l.peer == from_agent && l.kind == LossKind::PeerLost),
        "{losses:?}"
    );
    assert!(
        agent.losses().pending().expect("reads").is_empty(),
        "the empty agent lost nothing it knows of"
    );
    agent.shutdown().await.expect("agent stops");
    server.shutdown().await.expect("server stops");
}
