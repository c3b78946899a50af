//! The README's first command keeps its data: `hotspot-demo` killed with SIGKILL right after it
//! answered 2xx, then started again on its data dir, resumes with the same routers, packages,
//! staff and passwords, and loses no voucher it answered for; each of them ends on the
//! simulated router exactly once. `--fresh` starts over.

mod e2e_support;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_support::{codes_of, free_tcp, free_udp, generate, wait_states};
use hotspot_tests::demo::http::Api;
use serde_json::Value;

/// A running demo and what it printed up to "Open the dashboard".
struct Running {
    child: Child,
    printed: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// The password printed for `user` (`  staff       staff / PASSWORD`).
    fn password(&self, user: &str) -> String {
        let mark = format!(" {user} / ");
        self.printed
            .lines()
            .find_map(|l| l.split_once(&mark).map(|(_, pw)| pw.trim().to_owned()))
            .unwrap_or_else(|| panic!("no password for {user} in:\n{}", self.printed))
    }
}

fn start(dir: &Path, http: SocketAddr, fleet: SocketAddr, extra: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotspot-demo"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--http", &http.to_string(), "--fleet", &fleet.to_string()])
        .args(["--site-pages", "off", "--sites", "1", "--vouchers", "3"])
        // The counts below are the demo's own vouchers; the week of past is tested in
        // demo_history.rs.
        .arg("--no-history")
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("hotspot-demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Drains stdout for the demo's whole life (a closed pipe would fail its next print).
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !printed.contains("Open the dashboard") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                printed.push_str(&line);
                printed.push('\n');
            }
            Err(_) => panic!("the demo did not come up; it printed:\n{printed}"),
        }
    }
    Running { child, printed }
}

async fn all_codes(admin: &Api) -> Vec<String> {
    let page = admin
        .expect_ok("GET", "/api/tokens/all?limit=500", None)
        .await
        .expect("list");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|v| v["code"].as_str().expect("code").to_owned())
        .collect()
}

fn len(v: &Value) -> usize {
    v["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_demo_resumes_with_every_voucher_it_answered_for() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let (http, fleet) = (free_tcp(), free_udp());

    let first = start(&dir, http, fleet, &[]);
    assert!(!first.printed.contains("resumed"), "{}", first.printed);
    let (admin_pw, staff_pw) = (first.password("admin"), first.password("staff"));
    let layout = dir.join("demo.json");
    let mode = std::fs::metadata(&layout)
        .expect("demo.json")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the passwords file is private");

    let staff = Api::new(http)
        .login("staff", &staff_pw)
        .await
        .expect("staff");
    let answered = codes_of(&generate(&staff, 1, 1, 5).await);
    let admin = Api::new(http)
        .login("admin", &admin_pw)
        .await
        .expect("admin");
    let before = all_codes(&admin).await;
    assert_eq!(before.len(), 3 + 5);
    let mut first = first;
    first.child.kill().expect("SIGKILL"); // right after the 2xx: nothing else was waited for
    let _ = first.child.wait();

    let second = start(&dir, http, fleet, &[]);
    assert!(second.printed.contains("resumed"), "{}", second.printed);
    assert_eq!(
        second.password("admin"),
        admin_pw,
        "passwords are printed again"
    );
    assert_eq!(second.password("staff"), staff_pw);
    let admin = Api::new(http)
        .login("admin", &admin_pw)
        .await
        .expect("admin again");
    let after = all_codes(&admin).await;
    for code in &before {
        assert!(after.contains(code), "{code} was answered 2xx and is gone");
    }
    assert_eq!(after.len(), before.len(), "nothing was made again");
    for (path, want) in [("/api/routers", 1), ("/api/packages", 3), ("/api/staff", 2)] {
        let got = admin.expect_ok("GET", path, None).await.expect(path);
        assert_eq!(len(&got), want, "{path}: {got}");
    }
    wait_states(&admin, &answered, "active", 60).await;

    // Stopped cleanly, the router's state file holds each voucher exactly once.
    let mut second = second;
    let pid = i32::try_from(second.child.id()).expect("pid");
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let _ = second.child.wait();
    let state: Value = serde_json::from_slice(
        &std::fs::read(dir.join("router-1.json")).expect("router state file"),
    )
    .expect("router state");
    let names: Vec<String> = state["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["name"].as_str().map(str::to_owned))
        .collect();
    for code in &before {
        let n = names.iter().filter(|n| *n == code).count();
        assert_eq!(n, 1, "{code} is on the router {n} times");
    }

    // --fresh starts over: new passwords, only the new demo's vouchers.
    let third = start(&dir, http, fleet, &["--fresh"]);
    assert!(!third.printed.contains("resumed"));
    let admin = Api::new(http)
        .login("admin", &third.password("admin"))
        .await
        .expect("admin of the new demo");
    assert_eq!(all_codes(&admin).await.len(), 3);
}
