//! `routeros-sim`: a RouterOS router that unmodified API clients accept.
//!
//! A real TCP (and TLS) server speaking the RouterOS API over loopback, with hotspot users,
//! profiles, active sessions and system menus as state, RouterOS 6 and 7 behaviour that clients
//! trip over (MD5 login before 6.43, `!empty` from 7.18), simulated customers using their
//! vouchers, and fault orders (latency, a busy CPU, dropped connections, refused logins,
//! reboot, reset) — set at start, from a test through [`SimHandle`], or at run time through
//! the line-based [control interface](control).
//!
//! Shape: one `Shared` value (router state behind one mutex, fault settings, counters, a
//! session "epoch" whose change closes every API session) and a few tasks around it: accept
//! loops, one task pair per connection (`session`), the customer ticker (`customers`) and
//! the debounced state saver (`persist`). The protocol itself comes from
//! `hotspot_shared::routeros` — the same codec our agent uses — so the simulator only decides
//! *what* to answer.

mod auth;
mod commands;
pub mod config;
pub mod control;
mod customers;
mod handle;
mod persist;
pub mod query;
mod session;
mod state;
pub mod testing;
mod tls;

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

pub use config::{CustomerConfig, FaultSettings, RosVersion, SimConfig, VersionError};
pub use handle::{NewUser, SimActive, SimHandle, SimUser};
use state::Router;

/// Most API sessions open at once; more are closed with `!fatal` (a router's `max-sessions`).
pub const MAX_SESSIONS: usize = 256;

/// Why a simulator operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("state file {path}: {source}")]
    StateFile {
        path: String,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid: {source}")]
    StateFormat {
        path: String,
        source: serde_json::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("{0}")]
    Refused(String),
}

/// State shared by every task of one simulator.
pub(crate) struct Shared {
    pub cfg: SimConfig,
    pub router: Mutex<Router>,
    pub faults: Mutex<FaultSettings>,
    /// The router's one CPU: the time it is busy until (commands hold it for `service_time`).
    pub cpu: Mutex<tokio::time::Instant>,
    pub commands_served: AtomicU64,
    pub open_sessions: AtomicUsize,
    /// Bumped by reboot, reset and shutdown: every API session closes when it changes.
    pub epoch: watch::Sender<u64>,
    /// Set once: listeners and background tasks stop.
    pub shutdown: watch::Sender<bool>,
    /// While `Some(t)` and `now < t` the router is rebooting: connections are dropped.
    pub down_until: Mutex<Option<Instant>>,
    /// Wakes the state saver after a change.
    pub dirty: Notify,
    pub tls: Option<tls::TlsIdentity>,
}

impl Shared {
    pub fn router(&self) -> MutexGuard<'_, Router> {
        self.router.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn cpu_busy_until(&self) -> MutexGuard<'_, tokio::time::Instant> {
        self.cpu.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn faults(&self) -> FaultSettings {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn update_faults(&self, f: impl FnOnce(&mut FaultSettings)) {
        f(&mut self.faults.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub fn is_down(&self) -> bool {
        let mut guard = self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *guard {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *guard = None;
                false
            }
            None => false,
        }
    }

    /// Closes every API session (they watch the epoch).
    pub fn close_sessions(&self) {
        self.epoch.send_modify(|e| *e = e.wrapping_add(1));
    }

    /// Marks the state as changed, for the saver.
    pub fn changed(&self) {
        self.dirty.notify_one();
    }
}

/// Binds every listener, loads the state file, starts the background tasks.
pub async fn start(cfg: SimConfig) -> anyhow::Result<SimHandle> {
    let loaded = match &cfg.state_file {
        Some(path) => persist::load(path)?,
        None => None,
    };
    let (router, tls_pem) = match loaded {
        Some(p) => {
            let tls = p.tls.clone();
            (Router::from_persisted(p), tls)
        }
        None => (Router::new(&cfg.identity), None),
    };
    let tls = match cfg.api_ssl {
        Some(_) => Some(tls::TlsIdentity::load_or_generate(tls_pem)?),
        None => None,
    };

    let api = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding API listener {}", cfg.listen))?;
    let api_addr = api.local_addr()?;
    let ssl = match cfg.api_ssl {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding API-SSL listener {addr}"))?;
            Some(l)
        }
        None => None,
    };
    let ssl_addr = ssl.as_ref().map(TcpListener::local_addr).transpose()?;
    let control = match cfg.control {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding control listener {addr}"))?,
        ),
        None => None,
    };
    let control_addr = control.as_ref().map(TcpListener::local_addr).transpose()?;

    let faults = cfg.faults;
    let shared = Arc::new(Shared {
        cfg,
        router: Mutex::new(router),
        faults: Mutex::new(faults),
        cpu: Mutex::new(tokio::time::Instant::now()),
        commands_served: AtomicU64::new(0),
        open_sessions: AtomicUsize::new(0),
        epoch: watch::Sender::new(0),
        shutdown: watch::Sender::new(false),
        down_until: Mutex::new(None),
        dirty: Notify::new(),
        tls,
    });

    let mut tasks = vec![tokio::spawn(session::accept_loop(
        api,
        None,
        shared.clone(),
    ))];
    if let (Some(listener), Some(identity)) = (ssl, &shared.tls) {
        let acceptor = identity.acceptor()?;
        tasks.push(tokio::spawn(session::accept_loop(
            listener,
            Some(acceptor),
            shared.clone(),
        )));
    }
    let handle = SimHandle::new(shared.clone(), api_addr, ssl_addr, control_addr);
    if let Some(listener) = control {
        tasks.push(tokio::spawn(control::serve(listener, handle.clone())));
    }
    tasks.push(tokio::spawn(customers::run(shared.clone())));
    if shared.cfg.state_file.is_some() {
        tasks.push(tokio::spawn(persist::saver(shared.clone())));
        // Write the file at once, so a fresh simulator's state exists on disk.
        shared.changed();
    }
    handle.adopt_tasks(tasks);
    tracing::info!(api = %api_addr, ssl = ?ssl_addr, control = ?control_addr, version = %shared.cfg.ros_version, "routeros-sim started");
    Ok(handle)
}
