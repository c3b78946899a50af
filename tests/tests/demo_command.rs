//! The README's first command, run as a command: `hotspot-demo --once` on free ports sets up
//! the fleet (PKI, enrollment over QUIC, routers added through the API), prints the generated
//! passwords, the week of simulated past it wrote, and each router as read now through its
//! agent, and exits 0.

use std::process::Command;

use hotspot_tests::ports::{free_tcp, free_udp};

#[test]
fn the_demo_command_sets_up_the_fleet_and_prints_each_router() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_hotspot-demo"))
        .arg("--once")
        .arg("--data-dir")
        .arg(dir.path().join("demo"))
        .args(["--http", &free_tcp().to_string()])
        .args(["--fleet", &free_udp().to_string()])
        .args(["--sites", "2", "--vouchers", "3", "--site-pages", "off"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("hotspot-demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("super admin admin / "), "{stdout}");
    assert!(stdout.contains("staff       staff / "), "{stdout}");
    assert!(
        stdout.contains("A week of simulated past: ")
            && stdout.contains("was offline on the afternoon of")
            && stdout.contains("the reconciliation of"),
        "a new demo has its past: {stdout}"
    );
    let routers: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("router "))
        .collect();
    assert_eq!(routers.len(), 2, "one line per router:\n{stdout}");
    for (i, line) in routers.iter().enumerate() {
        let n = i + 1;
        assert!(
            line.contains(&format!("router {n}: identity cafe-{n}, model "))
                && line.contains("RouterOS 7.")
                && line.contains("hotspot users"),
            "router {n} read through its agent: {line}"
        );
    }
}
