//! The controller's TOML config file: every setting, its default, and the checks on it.
//!
//! Why it is shaped so:
//! - **One documented template.** [`default_toml`] is the file `hotspot-controller config
//!   --print-default` prints: every setting with its default and a comment. A test parses it
//!   and compares with [`Config::default`], and checks every key is in it, so the two cannot
//!   drift apart.
//! - **Errors with a place.** Unknown keys are refused (`deny_unknown_fields`); values that
//!   check themselves while read (addresses, times, offsets, URLs, non-zero numbers) are
//!   reported by the TOML parser with line, column and the offending text; the checks across
//!   settings name the key and, when it is in the file, its line.
//! - **No environment reading here.** `HOTSPOT_MASTER_KEY_FILE` is honoured where the key is
//!   loaded (`hotspot_pki::keyfile::load_or_create_from_env`, [`MASTER_KEY_ENV`]), which also
//!   refuses to create a key file an environment variable names.

mod values;

use std::io::Read;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use self::values::{CookieSecure, Offset, ProxyNet, PublicUrl, TimeOfDay};
use crate::auth::cookie::CookieSettings;
use crate::auth::password::{MAX_MEMORY_KIB, PasswordParams};
use crate::auth::throttle::{ThrottleConfig, ThrottleLimits};
use crate::auth::token::SessionPolicy;

mod sections;
mod validate;
pub use self::sections::{
    AuthConfig, FleetConfig, HttpConfig, JobsConfig, MetricsConfig, SecretsConfig,
    ThrottleSettings, VouchersConfig,
};

/// Environment variable that names the master key file (never holds the key).
pub const MASTER_KEY_ENV: &str = "HOTSPOT_MASTER_KEY_FILE";
/// Largest config file read.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Largest `http.body_limit_kib`.
pub const MAX_BODY_LIMIT_KIB: u32 = 64 * 1024;
/// Largest `vouchers.max_batch` (SPEC: up to 10,000 vouchers at once).
pub const MAX_BATCH_LIMIT: u32 = 10_000;
/// Largest `vouchers.confirm_wait_ms`.
pub const MAX_CONFIRM_WAIT_MS: u64 = 60_000;

/// The documented default config file.
pub fn default_toml() -> String {
    include_str!("config/default.toml").to_owned()
}

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {} is larger than {MAX_CONFIG_BYTES} bytes", .path.display())]
    TooLarge { path: PathBuf },
    /// TOML syntax, an unknown key, or a value that did not parse; `message` has line and column.
    #[error("{}{message}", in_file(.path))]
    Syntax {
        path: Option<PathBuf>,
        message: String,
    },
    /// A value that parsed but is not acceptable; `key` is dotted (`fleet.offline_after_secs`).
    #[error("{}{}{key}: {message}", in_file(.path), at_line(.line))]
    Invalid {
        path: Option<PathBuf>,
        key: String,
        line: Option<usize>,
        message: String,
    },
}

fn in_file(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

fn at_line(line: &Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

impl ConfigError {
    fn in_path(mut self, file: &Path) -> ConfigError {
        if let ConfigError::Syntax { path, .. } | ConfigError::Invalid { path, .. } = &mut self {
            *path = Some(file.to_owned());
        }
        self
    }

    /// The dotted key at fault, for [`ConfigError::Invalid`].
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// The whole config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Ledger, PKI files and master key live here. Default `data`.
    pub data_dir: PathBuf,
    pub http: HttpConfig,
    pub fleet: FleetConfig,
    pub secrets: SecretsConfig,
    pub jobs: JobsConfig,
    pub vouchers: VouchersConfig,
    pub auth: AuthConfig,
    pub metrics: MetricsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            http: HttpConfig::default(),
            fleet: FleetConfig::default(),
            secrets: SecretsConfig::default(),
            jobs: JobsConfig::default(),
            vouchers: VouchersConfig::default(),
            auth: AuthConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

impl Config {
    /// Reads, parses and checks the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut src = String::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_string(&mut src)
            .map_err(read_err)?;
        if src.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
            });
        }
        Config::from_toml(&src).map_err(|e| e.in_path(path))
    }

    /// Parses and checks config text.
    pub fn from_toml(src: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(src).map_err(|e| ConfigError::Syntax {
            path: None,
            message: e.to_string(),
        })?;
        config.validate(src)?;
        Ok(config)
    }

    /// The checks across settings. `src` is the text the config came from, to find lines.
    pub fn validate(&self, src: &str) -> Result<(), ConfigError> {
        validate::validate(self, src)
    }

    /// The fleet CA certificate: `fleet.ca_cert`, or `<data_dir>/pki/fleet-ca.cert.pem`.
    pub fn fleet_ca_cert(&self) -> PathBuf {
        self.in_data_dir(&self.fleet.ca_cert, &["pki", hotspot_pki::ca::CA_CERT_FILE])
    }

    /// The controller's certificate chain: `fleet.cert`, or `<data_dir>/pki/controller.cert.pem`.
    pub fn fleet_cert(&self) -> PathBuf {
        self.in_data_dir(
            &self.fleet.cert,
            &["pki", hotspot_pki::controller_files::CONTROLLER_CERT_FILE],
        )
    }

    /// The controller's private key: `fleet.key`, or `<data_dir>/pki/controller.key.pem`.
    pub fn fleet_key(&self) -> PathBuf {
        self.in_data_dir(
            &self.fleet.key,
            &["pki", hotspot_pki::controller_files::CONTROLLER_KEY_FILE],
        )
    }

    /// The master key file: `secrets.master_key_file`, or `<data_dir>/master-key.key`.
    /// [`MASTER_KEY_ENV`] overrides it where the key is loaded.
    pub fn master_key_file(&self) -> PathBuf {
        self.in_data_dir(&self.secrets.master_key_file, &["master-key.key"])
    }

    fn in_data_dir(&self, set: &Option<PathBuf>, default: &[&str]) -> PathBuf {
        set.clone().unwrap_or_else(|| {
            default
                .iter()
                .fold(self.data_dir.clone(), |p, part| p.join(part))
        })
    }

    /// Whether the session cookie is `Secure` (see [`CookieSecure::Auto`]).
    pub fn cookie_secure(&self) -> bool {
        match self.http.cookie_secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => {
                self.http.tls_cert.is_some()
                    || self
                        .http
                        .public_url
                        .as_ref()
                        .is_some_and(PublicUrl::is_https)
            }
        }
    }

    pub fn cookie_settings(&self) -> CookieSettings {
        CookieSettings {
            secure: self.cookie_secure(),
            max_age: self.auth.session_policy().cookie_absolute,
        }
    }
}

impl AuthConfig {
    pub fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            cookie_idle: time::Duration::minutes(self.session_idle_mins.get().into()),
            cookie_absolute: time::Duration::hours(self.session_absolute_hours.get().into()),
            bearer_lifetime: time::Duration::days(self.bearer_days.get().into()),
        }
    }

    pub fn password_params(&self) -> PasswordParams {
        PasswordParams {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }
}

impl ThrottleSettings {
    pub fn throttle_config(&self) -> ThrottleConfig {
        let secs = |n: NonZeroU64| std::time::Duration::from_secs(n.get());
        ThrottleConfig {
            account: ThrottleLimits {
                free_failures: self.account_max_failures.get(),
            },
            address: ThrottleLimits {
                free_failures: self.address_max_failures.get(),
            },
            lockout_base: secs(self.lockout_base_secs),
            lockout_max: secs(self.lockout_max_secs),
            forget_after: secs(self.forget_after_secs),
            max_tracked: self.max_tracked.get() as usize,
        }
    }
}

impl JobsConfig {
    /// The first reconciliation time strictly after `now`, at `reconcile_at` in `utc_offset`.
    pub fn next_reconcile(&self, now: time::OffsetDateTime) -> time::OffsetDateTime {
        let local = now.to_offset(self.utc_offset.0);
        let today = local
            .date()
            .with_time(self.reconcile_at.0)
            .assume_offset(self.utc_offset.0);
        if today > now {
            today
        } else {
            today + time::Duration::days(1)
        }
    }
}

/// A non-zero literal for defaults.
const fn nz64(n: u64) -> NonZeroU64 {
    match NonZeroU64::new(n) {
        Some(n) => n,
        None => panic!("zero default"),
    }
}

const fn nz32(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => panic!("zero default"),
    }
}
