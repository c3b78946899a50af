//! What the end-to-end tests share: free ports, a demo fleet in a temp dir, waiting for states.

#![allow(dead_code)] // each test file uses its own part

use std::path::Path;
use std::time::Duration;

use hotspot_tests::demo::http::Api;
use hotspot_tests::demo::{Demo, DemoOptions};
pub use hotspot_tests::ports::{free_tcp, free_udp};
use serde_json::Value;

/// Demo options for a test: fresh ports, no customers, no vouchers at start.
pub fn options(sites: usize, dir: &Path) -> DemoOptions {
    let _ = rustls::crypto::ring::default_provider().install_default();
    DemoOptions {
        http: free_tcp(),
        fleet: free_udp(),
        data_dir: dir.join("demo"),
        admin_password: Some("e2e-admin-password".into()),
        sites,
        vouchers_per_router: 0,
        customers_per_minute: 0.0,
        agents_dial: None,
        site_pages: None,
        fresh: true,
        history: false,
    }
}

/// A demo fleet; retried with fresh ports when a port picked free was taken meanwhile by a test
/// running in parallel (the only way a start fails here that is not a bug).
pub async fn demo(sites: usize, dir: &Path) -> Demo {
    start_demo(|| options(sites, dir)).await
}

/// [`Demo::start`] with options from `make`, up to three tries.
pub async fn start_demo(mut make: impl FnMut() -> DemoOptions) -> Demo {
    let mut last = None;
    for _ in 0..3 {
        match Demo::start(make()).await {
            Ok(demo) => return demo,
            Err(e) if format!("{e:#}").contains("in use") => last = Some(e),
            Err(e) => panic!("demo starts: {e:#}"),
        }
    }
    panic!("demo starts: {:#}", last.expect("an error"))
}

/// `POST /api/tokens/generate` of `count` vouchers; the answer.
pub async fn generate(api: &Api, router: u64, package: u64, count: u32) -> Value {
    let body = serde_json::json!({"router_id": router, "package_id": package, "count": count});
    api.expect_ok("POST", "/api/tokens/generate", Some(&body))
        .await
        .expect("generate answers 2xx")
}

/// The codes of a `POST /api/tokens/generate` answer.
pub fn codes_of(answer: &Value) -> Vec<String> {
    answer["vouchers"]
        .as_array()
        .expect("vouchers")
        .iter()
        .map(|v| v["code"].as_str().expect("code").to_owned())
        .collect()
}

/// Polls until every code in `codes` has `state` in the ledger, or panics after `secs`.
pub async fn wait_states(api: &Api, codes: &[String], state: &str, secs: u64) {
    for _ in 0..secs * 10 {
        let mut done = 0;
        for code in codes {
            let v = api
                .expect_ok("GET", &format!("/api/tokens/{code}"), None)
                .await
                .expect("voucher");
            done += usize::from(v["state"] == state);
        }
        if done == codes.len() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("vouchers did not all reach state {state} within {secs} s");
}

/// Polls `cond` every 100 ms for up to `secs`; panics with `what` if it never holds.
pub async fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..secs * 10 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {secs} s");
}
