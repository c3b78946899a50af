//! The agent under test, with real sockets on both sides: an in-process controller end of the
//! fleet link (a `LinkServer` that records every event) and the RouterOS simulator.
//!
//! A scenario reads: start a [`Site`] (fleet CA, controller link, enrolled agent data dir,
//! simulator, router configured through `SetRouter`), send commands, and wait for the sim's
//! users and the recorded events to say what they must. Intervals are shortened through
//! [`Settings`], never by sleeping through production ones.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hotspot_agent::identity::write_enrollment;
use hotspot_agent::{AgentError, AgentHandle, Settings};
use hotspot_link::{
    ControlHooks, EnrollGrant, LinkConfig, LinkServer, PeerId, RecordingInbox, RefuseRequests,
    ServerConfig, ServerTls,
};
use hotspot_pki::tls::{certs_from_pem, private_key_from_pem};
use hotspot_pki::{
    AgentKey, DEFAULT_CONTROLLER_CERT_VALIDITY, FleetCa, Revocations, SharedRevocations, SiteId,
};
use hotspot_shared::domain::voucher::router_comment;
use hotspot_shared::domain::{Origin, PackageId, ProfileSpec, RouterId, RouterSpec, VoucherUser};
use hotspot_shared::fleet::msg::{Answer, Command, Event, Issue, MAX_VOUCHERS_PER_COMMAND, Query};
use hotspot_shared::units::RosDuration;
use hotspot_tests::sim::{self, SimConfig, SimHandle};
use time::OffsetDateTime;

pub type Server = LinkServer<Command, Event, Query, Answer>;

pub const ROUTER: RouterId = RouterId(7);
pub const PROFILE: &str = "hs-1h";

pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Polls `cond` every 25 ms until it holds; panics with `what` after `limit`.
pub async fn eventually(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The controller's side: fleet CA and the link server recording events.
pub struct Controller {
    pub server: Server,
    pub received: RecordingInbox,
    pub ca: Arc<FleetCa>,
    _db: hotspot_storage::Db,
}

impl Controller {
    pub async fn start(dir: &Path) -> Controller {
        Controller::start_with(dir, |_| ControlHooks::new()).await
    }

    /// With control hooks (an enroller, a renewer) made for the new CA.
    pub async fn start_with(
        dir: &Path,
        hooks: impl FnOnce(Arc<FleetCa>) -> ControlHooks,
    ) -> Controller {
        init();
        let (ca, _) = FleetCa::generate(OffsetDateTime::now_utc()).expect("CA");
        let cc = ca
            .issue_controller_cert(
                &["127.0.0.1".into(), "localhost".into()],
                DEFAULT_CONTROLLER_CERT_VALIDITY,
            )
            .expect("controller cert");
        let ca = Arc::new(ca);
        let hooks = hooks(ca.clone());
        let revocations: SharedRevocations = Revocations::new().into_shared();
        let tls = ServerTls {
            cert_chain: certs_from_pem("chain", &cc.chain_pem).expect("chain"),
            key: private_key_from_pem("key", &cc.key_pem).expect("key"),
            ca: ca.cert_der().clone(),
            revocations,
        };
        std::fs::create_dir_all(dir).expect("controller dir");
        let db = hotspot_storage::Db::open(dir.join("controller.redb"), Default::default())
            .expect("controller database");
        let received = RecordingInbox::new(&db, "test/events");
        let config = ServerConfig {
            link: LinkConfig::fast_for_tests(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            offline_after: Duration::from_secs(2),
            ..ServerConfig::default()
        };
        let server = Server::start(config, &db, tls, received.clone(), RefuseRequests, hooks)
            .await
            .expect("link server starts");
        Controller {
            server,
            received,
            ca,
            _db: db,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr().expect("addr")
    }

    /// Writes an enrolled agent's files into `dir`, as `hotspot-agent enroll` would.
    pub fn enroll_dir(&self, site: &SiteId, dir: &Path) {
        self.enroll_dir_at(site, dir, OffsetDateTime::now_utc());
    }

    /// As [`Controller::enroll_dir`], with a 90-day certificate valid from `not_before`.
    pub fn enroll_dir_at(&self, site: &SiteId, dir: &Path, not_before: OffsetDateTime) {
        let key = AgentKey::generate().expect("key");
        let csr = key.make_csr(site).expect("csr");
        let cert = self
            .ca
            .sign_agent_csr(&csr, site, time::Duration::days(90), not_before)
            .expect("signs");
        let grant = EnrollGrant {
            site_id: site.clone(),
            cert_chain_pem: format!("{}{}", cert.cert_pem, self.ca.cert_pem()),
            ca_pem: self.ca.cert_pem().to_string(),
        };
        write_enrollment(dir, &key, &grant).expect("enrollment files");
    }

    /// Every event recorded from `site`, in order.
    pub fn events(&self, site: &SiteId) -> Vec<Event> {
        self.received
            .messages::<Event>(&PeerId::Site(site.clone()))
            .expect("recorded events")
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    pub async fn ask(&self, site: &SiteId, query: Query) -> Answer {
        self.server
            .request(site, query, Duration::from_secs(20))
            .await
            .expect("the agent answers")
    }
}

/// Settings for tests: fast link, short retries, jobs only when asked (unless changed).
pub fn settings(dir: &Path, controller: SocketAddr) -> Settings {
    let mut s = Settings::new(dir, controller, "localhost");
    s.client.link = LinkConfig::fast_for_tests();
    s.client.backoff_base = Duration::from_millis(50);
    s.client.backoff_cap = Duration::from_millis(400);
    s.client.stable_after = Duration::from_secs(1);
    s.jobs.usage_sync = Duration::from_secs(3600);
    s.jobs.health = Duration::from_secs(3600);
    s.jobs.router_probe = Duration::from_secs(3600);
    s.apply.retry_min = Duration::from_millis(100);
    s.apply.retry_max = Duration::from_millis(500);
    s.apply.poll = Duration::from_secs(1);
    s.router.connect_timeout = Duration::from_secs(2);
    s.router.command_timeout = Duration::from_secs(5);
    s
}

/// Starts an agent, waiting for a previous one's database handle to be released.
pub async fn start_agent(settings: Settings) -> AgentHandle {
    let start = Instant::now();
    loop {
        match AgentHandle::start(settings.clone()).await {
            Ok(agent) => return agent,
            Err(AgentError::Database { .. }) if start.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("agent does not start: {e}"),
        }
    }
}

/// How the agent reaches `sim`, with `password`.
pub fn spec_for(sim: &SimHandle, password: &str) -> RouterSpec {
    let addr = sim.api_addr();
    RouterSpec {
        id: ROUTER,
        name: "test router".into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        username: "admin".into(),
        password: password.into(),
        tls: None,
    }
}

pub fn profile() -> ProfileSpec {
    ProfileSpec {
        name: PROFILE.into(),
        rate_limit: Some("2M/5M".into()),
        shared_users: Some(1),
    }
}

/// The ledger's facts of a test sale: package 1, staff 1, 1.00 USD, now, central.
pub fn issue() -> Issue {
    Issue {
        package: PackageId(1),
        package_name: "test package".into(),
        staff: hotspot_shared::domain::StaffId(1),
        price: hotspot_shared::domain::Money::new(
            100,
            hotspot_shared::domain::Currency::new("USD").expect("a currency"),
        ),
        issued_at: OffsetDateTime::now_utc().unix_timestamp(),
        origin: Origin::Central,
    }
}

/// `n` vouchers `{prefix}00000…`, one hour each, tied to package 1.
pub fn vouchers(prefix: &str, n: usize) -> Vec<VoucherUser> {
    (0..n)
        .map(|i| VoucherUser {
            code: format!("{prefix}{i:05}"),
            password: format!("pw{i}"),
            profile: PROFILE.into(),
            limit_uptime: Some(RosDuration::from_secs(3600)),
            limit_bytes_total: None,
            validity: None,
            comment: router_comment(PackageId(1), Origin::Central),
        })
        .collect()
}

/// One site: the controller, an enrolled agent, a simulated router it serves.
pub struct Site {
    pub controller: Controller,
    pub site: SiteId,
    pub sim: SimHandle,
    pub agent: Option<AgentHandle>,
    pub data_dir: PathBuf,
    pub settings: Settings,
    pub router_password: String,
    _dir: tempfile::TempDir,
}

impl Site {
    /// Everything up, the router configured (`SetRouter` answered `Stored`).
    pub async fn start(sim_config: SimConfig, tweak: impl FnOnce(&mut Settings)) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let controller = Controller::start(&dir.path().join("controller")).await;
        let site: SiteId = "site-test".parse().expect("site id");
        let data_dir = dir.path().join("agent");
        controller.enroll_dir(&site, &data_dir);
        let router_password = sim_config.password.clone();
        let sim = sim::start(sim_config).await.expect("simulator");
        let mut settings = settings(&data_dir, controller.addr());
        tweak(&mut settings);
        let agent = start_agent(settings.clone()).await;
        let mut s = Site {
            controller,
            site,
            sim,
            agent: Some(agent),
            data_dir,
            settings,
            router_password,
            _dir: dir,
        };
        s.wait_connected().await;
        let answer = s
            .ask(Query::SetRouter(spec_for(&s.sim, &s.router_password)))
            .await;
        assert_eq!(answer, Answer::Stored);
        s
    }

    pub async fn wait_connected(&mut self) {
        let (server, site) = (&self.controller.server, &self.site);
        eventually("the agent connects", Duration::from_secs(15), || {
            server.connected_sites().contains(site)
        })
        .await;
    }

    pub async fn ask(&self, query: Query) -> Answer {
        self.controller.ask(&self.site, query).await
    }

    pub fn events(&self) -> Vec<Event> {
        self.controller.events(&self.site)
    }

    /// Sends `CreateVouchers` commands of at most `MAX_VOUCHERS_PER_COMMAND` each.
    pub async fn create(&self, vouchers: &[VoucherUser]) {
        let commands: Vec<Command> = vouchers
            .chunks(MAX_VOUCHERS_PER_COMMAND)
            .map(|chunk| Command::CreateVouchers {
                router: ROUTER,
                profile: profile(),
                issue: issue(),
                vouchers: chunk.to_vec(),
            })
            .collect();
        self.send(&commands).await;
    }

    pub async fn send(&self, commands: &[Command]) {
        self.controller
            .server
            .send_batch(&self.site, commands)
            .await
            .expect("commands queued");
    }

    /// Codes with an `Applied` event (with repeats).
    pub fn applied(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Applied { code, .. } => Some(code),
                _ => None,
            })
            .collect()
    }

    /// Stops the agent gracefully.
    pub async fn stop_agent(&mut self) {
        if let Some(agent) = self.agent.take() {
            agent.shutdown().await.expect("agent stops");
        }
    }

    pub async fn restart_agent(&mut self) {
        self.agent = Some(start_agent(self.settings.clone()).await);
        self.wait_connected().await;
    }

    pub async fn shutdown(mut self) {
        self.stop_agent().await;
        self.controller
            .server
            .shutdown()
            .await
            .expect("server stops");
        self.sim.shutdown().await;
    }
}
