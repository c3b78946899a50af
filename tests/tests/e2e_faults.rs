//! End to end under faults: a 10,000-voucher batch, a cut fleet link, a router reset — every
//! voucher ends on its router exactly once, and no router password rests on disk. Each test
//! first asserts that it got the vouchers it asked for, so an empty answer cannot pass.

mod e2e_support;

use std::collections::HashSet;

use e2e_support::{codes_of, demo, eventually, generate, options, wait_states};
use hotspot_tests::demo::Demo;
use hotspot_tests::demo::http::Api;
use hotspot_tests::linkfault::LinkFaultProxy;
use hotspot_tests::sim::SimUser;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_thousand_voucher_batch_ends_with_ten_thousand_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = demo(1, dir.path()).await;
    let admin = Api::new(demo.http)
        .login("admin", &demo.admin_password)
        .await
        .expect("login");
    let site = &demo.sites[0];
    let answer = generate(&admin, site.router_id, demo.packages[0].0, 10_000).await;
    let codes = codes_of(&answer);
    assert_distinct(&codes, 10_000);
    eventually(120, "10,000 users on the router", || {
        site.sim.user_count() == 10_000
    })
    .await;
    assert_each_once(&site.sim.users(), &codes);
    demo.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vouchers_made_while_the_link_is_cut_land_once_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tries = 0;
    let (demo, proxy) = loop {
        let mut opts = options(1, dir.path());
        let proxy = LinkFaultProxy::start("127.0.0.1:0".parse().expect("addr"), opts.fleet)
            .await
            .expect("proxy");
        opts.agents_dial = Some(proxy.local_addr());
        match Demo::start(opts).await {
            Ok(demo) => break (demo, proxy),
            Err(e) if tries < 2 && format!("{e:#}").contains("in use") => {
                proxy.shutdown().await;
                tries += 1;
            }
            Err(e) => panic!("demo starts: {e:#}"),
        }
    };
    let staff = Api::new(demo.http)
        .login("staff", &demo.staff_password)
        .await
        .expect("login");
    let site = &demo.sites[0];

    proxy.blackhole();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let answer = generate(&staff, site.router_id, demo.packages[0].0, 50).await;
        for v in answer["vouchers"].as_array().expect("vouchers") {
            assert_ne!(
                v["state"], "active",
                "nothing is confirmed while the link is cut: {v}"
            );
        }
        codes.extend(codes_of(&answer));
    }
    assert_distinct(&codes, 4 * 50);
    assert_eq!(
        site.sim.user_count(),
        0,
        "nothing reached the router through a cut link"
    );

    proxy.restore();
    wait_states(&staff, &codes, "active", 90).await;
    assert_each_once(&site.sim.users(), &codes);
    demo.shutdown().await.expect("clean shutdown");
    proxy.shutdown().await;
}

/// `codes` are `n` distinct codes (what was asked for: an empty answer does not pass).
fn assert_distinct(codes: &[String], n: usize) {
    assert_eq!(codes.len(), n, "vouchers acknowledged");
    assert_eq!(
        codes.iter().collect::<HashSet<_>>().len(),
        n,
        "distinct codes"
    );
}

/// The router holds every code of `codes` once and nothing else.
fn assert_each_once(users: &[SimUser], codes: &[String]) {
    let mut on_router: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let mut wanted: Vec<&str> = codes.iter().map(String::as_str).collect();
    on_router.sort_unstable();
    wanted.sort_unstable();
    assert_eq!(
        on_router, wanted,
        "every voucher once on the router, and nothing else"
    );
}

/// Everything logged in this test process (each test runs in its own process under nextest;
/// under `cargo test` the first test to install it wins, which only widens what is searched).
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_reset_is_repaired_and_no_password_rests_on_disk_or_in_logs() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .try_init();
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = demo(1, dir.path()).await;
    let admin = Api::new(demo.http)
        .login("admin", &demo.admin_password)
        .await
        .expect("login");
    let site = &demo.sites[0];
    let answer = generate(&admin, site.router_id, demo.packages[0].0, 100).await;
    let codes = codes_of(&answer);
    assert_distinct(&codes, 100);
    wait_states(&admin, &codes, "active", 30).await;

    site.sim.reset();
    assert_eq!(site.sim.user_count(), 0);
    admin
        .expect_ok(
            "POST",
            &format!("/api/routers/{}/sync", site.router_id),
            Some(&json!({})),
        )
        .await
        .expect("sync");
    eventually(60, "the agent restores the router's users", || {
        site.sim.user_count() == 100
    })
    .await;
    assert_each_once(&site.sim.users(), &codes);

    let router_password = site.sim.password();
    demo.shutdown().await.expect("clean shutdown");
    let leaks = scan(&dir.path().join("demo"), router_password.as_bytes());
    assert!(
        leaks.is_empty(),
        "router password found on disk in {leaks:?}"
    );
}

/// Files under `dir` whose bytes contain `needle`.
fn scan(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            {
                found.push(path);
            }
        }
    }
    found
}
