//! API-SSL: the right pin and the sim's own certificate as CA are accepted; a wrong pin is its
//! own error, distinct from other TLS failures.

use std::net::SocketAddr;

use hotspot_agent::routeros::{
    Connection, Router, RouterConfig, RouterError, TlsTrust, cert_fingerprint,
};
use hotspot_tests::sim::{self, SimConfig, SimHandle};
use rustls_pki_types::CertificateDer;

async fn tls_sim() -> (SimHandle, SocketAddr) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = SimConfig {
        api_ssl: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..SimConfig::local()
    };
    let sim = sim::start(cfg).await.expect("simulator");
    let addr = sim.api_ssl_addr().expect("API-SSL listener");
    (sim, addr)
}

fn tls_config(addr: SocketAddr, trust: TlsTrust) -> RouterConfig {
    RouterConfig::tls(
        addr.ip().to_string(),
        addr.port(),
        "admin",
        "sim-password",
        trust,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_pin_connects() {
    let (sim, addr) = tls_sim().await;
    let pin = sim.cert_sha256().expect("pin");
    let cert = CertificateDer::from(sim.cert_der().expect("cert"));
    assert_eq!(cert_fingerprint(&cert), pin);
    let router = Router::new(tls_config(addr, TlsTrust::Pin(pin)));
    assert_eq!(
        router.identity().await.expect("identity over TLS"),
        "sim-router"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pin_is_pin_mismatch() {
    let (sim, addr) = tls_sim().await;
    let real = sim.cert_sha256().expect("pin");
    let mut wrong = real;
    wrong[0] ^= 0xff;
    let err = Connection::connect(&tls_config(addr, TlsTrust::Pin(wrong)))
        .await
        .expect_err("must refuse");
    assert_eq!(
        err,
        RouterError::PinMismatch {
            expected: hex::encode(wrong),
            got: hex::encode(real)
        }
    );
    assert!(!err.is_transient());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sims_certificate_as_ca_connects() {
    let (sim, addr) = tls_sim().await;
    let cert = CertificateDer::from(sim.cert_der().expect("cert"));
    let router = Router::new(tls_config(addr, TlsTrust::Ca(vec![cert])));
    let res = router.system_resource().await.expect("verified by webpki");
    assert!(res.version.starts_with("7.16"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_ca_is_a_tls_error_not_a_pin_mismatch() {
    let (sim, addr) = tls_sim().await;
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("cert");
    let trust = TlsTrust::Ca(vec![other.cert.der().clone()]);
    let err = Connection::connect(&tls_config(addr, trust))
        .await
        .expect_err("untrusted");
    assert!(matches!(err, RouterError::Tls(_)), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_client_on_the_tls_port_fails_cleanly() {
    let (sim, addr) = tls_sim().await;
    let mut cfg = RouterConfig::plain(addr.ip().to_string(), addr.port(), "admin", "sim-password");
    cfg.command_timeout = std::time::Duration::from_secs(2);
    let err = Connection::connect(&cfg)
        .await
        .expect_err("no API without TLS");
    assert!(
        err.is_transient() || matches!(err, RouterError::Protocol(_)),
        "{err:?}"
    );
    sim.shutdown().await;
}
