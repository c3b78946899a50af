//! Every interval and bound of the link, in one place, with production defaults.
//!
//! Tests and the fault suites shrink the intervals (heartbeats, idle timeout, offline
//! threshold, backoff) instead of sleeping through production ones; nothing in the link reads
//! a constant that is not here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hotspot_shared::fleet::MAX_FRAME_LEN;

use crate::error::LinkError;

/// Settings both ends share.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// Largest frame body accepted or sent.
    pub max_frame_len: usize,
    /// Most messages waiting in one peer's outbox; `send` fails with `OutboxFull` beyond.
    pub max_outbox_entries: u64,
    /// Most data messages sent and not yet acknowledged on one connection.
    pub max_unacked: u64,
    /// Most requests waiting for an answer, and most being answered, per connection.
    pub max_requests_in_flight: usize,
    /// An application heartbeat is sent after this long without sending anything.
    pub heartbeat_interval: Duration,
    /// QUIC keep-alive (PING) interval.
    pub keep_alive_interval: Duration,
    /// QUIC idle timeout: the connection is dead after this long without packets.
    pub idle_timeout: Duration,
    /// Time allowed for the QUIC handshake, opening the stream and the Hello exchange.
    pub hello_timeout: Duration,
    /// Free text sent in the Hello, for the peer's logs.
    pub software: String,
    /// The congestion controller of what this end sends.
    pub congestion: Congestion,
}

/// QUIC congestion control for what one end sends.
///
/// Site uplinks lose packets for reasons that are not congestion (radio, satellite, a busy
/// 4G cell); loss-based Cubic shrinks its window at each loss and crawls there, BBR paces by
/// the measured bandwidth and round trip. Measured with the fault suite (30 % loss and 300 ms
/// delay both ways, 1,000 vouchers): the three views agreed 0.3–3.1 s after the last sale with
/// BBR, 17–61 s with Cubic (`FAULT_SUITE_CONGESTION`); on a clean link the two are alike (`bench-fleet`). quinn marks its
/// BBR experimental, so Cubic stays one setting away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Congestion {
    #[default]
    Bbr,
    Cubic,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            max_frame_len: MAX_FRAME_LEN,
            max_outbox_entries: 100_000,
            max_unacked: 1024,
            max_requests_in_flight: 64,
            heartbeat_interval: Duration::from_secs(10),
            keep_alive_interval: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            hello_timeout: Duration::from_secs(10),
            software: format!("hotspot-link {}", env!("CARGO_PKG_VERSION")),
            congestion: Congestion::default(),
        }
    }
}

impl LinkConfig {
    /// Short intervals for tests on loopback: heartbeats every 200 ms, idle after 3 s.
    pub fn fast_for_tests() -> Self {
        LinkConfig {
            heartbeat_interval: Duration::from_millis(200),
            keep_alive_interval: Duration::from_millis(300),
            idle_timeout: Duration::from_secs(3),
            hello_timeout: Duration::from_secs(3),
            ..LinkConfig::default()
        }
    }

    /// Refuses settings that cannot work (zero caps, keep-alive not below idle timeout).
    pub fn validate(&self) -> Result<(), LinkError> {
        let bad = |what: &str| Err(LinkError::Config(what.to_string()));
        if self.max_frame_len < 1024 || self.max_frame_len > u32::MAX as usize {
            return bad("max_frame_len must be between 1 KiB and 4 GiB");
        }
        if self.max_outbox_entries == 0 || self.max_unacked == 0 || self.max_requests_in_flight == 0
        {
            return bad(
                "max_outbox_entries, max_unacked and max_requests_in_flight must be positive",
            );
        }
        if self.keep_alive_interval.is_zero() || self.keep_alive_interval >= self.idle_timeout {
            return bad("keep_alive_interval must be positive and below idle_timeout");
        }
        if self.heartbeat_interval.is_zero() || self.hello_timeout.is_zero() {
            return bad("heartbeat_interval and hello_timeout must be positive");
        }
        Ok(())
    }

    /// QUIC transport settings. Only the agent opens a stream, exactly one bidirectional one;
    /// the controller accepts at most one from each connection and opens none.
    pub(crate) fn transport(&self, server: bool) -> Result<Arc<quinn::TransportConfig>, LinkError> {
        let mut t = quinn::TransportConfig::default();
        t.keep_alive_interval(Some(self.keep_alive_interval));
        let idle = quinn::IdleTimeout::try_from(self.idle_timeout)
            .map_err(|_| LinkError::Config("idle_timeout is too large".into()))?;
        t.max_idle_timeout(Some(idle));
        t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(u32::from(server)));
        t.max_concurrent_uni_streams(quinn::VarInt::from_u32(0));
        match self.congestion {
            Congestion::Bbr => {
                t.congestion_controller_factory(Arc::new(quinn::congestion::BbrConfig::default()))
            }
            Congestion::Cubic => {
                t.congestion_controller_factory(Arc::new(quinn::congestion::CubicConfig::default()))
            }
        };
        Ok(Arc::new(t))
    }
}

/// The controller's endpoint.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub link: LinkConfig,
    /// UDP address to listen on (default `0.0.0.0:4433`; tests use port 0 and `local_addr()`).
    pub listen: SocketAddr,
    /// A connected site that sent no frame for this long is offline and its connection closed.
    pub offline_after: Duration,
    /// Most simultaneous connections (authenticated or enrolling); more are refused.
    pub max_connections: usize,
    /// Most simultaneous enrollment exchanges.
    pub max_enrollments: usize,
    /// Receive buffer asked for the UDP socket (`SO_RCVBUF`), so that a herd of reconnecting
    /// agents does not overflow it; the kernel grants at most `net.core.rmem_max` (see
    /// `deploy/README.md`). 0 keeps the kernel's default.
    pub recv_buffer: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            link: LinkConfig::default(),
            listen: SocketAddr::from(([0, 0, 0, 0], 4433)),
            offline_after: Duration::from_secs(45),
            max_connections: 20_000,
            max_enrollments: 16,
            recv_buffer: 8 << 20,
        }
    }
}

/// The agent's endpoint.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub link: LinkConfig,
    /// The controller's UDP address.
    pub controller: SocketAddr,
    /// The name the controller's certificate must carry (a DNS name or IP address SAN).
    pub server_name: String,
    /// First reconnect delay ceiling; doubles per failed attempt.
    pub backoff_base: Duration,
    /// Largest reconnect delay ceiling.
    pub backoff_cap: Duration,
    /// A session that lasted this long resets the backoff.
    pub stable_after: Duration,
}

impl ClientConfig {
    pub fn new(controller: SocketAddr, server_name: impl Into<String>) -> Self {
        ClientConfig {
            link: LinkConfig::default(),
            controller,
            server_name: server_name.into(),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(15),
            stable_after: Duration::from_secs(30),
        }
    }
}
