//! One site of a fleet made of real processes: `hotspot-controller` and `hotspot-agent` as
//! children (so they can be killed with SIGKILL), a link-fault proxy between the agent and the
//! controller's fleet port, and a simulated router.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::local::LocalStaff;
use super::proc::{Binaries, Proc, tail};
use super::views::{self, Views};
use crate::demo::http::Api;
use crate::linkfault::LinkFaultProxy;
use crate::ports::{free_tcp, free_udp};
use crate::sim::{self, CustomerConfig, SimConfig, SimHandle};

pub const ADMIN_PASSWORD: &str = "fault-suite-admin";
/// The site's staff member (local API scenarios).
pub const SELLER: &str = "seller";
pub const SELLER_PASSWORD: &str = "fault-suite-seller";
const ENV_PASSWORD: &str = "FAULT_SUITE_ADMIN_PASSWORD";

/// `FAULT_SUITE_CONGESTION=cubic|bbr`: the link's congestion control on both ends, written
/// into both config files (default: the product's own default), to compare the two.
fn congestion_override() -> Option<String> {
    std::env::var("FAULT_SUITE_CONGESTION").ok()
}

/// The processes' log filter: `warn`, or `FAULT_SUITE_LOG` (e.g. `info,hotspot_link=debug`) to
/// trace a scenario; each process logs to a file in the scenario's data directory.
fn log_filter() -> String {
    std::env::var("FAULT_SUITE_LOG").unwrap_or_else(|_| "warn".to_owned())
}

/// How to start the fleet.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// The agent's usage sync (which also restores users a router lost), seconds.
    pub usage_sync_secs: u64,
    /// Package price, minor units (USD).
    pub price_minor: i64,
    /// Serve the agent's local staff API (plain HTTP on loopback) and create a staff member
    /// assigned to the router.
    pub local_api: bool,
    /// Where the agent's data directory goes (default `<dir>/agent`).
    pub agent_dir: Option<PathBuf>,
    /// Where the controller's data directory goes (default `<dir>/controller`).
    pub controller_dir: Option<PathBuf>,
    /// Simulated customers on the router.
    pub customers: Option<CustomerConfig>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            usage_sync_secs: 3,
            price_minor: 150,
            local_api: false,
            agent_dir: None,
            controller_dir: None,
            customers: None,
        }
    }
}

/// The package vouchers are sold from.
#[derive(Debug, Clone)]
pub struct PackageInfo {
    pub id: u64,
    pub price_minor: i64,
    /// The hotspot user profile on the router.
    pub profile: String,
}

/// A running single-site fleet.
pub struct Fleet {
    pub dir: PathBuf,
    bins: Binaries,
    pub http: SocketAddr,
    pub fleet: SocketAddr,
    pub proxy: LinkFaultProxy,
    controller: Option<Proc>,
    agent: Option<Proc>,
    pub sim: SimHandle,
    pub admin: Api,
    pub router_id: u64,
    pub package: PackageInfo,
    agent_dir: PathBuf,
    controller_dir: PathBuf,
    /// The agent's local staff API, when served.
    pub local: Option<SocketAddr>,
}

impl Fleet {
    /// Controller (with its first admin), site, enrolled agent dialling through the proxy,
    /// simulated router added through the agent, one package.
    pub async fn start(bins: &Binaries, dir: &Path, opts: &FleetOptions) -> anyhow::Result<Fleet> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        std::fs::create_dir_all(dir)?;
        let (http, fleet) = (free_tcp(), free_udp());
        let controller_dir = opts
            .controller_dir
            .clone()
            .unwrap_or_else(|| dir.join("controller"));
        let status = Command::new(&bins.controller)
            .args(["admin", "create", "--data-dir"])
            .arg(&controller_dir)
            .args(["--username", "admin", "--password-env", ENV_PASSWORD])
            .env(ENV_PASSWORD, ADMIN_PASSWORD)
            .env("RUST_LOG", log_filter())
            .status()
            .context("hotspot-controller admin create")?;
        anyhow::ensure!(status.success(), "admin create: {status}");

        let proxy = LinkFaultProxy::start("127.0.0.1:0".parse()?, fleet)
            .await
            .context("the link-fault proxy")?;
        let sim = sim::start(SimConfig {
            customers: opts.customers,
            ..SimConfig::local()
        })
        .await?;
        let mut f = Fleet {
            dir: dir.to_path_buf(),
            bins: bins.clone(),
            http,
            fleet,
            proxy,
            controller: None,
            agent: None,
            sim,
            admin: Api::new(http),
            router_id: 0,
            package: PackageInfo {
                id: 0,
                price_minor: opts.price_minor,
                profile: String::new(),
            },
            agent_dir: opts.agent_dir.clone().unwrap_or_else(|| dir.join("agent")),
            controller_dir,
            local: opts.local_api.then(free_tcp),
        };
        f.start_controller().await?;

        let admin = f.admin.clone();
        admin
            .expect_ok(
                "POST",
                "/api/sites",
                Some(&json!({"id": "site-1", "name": "Site 1"})),
            )
            .await?;
        f.enroll_agent().await?;
        std::fs::write(f.agent_config_path(), f.agent_config(opts))?;
        f.start_agent()?;

        let api = f.sim.api_addr();
        let body = json!({"name": "hAP", "site_id": "site-1", "host": api.ip().to_string(),
            "port": api.port(), "username": "admin", "password": SimConfig::local().password});
        f.router_id = admin
            .add_router_when_online(&body, Duration::from_secs(60))
            .await
            .with_context(|| format!("agent log:\n{}", tail(&f.agent_log(), 30)))?;
        let p = admin
            .expect_ok(
                "POST",
                "/api/packages",
                Some(&json!({"name": "1 hour", "price_minor": opts.price_minor,
                "currency": "USD", "time_limit": "1h"})),
            )
            .await?;
        f.package.id = p["id"].as_u64().context("package id")?;
        f.package.profile = p["profile"].as_str().context("package profile")?.to_owned();
        if opts.local_api {
            admin
                .expect_ok(
                    "POST",
                    "/api/staff",
                    Some(&json!({"username": SELLER,
                    "password": SELLER_PASSWORD, "role": "staff", "routers": [f.router_id]})),
                )
                .await?;
        }
        Ok(f)
    }

    /// A new enrollment token for the site, and `hotspot-agent enroll` with it into the agent's
    /// data directory (which must be empty or missing).
    pub async fn enroll_agent(&self) -> anyhow::Result<()> {
        let token = self
            .admin
            .expect_ok("POST", "/api/sites/site-1/enrollment", Some(&json!({})))
            .await?;
        let token = token["token"].as_str().context("token")?.to_owned();
        let status = Command::new(&self.bins.agent)
            .args([
                "enroll",
                "--controller",
                &self.fleet.to_string(),
                "--token",
                &token,
            ])
            .args(["--server-name", "localhost", "--data-dir"])
            .arg(&self.agent_dir)
            .env("RUST_LOG", log_filter())
            .status()
            .context("hotspot-agent enroll")?;
        anyhow::ensure!(status.success(), "agent enroll: {status}");
        Ok(())
    }

    /// The agent's data directory gone (a replaced disk): the agent must be stopped.
    pub fn wipe_agent(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.agent.is_none(), "the agent still runs");
        std::fs::remove_dir_all(&self.agent_dir).context("wiping the agent's data directory")
    }

    /// `hotspot-controller backup` of the running controller into `to`.
    pub fn backup_controller(&self, to: &Path) -> anyhow::Result<()> {
        let out = Command::new(&self.bins.controller)
            .args(["backup", "--data-dir"])
            .arg(&self.controller_dir)
            .arg("--to")
            .arg(to)
            .env("RUST_LOG", log_filter())
            .output()
            .context("hotspot-controller backup")?;
        anyhow::ensure!(
            out.status.success(),
            "backup: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// `hotspot-controller restore --force` from `from` (the controller must be stopped).
    pub fn restore_controller(&self, from: &Path) -> anyhow::Result<()> {
        anyhow::ensure!(self.controller.is_none(), "the controller still runs");
        let out = Command::new(&self.bins.controller)
            .args(["restore", "--force", "--data-dir"])
            .arg(&self.controller_dir)
            .arg("--from")
            .arg(from)
            .env("RUST_LOG", log_filter())
            .output()
            .context("hotspot-controller restore")?;
        anyhow::ensure!(
            out.status.success(),
            "restore: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// How many `action…` entries about the site the audit log holds.
    pub async fn audit_count(&self, action: &str) -> anyhow::Result<usize> {
        let page = self
            .admin
            .expect_ok(
                "GET",
                &format!("/api/audit?action={action}&target=site-1&limit=500"),
                None,
            )
            .await?;
        Ok(page["items"].as_array().map_or(0, Vec::len))
    }

    fn agent_config_path(&self) -> PathBuf {
        self.dir.join("agent.toml")
    }

    fn agent_config(&self, opts: &FleetOptions) -> String {
        let local = match self.local {
            Some(addr) => format!("\n[local]\nlisten = \"{addr}\"\ntls = false\n"),
            None => String::new(),
        };
        let congestion = congestion_override()
            .map(|c| format!("congestion = {c:?}\n"))
            .unwrap_or_default();
        let main = format!(
            "data_dir = {:?}\n\n[controller]\naddress = \"{}\"\nserver_name = \"localhost\"\n{congestion}\n\
             [jobs]\nusage_sync = \"{}s\"\n\n[apply]\nretry_min = \"1s\"\nretry_max = \"2s\"\npoll = \"2s\"\n",
            self.agent_dir.display().to_string(),
            self.proxy.local_addr(),
            opts.usage_sync_secs,
        );
        main + &local
    }

    /// Signs the site's staff member in at the local page, waiting (up to `within`) until the
    /// agent has the staff directory and the catalogue from the controller.
    pub async fn local_login(&self, within: Duration) -> anyhow::Result<LocalStaff> {
        let addr = self.local.context("the fleet has no local API")?;
        let deadline = Instant::now() + within;
        let mut last = String::from("no answer");
        while Instant::now() < deadline {
            // Failed logins are throttled (5 a minute): until the directory arrived, try
            // seldom.
            let mut staff = LocalStaff::new(addr);
            let pause = match staff.login(SELLER, SELLER_PASSWORD).await {
                Ok((200, _)) => return Ok(staff),
                Ok((status, body)) => {
                    last = format!("{status} {body}");
                    Duration::from_millis(if status == 429 { 5_000 } else { 2_500 })
                }
                Err(e) => {
                    last = format!("{e:#}");
                    Duration::from_millis(200)
                }
            };
            tokio::time::sleep(pause).await;
        }
        bail!(
            "the seller could not sign in at the site within {within:?}: {last}\nagent log:\n{}",
            tail(&self.agent_log(), 20)
        )
    }

    pub fn controller_log(&self) -> PathBuf {
        self.dir.join("controller.log")
    }

    pub fn agent_log(&self) -> PathBuf {
        self.dir.join("agent.log")
    }

    /// The agent's database file.
    pub fn agent_db(&self) -> PathBuf {
        self.agent_dir.join(hotspot_agent::identity::DB_FILE)
    }

    /// Starts `hotspot-controller serve` and signs the admin in.
    pub async fn start_controller(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new(&self.bins.controller);
        cmd.args(["serve", "--data-dir"])
            .arg(&self.controller_dir)
            .args(["--http", &self.http.to_string()])
            .args(["--fleet", &self.fleet.to_string()])
            .args(["--server-name", "localhost"])
            .env("RUST_LOG", log_filter());
        // The harness signs in as the super admin with a password only (2FA has its own tests).
        let mut toml = String::from("[auth]\nrequire_2fa_for_admins = false\n");
        if let Some(congestion) = congestion_override() {
            toml.push_str(&format!("[fleet]\ncongestion = {congestion:?}\n"));
        }
        let path = self.dir.join("controller.toml");
        std::fs::write(&path, toml)?;
        cmd.arg("--config").arg(path);
        let mut proc = Proc::spawn("controller", cmd, &self.controller_log())?;
        let anonymous = Api::new(self.http);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = anonymous.call("GET", "/healthz", None).await {
                break;
            }
            if !proc.running() || Instant::now() > deadline {
                bail!(
                    "the controller did not become healthy\n{}",
                    tail(&self.controller_log(), 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.controller = Some(proc);
        self.admin = anonymous.login("admin", ADMIN_PASSWORD).await?;
        Ok(())
    }

    /// `kill -9` of the controller.
    pub fn kill_controller(&mut self) {
        if let Some(p) = self.controller.take() {
            p.kill9();
        }
    }

    /// Starts `hotspot-agent run --config`; under the command in `FAULT_SUITE_AGENT_WRAPPER`
    /// when set (a profiler, e.g. `heaptrack -o /tmp/agent` or `perf record -g -o FILE --`).
    pub fn start_agent(&mut self) -> anyhow::Result<()> {
        let wrapper = std::env::var("FAULT_SUITE_AGENT_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut cmd = match words.next() {
            Some(program) => {
                let mut cmd = Command::new(program);
                cmd.args(words).arg(&self.bins.agent);
                cmd
            }
            None => Command::new(&self.bins.agent),
        };
        cmd.arg("run")
            .arg("--config")
            .arg(self.agent_config_path())
            .env("RUST_LOG", log_filter());
        self.agent = Some(Proc::spawn("agent", cmd, &self.agent_log())?);
        Ok(())
    }

    /// The agent's process id while it runs.
    pub fn agent_pid(&self) -> Option<u32> {
        self.agent.as_ref().map(Proc::id)
    }

    /// How the agent process ended, if it did by itself.
    pub fn agent_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.agent.as_mut().and_then(Proc::exited)
    }

    /// `kill -9` of the agent.
    pub fn kill_agent(&mut self) {
        if let Some(p) = self.agent.take() {
            p.kill9();
        }
    }

    /// SIGTERM to the agent; waits for it to exit.
    pub fn stop_agent(&mut self) -> anyhow::Result<()> {
        match self.agent.take() {
            Some(p) => p.terminate(Duration::from_secs(20)),
            None => Ok(()),
        }
    }

    /// `POST /api/tokens/generate`; the codes of a 2xx answer.
    pub async fn generate(&self, count: u32) -> anyhow::Result<Vec<String>> {
        let body =
            json!({"router_id": self.router_id, "package_id": self.package.id, "count": count});
        let answer = self
            .admin
            .expect_ok("POST", "/api/tokens/generate", Some(&body))
            .await?;
        codes_of(&answer)
    }

    /// Waits until no ledger voucher of the router is still `issued` or `queued` (all reached
    /// the router, or failed: the comparison tells), the ledger holds every code
    /// of `expected`, and the router holds as many users as the ledger has vouchers. The time
    /// it took.
    pub async fn wait_converged(
        &self,
        expected: &[String],
        within: Duration,
    ) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let deadline = start + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            if self.sim.user_count() >= expected.len() {
                match views::ledger(&self.admin, self.router_id).await {
                    Ok(ledger) => {
                        let active = ledger
                            .iter()
                            .filter(|v| !matches!(v.state.as_str(), "issued" | "queued"))
                            .count();
                        let codes: std::collections::HashSet<&str> =
                            ledger.iter().map(|v| v.code.as_str()).collect();
                        let have_all = expected.iter().all(|c| codes.contains(c.as_str()));
                        if have_all
                            && active == ledger.len()
                            && self.sim.user_count() == ledger.len()
                        {
                            return Ok(start.elapsed());
                        }
                        last = format!(
                            "ledger {} ({} past queued), router {}, expected {}",
                            ledger.len(),
                            active,
                            self.sim.user_count(),
                            expected.len()
                        );
                    }
                    Err(e) => last = format!("{e:#}"),
                }
            } else {
                last = format!(
                    "router {} of {} expected",
                    self.sim.user_count(),
                    expected.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        bail!(
            "not converged within {within:?}: {last}\nagent log:\n{}",
            tail(&self.agent_log(), 20)
        )
    }

    /// Reads the three views for the judge: the ledger and the router while everything runs,
    /// then the agent's database after stopping the agent.
    pub async fn read_views(&mut self) -> anyhow::Result<Views> {
        let ledger = views::ledger(&self.admin, self.router_id).await?;
        let report_revenue = views::report_revenue(&self.admin).await?;
        let router = views::router(&self.sim.users());
        self.stop_agent()?;
        let (agent, agent_queue) = views::agent(&self.agent_db(), self.router_id)?;
        Ok(Views {
            ledger,
            report_revenue,
            agent,
            agent_queue,
            router,
            prices: HashMap::from([(self.package.profile.clone(), self.package.price_minor)]),
        })
    }

    /// Stops everything (agent and controller gracefully).
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop_agent()?;
        if let Some(c) = self.controller.take() {
            c.terminate(Duration::from_secs(20))?;
        }
        self.proxy.shutdown().await;
        self.sim.shutdown().await;
        Ok(())
    }
}

/// The codes of a `POST /api/tokens/generate` answer.
pub fn codes_of(answer: &Value) -> anyhow::Result<Vec<String>> {
    answer["vouchers"]
        .as_array()
        .context("answer without vouchers")?
        .iter()
        .map(|v| {
            v["code"]
                .as_str()
                .map(str::to_owned)
                .context("voucher without code")
        })
        .collect()
}
