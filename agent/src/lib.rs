//! hotspot-agent: the site agent of hotspot-fleet.
//!
//! One agent runs beside a site's MikroTik routers. It receives commands from the controller
//! over the fleet link, keeps them in a durable apply queue, and puts them on the routers;
//! it reports what happened, reads usage and health, and repairs routers that lost their
//! users. Codemap:
//!
//! - [`routeros`]: the RouterOS API client (sessions, pool, typed operations);
//! - [`config`]: the TOML file and the runtime [`config::Settings`];
//! - [`store`]: the database's tables (routers with sealed passwords, apply queue, desired state, …);
//! - [`inbound`]: commands applied in the link's transaction (queue writes only);
//! - [`responder`]: the controller's questions answered from the live router;
//! - [`routers`]: live routers (pool, wake-ups, down/up), sealing of router passwords;
//! - [`apply`]: the per-router apply worker, and the "already exists" comparison;
//! - [`jobs`]: usage sync and repair, health, info, reachability;
//! - [`local`]: selling at the site: the staff page and API, offline issuance;
//! - [`identity`], [`enroll`], [`renewal`]: the agent's key and certificate, from token to
//!   rotation;
//! - [`core`]: what every task shares (`Core`: settings, store, keyring, live routers,
//!   the link, the stop signal) and the clock that stamps events, below all the tasks;
//! - [`runtime`]: starting and stopping all of it ([`runtime::AgentHandle`]); it only wires
//!   the tasks together, and nothing imports it back;
//! - [`probe`]: the `probe` command's report.
//!
//! The client is an IO shell around the no-IO codec in `hotspot_shared::routeros`; the
//! controller never talks to a router, only agents do.

pub mod apply;
pub mod cli;
pub mod config;
pub mod core;
pub mod enroll;
#[cfg(test)]
mod fixtures;
pub mod heal;
pub mod identity;
pub mod inbound;
pub mod jobs;
pub mod local;
pub mod memory;
pub mod probe;
pub mod renewal;
pub mod responder;
pub mod routeros;
pub mod routers;
pub mod runtime;
pub mod store;

pub use crate::core::Link;
pub use config::{ConfigFile, Settings};
pub use runtime::{AgentError, AgentHandle};
