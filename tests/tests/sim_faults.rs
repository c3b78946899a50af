//! The simulator's other faces: API-SSL, and injected faults (refused logins, dropped
//! connections, latency, reboot and reset). Waits are generous polls, never tight timing
//! assertions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hotspot_shared::routeros::{ReplyKind, Request};
use hotspot_tests::sim::testing::{RawClient, kinds, logged_in};
use hotspot_tests::sim::{NewUser, SimConfig, start};
use sha2::{Digest as _, Sha256};
use tokio::net::TcpStream;

#[tokio::test]
async fn api_ssl_handshake_with_a_client_that_trusts_the_certificate() {
    let cfg = SimConfig {
        api_ssl: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..SimConfig::local()
    };
    let h = start(cfg).await.expect("starts");
    let der = h.cert_der().expect("a certificate");
    let pin = h.cert_sha256().expect("a pin");
    assert_eq!(
        <[u8; 32]>::from(Sha256::digest(&der)),
        pin,
        "the pin is SHA-256 of the DER"
    );

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(der.clone()))
        .expect("trusted");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    for name in ["localhost", "127.0.0.1"] {
        let tcp = TcpStream::connect(h.api_ssl_addr().expect("ssl listener"))
            .await
            .expect("connects");
        let server_name = rustls_pki_types::ServerName::try_from(name.to_owned()).expect("name");
        let tls = connector
            .connect(server_name, tcp)
            .await
            .expect("handshake");
        let presented = tls.get_ref().1.peer_certificates().expect("certificate")[0]
            .as_ref()
            .to_vec();
        assert_eq!(presented, der);
        let mut c = RawClient::new(tls);
        let r = c.login("admin", "sim-password").await.expect("answered");
        assert_eq!(kinds(&r), [ReplyKind::Done]);
        let r = c
            .call(&Request::new("/system/identity/print"))
            .await
            .expect("answered");
        assert_eq!(kinds(&r), [ReplyKind::Re, ReplyKind::Done]);
    }
    h.shutdown().await;
}

#[tokio::test]
async fn refused_logins_drop_after_and_latency() {
    let h = start(SimConfig::local()).await.expect("starts");
    h.set_refuse_logins(true);
    let mut c = RawClient::connect(h.api_addr()).await.expect("connects");
    let r = c.login("admin", "sim-password").await.expect("answered");
    assert_eq!(
        r[0].message().as_deref(),
        Some("invalid user name or password (6)")
    );
    h.set_refuse_logins(false);
    assert_eq!(
        kinds(&c.login("admin", "sim-password").await.expect("answered")),
        [ReplyKind::Done]
    );

    // drop-after 3: login + 2 commands are answered, then the connection closes.
    h.set_drop_after(Some(3));
    let mut c = RawClient::connect(h.api_addr()).await.expect("connects");
    c.login("admin", "sim-password").await.expect("answered");
    for i in 0..4 {
        c.send(&Request::new("/system/identity/print").with_tag(i.to_string()))
            .await
            .ok();
    }
    let mut answered = Vec::new();
    while let Ok(Some(r)) = c.read_reply().await {
        if r.kind == ReplyKind::Done {
            answered.push(r.tag.expect("tagged"));
        }
    }
    assert_eq!(
        answered,
        [b"0".to_vec(), b"1".to_vec()],
        "two commands after login, then closed"
    );
    h.set_drop_after(None);

    // Latency delays replies but not the commands behind them: 10 pipelined commands with
    // 300 ms latency take far less than 10 × 300 ms.
    h.set_latency(Duration::from_millis(300));
    let mut c = logged_in(h.api_addr()).await;
    let t = Instant::now();
    for i in 0..10 {
        c.send(&Request::new("/system/identity/print").with_tag(i.to_string()))
            .await
            .expect("sent");
    }
    let mut done = 0;
    while done < 10 {
        if c.read_reply().await.expect("read").expect("reply").kind == ReplyKind::Done {
            done += 1;
        }
    }
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "latency applied: {took:?}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "latency does not serialise commands: {took:?}"
    );
    h.clear_faults();
    assert!(h.commands_served() > 10);
    h.shutdown().await;
}

#[tokio::test]
async fn reboot_keeps_users_and_reset_removes_them() {
    let h = start(SimConfig::local()).await.expect("starts");
    h.add_user_direct(NewUser::new("KEEP", "pw"))
        .expect("added");
    h.login_customer("KEEP").expect("customer logs in");
    let mut c = logged_in(h.api_addr()).await;

    h.reboot(Duration::from_millis(500));
    assert!(
        c.read_reply().await.map_or(true, |r| r.is_none()),
        "API session closed by the reboot"
    );
    assert!(h.active().is_empty(), "hotspot sessions end with a reboot");
    // During the downtime connections are dropped at once.
    let mut early = RawClient::connect(h.api_addr())
        .await
        .expect("TCP still accepts");
    let r = early.login("admin", "sim-password").await;
    assert!(
        r.map_or(true, |r| r.is_empty()),
        "no answer while rebooting"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut c = logged_in(h.api_addr()).await;
    let r = c
        .call(&Request::new("/ip/hotspot/user/print").query("name=KEEP"))
        .await
        .expect("print");
    assert_eq!(
        kinds(&r),
        [ReplyKind::Re, ReplyKind::Done],
        "users survive a reboot"
    );
    let r = c
        .call(&Request::new("/system/resource/print"))
        .await
        .expect("print");
    assert_eq!(
        r[0].attrs.get_str("uptime").as_deref(),
        Some("0s"),
        "uptime restarted"
    );

    h.reset();
    assert!(
        c.read_reply().await.map_or(true, |r| r.is_none()),
        "API session closed by the reset"
    );
    assert_eq!(h.user_count(), 0);
    let mut c = logged_in(h.api_addr()).await;
    let r = c
        .call(&Request::new("/ip/hotspot/user/add").attr("name", "NEW"))
        .await
        .expect("add");
    assert_eq!(
        r[0].attrs.get_str("ret").as_deref(),
        Some("*2"),
        "ids are not reused after a reset"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn service_time_is_one_cpu_shared_by_all_sessions() {
    let h = start(SimConfig::local()).await.expect("starts");
    let mut a = logged_in(h.api_addr()).await;
    let mut b = logged_in(h.api_addr()).await;
    h.set_service_time(Duration::from_millis(40));
    let t = Instant::now();
    for c in [&mut a, &mut b] {
        for i in 0..5 {
            c.send(&Request::new("/system/identity/print").with_tag(i.to_string()))
                .await
                .expect("sent");
        }
    }
    for c in [&mut a, &mut b] {
        let mut done = 0;
        while done < 5 {
            if c.read_reply().await.expect("read").expect("reply").kind == ReplyKind::Done {
                done += 1;
            }
        }
    }
    // Ten commands on two sessions cannot overlap on one CPU: at least 10 × 40 ms.
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(400), "serialised: {took:?}");
    h.shutdown().await;
}
