//! Enrollment and renewal on the wire, with stub hooks (the real token store and CA wiring
//! belong to the controller): a good token gets a certificate that then works on the link, a
//! bad one gets the refusal text, a connection without a certificate can do nothing else, and a
//! connected agent renews its certificate over the channel without losing queued messages.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use hotspot_link::wire::EnrollReply;
use hotspot_link::{
    CloseCode, ControlHooks, EnrollGrant, EnrollRefusal, EnrollRequest, Enroller, LinkError,
    PeerId, Renewer, enroll,
};
use hotspot_pki::tls::{agent_enrollment_config, certs_from_pem};
use hotspot_pki::{AgentKey, FleetCa, SiteId, serial_of, site_id_from_cert};
use hotspot_shared::fleet::{ALPN, PROTOCOL_VERSION};
use time::OffsetDateTime;

const GOOD_TOKEN: &str = "hfe1.site-new.good";

struct StubEnroller {
    ca: Arc<FleetCa>,
}

impl Enroller for StubEnroller {
    async fn enroll(&self, request: EnrollRequest) -> Result<EnrollGrant, EnrollRefusal> {
        if request.token != GOOD_TOKEN {
            return Err(EnrollRefusal(
                "this enrollment token is not valid (unknown, already used or expired)".into(),
            ));
        }
        let site_id = site("site-new");
        let cert = self
            .ca
            .sign_agent_csr(
                &request.csr_der,
                &site_id,
                time::Duration::days(90),
                OffsetDateTime::now_utc(),
            )
            .map_err(|e| EnrollRefusal(e.to_string()))?;
        Ok(EnrollGrant {
            site_id,
            cert_chain_pem: format!("{}{}", cert.cert_pem, self.ca.cert_pem()),
            ca_pem: self.ca.cert_pem().to_string(),
        })
    }
}

struct StubRenewer {
    ca: Arc<FleetCa>,
}

impl Renewer for StubRenewer {
    async fn renew(&self, site: SiteId, csr_der: Vec<u8>) -> Result<String, String> {
        let cert = self
            .ca
            .sign_agent_csr(
                &csr_der,
                &site,
                time::Duration::days(90),
                OffsetDateTime::now_utc(),
            )
            .map_err(|e| e.to_string())?;
        Ok(format!("{}{}", cert.cert_pem, self.ca.cert_pem()))
    }
}

#[tokio::test]
async fn a_good_token_is_granted_a_working_certificate_and_a_bad_one_is_refused() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(&dir.path().join("controller"));
    let hooks = ControlHooks::new().with_enroller(StubEnroller { ca: pki.ca.clone() });
    let (server, received) = start_server_with(&pki, &db, server_config(), hooks).await;
    let addr = server.local_addr().expect("addr");
    let pin = pki.ca.fingerprint_sha256();
    let key = AgentKey::generate().expect("key");
    let csr = key.make_csr(&site("site-new")).expect("csr");
    let limit = Duration::from_secs(5);

    let e = enroll(
        addr,
        "localhost",
        pin,
        "hfe1.site-new.bad",
        csr.clone(),
        limit,
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(&e, LinkError::Denied(r) if r.contains("not valid")),
        "{e}"
    );

    // A controller that is not the pinned CA's is not trusted.
    let e = enroll(addr, "localhost", [7; 32], GOOD_TOKEN, csr.clone(), limit)
        .await
        .expect_err("wrong pin");
    assert!(matches!(e, LinkError::Tls(_)), "{e}");

    let grant = enroll(addr, "localhost", pin, GOOD_TOKEN, csr, limit)
        .await
        .expect("granted");
    assert_eq!(grant.site_id, site("site-new"));
    let chain = certs_from_pem("chain", &grant.cert_chain_pem).expect("pem");
    assert_eq!(
        site_id_from_cert(&chain[0]).expect("site"),
        site("site-new")
    );

    // The granted certificate works on the link.
    let ca = certs_from_pem("ca", &grant.ca_pem).expect("pem").remove(0);
    let tls = hotspot_link::ClientTls {
        ca,
        cert_chain: chain,
        key: key.private_key_der(),
    };
    let adb = open_db(&dir.path().join("agent"));
    let (agent, _) = start_agent(tls, &adb, addr).await;
    agent
        .send(&(1, "first event".into()))
        .await
        .expect("queued");
    assert!(
        eventually(limit, || received
            .apply_count(&PeerId::Site(site("site-new")))
            .unwrap_or(0)
            == 1)
        .await
    );
    agent.shutdown().await.expect("stops");
    server.shutdown().await.expect("stops");
}

async fn raw_without_certificate(pki: &Pki, addr: std::net::SocketAddr) -> RawPeer {
    let config = agent_enrollment_config(pki.ca.fingerprint_sha256(), &[ALPN]).expect("config");
    RawPeer::connect_with(addr, config).await.expect("connects")
}

#[tokio::test]
async fn a_connection_without_a_certificate_may_only_enroll() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");

    // Enrollment not enabled: closed with a reason.
    let db = open_db(&dir.path().join("a"));
    let (server, _) = start_server(&pki, &db).await;
    let addr = server.local_addr().expect("addr");
    let mut raw = raw_without_certificate(&pki, addr).await;
    let _ = raw.send_hello(PROTOCOL_VERSION, 0).await;
    let (code, reason) =
        app_close(&raw.closed(Duration::from_secs(3)).await.expect("closed")).expect("app close");
    assert_eq!(code, CloseCode::Unauthenticated as u64);
    assert!(
        reason.contains("client certificate is required"),
        "{reason}"
    );
    let key = AgentKey::generate().expect("key");
    let e = enroll(
        addr,
        "localhost",
        pki.ca.fingerprint_sha256(),
        GOOD_TOKEN,
        key.make_csr(&site("x")).expect("csr"),
        Duration::from_secs(3),
    )
    .await
    .expect_err("not enabled");
    assert!(
        matches!(&e, LinkError::ClosedByPeer { reason, .. } if reason.contains("enrollment is not enabled")),
        "{e}"
    );
    server.shutdown().await.expect("stops");

    // Enrollment enabled: a Hello on such a connection is answered with a refusal, not a session.
    let db = open_db(&dir.path().join("b"));
    let hooks = ControlHooks::new().with_enroller(StubEnroller { ca: pki.ca.clone() });
    let (server, _) = start_server_with(&pki, &db, server_config(), hooks).await;
    let addr = server.local_addr().expect("addr");
    let mut raw = raw_without_certificate(&pki, addr).await;
    raw.send_hello(PROTOCOL_VERSION, 0).await.expect("sends");
    let reply: EnrollReply = raw
        .read_frame(Duration::from_secs(3))
        .await
        .expect("a reply");
    assert!(
        matches!(&reply, EnrollReply::Refused(r) if r.contains("only enrollment is allowed")),
        "{reply:?}"
    );
    assert!(server.connected_sites().is_empty());
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn renewal_over_the_channel_switches_certificates_without_losing_messages() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(&dir.path().join("controller"));
    let hooks = ControlHooks::new().with_renewer(StubRenewer { ca: pki.ca.clone() });
    let (server, received) = start_server_with(&pki, &db, server_config(), hooks).await;
    let addr = server.local_addr().expect("addr");
    let (tls, old_cert) = pki.agent("site-renew");
    let adb = open_db(&dir.path().join("agent"));
    let (agent, _) = start_agent(tls, &adb, addr).await;
    let s = site("site-renew");
    assert!(eventually(Duration::from_secs(5), || agent.status().connected).await);

    let msgs: Vec<Msg> = (1..=300).map(|i| (i, format!("event {i}"))).collect();
    agent.send_batch(&msgs[..150]).await.expect("queued");
    let new_key = AgentKey::generate().expect("key");
    let chain_pem = agent
        .renew(new_key.make_csr(&s).expect("csr"), Duration::from_secs(3))
        .await
        .expect("renewed");
    let chain = certs_from_pem("renewed", &chain_pem).expect("pem");
    let new_serial = serial_of(&chain[0]).expect("serial");
    assert_ne!(new_serial, old_cert.serial);
    assert_eq!(site_id_from_cert(&chain[0]).expect("site"), s);
    agent
        .renew_with(chain, new_key.private_key_der())
        .expect("switches");
    agent.send_batch(&msgs[150..]).await.expect("queued");

    let peer = PeerId::Site(s.clone());
    assert!(
        eventually(Duration::from_secs(5), || received
            .apply_count(&peer)
            .unwrap_or(0)
            == 300)
        .await
    );
    let got: Vec<Msg> = received
        .messages::<Msg>(&peer)
        .expect("reads")
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(got, msgs);
    assert!(
        eventually(Duration::from_secs(3), || agent.status().sessions == 2
            && agent.status().connected)
        .await,
        "{:?}",
        agent.status()
    );
    // The site is now connected with the new certificate.
    assert!(
        eventually(Duration::from_secs(3), || server
            .connected_sites()
            .contains(&s))
        .await
    );
    assert_eq!(server.revoke_site(&s), Some(new_serial));

    agent.shutdown().await.expect("stops");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn renewal_without_a_renewer_is_refused_with_a_reason() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(&dir.path().join("controller"));
    let (server, _) = start_server(&pki, &db).await;
    let (tls, _) = pki.agent("site-x");
    let adb = open_db(&dir.path().join("agent"));
    let (agent, _) = start_agent(tls, &adb, server.local_addr().expect("addr")).await;
    assert!(eventually(Duration::from_secs(5), || agent.status().connected).await);
    let key = AgentKey::generate().expect("key");
    let e = agent
        .renew(
            key.make_csr(&site("site-x")).expect("csr"),
            Duration::from_secs(3),
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(&e, LinkError::Denied(r) if r.contains("not offered")),
        "{e}"
    );
    agent.shutdown().await.expect("stops");
    server.shutdown().await.expect("stops");
}
