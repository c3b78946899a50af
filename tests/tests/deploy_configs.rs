//! The example configs in `deploy/` load with the binaries' own parsers (a renamed or removed
//! setting makes them fail here, not on an operator's machine).

use std::path::PathBuf;

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

#[test]
fn the_controller_example_config_loads() {
    let config = hotspot_controller::config::Config::load(&deploy("controller.toml"))
        .expect("deploy/controller.toml loads");
    assert_eq!(
        config.data_dir,
        PathBuf::from("/var/lib/hotspot-controller")
    );
    let proxies: Vec<String> = config
        .http
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(proxies, ["127.0.0.1", "::1"], "the local reverse proxy");
}

#[test]
fn the_agent_example_config_loads() {
    let file = hotspot_agent::config::ConfigFile::load(&deploy("agent.toml"))
        .expect("deploy/agent.toml loads");
    file.validate().expect("deploy/agent.toml is valid");
}
