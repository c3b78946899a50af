//! `hotspot-agent`: the site agent's command line (see [`hotspot_agent::cli`]).

fn main() -> std::process::ExitCode {
    hotspot_agent::cli::main()
}
