//! An unmodified third-party client against the simulator: Python `librouteros` (pinned in
//! `tests/python/requirements.txt`) runs `tests/python/conformance.py` against in-process
//! simulators — RouterOS 7.16, 7.19 (`!empty`), 6.40 (MD5 challenge login through
//! `librouteros.login.token`) and API-SSL with the simulator's certificate trusted from a PEM
//! file.
//!
//! The interpreter is `$HOTSPOT_PYTHON`, else `<workspace>/.venv/bin/python`. Without
//! librouteros these tests fail (they do not skip): run `tests/run.sh`, or
//! `tests/python/setup_venv.sh`, to create the venv.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hotspot_tests::sim::{SimConfig, SimHandle, start};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The interpreter, checked to have librouteros.
async fn python() -> PathBuf {
    let python = std::env::var_os("HOTSPOT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv").join("bin").join("python"));
    let ok = tokio::process::Command::new(&python)
        .args(["-c", "import librouteros"])
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} cannot import librouteros: run tests/run.sh (or tests/python/setup_venv.sh) to create the venv, \
         or point HOTSPOT_PYTHON at an interpreter that has librouteros",
        python.display()
    );
    python
}

async fn conformance(h: &SimHandle, port: u16, extra: &[&str]) {
    let python = python().await;
    let script = workspace()
        .join("tests")
        .join("python")
        .join("conformance.py");
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--user",
            "admin",
            "--password",
            "sim-password",
        ])
        .args(extra)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "conformance.py failed against {}:\n{stdout}\n{stderr}",
        h.api_addr()
    );
    assert!(stdout.contains("conformance passed"), "{stdout}");
}

async fn sim(version: &str) -> SimHandle {
    start(SimConfig {
        ros_version: version.parse().expect("version"),
        ..SimConfig::local()
    })
    .await
    .expect("starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librouteros_against_routeros_7_16() {
    let h = sim("7.16").await;
    conformance(&h, h.api_addr().port(), &["--expect-version", "7.16"]).await;
    assert_eq!(h.user_count(), 0, "the script cleans up after itself");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librouteros_against_routeros_7_19_with_empty_replies() {
    let h = sim("7.19").await;
    conformance(&h, h.api_addr().port(), &["--expect-version", "7.19"]).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librouteros_token_login_against_routeros_6_40() {
    let h = sim("6.40").await;
    conformance(
        &h,
        h.api_addr().port(),
        &["--login", "token", "--expect-version", "6.40"],
    )
    .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librouteros_over_api_ssl() {
    let cfg = SimConfig {
        api_ssl: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..SimConfig::local()
    };
    let h = start(cfg).await.expect("starts");
    let dir = std::env::temp_dir().join(format!("routeros-sim-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pem = dir.join("sim-cert.pem");
    std::fs::write(&pem, h.cert_pem().expect("certificate")).expect("PEM written");
    let port = h.api_ssl_addr().expect("ssl listener").port();
    conformance(
        &h,
        port,
        &["--cafile", pem.to_str().expect("utf-8 temp path")],
    )
    .await;
    h.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}
