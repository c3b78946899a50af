//! The agent's configuration: a small TOML file, or two command-line flags.
//!
//! Why it is shaped so: an agent runs unattended on a small box at a site, so every setting has
//! a default that suits a hotspot router on the LAN and a 5-minute sync cadence, and every
//! default is written down once, in [`DEFAULT_CONFIG`] (what `hotspot-agent config
//! --print-default` prints), and checked against the code by a test. Unknown keys are refused,
//! so a typo is an error at start-up instead of a silently ignored setting. Durations are
//! written the RouterOS way (`"5m"`, `"30s"`, `"1h"`, or `"5 min"`).
//!
//! The file is read into [`ConfigFile`]; [`ConfigFile::into_settings`] checks the bounds and
//! produces [`Settings`], the runtime form (std `Duration`s, the link's `ClientConfig`), which
//! tests build directly with shorter intervals.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hotspot_link::{ClientConfig, Congestion, LinkConfig};
use hotspot_shared::units::RosDuration;
use serde::Deserialize;

/// The documented defaults; parsing it gives [`ConfigFile`] with every default.
pub const DEFAULT_CONFIG: &str = include_str!("config/default.toml");

/// Largest apply batch (items taken from the queue and pipelined at once).
pub const MAX_BATCH_SIZE: usize = 10_000;
/// Queue items per apply batch. Decisions stream out while a batch runs, so its size only
/// sets how often the pipeline to the router drains (once a batch, about one round trip):
/// 2,000 keeps that under 3% at 50 ms while a batch holds well under a megabyte.
pub const DEFAULT_BATCH_SIZE: usize = 2_000;
/// Largest RouterOS pipelining window.
pub const MAX_WINDOW: usize = 1024;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// The file as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where the agent keeps its key, certificates, master key and database.
    pub data_dir: PathBuf,
    pub controller: ControllerSection,
    #[serde(default)]
    pub jobs: JobsSection,
    #[serde(default)]
    pub apply: ApplySection,
    #[serde(default)]
    pub router: RouterSection,
    /// The staff page on the site's LAN; absent = no local page.
    #[serde(default)]
    pub local: Option<LocalSection>,
}

/// `[local]`: where the staff page listens, and whether over HTTPS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSection {
    /// `ADDR:PORT` on the site's LAN.
    pub listen: String,
    /// HTTPS with a self-signed certificate made on first start and kept in the data dir
    /// (default); `false` serves plain HTTP.
    #[serde(default = "default_true")]
    pub tls: bool,
}

fn default_true() -> bool {
    true
}

/// The local staff page, in runtime form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSettings {
    pub listen: SocketAddr,
    pub tls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerSection {
    /// `HOST:PORT` of the controller's fleet link (UDP).
    pub address: String,
    /// Name the controller's certificate must carry; default: the host part of `address`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Longest wait between two reconnect attempts (the waits double from 0.5 s, fully
    /// jittered): how long the agent may take to notice that the uplink is back.
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max: RosDuration,
    /// QUIC congestion control of what the agent sends: `bbr` (default) or `cubic`.
    #[serde(default)]
    pub congestion: Congestion,
}

/// The default ceiling of the agent's reconnect waits.
pub const DEFAULT_RECONNECT_MAX: RosDuration = RosDuration::from_secs(15);

fn default_reconnect_max() -> RosDuration {
    DEFAULT_RECONNECT_MAX
}

impl ControllerSection {
    /// `address` with the other settings at their defaults.
    pub fn new(address: impl Into<String>) -> Self {
        ControllerSection {
            address: address.into(),
            server_name: None,
            reconnect_max: DEFAULT_RECONNECT_MAX,
            congestion: Congestion::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsSection {
    pub usage_sync: RosDuration,
    pub health: RosDuration,
    pub router_probe: RosDuration,
    pub renewal_check: RosDuration,
}

impl Default for JobsSection {
    fn default() -> Self {
        JobsSection {
            usage_sync: RosDuration::from_secs(300),
            health: RosDuration::from_secs(300),
            router_probe: RosDuration::from_secs(60),
            renewal_check: RosDuration::from_secs(3600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApplySection {
    pub batch_size: usize,
    pub window: usize,
    pub retry_min: RosDuration,
    pub retry_max: RosDuration,
    pub poll: RosDuration,
}

impl Default for ApplySection {
    fn default() -> Self {
        ApplySection {
            batch_size: DEFAULT_BATCH_SIZE,
            window: 64,
            retry_min: RosDuration::from_secs(1),
            retry_max: RosDuration::from_secs(60),
            poll: RosDuration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterSection {
    pub connect_timeout: RosDuration,
    pub command_timeout: RosDuration,
    pub query_deadline: RosDuration,
}

impl Default for RouterSection {
    fn default() -> Self {
        RouterSection {
            connect_timeout: RosDuration::from_secs(5),
            command_timeout: RosDuration::from_secs(10),
            query_deadline: RosDuration::from_secs(15),
        }
    }
}

/// Intervals of the background jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// Usage of every voucher, users on the router, repair of missing users.
    pub usage_sync: Duration,
    /// Health sample (and router info when it changed).
    pub health: Duration,
    /// Light reachability check: a router going down or up shows within this.
    pub router_probe: Duration,
    /// How often the certificate's age is checked for renewal.
    pub renewal_check: Duration,
}

/// How the apply queue is worked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplySettings {
    /// Most queue items handled (pipelined) in one batch.
    pub batch_size: usize,
    /// Most RouterOS commands in flight on the router session.
    pub window: usize,
    /// First delay after a batch could not finish (router unreachable); doubles up to
    /// `retry_max`, with full jitter.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// The queue is also looked at this often without a wake-up.
    pub poll: Duration,
}

/// Deadlines of RouterOS calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSettings {
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// Whole answer to a controller's query (info, stats, kick, sync).
    pub query_deadline: Duration,
}

/// Everything `run` needs, in runtime form.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// The fleet link: controller address, server name, link intervals, reconnect backoff.
    pub client: ClientConfig,
    pub jobs: JobSettings,
    pub apply: ApplySettings,
    pub router: RouterSettings,
    /// The local staff page, when configured.
    pub local: Option<LocalSettings>,
    /// After the disk filled up (the engine refuses writes until the database is reopened),
    /// exit with [`crate::runtime::EXIT_STORAGE_RECOVERED`] once space is back, for the
    /// service manager to restart the agent with a fresh database handle. On for `run`
    /// (from a config file); off in [`Settings::new`] (tests running agents in-process).
    pub exit_when_storage_recovers: bool,
}

fn secs(d: RosDuration) -> Duration {
    Duration::from_secs(d.as_secs())
}

impl Settings {
    /// Every default, for an agent in `data_dir` talking to `controller`.
    pub fn new(data_dir: impl Into<PathBuf>, controller: SocketAddr, server_name: &str) -> Self {
        let defaults = ConfigFile {
            data_dir: data_dir.into(),
            controller: ControllerSection {
                server_name: Some(server_name.to_owned()),
                ..ControllerSection::new(controller.to_string())
            },
            jobs: JobsSection::default(),
            apply: ApplySection::default(),
            router: RouterSection::default(),
            local: None,
        };
        let mut settings = defaults.build(controller, server_name.to_owned());
        settings.exit_when_storage_recovers = false;
        settings
    }
}

impl ConfigFile {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ConfigFile::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses TOML text; the message names the line and the key.
    pub fn parse(text: &str) -> Result<ConfigFile, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: {}", e.message())
            }
            None => e.message().to_owned(),
        })
    }

    /// The server name to expect: the configured one, or the host part of the address.
    pub fn server_name(&self) -> String {
        match &self.controller.server_name {
            Some(name) => name.clone(),
            None => host_of(&self.controller.address).to_owned(),
        }
    }

    /// Checks every bound and builds the runtime settings; `controller` is the resolved
    /// `controller.address`.
    pub fn into_settings(self, controller: SocketAddr) -> Result<Settings, ConfigError> {
        self.validate()?;
        let name = self.server_name();
        Ok(self.build(controller, name))
    }

    /// Checks every bound (the address is resolved later, at start).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir", "must not be empty");
        }
        let j = &self.jobs;
        for (key, d) in [
            ("jobs.usage_sync", j.usage_sync),
            ("jobs.health", j.health),
            ("jobs.router_probe", j.router_probe),
            ("jobs.renewal_check", j.renewal_check),
            ("apply.retry_min", self.apply.retry_min),
            ("apply.poll", self.apply.poll),
            ("router.connect_timeout", self.router.connect_timeout),
            ("router.command_timeout", self.router.command_timeout),
            ("router.query_deadline", self.router.query_deadline),
            ("controller.reconnect_max", self.controller.reconnect_max),
        ] {
            if d.as_secs() == 0 {
                return invalid(key, "must be at least 1s");
            }
        }
        if self.controller.reconnect_max.as_secs() > 3600 {
            return invalid("controller.reconnect_max", "must be at most 1h");
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.apply.batch_size) {
            return invalid("apply.batch_size", "must be between 1 and 10000");
        }
        if !(1..=MAX_WINDOW).contains(&self.apply.window) {
            return invalid("apply.window", "must be between 1 and 1024");
        }
        if self.apply.retry_max < self.apply.retry_min {
            return invalid("apply.retry_max", "must not be below apply.retry_min");
        }
        if let Some(local) = &self.local
            && local.listen.parse::<SocketAddr>().is_err()
        {
            return invalid(
                "local.listen",
                "must be ADDR:PORT, e.g. \"192.168.88.2:8443\"",
            );
        }
        Ok(())
    }

    fn build(self, controller: SocketAddr, server_name: String) -> Settings {
        Settings {
            data_dir: self.data_dir,
            client: ClientConfig {
                link: LinkConfig {
                    software: format!("hotspot-agent {}", env!("CARGO_PKG_VERSION")),
                    congestion: self.controller.congestion,
                    ..LinkConfig::default()
                },
                backoff_cap: secs(self.controller.reconnect_max),
                ..ClientConfig::new(controller, server_name)
            },
            jobs: JobSettings {
                usage_sync: secs(self.jobs.usage_sync),
                health: secs(self.jobs.health),
                router_probe: secs(self.jobs.router_probe),
                renewal_check: secs(self.jobs.renewal_check),
            },
            apply: ApplySettings {
                batch_size: self.apply.batch_size,
                window: self.apply.window,
                retry_min: secs(self.apply.retry_min),
                retry_max: secs(self.apply.retry_max),
                poll: secs(self.apply.poll),
            },
            router: RouterSettings {
                connect_timeout: secs(self.router.connect_timeout),
                command_timeout: secs(self.router.command_timeout),
                query_deadline: secs(self.router.query_deadline),
            },
            exit_when_storage_recovers: true,
            local: self.local.and_then(|l| {
                Some(LocalSettings {
                    listen: l.listen.parse().ok()?,
                    tls: l.tls,
                })
            }),
        }
    }
}

/// The host part of `HOST:PORT` or `[V6]:PORT` (the whole text when there is no port).
pub fn host_of(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match address.rsplit_once(':') {
        Some((host, _)) if !host.contains(':') => host,
        _ => address,
    }
}

#[cfg(test)]
mod tests;
