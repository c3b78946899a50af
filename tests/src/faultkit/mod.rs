//! The fault suite (issue 6 §3): scenarios over real processes — `hotspot-controller` and
//! `hotspot-agent` as children killed with SIGKILL, the link through the link-fault proxy, the
//! RouterOS simulator with its fault orders — each ending with the ledger, the agent's database and
//! the router's users compared ([`views::compare`]).
//!
//! Run by `tests/faults.rs` (one test per scenario, CI sizes) and by the `fault-suite` binary
//! (all scenarios in a row, `--soak` for larger runs); both print the summary table and write
//! it to `target/fault-summary.txt`.

pub mod fleet;
pub mod local;
pub mod proc;
pub mod scenarios;
pub mod summary;
pub mod views;

pub use fleet::{Fleet, FleetOptions};
pub use proc::Binaries;
pub use scenarios::Scale;
pub use summary::Row;
