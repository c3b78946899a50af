//! The `hotspot-agent` subcommands, one file each.

pub mod enroll;
pub mod probe;
pub mod run;
