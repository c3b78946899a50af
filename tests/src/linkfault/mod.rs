//! The link-fault proxy: a UDP relay between agents and the controller that makes the link as
//! bad as a site's uplink can be (cut, lossy, slow, jittery, reordering, duplicating), on
//! command, while a test runs.
//!
//! Why it is shaped so:
//! - **A relay, not a socket wrapper.** QUIC lives in quinn's own UDP socket; the only place to
//!   hurt its traffic without touching agent or controller code is on the wire. Agents dial
//!   [`LinkFaultProxy::local_addr`] as if it were the controller.
//! - **One upstream socket per client**, as a NAT does, so the controller sees each agent as a
//!   distinct peer and replies find their way back; idle mappings expire and the table is
//!   bounded (`nat`).
//! - **Per-direction faults**, because real links are asymmetric and some bugs only show when
//!   acks are lost but data is not ([`Direction`]).
//! - **Decisions without IO.** What happens to a datagram is a pure function of the settings
//!   and a random draw ([`faults`]); the relay (`relay`) only carries it out, and delays go
//!   to one timer queue (`delay_line`) so a delayed datagram never holds up the others.
//! - **Counted, not timed.** Tests assert on [`ProxyStats`] and on what arrived, with wide
//!   statistical margins, never on how long something took.
//! - **Bounded.** Mappings, delayed datagrams, datagram size and control connections all have
//!   caps; going over a cap drops and counts, like a congested link.
//!
//! The `linkfault-proxy` binary wraps the same proxy with flags and a TCP line [`control`]
//! interface for manual and cross-language use.
//!
//! ```no_run
//! # async fn demo(controller: std::net::SocketAddr) -> std::io::Result<()> {
//! use hotspot_tests::linkfault::{Direction, Faults, LinkFaultProxy};
//! use std::time::Duration;
//!
//! let proxy = LinkFaultProxy::start("127.0.0.1:0".parse().unwrap(), controller).await?;
//! // ... point the agent at proxy.local_addr() ...
//! proxy.set(Direction::Both, Faults { drop_percent: 30.0, ..Faults::default() });
//! proxy.update(Direction::ToClient, |f| f.delay = Duration::from_millis(200));
//! proxy.blackhole();
//! proxy.restore();
//! println!("{:?}", proxy.stats());
//! proxy.shutdown().await;
//! # Ok(()) }
//! ```

pub mod control;
mod delay_line;
pub mod faults;
mod nat;
mod proxy;
mod relay;
mod shutdown;
mod stats;

pub use control::{Command, ControlServer};
pub use faults::{Direction, Faults, MAX_DELAY};
pub use proxy::{LinkFaultProxy, LinkFaults, ProxyConfig};
pub use stats::{DirectionStats, ProxyStats};

/// Receive buffer asked for every socket of the proxy (the kernel caps it at
/// `net.core.rmem_max`): a burst must not overflow the proxy's own sockets, or the proxy would
/// lose datagrams it was not told to lose.
pub const RECV_BUFFER: usize = 4 << 20;

/// A tokio UDP socket bound to `addr` with a [`RECV_BUFFER`] receive buffer.
pub fn bind_udp(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let socket = hotspot_link::bind_udp(addr, RECV_BUFFER)?;
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket)
}
