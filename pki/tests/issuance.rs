//! What goes into certificates: only what the CA decides, never what a CSR asks.

mod common;

use hotspot_pki::{
    AgentKey, DEFAULT_AGENT_CERT_VALIDITY, PkiError, renewal_due, serial_of, site_id_from_cert,
    validity_of,
};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::parse_x509_certificate;

const NOW: OffsetDateTime = datetime!(2026-06-01 08:30:00 UTC);

/// A CSR that asks for everything a CA must not grant.
fn greedy_csr(key: &KeyPair) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "admin");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Evil Corp");
    params.subject_alt_names = vec![
        SanType::DnsName("controller.example.net".try_into().unwrap()),
        SanType::URI("hotspot-fleet://site/someone-else".try_into().unwrap()),
        SanType::IpAddress("10.0.0.1".parse().unwrap()),
    ];
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::CodeSigning,
    ];
    params.custom_extensions = vec![CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 99999, 1],
        vec![0x05, 0x00],
    )];
    params.serialize_request(key).unwrap().der().to_vec()
}

#[test]
fn greedy_csr_gets_none_of_what_it_asks() {
    let ca = common::ca();
    let key = KeyPair::generate().unwrap();
    let csr = greedy_csr(&key);
    let site = common::site("site-7");
    let issued = ca
        .sign_agent_csr(&csr, &site, DEFAULT_AGENT_CERT_VALIDITY, NOW)
        .unwrap();
    let (_, cert) = parse_x509_certificate(&issued.cert_der).unwrap();

    assert_eq!(cert.subject().to_string(), "CN=site site-7");
    let (_, ca_cert) = parse_x509_certificate(ca.cert_der()).unwrap();
    assert_eq!(cert.issuer(), ca_cert.subject());
    // The key is the CSR's key.
    assert_eq!(
        cert.public_key().subject_public_key.data.as_ref(),
        key.public_key_raw()
    );

    let sans = &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert_eq!(sans, &vec![GeneralName::URI("hotspot-fleet://site/site-7")]);

    let bc = cert.basic_constraints().unwrap().unwrap().value;
    assert!(!bc.ca);
    assert!(!cert.is_ca());
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature());
    assert!(!ku.key_cert_sign() && !ku.crl_sign());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth);
    assert!(!eku.server_auth && !eku.code_signing && !eku.any && eku.other.is_empty());

    // Nothing beyond the extensions we set ourselves.
    let allowed = [
        "2.5.29.17",
        "2.5.29.19",
        "2.5.29.15",
        "2.5.29.37",
        "2.5.29.35",
        "2.5.29.14",
    ];
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        assert!(
            allowed.contains(&oid.as_str()),
            "unexpected extension {oid}"
        );
    }
}

#[test]
fn issued_fields_round_trip() {
    let ca = common::ca();
    let (_, issued) = common::agent(&ca, "site-1", NOW, DEFAULT_AGENT_CERT_VALIDITY);
    assert_eq!(
        site_id_from_cert(&issued.cert_der).unwrap(),
        common::site("site-1")
    );
    assert_eq!(serial_of(&issued.cert_der).unwrap(), issued.serial);
    assert_eq!(
        validity_of(&issued.cert_der).unwrap(),
        (issued.not_before, issued.not_after)
    );
    assert_eq!(issued.not_before, NOW);
    assert_eq!(issued.not_after, NOW + Duration::days(90));
    assert!(issued.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));

    // Two certificates for the same site have distinct random serials.
    let (_, second) = common::agent(&ca, "site-1", NOW, DEFAULT_AGENT_CERT_VALIDITY);
    assert_ne!(second.serial, issued.serial);
    assert!(issued.serial.as_bytes().len() >= 12, "{}", issued.serial);

    // Renewal timing from the certificate's own dates.
    let (nb, na) = validity_of(&issued.cert_der).unwrap();
    assert!(!renewal_due(nb, na, NOW + Duration::days(45)));
    assert!(renewal_due(nb, na, NOW + Duration::days(60)));
    assert!(renewal_due(nb, na, NOW + Duration::hours(90 * 18)));
}

#[test]
fn csr_with_broken_signature_is_refused() {
    let ca = common::ca();
    let key = AgentKey::generate().unwrap();
    let mut csr = key.make_csr(&common::site("site-1")).unwrap();
    let last = csr.len() - 1;
    csr[last] ^= 0x01;
    let err = ca
        .sign_agent_csr(
            &csr,
            &common::site("site-1"),
            DEFAULT_AGENT_CERT_VALIDITY,
            NOW,
        )
        .unwrap_err();
    assert!(matches!(err, PkiError::CsrSignatureInvalid), "{err}");
}

#[test]
fn csr_with_swapped_key_is_refused() {
    // A CSR signed by one key but carrying another's public key.
    let ca = common::ca();
    let a = AgentKey::generate().unwrap();
    let b = AgentKey::generate().unwrap();
    let csr_a = a.make_csr(&common::site("s")).unwrap();
    let spki_a = a.public_key_der();
    let spki_b = b.public_key_der();
    let pos = csr_a
        .windows(spki_a.len())
        .position(|w| w == spki_a.as_slice())
        .unwrap();
    let mut forged = csr_a.clone();
    forged[pos..pos + spki_b.len()].copy_from_slice(&spki_b);
    let err = ca
        .sign_agent_csr(
            &forged,
            &common::site("s"),
            DEFAULT_AGENT_CERT_VALIDITY,
            NOW,
        )
        .unwrap_err();
    assert!(matches!(err, PkiError::CsrSignatureInvalid), "{err}");
}

#[test]
fn garbage_csrs_are_errors_not_panics() {
    let ca = common::ca();
    let site = common::site("s");
    for bad in [
        &b""[..],
        b"\x30\x03\x02\x01\x00",
        b"-----BEGIN CERTIFICATE REQUEST-----",
        &[0x30; 40],
    ] {
        let err = ca
            .sign_agent_csr(bad, &site, DEFAULT_AGENT_CERT_VALIDITY, NOW)
            .unwrap_err();
        assert!(matches!(err, PkiError::BadCsr { .. }), "{err}");
    }
    let huge = vec![0u8; 100_000];
    assert!(matches!(
        ca.sign_agent_csr(&huge, &site, DEFAULT_AGENT_CERT_VALIDITY, NOW),
        Err(PkiError::BadCsr { .. })
    ));
    // Trailing bytes after a valid CSR.
    let mut csr = AgentKey::generate().unwrap().make_csr(&site).unwrap();
    csr.push(0);
    assert!(matches!(
        ca.sign_agent_csr(&csr, &site, DEFAULT_AGENT_CERT_VALIDITY, NOW),
        Err(PkiError::BadCsr { .. })
    ));
}

#[test]
fn bad_validity_is_refused() {
    let ca = common::ca();
    let key = AgentKey::generate().unwrap();
    let site = common::site("s");
    let csr = key.make_csr(&site).unwrap();
    for v in [Duration::ZERO, Duration::days(-1), Duration::days(20 * 365)] {
        assert!(matches!(
            ca.sign_agent_csr(&csr, &site, v, NOW),
            Err(PkiError::InvalidValidity { .. })
        ));
    }
}

#[test]
fn controller_cert_has_server_auth_and_typed_sans() {
    let ca = common::ca();
    let sans = vec![
        "ctl.example.net".to_string(),
        "203.0.113.7".to_string(),
        "::1".to_string(),
    ];
    let issued = ca.issue_controller_cert(&sans, Duration::days(30)).unwrap();
    let (_, cert) = parse_x509_certificate(&issued.cert.cert_der).unwrap();
    assert_eq!(cert.subject().to_string(), "CN=hotspot-fleet controller");
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && !eku.client_auth);
    let names = &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert_eq!(names.len(), 3);
    assert_eq!(names[0], GeneralName::DNSName("ctl.example.net"));
    assert_eq!(names[1], GeneralName::IPAddress(&[203, 0, 113, 7]));
    assert!(matches!(names[2], GeneralName::IPAddress(b) if b.len() == 16));
    assert!(
        site_id_from_cert(&issued.cert.cert_der).is_err(),
        "controller cert names no site"
    );
    assert_eq!(issued.chain_pem.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(issued.key_pem.contains("PRIVATE KEY"));
    assert!(!format!("{issued:?}").contains("PRIVATE KEY"));

    assert!(matches!(
        ca.issue_controller_cert(&[], Duration::days(30)),
        Err(PkiError::NoSans)
    ));
    assert!(matches!(
        ca.issue_controller_cert(&["ctl:4433".to_string()], Duration::days(30)),
        Err(PkiError::InvalidSan { .. })
    ));
}
