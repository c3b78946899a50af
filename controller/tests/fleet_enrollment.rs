//! Enrollment, renewal and revocation end to end: the real `hotspot_link::enroll` client
//! against the controller's fleet endpoint (QUIC + TLS on loopback), tokens made through the
//! HTTP API and spent in the ledger.

mod common;
mod fleet_support;

use std::time::{Duration, Instant};

use fleet_support::agent::FakeAgent;
use fleet_support::*;
use hotspot_controller::fleet::sites::issued_serials;
use hotspot_controller::store::Store;
use hotspot_link::{ClientTls, EnrollGrant, LinkError, enroll};
use hotspot_pki::tls::certs_from_pem;
use hotspot_pki::{AgentKey, EnrollmentToken, serial_of, site_id_from_cert};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(10);

async fn new_token(c: &Controller, site_id: &str) -> String {
    let r = c
        .http
        .post(&format!("/api/sites/{site_id}/enrollment"), json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    let token = body["token"].as_str().expect("token").to_owned();
    let command = body["command"].as_str().expect("command");
    assert!(
        command.starts_with("hotspot-agent enroll --controller localhost:"),
        "{command}"
    );
    assert!(command.contains(&token));
    assert!(body["expires_at"].as_str().is_some());
    token
}

async fn try_enroll(c: &Controller, token: &str, key: &AgentKey) -> Result<EnrollGrant, LinkError> {
    let fingerprint = c.ca.fingerprint_sha256();
    let csr = key.make_csr(&site("cafe")).expect("csr");
    enroll(c.fleet_addr, "localhost", fingerprint, token, csr, DEADLINE).await
}

fn refusal(result: Result<EnrollGrant, LinkError>) -> String {
    match result {
        Err(LinkError::Denied(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_enrolls_once_and_reused_expired_or_forged_ones_are_refused() {
    let c = Controller::start().await;
    c.add_site("cafe").await;
    let key = AgentKey::generate().expect("key");

    let token = new_token(&c, "cafe").await;
    let parsed: EnrollmentToken = token.parse().expect("token parses");
    assert_eq!(parsed.ca_fingerprint(), c.ca.fingerprint_sha256());
    let grant = try_enroll(&c, &token, &key).await.expect("granted");
    assert_eq!(grant.site_id, site("cafe"));
    let chain = certs_from_pem("chain", &grant.cert_chain_pem).expect("pem");
    assert_eq!(
        site_id_from_cert(&chain[0]).expect("names a site"),
        site("cafe")
    );
    let serial = serial_of(&chain[0]).expect("serial");
    assert_eq!(
        issued_serials(&c.store, &site("cafe")).expect("audit"),
        [serial]
    );

    let reused = refusal(try_enroll(&c, &token, &key).await);
    assert!(reused.contains("already used"), "{reused}");

    let late = new_token(&c, "cafe").await;
    c.clock.advance(25 * 3600);
    let expired = refusal(try_enroll(&c, &late, &key).await);
    assert!(expired.contains("expired"), "{expired}");
    c.clock.advance(-25 * 3600);

    let good = new_token(&c, "cafe").await;
    let parts: Vec<&str> = good.split('.').collect();
    let flipped = if parts[2].starts_with('0') { "1" } else { "0" };
    let forged = format!(
        "{}.{}.{}{}.{}",
        parts[0],
        parts[1],
        flipped,
        &parts[2][1..],
        parts[3]
    );
    let invalid = refusal(try_enroll(&c, &forged, &key).await);
    assert!(invalid.contains("not valid"), "{invalid}");
    let garbage = refusal(try_enroll(&c, "please-let-me-in", &key).await);
    assert!(
        garbage.contains("not a hotspot-fleet enrollment token"),
        "{garbage}"
    );
    // The good token was not burnt by its forged copy.
    try_enroll(&c, &good, &key)
        .await
        .expect("the real token still works");
    c.stop().await;
}

fn client_tls(grant: &EnrollGrant, key: &AgentKey) -> ClientTls {
    ClientTls {
        ca: certs_from_pem("ca", &grant.ca_pem).expect("ca").remove(0),
        cert_chain: certs_from_pem("chain", &grant.cert_chain_pem).expect("chain"),
        key: key.private_key_der(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_site_closes_its_connection_and_refuses_it_from_then_on() {
    let c = Controller::start().await;
    c.add_site("cafe").await;
    let key = AgentKey::generate().expect("key");
    let token = new_token(&c, "cafe").await;
    let grant = try_enroll(&c, &token, &key).await.expect("granted");
    let agent = FakeAgent::start_with(client_tls(&grant, &key), &site("cafe"), c.fleet_addr).await;
    c.wait_online("cafe", true).await;

    let r = c.http.post("/api/sites/cafe/revoke", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["connections_closed"], 1, "{body}");
    let serial = serial_of(&certs_from_pem("c", &grant.cert_chain_pem).unwrap()[0]).unwrap();
    assert_eq!(body["serials"], json!([serial.to_string()]));

    let closed = eventually(Duration::from_secs(5), || !agent.link.status().connected).await;
    assert!(closed, "the revoked agent's connection is closed");
    // It keeps trying (backoff up to 300 ms) and is refused every time.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert!(!c.fleet.site_status(&site("cafe")).unwrap().online);
        assert!(!agent.link.status().connected);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(c.store.revocations().unwrap().is_revoked(&serial));
    let sites = c.http.get("/api/sites").await.json();
    assert_eq!(sites["items"][0]["revoked"], true, "{sites}");
    let again = c.http.post("/api/sites/cafe/enrollment", json!({})).await;
    assert_eq!((again.status, again.code().as_str()), (409, "conflict"));
    agent.link.shutdown().await.expect("agent stops");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_signs_a_certificate_for_the_connections_site_only() {
    let c = Controller::start().await;
    c.add_site("hostel").await;
    let agent = c.agent("hostel").await;
    let key = AgentKey::generate().expect("key");
    // The CSR asks for another site; only its public key is used.
    let csr = key.make_csr(&site("someone-else")).expect("csr");
    let pem = agent.link.renew(csr, DEADLINE).await.expect("renewed");
    let chain = certs_from_pem("chain", &pem).expect("pem");
    assert_eq!(chain.len(), 2, "leaf and CA");
    assert_eq!(site_id_from_cert(&chain[0]).unwrap(), site("hostel"));
    let serial = serial_of(&chain[0]).unwrap();
    assert!(
        issued_serials(&c.store, &site("hostel"))
            .unwrap()
            .contains(&serial)
    );
    // The agent switches to it without losing its place.
    agent
        .link
        .renew_with(chain, key.private_key_der())
        .expect("switch");
    let reconnected = eventually(Duration::from_secs(5), || {
        let status = agent.link.status();
        status.connected && status.sessions >= 2
    })
    .await;
    assert!(reconnected, "connected again with the renewed certificate");
    c.wait_online("hostel", true).await;
    agent.link.shutdown().await.expect("agent stops");
    c.stop().await;
}
