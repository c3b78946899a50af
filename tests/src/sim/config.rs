//! What a simulated router is: its version, credentials, listeners, customers and faults.
//!
//! Plain data, fixed before [`super::start`]. Faults can change afterwards through the
//! [`super::SimHandle`] or the control interface; the rest is the router's "hardware".

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The RouterOS version the simulator pretends to run. It decides the login method (before
/// 6.43: MD5 challenge) and whether an empty `print` answers `!empty` (7.18 and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RosVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl RosVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        RosVersion {
            major,
            minor,
            patch,
        }
    }

    /// Before 6.43 the API only knew the MD5 challenge-response login.
    pub fn legacy_login(&self) -> bool {
        *self < RosVersion::new(6, 43, 0)
    }

    /// RouterOS 7.18 added the `!empty` reply for commands without items.
    pub fn sends_empty(&self) -> bool {
        *self >= RosVersion::new(7, 18, 0)
    }
}

impl Default for RosVersion {
    fn default() -> Self {
        RosVersion::new(7, 16, 0)
    }
}

/// Why a version string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RouterOS version {0:?} (expected e.g. 7.16, 7.19.1 or 6.49.10)")]
pub struct VersionError(pub String);

impl FromStr for RosVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || VersionError(s.to_owned());
        let mut parts = s.trim().split('.');
        let mut next = |required: bool| -> Result<u32, VersionError> {
            match parts.next() {
                Some(p) => p.parse().map_err(|_| bad()),
                None if required => Err(bad()),
                None => Ok(0),
            }
        };
        let v = RosVersion::new(next(true)?, next(true)?, next(false)?);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(v)
    }
}

impl fmt::Display for RosVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// Simulated customers using vouchers. Off unless set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerConfig {
    /// New hotspot logins per real minute (each picks an enabled voucher with time and bytes
    /// left and a free shared-users slot).
    pub logins_per_minute: f64,
    /// Simulated seconds per real second: uptime and bytes grow this much faster.
    pub time_scale: f64,
    /// Traffic of one logged-in customer, per simulated second (split 1:4 between upload and
    /// download).
    pub bytes_per_second: u64,
}

impl Default for CustomerConfig {
    fn default() -> Self {
        CustomerConfig {
            logins_per_minute: 6.0,
            time_scale: 1.0,
            bytes_per_second: 50_000,
        }
    }
}

/// Faults a test can inject. All off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultSettings {
    /// Added to every reply. Replies leave at `processed + latency`, in order, without holding
    /// back the commands that follow (a slow link, not a slow router).
    pub latency: Duration,
    /// CPU time per command, serialised across all sessions (one global lock): a busy router.
    pub service_time: Duration,
    /// Each new connection is closed after this many commands (`/login` included) have been
    /// answered.
    pub drop_after: Option<u64>,
    /// Every login is answered as if the credentials were wrong.
    pub refuse_logins: bool,
}

/// Everything [`super::start`] needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Plain API listener; port 0 picks a free one.
    pub listen: SocketAddr,
    /// API-SSL listener, with a self-signed certificate.
    pub api_ssl: Option<SocketAddr>,
    pub user: String,
    pub password: String,
    pub ros_version: RosVersion,
    pub identity: String,
    /// `board-name` and routerboard `model`; `CHR` makes a virtual router without
    /// `/system/routerboard`.
    pub model: String,
    /// JSON file with users, profiles, ids and identity: loaded at start, saved after changes.
    pub state_file: Option<PathBuf>,
    pub customers: Option<CustomerConfig>,
    pub faults: FaultSettings,
    /// Line-protocol control listener.
    pub control: Option<SocketAddr>,
}

impl SimConfig {
    /// A RouterOS 7.16 RB5009 on 127.0.0.1 (free port), `admin` / `sim-password`, no TLS,
    /// no state file, no customers, no faults.
    pub fn local() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_ssl: None,
            user: "admin".into(),
            password: "sim-password".into(),
            ros_version: RosVersion::default(),
            identity: "sim-router".into(),
            model: "RB5009UG+S+".into(),
            state_file: None,
            customers: None,
            faults: FaultSettings::default(),
            control: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_compare_and_print() {
        let v: RosVersion = "6.49.10".parse().expect("valid");
        assert_eq!(v, RosVersion::new(6, 49, 10));
        assert_eq!(v.to_string(), "6.49.10");
        assert!(!v.legacy_login());
        assert!(
            "6.42.12"
                .parse::<RosVersion>()
                .expect("valid")
                .legacy_login()
        );
        assert!(!"6.43".parse::<RosVersion>().expect("valid").legacy_login());
        assert!(!"7.16".parse::<RosVersion>().expect("valid").sends_empty());
        assert!("7.18".parse::<RosVersion>().expect("valid").sends_empty());
        assert!("7.19.1".parse::<RosVersion>().expect("valid").sends_empty());
        assert_eq!(
            "7.16".parse::<RosVersion>().expect("valid").to_string(),
            "7.16"
        );
        for bad in ["", "7", "7.x", "7.1.2.3", "seven"] {
            assert!(bad.parse::<RosVersion>().is_err(), "{bad}");
        }
    }
}
