//! Parsing, defaults and bounds of the configuration file.

use super::*;

#[test]
fn the_printed_defaults_are_the_code_defaults() {
    let parsed = ConfigFile::parse(DEFAULT_CONFIG).expect("default config parses");
    assert_eq!(parsed.jobs, JobsSection::default());
    assert_eq!(parsed.apply, ApplySection::default());
    assert_eq!(parsed.router, RouterSection::default());
    assert_eq!(parsed.controller.reconnect_max, DEFAULT_RECONNECT_MAX);
    let settings = parsed
        .into_settings("127.0.0.1:4433".parse().expect("addr"))
        .expect("valid");
    assert_eq!(settings.jobs.usage_sync, Duration::from_secs(300));
    assert_eq!(settings.jobs.health, Duration::from_secs(300));
    assert_eq!(settings.apply.batch_size, 2000);
    assert_eq!(settings.client.server_name, "controller.example.org");
    assert_eq!(settings.client.backoff_cap, Duration::from_secs(15));
}

#[test]
fn congestion_control_is_bbr_unless_cubic_is_chosen() {
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    let base = "data_dir = \"/d\"\n[controller]\naddress = \"c:1\"\n";
    let settings = |text: &str| {
        ConfigFile::parse(text)
            .expect("parses")
            .into_settings(addr)
            .expect("valid")
    };
    assert_eq!(settings(base).client.link.congestion, Congestion::Bbr);
    assert_eq!(
        settings(&format!("{base}congestion = \"cubic\"\n"))
            .client
            .link
            .congestion,
        Congestion::Cubic
    );
    let err = ConfigFile::parse(&format!("{base}congestion = \"reno\"\n")).expect_err("unknown");
    assert!(err.contains("line 4") && err.contains("bbr"), "{err}");
}

#[test]
fn the_reconnect_ceiling_is_the_links_backoff_cap_and_bounded() {
    let text = "data_dir = \"/d\"\n[controller]\naddress = \"c:1\"\nreconnect_max = \"2m\"\n";
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    let s = ConfigFile::parse(text)
        .expect("parses")
        .into_settings(addr)
        .expect("valid");
    assert_eq!(s.client.backoff_cap, Duration::from_secs(120));
    for (value, key) in [
        ("0s", "controller.reconnect_max"),
        ("2h", "controller.reconnect_max"),
    ] {
        let text = text.replace("2m", value);
        let err = ConfigFile::parse(&text)
            .expect("parses")
            .into_settings(addr)
            .expect_err("out of bounds");
        assert!(
            matches!(err, ConfigError::Invalid { key: k, .. } if k == key),
            "{value}: {err}"
        );
    }
}

#[test]
fn a_minimal_file_takes_every_default() {
    let f = ConfigFile::parse("data_dir = \"/tmp/a\"\n[controller]\naddress = \"10.0.0.5:4433\"\n")
        .expect("parses");
    assert_eq!(f.server_name(), "10.0.0.5");
    let s = f
        .into_settings("10.0.0.5:4433".parse().expect("addr"))
        .expect("valid");
    assert_eq!(s.router.connect_timeout, Duration::from_secs(5));
    assert_eq!(s.apply.window, 64);
}

#[test]
fn durations_take_routeros_and_human_forms() {
    let f = ConfigFile::parse(
        "data_dir = \"/d\"\n[controller]\naddress = \"c:1\"\n[jobs]\nusage_sync = \"90s\"\nhealth = \"2 min\"\n",
    )
    .expect("parses");
    assert_eq!(f.jobs.usage_sync.as_secs(), 90);
    assert_eq!(f.jobs.health.as_secs(), 120);
    assert!(
        ConfigFile::parse(
            "data_dir = \"/d\"\n[controller]\naddress = \"c:1\"\n[jobs]\nhealth = \"soon\"\n"
        )
        .is_err()
    );
}

#[test]
fn unknown_keys_are_refused_with_their_name() {
    let err = ConfigFile::parse(
        "data_dir = \"/d\"\n[controller]\naddress = \"c:1\"\n[apply]\nbatchsize = 5\n",
    )
    .expect_err("typo refused");
    assert!(err.contains("batchsize"), "{err}");
    let err = ConfigFile::parse("data_dir = \"/d\"\n").expect_err("controller missing");
    assert!(err.contains("controller"), "{err}");
}

#[test]
fn bounds_are_checked() {
    let base = ConfigFile::parse(DEFAULT_CONFIG).expect("parses");
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    let mut f = base.clone();
    f.apply.batch_size = 0;
    assert!(matches!(
        f.into_settings(addr),
        Err(ConfigError::Invalid {
            key: "apply.batch_size",
            ..
        })
    ));
    let mut f = base.clone();
    f.jobs.health = RosDuration::ZERO;
    assert!(f.into_settings(addr).is_err());
    let mut f = base;
    f.apply.retry_max = RosDuration::ZERO;
    assert!(f.into_settings(addr).is_err());
}

#[test]
fn host_parts() {
    assert_eq!(host_of("ctl.example.org:4433"), "ctl.example.org");
    assert_eq!(host_of("[::1]:4433"), "::1");
    assert_eq!(host_of("ctl"), "ctl");
    assert_eq!(host_of("::1"), "::1");
}

#[test]
fn the_local_page_is_off_unless_configured() {
    let base = "data_dir = \"/d\"\n[controller]\naddress = \"10.0.0.5:4433\"\n";
    let s = ConfigFile::parse(base)
        .expect("parses")
        .into_settings("10.0.0.5:4433".parse().expect("addr"))
        .expect("valid");
    assert_eq!(s.local, None);
    let on = ConfigFile::parse(&format!("{base}[local]\nlisten = \"192.168.88.2:8443\"\n"))
        .expect("parses")
        .into_settings("10.0.0.5:4433".parse().expect("addr"))
        .expect("valid");
    assert_eq!(
        on.local,
        Some(LocalSettings {
            listen: "192.168.88.2:8443".parse().expect("addr"),
            tls: true
        })
    );
    let plain = ConfigFile::parse(&format!(
        "{base}[local]\nlisten = \"0.0.0.0:8080\"\ntls = false\n"
    ))
    .expect("parses");
    assert_eq!(plain.local.as_ref().map(|l| l.tls), Some(false));
    let bad = ConfigFile::parse(&format!("{base}[local]\nlisten = \"nowhere\"\n")).expect("parses");
    assert!(matches!(
        bad.validate(),
        Err(ConfigError::Invalid {
            key: "local.listen",
            ..
        })
    ));
}
