//! The CA on disk: modes, refusal to overwrite, load round trip, and the
//! controller certificate files.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use hotspot_pki::{
    CA_CERT_FILE, CA_KEY_FILE, CONTROLLER_KEY_FILE, FleetCa, PkiError, load_controller_identity,
    site_id_from_cert, validity_of,
};
use time::{Duration, OffsetDateTime};
use x509_parser::parse_x509_certificate;

fn mode(p: &std::path::Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_private_key_and_refuses_second_init() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let ca = FleetCa::init(&dir).unwrap();

    assert_eq!(mode(&dir), 0o700);
    assert_eq!(
        mode(&dir.join(CA_KEY_FILE)) & 0o077,
        0,
        "key readable by others"
    );
    assert_eq!(mode(&dir.join(CA_KEY_FILE)) & 0o600, 0o600);
    let cert_before = fs::read(dir.join(CA_CERT_FILE)).unwrap();
    let key_before = fs::read(dir.join(CA_KEY_FILE)).unwrap();
    assert!(String::from_utf8_lossy(&key_before).contains("PRIVATE KEY"));
    assert_eq!(ca.cert_pem().as_bytes(), &cert_before[..]);

    let err = FleetCa::init(&dir).unwrap_err();
    assert!(matches!(err, PkiError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("refusing to overwrite"));
    assert_eq!(fs::read(dir.join(CA_CERT_FILE)).unwrap(), cert_before);
    assert_eq!(fs::read(dir.join(CA_KEY_FILE)).unwrap(), key_before);
}

#[test]
fn init_refuses_when_only_one_file_exists() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join(CA_KEY_FILE), b"someone's key").unwrap();
    assert!(matches!(
        FleetCa::init(tmp.path()),
        Err(PkiError::AlreadyExists { .. })
    ));
    assert_eq!(
        fs::read(tmp.path().join(CA_KEY_FILE)).unwrap(),
        b"someone's key"
    );
    assert!(!tmp.path().join(CA_CERT_FILE).exists());
}

#[test]
fn ca_certificate_is_what_we_promised() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = FleetCa::init(tmp.path()).unwrap();
    let (_, cert) = parse_x509_certificate(ca.cert_der()).unwrap();
    assert_eq!(cert.subject().to_string(), "CN=hotspot-fleet CA");
    assert_eq!(cert.subject(), cert.issuer());
    let bc = cert.basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.crl_sign());
    let (nb, na) = validity_of(ca.cert_der()).unwrap();
    assert!(na - nb > Duration::days(20 * 365));
    assert!(cert.raw_serial().len() >= 8);
    let sha = ca.fingerprint_sha256();
    assert_eq!(sha, hotspot_pki::fingerprint_sha256(ca.cert_der()));
}

#[test]
fn load_round_trip_signs_like_the_original() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = FleetCa::init(tmp.path()).unwrap();
    let loaded = FleetCa::load(tmp.path()).unwrap();
    assert_eq!(loaded.cert_der(), ca.cert_der());
    assert_eq!(loaded.fingerprint_sha256(), ca.fingerprint_sha256());

    // A certificate from the loaded CA is accepted by a verifier built from
    // the original CA certificate.
    let (_, issued) = common::agent(
        &loaded,
        "site-1",
        OffsetDateTime::now_utc(),
        Duration::days(90),
    );
    let verifier =
        hotspot_pki::FleetClientVerifier::new(ca.cert_der(), Default::default()).unwrap();
    use rustls::server::danger::ClientCertVerifier;
    verifier
        .verify_client_cert(&issued.cert_der, &[], common::unix_now())
        .unwrap();
    assert_eq!(
        site_id_from_cert(&issued.cert_der).unwrap().as_str(),
        "site-1"
    );
}

#[test]
fn load_refuses_missing_insecure_and_mismatched() {
    let tmp = tempfile::tempdir().unwrap();
    let err = FleetCa::load(tmp.path()).unwrap_err();
    assert!(matches!(err, PkiError::CaNotFound { .. }), "{err}");
    assert!(err.to_string().contains("hotspot-pki init"));

    FleetCa::init(tmp.path()).unwrap();
    let key = tmp.path().join(CA_KEY_FILE);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let err = FleetCa::load(tmp.path()).unwrap_err();
    assert!(matches!(err, PkiError::InsecureKeyFile { .. }), "{err}");
    assert!(err.to_string().contains("chmod 600"));
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();

    // Another CA's key next to this certificate.
    let other = tempfile::tempdir().unwrap();
    FleetCa::init(other.path()).unwrap();
    fs::copy(other.path().join(CA_KEY_FILE), &key).unwrap();
    let err = FleetCa::load(tmp.path()).unwrap_err();
    assert!(matches!(err, PkiError::KeyMismatch { .. }), "{err}");

    fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    assert!(matches!(
        FleetCa::load(tmp.path()),
        Err(PkiError::BadPem { .. })
    ));
}

#[test]
fn controller_cert_files_are_written_refused_and_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = FleetCa::init(tmp.path()).unwrap();
    let sans = vec!["ctl.example.net".to_string(), "203.0.113.7".to_string()];
    let issued = ca
        .issue_controller_cert(&sans, Duration::days(365))
        .unwrap();
    issued.write_to(tmp.path(), false).unwrap();
    assert_eq!(mode(&tmp.path().join(CONTROLLER_KEY_FILE)) & 0o077, 0);

    let (chain, _key) = load_controller_identity(tmp.path()).unwrap();
    assert_eq!(chain.len(), 2, "leaf then CA");
    assert_eq!(chain[0], issued.cert.cert_der);
    assert_eq!(&chain[1], ca.cert_der());

    let again = ca
        .issue_controller_cert(&sans, Duration::days(365))
        .unwrap();
    assert!(matches!(
        again.write_to(tmp.path(), false),
        Err(PkiError::AlreadyExists { .. })
    ));
    assert_eq!(
        load_controller_identity(tmp.path()).unwrap().0[0],
        issued.cert.cert_der
    );
    again.write_to(tmp.path(), true).unwrap();
    assert_eq!(
        load_controller_identity(tmp.path()).unwrap().0[0],
        again.cert.cert_der
    );
    assert_eq!(mode(&tmp.path().join(CONTROLLER_KEY_FILE)) & 0o077, 0);
}
