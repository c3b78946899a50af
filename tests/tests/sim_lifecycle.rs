//! The simulator over time: the state file across restarts, simulated customers using their
//! vouchers, and the control interface. Waits are generous polls, never tight timing
//! assertions.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hotspot_shared::routeros::{ReplyKind, Request};
use hotspot_tests::sim::testing::{kinds, logged_in};
use hotspot_tests::sim::{CustomerConfig, NewUser, SimConfig, start};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// Polls `cond` every 20 ms for up to 10 s.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("routeros-sim-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn state_file_survives_a_restart() {
    let dir = temp_dir("state");
    let path = dir.join("router.json");
    let cfg = SimConfig {
        state_file: Some(path.clone()),
        api_ssl: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..SimConfig::local()
    };
    let h = start(cfg.clone()).await.expect("starts");
    let pin = h.cert_sha256();
    let mut c = logged_in(h.api_addr()).await;
    for name in ["S1", "S2"] {
        c.call(
            &Request::new("/ip/hotspot/user/add")
                .attr("name", name)
                .attr("comment", b"na\xefve".to_vec()),
        )
        .await
        .expect("add");
    }
    c.call(&Request::new("/ip/hotspot/user/remove").attr(".id", "*1"))
        .await
        .expect("remove");
    c.call(&Request::new("/system/identity/set").attr("name", "persisted"))
        .await
        .expect("set");
    // The debounced saver writes without a shutdown too.
    eventually("state file written", || {
        std::fs::read_to_string(&path).is_ok_and(|s| s.contains("persisted"))
    })
    .await;
    h.shutdown().await;

    let h = start(cfg).await.expect("restarts");
    let users = h.users();
    assert_eq!(users.len(), 1);
    assert_eq!((users[0].id.as_str(), users[0].name.as_str()), ("*2", "S2"));
    assert_eq!(users[0].comment, b"na\xefve", "non-UTF-8 comment survives");
    assert_eq!(
        h.cert_sha256(),
        pin,
        "the certificate (and its pin) survives"
    );
    let mut c = logged_in(h.api_addr()).await;
    let r = c
        .call(&Request::new("/ip/hotspot/user/add").attr("name", "S3"))
        .await
        .expect("add");
    assert_eq!(
        r[0].attrs.get_str("ret").as_deref(),
        Some("*3"),
        "the id counter survives"
    );
    let r = c
        .call(&Request::new("/system/identity/print"))
        .await
        .expect("print");
    assert_eq!(r[0].attrs.get_str("name").as_deref(), Some("persisted"));
    h.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn customers_use_vouchers_until_the_limit() {
    let customers = CustomerConfig {
        logins_per_minute: 0.0,
        time_scale: 600.0,
        bytes_per_second: 1000,
    };
    let h = start(SimConfig {
        customers: Some(customers),
        ..SimConfig::local()
    })
    .await
    .expect("starts");
    let mut c = logged_in(h.api_addr()).await;
    c.call(
        &Request::new("/ip/hotspot/user/add")
            .attr("name", "T2M")
            .attr("limit-uptime", "2m"),
    )
    .await
    .expect("add");
    h.login_customer("T2M").expect("logs in");
    eventually("uptime grows", || {
        h.user("T2M").is_some_and(|u| u.uptime > 0)
    })
    .await;
    let r = c
        .call(&Request::new("/ip/hotspot/active/print").query("user=T2M"))
        .await
        .expect("print");
    assert_eq!(kinds(&r), [ReplyKind::Re, ReplyKind::Done]);
    eventually("the session ends at limit-uptime", || h.active().is_empty()).await;
    let u = h.user("T2M").expect("user kept");
    assert_eq!(u.uptime, 120, "uptime stops at the limit");
    assert!(u.bytes_in + u.bytes_out > 0);
    assert!(
        h.login_customer("T2M").is_err(),
        "a used-up voucher is refused"
    );
    let r = c
        .call(
            &Request::new("/ip/hotspot/user/print")
                .query("name=T2M")
                .proplist(&["uptime"]),
        )
        .await
        .expect("print");
    assert_eq!(r[0].attrs.get_str("uptime").as_deref(), Some("2m"));
    h.shutdown().await;

    // Automatic logins at a rate pick enabled vouchers only.
    let customers = CustomerConfig {
        logins_per_minute: 1200.0,
        time_scale: 1.0,
        bytes_per_second: 1000,
    };
    let h = start(SimConfig {
        customers: Some(customers),
        ..SimConfig::local()
    })
    .await
    .expect("starts");
    h.add_user_direct(NewUser {
        disabled: true,
        ..NewUser::new("OFF", "x")
    })
    .expect("added");
    for i in 0..3 {
        h.add_user_direct(NewUser::new(&format!("ON{i}"), "x"))
            .expect("added");
    }
    eventually("three customers log in", || h.active().len() == 3).await;
    assert!(h.active().iter().all(|a| a.user.starts_with("ON")));
    h.shutdown().await;
}

#[tokio::test]
async fn control_interface_commands() {
    let cfg = SimConfig {
        control: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..SimConfig::local()
    };
    let h = start(cfg).await.expect("starts");
    h.add_user_direct(NewUser::new("C1", "x")).expect("added");
    let stream = TcpStream::connect(h.control_addr().expect("control listener"))
        .await
        .expect("connects");
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    let mut ask = async |cmd: &str| -> String {
        wr.write_all(format!("{cmd}\n").as_bytes())
            .await
            .expect("sent");
        lines.next_line().await.expect("read").expect("a line")
    };
    assert_eq!(ask("users").await, "ok 1");
    assert_eq!(ask("latency 25").await, "ok");
    assert_eq!(ask("service-time 5").await, "ok");
    assert_eq!(ask("drop-after 7").await, "ok");
    assert_eq!(ask("refuse-logins on").await, "ok");
    let f = h.faults();
    assert_eq!(
        (f.latency, f.service_time, f.drop_after, f.refuse_logins),
        (
            Duration::from_millis(25),
            Duration::from_millis(5),
            Some(7),
            true
        )
    );
    assert_eq!(ask("drop-after off").await, "ok");
    assert_eq!(h.faults().drop_after, None);
    assert_eq!(ask("clear").await, "ok");
    assert_eq!(h.faults(), Default::default());
    assert!(ask("latency soon").await.starts_with("error: "));
    assert!(
        ask("frobnicate")
            .await
            .starts_with("error: unknown command")
    );
    let before = ask("commands").await;
    assert!(before.starts_with("ok "), "{before}");
    assert_eq!(ask("reboot 0").await, "ok");
    assert_eq!(ask("users").await, "ok 1", "reboot keeps users");
    assert_eq!(ask("reset").await, "ok");
    assert_eq!(ask("users").await, "ok 0");
    h.shutdown().await;
}
