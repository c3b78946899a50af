//! A fake agent for one site: a real `LinkClient` with the site's certificate. Commands arrive
//! over the real QUIC link into a `RecordingInbox`; a loop answers them the way an agent
//! would: each voucher of a `CreateVouchers` → `Event::Applied` (or `Event::Failed` for the
//! index chosen with [`FakeAgent::fail_next`]), each `RemoveVoucher` → `Event::Removed`. The
//! events travel back over the link into the controller's `LedgerInbound`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotspot_link::{LinkClient, PeerId, RecordingInbox, RefuseRequests};
use hotspot_pki::{FleetCa, SiteId};
use hotspot_shared::fleet::msg::{Answer, Command, Event, Query};
use hotspot_storage::{Db, Options};

use crate::common::agent::{client_config, site_tls};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub type AgentLink = LinkClient<Event, Command, Query, Answer>;

/// The router's refusal the fake agent reports.
pub const FAIL_REASON: &str = "failure: profile quota reached";

/// What the fake agent has seen, for assertions.
#[derive(Debug, Default)]
pub struct Seen {
    /// Codes of every `CreateVouchers`, in order.
    pub created: Vec<String>,
    /// Commands of `CreateVouchers` received.
    pub create_commands: usize,
    /// Codes of every `RemoveVoucher`.
    pub removed: Vec<String>,
    /// Profile names the creates asked for.
    pub profiles: Vec<String>,
}

pub struct FakeAgent {
    pub link: AgentLink,
    pub seen: Arc<Mutex<Seen>>,
    fail_next: Arc<Mutex<Option<usize>>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl FakeAgent {
    /// Connects as `site` to the controller at `addr`.
    pub async fn start(ca: &FleetCa, site: &SiteId, addr: std::net::SocketAddr) -> FakeAgent {
        let tls = site_tls(ca, site);
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(dir.path().join("agent.redb"), Options::default()).expect("agent db");
        let commands = RecordingInbox::new(&db, "test/commands");
        let link = AgentLink::start(
            client_config(addr),
            &db,
            tls,
            commands.clone(),
            RefuseRequests,
        )
        .await
        .expect("agent starts");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let fail_next = Arc::new(Mutex::new(None));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(answer(
            link.clone(),
            commands,
            seen.clone(),
            fail_next.clone(),
            stopped,
        ));
        FakeAgent {
            link,
            seen,
            fail_next,
            stop,
            task,
            _dir: dir,
        }
    }

    /// The voucher at `index` of the next `CreateVouchers` is refused by the "router".
    pub fn fail_next(&self, index: usize) {
        *self.fail_next.lock().unwrap() = Some(index);
    }

    pub fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }

    /// Disconnects for good (the site goes offline).
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
        self.link.shutdown().await.expect("agent shuts down");
    }
}

async fn answer(
    link: AgentLink,
    commands: RecordingInbox,
    seen: Arc<Mutex<Seen>>,
    fail_next: Arc<Mutex<Option<usize>>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut done = 0;
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        let all = commands
            .messages::<Command>(&PeerId::Controller)
            .expect("recorded commands");
        let mut events = Vec::new();
        for (_, cmd) in all.into_iter().skip(done) {
            done += 1;
            let now = OffsetDateTime::now_utc().unix_timestamp();
            match cmd {
                Command::CreateVouchers {
                    router,
                    profile,
                    vouchers,
                    ..
                } => {
                    let fail = fail_next.lock().unwrap().take();
                    let mut s = seen.lock().unwrap();
                    s.create_commands += 1;
                    s.profiles.push(profile.name);
                    for (i, v) in vouchers.into_iter().enumerate() {
                        s.created.push(v.code.clone());
                        events.push(if fail == Some(i) {
                            Event::Failed {
                                router,
                                code: v.code,
                                reason: FAIL_REASON.into(),
                                conflict: false,
                                at: now,
                            }
                        } else {
                            Event::Applied {
                                router,
                                code: v.code,
                                at: now,
                            }
                        });
                    }
                }
                Command::RemoveVoucher {
                    router,
                    code,
                    reason,
                } => {
                    seen.lock().unwrap().removed.push(code.clone());
                    events.push(Event::Removed {
                        router,
                        code,
                        reason,
                        at: now,
                    });
                }
                _ => {}
            }
        }
        if !events.is_empty() {
            link.send_batch(&events).await.expect("agent queues events");
        }
    }
}
