//! How a router looks in answers: its settings (never the password), its status, and what the
//! agent last told us about it, with the age of each piece.
//!
//! The status is computed on every read from the site's link status and the router's last news
//! ([`status_of`], pure and unit-tested), so it can never be left stale by a job that did not
//! run: `online` needs the site connected and fresh news without a newer failure; `offline`
//! means the site is disconnected or the agent reports the router unreachable; `unknown` is
//! everything else (no news yet, news too old, settings waiting to be handed over).

use hotspot_shared::domain::{ActiveSession, HealthSample, RouterFailure, RouterInfo, RouterTls};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::extract::fmt_time;
use crate::fleet::presence::credentials_pending;
use crate::store::RouterRecord;

/// A router's health as the API lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouterStatus {
    Online,
    Offline,
    Unknown,
}

/// Model, identity and firmware, as the router reported them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InfoView {
    pub identity: String,
    pub model: Option<String>,
    pub board_name: String,
    /// RouterOS version.
    pub version: String,
    pub firmware: Option<String>,
    pub serial: Option<String>,
    pub architecture: String,
}

impl From<&RouterInfo> for InfoView {
    fn from(i: &RouterInfo) -> InfoView {
        InfoView {
            identity: i.identity.clone(),
            model: i.model.clone(),
            board_name: i.board_name.clone(),
            version: i.version.clone(),
            firmware: i.firmware.clone(),
            serial: i.serial.clone(),
            architecture: i.architecture.clone(),
        }
    }
}

/// One health reading.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthView {
    /// When the router was read (RFC 3339).
    pub at: String,
    /// Percent.
    pub cpu_load: u8,
    pub free_memory: u64,
    pub total_memory: u64,
    pub uptime_secs: u64,
    pub active_users: u32,
    pub version: String,
}

impl From<&HealthSample> for HealthView {
    fn from(h: &HealthSample) -> HealthView {
        HealthView {
            at: fmt_time(h.at),
            cpu_load: h.cpu_load,
            free_memory: h.free_memory,
            total_memory: h.total_memory,
            uptime_secs: h.uptime_secs,
            active_users: h.active_users,
            version: h.version.clone(),
        }
    }
}

/// Why talking to the router failed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureView {
    /// `unreachable`, `refused`, `timeout`, `bad-credentials`, `tls`, `pin-mismatch`, `trap`,
    /// `protocol`, `unknown-router` or `agent`.
    pub kind: String,
    /// What the router or agent said.
    pub message: String,
    /// What it means, for people.
    pub explanation: String,
    pub at: Option<String>,
}

/// The kebab-case name of a failure kind, as serde writes it.
pub fn kind_name(f: &RouterFailure) -> String {
    serde_json::to_value(f.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{:?}", f.kind))
}

impl FailureView {
    pub fn of(f: &RouterFailure, at: Option<i64>) -> FailureView {
        FailureView {
            kind: kind_name(f),
            message: f.message.clone(),
            explanation: f.explain(),
            at: at.map(fmt_time),
        }
    }
}

/// An open hotspot session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    /// The router's id of the session (`*1A`): what `kick` takes.
    pub id: String,
    /// The voucher code.
    pub user: String,
    pub address: String,
    pub mac_address: String,
    pub uptime_secs: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl From<&ActiveSession> for SessionView {
    fn from(s: &ActiveSession) -> SessionView {
        SessionView {
            id: s.id.clone(),
            user: s.user.clone(),
            address: s.address.clone(),
            mac_address: s.mac_address.clone(),
            uptime_secs: s.uptime_secs,
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
        }
    }
}

/// A router as the API shows it. There is no password field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouterView {
    pub id: u64,
    pub name: String,
    pub site_id: String,
    pub location: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    /// API-SSL (port 8729 usually).
    pub tls: bool,
    /// SHA-256 of the router's certificate (hex), when pinned.
    pub tls_fingerprint: Option<String>,
    pub status: RouterStatus,
    /// Whether the site's agent is connected now.
    pub site_online: bool,
    /// When the agent last heard from the router (RFC 3339).
    pub last_seen: Option<String>,
    /// The last news is older than the health interval allows, or the site is offline.
    pub stale: bool,
    /// Changed connection settings wait for the site to come online.
    pub credentials_pending: bool,
    pub info: Option<InfoView>,
    pub health: Option<HealthView>,
    pub last_error: Option<FailureView>,
    pub last_sync_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// How old news may be before it counts as stale, in seconds.
pub fn freshness_secs(config: &crate::config::Config) -> i64 {
    let health = config.jobs.health_secs.get();
    let offline = config.fleet.offline_after_secs.get();
    i64::try_from(2 * health + offline).unwrap_or(i64::MAX)
}

/// The status of `r` at `now` (see the module comment).
pub fn status_of(r: &RouterRecord, site_online: bool, now: i64, fresh_secs: i64) -> RouterStatus {
    if !site_online {
        return RouterStatus::Offline;
    }
    if credentials_pending(r) {
        return RouterStatus::Unknown;
    }
    let seen = r.last_seen();
    let failed = r.last_error.as_ref().map(|(_, at)| *at);
    match (seen, failed) {
        (_, Some(f)) if seen.is_none_or(|s| f > s) => RouterStatus::Offline,
        (Some(s), _) if now.saturating_sub(s) <= fresh_secs => RouterStatus::Online,
        _ => RouterStatus::Unknown,
    }
}

impl RouterView {
    pub fn of(r: &RouterRecord, site_online: bool, now: i64, fresh_secs: i64) -> RouterView {
        let seen = r.last_seen();
        let status = status_of(r, site_online, now, fresh_secs);
        let (tls, tls_fingerprint) = match &r.tls {
            None => (false, None),
            Some(RouterTls::Pin(pin)) => (true, Some(hex::encode(pin))),
            Some(RouterTls::CaPem(_)) => (true, None),
        };
        RouterView {
            id: r.id.0,
            name: r.name.clone(),
            site_id: r.site.to_string(),
            location: r.location.clone(),
            host: r.host.clone(),
            port: r.port,
            username: r.username.clone(),
            tls,
            tls_fingerprint,
            status,
            site_online,
            last_seen: seen.map(fmt_time),
            stale: !site_online || seen.is_none_or(|s| now.saturating_sub(s) > fresh_secs),
            credentials_pending: credentials_pending(r),
            info: r.info.as_ref().map(|(i, _)| i.into()),
            health: r.health.as_ref().map(|(h, _)| h.into()),
            last_error: r
                .last_error
                .as_ref()
                .map(|(f, at)| FailureView::of(f, Some(*at))),
            last_sync_at: r.last_sync_at.map(fmt_time),
            created_at: fmt_time(r.created_at),
            updated_at: fmt_time(r.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspot_shared::domain::{FailureKind, RouterId};
    use hotspot_shared::secretbox::{Sealed, StoredSecret};

    fn record() -> RouterRecord {
        RouterRecord {
            id: RouterId(1),
            site: "s1".parse().unwrap(),
            name: "r".into(),
            location: String::new(),
            host: "192.0.2.1".into(),
            port: 8728,
            username: "api".into(),
            password: StoredSecret::from(Sealed::from_bytes(vec![1, 2, 3])),
            tls: None,
            created_at: 0,
            updated_at: 0,
            info: None,
            health: None,
            last_sync_at: None,
            last_error: None,
        }
    }

    #[test]
    fn status_follows_the_site_and_the_newest_news() {
        let mut r = record();
        assert_eq!(status_of(&r, true, 100, 60), RouterStatus::Unknown);
        r.last_sync_at = Some(90);
        assert_eq!(status_of(&r, true, 100, 60), RouterStatus::Online);
        assert_eq!(status_of(&r, false, 100, 60), RouterStatus::Offline);
        assert_eq!(status_of(&r, true, 200, 60), RouterStatus::Unknown);
        r.last_error = Some((RouterFailure::new(FailureKind::Unreachable, "x"), 95));
        assert_eq!(status_of(&r, true, 100, 60), RouterStatus::Offline);
        r.last_sync_at = Some(99);
        assert_eq!(status_of(&r, true, 100, 60), RouterStatus::Online);
        r.last_error = Some((
            RouterFailure::new(
                FailureKind::Agent,
                crate::fleet::presence::CREDENTIALS_PENDING,
            ),
            100,
        ));
        assert_eq!(status_of(&r, true, 100, 60), RouterStatus::Unknown);
        let view = RouterView::of(&r, true, 100, 60);
        assert!(view.credentials_pending && !view.stale);
        let json = serde_json::to_value(&view).unwrap();
        assert!(json.get("password").is_none());
        assert_eq!(json["status"], "unknown");
    }
}
