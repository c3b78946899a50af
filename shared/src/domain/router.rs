//! What the controller tells an agent about a router, and what the agent reports back.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::RouterId;

/// How to reach a router. Travels only inside the fleet link's TLS, never into a log or an
/// outbox: its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterSpec {
    pub id: RouterId,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    pub tls: Option<RouterTls>,
}

impl fmt::Debug for RouterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterSpec")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"***")
            .field("tls", &self.tls)
            .finish()
    }
}

/// API-SSL trust: a pinned SHA-256 of the router's certificate, or a CA in PEM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouterTls {
    Pin([u8; 32]),
    CaPem(String),
}

/// Model, identity and firmware, from `/system/identity`, `/system/resource` and
/// `/system/routerboard`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouterInfo {
    pub identity: String,
    /// `None` on CHR and x86 (not a RouterBOARD).
    pub model: Option<String>,
    pub board_name: String,
    pub version: String,
    pub firmware: Option<String>,
    pub serial: Option<String>,
    pub architecture: String,
}

/// One health reading.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HealthSample {
    /// Unix seconds when taken.
    pub at: i64,
    pub cpu_load: u8,
    pub free_memory: u64,
    pub total_memory: u64,
    pub uptime_secs: u64,
    pub active_users: u32,
    pub version: String,
}

/// Usage of one voucher, read from `/ip/hotspot/user` (and `/ip/hotspot/active`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSample {
    pub code: String,
    pub uptime_secs: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// A session with this voucher is open now.
    pub online: bool,
}

/// One open hotspot session (`/ip/hotspot/active`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveSession {
    /// The router's `.id` of the session (`*1A`), used to kick it.
    pub id: String,
    pub user: String,
    pub address: String,
    pub mac_address: String,
    pub uptime_secs: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Why talking to a router failed, in kinds a person can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    Unreachable,
    Refused,
    Timeout,
    BadCredentials,
    Tls,
    PinMismatch,
    /// The router answered `!trap`.
    Trap,
    Protocol,
    /// The agent does not know this router (not configured at that site).
    UnknownRouter,
    /// The agent could not do it for a reason of its own (storage, shutting down).
    Agent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct RouterFailure {
    pub kind: FailureKind,
    pub message: String,
}

impl RouterFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        RouterFailure {
            kind,
            message: message.into(),
        }
    }

    /// Words for a person who is not a network engineer.
    pub fn explain(&self) -> String {
        match self.kind {
            FailureKind::Unreachable => format!("The router could not be reached ({}). Check the address and that the site's network is up.", self.message),
            FailureKind::Refused => "The router refused the connection: the API service is probably disabled, or the port is wrong (8728 for API, 8729 for API-SSL).".into(),
            FailureKind::Timeout => "The router did not answer in time. It may be overloaded or a firewall may be dropping the API port.".into(),
            FailureKind::BadCredentials => "Wrong username or password for the router's API user.".into(),
            FailureKind::Tls => format!("The secure (API-SSL) connection failed: {}.", self.message),
            FailureKind::PinMismatch => "The router's certificate does not match the pinned fingerprint: check the fingerprint, or someone may be intercepting the connection.".into(),
            FailureKind::Trap => format!("The router refused the command: {}.", self.message),
            FailureKind::Protocol => format!("The router answered something unexpected: {}.", self.message),
            FailureKind::UnknownRouter => "The site's agent does not know this router yet.".into(),
            FailureKind::Agent => format!("The site's agent could not do it: {}.", self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let spec = RouterSpec {
            id: RouterId(1),
            name: "r".into(),
            host: "192.0.2.1".into(),
            port: 8728,
            username: "api".into(),
            password: "hunter2-secret".into(),
            tls: None,
        };
        let shown = format!("{spec:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
    }
}
