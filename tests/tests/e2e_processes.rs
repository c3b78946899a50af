//! End to end over real processes: `hotspot-controller` and `hotspot-agent` (their exact entry
//! points) as child processes, driven through their command lines and the HTTP API, the agent
//! and the controller each killed with SIGKILL while vouchers flow — every voucher ends on the
//! simulated router exactly once.

mod e2e_support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e_support::{codes_of, eventually, free_tcp, free_udp, generate, wait_states};
use hotspot_tests::demo::http::Api;
use hotspot_tests::sim::{self, SimConfig};
use serde_json::json;

/// A child process killed (SIGKILL) when dropped, so a failing test leaves nothing running.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn kill9(mut self) {
        self.0.kill().expect("SIGKILL");
        let _ = self.0.wait();
    }
}

fn controller_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_e2e-controller"));
    c.env("RUST_LOG", "warn").stdin(Stdio::null());
    c
}

fn start_controller(dir: &Path, http: SocketAddr, fleet: SocketAddr) -> Proc {
    let data = dir.join("controller");
    // Signed into as the super admin with a password only (2FA has its own tests).
    let config = dir.join("controller.toml");
    std::fs::write(&config, "[auth]\nrequire_2fa_for_admins = false\n").expect("config");
    let child = controller_cmd()
        .args(["serve", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .args([
            "--http",
            &http.to_string(),
            "--fleet",
            &fleet.to_string(),
            "--server-name",
            "localhost",
        ])
        .spawn()
        .expect("controller starts");
    Proc(child)
}

fn agent_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_e2e-agent"));
    c.env("RUST_LOG", "warn").stdin(Stdio::null());
    c
}

fn start_agent(dir: &Path, fleet: SocketAddr) -> Proc {
    let child = agent_cmd()
        .args(["run", "--data-dir"])
        .arg(dir.join("agent"))
        .args([
            "--controller",
            &fleet.to_string(),
            "--server-name",
            "localhost",
        ])
        .spawn()
        .expect("agent starts");
    Proc(child)
}

async fn healthy(api: &Api) {
    for _ in 0..600 {
        if let Ok((200, _)) = api.call("GET", "/healthz", None).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the controller did not answer /healthz within 60 s");
}

/// The first super admin from the command line (password from the environment), the
/// controller started, signed in, the site `cafe` made: the controller, an anonymous client, the
/// admin's client and a one-time enrollment token for the site.
async fn controller_with_site(
    dir: &Path,
    http: SocketAddr,
    fleet: SocketAddr,
) -> (Proc, Api, Api, String) {
    let status = controller_cmd()
        .args(["admin", "create", "--data-dir"])
        .arg(dir.join("controller"))
        .args([
            "--username",
            "admin",
            "--password-env",
            "E2E_ADMIN_PASSWORD",
        ])
        .env("E2E_ADMIN_PASSWORD", "e2e-admin-password")
        .status()
        .expect("admin create runs");
    assert!(status.success(), "admin create: {status}");
    let controller = start_controller(dir, http, fleet);
    let anonymous = Api::new(http);
    healthy(&anonymous).await;
    let admin = anonymous
        .login("admin", "e2e-admin-password")
        .await
        .expect("login");
    admin
        .expect_ok(
            "POST",
            "/api/sites",
            Some(&json!({"id": "cafe", "name": "Café"})),
        )
        .await
        .expect("site");
    let token = admin
        .expect_ok("POST", "/api/sites/cafe/enrollment", Some(&json!({})))
        .await
        .expect("token");
    let token = token["token"].as_str().expect("token text").to_owned();
    (controller, anonymous, admin, token)
}

/// `hotspot-agent enroll` with `token` into `data`.
fn enroll(fleet: SocketAddr, token: &str, data: &Path) -> std::process::ExitStatus {
    agent_cmd()
        .args([
            "enroll",
            "--controller",
            &fleet.to_string(),
            "--token",
            token,
        ])
        .args(["--server-name", "localhost", "--data-dir"])
        .arg(data)
        .status()
        .expect("enroll runs")
}

/// A simulated router added to site `cafe` (once its agent is online) and a one-hour package:
/// the simulator, the router's id and the package's id.
async fn router_and_package(admin: &Api) -> (sim::SimHandle, u64, u64) {
    let router_sim = sim::start(SimConfig::local())
        .await
        .expect("simulated router");
    let api = router_sim.api_addr();
    let router_body = json!({"name": "hAP", "site_id": "cafe", "host": api.ip().to_string(), "port": api.port(),
        "username": "admin", "password": SimConfig::local().password});
    let router = admin
        .add_router_when_online(&router_body, Duration::from_secs(30))
        .await
        .expect("the agent came online and the router was added");
    let package = admin
        .expect_ok("POST", "/api/packages", Some(&json!({"name": "1 hour", "price_minor": 100, "currency": "USD", "time_limit": "1h"})))
        .await
        .expect("package");
    let package = package["id"].as_u64().expect("package id");
    (router_sim, router, package)
}

/// Every code of `codes` exactly once on the router, and nothing else.
fn on_router_once(router_sim: &sim::SimHandle, codes: &[String]) {
    let users = router_sim.users();
    for code in codes {
        assert_eq!(
            users.iter().filter(|u| &u.name == code).count(),
            1,
            "{code} exactly once"
        );
    }
    assert_eq!(
        users.len(),
        codes.len(),
        "nothing on the router the ledger does not know"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vouchers_land_once_through_real_processes_killed_mid_flow() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let (http, fleet) = (free_tcp(), free_udp());
    let (mut controller, anonymous, admin, token) =
        controller_with_site(dir.path(), http, fleet).await;

    // The agent enrolls from its command line, then runs.
    let status = enroll(fleet, &token, &dir.path().join("agent"));
    assert!(status.success(), "enroll: {status}");
    let status = enroll(fleet, &token, &dir.path().join("agent-again"));
    assert!(!status.success(), "a used token is refused");
    let mut agent = start_agent(dir.path(), fleet);

    let (router_sim, router, package) = router_and_package(&admin).await;

    let mut codes = Vec::new();
    for round in 0..3 {
        // Slow the router so that the kill lands while the batch is being applied.
        router_sim.set_service_time(Duration::from_millis(2));
        codes.extend(codes_of(&generate(&admin, router, package, 300).await));
        tokio::time::sleep(Duration::from_millis(150 + 100 * round)).await;
        agent.kill9();
        agent = start_agent(dir.path(), fleet);
    }
    // The controller too, with vouchers queued for the site.
    codes.extend(codes_of(&generate(&admin, router, package, 100).await));
    controller.kill9();
    controller = start_controller(dir.path(), http, fleet);
    healthy(&anonymous).await;
    let admin = anonymous
        .login("admin", "e2e-admin-password")
        .await
        .expect("login after restart");
    codes.extend(codes_of(&generate(&admin, router, package, 100).await));

    let expected: HashSet<&String> = codes.iter().collect();
    assert_eq!(expected.len(), codes.len(), "codes are unique");
    eventually(120, "every voucher on the router", || {
        router_sim.user_count() >= codes.len()
    })
    .await;
    on_router_once(&router_sim, &codes);
    wait_states(&admin, &codes, "active", 60).await;

    drop(agent);
    drop(controller);
    router_sim.shutdown().await;
}

/// Runs a one-shot command of a binary; its status and its stdout and stderr as one text.
fn run_cmd(mut cmd: Command) -> (bool, String) {
    let out = cmd.output().expect("the command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn backup_cmd(mut cmd: Command, data: &Path, to: &Path) -> (bool, String) {
    cmd.args(["backup", "--data-dir"])
        .arg(data)
        .arg("--to")
        .arg(to);
    run_cmd(cmd)
}

fn restore_cmd(mut cmd: Command, data: &Path, from: &Path, force: bool) -> (bool, String) {
    cmd.args(["restore", "--data-dir"])
        .arg(data)
        .arg("--from")
        .arg(from);
    if force {
        cmd.arg("--force");
    }
    run_cmd(cmd)
}

/// The package names of the ledger, from the API.
async fn package_names(api: &Api) -> Vec<String> {
    let list = api
        .expect_ok("GET", "/api/packages", None)
        .await
        .expect("packages");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

/// The package names an agent's database holds (the catalogue the controller pushed).
fn agent_catalogue(data: &Path) -> Vec<String> {
    let db = hotspot_agent::store::open_db(&data.join(hotspot_agent::identity::DB_FILE))
        .expect("the agent's database opens");
    let store = hotspot_agent::store::Store::open(&db).expect("store");
    store
        .catalogue()
        .expect("catalogue")
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// The `<ca-sha256>` part of an enrollment token `hfe1.<site>.<secret>.<ca-sha256>`.
fn token_ca(token: &str) -> String {
    token.rsplit('.').next().expect("token parts").to_owned()
}

/// `backup` while `serve` and `run` are up, through their backup sockets; `restore` refuses a
/// directory in use and a non-empty one without `--force`; what was committed at the backup is
/// back after a restore, and what came after is not; the restored controller serves with the
/// same fleet CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_taken_while_running_restore_what_was_there_at_the_backup() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let (http, fleet) = (free_tcp(), free_udp());
    let controller_dir = dir.path().join("controller");
    let agent_dir = dir.path().join("agent");
    let (controller, anonymous, admin, token) = controller_with_site(dir.path(), http, fleet).await;
    admin
        .expect_ok("POST", "/api/packages", Some(&json!({"name": "before", "price_minor": 100, "currency": "USD", "time_limit": "1h"})))
        .await
        .expect("package");
    let status = enroll(fleet, &token, &agent_dir);
    assert!(status.success(), "enroll: {status}");
    let agent = start_agent(dir.path(), fleet);
    let agent_db = agent_dir.join(hotspot_agent::identity::DB_FILE);
    eventually(30, "the agent opened its database", || agent_db.is_file()).await;

    // The agent's backup, taken while it runs, until it holds the catalogue pushed to it.
    let restored_agent = dir.path().join("agent-restored");
    let mut tries = 0;
    let agent_backup = loop {
        tries += 1;
        let file = dir.path().join(format!("agent-{tries}.tar"));
        let (ok, out) = backup_cmd(agent_cmd(), &agent_dir, &file);
        assert!(ok && out.contains("backup written"), "agent backup: {out}");
        let _ = std::fs::remove_dir_all(&restored_agent);
        let (ok, out) = restore_cmd(agent_cmd(), &restored_agent, &file, false);
        assert!(ok, "agent restore into a new dir: {out}");
        if agent_catalogue(&restored_agent) == ["before"] {
            break file;
        }
        assert!(
            tries < 100,
            "the catalogue never reached the agent's backups"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (ok, out) = backup_cmd(controller_cmd(), &controller_dir, &dir.path().join("c.tar"));
    assert!(
        ok && out.contains("backup written"),
        "controller backup: {out}"
    );
    let (ok, out) = backup_cmd(controller_cmd(), &controller_dir, &dir.path().join("c.tar"));
    assert!(!ok && out.contains("never overwrites"), "{out}");

    // After the backups: a second package, pushed to the agent too.
    admin
        .expect_ok("POST", "/api/packages", Some(&json!({"name": "after", "price_minor": 200, "currency": "USD", "time_limit": "2h"})))
        .await
        .expect("package");
    let (ok, out) = restore_cmd(
        controller_cmd(),
        &controller_dir,
        &dir.path().join("c.tar"),
        true,
    );
    assert!(
        !ok && out.contains("in use"),
        "restore under a running controller: {out}"
    );
    for i in 0.. {
        let probe = dir.path().join(format!("agent-later-{i}.tar"));
        assert!(backup_cmd(agent_cmd(), &agent_dir, &probe).0);
        let later = dir.path().join(format!("agent-later-{i}"));
        assert!(restore_cmd(agent_cmd(), &later, &probe, false).0);
        if agent_catalogue(&later).len() == 2 {
            break;
        }
        assert!(i < 100, "the second package never reached the agent");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    controller.kill9();
    agent.kill9();

    // The controller back from its backup: "before" and the admin are there, "after" is not,
    // and tokens carry the same fleet CA.
    let (ok, out) = restore_cmd(
        controller_cmd(),
        &controller_dir,
        &dir.path().join("c.tar"),
        false,
    );
    assert!(!ok && out.contains("not empty"), "{out}");
    let (ok, out) = restore_cmd(
        controller_cmd(),
        &controller_dir,
        &dir.path().join("c.tar"),
        true,
    );
    assert!(ok && out.contains("is now"), "restore --force: {out}");
    let controller = start_controller(dir.path(), http, fleet);
    healthy(&anonymous).await;
    let admin = anonymous
        .login("admin", "e2e-admin-password")
        .await
        .expect("login on the restored ledger");
    assert_eq!(package_names(&admin).await, ["before"]);
    let again = admin
        .expect_ok("POST", "/api/sites/cafe/enrollment", Some(&json!({})))
        .await
        .expect("token from the restored controller");
    assert_eq!(
        token_ca(again["token"].as_str().expect("token")),
        token_ca(&token),
        "the same fleet CA"
    );
    // The agent's first backup, restored over its directory, has only what it had then.
    let (ok, out) = restore_cmd(agent_cmd(), &agent_dir, &agent_backup, true);
    assert!(ok, "agent restore --force: {out}");
    assert_eq!(agent_catalogue(&agent_dir), ["before"]);
    drop(controller);
}

/// Waits until the ledger knows every code of `codes` (a healing ledger answers 404 for the
/// vouchers it has not recovered yet) and each is active.
async fn wait_known_active(admin: &Api, codes: &[String], secs: u64) {
    let started = std::time::Instant::now();
    let mut waiting: Vec<&String> = codes.iter().collect();
    while !waiting.is_empty() {
        let mut still = Vec::new();
        for code in waiting {
            match admin
                .call("GET", &format!("/api/tokens/{code}"), None)
                .await
            {
                Ok((200, v)) if v["state"] == "active" => {}
                _ => still.push(code),
            }
        }
        waiting = still;
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "{} vouchers not known and active within {secs} s, e.g. {:?}",
            waiting.len(),
            waiting.first()
        );
        if !waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The audit entries of `action` (a prefix) about site `cafe`.
async fn heal_audit(admin: &Api, action: &str) -> Vec<serde_json::Value> {
    let page = admin
        .expect_ok(
            "GET",
            &format!("/api/audit?action={action}&target=cafe&limit=100"),
            None,
        )
        .await
        .expect("audit");
    page["items"].as_array().cloned().unwrap_or_default()
}

/// Issue 11 §2, over real processes: the controller restored from a backup older than the
/// vouchers the site holds, and then the agent wiped and enrolled again. Each time the link
/// finds the lost state, both sides replay what they know, and without anyone stepping in:
/// the ledger recovers the vouchers it lost (from the agent's inventory, marked recovered),
/// the wiped agent re-learns every voucher from the ledger, and every voucher is on the router
/// exactly once, active in the ledger, with each heal in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_controller_and_a_wiped_agent_heal_without_losing_a_voucher() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let (http, fleet) = (free_tcp(), free_udp());
    let controller_dir = dir.path().join("controller");
    let (controller, anonymous, admin, token) = controller_with_site(dir.path(), http, fleet).await;
    let status = enroll(fleet, &token, &dir.path().join("agent"));
    assert!(status.success(), "enroll: {status}");
    let agent = start_agent(dir.path(), fleet);
    let (router_sim, router, package) = router_and_package(&admin).await;

    let mut codes = codes_of(&generate(&admin, router, package, 150).await);
    wait_states(&admin, &codes, "active", 60).await;
    let backup = dir.path().join("controller.tar");
    let (ok, out) = backup_cmd(controller_cmd(), &controller_dir, &backup);
    assert!(ok, "controller backup: {out}");
    // Sold after the backup: the restored ledger will not know these.
    let after = codes_of(&generate(&admin, router, package, 150).await);
    wait_states(&admin, &after, "active", 60).await;
    codes.extend(after.iter().cloned());

    controller.kill9();
    let (ok, out) = restore_cmd(controller_cmd(), &controller_dir, &backup, true);
    assert!(ok, "restore --force: {out}");
    let restarted = std::time::Instant::now();
    let controller = start_controller(dir.path(), http, fleet);
    healthy(&anonymous).await;
    let admin = anonymous
        .login("admin", "e2e-admin-password")
        .await
        .expect("login on the restored ledger");
    let missing = admin
        .call("GET", &format!("/api/tokens/{}", after[0]), None)
        .await
        .expect("call");
    // The ledger may already have healed; if not, the voucher is unknown until it does.
    assert!(matches!(missing.0, 200 | 404), "{missing:?}");
    wait_known_active(&admin, &codes, 60).await;
    println!(
        "controller restored from an older backup: ledger healed {:.1} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    let recovered = admin
        .expect_ok("GET", &format!("/api/tokens/{}", after[0]), None)
        .await
        .expect("voucher");
    assert!(
        recovered["reason"]
            .as_str()
            .is_some_and(|r| r.contains("recovered")),
        "marked recovered: {recovered}"
    );
    assert_eq!(
        (
            recovered["price"]["minor"].as_i64(),
            recovered["package_id"].as_u64()
        ),
        (Some(100), Some(package)),
        "the sale's price and package came back: {recovered}"
    );
    for _ in 0..300 {
        if !heal_audit(&admin, "fleet.heal.done").await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !heal_audit(&admin, "fleet.heal.done").await.is_empty(),
        "the heal is in the audit log"
    );
    let sites = admin
        .expect_ok("GET", "/api/sites", None)
        .await
        .expect("sites");
    let cafe = &sites["items"][0];
    assert_eq!(
        cafe["last_heal"]["action"], "fleet.heal.done",
        "the site says it healed: {cafe}"
    );
    on_router_once(&router_sim, &codes);

    // The agent's disk replaced: a new, empty data directory, enrolled again.
    agent.kill9();
    std::fs::remove_dir_all(dir.path().join("agent")).expect("wipe the agent");
    let token = admin
        .expect_ok("POST", "/api/sites/cafe/enrollment", Some(&json!({})))
        .await
        .expect("token");
    let status = enroll(
        fleet,
        token["token"].as_str().expect("token text"),
        &dir.path().join("agent"),
    );
    assert!(status.success(), "enroll again: {status}");
    let wiped = std::time::Instant::now();
    let agent = start_agent(dir.path(), fleet);
    for _ in 0..300 {
        if heal_audit(&admin, "fleet.heal.done").await.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        heal_audit(&admin, "fleet.heal.done").await.len() >= 2,
        "the wiped agent's heal is in the audit log"
    );
    println!(
        "agent wiped and enrolled again: healed {:.1} s after it started",
        wiped.elapsed().as_secs_f64()
    );
    // New sales after the heal land too; the re-learned vouchers stay once on the router.
    let later = codes_of(&generate(&admin, router, package, 20).await);
    codes.extend(later.iter().cloned());
    wait_states(&admin, &codes, "active", 60).await;
    on_router_once(&router_sim, &codes);

    // What the agent holds: stopped, its database read. Every voucher, on the router.
    agent.kill9();
    let db = hotspot_storage::Db::open(
        dir.path()
            .join("agent")
            .join(hotspot_agent::identity::DB_FILE),
        hotspot_storage::Options::default(),
    )
    .expect("the agent's database opens");
    let store = hotspot_agent::store::Store::open(&db).expect("store");
    let held: HashSet<String> = store
        .all_desired()
        .expect("reads")
        .into_iter()
        .map(|(_, e)| e.user.code)
        .collect();
    for code in &codes {
        assert!(held.contains(code), "the wiped agent re-learned {code}");
    }
    drop(controller);
    router_sim.shutdown().await;
}
