//! The agent's TOML config file (`hotspot_agent::ConfigFile::parse`, the text `load` reads).
//!
//! Asserts: no panic; a syntax error names a line that exists; a file that parses can be
//! checked (`validate`), names a server that is part of its address, and when valid builds the
//! runtime settings.
#![no_main]

use hotspot_agent::ConfigFile;
use hotspot_agent::config::host_of;
use hotspot_fuzz::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(src) = text(data) else {
        return;
    };
    match ConfigFile::parse(src) {
        Ok(config) => {
            let address = config.controller.address.clone();
            assert!(address.contains(host_of(&address)));
            let _ = config.server_name();
            if config.validate().is_ok() {
                let controller = "127.0.0.1:4433".parse().expect("an address");
                config
                    .into_settings(controller)
                    .expect("valid config builds");
            }
        }
        Err(message) => {
            if let Some(line) = message
                .strip_prefix("line ")
                .and_then(|rest| rest.split(':').next())
            {
                let line: usize = line.parse().expect("a line number");
                assert!((1..=src.lines().count() + 1).contains(&line), "{message}");
            }
        }
    }
});
