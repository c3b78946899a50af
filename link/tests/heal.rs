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

/// A controller and a site whose agent exchanged 20 messages each way and stopped.
struct Fixture {
    pki: Pki,
    dir: tempfile::TempDir,
    key: hotspot_pki::AgentKey,
    cert: hotspot_pki::IssuedCert,
    site_id: hotspot_pki::SiteId,
    from_agent: PeerId,
    server: Server,
    received: RecordingInbox,
    addr: std::net::SocketAddr,
    _cdb: Db,
}

impl Fixture {
    async fn new(name: &str) -> Fixture {
        let pki = Pki::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let site_id = site(name);
        let (key, cert) = Pki::agent_cert_from(&pki.ca, name, time::OffsetDateTime::now_utc(), 90);
        let cdb = open_db(&dir.path().join("controller"));
        let (server, received) = start_server(&pki, &cdb).await;
        let addr = server.local_addr().expect("addr");
        let f = Fixture {
            from_agent: PeerId::Site(site_id.clone()),
            pki,
            dir,
            key,
            cert,
            site_id,
            server,
            received,
            addr,
            _cdb: cdb,
        };
        f.session("first").await;
        f
    }

    fn agent_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("agent")
    }

    async fn start(&self) -> (Agent, RecordingInbox, Db) {
        let adb = open_db(&self.agent_dir());
        let tls = self.pki.client_tls(&self.key, &self.cert);
        let (agent, inbox) = start_agent(tls, &adb, self.addr).await;
        (agent, inbox, adb)
    }

    /// Starts the agent, 20 messages `tag` each way until both arrived, stops it.
    async fn session(&self, tag: &str) {
        let (agent, agent_received, adb) = self.start().await;
        exchange(&self.server, &agent, &self.site_id, tag, 20).await;
        arrives(
            &self.received,
            &self.from_agent,
            &format!("{tag} to server 20"),
        )
        .await;
        arrives(
            &agent_received,
            &PeerId::Controller,
            &format!("{tag} to agent 20"),
        )
        .await;
        // The server judges a peer lost only by what it acknowledged: wait until the agent's
        // acknowledgements are recorded there, or a wipe right after this session can look
        // like an agent that never got anything (CI once saw no loss recorded).
        let acked = eventually(Duration::from_secs(15), || {
            self.server
                .site_status(&self.site_id)
                .is_ok_and(|s| s.outbox_len == 0)
        })
        .await;
        assert!(acked, "the server recorded the agent's acks of {tag}");
        agent.shutdown().await.expect("agent stops");
        drop((agent, agent_received, adb));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_restored_from_an_older_copy_is_recognised_and_both_ways_flow_again() {
    let f = Fixture::new("site-restored").await;
    let (apath, old) = (f.agent_dir(), f.dir.path().join("agent-copy"));
    copy_db(&apath, &old);
    // Later traffic the copy will not have.
    f.session("later").await;

    // The agent comes back from the copy.
    std::fs::remove_dir_all(&apath).expect("removes");
    copy_db(&old, &apath);
    let (agent, agent_received, _adb) = f.start().await;
    let found = eventually(Duration::from_secs(15), || {
        let at_server = f.server.losses().pending().unwrap_or_default();
        let at_agent = agent.losses().pending().unwrap_or_default();
        at_server
            .iter()
            .any(|l| l.peer == f.from_agent && l.kind == LossKind::PeerLost)
            && at_agent
                .iter()
                .any(|l| l.peer == PeerId::Controller && l.kind == LossKind::SelfBehind)
    })
    .await;
    assert!(
        found,
        "each side found its loss: server {:?}, agent {:?}",
        f.server.losses().pending(),
        agent.losses().pending()
    );
    // Both ways again, under new numberings: the agent's new messages reuse none of the
    // numbers the controller already applied from the lost incarnation.
    let before = f.received.apply_count(&f.from_agent).expect("reads");
    exchange(&f.server, &agent, &f.site_id, "healed", 5).await;
    arrives(&f.received, &f.from_agent, "healed to server 5").await;
    arrives(&agent_received, &PeerId::Controller, "healed to agent 5").await;
    assert_eq!(
        f.received.apply_count(&f.from_agent).expect("reads"),
        before + 5,
        "each new message applied once"
    );
    agent.shutdown().await.expect("agent stops");
    f.server.shutdown().await.expect("server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_an_empty_database_is_recognised_and_gets_new_messages() {
    let f = Fixture::new("site-wiped").await;
    std::fs::remove_dir_all(f.agent_dir()).expect("wipes");
    let (agent, agent_received, _adb) = f.start().await;
    exchange(&f.server, &agent, &f.site_id, "after", 3).await;
    arrives(&f.received, &f.from_agent, "after to server 3").await;
    arrives(&agent_received, &PeerId::Controller, "after to agent 3").await;
    let losses = f.server.losses().pending().expect("reads");
    assert!(
        losses
            .iter()
            .any(|l| l.peer == f.from_agent && l.kind == LossKind::PeerLost),
        "{losses:?}"
    );
    assert!(
        agent.losses().pending().expect("reads").is_empty(),
        "the empty agent lost nothing it knows of"
    );
    agent.shutdown().await.expect("agent stops");
    f.server.shutdown().await.expect("server stops");
}
