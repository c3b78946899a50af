//! hotspot-shared: everything the agent and the controller must agree on, with no IO.
//!
//! This crate never opens a socket, a file or reads a clock: time and bytes are passed in.
//! That keeps the hard logic (wire codecs, unit parsing) testable without a network,
//! the way `quinn-proto` keeps QUIC's state machine apart from `quinn`'s IO.

pub mod domain;
pub mod fleet;
pub mod report;
pub mod routeros;
pub mod secretbox;
pub mod units;
pub mod voucher;
