//! hotspot-agent: the site agent of hotspot-fleet.
//!
//! For now it holds the RouterOS client ([`routeros`]): pipelined API sessions over TCP or TLS,
//! a small pool per router that reopens broken sessions with backoff, and typed hotspot
//! operations. The fleet link, the durable queues and the local staff page build on it.
//!
//! The client is an IO shell around the no-IO codec in `hotspot_shared::routeros`: bytes and
//! sentences are that crate's business, sockets, tasks and deadlines are this one's.

pub mod probe;
pub mod routeros;
