//! The harness of the fleet and jobs tests: a controller assembled the way `serve` does it —
//! certificates bootstrapped into a temp data directory, the ledger in its database file there
//! (`cli::db_path`), the fleet endpoint
//! from `fleet::start_with` (enrollment, renewal, revocations, the ledger's inbound handler) on
//! `127.0.0.1:0`, the presence follower, and the real HTTP application on a loopback socket —
//! with a clock the test can move ([`TestClock`]) and a super admin signed in over HTTP.

#![allow(dead_code)]

pub mod agent;
pub mod http;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hotspot_controller::api;
use hotspot_controller::app::{AppInner, AppState, Clock, Fleet};
use hotspot_controller::auth::password::{PasswordHasher, PasswordParams};
use hotspot_controller::auth::throttle::LoginThrottle;
use hotspot_controller::config::Config;
use hotspot_controller::fleet::{self, Presence, pki};
use hotspot_controller::metrics::Metrics;
use hotspot_controller::store::{EmbeddedStore, NewStaff, Role, Stamp, Store};
use hotspot_link::{LinkConfig, ServerConfig};
use hotspot_pki::{FleetCa, SiteId};
use hotspot_shared::secretbox::{KeyId, Keyring, MasterKey};
use serde_json::json;

pub use agent::FakeAgent;
pub use http::Http;

pub const ADMIN_PASSWORD: &str = "admin-secret-passw0rd";

pub fn site(s: &str) -> SiteId {
    SiteId::new(s).expect("site id")
}

/// Real time plus an offset the test moves.
#[derive(Clone, Default)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    pub fn clock(&self) -> Clock {
        let offset = self.0.clone();
        Arc::new(move || {
            time::OffsetDateTime::now_utc().unix_timestamp() + offset.load(Ordering::SeqCst)
        })
    }
}

pub struct Controller {
    pub dir: tempfile::TempDir,
    pub store: EmbeddedStore,
    pub state: AppState,
    pub fleet: Fleet,
    pub fleet_addr: SocketAddr,
    pub ca: FleetCa,
    pub presence: Presence,
    pub clock: TestClock,
    /// Signed in as the super admin.
    pub http: Http,
    server: tokio::task::JoinHandle<()>,
    follower: tokio::task::JoinHandle<()>,
}

impl Controller {
    pub async fn start() -> Controller {
        Controller::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Controller {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        config.fleet.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.fleet.server_name = "localhost".into();
        config.auth.require_2fa_for_admins = false;
        tweak(&mut config);
        pki::bootstrap(&config).expect("certificates");
        let store =
            EmbeddedStore::open(hotspot_controller::cli::db_path(dir.path())).expect("ledger");
        let clock = TestClock::default();
        let link = ServerConfig {
            link: LinkConfig::fast_for_tests(),
            offline_after: Duration::from_secs(2),
            ..fleet::server_config(&config)
        };
        let fleet = fleet::start_with(&config, link, &store, clock.clock())
            .await
            .expect("fleet starts");
        let fleet_addr = fleet.local_addr().expect("fleet address");
        let ca = pki::load_ca(&config).expect("CA");
        let state = AppState(Arc::new(AppInner {
            throttle: Mutex::new(LoginThrottle::new(config.auth.throttle.throttle_config())),
            sign_in_tickets: Mutex::default(),
            config,
            store: Arc::new(store.clone()),
            keyring: Arc::new(Keyring::new(MasterKey::from_bytes(KeyId(1), [9; 32]))),
            fleet: fleet.clone(),
            hasher: PasswordHasher::new(PasswordParams::FAST_INSECURE).expect("hasher"),
            metrics: Metrics::new(),
            clock: clock.clock(),
        }));
        let presence = Presence::new();
        let follower = presence.spawn(state.clone());
        let hash = state.hasher.hash(ADMIN_PASSWORD).expect("hash");
        let admin = NewStaff {
            username: "admin".into(),
            password_hash: hash,
            role: Role::SuperAdmin,
            routers: vec![],
        };
        store
            .create_staff(admin, &Stamp::system(0))
            .expect("admin")
            .durable()
            .await
            .expect("durable");
        let app = api::router(state.clone()).expect("router");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service).await.expect("serves");
        });
        let mut http = Http { addr, bearer: None };
        let login = http
            .post(
                "/api/auth/login",
                json!({"username": "admin", "password": ADMIN_PASSWORD}),
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.text());
        http.bearer = Some(login.json()["token"].as_str().expect("token").to_owned());
        Controller {
            dir,
            store,
            state,
            fleet,
            fleet_addr,
            ca,
            presence,
            clock,
            http,
            server,
            follower,
        }
    }

    /// Creates a site through the API.
    pub async fn add_site(&self, id: &str) {
        let r = self
            .http
            .post(
                "/api/sites",
                json!({"id": id, "name": format!("Site {id}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }

    /// A fake agent for `id`, seen online by the controller.
    pub async fn agent(&self, id: &str) -> FakeAgent {
        let agent = FakeAgent::start(&self.ca, &site(id), self.fleet_addr).await;
        self.wait_online(id, true).await;
        agent
    }

    pub async fn wait_online(&self, id: &str, online: bool) {
        let s = site(id);
        let ok = eventually(Duration::from_secs(10), || {
            self.fleet
                .site_status(&s)
                .is_ok_and(|st| st.online == online)
        })
        .await;
        assert!(ok, "site {id} online = {online} within 10 s");
    }

    pub async fn stop(self) {
        self.server.abort();
        self.follower.abort();
        self.fleet.shutdown().await.expect("fleet stops");
    }
}

/// Polls `cond` every 20 ms until it holds or `limit` passes.
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

/// Whether any file under `dir` contains `needle`.
pub fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            files_contain(&path, needle)
        } else {
            std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
        }
    })
}
