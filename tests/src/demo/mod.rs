//! A whole local fleet in one process: the README's first command, and the end-to-end tests'
//! starting point.
//!
//! Everything is the real thing except the routers: the controller (`serve_until`, the same
//! code `hotspot-controller serve` runs) with its HTTP API and QUIC fleet endpoint, PKI made on
//! first start, each site's agent enrolled with a one-time token over the wire and running the
//! agent runtime, and a RouterOS simulator per site with customers using their vouchers. The
//! demo then does what an operator would through the API: sites, routers (tested by the agent),
//! packages, a staff account, and a first batch of vouchers per router.

pub mod history;
pub mod http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use hotspot_agent::enroll::{EnrollOptions, enroll};
use hotspot_agent::runtime::AgentHandle;
use hotspot_controller::app::AppState;
use hotspot_controller::auth::password::PasswordHasher;
use hotspot_controller::config::{Config, default_toml};
use hotspot_controller::store::{EmbeddedStore, NewStaff, Role, Stamp, Store};
use hotspot_shared::domain::StaffId;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::sim::{self, CustomerConfig, SimConfig, SimHandle};
use http::Api;

/// Marks a data directory as the demo's own, so a re-run may wipe it.
const MARKER: &str = ".hotspot-demo";
/// What a resumed demo needs to know of its first start; written once setup is done.
const LAYOUT: &str = "demo.json";

/// What to start.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub http: SocketAddr,
    pub fleet: SocketAddr,
    pub data_dir: PathBuf,
    pub admin_password: Option<String>,
    pub sites: usize,
    /// Vouchers generated per router at start.
    pub vouchers_per_router: u32,
    /// Simulated customers logging in (per router, per minute); 0 turns them off.
    pub customers_per_minute: f64,
    /// Where agents dial the controller, when not `fleet` itself (a link-fault proxy in tests).
    pub agents_dial: Option<SocketAddr>,
    /// Each agent's local staff page over plain HTTP: the first site's on this address, the
    /// next ones on the following ports. `None`: no site pages.
    pub site_pages: Option<SocketAddr>,
    /// Start over even if `data_dir` holds a demo that could be resumed.
    pub fresh: bool,
    /// On a first start, write a week of past sales and make their reports
    /// ([`history`]).
    pub history: bool,
}

/// A demo's passwords and ids, kept in its data dir to resume it (`demo.json`, 0600).
#[derive(Debug, Serialize, Deserialize)]
struct Layout {
    admin_password: String,
    staff_password: String,
    packages: Vec<(u64, String)>,
    sites: Vec<SiteLayout>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SiteLayout {
    n: usize,
    id: String,
    router_id: u64,
    /// The simulated router's API address: the ledger keeps it as the router's host and port.
    router_api: SocketAddr,
}

/// One site of the demo.
pub struct DemoSite {
    pub id: String,
    pub router_id: u64,
    pub sim: SimHandle,
    pub agent: AgentHandle,
    /// The agent's local staff page, when the demo serves one.
    pub page: Option<SocketAddr>,
}

/// A running demo fleet.
pub struct Demo {
    pub http: SocketAddr,
    pub fleet: SocketAddr,
    pub admin_password: String,
    pub staff_password: String,
    pub sites: Vec<DemoSite>,
    pub packages: Vec<(u64, String)>,
    /// This start resumed an earlier one's data.
    pub resumed: bool,
    /// The past written on first start (`None` when resumed, or without history).
    pub past: Option<history::Past>,
    stop: oneshot::Sender<()>,
    controller: JoinHandle<anyhow::Result<()>>,
}

fn random_password() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(b"abcdefghjkmnpqrstuvwxyz23456789"[rng.random_range(0..31)]))
        .collect()
}

/// Empties `dir` if it is a previous demo's, refuses if it holds anything else.
fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        if !dir.join(MARKER).exists() {
            bail!(
                "{} exists and is not a demo directory: choose another with --data-dir",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing the old demo in {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(MARKER), "hotspot-demo data; safe to delete\n")?;
    Ok(())
}

fn controller_config(opts: &DemoOptions) -> anyhow::Result<Config> {
    let mut config = Config::from_toml(&default_toml()).context("the default controller config")?;
    config.data_dir = opts.data_dir.join("controller");
    config.http.listen = opts.http;
    config.fleet.listen = opts.fleet;
    config.fleet.server_name = "localhost".into();
    // A demo is signed into with the printed passwords, from scripts too; an operator's
    // controller keeps the default (super admins need a second factor).
    config.auth.require_2fa_for_admins = false;
    Ok(config)
}

/// The first super admin, written to the ledger before the controller starts (as
/// `hotspot-controller admin create` does).
async fn create_admin(config: &Config, password: &str) -> anyhow::Result<()> {
    let hasher = PasswordHasher::new(config.auth.password_params())?;
    std::fs::create_dir_all(&config.data_dir)?;
    let store = EmbeddedStore::open(hotspot_controller::cli::db_path(&config.data_dir))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let new = NewStaff {
        username: "admin".into(),
        password_hash: hasher.hash(password)?,
        role: Role::SuperAdmin,
        routers: Vec::new(),
    };
    store
        .create_staff(new, &Stamp::system(now))?
        .durable()
        .await?;
    store.sync().durable().await?;
    Ok(())
}

/// Waits for `/healthz`; fails at once with the controller's own error if it stopped.
async fn wait_healthy(
    api: &Api,
    controller: &mut JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    for _ in 0..1200 {
        if controller.is_finished() {
            let outcome = controller.await.context("the controller task")?;
            outcome.context("the controller stopped while starting")?;
            bail!("the controller stopped while starting");
        }
        if let Ok((200, _)) = api.call("GET", "/healthz", None).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the controller did not become healthy within 60 s")
}

/// The controller of `config`, started; waits until it is healthy.
async fn start_controller(
    opts: &DemoOptions,
    config: Config,
) -> anyhow::Result<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)> {
    let (stop, controller, _) = start_controller_with(opts, config, false).await?;
    Ok((stop, controller))
}

/// Starts the controller; with `want_state`, also returns its application state.
async fn start_controller_with(
    opts: &DemoOptions,
    config: Config,
    want_state: bool,
) -> anyhow::Result<(
    oneshot::Sender<()>,
    JoinHandle<anyhow::Result<()>>,
    Option<AppState>,
)> {
    let (stop, stopped) = oneshot::channel::<()>();
    let (started_tx, started_rx) = oneshot::channel();
    let mut controller = tokio::spawn(hotspot_controller::cli::serve::serve_until_with(
        config,
        async {
            let _ = stopped.await;
        },
        want_state.then_some(started_tx),
    ));
    wait_healthy(&Api::new(opts.http), &mut controller).await?;
    let state = if want_state {
        Some(started_rx.await.context("the controller's state")?)
    } else {
        None
    };
    Ok((stop, controller, state))
}

/// The demo's layout in `dir`, when it holds one to resume.
fn saved_layout(dir: &Path) -> anyhow::Result<Option<Layout>> {
    let path = dir.join(LAYOUT);
    if !dir.join(MARKER).exists() || !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let layout = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a demo layout: start over with --fresh",
            path.display()
        )
    })?;
    Ok(Some(layout))
}

impl Demo {
    /// Resumes the demo in `opts.data_dir` if it holds one (and `fresh` is not set), else
    /// starts a new one there.
    pub async fn start(opts: DemoOptions) -> anyhow::Result<Demo> {
        if !opts.fresh
            && let Some(layout) = saved_layout(&opts.data_dir)?
        {
            return Demo::resume(opts, layout).await;
        }
        Demo::start_fresh(opts).await
    }

    async fn start_fresh(opts: DemoOptions) -> anyhow::Result<Demo> {
        prepare_dir(&opts.data_dir)?;
        let config = controller_config(&opts)?;
        std::fs::create_dir_all(&config.data_dir)?;
        let admin_password = opts.admin_password.clone().unwrap_or_else(random_password);
        create_admin(&config, &admin_password)
            .await
            .context("creating the super admin")?;

        let config_copy = config.clone();
        let (stop, controller, started) =
            start_controller_with(&opts, config, opts.history).await?;
        let anonymous = Api::new(opts.http);
        let admin = anonymous.login("admin", &admin_password).await?;

        let packages = create_packages(&admin).await?;
        let mut sites = Vec::new();
        let mut layouts = Vec::new();
        for n in 1..=opts.sites {
            let (site, layout) = start_site(&opts, &admin, n)
                .await
                .with_context(|| format!("site {n}"))?;
            sites.push(site);
            layouts.push(layout);
        }
        let staff_password = random_password();
        let routers: Vec<u64> = sites.iter().map(|s| s.router_id).collect();
        admin
            .expect_ok("POST", "/api/staff", Some(&json!({"username": "staff", "password": staff_password, "role": "staff", "routers": routers})))
            .await?;
        let staff = anonymous.login("staff", &staff_password).await?;
        if opts.vouchers_per_router > 0 {
            for site in &sites {
                staff
                    .expect_ok("POST", "/api/tokens/generate", Some(&json!({"router_id": site.router_id, "package_id": packages[0].0, "count": opts.vouchers_per_router})))
                    .await?;
            }
        }
        let running = (stop, controller);
        let past = match started {
            Some(state) => Some(write_history(&config_copy, &admin, state).await?),
            None => None,
        };
        let layout = Layout {
            admin_password,
            staff_password,
            packages,
            sites: layouts,
        };
        // Durable (fsync, rename, fsync) before anyone is told the demo runs: a demo killed
        // before this point had answered nobody, and starts over.
        hotspot_pki::files::replace(
            &opts.data_dir.join(LAYOUT),
            &serde_json::to_vec_pretty(&layout)?,
            0o600,
        )?;
        hotspot_pki::files::sync_dir(&opts.data_dir)?;
        let mut demo = Demo::running(&opts, layout, sites, false, running);
        demo.past = past;
        Ok(demo)
    }

    fn running(
        opts: &DemoOptions,
        layout: Layout,
        sites: Vec<DemoSite>,
        resumed: bool,
        (stop, controller): (oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>),
    ) -> Demo {
        Demo {
            http: opts.http,
            fleet: opts.fleet,
            admin_password: layout.admin_password,
            staff_password: layout.staff_password,
            sites,
            packages: layout.packages,
            resumed,
            past: None,
            stop,
            controller,
        }
    }

    /// Starts what `layout` describes on the data it left: nothing is created again.
    async fn resume(opts: DemoOptions, layout: Layout) -> anyhow::Result<Demo> {
        if let Some(given) = &opts.admin_password
            && *given != layout.admin_password
        {
            bail!(
                "the demo in {} has its own admin password (kept in its {LAYOUT}); drop \
                 --admin-password, or start over with --fresh",
                opts.data_dir.display()
            );
        }
        let config = controller_config(&opts)?;
        let (stop, controller) = start_controller(&opts, config).await?;
        let admin = Api::new(opts.http)
            .login("admin", &layout.admin_password)
            .await?;
        let mut sites = Vec::new();
        for site in &layout.sites {
            sites.push(
                resume_site(&opts, &admin, site)
                    .await
                    .with_context(|| format!("resuming {}", site.id))?,
            );
        }
        Ok(Demo::running(
            &opts,
            layout,
            sites,
            true,
            (stop, controller),
        ))
    }

    /// Stops agents, the controller and the simulators, in that order.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        for site in self.sites.iter() {
            site.sim.clear_faults();
        }
        let mut sims = Vec::new();
        for site in self.sites {
            site.agent.shutdown().await.ok();
            sims.push(site.sim);
        }
        let _ = self.stop.send(());
        self.controller.await.context("the controller task")??;
        for sim in sims {
            sim.shutdown().await;
        }
        Ok(())
    }
}

/// Makes the sellers of the past, writes a week of past sales into the running controller's
/// ledger ([`history::write`]) and has the controller make each past day's report.
async fn write_history(
    config: &Config,
    admin: &Api,
    state: AppState,
) -> anyhow::Result<history::Past> {
    let routers: Vec<u64> = {
        let list: Value = admin.expect_ok("GET", "/api/routers", None).await?;
        list["items"]
            .as_array()
            .context("router list")?
            .iter()
            .filter_map(|r| r["id"].as_u64())
            .collect()
    };
    let mut sellers = Vec::new();
    let staff_list: Value = admin.expect_ok("GET", "/api/staff", None).await?;
    let staff_id = staff_list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|s| s["username"] == "staff"))
        .and_then(|s| s["id"].as_u64())
        .context("the staff account")?;
    sellers.push(StaffId(staff_id));
    for name in history::SELLERS {
        let body = json!({"username": name, "password": random_password(), "role": "staff", "routers": routers});
        let made: Value = admin.expect_ok("POST", "/api/staff", Some(&body)).await?;
        sellers.push(StaffId(made["id"].as_u64().context("staff id")?));
    }
    let store = &state.store;
    let mut places = Vec::new();
    for site in store.sites()? {
        for router in store.routers(Some(&site.id))? {
            places.push(history::PastSite {
                site: site.id.clone(),
                router: router.id,
                code_prefix: site.code_prefix.clone(),
            });
        }
    }
    let past = history::write(store.as_ref(), &config.jobs, &places, &sellers, state.now()).await?;
    drop(state);
    // The stuck voucher's day first: its report shows the drift and its repair.
    let mut dates = past.dates.clone();
    if let Some((_, day)) = &past.stuck {
        dates.retain(|d| d != day);
        dates.insert(0, day.clone());
    }
    for date in dates {
        admin
            .expect_ok("POST", "/api/reports/run", Some(&json!({"date": date})))
            .await
            .with_context(|| format!("the report of {date}"))?;
    }
    Ok(past)
}

async fn create_packages(admin: &Api) -> anyhow::Result<Vec<(u64, String)>> {
    let specs = [
        json!({"name": "1 hour", "price_minor": 100, "currency": "USD", "time_limit": "1h", "validity": "1d", "rate_limit": "2M/5M"}),
        json!({"name": "1 day", "price_minor": 300, "currency": "USD", "time_limit": "1d", "validity": "1d", "rate_limit": "5M/10M"}),
        json!({"name": "1 GB", "price_minor": 200, "currency": "USD", "time_limit": "1w", "data_limit_bytes": "1G", "validity": "7d"}),
    ];
    let mut out = Vec::new();
    for spec in specs {
        let p: Value = admin
            .expect_ok("POST", "/api/packages", Some(&spec))
            .await?;
        let id = p["id"].as_u64().context("package without id")?;
        out.push((id, p["name"].as_str().unwrap_or_default().to_owned()));
    }
    Ok(out)
}

fn sim_config(opts: &DemoOptions, n: usize, password: &str, listen: SocketAddr) -> SimConfig {
    let customers = (opts.customers_per_minute > 0.0).then_some(CustomerConfig {
        logins_per_minute: opts.customers_per_minute,
        time_scale: 60.0,
        bytes_per_second: 40_000,
    });
    SimConfig {
        listen,
        password: password.to_owned(),
        identity: format!("cafe-{n}"),
        customers,
        // The router keeps its users across demo restarts, as a real one does.
        state_file: Some(opts.data_dir.join(format!("router-{n}.json"))),
        ..SimConfig::local()
    }
}

/// Site `n`'s agent on its (enrolled) data dir, with its local page when the demo serves them.
async fn start_agent(
    opts: &DemoOptions,
    n: usize,
) -> anyhow::Result<(AgentHandle, Option<SocketAddr>)> {
    let data_dir = opts.data_dir.join(format!("agent-{n}"));
    let dial = opts.agents_dial.unwrap_or(opts.fleet);
    let mut settings = hotspot_agent::config::Settings::new(&data_dir, dial, "localhost");
    let page = opts.site_pages.map(|first| {
        let port = first
            .port()
            .saturating_add(u16::try_from(n).unwrap_or(0).saturating_sub(1));
        SocketAddr::new(first.ip(), port)
    });
    settings.local = page.map(|listen| hotspot_agent::config::LocalSettings { listen, tls: false });
    let agent = AgentHandle::start(settings)
        .await
        .map_err(|e| anyhow::anyhow!("starting the agent: {e}"))?;
    Ok((agent, page))
}

async fn start_site(
    opts: &DemoOptions,
    admin: &Api,
    n: usize,
) -> anyhow::Result<(DemoSite, SiteLayout)> {
    let id = format!("site-{n}");
    let password = random_password();
    let sim = sim::start(sim_config(opts, n, &password, SimConfig::local().listen)).await?;
    admin
        .expect_ok(
            "POST",
            "/api/sites",
            Some(&json!({"id": id, "name": format!("Café {n}")})),
        )
        .await?;
    let token: Value = admin
        .expect_ok(
            "POST",
            &format!("/api/sites/{id}/enrollment"),
            Some(&json!({})),
        )
        .await?;
    let token = token["token"]
        .as_str()
        .context("enrollment answer without a token")?
        .to_owned();
    enroll(&EnrollOptions {
        controller: opts.agents_dial.unwrap_or(opts.fleet).to_string(),
        token,
        data_dir: opts.data_dir.join(format!("agent-{n}")),
        server_name: Some("localhost".into()),
        deadline: Duration::from_secs(15),
    })
    .await
    .map_err(|e| anyhow::anyhow!("enrolling the agent: {e}"))?;
    let (agent, page) = start_agent(opts, n).await?;
    let api = sim.api_addr();
    let body = json!({"name": format!("hAP {n}"), "site_id": id, "location": format!("Café {n}, front desk"),
        "host": api.ip().to_string(), "port": api.port(), "username": "admin", "password": password});
    let router_id = admin
        .add_router_when_online(&body, Duration::from_secs(10))
        .await?;
    let layout = SiteLayout {
        n,
        id: id.clone(),
        router_id,
        router_api: api,
    };
    let site = DemoSite {
        id,
        router_id,
        sim,
        agent,
        page,
    };
    Ok((site, layout))
}

/// A site of a resumed demo: its router on the address the ledger has for it, with the users
/// it kept and a new password (set through the API: tried by the agent once it is connected,
/// or handed to it when it connects); its agent on the enrollment and queues it kept.
async fn resume_site(
    opts: &DemoOptions,
    admin: &Api,
    site: &SiteLayout,
) -> anyhow::Result<DemoSite> {
    let password = random_password();
    let config = sim_config(opts, site.n, &password, site.router_api);
    let sim = sim::start(config).await.with_context(|| {
        format!(
            "the simulated router's address {} is taken",
            site.router_api
        )
    })?;
    let (agent, page) = start_agent(opts, site.n).await?;
    let path = format!("/api/routers/{}", site.router_id);
    let body = json!({ "password": password });
    let mut last = None;
    for _ in 0..100 {
        match admin.call("PUT", &path, Some(&body)).await? {
            // 202: stored, handed to the agent when it connects.
            (200 | 202, _) => {
                last = None;
                break;
            }
            // Tried while the agent was still reconnecting: tried again shortly.
            (status @ (409 | 422), r) => {
                last = Some((status, r));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (status, r) => bail!("setting the router's new password answered {status}: {r}"),
        }
    }
    if let Some((status, r)) = last {
        bail!("setting the router's new password answered {status}: {r}");
    }
    Ok(DemoSite {
        id: site.id.clone(),
        router_id: site.router_id,
        sim,
        agent,
        page,
    })
}
