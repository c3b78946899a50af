//! An in-process fake agent: a real `LinkClient` with a certificate for its site, whose
//! responder answers router questions from canned values. `TestRouter` with the password
//! `wrong` fails with bad credentials; `SetRouter` is remembered so tests can see what the
//! agent was handed. Commands from the controller land in a `RecordingInbox`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hotspot_link::{ClientTls, LinkClient, PeerId, RecordingInbox, Responder};
use hotspot_pki::{FleetCa, SiteId};
use hotspot_shared::domain::{
    ActiveSession, FailureKind, HealthSample, RouterFailure, RouterInfo, RouterSpec,
};
use hotspot_shared::fleet::msg::{Answer, Command, Event, Query};
use hotspot_storage::{Db, Options};

pub use crate::common::agent::client_config;
use crate::common::agent::site_tls;
use time::OffsetDateTime;

pub type AgentLink = LinkClient<Event, Command, Query, Answer>;

/// The password the fake routers refuse.
pub const WRONG: &str = "wrong";

pub fn info() -> RouterInfo {
    RouterInfo {
        identity: "cafe-gw".into(),
        model: Some("RB4011iGS+".into()),
        board_name: "RB4011iGS+".into(),
        version: "7.16.1 (stable)".into(),
        firmware: Some("7.16.1".into()),
        serial: Some("HEX0001".into()),
        architecture: "arm".into(),
    }
}

pub fn health(at: i64) -> HealthSample {
    HealthSample {
        at,
        cpu_load: 7,
        free_memory: 700_000_000,
        total_memory: 1_000_000_000,
        uptime_secs: 86_400,
        active_users: 1,
        version: "7.16.1".into(),
    }
}

/// What the fake agent was asked.
#[derive(Clone, Default)]
pub struct Canned {
    pub set: Arc<Mutex<Vec<RouterSpec>>>,
}

impl Responder<Query, Answer> for Canned {
    async fn respond(&self, _peer: PeerId, q: Query) -> Result<Answer, String> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        Ok(match q {
            Query::TestRouter(spec) if spec.password == WRONG => {
                Answer::Failed(RouterFailure::new(
                    FailureKind::BadCredentials,
                    "invalid user name or password (6)",
                ))
            }
            Query::TestRouter(_) => Answer::Tested(info()),
            Query::SetRouter(spec) => {
                self.set.lock().unwrap().push(spec);
                Answer::Stored
            }
            Query::RouterInfo { .. } => Answer::Info(info()),
            Query::Stats { .. } => Answer::Stats(health(now)),
            Query::ActiveUsers { .. } => Answer::Active(vec![ActiveSession {
                id: "*1A".into(),
                user: "ABCD2345".into(),
                address: "10.5.50.2".into(),
                mac_address: "02:00:00:00:00:01".into(),
                uptime_secs: 60,
                bytes_in: 1000,
                bytes_out: 2000,
            }]),
            Query::Kick { .. } => Answer::Kicked,
            Query::Sync { .. } => Answer::Synced { samples: 3 },
        })
    }
}

pub struct FakeAgent {
    pub site: SiteId,
    pub link: AgentLink,
    controller: SocketAddr,
    db: Db,
    tls: ClientTls,
    pub inbox: RecordingInbox,
    pub canned: Canned,
    _dir: tempfile::TempDir,
}

impl FakeAgent {
    /// Connects as `site` with a certificate signed directly by `ca`.
    pub async fn start(ca: &FleetCa, site: &SiteId, controller: SocketAddr) -> FakeAgent {
        let tls = site_tls(ca, site);
        FakeAgent::start_with(tls, site, controller).await
    }

    pub async fn start_with(tls: ClientTls, site: &SiteId, controller: SocketAddr) -> FakeAgent {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path().join("agent.redb"), Options::default()).expect("agent db");
        let inbox = RecordingInbox::new(&db, "test/commands");
        let canned = Canned::default();
        let link = AgentLink::start(
            client_config(controller),
            &db,
            copy(&tls),
            inbox.clone(),
            canned.clone(),
        )
        .await
        .expect("agent starts");
        FakeAgent {
            site: site.clone(),
            link,
            controller,
            db,
            tls,
            inbox,
            canned,
            _dir: dir,
        }
    }

    /// Starts the link again on the same data (after `link.shutdown()`), as a restarted agent.
    pub async fn restart(&mut self) {
        self.link = AgentLink::start(
            client_config(self.controller),
            &self.db,
            copy(&self.tls),
            self.inbox.clone(),
            self.canned.clone(),
        )
        .await
        .expect("agent restarts");
    }

    /// The commands received so far.
    pub fn commands(&self) -> Vec<Command> {
        self.inbox
            .messages::<Command>(&PeerId::Controller)
            .expect("records")
            .into_iter()
            .map(|(_, c)| c)
            .collect()
    }

    /// The passwords handed over with `SetRouter`, in order.
    pub fn passwords_set(&self) -> Vec<String> {
        self.canned
            .set
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.password.clone())
            .collect()
    }
}

fn copy(tls: &ClientTls) -> ClientTls {
    ClientTls {
        ca: tls.ca.clone(),
        cert_chain: tls.cert_chain.clone(),
        key: tls.key.clone_key(),
    }
}
