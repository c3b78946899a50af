//! `hotspot-link`: the durable, mutually authenticated QUIC channel between the controller and
//! its agents.
//!
//! The channel is written once, generic over its payloads, and used by both ends:
//! the controller runs a [`LinkServer`] (`<Cmd, Evt, Q, R>`: it sends commands and receives
//! events), each agent runs a [`LinkClient`] (`<Evt, Cmd, Q, R>`). `Q`/`R` are the request and
//! response types of the non-durable side channel ("test this router now"), the same in both
//! directions.
//!
//! The promise is *nothing accepted is lost or applied twice*:
//! - [`outbox`]: `send` returns once the message is committed **and covered by a durability
//!   barrier** (`hotspot_storage::Db::barrier`, an fsync shared by concurrent callers); an
//!   entry leaves on the wire only once durable, and is deleted only on the peer's cumulative
//!   `Ack`.
//! - [`inbox`]: the receiver applies a message and records its sequence number in one
//!   transaction (everything one read delivered in one); redelivered messages are acknowledged
//!   again and not applied; a gap closes the connection. Acks (and the Hello's
//!   `last_received`) leave only after a barrier.
//! - `session`: one connection's protocol loop: Hello each way, then data, acks, heartbeats
//!   and requests on one bidirectional stream, with a reader and a writer that never wait on
//!   each other (so two busy peers cannot deadlock on flow control).
//! - [`server`] / [`client`]: the endpoints; site identity comes from the client certificate
//!   only; the agent reconnects with capped, fully jittered exponential backoff ([`backoff`]).
//! - [`mod@enroll`]: the one exchange a connection without a client certificate may perform.
//! - [`udp`]: UDP sockets with a chosen receive buffer (the fleet endpoint's, the test proxy's).
//!
//! Everything is bounded: frame size, outbox entries per peer, unacknowledged window, requests
//! in flight, concurrent connections and enrollments.

pub mod backoff;
pub mod client;
pub mod config;
pub mod enroll;
pub mod error;
pub mod hooks;
pub mod inbox;
pub mod loss;
pub mod outbox;
pub mod peer;
pub mod recording;
pub mod server;
pub mod udp;
pub mod wire;

mod channel;
mod registry;
mod session;

#[cfg(test)]
mod powercut_tests;

pub use client::{ClientTls, LinkClient, LinkState};
pub use config::{ClientConfig, Congestion, LinkConfig, ServerConfig};
pub use enroll::enroll;
pub use error::{ApplyError, LinkError};
pub use hooks::{ControlHooks, EnrollRefusal, Enroller, RefuseRequests, Renewer, Responder};
pub use inbox::Inbound;
pub use loss::{Loss, LossKind, Losses};
pub use outbox::{PushAbort, PushWithError};
pub use peer::PeerId;
pub use recording::RecordingInbox;
pub use registry::{SiteEvent, SiteStatus};
pub use server::{LinkServer, ServerTls, WeakLinkServer};
pub use udp::bind_udp;
pub use wire::{CloseCode, EnrollGrant, EnrollReply, EnrollRequest};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// What may travel as a payload: postcard-serialisable, owned, shareable.
pub trait Payload: Serialize + DeserializeOwned + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Payload for T {}
