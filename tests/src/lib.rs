//! hotspot-tests: the test tooling of hotspot-fleet.
//!
//! - [`sim`]: `routeros-sim`, a simulated MikroTik router speaking the RouterOS API (plain and
//!   API-SSL) that unmodified third-party clients accept, with hotspot users, customers using
//!   their vouchers, and injectable faults. The `routeros-sim` binary wraps it.
//!
//! Other tools (the link-fault proxy, the end-to-end harness, benchmarks, the import-circle
//! check) live beside it as their own modules.

pub mod demo;
pub mod faultkit;
pub mod fleetkit;
pub mod ideal;
pub mod import_graph;
pub mod linkfault;
pub mod local_staff;
pub mod ports;
pub mod powerfs;
pub mod sim;
pub mod skip;
