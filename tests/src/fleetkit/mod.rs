//! fleetkit: the small harness of the fleet-link fault suites and benchmark.
//!
//! The fault suites run the link between real processes (`fleet-peer`, one end of the link
//! each), kill and restart them, and then judge "every message exactly once, in order" from
//! the receivers' records on disk. This module holds what the peer binary, the tests and
//! `bench-fleet` share, one concern per file:
//!
//! - [`payload`]: the notes and pings that travel, and the inbox that applies and times them;
//! - [`sender`]: sending `1..=N` so that a SIGKILL never skips or repeats a number (read its
//!   module comment: the outbox, not our counter, is the authority);
//! - [`pki_files`]: certificates made with `hotspot-pki`, written where the peer reads them;
//! - [`progress`]: the peer's stdout line protocol, parsed;
//! - [`process`]: a peer child process (spawn, follow, command, SIGKILL, restart, stop);
//! - [`fleet`]: a scenario of one controller and one agent in one directory;
//! - [`check`]: reading a stopped peer's data directory and judging it;
//! - [`stats`]: latency percentiles and histograms, `/proc` memory/CPU/socket-drop readings;
//! - [`bench_agents`]: `bench-fleet`'s simulated agents, a worker process's share of them.

pub mod bench_agents;
pub mod check;
pub mod fleet;
pub mod payload;
pub mod pki_files;
pub mod process;
pub mod progress;
pub mod sender;
pub mod stats;
