//! The `hotspot-controller` binary's entry point, built inside this package: Cargo hands
//! integration tests the paths of their own package's binaries only, and the process-level
//! end-to-end tests must run the real command line.

fn main() -> std::process::ExitCode {
    hotspot_controller::cli::main()
}
