//! The controller config file: the documented defaults, unknown keys, bad values.

use std::io::Write as _;
use std::path::PathBuf;

use hotspot_controller::config::{Config, ConfigError, CookieSecure, default_toml};
use time::macros::datetime;

fn err(src: &str) -> String {
    Config::from_toml(src).unwrap_err().to_string()
}

#[test]
fn the_documented_template_is_the_default() {
    let parsed = Config::from_toml(&default_toml()).unwrap();
    assert_eq!(parsed, Config::default());
    // An empty file is the default too.
    assert_eq!(Config::from_toml("").unwrap(), Config::default());
}

#[test]
fn every_setting_is_in_the_template() {
    // A config with every optional setting present, serialised: each key must appear in the
    // template (as a setting or a commented example).
    let src = r#"
        [http]
        public_url = "https://h.example"
        tls_cert = "a"
        tls_key = "b"
        [fleet]
        ca_cert = "c"
        cert = "d"
        key = "e"
        [secrets]
        master_key_file = "f"
        [vouchers]
        hotspot_login_url = "http://hotspot.lan/login"
    "#;
    let full = Config::from_toml(src).unwrap();
    let table: toml::Table = toml::from_str(&toml::to_string(&full).unwrap()).unwrap();
    let template = default_toml();
    let mut keys = Vec::new();
    collect_keys(&table, &mut keys);
    assert!(keys.len() > 30, "{keys:?}");
    for key in keys {
        let documented = template.lines().any(|l| {
            let l = l.trim_start_matches(['#', ' ']);
            l.strip_prefix(key.as_str())
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        assert!(documented, "`{key}` is not in default_toml()");
    }
}

fn collect_keys(t: &toml::Table, out: &mut Vec<String>) {
    for (k, v) in t {
        match v {
            toml::Value::Table(inner) => collect_keys(inner, out),
            _ => out.push(k.clone()),
        }
    }
}

#[test]
fn defaults_resolve_paths_and_policies() {
    let c = Config::default();
    assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.http.body_limit_bytes(), 256 * 1024);
    assert_eq!(c.fleet.listen.to_string(), "0.0.0.0:4433");
    assert_eq!(
        c.fleet_cert(),
        PathBuf::from("data/pki/controller.cert.pem")
    );
    assert_eq!(c.fleet_key(), PathBuf::from("data/pki/controller.key.pem"));
    assert_eq!(
        c.fleet_ca_cert(),
        PathBuf::from("data/pki/fleet-ca.cert.pem")
    );
    assert_eq!(c.master_key_file(), PathBuf::from("data/master-key.key"));
    assert_eq!(c.auth.session_policy(), Default::default());
    assert_eq!(c.auth.password_params(), Default::default());
    assert_eq!(c.auth.throttle.throttle_config(), Default::default());
    assert!(!c.cookie_secure(), "plain HTTP on loopback by default");
}

#[test]
fn cookie_secure_auto_follows_tls_and_public_url() {
    let https = Config::from_toml("[http]\npublic_url = \"https://h.example/\"").unwrap();
    assert!(https.cookie_secure());
    assert_eq!(
        https.http.public_url.as_ref().unwrap().origin(),
        "https://h.example"
    );
    assert_eq!(https.cookie_settings().max_age, time::Duration::hours(12));
    let tls = Config::from_toml("[http]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"").unwrap();
    assert!(tls.cookie_secure());
    let forced = Config::from_toml("[http]\ncookie_secure = true").unwrap();
    assert_eq!(forced.http.cookie_secure, CookieSecure::Always);
    assert!(forced.cookie_secure());
    let off =
        Config::from_toml("[http]\npublic_url = \"https://h.example\"\ncookie_secure = false");
    assert!(!off.unwrap().cookie_secure());
    assert!(err("[http]\ncookie_secure = \"yes\"").contains("\"auto\", true or false"));
}

#[test]
fn unknown_keys_are_refused_with_name_and_line() {
    let e = err("data_dir = \"x\"\n\n[fleet]\nheartbeat_secs = 5\nheartbeat_sec = 5\n");
    assert!(e.contains("heartbeat_sec"), "{e}");
    assert!(e.contains("line 5"), "{e}");
    let e = err("[htpp]\nlisten = \"127.0.0.1:1\"\n");
    assert!(e.contains("htpp") && e.contains("line 1"), "{e}");
}

#[test]
fn bad_values_are_refused_with_the_line_and_a_hint() {
    let cases = [
        ("[http]\nlisten = \"localhost:8080\"", "line 2", "IP:PORT"),
        ("[http]\nlisten = \"127.0.0.1:0\"", "line 2", "port 0"),
        (
            "[http]\npublic_url = \"hotspot.example\"",
            "line 2",
            "https://",
        ),
        ("[fleet]\nheartbeat_secs = 0", "line 2", "nonzero"),
        ("[fleet]\ncongestion = \"reno\"", "line 2", "bbr"),
        ("[jobs]\nreconcile_at = \"25:00\"", "line 2", "HH:MM"),
        ("[jobs]\nutc_offset = \"Europe/Paris\"", "line 2", "+HH:MM"),
        ("[vouchers]\nmax_batch = -1", "line 2", "max_batch"),
        (
            "[auth]\nsession_idle_mins = \"ten\"",
            "line 2",
            "session_idle_mins",
        ),
    ];
    for (src, line, hint) in cases {
        let e = err(src);
        assert!(e.contains(line) && e.contains(hint), "{src:?} gave:\n{e}");
    }
}

#[test]
fn settings_that_disagree_name_the_key() {
    let cases = [
        (
            "[fleet]\nheartbeat_secs = 30\noffline_after_secs = 20\n",
            "fleet.offline_after_secs",
            Some(3),
        ),
        ("[http]\ntls_cert = \"c.pem\"\n", "http.tls_key", None),
        (
            "[http]\nbody_limit_kib = 1000000\n",
            "http.body_limit_kib",
            Some(2),
        ),
        (
            "[vouchers]\nmax_batch = 10001\n",
            "vouchers.max_batch",
            Some(2),
        ),
        (
            "[vouchers]\ndefault_length = 4\n",
            "vouchers.default_length",
            Some(2),
        ),
        (
            "[vouchers]\nconfirm_wait_ms = 600000\n",
            "vouchers.confirm_wait_ms",
            Some(2),
        ),
        (
            "[vouchers]\nhotspot_login_url = \"javascript:alert(1)\"\n",
            "vouchers.hotspot_login_url",
            Some(2),
        ),
        (
            "[auth]\nsession_idle_mins = 1440\n",
            "auth.session_idle_mins",
            Some(2),
        ),
        (
            "[auth]\nargon2_memory_kib = 4\n",
            "auth.argon2_memory_kib",
            Some(2),
        ),
        (
            "[auth]\nargon2_memory_kib = 2000000\n",
            "auth.argon2_memory_kib",
            Some(2),
        ),
        (
            "[auth]\nargon2_iterations = 0\n",
            "auth.argon2_iterations",
            Some(2),
        ),
        (
            "[auth.throttle]\nlockout_base_secs = 1000\n",
            "auth.throttle.lockout_base_secs",
            Some(2),
        ),
        (
            "[auth.throttle]\nforget_after_secs = 60\n",
            "auth.throttle.forget_after_secs",
            Some(2),
        ),
        (
            "[fleet]\nserver_name = \"bad name\"\n",
            "fleet.server_name",
            Some(2),
        ),
    ];
    for (src, key, line) in cases {
        let e = Config::from_toml(src).unwrap_err();
        assert_eq!(e.key(), Some(key), "{src:?}: {e}");
        match &e {
            ConfigError::Invalid { line: l, .. } => assert_eq!(*l, line, "{src:?}: {e}"),
            other => panic!("{src:?}: {other}"),
        }
        let text = e.to_string();
        assert!(text.contains(key), "{text}");
    }
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("controller.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(b"[fleet]\nheartbeat_secs = 50\n")
        .unwrap();
    let e = Config::load(&path).unwrap_err().to_string();
    let expected = format!(
        "{}: fleet.offline_after_secs: 45 must be greater than fleet.heartbeat_secs (50)",
        path.display()
    );
    assert!(e.starts_with(&expected), "{e}");
    std::fs::write(&path, default_toml()).unwrap();
    assert_eq!(Config::load(&path).unwrap(), Config::default());
    let missing = Config::load(&dir.path().join("nope.toml")).unwrap_err();
    assert!(matches!(missing, ConfigError::Read { .. }), "{missing}");
    std::fs::write(&path, vec![b'#'; 2 * 1024 * 1024]).unwrap();
    assert!(matches!(
        Config::load(&path).unwrap_err(),
        ConfigError::TooLarge { .. }
    ));
}

#[test]
fn next_reconcile_uses_the_fixed_offset() {
    let c = Config::from_toml("[jobs]\nreconcile_at = \"02:00\"\nutc_offset = \"+03:00\"").unwrap();
    // 22:30 UTC is 01:30 at +03:00: the next run is 30 minutes later.
    let now = datetime!(2026-11-25 22:30 UTC);
    assert_eq!(c.jobs.next_reconcile(now), datetime!(2026-11-25 23:00 UTC));
    // Exactly at the time, the next run is tomorrow.
    let at = datetime!(2026-11-25 23:00 UTC);
    assert_eq!(c.jobs.next_reconcile(at), datetime!(2026-11-26 23:00 UTC));
}

#[test]
fn the_fleet_congestion_control_reaches_the_link() {
    use hotspot_link::Congestion;
    let default = Config::default();
    assert_eq!(
        hotspot_controller::fleet::server_config(&default)
            .link
            .congestion,
        Congestion::Bbr
    );
    let cubic = Config::from_toml("[fleet]\ncongestion = \"cubic\"").unwrap();
    assert_eq!(
        hotspot_controller::fleet::server_config(&cubic)
            .link
            .congestion,
        Congestion::Cubic
    );
}
