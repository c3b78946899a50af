//! The agent's RouterOS client logging in, and failing to, against the simulator over real
//! loopback sockets: each way a connection can fail must come back as its own error kind.

use std::time::Duration;

use hotspot_agent::routeros::{Connection, ReconnectPolicy, Router, RouterConfig, RouterError};
use hotspot_tests::sim::{self, SimConfig, SimHandle};

fn config_for(sim: &SimHandle, password: &str) -> RouterConfig {
    let addr = sim.api_addr();
    let mut cfg = RouterConfig::plain(addr.ip().to_string(), addr.port(), "admin", password);
    cfg.reconnect = ReconnectPolicy::no_retry();
    cfg
}

async fn sim_at(version: &str) -> SimHandle {
    let cfg = SimConfig {
        ros_version: version.parse().expect("version"),
        ..SimConfig::local()
    };
    sim::start(cfg).await.expect("simulator starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_login_on_7_16() {
    let sim = sim_at("7.16").await;
    let conn = Connection::connect(&config_for(&sim, "sim-password"))
        .await
        .expect("logged in");
    let router = Router::new(config_for(&sim, "sim-password"));
    assert_eq!(router.identity().await.expect("identity"), "sim-router");
    assert!(!conn.is_dead());
    conn.close().await;
    assert!(conn.is_dead());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_md5_login_on_6_40() {
    let sim = sim_at("6.40").await;
    let router = Router::new(config_for(&sim, "sim-password"));
    let resource = router
        .system_resource()
        .await
        .expect("logged in with the MD5 challenge");
    assert!(resource.version.starts_with("6.40"), "{}", resource.version);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_password_is_bad_credentials_on_both_login_methods() {
    for version in ["7.16", "6.40"] {
        let sim = sim_at(version).await;
        let err = Connection::connect(&config_for(&sim, "not-the-password"))
            .await
            .expect_err("refused");
        assert_eq!(err, RouterError::BadCredentials, "RouterOS {version}");
        assert!(!err.is_transient());
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_fault_is_bad_credentials_and_not_retried() {
    let sim = sim_at("7.16").await;
    sim.set_refuse_logins(true);
    let mut cfg = config_for(&sim, "sim-password");
    cfg.reconnect = ReconnectPolicy {
        base: Duration::from_millis(50),
        cap: Duration::from_secs(1),
        max_attempts: 5,
    };
    let router = Router::new(cfg);
    let before = sim.commands_served();
    assert_eq!(router.identity().await, Err(RouterError::BadCredentials));
    // One /login, no blind retries of a credential failure.
    assert_eq!(sim.commands_served() - before, 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_refused() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let cfg = RouterConfig::plain("127.0.0.1", port, "admin", "x");
    let err = Connection::connect(&cfg)
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, RouterError::Refused(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_listener_is_a_login_timeout() {
    // Accepts and holds connections, never says a word: a wedged API service.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let mut cfg = RouterConfig::plain("127.0.0.1", port, "admin", "x");
    cfg.command_timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let err = Connection::connect(&cfg).await.expect_err("no answer");
    assert!(
        matches!(&err, RouterError::Timeout { what } if what.contains("login")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    holder.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_never_show_the_password() {
    let sim = sim_at("7.16").await;
    let cfg = config_for(&sim, "very-secret-pw-123");
    assert!(!format!("{cfg:?}").contains("very-secret"));
    let err = Connection::connect(&cfg).await.expect_err("refused");
    assert!(!format!("{err:?} {err}").contains("very-secret"));
    sim.shutdown().await;
}
