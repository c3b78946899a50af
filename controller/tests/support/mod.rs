//! The API test harness: the controller's real HTTP application served on a loopback socket
//! (`axum::serve` with client addresses), over a real ledger (a database file in a temp dir)
//! and a real fleet link on `127.0.0.1:0` (QUIC with mutual TLS), with fake agents
//! ([`agent`]) that answer commands with events through the link and the ledger's inbound
//! handler.
//!
//! The ledger starts with sites `s1` (routers 1, 2) and `s2` (router 3), one package
//! ("1 hour", 1.00 USD), a super admin `admin` and staff `alice` (router 1) and `bob`
//! (routers 1 and 2); every password is [`password`]`(name)`.

#![allow(dead_code)]

pub mod agent;
pub mod http;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hotspot_controller::api;
use hotspot_controller::app::{AppInner, AppState, Fleet, system_clock};
use hotspot_controller::auth::password::{PasswordHasher, PasswordParams};
use hotspot_controller::auth::throttle::LoginThrottle;
use hotspot_controller::config::Config;
use hotspot_controller::metrics::Metrics;
use hotspot_controller::store::{EmbeddedStore, NewRouter, NewStaff, Role, Stamp, Store};
use hotspot_link::{ControlHooks, LinkConfig, RefuseRequests, ServerConfig, ServerTls};
use hotspot_pki::tls::{certs_from_pem, private_key_from_pem};
use hotspot_pki::{DEFAULT_CONTROLLER_CERT_VALIDITY, FleetCa, Revocations, SiteId};
use hotspot_shared::domain::{Currency, Money, Package, PackageId, RouterId};
use hotspot_shared::secretbox::{KeyId, Keyring, MasterKey};
use hotspot_shared::units::RosDuration;
use serde_json::{Value, json};
use time::OffsetDateTime;

pub use agent::FakeAgent;
pub use http::{Client, Reply};

/// Every account's password in the harness.
pub fn password(user: &str) -> String {
    format!("{user}-secret-passw0rd")
}

pub fn site(s: &str) -> SiteId {
    SiteId::new(s).expect("valid site id")
}

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub db_path: PathBuf,
    pub state: AppState,
    pub ledger: EmbeddedStore,
    pub api: Client,
    pub ca: Arc<FleetCa>,
    pub fleet_addr: SocketAddr,
    /// Seconds added to the wall clock the application reads (sessions, stamps).
    pub skew: Arc<AtomicI64>,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn start() -> TestApp {
        TestApp::start_with(|_| {}).await
    }

    /// Starts with the default config changed by `tweak` (confirm wait 3 s before it).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::start_full(tweak, |_| {}).await
    }

    /// Also changes the fleet link's settings with `link`.
    pub async fn start_full(
        tweak: impl FnOnce(&mut Config),
        link: impl FnOnce(&mut ServerConfig),
    ) -> TestApp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("ledger.redb");
        let ledger = EmbeddedStore::open(&db_path).expect("ledger opens");
        let (ca, _) = FleetCa::generate(OffsetDateTime::now_utc()).expect("CA");
        let cc = ca
            .issue_controller_cert(
                &["localhost".into(), "127.0.0.1".into()],
                DEFAULT_CONTROLLER_CERT_VALIDITY,
            )
            .expect("controller cert");
        let tls = ServerTls {
            cert_chain: certs_from_pem("chain", &cc.chain_pem).expect("chain"),
            key: private_key_from_pem("key", &cc.key_pem).expect("key"),
            ca: ca.cert_der().clone(),
            revocations: Revocations::new().into_shared(),
        };
        let mut link_config = ServerConfig {
            link: LinkConfig::fast_for_tests(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            offline_after: Duration::from_secs(5),
            ..ServerConfig::default()
        };
        link(&mut link_config);
        let fleet = Fleet::start(
            link_config,
            ledger.db(),
            tls,
            ledger.inbound(),
            RefuseRequests,
            ControlHooks::new(),
        )
        .await
        .expect("fleet link starts");
        let fleet_addr = fleet.local_addr().expect("fleet address");
        let mut config = Config::default();
        config.vouchers.confirm_wait_ms = 3000;
        // Tests sign in as super admins with a password; the 2FA tests turn this back on.
        config.auth.require_2fa_for_admins = false;
        tweak(&mut config);
        let skew = Arc::new(AtomicI64::new(0));
        let throttle = LoginThrottle::new(config.auth.throttle.throttle_config());
        let state = AppState(Arc::new(AppInner {
            config,
            store: Arc::new(ledger.clone()),
            keyring: Arc::new(Keyring::new(MasterKey::from_bytes(KeyId(1), [7; 32]))),
            fleet,
            hasher: PasswordHasher::new(PasswordParams::FAST_INSECURE).expect("hasher"),
            throttle: Mutex::new(throttle),
            sign_in_tickets: Mutex::default(),
            metrics: Metrics::new(),
            clock: {
                let (wall, skew) = (system_clock(), skew.clone());
                Arc::new(move || wall() + skew.load(Ordering::Relaxed))
            },
        }));
        populate(&state).await;
        let app = api::router(state.clone()).expect("router builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            axum::serve(listener, service).await.expect("serves");
        });
        TestApp {
            dir,
            db_path,
            state,
            ledger,
            api: Client { addr },
            ca: Arc::new(ca),
            fleet_addr,
            skew,
            server,
        }
    }

    /// The application's clock (Unix seconds).
    pub fn now(&self) -> i64 {
        OffsetDateTime::now_utc().unix_timestamp() + self.skew.load(Ordering::Relaxed)
    }

    /// Moves the application's clock `secs` forward.
    pub fn advance(&self, secs: i64) {
        self.skew.fetch_add(secs, Ordering::Relaxed);
    }

    /// A bearer token for `user`.
    pub async fn login(&self, user: &str) -> String {
        let body = json!({"username": user, "password": password(user)});
        let r = self
            .api
            .send("POST", "/api/auth/login", &[], Some(&body))
            .await;
        assert_eq!(r.status, 200, "login of {user}: {:?}", r.json());
        r.json()["token"].as_str().expect("token").to_owned()
    }

    /// A fake agent for `site`, connected and seen online by the controller.
    pub async fn agent(&self, site_id: &str) -> FakeAgent {
        let agent = FakeAgent::start(&self.ca, &site(site_id), self.fleet_addr).await;
        let online = eventually(Duration::from_secs(10), || {
            self.state
                .fleet
                .site_status(&site(site_id))
                .is_ok_and(|s| s.online)
        })
        .await;
        assert!(online, "site {site_id} never came online");
        agent
    }

    /// The ledger as a crash right now would leave it: its file copied as it is (no barrier
    /// first) and opened as a second ledger. The file's header names the last durable commit
    /// only, so the copy holds what a barrier covered and nothing committed since.
    pub fn ledger_as_on_disk(&self) -> (tempfile::TempDir, EmbeddedStore) {
        let copy = tempfile::tempdir().expect("temp dir");
        let path = copy.path().join("ledger.redb");
        std::fs::copy(&self.db_path, &path).expect("copy");
        let store = EmbeddedStore::open(&path).expect("copy opens");
        (copy, store)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn populate(state: &AppState) {
    let by = Stamp::system(state.now());
    let store = &state.store;
    for s in ["s1", "s2"] {
        let w = store.create_site(site(s), s, &by).expect("site");
        w.durable().await.expect("durable");
    }
    for (s, name) in [("s1", "gw-a"), ("s1", "gw-b"), ("s2", "gw-c")] {
        let new = NewRouter {
            site: site(s),
            name: name.into(),
            location: "front desk".into(),
            host: "192.0.2.1".into(),
            port: 8728,
            username: "api".into(),
            password: "router-secret".into(),
            tls: None,
        };
        let w = store
            .create_router(new, &state.keyring, &by)
            .expect("router");
        w.durable().await.expect("durable");
    }
    let package = Package {
        id: PackageId(0),
        name: "1 hour".into(),
        price: Money::new(100, Currency::new("USD").expect("currency")),
        time_limit: Some(RosDuration::from_secs(3600)),
        data_limit: None,
        validity: Some(RosDuration::from_secs(86_400)),
        rate_limit: Some("2M/5M".into()),
        shared_users: 1,
        profile: "hf-1-hour".into(),
    };
    let w = store.create_package(package, &by).expect("package");
    w.durable().await.expect("durable");
    for (name, role, routers) in [
        ("admin", Role::SuperAdmin, vec![]),
        ("alice", Role::Staff, vec![RouterId(1)]),
        ("bob", Role::Staff, vec![RouterId(1), RouterId(2)]),
    ] {
        let new = NewStaff {
            username: name.into(),
            password_hash: state.hasher.hash(&password(name)).expect("hash"),
            role,
            routers,
        };
        let w = store.create_staff(new, &by).expect("staff");
        w.durable().await.expect("durable");
    }
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

/// `POST /api/tokens/generate` as `token`.
pub async fn generate(app: &TestApp, token: &str, body: Value) -> Reply {
    app.api.post("/api/tokens/generate", token, &body).await
}

/// The `vouchers` of a generate answer.
pub fn vouchers(r: &Reply) -> Vec<Value> {
    r.json()["vouchers"].as_array().expect("vouchers").clone()
}

pub fn codes(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|v| v["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Every code answered is in the ledger as a crash now would leave it.
pub fn assert_durable(app: &TestApp, codes: &[String]) {
    let (_dir, copy) = app.ledger_as_on_disk();
    for c in codes {
        assert!(copy.voucher(c).unwrap().is_some(), "{c} not on disk");
    }
}
