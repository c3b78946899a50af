//! The controller's client verifier and the TLS configs, through webpki with
//! the ring provider, and full in-memory TLS 1.3 handshakes.

mod common;

use std::sync::Arc;

use common::{ALPN, agent, ca, connect, unix, unix_now};
use hotspot_pki::tls::{agent_client_config, agent_enrollment_config, controller_server_config};
use hotspot_pki::{FleetCa, FleetClientVerifier, Revocations, SharedRevocations};
use rustls::server::danger::ClientCertVerifier;
use rustls::{CertificateError, Error};
use time::{Duration, OffsetDateTime};

fn verifier(ca: &FleetCa) -> (FleetClientVerifier, SharedRevocations) {
    let revocations = Revocations::new().into_shared();
    let v = FleetClientVerifier::new(ca.cert_der(), revocations.clone()).unwrap();
    (v, revocations)
}

/// Every fleet CA has the subject `CN=hotspot-fleet CA`, so webpki matches a
/// foreign fleet's certificate to our anchor by name and then fails its
/// signature; a differently named issuer is "unknown". Both are refusals.
fn foreign_issuer(c: &CertificateError) -> bool {
    matches!(
        c,
        CertificateError::UnknownIssuer | CertificateError::BadSignature
    )
}

fn is_cert_error(e: &Error, want: fn(&CertificateError) -> bool) -> bool {
    matches!(e, Error::InvalidCertificate(c) if want(c))
}

#[test]
fn verifier_accepts_good_and_refuses_other_ca_expired_revoked() {
    let ca = ca();
    let (v, revocations) = verifier(&ca);
    let now = OffsetDateTime::now_utc();

    let (_, good) = agent(&ca, "site-1", now, Duration::days(90));
    v.verify_client_cert(&good.cert_der, &[], unix_now())
        .unwrap();

    // Another CA entirely.
    let other = common::ca();
    let (_, foreign) = agent(&other, "site-1", now, Duration::days(90));
    let e = v
        .verify_client_cert(&foreign.cert_der, &[], unix_now())
        .unwrap_err();
    assert!(is_cert_error(&e, foreign_issuer), "{e:?}");

    // Issued 100 days ago for 90 days.
    let (_, expired) = agent(&ca, "site-1", now - Duration::days(100), Duration::days(90));
    let e = v
        .verify_client_cert(&expired.cert_der, &[], unix_now())
        .unwrap_err();
    assert!(
        is_cert_error(&e, |c| matches!(
            c,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        )),
        "{e:?}"
    );
    // Not yet valid.
    let (_, future) = agent(&ca, "site-1", now + Duration::days(1), Duration::days(90));
    assert!(
        v.verify_client_cert(&future.cert_der, &[], unix_now())
            .is_err()
    );
    // But each is fine at a time inside its own validity.
    v.verify_client_cert(&expired.cert_der, &[], unix(now - Duration::days(50)))
        .unwrap();

    // Revoked at run time: the same verifier refuses from then on.
    assert!(revocations.write().unwrap().revoke(good.serial.clone()));
    let e = v
        .verify_client_cert(&good.cert_der, &[], unix_now())
        .unwrap_err();
    assert!(
        is_cert_error(&e, |c| matches!(c, CertificateError::Revoked)),
        "{e:?}"
    );
    // A new certificate for the same site is not affected.
    let (_, renewed) = agent(&ca, "site-1", now, Duration::days(90));
    v.verify_client_cert(&renewed.cert_der, &[], unix_now())
        .unwrap();
}

#[test]
fn verifier_refuses_server_cert_and_garbage() {
    let ca = ca();
    let (v, _) = verifier(&ca);
    let ctl = ca
        .issue_controller_cert(&["localhost".into()], Duration::days(30))
        .unwrap();
    // serverAuth only: webpki refuses it as a client certificate.
    assert!(
        v.verify_client_cert(&ctl.cert.cert_der, &[], unix_now())
            .is_err()
    );
    assert!(
        v.verify_client_cert(&b"junk"[..].into(), &[], unix_now())
            .is_err()
    );
    // The CA certificate itself is not a client certificate.
    assert!(
        v.verify_client_cert(ca.cert_der(), &[], unix_now())
            .is_err()
    );
    assert!(v.client_auth_mandatory());
    assert!(!v.root_hint_subjects().is_empty());
    let (v, _) = verifier(&ca);
    assert!(!v.allow_unauthenticated().client_auth_mandatory());
}

struct Fleet {
    ca: FleetCa,
    server: rustls::ServerConfig,
    revocations: SharedRevocations,
}

fn fleet() -> Fleet {
    let ca = ca();
    let ctl = ca
        .issue_controller_cert(
            &["localhost".into(), "127.0.0.1".into()],
            Duration::days(30),
        )
        .unwrap();
    let chain = hotspot_pki::tls::certs_from_pem("chain", &ctl.chain_pem).unwrap();
    let key = hotspot_pki::tls::private_key_from_pem("key", &ctl.key_pem).unwrap();
    let (v, revocations) = verifier(&ca);
    let server = controller_server_config(chain, key, Arc::new(v), &[ALPN]).unwrap();
    Fleet {
        ca,
        server,
        revocations,
    }
}

fn agent_config(
    ca_for_trust: &FleetCa,
    issuer: &FleetCa,
    issued_at: OffsetDateTime,
) -> (rustls::ClientConfig, hotspot_pki::IssuedCert) {
    let (key, cert) = agent(issuer, "site-9", issued_at, Duration::days(90));
    let config = agent_client_config(
        ca_for_trust.cert_der(),
        vec![cert.cert_der.clone()],
        key.private_key_der(),
        &[ALPN],
    )
    .unwrap();
    (config, cert)
}

#[test]
fn mutual_tls_handshake_names_the_site() {
    let f = fleet();
    let (client, _) = agent_config(&f.ca, &f.ca, OffsetDateTime::now_utc());
    let (client, server, result) = connect(client, f.server.clone(), "localhost");
    result.unwrap();
    assert_eq!(client.alpn_protocol(), Some(ALPN));
    assert_eq!(server.alpn_protocol(), Some(ALPN));
    assert_eq!(
        client.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let peer = server.peer_certificates().unwrap();
    let site = hotspot_pki::site_id_from_cert(&peer[0]).unwrap();
    assert_eq!(site.as_str(), "site-9");
}

#[test]
fn handshake_refuses_foreign_expired_and_revoked_agents() {
    let f = fleet();
    let now = OffsetDateTime::now_utc();

    // Certificate from another CA (the agent still trusts our CA for the server).
    let other = ca();
    let (client, _) = agent_config(&f.ca, &other, now);
    let (_, _, result) = connect(client, f.server.clone(), "localhost");
    assert!(result.is_err(), "foreign agent accepted");

    let (client, _) = agent_config(&f.ca, &f.ca, now - Duration::days(100));
    let (_, _, result) = connect(client, f.server.clone(), "localhost");
    assert!(result.is_err(), "expired agent accepted");

    let (client, cert) = agent_config(&f.ca, &f.ca, now);
    f.revocations.write().unwrap().revoke(cert.serial.clone());
    let (_, _, result) = connect(client, f.server.clone(), "localhost");
    let e = result.unwrap_err();
    assert!(
        is_cert_error(&e, |c| matches!(c, CertificateError::Revoked)),
        "{e:?}"
    );
}

#[test]
fn agent_refuses_a_controller_from_another_ca_or_wrong_name() {
    let f = fleet();
    let other = ca();
    // Agent trusts `other`, controller is from `f.ca`.
    let (client, _) = agent_config(&other, &f.ca, OffsetDateTime::now_utc());
    let (_, _, result) = connect(client, f.server.clone(), "localhost");
    let e = result.unwrap_err();
    assert!(is_cert_error(&e, foreign_issuer), "{e:?}");

    let (client, _) = agent_config(&f.ca, &f.ca, OffsetDateTime::now_utc());
    let (_, _, result) = connect(client, f.server.clone(), "ctl.example.net");
    assert!(
        result.is_err(),
        "name not in the controller certificate accepted"
    );
}

#[test]
fn enrollment_config_trusts_the_pinned_ca_only() {
    let f = fleet();
    // The enrolling agent has no certificate; the server must allow that.
    let ctl =
        f.ca.issue_controller_cert(&["localhost".into()], Duration::days(30))
            .unwrap();
    let chain = hotspot_pki::tls::certs_from_pem("chain", &ctl.chain_pem).unwrap();
    let key = hotspot_pki::tls::private_key_from_pem("key", &ctl.key_pem).unwrap();
    let v = FleetClientVerifier::new(f.ca.cert_der(), Revocations::new().into_shared())
        .unwrap()
        .allow_unauthenticated();
    let server = controller_server_config(chain, key, Arc::new(v), &[ALPN]).unwrap();

    let good = agent_enrollment_config(f.ca.fingerprint_sha256(), &[ALPN]).unwrap();
    let (_, server_conn, result) = connect(good, server.clone(), "localhost");
    result.unwrap();
    assert!(server_conn.peer_certificates().is_none());

    let mut wrong_pin = f.ca.fingerprint_sha256();
    wrong_pin[0] ^= 1;
    let bad = agent_enrollment_config(wrong_pin, &[ALPN]).unwrap();
    let (_, _, result) = connect(bad, server.clone(), "localhost");
    let e = result.unwrap_err();
    assert!(
        is_cert_error(&e, |c| matches!(c, CertificateError::UnknownIssuer)),
        "{e:?}"
    );

    // Right pin, wrong server name: still refused.
    let good = agent_enrollment_config(f.ca.fingerprint_sha256(), &[ALPN]).unwrap();
    let (_, _, result) = connect(good, server, "evil.example.net");
    assert!(result.is_err());

    // A server with mandatory client auth refuses a certificate-less client.
    let good = agent_enrollment_config(f.ca.fingerprint_sha256(), &[ALPN]).unwrap();
    let (_, _, result) = connect(good, f.server, "localhost");
    assert!(result.is_err());
}

#[test]
fn shared_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FleetCa>();
    assert_send_sync::<FleetClientVerifier>();
    assert_send_sync::<hotspot_pki::AgentKey>();
    assert_send_sync::<hotspot_pki::EnrollmentToken>();
    assert_send_sync::<SharedRevocations>();
    assert_send_sync::<hotspot_pki::PkiError>();
}

/// A resumed TLS 1.3 session restores the client certificate without calling the verifier, so
/// the controller's config must never resume: no tickets, no session cache.
#[test]
fn controller_config_never_resumes_sessions() {
    let f = fleet();
    assert_eq!(f.server.send_tls13_tickets, 0);
    assert!(!f.server.session_storage.can_cache());
    assert!(!f.server.session_storage.put(vec![1], vec![2]));
}
