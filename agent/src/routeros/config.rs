//! What it takes to reach one router, with every limit spelled out.
//!
//! Each bound (connect and command deadlines, in-flight window, items per reply, reconnect
//! schedule) is a field with a default chosen for a hotspot router on the LAN, so a caller can
//! tighten it (a CLI probe, a heartbeat) without the client hiding any unbounded wait.
//! The password sits in [`SecretString`], whose `Debug` prints `***`, so a config can be
//! logged whole.

use std::fmt;
use std::time::Duration;

use super::tls::TlsTrust;

/// A secret that never shows in `Debug` output or logs. The bytes are readable on purpose with
/// [`SecretString::expose`], at the one place that sends them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(secret: impl Into<String>) -> Self {
        SecretString(secret.into())
    }

    /// The secret itself: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString(s.to_owned())
    }
}

/// How a pool reopens a broken connection: exponential delays from `base`, doubling up to `cap`,
/// each drawn uniformly from `[0, delay]` (full jitter), at most `max_attempts` retries after
/// the first try within one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: usize,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            max_attempts: 6,
        }
    }
}

impl ReconnectPolicy {
    /// One try, no retry: for interactive tools that report the first error.
    pub fn no_retry() -> Self {
        ReconnectPolicy {
            max_attempts: 0,
            ..ReconnectPolicy::default()
        }
    }
}

/// Everything needed to open and run sessions to one router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: SecretString,
    /// `Some` for API-SSL.
    pub tls: Option<TlsTrust>,
    /// TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Each command, from queueing to its `!done`; also the login exchange.
    pub command_timeout: Duration,
    /// Most commands in flight on one connection.
    pub window: usize,
    /// Most `!re` items one command may return before it fails as a protocol error.
    pub max_reply_items: usize,
    /// Sessions the pool keeps to this router (routers limit API sessions: keep it small).
    pub pool_size: usize,
    pub reconnect: ReconnectPolicy,
}

impl RouterConfig {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
    /// Commands in flight on one session. RouterOS documents no limit of its own: replies
    /// carry their command's `.tag` and may interleave, and a session reads commands off TCP as
    /// it works them, so what a router "accepts" is bounded by TCP flow control, never by a
    /// refusal. The bound we rely on is this window (at most `MAX_WINDOW` = 1,024 by config):
    /// it keeps every command's wait on the router (window × service time: 64 ms at 1 ms a
    /// command) far inside `command_timeout`, and 64 still outruns a router 50 ms away (64 in
    /// 51 ms is 1,250 adds/s against the 1,000/s a 1 ms router serves; measured by
    /// `bench-vouchers`).
    pub const DEFAULT_WINDOW: usize = 64;
    pub const DEFAULT_MAX_REPLY_ITEMS: usize = 100_000;

    /// Plain API (no TLS) with default limits.
    pub fn plain(
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
        password: impl Into<SecretString>,
    ) -> Self {
        RouterConfig {
            host: host.into(),
            port,
            username: username.into(),
            password: password.into(),
            tls: None,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            command_timeout: Self::DEFAULT_COMMAND_TIMEOUT,
            window: Self::DEFAULT_WINDOW,
            max_reply_items: Self::DEFAULT_MAX_REPLY_ITEMS,
            pool_size: 1,
            reconnect: ReconnectPolicy::default(),
        }
    }

    /// API-SSL with `trust`, default limits.
    pub fn tls(
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
        password: impl Into<SecretString>,
        trust: TlsTrust,
    ) -> Self {
        RouterConfig {
            tls: Some(trust),
            ..RouterConfig::plain(host, port, username, password)
        }
    }

    /// `host:port` for messages (never includes credentials).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let cfg = RouterConfig::plain("10.0.0.1", 8728, "admin", "hunter2-secret");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
        assert_eq!(cfg.password.expose(), "hunter2-secret");
    }

    #[test]
    fn address_brackets_ipv6() {
        assert_eq!(
            RouterConfig::plain("::1", 8728, "a", "b").address(),
            "[::1]:8728"
        );
        assert_eq!(
            RouterConfig::plain("r1.lan", 8729, "a", "b").address(),
            "r1.lan:8729"
        );
    }
}
