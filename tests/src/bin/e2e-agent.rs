//! The `hotspot-agent` binary's entry point, built inside this package for the process-level
//! end-to-end tests (see `e2e-controller`).

fn main() -> std::process::ExitCode {
    hotspot_agent::cli::main()
}
