//! [`SimHandle`]: what a test holds to look into and steer a running simulator.
//!
//! Cheap to clone; every method works on the shared state directly (no round trip through the
//! API), so a test can arrange and check state without a client of its own.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::state::{User, format_id};
use super::{Shared, SimError, customers, persist};

/// A snapshot of one hotspot user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    /// `*1A`.
    pub id: String,
    pub name: String,
    pub password: String,
    pub profile: String,
    /// The hotspot server it belongs to (`all` unless set).
    pub server: String,
    /// Seconds.
    pub limit_uptime: Option<u64>,
    pub limit_bytes_total: Option<u64>,
    /// Seconds used.
    pub uptime: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Exactly as stored (may be another code page than UTF-8).
    pub comment: Vec<u8>,
    pub disabled: bool,
}

impl From<&User> for SimUser {
    fn from(u: &User) -> Self {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        SimUser {
            id: format_id(u.id),
            name: s(&u.name),
            password: s(&u.password),
            profile: s(&u.profile),
            server: s(&u.server),
            limit_uptime: u.limit_uptime,
            limit_bytes_total: u.limit_bytes_total,
            uptime: u.uptime_ms / 1000,
            bytes_in: u.bytes_in,
            bytes_out: u.bytes_out,
            comment: u.comment.clone(),
            disabled: u.disabled,
        }
    }
}

/// A snapshot of one active hotspot session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimActive {
    pub id: String,
    pub user: String,
    pub address: String,
    pub mac_address: String,
    /// Seconds.
    pub uptime: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// A user for [`SimHandle::add_user_direct`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: String,
    pub password: String,
    pub profile: String,
    pub limit_uptime: Option<u64>,
    pub limit_bytes_total: Option<u64>,
    pub comment: Vec<u8>,
    pub disabled: bool,
}

impl NewUser {
    /// Profile `default`, no limits, no comment, enabled.
    pub fn new(name: &str, password: &str) -> Self {
        NewUser {
            name: name.into(),
            password: password.into(),
            profile: "default".into(),
            limit_uptime: None,
            limit_bytes_total: None,
            comment: Vec::new(),
            disabled: false,
        }
    }
}

/// Handle on a running simulator.
#[derive(Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
    api: SocketAddr,
    ssl: Option<SocketAddr>,
    control: Option<SocketAddr>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("api", &self.api)
            .field("ssl", &self.ssl)
            .field("control", &self.control)
            .finish()
    }
}

impl SimHandle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        api: SocketAddr,
        ssl: Option<SocketAddr>,
        control: Option<SocketAddr>,
    ) -> Self {
        SimHandle {
            shared,
            api,
            ssl,
            control,
            tasks: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub(crate) fn adopt_tasks(&self, tasks: Vec<JoinHandle<()>>) {
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(tasks);
    }

    pub(crate) fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shared.shutdown.subscribe()
    }

    /// The API password the router accepts (what an operator types into "Add router").
    pub fn password(&self) -> String {
        self.shared.cfg.password.clone()
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api
    }

    pub fn api_ssl_addr(&self) -> Option<SocketAddr> {
        self.ssl
    }

    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control
    }

    /// The API-SSL certificate (DER), to trust it in a client.
    pub fn cert_der(&self) -> Option<Vec<u8>> {
        self.shared.tls.as_ref().map(|t| t.cert_der.clone())
    }

    /// The API-SSL certificate (PEM), for clients that read files (Python's `ssl`).
    pub fn cert_pem(&self) -> Option<String> {
        self.shared.tls.as_ref().map(|t| t.pem.cert.clone())
    }

    /// SHA-256 of the certificate's DER: the pin.
    pub fn cert_sha256(&self) -> Option<[u8; 32]> {
        self.shared.tls.as_ref().map(|t| t.sha256)
    }

    pub fn set_latency(&self, latency: Duration) {
        self.shared.update_faults(|f| f.latency = latency);
    }

    pub fn set_service_time(&self, service_time: Duration) {
        self.shared.update_faults(|f| f.service_time = service_time);
    }

    pub fn set_drop_after(&self, commands: Option<u64>) {
        self.shared.update_faults(|f| f.drop_after = commands);
    }

    pub fn set_refuse_logins(&self, refuse: bool) {
        self.shared.update_faults(|f| f.refuse_logins = refuse);
    }

    /// Turns every fault off.
    pub fn clear_faults(&self) {
        self.shared.update_faults(|f| *f = Default::default());
    }

    pub fn faults(&self) -> super::FaultSettings {
        self.shared.faults()
    }

    /// Reboots: API sessions close, hotspot sessions end, uptime restarts, configuration
    /// stays. For `downtime` new connections are accepted and dropped at once.
    pub fn reboot(&self, downtime: Duration) {
        *self
            .shared
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + downtime);
        self.shared.router().reboot();
        self.shared.close_sessions();
        self.shared.changed();
        tracing::info!(?downtime, "simulated reboot");
    }

    /// Configuration reset: users, non-default profiles and hotspot sessions are gone, API
    /// sessions close.
    pub fn reset(&self) {
        self.shared.router().reset();
        self.shared.close_sessions();
        self.shared.changed();
        tracing::info!("simulated configuration reset");
    }

    pub fn users(&self) -> Vec<SimUser> {
        self.shared
            .router()
            .users
            .values()
            .map(SimUser::from)
            .collect()
    }

    pub fn user(&self, name: &str) -> Option<SimUser> {
        let r = self.shared.router();
        r.user_by_name(name.as_bytes())
            .and_then(|id| r.users.get(&id))
            .map(SimUser::from)
    }

    pub fn user_count(&self) -> usize {
        self.shared.router().users.len()
    }

    pub fn active(&self) -> Vec<SimActive> {
        self.shared
            .router()
            .active
            .values()
            .map(|a| SimActive {
                id: format_id(a.id),
                user: String::from_utf8_lossy(&a.user).into_owned(),
                address: a.address.to_string(),
                mac_address: a.mac_address.clone(),
                uptime: a.uptime_ms / 1000,
                bytes_in: a.bytes_in,
                bytes_out: a.bytes_out,
            })
            .collect()
    }

    /// Commands answered since start, on all sessions (`/login` included).
    pub fn commands_served(&self) -> u64 {
        self.shared.commands_served.load(Ordering::Relaxed)
    }

    /// API sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.shared.open_sessions.load(Ordering::Relaxed)
    }

    /// Adds a user as if an administrator had; returns its `.id`.
    pub fn add_user_direct(&self, new: NewUser) -> Result<String, SimError> {
        let mut r = self.shared.router();
        if r.user_by_name(new.name.as_bytes()).is_some() {
            return Err(SimError::Refused(
                "failure: already have user with this name for this server".into(),
            ));
        }
        if r.profile_by_name(new.profile.as_bytes()).is_none() {
            return Err(SimError::Refused(
                "input does not match any value of profile".into(),
            ));
        }
        let id = r.alloc_user_id();
        let mut u = User::new(id, new.name.into_bytes());
        u.password = new.password.into_bytes();
        u.profile = new.profile.into_bytes();
        u.limit_uptime = new.limit_uptime;
        u.limit_bytes_total = new.limit_bytes_total;
        u.comment = new.comment;
        u.disabled = new.disabled;
        r.users.insert(id, u);
        drop(r);
        self.shared.changed();
        Ok(format_id(id))
    }

    /// Removes every user whose name starts with `prefix`, as if an administrator had; returns
    /// how many.
    pub fn remove_users_direct(&self, prefix: &str) -> usize {
        let mut r = self.shared.router();
        let before = r.users.len();
        r.users
            .retain(|_, u| !u.name.starts_with(prefix.as_bytes()));
        let removed = before - r.users.len();
        drop(r);
        self.shared.changed();
        removed
    }

    /// Logs a customer in with voucher `name` now (whatever the login rate); returns the
    /// active session's `.id`.
    pub fn login_customer(&self, name: &str) -> Result<String, SimError> {
        let mut r = self.shared.router();
        let id = customers::login(&mut r, name.as_bytes()).map_err(SimError::Refused)?;
        Ok(format_id(id))
    }

    /// Stops listeners and background tasks, closes every session, saves the state file.
    pub async fn shutdown(self) {
        self.shared.shutdown.send_replace(true);
        self.shared.close_sessions();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for t in tasks {
            if let Err(e) = t.await {
                tracing::warn!(error = %e, "simulator task ended badly");
            }
        }
        if let Err(e) = persist::save_now(&self.shared).await {
            tracing::error!(error = %e, "saving state at shutdown failed");
        }
    }
}
