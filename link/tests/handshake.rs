//! Who may connect: protocol version, certificates (wrong CA, expired, revoked), revocation of
//! an open connection, and site identity taken from the certificate only.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hotspot_link::{CloseCode, PeerId};
use hotspot_pki::FleetCa;
use hotspot_shared::fleet::{Envelope, PROTOCOL_VERSION, Refusal};
use time::OffsetDateTime;

#[tokio::test]
async fn wrong_version_is_refused_with_a_reason_and_the_server_keeps_serving() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(&dir.path().join("controller"));
    let (server, received) = start_server(&pki, &db).await;
    let addr = server.local_addr().expect("addr");

    let (key, cert) = Pki::agent_cert_from(&pki.ca, "site-v", OffsetDateTime::now_utc(), 90);
    let mut raw = RawPeer::connect(
        addr,
        pki.ca.cert_der(),
        vec![cert.cert_der.clone()],
        key.private_key_der(),
    )
    .await
    .expect("connects");
    raw.send_hello(99, 0).await.expect("sends");
    let frame: RawFrame = raw
        .read_frame(Duration::from_secs(3))
        .await
        .expect("an answer");
    assert_eq!(
        frame,
        Envelope::Refuse(Refusal::UnsupportedVersion {
            got: 99,
            supported: PROTOCOL_VERSION
        })
    );
    let closed = raw.closed(Duration::from_secs(3)).await.expect("closes");
    let (code, reason) = app_close(&closed).expect("an application close");
    assert_eq!(code, CloseCode::UnsupportedVersion as u64);
    assert!(
        reason.contains("unsupported protocol version 99"),
        "{reason}"
    );

    // A good agent is served afterwards.
    let (tls, _) = pki.agent("site-good");
    let adb = open_db(&dir.path().join("agent"));
    let (agent, _) = start_agent(tls, &adb, addr).await;
    agent.send(&(1, "hello".into())).await.expect("queued");
    let peer = PeerId::Site(site("site-good"));
    assert!(
        eventually(Duration::from_secs(5), || received
            .apply_count(&peer)
            .unwrap_or(0)
            == 1)
        .await
    );
    agent.shutdown().await.expect("agent stops");
    server.shutdown().await.expect("server stops");
}

/// Connects with `tls` and tries to complete a Hello exchange. TLS 1.3 finishes the client's
/// handshake before the server has judged the client certificate, so `connect` succeeding
/// means nothing: the verdict is whether a Hello comes back or the connection closes.
async fn hello_outcome(
    addr: std::net::SocketAddr,
    pki: &Pki,
    key: &hotspot_pki::AgentKey,
    cert: &hotspot_pki::IssuedCert,
) -> Result<(), String> {
    let mut raw = RawPeer::connect(
        addr,
        pki.ca.cert_der(),
        vec![cert.cert_der.clone()],
        key.private_key_der(),
    )
    .await?;
    raw.send_hello(PROTOCOL_VERSION, 0).await?;
    let frame: RawFrame = raw.read_frame(Duration::from_secs(3)).await?;
    match frame {
        Envelope::Hello { .. } => Ok(()),
        other => Err(format!("unexpected {other:?}")),
    }
}

#[tokio::test]
async fn wrong_ca_expired_and_revoked_certificates_are_refused() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path());
    let (server, _) = start_server(&pki, &db).await;
    let addr = server.local_addr().expect("addr");
    let now = OffsetDateTime::now_utc();

    let (key, good) = Pki::agent_cert_from(&pki.ca, "site-ok", now, 90);
    hello_outcome(addr, &pki, &key, &good)
        .await
        .expect("a good certificate gets a hello");

    let (other_ca, _) = FleetCa::generate(now).expect("CA");
    let (key, foreign) = Pki::agent_cert_from(&other_ca, "site-foreign", now, 90);
    let e = hello_outcome(addr, &pki, &key, &foreign)
        .await
        .expect_err("foreign CA refused");
    assert!(
        e.contains("handshake failed")
            && (e.contains("BadSignature") || e.contains("UnknownIssuer")),
        "{e}"
    );

    let (key, expired) =
        Pki::agent_cert_from(&pki.ca, "site-old", now - time::Duration::days(100), 90);
    let e = hello_outcome(addr, &pki, &key, &expired)
        .await
        .expect_err("expired refused");
    assert!(
        e.contains("handshake failed") && e.contains("expired"),
        "{e}"
    );

    let (key, revoked) = Pki::agent_cert_from(&pki.ca, "site-gone", now, 90);
    assert_eq!(server.revoke(&revoked.serial), 0, "nothing was open");
    let e = hello_outcome(addr, &pki, &key, &revoked)
        .await
        .expect_err("revoked refused");
    assert!(
        e.contains("handshake failed") && e.contains("Revoked"),
        "{e}"
    );

    // None of them ever became a connected site.
    let sites = server.connected_sites();
    assert!(
        !sites.contains(&site("site-foreign"))
            && !sites.contains(&site("site-old"))
            && !sites.contains(&site("site-gone"))
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn revoking_closes_the_open_connection_and_the_agent_stays_out() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(&dir.path().join("controller"));
    let (server, _) = start_server(&pki, &db).await;
    let addr = server.local_addr().expect("addr");
    let (tls, cert) = pki.agent("site-r");
    let adb = open_db(&dir.path().join("agent"));
    let (agent, _) = start_agent(tls, &adb, addr).await;
    let s = site("site-r");
    assert!(
        eventually(Duration::from_secs(5), || server
            .site_status(&s)
            .map(|st| st.online)
            .unwrap_or(false))
        .await
    );

    let start = Instant::now();
    assert_eq!(server.revoke_site(&s), Some(cert.serial.clone()));
    assert!(
        eventually(Duration::from_secs(2), || !agent.status().connected).await,
        "closed at once"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(!server.site_status(&s).expect("status").online);

    // The agent keeps trying; every handshake is refused now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = agent.status();
    assert_eq!(status.sessions, 1, "never connected again: {status:?}");
    let last = status.last_error.unwrap_or_default();
    assert!(last.contains("revoked") || last.contains("TLS"), "{last}");
    agent.shutdown().await.expect("agent stops");
    server.shutdown().await.expect("server stops");
}

#[tokio::test]
async fn messages_are_attributed_to_the_site_of_the_certificate() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(&dir.path().join("controller"));
    let (server, received) = start_server(&pki, &db).await;
    let addr = server.local_addr().expect("addr");
    let (tls_a, _) = pki.agent("site-a");
    let (tls_b, _) = pki.agent("site-b");
    let db_a = open_db(&dir.path().join("a"));
    let db_b = open_db(&dir.path().join("b"));
    let (a, _) = start_agent(tls_a, &db_a, addr).await;
    let (b, _) = start_agent(tls_b, &db_b, addr).await;
    // The payload claims to be from site-b; there is no field the link would believe.
    a.send(&(1, "I am site-b".into())).await.expect("queued");
    b.send(&(1, "from b".into())).await.expect("queued");
    b.send(&(2, "from b again".into())).await.expect("queued");

    let pa = PeerId::Site(site("site-a"));
    let pb = PeerId::Site(site("site-b"));
    assert!(
        eventually(Duration::from_secs(5), || received
            .apply_count(&pa)
            .unwrap_or(0)
            == 1
            && received.apply_count(&pb).unwrap_or(0) == 2)
        .await
    );
    assert_eq!(
        received.messages::<Msg>(&pa).expect("reads"),
        vec![(1, (1, "I am site-b".to_string()))]
    );
    assert_eq!(
        received.messages::<Msg>(&pb).expect("reads"),
        vec![
            (1, (1, "from b".to_string())),
            (2, (2, "from b again".to_string()))
        ]
    );
    // And the responder is told who asks.
    let answer = a
        .request(Query::Echo("hi".into()), Duration::from_secs(2))
        .await
        .expect("answered");
    assert_eq!(answer, "hi (asked by site site-a)");
    a.shutdown().await.expect("stops");
    b.shutdown().await.expect("stops");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_connection_does_not_outlive_its_certificate() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(&dir.path().join("controller"));
    let (server, _) = start_server(&pki, &db).await;
    let key = hotspot_pki::AgentKey::generate().expect("key");
    let csr = key.make_csr(&site("site-brief")).expect("csr");
    let now = OffsetDateTime::now_utc();
    let cert = pki
        .ca
        .sign_agent_csr(
            &csr,
            &site("site-brief"),
            time::Duration::seconds(3),
            now - time::Duration::seconds(1),
        )
        .expect("signs");
    let adb = open_db(&dir.path().join("agent"));
    let (agent, _) = start_agent(
        pki.client_tls(&key, &cert),
        &adb,
        server.local_addr().expect("addr"),
    )
    .await;
    assert!(eventually(Duration::from_secs(3), || agent.status().connected).await);
    assert!(
        eventually(Duration::from_secs(4), || !agent.status().connected).await,
        "closed at expiry"
    );
    let last = agent.status().last_error.unwrap_or_default();
    assert!(last.contains("expired"), "{last}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(agent.status().sessions, 1, "refused from then on");
    agent.shutdown().await.expect("stops");
    server.shutdown().await.expect("stops");
}
