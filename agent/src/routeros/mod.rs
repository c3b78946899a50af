//! The agent's RouterOS API client: sessions, a pool per router, and typed operations.
//!
//! Layers, bottom up (the wire codec itself lives in `hotspot_shared::routeros`, without IO):
//! - [`tls`]: API-SSL with a CA or a certificate pin;
//! - `login` and `dispatch`: the login exchange, and the tag table plus the reader and writer
//!   tasks of a pipelined session;
//! - [`connection`]: one session ([`Connection`]), shared by many tasks;
//! - [`pool`]: [`Router`], a few sessions per router reopened with backoff;
//! - [`ops`]: typed menu operations on a [`Router`].
//!
//! Every failure is a [`RouterError`] a caller can act on; every wait and buffer is bounded by a
//! field of [`RouterConfig`].

pub mod config;
pub mod connection;
mod dispatch;
pub mod error;
mod login;
pub mod ops;
pub mod pool;
pub mod tls;

pub use config::{ReconnectPolicy, RouterConfig, SecretString};
pub use connection::Connection;
pub use dispatch::Response;
pub use error::RouterError;
pub use ops::{
    ActiveSession, HotspotServer, HotspotUser, HotspotUserEntry, ProfileSpec, RouterId,
    Routerboard, SystemResource, UserChanges, UserQuery,
};
pub use pool::Router;
pub use tls::{TlsTrust, cert_fingerprint};
