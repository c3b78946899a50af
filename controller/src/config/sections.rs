//! The config file's tables, one struct each, with their defaults. The comments in
//! `default.toml` say the same for operators; a test keeps the two in step.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::PathBuf;

use hotspot_link::Congestion;
use serde::{Deserialize, Serialize};

use super::values::{CookieSecure, Offset, ProxyNet, PublicUrl, TimeOfDay, listen_addr};
use super::{nz32, nz64};

/// `[http]`: the dashboard and JSON API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on. Default `127.0.0.1:8080`.
    #[serde(deserialize_with = "listen_addr")]
    pub listen: SocketAddr,
    /// The URL people use to reach the dashboard; our origin for CSRF checks. Default none
    /// (the request's `Host` is used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<PublicUrl>,
    /// PEM certificate chain for serving HTTPS directly. Default none (plain HTTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Largest request body, KiB. Default 256.
    pub body_limit_kib: NonZeroU32,
    /// `Secure` session cookie: auto, true or false. Default auto.
    pub cookie_secure: CookieSecure,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for login throttling per
    /// address). Default none: the header is ignored, since anyone could send it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<ProxyNet>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            body_limit_kib: nz32(256),
            cookie_secure: CookieSecure::Auto,
            trusted_proxies: Vec::new(),
        }
    }
}

impl HttpConfig {
    /// `body_limit_kib` in bytes.
    pub fn body_limit_bytes(&self) -> usize {
        self.body_limit_kib.get() as usize * 1024
    }
}

/// `[fleet]`: the QUIC endpoint agents connect to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// UDP address to listen on. Default `0.0.0.0:4433`.
    #[serde(deserialize_with = "listen_addr")]
    pub listen: SocketAddr,
    /// Name agents dial, put in the controller certificate. Default `localhost`.
    pub server_name: String,
    /// Fleet CA certificate. Default `<data_dir>/pki/fleet-ca.cert.pem`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// Controller certificate chain. Default `<data_dir>/pki/controller.cert.pem`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// Controller private key. Default `<data_dir>/pki/controller.key.pem`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Expected heartbeat interval, seconds. Default 10.
    pub heartbeat_secs: NonZeroU64,
    /// A site silent this long is offline, seconds (above `heartbeat_secs`). Default 45.
    pub offline_after_secs: NonZeroU64,
    /// QUIC congestion control of what the controller sends: `bbr` or `cubic`. Default bbr.
    pub congestion: Congestion,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 4433)),
            server_name: "localhost".into(),
            ca_cert: None,
            cert: None,
            key: None,
            heartbeat_secs: nz64(10),
            offline_after_secs: nz64(45),
            congestion: Congestion::default(),
        }
    }
}

/// `[secrets]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Master key file (mode 0600, made on first start). Default `<data_dir>/master-key.key`;
    /// `HOTSPOT_MASTER_KEY_FILE` overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
}

/// `[jobs]`: background work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Usage sync interval, seconds. Default 300.
    pub usage_sync_secs: NonZeroU64,
    /// Health collection interval, seconds. Default 300.
    pub health_secs: NonZeroU64,
    /// Local time of the daily reconciliation. Default `02:00`.
    pub reconcile_at: TimeOfDay,
    /// What "local" means: a fixed UTC offset. Default `+00:00`.
    pub utc_offset: Offset,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            usage_sync_secs: nz64(300),
            health_secs: nz64(300),
            reconcile_at: TimeOfDay(time::macros::time!(02:00)),
            utc_offset: Offset(time::UtcOffset::UTC),
        }
    }
}

/// `[vouchers]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VouchersConfig {
    /// How long generation waits for the router's confirmation, ms (0 to 60000). Default 2000.
    pub confirm_wait_ms: u64,
    /// Code length when a request gives none (6 to 20). Default 8.
    pub default_length: usize,
    /// Most vouchers per request (1 to 10000). Default 10000.
    pub max_batch: NonZeroU32,
    /// The hotspot's login page that printed vouchers' QR codes open, with the code filled in
    /// (`http://hotspot.lan/login`: the hotspot server profile's DNS name). Default none: the
    /// address MikroTik's hotspot setup proposes, `http://10.5.50.1/login`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hotspot_login_url: Option<String>,
}

impl Default for VouchersConfig {
    fn default() -> Self {
        VouchersConfig {
            confirm_wait_ms: 2000,
            default_length: hotspot_shared::voucher::DEFAULT_LENGTH,
            max_batch: nz32(10_000),
            hotspot_login_url: None,
        }
    }
}

/// `[metrics]`: who may read `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A file holding a bearer token (at least 16 characters) that may read `/metrics` on the
    /// main listener (Prometheus' `bearer_token_file`); read at every scrape, so it can be
    /// rotated in place. Default none: only super admins may read it there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// A second, plain-HTTP listener serving only `/metrics` without sign-in, for a scraper on
    /// this host: a loopback address. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
}

/// `[auth]`: sessions and password hashing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Dashboard session idle timeout, minutes. Default 60.
    pub session_idle_mins: NonZeroU32,
    /// Dashboard session absolute lifetime, hours. Default 12.
    pub session_absolute_hours: NonZeroU32,
    /// API bearer token lifetime, days. Default 30.
    pub bearer_days: NonZeroU32,
    /// Argon2id memory, KiB (at most 1048576). Default 19456 (19 MiB).
    pub argon2_memory_kib: u32,
    /// Argon2id passes. Default 2.
    pub argon2_iterations: u32,
    /// Argon2id lanes. Default 1.
    pub argon2_parallelism: u32,
    /// Super admins must sign in with a second factor (TOTP). One who has none set up may
    /// only enrol (`/account/security`, `/api/auth/two-factor/*`) until they do. Default true;
    /// the demo turns it off.
    pub require_2fa_for_admins: bool,
    /// `[auth.throttle]`.
    pub throttle: ThrottleSettings,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_idle_mins: nz32(60),
            session_absolute_hours: nz32(12),
            bearer_days: nz32(30),
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            require_2fa_for_admins: true,
            throttle: ThrottleSettings::default(),
        }
    }
}

/// `[auth.throttle]`: login throttling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSettings {
    /// Failures per account before a lockout. Default 5.
    pub account_max_failures: NonZeroU32,
    /// Failures per address (IPv6 /64) before a lockout. Default 20.
    pub address_max_failures: NonZeroU32,
    /// First lockout, seconds; doubles per further failure. Default 60.
    pub lockout_base_secs: NonZeroU64,
    /// Longest lockout, seconds. Default 900.
    pub lockout_max_secs: NonZeroU64,
    /// Quiet time after which a key starts clean, seconds (≥ `lockout_max_secs`). Default 3600.
    pub forget_after_secs: NonZeroU64,
    /// Most accounts, and most addresses, tracked. Default 10000.
    pub max_tracked: NonZeroU32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            account_max_failures: nz32(5),
            address_max_failures: nz32(20),
            lockout_base_secs: nz64(60),
            lockout_max_secs: nz64(900),
            forget_after_secs: nz64(3600),
            max_tracked: nz32(10_000),
        }
    }
}
