//! A site whose link to the controller runs through the link-fault proxy (so tests can cut
//! it), with the agent's local staff page on loopback, a package catalogue, a staff
//! directory and a code grant already delivered. Built from the agent harness's pieces.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hotspot_agent::config::LocalSettings;
use hotspot_agent::{AgentHandle, Settings};
use hotspot_controller::auth::password::{PasswordHasher, PasswordParams};
use hotspot_pki::SiteId;
use hotspot_shared::domain::{Currency, Money, Package, PackageId, StaffId};
use hotspot_shared::fleet::msg::{Answer, Command, Event, Query, StaffEntry};
use hotspot_shared::units::RosDuration;
use hotspot_tests::linkfault::LinkFaultProxy;
use hotspot_tests::local_staff::LocalStaff;
use hotspot_tests::sim::{self, SimConfig, SimHandle};

use crate::agent_harness::{Controller, ROUTER, eventually, settings, spec_for, start_agent};

pub const PACKAGE: PackageId = PackageId(1);
pub const PRICE_MINOR: i64 = 250;
pub const PREFIX: &str = "TST";
pub const ANA: StaffId = StaffId(11);
pub const BOB: StaffId = StaffId(12);
pub const PASSWORD: &str = "correct horse battery";

pub fn package() -> Package {
    Package {
        id: PACKAGE,
        name: "1 hour".into(),
        price: Money::new(PRICE_MINOR, Currency::new("USD").expect("currency")),
        time_limit: Some(RosDuration::from_secs(3600)),
        data_limit: None,
        validity: None,
        rate_limit: Some("2M/5M".into()),
        shared_users: 1,
        profile: "hs-1h".into(),
    }
}

/// Ana sells on the router; Bob is assigned to another router only.
pub fn staff(bob_disabled: bool) -> Vec<StaffEntry> {
    let hasher = PasswordHasher::new(PasswordParams::FAST_INSECURE).expect("hasher");
    let hash = hasher.hash(PASSWORD).expect("hash");
    vec![
        StaffEntry {
            id: ANA,
            username: "ana".into(),
            password_hash: hash.clone(),
            routers: vec![ROUTER],
            disabled: false,
        },
        StaffEntry {
            id: BOB,
            username: "bob".into(),
            password_hash: hash,
            routers: vec![ROUTER],
            disabled: bob_disabled,
        },
    ]
}

pub fn directory(budget: u64) -> Vec<Command> {
    vec![
        Command::Catalogue {
            packages: vec![package()],
        },
        Command::StaffDirectory {
            staff: staff(false),
        },
        Command::CodeGrant {
            prefix: PREFIX.into(),
            budget,
        },
    ]
}

pub struct LocalSite {
    pub controller: Controller,
    pub proxy: LinkFaultProxy,
    pub site: SiteId,
    pub sim: SimHandle,
    pub agent: Option<AgentHandle>,
    pub settings: Settings,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl LocalSite {
    /// Everything up and connected, router stored, directory with `budget` delivered.
    pub async fn start(budget: u64, tweak: impl FnOnce(&mut Settings)) -> LocalSite {
        LocalSite::start_in(budget, None, tweak).await
    }

    /// As [`LocalSite::start`], with the agent's data dir at `data_dir` (a small file system,
    /// for example).
    pub async fn start_in(
        budget: u64,
        data_dir: Option<PathBuf>,
        tweak: impl FnOnce(&mut Settings),
    ) -> LocalSite {
        let dir = tempfile::tempdir().expect("tempdir");
        let controller = Controller::start(&dir.path().join("controller")).await;
        let proxy = LinkFaultProxy::start(SocketAddr::from(([127, 0, 0, 1], 0)), controller.addr())
            .await
            .expect("proxy");
        let site: SiteId = "site-local".parse().expect("site id");
        let data_dir = data_dir.unwrap_or_else(|| dir.path().join("agent"));
        controller.enroll_dir(&site, &data_dir);
        let sim_config = SimConfig::local();
        let sim = sim::start(sim_config.clone()).await.expect("simulator");
        let mut settings = settings(&data_dir, proxy.local_addr());
        settings.local = Some(LocalSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
        });
        tweak(&mut settings);
        let agent = start_agent(settings.clone()).await;
        let s = LocalSite {
            controller,
            proxy,
            site,
            sim,
            agent: Some(agent),
            settings,
            data_dir,
            _dir: dir,
        };
        s.wait_online().await;
        let answer = s
            .controller
            .ask(
                &s.site,
                Query::SetRouter(spec_for(&s.sim, &sim_config.password)),
            )
            .await;
        assert_eq!(answer, Answer::Stored);
        s.send(&directory(budget)).await;
        let store = s.agent().store().clone();
        eventually("the grant arrives", Duration::from_secs(10), || {
            store
                .grant()
                .ok()
                .flatten()
                .is_some_and(|g| g.budget == budget)
        })
        .await;
        s
    }

    pub fn agent(&self) -> &AgentHandle {
        self.agent.as_ref().expect("agent running")
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.agent().local_addr().expect("local page configured")
    }

    /// A logged-in session of `username`.
    pub async fn staff(&self, username: &str) -> LocalStaff {
        let mut s = LocalStaff::new(self.local_addr());
        let (status, body) = s.login(username, PASSWORD).await.expect("login call");
        assert_eq!(status, 200, "{body}");
        s
    }

    pub async fn send(&self, commands: &[Command]) {
        self.controller
            .server
            .send_batch(&self.site, commands)
            .await
            .expect("commands queued");
    }

    pub fn events(&self) -> Vec<Event> {
        self.controller.events(&self.site)
    }

    pub fn agent_online(&self) -> bool {
        self.agent().link().is_some_and(|l| l.status().connected)
    }

    pub async fn wait_online(&self) {
        let server = &self.controller.server;
        eventually("the agent connects", Duration::from_secs(20), || {
            server.connected_sites().contains(&self.site) && self.agent_online()
        })
        .await;
    }

    /// Cuts the link both ways and waits until both ends see it down.
    pub async fn cut(&self) {
        self.proxy.blackhole();
        let server = &self.controller.server;
        eventually(
            "both ends see the link down",
            Duration::from_secs(20),
            || !server.connected_sites().contains(&self.site) && !self.agent_online(),
        )
        .await;
    }

    pub async fn restore(&self) {
        self.proxy.restore();
        self.wait_online().await;
    }

    pub async fn shutdown(mut self) {
        if let Some(agent) = self.agent.take() {
            agent.shutdown().await.expect("agent stops");
        }
        self.controller
            .server
            .shutdown()
            .await
            .expect("server stops");
        self.proxy.shutdown().await;
        self.sim.shutdown().await;
    }
}
