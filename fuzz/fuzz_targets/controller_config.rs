//! The controller's TOML config file (`Config::from_toml`, the text `load` reads): parsing, the
//! values that check themselves while read (addresses, URLs, times, offsets, proxy networks)
//! and the checks across settings.
//!
//! Asserts: no panic; a config that is accepted writes back as TOML that is accepted as the
//! same config; the settings derived from it (paths, cookie, session, password and throttle
//! settings, the next reconciliation time) can be computed.
#![no_main]

use hotspot_controller::config::Config;
use hotspot_fuzz::text;
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
    let Some(src) = text(data) else {
        return;
    };
    let Ok(config) = Config::from_toml(src) else {
        return;
    };
    let written = toml::to_string(&config).expect("an accepted config serialises");
    match Config::from_toml(&written) {
        Ok(again) => assert_eq!(again, config, "written as:\n{written}"),
        Err(e) => panic!("an accepted config, written back, is refused: {e}\n{written}"),
    }
    let _ = (
        config.fleet_ca_cert(),
        config.fleet_cert(),
        config.fleet_key(),
        config.master_key_file(),
        config.cookie_settings(),
        config.auth.password_params(),
        config.auth.throttle.throttle_config(),
        config.http.body_limit_bytes(),
    );
    for now in [
        datetime!(2026-05-01 12:00 UTC),
        datetime!(2026-12-31 23:59:59 UTC),
    ] {
        assert!(config.jobs.next_reconcile(now) > now);
    }
});
