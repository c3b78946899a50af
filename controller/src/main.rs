//! `hotspot-controller`: the central controller's command line.
//!
//! `serve` runs the controller; `admin create`, `site add|token|revoke` work on the ledger
//! directly (while `serve` is stopped: the database allows one process); `config --print-default`
//! prints the documented config file. Every command has `--help`. Errors end the process with
//! one readable line and a non-zero status.

fn main() -> std::process::ExitCode {
    hotspot_controller::cli::main()
}
