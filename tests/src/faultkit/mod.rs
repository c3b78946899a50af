//! The fault suite (issue 6 §3): scenarios over real processes — `hotspot-controller` and
//! `hotspot-agent` as children killed with SIGKILL, the link through the link-fault proxy, the
//! RouterOS simulator with its fault orders — each ending with the ledger, the agent's database
//! and the router's users ([`views`]) judged against the work the scenario did ([`judge`]): what it
//! asked for, what was acknowledged. A run that exercised nothing fails.
//!
//! Run by `tests/faults.rs` (one test per scenario, CI sizes) and by the `fault-suite` binary
//! (all scenarios in a row, `--soak` for larger runs); both print the summary table and write
//! it to `target/fault-summary.txt`.

pub mod disk;
pub mod fleet;
pub mod judge;
pub mod local;
pub mod proc;
pub mod scenarios;
pub mod summary;
pub mod views;

pub use fleet::{Fleet, FleetOptions};
pub use judge::{Problem, Verdict, Work};
pub use proc::Binaries;
pub use scenarios::Scale;
pub use summary::Row;
