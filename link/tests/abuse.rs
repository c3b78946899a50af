//! Peers that break the protocol: each is closed with a reason, and everyone else keeps being
//! served.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use hotspot_link::{CloseCode, PeerId, RecordingInbox, ServerConfig};
use hotspot_shared::fleet::{Envelope, PROTOCOL_VERSION};
use time::OffsetDateTime;

async fn raw_site(pki: &Pki, addr: SocketAddr, site_id: &str) -> RawPeer {
    let (key, cert) = Pki::agent_cert_from(&pki.ca, site_id, OffsetDateTime::now_utc(), 90);
    RawPeer::connect(
        addr,
        pki.ca.cert_der(),
        vec![cert.cert_der.clone()],
        key.private_key_der(),
    )
    .await
    .expect("connects")
}

/// The good agent's next message still arrives.
async fn still_served(agent: &Agent, received: &RecordingInbox, n: u64) {
    agent
        .send(&(n, format!("message {n}")))
        .await
        .expect("queued");
    let peer = PeerId::Site(site("site-good"));
    assert!(
        eventually(Duration::from_secs(5), || received
            .apply_count(&peer)
            .unwrap_or(0)
            == n)
        .await,
        "good agent still served"
    );
}

#[tokio::test]
async fn oversized_frames_and_garbage_close_only_the_offending_connection() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(&dir.path().join("controller"));
    let (server, received) = start_server(&pki, &db).await;
    let addr = server.local_addr().expect("addr");
    let (tls, _) = pki.agent("site-good");
    let adb = open_db(&dir.path().join("agent"));
    let (agent, _) = start_agent(tls, &adb, addr).await;
    still_served(&agent, &received, 1).await;

    // A frame whose length prefix is over the cap: refused from the prefix alone.
    let mut raw = raw_site(&pki, addr, "site-big").await;
    raw.send_hello(PROTOCOL_VERSION, 0).await.expect("sends");
    let _hello: RawFrame = raw
        .read_frame(Duration::from_secs(3))
        .await
        .expect("hello back");
    raw.send_raw(&(8u32 << 20).to_be_bytes())
        .await
        .expect("sends");
    let (code, reason) =
        app_close(&raw.closed(Duration::from_secs(3)).await.expect("closed")).expect("app close");
    assert_eq!(code, CloseCode::Protocol as u64);
    assert!(reason.contains("exceeds the cap"), "{reason}");
    still_served(&agent, &received, 2).await;

    // Garbage after the Hello.
    let mut raw = raw_site(&pki, addr, "site-junk").await;
    raw.send_hello(PROTOCOL_VERSION, 0).await.expect("sends");
    let _hello: RawFrame = raw
        .read_frame(Duration::from_secs(3))
        .await
        .expect("hello back");
    raw.send_raw(&[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff])
        .await
        .expect("sends");
    let (code, reason) =
        app_close(&raw.closed(Duration::from_secs(3)).await.expect("closed")).expect("app close");
    assert_eq!(code, CloseCode::Protocol as u64);
    assert!(reason.contains("does not decode"), "{reason}");
    still_served(&agent, &received, 3).await;

    // Garbage instead of a Hello, and a Hello that is not first.
    let mut raw = raw_site(&pki, addr, "site-nohello").await;
    raw.send_frame(&Envelope::<(), (), ()>::Ack { seq: 5 })
        .await
        .expect("sends");
    let (code, reason) =
        app_close(&raw.closed(Duration::from_secs(3)).await.expect("closed")).expect("app close");
    assert_eq!(code, CloseCode::Protocol as u64);
    assert!(
        reason.contains("expected a hello first, got ack"),
        "{reason}"
    );

    // A peer acknowledging what was never sent, and one skipping sequence numbers.
    let mut raw = raw_site(&pki, addr, "site-liar").await;
    raw.send_hello(PROTOCOL_VERSION, 0).await.expect("sends");
    let _hello: RawFrame = raw
        .read_frame(Duration::from_secs(3))
        .await
        .expect("hello back");
    raw.send_frame(&Envelope::<(), (), ()>::Ack { seq: 10 })
        .await
        .expect("sends");
    let (_, reason) =
        app_close(&raw.closed(Duration::from_secs(3)).await.expect("closed")).expect("app close");
    assert!(reason.contains("ack for message 10"), "{reason}");
    let mut raw = raw_site(&pki, addr, "site-gap").await;
    raw.send_hello(PROTOCOL_VERSION, 0).await.expect("sends");
    let _hello: RawFrame = raw
        .read_frame(Duration::from_secs(3))
        .await
        .expect("hello back");
    raw.send_frame(&Envelope::<Msg, (), ()>::Data {
        seq: 2,
        body: (2, "skipped one".into()),
    })
    .await
    .expect("sends");
    let (_, reason) =
        app_close(&raw.closed(Duration::from_secs(3)).await.expect("closed")).expect("app close");
    assert!(reason.contains("message 2 arrived after 0"), "{reason}");
    assert_eq!(
        received
            .apply_count(&PeerId::Site(site("site-gap")))
            .expect("reads"),
        0
    );

    still_served(&agent, &received, 4).await;
    assert_eq!(server.connected_sites(), vec![site("site-good")]);
    agent.shutdown().await.expect("stops");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_silent_site_goes_offline_and_is_closed() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path());
    let config = ServerConfig {
        offline_after: Duration::from_millis(800),
        ..server_config()
    };
    let (server, _) = start_server_with(&pki, &db, config, hotspot_link::ControlHooks::new()).await;
    let addr = server.local_addr().expect("addr");
    let mut events = server.events();

    // A raw peer says Hello and then nothing (QUIC keeps the connection alive, but no frames).
    let mut raw = raw_site(&pki, addr, "site-quiet").await;
    raw.send_hello(PROTOCOL_VERSION, 0).await.expect("sends");
    let _hello: RawFrame = raw
        .read_frame(Duration::from_secs(3))
        .await
        .expect("hello back");
    let s = site("site-quiet");
    assert!(server.site_status(&s).expect("status").online);
    let closed = raw
        .closed(Duration::from_secs(3))
        .await
        .expect("closed by the controller");
    let (code, reason) = app_close(&closed).expect("app close");
    assert_eq!(code, CloseCode::Silent as u64);
    assert!(reason.contains("no frame"), "{reason}");
    let status = server.site_status(&s).expect("status");
    assert!(!status.online && status.last_seen.is_some(), "{status:?}");
    let next = async {
        tokio::time::timeout(Duration::from_secs(2), events.recv())
            .await
            .ok()
            .and_then(Result::ok)
    };
    assert_eq!(
        next.await,
        Some(hotspot_link::SiteEvent::Online { site: s.clone() })
    );
    let next = async {
        tokio::time::timeout(Duration::from_secs(2), events.recv())
            .await
            .ok()
            .and_then(Result::ok)
    };
    assert!(
        matches!(next.await, Some(hotspot_link::SiteEvent::Offline { site, reason }) if site == s && reason.contains("no frame"))
    );
    server.shutdown().await.expect("stops");
}
