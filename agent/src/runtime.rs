//! `hotspot-agent run`: the agent's tasks, started together and stopped together.
//!
//! ```text
//!  link (QUIC) ──Command──▶ inbound ──one transaction──▶ queue / desired / routers / sync
//!      ▲                                                            │ `wake` subscriber
//!      │ send_batch (durable)                                       ▼
//!      └──────── Event ◀── apply worker (per router) ◀── wake ── supervisor
//!                     ◀── jobs (per router): usage + repair, health, probe
//!  link ──Query──▶ responder ──▶ live router (deadline) ──▶ Answer
//! ```
//!
//! Why it is shaped so: every task holds the shared `Core` ([`crate::core`], below all of them)
//! and watches one stop signal, and every task is spawned into one set, so shutdown is explicit
//! (signal, drain with a grace period, close router sessions, close the link with a reason,
//! a last durability barrier) and a test can also stop everything abruptly ([`AgentHandle::abort`]) to play a
//! crash. The link handle sits in the core behind a lock and is taken out at stop, which breaks
//! the cycle core → link → responder → core so the database really closes. This module only
//! wires the tasks together: it uses all of them, and none of them imports it.

use std::sync::Arc;
use std::time::Duration;

use hotspot_link::LinkError;
use hotspot_pki::SiteId;
use hotspot_shared::domain::RouterId;
use tokio::task::AbortHandle;

use crate::config::Settings;
use crate::core::{Core, Link};
use crate::identity::{DB_FILE, Identity, IdentityError, KEYS_DIR};
use crate::inbound::AgentInbound;
use crate::responder::AgentResponder;
use crate::routers::{Endpoint, open_password, router_config};
use crate::store::{Store, StoreError};
use crate::{apply, heal, jobs, renewal};

/// Exit status after the disk was full and space came back: the service manager restarts
/// the agent, which reopens the database (EX_TEMPFAIL).
pub const EXIT_STORAGE_RECOVERED: i32 = 75;

/// How long a graceful stop waits for tasks to finish before aborting them.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Why the agent could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("master key: {0}")]
    Keyring(#[from] hotspot_pki::KeyFileError),
    #[error("database {path}: {source}")]
    Database {
        path: String,
        source: hotspot_storage::StorageError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("fleet link: {0}")]
    Link(#[from] LinkError),
    #[error("local staff page on {addr}: {reason}")]
    Local { addr: String, reason: String },
}

/// A running agent.
pub struct AgentHandle {
    core: Arc<Core>,
    site: SiteId,
    local: Option<std::net::SocketAddr>,
}

impl AgentHandle {
    /// Loads the identity and the database from `settings.data_dir`, connects to the
    /// controller, and starts the workers and jobs of every stored router.
    pub async fn start(settings: Settings) -> Result<AgentHandle, AgentError> {
        let dir = settings.data_dir.clone();
        let identity = Identity::load(&dir)?;
        let keyring = hotspot_pki::load_or_create_keyring(&dir.join(KEYS_DIR))?;
        let db_path = dir.join(DB_FILE);
        let db = crate::store::open_db(&db_path).map_err(|source| AgentError::Database {
            path: db_path.display().to_string(),
            source,
        })?;
        let store = Store::open(&db)?;
        let core = Arc::new(Core::new(settings, store.clone(), keyring));
        for entry in store.routers()? {
            let config = open_password(&core.keyring, &entry).and_then(|pw| {
                router_config(Endpoint::from(&entry), pw, &core.settings).map_err(|f| f.message)
            });
            match config {
                Ok(config) => drop(core.routers.upsert(entry.id, config)),
                Err(e) => tracing::error!(router = %entry.id, "router not started: {e}"),
            }
        }
        let link = Link::start(
            core.settings.client.clone(),
            &db,
            identity.client_tls()?,
            AgentInbound::new(store.clone()),
            AgentResponder::new(core.clone()),
        )
        .await?;
        core.set_link(link);
        core.spawn(supervise(core.clone()));
        core.spawn(watch_commands(core.clone(), store.commands()));
        core.spawn(heal::run(core.clone()));
        match hotspot_storage::control::serve(db.clone(), &dir, DB_FILE) {
            Ok(backups) => {
                // The socket's accept loop never ends by itself: it stops with the agent
                // (else every shutdown waited out the grace period for it).
                let mut stop = core.stop.subscribe();
                drop(core.spawn(async move {
                    tokio::select! {
                        () = backups => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                }));
            }
            Err(e) => tracing::warn!("no backup socket, so backups need a stopped agent: {e}"),
        }
        if core.settings.exit_when_storage_recovers {
            core.spawn(exit_when_storage_recovers(core.clone()));
        }
        let local = match &core.settings.local {
            Some(l) => Some(start_local(&core, l, identity.site.to_string()).await?),
            None => None,
        };
        core.spawn(renewal::run(
            core.clone(),
            dir,
            renewal::Current::from(&identity),
        ));
        wake_sync(&core);
        tracing::info!(site = %identity.site, routers = core.routers.all().len(), "agent started");
        Ok(AgentHandle {
            core,
            site: identity.site,
            local,
        })
    }

    /// Where the local staff page listens (when configured).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.local
    }

    /// The site named in the agent's certificate.
    pub fn site(&self) -> &SiteId {
        &self.site
    }

    /// The link (status, for example). A clone keeps the database open: drop it before
    /// [`AgentHandle::shutdown`] if the directory is to be reopened in the same process.
    pub fn link(&self) -> Option<Link> {
        self.core.link()
    }

    /// The agent's store (for inspection).
    pub fn store(&self) -> &Store {
        &self.core.store
    }

    /// Items waiting in `router`'s apply queue.
    pub fn queue_len(&self, router: RouterId) -> usize {
        self.core.store.queue_len(router)
    }

    /// Stops gracefully: tasks finish (or are aborted after a grace period), router sessions
    /// close, the link closes with a reason, a last barrier makes every write durable.
    pub async fn shutdown(self) -> Result<(), AgentError> {
        let core = self.core;
        core.stop.send_replace(true);
        let mut tasks = core.take_tasks();
        let drained = tokio::time::timeout(STOP_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("tasks still running after {STOP_GRACE:?}; aborting them");
            tasks.shutdown().await;
        }
        core.routers.close_all().await;
        let link = core.take_link();
        if let Some(link) = link {
            link.shutdown().await?;
        }
        core.store.flush().await?;
        tracing::info!("agent stopped");
        Ok(())
    }

    /// Stops abruptly, as a crash would (for tests): every task is aborted where it stands;
    /// only the link is closed so that its socket and database handle go away.
    pub async fn abort(self) {
        let core = self.core;
        let mut tasks = core.take_tasks();
        tasks.shutdown().await;
        let link = core.take_link();
        if let Some(link) = link {
            let _ = link.shutdown().await;
        }
        core.routers.close_all().await;
    }
}

/// Binds the local staff page and serves it until the stop signal.
async fn start_local(
    core: &Arc<Core>,
    settings: &crate::config::LocalSettings,
    site: String,
) -> Result<std::net::SocketAddr, AgentError> {
    use crate::local::{LinkWatch, auth::Sessions, http, sell::Seller, state, tls, watch_link};
    let err = |reason: String| AgentError::Local {
        addr: settings.listen.to_string(),
        reason,
    };
    let watch = Arc::new(LinkWatch::new());
    core.spawn(watch_link(core.clone(), watch.clone()));
    let state = state::LocalState {
        seller: Arc::new(Seller::new(core.clone())),
        sessions: Arc::new(Sessions::new()),
        store: core.store.clone(),
        link: watch,
        secure: settings.tls,
        site,
    };
    let app = http::router(state);
    let tcp = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| err(e.to_string()))?;
    let addr = tcp.local_addr().map_err(|e| err(e.to_string()))?;
    let mut stop = core.stop.subscribe();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if settings.tls {
        let acceptor = tls::acceptor(&core.settings.data_dir, addr).map_err(err)?;
        let listener =
            tls::TlsListener::new(tcp, acceptor, "local page").map_err(|e| err(e.to_string()))?;
        core.spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!("local staff page: {e}");
            }
        });
    } else {
        core.spawn(async move {
            if let Err(e) = axum::serve(tcp, app).with_graceful_shutdown(stopped).await {
                tracing::error!("local staff page: {e}");
            }
        });
    }
    let scheme = if settings.tls { "https" } else { "http" };
    tracing::info!("local staff page on {scheme}://{addr}/");
    Ok(addr)
}

/// After a storage failure, waits until the data dir's file system takes writes again and
/// exits with [`EXIT_STORAGE_RECOVERED`]: the engine does not recover in-process, the service
/// manager's restart reopens it from what is on disk (everything acknowledged).
async fn exit_when_storage_recovers(core: Arc<Core>) {
    let mut stop = core.stop.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if !core.storage_is_failed() {
            continue;
        }
        let probe = core.settings.data_dir.join(".space-probe");
        let written = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let result = std::fs::File::create(&probe).and_then(|mut f| {
                f.write_all(&vec![0u8; 4 << 20])?;
                f.sync_all()
            });
            let _ = std::fs::remove_file(&probe);
            result
        })
        .await;
        if matches!(written, Ok(Ok(()))) {
            tracing::error!(
                "disk space is back: exiting (status {EXIT_STORAGE_RECOVERED}) for a restart that reopens the database"
            );
            std::process::exit(EXIT_STORAGE_RECOVERED);
        }
    }
}

/// Starts workers and jobs for new routers, stops those of removed ones, and purges what the
/// controller retired.
async fn supervise(core: Arc<Core>) {
    let mut stop = core.stop.subscribe();
    let mut running: std::collections::HashMap<RouterId, [AbortHandle; 2]> = Default::default();
    loop {
        match core.store.retired() {
            Ok(retired) => {
                for id in retired {
                    core.routers.remove(id);
                    if let Err(e) = core.store.purge(id) {
                        tracing::error!(router = %id, "purging a removed router: {e}");
                    } else {
                        tracing::info!(router = %id, "router removed");
                    }
                }
            }
            Err(e) => tracing::error!("reading removed routers: {e}"),
        }
        let live = core.routers.all();
        running.retain(|id, handles| {
            let keep = live.iter().any(|l| l.id == *id);
            if !keep {
                handles.iter().for_each(AbortHandle::abort);
            }
            keep
        });
        for l in live {
            running.entry(l.id).or_insert_with(|| {
                [
                    core.spawn(apply::run(core.clone(), l.clone())),
                    core.spawn(jobs::run(core.clone(), l.clone())),
                ]
            });
        }
        tokio::select! {
            _ = core.routers.changed.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Wakes whoever may have work after each committed command: every apply worker (a scan of
/// an idle queue is cheap), the jobs if "sync now" flags are set, the supervisor for removed
/// routers. (The link's inbox notifies after each commit of applied commands.)
async fn watch_commands(core: Arc<Core>, commands: Arc<tokio::sync::Notify>) {
    let mut stop = core.stop.subscribe();
    loop {
        tokio::select! {
            _ = commands.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        for live in core.routers.all() {
            live.wake_apply.notify_one();
        }
        wake_sync(&core);
        core.routers.changed.notify_one();
    }
}

/// Takes the "sync now" flags and wakes the routers' jobs.
fn wake_sync(core: &Core) {
    match core.store.take_sync_flags() {
        Ok(flags) => {
            for flag in flags {
                let targets = match flag {
                    None => core.routers.all(),
                    Some(id) => core.routers.get(id).into_iter().collect(),
                };
                targets.iter().for_each(|l| l.wake_sync.notify_one());
            }
        }
        Err(e) => tracing::error!("reading sync flags: {e}"),
    }
}
